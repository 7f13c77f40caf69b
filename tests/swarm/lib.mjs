// lib.mjs - what the swarm's test drivers share (bad_input.mjs, crash.mjs, scaleout.mjs, e2e.mjs) and
// bench/compare-swarm uses too: starting `tandem serve` / `tandem worker` and reading their output, the job API with
// the admin token, the results CSV, TensorProto files for `tandem run`, and the native engine's top-1 of CIFAR
// records (the reference every swarm result is compared with), made with the same float32 normalisation as the
// workers (src/server/swarm_run.c, web/swarm-worker.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from '../e2e/lib.mjs';

export const RECORD = 3073;

export { checker } from '../e2e/lib.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `--name value` options over defaults (numbers stay numbers); an unknown option ends the process with a usage error.
export function options(defaults, tool) {
  const o = { ...defaults };
  for (let i = 2; i < process.argv.length; i += 2) {
    const k = process.argv[i].replace(/^--/, ''), v = process.argv[i + 1];
    if (!(k in o) || v === undefined) { console.error(`${tool}: unknown option or missing value: ${process.argv[i]}`); process.exit(2); }
    o[k] = typeof defaults[k] === 'number' ? Number(v) : v;
  }
  return o;
}

// Run a test's main(), count a throw as a failure, always clean up, then print the summary and set the exit code.
export async function runTest(C, main, cleanup) {
  try {
    await main();
  } catch (e) {
    C.check('the test ran to its end', false, e.stack || String(e));
  } finally {
    await cleanup();
    console.log(C.summary());
    process.exitCode = C.failed ? 1 : 0;
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// A model folder under dir with cifar10_resnet20 and n CIFAR records for a job: the shared trained model and test
// images when `shared` has them, else the zoo's architecture (seeded weights) and seeded random bytes.
// -> {models, file, records, stats: {mean, std}, what}
export function jobInputs(tandem, dir, shared, n, seed = 1) {
  const models = path.join(dir, 'models'), m = path.join(models, 'cifar10_resnet20');
  mkdirSync(m, { recursive: true });
  const src = path.join(shared, 'models', 'cifar10_resnet20'), data = path.join(shared, 'data', 'cifar10_test_jpeg75.bin');
  if (existsSync(path.join(src, 'model.onnx')) && existsSync(data)) {
    symlinkSync(path.resolve(src, 'model.onnx'), path.join(m, 'model.onnx'));
    symlinkSync(path.resolve(src, 'info.json'), path.join(m, 'info.json'));
    return { models, file: path.join(m, 'model.onnx'), records: readRecords(data, n), stats: modelStats(src),
      what: `${n} images of ${data}` };
  }
  const z = spawnSync(tandem, ['zoo', 'cifar10_resnet20', '-o', path.join(m, 'model.onnx')], { encoding: 'utf8' });
  if (z.status !== 0) throw new Error(`tandem zoo: ${z.stderr}`);
  const records = Buffer.alloc(n * RECORD);
  let s = seed;
  for (let i = 0; i < records.length; i++) { s = (s * 1103515245 + 12345) >>> 0; records[i] = s >>> 24; }
  return { models, file: path.join(m, 'model.onnx'), records, stats: { mean: [0, 0, 0], std: [1, 1, 1] },
    what: `${n} seeded random images (${shared} is absent) on the zoo's cifar10_resnet20` };
}

// Spawn `tandem serve ARGS` and resolve {child, port, url, log()} once it says where it listens.
export async function startServe(tandem, args, { timeoutMs = 30000 } = {}) {
  const { child, match } = await startServer(tandem, ['serve', ...args], /listening on http:\/\/[^:]+:(\d+)\//,
    { timeoutMs });
  const port = Number(match[1]);
  return { child, port, url: `http://127.0.0.1:${port}`, log: () => child.log };
}

// Stop a child and wait for it: SIGTERM (drain) or SIGKILL.
export function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

// Start `tandem worker --server URL ARGS`: {child, done}, done resolving {code, summary (its JSON line), stderr}.
export function startWorker(tandem, url, args = []) {
  const child = spawn(tandem, ['worker', '--server', url, '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      let summary = null;
      try { summary = JSON.parse(out.trim().split('\n').pop()); } catch { summary = null; }
      resolve({ code: code ?? sig, summary, stderr: err });
    });
  });
  return { child, done };
}

// The job API. auth: the admin token (null: no header).
export async function api(base, method, pathQuery, { token = null, body = null, type = null } = {}) {
  const headers = {};
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (type) headers['Content-Type'] = type;
  const r = await fetch(base + pathQuery, { method, headers, body });
  const buf = Buffer.from(await r.arrayBuffer());
  let json = null;
  try { json = JSON.parse(buf.toString('utf8')); } catch { json = null; }
  return { status: r.status, headers: r.headers, buf, text: buf.toString('utf8'), json };
}

// Poll GET /v2/jobs/ID until its state is done or failed (or timeoutMs passes); onPoll(job) sees each answer.
export async function waitJob(base, token, id, { timeoutMs = 300000, onPoll = null, everyMs = 200 } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let r = null;
    try { r = await api(base, 'GET', `/v2/jobs/${id}`, { token }); } catch { r = null; }
    if (r && r.json && onPoll) await onPoll(r.json);
    if (r && r.json && (r.json.state === 'done' || r.json.state === 'failed')) return r.json;
    if (Date.now() > end) throw new Error(`job ${id} did not finish within ${timeoutMs / 1000} s (last: ${r ? r.text : 'no answer'})`);
    await sleep(everyMs);
  }
}

// The results CSV as rows {item, top1, score, worker}; throws on a bad header.
export function parseCsv(text) {
  const lines = text.trimEnd().split('\n');
  if (lines[0] !== 'item,top1,score,worker') throw new Error(`bad CSV header '${lines[0]}'`);
  return lines.slice(1).map((l) => {
    const [item, top1, score, worker] = l.split(',');
    return { item: Number(item), top1: Number(top1), score: Number(score), worker };
  });
}

// Every item exactly once, in order: null when so, else a sentence.
export function exactlyOnce(rows, n) {
  if (rows.length !== n) return `${rows.length} rows for ${n} items`;
  const seen = new Uint8Array(n);
  for (let i = 0; i < rows.length; i++) {
    const it = rows[i].item;
    if (!Number.isInteger(it) || it < 0 || it >= n) return `row ${i}: item ${rows[i].item} out of range`;
    if (seen[it]) return `item ${it} appears twice`;
    seen[it] = 1;
    if (it !== i) return `row ${i} holds item ${it}: not in item order`;
  }
  return null;
}

// ---- TensorProto (the ONNX test-data layout) -----------------------------------------------------------------
function varint(v) {
  const out = [];
  let x = BigInt(v);
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}

// A TensorProto: dims (field 1), data_type (2; FLOAT by default), raw_data (9) from a typed array.
export function tensorProto(dims, data, type = 1) {
  const head = [];
  for (const d of dims) head.push(...varint(1 << 3), ...varint(d));
  head.push(...varint(2 << 3), type);
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  head.push(...varint((9 << 3) | 2), ...varint(raw.length));
  return Buffer.concat([Buffer.from(head), raw]);
}

// Parse a float32 TensorProto with raw_data: {dims, data}.
export function readTensorProto(buf) {
  let p = 0;
  const dims = [];
  let raw = null, type = 0;
  const rv = () => {
    let x = 0n, s = 0n;
    for (;;) {
      const b = buf[p++];
      x |= BigInt(b & 0x7f) << s;
      if (!(b & 0x80)) return x;
      s += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(rv()), field = key >> 3, wire = key & 7;
    if (wire === 0) {
      const v = Number(rv());
      if (field === 1) dims.push(v);
      if (field === 2) type = v;
    } else if (wire === 2) {
      const len = Number(rv());
      const bytes = buf.subarray(p, p + len);
      p += len;
      if (field === 9) raw = bytes;
      if (field === 1) { let q = 0; while (q < bytes.length) { let x = 0, s = 0; for (;;) { const b = bytes[q++]; x += (b & 0x7f) * 2 ** s; if (!(b & 0x80)) break; s += 7; } dims.push(x); } }
    } else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`TensorProto: wire type ${wire}`);
  }
  if (type !== 1 || !raw) throw new Error('not a float32 TensorProto with raw_data');
  const data = new Float32Array(raw.length / 4);
  Buffer.from(data.buffer).set(raw);
  return { dims, data };
}

// ---- CIFAR records --------------------------------------------------------------------------------------------
export function readRecords(file, n) {
  const buf = readFileSync(file);
  if (buf.length < n * RECORD) throw new Error(`${file} holds fewer than ${n} records`);
  return buf.subarray(0, n * RECORD);
}

// The model input of n records: float32 [n, 3, 32, 32] through lut[c][x] = (x / 255 - mean[c]) / std[c] in float32.
export function cifarFloat(records, n, mean, std) {
  const f = Math.fround, out = new Float32Array(n * 3072);
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]), s = f(std[c]), lut = new Float32Array(256);
    for (let x = 0; x < 256; x++) lut[x] = f(f(f(x / 255) - m) / s);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < 1024; k++) out[i * 3072 + c * 1024 + k] = lut[records[i * RECORD + 1 + c * 1024 + k]];
  }
  return out;
}

export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

// The native engine's outputs for n CIFAR records (`tandem run` over one [n, 3, 32, 32] TensorProto):
// {top1: Int32Array, logits: Float32Array [n, k], k}.
export function nativeOutputs(tandem, modelFile, records, n, mean, std) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-swarm-ref-'));
  try {
    writeFileSync(path.join(dir, 'in.pb'), tensorProto([n, 3, 32, 32], cifarFloat(records, n, mean, std)));
    const r = spawnSync(tandem, ['run', modelFile, '--input', path.join(dir, 'in.pb'), '--output-dir', dir, '--top', '0'],
      { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`tandem run failed: ${r.stderr}`);
    const { dims, data } = readTensorProto(readFileSync(path.join(dir, 'output_0.pb')));
    const k = dims[dims.length - 1], top1 = new Int32Array(n);
    for (let i = 0; i < n; i++) top1[i] = argmax(data.subarray(i * k, (i + 1) * k));
    return { top1, logits: data, k };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The mean/std of a shared model folder (config.json, else info.json).
export function modelStats(dir) {
  for (const f of ['config.json', 'info.json']) {
    try {
      const j = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      if (j.mean && j.std) return { mean: j.mean, std: j.std };
    } catch { /* next */ }
  }
  return { mean: [0, 0, 0], std: [1, 1, 1] };
}
