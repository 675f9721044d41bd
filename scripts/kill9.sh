#!/usr/bin/env bash
# kill -9 harness (docs/reliability.md, "Faults"): runs quantize, export, distill-train, tokenize and
# imatrix on stories260K and quantize-gguf (quantize --to gguf, GPTQ on the k-quant blocks) on
# tinymix-10M, whose rows hold them, kills each with SIGKILL after a random delay (seeded, spread over an
# uninterrupted run's duration) and checks that
#   - the output path then holds nothing or a complete output (the previous version, placed there
#     before every other kill, or the new one if the run had finished): never a partial file under
#     the final name;
#   - the next run (`--resume` where the tool has it: quantize, quantize-gguf, distill-train) exits 0 and writes
#     files whose sha256 equal the uninterrupted run's.
# Prints a table per tool; exit 1 on any violation.
#   scripts/kill9.sh [--points N] [--seed S] [--modelpress PATH] [TOOL...]
# N defaults to $MODELPRESS_KILL9_POINTS or 10 (the issue's bar is 50).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
points="${MODELPRESS_KILL9_POINTS:-10}"
seed=15
modelpress="$root/build/modelpress"
tools=()
while [ $# -gt 0 ]; do
  case "$1" in
    --points) points="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --modelpress) modelpress="$2"; shift 2 ;;
    *) tools+=("$1"); shift ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || tools=(quantize quantize-gguf export distill-train tokenize imatrix)

shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/stories260K"
kquant_model="$shared/models/tinymix-10M"
for needed in "$modelpress" "$model/model.safetensors" "$kquant_model/model.safetensors" "$shared/corpora/tinystories/calib.txt"; do
  [ -e "$needed" ] || { echo "kill9: missing $needed" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
head -c 20000 "$shared/corpora/tinystories/calib.txt" >"$work/text.txt"
"$modelpress" tokenize --tokenizer "$model" --out "$work/tokens.h5" -t 1 "$work/text.txt" >/dev/null

# Per tool: the output path, the command, whether it resumes, and which files make its result
# (manifest.json and metrics.jsonl hold wall-clock times, and so do the manifest's temporaries and lock a
# kill leaves; distill-train's checkpoint/ is resume state).
command_for() {
  case "$1" in
    quantize) echo "quantize -q -m $model -o $work/out --method gptq --nsamples 8 --seqlen 64 --calib $work/text.txt --group-size 32 -t 1" ;;
    quantize-gguf) echo "quantize -q -m $kquant_model -o $work/out --method gptq --to gguf --type Q4_K_M --nsamples 4 --seqlen 64 --calib $work/text.txt -t 1" ;;
    export) echo "export -m $model --to gguf --type Q4_K_M -o $work/out -t 1 -q" ;;
    distill-train) echo "distill-train --student-config $model/config.json --data $work/tokens.h5 --seq 32 --steps 12 --batch 2 --warmup 2 --lr 3e-3 --checkpoint-every 2 --threads 1 --quiet --seed 3 --out $work/out" ;;
    tokenize) echo "tokenize --tokenizer $model --out $work/out -t 1 $work/text.txt" ;;
    imatrix) echo "imatrix -m $model -f $work/text.txt -o $work/out -c 64 --chunks 16 -t 1 -q" ;;
    *) echo "kill9: unknown tool $1" >&2; exit 2 ;;
  esac
}
resumes() { [ "$1" = quantize ] || [ "$1" = quantize-gguf ] || [ "$1" = distill-train ]; }

# sha256 of each file of the result at $work/out ("absent" when there is none).
result_files() {
  local out="$work/out"
  if [ ! -e "$out" ]; then echo absent; return; fi
  if [ -f "$out" ]; then sha256sum <"$out"; return; fi
  (cd "$out" && find . -type f ! -name manifest.json ! -name '.manifest.json.*' ! -name metrics.jsonl ! -path './checkpoint/*' -print0 |
    sort -z | xargs -0 -r sha256sum)
}
result_hash() { result_files | sha256sum; }
# Names the files that differ from the uninterrupted run's.
report_difference() {
  diff <(echo "$reference_files") <(result_files) | grep '^[<>]' | sed "s/^/kill9:   /" >&2 || true
}

# distill-train makes OUT when it starts and fills it as it trains: its result is model.safetensors.
has_result() {
  case "$1" in
    distill-train) [ -e "$work/out/model.safetensors" ] ;;
    *) [ -e "$work/out" ] ;;
  esac
}

RANDOM=$seed
status=0
printf '%-14s %6s %8s %10s %10s %9s %8s\n' tool kills finished partial leftovers next-run identical
for tool in "${tools[@]}"; do
  cmd="$(command_for "$tool")"
  # The kill delays spread over the faster of two uninterrupted runs (the first warms the caches).
  duration_ms=0
  for run in 1 2; do
    rm -rf "$work/out" "$work"/.out.*
    start=$(date +%s%N)
    $modelpress $cmd >/dev/null 2>&1
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ $run -eq 1 ] || [ $elapsed_ms -lt $duration_ms ]; then duration_ms=$elapsed_ms; fi
  done
  reference="$(result_hash)"
  reference_files="$(result_files)"
  cp -a "$work/out" "$work/previous"
  kills=0 finished=0 partial=0 leftovers=0 next_ok=0 identical=0
  for ((i = 0; i < points; i++)); do
    rm -rf "$work/out" "$work"/.out.*
    # Every other kill finds the previous complete output in place (distill-train refuses an OUT that
    # holds a finished run, so it always starts empty).
    if [ $((i % 2)) -eq 1 ] && [ "$tool" != distill-train ]; then cp -a "$work/previous" "$work/out"; fi
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % (duration_ms + 1) ))
    $modelpress $cmd >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null || true
    if has_result "$tool" && [ "$(result_hash)" != "$reference" ]; then
      partial=$((partial + 1))
      echo "kill9: $tool, kill $i after ${delay_ms} ms: the output path holds an incomplete result" >&2
      report_difference
    fi
    # Temporaries a SIGKILL cannot clean up (the next run must cope with them).
    leftovers=$((leftovers + $(find "$work" -maxdepth 1 \( -name '*.partial-*' -o -name '.out.*' \) | wc -l)))
    next=""
    if resumes "$tool"; then next="--resume"; fi
    if [ "$tool" = distill-train ] && ! has_result "$tool" && [ ! -d "$work/out/checkpoint" ]; then
      rm -rf "$work/out"  # killed before its first checkpoint: nothing to resume, start again
    fi
    if [ "$tool" = distill-train ] && has_result "$tool"; then
      next_ok=$((next_ok + 1)); identical=$((identical + 1)); continue  # it had finished
    fi
    if $modelpress $cmd $next >/dev/null 2>"$work/next.err"; then
      next_ok=$((next_ok + 1))
      if [ "$(result_hash)" = "$reference" ]; then identical=$((identical + 1))
      else
        echo "kill9: $tool, kill $i after ${delay_ms} ms: the run after the kill wrote different bytes" >&2
        report_difference
      fi
    else
      echo "kill9: $tool, kill $i: the run after the kill failed: $(head -1 "$work/next.err")" >&2
    fi
  done
  rm -rf "$work/previous"
  printf '%-14s %6s %8s %10s %10s %9s %8s\n' "$tool" "$kills" "$finished" "$partial" "$leftovers" "$next_ok/$points" \
    "$identical/$points"
  if [ $partial -ne 0 ] || [ $next_ok -ne "$points" ] || [ $identical -ne "$points" ]; then status=1; fi
done
exit $status
