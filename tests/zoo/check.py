#!/usr/bin/python3
"""check.py - the Python side of the zoo test (Debian's python3-onnx and numpy): validates a generated model with
onnx.checker, counts its parameters from the graph itself, and makes and compares test tensors.

  check.py model FILE [N SEED DIR]
                                onnx.checker (full check, with shape inference); prints
                                "learnable FOLDED_COUNT CLASSES IN_SHAPE" (and with N SEED DIR, writes inputs as
                                `inputs` does and prints their .pb files on a second line) where learnable counts float initializers
                                the PyTorch way (BatchNormalization's running mean and variance and scalar constants
                                excluded) and folded is what remains once every BatchNorm is folded into the
                                convolution before it (what `tandem info` reports)
  check.py input N SEED BIN PB  writes a seeded N x 3 x 32 x 32 standard-normal input as raw float32 and TensorProto
  check.py inputs MODEL N SEED DIR
                                seeded inputs for every graph input of MODEL at batch N: DIR/in_K.pb (TensorProto,
                                for tandem run) and DIR/in_K.bin (raw), listed in DIR/inputs.json (for ort_ref.mjs).
                                Float inputs are standard normal; an integer input that indexes a Gather table gets
                                ids uniform in [0, rows of the table) (token ids, token types); another integer
                                input is an attention mask: ones, then a random number of trailing zeros (padding)
  check.py outputs MODEL        the graph's output names, one per line
  check.py ops MODEL [check]    the op histogram, "Op=count" separated by spaces (after onnx.checker's full check
                                with `check`)
  check.py compare-runs MODEL REF TOL DIR...
                                every output of MODEL in each DIR (output_K.pb) against REF (REF<K>.bin, or
                                REF/output_K.pb when REF is a folder), as compare does; one line per DIR:
                                "DIR ok|FAIL name: figures; name: figures"
  check.py finite PB CLASSES N  the tensor is float32 [N, CLASSES] and finite
  check.py rename SRC DST        the same model with every initializer renamed (w0, w1, ...): --weights must then
                                match by node order
  check.py fold SRC DST          BatchNorm folded into the convolution before it (as torch.onnx.export does) and every
                                Gemm rewritten with transB 0 and a transposed weight; computes the same function
  check.py compare GOT REF TOL  GOT (TensorProto) matches REF (TensorProto, or raw float32 .bin of the same size):
                                max |got - ref| <= TOL * max |ref|; prints the figures
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def model(path, batch=None, seed=None, out_dir=None):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    producer = {n.output[0]: n for n in g.node}
    stats, bn_channels_folded_into_bias = set(), 0
    for n in g.node:
        if n.op_type != 'BatchNormalization':
            continue
        stats.update(n.input[3:5])
        conv = producer.get(n.input[0])
        has_bias = conv is not None and conv.op_type == 'Conv' and len(conv.input) > 2 and conv.input[2]
        channels = int(np.prod(inits[n.input[1]].dims))
        # folding turns scale, shift, mean, variance into the conv's bias: C new values unless the conv had one
        bn_channels_folded_into_bias += 0 if has_bias else channels
    learnable = 0
    folded = 0
    bn_params = set()
    for n in g.node:
        if n.op_type == 'BatchNormalization':
            bn_params.update(n.input[1:5])
    for t in g.initializer:
        if t.data_type != onnx.TensorProto.FLOAT or len(t.dims) == 0:
            continue
        k = int(np.prod(t.dims))
        if t.name not in stats:
            learnable += k
        if t.name not in bn_params:
            folded += k
    folded += bn_channels_folded_into_bias
    out = g.output[0].type.tensor_type.shape.dim
    ins = g.input[0].type.tensor_type.shape.dim
    in_shape = ','.join(d.dim_param or str(d.dim_value) for d in ins)
    print(learnable, folded, out[1].dim_value, in_shape)
    if out_dir is not None:
        write_inputs(m, batch, seed, out_dir)


def make_input(n, seed, bin_path, pb_path):
    x = np.random.default_rng(int(seed)).standard_normal((int(n), 3, 32, 32)).astype(np.float32)
    x.tofile(bin_path)
    with open(pb_path, 'wb') as f:
        f.write(numpy_helper.from_array(x, 'input').SerializeToString())


def make_inputs(model_path, n, seed, out_dir):
    write_inputs(onnx.load(model_path, load_external_data=False), n, seed, out_dir)


def write_inputs(m, n, seed, out_dir):
    import json
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    rng = np.random.default_rng(int(seed))
    listed = []
    for k, inp in enumerate(x for x in g.input if x.name not in inits):
        tt = inp.type.tensor_type
        dims = [int(n) if (d.dim_param or d.dim_value <= 0) and i == 0 else (d.dim_value or 1)
                for i, d in enumerate(tt.shape.dim)]
        if tt.elem_type == onnx.TensorProto.FLOAT:
            a = rng.standard_normal(dims).astype(np.float32)
            kind = 'float32'
        elif tt.elem_type == onnx.TensorProto.INT64:
            tables = [inits[nd.input[0]] for nd in g.node
                      if nd.op_type == 'Gather' and len(nd.input) > 1 and nd.input[1] == inp.name
                      and nd.input[0] in inits]
            if tables:
                a = rng.integers(0, int(tables[0].dims[0]), size=dims, dtype=np.int64)
            else:  # an attention mask: ones, then padding zeros at the end of each sequence
                a = np.ones(dims, dtype=np.int64)
                for row in a.reshape(-1, dims[-1]):
                    row[dims[-1] - int(rng.integers(0, dims[-1] // 2)):] = 0
            kind = 'int64'
        else:
            sys.exit(f'{inp.name}: element type {tt.elem_type} is not generated here')
        a.tofile(f'{out_dir}/in_{k}.bin')
        with open(f'{out_dir}/in_{k}.pb', 'wb') as f:
            f.write(numpy_helper.from_array(a, inp.name).SerializeToString())
        listed.append({'name': inp.name, 'type': kind, 'dims': dims, 'file': f'{out_dir}/in_{k}.bin'})
    with open(f'{out_dir}/inputs.json', 'w') as f:
        json.dump(listed, f)
    print(' '.join(f'{out_dir}/in_{k}.pb' for k in range(len(listed))))


def outputs(model_path):
    for o in onnx.load(model_path, load_external_data=False).graph.output:
        print(o.name)


def compare_runs(model_path, ref, tol, *dirs):
    import os
    names = [o.name for o in onnx.load(model_path, load_external_data=False).graph.output]
    refs = [load(os.path.join(ref, f'output_{k}.pb') if os.path.isdir(ref) else f'{ref}{k}.bin')
            for k in range(len(names))]
    for d in dirs:
        status, parts = 'ok', []
        for k, name in enumerate(names):
            try:
                got = load(os.path.join(d, f'output_{k}.pb')).reshape(-1)
            except FileNotFoundError:
                status = 'FAIL'
                parts.append(f'{name}: no output_{k}.pb')
                continue
            r = refs[k].reshape(-1)
            if got.size != r.size:
                status = 'FAIL'
                parts.append(f'{name}: {got.size} values against {r.size}')
                continue
            err, scale = float(np.max(np.abs(got - r))), float(np.max(np.abs(r)))
            rel = err / scale if scale > 0 else err
            if not rel <= float(tol):
                status = 'FAIL'
            parts.append(f'{name}: max |ref| {scale:.3g}, relative {rel:.3g}' + ('' if rel <= float(tol) else f' > {tol}'))
        print(d, status, '; '.join(parts))


def ops(model_path, check=''):
    from collections import Counter
    m = onnx.load(model_path, load_external_data=False)
    if check == 'check':
        onnx.checker.check_model(m, full_check=True)
    hist = Counter(n.op_type for n in m.graph.node)
    print(' '.join(f'{k}={v}' for k, v in sorted(hist.items())))


def rename(src, dst):
    m = onnx.load(src)
    g = m.graph
    new = {t.name: f'w{k}' for k, t in enumerate(g.initializer)}
    for t in g.initializer:
        t.name = new[t.name]
    for n in g.node:
        for i, name in enumerate(n.input):
            if name in new:
                n.input[i] = new[name]
    onnx.save(m, dst)


def fold(src, dst):
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    producer = {n.output[0]: n for n in g.node}
    keep, rename_out = [], {}
    for n in g.node:
        if n.op_type == 'BatchNormalization':
            conv = producer[n.input[0]]
            gamma, beta, mean, var = (inits[x] for x in n.input[1:5])
            eps = next((a.f for a in n.attribute if a.name == 'epsilon'), 1e-5)
            scale = gamma / np.sqrt(var + eps)
            w = inits[conv.input[1]]
            b = inits[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32)
            inits[conv.input[1]] = (w * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
            bias_name = conv.input[1] + '.folded_bias'
            inits[bias_name] = ((b - mean) * scale + beta).astype(np.float32)
            if len(conv.input) > 2:
                conv.input[2] = bias_name
            else:
                conv.input.append(bias_name)
            rename_out[n.output[0]] = n.input[0]
            continue
        if n.op_type == 'Gemm':
            inits[n.input[1]] = np.ascontiguousarray(inits[n.input[1]].T)
            for a in n.attribute:
                if a.name == 'transB':
                    a.i = 0
        keep.append(n)
    for n in keep:
        for i, name in enumerate(n.input):
            while name in rename_out:
                name = rename_out[name]
            n.input[i] = name
    used = {x for n in keep for x in n.input}
    del g.node[:]
    g.node.extend(keep)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items() if k in used)
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def load(path):
    if path.endswith('.bin'):
        return np.fromfile(path, dtype=np.float32)
    return numpy_helper.to_array(onnx.load_tensor(path))


def finite(path, classes, n):
    a = load(path)
    if a.dtype != np.float32 or a.shape != (int(n), int(classes)):
        sys.exit(f'{path}: {a.dtype} {a.shape}, expected float32 ({n}, {classes})')
    if not np.all(np.isfinite(a)):
        sys.exit(f'{path}: {np.count_nonzero(~np.isfinite(a))} values are not finite')
    print(f'shape {a.shape}, std {a.std():.4g}')


def compare(got_path, ref_path, tol):
    got, ref = load(got_path), load(ref_path)
    if got.size != ref.size:
        sys.exit(f'{got.size} values against {ref.size}')
    got, ref = got.reshape(-1), ref.reshape(-1)
    err, scale = float(np.max(np.abs(got - ref))), float(np.max(np.abs(ref)))
    print(f'max abs diff {err:.3g}, max |ref| {scale:.3g}, relative {err / scale:.3g}')
    if not (err <= float(tol) * scale):
        sys.exit(f'relative difference {err / scale:.3g} exceeds {tol}')


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    commands = {'model': model, 'input': make_input, 'finite': finite, 'compare': compare, 'rename': rename,
                'fold': fold, 'inputs': make_inputs, 'outputs': outputs, 'ops': ops,
                'compare-runs': compare_runs}
    commands[cmd](*args)
