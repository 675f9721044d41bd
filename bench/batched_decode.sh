#!/usr/bin/env bash
# Batched decoding, modelpress against llama.cpp on the same GGUF: decode (and prefill) tokens/s at
# each batch size, from llama-batched-bench (each sequence its own prompt of PROMPT random tokens,
# then GEN steps of one token per sequence) and from bench_batched_decode, which times the path of
# `generate --prompts --batch-size B` the same way (docs/teacher-data.md). Prints markdown tables.
# Usage: bench/batched_decode.sh [GGUF ...]   (default: tinymix-10M's Q4_K_M from ../shared)
#   env: THREADS (2), PROMPT (64), GEN (128), BATCHES (1,16), DTYPES ("f32 bf16"),
#        LLAMACPP_BIN (default .cache/llama.cpp-build/bin, built by scripts/build-llamacpp-tools.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
[ $# -gt 0 ] || set -- "$shared/models/tinymix-10M/llamacpp/Q4_K_M-imatrix.gguf"
threads="${THREADS:-2}" prompt="${PROMPT:-64}" gen="${GEN:-128}" batches="${BATCHES:-1,16}"
batched_bench="${LLAMACPP_BIN:-$root/.cache/llama.cpp-build/bin}/llama-batched-bench"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[ -x "$batched_bench" ] || { echo "batched_decode: $batched_bench missing (run scripts/build-llamacpp-tools.sh)" >&2; exit 1; }
largest=$(tr ',' '\n' <<<"$batches" | sort -n | tail -1)

for model in "$@"; do
  echo "## $(basename "$model"): prompts of $prompt tokens, $gen decoding steps, $threads threads"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "| program | batch | prefill tokens/s | decode tokens/s |"
  echo "| --- | --- | --- | --- |"
  # One KV cell per token of every sequence; --no-repack: the repacked CPU path crashes on this AMX CPU.
  "$batched_bench" -m "$model" --no-repack -t "$threads" -c $((largest * (prompt + gen))) -b 2048 -ub 512 \
      -npp "$prompt" -ntg "$gen" -npl "$batches" --output-format jsonl 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{"):
        r = json.loads(line)
        print("| llama-batched-bench | %d | %.1f | %.1f |" % (r["pl"], r["speed_pp"], r["speed_tg"]))'
  for dtype in ${DTYPES:-f32 bf16}; do
    "$build/bench_batched_decode" "$model" --threads "$threads" --dtype "$dtype" --prompt-tokens "$prompt" \
        --gen-tokens "$gen" --batches "$batches" |
      awk -F' *[|] *' -v d="$dtype" '/^[|] [0-9]/ { printf "| modelpress %s | %s | %s | %s |\n", d, $2, $3, $4 }'
  done
done
