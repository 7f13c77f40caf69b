#!/usr/bin/env bash
# test_crash.sh - the results store survives SIGKILL of `tandem serve` in the middle of result ingestion: 8 clients
# POST result documents as fast as they can, the server is killed with SIGKILL at a random moment, the database is
# checked (SQLite: PRAGMA integrity_check), the server restarts on the same store, and every result that was
# acknowledged (201 with its id) must be there under that id, byte-for-byte the same document. Three kill cycles on
# one store, then a fresh POST must still work.
#   tests/server/test_crash.sh               SQLite in a temporary folder
#   tests/server/test_crash.sh URL           another store, e.g. postgresql://... (test_store.sh does this)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
T=$BUILD/tandem
DB_URL=${1:-}
CYCLES=3
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }

if [ ! -x "$T" ]; then echo "FAIL: $T is not built"; echo "0 passed, 1 failed"; exit 1; fi
command -v node >/dev/null || { echo "FAIL: node is needed for the clients"; echo "0 passed, 1 failed"; exit 1; }
model=""
for m in mnist8 cifar10_resnet20; do [ -f "$SHARED/models/$m/model.onnx" ] && { model=$m; break; }; done
if [ -z "$model" ]; then echo "SKIP: $SHARED/models is absent (tandem serve needs a model to start)"; echo "0 passed, 0 failed"; exit 0; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-crash.XXXXXX")
server_pid=""
client_pid=""
cleanup() {
    [ -n "$client_pid" ] && kill -KILL "$client_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/models/$model"
cp "$SHARED/models/$model/model.onnx" "$tmp/models/$model/"
[ -n "$DB_URL" ] || DB_URL="sqlite:$tmp/results.db"
echo "store: ${DB_URL%%\?*}"

# ---- the node side: posting clients and the verifier ----
cat >"$tmp/crash.mjs" <<'EOF'
import http from 'node:http';
import fs from 'node:fs';
const [mode, port, acks, cycle] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function req(method, path, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: Number(port), method, path, agent,
      headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.setTimeout(20000, () => r.destroy(new Error('timeout')));
    if (body) r.write(body);
    r.end();
  });
}
let seed = 1 + Number(cycle || 0) * 7919;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
if (mode === 'post') {
  /* 8 loops POST unique documents until the server is gone; each 201 is recorded (one JSON line) as it arrives */
  const fd = fs.openSync(acks, 'a');
  let n = 0, acked = 0, refused = 0;
  async function loop(k) {
    for (;;) {
      const seq = n++;
      const doc = { schema: 'tandem.result/1', source: 'server', created: new Date().toISOString(), engine: 'crash-test',
        model: { name: `m${seq % 5}` }, threads: 1 + (seq % 4), batch: 1, device: { label: `client ${k}` },
        figures: { p50_ms: rnd() * 10, p99_ms: 10 + rnd() * 10, throughput_ips: rnd() * 1e4, heap_bytes: Math.floor(rnd() * 2 ** 40) },
        extra: { cycle: Number(cycle), seq, client: k, pad: 'x'.repeat(Math.floor(rnd() * 16384)), text: 'comma, "quotes" and \u00e9' } };
      const body = JSON.stringify(doc);
      let r;
      try { r = await req('POST', '/api/results', body); } catch { refused++; return; }
      if (r.status !== 201) { console.error(`unexpected ${r.status}: ${r.body.slice(0, 200)}`); process.exitCode = 1; return; }
      const id = JSON.parse(r.body).id;
      fs.writeSync(fd, JSON.stringify({ id, body }) + '\n');
      acked++;
    }
  }
  await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(loop));
  fs.closeSync(fd);
  console.log(`client: ${acked} acknowledged, ${n - acked} sent but not acknowledged when the server died`);
} else if (mode === 'verify') {
  const want = fs.readFileSync(acks, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const r = await req('GET', '/api/results?engine=crash-test&limit=100000');
  if (r.status !== 200) { console.log(`GET /api/results answered ${r.status}: ${r.body.slice(0, 200)}`); process.exit(1); }
  const rows = JSON.parse(r.body).results;
  const byId = new Map();
  let dup = 0;
  for (const row of rows) { if (byId.has(row.id)) dup++; byId.set(row.id, row.document); }
  let missing = 0, changed = 0;
  for (const a of want) {
    const got = byId.get(a.id);
    if (!got) { if (missing++ < 3) console.log(`acknowledged id ${a.id} is missing`); continue; }
    if (JSON.stringify(got) !== JSON.stringify(JSON.parse(a.body))) { if (changed++ < 3) console.log(`id ${a.id} changed: ${JSON.stringify(got).slice(0, 200)}`); }
  }
  const acked = new Set(want.map((a) => a.id));
  const extra = rows.filter((x) => !acked.has(x.id)).length;
  console.log(`verify: ${want.length} acknowledged, ${rows.length} stored, ${missing} missing, ${changed} changed, ${dup} duplicate ids, ${extra} stored but never acknowledged (in flight at the kill)`);
  process.exit(missing || changed || dup || !want.length ? 1 : 0);
} else if (mode === 'one') {
  const body = JSON.stringify({ schema: 'tandem.result/1', engine: 'after-crash', source: 'server' });
  const r = await req('POST', '/api/results', body);
  const g = await req('GET', '/api/results?engine=after-crash&format=csv');
  console.log(`POST ${r.status} ${r.body}; GET csv ${g.status}, ${g.body.split('\r\n').filter(Boolean).length} lines`);
  process.exit(r.status === 201 && g.status === 200 && g.body.split('\r\n').filter(Boolean).length === 2 ? 0 : 1);
}
agent.destroy();
EOF

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
start_server() { # start_server LOG: starts tandem serve on a free port, waits for /v2/health/ready
    port=$(free_port)
    "$T" serve --models "$tmp/models" --host 127.0.0.1 --port "$port" --workers 1 --db "$DB_URL" >"$1" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        if node -e "require('http').get('http://127.0.0.1:$port/v2/health/ready',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))" 2>/dev/null; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "tandem serve did not come up: $(tail -n 3 "$1")"
    return 1
}

acks=$tmp/acks.jsonl
: >"$acks"
for cycle in $(seq 1 $CYCLES); do
    if ! start_server "$tmp/server$cycle.log"; then bad "cycle $cycle: start"; finish; fi
    before=$(wc -l <"$acks")
    node "$tmp/crash.mjs" post "$port" "$acks" "$cycle" >"$tmp/client$cycle.log" 2>&1 &
    client_pid=$!
    # kill once this cycle has at least 100 + 50*cycle acknowledgements, plus a random few milliseconds
    target=$((before + 100 + 50 * cycle))
    for _ in $(seq 1 600); do [ "$(wc -l <"$acks")" -ge $target ] && break; kill -0 "$client_pid" 2>/dev/null || break; sleep 0.05; done
    sleep "0.0$((RANDOM % 10))"
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null
    server_pid=""
    wait "$client_pid"; crc=$?
    client_pid=""
    got=$(($(wc -l <"$acks") - before))
    echo "cycle $cycle: SIGKILL after $got acknowledged posts this cycle; $(tail -n 1 "$tmp/client$cycle.log")"
    if [ $crc -ne 0 ] || [ $got -lt 100 ]; then bad "cycle $cycle: the client failed before the kill ($got acknowledged): $(tail -n 2 "$tmp/client$cycle.log")"; finish; fi
    if [[ $DB_URL == sqlite:* ]]; then
        if [ -x "$BUILD/test_store" ]; then
            chk=$("$BUILD/test_store" --integrity "${DB_URL#sqlite:}" 2>&1)
            if [[ $chk == "integrity ok"* ]]; then ok "cycle $cycle: database intact after SIGKILL ($chk)"; else bad "cycle $cycle: integrity: $chk"; fi
        else
            echo "note: $BUILD/test_store is not built: no PRAGMA integrity_check"
        fi
    fi
    if ! start_server "$tmp/server$cycle-restart.log"; then bad "cycle $cycle: restart on the same store"; finish; fi
    if out=$(node "$tmp/crash.mjs" verify "$port" "$acks" 2>&1); then ok "cycle $cycle: every acknowledged result intact after the restart ($out)"
    else bad "cycle $cycle: $out"; fi
    kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
done
if start_server "$tmp/server-final.log"; then
    if out=$(node "$tmp/crash.mjs" one "$port" 2>&1); then ok "the store takes and serves new results after the crashes ($out)"
    else bad "after the crashes: $out"; fi
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
else
    bad "final restart"
fi
finish
