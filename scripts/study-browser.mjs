#!/usr/bin/env node
// study-browser.mjs - the browser half of `tandem study` (which starts it; a browser demands JS). It drives headless
// Debian Chromium through playwright-core against the study's own `tandem serve`, and measures:
//   client   tandem's wasm build through web/tandem.mjs at each thread count, on this machine and under CDP CPU
//            throttling (stand-ins for weaker devices): set-up (fetch, compile, load), first run, steady-state
//            runs, and per image the browser's own preprocessing (canvas decode + normalise), inference and
//            probability (softmax + top-5), with the top-1 for the agreement check;
//            with --baseline ort (plan.baseline_ort) onnxruntime-web (web/baseline-ort.mjs) the same way, unthrottled;
//   qoe      a requestAnimationFrame animation idle, then while the engine infers in a worker and on the main thread;
//   cloud    the page POSTing each image to /v2/models/<name>/classify under CDP network emulation, every request
//            split by Resource Timing and the server's Server-Timing header.
//   node scripts/study-browser.mjs --plan plan.json --out browser.json
// The plan comes from `tandem study` (src/study/study.c); the output is read back by it. Progress goes to stderr.
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { stats } from '../web/cloud.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const planPath = arg('plan'), outPath = arg('out');
if (!planPath || !outPath) {
  console.error('usage: node scripts/study-browser.mjs --plan plan.json --out browser.json');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, 'utf8'));
const t0 = Date.now();
let done = 0, total = 0;
function progress(msg) {
  const s = (Date.now() - t0) / 1000;
  const eta = done > 0 ? ` (ETA ${Math.round((s / done) * (total - done))} s)` : '';
  process.stderr.write(`[browser ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}] ` +
    `${done}/${total} ${msg}${eta}\n`);
}

// Each model's samples: its PNGs at its size (image models), or one raw buffer per input (tensor models), base64.
function samplesOf(io) {
  if (io.kind === 'image')
    return readdirSync(io.image_dir).filter((f) => f.endsWith('.png')).sort().slice(0, plan.images)
      .map((f) => readFileSync(path.join(io.image_dir, f)).toString('base64'));
  const out = [];
  for (let k = 0; k < plan.images; k++)
    out.push(io.inputs.map((_, i) => readFileSync(path.join(io.sample_dir, String(k), `input_${i}.bin`)).toString('base64')));
  return out;
}

let chromium;
try {
  ({ chromium } = require(path.join(ROOT, 'node_modules', 'playwright-core')));
} catch (e) {
  console.error('study-browser: playwright-core is missing (scripts/npm-deps.sh installs it)');
  process.exit(1);
}

// ---- code that runs inside the page ---------------------------------------------------------------------------

// One sample into the model's inputs, timed (the "preprocess" phase), in the page. An image model's sample is a PNG
// (base64): canvas decode at the model's size, then normalise into NCHW or NHWC; a tensor model's sample is one raw
// little-endian buffer per input (base64), viewed as the input's type (int64 ids as BigInt64Array).
async function pageInputs(io, sample, mean, std) {
  const t = performance.now();
  if (io.kind === 'image') {
    const H = io.h, W = io.w, C = io.c;
    const bytes = Uint8Array.from(atob(sample), (ch) => ch.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const cv = new OffscreenCanvas(W, H), cx = cv.getContext('2d');
    cx.drawImage(bmp, 0, 0, W, H);
    const px = cx.getImageData(0, 0, W, H).data, x = new Float32Array(C * H * W);
    const nhwc = io.layout === 'NHWC';
    for (let i = 0; i < H * W; i++)
      for (let c = 0; c < C; c++) {
        // one channel: stb_image's grey (77 R + 150 G + 29 B) / 256, as the native and cloud paths decode it
        const v = C === 1 ? ((77 * px[4 * i] + 150 * px[4 * i + 1] + 29 * px[4 * i + 2]) >> 8) : px[4 * i + c];
        x[nhwc ? i * C + c : c * H * W + i] = (v / 255 - mean[c]) / std[c];
      }
    return { inputs: [{ data: x, dims: io.inputs[0].dims }], ms: performance.now() - t };
  }
  const types = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array, int8: Int8Array, float64: Float64Array };
  const inputs = io.inputs.map((spec, i) => {
    const raw = Uint8Array.from(atob(sample[i]), (ch) => ch.charCodeAt(0));
    const T = types[spec.dtype];
    if (!T) throw new Error(`input '${spec.name}': type ${spec.dtype} is not supported in the browser`);
    return { data: new T(raw.buffer, 0, raw.byteLength / T.BYTES_PER_ELEMENT), dims: spec.dims };
  });
  return { inputs, ms: performance.now() - t };
}

// One client measurement: load the engine, benchmark it, then the per-sample pipeline. Runs in the page.
async function pageClient({ model, threads, worker, runs, samples, io, mean, std, qoe, benchOnly, engine = 'tandem' }) {
  const api = await import('/tandem.mjs');
  const toInputs = globalThis.studyInputs;
  const url = `/v2/models/${model}/file`;
  const eng = engine === 'ort' ? await (await import('/baseline-ort.mjs')).loadOrt(url, { threads, worker })
    : await api.load(url, { threads, worker });
  const out = {
    build: eng.build, build_reason: eng.buildReason, threads: eng.threads, model_bytes: eng.modelBytes,
    fetch_ms: eng.timings.fetch_ms, compile_ms: eng.timings.compile_ms, load_ms: eng.timings.load_ms,
  };
  out.setup_ms = eng.timings.total_ms ?? (out.fetch_ms + out.compile_ms + out.load_ms);
  // probability: softmax and top-5 over the first row of the first output (a classifier's classes; for any other
  // model a fingerprint of its output that every path must agree on)
  function probability(o) {
    const t = performance.now();
    const k = o.dims[o.dims.length - 1], logits = o.data.subarray ? o.data.subarray(0, k) : o.data.slice(0, k);
    let mx = -Infinity;
    for (const v of logits) mx = v > mx ? v : mx;
    const p = new Float32Array(logits.length);
    let sum = 0;
    for (let i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - mx);
    const idx = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 5);
    return { top1: idx[0], probs: idx.map((i) => p[i] / sum), ms: performance.now() - t };
  }
  const first = await toInputs(io, samples[0], mean, std);
  const b = await eng.bench(first.inputs, { runs, warmup: 3 });
  Object.assign(out, { first_run_ms: b.first_run_ms, p50_ms: b.p50_ms, p90_ms: b.p90_ms, p99_ms: b.p99_ms,
    mean_ms: b.mean_ms, throughput_ips: b.throughput_ips, times_ms: b.times_ms, runs: b.times_ms.length });
  if (benchOnly) {
    await eng.free();
    return out;
  }
  out.preprocess = []; out.inference = []; out.probability = []; out.top1 = [];
  for (const sample of samples) {
    const p = await toInputs(io, sample, mean, std);
    const r = await eng.run(p.inputs);
    const q = probability(r.outputs[0]);
    out.preprocess.push(p.ms); out.inference.push(r.run_ms); out.probability.push(q.ms); out.top1.push(q.top1);
  }
  const heap = await eng.heapBytes();
  out.heap_bytes = heap.heap_bytes; out.peak_heap_bytes = heap.peak_heap_bytes ?? heap.heap_bytes;
  if (qoe) { // frames while this engine runs back to back, in its worker, against the same page idle
    const n = Math.ceil(qoe.ms / Math.max(0.05, b.p50_ms)); // back-to-back runs for about qoe.ms
    out.qoe_worker = await frames(async () => { await eng.bench(first.inputs, { runs: n, warmup: 0 }); }, qoe.ms);
  }
  await eng.free();
  if (qoe) {
    out.qoe_idle = await frames(() => new Promise((res) => setTimeout(res, qoe.ms)), qoe.ms);
    const main = await api.load(url, { threads: 1, worker: false });
    out.qoe_main = await frames(async () => {
      const end = performance.now() + qoe.ms;
      // an app that infers in a loop on the main thread and yields to the event loop between runs
      while (performance.now() < end) {
        await main.run(first.inputs);
        await new Promise((r) => setTimeout(r, 0));
      }
    }, qoe.ms);
    await main.free();
  }
  return out;

  // Run work() while a requestAnimationFrame animation moves a box; report the frame intervals.
  async function frames(work, minMs) {
    const box = document.createElement('div');
    box.style.cssText = 'position:fixed;left:0;top:0;width:20px;height:20px;background:#c33';
    document.body.appendChild(box);
    const dts = [];
    let last = performance.now(), running = true;
    const tick = (t) => {
      dts.push(t - last); last = t;
      box.style.transform = `translateX(${(t / 4) % 300}px)`;
      if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
    const start = performance.now();
    await work();
    while (performance.now() - start < minMs) await new Promise((r) => setTimeout(r, 20));
    running = false;
    const now = performance.now();
    if (now - last > 1) dts.push(now - last); // a frame still pending when the work ended (all of it if none came)
    const span = now - start;
    box.remove();
    const s = [...dts].sort((a, b) => a - b);
    return {
      frames: dts.length, fps: (1000 * dts.length) / span, frame_mean_ms: dts.reduce((a, b) => a + b, 0) / (dts.length || 1),
      frame_p95_ms: s[Math.min(s.length - 1, Math.floor(0.95 * s.length))] ?? 0, long_frames: dts.filter((d) => d > 50).length,
    };
  }
}

// One cloud request per sample under the current network conditions, through the page's own web/cloud.mjs (the
// device run on the page measures the same way). An NCHW image classifier's PNG goes to tandem serve's /classify
// (the server decodes and normalises); any other model's tensors go through the KServe v2 /infer with the binary
// tensor extension. Image tensors for /infer are made before the timed request. Runs in the page.
async function pageCloud({ model, samples, tag, io, mean, std }) {
  const cloud = await import('/cloud.mjs');
  const rows = [];
  for (let i = 0; i < samples.length; i++) {
    let req;
    if (io.cloud_path === 'classify') {
      req = cloud.classifyRequest(model, Uint8Array.from(atob(samples[i]), (c) => c.charCodeAt(0)), `${tag}-${i}`);
    } else {
      const { inputs } = await globalThis.studyInputs(io, samples[i], mean, std);
      req = cloud.inferRequest(model, inputs.map((x, k) => ({ ...x, name: io.inputs[k].name, dtype: io.inputs[k].dtype })),
                               `${tag}-${i}`);
    }
    rows.push(await cloud.timedRequest(req));
  }
  return rows;
}

// One client row of results.json from pageClient's answer (docs/RESULTS.md, tandem.study/1).
function clientRow(r, rate, base, worker, asked = rate, attempts = 1) {
  return {
    throttle: rate, throttle_effective: base ? r.mean_ms / base.mean_ms : 1, throttle_asked: asked,
    throttle_attempts: attempts,
    unthrottled_mean_ms: base ? base.mean_ms : r.mean_ms, threads: r.threads, build: r.build, build_reason: r.build_reason,
    mode: worker ? 'worker' : 'main',
    setup_ms: r.setup_ms, fetch_ms: r.fetch_ms, compile_ms: r.compile_ms, load_ms: r.load_ms,
    first_run_ms: r.first_run_ms, p50_ms: r.p50_ms, p90_ms: r.p90_ms, p99_ms: r.p99_ms, mean_ms: r.mean_ms,
    throughput_ips: r.throughput_ips, runs: r.runs, heap_bytes: r.heap_bytes, peak_heap_bytes: r.peak_heap_bytes,
    model_bytes: r.model_bytes, inference_ms: stats(r.times_ms), image_inference_ms: stats(r.inference),
    preprocess_ms: stats(r.preprocess), probability_ms: stats(r.probability), top1: r.top1,
  };
}

// ---- the run --------------------------------------------------------------------------------------------------

const modelsInfo = await (await fetch(`${plan.url}/api/models`)).json().catch(() => ({ models: [] }));
const norm = {};
for (const m of modelsInfo.models ?? []) norm[m.name] = m.preprocess ?? {};
const result = { device: {}, models: {} };
const throttles = plan.client ? plan.throttle : [];
total = plan.models.length * (throttles.reduce((a, r) => a + (r > 1 ? 1 : plan.threads.length), 0) +
  (plan.cloud ? plan.networks.length : 0) + (plan.client && plan.baseline_ort ? plan.threads.length : 0));

// playwright gives the browser a fresh temporary profile of its own
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let failed = 0;
try {
  const ctx = await browser.newContext();
  async function freshPage() {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => process.stderr.write(`study-browser: page error: ${e.message}\n`));
    await page.goto(`${plan.url}/`, { waitUntil: 'load' });
    await page.evaluate(`globalThis.studyInputs = ${pageInputs.toString()}`); // shared by pageClient and pageCloud
    return page;
  }
  const maxThreads = Math.max(...plan.threads);
  for (const model of plan.models) {
    const entry = result.models[model] = { client: [], qoe: [], cloud: [] };
    const pre = norm[model] ?? {};
    const mean = pre.mean ?? [0, 0, 0], std = pre.std ?? [1, 1, 1];
    const io = plan.io[model], samples = samplesOf(io);
    entry.cloud_path = io.cloud_path;
    for (const rate of throttles) {
      // Chromium's CPU throttling slows the page's main thread only, not its workers (measured: a throttled worker
      // ran as fast as an unthrottled one), so a weaker device is emulated with the engine on the main thread at
      // 1 thread; the report labels those rows "main".
      for (const threads of rate > 1 ? [1] : plan.threads) {
        progress(`client: ${model}, ${threads} thread(s), CPU ${rate}x`);
        const page = await freshPage();
        const cdp = await ctx.newCDPSession(page);
        // Chromium's throttler makes the thread spin in a signal handler for (rate - 1) times the time it ran since
        // the last signal, signalled every 200 us from a thread of its own; when those signals come late (a busy or
        // virtualised machine), the slow-down falls far short of the rate asked (4x gave 1.2x-3.8x on our 2-core
        // machines). The throttled page therefore first benchmarks the engine unthrottled, in the same mode, and
        // calibrates: it asks for the rate, measures the slow-down against that run (throttle_effective) and, while
        // it misses the target by more than 15 %, asks again for 1 + (asked - 1)(target - 1)/(measured - 1), the
        // throttler's pause being proportional to the asked rate minus one (at most 3 measurements, at most 16x the
        // target asked). The row keeps the measurement closest to the target, with the rate asked (throttle_asked).
        let base = null;
        if (rate > 1) {
          base = await page.evaluate(pageClient, { model, threads, worker: false, runs: plan.runs, samples, io, mean, std,
            qoe: null, benchOnly: true });
        }
        const qoe = rate === 1 && threads === maxThreads ? { ms: 3000 } : null;
        const worker = rate === 1;
        try {
          if (Object.keys(result.device).length === 0) {
            result.device = await page.evaluate(() => ({
              user_agent: navigator.userAgent, hardware_concurrency: navigator.hardwareConcurrency,
              device_memory: navigator.deviceMemory ?? null, cross_origin_isolated: crossOriginIsolated,
              platform: navigator.platform,
            }));
          }
          let asked = rate, best = null, attempts = 0;
          for (let attempt = 1; attempt <= (rate > 1 ? 3 : 1); attempt++) {
            if (rate > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: asked });
            const r = await page.evaluate(pageClient, { model, threads, worker, runs: plan.runs, samples, io, mean, std, qoe });
            const eff = base ? r.mean_ms / base.mean_ms : 1;
            const miss = Math.abs(Math.log(eff / rate));
            attempts = attempt;
            if (!best || miss < best.miss) best = { r, asked, miss };
            if (miss <= Math.log(1.15)) break;
            if (rate > 1) {
              progress(`client: ${model}, CPU ${rate}x: ${asked.toFixed(1)}x asked gave ${eff.toFixed(2)}x, calibrating`);
              asked = Math.min(16 * rate, Math.max(1.05, 1 + (asked - 1) * (rate - 1) / Math.max(eff - 1, 0.02)));
            }
          }
          const r = best.r;
          entry.client.push(clientRow(r, rate, base, worker, best.asked, attempts));
          if (r.qoe_worker) {
            entry.qoe.push({ mode: 'worker', threads: r.threads, throttle: rate, idle: r.qoe_idle, busy: r.qoe_worker });
            entry.qoe.push({ mode: 'main', threads: 1, throttle: rate, idle: r.qoe_idle, busy: r.qoe_main });
          }
        } catch (e) {
          failed++;
          process.stderr.write(`study-browser: client ${model} t${threads} ${rate}x failed: ${e.message}\n`);
        }
        await cdp.detach().catch(() => {});
        await page.close();
        done++;
      }
    }
    // --baseline ort: onnxruntime-web in a worker at each thread count, the same pipeline on the same samples; a
    // model it cannot load or run is recorded with its message (ort_web_error) and the study goes on
    for (const threads of plan.client && plan.baseline_ort ? plan.threads : []) {
      progress(`client: ${model}, onnxruntime-web, ${threads} thread(s)`);
      const page = await freshPage();
      try {
        const r = await page.evaluate(pageClient, { model, threads, worker: true, runs: plan.runs, samples, io, mean, std,
          qoe: null, engine: 'ort' });
        (entry.ort_web ??= []).push(clientRow(r, 1, null, true));
      } catch (e) {
        entry.ort_web_error ??= e.message.replace(/^page\.evaluate: (Error: )?/, '').split('\n')[0];
        process.stderr.write(`study-browser: onnxruntime-web ${model} t${threads} failed: ${entry.ort_web_error}\n`);
      }
      await page.close();
      done++;
    }
    if (!plan.cloud) continue;
    for (const net of plan.networks) {
      progress(`cloud: ${model} over ${net.name} (RTT ${net.rtt_ms} ms)`);
      const page = await freshPage();
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: net.rtt_ms,
        downloadThroughput: net.down_kbps > 0 ? (net.down_kbps * 1000) / 8 : -1,
        uploadThroughput: net.up_kbps > 0 ? (net.up_kbps * 1000) / 8 : -1,
      });
      try {
        const rows = await page.evaluate(pageCloud, { model, samples, tag: net.name, io, mean, std });
        const ok = rows.filter((r) => r.status === 200);
        if (ok.length < rows.length) process.stderr.write(`study-browser: ${rows.length - ok.length} cloud requests failed\n`);
        const sv = (k) => stats(ok.map((r) => r.server[k] ?? 0));
        const server = ok.map((r) => Object.values(r.server).reduce((a, b) => a + b, 0));
        entry.cloud.push({
          network: net.name, path: io.cloud_path, rtt_ms: net.rtt_ms, down_kbps: net.down_kbps, up_kbps: net.up_kbps,
          requests: rows.length, errors: rows.length - ok.length,
          request_bytes: stats(ok.map((r) => r.request_bytes))?.median ?? 0,
          response_bytes: stats(ok.map((r) => r.response_bytes))?.median ?? 0,
          total_ms: stats(ok.map((r) => r.total_ms)), server_ms: stats(server),
          server_queue_ms: sv('queue'), server_preprocess_ms: sv('preprocess'), server_infer_ms: sv('infer'),
          server_postprocess_ms: sv('postprocess'),
          upload_ms: stats(ok.map((r, i) => r.ttfb_ms - server[i])), download_ms: stats(ok.map((r) => r.download_ms)),
          top1: rows.map((r) => r.top1),
        });
      } catch (e) {
        failed++;
        process.stderr.write(`study-browser: cloud ${model} ${net.name} failed: ${e.message}\n`);
      }
      await cdp.detach().catch(() => {});
      await page.close();
      done++;
    }
  }
} finally {
  await browser.close();
}
writeFileSync(outPath, JSON.stringify(result, null, 1));
progress(`done${failed ? `, ${failed} measurement(s) failed` : ''}`);
process.exit(failed ? 1 : 0);
