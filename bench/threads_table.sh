#!/usr/bin/env bash
# Wall and CPU seconds of `modelpress eval` (32 chunks of 256 tokens) with 1 and 2 threads, on the
# machine as found and with one more process spinning on a core, for stories260K and tinymix-10M
# (40× larger). Prints a markdown table with the load average before each row: what else ran.
# Usage: bench/threads_table.sh [MODELPRESS_BINARY]   (env: OMP_WAIT_POLICY passes through when set)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${1:-${MODELPRESS_BUILD_DIR:-$root/build}/modelpress}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
text="$shared/corpora/tinystories/eval.txt"
spinner=""
trap '[ -z "$spinner" ] || kill "$spinner"' EXIT

echo "| model | machine | threads | wall s | CPU s | load before |"
echo "| --- | --- | --- | --- | --- | --- |"
for machine in as-found +spinner; do
  if [ "$machine" = +spinner ]; then
    bash -c 'while :; do :; done' &
    spinner=$!
  fi
  for model in stories260K tinymix-10M; do
    for threads in 1 2; do
      load="$(cut -d' ' -f1 /proc/loadavg)"
      times="$( { /usr/bin/time -f '%e %U %S' "$mp" eval -q --dtype f32 --ctx 256 --chunks 32 -t "$threads" \
                  -m "$shared/models/$model" -f "$text" >/dev/null; } 2>&1 | tail -1)"
      read -r wall user sys <<<"$times"
      echo "| $model | $machine | $threads | $wall | $(echo "$user + $sys" | bc) | $load |"
    done
  done
done
