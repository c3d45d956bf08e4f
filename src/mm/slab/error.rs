//! Why a slab or kmalloc operation was refused. Every error leaves the allocator's lists and
//! counters exactly as they were (a corrupted free pointer is cut off first and reported), and
//! its `Display` reads like the line Linux would print.
use core::fmt;

use crate::mm::page::PageOwner;

/// What is wrong with a pointer handed to `kfree`, `kmem_cache_free` or `ksize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPointer {
    /// Not a linear-map address of a page in mem_map (so it was never dereferenced).
    NoPage,
    /// In a page that is neither a slab nor a `kmalloc_large` block: mem_map names its owner.
    NotSlab { owner: PageOwner },
    /// Inside an object of `cache`, `offset` bytes past its start `object`.
    Misaligned { cache: &'static str, object: usize, offset: usize },
    /// In the unused tail of a slab, after its last object.
    PastLastObject { cache: &'static str },
    /// Inside a `kmalloc_large` block, but not its first byte.
    InsideLarge { base: usize },
}

impl fmt::Display for BadPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadPointer::NoPage => f.write_str("not a lowmem address"),
            BadPointer::NotSlab { owner: PageOwner::None } => {
                f.write_str("not a slab or kmalloc page: the page is not allocated")
            }
            BadPointer::NotSlab { owner } => {
                write!(f, "not a slab or kmalloc page: the page belongs to {owner}")
            }
            BadPointer::Misaligned { cache, object, offset } => {
                write!(f, "{offset} bytes into the {cache} object at {object:#010x}")
            }
            BadPointer::PastLastObject { cache } => {
                write!(f, "past the last object of a {cache} slab")
            }
            BadPointer::InsideLarge { base } => {
                write!(f, "inside the kmalloc_large block at {base:#010x}")
            }
        }
    }
}

/// A refused slab operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabError {
    /// `op` (`kfree`, `kmem_cache_free`, `ksize`) was given an address that is not the start
    /// of an object or of a `kmalloc_large` block.
    InvalidPointer { op: &'static str, ptr: usize, reason: BadPointer },
    /// `kfree`/`kmem_cache_free` of an object that is already free.
    DoubleFree { op: &'static str, ptr: usize, cache: &'static str },
    /// `ksize` of an object that is free (never handed out, or freed).
    FreeObject { ptr: usize, cache: &'static str },
    /// `kmem_cache_free(cache, ptr)` where `ptr` belongs to another cache.
    WrongCache { ptr: usize, cache: &'static str, actual: &'static str },
    /// `kmalloc` above the ceiling in force (`KMALLOC_MAX_SIZE`, or a profile's).
    TooLarge { size: usize, max: usize },
    /// The page allocator had no block of this order for `what`.
    NoMemory { what: &'static str, order: u32 },
    /// The page source returned a block the slab cannot use (misaligned, or outside lowmem).
    BadPageSource { addr: usize, order: u32 },
    /// A `CacheId` that names no live cache (destroyed, or from another `Slab`).
    NoSuchCache { op: &'static str },
    /// All `MAX_CACHES` cache slots are taken.
    TooManyCaches { name: &'static str },
    /// `kmem_cache_create` arguments that cannot make a cache.
    BadCacheArgs { name: &'static str, size: usize, align: usize, why: &'static str },
    /// `kmem_cache_destroy` of a cache that still has objects.
    CacheBusy { name: &'static str, active: usize },
    /// The kmalloc caches live as long as the kernel.
    KmallocCache { name: &'static str },
    /// `kmalloc` before `kmem_cache_init`.
    NotInitialised,
    /// `kmem_cache_init` after slabs exist.
    AlreadyInitialised,
    /// A page mem_map marks `PG_slab` has no slab state (or names a dead cache).
    SlabCorrupted { slab: usize },
    /// A free pointer pointed outside its slab or between objects; the chain was cut there.
    FreelistCorrupted { cache: &'static str, slab: usize, ptr: usize },
}

impl fmt::Display for SlabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SlabError::InvalidPointer { op, ptr, reason } => {
                write!(f, "{op}: invalid pointer {ptr:#010x} ({reason})")
            }
            SlabError::DoubleFree { op, ptr, cache } => {
                write!(f, "{op}: double free of {ptr:#010x} in {cache}")
            }
            SlabError::FreeObject { ptr, cache } => {
                write!(f, "ksize: {ptr:#010x} is a free {cache} object (not allocated)")
            }
            SlabError::WrongCache { ptr, cache, actual } => write!(
                f,
                "kmem_cache_free: Wrong slab cache. {cache} but object {ptr:#010x} is from {actual}"
            ),
            SlabError::TooLarge { size, max } => {
                write!(f, "kmalloc: size {size} exceeds KMALLOC_MAX_SIZE ({max} bytes)")
            }
            SlabError::NoMemory { what, order } => {
                write!(f, "{what}: unable to allocate memory (order:{order})")
            }
            SlabError::BadPageSource { addr, order } => {
                write!(f, "slab: page source returned unusable order-{order} block at {addr:#010x}")
            }
            SlabError::NoSuchCache { op } => write!(f, "{op}: no such slab cache"),
            SlabError::TooManyCaches { name } => {
                write!(f, "kmem_cache_create({name}) failed: no free cache slot")
            }
            SlabError::BadCacheArgs { name, size, align, why } => {
                write!(f, "kmem_cache_create({name}) failed: size {size}, align {align}: {why}")
            }
            SlabError::CacheBusy { name, active } => write!(
                f,
                "kmem_cache_destroy {name}: Slab cache still has objects ({active} active)"
            ),
            SlabError::KmallocCache { name } => {
                write!(f, "kmem_cache_destroy {name}: kmalloc caches cannot be destroyed")
            }
            SlabError::NotInitialised => f.write_str("kmalloc: kmem_cache_init has not run"),
            SlabError::AlreadyInitialised => {
                f.write_str("kmem_cache_init: the kmalloc caches already hold slabs")
            }
            SlabError::SlabCorrupted { slab } => {
                write!(f, "slab: no slab state for the PG_slab page at {slab:#010x}")
            }
            SlabError::FreelistCorrupted { cache, slab, ptr } => write!(
                f,
                "SLUB {cache}: Freepointer corrupt in slab {slab:#010x}: {ptr:#010x} \
                 (rest of the freelist dropped)"
            ),
        }
    }
}
