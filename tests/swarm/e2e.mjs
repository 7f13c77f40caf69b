// e2e.mjs - the swarm in real browsers: `tandem serve` hosts a job of 3,000 CIFAR-10 test images on
// cifar10_resnet20, and headless Chromium opens four worker tabs (/worker). One tab is closed in the middle of the job
// (its leases must expire and be reissued). A fourth tab is tampered: from its second submission on, a route handler
// swaps the top score of one item per chunk with its lowest, so the submitted top-1 is wrong; the server's check must
// catch it, refuse that tab and redo what it sent since its last verified chunk. The job must end done with every
// item exactly once and every top-1 equal to the native engine's (`tandem run` on the same images). Also: the main
// page's "Contribute this device" leads to the worker page. Screenshots go to --out.
//   node tests/swarm/e2e.mjs --tandem build/tandem --web build/web --shared ../shared --out DIR [--items 3000]
import { mkdtempSync, mkdirSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser } from '../e2e/lib.mjs';
import { checker, options, runTest, startServe, stop, api, waitJob, parseCsv, exactlyOnce, nativeOutputs,
  modelStats, readRecords, readTensorProto, argmax } from './lib.mjs';

const args = options({ tandem: 'build/tandem', web: 'build/web', shared: '../shared', out: 'build/test-output/swarm',
  chromium: '/usr/bin/chromium', items: 3000 }, 'e2e');
const C = checker();
const TOKEN = 'e2e-token';
const tmp = mkdtempSync(path.join(tmpdir(), 'tandem-swarm-e2e-'));
let server = null, browser = null;

/* Swap the top and the lowest score of the first item of every chunk in a submission body. */
function tamper(body, classes) {
  const nl = body.indexOf(10);
  const head = JSON.parse(body.subarray(0, nl).toString());
  const out = Buffer.from(body);
  let off = nl + 1, swapped = 0;
  for (const c of head.chunks) {
    if (c.error) continue;
    const row = new Float32Array(out.buffer.slice(out.byteOffset + off, out.byteOffset + off + classes * 4));
    let lo = 0;
    for (let k = 1; k < classes; k++) if (row[k] < row[lo]) lo = k;
    const hi = argmax(row);
    [row[hi], row[lo]] = [row[lo], row[hi]];
    Buffer.from(row.buffer).copy(out, off);
    off += c.bytes;
    swapped++;
  }
  return { body: out, swapped };
}

const tabState = (page) => page.evaluate(() => ({ state: document.body.dataset.state,
  status: document.getElementById('status').textContent, client: window.tandemSwarm?.worker?.client ?? null,
  label: window.tandemSwarm?.worker?.worker ?? null, stats: window.tandemSwarm?.last?.stats ?? null }));

async function main() {
  const n = args.items;
  const shared = path.join(args.shared, 'models', 'cifar10_resnet20');
  const data = path.join(args.shared, 'data', 'cifar10_test_jpeg75.bin');
  mkdirSync(args.out, { recursive: true });
  const models = path.join(tmp, 'models'), dir = path.join(models, 'cifar10_resnet20');
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.resolve(shared, 'model.onnx'), path.join(dir, 'model.onnx'));
  symlinkSync(path.resolve(shared, 'info.json'), path.join(dir, 'info.json'));
  const records = readRecords(data, n);
  const stats = modelStats(shared);
  const native = nativeOutputs(args.tandem, path.join(dir, 'model.onnx'), records, n, stats.mean, stats.std);
  const ref = native.top1;

  server = await startServe(args.tandem, ['--models', models, '--port', '0', '--host', '127.0.0.1', '--web', args.web,
    '--db', `sqlite:${path.join(tmp, 'jobs.db')}`, '--admin-token', TOKEN, '--lease-timeout', '3']);
  const base = server.url;
  browser = await launchBrowser(args.chromium);

  const main = await browser.ctx.newPage();
  await main.goto(`${base}/`);
  const link = main.getByText('Contribute this device', { exact: true }).last();
  C.check('the main page offers "Contribute this device"', await link.count() > 0);
  await main.close();

  const r = await api(base, 'POST', '/v2/jobs?model=cifar10_resnet20&format=cifar&verify=0.2', { token: TOKEN,
    body: records });
  C.check(`a job of ${n} CIFAR images is created`, r.status === 201 && r.json.items === n, r.text);
  const id = r.json.id;

  const tabs = [];
  for (let k = 0; k < 4; k++) {
    const page = await browser.ctx.newPage();
    page.on('pageerror', (e) => console.log(`     (tab ${k}: ${e.message})`));
    const tab = { page, k, submits: 0, tampered: 0 };
    if (k === 1) {
      /* once asked to, hold this tab's next submission so that it owns a lease the server has not seen returned,
         and close the tab then: closing between a submit and the next lease would leave nothing outstanding */
      tab.hold = false;
      tab.held = new Promise((resolve) => { tab.onHeld = resolve; });
      await page.route('**/v2/swarm/submit', async (route) => {
        if (tab.hold) { tab.onHeld(); return; }
        await route.continue();
      });
    }
    if (k === 3) {
      await page.route('**/v2/swarm/submit', async (route) => {
        tab.submits++;
        let body = route.request().postDataBuffer();
        if (tab.submits >= 2) {
          const t = tamper(body, 10);
          body = t.body;
          tab.tampered += t.swapped;
        }
        await route.continue({ postData: body });
      });
    }
    tabs.push(tab);
  }
  /* the first tab through the main page's link, the others straight to /worker */
  const first = tabs[0].page;
  await first.goto(`${base}/`);
  await Promise.all([first.waitForURL(/worker/), first.getByText('Contribute this device', { exact: true }).last().click()]);
  for (const t of tabs.slice(1)) await t.page.goto(`${base}/worker`);

  let closed = null;
  const job = await waitJob(base, TOKEN, id, { timeoutMs: 600000, everyMs: 250, onPoll: async (j) => {
    if (!closed && !tabs[1].hold && j.done_items >= 0.3 * n) {
      tabs[1].hold = true;
      const held = await Promise.race([tabs[1].held.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 60000))]);
      if (!held) { closed = { state: 'no submission to hold within 60 s' }; return; }
      const s = await tabState(tabs[1].page);
      closed = s;
      await tabs[1].page.screenshot({ path: path.join(args.out, 'swarm-worker-tab.png') });
      await tabs[1].page.close();
      console.log(`     (closed tab 1, ${s.label}, at ${j.done_items} of ${n} items, one submission held back)`);
    }
  } });
  C.check('one worker tab was closed in the middle of the job', closed !== null && closed.state === 'running');
  C.check('the job ends done with every item', job.state === 'done' && job.done_items === n, JSON.stringify(job));
  const states = [];
  for (const t of [tabs[0], tabs[2], tabs[3]]) {
    await t.page.waitForFunction(() => ['finished', 'refused', 'error', 'stopped'].includes(document.body.dataset.state),
      null, { timeout: 60000 }).catch(() => {});
    states.push(await tabState(t.page));
  }
  await tabs[3].page.screenshot({ path: path.join(args.out, 'swarm-worker-refused.png') });
  C.check('the honest tabs end with no job left', states[0].state === 'finished' && states[1].state === 'finished',
    states.slice(0, 2).map((s) => `${s.label} ${s.state} (${s.stats?.items} items)`).join(', '));
  C.check('the tampered tab sent wrong top-1s and the server refused it', tabs[3].tampered > 0 &&
    states[2].state === 'refused', `${tabs[3].tampered} items tampered; tab: ${states[2].state}: ${states[2].status}`);

  const clients = (await api(base, 'GET', '/v2/swarm/clients', { token: TOKEN })).json.clients;
  const bad = clients.find((c) => c.id === states[2].client), gone = clients.find((c) => c.id === closed?.client);
  C.check('the server lists the tampered client as refused, its results discarded', bad && bad.refused &&
    bad.rejected_items > 0, JSON.stringify(bad));
  C.check('the job counts the discarded results (rejected_results)', job.rejected_results > 0 &&
    job.rejected_results >= (bad?.rejected_items ?? 0), `${job.rejected_results} rejected`);
  C.check("the closed tab's leases were never returned and its chunks were reissued", gone && gone.outstanding > 0 &&
    job.reissued > 0, `outstanding ${gone?.outstanding}, reissued ${job.reissued}`);
  C.check('the job had four clients', job.clients === 4, `${job.clients}`);

  const csv = await api(base, 'GET', `/v2/jobs/${id}/results`, { token: TOKEN });
  const rows = parseCsv(csv.text);
  const once = exactlyOnce(rows, n);
  C.check('the results hold every item exactly once, in order', !once, once || `${rows.length} rows`);
  const diff = rows.filter((row) => row.top1 !== ref[row.item]);
  C.check("every top-1 equals the native engine's on the same image", diff.length === 0,
    diff.length ? `${diff.length} differ, e.g. item ${diff[0].item}: ${diff[0].top1} by ${diff[0].worker}, native ` +
      `${ref[diff[0].item]}` : `${n} of ${n}`);
  const byWorker = {};
  for (const row of rows) byWorker[row.worker] = (byWorker[row.worker] || 0) + 1;
  console.log(`     (items by worker: ${JSON.stringify(byWorker)})`);
  C.check('the browsers did the work (the server only its checks and the redone chunk)',
    Object.entries(byWorker).filter(([w]) => w.startsWith('browser-')).reduce((a, [, c]) => a + c, 0) > 0.8 * n);
  const tensor = await api(base, 'GET', `/v2/jobs/${id}/results?format=tensor`, { token: TOKEN });
  const t = tensor.status === 200 ? readTensorProto(tensor.buf) : null;
  C.check('?format=tensor gives the outputs as one TensorProto [N, 10]', t && t.dims.join() === `${n},10`,
    `${tensor.status}, dims ${t?.dims}`);
  /* the check's tolerance (src/server/swarm.h, docs/SWARM.md): every browser logit within 1e-3 + 1e-3 |native| */
  let maxAbs = 0, maxShare = 0;
  for (let i = 0; t && i < n * 10; i++) {
    const a = Math.abs(t.data[i] - native.logits[i]);
    maxAbs = Math.max(maxAbs, a);
    maxShare = Math.max(maxShare, a / (1e-3 + 1e-3 * Math.abs(native.logits[i])));
  }
  C.check('every logit the browsers returned is within the check\'s tolerance of the native one', t && maxShare <= 1,
    `largest difference ${maxAbs.toExponential(2)}, ${(100 * maxShare).toFixed(2)} % of the tolerance`);
}

await runTest(C, async () => {
  if (!existsSync(path.join(args.shared, 'models', 'cifar10_resnet20', 'model.onnx')) ||
      !existsSync(path.join(args.shared, 'data', 'cifar10_test_jpeg75.bin'))) {
    console.log(`SKIP: ${args.shared}/models/cifar10_resnet20 or ${args.shared}/data is absent`);
    return;
  }
  await main();
}, async () => {
  if (browser) await browser.close();
  if (server) await stop(server.child, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
