//! `verify()`: the allocator's invariants, checked by walking every list and mem_map.
use super::*;

impl<'a> Node<'a> {
    /// Walks every free list and checks what the allocator promises: each block heads with
    /// PG_buddy, has the list's order, is aligned, lies in its zone, its pages are neither
    /// reserved nor allocated, and the counters match the lists. O(free blocks + mem_map).
    pub fn verify(&self) -> Result<(), (&'static str, Pfn)> {
        let pages = self.mem_map.pages();
        for (z, zone) in self.node_zones.iter().enumerate() {
            let mut free = 0;
            for (order, area) in zone.free_area.iter().enumerate() {
                let mut n = 0;
                for idx in area.iter(pages) {
                    let pfn = self.mem_map.pfn_of(idx);
                    let p = &pages[idx as usize];
                    if !p.is_buddy() || p.order() as usize != order {
                        return Err(("free list entry without PG_buddy of its order", pfn));
                    }
                    if pfn.0 & ((1 << order) - 1) != 0 {
                        return Err(("free block not aligned to its order", pfn));
                    }
                    if !zone.spans(pfn) || !zone.spans(Pfn(pfn.0 + (1 << order) - 1)) {
                        return Err(("free block outside its zone", pfn));
                    }
                    let block = &pages[idx as usize..idx as usize + (1 << order)];
                    if block
                        .iter()
                        .any(|q| q.zone as usize != z || q.is_reserved() || q.refcount != 0)
                    {
                        return Err(("free block holds a reserved or allocated page", pfn));
                    }
                    if block[1..].iter().any(|q| q.is_buddy()) {
                        return Err(("free block overlaps another", pfn));
                    }
                    n += 1;
                    free += 1u64 << order;
                }
                if n != area.nr_free {
                    return Err(("nr_free differs from the list length", zone.zone_start_pfn()));
                }
            }
            if free != zone.nr_free_pages {
                return Err(("NR_FREE_PAGES differs from the lists", zone.zone_start_pfn()));
            }
            let mut cached = 0;
            for idx in zone.pcp.lists.iter(pages) {
                let pfn = self.mem_map.pfn_of(idx);
                let p = &pages[idx as usize];
                if !p.flags.contains(PageFlags::PG_pcp) || p.is_buddy() || p.refcount != 0 {
                    return Err(("pcp list entry not marked cached, or in use", pfn));
                }
                if !zone.spans(pfn) || p.zone as usize != z || p.is_reserved() {
                    return Err(("pcp page outside its zone or reserved", pfn));
                }
                cached += 1;
            }
            if cached != zone.pcp.count() {
                return Err(("pcp count differs from its lists", zone.zone_start_pfn()));
            }
        }
        let marked = pages.iter().filter(|p| p.flags.contains(PageFlags::PG_pcp)).count() as u64;
        if marked != self.nr_pcp_pages() {
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
