#!/usr/bin/env bash
# test_transformer.sh - `tandem serve` with a text model (issue 13): writes the zoo's bert_tiny into a repository,
# serves it on a free port and runs tests/server/tfm_client.mjs against it (KServe v2 JSON and binary requests with
# INT64 and INT32 token ids, outputs against onnxruntime-node, new ids every request, ids outside the embedding table
# as a 400 naming the input). Run by tests/server/run.sh like every test_*.sh; prints `N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
TANDEM=$BUILD/tandem
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && { kill -TERM "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
if [ ! -x "$TANDEM" ] || ! command -v node >/dev/null; then
    echo "FAIL: $TANDEM and node are needed"; echo "0 passed, 1 failed"; exit 1
fi
mkdir -p "$tmp/repo/bert_tiny"
if ! "$TANDEM" zoo bert_tiny -o "$tmp/repo/bert_tiny/model.onnx" --seed 3 >/dev/null 2>"$tmp/err"; then
    echo "FAIL: tandem zoo bert_tiny: $(cat "$tmp/err")"; echo "0 passed, 1 failed"; exit 1
fi
. tests/server/serve_lib.sh
if ! serve_start "$tmp/log" --models "$tmp/repo" --host 127.0.0.1 --workers 1 --threads 1; then
    cat "$tmp/log"; echo "FAIL: the server did not start"; echo "0 passed, 1 failed"; exit 1
fi
node tests/server/tfm_client.mjs "$port" bert_tiny "$tmp/repo/bert_tiny/model.onnx"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then echo "FAIL: the server died"; tail -5 "$tmp/log"; echo "0 passed, 1 failed"; exit 1; fi
exit $rc
