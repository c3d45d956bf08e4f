//! Page protections in arch-neutral terms (what Linux's `vm_flags` and `PAGE_KERNEL*` say),
//! which each architecture turns into its descriptor bits (on 32-bit ARM, `pgprot()` in
//! `arch/arm/pgtable.rs`). The kernel's page-table users (vmalloc, ioremap, pkmap, the
//! `kmap_atomic` fixmap slot) map with these values through `arch::mmu` and `arch::fixmap`.
use bitflags::bitflags;

bitflags! {
    /// What a mapping allows and what kind of memory it maps.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PageProt: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const EXEC = 1 << 2;
        /// Reachable from user space (otherwise kernel only).
        const USER = 1 << 3;
        /// Device registers: uncached, strongly ordered accesses, never executable.
        const DEVICE = 1 << 4;
    }
}

/// `PAGE_KERNEL`: kernel data, readable and writable, never executable (vmalloc, pkmap, the
/// temporary `kmap_atomic` slot).
pub const PAGE_KERNEL: PageProt = PageProt::READ.union(PageProt::WRITE);
/// `PAGE_KERNEL_RO`: read-only kernel data.
pub const PAGE_KERNEL_RO: PageProt = PageProt::READ;
/// `PAGE_KERNEL_EXEC`: kernel text, readable and executable, not writable once the image is
/// protected.
pub const PAGE_KERNEL_EXEC: PageProt = PageProt::READ.union(PageProt::EXEC);
/// What `ioremap()` maps device registers with: readable, writable, device memory.
pub const PAGE_KERNEL_IO: PageProt = PAGE_KERNEL.union(PageProt::DEVICE);
