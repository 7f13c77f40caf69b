/* server.h - internal declarations of `tandem serve`: the model repository, the KServe v2 request parser and response
 * writer (protocol.c, kept free of HTTP and engine calls so a fuzz target can drive it), the per-model batch queues
 * and inference workers (batcher.c), Prometheus metrics (metrics.c) and the HTTP front end (http.c). */
#ifndef TANDEM_SERVER_H
#define TANDEM_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem.h"

#define SRV_MAX_IO 16      /* inputs or outputs per model that the server exposes */
#define SRV_MAX_STATS 16   /* mean/std entries in config.json */
#define SRV_MAX_BATCH 256  /* upper bound of a model's max_batch */

/* ---- protocol.c: KServe v2 JSON and Triton's binary tensor extension ------------------------------------------ */

/* A tensor that the model declares (dims[i] = -1 where symbolic). name is owned by whoever filled it. */
typedef struct srv_io {
    const char *name;
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    int64_t index_hi; /* integer inputs that index a table (token ids): its rows (tdm_model_input_index_limit); a
                       * request with an id outside [0, index_hi) is a 400. 0 when unknown. */
} srv_io;

/* One input of a parsed request, in the model's input order. data is malloc'd, bytes long. */
typedef struct proto_tensor {
    int rank;
    int64_t dims[TDM_MAX_RANK];
    void *data;
    size_t bytes;
} proto_tensor;

typedef struct proto_request {
    char *id;                        /* the request's "id" (malloc'd), echoed in the response; NULL if absent */
    int ninputs;                     /* = the model's input count */
    proto_tensor in[SRV_MAX_IO];     /* indexed by model input */
    int nout;                        /* requested outputs, in the order to return them */
    int out_index[SRV_MAX_IO];       /* model output index of each */
    int out_binary[SRV_MAX_IO];      /* 1: return it in the binary section */
} proto_request;

/* The model's view that the parser checks a request against. */
typedef struct proto_model {
    const char *name;
    int nin, nout;
    const srv_io *in, *out;
    int64_t max_elems;  /* per input tensor */
} proto_model;

/* "FP32", "INT64", ... for a dtype the protocol knows, else NULL. */
const char *proto_dtype_name(tdm_dtype t);
/* The dtype of a protocol datatype name; TDM_UNDEFINED if unknown. BYTES maps to TDM_STRING. */
tdm_dtype proto_dtype_parse(const char *s);
/* Bytes per element of a fixed-size dtype; 0 otherwise. */
size_t proto_dtype_size(tdm_dtype t);

/* Parse an infer request body. header_len is the Inference-Header-Content-Length value, or -1 when the request has
 * none (then the whole body is JSON). Checks names, datatypes, shapes against the model, element counts, and the
 * binary section's sizes. Returns 0 with *req filled (free with proto_request_free), or an HTTP status (400, 413)
 * with a message in err and *req empty. */
int proto_parse_infer(const char *body, size_t len, int64_t header_len, const proto_model *m, proto_request *req,
                      char *err, size_t errlen);
void proto_request_free(proto_request *req);

/* One output of a finished inference (data not owned). */
typedef struct proto_output {
    tdm_dtype dtype;
    int rank;
    int64_t dims[TDM_MAX_RANK];
    const void *data;
} proto_output;

/* Write the response to req: outs[] is indexed by model output. *body is malloc'd; *json_len is the length of the
 * JSON part when a binary section follows (for the Inference-Header-Content-Length header), else 0. Returns 0, or -1
 * when out of memory. */
int proto_write_response(const proto_model *m, const proto_request *req, const proto_output *outs, char **body,
                         size_t *len, size_t *json_len);

/* Write {"error":"msg"} into a malloc'd string. */
char *proto_error_json(const char *msg, size_t *len);

/* ---- repo.c: the model repository ------------------------------------------------------------------------------ */

typedef struct srv_metrics srv_metrics;
typedef struct srv_job srv_job;

typedef struct srv_model {
    char *name, *dir, *path;  /* path = dir/model.onnx */
    int64_t file_bytes;
    tdm_model *model;
    double load_s;            /* parse + first plan, seconds */
    int nin, nout;
    srv_io in[SRV_MAX_IO], out[SRV_MAX_IO];
    proto_model proto;
    /* preprocessing for /classify and /api/models */
    float mean[SRV_MAX_STATS], std[SRV_MAX_STATS];
    int nstats;
    int64_t size_h, size_w;   /* 0: from the model's input dims */
    char **labels;
    int nlabels;
    /* batching */
    int max_batch;            /* 1: every request runs alone */
    int64_t max_delay_us;
    int batchable;            /* inputs share a symbolic leading dim that the outputs follow */
    /* the queue (guarded by the batcher's lock) */
    srv_job *head, *tail;
    int queued;
    int index;                /* position in the repository */
    srv_metrics *metrics;
} srv_model;

typedef struct srv_repo {
    srv_model *models;
    int count;
} srv_repo;

/* Load every DIR/<name>/model.onnx with its config.json (or info.json) and labels. Prints what it loads to stderr.
 * Returns 0, or -1 after printing why (a model that fails to load fails the start: a server must not come up
 * half-configured). */
int srv_repo_load(const char *dir, int64_t max_elems, srv_repo *repo);
void srv_repo_free(srv_repo *repo);
srv_model *srv_repo_find(srv_repo *repo, const char *name, size_t name_len);

/* ---- metrics.c: Prometheus text format --------------------------------------------------------------------------- */

int srv_metrics_init(srv_repo *repo);
void srv_metrics_free(srv_repo *repo);
/* A finished request of model m (m NULL: not model-specific). seconds: arrival to response. */
void srv_metrics_request(srv_model *m, int failed, double seconds);
void srv_metrics_queue(srv_model *m, double seconds);
void srv_metrics_batch(srv_model *m, int64_t batch);
void srv_metrics_inflight(int delta);
int64_t srv_metrics_inflight_now(void);
/* The /metrics page, malloc'd. */
char *srv_metrics_render(srv_repo *repo, size_t *len);

/* ---- batcher.c: per-model queues and the worker pool --------------------------------------------------------- */

enum { SRV_JOB_INFER, SRV_JOB_CLASSIFY };

struct srv_job {
    srv_job *next;
    srv_model *model;
    int kind;                 /* SRV_JOB_* */
    proto_request req;        /* inputs (classify: one [1,C,H,W] float input) and the requested outputs */
    int top_k;                /* classify */
    int64_t batch;            /* leading dim of the inputs; 1 for unbatchable models */
    double t_enqueue;         /* seconds, monotonic */
    /* results, written by the worker */
    double queue_ms, infer_ms, post_ms;
    int64_t batch_run;        /* the batch this job ran in */
    int status;               /* HTTP status */
    char *body;               /* malloc'd response body */
    size_t body_len, json_len;
    /* completion: the worker calls done(job, done_arg) once the fields above are final */
    void (*done)(srv_job *job, void *arg);
    void *done_arg;
};

typedef struct srv_batcher_opts {
    int workers;              /* inference workers */
    int threads;              /* engine threads per worker session */
    int max_queue;            /* queued jobs per model */
} srv_batcher_opts;

int srv_batcher_start(srv_repo *repo, const srv_batcher_opts *o, char *err, size_t errlen);
/* Queue a job; a worker later fills its result and calls job->done. Returns 0, -1 when stopping or -2 when the
 * model's queue holds max_queue jobs already (then the job was not queued). */
int srv_batcher_submit(srv_job *job);
/* Finish the queued jobs, then stop and join the workers. */
void srv_batcher_stop(void);
/* Free a job's request and body (not the job itself). */
void srv_job_clear(srv_job *job);

/* ---- http.c: the HTTP front end (libmicrohttpd) ------------------------------------------------------------------ */

struct tdm_store;

typedef struct srv_http_opts {
    const char *host;         /* NULL: every interface */
    int port;                 /* 0: any free port */
    int io_threads;           /* libmicrohttpd's internal thread pool */
    unsigned max_conns;
    size_t max_body;          /* bytes of a request body */
    size_t max_buffered;      /* bytes of all request bodies held at once (503 beyond) */
    size_t max_header;        /* bytes of a request's line and headers (libmicrohttpd's per-connection buffer) */
    unsigned timeout_s;       /* idle connections are closed after this */
    const char *web_dir;      /* static files at /; NULL: none */
    const char *samples_dir;  /* images listed at /api/samples; NULL: none (404) */
} srv_http_opts;

/* Start serving. *port_out receives the bound port. Returns 0 or -1 with a message in err. */
int srv_http_start(srv_repo *repo, struct tdm_store *store, const srv_http_opts *o, int *port_out, char *err,
                   size_t errlen);
/* Stop accepting connections and report not ready; requests already received still complete. */
void srv_http_quiesce(void);
/* Wait until no request is in flight, at most timeout_s. Returns the number still in flight. */
int64_t srv_http_drain(double timeout_s);
void srv_http_stop(void);

/* ---- util ------------------------------------------------------------------------------------------------------ */
double srv_now(void); /* monotonic seconds */

#endif /* TANDEM_SERVER_H */
