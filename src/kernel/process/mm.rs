//! A process's address space on the device: the arch-neutral `MmStruct` (VMAs) with its
//! first-level table, ASID and RSS counters; the [`FaultEnv`] the fault path works through
//! (PTEs via `arch::process`, anonymous pages owned `Anon`, page-cache pages, the zero
//! page and the sigpage); `zap_page_range` (munmap, MADV_DONTNEED, exit) and `exit_mmap`; and
//! user-memory access for system calls, which walks the tables and takes the same faults a
//! user access would (`copy_from_user` and `copy_to_user` resolved through `handle_mm_fault`,
//! counted as Linux counts kernel-mode faults on user pages), never touching memory the
//! process could not.
use alloc::boxed::Box;

use spin::{Mutex, Once};

use super::fs;
use crate::abi::uaccess::{Fault as UFault, UserMemory};
use crate::arch::asid::AsidAllocator;
use crate::arch::process::{self as arch, UserPteProt, PGD_ORDER, TASK_SIZE};
use crate::config::PAGE_OFFSET;
use crate::kernel::mem::with_node;
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{
    self, CachePage, FaultCounts, FaultEnv, FaultError, FaultFlags, NewPte, PteState, RssKind,
};
use crate::mm::mm_types::{MmStruct, Rlimits, VmFile, Vma, PAGE_SIZE};
use crate::mm::page::PageOwner;
use crate::mm::Pfn;

/// The ASIDs (one allocator: one CPU runs processes).
pub static ASIDS: Mutex<AsidAllocator> = Mutex::new(AsidAllocator::new());

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
        arch::sync_icache_dcache(va as u32);
    }
    SPECIAL.call_once(|| SpecialPages { zero, sigpage });
    true
}

/// `ZERO_PAGE(0)`'s frame.
pub(crate) fn zero_pfn() -> Pfn {
    SPECIAL.get().map_or(Pfn(0), |s| s.zero)
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
    pub rss_file: i64,
}

/// `struct mm_struct` on the device.
pub struct ProcessMm {
    pub mm: MmStruct,
    pub hw: MmHw,
}

/// Anonymous pages mapped by more than one address space after `fork`: the mappings beyond
/// the first (a page's `_mapcount` above 0). Such a page is copied on a write fault and freed
/// only when its last mapping goes.
static ANON_SHARED: Mutex<alloc::collections::BTreeMap<u64, u32>> =
    Mutex::new(alloc::collections::BTreeMap::new());

/// First-level tables of processes, in pages (`/proc/meminfo` PageTables counts them).
pub static PGD_PAGES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Live anonymous pages of every process (`/proc/meminfo` AnonPages).
pub static NR_ANON_PAGES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl ProcessMm {
    /// `mm_alloc` + `pgd_alloc`: an empty address space for this split.
    pub fn new() -> Option<Box<ProcessMm>> {
        let pgd =
            with_node(|n| n.alloc_pages_for(PageOwner::PageTable, GfpFlags::GFP_KERNEL, PGD_ORDER))
                .ok()?;
        PGD_PAGES.fetch_add(1 << PGD_ORDER, core::sync::atomic::Ordering::Relaxed);
        let va = kva(pgd)?;
        // SAFETY: the four pages were just allocated for this table and are in lowmem.
        unsafe { arch::pgd_init(va as *mut u32) };
        let mut mm =
            MmStruct::new(crate::arch::memory::arch_mm(PAGE_OFFSET as usize), Rlimits::DEFAULT);
        mm.task_size = TASK_SIZE;
        Some(Box::new(ProcessMm {
            mm,
            hw: MmHw { pgd: pgd.phys().0, context_id: 0, rss_anon: 0, rss_file: 0 },
        }))
    }

    /// Makes this the live address space (`switch_mm`), with a valid ASID.
    pub fn activate(&mut self) {
        let flush = ASIDS.lock().check_and_switch(&mut self.hw.context_id, 0);
        arch::switch_mm(self.hw.pgd, self.hw.context_id, flush);
    }

    /// `__do_page_fault` + `mm_account_fault`: resolves a fault at `addr` and counts it.
    pub fn fault(
        &mut self,
        addr: usize,
        flags: FaultFlags,
        counts: &mut FaultCounts,
    ) -> Result<memory::Fault, FaultError> {
        let r = memory::do_page_fault(&mut self.mm, &mut self.hw, addr, flags);
        counts.account(r);
        super::count_vm_fault(r);
        r
    }

    /// `zap_page_range`: unmaps `[start, end)`, freeing the anonymous pages, and flushes.
    pub fn zap_range(&mut self, start: usize, end: usize) {
        let (pgd, context_id) = (self.hw.pgd, self.hw.context_id);
        arch::zap_user_ptes(pgd, start, end, |va, old| {
            if old.present() {
                self.hw.release_page(Pfn(old.pfn_phys() >> 12));
            }
            arch::flush_tlb_page(va, context_id);
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
    pub fn fork(&mut self) -> Option<Box<ProcessMm>> {
        use crate::mm::mm_types::VmFlags;
        let mut child = ProcessMm::new()?;
        child.mm = self.mm.clone();
        let vmas: alloc::vec::Vec<Vma> = self.mm.iter().cloned().collect();
        for vma in vmas {
            // Only the present PTEs, read a table at a time (copy_pte_range skips the rest).
            let mut present: alloc::vec::Vec<(usize, PteState)> = alloc::vec::Vec::new();
            arch::for_each_user_pte(self.hw.pgd, vma.vm_start, vma.vm_end, |va, p| {
                present.push((va, PteState { pfn: p.pfn, write: p.write, dirty: p.dirty }));
            });
            let anon = |hw: &MmHw, pfn| hw.is_exclusive_anon(pfn) || hw.is_shared_anon(pfn);
            if !present.iter().any(|&(_, p)| anon(&self.hw, p.pfn)) {
                continue;
            }
            let shared = vma.vm_flags.contains(VmFlags::SHARED);
            let cow = vma.vm_flags.contains(VmFlags::MAYWRITE) && !shared;
            let exec = vma.vm_flags.contains(VmFlags::EXEC);
            for (va, p) in present {
                let special =
                    p.pfn == zero_pfn().0 || SPECIAL.get().is_some_and(|s| s.sigpage.0 == p.pfn);
                if anon(&self.hw, p.pfn) {
                    *ANON_SHARED.lock().entry(p.pfn).or_insert(0) += 1;
                    child.hw.rss_anon += 1;
                } else if !special {
                    child.hw.rss_file += 1;
                }
                if cow && p.write {
                    let _ = self
                        .hw
                        .pte_set(va, NewPte { pfn: p.pfn, write: false, exec, dirty: p.dirty });
                }
                let prot = UserPteProt { write: p.write && !cow, exec, dirty: p.dirty && !shared };
                let r = arch::set_user_pte_old(
                    child.hw.pgd,
                    va,
                    p.pfn << 12,
                    prot,
                    &mut alloc_table_page,
                );
                if r.is_err() {
                    arch::flush_tlb_mm(self.hw.context_id);
                    child.exit_mmap();
                    return None;
                }
            }
        }
        arch::flush_tlb_mm(self.hw.context_id);
        Some(child)
    }

    /// `exit_mmap`: every page and table back, the ASID released, the pgd freed. The caller
    /// has switched away from this table.
    pub fn exit_mmap(mut self: Box<Self>) {
        let ranges: alloc::vec::Vec<(usize, usize)> =
            self.mm.iter().map(|v| (v.vm_start, v.vm_end)).collect();
        for (s, e) in ranges {
            self.zap_range(s, e);
        }
        arch::free_user_tables(self.hw.pgd, &mut |pa| {
            let _ =
                with_node(|n| n.free_pages_for(PageOwner::PageTable, Pfn(u64::from(pa) >> 12), 0));
        });
        arch::flush_tlb_mm(self.hw.context_id);
        ASIDS.lock().release(self.hw.context_id);
        let _ = with_node(|n| {
            n.free_pages_for(PageOwner::PageTable, Pfn(self.hw.pgd >> 12), PGD_ORDER)
        });
        PGD_PAGES.fetch_sub(1 << PGD_ORDER, core::sync::atomic::Ordering::Relaxed);
    }

    /// The kernel address of the user page at `va`, faulting it in for a read or a write
    /// as a kernel access to user memory would.
    fn user_page(&mut self, va: usize, write: bool, counts: &mut FaultCounts) -> Option<usize> {
        if va >= TASK_SIZE {
            return None;
        }
        for _ in 0..2 {
            if let Some(pte) = arch::get_user_pte(self.hw.pgd, va) {
                let writable = pte.0 & crate::arch::process::L_PTE_RDONLY == 0 && pte.dirty();
                if !write || writable {
                    return kva(Pfn(pte.pfn_phys() >> 12)).map(|k| k + (va & (PAGE_SIZE - 1)));
                }
            }
            self.fault(va, FaultFlags { write, instruction: false }, counts).ok()?;
        }
        None
    }
}

impl MmHw {
    /// An anonymous page another address space maps too.
    fn is_shared_anon(&self, pfn: u64) -> bool {
        ANON_SHARED.lock().contains_key(&pfn)
    }

    /// Drops one mapping of `pfn`: anonymous pages go back to the page allocator with their
    /// last mapping.
    fn release_page(&mut self, pfn: Pfn) {
        if pfn == zero_pfn() || SPECIAL.get().is_some_and(|s| s.sigpage == pfn) {
            return;
        }
        {
            let mut shared = ANON_SHARED.lock();
            if let Some(n) = shared.get_mut(&pfn.0) {
                *n -= 1;
                if *n == 0 {
                    shared.remove(&pfn.0);
                }
                self.rss_anon -= 1;
                return;
            }
        }
        let owner = with_node(|n| n.page(pfn).map(|p| p.owner()));
        match owner {
            Some(PageOwner::Anon) => {
                let _ = with_node(|n| n.free_pages_for(PageOwner::Anon, pfn, 0));
                self.rss_anon -= 1;
                NR_ANON_PAGES.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
            }
            _ => self.rss_file -= 1,
        }
    }
}

fn alloc_table_page() -> Option<u64> {
    with_node(|n| {
        n.alloc_pages_for(PageOwner::PageTable, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
    })
    .ok()
    .map(|p| p.phys().0)
}

fn alloc_anon() -> Option<Pfn> {
    let p = with_node(|n| {
        n.alloc_pages_for(PageOwner::Anon, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
    })
    .ok()?;
    NR_ANON_PAGES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    Some(p)
}

impl FaultEnv for MmHw {
    fn pte_get(&self, va: usize) -> Option<PteState> {
        let p = arch::get_user_pte(self.pgd, va)?;
        Some(PteState {
            pfn: p.pfn_phys() >> 12,
            write: p.0 & crate::arch::process::L_PTE_RDONLY == 0,
            dirty: p.dirty(),
        })
    }

    fn pte_set(&mut self, va: usize, pte: NewPte) -> Result<(), memory::NoPageTable> {
        let old = arch::get_user_pte(self.pgd, va);
        if pte.exec {
            if let Some(k) = kva(Pfn(pte.pfn)) {
                arch::sync_icache_dcache(k as u32);
            }
        }
        let prot = UserPteProt { write: pte.write, exec: pte.exec, dirty: pte.dirty };
        arch::set_user_pte(self.pgd, va, pte.pfn << 12, prot, &mut alloc_table_page)
            .map_err(|_| memory::NoPageTable)?;
        if let Some(old) = old {
            let old_pfn = Pfn(old.pfn_phys() >> 12);
            if old_pfn.0 != pte.pfn {
                self.release_page(old_pfn);
            }
            arch::flush_tlb_page(va, self.context_id);
        }
        Ok(())
    }

    fn zero_pfn(&self) -> u64 {
        zero_pfn().0
    }

    fn alloc_anon_page(&mut self) -> Option<u64> {
        alloc_anon().map(|p| p.0)
    }

    fn alloc_copy_page(&mut self, src: u64) -> Option<u64> {
        let dst = alloc_anon()?;
        if let (Some(s), Some(d)) = (kva(Pfn(src)), kva(dst)) {
            // SAFETY: two distinct lowmem pages; the new one is ours alone.
            unsafe { crate::arch::page::copy_page(d as *mut u8, s as *const u8) };
        }
        Some(dst.0)
    }

    fn is_exclusive_anon(&self, pfn: u64) -> bool {
        with_node(|n| n.page(Pfn(pfn)).map(|p| p.owner())) == Some(PageOwner::Anon)
            && !self.is_shared_anon(pfn)
    }

    fn file_page(&mut self, file: &VmFile, index: u64) -> Option<CachePage> {
        fs::file_page(file.ino, index).map(|p| CachePage { pfn: p.0, major: false })
    }

    fn cached_page(&self, file: &VmFile, index: u64) -> Option<u64> {
        fs::cached_page(file.ino, index).map(|p| p.0)
    }

    fn special_page(&mut self, vma: &Vma, _offset: u64) -> Option<u64> {
        use crate::mm::mm_types::SpecialMapping;
        match vma.special? {
            SpecialMapping::Sigpage => SPECIAL.get().map(|s| s.sigpage.0),
            _ => Some(zero_pfn().0),
        }
    }

    fn rss_add(&mut self, kind: RssKind, delta: i64) {
        match kind {
            RssKind::Anon => self.rss_anon += delta,
            RssKind::File => self.rss_file += delta,
        }
    }
}

/// The page tables of a process's user half.
pub fn user_table_pages(pm: &ProcessMm) -> usize {
    arch::user_table_count(pm.hw.pgd)
}

/// A process's memory as its system calls reach it.
pub struct UserMem<'a> {
    pub pm: &'a mut ProcessMm,
    pub counts: &'a mut FaultCounts,
}

impl UserMemory for UserMem<'_> {
    fn access_ok(&self, addr: usize, len: usize) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
    }

    fn copy_from_user(&mut self, buf: &mut [u8], addr: usize) -> Result<(), UFault> {
        let mut done = 0;
        while done < buf.len() {
            let va = addr + done;
            let Some(k) = self.pm.user_page(va, false, self.counts) else {
                return Err(UFault { done });
            };
            let n = (PAGE_SIZE - (va & (PAGE_SIZE - 1))).min(buf.len() - done);
            // SAFETY: `k` is the linear-map address of the mapped user page holding `va`; the
            // copy stays inside that page.
            unsafe { core::ptr::copy_nonoverlapping(k as *const u8, buf[done..].as_mut_ptr(), n) };
            done += n;
        }
        Ok(())
    }

    fn copy_to_user(&mut self, addr: usize, data: &[u8]) -> Result<(), UFault> {
        let mut done = 0;
        while done < data.len() {
            let va = addr + done;
            let Some(k) = self.pm.user_page(va, true, self.counts) else {
                return Err(UFault { done });
            };
            let n = (PAGE_SIZE - (va & (PAGE_SIZE - 1))).min(data.len() - done);
            // SAFETY: as in copy_from_user; the page is mapped writable and dirty, the
            // process's own (a copy-on-write page was copied by the fault).
            unsafe { core::ptr::copy_nonoverlapping(data[done..].as_ptr(), k as *mut u8, n) };
            done += n;
        }
        Ok(())
    }
}
