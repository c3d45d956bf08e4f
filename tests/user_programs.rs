//! The C test programs (`tests/user/`) run on the host under user-mode QEMU (`qemu-arm`, Debian's
//! qemu-user): they are ordinary static ARM Linux programs, so what a user-mode emulator can show
//! must come out right here before pivm runs them. Also checks the binaries themselves (static,
//! non-PIE, text at 0x10000 as the reference's) and the initramfs that carries them.
//!
//! What qemu-user cannot show is not checked, each case with its reason at the check:
//! fault counts (its getrusage reports the host process that emulates the program), most of
//! `/proc/self/stat` (emulated with zeros), `execve` of an ARM binary (the host needs a
//! binfmt_misc entry for qemu-arm; checked only where one is registered), and the accesses whose
//! answer comes from the kernel's layout rather than the program: the `[vectors]` page is an
//! ordinary readable guest page to qemu (Linux: no VMA, above TASK_SIZE), qemu's address space
//! reaches 4 GiB and has no `mmap_min_addr`.
//! Needs `make user initramfs` (`make test` runs them first).

mod user_common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use user_common::{
    built_program, data_file, host_runs_binaries_of, is_delta, newc, root, run_on, steps,
    strip_notes, Run, PROGRAMS,
};

/// The reference's file: 4096 pages, every byte of page i equal to i mod 256.
const F16M_PAGES: u64 = 4096;
const PAGE: u64 = 4096;
/// Linux's exit status convention for a death by signal (the shell's 128 + N is not involved:
/// these are raw wait statuses).
const SIGILL: i32 = 4;
const SIGSEGV: i32 = 11;

fn program(name: &str) -> PathBuf {
    built_program("user/arm", name, "make user")
}

/// Runs a program under qemu-arm with a time limit; the child is killed (by its own id) when it
/// is exceeded.
fn run(name: &str, args: &[&str]) -> Run {
    run_on("qemu-arm", &program(name), args)
}

/// Whether the host can execve an ARM binary (a binfmt_misc entry for qemu-arm).
fn host_runs_arm_binaries() -> bool {
    host_runs_binaries_of("qemu-arm")
}

// ---- the binaries ------------------------------------------------------------------------------

/// ELF32 program header types and the ARM machine number.
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const EM_ARM: u16 = 40;
const ET_EXEC: u16 = 2;
const PF_X: u32 = 1;
const PF_W: u32 = 2;

struct Phdr {
    kind: u32,
    vaddr: u32,
    filesz: u32,
    memsz: u32,
    flags: u32,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn elf(name: &str) -> (Vec<u8>, u16, u16, Vec<Phdr>) {
    let bytes = fs::read(program(name)).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{name}: not ELF");
    assert_eq!(bytes[4], 1, "{name}: not ELFCLASS32");
    assert_eq!(bytes[5], 1, "{name}: not little-endian");
    let (kind, machine) = (u16_at(&bytes, 16), u16_at(&bytes, 18));
    let (phoff, phentsize, phnum) =
        (u32_at(&bytes, 28) as usize, u16_at(&bytes, 42) as usize, u16_at(&bytes, 44));
    let phdrs = (0..phnum as usize)
        .map(|i| {
            let o = phoff + i * phentsize;
            Phdr {
                kind: u32_at(&bytes, o),
                vaddr: u32_at(&bytes, o + 8),
                filesz: u32_at(&bytes, o + 16),
                memsz: u32_at(&bytes, o + 20),
                flags: u32_at(&bytes, o + 24),
            }
        })
        .collect();
    (bytes, kind, machine, phdrs)
}

/// Every program is a static, non-PIE 32-bit ARM executable with its text at 0x10000, as the
/// reference's (no interpreter, a non-executable stack).
#[test]
fn programs_are_static_arm_executables_at_0x10000() {
    for name in PROGRAMS {
        let (_, kind, machine, phdrs) = elf(name);
        assert_eq!(kind, ET_EXEC, "{name}: not ET_EXEC (PIE?)");
        assert_eq!(machine, EM_ARM, "{name}: not ARM");
        assert!(phdrs.iter().all(|p| p.kind != PT_INTERP), "{name}: has an interpreter");
        let loads: Vec<&Phdr> = phdrs.iter().filter(|p| p.kind == PT_LOAD).collect();
        assert_eq!(loads[0].vaddr, 0x10000, "{name}: text not at 0x10000");
        assert_eq!(loads[0].flags & (PF_X | PF_W), PF_X, "{name}: text not r-x");
        assert!(
            loads[1..].iter().all(|p| p.flags & PF_X == 0),
            "{name}: writable segment executable"
        );
        let stack = phdrs.iter().find(|p| p.kind == PT_GNU_STACK).expect("PT_GNU_STACK");
        assert_eq!(stack.flags & PF_X, 0, "{name}: executable stack");
    }
}

/// tiny is the smallest program: no C library, one text page and one data page in the file,
/// an 8 KiB bss, so its maps are the reference's four pages (text, data, two of bss).
#[test]
fn tiny_has_no_c_library_and_the_references_shape() {
    let (bytes, _, _, phdrs) = elf("tiny");
    assert!(bytes.len() < 4096, "tiny is {} bytes", bytes.len());
    let loads: Vec<&Phdr> = phdrs.iter().filter(|p| p.kind == PT_LOAD).collect();
    assert_eq!(loads.len(), 2);
    assert!(loads[0].memsz < 4096, "text beyond one page");
    let data = loads[1];
    assert_eq!(data.vaddr & !0xfff, 0x11000, "data page");
    assert_eq!(data.filesz, 4, "the 4-byte exit code in .data");
    assert_eq!(
        (u64::from(data.vaddr) + u64::from(data.memsz)).div_ceil(PAGE) * PAGE,
        0x14000,
        "bss end"
    );
    let run = run("tiny", &[]);
    run.expect_exit(0);
    // qemu's /proc/self/maps drops the leading zeros and the stat line is mostly emulated zeros.
    let first = run.out.lines().next().unwrap_or("");
    assert!(
        first.trim_start_matches('0').starts_with("10000-") && first.contains(" r-xp "),
        "{first:?}"
    );
    assert!(first.ends_with("tiny"), "{first:?}");
    assert!(run.out.lines().last().unwrap_or("").contains(" (tiny) "), "{}", run.out);
}

// ---- vmtest ------------------------------------------------------------------------------------

#[test]
fn vmtest_anon_steps_in_the_references_format() {
    let run = run("vmtest", &["anon", "1", "16", "256"]);
    run.expect_exit(0);
    for n in [1u64, 16, 256] {
        let line = run.line(&format!("anon N={n}:"));
        let sum = steps(
            line,
            &format!("anon N={n}"),
            &["mmap", "write-touch", "re-read", "re-write", "munmap"],
        );
        assert_eq!(sum, n, "one byte of 1 per page re-read: {line}");
    }
    let end = run.line("END /proc/self/stat:");
    for field in
        ["minflt(10)=", "cminflt(11)=", "majflt(12)=", "cmajflt(13)=", "vsize(23)=", "rss(24)="]
    {
        assert!(end.contains(field), "{end}");
    }

    let run = crate::run("vmtest", &["anonrd", "1", "16"]);
    run.expect_exit(0);
    for n in [1, 16] {
        let line = run.line(&format!("anon-readfirst N={n}:"));
        let sum = steps(
            line,
            &format!("anon-readfirst N={n}"),
            &["mmap", "read-touch(zero page)", "write-after-read", "re-write", "munmap"],
        );
        assert_eq!(sum, 0, "a fresh anonymous page reads as zero: {line}");
    }
}

/// glibc's malloc: below M_MMAP_THRESHOLD (128 KiB) on the brk heap, from it a fresh mmap.
#[test]
fn vmtest_malloc_uses_the_heap_then_mmap() {
    let run = run("vmtest", &["malloc", "1", "31", "32", "256"]);
    run.expect_exit(0);
    for (n, place) in [(1u64, "heap"), (31, "heap"), (32, "mmap"), (256, "mmap")] {
        let line = run.line(&format!("malloc N={n} "));
        assert!(line.contains(&format!("({} bytes)", n * PAGE)), "{line}");
        assert!(
            line.contains(&format!("({place}; brk ")),
            "N={n} should come from the {place}: {line}"
        );
        let (_, rest) = line.split_once("): ").unwrap();
        let sum = steps(&format!("x: {rest}"), "x", &["malloc", "write-touch", "re-read", "free"]);
        assert_eq!(sum, n, "{line}");
    }
}

#[test]
fn vmtest_stack_reports_the_stack_vma_around_each_run() {
    let run = run("vmtest", &["stack", "1", "16", "256"]);
    run.expect_exit(0);
    for n in [1, 16, 256] {
        let line = run.line(&format!("stack N={n}:"));
        let rest = line.split_once(": ").unwrap().1.replace(" (minflt/majflt)", "") + " sum=0";
        steps(&format!("x: {rest}"), "x", &["first touch", "second touch"]);
    }
    let before =
        run.out.lines().filter(|l| l.starts_with("  before: ") && l.ends_with("[stack]")).count();
    let after =
        run.out.lines().filter(|l| l.starts_with("  after : ") && l.ends_with("[stack]")).count();
    assert_eq!((before, after), (3, 3), "{}", run.out);
}

/// The sums tell which pages were read: one byte per page, three reads (first, again, after
/// remapping), page i holding i mod 256; N=4096 covers the whole file.
#[test]
fn vmtest_file_mappings_read_the_files_pages() {
    let path = data_file();
    assert_eq!(fs::metadata(&path).unwrap().len(), F16M_PAGES * PAGE);
    let f = path.to_str().unwrap();
    let expected = |n: u64| 3 * (0..n).map(|i| i % 256).sum::<u64>();
    let run = run("vmtest", &["file", f, "1", "16", "256", "4096"]);
    run.expect_exit(0);
    for n in [1, 16, 256, 4096] {
        let name = format!("file {f} N={n} MAP_PRIVATE");
        let sum = steps(
            run.line(&name),
            &name,
            &["mmap", "first-read", "re-read", "write(COW)", "remap+read"],
        );
        assert_eq!(sum, expected(n), "N={n}: the private writes must not reach the file");
    }
    let run = crate::run("vmtest", &["fileshared", f, "16", "4096", "4097"]);
    run.expect_exit(0);
    for n in [16, 4096] {
        let name = format!("file {f} N={n} MAP_SHARED");
        let sum = steps(run.line(&name), &name, &["mmap", "first-read", "re-read", "remap+read"]);
        assert_eq!(sum, expected(n));
    }
    run.has(&format!("file {f} N=4097 MAP_SHARED: the file has only 4096 pages"));
    // The private run wrote every page it mapped; the file on disk is unchanged.
    let bytes = fs::read(&path).unwrap();
    assert!(bytes
        .chunks(PAGE as usize)
        .enumerate()
        .all(|(i, p)| p.iter().all(|&b| b as usize == i % 256)));
}

#[test]
fn vmtest_entry_layout_and_auxv() {
    let run = run("vmtest", &["entry"]);
    run.expect_exit(0);
    let entry = run.line("faults at main entry: ");
    assert!(entry.contains("minflt=") && entry.contains(" majflt="), "{entry}");
    run.line("ENTRY /proc/self/stat: minflt(10)=");

    let run = crate::run("vmtest", &["layout"]);
    run.expect_exit(0);
    run.line("LAYOUT pid=");
    assert!(run.line("text  ").contains("__executable_start=0x10000 "), "{}", run.out);
    let auxv = run.line("auxv  ");
    for field in
        ["AT_PHDR=0x10034", "AT_PAGESZ=4096", "AT_ENTRY=0x1", "AT_RANDOM=0x", "AT_HWCAP=0x"]
    {
        assert!(auxv.contains(field), "{auxv}");
    }
    // The kuser helper page at 0xffff0000 is user-readable; qemu-user provides one too.
    assert!(run
        .line("kuser helper version word @0xffff0ffc = ")
        .ends_with(|c: char| c.is_ascii_digit()));
    run.has("--- /proc/self/maps\n");
    run.line("LAYOUT /proc/self/stat: ");
}

/// The fault table of LINUX_USER_FACTS §2, where qemu-user answers as Linux does.
#[test]
fn segv_table_as_linux_where_qemu_user_reproduces_it() {
    let run = run("vmtest", &["segv", "3G"]);
    run.expect_exit(0);
    run.line("SEGV probes (handler catches, siglongjmp back)");
    let expected = [
        ("NULL", "read", "si_code=1 (SEGV_MAPERR)"),
        ("NULL", "write", "si_code=1 (SEGV_MAPERR)"),
        ("0x1000 (below text, >= mmap_min_addr)", "read", "si_code=1 (SEGV_MAPERR)"),
        ("0xfffc (just below 0x10000 text)", "read", "si_code=1 (SEGV_MAPERR)"),
        ("text (main)", "read", "no fault"),
        ("text (main)", "write", "si_code=2 (SEGV_ACCERR)"),
        ("rodata", "write", "si_code=2 (SEGV_ACCERR)"),
        ("kernel lowmem 0xc0008000", "read", "si_code=1 (SEGV_MAPERR)"),
        ("modules area 0xbf000000", "read", "si_code=1 (SEGV_MAPERR)"),
        ("vmalloc 0xf0000000", "read", "si_code=1 (SEGV_MAPERR)"),
        ("[vectors] 0xffff0000", "read", "no fault"),
        // A write to [vectors] is SEGV_MAPERR on Linux (the gate area is no VMA); qemu-user
        // maps it as a read-only page and answers SEGV_ACCERR: not checked here.
        ("[vectors] page 2 0xffff1000", "read", "si_code=1 (SEGV_MAPERR)"),
        ("PROT_NONE mapping", "read", "si_code=2 (SEGV_ACCERR)"),
        ("PROT_READ anon mapping", "read", "no fault"),
        ("PROT_READ anon mapping", "write", "si_code=2 (SEGV_ACCERR)"),
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
        if result != "no fault" {
            assert!(line.contains("signal 11 (Segmentation fault)"), "{line}");
        }
    }
    // mmap at 0 and 0x1000 (EINVAL on Linux: mmap_min_addr), the low hint (0x8000 on Linux) and
    // TASK_SIZE (ENOMEM) depend on the kernel's limits; qemu-user has none of them. The lines
    // must be there.
    for case in [
        "mmap(0, MAP_FIXED) -> ",
        "mmap(0x1000, MAP_FIXED) -> ",
        "mmap(hint 0x1000, no MAP_FIXED) -> ",
    ] {
        run.line(case);
    }
    run.line("mmap(0xbf000000=TASK_SIZE, MAP_FIXED) -> ");
    run.line("mmap(0xbefff000, MAP_FIXED_NOREPLACE) -> ");

    // The extended table: executing data or kernel text, a file page past EOF.
    let run = crate::run("segv", &["3G"]);
    run.expect_exit(0);
    run.line("split 3G: PAGE_OFFSET 0xc0000000, TASK_SIZE 0xbf000000 (as given)");
    assert!(run.line("PROT_READ anon mapping (no PROT_EXEC)").contains("si_code=2 (SEGV_ACCERR)"));
    assert!(run
        .line("kernel text 0xc0008000")
        .contains("exec  0xc0008000: signal 11 (Segmentation fault) si_code=1 (SEGV_MAPERR)"));
    assert!(run.line("file page past EOF").contains("signal 7 (Bus error) si_code=2 (BUS_ADRERR)"));
    // Under qemu-user no split's TASK_SIZE is found, and the program says so.
    let run = crate::run("segv", &[]);
    run.expect_exit(0);
    run.line("split unknown: TASK_SIZE is none of 0xbf000000, 0x7f000000, 0x3f000000");
    run.line("kernel-address probes skipped");
    crate::run("segv", &["4G"]).expect_exit(2);
}

#[test]
fn crash_dies_by_the_signal_of_each_fault() {
    for (args, says, signal) in [
        (&["null-read"][..], "crash: reading (nil)", SIGSEGV),
        (&["null-write"], "crash: writing (nil)", SIGSEGV),
        (&["read", "0xc0008000"], "crash: reading 0xc0008000", SIGSEGV),
        (&["write", "0xc0008000"], "crash: writing 0xc0008000", SIGSEGV),
        (&["jump", "0xc0008000"], "crash: jumping to 0xc0008000", SIGSEGV),
        (&["kernel-read", "2G"], "crash: reading 0x80008000", SIGSEGV),
        (&["vectors-write"], "crash: writing 0xffff0000", SIGSEGV),
        (&["stack"], "crash: recursing until the stack is exhausted", SIGSEGV),
        (&["undef"], "crash: executing an undefined instruction", SIGILL),
    ] {
        let run = run("crash", args);
        run.expect_signal(signal).line(says);
        assert!(!run.out.contains("survived"), "{}", run.out);
    }
    run("crash", &["sideways"]).expect_exit(2);
    run("crash", &["kernel-read"]).expect_exit(2); // no split found under qemu-user
}

#[test]
fn efault_for_every_bad_pointer_qemu_user_checks() {
    let run = run("efault", &["3G"]);
    run.line("EFAULT checks (split 3G)");
    // qemu-user's [vectors] page is an ordinary readable page (Linux refuses it: above
    // TASK_SIZE), and it writes the first vector of a writev before it checks the second
    // (Linux checks them all first).
    let qemu_differs = |l: &str| {
        l.contains("[vectors]") || l.trim_start().starts_with("writev(1, [\"\", kernel text")
    };
    let mut checked = 0;
    for line in run.out.lines().filter(|l| l.contains(" -> ")) {
        if !qemu_differs(line) {
            assert!(line.ends_with("-> -1 EFAULT (ok)"), "{line}\n{}", run.out);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{}", run.out);
    let summary = run.line("efault: 28 checks, ");
    assert!(summary.ends_with(" failed"), "{summary}");
}

// ---- cardmap and swapstress (the card and swap phases of compare-linux) -----------------------

/// The rows compare-table.pl reads from a cardmap line: "STEP +a/+b" deltas, "STEP io ..." (no
/// /proc/diskstats mmcblk0 line on the host: "io -"), the sum and the pattern verdict.
#[test]
fn cardmap_maps_and_reads_the_pattern_file() {
    let path = data_file();
    let f = path.to_str().unwrap();
    let expected = |n: u64| 3 * (0..n).map(|i| i % 256).sum::<u64>();
    let run = run("cardmap", &[f, "shared", "1", "16", "256", "4096", "private", "write", "16"]);
    run.expect_exit(0);
    for (n, kind, first) in [
        (1, "MAP_SHARED", "first-read"),
        (16, "MAP_SHARED", "first-read"),
        (256, "MAP_SHARED", "first-read"),
        (4096, "MAP_SHARED", "first-read"),
        (16, "MAP_PRIVATE", "first-write"),
    ] {
        let name = format!("file {f} N={n} {kind}");
        let line = strip_notes(run.line(&name));
        let rest = line.strip_prefix(&format!("{name}: ")).unwrap();
        let segs: Vec<&str> = rest.split("  ").map(str::trim).collect();
        for (i, step) in ["mmap", first, "re-read", "remap+read"].iter().enumerate() {
            let (label, delta) = segs[2 * i].rsplit_once(' ').unwrap();
            assert_eq!(label, *step, "{line}");
            assert!(is_delta(delta), "{line}");
            assert_eq!(segs[2 * i + 1], format!("{step} io -"), "{line}");
        }
        // The write pass writes each page's own byte back, and is not counted in the sum.
        let sum = if first == "first-write" { expected(n) / 3 * 2 } else { expected(n) };
        assert_eq!(segs[8], format!("sum={sum}"), "{line}");
        assert_eq!(segs[9], "pattern ok", "{line}");
    }
    let run = crate::run("cardmap", &["read", f, "4096", "65536"]);
    run.expect_exit(0);
    for chunk in ["4096", "65536"] {
        let line = strip_notes(run.line(&format!("read {f} chunk={chunk}: read +")));
        assert!(line.ends_with("bytes=16777216  pattern ok"), "{line}");
    }
    // A file without the pattern (the program itself) and one too short are errors.
    let me = program("vmtest");
    let run = crate::run("cardmap", &[me.to_str().unwrap(), "1", "4096"]);
    run.expect_exit(1).has("N=1 MAP_SHARED: mmap").has("pattern BAD");
    run.has("N=4096 MAP_SHARED: the file has only ");
    crate::run("cardmap", &["/nonexistent", "1"])
        .expect_exit(1)
        .has("file /nonexistent N=1 MAP_SHARED: cannot open: No such file or directory");
    crate::run("cardmap", &[f, "0"]).expect_exit(2);
}

/// swapstress checks every word it wrote, alone and as three processes at once; without swap
/// on the host's side of qemu-user nothing goes out, but the pattern and the rows are the same.
#[test]
fn swapstress_reads_back_every_word() {
    let run = run("swapstress", &["-m", "4", "-p", "2"]);
    run.expect_exit(0).has("swapstress M=4 ok: every word of 1024 pages right in 2 passes");
    for phase in ["write pass", "re-read pass 1", "re-read pass 2"] {
        let line = run.line(&format!("swapstress M=4 {phase}: minflt +"));
        assert!(line.contains(" | pswpin +") && line.contains(" pswpout +"), "{line}");
    }
    assert!(run.line("swapstress M=4 re-read pass 2:").contains(" bad=0 |"));
    let run = crate::run("swapstress", &["-m", "2", "-j", "3", "-o"]);
    run.expect_exit(0).has("swapstress: 3 instances, 0 failed");
    for j in 1..=3 {
        run.has(&format!("swapstress M=2 [{j}] ok: every word of 512 pages right in 1 passes"));
        run.line(&format!("swapstress M=2 [{j}] pageout: minflt +"));
    }
    crate::run("swapstress", &["-m", "0"]).expect_exit(2);
    crate::run("swapstress", &["-j", "17"]).expect_exit(2);
}

#[test]
fn forkwait_passes_on_linux() {
    // The same checks pivm's qemu_fork runs: Linux (through qemu-arm) passes every one, its
    // orphan adopted by pid 1 or a subreaper instead of pivm's console.
    let run = run("forkwait", &[]);
    run.expect_exit(0).has("forkwait: 22 checks, 0 failed");
}

/// files: the file system calls (/proc in small chunks, lseek, getdents64, dup2 of stdout, a
/// file in /tmp, the errno of bad arguments) hold on Linux too; pivm's qemu_reports runs the
/// same binary.
#[test]
fn files_passes_on_linux() {
    let run = run("files", &[]);
    assert!(!run.out.contains("FAIL"), "{}", run.out);
    run.expect_exit(0).has("FILES ok\n");
}

/// fstest: rename, unlink and rmdir with their errors, a working directory per process, and an
/// unlinked file that stays whole while open or mapped: Linux passes every check (pivm runs
/// the same binary in qemu_vfs).
#[test]
fn fstest_passes_on_linux() {
    let run = run("fstest", &[]);
    assert!(!run.out.contains("FAIL"), "{}", run.out);
    run.expect_exit(0).has("fstest: 84 checks, 0 failed");
}

/// pipetest: pipe capacity, a pattern many times that size through a blocking pipe between
/// a parent and its child, EOF, EPIPE/SIGPIPE, a sleeping reader, dup2 onto stdout.
#[test]
fn pipetest_passes_on_linux() {
    let run = run("pipetest", &[]);
    assert!(!run.out.contains("FAIL"), "{}", run.out);
    run.expect_exit(0).has("pipetest: 28 checks, 0 failed");
}

#[test]
fn jobctl_passes_on_linux_where_qemu_user_can_show_it() {
    // Stop, continue, the wait statuses, the SIGCHLD codes and SIG_IGN's autoreap come from
    // the host kernel and must pass, but for what qemu-user cannot show (see the function).
    let run = run("jobctl", &[]);
    user_common::jobctl_passes_on_the_host(&run);
    assert!(run.line("stopped child: state T").contains("ok: state T/T"));
}

#[test]
fn swaptest_checks_its_pattern_on_linux() {
    // madvise(MADV_PAGEOUT) is a hint qemu-user accepts without paging anything out; the
    // pattern must still read back whole (fault counts and VmSwap are the host's).
    let one = run("swaptest", &["8"]);
    one.expect_exit(0).has("PATTERN bad=0");
    // 70 children holding the pages at once (past SWAP_MAP_MAX's 62 on a swapped slot).
    let kids = run("swaptest", &["8", "children", "70"]);
    kids.expect_exit(0).has("CHILDREN 70 forked, 70 read every word right").has("PATTERN bad=0");
}

#[test]
fn vmbench_measures_every_row_on_linux() {
    // The process benchmark's program runs unchanged on Linux and prints every row that
    // scripts/bench-proc.sh reads, in its format (the figures are the host's, not checked).
    let run = run("vmbench", &["16"]);
    run.expect_exit(0).has("vmbench: done");
    let rows: Vec<(String, String, String, u64)> = run
        .out
        .lines()
        .filter(|l| l.contains(" vmas="))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "{l}");
            assert_eq!(f[0], "vmbench:", "{l}");
            let ns = f[4].strip_prefix("ns=").and_then(|n| n.parse().ok());
            (f[1].into(), f[2].into(), f[3].into(), ns.unwrap_or_else(|| panic!("{l}")))
        })
        .collect();
    let has = |op: &str, vmas: &str, procs: &str| {
        rows.iter()
            .any(|r| r.0 == op && r.1 == format!("vmas={vmas}") && r.2 == format!("procs={procs}"))
    };
    for op in
        ["getpid", "first-touch", "re-touch", "munmap-page", "mmap-munmap-1m", "fork-exit-wait"]
    {
        assert!(has(op, "0", "0"), "no {op} row in\n{}", run.out);
    }
    for v in ["1", "100", "1000"] {
        for op in ["first-touch", "munmap-page", "mmap-munmap-1m", "fork-exit-wait"] {
            assert!(has(op, v, "0"), "no {op} vmas={v} row in\n{}", run.out);
        }
    }
    for p in ["1", "10", "50"] {
        assert!(has("fork-exit-wait", "0", p), "no fork-exit-wait procs={p} row in\n{}", run.out);
    }
    // Without a binfmt_misc entry the host's execve cannot start an ARM program.
    if host_runs_arm_binaries() {
        assert!(has("fork-exec-wait", "0", "0"), "{}", run.out);
    }
}

#[test]
fn syscalls_all_answer_as_linux() {
    let run = run("syscalls", &[]);
    let exec_ok = host_runs_arm_binaries();
    let mut failed = 0;
    for line in run.out.lines().filter(|l| l.starts_with("  ")) {
        if line.contains("FAIL") {
            // Without a binfmt_misc entry the host's execve cannot start an ARM program.
            if !exec_ok && line.contains("fork, execve(self), wait4") {
                continue;
            }
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "{}", run.out);
    run.line("syscalls: 41 checks, ");
    run.has("  writev: two pieces\n");
    assert!(run.line("unknown system call 0x3ff: ENOSYS").contains("ok: returned -1 ENOSYS"));
    assert_eq!(run.code(), Some(if exec_ok { 0 } else { 1 }), "{}", run.out);
}

/// vmtest exec: the fork test runs everywhere; the exec'd children only where the host can
/// execve an ARM binary.
#[test]
fn vmtest_exec_forks_and_counts() {
    let run = run("vmtest", &["exec"]);
    run.expect_exit(0);
    run.line("EXEC parent pid=");
    for n in [1, 2] {
        run.line(&format!("sequential instance {n} pid="));
    }
    let child = run.line("fork child pid=");
    assert!(
        child.contains("minflt at start=")
            && child.contains("write .data +")
            && child.contains("read .bss +")
    );
    run.line("fork child total minflt=");
    run.line("parent write .data after child exit +");
    if host_runs_arm_binaries() {
        run.line("concurrent A pid=");
        run.line("concurrent B pid=");
        run.has("--- /proc/");
    } else {
        assert!(
            run.line("child ").contains("exited (status 0x7f00) before it was ready"),
            "{}",
            run.out
        );
    }
}

#[test]
fn vmtest_time_and_swap_run_to_completion() {
    let run = run("vmtest", &["time", "16", "1"]);
    run.expect_exit(0);
    run.line("TIME N=16 pages, reps=1");
    for what in [
        "clock_gettime: ",
        "syscall(getpid): ",
        "rep 0: first-touch write ",
        "rep 0: read-first (zero page) ",
    ] {
        run.line(what);
    }
    for what in [
        "mmap+munmap 1MiB untouched: min ",
        "fork+_exit+waitpid: min ",
        "fork+execve(static vmtest nop)+exit+wait: min ",
    ] {
        run.line(what);
    }
    // Every word written is read back equal.
    let run = crate::run("vmtest", &["swap", "4", "2"]);
    run.expect_exit(0);
    run.line("SWAP test: 4 MiB anonymous (1024 pages), then 2 re-read passes");
    for pass in [1, 2] {
        assert!(run.line(&format!("re-read pass {pass}: ")).contains(" bad=0 "), "{}", run.out);
    }
    run.line("SWAP /proc/self/stat: ");
}

#[test]
fn vmtest_refuses_bad_arguments_and_null_kills_it() {
    let run = run("vmtest", &[]);
    run.expect_exit(2);
    assert!(run.err.contains("usage: vmtest anon N..."), "{}", run.err);
    let run = crate::run("vmtest", &["anon", "many"]);
    run.expect_exit(2);
    assert!(run.err.contains("'many' is not a positive page count"), "{}", run.err);
    crate::run("vmtest", &["segv", "5G"]).expect_exit(2);
    crate::run("vmtest", &["null"]).expect_signal(SIGSEGV).line("dereferencing NULL...");
}

// ---- the other programs ---------------------------------------------------------------------

/// Under qemu-user fork never fails before the cap (its RLIMIT_NPROC would also stop qemu's own
/// threads), so the cap ends the run: exit 1, every child reaped.
#[test]
fn forkbomb_reaps_every_child() {
    let run = run("forkbomb", &["--max", "6"]);
    run.expect_exit(1);
    run.line("forkbomb: stopped at --max 6 children, fork never failed");
    run.line("forkbomb: 6 children started, 6 reaped");
    crate::run("forkbomb", &["--max", "0"]).expect_exit(2);
}

#[test]
fn membomb_stops_at_its_cap() {
    let run = run("membomb", &["20"]);
    run.expect_exit(0);
    run.line("membomb: 16 MiB touched");
    run.line("membomb: reached the cap of 20 MiB alive");
}

#[test]
fn mapmax_maps_until_enomem() {
    let run = run("mapmax", &[]);
    run.expect_exit(0);
    for size in [1024, 64, 4] {
        run.line(&format!("mapmax: {size} KiB mappings until ENOMEM"));
    }
    let line = run
        .out
        .lines()
        .find(|l| l.contains("; highest address reached 0x"))
        .unwrap_or_else(|| run.fail("no highest address"));
    let highest = u64::from_str_radix(line.rsplit("0x").next().unwrap(), 16).unwrap();
    // qemu-user's guest address space ends near 4 GiB; Linux's at TASK_SIZE.
    assert!(highest > 0xbf00_0000, "{line}");
    run.has("--- /proc/self/maps\n");
}

#[test]
fn procself_prints_its_proc_files_and_spin_ends() {
    let run = run("procself", &["one", "two"]);
    run.expect_exit(0);
    for section in ["maps", "status", "stat", "statm", "cmdline"] {
        run.line(&format!("--- /proc/self/{section}"));
    }
    assert!(run.out.trim_end().ends_with("one two"), "{}", run.out);
    let run = crate::run("spin", &["1"]);
    run.expect_exit(0);
    run.line("spin: done after 1 s (");
}

// ---- the initramfs --------------------------------------------------------------------------

#[test]
fn initramfs_holds_the_programs_and_the_data_file() {
    let path = root().join("build/initramfs.cpio.gz");
    assert!(path.is_file(), "missing {}: run `make initramfs` first", path.display());
    let out = Command::new("gzip").arg("-dc").arg(&path).output().expect("gzip");
    assert!(out.status.success(), "{} is not gzip", path.display());
    let entries = newc(&out.stdout);
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} not in the initramfs"))
    };
    for dir in ["bin", "data", "proc", "dev", "tmp"] {
        assert_eq!(find(dir).mode, 0o040755, "{dir}");
    }
    for name in PROGRAMS {
        let e = find(&format!("bin/{name}"));
        assert_eq!(e.mode, 0o100755, "bin/{name}");
        assert_eq!(
            e.data,
            fs::read(program(name)).unwrap(),
            "bin/{name} differs from build/user/arm/{name}"
        );
    }
    let f = find("data/f16m");
    assert_eq!(f.mode, 0o100644);
    assert_eq!(f.data, fs::read(data_file()).unwrap());
}
