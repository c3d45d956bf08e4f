#!/usr/bin/env bash
# compare-linux-arm64.sh [PHASE...] - the 64-bit kernel next to real arm64 Linux 6.1 (Debian's
# arm64 kernel for bookworm) on the same QEMU board, qemu-system-aarch64 -M raspi3b, with the
# same initramfs and the same steps: scripts/compare-linux.sh's phases for AArch64. Each phase's
# console output is saved as build/compare-arm64/linux-PHASE.txt and pivmVA-PHASE.txt (pivm
# at each VA size: 48, Linux's, and 39), and one table per phase and VA size is printed through
# scripts/compare-table.pl: Linux's recorded transcripts (tests/samples/linux-6.1-raspi3b-arm64-user/),
# Linux now, and pivm.
#
# Phases (faults layout hostile icount card swap proc by default, `all` adds diskcost): faults,
# layout, hostile, icount, card, swap and diskcost as compare-linux.sh runs them (the same step
# lists and Linux setup, scripts/compare-lib.sh): icount under `-icount shift=0,sleep=off` (the
# reproducible setting on raspi3b: AARCH64_FACTS.md), Linux with maxcpus=1; card attaches
# build/arm64/sd.img (`make sd-image ARCH=arm64`) as `-drive if=sd,snapshot=on`, swap and
# diskcost build/arm64/sd-512M.img (`make sd-image ARCH=arm64 SD_SIZE=512M`: the same p1, a
# 471 MiB swap p2), and Linux loads the sdhost driver and FAT from the .deb's modules. The swap
# phases' memory is `mem=128M` on both kernels: the 128 MiB of the 32-bit phases (ARM's
# `mem=120M mem=8M@0x08000000`), as one limit, the only form arm64 takes; arm64 Linux then
# adds the initrd QEMU put at 128 MiB back above the limit (arm64_memblock_init), as pivm does,
# so both see the same RAM against the same 192 MiB workloads. proc: pivm's boot lines and
# /proc/meminfo, zoneinfo, buddyinfo, pagetypeinfo, vmallocinfo and iomem against the
# reference transcripts of the same board (tests/samples/linux-6.1-raspi3b-arm64-*, taken by
# hand: ../shared/AARCH64_FACTS.md), through scripts/compare-linux-arm64.py, at VA_BITS=48 only
# (the reference's); no Linux is booted for it, and it exits 1 when a row that must agree
# differs (`make test` runs it). scripts/bench-disk.sh turns diskcost's transcripts into figures.
#
# Linux comes through apt as for compare-linux.sh: an arm64 package list of its own under
# build/linux-arm64/apt (nothing installed, nothing changed in the system's apt state),
# `apt-get download` of linux-image-arm64's current 6.1 kernel and busybox-static:arm64; the
# Image (Debian's arm64 vmlinuz is an uncompressed EFI-stub Image QEMU loads at 0x200000), the
# .deb's broadcom/bcm2837-rpi-3-b.dtb and busybox are kept in build/linux-arm64/. It boots as
# the reference did: the upstream device tree gives the PL011 to Bluetooth, so its console is
# the mini UART, QEMU's second serial port (`-serial null -serial stdio`,
# `console=ttyS1,115200`), with norandmaps. Its initrd is build/arm64/initramfs.cpio.gz (make
# initramfs ARCH=arm64) followed by busybox and the phase's /init. When apt cannot fetch the
# kernel, the script says why and still runs pivm (the Linux column is then "-").
#
# pivm boots build/arm64-VA/kernel8.img (raw, as the firmware loads it) with the same device
# tree as Linux (the reference's, tests/samples/linux-6.1-raspi3b-arm64.dtb: the same board
# and dma-ranges), the same initramfs and norandmaps; each step is typed at its console.
#
# Environment: VA_BITS (pivm's VA sizes, default "48 39"), COMPARE_OUT (the transcripts'
# directory instead of build/compare-arm64: two runs at once), SKIP_LINUX=1 (keep
# build/compare-arm64/linux-*.txt from an earlier run), TIMEOUT (seconds per boot, default
# 1800; the proc phase's boot 120), LINUX_PKG (a linux-image-*-arm64 package name instead of
# the current one), LINUX_APPEND (more of Linux's command line: transparent_hugepage=never
# gave the samples' faults-nothp.txt).
set -euo pipefail

cd "$(dirname "$0")/.."
linux=build/linux-arm64
out=${COMPARE_OUT:-build/compare-arm64}
initramfs=build/arm64/initramfs.cpio.gz
samples=tests/samples/linux-6.1-raspi3b-arm64-user
board_dtb=tests/samples/linux-6.1-raspi3b-arm64.dtb
vas=${VA_BITS:-48 39}
timeout=${TIMEOUT:-1800}
phases=${*:-faults layout hostile icount card swap proc}
[ "$phases" = all ] && phases="faults layout hostile icount card swap diskcost proc"
mkdir -p "$linux" "$out"

die() { echo "compare-linux: $*" >&2; exit 1; }
for va in $vas; do
    [ -f "build/arm64-$va/kernel8.img" ] || die "build/arm64-$va/kernel8.img missing: run 'make kernel ARCH=arm64 VA_BITS=$va'"
done
sd_img=${SD_IMG:-build/arm64/sd.img}
sd_swap_img=${SD_SWAP_IMG:-build/arm64/sd-512M.img}
for p in $phases; do
    case $p in
    faults|layout|hostile|icount|proc) ;;
    card) [ -f "$sd_img" ] || die "$sd_img missing: run 'make sd-image ARCH=arm64'" ;;
    swap|diskcost) [ -f "$sd_swap_img" ] || die "$sd_swap_img missing: run 'make sd-image ARCH=arm64 SD_SIZE=512M'" ;;
    *) die "unknown phase '$p' (faults layout hostile icount card swap diskcost proc all)" ;;
    esac
done

# ---- proc: pivm's boot and /proc files against the reference transcripts ------------------------
# One boot at VA_BITS=48 as the reference booted (raw image, -dtb), `cat /proc/...` typed ahead,
# the tables and the verdict of scripts/compare-linux-arm64.py.
proc_phase() {
    local img=build/arm64-48/kernel8.img
    [ -f "$img" ] || die "$img missing: run 'make kernel ARCH=arm64 VA_BITS=48'"
    printf 'cat /proc/meminfo\ncat /proc/zoneinfo\ncat /proc/buddyinfo\ncat /proc/pagetypeinfo\ncat /proc/vmallocinfo\ncat /proc/iomem\npoweroff\n' |
        timeout "${TIMEOUT:-120}" qemu-system-aarch64 -M raspi3b -display none -monitor none -serial stdio \
            -semihosting -kernel "$img" -dtb "$board_dtb" |
        tr -d '\r' >"$out/pivm-arm64.txt"
    grep -q '^reboot: Power down' "$out/pivm-arm64.txt" ||
        { echo "compare-linux-arm64: pivm did not reach poweroff; its console said:" >&2; cat "$out/pivm-arm64.txt" >&2; exit 1; }
    python3 scripts/compare-linux-arm64.py "$out/pivm-arm64.txt" tests/samples
}
if [ "$phases" = proc ]; then
    proc_phase
    exit 0
fi

# ---- Debian's packages, the steps and one boot of each kernel: scripts/compare-lib.sh ---------
apt_arch=arm64
linux_meta=linux-image-arm64
linux_flavour=arm64
linux_dtb=bcm2837-rpi-3-b.dtb
linux_qemu=(qemu-system-aarch64 -M raspi3b -display none -monitor none -serial null -serial stdio)
linux_console=console=ttyS1,115200
user_dir=build/arm64/user
swap_mem=mem=128M
icount_opt=shift=0,sleep=off
pivm_initrd=$initramfs
[ -f "$initramfs" ] || die "$initramfs missing: run 'make initramfs ARCH=arm64'"
# shellcheck source=scripts/compare-lib.sh
. scripts/compare-lib.sh
compare_linux_setup

for phase in $phases; do
    [ "$phase" = proc ] && continue
    if [ "$have_linux" = 1 ]; then
        extras "$phase"
        boot_linux "$phase"
    fi
    for va in $vas; do
        pivm_img=build/arm64-$va/kernel8.img
        pivm_tag=pivm$va
        pivm_qemu=(qemu-system-aarch64 -M raspi3b -display none -monitor none -serial stdio -semihosting -dtb "$board_dtb")
        boot_pivm "$phase"
    done
done

# ---- the tables: one per phase and VA size ------------------------------------------------------
for phase in $phases; do
    [ "$phase" = proc ] && continue
    ref=$samples/$phase.txt
    for va in $vas; do
        echo
        perl scripts/compare-table.pl --title "phase $phase, VA_BITS=$va (Linux: $linux_version, VA_BITS=48; pivm: build/arm64-$va/kernel8.img)" \
            "$ref" "$out/linux-$phase.txt" "$out/pivm$va-$phase.txt"
    done
done
if [[ " $phases " =~ \ proc\  ]]; then
    echo
    proc_phase
fi
