/* ops.c - the one op table: lookup by ONNX op_type, shared by the loader, the tests and `tandem info`. */
#include "ops.h"

static const tdm_op_info op_table[] = {
#define OP(name, check, shape, run, flags) {#name, check, shape, run, flags},
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

int tdm_op_count(void) { return OP_COUNT; }

const tdm_op_info *tdm_op_at(int i) { return (i >= 0 && i < OP_COUNT) ? &op_table[i] : NULL; }

int tdm_num_supported_ops(void) { return OP_COUNT; }

const char *tdm_supported_op(int index) { return (index >= 0 && index < OP_COUNT) ? op_table[index].name : NULL; }
