//! arm64's `load_elf_binary` on real AArch64 programs (`make user ARCH=arm64`: Debian's
//! `aarch64-linux-gnu-gcc -static`), on the host: the ELF64 image mapped directly, the user
//! layout of arm64 6.1 for VA_BITS 48 and 39 (text at 0x400000, `[vvar]` two pages and
//! `[vdso]` one page right above them just below the mmap base, `[stack]` at the top), the
//! initial stack in 8-byte words with arm64's auxiliary vector (`AT_SYSINFO_EHDR` at the
//! vDSO, `AT_MINSIGSTKSZ`, `AT_HWCAP` 0x8ff, `AT_PLATFORM` "aarch64"), no `READ_IMPLIES_EXEC`,
//! and the other architecture's executables refused both ways.

mod user_common;

use std::fs;
use std::sync::Arc;

use pivm::abi::arm64::auxv::{minsigstksz, CORTEX_A53_HWCAP, ELF_PLATFORM};
use pivm::abi::arm64::elf::BINFMT;
use pivm::arch::arm64::processor::{arch_mm, stack_top, task_size};
use pivm::fs::binfmt_elf::{
    load_elf_binary, ElfError, ElfFile, ExecParams, LoadedElf, RandomSource, ARM_BINFMT, AT_ENTRY,
    AT_EXECFN, AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM,
    AT_PLATFORM, AT_RANDOM, AT_SYSINFO_EHDR, PT_GNU_STACK,
};
use pivm::mm::mm_types::{MmStruct, Rlimits, VmFile};
use pivm::proc::pid::maps::{render_maps, MapsFormat};
use user_common::built_program;

const PAGE_SIZE: usize = 4096;
const ENV: [&[u8]; 2] = [b"HOME=/", b"TERM=linux"];

struct Lcg(u32);
impl RandomSource for Lcg {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0
    }
}

fn program(name: &str) -> Vec<u8> {
    fs::read(built_program("arm64/user", name, "make user ARCH=arm64")).unwrap()
}

/// `execve(path)` of `file` into a fresh arm64 address space of `va_bits`.
fn exec(
    file: &[u8],
    path: &str,
    va_bits: u32,
    randomize: u8,
    seed: u32,
) -> (MmStruct, Result<LoadedElf, ElfError>) {
    let mut mm = MmStruct::new(arch_mm(va_bits), Rlimits::DEFAULT);
    let argv: [&[u8]; 1] = [path.as_bytes()];
    let r = load_elf_binary(
        ElfFile::whole(file),
        ExecParams {
            filename: path,
            argv: &argv,
            envp: &ENV,
            file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 10, path: path.into() }),
            hwcap: CORTEX_A53_HWCAP as u32,
            hwcap2: 0,
            platform: ELF_PLATFORM,
            uid: 0,
            gid: 0,
            randomize_va_space: randomize,
            random: &mut Lcg(seed),
            vdso: true,
            arch: &BINFMT,
        },
        &mut mm,
    );
    (mm, r)
}

fn maps(mm: &MmStruct) -> Vec<String> {
    let mut out = String::new();
    render_maps(&mut out, mm, &MapsFormat::ARM64).unwrap();
    out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

fn aux(l: &LoadedElf, tag: u32) -> u64 {
    l.auxv.iter().find(|&&(k, _)| k == tag).unwrap_or_else(|| panic!("no AT_{tag}")).1
}

/// The 8-byte word at user address `a` of the initial stack image.
fn word(l: &LoadedElf, a: usize) -> u64 {
    u64::from_le_bytes(l.stack[a - l.sp..a - l.sp + 8].try_into().unwrap())
}

/// `tiny` unrandomised (`norandmaps`): every line of its maps, as arm64 6.1 lays a static
/// program out: text and data at the linker's 0x400000, `[vvar]`/`[vdso]` in the first hole
/// below the mmap base (TASK_SIZE - 128 MiB), the stack ending at STACK_TOP.
#[test]
fn tiny_maps_as_arm64_lays_them_out_for_both_va_sizes() {
    let tiny = program("tiny");
    for va in [48, 39] {
        let (mm, r) = exec(&tiny, "/bin/tiny", va, 0, 1);
        let l = r.unwrap();
        mm.validate().unwrap();
        let top = task_size(va) as usize;
        let base = top - (128 << 20);
        let m = maps(&mm);
        assert_eq!(m[0], "00400000-00401000 r-xp 00000000 00:02 10 /bin/tiny", "VA_BITS {va}");
        assert_eq!(m[1], "0041f000-00420000 rw-p 0000f000 00:02 10 /bin/tiny");
        // The bss pages end at start_brk = brk, unrandomised: show_map names them [heap].
        assert_eq!(m[2], "00420000-00422000 rw-p 00000000 00:00 0 [heap]");
        let vvar =
            format!("{:08x}-{:08x} r--p 00000000 00:00 0 [vvar]", base - 0x3000, base - 0x1000);
        let vdso = format!("{:08x}-{base:08x} r-xp 00000000 00:00 0 [vdso]", base - 0x1000);
        assert_eq!((&m[3], &m[4]), (&vvar, &vdso), "VA_BITS {va}");
        assert!(m[5].ends_with(&format!("-{top:08x} rw-p 00000000 00:00 0 [stack]")), "{}", m[5]);
        assert_eq!(m.len(), 6, "{m:#?}");
        assert_eq!(stack_top(va) as usize, top);
        assert_eq!(mm.vdso, base - 0x1000);
        assert_eq!(mm.sigpage, 0, "arm64 has no sigpage");
        assert_eq!(mm.start_code, 0x40_0000);
        assert!(!l.read_implies_exec && !l.randomized);
    }
}

/// The initial stack of a real program: argc, argv and envp pointers and the auxiliary vector
/// in 8-byte words from a 16-byte aligned sp, arm64's `ARCH_DLINFO` first with
/// `AT_SYSINFO_EHDR` at the `[vdso]` just mapped, the ELF64 program headers' `AT_PHDR`/
/// `AT_PHENT`/`AT_PHNUM`, `AT_PLATFORM` pointing at "aarch64".
#[test]
fn the_initial_stack_is_arm64s() {
    let file = program("vmtest");
    let (mm, r) = exec(&file, "/bin/vmtest", 48, 2, 7);
    let l = r.unwrap();
    mm.validate().unwrap();
    assert_eq!(l.sp % 16, 0);
    let stack = mm.iter().last().unwrap();
    assert_eq!(l.sp + l.stack.len(), stack.vm_end, "the table ends at the stack's top");
    assert_eq!(word(&l, l.sp), 1, "argc");
    assert_eq!(word(&l, l.sp + 8) as usize, mm.arg_start);
    assert_eq!(word(&l, l.sp + 16), 0);
    assert_eq!(word(&l, l.sp + 24) as usize, mm.env_start);
    assert_eq!(word(&l, l.sp + 40), 0, "envp ends");
    // The auxiliary vector after it, as written: (tag, value) words, AT_NULL last.
    let mut at = l.sp + 48;
    for &(k, v) in &l.auxv {
        assert_eq!((word(&l, at), word(&l, at + 8)), (u64::from(k), v));
        at += 16;
    }
    assert_eq!((word(&l, at), word(&l, at + 8)), (0, 0), "AT_NULL");
    assert_eq!(l.auxv[0].0, AT_SYSINFO_EHDR);
    assert_eq!(l.auxv[1].0, AT_MINSIGSTKSZ);
    assert_eq!(aux(&l, AT_SYSINFO_EHDR) as usize, mm.vdso);
    assert!(mm.iter().any(|v| v.vm_start == mm.vdso && v.vm_end == mm.vdso + PAGE_SIZE));
    assert_eq!(aux(&l, AT_MINSIGSTKSZ), minsigstksz());
    assert_eq!(aux(&l, AT_HWCAP), 0x8ff);
    assert_eq!(aux(&l, AT_HWCAP2), 0);
    assert_eq!(aux(&l, AT_PAGESZ), 4096);
    assert_eq!(aux(&l, AT_PHDR), 0x40_0040);
    assert_eq!(aux(&l, AT_PHENT), 56);
    let phnum = u16::from_le_bytes([file[56], file[57]]);
    assert_eq!(aux(&l, AT_PHNUM), u64::from(phnum));
    assert_eq!(aux(&l, AT_ENTRY), u64::from_le_bytes(file[24..32].try_into().unwrap()));
    let platform = aux(&l, AT_PLATFORM) as usize - l.sp;
    assert_eq!(&l.stack[platform..platform + 8], b"aarch64\0");
    let execfn = aux(&l, AT_EXECFN) as usize - l.sp;
    assert_eq!(&l.stack[execfn..execfn + 12], b"/bin/vmtest\0");
    // The 16 random bytes sit right below the platform string.
    assert_eq!(aux(&l, AT_RANDOM) + 16, aux(&l, AT_PLATFORM));
    assert!(stack.vm_start <= l.sp);
}

/// Randomised (`randomize_va_space` 2): the stack within 1 GiB (`STACK_RND_MASK`) of the top,
/// the vDSO hole below a base moved by up to 2^18 pages, the break moved by up to 1 GiB; and
/// different seeds give different layouts.
#[test]
fn randomised_exec_stays_in_arm64s_ranges() {
    let file = program("tiny");
    let mut vdsos = std::collections::BTreeSet::new();
    for seed in 1..20 {
        let (mm, r) = exec(&file, "/bin/tiny", 48, 2, seed);
        let l = r.unwrap();
        mm.validate().unwrap();
        let top = 1usize << 48;
        let stack = mm.iter().last().unwrap();
        assert!(top - stack.vm_end <= 0x3ffff << 12, "{:#x}", stack.vm_end);
        let gap = (9 << 20) + (0x3ffff << 12);
        let lowest = top - gap - (((1 << 18) - 1) << 12);
        assert!((lowest..=top - (128 << 20)).contains(&(mm.vdso + PAGE_SIZE)), "{:#x}", mm.vdso);
        assert!(mm.start_brk >= 0x42_2000 && mm.start_brk < 0x42_2000 + (1 << 30));
        assert!(l.randomized);
        vdsos.insert(mm.vdso);
    }
    assert!(vdsos.len() > 10, "the vDSO moves: {vdsos:x?}");
}

/// arm64's `elf_read_implies_exec` is 0: without `PT_GNU_STACK` the data and the stack stay
/// non-executable (ARM's loader makes them executable).
#[test]
fn no_gnu_stack_does_not_make_reads_executable() {
    let mut file = program("tiny");
    let (phoff, phnum) = (
        u64::from_le_bytes(file[32..40].try_into().unwrap()) as usize,
        u16::from_le_bytes([file[56], file[57]]) as usize,
    );
    let stack_ph = (0..phnum)
        .map(|i| phoff + 56 * i)
        .find(|&p| u32::from_le_bytes(file[p..p + 4].try_into().unwrap()) == PT_GNU_STACK)
        .expect("tiny has PT_GNU_STACK");
    file[stack_ph..stack_ph + 4].copy_from_slice(&0u32.to_le_bytes()); // PT_NULL
    let (mm, r) = exec(&file, "/bin/tiny", 48, 0, 1);
    let l = r.unwrap();
    assert!(!l.read_implies_exec);
    let m = maps(&mm);
    assert!(m[1].contains(" rw-p ") && m.last().unwrap().contains(" rw-p "), "{m:#?}");
}

/// Each loader refuses the other architecture's executables with ENOEXEC and maps nothing.
#[test]
fn the_other_architectures_programs_are_enoexec() {
    let arm = fs::read(user_common::root().join("tests/fixtures/tiny")).unwrap();
    let (mm, r) = exec(&arm, "/bin/tiny", 48, 0, 1);
    assert_eq!(r.unwrap_err().errno(), pivm::mm::mm_types::Errno::ENOEXEC);
    assert_eq!(mm.map_count(), 0);
    let a64 = program("tiny");
    let mut mm = MmStruct::new(pivm::arch::memory::arch_mm(0xc000_0000), Rlimits::DEFAULT);
    let argv: [&[u8]; 1] = [b"/bin/tiny"];
    let r = load_elf_binary(
        ElfFile::whole(&a64),
        ExecParams {
            filename: "/bin/tiny",
            argv: &argv,
            envp: &ENV,
            file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 10, path: "/bin/tiny".into() }),
            hwcap: 0,
            hwcap2: 0,
            platform: "v7l",
            uid: 0,
            gid: 0,
            randomize_va_space: 0,
            random: &mut Lcg(1),
            vdso: true,
            arch: &ARM_BINFMT,
        },
        &mut mm,
    );
    assert_eq!(r.unwrap_err().errno(), pivm::mm::mm_types::Errno::ENOEXEC);
    assert_eq!(mm.map_count(), 0);
}
