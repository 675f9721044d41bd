#!/usr/bin/env bash
# The main job on built-in defaults, no model needed (docs/demo.md): train a tokenizer and a small
# teacher from scratch on Moby Dick, distill a 2-layer student from it, quantize both with GPTQ and
# AWQ, export GGUF, and print one table comparing everything against the teacher on held-out text.
# The same steps as recipes/demo.yaml. Usage: bash scripts/demo.sh [WORK_DIR] (default ./demo-out);
# MODELPRESS_THREADS sets --threads (default: one per core). Rerunnable: each run starts over.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-debian.sh"
bash "$root/scripts/fetch-data.sh"
bash "$root/scripts/build.sh"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
out="${1:-demo-out}"
threads="${MODELPRESS_THREADS:-$(nproc)}"
data="$root/.cache/data/moby-dick-train.txt"
heldout="$root/.cache/data/moby-dick-heldout.txt"
recipe="$root/recipes/demo"
start=$SECONDS

step() {
  echo "== $*" >&2
  "$mp" "$@"
}

# A rerun starts over: every output of a previous run is removed (and nothing else in the dir).
for artifact in tokenizer teacher student teacher-top32.h5 {teacher,student}-{gptq,awq}-4bit \
  teacher-q8_0.gguf student-q4_0.gguf table.txt; do
  rm -rf "${out:?}/$artifact"
done
mkdir -p "$out"
step tokenizer-train --text "$data" --vocab-size 512 --out "$out/tokenizer"
step distill-train --student-config "$recipe/teacher-config.json" --tokenizer "$out/tokenizer" \
  --data "$data" --out "$out/teacher" --steps 200 --batch 16 --seq 128 \
  --lr 3e-3 --min-lr 3e-4 --warmup 20 --seed 1 --threads "$threads"
step distill-train --teacher "$out/teacher" --init-from-teacher --keep-layers 0,3 \
  --cache-teacher "$out/teacher-top32.h5" --data "$out/teacher/moby-dick-train.tokens.h5" --out "$out/student" \
  --steps 100 --batch 16 --seq 128 --lr 2e-3 --min-lr 2e-4 --warmup 10 --seed 1 --threads "$threads"
for model in teacher student; do
  for method in gptq awq; do
    step quantize --method "$method" --model "$out/$model" --out "$out/$model-$method-4bit" --bits 4 \
      --group-size 32 --calib "$data" --nsamples 32 --seqlen 128 --threads "$threads" --quiet
  done
done
step export --to gguf --type Q8_0 --model "$out/teacher" --output "$out/teacher-q8_0.gguf" --quiet
step export --to gguf --type Q4_0 --model "$out/student" --output "$out/student-q4_0.gguf" --quiet
echo "== compare (held-out Moby Dick, reference: the teacher)" >&2
"$mp" compare --reference "$out/teacher" --text "$heldout" --ctx 128 --threads "$threads" --quiet \
  "$out/teacher" "$out/teacher-gptq-4bit" "$out/teacher-awq-4bit" "$out/teacher-q8_0.gguf" \
  "$out/student" "$out/student-gptq-4bit" "$out/student-awq-4bit" "$out/student-q4_0.gguf" |
  tee "$out/table.txt"
echo "demo: $((SECONDS - start)) s after the build; outputs in $out"
