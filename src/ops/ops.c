/* ops.c - the one op table: lookup by ONNX op_type, shared by the loader, the tests and `tandem info`. */
#include "ops.h"

static const tdm_op_info op_table[] = {
#define OP(name, check, shape, run, flags, shape_inputs, hooks) {#name, TDM_OP_##name, check, shape, run, flags, shape_inputs, hooks},
#include "ops_all.def"
#undef OP
};

#define OP_COUNT ((int)(sizeof op_table / sizeof op_table[0]))

const tdm_op_info *tdm_op_find(const char *op_type) {
    /* Binary search would need a sorted table; 100-odd strcmp at load time is not worth the constraint. */
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op_table[i].name, op_type) == 0) return &op_table[i];
    return NULL;
}

const tdm_op_hooks *tdm_node_hooks(const tdm_node *n) {
    static const tdm_op_hooks none;
    return n->op && n->op->hooks ? n->op->hooks : &none;
}

int tdm_op_count(void) { return OP_COUNT; }

const tdm_op_info *tdm_op_at(int i) { return (i >= 0 && i < OP_COUNT) ? &op_table[i] : NULL; }

int tdm_num_supported_ops(void) { return OP_COUNT; }

const char *tdm_supported_op(int index) { return (index >= 0 && index < OP_COUNT) ? op_table[index].name : NULL; }
