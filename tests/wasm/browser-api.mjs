// browser-api.mjs - the JS API (build/web/tandem.mjs, baseline-ort.mjs) in headless Chromium: the wasm builds (simd
// and relaxed SIMD), worker and main-thread mode, 1 and 2 threads; the outputs of ../shared/models/cifar10_resnet20's
// golden sets (batch 1 and 8, so re-planning is covered) within the model tests' tolerance (1e-4 relative + 1e-5 absolute); every timing and
// heap figure present; bench() figures consistent; errors (bad model bytes, use after free, bad input) reported as
// rejected promises with a message. With TDM_TEXT_MODELS (a folder holding bert_tiny/ with onnxruntime golden sets,
// tests/text_golden.mjs; tests/wasm/run.sh makes it), a text model too: token ids as BigInt64Array and as Int32Array
// (identical outputs, within the tolerance of onnxruntime's), bench with new ids every run, an id outside the
// vocabulary rejected with a message naming the input, on both builds and onnxruntime-web.
// Prints `N passed, M failed`; skips, saying so, without chromium or ../shared.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = path.resolve(ROOT, process.env.TDM_SHARED || '../shared');
const MODEL = 'cifar10_resnet20';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let passed = 0, failed = 0;

function check(ok, what) {
  if (ok) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
  return ok;
}

/* A TensorProto file: {dims, data: Float32Array} (float_data or raw_data); int64 ones as a plain Array of numbers
 * (readTensor(file, true)). */
function readTensor(file, ints = false) {
  const buf = readFileSync(file);
  let p = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = buf[p++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return v;
  };
  const dims = [];
  let data = null, dtype = 1;
  while (p < buf.length) {
    const key = varint(), f = Math.floor(key / 8), w = key & 7;
    if (w === 0) { const v = varint(); if (f === 1) dims.push(v); if (f === 2) dtype = v; continue; }
    if (w === 1) { p += 8; continue; }
    if (w === 5) { p += 4; continue; }
    const len = varint(), s = p;
    p += len;
    if (f === 1) { let q = s; while (q < p) { let v = 0, mul = 1, b; do { b = buf[q++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80); dims.push(v); } }
    if (f === 9 || f === 4) data = buf.buffer.slice(buf.byteOffset + s, buf.byteOffset + p);
  }
  if (ints && dtype === 7 && data) return { dims, data: Array.from(new BigInt64Array(data), Number) };
  if (dtype !== 1 || !data) throw new Error(`${file}: not a float tensor`);
  return { dims, data: new Float32Array(data) };
}

function close(got, want) {
  if (!got || got.length !== want.length) return `length ${got && got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= 1e-5 + 1e-4 * Math.abs(want[i]))) return `element ${i}: ${got[i]} vs ${want[i]}`;
  return null;
}

async function main() {
  const require = createRequire(import.meta.url);
  const mdir = path.join(SHARED, 'models', MODEL);
  if (!existsSync(path.join(mdir, 'model.onnx'))) { console.log(`SKIP: ${mdir} is absent`); console.log('browser-api: 0 passed, 0 failed'); return 0; }
  if (!existsSync(CHROMIUM)) { console.log(`SKIP: ${CHROMIUM} is absent`); console.log('browser-api: 0 passed, 0 failed'); return 0; }
  if (!existsSync(path.join(ROOT, 'node_modules', 'playwright-core'))) {
    console.log('SKIP: node_modules/playwright-core is absent (scripts/npm-deps.sh installs it)');
    console.log('browser-api: 0 passed, 0 failed');
    return 0;
  }
  const pw = require(path.join(ROOT, 'node_modules', 'playwright-core'));
  const sets = [0, 1].map((k) => ({ input: readTensor(path.join(mdir, `test_data_set_${k}`, 'input_0.pb')),
    output: readTensor(path.join(mdir, `test_data_set_${k}`, 'output_0.pb')) }));

  // the served models: the CIFAR model, and the text model when there is one
  const served = mkdtempSync(path.join(os.tmpdir(), 'tdm-api-models-'));
  symlinkSync(mdir, path.join(served, MODEL));
  const textDir = process.env.TDM_TEXT_MODELS ? path.join(process.env.TDM_TEXT_MODELS, 'bert_tiny') : null;
  if (textDir && existsSync(path.join(textDir, 'model.onnx'))) symlinkSync(textDir, path.join(served, 'bert_tiny'));
  else console.log('note: TDM_TEXT_MODELS is not set (tests/wasm/run.sh sets it): the text model checks are skipped');
  const srv = spawn(process.execPath, [path.join(ROOT, 'scripts/web-server.mjs'), '--root', ROOT, '--models', served, '--port', '0', '--quiet'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    srv.stdout.once('data', (d) => resolve(String(d).split('\n')[0].trim()));
    srv.once('exit', (c) => reject(new Error(`web-server exited ${c}`)));
  });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tdm-chromium-'));
  const ctx = await pw.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'] });
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(120000);
    await page.goto(`${url}tests/wasm/api.html`);
    await page.waitForFunction(() => window.tdmReady === true);
    check(await page.evaluate(() => crossOriginIsolated), 'the served page is cross-origin isolated (COOP/COEP)');
    /* Chromium (114+) validates relaxed SIMD, so 'auto' takes the relaxed builds; 'simd' still forces the plain one */
    const choice = await page.evaluate(() => [window.tdm.tandem.chooseBuild('auto', 2), window.tdm.tandem.chooseBuild('auto', 1),
      window.tdm.tandem.chooseBuild('simd-mt', 2), window.tdm.tandem.relaxedSimdSupported()]);
    check(choice[3] === true, `Chromium validates the relaxed-SIMD probe module: ${choice[3]}`);
    check(choice[0].build === 'relaxed-mt' && /crossOriginIsolated: true, relaxed SIMD: true/.test(choice[0].reason),
      `chooseBuild auto, 2 threads -> ${choice[0].build} (${choice[0].reason})`);
    check(choice[1].build === 'relaxed', `chooseBuild auto, 1 thread -> ${choice[1].build}`);
    check(choice[2].build === 'simd-mt', `chooseBuild simd-mt, 2 threads -> ${choice[2].build} (${choice[2].reason})`);

    const combos = [
      { engine: 'tandem', build: 'simd', threads: 1, worker: true }, { engine: 'tandem', build: 'simd-mt', threads: 2, worker: true },
      { engine: 'tandem', build: 'simd', threads: 1, worker: false }, { engine: 'tandem', build: 'simd-mt', threads: 2, worker: false },
      { engine: 'tandem', build: 'relaxed', threads: 1, worker: true }, { engine: 'tandem', build: 'relaxed-mt', threads: 2, worker: true },
      { engine: 'ort', threads: 1, worker: true },
    ];
    const inputs = sets.map((s) => ({ data: Array.from(s.input.data), dims: s.input.dims }));
    for (const c of combos) {
      const name = `${c.engine}${c.build ? ' ' + c.build : ''} threads ${c.threads} ${c.worker ? 'worker' : 'main thread'}`;
      const r = await page.evaluate(async ({ c, inputs, model }) => {
        const eng = c.engine === 'ort' ? await window.tdm.ort.loadOrt(`/v2/models/${model}/file`, c)
          : await window.tdm.tandem.load(`/v2/models/${model}/file`, c);
        const outs = [];
        for (const x of inputs) {
          const res = await eng.run([{ data: Float32Array.from(x.data), dims: x.dims }]);
          outs.push({ dims: res.outputs[0].dims, data: Array.from(res.outputs[0].data), run_ms: res.run_ms, wall_ms: res.wall_ms, isF32: res.outputs[0].data instanceof Float32Array });
        }
        const b = await eng.bench({ data: Float32Array.from(inputs[0].data), dims: inputs[0].dims }, { runs: 7, warmup: 2 });
        const heap = await eng.heapBytes();
        const info = { build: eng.build, buildReason: eng.buildReason, threads: eng.threads, inputs: eng.inputs, outputs: eng.outputs,
          timings: eng.timings, modelBytes: eng.modelBytes };
        await eng.free();
        let afterFree = null;
        try { await eng.run([{ data: Float32Array.from(inputs[0].data), dims: inputs[0].dims }]); } catch (err) { afterFree = String(err.message); }
        return { outs, b, heap, info, afterFree };
      }, { c, inputs, model: MODEL });
      const want = c.build || 'ort-web';
      check(r.info.build === want && r.info.threads === c.threads, `${name}: build ${r.info.build}, threads ${r.info.threads}`);
      check(r.info.inputs.length === 1 && r.info.inputs[0].dims.join() === '-1,3,32,32' && r.info.outputs.length === 1,
        `${name}: inputs ${JSON.stringify(r.info.inputs)} outputs ${JSON.stringify(r.info.outputs.map((o) => o.name))}`);
      sets.forEach((s, k) => {
        const o = r.outs[k];
        const why = o.dims.join() !== s.output.dims.join() ? `dims [${o.dims}] vs [${s.output.dims}]` : close(o.data, s.output.data);
        check(!why && o.isF32 && o.run_ms > 0 && o.wall_ms >= o.run_ms, `${name}: golden set ${k} (batch ${s.input.dims[0]})${why ? ': ' + why : ''}`);
      });
      const t = r.info.timings;
      check(['fetch_ms', 'compile_ms', 'load_ms', 'total_ms'].every((k) => Number.isFinite(t[k]) && t[k] > 0) && t.total_ms >= t.load_ms,
        `${name}: timings ${JSON.stringify(t)}`);
      const b = r.b;
      check(b.times_ms.length === 7 && b.first_run_ms > 0 && b.p50_ms > 0 && b.p50_ms <= b.p90_ms && b.p90_ms <= b.p99_ms &&
        Math.abs(b.throughput_ips - 1000 / b.mean_ms) < 1e-6 * b.throughput_ips, `${name}: bench p50 ${b.p50_ms.toFixed(3)} ms, ${b.times_ms.length} runs`);
      check(r.heap.heap_bytes > 0 && r.heap.peak_heap_bytes >= r.heap.heap_bytes && r.info.modelBytes === statSize(path.join(mdir, 'model.onnx')),
        `${name}: heap ${r.heap.heap_bytes} bytes, model ${r.info.modelBytes} bytes`);
      check(r.afterFree && /freed/.test(r.afterFree), `${name}: run after free rejects (${r.afterFree})`);
    }
    const bad = await page.evaluate(async () => {
      const out = {};
      try { await window.tdm.tandem.load(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), { build: 'simd' }); out.garbage = 'loaded'; } catch (err) { out.garbage = String(err.message); }
      try { await window.tdm.tandem.load('/v2/models/no_such_model/file', { build: 'simd' }); out.missing = 'loaded'; } catch (err) { out.missing = String(err.message); }
      const eng = await window.tdm.tandem.load('/v2/models/cifar10_resnet20/file', { build: 'simd' });
      try { await eng.run([{ data: new Float32Array(10), dims: [1, 3, 32, 32] }]); out.short = 'ran'; } catch (err) { out.short = String(err.message); }
      try { await eng.run([{ data: new Float32Array(3 * 16 * 16), dims: [1, 3, 16, 16] }]); out.shape = 'ran'; } catch (err) { out.shape = String(err.message); }
      const ok = await eng.run([{ data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] }]);
      out.recovered = ok.outputs[0].data.length;
      await eng.free();
      return out;
    });
    check(/loading the model/.test(bad.garbage), `garbage model bytes reject: ${bad.garbage}`);
    check(/HTTP 404/.test(bad.missing), `a missing model URL rejects: ${bad.missing}`);
    check(/do not match/.test(bad.short), `input data shorter than its dims rejects: ${bad.short}`);
    check(bad.shape !== 'ran', `an input shape the model cannot take rejects: ${bad.shape}`);
    check(bad.recovered === 10, 'the engine still runs after rejected inputs');
    if (existsSync(path.join(served, 'bert_tiny'))) await textModel(page, textDir);
  } finally {
    await ctx.close();
    srv.kill();
    rmSync(profile, { recursive: true, force: true });
    rmSync(served, { recursive: true, force: true });
  }
  console.log(`browser-api: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function statSize(f) { return readFileSync(f).length; }

/* The text model (issue 13): golden sets of tests/text_golden.mjs (three int64 inputs, two float outputs). */
async function textModel(page, dir) {
  const sets = [0, 1].map((k) => ({
    inputs: [0, 1, 2].map((j) => readTensor(path.join(dir, `test_data_set_${k}`, `input_${j}.pb`), true)),
    outputs: [0, 1].map((j) => readTensor(path.join(dir, `test_data_set_${k}`, `output_${j}.pb`))),
  }));
  const combos = [
    { engine: 'tandem', build: 'simd', threads: 1, worker: true }, { engine: 'tandem', build: 'simd-mt', threads: 2, worker: true },
    { engine: 'tandem', build: 'simd', threads: 1, worker: false }, { engine: 'tandem', build: 'relaxed', threads: 1, worker: true },
    { engine: 'ort', threads: 1, worker: true },
  ];
  for (const c of combos) {
    const name = `bert_tiny: ${c.engine}${c.build ? ' ' + c.build : ''} threads ${c.threads} ${c.worker ? 'worker' : 'main thread'}`;
    const r = await page.evaluate(async ({ c, sets }) => {
      const eng = c.engine === 'ort' ? await window.tdm.ort.loadOrt('/v2/models/bert_tiny/file', c)
        : await window.tdm.tandem.load('/v2/models/bert_tiny/file', c);
      const as = (x, T) => ({ data: T === BigInt64Array ? BigInt64Array.from(x.data, (v) => BigInt(v)) : Int32Array.from(x.data), dims: x.dims });
      const out = { info: { inputs: eng.inputs, outputs: eng.outputs.map((o) => o.name) }, runs: [] };
      for (const s of sets) {
        const a = await eng.run(s.inputs.map((x) => as(x, BigInt64Array)));
        const b = await eng.run(s.inputs.map((x) => as(x, Int32Array)));
        out.runs.push({ big: a.outputs.map((o) => ({ dims: o.dims, data: Array.from(o.data) })),
          same: a.outputs.every((o, k) => o.data.length === b.outputs[k].data.length && o.data.every((v, i) => v === b.outputs[k].data[i])) });
      }
      const ranges = { input_ids: [0, 30522] };
      out.bench = await eng.bench(sets[0].inputs.map((x) => as(x, BigInt64Array)), { runs: 5, warmup: 1, vary: true, intRange: ranges });
      const badIds = as(sets[0].inputs[0], BigInt64Array);
      badIds.data[3] = 30522n;
      try { await eng.run([badIds, ...sets[0].inputs.slice(1).map((x) => as(x, BigInt64Array))]); out.badId = 'ran'; } catch (err) { out.badId = String(err.message); }
      try { await eng.run(sets[0].inputs.map((x) => ({ data: Float32Array.from(x.data), dims: x.dims }))); out.floatIds = 'ran'; } catch (err) { out.floatIds = String(err.message); }
      const again = await eng.run(sets[0].inputs.map((x) => as(x, BigInt64Array)));
      out.recovered = again.outputs[0].data[0] === out.runs[0].big[0].data[0];
      await eng.free();
      return out;
    }, { c, sets: sets.map((s) => ({ inputs: s.inputs })) });
    check(r.info.inputs.length === 3 && r.info.inputs.every((x) => x.type === 'int64') && r.info.outputs.length === 2 &&
      (c.engine === 'ort' || r.info.inputs[0].indexLimit === 30522),
    `${name}: three int64 inputs${c.engine === 'ort' ? '' : `, input_ids indexes ${r.info.inputs[0].indexLimit} rows`}`);
    sets.forEach((s, k) => {
      const why = s.outputs.map((o, j) => (r.runs[k].big[j].dims.join() !== o.dims.join() ? `dims [${r.runs[k].big[j].dims}]`
        : close(r.runs[k].big[j].data, o.data))).filter(Boolean)[0];
      check(!why, `${name}: golden set ${k} (batch ${s.inputs[0].dims[0]}, onnxruntime-node's outputs)${why ? ': ' + why : ''}`);
      check(r.runs[k].same, `${name}: set ${k}: BigInt64Array and Int32Array ids give identical outputs`);
    });
    check(r.bench.times_ms.length === 5 && r.bench.p50_ms > 0, `${name}: bench with new ids every run, p50 ${r.bench.p50_ms.toFixed(2)} ms`);
    if (c.engine === 'tandem') {
      check(/input_ids/.test(r.badId) && /30522/.test(r.badId), `${name}: an id outside the vocabulary rejects: ${r.badId}`);
      check(/BigInt64Array or an Int32Array/.test(r.floatIds), `${name}: ids as a Float32Array reject: ${r.floatIds}`);
    }
    check(r.recovered, `${name}: the engine runs again after the rejected inputs`);
  }
}

main().then((rc) => process.exit(rc), (err) => {
  console.log(`FAIL browser-api: ${err && err.stack ? err.stack : err}`);
  console.log(`browser-api: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
