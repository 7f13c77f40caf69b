// lib.mjs - small helpers shared by bench/compare-native, bench/compare-browser and bench/ort_bench.mjs: option
// parsing, the statistics that `tandem bench` uses (nearest-rank percentile), medians, an allocation-free seeded RNG,
// the JSON line writer, the CPU facts for table headers, and the zoo suites with their model cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/* Parse `--name value`, `--flag` and positional words. `flags` lists the options that take no value. Returns
 * {opts, pos} or throws an Error naming the bad option, so each tool can print its own usage. */
export function parseArgs(argv, flags = []) {
  const opts = {}, pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') { pos.push(a); continue; }
    let name = a.slice(2), value;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (flags.includes(name)) {
      if (value !== undefined) throw new Error(`--${name} takes no value`);
      opts[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
      value = argv[++i];
    }
    opts[name] = value;
  }
  return { opts, pos };
}

/* An integer option within [lo, hi]; throws with the option's name so the caller can report a usage error. */
export function intOpt(opts, name, def, lo, hi) {
  if (opts[name] === undefined) return def;
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`--${name}: '${opts[name]}' is not an integer in [${lo}, ${hi}]`);
  return v;
}

/* A comma-separated list of positive integers, e.g. `--threads 1,2`. */
export function intListOpt(opts, name, def, lo, hi) {
  if (opts[name] === undefined) return def;
  const out = String(opts[name]).split(',').filter((s) => s !== '').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`--${name}: '${s}' is not an integer in [${lo}, ${hi}]`);
    return v;
  });
  if (!out.length) throw new Error(`--${name} is empty`);
  return out;
}

/* Nearest-rank percentile of an ascending array: the same rule as src/cli/cmd_bench.c, so p50/p90/p99 mean the same
 * thing on both sides of a comparison. */
export function percentile(sorted, p) {
  let k = Math.ceil((p / 100) * sorted.length) - 1;
  if (k < 0) k = 0;
  if (k >= sorted.length) k = sorted.length - 1;
  return sorted[k];
}

/* Median of the finite values (mean of the middle two for an even count); NaN when there are none. */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const h = v.length >> 1;
  return v.length & 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

/* Fill a Float32Array with uniform [0,1) noise from a seeded mulberry32. It allocates nothing per value (BigInt
 * splitmix64, the generator tandem uses, would churn the V8 heap and inflate the node process's peak RSS), so the
 * inputs have tandem's distribution but not its exact values; timings do not depend on the values. */
export function fillUniform(f32, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < f32.length; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    f32[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return f32;
}

/* Peak resident set of this process in bytes: getrusage's ru_maxrss, the same source as tandem bench's figure. */
export function peakRssBytes() {
  return process.resourceUsage().maxRSS * 1024;
}

/* OS threads of this process right now (from /proc), or null where /proc is absent. */
export function osThreads() {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/* Round to `digits` significant digits for the JSON line; non-finite numbers become null. */
export function sig(x, digits = 6) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return null;
  if (Number.isInteger(x)) return x;
  return Number(x.toPrecision(digits));
}

/* JSON on one line with Python's default separators (", " and ": "), the style of the example line. */
export function dumps(v) {
  if (Array.isArray(v)) return '[' + v.map(dumps).join(', ') + ']';
  if (v && typeof v === 'object') return '{' + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ': ' + dumps(x)).join(', ') + '}';
  if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
  return JSON.stringify(v === undefined ? null : v);
}

/* The CPU model from /proc/cpuinfo (the architecture's name where /proc is absent). */
export function cpuModel() {
  try {
    return (/^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || process.arch;
  } catch {
    return process.arch;
  }
}

/* What onnxruntime's MLAS (its CPU kernels) uses on this x86-64 CPU, inferred from the CPU flags the way MLAS's
 * platform set-up decides at start-up: AVX-512F kernels when the CPU reports avx512f (and the OS saves the ZMM
 * state, which Linux does wherever the flag shows), else AVX2 + FMA3, else AVX, else SSE2. onnxruntime does not
 * report its choice, so this is an inference, and the table headers say so. */
export function mlasKernels() {
  let flags = '';
  try { flags = ' ' + ((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || '') + ' '; } catch { /* no /proc */ }
  const has = (f) => flags.includes(` ${f} `);
  if (process.arch !== 'x64') return `${process.arch} (MLAS's kernels for it)`;
  if (has('avx512f')) return `avx512f${has('avx512_vnni') ? ' (+vnni for int8)' : ''}, inferred from the CPU flags`;
  if (has('avx2') && has('fma')) return 'avx2+fma3, inferred from the CPU flags';
  if (has('avx')) return 'avx, inferred from the CPU flags';
  return 'sse2, inferred from the CPU flags';
}

/* The benchmark suites beyond ../shared's CIFAR models: zoo models written once into a cache folder. `batch` is the
 * default batch list, `extra` adds (threads, batch) pairs, `quick` is the --quick model list. */
export const ZOO_SUITES = {
  imagenet: {
    models: ['imagenet_resnet18', 'imagenet_resnet50', 'imagenet_mobilenet_v2', 'imagenet_mobilenet_v3_small',
      'imagenet_mobilenet_v3_large', 'imagenet_efficientnet_b0', 'imagenet_shufflenet_v2_x1_0', 'imagenet_squeezenet1_1',
      'imagenet_inception_v3', 'imagenet_vgg16'],
    quick: ['imagenet_mobilenet_v3_small'],
    batch: [1],
    extra: [{ threads: 2, batch: 8 }], // issue 12's throughput target: batch 8 at 2 threads
  },
  transformer: {
    models: ['bert_tiny', 'bert_mini', 'bert_small', 'bert_base', 'vit_tiny_16', 'gpt2_tiny'],
    quick: ['bert_tiny'],
    batch: [1],
    extra: [],
  },
};

/* Write the zoo models `names` into cacheDir/<name>/model.onnx with `tandem zoo` (seed 0) unless they are there
 * already from the same zoo entry (cacheDir/<name>/zoo.json holds the `tandem zoo --list --json` entry they were
 * written from: a changed architecture or parameter count rewrites the file). Returns {name: entry}; throws with
 * tandem's message when it fails. */
export function ensureZooModels(tandemBin, names, cacheDir, log) {
  const list = spawnSync(tandemBin, ['zoo', '--list', '--json'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (list.status !== 0) throw new Error(`tandem zoo --list --json: ${(list.stderr || '').trim()}`);
  const entries = Object.fromEntries(JSON.parse(list.stdout).map((e) => [e.name, e]));
  const out = {};
  for (const name of names) {
    const e = entries[name];
    if (!e) throw new Error(`'${name}' is not in the zoo (tandem zoo --list)`);
    const dir = path.join(cacheDir, name), file = path.join(dir, 'model.onnx'), stamp = path.join(dir, 'zoo.json');
    const want = JSON.stringify(e);
    let have = null;
    try { have = readFileSync(stamp, 'utf8'); } catch { /* not cached */ }
    if (have !== want || !existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      log(`writing the zoo model ${name} (${e.params} parameters) into ${dir}`);
      const r = spawnSync(tandemBin, ['zoo', name, '-o', `${file}.tmp`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tandem zoo ${name}: ${(r.stderr || '').trim()}`);
      renameSync(`${file}.tmp`, file);
      writeFileSync(stamp, want);
    }
    out[name] = { ...e, file, dir };
  }
  return out;
}

/* `--int-range` for bench/ort_bench.mjs from a zoo entry's inputs: "input_ids=0:30522,token_type_ids=0:2". */
export function intRangeArg(entry) {
  return (entry.inputs || []).filter((i) => i.range).map((i) => `${i.name}=${i.range[0]}:${i.range[1]}`).join(',');
}
