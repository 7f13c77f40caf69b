/* fuzz_swarm_wire.c - libFuzzer target for the swarm's two binary messages (src/server/swarm_wire.c): a worker's
 * submission, as the server parses it, and the server's lease, as `tandem worker` parses it. Byte 0 picks which; the
 * rest is the body. Whatever parses must keep every pointer inside the body and its sizes adding up, and must free
 * cleanly. Built by `make fuzz` (mk/swarm.mk); seeds in tests/fuzz/swarm_wire_seeds/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarm_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const unsigned char *body = data + 1;
    size_t len = size - 1;
    char err[512];
    if (data[0] & 1) {
        swarm_lease_msg m;
        if (swarm_parse_lease(body, len, &m, err, sizeof err) == 0 && !m.no_work) {
            size_t total = 0;
            for (int i = 0; i < m.nchunks; i++) {
                const swarm_wire_chunk *c = &m.chunks[i];
                if (c->data < body || c->data + c->bytes > body + len || c->bytes != (size_t)c->items * m.item_bytes)
                    abort();
                total += c->bytes;
            }
            if (total > len) abort();
        }
        swarm_lease_msg_free(&m);
        return 0;
    }
    cJSON *head = NULL;
    sws_submit sub;
    if (swarm_parse_submit((const char *)body, len, &head, &sub, err, sizeof err) == 0) {
        size_t total = 0;
        for (int i = 0; i < sub.nchunks; i++) {
            const sws_submit_chunk *c = &sub.chunks[i];
            if (c->error) continue;
            const unsigned char *r = c->result;
            if (r < body || r + c->len > body + len || c->n < 1) abort();
            total += c->len;
        }
        if (total > len || !sub.client || !sub.lease) abort();
        free(sub.chunks);
        cJSON_Delete(head);
    }
    return 0;
}
