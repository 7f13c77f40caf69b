// app.mjs - the measuring page's logic: model and input choice, top-5 classification, the benchmark of tandem's
// WebAssembly engine (worker and main-thread modes) beside onnxruntime-web, device facts, the results table,
// charts, JSON download and POST /api/results; crowd mode (the standard suite, each result POSTed as soon as it is
// measured) and the step / ETA progress of long runs. Also exposes window.tandemPage (async functions returning the
// result documents of web_contract.md) and <pre id="result-json"> for headless drivers (tests/e2e, the study).
import { decodeImage, imageToTensor, randomTensor, concreteDims, topK, drawTensor } from './preprocess.mjs';
import { Animation } from './smoothness.mjs';
import { Charts, configLabel } from './charts.mjs';
import { standardModels, planSuite, stepLabel, Eta, fmtDuration } from './crowd.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const RANDOM_SEED = 1;
const DEFAULT_MODEL = 'cifar10_resnet20';
// measureUserAgentSpecificMemory() answers after the next garbage collection (Chromium: within about 20 s; 14 s
// seen here) and only once every worker of the page has answered too. With wasm threads it did not answer within
// 60 s here (a pthread worker blocked in Atomics.wait never reaches its event loop), so the page waits less there
// and then reports why there is no figure. ?memtimeout=S sets both.
const UA_MEMORY_TIMEOUT_MS = (Number(params.get('memtimeout')) || 25) * 1000;
const UA_MEMORY_TIMEOUT_THREADS_MS = (Number(params.get('memtimeout')) || 8) * 1000;

// The engines' JS APIs load lazily, so a missing or broken file becomes a message on the page, not a blank page.
let tandemApi = null, ortApi = null;
async function tandemModule() {
  if (!tandemApi) tandemApi = import('./tandem.mjs');
  try {
    return await tandemApi;
  } catch (e) {
    tandemApi = null;
    throw new Error(`tandem's JS API (tandem.mjs) did not load: ${e.message}. Build the page with 'make web'.`);
  }
}
async function ortModule() {
  if (!ortApi) ortApi = import('./baseline-ort.mjs');
  try {
    return await ortApi;
  } catch (e) {
    ortApi = null;
    throw new Error(`the onnxruntime-web baseline (baseline-ort.mjs) did not load: ${e.message}`);
  }
}

const S = {
  models: [],          // GET /api/models entries
  samples: [],         // GET /api/samples entries
  model: null,         // {name, source:'server'|'file', url|bytes, bytes, inputs, preprocess, labels}
  image: null,         // decoded image {rgba, width, height}, or null = random input
  inputDesc: `random (seed ${RANDOM_SEED})`,
  results: [],
  busy: false,
  inBench: false,      // status lines also go beside the Run benchmark button
  lastBuild: null,     // {build, reason, threads} of the last tandem engine loaded
  classify: null,      // {key, eng} kept between Classify clicks
  crowd: null,         // the standard suite's run: {runId, steps, rows, stop, ...}
  store: null,         // does this server keep results (GET /api/results answered)?
};

// ---------------------------------------------------------------------------------------------- status, errors

function status(text, frac = null) {
  $('status').textContent = text;
  if (S.inBench) $('bench-status').textContent = text; // mirrored beside the Run button
  const p = $('progress');
  if (frac == null) p.hidden = true;
  else {
    p.hidden = false;
    p.value = frac;
  }
}

function showError(err, where = '') {
  const msg = (err && err.message) || String(err);
  $('error-text').textContent = where ? `${where}: ${msg}` : msg;
  $('error-banner').hidden = false;
  document.body.dataset.error = $('error-text').textContent;
  status(`Error: ${$('error-text').textContent}`);
  console.error(err);
}

function clearError() {
  $('error-banner').hidden = true;
  delete document.body.dataset.error;
}

function setBusy(busy) {
  S.busy = busy;
  document.body.dataset.state = busy ? 'running' : 'idle';
  for (const el of document.querySelectorAll('main button:not([data-keep-enabled]), main select, main input')) {
    if (busy) {
      el.dataset.wasDisabled = el.disabled ? '1' : '';
      el.disabled = true;
    } else {
      el.disabled = el.dataset.wasDisabled === '1';
    }
  }
  if (!busy) updateExportButtons();
}

// Run one user action: busy while it runs, errors shown in the page, the result returned (or the error rethrown
// for programmatic callers).
async function action(name, fn, { rethrow = false } = {}) {
  if (S.busy) {
    if (rethrow) throw new Error('the page is busy with another run');
    return undefined;
  }
  clearError();
  setBusy(true);
  try {
    return await fn();
  } catch (e) {
    showError(e, name);
    document.body.dataset.state = 'error';
    if (rethrow) throw e;
    return undefined;
  } finally {
    const errored = document.body.dataset.state === 'error';
    setBusy(false);
    if (errored) document.body.dataset.state = 'error';
  }
}

// ---------------------------------------------------------------------------------------------- formatting

function fmtMs(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
function fmtNum(v, d = 1) {
  return v == null || !Number.isFinite(v) ? '–' : v.toFixed(d);
}
function fmtMB(b) {
  return b == null || !Number.isFinite(b) ? '–' : (b / (1024 * 1024)).toFixed(b < 10 * 1048576 ? 2 : 1);
}
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
function fmtBytes(b) {
  if (b == null) return '?';
  return b >= 1048576 ? `${(b / 1048576).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} kB`;
}
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

// ---------------------------------------------------------------------------------------------- device facts

// A one-function module returning a v128 constant: validates only where WebAssembly SIMD128 is supported.
const SIMD_PROBE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  10, 22, 1, 20, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b]);

function deviceFacts() {
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

function resultDevice() {
  const f = deviceFacts();
  return { user_agent: f.user_agent, hardware_concurrency: f.hardware_concurrency, device_memory: f.device_memory,
           platform: f.platform, label: $('device-label').value.trim() || null,
           cross_origin_isolated: f.cross_origin_isolated };
}

function yesNo(v, yes = 'yes', no = 'no') {
  return el('span', { class: v ? 'pill ok' : 'pill bad', text: v ? yes : no });
}

function renderDevice() {
  const f = deviceFacts();
  const dl = $('device-facts');
  dl.textContent = '';
  const add = (k, v, title) => {
    dl.append(el('dt', { text: k }), el('dd', title ? { title } : {}, v));
  };
  add('Browser', f.user_agent);
  add('Logical cores', String(f.hardware_concurrency), 'navigator.hardwareConcurrency');
  add('Device memory', f.device_memory != null ? `${f.device_memory} GB (rounded by the browser)` : 'not reported',
      'navigator.deviceMemory');
  add('Cross-origin isolated', yesNo(f.cross_origin_isolated), 'needed for SharedArrayBuffer, so for wasm threads');
  add('WebAssembly SIMD128', yesNo(f.wasm_simd, 'supported', 'not supported'));
  add('WebAssembly threads', yesNo(f.wasm_threads, 'available', 'not available'));
  add('Page memory API', yesNo(f.measure_memory, 'available', 'not available'),
      'performance.measureUserAgentSpecificMemory()');
  const b = S.lastBuild;
  add('tandem build in use', b
    ? el('span', {}, el('strong', { text: b.build }), ` · ${plural(b.threads, 'thread')} · ${b.reason}`)
    : el('span', { class: 'muted', text: 'not loaded yet (Classify or Run benchmark)' }));
  $('device-hint').textContent = f.cross_origin_isolated ? ''
    : 'This page is not cross-origin isolated (COOP/COEP headers missing), so tandem falls back to its ' +
      'single-threaded SIMD build.';
  $('footer-build').textContent = b ? `engine build: ${b.build}` : '';
}

// ---------------------------------------------------------------------------------------------- model choice

function parseList(text) {
  const v = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!v.length || v.some((x) => !Number.isFinite(x))) return null;
  return v;
}

function preprocess() {
  const mean = parseList($('pre-mean').value);
  const std = parseList($('pre-std').value);
  if (!mean) throw new Error(`pre-processing mean '${$('pre-mean').value}' is not a list of numbers`);
  if (!std || std.some((x) => x === 0)) {
    throw new Error(`pre-processing std '${$('pre-std').value}' must be nonzero numbers`);
  }
  const sz = $('pre-size').value.trim();
  let size = null;
  if (sz) {
    const m = /^(\d+)\s*[x×,]\s*(\d+)$/.exec(sz);
    if (!m || +m[1] < 1 || +m[2] < 1) throw new Error(`size '${sz}' should look like 32x32`);
    size = [+m[1], +m[2]];
  }
  return { mean, std, size };
}

function fillPreprocess(pre) {
  $('pre-mean').value = (pre?.mean ?? [0]).join(', ');
  $('pre-std').value = (pre?.std ?? [1]).join(', ');
  $('pre-size').value = pre?.size ? `${pre.size[0]}x${pre.size[1]}` : '';
}

async function fetchJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`GET ${url} → HTTP ${r.status}`);
  return r.json();
}

async function loadModelList() {
  const sel = $('model-select');
  sel.textContent = '';
  try {
    const j = await fetchJson('api/models');
    S.models = Array.isArray(j.models) ? j.models.filter((m) => m && m.name && m.file) : [];
  } catch (e) {
    S.models = [];
    $('model-info').textContent = `The server lists no models (${e.message}); choose your own .onnx file.`;
  }
  for (const m of S.models) {
    sel.append(el('option', { value: `server:${m.name}`, text: `${m.name} (${fmtBytes(m.bytes)})` }));
  }
  sel.append(el('option', { value: 'file', text: 'Your own .onnx file…' }));
}

function selectServerModel(name) {
  const m = S.models.find((x) => x.name === name);
  if (!m) {
    const have = S.models.map((x) => x.name).join(', ') || 'none';
    throw new Error(`the server has no model '${name}' (it has: ${have})`);
  }
  $('model-select').value = `server:${name}`;
  $('model-file-row').hidden = true;
  S.model = { name: m.name, source: 'server', url: new URL(m.file, location.href).href, bytes: m.bytes ?? null,
              inputs: (m.inputs || []).map((i) => ({ name: i.name, dims: i.shape || [] })),
              preprocess: m.preprocess || {}, labels: Array.isArray(m.labels) ? m.labels : null };
  fillPreprocess(m.preprocess);
  const inp = m.inputs?.[0];
  const pre = m.preprocess || {};
  $('model-info').textContent = `${fmtBytes(m.bytes)} · input '${inp?.name ?? '?'}' ${inp?.datatype || ''} ` +
    `[${(inp?.shape || []).join(', ')}] · ` +
    `${m.labels ? `${m.labels.length} labels` : 'no labels (class indices shown)'}` +
    ` · mean ${(pre.mean || [0]).join('/')}, std ${(pre.std || [1]).join('/')}`;
  dropClassifyEngine();
  refreshPreview();
}

async function selectFileModel(file) {
  if (!file) {
    S.model = null;
    $('model-info').textContent = 'Choose an .onnx file from your computer; it stays in this browser.';
    return;
  }
  const buf = new Uint8Array(await file.arrayBuffer());
  if (buf.length < 16) throw new Error(`'${file.name}' is ${buf.length} bytes, too small to be an ONNX model`);
  S.model = { name: file.name.replace(/\.onnx$/i, ''), source: 'file', fileName: file.name, data: buf,
              bytes: buf.length, inputs: null, preprocess: {}, labels: null };
  fillPreprocess({ mean: [0], std: [1] });
  $('model-info').textContent = `${file.name} · ${fmtBytes(buf.length)} · input shape known after loading ` +
    '(set mean/std below if the model expects normalised input)';
  dropClassifyEngine();
  refreshPreview();
}

function modelSource() {
  if (!S.model) throw new Error('no model chosen: pick one from the list or choose your own .onnx file');
  return S.model.source === 'server' ? S.model.url : S.model.data.slice(); // a copy: the API may transfer it
}

// ---------------------------------------------------------------------------------------------- input choice

async function loadSampleList() {
  try {
    const j = await fetchJson('api/samples');
    S.samples = Array.isArray(j.samples) ? j.samples.filter((s) => s && s.url) : [];
  } catch {
    S.samples = [];
  }
  const sel = $('input-select');
  sel.textContent = '';
  for (const s of S.samples) {
    sel.append(el('option', { value: `sample:${s.name}`, text: `Sample: ${s.name}${s.label ? ` (${s.label})` : ''}` }));
  }
  sel.append(el('option', { value: 'file', text: 'Your own image…' }));
  sel.append(el('option', { value: 'random', text: `Random numbers (seeded)` }));
  sel.value = S.samples.length ? `sample:${S.samples[0].name}` : 'random';
}

async function useImageBlob(blob, desc) {
  S.image = await decodeImage(blob);
  S.inputDesc = desc;
  dropClassifyEngineResult();
  refreshPreview();
}

async function selectInput(value) {
  $('input-file-row').hidden = value !== 'file';
  if (value === 'random') {
    S.image = null;
    S.inputDesc = `random (seed ${RANDOM_SEED})`;
    refreshPreview();
  } else if (value.startsWith('sample:')) {
    const s = S.samples.find((x) => `sample:${x.name}` === value);
    const r = await fetch(new URL(s.url, location.href));
    if (!r.ok) throw new Error(`sample ${s.name}: HTTP ${r.status}`);
    await useImageBlob(await r.blob(), `sample ${s.name}${s.label ? ` (${s.label})` : ''}`);
  } else if (value === 'file') {
    const f = $('input-file').files[0];
    if (f) await useImageBlob(f, `file ${f.name}`);
    else {
      S.image = null;
      S.inputDesc = 'no image chosen yet';
      $('input-info').textContent = 'Choose an image file (PNG, JPEG, …); it is resized to the model\'s input size.';
    }
  }
}

// The model's first input as concrete dims: from the engine once loaded, else from the server's description.
function inputDims(engInputs) {
  const pre = preprocess();
  const decl = engInputs?.[0]?.dims?.length ? engInputs[0].dims : S.model?.inputs?.[0]?.dims;
  if (!decl || !decl.length) return null;
  return concreteDims(decl, pre.size);
}

function makeInput(engInputs) {
  const pre = preprocess();
  const dims = inputDims(engInputs);
  if (!dims) throw new Error('the model input shape is unknown');
  if (S.image) {
    if (dims.length !== 4) throw new Error(`an image needs a [N, C, H, W] input; the model takes [${dims.join(', ')}]`);
    const t = imageToTensor(S.image, { channels: dims[1], height: dims[2], width: dims[3],
                                       mean: pre.mean, std: pre.std });
    if (dims[0] > 1) { // fill the batch with copies
      const one = t.data.length, data = new Float32Array(one * dims[0]);
      for (let b = 0; b < dims[0]; b++) data.set(t.data, b * one);
      return { data, dims };
    }
    return t;
  }
  if (S.inputDesc === 'no image chosen yet') {
    throw new Error('no image chosen: choose an image file, a sample or random');
  }
  return randomTensor(dims, RANDOM_SEED);
}

function refreshPreview() {
  const info = $('input-info');
  const cv = $('input-preview');
  try {
    const dims = inputDims(null);
    if (!dims || dims.length !== 4 || !S.image) {
      cv.getContext('2d').clearRect(0, 0, cv.width, cv.height);
      if (S.image) {
        info.textContent = `${S.inputDesc}: ${S.image.width}×${S.image.height} px ` +
          '(resized once the model\'s input size is known)';
      } else if (S.inputDesc.startsWith('random')) {
        info.textContent = `Random input, uniform in [0, 1), seed ${RANDOM_SEED}: the same on every engine.`;
      }
      return;
    }
    const t = makeInput(null);
    const pre = preprocess();
    drawTensor(cv, t, pre.mean, pre.std);
    info.textContent = `${S.inputDesc}: ${S.image.width}×${S.image.height} px → [${t.dims.join(', ')}], ` +
      'bilinear resize, then (x/255 − mean) / std per channel.';
  } catch (e) {
    info.textContent = e.message;
  }
}

// ---------------------------------------------------------------------------------------------- engines

function benchOptions() {
  const threads = Number($('threads').value) || 1;
  const build = $('build').value;
  const runs = Math.max(5, Math.min(2000, Math.round(Number($('runs').value) || 100)));
  const warmup = Math.max(0, Math.min(100, Math.round(Number($('warmup').value) || 0)));
  return { threads, build, runs, warmup };
}

async function loadEngine(engine, { threads, build, worker }) {
  const src = modelSource();
  const t0 = performance.now();
  let eng;
  try {
    if (engine === 'tandem') eng = await (await tandemModule()).load(src, { threads, worker, build });
    else eng = await (await ortModule()).loadOrt(src, { threads, worker });
  } catch (e) {
    const what = S.model.source === 'file' ? `'${S.model.fileName}'` : `'${S.model.name}'`;
    throw new Error(`${engine === 'tandem' ? 'tandem' : 'onnxruntime-web'} could not load the model ${what}: ` +
                    `${e.message || e}`);
  }
  const wall = performance.now() - t0;
  if (engine === 'tandem') {
    S.lastBuild = { build: eng.build, reason: eng.buildReason || '', threads: eng.threads };
    renderDevice();
  }
  if (S.model.source === 'file' && !S.model.inputs && eng.inputs) {
    S.model.inputs = eng.inputs.map((i) => ({ name: i.name, dims: i.dims }));
    const i0 = eng.inputs[0];
    $('model-info').textContent = `${S.model.fileName} · ${fmtBytes(S.model.bytes)} · input '${i0?.name}' ` +
      `[${(i0?.dims || []).join(', ')}] · check the pre-processing below`;
    refreshPreview();
  }
  return { eng, wall };
}

function firstRow(output) {
  const dims = output.dims || [];
  const k = dims.length ? dims[dims.length - 1] : output.data.length;
  return output.data.subarray(0, k);
}

async function dropClassifyEngine() {
  const c = S.classify;
  S.classify = null;
  $('predictions').hidden = true;
  if (c) await c.eng.free().catch(() => {});
}
function dropClassifyEngineResult() {
  $('predictions').hidden = true;
}

function renderPredictions(top, meta) {
  const ol = $('pred-list');
  ol.textContent = '';
  for (const p of top) {
    const pct = Number.isFinite(p.prob) ? p.prob * 100 : 0;
    ol.append(el('li', { 'data-index': String(p.index) },
      el('span', { class: 'pred-label', text: p.label ?? `class ${p.index}` }),
      el('span', { class: 'pred-bar' }, el('span', { class: 'pred-fill', style: `width:${pct.toFixed(1)}%` })),
      el('span', { class: 'pred-prob',
                   text: !Number.isFinite(p.prob) ? '?' : pct < 0.1 ? '< 0.1 %' : `${pct.toFixed(1)} %` })));
  }
  $('pred-meta').textContent = meta;
  $('predictions').hidden = false;
}

async function classify(opts = {}) {
  if (opts.model) selectServerModel(opts.model);
  const { threads, build } = { ...benchOptions(), ...opts };
  const key = `${S.model?.name}|${S.model?.source}|${threads}|${build}`;
  if (!S.classify || S.classify.key !== key) {
    await dropClassifyEngine();
    status(`Loading ${S.model?.name ?? 'the model'} into tandem…`);
    const { eng } = await loadEngine('tandem', { threads, build, worker: true });
    S.classify = { key, eng };
  }
  const eng = S.classify.eng;
  const input = makeInput(eng.inputs);
  status('Running one inference…');
  const r = await eng.run([input]);
  const out = r.outputs[0];
  const top = topK(firstRow(out), 5, S.model.labels);
  renderPredictions(top, `· ${S.inputDesc} · tandem ${eng.build}, ${plural(eng.threads, 'thread')}, ` +
                         `${fmtMs(r.run_ms)} ms in the engine`);
  refreshPreview();
  status(`Top-1: ${top[0]?.label ?? `class ${top[0]?.index}`} (${(top[0]?.prob * 100).toFixed(1)} %).`);
  return { top, build: eng.build, threads: eng.threads, run_ms: r.run_ms, wall_ms: r.wall_ms,
           output_dims: out.dims, input: S.inputDesc };
}

// ---------------------------------------------------------------------------------------------- progress

// The progress panel of a run of several steps (ids PREFIX-progress, -step, -eta, -fill, -bar, -detail): which step of
// how many, what it measures, what it is doing now, elapsed time and the time left estimated from the steps done so
// far (crowd.mjs's Eta). The header's status line and bar say the same in one line.
function progressView(prefix) {
  const box = $(`${prefix}-progress`);
  let eta = null, steps = [], timer = null, stepText = '', detailText = '';
  let shown = 0; // the bar never moves back when the estimate of the time left grows
  const etaText = (st) => (st.remaining_ms == null
    ? `${fmtDuration(st.elapsed_ms)} elapsed · time left: estimated after the first step`
    : `${fmtDuration(st.elapsed_ms)} elapsed · about ${fmtDuration(st.remaining_ms)} left`);
  const render = () => {
    if (!eta) return;
    const st = eta.state();
    shown = Math.max(shown, st.fraction);
    const pct = Math.round(shown * 1000) / 10;
    $(`${prefix}-fill`).style.width = `${pct}%`;
    $(`${prefix}-bar`).setAttribute('aria-valuenow', String(Math.round(pct)));
    $(`${prefix}-eta`).textContent = etaText(st);
    const k = Math.max(1, eta.current + 1);
    document.body.dataset.progress = `${k}/${steps.length}`;
    status(`Step ${k} of ${steps.length} · ${stepText}${detailText ? `: ${detailText}` : ''} · ` +
           (st.remaining_ms == null ? 'estimating the time left…' : `about ${fmtDuration(st.remaining_ms)} left`),
           shown);
  };
  return {
    begin(list) {
      steps = list;
      eta = new Eta(list);
      shown = 0;
      box.hidden = false;
      box.classList.remove('finished');
      clearInterval(timer);
      timer = setInterval(render, 500);
    },
    step(i, text) {
      eta.start(i);
      stepText = text;
      detailText = '';
      $(`${prefix}-step`).textContent = `Step ${i + 1} of ${steps.length}: ${text}`;
      $(`${prefix}-detail`).textContent = '';
      render();
    },
    detail(text) {
      detailText = text;
      $(`${prefix}-detail`).textContent = `${text}…`;
      render();
    },
    finish(i) {
      eta.finish(i);
      render();
    },
    end(text) {
      clearInterval(timer);
      timer = null;
      const st = eta.state();
      const all = st.done === steps.length;
      $(`${prefix}-fill`).style.width = all ? '100%' : `${Math.round(shown * 1000) / 10}%`;
      $(`${prefix}-step`).textContent = text;
      $(`${prefix}-eta`).textContent = `took ${fmtDuration(st.elapsed_ms)}`;
      $(`${prefix}-detail`).textContent = '';
      box.classList.add('finished');
      delete document.body.dataset.progress;
    },
  };
}

// ---------------------------------------------------------------------------------------------- benchmark

const anim = new Animation($('anim'));

function withTimeout(promise, ms, what) {
  let timer;
  const expire = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, expire]).finally(() => clearTimeout(timer));
}

// One configuration: load afresh (set-up), bench while the animation records frames (first run + timed runs),
// one more run for the predictions, then memory. Returns a result document (tandem.result/1).
async function benchConfig({ engine = 'tandem', mode = 'worker', threads, build = 'auto', runs = 100, warmup = 5,
                             measureMemory = true, onStatus = () => {} }) {
  const worker = mode !== 'main';
  onStatus(`loading the model (${mode === 'main' ? 'main thread' : 'worker'})`);
  const { eng, wall } = await loadEngine(engine, { threads, build, worker });
  try {
    const input = makeInput(eng.inputs);
    onStatus(`timing ${runs} runs after ${warmup} warm-up`);
    const { value: b, frames } = await anim.measure(() => eng.bench(input, { runs, warmup }));
    const r = await eng.run([input]);
    const top = topK(firstRow(r.outputs[0]), 5, S.model.labels);
    const heap = await eng.heapBytes();
    let ua = null, uaNote = '';
    if (measureMemory && typeof performance.measureUserAgentSpecificMemory === 'function' && self.crossOriginIsolated) {
      onStatus('measuring page memory (the browser may take a while)');
      try {
        ua = await withTimeout(performance.measureUserAgentSpecificMemory(),
                               eng.threads > 1 ? UA_MEMORY_TIMEOUT_THREADS_MS : UA_MEMORY_TIMEOUT_MS,
                               'measureUserAgentSpecificMemory()');
      } catch (e) {
        uaNote = e.message + (eng.threads > 1 ? ' (with wasm threads it may wait for blocked thread workers)' : '');
      }
    } else {
      uaNote = measureMemory ? 'performance.measureUserAgentSpecificMemory() is not available here' : 'not requested';
    }
    const modelBytes = eng.modelBytes || S.model.bytes;
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
      device: resultDevice(),
      model: { name: S.model.name, bytes: modelBytes },
      engine: engine === 'tandem' ? 'tandem-wasm' : 'onnxruntime-web',
      build: eng.build,
      threads: eng.threads,
      batch: input.dims[0],
      mode: worker ? 'worker' : 'main',
      figures,
      runs,
      extra: {
        warmup,
        build_requested: engine === 'tandem' ? build : null,
        threads_requested: threads,
        build_reason: eng.buildReason || null,
        input: S.inputDesc,
        input_dims: input.dims,
        top5: top,
        times_ms: b.times_ms,
        frame_times_ms: frames.frame_times_ms.map((x) => Math.round(x * 100) / 100),
        frames: frames.frames,
        frame_p50_ms: frames.frame_p50_ms,
        frame_max_ms: frames.frame_max_ms,
        smoothness_window_ms: frames.window_ms,
        load_wall_ms: wall,
        ua_memory: ua ? { bytes: ua.bytes, breakdown: (ua.breakdown || []).filter((x) => x.bytes > 0)
          .map((x) => ({ bytes: x.bytes, types: x.types })) } : null,
        ua_memory_note: uaNote || null,
        page: location.pathname,
      },
    };
  } finally {
    await eng.free().catch(() => {});
  }
}

function addResult(doc) {
  S.results.push(doc);
  renderResults();
  publish();
}

function publish() {
  $('result-json').textContent = JSON.stringify(S.results, null, 1);
  document.body.dataset.results = String(S.results.length);
}

function configsChosen() {
  const c = [];
  if ($('cfg-tandem-worker').checked) c.push({ engine: 'tandem', mode: 'worker' });
  if ($('cfg-ort-worker').checked) c.push({ engine: 'ort', mode: 'worker' });
  if ($('cfg-tandem-main').checked) c.push({ engine: 'tandem', mode: 'main' });
  if ($('cfg-ort-main').checked) c.push({ engine: 'ort', mode: 'main' });
  return c;
}

// The "Run benchmark" button: every chosen configuration in turn, same model, input and threads. onnxruntime-web
// gets the thread count tandem actually used in the same mode (the simd build runs one thread).
async function runSuite(opts = {}) {
  if (opts.model) selectServerModel(opts.model);
  const o = { ...benchOptions(), measureMemory: $('cfg-uamem').checked, ...opts };
  const configs = opts.configs || configsChosen();
  if (!configs.length) throw new Error('choose at least one configuration to run');
  if (!S.model) throw new Error('no model chosen');
  if (S.model.inputs) makeInput(S.model.inputs); // input errors before any loading (own files: known after loading)
  await dropClassifyEngine(); // nothing else resident while measuring memory
  S.inBench = true;
  try {
    return await runConfigs(o, configs);
  } finally {
    S.inBench = false;
  }
}

async function runConfigs(o, configs) {
  S.results = [];
  renderResults();
  publish();
  const out = [];
  const used = {};
  const pv = progressView('bench');
  // the thread count shown is the one asked for; onnxruntime-web then gets what tandem really used
  pv.begin(configs.map((c) => ({ model: S.model.name, bytes: S.model.bytes || 1, ...c, threads: o.threads })));
  try {
    for (let i = 0; i < configs.length; i++) {
      const c = configs[i];
      const threads = c.engine === 'ort' && used[c.mode] ? used[c.mode] : o.threads;
      pv.step(i, `${S.model.name} · ${stepLabel({ ...c, threads })}`);
      const doc = await benchConfig({ ...o, ...c, threads, onStatus: (s) => pv.detail(s) });
      pv.finish(i);
      if (c.engine === 'tandem') used[c.mode] = doc.threads;
      out.push(doc);
      addResult(doc);
    }
  } finally {
    pv.end(out.length === configs.length ? `Done: ${plural(out.length, 'configuration')} of ${S.model.name}`
      : `Ended after ${out.length} of ${configs.length} configurations (see the error above)`);
  }
  status(`Done: ${out.length} configuration${out.length === 1 ? '' : 's'} of ${S.model.name}. ` +
         'Download the JSON or send it to the server below.', null);
  $('sec-charts').hidden = false;
  charts.draw(S.results);
  return out;
}

// ---------------------------------------------------------------------------------------------- results table

// [figure key, label, unit, format, which way is better]
const ROWS = [
  { group: 'Set-up' },
  ['setup_ms', 'Set-up: download + compile + load', 'ms', fmtMs, 'low'],
  ['fetch_ms', '… download model', 'ms', fmtMs, 'low', 'sub'],
  ['compile_ms', '… compile + instantiate wasm', 'ms', fmtMs, 'low', 'sub'],
  ['load_ms', '… load + plan model', 'ms', fmtMs, 'low', 'sub'],
  { group: 'Inference (batch 1)' },
  ['first_run_ms', 'First inference', 'ms', fmtMs, 'low'],
  ['p50_ms', 'Latency p50', 'ms', fmtMs, 'low'],
  ['p90_ms', 'Latency p90', 'ms', fmtMs, 'low'],
  ['p99_ms', 'Latency p99', 'ms', fmtMs, 'low'],
  ['throughput_ips', 'Predictions per second', '1/s', (v) => fmtNum(v, 1), 'high'],
  { group: 'Memory' },
  ['heap_bytes', 'wasm heap', 'MB', fmtMB, 'low'],
  ['memory_ratio', 'wasm heap (peak) ÷ model file', '×', (v) => fmtNum(v, 2), 'low'],
  ['ua_memory_bytes', 'Whole page (measureUserAgentSpecificMemory)', 'MB', fmtMB, 'low'],
  ['ua_memory_ratio', 'Whole page ÷ model file', '×', (v) => fmtNum(v, 1), 'low'],
  { group: 'Smoothness while inferring' },
  ['fps', 'Animation frame rate', 'fps', (v) => fmtNum(v, 1), 'high'],
  ['frame_p95_ms', 'Frame time p95', 'ms', fmtMs, 'low'],
  ['long_frames', 'Frames over 50 ms', 'count', (v) => (v == null ? '–' : String(v)), 'low'],
  ['extra.frames', '… frames measured (benchmark window)', 'count', (v) => (v == null ? '–' : String(v)), null, 'sub'],
];

const figure = (r, key) => (key.startsWith('extra.') ? r.extra[key.slice(6)] : r.figures[key]);

function ratioCell(a, b, better, key) {
  if (key === 'long_frames' && Number.isInteger(a) && Number.isInteger(b)) { // counts: a ratio of 0 or n/0 says little
    const cls = a === b ? 'even' : a < b ? 'good' : 'worse';
    return el('td', { class: `num ratio ${cls}`, text: `${a} vs ${b}` });
  }
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return el('td', { class: 'num ratio', text: '–' });
  }
  const r = a / b;
  const good = better === 'low' ? r < 1 : r > 1;
  const cls = Math.abs(r - 1) < 0.03 ? 'even' : good ? 'good' : 'worse';
  return el('td', { class: `num ratio ${cls}`, text: `${r.toFixed(2)}×` });
}

// The few numbers a person looks for first, as tiles above the table: tandem against onnxruntime-web (worker mode)
// and the page's smoothness with the engine in a worker against on the main thread.
function renderHeadline(res) {
  const box = $('headline');
  box.textContent = '';
  const t = res.find((r) => r.engine === 'tandem-wasm' && r.mode === 'worker') ||
            res.find((r) => r.engine === 'tandem-wasm');
  if (!t) return;
  const o = res.find((r) => r.engine === 'onnxruntime-web' && r.mode === t.mode);
  const m = res.find((r) => r.engine === 'tandem-wasm' && r.mode === 'main');
  const tile = (title, value, detail, cls = '') =>
    box.append(el('div', { class: `tile ${cls}` }, el('div', { class: 'tile-title', text: title }),
                  el('div', { class: 'tile-value', text: value }), el('div', { class: 'tile-detail', text: detail })));
  const versus = (key, fmt, unit) => {
    const a = t.figures[key], b = o?.figures[key];
    if (!o || !(a > 0) || !(b > 0)) return { value: `${fmt(a)} ${unit}`, detail: 'tandem', cls: '' };
    const r = b / a;
    return { value: r >= 1 ? `${r.toFixed(2)}× faster` : `${(1 / r).toFixed(2)}× slower`,
             detail: `tandem ${fmt(a)} ${unit} · onnxruntime-web ${fmt(b)} ${unit}`, cls: r >= 1 ? 'good' : 'worse' };
  };
  const lat = versus('p50_ms', fmtMs, 'ms');
  tile('Latency p50 (batch 1)', lat.value, lat.detail, lat.cls);
  const set = versus('setup_ms', fmtMs, 'ms');
  tile('Set-up (download + compile + load)', set.value, set.detail, set.cls);
  const h = t.figures.heap_bytes, ho = o?.figures.heap_bytes;
  tile('wasm heap', `${fmtMB(h)} MB`, `${fmtNum(t.figures.memory_ratio, 1)}× the model file` +
       (ho ? ` · onnxruntime-web ${fmtMB(ho)} MB` : ''), ho ? (h <= ho ? 'good' : 'worse') : '');
  const w = res.find((r) => r.engine === 'tandem-wasm' && r.mode === 'worker');
  if (w || m) {
    const part = (r, name) => (r ? `${name}: ${fmtNum(r.figures.fps, 0)} fps, frame p95 ` +
                                   `${fmtMs(r.figures.frame_p95_ms)} ms` : null);
    tile('Smoothness while inferring',
         w ? `${fmtNum(w.figures.fps, 0)} fps in a worker` : `${fmtNum(m.figures.fps, 0)} fps on the main thread`,
         [part(w, 'worker'), part(m, 'main thread')].filter(Boolean).join(' · '),
         w && w.figures.long_frames === 0 ? 'good' : '');
  }
}

function renderResults() {
  const wrap = $('results-wrap'), tbl = $('results-table');
  tbl.textContent = '';
  if (!S.results.length) {
    wrap.hidden = true;
    return;
  }
  wrap.hidden = false;
  const res = S.results;
  // ratio columns: tandem ÷ onnxruntime-web for each mode where both ran
  const pairs = [];
  for (const mode of ['worker', 'main']) {
    const t = res.find((r) => r.engine === 'tandem-wasm' && r.mode === mode);
    const o = res.find((r) => r.engine === 'onnxruntime-web' && r.mode === mode);
    if (t && o) pairs.push({ mode, t, o });
  }
  const thead = el('thead');
  const hr = el('tr', {}, el('th', { class: 'fig', text: 'Figure' }), el('th', { class: 'unit', text: 'Unit' }));
  for (const r of res) {
    hr.append(el('th', { class: `cfg ${r.engine === 'tandem-wasm' ? 'tandem' : 'ort'}` },
      el('div', { class: 'eng', text: r.engine === 'tandem-wasm' ? 'tandem' : 'onnxruntime-web' }),
      el('div', { class: 'cfgsub', text: `${r.build} · ${r.threads} thread${r.threads === 1 ? '' : 's'}` }),
      el('div', { class: 'cfgsub', text: r.mode === 'main' ? 'main thread' : 'Web Worker' })));
  }
  for (const p of pairs) {
    hr.append(el('th', { class: 'cfg ratio' }, el('div', { class: 'eng', text: 'tandem ÷ ort-web' }),
      el('div', { class: 'cfgsub', text: p.mode === 'main' ? 'main thread' : 'Web Worker' })));
  }
  thead.append(hr);
  const tbody = el('tbody');
  const ncol = 2 + res.length + pairs.length;
  for (const row of ROWS) {
    if (!Array.isArray(row)) {
      tbody.append(el('tr', { class: 'group' }, el('th', { colspan: String(ncol), text: row.group })));
      continue;
    }
    const [key, label, unit, fmt, better, sub] = row;
    const tr = el('tr', { class: sub ? 'sub' : '', 'data-figure': key },
      el('th', { class: 'fig', text: label }), el('td', { class: 'unit', text: unit }));
    for (const r of res) {
      const v = figure(r, key);
      let txt = fmt(v);
      if (key === 'ua_memory_bytes' && v == null) txt = r.extra.ua_memory_note ? 'n/a' : '–';
      const td = el('td', { class: 'num', text: txt });
      if (key === 'ua_memory_bytes' && v == null && r.extra.ua_memory_note) td.title = r.extra.ua_memory_note;
      tr.append(td);
    }
    for (const p of pairs) {
      tr.append(better ? ratioCell(figure(p.t, key), figure(p.o, key), better, key) : el('td', { class: 'num ratio' }));
    }
    tbody.append(tr);
  }
  // predictions agree?
  tbody.append(el('tr', { class: 'group' }, el('th', { colspan: String(ncol), text: 'Prediction' })));
  const tr = el('tr', {}, el('th', { class: 'fig', text: 'Top-1 (probability)' }),
                el('td', { class: 'unit', text: '' }));
  for (const r of res) {
    const t = r.extra.top5?.[0];
    const txt = t ? `${t.label ?? `class ${t.index}`} (${(t.prob * 100).toFixed(1)} %)` : '–';
    tr.append(el('td', { class: 'num', text: txt }));
  }
  for (const p of pairs) {
    const same = p.t.extra.top5?.[0]?.index === p.o.extra.top5?.[0]?.index;
    tr.append(el('td', { class: `num ratio ${same ? 'good' : 'worse'}`, text: same ? 'same' : 'differs' }));
  }
  tbody.append(tr);
  tbl.append(thead, tbody);
  const notes = [...new Set(res.map((r) => r.extra.ua_memory_note).filter((n) => n && n !== 'not requested'))];
  $('results-notes').textContent = notes.length ? `Whole-page memory n/a: ${notes.join('; ')}.` : '';
  renderHeadline(res);
  const r0 = res[0];
  $('results-meta').textContent = `· ${r0.model.name} (${fmtBytes(r0.model.bytes)}) · input ${r0.extra.input} · ` +
    `${r0.runs} timed runs after ${r0.extra.warmup} warm-up`;
}

// ---------------------------------------------------------------------------------------------- export

function updateExportButtons() {
  const has = S.results.length > 0;
  $('btn-download').disabled = !has;
  $('btn-crowd-download').disabled = !S.crowd?.rows.some((r) => r.doc);
  $('btn-send').disabled = !has;
  $('btn-charts').disabled = !has;
  $('export-hint').textContent = has ? `${S.results.length} result document${S.results.length === 1 ? '' : 's'} ` +
    '(schema tandem.result/1).' : 'Run a benchmark first.';
}

function saveBlob(blob, ext, name = S.results[0]?.model.name ?? 'results') {
  const a = el('a', { href: URL.createObjectURL(blob),
    download: `tandem-${name}-` +
              `${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function download() {
  saveBlob(new Blob([JSON.stringify(S.results, null, 2)], { type: 'application/json' }), 'json');
}

async function downloadCharts() {
  const r0 = S.results[0];
  const caption = r0 ? `tandem · ${r0.model.name} · ${r0.extra.input} · ${r0.device.user_agent}` : '';
  saveBlob(await charts.toPng(caption), 'png');
}

// POST one result document to /api/results: {ok, status, text, id (what the store answered: 201 {"id": N})}.
// A server without the store (the static dev server) answers 404/405/501: `unsupported` says so.
async function postResult(doc) {
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

// POST each result to /api/results; shows what the server answered (201 {"id":N}) or why it could not.
async function sendToServer() {
  const box = $('send-result');
  box.hidden = false;
  box.textContent = '';
  const answers = [];
  for (const r of S.results) {
    const label = configLabel(r);
    const line = await postResult(r);
    answers.push({ config: label, ...line });
    box.append(el('div', { class: line.ok ? 'ok' : 'bad' }, el('strong', { text: `${label}: ` }),
      line.status ? `HTTP ${line.status} ` : '', line.text));
    if (!line.ok && (line.status === 404 || line.status === 405 || line.status === 501 || line.status === 0)) break;
  }
  return answers;
}


// ---------------------------------------------------------------------------------------------- crowd mode

// The suite's settings: URL parameters (for tests and for running a shorter suite) over the defaults, then options
// passed by a driver. ?suite_models=a,b  ?suite_runs=30  ?suite_warmup=3  ?suite_threads=4 (the most threads)
function crowdSettings(opts = {}) {
  const hc = navigator.hardwareConcurrency || 1;
  const list = (v) => (v ? String(v).split(',').map((x) => x.trim()).filter(Boolean) : null);
  const int = (v, lo, hi, def) => {
    const n = Math.round(Number(v));
    return v == null || v === '' || !Number.isFinite(n) ? def : Math.max(lo, Math.min(hi, n));
  };
  const o = {
    wanted: opts.models ?? list(params.get('suite_models')),
    runs: int(opts.runs ?? params.get('suite_runs'), 5, 2000, 200),
    warmup: int(opts.warmup ?? params.get('suite_warmup'), 0, 100, 3),
    maxThreads: int(opts.maxThreads ?? params.get('suite_threads'), 1, 64, Math.min(hc, 4)),
    note: '',
  };
  o.maxThreads = Math.min(o.maxThreads, hc);
  if (o.maxThreads > 1 && !self.crossOriginIsolated) {
    o.maxThreads = 1;
    o.note = 'this page is not cross-origin isolated, so tandem runs on one thread only';
  }
  o.models = standardModels(S.models, o.wanted);
  return o;
}

// Whether this server keeps results (GET /api/results answers: `tandem serve`), asked once at start-up.
async function probeStore() {
  try {
    const r = await fetch('api/results?limit=1', { cache: 'no-store' });
    S.store = r.ok;
  } catch {
    S.store = false;
  }
}

function renderCrowdPlan() {
  let text;
  try {
    const o = crowdSettings();
    const steps = planSuite(o.models, o.maxThreads);
    text = `${plural(steps.length, 'measurement')}: ${o.models.map((m) => m.name).join(', ')} × (tandem in a ` +
      `worker at ${o.maxThreads > 1 ? `1–${o.maxThreads} threads` : '1 thread'}, tandem on the main thread, ` +
      `onnxruntime-web), ${o.runs} timed runs each after ${o.warmup} warm-up${o.note ? `; ${o.note}` : ''}.` +
      (S.store === false ? ' This server keeps no results (serve the page with `tandem serve` to collect them): ' +
                           'they stay in this page, to download as JSON.' : '');
    $('btn-crowd').dataset.wasDisabled = '';
    if (!S.busy) $('btn-crowd').disabled = false;
  } catch (e) {
    text = `Not available: ${e.message}.`;
    $('btn-crowd').disabled = true;
    $('btn-crowd').dataset.wasDisabled = '1';
  }
  $('crowd-plan').textContent = text;
}

function renderCrowd() {
  const c = S.crowd;
  $('crowd-results').hidden = !c || !c.rows.length;
  if (!c) return;
  const tbl = $('crowd-table');
  tbl.textContent = '';
  const head = ['#', 'Model', 'Engine (build)', 'Threads', 'Mode', 'Set-up', 'First run', 'p50', 'Pred./s',
                'Frame p95', 'vs ort-web', 'Sent'];
  tbl.append(el('thead', {}, el('tr', {}, ...head.map((h, i) => el('th', { class: (i > 4 && i < 11) || i === 3 ? 'n' : '',
                                                                              text: h })))));
  const tb = el('tbody');
  const ms = (v) => `${fmtMs(v)} ms`;
  for (const row of c.rows) {
    const d = row.doc, s = row.step;
    const tr = el('tr', { 'data-step': String(row.index + 1), class: row.error ? 'failed' : '' });
    tr.append(el('td', { class: 'num', text: String(row.index + 1) }), el('td', { text: s.model }));
    if (!d) {
      tr.append(el('td', { colspan: '9', class: 'bad', text: `${stepLabel(s)}: ${row.error}` }));
    } else {
      const f = d.figures;
      tr.append(el('td', { text: d.engine === 'tandem-wasm' ? `tandem-wasm (${d.build})` : d.engine }),
                el('td', { class: 'num', text: String(d.threads) }),
                el('td', { text: d.mode === 'main' ? 'main thread' : 'worker' }),
                el('td', { class: 'num', text: ms(f.setup_ms) }), el('td', { class: 'num', text: ms(f.first_run_ms) }),
                el('td', { class: 'num', text: ms(f.p50_ms) }),
                el('td', { class: 'num', text: fmtNum(f.throughput_ips, 0) }),
                el('td', { class: 'num', text: ms(f.frame_p95_ms) }));
      const ort = c.rows.find((r) => r.doc && r.doc.engine === 'onnxruntime-web' && r.doc.model.name === d.model.name &&
                                     r.doc.threads === d.threads && r.doc.mode === d.mode);
      if (d.engine === 'tandem-wasm' && ort && f.p50_ms > 0) {
        const r = ort.doc.figures.p50_ms / f.p50_ms;
        tr.append(el('td', { class: `num ratio ${r >= 1 ? 'good' : 'worse'}`,
                             text: `${r.toFixed(2)}× ${r >= 1 ? 'faster' : 'slower'}` }));
      } else tr.append(el('td', { class: 'num ratio', text: '' }));
    }
    const a = row.answer;
    const sent = !a ? el('td', { class: 'muted', text: row.error ? 'nothing to send' : 'sending…' })
      : a.ok ? el('td', { class: 'sent ok', 'data-id': String(a.id ?? ''), text: `✓ id ${a.id}`,
                          title: `stored in the server's results store as id ${a.id}` })
        : el('td', { class: 'sent bad', title: a.text, text: `✗ not stored${a.status ? ` (HTTP ${a.status})` : ''}` });
    tr.append(sent);
    tb.append(tr);
  }
  tbl.append(tb);
  const ids = c.rows.filter((r) => r.answer?.ok).map((r) => r.answer.id);
  const measured = c.rows.filter((r) => r.doc).length;
  $('crowd-summary').textContent = `· ${measured} of ${c.steps.length} measured, ${ids.length} stored` +
    (ids.length ? ` (ids ${ids.join(', ')})` : '') + (c.label ? ` · device label “${c.label}”` : ' · no device label') +
    (c.unsupported ? ' · this server keeps no results: download them below' : '');
  const lastErr = [...c.rows].reverse().find((r) => r.answer && !r.answer.ok && !r.answer.unsupported &&
                                                    !c.unsupported);
  if (lastErr) $('crowd-summary').textContent += ` · last send error: ${lastErr.answer.text}`;
  $('btn-crowd-download').disabled = S.busy || !measured;
}

// "Run the standard study on this device": every step of the plan in turn; each result is POSTed as soon as it is
// measured (a device that closes the tab half-way has still contributed). A step that fails is shown and skipped;
// the page's chosen model, input and pre-processing are put back afterwards.
async function runCrowd(opts = {}) {
  const o = crowdSettings(opts);
  const steps = planSuite(o.models, o.maxThreads);
  await dropClassifyEngine();
  const saved = { model: S.model, sel: $('model-select').value, image: S.image, inputDesc: S.inputDesc,
                  pre: ['pre-mean', 'pre-std', 'pre-size'].map((id) => $(id).value),
                  fileRow: $('model-file-row').hidden, info: $('model-info').textContent };
  const runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const c = S.crowd = { runId, steps, rows: [], stop: false, stopped: false, unsupported: false, running: true,
                        label: $('device-label').value.trim() };
  localStorage.setItem('tandem.deviceLabel', c.label);
  S.image = null; // the same seeded random input on every device
  S.inputDesc = `random (seed ${RANDOM_SEED})`;
  renderCrowd();
  const pv = progressView('crowd');
  pv.begin(steps);
  $('btn-crowd-stop').hidden = false;
  $('btn-crowd-stop').disabled = false;
  $('btn-crowd-stop').textContent = 'Stop after this step';
  $('btn-crowd').textContent = 'Running the standard study…';
  try {
    for (let i = 0; i < steps.length; i++) {
      if (c.stop) {
        c.stopped = true;
        break;
      }
      const s = steps[i];
      pv.step(i, `${s.model} · ${stepLabel(s)}`);
      const row = { index: i, step: s, doc: null, error: null, answer: null };
      try {
        if (S.model?.source !== 'server' || S.model.name !== s.model) selectServerModel(s.model);
        row.doc = await benchConfig({ engine: s.engine, mode: s.mode, threads: s.threads, build: 'auto',
                                      runs: o.runs, warmup: o.warmup, measureMemory: false,
                                      onStatus: (t) => pv.detail(t) });
      } catch (e) {
        row.error = (e && e.message) || String(e);
        console.error(e);
      }
      c.rows.push(row);
      renderCrowd();
      if (row.doc) {
        row.doc.extra.suite = { name: 'standard', run_id: runId, step: i + 1, steps: steps.length,
                                models: o.models.map((m) => m.name) };
        if (!c.unsupported) {
          pv.detail('sending the result to the server');
          row.answer = await postResult(row.doc);
          if (row.answer.unsupported) c.unsupported = true;
        } else row.answer = { ok: false, status: 0, text: 'not sent (this server does not accept results)' };
      }
      pv.finish(i);
      renderCrowd();
    }
  } finally {
    c.running = false;
    $('btn-crowd-stop').hidden = true;
    $('btn-crowd').textContent = 'Run the standard study on this device';
    S.model = saved.model;
    S.image = saved.image;
    S.inputDesc = saved.inputDesc;
    $('model-select').value = saved.sel;
    ['pre-mean', 'pre-std', 'pre-size'].forEach((id, k) => { $(id).value = saved.pre[k]; });
    $('model-file-row').hidden = saved.fileRow;
    $('model-info').textContent = saved.info;
    refreshPreview();
    const measured = c.rows.filter((r) => r.doc).length;
    const stored = c.rows.filter((r) => r.answer?.ok).length;
    pv.end(c.stopped ? `Stopped after ${measured} of ${steps.length} measurements; ${stored} stored on the server`
      : `Done: ${measured} of ${steps.length} measurements, ${stored} stored on the server`);
    renderCrowd();
  }
  const measured = c.rows.filter((r) => r.doc);
  const stored = c.rows.filter((r) => r.answer?.ok);
  const failed = c.rows.filter((r) => r.error);
  if (!measured.length) throw new Error(`no measurement succeeded: ${failed.map((r) => r.error).join('; ')}`);
  status(`Standard study done: ${measured.length} measurements, ${stored.length} stored on the server` +
         (failed.length ? `, ${failed.length} failed (see the table)` : '') +
         (c.unsupported ? ' (this server does not accept results: download the JSON instead)' : '') + '. Thank you!');
  return { run_id: runId, steps: steps.length, stopped: c.stopped, documents: measured.map((r) => r.doc),
           ids: stored.map((r) => r.answer.id), failed: failed.map((r) => ({ step: r.index + 1, error: r.error })),
           unsent: measured.filter((r) => !r.answer?.ok).map((r) => ({ step: r.index + 1, error: r.answer?.text })) };
}

// ---------------------------------------------------------------------------------------------- start-up

const charts = new Charts($('chart-latency'), $('chart-frames'));

// Say when the chosen thread count will not be what tandem runs with (the same rule as tandem.mjs's chooseBuild).
function threadsHint() {
  const t = Number($('threads').value), b = $('build').value;
  let hint = '';
  if (t > 1 && b === 'simd') hint = 'the simd build runs on 1 thread';
  else if (t > 1 && !self.crossOriginIsolated) hint = 'not cross-origin isolated: 1 thread';
  $('threads-hint').textContent = hint;
}

function initControls() {
  const hc = navigator.hardwareConcurrency || 1;
  const sel = $('threads');
  for (let t = 1; t <= hc; t++) sel.append(el('option', { value: String(t), text: String(t) }));
  const want = Number(params.get('threads')) || Math.min(hc, 4);
  sel.value = String(Math.max(1, Math.min(hc, want)));
  const b = params.get('build');
  if (b && ['auto', 'simd', 'simd-mt'].includes(b)) $('build').value = b;
  if (params.get('runs')) $('runs').value = params.get('runs');
  if (params.get('warmup')) $('warmup').value = params.get('warmup');
  $('device-label').value = params.get('label') || localStorage.getItem('tandem.deviceLabel') || '';

  $('device-label').addEventListener('input',
                                    () => localStorage.setItem('tandem.deviceLabel', $('device-label').value.trim()));
  $('btn-crowd').addEventListener('click', () => action('Standard study', () => runCrowd()));
  $('btn-crowd-stop').addEventListener('click', () => {
    if (S.crowd) S.crowd.stop = true;
    $('btn-crowd-stop').disabled = true;
    $('btn-crowd-stop').textContent = 'Stopping after this step…';
  });
  $('btn-crowd-download').addEventListener('click', () => saveBlob(
    new Blob([JSON.stringify(S.crowd.rows.filter((r) => r.doc).map((r) => r.doc), null, 2)],
             { type: 'application/json' }), 'json', 'standard-study'));
  $('model-select').addEventListener('change', () => action('Model', async () => {
    const v = $('model-select').value;
    if (v === 'file') {
      $('model-file-row').hidden = false;
      await selectFileModel($('model-file').files[0]);
    } else selectServerModel(v.slice('server:'.length));
  }));
  $('model-file').addEventListener('change',
                                  () => action('Model file', () => selectFileModel($('model-file').files[0])));
  $('input-select').addEventListener('change', () => action('Input', () => selectInput($('input-select').value)));
  $('input-file').addEventListener('change', () => action('Image', () => selectInput('file')));
  for (const id of ['pre-mean', 'pre-std', 'pre-size']) {
    $(id).addEventListener('change', () => { dropClassifyEngineResult(); refreshPreview(); });
  }
  for (const id of ['threads', 'build']) {
    $(id).addEventListener('change', () => { dropClassifyEngine(); threadsHint(); });
  }
  threadsHint();
  $('btn-classify').addEventListener('click', () => action('Classify', () => classify()));
  $('btn-bench').addEventListener('click', () => action('Benchmark', () => runSuite()));
  $('btn-download').addEventListener('click', download);
  $('btn-charts').addEventListener('click', () => action('Charts', downloadCharts));
  $('btn-send').addEventListener('click', () => action('Send to server', sendToServer));
  $('error-close').addEventListener('click', clearError);
  // leaving while the standard study runs: the browser asks first (what was measured is already on the server)
  window.addEventListener('beforeunload', (ev) => {
    if (S.crowd?.running) ev.preventDefault();
  });
  window.addEventListener('unhandledrejection', (ev) => showError(ev.reason, 'Unexpected'));
  window.addEventListener('error', (ev) => showError(ev.error || ev.message, 'Unexpected'));
}

async function init() {
  initControls();
  renderDevice();
  status('Fetching the model list…');
  await Promise.all([loadModelList(), loadSampleList(), probeStore()]);
  renderCrowdPlan();
  const want = params.get('model');
  // default: ?model=, else the demo model (trained, small), else the first model with labels, else the first
  const pick = [want, DEFAULT_MODEL, S.models.find((m) => m.labels)?.name, S.models[0]?.name]
    .find((n) => n && S.models.some((m) => m.name === n));
  if (pick) selectServerModel(pick);
  else {
    $('model-select').value = 'file';
    $('model-file-row').hidden = false;
    await selectFileModel(null);
  }
  const inp = params.get('input');
  if (inp === 'random') $('input-select').value = 'random';
  else if (inp && S.samples.some((s) => s.name === inp)) $('input-select').value = `sample:${inp}`;
  await selectInput($('input-select').value).catch((e) => showError(e, 'Input'));
  anim.draw(performance.now()); // animates only while a benchmark runs (no idle CPU use)
  status(S.model ? 'Ready. Classify an input, or run the benchmark.' : 'Ready. Choose an .onnx model file to begin.');
  document.body.dataset.state = 'idle';
}

// For headless drivers: everything a person can do, as async functions returning plain data.
const ready = init().catch((e) => { showError(e, 'Start-up'); document.body.dataset.state = 'error'; });
window.tandemPage = {
  ready,
  device: () => ({ ...deviceFacts(), build_in_use: S.lastBuild }),
  models: () => S.models.map((m) => m.name),
  samples: () => S.samples.map((s) => s.name),
  setModel: (name) => selectServerModel(name),
  // spec: 'random' | {sample: name} | {url: imageUrl} | {bytes: Uint8Array, name}
  async setInput(spec) {
    if (spec === 'random') { $('input-select').value = 'random'; return selectInput('random'); }
    if (spec.sample) { $('input-select').value = `sample:${spec.sample}`; return selectInput(`sample:${spec.sample}`); }
    const blob = spec.url ? await (await fetch(spec.url)).blob() : new Blob([spec.bytes]);
    return useImageBlob(blob, `file ${spec.name || spec.url}`);
  },
  classify: (opts = {}) => action('Classify', () => classify(opts), { rethrow: true }),
  // one configuration: {model, threads, build, mode: 'worker'|'main', engine: 'tandem'|'ort', runs, warmup,
  // measureMemory} → a tandem.result/1 document (also added to the page's table)
  runBenchmark: (opts = {}) => action('Benchmark', async () => {
    if (opts.model) selectServerModel(opts.model);
    const o = { ...benchOptions(), measureMemory: $('cfg-uamem').checked, ...opts };
    S.inBench = true;
    let doc;
    try {
      const tag = `${o.engine || 'tandem'} (${o.mode || 'worker'})`;
      doc = await benchConfig({ ...o, onStatus: (s) => status(`${tag}: ${s}…`) });
    } finally {
      S.inBench = false;
    }
    addResult(doc);
    $('sec-charts').hidden = false;
    charts.draw(S.results);
    status(`Done: ${configLabel(doc)}, p50 ${fmtMs(doc.figures.p50_ms)} ms.`);
    return doc;
  }, { rethrow: true }),
  // the Run benchmark button; opts may override threads/build/runs/warmup/configs ([{engine, mode}])
  runSuite: (opts = {}) => action('Benchmark', () => runSuite(opts), { rethrow: true }),
  results: () => S.results,
  clearResults: () => { S.results = []; renderResults(); publish(); updateExportButtons(); },
  sendToServer: () => action('Send to server', sendToServer, { rethrow: true }),
  // the "Run the standard study on this device" button; opts may override models/runs/warmup/maxThreads
  // → {run_id, steps, stopped, documents, ids (store ids), failed, unsent}
  runStandardStudy: (opts = {}) => action('Standard study', () => runCrowd(opts), { rethrow: true }),
  crowdResults: () => (S.crowd ? S.crowd.rows.filter((r) => r.doc).map((r) => r.doc) : []),
};
