#!/usr/bin/env node
// text_golden.mjs - golden data for a text model, from onnxruntime-node: writes DIR/test_data_set_K/input_J.pb and
// output_J.pb (ONNX TensorProto, the layout of ../shared/models and of test_models.c) for SETS sets of seeded token
// ids: ids uniform over their table (--range NAME=LO:HI, e.g. input_ids=0:30522), attention masks with a random
// amount of padding at the end, other integer inputs uniform in [0, 2). Used by tests/wasm/run.sh to check the
// WebAssembly build on a transformer, and by tests/transformers.sh.
//
// usage: node tests/text_golden.mjs MODEL DIR [--sets N] [--seed S] [--batch B] [--range NAME=LO:HI,...]
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

function varint(v) {
  const b = [];
  v = BigInt.asUintN(64, BigInt(v));
  do { let x = Number(v & 127n); v >>= 7n; if (v) x |= 128; b.push(x); } while (v);
  return Buffer.from(b);
}
const field = (tag, wt) => varint((tag << 3) | wt);
const ONNX_TYPE = { float32: 1, int32: 6, int64: 7 };

/* TensorProto: dims, data_type, name, raw_data */
function tensorProto(name, type, dims, data) {
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength), nb = Buffer.from(name);
  return Buffer.concat([...dims.flatMap((d) => [field(1, 0), varint(d)]), field(2, 0), varint(ONNX_TYPE[type]),
    field(8, 2), varint(nb.length), nb, field(9, 2), varint(raw.length), raw]);
}

async function main(argv) {
  const opts = { sets: 1, seed: 1, batch: 1, range: '' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(sets|seed|batch|range)$/.exec(argv[i]);
    if (m && i + 1 < argv.length) opts[m[1]] = argv[++i];
    else pos.push(argv[i]);
  }
  if (pos.length !== 2) throw new Error('usage: text_golden.mjs MODEL DIR [--sets N] [--seed S] [--batch B] [--range NAME=LO:HI,...]');
  const ranges = Object.fromEntries(String(opts.range).split(',').filter(Boolean).map((p) => {
    const [n, r] = p.split('=');
    return [n, r.split(':').map(Number)];
  }));
  const session = await ort.InferenceSession.create(pos[0], { intraOpNumThreads: 1 });
  let s = Number(opts.seed) >>> 0;
  const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  for (let k = 0; k < Number(opts.sets); k++) {
    const dir = path.join(pos[1], `test_data_set_${k}`);
    fs.mkdirSync(dir, { recursive: true });
    const feeds = {};
    session.inputMetadata.forEach((meta, j) => {
      const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? Number(opts.batch) : 1));
      const n = dims.reduce((a, b) => a * b, 1), seq = dims[dims.length - 1];
      let data;
      if (meta.type === 'float32') data = Float32Array.from({ length: n }, () => next());
      else if (meta.type === 'int64' || meta.type === 'int32') {
        const T = meta.type === 'int64' ? BigInt64Array : Int32Array, cast = meta.type === 'int64' ? BigInt : Number;
        data = new T(n);
        const isMask = /mask/.test(meta.name), [lo, hi] = ranges[meta.name] || [0, 2];
        for (let r = 0; r < n / seq; r++) {
          const len = 1 + Math.floor(next() * seq);
          for (let i = 0; i < seq; i++)
            data[r * seq + i] = cast(isMask ? (i < len ? 1 : 0) : lo + Math.floor(next() * (hi - lo)));
        }
      } else throw new Error(`input '${meta.name}': type ${meta.type} is not handled`);
      feeds[meta.name] = new ort.Tensor(meta.type, data, dims);
      fs.writeFileSync(path.join(dir, `input_${j}.pb`), tensorProto(meta.name, meta.type, dims, data));
    });
    const out = await session.run(feeds);
    session.outputNames.forEach((name, j) => {
      const t = out[name];
      fs.writeFileSync(path.join(dir, `output_${j}.pb`), tensorProto(name, t.type, t.dims, t.data));
    });
  }
}

main(process.argv.slice(2)).catch((e) => { process.stderr.write(`text_golden: ${e.message}\n`); process.exitCode = 1; });
