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
function lineChart(target, { title, xLabel, yLabel, lines, threshold }) {
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
  if (threshold) {
    data.push(xs.map(() => threshold.value));
    series.push({ label: threshold.label, stroke: '#9ca3af', width: 1, dash: [6, 4], points: { show: false },
                  value: () => `${threshold.value} ms` });
  }
  const width = Math.max(280, target.clientWidth || 600);
  const opts = {
    title, width, height: 240,
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max * 1.08, 1)] } },
    series,
    axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  const plot = new uPlot(opts, data, target);
  return plot;
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
    const a = lineChart(this.latencyEl, { title: 'Latency of each timed run (batch 1)', xLabel: 'run',
                                          yLabel: 'ms', lines: lat });
    const b = lineChart(this.framesEl, { title: 'Frame times of the animation during each benchmark',
                                         xLabel: 'frame', yLabel: 'ms', lines: fr,
                                         threshold: { label: 'long frame (50 ms)', value: 50 } });
    for (const p of [a, b]) if (p) this.plots.push(p);
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
