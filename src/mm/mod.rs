//! Memory management: address types, the kernel's virtual layout, boot-time reservations.
pub mod addr;
pub mod cma;
pub mod era;
pub mod memblock;
pub mod memory;
pub mod mm_init;
pub mod mm_types;
pub mod mmap;
pub mod oom_kill;
pub mod readahead;
pub mod shmem;
pub mod swap_header;
pub mod swap_slots;
pub mod swap_state;
pub mod swapfile;
pub mod swapops;
pub mod vma_tree;

pub use addr::{Pfn, PhysAddr, VirtAddr};

/// log2 of the page size: 4 KiB pages, as on every ARM Linux configuration pivm models.
pub const PAGE_SHIFT: u32 = 12;
/// Bytes per page.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
pub mod gfp;
pub mod highmem;
pub mod page;
pub mod page_alloc;
pub mod pgprot;
pub mod slab;
pub mod swap;
pub mod vmap;
pub mod vmscan;
pub mod zone;
