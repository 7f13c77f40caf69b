// swarm-worker.mjs - the browser side of the swarm (docs/SWARM.md): join a tandem server, lease chunks of its jobs,
// run them with tandem's WebAssembly engine in its Web Worker (tandem.mjs), submit the outputs, and repeat until no
// job is left, stop() is called or the tab closes. No DOM: worker-page.mjs shows what it does through onEvent.
//
//   const w = new SwarmWorker({ server: '', threads: 1, worker: true, onEvent: (e) => ... });
//   await w.run();            // resolves when it stops: w.state is 'finished' | 'stopped' | 'refused' | 'error'
//
// Inputs are made exactly as the native side makes them (src/server/swarm_run.c): CIFAR records through
// lut[c][x] = (x / 255 - mean[c]) / std[c] in float32 (Math.fround at each step, as C computes it in float), tensor
// items as their float32 values; a lease's result is, chunk by chunk and output after output, n * numel float32s.
import { load } from './tandem.mjs';

const PATIENCE_MS = 60000; // a server that cannot be reached for this long ends the run
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Split a lease answer: a JSON line, a newline, then the payload. */
export function parseLease(buf) {
  const bytes = new Uint8Array(buf);
  const nl = bytes.indexOf(10);
  if (nl < 0) throw new Error('the lease does not start with a JSON line');
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl)));
  return { head, payload: bytes.subarray(nl + 1) };
}

/* The normalisation table of a CIFAR job: lut[c * 256 + x]. */
export function cifarLut(mean, std) {
  const f = Math.fround, lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]), s = f(std[c]);
    for (let x = 0; x < 256; x++) lut[c * 256 + x] = f(f(f(x / 255) - m) / s);
  }
  return lut;
}

/* n stored items (bytes) as the model's float32 input. */
export function itemsToFloat(head, bytes, n, lut) {
  const numel = head.item_shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * numel);
  if (head.format === 'cifar') {
    for (let i = 0; i < n; i++) {
      const rec = i * head.item_bytes + 1, dst = i * numel;
      for (let c = 0; c < 3; c++)
        for (let k = 0; k < 1024; k++) out[dst + c * 1024 + k] = lut[c * 256 + bytes[rec + c * 1024 + k]];
    }
  } else {
    out.set(new Float32Array(bytes.slice(0, n * numel * 4).buffer)); // slice: the payload may not be 4-aligned
  }
  return out;
}

export class SwarmWorker {
  /* worker: false runs the engine on the page's own thread, where Chromium's CPU throttling reaches it (a weaker
   * device emulated for bench/compare-swarm); it does not reach Web Workers. */
  constructor({ server = '', threads = 1, worker = true, onEvent = () => {} } = {}) {
    this.server = server.replace(/\/+$/, '');
    this.threads = threads;
    this.inWorker = worker;
    this.onEvent = onEvent;
    this.state = 'idle';
    this.stats = { leases: 0, chunks: 0, items: 0, accepted: 0, late: 0, errors: 0, computeMs: 0, startMs: 0,
      leaseMs: 0, submitMs: 0, loadMs: 0, idleMs: 0, prepMs: 0 };
    this.client = null;
    this.worker = null;
    this.engine = null;
    this.modelName = null;
    this.stopping = false;
  }

  emit(type, detail = {}) {
    this.onEvent({ type, state: this.state, stats: { ...this.stats }, worker: this.worker, ...detail });
  }

  stop() {
    this.stopping = true;
    this.emit('stopping');
  }

  /* fetch with retries while the server cannot be reached (or says 429/502/503/504); other answers are returned. */
  async request(path, init) {
    const giveUp = performance.now() + PATIENCE_MS;
    let pause = 200;
    for (;;) {
      let r = null;
      try {
        r = await fetch(this.server + path, { cache: 'no-store', ...init });
      } catch (e) {
        r = null;
      }
      if (r && ![429, 502, 503, 504].includes(r.status)) return r;
      const wait = r && r.status === 429 ? 1000 * (Number(r.headers.get('Retry-After')) || 1) : pause;
      if (this.stopping || performance.now() + wait > giveUp)
        throw new Error(`the server cannot be reached (${r ? `HTTP ${r.status}` : 'no connection'})`);
      this.emit('waiting', { message: r ? `server busy (HTTP ${r.status}); retrying` : 'server unreachable; retrying' });
      await sleep(wait);
      pause = Math.min(pause * 2, 2000);
    }
  }

  async errorText(r) {
    try { return (await r.json()).error || `HTTP ${r.status}`; } catch { return `HTTP ${r.status}`; }
  }

  async join() {
    const r = await this.request('/v2/swarm/join', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'browser' }) });
    if (r.status !== 201) throw new Error(`joining: ${await this.errorText(r)}`);
    const j = await r.json();
    this.client = j.client;
    this.worker = j.worker;
    this.emit('joined');
  }

  async ensureModel(head) {
    if (this.engine && this.modelName === head.model) return;
    if (this.engine) await this.engine.free();
    this.engine = null;
    this.emit('loading', { model: head.model });
    const t0 = performance.now();
    this.engine = await load(new URL(this.server + head.model_url, globalThis.location?.href).href,
      { threads: this.threads, worker: this.inWorker });
    this.modelName = head.model;
    this.stats.loadMs += performance.now() - t0;
    this.emit('loaded', { model: head.model, build: this.engine.build });
  }

  /* Run one chunk: its outputs, output after output, as one Float32Array. */
  async runChunk(head, chunk, payload, lut) {
    const bytes = payload.subarray(chunk.offset, chunk.offset + chunk.bytes);
    const x = itemsToFloat(head, bytes, chunk.items, lut);
    const numel = head.item_shape.reduce((a, b) => a * b, 1);
    const outNumel = head.outputs.map((o) => o.numel);
    const out = new Float32Array(chunk.items * outNumel.reduce((a, b) => a + b, 0));
    const per = head.batch_any ? chunk.items : 1;
    for (let i = 0; i < chunk.items; i += per) {
      const r = await this.engine.run([{ data: x.subarray(i * numel, (i + per) * numel), dims: [per, ...head.item_shape] }]);
      let base = 0;
      outNumel.forEach((k, o) => {
        const d = r.outputs[o].data;
        if (d.length !== per * k) throw new Error(`output ${o} has ${d.length} values for ${per} items; expected ${per * k}`);
        out.set(d, base + i * k);
        base += chunk.items * k;
      });
    }
    return out;
  }

  /* Compute a lease: {entries, parts, items, computeMs} for its submission. */
  async compute(head, payload) {
    const lut = head.format === 'cifar' ? cifarLut(head.prep.mean, head.prep.std) : null;
    const entries = [], parts = [];
    const t0 = performance.now();
    let items = 0;
    for (const c of head.chunks) {
      if (this.stopping) break;
      try {
        const out = await this.runChunk(head, c, payload, lut);
        entries.push({ index: c.index, items: c.items, bytes: out.byteLength });
        parts.push(out);
        items += c.items;
      } catch (e) {
        entries.push({ index: c.index, error: String(e.message || e) });
      }
      this.emit('progress', { lease: head.lease, job: head.job, chunk: c.index, done: entries.length,
        of: head.chunks.length });
    }
    return { entries, parts, items, computeMs: performance.now() - t0 };
  }

  /* Submit a computed lease; a refusal stops the worker (throws), anything else is counted or logged. */
  async submit(head, { entries, parts, items, computeMs }) {
    if (!entries.length) return;
    const s0 = performance.now();
    const line = new TextEncoder().encode(JSON.stringify({ client: this.client, lease: head.lease, chunks: entries,
      compute_ms: computeMs }) + '\n');
    const body = new Uint8Array(line.length + parts.reduce((a, p) => a + p.byteLength, 0));
    body.set(line, 0);
    let off = line.length;
    for (const p of parts) {
      body.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
      off += p.byteLength;
    }
    const r = await this.request('/v2/swarm/submit', { method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' }, body });
    this.stats.submitMs += performance.now() - s0;
    if (r.status === 403) {
      this.state = 'refused';
      throw new Error(await this.errorText(r));
    }
    if (r.status !== 200) {
      this.emit('log', { message: `lease ${head.lease}: not stored: ${await this.errorText(r)}` });
      return;
    }
    const a = await r.json();
    this.stats.leases++;
    this.stats.computeMs += computeMs;
    this.stats.chunks += entries.length;
    this.stats.items += items;
    this.stats.accepted += a.accepted.length;
    this.stats.late += a.late.length;
    this.stats.errors += a.errors.length;
    this.emit('submitted', { lease: head.lease, job: head.job, items, accepted: a.accepted.length,
      late: a.late.length, computeMs, jobDone: a.job_done });
  }

  /* Ask for a lease: {head, payload}; never rejects (a failure comes back as {error}), so it can run ahead. */
  async fetchLease() {
    try {
      const l0 = performance.now();
      let r = await this.request('/v2/swarm/lease', { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client: this.client }) });
      if (r.status === 404) { /* the server forgot this client (a new store): join again */
        await this.join();
        r = await this.request('/v2/swarm/lease', { method: 'POST',
          headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client: this.client }) });
      }
      if (r.status === 403) return { refused: await this.errorText(r) };
      if (r.status !== 200) return { error: `asking for work: ${await this.errorText(r)}` };
      const got = parseLease(await r.arrayBuffer());
      this.stats.leaseMs += performance.now() - l0;
      return got;
    } catch (e) {
      return { error: String(e.message || e) };
    }
  }

  /* The loop. While a lease computes, the next one is already being fetched and the previous one submitted, so the
   * round trips to the server overlap the computing (two leases are held at a time). */
  async run() {
    this.state = 'running';
    this.stats.startMs = performance.now();
    this.emit('start');
    let submitting = null;
    try {
      await this.join();
      let next = this.fetchLease();
      while (!this.stopping) {
        const got = await next;
        if (got.refused) { this.state = 'refused'; throw new Error(got.refused); }
        if (got.error) throw new Error(got.error);
        const { head, payload } = got;
        if (head.lease === null) {
          if (submitting) { await submitting; submitting = null; next = this.fetchLease(); continue; }
          if (head.active_jobs === 0) { this.state = 'finished'; break; }
          this.emit('idle', { message: 'every chunk is out; waiting for the last results' });
          const i0 = performance.now();
          await sleep(head.retry_ms || 1000);
          this.stats.idleMs += performance.now() - i0;
          next = this.fetchLease();
          continue;
        }
        this.emit('lease', { lease: head.lease, job: head.job, model: head.model,
          items: head.chunks.reduce((a, c) => a + c.items, 0), chunks: head.chunks.length });
        await this.ensureModel(head);
        next = this.fetchLease();
        const result = await this.compute(head, payload);
        if (submitting) await submitting;
        submitting = this.submit(head, result);
        submitting.catch(() => {}); /* awaited before the next submission, which rethrows */
      }
      if (submitting) await submitting;
      if (this.state === 'running') this.state = 'stopped';
    } catch (e) {
      if (this.state !== 'refused') this.state = 'error';
      this.error = String(e.message || e);
    } finally {
      if (this.engine) await this.engine.free().catch(() => {});
      this.engine = null;
      this.emit('end', { error: this.error });
    }
    return this.state;
  }
}
