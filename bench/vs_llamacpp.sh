#!/usr/bin/env bash
# modelpress side by side with llama.cpp's CLI tools (issue 16's table), on the same files, in one run.
# The model: a ~410M-parameter Llama-shaped checkpoint in bf16 shards (write_llama1b: 24 layers,
# hidden 1024, FFN 4096, 16 query / 8 KV heads of 64, vocab 32000 with Llama 2's tokenizer.model,
# tied embeddings; random N(0, 0.02) weights), converted by modelpress to an F32 and a BF16 GGUF for
# llama.cpp. Rows (every one: --threads 2, 4 chunks × 256 tokens of TinyStories' eval.txt,
# whole-process wall time, CPU time and peak RSS from /usr/bin/time, median of RUNS interleaved runs,
# the tool that goes first alternating between runs):
#   ppl f32 weights      llama-perplexity on the F32 GGUF   | eval --dtype f32 on the bf16 shards
#   ppl f32, auto        llama-perplexity on the F32 GGUF   | eval (default --dtype auto) on the same F32 GGUF
#   ppl Q4_K_M           llama-perplexity on the Q4_K_M GGUF | eval --dtype f32 on the same file
#   ppl Q4_K_M, auto     llama-perplexity on the Q4_K_M GGUF | eval (default --dtype auto) on it
#   ppl bf16 weights     llama-perplexity on the BF16 GGUF  | eval (default --dtype auto) on the shards
#   Q4_K_M export        llama-quantize F32 GGUF, 2 threads  | export -t 2 from the bf16 shards
# then checks that both Q4_K_M files hold the same tensor bytes and prints each row's PPLs.
#
# Usage: bench/vs_llamacpp.sh [--dir DIR] [--runs N] [--threads N] [--rows "ROW ..."]
# env: MODELPRESS_BUILD_DIR (modelpress, write_llama1b; default ./build), MODELPRESS_SHARED,
#      LLAMACPP_BIN (llama-perplexity, llama-quantize; default .cache/llama.cpp-build/bin from
#      scripts/build-llamacpp-tools.sh). DIR (default /tmp/modelpress-vs-llamacpp) keeps the
#      checkpoint and the GGUF conversions for later runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
bin="${LLAMACPP_BIN:-$root/.cache/llama.cpp-build/bin}"
dir=/tmp/modelpress-vs-llamacpp runs=3 threads=2
rows="ppl-f32 ppl-f32-auto ppl-q4km ppl-q4km-auto ppl-bf16 export-q4km"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2" ;;
    --runs) runs="$2" ;;
    --threads) threads="$2" ;;
    --rows) rows="$2" ;;
    *) echo "vs_llamacpp.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
mp="$build/modelpress" text="$shared/corpora/tinystories/eval.txt"
for f in "$mp" "$build/write_llama1b" "$bin/llama-perplexity" "$bin/llama-quantize" "$text" \
         "$shared/tokenizer-vectors/llama2-tokenizer.model"; do
  [ -e "$f" ] || { echo "vs_llamacpp.sh: $f is missing (scripts/build.sh, scripts/build-llamacpp-tools.sh, ../shared)" >&2; exit 1; }
done
model="$dir/model" logs="$dir/logs" times="$dir/times"
mkdir -p "$logs"
rm -rf "$times" && mkdir -p "$times"

echo "# modelpress vs llama.cpp, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $threads threads, $runs runs"
echo "load before: $(uptime)"
if [ ! -f "$model/model.safetensors.index.json" ]; then
  "$build/write_llama1b" "$model" --layers 24 --hidden 1024 --ffn 4096 --heads 16 --kv-heads 8 --vocab 32000 \
    --shard-mib 400 >"$logs/write.log"
fi
[ -f "$model/tokenizer.model" ] || cp "$shared/tokenizer-vectors/llama2-tokenizer.model" "$model/tokenizer.model"
tail -1 "$logs/write.log" 2>/dev/null || true
# llama.cpp reads GGUF only: the F32 file is its f32 baseline and llama-quantize's input, the BF16
# file its bf16 one (bf16 values are exact in both).
for type in F32 BF16; do
  [ -f "$dir/$type.gguf" ] || "$mp" export -q --to gguf --type "$type" -t "$threads" -m "$model" -o "$dir/$type.gguf" >"$logs/$type.log"
done
# The Q4_K_M file both tools evaluate: llama-quantize's (the export row rewrites it identically).
[ -f "$dir/Q4_K_M.gguf" ] || "$bin/llama-quantize" "$dir/F32.gguf" "$dir/Q4_K_M.gguf" Q4_K_M "$threads" >"$logs/quantize.log" 2>&1
echo "files: $(du -sh "$model" | cut -f1) bf16 shards, $(du -h "$dir/F32.gguf" | cut -f1) F32, $(du -h "$dir/BF16.gguf" | cut -f1) BF16, $(du -h "$dir/Q4_K_M.gguf" | cut -f1) Q4_K_M GGUF"

ppl_llama=("$bin/llama-perplexity" --no-repack -c 256 --chunks 4 -t "$threads" -f "$text" -m)
ppl_mp=("$mp" eval -q --ctx 256 --chunks 4 -t "$threads" -f "$text")
# row_command ROW TOOL OUT: sets `cmd` to the command TOOL (llama or modelpress) runs for ROW;
# OUT is where an export writes.
row_command() {
  local out="$3"
  case "$1/$2" in
    ppl-f32/llama | ppl-f32-auto/llama) cmd=("${ppl_llama[@]}" "$dir/F32.gguf") ;;
    ppl-f32/modelpress) cmd=("${ppl_mp[@]}" --dtype f32 -m "$model") ;;
    ppl-f32-auto/modelpress) cmd=("${ppl_mp[@]}" -m "$dir/F32.gguf") ;;
    ppl-q4km/llama | ppl-q4km-auto/llama) cmd=("${ppl_llama[@]}" "$dir/Q4_K_M.gguf") ;;
    ppl-q4km/modelpress) cmd=("${ppl_mp[@]}" --dtype f32 -m "$dir/Q4_K_M.gguf") ;;
    ppl-q4km-auto/modelpress) cmd=("${ppl_mp[@]}" -m "$dir/Q4_K_M.gguf") ;;
    ppl-bf16/llama) cmd=("${ppl_llama[@]}" "$dir/BF16.gguf") ;;
    ppl-bf16/modelpress) cmd=("${ppl_mp[@]}" -m "$model") ;;
    export-q4km/llama) cmd=("$bin/llama-quantize" "$dir/F32.gguf" "$out" Q4_K_M "$threads") ;;
    export-q4km/modelpress) cmd=("$mp" export -q --to gguf --type Q4_K_M -t "$threads" -m "$model" -o "$out") ;;
  esac
}

# measure ROW TOOL RUN: appends "wall_s peak_kib cpu_s" to $times/ROW.TOOL; the log keeps the output.
measure() {
  local name="$1" tool="$2" run="$3" log="$logs/$1.$2.$3.log"
  row_command "$name" "$tool" "$dir/$name.$tool.gguf"
  /usr/bin/time -f 'TIME %e %M %U %S' -o "$log.time" "${cmd[@]}" >"$log" 2>&1 ||
    { echo "vs_llamacpp.sh: $name ($tool) failed, see $log" >&2; tail -3 "$log" >&2; exit 1; }
  awk '/^TIME/ { print $2, $3, $4 + $5 }' "$log.time" >>"$times/$name.$tool"
}
for run in $(seq 1 "$runs"); do
  for name in $rows; do
    if [ $((run % 2)) -eq 1 ]; then order="llama modelpress"; else order="modelpress llama"; fi
    for tool in $order; do measure "$name" "$tool" "$run"; done
  done
  echo "run $run of $runs done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done

# median COLUMN FILE: the median of a column (1 wall s, 2 peak KiB, 3 CPU s) over the runs.
median() { awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
label() {
  case "$1" in
    ppl-f32) echo "perplexity, f32 weights (llama: F32 GGUF; modelpress: bf16 shards, --dtype f32)" ;;
    ppl-f32-auto) echo "perplexity, F32 GGUF (modelpress default: --dtype auto)" ;;
    ppl-q4km) echo "perplexity, Q4_K_M GGUF (modelpress --dtype f32)" ;;
    ppl-q4km-auto) echo "perplexity, Q4_K_M GGUF (modelpress default: --dtype auto)" ;;
    ppl-bf16) echo "perplexity, bf16 weights (llama: BF16 GGUF; modelpress: bf16 shards, --dtype auto)" ;;
    export-q4km) echo "Q4_K_M export (llama: llama-quantize from the F32 GGUF; modelpress: from the bf16 shards)" ;;
  esac
}
echo
echo "| job | llama.cpp s | CPU s | peak GiB | modelpress s | CPU s | peak GiB | llama.cpp s / modelpress s |"
echo "|---|---|---|---|---|---|---|---|"
for name in $rows; do
  l="$times/$name.llama" m="$times/$name.modelpress"
  awk -v job="$(label "$name")" -v lw="$(median 1 "$l")" -v lc="$(median 3 "$l")" -v lr="$(median 2 "$l")" \
      -v mw="$(median 1 "$m")" -v mc="$(median 3 "$m")" -v mr="$(median 2 "$m")" \
      'BEGIN { printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", job, lw, lc, lr / 2^20, mw, mc, mr / 2^20, lw / mw }'
done
echo
echo "load after: $(uptime)"
echo
# The same work on both sides: the perplexities of the last run, and the two Q4_K_M files' tensor data.
echo "| job | llama.cpp PPL | modelpress PPL |"
echo "|---|---|---|"
for name in $rows; do
  [ "$name" != export-q4km ] || continue
  echo "| $name | $(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$logs/$name.llama.$runs.log") |" \
       "$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$logs/$name.modelpress.$runs.log") |"
done
case " $rows " in *" export-q4km "*) ;; *) exit 0 ;; esac
sums="$(python3 "$root/bench/gguf_tensor_data.py" "$dir/export-q4km.llama.gguf" "$dir/export-q4km.modelpress.gguf")"
echo
echo "Q4_K_M tensor data (sha256, bytes):"
echo "$sums"
[ "$(echo "$sums" | cut -d' ' -f1-2 | uniq | wc -l)" -eq 1 ] && echo "same tensor bytes" || echo "TENSOR BYTES DIFFER"
