//! fork, execve, wait4 and signals on pivm (issue 12, items 1-3): the project's programs fork,
//! exec and wait as on Linux 6.1 (`forkwait`'s checks, `syscalls`), a forked child takes the
//! copy-on-write faults the reference lists and its faults reach the parent's `cminflt`,
//! `segv` catches its own SIGSEGV with the reference's `si_code` for every address, a fork bomb
//! gets EAGAIN with the console, `verify` and free memory intact, and Ctrl-C and `kill -9`
//! from the console end a spinning program.
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host.
const RUN: Duration = Duration::from_secs(50);

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

/// The number after `label=` (or `label `) on `line`.
fn number_after(q: &Qemu, line: &str, label: &str) -> u64 {
    let at = line.find(label).unwrap_or_else(|| q.fail(&format!("no {label:?} in {line:?}")));
    let digits: String = line[at + label.len()..]
        .trim_start_matches(['=', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or_else(|_| q.fail(&format!("no number after {label:?} in {line:?}")))
}

#[test]
fn fork_exec_wait_and_signals_pass_forkwaits_checks() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/forkwait");
    q.expect_in("forkwait", &out, "forkwait: 22 checks, 0 failed");
    // The parent's RUSAGE_CHILDREN after wait4 is the child's own count (wait_task_zombie).
    let l = q.line_with("forkwait", &out, "wait4 rusage and RUSAGE_CHILDREN");
    assert_eq!(number_after(&q, l, "child minflt"), number_after(&q, l, "parent cminflt"), "{l}");
    // The orphan's new parent is pivm's reaper, the console (pid 0).
    q.expect_in("forkwait", &out, "new parent 0");
    let out = run(&mut q, "/bin/syscalls");
    q.expect_in("syscalls", &out, "syscalls: 41 checks, 0 failed");
    q.verify_ok("after forkwait and syscalls");
}

#[test]
fn a_forked_child_takes_the_references_cow_faults() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/vmtest exec");
    // Reference (faults.txt): "fork child pid=152: minflt at start=13  write .data +0/+0
    // read .bss +1/+0": a .bss page nothing touched maps the zero page, one minor fault.
    let l = q.line_with("vmtest exec", &out, "fork child pid=");
    assert_eq!(delta(&q, l, "read .bss"), (1, 0), "{l}");
    // The child's first `+= 1` to the .data page the parent wrote before fork: the load
    // takes an access fault (copy_present_pte leaves the child's PTE old, and an old ARM PTE
    // has no hardware entry), the store the copy-on-write fault. (The reference printed +0
    // here: its child had touched that page before; see the README.)
    assert_eq!(delta(&q, l, "write .data"), (2, 0), "{l}");
    // The parent's first write after the child exited faults: fork write-protected it.
    let l = q.line_with("vmtest exec", &out, "parent write .data after child exit");
    assert_eq!(delta(&q, l, "exit"), (1, 0), "{l}");
    // wait4's rusage is the child's whole count: at least what it saw at its exit.
    for i in 1..=2 {
        let l = q.line_with("vmtest exec", &out, &format!("sequential instance {i} pid="));
        let pid = number_after(&q, l, "pid");
        let at_exit = q.line_with("vmtest exec", &out, &format!("CHILD pid={pid} at exit"));
        assert!(
            number_after(&q, l, "total minflt") >= number_after(&q, at_exit, "minflt"),
            "{l} / {at_exit}"
        );
    }
    q.verify_ok("after vmtest exec");
}

/// LINUX_USER_FACTS.md §2: the signal and si_code a program's own handler sees per access,
/// on the reference's split (3G), as `segv` prints them.
#[test]
fn segv_catches_its_own_faults_with_the_references_codes() {
    let mut q = boot("3G");
    let out = run(&mut q, "/bin/segv 3G");
    let table: &[(&str, &str, &str)] = &[
        ("NULL ", "read  (nil)", "SEGV_MAPERR"),
        ("NULL ", "write (nil)", "SEGV_MAPERR"),
        ("0x1000 (below text", "read  0x1000", "SEGV_MAPERR"),
        ("0xfffc (just below", "read  0xfffc", "SEGV_MAPERR"),
        ("text (main)", "write", "SEGV_ACCERR"),
        ("rodata", "write", "SEGV_ACCERR"),
        ("kernel lowmem 0xc0008000", "read", "SEGV_MAPERR"),
        ("modules area 0xbf000000", "read", "SEGV_MAPERR"),
        ("vmalloc 0xf0000000", "read", "SEGV_MAPERR"),
        ("[vectors] 0xffff0000", "write", "SEGV_MAPERR"),
        ("[vectors] page 2 0xffff1000", "read", "SEGV_MAPERR"),
        ("PROT_NONE mapping", "read", "SEGV_ACCERR"),
        ("PROT_READ anon mapping  ", "write", "SEGV_ACCERR"),
    ];
    for &(what, how, code) in table {
        let l = out
            .lines()
            .find(|l| l.contains(what) && l.contains(how))
            .unwrap_or_else(|| q.fail(&format!("no probe line {what:?} {how:?}")));
        assert!(l.contains("signal 11 (Segmentation fault) si_code="), "{l}");
        assert!(l.contains(code), "{l}: want {code}");
    }
    // si_addr is the faulting address.
    let l = q.line_with("segv", &out, "kernel lowmem 0xc0008000");
    q.expect_in("segv", l, "si_addr=0xc0008000");
    // Allowed: reading text and the kuser helper page.
    for what in [
        "text (main)                              read",
        "[vectors] 0xffff0000                     read",
    ] {
        let l = q.line_with("segv", &out, what);
        q.expect_in("segv", l, "no fault");
    }
    q.verify_ok("after segv");
}

#[test]
fn a_fork_bomb_gets_eagain_and_everything_comes_back() {
    let mut q = boot("2G");
    // Warm up: the first fork bomb grows the kernel's caches (slab, page-table pages).
    run(&mut q, "/bin/forkbomb --nproc 64");
    let before = q.memory_snapshot();
    let out = run(&mut q, "/bin/forkbomb --nproc 64");
    // RLIMIT_NPROC 64 for uid 65534: the 64th process (the bomb itself is the first) fails.
    q.expect_in("forkbomb", &out, "forkbomb: RLIMIT_NPROC=64, uid 65534");
    q.expect_in(
        "forkbomb",
        &out,
        "fork number 64 failed: EAGAIN (Resource temporarily unavailable)",
    );
    q.expect_in("forkbomb", &out, "forkbomb: 63 children started, 63 reaped");
    // The console answers and nothing is left behind.
    let ps = q.cmd("ps");
    assert!(!ps.contains("forkbomb"), "{ps}");
    q.verify_ok("after the fork bomb");
    q.assert_nothing_lost("after the fork bomb", &before, 0);
}

#[test]
fn ctrl_c_and_kill_9_end_a_spinning_program() {
    let mut q = boot("2G");
    q.send("run /bin/spin\r");
    q.wait_for("spinning until killed", RUN).unwrap();
    // Ctrl-C: SIGINT to the foreground program; a shell prints nothing for it.
    q.send_bytes(b"\x03");
    let out = q.wait_for(common::PROMPT, RUN).unwrap();
    assert!(out.contains("^C"), "{out}");
    let ps = q.cmd("ps");
    assert!(!ps.contains("spin"), "SIGINT did not end spin:\n{ps}");
    // In the background: kill -9 from the console, reported as a shell reports a job.
    let out = q.cmd("run /bin/spin &");
    let pid = out
        .lines()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        .unwrap_or_else(|| q.fail("no [pid] for the background spin"))
        .to_string();
    q.wait_for("spinning until killed", RUN).unwrap();
    q.cmd(&format!("kill -9 {pid}"));
    let ps = q.cmd_until("ps", &format!("[{pid}] Killed"));
    assert!(!ps.lines().any(|l| l.ends_with(" spin")), "{ps}");
    q.verify_ok("after Ctrl-C and kill -9");
}

/// The state column of `pid`'s line in `ps -o pid,stat,comm`.
fn ps_stat(q: &mut Qemu, pid: u32) -> String {
    let ps = q.cmd("ps -o pid,stat,comm");
    ps.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&pid.to_string().as_str()))
        .and_then(|w| w.get(1).map(|s| s.to_string()))
        .unwrap_or_else(|| q.fail(&format!("no ps line for pid {pid}:\n{ps}")))
}

#[test]
fn job_control_stops_continues_and_ignored_sigchld_autoreaps() {
    let mut q = boot("2G");
    // The program's own checks: WUNTRACED/WCONTINUED statuses, CLD_STOPPED/CLD_CONTINUED,
    // SA_NOCLDSTOP, SIGKILL of a stopped child, SIG_IGN and SA_NOCLDWAIT autoreap with ECHILD.
    let out = run(&mut q, "/bin/jobctl");
    q.expect_in("jobctl", &out, "jobctl: 18 checks, 0 failed");
    q.expect_in("jobctl", &out, "stopped child: state T, no CPU time          ok");
    // Ctrl-Z stops the foreground program; the console prints bash's line.
    q.send("run /bin/spin\r");
    let out = q.wait_for("spinning until killed", RUN).unwrap();
    let pid: u32 = number_after(&q, &out, "spin: pid") as u32;
    q.send_bytes(b"\x1a");
    let out = q.wait_for(common::PROMPT, RUN).unwrap();
    q.expect_in("Ctrl-Z", &out, "^Z\n[1]+  Stopped                 /bin/spin\n");
    assert_eq!(ps_stat(&mut q, pid), "T");
    let st = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status", &st, "State:\tT (stopped)");
    let stat = q.cmd(&format!("cat /proc/{pid}/stat"));
    q.expect_in("stat", &stat, &format!("{pid} (spin) T "));
    let jobs = q.cmd("jobs");
    q.expect_in("jobs", &jobs, "[1]+  Stopped                 /bin/spin\n");
    // A stopped program never runs: its CPU time stands still.
    let ticks = |q: &mut Qemu| {
        let stat = q.cmd(&format!("cat /proc/{pid}/stat"));
        let f: Vec<u64> = stat
            .rsplit_once(") ")
            .map(|(_, r)| r.split_whitespace().filter_map(|w| w.parse().ok()).collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 (12th and 13th after the state).
        f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)
    };
    let before = ticks(&mut q);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ticks(&mut q), before, "a stopped program ran");
    // bg: SIGCONT, in the background.
    let out = q.cmd("bg");
    q.expect_in("bg", &out, "[1]+ /bin/spin &");
    assert_eq!(ps_stat(&mut q, pid), "R");
    let jobs = q.cmd("jobs");
    q.expect_in("jobs", &jobs, "[1]+  Running                 /bin/spin &");
    // kill -STOP and kill -CONT from the console.
    q.cmd(&format!("kill -STOP {pid}"));
    assert_eq!(ps_stat(&mut q, pid), "T");
    let jobs = q.cmd("jobs");
    q.expect_in("jobs", &jobs, "[1]+  Stopped (signal)        /bin/spin &");
    q.cmd(&format!("kill -CONT {pid}"));
    assert_eq!(ps_stat(&mut q, pid), "R");
    q.cmd(&format!("kill -TSTP {pid}"));
    assert_eq!(ps_stat(&mut q, pid), "T");
    // fg: back in the foreground, where Ctrl-C ends it.
    q.send(&format!("fg {pid}\r"));
    q.wait_for("/bin/spin\n", RUN).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    q.send_bytes(b"\x03");
    let out = q.wait_for(common::PROMPT, RUN).unwrap();
    assert!(out.contains("^C"), "{out}");
    let ps = q.cmd("ps");
    assert!(!ps.contains("spin"), "spin survived fg and Ctrl-C:\n{ps}");
    assert!(q.cmd("jobs").trim().is_empty());
    let out = q.cmd("fg");
    q.expect_in("fg without jobs", &out, "fg: current: no such job");
    q.verify_ok("after job control");
}
