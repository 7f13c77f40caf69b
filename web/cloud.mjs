// cloud.mjs - the cloud path measured from this browser against the server that served the page (tandem serve, or
// any server with the same endpoints): an image classifier's picture to /v2/models/<name>/classify, any other
// model's tensors through KServe v2 /v2/models/<name>/infer with the binary tensor extension; each request split by
// the Resource Timing API (connection, wait for the first byte, download) and the server's Server-Timing header
// (queue, preprocess, infer, postprocess); the round-trip time from small requests to /v2/health/ready. Used by the
// page's device run (crowd-view.mjs) and by `tandem study`'s browser driver (scripts/study-browser.mjs imports it
// into its page), so both measure the cloud path the same way. stats() runs in Node too.

const KSERVE_DTYPE = { float32: 'FP32', int64: 'INT64', int32: 'INT32', uint8: 'UINT8', bool: 'BOOL', int8: 'INT8',
                       float64: 'FP64' };

/* {median, p25, p75, min, max, n} of a list of numbers (NaN and null left out), or null for none. */
export function stats(values) {
  const s = values.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b), n = s.length;
  if (!n) return null;
  return {
    median: n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]),
    p25: s[Math.floor((n - 1) / 4)], p75: s[Math.floor((3 * (n - 1) + 3) / 4)], min: s[0], max: s[n - 1], n,
  };
}

/* A /classify request: the encoded image (PNG/JPEG bytes) as the body; the server decodes and normalises. */
export function classifyRequest(model, imageBytes, tag, type = 'image/png') {
  return { path: 'classify', url: `v2/models/${encodeURIComponent(model)}/classify?top=5&study=${tag}`,
           body: imageBytes, headers: { 'Content-Type': type } };
}

/* A KServe v2 /infer request with the binary tensor extension: a JSON header of Inference-Header-Content-Length
 * bytes, then every input's raw bytes; the outputs come back binary too. inputs: [{name, dtype, data, dims}]. */
export function inferRequest(model, inputs, tag) {
  const head = new TextEncoder().encode(JSON.stringify({
    inputs: inputs.map((x) => {
      const datatype = KSERVE_DTYPE[x.dtype];
      if (!datatype) throw new Error(`input '${x.name}': type ${x.dtype} has no KServe v2 datatype here`);
      return { name: x.name, shape: x.dims, datatype, parameters: { binary_data_size: x.data.byteLength } };
    }),
    parameters: { binary_data_output: true },
  }));
  const body = new Uint8Array(head.length + inputs.reduce((a, x) => a + x.data.byteLength, 0));
  body.set(head, 0);
  let off = head.length;
  for (const x of inputs) {
    body.set(new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength), off);
    off += x.data.byteLength;
  }
  return { path: 'infer', url: `v2/models/${encodeURIComponent(model)}/infer?study=${tag}`, body,
           headers: { 'Content-Type': 'application/octet-stream',
                      'Inference-Header-Content-Length': String(head.length) } };
}

// The Resource Timing entry of a URL just fetched (it appears once the body is read; give it a few ticks). The
// browser keeps 250 entries by default and drops later ones, so a long session would fall back to the wall clock:
// make room first.
async function timingEntry(href) {
  for (let i = 0; i < 5; i++) {
    const e = performance.getEntriesByName(href).pop();
    if (e) return e;
    await new Promise((r) => setTimeout(r, 0));
  }
  return null;
}

// The top-1 of an answer: /classify's first class, or the argmax of /infer's first output's first row.
function answerTop1(path, buf, headerLength) {
  try {
    const hl = Number(headerLength ?? buf.length);
    const j = JSON.parse(new TextDecoder().decode(buf.subarray(0, hl)));
    if (path === 'classify') {
      const list = j.top ?? j.predictions ?? j.results ?? j.classes ?? (Array.isArray(j) ? j : []);
      const f = Array.isArray(list) ? list[0] : undefined;
      return f?.index ?? f?.class ?? f?.id ?? -1;
    }
    const o = j.outputs?.[0], k = o?.shape?.[o.shape.length - 1] ?? 0;
    const row = o?.parameters?.binary_data_size != null ? new Float32Array(buf.slice(hl, hl + 4 * k).buffer)
      : (o?.data ?? []).slice(0, k);
    let top1 = -1, mx = -Infinity;
    for (let c = 0; c < row.length; c++) if (row[c] > mx) { mx = row[c]; top1 = c; }
    return top1;
  } catch {
    return -1; // an answer that does not parse
  }
}

/* One timed request. Measured: total (Resource Timing startTime..responseEnd, else the wall clock around fetch),
 * connect (connectStart..connectEnd, 0 on a reused connection), wait (requestStart..responseStart), download
 * (responseStart..responseEnd), server (the Server-Timing parts, by name). `timing` says which clock gave them. */
export async function timedRequest(req) {
  performance.setResourceTimingBufferSize?.(100000);
  const href = new URL(req.url, location.href).href;
  const t = performance.now();
  const resp = await fetch(href, { method: 'POST', body: req.body, headers: req.headers, cache: 'no-store' });
  const buf = new Uint8Array(await resp.arrayBuffer());
  const wall = performance.now() - t;
  const e = await timingEntry(href);
  const server = {};
  for (const s of e?.serverTiming ?? []) server[s.name] = s.duration;
  const has = e && e.responseStart > 0 && e.requestStart > 0;
  return {
    status: resp.status, path: req.path, timing: has ? 'resource-timing' : 'wall-clock',
    total_ms: has ? e.responseEnd - e.startTime : wall, wall_ms: wall,
    connect_ms: has ? Math.max(0, e.connectEnd - e.connectStart) : NaN,
    ttfb_ms: has ? e.responseStart - e.requestStart : NaN, download_ms: has ? e.responseEnd - e.responseStart : NaN,
    server, server_ms: Object.values(server).reduce((a, b) => a + b, 0), server_timing: Object.keys(server).length > 0,
    request_bytes: req.body.length, response_bytes: e?.encodedBodySize || buf.length,
    top1: answerTop1(req.path, buf, resp.headers.get('Inference-Header-Content-Length')),
  };
}

/* The round-trip time to the server: `n` GETs of a cheap endpoint, each its wait for the first byte (Resource
 * Timing; the wall clock where the browser gives none). The first warms the connection and is left out. */
export async function measureRtt(n = 7, path = 'v2/health/ready') {
  performance.setResourceTimingBufferSize?.(100000);
  const samples = [];
  let timing = 'resource-timing';
  for (let i = 0; i <= n; i++) {
    const href = new URL(`${path}?rtt=${Date.now().toString(36)}-${i}`, location.href).href;
    const t = performance.now();
    const r = await fetch(href, { cache: 'no-store' });
    await r.arrayBuffer();
    const wall = performance.now() - t;
    if (!r.ok) throw new Error(`GET ${path} → HTTP ${r.status}`);
    const e = await timingEntry(href);
    const ok = e && e.responseStart > 0 && e.requestStart > 0;
    if (!ok) timing = 'wall-clock';
    if (i > 0) samples.push(ok ? e.responseStart - e.requestStart : wall);
  }
  return { rtt_ms: stats(samples), samples_ms: samples, url: path, timing };
}

/* The cloud rows of one model from its requests and the RTT: every part's spread, and which are measured and
 * which derived (upload = wait - server - RTT, never below 0). Failed requests are counted and left out. */
export function summarise(rows, rttMs) {
  const ok = rows.filter((r) => r.status === 200);
  const parts = {};
  for (const r of ok) for (const k of Object.keys(r.server)) parts[k] = stats(ok.map((x) => x.server[k] ?? 0));
  const serverTiming = ok.some((r) => r.server_timing);
  return {
    path: rows[0]?.path ?? null, requests: rows.length, errors: rows.length - ok.length,
    request_bytes: stats(ok.map((r) => r.request_bytes))?.median ?? 0,
    response_bytes: stats(ok.map((r) => r.response_bytes))?.median ?? 0,
    total_ms: stats(ok.map((r) => r.total_ms)), connect_ms: stats(ok.map((r) => r.connect_ms)),
    wait_ms: stats(ok.map((r) => r.ttfb_ms)), download_ms: stats(ok.map((r) => r.download_ms)),
    server_ms: serverTiming ? stats(ok.map((r) => r.server_ms)) : null, server_parts: parts,
    upload_ms: stats(ok.map((r) => Math.max(0, r.ttfb_ms - r.server_ms - rttMs))),
    timing: ok.every((r) => r.timing === 'resource-timing') ? 'resource-timing' : 'wall-clock',
    measured: ['total_ms', 'connect_ms', 'wait_ms', 'download_ms', ...(serverTiming ? ['server_ms'] : [])],
    derived: ['upload_ms'],
    server_timing: serverTiming,
    top1: rows.map((r) => r.top1),
  };
}
