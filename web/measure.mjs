// measure.mjs - the page's measurements: loading a model into tandem's wasm engine or onnxruntime-web (each in a Web
// Worker or on the main thread), one classification with its top-5 shown, and one benchmark configuration (set-up,
// first run, timed runs while the animation records frames, heap and page memory), returned as a tandem.result/1
// document (result-doc.mjs). The engines' JS APIs load lazily, so a missing or broken file becomes a message on the
// page, not a blank page.
import { topK } from './preprocess.mjs';
import { Animation } from './smoothness.mjs';
import { el, fmtMs, plural } from './format.mjs';
import { $, page, params, renderDevice, status } from './page.mjs';
import { input, learnModelInputs, makeInput, modelSource, refreshPreview, selectServerModel } from './model-input.mjs';
import { resultDocument } from './result-doc.mjs';

// measureUserAgentSpecificMemory() answers after the next garbage collection (Chromium: within about 20 s; 14 s
// seen here) and only once every worker of the page has answered too. With wasm threads it did not answer within
// 60 s here (a pthread worker blocked in Atomics.wait never reaches its event loop), so the page waits less there
// and then reports why there is no figure. ?memtimeout=S sets both.
const UA_MEMORY_TIMEOUT_MS = (Number(params.get('memtimeout')) || 25) * 1000;
const UA_MEMORY_TIMEOUT_THREADS_MS = (Number(params.get('memtimeout')) || 8) * 1000;

/* A module imported on first use; a failed import is tried again next time, and explained by why(error). */
function lazyModule(spec, why) {
  let loading = null;
  return async () => {
    loading ??= import(spec);
    try {
      return await loading;
    } catch (e) {
      loading = null;
      throw new Error(why(e));
    }
  };
}
const tandemModule = lazyModule('./tandem.mjs',
  (e) => `tandem's JS API (tandem.mjs) did not load: ${e.message}. Build the page with 'make web'.`);
const ortModule = lazyModule('./baseline-ort.mjs',
  (e) => `the onnxruntime-web baseline (baseline-ort.mjs) did not load: ${e.message}`);

/* The benchmark controls: threads, build, runs, warm-up. */
export function benchOptions() {
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
    const what = input.model.source === 'file' ? `'${input.model.fileName}'` : `'${input.model.name}'`;
    throw new Error(`${engine === 'tandem' ? 'tandem' : 'onnxruntime-web'} could not load the model ${what}: ` +
                    `${e.message || e}`);
  }
  const wall = performance.now() - t0;
  if (engine === 'tandem') {
    page.lastBuild = { build: eng.build, reason: eng.buildReason || '', threads: eng.threads };
    renderDevice();
  }
  learnModelInputs(eng.inputs);
  return { eng, wall };
}

function firstRow(output) {
  const dims = output.dims || [];
  const k = dims.length ? dims[dims.length - 1] : output.data.length;
  return output.data.subarray(0, k);
}

// ---------------------------------------------------------------------------------------------- classify

let classifyEngine = null; // {key, eng} kept between Classify clicks

/* Free the engine kept for Classify (the model, threads or build changed, or a benchmark needs the memory). */
export async function dropClassifyEngine() {
  const c = classifyEngine;
  classifyEngine = null;
  $('predictions').hidden = true;
  if (c) await c.eng.free().catch(() => {});
}
export function hidePredictions() {
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

export async function classify(opts = {}) {
  if (opts.model) selectServerModel(opts.model);
  const { threads, build } = { ...benchOptions(), ...opts };
  const key = `${input.model?.name}|${input.model?.source}|${threads}|${build}`;
  if (!classifyEngine || classifyEngine.key !== key) {
    await dropClassifyEngine();
    status(`Loading ${input.model?.name ?? 'the model'} into tandem…`);
    const { eng } = await loadEngine('tandem', { threads, build, worker: true });
    classifyEngine = { key, eng };
  }
  const eng = classifyEngine.eng;
  const x = makeInput(eng.inputs);
  status('Running one inference…');
  const r = await eng.run([x]);
  const out = r.outputs[0];
  const top = topK(firstRow(out), 5, input.model.labels);
  renderPredictions(top, `· ${input.desc} · tandem ${eng.build}, ${plural(eng.threads, 'thread')}, ` +
                         `${fmtMs(r.run_ms)} ms in the engine`);
  refreshPreview();
  status(`Top-1: ${top[0]?.label ?? `class ${top[0]?.index}`} (${(top[0]?.prob * 100).toFixed(1)} %).`);
  return { top, build: eng.build, threads: eng.threads, run_ms: r.run_ms, wall_ms: r.wall_ms,
           output_dims: out.dims, input: input.desc };
}

// ---------------------------------------------------------------------------------------------- benchmark

const anim = new Animation($('anim')); // the animation whose frames measure smoothness

function withTimeout(promise, ms, what) {
  let timer;
  const expire = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, expire]).finally(() => clearTimeout(timer));
}

/* The whole page's memory, when the browser can tell: {ua, uaNote}. */
async function pageMemory(eng, measureMemory, onStatus) {
  if (!measureMemory) return { ua: null, uaNote: 'not requested' };
  if (typeof performance.measureUserAgentSpecificMemory !== 'function' || !self.crossOriginIsolated)
    return { ua: null, uaNote: 'performance.measureUserAgentSpecificMemory() is not available here' };
  onStatus('measuring page memory (the browser may take a while)');
  try {
    const ua = await withTimeout(performance.measureUserAgentSpecificMemory(),
                                 eng.threads > 1 ? UA_MEMORY_TIMEOUT_THREADS_MS : UA_MEMORY_TIMEOUT_MS,
                                 'measureUserAgentSpecificMemory()');
    return { ua, uaNote: '' };
  } catch (e) {
    const why = eng.threads > 1 ? ' (with wasm threads it may wait for blocked thread workers)' : '';
    return { ua: null, uaNote: e.message + why };
  }
}

// One configuration: load afresh (set-up), bench while the animation records frames (first run + timed runs),
// one more run for the predictions, then memory. Returns a result document (tandem.result/1).
export async function benchConfig({ engine = 'tandem', mode = 'worker', threads, build = 'auto', runs = 100, warmup = 5,
                                    measureMemory = true, onStatus = () => {} }) {
  const worker = mode !== 'main';
  onStatus(`loading the model (${mode === 'main' ? 'main thread' : 'worker'})`);
  const { eng, wall } = await loadEngine(engine, { threads, build, worker });
  try {
    const x = makeInput(eng.inputs);
    onStatus(`timing ${runs} runs after ${warmup} warm-up`);
    const { value: bench, frames } = await anim.measure(() => eng.bench(x, { runs, warmup }));
    const r = await eng.run([x]);
    const top = topK(firstRow(r.outputs[0]), 5, input.model.labels);
    const heap = await eng.heapBytes();
    const { ua, uaNote } = await pageMemory(eng, measureMemory, onStatus);
    return resultDocument({ engine, eng, mode, build, threads, runs, warmup, bench, frames, heap, ua, uaNote, top,
                            model: { name: input.model.name, bytes: input.model.bytes }, input: x,
                            inputDesc: input.desc, loadWallMs: wall, label: $('device-label').value.trim() });
  } finally {
    await eng.free().catch(() => {});
  }
}

/* Draw the idle animation once (it animates only while a benchmark runs: no idle CPU use). */
export function drawAnimation() {
  anim.draw(performance.now());
}
