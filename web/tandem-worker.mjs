// tandem-worker.mjs - the engine side of web/tandem.mjs: loads one of the two emscripten builds (wasm/tandem-simd.mjs
// or wasm/tandem-simd-mt.mjs), opens a model through the C exports of src/wasm/tandem_wasm.c and runs it. Started as
// a module Worker it answers tandem.mjs's messages ({id, op, ...} -> {id, ok, result | error}); imported on the page
// (main-thread mode) the same openEngine() is called directly, so both modes run identical code. The protocol and
// the summary of timed runs are engine-host.mjs's, shared with baseline-ort.mjs.
import { isEngineWorker, serveEngine, summarize } from './engine-host.mjs';

const DTYPES = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64' };

const now = () => performance.now();

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching the model ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/* Load the build's module factory and instantiate it. The threaded build pre-starts threads-1 pthread workers (the
 * engine's pool runs T-1 workers beside the calling thread, and pthread_create cannot wait for a worker to load
 * without returning to the event loop), and at least one: emscripten 3.1.6's loader waits for the pool's workers to
 * load before it resolves, and with an empty pool that wait never ends. */
async function instantiate(build, threads, wasmBase) {
  const url = new URL(`tandem-${build}.mjs`, wasmBase);
  const { default: factory } = await import(url.href);
  const args = { print: (s) => console.log(s), printErr: (s) => console.warn(s) };
  if (build === 'simd-mt') {
    args.tdmPoolSize = Math.max(threads - 1, 1);
    args.mainScriptUrlOrBlob = url.href;
  }
  return factory(args);
}

/* Open an engine: {build: 'simd' | 'simd-mt', threads, bytes (Uint8Array) | url, wasmBase}. Returns the core object
 * that tandem.mjs wraps (every method synchronous). */
export async function openEngine({ build, threads, bytes, url, wasmBase }) {
  if (build !== 'simd' && build !== 'simd-mt') throw new Error(`unknown build '${build}'`);
  threads = build === 'simd' ? 1 : Math.max(1, threads | 0);
  const t0 = now();
  let fetchMs = 0, compileMs = 0;
  // the model download and the wasm compile overlap; each phase reports its own duration
  const fetching = bytes ? Promise.resolve(bytes) : (async () => {
    const f0 = now();
    const b = await fetchBytes(url);
    fetchMs = now() - f0;
    return b;
  })();
  const compiling = (async () => {
    const c0 = now();
    const m = await instantiate(build, threads, wasmBase);
    compileMs = now() - c0;
    return m;
  })();
  const [modelBytes, mod] = await Promise.all([fetching, compiling]);
  const C = {};
  for (const k of ['open', 'open_owned', 'close', 'last_error', 'kernel_isa', 'threads', 'load_ms', 'num_inputs', 'num_outputs',
    'io_name', 'io_dtype', 'io_rank', 'io_dim', 'set_input_shape', 'input_data', 'input_numel', 'run', 'run_ms',
    'output_rank', 'output_dim', 'output_data', 'output_numel', 'bench', 'heap_bytes'])
    C[k] = mod[`_tdmw_${k}`];
  const str = (p) => (p ? mod.UTF8ToString(p) : '');
  const lastError = () => str(C.last_error()) || 'unknown error';
  // views are made fresh for each access, since memory may have grown: the threaded build's shared memory is
  // Module.wasmMemory (an old SharedArrayBuffer keeps its old size); the other build refreshes Module.HEAPU8 itself
  const memory = () => (mod.wasmMemory ? mod.wasmMemory.buffer : mod.HEAPU8.buffer);
  let peakHeap = 0;
  const heap = () => {
    const h = C.heap_bytes();
    if (h > peakHeap) peakHeap = h;
    return { heap_bytes: h, peak_heap_bytes: peakHeap };
  };

  // load: copy the file into the heap and open it (parse, optimise, plan); open_owned frees the copy as soon as it is
  // parsed, before the weights are folded and transformed, so they reuse that space (the wasm heap never shrinks)
  const l0 = now();
  const n = modelBytes.byteLength;
  const buf = mod._malloc(n);
  if (!buf) throw new Error(`out of memory copying a ${n}-byte model into the wasm heap`);
  new Uint8Array(memory(), buf, n).set(modelBytes);
  const h = C.open_owned(buf, n, threads, 0); // frees buf, also on failure
  if (!h) throw new Error(`loading the model: ${lastError()}`);
  const loadMs = now() - l0;
  heap();

  const ioList = (isOut) => {
    const count = isOut ? C.num_outputs(h) : C.num_inputs(h);
    const list = [];
    for (let i = 0; i < count; i++) {
      const rank = C.io_rank(h, isOut, i), dims = [];
      for (let d = 0; d < rank; d++) dims.push(C.io_dim(h, isOut, i, d));
      list.push({ name: str(C.io_name(h, isOut, i)), dims, type: DTYPES[C.io_dtype(h, isOut, i)] || 'unknown' });
    }
    return list;
  };
  const inputs = ioList(0), outputs = ioList(1);
  const shapes = inputs.map(() => null); // the shape last set, per input
  let firstRunMs = null, closed = false;

  const live = () => { if (closed) throw new Error('this engine has been freed'); };
  const setInputs = (list) => {
    if (!Array.isArray(list) || list.length !== inputs.length)
      throw new Error(`the model takes ${inputs.length} input(s); got ${Array.isArray(list) ? list.length : 'no array'}`);
    list.forEach((inp, i) => {
      const dims = Array.from(inp.dims || []);
      if (!(inp.data instanceof Float32Array)) throw new Error(`input ${i} ('${inputs[i].name}'): data must be a Float32Array`);
      const numel = dims.reduce((a, b) => a * b, 1);
      if (!dims.every((d) => Number.isInteger(d) && d > 0) || numel !== inp.data.length)
        throw new Error(`input ${i} ('${inputs[i].name}'): dims [${dims}] do not match ${inp.data.length} values`);
      if (!shapes[i] || shapes[i].join() !== dims.join()) {
        const p = mod._malloc(4 * Math.max(dims.length, 1));
        new Int32Array(memory(), p, dims.length).set(dims);
        const st = C.set_input_shape(h, i, p, dims.length);
        mod._free(p);
        if (st) throw new Error(`input ${i} ('${inputs[i].name}') shape [${dims}]: ${lastError()}`);
        shapes[i] = dims;
      }
      const dst = C.input_data(h, i);
      if (!dst) throw new Error(`input ${i}: ${lastError()}`);
      new Float32Array(memory(), dst, numel).set(inp.data);
    });
  };
  const readOutputs = () => outputs.map((o, i) => {
    const rank = C.output_rank(h, i), dims = [];
    for (let d = 0; d < rank; d++) dims.push(C.output_dim(h, i, d));
    const p = C.output_data(h, i), numel = C.output_numel(h, i);
    if (!p || numel < 0) throw new Error(`output ${i}: ${lastError()}`);
    return { name: o.name, dims, data: new Float32Array(memory(), p, numel).slice() };
  });

  return {
    info: {
      build, threads: C.threads(h), inputs, outputs, modelBytes: n, kernelIsa: str(C.kernel_isa()),
      timings: { fetch_ms: fetchMs, compile_ms: compileMs, load_ms: loadMs, total_ms: now() - t0,
        engine_load_ms: C.load_ms(h) },
    },
    run(list) {
      live();
      setInputs(list);
      if (C.run(h)) throw new Error(`run: ${lastError()}`);
      const runMs = C.run_ms(h);
      if (firstRunMs === null) firstRunMs = runMs;
      heap();
      return { outputs: readOutputs(), run_ms: runMs };
    },
    /* first run (the engine's very first, cold, when nothing ran before), warmup, then `runs` timed runs, all here */
    bench(input, { runs = 50, warmup = 5 } = {}) {
      live();
      runs = Math.max(1, runs | 0);
      warmup = Math.max(0, warmup | 0);
      setInputs([input]);
      const times = mod._malloc(8 * runs), first = mod._malloc(8);
      const st = C.bench(h, runs, warmup, times, first);
      const out = Array.from(new Float64Array(memory(), times, runs));
      const firstMs = new Float64Array(memory(), first, 1)[0];
      mod._free(times);
      mod._free(first);
      if (st) throw new Error(`bench: ${lastError()}`);
      if (firstRunMs === null) firstRunMs = firstMs;
      heap();
      return summarize(out, firstRunMs);
    },
    heapBytes() { return closed ? { heap_bytes: 0, peak_heap_bytes: peakHeap } : heap(); },
    free() {
      if (closed) return;
      closed = true;
      C.close(h);
    },
  };
}

// ---- the Worker side -----------------------------------------------------------------------------------------------

// Only a worker that tandem.mjs started (named 'tandem-engine') answers: other workers may import this module too.
if (isEngineWorker('tandem-engine')) serveEngine(openEngine);
