//! The vDSO as user space sees it: an ELF shared object named `linux-vdso.so.1` whose
//! `.dynsym` defines the architecture's functions in one version node (ARM's `LINUX_2.6`,
//! arm64's `LINUX_2.6.39`), which the C library looks up by name and version. The boot-time
//! check both kernels make of their image before mapping it (`vdso_init` and `patch_vdso`'s
//! lookups), for either ELF class, and `vdso_nullpatch_one`. Pure and host-tested against the
//! images build.rs makes (`arch::{arm,arm64}::vdso`).
use alloc::vec::Vec;

use crate::fs::binfmt_elf::ElfClass;

/// The soname (`DT_SONAME`) every vDSO has.
pub const VDSO_SONAME: &str = "linux-vdso.so.1";

const PAGE_SIZE: usize = 4096;
const ELFMAG: &[u8; 4] = b"\x7fELF";
const ELFDATA2LSB: u8 = 1;
const ET_DYN: u16 = 3;
const SHT_DYNSYM: u32 = 11;
const SHT_DYNAMIC: u32 = 6;
const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;
const DT_NULL: u64 = 0;
const DT_SONAME: u64 = 14;
const STT_FUNC: u8 = 2;
const STB_GLOBAL: u8 = 1;
/// `VER_FLG_BASE`: the verdef entry naming the object itself.
const VER_FLG_BASE: u16 = 1;

/// What an architecture's image must be.
#[derive(Clone, Copy, Debug)]
pub struct VdsoSpec {
    pub class: ElfClass,
    pub machine: u16,
    /// The version node the functions are defined in.
    pub version: &'static str,
    /// The functions the C library looks up.
    pub symbols: &'static [&'static str],
}

/// Why the image was refused (the kernel then maps no vDSO, as 6.1 does on `-ENOEXEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdsoError {
    /// Not `\x7fELF` (`vdso_init`: "VDSO is not a valid ELF object!").
    NotElf,
    /// Not a little-endian shared object of the architecture's class and machine.
    NotArchDyn,
    /// A section header, string or symbol lies outside the image.
    Truncated,
    /// No `.dynsym`/`.dynstr` (`patch_vdso`: "no dynsym").
    NoDynsym,
    /// A function the C library looks up is not defined (or not a global function in the
    /// text).
    MissingSymbol(&'static str),
    /// The soname or the version definition is missing.
    BadVersion,
    /// A function's code is not what the kernel expects there (arm64's sigreturn trampoline).
    BadCode(&'static str),
}

/// What `vdso_init` found: the pages of code and where each exported function sits in the
/// image (in [`VdsoSpec::symbols`]' order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdsoInfo {
    pub text_pages: usize,
    pub symbols: Vec<(&'static str, u64)>,
}

impl VdsoInfo {
    /// The offset of `name` in the image.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|s| s.0 == name).map(|s| s.1)
    }
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, VdsoError> {
    b.get(off..off + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(VdsoError::Truncated)
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, VdsoError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(VdsoError::Truncated)
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, VdsoError> {
    Ok(u64::from(u32_at(b, off)?) | u64::from(u32_at(b, off + 4)?) << 32)
}

/// An `ElfN_Addr`/`ElfN_Off`/`ElfN_Xword`-sized field of `class` at `off`.
fn word_at(class: ElfClass, b: &[u8], off: usize) -> Result<u64, VdsoError> {
    match class {
        ElfClass::Elf32 => u32_at(b, off).map(u64::from),
        ElfClass::Elf64 => u64_at(b, off),
    }
}

fn usize_of(v: u64) -> Result<usize, VdsoError> {
    usize::try_from(v).map_err(|_| VdsoError::Truncated)
}

/// The NUL-terminated string at `off` of a string table.
fn c_str(b: &[u8], off: usize) -> Result<&[u8], VdsoError> {
    let s = b.get(off..).ok_or(VdsoError::Truncated)?;
    let end = s.iter().position(|&c| c == 0).ok_or(VdsoError::Truncated)?;
    Ok(&s[..end])
}

/// One section header: (name offset, type, offset, size, link).
#[derive(Clone, Copy)]
struct Shdr {
    name: u32,
    sh_type: u32,
    offset: usize,
    size: usize,
    link: u32,
}

/// The image's sections, as `find_section` walks them.
struct Elf<'a> {
    b: &'a [u8],
    class: ElfClass,
    shdrs: Vec<Shdr>,
    shstrndx: usize,
}

impl<'a> Elf<'a> {
    fn parse(b: &'a [u8], spec: &VdsoSpec) -> Result<Self, VdsoError> {
        if b.get(..4) != Some(&ELFMAG[..]) {
            return Err(VdsoError::NotElf);
        }
        let class = spec.class;
        if b.get(4) != Some(&class.ident())
            || b.get(5) != Some(&ELFDATA2LSB)
            || u16_at(b, 16)? != ET_DYN
            || u16_at(b, 18)? != spec.machine
        {
            return Err(VdsoError::NotArchDyn);
        }
        // e_shoff follows e_entry and e_phoff; e_shnum and e_shstrndx end the header.
        let w = class.word_size();
        let shoff = usize_of(word_at(class, b, 24 + 2 * w)?)?;
        let ehdr = class.ehdr_size();
        let shnum = u16_at(b, ehdr - 4)? as usize;
        let shstrndx = u16_at(b, ehdr - 2)? as usize;
        // Elf32_Shdr: ten words; Elf64_Shdr: sh_flags, sh_addr, sh_offset, sh_size widen.
        let (shdr_size, off_at, size_at, link_at) = match class {
            ElfClass::Elf32 => (40, 16, 20, 24),
            ElfClass::Elf64 => (64, 24, 32, 40),
        };
        let mut shdrs = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff.checked_add(i * shdr_size).ok_or(VdsoError::Truncated)?;
            let s = Shdr {
                name: u32_at(b, h)?,
                sh_type: u32_at(b, h + 4)?,
                offset: usize_of(word_at(class, b, h + off_at)?)?,
                size: usize_of(word_at(class, b, h + size_at)?)?,
                link: u32_at(b, h + link_at)?,
            };
            if s.offset.checked_add(s.size).is_none_or(|end| end > b.len()) {
                return Err(VdsoError::Truncated);
            }
            shdrs.push(s);
        }
        if shstrndx >= shdrs.len() {
            return Err(VdsoError::Truncated);
        }
        Ok(Elf { b, class, shdrs, shstrndx })
    }

    fn bytes(&self, s: &Shdr) -> &'a [u8] {
        &self.b[s.offset..s.offset + s.size]
    }

    /// `find_section`: the section called `name`.
    fn section(&self, name: &str) -> Option<Shdr> {
        let strtab = self.bytes(&self.shdrs[self.shstrndx]);
        self.shdrs
            .iter()
            .find(|s| c_str(strtab, s.name as usize).is_ok_and(|n| n == name.as_bytes()))
            .copied()
    }

    fn section_of_type(&self, t: u32) -> Option<Shdr> {
        self.shdrs.iter().find(|s| s.sh_type == t).copied()
    }

    /// `sizeof(ElfN_Sym)` and where `st_value`, `st_info` and `st_shndx` sit in it.
    fn sym_layout(&self) -> (usize, usize, usize, usize) {
        match self.class {
            ElfClass::Elf32 => (16, 4, 12, 14),
            ElfClass::Elf64 => (24, 8, 4, 6),
        }
    }
}

/// `find_symbol`: the index and value of the global function `name` in `.dynsym`.
fn find_symbol(elf: &Elf<'_>, name: &str) -> Result<Option<(usize, u64)>, VdsoError> {
    let dynsym = elf.section(".dynsym").filter(|s| s.sh_type == SHT_DYNSYM);
    let dynstr = elf.section(".dynstr");
    let (Some(dynsym), Some(dynstr)) = (dynsym, dynstr) else {
        return Err(VdsoError::NoDynsym);
    };
    let (syms, strs) = (elf.bytes(&dynsym), elf.bytes(&dynstr));
    let (size, value_at, info_at, shndx_at) = elf.sym_layout();
    for i in 0..syms.len() / size {
        let s = &syms[i * size..][..size];
        let st_name = u32_at(s, 0)? as usize;
        if st_name == 0 || c_str(strs, st_name)? != name.as_bytes() {
            continue;
        }
        let info = s[info_at];
        let shndx = u16_at(s, shndx_at)?;
        if info >> 4 != STB_GLOBAL || info & 0xf != STT_FUNC || shndx == 0 {
            return Ok(None);
        }
        return Ok(Some((i, word_at(elf.class, s, value_at)?)));
    }
    Ok(None)
}

/// The version index (`vd_ndx`) of the `.gnu.version_d` entry named `name`, if the object's
/// base entry is `soname` too. `ElfN_Verdef` and `ElfN_Verdaux` are the same in both classes.
fn verdef_index(elf: &Elf<'_>, soname: &str, name: &str) -> Result<Option<u16>, VdsoError> {
    let Some(vd) = elf.section_of_type(SHT_GNU_VERDEF) else { return Ok(None) };
    let strs = elf.bytes(elf.shdrs.get(vd.link as usize).ok_or(VdsoError::Truncated)?);
    let b = elf.bytes(&vd);
    let (mut off, mut base_ok, mut found) = (0usize, false, None);
    loop {
        // Verdef: version, flags, ndx, cnt, hash, aux, next; then Verdaux.
        let flags = u16_at(b, off + 2)?;
        let ndx = u16_at(b, off + 4)?;
        let aux = u32_at(b, off + 12)? as usize;
        let next = u32_at(b, off + 16)? as usize;
        let vda_name = u32_at(b, off + aux)? as usize;
        let n = c_str(strs, vda_name)?;
        if flags & VER_FLG_BASE != 0 {
            base_ok = n == soname.as_bytes();
        } else if n == name.as_bytes() {
            found = Some(ndx);
        }
        if next == 0 {
            break;
        }
        off += next;
    }
    Ok(found.filter(|_| base_ok))
}

/// `DT_SONAME` from the dynamic section (`ElfN_Dyn`: two words).
fn soname<'a>(elf: &Elf<'a>) -> Result<Option<&'a [u8]>, VdsoError> {
    let (Some(dynamic), Some(dynstr)) = (elf.section_of_type(SHT_DYNAMIC), elf.section(".dynstr"))
    else {
        return Ok(None);
    };
    let d = elf.bytes(&dynamic);
    let w = elf.class.word_size();
    for e in d.chunks_exact(2 * w) {
        match word_at(elf.class, e, 0)? {
            DT_NULL => break,
            DT_SONAME => {
                let at = usize_of(word_at(elf.class, e, w)?)?;
                return c_str(elf.bytes(&dynstr), at).map(Some);
            }
            _ => {}
        }
    }
    Ok(None)
}

/// `vdso_init` + `patch_vdso`'s lookups: the image is a shared object of `spec`'s class and
/// machine named `linux-vdso.so.1` whose `.dynsym` defines each of `spec.symbols` as a
/// function of `spec.version`.
pub fn check(image: &[u8], spec: &VdsoSpec) -> Result<VdsoInfo, VdsoError> {
    let elf = Elf::parse(image, spec)?;
    let ver = verdef_index(&elf, VDSO_SONAME, spec.version)?;
    if soname(&elf)? != Some(VDSO_SONAME.as_bytes()) {
        return Err(VdsoError::BadVersion);
    }
    let ver = ver.ok_or(VdsoError::BadVersion)?;
    let versym = elf.section_of_type(SHT_GNU_VERSYM).map(|s| elf.bytes(&s));
    let mut symbols = Vec::with_capacity(spec.symbols.len());
    for &name in spec.symbols {
        let (idx, value) = find_symbol(&elf, name)?.ok_or(VdsoError::MissingSymbol(name))?;
        // The symbol's version (hidden bit masked) must be the node's index.
        let v = versym.map(|vs| u16_at(vs, idx * 2)).transpose()?.map(|v| v & 0x7fff);
        if v != Some(ver) || value >= image.len() as u64 {
            return Err(VdsoError::MissingSymbol(name));
        }
        symbols.push((name, value));
    }
    Ok(VdsoInfo { text_pages: image.len().div_ceil(PAGE_SIZE), symbols })
}

/// `vdso_nullpatch_one`: hides `name` from symbol lookups (its `st_name` set to 0), what
/// 6.1 does to the time functions when the virtual counter is not usable, so that libc
/// calls the kernel directly. False when the symbol is not there.
pub fn nullpatch_one(image: &mut [u8], spec: &VdsoSpec, name: &str) -> bool {
    let Ok(elf) = Elf::parse(image, spec) else { return false };
    let (Ok(Some((idx, _))), Some(dynsym)) = (find_symbol(&elf, name), elf.section(".dynsym"))
    else {
        return false;
    };
    let at = dynsym.offset + idx * elf.sym_layout().0;
    image[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    true
}
