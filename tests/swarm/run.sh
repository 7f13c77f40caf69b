#!/usr/bin/env bash
# run.sh - the swarm's tests (Kanev's proposal: inference spread over client devices; docs/SWARM.md):
#   test_swarm_store   the store's rules with a driven clock (leases, reissue, speculation, exactly once, checks,
#                      refusal and discard), on SQLite and on a real PostgreSQL (tests/server/pg_cluster.sh)
#   bad_input.mjs      malformed, truncated, oversized job bodies, unknown models, bad and missing tokens, bad worker
#                      requests, submissions for chunks not held, the rate limit: each a clear 4xx, nothing stored
#   crash.mjs          SIGKILL of the coordinator twice in the middle of a job: it resumes, completes, nothing lost or
#                      doubled (SQLite, then PostgreSQL)
#   scaleout.mjs       two `tandem serve` on one PostgreSQL behind Debian's nginx, workers through nginx only: no item
#                      processed twice
#   e2e.mjs            (optimised pass only) 4 headless Chromium worker tabs on 3,000 CIFAR images, one closed midway,
#                      one tampered: caught and redone; every top-1 equal to the native engine's
# Under the sanitizers (SAN=1) the jobs are smaller. Prints the total `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
SAN=${SAN:-0}
OUT=$BUILD/test-output/swarm
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
mkdir -p "$OUT"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-swarm.XXXXXX")
chmod 755 "$tmp"
. tests/server/pg_cluster.sh
trap 'pg_cluster_stop; rm -rf "$tmp"' EXIT
passed=0 failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

. tests/run_driver.sh

[ -x "$BUILD/tandem" ] || { fail "$BUILD/tandem is missing (run make)"; echo "$passed passed, $failed failed"; exit 1; }
[ -x "$BUILD/test_swarm_store" ] || fail "$BUILD/test_swarm_store is missing (run make)"
items=2000; [ "$SAN" = 1 ] && items=400
# The crash test kills the server at a quarter and a half of its job, seen by polling the job's status: the items
# must take long enough that a slow status answer does not arrive after the job is done. With 2000 items (kills at a
# third and two thirds) one run saw 1992 done at its first kill and 2000 at its second; with 6000, 3000-3312 and
# 4968-5760 (status answers up to 1,700 items late).
crash_items=6000; [ "$SAN" = 1 ] && crash_items=400

[ -x "$BUILD/test_swarm_store" ] && run_driver store-sqlite 120 "$BUILD/test_swarm_store" "sqlite:$tmp/store.db"
run_driver bad-input 300 node tests/swarm/bad_input.mjs --tandem "$BUILD/tandem"
run_driver crash 900 node tests/swarm/crash.mjs --tandem "$BUILD/tandem" --items "$crash_items"

pg_cluster_start "$tmp/pg"
case $? in
0)
  if pg_createdb swarm_store && pg_createdb swarm_crash && pg_createdb swarm_scale; then
    [ -x "$BUILD/test_swarm_store" ] && run_driver store-postgresql 120 "$BUILD/test_swarm_store" "$PG_BASE/swarm_store"
    run_driver crash-postgresql 900 node tests/swarm/crash.mjs --tandem "$BUILD/tandem" --db "$PG_BASE/swarm_crash" \
      --items "$crash_items"
    if [ -x /usr/sbin/nginx ]; then
      run_driver scaleout 900 node tests/swarm/scaleout.mjs --tandem "$BUILD/tandem" --db "$PG_BASE/swarm_scale" \
        --items $((items + items / 5))
    else
      fail "scale-out: /usr/sbin/nginx is missing (scripts/install-deps.sh installs Debian's nginx)"
    fi
  else
    fail "postgresql: $PG_WHY"
  fi
  ;;
2) echo "SKIP postgresql and the scale-out test: $PG_WHY" ;;
*) fail "postgresql: $PG_WHY" ;;
esac
pg_cluster_stop

if [ "$SAN" = 1 ]; then
  echo "SKIP e2e.mjs under the sanitizers (the browser runs the WebAssembly build, tested in the optimised pass)"
elif [ ! -x "$CHROMIUM" ] || [ ! -d node_modules/playwright-core ]; then
  fail "e2e: $CHROMIUM or node_modules/playwright-core is missing (scripts/install-deps.sh, scripts/npm-deps.sh)"
elif ! make -s web >"$OUT/make-web.log" 2>&1; then
  tail -20 "$OUT/make-web.log"
  fail "make web failed (log: $OUT/make-web.log)"
else
  run_driver e2e 900 node tests/swarm/e2e.mjs --tandem "$BUILD/tandem" --web build/web --shared "$SHARED" --out "$OUT" \
    --chromium "$CHROMIUM"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
