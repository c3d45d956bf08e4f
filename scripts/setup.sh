#!/usr/bin/env bash
# setup.sh - installs what building and testing pivm needs: QEMU, the ARM binutils, dtc, mtools,
# dosfstools (and gdb-multiarch with --gdb), the C cross compilers with their glibc for the user
# test programs (32-bit ARM, AArch64), user-mode QEMU (qemu-arm) and cpio for the initramfs,
# Debian's chromium (the headless browser the pictures' test opens each page in, make test),
# plus the Rust cross targets of the pinned toolchain.
# valgrind with --bench (make bench's instruction counts).
# Idempotent and silent when everything is present. Usage: scripts/setup.sh [--gdb] [--bench]
set -euo pipefail

cd "$(dirname "$0")/.."

want_gdb=0
want_bench=0
for arg in "$@"; do
    case "$arg" in
        --gdb) want_gdb=1 ;;
        --bench) want_bench=1 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (use --gdb or --bench)" >&2; exit 2 ;;
    esac
done

# command -> Debian package. mkfs.fat lives in /sbin, which a user's PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/sbin/$1" ] || [ -x "/usr/sbin/$1" ]; }

tools=(make:make qemu-system-arm:qemu-system-arm arm-none-eabi-objcopy:binutils-arm-none-eabi
       dtc:device-tree-compiler mcopy:mtools mformat:mtools mkfs.fat:dosfstools
       arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu
       qemu-arm:qemu-user cpio:cpio gzip:gzip perl:perl-base
       chromium:chromium)
# file -> Debian package: the cross compilers' C libraries (only recommended by the compilers).
files=(/usr/arm-linux-gnueabihf/include/stdio.h:libc6-dev-armhf-cross
       /usr/aarch64-linux-gnu/include/stdio.h:libc6-dev-arm64-cross)
if [ "$want_gdb" = 1 ]; then tools+=(gdb-multiarch:gdb-multiarch); fi
if [ "$want_bench" = 1 ]; then tools+=(valgrind:valgrind); fi

missing=()
for t in "${tools[@]}"; do
    cmd=${t%%:*} pkg=${t#*:}
    if ! have "$cmd" && [[ " ${missing[*]-} " != *" $pkg "* ]]; then missing+=("$pkg"); fi
done
for f in "${files[@]}"; do
    path=${f%%:*} pkg=${f#*:}
    if [ ! -e "$path" ]; then missing+=("$pkg"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: missing packages: ${missing[*]}. Install them with:" >&2
        echo "    sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        echo "setup.sh: could not install ${missing[*]} with apt-get (see its message above)." >&2
        if [[ " ${missing[*]} " == *" chromium "* ]]; then
            echo "setup.sh: chromium is the headless browser the pictures' test (cargo test -p picture," >&2
            echo "    tools/picture/tests/browser.rs) opens every page in; without it that test fails." >&2
        fi
        exit 1
    fi
fi

# Rust cross targets for the toolchain pinned in rust-toolchain.toml (never update the toolchain).
if ! command -v rustup >/dev/null 2>&1; then
    echo "setup.sh: rustup not found; the pinned Rust toolchain (rust-toolchain.toml) is required" >&2
    exit 1
fi
installed=$(rustup target list --installed)
for target in armv7a-none-eabi aarch64-unknown-none; do
    if ! grep -qx "$target" <<<"$installed"; then
        rustup target add "$target"
    fi
done
