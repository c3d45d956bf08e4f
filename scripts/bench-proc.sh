#!/usr/bin/env bash
# bench-proc.sh [SPLIT] - the process benchmarks: boots pivm under QEMU with -icount shift=0 (one
# guest nanosecond is one instruction) and the test programs' initramfs, runs /bin/vmbench twice
# in a row (tests/user/vmbench.c), checks that the two runs print the same figures, and prints
# one table: each operation, pivm's instructions, Linux 6.1's on the same board (quoted from the
# reference transcript, with its line), pivm/Linux, and the target (half of Linux's). Then the
# scaling rows: the same operations with 1, 100 and 1,000 extra VMAs in the process, and
# fork+exit+wait with 1, 10 and 50 other processes alive.
#
# Environment: KERNEL (another image), INITRD (default build/initramfs.cpio), PAGES (pages per
# touch/munmap run, default 256 as the reference's `vmtest time 256`), SAMPLES (the reference
# transcripts, default ../shared/samples/linux-6.1-raspi2b-user).
#
# ARCH=arm64 bench-proc.sh [VA_BITS]: the 64-bit kernel (build/arm64-VA_BITS/kernel8.img, the
# AArch64 programs' build/arm64/initramfs.cpio) on qemu-system-aarch64 raspi3b under -icount
# shift=0,sleep=off (the reproducible setting there: AARCH64_FACTS.md). arm64 Linux's column
# is tests/samples/linux-6.1-raspi3b-arm64-user/icount.txt, the same `vmtest time 256 3`
# recorded by `compare-linux-arm64.sh icount` on the same board (SAMPLES= another directory).
set -euo pipefail

cd "$(dirname "$0")/.."
qemu=qemu-system-arm machine=raspi2b icount=shift=0
if [ "${ARCH:-arm}" = arm64 ]; then
    va=${1:-48}
    img=${KERNEL:-build/arm64-$va/kernel8.img}
    initrd=${INITRD:-build/arm64/initramfs.cpio}
    samples=${SAMPLES:-tests/samples/linux-6.1-raspi3b-arm64-user}
    qemu=qemu-system-aarch64 machine=raspi3b icount=shift=0,sleep=off
    [ -f "$img" ] || { echo "bench-proc.sh: $img missing: run 'make kernel ARCH=arm64 VA_BITS=$va'" >&2; exit 1; }
    [ -f "$initrd" ] || { echo "bench-proc.sh: $initrd missing: run 'make initramfs ARCH=arm64'" >&2; exit 1; }
fi
split=${1:-2G}
img=${img:-${KERNEL:-build/$split/kernel7.img}}
initrd=${initrd:-${INITRD:-build/initramfs.cpio}}
pages=${PAGES:-256}
samples=${samples:-${SAMPLES:-../shared/samples/linux-6.1-raspi2b-user}}
ref=$samples/icount.txt
[ -f "$img" ] || { echo "bench-proc.sh: $img missing: run 'make kernel VMSPLIT=$split'" >&2; exit 1; }
[ -f "$initrd" ] || { echo "bench-proc.sh: $initrd missing: run 'make initramfs'" >&2; exit 1; }
[ -f "$ref" ] || [ "${ARCH:-arm}" = arm64 ] || { echo "bench-proc.sh: the reference $ref is missing (SAMPLES=...)" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf 'run /bin/vmbench %s\nrun /bin/vmbench %s\npoweroff\n' "$pages" "$pages" |
    timeout 600 "$qemu" -M "$machine" -display none -monitor none -serial stdio \
        -semihosting -icount "$icount" -kernel "$img" -initrd "$initrd" | tr -d '\r' > "$out" || true
if [ "$(grep -c '^vmbench: done' "$out")" != 2 ]; then
    echo "bench-proc.sh: vmbench did not finish twice; the console said:" >&2
    tail -40 "$out" >&2
    exit 1
fi

# Linux 6.1's figures from the reference's `vmtest time 256 3` (same loops, same page count):
# the lines are quoted so that the source of every number is visible. The block is fed to grep
# as a here-string: `grep -m1` stops reading at its match, and a printf still writing into the
# pipe would die of SIGPIPE, which pipefail turns into the script's failure.
# The block ends at the shell's next prompt ("/ # ", the reference) or step ("### ", compare-linux).
linux_block=$(if [ -f "$ref" ]; then sed -n '/vmtest time 256 3/,/^\(\/ # \|### \)/p' "$ref"; fi)
pick() { # pick REGEX: the first number after REGEX in the reference block
    grep -o -m1 -E "$1 *[0-9]+" <<<"$linux_block" | grep -o -E '[0-9]+$'
}
l_getpid= l_first= l_retouch= l_munmap= l_mmap= l_fork= l_exec= # no reference: empty figures
if [ -n "$linux_block" ]; then
    l_getpid=$(pick 'syscall\(getpid\):')
    l_first=$(grep -m1 'rep 0: first-touch' <<<"$linux_block" | sed -E 's/.*total, ([0-9]+) ns\/page.*/\1/')
    l_retouch=$(grep -m1 'rep 0: first-touch' <<<"$linux_block" | sed -E 's/.*re-touch write ([0-9]+) ns.*/\1/')
    l_munmap=$(grep -m1 'rep 0: first-touch' <<<"$linux_block" | sed -E 's/.* = ([0-9]+) ns\/page$/\1/')
    l_mmap=$(pick 'mmap\+munmap 1MiB untouched: min')
    l_fork=$(pick 'fork\+_exit\+waitpid: min')
    l_exec=$(pick 'fork\+execve\(static vmtest nop\)\+exit\+wait: min')
fi

echo "Process benchmarks: pivm $split ($img) under $qemu -M $machine -icount $icount, /bin/vmbench $pages"
if [ -n "$linux_block" ]; then
    echo "Linux 6.1: $ref, 'vmtest time 256 3' (rep 0 and min-of-R lines):"
    printf '%s\n' "$linux_block" | grep -E 'getpid|rep 0: first-touch|1MiB untouched|fork' | sed 's/^/  | /'
else
    echo "Linux 6.1: not measured on this board ($ref missing): its column reads n/m"
fi
echo

# The two runs' rows, side by side.
awk -v l_getpid="$l_getpid" -v l_first="$l_first" -v l_retouch="$l_retouch" -v l_munmap="$l_munmap" \
    -v l_mmap="$l_mmap" -v l_fork="$l_fork" -v l_exec="$l_exec" '
/^vmbench: done/ { run++; next }
/^vmbench: [a-z0-9-]+ vmas=/ {
    key = $2 " " $3 " " $4; sub(/ns=/, "", $5)
    if (!(key in first)) { order[n++] = key; first[key] = $5 } else second[key] = $5
}
function label(op) {
    if (op == "getpid") return "getpid (syscall())"
    if (op == "first-touch") return "first write to an anon page"
    if (op == "re-touch") return "re-touch (no fault)"
    if (op == "munmap-page") return "munmap, per touched page"
    if (op == "mmap-munmap-1m") return "mmap+munmap 1 MiB untouched"
    if (op == "fork-exit-wait") return "fork+_exit+waitpid"
    if (op == "fork-exec-wait") return "fork+execve+exit+wait"
    return op
}
function linux(op) {
    if (op == "getpid") return l_getpid; if (op == "first-touch") return l_first
    if (op == "re-touch") return l_retouch; if (op == "munmap-page") return l_munmap
    if (op == "mmap-munmap-1m") return l_mmap; if (op == "fork-exit-wait") return l_fork
    if (op == "fork-exec-wait") return l_exec; return ""
}
END {
    diff = 0; worst = 0
    for (i = 0; i < n; i++) if (first[order[i]] != second[order[i]]) {
        diff++; d = (second[order[i]] - first[order[i]]) / first[order[i]]
        if (d < 0) d = -d; if (d > worst) worst = d
    }
    printf "%-30s %10s %10s %7s %10s  %s\n", "operation", "pivm", "Linux", "ratio", "target", "met"
    for (i = 0; i < n; i++) {
        split(order[i], f, " "); op = f[1]
        if (f[2] != "vmas=0" || f[3] != "procs=0") continue
        p = first[order[i]]; l = linux(op); t = int(l / 2)
        if (l == "") { printf "%-30s %10d %10s %7s %10s  %s\n", label(op), p, "n/m", "", "", ""; continue }
        printf "%-30s %10d %10d %6.2fx %10d  %s\n", label(op), p, l, p / l, t, (p + 0 <= t ? "yes" : "no")
    }
    print ""
    print "Scaling: the same operation with V extra one-page VMAs in the process, or P other"
    print "processes alive (sleeping); pivm instructions per operation."
    printf "%-30s %10s %10s %10s\n", "operation", "V=1", "V=100", "V=1000"
    split("getpid first-touch munmap-page mmap-munmap-1m fork-exit-wait", ops, " ")
    for (k = 1; k <= 5; k++) {
        op = ops[k]
        printf "%-30s %10s %10s %10s\n", label(op), first[op " vmas=1 procs=0"], \
            first[op " vmas=100 procs=0"], first[op " vmas=1000 procs=0"]
    }
    printf "%-30s %10s %10s %10s\n", "", "P=1", "P=10", "P=50"
    split("getpid fork-exit-wait", ops, " ")
    for (k = 1; k <= 2; k++) {
        op = ops[k]
        printf "%-30s %10s %10s %10s\n", label(op), first[op " vmas=0 procs=1"], \
            first[op " vmas=0 procs=10"], first[op " vmas=0 procs=50"]
    }
    print ""
    if (diff == 0) printf "Repeat: the second run printed the same %d figures.\n", n
    else {
        printf "Repeat: %d of %d figures differ between the two runs, by at most %.2f%%:\n", diff, n, worst * 100
        for (i = 0; i < n; i++) if (first[order[i]] != second[order[i]])
            printf "  %s: %s then %s\n", order[i], first[order[i]], second[order[i]]
    }
}' "$out"
