#!/usr/bin/env bash
# Do two builds quantize with GPTQ to the same bytes? For each build directory given: the SHA-256 of
# codes, scales, zeros and g_idx of bench_gptq's 4096×4096 solve (--quick --square-only, with and
# without --act-order), and of every tensor of a stories260K GPTQ checkpoint (quantize --method gptq
# --bits 4 --group-size 32 --nsamples 16 --seqlen 128 on TinyStories' calib.txt, with and without
# --act-order; the header's provenance strings are left out, bench/safetensors_tensor_hashes.py).
# With two builds the two lists are compared and the script exits 1 if they differ. The benches'
# whole outputs (timings too) are kept in WORK (default: a new temporary directory).
#
#   bench/gptq_same_bytes.sh BUILD_DIR [OTHER_BUILD_DIR]     (env THREADS, default 2; WORK)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shared="${SHARED:-$here/../../shared}"
[ -d "$shared/models/stories260K" ] || shared=/work/shared
threads="${THREADS:-2}"
work="${WORK:-$(mktemp -d)}"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [OTHER_BUILD_DIR]" >&2
  exit 2
fi

digests() {  # BUILD_DIR OUT_FILE
  local build="$1" out="$2" name
  : >"$out"
  for order in "" --act-order; do
    name="bench_gptq${order:+ $order}"
    "$build/bench_gptq" --quick --square-only --sha256 --threads "$threads" $order | tee -a "$out.log" |
      sed -n "s/^  sha256 /$name /p" >>"$out"
    rm -rf "$work/ckpt"
    "$build/modelpress" quantize --method gptq --bits 4 --group-size 32 --nsamples 16 --seqlen 128 \
      --calib "$shared/corpora/tinystories/calib.txt" --threads "$threads" $order \
      -m "$shared/models/stories260K" -o "$work/ckpt" --quiet
    python3 "$here/safetensors_tensor_hashes.py" "$work/ckpt" | sed "s/^/stories260K${order:+ $order} /" >>"$out"
  done
}

digests "$1" "$work/a.txt"
if [ $# -eq 1 ]; then
  cat "$work/a.txt"
  exit 0
fi
digests "$2" "$work/b.txt"
if diff "$work/a.txt" "$work/b.txt"; then
  echo "same bytes: $(wc -l <"$work/a.txt") digests ($1, $2)"
else
  echo "DIFFERENT bytes ($1, $2)"
  exit 1
fi
