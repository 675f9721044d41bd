#!/usr/bin/env bash
# Sets up, builds and runs the main job on a built-in default: evaluate the reference model in
# ../shared (perplexity on TinyStories, then a greedy continuation).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-debian.sh"
bash "$root/scripts/fetch-data.sh"
bash "$root/scripts/build.sh"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/stories260K"
text="$shared/corpora/tinystories/eval.txt"
if [ ! -d "$model" ]; then
  echo "demo: reference model not found at $model (set MODELPRESS_SHARED)" >&2
  exit 3
fi
threads="$(nproc)"
echo "== modelpress inspect $model"
"$mp" inspect "$model" | tail -n 1
echo "== modelpress eval (llama-perplexity method, ctx 256)"
"$mp" eval --model "$model" --text "$text" --ctx 256 --threads "$threads"
echo "== modelpress generate"
"$mp" generate --model "$model" --prompt "Once upon a time" --n-predict 48 --threads "$threads"
