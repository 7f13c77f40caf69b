// baseline-ort.mjs - onnxruntime-web (npm, served from ./vendor/ort, never a CDN) behind the API of tandem.mjs, so the
// page and bench/compare-browser can run both engines the same way:
//
//   import { loadOrt } from './baseline-ort.mjs';
//   const eng = await loadOrt(bytesOrUrl, { threads: 2, worker: true });   // eng.build === 'ort-web'
//   await eng.run([{data, dims}]); await eng.bench(input, {runs, warmup}); await eng.heapBytes(); await eng.free();
//   (integer inputs: BigInt64Array or Int32Array; bench's vary refills them before every run, over opts.intRange)
//
// onnxruntime-web fixes its thread count when its wasm starts, so every loadOrt in worker mode gets a fresh Worker
// (this same module, started as a Worker named 'tandem-ort'); in main-thread mode only the first thread count asked
// for in a page is honoured, and a different one is an error (use one page per thread count).
// Timings: fetch_ms is the model download; compile_ms is onnxruntime's wasm start (measured by creating a one-node
// Identity session first, since the package has no separate init call); load_ms is creating the model's session.
// Heap: onnxruntime does not expose its wasm memory, so the WebAssembly.Memory objects created in this realm while
// it starts are recorded (the worker realm holds nothing else; on the main thread the constructor is wrapped).
// Running in a Worker or on the page is engine-host.mjs's, shared with tandem.mjs.
import { engineHandle, hostEngine, isEngineWorker, modelSource, serveEngine, summarize } from './engine-host.mjs';

const now = () => performance.now();
const memories = [];
let ortPromise = null, ortThreads = 0;

/* Record every WebAssembly.Memory this realm creates from now on (onnxruntime's threaded build creates its shared
 * memory with the constructor). Installed once, before onnxruntime loads. */
function watchMemories() {
  if (WebAssembly.Memory.__tdmWatched) return;
  const Orig = WebAssembly.Memory;
  const Watched = new Proxy(Orig, {
    construct(target, args, newTarget) {
      const m = Reflect.construct(target, args, newTarget === Watched ? target : newTarget);
      memories.push(m);
      return m;
    },
  });
  Object.defineProperty(Watched, '__tdmWatched', { value: true });
  WebAssembly.Memory = Watched;
  for (const k of ['instantiate', 'instantiateStreaming']) {
    const orig = WebAssembly[k];
    if (!orig) continue;
    WebAssembly[k] = async function (...a) {
      const r = await orig.apply(this, a);
      const inst = r.instance || r;
      const mem = inst.exports && inst.exports.memory;
      if (mem instanceof Orig && !memories.includes(mem)) memories.push(mem);
      return r;
    };
  }
}

function heapNow() {
  let b = 0;
  for (const m of memories) b = Math.max(b, m.buffer.byteLength);
  return b;
}

// ---- a one-node ONNX model (Identity on float[1]) to start onnxruntime's wasm without the real model ---------------

function pbVarint(n) {
  const out = [];
  while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}
const pbLen = (field, bytes) => [...pbVarint(field * 8 + 2), ...pbVarint(bytes.length), ...bytes];
const pbInt = (field, v) => [...pbVarint(field * 8), ...pbVarint(v)];
const pbStr = (field, s) => pbLen(field, [...new TextEncoder().encode(s)]);
function identityModel() {
  const vinfo = (name) => [...pbStr(1, name), ...pbLen(2, pbLen(1, [...pbInt(1, 1), ...pbLen(2, pbLen(1, pbInt(1, 1)))]))];
  const node = [...pbStr(1, 'x'), ...pbStr(2, 'y'), ...pbStr(4, 'Identity')];
  const graph = [...pbLen(1, node), ...pbStr(2, 'g'), ...pbLen(11, vinfo('x')), ...pbLen(12, vinfo('y'))];
  return new Uint8Array([...pbInt(1, 7), ...pbLen(8, [...pbStr(1, ''), ...pbInt(2, 13)]), ...pbLen(7, graph)]);
}

/* Import onnxruntime-web and start its wasm with `threads` threads: {ort, compileMs}. */
async function startOrt(threads) {
  if (ortPromise) {
    if (threads !== ortThreads)
      throw new Error(`onnxruntime-web already started with ${ortThreads} thread(s) in this page; it cannot change (use worker mode or a new page)`);
    return ortPromise;
  }
  ortThreads = threads;
  ortPromise = (async () => {
    watchMemories();
    const c0 = now();
    const ort = await import(new URL('./vendor/ort/ort.wasm.min.mjs', import.meta.url).href);
    ort.env.wasm.wasmPaths = new URL('./vendor/ort/', import.meta.url).href;
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    const probe = await ort.InferenceSession.create(identityModel(), { executionProviders: ['wasm'] });
    await probe.release();
    return { ort, compileMs: now() - c0 };
  })();
  return ortPromise;
}

/* The engine core (synchronous-looking methods returning promises), the same shape as tandem-worker.mjs's. */
export async function openOrt({ threads, bytes, url }) {
  threads = Math.max(1, threads | 0);
  const t0 = now();
  let fetchMs = 0;
  const fetching = bytes ? Promise.resolve(bytes) : (async () => {
    const f0 = now();
    const res = await fetch(url);
    if (!res.ok) throw new Error(`fetching the model ${url}: HTTP ${res.status}`);
    const b = new Uint8Array(await res.arrayBuffer());
    fetchMs = now() - f0;
    return b;
  })();
  const [modelBytes, { ort, compileMs }] = await Promise.all([fetching, startOrt(threads)]);
  const l0 = now();
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const loadMs = now() - l0;
  const meta = (list, names) => names.map((name, i) => {
    const m = list && list[i];
    return { name, dims: m && m.shape ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : [], type: (m && m.type) || 'float32' };
  });
  const inputs = meta(session.inputMetadata, session.inputNames), outputs = meta(session.outputMetadata, session.outputNames);
  let peak = heapNow(), firstRunMs = null, closed = false;
  const heap = () => {
    const h = heapNow();
    if (h > peak) peak = h;
    return { heap_bytes: h, peak_heap_bytes: peak };
  };
  const feeds = (list) => {
    if (!Array.isArray(list) || list.length !== inputs.length)
      throw new Error(`the model takes ${inputs.length} input(s); got ${Array.isArray(list) ? list.length : 'no array'}`);
    const f = {};
    list.forEach((x, i) => {
      const t = inputs[i].type; // int64 inputs take BigInt64Array or Int32Array data, as tandem.mjs's do
      const data = t === 'int64' && !(x.data instanceof BigInt64Array) ? BigInt64Array.from(x.data, (v) => BigInt(v))
        : t === 'int32' && !(x.data instanceof Int32Array) ? Int32Array.from(x.data, (v) => Number(v)) : x.data;
      f[inputs[i].name] = new ort.Tensor(t === 'int64' || t === 'int32' ? t : 'float32', data, Array.from(x.dims));
    });
    return f;
  };
  /* New values for the integer inputs before a run (bench's vary): uniform in intRange[name] = [lo, hi), else [0, 2)
   * (onnxruntime does not say which table an input indexes, so the caller passes the ranges tandem finds itself). */
  let varyState = 12345;
  const refillInts = (f, intRange) => {
    for (const x of inputs) {
      const t = f[x.name];
      if (x.type !== 'int64' && x.type !== 'int32') continue;
      const [lo, hi] = (intRange && intRange[x.name]) || [0, 2];
      for (let k = 0; k < t.data.length; k++) {
        varyState = (Math.imul(varyState, 1664525) + 1013904223) >>> 0;
        const v = lo + Math.floor((varyState / 4294967296) * (hi - lo));
        t.data[k] = x.type === 'int64' ? BigInt(v) : v;
      }
    }
  };
  const runOnce = async (f) => {
    const r0 = now();
    const res = await session.run(f);
    return { res, ms: now() - r0 };
  };
  const live = () => { if (closed) throw new Error('this engine has been freed'); };
  return {
    info: {
      build: 'ort-web', inputs,
      // without cross-origin isolation onnxruntime-web runs one thread whatever numThreads says
      threads: globalThis.crossOriginIsolated === true ? ort.env.wasm.numThreads : 1, outputs, modelBytes: modelBytes.byteLength,
      kernelIsa: 'onnxruntime-web ' + (ort.env.versions && ort.env.versions.web),
      timings: { fetch_ms: fetchMs, compile_ms: compileMs, load_ms: loadMs, total_ms: now() - t0 },
    },
    async run(list) {
      live();
      const { res, ms } = await runOnce(feeds(list));
      if (firstRunMs === null) firstRunMs = ms;
      heap();
      const outs = outputs.map((o) => {
        const t = res[o.name];
        return { name: o.name, dims: Array.from(t.dims), data: Float32Array.from(t.data) };
      });
      for (const t of Object.values(res)) t.dispose?.();
      return { outputs: outs, run_ms: ms };
    },
    async bench(list, { runs = 50, warmup = 5, vary = false, intRange = null } = {}) {
      live();
      const f = feeds(list);
      const times = [];
      for (let i = 0; i < 1 + warmup + runs; i++) {
        if (vary && i > 0) refillInts(f, intRange);
        const { res, ms } = await runOnce(f);
        for (const t of Object.values(res)) t.dispose?.();
        if (i === 0 && firstRunMs === null) firstRunMs = ms;
        if (i > warmup) times.push(ms);
      }
      heap();
      return summarize(times, firstRunMs);
    },
    async heapBytes() { return heap(); },
    async free() {
      if (closed) return;
      closed = true;
      await session.release();
    },
  };
}

/* loadOrt(bytesOrUrl, {threads, worker}): the same fields and methods as tandem.mjs's load(). */
export async function loadOrt(modelBytesOrUrl, opts = {}) {
  const t0 = now();
  const threads = Math.max(1, Math.floor(Number(opts.threads ?? 1)) || 1);
  const worker = opts.worker !== false;
  const src = modelSource(modelBytesOrUrl);
  const isolated = globalThis.crossOriginIsolated === true;
  const reason = `onnxruntime-web ${worker ? 'in a worker' : 'on the main thread'}; crossOriginIsolated: ${isolated}, threads ${threads} requested`;
  const { info, call, terminate } = await hostEngine({
    worker, workerUrl: new URL('./baseline-ort.mjs', import.meta.url), workerName: 'tandem-ort',
    loadArgs: { threads }, src, openCore: openOrt });
  return engineHandle(call, terminate, {
    build: 'ort-web', buildReason: reason, threads: info.threads, mode: worker ? 'worker' : 'main',
    inputs: info.inputs, outputs: info.outputs, timings: { ...info.timings, total_ms: now() - t0 },
    modelBytes: info.modelBytes, kernelIsa: info.kernelIsa,
  });
}

// ---- the Worker side (a worker that loadOrt started) ---------------------------------------------------------------

if (isEngineWorker('tandem-ort')) serveEngine(openOrt);
