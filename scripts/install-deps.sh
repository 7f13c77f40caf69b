#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages that building and testing tandem need, when they are missing.
# Runs apt-get only as root and only for what is absent; otherwise it says what to install and fails.
set -euo pipefail

pkgs=(
  gcc make libc6-dev        # the engine and CLI
  libstb-dev                # PNG/JPEG decoding in the CLI
  clang libclang-rt-14-dev  # the libFuzzer target
  libonnx-testdata          # the official ONNX node tests (conformance)
  nodejs                    # JSON checks in the CLI tests, the benchmarks' baselines, the browser tests
  emscripten                # the WebAssembly build (make wasm)
  clang-19 lld-19 llvm-19   # the relaxed-SIMD wasm build: emcc pointed at LLVM 19 (mk/wasm.mk; llc, llvm-ar)
  chromium                  # headless browser tests and bench/compare-browser
  libmicrohttpd-dev libcjson-dev libsqlite3-dev libpq-dev   # tandem serve: HTTP, JSON, the results stores
  postgresql                # a real local PostgreSQL for the store's and the swarm's tests
  nginx                     # the load balancer in front of two tandem serve in the swarm's scale-out test
  wrk                       # bench/compare-server's load generator
  python3-onnx              # onnx.checker over the zoo's models (tests only)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
