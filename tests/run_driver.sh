# run_driver.sh - sourced by the suite scripts whose test drivers each print `N passed, M failed` (tests/e2e/run.sh,
# tests/swarm/run.sh):
#   run_driver NAME LIMIT CMD...   runs CMD under `timeout LIMIT`, shows its output and keeps it in $OUT/NAME.log, and
#                                  adds its summary line to $passed and $failed (no summary line: one failure)
run_driver() {
  local name=$1 limit=$2; shift 2
  local log=$OUT/$name.log
  echo "== $name"
  timeout "$limit" "$@" 2>&1 | tee "$log"
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "FAIL: $name printed no summary (log: $log)"
    failed=$((failed + 1))
    return
  fi
  set -- $line
  passed=$((passed + $1))
  failed=$((failed + $3))
}
