#!/usr/bin/env bash
# bench-kernel.sh [SPLIT] - runs the in-kernel `bench` command under QEMU with -icount shift=0,
# where the guest's clock advances 1 ns per instruction, so the ns/op figures are instruction
# counts and repeat exactly from run to run. ARCH=arm64 bench-kernel.sh [VA_BITS]: the 64-bit
# kernel (build/arm64-VA_BITS/kernel8.img) on qemu-system-aarch64 raspi3b, -icount
# shift=0,sleep=off (sleep=on is not reproducible there: AARCH64_FACTS.md).
set -euo pipefail

cd "$(dirname "$0")/.."
if [ "${ARCH:-arm}" = arm64 ]; then
    va=${1:-48}
    img=${KERNEL:-build/arm64-$va/kernel8.img}
    [ -f "$img" ] || { echo "bench-kernel.sh: $img missing: run 'make kernel ARCH=arm64 VA_BITS=$va'" >&2; exit 1; }
    QEMU=${QEMU:-qemu-system-aarch64} MACHINE=${MACHINE:-raspi3b} ICOUNT=${ICOUNT:-shift=0,sleep=off}
fi
split=${1:-2G}
img=${img:-${KERNEL:-build/$split/kernel7.img}}   # KERNEL: another image (a build variant)
[ -f "$img" ] || { echo "bench-kernel.sh: $img missing: run 'make kernel VMSPLIT=$split'" >&2; exit 1; }
# QEMU, MACHINE, ICOUNT: another emulator, board or -icount setting.
printf 'bench\npoweroff\n' |
    timeout 120 "${QEMU:-qemu-system-arm}" -M "${MACHINE:-raspi2b}" -display none -monitor none \
        -serial stdio -semihosting -icount "${ICOUNT:-shift=0}" -kernel "$img" |
    tr -d '\r' | grep '^bench: '
