#!/usr/bin/env bash
# sdcard.sh - builds a Raspberry Pi SD-card image: MBR + one FAT32 partition holding the firmware
# (bootcode.bin, start.elf, fixup.dat from $FIRMWARE_DIR), config.txt, cmdline.txt and the kernel
# (kernel7.img for the Pi 2; kernel8.img and DTB=bcm2837-rpi-3-b.dtb for the Pi 3's 64-bit kernel).
# Usage: FIRMWARE_DIR=/path/to/boot scripts/sdcard.sh OUT.img KERNEL_IMG CONFIG_TXT "CMDLINE"
set -euo pipefail
. "$(dirname "$0")/sdimage-lib.sh"

if [ "$#" -ne 4 ]; then
    echo "usage: FIRMWARE_DIR=/path/to/boot $0 OUT.img KERNEL_IMG CONFIG_TXT \"CMDLINE\"" >&2
    exit 2
fi
out=$1 kernel=$2 config=$3 cmdline=$4

firmware=(bootcode.bin start.elf fixup.dat)
fw_dir=${FIRMWARE_DIR:-}
missing=()
for f in "${firmware[@]}"; do
    if [ -z "$fw_dir" ] || [ ! -f "$fw_dir/$f" ]; then missing+=("$f"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    {
        if [ -z "$fw_dir" ]; then
            echo "sdcard.sh: FIRMWARE_DIR is not set."
        else
            echo "sdcard.sh: missing in FIRMWARE_DIR=$fw_dir: ${missing[*]}"
        fi
        echo "The Raspberry Pi boot firmware is not part of pivm. Fetch these files:"
        echo "    ${firmware[*]}"
        echo "from the boot/ folder of the raspberrypi/firmware repository on GitHub:"
        echo "    https://github.com/raspberrypi/firmware/tree/master/boot"
        echo "into one directory, then pass it:"
        echo "    make sdcard FIRMWARE_DIR=/path/to/boot"
    } >&2
    exit 1
fi
for f in "$kernel" "$config"; do
    if [ ! -f "$f" ]; then echo "sdcard.sh: $f not found" >&2; exit 1; fi
done
need mformat mcopy

# Layout: 64 MiB image, partition 1 = FAT32 (LBA, type 0x0c) from sector 2048 (1 MiB) to the end.
total_mib=64
start=2048
sectors=$(( total_mib * 2048 - start ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
part=$work/part.img

fat32_image "$part" "$sectors" "$start" PIVMBOOT
for f in "${firmware[@]}"; do mcopy -i "$part" "$fw_dir/$f" "::$f"; done
copy_boot_files "$part" "$kernel" "$config" "$cmdline" "$work"
# The programs' initramfs, which config.txt's `initramfs ... followkernel` line loads (an
# empty file when it was not built, so the firmware finds what config.txt names).
initramfs=${INITRAMFS:-build/initramfs.cpio}
if [ -f "$initramfs" ]; then
    mcopy -i "$part" "$initramfs" ::initramfs.cpio
else
    : > "$work/initramfs.cpio"
    mcopy -i "$part" "$work/initramfs.cpio" ::initramfs.cpio
fi

rm -f "$out"
truncate -s $(( total_mib * 1024 * 1024 )) "$out"
mbr_entry "$out" 1 0x80 0x0c "$start" "$sectors"
mbr_signature "$out"
place "$out" "$part" "$start"

echo "sdcard.sh: wrote $out (${total_mib} MiB, FAT32 partition with ${firmware[*]} config.txt cmdline.txt $(basename "$kernel")${DTB:+ $(basename "$DTB")})"
