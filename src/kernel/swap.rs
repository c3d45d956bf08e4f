//! The running swap: the active areas and the swap cache under one lock, the slots' I/O
//! through the block layer, `swapon`/`swapoff`, and the swap-out API reclaim calls.
//!
//! **Swap-out API** (what `shrink_folio_list` does with an anonymous page, in this order):
//! 1. [`add_to_swap`]`(pfn) -> Option<SwpEntry>`: a slot (`SWAP_HAS_CACHE`) and the page in
//!    the swap cache, dirty. None when no area is on or every slot is taken.
//! 2. `ProcessMm::try_to_unmap_one(va, pfn)` for every (mm, va) mapping the page: the PTE
//!    becomes the swap entry (`swap_duplicate`), `MM_ANONPAGES` -1, `MM_SWAPENTS` +1, TLB
//!    flushed.
//! 3. [`swap_writepage_start`]`(pfn, entry)`: the write to its slot submitted, the page under
//!    writeback (`PG_writeback`); reclaim waits for it with [`swap_writepage_end`] (`pswpout`)
//!    once it holds no lock, so other tasks run meanwhile. While a page is under writeback
//!    nothing frees it or takes it out of the swap cache (`folio_free_swap` and
//!    `free_swap_and_cache` leave it, as 6.1's do): a fault finds it there and maps it.
//! 4. [`end_swap_write`] once the write is done: the page stays in the swap cache, clean,
//!    rotated to the tail of its inactive list when reclaim wrote it (`PG_reclaim`); the next
//!    scan finds it unmapped and clean and frees it ([`delete_from_swap_cache`]`(pfn)` then
//!    [`free_swapped_page`]`(pfn)`, `__remove_mapping` + free): the slot keeps the data for
//!    the swap PTEs.
//!
//! The block layer moves data by PIO through kernel addresses, so a lowmem page's I/O goes
//! to or from the page itself and a highmem page's through a lowmem bounce page
//! (`blk_queue_bounce`), the page itself reached through kmap. Writes wait with interrupts
//! on (the card completes them from its interrupt); a fault's reads are submitted and
//! waited for by the fault once it holds no lock ([`swap_read_start`], [`settle`]).
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::kernel::spinlock::SpinLock;

use crate::abi::errno::Errno;
use crate::block::blk_mq::{BioVec, Completion};
use crate::block::core as blk;
use crate::block::genhd::ReqOp;
use crate::fs::binfmt_elf::RandomSource;
use crate::kernel::mem::{linear_address, with_node, with_page_mapped};
use crate::kernel::process::exec::CounterRandom;
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::page::PageOwner;
use crate::mm::swap::Lruvec;
use crate::mm::swap_header::{read_swap_header, SWAP_HEADER_SIZE};
use crate::mm::swap_state::{CachedPage, SwapCache};
use crate::mm::swapfile::{
    ContPage, SwapAreas, SwapCountError, SwapInfo, UsedSlot, SWAP_HAS_CACHE, SWAP_MAP_PAGE_SLOTS,
    SWAP_MAP_SHMEM,
};
use crate::mm::swapops::SwpEntry;
use crate::mm::Pfn;

/// The areas and the cache.
pub struct SwapState {
    pub areas: SwapAreas,
    pub cache: SwapCache,
}

impl SwapState {
    /// The swap-cache half of `delete_from_swap_cache`, under the swap lock: page `pfn`
    /// leaves the cache and its slot's cache reference is dropped (`put_swap_folio`).
    fn delete_from_cache(&mut self, pfn: u64) -> Option<SwpEntry> {
        let (e, _) = self.cache.remove_pfn(pfn)?;
        let _ = self.areas.put(e, SWAP_HAS_CACHE);
        Some(e)
    }
}

pub static SWAP: SpinLock<SwapState> =
    SpinLock::new(SwapState { areas: SwapAreas::new(), cache: SwapCache::new() });

/// `/proc/vmstat` `pswpin`, `pswpout`, `swap_ra`, `swap_ra_hit`.
pub static PSWPIN: AtomicU64 = AtomicU64::new(0);
pub static PSWPOUT: AtomicU64 = AtomicU64::new(0);
pub static SWAP_RA: AtomicU64 = AtomicU64::new(0);
pub static SWAP_RA_HIT: AtomicU64 = AtomicU64::new(0);
/// `vm.page-cluster`: swap read-ahead of up to `1 << page_cluster` pages (3 by default).
pub static PAGE_CLUSTER: AtomicU32 = AtomicU32::new(3);

/// Sectors per page.
const PAGE_SECTORS: u64 = 8;

/// A lowmem page for one I/O (`blk_queue_bounce`'s bounce page), on the heap. Never
/// `Box::new([0u8; PAGE])`: the compiler may build that array on the kernel stack first, and
/// 4 KiB more on an 8 KiB stack already deep in reclaim or a fault overflowed it into the
/// next task's stack (the two-instance oops under memory pressure).
fn bounce_page() -> alloc::boxed::Box<[u8]> {
    alloc::vec![0u8; SWAP_HEADER_SIZE].into_boxed_slice()
}

/// One page of I/O at page `offset` of `bdev` into or from the kernel address `addr`.
fn page_io(bdev: (usize, u32), op: ReqOp, offset: u32, addr: usize) -> Result<(), Errno> {
    let seg = BioVec { addr, len: SWAP_HEADER_SIZE as u32 };
    let flags = crate::arch::irqflags::local_irq_save();
    crate::arch::irqflags::local_irq_enable();
    let r = blk::submit_bio_wait(
        bdev.0,
        bdev.1,
        op,
        u64::from(offset) * PAGE_SECTORS,
        alloc::vec![seg],
    );
    crate::arch::irqflags::local_irq_restore(flags);
    r
}

/// A page-sized buffer's I/O (the swap header).
fn bounce_io(bdev: (usize, u32), op: ReqOp, offset: u32, buf: &mut [u8]) -> Result<(), Errno> {
    assert_eq!(buf.len(), SWAP_HEADER_SIZE, "swap I/O is a page at a time");
    page_io(bdev, op, offset, buf.as_mut_ptr() as usize)
}

/// Page `pfn`'s I/O: a lowmem page is read or written where it is; a highmem page, which
/// the PIO path cannot reach outside a short kmap, goes through a lowmem bounce page
/// (`blk_queue_bounce`).
fn swap_page_io(bdev: (usize, u32), op: ReqOp, offset: u32, pfn: Pfn) -> Result<(), Errno> {
    if let Some(va) = linear_address(pfn) {
        return page_io(bdev, op, offset, va as usize);
    }
    let mut buf = bounce_page();
    if op == ReqOp::Write {
        with_page_mapped(pfn, |k| {
            // SAFETY: `k` maps the whole page; the bounce buffer is a page.
            unsafe { core::ptr::copy_nonoverlapping(k, buf.as_mut_ptr(), SWAP_HEADER_SIZE) }
        })
        .map_err(|_| Errno::EFAULT)?;
    }
    bounce_io(bdev, op, offset, &mut buf)?;
    if op == ReqOp::Read {
        with_page_mapped(pfn, |k| {
            // SAFETY: as above, the other way.
            unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), k, SWAP_HEADER_SIZE) }
        })
        .map_err(|_| Errno::EFAULT)?;
    }
    Ok(())
}

fn bdev_of(e: SwpEntry) -> Option<(usize, u32)> {
    SWAP.lock().areas.get(e).map(|a| a.bdev)
}

/// The plug a batch of swap I/O is submitted under (6.1's `blk_start_plug` around
/// `shrink_folio_list`'s writes, `MADV_PAGEOUT`'s, and `swap_vma_readahead`'s window of
/// reads): started on the first
/// bio's disk, so slots next to each other on the card go as one request. Its bios reach
/// the disk's queue when it is finished or dropped; the submitter finishes it before it
/// waits for any of them, and neither sleeps nor schedules while it holds one.
#[derive(Default)]
pub struct SwapPlug(Option<blk::BlkPlug>);

impl SwapPlug {
    pub const fn new() -> Self {
        SwapPlug(None)
    }

    fn submit(
        &mut self,
        bdev: (usize, u32),
        op: ReqOp,
        sector: u64,
        segs: Vec<BioVec>,
    ) -> Result<Arc<Completion>, Errno> {
        let plug = self.0.get_or_insert_with(|| blk::blk_start_plug(bdev.0));
        if plug.disk() != bdev.0 {
            // Another disk's bio (a second area): not held.
            return blk::submit_bio(bdev.0, bdev.1, op, sector, segs);
        }
        plug.submit_bio(bdev.1, op, sector, segs)
    }

    /// `blk_finish_plug`: the bios go to the disk's queue, the driver starts.
    pub fn finish(&mut self) {
        self.0 = None;
    }
}

/// Submits a bio, under `plug` when there is one.
fn submit_swap_bio(
    plug: Option<&mut SwapPlug>,
    bdev: (usize, u32),
    op: ReqOp,
    sector: u64,
    seg: BioVec,
) -> Result<Arc<Completion>, Errno> {
    match plug {
        Some(p) => p.submit(bdev, op, sector, alloc::vec![seg]),
        None => blk::submit_bio(bdev.0, bdev.1, op, sector, alloc::vec![seg]),
    }
}

/// `swap_writepage`: the page's contents to its slot, waiting for the write; `pswpout`.
pub fn swap_writepage(pfn: Pfn, e: SwpEntry) -> Result<(), Errno> {
    let bdev = bdev_of(e).ok_or(Errno::EINVAL)?;
    swap_page_io(bdev, ReqOp::Write, e.offset(), pfn)?;
    PSWPOUT.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Pages whose swap-out write is in flight (`PG_writeback`): the frame, and the write's disk
/// and bio (a fault on a shmem page waits for it: [`writeback_wait`]).
static WRITEBACK: SpinLock<Vec<(u64, usize, Arc<Completion>)>> = SpinLock::new(Vec::new());

/// A swap-out write in flight: the page, its bio, and the lowmem bounce page a highmem
/// page's data went out through (kept until the bio is done).
pub struct SwapWrite {
    pub pfn: Pfn,
    disk: usize,
    done: Arc<Completion>,
    _bounce: Option<alloc::boxed::Box<[u8]>>,
}

/// `__swap_writepage` without the wait: the page (in the swap cache at `e`, unmapped) goes
/// under writeback and its write is submitted, under `plug` when given (reclaim's batch);
/// [`swap_writepage_end`] waits for it once the plug is finished.
pub fn swap_writepage_start(
    pfn: Pfn,
    e: SwpEntry,
    plug: Option<&mut SwapPlug>,
) -> Result<SwapWrite, Errno> {
    let bdev = bdev_of(e).ok_or(Errno::EINVAL)?;
    let (addr, bounce) = match linear_address(pfn) {
        Some(a) => (a as usize, None),
        None => {
            let mut b = bounce_page();
            with_page_mapped(pfn, |k| {
                // SAFETY: `k` maps the whole page; the bounce buffer is a page.
                unsafe { core::ptr::copy_nonoverlapping(k, b.as_mut_ptr(), SWAP_HEADER_SIZE) }
            })
            .map_err(|_| Errno::EFAULT)?;
            (b.as_ptr() as usize, Some(b))
        }
    };
    let seg = BioVec { addr, len: SWAP_HEADER_SIZE as u32 };
    let sector = u64::from(e.offset()) * PAGE_SECTORS;
    let done = submit_swap_bio(plug, bdev, ReqOp::Write, sector, seg)?;
    WRITEBACK.lock().push((pfn.0, bdev.0, done.clone()));
    Ok(SwapWrite { pfn, disk: bdev.0, done, _bounce: bounce })
}

/// `end_swap_bio_write` + `folio_end_writeback`: waits for the write (asleep when the caller
/// holds no lock), counts `pswpout` when it succeeded, and the page leaves writeback.
pub fn swap_writepage_end(w: SwapWrite) -> Result<(), Errno> {
    let r = blk::wait_bio(w.disk, &w.done);
    if r.is_ok() {
        PSWPOUT.fetch_add(1, Ordering::Relaxed);
    }
    end_writeback(w.pfn);
    r
}

/// The end of a swap-out write (`end_swap_bio_write` + `folio_end_writeback`), once its
/// submitter holds no lock: waits for it ([`swap_writepage_end`]). A failed write leaves the
/// page dirty (written again on a later pass) and drops `PG_reclaim`. A written page stays in
/// the swap cache, clean, as 6.1 leaves it: one reclaim wrote (`PG_reclaim`) moves to the
/// tail of its inactive list (`folio_rotate_reclaimable`, `pgrotated`), where the next scan
/// frees it, and a fault meanwhile finds it in the cache (a minor fault, no read). Only a page
/// nothing refers to any more (its last swap PTE zapped during the write, which had to leave
/// it: see [`free_swap_and_cache`]) is freed now. Whether it was freed.
pub fn end_swap_write(w: SwapWrite) -> bool {
    let pfn = w.pfn;
    if swap_writepage_end(w).is_err() {
        with_node(|n| {
            let (_, map) = n.lru_mut();
            Lruvec::folio_set_dirty(map, pfn, true);
            Lruvec::folio_set_reclaim(map, pfn, false);
        });
        return false;
    }
    with_node(|n| {
        let (lru, map) = n.lru_mut();
        lru.folio_end_writeback_reclaim(map, pfn)
    });
    let orphan = {
        let mut s = SWAP.lock();
        match s.cache.entry_of(pfn.0) {
            Some(e) if s.areas.swap_count(e) == 0 && s.cache.get(e).is_some_and(|c| !c.mapped) => {
                s.delete_from_cache(pfn.0);
                true
            }
            _ => false,
        }
    };
    if orphan {
        free_swapped_page(pfn);
    }
    orphan
}

fn end_writeback(pfn: Pfn) {
    let mut wb = WRITEBACK.lock();
    if let Some(i) = wb.iter().position(|w| w.0 == pfn.0) {
        wb.swap_remove(i);
    }
}

/// `folio_test_writeback`.
pub fn under_writeback(pfn: Pfn) -> bool {
    WRITEBACK.lock().iter().any(|w| w.0 == pfn.0)
}

/// `folio_wait_writeback` of `shmem_swapin_folio`: the write of slot `e`'s cached page, when
/// its bio is still in flight (its disk and bio, for the caller to sleep on with its locks
/// dropped and then look again). None once the bio is done: the write has ended (6.1 ends
/// writeback from the bio's completion; pivm's submitter clears `PG_writeback` when it next
/// runs, and then finds the page out of the swap cache and leaves it be).
pub fn writeback_wait(e: SwpEntry) -> Option<(usize, Arc<Completion>)> {
    let pfn = SWAP.lock().cache.get(e)?.pfn;
    let wb = WRITEBACK.lock();
    wb.iter().find(|w| w.0 == pfn && !w.2.is_done()).map(|w| (w.1, w.2.clone()))
}

/// Whether any swap-out write is in flight.
pub fn writeback_pending() -> bool {
    !WRITEBACK.lock().is_empty()
}

/// `folio_alloc_swap` + `add_to_swap_cache`: a slot for the mapped anonymous page `pfn`,
/// the page in the swap cache and marked dirty (`PG_dirty`: it must be written before it can
/// go). With swap more than half full the slot scan takes back slots only the swap cache
/// holds ([`reclaim_cache_only`]).
pub fn add_to_swap(pfn: Pfn) -> Option<SwpEntry> {
    add_to_swap_as(pfn, true, 0)
}

/// `shmem_writepage`'s `folio_alloc_swap` + `add_to_swap_cache` + `swap_shmem_alloc`: a slot
/// for the unmapped shmem page `pfn`, the page in the swap cache (no PTE maps it: not in
/// `AnonPages`), dirty, and the slot's reference for the entry the shmem index will hold in
/// the page's place, marked `SWAP_MAP_SHMEM` as 6.1's `swap_shmem_alloc` marks it (an entry
/// of the index is never shared: the mark refuses a second reference, one free drops it).
pub fn shmem_add_to_swap(pfn: Pfn) -> Option<SwpEntry> {
    add_to_swap_as(pfn, false, SWAP_MAP_SHMEM)
}

/// [`add_to_swap`] for a page `mapped` or not, the slot's count raised by `refs` besides the
/// cache's reference (`swap_duplicate`'s usage: a count, or `SWAP_MAP_SHMEM`).
fn add_to_swap_as(pfn: Pfn, mapped: bool, refs: u8) -> Option<SwpEntry> {
    // A refill of the slots cache may take back several cache-only slots in one scan.
    let mut released: Vec<(Pfn, bool)> = Vec::new();
    let e = 'alloc: {
        let mut s = SWAP.lock();
        if s.cache.entry_of(pfn.0).is_some() {
            return None;
        }
        let SwapState { areas, cache } = &mut *s;
        let Some(e) = areas.get_swap_page_reclaiming(SWAP_HAS_CACHE, |e| {
            let freed = reclaim_cache_only(cache, e);
            released.extend(freed);
            freed.is_some()
        }) else {
            break 'alloc None;
        };
        if !cache.insert(e, CachedPage { pfn: pfn.0, readahead: false, mapped }) {
            // No memory for the cache's index: the slot goes back, the page stays.
            let _ = areas.put(e, SWAP_HAS_CACHE);
            break 'alloc None;
        }
        if refs > 0 && areas.duplicate(e, refs).is_err() {
            cache.remove_pfn(pfn.0);
            let _ = areas.put(e, SWAP_HAS_CACHE);
            break 'alloc None;
        }
        Some(e)
    };
    for p in released {
        release_cache_only(p);
    }
    let e = e?;
    crate::kernel::process::reclaim::folio_mark_dirty(pfn);
    Some(e)
}

/// `__try_to_reclaim_swap(TTRS_ANYWAY)` for a slot only the swap cache holds, from the slot
/// scan: `folio_free_swap` takes its page out of the cache (the caller drops the slot's cache
/// reference and reuses it) unless its write is in flight; [`release_cache_only`] then deals
/// with the page, once the swap lock is let go. The page let go and whether a PTE maps it.
fn reclaim_cache_only(cache: &mut SwapCache, e: SwpEntry) -> Option<(Pfn, bool)> {
    let c = cache.get(e)?;
    if under_writeback(Pfn(c.pfn)) {
        return None;
    }
    cache.remove_pfn(c.pfn)?;
    Some((Pfn(c.pfn), c.mapped))
}

/// The page [`reclaim_cache_only`] took out of the swap cache: a mapped one stays mapped and
/// on its list, dirty (`folio_free_swap`: its only copy is the page now); one no PTE maps has
/// nothing left referring to it (no PTE, no swap PTE, no cache) and is freed, as 6.1's last
/// `folio_put` frees it after `__try_to_reclaim_swap`. A reclaimer holding it isolated
/// meanwhile keeps it, dirty: it is reclaimed like any page.
fn release_cache_only((pfn, mapped): (Pfn, bool)) {
    let freed = !mapped
        && with_node(|n| {
            let (lru, map) = n.lru_mut();
            let on_list = crate::mm::swap::page_lru_flags(map, pfn)
                .is_some_and(|f| f.contains(crate::mm::page::LruFlags::PG_lru));
            if on_list {
                let _ = lru.folio_del_lru(map, pfn);
                let _ = n.free_pages_for(PageOwner::Anon, pfn, 0);
            }
            on_list
        });
    if !freed {
        crate::kernel::process::reclaim::folio_mark_dirty(pfn);
    }
}

/// The swap entry of a page in the swap cache (`folio_test_swapcache` + `folio->swap`).
pub fn page_swap_entry(pfn: Pfn) -> Option<SwpEntry> {
    SWAP.lock().cache.entry_of(pfn.0)
}

/// `shmem_swapin_folio`'s end for the cached page `pfn` of slot `e`: the page leaves the
/// swap cache (`delete_from_swap_cache`) and the shmem index's reference to the slot goes
/// (`swap_free`), which frees the slot; the page goes back to its file's page cache. False,
/// changing nothing, when `pfn` is not `e`'s cached page.
///
/// Its callers first wait for a write of the page still in flight ([`writeback_wait`]); a
/// page whose bio is done but whose writer has not yet cleared `PG_writeback` is taken, and
/// the writer's end finds it out of the swap cache and leaves it be.
pub fn shmem_swapin_take(pfn: Pfn, e: SwpEntry) -> bool {
    let mut s = SWAP.lock();
    if s.cache.entry_of(pfn.0) != Some(e) {
        return false;
    }
    s.delete_from_cache(pfn.0);
    let _ = s.areas.put(e, 1);
    true
}

/// `delete_from_swap_cache`: the page leaves the cache and drops the slot's cache reference
/// (`put_swap_folio`); the slot is freed if no swap PTE refers to it. The page itself stays.
pub fn delete_from_swap_cache(pfn: Pfn) -> Option<SwpEntry> {
    SWAP.lock().delete_from_cache(pfn.0)
}

/// Frees a page no PTE maps any more and the swap cache has let go: off its LRU list first
/// (`__page_cache_release`; a page never listed is left as it is), then back.
pub fn free_swapped_page(pfn: Pfn) {
    let _ = with_node(|n| {
        let (lru, map) = n.lru_mut();
        let _ = lru.folio_del_lru(map, pfn);
        n.free_pages_for(PageOwner::Anon, pfn, 0)
    });
}

/// Whether a PTE still maps the cached page `pfn` (false when it is not in the cache).
pub fn cache_mapped(pfn: Pfn) -> bool {
    let s = SWAP.lock();
    s.cache.entry_of(pfn.0).and_then(|e| s.cache.get(e)).is_some_and(|c| c.mapped)
}

/// The cache's page unmapped by its last PTE and its mapping counted out of `AnonPages`.
fn note_unmapped(c: &mut CachedPage) {
    if c.mapped {
        c.mapped = false;
        crate::kernel::process::mm::NR_ANON_PAGES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `try_to_unmap_one`'s bookkeeping once the last PTE of cached page `pfn` became a swap
/// entry: the page is unmapped (out of `AnonPages`), still in the cache.
pub fn unmapped_to_swap(pfn: Pfn) {
    let mut s = SWAP.lock();
    if let Some(e) = s.cache.entry_of(pfn.0) {
        s.cache.update(e, note_unmapped);
    }
}

/// `__swp_swapcount`: the slot's swap PTEs, continuation digits included.
pub fn swap_count(e: SwpEntry) -> u32 {
    SWAP.lock().areas.swap_count(e)
}

/// `swap_duplicate`: one more swap PTE for `e`. A count past `SWAP_MAP_MAX` needs a
/// continuation page: allocated with the swap lock let go (`add_swap_count_continuation`,
/// which may find another task added one meanwhile), then the count tried again. `ENOMEM`
/// only when that allocation fails, `ENOENT`/`EINVAL` for a free or bad slot.
pub fn swap_duplicate(e: SwpEntry) -> Result<(), Errno> {
    loop {
        match SWAP.lock().areas.duplicate(e, 1) {
            Ok(()) => return Ok(()),
            Err(SwapCountError::NoMem) => {}
            Err(SwapCountError::NoEntry) => return Err(Errno::ENOENT),
            Err(_) => return Err(Errno::EINVAL),
        }
        let page = continuation_page();
        let mut s = SWAP.lock();
        let area = s.areas.get_mut(e).ok_or(Errno::EINVAL)?;
        area.add_swap_count_continuation(e.offset(), page).map_err(|_| Errno::ENOMEM)?;
    }
}

/// A zeroed page for `swap_map` count continuations (6.1's `alloc_page`): a page-sized kmalloc
/// (an order-0 page), None when memory is out.
fn continuation_page() -> Option<ContPage> {
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(SWAP_MAP_PAGE_SLOTS as usize).ok()?;
    v.resize(SWAP_MAP_PAGE_SLOTS as usize, 0);
    Some(v.into_boxed_slice())
}

/// `swap_free`: one swap PTE fewer.
pub fn swap_free(e: SwpEntry) {
    let _ = SWAP.lock().areas.put(e, 1);
}

/// `free_swap_and_cache` (zap of a swap PTE): drops the PTE's count; a cached page nothing
/// maps and no other swap PTE refers to leaves the cache and is freed.
///
/// A finished read of the slot is settled first: 6.1 puts a read-ahead page in the swap cache
/// before its read, so this zap finds it there and frees it. Unsettled, a page read ahead and
/// never faulted, whose process then unmapped it or exited, kept its page and its slot's
/// cache reference out of every cache and list (neither `SwapCached` nor reclaim saw them)
/// until something else settled every read (`verify`, `swapoff`): `swapmonkey` left 3 to 5
/// slots in use after it exited.
pub fn free_swap_and_cache(e: SwpEntry) {
    settle(e);
    let free = {
        let mut s = SWAP.lock();
        let left = s.areas.put(e, 1).unwrap_or(0);
        match s.cache.get(e) {
            Some(c) if left == SWAP_HAS_CACHE && !c.mapped && !under_writeback(Pfn(c.pfn)) => {
                let pfn = c.pfn;
                s.delete_from_cache(pfn);
                Some(pfn)
            }
            _ => None,
        }
    };
    if let Some(pfn) = free {
        free_swapped_page(Pfn(pfn));
    }
}

/// Called when the last PTE mapping `pfn` goes (zap, COW replacement). A swap-cache page is
/// not freed with its mapping: it stays cached while a swap PTE still refers to its slot,
/// and is freed with the slot's cache reference otherwise (`free_swap_cache`). False for a
/// page not in the cache (the caller frees it).
pub fn page_unmapped(pfn: Pfn) -> bool {
    let free = {
        let mut s = SWAP.lock();
        let Some(e) = s.cache.entry_of(pfn.0) else { return false };
        s.cache.update(e, note_unmapped);
        // Under writeback it stays (reclaim frees it once the write is done).
        if s.areas.swap_count(e) == 0 && !under_writeback(pfn) {
            s.delete_from_cache(pfn.0);
            true
        } else {
            false
        }
    };
    if free {
        free_swapped_page(pfn);
    }
    true
}

/// `page_unmapped` for a batch of anonymous pages whose last PTE went (exit and `munmap`
/// release them together): one swap lock for all. The pages not in the swap cache (the
/// caller frees them) are moved to the front of `pfns`; their count.
pub fn pages_unmapped(pfns: &mut [Pfn]) -> usize {
    /// The pages looked up per swap lock (freed after it is dropped).
    const CHUNK: usize = 32;
    let (mut kept, mut at) = (0, 0);
    if SWAP.lock().cache.is_empty() {
        return pfns.len();
    }
    while at < pfns.len() {
        let stop = pfns.len().min(at + CHUNK);
        let mut freed = [Pfn(0); CHUNK];
        let mut n_freed = 0;
        {
            let mut s = SWAP.lock();
            for i in at..stop {
                let pfn = pfns[i];
                let Some(e) = s.cache.entry_of(pfn.0) else {
                    pfns[kept] = pfn;
                    kept += 1;
                    continue;
                };
                s.cache.update(e, note_unmapped);
                // Under writeback it stays, as in page_unmapped: the write still reads it,
                // and reclaim frees it once the write is done.
                if s.areas.swap_count(e) == 0 && !under_writeback(pfn) {
                    s.delete_from_cache(pfn.0);
                    freed[n_freed] = pfn;
                    n_freed += 1;
                }
            }
        }
        for &pfn in &freed[..n_freed] {
            free_swapped_page(pfn);
        }
        at = stop;
    }
    kept
}

/// Whether the cached page `pfn` is also another process's through a swap PTE (so not this
/// mm's to reuse on a write: `folio_free_swap` would fail).
pub fn swapcache_shared(pfn: Pfn) -> bool {
    let s = SWAP.lock();
    s.cache.entry_of(pfn.0).is_some_and(|e| s.areas.swap_count(e) > 0)
}

/// `folio_free_swap`: a mapped cached page whose slot no swap PTE refers to leaves the cache
/// (its copy on the card would be stale after a write). Whether it is out of the cache now.
pub fn try_free_swap(pfn: Pfn) -> bool {
    let mut s = SWAP.lock();
    let Some(e) = s.cache.entry_of(pfn.0) else { return true };
    if s.areas.swap_count(e) > 0 || under_writeback(pfn) {
        return false;
    }
    s.delete_from_cache(pfn.0);
    true
}

/// `folio_free_swap` for `activate_locked`: with swap more than half full, a page in the swap
/// cache that no swap PTE refers to and whose write is not in flight leaves the cache and
/// gives its slot up, marked dirty (the page is its only copy now). Whether it did.
pub fn activate_free_swap(pfn: Pfn) -> bool {
    let freed = {
        let mut s = SWAP.lock();
        let Some(e) = s.cache.entry_of(pfn.0) else { return false };
        if !s.areas.vm_swap_full() || s.areas.swap_count(e) > 0 || under_writeback(pfn) {
            return false;
        }
        s.delete_from_cache(pfn.0);
        true
    };
    crate::kernel::process::reclaim::folio_mark_dirty(pfn);
    freed
}

/// The swap cache's pages: how many, how many a PTE maps, how many are under writeback
/// (the console's `swapcache`).
pub fn cache_counts() -> (usize, usize, usize) {
    let s = SWAP.lock();
    let (mut n, mut mapped, mut wb) = (0, 0, 0);
    for (_, c) in s.cache.iter() {
        n += 1;
        mapped += c.mapped as usize;
        wb += under_writeback(Pfn(c.pfn)) as usize;
    }
    (n, mapped, wb)
}

/// The console's `swapcache drop`: every page the next reclaim scan would free from the swap
/// cache at once (`__remove_mapping` of a page no PTE maps, clean, not under writeback, on
/// its list) leaves the cache and is freed; its slot keeps the data for the swap PTEs, so the
/// next touch reads it back (a major fault). What a test needs to see swap-in after
/// `MADV_PAGEOUT`, which leaves the pages cached as 6.1 does. The pages freed.
pub fn drop_clean_swap_cache() -> usize {
    let unmapped: Vec<(SwpEntry, Pfn)> =
        SWAP.lock().cache.iter().filter(|(_, c)| !c.mapped).map(|(e, c)| (e, Pfn(c.pfn))).collect();
    let mut freed = 0;
    for (e, pfn) in unmapped {
        let clean_on_list = with_node(|n| {
            let (_, map) = n.lru_mut();
            crate::mm::swap::page_lru_flags(map, pfn).is_some_and(|f| {
                use crate::mm::page::LruFlags;
                f.contains(LruFlags::PG_lru) && !f.contains(LruFlags::PG_dirty)
            })
        });
        let take = clean_on_list && {
            let mut s = SWAP.lock();
            let ok = s.cache.get(e).is_some_and(|c| c.pfn == pfn.0 && !c.mapped)
                && !under_writeback(pfn);
            if ok {
                s.delete_from_cache(pfn.0);
            }
            ok
        };
        if take {
            free_swapped_page(pfn);
            freed += 1;
        }
    }
    freed
}

/// `vm_swap_full`.
pub fn vm_swap_full() -> bool {
    SWAP.lock().areas.vm_swap_full()
}

/// `lookup_swap_cache`: the cached page of `e` and whether it had been read ahead (its
/// `PG_readahead` cleared; `swap_ra_hit` counted).
pub fn lookup_swap_cache(e: SwpEntry) -> Option<(Pfn, bool)> {
    settle(e);
    let mut s = SWAP.lock();
    let (pfn, readahead) =
        s.cache.update(e, |c| (c.pfn, core::mem::replace(&mut c.readahead, false)))?;
    if readahead {
        SWAP_RA_HIT.fetch_add(1, Ordering::Relaxed);
    }
    Some((Pfn(pfn), readahead))
}

/// A PTE now maps cached page `pfn`; whether one already did (the new one is then an extra
/// mapping). A first mapping counts in `AnonPages` again.
pub fn mark_mapped(pfn: Pfn) -> bool {
    let mut s = SWAP.lock();
    let Some(e) = s.cache.entry_of(pfn.0) else { return false };
    let Some(was) = s.cache.update(e, |c| core::mem::replace(&mut c.mapped, true)) else {
        return false;
    };
    if !was {
        crate::kernel::process::mm::NR_ANON_PAGES.fetch_add(1, Ordering::Relaxed);
    }
    was
}

/// Whether `e` is in the cache (without touching its flags).
pub fn in_cache(e: SwpEntry) -> bool {
    settle(e);
    SWAP.lock().cache.get(e).is_some() || PENDING.lock().contains_key(&e)
}

/// `read_swap_cache_async` waiting for its read (swapoff's `unuse_pte_range`): the page for
/// slot `e`, from the cache or read in and put there (unmapped; `readahead` sets
/// `PG_readahead`). `ENOENT` when the slot is free or cache-only, `ENOMEM` without a page,
/// `EIO` for a failed read; a failure leaves nothing behind. The wait idles (the caller may
/// hold the task table).
pub fn read_swap_cache_async(e: SwpEntry, readahead: bool, va: usize) -> Result<Pfn, Errno> {
    match swap_read_start(e, readahead, va, None)? {
        SwapRead::Cached(pfn) => Ok(pfn),
        SwapRead::InFlight(disk, done) => {
            let _ = blk::wait_bio(disk, &done);
            settle(e);
            lookup_swap_cache(e).map(|(p, _)| p).ok_or(Errno::EIO)
        }
    }
}

/// A swap-in read in flight (`PG_locked` on a page not yet up to date): the slot holds
/// `SWAP_HAS_CACHE` (so it is neither freed nor given out again), and the page is in no cache
/// and on no list until the read is done and [`settle`] puts it in the swap cache. A highmem
/// page is read into a lowmem bounce page and copied then.
struct PendingRead {
    pfn: Pfn,
    disk: usize,
    done: Arc<Completion>,
    readahead: bool,
    va: usize,
    bounce: Option<alloc::boxed::Box<[u8]>>,
}

/// The swap-in reads in flight, by entry.
static PENDING: SpinLock<BTreeMap<SwpEntry, PendingRead>> = SpinLock::new(BTreeMap::new());

/// What [`swap_read_start`] found or did for an entry.
pub enum SwapRead {
    /// The page is in the swap cache (settled).
    Cached(Pfn),
    /// Its read is in flight (started now or earlier): wait for this bio on this disk.
    InFlight(usize, Arc<Completion>),
}

/// `__read_swap_cache_async` + `swap_readpage` without the wait: the page for slot `e` from
/// the cache, or a new page whose read is submitted (`swapcache_prepare` reserves the slot
/// with `SWAP_HAS_CACHE` first, so a concurrent fault finds it in flight and waits, and the
/// slot cannot be reused before the read lands). `ENOENT` for a free or cache-only slot,
/// `ENOMEM` without a page, `EIO` when the block layer refused the bio. Under `plug` (a
/// read-ahead window's, as `swap_vma_readahead` holds one) the bio waits in the plug's list
/// until the caller finishes it, which it does before it waits for any of the window's reads.
pub fn swap_read_start(
    e: SwpEntry,
    readahead: bool,
    va: usize,
    plug: Option<&mut SwapPlug>,
) -> Result<SwapRead, Errno> {
    swap_read_start_gfp(e, readahead, va, plug, GfpFlags::GFP_HIGHUSER_MOVABLE)
}

/// [`swap_read_start`] with the new page allocated by `gfp` (a rootfs file's page is read
/// through the linear map, so it is brought back in lowmem).
pub fn swap_read_start_gfp(
    e: SwpEntry,
    readahead: bool,
    va: usize,
    plug: Option<&mut SwapPlug>,
    gfp: GfpFlags,
) -> Result<SwapRead, Errno> {
    settle(e);
    if let Some(c) = SWAP.lock().cache.get(e) {
        return Ok(SwapRead::Cached(Pfn(c.pfn)));
    }
    if let Some(p) = PENDING.lock().get(&e) {
        return Ok(SwapRead::InFlight(p.disk, p.done.clone()));
    }
    let bdev = bdev_of(e).ok_or(Errno::ENOENT)?;
    let pfn =
        with_node(|n| n.alloc_pages_for(PageOwner::Anon, gfp, 0)).map_err(|_| Errno::ENOMEM)?;
    {
        let mut s = SWAP.lock();
        if s.areas.swap_count(e) == 0 || s.areas.duplicate(e, SWAP_HAS_CACHE).is_err() {
            drop(s);
            free_swapped_page(pfn);
            return Err(Errno::ENOENT);
        }
    }
    let (addr, bounce) = match linear_address(pfn) {
        Some(a) => (a as usize, None),
        None => {
            let b = bounce_page();
            (b.as_ptr() as usize, Some(b))
        }
    };
    let seg = BioVec { addr, len: SWAP_HEADER_SIZE as u32 };
    let sector = u64::from(e.offset()) * PAGE_SECTORS;
    match submit_swap_bio(plug, bdev, ReqOp::Read, sector, seg) {
        Ok(done) => {
            let p = PendingRead { pfn, disk: bdev.0, done: done.clone(), readahead, va, bounce };
            PENDING.lock().insert(e, p);
            Ok(SwapRead::InFlight(bdev.0, done))
        }
        Err(_) => {
            let _ = SWAP.lock().areas.put(e, SWAP_HAS_CACHE);
            free_swapped_page(pfn);
            Err(Errno::EIO)
        }
    }
}

/// The read of `e` in flight, if one is (after settling a finished one): its disk and bio.
pub fn in_flight(e: SwpEntry) -> Option<(usize, Arc<Completion>)> {
    settle(e);
    PENDING.lock().get(&e).map(|p| (p.disk, p.done.clone()))
}

/// Finishes `e`'s read if it is done (`end_swap_bio_read` + the unlock): a good page joins
/// the swap cache (`pswpin`) and the inactive anon list, keyed by its address, unless no swap
/// PTE refers to the slot any more (then it and the slot's cache reference go); a failed read
/// leaves nothing behind. True while the read is still in flight.
pub fn settle(e: SwpEntry) -> bool {
    let p = {
        let mut pend = PENDING.lock();
        match pend.get(&e) {
            None => return false,
            Some(p) if !p.done.is_done() => return true,
            Some(_) => pend.remove(&e).expect("just found"),
        }
    };
    finish_read(e, p);
    false
}

fn finish_read(e: SwpEntry, p: PendingRead) {
    let ok = p.done.status() == 0
        && match &p.bounce {
            None => true,
            Some(b) => with_page_mapped(p.pfn, |k| {
                // SAFETY: `k` maps the whole page; the bounce buffer is a page.
                unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), k, SWAP_HEADER_SIZE) }
            })
            .is_ok(),
        };
    let keep = {
        let mut s = SWAP.lock();
        let page = CachedPage { pfn: p.pfn.0, readahead: p.readahead, mapped: false };
        // Without memory for the cache's index the page goes as a failed read's would.
        if ok && s.areas.swap_count(e) > 0 && s.cache.insert(e, page) {
            true
        } else {
            let _ = s.areas.put(e, SWAP_HAS_CACHE);
            false
        }
    };
    if ok {
        PSWPIN.fetch_add(1, Ordering::Relaxed);
    }
    if keep {
        crate::kernel::process::reclaim::lru_add_anon(p.pfn, p.va);
    } else {
        free_swapped_page(p.pfn);
    }
}

/// Settles every finished read; the entries still in flight.
pub fn settle_all() -> Vec<SwpEntry> {
    let keys: Vec<SwpEntry> = PENDING.lock().keys().copied().collect();
    keys.into_iter().filter(|&e| settle(e)).collect()
}

/// Waits (idle: the caller may hold the task table) for every read in flight, then settles
/// them (swapoff, which must see every page).
pub fn settle_all_wait() {
    let waits: Vec<(usize, Arc<Completion>)> =
        PENDING.lock().values().map(|p| (p.disk, p.done.clone())).collect();
    for (disk, done) in waits {
        let _quiet = blk::NoScheduleGuard::new();
        let _ = blk::wait_bio(disk, &done);
    }
    settle_all();
}

/// `SwapTotal`/`SwapFree` (pages) and `SwapCached`.
pub fn meminfo_pages() -> (u64, u64, u64) {
    let s = SWAP.lock();
    let (free, total) = s.areas.nr_pages();
    (total, free, s.cache.len() as u64)
}

/// `/proc/swaps`.
pub fn render_swaps(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    crate::mm::swapfile::render_swaps(w, &SWAP.lock().areas)
}

/// `sys_swapon(path, swap_flags)`: the block device's first page read through the block
/// layer and checked as `read_swap_header` does (its messages, `EINVAL`), `EBUSY` for an
/// area already on, then the area enabled with 6.1's message. `SWAP_FLAG_PREFER` (0x8000)
/// gives the priority in the low 15 bits.
pub fn swapon(path: &str, swap_flags: u32) -> Result<(), Errno> {
    const SWAP_FLAG_PREFER: u32 = 0x8000;
    const SWAP_FLAG_PRIO_MASK: u32 = 0x7fff;
    let (disk, partno) = blk::lookup(path).ok_or(Errno::ENOENT)?;
    let (name, sectors) = blk::part_info(disk, partno).ok_or(Errno::ENXIO)?;
    if SWAP.lock().areas.find_bdev((disk, partno)).is_some() {
        return Err(Errno::EBUSY);
    }
    let mut page = bounce_page();
    if sectors < PAGE_SECTORS {
        kprintln!("Unable to find swap-space signature");
        return Err(Errno::EINVAL);
    }
    bounce_io((disk, partno), ReqOp::Read, 0, &mut page).map_err(|_| Errno::EIO)?;
    let dev_pages = sectors / PAGE_SECTORS;
    let max = crate::arch::process::MAX_SWAPFILE_PAGES;
    let (h, warning) = match read_swap_header(&page[..], dev_pages, max) {
        Ok(r) => r,
        Err(e) => {
            if let Some(m) = e.message {
                kprintln!("{}", m);
            }
            return Err(Errno::EINVAL);
        }
    };
    if let Some(w) = warning {
        kprintln!("{}", w);
    }
    let dev = alloc::format!("/dev/{}", name);
    // mmc_queue sets QUEUE_FLAG_NONROT: an SD card is solid-state to the swap code.
    let mut si = SwapInfo::new(&dev, (disk, partno), &h, true);
    // A solid-state area's linear scan starts at a random slot (6.1's `cluster_next_cpu`).
    si.seed_cluster_next(CounterRandom::new().next_u32());
    let pages = si.pages;
    let nr_cpus = with_node(|n| n.nr_online_cpus()) as usize;
    let prio =
        (swap_flags & SWAP_FLAG_PREFER != 0).then_some((swap_flags & SWAP_FLAG_PRIO_MASK) as i32);
    let (prio, span) = {
        let mut s = SWAP.lock();
        if s.areas.find_bdev((disk, partno)).is_some() {
            return Err(Errno::EBUSY);
        }
        // setup_swap_extents of a block device: the span is the usable pages.
        let span = u64::from(si.pages);
        let ty = s.areas.enable(si, prio).ok_or(Errno::EPERM)?;
        s.areas.enable_swap_slots_cache(nr_cpus);
        (s.areas.areas[ty].as_ref().map_or(0, |a| a.prio), span)
    };
    // One extent for a block device; "SS" for solid state (pivm has no frontswap: no "FS").
    kprintln!(
        "Adding {}k swap on {}.  Priority:{} extents:1 across:{}k SS",
        u64::from(pages) * 4,
        dev,
        prio,
        span * 4
    );
    Ok(())
}

/// The area whose device is `path`, as `swapoff` finds it: `ENOENT` when the path names no
/// device (its `file_open_name` fails), `EINVAL` when the device is no active swap area.
pub fn area_of(path: &str) -> Result<usize, Errno> {
    let bdev = blk::lookup(path).ok_or(Errno::ENOENT)?;
    SWAP.lock().areas.find_bdev(bdev).ok_or(Errno::EINVAL)
}

/// The cached pages of area `ty` (for swapoff's last pass).
pub fn cached_of(ty: usize) -> Vec<(SwpEntry, CachedPage)> {
    SWAP.lock().cache.iter().filter(|(e, _)| e.swp_type() as usize == ty).collect()
}

/// Slots of area `ty` still in use.
pub fn inuse_pages(ty: usize) -> u32 {
    SWAP.lock().areas.areas.get(ty).and_then(Option::as_ref).map_or(0, |a| a.inuse_pages)
}

/// What `verify` reads of swap: every used slot of every area with its count (continuations
/// included), cache bit and `SWAP_MAP_SHMEM` mark, the swap cache's entries, and the slots
/// the slots caches hold.
pub struct SwapSnapshot {
    pub used: Vec<(SwpEntry, UsedSlot)>,
    pub cached: Vec<SwpEntry>,
    pub slots_cached: Vec<SwpEntry>,
}

/// The [`SwapSnapshot`] of now.
pub fn snapshot() -> SwapSnapshot {
    // A read in flight holds its slot's cache reference as a cached page does.
    let in_flight = settle_all();
    let s = SWAP.lock();
    let mut used = Vec::new();
    for (t, a) in s.areas.areas.iter().enumerate() {
        if let Some(a) = a {
            used.extend(a.used_slots().map(|u| (SwpEntry::new(t as u32, u.offset), u)));
        }
    }
    SwapSnapshot {
        used,
        cached: s.cache.iter().map(|(e, _)| e).chain(in_flight).collect(),
        slots_cached: s.areas.slots_cached().collect(),
    }
}

/// Swap's part of `verify`: every slot's count equals the swap PTEs referring to it, and
/// `SWAP_HAS_CACHE` is set exactly for the cached entries and the slots the swap slots
/// caches hold (those with no count and no page, each held once), and a slot holds the
/// `SWAP_MAP_SHMEM` mark exactly when a shmem index entry refers to it. `ptes` counts the
/// swap PTEs of every address space and the index entries; `shmem` is the index entries'
/// slots.
pub fn verify(
    ptes: &alloc::collections::BTreeMap<SwpEntry, u32>,
    shmem: &alloc::collections::BTreeSet<SwpEntry>,
) -> Result<(), String> {
    let SwapSnapshot { used, cached, slots_cached } = snapshot();
    let cached: alloc::collections::BTreeSet<SwpEntry> = cached.into_iter().collect();
    let n_slots_cached = slots_cached.len();
    let slots_cached: alloc::collections::BTreeSet<SwpEntry> = slots_cached.into_iter().collect();
    if slots_cached.len() != n_slots_cached {
        return Err("swap: a slot twice in the swap slots caches".into());
    }
    for &(e, UsedSlot { count, has_cache, shmem: marked, .. }) in &used {
        let want = ptes.get(&e).copied().unwrap_or(0);
        if count != want {
            return Err(alloc::format!("swap: slot {} count {} but {} swap PTEs", e, count, want));
        }
        if marked != shmem.contains(&e) {
            return Err(alloc::format!(
                "swap: slot {} SWAP_MAP_SHMEM mark {} but shmem index entry {}",
                e,
                marked,
                shmem.contains(&e)
            ));
        }
        if slots_cached.contains(&e) {
            if count != 0 || !has_cache || cached.contains(&e) {
                return Err(alloc::format!("swap: slot {} in a slots cache is in use", e));
            }
        } else if has_cache != cached.contains(&e) {
            return Err(alloc::format!("swap: slot {} cache bit and swap cache disagree", e));
        }
    }
    for e in &slots_cached {
        if !used.iter().any(|(u, _)| u == e) {
            return Err(alloc::format!("swap: slots cache holds free slot {}", e));
        }
    }
    for (e, n) in ptes {
        if !used.iter().any(|(u, _)| u == e) {
            return Err(alloc::format!("swap: {} swap PTEs for free slot {}", n, e));
        }
    }
    for e in &cached {
        if !used.iter().any(|(u, _)| u == e) {
            return Err(alloc::format!("swap: cached entry {} on a free slot", e));
        }
    }
    Ok(())
}

/// The end of `swapoff`: the area gone.
pub fn remove_area(ty: usize) {
    SWAP.lock().areas.remove(ty);
}
