// check_metrics.mjs - checks a /metrics page (stdin) against the Prometheus text format as `tandem serve` must write
// it: every sample line is `name{labels} value`, every family has HELP and TYPE lines, histogram buckets are
// cumulative with an le="+Inf" bucket equal to _count, and the families of issue 5 are all present.
//   node tests/server/check_metrics.mjs MODEL < metrics.txt      exit 0 when every check passes; reasons on stdout
import { readFileSync } from 'node:fs';

const model = process.argv[2];
const text = readFileSync(0, 'utf8');
const problems = [];
const types = new Map();
const samples = [];
for (const line of text.split('\n')) {
  if (line === '') continue;
  let m;
  if ((m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
    if (m[1] === 'TYPE') types.set(m[2], m[3]);
    continue;
  }
  m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$/.exec(line);
  if (!m) { problems.push(`not a sample line: ${line}`); continue; }
  const labels = {};
  for (const l of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
  samples.push({ name: m[1], labels, value: Number(m[4]) });
}
const family = (n) => n.replace(/_(bucket|sum|count)$/, '');
for (const s of samples)
  if (!types.has(s.name) && !types.has(family(s.name))) problems.push(`no TYPE line for ${s.name}`);

const want = {
  tandem_requests_total: 'counter', tandem_request_failures_total: 'counter',
  tandem_request_duration_seconds: 'histogram', tandem_queue_duration_seconds: 'histogram',
  tandem_batch_size: 'histogram', tandem_inflight_requests: 'gauge', tandem_model_load_seconds: 'gauge',
};
for (const [n, t] of Object.entries(want)) if (types.get(n) !== t) problems.push(`${n} should be a ${t}`);

for (const [n, t] of types) {
  if (t !== 'histogram') continue;
  const buckets = samples.filter((s) => s.name === `${n}_bucket` && s.labels.model === model);
  const count = samples.find((s) => s.name === `${n}_count` && s.labels.model === model);
  const sum = samples.find((s) => s.name === `${n}_sum` && s.labels.model === model);
  if (!buckets.length || !count || !sum) { problems.push(`${n}: missing _bucket/_sum/_count for ${model}`); continue; }
  let prev = -1, prevLe = -Infinity;
  for (const b of buckets) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    if (!(le > prevLe)) problems.push(`${n}: le values not increasing at ${b.labels.le}`);
    if (b.value < prev) problems.push(`${n}: buckets not cumulative at le=${b.labels.le}`);
    prev = b.value; prevLe = le;
  }
  if (buckets[buckets.length - 1].labels.le !== '+Inf') problems.push(`${n}: the last bucket is not le="+Inf"`);
  else if (buckets[buckets.length - 1].value !== count.value) problems.push(`${n}: +Inf bucket != _count`);
}
const get = (n) => samples.find((s) => s.name === n && s.labels.model === model);
if (!(get('tandem_requests_total')?.value > 0)) problems.push('no requests counted for the model');
if (!(get('tandem_request_failures_total')?.value > 0)) problems.push('no failures counted for the model');
if (!(get('tandem_model_load_seconds')?.value > 0)) problems.push('no model load time');
// some run stacked more than one request: the count above le="1" of the batch-size histogram
const b1 = samples.find((s) => s.name === 'tandem_batch_size_bucket' && s.labels.model === model && s.labels.le === '1');
const bc = get('tandem_batch_size_count');
if (!(bc && b1 && bc.value > b1.value)) problems.push('the batch-size histogram shows no batch above 1');

for (const p of problems) console.log(p);
console.log(`${samples.length} samples, ${types.size} families, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
