#!/usr/bin/env bash
# compare-linux-arm64.sh - the 64-bit kernel next to arm64 Linux 6.1 on the same board, for what
# exists without processes: boots build/arm64-VA_BITS/kernel8.img (VA_BITS=48, the reference's)
# on qemu-system-aarch64 -M raspi3b with the reference's device tree (its dma-ranges give the
# zones), as the reference booted (raw image, -dtb), types `cat /proc/...` for meminfo,
# zoneinfo, buddyinfo, pagetypeinfo, vmallocinfo and iomem, saves the transcript as
# build/compare/pivm-arm64.txt and prints scripts/compare-linux-arm64.py's tables against the
# reference transcripts in tests/samples/linux-6.1-raspi3b-arm64-*. No Linux is booted: the
# reference is the recorded transcript of the same QEMU board (../shared/AARCH64_FACTS.md says
# how it was taken). Exit status 1 when a row that must agree differs.
#
# Environment: VA_BITS (48 or 39), TIMEOUT (seconds for the boot, default 120).
set -euo pipefail

cd "$(dirname "$0")/.."
va=${VA_BITS:-48}
img=build/arm64-$va/kernel8.img
samples=tests/samples
out=build/compare
timeout=${TIMEOUT:-120}
[ -f "$img" ] || { echo "compare-linux-arm64: $img missing: run 'make kernel ARCH=arm64 VA_BITS=$va'" >&2; exit 1; }
mkdir -p "$out"
printf 'cat /proc/meminfo\ncat /proc/zoneinfo\ncat /proc/buddyinfo\ncat /proc/pagetypeinfo\ncat /proc/vmallocinfo\ncat /proc/iomem\npoweroff\n' |
	timeout "$timeout" qemu-system-aarch64 -M raspi3b -display none -monitor none -serial stdio \
		-semihosting -kernel "$img" -dtb "$samples/linux-6.1-raspi3b-arm64.dtb" |
	tr -d '\r' >"$out/pivm-arm64.txt"
grep -q '^reboot: Power down' "$out/pivm-arm64.txt" ||
	{ echo "compare-linux-arm64: pivm did not reach poweroff; its console said:" >&2; cat "$out/pivm-arm64.txt" >&2; exit 1; }
python3 scripts/compare-linux-arm64.py "$out/pivm-arm64.txt" "$samples"
