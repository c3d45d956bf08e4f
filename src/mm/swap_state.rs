//! The swap cache and swap read-ahead (6.1's mm/swap_state.c), the pure halves: the cache
//! maps swap entries to the pages that hold them (`swapper_spaces`, and `page->private` the
//! other way), and the read-ahead window 6.1 computes around a swap-in fault. On a
//! non-rotational area (the SD card) 6.1 uses the VMA-based read-ahead (`swap_vma_readahead`:
//! `swap_use_vma_readahead()` is true while no rotational area is on), so the window is the
//! fault's neighbouring PTEs in the VMA and page table, sized by `__swapin_nr_pages` from the
//! VMA's read-ahead hits, at most `1 << page-cluster` pages.
//!
//! The running swap (areas, I/O, the cache's lock) is `kernel::swap`; its swap-out API for
//! reclaim is documented there.
use alloc::collections::BTreeMap;

use super::mm_types::PAGE_SHIFT;
use super::swapops::SwpEntry;

/// One page in the swap cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedPage {
    pub pfn: u64,
    /// `PG_readahead`: read ahead and not yet found by a fault (a later hit counts
    /// `swap_ra_hit`).
    pub readahead: bool,
    /// Some PTE maps the page (its mapcount is above zero; further mappings are the
    /// kernel's shared-anon counts).
    pub mapped: bool,
}

/// The swap cache.
#[derive(Debug, Default)]
pub struct SwapCache {
    by_entry: BTreeMap<SwpEntry, CachedPage>,
    by_pfn: BTreeMap<u64, SwpEntry>,
}

impl SwapCache {
    pub const fn new() -> SwapCache {
        SwapCache { by_entry: BTreeMap::new(), by_pfn: BTreeMap::new() }
    }

    /// `add_to_swap_cache`: false if the entry or the page is already there.
    pub fn insert(&mut self, e: SwpEntry, page: CachedPage) -> bool {
        if self.by_entry.contains_key(&e) || self.by_pfn.contains_key(&page.pfn) {
            return false;
        }
        self.by_entry.insert(e, page);
        self.by_pfn.insert(page.pfn, e);
        true
    }

    pub fn get(&self, e: SwpEntry) -> Option<&CachedPage> {
        self.by_entry.get(&e)
    }

    pub fn get_mut(&mut self, e: SwpEntry) -> Option<&mut CachedPage> {
        self.by_entry.get_mut(&e)
    }

    /// `page_swap_entry`: the entry a cached page holds.
    pub fn entry_of(&self, pfn: u64) -> Option<SwpEntry> {
        self.by_pfn.get(&pfn).copied()
    }

    /// `__delete_from_swap_cache`: the page leaves the cache; its entry and state.
    pub fn remove_pfn(&mut self, pfn: u64) -> Option<(SwpEntry, CachedPage)> {
        let e = self.by_pfn.remove(&pfn)?;
        let p = self.by_entry.remove(&e)?;
        Some((e, p))
    }

    /// `total_swapcache_pages`.
    pub fn len(&self) -> usize {
        self.by_entry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entry.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SwpEntry, &CachedPage)> {
        self.by_entry.iter()
    }
}

/// `SWAP_RA_ORDER_CEILING` on 32-bit: the window is at most 8 pages whatever `page-cluster`.
pub const SWAP_RA_ORDER_CEILING: u32 = 3;
/// `SWAP_RA_WIN_SHIFT`, `SWAP_RA_HITS_MASK`: a VMA's `swap_readahead_info` packs the last
/// fault's page address, the window and the hits in one word.
const SWAP_RA_WIN_SHIFT: u32 = PAGE_SHIFT / 2;
const SWAP_RA_HITS_MASK: u32 = (1 << SWAP_RA_WIN_SHIFT) - 1;
const SWAP_RA_HITS_MAX: u32 = SWAP_RA_HITS_MASK;
const SWAP_RA_WIN_MASK: u32 = ((1 << PAGE_SHIFT) - 1) & !SWAP_RA_HITS_MASK;
const PAGE_MASK32: u32 = !((1 << PAGE_SHIFT) - 1);

/// `SWAP_RA_VAL(addr, win, hits)`.
pub const fn swap_ra_val(addr: u32, win: u32, hits: u32) -> u32 {
    (addr & PAGE_MASK32) | (win << SWAP_RA_WIN_SHIFT) | hits
}
const fn ra_addr(v: u32) -> u32 {
    v & PAGE_MASK32
}
const fn ra_win(v: u32) -> u32 {
    (v & SWAP_RA_WIN_MASK) >> SWAP_RA_WIN_SHIFT
}
const fn ra_hits(v: u32) -> u32 {
    v & SWAP_RA_HITS_MASK
}

/// `__swapin_nr_pages`: the read-ahead size from the hits since the last one (none and not
/// adjacent to the previous fault: one page), rounded up to a power of two from 4, at most
/// `max_pages`, never below half the previous window.
pub fn swapin_nr_pages(prev: u64, cur: u64, hits: u32, max_pages: u32, prev_win: u32) -> u32 {
    let mut pages = hits + 2;
    if pages == 2 {
        if cur != prev.wrapping_add(1) && cur != prev.wrapping_sub(1) {
            pages = 1;
        }
    } else {
        let mut roundup = 4;
        while roundup < pages {
            roundup <<= 1;
        }
        pages = roundup;
    }
    pages = pages.min(max_pages);
    pages.max(prev_win / 2)
}

/// `lookup_swap_cache`'s update of the VMA's read-ahead state on a hit: the fault's address,
/// and one more hit when the page found was read ahead.
pub fn ra_on_hit(ra_val: u32, addr: u32, readahead: bool) -> u32 {
    let mut hits = ra_hits(ra_val);
    if readahead {
        hits = (hits + 1).min(SWAP_RA_HITS_MAX);
    }
    swap_ra_val(addr, ra_win(ra_val), hits)
}

/// The PTE window `swap_ra_info` chooses for a fault at `faddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaWindow {
    /// The VMA's new `swap_readahead_info`.
    pub ra_val: u32,
    /// First page address and pages of the window (1: no read-ahead).
    pub start: usize,
    pub nr: usize,
}

/// `swap_ra_info`: the window's size from the VMA's previous fault and hits, its placement
/// (forward after a fault on the next page, backward after one on the previous, else
/// centred), clipped to the VMA and the page table (`PMD_SIZE`, 2 MiB on ARM).
pub fn swap_ra_info(
    ra_val: u32,
    faddr: usize,
    vm_start: usize,
    vm_end: usize,
    page_cluster: u32,
) -> RaWindow {
    const PMD_SIZE: usize = 2 << 20;
    let max_win = 1u32 << page_cluster.min(SWAP_RA_ORDER_CEILING);
    let fpfn = (faddr >> PAGE_SHIFT) as u64;
    if max_win == 1 {
        return RaWindow { ra_val, start: faddr & !((1 << PAGE_SHIFT) - 1), nr: 1 };
    }
    let pfn = u64::from(ra_addr(ra_val)) >> PAGE_SHIFT;
    let win = swapin_nr_pages(pfn, fpfn, ra_hits(ra_val), max_win, ra_win(ra_val));
    let new_val = swap_ra_val(faddr as u32, win, 0);
    if win == 1 {
        return RaWindow { ra_val: new_val, start: faddr & !((1 << PAGE_SHIFT) - 1), nr: 1 };
    }
    let win = u64::from(win);
    let (lpfn, rpfn) = if fpfn == pfn + 1 {
        (fpfn, fpfn + win)
    } else if pfn == fpfn + 1 {
        ((fpfn + 1).saturating_sub(win), fpfn + 1)
    } else {
        let left = (win - 1) / 2;
        (fpfn.saturating_sub(left), fpfn + win - left)
    };
    let pmd = (faddr & !(PMD_SIZE - 1)) as u64;
    let start = lpfn.max((vm_start >> PAGE_SHIFT) as u64).max(pmd >> PAGE_SHIFT);
    let end = rpfn.min((vm_end >> PAGE_SHIFT) as u64).min((pmd + PMD_SIZE as u64) >> PAGE_SHIFT);
    RaWindow { ra_val: new_val, start: (start << PAGE_SHIFT) as usize, nr: (end - start) as usize }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nr_pages_grow_with_hits_and_shrink_slowly() {
        // No hits, not adjacent: one page; adjacent: two.
        assert_eq!(swapin_nr_pages(10, 50, 0, 8, 0), 1);
        assert_eq!(swapin_nr_pages(10, 11, 0, 8, 0), 2);
        assert_eq!(swapin_nr_pages(10, 50, 1, 8, 0), 4);
        assert_eq!(swapin_nr_pages(10, 50, 7, 8, 0), 8);
        assert_eq!(swapin_nr_pages(10, 50, 0, 8, 8), 4);
        assert_eq!(swapin_nr_pages(10, 50, 7, 1, 0), 1);
    }

    #[test]
    fn sequential_faults_read_ahead_forward() {
        let (start, end) = (0x10_0000, 0x20_0000);
        // First fault: nothing known, one page.
        let w = swap_ra_info(0, start, start, end, 3);
        assert_eq!((w.start, w.nr), (start, 1));
        // The next page: adjacent, a window of 2 forward.
        let w2 = swap_ra_info(w.ra_val, start + 0x1000, start, end, 3);
        assert_eq!((w2.start, w2.nr), (start + 0x1000, 2));
        // Hits on read-ahead pages grow it to 8, forward.
        let mut v = w2.ra_val;
        for i in 2..4 {
            v = ra_on_hit(v, (start + i * 0x1000) as u32, true);
        }
        let w3 = swap_ra_info(v, start + 0x4000, start, end, 3);
        assert_eq!((w3.start, w3.nr), (start + 0x4000, 4));
        // page-cluster 0: never more than the faulting page.
        assert_eq!(swap_ra_info(v, start + 0x4000, start, end, 0).nr, 1);
    }

    #[test]
    fn windows_stay_in_the_vma_and_page_table() {
        let v = swap_ra_val(0x1000_0000, 8, 6);
        let w = swap_ra_info(v, 0x2000_0000, 0x2000_0000, 0x2000_2000, 3);
        assert_eq!((w.start, w.nr), (0x2000_0000, 2));
    }

    #[test]
    fn the_cache_maps_both_ways() {
        let mut c = SwapCache::new();
        let e = SwpEntry::new(0, 5);
        assert!(c.insert(e, CachedPage { pfn: 9, readahead: false, mapped: true }));
        assert!(!c.insert(e, CachedPage { pfn: 10, readahead: false, mapped: true }));
        assert_eq!(c.entry_of(9), Some(e));
        assert_eq!(c.remove_pfn(9).map(|x| x.0), Some(e));
        assert!(c.is_empty());
    }
}
