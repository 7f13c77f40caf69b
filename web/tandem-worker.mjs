// tandem-worker.mjs - the engine side of web/tandem.mjs: loads one of the emscripten builds (wasm/tandem-simd.mjs,
// tandem-relaxed.mjs, or their threaded -mt variants), opens a model through the C exports of src/wasm/tandem_wasm.c and runs it. Started as
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

/* The emscripten builds beside this file (mk/wasm.mk): SIMD128 and relaxed SIMD, each also threaded (-mt). */
export const WASM_BUILDS = ['simd', 'simd-mt', 'relaxed', 'relaxed-mt'];

/* Load the build's module factory and instantiate it. The threaded build pre-starts threads-1 pthread workers (the
 * engine's pool runs T-1 workers beside the calling thread, and pthread_create cannot wait for a worker to load
 * without returning to the event loop), and at least one: emscripten 3.1.6's loader waits for the pool's workers to
 * load before it resolves, and with an empty pool that wait never ends. */
async function instantiate(build, threads, wasmBase) {
  const url = new URL(`tandem-${build}.mjs`, wasmBase);
  const { default: factory } = await import(url.href);
  const args = { print: (s) => console.log(s), printErr: (s) => console.warn(s) };
  if (build.endsWith('-mt')) {
    args.tdmPoolSize = Math.max(threads - 1, 1);
    args.mainScriptUrlOrBlob = url.href;
  }
  return factory(args);
}

/* Open an engine: {build: 'simd' | 'simd-mt' | 'relaxed' | 'relaxed-mt', threads, bytes (Uint8Array) | url, wasmBase}.
 * Returns the core object that tandem.mjs wraps (every method synchronous). */
export async function openEngine({ build, threads, bytes, url, wasmBase }) {
  if (!WASM_BUILDS.includes(build)) throw new Error(`unknown build '${build}'`);
  threads = build.endsWith('-mt') ? Math.max(1, threads | 0) : 1;
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
    'io_name', 'io_dtype', 'io_rank', 'io_dim', 'set_input_shape', 'input_data', 'input_index_limit', 'input_numel', 'run', 'run_ms',
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
  inputs.forEach((x, i) => { x.indexLimit = C.input_index_limit(h, i); }); // token ids: the rows of their table, or 0
  const shapes = inputs.map(() => null); // the shape last set, per input
  let firstRunMs = null, closed = false;

  const live = () => { if (closed) throw new Error('this engine has been freed'); };
  /* Token ids must index their table (the engine's Gather would refuse them mid-run); int32 inputs take int32 values. */
  const checkIds = (i, data) => {
    const hi = inputs[i].indexLimit, int32 = inputs[i].type === 'int32';
    if (!(data instanceof BigInt64Array || data instanceof Int32Array) || (!hi && !int32)) return;
    for (let k = 0; k < data.length; k++) {
      const v = Number(data[k]);
      if (hi && (v < 0 || v >= hi))
        throw new Error(`input ${i} ('${inputs[i].name}'): element ${k} is ${data[k]}, outside [0, ${hi}): the ids index a table of ${hi} rows`);
      if (int32 && (v < -2147483648 || v > 2147483647))
        throw new Error(`input ${i} ('${inputs[i].name}'): element ${k} is ${data[k]}, which does not fit int32`);
    }
  };
  const setInputs = (list) => {
    if (!Array.isArray(list) || list.length !== inputs.length)
      throw new Error(`the model takes ${inputs.length} input(s); got ${Array.isArray(list) ? list.length : 'no array'}`);
    list.forEach((inp, i) => {
      const dims = Array.from(inp.dims || []);
      const want = inputs[i].type, dt = inp.data;
      const okType = want === 'float32' ? dt instanceof Float32Array
        : (want === 'int64' || want === 'int32') ? dt instanceof BigInt64Array || dt instanceof Int32Array : false;
      if (!okType)
        throw new Error(`input ${i} ('${inputs[i].name}') is ${want}: data must be ${want === 'float32' ? 'a Float32Array'
          : want === 'int64' || want === 'int32' ? 'a BigInt64Array or an Int32Array' : 'of a type JS cannot set'}`);
      const numel = dims.reduce((a, b) => a * b, 1);
      if (!dims.every((d) => Number.isInteger(d) && d > 0) || numel !== dt.length)
        throw new Error(`input ${i} ('${inputs[i].name}'): dims [${dims}] do not match ${dt.length} values`);
      checkIds(i, dt);
      if (!shapes[i] || shapes[i].join() !== dims.join()) {
        const p = mod._malloc(4 * Math.max(dims.length, 1));
        new Int32Array(memory(), p, dims.length).set(dims);
        const st = C.set_input_shape(h, i, p, dims.length);
        mod._free(p);
        if (st) throw new Error(`input ${i} ('${inputs[i].name}') shape [${dims}]: ${lastError()}`);
        shapes[i] = dims;
      }
    });
    // the values once every shape is set (a new shape replans, and the plan's buffers hold nothing yet)
    list.forEach((inp, i) => {
      const dst = C.input_data(h, i), numel = inp.data.length, want = inputs[i].type;
      if (!dst) throw new Error(`input ${i}: ${lastError()}`);
      if (want === 'float32') new Float32Array(memory(), dst, numel).set(inp.data);
      else if (want === 'int64') {
        const view = new BigInt64Array(memory(), dst, numel);
        if (inp.data instanceof BigInt64Array) view.set(inp.data);
        else for (let k = 0; k < numel; k++) view[k] = BigInt(inp.data[k]);
      } else {
        const view = new Int32Array(memory(), dst, numel);
        if (inp.data instanceof Int32Array) view.set(inp.data);
        else for (let k = 0; k < numel; k++) view[k] = Number(inp.data[k]); // checkIds bounded them
      }
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
    /* first run (the engine's very first, cold, when nothing ran before), warmup, then `runs` timed runs, all here;
     * with vary, integer inputs get new values before every run, outside the timing (ids over their table) */
    bench(list, { runs = 50, warmup = 5, vary = false } = {}) {
      live();
      runs = Math.max(1, runs | 0);
      warmup = Math.max(0, warmup | 0);
      setInputs(list);
      const times = mod._malloc(8 * runs), first = mod._malloc(8);
      const st = C.bench(h, runs, warmup, vary ? 1 : 0, times, first);
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
