// crowd.mjs - the crowd-mode test: `tandem serve` over a temporary model repository (the zoo's cifar100_resnet20 and
// a CIFAR-shaped model that is not a standard one) with a fresh SQLite results store, the page in headless Chromium,
// the "Run the standard study on this device" button pressed with a reduced suite (?suite_runs=), and then: the
// progress panel showed step k of n and a time left, the store holds one tandem.result/1 document per browser step of
// the plan (with the device label and the page's facts) and one tandem.verdict/1 for the cloud step (the cloud path
// measured from the page: positive times, the server part below the total, a verdict consistent with its numbers and
// shown on the page), the page's log names the store ids, `tandem study --report-from` lists every one of them in its
// crowd table and the verdict in its real-devices table (recomputed by the C decision code: the same answer as the
// page's web/decision.mjs), and "Stop after this step" keeps what was already sent. Last, a shorter suite on an
// emulated phone (playwright's Pixel 7: 412 px wide, touch, mobile user agent): the verdict shown and stored, and no
// horizontal overflow; its screenshot is study-mobile.png (docs/img/ has a copy).
// Prints `N passed, M failed`; exits nonzero on any failure.
//
//   node tests/e2e/crowd.mjs --build-dir build --web build/web --out build/test-output/e2e [--runs 10]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checker, startServer, launchBrowser, devices } from './lib.mjs';

const args = { build: 'build', web: 'build/web', out: 'build/test-output/e2e', runs: 10, chromium: '/usr/bin/chromium' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--build-dir') args.build = v;
  else if (a === '--web') args.web = v;
  else if (a === '--out') args.out = v;
  else if (a === '--runs') args.runs = Number(v);
  else if (a === '--chromium') args.chromium = v;
  else { console.error(`crowd: unknown option ${a}`); process.exit(2); }
  i++;
}

const LABEL = "Alice's laptop";
const STANDARD = 'cifar100_resnet20';
const OTHER = 'my_cifar_model'; // CIFAR-shaped but not a standard name: the suite must leave it out
const SUITE_TIMEOUT_MS = 600000;
const C = checker();
const check = C.check;
const tandem = path.join(args.build, 'tandem');
const tmp = mkdtempSync(path.join(tmpdir(), 'tandem-crowd-'));
let server = null, browser = null;

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url} → HTTP ${r.status}`);
  return r.json();
}

// The plan the page should make on this machine: per model, tandem worker at 1..T threads, onnxruntime-web worker
// at 1 thread, tandem on the main thread at 1 thread, then the cloud step (its document: tandem.verdict/1).
function expectedConfigs(maxThreads) {
  const c = ['tandem-wasm/worker/1', 'onnxruntime-web/worker/1', 'tandem-wasm/main/1', 'cloud'];
  for (let t = 2; t <= maxThreads; t++) c.push(`tandem-wasm/worker/${t}`);
  return c.sort();
}
const isVerdict = (d) => d.schema === 'tandem.verdict/1';
const configOf = (d) => (isVerdict(d) ? 'cloud' : `${d.engine}/${d.mode}/${d.threads}`);

// Clicks the button and samples the progress panel every 250 ms until the page is idle again. Every change of the
// panel's texts is also recorded in the page (a MutationObserver), so short phases are not missed:
// → {samples, changes: [{step, eta, detail}]}
async function runAndWatch(page, { onSample = async () => {}, timeout = SUITE_TIMEOUT_MS } = {}) {
  const samples = [];
  await page.evaluate(() => {
    window.progressChanges = [];
    const $ = (id) => document.getElementById(id);
    new MutationObserver(() => window.progressChanges.push({
      step: $('crowd-step').textContent, eta: $('crowd-eta').textContent, detail: $('crowd-detail').textContent,
    })).observe($('crowd-progress'), { subtree: true, childList: true, characterData: true });
  });
  await page.click('#btn-crowd');
  const t0 = Date.now();
  for (;;) {
    const s = await page.evaluate(() => ({
      state: document.body.dataset.state, progress: document.body.dataset.progress || '',
      step: document.getElementById('crowd-step').textContent, eta: document.getElementById('crowd-eta').textContent,
      detail: document.getElementById('crowd-detail').textContent,
      fill: parseFloat(document.getElementById('crowd-fill').style.width) || 0,
      status: document.getElementById('status').textContent,
      panelVisible: !document.getElementById('crowd-progress').hidden,
    }));
    samples.push(s);
    await onSample(s, samples);
    if (s.state === 'idle' || s.state === 'error') break;
    if (Date.now() - t0 > timeout) throw new Error(`the suite did not finish within ${timeout / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { samples, changes: await page.evaluate(() => window.progressChanges) };
}

async function main() {
  mkdirSync(args.out, { recursive: true });
  // the model repository: a standard zoo model and a CIFAR-shaped other one (the same network under another name)
  const repo = path.join(tmp, 'models');
  for (const name of [STANDARD, OTHER]) {
    mkdirSync(path.join(repo, name), { recursive: true });
    execFileSync(tandem, ['zoo', STANDARD, '-o', path.join(repo, name, 'model.onnx')], { stdio: 'pipe' });
  }
  const db = path.join(tmp, 'results.db');
  const started = await startServer(tandem, ['serve', '--models', repo, '--host', '127.0.0.1', '--port', '0',
                                             '--db', `sqlite:${db}`, '--web', args.web],
                                    /listening on http:\/\/[^/\s]*:(\d+)\//);
  server = started.child;
  const base = `http://127.0.0.1:${started.match[1]}`;
  console.log(`tandem serve: ${base} (store ${db})`);

  browser = await launchBrowser(args.chromium);
  const page = await browser.ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const url = `${base}/?suite_runs=${args.runs}&suite_warmup=1`;
  await page.goto(url);
  await page.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
  await page.evaluate(() => window.tandemPage.ready);
  const hc = await page.evaluate(() => navigator.hardwareConcurrency);
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const maxThreads = isolated ? Math.min(hc, 4) : 1;
  const want = expectedConfigs(maxThreads);

  // the button is the first thing on the page, with its explanation and the plan
  const btn = page.locator('#btn-crowd');
  const box = await btn.boundingBox();
  check('"Run the standard study on this device" button visible at the top of the page',
        await btn.isVisible() && await btn.isEnabled() && box && box.y + box.height < 900 &&
        /Run the standard study on this device/.test(await btn.innerText()), JSON.stringify(box));
  const plan = await page.locator('#crowd-plan').innerText();
  check('the plan names the standard model only, with the step count and runs',
        plan.includes(STANDARD) && !plan.includes(OTHER) && plan.includes(`${want.length} measurements`) &&
        plan.includes(`${args.runs} timed runs`), plan);

  // the device label is remembered in this browser
  await page.fill('#device-label', LABEL);
  await page.reload();
  await page.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
  await page.evaluate(() => window.tandemPage.ready);
  check('device label remembered across a reload (localStorage)',
        await page.locator('#device-label').inputValue() === LABEL);

  // the suite
  const t0 = Date.now();
  let midShot = false;
  const { samples, changes } = await runAndWatch(page, {
    onSample: async (s) => {
      // a screenshot while it runs, once the time left is known (from step 2 on)
      if (!midShot && s.state === 'running' && /about .+ left/.test(s.eta)) {
        midShot = true;
        await page.screenshot({ path: path.join(args.out, 'crowd-running.png'), fullPage: false });
      }
    },
  });
  const took = (Date.now() - t0) / 1000;
  const last = samples[samples.length - 1];
  check('the suite finished without error', last.state === 'idle',
        last.state === 'error' ? await page.evaluate(() => document.body.dataset.error) : '');
  console.log(`     the suite took ${took.toFixed(0)} s for ${want.length} steps of ${args.runs} runs`);

  // progress: step k of n for every step, a time-left estimate, a bar that only moves forward, the header too
  const running = samples.filter((s) => s.state === 'running');
  const stepsSeen = new Set(changes.map((s) => (/^Step (\d+) of (\d+):/.exec(s.step) || [])[1]).filter(Boolean));
  check('progress showed "Step k of n" with the model and configuration, for every step',
        running.some((s) => s.panelVisible) && changes.some((s) => new RegExp(`^Step \\d+ of ${want.length}: ` +
          `${STANDARD} · (tandem-wasm|onnxruntime-web) · `).test(s.step)) && stepsSeen.size === want.length,
        `steps seen: ${[...stepsSeen].join(', ')}`);
  check('progress showed a time-left estimate (ETA) after the first step',
        changes.some((s) => /about \d+ (s|min \d+ s) left/.test(s.eta)),
        changes.map((s) => s.eta).filter((t) => /left/.test(t)).slice(-1)[0] || 'no ETA text');
  check('progress showed what the step is doing (loading, timing, round-trip time, requests, sending)',
        ['loading the model', 'timing \\d+ runs', 'round-trip time', 'timing \\d+ requests', 'sending the result'].every((w) =>
          changes.some((s) => new RegExp(w).test(s.detail))));
  const fills = running.map((s) => s.fill);
  check('progress bar moved forward and never back', fills.length > 1 && fills[fills.length - 1] > fills[0] &&
        fills.every((f, i) => i === 0 || f >= fills[i - 1] - 0.5), `${fills[0]}% → ${fills[fills.length - 1]}%`);
  check('the header status line mirrors the progress',
        running.some((s) => /^Step \d+ of \d+ · /.test(s.status)), running.slice(-1)[0]?.status);
  const endStep = await page.locator('#crowd-step').innerText();
  check('the panel ends with what was done', endStep.includes(`Done: ${want.length} of ${want.length} measurements, ` +
        `${want.length} stored on the server`), endStep);

  // the store: one document per step, with this page's facts and label
  const stored = (await getJson(`${base}/api/results?source=browser`)).results || [];
  check(`the store holds ${want.length} documents (one per step)`, stored.length === want.length,
        `${stored.length} stored`);
  const all = stored.map((r) => r.document);
  const docs = all.filter((d) => !isVerdict(d)), verdicts = all.filter(isVerdict);
  check('every browser step\'s document is a tandem.result/1 with the device label and facts, the cloud step\'s ' +
        'one tandem.verdict/1',
        docs.length === want.length - 1 && verdicts.length === 1 && docs.every((d) => d.schema === 'tandem.result/1' &&
          d.source === 'browser' &&
          d.device?.label === LABEL && /Chrome/.test(d.device?.user_agent) && d.device?.hardware_concurrency === hc &&
          d.model?.name === STANDARD && d.model?.bytes > 0 && d.runs === args.runs && d.batch === 1),
        JSON.stringify(docs[0]?.device));
  check('the documents cover the plan: tandem worker 1..T threads, main thread, onnxruntime-web',
        JSON.stringify(all.map(configOf).sort()) === JSON.stringify(want), all.map(configOf).join(', '));
  const FIG = ['setup_ms', 'first_run_ms', 'p50_ms', 'throughput_ips', 'frame_p95_ms'];
  const bad = docs.filter((d) => FIG.some((k) => !(d.figures?.[k] > 0)) ||
                                 d.extra?.times_ms?.length !== args.runs || d.figures.p50_ms > d.figures.p99_ms);
  check('every document has the report\'s figures (set-up, first run, p50, predictions/s, frame p95) > 0',
        bad.length === 0, bad.map((d) => `${configOf(d)}: ${JSON.stringify(d.figures)}`).join(' | '));
  const runIds = new Set(all.map((d) => d.extra?.suite?.run_id));
  check('the documents carry one suite run id and their step numbers',
        runIds.size === 1 && !runIds.has(undefined) &&
        JSON.stringify(all.map((d) => d.extra.suite.step).sort((a, b) => a - b)) ===
          JSON.stringify(want.map((_, i) => i + 1)), [...runIds].join(','));
  check('the documents use the same seeded random input (the cloud requests too)',
        all.every((d) => /^random \(seed 1\)/.test(d.extra?.input)), docs[0]?.extra?.input);
  const verdict = verdicts[0];
  if (verdict) await checkVerdict(page, verdict, docs, LABEL);

  // the page's log shows what was sent, with the store's ids
  const logIds = await page.$$eval('#crowd-table td.sent.ok', (tds) => tds.map((td) => Number(td.dataset.id)));
  const storeIds = stored.map((r) => r.id);
  check('the page\'s log lists every stored id', JSON.stringify([...logIds].sort((a, b) => a - b)) ===
        JSON.stringify([...storeIds].sort((a, b) => a - b)), `page ${logIds.join(',')} store ${storeIds.join(',')}`);
  const ratio = await page.locator('#crowd-table td.ratio.good, #crowd-table td.ratio.worse').count();
  check('the table shows tandem vs onnxruntime-web for the 1-thread worker row', ratio === 1, `${ratio} ratio cells`);
  const sel = await page.locator('#model-select').inputValue();
  check('the page\'s own model choice is put back afterwards', sel === `server:${STANDARD}` || sel === `server:${OTHER}`,
        sel);
  await page.screenshot({ path: path.join(args.out, 'crowd-done.png'), fullPage: true });

  // the report built from the store lists every device result
  const out = path.join(tmp, 'crowd');
  execFileSync(tandem, ['study', '--report-from', base, '--out', out], { stdio: 'pipe' });
  const md = readFileSync(path.join(out, 'report.md'), 'utf8');
  check('report.md has the crowd table', md.includes('Devices that reported (crowd mode)'));
  const crowdMd = md.slice(md.indexOf('Devices that reported (crowd mode)'));
  const rows = crowdMd.split('\n').filter((l) => l.startsWith(`| ${LABEL} |`));
  check(`the crowd table has a row per stored browser result with the device label (${docs.length})`,
        rows.length === docs.length, `${rows.length} rows`);
  const rowCfgs = rows.map((l) => l.split('|').map((c) => c.trim())).map((c) => `${c[3]}/${c[6]}/${c[5]}`).sort();
  check('the crowd rows name the model, engine, mode and threads of each result',
        rows.every((l) => l.includes(`| ${STANDARD} |`)) &&
          JSON.stringify(rowCfgs) === JSON.stringify(want.filter((c) => c !== 'cloud')),
        rowCfgs.join(', '));
  const html = readFileSync(path.join(out, 'report.html'), 'utf8');
  check('report.html has the crowd table too', html.includes('Devices that reported (crowd mode)') &&
        (html.match(/Alice&#39;s laptop|Alice&apos;s laptop|Alice's laptop/g) || []).length === want.length);
  if (verdict) checkReportDevices(md, out, verdict, LABEL);

  // "Stop after this step": the step in flight finishes and is stored, nothing after it runs
  await page.goto(url);
  await page.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
  await page.evaluate(() => window.tandemPage.ready);
  let stopClicked = false;
  await runAndWatch(page, {
    onSample: async (s) => {
      if (!stopClicked && s.state === 'running' && s.progress === '1/' + want.length) {
        stopClicked = true;
        await page.click('#btn-crowd-stop');
      }
    },
  });
  const stoppedText = await page.locator('#crowd-step').innerText();
  const after = (await getJson(`${base}/api/results?source=browser`)).results || [];
  check('Stop after the first step: that step is stored, the rest not run',
        stopClicked && /^Stopped after 1 of \d+ measurements; 1 stored/.test(stoppedText) &&
        after.length === want.length + 1, `${stoppedText}; store has ${after.length}`);

  // a suite the server cannot serve: a readable reason, the button disabled
  await page.goto(`${base}/?suite_models=no_such_model`);
  await page.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
  await page.evaluate(() => window.tandemPage.ready);
  const why = await page.locator('#crowd-plan').innerText();
  check('unknown ?suite_models: the plan says why and the button is disabled',
        /the server has no model 'no_such_model'/.test(why) && await page.locator('#btn-crowd').isDisabled(), why);

  check('no uncaught exceptions in the page', pageErrors.length === 0, pageErrors.join(' | '));
  await phone(base);
}

// The verdict document of the cloud step, and the page showing it: positive times measured from the page, the
// server part below the total, on-device figures equal to the browser documents', a verdict that follows from them.
async function checkVerdict(page, v, docs, label) {
  const cl = v.cloud, di = v.decision_inputs, reqs = v.extra?.requests ?? [];
  check('verdict document: this device, its label, the model, the cloud path (infer) and the server\'s origin',
        v.source === 'browser' && v.device?.label === label && v.model?.name === STANDARD && cl?.path === 'infer' &&
        /^http:\/\/127\.0\.0\.1:\d+$/.test(cl?.endpoint), JSON.stringify({ device: v.device, path: cl?.path }));
  check('cloud rows: every request answered, times positive (total, wait, RTT), the server part below the total',
        cl.requests >= 5 && cl.errors === 0 && reqs.length === cl.requests &&
          reqs.every((r) => r.status === 200 && r.total_ms > 0 && r.ttfb_ms > 0 && r.server_ms > 0 &&
                            r.server_ms < r.total_ms && r.download_ms >= 0 && r.connect_ms >= 0) &&
          v.network?.rtt_ms?.median > 0 && v.network.rtt_ms.n === 7 && cl.total_ms.median > 0 &&
          cl.server_ms?.median > 0 && cl.server_ms.median < cl.total_ms.median,
        JSON.stringify({ total: cl.total_ms, server: cl.server_ms, rtt: v.network?.rtt_ms }));
  check('cloud rows say which figures are measured (Resource Timing, Server-Timing) and which derived (upload)',
        cl.timing === 'resource-timing' && cl.server_timing === true && cl.measured.includes('server_ms') &&
          cl.measured.includes('wait_ms') && JSON.stringify(cl.derived) === '["upload_ms"]' &&
          ['queue', 'infer'].every((k) => cl.server_parts?.[k]?.n === cl.requests),
        JSON.stringify({ measured: cl.measured, derived: cl.derived, parts: Object.keys(cl.server_parts ?? {}) }));
  const workers = docs.filter((d) => d.engine === 'tandem-wasm' && d.mode === 'worker');
  const bestP50 = Math.min(...workers.map((d) => d.figures.p50_ms));
  const first = docs.find((d) => d.engine === 'tandem-wasm' && d.extra.suite.step === 1);
  check('decision inputs: on-device = the fastest tandem worker p50, first = its first load + first run, ' +
        'cloud = the median request', di.on_device_ms === bestP50 && first &&
          Math.abs(di.first_on_device_ms - (first.figures.setup_ms + first.figures.first_run_ms)) < 1e-9 &&
          di.cloud_ms === cl.total_ms.median && di.rtt_ms === v.network.rtt_ms.median && di.server_ms > 0,
        JSON.stringify(di));
  const w = (a, b) => (a <= b ? 'on-device' : 'cloud');
  const vd = v.verdict;
  check('the verdict follows from the stored numbers (steady state and first prediction, with the ratio)',
        vd.winner === w(di.on_device_ms, di.cloud_ms) && vd.first_winner === w(di.first_on_device_ms, di.cloud_ms) &&
          Math.abs(vd.by - Math.max(di.on_device_ms, di.cloud_ms) / Math.min(di.on_device_ms, di.cloud_ms)) < 1e-9 &&
          vd.break_even_rtt_ms >= 0 && vd.break_even_up_mbps >= 0, JSON.stringify(vd));
  check('the device and the cloud computed the same top-1 for the same input', cl.top1_agrees === true,
        JSON.stringify(cl.top1?.slice(0, 3)));
  const shown = await page.locator('#crowd-verdict').innerText();
  const first1 = await page.evaluate(() => {
    const v = document.getElementById('crowd-verdict'), t = document.getElementById('crowd-results');
    return !v.hidden && !!(v.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  check('the page shows the verdict, in words, before the table', first1 && shown.includes(vd.text) &&
        shown.includes(`${STANDARD}: run it ${vd.winner === 'cloud' ? 'in the cloud' : 'on this device'}`) &&
        new RegExp(`^Steady state: ${vd.winner}, [\\d.]+× faster`).test(vd.text), shown.slice(0, 300));
}

// The report's real-devices table: the device's row with its RTT, and the C decision code's answer on the stored
// numbers equal to the page's (web/decision.mjs).
function checkReportDevices(md, out, v, label) {
  check('report.md has the real-devices table', md.includes('Real devices on real networks'));
  const sec = md.slice(md.indexOf('Real devices on real networks'));
  const row = sec.split('\n').find((l) => l.startsWith(`| ${label} | ${STANDARD} |`));
  check('the real-devices table has this device\'s row with its measured RTT and both winners',
        !!row && row.includes(`${Number(v.network.rtt_ms.median.toPrecision(3))} ms`) &&
          row.includes(`${v.verdict.winner} by`) && row.includes(`${v.verdict.first_winner} by`), row);
  const res = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  const c = (res.device_decisions || [])[0] || {};
  const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  check('the C decision (study_decide.c) gives the page\'s answer (decision.mjs) on the same numbers',
        c.agrees === true && c.winner === v.verdict.winner && c.first_winner === v.verdict.first_winner &&
          ['by', 'first_by', 'cloud_model_ms', 'break_even_rtt_ms', 'break_even_up_mbps'].every((k) =>
            close(c[k], v.verdict[k])), JSON.stringify({ c, page: v.verdict }));
}

// A phone: playwright's Pixel 7 descriptor (412x839 CSS px, scale 2.625, touch, Android Chrome's user agent) on a
// fresh profile, a one-thread suite, the verdict shown and stored, no horizontal scrolling of the page.
async function phone(base) {
  const desc = devices['Pixel 7'];
  const b = await launchBrowser(args.chromium, { viewport: desc.viewport, device: desc });
  try {
    const p = await b.ctx.newPage();
    const errs = [];
    p.on('pageerror', (e) => errs.push(e.message));
    await p.goto(`${base}/?suite_runs=5&suite_warmup=1&suite_threads=1`);
    await p.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
    await p.evaluate(() => window.tandemPage.ready);
    const overflow = () => p.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: innerWidth }));
    const o0 = await overflow();
    check('phone (Pixel 7): the page fits its width before the run', o0.w === desc.viewport.width && o0.sw <= o0.w,
          JSON.stringify(o0));
    await p.fill('#device-label', 'Pixel 7 (emulated)');
    const { samples } = await runAndWatch(p);
    check('phone: the suite finished', samples[samples.length - 1].state === 'idle');
    const o1 = await overflow();
    check('phone: no horizontal overflow with the verdict and the results shown (scrollWidth <= innerWidth)',
          o1.sw <= o1.w, JSON.stringify(o1));
    const stored = ((await getJson(`${base}/api/results?source=browser`)).results || []).map((r) => r.document)
      .filter((d) => isVerdict(d) && d.device?.label === 'Pixel 7 (emulated)');
    const shown = await p.locator('#crowd-verdict').innerText();
    check('phone: the verdict is shown and stored, from a mobile user agent',
          stored.length === 1 && /Android.*Mobile/.test(stored[0].device.user_agent) &&
            shown.includes(stored[0].verdict.text), shown.slice(0, 200));
    await p.locator('#crowd-verdict').scrollIntoViewIfNeeded();
    await p.screenshot({ path: path.join(args.out, 'study-mobile.png'), scale: 'css', animations: 'disabled' });
    check('phone: no uncaught exceptions', errs.length === 0, errs.join(' | '));
  } finally {
    await b.close();
  }
}

function cleanUp() {
  if (server) server.kill('SIGTERM');
  server = null;
  rmSync(tmp, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (browser) rmSync(browser.profile, { recursive: true, force: true });
    cleanUp();
    console.log(`crowd: stopped by ${sig}`);
    console.log(C.summary(1));
    process.exit(1);
  });
}

const t0 = Date.now();
main().catch((e) => check('crowd run completed', false, e.stack || String(e))).finally(async () => {
  if (browser) await browser.close();
  browser = null;
  if (existsSync(args.out)) console.log(`crowd took ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in ${args.out}`);
  cleanUp();
  console.log(C.summary());
  process.exit(C.failed ? 1 : 0);
});
