# serve_lib.sh - sourced by the server suites: serve_start LOG ARGS... starts `$TANDEM serve ARGS... --port 0` in the
# background and waits for its "listening on" line; sets $pid and $port (empty when it did not start).
serve_start() {
    local log=$1; shift
    "$TANDEM" serve "$@" --port 0 >"$log" 2>&1 &
    pid=$!
    port=
    for _ in $(seq 1 600); do
        port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$')
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ]
}
