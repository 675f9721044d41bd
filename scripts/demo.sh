#!/usr/bin/env bash
# The main job on built-in defaults, no model needed (docs/demo.md): train a tokenizer and a small
# teacher from scratch on Moby Dick, distill a 2-layer student from it, quantize both with GPTQ and
# AWQ, export GGUF, and print one table comparing everything against the teacher on held-out text.
# It runs recipes/demo.yaml with `modelpress run`. Usage: bash scripts/demo.sh [WORK_DIR] (default ./demo-out);
# MODELPRESS_THREADS sets --threads (default 1: these models are too small for threads to pay,
# 127 s on one thread against 176 s on two). Rerunnable: each run starts over.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-debian.sh"
bash "$root/scripts/fetch-data.sh"
bash "$root/scripts/fetch-tokenizers.sh"   # tokenizer.json files, for models that ship only those
bash "$root/scripts/build.sh"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
out="$(realpath -m "${1:-demo-out}")"
threads="${MODELPRESS_THREADS:-1}"
start=$SECONDS

# A rerun starts over: every output of a previous run is removed (and nothing else in the dir).
for artifact in tokenizer teacher student teacher-top32.h5 {teacher,student}-{gptq,awq}-4bit \
  teacher-q8_0.gguf student-q4_0.gguf teacher-q8_0.gguf.manifest.json student-q4_0.gguf.manifest.json \
  teacher-top32.h5.manifest.json run.log; do
  rm -rf "${out:?}/$artifact"
done
mkdir -p "$out"
# The recipe's paths are relative to the repository root; the table is the last thing it prints.
cd "$root"
# Paths outside recipes/ are given explicitly (docs/recipes.md, "Paths").
"$mp" run recipes/demo.yaml --set out="$out" --set threads="$threads" \
  --set data=.cache/data/moby-dick-train.txt --set heldout=.cache/data/moby-dick-heldout.txt | tee "$out/run.log"
echo "demo: $((SECONDS - start)) s after the build; outputs in $out (log: $out/run.log)"
