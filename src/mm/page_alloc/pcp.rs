//! The per-CPU page lists (`struct per_cpu_pages`): refilled from and drained to the buddy
//! lists in batches, as 6.1's `rmqueue_pcplist`, `free_unref_page` and `free_pcppages_bulk`.
use super::*;

impl<'a> Node<'a> {
    /// `rmqueue_pcplist()`: an order-0 page from the CPU's list of type `mt`, refilled with
    /// a batch from the buddy lists when empty.
    #[inline]
    pub(super) fn rmqueue_pcplist(&mut self, z: usize, mt: usize) -> Option<u32> {
        let pages = self.mem_map.pages_mut();
        let pcp = &mut self.node_zones[z].pcp;
        // Every allocation halves how many pages the next bulk free gives back.
        pcp.free_factor >>= 1;
        let idx = match pcp.lists.pop_first(pages, mt) {
            Some(idx) => idx,
            None => {
                self.rmqueue_bulk(z, mt);
                let pages = self.mem_map.pages_mut();
                self.node_zones[z].pcp.lists.pop_first(pages, mt)?
            }
        };
        self.mem_map.pages_mut()[idx as usize].flags.remove(PageFlags::PG_pcp);
        Some(idx)
    }

    /// `rmqueue_bulk()`: up to `batch` order-0 pages from the buddy lists (stealing from
    /// other types as `__rmqueue` does) onto the pcp list of `mt`, in the order they came.
    #[inline(never)]
    pub(super) fn rmqueue_bulk(&mut self, z: usize, mt: usize) {
        for _ in 0..self.node_zones[z].pcp.batch {
            let Some(idx) = self.__rmqueue(z, 0, mt) else { break };
            let pages = self.mem_map.pages_mut();
            let zone = &mut self.node_zones[z];
            zone.nr_free_pages -= 1;
            pages[idx as usize].flags.insert(PageFlags::PG_pcp);
            zone.pcp.lists.add(pages, idx, mt, true);
        }
    }

    /// `free_pcppages_bulk()` (6.1): gives `count` cached pages back to the buddy lists,
    /// the coldest (the list tails) first, emptying one list before going round to the next,
    /// starting with list `pindex`.
    #[inline(never)]
    pub(super) fn free_pcppages_bulk(&mut self, z: usize, count: u64, mut pindex: usize) {
        let mut count = count.min(self.node_zones[z].pcp.count());
        while count > 0 {
            while self.node_zones[z].pcp.lists.last(pindex).is_none() {
                pindex = (pindex + 1) % MIGRATE_TYPES;
            }
            while count > 0 {
                let pages = self.mem_map.pages_mut();
                let Some(idx) = self.node_zones[z].pcp.lists.pop_last(pages, pindex) else {
                    break;
                };
                pages[idx as usize].flags.remove(PageFlags::PG_pcp);
                count -= 1;
                self.node_zones[z].nr_free_pages += 1;
                let pfn = self.mem_map.pfn_of(idx).0;
                self.__free_one_page(pfn, 0, z, pindex, false);
            }
        }
    }

    /// `drain_all_pages()`: every zone's cached pages back to the buddy lists. Returns how
    /// many moved.
    pub fn drain_all_pages(&mut self) -> u64 {
        let mut moved = 0;
        for z in 0..MAX_NR_ZONES {
            let count = self.node_zones[z].pcp.count();
            self.free_pcppages_bulk(z, count, 0);
            moved += count;
        }
        moved
    }

    /// Pages on the pcp lists of all zones (`free_pcp`).
    pub fn nr_pcp_pages(&self) -> u64 {
        self.node_zones.iter().map(|z| z.pcp.count()).sum()
    }

    /// `free_unref_page()`: an order-0 page goes to the head of the CPU's list of its
    /// pageblock's type (hot: the next allocation reuses it); past `high`, a batch goes back.
    #[inline]
    pub(super) fn free_unref_page(&mut self, pfn: u64, idx: u32, z: usize) {
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
        let pages = self.mem_map.pages_mut();
        let pcp = &mut self.node_zones[z].pcp;
        pages[idx as usize].flags.insert(PageFlags::PG_pcp);
        pcp.lists.add(pages, idx, mt, false);
        if pcp.count() >= pcp.high {
            let count = pcp.nr_pcp_free();
            self.free_pcppages_bulk(z, count, mt);
        }
    }
}
