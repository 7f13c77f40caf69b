/* swarm_wire.h - the two binary messages between a swarm worker and the server, parsed without any I/O, store or
 * engine (so a fuzz target drives them alone, tests/fuzz/fuzz_swarm_wire.c). Both are a JSON object on one line, a
 * newline, then raw bytes that the JSON describes (docs/SWARM.md):
 *   - a lease (server -> worker): {"lease", "job", "model", "model_url", "format", "item_shape", "outputs", "prep",
 *     "batch_any", "item_bytes", "expires_in_ms", "chunks": [{"index", "first", "items", "offset", "bytes"}],
 *     "payload_bytes"}, then the chunks' stored items; or {"lease": null, "active_jobs", "retry_ms"} alone;
 *   - a submission (worker -> server): {"client", "lease", "chunks": [{"index", "items", "bytes"} | {"index",
 *     "error"}], "compute_ms"}, then the results of the chunks without "error", in their order. */
#ifndef TANDEM_SERVER_SWARM_WIRE_H
#define TANDEM_SERVER_SWARM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "swarm_store.h"

/* The JSON line ends within this many bytes. */
#define SWARM_WIRE_MAX_HEAD 65536

/* Parse a submission into sub (its chunk array malloc'd: free(sub->chunks); results point into body, strings into
 * *head_out, which the caller deletes with cJSON_Delete). Checks the layout only: the store checks that the client
 * holds the chunks and that each one's size is its chunk's. Returns 0, or -1 with the reason in err (nothing to
 * free). */
int swarm_parse_submit(const char *body, size_t len, cJSON **head_out, sws_submit *sub, char *err, size_t errlen);

typedef struct swarm_wire_chunk {
    int64_t index, first, items;
    const unsigned char *data; /* into the lease's body */
    size_t bytes;
} swarm_wire_chunk;

typedef struct swarm_lease_msg {
    cJSON *head;               /* owns every string below */
    int no_work;               /* {"lease": null}: then only active_jobs and retry_ms are set */
    int64_t active_jobs, retry_ms;
    const char *lease, *job, *model, *model_url, *format;
    const cJSON *item_shape, *outputs, *prep;
    int batch_any;
    int64_t item_bytes, expires_in_ms;
    int nchunks;
    swarm_wire_chunk *chunks;  /* malloc'd */
} swarm_lease_msg;

/* Parse a lease answer: every chunk must lie inside the payload, hold items * item_bytes bytes, and the chunks must
 * tile the payload exactly. Returns 0, or -1 with the reason in err. Free with swarm_lease_msg_free (also after a
 * failure). */
int swarm_parse_lease(const unsigned char *body, size_t len, swarm_lease_msg *out, char *err, size_t errlen);
void swarm_lease_msg_free(swarm_lease_msg *m);

#endif /* TANDEM_SERVER_SWARM_WIRE_H */
