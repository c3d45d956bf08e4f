//! `verify()`: the allocator's invariants, checked by walking every list and mem_map.
use super::*;

/// Where a zone-wide error is reported: the zone's first PFN.
fn zone_pfn(zone: &Zone) -> Pfn {
    zone.zone_start_pfn()
}

impl<'a> Node<'a> {
    /// Walks every free list and checks what the allocator promises: each block heads with
    /// PG_buddy, has the list's order, is aligned, lies in its zone, its pages are neither
    /// reserved nor allocated, and the counters match the lists. O(free blocks + mem_map).
    pub fn verify(&self) -> Result<(), (&'static str, Pfn)> {
        let pages = self.mem_map.pages();
        let mut pcp_blocks = 0;
        for (z, zone) in self.node_zones.iter().enumerate() {
            let (mut free, mut free_cma) = (0, 0);
            for (order, area) in zone.free_area.iter().enumerate() {
                let mut n = 0;
                for mt in 0..MIGRATE_TYPES {
                    let mut on_list = 0;
                    let mut idx = area.first(mt);
                    while let Some(i) = idx {
                        let pfn = self.mem_map.pfn_of(i);
                        let p = &pages[i as usize];
                        if !p.is_buddy() || p.order() as usize != order || p.free_mt() != mt {
                            return Err(("free list entry without PG_buddy of its order", pfn));
                        }
                        if pfn.0 & ((1 << order) - 1) != 0 {
                            return Err(("free block not aligned to its order", pfn));
                        }
                        if !zone.spans(pfn) || !zone.spans(Pfn(pfn.0 + (1 << order) - 1)) {
                            return Err(("free block outside its zone", pfn));
                        }
                        let block = &pages[i as usize..i as usize + (1 << order)];
                        if block
                            .iter()
                            .any(|q| q.zone as usize != z || q.is_reserved() || q.refcount != 0)
                        {
                            return Err(("free block holds a reserved or allocated page", pfn));
                        }
                        if block[1..].iter().any(|q| q.is_buddy()) {
                            return Err(("free block overlaps another", pfn));
                        }
                        // CMA pages never leave their pageblocks, nor others enter them.
                        let block_mt = self.get_pageblock_migratetype(pfn);
                        if (mt == MIGRATE_CMA) != (block_mt == MIGRATE_CMA) {
                            return Err(("CMA free list and CMA pageblock disagree", pfn));
                        }
                        on_list += 1;
                        if mt != MIGRATE_ISOLATE {
                            free += 1u64 << order;
                        }
                        if mt == MIGRATE_CMA {
                            free_cma += 1u64 << order;
                        }
                        idx = (p.lru_next != NIL).then_some(p.lru_next);
                    }
                    if on_list != area.nr_free_of(mt) {
                        return Err((
                            "a free list's count differs from its length",
                            zone_pfn(zone),
                        ));
                    }
                    n += on_list;
                }
                if n != area.nr_free {
                    return Err(("nr_free differs from the list length", zone.zone_start_pfn()));
                }
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
                for idx in zone.pcp.iter_list(pages, pindex) {
                    let pfn = self.mem_map.pfn_of(idx);
                    let p = &pages[idx as usize];
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
                    if !zone.spans(pfn) || !zone.spans(end) || p.zone as usize != z {
                        return Err(("pcp page outside its zone or reserved", pfn));
                    }
                    let block = &pages[idx as usize..idx as usize + (1 << order)];
                    if block.iter().any(|q| q.is_reserved() || q.refcount != 0) {
                        return Err(("pcp page outside its zone or reserved", pfn));
                    }
                    // The type it remembers: its list's, or CMA/HighAtomic on the movable one.
                    let mt = p.free_mt();
                    let on_movable = list_mt == MIGRATE_MOVABLE
                        && (mt == MIGRATE_CMA || mt == MIGRATE_HIGHATOMIC);
                    if mt != list_mt && !on_movable {
                        return Err(("pcp block on the list of another migrate type", pfn));
                    }
                    cached += 1u64 << order;
                    pcp_blocks += 1;
                }
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
        let marked = pages.iter().filter(|p| p.flags.contains(PageFlags::PG_pcp)).count() as u64;
        if marked != pcp_blocks {
            return Err(("a PG_pcp page is on no pcp list", self.mem_map.base_pfn()));
        }
        let buddies = pages.iter().filter(|p| p.is_buddy()).count() as u64;
        let listed: u64 =
            self.node_zones.iter().flat_map(|z| z.free_area.iter()).map(|a| a.nr_free).sum();
        if buddies != listed {
            return Err(("a PG_buddy page is on no list", self.mem_map.base_pfn()));
        }
        // Only the head of an allocated block has an owner.
        let unowned = PageFlags::PG_buddy | PageFlags::PG_pcp | PageFlags::PG_reserved;
        if let Some(i) = pages.iter().position(|p| {
            p.owner() != PageOwner::None && (p.flags.intersects(unowned) || p.refcount == 0)
        }) {
            return Err((
                "a page that is not an allocated head has an owner",
                self.mem_map.pfn_of(i as u32),
            ));
        }
        Ok(())
    }
}
