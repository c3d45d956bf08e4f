//! User processes on the 64-bit kernel (issue 14, item 5): the project's C programs built by
//! `aarch64-linux-gnu-gcc` (`make user initramfs ARCH=arm64`) run from the initramfs on
//! raspi3b at both VA sizes. `tiny` prints its own `/proc/self/maps`, which must show arm64's
//! layout (text at 0x400000, `[vvar]`/`[vdso]` and `[stack]` near the top of the 48- or
//! 39-bit user space, the 64-bit kernel's name column, no `[vectors]`); glibc's `syscalls` and
//! `forkwait` (fork, exec, wait4 with rusage, signals with handlers returning through the
//! vDSO's `__kernel_rt_sigreturn`) must pass every check; `pt VA PID` walks a live process's
//! table; a second round leaves nothing behind: no task, memory as the first round left it,
//! the allocators verify clean.
//! Needs `make kernel ARCH=arm64 VA_BITS=48` and `39` and `make initramfs ARCH=arm64`
//! (`make test` builds them).
mod common;

use std::time::Duration;

use common::{spawn_arm64, MemSnapshot, Qemu, BOOT, PROMPT};

/// A glibc program's whole run (fork, exec, sleeps) under a loaded host.
const RUN: Duration = Duration::from_secs(120);

/// Boots `build/arm64-<va_bits>/kernel8.img` with the arm64 initramfs to the prompt.
fn boot(va_bits: u32) -> Qemu {
    let mut q = spawn_arm64(va_bits, &[]);
    q.wait_for(PROMPT, BOOT).unwrap();
    q
}

/// The hexadecimal range at the start of the maps line that ends with `name`.
fn range(q: &Qemu, maps: &str, name: &str) -> (u64, u64) {
    let line = q.line_with(name, maps, name);
    let (lo, hi) = line.split(' ').next().and_then(|r| r.split_once('-')).unwrap_or(("", ""));
    match (u64::from_str_radix(lo, 16), u64::from_str_radix(hi, 16)) {
        (Ok(lo), Ok(hi)) => (lo, hi),
        _ => q.fail(&format!("no range in the {name} line: {line:?}")),
    }
}

fn check_layout(q: &mut Qemu, va_bits: u32) {
    let maps = q.cmd_timeout("run /bin/tiny", RUN);
    let top = 1u64 << va_bits;
    // The text and data of the static program where the linker put them.
    q.expect_in("tiny's text", &maps, "00400000-00401000 r-xp 00000000 00:02 ");
    if maps.contains("[vectors]") {
        q.fail(&format!("arm64 has no gate VMA, yet maps lists [vectors]:\n{maps}"));
    }
    // seq_setwidth(25 + 8 * 6 - 1): a name starts in column 74 (after the padding space).
    let text = q.line_with("tiny's text", &maps, "/bin/tiny");
    if text.find("/bin/tiny") != Some(73) {
        q.fail(&format!("the name column of a 64-bit kernel's maps is 73: {text:?}"));
    }
    let (vvar, vvar_end) = range(q, &maps, "[vvar]");
    let (vdso, vdso_end) = range(q, &maps, "[vdso]");
    let (_, stack_end) = range(q, &maps, "[stack]");
    if (vvar_end - vvar, vdso, vdso_end - vdso) != (2 * 4096, vvar_end, 4096) {
        q.fail(&format!("[vvar] (2 pages) then [vdso] (1 page) right above it:\n{maps}"));
    }
    // The stack ends in the top GiB of the user space (STACK_RND_MASK: 2^18 pages), the
    // vDSO below it in the mmap area.
    if !(top - (1 << 30) - (1 << 24)..=top).contains(&stack_end) || vdso_end >= stack_end {
        q.fail(&format!("VA_BITS={va_bits}: stack or vDSO outside arm64's layout:\n{maps}"));
    }
    q.expect_in("tiny's stat", &maps, " (tiny) R ");
}

/// A glibc program's summary line: `NAME: N checks, 0 failed`.
fn check_program(q: &mut Qemu, name: &str, checks: u32) {
    let out = q.cmd_timeout(&format!("run /bin/{name}"), RUN);
    let want = format!("{name}: {checks} checks, 0 failed");
    if !out.contains(&want) {
        q.fail(&format!("`run /bin/{name}`: expected {want:?}:\n{out}"));
    }
}

/// `pt VA PID` on a program that stays: its text page through the process's own table,
/// with as many levels as the VA size has.
fn check_pt(q: &mut Qemu, va_bits: u32) {
    // Its first line says it has run (its text faulted in), however slow the host.
    q.send("run /bin/spin &\n");
    let out = q.wait_for("spinning until killed", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    let pid = out
        .lines()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or_else(|| q.fail(&format!("run ... & printed no pid: {out:?}")));
    let levels = if va_bits == 48 { 4 } else { 3 };
    // VmPTE is arm64's mm_pgtables_bytes: a whole page per table at each level below the PGD,
    // and the text (0x400000) and the stack (the top of user space) need a chain each.
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    let vm_pte: u64 = q
        .line_with("status", &status, "VmPTE:")
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no VmPTE figure:\n{status}")));
    let below_pgd = levels - 1;
    if !vm_pte.is_multiple_of(4) || vm_pte < 2 * 4 * below_pgd {
        q.fail(&format!(
            "VmPTE {vm_pte} kB: want whole 4 kB tables, at least two chains of {below_pgd}:\n{status}"
        ));
    }
    let out = q.cmd(&format!("pt 0x400000 {pid}"));
    q.expect_in("pt VA PID", &out, &format!("pid {pid} pgd 0x"));
    q.expect_in("pt VA PID", &out, &format!("{levels} levels (VA_BITS={va_bits}), walk of"));
    q.expect_in("pt VA PID", &out, " page -> 0x");
    // `ptdump PID`: the process's TTBR0 half merged as ptdump_walk merges, from its text at
    // 0x400000 (user, read-only, user-executable) to its stack below TASK_SIZE.
    let out = q.cmd(&format!("ptdump {pid}"));
    let text = q.line_with("ptdump PID", &out, "0x0000000000400000-");
    // (AF as the fault left it: fault-around may map a page old.)
    if !text.contains(" PTE   USR ro NX SHD ")
        || text.contains(" UXN ")
        || !text.contains(" MEM/NORMAL")
    {
        q.fail(&format!("ptdump PID: the text is user read-only executable (no UXN):\n{out}"));
    }
    q.expect_in("ptdump PID", &out, "---[ User Space start ]---\n0x0000000000400000-");
    if !out.trim_end().ends_with("---[ User Space end ]---") || out.contains("BLK") {
        q.fail(&format!("ptdump PID: pages only, up to the end marker:\n{out}"));
    }
    // `memdump PID`: the process's VMAs with its present pages' frames from its own table.
    let out = q.cmd(&format!("memdump {pid}"));
    q.expect_in(
        "memdump PID",
        &out,
        &format!("memdump version=1 what=process pid={pid} comm=spin "),
    );
    q.expect_in("memdump PID", &out, "\nvma start=0x00400000 end=0x");
    q.expect_in("memdump PID", &out, "\npte va=0x00400000 n=");
    q.expect_in("memdump PID", &out, "\nmemdump end lines=");
    q.cmd(&format!("kill -9 {pid}"));
    q.cmd_until("ps", "    2 ?        00:00:00 kswapd0\n");
    let ps = q.cmd_until("ps", "kswapd0");
    if ps.lines().count() != 2 {
        q.fail(&format!("a task left after the programs:\n{ps}"));
    }
}

/// `segv` on arm64: the VA size found by probing TASK_SIZE, arm64's kernel addresses for it
/// refused with SIGSEGV, and the ID registers read at EL0 through the kernel's emulation with
/// 6.1's user-visible values for the A53 (CRm 1 stays SIGILL).
fn check_segv_and_id_registers(q: &mut Qemu, va_bits: u32) {
    let out = q.cmd_timeout("run /bin/segv", RUN);
    let po = 0u64.wrapping_sub(1 << va_bits);
    q.expect_in("segv", &out, &format!("VA_BITS va{va_bits}: PAGE_OFFSET {po:#018x}, "));
    let kimage = 0u64.wrapping_sub(1 << (va_bits - 1)) + (128 << 20);
    for probe in
        [format!("linear map {:#018x}", po + 0x8000), format!("kernel image {kimage:#018x}")]
    {
        let line = q.line_with("segv", &out, &probe);
        if !line.contains("signal 11 (Segmentation fault)") {
            q.fail(&format!("segv: {probe} must be SIGSEGV:\n{out}"));
        }
    }
    for (reg, value) in [
        ("MIDR_EL1          ", "0x00000000410fd034"),
        ("MPIDR_EL1         ", "0x0000000080000000"),
        ("ID_AA64PFR0_EL1   ", "0x0000000000000011"),
        ("ID_AA64DFR0_EL1   ", "0x0000000000000006"),
        ("ID_AA64ISAR0_EL1  ", "0x0000000000011120"),
        ("ID_AA64MMFR0_EL1  ", "0x00000111ff000000"),
    ] {
        q.expect_in("segv's MRS", &out, &format!("  mrs {reg} -> {value}\n"));
    }
    q.expect_in("segv's MRS", &out, "  mrs ID_PFR0_EL1        -> SIGILL si_code=1 (ILL_ILLOPC)\n");
}

fn check(va_bits: u32) {
    let mut q = boot(va_bits);
    let mut before: Option<MemSnapshot> = None;
    // The second round must leave memory as the first left it (the first fills the page
    // cache with the programs and /proc's entries, as on the 32-bit kernel's tests).
    for round in 0..2 {
        check_layout(&mut q, va_bits);
        check_program(&mut q, "syscalls", 39);
        check_program(&mut q, "forkwait", 22);
        check_pt(&mut q, va_bits);
        // MAP_SHARED|MAP_ANONYMOUS is a shmem object shared after fork, freed with its
        // mapping (each round: the second finds nothing left of the first).
        let out = q.cmd_timeout("run /bin/procself shared-anon", RUN);
        common::check_shared_anon(&q, &out, common::maps_name_column(8));
        if round == 0 {
            check_segv_and_id_registers(&mut q, va_bits);
        }
        // The tasks' vmalloc'ed stacks are freed lazily (6.1's `vfree`): their areas wait in
        // the purge list, holding a vmap_area each, until `purge` returns them.
        q.cmd("purge");
        if round == 0 {
            before = Some(q.memory_snapshot());
        }
    }
    let before = before.unwrap_or_else(|| q.fail("no snapshot after the first round"));
    q.verify_ok("after the programs");
    q.assert_nothing_lost("after the programs", &before, 0);
    q.poweroff_ok();
}

#[test]
fn programs_run_with_4_levels() {
    check(48);
}

#[test]
fn programs_run_with_3_levels() {
    check(39);
}
