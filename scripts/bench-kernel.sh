#!/usr/bin/env bash
# bench-kernel.sh [SPLIT] - runs the in-kernel `bench` command under QEMU with -icount shift=0,
# where the guest's clock advances 1 ns per instruction, so the ns/op figures are instruction
# counts and repeat exactly from run to run.
set -euo pipefail

cd "$(dirname "$0")/.."
split=${1:-2G}
img=${KERNEL:-build/$split/kernel7.img}   # KERNEL: another image (a build variant)
[ -f "$img" ] || { echo "bench-kernel.sh: $img missing: run 'make kernel VMSPLIT=$split'" >&2; exit 1; }
# QEMU, MACHINE, ICOUNT: the 64-bit kernel's (qemu-system-aarch64, raspi3b, shift=0,sleep=off).
printf 'bench\npoweroff\n' |
    timeout 120 "${QEMU:-qemu-system-arm}" -M "${MACHINE:-raspi2b}" -display none -monitor none \
        -serial stdio -semihosting -icount "${ICOUNT:-shift=0}" -kernel "$img" |
    tr -d '\r' | grep '^bench: '
