//! The pure half of Linux 6.1's `load_elf_binary()` (fs/binfmt_elf.c) for static 32-bit ARM
//! EABI executables: the header checks (`elf_check_arch` as arch/arm/kernel/elf.c has it), the
//! program headers (`PT_LOAD`, `PT_GNU_STACK`, `PT_TLS`; `PT_INTERP` and PIE refused for now),
//! the mappings made in the process's `MmStruct` exactly where and how Linux makes them (text
//! and data from the file, the bss tail zeroed, anonymous bss pages, `start_brk`/`brk`,
//! `start_code`..`end_data`), the exec-time stack (`setup_arg_pages`), ARM's sigpage/vvar/vdso
//! (`arch_setup_additional_pages`) and `create_elf_tables`: the initial stack's exact bytes.
//! A small parser of its own, generic over the ELF class ([`ElfClass`]: the 32- and 64-bit
//! structures are two fixed layouts each) and the architecture ([`ElfArch`]: its machine and
//! `elf_check_arch`), so arm64's ELF64 executables go through the same checks
//! ([`parse_for`]); no crate gives Linux's exact acceptance rules.
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::mm::mm_types::{
    page_align, Errno, MmStruct, SpecialMapping, VmFile, VmFlags, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE,
};
use crate::mm::mmap::{randomize_stack_top, MapFlags, MmapFile, Prot};

/// `ELFMAG`.
const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
pub const ELFCLASS32: u8 = 1;
pub const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
/// `EM_ARM`.
pub const EM_ARM: u16 = 40;
/// `sizeof(struct elf32_hdr)`, `sizeof(struct elf32_phdr)`.
pub const EHDR_SIZE: usize = 52;
pub const PHDR_SIZE: usize = 32;
/// `load_elf_phdrs()` refuses a table larger than this (`ELF_MIN_ALIGN`, one page).
const MAX_PHDRS_SIZE: usize = PAGE_SIZE;

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// `EF_ARM_EABI_MASK`, and the float-ABI bits old (pre-EABI) binaries carry.
const EF_ARM_EABI_MASK: u32 = 0xff00_0000;
const EF_ARM_APCS_26: u32 = 0x08;
/// The thumb bit of an entry address.
const ENTRY_THUMB: u32 = 1;

/// Auxiliary vector tags (include/uapi/linux/auxvec.h, asm/auxvec.h).
pub const AT_NULL: u32 = 0;
pub const AT_PHDR: u32 = 3;
pub const AT_PHENT: u32 = 4;
pub const AT_PHNUM: u32 = 5;
pub const AT_PAGESZ: u32 = 6;
pub const AT_BASE: u32 = 7;
pub const AT_FLAGS: u32 = 8;
pub const AT_ENTRY: u32 = 9;
pub const AT_UID: u32 = 11;
pub const AT_EUID: u32 = 12;
pub const AT_GID: u32 = 13;
pub const AT_EGID: u32 = 14;
pub const AT_PLATFORM: u32 = 15;
pub const AT_HWCAP: u32 = 16;
pub const AT_CLKTCK: u32 = 17;
pub const AT_SECURE: u32 = 23;
pub const AT_RANDOM: u32 = 25;
pub const AT_HWCAP2: u32 = 26;
pub const AT_EXECFN: u32 = 31;
pub const AT_SYSINFO_EHDR: u32 = 33;
/// `AT_MINSIGSTKSZ`: the signal frame's real minimum (arm64's `ARCH_DLINFO` passes it).
pub const AT_MINSIGSTKSZ: u32 = 51;

/// `CLOCKS_PER_SEC` as user space sees it (`USER_HZ`).
pub const USER_HZ: u32 = 100;
/// Pages of ARM's vDSO: the data page (`[vvar]`) and one page of code (`vdso_total_pages`).
pub const VDSO_TOTAL_PAGES: usize = 1 + VDSO_TEXT_PAGES;
/// The vDSO's pages of code: both architectures' images fit in one (`vdso_init` checks).
pub const VDSO_TEXT_PAGES: usize = 1;
/// `MAX_ARG_STRLEN`: one argument or environment string at most.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;

/// Why an executable was refused; each maps to the errno `execve` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than an ELF header.
    Truncated,
    BadMagic,
    /// Not the architecture's class (32- or 64-bit), or not little-endian.
    BadClass,
    /// Neither `ET_EXEC` nor `ET_DYN`.
    BadType(u16),
    /// Another architecture's executable.
    BadMachine {
        found: u16,
        expected: u16,
    },
    /// An entry point the architecture cannot start at (ARM: neither Thumb nor word aligned;
    /// arm64: not word aligned).
    BadEntry(u64),
    /// An old-ABI binary for 26-bit CPUs.
    Apcs26,
    BadPhentsize(u16),
    /// Zero program headers, or more than fit in a page.
    BadPhnum(u16),
    /// The program header table is not (all) in the file.
    PhdrsOutsideFile,
    /// A program interpreter (dynamic linking): not supported yet.
    Interpreter,
    /// A position-independent executable: not supported yet.
    Pie,
    /// A `PT_LOAD` whose offset and address differ modulo the page size.
    MisalignedSegment {
        vaddr: u64,
        offset: u64,
    },
    /// A `PT_LOAD` with more file bytes than memory, or past `TASK_SIZE`.
    BadSegment {
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    },
    /// A `PT_LOAD`'s file bytes are not all in the file.
    SegmentOutsideFile {
        offset: u64,
        filesz: u64,
    },
    NoLoadSegment,
    /// An argument or environment string longer than `MAX_ARG_STRLEN`, or containing a NUL.
    BadArgument,
    /// The address space refused a mapping.
    Map(Errno),
}

impl ElfError {
    /// The errno `execve` returns for it, as Linux would.
    pub fn errno(&self) -> Errno {
        match self {
            ElfError::PhdrsOutsideFile => Errno::EIO,
            ElfError::MisalignedSegment { .. }
            | ElfError::BadSegment { .. }
            | ElfError::SegmentOutsideFile { .. } => Errno::EINVAL,
            ElfError::BadArgument => Errno::EINVAL,
            ElfError::Map(e) => *e,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Truncated => write!(f, "file is shorter than an ELF header"),
            ElfError::BadMagic => write!(f, "not an ELF file (bad magic)"),
            ElfError::BadClass => {
                write!(
                    f,
                    "ELF class or byte order is not this kernel's (little-endian, its word size)"
                )
            }
            ElfError::BadType(t) => {
                write!(f, "ELF type {t} is neither an executable nor a shared object")
            }
            ElfError::BadMachine { found, expected } => {
                write!(f, "ELF machine {found} is not this kernel's ({expected})")
            }
            ElfError::BadEntry(e) => write!(f, "entry point {e:#x} is not an instruction address"),
            ElfError::Apcs26 => write!(f, "26-bit APCS binaries are not supported by this CPU"),
            ElfError::BadPhentsize(s) => write!(f, "program header size {s} is not its class's"),
            ElfError::BadPhnum(n) => {
                write!(f, "{n} program headers (1 to one page of them allowed)")
            }
            ElfError::PhdrsOutsideFile => write!(f, "program headers lie outside the file"),
            ElfError::Interpreter => {
                write!(f, "dynamically linked (PT_INTERP): only static executables are supported")
            }
            ElfError::Pie => {
                write!(f, "position-independent executable: only ET_EXEC is supported")
            }
            ElfError::MisalignedSegment { vaddr, offset } => {
                write!(f, "PT_LOAD at {vaddr:#x}: offset {offset:#x} differs from the address within a page")
            }
            ElfError::BadSegment { vaddr, filesz, memsz } => {
                write!(f, "PT_LOAD at {vaddr:#x}: filesz {filesz:#x}, memsz {memsz:#x} do not fit in user space")
            }
            ElfError::SegmentOutsideFile { offset, filesz } => {
                write!(f, "PT_LOAD bytes {offset:#x}+{filesz:#x} lie past the end of the file")
            }
            ElfError::NoLoadSegment => write!(f, "no PT_LOAD segment"),
            ElfError::BadArgument => {
                write!(f, "argument or environment string too long or containing NUL")
            }
            ElfError::Map(e) => write!(f, "mapping failed: {e}"),
        }
    }
}

/// `struct elf32_hdr`, the fields the loader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elf32Ehdr {
    pub e_type: u16,
    pub e_machine: u16,
    pub e_entry: u32,
    pub e_phoff: u32,
    pub e_flags: u32,
    pub e_phentsize: u16,
    pub e_phnum: u16,
}

/// `struct elf32_phdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elf32Phdr {
    pub p_type: u32,
    pub p_offset: u32,
    pub p_vaddr: u32,
    pub p_filesz: u32,
    pub p_memsz: u32,
    pub p_flags: u32,
    pub p_align: u32,
}

/// `EXSTACK_*`: what `PT_GNU_STACK` says about the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecStack {
    /// No `PT_GNU_STACK`: the architecture's default (and on ARM, `READ_IMPLIES_EXEC`).
    Default,
    DisableX,
    EnableX,
}

/// A checked static executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfExecutable {
    pub ehdr: Elf32Ehdr,
    pub phdrs: Vec<Elf32Phdr>,
    pub exec_stack: ExecStack,
    /// A `PT_TLS` segment is present (the C library sets up TLS with `set_tls`).
    pub has_tls: bool,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | u64::from(u32_at(b, off + 4)) << 32
}

/// What the loader reads of an executable: its first bytes, its program-header table and its
/// size. As Linux's `load_elf_binary` reads only the header (`bprm->buf`) and the program
/// headers (`load_elf_phdrs`, at `e_phoff`) and maps the rest, the caller reads the first
/// bytes and, when [`phdrs_range`] gives a table they do not hold, that table on its own.
#[derive(Clone, Copy, Debug)]
pub struct ElfFile<'a> {
    /// The file from offset 0 (all of it, or at least its ELF header).
    pub head: &'a [u8],
    /// The program-header table read at `e_phoff` on its own, when `head` does not hold it.
    pub phdrs: Option<&'a [u8]>,
    /// The file's size in bytes (what the segments must lie within).
    pub size: u64,
}

impl<'a> ElfFile<'a> {
    /// A file held whole in memory.
    pub fn whole(file: &'a [u8]) -> Self {
        ElfFile { head: file, phdrs: None, size: file.len() as u64 }
    }
}

/// Where the program-header table of the file starting with `head` lies (`e_phoff` and
/// `e_phentsize * e_phnum` bytes), if `head` holds an ELF header and the table has the size
/// `load_elf_phdrs` accepts (entries of the class's size, at least one, at most a page):
/// what the loader reads besides the header. None otherwise; the parse then reports the
/// header's error without any read sized by it.
pub fn phdrs_range(head: &[u8]) -> Option<(u64, usize)> {
    let class = match head.get(EI_CLASS) {
        Some(&ELFCLASS32) => ElfClass::Elf32,
        Some(&ELFCLASS64) => ElfClass::Elf64,
        _ => return None,
    };
    if head.len() < class.ehdr_size() || head[..4] != ELFMAG {
        return None;
    }
    let h = class.ehdr(head);
    let size = usize::from(h.e_phentsize) * usize::from(h.e_phnum);
    if usize::from(h.e_phentsize) != class.phdr_size() || size == 0 || size > MAX_PHDRS_SIZE {
        return None;
    }
    Some((h.e_phoff, size))
}

/// Parse and check `file` as `load_elf_binary()` does before it maps anything, for a
/// process whose `TASK_SIZE` is `task_size`. Linux leaves some of these checks to the
/// mapping (or to a later fault): pivm makes all of them here so nothing is half done.
pub fn parse(file: &[u8], task_size: usize) -> Result<ElfExecutable, ElfError> {
    parse_file(ElfFile::whole(file), task_size)
}

/// [`parse`] of a file of which the loader read only the first bytes ([`ElfFile`]): the ARM
/// EABI's checks through [`parse_for`], narrowed to the 32-bit structures the loader uses.
pub fn parse_file(f: ElfFile<'_>, task_size: usize) -> Result<ElfExecutable, ElfError> {
    let img = parse_for(&ARM_EABI, f, task_size as u64)?;
    // ELFCLASS32: every field came from 32 bits.
    Ok(ElfExecutable {
        ehdr: Elf32Ehdr {
            e_type: img.ehdr.e_type,
            e_machine: img.ehdr.e_machine,
            e_entry: img.ehdr.e_entry as u32,
            e_phoff: img.ehdr.e_phoff as u32,
            e_flags: img.ehdr.e_flags,
            e_phentsize: img.ehdr.e_phentsize,
            e_phnum: img.ehdr.e_phnum,
        },
        phdrs: img
            .phdrs
            .iter()
            .map(|p| Elf32Phdr {
                p_type: p.p_type,
                p_offset: p.p_offset as u32,
                p_vaddr: p.p_vaddr as u32,
                p_filesz: p.p_filesz as u32,
                p_memsz: p.p_memsz as u32,
                p_flags: p.p_flags,
                p_align: p.p_align as u32,
            })
            .collect(),
        exec_stack: img.exec_stack,
        has_tls: img.has_tls,
    })
}

/// The ELF class: where `struct elfN_hdr` and `struct elfN_phdr` keep their fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfClass {
    Elf32,
    Elf64,
}

impl ElfClass {
    /// `e_ident[EI_CLASS]`.
    pub const fn ident(self) -> u8 {
        match self {
            ElfClass::Elf32 => ELFCLASS32,
            ElfClass::Elf64 => ELFCLASS64,
        }
    }
    /// `sizeof(struct elfN_hdr)`.
    pub const fn ehdr_size(self) -> usize {
        match self {
            ElfClass::Elf32 => EHDR_SIZE,
            ElfClass::Elf64 => 64,
        }
    }
    /// `sizeof(struct elfN_phdr)`.
    pub const fn phdr_size(self) -> usize {
        match self {
            ElfClass::Elf32 => PHDR_SIZE,
            ElfClass::Elf64 => 56,
        }
    }
    /// `sizeof(elf_addr_t)`: 4 or 8 bytes.
    pub const fn word_size(self) -> usize {
        match self {
            ElfClass::Elf32 => 4,
            ElfClass::Elf64 => 8,
        }
    }
    /// A word (`ElfN_Addr`, `ElfN_Off`, ...) at `off`.
    fn word(self, b: &[u8], off: usize) -> u64 {
        match self {
            ElfClass::Elf32 => u64::from(u32_at(b, off)),
            ElfClass::Elf64 => u64_at(b, off),
        }
    }
    /// The header fields the loader reads (`b` holds at least [`ehdr_size`](Self::ehdr_size)).
    fn ehdr(self, b: &[u8]) -> ElfHeader {
        // e_entry, e_phoff at 24 and 24 + word; the rest follow e_shoff.
        let w = self.word_size();
        let after = 24 + 3 * w; // e_flags
        ElfHeader {
            e_type: u16_at(b, 16),
            e_machine: u16_at(b, 18),
            e_entry: self.word(b, 24),
            e_phoff: self.word(b, 24 + w),
            e_flags: u32_at(b, after),
            e_phentsize: u16_at(b, after + 6),
            e_phnum: u16_at(b, after + 8),
        }
    }
    /// One program header (`p` holds [`phdr_size`](Self::phdr_size) bytes): ELF64 moves
    /// `p_flags` up next to `p_type` so the words stay aligned.
    fn phdr(self, p: &[u8]) -> ProgramHeader {
        match self {
            ElfClass::Elf32 => ProgramHeader {
                p_type: u32_at(p, 0),
                p_offset: u64::from(u32_at(p, 4)),
                p_vaddr: u64::from(u32_at(p, 8)),
                p_filesz: u64::from(u32_at(p, 16)),
                p_memsz: u64::from(u32_at(p, 20)),
                p_flags: u32_at(p, 24),
                p_align: u64::from(u32_at(p, 28)),
            },
            ElfClass::Elf64 => ProgramHeader {
                p_type: u32_at(p, 0),
                p_flags: u32_at(p, 4),
                p_offset: u64_at(p, 8),
                p_vaddr: u64_at(p, 16),
                p_filesz: u64_at(p, 32),
                p_memsz: u64_at(p, 40),
                p_align: u64_at(p, 48),
            },
        }
    }
}

/// The ELF header fields the loader reads, in either class (words widened to 64 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfHeader {
    pub e_type: u16,
    pub e_machine: u16,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_flags: u32,
    pub e_phentsize: u16,
    pub e_phnum: u16,
}

/// A program header in either class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

/// What an architecture's binfmt accepts: its class, `ELF_ARCH` (`e_machine`) and the rest of
/// its `elf_check_arch()`.
#[derive(Clone, Copy, Debug)]
pub struct ElfArch {
    pub class: ElfClass,
    pub machine: u16,
    /// The architecture's own header checks, after class and machine matched.
    pub check: fn(&ElfHeader) -> Result<(), ElfError>,
}

/// `elf_check_arch()` of arch/arm/kernel/elf.c for the rest: a sane entry (Thumb, or word
/// aligned), no 26-bit APCS.
fn arm_check(ehdr: &ElfHeader) -> Result<(), ElfError> {
    if ehdr.e_entry & u64::from(ENTRY_THUMB) == 0 && ehdr.e_entry & 3 != 0 {
        return Err(ElfError::BadEntry(ehdr.e_entry));
    }
    if ehdr.e_flags & EF_ARM_EABI_MASK == 0 && ehdr.e_flags & EF_ARM_APCS_26 != 0 {
        return Err(ElfError::Apcs26);
    }
    Ok(())
}

/// 32-bit ARM EABI executables.
pub const ARM_EABI: ElfArch = ElfArch { class: ElfClass::Elf32, machine: EM_ARM, check: arm_check };

/// What `arch_setup_additional_pages()` maps after the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdditionalPages {
    /// ARM's: `[sigpage]` at a random page between the stack and `TASK_SIZE`, then (with a
    /// vDSO) one `[vvar]` page and the `[vdso]` text right above it.
    ArmSigpage,
    /// arm64's `__setup_additional_pages`: `[vvar]` (`vvar_pages`, `VM_PFNMAP`) and the
    /// `[vdso]` text right above it in one `get_unmapped_area` hole; nothing without a vDSO.
    Vdso { vvar_pages: usize },
}

/// An architecture's part of `load_elf_binary()`: the executables it takes, what a missing
/// `PT_GNU_STACK` means, the pages it adds, and its `create_elf_tables` words.
#[derive(Clone, Copy, Debug)]
pub struct BinfmtArch {
    pub elf: ElfArch,
    /// `elf_read_implies_exec(ex, EXSTACK_DEFAULT)`: ARM's `arm_elf_read_implies_exec` says
    /// yes without `PT_GNU_STACK`; arm64 (a native 64-bit task) never.
    pub read_implies_exec_default: bool,
    pub pages: AdditionalPages,
    /// `ARCH_DLINFO`'s `AT_MINSIGSTKSZ` (arm64), see [`TablesArch`].
    pub minsigstksz: Option<u64>,
    /// arm64's `arch_align_stack` (see [`TablesArch`]).
    pub align_stack: bool,
}

/// 32-bit ARM's `load_elf_binary`.
pub const ARM_BINFMT: BinfmtArch = BinfmtArch {
    elf: ARM_EABI,
    read_implies_exec_default: true,
    pages: AdditionalPages::ArmSigpage,
    minsigstksz: None,
    align_stack: false,
};

/// A checked static executable of either class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub ehdr: ElfHeader,
    pub phdrs: Vec<ProgramHeader>,
    pub exec_stack: ExecStack,
    pub has_tls: bool,
}

impl ElfImage {
    /// `AT_PHDR` before the load bias (zero for `ET_EXEC`): the address where the `PT_LOAD`
    /// holding the program headers maps `e_phoff`, as 6.1's `load_elf_binary` finds it; `None`
    /// when no segment covers the table.
    pub fn phdr_addr(&self) -> Option<u64> {
        let phoff = self.ehdr.e_phoff;
        self.phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .find(|p| p.p_offset <= phoff && phoff < p.p_offset + p.p_filesz)
            .map(|p| phoff - p.p_offset + p.p_vaddr)
    }

    /// The `PT_LOAD` segments in file order.
    pub fn loads(&self) -> impl Iterator<Item = &ProgramHeader> {
        self.phdrs.iter().filter(|p| p.p_type == PT_LOAD)
    }
}

/// Parse and check `f` as `load_elf_binary()` does before it maps anything, for `arch` and a
/// process whose `TASK_SIZE` is `task_size`: the other class or machine is `ENOEXEC`, as
/// `elf_check_arch` makes it.
pub fn parse_for(arch: &ElfArch, f: ElfFile<'_>, task_size: u64) -> Result<ElfImage, ElfError> {
    let file = f.head;
    let class = arch.class;
    if file.len() < class.ehdr_size() {
        return Err(if file.len() >= 4 && file[..4] != ELFMAG {
            ElfError::BadMagic
        } else {
            ElfError::Truncated
        });
    }
    if file[..4] != ELFMAG {
        return Err(ElfError::BadMagic);
    }
    if file[EI_CLASS] != class.ident() || file[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::BadClass);
    }
    let ehdr = class.ehdr(file);
    if ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN {
        return Err(ElfError::BadType(ehdr.e_type));
    }
    if ehdr.e_machine != arch.machine {
        return Err(ElfError::BadMachine { found: ehdr.e_machine, expected: arch.machine });
    }
    (arch.check)(&ehdr)?;
    // load_elf_phdrs()
    let phdr_size = class.phdr_size();
    if ehdr.e_phentsize as usize != phdr_size {
        return Err(ElfError::BadPhentsize(ehdr.e_phentsize));
    }
    let size = phdr_size * ehdr.e_phnum as usize;
    if size == 0 || size > MAX_PHDRS_SIZE {
        return Err(ElfError::BadPhnum(ehdr.e_phnum));
    }
    // Read on its own (inside the file) or inside the head.
    let table = match f.phdrs {
        Some(t) if t.len() == size && ehdr.e_phoff.checked_add(size as u64) <= Some(f.size) => {
            Some(t)
        }
        _ => usize::try_from(ehdr.e_phoff)
            .ok()
            .and_then(|phoff| file.get(phoff..phoff.checked_add(size)?)),
    }
    .ok_or(ElfError::PhdrsOutsideFile)?;
    let phdrs: Vec<ProgramHeader> = table.chunks_exact(phdr_size).map(|p| class.phdr(p)).collect();

    let mut exec_stack = ExecStack::Default;
    let mut has_tls = false;
    let mut loads = 0;
    for p in &phdrs {
        match p.p_type {
            PT_INTERP => return Err(ElfError::Interpreter),
            PT_GNU_STACK => {
                exec_stack =
                    if p.p_flags & PF_X != 0 { ExecStack::EnableX } else { ExecStack::DisableX };
            }
            PT_TLS => has_tls = true,
            PT_LOAD => {
                loads += 1;
                // vm_mmap() refuses an offset that is not page aligned once the address is.
                let page = PAGE_SIZE as u64 - 1;
                if p.p_offset & page != p.p_vaddr & page {
                    return Err(ElfError::MisalignedSegment {
                        vaddr: p.p_vaddr,
                        offset: p.p_offset,
                    });
                }
                let (k, memsz) = (p.p_vaddr, p.p_memsz);
                if k >= task_size
                    || p.p_filesz > p.p_memsz
                    || memsz > task_size
                    || task_size - memsz < k
                {
                    return Err(ElfError::BadSegment {
                        vaddr: p.p_vaddr,
                        filesz: p.p_filesz,
                        memsz: p.p_memsz,
                    });
                }
                if p.p_offset.checked_add(p.p_filesz).is_none_or(|e| e > f.size) {
                    return Err(ElfError::SegmentOutsideFile {
                        offset: p.p_offset,
                        filesz: p.p_filesz,
                    });
                }
            }
            _ => {}
        }
    }
    if ehdr.e_type == ET_DYN {
        return Err(ElfError::Pie);
    }
    if loads == 0 {
        return Err(ElfError::NoLoadSegment);
    }
    Ok(ElfImage { ehdr, phdrs, exec_stack, has_tls })
}

/// A mapping the loader made, for the kernel to back: file pages (from `file_offset`) or
/// anonymous zero pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfMapping {
    pub start: usize,
    pub end: usize,
    pub prot: Prot,
    /// Byte offset in the file of `start`; `None` for the anonymous bss pages.
    pub file_offset: Option<u64>,
}

/// Where the random numbers of an exec come from (`get_random_u32`/`get_random_long`).
pub trait RandomSource {
    fn next_u32(&mut self) -> u32;
}

/// What the process is started with, beyond the file itself.
pub struct ExecParams<'a> {
    /// The path as given to `execve` (`bprm->filename`, shown by `AT_EXECFN`).
    pub filename: &'a str,
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The file as the mappings name it (device, inode, path).
    pub file: Arc<VmFile>,
    /// `ELF_HWCAP`, `ELF_HWCAP2` and `ELF_PLATFORM` ("v7l" on a little-endian ARMv7).
    pub hwcap: u32,
    pub hwcap2: u32,
    pub platform: &'a str,
    pub uid: u32,
    pub gid: u32,
    /// `/proc/sys/kernel/randomize_va_space` (0 also for `norandmaps`), and where the random
    /// numbers come from when it is not 0.
    pub randomize_va_space: u8,
    pub random: &'a mut dyn RandomSource,
    /// The kernel maps a vDSO (`[vvar]` + `[vdso]`, after ARM's sigpage) and passes
    /// `AT_SYSINFO_EHDR`.
    pub vdso: bool,
    /// The architecture's rules ([`ARM_BINFMT`], arm64's `abi::arm64::elf::AARCH64_BINFMT`).
    pub arch: &'a BinfmtArch,
}

/// Everything the kernel needs to start the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedElf {
    pub entry: usize,
    /// The initial stack pointer (`bprm->p` after `create_elf_tables`, `mm->start_stack`).
    pub sp: usize,
    pub mappings: Vec<ElfMapping>,
    /// Bytes to zero after the file data in the last file page of a segment (`padzero`).
    pub zero_ranges: Vec<(usize, usize)>,
    /// The bytes of `[sp, stack_top)`: argc, pointers, auxv, random bytes, platform, strings.
    pub stack: Vec<u8>,
    /// The auxiliary vector as written, `AT_NULL` excluded.
    pub auxv: Vec<(u32, u64)>,
    /// `PF_RANDOMIZE` was set for the task.
    pub randomized: bool,
    pub read_implies_exec: bool,
}

/// `make_prot()`.
fn make_prot(p_flags: u32) -> Prot {
    let mut prot = Prot::empty();
    prot.set(Prot::READ, p_flags & PF_R != 0);
    prot.set(Prot::WRITE, p_flags & PF_W != 0);
    prot.set(Prot::EXEC, p_flags & PF_X != 0);
    prot
}

/// ARM's `sigpage_addr()`: a random page between the stack and `TASK_SIZE`, or 0 (let
/// `get_unmapped_area` choose) when there is no room for `npages` there.
fn sigpage_addr(mm: &MmStruct, npages: usize, random: &mut dyn RandomSource) -> usize {
    let Some(first) = page_align(mm.start_stack) else { return 0 };
    let last = mm.task_size - (npages << PAGE_SHIFT);
    if first > last {
        return 0;
    }
    if first == last {
        return first;
    }
    let slots = ((last - first) >> PAGE_SHIFT) + 1;
    first + ((random.next_u32() as usize % slots) << PAGE_SHIFT)
}

/// `randomize_page()`: `start` moved up by a random number of pages within `range`.
fn randomize_page(start: usize, range: usize, random: &mut dyn RandomSource) -> usize {
    let (mut start, mut range) = (start, range);
    if start & !PAGE_MASK != 0 {
        let aligned = page_align(start).unwrap_or(start);
        range = range.saturating_sub(aligned - start);
        start = aligned;
    }
    range = range.min(usize::MAX - start) >> PAGE_SHIFT;
    if range == 0 {
        return start;
    }
    start + ((random.next_u32() as usize % range) << PAGE_SHIFT)
}

/// `load_elf_binary()` from `setup_new_exec` on, into the fresh `mm`: the layout is picked,
/// the stack set up, the segments mapped, the sigpage and vDSO installed and the initial stack
/// built. `mm` must be empty.
pub fn load_elf_binary(
    file: ElfFile<'_>,
    params: ExecParams<'_>,
    mm: &mut MmStruct,
) -> Result<LoadedElf, ElfError> {
    let arch = params.arch;
    let elf = parse_for(&arch.elf, file, mm.task_size as u64)?;
    for s in params.argv.iter().chain(params.envp) {
        if s.len() >= MAX_ARG_STRLEN || s.contains(&0) {
            return Err(ElfError::BadArgument);
        }
    }
    let random = params.random;
    let randomize = params.randomize_va_space != 0;
    // elf_read_implies_exec(): on ARM, no PT_GNU_STACK means READ_IMPLIES_EXEC.
    let read_implies_exec = arch.read_implies_exec_default && elf.exec_stack == ExecStack::Default;
    mm.read_implies_exec = read_implies_exec;

    // setup_new_exec() -> arch_pick_mmap_layout()
    let mmap_rnd = if randomize { Some(random.next_u32()) } else { None };
    mm.arch_pick_mmap_layout(mmap_rnd);

    // The strings as copy_strings() lays them under the temporary top (TASK_SIZE): a NULL
    // word (`sizeof(void *)`), the filename, the environment, the arguments, each
    // NUL-terminated.
    let null_word = arch.elf.class.word_size();
    // Sized up front: one allocation, not one per growth.
    let total: usize = params.argv.iter().chain(params.envp).map(|s| s.len() + 1).sum::<usize>()
        + params.filename.len()
        + 1
        + null_word;
    let mut strings: Vec<u8> = Vec::with_capacity(total);
    for s in params.argv.iter().chain(params.envp) {
        strings.extend_from_slice(s);
        strings.push(0);
    }
    let execfn_offset = strings.len();
    strings.extend_from_slice(params.filename.as_bytes());
    strings.push(0);
    strings.resize(strings.len() + null_word, 0);
    let arg_len = strings.len();

    // setup_arg_pages(randomize_stack_top(STACK_TOP), executable_stack)
    let stack_rnd = if randomize { Some(random.next_u32()) } else { None };
    let stack_top = randomize_stack_top(mm.task_size, mm.arch.stack_rnd_mask, stack_rnd);
    let mut stack_flags = VmFlags::STACK_FLAGS;
    if !read_implies_exec {
        stack_flags.remove(VmFlags::EXEC);
    } else {
        stack_flags |= VmFlags::EXEC;
    }
    match elf.exec_stack {
        ExecStack::EnableX => stack_flags |= VmFlags::EXEC,
        ExecStack::DisableX => stack_flags.remove(VmFlags::EXEC),
        ExecStack::Default => {}
    }
    mm.setup_arg_pages(stack_top, arg_len, stack_flags).map_err(ElfError::Map)?;
    let stack_end = page_align(stack_top).unwrap_or(stack_top);
    let arg_start = stack_end - arg_len;
    mm.arg_start = arg_start;
    mm.start_stack = arg_start;

    // The PT_LOAD loop.
    // Room for every PT_LOAD's mapping and its bss (no reallocation as they are added).
    let loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD).count();
    let mut mappings = Vec::with_capacity(2 * loads);
    let mut zero_ranges = Vec::with_capacity(loads + 1);
    let (mut start_code, mut end_code, mut start_data, mut end_data) =
        (usize::MAX, 0usize, 0usize, 0usize);
    let (mut elf_bss, mut elf_brk) = (0usize, 0usize);
    let mut bss_prot = Prot::empty();
    let mut phdr_addr = 0usize;
    let mut first = true;
    let vmfile =
        MmapFile { file: params.file.clone(), readable: true, writable: false, noexec: false };
    for p in elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        if elf_brk > elf_bss {
            // An earlier segment had bss: map its pages and clear the rest of its last page.
            set_brk(mm, elf_bss, elf_brk, bss_prot, &mut mappings)?;
            let nbyte = elf_bss & !PAGE_MASK;
            if nbyte != 0 {
                let n = (PAGE_SIZE - nbyte).min(elf_brk - elf_bss);
                zero_ranges.push((elf_bss, elf_bss + n));
            }
        }
        let mut prot = make_prot(p.p_flags);
        if read_implies_exec && prot.contains(Prot::READ) {
            prot |= Prot::EXEC;
        }
        let flags =
            MapFlags::PRIVATE | if first { MapFlags::FIXED_NOREPLACE } else { MapFlags::FIXED };
        first = false;
        // elf_map(): whole pages of the file around the segment's file bytes.
        let vaddr = p.p_vaddr as usize;
        let pageoff = vaddr & !PAGE_MASK;
        let size = page_align(p.p_filesz as usize + pageoff).ok_or(ElfError::Map(Errno::ENOMEM))?;
        let off = p.p_offset as usize - pageoff;
        if size != 0 {
            let addr = vaddr & PAGE_MASK;
            mm.do_mmap(addr, size, prot, flags, Some((&vmfile, (off >> PAGE_SHIFT) as u64)))
                .map_err(ElfError::Map)?;
            mappings.push(ElfMapping {
                start: addr,
                end: addr + size,
                prot,
                file_offset: Some(off as u64),
            });
        }
        let phoff = elf.ehdr.e_phoff as usize;
        if (p.p_offset as usize) <= phoff && phoff < p.p_offset as usize + p.p_filesz as usize {
            phdr_addr = phoff - p.p_offset as usize + vaddr;
        }
        if p.p_flags & PF_X != 0 && vaddr < start_code {
            start_code = vaddr;
        }
        start_data = start_data.max(vaddr);
        let k = vaddr + p.p_filesz as usize;
        elf_bss = elf_bss.max(k);
        if p.p_flags & PF_X != 0 {
            end_code = end_code.max(k);
        }
        end_data = end_data.max(k);
        let k = vaddr + p.p_memsz as usize;
        if k > elf_brk {
            bss_prot = prot;
            elf_brk = k;
        }
    }
    set_brk(mm, elf_bss, elf_brk, bss_prot, &mut mappings)?;
    if elf_bss != elf_brk && elf_bss & !PAGE_MASK != 0 {
        // padzero(): the rest of the page holding the end of the file data.
        zero_ranges.push((elf_bss, (elf_bss & PAGE_MASK) + PAGE_SIZE));
    }

    // arch_setup_additional_pages()
    match arch.pages {
        AdditionalPages::ArmSigpage => arm_setup_additional_pages(mm, params.vdso, random)?,
        AdditionalPages::Vdso { vvar_pages } if params.vdso => {
            vdso_setup_additional_pages(mm, vvar_pages)?;
        }
        AdditionalPages::Vdso { .. } => {}
    }

    // create_elf_tables()
    let at_random: [u8; 16] = {
        let mut b = [0u8; 16];
        for chunk in b.chunks_mut(4) {
            chunk.copy_from_slice(&random.next_u32().to_le_bytes());
        }
        b
    };
    let entry = elf.ehdr.e_entry as usize;
    let tables = CreateElfTables {
        arg_start,
        argc: params.argv.len(),
        envc: params.envp.len(),
        strings: &strings,
        execfn: arg_start + execfn_offset,
        platform: params.platform,
        at_random,
        vdso: params.vdso.then_some(mm.vdso),
        hwcap: params.hwcap,
        hwcap2: params.hwcap2,
        phdr: phdr_addr,
        phnum: elf.ehdr.e_phnum,
        entry,
        uid: params.uid,
        gid: params.gid,
        arch: TablesArch {
            class: arch.elf.class,
            minsigstksz: arch.minsigstksz,
            align_stack: arch.align_stack.then(|| randomize.then(|| random.next_u32())),
        },
    };
    let (sp, stack, auxv) = tables.build(stack_end);
    if mm.find_extend_vma(sp).is_none() {
        return Err(ElfError::Map(Errno::EFAULT));
    }

    mm.start_code = start_code;
    mm.end_code = end_code;
    mm.start_data = start_data;
    mm.end_data = end_data;
    mm.start_stack = sp;
    let argv_bytes: usize = params.argv.iter().map(|s| s.len() + 1).sum();
    let envp_bytes: usize = params.envp.iter().map(|s| s.len() + 1).sum();
    mm.arg_end = arg_start + argv_bytes;
    mm.env_start = mm.arg_end;
    mm.env_end = mm.env_start + envp_bytes;
    if randomize && params.randomize_va_space > 1 {
        let b = randomize_page(mm.brk, mm.arch.brk_rnd_range, random);
        mm.start_brk = b;
        mm.brk = b;
    }
    Ok(LoadedElf {
        entry,
        sp,
        mappings,
        zero_ranges,
        stack,
        auxv,
        randomized: randomize,
        read_implies_exec,
    })
}

/// ARM's `arch_setup_additional_pages()`: the sigpage, then the vDSO's data and code pages.
fn arm_setup_additional_pages(
    mm: &mut MmStruct,
    vdso: bool,
    random: &mut dyn RandomSource,
) -> Result<(), ElfError> {
    let npages = 1 + if vdso { VDSO_TOTAL_PAGES } else { 0 };
    let hint = sigpage_addr(mm, npages, random);
    let addr = mm
        .get_unmapped_area(hint, npages << PAGE_SHIFT, MapFlags::empty())
        .map_err(ElfError::Map)?;
    mm.install_special_mapping(addr, PAGE_SIZE, VDSO_TEXT_FLAGS, SpecialMapping::Sigpage)
        .map_err(ElfError::Map)?;
    mm.sigpage = addr;
    if vdso {
        let data = addr + PAGE_SIZE;
        mm.install_special_mapping(
            data,
            PAGE_SIZE,
            VmFlags::READ | VmFlags::MAYREAD,
            SpecialMapping::Vvar,
        )
        .map_err(ElfError::Map)?;
        let text = data + PAGE_SIZE;
        mm.install_special_mapping(
            text,
            VDSO_TEXT_PAGES * PAGE_SIZE,
            VDSO_TEXT_FLAGS,
            SpecialMapping::Vdso,
        )
        .map_err(ElfError::Map)?;
        mm.vdso = text;
    }
    Ok(())
}

/// arm64's `__setup_additional_pages()`: `vvar_pages` of `[vvar]` (the data page and the
/// time-namespace page) and the page of `[vdso]` code right above, in one hole
/// `get_unmapped_area(NULL, 0, vdso_mapping_len, 0, 0)` finds (top-down below the mmap base,
/// as in the reference's maps); `mm->context.vdso` is the code's start.
fn vdso_setup_additional_pages(mm: &mut MmStruct, vvar_pages: usize) -> Result<(), ElfError> {
    let len = (vvar_pages + VDSO_TEXT_PAGES) << PAGE_SHIFT;
    let base = mm.get_unmapped_area(0, len, MapFlags::empty()).map_err(ElfError::Map)?;
    let vvar_len = vvar_pages << PAGE_SHIFT;
    mm.install_special_mapping(
        base,
        vvar_len,
        VmFlags::READ | VmFlags::MAYREAD | VmFlags::PFNMAP,
        SpecialMapping::Vvar,
    )
    .map_err(ElfError::Map)?;
    let text = base + vvar_len;
    mm.install_special_mapping(
        text,
        VDSO_TEXT_PAGES << PAGE_SHIFT,
        VDSO_TEXT_FLAGS,
        SpecialMapping::Vdso,
    )
    .map_err(ElfError::Map)?;
    mm.vdso = text;
    Ok(())
}

/// The sigpage's and the vDSO text's flags: read and execute, and may be made writable
/// (for a debugger's breakpoints).
const VDSO_TEXT_FLAGS: VmFlags = VmFlags::READ
    .union(VmFlags::EXEC)
    .union(VmFlags::MAYREAD)
    .union(VmFlags::MAYWRITE)
    .union(VmFlags::MAYEXEC);

/// `set_brk()`: anonymous pages for `[start, end)` rounded to pages, and the break there.
fn set_brk(
    mm: &mut MmStruct,
    start: usize,
    end: usize,
    prot: Prot,
    mappings: &mut Vec<ElfMapping>,
) -> Result<(), ElfError> {
    let start = page_align(start).ok_or(ElfError::Map(Errno::ENOMEM))?;
    let end = page_align(end).ok_or(ElfError::Map(Errno::ENOMEM))?;
    if end > start {
        let flags = if prot.contains(Prot::EXEC) { VmFlags::EXEC } else { VmFlags::empty() };
        mm.vm_brk_flags(start, end - start, flags).map_err(ElfError::Map)?;
        mappings.push(ElfMapping {
            start,
            end,
            prot: Prot::READ
                | Prot::WRITE
                | if flags.is_empty() { Prot::empty() } else { Prot::EXEC },
            file_offset: None,
        });
    }
    mm.start_brk = end;
    mm.brk = end;
    Ok(())
}

/// The architecture's part of `create_elf_tables()`: the word of its ELF class, what its
/// `ARCH_DLINFO` puts first in the auxiliary vector, and whether it has an
/// `arch_align_stack` (with the random number that moves the stack when randomising).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TablesArch {
    /// The ELF class: `elf_addr_t`'s size (4 or 8 bytes) and `AT_PHENT`.
    pub class: ElfClass,
    /// arm64's `ARCH_DLINFO`: `AT_SYSINFO_EHDR` always (0 without a vDSO), then
    /// `AT_MINSIGSTKSZ` with this value. `None`: ARM's, `AT_SYSINFO_EHDR` only with a vDSO.
    pub minsigstksz: Option<u64>,
    /// arm64's `arch_align_stack`: the stack moved down by the random number modulo a page
    /// (`Some` when randomising), then 16-byte aligned. `None`: the identity (ARM).
    pub align_stack: Option<Option<u32>>,
}

impl TablesArch {
    /// 32-bit ARM: 4-byte words, the vDSO's entry only when there is one, no stack alignment.
    pub const ARM: TablesArch =
        TablesArch { class: ElfClass::Elf32, minsigstksz: None, align_stack: None };
}

/// The inputs of `create_elf_tables()`.
struct CreateElfTables<'a> {
    arg_start: usize,
    argc: usize,
    envc: usize,
    /// argv and envp strings, the filename and the NULL word, as they sit from `arg_start`.
    strings: &'a [u8],
    execfn: usize,
    platform: &'a str,
    at_random: [u8; 16],
    vdso: Option<usize>,
    hwcap: u32,
    hwcap2: u32,
    phdr: usize,
    phnum: u16,
    entry: usize,
    uid: u32,
    gid: u32,
    arch: TablesArch,
}

impl CreateElfTables<'_> {
    /// The stack image from the final stack pointer to `stack_end`, the pointer, and the
    /// auxiliary vector written (without `AT_NULL`).
    fn build(&self, stack_end: usize) -> (usize, Vec<u8>, Vec<(u32, u64)>) {
        let word = self.arch.class.word_size();
        // arch_align_stack(): the identity on ARM; arm64 moves the stack down by up to a page
        // when randomising and aligns it to 16 bytes. The platform string and the random
        // bytes go right below.
        let mut p = self.arg_start;
        if let Some(rnd) = self.arch.align_stack {
            if let Some(r) = rnd {
                p -= r as usize % PAGE_SIZE;
            }
            p &= !15;
        }
        p -= self.platform.len() + 1;
        let u_platform = p;
        p -= self.at_random.len();
        let u_rand_bytes = p;

        let mut auxv: Vec<(u32, u64)> = Vec::with_capacity(AUXV_ENTRIES);
        match self.arch.minsigstksz {
            Some(minsigstksz) => {
                auxv.push((AT_SYSINFO_EHDR, self.vdso.unwrap_or(0) as u64));
                auxv.push((AT_MINSIGSTKSZ, minsigstksz));
            }
            None => {
                if let Some(vdso) = self.vdso {
                    auxv.push((AT_SYSINFO_EHDR, vdso as u64));
                }
            }
        }
        auxv.extend_from_slice(&[
            (AT_HWCAP, u64::from(self.hwcap)),
            (AT_PAGESZ, PAGE_SIZE as u64),
            (AT_CLKTCK, u64::from(USER_HZ)),
            (AT_PHDR, self.phdr as u64),
            (AT_PHENT, self.arch.class.phdr_size() as u64),
            (AT_PHNUM, u64::from(self.phnum)),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, self.entry as u64),
            (AT_UID, u64::from(self.uid)),
            (AT_EUID, u64::from(self.uid)),
            (AT_GID, u64::from(self.gid)),
            (AT_EGID, u64::from(self.gid)),
            (AT_SECURE, 0),
            (AT_RANDOM, u_rand_bytes as u64),
            (AT_HWCAP2, u64::from(self.hwcap2)),
            (AT_EXECFN, self.execfn as u64),
            (AT_PLATFORM, u_platform as u64),
        ]);
        let ei_index = (auxv.len() + 1) * 2;
        let sp = p - ei_index * word;
        let items = (self.argc + 1) + (self.envc + 1) + 1;
        // STACK_ROUND(): 16-byte aligned.
        let sp = (sp - items * word) & !15;

        let mut img = alloc::vec![0u8; stack_end - sp];
        let mut w = sp;
        let put = |img: &mut Vec<u8>, at: &mut usize, v: u64| {
            img[*at - sp..*at - sp + word].copy_from_slice(&v.to_le_bytes()[..word]);
            *at += word;
        };
        put(&mut img, &mut w, self.argc as u64);
        // Pointers to each string, in order, from arg_start.
        let mut s = self.arg_start;
        let mut starts = self.strings.split(|&b| b == 0).map(|part| {
            let here = s;
            s += part.len() + 1;
            here
        });
        for _ in 0..self.argc {
            put(&mut img, &mut w, starts.next().unwrap_or(0) as u64);
        }
        put(&mut img, &mut w, 0);
        for _ in 0..self.envc {
            put(&mut img, &mut w, starts.next().unwrap_or(0) as u64);
        }
        put(&mut img, &mut w, 0);
        for &(k, v) in &auxv {
            put(&mut img, &mut w, u64::from(k));
            put(&mut img, &mut w, v);
        }
        put(&mut img, &mut w, u64::from(AT_NULL));
        put(&mut img, &mut w, 0);
        let at = |a: usize| a - sp;
        img[at(u_rand_bytes)..at(u_rand_bytes) + 16].copy_from_slice(&self.at_random);
        img[at(u_platform)..at(u_platform) + self.platform.len()]
            .copy_from_slice(self.platform.as_bytes());
        img[at(self.arg_start)..at(self.arg_start) + self.strings.len()]
            .copy_from_slice(self.strings);
        (sp, img, auxv)
    }
}

/// Entries `create_elf_tables` puts in the auxiliary vector (at most; AT_NULL not counted).
const AUXV_ENTRIES: usize = 20;

/// A short human description of a loaded image for reports and errors.
pub fn describe(elf: &ElfExecutable) -> String {
    let loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD).count();
    alloc::format!(
        "ELF32 ARM executable, entry {:#x}, {} PT_LOAD, stack {:?}{}",
        elf.ehdr.e_entry,
        loads,
        elf.exec_stack,
        if elf.has_tls { ", TLS" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags `create_elf_tables` writes after `ARCH_DLINFO`'s, in 6.1's order.
    const CREATE_ELF_TABLES_TAGS: [u32; 18] = [
        AT_HWCAP,
        AT_PAGESZ,
        AT_CLKTCK,
        AT_PHDR,
        AT_PHENT,
        AT_PHNUM,
        AT_BASE,
        AT_FLAGS,
        AT_ENTRY,
        AT_UID,
        AT_EUID,
        AT_GID,
        AT_EGID,
        AT_SECURE,
        AT_RANDOM,
        AT_HWCAP2,
        AT_EXECFN,
        AT_PLATFORM,
    ];
    use crate::mm::mm_types::Rlimits;
    use crate::proc::pid::maps::{render_maps, MapsFormat};
    use crate::proc::pid::sample::{output, LAYOUT};
    use alloc::string::String;
    use proptest::prelude::*;

    const TINY: &[u8] = include_bytes!("../../tests/fixtures/tiny");
    /// The reference's `HWCAP` on QEMU's Cortex-A7 (`AT_HWCAP=0x3fb8d6` in layout.txt).
    const HWCAP: u32 = 0x3f_b8d6;
    /// Six environment strings of 67 bytes in all, as busybox's init left them in the
    /// reference (environ[0] to the filename: 0xbeffffad..0xbefffff0).
    const ENV: [&[u8]; 6] =
        [b"HOME=/", b"TERM=linux", b"SHLVL=2", b"PWD=/", b"OLDPWD=/root/x", b"PATH=/usr/sbin:/bin"];

    struct Lcg(u32);
    impl RandomSource for Lcg {
        fn next_u32(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            self.0
        }
    }

    fn load(
        file: &[u8],
        page_offset: usize,
        randomize: u8,
        rng: &mut dyn RandomSource,
    ) -> (MmStruct, Result<LoadedElf, ElfError>) {
        let mut mm = MmStruct::new(crate::arch::memory::arch_mm(page_offset), Rlimits::DEFAULT);
        let argv: [&[u8]; 1] = [b"/bin/tiny"];
        let r = load_elf_binary(
            ElfFile::whole(file),
            ExecParams {
                filename: "/bin/tiny",
                argv: &argv,
                envp: &ENV,
                file: Arc::new(VmFile {
                    pin: None,
                    dev: (0, 2),
                    ino: 39,
                    path: "/bin/tiny".into(),
                }),
                hwcap: HWCAP,
                hwcap2: 0,
                platform: "v7l",
                uid: 0,
                gid: 0,
                randomize_va_space: randomize,
                random: rng,
                vdso: true,
                arch: &ARM_BINFMT,
            },
            &mut mm,
        );
        (mm, r)
    }

    #[test]
    fn env_is_the_references_size() {
        assert_eq!(ENV.iter().map(|e| e.len() + 1).sum::<usize>(), 67);
    }

    #[test]
    fn tiny_maps_equal_the_reference_3g_norandmaps() {
        let (mm, r) = load(TINY, 0xC000_0000, 0, &mut Lcg(1));
        let img = r.unwrap();
        let mut out = String::new();
        render_maps(&mut out, &mm, &MapsFormat::ARM).unwrap();
        // layout.txt, first /bin/tiny run after `echo 0 > randomize_va_space`: 8 maps lines.
        let want: String = output(LAYOUT, "/bin/tiny", 0)
            .lines()
            .take(8)
            .map(|l| String::from(l) + "\n")
            .collect();
        assert_eq!(out, want);
        // The stat fields that do not depend on the binary's exact size (pid 101's line).
        assert_eq!(mm.total_vm * PAGE_SIZE, 163840);
        assert_eq!(mm.start_code, 65536);
        assert_eq!(mm.start_brk, 81920);
        assert_eq!(img.sp, 3204447936);
        assert_eq!(mm.start_stack, 3204447936);
        assert_eq!((mm.arg_start, mm.arg_end), (3204448165, 3204448175));
        assert_eq!((mm.env_start, mm.env_end), (3204448175, 3204448242));
        // This binary: text 0x10000+0xc4, data at 0x110c4 (4 bytes), bss to 0x133f0.
        assert_eq!((mm.end_code, mm.start_data, mm.end_data), (0x100c4, 0x110c4, 0x110c8));
        assert!(!img.randomized && !img.read_implies_exec);
        assert_eq!(img.entry, 0x10095);
        assert_eq!(
            img.mappings,
            [
                ElfMapping {
                    start: 0x10000,
                    end: 0x11000,
                    prot: Prot::READ | Prot::EXEC,
                    file_offset: Some(0)
                },
                ElfMapping {
                    start: 0x11000,
                    end: 0x12000,
                    prot: Prot::READ | Prot::WRITE,
                    file_offset: Some(0)
                },
                ElfMapping {
                    start: 0x12000,
                    end: 0x14000,
                    prot: Prot::READ | Prot::WRITE,
                    file_offset: None
                },
            ]
        );
        assert_eq!(img.zero_ranges, [(0x110c8, 0x12000)]);
        mm.validate().unwrap();
    }

    #[test]
    fn create_elf_tables_writes_linuxs_stack() {
        let (_, r) = load(TINY, 0xC000_0000, 0, &mut Lcg(7));
        let img = r.unwrap();
        let word = |a: usize| {
            u32::from_le_bytes(img.stack[a - img.sp..a - img.sp + 4].try_into().unwrap())
        };
        let arg_start = 0xbeff_ffa5usize;
        // argc, argv, NULL, envp, NULL.
        assert_eq!(word(img.sp), 1);
        assert_eq!(word(img.sp + 4), arg_start as u32);
        assert_eq!(word(img.sp + 8), 0);
        let mut p = arg_start + 10;
        for (i, e) in ENV.iter().enumerate() {
            assert_eq!(word(img.sp + 12 + 4 * i), p as u32);
            p += e.len() + 1;
        }
        assert_eq!(word(img.sp + 12 + 4 * ENV.len()), 0);
        // The auxiliary vector in 6.1's order (ARCH_DLINFO's AT_SYSINFO_EHDR first).
        let tags: alloc::vec::Vec<u32> = img.auxv.iter().map(|&(k, _)| k).collect();
        assert_eq!(tags[0], AT_SYSINFO_EHDR);
        assert_eq!(tags[1..], CREATE_ELF_TABLES_TAGS);
        let aux = |t: u32| img.auxv.iter().find(|&&(k, _)| k == t).unwrap().1 as usize;
        assert_eq!(aux(AT_SYSINFO_EHDR), 0xb6ff_f000);
        assert_eq!(aux(AT_HWCAP), HWCAP as usize);
        assert_eq!(aux(AT_PAGESZ), 4096);
        assert_eq!(aux(AT_CLKTCK), 100);
        assert_eq!(aux(AT_PHDR), 0x10034);
        assert_eq!(aux(AT_PHNUM), 3);
        assert_eq!(aux(AT_ENTRY), 0x10095);
        // layout.txt: argv[0]=0x...9a with AT_RANDOM=0x...86: 4 bytes of "v7l" then 16 random.
        assert_eq!(aux(AT_RANDOM), arg_start - 20);
        assert_eq!(aux(AT_PLATFORM), arg_start - 4);
        assert_eq!(&img.stack[aux(AT_PLATFORM) - img.sp..][..4], b"v7l\0");
        assert_eq!(aux(AT_EXECFN), 0xbeff_fff2);
        assert_eq!(&img.stack[aux(AT_EXECFN) - img.sp..][..10], b"/bin/tiny\0");
        // The auxv ends with AT_NULL right after AT_PLATFORM; the image ends at the stack top.
        let auxv_end = img.sp + 4 * (3 + ENV.len() + 1) + 8 * img.auxv.len();
        assert_eq!((word(auxv_end), word(auxv_end + 4)), (0, 0));
        assert_eq!(img.sp + img.stack.len(), 0xbf00_0000);
        assert_eq!(img.sp % 16, 0);
    }

    #[test]
    fn create_elf_tables_builds_arm64s_stack() {
        use crate::abi::arm64::auxv as a64;
        assert_eq!(u64::from(AT_MINSIGSTKSZ), a64::AT_MINSIGSTKSZ);
        // The strings as load_elf_binary lays them: argv, envp, the filename, a NULL word.
        let mut strings = alloc::vec::Vec::new();
        for s in core::iter::once(&b"/bin/tiny"[..]).chain(ENV) {
            strings.extend_from_slice(s);
            strings.push(0);
        }
        let execfn_offset = strings.len();
        strings.extend_from_slice(b"/bin/tiny\0\0\0\0\0");
        // STACK_TOP at VA_BITS=48, unrandomised.
        let stack_end = 1usize << 48;
        let arg_start = stack_end - strings.len();
        for rnd in [None, Some(0x1234_5678u32)] {
            let t = CreateElfTables {
                arg_start,
                argc: 1,
                envc: ENV.len(),
                strings: &strings,
                execfn: arg_start + execfn_offset,
                platform: a64::ELF_PLATFORM,
                at_random: [7; 16],
                vdso: None,
                hwcap: a64::CORTEX_A53_HWCAP as u32,
                hwcap2: a64::CORTEX_A53_HWCAP2 as u32,
                phdr: 0x40_0040,
                phnum: 6,
                entry: 0x40_0600,
                uid: 0,
                gid: 0,
                arch: TablesArch {
                    class: ElfClass::Elf64,
                    minsigstksz: Some(a64::minsigstksz()),
                    align_stack: Some(rnd),
                },
            };
            let (sp, img, auxv) = t.build(stack_end);
            let q = |a: usize| u64::from_le_bytes(img[a - sp..a - sp + 8].try_into().unwrap());
            // 8-byte argc, argv, NULL, envp, NULL from a 16-byte aligned sp.
            assert_eq!(sp % 16, 0);
            assert_eq!(sp + img.len(), stack_end);
            assert_eq!(q(sp), 1);
            assert_eq!(q(sp + 8), arg_start as u64);
            assert_eq!(q(sp + 16), 0);
            let mut p = arg_start + 10;
            for (i, e) in ENV.iter().enumerate() {
                assert_eq!(q(sp + 24 + 8 * i), p as u64);
                p += e.len() + 1;
            }
            assert_eq!(q(sp + 24 + 8 * ENV.len()), 0);
            // ARCH_DLINFO first: AT_SYSINFO_EHDR (0: no vDSO) and AT_MINSIGSTKSZ.
            let tags: alloc::vec::Vec<u32> = auxv.iter().map(|&(k, _)| k).collect();
            assert_eq!(tags[..2], [AT_SYSINFO_EHDR, AT_MINSIGSTKSZ]);
            assert_eq!(tags[2..], CREATE_ELF_TABLES_TAGS);
            let aux = |t: u32| auxv.iter().find(|&&(k, _)| k == t).unwrap().1 as usize;
            assert_eq!(aux(AT_SYSINFO_EHDR), 0);
            assert_eq!(aux(AT_MINSIGSTKSZ), 4720);
            assert_eq!(aux(AT_HWCAP), 0x8ff);
            assert_eq!(aux(AT_PHENT), 56);
            assert_eq!(aux(AT_PHDR), 0x40_0040);
            // arch_align_stack: down by the random number modulo a page, then to 16 bytes.
            let aligned = (arg_start - rnd.map_or(0, |r| r as usize % PAGE_SIZE)) & !15;
            assert_eq!(aux(AT_PLATFORM), aligned - 8);
            assert_eq!(&img[aux(AT_PLATFORM) - sp..][..8], b"aarch64\0");
            assert_eq!(aux(AT_RANDOM), aligned - 24);
            assert_eq!(&img[aux(AT_RANDOM) - sp..][..16], &[7; 16]);
            assert_eq!(aux(AT_EXECFN), arg_start + execfn_offset);
            // Each entry is two words in the image, as the list says, then AT_NULL.
            let auxv_at = sp + 8 * (3 + ENV.len() + 1);
            for (i, &(k, v)) in auxv.iter().enumerate() {
                assert_eq!((q(auxv_at + 16 * i), q(auxv_at + 16 * i + 8)), (u64::from(k), v));
            }
            let end = auxv_at + 16 * auxv.len();
            assert_eq!((q(end), q(end + 8)), (0, 0));
        }
    }

    #[test]
    fn glibc_mallocs_land_where_the_reference_puts_them() {
        // layout.txt, vmtest with randomisation off: malloc(1 MiB) = 0xb6efc008 (a 0x101000
        // mapping under the vDSO), then mmap(16 pages) = 0xb6eec000.
        let (mut mm, r) = load(TINY, 0xC000_0000, 0, &mut Lcg(1));
        r.unwrap();
        let anon = MapFlags::PRIVATE | MapFlags::ANONYMOUS;
        let rw = Prot::READ | Prot::WRITE;
        assert_eq!(mm.do_mmap(0, 0x101000, rw, anon, None), Ok(0xb6ef_c000));
        assert_eq!(mm.do_mmap(0, 16 * PAGE_SIZE, rw, anon, None), Ok(0xb6ee_c000));
        // With `ulimit -s unlimited` the legacy layout goes bottom-up from TASK_UNMAPPED_BASE:
        // [sigpage] 0x40000000, [vvar], [vdso], then 0x40003000 and 0x40104000.
        let mut mm = MmStruct::new(
            crate::arch::memory::arch_mm(0xC000_0000),
            Rlimits { stack: None, ..Rlimits::DEFAULT },
        );
        let argv: [&[u8]; 1] = [b"/bin/tiny"];
        load_elf_binary(
            ElfFile::whole(TINY),
            ExecParams {
                filename: "/bin/tiny",
                argv: &argv,
                envp: &ENV,
                file: Arc::new(VmFile {
                    pin: None,
                    dev: (0, 2),
                    ino: 39,
                    path: "/bin/tiny".into(),
                }),
                hwcap: HWCAP,
                hwcap2: 0,
                platform: "v7l",
                uid: 0,
                gid: 0,
                randomize_va_space: 0,
                random: &mut Lcg(2),
                vdso: true,
                arch: &ARM_BINFMT,
            },
            &mut mm,
        )
        .unwrap();
        assert_eq!((mm.sigpage, mm.vdso), (0x4000_0000, 0x4000_2000));
        assert_eq!(mm.do_mmap(0, 0x101000, rw, anon, None), Ok(0x4000_3000));
        assert_eq!(mm.do_mmap(0, 16 * PAGE_SIZE, rw, anon, None), Ok(0x4010_4000));
        let stack = mm.iter().find(|v| v.vm_flags.contains(VmFlags::GROWSDOWN)).unwrap();
        assert_eq!((stack.vm_start, stack.vm_end), (0xbefd_f000, 0xbf00_0000));
        mm.validate().unwrap();
    }

    #[test]
    fn layout_by_the_same_rules_on_3g_2g_and_1g() {
        // 3G is the reference's (LINUX_USER_FACTS.md §2): [sigpage] b6ffd000, [vvar] b6ffe000,
        // [vdso] b6fff000-b7000000, [stack] befdf000-bf000000.
        for (po, task) in [
            (0xC000_0000usize, 0xbf00_0000usize),
            (0x8000_0000, 0x7f00_0000),
            (0x4000_0000, 0x3f00_0000),
        ] {
            let (mm, r) = load(TINY, po, 0, &mut Lcg(1));
            r.unwrap();
            let base = task - (128 << 20);
            let spans: alloc::vec::Vec<(usize, usize)> =
                mm.iter().map(|v| (v.vm_start, v.vm_end)).collect();
            assert_eq!(
                spans,
                [
                    (0x10000, 0x11000),
                    (0x11000, 0x12000),
                    (0x12000, 0x14000),
                    (base - 0x3000, base - 0x2000),
                    (base - 0x2000, base - 0x1000),
                    (base - 0x1000, base),
                    (task - 0x21000, task),
                ]
            );
        }
    }

    #[test]
    fn randomised_exec_moves_stack_mmap_sigpage_and_brk() {
        for seed in 0..32 {
            let (mm, r) = load(TINY, 0xC000_0000, 2, &mut Lcg(seed));
            let img = r.unwrap();
            assert!(img.randomized);
            let stack = mm.iter().find(|v| v.vm_flags.contains(VmFlags::GROWSDOWN)).unwrap();
            // STACK_RND_MASK 0x7ff pages below TASK_SIZE at most.
            assert!(stack.vm_end <= 0xbf00_0000 && stack.vm_end > 0xbf00_0000 - (0x800 << 12));
            // mmap_base within 255 pages below 0xb7000000 (8 bits of randomisation).
            assert!(mm.mmap_base <= 0xb700_0000 && mm.mmap_base > 0xb700_0000 - (0x100 << 12));
            // The sigpage sits between the stack and TASK_SIZE when there is room.
            assert!(mm.sigpage >= stack.vm_end || mm.sigpage < mm.mmap_base);
            assert_eq!(mm.vdso, mm.sigpage + 2 * PAGE_SIZE);
            // arm_install_vdso: [vvar] right above [sigpage], [vdso] above it, in one gap.
            let names: alloc::vec::Vec<_> = mm
                .iter()
                .filter(|v| v.vm_start >= mm.sigpage && v.vm_end <= mm.vdso + PAGE_SIZE)
                .map(|v| (v.vm_start - mm.sigpage, v.special))
                .collect();
            assert_eq!(
                names,
                [
                    (0, Some(SpecialMapping::Sigpage)),
                    (PAGE_SIZE, Some(SpecialMapping::Vvar)),
                    (2 * PAGE_SIZE, Some(SpecialMapping::Vdso))
                ]
            );
            // brk moved up within 32 MiB of the bss end; the bss is not [heap] any more.
            assert!(mm.start_brk >= 0x14000 && mm.start_brk < 0x14000 + 0x0200_0000);
            assert_eq!(mm.brk, mm.start_brk);
            mm.validate().unwrap();
        }
    }

    /// A minimal ELF image: header, program headers right after it, `len` bytes in all.
    fn synth(e_type: u16, phdrs: &[Elf32Phdr], len: usize) -> alloc::vec::Vec<u8> {
        let mut b = alloc::vec![0u8; len.max(EHDR_SIZE + PHDR_SIZE * phdrs.len())];
        b[..4].copy_from_slice(&ELFMAG);
        b[EI_CLASS] = ELFCLASS32;
        b[EI_DATA] = ELFDATA2LSB;
        b[6] = 1;
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[18..20].copy_from_slice(&EM_ARM.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..28].copy_from_slice(&0x10054u32.to_le_bytes());
        b[28..32].copy_from_slice(&(EHDR_SIZE as u32).to_le_bytes());
        b[36..40].copy_from_slice(&0x0500_0400u32.to_le_bytes());
        b[40..42].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        b[42..44].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        b[44..46].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, p) in phdrs.iter().enumerate() {
            let o = EHDR_SIZE + i * PHDR_SIZE;
            for (j, v) in [
                p.p_type, p.p_offset, p.p_vaddr, p.p_vaddr, p.p_filesz, p.p_memsz, p.p_flags,
                p.p_align,
            ]
            .into_iter()
            .enumerate()
            {
                b[o + 4 * j..o + 4 * j + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    fn text(vaddr: u32, filesz: u32) -> Elf32Phdr {
        Elf32Phdr {
            p_type: PT_LOAD,
            p_offset: 0,
            p_vaddr: vaddr,
            p_filesz: filesz,
            p_memsz: filesz,
            p_flags: PF_R | PF_X,
            p_align: 0x1000,
        }
    }

    #[test]
    fn the_headers_alone_parse_as_the_whole_file() {
        const TS: usize = 0xbf00_0000;
        let file = synth(ET_EXEC, &[text(0x10000, 0x3000)], 0x3000);
        let (off, len) = phdrs_range(&file).unwrap();
        assert_eq!((off, len), (EHDR_SIZE as u64, PHDR_SIZE));
        let end = off + len as u64;
        let head = ElfFile { head: &file[..end as usize], phdrs: None, size: file.len() as u64 };
        assert_eq!(parse_file(head, TS), parse(&file, TS));
        assert!(parse_file(head, TS).is_ok());
        // The segments are checked against the file's size, not against what was read.
        let short = ElfFile { head: &file[..end as usize], phdrs: None, size: 0x2fff };
        assert_eq!(
            parse_file(short, TS),
            Err(ElfError::SegmentOutsideFile { offset: 0, filesz: 0x3000 })
        );
        // A head without the program headers: they are outside what the loader saw.
        let cut = ElfFile { head: &file[..EHDR_SIZE], phdrs: None, size: file.len() as u64 };
        assert_eq!(parse_file(cut, TS), Err(ElfError::PhdrsOutsideFile));
        // The table read on its own, as load_elf_phdrs reads it: the same executable.
        let table = &file[off as usize..end as usize];
        let apart =
            ElfFile { head: &file[..EHDR_SIZE], phdrs: Some(table), size: file.len() as u64 };
        assert_eq!(parse_file(apart, TS), parse(&file, TS));
        // ... but not a table that would end past the file.
        let past = ElfFile { head: &file[..EHDR_SIZE], phdrs: Some(table), size: end - 1 };
        assert_eq!(parse_file(past, TS), Err(ElfError::PhdrsOutsideFile));
        assert_eq!(phdrs_range(b"#!/bin/sh\n"), None);
        assert_eq!(phdrs_range(&file[..40]), None);
    }

    #[test]
    fn a_table_load_elf_phdrs_refuses_is_never_read() {
        // e_phoff far into the file is read as the table alone; a table of the wrong entry
        // size, none, or more than a page gives no range (the parse reports it from the
        // header, and nothing the size of e_phoff is read).
        let mut file = synth(ET_EXEC, &[text(0x10000, 0x100)], 0x100);
        file[28..32].copy_from_slice(&0x0300_0000u32.to_le_bytes());
        assert_eq!(phdrs_range(&file), Some((0x0300_0000, PHDR_SIZE)));
        let mut bad = file.clone();
        bad[42..44].copy_from_slice(&(PHDR_SIZE as u16 + 1).to_le_bytes());
        assert_eq!(phdrs_range(&bad), None);
        let mut none = file.clone();
        none[44..46].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(phdrs_range(&none), None);
        let mut huge = file.clone();
        huge[44..46].copy_from_slice(&(MAX_PHDRS_SIZE as u16 / PHDR_SIZE as u16 + 1).to_le_bytes());
        assert_eq!(phdrs_range(&huge), None);
    }

    #[test]
    fn every_malformed_header_has_its_error() {
        const TS: usize = 0xbf00_0000;
        let ok = synth(ET_EXEC, &[text(0x10000, 0x100)], 0x100);
        assert!(parse(&ok, TS).is_ok());
        let with = |f: &dyn Fn(&mut alloc::vec::Vec<u8>)| {
            let mut b = ok.clone();
            f(&mut b);
            parse(&b, TS)
        };
        assert_eq!(parse(&ok[..40], TS), Err(ElfError::Truncated));
        assert_eq!(parse(b"#!/bin/sh\n", TS), Err(ElfError::BadMagic));
        assert_eq!(with(&|b| b[0] = 0x7e), Err(ElfError::BadMagic));
        assert_eq!(with(&|b| b[EI_CLASS] = 2), Err(ElfError::BadClass));
        assert_eq!(with(&|b| b[EI_DATA] = 2), Err(ElfError::BadClass));
        assert_eq!(with(&|b| b[16] = 1), Err(ElfError::BadType(1)));
        assert_eq!(with(&|b| b[18] = 3), Err(ElfError::BadMachine { found: 3, expected: EM_ARM }));
        assert_eq!(with(&|b| b[24] = 0x56), Err(ElfError::BadEntry(0x10056)));
        assert_eq!(
            with(&|b| b[36..40].copy_from_slice(&EF_ARM_APCS_26.to_le_bytes())),
            Err(ElfError::Apcs26)
        );
        assert_eq!(with(&|b| b[42] = 56), Err(ElfError::BadPhentsize(56)));
        assert_eq!(with(&|b| b[44] = 0), Err(ElfError::BadPhnum(0)));
        assert_eq!(with(&|b| b[44] = 200), Err(ElfError::BadPhnum(200)));
        assert_eq!(
            with(&|b| b[28..32].copy_from_slice(&0xffff_fff0u32.to_le_bytes())),
            Err(ElfError::PhdrsOutsideFile)
        );
        assert_eq!(ElfError::PhdrsOutsideFile.errno(), Errno::EIO);

        let interp = Elf32Phdr { p_type: PT_INTERP, ..text(0x10000, 0x10) };
        assert_eq!(
            parse(&synth(ET_EXEC, &[interp, text(0x10000, 0x100)], 0x100), TS),
            Err(ElfError::Interpreter)
        );
        assert_eq!(parse(&synth(ET_DYN, &[text(0, 0x100)], 0x100), TS), Err(ElfError::Pie));
        assert_eq!(ElfError::Pie.errno(), Errno::ENOEXEC);
        let bad = Elf32Phdr { p_offset: 0x10, ..text(0x10000, 0x10) };
        assert_eq!(
            parse(&synth(ET_EXEC, &[bad], 0x100), TS),
            Err(ElfError::MisalignedSegment { vaddr: 0x10000, offset: 0x10 })
        );
        let bad = Elf32Phdr { p_memsz: 0x8, ..text(0x10000, 0x10) };
        assert!(matches!(
            parse(&synth(ET_EXEC, &[bad], 0x100), TS),
            Err(ElfError::BadSegment { .. })
        ));
        assert!(matches!(
            parse(&synth(ET_EXEC, &[text(0xbf00_0000, 0x10)], 0x100), TS),
            Err(ElfError::BadSegment { .. })
        ));
        let huge = Elf32Phdr { p_memsz: 0xffff_f000, ..text(0x10000, 0x10) };
        assert!(matches!(
            parse(&synth(ET_EXEC, &[huge], 0x100), TS),
            Err(ElfError::BadSegment { .. })
        ));
        assert_eq!(ElfError::BadSegment { vaddr: 0, filesz: 0, memsz: 0 }.errno(), Errno::EINVAL);
        assert_eq!(
            parse(&synth(ET_EXEC, &[text(0x10000, 0x1000)], 0x100), TS),
            Err(ElfError::SegmentOutsideFile { offset: 0, filesz: 0x1000 })
        );
        let stack = Elf32Phdr { p_type: PT_GNU_STACK, ..text(0, 0) };
        assert_eq!(parse(&synth(ET_EXEC, &[stack], 0x100), TS), Err(ElfError::NoLoadSegment));
    }

    #[test]
    fn no_gnu_stack_means_read_implies_exec() {
        let elf = synth(ET_EXEC, &[text(0x10000, 0x100)], 0x100);
        let (mm, r) = load(&elf, 0xC000_0000, 0, &mut Lcg(3));
        let img = r.unwrap();
        assert!(img.read_implies_exec);
        let stack = mm.iter().find(|v| v.vm_flags.contains(VmFlags::GROWSDOWN)).unwrap();
        assert!(stack.vm_flags.contains(VmFlags::EXEC));
        let tls = Elf32Phdr { p_type: PT_TLS, ..text(0x10000, 0x10) };
        let x = Elf32Phdr { p_type: PT_GNU_STACK, p_flags: PF_R | PF_W | PF_X, ..text(0, 0) };
        let parsed =
            parse(&synth(ET_EXEC, &[text(0x10000, 0x100), tls, x], 0x100), 0xbf00_0000).unwrap();
        assert!(parsed.has_tls);
        assert_eq!(parsed.exec_stack, ExecStack::EnableX);
        assert!(describe(&parsed).contains("TLS"));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let mut mm = MmStruct::new(crate::arch::memory::arch_mm(0xC000_0000), Rlimits::DEFAULT);
        let argv: [&[u8]; 1] = [b"a\0b"];
        let r = load_elf_binary(
            ElfFile::whole(TINY),
            ExecParams {
                filename: "/bin/tiny",
                argv: &argv,
                envp: &[],
                file: Arc::new(VmFile {
                    pin: None,
                    dev: (0, 2),
                    ino: 39,
                    path: "/bin/tiny".into(),
                }),
                hwcap: 0,
                hwcap2: 0,
                platform: "v7l",
                uid: 0,
                gid: 0,
                randomize_va_space: 0,
                random: &mut Lcg(0),
                vdso: false,
                arch: &ARM_BINFMT,
            },
            &mut mm,
        );
        assert_eq!(r, Err(ElfError::BadArgument));
        assert_eq!(mm.map_count(), 0);
    }

    proptest! {
        /// Truncated or corrupted executables never panic the parser, and a loaded one always
        /// leaves a consistent address space.
        #[test]
        fn corrupted_executables_never_panic(cut in 0usize..1200, flips in proptest::collection::vec((0usize..1140, any::<u8>()), 0..6)) {
            let mut b = TINY[..cut.min(TINY.len())].to_vec();
            for (at, v) in flips {
                if at < b.len() {
                    b[at] = v;
                }
            }
            let (mm, r) = load(&b, 0xC000_0000, 0, &mut Lcg(5));
            if r.is_ok() {
                mm.validate().map_err(TestCaseError::fail)?;
            }
        }
    }
}
