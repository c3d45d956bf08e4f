//! The page-fault path of a process address space, as Linux 6.1's mm/memory.c and the
//! architecture-independent half of arch/arm/mm/fault.c take it: `find_vma`, stack expansion,
//! the access check, then `handle_mm_fault` (anonymous pages, the shared zero page, file pages
//! from the page cache with `do_fault_around`, copy-on-write) and what `mm_account_fault`
//! counts. Arch-neutral: the page tables, the pages and the page cache are reached through
//! [`FaultEnv`], which the kernel implements over a process's tables and the host tests over
//! plain maps.
use super::mm_types::{MmStruct, VmFlags, Vma, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};
use alloc::sync::Arc;

use super::mm_types::VmFile;
use super::swapops::SwpEntry;

/// A page a swap-in fault found or read (`do_swap_page`): its frame, whether it had to
/// be read from the swap area (`VM_FAULT_MAJOR`), and whether its read is still in flight
/// (`folio_lock_or_retry` failed: `VM_FAULT_RETRY`, the page is not mapped and the fault runs
/// again once the read is done; `pfn` is then meaningless).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapPage {
    pub pfn: u64,
    pub major: bool,
    pub retry: bool,
}

/// `fault_around_bytes`'s default (`/sys/kernel/debug/fault_around_bytes`): 64 KiB, 16 pages.
pub const FAULT_AROUND_BYTES: usize = 65536;
/// `fault_around_bytes` as set through debugfs (a power of two from a page to
/// `PTRS_PER_PTE` pages: `proc::sysctl::fault_around_bytes_set`); the kernel's fault
/// environment reads it.
pub static FAULT_AROUND: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(FAULT_AROUND_BYTES);
/// How many cache pages fault-around looks up at once (the default window's 16 pages; a
/// larger `fault_around_bytes` takes several batches, keeping the buffer on the stack small).
const FAULT_AROUND_BATCH: usize = FAULT_AROUND_BYTES >> PAGE_SHIFT;
/// `PTRS_PER_PTE` of 32-bit ARM's folded tables (512 entries, 2 MiB): fault-around never
/// crosses a page-table boundary.
pub const PTRS_PER_PTE: usize = 512;

/// What kind of access faulted (Linux's `FAULT_FLAG_WRITE`, `FAULT_FLAG_INSTRUCTION`, as the
/// architecture decoded them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FaultFlags {
    pub write: bool,
    pub instruction: bool,
    /// `FAULT_FLAG_TRIED`: the fault is being retried after `VM_FAULT_RETRY`.
    pub tried: bool,
}

/// A user-mode exception as the architecture decoded it (from ARM's FSR, arm64's ESR), so
/// that the shared fault code reads no status register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTrap {
    /// A translation, access-flag or permission fault at `addr`: the fault path resolves it
    /// (`do_page_fault`). `raw` is the status register for reports and `error_code`.
    PageFault { addr: usize, flags: FaultFlags, raw: u32 },
    /// Any other exception: `signo` with `code` at `addr` at once; `trap_no` as the signal
    /// frame reports it (14 for an abort, 6 for an undefined instruction on ARM).
    Signal { addr: usize, signo: u32, code: i32, trap_no: u32, raw: u32 },
}

/// A present PTE as the fault path sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteState {
    pub pfn: u64,
    /// `pte_write()`: the Linux PTE allows writes.
    pub write: bool,
    /// `pte_dirty()`: the hardware entry is writable only when dirty (ARM's software tracking).
    pub dirty: bool,
}

/// A PTE to install: the page and its protections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewPte {
    pub pfn: u64,
    pub write: bool,
    pub exec: bool,
    pub dirty: bool,
}

/// No memory for a page-table page (`pte_alloc` failed): the fault becomes `VM_FAULT_OOM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoPageTable;

/// How a page mapped by a fault is counted in the mm's RSS (`MM_ANONPAGES`, `MM_FILEPAGES`,
/// `MM_SHMEMPAGES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssKind {
    Anon,
    /// A page-cache page that is not swap-backed (a file on the card).
    File,
    /// A swap-backed page-cache page (tmpfs: the rootfs's files, shared anonymous memory).
    Shmem,
    /// A special mapping's page (`[sigpage]`, `[vvar]`, `[vdso]`): `special_mapping_fault`
    /// hands `do_set_pte` a kernel page, which `mm_counter_file` books as `MM_FILEPAGES`
    /// (it is not swap-backed).
    Special,
}

/// `mm_counter_file()`: the counter a page-cache page mapped by a fault goes to, decided by
/// the page itself (`PageSwapBacked`: tmpfs and shmem pages are, a disk file's are not).
pub const fn mm_counter_file(swapbacked: bool) -> RssKind {
    if swapbacked {
        RssKind::Shmem
    } else {
        RssKind::File
    }
}

/// A page-cache page found for a fault: its frame, whether it had to be read in
/// (`VM_FAULT_MAJOR`) and whether the mmap lock was dropped for I/O (`VM_FAULT_RETRY`: the
/// page is not mapped and the fault runs again with `FAULT_FLAG_TRIED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePage {
    pub pfn: u64,
    pub major: bool,
    pub retry: bool,
}

/// What the fault path needs from the kernel: one address space's page tables, pages, the
/// page cache and the special pages.
pub trait FaultEnv {
    fn pte_get(&self, va: usize) -> Option<PteState>;
    /// Installs `pte` at `va` (replacing any), flushing a replaced entry; a replaced page's
    /// mapping is released and uncounted from the RSS here. `Err` when no page table could be
    /// allocated.
    fn pte_set(&mut self, va: usize, pte: NewPte) -> Result<(), NoPageTable>;
    /// The shared zero page (`ZERO_PAGE(0)`).
    fn zero_pfn(&self) -> u64;
    /// A zeroed page for an anonymous mapping (`alloc_zeroed_user_highpage_movable`).
    fn alloc_anon_page(&mut self) -> Option<u64>;
    /// A fresh anonymous page holding a copy of `src` (`wp_page_copy`, `do_cow_fault`).
    fn alloc_copy_page(&mut self, src: u64) -> Option<u64>;
    /// Whether the page is an anonymous page this address space owns alone (reusable on a
    /// write fault, `wp_can_reuse_anon_page`).
    fn is_exclusive_anon(&self, pfn: u64) -> bool;
    /// `filemap_fault`: page `index` of `file` (mapped by `vma`), from the cache or read in;
    /// `Err(Sigbus)` past EOF, `Err(Oom)` without memory.
    fn file_page(
        &mut self,
        vma: &Vma,
        file: &Arc<VmFile>,
        index: u64,
        flags: FaultFlags,
    ) -> Result<CachePage, FaultError>;
    /// What `filemap_fault` will need of page `index` of `file` besides the page itself, got
    /// before the fault touches anything (a card file's cluster chain, read from the FAT):
    /// false when it is being read, and the fault returns `VM_FAULT_RETRY` at once, to be
    /// run again unchanged once it is in (the environment knows it is no retry of Linux's).
    fn file_fault_ready(
        &mut self,
        _vma: &Vma,
        _file: &Arc<VmFile>,
        _index: u64,
    ) -> Result<bool, FaultError> {
        Ok(true)
    }
    /// A page already in the cache and up to date, not a read-ahead marker
    /// (`next_uptodate_page`), for fault-around; None for pages not cached or past EOF.
    fn cached_page(&self, file: &VmFile, index: u64) -> Option<u64>;
    /// [`FaultEnv::cached_page`] of `out.len()` consecutive pages from `index`: where the
    /// cache can, one lookup of the file's cache for all (`filemap_map_pages` walks the
    /// xarray once for the window).
    fn cached_pages(&self, file: &VmFile, index: u64, out: &mut [Option<u64>]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.cached_page(file, index + i as u64);
        }
    }
    /// `filemap_map_pages`' PTE half: maps `pfns[i]` (file pages, read-only unless `write`)
    /// at `start + i` pages into each slot that is empty (`pte_none`: a present page or a
    /// swap entry stays) and counts them in `MM_FILEPAGES`; `pfns[i]` becomes None where
    /// nothing was mapped. The run never crosses a page table, so an environment with page
    /// tables looks the table up once for it (`pte_offset_map_lock`, then `set_pte_at` per
    /// slot). How many pages were mapped; `Err` when no page table could be allocated.
    fn map_pages(
        &mut self,
        start: usize,
        pfns: &mut [Option<u64>],
        write: bool,
        exec: bool,
    ) -> Result<usize, NoPageTable> {
        let mut mapped = 0;
        for (i, slot) in pfns.iter_mut().enumerate() {
            let Some(pfn) = *slot else { continue };
            let va = start + (i << PAGE_SHIFT);
            if self.pte_get(va).is_some() || self.swap_pte_get(va).is_some() {
                *slot = None;
                continue;
            }
            self.pte_set(va, NewPte { pfn, write, exec, dirty: false })?;
            self.rss_add(mm_counter_file(self.page_swapbacked(pfn)), 1);
            mapped += 1;
        }
        Ok(mapped)
    }
    /// `filemap_map_pages` found `pages` mappable pages of `file` (its `mmap_miss` drops).
    fn fault_around_hits(&mut self, _file: &Arc<VmFile>, _pages: u64) {}
    /// `fault_around_bytes`: the default unless the environment has a live knob.
    fn fault_around_bytes(&self) -> usize {
        FAULT_AROUND_BYTES
    }
    /// The kernel's page for a special mapping (`[sigpage]`, `[vdso]`...) at `offset` pages.
    fn special_page(&mut self, vma: &Vma, offset: u64) -> Option<u64>;
    /// RSS accounting (`inc_mm_counter`/`dec_mm_counter`).
    fn rss_add(&mut self, kind: RssKind, delta: i64);
    /// `PageSwapBacked` of a page-cache page: what [`mm_counter_file`] reads.
    fn page_swapbacked(&self, pfn: u64) -> bool;
    /// The swap entry a non-present PTE at `va` holds (`is_swap_pte`); None without swap.
    fn swap_pte_get(&self, _va: usize) -> Option<SwpEntry> {
        None
    }
    /// `do_swap_page`'s first half: the page for `entry` from the swap cache
    /// (`lookup_swap_cache`) or read in with read-ahead around `va` (`swapin_readahead`).
    fn swapin_page(
        &mut self,
        _vma: &Vma,
        _va: usize,
        _entry: SwpEntry,
    ) -> Result<SwapPage, FaultError> {
        Err(FaultError::Sigbus)
    }
    /// `do_swap_page`'s second half: maps `pfn` at `va` in place of `entry` (`MM_ANONPAGES`
    /// +1, `MM_SWAPENTS` -1, `swap_free`, and `folio_free_swap` when
    /// `should_try_to_free_swap`). Returns whether the page is now this mm's alone, so a
    /// write fault may map it writable.
    fn swap_map_page(
        &mut self,
        _va: usize,
        _entry: SwpEntry,
        _pfn: u64,
        _write_fault: bool,
    ) -> bool {
        false
    }
    /// `folio_free_swap` before a write reuses a page (`wp_can_reuse_anon_folio`): a stale
    /// swap copy is let go.
    fn free_swap_cache(&mut self, _pfn: u64) {}
}

/// A successful fault (`0` or `VM_FAULT_MAJOR`), or one to run again (`VM_FAULT_RETRY`,
/// with `VM_FAULT_MAJOR` when the page had to be read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Minor,
    Major,
    Retry { major: bool },
}

/// A fault that cannot be resolved: the signal it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No VMA there (`VM_FAULT_BADMAP`): `SIGSEGV`/`SEGV_MAPERR`.
    BadMap,
    /// A VMA that does not allow the access (`VM_FAULT_BADACCESS`): `SEGV_ACCERR`.
    BadAccess,
    /// Past the end of the file (`VM_FAULT_SIGBUS`): `SIGBUS`/`BUS_ADRERR`.
    Sigbus,
    /// No memory (`VM_FAULT_OOM`).
    Oom,
}

impl FaultError {
    /// Linux's `si_code` for the signal: `SEGV_MAPERR` 1, `SEGV_ACCERR` 2, `BUS_ADRERR` 2.
    pub const fn si_code(self) -> i32 {
        match self {
            FaultError::BadMap => 1,
            FaultError::BadAccess | FaultError::Sigbus => 2,
            FaultError::Oom => 0,
        }
    }
}

/// Per-task fault counters (`task_struct::min_flt`, `maj_flt`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub min_flt: u64,
    pub maj_flt: u64,
}

impl FaultCounts {
    /// `mm_account_fault`: a completed fault counts as major or minor for the task (major
    /// when it had to read, or was a retry: `FAULT_FLAG_TRIED`); a fault to be retried and
    /// one that failed count for the task not at all (the caller counts `pgfault` for
    /// every fault handled, successful or not).
    pub fn account(&mut self, r: Result<Fault, FaultError>, flags: FaultFlags) {
        match r {
            Ok(Fault::Retry { .. }) | Err(_) => {}
            Ok(Fault::Major) => self.maj_flt += 1,
            Ok(Fault::Minor) if flags.tried => self.maj_flt += 1,
            Ok(Fault::Minor) => self.min_flt += 1,
        }
    }
}

/// ARM's `access_error()`: the VMA flags the access needs (an instruction fetch needs
/// `VM_EXEC`, a write `VM_WRITE`, a read any access right).
pub fn access_error(flags: FaultFlags, vma: &Vma) -> bool {
    let need = if flags.instruction {
        VmFlags::EXEC
    } else if flags.write {
        VmFlags::WRITE
    } else {
        VmFlags::ACCESS
    };
    !vma.vm_flags.intersects(need)
}

/// `__do_page_fault` (ARM) for a user address: the VMA, stack growth, the access check, then
/// `handle_mm_fault`.
pub fn do_page_fault(
    mm: &mut MmStruct,
    env: &mut impl FaultEnv,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    if addr >= mm.task_size {
        return Err(FaultError::BadMap);
    }
    // One descent finds the VMA; stack growth and anon_vma_prepare change it in place, so its
    // handle stays good and nothing is looked up or copied again.
    let id = mm.vmas.find(addr).ok_or(FaultError::BadMap)?;
    let vma = mm.vmas.get(id);
    if vma.vm_start > addr {
        // check_stack: a VM_GROWSDOWN VMA above the address may grow down to it.
        if !vma.vm_flags.contains(VmFlags::GROWSDOWN) || addr < mm.arch.first_user_address {
            return Err(FaultError::BadMap);
        }
        let start = vma.vm_start;
        mm.expand_downwards(start, addr).map_err(|_| FaultError::BadMap)?;
    }
    let vma = mm.vmas.get(id);
    if access_error(flags, vma) {
        return Err(FaultError::BadAccess);
    }
    if needs_anon_vma(vma, flags) {
        mm.anon_vma_prepare_at(id);
    }
    handle_mm_fault(mm.vmas.get(id), env, addr & PAGE_MASK, flags)
}

/// Whether the fault may give a VMA without an anon_vma its first anonymous page: a write
/// to a private mapping (`do_anonymous_page`, `do_cow_fault` and `wp_page_copy` each call
/// `anon_vma_prepare()` before their page; a shared mapping's pages are never anonymous in
/// Linux's sense, and a swap entry or an anonymous page already mapped means the VMA has
/// one). Fork copies the PTEs of a VMA with an anon_vma only (`vma_needs_copy`).
fn needs_anon_vma(vma: &Vma, flags: FaultFlags) -> bool {
    flags.write
        && vma.anon_vma.is_none()
        && vma.special.is_none()
        && !vma.vm_flags.contains(VmFlags::SHARED)
}

/// The PTE protections a VMA gives a page (`vm_get_page_prot`, with copy-on-write: a private
/// mapping's pages are writable only once they are the process's own).
fn exec_of(vma: &Vma) -> bool {
    vma.vm_flags.contains(VmFlags::EXEC)
}

/// `handle_mm_fault` -> `handle_pte_fault` for a page-aligned `addr` in `vma`.
pub fn handle_mm_fault(
    vma: &Vma,
    env: &mut impl FaultEnv,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    match env.pte_get(addr) {
        None => {
            if let Some(entry) = env.swap_pte_get(addr) {
                return do_swap_page(vma, env, addr, entry, flags);
            }
            if vma.special.is_some() {
                return do_special_fault(vma, env, addr);
            }
            match &vma.vm_file {
                None => do_anonymous_page(vma, env, addr, flags),
                Some(file) => {
                    let file = Arc::clone(file);
                    if !env.file_fault_ready(vma, &file, linear_page_index(vma, addr))? {
                        return Ok(Fault::Retry { major: false });
                    }
                    if !flags.write {
                        do_read_fault(vma, env, &file, addr, flags)
                    } else if !vma.vm_flags.contains(VmFlags::SHARED) {
                        do_cow_fault(vma, env, &file, addr, flags)
                    } else {
                        do_shared_fault(vma, env, &file, addr, flags)
                    }
                }
            }
        }
        Some(pte) => {
            if flags.write && !pte.write {
                return do_wp_page(vma, env, addr, pte);
            }
            // Writable but clean (or a spurious fault): pte_mkdirty / pte_mkyoung.
            let dirty = pte.dirty || flags.write;
            env.pte_set(addr, NewPte { pfn: pte.pfn, write: pte.write, exec: exec_of(vma), dirty })
                .map_err(|_| FaultError::Oom)?;
            Ok(Fault::Minor)
        }
    }
}

/// `do_anonymous_page`: a read maps the shared zero page read-only; a write maps a fresh
/// zeroed page. A shared mapping (`MAP_SHARED|MAP_ANONYMOUS`, shmem in Linux, whose read
/// fault allocates the page too) never maps the zero page: a later write makes the mapped
/// page itself writable (`wp_page_shared`), which would write into the zero page every
/// process reads.
fn do_anonymous_page(
    vma: &Vma,
    env: &mut impl FaultEnv,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    let shared = vma.vm_flags.contains(VmFlags::SHARED);
    if !flags.write && !shared {
        let pfn = env.zero_pfn();
        env.pte_set(addr, NewPte { pfn, write: false, exec: exec_of(vma), dirty: false })
            .map_err(|_| FaultError::Oom)?;
        return Ok(Fault::Minor);
    }
    let pfn = env.alloc_anon_page().ok_or(FaultError::Oom)?;
    let write = flags.write && vma.vm_flags.contains(VmFlags::WRITE);
    env.pte_set(addr, NewPte { pfn, write, exec: exec_of(vma), dirty: write })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(RssKind::Anon, 1);
    Ok(Fault::Minor)
}

/// `do_swap_page`: the page from the swap cache or the swap area (a major fault when it had
/// to be read), mapped in place of the swap entry. A read maps it read-only (it may still be
/// in the swap cache and shared through other swap PTEs); a write maps it writable and dirty
/// when it is this mm's alone, else copies it (`do_wp_page`).
fn do_swap_page(
    vma: &Vma,
    env: &mut impl FaultEnv,
    addr: usize,
    entry: SwpEntry,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    let page = env.swapin_page(vma, addr, entry)?;
    if page.retry {
        return Ok(Fault::Retry { major: page.major });
    }
    let exclusive = env.swap_map_page(addr, entry, page.pfn, flags.write);
    let writable = flags.write && exclusive && vma.vm_flags.contains(VmFlags::WRITE);
    env.pte_set(
        addr,
        NewPte { pfn: page.pfn, write: writable, exec: exec_of(vma), dirty: writable },
    )
    .map_err(|_| FaultError::Oom)?;
    if flags.write && !writable {
        let pte = PteState { pfn: page.pfn, write: false, dirty: false };
        do_wp_page(vma, env, addr, pte)?;
    }
    Ok(if page.major { Fault::Major } else { Fault::Minor })
}

/// The special mappings' pages (`special_mapping_fault`), read-only.
fn do_special_fault(vma: &Vma, env: &mut impl FaultEnv, addr: usize) -> Result<Fault, FaultError> {
    let offset = ((addr - vma.vm_start) >> PAGE_SHIFT) as u64;
    let pfn = env.special_page(vma, offset).ok_or(FaultError::Sigbus)?;
    env.pte_set(addr, NewPte { pfn, write: false, exec: exec_of(vma), dirty: false })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(RssKind::Special, 1);
    Ok(Fault::Minor)
}

/// The file page index of `addr` in `vma`.
fn linear_page_index(vma: &Vma, addr: usize) -> u64 {
    vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT) as u64
}

/// The pages `do_fault_around` maps around a read fault at `addr`: 6.1's window, aligned to
/// `fault_around_bytes`, inside the VMA and the page table; as `(first address, pages)`.
pub fn fault_around_window(
    vma: &Vma,
    addr: usize,
    fault_around_bytes: usize,
) -> Option<(usize, usize)> {
    let nr_pages = fault_around_bytes >> PAGE_SHIFT;
    if nr_pages <= 1 {
        return None;
    }
    let mask = !(nr_pages * PAGE_SIZE - 1) & PAGE_MASK;
    let address = (addr & mask).max(vma.vm_start);
    let off = ((addr - address) >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
    let start_pgoff = linear_page_index(vma, addr) - off as u64;
    // The end of the page table holding `address` (wrapping as Linux's unsigned arithmetic).
    let end_pgoff = (start_pgoff + PTRS_PER_PTE as u64 - 1)
        .wrapping_sub(((address >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)) as u64);
    let end_pgoff =
        end_pgoff.min(vma.pages() as u64 + vma.vm_pgoff - 1).min(start_pgoff + nr_pages as u64 - 1);
    Some((address, (end_pgoff - start_pgoff + 1) as usize))
}

/// `do_read_fault`: fault-around first (`filemap_map_pages` maps the cached pages of the
/// window whose PTEs are empty), then the faulting page itself if that did not map it.
fn do_read_fault(
    vma: &Vma,
    env: &mut impl FaultEnv,
    file: &Arc<VmFile>,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    let shared_write = vma.vm_flags.contains(VmFlags::SHARED | VmFlags::WRITE);
    let exec = exec_of(vma);
    if let Some((start, pages)) = fault_around_window(vma, addr, env.fault_around_bytes()) {
        let mut hits = 0;
        let mut mapped_addr = false;
        let mut buf = [None; FAULT_AROUND_BATCH];
        for first in (0..pages).step_by(FAULT_AROUND_BATCH) {
            let cached = &mut buf[..(pages - first).min(FAULT_AROUND_BATCH)];
            let batch_start = start + (first << PAGE_SHIFT);
            env.cached_pages(file, linear_page_index(vma, batch_start), cached);
            hits += cached.iter().flatten().count() as u64;
            env.map_pages(batch_start, cached, shared_write, exec).map_err(|_| FaultError::Oom)?;
            if let Some(i) = addr.checked_sub(batch_start).map(|d| d >> PAGE_SHIFT) {
                mapped_addr |= cached.get(i).is_some_and(|p| p.is_some());
            }
        }
        env.fault_around_hits(file, hits);
        // `VM_FAULT_NOPAGE` when the window mapped the faulting page itself (or it is there
        // already).
        if mapped_addr || env.pte_get(addr).is_some() {
            return Ok(Fault::Minor);
        }
    }
    let page = env.file_page(vma, file, linear_page_index(vma, addr), flags)?;
    if page.retry {
        return Ok(Fault::Retry { major: page.major });
    }
    env.pte_set(addr, NewPte { pfn: page.pfn, write: shared_write, exec, dirty: false })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(mm_counter_file(env.page_swapbacked(page.pfn)), 1);
    Ok(if page.major { Fault::Major } else { Fault::Minor })
}

/// `do_cow_fault`: a write to a private file mapping gets a private copy of the file page.
fn do_cow_fault(
    vma: &Vma,
    env: &mut impl FaultEnv,
    file: &Arc<VmFile>,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    let page = env.file_page(vma, file, linear_page_index(vma, addr), flags)?;
    if page.retry {
        return Ok(Fault::Retry { major: page.major });
    }
    let pfn = env.alloc_copy_page(page.pfn).ok_or(FaultError::Oom)?;
    env.pte_set(addr, NewPte { pfn, write: true, exec: exec_of(vma), dirty: true })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(RssKind::Anon, 1);
    Ok(if page.major { Fault::Major } else { Fault::Minor })
}

/// `do_shared_fault`: a write to a shared file mapping maps the cache page writable.
fn do_shared_fault(
    vma: &Vma,
    env: &mut impl FaultEnv,
    file: &Arc<VmFile>,
    addr: usize,
    flags: FaultFlags,
) -> Result<Fault, FaultError> {
    let page = env.file_page(vma, file, linear_page_index(vma, addr), flags)?;
    if page.retry {
        return Ok(Fault::Retry { major: page.major });
    }
    env.pte_set(addr, NewPte { pfn: page.pfn, write: true, exec: exec_of(vma), dirty: true })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(mm_counter_file(env.page_swapbacked(page.pfn)), 1);
    Ok(if page.major { Fault::Major } else { Fault::Minor })
}

/// `do_wp_page`: a write to a present read-only page of a writable VMA. A shared mapping's
/// page becomes writable; a private mapping's own anonymous page is reused; anything else
/// (the zero page, a page-cache page) is copied.
fn do_wp_page(
    vma: &Vma,
    env: &mut impl FaultEnv,
    addr: usize,
    pte: PteState,
) -> Result<Fault, FaultError> {
    let exec = exec_of(vma);
    if vma.vm_flags.contains(VmFlags::SHARED) {
        env.pte_set(addr, NewPte { pfn: pte.pfn, write: true, exec, dirty: true })
            .map_err(|_| FaultError::Oom)?;
        return Ok(Fault::Minor);
    }
    if pte.pfn != env.zero_pfn() && env.is_exclusive_anon(pte.pfn) {
        env.free_swap_cache(pte.pfn);
        env.pte_set(addr, NewPte { pfn: pte.pfn, write: true, exec, dirty: true })
            .map_err(|_| FaultError::Oom)?;
        return Ok(Fault::Minor);
    }
    let pfn = if pte.pfn == env.zero_pfn() {
        env.alloc_anon_page()
    } else {
        env.alloc_copy_page(pte.pfn)
    }
    .ok_or(FaultError::Oom)?;
    // The replaced mapping's page is released (and uncounted) by `pte_set`.
    env.pte_set(addr, NewPte { pfn, write: true, exec, dirty: true })
        .map_err(|_| FaultError::Oom)?;
    env.rss_add(RssKind::Anon, 1);
    Ok(Fault::Minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::mm_types::{test_arch_mm, Rlimits, SpecialMapping};
    use crate::mm::mmap::{MapFlags, MmapFile, Prot};
    use alloc::collections::{BTreeMap, BTreeSet};

    const ZERO: u64 = 1;

    /// Page tables and pages as maps; the page cache holds `file_pages` pages of one file.
    struct Env {
        ptes: BTreeMap<usize, NewPte>,
        next_pfn: u64,
        anon: BTreeSet<u64>,
        file_pages: u64,
        cache_base: u64,
        rss_anon: i64,
        rss_file: i64,
        rss_shmem: i64,
        /// The file's pages are swap-backed (a tmpfs file), else a disk file's.
        shmem_file: bool,
        /// Swap PTEs, and whether each entry's page is some other mm's too (not exclusive).
        swap: BTreeMap<usize, (SwpEntry, bool)>,
        rss_special: i64,
    }

    impl Env {
        fn new(file_pages: u64) -> Self {
            Env {
                ptes: BTreeMap::new(),
                next_pfn: 1000,
                anon: BTreeSet::new(),
                file_pages,
                cache_base: 100,
                rss_anon: 0,
                rss_file: 0,
                rss_shmem: 0,
                shmem_file: false,
                swap: BTreeMap::new(),
                rss_special: 0,
            }
        }
    }

    impl FaultEnv for Env {
        fn pte_get(&self, va: usize) -> Option<PteState> {
            self.ptes.get(&va).map(|p| PteState { pfn: p.pfn, write: p.write, dirty: p.dirty })
        }
        fn pte_set(&mut self, va: usize, pte: NewPte) -> Result<(), NoPageTable> {
            if let Some(old) = self.ptes.insert(va, pte) {
                if old.pfn != pte.pfn && old.pfn != ZERO {
                    if self.anon.contains(&old.pfn) {
                        self.rss_anon -= 1;
                    } else {
                        let kind = mm_counter_file(self.page_swapbacked(old.pfn));
                        self.rss_add(kind, -1);
                    }
                }
            }
            Ok(())
        }
        fn zero_pfn(&self) -> u64 {
            ZERO
        }
        fn alloc_anon_page(&mut self) -> Option<u64> {
            self.next_pfn += 1;
            self.anon.insert(self.next_pfn);
            Some(self.next_pfn)
        }
        fn alloc_copy_page(&mut self, _src: u64) -> Option<u64> {
            self.alloc_anon_page()
        }
        fn is_exclusive_anon(&self, pfn: u64) -> bool {
            self.anon.contains(&pfn)
        }
        fn file_page(
            &mut self,
            _vma: &Vma,
            _file: &Arc<VmFile>,
            index: u64,
            _flags: FaultFlags,
        ) -> Result<CachePage, FaultError> {
            (index < self.file_pages)
                .then(|| CachePage { pfn: self.cache_base + index, major: false, retry: false })
                .ok_or(FaultError::Sigbus)
        }
        fn cached_page(&self, _file: &VmFile, index: u64) -> Option<u64> {
            (index < self.file_pages).then(|| self.cache_base + index)
        }
        fn special_page(&mut self, _vma: &Vma, _offset: u64) -> Option<u64> {
            Some(2)
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
            // The anonymous pages are too, but only page-cache pages are asked about.
            self.anon.contains(&pfn) || self.shmem_file
        }
        fn swap_pte_get(&self, va: usize) -> Option<SwpEntry> {
            self.swap.get(&va).map(|s| s.0)
        }
        fn swapin_page(
            &mut self,
            _vma: &Vma,
            _va: usize,
            e: SwpEntry,
        ) -> Result<SwapPage, FaultError> {
            // Even offsets are in the swap cache (minor), odd ones read (major).
            let pfn = self.alloc_anon_page().ok_or(FaultError::Oom)?;
            Ok(SwapPage { pfn, major: e.offset() % 2 == 1, retry: false })
        }
        fn swap_map_page(&mut self, va: usize, _e: SwpEntry, pfn: u64, _write: bool) -> bool {
            let (_, shared) = self.swap.remove(&va).unwrap();
            if shared {
                self.anon.remove(&pfn);
            }
            self.rss_anon += 1;
            !shared
        }
    }

    fn mm() -> MmStruct {
        let mut mm = MmStruct::new(test_arch_mm(0xc000_0000), Rlimits::DEFAULT);
        mm.arch_pick_mmap_layout(None);
        mm
    }

    fn file() -> MmapFile {
        MmapFile {
            file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 7, path: "/data/f16m".into() }),
            readable: true,
            writable: true,
            noexec: false,
        }
    }

    const R: FaultFlags = FaultFlags { write: false, instruction: false, tried: false };
    const W: FaultFlags = FaultFlags { write: true, instruction: false, tried: false };

    /// Faults of touching one byte per page, in order, counted as the task counts them.
    fn touch(
        mm: &mut MmStruct,
        env: &mut Env,
        start: usize,
        n: usize,
        f: FaultFlags,
    ) -> FaultCounts {
        let mut c = FaultCounts::default();
        for i in 0..n {
            let va = start + i * PAGE_SIZE;
            // The hardware faults only when the entry is missing or read-only for a write.
            match env.pte_get(va) {
                Some(p) if !f.write || (p.write && p.dirty) => continue,
                _ => {}
            }
            c.account(do_page_fault(mm, env, va, f), f);
        }
        c
    }

    /// `anon_vma_prepare` runs where a private VMA may get its first anonymous page (a write
    /// fault), so fork's `vma_needs_copy` can trust a VMA without one to have none.
    #[test]
    fn a_write_fault_gives_a_private_vma_its_anon_vma() {
        let mut mm = mm();
        let mut env = Env::new(4);
        let rw = Prot::READ | Prot::WRITE;
        let private = MapFlags::PRIVATE | MapFlags::ANONYMOUS;
        let a = mm.do_mmap(0, 4 * PAGE_SIZE, rw, private, None).unwrap();
        // A read maps the zero page: no anonymous page, no anon_vma.
        touch(&mut mm, &mut env, a, 1, R);
        assert_eq!(mm.vma_lookup(a).unwrap().anon_vma, None);
        touch(&mut mm, &mut env, a, 1, W);
        assert!(mm.vma_lookup(a).unwrap().anon_vma.is_some());
        // A private file mapping gets one at its first write (do_cow_fault), not its reads.
        let fl = file();
        let f = mm.do_mmap(0, 2 * PAGE_SIZE, rw, MapFlags::PRIVATE, Some((&fl, 0))).unwrap();
        touch(&mut mm, &mut env, f, 2, R);
        assert_eq!(mm.vma_lookup(f).unwrap().anon_vma, None);
        touch(&mut mm, &mut env, f + PAGE_SIZE, 1, W);
        assert!(mm.vma_lookup(f).unwrap().anon_vma.is_some());
        // A shared mapping never does.
        let sh = mm.do_mmap(0, PAGE_SIZE, rw, MapFlags::SHARED, Some((&fl, 0))).unwrap();
        touch(&mut mm, &mut env, sh, 1, W);
        assert_eq!(mm.vma_lookup(sh).unwrap().anon_vma, None);
    }

    #[test]
    fn anonymous_pages_count_as_linux_61() {
        let mut mm = mm();
        let mut env = Env::new(0);
        let n = 64;
        let a = mm
            .do_mmap(
                0,
                n * PAGE_SIZE,
                Prot::READ | Prot::WRITE,
                MapFlags::PRIVATE | MapFlags::ANONYMOUS,
                None,
            )
            .unwrap();
        assert_eq!(touch(&mut mm, &mut env, a, n, W).min_flt, n as u64);
        assert_eq!(touch(&mut mm, &mut env, a, n, R).min_flt, 0);
        assert_eq!(touch(&mut mm, &mut env, a, n, W).min_flt, 0);
        assert_eq!(env.rss_anon, n as i64);
        // Read first: the zero page; then every write copies.
        let b = mm
            .do_mmap(
                0,
                n * PAGE_SIZE,
                Prot::READ | Prot::WRITE,
                MapFlags::PRIVATE | MapFlags::ANONYMOUS,
                None,
            )
            .unwrap();
        assert_eq!(touch(&mut mm, &mut env, b, n, R).min_flt, n as u64);
        assert!(env.ptes.get(&b).is_some_and(|p| p.pfn == ZERO && !p.write));
        assert_eq!(touch(&mut mm, &mut env, b, n, W).min_flt, n as u64);
        assert!(env.ptes.get(&b).is_some_and(|p| p.pfn != ZERO && p.write));
    }

    /// A shared anonymous mapping read before it is written never maps the zero page: the
    /// write that follows makes the mapped page writable in place (a shared mapping has no
    /// copy-on-write), so a zero page there would be written for every process.
    #[test]
    fn a_shared_anonymous_read_fault_gets_its_own_page() {
        let mut mm = mm();
        let mut env = Env::new(0);
        let rw = Prot::READ | Prot::WRITE;
        let a = mm.do_mmap(0, PAGE_SIZE, rw, MapFlags::SHARED | MapFlags::ANONYMOUS, None).unwrap();
        assert_eq!(touch(&mut mm, &mut env, a, 1, R).min_flt, 1);
        let read = *env.ptes.get(&a).expect("mapped by the read");
        assert!(read.pfn != ZERO && !read.write, "{read:?}");
        // The write fault makes that same page writable (wp_page_shared).
        assert_eq!(touch(&mut mm, &mut env, a, 1, W).min_flt, 1);
        let written = *env.ptes.get(&a).expect("still mapped");
        assert!(written.pfn == read.pfn && written.write && written.dirty, "{written:?}");
    }

    #[test]
    fn swap_faults_map_the_page_back() {
        let mut mm = mm();
        let mut env = Env::new(0);
        let a = mm
            .do_mmap(
                0,
                4 * PAGE_SIZE,
                Prot::READ | Prot::WRITE,
                MapFlags::PRIVATE | MapFlags::ANONYMOUS,
                None,
            )
            .unwrap();
        env.swap.insert(a, (SwpEntry::new(0, 1), false));
        env.swap.insert(a + PAGE_SIZE, (SwpEntry::new(0, 2), false));
        env.swap.insert(a + 2 * PAGE_SIZE, (SwpEntry::new(0, 3), true));
        // A read of a page read from the area: major, mapped read-only.
        assert_eq!(do_page_fault(&mut mm, &mut env, a, R), Ok(Fault::Major));
        assert!(!env.ptes[&a].write);
        // A write to a cached page of this mm alone: minor, writable and dirty.
        assert_eq!(do_page_fault(&mut mm, &mut env, a + PAGE_SIZE, W), Ok(Fault::Minor));
        assert!(env.ptes[&(a + PAGE_SIZE)].write && env.ptes[&(a + PAGE_SIZE)].dirty);
        // A write to a page others share: copied (do_wp_page) within the same fault.
        let before = env.next_pfn;
        assert_eq!(do_page_fault(&mut mm, &mut env, a + 2 * PAGE_SIZE, W), Ok(Fault::Major));
        let p = env.ptes[&(a + 2 * PAGE_SIZE)];
        assert!(p.write && p.pfn == before + 2, "{p:?}");
        assert!(env.swap.is_empty());
    }

    #[test]
    fn file_reads_fault_around_sixteen_pages() {
        for (n, want) in [(16usize, 1u64), (256, 17), (4096, 257)] {
            let mut mm = mm();
            let mut env = Env::new(4096);
            // The reference's [sigpage], [vvar] and [vdso] take the three pages below the
            // mmap base, so the file's mapping is not 64 KiB aligned.
            mm.do_mmap(0, 3 * PAGE_SIZE, Prot::READ, MapFlags::PRIVATE | MapFlags::ANONYMOUS, None)
                .unwrap();
            let f = file();
            let a =
                mm.do_mmap(0, n * PAGE_SIZE, Prot::READ, MapFlags::PRIVATE, Some((&f, 0))).unwrap();
            assert_eq!(touch(&mut mm, &mut env, a, n, R).min_flt, want, "N={n} at {a:#x}");
        }
    }

    #[test]
    fn fault_around_maps_only_empty_slots() {
        // Page 3 of a 16-page window holds a swap entry (a private copy swapped out) and page
        // 5 a private copy: fault-around maps the other 13 cached pages beside the faulting
        // one and leaves both (`pte_none` only), as `filemap_map_pages` does.
        let mut mm = mm();
        let mut env = Env::new(4096);
        let f = file();
        let a = mm
            .do_mmap(0, 16 * PAGE_SIZE, Prot::READ | Prot::WRITE, MapFlags::PRIVATE, Some((&f, 0)))
            .unwrap();
        assert_eq!(a % (16 * PAGE_SIZE), 0);
        env.swap.insert(a + 3 * PAGE_SIZE, (SwpEntry::new(0, 9), false));
        assert_eq!(touch(&mut mm, &mut env, a + 5 * PAGE_SIZE, 1, W).min_flt, 1);
        let copy = env.ptes[&(a + 5 * PAGE_SIZE)];
        assert_eq!(touch(&mut mm, &mut env, a, 1, R).min_flt, 1);
        assert!(!env.ptes.contains_key(&(a + 3 * PAGE_SIZE)));
        assert_eq!(env.ptes[&(a + 5 * PAGE_SIZE)], copy);
        assert_eq!((env.rss_anon, env.rss_file, env.ptes.len()), (1, 14, 15));
    }

    #[test]
    fn private_file_writes_copy_on_write() {
        let mut mm = mm();
        let mut env = Env::new(4096);
        let f = file();
        let n = 16;
        let a = mm
            .do_mmap(0, n * PAGE_SIZE, Prot::READ | Prot::WRITE, MapFlags::PRIVATE, Some((&f, 0)))
            .unwrap();
        assert_eq!(touch(&mut mm, &mut env, a, n, R).min_flt, 1);
        assert_eq!(touch(&mut mm, &mut env, a, n, W).min_flt, n as u64);
        assert!((0..n).all(|i| env.anon.contains(&env.ptes[&(a + i * PAGE_SIZE)].pfn)));
        assert_eq!((env.rss_anon, env.rss_file), (n as i64, 0));
    }

    #[test]
    fn filerss_a_page_cache_page_is_counted_by_its_swapbacked_flag() {
        // mm_counter_file(): a disk file's pages (not swap-backed) are MM_FILEPAGES, a tmpfs
        // file's MM_SHMEMPAGES, for the faulting page and the fault-around window alike.
        assert_eq!(mm_counter_file(false), RssKind::File);
        assert_eq!(mm_counter_file(true), RssKind::Shmem);
        for shmem in [false, true] {
            let mut mm = mm();
            let mut env = Env::new(4096);
            env.shmem_file = shmem;
            let f = file();
            let a = mm.do_mmap(0, 16 * PAGE_SIZE, Prot::READ, MapFlags::PRIVATE, Some((&f, 0)));
            assert_eq!(touch(&mut mm, &mut env, a.unwrap(), 16, R).min_flt, 1);
            let want = if shmem { (0, 16) } else { (16, 0) };
            assert_eq!((env.rss_file, env.rss_shmem), want, "shmem={shmem}");
        }
    }

    #[test]
    fn filerss_a_shared_write_keeps_the_cache_page_and_its_counter() {
        // do_shared_fault maps the cache page itself: a card file's stays MM_FILEPAGES, a
        // tmpfs file's MM_SHMEMPAGES; nothing becomes anonymous. Unmapping uncounts it
        // from the same counter.
        for shmem in [false, true] {
            let mut mm = mm();
            let mut env = Env::new(4096);
            env.shmem_file = shmem;
            let f = file();
            let rw = Prot::READ | Prot::WRITE;
            let a = mm.do_mmap(0, 4 * PAGE_SIZE, rw, MapFlags::SHARED, Some((&f, 0))).unwrap();
            assert_eq!(touch(&mut mm, &mut env, a, 4, W).min_flt, 4);
            let want = if shmem { (0, 0, 4) } else { (0, 4, 0) };
            assert_eq!((env.rss_anon, env.rss_file, env.rss_shmem), want, "shmem={shmem}");
            assert!(env.anon.is_empty());
        }
    }

    #[test]
    fn filerss_a_private_copy_of_a_card_page_is_anonymous() {
        // do_cow_fault / wp_page_copy: the written page of a private mapping of a card file
        // is a new anonymous page (MM_ANONPAGES); the clean cache pages read around it stay
        // MM_FILEPAGES, and the copied-over one leaves MM_FILEPAGES.
        let mut mm = mm();
        let mut env = Env::new(4096);
        let f = file();
        let rw = Prot::READ | Prot::WRITE;
        let a = mm.do_mmap(0, 16 * PAGE_SIZE, rw, MapFlags::PRIVATE, Some((&f, 0))).unwrap();
        assert_eq!(touch(&mut mm, &mut env, a, 1, R).min_flt, 1);
        assert_eq!((env.rss_anon, env.rss_file, env.rss_shmem), (0, 16, 0));
        assert_eq!(touch(&mut mm, &mut env, a, 1, W).min_flt, 1);
        assert_eq!((env.rss_anon, env.rss_file, env.rss_shmem), (1, 15, 0));
    }

    #[test]
    fn bad_accesses_are_classified_as_linux_signals_them() {
        let mut mm = mm();
        let mut env = Env::new(1);
        assert_eq!(do_page_fault(&mut mm, &mut env, 0, R), Err(FaultError::BadMap));
        let a = mm
            .do_mmap(0, PAGE_SIZE, Prot::empty(), MapFlags::PRIVATE | MapFlags::ANONYMOUS, None)
            .unwrap();
        assert_eq!(do_page_fault(&mut mm, &mut env, a, R), Err(FaultError::BadAccess));
        let f = file();
        let b = mm.do_mmap(0, 2 * PAGE_SIZE, Prot::READ, MapFlags::PRIVATE, Some((&f, 0))).unwrap();
        assert_eq!(do_page_fault(&mut mm, &mut env, b, W), Err(FaultError::BadAccess));
        assert_eq!(
            do_page_fault(
                &mut mm,
                &mut env,
                b,
                FaultFlags { write: false, instruction: true, tried: false }
            ),
            Err(FaultError::BadAccess)
        );
        // The second page is past the one-page file: SIGBUS.
        assert_eq!(do_page_fault(&mut mm, &mut env, b + PAGE_SIZE, R), Err(FaultError::Sigbus));
        let ts = mm.task_size;
        assert_eq!(do_page_fault(&mut mm, &mut env, ts, R), Err(FaultError::BadMap));
        let mut c = FaultCounts::default();
        c.account(Err(FaultError::BadMap), R);
        assert_eq!(c, FaultCounts::default());
    }

    #[test]
    fn a_special_mappings_page_counts_as_a_file_page() {
        // special_mapping_fault -> do_set_pte -> inc_mm_counter_fast(mm_counter_file(page)):
        // the vDSO's and sigpage's kernel pages are MM_FILEPAGES, mapped read-only.
        let mut mm = mm();
        let mut env = Env::new(0);
        let a = mm
            .do_mmap(
                0,
                PAGE_SIZE,
                Prot::READ | Prot::EXEC,
                MapFlags::PRIVATE | MapFlags::ANONYMOUS,
                None,
            )
            .unwrap();
        let vma = Vma { special: Some(SpecialMapping::Vdso), ..mm.find_vma(a).unwrap().clone() };
        assert_eq!(handle_mm_fault(&vma, &mut env, a, R), Ok(Fault::Minor));
        assert!(env.ptes.get(&a).is_some_and(|p| p.pfn == 2 && !p.write));
        assert_eq!((env.rss_anon, env.rss_file, env.rss_special), (0, 0, 1));
    }

    #[test]
    fn the_stack_grows_down_to_a_fault_below_it() {
        let mut mm = mm();
        let mut env = Env::new(0);
        let top = mm.task_size;
        mm.setup_arg_pages(top, 64, VmFlags::STACK_FLAGS).unwrap();
        let low = mm.find_vma(top - 1).unwrap().vm_start;
        let below = low - 20 * PAGE_SIZE;
        assert_eq!(do_page_fault(&mut mm, &mut env, below, W), Ok(Fault::Minor));
        assert_eq!(mm.find_vma(below).unwrap().vm_start, below);
    }

    #[test]
    fn fault_around_window_stays_in_the_vma_and_the_aligned_block() {
        let vma = Vma {
            vm_start: 0x1_3000,
            vm_end: 0x2_0000,
            vm_flags: VmFlags::READ,
            vm_pgoff: 0,
            vm_file: None,
            anon_vma: None,
            special: None,
        };
        // From the VMA's start to the 64 KiB boundary.
        assert_eq!(fault_around_window(&vma, 0x1_5000, FAULT_AROUND_BYTES), Some((0x1_3000, 13)));
        assert_eq!(fault_around_window(&vma, 0x1_5000, 4096), None);
    }
}
