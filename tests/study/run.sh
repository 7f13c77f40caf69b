#!/usr/bin/env bash
# tests/study/run.sh - a reduced `tandem study` over three zoo models - a CIFAR ResNet-20 (32x32), MobileNetV3-Small (a
# 224-pixel ImageNet CNN) and BERT-tiny (three int64 token inputs) - with 150 runs and 5 samples, through all three
# paths (native, the wasm client in headless Chromium with one throttled device, the cloud path over two emulated
# networks) and against a second `tandem serve` given as --cloud URL; then checks the report's structure and that
# its numbers are sane: positive times, throttled clients slower, the emulated RTT visible in the cloud times, the
# browser and both clouds agreeing with native on every model, a decision for every (model, device, network). A
# native-only run first checks that a model the engine cannot run and an unreachable --cloud are reported while the
# rest of the study goes on.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/test-output/study
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
summary() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }

# A model the engine cannot run, and an endpoint nobody answers: both reported, the rest measured (native only).
bad_inputs() {
  local o=$OUT-bad
  rm -rf "$o"; mkdir -p "$o"
  head -c 300 /dev/zero | tr '\0' 'x' > "$o/broken.onnx"
  if "$BUILD/tandem" study --models cifar100_resnet20,"$o/broken.onnx" --runs 3 --images 2 --threads 1 --no-browser \
       --no-cloud --no-ort --cloud http://127.0.0.1:9 --out "$o/out" > "$o.stdout" 2> "$o.log"; then
    ok "a study with an unrunnable model and an unreachable --cloud still finishes"
  else bad "a study with an unrunnable model and an unreachable --cloud failed (exit $?); log: $o.log"; fi
  grep -q '^| broken | load: ' "$o/out/report.md" && ok "the unrunnable model is reported with the engine's message" ||
    bad "the unrunnable model is not reported with the engine's message"
  grep -q 'cifar100_resnet20 | server CPU' "$o/out/report.md" && ok "the runnable model was still measured" ||
    bad "the runnable model was not measured"
  grep -q 'Endpoint http://127.0.0.1:9: cannot reach' "$o/out/report.md" && ok "the unreachable endpoint is a clear error in the report" ||
    bad "the unreachable endpoint is not reported"
  [ ! -e "$o/out/repo/broken" ] && [ -e "$o/out/unrunnable/broken/model.onnx" ] && ok "the unrunnable model left the server's repository" ||
    bad "the unrunnable model is still in the server's repository"
  # --inputs: the user's TensorProto files in the ONNX test layout (MNIST's three test_data_set_K from the shared data)
  local mn=${TDM_SHARED:-../shared}/models/mnist8
  if [ ! -f "$mn/test_data_set_2/input_0.pb" ]; then echo "study: --inputs check skipped: no $mn (shared data)"; return; fi
  if "$BUILD/tandem" study --models "$mn" --inputs "$mn" --runs 3 --images 3 --threads 1 --no-browser --no-cloud --no-ort \
       --out "$o/inputs" > /dev/null 2>> "$o.log"; then ok "a study on the user's own tensors (--inputs) ran"
  else bad "a study on the user's own tensors (--inputs) failed; log: $o.log"; return; fi
  local want got
  want=$(for k in 0 1 2; do "$BUILD/tandem" run "$mn/model.onnx" --input "$mn/test_data_set_$k/input_0.pb" |
           node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).outputs[0].top[0][0].index+" "))'; done)
  got=$(node -e 'const m=require(process.argv[1]).models[0];process.stdout.write(m.native.phases.top1.join(" ")+" "+m.io.tensor_source)' \
          "$PWD/$o/inputs/results.json")
  [[ "$got" == "$want"*"3 sample(s) from"* ]] && ok "--inputs: the study's top-1 is tandem run's on each test_data_set ($want)" ||
    bad "--inputs: top-1 '$got', tandem run gives '$want'"
}

# --baseline ort on one CIFAR model, --quick, one thread, LAN only (about 25 s): onnxruntime-web and onnxruntime-node
# as extra rows of the decision and phase tables; then the same results with both engines' runs replaced by an error
# message, rebuilt with --report-from: each table says onnxruntime could not run the model, with the message.
baseline_ort() {
  local o=$OUT-ort msg
  rm -rf "$o"
  msg=$("$BUILD/tandem" study --baseline tf --no-browser 2>&1 >/dev/null)
  [ $? -eq 2 ] && [[ "$msg" == *"unknown --baseline 'tf' (ort"* ]] && ok "--baseline tf: a usage error naming ort" ||
    bad "--baseline tf: '$msg'"
  msg=$("$BUILD/tandem" study --baseline ort --no-ort 2>&1 >/dev/null)
  [ $? -eq 2 ] && [[ "$msg" == *"drop --no-ort"* ]] && ok "--baseline ort with --no-ort: a usage error" ||
    bad "--baseline ort --no-ort: '$msg'"
  if ! "$BUILD/tandem" study --models cifar100_resnet20 --quick --threads 1 --throttle 1 --networks lan --baseline ort \
       --out "$o" > "$o.stdout" 2> "$o.log"; then
    bad "tandem study --baseline ort failed (exit $?); log: $o.log"; return
  fi
  ok "tandem study --baseline ort (one CIFAR model, --quick) ran"
  local dev="cifar100_resnet20 | this machine's browser, onnxruntime-web | lan |"
  grep -q "^| $dev [0-9.e+]* ms | [0-9.e+]* ms (onnxruntime-node server: [-+][0-9.e]* ms) |" "$o/report.md" &&
    ok "--baseline ort: the decision table has onnxruntime-web against an onnxruntime-node cloud" ||
    bad "--baseline ort: no onnxruntime row in the decision table"
  grep -q "^| cifar100_resnet20 | native onnxruntime-node, on-device (t1) | 0 (local file) | [0-9.e+]* ms | - | [0-9.e+]* ms p50 |" "$o/report.md" &&
    grep -q "^| cifar100_resnet20 | browser onnxruntime-web, on-device (t1) | [0-9.e+]* ms | [0-9.e+]* ms | [0-9.e+]* ms \[" "$o/report.md" &&
    ok "--baseline ort: the phase table has onnxruntime-node and onnxruntime-web rows" ||
    bad "--baseline ort: the phase table lacks the onnxruntime rows"
  node -e '
    const r = require(process.argv[1]), m = r.models[0], w = m.ort_web?.[0] ?? {}, n = m.native?.ort_node?.[0] ?? {};
    const d = r.decisions.filter((x) => x.engines === "onnxruntime");
    const pos = (x) => x > 0 && isFinite(x);
    const same = (a) => a?.length === m.native.phases.top1.length && a.every((v, i) => v === m.native.phases.top1[i]);
    process.exit(r.baseline === "ort" && w.build === "ort-web" && pos(w.p50_ms) && pos(w.compile_ms) && pos(n.p50_ms) &&
      same(w.top1) && d.length === 1 && pos(d[0].on_device_ms) && pos(d[0].cloud_ms) ? 0 : 1);' "$PWD/$o/results.json" &&
    ok "--baseline ort: onnxruntime-web measured (positive times, top-1 equal to native) and decided on" ||
    bad "--baseline ort: results.json lacks onnxruntime-web's figures or its decision"
  node -e '
    const fs = require("fs"), r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")), m = r.models[0];
    delete m.ort_web; m.ort_web_error = "Load model failed: an op | it lacks";
    delete m.native.ort_node; m.native.ort_node_error = "bench/ort_bench.mjs failed (exit 1)";
    fs.writeFileSync(process.argv[2], JSON.stringify(r));' "$o/results.json" "$o.failed.json"
  if "$BUILD/tandem" study --report-from "$o.failed.json" --out "$o/failed" >> "$o.stdout" 2>> "$o.log" &&
     grep -q "^| cifar100_resnet20 | this machine's browser, onnxruntime-web | - | onnxruntime-web could not run it: Load model failed: an op / it lacks |" "$o/failed/report.md" &&
     grep -q "^| cifar100_resnet20 | native onnxruntime-node | onnxruntime-node could not run it: bench/ort_bench.mjs failed (exit 1) |" "$o/failed/report.md" &&
     grep -q "^| cifar100_resnet20 | browser onnxruntime-web | onnxruntime-web could not run it: Load model failed" "$o/failed/report.md"; then
    ok "--baseline ort: a model onnxruntime cannot run gets rows saying so, with the message"
  else bad "--baseline ort: no row saying onnxruntime could not run the model ($o/failed/report.md)"; fi
}

if [ "${SAN:-0}" = 1 ]; then
  # under ASan+UBSan: the native path and the report (the browser runs the wasm build, which the sanitizers don't see)
  rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"
  bad_inputs
  if "$BUILD/tandem" study --models cifar100_resnet20,bert_tiny --runs 5 --images 3 --threads 1,2 --no-browser --no-cloud \
       --no-ort --out "$OUT" > "$OUT.stdout" 2> "$OUT.log"; then ok "native-only study under sanitizers"
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
bad_inputs
make -s web >/dev/null || { bad "make web"; summary; }
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"
MODELS=cifar100_resnet20,imagenet_mobilenet_v3_small,bert_tiny
# the "other machine's" cloud: a second tandem serve over the same zoo models (same seeds, so the same weights)
CLOUD_REPO=$OUT-cloud
rm -rf "$CLOUD_REPO"
for m in ${MODELS//,/ }; do
  mkdir -p "$CLOUD_REPO/repo/$m"
  "$BUILD/tandem" zoo "$m" -o "$CLOUD_REPO/repo/$m/model.onnx" > /dev/null 2>&1 || bad "tandem zoo $m"
done
CPORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$BUILD/tandem" serve --models "$CLOUD_REPO/repo" --port "$CPORT" --host 127.0.0.1 --threads 1 --db "$CLOUD_REPO/store.db" \
  > "$CLOUD_REPO.log" 2>&1 &
CPID=$!
trap 'kill $CPID 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$CPORT/v2/health/ready" > /dev/null && break; sleep 0.2; done
t0=$SECONDS
if "$BUILD/tandem" study --models $MODELS --runs 150 --images 5 --threads 1,2 --throttle 1,4 --networks lan,3g \
     --cloud "http://127.0.0.1:$CPORT" --out "$OUT" > "$OUT.stdout" 2> "$OUT.log"; then
  ok "tandem study (reduced, 3 models, --cloud) ran in $((SECONDS - t0)) s"
else
  bad "tandem study (reduced) failed (exit $?); log: $OUT.log"; tail -20 "$OUT.log"; summary
fi
kill $CPID 2>/dev/null; wait $CPID 2>/dev/null
grep -q "Endpoint http://127.0.0.1:$CPORT; GET /v2 says: name tandem" "$OUT/report.md" &&
  ok "the report names the --cloud endpoint and what GET /v2 says" || bad "the report does not name the --cloud endpoint"
for f in report.html report.md results.json results.csv; do
  [ -s "$OUT/$f" ] && ok "$f written" || bad "$f missing"
done
for h in "The decision" "Kanev" "Wang et al." "Guo 2018" "agree" "Memory, set-up and energy" \
         "The models and what they were fed" "Your cloud" "358.1 ms ort-wasm"; do
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
// ~2 ms. How much slower Chromium makes the thread varies with the machine's load: 4x asked gave 1.2x to 3.8x (1.21x
// failed CI once; 1.3x here with a busy loop on the other core), so the throttled page benchmarks the engine
// unthrottled first, in the same mode, and calibrates the rate it asks for until the ratio (throttle_effective) is
// within 15 % of 4x or 3 measurements were made. It must show throttling (above 1.25x) and be computed from the row's
// own figures.
const mean = (c) => c?.mean_ms;
const t4 = byT(c4, 1), eff = t4?.throttle_effective;
check(t4 && eff > 1.25 && Math.abs(eff - t4.mean_ms / t4.unthrottled_mean_ms) < 1e-9,
  `4x throttled client slower than the same page unthrottled: mean run ${mean(t4)?.toFixed(2)} vs ` +
  `${t4?.unthrottled_mean_ms?.toFixed(2)} ms (${eff?.toFixed(2)}x; the unthrottled worker ${mean(byT(c1, 1))?.toFixed(2)} ms)`);
// calibration (scripts/study-browser.mjs): a first measurement that missed 4x by more than 15 % asked again for more
check(t4 && t4.throttle_attempts >= 1 && t4.throttle_attempts <= 3 && t4.throttle_asked >= 1 &&
  (t4.throttle_attempts === 1 ? t4.throttle_asked === 4 && Math.abs(Math.log(eff / 4)) <= Math.log(1.15) + 1e-9 : true),
  `throttle calibration recorded: ${t4?.throttle_attempts} measurement(s), ${t4?.throttle_asked?.toFixed(1)}x asked for 4x`);
check(c1.some((c) => /^(simd|relaxed)-mt$/.test(c.build)), 'the threaded build was chosen on the cross-origin-isolated page');
const lan = (m.cloud ?? []).find((c) => c.network === 'lan'), g3 = (m.cloud ?? []).find((c) => c.network === '3g');
check(lan && g3 && lan.errors === 0 && g3.errors === 0, 'cloud requests over lan and 3g without errors');
check(lan && g3 && med(g3.total_ms) > med(lan.total_ms) + 250, `3g's 300 ms RTT shows in the cloud time (${med(g3?.total_ms)?.toFixed(1)} vs ${med(lan?.total_ms)?.toFixed(1)} ms)`);
check(lan && pos(med(lan.server_ms)) && med(lan.server_ms) < med(lan.total_ms), 'Server-Timing split: server part positive and below the total');
const nat = ph.top1 ?? [], br = c1[0]?.top1 ?? [], cl = lan?.top1 ?? [];
const agree = (a) => a.filter((v, i) => v === nat[i]).length;
check(nat.length > 0 && agree(br) === nat.length, `browser top-1 equals native on ${agree(br)}/${nat.length} images`);
check(nat.length > 0 && agree(cl) === nat.length, `cloud top-1 equals native on ${agree(cl)}/${nat.length} images`);
const d = r.decisions ?? [];
const names = ['cifar100_resnet20', 'imagenet_mobilenet_v3_small', 'bert_tiny'];
check(d.length === 18 && d.every((x) => ['on-device', 'cloud'].includes(x.winner) && pos(x.on_device_ms) && pos(x.cloud_ms)) &&
  names.every((n) => d.filter((x) => x.model === n).length === 6),
  `a decision for each of 3 models x 2 devices x (2 emulated networks + the --cloud endpoint): ${d.length}`);
const byName = Object.fromEntries((r.models ?? []).map((x) => [x.name, x]));
const sq = byName.imagenet_mobilenet_v3_small ?? {}, bt = byName.bert_tiny ?? {};
check(sq.io?.kind === 'image' && sq.io.h === 224 && sq.io.w === 224 && sq.io.layout === 'NCHW' && sq.io.cloud_path === 'classify' &&
  /ImageNet defaults/.test(sq.io.norm_source), 'MobileNetV3-Small fed 224x224 NCHW images, ImageNet mean/std said, /classify');
const ids = bt.io?.inputs?.find((i) => i.name === 'input_ids');
check(bt.io?.kind === 'tensor' && bt.io.inputs.length === 3 && ids?.dtype === 'int64' && ids.index_limit === 30522 &&
  bt.io.cloud_path === 'infer', 'BERT-tiny fed three int64 tensors (ids below the 30522-row table) and sent to /infer');
for (const n of names) {
  const x = byName[n] ?? {}, nt = x.native?.phases?.top1 ?? [];
  const same = (a) => nt.length > 0 && (a ?? []).length === nt.length && a.every((v, i) => v === nt[i]);
  const cl = (x.cloud ?? []).find((c) => c.network === 'lan');
  check(pos(x.native?.bench?.[0]?.p50_ms) && (x.client ?? []).length === 3 && (x.cloud ?? []).every((c) => c.errors === 0),
    `${n}: native, 3 client rows and cloud rows without errors`);
  check(same((x.client ?? []).find((c) => c.throttle === 1)?.top1) && same(cl?.top1) && same(x.remote_cloud?.top1),
    `${n}: browser, local cloud and --cloud top-1 equal native's (${nt.length} samples)`);
  check(x.remote_cloud?.errors === 0 && pos(med(x.remote_cloud?.total_ms)) && pos(med(x.remote_cloud?.server_ms)) &&
    med(x.remote_cloud.server_ms) < med(x.remote_cloud.total_ms), `${n}: --cloud requests timed, with the Server-Timing part below the total`);
  check(x.native?.ort_node_error || (x.native?.ort_node ?? []).every((o) => pos(o.p50_ms)),
    `${n}: onnxruntime-node measured natively (or the reason it was not)`);
}
console.log(`RESULT ${p} ${f}`);
JS
)
echo "$checks" | grep -v '^RESULT'
read -r _ p f <<< "$(echo "$checks" | grep '^RESULT' || echo 'RESULT 0 1')"
passed=$((passed + p)); failed=$((failed + f))
baseline_ort
summary
