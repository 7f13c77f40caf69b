// smoothness.mjs - the page's quality-of-experience probe: a requestAnimationFrame animation that keeps drawing
// while a benchmark runs, and a recorder of the frame times it sees. A page whose main thread is busy (main-thread
// inference) drops frames; one that hands the work to a Web Worker should not. Reports fps, p95 frame time and the
// number of frames longer than 50 ms (the "long frame" threshold used for jank).

export const LONG_FRAME_MS = 50;

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

// A spinner plus a ball bouncing across the canvas, drawn every frame; while recording it also paints the last
// frame times as a strip, so a stall is visible to the eye as well as in the numbers.
export class Animation {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.running = false;
    this.recording = null;
    this.t0 = 0;
    this.last = 0;
    this.tick = this.tick.bind(this);
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.t0 = performance.now();
    requestAnimationFrame(this.tick);
  }

  stop() {
    this.running = false;
  }

  tick(now) {
    if (this.recording) this.recording.push(now);
    this.last = now;
    this.draw(now);
    if (this.running) requestAnimationFrame(this.tick);
  }

  draw(now) {
    const { ctx, canvas } = this;
    const w = canvas.width, h = canvas.height;
    const t = (now - this.t0) / 1000;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#f4f6fa';
    ctx.fillRect(0, 0, w, h);
    // the bouncing ball: position is a function of time, so a stalled frame shows as a jump
    const span = w - 40;
    const phase = (t * 0.8) % 2;
    const x = 20 + span * (phase < 1 ? phase : 2 - phase);
    ctx.fillStyle = this.recording ? '#2563eb' : '#94a3b8';
    ctx.beginPath();
    ctx.arc(x, h / 2 - 6, 10, 0, Math.PI * 2);
    ctx.fill();
    // frame-time strip along the bottom: one bar per recent frame, red when over the long-frame threshold
    const rec = this.recording;
    if (rec && rec.length > 1) {
      const n = Math.min(rec.length - 1, Math.floor(w / 3));
      for (let i = 0; i < n; i++) {
        const k = rec.length - 1 - i;
        const dt = rec[k] - rec[k - 1];
        const bh = Math.min(h / 2 - 4, dt / 2);
        ctx.fillStyle = dt > LONG_FRAME_MS ? '#dc2626' : dt > 20 ? '#f59e0b' : '#16a34a';
        ctx.fillRect(w - 3 * (i + 1), h - bh, 2, bh);
      }
    }
  }

  // Record frame times around `work` (an async function). The window opens on a frame and closes on the first
  // frame after the work ends, so a main thread blocked to the very end still counts as one long frame.
  async measure(work) {
    const wasRunning = this.running;
    this.start();
    await nextFrame();
    this.recording = [];
    await nextFrame();
    let value, error;
    try {
      value = await work();
    } catch (e) {
      error = e;
    }
    await nextFrame();
    await nextFrame();
    const stamps = this.recording;
    this.recording = null;
    if (!wasRunning) this.stop();
    if (error) throw error;
    return { value, frames: frameStats(stamps) };
  }
}

// Frame statistics from rAF timestamps: frame times are the gaps between consecutive frames.
export function frameStats(stamps) {
  const times = [];
  for (let i = 1; i < stamps.length; i++) times.push(stamps[i] - stamps[i - 1]);
  const sorted = times.slice().sort((a, b) => a - b);
  const span = stamps.length > 1 ? stamps[stamps.length - 1] - stamps[0] : 0;
  return {
    fps: span > 0 ? (times.length * 1000) / span : NaN,
    frame_p50_ms: percentile(sorted, 50),
    frame_p95_ms: percentile(sorted, 95),
    frame_max_ms: sorted.length ? sorted[sorted.length - 1] : NaN,
    long_frames: times.filter((t) => t > LONG_FRAME_MS).length,
    frames: times.length,
    window_ms: span,
    frame_times_ms: times,
  };
}
