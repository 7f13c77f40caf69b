// result-doc.mjs - the result documents the page measures and sends: tandem.result/1 (one benchmark configuration)
// and tandem.verdict/1 (the device run's cloud path and verdict for one model), whose fields docs/RESULTS.md defines
// (keep the two in step). Builds them from what was measured, describes the device, and POSTs documents to the
// server's results store (POST /api/results). No page state, no DOM.

// A one-function module returning a v128 constant: validates only where WebAssembly SIMD128 is supported.
const SIMD_PROBE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  10, 22, 1, 20, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b]);

/* What this browser offers tandem: the facts the page shows and the document's "device" is made from. */
export function deviceFacts() {
  let simd = false, sharedMemory = false;
  try { simd = WebAssembly.validate(SIMD_PROBE); } catch { simd = false; }
  try {
    sharedMemory = typeof SharedArrayBuffer !== 'undefined' &&
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch { sharedMemory = false; }
  return {
    user_agent: navigator.userAgent,
    platform: navigator.userAgentData?.platform || navigator.platform || '',
    hardware_concurrency: navigator.hardwareConcurrency || 1,
    device_memory: navigator.deviceMemory ?? null,
    cross_origin_isolated: !!self.crossOriginIsolated,
    wasm_simd: simd,
    wasm_threads: sharedMemory && !!self.crossOriginIsolated,
    measure_memory: typeof performance.measureUserAgentSpecificMemory === 'function',
  };
}

/* The document's "device": the browser's facts and the label the user gave this device (or null). */
function resultDevice(label) {
  const f = deviceFacts();
  return { user_agent: f.user_agent, hardware_concurrency: f.hardware_concurrency, device_memory: f.device_memory,
           platform: f.platform, label: label || null, cross_origin_isolated: f.cross_origin_isolated };
}

/* One configuration's tandem.result/1 document (docs/RESULTS.md). m: what was measured
 *   engine 'tandem' | 'ort', eng (the loaded engine: build, threads, timings, buildReason, modelBytes), mode,
 *   build and threads (as requested), runs, warmup, model {name, bytes}, input {dims}, inputDesc, bench
 *   (eng.bench's figures), frames (smoothness.mjs's), heap (eng.heapBytes()), ua (the answer of
 *   measureUserAgentSpecificMemory, or null), uaNote, top (top-5), loadWallMs, label (the device label). */
export function resultDocument(m) {
  const { eng, bench: b, frames, heap, ua } = m;
  const modelBytes = eng.modelBytes || m.model.bytes;
  const t = eng.timings || {};
  const setup = t.total_ms ?? ((t.fetch_ms || 0) + (t.compile_ms || 0) + (t.load_ms || 0));
  const figures = {
    setup_ms: setup, fetch_ms: t.fetch_ms, compile_ms: t.compile_ms, load_ms: t.load_ms,
    first_run_ms: b.first_run_ms, p50_ms: b.p50_ms, p90_ms: b.p90_ms, p99_ms: b.p99_ms, mean_ms: b.mean_ms,
    throughput_ips: b.throughput_ips,
    heap_bytes: heap.heap_bytes, peak_heap_bytes: heap.peak_heap_bytes,
    memory_ratio: modelBytes ? (heap.peak_heap_bytes ?? heap.heap_bytes) / modelBytes : null,
    fps: frames.fps, frame_p95_ms: frames.frame_p95_ms, long_frames: frames.long_frames,
  };
  if (ua) {
    figures.ua_memory_bytes = ua.bytes;
    figures.ua_memory_ratio = modelBytes ? ua.bytes / modelBytes : null;
  }
  return {
    schema: 'tandem.result/1',
    source: 'browser',
    created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    device: resultDevice(m.label),
    model: { name: m.model.name, bytes: modelBytes },
    engine: m.engine === 'tandem' ? 'tandem-wasm' : 'onnxruntime-web',
    build: eng.build,
    threads: eng.threads,
    batch: m.input.dims[0],
    mode: m.mode === 'main' ? 'main' : 'worker',
    figures,
    runs: m.runs,
    extra: {
      warmup: m.warmup,
      build_requested: m.engine === 'tandem' ? m.build : null,
      threads_requested: m.threads,
      build_reason: eng.buildReason || null,
      input: m.inputDesc,
      input_dims: m.input.dims,
      top5: m.top,
      times_ms: b.times_ms,
      frame_times_ms: frames.frame_times_ms.map((x) => Math.round(x * 100) / 100),
      frames: frames.frames,
      frame_p50_ms: frames.frame_p50_ms,
      frame_max_ms: frames.frame_max_ms,
      smoothness_window_ms: frames.window_ms,
      load_wall_ms: m.loadWallMs,
      ua_memory: ua ? { bytes: ua.bytes, breakdown: (ua.breakdown || []).filter((x) => x.bytes > 0)
        .map((x) => ({ bytes: x.bytes, types: x.types })) } : null,
      ua_memory_note: m.uaNote || null,
      page: location.pathname,
    },
  };
}

/* One model's tandem.verdict/1 document (docs/RESULTS.md) from the device run: v = {model {name, bytes}, label,
 *   network (cloud.mjs measureRtt's answer + navigator.connection's hints), cloud (cloud.mjs summarise's rows),
 *   onDevice (the tandem-wasm figures compared), inputs (the decision's inputs), verdict (decision.mjs decide's
 *   answer + its text), requests (every request), suite, inputDesc, inputDims}. */
export function verdictDocument(v) {
  return {
    schema: 'tandem.verdict/1',
    source: 'browser',
    created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    device: resultDevice(v.label),
    model: { name: v.model.name, bytes: v.model.bytes },
    engine: 'tandem-wasm',
    threads: v.onDevice.threads,
    network: v.network,
    cloud: { endpoint: location.origin, ...v.cloud },
    on_device: v.onDevice,
    decision_inputs: v.inputs,
    verdict: v.verdict,
    extra: { input: v.inputDesc, input_dims: v.inputDims, requests: v.requests, suite: v.suite ?? null,
             page: location.pathname },
  };
}

// POST one result document to /api/results: {ok, status, text, id (what the store answered: 201 {"id": N})}.
// A server without the store (the static dev server) answers 404/405/501: `unsupported` says so.
export async function postResult(doc) {
  try {
    const resp = await fetch('api/results', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                              body: JSON.stringify(doc) });
    const text = await resp.text();
    if (resp.status === 404 || resp.status === 405 || resp.status === 501) {
      return { ok: false, status: resp.status, unsupported: true,
               text: `this server does not accept results (POST /api/results → HTTP ${resp.status}). ` +
                     'Serve the page with `tandem serve` to collect them, or download the JSON instead.' };
    }
    let id = null;
    try { id = JSON.parse(text).id ?? null; } catch { id = null; }
    return { ok: resp.ok, status: resp.status, text: text.slice(0, 300), id };
  } catch (e) {
    return { ok: false, status: 0, text: `could not reach the server: ${e.message}` };
  }
}
