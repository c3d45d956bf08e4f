#!/usr/bin/env bash
# picture-docs.sh DIR - after `make picture` (2G, 3G android-a9, ARCH=arm64 VA_BITS=48 and 39)
# and `make picture-scenario` drew into DIR (`make picture-docs` runs them all): copies their console transcripts to
# tests/picture/ (the tool's test transcripts) and screenshots the README's pages into
# docs/pictures/ (scripts/picture-shots.sh, 60%).
set -euo pipefail

cd "$(dirname "$0")/.."
dir=${1:?usage: picture-docs.sh DIR}
for f in 2G.txt 3G-android-a9.txt scenario/scenario-android-a9.txt \
    scenario/scenario-android-a9-720m.txt scenario/seeds-android-a9.txt \
    scenario/seeds-android-a9-720m.txt arm64-48.txt arm64-39.txt; do
    [ -f "$dir/$f" ] || { echo "picture-docs.sh: $dir/$f missing" >&2; exit 1; }
    cp "$dir/$f" tests/picture/
done
# The process page's PID is whatever /bin/vmtest got.
process=$(ls "$dir"/process-2G-*.html | head -1)
bash scripts/picture-shots.sh docs/pictures \
    "$dir/kernel-3G-android-a9.html" "$process:process-2G" \
    "$dir/scenario/timeline.html:timeline"
bash scripts/picture-shots.sh docs/pictures "$dir/kernel-arm64-48.html"
MAX_HEIGHT=${MAX_HEIGHT:-1000} bash scripts/picture-shots.sh docs/pictures "$dir/physical-2G.html" \
    "$dir/scenario/physical-scenario-android-a9-2.html:physical-scenario-android-a9-after"
