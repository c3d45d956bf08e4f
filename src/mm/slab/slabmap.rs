//! `struct slab` outside the slab. Linux 6.1 overlays a slab's state (cache, freelist, in-use
//! count, list links) on its head `struct page`; pivm's 16-byte `Page` has no room for it, so
//! the slab layer keeps it in a table indexed by PFN, as `page_ext` extends `struct page`: a
//! directory of one-page chunks of `SlabDesc`, a chunk allocated when the first slab in its
//! PFN range is made and freed with the last. Nothing is stored inside a slab but objects and
//! their free pointers. mem_map still says which pages are slabs (`PG_slab`); this table
//! answers only for them.
use core::mem::size_of;

use super::{get_order, PageSource, SlabError, PAGE_SIZE};
use crate::mm::Pfn;

/// "No slab" in a list link or an index field.
pub(super) const NIL: u32 = u32::MAX;

/// Which list a slab is on (full slabs are on none, as in SLUB without debugging).
pub(super) const LIST_NONE: u8 = 0;
/// `kmem_cache_node.partial`.
pub(super) const LIST_PARTIAL: u8 = 1;
/// `kmem_cache_cpu.partial`.
pub(super) const LIST_CPU_PARTIAL: u8 = 2;
/// `kmem_cache_cpu.slab`.
pub(super) const LIST_CPU_SLAB: u8 = 3;

/// `struct slab`: the state of one slab, found by its first page's PFN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlabDesc {
    /// The slab's first byte (0: no slab at this PFN).
    pub base: usize,
    /// `slab->freelist`: first free object not handed to the CPU freelist (0: none).
    pub freelist: usize,
    /// `slab_list` (node partial list) or `next` (CPU partial list), as map indices.
    pub next: u32,
    pub prev: u32,
    /// `slab->inuse`: objects allocated or on the CPU freelist.
    pub inuse: u16,
    /// `slab->objects`.
    pub objects: u16,
    /// `slab->slab_cache`: the cache's slot.
    pub cache: u8,
    /// `slab->frozen`: owned by the CPU (its slab or on its partial list).
    pub frozen: bool,
    /// `LIST_*`: where the slab is linked (pivm's, for verify).
    pub list: u8,
    /// The page order of the slab.
    pub order: u8,
}

impl SlabDesc {
    const EMPTY: Self = Self {
        base: 0,
        freelist: 0,
        next: NIL,
        prev: NIL,
        inuse: 0,
        objects: 0,
        cache: 0,
        frozen: false,
        list: LIST_NONE,
        order: 0,
    };
}

/// Descriptors per chunk page.
const PER_CHUNK: usize = PAGE_SIZE / size_of::<SlabDesc>();

/// One directory entry: a chunk's address (0: none) and its live slabs.
#[derive(Clone, Copy)]
struct DirEntry {
    chunk: usize,
    live: usize,
}

/// The table. Empty until the first slab; its directory covers the PFNs the page source says
/// slabs can come from.
pub(super) struct SlabMap {
    base_pfn: u64,
    nr_pfns: usize,
    /// The directory block (0: none yet), its order and entries.
    dir: usize,
    dir_order: u32,
    dir_len: usize,
    /// Chunk pages allocated.
    chunks: usize,
}

impl SlabMap {
    pub(super) const fn new() -> Self {
        Self { base_pfn: 0, nr_pfns: 0, dir: 0, dir_order: 0, dir_len: 0, chunks: 0 }
    }

    /// Pages the table occupies (directory and chunks).
    pub(super) fn pages(&self) -> usize {
        if self.dir == 0 {
            0
        } else {
            (1 << self.dir_order) + self.chunks
        }
    }

    fn entries(&self) -> &[DirEntry] {
        if self.dir == 0 {
            return &[];
        }
        // SAFETY: `dir` is a block of at least `dir_len` entries from the page source, owned
        // by this map and initialised in `init`; `&self` keeps it alive and unaliased by writes.
        unsafe { core::slice::from_raw_parts(self.dir as *const DirEntry, self.dir_len) }
    }

    fn entries_mut(&mut self) -> &mut [DirEntry] {
        if self.dir == 0 {
            return &mut [];
        }
        // SAFETY: as in `entries`; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.dir as *mut DirEntry, self.dir_len) }
    }

    /// The map index of `pfn`, if the table covers it.
    #[inline]
    pub(super) fn index(&self, pfn: Pfn) -> Option<u32> {
        let i = pfn.0.checked_sub(self.base_pfn)?;
        (i < self.nr_pfns as u64).then_some(i as u32)
    }

    /// The PFN of map index `idx`.
    pub(super) fn pfn(&self, idx: u32) -> Pfn {
        Pfn(self.base_pfn + u64::from(idx))
    }

    #[inline]
    fn slot(&self, idx: u32) -> Option<*mut SlabDesc> {
        let i = idx as usize;
        let e = self.entries().get(i / PER_CHUNK)?;
        if e.chunk == 0 {
            return None;
        }
        Some((e.chunk as *mut SlabDesc).wrapping_add(i % PER_CHUNK))
    }

    /// The slab at map index `idx`, if there is one.
    #[inline]
    pub(super) fn get(&self, idx: u32) -> Option<&SlabDesc> {
        // SAFETY: `slot` points into a live chunk of this map whose descriptors were all
        // initialised when it was allocated; `&self` rules out a concurrent `get_mut`.
        let d = unsafe { &*self.slot(idx)? };
        (d.base != 0).then_some(d)
    }

    /// The slab at map index `idx`, mutable.
    #[inline]
    pub(super) fn get_mut(&mut self, idx: u32) -> Option<&mut SlabDesc> {
        // SAFETY: as in `get`; `&mut self` makes this the only reference to the descriptor.
        let d = unsafe { &mut *self.slot(idx)? };
        (d.base != 0).then_some(d)
    }

    /// Records a new slab at `pfn`; returns its map index. Allocates the directory or a chunk
    /// as needed; on failure nothing is recorded.
    pub(super) fn insert(
        &mut self,
        src: &mut impl PageSource,
        pfn: Pfn,
        desc: SlabDesc,
    ) -> Result<u32, SlabError> {
        if self.dir == 0 {
            self.init(src)?;
        }
        let bad = SlabError::BadPageSource { addr: desc.base, order: u32::from(desc.order) };
        let idx = self.index(pfn).ok_or(bad)?;
        let c = idx as usize / PER_CHUNK;
        if self.entries()[c].chunk == 0 {
            let chunk =
                src.alloc_meta(0).ok_or(SlabError::NoMemory { what: "slab map", order: 0 })?;
            // SAFETY: a fresh page from the source, ours alone, large enough for PER_CHUNK
            // descriptors and aligned for them (page aligned).
            unsafe {
                let p = chunk as *mut SlabDesc;
                for k in 0..PER_CHUNK {
                    p.add(k).write(SlabDesc::EMPTY);
                }
            }
            self.entries_mut()[c].chunk = chunk;
            self.chunks += 1;
        }
        let slot = self.get_raw_mut(idx);
        if slot.base != 0 {
            return Err(bad);
        }
        *slot = desc;
        self.entries_mut()[c].live += 1;
        Ok(idx)
    }

    fn get_raw_mut(&mut self, idx: u32) -> &mut SlabDesc {
        let p = self.slot(idx).expect("chunk present");
        // SAFETY: as in `get_mut`.
        unsafe { &mut *p }
    }

    /// Forgets the slab at `idx`; frees its chunk when it was the chunk's last.
    pub(super) fn remove(&mut self, src: &mut impl PageSource, idx: u32) {
        let c = idx as usize / PER_CHUNK;
        if self.get(idx).is_none() {
            return;
        }
        *self.get_raw_mut(idx) = SlabDesc::EMPTY;
        let e = &mut self.entries_mut()[c];
        e.live -= 1;
        if e.live == 0 {
            let chunk = core::mem::replace(&mut e.chunk, 0);
            src.free_meta(chunk, 0);
            self.chunks -= 1;
        }
    }

    /// The directory, sized for the source's lowmem PFNs.
    #[cold]
    fn init(&mut self, src: &mut impl PageSource) -> Result<(), SlabError> {
        let (start, end) = src.lowmem_pfns();
        let nr_pfns = end.0.saturating_sub(start.0) as usize;
        let dir_len = nr_pfns.div_ceil(PER_CHUNK).max(1);
        let order = get_order(dir_len * size_of::<DirEntry>());
        let dir = src.alloc_meta(order).ok_or(SlabError::NoMemory { what: "slab map", order })?;
        // SAFETY: a fresh block of `PAGE_SIZE << order` bytes, enough for `dir_len` entries.
        unsafe {
            let p = dir as *mut DirEntry;
            for k in 0..dir_len {
                p.add(k).write(DirEntry { chunk: 0, live: 0 });
            }
        }
        *self = Self { base_pfn: start.0, nr_pfns, dir, dir_order: order, dir_len, chunks: 0 };
        Ok(())
    }

    /// Every slab, by map index (for `verify` and tests).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &SlabDesc)> + '_ {
        self.entries().iter().enumerate().filter(|(_, e)| e.chunk != 0).flat_map(move |(c, _)| {
            (0..PER_CHUNK).filter_map(move |k| {
                let idx = (c * PER_CHUNK + k) as u32;
                self.get(idx).map(|d| (idx, d))
            })
        })
    }

    /// Live slabs a chunk's counter claims, and the chunk count (for `verify`).
    pub(super) fn counted(&self) -> (usize, usize) {
        let e = self.entries();
        (e.iter().map(|e| e.live).sum(), e.iter().filter(|e| e.chunk != 0).count())
    }

    pub(super) fn chunks(&self) -> usize {
        self.chunks
    }

    /// The blocks the table itself holds: its directory and its chunks, with their orders.
    pub(super) fn blocks(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let dir = (self.dir != 0).then_some((self.dir, self.dir_order));
        dir.into_iter().chain(self.entries().iter().filter(|e| e.chunk != 0).map(|e| (e.chunk, 0)))
    }

    /// The directory's address (0 before the first slab).
    #[cfg(test)]
    pub(super) fn dir(&self) -> usize {
        self.dir
    }
}
