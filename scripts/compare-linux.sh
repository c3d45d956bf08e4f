#!/usr/bin/env bash
# compare-linux.sh [PHASE...] - runs the project's test programs on real Linux 6.1 (Debian's
# armmp kernel for armhf) on the same QEMU board and with the same initramfs as pivm, saves each
# phase's console output as build/compare/linux-PHASE.txt, and prints one table per phase: the
# fault counts of every step, the address layout, the SIGSEGV table and the costs, the reference
# transcripts (shared/samples) and pivm next to Linux.
#
# Phases (all by default): faults (faults.txt's runs), layout (layout.txt's, randomisation off),
# hostile (segv, efault, crash, syscalls, mapmax, forkbomb, membomb), icount (icount.txt's
# timings under -icount shift=0 with maxcpus=1).
#
# Linux comes through apt: an armhf package list of its own under build/linux/apt (the machine's
# apt sources, nothing installed, nothing changed in the system's apt state), then
# `apt-get download` of linux-image-armmp's kernel and busybox-static; vmlinuz, the upstream
# bcm2836-rpi-2-b.dtb and busybox are kept in build/linux/. The initrd is build/initramfs.cpio.gz
# (make initramfs) followed by a second archive with busybox and an /init that runs the phase:
# Linux unpacks concatenated archives in order.
#
# pivm's column reads build/compare/pivm-PHASE.txt (PIVM_DIR=... to read them elsewhere): the
# console transcript of pivm running the same commands. Environment: SAMPLES (the reference
# transcripts, default ../shared/samples/linux-6.1-raspi2b-user), TIMEOUT (seconds per boot,
# default 1800), LINUX_PKG (a linux-image-*-armmp package name instead of the current one).
set -euo pipefail

cd "$(dirname "$0")/.."
linux=build/linux
out=build/compare
initramfs=build/initramfs.cpio.gz
samples=${SAMPLES:-../shared/samples/linux-6.1-raspi2b-user}
pivm_dir=${PIVM_DIR:-$out}
timeout=${TIMEOUT:-1800}
phases=${*:-faults layout hostile icount}
mkdir -p "$linux" "$out"

die() { echo "compare-linux: $*" >&2; exit 1; }
[ -f "$initramfs" ] || die "$initramfs missing: run 'make initramfs'"
for p in $phases; do
    case $p in faults|layout|hostile|icount) ;; *) die "unknown phase '$p' (faults layout hostile icount)" ;; esac
done

# ---- Debian's packages, through apt with a private armhf state ---------------------------------
apt_dir=$PWD/$linux/apt
apt_opts=(-q -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::State::status=$apt_dir/status" -o APT::Architecture=armhf -o APT::Architectures::=armhf
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
fetch() {
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$linux/debs"
    touch "$apt_dir/status"
    echo "compare-linux: apt-get update (armhf package lists, in $apt_dir)"
    # A mirror mid-sync can fail one list (security, updates); what matters is the main one.
    apt-get "${apt_opts[@]}" update > "$linux/apt-update.log" 2>&1 || true
    local pkg=${LINUX_PKG:-}
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-armmp 2>/dev/null |
              sed -n 's/^ *Depends: \(linux-image-[0-9.]*-[0-9]*-armmp\)$/\1/p' | head -1)
    fi
    if [ -z "$pkg" ]; then
        echo "compare-linux: no linux-image-armmp for armhf in apt's lists; apt-get update said:" >&2
        tail -5 "$linux/apt-update.log" >&2
        die "Debian's mirror is not reachable through apt (see $linux/apt-update.log)"
    fi
    echo "compare-linux: apt-get download $pkg:armhf busybox-static:armhf"
    (cd "$linux/debs" && apt-get "${apt_opts[@]}" download "$pkg:armhf" busybox-static:armhf) \
        > "$linux/apt-download.log" 2>&1 || { tail -5 "$linux/apt-download.log" >&2; die "apt-get download failed"; }
    local deb
    deb=$(ls "$linux"/debs/"$pkg"_*.deb | head -1)
    rm -rf "$linux/x" && mkdir -p "$linux/x"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$linux/x" --wildcards './boot/vmlinuz-*' '*/bcm2836-rpi-2-b.dtb'
    cp "$linux"/x/boot/vmlinuz-* "$linux/vmlinuz"
    cp "$(find "$linux/x" -name bcm2836-rpi-2-b.dtb | head -1)" "$linux/bcm2836-rpi-2-b.dtb"
    dpkg-deb -x "$(ls "$linux"/debs/busybox-static_*.deb | head -1)" "$linux/x/bb"
    cp "$linux/x/bb/bin/busybox" "$linux/busybox"
    echo "$pkg $(dpkg-deb -f "$deb" Version)" > "$linux/version"
    rm -rf "$linux/x"
}
if [ ! -f "$linux/vmlinuz" ] || [ ! -f "$linux/bcm2836-rpi-2-b.dtb" ] || [ ! -f "$linux/busybox" ] ||
   [ ! -f "$linux/version" ]; then
    fetch
fi
echo "compare-linux: $(cat "$linux/version") from Debian; busybox-static for the shell"

# ---- what each phase runs (the reference transcripts' commands, minus the SD card's) -----------
# The reference dropped the page cache (for its SD card runs) before its /bin/vmtest entry and
# exec runs, and that changes their counts on tmpfs too, so the same drop_caches is done here.
phase_commands() {
    case $1 in
    faults) cat <<'EOF'
grep -E "^(pgfault|pgmajfault) " /proc/vmstat; /bin/vmtest anon 1 16 256 4096; grep -E "^(pgfault|pgmajfault) " /proc/vmstat
/bin/vmtest anon 4096 4096
/bin/vmtest anonrd 1 16 256 4096
/bin/vmtest malloc 1 16 31 32 256 4096
/bin/vmtest stack 1 16 256 1024
/bin/vmtest file /data/f16m 1 16 256 4096
/bin/vmtest fileshared /data/f16m 1 16 256 4096
echo 4096 > /sys/kernel/debug/fault_around_bytes; /bin/vmtest file /data/f16m 1 16 256 4096; /bin/vmtest fileshared /data/f16m 4096; echo 65536 > /sys/kernel/debug/fault_around_bytes
echo 3 > /proc/sys/vm/drop_caches
/bin/vmtest entry; /bin/vmtest entry; /bin/tiny | tail -1
/bin/vmtest exec
EOF
    ;;
    layout) cat <<'EOF'
echo 0 > /proc/sys/kernel/randomize_va_space; cat /proc/sys/kernel/randomize_va_space
/bin/tiny
/bin/tiny
cat /proc/self/maps
/bin/vmtest layout
/bin/vmtest stack 1 16 256 2048
(ulimit -s unlimited; /bin/vmtest layout)
echo 2 > /proc/sys/kernel/randomize_va_space; cat /proc/sys/kernel/randomize_va_space
/bin/vmtest norand /bin/vmtest layout
/bin/vmtest norand /bin/tiny
/bin/vmtest segv
/bin/procself
EOF
    ;;
    hostile) cat <<'EOF'
/bin/segv
/bin/efault
for m in null-read null-write kernel-read kernel-write kernel-jump vectors-write stack undef; do /bin/crash $m; echo "crash $m: exit status $?"; done
/bin/vmtest null; echo "exit status $?"
/bin/syscalls
/bin/vmtest norand /bin/mapmax
/bin/forkbomb --nproc 64
/bin/spin 1
grep -E "^(MemFree|AnonPages):" /proc/meminfo; /bin/membomb; echo "membomb: exit status $?"; grep -E "^(MemFree|AnonPages):" /proc/meminfo
EOF
    ;;
    icount) cat <<'EOF'
cat /proc/cpuinfo | grep -c processor
/bin/vmtest time 4096 3
/bin/vmtest time 256 3
/bin/vmtest time 16 3
/bin/vmtest fileshared /data/f16m 4096 4096
/bin/vmtest file /data/f16m 4096
echo 4096 > /sys/kernel/debug/fault_around_bytes; /bin/vmtest fileshared /data/f16m 4096 4096; echo 65536 > /sys/kernel/debug/fault_around_bytes
echo 3 > /proc/sys/vm/drop_caches
/bin/vmtest exec
EOF
    ;;
    esac
}

# The reference's boot settings (the "## cmdline=... qemu_extra=..." line of each transcript).
phase_cmdline() {
    case $1 in
    icount) echo "console=ttyAMA0 rdinit=/init maxcpus=1" ;;
    *) echo "console=ttyAMA0 rdinit=/init" ;;
    esac
}
phase_qemu_extra() {
    case $1 in
    icount) echo "-icount shift=0" ;;
    *) echo "" ;;
    esac
}

# The second archive: busybox (its applets linked in /bin at boot) and the phase's /init.
extras() {
    local phase=$1 root=$out/extras-$1
    rm -rf "$root" && mkdir -p "$root/bin" "$root/sys" "$root/etc"
    cp "$linux/busybox" "$root/bin/busybox"
    {
        echo '#!/bin/busybox sh'
        echo '/bin/busybox --install -s /bin'
        echo 'export PATH=/bin'
        echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t debugfs debugfs /sys/kernel/debug'
        echo 'mount -t devtmpfs devtmpfs /dev 2>/dev/null'
        echo "echo \"=== compare-linux phase $phase: \$(uname -r) \$(cat /proc/cmdline)\""
        phase_commands "$phase" | while IFS= read -r cmd; do
            printf 'echo %q\n' "### $cmd"
            printf '%s\n' "$cmd"
        done
        echo 'echo "=== compare-linux done"'
        echo 'poweroff -f'
    } > "$root/init"
    chmod 0755 "$root/init" "$root/bin/busybox"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -n) \
        > "$out/extras-$phase.cpio.gz"
    cat "$initramfs" "$out/extras-$phase.cpio.gz" > "$out/initrd-$phase.cpio.gz"
}

# One boot: QEMU in the background, its console in a file, stopped when /init says it is done
# (Debian's kernel cannot power the board off: the watchdog driver is a module), when the kernel
# panics, or after $timeout seconds.
qpid=
trap '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true' EXIT
boot() {
    local phase=$1 log=$out/boot-$1.log waited=0
    local extra
    extra=$(phase_qemu_extra "$phase")
    : > "$log"
    # shellcheck disable=SC2086 # $extra is a list of options
    qemu-system-arm -M raspi2b -display none -monitor none -serial stdio $extra \
        -kernel "$linux/vmlinuz" -dtb "$linux/bcm2836-rpi-2-b.dtb" \
        -initrd "$out/initrd-$phase.cpio.gz" -append "$(phase_cmdline "$phase")" \
        < /dev/null > "$log" 2>&1 &
    qpid=$!
    while kill -0 "$qpid" 2>/dev/null; do
        if grep -qaE '=== compare-linux done|Kernel panic|Reboot failed|reboot: (System halted|Power down)' "$log"; then
            sleep 1
            break
        fi
        if [ "$waited" -ge "$timeout" ]; then
            echo "compare-linux: phase $phase did not finish within $timeout s (TIMEOUT=...); see $log" >&2
            break
        fi
        sleep 2
        waited=$((waited + 2))
    done
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    qpid=
    # The phase's output: from /init's first line to its last, carriage returns dropped.
    tr -d '\r' < "$log" | sed -n '/^=== compare-linux phase/,/^=== compare-linux done/p' > "$out/linux-$phase.txt"
    grep -q '^=== compare-linux done' "$out/linux-$phase.txt" ||
        echo "compare-linux: phase $phase is incomplete; the console log is $log" >&2
    echo "compare-linux: phase $phase: $(grep -c '^### ' "$out/linux-$phase.txt") commands in $out/linux-$phase.txt (${waited} s)"
}

for phase in $phases; do
    extras "$phase"
    boot "$phase"
done

# ---- the table ---------------------------------------------------------------------------------
reference_for() {
    case $1 in
    faults) echo "$samples/faults.txt" ;;
    layout) echo "$samples/layout.txt" ;;
    hostile) echo "$samples/layout.txt" ;;
    icount) echo "$samples/icount.txt" ;;
    esac
}
for phase in $phases; do
    echo
    perl scripts/compare-table.pl --title "phase $phase ($(cat "$linux/version"))" \
        "$(reference_for "$phase")" "$out/linux-$phase.txt" "$pivm_dir/pivm-$phase.txt"
done
