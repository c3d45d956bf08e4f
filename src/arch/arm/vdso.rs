//! ARM's vDSO (Linux 6.1's arch/arm/kernel/vdso.c): the image built from `vdso/` at build
//! time (build.rs, with the project's cross compiler), the boot-time check `vdso_init` makes
//! of it (ELF magic, the dynamic symbols it must export, the pages it takes), and the clock
//! mode the timekeeping writes into the `[vvar]` page for it. The image reads the generic
//! timer's virtual counter from user space (`CNTVCT`, allowed by `CNTKCTL.PL0VCTEN`, which
//! `arch_timer` sets as Linux's `arch_counter_set_user_access` does). Pure: the host tests
//! check the same image the kernel maps.

/// The vDSO shared object (`vdso.so`, linked at 0; `[vdso]` maps it, `[vvar]` sits one page
/// below).
pub static VDSO_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

/// The functions the image exports in version `LINUX_2.6` (what glibc looks up).
pub const VDSO_SYMBOLS: [&str; 4] = [
    "__vdso_gettimeofday",
    "__vdso_clock_gettime",
    "__vdso_clock_gettime64",
    "__vdso_clock_getres",
];

/// The version node the symbols are defined in.
pub const VDSO_VERSION: &str = "LINUX_2.6";

/// The soname (`DT_SONAME`).
pub const VDSO_SONAME: &str = "linux-vdso.so.1";

/// `VDSO_CLOCKMODE_ARCHTIMER` (asm/vdso/clocksource.h): the vDSO may read `CNTVCT`.
pub const VDSO_CLOCKMODE_ARCHTIMER: i32 = 1;

const PAGE_SIZE: usize = 4096;
const ELFMAG: &[u8; 4] = b"\x7fELF";
const ELFCLASS32: u8 = 1;
const ELFDATA2LSB: u8 = 1;
const ET_DYN: u16 = 3;
const EM_ARM: u16 = 40;
const SHT_DYNSYM: u32 = 11;
const SHT_DYNAMIC: u32 = 6;
const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;
const DT_NULL: u32 = 0;
const DT_SONAME: u32 = 14;
const SHDR_SIZE: usize = 40;
const SYM_SIZE: usize = 16;
const STT_FUNC: u8 = 2;
const STB_GLOBAL: u8 = 1;
/// `VER_FLG_BASE`: the verdef entry naming the object itself.
const VER_FLG_BASE: u16 = 1;

/// Why the image was refused (the kernel then maps no vDSO, as 6.1 does on `-ENOEXEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdsoError {
    /// Not `\x7fELF` (`vdso_init`: "VDSO is not a valid ELF object!").
    NotElf,
    /// Not a 32-bit little-endian ARM shared object.
    NotArmDyn,
    /// A section header, string or symbol lies outside the image.
    Truncated,
    /// No `.dynsym`/`.dynstr` (`patch_vdso`: "no dynsym").
    NoDynsym,
    /// A function glibc looks up is not defined (or not a global function in the text).
    MissingSymbol(&'static str),
    /// The soname or the `LINUX_2.6` version definition is missing.
    BadVersion,
}

/// What `vdso_init` found: the pages of code (`vdso_total_pages` is one more, the data
/// page) and where each exported function sits in the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdsoInfo {
    pub text_pages: usize,
    pub symbols: [(&'static str, u32); 4],
}

impl VdsoInfo {
    /// `vdso_total_pages`: the `[vvar]` page and the text.
    pub fn total_pages(&self) -> usize {
        1 + self.text_pages
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
    shdrs: alloc::vec::Vec<Shdr>,
    shstrndx: usize,
}

impl<'a> Elf<'a> {
    fn parse(b: &'a [u8]) -> Result<Self, VdsoError> {
        if b.get(..4) != Some(&ELFMAG[..]) {
            return Err(VdsoError::NotElf);
        }
        if b.get(4) != Some(&ELFCLASS32)
            || b.get(5) != Some(&ELFDATA2LSB)
            || u16_at(b, 16)? != ET_DYN
            || u16_at(b, 18)? != EM_ARM
        {
            return Err(VdsoError::NotArmDyn);
        }
        let shoff = u32_at(b, 32)? as usize;
        let shnum = u16_at(b, 48)? as usize;
        let shstrndx = u16_at(b, 50)? as usize;
        let mut shdrs = alloc::vec::Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff.checked_add(i * SHDR_SIZE).ok_or(VdsoError::Truncated)?;
            let s = Shdr {
                name: u32_at(b, h)?,
                sh_type: u32_at(b, h + 4)?,
                offset: u32_at(b, h + 16)? as usize,
                size: u32_at(b, h + 20)? as usize,
                link: u32_at(b, h + 24)?,
            };
            if s.offset.checked_add(s.size).is_none_or(|end| end > b.len()) {
                return Err(VdsoError::Truncated);
            }
            shdrs.push(s);
        }
        if shstrndx >= shdrs.len() {
            return Err(VdsoError::Truncated);
        }
        Ok(Elf { b, shdrs, shstrndx })
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
}

/// `find_symbol`: the index and value of the global function `name` in `.dynsym`.
fn find_symbol(elf: &Elf<'_>, name: &str) -> Result<Option<(usize, u32, u16)>, VdsoError> {
    let dynsym = elf.section(".dynsym").filter(|s| s.sh_type == SHT_DYNSYM);
    let dynstr = elf.section(".dynstr");
    let (Some(dynsym), Some(dynstr)) = (dynsym, dynstr) else {
        return Err(VdsoError::NoDynsym);
    };
    let (syms, strs) = (elf.bytes(&dynsym), elf.bytes(&dynstr));
    for i in 0..syms.len() / SYM_SIZE {
        let s = &syms[i * SYM_SIZE..][..SYM_SIZE];
        let st_name = u32_at(s, 0)? as usize;
        if st_name == 0 || c_str(strs, st_name)? != name.as_bytes() {
            continue;
        }
        let info = s[12];
        let shndx = u16_at(s, 14)?;
        if info >> 4 != STB_GLOBAL || info & 0xf != STT_FUNC || shndx == 0 {
            return Ok(None);
        }
        return Ok(Some((i, u32_at(s, 4)?, shndx)));
    }
    Ok(None)
}

/// The version index (`vd_ndx`) of the `.gnu.version_d` entry named `name`, if the object's
/// base entry is `soname` too.
fn verdef_index(elf: &Elf<'_>, soname: &str, name: &str) -> Result<Option<u16>, VdsoError> {
    let Some(vd) = elf.section_of_type(SHT_GNU_VERDEF) else { return Ok(None) };
    let strs = elf.bytes(elf.shdrs.get(vd.link as usize).ok_or(VdsoError::Truncated)?);
    let b = elf.bytes(&vd);
    let (mut off, mut base_ok, mut found) = (0usize, false, None);
    loop {
        // Elf32_Verdef: version, flags, ndx, cnt, hash, aux, next; then Elf32_Verdaux.
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

/// `DT_SONAME` from the dynamic section.
fn soname<'a>(elf: &Elf<'a>) -> Result<Option<&'a [u8]>, VdsoError> {
    let (Some(dynamic), Some(dynstr)) = (elf.section_of_type(SHT_DYNAMIC), elf.section(".dynstr"))
    else {
        return Ok(None);
    };
    let d = elf.bytes(&dynamic);
    for e in d.chunks_exact(8) {
        match u32_at(e, 0)? {
            DT_NULL => break,
            DT_SONAME => return c_str(elf.bytes(&dynstr), u32_at(e, 4)? as usize).map(Some),
            _ => {}
        }
    }
    Ok(None)
}

/// `vdso_init` + `patch_vdso`'s lookups: the image is a 32-bit ARM ELF shared object named
/// `linux-vdso.so.1` whose `.dynsym` defines each of [`VDSO_SYMBOLS`] as a function of
/// version `LINUX_2.6`.
pub fn vdso_init(image: &[u8]) -> Result<VdsoInfo, VdsoError> {
    let elf = Elf::parse(image)?;
    let ver = verdef_index(&elf, VDSO_SONAME, VDSO_VERSION)?;
    if soname(&elf)? != Some(VDSO_SONAME.as_bytes()) {
        return Err(VdsoError::BadVersion);
    }
    let ver = ver.ok_or(VdsoError::BadVersion)?;
    let versym = elf.section_of_type(SHT_GNU_VERSYM).map(|s| elf.bytes(&s));
    let mut symbols = [("", 0u32); 4];
    for (slot, name) in symbols.iter_mut().zip(VDSO_SYMBOLS) {
        let (idx, value, _) = find_symbol(&elf, name)?.ok_or(VdsoError::MissingSymbol(name))?;
        // The symbol's version (hidden bit masked) must be LINUX_2.6's index.
        let v = versym.map(|vs| u16_at(vs, idx * 2)).transpose()?.map(|v| v & 0x7fff);
        if v != Some(ver) || value as usize >= image.len() {
            return Err(VdsoError::MissingSymbol(name));
        }
        *slot = (name, value);
    }
    Ok(VdsoInfo { text_pages: image.len().div_ceil(PAGE_SIZE), symbols })
}

/// `vdso_nullpatch_one`: hides `name` from symbol lookups (its `st_name` set to 0), what
/// 6.1 does to the time functions when the virtual counter is not usable, so that libc
/// calls the kernel directly. False when the symbol is not there.
pub fn vdso_nullpatch_one(image: &mut [u8], name: &str) -> bool {
    let Ok(elf) = Elf::parse(image) else { return false };
    let (Ok(Some((idx, _, _))), Some(dynsym)) = (find_symbol(&elf, name), elf.section(".dynsym"))
    else {
        return false;
    };
    let at = dynsym.offset + idx * SYM_SIZE;
    image[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_image_passes_vdso_init() {
        let info = vdso_init(VDSO_IMAGE).unwrap();
        // One page of code: with [sigpage] and [vvar], the three pages Linux maps.
        assert_eq!(info.text_pages, 1);
        assert_eq!(info.total_pages(), 2);
        for (name, value) in info.symbols {
            assert!(VDSO_SYMBOLS.contains(&name));
            // In the text, past the headers, ARM (not Thumb) code: word-aligned.
            assert!(value > 0x40 && (value as usize) < VDSO_IMAGE.len() && value % 4 == 0);
        }
        // The symbol values are distinct functions.
        let mut v: alloc::vec::Vec<u32> = info.symbols.iter().map(|s| s.1).collect();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn the_image_has_no_relocations_and_one_loadable_segment_at_zero() {
        let elf = Elf::parse(VDSO_IMAGE).unwrap();
        // No .rel.dyn: the code reaches [vvar] PC-relatively.
        assert!(elf.shdrs.iter().all(|s| s.sh_type != 9 && s.sh_type != 4));
        let phoff = u32_at(VDSO_IMAGE, 28).unwrap() as usize;
        let phnum = u16_at(VDSO_IMAGE, 44).unwrap() as usize;
        let loads: alloc::vec::Vec<(u32, u32)> = (0..phnum)
            .map(|i| phoff + i * 32)
            .filter(|&p| u32_at(VDSO_IMAGE, p).unwrap() == 1)
            .map(|p| (u32_at(VDSO_IMAGE, p + 8).unwrap(), u32_at(VDSO_IMAGE, p + 24).unwrap()))
            .collect();
        // PT_LOAD at vaddr 0, R+X.
        assert_eq!(loads, [(0, 5)]);
    }

    #[test]
    fn a_bad_image_is_refused() {
        let mut img = VDSO_IMAGE.to_vec();
        img[0] = 0;
        assert_eq!(vdso_init(&img), Err(VdsoError::NotElf));
        let mut img = VDSO_IMAGE.to_vec();
        img[18] = 3; // EM_386
        assert_eq!(vdso_init(&img), Err(VdsoError::NotArmDyn));
        assert_eq!(vdso_init(&VDSO_IMAGE[..100]), Err(VdsoError::Truncated));
        assert_eq!(vdso_init(&[]), Err(VdsoError::NotElf));
        // A symbol hidden as vdso_nullpatch_one hides it is missing.
        let mut img = VDSO_IMAGE.to_vec();
        assert!(vdso_nullpatch_one(&mut img, "__vdso_clock_gettime64"));
        assert_eq!(vdso_init(&img), Err(VdsoError::MissingSymbol("__vdso_clock_gettime64")));
        assert!(!vdso_nullpatch_one(&mut img, "__vdso_clock_gettime64"));
        assert!(!vdso_nullpatch_one(&mut img, "__vdso_time"));
        // Any one byte changed in the headers or tables: refused or still consistent, never
        // a panic.
        for at in 0..0x300.min(VDSO_IMAGE.len()) {
            let mut img = VDSO_IMAGE.to_vec();
            img[at] ^= 0xff;
            let _ = vdso_init(&img);
        }
    }
}
