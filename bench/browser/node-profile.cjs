// node-profile.cjs - a quick look at the wasm build's per-op time under Node (the same V8 family as Chromium, but
// not the same version: use bench/compare-browser for figures). Builds nothing: run `make build/wasm/test/tandem-node.js`.
//   node --no-experimental-fetch bench/browser/node-profile.cjs MODEL.onnx [runs]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

async function main() {
  const [file, runsArg] = process.argv.slice(2);
  if (!file) { console.error('usage: node-profile.cjs MODEL.onnx [runs]'); process.exit(2); }
  const runs = Number(runsArg || 200);
  const factory = require(process.env.TDM_NODE_MODULE || path.resolve(__dirname, '../../build/wasm/test/tandem-node.js'));
  const mod = await factory();
  const bytes = fs.readFileSync(file);
  const p = mod._malloc(bytes.length);
  mod.HEAPU8.set(bytes, p);
  const h = mod._tdmw_open(p, bytes.length, 1, 1);
  mod._free(p);
  if (!h) throw new Error(mod.UTF8ToString(mod._tdmw_last_error()));
  const times = mod._malloc(8 * runs), first = mod._malloc(8);
  if (mod._tdmw_bench(h, runs, 50, times, first)) throw new Error(mod.UTF8ToString(mod._tdmw_last_error()));
  const t = Array.from(new Float64Array(mod.HEAPU8.buffer, times, runs)).sort((a, b) => a - b);
  console.log(`kernels ${mod.UTF8ToString(mod._tdmw_kernel_isa())}: p50 ${t[runs >> 1].toFixed(3)} ms, min ${t[0].toFixed(3)} ms over ${runs} runs`);
  const n = mod._tdmw_num_exec_nodes(h), rows = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ms = mod._tdmw_exec_node_ms(h, i) / (runs + 51);
    total += ms;
    rows.push({ op: mod.UTF8ToString(mod._tdmw_exec_node_op(h, i)), name: mod.UTF8ToString(mod._tdmw_exec_node_name(h, i)), ms });
  }
  const byOp = {};
  for (const r of rows) byOp[r.op] = (byOp[r.op] || 0) + r.ms;
  for (const [op, ms] of Object.entries(byOp).sort((a, b) => b[1] - a[1])) console.log(`${op.padEnd(24)} ${ms.toFixed(3)} ms  ${(100 * ms / total).toFixed(1)}%`);
  if (!process.env.ALL) rows.sort((a, b) => b.ms - a.ms);
  for (const r of process.env.ALL ? rows : rows.slice(0, 8)) console.log(`  ${r.op.padEnd(22)} ${r.name.padEnd(30)} ${r.ms.toFixed(4)} ms`);
}
main().catch((e) => { console.error(e); process.exit(1); });
