//! The page index of a shmem object or tmpfs file as 6.1's mm/shmem.c keeps it: the mapping's
//! xarray holds at each page index either the page or, once `shmem_writepage` sent the page
//! to swap, its swap entry (a value entry in place of the folio), and `info->swapped` counts
//! the entries. A fault or `shmem_unuse` puts the page back in place of the entry
//! (`shmem_swapin_folio` -> `shmem_add_to_page_cache`). Pure bookkeeping: the kernel's page
//! cache wraps it with the page allocator and the swap layer.
use alloc::collections::BTreeMap;

use super::swapops::SwpEntry;
use super::Pfn;

/// The tmpfs superblock a swap-backed page-cache page's file is on. pivm has two, each
/// numbering its inodes on its own (both from 1): the internal shm mount of shared anonymous
/// memory and the rootfs, so an inode number alone does not name the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TmpfsSb {
    /// The rootfs (the initramfs unpacked, and what programs write there).
    #[default]
    Rootfs,
    /// The kernel's internal shm mount (`shm_mnt`): shmem objects.
    ShmMnt,
}

/// The bit of `page->mapping` that says the file is on the shm mount; the bits below hold
/// the inode number.
const SHM_MNT_BIT: usize = 1 << (usize::BITS - 1);

/// A tmpfs page's `page->mapping`: its file's superblock and inode number in one word, the
/// key reclaim finds the file's index by, as 6.1's `folio->mapping` points at the inode's
/// own `address_space` (never shared between superblocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmemMapping {
    pub sb: TmpfsSb,
    pub ino: u64,
}

impl ShmemMapping {
    /// The word stored in `page->mapping`; None for inode 0 (no file) or a number too wide
    /// for the word's low bits (the page then has no key and reclaim keeps it).
    pub fn encode(self) -> Option<usize> {
        let ino = usize::try_from(self.ino).ok().filter(|&i| i != 0 && i < SHM_MNT_BIT)?;
        Some(match self.sb {
            TmpfsSb::Rootfs => ino,
            TmpfsSb::ShmMnt => ino | SHM_MNT_BIT,
        })
    }

    /// The file a tmpfs page's `page->mapping` names; None for 0 (no key).
    pub fn decode(mapping: usize) -> Option<Self> {
        let ino = (mapping & !SHM_MNT_BIT) as u64;
        if ino == 0 {
            return None;
        }
        let sb = if mapping & SHM_MNT_BIT != 0 { TmpfsSb::ShmMnt } else { TmpfsSb::Rootfs };
        Some(ShmemMapping { sb, ino })
    }
}

/// What the index holds at a page index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShmemEntry {
    /// The page, in memory.
    Page(Pfn),
    /// The page is in swap at this slot (`xa_is_value`).
    Swap(SwpEntry),
}

/// One file's index: pages and swap entries by page index, and `info->swapped`.
#[derive(Default, Debug)]
pub struct ShmemIndex {
    entries: BTreeMap<u64, ShmemEntry>,
    swapped: u64,
}

impl ShmemIndex {
    pub const fn new() -> Self {
        ShmemIndex { entries: BTreeMap::new(), swapped: 0 }
    }

    /// What `index` holds.
    pub fn get(&self, index: u64) -> Option<ShmemEntry> {
        self.entries.get(&index).copied()
    }

    /// The page at `index` if it is in memory.
    pub fn page(&self, index: u64) -> Option<Pfn> {
        match self.get(index)? {
            ShmemEntry::Page(p) => Some(p),
            ShmemEntry::Swap(_) => None,
        }
    }

    /// A new page in a hole (`shmem_add_to_page_cache`); false, changing nothing, when the
    /// index holds something already.
    pub fn insert_page(&mut self, index: u64, pfn: Pfn) -> bool {
        if self.entries.contains_key(&index) {
            return false;
        }
        self.entries.insert(index, ShmemEntry::Page(pfn));
        true
    }

    /// Pages in memory (`mapping->nrpages`).
    pub fn nrpages(&self) -> u64 {
        self.entries.len() as u64 - self.swapped
    }

    /// Entries in swap (`info->swapped`).
    pub fn swapped(&self) -> u64 {
        self.swapped
    }

    /// The pages in memory with their indexes, in index order.
    pub fn pages(&self) -> impl Iterator<Item = (u64, Pfn)> + '_ {
        self.page_range(0, u64::MAX)
    }

    /// The pages in memory at indexes `[start, end)`.
    pub fn page_range(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, Pfn)> + '_ {
        let range = if start < end { start..end } else { 0..0 };
        self.entries.range(range).filter_map(|(&i, e)| match *e {
            ShmemEntry::Page(p) => Some((i, p)),
            ShmemEntry::Swap(_) => None,
        })
    }

    /// `shmem_writepage`'s `shmem_delete_from_page_cache` + the swap entry stored in its
    /// place: page `pfn` at `index` becomes entry `e`. False, changing nothing, when the index
    /// no longer holds that page (truncated or replaced meanwhile).
    pub fn page_to_swap(&mut self, index: u64, pfn: Pfn, e: SwpEntry) -> bool {
        match self.entries.get_mut(&index) {
            Some(slot) if *slot == ShmemEntry::Page(pfn) => {
                *slot = ShmemEntry::Swap(e);
                self.swapped += 1;
                true
            }
            _ => false,
        }
    }

    /// `shmem_swapin_folio`'s `shmem_add_to_page_cache` with the expected entry: entry `e` at
    /// `index` becomes page `pfn`. False, changing nothing, when the index no longer holds
    /// `e` (another fault brought it in, or it was truncated).
    pub fn swap_to_page(&mut self, index: u64, e: SwpEntry, pfn: Pfn) -> bool {
        match self.entries.get_mut(&index) {
            Some(slot) if *slot == ShmemEntry::Swap(e) => {
                *slot = ShmemEntry::Page(pfn);
                self.swapped -= 1;
                true
            }
            _ => false,
        }
    }

    /// `shmem_undo_range` from `index` to the end: every entry taken out and handed to
    /// `release` (a page to free, a swap entry to drop), one at a time: no list of them is
    /// built (a large object's would be a large allocation, and truncation runs when memory
    /// may be short).
    pub fn truncate(&mut self, index: u64, mut release: impl FnMut(ShmemEntry)) {
        for (_, e) in self.entries.split_off(&index) {
            if matches!(e, ShmemEntry::Swap(_)) {
                self.swapped -= 1;
            }
            release(e);
        }
    }

    /// `shmem_partial_swap_usage`: swap entries at indexes `[start, end)`.
    pub fn partial_swap_usage(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        self.entries.range(start..end).filter(|(_, e)| matches!(e, ShmemEntry::Swap(_))).count()
            as u64
    }

    /// Every swap entry with its index, in index order (for `verify`).
    pub fn swap_entries(&self) -> impl Iterator<Item = (u64, SwpEntry)> + '_ {
        self.entries.iter().filter_map(|(&i, e)| match *e {
            ShmemEntry::Swap(s) => Some((i, s)),
            ShmemEntry::Page(_) => None,
        })
    }

    /// The first swap entry of area `ty` at an index from `from` (`shmem_find_swap_entries`,
    /// a batch of one: `swapoff` takes them one at a time, letting the object go between).
    pub fn next_swap_entry(&self, from: u64, ty: u32) -> Option<(u64, SwpEntry)> {
        self.entries.range(from..).find_map(|(&i, e)| match *e {
            ShmemEntry::Swap(s) if s.swp_type() == ty => Some((i, s)),
            _ => None,
        })
    }
}

/// `shmem_swap_usage(vma)` in pages: the file's whole `swapped` count when the VMA maps it
/// all from offset 0 (`size_pages` is `i_size` in pages), else the entries inside the VMA's
/// window `[vm_pgoff, vm_pgoff + vma_pages)`.
pub fn shmem_swap_usage(idx: &ShmemIndex, size_pages: u64, vm_pgoff: u64, vma_pages: u64) -> u64 {
    if idx.swapped() == 0 {
        return 0;
    }
    if vm_pgoff == 0 && vma_pages >= size_pages {
        return idx.swapped();
    }
    idx.partial_swap_usage(vm_pgoff, vm_pgoff.saturating_add(vma_pages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn idx_with(pages: &[(u64, u64)]) -> ShmemIndex {
        let mut x = ShmemIndex::new();
        for &(i, p) in pages {
            assert!(x.insert_page(i, Pfn(p)));
        }
        x
    }

    #[test]
    fn mapping_tells_a_rootfs_inode_from_a_shm_one_with_the_same_number() {
        let root = ShmemMapping { sb: TmpfsSb::Rootfs, ino: 5 };
        let shm = ShmemMapping { sb: TmpfsSb::ShmMnt, ino: 5 };
        let (a, b) = (root.encode().unwrap(), shm.encode().unwrap());
        assert_ne!(a, b);
        assert_eq!(ShmemMapping::decode(a), Some(root));
        assert_eq!(ShmemMapping::decode(b), Some(shm));
        // No file, or a number the word cannot hold beside the mount's bit.
        assert_eq!(ShmemMapping { sb: TmpfsSb::ShmMnt, ino: 0 }.encode(), None);
        assert_eq!(ShmemMapping { sb: TmpfsSb::Rootfs, ino: SHM_MNT_BIT as u64 }.encode(), None);
        assert_eq!(ShmemMapping::decode(0), None);
        assert_eq!(ShmemMapping::decode(SHM_MNT_BIT), None);
        let widest = ShmemMapping { sb: TmpfsSb::ShmMnt, ino: (SHM_MNT_BIT - 1) as u64 };
        assert_eq!(ShmemMapping::decode(widest.encode().unwrap()), Some(widest));
    }

    #[test]
    fn a_page_goes_to_swap_and_comes_back_in_its_place() {
        let mut x = idx_with(&[(0, 100), (1, 101), (5, 105)]);
        let e = SwpEntry::new(0, 42);
        assert!(x.page_to_swap(1, Pfn(101), e));
        assert_eq!((x.nrpages(), x.swapped()), (2, 1));
        assert_eq!(x.get(1), Some(ShmemEntry::Swap(e)));
        assert_eq!(x.page(1), None);
        // The fault-around walk sees only the pages in memory.
        assert_eq!(x.pages().collect::<Vec<_>>(), [(0, Pfn(100)), (5, Pfn(105))]);
        // Back in another frame.
        assert!(x.swap_to_page(1, e, Pfn(200)));
        assert_eq!((x.nrpages(), x.swapped()), (3, 0));
        assert_eq!(x.page(1), Some(Pfn(200)));
    }

    #[test]
    fn a_stale_swap_out_or_swap_in_changes_nothing() {
        let mut x = idx_with(&[(0, 100)]);
        let e = SwpEntry::new(0, 7);
        // Not the page the index holds, or a hole.
        assert!(!x.page_to_swap(0, Pfn(99), e));
        assert!(!x.page_to_swap(3, Pfn(100), e));
        assert!(x.page_to_swap(0, Pfn(100), e));
        // A second swap-in of the same entry (another fault won), or of another entry.
        assert!(!x.swap_to_page(0, SwpEntry::new(0, 8), Pfn(1)));
        assert!(x.swap_to_page(0, e, Pfn(1)));
        assert!(!x.swap_to_page(0, e, Pfn(2)));
        assert_eq!((x.page(0), x.swapped()), (Some(Pfn(1)), 0));
        // A hole is filled once.
        assert!(!x.insert_page(0, Pfn(3)));
    }

    #[test]
    fn truncate_hands_out_pages_and_swap_entries_and_recounts() {
        let mut x = idx_with(&[(0, 100), (1, 101), (2, 102), (3, 103)]);
        let (a, b) = (SwpEntry::new(0, 1), SwpEntry::new(1, 2));
        assert!(x.page_to_swap(0, Pfn(100), a));
        assert!(x.page_to_swap(2, Pfn(102), b));
        let mut gone = Vec::new();
        x.truncate(1, |e| gone.push(e));
        use ShmemEntry::{Page, Swap};
        assert_eq!(gone, [Page(Pfn(101)), Swap(b), Page(Pfn(103))]);
        assert_eq!((x.nrpages(), x.swapped()), (0, 1));
        gone.clear();
        x.truncate(0, |e| gone.push(e));
        assert_eq!((gone, x.swapped()), (alloc::vec![Swap(a)], 0));
    }

    #[test]
    fn swap_entries_by_area_one_at_a_time_for_swapoff() {
        let mut x = idx_with(&[(0, 100), (1, 101), (2, 102), (3, 103)]);
        assert!(x.page_to_swap(0, Pfn(100), SwpEntry::new(0, 5)));
        assert!(x.page_to_swap(2, Pfn(102), SwpEntry::new(1, 6)));
        assert!(x.page_to_swap(3, Pfn(103), SwpEntry::new(1, 7)));
        assert_eq!(x.next_swap_entry(0, 1), Some((2, SwpEntry::new(1, 6))));
        assert_eq!(x.next_swap_entry(3, 1), Some((3, SwpEntry::new(1, 7))));
        assert_eq!(x.next_swap_entry(4, 1), None);
        assert_eq!(x.next_swap_entry(1, 0), None);
        assert_eq!(x.swap_entries().count(), 3);
    }

    #[test]
    fn swap_usage_whole_file_or_the_vma_window() {
        let mut x = idx_with(&(0..8).map(|i| (i, 100 + i)).collect::<Vec<_>>());
        assert_eq!(shmem_swap_usage(&x, 8, 0, 8), 0);
        for i in [1, 2, 6] {
            assert!(x.page_to_swap(i, Pfn(100 + i), SwpEntry::new(0, i as u32)));
        }
        // The VMA maps it whole: info->swapped.
        assert_eq!(shmem_swap_usage(&x, 8, 0, 8), 3);
        // A window: shmem_partial_swap_usage of [pgoff, pgoff + pages).
        assert_eq!(shmem_swap_usage(&x, 8, 2, 4), 1);
        assert_eq!(shmem_swap_usage(&x, 8, 0, 2), 1);
        assert_eq!(shmem_swap_usage(&x, 8, 7, 1), 0);
    }
}
