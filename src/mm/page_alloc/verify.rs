//! `verify()`: the allocator's invariants, checked by walking every list and all of mem_map.
use super::*;

/// A broken invariant and the page frame where it shows.
pub type VerifyError = (&'static str, Pfn);

/// Where a zone-wide error is reported: the zone's first PFN.
fn zone_pfn(zone: &Zone) -> Pfn {
    zone.zone_start_pfn()
}

impl<'a> Node<'a> {
    /// Walks every free list and per-CPU list and all of mem_map and checks what the
    /// allocator promises: list links agree both ways and each list holds what its counter
    /// says; each free block heads with PG_buddy, has its list's order and migrate type, is
    /// aligned, lies in its zone and holds no reserved, cached or allocated page (CMA blocks
    /// only in CMA pageblocks); each per-CPU block has an order its lists keep and the type of
    /// its list (CMA and HighAtomic ones on the movable list); every page of a zone is exactly
    /// one of free, cached, allocated (inside a block whose head has an owner, with consistent
    /// tail marks) or reserved, and the zone's managed pages are the free, cached and
    /// allocated ones; the free CMA pages, the CMA and HighAtomic pageblocks agree with their
    /// counters; every pageblock has a valid migrate type. O(free blocks + mem_map).
    pub fn verify(&self) -> Result<(), VerifyError> {
        // The LRU lists: links, counts, flags, and only allocated pages on them.
        self.lruvec.verify(&self.mem_map)?;
        let mut listed_buddies = 0;
        for (z, zone) in self.node_zones.iter().enumerate() {
            let (mut free, mut free_cma) = (0, 0);
            for (order, area) in zone.free_area.iter().enumerate() {
                let mut n = 0;
                for mt in 0..MIGRATE_TYPES {
                    let (first, last) = (area.first(mt), area.last(mt));
                    let walked = self.walk_list(first, last, area.nr_free_of(mt), |idx| {
                        self.check_free_block(z, order as u32, mt, idx)
                    })?;
                    n += walked;
                    // Isolated free pages are not counted free (`__free_one_page`).
                    if mt != MIGRATE_ISOLATE {
                        free += walked << order;
                    }
                    if mt == MIGRATE_CMA {
                        free_cma += walked << order;
                    }
                }
                if n != area.nr_free {
                    return Err(("nr_free differs from the list length", zone.zone_start_pfn()));
                }
                listed_buddies += n;
            }
            if free != zone.nr_free_pages {
                return Err(("NR_FREE_PAGES differs from the lists", zone.zone_start_pfn()));
            }
            if free_cma != zone.nr_free_cma {
                return Err(("NR_FREE_CMA_PAGES differs from the CMA lists", zone_pfn(zone)));
            }
            let mut cached = 0;
            for pindex in 0..NR_PCP_LISTS {
                let order = pindex_to_order(pindex);
                let list_mt = pindex % MIGRATE_PCPTYPES;
                let (first, last) = zone.pcp.list_ends(pindex);
                let blocks = self.walk_list(first, last, zone.pcp.list_len(pindex), |idx| {
                    let pfn = self.mem_map.pfn_of(idx);
                    let p = &self.mem_map.pages()[idx as usize];
                    if !p.flags.contains(PageFlags::PG_pcp) || p.is_buddy() || p.refcount != 0 {
                        return Err(("pcp list entry not marked cached, or in use", pfn));
                    }
                    if !self.pcp_allowed_order(order)
                        || p.order() != order
                        || pfn.0 & ((1 << order) - 1) != 0
                    {
                        return Err(("pcp block of an order its list does not hold", pfn));
                    }
                    let end = Pfn(pfn.0 + (1 << order) - 1);
                    if !zone.spans(pfn) || !zone.spans(end) || p.zone_idx() as usize != z {
                        return Err(("pcp page outside its zone or reserved", pfn));
                    }
                    let block = &self.mem_map.pages()[idx as usize..idx as usize + (1 << order)];
                    if block.iter().any(|q| q.is_reserved() || q.refcount != 0) {
                        return Err(("pcp page outside its zone or reserved", pfn));
                    }
                    // The type it remembers: its list's, or CMA/HighAtomic on the movable one.
                    let mt = p.free_mt();
                    let on_movable = list_mt == MIGRATE_MOVABLE
                        && (mt == MIGRATE_CMA || mt == MIGRATE_HIGHATOMIC);
                    if (mt != list_mt && !on_movable) || p.owner() != PageOwner::None {
                        return Err(("pcp page on another type's list, or owned", pfn));
                    }
                    Ok(())
                })?;
                cached += blocks << order;
            }
            if cached != zone.pcp.count() {
                return Err(("pcp count differs from its lists", zone.zone_start_pfn()));
            }
            let blocks = self.pageblocks_per_type(zone.zone_type());
            if blocks[MIGRATE_CMA] * PAGEBLOCK_NR_PAGES != zone.cma_pages {
                return Err((
                    "the zone's cma pages differ from its CMA pageblocks",
                    zone_pfn(zone),
                ));
            }
            if blocks[MIGRATE_HIGHATOMIC] * PAGEBLOCK_NR_PAGES != zone.nr_reserved_highatomic {
                return Err(("nr_reserved_highatomic differs from the pageblocks", zone_pfn(zone)));
            }
        }
        self.verify_mem_map(listed_buddies)?;
        self.verify_pageblocks()
    }

    /// Follows a list from its head (`first`), checking each entry's back link and that the
    /// walk ends at its tail (`last`) within the list's count (no cycle, no stray link);
    /// `check` sees every entry. Returns the entries.
    fn walk_list(
        &self,
        first: Option<u32>,
        last: Option<u32>,
        limit: u64,
        mut check: impl FnMut(u32) -> Result<(), VerifyError>,
    ) -> Result<u64, VerifyError> {
        let pages = self.mem_map.pages();
        let (mut prev, mut cur, mut n) = (NIL, first.unwrap_or(NIL), 0u64);
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
        if last.unwrap_or(NIL) != prev {
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
            q.zone_idx() as usize != z
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
            let z = p.zone_idx() as usize;
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
                // A cached block of a pcp order: its head is marked, the rest plain.
                let nr = 1usize << p.order();
                pcp_pages += nr as u64;
                nr
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

    /// Every pageblock a zone touches has a slot in the table and a migrate type the free
    /// lists know.
    fn verify_pageblocks(&self) -> Result<(), VerifyError> {
        for zone in self.populated_zones() {
            let mut pfn = zone.zone_start_pfn;
            while pfn < zone.zone_start_pfn + zone.spanned_pages {
                let i = self.pageblock_index(pfn);
                if i / 2 >= self.pageblock_mt.len()
                    || self.get_pageblock_migratetype(Pfn(pfn)) >= MIGRATE_TYPES
                {
                    return Err(("pageblock without a valid migrate type", Pfn(pfn)));
                }
                pfn = (pfn | (PAGEBLOCK_NR_PAGES - 1)) + 1;
            }
        }
        Ok(())
    }
}
