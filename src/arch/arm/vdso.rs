//! ARM's vDSO (Linux 6.1's arch/arm/kernel/vdso.c): the image built from `vdso/` at build
//! time (build.rs, with the project's cross compiler), the boot-time check `vdso_init` makes
//! of it (`abi::vdso`: ELF magic, the dynamic symbols it must export, the pages it takes),
//! and the clock mode the timekeeping writes into the `[vvar]` page for it. The image reads
//! the generic timer's virtual counter from user space (`CNTVCT`, allowed by
//! `CNTKCTL.PL0VCTEN`, which `arch_timer` sets as Linux's `arch_counter_set_user_access`
//! does). Pure: the host tests check the same image the kernel maps.

/// The vDSO shared object (`vdso.so`, linked at 0; `[vdso]` maps it, `[vvar]` sits one page
/// below).
pub static VDSO_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

use crate::abi::vdso::{check, nullpatch_one, VdsoSpec};
pub use crate::abi::vdso::{VdsoError, VdsoInfo};
use crate::fs::binfmt_elf::{ElfClass, EM_ARM};

/// The functions the image exports in version `LINUX_2.6` (what glibc looks up).
pub const VDSO_SYMBOLS: [&str; 4] = [
    "__vdso_gettimeofday",
    "__vdso_clock_gettime",
    "__vdso_clock_gettime64",
    "__vdso_clock_getres",
];

/// The signal return trampoline in the image: none, ARM's is in the sigpage.
pub const SIGTRAMP: Option<&str> = None;

/// The version node the symbols are defined in.
pub const VDSO_VERSION: &str = "LINUX_2.6";

/// `VDSO_CLOCKMODE_ARCHTIMER` (asm/vdso/clocksource.h): the vDSO may read `CNTVCT`.
pub const VDSO_CLOCKMODE_ARCHTIMER: i32 = 1;

/// What `vdso_init` requires of ARM's image.
pub const SPEC: VdsoSpec = VdsoSpec {
    class: ElfClass::Elf32,
    machine: EM_ARM,
    version: VDSO_VERSION,
    symbols: &VDSO_SYMBOLS,
};

/// `vdso_init` + `patch_vdso`'s lookups: the image is a 32-bit ARM ELF shared object named
/// `linux-vdso.so.1` whose `.dynsym` defines each of [`VDSO_SYMBOLS`] as a function of
/// version `LINUX_2.6`.
pub fn vdso_init(image: &[u8]) -> Result<VdsoInfo, VdsoError> {
    check(image, &SPEC)
}

/// `vdso_nullpatch_one` on ARM's image.
pub fn vdso_nullpatch_one(image: &mut [u8], name: &str) -> bool {
    nullpatch_one(image, &SPEC, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_image_passes_vdso_init() {
        let info = vdso_init(VDSO_IMAGE).unwrap();
        // One page of code: with [sigpage] and [vvar], the three pages Linux maps.
        assert_eq!(info.text_pages, crate::fs::binfmt_elf::VDSO_TEXT_PAGES);
        for &(name, value) in &info.symbols {
            assert!(VDSO_SYMBOLS.contains(&name));
            // In the text, past the headers, ARM (not Thumb) code: word-aligned.
            assert!(value > 0x40 && (value as usize) < VDSO_IMAGE.len() && value % 4 == 0);
        }
        // The symbol values are distinct functions.
        let mut v: alloc::vec::Vec<u64> = info.symbols.iter().map(|s| s.1).collect();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn the_image_has_no_relocations_and_one_loadable_segment_at_zero() {
        let u16_at = |o: usize| u16::from_le_bytes([VDSO_IMAGE[o], VDSO_IMAGE[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(VDSO_IMAGE[o..o + 4].try_into().unwrap());
        // No .rel.dyn: the code reaches [vvar] PC-relatively.
        let (shoff, shnum) = (u32_at(32) as usize, u16_at(48) as usize);
        assert!((0..shnum).all(|i| ![4, 9].contains(&u32_at(shoff + 40 * i + 4))));
        let phoff = u32_at(28) as usize;
        let phnum = u16_at(44) as usize;
        let loads: alloc::vec::Vec<(u32, u32)> = (0..phnum)
            .map(|i| phoff + i * 32)
            .filter(|&p| u32_at(p) == 1)
            .map(|p| (u32_at(p + 8), u32_at(p + 24)))
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
        assert_eq!(vdso_init(&img), Err(VdsoError::NotArchDyn));
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
