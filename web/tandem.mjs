// tandem.mjs - tandem's JavaScript API for the browser (an ES module, no bundler): load an ONNX model into the
// WebAssembly build of the engine and run it, by default inside a Web Worker so the page stays responsive.
//
//   import { load, chooseBuild } from './tandem.mjs';
//   const eng = await load(bytesOrUrl, { threads: 2, worker: true, build: 'auto' });
//   const r = await eng.run([{ data: Float32Array, dims: [1, 3, 32, 32] }]);   // {outputs, run_ms, wall_ms}
//   const b = await eng.bench(input, { runs: 50, warmup: 5 });               // the loop runs inside the worker
//   // text models: token ids and masks as BigInt64Array or Int32Array (int64 and int32 inputs take either), one
//   // entry per input in eng.inputs' order; eng.inputs[i].indexLimit is the table an id input indexes (0: none)
//   await eng.run([{ data: ids, dims: [1, 128] }, { data: mask, dims: [1, 128] }, { data: types, dims: [1, 128] }]);
//   await eng.bench(inputs, { runs: 50, vary: true });   // vary: new ids (over their table) before every run
//   await eng.heapBytes(); await eng.free();
//
// The builds (wasm/tandem-{simd,relaxed}{,-mt}.mjs) sit beside this file; chooseBuild picks the relaxed-SIMD one where
// the browser validates it, and a threaded one only where SharedArrayBuffer works (a cross-origin-isolated page) and
// threads were asked for, and says why. Running
// the engine in a Worker or on the page is engine-host.mjs's, shared with baseline-ort.mjs.
import { WASM_BUILDS, openEngine } from './tandem-worker.mjs';
import { engineHandle, hostEngine, modelSource } from './engine-host.mjs';

const now = () => performance.now();

/* A module of one function, f32x4.relaxed_madd on its three v128 parameters: WebAssembly.validate says whether this
 * browser runs relaxed SIMD (Chromium 114+, Firefox 120+; not Safari 18), and so the relaxed builds. */
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
  10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11]);
export function relaxedSimdSupported() {
  try { return WebAssembly.validate(RELAXED_PROBE); } catch { return false; }
}

const BUILDS = ['auto', ...WASM_BUILDS];

/* {build, reason} for a requested build and thread count. Builds: simd (SIMD128), relaxed (the same with fused
 * multiply-adds through relaxed SIMD), each with a threaded -mt variant. 'auto' takes relaxed where the browser
 * validates it, and -mt where threads were asked for on a cross-origin-isolated page (SharedArrayBuffer); a named
 * build the browser cannot run falls back the same way, and the reason says so. */
export function chooseBuild(requested = 'auto', threads = 1) {
  if (!BUILDS.includes(requested)) throw new Error(`build must be one of ${BUILDS.map((b) => `'${b}'`).join(', ')}, not '${requested}'`);
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
  const relaxed = relaxedSimdSupported();
  const facts = `crossOriginIsolated: ${isolated}, relaxed SIMD: ${relaxed}, threads ${threads} requested`;
  const notes = [];
  let family = requested === 'auto' ? (relaxed ? 'relaxed' : 'simd') : requested.replace(/-mt$/, '');
  if (family === 'relaxed' && !relaxed) {
    family = 'simd';
    notes.push(`${requested} was asked for but this browser does not validate relaxed SIMD`);
  }
  let mt = requested === 'auto' ? isolated && threads > 1 : requested.endsWith('-mt');
  if (mt && !isolated) {
    mt = false;
    notes.push(`${requested} was asked for but threads need a cross-origin-isolated page (SharedArrayBuffer)`);
  }
  const build = mt ? `${family}-mt` : family;
  if (requested === 'auto') {
    notes.push(relaxed ? 'relaxed SIMD validates: the fused multiply-add build' : 'no relaxed SIMD: the SIMD128 build');
    notes.push(!isolated ? 'without isolation there are no wasm threads' : threads <= 1 ? 'one thread needs no pthreads'
      : 'threads on an isolated page');
  } else if (!notes.length) {
    notes.push(`the ${requested} build was asked for`);
  }
  return { build, reason: `${facts}; ${notes.join('; ')}: ${build}` };
}

/* Load a model. opts: threads (default 1), worker (default true), build ('auto' | 'simd' | 'simd-mt' | 'relaxed' |
 * 'relaxed-mt'). */
export async function load(modelBytesOrUrl, opts = {}) {
  const t0 = now();
  const threads = Math.max(1, Math.floor(Number(opts.threads ?? 1)) || 1);
  const worker = opts.worker !== false;
  const { build, reason } = chooseBuild(opts.build ?? 'auto', threads);
  const src = modelSource(modelBytesOrUrl);
  const wasmBase = new URL('./wasm/', import.meta.url).href;
  const { info, call, terminate } = await hostEngine({
    worker, workerUrl: new URL('./tandem-worker.mjs', import.meta.url), workerName: 'tandem-engine',
    loadArgs: { build, threads, wasmBase }, src, openCore: openEngine });
  const timings = { ...info.timings, total_ms: now() - t0 };
  return engineHandle(call, terminate, {
    build: info.build, buildReason: reason, threads: info.threads, mode: worker ? 'worker' : 'main',
    inputs: info.inputs, outputs: info.outputs, timings, modelBytes: info.modelBytes, kernelIsa: info.kernelIsa,
  });
}
