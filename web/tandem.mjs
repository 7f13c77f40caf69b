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
// The builds (wasm/tandem-simd.mjs, wasm/tandem-simd-mt.mjs) sit beside this file; chooseBuild picks the threaded one
// only where SharedArrayBuffer works (a cross-origin-isolated page) and threads were asked for, and says why. Running
// the engine in a Worker or on the page is engine-host.mjs's, shared with baseline-ort.mjs.
import { openEngine } from './tandem-worker.mjs';
import { engineHandle, hostEngine, modelSource } from './engine-host.mjs';

const now = () => performance.now();

/* {build, reason} for a requested build ('auto' | 'simd' | 'simd-mt') and thread count. */
export function chooseBuild(requested = 'auto', threads = 1) {
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
  const facts = `crossOriginIsolated: ${isolated}, threads ${threads} requested`;
  if (requested === 'simd') return { build: 'simd', reason: `${facts}; the simd build was asked for` };
  if (requested === 'simd-mt') {
    if (!isolated)
      return { build: 'simd', reason: `${facts}; simd-mt was asked for but needs a cross-origin-isolated page (SharedArrayBuffer), so simd` };
    return { build: 'simd-mt', reason: `${facts}; the simd-mt build was asked for` };
  }
  if (requested !== 'auto') throw new Error(`build must be 'auto', 'simd' or 'simd-mt', not '${requested}'`);
  if (!isolated) return { build: 'simd', reason: `${facts}; without isolation there are no wasm threads: simd` };
  if (threads <= 1) return { build: 'simd', reason: `${facts}; one thread needs no pthreads: simd` };
  return { build: 'simd-mt', reason: `${facts}: simd-mt` };
}

/* Load a model. opts: threads (default 1), worker (default true), build ('auto' | 'simd' | 'simd-mt'). */
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
