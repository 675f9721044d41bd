#!/usr/bin/env bash
# Sets up, builds and runs the default test suite (what CI runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-debian.sh"
bash "$root/scripts/fetch-data.sh"
bash "$root/scripts/fetch-llamacpp.sh"   # a real llama.cpp for the GGUF cross-check
bash "$root/scripts/fetch-tokenizers.sh"   # real tokenizer.json files and transformers.js for the tokenizer tests
bash "$root/scripts/build.sh"
cd "${MODELPRESS_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 900 -j 1 "$@"
