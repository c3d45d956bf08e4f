#!/usr/bin/env bash
# sd-image.sh - the SD card QEMU attaches (-drive file=build/sd.img,if=sd,format=raw): a
# power-of-two image (QEMU's SD model refuses other sizes) with an MBR, partition 1 FAT32
# (type 0x0c, bootable) holding kernel7.img, config.txt, cmdline.txt and the user programs in
# /bin and the data files in /data, partition 2 Linux swap (type 0x82) formatted with mkswap
# when it is installed.
# Usage: scripts/sd-image.sh OUT.img KERNEL_IMG CONFIG_TXT "CMDLINE" [PROGRAM...]
# Environment: SD_SIZE (the card: 64M by default, or a larger power of two up to 1G, in M or
# G; p1 stays 40 MiB and swap takes the rest), SD_DATA (files copied into /data on p1: the
# card tests' 16 MiB f16m).
set -euo pipefail
. "$(dirname "$0")/sdimage-lib.sh"

if [ "$#" -lt 4 ]; then
    echo "usage: $0 OUT.img KERNEL_IMG CONFIG_TXT \"CMDLINE\" [PROGRAM...]" >&2
    exit 2
fi
out=$1 kernel=$2 config=$3 cmdline=$4
shift 4
read -r -a data <<< "${SD_DATA:-}"
for f in "$kernel" "$config" "$@" ${data[@]+"${data[@]}"}; do
    if [ ! -f "$f" ]; then echo "sd-image.sh: $f not found" >&2; exit 1; fi
done
need mformat mcopy mmd

# SD_SIZE: QEMU's SD model takes only a power of two; a 64 MiB card keeps the tests fast, a
# bigger one gives swap room for an overcommitted workload (512M: 471 MiB of swap).
size=${SD_SIZE:-64M}
case $size in
    *G) size_mib=$(( ${size%G} * 1024 )) ;;
    *M) size_mib=${size%M} ;;
    *) echo "sd-image.sh: SD_SIZE=$size: give a size in M or G, e.g. 512M" >&2; exit 2 ;;
esac
if ! [ "$size_mib" -ge 64 ] 2>/dev/null || [ "$size_mib" -gt 1024 ] || [ $(( size_mib & (size_mib - 1) )) -ne 0 ]; then
    echo "sd-image.sh: SD_SIZE=$size: the card must be a power of two from 64M to 1G (QEMU's SD model)" >&2
    exit 2
fi
# p1 FAT32 from 1 MiB, 40 MiB (81920 sectors: enough clusters for FAT32 with 512-byte
# clusters); p2 swap from 41 MiB to the end (23 MiB on a 64 MiB card).
total_sectors=$(( size_mib * 2048 ))
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
if [ "${#data[@]}" -gt 0 ]; then
    mmd -i "$work/p1.img" ::data
    mcopy -i "$work/p1.img" "${data[@]}" ::data/
fi

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
echo "sd-image.sh: wrote $out ($size_mib MiB: p1 FAT32 $(( p1_sectors / 2048 )) MiB with $(basename "$kernel") config.txt cmdline.txt, $# programs in /bin and ${#data[@]} files in /data, p2 swap $(( p2_sectors / 2048 )) MiB, $swap)"
