//! Reclaim on the device: the node's LRU lists fed by the fault path and the page cache,
//! the reverse map over the processes, and `mm::vmscan` run by kswapd and by direct reclaim.
//!
//! - **LRU**: an anonymous page joins the inactive anon list when its first PTE is set
//!   (`lru_add_anon`, rmap key = its virtual page number), a tmpfs (initramfs) page the
//!   inactive anon list too (swap-backed, as shmem), a page of a disk file the inactive file
//!   list (`lru_add_file`, for the card's page cache); each leaves its list when freed.
//! - **rmap**: an anonymous page stays at the address it was first faulted at in every mm
//!   that maps it (fork keeps addresses, pivm has no mremap), so its mappings are that
//!   address in each process whose PTE there maps the frame; a file page's are
//!   `vm_start + (index - vm_pgoff) * PAGE_SIZE` in each VMA of its file.
//! - **Swap**: an anonymous victim goes out through `kernel::swap` as `shrink_folio_list`
//!   sends it: `add_to_swap`, `try_to_unmap_one` in every mm mapping it (the rmap walk, under
//!   the task table's lock), `swap_writepage_start` (the page under writeback, in the swap
//!   cache, `PG_reclaim`), back on its list; at the end of the batch reclaim lets the task
//!   table go and sleeps until the writes are done (`wait_writeback`), so other tasks run
//!   meanwhile, then ends them: each written page stays in the swap cache, rotated to the tail
//!   of its inactive list (`folio_rotate_reclaimable`), and the next scan frees it, clean. A
//!   fault on a page under writeback or still cached finds it in the swap cache and maps it
//!   (a minor fault).
//!   **The page cache** of a disk file is reached through [`FileReclaimOps`], the table its
//!   file system registers (cardfs does at mount).
//! - **kswapd** is a kernel thread, `kswapd0` (`kswapd_init`): it sleeps on
//!   `pgdat->kswapd_wait` ([`KSWAPD_WAIT`]); the allocator's `wakeup_kswapd` (an allocation
//!   fell below a zone's low watermark, or a fallback boosted one) wakes it from whatever
//!   context it runs in, and it runs `balance_pgdat` to the high watermark, then tries to
//!   sleep again (`kswapd_try_to_sleep`: a short sleep first, then until woken).
//! - **Direct reclaim** (`direct_reclaim_for_fault`): the page allocator is one structure
//!   under one lock, and a fault runs under the task table's lock, so reclaim cannot run
//!   inside the allocation; a user fault whose allocation failed (VM_FAULT_OOM) reclaims in
//!   the exception handler once both locks are free, then retries the access; only when 6.1's
//!   `should_reclaim_retry` gives up does the OOM killer run. A system call's user copy whose
//!   fault found no page stops, and the call reclaims once it has dropped its locks
//!   ([`reclaim_for_uaccess`]), then goes on.
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::kernel::spinlock::SpinLock;

use alloc::vec::Vec;

use super::kthread::{kthread_run, PF_KSWAPD, PF_MEMALLOC};
use super::mm::{MmHw, ProcessMm};
use super::wait::{finish_wait, prepare_to_wait, schedule_timeout, WaitQueue};
use super::Tasks;
use crate::arch::process as arch;
use crate::kernel::mem::with_node;
use crate::kernel::swap;
use crate::mm::gfp::{gfp_zone, GfpFlags};
use crate::mm::mm_types::{VmFlags, PAGE_SIZE};
use crate::mm::oom_kill::alloc_may_oom;
use crate::mm::page::{pgoff_t, LruFlags, MemMap, PageOwner};
use crate::mm::shmem::ShmemMapping;
use crate::mm::swap::Lruvec;
use crate::mm::swapops::SwpEntry;
use crate::mm::vmscan::{
    self, AnonSwapOut, KswapdNode, Pageout, ReclaimEnv, Referenced, ScanControl,
    DEFAULT_SWAPPINESS, MAX_RECLAIM_RETRIES,
};
use crate::mm::vmscan::{anon_page_address, anon_page_index};
use crate::mm::Pfn;

/// `vm.swappiness` (0..=200, default 60).
pub static SWAPPINESS: AtomicU64 = AtomicU64::new(DEFAULT_SWAPPINESS);

/// `pgdat->kswapd_failures`: balance_pgdat runs in a row that freed nothing; at
/// `MAX_RECLAIM_RETRIES` kswapd stops trying until reclaim makes progress again.
static KSWAPD_FAILURES: AtomicU32 = AtomicU32::new(0);

/// What reclaim needs of a disk file system's page cache.
pub struct FileReclaimOps {
    /// `invalidate_mapping_pages` of one page: drop page `index` of inode `ino` (frame
    /// `pfn`) if it is clean and unmapped, freeing it through [`free_cache_page`]; whether
    /// it did.
    pub invalidate_mapping_page: fn(u64, u64, Pfn) -> bool,
}

static FILE_OPS: SpinLock<Option<&'static FileReclaimOps>> = SpinLock::new(None);

/// Installs the page cache's table (for file pages on the file LRU).
pub fn register_file_reclaim_ops(ops: &'static FileReclaimOps) {
    *FILE_OPS.lock() = Some(ops);
}

/// `get_nr_swap_pages()` and `total_swap_pages`.
fn swap_pages() -> (u64, u64) {
    let (total, free, _) = swap::meminfo_pages();
    (free, total)
}

fn with_lru<R>(f: impl FnOnce(&mut Lruvec, &mut MemMap<'_>) -> R) -> R {
    with_node(|n| {
        let (l, m) = n.lru_mut();
        f(l, m)
    })
}

/// `folio_add_lru_vma` of a new anonymous page mapped at `va`.
pub fn lru_add_anon(pfn: Pfn, va: usize) {
    with_lru(|l, m| {
        let _ = l.folio_add_lru(m, pfn, true, 0, anon_page_index(va));
    });
}

/// `folio_add_lru` of a new tmpfs page (swap-backed: the anon lists) of the file `mapping`
/// names (`mm::shmem::ShmemMapping`).
pub fn lru_add_shmem(pfn: Pfn, mapping: usize, index: u64) {
    with_lru(|l, m| {
        let _ = l.folio_add_lru(m, pfn, true, mapping, index as pgoff_t);
    });
}

/// `folio_add_lru` of a new page-cache page of a disk file (the file lists).
pub fn lru_add_file(pfn: Pfn, ino: u64, index: u64) {
    with_lru(|l, m| {
        let _ = l.folio_add_lru(m, pfn, false, ino as usize, index as pgoff_t);
    });
}

/// Stamps a tmpfs page's rmap key (`page->mapping`, `page->index`) once its file is known.
pub fn set_rmap_key(pfn: Pfn, mapping: usize, index: u64) {
    with_lru(|_, m| Lruvec::set_rmap_key(m, pfn, mapping, index as pgoff_t));
}

/// `folio_mark_accessed` (a read of a cached page).
pub fn mark_page_accessed(pfn: Pfn) {
    with_lru(|l, m| {
        l.folio_mark_accessed(m, pfn);
    });
}

/// Takes a page-cache page off its list and frees it (what a page cache's invalidation
/// calls for a page it drops).
pub fn free_cache_page(pfn: Pfn) {
    with_node(|n| {
        let (l, m) = n.lru_mut();
        let _ = l.folio_del_lru(m, pfn);
        let _ = n.free_pages_for(PageOwner::PageCache, pfn, 0);
    });
}

/// An anonymous page's mappings: `f(mm, va, vma flags)` for each process whose PTE at the
/// page's address ([`anon_page_address`] of its index) maps it.
fn rmap_anon(
    tasks: &mut Tasks,
    pfn: Pfn,
    index: pgoff_t,
    mut f: impl FnMut(&mut ProcessMm, usize, VmFlags),
) {
    let va = anon_page_address(index);
    for t in tasks.map.values_mut() {
        let Some(pm) = t.mm.as_mut() else { continue };
        let Some(flags) = pm.mm.find_vma(va).filter(|v| v.vm_start <= va).map(|v| v.vm_flags)
        else {
            continue;
        };
        if arch::get_user_pte(pm.hw.pgd, va).is_some_and(|p| p.pfn_phys() >> 12 == pfn.0) {
            f(pm, va, flags);
        }
    }
}

/// The files whose VMAs may map a page-cache page: a tmpfs file by device and inode (its
/// `page->mapping` names the superblock: the shm mount and the rootfs both number inodes
/// from 1), a card file or block device by inode number.
#[derive(Clone, Copy)]
enum FileKey {
    Tmpfs((u32, u32), u64),
    Other(u64),
}

impl FileKey {
    /// The key of a page with `page->mapping` `mapping`, swap-backed (tmpfs) or not.
    fn of(mapping: usize, swapbacked: bool) -> Option<Self> {
        if !swapbacked {
            return Some(FileKey::Other(mapping as u64));
        }
        let m = ShmemMapping::decode(mapping)?;
        Some(FileKey::Tmpfs(super::shmem::tmpfs_dev(m.sb), m.ino))
    }

    fn matches(self, file: &crate::mm::mm_types::VmFile) -> bool {
        match self {
            FileKey::Tmpfs(dev, ino) => file.dev == dev && file.ino == ino,
            FileKey::Other(ino) => file.ino == ino,
        }
    }
}

/// A file page's mappings: `f(hw, va, vma flags)` at the page's place in each VMA of the
/// file `key` names whose PTE there maps it.
fn rmap_file(
    tasks: &mut Tasks,
    pfn: Pfn,
    key: FileKey,
    index: pgoff_t,
    mut f: impl FnMut(&mut MmHw, usize, VmFlags),
) {
    let index = index as u64;
    for t in tasks.map.values_mut() {
        let Some(pm) = t.mm.as_mut() else { continue };
        let ProcessMm { mm, hw } = &mut **pm;
        for vma in mm.iter() {
            let Some(file) = vma.vm_file.as_ref() else { continue };
            if !key.matches(file) || index < vma.vm_pgoff {
                continue;
            }
            let off = (index - vma.vm_pgoff) as usize;
            if off >= vma.pages() {
                continue;
            }
            let va = vma.vm_start + off * PAGE_SIZE;
            if arch::get_user_pte(hw.pgd, va).is_some_and(|p| p.pfn_phys() >> 12 == pfn.0) {
                f(hw, va, vma.vm_flags);
            }
        }
    }
}

/// The kernel's side of reclaim: the task table, locked while the rmap needs it and let go
/// while reclaim waits for its writes, and the writes in flight.
struct KernelEnv {
    guard: Option<crate::kernel::spinlock::SpinLockGuard<'static, Option<Tasks>>>,
    writeback: Vec<swap::SwapWrite>,
    /// The plug the batch's writes are submitted under (`shrink_folio_list`'s caller holds
    /// one): neighbouring slots go as one request; finished before the writes are waited for.
    plug: swap::SwapPlug,
}

impl KernelEnv {
    fn new() -> Self {
        KernelEnv { guard: None, writeback: Vec::new(), plug: swap::SwapPlug::new() }
    }

    /// The task table (taken if reclaim let it go).
    fn tasks(&mut self) -> &mut Tasks {
        self.guard.get_or_insert_with(super::lock_tasks).as_mut().expect("process::init ran")
    }

    /// `page->mapping`, `page->index` and the owner of `pfn`.
    fn key(pfn: Pfn) -> (usize, pgoff_t, PageOwner) {
        with_node(|n| {
            n.page(pfn).map_or((0, 0, PageOwner::None), |p| (p.mapping(), p.index(), p.owner()))
        })
    }

    /// `shrink_folio_list`'s anonymous branch ([`vmscan::shrink_anon_folio`]) over every
    /// mapping the rmap finds. The counters are the swap layer's: `try_to_unmap_one` drops a
    /// shared mapping's count (`Page::mapcount`), and the last mapping's `AnonPages`
    /// (`unmapped_to_swap`).
    fn pageout_anon(&mut self, pfn: Pfn, index: pgoff_t) -> Pageout {
        let KernelEnv { guard, writeback, plug } = self;
        let tasks =
            guard.get_or_insert_with(super::lock_tasks).as_mut().expect("process::init ran");
        let unmap = |pfn: Pfn| {
            let (mut unmapped, mut dirty) = (0, false);
            rmap_anon(tasks, pfn, index, |pm, va, _| {
                if let Some(d) = pm.try_to_unmap_one(va, pfn) {
                    dirty |= d;
                    unmapped += 1;
                }
            });
            (unmapped, dirty)
        };
        let mut ops = KernelSwapOut { unmap, plug, writes: writeback };
        vmscan::shrink_anon_folio(&mut ops, pfn).pageout()
    }

    /// `shrink_folio_list` for a shmem page: `try_to_unmap` (each PTE cleared, its dirty bit
    /// dropped: the page is written whole), then `pageout` -> [`super::shmem::shmem_writepage`]
    /// (the page into the swap cache, its swap entry into the object's index) and the write
    /// submitted under the batch's plug, as an anonymous page's; a rootfs file's page (the
    /// initramfs's, a file a program wrote) as a shmem object's, the file found by its
    /// `page->mapping` (superblock and inode). Without a free slot the page is activated.
    fn pageout_shmem(&mut self, pfn: Pfn, mapping: usize, index: pgoff_t) -> Pageout {
        let Some(m) = ShmemMapping::decode(mapping) else { return Pageout::Activate };
        let Some(cache) = super::shmem::tmpfs_cache_of(m) else {
            return Pageout::Activate;
        };
        let key = FileKey::of(mapping, true).expect("decoded above");
        // Back in the object while its last write is still in flight (a fault took it):
        // looked at again once the write has ended.
        if swap::under_writeback(pfn) {
            return Pageout::Keep;
        }
        let (index, no_slot) = (index as u64, swap_pages().0 == 0);
        if no_slot {
            return Pageout::Activate;
        }
        let KernelEnv { guard, writeback, plug } = self;
        let tasks =
            guard.get_or_insert_with(super::lock_tasks).as_mut().expect("process::init ran");
        // The object's lock is the fault path's (under the task table, as here): a fault of
        // this task holding it cannot be reclaiming, so it is free unless the object is
        // being torn down.
        let Some(mut c) = cache.try_lock() else { return Pageout::Keep };
        if c.cached(index) != Some(pfn) {
            // Not the file's page at that index (truncated or replaced meanwhile).
            return Pageout::Activate;
        }
        rmap_file(tasks, pfn, key, index as pgoff_t, |hw, va, _| {
            if arch::clear_user_pte(hw.pgd, va).is_some() {
                arch::flush_tlb_page(va, hw.context_id);
                hw.rss_shmem -= 1;
            }
        });
        let Some(e) = super::shmem::shmem_writepage(&mut c, index, pfn) else {
            return Pageout::Activate;
        };
        drop(c);
        // pageout: folio_clear_dirty_for_io, PG_reclaim, the write.
        with_lru(|_, m| {
            Lruvec::folio_set_dirty(m, pfn, false);
            Lruvec::folio_set_reclaim(m, pfn, true);
        });
        match swap::swap_writepage_start(pfn, e, Some(plug)) {
            Ok(w) => {
                writeback.push(w);
                Pageout::Writeback
            }
            Err(_) => {
                // In the swap cache, dirty: a later pass writes it as an anonymous page's.
                with_lru(|_, m| {
                    Lruvec::folio_set_dirty(m, pfn, true);
                    Lruvec::folio_set_reclaim(m, pfn, false);
                });
                Pageout::Activate
            }
        }
    }

    fn pageout_file(&mut self, pfn: Pfn, ino: usize, index: pgoff_t, flags: LruFlags) -> Pageout {
        let Some(ops) = *FILE_OPS.lock() else { return Pageout::Keep };
        // try_to_unmap: a dirty PTE makes the page dirty (kept for writeback).
        let mut dirty = flags.contains(LruFlags::PG_dirty);
        let key = FileKey::Other(ino as u64);
        rmap_file(self.tasks(), pfn, key, index, |hw, va, _| {
            dirty |= arch::get_user_pte(hw.pgd, va).is_some_and(|p| p.dirty());
        });
        if dirty {
            with_lru(|_, m| Lruvec::update_isolated(m, pfn, LruFlags::empty(), LruFlags::PG_dirty));
            return Pageout::Keep;
        }
        rmap_file(self.tasks(), pfn, key, index, |hw, va, _| {
            if arch::clear_user_pte(hw.pgd, va).is_some() {
                arch::flush_tlb_page(va, hw.context_id);
                hw.rss_file -= 1;
            }
        });
        if (ops.invalidate_mapping_page)(ino as u64, index as u64, pfn) {
            Pageout::Freed { io: false }
        } else {
            Pageout::Keep
        }
    }
}

/// The kernel's [`AnonSwapOut`]: the swap layer, with the unmap given by the caller (the rmap
/// walk for reclaim, one PTE for `MADV_PAGEOUT`) and the writes submitted under its plug.
pub(super) struct KernelSwapOut<'a, F: FnMut(Pfn) -> (u32, bool)> {
    pub unmap: F,
    pub plug: &'a mut swap::SwapPlug,
    pub writes: &'a mut Vec<swap::SwapWrite>,
}

impl<F: FnMut(Pfn) -> (u32, bool)> AnonSwapOut for KernelSwapOut<'_, F> {
    fn under_writeback(&mut self, pfn: Pfn) -> bool {
        swap::under_writeback(pfn)
    }

    fn swap_entry(&mut self, pfn: Pfn) -> Option<SwpEntry> {
        swap::page_swap_entry(pfn)
    }

    fn add_to_swap(&mut self, pfn: Pfn) -> Option<SwpEntry> {
        swap::add_to_swap(pfn)
    }

    fn delete_from_swap_cache(&mut self, pfn: Pfn) {
        swap::delete_from_swap_cache(pfn);
    }

    fn try_to_unmap(&mut self, pfn: Pfn) -> (u32, bool) {
        (self.unmap)(pfn)
    }

    fn folio_mapped(&mut self, pfn: Pfn) -> bool {
        swap::cache_mapped(pfn)
    }

    fn folio_set_dirty(&mut self, pfn: Pfn, dirty: bool) -> bool {
        with_lru(|_, m| Lruvec::folio_set_dirty(m, pfn, dirty))
    }

    fn swap_writepage(&mut self, pfn: Pfn, e: SwpEntry) -> bool {
        // pageout's folio_set_reclaim: rotated for the next scan when the write ends.
        with_lru(|_, m| Lruvec::folio_set_reclaim(m, pfn, true));
        // Unmapped, in the swap cache: a fault finds it there.
        match swap::swap_writepage_start(pfn, e, Some(&mut *self.plug)) {
            Ok(w) => {
                self.writes.push(w);
                true
            }
            Err(_) => {
                with_lru(|_, m| Lruvec::folio_set_reclaim(m, pfn, false));
                false
            }
        }
    }

    fn free_swapped(&mut self, pfn: Pfn) {
        swap::delete_from_swap_cache(pfn);
        swap::free_swapped_page(pfn);
    }
}

/// `folio_mark_dirty` of an anonymous page (on its list or isolated).
pub fn folio_mark_dirty(pfn: Pfn) {
    with_lru(|_, m| Lruvec::folio_set_dirty(m, pfn, true));
}

impl ReclaimEnv for KernelEnv {
    fn with_lru<R>(&mut self, f: impl FnOnce(&mut Lruvec, &mut MemMap<'_>) -> R) -> R {
        with_lru(f)
    }

    fn folio_referenced(&mut self, pfn: Pfn, flags: LruFlags) -> Referenced {
        let (mapping, index, owner) = Self::key(pfn);
        let mut r = Referenced::default();
        let mut visit = |pgd: u64, context_id: u64, va: usize, vm_flags: VmFlags| {
            if vm_flags.contains(VmFlags::LOCKED) {
                r.vm_locked = true;
            }
            if arch::ptep_test_and_clear_young(pgd, va, pfn.0, context_id) == Some(true) {
                r.ptes += 1;
                r.vm_exec |= vm_flags.contains(VmFlags::EXEC);
            }
        };
        if owner == PageOwner::Anon && flags.contains(LruFlags::PG_swapbacked) {
            rmap_anon(self.tasks(), pfn, index, |pm, va, f| {
                visit(pm.hw.pgd, pm.hw.context_id, va, f)
            });
        } else if let Some(key) =
            FileKey::of(mapping, flags.contains(LruFlags::PG_swapbacked)).filter(|_| mapping != 0)
        {
            rmap_file(self.tasks(), pfn, key, index, |hw, va, f| {
                visit(hw.pgd, hw.context_id, va, f)
            });
        }
        r
    }

    fn pageout(&mut self, pfn: Pfn, flags: LruFlags, _sc: &ScanControl) -> Pageout {
        let (mapping, index, owner) = Self::key(pfn);
        match owner {
            PageOwner::Anon => self.pageout_anon(pfn, index),
            PageOwner::PageCache if flags.contains(LruFlags::PG_swapbacked) => {
                self.pageout_shmem(pfn, mapping, index)
            }
            _ => self.pageout_file(pfn, mapping, index, flags),
        }
    }

    fn can_reclaim_anon(&self) -> bool {
        swap_pages().0 > 0
    }

    fn can_age_anon(&self) -> bool {
        swap_pages().1 > 0
    }

    fn free_and_high_wmark(&mut self) -> (u64, u64) {
        with_node(|n| (n.nr_free_pages(), n.high_wmark_total()))
    }

    fn cond_resched(&mut self) {
        if super::need_resched() {
            // No plug is held across a schedule (its bios would wait for this task).
            self.plug.finish();
            self.guard = None;
            super::schedule();
        }
    }

    fn activate_free_swap(&mut self, pfn: Pfn) {
        swap::activate_free_swap(pfn);
    }

    fn wait_writeback(&mut self) -> u64 {
        // blk_finish_plug: the batch's writes go to the card (neighbouring slots merged).
        self.plug.finish();
        // The task table goes first: the writer sleeps, and the card's interrupt wakes it.
        self.guard = None;
        // Each page stays in the swap cache (a failed one dirty), a written one rotated to
        // the inactive tail for the next scan.
        let writes = core::mem::take(&mut self.writeback);
        writes.into_iter().map(|w| u64::from(swap::end_swap_write(w))).sum()
    }
}

impl KswapdNode for KernelEnv {
    fn pgdat_balanced(&mut self) -> bool {
        with_node(|n| n.pgdat_balanced())
    }

    fn boost(&mut self) -> u64 {
        with_node(|n| n.watermark_boost_total())
    }

    fn kswapd_target(&mut self) -> u64 {
        with_node(|n| n.kswapd_reclaim_target())
    }
}

/// `try_to_free_pages` for an allocation of `gfp` (counts `allocstall_<zone>` for its
/// highest zone): the pages freed. Takes the task table's lock: never call it while a
/// fault or system call holds it.
pub fn try_to_free_pages(gfp: GfpFlags) -> u64 {
    let zone = gfp_zone(gfp).idx();
    with_lru(|l, _| {
        if let Some(c) = l.events.allocstall.get_mut(zone) {
            *c += 1;
        }
    });
    let mut env = KernelEnv::new();
    let mut sc = ScanControl::direct(SWAPPINESS.load(Ordering::Relaxed));
    let freed = vmscan::do_try_to_free_pages(&mut env, &mut sc);
    drop(env);
    if freed > 0 {
        KSWAPD_FAILURES.store(0, Ordering::Relaxed);
    }
    freed
}

/// The slow path's reclaim loop for a user fault whose page allocation failed: direct
/// reclaim until it frees something (true: retry the access) or `should_reclaim_retry`
/// gives up (false: out of memory).
pub fn direct_reclaim_for_fault() -> bool {
    let gfp = GfpFlags::GFP_HIGHUSER_MOVABLE;
    let mut no_progress_loops = 0;
    loop {
        let saved = memalloc_noreclaim_save();
        let freed = try_to_free_pages(gfp);
        memalloc_noreclaim_restore(saved);
        if freed > 0 {
            return true;
        }
        let swap_space = swap_pages().0 > 0;
        let could = with_node(|n| {
            let lru = *n.lruvec();
            n.zone_could_meet_min(gfp, |z| vmscan::zone_reclaimable_pages(&lru, z, swap_space))
        });
        if !vmscan::should_reclaim_retry(false, &mut no_progress_loops, || could) {
            return false;
        }
    }
}

/// The reclaim a system call's user copy stopped for, with no lock held (its fault found
/// no free page: the allocation is atomic under the task table, see
/// `super::iowait::Deferred`): what 6.1's fault allocation (`GFP_HIGHUSER_MOVABLE`) does in
/// its slow path, [`direct_reclaim_for_fault`] and, when that gives up, the OOM killer, which
/// waits for its victim's exit (`__alloc_pages_may_oom`); true: the copy goes on, its fault
/// run again and counted once then, as 6.1 counts the one fault whose allocation reclaimed.
/// False when nothing could be freed, or when the task is being killed (the OOM killer may
/// have chosen it): the fault is then counted as the one that got `VM_FAULT_OOM`
/// (`pgfault`, not the task's counts) and the copy fails with `EFAULT`.
pub fn reclaim_for_uaccess() -> bool {
    let killed = super::with_current_mm(|t| t.pending & super::sigbit(super::SIGKILL) != 0);
    let freed = !killed
        && super::syscall_sleepable(|| {
            direct_reclaim_for_fault() || super::oom::uaccess_out_of_memory()
        });
    if !freed {
        super::count_vm_fault(Err(crate::mm::memory::FaultError::Oom));
    }
    freed
}

/// `memalloc_noreclaim_save`: marks the running task `PF_MEMALLOC` for the length of a direct
/// reclaim, so the allocations reclaim makes do not reclaim again; the flag as it was.
fn memalloc_noreclaim_save() -> u32 {
    super::with_current_mm(|t| {
        let old = t.flags & PF_MEMALLOC;
        t.flags |= PF_MEMALLOC;
        old
    })
}

/// `memalloc_noreclaim_restore`.
fn memalloc_noreclaim_restore(old: u32) {
    super::with_current_mm(|t| t.flags = (t.flags & !PF_MEMALLOC) | old);
}

/// `__alloc_pages_direct_reclaim` for a kernel allocation whose caller may sleep (the global
/// allocator's, vmalloc's pages, kernel stacks, page directories, the console's `kmalloc`;
/// `kernel::mem::alloc_reclaiming` calls it with no lock held): `try_to_free_pages` under
/// `PF_MEMALLOC`, then `retry` the allocation, round after round; when `should_reclaim_retry`
/// gives up, `__alloc_pages_may_oom` for a request that may invoke the OOM killer
/// (`alloc_may_oom`: order up to `PAGE_ALLOC_COSTLY_ORDER`, `__GFP_FS`, ...), which waits for
/// the victim's exit, and the loop starts over with its count of rounds reset, as 6.1's
/// slow path `goto retry`s. True when `retry` succeeded; false when the OOM killer may not
/// run or could not help; `__GFP_NORETRY` gives up after the first round. A task already reclaiming (`PF_MEMALLOC`: kswapd, or reclaim's own
/// allocations) does not reclaim again.
fn direct_reclaim_for_kernel(gfp: GfpFlags, order: u32, retry: &mut dyn FnMut() -> bool) -> bool {
    if super::with_current_mm(|t| t.flags & PF_MEMALLOC != 0) {
        return false;
    }
    let mut no_progress_loops = 0;
    loop {
        let saved = memalloc_noreclaim_save();
        let progress = try_to_free_pages(gfp) > 0;
        memalloc_noreclaim_restore(saved);
        if retry() {
            return true;
        }
        // 6.1's slow path: "Do not loop if specifically requested" (`goto nopage`).
        if gfp.contains(GfpFlags::__GFP_NORETRY) {
            return false;
        }
        let swap_space = swap_pages().0 > 0;
        let could = with_node(|n| {
            let lru = *n.lruvec();
            n.zone_could_meet_min(gfp, |z| vmscan::zone_reclaimable_pages(&lru, z, swap_space))
        });
        if vmscan::should_reclaim_retry(progress, &mut no_progress_loops, || could) {
            continue;
        }
        if !alloc_may_oom(gfp, order) || !super::oom::alloc_pages_may_oom(gfp, order) {
            return false;
        }
        // The victim's memory is back: the allocation again, before reclaiming more.
        if retry() {
            return true;
        }
        no_progress_loops = 0;
    }
}

/// `pgdat->kswapd_wait`: kswapd0 sleeps here; the allocator's `wakeup_kswapd` wakes it.
pub static KSWAPD_WAIT: WaitQueue = WaitQueue::new();

/// `HZ / 10`: kswapd's short sleep before it sleeps until woken.
const KSWAPD_SHORT_SLEEP: u64 = crate::kernel::time::HZ / 10;

/// The node's `wakeup_kswapd` hook (under the allocator's lock, maybe in an interrupt).
fn wake_kswapd() {
    KSWAPD_WAIT.wake_up();
}

/// `kswapd_init` -> `kswapd_run`: kswapd0 as a kernel thread (`PF_MEMALLOC | PF_KSWAPD`),
/// and the allocator's wake-ups go to its queue; kernel allocations that may sleep reclaim
/// from here on (`direct_reclaim_for_kernel`). Without a stack for it, the kernel says so
/// and runs without kswapd (direct reclaim still works).
pub fn kswapd_init() {
    crate::kernel::mem::set_direct_reclaim(direct_reclaim_for_kernel);
    match kthread_run(kswapd, "kswapd0", PF_MEMALLOC | PF_KSWAPD) {
        Ok(_) => {
            with_node(|n| n.set_kswapd_wait(wake_kswapd));
            // Its first run: it finds nothing to do and goes to sleep on its queue.
            super::schedule();
        }
        Err(e) => crate::kprintln!("Failed to start kswapd on node 0,ret={}", -e.code()),
    }
}

/// `prepare_kswapd_sleep`: nothing woke kswapd since its last pass, or the node is
/// unreclaimable (`kswapd_failures` at `MAX_RECLAIM_RETRIES`).
fn prepare_kswapd_sleep() -> bool {
    node_unreclaimable() || !with_node(|n| n.kswapd_woken())
}

/// `kswapd_try_to_sleep`: a short sleep (`HZ/10`) when there is nothing to do; woken during
/// it (`kswapd_low_wmark_hit_quickly`) or with work left when it ends
/// (`kswapd_high_wmark_hit_quickly`, counted also when there was work at once), kswapd runs
/// again; otherwise it sleeps until the allocator wakes it.
fn kswapd_try_to_sleep() {
    let mut seen = prepare_to_wait(&KSWAPD_WAIT);
    let mut remaining = 0;
    if prepare_kswapd_sleep() {
        remaining = schedule_timeout(&KSWAPD_WAIT, seen, KSWAPD_SHORT_SLEEP);
        finish_wait(&KSWAPD_WAIT);
        seen = prepare_to_wait(&KSWAPD_WAIT);
    }
    if remaining == 0 && prepare_kswapd_sleep() {
        schedule_timeout(&KSWAPD_WAIT, seen, u64::MAX);
    } else {
        with_lru(|l, _| {
            if remaining != 0 {
                l.events.kswapd_low_wmark_hit_quickly += 1;
            } else {
                l.events.kswapd_high_wmark_hit_quickly += 1;
            }
        });
    }
    finish_wait(&KSWAPD_WAIT);
}

/// kswapd0's loop (`kswapd`): sleep until woken, then `balance_pgdat` (unless it failed
/// `MAX_RECLAIM_RETRIES` times in a row), then the boosts go. It holds the task table only
/// for the rmap walks: while its writes are in flight it sleeps and programs run.
fn kswapd() -> ! {
    loop {
        kswapd_try_to_sleep();
        if !with_node(|n| n.kswapd_woken()) {
            continue;
        }
        if KSWAPD_FAILURES.load(Ordering::Relaxed) < MAX_RECLAIM_RETRIES {
            let mut env = KernelEnv::new();
            let run = vmscan::balance_pgdat(&mut env, SWAPPINESS.load(Ordering::Relaxed));
            drop(env);
            if run.nr_reclaimed == 0 && !run.balanced_at_once {
                KSWAPD_FAILURES.fetch_add(1, Ordering::Relaxed);
            } else if run.nr_reclaimed > 0 {
                KSWAPD_FAILURES.store(0, Ordering::Relaxed);
            }
        }
        with_node(|n| n.kswapd());
        super::cond_resched();
    }
}

/// `pgdat->kswapd_failures >= MAX_RECLAIM_RETRIES` (zoneinfo's `node_unreclaimable`).
pub fn node_unreclaimable() -> bool {
    KSWAPD_FAILURES.load(Ordering::Relaxed) >= MAX_RECLAIM_RETRIES
}

/// `madvise(MADV_PAGEOUT)` of `[start, end)` of the running task (`madvise_pageout`): a
/// page table's worth at a time ([`PAGEOUT_BATCH`] pages, as 6.1 reclaims each PMD's list),
/// the pages unmapped and their writes submitted under one plug with the task table held
/// (`ProcessMm::pageout_range`), then the plug finished and the writes waited for with the
/// table free (the task sleeps, others run). Each written page stays in the swap cache, as
/// 6.1's `reclaim_pages` leaves it under writeback: unmapped (out of `RssAnon`, in `VmSwap`
/// and `SwapCached`), rotated to the inactive tail, freed by the next reclaim scan, and a
/// touch meanwhile is a minor fault with no read. Stops when no swap slot is left. The pages
/// freed (clean ones already in swap, and any whose last swap PTE went meanwhile).
pub fn madvise_pageout(start: usize, end: usize) -> usize {
    let mut done = 0;
    let mut at = start;
    while at < end {
        let stop = end.min(at.saturating_add(PAGEOUT_BATCH * PAGE_SIZE));
        let mut plug = swap::SwapPlug::new();
        let (writes, freed, full) = super::with_current_mm(|t| {
            t.mm.as_mut().map(|pm| pm.pageout_range(at, stop, &mut plug))
        })
        .unwrap_or_default();
        plug.finish();
        done += freed + writes.into_iter().map(swap::end_swap_write).filter(|&f| f).count();
        if full {
            break;
        }
        at = stop;
    }
    done
}

/// Pages `madvise_pageout` handles per pass (a page table's: 2 MiB).
const PAGEOUT_BATCH: usize = 512;
