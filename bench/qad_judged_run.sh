#!/usr/bin/env bash
# One quantization-aware run of docs/qad.md's llama.cpp-judged table: distill-train from a GGUF
# (`--init-weights`, e.g. a GPTQ-in-grid or size-targeted GPTQ file) on tinymix-10M, the online
# f32 teacher, full-vocabulary forward KL, then the written file judged by bench/gguf_kld_table.sh
# (llama-perplexity --kl-divergence, all of eval.txt). Prints the training wall and CPU seconds and
# the judge's row.
# Usage: bench/qad_judged_run.sh NAME INIT.gguf TYPE LR STEPS [distill-train options...]
#   e.g. bench/qad_judged_run.sh hybrid-Q2_K gptq-Q2_K.gguf Q2_K 3e-4 200 --grid hybrid
# env: WORK (default /tmp/qad-judged; the run is WORK/NAME, the file WORK/NAME.gguf), THREADS,
# BATCH, DATA (training text, default tinymix calib.txt; e.g. the teacher's own samples from
# `generate --prompts`, docs/teacher-data.md), and gguf_kld_table.sh's (LLAMACPP_BIN, KLD_WORK).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/tinymix-10M"
[ $# -ge 5 ] || { echo "usage: $0 NAME INIT.gguf TYPE LR STEPS [distill-train options...]" >&2; exit 2; }
name=$1 init=$2 type=$3 lr=$4 steps=$5
shift 5
work="${WORK:-/tmp/qad-judged}"
threads="${THREADS:-2}"
mkdir -p "$work"
out="$work/$name"
rm -rf "$out"
/usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$mp" distill-train -q --student "$model" --teacher "$model" \
  --init-weights "$init" --quantize "gguf:$type" --data "${DATA:-$shared/corpora/tinymix/calib.txt}" --seq 256 \
  --batch "${BATCH:-8}" --steps "$steps" --lr "$lr" --min-lr "$(python3 -c "print($lr / 10)")" --warmup 10 \
  --weight-decay 0 -t "$threads" "$@" --out "$out" >/dev/null
read -r wall user sys <"$work/$name.time"
echo "training: $steps steps, wall $wall s, CPU $(python3 -c "print(round($user + $sys))") s (load $(cut -d' ' -f1-3 /proc/loadavg))"
cp "$out/model-$type.gguf" "$work/$name.gguf"  # the judge's log is named by the file's basename
THREADS="$threads" bash "$root/bench/gguf_kld_table.sh" "$work/$name.gguf"
