/* ops.h - prototypes of every op function, generated from the per-family .def tables.
 * Each family file (eltwise.c, conv.c, ...) lists its ops in its own <family>.def with rows
 *     OP(OnnxName, check_fn, shape_fn, run_fn, flags)
 * and ops.c collects all rows into the one lookup table. */
#ifndef TDM_OPS_H
#define TDM_OPS_H

#include "../engine/internal.h"

#define OP(name, check, shape, run, flags)          \
    tdm_status check(tdm_ctx *c, tdm_node *n);      \
    tdm_status shape(tdm_ctx *c, tdm_node *n);      \
    tdm_status run(tdm_ctx *c, const tdm_node *n);
#include "ops_all.def"
#undef OP

#endif
