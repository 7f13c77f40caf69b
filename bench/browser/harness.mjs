// harness.mjs - one benchmark round in the page: ?engine=tandem|ort&model=NAME&threads=T&runs=R&warmup=W
// [&build=auto|simd|simd-mt][&worker=0]. Loads /v2/models/NAME/file through the engine's own loader (so set-up =
// fetch + compile + load as the engine reports it), benchmarks a seeded random batch-1 input inside the engine's
// worker, reads the wasm heap, frees, and sets window.__result (or window.__error) for bench/compare-browser.
import { load } from '../../build/web/tandem.mjs';
import { loadOrt } from '../../build/web/baseline-ort.mjs';

const q = new URLSearchParams(location.search);
const logEl = document.getElementById('log');
const log = (s) => { logEl.textContent += '\n' + s; };

/* Uniform [0,1) noise from a seeded mulberry32 (bench/lib.mjs's generator). */
function fillUniform(f32, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < f32.length; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    f32[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return f32;
}

async function main() {
  const engine = q.get('engine') || 'tandem';
  const model = q.get('model');
  const threads = Number(q.get('threads') || 1);
  const runs = Number(q.get('runs') || 50), warmup = Number(q.get('warmup') || 5);
  const worker = q.get('worker') !== '0';
  if (!model) throw new Error('no ?model=');
  const url = `/v2/models/${encodeURIComponent(model)}/file`;
  const t0 = performance.now();
  const eng = engine === 'ort' ? await loadOrt(url, { threads, worker })
    : await load(url, { threads, worker, build: q.get('build') || 'auto' });
  const setupWall = performance.now() - t0;
  log(`${engine} ${eng.build} threads ${eng.threads}: ${eng.buildReason}`);
  /* the engines' page APIs take Float32Array inputs only (issue 13 adds BigInt64Array and Int32Array) */
  const typeOf = (x) => String(x.type || x.dtype || '?');
  const notFloat = eng.inputs.filter((x) => !/^(float|float32|\?)$/.test(typeOf(x)));
  if (eng.inputs.length !== 1 || notFloat.length)
    throw new Error(`${model} takes ${eng.inputs.map((x) => `${x.name} (${typeOf(x)})`).join(', ')}: the page's ` +
      'benchmark feeds one float32 input (the JS API takes no integer inputs yet, issue 13)');
  const dims = eng.inputs[0].dims.map((d) => (d > 0 ? d : 1));
  const data = fillUniform(new Float32Array(dims.reduce((a, b) => a * b, 1)), 42);
  const b = await eng.bench({ data, dims }, { runs, warmup });
  const heap = await eng.heapBytes();
  const check = await eng.run([{ data, dims }]);
  await eng.free();
  return {
    engine: engine === 'ort' ? 'onnxruntime-web' : 'tandem-wasm', build: eng.build, build_reason: eng.buildReason,
    threads: eng.threads, mode: eng.mode, kernel_isa: eng.kernelIsa, model, model_bytes: eng.modelBytes,
    cross_origin_isolated: globalThis.crossOriginIsolated === true,
    setup_ms: eng.timings.total_ms, setup_wall_ms: setupWall, fetch_ms: eng.timings.fetch_ms,
    compile_ms: eng.timings.compile_ms, load_ms: eng.timings.load_ms,
    first_run_ms: b.first_run_ms, p50_ms: b.p50_ms, p90_ms: b.p90_ms, p99_ms: b.p99_ms, mean_ms: b.mean_ms,
    throughput_ips: b.throughput_ips, runs: b.times_ms.length, heap_bytes: heap.heap_bytes,
    peak_heap_bytes: heap.peak_heap_bytes, output_head: Array.from(check.outputs[0].data.slice(0, 4)),
  };
}

main().then((r) => {
  window.__result = r;
  log(JSON.stringify(r));
}, (err) => {
  window.__error = String(err && err.stack ? err.stack : err);
  log('ERROR ' + window.__error);
});
