#!/usr/bin/env bash
# bench-kernel.sh [SPLIT] - runs the in-kernel `bench` command under QEMU with -icount shift=0,
# where the guest's clock advances 1 ns per instruction, so the ns/op figures are instruction
# counts and repeat exactly from run to run.
set -euo pipefail

cd "$(dirname "$0")/.."
split=${1:-2G}
img=${KERNEL:-build/$split/kernel7.img}   # KERNEL: another image (a build variant)
[ -f "$img" ] || { echo "bench-kernel.sh: $img missing: run 'make kernel VMSPLIT=$split'" >&2; exit 1; }
printf 'bench\npoweroff\n' |
    timeout 120 qemu-system-arm -M raspi2b -display none -monitor none -serial stdio \
        -semihosting -icount shift=0 -kernel "$img" |
    tr -d '\r' | grep '^bench: '
