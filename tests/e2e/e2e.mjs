// e2e.mjs - the end-to-end browser test: serves build/web with scripts/web-server.mjs (COOP/COEP), drives headless
// Debian Chromium through playwright-core, and uses the measuring page the way a person does (select a model, pick
// an image file, Classify, Run benchmark, Download, Send). For both wasm builds (simd-mt and simd) it checks that the
// page's top-1 matches the native CLI's on the same image, that every measured field is present and positive, that
// worker and main-thread smoothness were measured, and saves a full-page screenshot. It also feeds a bad .onnx file
// and expects a readable error in the page. Prints `N passed, M failed`; exits nonzero on any failure.
//
//   node tests/e2e/e2e.mjs --build-dir build --web build/web --shared ../shared --out build/test-output/e2e [--runs 30]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { checker, startServer as startProcess, launchBrowser, waitIdle } from './lib.mjs';

const args = { build: 'build', web: 'build/web', shared: '../shared', out: 'build/test-output/e2e', runs: 30,
               chromium: '/usr/bin/chromium' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[i + 1];
  if (a === '--build-dir') args.build = v;
  else if (a === '--web') args.web = v;
  else if (a === '--shared') args.shared = v;
  else if (a === '--out') args.out = v;
  else if (a === '--runs') args.runs = Number(v);
  else if (a === '--chromium') args.chromium = v;
  else { console.error(`e2e: unknown option ${a}`); process.exit(2); }
  i++;
}

const MODEL = 'cifar10_resnet20';
const IMAGE_INDEX = 9; // a record of the shared CIFAR-10 test set
const PROB_TOL = 1e-3; // softmax of logits that agree within the golden tolerance (1e-4 rel / 1e-5 abs)

const C = checker();
const check = C.check;

// ------------------------------------------------------------------------------------------------ native reference

const tandem = path.join(args.build, 'tandem');
const modelPath = path.join(args.shared, 'models', MODEL, 'model.onnx');
const info = JSON.parse(readFileSync(path.join(args.shared, 'models', MODEL, 'info.json'), 'utf8'));
const dataset = path.join(args.shared, 'data', 'cifar10_test_jpeg75.bin');
mkdirSync(args.out, { recursive: true });

// A 32x32 PNG (the model's own size: no resize) and a 4x upscaled one (exercises the page's resize path).
function exportImage(scale) {
  const file = path.join(args.out, `sample_${IMAGE_INDEX}_x${scale}.png`);
  const out = execFileSync(tandem, ['export-image', '--dataset', dataset, '--index', String(IMAGE_INDEX),
                                    '--output', file, '--scale', String(scale)], { encoding: 'utf8' });
  return { file, meta: JSON.parse(out) };
}

function nativeTop(image) {
  const out = execFileSync(tandem, ['run', modelPath, '--input', image, '--mean', info.mean.join(','),
                                    '--std', info.std.join(','), '--top', '5', '--threads', '1'], { encoding: 'utf8' });
  const j = JSON.parse(out);
  return j.outputs[0].top[0][0]; // batch row 0, best class: {index, score, prob}
}

// ------------------------------------------------------------------------------------------------ server + browser

// scripts/web-server.mjs prints its URL as the first line of stdout
async function startServer() {
  const { child, match } = await startProcess(process.execPath,
    ['scripts/web-server.mjs', '--root', args.web, '--models', path.join(args.shared, 'models'), '--port', '0',
     '--quiet'], /^(https?:\/\/\S+)\s*$/);
  return { srv: child, url: match[1] };
}

// Figures that must be present and > 0 in every result document; long_frames may be 0 (and must be a count).
const POSITIVE = ['setup_ms', 'fetch_ms', 'compile_ms', 'load_ms', 'first_run_ms', 'p50_ms', 'p90_ms', 'p99_ms',
                  'mean_ms', 'throughput_ips', 'heap_bytes', 'memory_ratio', 'fps', 'frame_p95_ms'];

function checkResult(tag, r, want) {
  const f = r.figures || {};
  const missing = POSITIVE.filter((k) => !(typeof f[k] === 'number' && Number.isFinite(f[k]) && f[k] > 0));
  check(`${tag}: every measured figure present and positive`, missing.length === 0,
        missing.length ? `missing or not positive: ${missing.map((k) => `${k}=${f[k]}`).join(', ')}` : '');
  check(`${tag}: long_frames is a count`, Number.isInteger(f.long_frames) && f.long_frames >= 0,
        `long_frames=${f.long_frames}`);
  check(`${tag}: percentiles ordered (p50 <= p90 <= p99)`, f.p50_ms <= f.p90_ms && f.p90_ms <= f.p99_ms,
        `${f.p50_ms} / ${f.p90_ms} / ${f.p99_ms}`);
  check(`${tag}: ${r.runs} timed runs recorded`, Array.isArray(r.extra?.times_ms) && r.extra.times_ms.length === r.runs,
        `times_ms has ${r.extra?.times_ms?.length}`);
  check(`${tag}: smoothness window recorded frames`, r.extra?.frames >= 1, `frames=${r.extra?.frames}`);
  if (want.uaMemory && r.threads === 1) {
    check(`${tag}: page memory (measureUserAgentSpecificMemory) measured`,
          f.ua_memory_bytes > 0 && f.ua_memory_ratio > 0,
          `ua_memory_bytes=${f.ua_memory_bytes} note=${r.extra?.ua_memory_note}`);
  } else if (want.uaMemory) {
    // with wasm threads Chromium's measurement can wait forever for the blocked thread workers: a figure or a reason
    check(`${tag}: page memory measured or the reason given`, f.ua_memory_bytes > 0 || !!r.extra?.ua_memory_note,
          `ua_memory_bytes=${f.ua_memory_bytes} note=${r.extra?.ua_memory_note}`);
  }
  check(`${tag}: schema, source, model, mode`, r.schema === 'tandem.result/1' && r.source === 'browser' &&
        r.model?.name === MODEL && r.model?.bytes === info.bytes && r.mode === want.mode && r.batch === 1,
        `${r.schema} ${r.source} ${r.model?.name} ${r.model?.bytes} ${r.mode} batch ${r.batch}`);
  if (want.build) {
    check(`${tag}: build ${want.build}`, r.build === want.build, `got ${r.build} (${r.extra?.build_reason})`);
  }
  if (want.threads) check(`${tag}: threads ${want.threads}`, r.threads === want.threads, `got ${r.threads}`);
  const t1 = r.extra?.top5?.[0];
  check(`${tag}: top-1 matches native`,
        t1 && t1.index === want.top.index && Math.abs(t1.prob - want.top.prob) <= PROB_TOL,
        `page ${t1?.index} (${t1?.prob?.toFixed(5)}), native ${want.top.index} (${want.top.prob.toFixed(5)})`);
}

async function main() {
  const img32 = exportImage(1), img128 = exportImage(4);
  const top32 = nativeTop(img32.file), top128 = nativeTop(img128.file);
  console.log(`native top-1: ${img32.file}: class ${top32.index} (p ${top32.prob.toFixed(4)}), ` +
              `${img128.file}: class ${top128.index} (p ${top128.prob.toFixed(4)}); ` +
              `true label ${JSON.stringify(img32.meta)}`);

  const { srv, url } = await startServer();
  server = srv;
  console.log(`web-server: ${url}`);
  const pageErrors = [];
  try {
    browser = await launchBrowser(args.chromium);
    const ctx = browser.ctx;
    const hc = await (async () => {
      const p = await ctx.newPage();
      await p.goto(url);
      const v = await p.evaluate(() => navigator.hardwareConcurrency);
      await p.close();
      return v;
    })();

    for (const build of ['simd-mt', 'simd']) {
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${build}: ${e.message}`));
      const threads = Math.min(2, hc);
      await page.goto(`${url}?build=${build}&model=${MODEL}&threads=${threads}&runs=${args.runs}&warmup=3` +
                      '&memtimeout=5');
      await page.waitForFunction(() => window.tandemPage, null, { timeout: 30000 });
      await page.evaluate(() => window.tandemPage.ready);
      const dev = await page.evaluate(() => window.tandemPage.device());
      if (build === 'simd-mt') {
        check('page is cross-origin isolated (COOP/COEP from web-server.mjs)', dev.cross_origin_isolated === true);
        check('device facts: SIMD128 supported, threads available', dev.wasm_simd && dev.wasm_threads,
              `simd ${dev.wasm_simd}, threads ${dev.wasm_threads}`);
        const facts = await page.locator('#device-facts').innerText();
        check('device facts shown (user agent, cores)', facts.includes('Chrome') && facts.includes(String(hc)));
      }
      check(`[${build}] the model list offers ${MODEL}`,
            await page.locator('#model-select').inputValue() === `server:${MODEL}`);

      // the person picks their own image file (the 4x upscaled PNG: the page resizes it back to 32x32), classifies
      await page.selectOption('#input-select', 'file');
      await waitIdle(page, 'input select');
      await page.setInputFiles('#input-file', img128.file);
      await waitIdle(page, 'image');
      await page.click('#btn-classify');
      let st = await waitIdle(page, 'classify');
      const pred = await page.evaluate(() => [...document.querySelectorAll('#pred-list li')].map((li) => ({
        index: Number(li.dataset.index), text: li.innerText })));
      check(`[${build}] Classify shows 5 predictions`, st.state === 'idle' && pred.length === 5,
            `state ${st.state}, ${pred.length} rows`);
      check(`[${build}] Classify top-1 (own 128x128 image, resized in the page) matches native`,
            pred[0]?.index === top128.index, `page ${pred[0]?.index}, native ${top128.index}`);
      const inUse = (await page.evaluate(() => window.tandemPage.device())).build_in_use;
      check(`[${build}] the loader used the ${build} build`, inUse?.build === build, JSON.stringify(inUse));

      // the benchmark on the 32x32 image: tandem worker + main thread, and onnxruntime-web once (simd-mt pass)
      await page.selectOption('#input-select', 'file');
      await waitIdle(page, 'input select');
      await page.setInputFiles('#input-file', img32.file);
      await waitIdle(page, 'image');
      await page.setChecked('#cfg-ort-worker', build === 'simd-mt');
      await page.setChecked('#cfg-tandem-worker', true);
      await page.setChecked('#cfg-tandem-main', true);
      await page.click('#btn-bench');
      check(`[${build}] buttons disabled while running`, await page.locator('#btn-bench').isDisabled() &&
            await page.locator('#btn-classify').isDisabled());
      const stepShown = await page.waitForFunction((n) => new RegExp(`^Step [1-${n}] of ${n}: `)
        .test(document.getElementById('bench-step').textContent), build === 'simd-mt' ? 3 : 2, { timeout: 60000 })
        .then(() => true, () => false);
      check(`[${build}] progress shows "Step k of n" while the benchmark runs`, stepShown,
            await page.locator('#bench-step').innerText());
      st = await waitIdle(page, 'benchmark');
      check(`[${build}] benchmark finished without error`, st.state === 'idle', st.err);
      const nConfigs = build === 'simd-mt' ? 3 : 2;
      const done = await page.locator('#bench-progress').innerText();
      check(`[${build}] the progress panel ends with the configurations done and the time taken`,
            new RegExp(`Done: ${nConfigs} configurations of ${MODEL}[\\s\\S]*took \\d+`).test(done), done.replace(/\n+/g, " · "));
      const results = JSON.parse((await page.locator('#result-json').textContent()) || '[]');
      const want = { build, top: top32, uaMemory: dev.measure_memory && dev.cross_origin_isolated };
      const tw = results.find((r) => r.engine === 'tandem-wasm' && r.mode === 'worker');
      const tm = results.find((r) => r.engine === 'tandem-wasm' && r.mode === 'main');
      check(`[${build}] results for worker and main-thread modes`, !!tw && !!tm, `${results.length} results`);
      const wantThreads = build === 'simd' ? 1 : threads;
      if (tw) checkResult(`[${build}] tandem worker`, tw, { ...want, mode: 'worker', threads: wantThreads });
      if (tm) checkResult(`[${build}] tandem main thread`, tm, { ...want, mode: 'main', threads: wantThreads });
      if (build === 'simd-mt') {
        const ow = results.find((r) => r.engine === 'onnxruntime-web' && r.mode === 'worker');
        check('onnxruntime-web result present', !!ow);
        if (ow) {
          checkResult('onnxruntime-web worker', ow, { ...want, build: null, mode: 'worker', threads: tw?.threads });
        }
        const ratioCells = await page.locator('#results-table td.ratio').count();
        check('results table shows tandem ÷ onnxruntime-web ratios', ratioCells >= POSITIVE.length,
              `${ratioCells} ratio cells`);
      }
      const rows = await page.locator('#results-table tbody tr[data-figure]').count();
      check(`[${build}] results table rendered`, rows >= 15, `${rows} figure rows`);
      check(`[${build}] charts drawn`, await page.locator('#sec-charts .uplot').count() === 2);

      const shot = path.join(args.out, `page-${build}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      check(`[${build}] screenshot saved`, existsSync(shot), shot);

      if (build === 'simd-mt') {
        // take the results away: the download is the same documents
        const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
        const dlPath = path.join(args.out, 'results.json');
        await dl.saveAs(dlPath);
        const docs = JSON.parse(readFileSync(dlPath, 'utf8'));
        check('Download JSON holds the result documents', Array.isArray(docs) && docs.length === results.length &&
              docs.every((d) => d.schema === 'tandem.result/1'), `${docs.length} documents`);
        const [pngDl] = await Promise.all([page.waitForEvent('download'), page.click('#btn-charts')]);
        const pngPath = path.join(args.out, 'charts.png');
        await pngDl.saveAs(pngPath);
        const png = readFileSync(pngPath);
        check('Download charts gives a PNG', png.length > 1000 && png.readUInt32BE(0) === 0x89504e47 &&
              png.readUInt32BE(16) >= 600, `${png.length} bytes, width ${png.readUInt32BE(16)}`);
        // the static server has no POST /api/results: the page must say so clearly
        await page.click('#btn-send');
        await waitIdle(page, 'send');
        const sent = await page.locator('#send-result').innerText();
        check('Send to server without the endpoint gives a clear message', /does not accept results/.test(sent),
              sent.slice(0, 120));

        // window.tandemPage for headless drivers (the study)
        const doc = await page.evaluate((m) => window.tandemPage.runBenchmark({ model: m, engine: 'tandem',
          mode: 'worker', runs: 10, warmup: 2, measureMemory: false }), MODEL);
        check('window.tandemPage.runBenchmark returns a result document', doc?.schema === 'tandem.result/1' &&
              doc.runs === 10 && doc.figures?.p50_ms > 0 && doc.extra?.times_ms?.length === 10);

        // a bad .onnx file: a readable error in the page, and the page still works afterwards
        const bad = path.join(args.out, 'not-a-model.onnx');
        writeFileSync(bad, Buffer.from('this is not an ONNX model, just some text pretending to be one\n'.repeat(8)));
        // a file that is not an image, as the input image: a readable error too
        await page.selectOption('#input-select', 'file');
        await waitIdle(page, 'input select');
        await page.setInputFiles('#input-file', bad);
        st = await waitIdle(page, 'bad image');
        check('bad image file: readable error shown in the page', st.state === 'error' &&
              /cannot decode the image 'not-a-model\.onnx'/.test(st.err), st.err.slice(0, 200));
        await page.setInputFiles('#input-file', img32.file);
        await waitIdle(page, 'image');

        await page.selectOption('#model-select', 'file');
        await waitIdle(page, 'model select');
        await page.setInputFiles('#model-file', bad);
        await waitIdle(page, 'model file');
        await page.click('#btn-classify');
        st = await waitIdle(page, 'bad model');
        const banner = await page.locator('#error-banner').isVisible();
        check('bad .onnx file: readable error shown in the page', st.state === 'error' && banner &&
              /could not load the model 'not-a-model\.onnx'/.test(st.err), st.err.slice(0, 200));
        await page.selectOption('#model-select', `server:${MODEL}`);
        await waitIdle(page, 'model select');
        await page.click('#btn-classify');
        st = await waitIdle(page, 'classify after error');
        check('the page recovers after the error', st.state === 'idle');

        // the person's own .onnx file (the same model, from disk): shape learnt on load, same top-1 as native
        await page.selectOption('#model-select', 'file');
        await waitIdle(page, 'model select');
        await page.setInputFiles('#model-file', modelPath);
        await waitIdle(page, 'model file');
        await page.evaluate(() => { document.getElementById('pre-mean').value = '0.485, 0.456, 0.406';
                                    document.getElementById('pre-std').value = '0.229, 0.224, 0.225'; });
        await page.click('#btn-classify');
        st = await waitIdle(page, 'own model');
        const own = await page.evaluate(() => Number(document.querySelector('#pred-list li')?.dataset.index));
        check('own .onnx file: loads and classifies like native', st.state === 'idle' && own === top32.index,
              `page ${own}, native ${top32.index}`);
      }
      await page.close();
    }
    check('no uncaught exceptions in the page', pageErrors.length === 0, pageErrors.join(' | '));
  } finally {
    if (browser) await browser.close();
    browser = null;
    srv.kill('SIGTERM');
    server = null;
  }
}

let server = null; // the web-server child, stopped on every way out
let browser = null; // the browser and its temporary profile folder
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (server) server.kill('SIGTERM');
    if (browser) rmSync(browser.profile, { recursive: true, force: true });
    console.log(`e2e: stopped by ${sig}`);
    console.log(C.summary(1));
    process.exit(1);
  });
}

const t0 = Date.now();
main().catch((e) => check('e2e run completed', false, e.stack || String(e))).finally(() => {
  console.log(`e2e took ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in ${args.out}`);
  console.log(C.summary());
  process.exit(C.failed ? 1 : 0);
});
