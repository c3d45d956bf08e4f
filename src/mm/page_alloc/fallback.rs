//! Mobility grouping: pageblock migrate types, `__rmqueue_fallback` (which steals free blocks,
//! and whole pageblocks, from another migrate type's lists) with 6.1's
//! `steal_suitable_fallback` and watermark boosting, the HighAtomic reserve, and pivm's
//! kswapd's wake-up (6.1's kswapd clears the boosts).
use super::*;
use crate::mm::zone::{__zone_watermark_ok, zone_watermark_ok};

/// `fallbacks[]`: where each migrate type looks when its own lists are empty (CMA,
/// HighAtomic and Isolate have no fallbacks and are never fallen back to).
pub(super) const FALLBACKS: [[usize; 2]; MIGRATE_PCPTYPES] = [
    [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
    [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
    [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/// `gfp_migratetype()`: movable for `__GFP_MOVABLE` (user and page-cache pages),
/// reclaimable for `__GFP_RECLAIMABLE`, otherwise unmovable (the kernel's own).
pub fn gfp_migratetype(gfp: GfpFlags) -> usize {
    if gfp.contains(GfpFlags::__GFP_MOVABLE) {
        MIGRATE_MOVABLE
    } else if gfp.contains(GfpFlags::__GFP_RECLAIMABLE) {
        MIGRATE_RECLAIMABLE
    } else {
        MIGRATE_UNMOVABLE
    }
}

impl<'a> Node<'a> {
    /// `can_steal_fallback()` (6.1): whether taking a block of `order` for `start_mt` may take
    /// the rest of its pageblock's free pages too: a block of half a pageblock or more, or a
    /// kernel (unmovable or reclaimable) request, since those scattered over movable
    /// pageblocks fragment memory for good. A 3.x kernel let only reclaimable requests steal
    /// small blocks.
    pub(super) fn can_steal_fallback(&self, order: u32, start_mt: usize) -> bool {
        if order >= PAGEBLOCK_ORDER || order >= PAGEBLOCK_ORDER / 2 || self.mobility_disabled {
            return true;
        }
        match self.era {
            KernelEra::Linux61 => start_mt == MIGRATE_RECLAIMABLE || start_mt == MIGRATE_UNMOVABLE,
            KernelEra::Linux3x => start_mt == MIGRATE_RECLAIMABLE,
        }
    }

    /// `find_suitable_fallback()`: the first fallback type with a free block of `order`, and
    /// whether it may be stolen whole (`only_stealable`: only such a type will do).
    pub(super) fn find_suitable_fallback(
        &self,
        z: usize,
        order: u32,
        start_mt: usize,
        only_stealable: bool,
    ) -> Option<(usize, bool)> {
        let area = &self.node_zones[z].free_area[order as usize];
        if area.is_empty() {
            return None;
        }
        let mut can_steal = false;
        for &fallback_mt in &FALLBACKS[start_mt] {
            if area.first(fallback_mt).is_none() {
                continue;
            }
            if self.can_steal_fallback(order, start_mt) {
                can_steal = true;
            }
            if !only_stealable || can_steal {
                return Some((fallback_mt, can_steal));
            }
        }
        None
    }

    /// `__rmqueue_fallback()` (6.1): the *largest* free block of a fallback type, so that a
    /// whole pageblock changes hands and types stay grouped; a movable request that could
    /// not steal the rest of the block takes the smallest one instead (it causes no lasting
    /// fragmentation). `steal_suitable_fallback` then moves it, and perhaps its pageblock, to
    /// `start_mt`. Returns whether anything moved, for `__rmqueue` to try again.
    pub(super) fn __rmqueue_fallback(
        &mut self,
        z: usize,
        order: u32,
        start_mt: usize,
        alloc_flags: AllocFlags,
    ) -> bool {
        let mut found = None;
        for current in (order..MAX_ORDER as u32).rev() {
            if let Some((fallback_mt, can_steal)) =
                self.find_suitable_fallback(z, current, start_mt, false)
            {
                found = if !can_steal && start_mt == MIGRATE_MOVABLE && current > order {
                    // find_smallest
                    (order..MAX_ORDER as u32).find_map(|o| {
                        self.find_suitable_fallback(z, o, start_mt, false)
                            .map(|(mt, steal)| (o, mt, steal))
                    })
                } else {
                    Some((current, fallback_mt, can_steal))
                };
                break;
            }
        }
        let Some((current, fallback_mt, can_steal)) = found else { return false };
        let Some(idx) = self.node_zones[z].free_area[current as usize].first(fallback_mt) else {
            return false;
        };
        self.steal_suitable_fallback(z, idx, alloc_flags, start_mt, can_steal);
        true
    }

    /// `steal_suitable_fallback()` (6.1): a block of a whole pageblock or more changes type
    /// outright. Otherwise the zone's watermarks are boosted (a fallback is a sign of
    /// fragmentation to come), and when allowed (`whole_block`) every free page of the
    /// pageblock moves to `start_type`, which claims the pageblock if free pages plus pages of
    /// a compatible type make half of it (`alike_pages`: for a movable request the movable
    /// pages in use; for a kernel request falling into a movable pageblock, every page in use
    /// that is not movable). Else only this block moves.
    pub(super) fn steal_suitable_fallback(
        &mut self,
        z: usize,
        idx: u32,
        alloc_flags: AllocFlags,
        start_type: usize,
        whole_block: bool,
    ) {
        let current_order = self.mem_map.pages()[idx as usize].order();
        let pfn = self.mem_map.pfn_of(idx).0;
        let old_block_type = self.get_pageblock_migratetype(Pfn(pfn));
        // A HighAtomic pageblock keeps its type (its accounting must not break).
        if old_block_type != MIGRATE_HIGHATOMIC {
            if current_order >= PAGEBLOCK_ORDER {
                self.change_pageblock_range(pfn, current_order, start_type);
            } else {
                if self.boost_watermark(z) && alloc_flags.contains(AllocFlags::ALLOC_KSWAPD) {
                    self.node_zones[z].boosted_watermark = true;
                }
                if whole_block {
                    let (free_pages, movable_pages) = self.move_freepages_block(z, pfn, start_type);
                    let alike_pages = if start_type == MIGRATE_MOVABLE {
                        movable_pages
                    } else if old_block_type == MIGRATE_MOVABLE {
                        PAGEBLOCK_NR_PAGES.saturating_sub(free_pages + movable_pages)
                    } else {
                        0
                    };
                    // Moving the block fails only at a zone boundary.
                    if free_pages != 0 {
                        if free_pages + alike_pages >= PAGEBLOCK_NR_PAGES / 2
                            || self.mobility_disabled
                        {
                            self.set_pageblock_migratetype(pfn, start_type);
                        }
                        return;
                    }
                }
            }
        }
        self.move_to_free_list(z, idx, current_order, start_type);
    }

    /// A 3.x kernel's `__rmqueue_fallback()`: the largest free block of a fallback type is
    /// taken at once; a large block (half a pageblock or more) or a reclaimable request first
    /// moves every free page of the pageblock to `start_mt`, which claims the pageblock when
    /// those were half of it. The rest of the block goes to the lists of whichever type took
    /// it. Returns the block (mem_map index), split to `order`.
    pub(super) fn __rmqueue_fallback_3x(
        &mut self,
        z: usize,
        order: u32,
        start_mt: usize,
    ) -> Option<u32> {
        for current in (order..MAX_ORDER as u32).rev() {
            for &fallback_mt in &FALLBACKS[start_mt] {
                let Some(idx) = self.node_zones[z].free_area[current as usize].first(fallback_mt)
                else {
                    continue;
                };
                let pfn = self.mem_map.pfn_of(idx).0;
                let mut mt = fallback_mt;
                if self.can_steal_fallback(current, start_mt) {
                    let (moved, _) = self.move_freepages_block(z, pfn, start_mt);
                    if moved >= PAGEBLOCK_NR_PAGES / 2 || self.mobility_disabled {
                        self.set_pageblock_migratetype(pfn, start_mt);
                    }
                    mt = start_mt;
                }
                let pages = self.mem_map.pages_mut();
                let zone = &mut self.node_zones[z];
                zone.free_area[current as usize].del(pages, idx);
                pages[idx as usize].flags.remove(PageFlags::PG_buddy);
                if current >= PAGEBLOCK_ORDER {
                    self.change_pageblock_range(pfn, current, start_mt);
                }
                let pages = self.mem_map.pages_mut();
                let zone = &mut self.node_zones[z];
                Self::expand(zone, pages, idx, order as usize, current as usize, mt);
                pages[idx as usize].set_free_mt(mt);
                return Some(idx);
            }
        }
        None
    }

    /// `boost_watermark()`: raises the zone's watermarks by a pageblock, up to
    /// `watermark_boost_factor` of the high watermark (150% by default). Not on zones of
    /// fewer than four pageblocks, where it could exhaust memory, nor before the watermarks
    /// exist.
    pub(super) fn boost_watermark(&mut self, z: usize) -> bool {
        let factor = self.watermark_boost_factor;
        let zone = &mut self.node_zones[z];
        if factor == 0 || PAGEBLOCK_NR_PAGES * 4 > zone.managed_pages {
            return false;
        }
        let max_boost = mult_frac(zone.base_watermarks()[WMARK_HIGH], factor, 10_000);
        if max_boost == 0 {
            return false;
        }
        let max_boost = max_boost.max(PAGEBLOCK_NR_PAGES);
        zone.watermark_boost = (zone.watermark_boost + PAGEBLOCK_NR_PAGES).min(max_boost);
        true
    }

    /// `wakeup_kswapd()`: from the slow path, or after an allocation from a boosted zone.
    /// The node records the wake-up and wakes the kswapd thread sleeping on
    /// `pgdat->kswapd_wait` (`kernel::process::reclaim`), which runs `balance_pgdat` outside
    /// the allocator's lock and ends with `kswapd()`.
    pub(super) fn wakeup_kswapd(&mut self) {
        self.kswapd_woken = true;
        if let Some(wake) = self.kswapd_wait {
            wake();
        }
    }

    /// Installs kswapd's wake-up (`init_waitqueue_head(&pgdat->kswapd_wait)` with its
    /// thread): a function that takes no lock, as it runs under the node's.
    pub fn set_kswapd_wait(&mut self, wake: fn()) {
        self.kswapd_wait = Some(wake);
    }

    /// Whether kswapd has been woken and not run since.
    pub fn kswapd_woken(&self) -> bool {
        self.kswapd_woken
    }

    /// The end of a kswapd run (`balance_pgdat`'s `out:`): the wake-up is consumed and the
    /// boosts go. Returns the pages of boost cleared.
    pub fn kswapd(&mut self) -> u64 {
        self.kswapd_woken = false;
        self.clear_watermark_boosts()
    }

    /// Takes every zone's boost away (what a kswapd pass ends with whether or not it
    /// reclaimed the boost). The slow path of a request that may reclaim does it at once,
    /// as kswapd would have by the time the request gave up; kswapd itself stays woken and
    /// runs when its thread next gets the CPU (`kernel::process::reclaim`).
    pub(super) fn clear_watermark_boosts(&mut self) -> u64 {
        let mut cleared = 0;
        for zone in &mut self.node_zones {
            cleared += zone.watermark_boost;
            zone.watermark_boost = 0;
        }
        cleared
    }

    /// The highest configured zone with pages (kswapd's `highest_zoneidx` for the
    /// allocations pivm wakes it for: user pages may come from any zone).
    fn highest_managed_zone(&self) -> ZoneType {
        ZoneType::ALL
            .into_iter()
            .rev()
            .find(|t| self.configured[t.idx()] && self.node_zones[t.idx()].is_managed())
            .unwrap_or(ZoneType::Normal)
    }

    /// `pgdat_balanced()` for order 0: some managed zone up to the highest meets its high
    /// watermark (boost included), or none is managed.
    pub fn pgdat_balanced(&self) -> bool {
        let highest = self.highest_managed_zone();
        let mut managed = false;
        for z in self.node_zones.iter().take(highest.idx() + 1).filter(|z| z.is_managed()) {
            managed = true;
            if zone_watermark_ok(z, 0, z.high_wmark_pages(), highest, AllocFlags::empty()) {
                return true;
            }
        }
        !managed
    }

    /// Pages of watermark boost over the zones (`balance_pgdat`'s `nr_boost_reclaim`).
    pub fn watermark_boost_total(&self) -> u64 {
        self.node_zones.iter().map(|z| z.watermark_boost).sum()
    }

    /// `kswapd_shrink_node`'s target: `max(high_wmark_pages, SWAP_CLUSTER_MAX)` summed over
    /// the managed zones.
    pub fn kswapd_reclaim_target(&self) -> u64 {
        self.node_zones
            .iter()
            .filter(|z| z.is_managed())
            .map(|z| z.high_wmark_pages().max(crate::mm::vmscan::SWAP_CLUSTER_MAX))
            .sum()
    }

    /// The managed zones' high watermarks summed (`prepare_scan_count`'s
    /// `total_high_wmark`).
    pub fn high_wmark_total(&self) -> u64 {
        self.node_zones.iter().filter(|z| z.is_managed()).map(|z| z.high_wmark_pages()).sum()
    }

    /// `should_reclaim_retry`'s zone test for an order-0 request `gfp`: some zone it may use
    /// would meet its min watermark with its free pages plus `reclaimable(zone index)`.
    pub fn zone_could_meet_min(&self, gfp: GfpFlags, reclaimable: impl Fn(usize) -> u64) -> bool {
        let highest = self.highest_zoneidx(gfp);
        let flags = gfp_to_alloc_flags(gfp);
        self.node_zones.iter().enumerate().take(highest.idx() + 1).any(|(i, z)| {
            z.is_managed() && {
                let available = z.nr_free_pages() + reclaimable(i);
                __zone_watermark_ok(z, 0, z.min_wmark_pages(), highest, flags, available as i64)
            }
        })
    }

    /// `reserve_highatomic_pageblock()`: after a high-order atomic allocation, its pageblock
    /// becomes MIGRATE_HIGHATOMIC (if it is of a mobility type), keeping its free pages for
    /// later atomic requests; at most about 1% of the zone plus a pageblock.
    pub(super) fn reserve_highatomic_pageblock(&mut self, idx: u32, z: usize) {
        let zone = &self.node_zones[z];
        let max_managed = zone.managed_pages / 100 + PAGEBLOCK_NR_PAGES;
        if zone.nr_reserved_highatomic >= max_managed {
            return;
        }
        let pfn = self.mem_map.pfn_of(idx).0;
        if migratetype_is_mergeable(self.get_pageblock_migratetype(Pfn(pfn))) {
            self.node_zones[z].nr_reserved_highatomic += PAGEBLOCK_NR_PAGES;
            self.set_pageblock_migratetype(pfn, MIGRATE_HIGHATOMIC);
            self.move_freepages_block(z, pfn, MIGRATE_HIGHATOMIC);
        }
    }

    /// `unreserve_highatomic_pageblock()`: before an allocation fails, a HighAtomic
    /// pageblock with free pages goes back to the request's type (keeping one reserved
    /// pageblock per zone unless `force`). Returns whether free pages moved.
    pub(super) fn unreserve_highatomic_pageblock(
        &mut self,
        highest: ZoneType,
        mt: usize,
        force: bool,
    ) -> bool {
        for z in (0..=highest.idx()).rev() {
            if !force && self.node_zones[z].nr_reserved_highatomic <= PAGEBLOCK_NR_PAGES {
                continue;
            }
            for order in 0..MAX_ORDER {
                let Some(idx) = self.node_zones[z].free_area[order].first(MIGRATE_HIGHATOMIC)
                else {
                    continue;
                };
                let pfn = self.mem_map.pfn_of(idx).0;
                if self.get_pageblock_migratetype(Pfn(pfn)) == MIGRATE_HIGHATOMIC {
                    let zone = &mut self.node_zones[z];
                    zone.nr_reserved_highatomic -=
                        PAGEBLOCK_NR_PAGES.min(zone.nr_reserved_highatomic);
                }
                self.set_pageblock_migratetype(pfn, mt);
                if self.move_freepages_block(z, pfn, mt).0 > 0 {
                    return true;
                }
            }
        }
        false
    }

    /// `move_to_free_list()`: a free block to the tail of another type's list.
    pub(super) fn move_to_free_list(&mut self, z: usize, idx: u32, order: u32, mt: usize) {
        let pages = self.mem_map.pages_mut();
        let area = &mut self.node_zones[z].free_area[order as usize];
        area.del(pages, idx);
        area.add(pages, idx, mt, true);
    }

    /// `change_pageblock_range()`: every pageblock of a block of `start_order` becomes `mt`.
    fn change_pageblock_range(&mut self, pfn: u64, start_order: u32, mt: usize) {
        for i in 0..1u64 << (start_order - PAGEBLOCK_ORDER) {
            self.set_pageblock_migratetype(pfn + i * PAGEBLOCK_NR_PAGES, mt);
        }
    }

    /// `move_freepages_block()`: every free block inside `pfn`'s pageblock goes to the tail
    /// of `mt`'s lists (nothing if the pageblock's end is outside the zone; from `pfn` if its
    /// start is). Returns the pages moved and the pages in use that are movable (Linux counts
    /// `PageLRU` or `__PageMovable` ones; pivm has no LRU, so it counts the blocks allocated
    /// for a movable request, the pages that would be on it).
    pub(super) fn move_freepages_block(&mut self, z: usize, pfn: u64, mt: usize) -> (u64, u64) {
        let zone = &self.node_zones[z];
        let mut start = pfn & !(PAGEBLOCK_NR_PAGES - 1);
        let end = start + PAGEBLOCK_NR_PAGES - 1;
        if !zone.spans(Pfn(start)) {
            start = pfn;
        }
        if !zone.spans(Pfn(end)) {
            return (0, 0);
        }
        let base = self.mem_map.base_pfn().0;
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        let (mut moved, mut movable) = (0, 0);
        let mut p = start;
        while p <= end {
            let idx = (p - base) as u32;
            let page = pages[idx as usize];
            if !page.is_buddy() {
                if page.refcount > 0
                    && page.owner() != PageOwner::None
                    && page.free_mt() == MIGRATE_MOVABLE
                {
                    movable += 1;
                }
                p += 1;
                continue;
            }
            let order = page.order() as usize;
            zone.free_area[order].del(pages, idx);
            zone.free_area[order].add(pages, idx, mt, true);
            moved += 1 << order;
            p += 1 << order;
        }
        (moved, movable)
    }

    /// The pageblock table's index for `pfn`.
    #[inline]
    pub(super) fn pageblock_index(&self, pfn: u64) -> usize {
        ((pfn >> PAGEBLOCK_ORDER) - (self.mem_map.base_pfn().0 >> PAGEBLOCK_ORDER)) as usize
    }

    /// `get_pageblock_migratetype()`.
    #[inline]
    pub fn get_pageblock_migratetype(&self, pfn: Pfn) -> usize {
        self.pageblock_mt_at(self.pageblock_index(pfn.0))
    }

    /// `get_pageblock_migratetype()` of the page at mem_map index `idx`, in 32-bit
    /// arithmetic: `pfn >> PAGEBLOCK_ORDER` less the first PFN's is `idx` plus the first PFN's
    /// offset in its pageblock, shifted.
    #[inline(always)]
    pub(super) fn get_pageblock_migratetype_idx(&self, idx: u32) -> usize {
        let off = self.mem_map.base_pfn().0 as u32 & ((1 << PAGEBLOCK_ORDER) - 1);
        self.pageblock_mt_at((idx.wrapping_add(off) >> PAGEBLOCK_ORDER) as usize)
    }

    /// The migrate type in pageblock-table entry `i` (MOVABLE past the table's end).
    #[inline(always)]
    fn pageblock_mt_at(&self, i: usize) -> usize {
        self.pageblock_mt.get(i / 2).map_or(MIGRATE_MOVABLE, |&b| {
            usize::from((b >> ((i % 2) as u32 * PB_MIGRATETYPE_BITS)) & 0xf)
        })
    }

    pub(super) fn set_pageblock_migratetype(&mut self, pfn: u64, mt: usize) {
        let i = self.pageblock_index(pfn);
        if let Some(b) = self.pageblock_mt.get_mut(i / 2) {
            let shift = (i % 2) as u32 * PB_MIGRATETYPE_BITS;
            *b = (*b & !(0xf << shift)) | ((mt as u8 & 0xf) << shift);
        }
    }

    /// Pageblocks of each migrate type in a zone (`/proc/pagetypeinfo`'s block counts; Linux
    /// steps from `zone_start_pfn` by a block, so a partial last block counts).
    pub fn pageblocks_per_type(&self, t: ZoneType) -> [u64; MIGRATE_TYPES] {
        let zone = &self.node_zones[t.idx()];
        let mut counts = [0; MIGRATE_TYPES];
        let mut pfn = zone.zone_start_pfn;
        while pfn < zone.zone_start_pfn + zone.spanned_pages {
            counts[self.get_pageblock_migratetype(Pfn(pfn)).min(MIGRATE_TYPES - 1)] += 1;
            pfn += PAGEBLOCK_NR_PAGES;
        }
        counts
    }
}
