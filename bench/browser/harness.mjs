// harness.mjs - one benchmark round in the page: ?engine=tandem|ort&model=NAME&threads=T&runs=R&warmup=W
// [&build=auto|simd|simd-mt|relaxed|relaxed-mt][&worker=0][&ranges=NAME:LO:HI,...]. Loads /v2/models/NAME/file through the engine's own
// loader (so set-up = fetch + compile + load as the engine reports it), benchmarks seeded random batch-1 inputs
// inside the engine's worker, reads the wasm heap, frees, and sets window.__result (or window.__error) for
// bench/compare-browser. Integer inputs (token ids, masks) get new values before every run on both engines, outside
// the timing: ids uniform over ranges' [LO, HI) (the vocabulary), other integers in [0, 2).
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
  const ranges = Object.fromEntries((q.get('ranges') || '').split(',').filter(Boolean).map((r) => {
    const [n, lo, hi] = r.split(':');
    return [n, [Number(lo), Number(hi)]];
  }));
  const typeOf = (x) => String(x.type || x.dtype || 'float32');
  let seed = 42, hasInt = false;
  const inputs = eng.inputs.map((x) => {
    const dims = x.dims.map((d) => (d > 0 ? d : 1)), n = dims.reduce((a, b) => a * b, 1), t = typeOf(x);
    if (t === 'float32' || t === 'float') return { data: fillUniform(new Float32Array(n), seed++), dims };
    if (t !== 'int64' && t !== 'int32') throw new Error(`${model}: input ${x.name} is ${t}, which the page cannot feed`);
    hasInt = true;
    const [lo, hi] = ranges[x.name] || [0, 2], u = fillUniform(new Float32Array(n), seed++);
    const v = t === 'int64' ? BigInt64Array.from(u, (r) => BigInt(lo + Math.floor(r * (hi - lo))))
      : Int32Array.from(u, (r) => lo + Math.floor(r * (hi - lo)));
    return { data: v, dims };
  });
  const b = await eng.bench(inputs, { runs, warmup, vary: hasInt, intRange: ranges });
  const heap = await eng.heapBytes();
  const check = await eng.run(inputs);
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
    vary_input: hasInt,
  };
}

main().then((r) => {
  window.__result = r;
  log(JSON.stringify(r));
}, (err) => {
  window.__error = String(err && err.stack ? err.stack : err);
  log('ERROR ' + window.__error);
});
