#!/usr/bin/env bash
# compare-linux.sh [PHASE...] - runs the project's test programs on real Linux 6.1 (Debian's
# armmp kernel for armhf) and on pivm, on the same QEMU board with the same initramfs and the
# same steps, saves each phase's console output as build/compare/linux-PHASE.txt and
# build/compare/pivm-PHASE.txt, and prints one table per phase: the fault counts of every step,
# the address layout, the SIGSEGV table and the costs, the reference transcripts
# (shared/samples) and pivm next to Linux.
#
# Phases (all but diskcost by default): faults (faults.txt's runs), layout (layout.txt's),
# hostile (segv, efault, crash, syscalls, mapmax, forkbomb, membomb), icount (icount.txt's
# timings under -icount shift=0, Linux with maxcpus=1), and with the SD card attached (`-drive
# file=build/sd.img,if=sd,format=raw,snapshot=on`, `make sd-image`): card (files on the FAT
# partition at /boot: major faults, read-ahead on and off, drop_caches, programs run from the
# card; tests/user/cardmap.c) and swap (the 512 MiB card of `make sd-image SD_SIZE=512M`,
# `mem=120M mem=8M@0x08000000`, swapon of its p2: vmtest swap as swap.txt ran it and
# tests/user/swapstress.c), and diskcost (scripts/bench-disk.sh's: the card's and swap's costs
# under -icount shift=0, maxcpus=1). `all` runs every phase. Both kernels boot with norandmaps.
#
# Linux reaches the card as on a real Pi with the upstream tree: the sdhost driver
# (bcm2835.ko), FAT (fat.ko, vfat.ko) and the code pages are modules of Debian's armmp kernel,
# taken from the kernel .deb into build/linux/modules (decompressed when Debian ships them
# compressed) and loaded by /init in modules.dep order before it mounts p1 read-only at /boot
# (vfat, default options) and, in the swap phase, runs swapon on p2. pivm is given the same
# drive and command line; the steps are typed at its console.
#
# Linux comes through apt: an armhf package list of its own under build/linux/apt (the machine's
# apt sources, nothing installed, nothing changed in the system's apt state), then
# `apt-get download` of linux-image-armmp's kernel and busybox-static; vmlinuz, the upstream
# bcm2836-rpi-2-b.dtb and busybox are kept in build/linux/. Linux's initrd is
# build/initramfs.cpio.gz (make initramfs) followed by a second archive with busybox and an /init
# that runs the phase: Linux unpacks concatenated archives in order. When apt cannot fetch the
# kernel, the script says why and still runs pivm (the Linux column is then "-").
#
# pivm boots build/VMSPLIT/kernel7.img (VMSPLIT=3G by default, the reference's split; `make
# kernel VMSPLIT=...` first) with the uncompressed build/initramfs.cpio, and each step is typed
# at its console (`run /bin/PROG ARGS`) once the prompt is back.
#
# Environment: VMSPLIT (pivm's split), SKIP_LINUX=1 (keep build/compare/linux-*.txt from an
# earlier run), SAMPLES (the reference transcripts, default
# ../shared/samples/linux-6.1-raspi2b-user), TIMEOUT (seconds per boot, default 1800),
# LINUX_PKG (a linux-image-*-armmp package name instead of the current one), LINUX_APPEND (more
# of Linux's command line). The parts both architectures share are in scripts/compare-lib.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
linux=build/linux
out=build/compare
initramfs=build/initramfs.cpio.gz
samples=${SAMPLES:-../shared/samples/linux-6.1-raspi2b-user}
split=${VMSPLIT:-3G}
pivm_img=build/$split/kernel7.img
pivm_initrd=build/initramfs.cpio
timeout=${TIMEOUT:-1800}
phases=${*:-faults layout hostile icount card swap}
[ "$phases" = all ] && phases="faults layout hostile icount card swap diskcost"
sd_img=${SD_IMG:-build/sd.img}
sd_swap_img=${SD_SWAP_IMG:-build/sd-512M.img}
mkdir -p "$linux" "$out"

die() { echo "compare-linux: $*" >&2; exit 1; }
[ -f "$initramfs" ] && [ -f "$pivm_initrd" ] || die "$initramfs or $pivm_initrd missing: run 'make initramfs'"
[ -f "$pivm_img" ] || die "$pivm_img missing: run 'make kernel VMSPLIT=$split'"
for p in $phases; do
    case $p in faults|layout|hostile|icount|card|swap|diskcost) ;; *) die "unknown phase '$p' (faults layout hostile icount card swap diskcost all)" ;; esac
    [ "$p" != card ] || [ -f "$sd_img" ] || die "$sd_img missing: run 'make sd-image'"
    case $p in swap|diskcost) [ -f "$sd_swap_img" ] || die "$sd_swap_img missing: run 'make sd-image SD_SIZE=512M'" ;; esac
done

# ---- Debian's packages, the steps and one boot of each kernel: scripts/compare-lib.sh ---------
apt_arch=armhf
linux_meta=linux-image-armmp
linux_flavour=armmp
linux_dtb=bcm2836-rpi-2-b.dtb
linux_qemu=(qemu-system-arm -M raspi2b -display none -monitor none -serial stdio)
linux_console=console=ttyAMA0
pivm_qemu=(qemu-system-arm -M raspi2b -display none -monitor none -serial stdio -semihosting)
pivm_tag=pivm
user_dir=build/user/arm
# 128 MiB as the reference's swap.txt: 120 MiB, and the 8 MiB at 128 MiB where QEMU puts the initrd.
swap_mem="mem=120M mem=8M@0x08000000"
icount_opt=shift=0
# shellcheck source=scripts/compare-lib.sh
. scripts/compare-lib.sh
compare_linux_setup

for phase in $phases; do
    if [ "$have_linux" = 1 ]; then
        extras "$phase"
        boot_linux "$phase"
    fi
    boot_pivm "$phase"
done

# ---- the table ---------------------------------------------------------------------------------
reference_for() {
    case $1 in
    faults) echo "$samples/faults.txt" ;;
    layout) echo "$samples/layout.txt" ;;
    hostile) echo "$samples/layout.txt" ;;
    icount) echo "$samples/icount.txt" ;;
    card) echo "tests/reference/linux-6.1-card.txt" ;;
    swap) echo "$samples/swap.txt" ;;
    diskcost) echo "$samples/swap-icount.txt" ;;
    esac
}
for phase in $phases; do
    echo
    perl scripts/compare-table.pl --title "phase $phase (Linux: $linux_version; pivm: $pivm_img)" \
        "$(reference_for "$phase")" "$out/linux-$phase.txt" "$out/pivm-$phase.txt"
done
