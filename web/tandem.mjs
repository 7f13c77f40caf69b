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
// only where SharedArrayBuffer works (a cross-origin-isolated page) and threads were asked for, and says why.
import { openEngine } from './tandem-worker.mjs';

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

/* Bytes (ArrayBuffer, typed array) pass through; strings and URLs are resolved against the page. */
export function modelSource(src) {
  if (src instanceof ArrayBuffer) return { bytes: new Uint8Array(src) };
  if (ArrayBuffer.isView(src)) return { bytes: new Uint8Array(src.buffer, src.byteOffset, src.byteLength) };
  if (typeof src === 'string' || src instanceof URL) return { url: new URL(String(src), globalThis.location?.href).href };
  throw new Error('load(): pass the model as an ArrayBuffer, a typed array or a URL');
}

/* A module Worker speaking tandem-worker.mjs's protocol ({id, op, ...} -> {id, ok, result | error}), named so the
 * module knows to answer: call(op, args, transfer) -> Promise of the result. baseline-ort.mjs uses it too. */
export function workerChannel(url, name) {
  const w = new Worker(url, { type: 'module', name });
  const pending = new Map();
  let next = 1, dead = null;
  const failAll = (msg) => {
    dead = msg;
    for (const { reject } of pending.values()) reject(new Error(msg));
    pending.clear();
  };
  w.onmessage = (e) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    if (e.data.ok) p.resolve(e.data.result);
    else p.reject(new Error(e.data.error));
  };
  w.onerror = (e) => { e.preventDefault?.(); failAll(`the engine worker failed: ${e.message || 'script error'}`); };
  w.onmessageerror = () => failAll('the engine worker sent a message that could not be read');
  return {
    call(op, args = {}, transfer = []) {
      if (dead) return Promise.reject(new Error(dead));
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, op, ...args }, transfer);
      });
    },
    terminate() {
      w.terminate();
      failAll('the engine was freed');
    },
  };
}

/* Load a model. opts: threads (default 1), worker (default true), build ('auto' | 'simd' | 'simd-mt'). */
export async function load(modelBytesOrUrl, opts = {}) {
  const t0 = now();
  const threads = Math.max(1, Math.floor(Number(opts.threads ?? 1)) || 1);
  const worker = opts.worker !== false;
  const { build, reason } = chooseBuild(opts.build ?? 'auto', threads);
  const src = modelSource(modelBytesOrUrl);
  const wasmBase = new URL('./wasm/', import.meta.url).href;
  let info, call, terminate, core = null;
  if (worker) {
    const ch = workerChannel(new URL('./tandem-worker.mjs', import.meta.url), 'tandem-engine');
    // the caller keeps its bytes: they are copied into the message, not transferred
    try {
      info = await ch.call('load', { build, threads, wasmBase, ...(src.bytes ? { bytes: src.bytes.slice() } : { url: src.url }) });
    } catch (err) {
      ch.terminate();
      throw err;
    }
    call = ch.call;
    terminate = ch.terminate;
  } else {
    core = await openEngine({ build, threads, wasmBase, ...src });
    info = core.info;
    const fns = { run: (a) => core.run(a.inputs), bench: (a) => core.bench(a.inputs, a.opts), heap: () => core.heapBytes(),
      free: () => core.free() };
    call = async (op, args = {}) => fns[op](args);
    terminate = () => {};
  }
  const timings = { ...info.timings, total_ms: now() - t0 };
  return engineHandle(call, terminate, {
    build: info.build, buildReason: reason, threads: info.threads, mode: worker ? 'worker' : 'main',
    inputs: info.inputs, outputs: info.outputs, timings, modelBytes: info.modelBytes, kernelIsa: info.kernelIsa,
  });
}

/* The object load() and loadOrt() return: the facts, plus run/bench/heapBytes/free, each a message to the engine's
 * channel (`call`); free() also ends the worker (`terminate`). Exported for web/baseline-ort.mjs. */
export function engineHandle(call, terminate, facts) {
  let freed = false;
  const alive = () => { if (freed) throw new Error('this engine has been freed'); };
  return {
    ...facts,
    async run(inputs) {
      alive();
      const w0 = now();
      const r = await call('run', { inputs: inputs.map((x) => ({ data: x.data, dims: Array.from(x.dims) })) });
      return { outputs: r.outputs, run_ms: r.run_ms, wall_ms: now() - w0 };
    },
    /* input: one {data, dims}, or a list of them (every input of the model, in order) */
    async bench(input, bopts = {}) {
      alive();
      const list = Array.isArray(input) ? input : [input];
      return call('bench', { inputs: list.map((x) => ({ data: x.data, dims: Array.from(x.dims) })),
        opts: { runs: bopts.runs ?? 50, warmup: bopts.warmup ?? 5, vary: !!bopts.vary, intRange: bopts.intRange } });
    },
    async heapBytes() {
      alive();
      return call('heap');
    },
    async free() {
      if (freed) return;
      freed = true;
      try { await call('free'); } finally { terminate(); }
    },
  };
}
