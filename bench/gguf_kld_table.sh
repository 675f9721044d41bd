#!/usr/bin/env bash
# The judge of the GGUF work: llama.cpp's llama-perplexity --kl-divergence, set up as
# ../shared/models/tinymix-10M/llamacpp/baselines.md was (ctx 256 over all of eval.txt, against
# the logits of the model's F32 GGUF). Prints a markdown table of bytes, bpw (whole file), PPL,
# mean KLD and same top-1 for every GGUF given.
# Usage: bench/gguf_kld_table.sh FILE.gguf...   (env: MODEL, TEXT, CTX, THREADS, LLAMACPP_BIN)
# LLAMACPP_BIN: the folder of llama.cpp's tools, so a git worktree can use the main checkout's build.
# KLD_WORK: a folder that keeps the F32 GGUF and its reference logits, so later runs judging more
# files skip recomputing them (reused only when the run that made them finished; same MODEL, TEXT, CTX).
# Needs scripts/build-llamacpp-tools.sh and a built modelpress (for the F32 reference GGUF).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
perplexity="${LLAMACPP_BIN:-$root/.cache/llama.cpp-build/bin}/llama-perplexity"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="${MODEL:-$shared/models/tinymix-10M}"
text="${TEXT:-$shared/corpora/tinymix/eval.txt}"
ctx="${CTX:-256}"
threads="${THREADS:-2}"
# A native build on a CPU with AMX repacks k-quant weights for ggml's AMX kernels, which segfault on
# these shapes (llama.cpp 2026-09, ggml_backend_amx_mul_mat); the plain CPU kernels are the judge.
judge=("$perplexity" --no-repack -c "$ctx" -t "$threads" -f "$text")
[ $# -gt 0 ] || { echo "usage: $0 FILE.gguf..." >&2; exit 2; }
[ -x "$perplexity" ] || { echo "gguf_kld_table: $perplexity missing (run scripts/build-llamacpp-tools.sh)" >&2; exit 1; }
if [ -n "${KLD_WORK:-}" ]; then
  work="$KLD_WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi

# The reference logits come from the F32 GGUF; bf16 weights are exact in F32.
if [ ! -f "$work/base.done" ]; then
  "$mp" export -q --to gguf --type F32 -m "$model" -o "$work/f32.gguf" >/dev/null
  "${judge[@]}" -m "$work/f32.gguf" --kl-divergence-base "$work/base.kld" >"$work/base.log" 2>&1 ||
    { tail -5 "$work/base.log" >&2; exit 1; }
  touch "$work/base.done"
fi

# Parameters counted by the F32 file: its data bytes / 4, near enough for bpw of the whole file.
params=$(( $(stat -c %s "$work/f32.gguf") / 4 ))
echo "| file | bytes | bpw | PPL | mean KLD | same top-1 % |"
echo "|---|---|---|---|---|---|"
for file in "$@"; do
  log="$work/$(basename "$file").log"
  "${judge[@]}" -m "$file" --kl-divergence-base "$work/base.kld" --kl-divergence >"$log" 2>&1 || { tail -5 "$log" >&2; exit 1; }
  bytes=$(stat -c %s "$file")
  ppl=$(sed -n 's/^Mean PPL(Q) *: *\([0-9.]*\).*/\1/p' "$log")
  kld=$(sed -n 's/^Mean *KLD: *\([0-9.]*\).*/\1/p' "$log")
  top1=$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' "$log")
  printf '| %s | %s | %.2f | %.4f | %s | %s |\n' "$(basename "$file")" \
    "$(echo "$bytes" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')" "$(echo "8 * $bytes / $params" | bc -l)" "$ppl" "$kld" "$top1"
done
