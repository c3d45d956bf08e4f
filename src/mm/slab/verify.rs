//! `Slab::verify`: the slab layer's invariants, checked from scratch (what `slub_debug`'s
//! `validate_slab_cache` checks, plus pivm's bookkeeping): every freelist stays inside its
//! slab on object boundaries without loops, `inuse` agrees with it, the CPU slab, CPU partial
//! and node partial lists are consistent with the slabs' `frozen` and list marks, the node
//! counters match the slabs that exist, and mem_map marks every page of every slab `PG_slab`.
use core::fmt;

use super::cache::KmemCache;
use super::slabmap::{SlabDesc, LIST_CPU_PARTIAL, LIST_CPU_SLAB, LIST_NONE, LIST_PARTIAL, NIL};
use super::{HeadPage, PageSource, Slab, MAX_CACHES, PAGE_SIZE};

/// The first broken invariant `verify` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabVerifyError {
    /// The cache concerned ("" for the slab map itself).
    pub cache: &'static str,
    /// The slab concerned (its first byte), or 0.
    pub slab: usize,
    pub what: &'static str,
}

impl fmt::Display for SlabVerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.cache, self.slab) {
            ("", 0) => write!(f, "slab: {}", self.what),
            ("", s) => write!(f, "slab: {} (slab {s:#010x})", self.what),
            (c, 0) => write!(f, "slab: {c}: {}", self.what),
            (c, s) => write!(f, "slab: {c}: {} (slab {s:#010x})", self.what),
        }
    }
}

/// Per-cache tallies made while walking every slab.
#[derive(Clone, Copy, Default)]
struct Tally {
    slabs: usize,
    objects: usize,
    on_partial: usize,
    on_cpu_partial: usize,
    cpu_slabs: usize,
}

impl Slab {
    /// Checks every invariant of the slab layer; the first one broken is returned.
    pub fn verify(&self, src: &impl PageSource) -> Result<(), SlabVerifyError> {
        let mut tally = [Tally::default(); MAX_CACHES];
        let mut nr_slabs = 0;
        for (idx, d) in self.map.iter() {
            nr_slabs += 1;
            let err = |what| SlabVerifyError { cache: "", slab: d.base, what };
            let ci = usize::from(d.cache);
            let c = match self.caches.get(ci) {
                Some(c) if c.live => c,
                _ => return Err(err("struct slab names no live cache")),
            };
            let err = |what| SlabVerifyError { cache: c.name, slab: d.base, what };
            self.check_slab(src, c, idx, d).map_err(err)?;
            let t = &mut tally[ci];
            t.slabs += 1;
            t.objects += usize::from(d.objects);
            match d.list {
                LIST_PARTIAL => t.on_partial += 1,
                LIST_CPU_PARTIAL => t.on_cpu_partial += 1,
                LIST_CPU_SLAB => t.cpu_slabs += 1,
                _ => {}
            }
        }
        let (counted, chunks) = self.map.counted();
        let map_err = |what| SlabVerifyError { cache: "", slab: 0, what };
        if counted != nr_slabs {
            return Err(map_err("slab map chunk counts disagree with its slabs"));
        }
        if chunks != self.map.chunks() {
            return Err(map_err("slab map chunk total is wrong"));
        }
        for (ci, c) in self.caches.iter().enumerate() {
            if !c.live {
                if tally[ci].slabs != 0 {
                    return Err(map_err("slabs of a destroyed cache"));
                }
                continue;
            }
            let err = |what| SlabVerifyError { cache: c.name, slab: 0, what };
            self.check_lists(c).map_err(err)?;
            let t = tally[ci];
            if t.slabs != c.node.nr_slabs || t.objects != c.node.total_objects {
                return Err(err("nr_slabs/total_objects disagree with the slabs that exist"));
            }
            if t.on_partial != c.node.nr_partial || t.on_cpu_partial != c.cpu.nr_partial {
                return Err(err("slabs marked partial are not all on the lists"));
            }
            if t.cpu_slabs != usize::from(c.cpu.slab != NIL) {
                return Err(err("slabs marked as the CPU slab are not the CPU slab"));
            }
        }
        Ok(())
    }

    /// The blocks the slab layer holds from its page source, with their orders: every slab
    /// and the `struct slab` table's pages (not `kmalloc_large` blocks: like Linux, SLUB keeps
    /// no list of them; mem_map's owner marks them). For the kernel's check that the page
    /// allocator agrees they are allocated.
    pub fn page_blocks(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.map.iter().map(|(_, d)| (d.base, u32::from(d.order))).chain(self.map.blocks())
    }

    /// One slab: geometry, frozen/list marks, freelist, `inuse`, mem_map marks.
    fn check_slab(
        &self,
        src: &impl PageSource,
        c: &KmemCache,
        idx: u32,
        d: &SlabDesc,
    ) -> Result<(), &'static str> {
        if usize::from(d.objects) != c.objects || u32::from(d.order) != c.order {
            return Err("objects/order differ from the cache's");
        }
        if d.inuse > d.objects {
            return Err("inuse above objects");
        }
        let frozen_list = matches!(d.list, LIST_CPU_SLAB | LIST_CPU_PARTIAL);
        if d.frozen != frozen_list {
            return Err("frozen does not match the list the slab is on");
        }
        let free = freelist_len(c, d.base, d.freelist)?;
        if free + usize::from(d.inuse) != usize::from(d.objects) {
            return Err("inuse disagrees with the slab's freelist");
        }
        if d.list == LIST_NONE && free != 0 {
            return Err("a slab on no list has free objects");
        }
        if d.list == LIST_PARTIAL && free == 0 {
            return Err("a full slab on the partial list");
        }
        if c.cpu.slab == idx {
            if d.base != c.cpu.slab_base {
                return Err("the CPU slab's cached base is stale");
            }
            let cpu_free = freelist_len(c, d.base, c.cpu.freelist)?;
            if cpu_free > usize::from(d.inuse) {
                return Err("the CPU freelist is longer than the objects taken");
            }
        }
        let pfn = self.map.pfn(idx);
        for k in 0..c.pages() {
            if src.head_page(d.base + k * PAGE_SIZE) != (HeadPage::Slab { pfn }) {
                return Err("a page of the slab is not marked PG_slab in mem_map");
            }
        }
        Ok(())
    }

    /// The CPU slab, CPU partial and node partial lists of one cache.
    fn check_lists(&self, c: &KmemCache) -> Result<(), &'static str> {
        if c.cpu.slab == NIL {
            if c.cpu.freelist != 0 || c.cpu.slab_base != 0 {
                return Err("a CPU freelist without a CPU slab");
            }
        } else if self.map.get(c.cpu.slab).map(|d| d.list) != Some(LIST_CPU_SLAB) {
            return Err("the CPU slab is not marked as such");
        }
        let mut n = 0;
        let mut idx = c.cpu.partial;
        while idx != NIL {
            let d = self.map.get(idx).ok_or("a CPU partial link to no slab")?;
            if d.list != LIST_CPU_PARTIAL {
                return Err("a slab on the CPU partial list is not marked so");
            }
            n += 1;
            if n > c.cpu.nr_partial {
                return Err("the CPU partial list is longer than counted");
            }
            idx = d.next;
        }
        if n != c.cpu.nr_partial {
            return Err("the CPU partial list is shorter than counted");
        }
        let (mut n, mut prev) = (0, NIL);
        let mut idx = c.node.partial_head;
        while idx != NIL {
            let d = self.map.get(idx).ok_or("a partial list link to no slab")?;
            if d.list != LIST_PARTIAL || d.prev != prev {
                return Err("the node partial list is not doubly linked");
            }
            n += 1;
            if n > c.node.nr_partial {
                return Err("the node partial list is longer than nr_partial");
            }
            prev = idx;
            idx = d.next;
        }
        if n != c.node.nr_partial || c.node.partial_tail != prev {
            return Err("the node partial list is shorter than nr_partial, or its tail is wrong");
        }
        Ok(())
    }
}

/// The length of a freelist of the slab at `base`, if every link is an object of the slab and
/// the chain ends within `objects` steps.
pub(super) fn freelist_len(c: &KmemCache, base: usize, head: usize) -> Result<usize, &'static str> {
    let mut n = 0;
    let mut p = head;
    while p != 0 {
        if c.object_at(base, p).is_err() {
            return Err("a free pointer outside the slab or between objects");
        }
        n += 1;
        if n > c.objects {
            return Err("a freelist loops");
        }
        // SAFETY: `p` was just checked to be an object of this slab, which the slab layer owns.
        p = unsafe { ((p + c.offset) as *const usize).read() };
    }
    Ok(n)
}
