#!/usr/bin/env bash
# Throughput of `modelpress generate --prompts` (teacher data) at batch sizes 1, 4 and 16: the
# first six words of the first stories of TinyStories' eval.txt as prompts, a fixed number of
# new tokens each (--ignore-eos, so every batch size does the same work), one thread.
# Prints a markdown table of generated tokens per second (docs/teacher-data.md).
# Usage: bench/teacher_data_throughput.sh [MODELPRESS_BINARY] [PROMPTS] [N_PREDICT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${1:-${MODELPRESS_BUILD_DIR:-$root/build}/modelpress}"
n_prompts="${2:-32}"
n_predict="${3:-64}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A story's first line follows a blank line (or starts the file).
awk -v max="$n_prompts" 'BEGIN { start = 1 } /^[[:space:]]*$/ { start = 1; next }
     start { n = split($0, w, " "); line = w[1]; for (i = 2; i <= 6 && i <= n; ++i) line = line " " w[i]; print line; start = 0
             if (++count >= max) exit }' \
  "$shared/corpora/tinystories/eval.txt" >"$work/prompts.txt"

echo "| model | batch | prompts | tokens | wall s | tokens/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for model in stories260K tinymix-10M; do
  for batch in 1 4 16; do
    start=$(date +%s.%N)
    line="$("$mp" generate -q --dtype f32 -t 1 -m "$shared/models/$model" --prompts "$work/prompts.txt" -n "$n_predict" --ignore-eos \
              -b "$batch" --out "$work/out-$model-$batch.jsonl")"
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    tokens="$(sed -E 's/.* ([0-9]+) tokens generated at ([0-9.]+) tokens\/s/\1/' <<<"$line")"
    rate="$(sed -E 's/.* tokens generated at ([0-9.]+) tokens\/s/\1/' <<<"$line")"
    printf '| %s | %s | %s | %s | %.2f | %s |\n' "$model" "$batch" "$n_prompts" "$tokens" "$wall" "$rate"
  done
done
