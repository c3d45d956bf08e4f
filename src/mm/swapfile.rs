//! Swap areas and their slots, as 6.1's mm/swapfile.c keeps them: `swap_info_struct` with
//! its `swap_map` (one byte per page: the count of swap PTEs, `SWAP_HAS_CACHE` when the page
//! sits in the swap cache, `SWAP_MAP_BAD`; slot 0 is the header), `scan_swap_map_slots` with
//! the cluster allocator 6.1 uses on a non-rotational device (an SD card: `mmc_queue` sets
//! `QUEUE_FLAG_NONROT`, so the area is `SWP_SOLIDSTATE` and gets `cluster_info`),
//! `swap_duplicate`, `swap_free`, `swapcache_free`, and the areas by priority (`-2`, `-3`...
//! for areas given none, as `least_priority` hands them out). Pure: the kernel holds one
//! [`SwapAreas`] under a lock and does the I/O.
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::mm_types::PAGE_SIZE;
use super::swap_header::SwapHeader;
use super::swap_slots::{SwapSlots, THIS_CPU};
use super::swapops::SwpEntry;

/// `SWAP_HAS_CACHE`: the slot's page is in the swap cache.
pub const SWAP_HAS_CACHE: u8 = 0x40;
/// `SWAP_MAP_BAD`: a bad page (and the header, which is never handed out).
pub const SWAP_MAP_BAD: u8 = 0x3f;
/// `SWAP_MAP_MAX`: the largest count a `swap_map` byte holds; larger counts continue in
/// continuation pages (`COUNT_CONTINUED`).
pub const SWAP_MAP_MAX: u8 = 0x3e;
/// `COUNT_CONTINUED`: the count goes on in the slot's byte of the next continuation page.
pub const COUNT_CONTINUED: u8 = 0x80;
/// `SWAP_CONT_MAX`: the largest digit a continuation page's byte holds.
pub const SWAP_CONT_MAX: u8 = 0x7f;
/// `SWAP_MAP_SHMEM`: the count of a slot a shmem/tmpfs file's index refers to
/// (`swap_shmem_alloc` from `shmem_writepage`). Its low bits are above `SWAP_MAP_MAX`, so
/// the slot cannot be duplicated (`-EINVAL`), and one free drops it whole.
pub const SWAP_MAP_SHMEM: u8 = 0xbf;
/// Slots per `swap_map` page: a continuation page holds one byte for each (6.1's
/// `offset & ~PAGE_MASK`).
pub const SWAP_MAP_PAGE_SLOTS: u32 = PAGE_SIZE as u32;
/// `SWAPFILE_CLUSTER` (no THP swap): slots per cluster.
pub const SWAPFILE_CLUSTER: u32 = 256;
/// `SWAP_ADDRESS_SPACE_SHIFT`: a swap address space (and a `set_cluster_next` trunk) is
/// 2^14 slots, 64 MiB.
const SWAP_ADDRESS_SPACE_SHIFT: u32 = 14;
/// `SWAP_CLUSTER_COLS`: the stride of the initial free-cluster list (`SWAP_ADDRESS_SPACE_PAGES`
/// / `SWAPFILE_CLUSTER`, larger than a cache line of `swap_cluster_info`).
const SWAP_CLUSTER_COLS: u32 = (1 << SWAP_ADDRESS_SPACE_SHIFT) / SWAPFILE_CLUSTER;
/// `MAX_SWAPFILES` on this configuration (`1 << MAX_SWAPFILES_SHIFT`, minus the device-private,
/// migration, hwpoison and pte-marker types 6.1 reserves with CONFIG_MIGRATION): 32 - 4.
pub const MAX_SWAPFILES: usize = 28;

bitflags::bitflags! {
    /// `swap_info_struct.flags` (the ones pivm uses).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SwpFlags: u32 {
        /// `SWP_USED`: the entry is in use.
        const USED = 1 << 0;
        /// `SWP_WRITEOK`: slots may be allocated.
        const WRITEOK = 1 << 1;
        /// `SWP_DISCARDABLE`.
        const DISCARDABLE = 1 << 2;
        /// `SWP_SOLIDSTATE`: a non-rotational device (the cluster allocator).
        const SOLIDSTATE = 1 << 4;
        /// `SWP_BLKDEV`: a block device, not a file.
        const BLKDEV = 1 << 6;
    }
}

/// `struct swap_cluster_info`: pages in use in the cluster, and whether it is on the free
/// list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ClusterInfo {
    count: u32,
    free: bool,
}

/// `struct percpu_cluster` (one CPU runs processes): the cluster being filled and the next
/// slot to try in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PercpuCluster {
    index: Option<u32>,
    next: u32,
}

/// Why a count could not change (`__swap_duplicate`'s errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapCountError {
    /// The slot is free (`-ENOENT`).
    NoEntry,
    /// Already in the swap cache (`-EEXIST`, from `swapcache_prepare`).
    Exists,
    /// The count needs a continuation page the area does not have yet (`-ENOMEM`: the caller
    /// allocates one, [`SwapInfo::add_swap_count_continuation`], and tries again).
    NoMem,
    /// No such area or slot (`Bad swap file entry`).
    Bad,
    /// The count cannot grow (`-EINVAL`): the slot holds `SWAP_MAP_SHMEM`.
    Invalid,
}

/// `struct swap_info_struct`.
#[derive(Clone, Debug)]
pub struct SwapInfo {
    pub flags: SwpFlags,
    pub prio: i32,
    /// The device's name as `/proc/swaps` shows it (`/dev/mmcblk0p2`).
    pub name: String,
    /// The block device (disk, partition) the slots live on.
    pub bdev: (usize, u32),
    /// `si->max`: pages of the area, header included.
    pub max: u32,
    /// `si->pages`: usable pages (not the header, not bad).
    pub pages: u32,
    pub inuse_pages: u32,
    pub lowest_bit: u32,
    pub highest_bit: u32,
    /// The next slot the linear scan tries: 6.1's `cluster_next` (rotational), or this CPU's
    /// `cluster_next_cpu` (solid-state; pivm's kernel runs on one CPU).
    pub cluster_next: u32,
    /// `prandom` state for a solid-state area's random scan positions (`swapon`'s start and
    /// `set_cluster_next`'s new trunk); 0 until [`Self::seed_cluster_next`] (the host tests'
    /// areas keep `cluster_next` deterministic).
    prandom: u32,
    pub swap_map: Vec<u8>,
    cluster_info: Vec<ClusterInfo>,
    free_clusters: VecDeque<u32>,
    percpu: PercpuCluster,
    /// The continuation pages of each `swap_map` page (6.1's list on the map page's
    /// `head->lru`), lowest digit first; kept until `swapoff`
    /// (`free_swap_count_continuations`).
    cont: Vec<Vec<ContPage>>,
}

/// A slot in use, as [`SwapInfo::used_slots`] reports it for `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsedSlot {
    pub offset: u32,
    /// [`SwapInfo::swap_count`].
    pub count: u32,
    /// `SWAP_HAS_CACHE`.
    pub has_cache: bool,
    /// The `SWAP_MAP_SHMEM` mark.
    pub shmem: bool,
}

/// A count continuation page: one digit (0..=`SWAP_CONT_MAX`, `COUNT_CONTINUED` when the
/// next page holds more) per slot of its `swap_map` page.
pub type ContPage = alloc::boxed::Box<[u8]>;

impl SwapInfo {
    /// `sys_swapon`'s `setup_swap_map_and_extents` for an accepted header: the map with the
    /// header and the bad pages marked, and for a solid-state device the clusters and their
    /// free list in 6.1's order.
    pub fn new(name: &str, bdev: (usize, u32), h: &SwapHeader, solidstate: bool) -> SwapInfo {
        let max = h.maxpages;
        let mut swap_map = alloc::vec![0u8; max as usize];
        swap_map[0] = SWAP_MAP_BAD;
        let mut pages = max - 1;
        for &b in &h.badpages {
            if b < max && swap_map[b as usize] != SWAP_MAP_BAD {
                swap_map[b as usize] = SWAP_MAP_BAD;
                pages -= 1;
            }
        }
        let mut flags = SwpFlags::USED | SwpFlags::BLKDEV;
        let mut cluster_info = Vec::new();
        let mut free_clusters = VecDeque::new();
        let cluster_next = 1;
        if solidstate {
            flags |= SwpFlags::SOLIDSTATE;
            let nr_clusters = max.div_ceil(SWAPFILE_CLUSTER);
            cluster_info = alloc::vec![ClusterInfo::default(); nr_clusters as usize];
            // The header, the bad pages and the tail past `max` keep their clusters busy.
            for (i, &m) in swap_map.iter().enumerate() {
                if m == SWAP_MAP_BAD {
                    cluster_info[i / SWAPFILE_CLUSTER as usize].count += 1;
                }
            }
            for i in max..nr_clusters * SWAPFILE_CLUSTER {
                cluster_info[(i / SWAPFILE_CLUSTER) as usize].count += 1;
            }
            let col = cluster_next / SWAPFILE_CLUSTER % SWAP_CLUSTER_COLS;
            for k in 0..SWAP_CLUSTER_COLS {
                let j = (k + col) % SWAP_CLUSTER_COLS;
                for i in 0..nr_clusters.div_ceil(SWAP_CLUSTER_COLS) {
                    let idx = i * SWAP_CLUSTER_COLS + j;
                    if idx >= nr_clusters || cluster_info[idx as usize].count != 0 {
                        continue;
                    }
                    cluster_info[idx as usize].free = true;
                    free_clusters.push_back(idx);
                }
            }
        }
        SwapInfo {
            flags,
            prio: 0,
            name: name.into(),
            bdev,
            max,
            pages,
            inuse_pages: 0,
            lowest_bit: 1,
            highest_bit: max - 1,
            cluster_next,
            prandom: 0,
            swap_map,
            cluster_info,
            free_clusters,
            percpu: PercpuCluster::default(),
            cont: (0..max.div_ceil(SWAP_MAP_PAGE_SLOTS)).map(|_| Vec::new()).collect(),
        }
    }

    /// `swapon`'s random start for a solid-state area (`cluster_next_cpu = 1 +
    /// prandom_u32_max(highest_bit)`, for wear levelling), from `random`, which also seeds the
    /// area's `prandom` for [`Self::set_cluster_next`]. A rotational area keeps slot 1.
    pub fn seed_cluster_next(&mut self, random: u32) {
        if !self.flags.contains(SwpFlags::SOLIDSTATE) || self.highest_bit == 0 {
            return;
        }
        self.prandom = random | 1;
        self.cluster_next = 1 + self.prandom_u32_max(self.highest_bit);
    }

    /// `prandom_u32_max(ceil)`: 0..ceil from the area's xorshift state.
    fn prandom_u32_max(&mut self, ceil: u32) -> u32 {
        let mut x = self.prandom;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.prandom = x;
        ((u64::from(x) * u64::from(ceil)) >> 32) as u32
    }

    /// `set_cluster_next`: where the next linear scan starts. On a solid-state area with a
    /// random state, a scan that crossed into another `SWAP_ADDRESS_SPACE_PAGES` trunk goes
    /// on from the start of a random trunk instead (spreading the CPUs over the swap address
    /// spaces' locks), unless no slot is free.
    fn set_cluster_next(&mut self, mut next: u32) {
        if self.flags.contains(SwpFlags::SOLIDSTATE)
            && self.prandom != 0
            && self.cluster_next >> SWAP_ADDRESS_SPACE_SHIFT != next >> SWAP_ADDRESS_SPACE_SHIFT
        {
            if self.highest_bit <= self.lowest_bit {
                return;
            }
            next = self.lowest_bit + self.prandom_u32_max(self.highest_bit - self.lowest_bit + 1);
            next &= !((1 << SWAP_ADDRESS_SPACE_SHIFT) - 1);
            next = next.max(self.lowest_bit);
        }
        self.cluster_next = next;
    }

    /// `inc_cluster_info_page`: a slot of a free cluster takes the cluster off the free list.
    fn inc_cluster(&mut self, offset: u32) {
        if self.cluster_info.is_empty() {
            return;
        }
        let idx = offset / SWAPFILE_CLUSTER;
        let ci = &mut self.cluster_info[idx as usize];
        if ci.free {
            ci.free = false;
            self.free_clusters.retain(|&c| c != idx);
        }
        ci.count += 1;
    }

    /// `dec_cluster_info_page`: a cluster whose last slot is freed goes to the free list's
    /// tail.
    fn dec_cluster(&mut self, offset: u32) {
        if self.cluster_info.is_empty() {
            return;
        }
        let idx = offset / SWAPFILE_CLUSTER;
        let ci = &mut self.cluster_info[idx as usize];
        ci.count -= 1;
        if ci.count == 0 {
            ci.free = true;
            self.free_clusters.push_back(idx);
        }
    }

    /// `scan_swap_map_try_ssd_cluster`: the next free slot of this CPU's cluster, taking a new
    /// cluster from the free list when it is used up; None when no free cluster is left.
    fn try_ssd_cluster(&mut self) -> Option<u32> {
        loop {
            let idx = match self.percpu.index {
                Some(i) => i,
                None => {
                    let head = *self.free_clusters.front()?;
                    self.percpu =
                        PercpuCluster { index: Some(head), next: head * SWAPFILE_CLUSTER };
                    head
                }
            };
            let max = self.max.min((idx + 1) * SWAPFILE_CLUSTER);
            let mut tmp = self.percpu.next;
            while tmp < max && self.swap_map[tmp as usize] != 0 {
                tmp += 1;
            }
            if tmp >= max {
                self.percpu.index = None;
                continue;
            }
            self.percpu.next = tmp + 1;
            return Some(tmp);
        }
    }

    /// `swap_range_alloc`.
    fn range_alloc(&mut self, offset: u32) {
        if offset == self.lowest_bit {
            self.lowest_bit += 1;
        }
        if offset == self.highest_bit {
            self.highest_bit -= 1;
        }
        self.inuse_pages += 1;
        if self.inuse_pages == self.pages {
            self.lowest_bit = self.max;
            self.highest_bit = 0;
        }
    }

    /// `swap_range_free`.
    fn range_free(&mut self, offset: u32) {
        if offset < self.lowest_bit {
            self.lowest_bit = offset;
        }
        if offset > self.highest_bit {
            self.highest_bit = offset;
        }
        self.inuse_pages -= 1;
    }

    /// `scan_swap_map_slots(usage, nr)`: up to `nr` slots with `usage` (`SWAP_HAS_CACHE`
    /// from `folio_alloc_swap`), taken from the area one after the other as 6.1's loop takes
    /// them: the cluster path on a solid-state area (this CPU's cluster, then the next free
    /// one), else (or with no free cluster left) the linear scan from `cluster_next` round
    /// to `lowest_bit`; the batch ends early at `highest_bit` or when the area has no free
    /// slot. With swap more than half full (`swap_full`: `vm_swap_full`), the linear scan
    /// takes back a slot whose only user is the swap cache when `reclaim(offset)` lets its
    /// page go (`__try_to_reclaim_swap` with `TTRS_ANYWAY`), and goes on past one whose page
    /// cannot go (under writeback). The cache reference dropped there frees the slot as
    /// `put_swap_folio` does: into `ret` (the caller's `free_swap_slot`: the slots cache's
    /// return list, so the slot stays `SWAP_HAS_CACHE` and the scan goes on) when given,
    /// else at once, and the scan uses it.
    pub fn scan_swap_map_slots(
        &mut self,
        usage: u8,
        nr: usize,
        swap_full: bool,
        reclaim: &mut impl FnMut(u32) -> bool,
        mut ret: Option<&mut Vec<u32>>,
    ) -> Vec<u32> {
        let mut got = Vec::new();
        while got.len() < nr {
            let Some(o) = self.scan_one(usage, swap_full, reclaim, ret.as_deref_mut()) else {
                break;
            };
            got.push(o);
            if o >= self.highest_bit {
                break;
            }
        }
        got
    }

    /// One slot of [`Self::scan_swap_map_slots`].
    fn scan_one(
        &mut self,
        usage: u8,
        swap_full: bool,
        reclaim: &mut impl FnMut(u32) -> bool,
        mut ret: Option<&mut Vec<u32>>,
    ) -> Option<u32> {
        if !self.flags.contains(SwpFlags::WRITEOK) || self.inuse_pages >= self.pages {
            return None;
        }
        let mut offset = None;
        if !self.cluster_info.is_empty() {
            offset = self.try_ssd_cluster();
        }
        let offset = match offset {
            Some(o) => o,
            None => {
                let base = self.cluster_next.clamp(self.lowest_bit, self.highest_bit.max(1));
                let (low, high) = (self.lowest_bit, self.highest_bit);
                (base..=high).chain(low..base).find(|&o| {
                    let m = self.swap_map[o as usize];
                    if swap_full && m == SWAP_HAS_CACHE && reclaim(o) {
                        if let Ok(0) = self.entry_put_locked(o, SWAP_HAS_CACHE) {
                            match ret.as_deref_mut() {
                                Some(r) => r.push(o),
                                None => self.swap_entry_free(o),
                            }
                        }
                    }
                    self.swap_map[o as usize] == 0
                })?
            }
        };
        self.swap_map[offset as usize] = usage;
        self.inc_cluster(offset);
        self.range_alloc(offset);
        self.set_cluster_next(offset + 1);
        Some(offset)
    }

    /// [`Self::scan_swap_map_slots`] for one slot, freed slots going back at once.
    pub fn scan_swap_map_slot(
        &mut self,
        usage: u8,
        swap_full: bool,
        reclaim: &mut impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        self.scan_swap_map_slots(usage, 1, swap_full, reclaim, None).pop()
    }

    /// Slots whose only user is the swap cache (`swap_map` is `SWAP_HAS_CACHE` alone).
    pub fn cache_only_slots(&self) -> usize {
        self.swap_map.iter().filter(|&&m| m == SWAP_HAS_CACHE).count()
    }

    /// `swap_entry_free` (from `swapcache_free_entries`): a slot whose count and cache
    /// reference are gone (`swap_map` left at `SWAP_HAS_CACHE` by
    /// [`Self::entry_put_locked`]) goes back to the area.
    pub fn swap_entry_free(&mut self, offset: u32) {
        debug_assert_eq!(self.swap_map[offset as usize], SWAP_HAS_CACHE);
        self.swap_map[offset as usize] = 0;
        self.dec_cluster(offset);
        self.range_free(offset);
    }

    fn check(&self, offset: u32) -> Result<u8, SwapCountError> {
        match self.swap_map.get(offset as usize) {
            None | Some(&SWAP_MAP_BAD) => Err(SwapCountError::Bad),
            Some(&m) => Ok(m),
        }
    }

    /// `__swap_duplicate(entry, usage)`: one more swap PTE (`usage` 1) or the swap cache
    /// (`SWAP_HAS_CACHE`, `swapcache_prepare`). A count at `SWAP_MAP_MAX` goes on in the
    /// continuation pages; `NoMem` when they are full (or none is there yet): the caller adds
    /// one ([`Self::add_swap_count_continuation`]) and tries again, as `swap_duplicate` does.
    /// `usage` `SWAP_MAP_SHMEM` (`swap_shmem_alloc`) marks a slot only the cache holds; a
    /// marked slot refuses every further reference (`Invalid`), as 6.1's does.
    pub fn duplicate(&mut self, offset: u32, usage: u8) -> Result<(), SwapCountError> {
        let m = self.check(offset)?;
        let (count, has_cache) = (m & !SWAP_HAS_CACHE, m & SWAP_HAS_CACHE != 0);
        let new = if usage == SWAP_HAS_CACHE {
            if has_cache {
                return Err(SwapCountError::Exists);
            }
            if count == 0 {
                return Err(SwapCountError::NoEntry);
            }
            m | SWAP_HAS_CACHE
        } else {
            if count == 0 && !has_cache {
                return Err(SwapCountError::NoEntry);
            }
            let low = count & !COUNT_CONTINUED;
            let count = if low < SWAP_MAP_MAX {
                count.wrapping_add(usage)
            } else if low > SWAP_MAP_MAX {
                return Err(SwapCountError::Invalid);
            } else if self.swap_count_continued(offset, count) {
                COUNT_CONTINUED
            } else {
                return Err(SwapCountError::NoMem);
            };
            count | (m & SWAP_HAS_CACHE)
        };
        self.swap_map[offset as usize] = new;
        Ok(())
    }

    /// `__swap_entry_free_locked`: drops one swap PTE (`usage` 1) or the swap cache
    /// (`SWAP_HAS_CACHE`). Returns the `swap_map` byte left (`COUNT_CONTINUED` set while the
    /// continuation pages hold part of the count), 0 when nothing is: the slot then keeps
    /// `SWAP_HAS_CACHE`, as 6.1 leaves it for `free_swap_slot` (the slots cache's return list
    /// or [`Self::swap_entry_free`]), so nothing hands it out meanwhile.
    pub fn entry_put_locked(&mut self, offset: u32, usage: u8) -> Result<u8, SwapCountError> {
        let m = self.check(offset)?;
        let (mut count, mut has_cache) = (m & !SWAP_HAS_CACHE, m & SWAP_HAS_CACHE);
        if usage == SWAP_HAS_CACHE {
            if has_cache == 0 {
                return Err(SwapCountError::NoEntry);
            }
            has_cache = 0;
        } else if count == 0 {
            return Err(SwapCountError::NoEntry);
        } else if count == SWAP_MAP_SHMEM {
            // The index's one reference.
            count = 0;
        } else if count == COUNT_CONTINUED {
            // 1000 - 1: the low digit wraps to SWAP_MAP_MAX, the borrow from the pages.
            count = if self.swap_count_continued(offset, count) {
                SWAP_MAP_MAX | COUNT_CONTINUED
            } else {
                SWAP_MAP_MAX
            };
        } else {
            count -= 1;
        }
        let left = count | has_cache;
        self.swap_map[offset as usize] = if left == 0 { SWAP_HAS_CACHE } else { left };
        Ok(left)
    }

    /// [`Self::entry_put_locked`] with a slot left with nothing freed at once (no slots
    /// cache: `swapcache_free_entries` of the one entry).
    pub fn entry_put(&mut self, offset: u32, usage: u8) -> Result<u8, SwapCountError> {
        let left = self.entry_put_locked(offset, usage)?;
        if left == 0 {
            self.swap_entry_free(offset);
        }
        Ok(left)
    }

    /// `swap_count_continued`: carries an increment (`count` is `SWAP_MAP_MAX`, with
    /// `COUNT_CONTINUED` once the pages hold digits) into the slot's digits in the
    /// continuation pages, or borrows a decrement (`count` is `COUNT_CONTINUED`) from them.
    /// An increment returns false when the digits are all at `SWAP_CONT_MAX` (or there is no
    /// page): a page must be added. A decrement returns whether the pages still hold some
    /// of the count.
    fn swap_count_continued(&mut self, offset: u32, count: u8) -> bool {
        let pages = &mut self.cont[(offset / SWAP_MAP_PAGE_SLOTS) as usize];
        let o = (offset % SWAP_MAP_PAGE_SLOTS) as usize;
        if pages.is_empty() {
            assert_eq!(count & COUNT_CONTINUED, 0, "swap count continued without a page");
            return false;
        }
        if count == SWAP_MAP_MAX {
            // The first carry: the first page's digit was never used for this slot.
            pages[0][o] = 1;
            return true;
        }
        if count == SWAP_MAP_MAX | COUNT_CONTINUED {
            // 999 + 1: skip the digits that carry on, then raise the first that can.
            let mut i = 0;
            while pages[i][o] == SWAP_CONT_MAX | COUNT_CONTINUED {
                i += 1;
                assert!(i < pages.len(), "swap count continuation chain ends early");
            }
            if pages[i][o] == SWAP_CONT_MAX {
                i += 1;
                if i == pages.len() {
                    return false;
                }
                pages[i][o] = 0;
            }
            pages[i][o] += 1;
            for p in pages[..i].iter_mut() {
                p[o] = COUNT_CONTINUED;
            }
            return true;
        }
        assert_eq!(count, COUNT_CONTINUED, "swap count continuation decrement");
        // 1000 - 1: skip the zero digits that carry on, lower the first non-zero one, and
        // the digits below it become SWAP_CONT_MAX.
        let mut i = 0;
        while pages[i][o] == COUNT_CONTINUED {
            i += 1;
            assert!(i < pages.len(), "swap count continuation chain ends early");
        }
        assert_ne!(pages[i][o], 0, "swap count continuation underflow");
        pages[i][o] -= 1;
        let mut carry = if pages[i][o] == 0 { 0 } else { COUNT_CONTINUED };
        for p in pages[..i].iter_mut().rev() {
            p[o] = SWAP_CONT_MAX | carry;
            carry = COUNT_CONTINUED;
        }
        carry == COUNT_CONTINUED
    }

    /// `add_swap_count_continuation` under the lock, with the page the caller allocated
    /// outside it (None when that allocation failed): a continuation page for `offset`'s
    /// `swap_map` page unless the count no longer needs one (another task added it, or the
    /// count dropped meanwhile; the page is then dropped). `NoMem` only when a page is needed
    /// and none was given.
    pub fn add_swap_count_continuation(
        &mut self,
        offset: u32,
        page: Option<ContPage>,
    ) -> Result<(), SwapCountError> {
        let mut count = self.check(offset)? & !SWAP_HAS_CACHE;
        if count & !COUNT_CONTINUED != SWAP_MAP_MAX {
            return Ok(());
        }
        let Some(mut page) = page else { return Err(SwapCountError::NoMem) };
        let pages = &mut self.cont[(offset / SWAP_MAP_PAGE_SLOTS) as usize];
        let o = (offset % SWAP_MAP_PAGE_SLOTS) as usize;
        for p in pages.iter() {
            // A page with room for this slot's digit is already there.
            if count & COUNT_CONTINUED == 0 {
                return Ok(());
            }
            count = p[o];
            if count & !COUNT_CONTINUED != SWAP_CONT_MAX {
                return Ok(());
            }
        }
        page.fill(0);
        pages.push(page);
        Ok(())
    }

    /// The continuation pages the area holds (they go with it at `swapoff`).
    pub fn continuation_pages(&self) -> usize {
        self.cont.iter().map(Vec::len).sum()
    }

    /// `swp_swapcount`: the swap PTEs referring to the slot, the continuation digits
    /// included; a `SWAP_MAP_SHMEM` slot counts its index entry as 1 (6.1's
    /// `__swap_entry_free` treats the mark as a count of 1).
    pub fn swap_count(&self, offset: u32) -> u32 {
        let m = match self.swap_map.get(offset as usize) {
            None | Some(&SWAP_MAP_BAD) => return 0,
            Some(&m) => m & !SWAP_HAS_CACHE,
        };
        if m == SWAP_MAP_SHMEM {
            return 1;
        }
        let mut count = u32::from(m & !COUNT_CONTINUED);
        if m & COUNT_CONTINUED == 0 {
            return count;
        }
        let o = (offset % SWAP_MAP_PAGE_SLOTS) as usize;
        let mut n = u32::from(SWAP_MAP_MAX) + 1;
        for p in &self.cont[(offset / SWAP_MAP_PAGE_SLOTS) as usize] {
            let digit = p[o];
            count += u32::from(digit & !COUNT_CONTINUED) * n;
            if digit & COUNT_CONTINUED == 0 {
                break;
            }
            n *= u32::from(SWAP_CONT_MAX) + 1;
        }
        count
    }

    /// Whether the slot holds the `SWAP_MAP_SHMEM` mark (a shmem index entry refers to it).
    pub fn is_shmem(&self, offset: u32) -> bool {
        self.swap_map.get(offset as usize).is_some_and(|&m| m & !SWAP_HAS_CACHE == SWAP_MAP_SHMEM)
    }

    /// Slots in use as the map says (for `verify`): each slot's full count
    /// ([`Self::swap_count`]), whether the swap cache holds it and whether it holds the
    /// `SWAP_MAP_SHMEM` mark.
    pub fn used_slots(&self) -> impl Iterator<Item = UsedSlot> + '_ {
        self.swap_map.iter().enumerate().filter(|&(_, &m)| m != 0 && m != SWAP_MAP_BAD).map(
            |(i, &m)| UsedSlot {
                offset: i as u32,
                count: self.swap_count(i as u32),
                has_cache: m & SWAP_HAS_CACHE != 0,
                shmem: m & !SWAP_HAS_CACHE == SWAP_MAP_SHMEM,
            },
        )
    }
}

/// The swap areas (`swap_info[]`, `swap_avail_heads`), `least_priority` and the per-CPU
/// swap slots caches in front of them (`mm/swap_slots.rs`).
#[derive(Debug)]
pub struct SwapAreas {
    pub areas: Vec<Option<SwapInfo>>,
    least_priority: i32,
    pub(super) slots: SwapSlots,
}

impl Default for SwapAreas {
    fn default() -> Self {
        Self::new()
    }
}

impl SwapAreas {
    pub const fn new() -> SwapAreas {
        // 6.1 starts at -1, so the first area without a priority gets -2.
        SwapAreas { areas: Vec::new(), least_priority: -1, slots: SwapSlots::new() }
    }

    /// Whether `bdev` is an active area's device (`claim_swapfile`'s EBUSY).
    pub fn find_bdev(&self, bdev: (usize, u32)) -> Option<usize> {
        self.areas.iter().position(|a| a.as_ref().is_some_and(|a| a.bdev == bdev))
    }

    /// `alloc_swap_info` + `enable_swap_info`: the area gets the first free type and its
    /// priority (`prio` from `SWAP_FLAG_PREFER`, else the next lower negative one), and slots
    /// may be allocated from it. None when all `MAX_SWAPFILES` types are taken (`EPERM`).
    pub fn enable(&mut self, mut si: SwapInfo, prio: Option<i32>) -> Option<usize> {
        let ty = match self.areas.iter().position(Option::is_none) {
            Some(t) => t,
            None if self.areas.len() < MAX_SWAPFILES => {
                self.areas.push(None);
                self.areas.len() - 1
            }
            None => return None,
        };
        si.prio = match prio {
            Some(p) => p,
            None => {
                self.least_priority -= 1;
                self.least_priority
            }
        };
        si.flags |= SwpFlags::WRITEOK;
        self.areas[ty] = Some(si);
        Some(ty)
    }

    /// `swapoff`'s first half: no more slots from the area (`del_from_avail_list`), and the
    /// slots caches drained and off until `swapoff` ends (`disable_swap_slots_cache_lock`),
    /// so every slot of the area is back in its map or in use.
    pub fn stop_allocating(&mut self, ty: usize) {
        if let Some(a) = self.areas.get_mut(ty).and_then(Option::as_mut) {
            a.flags.remove(SwpFlags::WRITEOK);
        }
        self.disable_swap_slots_cache();
    }

    /// `swapoff` failed (`reinsert_swap_info`): slots from the area again, and the slots
    /// caches back on (`reenable_swap_slots_cache_unlock`).
    pub fn reenable(&mut self, ty: usize) {
        if let Some(a) = self.areas.get_mut(ty).and_then(Option::as_mut) {
            a.flags.insert(SwpFlags::WRITEOK);
        }
        self.reenable_swap_slots_cache();
    }

    /// `swapoff`'s end: the area goes; the areas with automatic priorities below it move up
    /// one, as `least_priority` does.
    pub fn remove(&mut self, ty: usize) -> Option<SwapInfo> {
        let si = self.areas.get_mut(ty)?.take()?;
        if si.prio < 0 {
            for a in self.areas.iter_mut().flatten() {
                if a.prio < si.prio {
                    a.prio += 1;
                }
            }
            self.least_priority += 1;
        }
        // `swapoff`'s `reenable_swap_slots_cache_unlock`: on while another area is.
        self.reenable_swap_slots_cache();
        Some(si)
    }

    pub fn get(&self, e: SwpEntry) -> Option<&SwapInfo> {
        self.areas.get(e.swp_type() as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, e: SwpEntry) -> Option<&mut SwapInfo> {
        self.areas.get_mut(e.swp_type() as usize)?.as_mut()
    }

    /// `get_swap_pages` for one slot: from the highest-priority area with a free slot (the
    /// first of equal ones). None when no area has one.
    pub fn get_swap_page(&mut self, usage: u8) -> Option<SwpEntry> {
        self.get_swap_page_reclaiming(usage, |_| false)
    }

    /// [`Self::get_swap_page`] with `__try_to_reclaim_swap`: once swap is more than half full
    /// (`vm_swap_full`), a scan that passes a slot only the swap cache holds asks
    /// `reclaim(entry)` to take its page out of the cache (true when it did) and uses the slot.
    /// A slot for the swap cache comes through this CPU's slots cache (`folio_alloc_swap`).
    pub fn get_swap_page_reclaiming(
        &mut self,
        usage: u8,
        mut reclaim: impl FnMut(SwpEntry) -> bool,
    ) -> Option<SwpEntry> {
        if usage == SWAP_HAS_CACHE {
            return self.folio_alloc_swap(THIS_CPU, &mut reclaim);
        }
        self.get_swap_pages(1, usage, &mut reclaim).pop()
    }

    /// `get_swap_pages(n_goal)`: up to `n_goal` slots (at most `SWAP_BATCH`, and no more than
    /// are free) with `usage`, all from the highest-priority area that has any (the first of
    /// equal ones), as one `scan_swap_map_slots`. Empty when no area has a free slot.
    pub(super) fn get_swap_pages(
        &mut self,
        n_goal: usize,
        usage: u8,
        reclaim: &mut impl FnMut(SwpEntry) -> bool,
    ) -> Vec<SwpEntry> {
        let n_goal = n_goal.min(super::swap_slots::SWAP_BATCH).min(self.nr_pages().0 as usize);
        if n_goal == 0 {
            return Vec::new();
        }
        let swap_full = self.vm_swap_full();
        let use_cache = self.use_swap_slot_cache();
        let mut order: Vec<usize> = (0..self.areas.len())
            .filter(|&t| {
                self.areas[t]
                    .as_ref()
                    .is_some_and(|a| a.flags.contains(SwpFlags::WRITEOK) && a.inuse_pages < a.pages)
            })
            .collect();
        order.sort_by_key(|&t| core::cmp::Reverse(self.areas[t].as_ref().map_or(0, |a| a.prio)));
        for t in order {
            let mut reclaim_slot = |o: u32| reclaim(SwpEntry::new(t as u32, o));
            let mut freed = Vec::new();
            let got = match self.areas[t].as_mut() {
                Some(a) => a.scan_swap_map_slots(
                    usage,
                    n_goal,
                    swap_full,
                    &mut reclaim_slot,
                    use_cache.then_some(&mut freed),
                ),
                None => Vec::new(),
            };
            for o in freed {
                self.free_swap_slot(THIS_CPU, SwpEntry::new(t as u32, o));
            }
            if !got.is_empty() {
                return got.into_iter().map(|o| SwpEntry::new(t as u32, o)).collect();
            }
        }
        Vec::new()
    }

    /// `swap_duplicate` (`usage` 1) / `swapcache_prepare` (`SWAP_HAS_CACHE`).
    pub fn duplicate(&mut self, e: SwpEntry, usage: u8) -> Result<(), SwapCountError> {
        self.get_mut(e).ok_or(SwapCountError::Bad)?.duplicate(e.offset(), usage)
    }

    /// `swap_free` (`usage` 1) / `put_swap_folio` (`SWAP_HAS_CACHE`): what is left. A slot
    /// left with nothing goes to this CPU's slots cache (`free_swap_slot`), which gives it
    /// back to the area with a batch of others, or back at once while the cache is off.
    pub fn put(&mut self, e: SwpEntry, usage: u8) -> Result<u8, SwapCountError> {
        let left =
            self.get_mut(e).ok_or(SwapCountError::Bad)?.entry_put_locked(e.offset(), usage)?;
        if left == 0 {
            self.free_swap_slot(THIS_CPU, e);
        }
        Ok(left)
    }

    /// `__swp_swapcount`.
    pub fn swap_count(&self, e: SwpEntry) -> u32 {
        self.get(e).map_or(0, |a| a.swap_count(e.offset()))
    }

    /// `swap_map` byte of `e` (0 for no such slot).
    pub fn map(&self, e: SwpEntry) -> u8 {
        self.get(e).and_then(|a| a.swap_map.get(e.offset() as usize).copied()).unwrap_or(0)
    }

    /// `get_nr_swap_pages` and `total_swap_pages` over the areas that take slots.
    pub fn nr_pages(&self) -> (u64, u64) {
        let mut free = 0;
        let mut total = 0;
        for a in self.areas.iter().flatten().filter(|a| a.flags.contains(SwpFlags::WRITEOK)) {
            free += u64::from(a.pages - a.inuse_pages);
            total += u64::from(a.pages);
        }
        (free, total)
    }

    /// `vm_swap_full`: more than half of the swap space is in use.
    pub fn vm_swap_full(&self) -> bool {
        let (free, total) = self.nr_pages();
        free * 2 < total
    }
}

/// `swaps_show`: `/proc/swaps`, the header and one line per area (`%-40s%s\t%lu\t\t%lu\t\t%d`
/// with the name padded to 40, `partition` for a block device).
pub fn render_swaps(w: &mut impl core::fmt::Write, areas: &SwapAreas) -> core::fmt::Result {
    w.write_str("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")?;
    for a in areas.areas.iter().flatten().filter(|a| a.flags.contains(SwpFlags::WRITEOK)) {
        let ty = if a.flags.contains(SwpFlags::BLKDEV) { "partition" } else { "file\t" };
        writeln!(
            w,
            "{:<40}{}\t{}\t\t{}\t\t{}",
            a.name,
            ty,
            u64::from(a.pages) * 4,
            u64::from(a.inuse_pages) * 4,
            a.prio
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::swap_header::{make_swap_header, read_swap_header};
    use super::*;
    use proptest::prelude::*;

    fn area(pages: u32, bad: &[u32], ssd: bool) -> SwapInfo {
        let h =
            read_swap_header(&make_swap_header(pages, bad, ""), pages as u64, 1 << 25).unwrap().0;
        SwapInfo::new("/dev/mmcblk0p2", (0, 2), &h, ssd)
    }

    #[test]
    fn proc_swaps_matches_the_reference() {
        let mut a = SwapAreas::new();
        let si = area(65536, &[], true);
        assert_eq!(a.enable(si, None), Some(0));
        let mut s = String::new();
        render_swaps(&mut s, &a).unwrap();
        assert_eq!(
            s,
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
             /dev/mmcblk0p2                          partition\t262140\t\t0\t\t-2\n"
        );
        let second = SwapInfo { bdev: (0, 3), ..area(100, &[], true) };
        assert_eq!(a.enable(second, None), Some(1));
        assert_eq!(a.areas[1].as_ref().unwrap().prio, -3);
        a.remove(0);
        assert_eq!(a.areas[1].as_ref().unwrap().prio, -2);
        assert_eq!(a.enable(area(100, &[], true), None), Some(0));
        assert_eq!(a.areas[0].as_ref().unwrap().prio, -3);
    }

    #[test]
    fn solidstate_areas_fill_clusters_from_the_free_list() {
        let mut a = SwapAreas::new();
        a.enable(area(1024, &[], true), None);
        // Cluster 0 holds the header: the first cluster handed out is 1.
        let e = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        assert_eq!((e.swp_type(), e.offset()), (0, 256));
        assert_eq!(a.get_swap_page(SWAP_HAS_CACHE).unwrap().offset(), 257);
        // Rotational: from slot 1.
        let mut r = SwapAreas::new();
        r.enable(area(1024, &[1], false), None);
        assert_eq!(r.get_swap_page(SWAP_HAS_CACHE).unwrap().offset(), 2);
    }

    #[test]
    fn counts_follow_linux() {
        let mut a = SwapAreas::new();
        a.enable(area(64, &[], true), None);
        let e = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        assert_eq!(a.duplicate(e, SWAP_HAS_CACHE), Err(SwapCountError::Exists));
        a.duplicate(e, 1).unwrap();
        a.duplicate(e, 1).unwrap();
        assert_eq!(a.map(e), SWAP_HAS_CACHE | 2);
        assert_eq!(a.put(e, SWAP_HAS_CACHE), Ok(2));
        assert_eq!(a.duplicate(e, SWAP_HAS_CACHE), Ok(()));
        assert_eq!(a.put(e, 1), Ok(SWAP_HAS_CACHE | 1));
        assert_eq!(a.put(e, 1), Ok(SWAP_HAS_CACHE));
        assert_eq!(a.nr_pages(), (62, 63));
        assert_eq!(a.put(e, SWAP_HAS_CACHE), Ok(0));
        assert_eq!(a.nr_pages(), (63, 63));
        assert_eq!(a.duplicate(e, 1), Err(SwapCountError::NoEntry));
        assert_eq!(a.put(SwpEntry::new(0, 0), 1), Err(SwapCountError::Bad));
        assert_eq!(a.put(SwpEntry::new(3, 1), 1), Err(SwapCountError::Bad));
    }

    #[test]
    fn a_shmem_slot_is_marked_refuses_duplicates_and_goes_with_one_free() {
        let mut a = SwapAreas::new();
        a.enable(area(64, &[], true), None);
        // shmem_writepage: folio_alloc_swap, then swap_shmem_alloc.
        let e = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        a.duplicate(e, SWAP_MAP_SHMEM).unwrap();
        assert_eq!(a.map(e), SWAP_HAS_CACHE | SWAP_MAP_SHMEM);
        assert!(a.get(e).unwrap().is_shmem(e.offset()));
        assert_eq!(a.swap_count(e), 1);
        // __swap_duplicate of the mark: -EINVAL, the byte unchanged; no continuation asked.
        assert_eq!(a.duplicate(e, 1), Err(SwapCountError::Invalid));
        assert_eq!(a.duplicate(e, SWAP_HAS_CACHE), Err(SwapCountError::Exists));
        assert_eq!(a.map(e), SWAP_HAS_CACHE | SWAP_MAP_SHMEM);
        let u: Vec<UsedSlot> = a.areas[0].as_ref().unwrap().used_slots().collect();
        assert_eq!(u, [UsedSlot { offset: e.offset(), count: 1, has_cache: true, shmem: true }]);
        // The write done, the page leaves the cache: the mark stays alone.
        assert_eq!(a.put(e, SWAP_HAS_CACHE), Ok(SWAP_MAP_SHMEM));
        assert_eq!(a.map(e), SWAP_MAP_SHMEM);
        assert_eq!(a.duplicate(e, 1), Err(SwapCountError::Invalid));
        // shmem_swapin_folio reads it back into the cache, then swap_free: one free drops it.
        a.duplicate(e, SWAP_HAS_CACHE).unwrap();
        assert_eq!(a.put(e, 1), Ok(SWAP_HAS_CACHE));
        assert!(!a.get(e).unwrap().is_shmem(e.offset()));
        assert_eq!(a.swap_count(e), 0);
        assert_eq!(a.put(e, SWAP_HAS_CACHE), Ok(0));
        assert_eq!(a.nr_pages(), (63, 63));
        // A free of the mark alone (free_swap_and_cache of a truncated entry) frees the slot.
        let f = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        a.duplicate(f, SWAP_MAP_SHMEM).unwrap();
        a.put(f, SWAP_HAS_CACHE).unwrap();
        assert_eq!(a.put(f, 1), Ok(0));
        assert_eq!(a.map(f), 0);
        assert_eq!(a.put(f, 1), Err(SwapCountError::NoEntry));
        assert_eq!(a.nr_pages(), (63, 63));
    }

    /// A continuation page as the kernel allocates it (garbage in it: the area zeroes it).
    fn cont_page() -> ContPage {
        alloc::vec![0xa5u8; SWAP_MAP_PAGE_SLOTS as usize].into_boxed_slice()
    }

    /// `swap_duplicate`: the count, a continuation page added when it asks for one.
    fn dup(a: &mut SwapAreas, e: SwpEntry) {
        loop {
            match a.duplicate(e, 1) {
                Ok(()) => return,
                Err(SwapCountError::NoMem) => a
                    .get_mut(e)
                    .unwrap()
                    .add_swap_count_continuation(e.offset(), Some(cont_page()))
                    .unwrap(),
                Err(err) => panic!("swap_duplicate {err:?}"),
            }
        }
    }

    #[test]
    fn counts_continue_past_swap_map_max_and_come_back_down() {
        let mut a = SwapAreas::new();
        a.enable(area(9000, &[], true), None);
        let e = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        // Up to SWAP_MAP_MAX in the byte itself; then no page: NoMem, nothing changed, and
        // an allocation that failed is NoMem too.
        for n in 1..=u32::from(SWAP_MAP_MAX) {
            a.duplicate(e, 1).unwrap();
            assert_eq!(a.swap_count(e), n);
        }
        assert_eq!(a.duplicate(e, 1), Err(SwapCountError::NoMem));
        let si = a.get_mut(e).unwrap();
        assert_eq!(si.add_swap_count_continuation(e.offset(), None), Err(SwapCountError::NoMem));
        assert_eq!(a.swap_count(e), u32::from(SWAP_MAP_MAX));
        assert_eq!(a.map(e), SWAP_HAS_CACHE | SWAP_MAP_MAX);
        // One page carries 62 + 63 * 127 = 8063; a second one beyond.
        let one_page = u32::from(SWAP_MAP_MAX) + 63 * u32::from(SWAP_CONT_MAX);
        for n in u32::from(SWAP_MAP_MAX) + 1..=20_000 {
            dup(&mut a, e);
            assert_eq!(a.swap_count(e), n);
            let pages = a.get(e).unwrap().continuation_pages();
            assert_eq!(pages, if n <= one_page { 1 } else { 2 }, "at {n}");
        }
        assert_eq!(a.map(e) & SWAP_HAS_CACHE, SWAP_HAS_CACHE);
        // A page added when none is needed any more is dropped.
        let si = a.get_mut(e).unwrap();
        si.add_swap_count_continuation(e.offset(), Some(cont_page())).unwrap();
        assert_eq!(si.continuation_pages(), 2);
        // A neighbour in the same map page uses the pages already there.
        let f = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        for n in 1..=200 {
            dup(&mut a, f);
            assert_eq!(a.swap_count(f), n);
        }
        assert_eq!(a.get(e).unwrap().continuation_pages(), 2);
        for n in (0..20_000).rev() {
            let left = a.put(e, 1).unwrap();
            assert_eq!(a.swap_count(e), n);
            assert_eq!(left & SWAP_HAS_CACHE, SWAP_HAS_CACHE);
        }
        assert_eq!(a.map(e), SWAP_HAS_CACHE);
        assert_eq!(a.swap_count(f), 200);
        for _ in 0..200 {
            a.put(f, 1).unwrap();
        }
        assert_eq!(a.put(e, SWAP_HAS_CACHE), Ok(0));
        assert_eq!(a.put(f, SWAP_HAS_CACHE), Ok(0));
        assert_eq!(a.nr_pages(), (8999, 8999));
        // The same slot counts up again from a clean start (the digits were left at zero).
        let g = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        for n in 1..=100 {
            dup(&mut a, g);
            assert_eq!(a.swap_count(g), n);
        }
    }

    #[derive(Clone, Debug)]
    enum CountOp {
        Up(usize, u16, bool),
        Down(usize, u16),
    }

    proptest! {
        /// Counts in the thousands up and down on slots of several map pages, against a
        /// model count per slot: `swap_count` always the model's, an allocation that fails
        /// leaves the count as it was, and a slot is freed exactly when its count and cache
        /// reference are gone.
        #[test]
        fn continued_counts_match_a_model(ops in proptest::collection::vec(
            prop_oneof![
                3 => ((0usize..6), 1u16..3000, any::<bool>())
                    .prop_map(|(i, n, f)| CountOp::Up(i, n, f)),
                2 => ((0usize..6), 1u16..3000).prop_map(|(i, n)| CountOp::Down(i, n)),
            ],
            0..24,
        )) {
            let mut a = SwapAreas::new();
            a.enable(area(3 * SWAP_MAP_PAGE_SLOTS, &[], true), None);
            // Six slots over the three map pages, two in each.
            let offsets = [1u32, 2, 4097, 4200, 8192, 12000];
            let slots: Vec<SwpEntry> = offsets.iter().map(|&o| SwpEntry::new(0, o)).collect();
            for &e in &slots {
                let si = a.get_mut(e).unwrap();
                si.swap_map[e.offset() as usize] = 1;
                si.inc_cluster(e.offset());
                si.range_alloc(e.offset());
            }
            let mut model = [1u32; 6];
            for op in ops {
                match op {
                    CountOp::Up(i, n, fail) => {
                        if model[i] == 0 {
                            prop_assert_eq!(a.duplicate(slots[i], 1), Err(SwapCountError::NoEntry));
                            continue;
                        }
                        for _ in 0..n {
                            match a.duplicate(slots[i], 1) {
                                Ok(()) => model[i] += 1,
                                Err(SwapCountError::NoMem) => {
                                    let si = a.get_mut(slots[i]).unwrap();
                                    let page = (!fail).then(cont_page);
                                    let r = si.add_swap_count_continuation(slots[i].offset(), page);
                                    if fail {
                                        prop_assert_eq!(r, Err(SwapCountError::NoMem));
                                        break;
                                    }
                                }
                                Err(err) => prop_assert!(false, "{:?}", err),
                            }
                        }
                    }
                    CountOp::Down(i, n) => {
                        for _ in 0..n.min(model[i] as u16) {
                            a.put(slots[i], 1).unwrap();
                            model[i] -= 1;
                        }
                    }
                }
                for (k, &e) in slots.iter().enumerate() {
                    prop_assert_eq!(a.swap_count(e), model[k]);
                    prop_assert_eq!(a.map(e) == 0, model[k] == 0);
                }
                let used = model.iter().filter(|&&c| c > 0).count() as u64;
                let (free, total) = a.nr_pages();
                prop_assert_eq!(total - free, used);
            }
        }
    }

    /// Fills an area, leaving `free` slots free and `cache_only` held by the swap cache alone
    /// (the rest have a swap PTE and no cache).
    fn filled(pages: u32, free: &[u32], cache_only: &[u32]) -> SwapAreas {
        let mut a = SwapAreas::new();
        a.enable(area(pages, &[], true), None);
        while let Some(e) = a.get_swap_page(SWAP_HAS_CACHE) {
            if !cache_only.contains(&e.offset()) {
                a.duplicate(e, 1).unwrap();
                a.put(e, SWAP_HAS_CACHE).unwrap();
            }
        }
        for &o in free {
            a.put(SwpEntry::new(0, o), 1).unwrap();
        }
        a
    }

    #[test]
    fn a_full_area_takes_back_cache_only_slots() {
        let cache_only: Vec<u32> = (301..=499).step_by(3).collect();
        let mut a = filled(600, &[300, 500], &cache_only);
        assert!(a.vm_swap_full());
        let si = a.areas[0].as_ref().unwrap();
        assert_eq!(si.cache_only_slots(), cache_only.len());
        // No free cluster: the linear scan from cluster_next (256, clamped to lowest_bit)
        // finds slot 300 free; the next scan starts at 301, a slot only the swap cache
        // holds, whose page lets go (`__try_to_reclaim_swap`): the slot is used again.
        let mut asked = Vec::new();
        let mut ask = |e: SwpEntry| {
            asked.push(e.offset());
            true
        };
        assert_eq!(
            a.get_swap_page_reclaiming(SWAP_HAS_CACHE, &mut ask).map(|e| e.offset()),
            Some(300)
        );
        assert_eq!(
            a.get_swap_page_reclaiming(SWAP_HAS_CACHE, &mut ask).map(|e| e.offset()),
            Some(301)
        );
        assert_eq!(asked, [301]);
        assert_eq!(a.map(SwpEntry::new(0, 301)), SWAP_HAS_CACHE, "given out again, to the cache");
        let si = a.areas[0].as_ref().unwrap();
        // 300 and 301 went to the swap cache; 301's old page gave it up.
        assert_eq!(si.cache_only_slots(), cache_only.len() + 1);
        // Pages that cannot let go (under writeback) keep their slots: the scan goes on to
        // the free slot past them.
        let mut refused = Vec::new();
        let e = a.get_swap_page_reclaiming(SWAP_HAS_CACHE, |e| {
            refused.push(e.offset());
            false
        });
        assert_eq!(e.map(|e| e.offset()), Some(500));
        let want: Vec<u32> = cache_only.iter().copied().filter(|&o| o > 301).collect();
        assert_eq!(refused, want);
        for &o in &refused {
            assert_eq!(a.map(SwpEntry::new(0, o)), SWAP_HAS_CACHE);
        }
        // Full now: 6.1 takes a full area off the avail list, so nothing is scanned.
        assert_eq!(a.get_swap_page_reclaiming(SWAP_HAS_CACHE, |_| panic!("not asked")), None);
    }

    #[test]
    fn cache_only_slots_stay_while_swap_is_less_than_half_full() {
        let mut a = SwapAreas::new();
        a.enable(area(1024, &[], true), None);
        let e = a.get_swap_page(SWAP_HAS_CACHE).unwrap();
        assert!(!a.vm_swap_full());
        let f = a.get_swap_page_reclaiming(SWAP_HAS_CACHE, |_| panic!("not asked")).unwrap();
        assert_ne!(e, f);
        assert_eq!(a.map(e), SWAP_HAS_CACHE);
        // A rotational area scans linearly: still nothing taken back below half full.
        let mut r = SwapAreas::new();
        r.enable(area(64, &[], false), None);
        let e = r.get_swap_page(SWAP_HAS_CACHE).unwrap();
        let f = r.get_swap_page_reclaiming(SWAP_HAS_CACHE, |_| panic!("not asked")).unwrap();
        assert_eq!((e.offset(), f.offset()), (1, 2));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Alloc,
        Dup(usize),
        Put(usize),
        PutCache(usize),
    }

    proptest! {
        /// Against a reference model (a count and a cache bit per handed-out slot): never a
        /// slot twice, every slot freed exactly when nothing refers to it, the totals right,
        /// and every usable slot reachable.
        #[test]
        fn allocator_matches_a_reference_model(
            ssd in any::<bool>(),
            bad in proptest::collection::vec(1u32..600, 0..5),
            ops in proptest::collection::vec(
                prop_oneof![
                    4 => Just(Op::Alloc),
                    2 => (0usize..64).prop_map(Op::Dup),
                    3 => (0usize..64).prop_map(Op::Put),
                    3 => (0usize..64).prop_map(Op::PutCache),
                ],
                0..400,
            ),
        ) {
            let mut a = SwapAreas::new();
            a.enable(area(600, &bad, ssd), Some(5));
            let usable = a.nr_pages().1;
            let mut model: alloc::collections::BTreeMap<u32, (u16, bool)> = Default::default();
            for op in ops {
                let keys: Vec<u32> = model.keys().copied().collect();
                match op {
                    Op::Alloc => {
                        match a.get_swap_page(SWAP_HAS_CACHE) {
                            Some(e) => {
                                prop_assert!(!model.contains_key(&e.offset()));
                                prop_assert!(!bad.contains(&e.offset()) && e.offset() != 0);
                                model.insert(e.offset(), (0, true));
                            }
                            None => prop_assert_eq!(model.len() as u64, usable),
                        }
                    }
                    Op::Dup(i) if !keys.is_empty() => {
                        let o = keys[i % keys.len()];
                        dup(&mut a, SwpEntry::new(0, o));
                        model.get_mut(&o).unwrap().0 += 1;
                    }
                    Op::Put(i) if !keys.is_empty() => {
                        let o = keys[i % keys.len()];
                        let m = model[&o];
                        let r = a.put(SwpEntry::new(0, o), 1);
                        if m.0 == 0 {
                            prop_assert_eq!(r, Err(SwapCountError::NoEntry));
                        } else {
                            model.get_mut(&o).unwrap().0 -= 1;
                        }
                    }
                    Op::PutCache(i) if !keys.is_empty() => {
                        let o = keys[i % keys.len()];
                        let m = model[&o];
                        let r = a.put(SwpEntry::new(0, o), SWAP_HAS_CACHE);
                        if !m.1 {
                            prop_assert_eq!(r, Err(SwapCountError::NoEntry));
                        } else {
                            model.get_mut(&o).unwrap().1 = false;
                        }
                    }
                    _ => {}
                }
                model.retain(|_, m| m.0 > 0 || m.1);
                let (free, total) = a.nr_pages();
                prop_assert_eq!(total - free, model.len() as u64);
                for (&o, &(c, cache)) in &model {
                    prop_assert_eq!(a.swap_count(SwpEntry::new(0, o)), u32::from(c));
                    let m = a.map(SwpEntry::new(0, o));
                    prop_assert_eq!(m & SWAP_HAS_CACHE != 0, cache);
                }
            }
            // Everything left can still be allocated, each slot once.
            let mut seen: alloc::collections::BTreeSet<u32> = model.keys().copied().collect();
            while let Some(e) = a.get_swap_page(SWAP_HAS_CACHE) {
                prop_assert!(seen.insert(e.offset()));
            }
            prop_assert_eq!(seen.len() as u64, usable);
        }
    }
}
