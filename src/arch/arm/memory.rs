//! The fixed constants of 32-bit ARM Linux's kernel address space (`asm/memory.h`, with the
//! neighbours that place the vmalloc area, pkmap and the fixmap: `asm/pgtable.h`,
//! `asm/highmem.h`, `asm/fixmap.h`). The layout code and the profiles both build on these;
//! neither imports the other for them.
use crate::mm::mm_types::ArchMm;
use crate::mm::PAGE_SIZE;
use crate::sizes::{SZ_16M, SZ_1M, SZ_2M, SZ_32M, SZ_8M};

/// Hex digits of a kernel pointer as Linux prints it unhashed (`%px`: `sizeof(void *)`).
pub const POINTER_HEX_DIGITS: usize = 8;
/// Hex digits of a physical address (`%pa`: `sizeof(phys_addr_t)`, 32-bit without LPAE).
pub const PHYS_ADDR_HEX_DIGITS: usize = 8;
/// `HUGETLB_PAGE_ORDER`: none, pivm's ARMv7 kernel (as the Pi's `bcm2709_defconfig`) has no
/// hugetlb, so `pageblock_order` is `MAX_ORDER - 1`.
pub const HUGETLB_PAGE_ORDER: Option<u32> = None;
/// `CONFIG_ZONE_DMA32`: 32-bit ARM has none.
pub const CONFIG_ZONE_DMA32: bool = false;
/// `CONFIG_HIGHMEM`: the Pi's 32-bit kernel has high memory above the lowmem limit.
pub const CONFIG_HIGHMEM: bool = true;

/// `CONFIG_PAGE_OFFSET` for each Kconfig memory split.
pub const VMSPLIT_3G: u64 = 0xC000_0000;
pub const VMSPLIT_3G_OPT: u64 = 0xB000_0000;
pub const VMSPLIT_2G: u64 = 0x8000_0000;
pub const VMSPLIT_1G: u64 = 0x4000_0000;
/// Used when the requested PAGE_OFFSET cannot work (Kconfig's default split).
pub const DEFAULT_PAGE_OFFSET: u64 = VMSPLIT_3G;

/// One first-level entry pair with the 2-level tables: the unit lowmem is mapped in.
pub const PMD_SIZE: u64 = SZ_2M;
/// Entries in one ARM (Linux view) page table.
pub const PTRS_PER_PTE: u64 = 512;
/// The hole between the end of lowmem and the vmalloc area, and VMALLOC_START's alignment.
pub const VMALLOC_OFFSET: u64 = SZ_8M;
/// End of the vmalloc area (4.x+; the DT blob is mapped from here since 5.11).
pub const VMALLOC_END: u64 = 0xff80_0000;
/// Linux's default `vmalloc_size`.
pub const VMALLOC_DEFAULT_SIZE: u64 = 240 * SZ_1M;
/// `early_vmalloc` never makes the area smaller than this.
pub const VMALLOC_MIN_SIZE: u64 = SZ_16M;
/// `early_vmalloc` leaves at least this much lowmem (plus VMALLOC_OFFSET) below the area.
pub const VMALLOC_MIN_LOWMEM: u64 = SZ_32M;
/// Module space sits this far below PAGE_OFFSET (ARM-mode kernels; Thumb-2 uses 8 MiB).
pub const MODULES_SIZE: u64 = SZ_16M;
/// User space ends this far below PAGE_OFFSET (`TASK_SIZE`).
pub const TASK_GAP: u64 = SZ_16M;
/// Permanent kmap slots: one page table's worth (`asm/highmem.h`: `LAST_PKMAP` is
/// `PTRS_PER_PTE`).
pub const LAST_PKMAP: u64 = PTRS_PER_PTE;
/// Fixmap window (the >= 5.11 values, after the DT blob moved to `FDT_FIXED_BASE`).
pub const FIXADDR_START: u64 = 0xffc8_0000;
pub const FIXADDR_END: u64 = 0xfff0_0000;
pub const FIXADDR_TOP: u64 = FIXADDR_END - PAGE_SIZE;
/// Read-only mapping of the firmware's device tree (5.11+), two 1 MiB sections.
pub const FDT_FIXED_BASE: u64 = 0xff80_0000;
pub const FDT_FIXED_SIZE: u64 = 2 * SZ_1M;
/// High exception vectors page.
pub const VECTORS_BASE: u64 = 0xffff_0000;
/// Highest physical address without LPAE (`ULONG_MAX`).
pub const PHYS_ADDR_MAX: u64 = 0xffff_ffff;
/// Highest virtual address: the 32-bit address space ends here.
pub const VIRT_ADDR_MAX: u64 = 0xffff_ffff;
/// `ARCH_DMA_MINALIGN`: `L1_CACHE_BYTES` (64), the kmalloc alignment floor (build.rs gives
/// the slab the same value through `config`).
pub const ARCH_DMA_MINALIGN: usize = 64;
#[cfg(not(target_arch = "aarch64"))]
const _: () = assert!(crate::config::ARCH_DMA_MINALIGN == ARCH_DMA_MINALIGN);
/// pivm never lets `mem=` take away the first bank's first 16 MiB: the running kernel's
/// image, page tables and stacks live there.
pub const KERNEL_RAM_MIN: u64 = SZ_16M;

/// `PKMAP_BASE` for a kernel at `page_offset`: the 2 MiB just below it.
pub const fn pkmap_base(page_offset: u64) -> u64 {
    page_offset - PMD_SIZE
}

/// mm's pkmap pool is sized for exactly this architecture's `LAST_PKMAP`.
const _: () = assert!(crate::mm::highmem::LAST_PKMAP as u64 == LAST_PKMAP);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkmap_is_the_2m_below_page_offset() {
        assert_eq!(pkmap_base(VMSPLIT_3G), 0xbfe0_0000);
        assert_eq!(pkmap_base(VMSPLIT_2G) + LAST_PKMAP * PAGE_SIZE, VMSPLIT_2G);
        assert_eq!(FIXADDR_TOP, 0xffef_f000);
    }
}

/// What 32-bit ARM fixes about a user address space with `PAGE_OFFSET = page_offset`:
/// `TASK_SIZE = PAGE_OFFSET - 16 MiB` (the module area sits between), `FIRST_USER_ADDRESS =
/// 2 pages` (page 0 may hold the low vectors), `TASK_UNMAPPED_BASE = ALIGN(TASK_SIZE / 3,
/// 16 MiB)`, 8 bits of mmap randomisation (Kconfig's minimum and default),
/// `STACK_RND_MASK = 0x7ff` pages and brk randomised within 32 MiB (`arch_randomize_brk`).
pub const fn arch_mm(page_offset: usize) -> ArchMm {
    let sz_16m = SZ_16M as usize;
    let task_size = page_offset - sz_16m;
    ArchMm {
        task_size,
        first_user_address: 2 * PAGE_SIZE as usize,
        task_unmapped_base: (task_size / 3).next_multiple_of(sz_16m),
        mmap_rnd_bits: 8,
        stack_rnd_mask: 0x7ff,
        brk_rnd_range: SZ_32M as usize,
    }
}

/// The layout of this kernel's processes: [`arch_mm`] of the build's `PAGE_OFFSET`.
pub const fn task_arch_mm() -> ArchMm {
    arch_mm(crate::config::PAGE_OFFSET as usize)
}

#[cfg(test)]
mod arch_mm_tests {
    use super::*;

    #[test]
    fn task_size_per_split_and_the_mm_tests_use_the_same_values() {
        for (po, task_size) in
            [(VMSPLIT_3G, 0xbf00_0000), (VMSPLIT_2G, 0x7f00_0000), (VMSPLIT_1G, 0x3f00_0000)]
        {
            let a = arch_mm(po as usize);
            assert_eq!(a.task_size, task_size);
            assert_eq!(a, crate::mm::mm_types::test_arch_mm(po as usize));
        }
        assert_eq!(arch_mm(VMSPLIT_3G as usize).task_unmapped_base, 0x4000_0000);
    }
}
