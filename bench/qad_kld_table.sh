#!/usr/bin/env bash
# The goal table of docs/qad.md: quantization-aware distillation against the best post-training
# GGUF of the same type, on tinymix-10M. For each TYPE (default Q2_K Q3_K_M):
#   - llama.cpp's own quantization (`export --type`, byte-identical to llama-quantize without an
#     imatrix, and with ../shared's imatrix.dat),
#   - modelpress GPTQ inside the k-quant grid (`quantize --method gptq --to gguf`),
#   - QAD from that GPTQ file (online teacher = the f32 model, full-vocabulary forward KL), the
#     exported file after each of STEPS_LIST steps of one run, on the grid GRID (default frozen:
#     the GPTQ file's block parameters kept, codes re-levelled; rechosen: the encoder's search every
#     step). Step 0 is the GPTQ file as the run's first step rounds it; later steps are the
#     checkpoint's masters exported with `export --type` (and `--grid-from` the GPTQ file when
#     frozen), which rounds them exactly as the run's fake quantization did.
# Every file is judged by `modelpress eval --reference` (mean KLD, ctx 256, CHUNKS chunks of the
# held-out corpora/tinymix/eval.txt). Prints a markdown table with the training wall time.
# Usage: bench/qad_kld_table.sh [TYPE...]  (env: WORK, GRID, STEPS_LIST, CHECKPOINT_EVERY, LR, BATCH, CHUNKS, THREADS)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/tinymix-10M"
calib="$shared/corpora/tinymix/calib.txt"
text="$shared/corpora/tinymix/eval.txt"
work="${WORK:-/tmp/qad-bench}"
steps_list="${STEPS_LIST:-25 50 100}"
lr="${LR:-3e-4}"
batch="${BATCH:-8}"
chunks="${CHUNKS:-100}"
threads="${THREADS:-2}"
grid="${GRID:-frozen}"
# The step rows export checkpoint masters with `export --grid-from`, which levels on the stored
# parameters only: the hybrid grid's runs are judged by bench/qad_judged_run.sh instead.
[ "$grid" != hybrid ] || { echo "qad_kld_table: GRID=hybrid is not supported here; use bench/qad_judged_run.sh" >&2; exit 2; }
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Q2_K Q3_K_M)
mkdir -p "$work"
last_steps="${steps_list##* }"
checkpoint_every="${CHECKPOINT_EVERY:-25}"  # must divide every entry of STEPS_LIST

kld() {  # FILE -> "mean ± error | same top-1"
  "$mp" eval -q --json --dtype f32 --model "$1" --reference "$model" --text "$text" --ctx 256 --chunks "$chunks" -t "$threads" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["reference"]; print("%.6f ± %.6f | %.2f" % (r["kld_mean"], r["kld_mean_error"], r["same_top1_percent"]))'
}
row() { echo "| $1 | $2 | $(stat -c %s "$3") | $(kld "$3") |"; }

echo "| file | steps (wall s) | bytes | mean KLD | same top-1 % |"
echo "|---|---|---|---|---|"
for type in "${types[@]}"; do
  [ -f "$work/llamacpp-$type.gguf" ] ||
    "$mp" export -q --to gguf --type "$type" -m "$model" -o "$work/llamacpp-$type.gguf" >/dev/null
  [ -f "$work/llamacpp-imatrix-$type.gguf" ] ||
    "$mp" export -q --to gguf --type "$type" -m "$model" --imatrix "$model/llamacpp/imatrix.dat" \
      -o "$work/llamacpp-imatrix-$type.gguf" >/dev/null
  [ -f "$work/gptq-$type.gguf" ] ||
    "$mp" quantize -q --method gptq --to gguf --type "$type" -m "$model" --calib "$calib" --nsamples 128 \
      --seqlen 256 -t "$threads" -o "$work/gptq-$type.gguf" >/dev/null
  row "llama.cpp $type" - "$work/llamacpp-$type.gguf"
  row "llama.cpp $type + imatrix" - "$work/llamacpp-imatrix-$type.gguf"
  row "modelpress GPTQ-in-grid $type" - "$work/gptq-$type.gguf"

  # Step 0: the masters start at the GPTQ file's weights, rounded as the run rounds them: on its
  # stored parameters (frozen), or by the grid search again (rechosen).
  grid_from=()
  [ "$grid" = rechosen ] || grid_from=(--grid-from "$work/gptq-$type.gguf")
  "$mp" export -q --to gguf --type "$type" -m "$work/gptq-$type.gguf" "${grid_from[@]}" \
    -o "$work/qad-$grid-$type-step0.gguf" >/dev/null
  row "QAD $type, $grid grid" "0 (0)" "$work/qad-$grid-$type-step0.gguf"
  # One QAD run, stopped after each listed step (its checkpoint then holds that step's masters).
  out="$work/qad-$grid-$type"
  rm -rf "$out"
  wall=0
  for steps in $steps_list; do
    [ "$steps" != 0 ] || continue
    stop=()
    [ "$steps" = "$last_steps" ] || stop=(--stop-after-step "$steps")
    start=$(date +%s.%N)
    "$mp" distill-train -q --student "$model" --teacher "$model" --init-weights "$work/gptq-$type.gguf" \
      --quantize "gguf:$type" --grid "$grid" --data "$calib" --seq 256 --batch "$batch" --steps "$last_steps" --lr "$lr" \
      --min-lr "$(python3 -c "print($lr / 10)")" --warmup 10 --weight-decay 0 --checkpoint-every "$checkpoint_every" --resume \
      -t "$threads" --out "$out" "${stop[@]}" >/dev/null
    wall=$(python3 -c "print($wall + $(date +%s.%N) - $start)")
    file="$out/model-$type.gguf"
    if [ "$steps" != "$last_steps" ]; then  # the checkpoint's masters, exported as the run exports
      snap="$work/qad-$grid-$type-step$steps"
      mkdir -p "$snap"
      cp "$model/config.json" "$model/tokenizer.model" "$model/tokenizer_config.json" "$out/checkpoint/model.safetensors" "$snap/"
      file="$snap.gguf"
      "$mp" export -q --to gguf --type "$type" -m "$snap" "${grid_from[@]}" -o "$file" >/dev/null
    fi
    row "QAD $type, $grid grid" "$steps ($(printf %.0f "$wall"))" "$file"
  done
done
