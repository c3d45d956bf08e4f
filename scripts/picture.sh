#!/usr/bin/env bash
# picture.sh [--scenario] OUTDIR - boots the kernel under QEMU, asks it for its memdump (and a
# process's: /bin/vmtest layout hold, found by the PID it prints), saves the console transcript
# as OUTDIR/<name>.txt and draws the pages into OUTDIR with tools/picture.
#   KERNEL=image (default build/2G/kernel7.img), PROFILE=name (pivm.profile=), NAME=stem.
#   ARCH=arm64: the AArch64 kernel on raspi3b (default build/arm64-48/kernel8.img, the initramfs
#   build/arm64/initramfs.cpio.gz); its memdump has 64-bit addresses and split=va48 or va39.
# --scenario: on each of android-a9 and android-a9-720m (the 3G image), memdump before and after
# `scenario vmalloc-frag seed=$SEED trace=$TRACE` (default seed 1, every 50th step and every
# request's): the physical maps before and after and the timeline from the vmfrag-step lines;
# and in one more boot per layout (both at once, beside the first) `scenario vmalloc-frag
# seed=$FIRST_SEED seeds=$SEEDS` (default 1 and 32, as `make scenario`): the time-to-failure
# distribution. STEPS=N is the budget of every run (default the scenario's, 20000).
set -euo pipefail

cd "$(dirname "$0")/.."
scenario=0
if [ "${1:-}" = --scenario ]; then scenario=1; shift; fi
if [ "$scenario" = 1 ] && [ "${ARCH:-arm}" = arm64 ]; then
    echo "picture.sh: --scenario draws the 32-bit case study (the arm64 kernel's vmalloc range cannot run out: see the README)" >&2
    exit 1
fi
out=${1:?usage: picture.sh [--scenario] OUTDIR}
arch=${ARCH:-arm}
case $arch in
    arm) qemu=(qemu-system-arm -M raspi2b); img=${KERNEL:-build/2G/kernel7.img}
        initrd=${INITRD:-build/initramfs.cpio.gz} ;;
    arm64) qemu=(qemu-system-aarch64 -M raspi3b); img=${KERNEL:-build/arm64-48/kernel8.img}
        initrd=${INITRD:-build/arm64/initramfs.cpio.gz} ;;
    *) echo "picture.sh: ARCH=$arch: expected arm or arm64" >&2; exit 1 ;;
esac
seed=${SEED:-1}
steps=${STEPS:-}   # STEPS=N: the scenario's step budget (budget=N)
trace=${TRACE:-50}
seeds=${SEEDS:-32}
first_seed=${FIRST_SEED:-1}
case $seeds$first_seed$trace$seed${steps} in *[!0-9]*) echo "picture.sh: SEED, SEEDS, FIRST_SEED, TRACE and STEPS are numbers" >&2; exit 1;; esac
[ -f "$img" ] || { echo "picture.sh: $img missing: run 'make kernel'" >&2; exit 1; }
[ -f "$initrd" ] || { echo "picture.sh: $initrd missing: run 'make initramfs'" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
qpid=
spids=()
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    for p in "${spids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

# Waits (at most $2 seconds) until the transcript holds $1 for the $3-th time (default 1).
wait_for() {
    local want=$1 limit=$2 count=${3:-1} t=0
    until [ "$(grep -c -- "$want" "$work/out" || true)" -ge "$count" ]; do
        sleep 0.2
        t=$((t + 1))
        if [ "$t" -gt $((limit * 5)) ] || ! kill -0 "$qpid" 2>/dev/null; then
            echo "picture.sh: no '$want' from the kernel after ${limit}s; the transcript so far:" >&2
            tail -20 "$work/out" >&2
            exit 1
        fi
    done
}

# One boot: $1 the transcript's name, $2 the profile (may be empty), $3 what to do.
boot() {
    local name=$1 profile=$2 what=$3
    rm -f "$work/in" "$work/out"
    mkfifo "$work/in"
    : > "$work/out"
    timeout 600 "${qemu[@]}" -display none -monitor none -serial stdio -semihosting \
        -kernel "$img" -initrd "$initrd" ${profile:+-append "pivm.profile=$profile"} \
        < "$work/in" > "$work/out" 2>&1 &
    qpid=$!
    exec 3> "$work/in"
    wait_for 'pivm# ' 60
    local dumps=0
    dump() { printf '%s\n' "$1" >&3; dumps=$((dumps + 1)); wait_for '^memdump end lines=' 120 "$dumps"; }
    case $what in
        process)
            dump memdump
            printf 'run /bin/vmtest layout hold &\n' >&3
            wait_for 'HOLDING pid=' 60
            local pid
            pid=$(grep -o 'HOLDING pid=[0-9]*' "$work/out" | head -1 | cut -d= -f2)
            dump "memdump $pid"
            ;;
        scenario)
            dump memdump
            printf 'scenario vmalloc-frag seed=%s%s trace=%s\n' "$seed" "${steps:+ budget=$steps}" "$trace" >&3
            wait_for 'scenario-summary: ' 600
            dump memdump
            ;;
    esac
    printf 'poweroff\n' >&3
    exec 3>&-
    wait "$qpid" || true
    qpid=
    tr -d '\r' < "$work/out" > "$out/$name.txt"
    echo "picture.sh: $out/$name.txt"
}

# The seeds=N sequence of one layout in its own boot (as scripts/scenario.sh runs it), in the
# background: its transcript is OUTDIR/seeds-<profile>.txt.
seeds_boot() {
    local profile=$1
    printf 'scenario vmalloc-frag seed=%s seeds=%s%s\npoweroff\n' "$first_seed" "$seeds" "${steps:+ budget=$steps}" |
        timeout 3000 "${qemu[@]}" -display none -monitor none -serial stdio \
            -semihosting -kernel "$img" -append "pivm.profile=$profile" 2>&1 |
        tr -d '\r' > "$work/seeds-$profile.txt" &
    spids+=($!)
}

if [ "$scenario" = 1 ]; then
    seeds_boot android-a9
    seeds_boot android-a9-720m
    boot "scenario-android-a9" android-a9 scenario
    boot "scenario-android-a9-720m" android-a9-720m scenario
    for p in "${spids[@]}"; do wait "$p" || true; done
    spids=()
    for profile in android-a9 android-a9-720m; do
        grep -q '^scenario-distribution: ' "$work/seeds-$profile.txt" || {
            echo "picture.sh: no scenario-distribution line for $profile; the console said:" >&2
            tail -20 "$work/seeds-$profile.txt" >&2
            exit 1
        }
        cp "$work/seeds-$profile.txt" "$out/seeds-$profile.txt"
        echo "picture.sh: $out/seeds-$profile.txt"
    done
    inputs=("$out/scenario-android-a9.txt" "$out/scenario-android-a9-720m.txt"
        "$out/seeds-android-a9.txt" "$out/seeds-android-a9-720m.txt")
else
    name=${NAME:-$(basename "$(dirname "$img")")${PROFILE:+-$PROFILE}}
    boot "$name" "${PROFILE:-}" process
    inputs=("$out/$name.txt")
fi
# Its own target directory: the tool builds in seconds and never waits for a kernel build.
CARGO_TARGET_DIR=${PICTURE_TARGET_DIR:-build/host-picture} cargo run -q -p picture -- -o "$out" "${inputs[@]}"
if [ "$scenario" = 1 ] && ! grep -q 'vmfrag-step ' "${inputs[@]}"; then
    echo "picture.sh: the scenario printed no vmfrag-step lines: no timeline drawn (the monkey-test scenario prints them)"
fi
