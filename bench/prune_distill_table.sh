#!/usr/bin/env bash
# Issue 14's pruning goal on tinymix-10M: a student pruned to a fraction of the parameters and
# distilled for a fixed budget, against the teacher, against layer dropping (--init-from-teacher
# --keep-layers) and against a from-scratch student of the pruned student's config, all trained
# with the same budget from the same cached teacher top-k. Prints a markdown table (PPL on
# held-out tinymix text, llama-perplexity's method, ctx 256) with each run's wall and CPU time.
# Usage: bench/prune_distill_table.sh [WORK_DIR]
#   env: STEPS (300), BATCH (8), SEQ (256), LR (2e-3), FRACTION (0.5), KEEP_LAYERS (0,2: the two layers of largest block influence that prune ranks),
#        CHUNKS (eval chunks, -1: all 827), THREADS (1), DATA (training text, default tinymix calib.txt),
#        CACHE_K (teacher top-k, 32), DTYPE (training compute, f32; bf16 is about twice as fast on AVX512-BF16), EVAL_EVERY (0: held-out loss on EVAL_WINDOWS windows of eval.txt every N steps, into metrics.jsonl),
#        STUDENTS ("pruned-distilled layers-dropped scratch": which train), PARALLEL (3: how many train at once)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
teacher="$shared/models/tinymix-10M"
calib="$shared/corpora/tinymix/calib.txt"
data="${DATA:-$calib}"
text="$shared/corpora/tinymix/eval.txt"
steps="${STEPS:-300}" batch="${BATCH:-8}" seq="${SEQ:-256}" lr="${LR:-2e-3}" cache_k="${CACHE_K:-32}"
fraction="${FRACTION:-0.5}" keep_layers="${KEEP_LAYERS:-0,2}" chunks="${CHUNKS:--1}" threads="${THREADS:-1}"
dtype="${DTYPE:-f32}" eval_every="${EVAL_EVERY:-0}" eval_windows="${EVAL_WINDOWS:-16}"
students="${STUDENTS:-pruned-distilled layers-dropped scratch}" parallel="${PARALLEL:-3}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"

field() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(j'"$1"')'; }
ppl() {  # model dir -> its PPL, kept in DIR.ppl-CHUNKS so a table printed again does not evaluate again
  local kept
  kept="$work/$(basename "$1").ppl-$chunks"
  if [ ! -e "$kept" ]; then  # via a temporary file: a failed eval leaves nothing to reuse
    "$mp" eval -q --json --dtype f32 --ctx 256 --chunks "$chunks" -t "$threads" -m "$1" -f "$text" | field '["ppl"]' > "$kept.tmp"
    mv "$kept.tmp" "$kept"
  fi
  cat "$kept"
}
params() { "$mp" inspect --json "$1" | field '["parameters"]'; }
seconds_since() { echo $(( $(date +%s) - $1 )); }
budget=(--data "$data" --cache-teacher "$work/teacher-top$cache_k.h5" --cache-k "$cache_k" --teacher "$teacher" --steps "$steps"
        --batch "$batch" --seq "$seq" --lr "$lr" --min-lr "$(python3 -c "print($lr/10)")" --warmup 20 --threads "$threads" --quiet)
[ "$eval_every" -gt 0 ] && budget+=(--eval-data "$text" --eval-every "$eval_every" --eval-windows "$eval_windows")

# The teacher's top-k over the training text (f32), once, shared by every student (not in their wall times).
[ -e "$work/teacher-top$cache_k.h5" ] || "$mp" distill-train "${budget[@]}" --cache-only --init-from-teacher --keep-layers 0 --out "$work/cache" >/dev/null

# Each step whose output exists is skipped, so a run can be completed or its table printed again.
# Pruning ranks on tinymix calib.txt whatever DATA is, so every DATA prunes the same student.
if [ ! -e "$work/pruned/model.safetensors" ]; then
  start=$(date +%s)
  "$mp" prune -q --model "$teacher" --data "$calib" --out "$work/pruned" --target-params "$fraction" -t "$threads" >/dev/null
  seconds_since "$start" > "$work/pruned.seconds"
fi

# The students train PARALLEL at a time (the same budget each); each run's wall and CPU (user +
# system) seconds go to WORK/NAME.time, and the load average at its end to WORK/NAME.load.
train() {  # name, student options...
  local name="$1"; shift
  [ -e "$work/$name/model.safetensors" ] && return
  /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$mp" distill-train "${budget[@]}" --dtype "$dtype" --out "$work/$name" "$@" >/dev/null
  cut -d' ' -f1-3 /proc/loadavg > "$work/$name.load"
}
options() {  # name -> its student options
  case "$1" in
    pruned-distilled) echo --student "$work/pruned" ;;
    layers-dropped) echo --init-from-teacher --keep-layers "$keep_layers" ;;
    scratch) echo --student-config "$work/pruned/config.json" ;;
    *) echo "prune_distill_table.sh: unknown student $1" >&2; exit 3 ;;
  esac
}
for name in $students; do
  while [ "$(jobs -pr | wc -l)" -ge "$parallel" ]; do wait -n; done
  # shellcheck disable=SC2046
  train "$name" $(options "$name") &
done
for job in $(jobs -p); do wait "$job"; done

teacher_ppl=$(ppl "$teacher")
echo "Budget: $steps steps x $batch windows x $seq tokens = $((steps * batch * seq)) tokens of $(basename "$(dirname "$data")")/$(basename "$data"), lr $lr (cosine to /10, 20 warmup), $dtype compute,"
echo "teacher top-k (k $cache_k) cached once; $parallel student(s) train at once, $threads thread(s) each. PPL: tinymix eval.txt, ctx 256, chunks $chunks."
echo
echo "| student | parameters | PPL | vs teacher | training wall s | CPU s | load at end |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() { python3 -c "import sys; p=float('$3'); t=float('$teacher_ppl'); print('| $1 | $2 | %.3f | %+.1f %% | $4 |' % (p, 100*(p/t-1)))"; }
timing() {  # name -> "wall | cpu | load" of its training
  [ -e "$work/$1.time" ] || { echo "- | - | -"; return; }
  read -r wall user sys < <(tail -1 "$work/$1.time")
  python3 -c "print('%.0f | %.0f | $(cat "$work/$1.load")' % ($wall, $user + $sys))"
}
row "teacher" "$(params "$teacher")" "$teacher_ppl" "- | - | -"
row "pruned to $fraction (prune $(cat "$work/pruned.seconds") s), not trained" "$(params "$work/pruned")" "$(ppl "$work/pruned")" "- | - | -"
describe() {
  case "$1" in
    pruned-distilled) echo "pruned + distilled" ;;
    layers-dropped) echo "layers $keep_layers + distilled" ;;
    scratch) echo "from scratch (pruned config) + distilled" ;;
  esac
}
for name in pruned-distilled layers-dropped scratch; do  # every student trained in WORK so far
  [ -e "$work/$name/model.safetensors" ] || continue
  row "$(describe "$name")" "$(params "$work/$name")" "$(ppl "$work/$name")" "$(timing "$name")"
done
