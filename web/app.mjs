// app.mjs - the measuring page's start-up: wires the controls to the modules that do the work, runs the "Run
// benchmark" suite, and exposes window.tandemPage (async functions returning the result documents of
// docs/RESULTS.md) and <pre id="result-json"> for headless drivers (tests/e2e, the study).
//
// The page by concern: format.mjs (numbers, el()), page.mjs (status, errors, busy state, progress, device facts),
// model-input.mjs (model, pre-processing, input tensor), measure.mjs (engines, classify, one benchmark
// configuration), result-doc.mjs (the tandem.result/1 document, POST /api/results), results-view.mjs (the table,
// headline, charts, export), crowd-view.mjs (the standard study of crowd mode); plus preprocess.mjs,
// smoothness.mjs, charts.mjs and crowd.mjs below them.
import { configLabel } from './charts.mjs';
import { el, fmtMs, plural } from './format.mjs';
import { $, action, clearError, onIdle, page, params, progressView, renderDevice, showError, status } from './page.mjs';
import { input, inputChanged, loadModelList, loadSampleList, makeInput, onInputChange, onModelChange, refreshPreview,
  selectFileModel, selectInput, selectServerModel, useImageBlob } from './model-input.mjs';
import { benchConfig, benchOptions, classify, drawAnimation, dropClassifyEngine, hidePredictions } from './measure.mjs';
import { deviceFacts } from './result-doc.mjs';
import { addResult, clearResults, currentResults, download, downloadCharts, drawCharts, saveBlob, sendToServer,
  updateExportButtons } from './results-view.mjs';
import { crowd, crowdDocuments, probeStore, renderCrowdPlan, runCrowd, stopCrowd, updateCrowdButtons }
  from './crowd-view.mjs';
import { stepLabel } from './crowd.mjs';

const DEFAULT_MODEL = 'cifar10_resnet20';

// ---------------------------------------------------------------------------------------------- the benchmark suite

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
  if (!input.model) throw new Error('no model chosen');
  // input errors before any loading (own files: known after loading)
  if (input.model.inputs) makeInput(input.model.inputs);
  await dropClassifyEngine(); // nothing else resident while measuring memory
  page.inBench = true;
  try {
    return await runConfigs(o, configs);
  } finally {
    page.inBench = false;
  }
}

async function runConfigs(o, configs) {
  clearResults();
  const out = [];
  const used = {};
  const pv = progressView('bench');
  // the thread count shown is the one asked for; onnxruntime-web then gets what tandem really used
  pv.begin(configs.map((c) => ({ model: input.model.name, bytes: input.model.bytes || 1, ...c, threads: o.threads })));
  try {
    for (let i = 0; i < configs.length; i++) {
      const c = configs[i];
      const threads = c.engine === 'ort' && used[c.mode] ? used[c.mode] : o.threads;
      pv.step(i, `${input.model.name} · ${stepLabel({ ...c, threads })}`);
      const doc = await benchConfig({ ...o, ...c, threads, onStatus: (s) => pv.detail(s) });
      pv.finish(i);
      if (c.engine === 'tandem') used[c.mode] = doc.threads;
      out.push(doc);
      addResult(doc);
    }
  } finally {
    pv.end(out.length === configs.length ? `Done: ${plural(out.length, 'configuration')} of ${input.model.name}`
      : `Ended after ${out.length} of ${configs.length} configurations (see the error above)`);
  }
  status(`Done: ${out.length} configuration${out.length === 1 ? '' : 's'} of ${input.model.name}. ` +
         'Download the JSON or send it to the server below.', null);
  drawCharts();
  return out;
}

// ---------------------------------------------------------------------------------------------- start-up

// Say when the chosen thread count will not be what tandem runs with (the same rule as tandem.mjs's chooseBuild).
function threadsHint() {
  const t = Number($('threads').value), b = $('build').value;
  let hint = '';
  if (t > 1 && (b === 'simd' || b === 'relaxed')) hint = `the ${b} build runs on 1 thread`;
  else if (t > 1 && !self.crossOriginIsolated) hint = 'not cross-origin isolated: 1 thread';
  $('threads-hint').textContent = hint;
}

function initControls() {
  onModelChange(dropClassifyEngine);
  onInputChange(hidePredictions);
  onIdle(updateExportButtons);
  onIdle(updateCrowdButtons);
  const hc = navigator.hardwareConcurrency || 1;
  const sel = $('threads');
  for (let t = 1; t <= hc; t++) sel.append(el('option', { value: String(t), text: String(t) }));
  const want = Number(params.get('threads')) || Math.min(hc, 4);
  sel.value = String(Math.max(1, Math.min(hc, want)));
  const b = params.get('build');
  if (b && [...$('build').options].some((o) => o.value === b)) $('build').value = b;
  if (params.get('runs')) $('runs').value = params.get('runs');
  if (params.get('warmup')) $('warmup').value = params.get('warmup');
  $('device-label').value = params.get('label') || localStorage.getItem('tandem.deviceLabel') || '';

  $('device-label').addEventListener('input',
                                    () => localStorage.setItem('tandem.deviceLabel', $('device-label').value.trim()));
  $('btn-crowd').addEventListener('click', () => action('Standard study', () => runCrowd()));
  $('btn-crowd-stop').addEventListener('click', () => {
    stopCrowd();
    $('btn-crowd-stop').disabled = true;
    $('btn-crowd-stop').textContent = 'Stopping after this step…';
  });
  $('btn-crowd-download').addEventListener('click', () => saveBlob(
    new Blob([JSON.stringify(crowdDocuments(), null, 2)], { type: 'application/json' }), 'json', 'standard-study'));
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
    $(id).addEventListener('change', () => { inputChanged(); refreshPreview(); });
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
    if (crowd.run?.running) ev.preventDefault();
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
  const pick = [want, DEFAULT_MODEL, input.models.find((m) => m.labels)?.name, input.models[0]?.name]
    .find((n) => n && input.models.some((m) => m.name === n));
  if (pick) selectServerModel(pick);
  else {
    $('model-select').value = 'file';
    $('model-file-row').hidden = false;
    await selectFileModel(null);
  }
  const inp = params.get('input');
  if (inp === 'random') $('input-select').value = 'random';
  else if (inp && input.samples.some((s) => s.name === inp)) $('input-select').value = `sample:${inp}`;
  await selectInput($('input-select').value).catch((e) => showError(e, 'Input'));
  drawAnimation();
  status(input.model ? 'Ready. Classify an input, or run the benchmark.'
    : 'Ready. Choose an .onnx model file to begin.');
  document.body.dataset.state = 'idle';
}

// For headless drivers: everything a person can do, as async functions returning plain data.
const ready = init().catch((e) => { showError(e, 'Start-up'); document.body.dataset.state = 'error'; });
window.tandemPage = {
  ready,
  device: () => ({ ...deviceFacts(), build_in_use: page.lastBuild }),
  models: () => input.models.map((m) => m.name),
  samples: () => input.samples.map((s) => s.name),
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
    page.inBench = true;
    let doc;
    try {
      const tag = `${o.engine || 'tandem'} (${o.mode || 'worker'})`;
      doc = await benchConfig({ ...o, onStatus: (s) => status(`${tag}: ${s}…`) });
    } finally {
      page.inBench = false;
    }
    addResult(doc);
    drawCharts();
    status(`Done: ${configLabel(doc)}, p50 ${fmtMs(doc.figures.p50_ms)} ms.`);
    return doc;
  }, { rethrow: true }),
  // the Run benchmark button; opts may override threads/build/runs/warmup/configs ([{engine, mode}])
  runSuite: (opts = {}) => action('Benchmark', () => runSuite(opts), { rethrow: true }),
  results: () => currentResults(),
  clearResults: () => clearResults(),
  sendToServer: () => action('Send to server', sendToServer, { rethrow: true }),
  // the "Run the standard study on this device" button; opts may override models/runs/warmup/maxThreads
  // → {run_id, steps, stopped, documents, ids (store ids), failed, unsent}
  runStandardStudy: (opts = {}) => action('Standard study', () => runCrowd(opts), { rethrow: true }),
  crowdResults: () => crowdDocuments(),
};
