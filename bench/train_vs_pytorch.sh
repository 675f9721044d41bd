#!/usr/bin/env bash
# Training throughput of `modelpress distill-train` against a plain PyTorch loop
# (bench/torch_train_loop.py) on the same model shape, batch, sequence length and thread count,
# run alternately (modelpress first in odd rounds, PyTorch first in even ones) so that the load of
# a shared machine falls on both. What is compared: one optimizer step = forward, cross-entropy on
# the next tokens, backward, clipping at global norm 1 and AdamW, from a random initialization; no
# teacher on either side. tokens/s is the median over the steps after the first (distill-train's
# metrics.jsonl tokens_per_s; the loop's own timer). distill-train keeps freed blocks for reuse
# (lib/base/heap_reuse.h); PyTorch runs twice, with glibc's defaults (what a user gets) and with
# the same malloc thresholds set through glibc's environment variables (what it could get). Shapes:
#   tinymix-10M   ../shared/models/tinymix-10M/config.json, its tokenizer, tinymix calib.txt
#   synthetic-100M  hidden 768, 12 layers, 12 heads, MLP 2048, vocab 32000 (Llama 2's tokenizer), tied
# Usage: bench/train_vs_pytorch.sh [MODELPRESS_BINARY]
#   env: THREADS (2), ROUNDS (2), SHAPES ("tinymix-10M synthetic-100M"), and per shape
#        SMALL_BATCH (8), SMALL_STEPS (6), BIG_BATCH (1), BIG_STEPS (4), SEQ (256), FOREACH (1: the
#        PyTorch side uses AdamW(foreach=True), 0: its default per-parameter loop)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${1:-${MODELPRESS_BUILD_DIR:-$root/build}/modelpress}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
threads="${THREADS:-2}" rounds="${ROUNDS:-2}" seq="${SEQ:-256}"
python=/usr/bin/python3  # Debian's python3-torch lives in the system interpreter
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
work="$(mktemp -d /tmp/modelpress-train-vs-pytorch.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Shape settings: config dir (config.json + tokenizer.model), text, batch, steps.
mkdir -p "$work/tinymix-10M" "$work/synthetic-100M"
cp "$shared/models/tinymix-10M/config.json" "$shared/models/tinymix-10M/tokenizer.model" "$work/tinymix-10M/"
cat >"$work/synthetic-100M/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 768, "intermediate_size": 2048,
 "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000,
 "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
 "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2}
EOF
cp "$shared/tokenizer-vectors/llama2-tokenizer.model" "$work/synthetic-100M/tokenizer.model"
declare -A text=([tinymix-10M]="$shared/corpora/tinymix/calib.txt" [synthetic-100M]="$shared/corpora/tinystories/calib.txt")
declare -A batch=([tinymix-10M]="${SMALL_BATCH:-8}" [synthetic-100M]="${BIG_BATCH:-1}")
declare -A steps=([tinymix-10M]="${SMALL_STEPS:-6}" [synthetic-100M]="${BIG_STEPS:-4}")
foreach_flag=""
[ "${FOREACH:-1}" = 1 ] && foreach_flag="--foreach"

median_json_field() {  # median of a field over JSON lines after the first (the warm-up step)
  "$python" -c 'import json,statistics,sys; v=[json.loads(l)[sys.argv[1]] for l in sys.stdin if l.strip()][1:]; print(round(statistics.median(v)))' "$1"
}

run_modelpress() {  # shape -> tokens/s
  local s="$1" out="$work/out-$1"
  rm -rf "$out"
  "$mp" distill-train -q --student-config "$work/$s/config.json" --tokenizer "$work/$s" --data "$work/$s.tokens.h5" \
    --out "$out" --steps "$((steps[$s] + 1))" --batch "${batch[$s]}" --seq "$seq" --warmup 1 --threads "$threads" >/dev/null
  median_json_field tokens_per_s <"$out/metrics.jsonl"
}

run_pytorch() {  # shape [env...] -> tokens/s (the script itself leaves out its warm-up step)
  local s="$1"; shift
  env "$@" "$python" "$root/bench/torch_train_loop.py" --config "$work/$s/config.json" --batch "${batch[$s]}" --seq "$seq" \
    --steps "${steps[$s]}" --threads "$threads" $foreach_flag | "$python" -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_s"]))'
}

echo "modelpress $("$mp" --version | head -1); $("$python" -c 'import torch; print("torch", torch.__version__)'); threads $threads; seq $seq; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; PyTorch AdamW foreach=${FOREACH:-1}"
reuse=(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824)
echo "| shape | parameters | batch × seq | round | modelpress tokens/s | PyTorch tokens/s | ratio | PyTorch + heap reuse tokens/s | ratio | load before |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for s in ${SHAPES:-tinymix-10M synthetic-100M}; do
  "$mp" tokenize --tokenizer "$work/$s" --out "$work/$s.tokens.h5" "${text[$s]}" >/dev/null
  params="$("$python" "$root/bench/torch_train_loop.py" --config "$work/$s/config.json" --count-parameters)"
  for ((r = 1; r <= rounds; r++)); do
    load="$(cut -d' ' -f1 /proc/loadavg)"
    if ((r % 2)); then
      ours="$(run_modelpress "$s")"; theirs="$(run_pytorch "$s")"; tuned="$(run_pytorch "$s" "${reuse[@]}")"
    else
      tuned="$(run_pytorch "$s" "${reuse[@]}")"; theirs="$(run_pytorch "$s")"; ours="$(run_modelpress "$s")"
    fi
    echo "| $s | $params | ${batch[$s]} × $seq | $r | $ours | $theirs | $(echo "scale=2; $ours / $theirs" | bc) |" \
         "$tuned | $(echo "scale=2; $ours / $tuned" | bc) | $load |"
  done
done
