/* model.c - the public model API: loading (parse, graph passes, the load-time settling plan), freeing, and what a
 * loaded model says about itself (inputs, outputs, opset, the nodes as written). */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "pb.h"

static void model_free_values(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    for (int v = 0; v < m->n_values; v++) {
        tdm_value *x = &m->values[v];
        tdm_free(a, x->name);
        for (int i = 0; i < TDM_MAX_RANK; i++) tdm_free(a, x->dim_param[i]);
        if (x->kind == TDM_V_CONST) tdm_free_aligned(a, x->data); /* each constant owns its block */
    }
    tdm_free(a, m->values);
}

void tdm_model_free(tdm_model *m) {
    if (!m) return;
    const tdm_alloc *a = &m->alloc;
    for (int i = 0; i < m->n_nodes; i++) tdm_node_release(a, &m->nodes[i]);
    tdm_free(a, m->nodes);
    model_free_values(m);
    for (int i = 0; i < m->n_src; i++) {
        tdm_free(a, m->src_op[i]);
        tdm_free(a, m->src_name[i]);
    }
    tdm_free(a, m->src_op);
    tdm_free(a, m->src_name);
    tdm_free(a, m->inputs);
    tdm_free(a, m->input_decides_shape);
    tdm_free(a, m->input_shape_node);
    tdm_free(a, m->input_index_hi);
    tdm_free(a, m->outputs);
    tdm_free(a, m->producer);
    tdm_alloc copy = *a;
    tdm_free(&copy, m);
}

/* Remember the nodes as written, for `tandem info`, before the passes change them. */
static tdm_status record_source_nodes(tdm_model *m) {
    const tdm_alloc *a = &m->alloc;
    if (!m->n_nodes) return TDM_OK;
    m->src_op = tdm_calloc(a, (size_t)m->n_nodes, sizeof(char *));
    m->src_name = tdm_calloc(a, (size_t)m->n_nodes, sizeof(char *));
    if (!m->src_op || !m->src_name) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < m->n_nodes; i++) {
        m->n_src = i + 1;
        m->src_op[i] = tdm_strdup(a, m->nodes[i].op_type, strlen(m->nodes[i].op_type));
        m->src_name[i] = tdm_strdup(a, m->nodes[i].name, strlen(m->nodes[i].name));
        if (!m->src_op[i] || !m->src_name[i]) return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    return TDM_OK;
}



/* src: the mapped file data lies in, if it is one (see tdm_onnx_parse). done(done_user), when set, is told as soon
 * as the bytes are parsed (the model keeps no reference to them). */
static tdm_status load_common(const void *data, size_t size, const tdm_file *src, const tdm_load_options *opts,
                              const char *base_dir, void (*done)(void *), void *done_user, tdm_model **model_out) {
    tdm_alloc al = {opts ? opts->realloc_fn : NULL, opts ? opts->realloc_user : NULL};
    tdm_model *m = tdm_calloc(&al, 1, sizeof *m);
    if (!m) {
        if (done) done(done_user);
        return tdm_error(TDM_OUT_OF_MEMORY, "out of memory");
    }
    m->alloc = al;
    tdm_status st = tdm_onnx_parse(m, data, size, base_dir, src);
    if (done) done(done_user);
    if (!st) st = record_source_nodes(m);
    m->optimize = !(opts && opts->no_optimize);
    if (!st) st = tdm_graph_prepare(m, m->optimize);
    if (!st) st = tdm_plan_settle(m);
    if (!st) {
        for (int i = 0; i < m->n_inputs && !st; i++) {
            tdm_value *v = &m->values[m->inputs[i]];
            if (tdm_dtype_size(v->dtype) == 0)
                st = tdm_error(TDM_UNSUPPORTED, "graph input '%s' has data type %s, which is not supported", v->name,
                               tdm_dtype_name(v->dtype));
        }
    }
    if (st) {
        tdm_model_free(m);
        return st;
    }
    *model_out = m;
    return TDM_OK;
}

tdm_status tdm_model_load_memory(const void *data, size_t size, const tdm_load_options *opts, tdm_model **model_out) {
    if (!model_out) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_memory: model_out is NULL");
    *model_out = NULL;
    if (!data && size) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_memory: data is NULL");
    return load_common(data, size, NULL, opts, opts ? opts->base_dir : NULL, opts ? opts->bytes_done : NULL,
                       opts ? opts->bytes_done_user : NULL, model_out);
}

static void close_file(void *f) { tdm_file_close(f); }

tdm_status tdm_model_load_file(const char *path, const tdm_load_options *opts, tdm_model **model_out) {
    if (!model_out || !path) return tdm_error(TDM_INVALID_ARGUMENT, "tdm_model_load_file: NULL argument");
    *model_out = NULL;
    tdm_file file;
    tdm_status st = tdm_file_open(path, &file);
    if (st) return st;
    char dir[4096];
    const char *base = opts && opts->base_dir ? opts->base_dir : NULL;
    if (!base) {
        const char *slash = strrchr(path, '/');
        if (slash && (size_t)(slash - path) < sizeof dir) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = 0;
            if (!dir[0]) strcpy(dir, "/");
        } else
            strcpy(dir, ".");
        base = dir;
    }
    /* the file's bytes go as soon as they are parsed */
    return load_common(file.data, file.size, &file, opts, base, close_file, &file, model_out);
}

int tdm_model_num_inputs(const tdm_model *m) { return m ? m->n_inputs : 0; }
int tdm_model_num_outputs(const tdm_model *m) { return m ? m->n_outputs : 0; }

void tdm_fill_info(const tdm_value *v, tdm_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    for (int i = 0; i < v->rank && i < TDM_MAX_RANK; i++) {
        info->dims[i] = v->dims[i];
        info->dim_param[i] = v->dim_param[i] ? v->dim_param[i] : "";
    }
}

tdm_status tdm_model_input_info(const tdm_model *m, int index, tdm_tensor_info *info_out) {
    if (!m || !info_out || index < 0 || index >= m->n_inputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "input index %d out of range", index);
    tdm_fill_info(&m->values[m->inputs[index]], info_out);
    return TDM_OK;
}

tdm_status tdm_model_output_info(const tdm_model *m, int index, tdm_tensor_info *info_out) {
    if (!m || !info_out || index < 0 || index >= m->n_outputs)
        return tdm_error(TDM_INVALID_ARGUMENT, "output index %d out of range", index);
    tdm_fill_info(&m->values[m->outputs[index]], info_out);
    return TDM_OK;
}

int64_t tdm_model_opset(const tdm_model *m) { return m ? m->opset : 0; }
int64_t tdm_model_ir_version(const tdm_model *m) { return m ? m->ir_version : 0; }
const char *tdm_model_producer(const tdm_model *m) { return m && m->producer ? m->producer : ""; }
int tdm_model_num_source_nodes(const tdm_model *m) { return m ? m->n_src : 0; }

tdm_status tdm_model_source_node(const tdm_model *m, int index, const char **op_type_out, const char **name_out) {
    if (!m || index < 0 || index >= m->n_src) return tdm_error(TDM_INVALID_ARGUMENT, "node index %d out of range", index);
    if (op_type_out) *op_type_out = m->src_op[index];
    if (name_out) *name_out = m->src_name[index];
    return TDM_OK;
}

int tdm_model_input_decides_shape(const tdm_model *m, int index) {
    return m && index >= 0 && index < m->n_inputs ? m->input_decides_shape[index] : 0;
}

int64_t tdm_model_input_index_limit(const tdm_model *m, int index) {
    return m && index >= 0 && index < m->n_inputs ? m->input_index_hi[index] : 0;
}
