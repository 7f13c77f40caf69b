#!/usr/bin/env node
// ort_bench.mjs - onnxruntime-node's counterpart of `tandem bench MODEL --json`: the same figures, measured the same
// way (one process, session set-up, first run, warm-up, timed runs, nearest-rank percentiles, getrusage peak RSS).
//
// usage: node bench/ort_bench.mjs MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--seed S] [--json]
//        node bench/ort_bench.mjs --import-only [--json]   (imports onnxruntime-node, creates no session: the
//                                                            node + binding RSS that compare-native subtracts)
import ort from 'onnxruntime-node';
import { fillUniform, intOpt, osThreads, parseArgs, peakRssBytes, percentile } from './lib.mjs';

const USAGE = 'usage: ort_bench.mjs MODEL [--threads N] [--batch B] [--runs R] [--warmup W] [--seed S] [--json]\n' +
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

/* Feeds for every input: float32 gets seeded uniform [0,1) noise like tandem bench, other types zeros. */
function makeFeeds(session, batch, seed) {
  const feeds = {};
  session.inputMetadata.forEach((meta, i) => {
    if (!meta.isTensor) throw new Error(`input '${meta.name}' is not a tensor`);
    const T = TYPED[meta.type];
    if (!T) throw new Error(`input '${meta.name}': dtype ${meta.type} is not supported here`);
    const dims = benchShape(meta, batch);
    const data = new T(dims.reduce((a, b) => a * b, 1));
    if (meta.type === 'float32') fillUniform(data, seed + i);
    feeds[meta.name] = new ort.Tensor(meta.type, data, dims);
  });
  return feeds;
}

function fmt(x, d = 3) { return x.toFixed(d); }

async function main(argv) {
  let a;
  try {
    a = parseArgs(argv, ['json', 'import-only']);
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
  let threads, batch, runs, warmup, seed, spinning;
  try {
    if (pos.length !== 1) throw new Error(pos.length ? `unexpected argument '${pos[1]}'` : 'a MODEL is required');
    for (const k of Object.keys(opts))
      if (!['json', 'threads', 'batch', 'runs', 'warmup', 'seed', 'spinning'].includes(k)) throw new Error(`unknown option '--${k}'`);
    threads = intOpt(opts, 'threads', 1, 1, 4096);
    batch = intOpt(opts, 'batch', 1, 1, 4096);
    runs = intOpt(opts, 'runs', 100, 1, 1000000);
    warmup = intOpt(opts, 'warmup', 5, 0, 4096);
    seed = intOpt(opts, 'seed', 12345, 0, 0xffffffff);
    spinning = opts.spinning === undefined ? undefined : intOpt(opts, 'spinning', 1, 0, 1);
  } catch (e) {
    process.stderr.write(`ort_bench: ${e.message}\n${USAGE}`);
    return 2;
  }
  const model = pos[0];

  const t0 = performance.now();
  const threadsBefore = osThreads();
  const session = await ort.InferenceSession.create(model, sessionOptions(threads, spinning));
  const setupMs = performance.now() - t0;
  const feeds = makeFeeds(session, batch, seed);
  const t2 = performance.now();
  await session.run(feeds);
  const firstMs = performance.now() - t2;
  for (let k = 0; k < warmup; k++) await session.run(feeds);
  const times = new Float64Array(runs);
  let sum = 0;
  for (let k = 0; k < runs; k++) {
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
