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
use alloc::boxed::Box;
use alloc::vec::Vec;

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

/// Bits of a key that index one leaf of a [`Radix`]: 256 values, a 1 KiB leaf.
const RADIX_LEAF_SHIFT: u32 = 8;
const RADIX_LEAF: usize = 1 << RADIX_LEAF_SHIFT;

/// A sparse array of non-zero `u32` values by `u32` key (0 reads as empty): a two-level radix
/// tree whose leaves are allocated when a key in them is first set and freed when their last
/// value goes, so a lookup is two indexings where a search tree compares its way down. It
/// plays the part of the xarray Linux keeps the swap cache in.
#[derive(Debug, Default)]
struct Radix {
    leaves: Vec<Option<Box<[u32]>>>,
    /// Values set in each leaf.
    used: Vec<u16>,
}

impl Radix {
    const fn new() -> Radix {
        Radix { leaves: Vec::new(), used: Vec::new() }
    }

    const fn split(key: u32) -> (usize, usize) {
        ((key >> RADIX_LEAF_SHIFT) as usize, key as usize & (RADIX_LEAF - 1))
    }

    fn get(&self, key: u32) -> u32 {
        let (l, i) = Self::split(key);
        match self.leaves.get(l) {
            Some(Some(leaf)) => leaf[i],
            _ => 0,
        }
    }

    /// Sets `key` to `v` (not 0); false, with nothing changed, when memory for the leaf or
    /// the leaf table could not be had (an allocation under memory pressure fails softly).
    fn set(&mut self, key: u32, v: u32) -> bool {
        debug_assert_ne!(v, 0);
        let (l, i) = Self::split(key);
        if l >= self.leaves.len() {
            let more = l + 1 - self.leaves.len();
            if self.leaves.try_reserve(more).is_err() || self.used.try_reserve(more).is_err() {
                return false;
            }
            self.leaves.resize_with(l + 1, || None);
            self.used.resize(l + 1, 0);
        }
        if self.leaves[l].is_none() {
            let mut leaf = Vec::new();
            if leaf.try_reserve_exact(RADIX_LEAF).is_err() {
                return false;
            }
            leaf.resize(RADIX_LEAF, 0);
            self.leaves[l] = Some(leaf.into_boxed_slice());
        }
        let leaf = self.leaves[l].as_mut().expect("just made");
        if leaf[i] == 0 {
            self.used[l] += 1;
        }
        leaf[i] = v;
        true
    }

    /// Overwrites the value of a key that has one (no allocation).
    fn replace(&mut self, key: u32, v: u32) {
        debug_assert_ne!(v, 0);
        let (l, i) = Self::split(key);
        if let Some(Some(leaf)) = self.leaves.get_mut(l) {
            debug_assert_ne!(leaf[i], 0);
            leaf[i] = v;
        }
    }

    /// Empties `key`; its old value (0 if it had none). An emptied leaf is freed.
    fn clear(&mut self, key: u32) -> u32 {
        let (l, i) = Self::split(key);
        let Some(Some(leaf)) = self.leaves.get_mut(l) else { return 0 };
        let old = core::mem::replace(&mut leaf[i], 0);
        if old != 0 {
            self.used[l] -= 1;
            if self.used[l] == 0 {
                self.leaves[l] = None;
            }
        }
        old
    }

    /// The set keys and their values, in key order.
    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.leaves.iter().enumerate().flat_map(|(l, leaf)| {
            leaf.iter().flat_map(move |leaf| {
                leaf.iter()
                    .enumerate()
                    .filter(|(_, &v)| v != 0)
                    .map(move |(i, &v)| (((l as u32) << RADIX_LEAF_SHIFT) | i as u32, v))
            })
        })
    }
}

/// A cached page's word in the entry index: its frame and `PG_readahead`/mapped bits.
const CP_PRESENT: u32 = 1 << 29;
const CP_READAHEAD: u32 = 1 << 30;
const CP_MAPPED: u32 = 1 << 31;
const CP_PFN_MASK: u32 = CP_PRESENT - 1;

const fn pack(c: &CachedPage) -> u32 {
    (c.pfn as u32 & CP_PFN_MASK)
        | CP_PRESENT
        | if c.readahead { CP_READAHEAD } else { 0 }
        | if c.mapped { CP_MAPPED } else { 0 }
}

const fn unpack(v: u32) -> CachedPage {
    CachedPage {
        pfn: (v & CP_PFN_MASK) as u64,
        readahead: v & CP_READAHEAD != 0,
        mapped: v & CP_MAPPED != 0,
    }
}

/// The swap cache: each area's slots to the pages that hold them (6.1's `swapper_spaces`,
/// an xarray per 64 MiB of an area), and each cached frame to its entry (Linux's
/// `folio->swap` of a `PG_swapcache` page). Both are [`Radix`] arrays, so every look-up is
/// a pair of indexings whatever the swap in use.
#[derive(Debug, Default)]
pub struct SwapCache {
    /// By area type: slot offset -> the packed [`CachedPage`].
    by_entry: Vec<Radix>,
    /// Frame -> the entry's value + 1.
    by_pfn: Radix,
    len: usize,
}

impl SwapCache {
    pub const fn new() -> SwapCache {
        SwapCache { by_entry: Vec::new(), by_pfn: Radix::new(), len: 0 }
    }

    /// `add_to_swap_cache`: false if the entry or the page is already there, or when memory
    /// for the index ran out (then nothing changed).
    pub fn insert(&mut self, e: SwpEntry, page: CachedPage) -> bool {
        let ty = e.swp_type() as usize;
        if page.pfn > u64::from(CP_PFN_MASK) || e.0 == u32::MAX {
            return false;
        }
        if self.get(e).is_some() || self.by_pfn.get(page.pfn as u32) != 0 {
            return false;
        }
        if ty >= self.by_entry.len() {
            if self.by_entry.try_reserve(ty + 1 - self.by_entry.len()).is_err() {
                return false;
            }
            self.by_entry.resize_with(ty + 1, Radix::new);
        }
        if !self.by_pfn.set(page.pfn as u32, e.0 + 1) {
            return false;
        }
        if !self.by_entry[ty].set(e.offset(), pack(&page)) {
            self.by_pfn.clear(page.pfn as u32);
            return false;
        }
        self.len += 1;
        true
    }

    pub fn get(&self, e: SwpEntry) -> Option<CachedPage> {
        let v = self.by_entry.get(e.swp_type() as usize)?.get(e.offset());
        (v != 0).then(|| unpack(v))
    }

    /// Changes the flags of `e`'s cached page with `f`; `f`'s result, None when `e` is not
    /// cached. The frame stays.
    pub fn update<R>(&mut self, e: SwpEntry, f: impl FnOnce(&mut CachedPage) -> R) -> Option<R> {
        let mut c = self.get(e)?;
        let pfn = c.pfn;
        let r = f(&mut c);
        c.pfn = pfn;
        self.by_entry[e.swp_type() as usize].replace(e.offset(), pack(&c));
        Some(r)
    }

    /// `page_swap_entry`: the entry a cached page holds.
    pub fn entry_of(&self, pfn: u64) -> Option<SwpEntry> {
        if pfn > u64::from(CP_PFN_MASK) {
            return None;
        }
        let v = self.by_pfn.get(pfn as u32);
        (v != 0).then(|| SwpEntry(v - 1))
    }

    /// `__delete_from_swap_cache`: the page leaves the cache; its entry and state.
    pub fn remove_pfn(&mut self, pfn: u64) -> Option<(SwpEntry, CachedPage)> {
        let e = self.entry_of(pfn)?;
        self.by_pfn.clear(pfn as u32);
        let v = self.by_entry[e.swp_type() as usize].clear(e.offset());
        self.len -= 1;
        Some((e, unpack(v)))
    }

    /// `total_swapcache_pages`.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every cached entry and its page, in entry order.
    pub fn iter(&self) -> impl Iterator<Item = (SwpEntry, CachedPage)> + '_ {
        self.by_entry.iter().enumerate().flat_map(|(ty, r)| {
            r.iter().map(move |(off, v)| (SwpEntry::new(ty as u32, off), unpack(v)))
        })
    }
}

/// `SWAP_RA_ORDER_CEILING` on 32-bit: the window is at most 8 pages whatever `page-cluster`.
pub const SWAP_RA_ORDER_CEILING: u32 = 3;
/// `SWAP_RA_WIN_SHIFT`, `SWAP_RA_HITS_MASK`: a VMA's `swap_readahead_info` (an
/// `atomic_long_t`: as wide as an address, 64 bits on arm64) packs the last fault's page
/// address, the window and the hits in one word.
const SWAP_RA_WIN_SHIFT: u32 = PAGE_SHIFT / 2;
const SWAP_RA_HITS_MASK: usize = (1 << SWAP_RA_WIN_SHIFT) - 1;
const SWAP_RA_HITS_MAX: usize = SWAP_RA_HITS_MASK;
const SWAP_RA_WIN_MASK: usize = ((1 << PAGE_SHIFT) - 1) & !SWAP_RA_HITS_MASK;
const RA_PAGE_MASK: usize = !((1 << PAGE_SHIFT) - 1);

/// `SWAP_RA_VAL(addr, win, hits)`.
pub const fn swap_ra_val(addr: usize, win: u32, hits: u32) -> usize {
    (addr & RA_PAGE_MASK) | ((win as usize) << SWAP_RA_WIN_SHIFT) | hits as usize
}
const fn ra_addr(v: usize) -> usize {
    v & RA_PAGE_MASK
}
const fn ra_win(v: usize) -> u32 {
    ((v & SWAP_RA_WIN_MASK) >> SWAP_RA_WIN_SHIFT) as u32
}
const fn ra_hits(v: usize) -> u32 {
    (v & SWAP_RA_HITS_MASK) as u32
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
pub fn ra_on_hit(ra_val: usize, addr: usize, readahead: bool) -> usize {
    let mut hits = ra_hits(ra_val);
    if readahead {
        hits = (hits + 1).min(SWAP_RA_HITS_MAX as u32);
    }
    swap_ra_val(addr, ra_win(ra_val), hits)
}

/// The PTE window `swap_ra_info` chooses for a fault at `faddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaWindow {
    /// The VMA's new `swap_readahead_info`.
    pub ra_val: usize,
    /// First page address and pages of the window (1: no read-ahead).
    pub start: usize,
    pub nr: usize,
}

/// `swap_ra_info`: the window's size from the VMA's previous fault and hits, its placement
/// (forward after a fault on the next page, backward after one on the previous, else
/// centred), clipped to the VMA and the page table (`PMD_SIZE`, 2 MiB on ARM).
pub fn swap_ra_info(
    ra_val: usize,
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
    let pfn = (ra_addr(ra_val) >> PAGE_SHIFT) as u64;
    let win = swapin_nr_pages(pfn, fpfn, ra_hits(ra_val), max_win, ra_win(ra_val));
    let new_val = swap_ra_val(faddr, win, 0);
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
            v = ra_on_hit(v, start + i * 0x1000, true);
        }
        let w3 = swap_ra_info(v, start + 0x4000, start, end, 3);
        assert_eq!((w3.start, w3.nr), (start + 0x4000, 4));
        // page-cluster 0: never more than the faulting page.
        assert_eq!(swap_ra_info(v, start + 0x4000, start, end, 0).nr, 1);
    }

    /// A 64-bit kernel's user addresses (arm64's mmap area near 2^48): the VMA's state keeps
    /// the whole address, so the next page is still "adjacent" and the window grows as at
    /// low addresses (a 32-bit value lost the top bits and read ahead nothing).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn sequential_faults_read_ahead_at_64_bit_addresses() {
        let start = 0xffff_8e61_6000_usize;
        let end = start + 0x10_0000;
        let w = swap_ra_info(0, start, start, end, 3);
        assert_eq!(ra_addr(w.ra_val), start);
        let w2 = swap_ra_info(w.ra_val, start + 0x1000, start, end, 3);
        assert_eq!((w2.start, w2.nr), (start + 0x1000, 2));
        let v = ra_on_hit(w2.ra_val, start + 0x2000, true);
        assert_eq!((ra_addr(v), ra_hits(v), ra_win(v)), (start + 0x2000, 1, 2));
        let w3 = swap_ra_info(v, start + 0x3000, start, end, 3);
        assert_eq!((w3.start, w3.nr), (start + 0x3000, 4));
    }

    #[test]
    fn windows_stay_in_the_vma_and_page_table() {
        let v = swap_ra_val(0x1000_0000, 8, 6);
        let w = swap_ra_info(v, 0x2000_0000, 0x2000_0000, 0x2000_2000, 3);
        assert_eq!((w.start, w.nr), (0x2000_0000, 2));
    }

    /// The cache against a reference model (two maps) over a long random run of inserts,
    /// flag updates and removals across two areas, leaves filled and emptied.
    #[test]
    fn the_cache_matches_a_model() {
        use alloc::collections::BTreeMap;
        let mut c = SwapCache::new();
        let mut model: BTreeMap<SwpEntry, CachedPage> = BTreeMap::new();
        let mut seed = 0x2545_f491_u32;
        let mut rnd = move |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % n
        };
        for step in 0..20_000 {
            let e = SwpEntry::new(rnd(2), 1 + rnd(2_000));
            let pfn = u64::from(rnd(3_000));
            match rnd(4) {
                0 | 1 => {
                    let page = CachedPage { pfn, readahead: rnd(2) == 0, mapped: rnd(2) == 0 };
                    let fits = !model.contains_key(&e) && !model.values().any(|p| p.pfn == pfn);
                    assert_eq!(c.insert(e, page), fits, "step {step}");
                    if fits {
                        model.insert(e, page);
                    }
                }
                2 => {
                    let r = c.update(e, |p| {
                        p.mapped = !p.mapped;
                        core::mem::replace(&mut p.readahead, false)
                    });
                    let m = model.get_mut(&e).map(|p| {
                        p.mapped = !p.mapped;
                        core::mem::replace(&mut p.readahead, false)
                    });
                    assert_eq!(r, m, "step {step}");
                }
                _ => {
                    let want = model.iter().find(|(_, p)| p.pfn == pfn).map(|(e, p)| (*e, *p));
                    if let Some((e, _)) = want {
                        model.remove(&e);
                    }
                    assert_eq!(c.remove_pfn(pfn), want, "step {step}");
                }
            }
            assert_eq!(c.len(), model.len());
            assert_eq!(c.get(e), model.get(&e).copied());
        }
        let all: Vec<(SwpEntry, CachedPage)> = c.iter().collect();
        let want: Vec<(SwpEntry, CachedPage)> = model.iter().map(|(e, p)| (*e, *p)).collect();
        assert_eq!(all, want);
        for (e, p) in want {
            assert_eq!(c.entry_of(p.pfn), Some(e));
            assert_eq!(c.remove_pfn(p.pfn), Some((e, p)));
        }
        assert!(c.is_empty());
        // Every leaf went with its last value.
        assert!(c.by_pfn.leaves.iter().all(Option::is_none));
        assert!(c.by_entry.iter().all(|r| r.leaves.iter().all(Option::is_none)));
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
