#!/usr/bin/env bash
# Peak RSS of `quantize --method gptq --to gguf --type Q4_K_M` (GPTQ solved on the ggml blocks) on
# tinymix-10M, under /usr/bin/time, for each modelpress binary given (default: ./build/modelpress),
# one after the other with the same calibration. Prints a markdown row per binary and keeps each
# output as OUTDIR/<n>.gguf so that files of two builds can be compared (docs/gguf.md).
# Usage: bench/quantize_gguf_memory.sh [--nsamples K] [--seqlen T] [--type T] [--out OUTDIR] [BINARY...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${MODELPRESS_SHARED:-$root/../shared}"
model="$shared/models/tinymix-10M" calib="$shared/corpora/tinymix/calib.txt"
nsamples=32 seqlen=256 type=Q4_K_M out="$(mktemp -d)"
binaries=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nsamples) nsamples="$2"; shift 2 ;;
    --seqlen) seqlen="$2"; shift 2 ;;
    --type) type="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) binaries+=("$1"); shift ;;
  esac
done
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
