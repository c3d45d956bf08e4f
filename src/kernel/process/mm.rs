//! A process's address space on the device: the arch-neutral `MmStruct` (VMAs) with its
//! first-level table, ASID and RSS counters; the [`FaultEnv`] the fault path works through
//! (PTEs via `arch::process`, anonymous pages owned `Anon` and allocated from HighMem first,
//! page-cache pages, the zero page and the sigpage); `zap_page_range` (munmap, MADV_DONTNEED,
//! exit) and `exit_mmap`; and user-memory access for system calls ([`UserMem`]): through the
//! live user table by virtual address with the exception table catching faults (the
//! system call's own process), or through `kmap` of the pages (another address space, as
//! `access_remote_vm` reaches it).
use alloc::boxed::Box;

use spin::Once;

use crate::kernel::spinlock::SpinLock;

use super::fs;
use crate::abi::uaccess::{Fault as UFault, UserMemory};
use crate::arch::asid::AsidAllocator;
use crate::arch::process::{self as arch, UserPteProt, PGD_ORDER, TASK_SIZE};
use crate::arch::uaccess;
use crate::kernel::mem::{with_node, with_page_mapped, with_two_pages_mapped};
use crate::kernel::swap;
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{
    self, CachePage, FaultCounts, FaultEnv, FaultError, FaultFlags, NewPte, PteState, RssKind,
    SwapPage, UserTrap,
};
use crate::mm::mm_types::{Errno, MmStruct, Rlimits, VmFile, Vma, PAGE_SIZE};
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::ZapRmap;
use crate::mm::swapops::SwpEntry;
use crate::mm::vmscan::{self, AnonPageout};
use crate::mm::Pfn;

/// The ASIDs (one allocator: one CPU runs processes).
pub static ASIDS: spin::Lazy<SpinLock<AsidAllocator>> =
    spin::Lazy::new(|| SpinLock::new(crate::arch::asid::asids_init()));

/// The kernel's shared pages: `ZERO_PAGE(0)` and the sigpage (undefined instructions, as
/// `get_signal_page` fills it before placing the return trampolines).
struct SpecialPages {
    zero: Pfn,
    sigpage: Pfn,
}

static SPECIAL: Once<SpecialPages> = Once::new();

/// An undefined instruction (`__opcode_to_mem_arm(0xe7fddef1)`), what fills the sigpage.
const SIGPAGE_POISON: u32 = 0xe7fd_def1;

/// Allocates the zero page and the sigpage (once, at boot).
pub fn init_special_pages() -> bool {
    let alloc = || {
        with_node(|n| {
            n.alloc_pages_for(PageOwner::Kernel, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
        })
        .ok()
    };
    let (Some(zero), Some(sigpage)) = (alloc(), alloc()) else { return false };
    if let Some(va) = kva(sigpage) {
        let codes = &crate::abi::arm::signal::SIGRETURN_CODES;
        let first = super::SIGNAL_RETURN_OFFSET as usize / 4;
        for i in 0..PAGE_SIZE / 4 {
            // The return trampolines at signal_return_offset, poison around them.
            let word = match i.checked_sub(first) {
                Some(k) if k < codes.len() => codes[k],
                _ => SIGPAGE_POISON,
            };
            // SAFETY: a lowmem page just allocated for this purpose.
            unsafe { (va as *mut u32).add(i).write_volatile(word) };
        }
        arch::sync_icache_dcache(va);
    }
    SPECIAL.call_once(|| SpecialPages { zero, sigpage });
    true
}

/// `ZERO_PAGE(0)`'s frame.
pub(crate) fn zero_pfn() -> Pfn {
    SPECIAL.get().map_or(Pfn(0), |s| s.zero)
}

/// The kernel's own pages a process maps (the zero page, the sigpage, `[vvar]` and
/// `[vdso]`): shared by all, never freed when a mapping of them goes.
fn is_special_pfn(pfn: Pfn) -> bool {
    pfn == zero_pfn() || is_special_mapping_page(pfn)
}

/// A page of a special mapping (the sigpage, `[vvar]`, `[vdso]`): unlike the zero page
/// (`vm_normal_page` skips it), Linux maps it as a normal page (`do_set_pte`), so it counts
/// in `MM_FILEPAGES` and, while mapped, in `NR_FILE_MAPPED` (`page_add_file_rmap`).
pub(crate) fn is_special_mapping_page(pfn: Pfn) -> bool {
    SPECIAL.get().is_some_and(|s| s.sigpage == pfn) || crate::kernel::vsyscall::is_vdso_page(pfn.0)
}

/// The special mappings' frames (`[sigpage]`, `[vvar]`, `[vdso]`; a frame not made yet is
/// the zero page's, which the callers skip first): what [`is_special_mapping_page`] compares
/// against, read once for a batch of pages.
fn special_mapping_pfns() -> [Pfn; 3] {
    let zero = zero_pfn();
    let sigpage = SPECIAL.get().map_or(zero, |s| s.sigpage);
    let (vvar, text) = crate::kernel::vsyscall::vdso_pfns()
        .map_or((zero, zero), |(vvar, text)| (Pfn(vvar), Pfn(text)));
    [sigpage, vvar, text]
}

/// The kernel address of a lowmem frame.
fn kva(pfn: Pfn) -> Option<usize> {
    crate::kernel::phys_to_virt(pfn.phys().0).map(|v| v as usize)
}

/// The hardware half of an address space, and its counters.
pub struct MmHw {
    /// Physical address of the first-level table (16 KiB, order 2).
    pub pgd: u64,
    /// `mm->context.id`: generation and ASID (0 until first switched to).
    pub context_id: u64,
    pub rss_anon: i64,
    /// `MM_FILEPAGES` of page-cache pages that are not swap-backed (files on the card).
    pub rss_file: i64,
    /// `MM_SHMEMPAGES`: swap-backed page-cache pages (the rootfs's tmpfs files, shared
    /// anonymous memory), as `mm_counter_file` decides from `PageSwapBacked`.
    pub rss_shmem: i64,
    /// `MM_SWAPENTS`: swap entries in this mm's PTEs.
    pub swapents: i64,
    /// Each VMA's `swap_readahead_info` (by its start): the last swap fault, the read-ahead
    /// window and its hits.
    pub swap_ra: alloc::collections::BTreeMap<usize, usize>,
    /// The anonymous page the fault in progress allocated, until `pte_set` maps it and puts
    /// it on the LRU (`folio_add_lru_vma` in `do_anonymous_page`/`wp_page_copy`).
    new_anon: Option<u64>,
    /// The special mappings' pages mapped (`[sigpage]`, `[vvar]`, `[vdso]`): Linux counts
    /// them in `MM_FILEPAGES` (`RssFile`) with the card's file pages (kept apart here so a
    /// page table walk need not tell the kernel's pages from the cache's).
    pub rss_special: i64,
}

/// `struct mm_struct` on the device.
pub struct ProcessMm {
    pub mm: MmStruct,
    pub hw: MmHw,
}

/// One more mapping of anonymous page `pfn` (a swapped-in page another PTE maps already),
/// counted in its descriptor (`Page::mapcount`, Linux's `_mapcount`). A page mapped by more
/// than one address space is copied on a write fault and freed only with its last mapping.
pub(super) fn add_shared_mapping(pfn: Pfn) {
    with_node(|n| n.dup_rmap(pfn));
}

/// `PageSwapBacked` of a mapped frame (a tmpfs or shmem page-cache page, or an anonymous
/// page), which `mm_counter_file` reads.
pub(super) fn page_swapbacked(pfn: Pfn) -> bool {
    with_node(|n| n.page_swapbacked(pfn))
}

/// First-level tables of processes, in pages (`/proc/meminfo` PageTables counts them).
pub static PGD_PAGES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Live anonymous pages of every process (`/proc/meminfo` AnonPages).
pub static NR_ANON_PAGES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// `pgd_alloc`'s allocation: a first-level table's pages (`GFP_KERNEL`: it may reclaim and
/// invoke the OOM killer, so the caller must hold no lock; fork makes it before it takes the
/// task table, as 6.1's `dup_mm` allocates before `dup_mmap` takes the locks).
pub fn alloc_pgd() -> Option<Pfn> {
    crate::kernel::mem::alloc_pages_reclaiming(GfpFlags::GFP_KERNEL, PGD_ORDER, || {
        with_node(|n| n.alloc_pages_for(PageOwner::PageTable, GfpFlags::GFP_KERNEL, PGD_ORDER)).ok()
    })
}

/// Gives back a table from [`alloc_pgd`] that no address space took.
pub fn free_pgd(pgd: Pfn) {
    let _ = with_node(|n| n.free_pages_for(PageOwner::PageTable, pgd, PGD_ORDER));
}

impl ProcessMm {
    /// `mm_alloc` + `pgd_alloc`: an empty address space for this split.
    pub fn new() -> Option<Box<ProcessMm>> {
        let mut mm = MmStruct::new(crate::arch::memory::task_arch_mm(), Rlimits::DEFAULT);
        mm.task_size = TASK_SIZE;
        // MAP_SHARED|MAP_ANONYMOUS mappings are shmem objects.
        mm.shmem_zero_setup = Some(super::shmem::shmem_zero_setup);
        Self::with_mm(mm)
    }

    /// An address space over `mm` with a fresh first-level table (`mm_alloc` + `pgd_alloc`).
    fn with_mm(mm: MmStruct) -> Option<Box<ProcessMm>> {
        Self::with_mm_pgd(mm, alloc_pgd()?)
    }

    /// An address space over `mm` with the first-level table `pgd` ([`alloc_pgd`]'s, which it
    /// takes over): fork passes the parent's cloned `mm_struct` and a table allocated before
    /// it took the task table's lock, so no empty one is built and dropped and the table's
    /// allocation may reclaim.
    fn with_mm_pgd(mm: MmStruct, pgd: Pfn) -> Option<Box<ProcessMm>> {
        PGD_PAGES.fetch_add(1 << PGD_ORDER, core::sync::atomic::Ordering::Relaxed);
        let va = kva(pgd)?;
        // SAFETY: the four pages were just allocated for this table and are in lowmem.
        unsafe { arch::pgd_init(va as *mut u32) };
        Some(Box::new(ProcessMm {
            mm,
            hw: MmHw {
                pgd: pgd.phys().0,
                context_id: 0,
                rss_anon: 0,
                rss_file: 0,
                rss_shmem: 0,
                swapents: 0,
                swap_ra: alloc::collections::BTreeMap::new(),
                new_anon: None,
                rss_special: 0,
            },
        }))
    }

    /// Makes this the live address space (`switch_mm`), with a valid ASID.
    pub fn activate(&mut self) {
        let flush = ASIDS.lock().check_and_switch(&mut self.hw.context_id, 0);
        arch::switch_mm(self.hw.pgd, self.hw.context_id, flush);
    }

    /// `__do_page_fault` + `mm_account_fault`: resolves a fault at `addr` and counts it; a
    /// fault that dropped the mmap lock for I/O (`VM_FAULT_RETRY`) runs once more with
    /// `FAULT_FLAG_TRIED`, each attempt counted in `pgfault`, the task's count once.
    pub fn fault(
        &mut self,
        addr: usize,
        flags: FaultFlags,
        counts: &mut FaultCounts,
    ) -> Result<memory::Fault, FaultError> {
        let mut flags = flags;
        loop {
            let (r, wait) = self.fault_nowait(addr, flags, counts);
            let Some(w) = wait else { return r };
            // The caller holds the task table (a system call's user copy): the wait idles.
            let _ = w.wait();
            flags = w.next_flags(flags);
        }
    }

    /// [`ProcessMm::fault`] for a kernel access to user memory (a system call's copy, GUP):
    /// a fault that must wait for the card leaves its bio to the copy's caller when that
    /// caller asked to sleep with its locks dropped ([`super::iowait::defer_io`]): None, the
    /// copy stops there and, once the task has slept, runs again, its fault here then the
    /// retry (`FAULT_FLAG_TRIED`). Otherwise the wait idles here, as in `fault`.
    pub fn fault_uaccess(
        &mut self,
        addr: usize,
        flags: FaultFlags,
        counts: &mut FaultCounts,
    ) -> Option<Result<memory::Fault, FaultError>> {
        use super::iowait;
        let mut flags = flags;
        let page = addr & !(PAGE_SIZE - 1);
        if iowait::take_uaccess_retry(page) {
            flags.tried = true;
        }
        loop {
            let (r, wait) = self.fault_nowait(addr, flags, counts);
            let Some(w) = wait else { return Some(r) };
            flags = w.next_flags(flags);
            if w.defer() {
                // The copy's next fault here is the retry, unless this one only restarts.
                if flags.tried {
                    iowait::set_uaccess_retry(page);
                }
                return None;
            }
            let _ = w.wait();
        }
    }

    /// [`ProcessMm::fault`] without waiting for the card: a fault that submitted a read (or
    /// found one in flight) returns `VM_FAULT_RETRY` and the bio to wait for, for the caller
    /// to sleep on once it has let go of the task table and to retry with `FAULT_FLAG_TRIED`;
    /// a fault that stopped before it began, to read the FAT's metadata, is counted nowhere
    /// and runs again with its own flags ([`super::iowait::FaultWait::next_flags`]).
    pub fn fault_nowait(
        &mut self,
        addr: usize,
        flags: FaultFlags,
        counts: &mut FaultCounts,
    ) -> (Result<memory::Fault, FaultError>, Option<super::iowait::FaultWait>) {
        let mut flags = flags;
        loop {
            let r = memory::do_page_fault(&mut self.mm, &mut self.hw, addr, flags);
            let wait = super::iowait::take_fault_wait();
            if wait.as_ref().is_some_and(|w| w.restart) {
                return (r, wait);
            }
            counts.account(r, flags);
            // A fault that could not get a page is counted by whoever decides it failed: the
            // user fault path reclaims first and retries the access (VM_FAULT_RETRY, counted
            // once when it completes).
            if r != Err(FaultError::Oom) {
                super::count_vm_fault(r);
            }
            match r {
                Ok(memory::Fault::Retry { .. }) if wait.is_some() => return (r, wait),
                Ok(memory::Fault::Retry { .. }) if !flags.tried => flags.tried = true,
                _ => return (r, None),
            }
        }
    }

    /// `zap_page_range`: unmaps `[start, end)`, freeing the anonymous pages, and flushes.
    pub fn zap_range(&mut self, start: usize, end: usize) {
        let mut batch = ReleaseBatch::new();
        self.zap_ptes(start, end, true, &mut batch);
        self.hw.release_pages(&mut batch);
    }

    /// `zap_pte_range`: clears the PTEs of `[start, end)`, dropping each page's mapping (the
    /// anonymous pages freed with their last one) and each swap entry, and flushes each page's
    /// TLB entry when `flush_each`; `exit_mmap` flushes the whole ASID once instead (Linux's
    /// `tlb_gather_mmu_fullmm`). The pages are gathered in `batch` and released a batch at a
    /// time (`release_pages`: one page-allocator lock for the mappings dropped, one for the
    /// pages freed), as Linux gathers them in the `mmu_gather` and frees them with
    /// `free_pages_and_swap_cache`; the caller releases what is left in `batch`.
    fn zap_ptes(&mut self, start: usize, end: usize, flush_each: bool, batch: &mut ReleaseBatch) {
        let (pgd, context_id) = (self.hw.pgd, self.hw.context_id);
        arch::zap_user_ptes(pgd, start, end, |va, old| {
            if flush_each {
                arch::flush_tlb_page(va, context_id);
            }
            if old.present() {
                if batch.push(Pfn(old.pfn_phys() >> 12)) {
                    self.hw.release_pages(batch);
                }
            } else if let Some(e) = old.swp_entry() {
                // zap_pte_range's swap entry: free_swap_and_cache.
                swap::free_swap_and_cache(e);
                self.hw.swapents -= 1;
            }
        });
    }

    /// `free_pgtables` after a `munmap` (6.1's `unmap_region`): the PTE tables of the
    /// unmapped VMAs' span that no remaining VMA shares go back to the page allocator, so
    /// `PageTables` and `VmPTE` fall as on Linux (the caller has zapped the range).
    pub fn free_pgtables(&mut self, u: crate::mm::mmap::Unmapped) {
        arch::free_user_pgd_range(self.hw.pgd, u.start, u.end, u.floor, u.ceiling, &mut |pa| {
            let _ = with_node(|n| n.free_pages_for(PageOwner::PageTable, table_pfn(pa), 0));
        });
    }

    /// Changes the protections of the present PTEs of `[start, end)` after `mprotect`.
    pub fn change_protection(&mut self, start: usize, end: usize) {
        let mut va = start;
        while va < end {
            let Some(vma) = self.mm.find_vma(va).filter(|v| v.vm_start <= va).cloned() else {
                va += PAGE_SIZE;
                continue;
            };
            let stop = vma.vm_end.min(end);
            while va < stop {
                if let Some(pte) = arch::get_user_pte(self.hw.pgd, va) {
                    let pfn = pte.pfn_phys() >> 12;
                    let own = self.hw.is_exclusive_anon(pfn);
                    let shared = vma.vm_flags.contains(crate::mm::mm_types::VmFlags::SHARED);
                    // Private pages that are not the process's own stay read-only (COW).
                    let write = vma.vm_flags.contains(crate::mm::mm_types::VmFlags::WRITE)
                        && (own || shared);
                    let exec = vma.vm_flags.contains(crate::mm::mm_types::VmFlags::EXEC);
                    let _ = self.hw.pte_set(va, NewPte { pfn, write, exec, dirty: pte.dirty() });
                }
                va += PAGE_SIZE;
            }
        }
    }

    /// `dup_mmap` + `copy_page_range`: a new address space with the same VMAs. As 6.1's
    /// `vma_needs_copy`, only VMAs with anonymous pages (an anon_vma) have their present PTEs
    /// copied; the child faults the others in from the page cache. As `copy_present_pte`,
    /// private writable pages become read-only in both (copy-on-write), a shared mapping's
    /// pages are clean in the child, and every copied PTE is old there: on ARM an old PTE has
    /// no hardware entry, so the child's first access to each page is a (counted) fault.
    /// `pgd` is the child's first-level table ([`alloc_pgd`]), taken over.
    pub fn fork(&mut self, pgd: Pfn) -> Option<Box<ProcessMm>> {
        use crate::mm::mm_types::VmFlags;
        let mut child = ProcessMm::with_mm_pgd(self.mm.clone(), pgd)?;
        child.mm.anon_vma_fork();
        let (pgd, cpgd) = (self.hw.pgd, child.hw.pgd);
        for vma in self.mm.iter() {
            // vma_needs_copy: a VMA without an anon_vma has neither anonymous pages nor swap
            // entries (a private one's first write fault would have given it one; a shared
            // one's pages, MAP_SHARED|MAP_ANONYMOUS included, are shmem or file pages), and
            // the child faults its pages in from the page cache.
            if vma.anon_vma.is_none() {
                continue;
            }
            // One read of the VMA's PTEs: any anonymous page, any swap entry.
            let (mut anon, mut swapped) = (false, false);
            arch::for_each_user_entry(pgd, vma.vm_start, vma.vm_end, |_, p| {
                if p.present() {
                    anon = anon || self.hw.is_anon(p.pfn_phys() >> 12);
                } else {
                    swapped = swapped || p.swp_entry().is_some();
                }
            });
            if swapped && !copy_swap_ptes(&self.hw, &mut child.hw, vma) {
                arch::flush_tlb_mm(self.hw.context_id);
                child.exit_mmap();
                return None;
            }
            if !anon {
                continue;
            }
            let shared = vma.vm_flags.contains(VmFlags::SHARED);
            let cow = vma.vm_flags.contains(VmFlags::MAYWRITE) && !shared;
            let exec = vma.vm_flags.contains(VmFlags::EXEC);
            let hw = &mut self.hw;
            let chw = &mut child.hw;
            let account = |chw: &mut MmHw, pfn: u64| {
                // One descriptor lookup: is it anonymous, and if so one more mapping.
                if with_node(|n| n.dup_anon_rmap(Pfn(pfn))) {
                    chw.rss_anon += 1;
                } else if !is_special_pfn(Pfn(pfn)) {
                    // copy_present_pte: rss[mm_counter(page)]++.
                    let kind = memory::mm_counter_file(page_swapbacked(Pfn(pfn)));
                    chw.rss_add(kind, 1);
                } else if is_special_mapping_page(Pfn(pfn)) {
                    chw.rss_special += 1;
                }
            };
            let r = if cow && exec {
                // A writable private executable mapping: the parent's write-protected PTE is
                // set through `pte_set`, which syncs the caches for an executable page
                // (kmap, outside the table lock): page by page.
                let mut present = alloc::vec::Vec::new();
                arch::for_each_user_pte(pgd, vma.vm_start, vma.vm_end, |va, p| {
                    present.push((va, p));
                });
                present.into_iter().try_for_each(|(va, p)| {
                    account(chw, p.pfn);
                    if p.write {
                        let new = NewPte { pfn: p.pfn, write: false, exec, dirty: p.dirty };
                        let _ = hw.pte_set(va, new);
                    }
                    let prot = UserPteProt { write: false, exec, dirty: p.dirty };
                    arch::set_user_pte_old(cpgd, va, p.pfn << 12, prot, &mut alloc_table_page)
                })
            } else {
                // copy_pte_range: both tables a table at a time; a private writable page
                // becomes read-only in both (the parent's entry rewritten young, as
                // `ptep_set_wrprotect` + the old `set_pte_at`).
                arch::copy_user_ptes(
                    pgd,
                    cpgd,
                    vma.vm_start,
                    vma.vm_end,
                    &mut alloc_table_page,
                    |_, p| {
                        account(chw, p.pfn);
                        let parent = (cow && p.write).then_some(UserPteProt {
                            write: false,
                            exec,
                            dirty: p.dirty,
                        });
                        let child =
                            UserPteProt { write: p.write && !cow, exec, dirty: p.dirty && !shared };
                        Some(arch::PteCopy { parent, child })
                    },
                )
            };
            if r.is_err() {
                arch::flush_tlb_mm(self.hw.context_id);
                child.exit_mmap();
                return None;
            }
        }
        arch::flush_tlb_mm(self.hw.context_id);
        Some(child)
    }

    /// `try_to_unmap_one`'s anonymous branch for the page `pfn` mapped at `va`, which is in
    /// the swap cache (`add_to_swap` put it there): the PTE becomes its swap entry
    /// (`swap_duplicate`), the mapping goes (`MM_ANONPAGES` -1, `MM_SWAPENTS` +1) and the TLB
    /// entry is flushed. Whether the PTE was dirty (the caller moves that to the page's
    /// `PG_dirty`), or None when `va` does not map `pfn`, the page is not cached, or no page
    /// could be had for the slot's count continuation.
    pub fn try_to_unmap_one(&mut self, va: usize, pfn: Pfn) -> Option<bool> {
        let pte = arch::get_user_pte(self.hw.pgd, va)?;
        if pte.pfn_phys() >> 12 != pfn.0 {
            return None;
        }
        let e = swap::page_swap_entry(pfn)?;
        if swap::swap_duplicate(e).is_err() {
            return None;
        }
        if arch::set_user_swp_pte(self.hw.pgd, va, e, &mut alloc_table_page).is_err() {
            swap::swap_free(e);
            return None;
        }
        arch::flush_tlb_page(va, self.hw.context_id);
        if !with_node(|n| n.remove_shared_rmap(pfn)) {
            swap::unmapped_to_swap(pfn);
        }
        self.hw.rss_anon -= 1;
        self.hw.swapents += 1;
        Some(pte.dirty())
    }

    /// `madvise(MADV_PAGEOUT)`'s pass over `[start, end)` under the task table: each
    /// anonymous page only this mm maps (`folio_mapcount` 1) is reclaimed as
    /// `shrink_folio_list` reclaims it ([`vmscan::shrink_anon_folio`]): `add_to_swap`,
    /// `try_to_unmap_one`, then, when the page is dirty (`PG_dirty`: new to swap, a dirty PTE,
    /// or left dirty by an earlier pass), its write submitted under `plug` (the page under
    /// writeback, in the swap cache: the caller finishes the plug and waits for the writes
    /// with the table free, [`swap::end_swap_write`], which leaves each page in the swap
    /// cache for the next reclaim scan); a clean page already in swap is freed at once. The writes started, the pages freed, and whether it stopped because no slot
    /// was left (the rest stay mapped).
    pub fn pageout_range(
        &mut self,
        start: usize,
        end: usize,
        plug: &mut swap::SwapPlug,
    ) -> (alloc::vec::Vec<swap::SwapWrite>, usize, bool) {
        let mut pages: alloc::vec::Vec<(usize, u64)> = alloc::vec::Vec::new();
        arch::for_each_user_pte(self.hw.pgd, start, end, |va, p| pages.push((va, p.pfn)));
        let (mut writes, mut freed) = (alloc::vec::Vec::new(), 0);
        for (va, pfn) in pages {
            let pfn = Pfn(pfn);
            if is_special_pfn(pfn) || !self.hw.is_anon(pfn.0) || self.hw.is_shared_anon(pfn.0) {
                continue;
            }
            let unmap = |pfn: Pfn| match self.try_to_unmap_one(va, pfn) {
                Some(dirty) => (1, dirty),
                None => (0, false),
            };
            let mut ops =
                super::reclaim::KernelSwapOut { unmap, plug: &mut *plug, writes: &mut writes };
            // Mapped again while reclaim's write of it is in flight (Keep): reclaim finishes
            // it; a mapping left (Activate) stays mapped.
            match vmscan::shrink_anon_folio(&mut ops, pfn) {
                AnonPageout::NoSlot => return (writes, freed, true),
                AnonPageout::Freed => freed += 1,
                AnonPageout::Keep | AnonPageout::Activate | AnonPageout::Writeback => {}
            }
        }
        (writes, freed, false)
    }

    /// `exit_mmap`: every page and table back, the ASID released, the pgd freed. The caller
    /// has switched away from this table, so no entry of it is used before the one
    /// `flush_tlb_mm` at the end (no flush per page).
    pub fn exit_mmap(mut self: Box<Self>) {
        let ranges: alloc::vec::Vec<(usize, usize)> =
            self.mm.iter().map(|v| (v.vm_start, v.vm_end)).collect();
        let mut batch = ReleaseBatch::new();
        for &(s, e) in &ranges {
            self.zap_ptes(s, e, false, &mut batch);
        }
        self.hw.release_pages(&mut batch);
        // The table pages a batch under one page-allocator lock.
        arch::free_user_tables(self.hw.pgd, &ranges, self.hw.context_id, &mut |pages| {
            with_node(|n| {
                for &pa in pages {
                    let _ = n.free_pages_for(PageOwner::PageTable, table_pfn(pa), 0);
                }
            })
        });
        arch::flush_tlb_mm(self.hw.context_id);
        ASIDS.lock().release(self.hw.context_id);
        let _ = with_node(|n| {
            n.free_pages_for(PageOwner::PageTable, Pfn(self.hw.pgd >> 12), PGD_ORDER)
        });
        PGD_PAGES.fetch_sub(1 << PGD_ORDER, core::sync::atomic::Ordering::Relaxed);
        // remove_vma after unmap_vmas: the VMAs (and the shmem objects only they mapped) go
        // once no PTE maps their pages.
        drop(self);
        super::shmem::evict_pending();
    }

    /// `get_user_pages_remote` of one page: the frame mapped at `va` with the access allowed,
    /// faulting it in for a read or a write first (counted in `counts`, as GUP's faults are
    /// counted for the task that takes them). The fault's error when one failed (None: no
    /// mapping allows the access, or the copy stops to sleep for the card).
    fn get_user_page(
        &mut self,
        va: usize,
        write: bool,
        counts: &mut FaultCounts,
    ) -> Result<Pfn, Option<FaultError>> {
        if va >= TASK_SIZE {
            return Err(None);
        }
        for _ in 0..2 {
            if let Some(pte) = arch::get_user_pte(self.hw.pgd, va) {
                let writable = pte.write() && pte.dirty();
                if !write || writable {
                    return Ok(Pfn(pte.pfn_phys() >> 12));
                }
            }
            let flags = FaultFlags { write, instruction: false, tried: false };
            self.fault_uaccess(va, flags, counts).ok_or(None)?.map_err(Some)?;
        }
        Err(None)
    }

    /// Copies present user pages' bytes at `va` into `buf` without faulting (what
    /// `/proc/PID/cmdline` reads of another process); the bytes copied, up to the first page
    /// not present.
    pub fn peek(&self, va: usize, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let at = va + done;
            let Some(pte) = arch::get_user_pte(self.hw.pgd, at).filter(|_| at < TASK_SIZE) else {
                break;
            };
            let off = at & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            let r = with_page_mapped(Pfn(pte.pfn_phys() >> 12), |k| {
                // SAFETY: `k` maps the whole present page; the copy stays inside it.
                unsafe { core::ptr::copy_nonoverlapping(k.add(off), dst.as_mut_ptr(), n) };
            });
            if r.is_err() {
                break;
            }
            done += n;
        }
        done
    }
}

impl MmHw {
    /// An anonymous page (mapped once or more).
    fn is_anon(&self, pfn: u64) -> bool {
        hw_is_anon(pfn)
    }

    /// An anonymous page another address space maps too.
    fn is_shared_anon(&self, pfn: u64) -> bool {
        with_node(|n| n.page(Pfn(pfn)).map_or(0, |p| p.mapcount())) != 0
    }

    /// `release_pages` for the pages `zap_ptes` gathered: drops one mapping of each, and
    /// frees the anonymous ones whose last mapping it was, as `release_page` one at a time
    /// but with one page-allocator lock for the mappings (`page_remove_rmap` and the
    /// owners), one swap lock for the swap cache's pages, and one page-allocator lock for
    /// the frees (`free_unref_page_list`).
    fn release_pages(&mut self, batch: &mut ReleaseBatch) {
        let pfns = batch.take();
        if pfns.is_empty() {
            return;
        }
        let zero = zero_pfn();
        // The special mappings' frames, read once for the batch.
        let special_pfns = special_mapping_pfns();
        let (mut file, mut shmem, mut shared, mut special, mut n_anon) =
            (0i64, 0i64, 0i64, 0i64, 0usize);
        with_node(|n| {
            for i in 0..pfns.len() {
                let pfn = pfns[i];
                if pfn == zero {
                    continue;
                }
                if special_pfns.contains(&pfn) {
                    // zap_pte_range: dec_mm_counter(mm, mm_counter(page)); the page stays.
                    special += 1;
                    continue;
                }
                // One descriptor lookup: a mapping of a shared page dropped, or the owner.
                match n.zap_rmap(pfn) {
                    ZapRmap::Shared => shared += 1,
                    ZapRmap::Anon => {
                        pfns[n_anon] = pfn;
                        n_anon += 1;
                    }
                    ZapRmap::Shmem => shmem += 1,
                    ZapRmap::Other => file += 1,
                }
            }
        });
        self.rss_special -= special;
        self.rss_file -= file;
        self.rss_shmem -= shmem;
        self.rss_anon -= shared + n_anon as i64;
        // Swap-cache pages stay with the cache (or go with their slot): the rest are freed.
        if n_anon == 0 {
            return;
        }
        let n_free = swap::pages_unmapped(&mut pfns[..n_anon]);
        if n_free == 0 {
            return;
        }
        with_node(|n| {
            for &pfn in &pfns[..n_free] {
                // Off its LRU list first (`__page_cache_release`), then back.
                let (lru, map) = n.lru_mut();
                let _ = lru.folio_del_lru(map, pfn);
                let _ = n.free_pages_for(PageOwner::Anon, pfn, 0);
            }
        });
        NR_ANON_PAGES.fetch_sub(n_free as u64, core::sync::atomic::Ordering::Relaxed);
    }

    /// Drops one mapping of `pfn`: anonymous pages go back to the page allocator with their
    /// last mapping.
    fn release_page(&mut self, pfn: Pfn) {
        if pfn == zero_pfn() {
            return;
        }
        if is_special_pfn(pfn) {
            // zap_pte_range: dec_mm_counter(mm, mm_counter(page)); the page stays.
            self.rss_special -= 1;
            return;
        }
        // One descriptor lookup: a mapping of a shared page dropped, or the page's owner.
        let owner = with_node(|n| {
            if n.remove_shared_rmap(pfn) {
                return None;
            }
            Some(n.page(pfn).map(|p| (p.owner(), n.page_swapbacked(pfn))))
        });
        let Some(owner) = owner else {
            self.rss_anon -= 1;
            return;
        };
        match owner.map(|(o, _)| o) {
            Some(PageOwner::Anon) if swap::page_unmapped(pfn) => {
                // A swap-cache page: the cache keeps it (or freed it with its slot).
                self.rss_anon -= 1;
            }
            Some(PageOwner::Anon) => {
                let _ = with_node(|n| {
                    // Off its LRU list first (`__page_cache_release`), then back.
                    let (lru, map) = n.lru_mut();
                    let _ = lru.folio_del_lru(map, pfn);
                    n.free_pages_for(PageOwner::Anon, pfn, 0)
                });
                self.rss_anon -= 1;
                NR_ANON_PAGES.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
            }
            // zap_pte_range: dec_mm_counter(mm, mm_counter(page)).
            _ => {
                let swapbacked = owner.is_some_and(|(_, s)| s);
                self.rss_add(memory::mm_counter_file(swapbacked), -1);
            }
        }
    }
}

/// The pages `zap_ptes` gathers before releasing them together (`release_pages`).
const RELEASE_BATCH: usize = 32;

/// `struct mmu_gather`'s page batch: the pages whose PTEs were cleared, not released yet.
struct ReleaseBatch {
    /// The first `n` are written; the rest are not (no clearing of the array on each
    /// `munmap`, which mostly gathers nothing).
    pfns: [core::mem::MaybeUninit<Pfn>; RELEASE_BATCH],
    n: usize,
}

impl ReleaseBatch {
    const fn new() -> Self {
        Self { pfns: [const { core::mem::MaybeUninit::uninit() }; RELEASE_BATCH], n: 0 }
    }

    /// Adds a page; true when the batch is now full.
    fn push(&mut self, pfn: Pfn) -> bool {
        self.pfns[self.n].write(pfn);
        self.n += 1;
        self.n == RELEASE_BATCH
    }

    /// The gathered pages, the batch left empty.
    fn take(&mut self) -> &mut [Pfn] {
        let n = core::mem::take(&mut self.n);
        // SAFETY: `push` wrote the first `n` elements; `MaybeUninit<Pfn>` has `Pfn`'s layout.
        unsafe { &mut *(&mut self.pfns[..n] as *mut [core::mem::MaybeUninit<Pfn>] as *mut [Pfn]) }
    }
}

/// An anonymous page (mapped once or more): its owner in the page allocator.
fn hw_is_anon(pfn: u64) -> bool {
    with_node(|n| n.page(Pfn(pfn)).map(|p| p.owner())) == Some(PageOwner::Anon)
}

/// `copy_nonpresent_pte` for a VMA's swap entries: the child's swap PTEs refer to the same
/// slots (`swap_duplicate`, which adds a count continuation page when a slot's count passes
/// `SWAP_MAP_MAX`). False when no page could be had for a continuation or a table.
fn copy_swap_ptes(hw: &MmHw, child: &mut MmHw, vma: &Vma) -> bool {
    let mut swapped: alloc::vec::Vec<(usize, SwpEntry)> = alloc::vec::Vec::new();
    arch::for_each_user_swp_pte(hw.pgd, vma.vm_start, vma.vm_end, |va, e| swapped.push((va, e)));
    for (va, e) in swapped {
        let ok = swap::swap_duplicate(e).is_ok()
            && arch::set_user_swp_pte(child.pgd, va, e, &mut alloc_table_page).is_ok();
        if !ok {
            return false;
        }
        child.swapents += 1;
    }
    true
}

fn alloc_table_page() -> Option<u64> {
    with_node(|n| {
        n.alloc_pages_for(PageOwner::PageTable, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
    })
    .ok()
    .map(|p| p.phys().0)
}

/// `alloc_zeroed_user_highpage_movable`/`alloc_page_vma(GFP_HIGHUSER_MOVABLE)`: an anonymous
/// page, from HighMem first (the kernel reaches user pages by their user address or through
/// kmap, never needing a linear address), zeroed when `zero`.
fn alloc_anon(zero: bool) -> Option<Pfn> {
    let gfp = if zero {
        GfpFlags::GFP_HIGHUSER_MOVABLE | GfpFlags::__GFP_ZERO
    } else {
        GfpFlags::GFP_HIGHUSER_MOVABLE
    };
    let p = with_node(|n| n.alloc_pages_for(PageOwner::Anon, gfp, 0)).ok()?;
    NR_ANON_PAGES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    Some(p)
}

/// Frees a page `alloc_anon` gave that never got mapped.
fn free_unmapped_anon(pfn: Pfn) {
    let _ = with_node(|n| n.free_pages_for(PageOwner::Anon, pfn, 0));
    NR_ANON_PAGES.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
}

/// `__sync_icache_dcache` for a page being mapped executable: the data cleaned through a
/// kernel mapping of the page (kmap for HighMem) unless `PG_dcache_clean` says it is clean
/// since the kernel last wrote it; the instruction cache invalidated either way.
fn sync_icache_dcache(pfn: u64) {
    if with_node(|n| n.test_and_set_dcache_clean(Pfn(pfn))) {
        arch::flush_icache_all();
    } else {
        let _ = with_page_mapped(Pfn(pfn), |k| arch::sync_icache_dcache(k as usize));
    }
}

/// [`sync_icache_dcache`] for fault-around's window of pages mapped executable: one
/// page-allocator lock for their `PG_dcache_clean` tests, each page not yet clean cleaned,
/// and the instruction cache invalidated once for the window. Linux invalidates it at each
/// PTE (`set_pte_at`); no user instruction runs between the window's PTEs, so once before
/// the fault returns is the same for the program.
fn sync_icache_dcache_window(pfns: &[Option<u64>]) {
    let mut unclean = [0u64; WINDOW_SYNC_MAX];
    let mut n = 0;
    let mut rest = pfns.iter().flatten().copied();
    loop {
        // At most `WINDOW_SYNC_MAX` pages a lock (a window is 16 unless the debugfs knob
        // made `fault_around_bytes` larger, which the fault path splits into 16-page batches).
        let more = with_node(|node| {
            for pfn in rest.by_ref() {
                if !node.test_and_set_dcache_clean(Pfn(pfn)) {
                    unclean[n] = pfn;
                    n += 1;
                    if n == WINDOW_SYNC_MAX {
                        return true;
                    }
                }
            }
            false
        });
        for &pfn in &unclean[..n] {
            let _ = with_page_mapped(Pfn(pfn), |k| arch::clean_dcache_page(k as usize));
        }
        n = 0;
        if !more {
            break;
        }
    }
    arch::flush_icache_all();
}

/// Pages [`sync_icache_dcache_window`] cleans per page-allocator lock.
const WINDOW_SYNC_MAX: usize = 16;

impl FaultEnv for MmHw {
    fn pte_get(&self, va: usize) -> Option<PteState> {
        let p = arch::get_user_pte(self.pgd, va)?;
        Some(PteState { pfn: p.pfn_phys() >> 12, write: p.write(), dirty: p.dirty() })
    }

    fn pte_set(&mut self, va: usize, pte: NewPte) -> Result<(), memory::NoPageTable> {
        if pte.exec {
            sync_icache_dcache(pte.pfn);
        }
        let prot = UserPteProt { write: pte.write, exec: pte.exec, dirty: pte.dirty };
        // The entry replaced comes back from the same table lookup that writes the new one.
        let Ok(old) = arch::set_user_pte(self.pgd, va, pte.pfn << 12, prot, &mut alloc_table_page)
        else {
            // No table page (`pte_alloc` failed: VM_FAULT_OOM). With no table nothing maps
            // `va`, so an anonymous page of this mm's alone is the one the fault just
            // allocated: it goes back (Linux allocates the table first and puts the page on
            // any later failure). User pages come from HighMem/movable blocks and tables from
            // lowmem, so this happens whenever lowmem runs out before the user zones do.
            if self.is_exclusive_anon(pte.pfn) {
                free_unmapped_anon(Pfn(pte.pfn));
                self.new_anon = None;
            }
            return Err(memory::NoPageTable);
        };
        if self.new_anon == Some(pte.pfn) {
            // The new page's first mapping: on the inactive anon list, its rmap key `va`.
            self.new_anon = None;
            super::reclaim::lru_add_anon(Pfn(pte.pfn), va);
        }
        if let Some(old) = old {
            let old_pfn = Pfn(old.pfn_phys() >> 12);
            if old_pfn.0 != pte.pfn {
                self.release_page(old_pfn);
            }
            arch::flush_tlb_page(va, self.context_id);
        }
        Ok(())
    }

    fn map_pages(
        &mut self,
        start: usize,
        pfns: &mut [Option<u64>],
        write: bool,
        exec: bool,
    ) -> Result<usize, memory::NoPageTable> {
        // Only empty slots are written: nothing is replaced, so no page to release and no TLB
        // entry to flush.
        let prot = UserPteProt { write, exec, dirty: false };
        let mapped = arch::set_user_ptes_none(self.pgd, start, pfns, prot, &mut alloc_table_page)
            .map_err(|_| memory::NoPageTable)?;
        if exec {
            // Before the fault returns, so before the user can run the new mappings.
            sync_icache_dcache_window(pfns);
        }
        // Each page in the counter its PG_swapbacked picks (one page-allocator lock).
        let shmem = with_node(|n| {
            pfns.iter().flatten().filter(|&&p| n.page_swapbacked(Pfn(p))).count() as i64
        });
        self.rss_shmem += shmem;
        self.rss_file += mapped as i64 - shmem;
        Ok(mapped)
    }

    fn zero_pfn(&self) -> u64 {
        zero_pfn().0
    }

    fn alloc_anon_page(&mut self) -> Option<u64> {
        let p = alloc_anon(true)?.0;
        self.new_anon = Some(p);
        Some(p)
    }

    fn alloc_copy_page(&mut self, src: u64) -> Option<u64> {
        // copy_user_highpage: both pages kmapped (either may be in HighMem).
        let dst = alloc_anon(false)?;
        let copied = with_two_pages_mapped(Pfn(src), dst, |s, d| {
            // SAFETY: two distinct whole pages mapped for the duration; the new one is ours
            // alone.
            unsafe { crate::arch::page::copy_page(d, s as *const u8) };
        });
        if copied.is_err() {
            free_unmapped_anon(dst);
            return None;
        }
        self.new_anon = Some(dst.0);
        Some(dst.0)
    }

    fn is_exclusive_anon(&self, pfn: u64) -> bool {
        // One descriptor lookup: anonymous, and no other address space maps it.
        with_node(|n| n.page(Pfn(pfn)).map(|p| (p.owner(), p.mapcount())))
            == Some((PageOwner::Anon, 0))
            && !swap::swapcache_shared(Pfn(pfn))
    }

    fn file_page(
        &mut self,
        vma: &Vma,
        file: &alloc::sync::Arc<VmFile>,
        index: u64,
        flags: FaultFlags,
    ) -> Result<CachePage, FaultError> {
        if crate::kernel::cardfs::is_card_file(file) {
            return crate::kernel::cardfs::filemap_fault(vma, file, index, flags);
        }
        fs::file_page(file, index)
    }

    fn file_fault_ready(
        &mut self,
        _vma: &Vma,
        file: &alloc::sync::Arc<VmFile>,
        index: u64,
    ) -> Result<bool, FaultError> {
        if crate::kernel::cardfs::is_card_file(file) {
            return crate::kernel::cardfs::filemap_fault_ready(file, index);
        }
        Ok(true)
    }

    fn cached_page(&self, file: &VmFile, index: u64) -> Option<u64> {
        if crate::kernel::cardfs::is_card_file(file) {
            return crate::kernel::cardfs::map_pages_page(file, index).map(|p| p.0);
        }
        fs::cached_page(file, index).map(|p| p.0)
    }

    fn cached_pages(&self, file: &VmFile, index: u64, out: &mut [Option<u64>]) {
        if crate::kernel::cardfs::is_card_file(file) {
            crate::kernel::cardfs::map_pages_pages(file, index, out);
            return;
        }
        fs::cached_pages(file, index, out);
    }

    fn fault_around_bytes(&self) -> usize {
        crate::mm::memory::FAULT_AROUND.load(core::sync::atomic::Ordering::Relaxed)
    }

    fn fault_around_hits(&mut self, file: &alloc::sync::Arc<VmFile>, pages: u64) {
        if crate::kernel::cardfs::is_card_file(file) {
            crate::kernel::cardfs::fault_around_hits(file, pages);
        }
    }

    fn special_page(&mut self, vma: &Vma, offset: u64) -> Option<u64> {
        use crate::mm::mm_types::SpecialMapping;
        match vma.special? {
            SpecialMapping::Sigpage => SPECIAL.get().map(|s| s.sigpage.0),
            kind @ (SpecialMapping::Vvar | SpecialMapping::Vdso) => {
                crate::kernel::vsyscall::vdso_special_page(kind, offset)
            }
        }
    }

    fn rss_add(&mut self, kind: RssKind, delta: i64) {
        match kind {
            RssKind::Anon => self.rss_anon += delta,
            RssKind::File => self.rss_file += delta,
            RssKind::Shmem => self.rss_shmem += delta,
            RssKind::Special => self.rss_special += delta,
        }
    }

    fn page_swapbacked(&self, pfn: u64) -> bool {
        page_swapbacked(Pfn(pfn))
    }

    fn swap_pte_get(&self, va: usize) -> Option<SwpEntry> {
        arch::get_user_swp_entry(self.pgd, va)
    }

    fn swapin_page(
        &mut self,
        vma: &Vma,
        va: usize,
        entry: SwpEntry,
    ) -> Result<SwapPage, FaultError> {
        super::swapin::swapin_page(self, vma, va, entry)
    }

    fn swap_map_page(&mut self, _va: usize, entry: SwpEntry, pfn: u64, write_fault: bool) -> bool {
        super::swapin::swap_map_page(self, entry, Pfn(pfn), write_fault)
    }

    fn free_swap_cache(&mut self, pfn: u64) {
        swap::try_free_swap(Pfn(pfn));
    }
}

/// The page tables of a process's user half.
pub fn user_table_pages(pm: &ProcessMm) -> usize {
    arch::user_table_count(pm.hw.pgd)
}

/// A process's memory as its system calls reach it.
///
/// When `pm` is the address space live in TTBR0 (the calling process's own, the usual case),
/// every access goes through `arch::uaccess`: plain loads and stores at the user address,
/// listed in the exception table. A fault the accessor takes is resolved here rather than in
/// the abort handler: the abort handler only records it and resumes at the fixup (so the
/// accessor returns short), and [`UserMem`] resolves the recorded fault with the address
/// space it holds and retries from the first byte not copied. This is Linux's
/// `do_page_fault` for a kernel-mode fault on a user address, moved out of the exception:
/// while a system call runs, the caller's `mm` is out of its task (`with_user` takes it, and
/// the task table's lock is held), so the abort handler could not reach it without a second
/// lock; the mm holder resolves it instead. The counts are Linux's: each fault the hardware
/// takes goes through `handle_mm_fault` once and is counted in `min_flt`/`pgfault` as
/// `mm_account_fault` counts a fault without `FAULT_FLAG_USER`; one the fault path cannot
/// resolve (no VMA, bad permission: `no_context` in kernel mode) leaves the copy short and
/// the system call returns `EFAULT`. One that found no free page stops the copy for the call
/// to reclaim with its locks dropped and go on (`no_page`), or fails so where the
/// call cannot.
///
/// Any other address space (exec writing the new program's stack before it is switched to,
/// a forked child's `CLONE_CHILD_SETTID` word) is reached page by page through `kmap`, as
/// `access_remote_vm` does, its faults taken through the same fault path.
pub struct UserMem<'a> {
    pub pm: &'a mut ProcessMm,
    pub counts: &'a mut FaultCounts,
}

impl UserMem<'_> {
    /// Whether this address space's table is the live one (TTBR0).
    fn live(&self) -> bool {
        uaccess::live_pgd() == self.pm.hw.pgd
    }

    /// Runs `access` (one pass of an accessor over the live table, from byte `from`; `Err(done)`
    /// when a fault stopped it with `done` bytes done), resolving each fault it takes and
    /// running it again from where it stopped. A fault the fault path resolved that recurs at
    /// once at the same place and point is not retried again (it would loop).
    fn retry<T>(&mut self, mut access: impl FnMut(usize) -> Result<T, usize>) -> Result<T, UFault> {
        let mut from = 0;
        let mut last = None;
        loop {
            match access(from) {
                Ok(v) => return Ok(v),
                Err(done) => {
                    let f = crate::arch::fault::last_fixup_fault();
                    let addr = f.address();
                    if last == Some((addr, done)) || !self.resolve(addr, f.status()) {
                        return Err(UFault { done });
                    }
                    last = Some((addr, done));
                    from = done;
                }
            }
        }
    }

    /// `do_page_fault` for a kernel access to user memory: resolved (and counted) through
    /// the process's fault path, or not.
    fn resolve(&mut self, addr: usize, fsr: u32) -> bool {
        if addr >= TASK_SIZE {
            return false;
        }
        // A data access: the architecture decodes the status it saved at the fixup.
        let UserTrap::PageFault { flags, .. } = arch::decode_abort(addr, fsr, false) else {
            return false;
        };
        // None: the copy stops to sleep for the card with its locks dropped.
        let Some(r) = self.pm.fault_uaccess(addr, flags, self.counts) else { return false };
        if r == Err(FaultError::Oom) {
            no_page(Errno::EFAULT);
        }
        r.is_ok()
    }

    /// The remote path: page by page through kmap, `get_user_page` faulting each in.
    fn remote_copy(
        &mut self,
        addr: usize,
        len: usize,
        write: bool,
        mut copy: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), UFault> {
        let mut done = 0;
        while done < len {
            let va = addr + done;
            let pfn = match self.pm.get_user_page(va, write, self.counts) {
                Ok(pfn) => pfn,
                Err(e) => {
                    if e == Some(FaultError::Oom) {
                        // `get_user_pages`' fault: ENOMEM if reclaim gives up.
                        no_page(Errno::ENOMEM);
                    }
                    return Err(UFault { done });
                }
            };
            let off = va & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(len - done);
            // SAFETY (of the offset): `k` maps the whole page; `copy` stays inside it.
            with_page_mapped(pfn, |k| copy(unsafe { k.add(off) }, done, n))
                .map_err(|_| UFault { done })?;
            done += n;
        }
        Ok(())
    }
}

/// A fault of a copy found no free page. No reclaim here (the copy may run under the task
/// table): when the caller asked to ([`super::iowait::defer_reclaim`]) the copy stops and the
/// caller reclaims with its locks dropped and goes on, the fault then counted once (or, when
/// reclaim gives up, as one that got `VM_FAULT_OOM`, and the caller fails with `gave_up`:
/// `super::reclaim::reclaim_for_uaccess`); otherwise the copy fails here, the fault counted
/// so.
fn no_page(gave_up: Errno) {
    if !super::iowait::defer_reclaim(gave_up) {
        super::count_vm_fault(Err(FaultError::Oom));
    }
}

impl UserMemory for UserMem<'_> {
    fn access_ok(&self, addr: usize, len: usize) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
    }

    fn copy_from_user(&mut self, buf: &mut [u8], addr: usize) -> Result<(), UFault> {
        if !self.access_ok(addr, buf.len()) {
            return Err(UFault { done: 0 });
        }
        if !self.live() {
            return self.remote_copy(addr, buf.len(), false, |k, at, n| {
                // SAFETY: `k` is a kernel mapping of the page holding `addr + at`, `n` bytes
                // of it left; `buf[at..at + n]` is in bounds.
                unsafe { core::ptr::copy_nonoverlapping(k, buf[at..].as_mut_ptr(), n) }
            });
        }
        // get_user of a scalar, else copy_from_user.
        let len = buf.len();
        if matches!(len, 1 | 2 | 4 | 8) {
            return self.retry(|_| {
                uaccess::get_user(addr, buf).unwrap_or(Err(uaccess::Efault)).map_err(|_| 0)
            });
        }
        self.retry(|from| match uaccess::copy_from_user(&mut buf[from..], addr + from) {
            0 => Ok(()),
            left => Err(len - left),
        })
    }

    fn copy_to_user(&mut self, addr: usize, data: &[u8]) -> Result<(), UFault> {
        if !self.access_ok(addr, data.len()) {
            return Err(UFault { done: 0 });
        }
        if !self.live() {
            return self.remote_copy(addr, data.len(), true, |k, at, n| {
                // SAFETY: as in copy_from_user; the page is the process's own and writable
                // (a copy-on-write page was copied by the fault).
                unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), k, n) }
            });
        }
        let len = data.len();
        if matches!(len, 1 | 2 | 4 | 8) {
            return self.retry(|_| {
                uaccess::put_user(addr, data).unwrap_or(Err(uaccess::Efault)).map_err(|_| 0)
            });
        }
        self.retry(|from| match uaccess::copy_to_user(addr + from, &data[from..]) {
            0 => Ok(()),
            left => Err(len - left),
        })
    }

    fn clear_user(&mut self, addr: usize, len: usize) -> Result<(), UFault> {
        if !self.access_ok(addr, len) {
            return Err(UFault { done: 0 });
        }
        if !self.live() {
            return self.remote_copy(addr, len, true, |k, _, n| {
                // SAFETY: as in copy_to_user.
                unsafe { core::ptr::write_bytes(k, 0, n) }
            });
        }
        self.retry(|from| match uaccess::clear_user(addr + from, len - from) {
            0 => Ok(()),
            left => Err(len - left),
        })
    }

    fn strncpy_from_user(&mut self, dst: &mut [u8], addr: usize) -> Result<usize, UFault> {
        let end = addr.checked_add(dst.len()).map_or(TASK_SIZE, |e| e.min(TASK_SIZE));
        if addr >= TASK_SIZE {
            return Err(UFault { done: 0 });
        }
        if !self.live() {
            return default_strncpy(self, dst, addr);
        }
        // Never past TASK_SIZE: a string running to it without a NUL faults there.
        let n = end - addr;
        let got = self.retry(|_| uaccess::strncpy_from_user(&mut dst[..n], addr).map_err(|_| 0))?;
        if got == n && n < dst.len() {
            return Err(UFault { done: n });
        }
        Ok(got)
    }

    fn strnlen_user(&mut self, addr: usize, n: usize) -> usize {
        if addr >= TASK_SIZE {
            return 0;
        }
        if !self.live() {
            return default_strnlen(self, addr, n);
        }
        let max = n.min(TASK_SIZE - addr);
        match self.retry(|_| match uaccess::strnlen_user(addr, max) {
            0 => Err(0),
            r => Ok(r),
        }) {
            // No NUL before TASK_SIZE, where a longer limit would have faulted.
            Ok(r) if r > max && max < n => 0,
            Ok(r) => r,
            Err(_) => 0,
        }
    }
}

/// The trait's byte-by-byte `strncpy_from_user`, for the remote path.
fn default_strncpy(m: &mut UserMem<'_>, dst: &mut [u8], addr: usize) -> Result<usize, UFault> {
    for i in 0..dst.len() {
        m.copy_from_user(&mut dst[i..=i], addr + i).map_err(|_| UFault { done: i })?;
        if dst[i] == 0 {
            return Ok(i);
        }
    }
    Ok(dst.len())
}

/// The trait's byte-by-byte `strnlen_user`, for the remote path.
fn default_strnlen(m: &mut UserMem<'_>, addr: usize, n: usize) -> usize {
    let mut b = [0u8; 1];
    for i in 0..n {
        if m.copy_from_user(&mut b, addr + i).is_err() {
            return 0;
        }
        if b[0] == 0 {
            return i + 1;
        }
    }
    n + 1
}

/// The frame of a page-table page the architecture hands back by its physical address (a
/// `u32` on ARMv7, a `u64` on arm64).
fn table_pfn(pa: impl Into<u64>) -> Pfn {
    Pfn(pa.into() >> crate::mm::PAGE_SHIFT)
}
