#!/usr/bin/env bash
# Peak RSS of `modelpress eval` on a full Llama-7B-shaped GGUF (32 layers, Q4_K_M by default) at f32
# and bf16 compute, against the goal "file + one decoder layer in the compute type + activations and
# KV cache" and against llama-perplexity on the same file. The file is written by
# write_synthetic_gguf (random valid blocks, the exporter's metadata and type mix) and deleted at the
# end unless KEEP=1. Prints a markdown table (docs/performance.md, "Memory of eval").
# Usage: bench/eval_7b_memory.sh [MODELPRESS_BINARY]
#   env: WORK (default /tmp/modelpress-eval-7b), TYPE (Q4_K_M), LAYERS (32), THREADS (2), KEEP,
#        LLAMACPP_BIN (default .cache/llama.cpp-build/bin, built by scripts/build-llamacpp-tools.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
binary="${1:-$build/modelpress}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
work="${WORK:-/tmp/modelpress-eval-7b}"
type="${TYPE:-Q4_K_M}" layers="${LAYERS:-32}" threads="${THREADS:-2}"
perplexity="${LLAMACPP_BIN:-$root/.cache/llama.cpp-build/bin}/llama-perplexity"
text="$shared/corpora/tinystories/eval.txt"
ctx=128 chunks=2
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[ -x "$perplexity" ] || { echo "eval_7b_memory: $perplexity missing (run scripts/build-llamacpp-tools.sh)" >&2; exit 1; }
mkdir -p "$work"
model="$work/llama7b-${layers}L-$type.gguf"
[ "${KEEP:-0}" = 1 ] || trap 'rm -f "$model"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$model" ] || "$build/write_synthetic_gguf" "$model" --type "$type" --layers "$layers" --shared "$shared"
file_mib=$(( $(stat -c %s "$model") / 1048576 ))

# The goal's parts, in MiB. One decoder layer: 4 h² attention + 3 h·f MLP weights (+ 2 norms).
h=4096 f=11008 vocab=32000 tokens=$((ctx * chunks))
layer_params=$((4 * h * h + 3 * h * f + 2 * h))
# Activations of the eval's one batch of chunks through one layer, f32: hidden states and the
# attention's q, k, v, output (6 h), the MLP's gate, up and product (3 f), the scores (32 heads × ctx)
# and the logits (vocab); K/V of one layer are among the 6 h (eval runs layer-major, no cache is kept).
act_mib=$(( tokens * (6 * h + 3 * f + 32 * ctx + vocab) * 4 / 1048576 ))

# Minor page faults: every page of freshly allocated memory a program writes costs one, and on this
# machine they cost more than the decoding (docs/performance.md, "Memory of eval").
echo "| program | compute | wall s | CPU s | minor faults | peak RSS MiB | goal MiB (file $file_mib + layer + activations $act_mib) | PPL |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
run() {  # label dtype goal command...
  local label=$1 dtype=$2 goal=$3 out wall user sys kib faults ppl
  shift 3
  out="$( { /usr/bin/time -f 'TIME %e %U %S %M %R' "$@"; } 2>&1)" || { echo "$out" | tail -5 >&2; return 1; }
  read -r _ wall user sys kib faults <<<"$(grep '^TIME' <<<"$out")"
  ppl="$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' <<<"$out" | tail -1)"
  echo "| $label | $dtype | $wall | $(echo "$user + $sys" | bc) | $faults | $((kib / 1024)) | $goal | $ppl |"
}
for dtype in f32 bf16; do
  bytes=4; [ "$dtype" = bf16 ] && bytes=2
  goal=$((file_mib + layer_params * bytes / 1048576 + act_mib))
  run "modelpress eval" "$dtype" "$goal" "$binary" eval -q --ctx "$ctx" --chunks "$chunks" -t "$threads" --dtype "$dtype" \
    -m "$model" -f "$text"
done
run "llama-perplexity" "f32 (ggml)" "$((file_mib + act_mib))" "$perplexity" --no-repack -c "$ctx" --chunks "$chunks" \
  -t "$threads" -m "$model" -f "$text"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $type, $layers layers, $file_mib MiB, ctx $ctx, $chunks chunks, $threads threads"
