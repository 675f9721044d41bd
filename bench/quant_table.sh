#!/usr/bin/env bash
# PPL of RTN and GPTQ against the float model: bits 8/4/3, group 32 and per-channel, sym and asym.
# Prints a markdown table. Usage: bench/quant_table.sh [MODEL] [CALIB] [EVAL]   (env: THREADS, NSAMPLES)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="${1:-$shared/models/stories260K}"
calib="${2:-$shared/corpora/tinystories/calib.txt}"
text="${3:-$shared/corpora/tinystories/eval.txt}"
threads="${THREADS:-1}"
nsamples="${NSAMPLES:-128}"
bit_widths="${BITS:-8 4 3}"          # e.g. BITS=3 to run part of the table
with_fp32="${WITH_FP32:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ppl() { "$mp" eval -q --json --dtype f32 --ctx 256 -t "$threads" -m "$1" -f "$text" | python3 -c 'import json,sys; j=json.load(sys.stdin); print("%.4f" % j["ppl"])'; }

echo "| method | bits | group | sym | PPL |"
echo "| --- | --- | --- | --- | --- |"
[ "$with_fp32" = 1 ] && echo "| fp32 | 32 | - | - | $(ppl "$model") |"
for bits in $bit_widths; do
  for group in 32 -1; do
    for sym in --sym --asym; do
      for method in rtn gptq; do
        out="$work/$method-$bits-$group$sym"
        "$mp" quantize -q --method "$method" -m "$model" -o "$out" --bits "$bits" --group-size "$group" "$sym" \
          --calib "$calib" --nsamples "$nsamples" --seqlen 256 -t "$threads" >/dev/null
        echo "| $method | $bits | $group | ${sym#--} | $(ppl "$out") |"
        rm -rf "$out"
      done
    done
  done
done
