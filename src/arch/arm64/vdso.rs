//! arm64's vDSO (Linux 6.1's arch/arm64/kernel/vdso.c): the image built from `vdso/` at build
//! time (build.rs, with `aarch64-linux-gnu-gcc`), and the boot-time check `vdso_init` makes of
//! it (`abi::vdso`: an ELF64 AArch64 shared object exporting `__kernel_rt_sigreturn` and the
//! three time functions in version `LINUX_2.6.39`, as glibc looks them up), plus the
//! trampoline's words checked against the ones `abi::arm64::vdso` encodes (what the signal
//! code returns through). The time functions read `[vvar]`, two pages below the code, and the
//! virtual counter `CNTVCT_EL0` (`CNTKCTL_EL1.EL0VCTEN`, set by `arch_timer`). Pure: the host
//! tests check the same image the kernel maps.
use crate::abi::arm64::elf::EM_AARCH64;
use crate::abi::arm64::vdso::{KERNEL_RT_SIGRETURN_OFFSET, SIGRETURN_CODE};
use crate::abi::vdso::{check, VdsoSpec};
pub use crate::abi::vdso::{VdsoError, VdsoInfo};
use crate::fs::binfmt_elf::ElfClass;

/// The vDSO shared object (`vdso64.so`, linked at 0; `[vdso]` maps it, the two `[vvar]`
/// pages sit below it).
pub static VDSO_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso64.so"));

/// The signal return trampoline's symbol (`VDSO_SYMBOL(vdso, sigtramp)`).
pub const SIGRETURN_SYMBOL: &str = "__kernel_rt_sigreturn";

/// The functions the image exports in version `LINUX_2.6.39` (`vdso.lds.S`).
pub const VDSO_SYMBOLS: [&str; 4] =
    [SIGRETURN_SYMBOL, "__kernel_gettimeofday", "__kernel_clock_gettime", "__kernel_clock_getres"];

/// The signal return trampoline in the image (`VDSO_SYMBOL(vdso, sigtramp)`).
pub const SIGTRAMP: Option<&str> = Some(SIGRETURN_SYMBOL);

/// The version node the symbols are defined in.
pub const VDSO_VERSION: &str = "LINUX_2.6.39";

/// `VDSO_CLOCKMODE_ARCHTIMER` (asm/vdso/clocksource.h): the vDSO may read `CNTVCT_EL0`.
pub const VDSO_CLOCKMODE_ARCHTIMER: i32 = 1;

/// What `vdso_init` requires of arm64's image.
pub const SPEC: VdsoSpec = VdsoSpec {
    class: ElfClass::Elf64,
    machine: EM_AARCH64,
    version: VDSO_VERSION,
    symbols: &VDSO_SYMBOLS,
};

/// `vdso_init`: the image passes [`check`] against [`SPEC`], and at
/// `__kernel_rt_sigreturn` (with the NOP before it) holds `mov x8, #139; svc #0`.
pub fn vdso_init(image: &[u8]) -> Result<VdsoInfo, VdsoError> {
    let info = check(image, &SPEC)?;
    let at = info
        .symbol(SIGRETURN_SYMBOL)
        .and_then(|v| usize::try_from(v).ok()?.checked_sub(KERNEL_RT_SIGRETURN_OFFSET))
        .ok_or(VdsoError::BadCode(SIGRETURN_SYMBOL))?;
    let words = image.get(at..at + 4 * SIGRETURN_CODE.len());
    let want = SIGRETURN_CODE.iter().flat_map(|w| w.to_le_bytes());
    if !words.is_some_and(|w| w.iter().copied().eq(want)) {
        return Err(VdsoError::BadCode(SIGRETURN_SYMBOL));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::binfmt_elf::VDSO_TEXT_PAGES;

    #[test]
    fn the_built_arm64_image_passes_vdso_init() {
        let info = vdso_init(VDSO_IMAGE).unwrap();
        assert_eq!(info.text_pages, VDSO_TEXT_PAGES);
        let mut v: alloc::vec::Vec<u64> = info.symbols.iter().map(|s| s.1).collect();
        assert!(v.iter().all(|&a| a > 0x40 && (a as usize) < VDSO_IMAGE.len() && a % 4 == 0));
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 4, "four distinct functions");
        // The trampoline right after its NOP: d503201f d2801168 d4000001.
        let s = info.symbol(SIGRETURN_SYMBOL).unwrap() as usize;
        assert_eq!(
            VDSO_IMAGE[s - 4..s + 8],
            [0x1f, 0x20, 0x03, 0xd5, 0x68, 0x11, 0x80, 0xd2, 1, 0, 0, 0xd4]
        );
    }

    #[test]
    fn a_bad_arm64_image_is_refused() {
        let sig = vdso_init(VDSO_IMAGE).unwrap().symbol(SIGRETURN_SYMBOL).unwrap() as usize;
        // The trampoline's svc changed: refused, the kernel maps no vDSO.
        let mut img = VDSO_IMAGE.to_vec();
        img[sig + 4] ^= 1;
        assert_eq!(vdso_init(&img), Err(VdsoError::BadCode(SIGRETURN_SYMBOL)));
        // ARM's image, or this one called ELF32: not an AArch64 ELF64 object.
        assert_eq!(vdso_init(crate::arch::arm::vdso::VDSO_IMAGE), Err(VdsoError::NotArchDyn));
        let mut img = VDSO_IMAGE.to_vec();
        img[4] = 1;
        assert_eq!(vdso_init(&img), Err(VdsoError::NotArchDyn));
        // A function hidden as vdso_nullpatch_one hides it is missing.
        let mut img = VDSO_IMAGE.to_vec();
        assert!(crate::abi::vdso::nullpatch_one(&mut img, &SPEC, "__kernel_clock_getres"));
        assert_eq!(vdso_init(&img), Err(VdsoError::MissingSymbol("__kernel_clock_getres")));
        assert_eq!(vdso_init(&VDSO_IMAGE[..200]), Err(VdsoError::Truncated));
        // Any one byte of the headers and tables changed: refused or consistent, no panic.
        for at in 0..0x400.min(VDSO_IMAGE.len()) {
            let mut img = VDSO_IMAGE.to_vec();
            img[at] ^= 0xff;
            let _ = vdso_init(&img);
        }
    }
}
