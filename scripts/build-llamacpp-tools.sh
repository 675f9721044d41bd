#!/usr/bin/env bash
# Builds llama.cpp's command-line tools (the judge of the GGUF work: llama-perplexity
# --kl-divergence, llama-quantize/-imatrix/-tokenize for baselines, llama-batched-bench for
# bench/batched_decode.sh) from the llama.cpp source that node-llama-cpp ships as a git bundle, so
# nothing is fetched from the network. CPU only.
# Source goes to .cache/llama.cpp-src, binaries to .cache/llama.cpp-build/bin. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$root/.cache/node/node_modules/node-llama-cpp/llama/gitRelease.bundle"
src="$root/.cache/llama.cpp-src"
build="$root/.cache/llama.cpp-build"
tools=(llama-perplexity llama-quantize llama-imatrix llama-tokenize llama-batched-bench)
jobs="${MODELPRESS_BUILD_JOBS:-2}"

all_built() {
  local t
  for t in "${tools[@]}"; do [ -x "$build/bin/$t" ] || return 1; done
}
all_built && exit 0
[ -f "$bundle" ] || { echo "build-llamacpp-tools: $bundle missing (run scripts/fetch-llamacpp.sh)" >&2; exit 1; }
[ -f "$src/CMakeLists.txt" ] || { rm -rf "$src"; git clone --quiet "$bundle" "$src"; }
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${tools[@]}"
all_built
echo "build-llamacpp-tools: ${tools[*]} in $build/bin"
