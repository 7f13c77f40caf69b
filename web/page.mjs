// page.mjs - the measuring page's own state and chrome: the status line and progress bar, the error banner, the busy
// state that disables the controls while something runs (action()), the step / ETA panel of long runs
// (progressView), and the device facts panel. Other modules keep their own state (model-input.mjs: the model and
// input; results-view.mjs: the results; crowd-view.mjs: the standard study); this one holds only what the whole page
// shares.
import { el, plural } from './format.mjs';
import { deviceFacts } from './result-doc.mjs';
import { Eta, fmtDuration } from './crowd.mjs';

export const $ = (id) => document.getElementById(id);
export const params = new URLSearchParams(location.search);

export const page = {
  busy: false,
  inBench: false,      // status lines also go beside the Run benchmark button
  lastBuild: null,     // {build, reason, threads} of the last tandem engine loaded
};

// ---------------------------------------------------------------------------------------------- status, errors

export function status(text, frac = null) {
  $('status').textContent = text;
  if (page.inBench) $('bench-status').textContent = text; // mirrored beside the Run button
  const p = $('progress');
  if (frac == null) p.hidden = true;
  else {
    p.hidden = false;
    p.value = frac;
  }
}

export function showError(err, where = '') {
  const msg = (err && err.message) || String(err);
  $('error-text').textContent = where ? `${where}: ${msg}` : msg;
  $('error-banner').hidden = false;
  document.body.dataset.error = $('error-text').textContent;
  status(`Error: ${$('error-text').textContent}`);
  console.error(err);
}

export function clearError() {
  $('error-banner').hidden = true;
  delete document.body.dataset.error;
}

const idleHooks = [];
/* fn() runs each time the page stops being busy (the views refresh their buttons). */
export function onIdle(fn) {
  idleHooks.push(fn);
}

function setBusy(busy) {
  page.busy = busy;
  document.body.dataset.state = busy ? 'running' : 'idle';
  for (const e of document.querySelectorAll('main button:not([data-keep-enabled]), main select, main input')) {
    if (busy) {
      e.dataset.wasDisabled = e.disabled ? '1' : '';
      e.disabled = true;
    } else {
      e.disabled = e.dataset.wasDisabled === '1';
    }
  }
  if (!busy) for (const fn of idleHooks) fn();
}

// Run one user action: busy while it runs, errors shown in the page, the result returned (or the error rethrown
// for programmatic callers).
export async function action(name, fn, { rethrow = false } = {}) {
  if (page.busy) {
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

// ---------------------------------------------------------------------------------------------- device facts

function yesNo(v, yes = 'yes', no = 'no') {
  return el('span', { class: v ? 'pill ok' : 'pill bad', text: v ? yes : no });
}

export function renderDevice() {
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
  const b = page.lastBuild;
  add('tandem build in use', b
    ? el('span', {}, el('strong', { text: b.build }), ` · ${plural(b.threads, 'thread')} · ${b.reason}`)
    : el('span', { class: 'muted', text: 'not loaded yet (Classify or Run benchmark)' }));
  $('device-hint').textContent = f.cross_origin_isolated ? ''
    : 'This page is not cross-origin isolated (COOP/COEP headers missing), so tandem falls back to its ' +
      'single-threaded SIMD build.';
  $('footer-build').textContent = b ? `engine build: ${b.build}` : '';
}

// ---------------------------------------------------------------------------------------------- progress

// The progress panel of a run of several steps (ids PREFIX-progress, -step, -eta, -fill, -bar, -detail): which step of
// how many, what it measures, what it is doing now, elapsed time and the time left estimated from the steps done so
// far (crowd.mjs's Eta). The header's status line and bar say the same in one line.
export function progressView(prefix) {
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
