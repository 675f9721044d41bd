#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) into ./build-fuzz with clang, then runs each for
# SECONDS (default 60) and prints a table: executions, crashes, timeouts/hangs, out-of-memory, and
# sanitizer reports. Exit 1 if any target found something; the inputs are in build-fuzz/findings/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default: every target)
# MODELPRESS_FUZZ_RUNS=N stops each target after N executions if that comes first (the long run of
# docs/reliability.md: 10000000). MODELPRESS_FUZZ_FORK=N runs each target in libFuzzer's fork mode,
# N worker processes at a time, whose executions add up (one slow target on all cores).
# The corpora (build-fuzz/corpus/TARGET) persist, so runs continue where the last one stopped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
shift || true

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
# As scripts/build.sh: without it -g puts the build directory into ccache's key.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMODELPRESS_FUZZ=ON >/dev/null
fi
# A cold build under ASan: low priority, so other work on the machine goes first.
nice -n 19 cmake --build "$build" -j "${MODELPRESS_BUILD_JOBS:-2}" >/dev/null

# Seeds: small files made by fuzz_seeds.py, plus files modelpress writes when a normal build exists.
seeds="$build/seeds"
if [ ! -f "$seeds/.done" ]; then
  rm -rf "$seeds"
  python3 "$root/scripts/fuzz_seeds.py" "$seeds" "$root"
  modelpress="$root/build/modelpress"
  if [ -x "$modelpress" ]; then
    model="$root/../shared/models/stories260K"
    work="$(mktemp -d)"
    head -c 3000 "$root/../shared/corpora/tinystories/eval.txt" >"$work/text.txt"
    mkdir -p "$seeds/fuzz_hdf5_datasets" "$seeds/fuzz_imatrix"
    "$modelpress" tokenize --tokenizer "$model" --out "$seeds/fuzz_hdf5_datasets/tokens.h5" -t 1 "$work/text.txt" >/dev/null
    head -c 600 "$work/text.txt" >"$work/short.txt"
    "$modelpress" tokenize --tokenizer "$model" --out "$work/short.h5" -t 1 "$work/short.txt" >/dev/null
    "$modelpress" distill-train --teacher "$model" --init-from-teacher --keep-layers 0 --data "$work/short.h5" \
      --cache-teacher "$seeds/fuzz_hdf5_datasets/teacher-cache.h5" --cache-only --cache-k 4 --seq 32 \
      --out "$work/student" -t 1 >/dev/null 2>&1
    for format in gguf dat; do
      "$modelpress" imatrix -m "$model" -f "$work/text.txt" -o "$seeds/fuzz_imatrix/stories260K.$format" \
        --format "$format" -c 64 --chunks 2 -t 1 -q >/dev/null
    done
    rm -rf "$work" "$seeds"/*/*.manifest.json
  else
    echo "fuzz: no $modelpress (scripts/build.sh): HDF5 and tool-written imatrix seeds left out" >&2
  fi
  touch "$seeds/.done"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz_*; do [ -x "$bin" ] && targets+=("$(basename "$bin")"); done
fi

# Replays a fuzz_hdf5_datasets crash or out-of-memory: whichever comes first in its stacks, a frame in
# libhdf5 or one in modelpress's sources, says whose it was. One that does not fail again is modelpress's.
crashed_in_libhdf5() {
  local report
  report=$(ASAN_OPTIONS="$target_asan" "$build/fuzz_hdf5_datasets" -detect_leaks=0 "$1" 2>&1 || true)
  [ "$(awk '/^ +#[0-9]+ / && /libhdf5_serial|\/(formats|lib|distill|quant|tests)\/[^ ]*:[0-9]+/ {
             print (/libhdf5_serial/ ? "libhdf5" : "modelpress"); exit }' <<<"$report")" = libhdf5 ]
}

finishes_in_fresh_process() {
  ASAN_OPTIONS="$target_asan" timeout 60 "$build/fuzz_hdf5_datasets" -detect_leaks=0 -timeout=10 "$1" >/dev/null 2>&1
}

# Moves this run's inputs named PATTERN that COMMAND accepts to findings/libhdf5/; prints how many.
set_aside() {
  local pattern=$1 input moved=0
  shift
  mkdir -p "$build/findings/libhdf5"
  while IFS= read -r input; do
    if "$@" "$input"; then
      mv "$input" "$build/findings/libhdf5/"
      moved=$((moved + 1))
    fi
  done < <(find "$build/findings" -maxdepth 1 -name "$pattern" -newer "$build/logs/$target.started")
  echo "$moved"
}

mkdir -p "$build/findings" "$build/logs"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
printf '%-28s %12s %8s %9s %5s %10s\n' target executions crashes timeouts oom sanitizer
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  findings="$build/findings/$target-"
  log="$build/logs/$target.log"
  mkdir -p "$corpus" "$seeds/$target"
  # fuzz_hdf5_datasets runs libhdf5 in its own process (tests/fuzz/asan.supp): libhdf5's memory
  # errors are not findings, and a huge malloc of its own gets NULL, as from glibc, which libhdf5
  # handles. Its free lists keep memory between inputs, which would make libFuzzer scan the whole
  # heap for leaks after every input (30 ms), so its leaks are left to the check at exit. libhdf5
  # also crashes on some files, so it runs in fork mode, which goes on after a crash; each crash is
  # then sorted by crashed_in_libhdf5.
  target_flags=() target_asan="" fork="${MODELPRESS_FUZZ_FORK:-}"
  if [ "$target" = fuzz_hdf5_datasets ]; then
    target_flags=(-detect_leaks=0 -ignore_crashes=1) fork="${fork:-1}"
    target_asan="suppressions=$root/tests/fuzz/asan.supp:allocator_may_return_null=1:max_allocation_size_mb=2048"
  fi
  # Inputs of fixed findings (tests/fuzz/regressions/TARGET/) run first, under the sanitizers that
  # found them: a UBSan finding shows again only in an instrumented build.
  regressions=()
  [ ! -d "$root/tests/fuzz/regressions/$target" ] || regressions=("$root/tests/fuzz/regressions/$target")
  touch "$build/logs/$target.started"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: allocation must stay bounded by the input.
  ASAN_OPTIONS="$target_asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}" nice -n 19 "$build/$target" "${target_flags[@]}" -max_total_time="$seconds" ${MODELPRESS_FUZZ_RUNS:+-runs=$MODELPRESS_FUZZ_RUNS} \
    ${fork:+-fork=$fork} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings" "$corpus" "$seeds/$target" ${regressions[@]+"${regressions[@]}"} >"$log" 2>&1 || true
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  # Fork mode has no final stats; its last status line ("#N: cov: ...") counts every worker's runs.
  [ -n "$executions" ] || executions=$(grep -o '^#[0-9]*:' "$log" | tail -1 | tr -dc 0-9 || true)
  crashes=$(grep -c -E '^==[0-9]+== ?ERROR: libFuzzer: deadly signal|^FINDING:' "$log" || true)
  timeouts=$(grep -c 'ERROR: libFuzzer: timeout' "$log" || true)
  oom=$(grep -c -E 'ERROR: libFuzzer: out-of-memory|malloc\(.*\) exceeds' "$log" || true)
  sanitizer=$(grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" || true)
  # Fork mode logs a worker's crash report but not its timeouts or running out of memory; its status
  # line counts them ("oom/timeout/crash: 1/0/3").
  if [ -n "$fork" ]; then
    counts=$(grep -o 'oom/timeout/crash: [0-9]*/[0-9]*/' "$log" | tail -1 | grep -o '[0-9]*/[0-9]*/' || true)
    if [ -n "$counts" ]; then
      IFS=/ read -r fork_oom fork_timeouts _ <<<"$counts"
      oom=$((oom > fork_oom ? oom : fork_oom)) timeouts=$((timeouts > fork_timeouts ? timeouts : fork_timeouts))
    fi
  fi
  contained=0 bounded=0 stale=0
  if [ "$target" = fuzz_hdf5_datasets ]; then
    # libhdf5's crashes are contained in modelpress's reader process; its allocating without end is
    # bounded there by the process's address space (formats/hdf5_isolated_reader.cpp). A timeout that
    # one run in a fresh process finishes came from libhdf5's state after earlier inputs in the same
    # process (seen: a read spinning in H5S_select_intersect_block on an input's second run); in
    # modelpress every file has a fresh reader process.
    contained=$(set_aside "$target-crash-*" crashed_in_libhdf5)
    bounded=$(set_aside "$target-oom-*" crashed_in_libhdf5)
    stale=$(set_aside "$target-timeout-*" finishes_in_fresh_process)
    oom=$((oom - (bounded < oom ? bounded : oom)))
    timeouts=$((timeouts - (stale < timeouts ? stale : timeouts)))
    # Each was counted once, as a sanitizer report (SEGV, FPE, BUS) or as a deadly signal (abort).
    left=$contained
    taken=$((left < sanitizer ? left : sanitizer)); sanitizer=$((sanitizer - taken)); left=$((left - taken))
    crashes=$((crashes - (left < crashes ? left : crashes)))
  fi
  printf '%-28s %12s %8s %9s %5s %10s\n' "$target" "${executions:-0}" "$crashes" "$timeouts" "$oom" "$sanitizer"
  [ $contained -eq 0 ] || echo "  + crashes inside libhdf5, which modelpress contains in its reader process: $contained (inputs in $build/findings/libhdf5/)"
  [ $bounded -eq 0 ] || echo "  + libhdf5 out of memory, which modelpress bounds in its reader process: $bounded (inputs in $build/findings/libhdf5/)"
  [ $stale -eq 0 ] || echo "  + timeouts a fresh process does not repeat (libhdf5's state across inputs): $stale (inputs in $build/findings/libhdf5/)"
  if [ "$crashes$timeouts$oom$sanitizer" != "0000" ]; then status=1; fi
done
[ $status -eq 0 ] || echo "fuzz: findings in $build/findings/ (logs in $build/logs/)" >&2
exit $status
