#!/usr/bin/env bash
# Peak RSS, wall and CPU seconds of `modelpress eval` by the stored form of the model: stories260K (f32)
# and a bf16 copy of it, tinymix-10M (bf16), and each exported to Q4_K_M GGUF, and optionally a synthetic model with
# Llama-7B layer shapes exported to Q4_K_M (SYN7B_LAYERS=L decoder layers; written by bench_export).
# Each binary given is run on the same files, so a build of main and of a branch compare side by side.
# Prints a markdown table (docs/performance.md, "Memory of eval").
# Usage: bench/eval_memory.sh [MODELPRESS_BINARY ...]   (env: WORK=dir for the model files,
#        SYN7B_LAYERS, THREADS; run it under nice on a shared machine)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
[ $# -gt 0 ] || set -- "$build/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
work="${WORK:-/tmp/modelpress-eval-memory}"
threads="${THREADS:-2}"
text="$shared/corpora/tinystories/eval.txt"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p "$work"

# An HF directory with every f32 tensor rounded to bf16 (round to nearest even), config saying so.
to_bf16() {
  python3 - "$1" "$2" <<'PY'
import json, shutil, struct, sys, os, array
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for name in os.listdir(src):
    if name != "model.safetensors" and os.path.isfile(os.path.join(src, name)): shutil.copy(os.path.join(src, name), dst)
with open(os.path.join(src, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
out, offset = bytearray(), 0
for key, info in header.items():
    if key == "__metadata__": continue
    begin, end = info["data_offsets"]
    words = array.array("I", data[begin:end])
    halves = array.array("H", [((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words])
    info["dtype"], info["data_offsets"] = "BF16", [offset, offset + 2 * len(halves)]
    out += halves.tobytes()
    offset += 2 * len(halves)
blob = json.dumps(header).encode()
blob += b" " * (-len(blob) % 8)
with open(os.path.join(dst, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(blob)) + blob + out)
config = json.load(open(os.path.join(src, "config.json")))
config["torch_dtype"] = "bfloat16"
json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)
PY
}

models=()
for name in stories260K tinymix-10M; do
  models+=("$shared/models/$name")
  if ! grep -q '"torch_dtype": "bfloat16"' "$shared/models/$name/config.json"; then  # tinymix is stored in bf16
    [ -d "$work/$name-bf16" ] || to_bf16 "$shared/models/$name" "$work/$name-bf16"
    models+=("$work/$name-bf16")
  fi
  [ -f "$work/$name-Q4_K_M.gguf" ] || "$1" export -q -m "$shared/models/$name" --type Q4_K_M -o "$work/$name-Q4_K_M.gguf" >/dev/null
  models+=("$work/$name-Q4_K_M.gguf")
done
if [ -n "${SYN7B_LAYERS:-}" ]; then
  syn="$work/llama7b-${SYN7B_LAYERS}L-Q4_K_M.gguf"
  if [ ! -f "$syn" ]; then
    # bench_export writes the f32 model to /tmp once; an unknown type makes it stop there.
    "$build/bench_export" --layers "$SYN7B_LAYERS" --shared "$shared" none >/dev/null 2>&1 || true
    "$1" export -q -t "$threads" -m "/tmp/modelpress-bench-llama7b-$SYN7B_LAYERS" --type Q4_K_M -o "$syn" >/dev/null
  fi
  models+=("$syn")
fi

echo "| model | file MiB | binary | dtype | wall s | CPU s | peak RSS MiB | PPL |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for model in "${models[@]}"; do
  size=$(du -smL "$model" | cut -f1)
  chunks=8 ctx=256
  case "$model" in *llama7b*) chunks=2 ctx=128 ;; esac
  for binary in "$@"; do
    for dtype in f32 bf16; do
      out="$( { /usr/bin/time -f 'TIME %e %U %S %M' "$binary" eval -q --ctx "$ctx" --chunks "$chunks" -t "$threads" \
                 --dtype "$dtype" -m "$model" -f "$text"; } 2>&1)"
      read -r _ wall user sys kib <<<"$(grep '^TIME' <<<"$out")"
      ppl="$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' <<<"$out")"
      echo "| $(basename "$model") | $size | $binary | $dtype | $wall | $(echo "$user + $sys" | bc) | $((kib / 1024)) | $ppl |"
    done
  done
done
