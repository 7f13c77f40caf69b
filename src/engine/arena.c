/* arena.c - the planner's best-fit placement of activations in one arena (as ggml-alloc.c does it): a free list of
 * [offset, size) holes, best fit, neighbours merged on release, and growth at the end only when no hole fits. The
 * planner (plan.c) calls it in run order: place each output when its node runs, release each value after its last
 * reader. Offsets only; the arena itself is allocated once the plan knows its size. */
#include "model.h"

void tdm_arena_init(tdm_arena_plan *p, const tdm_alloc *a) {
    memset(p, 0, sizeof *p);
    p->a = a;
}

void tdm_arena_free(tdm_arena_plan *p) {
    tdm_free(p->a, p->h);
    p->h = NULL;
    p->n = p->cap = 0;
}

size_t tdm_arena_place(tdm_arena_plan *p, size_t size) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (p->h[i].size >= size && (best < 0 || p->h[i].size < p->h[best].size)) best = i;
    if (best >= 0) {
        size_t off = p->h[best].off;
        p->h[best].off += size;
        p->h[best].size -= size;
        if (!p->h[best].size) p->h[best] = p->h[--p->n];
        return off;
    }
    /* extend: if a hole touches the end, grow it */
    for (int i = 0; i < p->n; i++)
        if (p->h[i].off + p->h[i].size == p->end) {
            size_t off = p->h[i].off;
            p->end = off + size;
            p->h[i] = p->h[--p->n];
            return off;
        }
    size_t off = p->end;
    p->end += size;
    return off;
}

int tdm_arena_release(tdm_arena_plan *p, size_t off, size_t size) {
    for (int i = 0; i < p->n; i++) { /* merge with neighbours */
        if (p->h[i].off + p->h[i].size == off) {
            off = p->h[i].off;
            size += p->h[i].size;
            p->h[i--] = p->h[--p->n];
        } else if (off + size == p->h[i].off) {
            size += p->h[i].size;
            p->h[i--] = p->h[--p->n];
        }
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 32;
        tdm_arena_hole *nh = tdm_realloc(p->a, p->h, (size_t)cap * sizeof *nh);
        if (!nh) return -1;
        p->h = nh;
        p->cap = cap;
    }
    p->h[p->n].off = off;
    p->h[p->n].size = size;
    p->n++;
    return 0;
}
