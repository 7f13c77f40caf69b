#!/usr/bin/env bash
# test_store.sh - runs the results store's test program ($BUILD/test_store) against both backends with the same
# cases: SQLite in a temporary file, and a REAL PostgreSQL server from Debian's postgresql package, started here with
# initdb + pg_ctl in a temporary folder on a free port (as the postgres user, or nobody, when run as root) and stopped
# at the end. With PostgreSQL up it also restarts the database under a live store handle, and runs test_crash.sh (the
# SIGKILL test of `tandem serve`, which run.sh runs on SQLite) against it. The PostgreSQL half is skipped, with a
# message, only when the server binaries are not installed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
TS=$BUILD/test_store
if [ ! -x "$TS" ]; then echo "FAIL: $TS is not built (make $TS)"; echo "0 passed, 1 failed"; exit 1; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-store.XXXXXX")
chmod 755 "$tmp"
. tests/server/pg_cluster.sh
cleanup() {
    pg_cluster_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
# run_suite LABEL ARGS...: run test_store, echo its lines indented, add its counts
run_suite() {
    local label=$1; shift
    echo "-- $label"
    local out; out=$("$TS" "$@" 2>&1); local rc=$?
    echo "$out" | sed 's/^/   /'
    local last; last=$(echo "$out" | tail -n 1)
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
        [ $rc -ne 0 ] && [ "${BASH_REMATCH[2]}" = 0 ] && failed=$((failed + 1))
    else
        echo "FAIL $label: test_store ended without a summary line (exit $rc)"; failed=$((failed + 1))
    fi
}

# a real `tandem bench --json` document, when the CLI and a model are at hand
bench=()
model=$SHARED/models/cifar10_resnet20/model.onnx
if [ -x "$BUILD/tandem" ] && [ -f "$model" ]; then
    if "$BUILD/tandem" bench "$model" --runs 3 --warmup 0 --json >"$tmp/bench.json" 2>"$tmp/bench.err"; then
        bench=("$tmp/bench.json")
    else
        echo "FAIL tandem bench --json: $(tail -n 2 "$tmp/bench.err")"; failed=$((failed + 1))
    fi
else
    echo "note: $BUILD/tandem or $model absent: the stored bench document is a fixture only"
fi

run_suite "sqlite" "sqlite:$tmp/results.db" "${bench[@]}"

# ---- PostgreSQL: a throw-away cluster ----
pg_cluster_start "$tmp/pg"
pg_rc=$?
if [ $pg_rc = 2 ]; then
    echo "SKIP postgresql: $PG_WHY; only SQLite was tested"
else
    if [ $pg_rc != 0 ]; then
        echo "FAIL postgresql: $PG_WHY"; failed=$((failed + 1))
    elif ! pg_createdb tandem_test; then
        echo "FAIL postgresql: $PG_WHY"; failed=$((failed + 1))
    else
        port=$PG_PORT
        echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
        url="postgresql://tandem@127.0.0.1:$port/tandem_test"
        run_suite "postgresql" "$url" "${bench[@]}"
        # the database restarts under a live handle: its pooled connections die, the store must reconnect
        echo "-- postgresql restarts"
        mkfifo "$tmp/rc.in" "$tmp/rc.out"
        "$TS" --reconnect "$url" <"$tmp/rc.in" >"$tmp/rc.out" 2>&1 &
        rpid=$!
        exec 3>"$tmp/rc.in" 4<"$tmp/rc.out"
        rout=""
        for round in 1 2; do
            while IFS= read -r -t 60 line <&4; do
                [ "$line" = ready ] && break
                rout+="$line"$'\n'
            done
            "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w -t 60 restart >/dev/null 2>&1 ||
                rout+="pg_ctl restart failed"$'\n'
            echo go >&3
        done
        while IFS= read -r -t 60 line <&4; do rout+="$line"$'\n'; done
        exec 3>&- 4<&-
        wait "$rpid" 2>/dev/null
        echo -n "$rout" | sed 's/^/   /'
        last=$(echo -n "$rout" | tail -n 1)
        if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
        else
            echo "FAIL postgresql restarts: no summary line"; failed=$((failed + 1))
        fi
        # SIGKILL of `tandem serve` mid-ingestion, with this PostgreSQL as its store
        echo "-- tests/server/test_crash.sh with PostgreSQL"
        cout=$(tests/server/test_crash.sh "$url" 2>&1)
        echo "$cout" | sed 's/^/   /'
        last=$(echo "$cout" | tail -n 1)
        if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
        else
            echo "FAIL test_crash.sh with PostgreSQL: no summary line"; failed=$((failed + 1))
        fi
    fi
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
