// crowd.mjs - crowd mode's plan and progress bookkeeping, without DOM: which models the "Run the standard study on
// this device" button measures (the zoo's CIFAR ResNets the server hosts, else every CIFAR-shaped model it lists),
// the steps it makes for each (tandem-wasm in a worker at 1..T threads, onnxruntime-web and tandem on the main
// thread at 1 thread, then the cloud path from this device and its verdict), and the step / ETA estimate the page's progress bar shows, learnt from the steps done so far.

// The standard suite: the same models `tandem study` measures by default (tandem zoo names).
export const STANDARD_MODELS = ['cifar100_resnet20', 'cifar100_resnet32', 'cifar100_resnet44', 'cifar100_resnet56'];

// A GET /api/models entry whose first input is [N, 3, 32, 32] (N symbolic or fixed).
export function isCifarShaped(m) {
  const s = m?.inputs?.[0]?.shape;
  return Array.isArray(s) && s.length === 4 && s[1] === 3 && s[2] === 32 && s[3] === 32;
}

// The models the suite runs, as /api/models entries. `wanted` (names, e.g. from ?suite_models=) must all exist.
export function standardModels(models, wanted = null) {
  if (wanted && wanted.length) {
    const missing = wanted.filter((n) => !models.some((m) => m.name === n));
    if (missing.length) {
      throw new Error(`the server has no model ${missing.map((n) => `'${n}'`).join(', ')} ` +
                      `(it has: ${models.map((m) => m.name).join(', ') || 'none'})`);
    }
    return wanted.map((n) => models.find((m) => m.name === n));
  }
  const zoo = STANDARD_MODELS.map((n) => models.find((m) => m.name === n)).filter(Boolean);
  if (zoo.length) return zoo;
  const cifar = models.filter(isCifarShaped);
  if (!cifar.length) {
    throw new Error(`the server hosts none of the standard models (${STANDARD_MODELS.join(', ')}) and no other ` +
                    'CIFAR-shaped [N, 3, 32, 32] model; add them with `tandem zoo NAME -o DIR/NAME/model.onnx`');
  }
  return cifar;
}

// The steps for each model. tandem at 1 thread and onnxruntime-web at 1 thread run back to back (their ratio is the
// figure that matters, and neighbours in time see the same machine load), then the main-thread run, then more
// threads; last the cloud path measured from this device (the RTT, then requests to the server with the same input),
// which the verdict needs the browser figures for.
export function planSuite(models, maxThreads) {
  const steps = [];
  for (const m of models) {
    const base = { model: m.name, bytes: m.bytes || 1 };
    steps.push({ ...base, engine: 'tandem', mode: 'worker', threads: 1 });
    steps.push({ ...base, engine: 'ort', mode: 'worker', threads: 1 });
    steps.push({ ...base, engine: 'tandem', mode: 'main', threads: 1 });
    for (let t = 2; t <= maxThreads; t++) steps.push({ ...base, engine: 'tandem', mode: 'worker', threads: t });
    steps.push({ ...base, engine: 'cloud', mode: 'network', threads: 0 });
  }
  return steps;
}

export function stepLabel(s) {
  if (s.engine === 'cloud') return 'cloud path from this device · RTT, requests and the verdict';
  return `${s.engine === 'ort' ? 'onnxruntime-web' : 'tandem-wasm'} · ` +
    `${s.mode === 'main' ? 'main thread' : 'Web Worker'} · ${s.threads} thread${s.threads === 1 ? '' : 's'}`;
}

// Elapsed time and ETA over a list of steps. A step's cost is estimated as (model bytes) × (milliseconds per byte
// seen so far for steps of the same kind: engine, mode, threads), or of any kind when that kind has not run yet.
// Before the first step finishes there is no estimate.
export class Eta {
  constructor(steps, now = performance.now()) {
    this.steps = steps;
    this.durations = new Array(steps.length).fill(null);
    this.t0 = now;
    this.current = -1;
    this.currentStart = now;
  }

  start(i, now = performance.now()) {
    this.current = i;
    this.currentStart = now;
  }

  finish(i, now = performance.now()) {
    this.durations[i] = now - this.currentStart;
  }

  msPerByte(step) {
    const kind = (s) => `${s.engine}/${s.mode}/${s.threads}`;
    let ms = 0, bytes = 0, kms = 0, kbytes = 0;
    this.steps.forEach((s, i) => {
      const d = this.durations[i];
      if (d == null) return;
      ms += d;
      bytes += s.bytes;
      if (kind(s) === kind(step)) {
        kms += d;
        kbytes += s.bytes;
      }
    });
    if (kbytes) return kms / kbytes;
    return bytes ? ms / bytes : null;
  }

  // {elapsed_ms, remaining_ms | null, fraction (time-based, 0..1), done (steps finished)}
  state(now = performance.now()) {
    const elapsed = now - this.t0;
    const done = this.durations.filter((d) => d != null).length;
    let remaining = 0;
    let known = done > 0;
    this.steps.forEach((s, i) => {
      if (this.durations[i] != null || !known) return;
      const r = this.msPerByte(s);
      if (r == null) { known = false; return; }
      let est = r * s.bytes;
      if (i === this.current) est = Math.max(0, est - (now - this.currentStart));
      remaining += est;
    });
    if (!known) {
      return { elapsed_ms: elapsed, remaining_ms: null, done,
               fraction: this.steps.length ? done / this.steps.length : 1 };
    }
    return { elapsed_ms: elapsed, remaining_ms: remaining, done,
             fraction: elapsed + remaining > 0 ? Math.min(1, elapsed / (elapsed + remaining)) : 1 };
  }
}

export function fmtDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
