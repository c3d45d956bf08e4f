//! The slab allocator as Linux 6.1's SLUB on ARMv7, and kmalloc on top of it: object caches
//! (`kmem_cache_create` / `_alloc` / `_free` / `_shrink` / `_destroy`) whose slabs come from
//! the page allocator, the kmalloc caches `kmalloc-64` ... `kmalloc-8k` of `mm/slab_common.c`,
//! and larger requests as `kmalloc_large` (compound pages straight from the page allocator).
//!
//! Geometry and paths follow `mm/slub.c`: objects from offset 0, free pointers in the middle
//! of free objects, one CPU slab with its freelist, a CPU partial list and a node partial list,
//! full slabs on no list. A slab's state (`struct slab`) lives outside the slab (`slabmap`), and
//! mem_map marks slab pages `PG_slab`: `kfree` looks the page up there first, as 6.1's `kfree`
//! does with `folio_test_slab`, so a wrong address typed at the console is refused before
//! anything is read. Pages come from a `PageSource` (the kernel: the buddy allocator; tests: a
//! node over a host arena).
mod cache;
mod error;
mod node;
mod slabmap;
mod slub;
mod verify;

#[cfg(test)]
pub(crate) mod tests;

pub use cache::{
    calculate_order, calculate_sizes, kmalloc_index, order_objects, slub_min_objects,
    CacheGeometry, MAX_OBJS_PER_PAGE, NR_KMALLOC_CACHES, PAGE_ALLOC_COSTLY_ORDER, SLUB_MAX_ORDER,
};
pub use error::{BadPointer, SlabError};
pub use node::{head_page, NodeHolder, NodePages};
pub use verify::SlabVerifyError;

use cache::{kmalloc_name, kmalloc_size, KmemCache, KMALLOC_CREATION_ORDER};
use slabmap::{SlabMap, NIL};

use super::page::PageOwner;
use super::{Pfn, PAGE_SHIFT};
use crate::config::MAX_ORDER;

/// Bytes per page, as an address-sized integer.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
const PAGE_MASK: usize = PAGE_SIZE - 1;

/// `ARCH_DMA_MINALIGN`, the architecture's (ARMv7: `L1_CACHE_BYTES`, 64; arm64: 128):
/// non-coherent DMA must not share a cache line with another object.
pub const ARCH_DMA_MINALIGN: usize = crate::config::ARCH_DMA_MINALIGN;
/// `ARCH_KMALLOC_MINALIGN`: every kmalloc object is aligned to this.
pub const ARCH_KMALLOC_MINALIGN: usize = ARCH_DMA_MINALIGN;
/// `KMALLOC_MIN_SIZE`: so there are no kmalloc-8/16/32/96 caches on ARMv7.
pub const KMALLOC_MIN_SIZE: usize = ARCH_DMA_MINALIGN;
/// `KMALLOC_SHIFT_LOW`: `ilog2(KMALLOC_MIN_SIZE)`.
pub const KMALLOC_SHIFT_LOW: u32 = KMALLOC_MIN_SIZE.trailing_zeros();
/// `KMALLOC_SHIFT_HIGH` of SLUB: two pages.
pub const KMALLOC_SHIFT_HIGH: u32 = PAGE_SHIFT + 1;
/// `KMALLOC_MAX_CACHE_SIZE`: the largest request a cache serves (8 KiB).
pub const KMALLOC_MAX_CACHE_SIZE: usize = 1 << KMALLOC_SHIFT_HIGH;
/// `KMALLOC_SHIFT_MAX` of SLUB: the largest block the page allocator has.
pub const KMALLOC_SHIFT_MAX: u32 = MAX_ORDER as u32 + PAGE_SHIFT - 1;
/// `KMALLOC_MAX_SIZE`: 4 MiB with `MAX_ORDER` 11.
pub const KMALLOC_MAX_SIZE: usize = 1 << KMALLOC_SHIFT_MAX;
/// `KMALLOC_MAX_ORDER`.
pub const KMALLOC_MAX_ORDER: u32 = KMALLOC_SHIFT_MAX - PAGE_SHIFT;
/// `ARCH_SLAB_MINALIGN`: `__alignof__(unsigned long long)` on ARM EABI.
pub const ARCH_SLAB_MINALIGN: usize = 8;
/// What `kmalloc(0)` returns: not null, but faults if used (Linux's value).
pub const ZERO_SIZE_PTR: usize = 16;
/// Cache slots, kmalloc caches included. Fixed: the slab layer uses no heap of its own.
pub const MAX_CACHES: usize = 32;
/// The Pi 2's `nr_cpu_ids` (four Cortex-A7 cores), what `calculate_order` sized the real
/// kernel's slabs with.
pub const NR_CPU_IDS: u32 = 4;

/// A kmalloc cache slot that does not exist.
const NO_CACHE: u8 = u8::MAX;

/// Linux's `get_order`: the smallest order whose block holds `size` bytes (size > 0).
#[inline]
pub const fn get_order(size: usize) -> u32 {
    let pages = (size - 1) >> PAGE_SHIFT;
    usize::BITS - pages.leading_zeros()
}

/// What mem_map says about the page an address is in (`virt_to_head_page()` and its flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadPage {
    /// A slab (`PG_slab` on the head page); the head's PFN.
    Slab { pfn: Pfn },
    /// A `kmalloc_large` block: its head's address and order.
    Large { addr: usize, order: u32 },
    /// Any other page, and who holds it.
    Other { owner: PageOwner },
    /// Not a linear-map address of a page in mem_map.
    None,
}

/// Where the slab layer gets pages: the kernel's buddy allocator (`BuddyPages`), or a node
/// over host memory in tests and benchmarks. Every method may be called with the slab state
/// mid-update and must not call back into the slab layer.
pub trait PageSource {
    /// `allocate_slab()`: `2^order` lowmem pages owned by the slab layer (`PageOwner::Slab`,
    /// compound above order 0) and marked `PG_slab`; their address and first PFN.
    fn alloc_slab_pages(&mut self, order: u32) -> Option<(usize, Pfn)>;
    /// `__free_slab()`: clears `PG_slab` and frees the block.
    fn free_slab_pages(&mut self, pfn: Pfn, order: u32);
    /// `kmalloc_large()`'s block: compound pages owned by `PageOwner::KmallocLarge`.
    fn alloc_large(&mut self, order: u32) -> Option<usize>;
    /// `free_large_kmalloc()`.
    fn free_large(&mut self, addr: usize, order: u32);
    /// Pages for the slab layer's own bookkeeping (the `struct slab` table).
    fn alloc_meta(&mut self, order: u32) -> Option<usize>;
    fn free_meta(&mut self, addr: usize, order: u32);
    /// `virt_to_head_page(addr)` as mem_map describes it.
    fn head_page(&self, addr: usize) -> HeadPage;
    /// The PFNs slab pages can come from (`[start, end)`), to size the `struct slab` table.
    fn lowmem_pfns(&self) -> (Pfn, Pfn);
}

/// What `kmem_cache_init` needs to know about the machine and the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmallocConfig {
    /// `nr_cpu_ids`, for `slub_min_objects`.
    pub nr_cpu_ids: u32,
    /// The largest `kmalloc`: `KMALLOC_MAX_SIZE`, or a profile's older ceiling.
    pub max_size: usize,
}

impl KmallocConfig {
    /// Linux 6.1 on the Pi 2: four CPUs, `KMALLOC_MAX_SIZE`.
    pub const LINUX: Self = Self { nr_cpu_ids: NR_CPU_IDS, max_size: KMALLOC_MAX_SIZE };
}

/// Names a cache made by `kmem_cache_create` (or a kmalloc cache). The generation makes an id
/// of a destroyed cache invalid even after its slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheId {
    index: u8,
    gen: u16,
}

/// One line of /proc/slabinfo, as 6.1's `get_slabinfo()` fills `struct slabinfo` for SLUB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabInfo {
    pub name: &'static str,
    /// Objects not free on a node partial slab (CPU slab and CPU partial objects count).
    pub active_objs: usize,
    pub num_objs: usize,
    /// `s->size`: the object stride.
    pub objsize: usize,
    pub objperslab: usize,
    pub pagesperslab: usize,
    /// SLUB prints `nr_slabs` for both.
    pub active_slabs: usize,
    pub num_slabs: usize,
}

/// What `/sys/kernel/slab/<cache>/` shows of one cache (6.1's `slab_attrs[]`, those pivm has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStat {
    /// The slabinfo line: `slabs` (`nr_slabs`), `objects` (in use, as slabinfo counts them),
    /// `total_objects`, `slab_size` (`s->size`), `objs_per_slab`.
    pub info: SlabInfo,
    /// `s->object_size`.
    pub object_size: usize,
    /// `oo_order(s->oo)`.
    pub order: u32,
    /// `s->min_partial`: empty slabs the node partial list keeps.
    pub min_partial: usize,
    /// Objects allocated and not freed, exactly: `objects` less the free objects of the CPU
    /// slab and the CPU partial list, which slabinfo counts as active. What a leak check
    /// compares: how many slabs hold those objects depends on the order they were freed in.
    pub objects_inuse: usize,
}

/// Slab memory for /proc/meminfo, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SlabMeminfo {
    /// Pages in slabs of all caches.
    pub slab_pages: usize,
    /// Pages of `kmalloc_large` blocks (6.1 counts them as `NR_SLAB_UNRECLAIMABLE_B`).
    pub large_pages: usize,
    /// Number of such blocks outstanding.
    pub large_allocs: usize,
    /// Pages of the `struct slab` table (pivm's: Linux keeps it in mem_map).
    pub map_pages: usize,
}

impl SlabMeminfo {
    /// Every page the slab layer holds from its page source.
    pub fn total_pages(&self) -> usize {
        self.slab_pages + self.large_pages + self.map_pages
    }
    /// `SReclaimable:`: pivm has no shrinkable caches (dentries, inodes).
    pub fn sreclaimable_pages(&self) -> usize {
        0
    }
    /// `SUnreclaim:`: everything, large kmallocs included.
    pub fn sunreclaim_pages(&self) -> usize {
        self.total_pages()
    }
}

/// Where a validated pointer lives.
enum Found {
    /// The first byte of an object of cache `cache` in the slab at map index `slab`, whose
    /// own freelist starts at `freelist`.
    Object {
        cache: usize,
        slab: u32,
        freelist: usize,
    },
    Large {
        order: u32,
    },
}

/// All caches and the kmalloc front end. One instance serves the whole kernel, behind a
/// `spin::Mutex`; `new` is `const` for that, and `kmem_cache_init` makes the kmalloc caches.
pub struct Slab {
    caches: [KmemCache; MAX_CACHES],
    /// `kmalloc_caches[KMALLOC_NORMAL][index]`: the slot of each kmalloc index's cache.
    kmalloc_caches: [u8; KMALLOC_SHIFT_HIGH as usize + 1],
    map: SlabMap,
    large_pages: usize,
    large_allocs: usize,
    kmalloc_max_size: usize,
    nr_cpu_ids: u32,
    next_seq: u32,
    /// A slab's virtual page number minus its first PFN, as the first slab made had it
    /// (`LINEAR_UNKNOWN` before): the linear map's offset, which lets `kfree` guess an
    /// object's slab from its address without asking mem_map (see `locate_fast`).
    linear_delta: usize,
}

/// `Slab::linear_delta` before the first slab.
const LINEAR_UNKNOWN: usize = usize::MAX;
/// `Slab::linear_delta` once two slabs were made at different offsets.
const LINEAR_BROKEN: usize = usize::MAX - 1;

const _: () = assert!(MAX_CACHES < NO_CACHE as usize && NR_KMALLOC_CACHES < MAX_CACHES);

impl Default for Slab {
    fn default() -> Self {
        Self::new()
    }
}

impl Slab {
    /// No caches yet: `kmem_cache_init` makes them.
    pub const fn new() -> Self {
        Self {
            caches: [KmemCache::EMPTY; MAX_CACHES],
            kmalloc_caches: [NO_CACHE; KMALLOC_SHIFT_HIGH as usize + 1],
            map: SlabMap::new(),
            large_pages: 0,
            large_allocs: 0,
            kmalloc_max_size: 0,
            nr_cpu_ids: NR_CPU_IDS,
            next_seq: 0,
            linear_delta: LINEAR_UNKNOWN,
        }
    }

    /// `new` followed by `kmem_cache_init(config)`.
    pub fn with_config(config: KmallocConfig) -> Self {
        let mut s = Self::new();
        s.init_kmalloc_caches(config);
        s
    }

    /// `kmem_cache_init()` / `create_kmalloc_caches()`: the kmalloc caches in 6.1's creation
    /// order, sized for `config.nr_cpu_ids`, and kmalloc's ceiling (at most
    /// `KMALLOC_MAX_SIZE`). Refused once a kmalloc cache holds slabs.
    pub fn kmem_cache_init(&mut self, config: KmallocConfig) -> Result<(), SlabError> {
        let busy = self
            .kmalloc_caches
            .iter()
            .any(|&slot| slot != NO_CACHE && self.caches[slot as usize].node.nr_slabs != 0);
        if busy || self.large_allocs != 0 {
            return Err(SlabError::AlreadyInitialised);
        }
        self.init_kmalloc_caches(config);
        Ok(())
    }

    fn init_kmalloc_caches(&mut self, config: KmallocConfig) {
        self.nr_cpu_ids = config.nr_cpu_ids.max(1);
        self.kmalloc_max_size = config.max_size.clamp(KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE);
        for (slot, &index) in KMALLOC_CREATION_ORDER.iter().enumerate() {
            let size = kmalloc_size(index);
            // create_boot_cache(): power-of-two sizes are naturally aligned.
            let align = if size.is_power_of_two() {
                size.max(ARCH_KMALLOC_MINALIGN)
            } else {
                ARCH_KMALLOC_MINALIGN
            };
            let gen = self.caches[slot].gen.wrapping_add(1);
            let cache = KmemCache::open(
                kmalloc_name(index),
                size,
                align,
                slot as u32,
                true,
                self.nr_cpu_ids,
            );
            // Every kmalloc size fits a slab of at most order 1 (8 KiB): `open` cannot fail.
            self.caches[slot] = KmemCache { gen, ..cache.unwrap_or(KmemCache::EMPTY) };
            self.kmalloc_caches[index] = slot as u8;
        }
        self.next_seq = self.next_seq.max(NR_KMALLOC_CACHES as u32);
    }

    /// The ceiling `kmalloc` enforces.
    pub fn kmalloc_max_size(&self) -> usize {
        self.kmalloc_max_size
    }

    // ---- caches -----------------------------------------------------------------------

    /// `kmem_cache_create()`: a cache of `size`-byte objects aligned to `align` (0:
    /// `ARCH_SLAB_MINALIGN`). Caches are never merged with others (pivm has no aliases).
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
        if align != 0 && !align.is_power_of_two() {
            return Err(bad("align is not a power of two"));
        }
        if align > PAGE_SIZE {
            return Err(bad("align is larger than PAGE_SIZE"));
        }
        // calculate_alignment(): at least ARCH_SLAB_MINALIGN, a multiple of a word.
        let a = align.max(ARCH_SLAB_MINALIGN).next_multiple_of(cache::FREEPTR_SIZE);
        // Checked before any sizing arithmetic, which must not overflow.
        if size > PAGE_SIZE << (MAX_ORDER - 1) {
            return Err(bad("object larger than the largest page block"));
        }
        let slot = (NR_KMALLOC_CACHES..MAX_CACHES)
            .find(|&i| !self.caches[i].live)
            .ok_or(SlabError::TooManyCaches { name })?;
        let cache = KmemCache::open(name, size, a, self.next_seq, false, self.nr_cpu_ids)
            .ok_or(bad("object larger than the largest page block"))?;
        let gen = self.caches[slot].gen.wrapping_add(1);
        self.next_seq += 1;
        self.caches[slot] = KmemCache { gen, ..cache };
        Ok(CacheId { index: slot as u8, gen })
    }

    /// `kmalloc_slab()`: the cache `kmalloc(size)` uses, or `None` for 0 and for sizes
    /// served by `kmalloc_large`.
    pub fn kmalloc_slab(&self, size: usize) -> Option<CacheId> {
        if size == 0 || size > KMALLOC_MAX_CACHE_SIZE {
            return None;
        }
        let slot = self.kmalloc_caches[kmalloc_index(size)];
        (slot != NO_CACHE).then(|| CacheId { index: slot, gen: self.caches[slot as usize].gen })
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

    /// One object from cache `id`, its `object_size` bytes zeroed.
    pub fn kmem_cache_zalloc(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<usize, SlabError> {
        let obj = self.kmem_cache_alloc(src, id)?;
        zero(obj, self.caches[id.index as usize].object_size);
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
        match self.locate(src, OP, ptr)? {
            Found::Large { .. } => {
                Err(SlabError::WrongCache { ptr, cache, actual: "kmalloc_large" })
            }
            Found::Object { cache: owner, .. } if owner != i => {
                Err(SlabError::WrongCache { ptr, cache, actual: self.caches[owner].name })
            }
            Found::Object { cache, slab, .. } => {
                if self.on_freelist(cache, slab, ptr)? {
                    return Err(SlabError::DoubleFree {
                        op: OP,
                        ptr,
                        cache: self.caches[cache].name,
                    });
                }
                self.slab_free(src, cache, slab, ptr);
                Ok(())
            }
        }
    }

    /// `kmem_cache_shrink()`: flushes the CPU slabs and gives every empty slab back; returns
    /// the pages freed.
    pub fn kmem_cache_shrink(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<usize, SlabError> {
        let i = self.check_id("kmem_cache_shrink", id)?;
        Ok(self.__kmem_cache_shrink(src, i))
    }

    /// `kmem_cache_shrink` on every cache (what `echo 3 > drop_caches` does to slabs).
    pub fn shrink_all(&mut self, src: &mut impl PageSource) -> usize {
        let mut pages = 0;
        for i in 0..MAX_CACHES {
            if self.caches[i].live {
                pages += self.__kmem_cache_shrink(src, i);
            }
        }
        pages
    }

    /// The live caches by slot (sysfs names a cache's directory by its name; the slot is
    /// what pivm's `/sys/kernel/slab` nodes hold), newest first as `slab_caches` is.
    pub fn cache_slots(&self) -> impl Iterator<Item = (u8, &'static str)> + '_ {
        let mut below = u32::MAX;
        core::iter::from_fn(move || {
            let (i, c) = self
                .caches
                .iter()
                .enumerate()
                .filter(|(_, c)| c.live && c.seq < below)
                .max_by_key(|(_, c)| c.seq)?;
            below = c.seq;
            Some((i as u8, c.name))
        })
    }

    /// The sysfs attributes of the cache in `slot`; None if the slot holds none.
    pub fn cache_stat(&self, slot: u8) -> Option<CacheStat> {
        let c = self.caches.get(slot as usize).filter(|c| c.live)?;
        Some(CacheStat {
            info: info(c, &self.map),
            object_size: c.object_size,
            order: c.order,
            min_partial: c.min_partial,
            objects_inuse: self.objects_inuse(slot as usize),
        })
    }

    /// Objects of the cache in slot `ci` handed out and not freed: every slab's `inuse` (which
    /// counts the CPU freelist's objects as SLUB's does) less the CPU freelist.
    fn objects_inuse(&self, ci: usize) -> usize {
        let c = &self.caches[ci];
        let inuse: usize = self
            .map
            .iter()
            .filter(|(_, d)| usize::from(d.cache) == ci)
            .map(|(_, d)| usize::from(d.inuse))
            .sum();
        let cpu_free = if c.cpu.slab == NIL {
            0
        } else {
            // A corrupted CPU freelist (verify reports it) counts as in use.
            verify::freelist_len(c, c.cpu.slab_base, c.cpu.freelist).unwrap_or(0)
        };
        inuse.saturating_sub(cpu_free)
    }

    /// `kmem_cache_shrink` of the cache in `slot` (sysfs's `shrink` file): the pages freed,
    /// None if the slot holds no cache.
    pub fn shrink_slot(&mut self, src: &mut impl PageSource, slot: u8) -> Option<usize> {
        let i = slot as usize;
        if !self.caches.get(i).is_some_and(|c| c.live) {
            return None;
        }
        Some(self.__kmem_cache_shrink(src, i))
    }

    /// `kmem_cache_destroy()`. Refused while the cache has objects (Linux warns and keeps it).
    pub fn kmem_cache_destroy(
        &mut self,
        src: &mut impl PageSource,
        id: CacheId,
    ) -> Result<(), SlabError> {
        let i = self.check_id("kmem_cache_destroy", id)?;
        let name = self.caches[i].name;
        if self.caches[i].kmalloc {
            return Err(SlabError::KmallocCache { name });
        }
        self.__kmem_cache_shrink(src, i);
        if self.caches[i].node.nr_slabs != 0 {
            let active = info(&self.caches[i], &self.map).active_objs;
            return Err(SlabError::CacheBusy { name, active });
        }
        let gen = self.caches[i].gen;
        self.caches[i] = KmemCache { gen, ..KmemCache::EMPTY };
        Ok(())
    }

    // ---- kmalloc ----------------------------------------------------------------------

    /// `kmalloc()`: `ZERO_SIZE_PTR` for 0, an object of the cache `size_index[]` picks up to
    /// `KMALLOC_MAX_CACHE_SIZE`, `kmalloc_large` above it up to the ceiling.
    #[inline]
    pub fn kmalloc(&mut self, src: &mut impl PageSource, size: usize) -> Result<usize, SlabError> {
        if size == 0 {
            Ok(ZERO_SIZE_PTR)
        } else if size <= KMALLOC_MAX_CACHE_SIZE {
            let slot = self.kmalloc_caches[kmalloc_index(size)];
            if slot == NO_CACHE {
                return Err(SlabError::NotInitialised);
            }
            self.slab_alloc(src, slot as usize)
        } else if size <= self.kmalloc_max_size {
            self.kmalloc_large(src, size)
        } else {
            Err(SlabError::TooLarge {
                size,
                max: self.kmalloc_max_size.max(KMALLOC_MAX_CACHE_SIZE),
            })
        }
    }

    /// `kzalloc()`: `kmalloc` with the object (or the whole large block) zeroed.
    pub fn kzalloc(&mut self, src: &mut impl PageSource, size: usize) -> Result<usize, SlabError> {
        let p = self.kmalloc(src, size)?;
        if p != ZERO_SIZE_PTR {
            let n = if size <= KMALLOC_MAX_CACHE_SIZE {
                let slot = self.kmalloc_caches[kmalloc_index(size)];
                self.caches[slot as usize].object_size
            } else {
                PAGE_SIZE << get_order(size)
            };
            zero(p, n);
        }
        Ok(p)
    }

    /// `kfree()`: null and `ZERO_SIZE_PTR` are no-ops; the page is looked up in mem_map and
    /// anything but an object's first byte or a `kmalloc_large` block's is refused, changing
    /// nothing. Like Linux it trusts the caller about the object being live, beyond the
    /// check against the freelist heads: the console uses `kfree_checked`.
    #[inline]
    pub fn kfree(&mut self, src: &mut impl PageSource, ptr: usize) -> Result<(), SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return Ok(());
        }
        match self.locate(src, "kfree", ptr)? {
            Found::Object { cache, slab, freelist } => {
                let c = &self.caches[cache];
                if ptr == freelist || (c.cpu.slab == slab && ptr == c.cpu.freelist) {
                    return Err(SlabError::DoubleFree { op: "kfree", ptr, cache: c.name });
                }
                self.slab_free(src, cache, slab, ptr);
            }
            Found::Large { order } => self.free_large_kmalloc(src, ptr, order),
        }
        Ok(())
    }

    /// `kfree` with SLUB's free consistency checks (`slub_debug=F`'s `on_freelist`): an
    /// object already free is refused, whichever freelist it is on. The console's `kfree`,
    /// since a person can type any address twice.
    pub fn kfree_checked(
        &mut self,
        src: &mut impl PageSource,
        ptr: usize,
    ) -> Result<(), SlabError> {
        if ptr > ZERO_SIZE_PTR {
            if let Found::Object { cache, slab, .. } = self.locate(src, "kfree", ptr)? {
                if self.on_freelist(cache, slab, ptr)? {
                    let cache = self.caches[cache].name;
                    return Err(SlabError::DoubleFree { op: "kfree", ptr, cache });
                }
            }
        }
        self.kfree(src, ptr)
    }

    /// `ksize()`: usable bytes at `ptr` (`s->size` of its cache, or the large block's size);
    /// 0 for null and `ZERO_SIZE_PTR`. A free object is reported as such.
    pub fn ksize(&self, src: &impl PageSource, ptr: usize) -> Result<usize, SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return Ok(0);
        }
        match self.locate(src, "ksize", ptr)? {
            Found::Object { cache, slab, .. } => {
                let c = &self.caches[cache];
                if self.on_freelist(cache, slab, ptr)? {
                    return Err(SlabError::FreeObject { ptr, cache: c.name });
                }
                Ok(c.size)
            }
            Found::Large { order } => Ok(PAGE_SIZE << order),
        }
    }

    /// `krealloc()`: in place when `new_size` still fits the object, else a new one with the
    /// contents copied.
    pub fn krealloc(
        &mut self,
        src: &mut impl PageSource,
        ptr: usize,
        new_size: usize,
    ) -> Result<usize, SlabError> {
        if ptr <= ZERO_SIZE_PTR {
            return self.kmalloc(src, new_size);
        }
        let old = match self.locate(src, "krealloc", ptr)? {
            Found::Object { cache, .. } => self.caches[cache].size,
            Found::Large { order } => PAGE_SIZE << order,
        };
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

    /// `GlobalAlloc::alloc` on top of kmalloc. Every object is aligned to
    /// `ARCH_KMALLOC_MINALIGN`, power-of-two caches to their size, large blocks to theirs; so a
    /// larger alignment is had by asking for a power of two at least that large.
    pub fn alloc_layout(
        &mut self,
        src: &mut impl PageSource,
        size: usize,
        align: usize,
    ) -> Option<usize> {
        if !align.is_power_of_two() {
            return None;
        }
        let want = if align <= ARCH_KMALLOC_MINALIGN {
            size.max(1)
        } else {
            size.max(align).checked_next_power_of_two()?
        };
        let p = self.kmalloc(src, want).ok()?;
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

    /// /proc/slabinfo lines, newest cache first as Linux's `slab_caches` list is (so the
    /// kmalloc caches come last, kmalloc-64 at the very end).
    pub fn slabinfo(&self) -> impl Iterator<Item = SlabInfo> + '_ {
        let mut below = u32::MAX;
        core::iter::from_fn(move || {
            let c = self.caches.iter().filter(|c| c.live && c.seq < below).max_by_key(|c| c.seq)?;
            below = c.seq;
            Some(info(c, &self.map))
        })
    }

    /// The slabinfo line of one cache.
    pub fn cache_info(&self, id: CacheId) -> Result<SlabInfo, SlabError> {
        Ok(info(&self.caches[self.check_id("slabinfo", id)?], &self.map))
    }

    /// Page totals for /proc/meminfo.
    pub fn meminfo(&self) -> SlabMeminfo {
        let slab_pages =
            self.caches.iter().filter(|c| c.live).map(|c| c.node.nr_slabs * c.pages()).sum();
        SlabMeminfo {
            slab_pages,
            large_pages: self.large_pages,
            large_allocs: self.large_allocs,
            map_pages: self.map.pages(),
        }
    }

    // ---- internals --------------------------------------------------------------------

    /// Validates `ptr` for `op` through mem_map (`virt_to_head_page`, `PG_slab`), then the
    /// slab's state: it must be an object's first byte, or a large block's.
    #[inline]
    fn locate(
        &self,
        src: &impl PageSource,
        op: &'static str,
        ptr: usize,
    ) -> Result<Found, SlabError> {
        if let Some(found) = self.locate_fast(ptr) {
            return Ok(found);
        }
        let invalid = |reason| SlabError::InvalidPointer { op, ptr, reason };
        match src.head_page(ptr) {
            HeadPage::None => Err(invalid(BadPointer::NoPage)),
            HeadPage::Other { owner } => Err(invalid(BadPointer::NotSlab { owner })),
            HeadPage::Large { addr, order } => {
                if ptr == addr {
                    Ok(Found::Large { order })
                } else {
                    Err(invalid(BadPointer::InsideLarge { base: addr }))
                }
            }
            HeadPage::Slab { pfn } => {
                let corrupted = SlabError::SlabCorrupted { slab: ptr & !PAGE_MASK };
                let slab = self.map.index(pfn).ok_or(corrupted)?;
                let d = self.map.get(slab).ok_or(corrupted)?;
                let cache = d.cache as usize;
                let c = match self.caches.get(cache) {
                    Some(c) if c.live => c,
                    _ => return Err(corrupted),
                };
                match c.object_at(d.base, ptr) {
                    Ok(_) => Ok(Found::Object { cache, slab, freelist: d.freelist }),
                    Err((0, _)) => Err(invalid(BadPointer::PastLastObject { cache: c.name })),
                    Err((object, offset)) => {
                        Err(invalid(BadPointer::Misaligned { cache: c.name, object, offset }))
                    }
                }
            }
        }
    }

    /// `virt_to_slab` without the page source's lock: the PFN `ptr` would have in the linear
    /// map (the offset every slab so far was made at), and the slab that would start at its
    /// aligned head for each order up to `slub_max_order`, from the slab layer's own table.
    /// Answers only when that slab's memory contains `ptr` and `ptr` is an object's first
    /// byte: a slab's pages are its own, so the answer is the one mem_map gives. Anything
    /// else (a large block, a bad pointer, a higher-order slab) goes to `locate`'s mem_map
    /// lookup.
    #[inline]
    fn locate_fast(&self, ptr: usize) -> Option<Found> {
        if self.linear_delta >= LINEAR_BROKEN {
            return None;
        }
        let pfn = (ptr >> PAGE_SHIFT).wrapping_sub(self.linear_delta);
        for order in 0..=SLUB_MAX_ORDER {
            let head = Pfn((pfn & !((1usize << order) - 1)) as u64);
            let slab = self.map.index(head)?;
            let Some(d) = self.map.get(slab) else { continue };
            // Slabs do not overlap: the one found here is the only candidate.
            if ptr.wrapping_sub(d.base) >> PAGE_SHIFT >= 1usize << d.order {
                return None;
            }
            let c = self.caches.get(d.cache as usize).filter(|c| c.live)?;
            return c.object_at(d.base, ptr).ok().map(|_| Found::Object {
                cache: d.cache as usize,
                slab,
                freelist: d.freelist,
            });
        }
        None
    }

    /// Records the linear offset of a new slab at `base`, PFN `pfn`; a slab made at another
    /// offset (a page source that is no linear map) turns `locate_fast` off for good.
    fn note_linear(&mut self, base: usize, pfn: Pfn) {
        let delta = (base >> PAGE_SHIFT).wrapping_sub(pfn.0 as usize);
        if self.linear_delta == LINEAR_UNKNOWN {
            self.linear_delta = delta;
        } else if self.linear_delta != delta {
            self.linear_delta = LINEAR_BROKEN;
        }
    }

    /// `kmalloc_large()`: compound pages of `get_order(size)`.
    #[cold]
    fn kmalloc_large(
        &mut self,
        src: &mut impl PageSource,
        size: usize,
    ) -> Result<usize, SlabError> {
        let order = get_order(size);
        let p =
            src.alloc_large(order).ok_or(SlabError::NoMemory { what: "kmalloc_large", order })?;
        if p == 0 || p & PAGE_MASK != 0 {
            return Err(SlabError::BadPageSource { addr: p, order });
        }
        self.large_pages += 1 << order;
        self.large_allocs += 1;
        Ok(p)
    }

    /// `free_large_kmalloc()`.
    #[cold]
    fn free_large_kmalloc(&mut self, src: &mut impl PageSource, ptr: usize, order: u32) {
        src.free_large(ptr, order);
        self.large_pages -= 1 << order;
        self.large_allocs -= 1;
    }
}

/// `get_slabinfo()` for SLUB: free objects are counted on the node partial list only.
fn info(c: &KmemCache, map: &SlabMap) -> SlabInfo {
    let mut nr_free = 0;
    let mut idx = c.node.partial_head;
    let mut steps = 0;
    while idx != NIL && steps <= c.node.nr_partial {
        let Some(d) = map.get(idx) else { break };
        nr_free += usize::from(d.objects - d.inuse.min(d.objects));
        idx = d.next;
        steps += 1;
    }
    SlabInfo {
        name: c.name,
        active_objs: c.node.total_objects - nr_free.min(c.node.total_objects),
        num_objs: c.node.total_objects,
        objsize: c.size,
        objperslab: c.objects,
        pagesperslab: c.pages(),
        active_slabs: c.node.nr_slabs,
        num_slabs: c.node.nr_slabs,
    }
}

/// Zeroes `len` bytes at `addr`, a live object of at least that size.
fn zero(addr: usize, len: usize) {
    // SAFETY: callers pass an object they just allocated, `len` within its size.
    unsafe { core::ptr::write_bytes(addr as *mut u8, 0, len) };
}
