#!/usr/bin/env bash
# Installs a real llama.cpp for the optional [.llamacpp] tests: node-llama-cpp from the npm
# registry with only its prebuilt Linux x64 CPU binaries (no CUDA/Vulkan variants, no compiler,
# nothing from GitHub), into .cache/node. Idempotent; the tests use it only when it is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/node"
version=3.22.1
[ -f "$dest/node_modules/node-llama-cpp/package.json" ] && [ -d "$dest/node_modules/@node-llama-cpp/linux-x64" ] && exit 0
command -v npm >/dev/null || { echo "fetch-llamacpp: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
# --ignore-scripts: node-llama-cpp's postinstall would probe for (and may try to build) binaries.
npm install --prefix "$dest" --no-audit --no-fund --ignore-scripts --omit=optional \
  "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" >/dev/null
echo "fetch-llamacpp: node-llama-cpp $version in $dest ($(du -sh "$dest" | cut -f1))"
