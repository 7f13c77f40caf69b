/* study_http.c - the little HTTP/1.1 client that `tandem study` needs: wait for `tandem serve` to be ready, POST the
 * results to a server's store, GET stored results for `--report-from URL`. Plain http:// only (the study talks to
 * its own server or one on the local network); one request per connection, Content-Length or read-to-close
 * bodies, a timeout on every socket operation. */
#include <errno.h>
#include <strings.h>
#include <time.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "study_http.h"

#define HTTP_MAX_RESPONSE ((size_t)512 << 20)

int study_http_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap, const char **path) {
    if (strncmp(url, "http://", 7)) return -1;
    const char *h = url + 7, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    size_t hl = (size_t)((colon ? colon : end) - h);
    if (hl == 0 || hl >= hostcap) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= portcap) return -1;
        memcpy(port, colon + 1, pl);
        port[pl] = 0;
    } else {
        snprintf(port, portcap, "80");
    }
    *path = slash ? slash : "/";
    return 0;
}

static int http_connect(const char *host, const char *port, int timeout_ms) {
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res)) return -1;
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int study_http(const char *url, const char *method, const char *ctype, const char *body, size_t blen, int timeout_ms,
               study_http_response *r) {
    return study_http_ex(url, method, ctype, NULL, body, blen, timeout_ms, r);
}

void study_http_free(study_http_response *r) {
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

const char *study_http_header(const study_http_response *r, const char *name, char *buf, size_t cap) {
    size_t nl = strlen(name);
    for (const char *l = r->headers; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
        if (strncasecmp(l, name, nl) || l[nl] != ':') continue;
        const char *v = l + nl + 1, *e = strstr(v, "\r\n");
        while (*v == ' ') v++;
        size_t n = e ? (size_t)(e - v) : strlen(v);
        snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
        return buf;
    }
    return NULL;
}

int study_http_ex(const char *url, const char *method, const char *ctype, const char *extra, const char *body,
                  size_t blen, int timeout_ms, study_http_response *r) {
    char host[256], port[16], head[2048];
    const char *path;
    memset(r, 0, sizeof *r);
    if (study_http_parse_url(url, host, sizeof host, port, sizeof port, &path)) return -1;
    double t0 = now_ms();
    int fd = http_connect(host, port, timeout_ms);
    if (fd < 0) return -1;
    double t1 = now_ms();
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nAccept: */*\r\n%s%s%s%s"
                      "Content-Length: %zu\r\n\r\n",
                      method, path, host, port, ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                      extra ? extra : "", blen);
    if (hl <= 0 || (size_t)hl >= sizeof head || send_all(fd, head, (size_t)hl) || (blen && send_all(fd, body, blen))) {
        close(fd);
        return -1;
    }
    double t2 = now_ms(), t3 = 0;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            if (cap >= HTTP_MAX_RESPONSE) break;
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) break;
            buf = nb, cap *= 2;
        }
        ssize_t k = recv(fd, buf + n, cap - n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (n == 0) t3 = now_ms();
        n += (size_t)k;
    }
    close(fd);
    double t4 = now_ms();
    r->connect_ms = t1 - t0, r->send_ms = t2 - t1, r->wait_ms = (t3 > 0 ? t3 : t4) - t2;
    r->download_ms = t3 > 0 ? t4 - t3 : 0;
    if (!buf) return -1;
    buf[n] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (n < 12 || strncmp(buf, "HTTP/1.", 7) || !sep) {
        free(buf);
        return -1;
    }
    r->status = atoi(buf + 9);
    size_t off = (size_t)(sep + 4 - buf);
    if ((r->headers = malloc(off + 1))) {
        memcpy(r->headers, buf, off);
        r->headers[off] = 0;
    }
    memmove(buf, buf + off, n - off + 1);
    r->body = buf;
    r->len = n - off;
    return 0;
}
