// crowd-view.mjs - crowd mode on the page: "Run the standard study on this device" runs the standard suite
// (crowd.mjs's plan: the standard models x tandem in a worker at 1..N threads, tandem on the main thread,
// onnxruntime-web, then the cloud path from this device), POSTs each result document to the server's store as soon as
// it is measured, and shows this device's verdict (on-device or cloud, decision.mjs) first, then the suite's table.
// Holds the suite's run as its own state.
import { standardModels, planSuite, stepLabel } from './crowd.mjs';
import { el, fmtMs, fmtNum, plural } from './format.mjs';
import { $, page, params, progressView, status } from './page.mjs';
import { input, makeInput, restoreChoice, saveChoice, selectServerModel, useRandomInput } from './model-input.mjs';
import { benchConfig, dropClassifyEngine } from './measure.mjs';
import { postResult, verdictDocument } from './result-doc.mjs';
import { inferRequest, measureRtt, summarise, timedRequest } from './cloud.mjs';
import { decideFrom } from './decision.mjs';

export const crowd = {
  run: null,           // the standard suite's run: {runId, steps, rows, stop, ...}
  store: null,         // does this server keep results (GET /api/results answered)?
};

/* The documents the suite measured so far. */
export const crowdDocuments = () => (crowd.run ? crowd.run.rows.filter((r) => r.doc).map((r) => r.doc) : []);

/* The suite's buttons once the page is idle again. */
export function updateCrowdButtons() {
  $('btn-crowd-download').disabled = !crowd.run?.rows.some((r) => r.doc);
}

/* Ask a running suite to stop after its current step. */
export function stopCrowd() {
  if (crowd.run) crowd.run.stop = true;
}

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
  o.models = standardModels(input.models, o.wanted);
  return o;
}

// Whether this server keeps results (GET /api/results answers: `tandem serve`), asked once at start-up.
export async function probeStore() {
  try {
    const r = await fetch('api/results?limit=1', { cache: 'no-store' });
    crowd.store = r.ok;
  } catch {
    crowd.store = false;
  }
}

export function renderCrowdPlan() {
  let text;
  try {
    const o = crowdSettings();
    const steps = planSuite(o.models, o.maxThreads);
    text = `${plural(steps.length, 'measurement')}: ${o.models.map((m) => m.name).join(', ')} × (tandem in a ` +
      `worker at ${o.maxThreads > 1 ? `1–${o.maxThreads} threads` : '1 thread'}, tandem on the main thread, ` +
      `onnxruntime-web), ${o.runs} timed runs each after ${o.warmup} warm-up${o.note ? `; ${o.note}` : ''}; then the ` +
      'cloud path from this device (RTT and requests to this server) and the verdict.' +
      (crowd.store === false ? ' This server keeps no results (serve the page with `tandem serve` to collect them): ' +
                           'they stay in this page, to download as JSON.' : '');
    $('btn-crowd').dataset.wasDisabled = '';
    if (!page.busy) $('btn-crowd').disabled = false;
  } catch (e) {
    text = `Not available: ${e.message}.`;
    $('btn-crowd').disabled = true;
    $('btn-crowd').dataset.wasDisabled = '1';
  }
  $('crowd-plan').textContent = text;
}

const ms3 = (v) => `${fmtNum(v, v < 10 ? 2 : v < 100 ? 1 : 0)} ms`;

/* The verdict in words (stored with it, and shown first on the page). */
export function verdictText(v, di) {
  const steady = v.winner === 'on-device'
    ? `on-device, ${v.by.toFixed(2)}× faster (${ms3(di.on_device_ms)} here against ${ms3(di.cloud_ms)} for the cloud)`
    : `cloud, ${v.by.toFixed(2)}× faster (${ms3(di.cloud_ms)} against ${ms3(di.on_device_ms)} here)`;
  const first = v.first_winner === 'on-device'
    ? `on-device, ${v.first_by.toFixed(2)}× faster (${ms3(di.first_on_device_ms)} against ${ms3(di.cloud_ms)})`
    : `cloud, ${v.first_by.toFixed(2)}× faster (${ms3(di.cloud_ms)} against ${ms3(di.first_on_device_ms)} to ` +
      'download, load and run the model here)';
  const rtt = v.break_even_rtt_ms > 0 ? `the cloud answers first below an RTT of ${ms3(v.break_even_rtt_ms)}`
    : 'the device answers first even at 0 ms RTT';
  const up = v.break_even_up_mbps > 0 ? `the cloud answers first above ${fmtNum(v.break_even_up_mbps, 2)} Mbit/s uplink`
    : 'no uplink makes the cloud answer first';
  return `Steady state: ${steady}. First prediction: ${first}. Break-even: ${rtt} (yours: ${ms3(di.rtt_ms)}); ` +
    `at your RTT, ${up}.`;
}

function renderVerdicts(c) {
  const box = $('crowd-verdict');
  const docs = c ? c.rows.filter((r) => r.doc?.schema === 'tandem.verdict/1').map((r) => r.doc) : [];
  box.hidden = !docs.length;
  box.textContent = '';
  if (!docs.length) return;
  box.append(el('h3', { text: 'This device’s verdict' }));
  for (const d of docs) {
    const v = d.verdict, cl = d.cloud;
    const part = (k, what) => (cl[k] ? `${what} ${ms3(cl[k].median)}` : null);
    box.append(el('div', { class: `verdict ${v.winner === 'cloud' ? 'cloud' : 'device'}`, 'data-model': d.model.name },
      el('p', { class: 'verdict-head' },
        el('strong', { text: `${d.model.name}: ${v.winner === 'cloud' ? 'run it in the cloud' : 'run it on this device'}` }),
        el('span', { class: 'muted', text: ` (steady state; first prediction: ${v.first_winner})` })),
      el('p', { class: 'verdict-text', text: v.text }),
      el('p', { class: 'muted small', text: `The cloud request from here (${cl.path}, ${cl.requests - cl.errors} of ` +
        `${cl.requests} answered): ${[part('connect_ms', 'connect'), part('upload_ms', 'upload (derived)'),
          cl.server_ms ? `server ${ms3(cl.server_ms.median)} (Server-Timing)` : 'server: no Server-Timing',
          part('download_ms', 'download'), part('total_ms', 'total')].filter(Boolean).join(', ')}; RTT ` +
        `${ms3(d.network.rtt_ms.median)} (median of ${d.network.rtt_ms.n} requests to ${d.network.url}; ` +
        `${cl.timing === 'resource-timing' ? 'Resource Timing' : 'wall clock'}).` })));
  }
}

export function renderCrowd() {
  const c = crowd.run;
  renderVerdicts(c);
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
    } else if (d.schema === 'tandem.verdict/1') {
      const cl = d.cloud, m = (k) => (cl[k] ? ms(cl[k].median) : '–');
      tr.append(el('td', { text: `cloud (${cl.path})` }), el('td', { class: 'num', text: '–' }),
                el('td', { text: 'network' }),
                el('td', { colspan: '6', class: 'cloud-split', text: `RTT ${ms(d.network.rtt_ms.median)} · connect ` +
                  `${m('connect_ms')} · upload ${m('upload_ms')}* · server ${m('server_ms')} · download ` +
                  `${m('download_ms')} · total ${m('total_ms')}` }),
                el('td', { class: 'winner', text: d.verdict.winner }));
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
  $('btn-crowd-download').disabled = page.busy || !measured;
}

// The cloud step of one model: the RTT to this server, then requests with the same input the browser steps ran (the
// seeded random tensor, so KServe v2 /infer with binary tensors; see docs/STUDY.md), and the verdict against this
// device's fastest tandem-wasm worker configuration (steady state) and its first load (first prediction).
async function cloudStep(s, o, c, detail) {
  const docs = c.rows.filter((r) => r.doc?.schema === 'tandem.result/1' && r.doc.model.name === s.model &&
                                    r.doc.engine === 'tandem-wasm').map((r) => r.doc);
  const workers = docs.filter((d) => d.mode === 'worker' && d.figures.p50_ms > 0);
  if (!workers.length) throw new Error('no tandem-wasm measurement of this model on this device to compare with');
  const best = workers.reduce((a, b) => (b.figures.p50_ms < a.figures.p50_ms ? b : a));
  const first = docs[0]; // the first load of the model in this run: its download came over this network
  const spec = input.model.inputs?.[0];
  const decl = input.models.find((m) => m.name === s.model)?.inputs?.[0]?.datatype;
  if (decl && decl !== 'FP32') throw new Error(`the device run sends float tensors; '${spec?.name}' is ${decl}`);
  detail('measuring the round-trip time to the server');
  const rtt = await measureRtt(7);
  const t = makeInput(null); // the seeded random tensor of the browser steps
  const n = Math.max(5, Math.min(30, o.runs));
  const req = (i) => inferRequest(s.model, [{ name: spec.name, dtype: 'float32', data: t.data, dims: t.dims }],
                                  `${c.runId}-${i}`);
  detail(`timing ${n} requests to the server`);
  for (let i = 0; i < Math.min(o.warmup, 3); i++) await timedRequest(req(`w${i}`));
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(await timedRequest(req(i)));
  const cloud = summarise(rows, rtt.rtt_ms.median);
  if (!cloud.total_ms) throw new Error(`every request to the server failed (HTTP ${rows[0]?.status})`);
  const med = (x) => x?.median ?? 0;
  const inputs = {
    on_device_ms: best.figures.p50_ms, first_on_device_ms: first.figures.setup_ms + first.figures.first_run_ms,
    cloud_ms: med(cloud.total_ms), total_ms: med(cloud.total_ms), server_ms: med(cloud.server_ms),
    rtt_ms: rtt.rtt_ms.median, request_bytes: cloud.request_bytes, response_bytes: cloud.response_bytes,
    up_kbps: med(cloud.upload_ms) > 0 ? (cloud.request_bytes * 8) / med(cloud.upload_ms) : 0,
    down_kbps: med(cloud.download_ms) > 0 ? (cloud.response_bytes * 8) / med(cloud.download_ms) : 0,
  };
  const verdict = decideFrom(inputs);
  verdict.text = verdictText(verdict, inputs);
  const conn = navigator.connection;
  const deviceTop1 = best.extra?.top5?.[0]?.index;
  return verdictDocument({
    model: { name: s.model, bytes: best.model.bytes }, label: c.label,
    network: { rtt_ms: rtt.rtt_ms, samples_ms: rtt.samples_ms, url: rtt.url, timing: rtt.timing,
               connection: conn ? { effective_type: conn.effectiveType ?? null, downlink_mbps: conn.downlink ?? null,
                                    rtt_ms: conn.rtt ?? null } : null },
    cloud: { ...cloud, top1_agrees: deviceTop1 == null ? null : cloud.top1.every((k) => k === deviceTop1) },
    onDevice: { engine: 'tandem-wasm', build: best.build, threads: best.threads, mode: best.mode,
                steady_ms: best.figures.p50_ms, first_ms: inputs.first_on_device_ms, first_setup_ms: first.figures.setup_ms,
                first_run_ms: first.figures.first_run_ms, first_threads: first.threads },
    inputs, verdict, requests: rows, inputDesc: input.desc, inputDims: t.dims,
  });
}

// "Run the standard study on this device": every step of the plan in turn; each result is POSTed as soon as it is
// measured (a device that closes the tab half-way has still contributed). A step that fails is shown and skipped;
// the page's chosen model, input and pre-processing are put back afterwards.
export async function runCrowd(opts = {}) {
  const o = crowdSettings(opts);
  const steps = planSuite(o.models, o.maxThreads);
  await dropClassifyEngine();
  const saved = saveChoice();
  const runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const c = crowd.run = { runId, steps, rows: [], stop: false, stopped: false, unsupported: false, running: true,
                        label: $('device-label').value.trim() };
  localStorage.setItem('tandem.deviceLabel', c.label);
  useRandomInput(); // the same seeded random input on every device
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
        if (input.model?.source !== 'server' || input.model.name !== s.model) selectServerModel(s.model);
        if (s.engine === 'cloud') row.doc = await cloudStep(s, o, c, (t) => pv.detail(t));
        else row.doc = await benchConfig({ engine: s.engine, mode: s.mode, threads: s.threads, build: 'auto',
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
    restoreChoice(saved);
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
