//! Page protections in arch-neutral terms (what Linux's `vm_flags` and `PAGE_KERNEL*` say),
//! which each architecture turns into its descriptor bits (`arch::arm::pgtable::pgprot`).
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
