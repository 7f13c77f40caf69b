#!/usr/bin/env bash
# tests/study/run.sh - a reduced `tandem study` (one zoo model, 150 runs, 5 images) through all three paths (native, the wasm
# client in headless Chromium with one throttled device, the cloud path over two emulated networks), then checks
# the report's structure and that its numbers are sane: positive times, throttled clients slower, the emulated RTT
# visible in the cloud times, the browser agreeing with native, a decision for every (device, network) pair.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/test-output/study
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
summary() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }

if [ "${SAN:-0}" = 1 ]; then
  # under ASan+UBSan: the native path and the report (the browser runs the wasm build, which the sanitizers don't see)
  rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"
  if "$BUILD/tandem" study --models cifar100_resnet20 --runs 5 --images 3 --threads 1,2 --no-browser --no-cloud \
       --out "$OUT" > "$OUT.stdout" 2> "$OUT.log"; then ok "native-only study under sanitizers"
  else bad "native-only study under sanitizers (exit $?); log: $OUT.log"; tail -20 "$OUT.log"; fi
  if "$BUILD/tandem" study --report-from "$OUT/results.json" --out "$OUT/rebuilt" >> "$OUT.stdout" 2>> "$OUT.log" &&
     [ -s "$OUT/rebuilt/report.md" ]; then ok "report rebuilt from results.json under sanitizers"
  else bad "report rebuilt from results.json under sanitizers"; fi
  summary
fi
if [ ! -x /usr/bin/chromium ] || [ ! -d node_modules/playwright-core ]; then
  echo "study: skipped: needs /usr/bin/chromium and node_modules/playwright-core (make deps installs them)"
  summary
fi
make -s web >/dev/null || { bad "make web"; summary; }
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"
t0=$SECONDS
if "$BUILD/tandem" study --models cifar100_resnet20 --runs 150 --images 5 --threads 1,2 --throttle 1,4 --networks lan,3g \
     --out "$OUT" > "$OUT.stdout" 2> "$OUT.log"; then
  ok "tandem study (reduced) ran in $((SECONDS - t0)) s"
else
  bad "tandem study (reduced) failed (exit $?); log: $OUT.log"; tail -20 "$OUT.log"; summary
fi
for f in report.html report.md results.json results.csv; do
  [ -s "$OUT/$f" ] && ok "$f written" || bad "$f missing"
done
for h in "The decision" "Kanev" "Wang et al." "Guo 2018" "agree" "Memory, set-up and energy"; do
  grep -q "$h" "$OUT/report.md" && ok "report.md has the section '$h'" || bad "report.md lacks '$h'"
done
grep -q "<svg" "$OUT/report.html" && ok "report.html has charts" || bad "report.html has no chart"
if grep -o -i -E '(src|href)="https?://[^"]*' "$OUT/report.html" | grep -q .; then bad "report.html loads something remote"
else ok "report.html is self-contained"; fi

checks=$(node - "$OUT/results.json" <<'JS'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
let p = 0, f = 0;
const check = (c, what) => { if (c) { p++; console.log('ok   ' + what); } else { f++; console.log('FAIL ' + what); } };
const m = r.models?.[0] ?? {};
const pos = (x) => typeof x === 'number' && x > 0 && isFinite(x);
const med = (s) => (typeof s === 'number' ? s : s?.median);
check(r.schema === 'tandem.study/1', 'schema is tandem.study/1');
check(m.native?.bench?.length === 2 && m.native.bench.every((b) => pos(b.p50_ms) && pos(b.peak_rss_bytes)),
  'native bench at threads 1 and 2 with positive p50 and RSS');
const ph = m.native?.phases ?? {};
check(['load_ms', 'plan_ms', 'preprocess_ms', 'inference_ms', 'probability_ms'].every((k) => pos(med(ph[k]))),
  'native phase split: every phase measured');
check(typeof ph.cpu_s_per_inference === 'number' && (ph.energy_j_per_inference > 0 || /not available/.test(ph.energy)),
  'CPU-seconds per inference, and energy or an explicit "not available"');
const c1 = (m.client ?? []).filter((c) => c.throttle === 1), c4 = (m.client ?? []).filter((c) => c.throttle === 4);
check(c1.length === 2 && c4.length === 1, "client results at threads 1 and 2 unthrottled, and the 4x throttled device");
const fields = ['setup_ms', 'fetch_ms', 'compile_ms', 'load_ms', 'first_run_ms', 'p50_ms', 'p90_ms', 'p99_ms', 'throughput_ips', 'heap_bytes'];
check((m.client ?? []).every((c) => fields.every((k) => pos(c[k]))), 'every client field present and positive');
const byT = (arr, t) => arr.find((c) => c.threads === t);
// Chromium throttles by pausing the main thread in slices, so a single short run may fall between pauses; the mean over
// all timed runs is what throttling must slow down, and they must span a few hundred ms: 150 runs of ResNet-20 at
// ~2 ms. How much slower Chromium makes the thread varies with the machine's load: 4x asked gave 1.4x to 3.8x (the
// low end with a second test run on the same 2 cores), so the throttled page benchmarks the engine unthrottled first,
// in the same mode, and the study reports the ratio as throttle_effective. It must show throttling (above 1.25x) and be
// computed from the row's own figures.
const mean = (c) => c?.mean_ms;
const t4 = byT(c4, 1), eff = t4?.throttle_effective;
check(t4 && eff > 1.25 && Math.abs(eff - t4.mean_ms / t4.unthrottled_mean_ms) < 1e-9,
  `4x throttled client slower than the same page unthrottled: mean run ${mean(t4)?.toFixed(2)} vs ` +
  `${t4?.unthrottled_mean_ms?.toFixed(2)} ms (${eff?.toFixed(2)}x; the unthrottled worker ${mean(byT(c1, 1))?.toFixed(2)} ms)`);
check(c1.some((c) => c.build === 'simd-mt'), 'the threaded build was chosen on the cross-origin-isolated page');
const lan = (m.cloud ?? []).find((c) => c.network === 'lan'), g3 = (m.cloud ?? []).find((c) => c.network === '3g');
check(lan && g3 && lan.errors === 0 && g3.errors === 0, 'cloud requests over lan and 3g without errors');
check(lan && g3 && med(g3.total_ms) > med(lan.total_ms) + 250, `3g's 300 ms RTT shows in the cloud time (${med(g3?.total_ms)?.toFixed(1)} vs ${med(lan?.total_ms)?.toFixed(1)} ms)`);
check(lan && pos(med(lan.server_ms)) && med(lan.server_ms) < med(lan.total_ms), 'Server-Timing split: server part positive and below the total');
const nat = ph.top1 ?? [], br = c1[0]?.top1 ?? [], cl = lan?.top1 ?? [];
const agree = (a) => a.filter((v, i) => v === nat[i]).length;
check(nat.length > 0 && agree(br) === nat.length, `browser top-1 equals native on ${agree(br)}/${nat.length} images`);
check(nat.length > 0 && agree(cl) === nat.length, `cloud top-1 equals native on ${agree(cl)}/${nat.length} images`);
const d = r.decisions ?? [];
check(d.length === 4 && d.every((x) => ['on-device', 'cloud'].includes(x.winner) && pos(x.on_device_ms) && pos(x.cloud_ms)),
  'a decision for each of 2 devices x 2 networks');
console.log(`RESULT ${p} ${f}`);
JS
)
echo "$checks" | grep -v '^RESULT'
read -r _ p f <<< "$(echo "$checks" | grep '^RESULT' || echo 'RESULT 0 1')"
passed=$((passed + p)); failed=$((failed + f))
summary
