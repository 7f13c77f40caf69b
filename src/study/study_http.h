/* study_http.h - a minimal blocking HTTP/1.1 client for `tandem study` (see study_http.c). */
#ifndef TANDEM_STUDY_HTTP_H
#define TANDEM_STUDY_HTTP_H

#include <stddef.h>

typedef struct study_http_response {
    int status;  /* the HTTP status code */
    char *body;  /* malloc'd, NUL-terminated; the caller frees it */
    size_t len;
    char *headers; /* the response's header lines, malloc'd, NUL-terminated; the caller frees it */
    /* client-side split of the request (ms): TCP connect, sending the request, waiting for the first byte of the
     * answer (server time + one round trip), receiving the rest */
    double connect_ms, send_ms, wait_ms, download_ms;
} study_http_response;

/* Split "http://host[:port]/path" (port defaults to 80, path to "/"). 0 on success, -1 if malformed. */
int study_http_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap, const char **path);
/* One request; ctype/body may be NULL/0. Returns 0 with *r filled (any status), or -1 on a connection or protocol
 * failure. Chunked responses are not decoded: the servers it talks to send Content-Length. */
int study_http(const char *url, const char *method, const char *ctype, const char *body, size_t blen, int timeout_ms,
               study_http_response *r);
/* The same with extra header lines (each ending in \r\n, or NULL). */
int study_http_ex(const char *url, const char *method, const char *ctype, const char *extra, const char *body,
                  size_t blen, int timeout_ms, study_http_response *r);
/* The value of header `name` (case-insensitive) in r->headers, copied into buf; NULL when absent. */
const char *study_http_header(const study_http_response *r, const char *name, char *buf, size_t cap);
/* Free what a response owns. */
void study_http_free(study_http_response *r);

#endif /* TANDEM_STUDY_HTTP_H */
