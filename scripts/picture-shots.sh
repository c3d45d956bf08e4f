#!/usr/bin/env bash
# picture-shots.sh OUTDIR PAGE.html[:NAME]... - screenshots of pages tools/picture drew, as
# the README shows them: headless Chromium at 60% scale (SCALE=), the window as wide as the
# widest drawing and as tall as the page's drawings (capped at MAX_HEIGHT CSS pixels, default
# 1800), written as OUTDIR/NAME.png (NAME defaults to the page's stem).
set -euo pipefail

out=${1:?usage: picture-shots.sh OUTDIR PAGE.html[:NAME]...}
shift
scale=${SCALE:-0.6}
max_h=${MAX_HEIGHT:-1800}
browser=
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" > /dev/null; then browser=$c; break; fi
done
[ -n "$browser" ] || { echo "picture-shots.sh: no Chromium (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

for arg in "$@"; do
    page=${arg%%:*}
    name=${arg#*:}
    [ "$name" = "$arg" ] && name=$(basename "$page" .html)
    [ -f "$page" ] || { echo "picture-shots.sh: $page missing" >&2; exit 1; }
    # The drawings' sizes, from their <svg width= height=> attributes: the page's margins and
    # its title and paragraph (about 140 px) above them, 24 px between drawings.
    read -r w h < <(grep -o '<svg [^>]*>' "$page" |
        sed -n 's/.* width="\([0-9]*\)" height="\([0-9]*\)".*/\1 \2/p' |
        awk -v max="$max_h" '{ if ($1 > w) w = $1; h += $2 + 24 }
            END { w += 40; h += 150; if (h > max) h = max; print w, h }')
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --disable-dev-shm-usage --user-data-dir="$profile" --force-device-scale-factor="$scale" \
        --window-size="$w,$h" --screenshot="$out/$name.png" "file://$(realpath "$page")" \
        > /dev/null 2>&1
    echo "picture-shots.sh: $out/$name.png (${w}x${h} at $scale)"
done
