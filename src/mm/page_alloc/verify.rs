//! `verify()`: the allocator's invariants, checked by walking every list and all of mem_map.
use super::*;
use crate::mm::zone::FreeArea;

/// A broken invariant and the page frame where it shows.
pub type VerifyError = (&'static str, Pfn);

impl<'a> Node<'a> {
    /// Walks every free list and per-CPU list and all of mem_map and checks what the
    /// allocator promises: list links agree both ways and each list holds what its counter
    /// says; each free block heads with PG_buddy, has its list's order and migrate type, is
    /// aligned, lies in its zone and holds no reserved, cached or allocated page; every page
    /// of a zone is exactly one of free, cached, allocated (inside a block whose head has an
    /// owner, with consistent tail marks) or reserved, and the zone's managed pages are the
    /// free, cached and allocated ones; every pageblock has a valid migrate type.
    /// O(free blocks + mem_map).
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mut listed_buddies = 0;
        for (z, zone) in self.node_zones.iter().enumerate() {
            let mut free = 0;
            for (order, area) in zone.free_area.iter().enumerate() {
                let mut n = 0;
                for mt in 0..MIGRATE_TYPES {
                    let walked = self.walk_list(area, mt, |idx| {
                        self.check_free_block(z, order as u32, mt, idx)
                    })?;
                    n += walked;
                    free += walked << order;
                }
                if n != area.nr_free {
                    return Err(("nr_free differs from the list length", zone.zone_start_pfn()));
                }
                listed_buddies += n;
            }
            if free != zone.nr_free_pages {
                return Err(("NR_FREE_PAGES differs from the lists", zone.zone_start_pfn()));
            }
            let mut cached = 0;
            for mt in 0..MIGRATE_TYPES {
                cached += self.walk_list(&zone.pcp.lists, mt, |idx| {
                    let pfn = self.mem_map.pfn_of(idx);
                    let p = &self.mem_map.pages()[idx as usize];
                    if !p.flags.contains(PageFlags::PG_pcp) || p.is_buddy() || p.refcount != 0 {
                        return Err(("pcp list entry not marked cached, or in use", pfn));
                    }
                    if !zone.spans(pfn) || p.zone as usize != z || p.is_reserved() {
                        return Err(("pcp page outside its zone or reserved", pfn));
                    }
                    if p.free_mt() != mt || p.owner() != PageOwner::None {
                        return Err(("pcp page on another type's list, or owned", pfn));
                    }
                    Ok(())
                })?;
            }
            if cached != zone.pcp.count() {
                return Err(("pcp count differs from its lists", zone.zone_start_pfn()));
            }
        }
        self.verify_mem_map(listed_buddies)?;
        self.verify_pageblocks()
    }

    /// Follows the list of `mt` in `area` from its head, checking each entry's back link and
    /// that the walk ends where the tail is within the list's count (no cycle, no stray
    /// link); `check` sees every entry. Returns the entries.
    fn walk_list(
        &self,
        area: &FreeArea,
        mt: usize,
        mut check: impl FnMut(u32) -> Result<(), VerifyError>,
    ) -> Result<u64, VerifyError> {
        let pages = self.mem_map.pages();
        let limit = area.nr_free_of(mt);
        let (mut prev, mut cur, mut n) = (NIL, area.first(mt).unwrap_or(NIL), 0u64);
        while cur != NIL {
            let Some(p) = pages.get(cur as usize) else {
                return Err(("free list link outside mem_map", self.mem_map.base_pfn()));
            };
            let pfn = self.mem_map.pfn_of(cur);
            if p.lru_prev != prev {
                return Err(("free list back link broken", pfn));
            }
            n += 1;
            if n > limit {
                return Err(("free list longer than its count (a cycle?)", pfn));
            }
            check(cur)?;
            prev = cur;
            cur = p.lru_next;
        }
        if area.last(mt).unwrap_or(NIL) != prev {
            return Err(("free list tail is not its last entry", self.mem_map.base_pfn()));
        }
        Ok(n)
    }

    /// One block on the free list of `order` and `mt` in zone `z`.
    fn check_free_block(
        &self,
        z: usize,
        order: u32,
        mt: usize,
        idx: u32,
    ) -> Result<(), VerifyError> {
        let pages = self.mem_map.pages();
        let zone = &self.node_zones[z];
        let pfn = self.mem_map.pfn_of(idx);
        let p = &pages[idx as usize];
        if !p.is_buddy() || p.order() != order {
            return Err(("free list entry without PG_buddy of its order", pfn));
        }
        if p.free_mt() != mt {
            return Err(("free block on another migrate type's list", pfn));
        }
        if pfn.0 & ((1 << order) - 1) != 0 {
            return Err(("free block not aligned to its order", pfn));
        }
        if !zone.spans(pfn) || !zone.spans(Pfn(pfn.0 + (1 << order) - 1)) {
            return Err(("free block outside its zone", pfn));
        }
        let block = &pages[idx as usize..idx as usize + (1 << order)];
        let in_use = PageFlags::PG_reserved | PageFlags::PG_pcp | PageFlags::PG_tail;
        if block.iter().any(|q| {
            q.zone as usize != z
                || q.flags.intersects(in_use)
                || q.refcount != 0
                || q.owner() != PageOwner::None
        }) {
            return Err(("free block holds a reserved, cached or allocated page", pfn));
        }
        if block[1..].iter().any(|q| q.is_buddy()) {
            return Err(("free block overlaps another", pfn));
        }
        Ok(())
    }

    /// Every page of mem_map, block by block: each is free (inside a listed block), cached,
    /// allocated (inside a block whose head says so) or reserved; pages outside every zone
    /// are reserved; managed pages add up.
    fn verify_mem_map(&self, listed_buddies: u64) -> Result<(), VerifyError> {
        let pages = self.mem_map.pages();
        let mut accounted = [0u64; MAX_NR_ZONES];
        let mut buddies = 0;
        let mut pcp_pages = 0;
        let mut idx = 0usize;
        while idx < pages.len() {
            let p = &pages[idx];
            let pfn = self.mem_map.pfn_of(idx as u32);
            let z = p.zone as usize;
            if p.is_reserved() {
                if p.flags.intersects(PageFlags::PG_buddy | PageFlags::PG_pcp)
                    || p.owner() != PageOwner::None
                {
                    return Err(("a reserved page is free, cached or owned", pfn));
                }
                idx += 1;
                continue;
            }
            if z >= MAX_NR_ZONES {
                return Err(("a page outside every zone is not reserved", pfn));
            }
            let nr = if p.is_buddy() {
                // Its contents were checked when its list was walked.
                buddies += 1;
                1usize << p.order()
            } else if p.flags.contains(PageFlags::PG_pcp) {
                pcp_pages += 1;
                1
            } else if p.refcount != 0 {
                self.check_allocated_block(idx)?
            } else {
                return Err(("page is neither free, cached, allocated nor reserved", pfn));
            };
            if idx + nr > pages.len() {
                return Err(("block runs past the end of mem_map", pfn));
            }
            accounted[z] += nr as u64;
            idx += nr;
        }
        if buddies != listed_buddies {
            return Err(("a PG_buddy page is on no list", self.mem_map.base_pfn()));
        }
        if pcp_pages != self.nr_pcp_pages() {
            return Err(("a PG_pcp page is on no pcp list", self.mem_map.base_pfn()));
        }
        for (zone, &n) in self.node_zones.iter().zip(&accounted) {
            if n != zone.managed_pages {
                return Err((
                    "managed pages differ from free + cached + allocated",
                    zone.zone_start_pfn(),
                ));
            }
        }
        Ok(())
    }

    /// The allocated block headed at mem_map index `idx`: it has an owner and a valid,
    /// aligned order; its other pages are plain, or tails pointing at it for a compound or
    /// slab block. Returns its pages.
    fn check_allocated_block(&self, idx: usize) -> Result<usize, VerifyError> {
        let pages = self.mem_map.pages();
        let head = &pages[idx];
        let pfn = self.mem_map.pfn_of(idx as u32);
        if head.owner() == PageOwner::None {
            return Err(("an allocated block has no owner", pfn));
        }
        if head.flags.contains(PageFlags::PG_tail) {
            return Err(("a tail page has a reference count", pfn));
        }
        let order = head.order();
        if order as usize >= MAX_ORDER || pfn.0 & ((1 << order) - 1) != 0 {
            return Err(("an allocated block has a bad or misaligned order", pfn));
        }
        let nr = 1usize << order;
        let Some(rest) = pages.get(idx + 1..idx + nr) else {
            return Err(("block runs past the end of mem_map", pfn));
        };
        let tails = head.flags.intersects(PageFlags::PG_head | PageFlags::PG_slab);
        for (i, q) in rest.iter().enumerate() {
            let tail_ok = if tails {
                q.compound_head_index() == Some(idx as u32)
            } else {
                q.compound_head_index().is_none()
            };
            let busy = PageFlags::PG_buddy | PageFlags::PG_pcp | PageFlags::PG_reserved;
            if q.flags.intersects(busy)
                || q.refcount != 0
                || q.owner() != PageOwner::None
                || q.zone != head.zone
                || !tail_ok
            {
                let at = Pfn(pfn.0 + 1 + i as u64);
                return Err(("a page inside an allocated block is not part of it", at));
            }
        }
        Ok(nr)
    }

    /// Every pageblock a zone touches has a migrate type the free lists know.
    fn verify_pageblocks(&self) -> Result<(), VerifyError> {
        for zone in self.populated_zones() {
            let mut pfn = zone.zone_start_pfn;
            while pfn < zone.zone_start_pfn + zone.spanned_pages {
                let i = self.pageblock_index(pfn);
                if self.pageblock_mt.get(i).is_none_or(|&mt| usize::from(mt) >= MIGRATE_TYPES) {
                    return Err(("pageblock without a valid migrate type", Pfn(pfn)));
                }
                pfn = (pfn | ((1 << PAGEBLOCK_ORDER) - 1)) + 1;
            }
        }
        Ok(())
    }
}
