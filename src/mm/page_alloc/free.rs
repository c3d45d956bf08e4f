//! The free path: `free_pages`, merging with free buddies (`__free_one_page`), and the
//! slab's page marks.
use super::*;

impl<'a> Node<'a> {
    /// `__free_pages()` by PFN: returns the block to the buddy lists, merging it with its
    /// free buddies. Double frees, frees of reserved, slab or tail pages, of a block with the
    /// wrong order or a misaligned or unknown PFN are refused and change nothing.
    #[inline]
    pub fn free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        self.free_pages_for(PageOwner::Kernel, pfn, order)
    }

    /// `free_pages()` by the owner that allocated the block (`alloc_pages_for`): a block
    /// another owner holds is refused like any other bad free.
    #[inline]
    pub fn free_pages_for(
        &mut self,
        owner: PageOwner,
        pfn: Pfn,
        order: u32,
    ) -> Result<(), FreeError> {
        let Some(idx) = self.allocated_head(pfn, order, owner) else {
            return Err(self.free_refused(pfn, order, owner));
        };
        let head = &mut self.mem_map.pages_mut()[idx as usize];
        let z = head.zone_idx() as usize;
        let compound = head.flags.contains(PageFlags::PG_head);
        head.refcount = 0;
        // __count_vm_events(PGFREE, 1 << order).
        self.node_zones[z].pgfree += 1 << order;
        if compound || self.page_poisoning {
            self.free_pages_prepare_extra(idx, pfn, order);
        }
        // The owner and order go with the flags the next step writes (`free_unref_page`,
        // `free_to_buddy`).
        if self.pcp_allowed_order(order) && self.node_zones[z].pcp.enabled() {
            self.free_unref_page(pfn.0, idx, z, order);
        } else {
            let mt = self.get_pageblock_migratetype(pfn);
            self.free_to_buddy(pfn.0, idx, order, z, mt, mt != MIGRATE_ISOLATE);
        }
        Ok(())
    }

    /// The end of a free that goes to the buddy lists: the head's owner and order cleared
    /// (one write of its flags), the zone's free counters raised when `counted` (not for an
    /// isolated pageblock), and the block merged onto the lists of `mt`.
    #[inline(always)]
    pub(super) fn free_to_buddy(
        &mut self,
        pfn: u64,
        idx: u32,
        order: u32,
        z: usize,
        mt: usize,
        counted: bool,
    ) {
        let head = &mut self.mem_map.pages_mut()[idx as usize];
        head.update_flags(
            PageFlags::PG_owner | PageFlags::PG_free_mt | PageFlags::PG_dcache_clean,
            free_mt_flags(mt),
        );
        head.order = 0;
        if counted {
            self.node_zones[z].mod_freepage_state(1 << order, mt);
        }
        self.__free_one_page(pfn, order, z, mt, false);
    }

    /// What `free_pages` reports when `allocated_head` refused the block.
    #[cold]
    #[inline(never)]
    pub(super) fn free_refused(&self, pfn: Pfn, order: u32, owner: PageOwner) -> FreeError {
        self.check_allocated_head(pfn, order, owner).err().unwrap_or(self.bad_page(
            pfn,
            order,
            BadPageReason::NotAllocated,
        ))
    }

    /// The part of `free_pages_prepare()` only some blocks need: a compound block's tail
    /// marks come off, and with page poisoning every page is filled and marked.
    #[cold]
    #[inline(never)]
    pub(super) fn free_pages_prepare_extra(&mut self, idx: u32, pfn: Pfn, order: u32) {
        let nr = 1usize << order;
        let pages = self.mem_map.pages_mut();
        if pages[idx as usize].flags.contains(PageFlags::PG_head) {
            pages[idx as usize].flags.remove(PageFlags::PG_head);
            Self::set_tails(pages, idx, nr, false);
        }
        if self.page_poisoning {
            // Only a page that really holds the poison is checked when it comes back.
            for (i, p) in pages[idx as usize..idx as usize + nr].iter_mut().enumerate() {
                if self.memory.poison(Pfn(pfn.0 + i as u64)).is_ok() {
                    p.flags.insert(PageFlags::PG_poisoned);
                }
            }
        }
    }

    /// Linux's name for freeing by page.
    pub fn __free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        self.free_pages(pfn, order)
    }

    /// `free_pages(addr, order)`: frees a block by its linear-map address (from
    /// `__get_free_pages`). Address 0 is ignored, as in Linux.
    pub fn free_pages_addr(&mut self, addr: VirtAddr, order: u32) -> Result<(), FreeError> {
        self.free_pages_addr_for(PageOwner::Kernel, addr, order)
    }

    /// `free_pages(addr, order)` by the owner that allocated the block.
    pub fn free_pages_addr_for(
        &mut self,
        owner: PageOwner,
        addr: VirtAddr,
        order: u32,
    ) -> Result<(), FreeError> {
        if addr.0 == 0 {
            return Ok(());
        }
        let pfn = self.virt_to_pfn(addr).ok_or(FreeError {
            pfn: Pfn(0),
            order,
            reason: BadPageReason::BadAddress(addr),
            page: None,
            compound_order: None,
        })?;
        if !addr.as_u64().is_multiple_of(PAGE_SIZE) {
            return Err(self.bad_page(pfn, order, BadPageReason::MisalignedAddress(addr)));
        }
        self.free_pages_for(owner, pfn, order)
    }

    /// `is_free_buddy_page()`: whether `pfn` lies in a free block (it or an aligned page
    /// below it heads a free block that covers it). At most MAX_ORDER lookups.
    pub fn is_free_buddy_page(&self, pfn: Pfn) -> bool {
        (0..MAX_ORDER as u32).any(|order| {
            let head = Pfn(pfn.0 & !((1u64 << order) - 1));
            self.mem_map.pfn_to_page(head).is_some_and(|p| p.is_buddy() && p.order() >= order)
        })
    }

    /// `__free_one_page()`: merges the block with its buddy while the buddy is free and of
    /// the same order, then puts the result on its list (at the tail when
    /// `buddy_merge_likely`, or when `to_tail`). Counters other than `nr_free` are the
    /// caller's. The block goes to the lists of `mt`: its pageblock's type, or for a page
    /// coming back from a pcp list that list's type, as in Linux (merges stay inside one
    /// pageblock, since MAX_ORDER - 1 is the pageblock order).
    #[inline(always)]
    pub(super) fn __free_one_page(
        &mut self,
        pfn: u64,
        order: u32,
        z: usize,
        mt: usize,
        to_tail: bool,
    ) {
        let idx = pfn.wrapping_sub(self.mem_map.base_pfn().0) as u32;
        self.__free_one_page_idx(idx, order, z, mt, to_tail);
    }

    /// `__free_one_page()` of the block at mem_map index `idx`, out of line for the rarer
    /// callers.
    #[inline(never)]
    pub(super) fn __free_one_page_idx(
        &mut self,
        idx: u32,
        order: u32,
        z: usize,
        mt: usize,
        to_tail: bool,
    ) {
        self.__free_one_page_inline(idx, order, z, mt, to_tail);
    }

    /// `__free_one_page()` of the block at mem_map index `idx`, inline where a loop frees
    /// many (`free_pcppages_bulk`). The buddy arithmetic runs on 32-bit keys (`BuddyKey`),
    /// which a 32-bit CPU handles in single instructions where the 64-bit PFNs took pairs;
    /// the blocks found and merged are the PFN arithmetic's.
    #[inline(always)]
    pub(super) fn __free_one_page_inline(
        &mut self,
        idx: u32,
        mut order: u32,
        z: usize,
        mt: usize,
        to_tail: bool,
    ) {
        let keys = BuddyKey::of(self.mem_map.base_pfn().0);
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        let mut key = keys.key(idx);
        let mut buddy_key = None;
        while (order as usize) < MAX_ORDER - 1 {
            let b = key ^ (1 << order);
            buddy_key = Some(b);
            let Some(bidx) = page_is_buddy_idx(pages, keys.idx(b), order, z) else { break };
            zone.free_area[order as usize].del(pages, bidx);
            // Inside the merged block the buddy is a plain page: no list, no type.
            let bp = &mut pages[bidx as usize];
            bp.update_flags(PageFlags::PG_buddy | PageFlags::PG_free_mt, PageFlags::empty());
            bp.order = 0;
            key &= b;
            order += 1;
        }
        let to_tail = to_tail
            || buddy_key.is_some_and(|b| {
                (order as usize) < MAX_ORDER.saturating_sub(2) && {
                    // `buddy_merge_likely()`: the next-larger block's buddy is free.
                    let higher = (key & b) ^ (1 << (order + 1));
                    page_is_buddy_idx(pages, keys.idx(higher), order + 1, z).is_some()
                }
            });
        zone.free_area[order as usize].add_block(pages, keys.idx(key), order, mt, to_tail);
    }

    /// `__SetPageSlab` for a block the slab allocator took with `alloc_pages(.., order)`:
    /// marks the head `PG_slab` and every other page a tail pointing at it, so that
    /// `compound_head` finds the slab from any address in it. The block must be allocated
    /// with that order; `clear_slab` undoes it before the free.
    pub fn set_slab(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        let idx = self.check_allocated_head(pfn, order, PageOwner::Slab)?;
        let pages = self.mem_map.pages_mut();
        pages[idx as usize].flags.insert(PageFlags::PG_slab);
        if !pages[idx as usize].flags.contains(PageFlags::PG_head) {
            Self::set_tails(pages, idx, 1 << order, true);
        }
        Ok(())
    }

    /// `__ClearPageSlab`: the slab gives the block back (then frees it with `free_pages`).
    pub fn clear_slab(&mut self, pfn: Pfn) -> Result<(), FreeError> {
        let Some(idx) = self.mem_map.index(pfn) else {
            return Err(self.bad_page(pfn, 0, BadPageReason::OutOfRange));
        };
        let page = self.mem_map.pages()[idx as usize];
        if !page.is_slab() || page.compound_head_index().is_some() {
            return Err(self.bad_page(pfn, 0, BadPageReason::NotSlab));
        }
        let pages = self.mem_map.pages_mut();
        pages[idx as usize].flags.remove(PageFlags::PG_slab);
        if !page.flags.contains(PageFlags::PG_head) {
            Self::set_tails(pages, idx, 1 << page.order(), false);
        }
        Ok(())
    }

    /// `compound_head()`: the first page of the compound or slab block `pfn` is in (itself
    /// if it is no tail page). `None` outside mem_map.
    pub fn compound_head(&self, pfn: Pfn) -> Option<Pfn> {
        let page = self.mem_map.pfn_to_page(pfn)?;
        Some(page.compound_head_index().map_or(pfn, |h| self.mem_map.pfn_of(h)))
    }
}

/// `page_is_buddy()` by mem_map index: the page at `idx` (if mem_map has it) heads a free
/// block of `order` in zone `z`.
#[inline(always)]
fn page_is_buddy_idx(pages: &[Page], idx: u32, order: u32, z: usize) -> Option<u32> {
    let p = pages.get(idx as usize)?;
    (p.is_buddy() && p.order() == order && p.zone_idx() as usize == z).then_some(idx)
}

/// A block's PFN as the buddy arithmetic needs it, in 32 bits: its mem_map index plus the
/// offset of mem_map's first PFN inside a `MAX_ORDER - 1` block. The key and the PFN differ by
/// a multiple of that block size, so flipping or masking any bit below it (`pfn ^ (1 <<
/// order)`, `pfn & buddy_pfn`) gives the same result in either; a key whose index falls
/// outside mem_map (below its start: the subtraction wraps) names no page.
#[derive(Clone, Copy)]
struct BuddyKey {
    off: u32,
}

impl BuddyKey {
    #[inline(always)]
    fn of(base_pfn: u64) -> BuddyKey {
        BuddyKey { off: (base_pfn & ((1 << (MAX_ORDER - 1)) - 1)) as u32 }
    }

    #[inline(always)]
    fn key(self, idx: u32) -> u32 {
        idx.wrapping_add(self.off)
    }

    #[inline(always)]
    fn idx(self, key: u32) -> u32 {
        key.wrapping_sub(self.off)
    }
}

/// `__find_buddy_pfn()`: the other half of the order-`order + 1` block `pfn` is in.
pub const fn __find_buddy_pfn(pfn: u64, order: u32) -> u64 {
    pfn ^ (1 << order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 32-bit buddy keys find the same buddy, merged block and next-larger buddy as the
    /// PFN arithmetic, for mem_maps starting anywhere in a `MAX_ORDER - 1` block (and below
    /// the first page: the key's index wraps past any mem_map's end).
    #[test]
    fn buddy_keys_agree_with_pfn_arithmetic() {
        let block = 1u64 << (MAX_ORDER - 1);
        for base in [0, 1, 3, block / 2 + 5, block - 1, 7 * block + 13, (1 << 20) + 2047] {
            let keys = BuddyKey::of(base);
            for idx in (0u32..4 * block as u32).step_by(7) {
                let pfn = base + u64::from(idx);
                for order in 0..MAX_ORDER as u32 - 1 {
                    let buddy = __find_buddy_pfn(pfn, order);
                    let b = keys.key(idx) ^ (1 << order);
                    let want = buddy.checked_sub(base).filter(|i| *i < u64::from(u32::MAX));
                    assert_eq!(want.map(|i| i as u32), (buddy >= base).then(|| keys.idx(b)));
                    if buddy >= base {
                        assert_eq!(u64::from(keys.idx(keys.key(idx) & b)), (pfn & buddy) - base);
                    } else {
                        // Below mem_map: the index is far past any mem_map's length.
                        assert!(keys.idx(b) > u32::MAX - (block as u32));
                    }
                }
            }
        }
    }
}
