//! The slab allocator and kmalloc: object caches (`kmem_cache_create` / `_alloc` / `_free` /
//! `_destroy`) carved out of whole pages, and `kmalloc` / `kzalloc` / `kfree` / `ksize` on top of
//! power-of-two caches from `KMALLOC_MIN_SIZE` up to `KMALLOC_MAX_CACHE_SIZE`, with larger requests
//! (up to `KMALLOC_MAX_SIZE`) going straight to the page allocator like SLUB's `kmalloc_large`.
//!
//! Pages come from a `PageSource` the caller implements (the kernel: the buddy allocator,
//! GFP_KERNEL, lowmem; host tests: aligned heap blocks), so this module knows nothing about
//! zones. Each slab starts with its descriptor (classic SLAB's on-slab management) holding an
//! allocation bitmap, and a page registry records which pages belong to which slab: `kfree`
//! checks a pointer against the registry before reading anything, so a wrong address typed at
//! the console is reported (`kfree: invalid pointer ...`), never followed.
mod cache;
mod error;
mod registry;
mod verify;

#[cfg(test)]
mod tests;

pub use cache::{SLAB_MAX_ORDER, SLAB_MIN_OBJECTS, SLAB_WASTE_FRACTION};
pub use error::{BadPointer, SlabError};

use cache::{
    bitmap, header, KmemCache, LIST_FREE, LIST_PARTIAL, SLAB_MAGIC, SLAB_MAGIC_DEAD, SLAB_POISONED,
    WORD_BITS,
};
use registry::{PageRegistry, PageTag};

use super::PAGE_SHIFT;

/// Bytes per page, as an address-sized integer.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
const PAGE_MASK: usize = PAGE_SIZE - 1;

/// log2 of the smallest kmalloc size class (SLUB's value).
pub const KMALLOC_SHIFT_LOW: u32 = 3;
/// Smallest kmalloc object. (Linux on ARMv7 raises it to 64, its cache line, for DMA safety;
/// pivm keeps the generic 8 since it does no non-coherent DMA into kmalloc memory.)
pub const KMALLOC_MIN_SIZE: usize = 1 << KMALLOC_SHIFT_LOW;
/// log2 of the largest size class served from a slab. Classes stop below a page because the
/// on-slab descriptor would cost a whole object slot there (1/8 of an order-3 slab of
/// 4 KiB objects); page-sized and larger requests take whole pages, as SLOB did.
pub const KMALLOC_SHIFT_HIGH: u32 = PAGE_SHIFT - 1;
/// Largest slab-backed kmalloc size.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 1 << KMALLOC_SHIFT_HIGH;
/// log2 of the largest kmalloc: the historic 128 KiB ceiling (Linux before 2.6.22, where
/// `kmalloc_sizes.h` ended at `CACHE(131072)`), or with feature `kmalloc-4m` Linux's modern
/// 4 MiB (`MAX_ORDER + PAGE_SHIFT - 1` with `MAX_ORDER` 11).
#[cfg(not(feature = "kmalloc-4m"))]
pub const KMALLOC_SHIFT_MAX: u32 = 17;
#[cfg(feature = "kmalloc-4m")]
pub const KMALLOC_SHIFT_MAX: u32 = 22;
/// Largest request `kmalloc` accepts.
pub const KMALLOC_MAX_SIZE: usize = 1 << KMALLOC_SHIFT_MAX;
/// Page order of the largest kmalloc.
pub const KMALLOC_MAX_ORDER: u32 = KMALLOC_SHIFT_MAX - PAGE_SHIFT;
/// Alignment every kmalloc object has at least (`__alignof__(unsigned long long)`); power-of-two
/// classes are in fact aligned to their size.
pub const ARCH_KMALLOC_MINALIGN: usize = 8;
/// Least alignment and stride of objects in caches made by `kmem_cache_create`.
pub const ARCH_SLAB_MINALIGN: usize = 8;
/// What `kmalloc(0)` returns: not null, but faults if used (Linux's value).
pub const ZERO_SIZE_PTR: usize = 16;
/// Cache slots, kmalloc classes included. Fixed: the slab layer uses no heap of its own.
pub const MAX_CACHES: usize = 32;
/// Number of kmalloc size classes.
pub const NR_KMALLOC_CACHES: usize = (KMALLOC_SHIFT_HIGH - KMALLOC_SHIFT_LOW + 1) as usize;
/// Empty slabs a cache keeps for the next allocation; further empty slabs go back at once.
pub const SPARE_SLABS_PER_CACHE: usize = 1;
/// Byte freed objects are filled with when poisoning is on (Linux's `POISON_FREE`).
pub const POISON_FREE: u8 = 0x6b;
/// Last byte of a poisoned object (Linux's `POISON_END`).
pub const POISON_END: u8 = 0xa5;

/// Names of the kmalloc caches, as Linux 6.x spells them in /proc/slabinfo.
const KMALLOC_NAMES: [&str; NR_KMALLOC_CACHES] = [
    "kmalloc-8",
    "kmalloc-16",
    "kmalloc-32",
    "kmalloc-64",
    "kmalloc-128",
    "kmalloc-256",
    "kmalloc-512",
    "kmalloc-1k",
    "kmalloc-2k",
];

/// Where the slab layer gets whole pages. The kernel implements it over the buddy allocator
/// (GFP_KERNEL, lowmem, linear-map addresses); tests over aligned heap blocks.
pub trait PageSource {
    /// `2^order` contiguous pages; the address of the first byte, page aligned and non-null
    /// (naturally aligned to the block size, as buddy blocks are, if `alloc_layout` is to honour
    /// alignments above `PAGE_SIZE`). `None` when out of memory.
    fn alloc_pages(&mut self, order: u32) -> Option<usize>;
    /// Gives back a block `alloc_pages(order)` returned.
    fn free_pages(&mut self, addr: usize, order: u32);
}

/// Names a cache made by `kmem_cache_create` (or a kmalloc class). The generation makes an id
/// of a destroyed cache invalid even after its slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheId {
    index: u8,
    gen: u16,
}

/// One line of /proc/slabinfo (the renderer adds the constant `tunables` and `sharedavail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabInfo {
    pub name: &'static str,
    pub active_objs: usize,
    pub num_objs: usize,
    /// Object stride in bytes.
    pub objsize: usize,
    pub objperslab: usize,
    pub pagesperslab: usize,
    /// Slabs holding at least one object (SLAB's meaning; SLUB prints num_slabs twice).
    pub active_slabs: usize,
    pub num_slabs: usize,
}

/// Slab memory for /proc/meminfo, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SlabMeminfo {
    /// Pages in slabs of all caches.
    pub slab_pages: usize,
    /// Pages of kmalloc requests served by the page allocator directly.
    pub large_pages: usize,
    /// Number of such requests outstanding.
    pub large_allocs: usize,
    /// Pages of the page registry (the slab layer's own metadata).
    pub registry_pages: usize,
}

impl SlabMeminfo {
    /// Every page the slab layer holds from its page source.
    pub fn total_pages(&self) -> usize {
        self.slab_pages + self.large_pages + self.registry_pages
    }
    /// `SReclaimable:`: pivm has no shrinkable caches (dentries, inodes).
    pub fn sreclaimable_pages(&self) -> usize {
        0
    }
    /// `SUnreclaim:`: everything, large kmallocs included (as Linux counts them since 5.9).
    pub fn sunreclaim_pages(&self) -> usize {
        self.total_pages()
    }
}

/// Where a validated pointer lives.
enum Found {
    Object { cache: usize, slab: usize, word: usize, bit: usize },
    Large { order: u32 },
}

/// All caches and the kmalloc front end. One instance serves the whole kernel, behind a
/// `spin::Mutex`; `new` is `const` for that.
pub struct Slab {
    caches: [KmemCache; MAX_CACHES],
    registry: PageRegistry,
    slab_pages: usize,
    large_pages: usize,
    large_allocs: usize,
    poison: bool,
    next_seq: u32,
    poison_report: Option<SlabError>,
}

/// The cache table at boot: the kmalloc classes, smallest first (created first, as in Linux).
const INITIAL_CACHES: [KmemCache; MAX_CACHES] = {
    let mut caches = [KmemCache::EMPTY; MAX_CACHES];
    let mut i = 0;
    while i < NR_KMALLOC_CACHES {
        let size = KMALLOC_MIN_SIZE << i;
        caches[i] = match KmemCache::new(KMALLOC_NAMES[i], size, size, i as u32, true) {
            Some(c) => c,
            None => panic!("kmalloc class does not fit in a slab"),
        };
        i += 1;
    }
    caches
};

const _: () = assert!(MAX_CACHES <= 64 && NR_KMALLOC_CACHES < MAX_CACHES);
const _: () = assert!(KMALLOC_MAX_ORDER <= 15 && SLAB_MAX_ORDER <= 15);

/// Index of the kmalloc class for `size` (1..=KMALLOC_MAX_CACHE_SIZE).
#[inline]
fn kmalloc_index(size: usize) -> usize {
    if size <= KMALLOC_MIN_SIZE {
        0
    } else {
        (usize::BITS - (size - 1).leading_zeros() - KMALLOC_SHIFT_LOW) as usize
    }
}

/// Linux's `get_order`: the smallest order whose block holds `size` bytes (size > 0).
#[inline]
pub fn get_order(size: usize) -> u32 {
    let pages = (size - 1) >> PAGE_SHIFT;
    usize::BITS - pages.leading_zeros()
}

impl Default for Slab {
    fn default() -> Self {
        Self::new()
    }
}

impl Slab {
    /// The kmalloc caches, no pages yet: slabs are made on the first allocation.
    pub const fn new() -> Self {
        Self {
            caches: INITIAL_CACHES,
            registry: PageRegistry::new(),
            slab_pages: 0,
            large_pages: 0,
            large_allocs: 0,
            poison: false,
            next_seq: NR_KMALLOC_CACHES as u32,
            poison_report: None,
        }
    }

    /// Turns object poisoning (`slub_debug=P`) on or off for slabs made from now on: their free
    /// objects are filled with `POISON_FREE` and checked when handed out again.
    pub fn set_poison(&mut self, on: bool) {
        self.poison = on;
    }

    /// Whether new slabs are poisoned.
    pub fn poison(&self) -> bool {
        self.poison
    }

    /// The last poison violation `alloc_layout` found and repaired (it cannot return errors).
    pub fn take_poison_report(&mut self) -> Option<SlabError> {
        self.poison_report.take()
    }

    // ---- caches -----------------------------------------------------------------------

    /// Makes a cache of `size`-byte objects aligned to `align` (0: `ARCH_SLAB_MINALIGN`).
    pub fn kmem_cache_create(
        &mut self,
        name: &'static str,
        size: usize,
        align: usize,
    ) -> Result<CacheId, SlabError> {
        let bad = |why| SlabError::BadCacheArgs { name, size, align, why };
        if size == 0 {
            return Err(bad("size is zero"));
        }
        let a = if align == 0 { ARCH_SLAB_MINALIGN } else { align };
        if !a.is_power_of_two() {
            return Err(bad("align is not a power of two"));
        }
        if a > PAGE_SIZE {
            return Err(bad("align is larger than PAGE_SIZE"));
        }
        let a = a.max(ARCH_SLAB_MINALIGN);
        let too_big = bad("object does not fit in an order-3 slab");
        let stride = size.checked_next_multiple_of(a).ok_or(too_big)?;
        let slot = (NR_KMALLOC_CACHES..MAX_CACHES)
            .find(|&i| !self.caches[i].live)
            .ok_or(SlabError::TooManyCaches { name })?;
        let mut cache = KmemCache::new(name, stride, a, self.next_seq, false).ok_or(too_big)?;
        cache.gen = self.caches[slot].gen.wrapping_add(1);
        self.next_seq += 1;
        self.caches[slot] = cache;
        Ok(CacheId { index: slot as u8, gen: cache.gen })
    }

    /// The cache `kmalloc(size)` uses, or `None` for 0 and for sizes served by whole pages.
    pub fn kmalloc_slab(&self, size: usize) -> Option<CacheId> {
        if size == 0 || size > KMALLOC_MAX_CACHE_SIZE {
            return None;
        }
        let index = kmalloc_index(size);
        Some(CacheId { index: index as u8, gen: self.caches[index].gen })
    }

    fn check_id(&self, op: &'static str, id: CacheId) -> Result<usize, SlabError> {
        let i = id.index as usize;
        match self.caches.get(i) {
            Some(c) if c.live && c.gen == id.gen => Ok(i),
            _ => Err(SlabError::NoSuchCache { op }),
        }
    }

    /// One object from cache `id`.
    pub fn kmem_cache_alloc(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<usize, SlabError> {
        let i = self.check_id("kmem_cache_alloc", id)?;
        self.slab_alloc(src, i)
    }

    /// One zeroed object from cache `id`.
    pub fn kmem_cache_zalloc(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<usize, SlabError> {
        let obj = self.kmem_cache_alloc(src, id)?;
        let size = self.caches[id.index as usize].size;
        zero(obj, size);
        Ok(obj)
    }

    /// Gives `ptr` back to cache `id`; `ptr` must be a live object of that very cache.
    pub fn kmem_cache_free(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
        ptr: usize,
    ) -> Result<(), SlabError> {
        const OP: &str = "kmem_cache_free";
        let i = self.check_id(OP, id)?;
        if ptr == 0 {
            return Ok(());
        }
        let cache = self.caches[i].name;
        match self.locate(OP, ptr)? {
            Found::Large { .. } => {
                Err(SlabError::WrongCache { ptr, cache, actual: "kmalloc_large" })
            }
            Found::Object { cache: owner, .. } if owner != i => {
                Err(SlabError::WrongCache { ptr, cache, actual: self.caches[owner].name })
            }
            Found::Object { cache, slab, word, bit } => {
                self.free_object(src, cache, slab, word, bit, ptr);
                Ok(())
            }
        }
    }

    /// Gives every empty slab of cache `id` back to the page source; returns the pages freed.
    pub fn kmem_cache_shrink(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<usize, SlabError> {
        let i = self.check_id("kmem_cache_shrink", id)?;
        Ok(self.shrink_cache(src, i))
    }

    /// `kmem_cache_shrink` on every cache (so a memory test sees all slab pages come back).
    pub fn shrink_all(&mut self, src: &mut impl PageSource) -> usize {
        let mut pages = 0;
        for i in 0..MAX_CACHES {
            if self.caches[i].live {
                pages += self.shrink_cache(src, i);
            }
        }
        pages
    }

    fn shrink_cache(&mut self, src: &mut impl PageSource, i: usize) -> usize {
        let mut pages = 0;
        while self.caches[i].free != 0 {
            let slab = self.caches[i].free;
            // SAFETY: `slab` heads this cache's free list, so it is one of its live slabs.
            unsafe { self.caches[i].unlink(slab) };
            pages += self.caches[i].pages();
            self.release_slab(src, i, slab);
        }
        pages
    }

    /// Removes cache `id`. Refused while it has objects (Linux warns and leaks it instead).
    pub fn kmem_cache_destroy(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<(), SlabError> {
        let i = self.check_id("kmem_cache_destroy", id)?;
        let c = &self.caches[i];
        if c.kmalloc {
            return Err(SlabError::KmallocCache { name: c.name });
        }
        if c.active_objs != 0 {
            return Err(SlabError::CacheBusy { name: c.name, active: c.active_objs });
        }
        self.shrink_cache(src, i);
        let gen = self.caches[i].gen;
        self.caches[i] = KmemCache { gen, ..KmemCache::EMPTY };
        Ok(())
    }

    // ---- kmalloc ----------------------------------------------------------------------

    /// `size` bytes: from the smallest power-of-two class holding them (aligned to the class
    /// size), or whole pages above `KMALLOC_MAX_CACHE_SIZE`. `kmalloc(0)` is `ZERO_SIZE_PTR`.
    #[inline]
    pub fn kmalloc(&mut self, src: &mut impl PageSource, size: usize) -> Result<usize, SlabError> {
        if size == 0 {
            Ok(ZERO_SIZE_PTR)
        } else if size <= KMALLOC_MAX_CACHE_SIZE {
            self.slab_alloc(src, kmalloc_index(size))
        } else if size <= KMALLOC_MAX_SIZE {
            self.kmalloc_large(src, get_order(size))
        } else {
            Err(SlabError::TooLarge { size })
        }
    }

    /// `kmalloc` with the whole usable size (`ksize`) zeroed.
    pub fn kzalloc(&mut self, src: &mut impl PageSource, size: usize) -> Result<usize, SlabError> {
        let p = self.kmalloc(src, size)?;
        if p != ZERO_SIZE_PTR {
            let n = self.ksize(p)?;
            zero(p, n);
        }
        Ok(p)
    }

    /// Frees a kmalloc (or any slab) object. Null and `ZERO_SIZE_PTR` are no-ops; any other
    /// address that is not a live object's start is refused without touching the lists.
    #[inline]
    pub fn kfree(&mut self, src: &mut impl PageSource, ptr: usize) -> Result<(), SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return Ok(());
        }
        match self.locate("kfree", ptr)? {
            Found::Object { cache, slab, word, bit } => {
                self.free_object(src, cache, slab, word, bit, ptr);
            }
            Found::Large { order } => {
                self.registry.remove(src, ptr);
                src.free_pages(ptr, order);
                self.large_pages -= 1 << order;
                self.large_allocs -= 1;
            }
        }
        Ok(())
    }

    /// Usable bytes at `ptr` (the class or page-block size); 0 for null and `ZERO_SIZE_PTR`.
    pub fn ksize(&self, ptr: usize) -> Result<usize, SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return Ok(0);
        }
        Ok(match self.locate("ksize", ptr)? {
            Found::Object { cache, .. } => self.caches[cache].size,
            Found::Large { order } => PAGE_SIZE << order,
        })
    }

    /// Resizes `ptr` to `new_size`, in place when it still fits its `ksize`.
    pub fn krealloc(
        &mut self,
        src: &mut impl PageSource,
        ptr: usize,
        new_size: usize,
    ) -> Result<usize, SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return self.kmalloc(src, new_size);
        }
        let old = self.ksize(ptr)?;
        if new_size == 0 {
            self.kfree(src, ptr)?;
            return Ok(ZERO_SIZE_PTR);
        }
        if new_size <= old {
            return Ok(ptr);
        }
        let new = self.kmalloc(src, new_size)?;
        // SAFETY: `ptr` is a live object of `old` bytes and `new` a fresh one of more; distinct
        // live objects never overlap.
        unsafe { core::ptr::copy_nonoverlapping(ptr as *const u8, new as *mut u8, old) };
        self.kfree(src, ptr)?;
        Ok(new)
    }

    /// `GlobalAlloc::alloc` on top of kmalloc: a class of at least `align` bytes is aligned to
    /// `align` (power-of-two classes are naturally aligned; page blocks are page aligned, and
    /// naturally aligned when the source's are). Poison violations are repaired, kept for
    /// `take_poison_report`, and the allocation retried.
    pub fn alloc_layout(
        &mut self,
        src: &mut impl PageSource,
        size: usize,
        align: usize,
    ) -> Option<usize> {
        if !align.is_power_of_two() {
            return None;
        }
        let want = size.max(align).max(1);
        let p = match self.kmalloc(src, want) {
            Ok(p) => p,
            Err(e @ SlabError::PoisonOverwritten { .. }) => {
                self.poison_report = Some(e);
                self.kmalloc(src, want).ok()?
            }
            Err(_) => return None,
        };
        if p & (align - 1) != 0 {
            let _ = self.kfree(src, p);
            return None;
        }
        Some(p)
    }

    /// `GlobalAlloc::dealloc` on top of kfree.
    pub fn free_layout(
        &mut self,
        src: &mut impl PageSource,
        ptr: usize,
        _size: usize,
        _align: usize,
    ) -> Result<(), SlabError> {
        self.kfree(src, ptr)
    }

    // ---- statistics -------------------------------------------------------------------

    /// /proc/slabinfo lines, newest cache first as in Linux (kmalloc classes last).
    pub fn slabinfo(&self) -> impl Iterator<Item = SlabInfo> + '_ {
        let mut below = u32::MAX;
        core::iter::from_fn(move || {
            let c = self.caches.iter().filter(|c| c.live && c.seq < below).max_by_key(|c| c.seq)?;
            below = c.seq;
            Some(info(c))
        })
    }

    /// The slabinfo line of one cache.
    pub fn cache_info(&self, id: CacheId) -> Result<SlabInfo, SlabError> {
        Ok(info(&self.caches[self.check_id("slabinfo", id)?]))
    }

    /// Page totals for /proc/meminfo.
    pub fn meminfo(&self) -> SlabMeminfo {
        SlabMeminfo {
            slab_pages: self.slab_pages,
            large_pages: self.large_pages,
            large_allocs: self.large_allocs,
            registry_pages: self.registry.pages(),
        }
    }

    // ---- internals --------------------------------------------------------------------

    /// Validates `ptr` for `op`: it must lie in a page the registry knows (checked before any
    /// read), belong to an intact slab, sit exactly on an object start and be allocated.
    #[inline(always)]
    fn locate(&self, op: &'static str, ptr: usize) -> Result<Found, SlabError> {
        let invalid = |reason| SlabError::InvalidPointer { op, ptr, reason };
        let page = ptr & !PAGE_MASK;
        match self.registry.lookup(page) {
            None => Err(invalid(BadPointer::NotSlab)),
            Some(PageTag::Large { order }) => {
                if ptr == page {
                    Ok(Found::Large { order })
                } else {
                    Err(invalid(BadPointer::InsideLarge { base: page }))
                }
            }
            Some(PageTag::Slab { cache, index }) => {
                let slab = page - index * PAGE_SIZE;
                let corrupted = SlabError::SlabCorrupted { slab };
                let c = match self.caches.get(cache) {
                    Some(c) if c.live => c,
                    _ => return Err(corrupted),
                };
                // SAFETY: the registry lists `slab` as a live slab of ours; the reference is
                // read-only and dropped before anything else touches the descriptor.
                let desc = c.desc(slab);
                let (magic, owner, inuse) = unsafe {
                    let h = header(desc);
                    (h.magic, h.cache, h.inuse)
                };
                if magic != SLAB_MAGIC || owner as usize != cache || inuse as usize > c.objs {
                    return Err(corrupted);
                }
                let first = slab + c.offset;
                if ptr < first {
                    return Err(invalid(BadPointer::SlabHeader { cache: c.name }));
                }
                let (i, rem) = c.index_of(ptr - first);
                if i >= c.objs {
                    return Err(invalid(BadPointer::PastLastObject { cache: c.name }));
                }
                if rem != 0 {
                    let object = first + (ptr - first - rem);
                    return Err(invalid(BadPointer::Misaligned {
                        cache: c.name,
                        object,
                        offset: rem,
                    }));
                }
                let (word, bit) = (i / WORD_BITS, i % WORD_BITS);
                // SAFETY: as above; `c.words` is this cache's bitmap length.
                let allocated = unsafe { bitmap(desc, c.words)[word] } & (1 << bit) != 0;
                if !allocated {
                    return Err(SlabError::DoubleFree { op, ptr, cache: c.name });
                }
                if inuse == 0 {
                    // A set bit in a slab that counts no objects: the descriptor is damaged.
                    return Err(corrupted);
                }
                Ok(Found::Object { cache, slab, word, bit })
            }
        }
    }

    /// One object from cache `i`: the first free one of the first partial slab, else a spare
    /// empty slab, else a new slab.
    #[inline]
    fn slab_alloc(&mut self, src: &mut impl PageSource, i: usize) -> Result<usize, SlabError> {
        let mut slab = self.caches[i].partial;
        if slab == 0 {
            slab = self.caches[i].free;
            if slab != 0 {
                let c = &mut self.caches[i];
                // SAFETY: `slab` heads this cache's free list, so it is one of its live slabs.
                unsafe {
                    c.unlink(slab);
                    c.push(LIST_PARTIAL, slab);
                }
            } else {
                slab = self.grow(src, i)?;
            }
        }
        let c = &mut self.caches[i];
        // SAFETY: `slab` is on this cache's partial list; descriptor and bitmap are disjoint and
        // both references end before `unlink` makes new ones.
        let desc = c.desc(slab);
        let (h, bm) = unsafe { (header(desc), bitmap(desc, c.words)) };
        let mut w = h.free_hint as usize;
        while w < bm.len() && bm[w] == usize::MAX {
            w += 1;
        }
        let Some(&word) = bm.get(w) else {
            return Err(SlabError::SlabCorrupted { slab });
        };
        let bit = (!word).trailing_zeros() as usize;
        let index = w * WORD_BITS + bit;
        if index >= c.objs {
            return Err(SlabError::SlabCorrupted { slab });
        }
        let obj = slab + c.offset + index * c.size;
        if h.flags & SLAB_POISONED != 0 {
            if let Err(e) = check_poison(c.name, obj, c.size) {
                if h.inuse == 0 {
                    // Taken from the free list for this object: put it back, still empty.
                    // SAFETY: `slab` is a live slab of this cache; `h`, `bm` are not used again.
                    unsafe {
                        c.unlink(slab);
                        c.push(LIST_FREE, slab);
                    }
                }
                return Err(e);
            }
        }
        bm[w] = word | (1 << bit);
        let inuse = h.inuse + 1;
        h.inuse = inuse;
        h.free_hint = w as u32;
        let full = inuse as usize == c.objs;
        c.active_objs += 1;
        if full {
            // SAFETY: `slab` is a live slab of this cache; `h` and `bm` are no longer used.
            unsafe { c.unlink(slab) };
            c.nr_full += 1;
        }
        Ok(obj)
    }

    /// Returns object `ptr` (validated by `locate`) to its slab, moving the slab between lists
    /// and giving it back to the page source when it is empty and a spare is already kept.
    #[inline(always)]
    fn free_object(
        &mut self,
        src: &mut impl PageSource,
        i: usize,
        slab: usize,
        word: usize,
        bit: usize,
        ptr: usize,
    ) {
        let c = &mut self.caches[i];
        // SAFETY: `locate` found `slab` live and owned by cache `i`; the references end before
        // the list operations below make new ones.
        let desc = c.desc(slab);
        let (h, bm) = unsafe { (header(desc), bitmap(desc, c.words)) };
        bm[word] &= !(1 << bit);
        let inuse = h.inuse - 1;
        let was_full = h.inuse as usize == c.objs;
        h.inuse = inuse;
        if (word as u32) < h.free_hint {
            h.free_hint = word as u32;
        }
        if h.flags & SLAB_POISONED != 0 {
            poison_object(ptr, c.size);
        }
        c.active_objs -= 1;
        if was_full {
            c.nr_full -= 1;
            if inuse > 0 {
                // SAFETY: `slab` is a live slab of this cache and, being full, on no list.
                unsafe { c.push(LIST_PARTIAL, slab) };
            }
        }
        if inuse == 0 {
            // SAFETY: `slab` is a live slab of this cache.
            unsafe { c.unlink(slab) };
            if c.nr_free < SPARE_SLABS_PER_CACHE {
                // SAFETY: just unlinked.
                unsafe { c.push(LIST_FREE, slab) };
            } else {
                self.release_slab(src, i, slab);
            }
        }
    }

    /// A new slab for cache `i`, on its partial list.
    #[cold]
    fn grow(&mut self, src: &mut impl PageSource, i: usize) -> Result<usize, SlabError> {
        let c = self.caches[i];
        let pages = c.pages();
        self.registry.reserve(src, pages)?;
        let slab =
            src.alloc_pages(c.order).ok_or(SlabError::NoMemory { what: c.name, order: c.order })?;
        let bytes = PAGE_SIZE << c.order;
        let bad = SlabError::BadPageSource { addr: slab, order: c.order };
        if slab == 0 || slab & PAGE_MASK != 0 || slab.checked_add(bytes).is_none() {
            if slab != 0 {
                src.free_pages(slab, c.order);
            }
            return Err(bad);
        }
        if (0..pages).any(|p| self.registry.lookup(slab + p * PAGE_SIZE).is_some()) {
            // Handed out twice by the source: keep away from it rather than free it again.
            return Err(bad);
        }
        let poisoned = self.poison;
        // SAFETY: the source just gave us `bytes` bytes at `slab`, nobody else uses them.
        unsafe {
            let desc = c.desc(slab);
            let h = header(desc);
            *h = cache::SlabHeader {
                magic: SLAB_MAGIC,
                cache: i as u8,
                order: c.order as u8,
                list: cache::LIST_NONE,
                flags: if poisoned { SLAB_POISONED } else { 0 },
                inuse: 0,
                free_hint: 0,
                next: 0,
                prev: 0,
            };
            let bm = bitmap(desc, c.words);
            bm.fill(0);
            // Bits past the last object read as allocated, so the search never picks them.
            let tail = c.objs % WORD_BITS;
            if tail != 0 {
                bm[c.words - 1] = usize::MAX << tail;
            }
        }
        if poisoned {
            for k in 0..c.objs {
                poison_object(slab + c.offset + k * c.size, c.size);
            }
        }
        for p in 0..pages {
            self.registry.insert(slab + p * PAGE_SIZE, PageTag::Slab { cache: i, index: p });
        }
        self.slab_pages += pages;
        // SAFETY: the slab is initialised, owned by cache `i`, on no list.
        unsafe { self.caches[i].push(LIST_PARTIAL, slab) };
        Ok(slab)
    }

    /// Gives an empty slab (already off its list) back to the page source.
    fn release_slab(&mut self, src: &mut impl PageSource, i: usize, slab: usize) {
        let c = &self.caches[i];
        let (order, pages) = (c.order, c.pages());
        // SAFETY: `slab` is still ours until `free_pages` below.
        unsafe { header(c.desc(slab)).magic = SLAB_MAGIC_DEAD };
        for p in 0..pages {
            self.registry.remove(src, slab + p * PAGE_SIZE);
        }
        src.free_pages(slab, order);
        self.slab_pages -= pages;
    }

    /// `2^order` pages for a kmalloc above the largest class.
    #[cold]
    fn kmalloc_large(&mut self, src: &mut impl PageSource, order: u32) -> Result<usize, SlabError> {
        self.registry.reserve(src, 1)?;
        let p = src.alloc_pages(order).ok_or(SlabError::NoMemory { what: "kmalloc", order })?;
        if p == 0 || p & PAGE_MASK != 0 || self.registry.lookup(p).is_some() {
            if p != 0 && p & PAGE_MASK != 0 {
                src.free_pages(p, order);
            }
            return Err(SlabError::BadPageSource { addr: p, order });
        }
        self.registry.insert(p, PageTag::Large { order });
        self.large_pages += 1 << order;
        self.large_allocs += 1;
        Ok(p)
    }
}

fn info(c: &KmemCache) -> SlabInfo {
    let num_slabs = c.nr_slabs();
    SlabInfo {
        name: c.name,
        active_objs: c.active_objs,
        num_objs: num_slabs * c.objs,
        objsize: c.size,
        objperslab: c.objs,
        pagesperslab: c.pages(),
        active_slabs: c.nr_partial + c.nr_full,
        num_slabs,
    }
}

/// Zeroes `len` bytes at `addr`, a live object of at least that size.
fn zero(addr: usize, len: usize) {
    // SAFETY: callers pass an object they just allocated, `len` within its usable size.
    unsafe { core::ptr::write_bytes(addr as *mut u8, 0, len) };
}

/// Fills a free object with `POISON_FREE`, ending in `POISON_END`.
fn poison_object(obj: usize, size: usize) {
    // SAFETY: `obj` is an object of `size` bytes inside a slab we own, not allocated.
    let bytes = unsafe { core::slice::from_raw_parts_mut(obj as *mut u8, size) };
    bytes.fill(POISON_FREE);
    if let Some(last) = bytes.last_mut() {
        *last = POISON_END;
    }
}

/// Checks a free object still holds its poison; re-poisons it and reports the first bad byte.
fn check_poison(cache: &'static str, obj: usize, size: usize) -> Result<(), SlabError> {
    // SAFETY: as in `poison_object`.
    let bytes = unsafe { core::slice::from_raw_parts(obj as *const u8, size) };
    let expected = |k: usize| if k + 1 == size { POISON_END } else { POISON_FREE };
    match bytes.iter().enumerate().find(|&(k, &b)| b != expected(k)) {
        None => Ok(()),
        Some((offset, &found)) => {
            poison_object(obj, size);
            Err(SlabError::PoisonOverwritten {
                cache,
                object: obj,
                offset,
                found,
                expected: expected(offset),
            })
        }
    }
}
