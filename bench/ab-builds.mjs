#!/usr/bin/env node
// ab-builds.mjs - is a change faster? Two builds of tandem timed side by side on one model: rounds of fresh
// `tandem bench --vary-input` processes, the two builds alternating (A then B in odd rounds, B then A in even ones, so
// that a drift of the shared machine does not favour one side), then each side's median p50 and the ratio B / A, both
// of the medians and as the median of the per-round ratios. On these noisy VMs a single pair of runs can differ by 30 %;
// this is how the per-change figures in git log and docs/PERFORMANCE.md were taken. Running a build against itself
// shows what the machine's noise is at the moment (it gave B/A 1.03 and 1.42 in two rounds once). A baseline build comes from a
// worktree: `git worktree add /tmp/base REV && make -C /tmp/base -j2 build/tandem`.
//
// usage: node bench/ab-builds.mjs --a BIN_A --b BIN_B MODEL [--threads N] [--rounds K] [--runs R] [--batch B]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { intOpt, median, parseArgs } from './lib.mjs';

const USAGE = 'usage: node bench/ab-builds.mjs --a BIN_A --b BIN_B MODEL [--threads N] [--rounds K] [--runs R] ' +
  '[--batch B]\n' +
  '  --a, --b     the two tandem binaries (A: the baseline)     --threads N  intra-op threads (default 1)\n' +
  '  --rounds K   rounds of one process per build (default 5)   --runs R     timed runs per process (default 40)\n' +
  '  --batch B    batch size (default 1)\n';

function die(msg, code = 2) { process.stderr.write(`ab-builds: ${msg}\n`); process.exit(code); }

/* One `tandem bench` process: its steady-state p50 in ms. */
function p50(bin, model, threads, runs, batch) {
  const p = spawnSync(bin, ['bench', model, '--threads', String(threads), '--runs', String(runs), '--batch',
    String(batch), '--vary-input', '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (p.status !== 0) die(`${bin} bench ${model} failed (exit ${p.status}): ${(p.stderr || '').trim()}`, 1);
  const line = p.stdout.trim().split('\n').pop();
  let j;
  try { j = JSON.parse(line); } catch { die(`${bin}: no JSON line in its output`, 1); }
  const v = j.p50_ms;
  if (typeof v !== 'number') die(`${bin}: its JSON has no p50 (keys: ${Object.keys(j).join(', ')})`, 1);
  return v;
}

let opts, pos;
try { ({ opts, pos } = parseArgs(process.argv.slice(2))); } catch (e) { die(`${e.message}\n${USAGE}`); }
if (pos.length !== 1 || !opts.a || !opts.b) die(USAGE);
let threads, rounds, runs, batch;
try {
  threads = intOpt(opts, 'threads', 1, 1, 256);
  rounds = intOpt(opts, 'rounds', 5, 1, 1000);
  runs = intOpt(opts, 'runs', 40, 1, 1000000);
  batch = intOpt(opts, 'batch', 1, 1, 4096);
} catch (e) { die(`${e.message}\n${USAGE}`); }
const model = pos[0];
for (const f of [opts.a, opts.b, model]) if (!existsSync(f)) die(`${f}: no such file`);

const a = [], b = [];
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) { a.push(p50(opts.a, model, threads, runs, batch)); b.push(p50(opts.b, model, threads, runs, batch)); }
  else { b.push(p50(opts.b, model, threads, runs, batch)); a.push(p50(opts.a, model, threads, runs, batch)); }
  process.stdout.write(`round ${r + 1}/${rounds}: A ${a[r].toFixed(3)} ms  B ${b[r].toFixed(3)} ms  B/A ${(b[r] / a[r]).toFixed(3)}\n`);
}
const ma = median(a), mb = median(b), pr = median(a.map((x, i) => b[i] / x));
process.stdout.write(`${model}, ${threads} thread(s), batch ${batch}, ${rounds} rounds x ${runs} runs: ` +
  `A median p50 ${ma.toFixed(3)} ms, B ${mb.toFixed(3)} ms; B/A ${(mb / ma).toFixed(3)} (median of the per-round ` +
  `ratios ${pr.toFixed(3)})\n`);
