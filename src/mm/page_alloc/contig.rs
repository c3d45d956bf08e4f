//! Physically contiguous ranges of a caller's choosing (Linux's `alloc_contig_range` and
//! `free_contig_range`), which `cma_alloc` uses to take pages of the CMA area. pivm cannot
//! migrate pages: where Linux would move a page in use out of the way, the range is busy.
use super::*;

/// Why `alloc_contig_range` took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContigError {
    /// `-EINVAL`: an empty range, or one outside mem_map or across zones.
    Invalid { start: Pfn, end: Pfn },
    /// `-EBUSY`: a page of the range is in use (Linux would migrate it; pivm cannot).
    Busy { pfn: Pfn },
}

impl ContigError {
    /// The errno Linux's `cma_alloc` reports (`ret: %d`).
    pub const fn errno(&self) -> i32 {
        match self {
            ContigError::Invalid { .. } => -22,
            ContigError::Busy { .. } => -16,
        }
    }
}

impl fmt::Display for ContigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ContigError::Invalid { start, end } => {
                write!(f, "pfns {:#x}-{:#x} are not one zone's memory", start.0, end.0)
            }
            ContigError::Busy { pfn } => {
                write!(f, "pfn {:#x} is in use (pivm does not migrate pages out of the way)", pfn.0)
            }
        }
    }
}

impl<'a> Node<'a> {
    /// The free block `pfn` lies in: its head's mem_map index and order.
    fn free_block_of(&self, pfn: Pfn) -> Option<(u32, u32)> {
        (0..MAX_ORDER as u32).find_map(|order| {
            let head = Pfn(pfn.0 & !((1u64 << order) - 1));
            let idx = self.mem_map.index(head)?;
            let p = &self.mem_map.pages()[idx as usize];
            (p.is_buddy() && p.order() >= order).then_some((idx, p.order()))
        })
    }

    /// `alloc_contig_range(start, end)` without migration: the per-CPU lists are drained (as
    /// 6.1 does first), then every page of `[start, end)` must be free; the free blocks that
    /// cover the range leave the buddy lists, their parts outside the range go back, and each
    /// page of the range becomes an allocated order-0 page of `owner`. A page in use fails
    /// the call and nothing is taken.
    pub fn alloc_contig_range(
        &mut self,
        start: Pfn,
        end: Pfn,
        owner: PageOwner,
    ) -> Result<(), ContigError> {
        let invalid = ContigError::Invalid { start, end };
        if start.0 >= end.0
            || !self.mem_map.contains(start)
            || !self.mem_map.contains(Pfn(end.0 - 1))
        {
            return Err(invalid);
        }
        let z = self.mem_map.pages()[self.mem_map.index(start).ok_or(invalid)? as usize].zone_idx();
        if z == NO_ZONE || !self.node_zones[z as usize].spans(Pfn(end.0 - 1)) {
            return Err(invalid);
        }
        let z = z as usize;
        self.drain_zone_pages(z);
        if let Some(pfn) = (start.0..end.0).map(Pfn).find(|&p| self.free_block_of(p).is_none()) {
            return Err(ContigError::Busy { pfn });
        }
        let mut pfn = start.0;
        while pfn < end.0 {
            let (idx, order) = self.free_block_of(Pfn(pfn)).ok_or(invalid)?;
            let head = self.mem_map.pfn_of(idx).0;
            let block_end = head + (1 << order);
            let pages = self.mem_map.pages_mut();
            let mt = pages[idx as usize].free_mt();
            let zone = &mut self.node_zones[z];
            zone.free_area[order as usize].del(pages, idx);
            let p = &mut pages[idx as usize];
            p.flags.remove(PageFlags::PG_buddy);
            p.order = 0;
            zone.mod_freepage_state(-(1i64 << order), mt);
            // The parts of the block outside the range go back to the buddy lists.
            self.free_range_to_buddy(head, start.0.max(head), z);
            self.free_range_to_buddy(end.0.min(block_end), block_end, z);
            pfn = block_end;
        }
        for pfn in start.0..end.0 {
            let idx = (pfn - self.mem_map.base_pfn().0) as u32;
            if self.prep_new_page(idx, 0, GfpFlags::GFP_KERNEL, owner, MIGRATE_MOVABLE) {
                // Page poisoning's check (nothing to zero, so it cannot fail).
                let _ = self.prep_new_page_extra(idx, 0, GfpFlags::GFP_KERNEL);
            }
        }
        Ok(())
    }

    /// Free pages `[start, end)` (not on any list) to the buddy lists in maximal aligned
    /// blocks, each to its pageblock's type.
    fn free_range_to_buddy(&mut self, mut start: u64, end: u64, z: usize) {
        while start < end {
            let mut order = (start.trailing_zeros() as usize).min(MAX_ORDER - 1) as u32;
            while start + (1 << order) > end {
                order -= 1;
            }
            let mt = self.get_pageblock_migratetype(Pfn(start));
            self.node_zones[z].mod_freepage_state(1 << order, mt);
            self.__free_one_page(start, order, z, mt, false);
            start += 1 << order;
        }
    }

    /// `free_contig_range(pfn, nr_pages)`: frees `nr_pages` order-0 pages of `owner` one by
    /// one, as `__free_page` does. Every page must be such a page; otherwise nothing is freed
    /// and the first bad one is reported.
    pub fn free_contig_range(
        &mut self,
        pfn: Pfn,
        nr_pages: u64,
        owner: PageOwner,
    ) -> Result<(), FreeError> {
        let end =
            pfn.0.checked_add(nr_pages).ok_or(self.bad_page(pfn, 0, BadPageReason::OutOfRange))?;
        for p in pfn.0..end {
            self.check_allocated_head(Pfn(p), 0, owner)?;
        }
        for p in pfn.0..end {
            self.free_pages_for(owner, Pfn(p), 0)?;
        }
        Ok(())
    }
}
