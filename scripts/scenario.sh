#!/usr/bin/env bash
# scenario.sh [SEEDS...] - runs `scenario vmalloc-frag` on the 3G build under QEMU with the
# android-a9 profile (the device's 512 MiB lowmem) and android-a9-720m (the fix), for the
# same seeds, and prints one comparison table from the kernel's scenario-summary lines.
set -euo pipefail

cd "$(dirname "$0")/.."
img=${KERNEL:-build/3G/kernel7.img}   # KERNEL: another 3G image (a build variant)
[ -f "$img" ] || { echo "scenario.sh: $img missing: run 'make kernel VMSPLIT=3G'" >&2; exit 1; }
seeds=${*:-${SEEDS:-$(seq 1 16)}}
steps=${STEPS:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# One QEMU per run, as many at once as there are CPUs; each writes its summary line to a file
# named after the run so the table keeps a fixed order.
run() {
    local profile=$1 seed=$2
    printf 'scenario vmalloc-frag seed=%s%s\npoweroff\n' "$seed" "${steps:+ steps=$steps}" |
        timeout 300 qemu-system-arm -M raspi2b -display none -monitor none -serial stdio \
            -semihosting -kernel "$img" -append "pivm.profile=$profile" |
        tr -d '\r' | grep '^scenario-summary: ' > "$dir/$profile.$seed" ||
        { echo "scenario.sh: no summary for $profile seed $seed" >&2; return 1; }
}
export -f run
export img steps dir
for profile in android-a9 android-a9-720m; do
    for seed in $seeds; do echo "$profile $seed"; done
done | xargs -P "$(nproc)" -n 2 bash -c 'run "$0" "$1"'
out=$dir/all
for profile in android-a9 android-a9-720m; do
    for seed in $seeds; do cat "$dir/$profile.$seed"; done
done > "$out"

# One row per run: the request's outcome and the state that explains it.
awk '
function field(name,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return "?"
}
BEGIN {
    printf "%-16s %5s  %-11s %19s %12s %12s %16s %16s %12s\n", "profile", "seed", "request", \
        "largest order N/H", "MemFree MiB", "LowFree MiB", "vmalloc free MiB", "largest gap KiB", \
        "unusable(9)"
}
{
    printf "%-16s %5s  %-11s %16s/%-2s %12d %12d %16d %16s %12.3f\n", field("profile"), field("seed"), \
        field("outcome"), field("largest_order"), field("largest_order_high"), \
        field("memfree_kb") / 1024, field("lowfree_kb") / 1024, field("vmalloc_free_kb") / 1024, \
        field("vmalloc_chunk_kb"), field("unusable9") / 1000
}' "$out"
