#!/usr/bin/env bash
# kallsyms.sh ELF - writes the kernel's function symbols (address-sorted `nm -n -C` lines, the
# address as wide as the ELF's: 8 hex digits for ARMv7, 16 for arm64) into
# the ELF's reserved .kallsyms section, so oopses can name the function a pc or lr is in.
# The section has a fixed size (linker.ld, src/arch/arm64/linker.ld), so no address changes.
set -euo pipefail

elf=$1
nm=${NM:-arm-none-eabi-nm}
objcopy=${OBJCOPY:-arm-none-eabi-objcopy}
readelf=${READELF:-arm-none-eabi-readelf}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# Section lines read "[Nr] Name Type Addr Off Size ...": the size is 4 fields after the name.
hex=$("$readelf" -S -W "$elf" | awk '{ for (i = 1; i < NF; i++) if ($i == ".kallsyms") print $(i + 4) }')
if [ -z "$hex" ]; then
    echo "kallsyms.sh: $elf has no .kallsyms section" >&2
    exit 1
fi
size=$(printf '%d' "0x$hex")
"$nm" -n -C --defined-only "$elf" | awk '$2 ~ /^[tTwW]$/' > "$tmp"
used=$(stat -c %s "$tmp")
if [ "$used" -ge "$size" ]; then
    echo "kallsyms.sh: $used bytes of symbols do not fit the $size-byte .kallsyms section;" \
         "raise KALLSYMS_SIZE in the linker script (linker.ld; arm64: src/arch/arm64/linker.ld)" >&2
    exit 1
fi
truncate -s "$size" "$tmp"
"$objcopy" --update-section .kallsyms="$tmp" "$elf"
