#!/usr/bin/env bash
# sd-image.sh - the SD card QEMU attaches (-drive file=build/sd.img,if=sd,format=raw): a
# power-of-two image (QEMU's SD model refuses other sizes) with an MBR, partition 1 FAT32
# (type 0x0c, bootable) holding kernel7.img, config.txt, cmdline.txt, the user programs in
# /bin and a 16 MiB data file in /data, partition 2 Linux swap (type 0x82) formatted with
# mkswap when it is installed.
# Usage: scripts/sd-image.sh OUT.img KERNEL_IMG CONFIG_TXT "CMDLINE" [PROGRAM...]
set -euo pipefail
. "$(dirname "$0")/sdimage-lib.sh"

if [ "$#" -lt 4 ]; then
    echo "usage: $0 OUT.img KERNEL_IMG CONFIG_TXT \"CMDLINE\" [PROGRAM...]" >&2
    exit 2
fi
out=$1 kernel=$2 config=$3 cmdline=$4
shift 4
for f in "$kernel" "$config" "$@"; do
    if [ ! -f "$f" ]; then echo "sd-image.sh: $f not found" >&2; exit 1; fi
done
need mformat mcopy mmd

# 64 MiB: p1 FAT32 from 1 MiB, 40 MiB (81920 sectors: enough clusters for FAT32 with
# 512-byte clusters); p2 swap from 41 MiB to the end (23 MiB).
total_sectors=$(( 64 * 2048 ))
p1_start=2048 p1_sectors=81920
p2_start=$(( p1_start + p1_sectors )) p2_sectors=$(( total_sectors - p1_start - p1_sectors ))

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fat32_image "$work/p1.img" "$p1_sectors" "$p1_start" PIVMBOOT
copy_boot_files "$work/p1.img" "$kernel" "$config" "$cmdline" "$work"
if [ "$#" -gt 0 ]; then
    mmd -i "$work/p1.img" ::bin
    mcopy -i "$work/p1.img" "$@" ::bin/
fi
# /data/pages.bin: 16 MiB (4096 pages) of text for the page-cache and read-ahead tests
# (`vmtest filealigned /boot/data/pages.bin N`).
{ yes 'pivm page cache test data' || true; } | head -c $(( 16 * 1024 * 1024 )) > "$work/pages.bin"
mmd -i "$work/p1.img" ::data
mcopy -i "$work/p1.img" "$work/pages.bin" ::data/

truncate -s $(( p2_sectors * 512 )) "$work/p2.img"
swap=unformatted
if command -v mkswap >/dev/null 2>&1 || [ -x /sbin/mkswap ]; then
    mkswap=$(command -v mkswap || echo /sbin/mkswap)
    "$mkswap" -L pivmswap "$work/p2.img" >/dev/null 2>&1 && swap="mkswap-formatted"
fi

rm -f "$out"
truncate -s $(( total_sectors * 512 )) "$out"
mbr_entry "$out" 1 0x80 0x0c "$p1_start" "$p1_sectors"
mbr_entry "$out" 2 0x00 0x82 "$p2_start" "$p2_sectors"
mbr_signature "$out"
place "$out" "$work/p1.img" "$p1_start"
place "$out" "$work/p2.img" "$p2_start"
echo "sd-image.sh: wrote $out (64 MiB: p1 FAT32 $(( p1_sectors / 2048 )) MiB with kernel7.img config.txt cmdline.txt, $# programs in /bin and data/pages.bin, p2 swap $(( p2_sectors / 2048 )) MiB, $swap)"
