//! The allocation path: `alloc_pages` (the inline fast path), `__alloc_pages_slowpath`,
//! the zonelist walk and `__rmqueue`, splitting (`expand`) and `prep_new_page`.
use super::*;

/// `gfp_to_alloc_flags()` (6.1) for the slow path: the min watermark; `__GFP_HIGH` may use
/// half of it (ALLOC_HIGH), `__GFP_ATOMIC` a further quarter (ALLOC_HARDER) unless
/// `__GFP_NOMEMALLOC`; `__GFP_MEMALLOC` ignores watermarks (`gfp_pfmemalloc_allowed`);
/// `__GFP_KSWAPD_RECLAIM` may wake kswapd; a movable request may use CMA pageblocks
/// (`gfp_to_alloc_flags_cma`).
pub fn gfp_to_alloc_flags(gfp: GfpFlags) -> AllocFlags {
    let mut flags = AllocFlags::ALLOC_WMARK_MIN;
    let nomemalloc = gfp.contains(GfpFlags::__GFP_NOMEMALLOC);
    if gfp.contains(GfpFlags::__GFP_HIGH) {
        flags |= AllocFlags::ALLOC_HIGH;
    }
    if gfp.contains(GfpFlags::__GFP_KSWAPD_RECLAIM) {
        flags |= AllocFlags::ALLOC_KSWAPD;
    }
    if gfp.contains(GfpFlags::__GFP_ATOMIC) && !nomemalloc {
        flags |= AllocFlags::ALLOC_HARDER;
    }
    if gfp.contains(GfpFlags::__GFP_MEMALLOC) && !nomemalloc {
        flags |= AllocFlags::ALLOC_NO_WATERMARKS;
    }
    gfp_to_alloc_flags_cma(gfp, flags)
}

/// `gfp_to_alloc_flags_cma()`: movable requests may use CMA pageblocks.
#[inline]
pub(super) fn gfp_to_alloc_flags_cma(gfp: GfpFlags, flags: AllocFlags) -> AllocFlags {
    if gfp_migratetype(gfp) == MIGRATE_MOVABLE {
        flags | AllocFlags::ALLOC_CMA
    } else {
        flags
    }
}

/// A failed allocation. `NoMemory` is Linux's "page allocation failure"; render the full
/// report with [`write_alloc_failure`] when [`AllocError::should_warn`] says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `order >= MAX_ORDER` (Linux WARNs and returns NULL).
    InvalidOrder { gfp: GfpFlags, order: u32 },
    /// The zone modifiers contradict each other (`GFP_ZONE_BAD`).
    BadGfp { gfp: GfpFlags, order: u32 },
    /// No zone the request may use has a free block of that order above its watermark.
    NoMemory { gfp: GfpFlags, order: u32 },
    /// `__GFP_ZERO` could not reach a page of the block (its temporary mapping failed): the
    /// block went back to the free lists rather than out unzeroed.
    ZeroFailed { gfp: GfpFlags, order: u32, pfn: Pfn },
}

impl AllocError {
    pub const fn gfp(&self) -> GfpFlags {
        match *self {
            AllocError::InvalidOrder { gfp, .. }
            | AllocError::BadGfp { gfp, .. }
            | AllocError::NoMemory { gfp, .. }
            | AllocError::ZeroFailed { gfp, .. } => gfp,
        }
    }

    pub const fn order(&self) -> u32 {
        match *self {
            AllocError::InvalidOrder { order, .. }
            | AllocError::BadGfp { order, .. }
            | AllocError::NoMemory { order, .. }
            | AllocError::ZeroFailed { order, .. } => order,
        }
    }

    /// Linux prints the failure report (`warn_alloc`) unless the caller passed `__GFP_NOWARN`.
    pub const fn should_warn(&self) -> bool {
        matches!(self, AllocError::NoMemory { .. }) && !self.gfp().contains(GfpFlags::__GFP_NOWARN)
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gfp = self.gfp();
        match *self {
            AllocError::InvalidOrder { order, .. } => write!(
                f,
                "alloc_pages: order:{order} is too large (MAX_ORDER {MAX_ORDER}: orders 0..{})",
                MAX_ORDER - 1
            ),
            AllocError::BadGfp { .. } => {
                write!(f, "alloc_pages: mode:{:#x}({gfp}) asks for more than one zone", gfp.bits())
            }
            AllocError::NoMemory { order, .. } => write!(
                f,
                "page allocation failure: order:{order}, mode:{:#x}({gfp}), nodemask=(null)",
                gfp.bits()
            ),
            AllocError::ZeroFailed { order, pfn, .. } => write!(
                f,
                "alloc_pages: order:{order}, mode:{:#x}({gfp}): cannot map pfn:{:#x} to zero \
                 it; the block was given back",
                gfp.bits(),
                pfn.0
            ),
        }
    }
}

impl<'a> Node<'a> {
    /// The highest zone `gfp` may use in this kernel (`gfp_zone`, with an absent DMA or
    /// HighMem zone standing for Normal, as when Linux is built without it).
    #[inline]
    pub fn highest_zoneidx(&self, gfp: GfpFlags) -> ZoneType {
        let z = gfp_zone(gfp);
        if self.configured[z.idx()] {
            z
        } else {
            ZoneType::Normal
        }
    }

    /// `alloc_pages()`: a block of `1 << order` pages from the highest zone the request
    /// allows that passes its watermark, falling back to lower zones. First against the low
    /// watermark (the fast path, kept small enough to inline), then against min as `gfp`
    /// permits (`__alloc_pages_slowpath`). Returns the first PFN.
    #[inline(always)]
    pub fn alloc_pages(&mut self, gfp: GfpFlags, order: u32) -> Result<Pfn, AllocError> {
        self.alloc_pages_for(PageOwner::Kernel, gfp, order)
    }

    /// `alloc_pages()` for a named owner: the block's head records `owner`, and only
    /// `free_pages_for` with the same owner gives it back.
    #[inline(always)]
    pub fn alloc_pages_for(
        &mut self,
        owner: PageOwner,
        gfp: GfpFlags,
        order: u32,
    ) -> Result<Pfn, AllocError> {
        if order as usize >= MAX_ORDER || !gfp.zone_valid() {
            return Err(self.alloc_refused(gfp, order));
        }
        let highest = self.highest_zoneidx(gfp);
        let mt = if self.mobility_disabled { MIGRATE_UNMOVABLE } else { gfp_migratetype(gfp) };
        // The fast path: the low watermark; kswapd may be woken (the same bit as
        // __GFP_KSWAPD_RECLAIM); CMA for movable requests.
        let mut flags = AllocFlags::ALLOC_WMARK_LOW;
        if gfp.contains(GfpFlags::__GFP_KSWAPD_RECLAIM) {
            flags |= AllocFlags::ALLOC_KSWAPD;
        }
        if mt == MIGRATE_MOVABLE {
            flags |= AllocFlags::ALLOC_CMA;
        }
        let idx = match self.get_page_from_freelist(gfp, order, highest, flags, mt) {
            Some(idx) => idx,
            None => self.__alloc_pages_slowpath(gfp, order, highest, mt)?,
        };
        if self.prep_new_page(idx, order, gfp, owner, mt) {
            return self.prep_new_page_slow(idx, order, gfp);
        }
        Ok(self.mem_map.pfn_of(idx))
    }

    /// The allocation's end when `prep_new_page` left work to do: `prep_new_page_extra`,
    /// and if its zeroing failed, the block back to the free lists through the ordinary free,
    /// so nothing is lost and nothing leaks unzeroed.
    #[cold]
    #[inline(never)]
    pub(super) fn prep_new_page_slow(
        &mut self,
        idx: u32,
        order: u32,
        gfp: GfpFlags,
    ) -> Result<Pfn, AllocError> {
        let pfn = self.mem_map.pfn_of(idx);
        let owner = self.mem_map.pages()[idx as usize].owner();
        match self.prep_new_page_extra(idx, order, gfp) {
            Ok(()) => Ok(pfn),
            Err(e) => {
                // A plain allocated block of `owner` (no compound marks yet): its free
                // cannot be refused.
                let _ = self.free_pages_for(owner, pfn, order);
                Err(AllocError::ZeroFailed { gfp, order, pfn: e.pfn })
            }
        }
    }

    /// Why a request was refused before any zone was looked at.
    #[cold]
    pub(super) fn alloc_refused(&self, gfp: GfpFlags, order: u32) -> AllocError {
        if order as usize >= MAX_ORDER {
            AllocError::InvalidOrder { gfp, order }
        } else {
            AllocError::BadGfp { gfp, order }
        }
    }

    /// `__alloc_pages_slowpath()` (6.1) without compaction, and without direct reclaim,
    /// which runs outside the allocator's lock (`kernel::process::reclaim`: a failed user
    /// page allocation reclaims and retries): the zonelist again against the min watermark,
    /// lowered as `gfp` permits, after waking kswapd. A request that cannot sleep fails
    /// there. One that could reclaim takes the boosts away (as kswapd's pass would have), then, as `__alloc_pages_direct_
    /// reclaim`'s retry does, unreserves a HighAtomic pageblock and drains the per-CPU lists;
    /// when that too fails, `should_reclaim_retry` unreserves the last HighAtomic pageblocks.
    #[cold]
    #[inline(never)]
    pub(super) fn __alloc_pages_slowpath(
        &mut self,
        gfp: GfpFlags,
        order: u32,
        highest: ZoneType,
        mt: usize,
    ) -> Result<u32, AllocError> {
        let mut flags = gfp_to_alloc_flags(gfp);
        if mt != MIGRATE_MOVABLE {
            flags.remove(AllocFlags::ALLOC_CMA);
        }
        if flags.contains(AllocFlags::ALLOC_KSWAPD) {
            self.wakeup_kswapd();
        }
        if let Some(idx) = self.get_page_from_freelist_slow(gfp, order, highest, flags, mt) {
            return Ok(idx);
        }
        if gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) {
            if self.clear_watermark_boosts() > 0 {
                if let Some(idx) = self.get_page_from_freelist_slow(gfp, order, highest, flags, mt)
                {
                    return Ok(idx);
                }
            }
            let unreserved = self.unreserve_highatomic_pageblock(highest, mt, false);
            if self.drain_all_pages() > 0 || unreserved {
                if let Some(idx) = self.get_page_from_freelist_slow(gfp, order, highest, flags, mt)
                {
                    return Ok(idx);
                }
            }
            if self.unreserve_highatomic_pageblock(highest, mt, true) {
                if let Some(idx) = self.get_page_from_freelist_slow(gfp, order, highest, flags, mt)
                {
                    return Ok(idx);
                }
            }
        }
        Err(AllocError::NoMemory { gfp, order })
    }

    /// `alloc_page()`.
    pub fn alloc_page(&mut self, gfp: GfpFlags) -> Result<Pfn, AllocError> {
        self.alloc_pages(gfp, 0)
    }

    /// `__get_free_pages()`: like `alloc_pages` but from lowmem only, returning the block's
    /// address in the linear map.
    pub fn __get_free_pages(&mut self, gfp: GfpFlags, order: u32) -> Result<VirtAddr, AllocError> {
        let pfn = self.alloc_pages(gfp.difference(GfpFlags::__GFP_HIGHMEM), order)?;
        Ok(self.pfn_to_virt(pfn))
    }

    /// `__get_free_page()`.
    pub fn __get_free_page(&mut self, gfp: GfpFlags) -> Result<VirtAddr, AllocError> {
        self.__get_free_pages(gfp, 0)
    }

    /// `get_zeroed_page()`.
    pub fn get_zeroed_page(&mut self, gfp: GfpFlags) -> Result<VirtAddr, AllocError> {
        self.__get_free_pages(gfp | GfpFlags::__GFP_ZERO, 0)
    }

    /// `get_page_from_freelist()`: walks the zonelist from `highest` down, taking from the
    /// first managed zone whose watermark check passes (`zone_watermark_fast`, boost
    /// included). A high-order atomic request may then reserve its pageblock. Returns the
    /// block's mem_map index. Inlined into `alloc_pages` (the fast path); the slow path calls
    /// its own copy, `get_page_from_freelist_slow`.
    #[inline(always)]
    pub(super) fn get_page_from_freelist(
        &mut self,
        gfp: GfpFlags,
        order: u32,
        highest: ZoneType,
        alloc_flags: AllocFlags,
        mt: usize,
    ) -> Option<u32> {
        // The zonelist (Movable -> HighMem -> Normal -> DMA), cut at the request's highest zone.
        for z in (0..=highest.idx()).rev() {
            let zone = &self.node_zones[z];
            if !zone.is_managed() {
                continue;
            }
            if !alloc_flags.contains(AllocFlags::ALLOC_NO_WATERMARKS) {
                let mark = zone.wmark_pages(alloc_flags.wmark());
                if !zone_watermark_fast(zone, order, mark, highest, alloc_flags, gfp) {
                    continue;
                }
            }
            if let Some(idx) = self.rmqueue(z, order, alloc_flags, mt) {
                if order > 0
                    && alloc_flags.contains(AllocFlags::ALLOC_HARDER)
                    && self.era == KernelEra::Linux61
                {
                    self.reserve_highatomic_pageblock(idx, z);
                }
                return Some(idx);
            }
        }
        None
    }

    /// `get_page_from_freelist()` for the slow path, out of line.
    #[inline(never)]
    pub(super) fn get_page_from_freelist_slow(
        &mut self,
        gfp: GfpFlags,
        order: u32,
        highest: ZoneType,
        alloc_flags: AllocFlags,
        mt: usize,
    ) -> Option<u32> {
        self.get_page_from_freelist(gfp, order, highest, alloc_flags, mt)
    }

    /// `rmqueue()`: small blocks from the per-CPU lists (a movable request only if it may
    /// use CMA, since CMA pages sit on the movable list), the rest from the buddy lists. A
    /// zone whose watermarks a fallback boosted wakes kswapd.
    #[inline]
    pub(super) fn rmqueue(
        &mut self,
        z: usize,
        order: u32,
        alloc_flags: AllocFlags,
        mt: usize,
    ) -> Option<u32> {
        let mut page = None;
        if self.pcp_allowed_order(order)
            && self.node_zones[z].pcp.enabled()
            && (alloc_flags.contains(AllocFlags::ALLOC_CMA) || mt != MIGRATE_MOVABLE)
        {
            page = self.rmqueue_pcplist(z, order, mt, alloc_flags);
        }
        if page.is_none() {
            page = self.rmqueue_buddy(z, order, alloc_flags, mt);
        }
        if page.is_some() {
            // __count_zid_vm_events(PGALLOC, ...).
            self.node_zones[z].pgalloc += 1 << order;
        }
        if self.node_zones[z].boosted_watermark {
            self.node_zones[z].boosted_watermark = false;
            self.wakeup_kswapd();
        }
        page
    }

    /// `rmqueue_buddy()`: a high-order atomic request tries the HighAtomic reserve first;
    /// otherwise `__rmqueue`. The free counters drop by the block, by the type of the list
    /// it came from.
    #[inline]
    pub(super) fn rmqueue_buddy(
        &mut self,
        z: usize,
        order: u32,
        alloc_flags: AllocFlags,
        mt: usize,
    ) -> Option<u32> {
        let mut page = None;
        if order > 0 && alloc_flags.contains(AllocFlags::ALLOC_HARDER) {
            page = self.__rmqueue_smallest(z, order, MIGRATE_HIGHATOMIC);
        }
        let idx = match page {
            Some(idx) => idx,
            None => self.__rmqueue(z, order, mt, alloc_flags)?,
        };
        let list_mt = self.mem_map.pages()[idx as usize].free_mt();
        self.node_zones[z].mod_freepage_state(-(1i64 << order), list_mt);
        Some(idx)
    }

    /// `__rmqueue()` (6.1): a block of the request's migrate type, or of the CMA area (first
    /// when more than half of the zone's free pages are CMA, so movable requests keep both
    /// in use; else when its own lists are empty), or one stolen from another type's lists
    /// (`__rmqueue_fallback`) and taken again. The common case, a block of the request's
    /// own type, is inline; the rest is `__rmqueue_slow`.
    #[inline(always)]
    pub(super) fn __rmqueue(
        &mut self,
        z: usize,
        order: u32,
        mt: usize,
        alloc_flags: AllocFlags,
    ) -> Option<u32> {
        let zone = &self.node_zones[z];
        let cma_first = alloc_flags.contains(AllocFlags::ALLOC_CMA)
            && zone.nr_free_cma > zone.nr_free_pages / 2;
        if !cma_first && self.era == KernelEra::Linux61 {
            if let Some(idx) = self.__rmqueue_smallest_inline(z, order, mt) {
                return Some(idx);
            }
        }
        self.__rmqueue_slow(z, order, mt, alloc_flags, cma_first)
    }

    /// `__rmqueue()` past its common case: CMA first (`cma_first`), a 3.x kernel's order of
    /// lists, or the request's own lists empty (then CMA, then a fallback and a retry).
    #[inline(never)]
    fn __rmqueue_slow(
        &mut self,
        z: usize,
        order: u32,
        mt: usize,
        alloc_flags: AllocFlags,
        cma_first: bool,
    ) -> Option<u32> {
        let cma = alloc_flags.contains(AllocFlags::ALLOC_CMA);
        if cma_first {
            if let Some(idx) = self.__rmqueue_smallest(z, order, MIGRATE_CMA) {
                return Some(idx);
            }
        }
        if self.era == KernelEra::Linux3x {
            return self
                .__rmqueue_smallest(z, order, mt)
                .or_else(|| self.__rmqueue_fallback_3x(z, order, mt));
        }
        loop {
            if let Some(idx) = self.__rmqueue_smallest(z, order, mt) {
                return Some(idx);
            }
            if cma {
                if let Some(idx) = self.__rmqueue_smallest(z, order, MIGRATE_CMA) {
                    return Some(idx);
                }
            }
            if !self.__rmqueue_fallback(z, order, mt, alloc_flags) {
                return None;
            }
        }
    }

    /// `__rmqueue_smallest()`: the first block on the smallest non-empty list of type `mt`
    /// of order `order` or more, split down to `order`. The block keeps `mt` as the type of
    /// the list it came from (Linux's pcppage migratetype).
    #[inline(never)]
    pub(super) fn __rmqueue_smallest(&mut self, z: usize, order: u32, mt: usize) -> Option<u32> {
        self.__rmqueue_smallest_inline(z, order, mt)
    }

    /// `__rmqueue_smallest()` inline in `__rmqueue`, which `rmqueue_bulk` calls a batch at a
    /// time.
    #[inline(always)]
    fn __rmqueue_smallest_inline(&mut self, z: usize, order: u32, mt: usize) -> Option<u32> {
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        for current in order as usize..MAX_ORDER {
            let Some(idx) = zone.free_area[current].first(mt) else { continue };
            zone.free_area[current].del(pages, idx);
            pages[idx as usize]
                .update_flags(PageFlags::PG_buddy | PageFlags::PG_free_mt, free_mt_flags(mt));
            Self::expand(zone, pages, idx, order as usize, current, mt);
            return Some(idx);
        }
        None
    }

    /// `expand()`: splits an order-`high` block at `idx` down to `low`, returning each upper
    /// half to the lists of `mt`.
    #[inline(always)]
    pub(super) fn expand(
        zone: &mut Zone,
        pages: &mut [Page],
        idx: u32,
        low: usize,
        mut high: usize,
        mt: usize,
    ) {
        let mut size = 1u32 << high;
        while high > low {
            high -= 1;
            size >>= 1;
            let half = idx + size;
            zone.free_area[high].add_block(pages, half, high as u32, mt, false);
        }
    }

    /// `prep_new_page()`: refcount 1, the order remembered for checking the free, the owner
    /// (and `PG_pcp` off for a block from a per-CPU list: one write of the flags). Returns
    /// whether the request needs more (poison check, zeroing, compound setup), which
    /// `prep_new_page_slow` does out of line.
    #[inline]
    pub(super) fn prep_new_page(
        &mut self,
        idx: u32,
        order: u32,
        gfp: GfpFlags,
        owner: PageOwner,
        mt: usize,
    ) -> bool {
        let head = &mut self.mem_map.pages_mut()[idx as usize];
        // The request's migrate type: what makes the block "movable" when a fallback counts
        // compatible pages in its pageblock (`move_freepages_block`).
        head.update_flags(
            PageFlags::PG_pcp
                | PageFlags::PG_owner
                | PageFlags::PG_free_mt
                | PageFlags::PG_dcache_clean,
            owner.flags() | free_mt_flags(mt),
        );
        head.refcount = 1;
        head.order = order as u8;
        self.page_poisoning || gfp.intersects(GfpFlags::__GFP_ZERO | GfpFlags::__GFP_COMP)
    }

    /// The rest of `prep_new_page()`: the poison check of every page (page poisoning, which
    /// queues a report for each corrupted page), zeroing (`__GFP_ZERO`), the head and tail
    /// marks of a compound block (`__GFP_COMP`).
    #[inline]
    pub(super) fn prep_new_page_extra(
        &mut self,
        idx: u32,
        order: u32,
        gfp: GfpFlags,
    ) -> Result<(), PageAccessError> {
        let nr = 1usize << order;
        let pfn = self.mem_map.pfn_of(idx);
        if self.page_poisoning {
            for i in 0..nr {
                let p = &mut self.mem_map.pages_mut()[idx as usize + i];
                if p.flags.contains(PageFlags::PG_poisoned) {
                    p.flags.remove(PageFlags::PG_poisoned);
                    let page = *p;
                    self.check_poison_page(Pfn(pfn.0 + i as u64), page);
                }
            }
        }
        if gfp.contains(GfpFlags::__GFP_ZERO) {
            self.memory.zero(pfn, order)?;
        }
        if gfp.contains(GfpFlags::__GFP_COMP) && order > 0 {
            let pages = self.mem_map.pages_mut();
            pages[idx as usize].flags.insert(PageFlags::PG_head);
            Self::set_tails(pages, idx, nr, true);
        }
        Ok(())
    }

    /// Marks (or unmarks) the tail pages of the block at `idx` with a link to their head.
    pub(super) fn set_tails(pages: &mut [Page], idx: u32, nr: usize, on: bool) {
        for p in &mut pages[idx as usize + 1..idx as usize + nr] {
            if on {
                p.flags.insert(PageFlags::PG_tail);
                p.lru_next = idx;
            } else {
                p.flags.remove(PageFlags::PG_tail);
                p.lru_next = NIL;
            }
        }
    }
}
