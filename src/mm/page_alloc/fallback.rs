//! Mobility grouping: pageblock migrate types and `__rmqueue_fallback`, which steals
//! free blocks (and whole pageblocks) from another migrate type's lists.
use super::*;

/// `fallbacks[]`: where each migrate type looks when its own lists are empty.
pub(super) const FALLBACKS: [[usize; 2]; MIGRATE_TYPES] = [
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
    /// `can_steal_fallback()`: whether taking a block of `order` may claim its pageblock.
    pub(super) fn can_steal_fallback(order: u32, start_mt: usize) -> bool {
        order >= PAGEBLOCK_ORDER / 2 || start_mt != MIGRATE_MOVABLE
    }

    /// `__rmqueue_fallback()` (6.1): the *largest* free block of a fallback type, so that a
    /// whole pageblock changes hands and types stay grouped (for movable requests that cannot
    /// claim a pageblock, the smallest instead). The free blocks of its pageblock move to
    /// `start_mt`'s lists, and the pageblock becomes `start_mt` when at least half of it was
    /// free (`steal_suitable_fallback`). Returns whether anything moved.
    pub(super) fn __rmqueue_fallback(&mut self, z: usize, order: u32, start_mt: usize) -> bool {
        let zone = &self.node_zones[z];
        let first_fallback = |current: u32| {
            FALLBACKS[start_mt].iter().find_map(|&fb| zone.free_area[current as usize].first(fb))
        };
        let mut found = None;
        for current in (order..MAX_ORDER as u32).rev() {
            if let Some(idx) = first_fallback(current) {
                let can_steal = Self::can_steal_fallback(current, start_mt);
                if can_steal || start_mt != MIGRATE_MOVABLE || current == order {
                    found = Some((idx, current, can_steal));
                }
                break;
            }
        }
        if found.is_none() {
            // find_smallest: a movable request takes the smallest fallback block that fits.
            found = (order..MAX_ORDER as u32).find_map(|current| {
                first_fallback(current)
                    .map(|idx| (idx, current, Self::can_steal_fallback(current, start_mt)))
            });
        }
        let Some((idx, current, can_steal)) = found else { return false };
        if can_steal {
            let pfn = self.mem_map.pfn_of(idx).0;
            let moved = self.move_freepages_block(z, pfn, start_mt);
            if moved >= 1 << (PAGEBLOCK_ORDER - 1) {
                self.set_pageblock_migratetype(pfn, start_mt);
            }
        } else {
            let pages = self.mem_map.pages_mut();
            let area = &mut self.node_zones[z].free_area[current as usize];
            area.del(pages, idx);
            area.add(pages, idx, start_mt, false);
        }
        true
    }

    /// `move_freepages_block()`: every free block inside `pfn`'s pageblock goes to `mt`'s
    /// lists. Returns the pages moved.
    pub(super) fn move_freepages_block(&mut self, z: usize, pfn: u64, mt: usize) -> u64 {
        let block = pfn & !((1u64 << PAGEBLOCK_ORDER) - 1);
        let base = self.mem_map.base_pfn().0;
        let end = self.mem_map.end_pfn().0;
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        let mut moved = 0;
        let mut p = block.max(base);
        while p < (block + (1 << PAGEBLOCK_ORDER)).min(end) {
            let idx = (p - base) as u32;
            let page = pages[idx as usize];
            if page.is_buddy() && usize::from(page.zone) == z {
                let order = page.order() as usize;
                zone.free_area[order].del(pages, idx);
                zone.free_area[order].add(pages, idx, mt, false);
                moved += 1 << order;
                p += 1 << order;
            } else {
                p += 1;
            }
        }
        moved
    }

    /// The pageblock table's index for `pfn`.
    #[inline]
    pub(super) fn pageblock_index(&self, pfn: u64) -> usize {
        ((pfn >> PAGEBLOCK_ORDER) - (self.mem_map.base_pfn().0 >> PAGEBLOCK_ORDER)) as usize
    }

    /// `get_pageblock_migratetype()`.
    #[inline]
    pub fn get_pageblock_migratetype(&self, pfn: Pfn) -> usize {
        self.pageblock_mt
            .get(self.pageblock_index(pfn.0))
            .map_or(MIGRATE_MOVABLE, |&m| usize::from(m))
    }

    pub(super) fn set_pageblock_migratetype(&mut self, pfn: u64, mt: usize) {
        let i = self.pageblock_index(pfn);
        if let Some(m) = self.pageblock_mt.get_mut(i) {
            *m = mt as u8;
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
            pfn += 1 << PAGEBLOCK_ORDER;
        }
        counts
    }
}
