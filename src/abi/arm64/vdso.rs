//! What arm64 Linux 6.1 maps for a process's vDSO (`arch/arm64/kernel/vdso.c`,
//! `__setup_additional_pages`): `[vvar]`, `VVAR_NR_PAGES` read-only data pages (the
//! `vdso_data` page and the time-namespace page), then `[vdso]` right above them, both in one
//! `get_unmapped_area` hole (the reference's maps: `[vvar]` 8 KiB, `[vdso]` 4 KiB). And the
//! code every signal handler returns through when it has no `SA_RESTORER`:
//! `__kernel_rt_sigreturn` (`vdso/sigreturn.S`), `mov x8, #__NR_rt_sigreturn; svc #0`, with
//! the NOP before it that unwinders need (they look up the instruction before a return
//! address), as the instruction words the page holds. Pure and host-tested (the encodings
//! against the cross assembler in `tests/abi_golden_arm64.rs`); the process code maps the
//! pages and passes the trampoline's address to [`setup_rt_frame`](super::signal).
use super::unistd::nr;

/// `VVAR_NR_PAGES` (`enum vvar_pages` with `CONFIG_TIME_NS`): the data page and the
/// time-namespace page.
pub const VVAR_NR_PAGES: u64 = 2;

const PAGE_SIZE: u64 = 4096;

/// `NOP`.
pub const NOP: u32 = 0xd503_201f;

/// `MOVZ Xd, #imm16` (`mov xd, #imm` for a 16-bit immediate).
pub const fn movz_x(rd: u32, imm16: u16) -> u32 {
    0xd280_0000 | ((imm16 as u32) << 5) | (rd & 31)
}

/// `SVC #imm16`.
pub const fn svc(imm16: u16) -> u32 {
    0xd400_0001 | ((imm16 as u32) << 5)
}

/// `sigreturn.S`: the NOP, then `__kernel_rt_sigreturn` itself.
pub const SIGRETURN_CODE: [u32; 3] = [NOP, movz_x(8, nr::RT_SIGRETURN as u16), svc(0)];

/// Offset of `__kernel_rt_sigreturn` in [`SIGRETURN_CODE`]: after the NOP.
pub const KERNEL_RT_SIGRETURN_OFFSET: usize = 4;

/// Writes [`SIGRETURN_CODE`] at `at` in a `[vdso]` text page (4-byte aligned, room for it);
/// returns the offset of `__kernel_rt_sigreturn` in the page, which added to the page's
/// address is `VDSO_SYMBOL(vdso, sigtramp)`. `None` if it does not fit there.
pub fn write_sigreturn(page: &mut [u8], at: usize) -> Option<usize> {
    let end = at.checked_add(SIGRETURN_CODE.len() * 4)?;
    if !at.is_multiple_of(4) || end > page.len() {
        return None;
    }
    for (i, w) in SIGRETURN_CODE.iter().enumerate() {
        page[at + 4 * i..at + 4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    Some(at + KERNEL_RT_SIGRETURN_OFFSET)
}

/// Where `__setup_additional_pages` puts the two mappings, from the start of the hole
/// `get_unmapped_area(NULL, 0, vdso_mapping_len, 0, 0)` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VdsoMapping {
    /// `[vvar]`: `VM_READ | VM_MAYREAD | VM_PFNMAP`, `VVAR_NR_PAGES` pages.
    pub vvar: (u64, u64),
    /// `[vdso]`: `VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC`.
    pub vdso: (u64, u64),
}

impl VdsoMapping {
    /// `vdso_mapping_len`: the data pages and `text_pages` of code.
    pub const fn mapping_len(text_pages: u64) -> u64 {
        (VVAR_NR_PAGES + text_pages) * PAGE_SIZE
    }

    /// The two ranges from `base` (`mm->context.vdso` is `vdso.0`, what `AT_SYSINFO_EHDR`
    /// gives user space).
    pub const fn at(base: u64, text_pages: u64) -> Self {
        let vdso = base + VVAR_NR_PAGES * PAGE_SIZE;
        VdsoMapping { vvar: (base, vdso), vdso: (vdso, base + Self::mapping_len(text_pages)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trampoline_words() {
        // mov x8, #139 = MOVZ (sf=1, opc=10, hw=0) imm16=0x8b, Rd=8; svc #0.
        assert_eq!(SIGRETURN_CODE, [0xd503_201f, 0xd280_1168, 0xd400_0001]);
        let mut page = [0xffu8; 4096];
        assert_eq!(write_sigreturn(&mut page, 0x7f0), Some(0x7f4));
        assert_eq!(page[0x7f4..0x7fc], [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4]);
        assert_eq!(page[0x7fc], 0xff, "nothing written past the code");
        assert_eq!(write_sigreturn(&mut page, 4090), None);
        assert_eq!(write_sigreturn(&mut page, 2), None);
    }

    #[test]
    fn vvar_below_vdso_as_the_reference_maps_them() {
        // The reference: [vvar] ffffa97d8000-ffffa97da000, [vdso] ffffa97da000-ffffa97db000.
        let m = VdsoMapping::at(0xffff_a97d_8000, 1);
        assert_eq!(m.vvar, (0xffff_a97d_8000, 0xffff_a97d_a000));
        assert_eq!(m.vdso, (0xffff_a97d_a000, 0xffff_a97d_b000));
        assert_eq!(VdsoMapping::mapping_len(1), 3 * 4096);
    }
}
