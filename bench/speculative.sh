#!/usr/bin/env bash
# Speculative decoding on this machine: `speculate` (acceptance, measured step costs, predicted
# speedup per k) and the measured decode speed of `generate --draft` against plain `generate`,
# greedy and sampled (temperature 1, top-k 0, top-p 1), over prompts cut from held-out text.
# Every generation makes the same number of tokens (--ignore-eos), so speedup = plain decode wall
# seconds / speculative decode wall seconds, summed over prompts; each run is repeated and the faster
# kept, runs alternate plain/draft so load hits both alike. On a loaded machine wall time measures the
# wait for a core, so the process's CPU seconds (load, prefill and decode, all threads) are given too,
# with their speedup. Prints markdown tables and the load average.
# Usage: bench/speculative.sh TARGET DRAFT [TEXT] [THREADS...]   (env: MODELPRESS_BUILD_DIR, TOKENS, REPEATS, KS)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS_BUILD_DIR:-$root/build}/modelpress"
shared="${MODELPRESS_SHARED:-$root/../shared}"
target="$1" draft="$2"
text="${3:-$shared/corpora/tinymix/eval.txt}"
shift $(( $# >= 3 ? 3 : 2 ))
threads_list="${*:-1 2}"
tokens="${TOKENS:-160}" repeats="${REPEATS:-2}" ks="${KS:-1 2 3 4 6}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prompts: the first 12 words of 4 paragraphs spread over the text (TinyStories, then Moby Dick).
python3 - "$text" "$work" <<'PY'
import sys
paragraphs = [p.split() for p in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if len(p.split()) >= 12]
for i, at in enumerate([0.05, 0.3, 0.8, 0.95]):
    open(f"{sys.argv[2]}/prompt{i}.txt", "w").write(" ".join(paragraphs[int(at * len(paragraphs))][:12]))
PY

for threads in $threads_list; do
  echo "## threads $threads (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  "$mp" speculate --dtype f32 --target "$target" --draft "$draft" --text "$text" --max-tokens 16384 -t "$threads" -q
  echo
  : >"$work/runs.tsv"
  for mode in greedy sampled; do
    sampling="--temp 0"
    [ "$mode" = sampled ] && sampling="--temp 1 --top-k 0 --top-p 1 --seed 7"
    for prompt in "$work"/prompt*.txt; do
      for rep in $(seq "$repeats"); do
        for k in 0 $ks; do
          draft_args=""
          [ "$k" = 0 ] || draft_args="--draft $draft --draft-k $k"
          # shellcheck disable=SC2086
          /usr/bin/time -f '%U %S' -o "$work/cpu" "$mp" generate --dtype f32 -m "$target" -f "$prompt" -n "$tokens" \
              --ignore-eos $sampling $draft_args --json -q -t "$threads" >"$work/out.json"
          python3 - "$work/out.json" "$mode" "$(basename "$prompt")" "$k" "$work/cpu" >>"$work/runs.tsv" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j.get("speculative", {})
n = len(j["tokens"])
cpu = sum(float(x) for x in open(sys.argv[5]).read().split()[-2:])
print(sys.argv[2], sys.argv[3], sys.argv[4], n, n / j["decode_tokens_per_s"], cpu, s.get("accepted", 0), s.get("drafted", 0), sep="\t")
PY
        done
      done
    done
  done
  python3 - "$work/runs.tsv" <<'PY'
import collections, sys
best, cpu_best = {}, {}
for line in open(sys.argv[1]):
    mode, prompt, k, n, seconds, cpu, accepted, drafted = line.split("\t")
    key = (mode, prompt, int(k))
    row = (float(seconds), int(n), int(accepted), int(drafted))
    if key not in best or row[0] < best[key][0]:
        best[key] = row
    cpu_best[key] = min(cpu_best.get(key, float("inf")), float(cpu))
print("| mode | k | tokens | decode wall s | tokens/s | accepted / drafted | wall speedup | process CPU s | CPU speedup |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for mode in ("greedy", "sampled"):
    total = collections.defaultdict(lambda: [0.0, 0, 0, 0, 0.0])
    for (m, p, k), (s, n, a, d) in best.items():
        if m == mode:
            t = total[k]; t[0] += s; t[1] += n; t[2] += a; t[3] += d; t[4] += cpu_best[(m, p, k)]
    plain, plain_cpu = total[0][0], total[0][4]
    for k in sorted(total):
        s, n, a, d, c = total[k]
        rate = f"{a}/{d} = {a / d:.3f}" if d else "-"
        print(f"| {mode} | {k if k else 'plain'} | {n} | {s:.2f} | {n / s:.1f} | {rate} | {plain / s:.3f} | {c:.2f} | {plain_cpu / c:.3f} |")
PY
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
done
