#!/usr/bin/env node
// tfm_client.mjs - the transformer half of the server tests (tests/server/test_transformer.sh): sends token ids to a
// running `tandem serve` as KServe v2 JSON and with the binary extension, as INT64 and as INT32, and checks that the
// four encodings give the same outputs, that those match onnxruntime-node on the same model file within 1e-4 of the
// largest output magnitude (skipped with a note when onnxruntime-node is absent), that every request with new ids is
// answered correctly (nothing is reused from an earlier request), and that ids outside the embedding table are a 400
// naming the input, after which the server still answers. Prints ok/FAIL lines and `N passed, M failed`.
//
// usage: node tests/server/tfm_client.mjs PORT MODEL_NAME MODEL_FILE
import fs from 'node:fs';

const [port, name, file] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}/v2/models/${name}`;
let passed = 0, failed = 0;
const ok = (m) => { passed++; console.log(`ok   ${m}`); };
const bad = (m) => { failed++; console.log(`FAIL ${m}`); };

let ort = null;
try { ort = (await import('onnxruntime-node')).default; } catch { console.log('note: onnxruntime-node is absent: the comparisons against it are skipped'); }

const meta = await (await fetch(base)).json();
const inputs = meta.inputs; // [{name, datatype, shape}]
const S = inputs[0].shape[1];
if (inputs.every((i) => i.datatype === 'INT64') && inputs.length === 3) ok(`metadata: three INT64 inputs of [-1, ${S}]`);
else bad(`metadata: ${JSON.stringify(inputs)}`);

let state = 7;
function rand(n) { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state % n; }
/* one request's ids: tokens over the vocabulary, a mask with padding at the end, token types 0 then 1 */
function sample(vocab) {
  const ids = [], mask = [], types = [];
  const len = 8 + rand(S - 8);
  for (let i = 0; i < S; i++) { ids.push(rand(vocab)); mask.push(i < len ? 1 : 0); types.push(i < len / 2 ? 0 : 1); }
  return { input_ids: ids, attention_mask: mask, token_type_ids: types };
}

function jsonBody(v, dt) {
  return JSON.stringify({ inputs: inputs.map((i) => ({ name: i.name, datatype: dt, shape: [1, S], data: v[i.name] })) });
}
function binaryBody(v, dt) {
  const T = dt === 'INT64' ? BigInt64Array : Int32Array;
  const parts = inputs.map((i) => new T(v[i.name].map((x) => (dt === 'INT64' ? BigInt(x) : x))));
  const header = JSON.stringify({ inputs: inputs.map((i, k) => ({ name: i.name, datatype: dt, shape: [1, S],
    parameters: { binary_data_size: parts[k].byteLength } })) });
  const body = Buffer.concat([Buffer.from(header), ...parts.map((p) => Buffer.from(p.buffer))]);
  return { body, headerLength: Buffer.byteLength(header) };
}

async function infer(v, dt, binary) {
  const opts = { method: 'POST' };
  if (binary) {
    const b = binaryBody(v, dt);
    opts.body = b.body;
    opts.headers = { 'Inference-Header-Content-Length': String(b.headerLength), 'Content-Type': 'application/octet-stream' };
  } else {
    opts.body = jsonBody(v, dt);
    opts.headers = { 'Content-Type': 'application/json' };
  }
  const r = await fetch(`${base}/infer`, opts);
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* checked by the caller */ }
  return { status: r.status, body, text, timing: r.headers.get('server-timing') || '' };
}

function outputsOf(res) {
  const out = {};
  for (const o of res.body.outputs) out[o.name] = { dims: o.shape, data: Float32Array.from(o.data) };
  return out;
}

/* max |a - b| / max |b| over every output */
function relErr(got, want) {
  let worst = 0;
  for (const k of Object.keys(want)) {
    const a = got[k].data, b = want[k].data;
    if (!a || a.length !== b.length) return Infinity;
    let mx = 0, d = 0;
    for (let i = 0; i < b.length; i++) { mx = Math.max(mx, Math.abs(b[i])); d = Math.max(d, Math.abs(a[i] - b[i])); }
    worst = Math.max(worst, d / (mx || 1));
  }
  return worst;
}

let session = null;
if (ort) session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
async function reference(v) {
  const feeds = {};
  for (const i of inputs) feeds[i.name] = new ort.Tensor('int64', BigInt64Array.from(v[i.name].map(BigInt)), [1, S]);
  const r = await session.run(feeds);
  const out = {};
  for (const k of session.outputNames) out[k] = { dims: r[k].dims, data: r[k].data };
  return out;
}

const VOCAB = 30522;
// ---- the four encodings give the same outputs, and onnxruntime's ----
const v0 = sample(VOCAB);
const res = {};
for (const [dt, bin] of [['INT64', false], ['INT32', false], ['INT64', true], ['INT32', true]]) {
  const label = `${bin ? 'binary' : 'JSON'} ${dt}`;
  const r = await infer(v0, dt, bin);
  if (r.status === 200 && r.body && r.body.outputs) { res[label] = outputsOf(r); ok(`${label} request: 200, outputs ${r.body.outputs.map((o) => `${o.name} [${o.shape}]`).join(', ')}`); }
  else bad(`${label} request: status ${r.status}: ${r.text.slice(0, 200)}`);
}
const labels = Object.keys(res);
if (labels.length === 4) {
  const e = Math.max(...labels.slice(1).map((l) => relErr(res[l], res[labels[0]])));
  if (e === 0) ok('JSON and binary, INT64 and INT32: identical outputs'); else bad(`the encodings differ: ${e}`);
}
if (session && labels.length) {
  const e = relErr(res[labels[0]], await reference(v0));
  if (e <= 1e-4) ok(`outputs match onnxruntime-node (max error ${e.toExponential(2)} of the largest magnitude)`);
  else bad(`outputs differ from onnxruntime-node: ${e}`);
}

// ---- new ids every request: each answer is the right one for its own ids ----
let worst = 0, statuses = [];
for (let k = 0; k < 6; k++) {
  const v = sample(VOCAB);
  const r = await infer(v, k % 2 ? 'INT32' : 'INT64', k >= 3);
  statuses.push(r.status);
  if (r.status !== 200) continue;
  if (session) worst = Math.max(worst, relErr(outputsOf(r), await reference(v)));
}
if (statuses.every((s) => s === 200) && worst <= 1e-4)
  ok(`6 requests with new ids each: all 200${session ? `, each within ${worst.toExponential(2)} of onnxruntime on its own ids` : ''}`);
else bad(`requests with new ids: statuses ${statuses}, worst error ${worst}`);

// ---- ids outside the tables are the client's 400, naming the input ----
async function expect400(label, mutate, dt, bin, want) {
  const v = sample(VOCAB);
  mutate(v);
  const r = await infer(v, dt, bin);
  const msg = r.body && typeof r.body.error === 'string' ? r.body.error : '';
  if (r.status === 400 && want.every((w) => msg.includes(w))) ok(`${label}: 400 "${msg}"`);
  else bad(`${label}: status ${r.status}, body ${r.text.slice(0, 200)}`);
}
await expect400('an id equal to the vocabulary size (JSON INT64)', (v) => { v.input_ids[5] = VOCAB; }, 'INT64', false,
  ['input_ids', '30522']);
await expect400('a negative id (binary INT32)', (v) => { v.input_ids[0] = -1; }, 'INT32', true, ['input_ids', '-1']);
await expect400('an id of 2^40 (binary INT64)', (v) => { v.input_ids[S - 1] = 2 ** 40; }, 'INT64', true, ['input_ids']);
await expect400('token type 2 of a table of 2 rows (JSON INT32)', (v) => { v.token_type_ids[3] = 2; }, 'INT32', false,
  ['token_type_ids']);
const after = await infer(v0, 'INT64', false);
if (after.status === 200 && relErr(outputsOf(after), res[labels[0]] || outputsOf(after)) === 0)
  ok('after the bad requests the server answers the first request again, identically');
else bad(`after the bad requests: status ${after.status}`);
if (/infer;dur=[\d.]+/.test(after.timing)) ok(`Server-Timing: ${after.timing}`); else bad(`no Server-Timing infer: '${after.timing}'`);

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
