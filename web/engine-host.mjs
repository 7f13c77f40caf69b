// engine-host.mjs - what web/tandem.mjs (tandem's wasm engine) and web/baseline-ort.mjs (onnxruntime-web) share:
// running an engine core either in a module Worker or on the page's own thread behind one handle, the message
// protocol between the two sides ({id, op, ...} -> {id, ok, result | error}), and the summary of timed runs.
//
// An engine core is what openEngine (tandem-worker.mjs) and openOrt (baseline-ort.mjs) return: {info, run(inputs),
// bench(inputs, opts), heapBytes(), free()}, methods synchronous or async. The page side calls hostEngine(); the
// Worker side (the same module file, started as a Worker with a name) calls serveEngine().

const now = () => performance.now();

/* Nearest-rank percentile of an ascending array (the rule of `tandem bench` and bench/lib.mjs). */
export function percentile(sorted, p) {
  let k = Math.ceil((p / 100) * sorted.length) - 1;
  if (k < 0) k = 0;
  if (k >= sorted.length) k = sorted.length - 1;
  return sorted[k];
}

/* Summary figures of a list of per-run times, named as in the result document (docs/RESULTS.md). */
export function summarize(times, firstRunMs) {
  const s = [...times].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    first_run_ms: firstRunMs, times_ms: times, p50_ms: percentile(s, 50), p90_ms: percentile(s, 90),
    p99_ms: percentile(s, 99), mean_ms: mean, throughput_ips: mean > 0 ? 1000 / mean : 0,
  };
}

/* Bytes (ArrayBuffer, typed array) pass through; strings and URLs are resolved against the page. */
export function modelSource(src) {
  if (src instanceof ArrayBuffer) return { bytes: new Uint8Array(src) };
  if (ArrayBuffer.isView(src)) return { bytes: new Uint8Array(src.buffer, src.byteOffset, src.byteLength) };
  if (typeof src === 'string' || src instanceof URL) return { url: new URL(String(src), globalThis.location?.href).href };
  throw new Error('load(): pass the model as an ArrayBuffer, a typed array or a URL');
}

/* A module Worker speaking the protocol, named so the module knows to answer: call(op, args, transfer) -> Promise of
 * the result. */
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

/* Open an engine core in a Worker (worker true: the module at workerUrl, started with the name workerName, gets
 * {op: 'load', ...loadArgs}) or on this thread (openCore(loadArgs)). src is modelSource()'s {bytes} or {url}; the
 * caller keeps its bytes (they are copied into the message, not transferred). Returns {info, call, terminate}. */
export async function hostEngine({ worker, workerUrl, workerName, loadArgs, src, openCore }) {
  const args = { ...loadArgs, ...(src.bytes ? { bytes: worker ? src.bytes.slice() : src.bytes } : { url: src.url }) };
  if (worker) {
    const ch = workerChannel(workerUrl, workerName);
    try {
      return { info: await ch.call('load', args), call: ch.call, terminate: ch.terminate };
    } catch (err) {
      ch.terminate();
      throw err;
    }
  }
  const core = await openCore(args);
  const fns = { run: (a) => core.run(a.inputs), bench: (a) => core.bench(a.inputs, a.opts), heap: () => core.heapBytes(),
    free: () => core.free() };
  return { info: core.info, call: async (op, a = {}) => fns[op](a), terminate: () => {} };
}

/* The object load() and loadOrt() return: the facts, plus run/bench/heapBytes/free, each a message to the engine's
 * channel (`call`); free() also ends the worker (`terminate`). */
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
    /* input: one {data, dims}, or a list of them (every input of the model, in order); vary: new integer inputs
     * (ids over intRange or their table) before every run, outside the timing */
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

// ---- the Worker side -----------------------------------------------------------------------------------------------

/* True in a Worker started by workerChannel(url, name): other workers may import the same module. */
export function isEngineWorker(name) {
  return typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && self.name === name;
}

/* Answer the page's requests in this worker, one message at a time and in order: handle(msg) returns the result, or
 * {result, transfer} to move buffers; a throw becomes {ok: false, error}. */
export function serveRequests(handle) {
  let queue = Promise.resolve();
  self.onmessage = (e) => {
    const msg = e.data;
    queue = queue.then(async () => {
      try {
        const r = await handle(msg);
        if (r && r.transfer) self.postMessage({ id: msg.id, ok: true, result: r.result }, r.transfer);
        else self.postMessage({ id: msg.id, ok: true, result: r });
      } catch (err) {
        self.postMessage({ id: msg.id, ok: false, error: String(err && err.message ? err.message : err) });
      }
    });
  };
}

/* Serve one engine core in this worker: 'load' opens it with openCore(msg), then run / bench / heap / free. */
export function serveEngine(openCore) {
  let core = null;
  const loaded = () => { if (!core) throw new Error('no engine loaded'); return core; };
  serveRequests(async (msg) => {
    switch (msg.op) {
    case 'load':
      if (core) throw new Error('this worker already holds an engine');
      core = await openCore(msg);
      return core.info;
    case 'run': {
      const r = await loaded().run(msg.inputs);
      return { result: r, transfer: r.outputs.map((o) => o.data.buffer) };
    }
    case 'bench':
      return loaded().bench(msg.inputs, msg.opts || {});
    case 'heap':
      return loaded().heapBytes();
    case 'free':
      if (core) await core.free();
      return true;
    default:
      throw new Error(`unknown request '${msg.op}'`);
    }
  });
}
