#!/usr/bin/env bash
# compare-lib.sh - what scripts/compare-linux.sh (ARMv7, Debian's armmp kernel on raspi2b) and
# scripts/compare-linux-arm64.sh (AArch64, Debian's arm64 kernel on raspi3b) share: Debian's
# packages through apt with a private state, the card's modules from the kernel .deb, the one
# list of steps each phase runs on both kernels, Linux's /init, and one boot of each kernel.
# Sourced, not run. The caller sets:
#   linux out initramfs timeout sd_img sd_swap_img   directories and images (compare-linux.sh)
#   apt_arch linux_meta linux_flavour linux_dtb      Debian's architecture, the kernel's meta
#                                                     package, its flavour and the board's dtb
#   linux_qemu (array) linux_console                 QEMU's board and serial ports for Linux,
#                                                     and its console= option
#   pivm_qemu (array) pivm_img pivm_initrd pivm_tag  pivm's QEMU, image, initramfs, and the
#                                                     name of its transcripts ($out/TAG-PHASE.txt)
#   user_dir                                          the programs the swap phase's archive holds
#   swap_mem                                          the swap and diskcost phases' memory
#                                                     (ARM: mem=120M mem=8M@0x08000000; arm64
#                                                     takes one mem=SIZE)
#   icount_opt                                        -icount's value (shift=0; raspi3b's
#                                                     reproducible one is shift=0,sleep=off)
# and calls compare_apt_setup before fetch.

# ---- Debian's packages, through apt with a private state of $apt_arch -------------------------
# apt's options: every state and cache file under $linux/apt, the one architecture.
compare_apt_setup() {
    apt_dir=$PWD/$linux/apt
    apt_opts=(-q -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
              -o "Dir::State::status=$apt_dir/status" -o "APT::Architecture=$apt_arch" -o "APT::Architectures::=$apt_arch"
              -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
}
# Fetches the kernel, the device tree and busybox; on failure says why and returns 1.
fetch() {
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$linux/debs"
    touch "$apt_dir/status"
    echo "compare-linux: apt-get update ($apt_arch package lists, in $apt_dir)"
    # A mirror mid-sync can fail one list (security, updates); what matters is the main one.
    apt-get "${apt_opts[@]}" update > "$linux/apt-update.log" 2>&1 || true
    local pkg=${LINUX_PKG:-}
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache "${apt_opts[@]}" depends "$linux_meta" 2>/dev/null |
              sed -n "s/^ *Depends: \(linux-image-[0-9.]*-[0-9]*-$linux_flavour\)\$/\1/p" | head -1)
    fi
    if [ -z "$pkg" ]; then
        echo "compare-linux: no $linux_meta for $apt_arch in apt's lists; apt-get update said:" >&2
        tail -5 "$linux/apt-update.log" >&2
        echo "compare-linux: Debian's mirror is not reachable through apt (see $linux/apt-update.log)" >&2
        return 1
    fi
    echo "compare-linux: apt-get download $pkg:$apt_arch busybox-static:$apt_arch"
    if ! (cd "$linux/debs" && apt-get "${apt_opts[@]}" download "$pkg:$apt_arch" "busybox-static:$apt_arch") \
        > "$linux/apt-download.log" 2>&1; then
        tail -5 "$linux/apt-download.log" >&2
        echo "compare-linux: apt-get download failed (see $linux/apt-download.log)" >&2
        return 1
    fi
    local deb
    deb=$(ls "$linux"/debs/"$pkg"_*.deb | head -1)
    rm -rf "$linux/x" && mkdir -p "$linux/x"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$linux/x" --wildcards './boot/vmlinuz-*' "*/$linux_dtb"
    cp "$linux"/x/boot/vmlinuz-* "$linux/vmlinuz"
    cp "$(find "$linux/x" -name "$linux_dtb" | head -1)" "$linux/$linux_dtb"
    dpkg-deb -x "$(ls "$linux"/debs/busybox-static_*.deb | head -1)" "$linux/x/bb"
    cp "$linux/x/bb/bin/busybox" "$linux/busybox"
    echo "$pkg $(dpkg-deb -f "$deb" Version)" > "$linux/version"
    rm -rf "$linux/x"
}
# Sets have_linux: 1 when Linux's kernel, device tree and busybox are in $linux (fetched now
# when they are not), 0 with SKIP_LINUX=1 or when apt cannot fetch them (it says why).
find_linux() {
    have_linux=1
    if [ -n "${SKIP_LINUX:-}" ]; then
        have_linux=0
    elif [ ! -f "$linux/vmlinuz" ] || [ ! -f "$linux/$linux_dtb" ] || [ ! -f "$linux/busybox" ] ||
       [ ! -f "$linux/version" ]; then
        fetch || { have_linux=0; echo "compare-linux: no Linux column this time; pivm runs against the reference" >&2; }
    fi
}
# The modules the card needs, from the kernel .deb: the sdhost driver and FAT with its code
# pages (mmc_core, mmc_block and swap are built in). Kept in build/linux/modules with a
# modules.dep of their own (the .deb has none: depmod makes it at install), computed from each
# module's depends= field; Debian 13's .ko.xz/.ko.zst are decompressed for busybox's insmod.
card_modules="bcm2835 fat vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8"
extract_modules() {
    local deb m f
    deb=$(ls "$linux"/debs/linux-image-*-"$linux_flavour"_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "compare-linux: no kernel .deb in $linux/debs for the card's modules" >&2; return 1; }
    rm -rf "$linux/x" "$linux/modules" && mkdir -p "$linux/x" "$linux/modules"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$linux/x" --wildcards '*/kernel/drivers/mmc/host/bcm2835.ko*' \
        '*/kernel/fs/fat/*.ko*' '*/kernel/fs/nls/nls_*.ko*'
    for m in $card_modules; do
        f=$(find "$linux/x" -name "$m.ko*" | head -1)
        [ -n "$f" ] || { echo "compare-linux: $m.ko is not in $deb" >&2; return 1; }
        case $f in
            *.ko.xz) xz -dc "$f" > "$linux/modules/$m.ko" ;;
            *.ko.zst) zstd -qdc "$f" > "$linux/modules/$m.ko" ;;
            *.ko.gz) gzip -dc "$f" > "$linux/modules/$m.ko" ;;
            *) cp "$f" "$linux/modules/$m.ko" ;;
        esac
    done
    # modules.dep: "m.ko: dep.ko ...", from the .modinfo section's depends= line.
    for m in $card_modules; do
        local deps
        deps=$(strings "$linux/modules/$m.ko" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
        echo "$m.ko:$(for d in $deps; do printf ' %s.ko' "$d"; done)"
    done > "$linux/modules/modules.dep"
    rm -rf "$linux/x"
}
# ---- what each phase runs: ONE list for both kernels --------------------------------------------
# Each line is a step. "/bin/PROG ARGS" runs the program on both kernels: Linux's shell as typed,
# pivm's console as `run /bin/PROG ARGS`; a program killed by a signal gets the shell's line
# ("Segmentation fault", "Killed") on both. "linux: SHELL" runs on Linux only (the initramfs's
# drop_caches, which pivm cannot drop, and a shell's ulimit), so pivm has no rows there;
# such a step comes after every step that prints the same rows, so repeated rows (" #2") still
# pair the same runs.
# "sh: COMMAND" is typed on both: Linux's shell runs it (with PATH=/bin), pivm's console takes
# it as a console command (`cat /proc/swaps`, `swapon /dev/mmcblk0p2`); "pivm: COMMAND" is
# typed at pivm's console only (Linux's side of it is in /init's card setup, or the step before
# it: pivm's form of a Linux knob, `blockdev --setra` for sysfs's read_ahead_kb).
# The reference dropped the page cache before its entry/exec runs; on Linux's tmpfs that changes
# their counts (see README), pivm has nothing to drop, so that run comes last, Linux only.
phase_steps() {
    case $1 in
    faults) cat <<'STEPS'
/bin/vmtest anon 1 16 256 4096
/bin/vmtest anon 4096 4096
/bin/vmtest anonrd 1 16 256 4096
/bin/vmtest malloc 1 16 31 32 256 4096
/bin/vmtest stack 1 16 256 1024
/bin/vmtest file /data/f16m 1 16 256 4096
/bin/vmtest fileshared /data/f16m 1 16 256 4096
/bin/cardmap fa 4096
/bin/vmtest file /data/f16m 1 16 256 4096
/bin/vmtest fileshared /data/f16m 4096
/bin/cardmap fa 65536
/bin/vmtest entry
/bin/vmtest entry
/bin/tiny
/bin/vmtest exec
linux: echo 3 > /proc/sys/vm/drop_caches; /bin/vmtest entry; /bin/vmtest exec
STEPS
    ;;
    layout) cat <<'STEPS'
/bin/tiny
/bin/tiny
/bin/vmtest layout
/bin/vmtest stack 1 16 256 2048
/bin/vmtest norand /bin/vmtest layout
/bin/vmtest norand /bin/tiny
/bin/vmtest segv
/bin/procself
linux: (ulimit -s unlimited; /bin/vmtest layout)
STEPS
    ;;
    hostile) cat <<'STEPS'
/bin/segv
/bin/efault
/bin/crash null-read
/bin/crash null-write
/bin/crash kernel-read
/bin/crash kernel-write
/bin/crash kernel-jump
/bin/crash vectors-write
/bin/crash stack
/bin/crash undef
/bin/vmtest null
/bin/syscalls
/bin/vmtest norand /bin/mapmax
/bin/forkbomb --nproc 64
/bin/spin 1
/bin/membomb
STEPS
    ;;
    icount) cat <<'STEPS'
/bin/vmtest time 4096 3
/bin/vmtest time 256 3
/bin/vmtest time 16 3
/bin/vmtest fileshared /data/f16m 4096 4096
/bin/vmtest file /data/f16m 4096
/bin/cardmap fa 4096
/bin/vmtest fileshared /data/f16m 4096 4096
/bin/cardmap fa 65536
/bin/vmtest exec
STEPS
    ;;
    # The card: /boot/data/f16m is the initramfs's /data/f16m (16 MiB, page i filled with i mod
    # 256) on the FAT partition. -d drops the page cache first (cardmap writes drop_caches), so
    # each N starts from an empty cache; "cardmap ra KB" sets the card's read_ahead_kb.
    card) cat <<'STEPS'
pivm: ls /boot
sh: cat /proc/partitions
/bin/cardmap cache
/bin/cardmap -d /boot/data/f16m shared 1 16 256 4096
/bin/cardmap /boot/data/f16m shared 4096
/bin/cardmap -d /boot/data/f16m private 1 16 256 4096
/bin/cardmap -d /boot/data/f16m private write 256
/bin/cardmap -d read /boot/data/f16m 4096 65536
/bin/cardmap cache
linux: /bin/cardmap ra 0
pivm: blockdev --setra 0 /dev/mmcblk0
/bin/cardmap -d /boot/data/f16m shared 1 16 256 4096
/bin/cardmap /boot/data/f16m shared 4096
/bin/cardmap -d read /boot/data/f16m 4096 65536
linux: /bin/cardmap ra 128
pivm: blockdev --setra 256 /dev/mmcblk0
/bin/cardmap fa 4096
/bin/cardmap -d /boot/data/f16m shared 16 256 4096
/bin/cardmap fa 65536
/bin/cardmap drop
/boot/bin/vmtest entry
/boot/bin/vmtest entry
/boot/bin/tiny
/bin/cardmap drop
/boot/bin/vmtest exec
/bin/cardmap cache
sh: cat /proc/diskstats
STEPS
    ;;
    # Swap on the 512 MiB card's p2 (471 MiB), 128 MiB of RAM ($swap_mem: ARM's
    # mem=120M mem=8M@0x08000000 as swap.txt, arm64's mem=128M): the reference's own run
    # (vmtest swap 192 2), then swapstress's checked pattern over 192 MiB, MADV_PAGEOUT
    # without pressure, and three programs at once.
    # page-cluster 0 (every swap-in a major fault, ~5 minutes at 192 MiB) is in diskcost.
    swap) cat <<'STEPS'
sh: swapon /dev/mmcblk0p2
sh: cat /proc/swaps
/bin/cardmap cache
/bin/vmtest swap 192 2
/bin/swapstress -m 192 -p 1
/bin/swapstress -m 16 -p 1 -o
/bin/swapstress -m 48 -p 1 -j 3
sh: cat /proc/swaps
/bin/cardmap cache
sh: swapoff /dev/mmcblk0p2
sh: cat /proc/swaps
STEPS
    ;;
    # The costs of the disk under -icount shift=0 (1 ns of guest time = 1 instruction), one
    # CPU, the swap phase's card and memory: a file page's major fault without read-ahead and
    # with it, and swap-in with page-cluster 3 and 0 (swap-icount.txt's runs), then the
    # overcommitted workload at 192, 64 and 256 MiB (three sizes that swap: 128, 192, 256).
    # pivm sets read_ahead_kb and page-cluster with its console commands (blockdev, sysctl).
    # scripts/bench-disk.sh turns them into figures.
    diskcost) cat <<'STEPS'
sh: swapon /dev/mmcblk0p2
linux: /bin/cardmap ra 0
pivm: blockdev --setra 0 /dev/mmcblk0
/bin/cardmap -d /boot/data/f16m shared 256
linux: /bin/cardmap ra 128
pivm: blockdev --setra 256 /dev/mmcblk0
/bin/cardmap -d /boot/data/f16m shared 4096
linux: /bin/cardmap pc 3
pivm: sysctl vm.page-cluster=3
/bin/vmtest swap 128 1
linux: /bin/cardmap pc 0
pivm: sysctl vm.page-cluster=0
/bin/vmtest swap 128 1
linux: /bin/cardmap pc 3
pivm: sysctl vm.page-cluster=3
/bin/vmtest swap 192 1
/bin/vmtest swap 64 1
/bin/vmtest swap 256 1
STEPS
    ;;
    esac
}

# What /init does on Linux before the steps of a phase with the card: load the modules
# (modules.dep order), wait for the partitions, mount p1 at /boot as a Pi does (vfat,
# read-only here: the image is a snapshot), and show what Linux found.
phase_linux_setup() {
    case $1 in
    card|swap|diskcost) cat <<'SETUP'
load() { local m=$1 d; grep -q "^$(echo "$m" | tr - _) " /proc/modules && return 0
  for d in $(sed -n "s/^$m.ko://p" /lib/modules/card/modules.dep); do load "${d%.ko}"; done
  insmod "/lib/modules/card/$m.ko"; }
for m in bcm2835 vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8; do load $m; done
i=0; while [ ! -b /dev/mmcblk0p1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
mkdir -p /boot; mount -t vfat -o ro /dev/mmcblk0p1 /boot
echo "### linux setup: modules, /proc/partitions, mount, read_ahead_kb, fault_around_bytes, page-cluster"
dmesg | grep -E "mmc|mmcblk|sdhost|FAT|vfat" | sed 's/^\[ *[0-9.]*\] /dmesg: /'
cat /proc/modules | cut -d' ' -f1
cat /proc/partitions; grep /boot /proc/mounts
cat /sys/block/mmcblk0/queue/read_ahead_kb /sys/kernel/debug/fault_around_bytes /proc/sys/vm/page-cluster
SETUP
    ;;
    esac
}

# Linux's command line: the reference's (the "## cmdline=..." line of each transcript) plus
# norandmaps; pivm's: norandmaps. The swap phases' memory is $swap_mem on both; QEMU's extra
# options are the same for both.
phase_cmdline() {
    case $1 in
    icount) echo "$linux_console rdinit=/init norandmaps maxcpus=1" ;;
    swap) echo "$linux_console rdinit=/init norandmaps $swap_mem" ;;
    diskcost) echo "$linux_console rdinit=/init norandmaps $swap_mem maxcpus=1" ;;
    *) echo "$linux_console rdinit=/init norandmaps" ;;
    esac
}
# pivm's: norandmaps, and the swap phase's memory.
phase_pivm_cmdline() {
    case $1 in
    swap|diskcost) echo "norandmaps $swap_mem" ;;
    *) echo "norandmaps" ;;
    esac
}
phase_qemu_extra() {
    case $1 in
    icount) echo "-icount $icount_opt" ;;
    card) echo "-drive file=$sd_img,if=sd,format=raw,snapshot=on" ;;
    swap) echo "-drive file=$sd_swap_img,if=sd,format=raw,snapshot=on" ;;
    diskcost) echo "-icount $icount_opt -drive file=$sd_swap_img,if=sd,format=raw,snapshot=on" ;;
    *) echo "" ;;
    esac
}

# ---- Linux --------------------------------------------------------------------------------------
# The second archive: busybox (its applets linked in /bin at boot) and the phase's /init.
extras() {
    local phase=$1 root=$out/extras-$1
    rm -rf "$root" && mkdir -p "$root/bin" "$root/sys" "$root/etc" "$root/lib/modules/card"
    cp "$linux/busybox" "$root/bin/busybox"
    case $phase in card|swap|diskcost) cp "$linux"/modules/*.ko "$linux/modules/modules.dep" "$root/lib/modules/card/" ;; esac
    # The swap phase's 128 MiB (64 of them CMA) cannot unpack the whole initramfs (its 16 MiB
    # f16m and every program: "Initramfs unpacking failed: write error"), so its archive is
    # this one alone, with the three programs it runs; pivm boots the same archive.
    local base=$initramfs
    if [ "$phase" = swap ] || [ "$phase" = diskcost ]; then
        base=
        mkdir -p "$root/proc" "$root/dev" "$root/tmp"
        cp "$user_dir/vmtest" "$user_dir/swapstress" "$user_dir/cardmap" "$root/bin/"
    fi
    {
        echo '#!/bin/busybox sh'
        echo '/bin/busybox --install -s /bin'
        echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t debugfs debugfs /sys/kernel/debug'
        echo 'mount -t devtmpfs devtmpfs /dev 2>/dev/null'
        echo "echo \"=== compare-linux phase $phase: \$(uname -r) \$(cat /proc/cmdline)\""
        # The programs get the environment pivm's console gives them, Linux's envp_init
        # (HOME=/ TERM=linux): the same strings on the stack put argv, environ and AT_RANDOM
        # at the same addresses. Every step names its programs by their paths.
        phase_linux_setup "$phase"
        echo 'unset PATH PWD OLDPWD SHLVL'
        phase_steps "$phase" | while IFS= read -r step; do
            case $step in
            pivm:*) continue ;;
            sh:*) step="(export PATH=/bin; ${step#sh: })" ;;
            esac
            printf 'echo %q\n' "### ${step#linux: }"
            printf '%s\n' "${step#linux: }"
        done
        echo 'echo "=== compare-linux done"'
        echo '/bin/busybox poweroff -f'
    } > "$root/init"
    chmod 0755 "$root/init" "$root/bin/busybox"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -n) \
        > "$out/extras-$phase.cpio.gz"
    cat $base "$out/extras-$phase.cpio.gz" > "$out/initrd-$phase.cpio.gz"
}

# One boot: QEMU in the background, its console in a file, stopped when /init says it is done
# (Debian's kernel cannot power the board off: the watchdog driver is a module), when the kernel
# panics, or after $timeout seconds.
qpid=
trap '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true' EXIT
boot_linux() {
    local phase=$1 log=$out/boot-$1.log waited=0
    local extra
    extra=$(phase_qemu_extra "$phase")
    : > "$log"
    # shellcheck disable=SC2086 # $extra is a list of options
    "${linux_qemu[@]}" $extra \
        -kernel "$linux/vmlinuz" -dtb "$linux/$linux_dtb" \
        -initrd "$out/initrd-$phase.cpio.gz" -append "$(phase_cmdline "$phase")${LINUX_APPEND:+ $LINUX_APPEND}" \
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
        echo "compare-linux: Linux's phase $phase is incomplete; the console log is $log" >&2
    echo "compare-linux: Linux, phase $phase: $(grep -c '^### ' "$out/linux-$phase.txt") steps in $out/linux-$phase.txt (${waited} s)"
}

# ---- pivm ---------------------------------------------------------------------------------------
# One boot of pivm: each step typed at the console once its prompt is back (nothing typed
# ahead), `poweroff` at the end (semihosting ends QEMU). The transcript keeps the console's
# own lines ("pivm# run ..."), which compare-table.pl reads as the steps.
boot_pivm() {
    local phase=$1 log=$out/$pivm_tag-boot-$1.log start=$SECONDS
    local extra
    extra=$(phase_qemu_extra "$phase")
    phase_steps "$phase" > "$out/$pivm_tag-steps-$phase.txt"
    local initrd=$pivm_initrd
    # The uncompressed archive (27 MiB) loaded at 0x08000000 runs past lowmem with these
    # phases' $swap_mem: Linux's archive (the three programs), else the compressed one.
    case $phase in swap|diskcost)
        if [ -f "$out/initrd-$phase.cpio.gz" ]; then initrd=$out/initrd-$phase.cpio.gz; else initrd=$initramfs; fi ;;
    esac
    # shellcheck disable=SC2086 # $extra is a list of options
    perl -e '
        use strict; use warnings; use IPC::Open2; use IO::Handle;
        my ($steps, $limit, @qemu) = @ARGV;
        open(my $sf, "<", $steps) or die "$steps: $!\n";
        my @steps = map { chomp; $_ } <$sf>;
        my $pid = open2(my $from, my $to, @qemu);
        $to->autoflush(1);
        my ($buf, $end) = ("", time + $limit);
        # Reads the console until it ends with the prompt; 0 when QEMU ended or time ran out.
        my $prompt = sub {
            while ($buf !~ /pivm# \z/) {
                my $left = $end - time;
                return 0 if $left <= 0;
                my $rin = ""; vec($rin, fileno($from), 1) = 1;
                next unless select(my $rout = $rin, undef, undef, $left);
                my $n = sysread($from, my $chunk, 65536);
                return 0 unless $n;
                print STDOUT $chunk; $buf .= $chunk;
            }
            $buf = ""; return 1;
        };
        my $ok = 1;
        for my $step (@steps) {
            last unless $ok = $prompt->();
            if ($step =~ /^linux: (.*)/) {
                print STDOUT "\n=== linux only, not run on pivm: $1\npivm# ";
                $buf = "pivm# ";
                next;
            }
            if ($step =~ /^(?:sh|pivm): (.*)/) {
                print $to "$1\n";
                next;
            }
            print $to "run $step\n";
        }
        $ok = $prompt->() if $ok;
        print $to "poweroff\n" if $ok;
        my $t = time;
        while (time - $t < 10 && sysread($from, my $chunk, 65536)) { print STDOUT $chunk }
        kill "KILL", $pid; waitpid($pid, 0);
        print STDOUT "\n=== pivm stopped: ", ($ok ? "all steps run" : "timed out or QEMU ended"), "\n";
    ' "$out/$pivm_tag-steps-$phase.txt" "$timeout" \
        "${pivm_qemu[@]}" $extra \
        -kernel "$pivm_img" -initrd "$initrd" -append "$(phase_pivm_cmdline "$phase")" > "$log" 2>&1 || true
    {
        echo "=== compare-pivm phase $phase: $(tr -d '\r' < "$log" | grep -m1 '^pivm version') $pivm_img $(phase_pivm_cmdline "$phase")"
        # What pivm found on the card at boot (the driver's lines), as Linux's setup shows its own.
        tr -d '\r' < "$log" | sed '/^pivm# /q' | grep -v '^pivm# ' |
            grep -E '^(mmc|mmcblk|swap|FAT|fat|vfat|Initramfs|mem=)|mmcblk0' | sed 's/^/boot: /' || true
        tr -d '\r' < "$log" | sed -n '/^pivm# /,$p' | sed '/^=== pivm stopped/q'
    } > "$out/$pivm_tag-$phase.txt"
    grep -q '^=== pivm stopped: all steps run' "$out/$pivm_tag-$phase.txt" ||
        echo "compare-linux: pivm's phase $phase is incomplete; the console log is $log" >&2
    echo "compare-linux: pivm, phase $phase: $(grep -c '^pivm# run ' "$out/$pivm_tag-$phase.txt") steps in $out/$pivm_tag-$phase.txt ($((SECONDS - start)) s)"
}

# The Linux side of a run, for both scripts: the apt packages, the kernel, the card modules
# when a phase needs them (none: no Linux column), and `linux_version` for the tables.
compare_linux_setup() {
    compare_apt_setup
    find_linux
    if [ "$have_linux" = 1 ] && [ ! -f "$linux/modules/modules.dep" ] && [[ " $phases " =~ \ (card|swap|diskcost)\  ]]; then
        extract_modules || { have_linux=0; echo "compare-linux: no card modules; no Linux column this time" >&2; }
    fi
    linux_version=$(cat "$linux/version" 2>/dev/null || echo "no Linux kernel")
    if [ "$have_linux" = 1 ]; then
        echo "compare-linux: $linux_version from Debian; busybox-static for the shell"
    fi
}
