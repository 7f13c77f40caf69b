/* onnx_write.c - writes an ONNX ModelProto with the protobuf writer of pb.c (field numbers from onnx.proto, as in the
 * reader onnx.c), and lists the weights of a loaded model for callers that copy them (tandem zoo --weights). */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "tandem_onnx_write.h"
#include "pb.h"

/* ModelProto, GraphProto, NodeProto, AttributeProto, OperatorSetIdProto, ValueInfoProto, TypeProto fields. */
enum { MP_IR_VERSION = 1, MP_PRODUCER = 2, MP_PRODUCER_VERSION = 3, MP_GRAPH = 7, MP_OPSET = 8 };
enum { GP_NODE = 1, GP_NAME = 2, GP_INITIALIZER = 5, GP_INPUT = 11, GP_OUTPUT = 12 };
enum { NP_INPUT = 1, NP_OUTPUT = 2, NP_NAME = 3, NP_OP_TYPE = 4, NP_ATTRIBUTE = 5 };
enum { AP_NAME = 1, AP_F = 2, AP_I = 3, AP_INTS = 8, AP_TYPE = 20 };
enum { OS_DOMAIN = 1, OS_VERSION = 2 };
enum { VI_NAME = 1, VI_TYPE = 2, TY_TENSOR = 1, TT_ELEM_TYPE = 1, TT_SHAPE = 2, SH_DIM = 1, DM_VALUE = 1,
       DM_PARAM = 2 };

struct tdm_onnx_writer {
    char *graph_name;
    /* the graph's repeated fields, each already serialised with its tag, appended in call order */
    tdm_pb_buf nodes, inits, inputs, outputs;
    int failed;
};

tdm_onnx_writer *tdm_onnx_writer_new(const char *graph_name) {
    tdm_onnx_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    const char *g = graph_name ? graph_name : "graph";
    w->graph_name = malloc(strlen(g) + 1);
    if (!w->graph_name) {
        free(w);
        return NULL;
    }
    memcpy(w->graph_name, g, strlen(g) + 1);
    return w;
}

void tdm_onnx_writer_free(tdm_onnx_writer *w) {
    if (!w) return;
    free(w->graph_name);
    free(w->nodes.p);
    free(w->inits.p);
    free(w->inputs.p);
    free(w->outputs.p);
    free(w);
}

static void put_str(tdm_pb_buf *b, uint32_t field, const char *s) { tdm_pb_put_bytes_field(b, field, s, strlen(s)); }

/* Append the finished sub-message `sub` to b as field `field`, then release sub. */
static void put_sub(tdm_pb_buf *b, uint32_t field, tdm_pb_buf *sub) {
    if (sub->failed) b->failed = 1;
    else tdm_pb_put_bytes_field(b, field, sub->p, sub->len);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

void tdm_onnx_writer_value(tdm_onnx_writer *w, int is_output, const char *name, tdm_dtype dtype, int rank,
                           const int64_t *dims, const char *const *dim_param) {
    if (!w) return;
    tdm_pb_buf shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        tdm_pb_buf dim = {0};
        if (dims[i] >= 0) tdm_pb_put_varint_field(&dim, DM_VALUE, (uint64_t)dims[i]);
        else if (dim_param && dim_param[i] && dim_param[i][0]) put_str(&dim, DM_PARAM, dim_param[i]);
        put_sub(&shape, SH_DIM, &dim);
    }
    tdm_pb_put_varint_field(&tensor, TT_ELEM_TYPE, (uint64_t)dtype);
    put_sub(&tensor, TT_SHAPE, &shape);
    put_sub(&type, TY_TENSOR, &tensor);
    put_str(&vi, VI_NAME, name);
    put_sub(&vi, VI_TYPE, &type);
    put_sub(is_output ? &w->outputs : &w->inputs, is_output ? GP_OUTPUT : GP_INPUT, &vi);
}

void tdm_onnx_writer_initializer(tdm_onnx_writer *w, const char *name, tdm_dtype dtype, int rank, const int64_t *dims,
                                 const void *data) {
    if (!w) return;
    tdm_pb_buf t = {0};
    tdm_pb_put_tensor(&t, name, dtype, rank, dims, data);
    put_sub(&w->inits, GP_INITIALIZER, &t);
}

void tdm_onnx_writer_node(tdm_onnx_writer *w, const char *op_type, const char *name, int n_in,
                          const char *const *inputs, int n_out, const char *const *outputs, int n_attr,
                          const tdm_onnx_attr *attrs) {
    if (!w) return;
    tdm_pb_buf n = {0};
    for (int i = 0; i < n_in; i++) put_str(&n, NP_INPUT, inputs[i] ? inputs[i] : "");
    for (int i = 0; i < n_out; i++) put_str(&n, NP_OUTPUT, outputs[i]);
    if (name && name[0]) put_str(&n, NP_NAME, name);
    put_str(&n, NP_OP_TYPE, op_type);
    for (int k = 0; k < n_attr; k++) {
        const tdm_onnx_attr *a = &attrs[k];
        tdm_pb_buf ab = {0};
        put_str(&ab, AP_NAME, a->name);
        if (a->type == TDM_ONNX_ATTR_FLOAT) {
            uint32_t bits;
            memcpy(&bits, &a->f, 4);
            uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
            tdm_pb_put_tag(&ab, AP_F, PB_I32);
            tdm_pb_put_raw(&ab, le, 4);
        } else if (a->type == TDM_ONNX_ATTR_INT) {
            tdm_pb_put_varint_field(&ab, AP_I, (uint64_t)a->i);
        } else { /* INTS, written packed-free (one record per element) as proto2 does */
            for (int j = 0; j < a->n; j++) tdm_pb_put_varint_field(&ab, AP_INTS, (uint64_t)a->ints[j]);
        }
        tdm_pb_put_varint_field(&ab, AP_TYPE, (uint64_t)a->type);
        put_sub(&n, NP_ATTRIBUTE, &ab);
    }
    put_sub(&w->nodes, GP_NODE, &n);
}

tdm_status tdm_onnx_writer_finish(const tdm_onnx_writer *w, int64_t ir_version, int64_t opset, const char *producer,
                                  const char *producer_version, uint8_t **bytes_out, size_t *len_out) {
    if (!w || !bytes_out || !len_out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_onnx_writer_finish: NULL argument");
    *bytes_out = NULL;
    *len_out = 0;
    if (w->failed || w->nodes.failed || w->inits.failed || w->inputs.failed || w->outputs.failed)
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory building the ONNX model");
    tdm_pb_buf g = {0}, os = {0}, m = {0};
    tdm_pb_put_raw(&g, w->nodes.p, w->nodes.len);
    put_str(&g, GP_NAME, w->graph_name);
    tdm_pb_put_raw(&g, w->inits.p, w->inits.len);
    tdm_pb_put_raw(&g, w->inputs.p, w->inputs.len);
    tdm_pb_put_raw(&g, w->outputs.p, w->outputs.len);
    tdm_pb_put_varint_field(&m, MP_IR_VERSION, (uint64_t)ir_version);
    if (producer) put_str(&m, MP_PRODUCER, producer);
    if (producer_version) put_str(&m, MP_PRODUCER_VERSION, producer_version);
    put_sub(&m, MP_GRAPH, &g);
    put_str(&os, OS_DOMAIN, "");
    tdm_pb_put_varint_field(&os, OS_VERSION, (uint64_t)opset);
    put_sub(&m, MP_OPSET, &os);
    if (m.failed) {
        free(m.p);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory serialising the ONNX model");
    }
    *bytes_out = m.p;
    *len_out = m.len;
    return TDM_OK;
}

tdm_status tdm_onnx_writer_save(const tdm_onnx_writer *w, const char *path, int64_t ir_version, int64_t opset,
                                const char *producer, const char *producer_version) {
    if (!path) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_onnx_writer_save: NULL path");
    uint8_t *bytes;
    size_t len;
    tdm_status st = tdm_onnx_writer_finish(w, ir_version, opset, producer, producer_version, &bytes, &len);
    if (st != TDM_OK) return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(bytes);
        return tdm_error(TDM_IO_ERROR, "cannot create '%s'", path);
    }
    size_t n = fwrite(bytes, 1, len, f);
    int rc = fclose(f);
    free(bytes);
    if (n != len || rc != 0) {
        remove(path); /* no half-written model left behind */
        return tdm_error(TDM_IO_ERROR, "cannot write '%s'", path);
    }
    return TDM_OK;
}

/* ---- weights of a loaded model ---------------------------------------------------------------------------------- */

/* The weight-bearing nodes the reader hands over, by op id (the loader resolved every node's op). */
static int is_weight_op(const tdm_node *n) {
    if (!n->op) return 0;
    switch (n->op->id) {
    case TDM_OP_Conv: case TDM_OP_ConvTranspose: case TDM_OP_Gemm: case TDM_OP_MatMul: case TDM_OP_BatchNormalization:
        return 1;
    default: return 0;
    }
}

static void fill_const(const tdm_value *v, tdm_onnx_const *c) {
    c->name = v->name;
    c->dtype = v->dtype;
    c->rank = v->rank;
    for (int d = 0; d < v->rank && d < TDM_MAX_RANK; d++) c->dims[d] = v->dims[d];
    c->data = v->data;
}

tdm_status tdm_onnx_weights_load(const char *path, tdm_onnx_weights *out) {
    if (!path || !out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_onnx_weights_load: NULL argument");
    memset(out, 0, sizeof *out);
    tdm_load_options lo = {0};
    lo.no_optimize = 1;
    tdm_model *m;
    tdm_status st = tdm_model_load_file(path, &lo, &m);
    if (st != TDM_OK) return st;
    out->owner = m;
    int n_w = 0, n_c = 0;
    for (int i = 0; i < m->n_nodes; i++) n_w += is_weight_op(&m->nodes[i]);
    for (int v = 0; v < m->n_values; v++) n_c += m->values[v].kind == TDM_V_CONST && m->values[v].data;
    out->node = calloc((size_t)(n_w ? n_w : 1), sizeof *out->node);
    out->constant = calloc((size_t)(n_c ? n_c : 1), sizeof *out->constant);
    if (!out->node || !out->constant) {
        tdm_onnx_weights_free(out);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind == TDM_V_CONST && m->values[v].data)
            fill_const(&m->values[v], &out->constant[out->n_constant++]);
    for (int i = 0; i < m->n_nodes; i++) {
        const tdm_node *n = &m->nodes[i];
        if (!is_weight_op(n)) continue;
        tdm_onnx_weight_node *wn = &out->node[out->n_node++];
        wn->op_type = n->op_type;
        wn->name = n->name ? n->name : "";
        wn->n_in = n->n_in < 5 ? n->n_in : 5;
        wn->alpha = wn->beta = 1.0f;
        for (int k = 0; k < n->n_attr; k++) {
            const tdm_attr *at = &n->attr[k];
            if (!strcmp(at->name, "transA") && at->type == TDM_ATTR_INT) wn->trans_a = at->i != 0;
            else if (!strcmp(at->name, "transB") && at->type == TDM_ATTR_INT) wn->trans_b = at->i != 0;
            else if (!strcmp(at->name, "alpha") && at->type == TDM_ATTR_FLOAT) wn->alpha = at->f;
            else if (!strcmp(at->name, "beta") && at->type == TDM_ATTR_FLOAT) wn->beta = at->f;
        }
        for (int k = 0; k < wn->n_in; k++) {
            int id = n->in[k];
            if (id < 0 || m->values[id].kind != TDM_V_CONST || !m->values[id].data) continue;
            wn->has_in[k] = 1;
            fill_const(&m->values[id], &wn->in[k]);
        }
    }
    return TDM_OK;
}

void tdm_onnx_weights_free(tdm_onnx_weights *wts) {
    if (!wts) return;
    free(wts->node);
    free(wts->constant);
    tdm_model_free(wts->owner);
    memset(wts, 0, sizeof *wts);
}
