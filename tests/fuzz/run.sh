#!/usr/bin/env bash
# tests/fuzz/run.sh - the fuzz suite: builds the libFuzzer targets (`make fuzz`, every tests/fuzz/fuzz_*.c) and runs
# each for FUZZ_SECONDS on a seed corpus (real models and ONNX node-test models for the loaders, the seed folders here
# for the server's parsers). Fails on any crash, sanitizer report, leak or timeout, and keeps the input.
#
#   tests/fuzz/run.sh                      60 s per target
#   FUZZ_SECONDS=600 tests/fuzz/run.sh     a longer session (see tests/fuzz/README.md)
#   FUZZ_TARGETS="fuzz_load" FUZZ_CORPUS=build/fuzz-corpus tests/fuzz/run.sh   one target, corpus kept across runs
#   FUZZ_JOBS=4 tests/fuzz/run.sh          libFuzzer fork mode on 4 processes: keeps going after a crash, leak or
#                                          timeout, so one session collects every distinct finding
#
# Crashing inputs are written to build/fuzz-artifacts/<target>/ (or $FUZZ_ARTIFACTS/<target>/; paths printed);
# reproduce one with
#   build/fuzz_load build/fuzz-artifacts/fuzz_load/crash-<sha1>
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
SHARED=${TDM_SHARED:-../shared}
NODE_DIR=/usr/share/libonnx-testdata/data/node
ART_DIR=${FUZZ_ARTIFACTS:-build/fuzz-artifacts}

if ! command -v clang >/dev/null 2>&1; then
    echo "SKIP: clang is absent: the libFuzzer targets need clang (apt-get install clang)"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$probe_dir/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$probe_dir/probe" "$probe_dir/probe.c" >/dev/null 2>&1; then
    echo "SKIP: clang cannot link -fsanitize=fuzzer here (the compiler-rt libFuzzer runtime is missing)"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi

echo "building the fuzz targets (make fuzz)"
if ! make -j2 fuzz >"$probe_dir/build.log" 2>&1; then
    tail -30 "$probe_dir/build.log"
    echo "FAIL: make fuzz"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

# Seed corpus per target, in a temporary folder unless FUZZ_CORPUS names one to keep. Model files are never copied
# into the repository.
if [ -n "${FUZZ_CORPUS:-}" ]; then
    corpus_root=$FUZZ_CORPUS
    mkdir -p "$corpus_root"
else
    corpus_root="$probe_dir/corpus"
fi
seed_models() { # DIR: the real models and about 50 small node-test models, chosen evenly over the sorted list
    local dir=$1 n=0
    mkdir -p "$dir"
    for f in "$SHARED"/models/*/model.onnx; do
        [ -f "$f" ] && cp "$f" "$dir/shared_$(basename "$(dirname "$f")").onnx"
    done
    if [ -d "$NODE_DIR" ]; then
        local all=() f
        while IFS= read -r f; do all+=("$f"); done < <(find "$NODE_DIR" -mindepth 2 -maxdepth 2 -name model.onnx -size -20k | sort)
        local total=${#all[@]} step=1
        [ "$total" -gt 50 ] && step=$((total / 50))
        for ((i = 0; i < total; i += step)); do
            cp "${all[$i]}" "$dir/node_$(basename "$(dirname "${all[$i]}")").onnx"
            n=$((n + 1))
        done
    fi
}
seed_tensors() { # DIR: test-data TensorProto files of several types
    local dir=$1
    mkdir -p "$dir"
    for f in "$SHARED"/models/*/test_data_set_0/*.pb; do
        [ -f "$f" ] && cp "$f" "$dir/shared_$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")"
    done
    if [ -d "$NODE_DIR" ]; then
        local all=() f
        while IFS= read -r f; do all+=("$f"); done < <(find "$NODE_DIR" -path '*test_data_set_0/*.pb' -size -8k | sort)
        local total=${#all[@]} step=1
        [ "$total" -gt 60 ] && step=$((total / 60))
        for ((i = 0; i < total; i += step)); do
            f=${all[$i]}
            cp "$f" "$dir/node_$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")"
        done
    fi
}

passed=0; failed=0
for target in $FUZZ_TARGETS; do
    corpus="$corpus_root/$target"
    if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
        case $target in
        fuzz_tensor) seed_tensors "$corpus" ;;
        fuzz_infer_request) mkdir -p "$corpus"; cp tests/fuzz/infer_request_seeds/* "$corpus"/ ;;
        fuzz_store_doc) mkdir -p "$corpus"; cp tests/fuzz/store_doc_seeds/* "$corpus"/ ;;
        fuzz_opts) mkdir -p "$corpus"; cp tests/fuzz/opts_seeds/* "$corpus"/ ;;
        fuzz_swarm_wire) mkdir -p "$corpus"; cp tests/fuzz/swarm_wire_seeds/* "$corpus"/ ;;
        *) seed_models "$corpus" ;;
        esac
    fi
    seeds=$(ls "$corpus" | wc -l)
    mkdir -p "$ART_DIR/$target"
    log="$ART_DIR/$target/last_run.log"
    fork_opts=()
    if [ -n "${FUZZ_JOBS:-}" ]; then
        fork_opts=(-fork="$FUZZ_JOBS" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    fi
    before=$(ls "$ART_DIR/$target" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | sort)
    echo "=== $target: ${FUZZ_SECONDS} s on $seeds seed inputs${FUZZ_JOBS:+, $FUZZ_JOBS jobs} (log: $log)"
    # run a private copy: a `make clean` elsewhere during a long session must not pull the binary away
    cp "build/$target" "$probe_dir/$target"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$probe_dir/$target" -max_total_time="$FUZZ_SECONDS" -max_len=200000 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${fork_opts[@]}" -artifact_prefix="$ART_DIR/$target/" "$corpus" >"$log" 2>&1
    rc=$?
    # "#123 DONE cov: 456 ft: 789 corp: 321/1234Kb ..." (fork mode: the last "#N: cov: ..." line) and final stats
    done_line=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|cov:)' "$log" | tail -1)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "  ${done_line:-no status line}"
    [ -n "$execs" ] && echo "  executions: $execs"
    echo "  corpus now: $(ls "$corpus" | wc -l) inputs"
    artifacts=$(comm -13 <(echo "$before") <(ls "$ART_DIR/$target" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | sort) |
        sed "s|^|$ART_DIR/$target/|")
    # fork mode exits 0 after ignored findings; its status line counts them as oom/timeout/crash: a/b/c
    found=$(echo "$done_line" | sed -nE 's|.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*|\1 \2 \3|p')
    if [ -n "$found" ] && [ "$found" != "0 0 0" ]; then
        echo "  findings (oom timeout crash): $found"
        rc=${rc/#0/1}
    fi
    if [ $rc -eq 0 ] && [ -z "$artifacts" ]; then
        passed=$((passed + 1))
        echo "ok   $target"
    else
        failed=$((failed + 1))
        # the first report: its kind and the top of its stack
        grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR|Timeout|out-of-memory' "$log" |
            sed 's/^/  /'
        grep -E '^[[:space:]]+#[0-9]+ ' "$log" | head -12 | sed 's/^/  /'
        for a in $artifacts; do echo "  crashing input: $a"; done
        echo "FAIL $target (exit $rc; full log: $log)"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
