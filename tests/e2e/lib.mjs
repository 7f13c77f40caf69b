// lib.mjs - what the browser tests share (e2e.mjs, crowd.mjs): pass/fail counting, starting a server process and
// reading the URL it prints, launching headless Debian Chromium through playwright-core on a fresh profile (the
// flags in LAUNCH_ARGS below: Chromium's sandbox and GPU are unavailable in CI, and its background networking would
// reach out of an offline machine), and waiting for the measuring page to be idle again.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium, devices } = require('playwright-core');
export { devices };

export const STEP_TIMEOUT_MS = 240000;

export const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // measureUserAgentSpecificMemory() otherwise waits for the next garbage collection (up to 20 s per call)
  '--enable-blink-features=ForceEagerMeasureMemory'];

// check(name, ok, detail) prints one line and counts; summary() is the runner's final `N passed, M failed` line.
export function checker() {
  const c = { passed: 0, failed: 0 };
  c.check = (name, ok, detail = '') => {
    if (ok) c.passed++;
    else c.failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` - ${detail}` : ''}`);
    return !!ok;
  };
  c.summary = (extraFailed = 0) => `${c.passed} passed, ${c.failed + extraFailed} failed`;
  return c;
}

// Spawns `cmd args` and resolves {child, match} once a line of its stdout or stderr matches `pattern` (the URL it
// listens on); rejects if it exits first or prints nothing matching within `timeoutMs`. Its output is kept in
// child.log (for failure messages).
export function startServer(cmd, args, pattern, { timeoutMs = 15000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    child.log = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGTERM');
      reject(new Error(`${path.basename(cmd)} printed no line matching ${pattern} within ${timeoutMs / 1000} s:\n` +
                       child.log.slice(-2000)));
    }, timeoutMs);
    const onData = (d) => {
      child.log += d;
      if (child.log.length > 200000) child.log = child.log.slice(-100000);
      if (done) return;
      for (const line of child.log.split('\n')) {
        const m = pattern.exec(line);
        if (m) {
          done = true;
          clearTimeout(timer);
          resolve({ child, match: m });
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} exited (${code ?? sig}) before it was ready:\n${child.log.slice(-2000)}`));
    });
  });
}

// A persistent context on a fresh, empty profile folder (the toolchain's --user-data-dir); close() also removes it.
// `device`: a playwright device descriptor (viewport, user agent, touch, scale) to emulate instead of a desktop window.
export async function launchBrowser(executablePath, { viewport = { width: 1280, height: 900 }, device = null } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), 'tandem-e2e-'));
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, { executablePath, args: LAUNCH_ARGS, headless: true,
                                                            viewport, acceptDownloads: true, ...(device || {}) });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    ctx,
    profile,
    async close() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Waits until the page is idle or shows an error; returns {state, err}.
export async function waitIdle(page, what, timeout = STEP_TIMEOUT_MS) {
  await page.waitForFunction(() => ['idle', 'error'].includes(document.body.dataset.state), null,
                             { timeout, polling: 200 });
  const state = await page.evaluate(() => document.body.dataset.state);
  const err = await page.evaluate(() => document.body.dataset.error || '');
  if (state === 'error') console.log(`     (${what}: the page shows: ${err})`);
  return { state, err };
}
