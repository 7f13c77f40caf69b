#!/usr/bin/env node
// server-ids.mjs - does `tandem serve` answer new token ids as fast as ids it has seen? (issue 13: before, a new id
// sequence replanned and folded the network, and a repeated one returned a cached result.) Starts tandem serve on a
// text model, then sends requests in interleaved pairs: one with ids never sent before, one repeating the first
// request's ids, and reads the server's own `Server-Timing: infer` of each (the engine's time, without the network
// and JSON). Prints min, median and p90 for both kinds and their ratio, and one JSON line. A tool, not a test.
//
// usage: node bench/server-ids.mjs MODEL.onnx [--pairs N] [--threads T] [--vocab V]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intOpt, median, parseArgs, percentile } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node bench/server-ids.mjs MODEL.onnx [--pairs N] [--threads T] [--vocab V]\n';

async function main(argv) {
  const { opts, pos } = parseArgs(argv, []);
  if (pos.length !== 1) { process.stderr.write(USAGE); return 2; }
  const pairs = intOpt(opts, 'pairs', 100, 1, 100000), threads = intOpt(opts, 'threads', 1, 1, 64);
  const vocab = intOpt(opts, 'vocab', 30522, 2, 1 << 30);
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tdm-ids-'));
  fs.mkdirSync(path.join(repo, 'm'));
  fs.symlinkSync(path.resolve(pos[0]), path.join(repo, 'm', 'model.onnx'));
  const srv = spawn(path.join(ROOT, 'build', 'tandem'), ['serve', '--models', repo, '--host', '127.0.0.1', '--port', '0',
    '--workers', '1', '--threads', String(threads)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const on = (d) => { log += d; const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(log); if (m) resolve(m[1]); };
    srv.stdout.on('data', on);
    srv.stderr.on('data', on);
    srv.on('exit', () => reject(new Error(`tandem serve exited: ${log}`)));
  });
  try {
    const base = `http://127.0.0.1:${port}/v2/models/m`;
    const meta = await (await fetch(base)).json();
    let state = 99;
    const rand = (n) => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state % n; };
    const make = () => ({ inputs: meta.inputs.map((i) => {
      const n = i.shape.map((d) => (d < 0 ? 1 : d)).reduce((a, b) => a * b, 1);
      const hi = i.name === 'input_ids' ? vocab : 2;
      return { name: i.name, datatype: i.datatype, shape: i.shape.map((d) => (d < 0 ? 1 : d)),
        data: Array.from({ length: n }, () => rand(hi)) };
    }) });
    const infer = async (body) => {
      const r = await fetch(`${base}/infer`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      const m = /infer;dur=([\d.]+)/.exec(r.headers.get('server-timing') || '');
      return m ? Number(m[1]) : NaN;
    };
    const repeated = JSON.stringify(make());
    for (let w = 0; w < 5; w++) await infer(repeated); // warm-up
    const fresh = [], same = [];
    for (let p = 0; p < pairs; p++) {
      const body = JSON.stringify(make()); // built outside the timed region anyway: the server's figure is measured
      if (p & 1) { same.push(await infer(repeated)); fresh.push(await infer(body)); }
      else { fresh.push(await infer(body)); same.push(await infer(repeated)); }
    }
    const stat = (v) => { const s = [...v].sort((a, b) => a - b); return { min: s[0], p50: median(s), p90: percentile(s, 90) }; };
    const f = stat(fresh), r = stat(same);
    console.log(`server-ids: ${pos[0]}, tandem serve --workers 1 --threads ${threads}, ${pairs} interleaved pairs; ` +
      `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('Server-Timing infer (ms)      min      p50      p90');
    console.log(`new ids every request   ${f.min.toFixed(3).padStart(8)} ${f.p50.toFixed(3).padStart(8)} ${f.p90.toFixed(3).padStart(8)}`);
    console.log(`the same ids again      ${r.min.toFixed(3).padStart(8)} ${r.p50.toFixed(3).padStart(8)} ${r.p90.toFixed(3).padStart(8)}`);
    console.log(`ratio new / same        ${(f.min / r.min).toFixed(3).padStart(8)} ${(f.p50 / r.p50).toFixed(3).padStart(8)} ${(f.p90 / r.p90).toFixed(3).padStart(8)}`);
    console.log(JSON.stringify({ model: pos[0], threads, pairs, fresh: f, repeated: r, ratio_p50: f.p50 / r.p50 }));
  } finally {
    srv.kill('SIGTERM');
    fs.rmSync(repo, { recursive: true, force: true });
  }
  return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (e) => { process.stderr.write(`server-ids: ${e.message}\n`); process.exitCode = 1; });
