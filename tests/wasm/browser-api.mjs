// browser-api.mjs - the JS API (build/web/tandem.mjs, baseline-ort.mjs) in headless Chromium: both wasm builds, worker
// and main-thread mode, 1 and 2 threads; the outputs of ../shared/models/cifar10_resnet20's golden sets (batch 1 and
// 8, so re-planning is covered) within the model tests' tolerance (1e-4 relative + 1e-5 absolute); every timing and
// heap figure present; bench() figures consistent; errors (bad model bytes, use after free, bad input) reported as
// rejected promises with a message. Prints `N passed, M failed`; skips, saying so, without chromium or ../shared.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
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

/* A TensorProto file: {dims, data: Float32Array} (float_data or raw_data). */
function readTensor(file) {
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
    if (f === 9 || f === 4) data = new Float32Array(buf.buffer.slice(buf.byteOffset + s, buf.byteOffset + p));
  }
  if (dtype !== 1 || !data) throw new Error(`${file}: not a float tensor`);
  return { dims, data };
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

  const srv = spawn(process.execPath, [path.join(ROOT, 'scripts/web-server.mjs'), '--root', ROOT, '--models', path.join(SHARED, 'models'), '--port', '0', '--quiet'],
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
    const choice = await page.evaluate(() => [window.tdm.tandem.chooseBuild('auto', 2), window.tdm.tandem.chooseBuild('auto', 1)]);
    check(choice[0].build === 'simd-mt' && /crossOriginIsolated: true/.test(choice[0].reason), `chooseBuild auto, 2 threads -> ${choice[0].build} (${choice[0].reason})`);
    check(choice[1].build === 'simd', `chooseBuild auto, 1 thread -> ${choice[1].build}`);

    const combos = [
      { engine: 'tandem', build: 'simd', threads: 1, worker: true }, { engine: 'tandem', build: 'simd-mt', threads: 2, worker: true },
      { engine: 'tandem', build: 'simd', threads: 1, worker: false }, { engine: 'tandem', build: 'simd-mt', threads: 2, worker: false },
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
  } finally {
    await ctx.close();
    srv.kill();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`browser-api: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function statSize(f) { return readFileSync(f).length; }

main().then((rc) => process.exit(rc), (err) => {
  console.log(`FAIL browser-api: ${err && err.stack ? err.stack : err}`);
  console.log(`browser-api: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
