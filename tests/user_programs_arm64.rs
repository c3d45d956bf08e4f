//! The C test programs (`tests/user/`) built for AArch64 (`make user ARCH=arm64`, Debian's
//! `aarch64-linux-gnu-gcc -static`) run on the host under `qemu-aarch64`, next to the ARMv7 run
//! in `user_programs.rs`: the same expectations where they are architecture-neutral, arm64's
//! where Linux's arm64 ABI differs (text at 0x400000, no `[vectors]` page, no 32-bit split, the
//! generic system-call table without `fork`/`open`/`pipe`). What qemu-user cannot show is
//! skipped for the reasons `user_programs.rs` gives (fault counts, execve without binfmt_misc,
//! sa_flags it does not pass on). Needs `make user initramfs ARCH=arm64` (`make test` runs it).

mod user_common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use user_common::{
    built_program, data_file, host_runs_binaries_of, newc, root, run_on, steps, Run, PROGRAMS,
};

const SIGILL: i32 = 4;
const SIGSEGV: i32 = 11;
/// ELF64 header fields and arm64's machine number (`EM_AARCH64`, 183).
const ELFCLASS64: u8 = 2;
const EM_AARCH64: u16 = 183;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
/// Where a static non-PIE arm64 program's text starts (the GNU linker's default for
/// aarch64, as the reference's maps show).
const TEXT_BASE: u64 = 0x40_0000;

fn program(name: &str) -> PathBuf {
    built_program("arm64/user", name, "make user ARCH=arm64")
}

fn run(name: &str, args: &[&str]) -> Run {
    run_on("qemu-aarch64", &program(name), args)
}

/// Whether the host can execve an AArch64 binary (a binfmt_misc entry for qemu-aarch64).
fn host_runs_arm64_binaries() -> bool {
    host_runs_binaries_of("qemu-aarch64")
}

struct Phdr {
    kind: u32,
    flags: u32,
    vaddr: u64,
}

fn elf64(name: &str) -> (u16, u16, u64, Vec<Phdr>) {
    let b = fs::read(program(name)).unwrap();
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    assert_eq!(&b[..4], b"\x7fELF", "{name}: not ELF");
    assert_eq!(b[4], ELFCLASS64, "{name}: not ELFCLASS64");
    assert_eq!(b[5], 1, "{name}: not little-endian");
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    let phdrs = (0..phnum as usize)
        .map(|i| {
            let o = phoff + i * phentsize;
            Phdr { kind: u32_at(o), flags: u32_at(o + 4), vaddr: u64_at(o + 16) }
        })
        .collect();
    (u16_at(16), u16_at(18), u64_at(24), phdrs)
}

/// Every program is a static, non-PIE AArch64 executable with its text at 0x400000.
#[test]
fn programs_are_static_aarch64_executables_at_0x400000() {
    for name in PROGRAMS {
        let (kind, machine, entry, phdrs) = elf64(name);
        assert_eq!(kind, ET_EXEC, "{name}: not ET_EXEC (PIE?)");
        assert_eq!(machine, EM_AARCH64, "{name}: not AArch64");
        assert!(phdrs.iter().all(|p| p.kind != PT_INTERP), "{name}: has an interpreter");
        let loads: Vec<&Phdr> = phdrs.iter().filter(|p| p.kind == PT_LOAD).collect();
        assert_eq!(loads[0].vaddr, TEXT_BASE, "{name}: text not at 0x400000");
        assert_eq!(loads[0].flags & (PF_X | PF_W), PF_X, "{name}: text not r-x");
        assert!(loads[1..].iter().all(|p| p.flags & PF_X == 0), "{name}: data executable");
        assert!(entry > TEXT_BASE, "{name}: entry {entry:#x}");
        let stack = phdrs.iter().find(|p| p.kind == PT_GNU_STACK).expect("PT_GNU_STACK");
        assert_eq!(stack.flags & PF_X, 0, "{name}: executable stack");
    }
}

#[test]
fn tiny_runs_without_a_c_library() {
    let run = run("tiny", &[]);
    run.expect_exit(0);
    let first = run.out.lines().next().unwrap_or("");
    assert!(first.starts_with("400000-") && first.contains(" r-xp "), "{first:?}");
    assert!(first.ends_with("tiny"), "{first:?}");
    assert!(run.out.lines().last().unwrap_or("").contains(" (tiny) "), "{}", run.out);
}

#[test]
fn vmtest_anon_and_file_steps() {
    let run = run("vmtest", &["anon", "1", "16", "256"]);
    run.expect_exit(0);
    for n in [1u64, 16, 256] {
        let line = run.line(&format!("anon N={n}:"));
        let names = ["mmap", "write-touch", "re-read", "re-write", "munmap"];
        assert_eq!(steps(line, &format!("anon N={n}"), &names), n, "{line}");
    }
    let path = data_file();
    let f = path.to_str().unwrap();
    let expected = |n: u64| 3 * (0..n).map(|i| i % 256).sum::<u64>();
    let run = crate::run("vmtest", &["file", f, "1", "256", "4096"]);
    run.expect_exit(0);
    for n in [1, 256, 4096] {
        let name = format!("file {f} N={n} MAP_PRIVATE");
        let names = ["mmap", "first-read", "re-read", "write(COW)", "remap+read"];
        assert_eq!(steps(run.line(&name), &name, &names), expected(n));
    }
    let run = crate::run("vmtest", &["malloc", "1", "32"]);
    run.expect_exit(0);
    assert!(run.line("malloc N=1 ").contains("(heap; brk "), "{}", run.out);
    assert!(run.line("malloc N=32 ").contains("(mmap; brk "), "{}", run.out);
}

/// The layout: text at 0x400000, the program headers right after the 64-byte ELF64 header
/// (`AT_PHDR` 0x400040), and no kuser helper page, said so.
#[test]
fn vmtest_layout_and_auxv() {
    let run = run("vmtest", &["layout"]);
    run.expect_exit(0);
    assert!(run.line("text  ").contains("__executable_start=0x400000 "), "{}", run.out);
    let auxv = run.line("auxv  ");
    for field in ["AT_PHDR=0x400040", "AT_PAGESZ=4096", "AT_ENTRY=0x4", "AT_HWCAP=0x"] {
        assert!(auxv.contains(field), "{auxv}");
    }
    run.has("  kuser helper page: none on this architecture (arm64 has no [vectors] page)\n");
    run.has("--- /proc/self/maps\n");
}

/// The fault table on arm64: the same si_codes as on ARM for the user-space probes, the
/// [vectors] probes skipped with the reason, the kernel image's address refused.
#[test]
fn segv_table_as_linux() {
    let run = run("segv", &[]);
    run.expect_exit(0);
    let expected = [
        ("NULL", "read", "si_code=1 (SEGV_MAPERR)"),
        ("NULL", "write", "si_code=1 (SEGV_MAPERR)"),
        ("0x1000 (below text, >= mmap_min_addr)", "read", "si_code=1 (SEGV_MAPERR)"),
        ("0x3ffffc (just below 0x400000 text)", "read", "si_code=1 (SEGV_MAPERR)"),
        ("text (main)", "read", "no fault"),
        ("text (main)", "write", "si_code=2 (SEGV_ACCERR)"),
        ("rodata", "write", "si_code=2 (SEGV_ACCERR)"),
        ("kernel image 0xffff800008000000", "read", "si_code=1 (SEGV_MAPERR)"),
        ("PROT_NONE mapping", "read", "si_code=2 (SEGV_ACCERR)"),
        ("PROT_READ anon mapping", "read", "no fault"),
        ("PROT_READ anon mapping", "write", "si_code=2 (SEGV_ACCERR)"),
        ("PROT_READ anon mapping (no PROT_EXEC)", "exec", "si_code=2 (SEGV_ACCERR)"),
    ];
    for (desc, how, result) in expected {
        let line = run
            .out
            .lines()
            .find(|l| {
                l.get(2..42).is_some_and(|d| d.trim_end() == desc)
                    && l.get(43..48).is_some_and(|h| h.trim_end() == how)
            })
            .unwrap_or_else(|| run.fail(&format!("no probe line for {desc} {how}")));
        assert!(line.contains(result), "{desc} {how}: expected {result}: {line}");
    }
    run.has("  [vectors] probes skipped: arm64 has no [vectors] page\n");
    assert!(run.line("file page past EOF").contains("signal 7 (Bus error) si_code=2 (BUS_ADRERR)"));
}

#[test]
fn crash_dies_by_the_signal_of_each_fault() {
    for (args, says, signal) in [
        (&["null-read"][..], "crash: reading (nil)", SIGSEGV),
        (&["null-write"], "crash: writing (nil)", SIGSEGV),
        (&["stack"], "crash: recursing until the stack is exhausted", SIGSEGV),
        (&["undef"], "crash: executing an undefined instruction", SIGILL),
    ] {
        let run = run("crash", args);
        run.expect_signal(signal).line(says);
        assert!(!run.out.contains("survived"), "{}", run.out);
    }
    run("crash", &["sideways"]).expect_exit(2);
}

#[test]
fn efault_for_every_bad_pointer_qemu_user_checks() {
    // On arm64 the 32-bit kernel addresses are unmapped user addresses: EFAULT all the same.
    // qemu-user writes the first vector of a writev before it checks the second (Linux checks
    // them all first): not counted, as on ARM.
    let run = run("efault", &["3G"]);
    let mut checked = 0;
    for line in run.out.lines().filter(|l| l.contains(" -> ")) {
        if !line.trim_start().starts_with("writev(1, [\"\", kernel text") {
            assert!(line.ends_with("-> -1 EFAULT (ok)"), "{line}\n{}", run.out);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{}", run.out);
    run.line("efault: 28 checks, ");
}

/// The whole-program checks that pass on Linux as they do on ARM.
#[test]
fn forkwait_files_fstest_pipetest_pass_on_linux() {
    run("forkwait", &[]).expect_exit(0).has("forkwait: 22 checks, 0 failed");
    for name in ["files", "fstest", "pipetest"] {
        let run = run(name, &[]);
        assert!(!run.out.contains("FAIL"), "{}", run.out);
    }
    run("files", &[]).expect_exit(0).has("FILES ok\n");
    run("fstest", &[]).expect_exit(0).has("fstest: 84 checks, 0 failed");
    run("pipetest", &[]).expect_exit(0).has("pipetest: 28 checks, 0 failed");
}

#[test]
fn jobctl_passes_where_qemu_user_can_show_it() {
    user_common::jobctl_passes_on_the_host(&run("jobctl", &[]));
}

#[test]
fn syscalls_all_answer_as_linux() {
    // 39 checks on arm64: ARM's two private-call checks (__ARM_NR_BASE) do not exist there.
    let run = run("syscalls", &[]);
    let exec_ok = host_runs_arm64_binaries();
    let mut failed = 0;
    for line in run.out.lines().filter(|l| l.starts_with("  ") && l.contains("FAIL")) {
        // Without a binfmt_misc entry the host cannot execve an AArch64 program.
        if exec_ok || !line.contains("fork, execve(self), wait4") {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "{}", run.out);
    run.line("syscalls: 39 checks, ");
    assert!(run.line("unknown system call 0x3ff: ENOSYS").contains("ok: returned -1 ENOSYS"));
}

#[test]
fn swap_and_card_programs_read_back_their_patterns() {
    run("swaptest", &["8"]).expect_exit(0).has("PATTERN bad=0");
    run("swaptest", &["8", "children", "70"])
        .expect_exit(0)
        .has("CHILDREN 70 forked, 70 read every word right");
    run("swapstress", &["-m", "4", "-p", "2"])
        .expect_exit(0)
        .has("swapstress M=4 ok: every word of 1024 pages right in 2 passes");
    let path = data_file();
    let f = path.to_str().unwrap();
    let run = run("cardmap", &["read", f, "65536"]);
    run.expect_exit(0);
    assert!(run.line(&format!("read {f} chunk=65536: read +")).ends_with("pattern ok"));
}

#[test]
fn the_other_programs_run_to_their_ends() {
    let r = run("forkbomb", &["--max", "6"]);
    r.expect_exit(1).line("forkbomb: 6 children started, 6 reaped");
    run("membomb", &["20"]).expect_exit(0).line("membomb: reached the cap of 20 MiB alive");
    run("procself", &["one", "two"]).expect_exit(0).line("--- /proc/self/maps");
    run("spin", &["1"]).expect_exit(0).line("spin: done after 1 s (");
    let r = run("vmbench", &["16"]);
    r.expect_exit(0).has("vmbench: done");
    // The 64-bit address space outlasts mapmax's call limit before any ENOMEM: the highest
    // address reached is far above 4 GiB.
    let r = run("mapmax", &[]);
    r.expect_exit(0);
    let line = r.line("mapmax: ");
    assert!(line.contains("mappings"), "{line}");
    let top = r.out.lines().find(|l| l.contains("highest address reached 0x")).unwrap();
    let highest = u64::from_str_radix(top.rsplit("0x").next().unwrap(), 16).unwrap();
    assert!(highest > 1 << 32, "{top}");
    let r = run("vmtest", &["null"]);
    r.expect_signal(SIGSEGV).line("dereferencing NULL...");
}

#[test]
fn initramfs_holds_the_arm64_programs() {
    let path = root().join("build/arm64/initramfs.cpio.gz");
    assert!(path.is_file(), "missing {}: run `make initramfs ARCH=arm64`", path.display());
    let out = Command::new("gzip").arg("-dc").arg(&path).output().expect("gzip");
    assert!(out.status.success());
    let raw = fs::read(root().join("build/arm64/initramfs.cpio")).unwrap();
    assert_eq!(raw, out.stdout, "the .cpio and the .cpio.gz differ");
    let entries = newc(&out.stdout);
    for name in PROGRAMS {
        let e = entries.iter().find(|e| e.name == format!("bin/{name}")).unwrap();
        assert_eq!(e.mode, 0o100755, "bin/{name}");
        assert_eq!(e.data, fs::read(program(name)).unwrap(), "bin/{name} differs");
    }
    let f = entries.iter().find(|e| e.name == "data/f16m").unwrap();
    assert_eq!(f.data, fs::read(data_file()).unwrap());
}

/// The shared ELF loader's parser on the real binaries: every AArch64 program parses for
/// arm64 with the header and segments read independently above, `AT_PHDR` where the running
/// program (vmtest under qemu-aarch64) finds it; each architecture refuses the other's
/// executables with `ENOEXEC`.
#[test]
fn the_loader_parses_the_arm64_programs_and_refuses_the_others() {
    use pivm::abi::arm64::elf::AARCH64;
    use pivm::abi::errno::Errno;
    use pivm::arch::arm64::processor::{task_size, STATIC_TEXT_BASE};
    use pivm::fs::binfmt_elf::{parse_for, ElfFile, ARM_EABI, PT_LOAD as LOAD};

    for name in PROGRAMS {
        let bytes = fs::read(program(name)).unwrap();
        for va in [48, 39] {
            let img = parse_for(&AARCH64, ElfFile::whole(&bytes), task_size(va))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let (kind, machine, entry, phdrs) = elf64(name);
            assert_eq!((img.ehdr.e_type, img.ehdr.e_machine), (kind, machine), "{name}");
            assert_eq!(img.ehdr.e_entry, entry, "{name}");
            let loads: Vec<u64> =
                phdrs.iter().filter(|p| p.kind == LOAD).map(|p| p.vaddr).collect();
            assert_eq!(img.loads().map(|p| p.p_vaddr).collect::<Vec<_>>(), loads, "{name}");
            assert_eq!(img.loads().next().unwrap().p_vaddr, STATIC_TEXT_BASE, "{name}");
            assert_eq!(img.phdr_addr(), Some(STATIC_TEXT_BASE + 64), "{name}: AT_PHDR");
        }
        let e = parse_for(&ARM_EABI, ElfFile::whole(&bytes), 0xbf00_0000).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOEXEC, "{name}: {e}");
        let arm = fs::read(root().join("build/user/arm").join(name)).unwrap();
        let e = parse_for(&AARCH64, ElfFile::whole(&arm), task_size(48)).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOEXEC, "{name}: {e}");
    }
    // The running program agrees: vmtest's AT_PHDR under qemu-aarch64 (Linux's rules).
    let bytes = fs::read(program("vmtest")).unwrap();
    let img = parse_for(&AARCH64, ElfFile::whole(&bytes), task_size(48)).unwrap();
    let run = run("vmtest", &["layout"]);
    let want = format!("AT_PHDR={:#x} ", img.phdr_addr().unwrap());
    assert!(run.line("auxv  ").contains(&want), "{want}: {}", run.out);
    let want = format!("AT_ENTRY={:#x} ", img.ehdr.e_entry);
    assert!(run.line("auxv  ").contains(&want), "{want}: {}", run.out);
}
