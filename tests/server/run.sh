#!/usr/bin/env bash
# run.sh - tests of `tandem serve`: starts the server on free ports with a model repository made from
# ../shared/models and checks every endpoint: KServe v2 metadata and health, the specification's own example request,
# JSON and binary-extension inference against the golden outputs, dynamic batching under concurrent clients (batched
# answers equal lone ones), /classify, Server-Timing, /metrics in the Prometheus format, the static page and its
# headers, /api/models, model download, the results API, every kind of bad input (4xx, never a crash), the limits
# (body, header, tensor size, connections), and SIGTERM draining a request in flight. Then it runs every
# tests/server/test_*.sh (the results store's own suites). Works on build/ and on the ASan+UBSan build-san/.
#   BUILD=build-san tests/server/run.sh
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${TDM_SHARED:-../shared}
TANDEM=$BUILD/tandem
CLIENT=$BUILD/srv_client
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect NAME COMMAND...: the command's success is the check
expect() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

run_sub_suites() { # the store's suites (and any later test_*.sh): each prints its own summary and exits nonzero on failure
    for t in tests/server/test_*.sh; do
        [ -x "$t" ] || continue
        echo "--- $t"
        if "$t"; then ok "suite $t"; else bad "suite $t"; fi
    done
}

for f in "$TANDEM" "$CLIENT" "$BUILD/test_protocol"; do
    if [ ! -x "$f" ]; then echo "FAIL: $f is missing (run make first)"; echo "0 passed, 1 failed"; exit 1; fi
done
# the request parser on its own (numbers against strtod, FP16, binary sections, the response writer)
expect "request parser unit tests ($BUILD/test_protocol)" "$BUILD/test_protocol"
if ! command -v curl >/dev/null || ! command -v node >/dev/null; then
    echo "FAIL: curl and node are needed (scripts/install-deps.sh installs them)"; echo "0 passed, 1 failed"; exit 1
fi
M20=$SHARED/models/cifar10_resnet20
if [ ! -f "$M20/model.onnx" ] || [ ! -f "$SHARED/models/mnist8/model.onnx" ]; then
    echo "SKIP: $SHARED/models (cifar10_resnet20, mnist8) is absent: the server tests that need models are skipped"
    run_sub_suites
    echo "$passed passed, $failed failed"
    [ $failed -eq 0 ]; exit
fi

# ---- the repository: symlinks to the shared models, plus configs ----------------------------------------------------
repo=$tmp/repo
mkdir -p "$repo/cifar10_resnet20" "$repo/cifar10_resnet20_slow" "$repo/mnist8" "$tmp/web/sub"
ln -s "$(realpath "$M20/model.onnx")" "$repo/cifar10_resnet20/model.onnx"
ln -s "$(realpath "$M20/model.onnx")" "$repo/cifar10_resnet20_slow/model.onnx"
ln -s "$(realpath "$SHARED/models/mnist8/model.onnx")" "$repo/mnist8/model.onnx"
printf 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n' >"$repo/cifar10_resnet20/labels.txt"
cat >"$repo/cifar10_resnet20/config.json" <<'EOF'
{"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "size": [32, 32], "labels_file": "labels.txt",
 "max_batch": 8, "max_delay_us": 0}
EOF
# one request waits 1.5 s for a batch that never fills: the request in flight of the SIGTERM test
echo '{"max_batch": 8, "max_delay_us": 1500000}' >"$repo/cifar10_resnet20_slow/config.json"
have_example=0
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
    mkdir -p "$repo/kserve_example"
    /usr/bin/python3 tests/server/make_kserve_example.py "$repo/kserve_example" && have_example=1
fi
[ $have_example = 1 ] || echo "note: python3-onnx is absent: the KServe specification example is skipped"
mkdir -p "$tmp/samples"
{ printf '\x89PNG\r\n\x1a\n'; printf 'sample bytes'; } >"$tmp/samples/dog_5.png"
cp "$tmp/samples/dog_5.png" "$tmp/samples/.hidden.png"
printf 'not an image\n' >"$tmp/samples/notes.txt"
printf '<!doctype html><title>t</title>\n' >"$tmp/web/index.html"
printf 'export const x = 1;\n' >"$tmp/web/app.mjs"
printf '\0asm\1\0\0\0' >"$tmp/web/sub/t.wasm"
printf 'index of sub\n' >"$tmp/web/sub/index.html"

# ---- start-up errors: a clear message and a nonzero exit, never a half-configured server ---------------------------
serve_fails() { # serve_fails NAME WANT_EXIT GREP ARGS...
    local name=$1 want=$2 pat=$3; shift 3
    timeout 20 "$TANDEM" serve --host 127.0.0.1 --port 0 --db "sqlite:$tmp/never.db" "$@" >"$tmp/fail.log" 2>&1
    local rc=$?
    if [ $rc = "$want" ] && grep -q "$pat" "$tmp/fail.log"; then ok "$name (exit $rc: $(head -c 120 "$tmp/fail.log" | tr '\n' ' '))"
    else bad "$name: exit $rc, want $want with '$pat': $(head -c 300 "$tmp/fail.log")"; fi
}
serve_fails "serve without --models" 2 "models DIR is required"
serve_fails "serve with an unknown option" 2 "unknown option" --models "$repo" --bogus 1
serve_fails "serve --threads 0" 2 "threads" --models "$repo" --threads 0
serve_fails "a missing repository" 1 "cannot open the model repository" --models "$tmp/nope"
mkdir -p "$tmp/badrepo/broken" "$tmp/badcfg/m" "$tmp/empty"
head -c 4000 /dev/urandom >"$tmp/badrepo/broken/model.onnx"
serve_fails "a repository with a corrupt model.onnx" 1 "cannot load" --models "$tmp/badrepo"
ln -s "$(realpath "$M20/model.onnx")" "$tmp/badcfg/m/model.onnx"
echo '{"mean": [0.5, 0.5], "std": [1]}' >"$tmp/badcfg/m/config.json"
serve_fails "a config.json with mismatched mean/std" 1 "mean" --models "$tmp/badcfg"
echo '{"max_batch": 0}' >"$tmp/badcfg/m/config.json"
serve_fails "a config.json with max_batch 0" 1 "max_batch" --models "$tmp/badcfg"
echo '{"labels_file": "missing.txt"}' >"$tmp/badcfg/m/config.json"
serve_fails "a config.json naming a missing labels_file" 1 "labels_file" --models "$tmp/badcfg"
echo '{not json' >"$tmp/badcfg/m/config.json"
serve_fails "a config.json that is not JSON" 1 "not a JSON object" --models "$tmp/badcfg"
serve_fails "an empty repository" 1 "no models" --models "$tmp/empty"

# start_server LOG ARGS...: starts tandem serve on a free port; sets $pid and $port
. tests/server/serve_lib.sh
start_server() {
    local log=$1; shift
    serve_start "$log" --models "$repo" --host 127.0.0.1 --web "$tmp/web" "$@"
    local rc=$?
    pids+=("$pid")
    return $rc
}

if ! start_server "$tmp/a.log" --db "sqlite:$tmp/results.db" --samples "$tmp/samples"; then
    cat "$tmp/a.log"; echo "FAIL: the server did not start"; echo "0 passed, 1 failed"; exit 1
fi
U=http://127.0.0.1:$port
echo "server A on port $port (pid $pid)"
timeout 20 "$TANDEM" serve --models "$repo" --host 127.0.0.1 --port "$port" --db "sqlite:$tmp/never.db" >"$tmp/fail.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "cannot listen" "$tmp/fail.log"; then ok "a port in use (exit 1: $(tail -1 "$tmp/fail.log"))"
else bad "a port in use: exit $rc: $(tail -2 "$tmp/fail.log")"; fi

# http METHOD PATH [curl args...]: body to $tmp/body, headers to $tmp/hdr, prints the status code
http() {
    local m=$1 p=$2; shift 2
    curl -s --path-as-is -X "$m" -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' "$@" "$U$p"
}
# jcheck JS-EXPR: evaluates EXPR with d = the JSON in $tmp/body
jcheck() { node -e "const d = JSON.parse(require('fs').readFileSync('$tmp/body', 'utf8')); process.exit(($1) ? 0 : 1)" 2>/dev/null; }
hdr_has() { grep -qi "^$1" "$tmp/hdr"; }
# status_is NAME WANT METHOD PATH [curl args]: the status, and for errors a {"error": "..."} body
status_is() {
    local name=$1 want=$2; shift 2
    local got; got=$(http "$@")
    if [ "$got" = "$want" ]; then
        if [ "${want:0:1}" != 2 ] && ! jcheck 'typeof d.error === "string" && d.error.length > 0'; then
            bad "$name: status $got but the body is not {\"error\": ...}: $(head -c 200 "$tmp/body")"
        else ok "$name ($got$( [ "${want:0:1}" != 2 ] && echo ": $(head -c 150 "$tmp/body")"))"; fi
    else bad "$name: status $got, want $want: $(head -c 300 "$tmp/body")"; fi
}

# ---- server metadata and health -----------------------------------------------------------------------------------------
status_is "GET /v2" 200 GET /v2
expect "GET /v2 names the server and the binary extension" jcheck 'd.name === "tandem" && d.version && d.extensions.includes("binary_tensor_data")'
status_is "GET /v2/health/live" 200 GET /v2/health/live
status_is "GET /v2/health/ready" 200 GET /v2/health/ready
status_is "GET model metadata" 200 GET /v2/models/cifar10_resnet20
expect "model metadata: inputs, outputs, versions" jcheck 'd.name === "cifar10_resnet20" && d.platform === "onnx" && d.versions[0] === "1" && d.inputs[0].name === "input" && d.inputs[0].datatype === "FP32" && JSON.stringify(d.inputs[0].shape) === "[-1,3,32,32]" && d.outputs[0].datatype === "FP32"'
status_is "GET model metadata, version 1" 200 GET /v2/models/cifar10_resnet20/versions/1
status_is "GET model metadata, unknown version" 404 GET /v2/models/cifar10_resnet20/versions/7
status_is "GET model ready" 200 GET /v2/models/cifar10_resnet20/ready
status_is "GET model ready, version 1" 200 GET /v2/models/cifar10_resnet20/versions/1/ready
status_is "unknown model metadata" 404 GET /v2/models/no_such_model
status_is "unknown model ready" 404 GET /v2/models/no_such_model/ready
status_is "unknown model infer" 404 POST /v2/models/no_such_model/infer -d '{}'

# ---- the KServe v2 specification's example request -------------------------------------------------------------------
if [ $have_example = 1 ]; then
    # verbatim from the Open Inference Protocol's "Inference Request Examples" (kserve/open-inference-protocol,
    # required_api.md): note its input1 has shape [3] but one data element, which the specification itself gets wrong,
    # so a server that checks shapes must refuse it with a 400 that says so
    cat >"$tmp/kserve_example.json" <<'EOF'
{
  "id" : "42",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "data" : [ 1, 2, 3, 4 ]
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "data" : [ true ]
    }
  ],
  "outputs" : [
    {
      "name" : "output0"
    }
  ]
}
EOF
    status_is "KServe spec example, verbatim (its input1 has 1 element for shape [3])" 400 POST /v2/models/kserve_example/infer \
        -H 'Content-Type: application/json' --data-binary @"$tmp/kserve_example.json"
    expect "the 400 names input1 and the element counts" grep -q "input1.*3 elements, data has 1" "$tmp/body"
    sed 's/"data" : \[ true \]/"data" : [ true, false, true ]/' "$tmp/kserve_example.json" >"$tmp/kserve_fixed.json"
    status_is "KServe spec example with input1 completed" 200 POST /v2/models/kserve_example/infer \
        -H 'Content-Type: application/json' --data-binary @"$tmp/kserve_fixed.json"
    expect "its response: id 42, only output0, FP32 [2,2] = [1,2,3,4]" jcheck 'd.id === "42" && d.model_name === "kserve_example" && d.outputs.length === 1 && d.outputs[0].name === "output0" && d.outputs[0].datatype === "FP32" && JSON.stringify(d.outputs[0].shape) === "[2,2]" && JSON.stringify(d.outputs[0].data) === "[1,2,3,4]"'
    # the same as a binary-extension request: input0 as 16 raw bytes, input1 in JSON, output1 (INT32) returned binary
    h='{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":16}},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,false,true]}],"outputs":[{"name":"output0"},{"name":"output1","parameters":{"binary_data":true}}]}'
    { printf '%s' "$h"; printf '\x05\x00\x00\x00\x06\x00\x00\x00\x07\x00\x00\x00\x08\x00\x00\x00'; } >"$tmp/kbin"
    code=$(http POST /v2/models/kserve_example/infer -H "Inference-Header-Content-Length: ${#h}" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$tmp/kbin")
    jl=$(grep -i '^Inference-Header-Content-Length:' "$tmp/hdr" | tr -dc 0-9)
    if [ "$code" = 200 ] && [ -n "$jl" ]; then
        head -c "$jl" "$tmp/body" >"$tmp/kjson"
        tail -c +$((jl + 1)) "$tmp/body" | od -An -tx1 | tr -d ' \n' >"$tmp/kraw"
        if node -e "const d=JSON.parse(require('fs').readFileSync('$tmp/kjson','utf8'));process.exit(JSON.stringify(d.outputs[0].data)==='[5,6,7,8]'&&d.outputs[1].datatype==='INT32'&&d.outputs[1].parameters.binary_data_size===12&&!('data' in d.outputs[1])?0:1)" &&
            [ "$(cat "$tmp/kraw")" = "010000000000000001000000" ]; then
            ok "binary extension on mixed types: UINT32 in, INT32 out binary ($(cat "$tmp/kraw"))"
        else bad "binary extension on mixed types: $(cat "$tmp/kjson") raw $(cat "$tmp/kraw")"; fi
    else bad "binary extension on mixed types: status $code, header length '$jl'"; fi
    status_is "UINT32 out of range (-1)" 400 POST /v2/models/kserve_example/infer \
        -d '{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,-1]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,false,true]}]}'
    status_is "BOOL given 2" 400 POST /v2/models/kserve_example/infer \
        -d '{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,2,true]}]}'
    status_is "missing input1" 400 POST /v2/models/kserve_example/infer \
        -d '{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]}]}'
fi

# ---- inference against the golden outputs -----------------------------------------------------------------------------
for set in 0 1; do
    for mode in json binary binary-in binary-out; do
        expect "infer test_data_set_$set as $mode == golden" "$CLIENT" infer "$port" cifar10_resnet20 \
            "$M20/test_data_set_$set/input_0.pb" "$M20/test_data_set_$set/output_0.pb" "$mode"
    done
done
for set in 0 1 2; do
    expect "mnist8 (fixed shape, not batchable) test_data_set_$set == golden" "$CLIENT" infer "$port" mnist8 \
        "$SHARED/models/mnist8/test_data_set_$set/input_0.pb" "$SHARED/models/mnist8/test_data_set_$set/output_0.pb" json Input3
done
expect "dynamic batching: 8 clients x 25 requests, every batched answer == the lone answer" "$CLIENT" batch "$port" \
    cifar10_resnet20 "$M20/test_data_set_1/input_0.pb" "$M20/test_data_set_1/output_0.pb" 8 25
http POST /v2/models/cifar10_resnet20/infer -d @/dev/null >/dev/null
expect "responses carry Timing-Allow-Origin: *" hdr_has 'Timing-Allow-Origin: \*'

# ---- /classify ------------------------------------------------------------------------------------------------------
if [ -f "$SHARED/data/cifar10_test_jpeg75.bin" ]; then
    "$TANDEM" export-image --dataset "$SHARED/data/cifar10_test_jpeg75.bin" --index 3 --output "$tmp/img3.png" >/dev/null
    "$TANDEM" run "$repo/cifar10_resnet20/model.onnx" --input "$tmp/img3.png" --mean 0.485,0.456,0.406 \
        --std 0.229,0.224,0.225 --top 3 >"$tmp/run.json"
    status_is "classify a PNG (?top=3)" 200 POST '/v2/models/cifar10_resnet20/classify?top=3' --data-binary @"$tmp/img3.png"
    expect "classify: Server-Timing has queue, preprocess, infer, postprocess" \
        grep -qiE '^Server-Timing: queue;dur=[0-9.]+, preprocess;dur=[0-9.]+, infer;dur=[0-9.]+, postprocess;dur=[0-9.]+' "$tmp/hdr"
    expect "classify: the top 3 labels and probabilities of tandem run on the same image" node -e "
        const fs = require('fs');
        const d = JSON.parse(fs.readFileSync('$tmp/body', 'utf8'));
        const r = JSON.parse(fs.readFileSync('$tmp/run.json', 'utf8')).outputs[0].top[0];
        const labels = fs.readFileSync('$repo/cifar10_resnet20/labels.txt', 'utf8').split('\n');
        const p = d.predictions;
        process.exit(p.length === 3 && p.every((x, i) => x.index === r[i].index && x.label === labels[r[i].index] &&
            Math.abs(x.probability - r[i].prob) <= 1e-5 + 1e-4 * r[i].prob) ? 0 : 1);"
    head -c 200 "$tmp/img3.png" >"$tmp/trunc.png"
    status_is "classify a truncated PNG" 400 POST /v2/models/cifar10_resnet20/classify --data-binary @"$tmp/trunc.png"
    status_is "classify ?top=0" 400 POST '/v2/models/cifar10_resnet20/classify?top=0' --data-binary @"$tmp/img3.png"
else
    echo "note: $SHARED/data/cifar10_test_jpeg75.bin is absent: the PNG classify checks are skipped"
fi
printf 'GIF89a not an image we take' >"$tmp/garbage"
status_is "classify garbage bytes" 400 POST /v2/models/cifar10_resnet20/classify --data-binary @"$tmp/garbage"
{ printf '\x89PNG\r\n\x1a\n'; head -c 300 /dev/urandom; } >"$tmp/fakepng"
status_is "classify a PNG signature followed by noise" 400 POST /v2/models/cifar10_resnet20/classify --data-binary @"$tmp/fakepng"
status_is "classify an empty body" 400 POST /v2/models/cifar10_resnet20/classify -d ''

# ---- bad inference requests ---------------------------------------------------------------------------------------------
I=/v2/models/cifar10_resnet20/infer
img_json() { # img_json SHAPE DATATYPE COUNT: a request with COUNT copies of 0.5
    node -e "console.log(JSON.stringify({inputs:[{name:'input',shape:$1,datatype:'$2',data:Array($3).fill(0.5)}]}))"
}
status_is "malformed JSON" 400 POST $I -d '{"inputs": [ {'
status_is "JSON that is not an object" 400 POST $I -d '[1,2,3]'
status_is "no inputs" 400 POST $I -d '{"id":"x"}'
status_is "id not a string" 400 POST $I -d '{"id":5,"inputs":[]}'
status_is "unknown input name" 400 POST $I -d '{"inputs":[{"name":"nope","shape":[1],"datatype":"FP32","data":[1]}]}'
status_is "wrong datatype (INT64 for FP32)" 400 POST $I -d "$(img_json '[1,3,32,32]' INT64 3072)"
status_is "unknown datatype" 400 POST $I -d "$(img_json '[1,3,32,32]' FLOAT99 3072)"
status_is "BYTES datatype" 400 POST $I -d "$(img_json '[1,3,32,32]' BYTES 3072)"
status_is "shape mismatch (31 wide)" 400 POST $I -d "$(img_json '[1,3,32,31]' FP32 2976)"
status_is "rank mismatch" 400 POST $I -d "$(img_json '[3,32,32]' FP32 3072)"
status_is "negative dimension" 400 POST $I -d "$(img_json '[-1,3,32,32]' FP32 3072)"
status_is "zero batch" 400 POST $I -d "$(img_json '[0,3,32,32]' FP32 0)"
status_is "fewer data than the shape" 400 POST $I -d "$(img_json '[1,3,32,32]' FP32 3071)"
status_is "more data than the shape" 400 POST $I -d "$(img_json '[1,3,32,32]' FP32 3073)"
status_is "a string in data" 400 POST $I -d '{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":["a"]}]}'
status_is "input given twice" 400 POST $I -d '{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":[1]},{"name":"input","shape":[1],"datatype":"FP32","data":[1]}]}'
status_is "unknown output requested" 400 POST $I -d "$(node -e "console.log(JSON.stringify({inputs:[{name:'input',shape:[1,3,32,32],datatype:'FP32',data:Array(3072).fill(0)}],outputs:[{name:'nope'}]}))")"
status_is "tensor element limit (batch 100000)" 413 POST $I -d '{"inputs":[{"name":"input","shape":[100000,3,32,32],"datatype":"FP32","data":[]}]}'
status_is "huge dimension product overflow" 413 POST $I -d '{"inputs":[{"name":"input","shape":[9000000000000000,3,32,32],"datatype":"FP32","data":[]}]}'
status_is "GET on infer" 405 GET $I
status_is "unknown route" 404 GET /v2/nothing/here
bh='{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","parameters":{"binary_data_size":12288}}]}'
{ printf '%s' "$bh"; head -c 12000 /dev/zero; } >"$tmp/trunc.bin"
status_is "binary tensor truncated (12000 of 12288 bytes)" 400 POST $I -H "Inference-Header-Content-Length: ${#bh}" --data-binary @"$tmp/trunc.bin"
{ printf '%s' "$bh"; head -c 12300 /dev/zero; } >"$tmp/long.bin"
status_is "binary section with unclaimed bytes" 400 POST $I -H "Inference-Header-Content-Length: ${#bh}" --data-binary @"$tmp/long.bin"
bh2='{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","parameters":{"binary_data_size":100}}]}'
{ printf '%s' "$bh2"; head -c 100 /dev/zero; } >"$tmp/size.bin"
status_is "binary_data_size that does not match the shape" 400 POST $I -H "Inference-Header-Content-Length: ${#bh2}" --data-binary @"$tmp/size.bin"
status_is "Inference-Header-Content-Length beyond the body" 400 POST $I -H "Inference-Header-Content-Length: 99999" --data-binary @"$tmp/trunc.bin"
status_is "Inference-Header-Content-Length not a number" 400 POST $I -H "Inference-Header-Content-Length: 12abc" --data-binary @"$tmp/trunc.bin"
status_is "binary_data_size without the header" 400 POST $I --data-binary "$bh"
head -c 65536 /dev/urandom >"$tmp/noise"
status_is "random bytes as JSON" 400 POST $I --data-binary @"$tmp/noise"
status_is "still live after the bad requests" 200 GET /v2/health/live

# ---- static page, model list, model download ----------------------------------------------------------------------
status_is "GET / (index.html)" 200 GET /
expect "/ is text/html with COOP, COEP and CORP" sh -c "grep -qi '^Content-Type: text/html' '$tmp/hdr' &&
    grep -qi '^Cross-Origin-Opener-Policy: same-origin' '$tmp/hdr' && grep -qi '^Cross-Origin-Embedder-Policy: require-corp' '$tmp/hdr' &&
    grep -qi '^Cross-Origin-Resource-Policy: same-origin' '$tmp/hdr'"
http GET /app.mjs >/dev/null
expect ".mjs is text/javascript" grep -qi '^Content-Type: text/javascript' "$tmp/hdr"
http GET /sub/t.wasm >/dev/null
expect ".wasm is application/wasm" grep -qi '^Content-Type: application/wasm' "$tmp/hdr"
code=$(http GET /sub)
expect "a folder without its slash redirects to it" sh -c "[ $code = 301 ] && grep -qi '^Location: /sub/' '$tmp/hdr'"
status_is "a folder serves its index.html" 200 GET /sub/
status_is "missing file" 404 GET /nothing.js
status_is "path traversal (/../)" 404 GET /../../../../etc/passwd
status_is "path traversal (encoded)" 404 GET /%2e%2e/%2e%2e/etc/passwd
status_is "POST to a static path" 405 POST /index.html -d x
status_is "GET /api/models" 200 GET /api/models
expect "/api/models: file URL, bytes, inputs, preprocess, labels" jcheck "(() => { const m = d.models.find((x) => x.name === 'cifar10_resnet20'); return m.file === '/v2/models/cifar10_resnet20/file' && m.bytes === $(stat -Lc %s "$M20/model.onnx") && m.inputs[0].datatype === 'FP32' && JSON.stringify(m.preprocess.size) === '[32,32]' && Math.abs(m.preprocess.mean[0] - 0.485) < 1e-6 && Math.abs(m.preprocess.std[2] - 0.225) < 1e-6 && m.labels.length === 10 && m.labels[5] === 'dog'; })()"
code=$(http GET /v2/models/cifar10_resnet20/file)
expect "GET /v2/models/<name>/file returns model.onnx byte for byte" sh -c "[ $code = 200 ] && cmp -s '$tmp/body' '$M20/model.onnx' && grep -qi '^Content-Type: application/octet-stream' '$tmp/hdr'"

status_is "GET /api/samples" 200 GET /api/samples
expect "/api/samples lists dog_5.png only, labelled dog" jcheck 'd.samples.length === 1 && d.samples[0].name === "dog_5" && d.samples[0].label === "dog" && d.samples[0].url === "/api/samples/dog_5.png"'
code=$(http GET /api/samples/dog_5.png)
expect "GET /api/samples/dog_5.png returns the file as image/png" sh -c "[ $code = 200 ] && cmp -s '$tmp/body' '$tmp/samples/dog_5.png' && grep -qi '^Content-Type: image/png' '$tmp/hdr'"
status_is "a sample that is not an image" 404 GET /api/samples/notes.txt
status_is "a hidden sample" 404 GET /api/samples/.hidden.png
status_is "a sample path outside the folder" 404 GET /api/samples/../a.log

# ---- results API (the store's own suites test it in depth) ------------------------------------------------------------
status_is "POST /api/results" 201 POST /api/results -H 'Content-Type: application/json' \
    -d '{"schema":"tandem.result/1","source":"server","created":"2026-11-23T22:00:00Z","model":{"name":"cifar10_resnet20","bytes":1},"engine":"tandem","threads":1,"figures":{"p50_ms":1.25},"extra":{"t":"run.sh"}}'
expect "POST /api/results answers {\"id\": N}" jcheck 'Number.isInteger(d.id) && d.id > 0'
status_is "POST /api/results without a schema" 400 POST /api/results -d '{"source":"server"}'
status_is "POST /api/results with malformed JSON" 400 POST /api/results -d '{"schema":'
status_is "GET /api/results?model=cifar10_resnet20" 200 GET '/api/results?model=cifar10_resnet20'
expect "GET /api/results returns the stored document" grep -q '"run.sh"' "$tmp/body"
status_is "GET /api/results?format=csv" 200 GET '/api/results?format=csv'
expect "CSV has a text/csv type" grep -qi '^Content-Type: text/csv' "$tmp/hdr"
status_is "GET /api/results?limit=abc" 400 GET '/api/results?limit=abc'

# ---- metrics -------------------------------------------------------------------------------------------------------------
status_is "GET /metrics" 200 GET /metrics
expect "/metrics is Prometheus text (version 0.0.4)" grep -qi '^Content-Type: text/plain; version=0.0.4' "$tmp/hdr"
expect "/metrics: families, cumulative histograms, +Inf == _count, batches above 1" node tests/server/check_metrics.mjs cifar10_resnet20 <"$tmp/body"

node -e "console.log(JSON.stringify({id:'drain',inputs:[{name:'input',shape:[1,3,32,32],datatype:'FP32',data:Array(3072).fill(0.25)}]}))" >"$tmp/drain.json"
# ---- limits: a second server with small ones --------------------------------------------------------------------------
if start_server "$tmp/b.log" --db "sqlite:$tmp/results_b.db" --max-body-mb 1 --max-header-kb 16 --max-connections 4 \
    --max-elements 4096 --max-buffered-mb 1 --max-queue 1; then
    pid_b=$pid
    U=http://127.0.0.1:$port
    head -c 2000000 /dev/zero >"$tmp/big"
    status_is "body over --max-body-mb 1 (Content-Length)" 413 POST $I --data-binary @"$tmp/big"
    status_is "body over --max-body-mb 1 (chunked, no length)" 413 POST $I -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big"
    status_is "tensor over --max-elements 4096 (batch 2)" 413 POST $I -d "$(img_json '[2,3,32,32]' FP32 6144)"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$U/v2/health/live")
    expect "headers over --max-header-kb 16 are refused (status $code)" sh -c "[ '$code' = 431 ] || [ '$code' = 413 ] || [ '$code' = 400 ]"
    code=$("$CLIENT" budget "$port" $I 900000 900000)
    expect "--max-buffered-mb 1: a second 0.9 MB body while one is held gets 503 (status $code)" [ "$code" = 503 ]
    sleep 0.2
    status_is "the body budget is released when the held request goes" 400 POST $I -d '{"inputs":[]}'
    curl -s -o "$tmp/q1.out" -w '%{http_code}' --data-binary @"$tmp/drain.json" "$U/v2/models/cifar10_resnet20_slow/infer" >"$tmp/q1.code" &
    qpid=$!
    sleep 0.4 # the first request now waits in the slow model's queue for 1.5 s
    status_is "--max-queue 1: a second request to the same model gets 503" 503 POST /v2/models/cifar10_resnet20_slow/infer --data-binary @"$tmp/drain.json"
    wait "$qpid"
    expect "--max-queue 1: the queued request is answered ($(cat "$tmp/q1.code"))" [ "$(cat "$tmp/q1.code")" = 200 ]
    n=$("$CLIENT" conns "$port" 10)
    expect "--max-connections 4: 10 clients at once, $n answered" [ "$n" = 4 ]
    status_is "serves again once they close" 200 GET /v2/health/live
    kill -TERM "$pid_b"; wait "$pid_b"; rc=$?
    expect "server B exits 0 on SIGTERM" [ $rc = 0 ]
    U=http://127.0.0.1:$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$tmp/a.log" | grep -o '[0-9]*$')
else
    bad "server B (small limits) did not start: $(tail -3 "$tmp/b.log")"
fi

# ---- SIGTERM drains a request in flight ---------------------------------------------------------------------------
pid_a=${pids[0]}
port_a=${U##*:}
curl -s -o "$tmp/drain.out" -w '%{http_code}' --data-binary @"$tmp/drain.json" "$U/v2/models/cifar10_resnet20_slow/infer" >"$tmp/drain.code" &
cpid=$!
sleep 0.3  # the request now waits in the slow model's queue (max_delay_us 1.5 s)
"$CLIENT" ready2 "$port_a" 600 >"$tmp/ready2" &
rpid=$!
sleep 0.2
kill -TERM "$pid_a"
sleep 0.3
after=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$U/v2/health/live")
wait "$cpid"
wait "$rpid"
wait "$pid_a"; rc=$?
expect "SIGTERM: ready on a kept-alive connection turns from 200 to 400 while draining ($(cat "$tmp/ready2"))" \
    [ "$(cat "$tmp/ready2")" = "200 400" ]
expect "SIGTERM: the queued request still gets its answer ($(cat "$tmp/drain.code"))" sh -c "[ \"\$(cat '$tmp/drain.code')\" = 200 ] && grep -q '\"id\": \"drain\"' '$tmp/drain.out'"
expect "SIGTERM: new connections are refused while draining (status $after)" [ "$after" = 000 ]
expect "SIGTERM: the server exits 0 after draining" [ $rc = 0 ]
expect "SIGTERM: the log reports a clean drain" sh -c "grep -q 'stopped\$' '$tmp/a.log'"
for l in "$tmp/a.log" "$tmp/b.log"; do
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$l"; then bad "sanitizer report in $(basename "$l")"; grep -m5 -A20 -E 'ERROR:|runtime error' "$l"
    else ok "no sanitizer report in $(basename "$l")"; fi
done

run_sub_suites
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
