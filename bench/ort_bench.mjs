#!/usr/bin/env node
// ort_bench.mjs - onnxruntime-node's counterpart of `tandem bench MODEL --json`: the same figures, measured the same
// way (one process, session set-up, first run, warm-up, timed runs, nearest-rank percentiles, getrusage peak RSS).
//
// usage: node bench/ort_bench.mjs MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--seed S] [--json]
//                                  [--int-range NAME=LO:HI,...] [--fresh]
//        node bench/ort_bench.mjs --import-only [--json]   (imports onnxruntime-node, creates no session: the
//                                                            node + binding RSS that compare-native subtracts)
// Integer inputs (token ids, masks) get new values before every run, uniform in [LO, HI) from --int-range (default
// [0, 2)), so that nothing can be cached from one run to the next; float inputs keep one seeded uniform [0,1) fill,
// or with --fresh get a new one before every run too. The refill happens outside the timed region.
import ort from 'onnxruntime-node';
import { fillUniform, intOpt, osThreads, parseArgs, peakRssBytes, percentile } from './lib.mjs';

const USAGE = 'usage: ort_bench.mjs MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--seed S] [--json]\n' +
  '                     [--int-range NAME=LO:HI,...] [--fresh]\n' +
  '       ort_bench.mjs --import-only [--json]\n';

/* Session options of a default user who asks for N threads: intra-op pool of N (the caller plus N-1 workers), no
 * inter-op pool, sequential execution, every graph optimisation. Spinning is left at onnxruntime's default (on):
 * that is what a user gets without reading the tuning guide, and with intraOpNumThreads = 1 there is no worker thread
 * that could spin. `--spinning 0|1` overrides it for experiments. */
function sessionOptions(threads, spinning) {
  const so = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  if (spinning !== undefined) so.extra = { session: { intra_op: { allow_spinning: String(spinning) } } };
  return so;
}

/* The input shape `tandem bench` would use: the first symbolic dimension becomes the batch, other symbolic ones 1,
 * and a symbolic leading dimension is always the batch. */
function benchShape(meta, batch) {
  const dims = meta.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? batch : 1));
  if (dims.length > 0 && typeof meta.shape[0] !== 'number') dims[0] = batch;
  return dims;
}

const TYPED = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, int8: Int8Array,
  uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, bool: Uint8Array };

const INTEGER = new Set(['int32', 'int64', 'int8', 'uint8', 'int16', 'uint16']);

/* "a=0:30522,b=0:2" -> {a: [0, 30522], b: [0, 2]} */
function parseRanges(s) {
  const out = {};
  for (const part of String(s || '').split(',').filter(Boolean)) {
    const m = /^([^=]+)=(-?\d+):(-?\d+)$/.exec(part);
    if (!m || Number(m[3]) <= Number(m[2])) throw new Error(`--int-range: '${part}' is not NAME=LO:HI with LO < HI`);
    out[m[1]] = [Number(m[2]), Number(m[3])];
  }
  return out;
}

/* Integers uniform in [lo, hi) from a seeded mulberry32 state (allocation-free apart from the BigInt per value of an
 * int64 input, which is what a caller building ids pays too). Returns the next state. */
function fillInts(arr, lo, hi, state) {
  let s = state >>> 0;
  const span = hi - lo, big = arr instanceof BigInt64Array;
  for (let i = 0; i < arr.length; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const v = lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * span);
    arr[i] = big ? BigInt(v) : v;
  }
  return s;
}

/* Feeds for every input, and a refill() that gives the varying ones new values: integer inputs always (uniform in
 * their --int-range), float32 inputs with --fresh (seeded uniform [0,1) noise like tandem bench otherwise). */
function makeFeeds(session, batch, seed, ranges, fresh) {
  const feeds = {}, varying = [];
  let state = seed >>> 0;
  session.inputMetadata.forEach((meta, i) => {
    if (!meta.isTensor) throw new Error(`input '${meta.name}' is not a tensor`);
    const T = TYPED[meta.type];
    if (!T) throw new Error(`input '${meta.name}': dtype ${meta.type} is not supported here`);
    const dims = benchShape(meta, batch);
    const data = new T(dims.reduce((a, b) => a * b, 1));
    if (meta.type === 'float32') {
      fillUniform(data, seed + i);
      if (fresh) varying.push({ data, float: true });
    } else if (INTEGER.has(meta.type)) {
      const [lo, hi] = ranges[meta.name] || [0, 2];
      varying.push({ data, lo, hi });
    }
    feeds[meta.name] = new ort.Tensor(meta.type, data, dims);
  });
  for (const name of Object.keys(ranges))
    if (!session.inputNames.includes(name)) throw new Error(`--int-range: the model has no input '${name}'`);
  const refill = () => {
    for (const v of varying) {
      if (v.float) { state = (state + 0x9e3779b9) >>> 0; fillUniform(v.data, state); }
      else state = fillInts(v.data, v.lo, v.hi, state);
    }
  };
  refill();
  return { feeds, refill, varying: varying.length };
}

function fmt(x, d = 3) { return x.toFixed(d); }

async function main(argv) {
  let a;
  try {
    a = parseArgs(argv, ['json', 'import-only', 'fresh']);
  } catch (e) {
    process.stderr.write(`ort_bench: ${e.message}\n${USAGE}`);
    return 2;
  }
  const { opts, pos } = a;
  const json = !!opts.json;
  const version = ort.env.versions.node || ort.env.versions.common;
  if (opts['import-only']) {
    const out = { import_only: true, onnxruntime: version, peak_rss_bytes: peakRssBytes(), os_threads: osThreads() };
    process.stdout.write(json ? JSON.stringify(out) + '\n' : `node + onnxruntime-node ${version} imported: peak RSS ` +
      `${(out.peak_rss_bytes / 1048576).toFixed(1)} MiB, ${out.os_threads} threads\n`);
    return 0;
  }
  let threads, batch, runs, warmup, seed, spinning, ranges;
  try {
    if (pos.length !== 1) throw new Error(pos.length ? `unexpected argument '${pos[1]}'` : 'a MODEL is required');
    for (const k of Object.keys(opts))
      if (!['json', 'threads', 'batch', 'runs', 'warmup', 'seed', 'spinning', 'int-range', 'fresh'].includes(k)) throw new Error(`unknown option '--${k}'`);
    threads = intOpt(opts, 'threads', 1, 1, 4096);
    batch = intOpt(opts, 'batch', 1, 1, 4096);
    runs = intOpt(opts, 'runs', 100, 1, 1000000);
    warmup = intOpt(opts, 'warmup', 5, 0, 4096);
    seed = intOpt(opts, 'seed', 12345, 0, 0xffffffff);
    spinning = opts.spinning === undefined ? undefined : intOpt(opts, 'spinning', 1, 0, 1);
    ranges = parseRanges(opts['int-range']);
  } catch (e) {
    process.stderr.write(`ort_bench: ${e.message}\n${USAGE}`);
    return 2;
  }
  const model = pos[0];

  const t0 = performance.now();
  const threadsBefore = osThreads();
  const session = await ort.InferenceSession.create(model, sessionOptions(threads, spinning));
  const setupMs = performance.now() - t0;
  const { feeds, refill, varying } = makeFeeds(session, batch, seed, ranges, !!opts.fresh);
  const t2 = performance.now();
  await session.run(feeds);
  const firstMs = performance.now() - t2;
  for (let k = 0; k < warmup; k++) {
    if (varying) refill();
    await session.run(feeds);
  }
  const times = new Float64Array(runs);
  let sum = 0;
  for (let k = 0; k < runs; k++) {
    if (varying) refill(); // new ids (and with --fresh new pixels) before every run, outside the timed region
    const r0 = performance.now();
    await session.run(feeds);
    times[k] = performance.now() - r0;
    sum += times[k];
  }
  times.sort();
  const mean = sum / runs;
  const out = {
    model, threads, batch, runs, warmup,
    input_shapes: Object.values(feeds).map((t) => t.dims),
    load_ms: 0, // InferenceSession.create loads and sets up in one call: all of it is in setup_ms
    setup_ms: setupMs,
    first_run_ms: firstMs,
    p50_ms: percentile(times, 50), p90_ms: percentile(times, 90), p99_ms: percentile(times, 99),
    mean_ms: mean, min_ms: times[0], max_ms: times[runs - 1],
    throughput_ips: (1000 * batch) / mean,
    peak_rss_bytes: peakRssBytes(),
    arena_bytes: null, // onnxruntime does not report its planned activation memory
    onnxruntime: version,
    spinning: spinning === undefined ? 'default' : spinning,
    varying_inputs: varying, // inputs given new values before every run
    os_threads_before_session: threadsBefore,
    os_threads: osThreads(),
    total_s: (performance.now() - t0) / 1000,
  };
  await session.release();
  if (json) {
    process.stdout.write(JSON.stringify(out) + '\n');
  } else {
    process.stdout.write(`model        ${model}   (onnxruntime-node ${version})\n` +
      `threads      ${threads}   batch ${batch}   runs ${runs} (+${warmup} warm-up)\n` +
      `set-up       ${fmt(setupMs)} ms   (InferenceSession.create: load + optimise + prepare)\n` +
      `first run    ${fmt(firstMs)} ms\n` +
      `steady       p50 ${fmt(out.p50_ms)}   p90 ${fmt(out.p90_ms)}   p99 ${fmt(out.p99_ms)}   mean ${fmt(mean)}   min ${fmt(out.min_ms)} ms\n` +
      `throughput   ${out.throughput_ips.toFixed(1)} images/s\n` +
      `memory       peak RSS ${(out.peak_rss_bytes / 1048576).toFixed(1)} MiB (whole node process)   ` +
      `OS threads ${threadsBefore} before the session, ${out.os_threads} after\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (e) => {
  process.stderr.write(`ort_bench: ${e && e.message ? e.message : e}\n`);
  process.exitCode = 1;
});
