#!/usr/bin/env bash
# sdimage-lib.sh - the pieces both SD-card images share (sourced by sdcard.sh, the real Pi's
# card, and sd-image.sh, QEMU's): a FAT32 file system made with mtools, the boot files copied
# into it, and MBR partition entries written into the image. No root needed, no loop devices.

# le32 N: a little-endian 32-bit value as printf escapes.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( $1 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 >> 16 & 255 )) $(( $1 >> 24 & 255 )); }

# need TOOL...: fails with the setup hint when a tool is missing.
need() {
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "$(basename "$0"): $t missing: run scripts/setup.sh" >&2
            exit 1
        fi
    done
}

# fat32_image FILE SECTORS HIDDEN LABEL: FILE becomes a FAT32 volume of SECTORS 512-byte
# sectors, one sector per cluster, that will sit at sector HIDDEN of the card (mformat).
fat32_image() {
    local file=$1 sectors=$2 hidden=$3 label=$4
    rm -f "$file"
    truncate -s $(( sectors * 512 )) "$file"
    mformat -i "$file" -F -T "$sectors" -h 64 -s 32 -H "$hidden" -c 1 -v "$label" ::
}

# copy_boot_files FATFILE KERNEL_IMG CONFIG_TXT "CMDLINE" WORKDIR: what the firmware reads
# (and DTB=FILE, copied under its own name).
copy_boot_files() {
    local fat=$1 kernel=$2 config=$3 cmdline=$4 work=$5
    printf '%s\n' "$cmdline" > "$work/cmdline.txt"
    mcopy -i "$fat" "$config" ::config.txt
    mcopy -i "$fat" "$work/cmdline.txt" ::cmdline.txt
    # Under its own name: kernel7.img (the Pi 2's 32-bit kernel) or kernel8.img (the Pi 3's
    # 64-bit one), the file config.txt's kernel= names.
    mcopy -i "$fat" "$kernel" "::$(basename "$kernel")"
    # A device tree config.txt's device_tree= names, when one is given (the 64-bit kernel's).
    if [ -n "${DTB:-}" ]; then mcopy -i "$fat" "$DTB" "::$(basename "$DTB")"; fi
}

# mbr_entry IMAGE SLOT BOOT TYPE START SECTORS: MBR partition entry SLOT (1-4), LBA only
# (CHS fields maxed out), BOOT 0x80 or 0x00.
mbr_entry() {
    local img=$1 slot=$2 boot=$3 type=$4 start=$5 sectors=$6
    # shellcheck disable=SC2059
    printf "$(printf '\\x%02x' "$boot")\\xfe\\xff\\xff$(printf '\\x%02x' "$type")\\xfe\\xff\\xff$(le32 "$start")$(le32 "$sectors")" |
        dd of="$img" bs=1 seek=$(( 446 + 16 * (slot - 1) )) conv=notrunc status=none
}

# mbr_signature IMAGE: the 0x55AA at the end of sector 0.
mbr_signature() {
    printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

# place IMAGE PART START: writes the partition image PART at sector START, keeping holes.
place() {
    dd if="$2" of="$1" bs=512 seek="$3" conv=notrunc,sparse status=none
}
