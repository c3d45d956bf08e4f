#!/usr/bin/perl
# compare-table.pl [--title TITLE] REFERENCE LINUX PIVM - one table from three console
# transcripts of the test programs (tests/user/): the reference (shared/samples), real Linux
# (make compare-linux) and pivm. Each transcript is reduced to "step -> value" pairs: the
# +minflt/+majflt delta of every vmtest step, the fault totals of entry/exec/fork, the layout
# (the first /proc/self/maps of each program and vmtest's LAYOUT lines), the SIGSEGV table,
# the EFAULT and system-call checks, the hostile programs' outcomes and the -icount costs. A
# step that repeats gets " #2", " #3"... so runs of the same commands line up. Rows follow the
# Linux transcript, then the steps only pivm has (pivm's order without Linux), and a program
# killed by a signal is a row with the shell's word for it ("Segmentation fault"); a file that
# does not exist leaves its column "-" and says why.
# `compare-table.pl --dump TRANSCRIPT` prints the pairs one transcript gives.
#
# The last column marks a Linux value that differs from the reference ("L!=R") and a pivm value
# that differs from Linux ("P!=L"), or, without a Linux transcript, from the reference ("P!=R");
# costs in ns are not marked (they differ from run to run).
use strict;
use warnings;

my $title = '';
my $dump = @ARGV == 2 && $ARGV[0] eq '--dump';
if (@ARGV && $ARGV[0] eq '--title') {
    shift @ARGV;
    $title = shift @ARGV;
}
die "usage: compare-table.pl [--title TITLE] REFERENCE LINUX PIVM | --dump TRANSCRIPT\n" unless @ARGV == 3 || $dump;
my ($ref_path, $linux_path, $pivm_path) = @ARGV;

# Reads one transcript; returns (ordered keys, key -> value), or () when the file is missing.
sub parse {
    my ($path) = @_;
    open(my $fh, '<', $path) or return ();
    my (@keys, %val, %seen, %block_seen);
    my ($time_ctx, $smaps_ctx, $in_layout, $maps_label, $maps_first, $prev_maps) = ('', '', 0, '', 0, 0);
    my %name_seen;
    my $prog = '';   # the vmtest of the command being run: /bin/vmtest, /mnt/vmtest (SD card)
    my $cmd = '';    # the command being run, as typed
    my $ctx = '';    # cardmap/swapstress rows: the command, shortened, with the knobs set before it
    my %knob = (ra => 128, fa => 65536, pc => 3);   # read_ahead_kb, fault_around_bytes, page-cluster asked for
    my $swap_ctx = '';   # vmtest swap's rows: "swap M=192"
    my $put = sub {
        my ($key, $value) = @_;
        my $n = ++$seen{$key};
        $key .= " #$n" if $n > 1;
        push @keys, $key;
        $val{$key} = $value;
    };
    while (my $line = <$fh>) {
        $line =~ s/\r//g;
        chomp $line;
        # A command: "### " (compare-linux), "/ # " (busybox, the reference), "pivm# " (pivm).
        if ($line =~ /^(### |\/ # |pivm# )(?:run )?(.*)$/) {
            $cmd = $2;
            $prog = $line =~ m{(/\S+/vmtest)\b} ? "$1 " : '';
            $in_layout = 0;
            $swap_ctx = '';
            # The knobs a cardmap step sets hold for the steps after it; the rows say so.
            $knob{$1} = $2 if $cmd =~ m{^\S*cardmap (ra|fa|pc) (\d+)\s*$};
            # pivm's form of read_ahead_kb (no sysfs): blockdev --setra SECTORS.
            $knob{ra} = $1 / 2 if $cmd =~ m{^blockdev --setra (\d+) /dev/mmcblk0\s*$};
            # Paths are dropped (the card phase reads one file, /boot/data/f16m).
            $ctx = join ' ', grep { !m{^/} || m{^/bin/} } split ' ', $cmd;
            $ctx =~ s{/bin/}{}g;
            $ctx = "[fault_around $knob{fa}] $ctx" if $knob{fa} != 65536;
            $ctx = "[read_ahead_kb $knob{ra}] $ctx" if $knob{ra} != 128;
            $ctx = "[page-cluster $knob{pc}] $ctx" if $knob{pc} != 3;
            next;
        }
        # A shell's (and pivm's console's) word for a program a signal killed.
        if ($line =~ /^(Segmentation fault|Illegal instruction|Bus error|Killed|Terminated)$/ && $cmd =~ m{^(?:\S*/)?(\S+)(.*)$}) {
            my $what = "$1$2";
            $what =~ s/\s*;.*//;
            $put->("$what | killed by", $line);
            next;
        }
        # The OOM killer's line (Linux's printk carries a timestamp).
        if ($line =~ /Out of memory: Killed process \d+ \((\S+)\)/) {
            $put->('oom | killed', $1);
            next;
        }
        next if $line =~ /^=== / || $line =~ /^\[\s*\d+\.\d+\]/;

        # /proc/PID/maps lines: the first block of each program (named by its first path).
        if ($line =~ /^([0-9a-f]{8})-([0-9a-f]{8}) (\S{4}) [0-9a-f]{8} \S+ \d+\s*(.*?)\s*$/) {
            my ($start, $end, $perm, $name) = ($1, $2, $3, $4 eq '' ? '(anonymous)' : $4);
            if (!$prev_maps) {
                # A block that does not start with its program's file (grep'd output) is skipped.
                $maps_label = $name =~ m{^/} ? $name : '';
                $maps_first = $maps_label ne '' && ++$block_seen{$maps_label} == 1 && !$smaps_ctx;
                %name_seen = ();
            }
            $prev_maps = 1;
            if ($maps_first) {
                my $n = ++$name_seen{$name};
                $put->("maps of $maps_label | $name" . ($n > 1 ? " ($n)" : ''), "$start-$end $perm");
            }
            next;
        }
        $prev_maps = 0;

        if ($line =~ /^--- \/proc\/\d+\/smaps/) {
            $smaps_ctx = "${prog}exec | text VMA smaps";
            next;
        }
        if ($smaps_ctx) {
            if ($line =~ /^(Rss|Pss):\s+(\d+ kB)/) {
                $put->("$smaps_ctx $1", $2);
            } elsif ($line =~ /^VmFlags/) {
                $smaps_ctx = '';
            }
            next if $line =~ /^\w+:/;
            $smaps_ctx = '';
        }

        # cardmap (tests/user/cardmap.c): vmtest's file format plus "STEP io +reads/+sectors" and
        # the pattern check; rows named by the command that printed them.
        if ($cmd =~ /cardmap/ && $line =~ /^(file|read) (\S+) (N=\d+|chunk=\d+)(?: \S+)?: (.*)$/) {
            my ($what, $rest) = ($3, $4);
            if ($rest =~ /^(cannot open|mmap failed|read at \d+): (.*)$/) {
                # On the row of the step that would have read the file.
                $put->("$ctx | $what " . ($what =~ /^chunk/ ? 'read' : 'first-read'), $2);
                next;
            }
            $rest =~ s/\(\d+ ns\)//g;
            for my $seg (split /\s{2,}/, $rest) {
                if ($seg =~ /^\s*(.*\S)\s+(\+\d+\/\+\d+)\s*$/) {
                    my ($label, $delta) = ($1, $2);
                    # The card's reads: only where the cache was cold (the others are +0/+0).
                    next if $label =~ /^(mmap|re-read|remap\+read) io$/;
                    $label =~ s/ io$/ io reads\/sectors/;
                    $put->("$ctx | $what $label", $delta);
                } elsif ($seg =~ /^(sum|bytes)=(\d+)$/) {
                    $put->("$ctx | $what $1", $2);
                } elsif ($seg =~ /^pattern (\w+)$/) {
                    $put->("$ctx | $what pattern", $1);
                }
            }
            next;
        }
        if ($cmd =~ /cardmap/ && $line =~ /^  (Buffers|Cached|SwapCached|Active\(file\)|Inactive\(file\)):\s+(\d+ kB)/) {
            $put->("$ctx | $1", $2);
            next;
        }
        if ($cmd =~ /cardmap/ && $line =~ /^  mmcblk0 reads=(-?\d+) sectors=(-?\d+)/) {
            $put->("$ctx | mmcblk0 reads/sectors", "$1/$2");
            next;
        }
        if ($cmd =~ /cardmap/ && $line =~ /^cardmap: (\S+): (.*)$/) {
            $put->("$ctx | $1", $2);
            next;
        }
        # swapstress (tests/user/swapstress.c): each phase's faults and swap traffic.
        if ($line =~ /^swapstress M=\d+( \[\d+\])? (write pass|pageout|re-read pass \d+): minflt \+(\d+) majflt \+(\d+)(?: bad=(\d+))? \| pswpin (\S+) pswpout (\S+)/) {
            my $p = "$ctx |" . ($1 // '') . " $2";
            $put->("$p minflt/majflt", "+$3/+$4");
            $put->("$p bad words", $5) if defined $5;
            $put->("$p pswpin", $6);
            $put->("$p pswpout", $7);
            next;
        }
        if ($line =~ /^swapstress M=\d+( \[\d+\])?\s+(SwapCached|SwapFree|VmSwap|VmRSS):\s+(\d+ kB)/) {
            $put->("$ctx |" . ($1 // '') . " $2", $3);
            next;
        }
        if ($line =~ /^swapstress M=\d+( \[\d+\])? (ok|FAIL)\b/) {
            $put->("$ctx |" . ($1 // '') . " result", $2);
            next;
        }
        if ($line =~ /^swapstress: (\d+) instances, (\d+) failed/) {
            $put->("$ctx | instances failed", "$2 of $1");
            next;
        }
        # vmtest swap (the reference's swap.txt): each pass's faults and vmstat deltas.
        if ($line =~ /^SWAP test: (\d+) MiB/) {
            $swap_ctx = "vmtest swap $1 MiB";
            $swap_ctx = "[page-cluster $knob{pc}] $swap_ctx" if $knob{pc} != 3;
            next;
        }
        if ($swap_ctx && $line =~ /^  (write pass|re-read pass \d+): .*minflt \+(\d+) majflt \+(\d+)(?: bad=(\d+))? \| vmstat pswpin \+(\d+) pswpout \+(\d+)/) {
            $put->("$swap_ctx | $1 minflt/majflt", "+$2/+$3");
            $put->("$swap_ctx | $1 bad", $4) if defined $4;
            $put->("$swap_ctx | $1 pswpin", "+$5");
            $put->("$swap_ctx | $1 pswpout", "+$6");
            next;
        }
        if ($swap_ctx && $line =~ /^  (SwapCached|SwapFree|VmSwap|Swap):\s+(\d+ kB)/) {
            $put->("$swap_ctx | $1", $2);
            next;
        }
        # /proc/swaps: "Filename Type Size Used Priority" rows, spacing as printed.
        if ($line =~ /^(\/dev\/\S+|\/\S+)\s+(partition|file)\t+(\d+)\t+(\d+)\t+(-?\d+)$/) {
            $put->("/proc/swaps | $1", "$2 $3 $4 $5");
            next;
        }

        # vmtest's steps: "NAME: step +a/+b  step +a/+b ... sum=N".
        if ($line =~ /^(anon|anon-readfirst|malloc|stack|file) / && $line =~ /\+\d+\/\+\d+/ && $cmd !~ /cardmap/) {
            my $i = index($line, ': ');
            next if $i < 0;
            my ($name, $rest) = (substr($line, 0, $i), substr($line, $i + 2));
            $name =~ s/^(malloc N=\d+).*/$1/;
            $rest =~ s/\(\d+ ns\)//g;
            $rest =~ s/\(minflt\/majflt\)//g;
            my $sum = $rest =~ s/\bsum=(\d+)// ? $1 : undef;
            for my $seg (split /\s{2,}/, $rest) {
                $put->("$name | $1", $2) if $seg =~ /^\s*(.*\S)\s+(\+\d+\/\+\d+)\s*$/;
            }
            $put->("$name | sum", $sum) if defined $sum;
            next;
        }
        if ($line =~ /^faults at main entry: minflt=(\d+) majflt=(\d+)/) {
            $put->("${prog}entry | faults at main entry", "$1/$2");
            next;
        }
        if ($line =~ /^(\w+) \/proc\/self\/stat: minflt\(10\)=(\d+) cminflt\(11\)=\d+ majflt\(12\)=(\d+) cmajflt\(13\)=\d+ vsize\(23\)=(\d+) rss\(24\)=(\d+)/) {
            $put->("$prog$1 /proc/self/stat | minflt/majflt", "$2/$3");
            $put->("$prog$1 /proc/self/stat | vsize", $4);
            next;
        }
        if ($line =~ /^CHILD pid=\d+ at (main entry|exit): minflt=(\d+) majflt=(\d+)/) {
            $put->("${prog}exec | child at $1", "$2/$3");
            next;
        }
        if ($line =~ /^\s+sequential instance (\d+) pid=\d+: rusage of child total minflt=(\d+) majflt=(\d+)/) {
            $put->("${prog}exec | sequential child $1 total", "$2/$3");
            next;
        }
        if ($line =~ /^\s+concurrent ([AB]) pid=\d+ total minflt=(\d+) majflt=(\d+)/) {
            $put->("${prog}exec | concurrent child $1 total", "$2/$3");
            next;
        }
        if ($line =~ /^\s+fork child pid=\d+: minflt at start=(\d+)\s+write \.data (\S+)\s+read \.bss (\S+)/) {
            $put->("${prog}fork | child minflt at start", $1);
            $put->("${prog}fork | child write .data", $2);
            $put->("${prog}fork | child read .bss", $3);
            next;
        }
        if ($line =~ /^\s+fork child total minflt=(\d+) majflt=(\d+); parent faults across fork\+wait (\S+)/) {
            $put->("${prog}fork | child total", "$1/$2");
            $put->("${prog}fork | parent across fork+wait", $3);
            next;
        }
        if ($line =~ /^\s+parent write \.data after child exit (\S+)/) {
            $put->("${prog}fork | parent write .data after child exit", $1);
            next;
        }

        # Layout: vmtest's LAYOUT lines, first run only.
        if ($line =~ /^LAYOUT pid=/) {
            $in_layout = ++$block_seen{'LAYOUT'} == 1;
            next;
        }
        if ($line =~ /^\s+(text|data|bss|brk|mmap|stack|auxv)\s+(.*)$/) {
            if ($in_layout) {
                my ($what, $rest) = ($1, $2);
                while ($rest =~ /([^=,]+?)=(\S+?)(?:,|\s|$)/g) {
                    my ($k, $v) = ($1, $2);
                    $k =~ s/^\s+//;
                    $put->("layout $what | $k", $v);
                }
            }
            next;
        }
        if ($line =~ /^\s+kuser helper version word \@(\S+) = (\d+)/) {
            $put->("layout | kuser helper version \@$1", $2) if $in_layout;
            next;
        }

        # The SIGSEGV table (vmtest segv, segv).
        if ($line =~ /^  (.{40}) (read |write|exec ) (\S+): (.*)$/) {
            my ($desc, $how, $res) = ($1, $2, $4);
            $desc =~ s/\s+$//;
            $how =~ s/\s+$//;
            if ($res =~ /si_code=\d+ \((\w+)\)/) {
                $res = $1;
            }
            $put->("segv | $desc $how", $res);
            next;
        }
        if ($line =~ /^  ((?:mmap|mprotect|munmap)\(.*?\)) -> (.*)$/) {
            $put->("segv | $1", $2);
            next;
        }
        if ($line =~ /^  kernel-address probes skipped/) {
            $put->('segv | kernel-address probes', 'skipped');
            next;
        }

        # The other hostile programs.
        if ($line =~ /^  (.*\S)\s+-> (-1 \w+|\d+) \((ok|FAIL.*)\)$/) {
            $put->("efault | $1", $2);
            next;
        }
        if ($line =~ /^  (\S.{43}) (ok|FAIL)(?::|$)/) {
            my ($what, $result) = ($1, $2);
            $what =~ s/\s+$//;
            $put->("syscalls | $what", $result);
            next;
        }
        if ($line =~ /^crash (\S+): exit status (\d+)/) {
            $put->("crash $1 | exit status", $2);
            next;
        }
        if ($line =~ /^(\w+): exit status (\d+)/ || $line =~ /^exit status (\d+)/) {
            $put->(defined $2 ? "$1 | exit status" : 'vmtest null | exit status', defined $2 ? $2 : $1);
            next;
        }
        if ($line =~ /^forkbomb: fork number (\d+) failed: (\w+)/) {
            $put->('forkbomb | fork failed', "$2 at fork $1");
            next;
        }
        if ($line =~ /^forkbomb: (\d+) children started, (\d+) reaped/) {
            $put->('forkbomb | children reaped', "$2 of $1");
            next;
        }
        if ($line =~ /^mapmax: \d+ mappings, \d+ MiB; lowest (0x[0-9a-f]+); highest address reached (0x[0-9a-f]+)/) {
            $put->('mapmax | lowest address', $1);
            $put->('mapmax | highest address reached', $2);
            next;
        }

        # Costs under -icount (vmtest time).
        if ($line =~ /^TIME N=(\d+) pages/) {
            $time_ctx = "time N=$1";
            next;
        }
        next unless $time_ctx;
        if ($line =~ /^\s+(clock_gettime|syscall\(getpid\)): (\d+) ns per call/) {
            $put->("$time_ctx | $1 ns", $2);
        } elsif ($line =~ /^\s+rep (\d+): first-touch write \d+ ns total, (\d+) ns\/page \((\d+) minflt\); re-touch write (\d+) ns\/page; re-read (\d+) ns\/page; munmap\(\d+ touched pages\) \d+ ns = (\d+) ns\/page/) {
            $put->("$time_ctx | rep $1 first-touch ns/page", $2);
            $put->("$time_ctx | rep $1 first-touch minflt", $3);
            $put->("$time_ctx | rep $1 re-touch ns/page", $4);
            $put->("$time_ctx | rep $1 re-read ns/page", $5);
            $put->("$time_ctx | rep $1 munmap ns/page", $6);
        } elsif ($line =~ /^\s+rep (\d+): read-first \(zero page\) (\d+) ns\/page \((\d+) minflt\); write-after-zero-page (\d+) ns\/page \((\d+) minflt\)/) {
            $put->("$time_ctx | rep $1 zero-page read ns/page", $2);
            $put->("$time_ctx | rep $1 zero-page read minflt", $3);
            $put->("$time_ctx | rep $1 write after zero page ns/page", $4);
            $put->("$time_ctx | rep $1 write after zero page minflt", $5);
        } elsif ($line =~ /^\s+(.*?): min \d+ median (\d+) ns/) {
            my ($what, $median) = ($1, $2);
            $put->("$time_ctx | $what median ns", $median);
            $put->("$time_ctx | exec'd nop child minflt", $1) if $line =~ /nop child minflt=(\d+)/;
        }
    }
    close $fh;
    return (\@keys, \%val);
}

if ($dump) {
    my ($keys, $val) = parse($ARGV[1]);
    die "compare-table.pl: cannot read $ARGV[1]\n" unless $keys;
    print "$_ = ", defined $val->{$_} ? $val->{$_} : '(undef)', "\n" for @$keys;
    exit 0;
}

my @paths = ($ref_path, $linux_path, $pivm_path);
my @names = ('reference', 'linux', 'pivm');
my (@vals, @notes);
my @order;
for my $i (0 .. 2) {
    my ($keys, $val) = parse($paths[$i]);
    if (!$keys) {
        push @notes, "$names[$i]: $paths[$i] does not exist";
        $vals[$i] = {};
        next;
    }
    $vals[$i] = $val;
    # Rows follow Linux, then what only pivm has; pivm's order without Linux.
    my %have = map { $_ => 1 } @order;
    push @order, grep { !$have{$_} } @$keys if $i > 0;
}
@order = sort keys %{ $vals[0] } if !@order;

my $w = 24;
for (@order) { $w = length if length > $w }
$w = 80 if $w > 80;
print "$title\n" if $title;
printf "%-${w}s %14s %14s %14s  %s\n", 'step', @names, '';
my ($differ_lr, $differ_pl, $differ_pr, $both_lr) = (0, 0, 0, 0);
for my $key (@order) {
    my @v = map { exists $vals[$_]{$key} ? $vals[$_]{$key} : '-' } 0 .. 2;
    my $mark = '';
    if ($key !~ / ns\b|ns\/page/) {
        if ($v[0] ne '-' && $v[1] ne '-') {
            $both_lr++;
            if ($v[0] ne $v[1]) { $mark .= 'L!=R '; $differ_lr++ }
        }
        if ($v[1] ne '-' && $v[2] ne '-' && $v[1] ne $v[2]) { $mark .= 'P!=L'; $differ_pl++ }
        # Without Linux (apt could not fetch it), pivm against the reference.
        if (!%{ $vals[1] } && $v[0] ne '-' && $v[2] ne '-' && $v[0] ne $v[2]) { $mark .= 'P!=R'; $differ_pr++ }
    }
    printf "%-${w}s %14s %14s %14s  %s\n", substr($key, 0, $w), @v, $mark;
}
my $ref_only = grep { !exists $vals[1]{$_} } keys %{ $vals[0] };
print "$_\n" for @notes;
printf "linux vs reference: %d of %d steps found in both differ (L!=R); %d reference steps were not run here\n",
    $differ_lr, $both_lr, $ref_only;
printf "pivm vs linux: %d steps differ (P!=L)\n", $differ_pl if %{ $vals[2] } && %{ $vals[1] };
printf "pivm vs reference: %d steps differ (P!=R)\n", $differ_pr if %{ $vals[2] } && !%{ $vals[1] };
