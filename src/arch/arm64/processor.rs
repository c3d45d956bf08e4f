//! arm64's user address-space layout, as Linux 6.1 fixes it for a 64-bit task
//! (`asm/processor.h`, `asm/elf.h`, `asm/pgtable.h`, Kconfig): `TASK_SIZE` = 2^VA_BITS,
//! `DEFAULT_MAP_WINDOW_64` (= `TASK_SIZE` for VA_BITS 48 and 39; only 52-bit VAs differ),
//! `STACK_TOP`, `TASK_UNMAPPED_BASE`, `ELF_ET_DYN_BASE`, the randomisation ranges, and the
//! [`ArchMm`] the shared `mm` builds arm64 address spaces with (its `mmap_base` and
//! `randomize_stack_top` are arch-neutral, as mm/util.c's are). A static non-PIE program's
//! text sits where its `PT_LOAD` says: 0x400000, the GNU linker's default for aarch64
//! ([`STATIC_TEXT_BASE`]). Pure and host-tested; the arm64 exec path uses it in the next stage.
#[cfg(target_pointer_width = "64")]
use crate::mm::mm_types::ArchMm;

/// `PAGE_SHIFT` of the 4 KiB granule pivm's arm64 kernel uses.
const PAGE_SHIFT: u32 = 12;
const SZ_1G: u64 = 1 << 30;

/// `TASK_SIZE_64`: user space is [0, 2^VA_BITS) through TTBR0.
pub const fn task_size(va_bits: u32) -> u64 {
    1 << va_bits
}

/// `DEFAULT_MAP_WINDOW_64`: 2^VA_BITS_MIN, which is VA_BITS itself below 52 bits.
pub const fn default_map_window(va_bits: u32) -> u64 {
    task_size(if va_bits > 48 { 48 } else { va_bits })
}

/// `STACK_TOP` (= `STACK_TOP_MAX` for a 64-bit task): the top of the default map window.
pub const fn stack_top(va_bits: u32) -> u64 {
    default_map_window(va_bits)
}

/// `TASK_UNMAPPED_BASE`: `PAGE_ALIGN(DEFAULT_MAP_WINDOW / 4)`, the legacy bottom-up start.
pub const fn task_unmapped_base(va_bits: u32) -> u64 {
    (default_map_window(va_bits) / 4).next_multiple_of(1 << PAGE_SHIFT)
}

/// `ELF_ET_DYN_BASE`: `2 * DEFAULT_MAP_WINDOW_64 / 3`, where a PIE's load bias starts
/// (`ELF_PAGESTART` of it, before randomisation): 0xaaaaaaaaa000 for VA_BITS 48.
pub const fn elf_et_dyn_base(va_bits: u32) -> u64 {
    2 * default_map_window(va_bits) / 3
}

/// `ELF_PAGESTART(ELF_ET_DYN_BASE - vaddr)`: the load bias of an unrandomised PIE whose
/// first `PT_LOAD` is at `vaddr`.
pub const fn et_dyn_load_bias(va_bits: u32, first_vaddr: u64) -> u64 {
    (elf_et_dyn_base(va_bits) - first_vaddr) & !((1 << PAGE_SHIFT) - 1)
}

/// `FIRST_USER_ADDRESS` on arm64: 0 (there is no vectors page low in memory as on ARM).
pub const FIRST_USER_ADDRESS: u64 = 0;
/// `STACK_RND_MASK` for a 64-bit task with 4 KiB pages: 0x3ffff pages (1 GiB).
pub const STACK_RND_MASK: u64 = 0x3ffff >> (PAGE_SHIFT - 12);
/// `CONFIG_ARCH_MMAP_RND_BITS`: Kconfig's default, `ARCH_MMAP_RND_BITS_MIN` for 4 KiB pages
/// (18 bits: the mmap base moves by up to 1 GiB).
pub const MMAP_RND_BITS: u32 = 18;
/// `ARCH_MMAP_RND_BITS_MAX`: VA_BITS - PAGE_SHIFT - 3 (33 for 48 bits, 24 for 39).
pub const fn mmap_rnd_bits_max(va_bits: u32) -> u32 {
    va_bits - PAGE_SHIFT - 3
}
/// `arch_randomize_brk()` for a 64-bit task: `randomize_page(mm->brk, SZ_1G)`.
pub const BRK_RND_RANGE: u64 = SZ_1G;
/// Where a static non-PIE aarch64 program's text starts (the linker's `-Ttext-segment`
/// default), as the reference's busybox maps show (`00400000-005b3000 r-xp`).
pub const STATIC_TEXT_BASE: u64 = 0x40_0000;

/// The values the shared `mm` needs for a 64-bit arm64 task with `va_bits` of user space.
#[cfg(target_pointer_width = "64")]
pub const fn arch_mm(va_bits: u32) -> ArchMm {
    ArchMm {
        task_size: task_size(va_bits) as usize,
        first_user_address: FIRST_USER_ADDRESS as usize,
        task_unmapped_base: task_unmapped_base(va_bits) as usize,
        mmap_rnd_bits: MMAP_RND_BITS,
        stack_rnd_mask: STACK_RND_MASK as usize,
        brk_rnd_range: BRK_RND_RANGE as usize,
    }
}

/// `TASK_SIZE` of this kernel's processes (the build's `VA_BITS`).
#[cfg(target_pointer_width = "64")]
pub const TASK_SIZE: usize = task_size(crate::config::VA_BITS) as usize;

/// The layout of this kernel's processes (`arch_mm` of the build's `VA_BITS`).
#[cfg(target_pointer_width = "64")]
pub const fn task_arch_mm() -> ArchMm {
    arch_mm(crate::config::VA_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::mm_types::{MmStruct, Rlimits};
    use crate::mm::mmap::randomize_stack_top;

    #[test]
    fn the_fixed_values_for_both_va_sizes() {
        assert_eq!(task_size(48), 0x1_0000_0000_0000);
        assert_eq!(task_size(39), 0x80_0000_0000);
        assert_eq!(stack_top(48), task_size(48));
        assert_eq!(stack_top(39), task_size(39));
        assert_eq!(task_unmapped_base(48), 0x4000_0000_0000);
        assert_eq!(task_unmapped_base(39), 0x20_0000_0000);
        assert_eq!(elf_et_dyn_base(48), 0xaaaa_aaaa_aaaa);
        assert_eq!(elf_et_dyn_base(39), 0x55_5555_5555);
        // A PIE linked at 0 loads at 0xaaaaaaaaa000 before randomisation (its well-known
        // 0xaaaa... addresses).
        assert_eq!(et_dyn_load_bias(48, 0), 0xaaaa_aaaa_a000);
        assert_eq!(et_dyn_load_bias(39, 0), 0x55_5555_5000);
        assert_eq!((mmap_rnd_bits_max(48), mmap_rnd_bits_max(39)), (33, 24));
    }

    /// `mmap_base()` with arm64's values: the 8 MiB stack rlimit and the 1 MiB guard gap are
    /// below MIN_GAP, so an unrandomised base is 128 MiB under the top; randomised, the
    /// stack's 1 GiB range is added to the gap and the base falls by up to 2^18 pages more.
    #[test]
    fn mmap_base_and_stack_top_by_mm_utils_rules() {
        for va in [48, 39] {
            let mut mm = MmStruct::new(arch_mm(va), Rlimits::DEFAULT);
            mm.arch_pick_mmap_layout(None);
            assert_eq!(mm.mmap_base as u64, task_size(va) - (128 << 20), "VA_BITS {va}");
            let gap = (8 << 20) + (1 << 20) + (STACK_RND_MASK << 12);
            mm.arch_pick_mmap_layout(Some(0));
            assert_eq!(mm.mmap_base as u64, task_size(va) - gap, "VA_BITS {va}");
            mm.arch_pick_mmap_layout(Some(u32::MAX));
            let rnd = ((1u64 << MMAP_RND_BITS) - 1) << 12;
            assert_eq!(mm.mmap_base as u64, task_size(va) - gap - rnd, "VA_BITS {va}");
            let top = stack_top(va) as usize;
            assert_eq!(randomize_stack_top(top, STACK_RND_MASK as usize, None), top);
            let low = randomize_stack_top(top, STACK_RND_MASK as usize, Some(u32::MAX));
            assert_eq!((top - low) as u64, STACK_RND_MASK << 12);
        }
    }

    /// The reference's process (VA_BITS 48): its stack ends within the 1 GiB randomisation
    /// range below 2^48, its top mapping (the vDSO) within the randomised mmap range.
    #[test]
    fn the_references_maps_fall_in_the_ranges() {
        let (stack_end, vdso_end) = (0xffff_d88d_4000u64, 0xffff_a97d_b000u64);
        let top = stack_top(48);
        assert!(top - stack_end <= STACK_RND_MASK << 12);
        let gap = (9 << 20) + (STACK_RND_MASK << 12);
        let lowest = top - gap - (((1 << MMAP_RND_BITS) - 1) << 12);
        assert!((lowest..=top - gap).contains(&vdso_end), "{vdso_end:#x}");
        assert_eq!(STATIC_TEXT_BASE, 0x40_0000);
    }
}
