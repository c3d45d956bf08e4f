//! Programs on pivm (issue 12): the project's static ARM programs from the initramfs
//! (`make initramfs`) run from the console, take the page faults Linux 6.1 counts for each
//! access pattern (LINUX_USER_FACTS.md §4), die alone on a bad access, get EFAULT for bad
//! pointers and ENOSYS for unknown calls; afterwards `verify` is clean and every page is back.
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host.
const RUN: Duration = Duration::from_secs(60);

fn boot(split: &'static str) -> Qemu {
    let (q, _) = Qemu::boot_to_prompt(Opts::raw(split).initramfs().append("norandmaps"));
    q
}

fn run(q: &mut Qemu, cmd: &str) -> String {
    q.cmd_timeout(&format!("run {cmd}"), RUN)
}

/// The `+min/+maj` pair printed after `label` on `line`.
fn delta(q: &Qemu, line: &str, label: &str) -> (u64, u64) {
    let at = line.find(label).unwrap_or_else(|| q.fail(&format!("no {label:?} in {line:?}")));
    let rest = line[at + label.len()..].trim_start();
    let word = rest.split_whitespace().next().unwrap_or("");
    let mut parts = word.trim_start_matches('+').split("/+");
    let mut num = || parts.next().and_then(|n| n.parse().ok());
    match (num(), num()) {
        (Some(a), Some(b)) => (a, b),
        _ => q.fail(&format!("cannot read the delta after {label:?} in {line:?}")),
    }
}

/// `tiny`'s maps on `split`: text and data at the ELF's addresses, `[sigpage]`, `[vvar]` and
/// `[vdso]` the first three pages below the mmap base (TASK_SIZE - 128 MiB: the stack rlimit
/// gap's minimum), the stack ending at TASK_SIZE = PAGE_OFFSET - 16 MiB (`norandmaps`), the
/// vectors page.
fn tiny_layout(split: &'static str, stack_top: &str) {
    let mut q = boot(split);
    let out = run(&mut q, "/bin/tiny");
    q.expect_in("tiny", &out, "00010000-00011000 r-xp 00000000 00:02");
    q.expect_in("tiny", &out, "00011000-00012000 rw-p 00000000 00:02");
    let base = u32::from_str_radix(stack_top, 16).unwrap() - (128 << 20);
    for (i, name) in ["[sigpage]", "[vvar]", "[vdso]"].iter().enumerate() {
        let (start, prot) = (base - (3 - i as u32) * 0x1000, if i == 1 { "r--p" } else { "r-xp" });
        let line =
            format!("{start:08x}-{:08x} {prot} 00000000 00:00 0          {name}\n", start + 0x1000);
        q.expect_in("tiny", &out, &line);
    }
    q.expect_in("tiny", &out, &format!("-{stack_top} rw-p 00000000 00:00 0          [stack]"));
    q.expect_in("tiny", &out, "ffff0000-ffff1000 r-xp 00000000 00:00 0          [vectors]");
    // Its /proc/self/stat: pid 1 (the first program), its name, running, ppid 0.
    q.expect_in("tiny", &out, "1 (tiny) R 0 ");
    q.verify_ok("after tiny");
}

#[test]
fn tiny_layout_2g() {
    tiny_layout("2G", "7f000000");
}

#[test]
fn tiny_layout_3g_is_the_references() {
    tiny_layout("3G", "bf000000");
    // The reference's exact lines (layout.txt, LINUX_USER_FACTS.md §2) on 3G.
    let mut q = boot("3G");
    let out = run(&mut q, "/bin/tiny");
    for line in [
        "b6ffd000-b6ffe000 r-xp 00000000 00:00 0          [sigpage]\n",
        "b6ffe000-b6fff000 r--p 00000000 00:00 0          [vvar]\n",
        "b6fff000-b7000000 r-xp 00000000 00:00 0          [vdso]\n",
        "befdf000-bf000000 rw-p 00000000 00:00 0          [stack]",
    ] {
        q.expect_in("tiny", &out, line);
    }
}

#[test]
fn tiny_layout_1g() {
    tiny_layout("1G", "3f000000");
}

#[test]
fn fault_counts_equal_linux_61() {
    let mut q = boot("2G");
    // The first round grows the kernel's caches (slab pages for VMAs, files, tasks; page-table
    // pages) to what these programs need; the second must then give back every page it took.
    fault_patterns(&mut q);
    let before = q.memory_snapshot();
    fault_patterns(&mut q);
    q.verify_ok("after the fault patterns");
    q.assert_nothing_lost("after the fault patterns", &before, 0);
}

/// vmtest's access patterns, each with the fault counts Linux 6.1 takes for it.
fn fault_patterns(q: &mut Qemu) {
    let out = run(q, "/bin/vmtest anon 16 256");
    let l = q.line_with("anon", &out, "anon N=256:");
    assert_eq!(delta(q, l, "mmap"), (0, 0), "{l}");
    assert_eq!(delta(q, l, "write-touch"), (256, 0), "{l}");
    assert_eq!(delta(q, l, "re-read"), (0, 0), "{l}");
    assert_eq!(delta(q, l, "re-write"), (0, 0), "{l}");
    assert_eq!(delta(q, l, "munmap"), (0, 0), "{l}");

    // munmap's free_pgtables: 4 MiB of written pages took at least two page tables (2 KiB
    // of VmPTE each, one per 2 MiB); the munmap gives back each one no other mapping shares,
    // at least the one wholly inside the range, at most all of them.
    let out = run(q, "/bin/vmtest ptfree 1024");
    let l = q.line_with("ptfree", &out, "ptfree N=1024:");
    let kb: Vec<u64> = l.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [before, touched, after] = kb[..] else { q.fail(&format!("ptfree line {l:?}")) };
    assert!(touched >= before + 4, "{l}");
    assert!(after + 2 <= touched && after <= before + 4, "{l}");

    let out = run(q, "/bin/vmtest anonrd 64");
    let l = q.line_with("anonrd", &out, "N=64:");
    assert_eq!(delta(q, l, "read-touch(zero page)"), (64, 0), "{l}");
    assert_eq!(delta(q, l, "write-after-read"), (64, 0), "{l}");

    let out = run(q, "/bin/vmtest stack 16 256 1024");
    for (n, want) in [(16, 14), (256, 240), (1024, 768)] {
        let l = q.line_with("stack", &out, &format!("stack N={n}:"));
        assert_eq!(delta(q, l, "first touch"), (want, 0), "{l}");
        assert_eq!(delta(q, l, "second touch"), (0, 0), "{l}");
    }

    let out = run(q, "/bin/vmtest malloc 64");
    let l = q.line_with("malloc", &out, "malloc N=64");
    assert_eq!(delta(q, l, "): malloc"), (1, 0), "{l}");
    assert_eq!(delta(q, l, "write-touch"), (63, 0), "{l}");

    let out = run(q, "/bin/vmtest file /data/f16m 16 256 4096");
    for (n, want) in [(16, 1), (256, 17), (4096, 257)] {
        let l = q.line_with("file", &out, &format!("N={n} MAP_PRIVATE"));
        assert_eq!(delta(q, l, "read"), (want, 0), "{l}");
    }
}

#[test]
fn a_null_dereference_kills_only_the_program() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/crash null-read");
    q.expect_in("crash", &out, "Segmentation fault");
    let out = run(&mut q, "/bin/crash null-write");
    q.expect_in("crash", &out, "Segmentation fault");
    // The kernel carries on and a program still runs.
    let out = run(&mut q, "/bin/vmtest anon 4");
    q.expect_in("after crash", &out, "anon N=4:");
    q.verify_ok("after crash");
}

#[test]
fn bad_pointers_get_efault_and_unknown_calls_enosys() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/efault 2G");
    for l in out.lines().filter(|l| l.contains("->") && !l.contains("execve")) {
        assert!(l.contains("EFAULT (ok)"), "{l}\n{}", q.transcript());
    }
    let out = run(&mut q, "/bin/syscalls");
    q.expect_in("syscalls", &out, "getpid, getppid, gettid                      ok");
    q.expect_in("syscalls", &out, "uname                                        ok: Linux");
    q.expect_in("syscalls", &out, "mincore: touched page in, other out          ok");
    q.expect_in("syscalls", &out, "madvise(MADV_DONTNEED) zeroes the page       ok");
    q.verify_ok("after efault");
}

#[test]
fn segv_handlers_get_linux_si_codes() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/segv");
    for (probe, want) in [
        ("NULL                                     read", "si_code=1 (SEGV_MAPERR)"),
        ("text (main)                              write", "si_code=2 (SEGV_ACCERR)"),
        ("kernel lowmem 0x80008000                 read", "si_code=1 (SEGV_MAPERR)"),
        ("[vectors] 0xffff0000                     read", "no fault"),
        ("[vectors] 0xffff0000                     write", "si_code=1 (SEGV_MAPERR)"),
        ("PROT_NONE mapping                        read", "si_code=2 (SEGV_ACCERR)"),
        (
            "file page past EOF                       read",
            "signal 7 (Bus error) si_code=2 (BUS_ADRERR)",
        ),
    ] {
        let l = q.line_with("segv", &out, probe);
        assert!(l.contains(want), "{probe}: expected {want:?} in {l:?}\n{}", q.transcript());
    }
    q.expect_in("segv", &out, "mmap(0x1000, MAP_FIXED) -> 0xffffffff (Invalid argument)");
    q.expect_in("segv", &out, "mmap(hint 0x1000, no MAP_FIXED) -> 0x8000");
    q.verify_ok("after segv");
}

#[test]
fn every_listed_system_call_and_fork_exec_wait() {
    let mut q = boot("2G");
    // A first round grows the slab caches to what several live tasks need.
    run(&mut q, "/bin/syscalls");
    run(&mut q, "/bin/vmtest exec");
    let before = q.memory_snapshot();
    let out = run(&mut q, "/bin/syscalls");
    q.expect_in("syscalls", &out, "unknown system call 0x3ff: ENOSYS            ok");
    q.expect_in("syscalls", &out, "fork, execve(self), wait4");
    q.expect_in("syscalls", &out, "syscalls: 41 checks, 0 failed");
    let out = run(&mut q, "/bin/vmtest exec");
    let l = q.line_with("exec", &out, "fork child pid=");
    // `+= 1` loads then stores: the child's PTE is old after fork (copy_present_pte's
    // pte_mkold), so the load takes an access fault and the store the COW fault.
    assert_eq!(delta(&q, l, "write .data"), (2, 0), "child's first write is a COW fault: {l}");
    let l = q.line_with("exec", &out, "parent write .data after child exit");
    assert_eq!(delta(&q, l, "exit"), (1, 0), "{l}");
    q.verify_ok("after fork and exec");
    q.assert_nothing_lost("after fork and exec", &before, 0);
}

#[test]
fn background_programs_ctrl_c_and_kill() {
    let mut q = boot("2G");
    let out = q.cmd("run /bin/spin &");
    q.expect_in("run &", &out, "[1]");
    // The console answers while the program spins.
    let out = q.cmd("ps");
    q.expect_in("ps", &out, "spin");
    q.cmd("kill -9 1");
    q.cmd_until("ps", "[1] Killed");
    // A foreground program stops on Ctrl-C.
    q.send("run /bin/spin\r");
    q.wait_for("spinning", RUN).unwrap_or_else(|f| panic!("{}", f.0));
    q.send_bytes(&[3]);
    q.wait_for("pivm# ", RUN).unwrap_or_else(|f| panic!("{}", f.0));
    let out = q.cmd("ps");
    assert!(!out.contains("spin"), "spin still running after Ctrl-C: {out}");
    q.verify_ok("after the background job");
}

#[test]
fn a_fork_bomb_gets_eagain_and_every_child_is_reaped() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/forkbomb --nproc 100");
    q.expect_in("forkbomb", &out, "forkbomb: fork number 100 failed: EAGAIN");
    q.expect_in("forkbomb", &out, "forkbomb: 99 children started, 99 reaped");
    let out = q.cmd("ps");
    assert!(!out.contains("forkbomb"), "children left: {out}");
    q.verify_ok("after forkbomb");
}

/// A program that allocates without end is killed with Linux's OOM line, alone. 128 MiB of
/// RAM makes it quick; QEMU loads the initramfs at 0x08000000, so the second bank keeps it
/// in memory (as the reference's `mem=120M mem=8M@0x08000000` does).
#[test]
fn a_memory_bomb_is_killed_by_the_oom_line_and_the_kernel_carries_on() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").initramfs().append("norandmaps mem=96M mem=32M@0x08000000"),
    );
    run(&mut q, "/bin/vmtest anon 1");
    let before = q.memory_snapshot();
    let out = run(&mut q, "/bin/membomb");
    q.expect_in("membomb", &out, "Out of memory: Killed process ");
    q.expect_in("membomb", &out, " (membomb) total-vm:");
    q.expect_in("membomb", &out, "Killed");
    let out = run(&mut q, "/bin/vmtest anon 4");
    q.expect_in("after membomb", &out, "anon N=4:");
    q.verify_ok("after membomb");
    q.assert_nothing_lost("after membomb", &before, 64);
}

/// Lines typed while a program runs but never read by it stay the console's, as a tty's input
/// queue outlives the program: both commands typed after `run` in one go still run.
#[test]
fn input_the_program_did_not_read_goes_back_to_the_console() {
    let mut q = boot("2G");
    q.send("run /bin/vmtest anon 4\nps -e\ncat /proc/uptime\n");
    for needle in ["anon N=4:", "  PID TTY          TIME CMD"] {
        if let Err(e) = q.wait_for(needle, RUN) {
            q.fail(&format!("{needle:?} never came: {}", e.0));
        }
    }
    // The prompt after the last typed command, then the uptime line before it.
    q.verify_ok("after the type-ahead");
    let t = q.transcript();
    let after = &t[t.rfind("  PID TTY").unwrap()..];
    let uptime = after.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() == 2 && w.iter().all(|x| x.contains('.') && x.parse::<f64>().is_ok())
    });
    if !uptime {
        q.fail("`cat /proc/uptime`, typed while the program ran, never ran");
    }
}

/// The gzip archive (what every other test boots, as Linux's initramfs is compressed) and the
/// same archive uncompressed unpack to the same files; each frees exactly the whole pages of
/// its own image (QEMU loads it page-aligned), and nothing the size of the archive is ever
/// allocated for the gzip one (it streams through the 32 KiB inflate window).
#[test]
fn the_gzip_and_the_plain_initramfs_unpack_alike() {
    let mut listings = Vec::new();
    for (opts, file) in [
        (Opts::raw("2G").initramfs(), "build/initramfs.cpio.gz"),
        (Opts::raw("2G").initramfs_raw(), "build/initramfs.cpio"),
    ] {
        let (mut q, log) = Qemu::boot_to_prompt(opts.append("norandmaps"));
        let size = std::fs::metadata(common::root().join(file)).unwrap().len();
        q.expect_in(file, &log, "Trying to unpack rootfs image as initramfs...\n");
        q.expect_in(file, &log, &format!("Freeing initrd memory: {}K\n", size / 4096 * 4));
        assert!(!log.contains("unpacking failed"), "{log}");
        let ls = q.cmd("ls /bin");
        let out = run(&mut q, "/bin/tiny");
        q.expect_in(file, &out, "tiny");
        q.verify_ok(file);
        let body: Vec<String> = ls.lines().skip(1).map(str::to_string).collect();
        listings.push(body);
    }
    assert_eq!(listings[0], listings[1], "the two archives unpack to different /bin");
    assert!(listings[0].iter().any(|l| l.ends_with(" jobctl")), "{:?}", listings[0]);
}

/// kswapd0 is a kernel thread (issue 13): pid 2 (pid 1 is kept for init, the first program),
/// no terminal, no command line (procps brackets its name), no address space (no `Vm*` lines,
/// vsize 0), `PF_KTHREAD | PF_KSWAPD | PF_MEMALLOC | PF_FORKNOEXEC` in its flags, asleep on
/// its wait queue; a signal does nothing to it, and the first program still gets pid 1.
#[test]
fn kswapd0_is_a_kernel_thread() {
    let mut q = boot("2G");
    let out = q.cmd("ps -e");
    assert_eq!(out, "  PID TTY          TIME CMD\n    2 ?        00:00:00 kswapd0\n", "{out}");
    let out = q.cmd("ps -e -o pid,ppid,vsz,rss,stat,args");
    q.expect_in("ps args", &out, "    2     0      0     0 S    [kswapd0]\n");
    let status = q.cmd("cat /proc/2/status");
    q.expect_in("status", &status, "Name:\tkswapd0\n");
    q.expect_in("status", &status, "State:\tS (sleeping)\n");
    assert!(!status.contains("VmSize"), "a kernel thread has no Vm* lines:\n{status}");
    // 6.1 has no Kthread: line (added in 6.4).
    assert!(!status.contains("Kthread"), "{status}");
    let stat = q.cmd("cat /proc/2/stat");
    let f: Vec<&str> = stat.split_whitespace().collect();
    // Field 9 is flags: PF_KTHREAD 0x200000 | PF_KSWAPD 0x20000 | PF_MEMALLOC 0x800 |
    // PF_FORKNOEXEC 0x40; field 23 vsize.
    assert_eq!((f[1], f[2], f[8], f[22]), ("(kswapd0)", "S", "2230336", "0"), "{stat}");
    assert_eq!(q.cmd("cat /proc/2/cmdline"), "");
    q.cmd("kill -9 2");
    let out = q.cmd("ps -e");
    q.expect_in("ps after kill -9 2", &out, "    2 ?        00:00:00 kswapd0\n");
    // Programs: pid 1 first, then the pids after the kernel thread's.
    let out = run(&mut q, "/bin/tiny");
    q.expect_in("first program", &out, "1 (tiny) R 0 ");
    let out = run(&mut q, "/bin/tiny");
    q.expect_in("second program", &out, "3 (tiny) R 0 ");
    q.verify_ok("after looking at kswapd0");
}
