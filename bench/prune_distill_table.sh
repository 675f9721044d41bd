#!/usr/bin/env bash
# Issue 14's pruning goal on tinymix-10M: a student pruned to a fraction of the parameters and
# distilled for a fixed budget, against the teacher, against layer dropping (--init-from-teacher
# --keep-layers) and against a from-scratch student of the pruned student's config, all trained
# with the same budget from the same cached teacher top-k. Prints a markdown table (PPL on
# held-out tinymix text, llama-perplexity's method, ctx 256) with each run's wall time.
# Usage: bench/prune_distill_table.sh [WORK_DIR]
#   env: STEPS (300), BATCH (8), SEQ (256), LR (2e-3), FRACTION (0.5), KEEP_LAYERS (0,2: the two layers of largest block influence that prune ranks),
#        CHUNKS (eval chunks, -1: all 827), THREADS (1)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
teacher="$shared/models/tinymix-10M"
data="$shared/corpora/tinymix/calib.txt"
text="$shared/corpora/tinymix/eval.txt"
steps="${STEPS:-300}" batch="${BATCH:-8}" seq="${SEQ:-256}" lr="${LR:-2e-3}"
fraction="${FRACTION:-0.5}" keep_layers="${KEEP_LAYERS:-0,2}" chunks="${CHUNKS:--1}" threads="${THREADS:-1}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"

field() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(j'"$1"')'; }
ppl() { "$mp" eval -q --json --dtype f32 --ctx 256 --chunks "$chunks" -t "$threads" -m "$1" -f "$text" | field '["ppl"]'; }
params() { "$mp" inspect --json "$1" | field '["parameters"]'; }
seconds_since() { echo $(( $(date +%s) - $1 )); }
budget=(--data "$data" --cache-teacher "$work/teacher-topk.h5" --teacher "$teacher" --steps "$steps" --batch "$batch"
        --seq "$seq" --lr "$lr" --min-lr "$(python3 -c "print($lr/10)")" --warmup 20 --threads "$threads" --quiet)

# The teacher's top-k over the training text, once, shared by every student (not in their wall times).
[ -e "$work/teacher-topk.h5" ] || "$mp" distill-train "${budget[@]}" --cache-only --init-from-teacher --keep-layers 0 --out "$work/cache" >/dev/null

# Each step whose output exists is skipped, so a run can be completed or its table printed again.
if [ ! -e "$work/pruned/model.safetensors" ]; then
  start=$(date +%s)
  "$mp" prune -q --model "$teacher" --data "$data" --out "$work/pruned" --target-params "$fraction" -t "$threads" >/dev/null
  seconds_since "$start" > "$work/pruned.seconds"
fi

# The three students train side by side (the same budget each); each run's wall time goes to WORK/NAME.seconds.
train() {  # name, student options...
  local name="$1"; shift
  [ -e "$work/$name/model.safetensors" ] && return
  local start; start=$(date +%s)
  "$mp" distill-train "${budget[@]}" --out "$work/$name" "$@" >/dev/null
  seconds_since "$start" > "$work/$name.seconds"
}
train pruned-distilled --student "$work/pruned" &
train layers-dropped --init-from-teacher --keep-layers "$keep_layers" &
train scratch --student-config "$work/pruned/config.json" &
for job in $(jobs -p); do wait "$job"; done

teacher_ppl=$(ppl "$teacher")
echo "Budget: $steps steps x $batch windows x $seq tokens = $((steps * batch * seq)) tokens, lr $lr (cosine to /10, 20 warmup),"
echo "teacher top-k (k 32) cached once; the three students train at once, $threads thread(s) each. PPL: tinymix eval.txt, ctx 256, chunks $chunks."
echo
echo "| student | parameters | PPL | vs teacher | training wall s |"
echo "| --- | --- | --- | --- | --- |"
row() { python3 -c "import sys; p=float('$3'); t=float('$teacher_ppl'); print('| $1 | $2 | %.3f | %+.1f %% | $4 |' % (p, 100*(p/t-1)))"; }
row "teacher" "$(params "$teacher")" "$teacher_ppl" "-"
row "pruned to $fraction (prune $(cat "$work/pruned.seconds") s), not trained" "$(params "$work/pruned")" "$(ppl "$work/pruned")" "-"
row "pruned + distilled" "$(params "$work/pruned-distilled")" "$(ppl "$work/pruned-distilled")" "$(cat "$work/pruned-distilled.seconds")"
row "layers $keep_layers + distilled" "$(params "$work/layers-dropped")" "$(ppl "$work/layers-dropped")" "$(cat "$work/layers-dropped.seconds")"
row "from scratch (pruned config) + distilled" "$(params "$work/scratch")" "$(ppl "$work/scratch")" "$(cat "$work/scratch.seconds")"
