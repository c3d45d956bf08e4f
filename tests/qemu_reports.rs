//! What a process looks like from outside (issue 12 items 7 and 8): the live `/proc/PID`
//! files through procfs (the console's `cat` and a program's own `read` give the same text),
//! `ps` as procps prints it against the counts a program reports itself, smaps of a program
//! with a known set of touched pages, `pt VA PID` and `ptdump PID`, the hostile programs
//! (each dies or gets its error, the console stays, memory comes back), `TASK_SIZE` reached by
//! `mapmax` on every split, `user_debug=`'s report, and the OOM killer.
mod common;

use common::{meminfo_kb, page_offset, Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host; the memory bomb longer.
const RUN: Duration = Duration::from_secs(90);
const BOMB: Duration = Duration::from_secs(240);

fn boot(split: &'static str, append: &str) -> Qemu {
    let (q, _) = Qemu::boot_to_prompt(Opts::raw(split).initramfs().append(append));
    q
}

fn run(q: &mut Qemu, cmd: &str) -> String {
    q.cmd_timeout(&format!("run {cmd}"), RUN)
}

/// The `name(N)=V` value on a `/proc/self/stat` line printed by the programs.
fn stat_field(q: &Qemu, line: &str, name: &str) -> u64 {
    let key = format!("{name}=");
    line.split_whitespace()
        .find_map(|w| w.split_once(&key).map(|(_, v)| v.trim_end_matches(" pages")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no {name} in {line:?}")))
}

/// The block of `text` between a line starting with `header` and the next line that starts
/// with `next` (exclusive), or the end.
fn block<'a>(q: &Qemu, text: &'a str, header: &str, next: &str) -> &'a str {
    let at = text.find(header).unwrap_or_else(|| q.fail(&format!("no {header:?} in:\n{text}")));
    let rest = &text[at..];
    let body_start = rest.find('\n').map_or(rest.len(), |i| i + 1);
    let end = rest[body_start..].find(next).map_or(rest.len(), |i| body_start + i);
    &rest[..end]
}

/// The kB value of smaps field `field` in `section`.
fn smaps_kb(q: &Qemu, section: &str, field: &str) -> u64 {
    let line = q.line_with("smaps", section, &format!("{field}:"));
    line[field.len() + 1..]
        .trim()
        .strip_suffix(" kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("cannot read {line:?}")))
}

#[test]
fn tiny_maps_equal_the_reference_on_3g() {
    let mut q = boot("3G", "norandmaps");
    let out = run(&mut q, "/bin/tiny");
    // The reference's tiny (linux-6.1-raspi2b-user/layout.txt, randomize_va_space 0): every
    // line is Linux's, byte for byte.
    let reference = [
        "00010000-00011000 r-xp 00000000 00:02 ",
        "00011000-00012000 rw-p 00000000 00:02 ",
        "00012000-00014000 rw-p 00000000 00:00 0          [heap]",
        "b6ffd000-b6ffe000 r-xp 00000000 00:00 0          [sigpage]",
        "b6ffe000-b6fff000 r--p 00000000 00:00 0          [vvar]",
        "b6fff000-b7000000 r-xp 00000000 00:00 0          [vdso]",
        "befdf000-bf000000 rw-p 00000000 00:00 0          [stack]",
        "ffff0000-ffff1000 r-xp 00000000 00:00 0          [vectors]",
    ];
    for line in reference {
        q.expect_in("tiny's /proc/self/maps", &out, line);
    }
    // The stat line it read itself: startcode 65536, vsize and rss fields where Linux has them.
    let stat = q.line_with("tiny", &out, " (tiny) ");
    let f: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(f[25], "65536", "startcode (field 26) in {stat}");
    assert_eq!(f[8], "0", "flags without PF_RANDOMIZE under norandmaps: {stat}");
    q.verify_ok("after tiny");
}

#[test]
fn console_cat_and_the_programs_read_are_the_same_text() {
    let mut q = boot("2G", "norandmaps");
    let pid = q.start_background("/bin/vmtest layout hold", "HOLDING pid=", RUN);
    let own = q.transcript();
    // AT_HWCAP is Linux's on this CPU, HWCAP_EVTSTRM (bit 21) included: the arch timer's
    // event stream is on (the reference's 0x3fb8d6).
    q.expect_in("vmtest layout's auxv", &own, " AT_HWCAP=0x3fb8d6 ");
    let own_maps = block(&q, &own, "--- /proc/self/maps", "LAYOUT /proc/self/stat");
    let own_maps = own_maps.split_once('\n').map_or("", |(_, b)| b);
    let cat = q.cmd(&format!("cat /proc/{pid}/maps"));
    assert_eq!(cat, own_maps, "console and program disagree\n{}", q.transcript());
    // Every file of the process renders, through procfs, with Linux's shape.
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status", &status, "Name:\tvmtest\n");
    q.expect_in("status", &status, &format!("Pid:\t{pid}\n"));
    q.expect_in("status", &status, "State:\tS (sleeping)\n");
    for field in
        ["VmPeak:", "VmSize:", "VmRSS:", "RssAnon:", "VmData:", "VmStk:", "VmExe:", "VmPTE:"]
    {
        q.expect_in("status", &status, field);
    }
    let statm = q.cmd(&format!("cat /proc/{pid}/statm"));
    assert_eq!(statm.split_whitespace().count(), 7, "{statm}");
    // glibc's start-up read the [vdso] page (its ELF header): a special mapping's page counts
    // in MM_FILEPAGES (RssFile) as 6.1's do_set_pte books it; [vvar] (no clock read yet) and
    // [sigpage] (no signal) are not faulted in. VmRSS, statm's resident and shared, and stat's
    // rss are the counters' sums.
    let kb = |name: &str| -> u64 {
        let line = q.line_with("status", &status, &format!("{name}:\t"));
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap()
    };
    q.expect_in("status", &status, "RssFile:\t       4 kB\n");
    let (rss, anon, file, shmem) = (kb("VmRSS"), kb("RssAnon"), kb("RssFile"), kb("RssShmem"));
    assert_eq!(rss, anon + file + shmem, "{status}");
    let m: Vec<u64> = statm.split_whitespace().map(|v| v.parse().unwrap()).collect();
    assert_eq!((m[1] * 4, m[2] * 4), (rss, file + shmem), "statm {statm} against {status}");
    let stat = q.cmd(&format!("cat /proc/{pid}/stat"));
    assert!(stat.starts_with(&format!("{pid} (vmtest) S 0 ")), "{stat}");
    assert_eq!(stat.split_whitespace().count(), 52, "{stat}");
    assert_eq!(stat.split_whitespace().nth(23), Some(&*(rss / 4).to_string()), "rss in {stat}");
    let cmdline = q.cmd(&format!("cat /proc/{pid}/cmdline"));
    assert_eq!(cmdline, "/bin/vmtest\0layout\0hold\0", "{cmdline:?}");
    let rollup = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    q.expect_in("smaps_rollup", &rollup, "---p 00000000 00:00 0          [rollup]\n");
    // The console is no process: its /proc/self does not exist, as for a kernel thread.
    let own = q.cmd("cat /proc/self/maps");
    q.expect_in("console /proc/self", &own, "No such file or directory");
    let gone = q.cmd("cat /proc/4242/maps");
    q.expect_in("a pid that does not exist", &gone, "No such file or directory");
    q.cmd(&format!("kill -9 {pid}"));
    q.verify_ok("after vmtest");
}

/// The file system calls of issue 12 through pivm's file layer: files's checks (the /proc
/// files read in small chunks, lseek, getdents64 over /proc and /bin, stdout dup2'd into a
/// file in /tmp, the errno of bad descriptors and paths) pass as on Linux; the file it wrote
/// reads the same from the console; and its own read of /proc/self/maps, 7 bytes at a time, is
/// the text the console's `cat /proc/PID/maps` prints.
#[test]
fn files_read_what_the_console_reads() {
    let mut q = boot("2G", "");
    let out = run(&mut q, "/bin/files");
    assert!(!out.contains("FAIL"), "{out}");
    q.expect_in("files", &out, "FILES ok\n");
    // /proc/stat, uptime, interrupts, partitions and diskstats are files a program opens and
    // reads (the console's `cat` renders them through the same procfs entries).
    q.expect_in("files", &out, "proc root files\n");
    // It ran as pid 1, wrote /tmp/files-1 (its own checks read it back) and unlinked it.
    let text = q.cmd("cat /tmp/files-1");
    q.expect_in("cat of the unlinked file", &text, "No such file or directory");
    let pid = q.start_background("/bin/files hold", "HOLDING pid=", RUN);
    let own = q.transcript();
    let own_maps = block(&q, &own, "--- maps", "--- end");
    let own_maps = own_maps.split_once('\n').map_or("", |(_, b)| b);
    q.expect_in("files hold", own_maps, "/bin/files\n");
    let cat = q.cmd(&format!("cat /proc/{pid}/maps"));
    assert_eq!(cat, own_maps, "console and program disagree\n{}", q.transcript());
    q.cmd(&format!("kill -9 {pid}"));
    q.verify_ok("after files");
}

#[test]
fn ps_prints_the_counts_vmtest_reports() {
    let mut q = boot("2G", "");
    let pid = q.start_background("/bin/vmtest layout hold", "HOLDING pid=", RUN);
    let t = q.transcript();
    let own = q.line_with("vmtest", &t, "LAYOUT /proc/self/stat:");
    let (min, maj) = (stat_field(&q, own, "minflt(10)"), stat_field(&q, own, "majflt(12)"));

    // The seed's own command: header and right-aligned columns as procps prints them.
    let out = q.cmd("ps -o majflt,minflt -C vmtest");
    assert_eq!(out, format!("MAJFLT MINFLT\n{maj:>6} {min:>6}\n"), "{}", q.transcript());
    // The program prints HOLDING just before it pauses: until it is in pause() it may still
    // show as running (R), as it would on Linux; ask again until it sleeps (bounded).
    let mut out = String::new();
    for _ in 0..50 {
        out = q.cmd("ps -o pid,ppid,vsz,rss,majflt,minflt,stat,comm");
        if out.lines().nth(1).and_then(|l| l.split_whitespace().nth(6)) != Some("R") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "  PID  PPID    VSZ   RSS MAJFLT MINFLT STAT COMMAND", "{out}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], pid.to_string(), "{out}");
    assert_eq!(
        (row[4], row[5], row[6], row[7]),
        (&*maj.to_string(), &*min.to_string(), "S", "vmtest")
    );
    // VSZ and RSS are /proc/PID/stat's vsize and rss in kB.
    let stat = q.cmd(&format!("cat /proc/{pid}/stat"));
    let f: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(row[2].parse::<u64>().unwrap(), f[22].parse::<u64>().unwrap() / 1024, "{stat}");
    assert_eq!(row[3].parse::<u64>().unwrap(), f[23].parse::<u64>().unwrap() * 4, "{stat}");
    let out = q.cmd("ps");
    q.expect_in("ps", &out, "  PID TTY          TIME CMD\n");
    q.expect_in("ps", &out, &format!("{pid:>5} ?        00:00:00 vmtest\n"));
    let out = q.cmd("ps -e");
    q.expect_in("ps -e", &out, " vmtest\n");
    // Bad options are refused with procps's words.
    let out = q.cmd("ps -o pid,bogus");
    q.expect_in("ps -o bogus", &out, "unknown user-defined format specifier \"bogus\"");
    q.cmd(&format!("kill -9 {pid}"));
    // ps reaps it first, reporting it as a shell's job control does.
    let out = q.cmd("ps -e");
    // Left: the kernel thread kswapd0 (pid 2), which has no terminal either.
    assert_eq!(
        out,
        format!("[{pid}] Killed\n  PID TTY          TIME CMD\n    2 ?        00:00:00 kswapd0\n"),
        "{out}"
    );
}

/// The address of the mapping `touch` holds (its `TOUCH pid=... addr=0x...` line).
fn touch_addr(q: &Qemu) -> u64 {
    let t = q.transcript();
    let line = q.line_with("touch", &t, "TOUCH pid=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("addr=0x"))
        .and_then(|a| u64::from_str_radix(a, 16).ok())
        .unwrap_or_else(|| q.fail(&format!("no address in {line:?}")))
}

/// `MAP_SHARED|MAP_ANONYMOUS` is a shmem object as in 6.1 (`shmem_zero_setup`): a page the
/// child writes after `fork` is the parent's too, the maps line names `/dev/zero (deleted)`
/// on the shm mount (00:01), and its pages are Shmem while mapped and freed with the mapping.
#[test]
fn shared_anonymous_memory_is_shmem_shared_after_fork() {
    let mut q = boot("3G", "norandmaps");
    let out = run(&mut q, "/bin/procself shared-anon");
    common::check_shared_anon(&q, &out, common::maps_name_column(4));
    q.verify_ok("after procself shared-anon");
}

#[test]
fn smaps_counts_the_pages_a_program_touched() {
    let mut q = boot("2G", "norandmaps");
    // 64 pages mapped, 16 written, 8 read (the zero page), 40 untouched.
    let pid = q.start_background("/bin/touch 64 16 8", "TOUCH holding", RUN);
    let addr = touch_addr(&q);
    let smaps = q.cmd(&format!("cat /proc/{pid}/smaps"));
    let header = format!("{addr:08x}-{:08x} rw-p 00000000 00:00 0 \n", addr + 64 * 4096);
    let vma = block(&q, &smaps, &header, "VmFlags:");
    assert_eq!(smaps_kb(&q, vma, "Size"), 256, "{vma}");
    // Written pages are resident, private, dirty and anonymous; zero-page reads count nowhere.
    assert_eq!(smaps_kb(&q, vma, "Rss"), 64, "{vma}");
    assert_eq!(smaps_kb(&q, vma, "Pss"), 64, "{vma}");
    assert_eq!(smaps_kb(&q, vma, "Private_Dirty"), 64, "{vma}");
    assert_eq!(smaps_kb(&q, vma, "Anonymous"), 64, "{vma}");
    assert_eq!(smaps_kb(&q, vma, "Referenced"), 64, "{vma}");
    assert_eq!(smaps_kb(&q, vma, "Shared_Clean") + smaps_kb(&q, vma, "Shared_Dirty"), 0, "{vma}");
    // The text is the rootfs's (tmpfs-like) pages: dirty, not anonymous.
    let text = block(&q, &smaps, " r-xp 00000000 00:02 ", "VmFlags:");
    assert_eq!(smaps_kb(&q, text, "Anonymous"), 0, "{text}");
    assert!(smaps_kb(&q, text, "Rss") > 0, "{text}");
    assert_eq!(smaps_kb(&q, text, "Shared_Clean") + smaps_kb(&q, text, "Private_Clean"), 0);
    // The rollup adds the VMAs up; status's RssAnon counts the same anonymous pages.
    let rollup = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    let anon: u64 = smaps
        .lines()
        .filter_map(|l| l.strip_prefix("Anonymous:"))
        .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().unwrap())
        .sum();
    assert_eq!(smaps_kb(&q, &rollup, "Anonymous"), anon, "{rollup}");
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    let rss_anon = meminfo_kb(&q, &status.replace('\t', " "), "RssAnon");
    assert_eq!(rss_anon, anon, "{status}");
    // A second instance shares the text: both now see it as shared, each with half the Pss.
    let pid2 = q.start_background("/bin/touch 4 1 0", "TOUCH holding", RUN);
    let smaps = q.cmd(&format!("cat /proc/{pid2}/smaps"));
    let text = block(&q, &smaps, " r-xp 00000000 00:02 ", "VmFlags:");
    assert!(smaps_kb(&q, text, "Shared_Dirty") > 0, "{text}");
    assert!(smaps_kb(&q, text, "Pss") < smaps_kb(&q, text, "Rss"), "{text}");
    q.cmd(&format!("kill -9 {pid}"));
    q.cmd(&format!("kill -9 {pid2}"));
    q.verify_ok("after touch");
}

#[test]
fn pt_and_ptdump_walk_a_process_table() {
    let mut q = boot("2G", "norandmaps");
    let pid = q.start_background("/bin/touch 8 2 1", "TOUCH holding", RUN);
    let addr = touch_addr(&q);
    // A written page: Linux's show_pte line, both halves of the PTE, a user page.
    let out = q.cmd(&format!("pt {addr:#x} {pid}"));
    q.expect_in("pt", &out, &format!("[{addr:08x}] *pgd="));
    q.expect_in("pt", &out, ", *pte=");
    let linux = q.line_with("pt", &out, "Linux PTE");
    for bit in ["L_PTE_PRESENT", "L_PTE_YOUNG", "L_PTE_DIRTY", "L_PTE_USER", "L_PTE_XN"] {
        assert!(linux.contains(bit), "{bit} missing: {out}");
    }
    q.expect_in("pt", &out, "PL0 RW");
    q.expect_in("pt", &out, "=> PA ");
    // A page read only maps the zero page, read-only; an untouched one is not mapped.
    let out = q.cmd(&format!("pt {:#x} {pid}", addr + 2 * 4096));
    q.expect_in("pt of the zero-page read", &out, "PL0 RO");
    let out = q.cmd(&format!("pt {:#x} {pid}", addr + 5 * 4096));
    q.expect_in("pt of an untouched page", &out, "=> fault: page translation fault");
    // The same address in the console's (the kernel's) tables is not mapped at all.
    let out = q.cmd(&format!("pt {addr:#x}"));
    q.expect_in("pt in the kernel's tables", &out, "=> fault:");
    let dump = q.cmd(&format!("ptdump {pid}"));
    q.expect_in("ptdump", &dump, "---[ User Space ]---\n");
    // The written pages' run starts at the mapping (one run or two, as their frames fall).
    let run = q.line_with("ptdump", &dump, &format!("{addr:#010x}-"));
    assert!(run.contains(" PAGE  USER    USR RW NX"), "{run}");
    q.expect_in("ptdump", &dump, "---[ Kernel Mapping ]---\n");
    q.expect_in("ptdump", &dump, "VECTORS USR ro x");
    // Bad PIDs are refused with one line, nothing changed.
    let out = q.cmd(&format!("pt {addr:#x} 4242"));
    assert_eq!(out, "pt: 4242: No such process\n");
    let out = q.cmd("ptdump 0");
    q.expect_in("ptdump 0", &out, "ptdump: 0 is the console");
    let out = q.cmd("ptdump x1");
    assert_eq!(out.lines().count(), 1, "{out}");
    q.cmd(&format!("kill -9 {pid}"));
    q.verify_ok("after pt");
}

#[test]
fn hostile_programs_die_and_every_page_comes_back() {
    let mut q = boot("2G", "");
    // The first round grows the kernel's caches (slabs, page-table pages); the second must
    // end with exactly the free memory the first ended with.
    hostile_round(&mut q);
    let before = q.free_kb();
    hostile_round(&mut q);
    let after = q.free_kb();
    assert!(after >= before, "pages lost: {before} kB free before, {after} kB after");
}

/// Every hostile program once, each checked; the console alive and `verify` clean after.
fn hostile_round(q: &mut Qemu) {
    for (cmd, says) in [
        ("/bin/crash null-read", "Segmentation fault"),
        ("/bin/crash kernel-read", "Segmentation fault"),
        ("/bin/crash kernel-write", "Segmentation fault"),
        ("/bin/crash kernel-jump", "Segmentation fault"),
        ("/bin/crash vectors-write", "Segmentation fault"),
        ("/bin/crash read 0xbc800000", "Segmentation fault"),
        ("/bin/crash write 0xffff1000", "Segmentation fault"),
    ] {
        let out = run(q, cmd);
        q.expect_in(cmd, &out, says);
        assert!(!out.contains("survived"), "{cmd}: {out}");
    }
    // With a handler: the kernel's own memory faults for reads, writes and jumps; only the
    // [vectors] page is readable; nothing maps at 0 or at/above TASK_SIZE; kernel text cannot
    // be made writable.
    let out = run(q, "/bin/segv 2G");
    let fault = |q: &Qemu, what: &str, access: &str| {
        let l = q.line_with("segv", &out, what);
        assert!(l.contains(access) && l.contains(": signal 11"), "{what}: {l}");
    };
    fault(q, "kernel lowmem 0x80008000", "read  0x80008000");
    fault(q, "vmalloc 0xf0000000", "read  0xf0000000");
    fault(q, "kernel text 0x80008000", "exec  0x80008000");
    fault(q, "modules area 0x7f000000", "read  0x7f000000");
    q.expect_in("segv", &out, "read  0xffff0000: no fault");
    q.expect_in("segv", &out, "write 0xffff0000: signal 11 (Segmentation fault) si_code=1");
    q.expect_in("segv", &out, "read  0xffff1000: signal 11");
    q.expect_in("segv", &out, "mmap(0, MAP_FIXED) -> 0xffffffff (Invalid argument)");
    q.expect_in(
        "segv",
        &out,
        "mmap(0x7f000000=TASK_SIZE, MAP_FIXED) -> 0xffffffff (Cannot allocate memory)",
    );
    q.expect_in("segv", &out, "mmap(0x80000000=PAGE_OFFSET, MAP_FIXED) -> 0xffffffff");
    q.expect_in("segv", &out, "mprotect(0x80008000 kernel text, PROT_READ|PROT_WRITE) -> -1");
    // Kernel memory through a system call: EFAULT, never the kernel's bytes.
    let out = run(q, "/bin/efault 2G");
    for l in out.lines().filter(|l| l.contains("->") && !l.contains("execve")) {
        assert!(l.contains("EFAULT (ok)"), "{l}\n{}", q.transcript());
    }
    // The console is still here and its view of the kernel is unchanged.
    // Kernel text stays read-only and out of user reach (no PL0 access in its descriptor).
    let out = q.cmd("pt 0x80008000");
    let l2 = q.line_with("kernel text", &out, "  L2 ");
    assert!(l2.contains("AP=PL1 RO XN=0") && !l2.contains("PL0"), "{out}");
    q.verify_ok("after the hostile programs");
}

/// `mapmax` maps until ENOMEM; its highest address is TASK_SIZE = PAGE_OFFSET - 16 MiB.
fn mapmax_reaches_task_size(split: &'static str) {
    let mut q = boot(split, "");
    let before = q.free_kb();
    let out = run(&mut q, "/bin/mapmax");
    let task_size = page_offset(split) - (16 << 20);
    q.expect_in("mapmax", &out, "1024 KiB mappings until ENOMEM");
    q.expect_in("mapmax", &out, &format!("highest address reached {task_size:#010x}"));
    // Nothing below mmap_min_addr (4096) was handed out.
    let lowest = out
        .split("lowest 0x")
        .nth(1)
        .and_then(|s| u64::from_str_radix(&s[..8], 16).ok())
        .unwrap_or_else(|| q.fail("no lowest address"));
    assert!(lowest >= 0x1000, "mapped below mmap_min_addr: {lowest:#x}");
    q.verify_ok("after mapmax");
    let after = q.free_kb();
    assert!(after + 64 >= before, "pages lost: {before} kB before, {after} kB after");
}

#[test]
fn mapmax_reaches_task_size_3g() {
    mapmax_reaches_task_size("3G");
}

#[test]
fn mapmax_reaches_task_size_2g() {
    mapmax_reaches_task_size("2G");
}

#[test]
fn mapmax_reaches_task_size_1g() {
    mapmax_reaches_task_size("1G");
}

#[test]
fn user_debug_prints_linux_unhandled_page_fault_report() {
    let mut q = boot("2G", "user_debug=31");
    let out = run(&mut q, "/bin/crash null-read");
    q.expect_in("user_debug", &out, "8<--- cut here ---\n");
    q.expect_in("user_debug", &out, "crash: unhandled page fault (11) at 0x00000000, code 0x");
    q.expect_in("user_debug", &out, "[00000000] *pgd=");
    q.expect_in("user_debug", &out, " Comm: crash ");
    q.expect_in("user_debug", &out, "pc : [<");
    q.expect_in("user_debug", &out, "Mode USER_32");
    q.expect_in("user_debug", &out, "Segment user\n");
    q.expect_in("user_debug", &out, "  DAC: 00000055\n");
    q.expect_in("user_debug", &out, "Control: ");
    q.expect_in("user_debug", &out, "Segmentation fault");
    // Without user_debug the kernel prints nothing (as Linux).
    let mut q = boot("2G", "");
    let out = run(&mut q, "/bin/crash null-read");
    assert!(!out.contains("unhandled page fault"), "{out}");
}

#[test]
fn the_oom_killer_kills_the_memory_bomb_and_the_system_carries_on() {
    // 256 MiB of RAM keeps the bomb short; the initramfs lies inside it.
    let mut q = boot("2G", "mem=256M");
    // The first round also grows the kernel's caches; the second must give back exactly
    // what it took.
    oom_round(&mut q, 1);
    let mi = q.cmd("cat /proc/meminfo");
    let tables_before = meminfo_kb(&q, &mi, "PageTables");
    let before = q.free_kb();
    oom_round(&mut q, 2);
    let after = q.free_kb();
    assert!(after >= before, "pages lost: {before} kB free before, {after} kB after");
    // PageTables is back where it was (the bomb's PTE pages and pgd were all counted out).
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "PageTables"), tables_before, "{mi}");
}

/// A small process holds memory, the bomb runs until the OOM killer kills it (the biggest),
/// the small one survives and is then killed, and a program still runs; `kills` OOM kills
/// so far.
fn oom_round(q: &mut Qemu, kills: u32) {
    let holder = q.start_background("/bin/touch 4 1 0", "TOUCH holding", RUN);
    let out = q.cmd_timeout("run /bin/membomb", BOMB);
    q.expect_in(
        "membomb",
        &out,
        "membomb invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0\n",
    );
    q.expect_in(
        "membomb",
        &out,
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n",
    );
    let killed = q.line_with("membomb", &out, "Out of memory: Killed process ");
    assert!(killed.contains("(membomb) total-vm:"), "the biggest process dies: {killed}");
    for part in [
        ", anon-rss:",
        // The [vdso] page glibc's start-up read, as Linux's file-rss:4kB for the same bomb.
        "kB, file-rss:4kB,",
        "kB, shmem-rss:",
        "kB, UID:0 pgtables:",
        "kB oom_score_adj:0",
    ] {
        assert!(killed.contains(part), "{part} missing in {killed}");
    }
    q.expect_in(
        "membomb",
        &out,
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=membomb,pid=",
    );
    q.expect_in("membomb", &out, "Killed\n");
    // The smaller process was spared and the kernel still runs programs.
    let ps = q.cmd("ps -o pid,comm");
    q.expect_in("ps", &ps, &format!("{holder:>5} touch\n"));
    let vmstat = q.cmd("cat /proc/vmstat");
    q.expect_in("vmstat", &vmstat, &format!("\noom_kill {kills}\n"));
    q.cmd(&format!("kill -9 {holder}"));
    // ps reaps the killed holder, as a shell's job control would.
    q.cmd_until("ps", &format!("[{holder}] Killed\n"));
    let out = run(q, "/bin/vmtest anon 4");
    q.expect_in("after the OOM kill", &out, "anon N=4:");
    q.verify_ok("after the OOM kill");
}

/// A `name value` line of /proc/vmstat.
fn vmstat(q: &Qemu, text: &str, name: &str) -> u64 {
    let key = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("/proc/vmstat: no {name} in:\n{text}")))
}

#[test]
fn vmstat_and_meminfo_count_what_processes_use() {
    let mut q = boot("2G", "");
    let v0 = q.cmd("cat /proc/vmstat");
    let m0 = q.cmd("cat /proc/meminfo");
    let pid = q.start_background("/bin/touch 64 16 8", "TOUCH holding", RUN);
    let v1 = q.cmd("cat /proc/vmstat");
    let m1 = q.cmd("cat /proc/meminfo");
    let stat = q.cmd(&format!("cat /proc/{pid}/stat"));
    let f: Vec<u64> = stat.split_whitespace().skip(3).map(|x| x.parse().unwrap_or(0)).collect();
    let (minflt, majflt) = (f[6], f[8]);
    // Every fault the only process took is one pgfault.
    assert_eq!(vmstat(&q, &v1, "pgfault") - vmstat(&q, &v0, "pgfault"), minflt + majflt, "{stat}");
    assert_eq!(vmstat(&q, &v1, "pgmajfault"), vmstat(&q, &v0, "pgmajfault"));
    // Its pages came from the page allocator: at least its anonymous pages, page tables,
    // kernel stack and pgd.
    let status = q.cmd(&format!("cat /proc/{pid}/status")).replace('\t', " ");
    let rss_anon = meminfo_kb(&q, &status, "RssAnon");
    let rss_shmem = meminfo_kb(&q, &status, "RssShmem");
    let rss_file = meminfo_kb(&q, &status, "RssFile");
    let allocated = vmstat(&q, &v1, "pgalloc_normal") - vmstat(&q, &v0, "pgalloc_normal");
    assert!(allocated * 4 >= rss_anon + 8 + 16, "pgalloc_normal +{allocated} for {rss_anon} kB");
    // meminfo: the anonymous pages are the process's; the rootfs pages it maps are Mapped.
    let anon = meminfo_kb(&q, &m1, "AnonPages") - meminfo_kb(&q, &m0, "AnonPages");
    assert_eq!(anon, rss_anon, "{m1}\n{status}");
    // With one process, the rootfs pages it maps are exactly its RssShmem and the special
    // mappings' pages its RssFile (page_add_file_rmap counts both in NR_FILE_MAPPED; pivm's
    // counters do not lag as Linux's per-task batches do; a copy-on-write of a file page
    // moves one page from file to anon, once).
    let mapped = meminfo_kb(&q, &m1, "Mapped");
    assert_eq!(rss_file, 4, "the [vdso] page glibc read: {status}");
    assert_eq!(
        mapped,
        rss_shmem + rss_file,
        "Mapped {mapped} kB, RssShmem {rss_shmem} kB, RssFile {rss_file} kB"
    );
    assert_eq!(meminfo_kb(&q, &m1, "KernelStack") - meminfo_kb(&q, &m0, "KernelStack"), 8);
    assert!(meminfo_kb(&q, &m1, "PageTables") > meminfo_kb(&q, &m0, "PageTables"));
    assert_eq!(meminfo_kb(&q, &m1, "Cached"), meminfo_kb(&q, &m0, "Cached"), "rootfs pages");
    // When it is gone, pgfree has taken its pages back and the counters are where they were.
    q.cmd(&format!("kill -9 {pid}"));
    q.cmd("ps");
    let v2 = q.cmd("cat /proc/vmstat");
    let m2 = q.cmd("cat /proc/meminfo");
    // Its anonymous pages, kernel stack (2) and pgd (4) at least went back.
    let freed = vmstat(&q, &v2, "pgfree") - vmstat(&q, &v1, "pgfree");
    assert!(freed >= rss_anon / 4 + 6, "pgfree +{freed} after a process of {rss_anon} kB anon");
    for field in ["AnonPages", "Mapped", "KernelStack", "PageTables"] {
        assert_eq!(meminfo_kb(&q, &m2, field), meminfo_kb(&q, &m0, field), "{field}\n{m2}");
    }
}

#[test]
fn the_oom_killer_kills_the_biggest_process_not_the_one_that_faulted() {
    let mut q = boot("2G", "mem=256M");
    let before = q.free_kb();
    // 117 MiB held in the background; the bomb is smaller when memory first runs out.
    let big = q.start_background("/bin/touch 30000 30000 0", "TOUCH holding", RUN);
    let out = q.cmd_timeout("run /bin/membomb", BOMB);
    let kills: Vec<&str> =
        out.lines().filter(|l| l.contains("Out of memory: Killed process")).collect();
    assert_eq!(kills.len(), 2, "{out}");
    assert!(
        kills[0].starts_with(&format!("Out of memory: Killed process {big} (touch) ")),
        "{out}"
    );
    // The bomb carried on into the memory the first victim gave back, then was the biggest.
    assert!(kills[1].contains("(membomb) total-vm:"), "{out}");
    let first = out.find(kills[0]).unwrap_or(0);
    assert!(out[first..].contains("membomb: 112 MiB touched"), "{out}");
    q.expect_in("membomb", &out, &format!("[{big}] Killed\n"));
    q.verify_ok("after two OOM kills");
    let after = q.free_kb();
    assert!(after + 64 >= before, "pages lost: {before} kB free before, {after} kB after");
}
