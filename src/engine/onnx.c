/* onnx.c - reads an ONNX ModelProto (protobuf wire format) into the engine's value/node tables. Field numbers follow
 * onnx.proto (IR version 3 to 9). Anything malformed is a TDM_INVALID_MODEL error naming what was wrong. */
#include <stdio.h>

#include "model.h"
#include "pb.h"

/* ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto/TypeProto field numbers. */
enum { MP_IR_VERSION = 1, MP_PRODUCER = 2, MP_GRAPH = 7, MP_OPSET = 8 };
enum { GP_NODE = 1, GP_NAME = 2, GP_INITIALIZER = 5, GP_INPUT = 11, GP_OUTPUT = 12, GP_SPARSE_INIT = 15 };
enum { NP_INPUT = 1, NP_OUTPUT = 2, NP_NAME = 3, NP_OP_TYPE = 4, NP_ATTRIBUTE = 5, NP_DOMAIN = 7 };
enum { AP_NAME = 1, AP_F = 2, AP_I = 3, AP_S = 4, AP_T = 5, AP_G = 6, AP_FLOATS = 7, AP_INTS = 8, AP_STRINGS = 9,
       AP_TENSORS = 10, AP_GRAPHS = 11, AP_TYPE = 20, AP_REF = 21, AP_SPARSE = 22 };

#define MAX_VALUES (1 << 22)

typedef struct name_map {
    int *slot; /* value index + 1, 0 empty */
    size_t cap;
} name_map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

static int map_find(const name_map *nm, const tdm_model *m, const char *name) {
    if (!nm->cap) return -1;
    for (size_t i = hash_str(name) & (nm->cap - 1);; i = (i + 1) & (nm->cap - 1)) {
        int v = nm->slot[i];
        if (!v) return -1;
        if (strcmp(m->values[v - 1].name, name) == 0) return v - 1;
    }
}

static int map_insert(name_map *nm, const tdm_model *m, int id) {
    if ((size_t)(id + 1) * 2 > nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 256;
        while ((size_t)(id + 1) * 2 > cap) cap *= 2;
        int *slot = tdm_calloc(&m->alloc, cap, sizeof(int));
        if (!slot) return -1;
        tdm_free(&m->alloc, nm->slot);
        nm->slot = slot;
        nm->cap = cap;
        for (int v = 0; v < id; v++) /* rehash everything inserted so far (ids are dense) */
            for (size_t i = hash_str(m->values[v].name) & (cap - 1);; i = (i + 1) & (cap - 1))
                if (!slot[i]) {
                    slot[i] = v + 1;
                    break;
                }
    }
    for (size_t i = hash_str(m->values[id].name) & (nm->cap - 1);; i = (i + 1) & (nm->cap - 1))
        if (!nm->slot[i]) {
            nm->slot[i] = id + 1;
            return 0;
        }
}

int tdm_model_add_value(tdm_model *m, const char *name) {
    if (m->n_values >= MAX_VALUES) return -1;
    if (m->n_values == m->cap_values) {
        int cap = m->cap_values ? m->cap_values * 2 : 64;
        tdm_value *v = tdm_realloc(&m->alloc, m->values, (size_t)cap * sizeof *v);
        if (!v) return -1;
        m->values = v;
        m->cap_values = cap;
    }
    tdm_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = tdm_strdup(&m->alloc, name, strlen(name));
    if (!v->name) return -1;
    v->rank = -1;
    v->def = -1;
    return m->n_values++;
}

/* ---- parse state ----------------------------------------------------------------------------------------------- */

typedef struct raw_node {
    const uint8_t *p;
    size_t len;
} raw_node;

typedef struct parser {
    tdm_model *m;
    const char *base_dir;
    name_map names;
} parser;

static tdm_status bad(const char *what) { return tdm_error(TDM_INVALID_MODEL, "malformed model: %s", what); }

static char *dup_bytes(parser *ps, const uint8_t *p, size_t n) { return tdm_strdup(&ps->m->alloc, (const char *)p, n); }

/* Add a value with this name; duplicate definitions are an error. */
static tdm_status define_value(parser *ps, const char *name, int *id_out) {
    if (map_find(&ps->names, ps->m, name) >= 0)
        return tdm_error(TDM_INVALID_MODEL, "value '%s' is defined twice", name);
    int id = tdm_model_add_value(ps->m, name);
    if (id < 0 || map_insert(&ps->names, ps->m, id) < 0) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    *id_out = id;
    return TDM_OK;
}

/* ValueInfoProto -> name, elem type and shape (dims -1 with dim_param where symbolic). */
typedef struct vinfo {
    char *name;
    int dtype, rank;
    int64_t dims[TDM_MAX_RANK];
    char *dim_param[TDM_MAX_RANK];
} vinfo;

static tdm_status parse_shape(parser *ps, const uint8_t *p, size_t len, vinfo *vi) {
    tdm_pb r = {p, p + len};
    uint32_t f;
    int w, rc;
    vi->rank = 0;
    while ((rc = tdm_pb_next(&r, &f, &w)) == 1) {
        if (f != 1) {
            if (tdm_pb_skip(&r, w)) return bad("TensorShapeProto");
            continue;
        }
        const uint8_t *dp;
        size_t dl;
        if (tdm_pb_bytes(&r, w, &dp, &dl)) return bad("TensorShapeProto.dim");
        if (vi->rank >= TDM_MAX_RANK)
            return tdm_error(TDM_UNSUPPORTED, "value '%s': rank above %d is not supported", vi->name, TDM_MAX_RANK);
        int k = vi->rank++;
        vi->dims[k] = -1;
        tdm_pb dr = {dp, dp + dl};
        uint32_t df;
        int dw;
        while ((rc = tdm_pb_next(&dr, &df, &dw)) == 1) {
            if (df == 1) {
                uint64_t v;
                if (tdm_pb_varint(&dr, dw, &v)) return bad("Dimension.dim_value");
                vi->dims[k] = (int64_t)v < 0 ? -1 : (int64_t)v;
            } else if (df == 2) {
                const uint8_t *sp;
                size_t sl;
                if (tdm_pb_bytes(&dr, dw, &sp, &sl)) return bad("Dimension.dim_param");
                vi->dim_param[k] = dup_bytes(ps, sp, sl);
                if (!vi->dim_param[k]) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
            } else if (tdm_pb_skip(&dr, dw))
                return bad("Dimension");
        }
        if (rc < 0) return bad("Dimension");
    }
    return rc < 0 ? bad("TensorShapeProto") : TDM_OK;
}

static tdm_status parse_value_info(parser *ps, const uint8_t *p, size_t len, vinfo *vi) {
    tdm_pb r = {p, p + len};
    uint32_t f;
    int w, rc;
    memset(vi, 0, sizeof *vi);
    vi->rank = -1;
    while ((rc = tdm_pb_next(&r, &f, &w)) == 1) {
        const uint8_t *q;
        size_t ql;
        if (f == 1) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) return bad("ValueInfoProto.name");
            tdm_free(&ps->m->alloc, vi->name);
            if (!(vi->name = dup_bytes(ps, q, ql))) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
        } else if (f == 2) { /* TypeProto */
            if (tdm_pb_bytes(&r, w, &q, &ql)) return bad("ValueInfoProto.type");
            tdm_pb tr = {q, q + ql};
            uint32_t tf;
            int tw;
            while ((rc = tdm_pb_next(&tr, &tf, &tw)) == 1) {
                const uint8_t *tp;
                size_t tl;
                if (tf != 1) { /* sequence, map, optional, sparse: leave dtype undefined */
                    if (tdm_pb_skip(&tr, tw)) return bad("TypeProto");
                    continue;
                }
                if (tdm_pb_bytes(&tr, tw, &tp, &tl)) return bad("TypeProto.tensor_type");
                tdm_pb er = {tp, tp + tl};
                uint32_t ef;
                int ew;
                while ((rc = tdm_pb_next(&er, &ef, &ew)) == 1) {
                    if (ef == 1) {
                        uint64_t v;
                        if (tdm_pb_varint(&er, ew, &v)) return bad("TypeProto.Tensor.elem_type");
                        vi->dtype = (int)v;
                    } else if (ef == 2) {
                        const uint8_t *sp;
                        size_t sl;
                        if (tdm_pb_bytes(&er, ew, &sp, &sl)) return bad("TypeProto.Tensor.shape");
                        tdm_status st = parse_shape(ps, sp, sl, vi);
                        if (st) return st;
                    } else if (tdm_pb_skip(&er, ew))
                        return bad("TypeProto.Tensor");
                }
                if (rc < 0) return bad("TypeProto.Tensor");
            }
            if (rc < 0) return bad("TypeProto");
        } else if (tdm_pb_skip(&r, w))
            return bad("ValueInfoProto");
    }
    if (rc < 0) return bad("ValueInfoProto");
    if (!vi->name) return bad("ValueInfoProto without a name");
    return TDM_OK;
}

static void vinfo_apply(tdm_value *v, vinfo *vi) {
    v->dtype = (tdm_dtype)vi->dtype;
    v->rank = vi->rank;
    for (int i = 0; i < vi->rank && i < TDM_MAX_RANK; i++) {
        v->dims[i] = vi->dims[i];
        v->dim_param[i] = vi->dim_param[i];
        vi->dim_param[i] = NULL;
    }
}

static void vinfo_free(parser *ps, vinfo *vi) {
    tdm_free(&ps->m->alloc, vi->name);
    for (int i = 0; i < TDM_MAX_RANK; i++) tdm_free(&ps->m->alloc, vi->dim_param[i]);
}

/* Take ownership of a parsed tensor as a constant value. */
static void value_set_tensor(tdm_value *v, tdm_tensor *t) {
    v->kind = TDM_V_CONST;
    v->dtype = t->dtype;
    v->rank = t->rank;
    memcpy(v->dims, t->dims, sizeof v->dims);
    v->data = t->data;
}

static tdm_status parse_attribute(parser *ps, const uint8_t *p, size_t len, tdm_attr *a, const char *node) {
    const tdm_alloc *al = &ps->m->alloc;
    tdm_pb r = {p, p + len};
    uint32_t f;
    int w, rc;
    tdm_pb_array floats = {0}, ints = {0};
    int n_strings = 0, has_type = 0, has_f = 0, has_i = 0, has_s = 0, has_t = 0, has_g = 0, has_ref = 0;
    uint64_t type = 0;
    tdm_status st = TDM_OK;
    memset(a, 0, sizeof *a);
    while ((rc = tdm_pb_next(&r, &f, &w)) == 1) {
        const uint8_t *q;
        size_t ql;
        uint64_t v;
        uint32_t u;
        int e = 0;
        switch (f) {
        case AP_NAME:
            if (!(e = tdm_pb_bytes(&r, w, &q, &ql))) {
                tdm_free(al, a->name);
                a->name = dup_bytes(ps, q, ql);
                if (!a->name) st = TDM_OUT_OF_MEMORY;
            }
            break;
        case AP_TYPE: e = tdm_pb_varint(&r, w, &type); has_type = 1; break;
        case AP_F: e = tdm_pb_fixed32(&r, w, &u); memcpy(&a->f, &u, 4); has_f = 1; break;
        case AP_I: e = tdm_pb_varint(&r, w, &v); a->i = (int64_t)v; has_i = 1; break;
        case AP_S:
            if (!(e = tdm_pb_bytes(&r, w, &q, &ql))) {
                tdm_free(al, a->s);
                a->s = dup_bytes(ps, q, ql);
                a->s_len = ql;
                has_s = 1;
                if (!a->s) st = TDM_OUT_OF_MEMORY;
            }
            break;
        case AP_T:
            if (!(e = tdm_pb_bytes(&r, w, &q, &ql))) {
                if (a->t) break; /* a repeated singular field: keep the first */
                a->t = tdm_calloc(al, 1, sizeof *a->t);
                if (!a->t) {
                    st = TDM_OUT_OF_MEMORY;
                    break;
                }
                st = tdm_pb_tensor(q, ql, al, ps->base_dir, a->t);
                if (st) {
                    tdm_free(al, a->t);
                    a->t = NULL;
                }
                has_t = 1;
            }
            break;
        case AP_FLOATS: e = tdm_pb_repeated(&r, w, 4, al, &floats); break;
        case AP_INTS: e = tdm_pb_repeated(&r, w, 0, al, &ints); break;
        case AP_STRINGS: n_strings++; e = tdm_pb_skip(&r, w); break;
        case AP_G: case AP_GRAPHS: has_g = 1; e = tdm_pb_skip(&r, w); break;
        case AP_REF: has_ref = 1; e = tdm_pb_skip(&r, w); break;
        default: e = tdm_pb_skip(&r, w); break;
        }
        if (e == -2) st = TDM_OUT_OF_MEMORY; /* tdm_pb_repeated could not grow its array */
        else if (e) rc = -1;
        if (e || st) break;
    }
    if (!st && rc < 0) st = tdm_error(TDM_INVALID_MODEL, "node '%s': malformed attribute", node);
    else if (st == TDM_OUT_OF_MEMORY) st = tdm_error(st, "out of memory");
    if (!st && !a->name) st = tdm_error(TDM_INVALID_MODEL, "node '%s': attribute without a name", node);
    if (!st && has_ref)
        st = tdm_error(TDM_UNSUPPORTED, "node '%s': attribute '%s' refers to a function attribute", node, a->name);
    if (!st) {
        /* IR < 3 models may omit `type`; infer it from the field present. */
        if (!has_type) type = has_f ? TDM_ATTR_FLOAT : has_i ? TDM_ATTR_INT : has_s ? TDM_ATTR_STRING
                            : has_t ? TDM_ATTR_TENSOR : has_g ? TDM_ATTR_GRAPH : floats.n ? TDM_ATTR_FLOATS
                            : ints.n ? TDM_ATTR_INTS : n_strings ? TDM_ATTR_STRINGS : TDM_ATTR_UNDEFINED;
        a->type = (tdm_attr_type)type;
        if (type == TDM_ATTR_FLOATS) {
            a->n = (int)floats.n;
            a->floats = floats.data;
            floats.data = NULL;
        } else if (type == TDM_ATTR_INTS) {
            a->n = (int)ints.n;
            a->ints = ints.data;
            ints.data = NULL;
        } else if (type == TDM_ATTR_STRINGS) {
            a->n = n_strings;
        } else if (type == TDM_ATTR_TENSOR && !a->t) {
            st = tdm_error(TDM_INVALID_MODEL, "node '%s': tensor attribute '%s' has no tensor", node, a->name);
        } else if (type == TDM_ATTR_STRING && !a->s) {
            a->s = dup_bytes(ps, (const uint8_t *)"", 0);
            if (!a->s) st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
        }
        if (floats.n > INT32_MAX || ints.n > INT32_MAX) st = bad("attribute list too long");
    }
    tdm_free(al, floats.data);
    tdm_free(al, ints.data);
    return st;
}

/* Parse one NodeProto. Input names are resolved later (nodes may come in any order). Every failure goes through `out`
 * so the output-name list is freed. */
#define ST_OUT(expr)                                                                                                   \
    do {                                                                                                               \
        st = (expr);                                                                                                   \
        goto out;                                                                                                      \
    } while (0)
static tdm_status parse_node(parser *ps, const uint8_t *p, size_t len, tdm_node *n, char ***in_names) {
    const tdm_alloc *al = &ps->m->alloc;
    tdm_pb r = {p, p + len};
    uint32_t f;
    int w, rc;
    int cap_in = 0, cap_out = 0, cap_attr = 0;
    char **outs = NULL;
    const uint8_t *dom = NULL;
    size_t dom_len = 0;
    tdm_status st = TDM_OK;
    /* first pass: names, op type, domain, counts */
    while ((rc = tdm_pb_next(&r, &f, &w)) == 1) {
        const uint8_t *q;
        size_t ql;
        if (f == NP_INPUT || f == NP_OUTPUT) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) ST_OUT(bad("NodeProto input/output"));
            char ***list = f == NP_INPUT ? in_names : &outs;
            int *cnt = f == NP_INPUT ? &n->n_in : &n->n_out;
            int *cap = f == NP_INPUT ? &cap_in : &cap_out;
            if (*cnt == *cap) {
                *cap = *cap ? *cap * 2 : 4;
                char **nl = tdm_realloc(al, *list, (size_t)*cap * sizeof(char *));
                if (!nl) ST_OUT(tdm_error(TDM_OUT_OF_MEMORY, "out of memory"));
                *list = nl;
            }
            if (!((*list)[*cnt] = dup_bytes(ps, q, ql))) ST_OUT(tdm_error(TDM_OUT_OF_MEMORY, "out of memory"));
            (*cnt)++;
            if (*cnt > 100000) ST_OUT(bad("node with too many inputs/outputs"));
        } else if (f == NP_NAME || f == NP_OP_TYPE) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) ST_OUT(bad("NodeProto name"));
            char **dst = f == NP_NAME ? &n->name : &n->op_type;
            tdm_free(al, *dst);
            if (!(*dst = dup_bytes(ps, q, ql))) ST_OUT(tdm_error(TDM_OUT_OF_MEMORY, "out of memory"));
        } else if (f == NP_DOMAIN) {
            if (tdm_pb_bytes(&r, w, &dom, &dom_len)) ST_OUT(bad("NodeProto domain"));
        } else if (f == NP_ATTRIBUTE) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) ST_OUT(bad("NodeProto attribute"));
            if (n->n_attr == cap_attr) {
                cap_attr = cap_attr ? cap_attr * 2 : 4;
                tdm_attr *na = tdm_realloc(al, n->attr, (size_t)cap_attr * sizeof *na);
                if (!na) ST_OUT(tdm_error(TDM_OUT_OF_MEMORY, "out of memory"));
                n->attr = na;
            }
            st = parse_attribute(ps, q, ql, &n->attr[n->n_attr], n->name ? n->name : "");
            n->n_attr++; /* counted even on failure so the model frees what was parsed */
            if (st) ST_OUT(st);
        } else if (tdm_pb_skip(&r, w))
            ST_OUT(bad("NodeProto"));
    }
    if (rc < 0) ST_OUT(bad("NodeProto"));
    if (!n->name && !(n->name = dup_bytes(ps, (const uint8_t *)"", 0))) ST_OUT(tdm_error(TDM_OUT_OF_MEMORY, "oom"));
    if (!n->op_type) ST_OUT(tdm_error(TDM_INVALID_MODEL, "node '%s' has no op_type", n->name));
    if (dom_len && !(dom_len == 7 && memcmp(dom, "ai.onnx", 7) == 0)) {
        st = tdm_error(TDM_UNSUPPORTED, "%s '%s': op '%.*s::%s' is not supported by tandem (only the default ONNX "
                       "domain is)", n->op_type, n->name, (int)(dom_len > 64 ? 64 : dom_len), (const char *)dom,
                       n->op_type);
        goto out;
    }
    n->residual = n->fused_out = -1;
    n->out = tdm_calloc(al, (size_t)(n->n_out ? n->n_out : 1), sizeof(int));
    n->in = tdm_calloc(al, (size_t)(n->n_in ? n->n_in : 1), sizeof(int));
    if (!n->out || !n->in) {
        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int i = 0; i < n->n_out && !st; i++) {
        n->out[i] = -1;
        if (outs[i][0]) st = define_value(ps, outs[i], &n->out[i]);
    }
out:
    for (int i = 0; i < n->n_out; i++) tdm_free(al, outs[i]);
    tdm_free(al, outs);
    return st;
}
#undef ST_OUT

tdm_status tdm_onnx_parse(tdm_model *m, const uint8_t *buf, size_t len, const char *base_dir, const tdm_file *src) {
    parser ps = {m, base_dir, {0}};
    const tdm_alloc *al = &m->alloc;
    tdm_pb r = {buf, buf + len};
    uint32_t f;
    int w, rc;
    const uint8_t *graph = NULL;
    size_t graph_len = 0;
    int have_opset = 0;
    tdm_status st = TDM_OK;
    raw_node *raw = NULL;
    char ***in_names = NULL;
    int n_raw = 0, cap_raw = 0;

    m->opset = 1;
    while ((rc = tdm_pb_next(&r, &f, &w)) == 1) {
        const uint8_t *q;
        size_t ql;
        uint64_t v;
        if (f == MP_IR_VERSION) {
            if (tdm_pb_varint(&r, w, &v)) return bad("ModelProto.ir_version");
            m->ir_version = (int64_t)v;
        } else if (f == MP_PRODUCER) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) return bad("ModelProto.producer_name");
            tdm_free(al, m->producer);
            if (!(m->producer = dup_bytes(&ps, q, ql))) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
        } else if (f == MP_GRAPH) {
            if (tdm_pb_bytes(&r, w, &graph, &graph_len)) return bad("ModelProto.graph");
        } else if (f == MP_OPSET) {
            if (tdm_pb_bytes(&r, w, &q, &ql)) return bad("ModelProto.opset_import");
            tdm_pb orr = {q, q + ql};
            uint32_t of;
            int ow;
            size_t dl = 0;
            uint64_t ver = 0;
            while ((rc = tdm_pb_next(&orr, &of, &ow)) == 1) {
                const uint8_t *d;
                if (of == 1) {
                    if (tdm_pb_bytes(&orr, ow, &d, &dl)) return bad("OperatorSetIdProto.domain");
                    if (dl == 7 && memcmp(d, "ai.onnx", 7) == 0) dl = 0;
                } else if (of == 2) {
                    if (tdm_pb_varint(&orr, ow, &ver)) return bad("OperatorSetIdProto.version");
                } else if (tdm_pb_skip(&orr, ow))
                    return bad("OperatorSetIdProto");
            }
            if (rc < 0) return bad("OperatorSetIdProto");
            if (dl == 0) {
                m->opset = (int64_t)ver;
                have_opset = 1;
            }
        } else if (tdm_pb_skip(&r, w))
            return bad("ModelProto");
    }
    if (rc < 0) return bad("not an ONNX ModelProto");
    if (!graph) return tdm_error(TDM_INVALID_MODEL, "malformed model: no graph (is this an ONNX file?)");
    m->has_opset = have_opset;
    if (m->opset < 1 || m->opset > 10000) return tdm_error(TDM_INVALID_MODEL, "malformed model: opset %lld",
                                                           (long long)m->opset);
    if (!m->producer && !(m->producer = dup_bytes(&ps, (const uint8_t *)"", 0)))
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");

    /* Graph: initializers and inputs first (they define values), nodes next, outputs last, in passes. Pass 0 walks
     * the graph's bytes, copies the initializers and notes where the inputs, nodes and outputs lie; passes 1-3 visit
     * only those, so the initializers' pages, once given back (tdm_file_release), are not mapped again: reading the
     * header of every tensor again would map a whole folio of the file around each one. */
    vinfo vi;
    typedef struct {
        uint32_t f;
        const uint8_t *q;
        size_t ql;
    } field_span;
    field_span *spans = NULL;
    size_t n_spans = 0, cap_spans = 0;
    for (int pass = 0; pass < 4 && !st; pass++) {
        tdm_pb gr = {graph, graph + graph_len};
        size_t next_span = 0;
        while (!st) {
            const uint8_t *q;
            size_t ql;
            if (pass > 0) {
                if (next_span == n_spans) break;
                f = spans[next_span].f;
                q = spans[next_span].q;
                ql = spans[next_span].ql;
                next_span++;
            } else {
                if ((rc = tdm_pb_next(&gr, &f, &w)) != 1) break;
                if (f != GP_NODE && f != GP_INITIALIZER && f != GP_INPUT && f != GP_OUTPUT && f != GP_SPARSE_INIT) {
                    if (tdm_pb_skip(&gr, w)) rc = -1;
                    continue;
                }
                if (tdm_pb_bytes(&gr, w, &q, &ql)) {
                    rc = -1;
                    break;
                }
                if (f == GP_NODE || f == GP_INPUT || f == GP_OUTPUT) {
                    if (n_spans == cap_spans) {
                        size_t cap = cap_spans ? cap_spans * 2 : 64;
                        field_span *ns = tdm_realloc(al, spans, cap * sizeof *ns);
                        if (!ns) {
                            st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
                            break;
                        }
                        spans = ns;
                        cap_spans = cap;
                    }
                    spans[n_spans++] = (field_span){f, q, ql};
                    continue;
                }
            }
            if (pass == 0 && f == GP_INITIALIZER) {
                tdm_tensor t;
                st = tdm_pb_tensor(q, ql, al, base_dir, &t);
                if (st) break;
                int id;
                if (!t.name[0]) st = tdm_error(TDM_INVALID_MODEL, "an initializer has no name");
                else st = define_value(&ps, t.name, &id);
                if (st) {
                    tdm_free(al, t.name);
                    tdm_free_aligned(al, t.data);
                    break;
                }
                tdm_free(al, t.name);
                value_set_tensor(&m->values[id], &t);
                tdm_file_release(src, q, ql); /* its copy is made: the file's pages of it can go */
            } else if (pass == 0 && f == GP_SPARSE_INIT) {
                st = tdm_error(TDM_UNSUPPORTED, "sparse initializers are not supported");
            } else if (pass == 1 && f == GP_INPUT) {
                st = parse_value_info(&ps, q, ql, &vi);
                if (!st) {
                    int id = map_find(&ps.names, m, vi.name);
                    if (id >= 0 && m->values[id].kind == TDM_V_CONST) {
                        /* an input with a default (initializer): it stays a constant */
                    } else if (id >= 0) {
                        st = tdm_error(TDM_INVALID_MODEL, "graph input '%s' is listed twice", vi.name);
                    } else if (!(st = define_value(&ps, vi.name, &id))) {
                        vinfo_apply(&m->values[id], &vi);
                        m->values[id].kind = TDM_V_INPUT;
                        int *ni = tdm_realloc(al, m->inputs, (size_t)(m->n_inputs + 1) * sizeof(int));
                        if (!ni) st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
                        else {
                            m->inputs = ni;
                            m->inputs[m->n_inputs++] = id;
                        }
                    }
                }
                vinfo_free(&ps, &vi);
            } else if (pass == 2 && f == GP_NODE) {
                if (n_raw == cap_raw) {
                    cap_raw = cap_raw ? cap_raw * 2 : 64;
                    raw_node *nr = tdm_realloc(al, raw, (size_t)cap_raw * sizeof *nr);
                    char ***nn = tdm_realloc(al, in_names, (size_t)cap_raw * sizeof *nn);
                    tdm_node *nd = tdm_realloc(al, m->nodes, (size_t)cap_raw * sizeof *nd);
                    if (nr) raw = nr;
                    if (nn) in_names = nn;
                    if (nd) m->nodes = nd;
                    if (!nr || !nn || !nd) {
                        st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
                        break;
                    }
                }
                raw[n_raw].p = q;
                raw[n_raw].len = ql;
                memset(&m->nodes[n_raw], 0, sizeof m->nodes[n_raw]);
                in_names[n_raw] = NULL;
                n_raw++;
                m->n_nodes = n_raw;
                st = parse_node(&ps, q, ql, &m->nodes[n_raw - 1], &in_names[n_raw - 1]);
            } else if (pass == 3 && f == GP_OUTPUT) {
                st = parse_value_info(&ps, q, ql, &vi);
                if (!st) {
                    int id = map_find(&ps.names, m, vi.name);
                    if (id < 0) st = tdm_error(TDM_INVALID_MODEL, "graph output '%s' is not produced by any node", vi.name);
                    else {
                        tdm_value *v = &m->values[id];
                        if (v->is_output) st = tdm_error(TDM_UNSUPPORTED, "graph output '%s' is listed twice", vi.name);
                        v->is_output = 1;
                        if (v->kind == TDM_V_ACT) { /* keep the declared shape for `info` */
                            if (v->dtype == TDM_UNDEFINED) v->dtype = (tdm_dtype)vi.dtype;
                            if (v->rank < 0) vinfo_apply(v, &vi);
                        }
                        int *no = tdm_realloc(al, m->outputs, (size_t)(m->n_outputs + 1) * sizeof(int));
                        if (!no) st = tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
                        else {
                            m->outputs = no;
                            m->outputs[m->n_outputs++] = id;
                        }
                    }
                }
                vinfo_free(&ps, &vi);
            }
        }
        if (!st && rc < 0) st = bad("GraphProto");
    }
    tdm_free(al, spans);
    /* Resolve node inputs by name. */
    for (int k = 0; k < n_raw && !st; k++) {
        tdm_node *n = &m->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            const char *nm = in_names[k][i];
            n->in[i] = -1;
            if (!nm[0]) continue;
            int id = map_find(&ps.names, m, nm);
            if (id < 0) {
                st = tdm_error(TDM_INVALID_MODEL, "%s '%s': input '%s' is not produced by any node, initializer or "
                               "graph input", n->op_type, n->name, nm);
                break;
            }
            n->in[i] = id;
        }
    }
    if (!st && m->n_outputs == 0) st = tdm_error(TDM_INVALID_MODEL, "malformed model: the graph has no outputs");
    for (int k = 0; k < n_raw; k++) {
        for (int i = 0; in_names[k] && i < m->nodes[k].n_in; i++) tdm_free(al, in_names[k][i]);
        tdm_free(al, in_names[k]);
    }
    tdm_free(al, in_names);
    tdm_free(al, raw);
    tdm_free(al, ps.names.slot);
    return st;
}
