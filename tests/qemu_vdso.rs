//! The vDSO on pivm (Linux 6.1's arch/arm/kernel/vdso.c): `[sigpage]`, `[vvar]` and `[vdso]`
//! where Linux maps them, `AT_SYSINFO_EHDR` pointing at the image, glibc's `clock_gettime`
//! answered in user space (monotonic, agreeing with the system call, inherited by a forked
//! child) at a cost counted in guest instructions under `-icount shift=0`; smaps, `pt` and
//! `ptdump` show the pages, and nothing of them is freed or lost when the programs exit.
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

const RUN: Duration = Duration::from_secs(90);

fn boot(split: &'static str, qemu_args: &[&'static str]) -> Qemu {
    let opts = Opts::raw(split).initramfs().append("norandmaps").qemu_args(qemu_args);
    Qemu::boot_to_prompt(opts).0
}

/// The number after `label` on `line`.
fn number_after(q: &Qemu, line: &str, label: &str) -> u64 {
    line.split_once(label)
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no number after {label:?} in {line:?}")))
}

/// The kB value of smaps field `field` in the VMA block starting with `header`.
fn smaps_kb(q: &Qemu, smaps: &str, header: &str, field: &str) -> u64 {
    let at = smaps.find(header).unwrap_or_else(|| q.fail(&format!("no {header:?} in smaps")));
    let block = &smaps[at..];
    let block = &block[..block.find("VmFlags:").unwrap_or(block.len())];
    let line = q.line_with("smaps", block, &format!("{field}:"));
    line[field.len() + 1..]
        .trim()
        .strip_suffix(" kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("cannot read {line:?}")))
}

/// Linux 6.1's three lines on 3G with randomisation off (LINUX_USER_FACTS.md §2).
const LINUX_3G: [&str; 3] = [
    "b6ffd000-b6ffe000 r-xp 00000000 00:00 0          [sigpage]\n",
    "b6ffe000-b6fff000 r--p 00000000 00:00 0          [vvar]\n",
    "b6fff000-b7000000 r-xp 00000000 00:00 0          [vdso]\n",
];

#[test]
fn clock_gettime_runs_in_the_vdso_on_3g() {
    let mut q = boot("3G", &["-icount", "shift=0"]);
    let out = q.cmd_timeout("run /bin/vmtest vdso", RUN);
    q.expect_in("vdso", &out, "VDSO AT_SYSINFO_EHDR=0xb6fff000\n");
    q.expect_in("vdso", &out, &format!("  maps {}", LINUX_3G[2]));
    q.expect_in("vdso", &out, &format!("  maps {}", LINUX_3G[1]));
    q.expect_in("vdso", &out, "  ELF magic ok, e_type 3, e_machine 40\n");
    for sym in [
        "__vdso_gettimeofday",
        "__vdso_clock_gettime",
        "__vdso_clock_gettime64",
        "__vdso_clock_getres",
    ] {
        let l = q.line_with("vdso", &out, &format!("symbol {sym} at +0x"));
        assert!(!l.ends_with("+0x0"), "{l}");
    }
    // The first read of the time faults [vvar] in (one minor fault, as Linux's
    // special_mapping_fault); glibc's start-up had already touched [vdso].
    q.expect_in("vdso", &out, "  first clock_gettime: +1/+0 faults\n");
    for clock in ["REALTIME", "MONOTONIC", "MONOTONIC_RAW", "BOOTTIME"] {
        q.expect_in(
            "vdso",
            &out,
            &format!("  {clock}: 20000 calls, 0 backwards, within the system call's readings\n"),
        );
    }
    // A tick's resolution: pivm has no high-resolution timers (hrtimer_resolution =
    // LOW_RES_NSEC).
    q.expect_in("vdso", &out, "  __vdso_clock_getres(MONOTONIC): 0, 0 s 10000000 ns\n");
    q.expect_in(
        "vdso",
        &out,
        "  fork: the child's clock_gettime through the inherited [vdso]: ok\n",
    );
    q.expect_in("vdso", &out, "VDSO ok\n");
    // Under -icount one ns is one instruction: no system call fits in the vDSO's cost
    // (Linux 6.1 took 141 instructions per call on this board; a system call costs pivm
    // thousands).
    let cost = q.line_with("vdso", &out, "  cost: ");
    let vdso = number_after(&q, cost, "clock_gettime ");
    let sys = number_after(&q, cost, "syscall(clock_gettime64) ");
    assert!(vdso < 300 && sys > 4 * vdso, "{cost}");
    q.verify_ok("after vmtest vdso");
}

#[test]
fn vdso_pages_in_maps_smaps_pt_and_ptdump_on_3g() {
    let mut q = boot("3G", &[]);
    // The first rounds grow the kernel's caches to what these programs need (the second can
    // still take a last slab page, depending on where the initramfs's files fall); the
    // third must give back every page it took (the vDSO's pages are the kernel's, never
    // freed).
    holders_round(&mut q);
    holders_round(&mut q);
    let before = q.free_kb();
    holders_round(&mut q);
    let after = q.free_kb();
    assert!(after >= before, "pages lost: {before} kB free before, {after} kB after");
}

/// Two programs holding, their maps, smaps, `pt` and `ptdump`; killed; then `vmtest vdso`
/// runs with the same pages.
fn holders_round(q: &mut Qemu) {
    let a = q.start_background("/bin/vmtest layout hold", "HOLDING pid=", RUN);
    let b = q.start_background("/bin/vmtest layout hold", "HOLDING pid=", RUN);
    let maps = q.cmd(&format!("cat /proc/{b}/maps"));
    for line in LINUX_3G {
        q.expect_in("maps", &maps, line);
    }
    // [vdso] was read by glibc's start-up in both (mapped twice: shared, half the Pss each);
    // nothing read [vvar] yet (the reference's smaps shows the same).
    let smaps = q.cmd(&format!("cat /proc/{b}/smaps"));
    let vdso = LINUX_3G[2].trim_end();
    assert_eq!(smaps_kb(q, &smaps, vdso, "Rss"), 4);
    assert_eq!(smaps_kb(q, &smaps, vdso, "Pss"), 2);
    assert_eq!(smaps_kb(q, &smaps, vdso, "Shared_Clean"), 4);
    assert_eq!(smaps_kb(q, &smaps, vdso, "Anonymous"), 0);
    let vvar = LINUX_3G[1].trim_end();
    assert_eq!(smaps_kb(q, &smaps, vvar, "Rss"), 0);
    // pt: the [vdso] page is mapped read-only for user space; [vvar] not yet.
    let pt = q.cmd(&format!("pt 0xb6fff000 {b}"));
    q.expect_in("pt [vdso]", &pt, "PL0 RO");
    let pt = q.cmd(&format!("pt 0xb6ffe000 {b}"));
    q.expect_in("pt [vvar]", &pt, "=> fault: page translation fault");
    let dump = q.cmd(&format!("ptdump {b}"));
    let run = q.line_with("ptdump", &dump, "0xb6fff000-0xb7000000 ");
    assert!(run.contains("USER") && run.contains("USR ro"), "{run}");
    // Both processes map the same frame (the kernel's one copy of the image).
    let frame = |q: &mut Qemu, pid: u32| {
        let pt = q.cmd(&format!("pt 0xb6fff000 {pid}"));
        pt.split_once("=> PA ").map(|(_, r)| r.split_whitespace().next().unwrap_or("").to_string())
    };
    let (fa, fb) = (frame(q, a), frame(q, b));
    assert!(fa.is_some() && fa == fb, "{fa:?} {fb:?}");
    q.cmd(&format!("kill -9 {a}"));
    q.cmd(&format!("kill -9 {b}"));
    q.verify_ok("after the holders");
    // Their exit freed nothing of the vDSO: another program still runs with it.
    let out = q.cmd_timeout("run /bin/vmtest vdso", RUN);
    q.expect_in("vdso after exits", &out, "VDSO ok\n");
    q.verify_ok("after vmtest vdso");
}
