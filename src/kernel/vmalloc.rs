//! vmalloc, vfree, ioremap, iounmap, kmap and kunmap in the running kernel, as Linux 6.1
//! does them. The pure parts decide (`mm::vmap` places areas, keeps the lazily freed ranges
//! and the counters; `mm::vmap::vmalloc` has the masks and messages; `mm::highmem` manages
//! the pkmap slots); this module takes pages from the buddy allocator, keeps the `pages[]`
//! arrays, writes the page tables through `arch::mmu` with arch-neutral protections
//! (`mm::pgprot`) and flushes the TLB when a purge asks for it (never at `vfree`/`iounmap`
//! time).
use alloc::alloc::{dealloc, Layout as AllocLayout};
use core::cell::Cell;
use core::fmt;
use core::mem::size_of;

use crate::kernel::spinlock::SpinLock;

use super::mem::{alloc_reclaiming, with_node, NODE};
use crate::arch::layout::Layout;
use crate::arch::mmu;
use crate::console::printk::Console;
use crate::kallsyms::{self, Symbol};
use crate::mm::era::VmallocMeminfo;
use crate::mm::gfp::GfpFlags;
use crate::mm::highmem::{KmapError, Pkmap};
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::{write_warn_alloc, DEFAULT_COMM};
use crate::mm::pgprot::{PAGE_KERNEL, PAGE_KERNEL_IO};
use crate::mm::vmap::vmalloc::{
    ioremap_check, nested_gfp, vmalloc_area_gfp, write_silent_warning, VMALLOC_GFP,
};
use crate::mm::vmap::{
    lazy_max_pages, page_align, Caller, PagesArray, Purge, Symbols, TlbFlush, VmFlags,
    VmapAllocator, VmapError, VmapStats, PAGES_ENTRY_SIZE,
};
use crate::mm::{Pfn, PAGE_SHIFT, PAGE_SIZE};
use crate::proc::vmallocinfo;

pub use crate::mm::vmap::vmalloc::VmallocError;

/// The vmalloc range's area allocator (`vmap_area_root`, `purge_vmap_area_root`,
/// `free_vmap_area_root`). Never held across a call that may vmalloc.
pub static VMAP: SpinLock<VmapAllocator> = SpinLock::new(VmapAllocator::empty());
/// The permanent kmap pool below PAGE_OFFSET.
pub static PKMAP: SpinLock<Option<Pkmap>> = SpinLock::new(None);
/// CPUs online for Linux's `lazy_max_pages()` (pivm's other cores are parked, but Linux's
/// figure for this board counts all four, which is what the case study's kernel had).
const NUM_POSSIBLE_CPUS: u32 = 4;

/// memblock memory regions `ioremap` compares with the firmware's RAM banks (pivm's memblock
/// holds far fewer).
const MEMORY_REGIONS_CHECKED: usize = 64;

/// The allocator's TLB flush: `flush_tlb_kernel_range` on the live tables.
struct KernelTlb;

impl TlbFlush for KernelTlb {
    fn flush_tlb_kernel_range(&mut self, start: u64, end: u64) {
        mmu::flush_tlb_kernel_range(start as usize, end as usize);
    }
}

/// The kernel's symbol table for `%pS`, remembering the last symbol found: consecutive
/// areas usually share a caller, and a lookup reads the whole table.
#[derive(Default)]
pub struct KernelSymbols {
    last: Cell<Option<(usize, Symbol<'static>)>>,
}

impl KernelSymbols {
    pub const fn new() -> Self {
        KernelSymbols { last: Cell::new(None) }
    }
}

impl Symbols for KernelSymbols {
    fn write_symbol(&self, w: &mut dyn fmt::Write, addr: usize) -> fmt::Result {
        let sym = match self.last.get() {
            Some((a, s)) if a == addr => Some(s),
            _ => kallsyms::lookup(kallsyms::kernel_table(), addr as u64),
        };
        match sym {
            Some(s) => {
                self.last.set(Some((addr, s)));
                write!(w, "{s}")
            }
            None => write!(w, "{addr:#0width$x}", width = 2 + 2 * size_of::<usize>()),
        }
    }
}

/// Prints a failure the way Linux 6.1 reports it: the `vmap allocation ... failed` line where
/// there is one, then `warn_alloc()` (`swapper/0: vmalloc error: ..., mode:0xcc0(GFP_KERNEL),
/// nodemask=(null)` and the memory state); where 6.1's `warn_alloc()` stays silent
/// (`__GFP_NOWARN`), one line saying what failed.
pub fn report(e: &VmallocError) {
    if let Some(p) = e.preface() {
        crate::kprintln!("{}", p);
    }
    match e.warn_gfp() {
        Some(gfp) if gfp.contains(GfpFlags::__GFP_NOWARN) => {
            let _ = write_silent_warning(&mut Console, e, gfp);
        }
        Some(gfp) => {
            let stats = super::mem::show_mem_stats();
            let _ = with_node(|n| {
                write_warn_alloc(&mut Console, DEFAULT_COMM, gfp, format_args!("{e}"), n, &stats)
            });
        }
        None if e.preface().is_none() => crate::kprintln!("{}", e),
        None => {}
    }
}

/// Sets up the vmalloc range from the layout; `lazy_pages` overrides Linux's purge threshold
/// (`pivm.lazy_vfree=`, 0 = purge at every free).
pub fn vmalloc_init(layout: &Layout, lazy_pages: Option<u64>) -> Result<(), VmapError> {
    let lazy = lazy_pages.unwrap_or(lazy_max_pages(NUM_POSSIBLE_CPUS));
    let (start, end) = layout.vmalloc_range();
    VMAP.lock().init(start, end, lazy)?;
    #[cfg(not(target_arch = "aarch64"))]
    if let Some(base) = layout.pkmap_base {
        // kmap_init(): the pkmap page table exists from boot on.
        if mmu::prealloc_pte_table(base.as_usize(), &mut pte_alloc).is_ok() {
            *PKMAP.lock() = Some(Pkmap::new(base.as_u64()));
        }
    }
    Ok(())
}

/// `vm_area_add_early()`: registers a range that is already mapped (arm64's kernel image,
/// `declare_kernel_vmas`) as a `vmap` area, so vmalloc never hands it out and
/// /proc/vmallocinfo lists it. The allocator is lowest-first and empty right after
/// `vmalloc_init`, so areas added then, in address order from `VMALLOC_START`, land where
/// they are; one that would not is refused and its range given back.
pub fn vm_area_add_early(
    start: u64,
    size: u64,
    phys: u64,
    caller: impl Into<Caller>,
) -> Result<(), EarlyAreaError> {
    let mut v = VMAP.lock();
    let flags = VmFlags::VM_MAP | VmFlags::VM_NO_GUARD;
    let addr =
        v.get_vm_area(size, flags, caller.into(), &mut KernelTlb).map_err(EarlyAreaError::Vmap)?;
    if addr != start {
        // Nothing was mapped there: the range only goes back to the free tree.
        let _ = v.remove_vm_area(addr, &mut KernelTlb);
        return Err(EarlyAreaError::Elsewhere { start, got: addr });
    }
    let _ = v.update_vm(addr, |vm| vm.phys_addr = phys);
    Ok(())
}

/// Why `vm_area_add_early` refused a range.
#[derive(Clone, Copy, Debug)]
pub enum EarlyAreaError {
    Vmap(VmapError),
    /// The range's start was not the lowest free address (something was allocated first).
    Elsewhere {
        start: u64,
        got: u64,
    },
}

impl fmt::Display for EarlyAreaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EarlyAreaError::Vmap(e) => write!(f, "{e}"),
            EarlyAreaError::Elsewhere { start, got } => {
                write!(f, "the area for {start:#x} would start at {got:#x}: added too late")
            }
        }
    }
}

/// A zeroed page-table page from the buddy allocator, owned as a page table
/// (`pte_alloc_kernel`).
fn pte_alloc() -> Option<u64> {
    let owner = PageOwner::PageTable;
    NODE.lock().as_mut()?.alloc_pages_for(owner, PTE_GFP, 0).ok().map(|pfn| pfn.phys().0)
}

/// `GFP_PGTABLE_KERNEL`, quiet: the caller reports the failure.
const PTE_GFP: GfpFlags =
    GfpFlags::GFP_KERNEL.union(GfpFlags::__GFP_ZERO).union(GfpFlags::__GFP_NOWARN);

/// The layout of a kmalloc'ed `pages[]` array of `entries` entries.
fn pages_layout(entries: u64) -> Option<AllocLayout> {
    let bytes = usize::try_from(entries * PAGES_ENTRY_SIZE).ok()?;
    AllocLayout::from_size_align(bytes.max(1), PAGES_ENTRY_SIZE as usize).ok()
}

/// `pages[i]` of an array at `array` (a kmalloc'ed or vmalloc'ed address the kernel owns).
fn pages_entry(array: PagesArray, i: u64) -> *mut u32 {
    (array.addr as usize as *mut u32).wrapping_add(i as usize)
}

/// `vmalloc()`: `__vmalloc_node(size, 1, GFP_KERNEL, NUMA_NO_NODE, caller)`. Every vmalloc
/// entry point is `#[track_caller]` down to `might_sleep`, so a sleepable vmalloc made while
/// atomic is reported at the line that called it (Linux's `__might_sleep(file, line)`).
#[track_caller]
pub fn vmalloc(size: u64, caller: impl Into<Caller>) -> Result<u64, VmallocError> {
    vmalloc_node(size, PAGE_SIZE, VMALLOC_GFP, caller.into(), None)
}

/// `__vmalloc(size, gfp_mask)`: as `vmalloc`, with the caller's mask (`GFP_KERNEL |
/// __GFP_NORETRY`: a caller with a fallback, which wants a failure rather than the OOM
/// killer; its pages, `pages[]` array and page tables all take the modifier).
#[track_caller]
pub fn __vmalloc(size: u64, gfp: GfpFlags, caller: impl Into<Caller>) -> Result<u64, VmallocError> {
    vmalloc_node(size, PAGE_SIZE, gfp, caller.into(), None)
}

/// `__vmalloc_node(size, align, GFP_KERNEL, ...)`: as `vmalloc`, at an address aligned to
/// `align` (a power of two, at most `VMAP_MAX_ALIGN`): a `CONFIG_VMAP_STACK` kernel stack
/// (`THREAD_SIZE` at `THREAD_ALIGN`, the area below it unmapped).
#[track_caller]
pub fn vmalloc_aligned(
    size: u64,
    align: u64,
    caller: impl Into<Caller>,
) -> Result<u64, VmallocError> {
    vmalloc_node(size, align, VMALLOC_GFP, caller.into(), None)
}

/// `__vmalloc_node_range()`: reserves an area (with its guard page) lowest-first and backs it
/// (`__vmalloc_area_node`). `array_of` marks the area as the `pages[]` array of another.
#[track_caller]
fn vmalloc_node(
    size: u64,
    align: u64,
    gfp: GfpFlags,
    caller: Caller,
    array_of: Option<u64>,
) -> Result<u64, VmallocError> {
    if size == 0 {
        return Err(VmallocError::ZeroSize);
    }
    if size >> PAGE_SHIFT > with_node(|n| n.totalram_pages()) {
        return Err(VmallocError::ExceedsTotalPages { size, gfp });
    }
    let flags = VmFlags::VM_ALLOC | VmFlags::VM_UNINITIALIZED;
    let addr = VMAP
        .lock()
        .get_vm_area_node(size, align, flags, caller, &mut KernelTlb)
        .map_err(|err| VmallocError::VmStruct { size, gfp, err })?;
    if array_of.is_some() {
        let _ = VMAP.lock().update_vm(addr, |vm| vm.pages_array_of = array_of);
    }
    vmalloc_area_node(addr, gfp, caller)?;
    let _ = VMAP.lock().clear_vm_uninitialized_flag(addr);
    Ok(addr)
}

/// `__vmalloc_area_node()`: the `pages[]` array (kmalloc'ed, or vmalloc'ed when larger than a
/// page), order-0 pages owned by vmalloc taken with 6.1's mask (highmem first), then the
/// mapping. Any failure frees what was taken (the area is lazily freed, as `vfree` does).
#[track_caller]
fn vmalloc_area_node(addr: u64, gfp: GfpFlags, caller: Caller) -> Result<(), VmallocError> {
    let Some(size) = VMAP.lock().find_vm_area(addr).map(|a| a.get_vm_area_size()) else {
        return Err(VmallocError::BadFree(VmapError::Nonexistent(addr)));
    };
    let nr = size >> PAGE_SHIFT;
    let array_size = nr * PAGES_ENTRY_SIZE;
    let nested = nested_gfp(gfp);
    let gfp = vmalloc_area_gfp(gfp);
    let array = if array_size > PAGE_SIZE {
        match vmalloc_node(array_size, PAGE_SIZE, nested, caller, Some(addr)) {
            Ok(a) => Some(PagesArray { addr: a, vmalloced: true }),
            Err(e) => {
                report(&e);
                None
            }
        }
    } else {
        // Not through a closure: `#[track_caller]` does not pass through one.
        match pages_layout(nr) {
            Some(l) => kmalloc_pages_array(l, nested),
            None => None,
        }
    };
    let Some(array) = array else {
        // free_vm_area(): no pages yet, the range goes the lazy way.
        if let Ok(vm) = VMAP.lock().remove_vm_area(addr, &mut KernelTlb) {
            drop(vm);
        }
        return Err(VmallocError::PagesArray { size: nr << PAGE_SHIFT, array_size, gfp });
    };
    let _ = VMAP.lock().update_vm(addr, |vm| vm.pages = Some(array));

    let mut got = 0;
    while got < nr {
        // GFP_KERNEL: a caller that may sleep reclaims when the free lists are short.
        match alloc_reclaiming(gfp, || {
            with_node(|n| n.alloc_pages_for(PageOwner::Vmalloc, gfp, 0)).ok()
        }) {
            // SAFETY: `array` has `nr` entries and is this area's alone.
            Some(pfn) => unsafe { pages_entry(array, got).write(pfn.0 as u32) },
            None => break,
        }
        got += 1;
    }
    let _ = VMAP.lock().set_nr_pages(addr, got as u32);
    if got != nr {
        let _ = vunmap(addr, true);
        return Err(VmallocError::Pages { obtained: got << PAGE_SHIFT, gfp });
    }
    let mut result = Ok(());
    for i in 0..nr {
        // SAFETY: entry `i < nr` was written above.
        let pfn = Pfn(u64::from(unsafe { pages_entry(array, i).read() }));
        let va = (addr + (i << PAGE_SHIFT)) as usize;
        if map_kernel_page_pte_alloc(va, pfn.phys().0, gfp).is_err() {
            let _ = vunmap(addr, true);
            result = Err(VmallocError::Map { size: got << PAGE_SHIFT, gfp });
            break;
        }
    }
    result
}

/// Maps `va` to `pa` in the kernel's tables the way 6.1's `vmap_pte_range` does: when the
/// walk finds no table (`pmd_none`), `__pte_alloc_kernel` allocates one with no lock held
/// (`GFP_PGTABLE_KERNEL`: it may reclaim, as 6.1's ignores the vmalloc caller's reclaim
/// modifiers), then takes `init_mm`'s lock and installs it, and the walk goes on. A table is
/// allocated only where one is missing (one per level on arm64's walk); a spare left over
/// (another mapper installed one first: not on one CPU) goes back. pivm passes the vmalloc
/// caller's `__GFP_NORETRY` on to the table (6.1 does not: its table would run the OOM
/// killer), so a caller that expects failure fails fast there too.
#[track_caller]
fn map_kernel_page_pte_alloc(va: usize, pa: u64, gfp: GfpFlags) -> Result<(), ()> {
    let table_gfp = PTE_GFP.union(gfp.intersection(GfpFlags::__GFP_NORETRY));
    let mut spare: Option<u64> = None;
    let r = loop {
        let mut wanted = false;
        let mut take = || {
            wanted |= spare.is_none();
            spare.take()
        };
        match mmu::map_kernel_page(va, pa, PAGE_KERNEL, &mut take) {
            Ok(()) => break Ok(()),
            // A table was missing: allocate it outside the lock, then walk again.
            Err(_) if wanted => match alloc_reclaiming(table_gfp, pte_alloc) {
                Some(page) => spare = Some(page),
                None => break Err(()),
            },
            Err(_) => break Err(()),
        }
    };
    if let Some(pa) = spare {
        let _ = with_node(|n| n.free_pages_for(PageOwner::PageTable, Pfn(pa >> PAGE_SHIFT), 0));
    }
    r
}

/// `kmalloc_node(array_size, nested_gfp)`: a `pages[]` array of one page or less from the
/// slab, zeroed, with the vmalloc caller's reclaim modifiers (`__GFP_NORETRY`: one round of
/// reclaim, no OOM killer). `dealloc` with the same layout frees it.
#[track_caller]
fn kmalloc_pages_array(l: AllocLayout, gfp: GfpFlags) -> Option<PagesArray> {
    let p = super::mem::kmalloc_layout(gfp, l.size(), l.align())?;
    // SAFETY: the slab handed out `l.size()` bytes at `p`, owned by this array alone.
    unsafe { core::ptr::write_bytes(p as *mut u8, 0, l.size()) };
    Some(PagesArray { addr: p as u64, vmalloced: false })
}

/// `__vunmap()`: clears the area's PTEs without a flush, hands the range to the lazy purge
/// (`remove_vm_area`, which may purge and flush), then frees the pages listed in `pages[]`
/// (before any flush, as Linux does: nothing may use the old addresses) and the array.
fn vunmap(addr: u64, deallocate_pages: bool) -> Result<(), VmallocError> {
    let (start, mapped) = {
        let v = VMAP.lock();
        let a = v.find_vm_area(addr).ok_or(VmallocError::BadFree(VmapError::Nonexistent(addr)))?;
        (a.va_start(), a.get_vm_area_size() >> PAGE_SHIFT)
    };
    for i in 0..mapped {
        mmu::unmap_kernel_page((start + (i << PAGE_SHIFT)) as usize);
    }
    let vm = VMAP.lock().remove_vm_area(addr, &mut KernelTlb).map_err(VmallocError::BadFree)?;
    if !deallocate_pages {
        return Ok(());
    }
    if let Some(array) = vm.pages {
        for i in 0..u64::from(vm.nr_pages) {
            // SAFETY: the first `nr_pages` entries were written when the pages were taken.
            let pfn = Pfn(u64::from(unsafe { pages_entry(array, i).read() }));
            let _ = with_node(|n| n.free_pages_for(PageOwner::Vmalloc, pfn, 0));
        }
        if array.vmalloced {
            let _ = vunmap(array.addr, true);
        } else if let Some(l) = pages_layout(mapped) {
            // SAFETY: allocated above with this same layout, and no longer referenced.
            unsafe { dealloc(array.addr as usize as *mut u8, l) };
        }
    }
    Ok(())
}

/// `vfree()`: `vfree(NULL)` does nothing; an ioremap is refused (pivm's check).
pub fn vfree(addr: u64) -> Result<(), VmallocError> {
    if addr == 0 {
        return Ok(());
    }
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(VmallocError::BadFree(VmapError::BadAddress(addr)));
    }
    let is_ioremap = VMAP
        .lock()
        .find_vm_area(addr)
        .and_then(|a| a.vm())
        .is_some_and(|vm| vm.flags.contains(VmFlags::VM_IOREMAP));
    if is_ioremap {
        return Err(VmallocError::WrongKind { addr, expected: "a vmalloc" });
    }
    vunmap(addr, true)
}

/// `ioremap()`: maps device memory at `phys` (any alignment) in the vmalloc range, aligned as
/// Linux aligns ioremaps, and returns the virtual address of `phys`. RAM is refused, also RAM
/// that `mem=` left out.
pub fn ioremap(phys: u64, size: u64, caller: impl Into<Caller>) -> Result<u64, VmallocError> {
    match super::try_get() {
        Some(k) => {
            let regions = k.memblock.memory();
            let map_memory = regions.iter().filter(|r| !r.is_nomap()).map(|r| (r.base, r.end()));
            // memblock's regions, sorted, as (start, end): few enough for a fixed array.
            let mut memory = [(0, 0); MEMORY_REGIONS_CHECKED];
            for (slot, r) in memory.iter_mut().zip(regions) {
                *slot = (r.base, r.end());
            }
            let memory = &memory[..regions.len().min(MEMORY_REGIONS_CHECKED)];
            let banks = k.boot.banks[..k.boot.nr_banks].iter().map(|b| (b.start.0, b.end()));
            ioremap_check(phys, size, map_memory, memory, banks)?;
        }
        None => ioremap_check(phys, size, [], &[], [])?,
    }
    let offset = phys & (PAGE_SIZE - 1);
    let base = phys - offset;
    let Some(aligned) = page_align(size + offset) else {
        return Err(VmallocError::IoremapRange { phys, size });
    };
    let start = VMAP
        .lock()
        .get_vm_area(aligned, VmFlags::VM_IOREMAP, caller.into(), &mut KernelTlb)
        .map_err(VmallocError::IoremapArea)?;
    let _ = VMAP.lock().update_vm(start, |vm| vm.phys_addr = base);
    for i in 0..aligned >> PAGE_SHIFT {
        let va = (start + (i << PAGE_SHIFT)) as usize;
        let pa = base + (i << PAGE_SHIFT);
        if mmu::map_kernel_page(va, pa, PAGE_KERNEL_IO, &mut pte_alloc).is_err() {
            // Linux's ioremap_page_range() failure: vunmap and NULL, nothing printed.
            let _ = vunmap(start, false);
            let err = VmapError::NoMemory { what: "page table", size: aligned };
            return Err(VmallocError::IoremapArea(err));
        }
    }
    Ok(start + offset)
}

/// `iounmap()`: takes the address ioremap returned (any offset into its first page);
/// `iounmap(NULL)` does nothing, as ARM's `vunmap(NULL)` there.
pub fn iounmap(addr: u64) -> Result<(), VmallocError> {
    let start = addr & !(PAGE_SIZE - 1);
    if start == 0 {
        return Ok(());
    }
    let is_vmalloc = VMAP
        .lock()
        .find_vm_area(start)
        .and_then(|a| a.vm())
        .is_some_and(|vm| !vm.flags.contains(VmFlags::VM_IOREMAP));
    if is_vmalloc {
        return Err(VmallocError::WrongKind { addr, expected: "an ioremap" });
    }
    vunmap(start, false)
}

/// Who a live area belongs to, for the console's ownership checks.
#[derive(Clone, Copy, Debug)]
pub struct AreaOwner {
    pub start: u64,
    pub caller: Caller,
    /// The area is the `pages[]` array of the area at this address.
    pub pages_array_of: Option<u64>,
}

/// The owner of the live area starting at `addr`'s page.
pub fn area_owner(addr: u64) -> Option<AreaOwner> {
    let v = VMAP.lock();
    let a = v.find_vm_area(addr & !(PAGE_SIZE - 1))?;
    let vm = a.vm()?;
    Some(AreaOwner { start: a.va_start(), caller: vm.caller, pages_array_of: vm.pages_array_of })
}

/// Purges every lazily freed range now (`vm_unmap_aliases`): what the purge did (`None`:
/// nothing waited, no flush) and the counters since boot.
pub fn purge() -> (Option<Purge>, VmapStats) {
    let mut v = VMAP.lock();
    let p = v.purge_vmap_area_lazy(&mut KernelTlb);
    (p, v.stats())
}

/// Renders /proc/vmallocinfo straight from the trees, under their lock.
pub fn render_vmallocinfo(w: &mut impl fmt::Write) -> fmt::Result {
    let v = VMAP.lock();
    vmallocinfo::render(w, &v, &KernelSymbols::new())
}

/// The last `n` live areas by address (the top of the range) in /proc/vmallocinfo's format.
pub fn render_vmallocinfo_tail(w: &mut impl fmt::Write, n: usize) -> fmt::Result {
    let v = VMAP.lock();
    let syms = KernelSymbols::new();
    for a in v.areas().skip(v.nr_areas().saturating_sub(n)) {
        vmallocinfo::write_area(w, a, &syms)?;
    }
    Ok(())
}

/// (VmallocUsed, VmallocChunk) in the pre-4.4 meanings: sum of area sizes including guard
/// pages and ioremaps, and the largest free gap (what the case study's kernel printed).
pub fn used_and_chunk() -> (u64, u64) {
    let v = VMAP.lock();
    (v.used_bytes(), v.largest_free_gap())
}

/// /proc/meminfo's (VmallocUsed, VmallocChunk) in bytes, with the meaning of the profile's
/// era: 6.1's `vmalloc_nr_pages()` and 0, or the pre-4.4 figures.
pub fn meminfo_used_and_chunk(layout: &Layout) -> (u64, u64) {
    match layout.vmalloc_meminfo() {
        VmallocMeminfo::NrPages => (VMAP.lock().vmalloc_nr_pages() << PAGE_SHIFT, 0),
        VmallocMeminfo::AreaSizes => used_and_chunk(),
    }
}

/// The oops line for a vmalloc address: the area it is in or right next to, or none. Uses
/// `try_lock` (a fault may happen while the lock is held); prints nothing outside the range.
pub fn describe_fault_address(w: &mut dyn fmt::Write, addr: u64) {
    if let Some(v) = VMAP.try_lock() {
        let _ = vmallocinfo::write_fault_site(w, addr, &v.fault_site(addr), &KernelSymbols::new());
    }
}

/// `kmap()`: the page's kernel address; lowmem pages have one already, highmem pages get a
/// pkmap slot (mapped on demand, unmapped lazily when the pool wraps around).
pub fn kmap(pfn: Pfn) -> Result<u64, KmapError> {
    if let Some(va) = with_node(|n| n.page_address(pfn)) {
        return Ok(va.as_u64());
    }
    let mut pool = PKMAP.lock();
    let pool = pool.as_mut().ok_or(KmapError::NotMapped(pfn))?;
    let k = pool.kmap(pfn)?;
    if !k.flushed.is_empty() {
        for (_, va) in k.flushed.iter() {
            mmu::unmap_kernel_page(va as usize);
        }
        let (s, e) = k.flushed.tlb_range();
        mmu::flush_tlb_kernel_range(s as usize, e as usize);
    }
    if let Some((_, p)) = k.new_mapping {
        let mapped =
            mmu::map_kernel_page(k.vaddr as usize, p.phys().0, PAGE_KERNEL, &mut pte_alloc);
        if mapped.is_err() {
            let _ = pool.kunmap(pfn);
            return Err(KmapError::NotMapped(pfn));
        }
    }
    Ok(k.vaddr)
}

/// `kunmap()`: drops one user of a highmem page's mapping and returns how many are left;
/// `None` for a lowmem page, whose linear address `kmap` returned and which has nothing to
/// undo.
pub fn kunmap(pfn: Pfn) -> Result<Option<u32>, KmapError> {
    if with_node(|n| n.page_address(pfn)).is_some() {
        return Ok(None);
    }
    PKMAP.lock().as_mut().ok_or(KmapError::NotMapped(pfn))?.kunmap(pfn).map(Some)
}
