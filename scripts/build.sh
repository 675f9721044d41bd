#!/usr/bin/env bash
# Configures (once) and builds modelpress into ./build with Ninja and ccache.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MODELPRESS_BUILD_DIR:-$root/build}"
# Paths relative to the checkout in ccache's keys, so clones share cached objects.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
# With -g ccache would also key on the build directory; clones and worktrees share objects without it.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
# Every file includes the precompiled ATen header; without these ccache refuses to cache them at all.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
if [ ! -f "$build/build.ninja" ]; then
  # MODELPRESS_CMAKE_ARGS: extra configure options (scripts/test.sh --sanitize passes its own).
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MODELPRESS_CMAKE_ARGS:-} >/dev/null
fi
# Two jobs: each LibTorch translation unit needs about 1 GB of memory to compile.
cmake --build "$build" -j "${MODELPRESS_BUILD_JOBS:-2}"
