#!/usr/bin/env bash
# sdcard.sh - builds a Raspberry Pi 2 SD-card image: MBR + one FAT32 partition holding the firmware
# (bootcode.bin, start.elf, fixup.dat from $FIRMWARE_DIR), config.txt, cmdline.txt and kernel7.img.
# Usage: FIRMWARE_DIR=/path/to/boot scripts/sdcard.sh OUT.img KERNEL_IMG CONFIG_TXT "CMDLINE"
set -euo pipefail

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
mkfs=$(command -v mkfs.fat || echo /sbin/mkfs.fat)
for t in "$mkfs" mcopy; do
    if ! command -v "$t" >/dev/null 2>&1; then echo "sdcard.sh: $t missing: run scripts/setup.sh" >&2; exit 1; fi
done

# Layout: 64 MiB image, partition 1 = FAT32 (LBA, type 0x0c) from sector 2048 (1 MiB) to the end.
total_mib=64
start=2048
sectors=$(( total_mib * 2048 - start ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
part=$work/part.img

truncate -s $(( sectors * 512 )) "$part"
"$mkfs" -F 32 -s 1 -n PIVMBOOT "$part" >/dev/null
printf '%s\n' "$cmdline" > "$work/cmdline.txt"
for f in "${firmware[@]}"; do mcopy -i "$part" "$fw_dir/$f" "::$f"; done
mcopy -i "$part" "$config" ::config.txt
mcopy -i "$part" "$work/cmdline.txt" ::cmdline.txt
mcopy -i "$part" "$kernel" ::kernel7.img
# The programs' initramfs, which config.txt's `initramfs ... followkernel` line loads (an
# empty file when it was not built, so the firmware finds what config.txt names).
initramfs=${INITRAMFS:-build/initramfs.cpio}
if [ -f "$initramfs" ]; then
    mcopy -i "$part" "$initramfs" ::initramfs.cpio
else
    : > "$work/initramfs.cpio"
    mcopy -i "$part" "$work/initramfs.cpio" ::initramfs.cpio
fi

# Little-endian 32-bit value as printf escapes.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( $1 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 >> 16 & 255 )) $(( $1 >> 24 & 255 )); }

rm -f "$out"
truncate -s $(( total_mib * 1024 * 1024 )) "$out"
# MBR partition entry 1 at byte 446: bootable, CHS fields maxed out (LBA only), type 0x0c.
# shellcheck disable=SC2059
printf "\\x80\\xfe\\xff\\xff\\x0c\\xfe\\xff\\xff$(le32 "$start")$(le32 "$sectors")" |
    dd of="$out" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$out" bs=1 seek=510 conv=notrunc status=none
dd if="$part" of="$out" bs=1M seek=1 conv=notrunc status=none

echo "sdcard.sh: wrote $out (${total_mib} MiB, FAT32 partition with ${firmware[*]} config.txt cmdline.txt kernel7.img)"
