// format.mjs - the measuring page's formatting: numbers, times and byte counts as the page shows them, and el(), the
// one DOM-building helper every view uses. No page state.

export function fmtMs(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
export function fmtNum(v, d = 1) {
  return v == null || !Number.isFinite(v) ? '–' : v.toFixed(d);
}
export function fmtMB(b) {
  return b == null || !Number.isFinite(b) ? '–' : (b / (1024 * 1024)).toFixed(b < 10 * 1048576 ? 2 : 1);
}
export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
export function fmtBytes(b) {
  if (b == null) return '?';
  return b >= 1048576 ? `${(b / 1048576).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} kB`;
}

/* An element with attributes ('class', 'text' or any attribute) and children (nodes or strings; null skipped). */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
