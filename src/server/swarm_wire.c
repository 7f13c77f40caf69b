/* swarm_wire.c - parsing the swarm's lease and submission messages (swarm_wire.h): bounds first, then the JSON line,
 * then every offset and size against the bytes that follow it. No I/O, no store, no engine. */
#include "swarm_wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON number that is a whole count in [lo, hi]. */
static int wire_count(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi && v->valuedouble == floor(v->valuedouble);
}

int swarm_parse_submit(const char *body, size_t len, cJSON **head_out, sws_submit *sub, char *err, size_t errlen) {
    memset(sub, 0, sizeof *sub);
    *head_out = NULL;
    const char *nl = memchr(body, '\n', len < SWARM_WIRE_MAX_HEAD ? len : SWARM_WIRE_MAX_HEAD);
    if (!nl) return snprintf(err, errlen, "the submission must start with a JSON line (at most 64 KiB)"), -1;
    cJSON *h = cJSON_ParseWithLength(body, (size_t)(nl - body));
    const cJSON *client = cJSON_GetObjectItemCaseSensitive(h, "client");
    const cJSON *lease = cJSON_GetObjectItemCaseSensitive(h, "lease");
    const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(h, "chunks");
    if (!cJSON_IsObject(h) || !cJSON_IsString(client) || !cJSON_IsString(lease) || !cJSON_IsArray(chunks)) {
        cJSON_Delete(h);
        return snprintf(err, errlen, "the JSON line needs \"client\", \"lease\" and a \"chunks\" array"), -1;
    }
    int n = cJSON_GetArraySize(chunks);
    if (n < 1 || n > 100000) {
        cJSON_Delete(h);
        return snprintf(err, errlen, "\"chunks\" must list 1 to 100000 chunks"), -1;
    }
    sub->chunks = calloc((size_t)n, sizeof *sub->chunks);
    if (!sub->chunks) {
        cJSON_Delete(h);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    const char *payload = nl + 1;
    size_t left = len - (size_t)(payload - body), off = 0;
    int k = 0;
    for (const cJSON *c = chunks->child; c; c = c->next, k++) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(c, "items");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(c, "bytes");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "error");
        sws_submit_chunk *sc = &sub->chunks[k];
        if (!wire_count(idx, 0, 1e12)) {
            snprintf(err, errlen, "chunk entry %d: \"index\" must be a chunk number", k);
            goto bad;
        }
        sc->idx = (int64_t)idx->valuedouble;
        if (e) {
            if (!cJSON_IsString(e)) {
                snprintf(err, errlen, "chunk entry %d: \"error\" must be a string", k);
                goto bad;
            }
            sc->error = e->valuestring[0] ? e->valuestring : "unspecified error";
            continue;
        }
        if (!wire_count(items, 1, 1e9) || !wire_count(bytes, 0, (double)(left - off))) {
            snprintf(err, errlen, "chunk entry %d: \"items\" and \"bytes\" must be counts within the body", k);
            goto bad;
        }
        sc->n = (int64_t)items->valuedouble;
        sc->len = (size_t)bytes->valuedouble;
        sc->result = payload + off;
        off += sc->len;
    }
    if (off != left) {
        snprintf(err, errlen, "the chunks' bytes add up to %zu but %zu follow the JSON line", off, left);
        goto bad;
    }
    const cJSON *cms = cJSON_GetObjectItemCaseSensitive(h, "compute_ms");
    sub->compute_ms = cJSON_IsNumber(cms) && cms->valuedouble > 0 && cms->valuedouble < 1e9 ? cms->valuedouble : 0;
    sub->client = client->valuestring;
    sub->lease = lease->valuestring;
    sub->nchunks = n;
    *head_out = h;
    return 0;
bad:
    free(sub->chunks);
    sub->chunks = NULL;
    cJSON_Delete(h);
    return -1;
}

static const char *wire_string(const cJSON *h, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void swarm_lease_msg_free(swarm_lease_msg *m) {
    if (!m) return;
    cJSON_Delete(m->head);
    free(m->chunks);
    memset(m, 0, sizeof *m);
}

int swarm_parse_lease(const unsigned char *body, size_t len, swarm_lease_msg *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    const unsigned char *nl = memchr(body, '\n', len < SWARM_WIRE_MAX_HEAD ? len : SWARM_WIRE_MAX_HEAD);
    if (!nl) return snprintf(err, errlen, "the lease does not start with a JSON line"), -1;
    cJSON *h = out->head = cJSON_ParseWithLength((const char *)body, (size_t)(nl - body));
    const cJSON *lease = cJSON_GetObjectItemCaseSensitive(h, "lease");
    if (!cJSON_IsObject(h) || !lease) return snprintf(err, errlen, "the lease's JSON line has no \"lease\""), -1;
    if (cJSON_IsNull(lease)) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(h, "active_jobs");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(h, "retry_ms");
        if (!wire_count(a, 0, 1e12) || !wire_count(r, 0, 3.6e6))
            return snprintf(err, errlen, "a lease without work needs \"active_jobs\" and \"retry_ms\""), -1;
        out->no_work = 1;
        out->active_jobs = (int64_t)a->valuedouble;
        out->retry_ms = (int64_t)r->valuedouble;
        return 0;
    }
    out->lease = wire_string(h, "lease");
    out->job = wire_string(h, "job");
    out->model = wire_string(h, "model");
    out->model_url = wire_string(h, "model_url");
    out->format = wire_string(h, "format");
    out->item_shape = cJSON_GetObjectItemCaseSensitive(h, "item_shape");
    out->outputs = cJSON_GetObjectItemCaseSensitive(h, "outputs");
    out->prep = cJSON_GetObjectItemCaseSensitive(h, "prep");
    const cJSON *ib = cJSON_GetObjectItemCaseSensitive(h, "item_bytes");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(h, "expires_in_ms");
    const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(h, "chunks");
    if (!out->lease || !out->job || !out->model || !out->model_url || !out->format || !wire_count(ib, 1, 1e10) ||
        !wire_count(ex, 0, 1e10) || !cJSON_IsArray(chunks))
        return snprintf(err, errlen, "the lease's JSON line misses a field or has one of the wrong type"), -1;
    out->batch_any = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "batch_any"));
    out->item_bytes = (int64_t)ib->valuedouble;
    out->expires_in_ms = (int64_t)ex->valuedouble;
    int n = cJSON_GetArraySize(chunks);
    if (n < 1) return snprintf(err, errlen, "the lease holds no chunk"), -1;
    out->chunks = calloc((size_t)n, sizeof *out->chunks);
    if (!out->chunks) return snprintf(err, errlen, "out of memory"), -1;
    const unsigned char *payload = nl + 1;
    size_t left = len - (size_t)(payload - body), next = 0;
    for (const cJSON *c = chunks->child; c; c = c->next, out->nchunks++) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
        const cJSON *first = cJSON_GetObjectItemCaseSensitive(c, "first");
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(c, "items");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(c, "offset");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(c, "bytes");
        if (!wire_count(idx, 0, 1e12) || !wire_count(first, 0, 1e12) || !wire_count(items, 1, 1e9) ||
            !wire_count(off, (double)next, (double)next) || !wire_count(bytes, 0, (double)(left - next)) ||
            bytes->valuedouble != items->valuedouble * (double)out->item_bytes)
            return snprintf(err, errlen, "lease chunk %d: its index, items, offset or bytes do not fit the payload",
                            out->nchunks), -1;
        swarm_wire_chunk *w = &out->chunks[out->nchunks];
        w->index = (int64_t)idx->valuedouble;
        w->first = (int64_t)first->valuedouble;
        w->items = (int64_t)items->valuedouble;
        w->data = payload + next;
        w->bytes = (size_t)bytes->valuedouble;
        next += w->bytes;
    }
    if (next != left) return snprintf(err, errlen, "the lease's chunks cover %zu of its %zu payload bytes", next, left), -1;
    return 0;
}
