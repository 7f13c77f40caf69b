// results-view.mjs - the page's results: the result documents of this page's benchmark runs, the table of figures
// with tandem ÷ onnxruntime-web ratios, the headline tiles, the charts, and their export (JSON download, the charts
// as PNG, POST to the server's results store). Holds the list of results as its own state; publishes it in
// <pre id="result-json"> for headless drivers.
import { Charts, configLabel } from './charts.mjs';
import { el, fmtBytes, fmtMB, fmtMs, fmtNum } from './format.mjs';
import { $ } from './page.mjs';
import { postResult } from './result-doc.mjs';

let results = [];
const charts = new Charts($('chart-latency'), $('chart-frames'));

/* The result documents shown (tandem.result/1, docs/RESULTS.md). */
export const currentResults = () => results;

export function clearResults() {
  results = [];
  renderResults();
  publish();
  updateExportButtons();
}

export function addResult(doc) {
  results.push(doc);
  renderResults();
  publish();
}

export function publish() {
  $('result-json').textContent = JSON.stringify(results, null, 1);
  document.body.dataset.results = String(results.length);
}

/* Show the charts of the results so far. */
export function drawCharts() {
  $('sec-charts').hidden = false;
  charts.draw(results);
}

// ---------------------------------------------------------------------------------------------- the table

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

export function renderResults() {
  const wrap = $('results-wrap'), tbl = $('results-table');
  tbl.textContent = '';
  if (!results.length) {
    wrap.hidden = true;
    return;
  }
  wrap.hidden = false;
  const res = results;
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

export function updateExportButtons() {
  const has = results.length > 0;
  $('btn-download').disabled = !has;
  $('btn-send').disabled = !has;
  $('btn-charts').disabled = !has;
  $('export-hint').textContent = has ? `${results.length} result document${results.length === 1 ? '' : 's'} ` +
    '(schema tandem.result/1).' : 'Run a benchmark first.';
}

export function saveBlob(blob, ext, name = results[0]?.model.name ?? 'results') {
  const a = el('a', { href: URL.createObjectURL(blob),
    download: `tandem-${name}-` +
              `${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

export function download() {
  saveBlob(new Blob([JSON.stringify(results, null, 2)], { type: 'application/json' }), 'json');
}

export async function downloadCharts() {
  const r0 = results[0];
  const caption = r0 ? `tandem · ${r0.model.name} · ${r0.extra.input} · ${r0.device.user_agent}` : '';
  saveBlob(await charts.toPng(caption), 'png');
}

// POST each result to /api/results; shows what the server answered (201 {"id":N}) or why it could not.
export async function sendToServer() {
  const box = $('send-result');
  box.hidden = false;
  box.textContent = '';
  const answers = [];
  for (const r of results) {
    const label = configLabel(r);
    const line = await postResult(r);
    answers.push({ config: label, ...line });
    box.append(el('div', { class: line.ok ? 'ok' : 'bad' }, el('strong', { text: `${label}: ` }),
      line.status ? `HTTP ${line.status} ` : '', line.text));
    if (!line.ok && (line.status === 404 || line.status === 405 || line.status === 501 || line.status === 0)) break;
  }
  return answers;
}
