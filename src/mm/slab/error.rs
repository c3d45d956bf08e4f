//! Why a slab or kmalloc operation was refused. Every error leaves the allocator's lists and
//! counters exactly as they were, and its `Display` reads like the line Linux would print.
use core::fmt;

use super::KMALLOC_MAX_SIZE;

/// What is wrong with a pointer handed to `kfree`, `kmem_cache_free` or `ksize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPointer {
    /// Not inside any page this allocator owns (so it was never dereferenced).
    NotSlab,
    /// Inside a slab, but in the on-slab descriptor in front of the first object.
    SlabHeader { cache: &'static str },
    /// Inside an object of `cache`, `offset` bytes past its start `object`.
    Misaligned { cache: &'static str, object: usize, offset: usize },
    /// In the unused tail of a slab, after its last object.
    PastLastObject { cache: &'static str },
    /// Inside the first page of a large (page-allocator) kmalloc block, but not its start.
    InsideLarge { base: usize },
}

impl fmt::Display for BadPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadPointer::NotSlab => write!(f, "not a slab or kmalloc address"),
            BadPointer::SlabHeader { cache } => {
                write!(f, "inside the descriptor of a {cache} slab")
            }
            BadPointer::Misaligned { cache, object, offset } => {
                write!(f, "{offset} bytes into the {cache} object at {object:#010x}")
            }
            BadPointer::PastLastObject { cache } => {
                write!(f, "past the last object of a {cache} slab")
            }
            BadPointer::InsideLarge { base } => {
                write!(f, "inside the large kmalloc block at {base:#010x}")
            }
        }
    }
}

/// A refused slab operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabError {
    /// `op` (`kfree`, `kmem_cache_free`, `ksize`) was given an address that is not a live
    /// object's start.
    InvalidPointer { op: &'static str, ptr: usize, reason: BadPointer },
    /// The object at `ptr` is free already (or was never handed out).
    DoubleFree { op: &'static str, ptr: usize, cache: &'static str },
    /// `kmem_cache_free(cache, ptr)` where `ptr` belongs to another cache.
    WrongCache { ptr: usize, cache: &'static str, actual: &'static str },
    /// `kmalloc` above `KMALLOC_MAX_SIZE`.
    TooLarge { size: usize },
    /// The page source had no block of this order for `what`.
    NoMemory { what: &'static str, order: u32 },
    /// The page source returned an address that is null, not page aligned, or already in use.
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
    /// A freed object was written to: byte `offset` of `object` is `found`, not the poison.
    PoisonOverwritten { cache: &'static str, object: usize, offset: usize, found: u8, expected: u8 },
    /// A slab descriptor failed its consistency checks (magic, owner, free bitmap).
    SlabCorrupted { slab: usize },
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
            SlabError::WrongCache { ptr, cache, actual } => write!(
                f,
                "kmem_cache_free: Wrong slab cache. {cache} but object {ptr:#010x} is from {actual}"
            ),
            SlabError::TooLarge { size } => write!(
                f,
                "kmalloc: size {size} exceeds KMALLOC_MAX_SIZE ({KMALLOC_MAX_SIZE} bytes)"
            ),
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
            SlabError::PoisonOverwritten { cache, object, offset, found, expected } => write!(
                f,
                "BUG {cache}: Poison overwritten at {:#010x} (object {object:#010x} + {offset}): \
                 {found:#04x} instead of {expected:#04x}",
                object + offset
            ),
            SlabError::SlabCorrupted { slab } => {
                write!(f, "slab: corrupted slab descriptor at {slab:#010x}")
            }
        }
    }
}
