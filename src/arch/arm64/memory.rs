//! The fixed formulas of arm64 Linux 6.1's kernel address space with 4 KiB pages
//! (`arch/arm64/include/asm/memory.h`, `pgtable.h`, `fixmap.h`, `processor.h`), as functions
//! of `VA_BITS`: the 64-bit counterpart of the 32-bit `PAGE_OFFSET` split. Both halves of the
//! address space are `2^VA_BITS` long: TTBR0 (user) from 0, TTBR1 (kernel) ending at 2^64.
use crate::sizes::{SZ_128M, SZ_16M, SZ_256M, SZ_2M, SZ_32M, SZ_8M};

/// The user layout of this kernel's processes (`processor.rs`).
#[cfg(target_pointer_width = "64")]
pub use super::processor::task_arch_mm;

/// Hex digits of a kernel pointer as Linux prints it unhashed (`%px`: `sizeof(void *)`).
pub const POINTER_HEX_DIGITS: usize = 16;
/// Hex digits of a physical address (`%pa`: `sizeof(phys_addr_t)`).
pub const PHYS_ADDR_HEX_DIGITS: usize = 16;

/// 4 KiB pages (`CONFIG_ARM64_4K_PAGES`).
pub const PAGE_SHIFT: u32 = 12;
/// `HUGETLB_PAGE_ORDER` (`HPAGE_SHIFT - PAGE_SHIFT`, a PMD's 2 MiB): arm64 6.1 with
/// `CONFIG_HUGETLB_PAGE` (Debian's) takes it as `pageblock_order` (the reference's
/// pagetypeinfo: "Page block order: 9").
pub const HUGETLB_PAGE_ORDER: Option<u32> = Some(21 - PAGE_SHIFT);
/// `SECTION_SIZE_BITS` of arm64 6.1's SPARSEMEM with 4K pages (asm/sparsemem.h): 128 MiB.
pub const SECTION_SIZE_BITS: u32 = 27;
/// `PAGES_PER_SECTION`.
pub const PAGES_PER_SECTION: u64 = 1 << (SECTION_SIZE_BITS - PAGE_SHIFT);
/// `CONFIG_ZONE_DMA32`: arm64 6.1 (Debian's config) has DMA and DMA32 zones.
pub const CONFIG_ZONE_DMA32: bool = true;
/// `CONFIG_HIGHMEM`: a 64-bit kernel maps all RAM, so there is no high memory.
pub const CONFIG_HIGHMEM: bool = false;
/// `STRUCT_PAGE_MAX_SHIFT`: `sizeof(struct page)` is at most 64 bytes, so vmemmap is
/// 1/64 of the linear map it describes.
pub const STRUCT_PAGE_MAX_SHIFT: u32 = 6;
/// `VMEMMAP_SHIFT = PAGE_SHIFT - STRUCT_PAGE_MAX_SHIFT`.
pub const VMEMMAP_SHIFT: u32 = PAGE_SHIFT - STRUCT_PAGE_MAX_SHIFT;
/// `MODULES_VSIZE`: the module area is 128 MiB (arm64 6.1).
pub const MODULES_VSIZE: u64 = SZ_128M;
/// `MAX_FDT_SIZE` and the fixmap's FDT window (`FIX_FDT_SIZE = MAX_FDT_SIZE + SZ_2M`).
pub const MAX_FDT_SIZE: u64 = SZ_2M;
pub const FIX_FDT_SIZE: u64 = MAX_FDT_SIZE + SZ_2M;
/// `TEXT_OFFSET` is gone since 5.8; the image starts at `KIMAGE_VADDR` and its text
/// (`_stext`) one 64 KiB-aligned header later (the anchor: `_stext = KIMAGE_VADDR + 0x10000`).
pub const ARM64_TEXT_ALIGN: u64 = 0x10000;

/// `THREAD_SHIFT`: 15, a 32 KiB kernel stack, as arm64 6.1 has it with KASAN
/// (`MIN_THREAD_SHIFT = 14 + KASAN_THREAD_SHIFT`); Debian's kernel (no KASAN) has 14. pivm's
/// reports build their snapshots on the stack: `cat /proc/meminfo` alone takes more than
/// 16 KiB (cmd_cat, meminfo_snapshot and node_snapshot's frames are 5.6, 4+ and 6 KiB), and
/// overflowed a 16 KiB console stack when tried.
pub const THREAD_SHIFT: u32 = 15;
/// `THREAD_SIZE`.
pub const THREAD_SIZE: u64 = 1 << THREAD_SHIFT;
/// `THREAD_ALIGN` with `CONFIG_VMAP_STACK`: twice the size, so that every address of a stack
/// has bit `THREAD_SHIFT` clear and one just below it (an overflow) has it set: the test
/// `kernel_ventry` makes before it saves anything.
pub const THREAD_ALIGN: u64 = 2 * THREAD_SIZE;
/// `OVERFLOW_STACK_SIZE` (`SZ_4K`): the per-CPU stack `handle_bad_stack` runs on.
pub const OVERFLOW_STACK_SIZE: u64 = 4096;

/// Whether the stack pointer `sp` lies where `kernel_ventry` takes it for an overflow of a
/// `THREAD_ALIGN`ed stack: bit `THREAD_SHIFT` set.
pub const fn stack_overflowed(sp: u64) -> bool {
    sp & THREAD_SIZE != 0
}

/// The two VA sizes pivm builds (Kconfig's `ARM64_VA_BITS_39` and `ARM64_VA_BITS_48`).
pub const VA_BITS_CHOICES: [u32; 2] = [39, 48];

/// Translation levels for 4 KiB pages: `ARM64_HW_PGTABLE_LEVELS(va) = (va - 4) / (PAGE_SHIFT - 3)`.
pub const fn pgtable_levels(va_bits: u32) -> u32 {
    (va_bits - 4) / (PAGE_SHIFT - 3)
}

/// `_PAGE_OFFSET(va) = -(1 << va)`: the start of the linear map.
pub const fn page_offset(va_bits: u32) -> u64 {
    (1u64 << va_bits).wrapping_neg()
}

/// `_PAGE_END(va) = -(1 << (va - 1))`: the end of the linear map (half of the TTBR1 range).
pub const fn page_end(va_bits: u32) -> u64 {
    (1u64 << (va_bits - 1)).wrapping_neg()
}

/// `MODULES_VADDR = _PAGE_END(VA_BITS_MIN)` (KASAN off).
pub const fn modules_vaddr(va_bits: u32) -> u64 {
    page_end(va_bits)
}

/// `MODULES_END = MODULES_VADDR + MODULES_VSIZE`.
pub const fn modules_end(va_bits: u32) -> u64 {
    modules_vaddr(va_bits) + MODULES_VSIZE
}

/// `KIMAGE_VADDR = MODULES_END`: where the kernel image is linked (no KASLR).
pub const fn kimage_vaddr(va_bits: u32) -> u64 {
    modules_end(va_bits)
}

/// `VMEMMAP_START = -(1 << (VA_BITS - VMEMMAP_SHIFT))`.
pub const fn vmemmap_start(va_bits: u32) -> u64 {
    (1u64 << (va_bits - VMEMMAP_SHIFT)).wrapping_neg()
}

/// `VMEMMAP_SIZE = (_PAGE_END(VA_BITS_MIN) - PAGE_OFFSET) >> VMEMMAP_SHIFT`.
pub const fn vmemmap_size(va_bits: u32) -> u64 {
    (page_end(va_bits) - page_offset(va_bits)) >> VMEMMAP_SHIFT
}

/// `VMALLOC_START = MODULES_END`.
pub const fn vmalloc_start(va_bits: u32) -> u64 {
    modules_end(va_bits)
}

/// `VMALLOC_END = VMEMMAP_START - SZ_256M`.
pub const fn vmalloc_end(va_bits: u32) -> u64 {
    vmemmap_start(va_bits) - SZ_256M
}

/// `PCI_IO_END = VMEMMAP_START - SZ_8M`, `PCI_IO_START = PCI_IO_END - PCI_IO_SIZE (16 MiB)`.
pub const fn pci_io_end(va_bits: u32) -> u64 {
    vmemmap_start(va_bits) - SZ_8M
}

pub const fn pci_io_start(va_bits: u32) -> u64 {
    pci_io_end(va_bits) - SZ_16M
}

/// `FIXADDR_TOP = VMEMMAP_START - SZ_32M`.
pub const fn fixaddr_top(va_bits: u32) -> u64 {
    vmemmap_start(va_bits) - SZ_32M
}

/// The permanent fixmap slots pivm's configuration has (6.1's `enum fixed_addresses`:
/// `FIX_HOLE`, the FDT window, `FIX_EARLYCON_MEM_BASE`, `FIX_TEXT_POKE0`; no APEI GHES slots,
/// no KPTI trampoline: the Cortex-A53 is not affected by Meltdown).
pub const FIX_HOLE: u64 = 0;
pub const FIX_FDT_END: u64 = 1;
pub const FIX_FDT: u64 = FIX_FDT_END + FIX_FDT_SIZE / (1 << PAGE_SHIFT) - 1;
pub const FIX_EARLYCON_MEM_BASE: u64 = FIX_FDT + 1;
pub const FIX_TEXT_POKE0: u64 = FIX_EARLYCON_MEM_BASE + 1;
pub const END_OF_PERMANENT_FIXED_ADDRESSES: u64 = FIX_TEXT_POKE0 + 1;
/// The early_ioremap slots after the permanent ones (6.1's `FIX_BTMAP_END` =
/// `__end_of_permanent_fixed_addresses`, `FIX_BTMAP_BEGIN` = it + `TOTAL_FIX_BTMAPS` - 1,
/// `NR_FIX_BTMAPS` = SZ_256K / PAGE_SIZE, `FIX_BTMAPS_SLOTS` = 7); slot 0's first page is
/// `FIX_BTMAP_BEGIN`. They lie below `FIXADDR_START`, outside `FIXADDR_SIZE`, as in Linux.
pub const FIX_BTMAP_END: u64 = END_OF_PERMANENT_FIXED_ADDRESSES;
pub const NR_FIX_BTMAPS: u64 = (256 << 10) >> PAGE_SHIFT;
pub const FIX_BTMAPS_SLOTS: u64 = 7;
pub const FIX_BTMAP_BEGIN: u64 = FIX_BTMAP_END + NR_FIX_BTMAPS * FIX_BTMAPS_SLOTS - 1;
/// `FIXADDR_SIZE = __end_of_permanent_fixed_addresses << PAGE_SHIFT`.
pub const FIXADDR_SIZE: u64 = END_OF_PERMANENT_FIXED_ADDRESSES << PAGE_SHIFT;

/// `FIXADDR_START = FIXADDR_TOP - FIXADDR_SIZE`.
pub const fn fixaddr_start(va_bits: u32) -> u64 {
    fixaddr_top(va_bits) - FIXADDR_SIZE
}

/// `__fix_to_virt(x) = FIXADDR_TOP - (x << PAGE_SHIFT)`.
pub const fn fix_to_virt(va_bits: u32, idx: u64) -> u64 {
    fixaddr_top(va_bits) - (idx << PAGE_SHIFT)
}

/// `TASK_SIZE_64 = 1 << VA_BITS`: the user (TTBR0) half.
pub const fn task_size(va_bits: u32) -> u64 {
    1u64 << va_bits
}

/// `TCR_T0SZ`/`TCR_T1SZ`: the size field both halves use, `64 - VA_BITS`.
pub const fn tcr_tsz(va_bits: u32) -> u64 {
    64 - va_bits as u64
}

/// `ARCH_DMA_MINALIGN`: arm64's kmalloc alignment floor (the largest cache line it must
/// support for non-coherent DMA, 128 bytes).
pub const ARCH_DMA_MINALIGN: usize = 128;
#[cfg(target_arch = "aarch64")]
const _: () = assert!(crate::config::ARCH_DMA_MINALIGN == ARCH_DMA_MINALIGN);

#[cfg(test)]
mod tests {
    use super::*;

    /// AARCH64_FACTS.md section 1e, the 48-bit column (confirmed on the anchor).
    #[test]
    fn va48_matches_the_worked_figures() {
        let v = 48;
        assert_eq!(pgtable_levels(v), 4);
        assert_eq!(page_offset(v), 0xffff_0000_0000_0000);
        assert_eq!(page_end(v), 0xffff_8000_0000_0000);
        assert_eq!(modules_vaddr(v), 0xffff_8000_0000_0000);
        assert_eq!(modules_end(v), 0xffff_8000_0800_0000);
        assert_eq!(kimage_vaddr(v), 0xffff_8000_0800_0000);
        assert_eq!(vmalloc_start(v), 0xffff_8000_0800_0000);
        assert_eq!(vmalloc_end(v), 0xffff_fbff_f000_0000);
        assert_eq!(fixaddr_top(v), 0xffff_fbff_fe00_0000);
        assert_eq!(pci_io_start(v), 0xffff_fbff_fe80_0000);
        assert_eq!(pci_io_end(v), 0xffff_fbff_ff80_0000);
        assert_eq!(vmemmap_start(v), 0xffff_fc00_0000_0000);
        assert_eq!(vmemmap_size(v), 2 << 40);
        assert_eq!(task_size(v), 0x0001_0000_0000_0000);
        assert_eq!(tcr_tsz(v), 16);
    }

    /// The 39-bit column of the same table.
    #[test]
    fn va39_matches_the_worked_figures() {
        let v = 39;
        assert_eq!(pgtable_levels(v), 3);
        assert_eq!(page_offset(v), 0xffff_ff80_0000_0000);
        assert_eq!(page_end(v), 0xffff_ffc0_0000_0000);
        assert_eq!(modules_vaddr(v), 0xffff_ffc0_0000_0000);
        assert_eq!(kimage_vaddr(v), 0xffff_ffc0_0800_0000);
        assert_eq!(vmalloc_end(v), 0xffff_fffd_f000_0000);
        assert_eq!(fixaddr_top(v), 0xffff_fffd_fe00_0000);
        assert_eq!(pci_io_start(v), 0xffff_fffd_fe80_0000);
        assert_eq!(pci_io_end(v), 0xffff_fffd_ff80_0000);
        assert_eq!(vmemmap_start(v), 0xffff_fffe_0000_0000);
        assert_eq!(vmemmap_size(v), 4 << 30);
        assert_eq!(task_size(v), 0x80_0000_0000);
        assert_eq!(tcr_tsz(v), 25);
    }

    /// The reference's /proc/meminfo: `VmallocTotal: 133143592960 kB` is exactly
    /// `VMALLOC_END - VMALLOC_START` for 48 bits.
    #[test]
    fn vmalloc_total_is_the_reference_figure() {
        assert_eq!((vmalloc_end(48) - vmalloc_start(48)) >> 10, 133_143_592_960);
    }

    #[test]
    fn fixmap_sits_below_fixaddr_top() {
        assert_eq!(FIX_FDT, 1024);
        assert_eq!(FIXADDR_SIZE, 1027 * 4096);
        assert_eq!(fix_to_virt(48, FIX_HOLE), fixaddr_top(48));
        assert_eq!(fixaddr_start(48), fix_to_virt(48, END_OF_PERMANENT_FIXED_ADDRESSES));
        assert!(fixaddr_top(39) < pci_io_start(39));
    }

    #[test]
    fn vmap_stack_bit_test() {
        // A THREAD_ALIGN'ed stack: all of it passes, the 16 KiB below it (where an overflow
        // runs, the guard page first) fail.
        let base = 0xffff_8000_0801_0000u64;
        assert_eq!(base % THREAD_ALIGN, 0);
        assert!(!stack_overflowed(base));
        assert!(!stack_overflowed(base + THREAD_SIZE - 16));
        assert!(stack_overflowed(base - 1));
        assert!(stack_overflowed(base - THREAD_SIZE));
        assert!(!stack_overflowed(base - THREAD_SIZE - 16));
    }
}
