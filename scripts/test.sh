#!/usr/bin/env bash
# Sets up, builds and runs the default test suite (what CI runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# --sanitize: the suite built with ASan + UBSan into build-asan (a second, cold build).
if [ "${1:-}" = --sanitize ]; then
  shift
  export MODELPRESS_BUILD_DIR="${MODELPRESS_BUILD_DIR:-$root/build-asan}" MODELPRESS_CMAKE_ARGS="-DMODELPRESS_SANITIZE=ON"
  # A report fails the test whose program made it: ASan and LeakSanitizer exit 1 and 23, UBSan stops
  # at its first report. libhdf5's own small leaks on damaged files are suppressed (as in fuzz.sh).
  export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
fi
bash "$root/scripts/setup-debian.sh"
bash "$root/scripts/fetch-data.sh"
bash "$root/scripts/fetch-llamacpp.sh"   # a real llama.cpp for the GGUF cross-check
bash "$root/scripts/fetch-tokenizers.sh"   # real tokenizer.json files and transformers.js for the tokenizer tests
bash "$root/scripts/build.sh"
cd "${MODELPRESS_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 900 -j 1 "$@"
