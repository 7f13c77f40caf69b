/* swarm.h - the swarm coordinator inside `tandem serve` (Kanev's proposal: a job's inference spread over the browsers
 * and machines that offer to help). What http.c and cmd_serve.c see of it:
 *   - swarm_start/swarm_stop: open the job store and start the native checker;
 *   - swarm_route: whether a URL is the swarm's (the admin's /v2/jobs..., the workers' /v2/swarm/...), with the body
 *     limit of that route;
 *   - swarm_handle: answer one request, synchronously, on the calling I/O thread (each is one short transaction);
 *   - swarm_metrics_render: its Prometheus lines for /metrics.
 * The endpoints and their bodies are documented in docs/SWARM.md. */
#ifndef TANDEM_SERVER_SWARM_H
#define TANDEM_SERVER_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

typedef struct swarm_opts {
    const char *admin_token;  /* Bearer token of the job endpoints; NULL or "": they answer 403 */
    const char *db;           /* the store: sqlite:PATH, PATH or postgresql://... (NULL: tandem-results.db) */
    double lease_timeout_s;   /* a lease's deadline is at least this far away (longer for slow clients) */
    double target_s;          /* work per lease, in seconds of the client's measured speed */
    double client_rate;       /* lease/submit requests per second per client, bursts of 4 s (0: no limit) */
    int64_t max_lease_items;  /* items per lease at most */
    int verify_threads;       /* engine threads of the native checks */
} swarm_opts;

/* Open the job store and start the checker. Returns 0, or -1 with err set. */
int swarm_start(srv_repo *repo, const swarm_opts *o, char *err, size_t errlen);
/* Stop the checker and close the store (a no-op when not started). */
void swarm_stop(void);

/* If url (without its query) is a swarm endpoint: its route id (> 0), with *body_cap the most body bytes it reads
 * (SIZE_MAX: the server's own body limit). -1: a swarm URL that does not take this method (*allow lists those it
 * takes). 0: not a swarm URL. */
int swarm_route(const char *method, const char *url, size_t *body_cap, const char **allow);

/* One request and its answer. The handler reads the request fields and sets the response fields; out is malloc'd
 * (the caller frees it or hands it to libmicrohttpd). */
typedef struct swarm_exchange {
    const char *url;
    const char *body;
    size_t len;
    const char *peer;                                   /* the client's address, for the join rate limit */
    const char *(*arg)(void *conn, const char *key);    /* a query parameter, or NULL */
    const char *(*header)(void *conn, const char *key); /* a request header, or NULL */
    void *conn;
    int status;
    char *out;
    size_t out_len;
    const char *ctype;
    int unauthorized;                                   /* add WWW-Authenticate: Bearer */
    int retry_after_s;                                  /* > 0: add Retry-After */
} swarm_exchange;

void swarm_handle(int route, swarm_exchange *x);

/* The swarm's lines of /metrics (malloc'd, *len set), or NULL. */
char *swarm_metrics_render(size_t *len);

/* ---- swarm_verify.c: the native checker --------------------------------------------------------------------- */
struct swarm_store;
int swarm_verify_start(srv_repo *repo, struct swarm_store *store, int threads, char *err, size_t errlen);
/* A submission left chunks to check: wake the checker. */
void swarm_verify_wake(void);
void swarm_verify_stop(void);
/* Checks done since start: passed and failed; items discarded by failures. */
void swarm_verify_counts(int64_t *passed, int64_t *failed, int64_t *rejected);

/* Tolerance of a check (docs/SWARM.md justifies it): a value v from a client matches the server's r when
 * |v - r| <= SWARM_ATOL + SWARM_RTOL * |r|. */
#define SWARM_ATOL 1e-3
#define SWARM_RTOL 1e-3

/* Unix time in milliseconds (the store's clock: leases and deadlines survive restarts and are shared by servers). */
int64_t swarm_now_ms(void);

#endif /* TANDEM_SERVER_SWARM_H */
