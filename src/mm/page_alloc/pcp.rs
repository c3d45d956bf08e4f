//! The per-CPU page lists (`struct per_cpu_pages`): orders 0..=PAGE_ALLOC_COSTLY_ORDER, a list
//! per migrate type and order, refilled from and drained to the buddy lists in batches, as
//! 6.1's `rmqueue_pcplist`, `free_unref_page` and `free_pcppages_bulk`; a profile of the 3.x
//! era keeps order 0 only, with that kernel's fixed-batch drain.
use super::*;

/// The 3.x kernels' `enum migratetype` order (Unmovable, Reclaimable, Movable), in which
/// their `free_pcppages_bulk` goes round the lists.
const PCP_ROUND_ROBIN_3X: [usize; MIGRATE_PCPTYPES] =
    [MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE];

impl<'a> Node<'a> {
    /// `pcp_allowed_order()`: whether blocks of `order` go through the per-CPU lists.
    #[inline]
    pub(super) fn pcp_allowed_order(&self, order: u32) -> bool {
        order <= self.pcp_max_order
    }

    /// `rmqueue_pcplist()`: a block of `order` from the CPU's list of type `mt`, refilled
    /// with a batch from the buddy lists when empty (fewer blocks for higher orders: `batch
    /// >> order`, at least 2).
    #[inline]
    pub(super) fn rmqueue_pcplist(
        &mut self,
        z: usize,
        order: u32,
        mt: usize,
        alloc_flags: AllocFlags,
    ) -> Option<u32> {
        let pindex = order_to_pindex(mt, order);
        let pcp = &mut self.node_zones[z].pcp;
        // Every allocation halves how many pages the next bulk free gives back.
        pcp.free_factor >>= 1;
        if pcp.list_empty(pindex) {
            let mut batch = pcp.batch;
            if batch > 1 {
                batch = (batch >> order).max(2);
            }
            self.rmqueue_bulk(z, order, batch, mt, alloc_flags);
        }
        let pages = self.mem_map.pages_mut();
        let idx = self.node_zones[z].pcp.pop_first(pages, pindex)?;
        pages[idx as usize].flags.remove(PageFlags::PG_pcp);
        Some(idx)
    }

    /// `rmqueue_bulk()`: up to `count` blocks of `order` from the buddy lists (as `__rmqueue`
    /// finds them, CMA and stolen ones included) onto the pcp list of `mt`, in the order they
    /// came. Each keeps the type of the list it came from.
    #[inline(never)]
    pub(super) fn rmqueue_bulk(
        &mut self,
        z: usize,
        order: u32,
        count: u64,
        mt: usize,
        alloc_flags: AllocFlags,
    ) {
        let pindex = order_to_pindex(mt, order);
        let mut taken = 0u64;
        for _ in 0..count {
            let Some(idx) = self.__rmqueue(z, order, mt, alloc_flags) else { break };
            taken += 1;
            let pages = self.mem_map.pages_mut();
            let zone = &mut self.node_zones[z];
            let p = &mut pages[idx as usize];
            p.flags.insert(PageFlags::PG_pcp);
            p.order = order as u8;
            if is_migrate_cma(p.free_mt()) {
                zone.nr_free_cma -= 1 << order;
            }
            zone.pcp.add(pages, idx, pindex, true);
        }
        self.node_zones[z].nr_free_pages -= taken << order;
    }

    /// `free_pcppages_bulk()` (6.1): gives `count` cached pages back to the buddy lists,
    /// the coldest (the list tails) first, emptying one list before going round to the next,
    /// starting with list `pindex`. Each block returns to the buddy lists of the type it
    /// remembers (a CMA page from the movable list goes back to CMA).
    #[inline(never)]
    pub(super) fn free_pcppages_bulk(&mut self, z: usize, count: u64, pindex: usize) {
        let mut count = count.min(self.node_zones[z].pcp.count()) as i64;
        let (mut min_pindex, mut max_pindex) = (0, NR_PCP_LISTS - 1);
        // The search below steps first, so start one before the requested list.
        let mut pindex = pindex.checked_sub(1).unwrap_or(max_pindex);
        while count > 0 {
            loop {
                pindex += 1;
                if pindex > max_pindex {
                    pindex = min_pindex;
                }
                if !self.node_zones[z].pcp.list_empty(pindex) {
                    break;
                }
                if pindex == max_pindex {
                    max_pindex -= 1;
                }
                if pindex == min_pindex {
                    min_pindex += 1;
                }
            }
            let order = pindex_to_order(pindex);
            while count > 0 {
                let pages = self.mem_map.pages_mut();
                let Some(idx) = self.node_zones[z].pcp.pop_last(pages, pindex) else { break };
                count -= 1 << order;
                self.pcp_page_to_buddy(z, idx, order);
            }
        }
    }

    /// A 3.x kernel's `free_pcppages_bulk()`: `count` order-0 pages, the coldest first, round
    /// robin over the lists, taking more from each list the more empty ones it passed.
    #[inline(never)]
    pub(super) fn free_pcppages_bulk_3x(&mut self, z: usize, count: u64) {
        let mut to_free = count.min(self.node_zones[z].pcp.count());
        let mut cursor = 0;
        let mut batch_free = 0u64;
        while to_free > 0 {
            let mut pindex;
            loop {
                batch_free += 1;
                cursor = (cursor + 1) % MIGRATE_PCPTYPES;
                pindex = order_to_pindex(PCP_ROUND_ROBIN_3X[cursor], 0);
                if !self.node_zones[z].pcp.list_empty(pindex) {
                    break;
                }
            }
            // The only non-empty list: free them all from it.
            if batch_free == MIGRATE_PCPTYPES as u64 {
                batch_free = to_free;
            }
            loop {
                let pages = self.mem_map.pages_mut();
                let Some(idx) = self.node_zones[z].pcp.pop_last(pages, pindex) else { break };
                self.pcp_page_to_buddy(z, idx, 0);
                to_free -= 1;
                batch_free -= 1;
                if to_free == 0 || batch_free == 0 || self.node_zones[z].pcp.list_empty(pindex) {
                    break;
                }
            }
        }
    }

    /// One cached block back to the buddy lists of the type it remembers.
    #[inline]
    fn pcp_page_to_buddy(&mut self, z: usize, idx: u32, order: u32) {
        let pages = self.mem_map.pages_mut();
        let p = &mut pages[idx as usize];
        p.flags.remove(PageFlags::PG_pcp);
        p.order = 0;
        let mt = p.free_mt();
        self.node_zones[z].mod_freepage_state(1 << order, mt);
        let pfn = self.mem_map.pfn_of(idx).0;
        self.__free_one_page(pfn, order, z, mt, false);
    }

    /// `drain_all_pages()`: every zone's cached pages back to the buddy lists. Returns how
    /// many moved.
    pub fn drain_all_pages(&mut self) -> u64 {
        let mut moved = 0;
        for z in 0..MAX_NR_ZONES {
            moved += self.drain_zone_pages(z);
        }
        moved
    }

    /// `drain_pages_zone()` for one zone; returns the pages moved.
    pub(super) fn drain_zone_pages(&mut self, z: usize) -> u64 {
        let count = self.node_zones[z].pcp.count();
        if count > 0 {
            match self.era {
                KernelEra::Linux61 => self.free_pcppages_bulk(z, count, 0),
                KernelEra::Linux3x => self.free_pcppages_bulk_3x(z, count),
            }
        }
        count
    }

    /// Pages on the pcp lists of all zones (`free_pcp`).
    pub fn nr_pcp_pages(&self) -> u64 {
        self.node_zones.iter().map(|z| z.pcp.count()).sum()
    }

    /// `free_unref_page()`: a block of a pcp order goes to the head of the CPU's list of its
    /// pageblock's type (hot: the next allocation reuses it); CMA and HighAtomic blocks to the
    /// movable list, an isolated pageblock's straight to the buddy lists. Past `high`, pages
    /// go back in bulk (`free_unref_page_commit`).
    #[inline]
    pub(super) fn free_unref_page(&mut self, pfn: u64, idx: u32, z: usize, order: u32) {
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
        let mut pcp_mt = mt;
        if mt >= MIGRATE_PCPTYPES {
            if mt == MIGRATE_ISOLATE {
                // Isolated free pages are not counted free (`__free_one_page`).
                self.__free_one_page(pfn, order, z, mt, false);
                return;
            }
            pcp_mt = MIGRATE_MOVABLE;
        }
        let pindex = order_to_pindex(pcp_mt, order);
        let pages = self.mem_map.pages_mut();
        let p = &mut pages[idx as usize];
        p.flags.insert(PageFlags::PG_pcp);
        p.order = order as u8;
        p.set_free_mt(mt);
        let pcp = &mut self.node_zones[z].pcp;
        pcp.add(pages, idx, pindex, false);
        match self.era {
            KernelEra::Linux61 => {
                // High-order pages freed with no allocation in between are all given back,
                // so they cannot fragment the buddy lists for long.
                let free_high =
                    pcp.free_factor != 0 && order > 0 && order <= PAGE_ALLOC_COSTLY_ORDER;
                let high = pcp.nr_pcp_high(free_high);
                if pcp.count() >= high {
                    let count = pcp.nr_pcp_free(high, free_high);
                    self.free_pcppages_bulk(z, count, pindex);
                }
            }
            KernelEra::Linux3x => {
                if pcp.count() >= pcp.high {
                    let batch = pcp.batch;
                    self.free_pcppages_bulk_3x(z, batch);
                }
            }
        }
    }
}
