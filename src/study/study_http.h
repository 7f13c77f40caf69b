/* study_http.h - a minimal blocking HTTP/1.1 client for `tandem study` (see study_http.c). */
#ifndef TANDEM_STUDY_HTTP_H
#define TANDEM_STUDY_HTTP_H

#include <stddef.h>

typedef struct study_http_response {
    int status;  /* the HTTP status code */
    char *body;  /* malloc'd, NUL-terminated; the caller frees it */
    size_t len;
} study_http_response;

/* Split "http://host[:port]/path" (port defaults to 80, path to "/"). 0 on success, -1 if malformed. */
int study_http_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap, const char **path);
/* One request; ctype/body may be NULL/0. Returns 0 with *r filled (any status), or -1 on a connection or protocol
 * failure. Chunked responses are not decoded: the servers it talks to send Content-Length. */
int study_http(const char *url, const char *method, const char *ctype, const char *body, size_t blen, int timeout_ms,
               study_http_response *r);

#endif /* TANDEM_STUDY_HTTP_H */
