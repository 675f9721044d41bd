#!/usr/bin/env bash
# Peak RSS of `quantize --method gptq --to gguf --type $TYPE` (Q4_K_M by default; GPTQ solved on the ggml blocks) on
# tinymix-10M, under /usr/bin/time, for each modelpress binary given (default: ./build/modelpress),
# one after the other with the same calibration. Prints a markdown row per binary and keeps each
# output as OUTDIR/<n>.gguf so that files of two builds can be compared (docs/gguf.md).
# Usage: bench/quantize_gguf_memory.sh [BINARY...]   (env: NSAMPLES, SEQLEN, TYPE, OUT: the OUTDIR)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/tinymix-10M" calib="$shared/corpora/tinymix/calib.txt"
nsamples="${NSAMPLES:-32}" seqlen="${SEQLEN:-256}" type="${TYPE:-Q4_K_M}" out="${OUT:-$(mktemp -d)}"
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("$root/build/modelpress")
for f in "$model/model.safetensors" "$calib" "${binaries[@]}"; do
  [ -e "$f" ] || { echo "quantize_gguf_memory: $f is missing" >&2; exit 1; }
done
mkdir -p "$out"
echo "# quantize --method gptq --to gguf --type $type, tinymix-10M, $nsamples×$seqlen calibration tokens, -t 1;" \
     "$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | wall s | CPU s | peak RSS MiB | output |"
echo "| --- | --- | --- | --- | --- |"
n=0
for mp in "${binaries[@]}"; do
  n=$((n + 1))
  file="$out/$n.gguf"
  OMP_WAIT_POLICY=PASSIVE /usr/bin/time -o "$out/$n.time" -f '%e %U %S %M' \
    "$mp" quantize --method gptq --to gguf --type "$type" -m "$model" -o "$file" --calib "$calib" \
    --nsamples "$nsamples" --seqlen "$seqlen" -t 1 -q >"$out/$n.log" 2>&1 || { tail -3 "$out/$n.log" >&2; exit 1; }
  read -r wall user sys rss <"$out/$n.time"
  printf '| %s | %s | %.0f | %.0f | %s |\n' "$mp" "$wall" "$(echo "$user + $sys" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$file"
done
