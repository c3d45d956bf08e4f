#!/usr/bin/env bash
# scenario.sh [SEEDS] - the case study's monkey test on the 3G build under QEMU: one boot per
# layout, android-a9 (the device's 512 MiB lowmem) and android-a9-720m (the fix), each running
# `scenario vmalloc-frag seeds=SEEDS` (seeds FIRST_SEED.., default 1; BUDGET= steps per run),
# then one table of every run's time to failure and the two distributions side by side, from
# the kernel's scenario-summary and scenario-distribution lines.
set -euo pipefail

cd "$(dirname "$0")/.."
img=${KERNEL:-build/3G/kernel7.img}   # KERNEL: another 3G image (a build variant)
[ -f "$img" ] || { echo "scenario.sh: $img missing: run 'make kernel VMSPLIT=3G'" >&2; exit 1; }
seeds=${1:-${SEEDS:-32}}
first=${FIRST_SEED:-1}
budget=${BUDGET:-}
case $seeds in ''|*[!0-9]*) echo "scenario.sh: SEEDS is a count of seeds, not '$seeds'" >&2; exit 1;; esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
profiles="android-a9 android-a9-720m"

# One QEMU per layout, both at once; each runs every seed in sequence.
for profile in $profiles; do
    printf 'scenario vmalloc-frag seed=%s seeds=%s%s\npoweroff\n' "$first" "$seeds" "${budget:+ budget=$budget}" |
        timeout 3000 qemu-system-arm -M raspi2b -display none -monitor none -serial stdio \
            -semihosting -kernel "$img" -append "pivm.profile=$profile" |
        tr -d '\r' > "$dir/$profile.log" &
done
wait
for profile in $profiles; do
    grep -q '^scenario-distribution: ' "$dir/$profile.log" || {
        echo "scenario.sh: no distribution for $profile; the console said:" >&2
        tail -20 "$dir/$profile.log" >&2
        exit 1
    }
done

# One row per seed: each layout's time to failure (- for none within the budget), and the
# state at that moment (or at the end of the budget).
awk '
function field(line, name,   i, n, kv, f) {
    n = split(line, f, " ")
    for (i = 2; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == name) return kv[2] }
    return "?"
}
function cell(line,   ttf) {
    ttf = field(line, "failed_step"); if (ttf == -1) ttf = "-"
    return sprintf("%8s %6s %5s/%-2s %7d %8s", ttf, field(line, "requests_vmalloc") "/" field(line, "requests"), \
        field(line, "largest_order"), field(line, "largest_order_high"), \
        field(line, "vmalloc_free_kb") / 1024, field(line, "vmalloc_chunk_kb"))
}
FNR == 1 { file++ }
/^scenario-summary: / { row[file, field($0, "seed")] = $0; if (file == 1) seeds[++n] = field($0, "seed") }
/^scenario-distribution: / { dist[file] = $0 }
END {
    head = sprintf("%8s %6s %8s %7s %8s", "failed@", "vm/req", "order N/H", "vfreeMiB", "gap KiB")
    printf "%5s | %-44s | %-44s\n", "", "android-a9 (512 MiB lowmem)", "android-a9-720m (720 MiB lowmem)"
    printf "%5s | %s | %s\n", "seed", head, head
    for (i = 1; i <= n; i++) printf "%5s | %s | %s\n", seeds[i], cell(row[1, seeds[i]]), cell(row[2, seeds[i]])
    printf "\ntime to failure (steps until the 0x1a0000-byte request fails both ways; budget %s):\n", field(dist[1], "budget")
    printf "%-28s %-22s %-22s\n", "", "android-a9", "android-a9-720m"
    for (f = 1; f <= 2; f++) {
        failed[f] = sprintf("%d/%d (%.1f%%)", field(dist[f], "failed"), field(dist[f], "runs"), \
            100 * field(dist[f], "failed") / field(dist[f], "runs"))
        for (k = 0; k < 5; k++) {
            name = k == 0 ? "q1" : k == 1 ? "median" : k == 2 ? "q3" : k == 3 ? "min" : "max"
            v = field(dist[f], name); q[f, k] = v == -1 ? "-" : v
        }
    }
    printf "%-28s %-22s %-22s\n", "failed within the budget", failed[1], failed[2]
    printf "%-28s %-22s %-22s\n", "failing step: first quartile", q[1, 0], q[2, 0]
    printf "%-28s %-22s %-22s\n", "              median", q[1, 1], q[2, 1]
    printf "%-28s %-22s %-22s\n", "              third quartile", q[1, 2], q[2, 2]
    printf "%-28s %-22s %-22s\n", "              earliest", q[1, 3], q[2, 3]
    printf "%-28s %-22s %-22s\n", "              latest", q[1, 4], q[2, 4]
}' "$dir/android-a9.log" "$dir/android-a9-720m.log"
