#!/usr/bin/env bash
# npm-deps.sh - installs the project's npm packages (package-lock.json) into node_modules when they are missing or
# stale: the baselines (onnxruntime-node, onnxruntime-web), playwright-core for the browser tests, uPlot for the page.
# onnxruntime-node's postinstall would try to download a CUDA provider, so scripts are skipped; its CPU library ships
# inside the npm tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -d node_modules/onnxruntime-web ] \
   && [ -d node_modules/playwright-core ] && [ -d node_modules/uplot ] && [ -d node_modules/onnxruntime-node ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm-deps: npm is missing (Debian: apt-get install npm)" >&2; exit 1; }
echo "npm-deps: installing npm packages from package-lock.json"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
