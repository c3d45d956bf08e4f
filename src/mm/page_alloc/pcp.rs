//! The per-CPU page lists (`struct per_cpu_pages`): orders 0..=PAGE_ALLOC_COSTLY_ORDER, a list
//! per migrate type and order, refilled from and drained to the buddy lists in batches, as
//! 6.1's `rmqueue_pcplist`, `free_unref_page` and `free_pcppages_bulk`; a profile of the 3.x
//! era keeps order 0 only, with that kernel's fixed-batch drain.
use super::*;

/// `zone_pcp_disable`'s limits (`__zone_set_pageset_high_and_batch(zone, 0, 1)`): no page
/// stays cached on a free, and a refill takes one block (two above order 0).
const PCP_DISABLED_HIGH: u64 = 0;
const PCP_DISABLED_BATCH: u64 = 1;

/// Why `zone_pcp_disable` or `zone_pcp_enable` refused (in Linux both would be bugs: a second
/// `mutex_lock(&pcp_batch_high_lock)` by the holder deadlocks, an unlock without the lock
/// is undefined).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcpError {
    /// `zone_pcp_disable` of a zone whose lists are already disabled.
    AlreadyDisabled(ZoneType),
    /// `zone_pcp_enable` of a zone whose lists were not disabled.
    NotDisabled(ZoneType),
}

impl fmt::Display for PcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcpError::AlreadyDisabled(t) => {
                write!(
                    f,
                    "zone_pcp_disable: zone {}'s per-CPU lists are already disabled",
                    t.name()
                )
            }
            PcpError::NotDisabled(t) => {
                write!(f, "zone_pcp_enable: zone {}'s per-CPU lists are not disabled", t.name())
            }
        }
    }
}

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
    /// >> order`, at least 2). The block still carries `PG_pcp`: `prep_new_page`, which
    /// follows, clears it with the other flags it writes (`Page::update_flags`).
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
            if batch == 1 {
                // The lists are disabled (`zone_pcp_disable`): the refill's one block would
                // pass through the empty list and straight out again. It comes from the
                // buddy lists directly, with the same counters.
                return self.rmqueue_one(z, order, mt, alloc_flags);
            }
            if batch > 1 {
                batch = (batch >> order).max(2);
            }
            self.rmqueue_bulk(z, order, batch, mt, alloc_flags);
        }
        let pages = self.mem_map.pages_mut();
        self.node_zones[z].pcp.pop_first(pages, pindex)
    }

    /// `rmqueue_bulk()` of one block for the allocation at hand, without the list.
    #[inline]
    fn rmqueue_one(
        &mut self,
        z: usize,
        order: u32,
        mt: usize,
        alloc_flags: AllocFlags,
    ) -> Option<u32> {
        let idx = self.__rmqueue(z, order, mt, alloc_flags)?;
        let list_mt = self.mem_map.pages()[idx as usize].free_mt();
        self.node_zones[z].mod_freepage_state(-(1i64 << order), list_mt);
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
            let list_mt = p.free_mt();
            p.update_flags(PageFlags::PG_free_mt, PageFlags::PG_pcp | free_mt_flags(list_mt));
            p.order = order as u8;
            if is_migrate_cma(list_mt) {
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

    /// One cached block back to the buddy lists of the type it remembers (inline in the
    /// bulk frees' loops).
    #[inline(always)]
    fn pcp_page_to_buddy(&mut self, z: usize, idx: u32, order: u32) {
        let pages = self.mem_map.pages_mut();
        let p = &mut pages[idx as usize];
        let mt = p.free_mt();
        p.update_flags(PageFlags::PG_pcp | PageFlags::PG_free_mt, free_mt_flags(mt));
        p.order = 0;
        self.node_zones[z].mod_freepage_state(1 << order, mt);
        self.__free_one_page_inline(idx, order, z, mt, false);
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

    /// `zone_pcp_disable()` (5.11+): the zone's per-CPU lists stop caching (high 0, batch 1,
    /// as memory hot-unplug's `offline_pages` and memory-failure handling need) and are
    /// drained, so from now on every free goes straight through to the buddy lists and every
    /// allocation takes its block from them. The limits stay so, whatever `zone_pcp_update`
    /// computes meanwhile, until `zone_pcp_enable`. Returns the pages drained.
    pub fn zone_pcp_disable(&mut self, t: ZoneType) -> Result<u64, PcpError> {
        let z = t.idx();
        let zone = &mut self.node_zones[z];
        if zone.pcp_disabled {
            return Err(PcpError::AlreadyDisabled(t));
        }
        zone.pcp_disabled = true;
        (zone.pcp.high, zone.pcp.batch) = (PCP_DISABLED_HIGH, PCP_DISABLED_BATCH);
        Ok(self.drain_zone_pages(z))
    }

    /// `zone_pcp_enable()`: the zone's per-CPU lists get back the limits `zone_pcp_update`
    /// last computed for it (`pageset_high`, `pageset_batch`).
    pub fn zone_pcp_enable(&mut self, t: ZoneType) -> Result<(), PcpError> {
        let zone = &mut self.node_zones[t.idx()];
        if !zone.pcp_disabled {
            return Err(PcpError::NotDisabled(t));
        }
        zone.pcp_disabled = false;
        (zone.pcp.high, zone.pcp.batch) = (zone.pageset_high, zone.pageset_batch);
        Ok(())
    }

    /// Pages on the pcp lists of all zones (`free_pcp`).
    pub fn nr_pcp_pages(&self) -> u64 {
        self.node_zones.iter().map(|z| z.pcp.count()).sum()
    }

    /// `free_unref_page()`: a block of a pcp order goes to the head of the CPU's list of its
    /// pageblock's type (hot: the next allocation reuses it); CMA and HighAtomic blocks to the
    /// movable list, an isolated pageblock's straight to the buddy lists. Past `high`, pages
    /// go back in bulk (`free_unref_page_commit`). The caller (`free_pages_for`) has checked
    /// the block and left its owner for this function to clear, with the flags it sets.
    #[inline]
    pub(super) fn free_unref_page(&mut self, pfn: u64, idx: u32, z: usize, order: u32) {
        let mt = self.get_pageblock_migratetype_idx(idx);
        let isolated = mt == MIGRATE_ISOLATE;
        let pcp = &self.node_zones[z].pcp;
        // An isolated pageblock's pages go straight to the buddy lists, not counted free
        // (`__free_one_page`). So does a block when the lists are disabled
        // (`zone_pcp_disable`) and empty: the bulk free that would follow the add would
        // give back this block alone; it is counted as `free_pcppages_bulk` counts it.
        if isolated || (pcp.high == 0 && pcp.count == 0) {
            self.free_to_buddy(pfn, idx, order, z, mt, !isolated);
            return;
        }
        // CMA and HighAtomic pages share the movable list.
        let pcp_mt = if mt >= MIGRATE_PCPTYPES { MIGRATE_MOVABLE } else { mt };
        let pindex = order_to_pindex(pcp_mt, order);
        let pages = self.mem_map.pages_mut();
        let p = &mut pages[idx as usize];
        p.update_flags(
            PageFlags::PG_owner | PageFlags::PG_free_mt | PageFlags::PG_dcache_clean,
            PageFlags::PG_pcp | free_mt_flags(mt),
        );
        p.order = order as u8;
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    const N: ZoneType = ZoneType::Normal;

    /// A Normal-only node of 64 MiB (a pcp batch above 1), every page free, watermarks set.
    fn node_of(v: &mut Vec<Page>) -> Node<'_> {
        let n = (1u64 << 14).max(PAGEBLOCK_NR_PAGES);
        v.resize(n as usize, Page::default());
        let zones = Zones {
            dma: None,
            normal: PfnRange { start: Pfn(0), end: Pfn(n) },
            dma32: None,
            highmem: None,
        };
        let mut node = Node::new(MemMap::new(v, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(0), Pfn(n)).unwrap();
        node.init_per_zone_wmark_min();
        node
    }

    fn buddy_free_of(node: &Node<'_>, order: usize) -> u64 {
        node.zone(N).free_area(order).unwrap().nr_free
    }

    #[test]
    fn disabled_lists_send_every_free_to_the_buddy_lists() {
        let mut v = Vec::new();
        let mut node = node_of(&mut v);
        let (high, batch) = (node.zone(N).pcp().high(), node.zone(N).pcp().batch());
        assert!(batch > 1 && high > batch);
        // Fill the lists a little, then disable them: what they held is drained.
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        let cached = node.zone(N).pcp().count();
        assert_eq!(cached, batch - 1);
        let free_before = node.zone(N).nr_free_pages();
        assert_eq!(node.zone_pcp_disable(N), Ok(cached));
        assert_eq!(node.zone(N).pcp().count(), 0);
        assert_eq!(node.zone(N).nr_free_pages(), free_before + cached);
        assert_eq!((node.zone(N).pcp().high(), node.zone(N).pcp().batch()), (0, 1));
        node.verify().unwrap();

        // A free goes straight through to the buddy lists and merges there: freeing `p`
        // (whose buddies are all free now) leaves only max-order blocks.
        node.free_pages(p, 0).unwrap();
        assert_eq!(node.zone(N).pcp().count(), 0);
        assert_eq!(node.zone(N).nr_free_pages(), node.zone(N).managed_pages());
        assert!((0..MAX_ORDER - 1).all(|o| buddy_free_of(&node, o) == 0));
        // An allocation takes its page from the buddy lists (a full split) and caches
        // nothing; the free merges it all the way back.
        for _ in 0..3 {
            let q = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
            assert_eq!(node.zone(N).pcp().count(), 0);
            assert!((0..MAX_ORDER - 1).all(|o| buddy_free_of(&node, o) == 1));
            node.free_pages(q, 0).unwrap();
            assert!((0..MAX_ORDER - 1).all(|o| buddy_free_of(&node, o) == 0));
        }
        // Every pcp order frees straight back too.
        for order in 1..=PAGE_ALLOC_COSTLY_ORDER {
            let q = node.alloc_pages(GfpFlags::GFP_KERNEL, order).unwrap();
            node.free_pages(q, order).unwrap();
            node.drain_all_pages();
            assert_eq!(node.zone(N).nr_free_pages(), node.zone(N).managed_pages());
        }
        node.verify().unwrap();

        // A limit update while disabled (new watermarks) waits for the enable.
        node.set_min_free_kbytes(node.min_free_kbytes() * 4);
        assert_eq!((node.zone(N).pcp().high(), node.zone(N).pcp().batch()), (0, 1));
        node.zone_pcp_enable(N).unwrap();
        let new_high = node.zone(N).pcp().high();
        assert!(new_high > high, "{new_high} after the update, {high} before");
        assert_eq!(node.zone(N).pcp().batch(), batch);
        // Enabled again: a free is cached.
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        node.free_pages(p, 0).unwrap();
        assert_eq!(node.zone(N).pcp().count(), batch);
        node.verify().unwrap();
    }

    #[test]
    fn enable_restores_the_limits_of_6_1() {
        let mut v = Vec::new();
        let mut node = node_of(&mut v);
        let before = *node.zone(N).pcp();
        node.zone_pcp_disable(N).unwrap();
        node.zone_pcp_enable(N).unwrap();
        let after = *node.zone(N).pcp();
        assert_eq!((after.high(), after.batch()), (before.high(), before.batch()));
        // Those are 6.1's formulas for the zone.
        let zone = node.zone(N);
        let batch = zone_batchsize_capped(zone.managed_pages(), PCP_BATCH_MAX_PAGES).max(1);
        assert_eq!(after.batch(), batch);
        assert_eq!(after.high(), zone_highsize(zone.low_wmark_pages(), batch, 1));
    }

    #[test]
    fn unbalanced_disable_and_enable_are_refused_and_change_nothing() {
        let mut v = Vec::new();
        let mut node = node_of(&mut v);
        let before = *node.zone(N).pcp();
        assert_eq!(node.zone_pcp_enable(N), Err(PcpError::NotDisabled(N)));
        assert_eq!(*node.zone(N).pcp(), before);
        node.zone_pcp_disable(N).unwrap();
        let disabled = *node.zone(N).pcp();
        assert_eq!(node.zone_pcp_disable(N), Err(PcpError::AlreadyDisabled(N)));
        assert_eq!(*node.zone(N).pcp(), disabled);
        assert!(node.zone(N).pcp_disabled());
        assert_eq!(
            vec![
                PcpError::AlreadyDisabled(N).to_string(),
                PcpError::NotDisabled(ZoneType::HighMem).to_string()
            ],
            [
                "zone_pcp_disable: zone Normal's per-CPU lists are already disabled",
                "zone_pcp_enable: zone HighMem's per-CPU lists are not disabled"
            ]
        );
    }
}
