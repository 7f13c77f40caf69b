// charts.mjs - the page's charts, drawn with uPlot (served locally from vendor/uplot, never from a CDN): latency
// of every timed run and frame times during each benchmark, one line per engine configuration.
import uPlot from './vendor/uplot/uPlot.esm.js';

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
// one colour per configuration, the same in every chart: tandem blues/violet, onnxruntime-web ambers/reds
const CONFIG_COLORS = { 'tandem-wasm/worker': '#2563eb', 'tandem-wasm/main': '#7c3aed',
                        'onnxruntime-web/worker': '#d97706', 'onnxruntime-web/main': '#dc2626' };
export function configColor(r, i = 0) {
  return CONFIG_COLORS[`${r.engine}/${r.mode}`] || PALETTE[i % PALETTE.length];
}

// One line chart over run/frame index; `lines` = [{label, values:[...]}] of any lengths (shorter ones end early).
function lineChart(target, { title, xLabel, yLabel, lines, log = false }) {
  target.textContent = '';
  if (!lines.length) return null;
  const n = Math.max(...lines.map((l) => l.values.length));
  const xs = Array.from({ length: n }, (_, i) => i + 1);
  const data = [xs, ...lines.map((l) => xs.map((_, i) => (i < l.values.length ? l.values[i] : null)))];
  const series = [{ label: xLabel }, ...lines.map((l, i) => ({
    label: l.label, stroke: l.color || PALETTE[i % PALETTE.length], width: 1.5,
    value: (u, v) => (v == null ? '-' : `${v.toFixed(2)} ms`),
    points: { show: n <= 60 },
  }))];
  const width = Math.max(280, target.clientWidth || 600);
  const opts = {
    title, width, height: 240,
    // a log axis keeps one slow outlier from flattening every other run into the floor
    scales: { x: { time: false },
              y: log ? { distr: 3, log: 10 } : { range: (u, min, max) => [0, Math.max(max * 1.08, 1)] } },
    series,
    axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  const plot = new uPlot(opts, data, target);
  return plot;
}

// Frame times against time into the benchmark window, drawn as steps: each frame's time spans the interval the frame
// took, so a 400 ms stall is a 400 ms wide plateau. Series have different x values: uPlot.join aligns them.
function frameChart(target, lines) {
  target.textContent = '';
  if (!lines.length) return null;
  const tables = lines.map((l) => {
    const xs = [0], ys = [l.values[0]]; // the first frame began at 0
    let t = 0;
    for (const v of l.values) {
      t += v;
      xs.push(Math.round(t * 100) / 100);
      ys.push(v);
    }
    return [xs, ys];
  });
  const joined = uPlot.join(tables);
  const xmax = joined[0].length ? joined[0][joined[0].length - 1] : 1;
  const data = [...joined, joined[0].map(() => 50)];
  const series = [{ label: 'time (ms)', value: (u, v) => (v == null ? '-' : `${v.toFixed(0)} ms`) },
    ...lines.map((l, i) => ({
      label: l.label, stroke: l.color || PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
      // step-before: each frame's time is drawn across the interval the frame took
      paths: uPlot.paths.stepped({ align: -1 }),
      value: (u, v) => (v == null ? '-' : `${v.toFixed(1)} ms`), points: { show: false },
    })),
    { label: 'long frame (50 ms)', stroke: '#9ca3af', width: 1, dash: [6, 4], points: { show: false },
      spanGaps: true, value: () => '50 ms' }];
  const opts = {
    title: 'Frame times of the animation during each benchmark', width: Math.max(280, target.clientWidth || 600),
    height: 240,
    scales: { x: { time: false, range: [0, xmax] }, y: { range: (u, min, max) => [0, Math.max(max * 1.08, 60)] } },
    series,
    axes: [{ label: 'time into the benchmark (ms)' }, { label: 'frame time (ms)', size: 60 }],
    cursor: { drag: { x: true, y: false } },
  };
  return new uPlot(opts, data, target);
}

export class Charts {
  constructor(latencyEl, framesEl) {
    this.latencyEl = latencyEl;
    this.framesEl = framesEl;
    this.plots = [];
    window.addEventListener('resize', () => this.resize());
  }

  // results: the page's result documents (each with extra.times_ms and extra.frame_times_ms).
  draw(results) {
    this.plots.forEach((p) => p.destroy());
    this.plots = [];
    const lat = results.filter((r) => r.extra?.times_ms?.length).map((r, i) => ({
      label: configLabel(r), values: r.extra.times_ms, color: configColor(r, i) }));
    const fr = results.filter((r) => r.extra?.frame_times_ms?.length).map((r, i) => ({
      label: configLabel(r), values: r.extra.frame_times_ms, color: configColor(r, i) }));
    const a = lineChart(this.latencyEl, { title: 'Latency of each timed run (batch 1, log scale)', xLabel: 'run',
                                          yLabel: 'ms', lines: lat, log: true });
    const b = frameChart(this.framesEl, fr);
    for (const p of [a, b]) if (p) this.plots.push(p);
  }

  // Both charts as one PNG (title, plot, legend per chart), for taking the charts away.
  async toPng(caption = '') {
    if (!this.plots.length) throw new Error('no charts yet: run a benchmark first');
    const dpr = this.plots[0].ctx.canvas.width / this.plots[0].ctx.canvas.clientWidth || 1;
    const pad = 16 * dpr, titleH = 28 * dpr, legendH = 24 * dpr, capH = caption ? 26 * dpr : 0;
    const w = Math.max(...this.plots.map((p) => p.ctx.canvas.width)) + 2 * pad;
    const h = capH + this.plots.reduce((acc, p) => acc + titleH + p.ctx.canvas.height + legendH + pad, pad);
    const out = new OffscreenCanvas(w, h);
    const g = out.getContext('2d');
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, w, h);
    g.textBaseline = 'middle';
    let y = pad;
    if (caption) {
      g.fillStyle = '#475569';
      g.font = `${12 * dpr}px system-ui, sans-serif`;
      g.fillText(caption, pad, y + capH / 2);
      y += capH;
    }
    for (const p of this.plots) {
      g.fillStyle = '#1f2937';
      g.font = `bold ${15 * dpr}px system-ui, sans-serif`;
      g.fillText(p.root.querySelector('.u-title')?.textContent || '', pad, y + titleH / 2);
      y += titleH;
      g.drawImage(p.ctx.canvas, pad, y);
      y += p.ctx.canvas.height;
      let x = pad;
      g.font = `${12 * dpr}px system-ui, sans-serif`;
      for (const sr of p.series.slice(1)) {
        const label = String(sr.label);
        g.fillStyle = typeof sr.stroke === 'function' ? sr.stroke(p, 1) : sr.stroke || '#000';
        g.fillRect(x, y + legendH / 2 - 2 * dpr, 14 * dpr, 4 * dpr);
        g.fillStyle = '#1f2937';
        g.fillText(label, x + 18 * dpr, y + legendH / 2);
        x += 18 * dpr + g.measureText(label).width + 18 * dpr;
      }
      y += legendH + pad;
    }
    return out.convertToBlob({ type: 'image/png' });
  }

  resize() {
    for (const p of this.plots) {
      const w = Math.max(280, p.root.parentElement?.clientWidth || 600);
      p.setSize({ width: w, height: 240 });
    }
  }
}

export function configLabel(r) {
  const eng = r.engine === 'onnxruntime-web' ? 'onnxruntime-web' : `tandem ${r.build}`;
  return `${eng} · ${r.mode === 'main' ? 'main thread' : 'worker'} · ${r.threads}T`;
}
