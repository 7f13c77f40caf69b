#!/usr/bin/env node
// profile-nodes.mjs - where the time goes, node by node, in tandem and in onnxruntime-node on the same model: tandem's
// `bench --profile` (every node's shortest single run, over several processes) next to onnxruntime's own profiler
// (each node's shortest kernel time after warm-up), both sorted, with totals per op type. Minimums, on both sides:
// on a shared machine they are what a node takes undisturbed. The two engines fuse and name nodes
// differently (onnxruntime names a fused node after its output), so the tool lists both sides rather than pairing
// them. Per-node times carry each profiler's own overhead: compare shapes and totals, and time end to end with
// bench/compare-native.
//
// usage: node bench/profile-nodes.mjs MODEL [--threads N] [--runs R] [--rounds K] [--top T]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { fillUniform, intOpt, median, parseArgs } from './lib.mjs';

const USAGE = 'usage: node bench/profile-nodes.mjs MODEL [--threads N] [--runs R] [--rounds K] [--top T]\n' +
  '  --threads N  intra-op threads on both sides (default 1)     --runs R    timed runs per process (default 300)\n' +
  '  --rounds K   tandem processes; each node keeps its minimum (default 3)\n' +
  '  --top T      nodes listed per side (default 25; the totals cover every node)\n';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TANDEM = path.join(ROOT, 'build', 'tandem');
const WARMUP = 20;

function die(msg, code = 2) { process.stderr.write(`profile-nodes: ${msg}\n`); process.exit(code); }

/* tandem: `bench --profile` with TANDEM_PROFILE_ALL=1 prints one line per executed node:
 *   ms  share %  MMAC  GMAC/s  min-ms  op  node */
function tandemNodes(model, threads, runs, rounds) {
  const best = new Map();
  for (let r = 0; r < rounds; r++) {
    const p = spawnSync(TANDEM, ['bench', model, '--threads', String(threads), '--runs', String(runs), '--profile'],
      { env: { ...process.env, TANDEM_PROFILE_ALL: '1' }, encoding: 'utf8' });
    if (p.status !== 0) die(`tandem bench failed: ${(p.stderr || '').trim()}`, 1);
    let seen = false;
    for (const line of p.stdout.split('\n')) {
      if (line.startsWith('profile')) { seen = true; continue; }
      const m = seen && /^\s*[\d.]+\s+[\d.]+ %\s+([\d.]+)\s+[\d.]+\s+([\d.]+)\s+(\S+)\s+(.+)$/.exec(line);
      if (!m) continue;
      const ms = Number(m[2]), name = m[4].trim(), prev = best.get(name);
      if (!prev || ms < prev.ms) best.set(name, { ms, op: m[3], mmac: Number(m[1]) });
    }
    if (!seen) die('tandem bench printed no profile', 1);
  }
  return [...best].map(([name, v]) => ({ name, ...v }));
}

/* onnxruntime: its profiler's JSON trace, one "<node>_kernel_time" event per node and run. */
async function ortNodes(model, threads, runs) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tdm-ortprof-'));
  try {
    const s = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
    });
    const meta = s.inputMetadata[0];
    const dims = meta.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : 1));
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    fillUniform(data, 1);
    const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', data, dims) };
    for (let i = 0; i < WARMUP + runs; i++) await s.run(feeds);
    s.endProfiling();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) die('onnxruntime wrote no profile', 1);
    const per = new Map();
    for (const e of JSON.parse(readFileSync(path.join(dir, file), 'utf8'))) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const name = e.name.slice(0, -'_kernel_time'.length);
      if (!per.has(name)) per.set(name, { op: (e.args && e.args.op_name) || '?', us: [] });
      per.get(name).us.push(e.dur);
    }
    return [...per].map(([name, v]) => ({ name, op: v.op, ms: Math.min(...v.us.slice(WARMUP)) / 1000 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function list(title, nodes, top) {
  const total = nodes.reduce((a, n) => a + n.ms, 0);
  console.log(`\n== ${title}: ${nodes.length} nodes, ${(total * 1000).toFixed(0)} us in all`);
  console.log('      us   share  op                    node');
  for (const n of [...nodes].sort((a, b) => b.ms - a.ms).slice(0, top))
    console.log(`${(n.ms * 1000).toFixed(1).padStart(8)}  ${(100 * n.ms / total).toFixed(1).padStart(5)} %  ${n.op.padEnd(20)}  ${n.name}`);
}

function byOp(t, o) {
  const sum = (nodes) => nodes.reduce((m, n) => m.set(n.op, (m.get(n.op) || 0) + n.ms), new Map());
  const a = sum(t), b = sum(o);
  console.log('\n== per op type (us; each engine\'s own op names: tandem shows its fusions, e.g. Conv+Add+Relu)');
  const rows = [...a].sort((x, y) => y[1] - x[1]).map(([op, ms]) => [op, ms, '']);
  const orows = [...b].sort((x, y) => y[1] - x[1]);
  for (let i = 0; i < Math.max(rows.length, orows.length); i++) {
    const l = rows[i] ? `${rows[i][0].padEnd(24)}${(rows[i][1] * 1000).toFixed(0).padStart(7)}` : ''.padEnd(31);
    const r = orows[i] ? `${orows[i][0].padEnd(24)}${(orows[i][1] * 1000).toFixed(0).padStart(7)}` : '';
    console.log(`${l}    ${r}`);
  }
}

async function main(argv) {
  let a, threads, runs, rounds, top;
  try {
    a = parseArgs(argv, ['help']);
    if (a.opts.help) { process.stdout.write(USAGE); return; }
    if (a.pos.length !== 1) throw new Error('one MODEL expected');
    threads = intOpt(a.opts, 'threads', 1, 1, 256);
    runs = intOpt(a.opts, 'runs', 300, 1, 1e6);
    rounds = intOpt(a.opts, 'rounds', 3, 1, 100);
    top = intOpt(a.opts, 'top', 25, 1, 1e6);
  } catch (e) {
    die(`${e.message}\n${USAGE}`);
  }
  const model = a.pos[0];
  if (!existsSync(model)) die(`cannot open model '${model}'`, 1);
  if (!existsSync(TANDEM)) die('build/tandem is missing: run make first', 1);
  const t = tandemNodes(model, threads, runs, rounds);
  const o = await ortNodes(model, threads, runs);
  console.log(`profile-nodes: ${model}, threads ${threads}, ${runs} runs; tandem: each node's shortest run over ${rounds} ` +
    `process(es) of \`tandem bench --profile\`; onnxruntime-node ${ort.env.versions.common}: each node's shortest ` +
    `kernel time in its profiler after ${WARMUP} warm-up runs`);
  list('tandem', t, top);
  list('onnxruntime', o, top);
  byOp(t, o);
}

main(process.argv.slice(2)).catch((e) => die(e.stack || String(e), 1));
