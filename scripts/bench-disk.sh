#!/usr/bin/env bash
# bench-disk.sh - what the disk costs, Linux 6.1 next to pivm on the same board and card, in
# instructions: compare-linux.sh's diskcost phase boots both kernels under `-icount shift=0`
# (one guest instruction per ns of guest time; Linux with maxcpus=1, four CPUs livelock it
# under -icount) with build/sd-512M.img and `mem=120M mem=8M@0x08000000`, runs the steps, and
# this script turns the transcripts into figures:
#   - a file page's major fault from the card without read-ahead (read_ahead_kb 0, 256 pages
#     of /boot/data/f16m after drop_caches): the first-read step's ns / its major faults;
#   - the same file with read-ahead (128 KiB, 4096 pages): ns per major fault and per page;
#   - swap-in with page-cluster 3 and 0 (vmtest swap 128 1, swap-icount.txt's runs): the
#     re-read pass's ns per major fault and per page, and pages per second swapped in;
#   - swap-out: the write pass's pswpout per second of guest time;
#   - the overcommitted pattern workload's total guest time (write pass + re-read pass) at
#     64, 128, 192 and 256 MiB (the last three swap: the flatness of the costs as the
#     workload and the swap in use grow), the pages it wrote to swap, and the re-read pass's
#     ns per page moved to or from the card (pswpin + pswpout).
# pivm sets read_ahead_kb and page-cluster with its console commands (blockdev --setra,
# sysctl vm.page-cluster); the programs, their arguments, the card and the memory are Linux's.
# The reference column is shared/samples/linux-6.1-raspi2b-user/swap-icount.txt (Linux 6.1.192,
# the same runs at 128 MiB). pivm's column says "not yet" where pivm printed no figure (no
# /boot or no swap yet): a missing feature is never given a number.
#
# Environment: as compare-linux.sh (VMSPLIT, SKIP_LINUX=1 keeps build/compare/linux-diskcost.txt,
# TIMEOUT); NO_RUN=1 only prints the figures of the transcripts already in build/compare.
# Without a Linux run of its own (no apt access), Linux's column is the recorded
# tests/reference/linux-6.1-diskcost.txt.
#
# ARCH=arm64 bench-disk.sh: the 64-bit kernel (build/arm64-VA_BITS/kernel8.img, VA_BITS=48 by
# default, Linux's) next to Debian's arm64 Linux 6.1 on raspi3b, through compare-linux-arm64.sh's
# diskcost phase (`-icount shift=0,sleep=off`, build/arm64/sd-512M.img, mem=128M on both); the
# reference column is arm64 Linux's recorded run,
# tests/samples/linux-6.1-raspi3b-arm64-user/diskcost.txt, and Linux's column this machine's
# run (build/compare-arm64/linux-diskcost.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ARCH:-arm}" = arm64 ]; then
    out=build/compare-arm64
    va=${VA_BITS:-48}
    ref=${SAMPLES:-tests/samples/linux-6.1-raspi3b-arm64-user}/diskcost.txt
    pivm_txt=$out/pivm$va-diskcost.txt
    compare=(env VA_BITS="$va" bash scripts/compare-linux-arm64.sh diskcost)
    recorded=$ref
else
    out=build/compare
    ref=${SAMPLES:-../shared/samples/linux-6.1-raspi2b-user}/swap-icount.txt
    pivm_txt=$out/pivm-diskcost.txt
    compare=(bash scripts/compare-linux.sh diskcost)
    recorded=tests/reference/linux-6.1-diskcost.txt
fi
if [ -z "${NO_RUN:-}" ]; then
    mkdir -p "$out"
    "${compare[@]}" > "$out/diskcost-table.txt"
    echo "bench-disk: the step-by-step table is in $out/diskcost-table.txt"
fi

# Linux's column: this machine's run, else the one recorded in the repository.
linux_txt=$out/linux-diskcost.txt
[ -f "$linux_txt" ] || linux_txt=$recorded

perl -e '
use strict; use warnings;
# Figures of one transcript: name -> value (instructions, or pages per second, or pages).
sub figures {
    my ($path) = @_;
    my %f;
    open(my $fh, "<", $path) or return undef;
    my ($ra, $pc, $mib, $cmd) = (128, 3, 0, "");
    my %w;   # the last write pass of the current vmtest swap
    while (my $l = <$fh>) {
        $l =~ s/\r//g;
        if ($l =~ /^(?:### |\/ # |pivm# )(?:run )?(.*)$/) {
            $cmd = $1;
            # swap-icount.txt goes on (swapoff) with zram as the swap device: not the card, not counted.
            last if $cmd =~ /swapoff|zram/;
            $ra = $1 if $cmd =~ /cardmap ra (\d+)/ || $cmd =~ /echo (\d+) > \S*read_ahead_kb/;
            $pc = $1 if $cmd =~ /cardmap pc (\d+)/ || $cmd =~ /echo (\d+) > \S*page-cluster/;
            # pivm sets the same knobs at its console: blockdev --setra counts 512-byte sectors.
            $ra = $1 / 2 if $cmd =~ /^blockdev --setra (\d+)/;
            $pc = $1 if $cmd =~ /^sysctl vm\.page-cluster=(\d+)/;
            next;
        }
        if ($l =~ /^file \S+ N=(\d+) MAP_SHARED: .*first-read \+(\d+)\/\+(\d+) \((\d+) ns\)/ && $3 > 0) {
            my ($n, $min, $maj, $ns) = ($1, $2, $3, $4);
            if ($ra == 0) {
                $f{"file page major fault, no read-ahead: instructions per fault"} = int($ns / $maj);
            } else {
                $f{"file, read-ahead ${ra} KiB, N=$n: instructions per major fault"} = int($ns / $maj);
                $f{"file, read-ahead ${ra} KiB, N=$n: instructions per page"} = int($ns / $n);
                $f{"file, read-ahead ${ra} KiB, N=$n: major faults"} = $maj;
            }
            next;
        }
        if ($l =~ /^SWAP test: (\d+) MiB/) { $mib = $1; %w = (); next; }
        if ($l =~ /^\s+write pass: (\d+) ns .*pswpout \+(\d+)/) {
            %w = (ns => $1, out => $2);
            $f{"swap-out, ${mib} MiB, page-cluster $pc: pages per second (guest time)"} = $1 ? int($2 * 1e9 / $1) : 0 if $2 > 0;
            next;
        }
        if ($l =~ /^\s+re-read pass 1: (\d+) ns \((\d+) ns\/page\) minflt \+(\d+) majflt \+(\d+) bad=(\d+) \| vmstat pswpin \+(\d+) pswpout \+(\d+).*\| (\d+) ns per major fault/) {
            my ($ns, $perpage, $min, $maj, $bad, $in, $out, $permaj) = ($1, $2, $3, $4, $5, $6, $7, $8);
            my $k = "${mib} MiB, page-cluster $pc";
            if ($maj > 0) {
                $f{"swap-in, $k: instructions per major fault"} = $permaj;
                $f{"swap-in, $k: instructions per page re-read"} = $perpage;
                $f{"swap-in, $k: pages per second (guest time)"} = int($in * 1e9 / $ns) if $ns;
            }
            $f{"workload, $k: total guest time (write + re-read), ms"} = sprintf("%.1f", (($w{ns} // 0) + $ns) / 1e6);
            $f{"swap, $k: re-read pass instructions per page moved (in + out)"} = int($ns / ($in + $out)) if $in + $out > 0;
            $f{"workload, $k: pages written to swap"} = ($w{out} // 0) + $out;
            $f{"workload, $k: wrong words"} = $bad;
            next;
        }
    }
    return \%f;
}
my @cols = map { figures($_) } @ARGV;
my %all; for my $c (grep { defined } @cols) { $all{$_} = 1 for keys %$c }
my @names = ("reference", "linux", "pivm");
printf "%-72s %12s %12s %12s\n", "figure (instructions under -icount shift=0)", @names;
for my $k (sort keys %all) {
    my @v = map {
        my $c = $cols[$_];
        !defined $c ? "-" : exists $c->{$k} ? $c->{$k} : $_ == 2 ? "not yet" : "-"
    } 0 .. 2;
    printf "%-72s %12s %12s %12s\n", $k, @v;
}
for my $i (0 .. 2) { print "$names[$i]: $ARGV[$i] does not exist\n" unless defined $cols[$i] }
' "$ref" "$linux_txt" "$pivm_txt"
