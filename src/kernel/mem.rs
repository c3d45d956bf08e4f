//! The kernel's allocators: the page allocator, one node (Linux's `pg_data_t`) whose `mem_map` is placed in
//! lowmem by memblock at boot, and the memory access the allocator asks for (zeroing and
//! poisoning page contents, through the linear map or, for highmem, a temporary fixmap
//! mapping like `kmap_atomic`); and the slab allocator on top of it, which is also Rust's
//! global allocator.
use core::alloc::{GlobalAlloc, Layout as AllocLayout};
use core::fmt::Write;
use core::mem::{size_of, MaybeUninit};

use crate::kernel::spinlock::{self, SpinLock};

use crate::arch::layout::Layout;
use crate::console::printk::Console;
use crate::mm::gfp::GfpFlags;
use crate::mm::memblock::Memblock;
use crate::mm::page::Page;
use crate::mm::page_alloc::{
    usemap_size, InitError, Node, PageAccessError, PageMemory, DEFAULT_COMM, PAGE_POISON,
};
use crate::mm::slab::{KmallocConfig, NodeHolder, NodePages, Slab, SlabError, KMALLOC_MAX_SIZE};
use crate::mm::{Pfn, PhysAddr, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::proc::collect;
use crate::proc::snapshot::{MeminfoSnapshot, NodeSnapshot, NodeStats, SlabCacheSnapshot};

/// The node. `None` until `mem_init` has handed memblock's free memory over.
pub static NODE: SpinLock<Option<Node<'static>>> = SpinLock::new(None);

/// Runs `f` on the page allocator (which exists once `mem_init` has run), then prints what
/// the allocation found wrong (page poisoning's reports), as Linux prints it from the
/// allocation path.
pub fn with_node<R>(f: impl FnOnce(&mut Node<'static>) -> R) -> R {
    let mut guard = NODE.lock();
    let node = guard.as_mut().expect("the page allocator is set up during boot");
    let r = f(node);
    // Only page poisoning queues reports; its flag is the cheaper test.
    if node.page_poisoning() && node.poison_report_pending() {
        print_poison_reports(node);
    }
    r
}

/// Prints the page allocator's pending reports (for allocations made outside `with_node`:
/// the slab's pages, page tables); the console calls it after every command.
pub fn print_pending_reports() {
    if let Some(node) = NODE.lock().as_mut() {
        print_poison_reports(node);
    }
}

/// Page poisoning's `check_poison_mem` reports, each with the address the page was read at.
#[cold]
#[inline(never)]
fn print_poison_reports(node: &mut Node<'static>) {
    while let Some((report, suppressed)) = node.take_poison_report() {
        let va = match linear_address(report.pfn) {
            Some(va) => va as u64,
            None => kmap_slots::va(kmap_slots::FIRST),
        };
        let _ = report.write_report(&mut Console, va);
        if suppressed > 0 {
            let _ = writeln!(Console, "check_poison_mem: {suppressed} callbacks suppressed");
        }
    }
}

/// Highmem's temporary mappings: the fixmap's `kmap_local` slots (two, for
/// `copy_user_highpage`). Only an architecture with high memory has them.
#[cfg(not(target_arch = "aarch64"))]
mod kmap_slots {
    use crate::arch::fixmap::{clear_fixmap, fix_to_virt, set_fixmap, FixedAddress};
    use crate::mm::page_alloc::PageAccessError;
    use crate::mm::pgprot::PAGE_KERNEL;
    use crate::mm::Pfn;

    pub type Slot = FixedAddress;
    pub const FIRST: Slot = FixedAddress::KmapBegin;
    pub const SECOND: Slot = FixedAddress::KmapNext;

    /// Maps `pfn` at `slot` (the fixmap's page table was created by `paging_init`).
    pub fn map(slot: Slot, pfn: Pfn) -> Result<*mut u8, PageAccessError> {
        set_fixmap(slot, pfn.phys().0, PAGE_KERNEL).map_err(|_| PageAccessError { pfn })?;
        Ok(fix_to_virt(slot) as usize as *mut u8)
    }

    pub fn clear(slot: Slot) {
        clear_fixmap(slot);
    }

    pub fn va(slot: Slot) -> u64 {
        fix_to_virt(slot)
    }
}

/// arm64 has no high memory and so no kmap slots: every RAM frame is in the linear map, and
/// a frame outside it is not RAM the allocator owns (an error, never a mapping).
#[cfg(target_arch = "aarch64")]
mod kmap_slots {
    use crate::mm::page_alloc::PageAccessError;
    use crate::mm::Pfn;

    pub type Slot = ();
    pub const FIRST: Slot = ();
    pub const SECOND: Slot = ();

    pub fn map(_: Slot, pfn: Pfn) -> Result<*mut u8, PageAccessError> {
        Err(PageAccessError { pfn })
    }

    pub fn clear(_: Slot) {}

    /// No slot's address: reports name the frame only.
    pub fn va(_: Slot) -> u64 {
        0
    }
}

/// Serialises users of the `kmap_local` fixmap slots: its holder is the one writer of their
/// page-table entries (`arch::fixmap::set_fixmap` writes them without a page-table lock).
static KMAP_ATOMIC: SpinLock<()> = SpinLock::new(());

/// Why the page allocator could not be set up.
#[derive(Debug)]
pub enum MemInitError {
    /// memblock had no room below the lowmem limit for `mem_map`.
    NoRoomForMemMap {
        bytes: u64,
    },
    Init(InitError),
}

impl core::fmt::Display for MemInitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemInitError::NoRoomForMemMap { bytes } => {
                write!(f, "cannot allocate {bytes} bytes for mem_map below the lowmem limit")
            }
            MemInitError::Init(e) => write!(f, "{e}"),
        }
    }
}

/// `SMP_CACHE_BYTES`: the usemap's alignment (`memblock_alloc(usemapsize, SMP_CACHE_BYTES)`).
const USEMAP_ALIGN: u64 = 64;

/// Where a lowmem page frame is in the linear map (None for highmem).
/// The frame's address in the linear map, None for a highmem frame (which has none).
pub fn linear_address(pfn: Pfn) -> Option<*mut u8> {
    crate::kernel::phys_to_virt(pfn.phys().0).map(|va| va as *mut u8)
}

/// Runs `f` with the page frame mapped at some kernel address: lowmem through the linear
/// map, highmem through the `kmap_atomic` fixmap slot (mapped for the duration only). An
/// error when the slot cannot be mapped: `f` never sees an address that maps nothing.
pub fn with_page_mapped<R>(pfn: Pfn, f: impl FnOnce(*mut u8) -> R) -> Result<R, PageAccessError> {
    if let Some(va) = linear_address(pfn) {
        return Ok(f(va));
    }
    let _slot = KMAP_ATOMIC.lock();
    let va = kmap_slots::map(kmap_slots::FIRST, pfn)?;
    let r = f(va);
    kmap_slots::clear(kmap_slots::FIRST);
    Ok(r)
}

/// Runs `f` with two page frames mapped at once (`kmap_local_page` of each, as
/// `copy_user_highpage` maps source and destination): lowmem through the linear map, highmem
/// through the two `kmap_local` fixmap slots.
pub fn with_two_pages_mapped<R>(
    a: Pfn,
    b: Pfn,
    f: impl FnOnce(*mut u8, *mut u8) -> R,
) -> Result<R, PageAccessError> {
    let (la, lb) = (linear_address(a), linear_address(b));
    if let (Some(va), Some(vb)) = (la, lb) {
        return Ok(f(va, vb));
    }
    let _slots = KMAP_ATOMIC.lock();
    let map = |pfn: Pfn, linear: Option<*mut u8>, slot| match linear {
        Some(va) => Ok((va, None)),
        None => kmap_slots::map(slot, pfn).map(|va| (va, Some(slot))),
    };
    let (va, slot_a) = map(a, la, kmap_slots::FIRST)?;
    let (vb, slot_b) = match map(b, lb, kmap_slots::SECOND) {
        Ok(m) => m,
        Err(e) => {
            if let Some(s) = slot_a {
                kmap_slots::clear(s);
            }
            return Err(e);
        }
    };
    let r = f(va, vb);
    for s in [slot_a, slot_b].into_iter().flatten() {
        kmap_slots::clear(s);
    }
    Ok(r)
}

/// Page contents for the allocator (`__GFP_ZERO`, page poisoning).
struct KernelPageMemory;

impl KernelPageMemory {
    fn fill(pfn: Pfn, order: u32, byte: u8) -> Result<(), PageAccessError> {
        for i in 0..(1u64 << order) {
            with_page_mapped(Pfn(pfn.0 + i), |va| {
                // SAFETY: `va` maps the whole page frame, which the allocator owns.
                unsafe {
                    if byte == 0 {
                        crate::arch::page::clear_page(va);
                    } else {
                        core::ptr::write_bytes(va, byte, PAGE_SIZE as usize);
                    }
                }
            })?;
        }
        Ok(())
    }
}

impl PageMemory for KernelPageMemory {
    fn zero(&self, pfn: Pfn, order: u32) -> Result<(), PageAccessError> {
        Self::fill(pfn, order, 0)
    }

    fn poison(&self, pfn: Pfn) -> Result<(), PageAccessError> {
        Self::fill(pfn, 0, PAGE_POISON)
    }

    fn check_poison(&self, pfn: Pfn) -> Result<Option<usize>, PageAccessError> {
        with_page_mapped(pfn, |va| {
            // SAFETY: as in `fill`; the page is only read.
            let page = unsafe { core::slice::from_raw_parts(va, PAGE_SIZE as usize) };
            page.iter().position(|&b| b != PAGE_POISON)
        })
    }

    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) -> Result<(), PageAccessError> {
        if offset.checked_add(buf.len()).is_none_or(|end| end > PAGE_SIZE as usize) {
            return Err(PageAccessError { pfn });
        }
        with_page_mapped(pfn, |va| {
            // SAFETY: as in `fill`; `offset + buf.len()` stays inside the page (checked).
            let page = unsafe { core::slice::from_raw_parts(va, PAGE_SIZE as usize) };
            buf.copy_from_slice(&page[offset..offset + buf.len()]);
        })
    }
}

static PAGE_MEMORY: KernelPageMemory = KernelPageMemory;

/// Bytes of `mem_map` for the layout's RAM span: what `mem_init` takes from memblock below
/// the lowmem limit (boot checks that reservations leave room for it).
pub fn mem_map_bytes(layout: &Layout) -> u64 {
    let (ram_start, ram_end) = layout.ram_range();
    let pages = (ram_end.0 >> PAGE_SHIFT) - (ram_start.0 >> PAGE_SHIFT);
    pages * size_of::<Page>() as u64
}

/// Linux's `mem_init()` (with `free_area_init` before it): places `mem_map` for all of RAM in
/// lowmem, builds the zones from the layout and hands every free memblock range to the buddy
/// lists. Returns the bytes `mem_map` took.
pub fn mem_init(
    layout: &Layout,
    memblock: &mut Memblock,
    page_poison: bool,
) -> Result<u64, MemInitError> {
    let (ram_start, ram_end) = layout.ram_range();
    let start_pfn = ram_start.0 >> PAGE_SHIFT;
    let end_pfn = ram_end.0 >> PAGE_SHIFT;
    let lowmem_limit = layout.lowmem_limit().0;
    let nr = (end_pfn - start_pfn) as usize;
    let bytes = mem_map_bytes(layout);
    let pa = memblock
        .alloc(bytes, PAGE_SIZE, lowmem_limit, "mem_map")
        .ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    let va = layout.linear_va(PhysAddr(pa)).ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    let base = va.0 as *mut Page;
    // The pageblock table (Linux's usemap), allocated after mem_map as free_area_init_core's
    // setup_usemap() does, so it lands right below it.
    let usemap_bytes = usemap_size(Pfn(start_pfn), Pfn(end_pfn));
    let upa = memblock
        .alloc(usemap_bytes as u64, USEMAP_ALIGN, lowmem_limit, "usemap")
        .ok_or(MemInitError::NoRoomForMemMap { bytes: usemap_bytes as u64 })?;
    let uva = layout
        .linear_va(PhysAddr(upa))
        .ok_or(MemInitError::NoRoomForMemMap { bytes: usemap_bytes as u64 })?;
    // SAFETY: memblock reserved [pa, pa + bytes) and [upa, upa + usemap_bytes) in lowmem for
    // us alone (two regions, so the slices cannot overlap) and the linear map covers them;
    // mem_map is handed over as not yet initialised (memmap_init writes every descriptor),
    // the pageblock table is zeroed before it is formed.
    let (pages, usemap): (&'static mut [MaybeUninit<Page>], &'static mut [u8]) = unsafe {
        let table = uva.0 as *mut u8;
        table.write_bytes(0, usemap_bytes);
        (
            core::slice::from_raw_parts_mut(base as *mut MaybeUninit<Page>, nr),
            core::slice::from_raw_parts_mut(table, usemap_bytes),
        )
    };
    // Built where it lives: the node is too big to move around the boot stack.
    let mut slot = NODE.lock();
    let node = Node::from_uninit_memblock_in(
        &mut slot,
        pages,
        Pfn(start_pfn),
        usemap,
        &layout.node_zones(),
        memblock,
    )
    .ok_or(MemInitError::NoRoomForMemMap { bytes })?
    .map_err(MemInitError::Init)?;
    node.set_linear_map(layout.linear_map());
    node.set_page_memory(&PAGE_MEMORY);
    if page_poison {
        node.enable_page_poisoning();
    }
    Ok(bytes)
}

/// Where `mem_map` lives (virtual `[start, end)`), for arm64's layout banner.
pub fn mem_map_range() -> Option<(u64, u64)> {
    let node = NODE.lock();
    let map = node.as_ref()?.mem_map();
    let first = node.as_ref()?.page(map.base_pfn())?;
    let start = first as *const Page as u64;
    Some((start, start + (map.len() * size_of::<Page>()) as u64))
}

/// The node counters kept outside the page allocator (slab and page-table pages), for
/// /proc and `show_mem` alike. Takes the slab's lock: call it before `with_node`.
pub fn node_stats() -> NodeStats {
    let slab_pages = SLAB.lock().meminfo().total_pages() as u64;
    let procs = process_counters();
    NodeStats {
        nr_slab_unreclaimable: slab_pages,
        nr_page_table_pages: crate::arch::mmu::page_table_pages() + procs.pgd_pages,
        // NR_KERNEL_STACK_KB: THREAD_SIZE per task (8 KiB on ARM, 32 KiB on arm64).
        nr_kernel_stack: procs.kernel_stack_pages * (PAGE_SIZE / 1024),
        ..NodeStats::default()
    }
}

/// `node_stats` with what `show_mem` adds after the zones: the page cache's pages and swap's
/// counts (`show_swap_cache_info`). Takes the node's and swap's locks in turn: call it with
/// neither held. Allocates nothing, so the OOM killer can call it.
pub fn show_mem_stats() -> NodeStats {
    let mut stats = node_stats();
    stats.nr_file_pages = crate::kernel::process::procfs_live::page_cache_pages();
    let (total, free, cached) = crate::kernel::swap::meminfo_pages();
    stats.nr_swap_total = total;
    stats.nr_swap_free = free;
    stats.nr_swapcache = cached;
    stats
}

/// What processes hold outside the allocators' own counters.
struct ProcessCounters {
    /// Pages of the processes' first-level tables.
    pgd_pages: u64,
    /// Pages of the tasks' kernel stacks.
    kernel_stack_pages: u64,
    /// Anonymous pages mapped by processes (`NR_ANON_MAPPED`).
    anon_pages: u64,
    /// Whether reclaim gave up on the node.
    unreclaimable: bool,
}

fn process_counters() -> ProcessCounters {
    use crate::kernel::process;
    use core::sync::atomic::Ordering::Relaxed;
    ProcessCounters {
        pgd_pages: process::mm::PGD_PAGES.load(Relaxed),
        kernel_stack_pages: process::NR_KERNEL_STACK_PAGES.load(Relaxed),
        anon_pages: process::mm::NR_ANON_PAGES.load(Relaxed),
        unreclaimable: process::reclaim::node_unreclaimable(),
    }
}

/// A copy of the node's state for the `/proc` renderers, taken under the allocator's lock.
pub fn node_snapshot() -> NodeSnapshot {
    let stats = node_stats();
    let node = NODE.lock();
    let mut snap = match node.as_ref() {
        Some(n) => collect::node_snapshot(n, stats),
        None => NodeSnapshot::empty(),
    };
    snap.unreclaimable = process_counters().unreclaimable;
    snap
}

/// Everything /proc/meminfo prints. The vmalloc figures have the meaning of the profile's era
/// (6.1: vmalloc'ed pages and 0; the Android profiles: area sizes and the largest gap).
pub fn meminfo_snapshot(layout: &Layout) -> MeminfoSnapshot {
    let node = node_snapshot();
    let mut mi = MeminfoSnapshot::from_node(&node);
    let (used, chunk) = super::vmalloc::meminfo_used_and_chunk(layout);
    mi.vmalloc_used_bytes = used;
    mi.vmalloc_chunk_bytes = chunk;
    mi.vmalloc_total_bytes = layout.vmalloc_size();
    mi.anon_pages = process_counters().anon_pages;
    mi.no_highmem = !crate::arch::layout::CONFIG_HIGHMEM;
    mi
}

/// The slab allocator (kmalloc and the caches). Lock order: `SLAB` before `NODE`.
pub static SLAB: SpinLock<Slab> = SpinLock::new(Slab::new());

/// `kmem_cache_init()`: the kmalloc caches, sized for the board's CPUs, with the ceiling the
/// layout's profile gives kmalloc (Linux's `KMALLOC_MAX_SIZE` unless the profile models an
/// older kernel). Runs right after `mem_init`, as in Linux's `mm_init()`.
pub fn kmem_cache_init(layout: &Layout) -> Result<(), SlabError> {
    let max_size = layout.kmalloc_max_size().map_or(KMALLOC_MAX_SIZE, |b| b as usize);
    let config = KmallocConfig { nr_cpu_ids: crate::board::raspi::NR_CPUS, max_size };
    SLAB.lock().kmem_cache_init(config)
}

/// Whole pages for the slab layer from the buddy allocator, under its lock as in the kernel
/// (`NodePages`: slabs marked `PG_slab`, `kmalloc_large` blocks, the `struct slab` table).
/// A free the node refuses, which would be a slab bug, is reported as any bad free is.
pub struct BuddyPages;

/// `BuddyPages` with Linux's `GFP_ATOMIC` access (`__GFP_HIGH`), for the kernel's own Rust
/// allocations (Vec, Box...) when the `GFP_KERNEL` attempt failed at the min watermark and
/// could not reclaim (a lock held) or reclaim gave up, so the console keeps answering there.
struct AtomicBuddyPages;

impl NodeHolder for AtomicBuddyPages {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        let mut node = NODE.lock();
        with_reported_bad_free(&mut NodePages::atomic(node.as_mut()?), f)
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        BuddyPages.with_node(f)
    }
}

/// Runs `f` on `pages`, reporting a free the node refused (a slab bug) as any bad free is.
fn with_reported_bad_free<R>(
    pages: &mut NodePages<'_, '_>,
    f: impl FnOnce(&mut NodePages<'_, '_>) -> R,
) -> Option<R> {
    let r = f(pages);
    if let Some(e) = pages.take_bad_free() {
        let _ = e.write_report(&mut Console, DEFAULT_COMM);
    }
    Some(r)
}

impl NodeHolder for BuddyPages {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        let mut node = NODE.lock();
        with_reported_bad_free(&mut NodePages::new(node.as_mut()?), f)
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        NODE.lock().as_ref().map(f)
    }
}

/// `__alloc_pages_direct_reclaim` with `should_reclaim_retry`'s loop and, when that gives
/// up, `__alloc_pages_may_oom`, for an allocation of `gfp` and `order` whose caller may
/// sleep: reclaim, then `retry` the allocation, until it succeeds (true) or 6.1's rules give
/// up (false). The process layer installs it with kswapd ([`set_direct_reclaim`]); until then
/// a failed allocation does not reclaim.
pub type DirectReclaim = fn(GfpFlags, u32, &mut dyn FnMut() -> bool) -> bool;

static DIRECT_RECLAIM: spin::Once<DirectReclaim> = spin::Once::new();

/// Installs the slow path's direct reclaim (once, at boot).
pub fn set_direct_reclaim(f: DirectReclaim) {
    DIRECT_RECLAIM.call_once(|| f);
}

/// Whether an allocation with `gfp` may reclaim here: `gfpflags_allow_blocking` (the mask
/// has `__GFP_DIRECT_RECLAIM`) and `preemptible()` (no spin lock held, interrupts on: what
/// `might_sleep` checks). A `GFP_KERNEL` request from a context that holds a lock keeps
/// the atomic behaviour.
pub fn gfp_may_reclaim(gfp: GfpFlags) -> bool {
    gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) && spinlock::preemptible()
}

/// An order-0 allocation as `__alloc_pages` makes it: see [`alloc_pages_reclaiming`].
#[track_caller]
pub fn alloc_reclaiming<T>(gfp: GfpFlags, attempt: impl FnMut() -> Option<T>) -> Option<T> {
    alloc_pages_reclaiming(gfp, 0, attempt)
}

/// An allocation of `order` as `__alloc_pages` makes it: `might_alloc` first (a mask that may
/// sleep, asked for where the caller may not, is reported as 6.1's `might_sleep` reports it,
/// and keeps the atomic behaviour), then `attempt` (the free lists at the watermark); when
/// that fails and the caller may sleep, the slow path: direct reclaim and `attempt` again
/// after each round, then the OOM killer for a request that may invoke it, until `attempt`
/// succeeds or the slow path gives up. `attempt` must take and drop its own locks.
#[track_caller]
pub fn alloc_pages_reclaiming<T>(
    gfp: GfpFlags,
    order: u32,
    attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    if gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) {
        spinlock::might_sleep();
    }
    slow_path_if_preemptible(gfp, order, attempt)
}

/// [`alloc_pages_reclaiming`] without the `might_sleep` report: for the global allocator,
/// whose requests are `GFP_KERNEL` where the caller may sleep and atomic elsewhere (Rust's
/// collections cannot say which they are; Linux's callers pass `GFP_ATOMIC` under a lock).
fn slow_path_if_preemptible<T>(
    gfp: GfpFlags,
    order: u32,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    if let Some(x) = attempt() {
        return Some(x);
    }
    if !gfp_may_reclaim(gfp) {
        return None;
    }
    let reclaim = DIRECT_RECLAIM.get()?;
    let mut got = None;
    reclaim(gfp, order, &mut || {
        got = attempt();
        got.is_some()
    });
    got
}

/// The page order of a kmalloc request of `size` bytes: 0 for a slab object (pivm's slabs
/// take order-0 pages when they must reclaim), `get_order(size)` for `kmalloc_large`.
fn kmalloc_order(size: usize) -> u32 {
    let pages = size.div_ceil(PAGE_SIZE as usize).max(1);
    pages.next_power_of_two().trailing_zeros()
}

/// One try of a kmalloc of `size` bytes at `align` from the slab, at the watermark.
fn slab_attempt(size: usize, align: usize) -> impl FnMut() -> Option<usize> {
    move || SLAB.lock().alloc_layout(&mut BuddyPages, size, align)
}

/// The global allocator's last try: `GFP_ATOMIC`'s access, to half the min watermark.
fn slab_atomic_retry(size: usize, align: usize) -> Option<usize> {
    SLAB.lock().alloc_layout(&mut AtomicBuddyPages, size, align)
}

/// `kmalloc(size, gfp)` for a block the global allocator frees (`dealloc` with the same size
/// and alignment): the global allocator's path with the caller's mask, so a caller that may
/// sleep reclaims as `gfp` allows (`__GFP_NORETRY`: one round, no OOM killer) and is checked
/// by `might_sleep`; then, as every kernel kmalloc in pivm, the `GFP_ATOMIC` retry.
#[track_caller]
pub fn kmalloc_layout(gfp: GfpFlags, size: usize, align: usize) -> Option<usize> {
    alloc_pages_reclaiming(gfp, kmalloc_order(size), slab_attempt(size, align))
        .or_else(|| slab_atomic_retry(size, align))
}

/// Rust's `alloc` (Vec, Box, ...) on top of kmalloc, so kernel code can use collections.
/// Every request is a `GFP_KERNEL` kmalloc: where the caller may sleep a failure at the
/// watermark reclaims and then invokes the OOM killer, as 6.1's slow path does; where it may not (a
/// lock held, an interrupt), and after reclaim gave up, the request retries with
/// `GFP_ATOMIC`'s access to half the min watermark before it fails.
struct KernelAllocator;

// SAFETY: every block comes from the slab layer, which hands out non-overlapping memory of at
// least `layout.size()` bytes aligned to `layout.align()` (it picks a size class that is a
// multiple of the alignment, or whole pages), and takes back only what it handed out.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        slow_path_if_preemptible(
            GfpFlags::GFP_KERNEL,
            kmalloc_order(size),
            slab_attempt(size, align),
        )
        .or_else(|| slab_atomic_retry(size, align))
        .map_or(core::ptr::null_mut(), |a| a as *mut u8)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        let _ =
            SLAB.lock().free_layout(&mut BuddyPages, ptr as usize, layout.size(), layout.align());
    }
}

#[global_allocator]
static GLOBAL_ALLOCATOR: KernelAllocator = KernelAllocator;

/// The `/proc` files drawn from the allocators alone (`buddyinfo`, `pagetypeinfo`,
/// `zoneinfo`, `slabinfo`), rendered live into `w`; None for any other file. Both kernels'
/// `/proc` readers (procfs, and the 64-bit console's `cat`) take these from here.
pub fn render_allocator_file(
    f: crate::fs::procfs::RootFile,
    w: &mut impl core::fmt::Write,
) -> Option<core::fmt::Result> {
    use crate::fs::procfs::RootFile;
    use crate::proc::{buddyinfo, pagetypeinfo, slabinfo, zoneinfo};
    Some(match f {
        RootFile::Buddyinfo => buddyinfo::render(w, &node_snapshot()),
        RootFile::Pagetypeinfo => pagetypeinfo::render(w, &node_snapshot()),
        RootFile::Zoneinfo => zoneinfo::render(w, &node_snapshot()),
        RootFile::Slabinfo => {
            let mut caches =
                [crate::proc::snapshot::SlabCacheSnapshot::EMPTY; crate::mm::slab::MAX_CACHES];
            let n = slab_snapshot(&mut caches);
            slabinfo::render(w, &caches[..n])
        }
        _ => return None,
    })
}

/// The slab caches for /proc/slabinfo, newest first (Linux's order).
pub fn slab_snapshot(out: &mut [SlabCacheSnapshot]) -> usize {
    let slab = SLAB.lock();
    let mut n = 0;
    for (slot, c) in out.iter_mut().zip(slab.slabinfo()) {
        *slot = c.into();
        n += 1;
    }
    n
}

/// Where a broken invariant shows: a page frame, an address, a pkmap slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyAt {
    Pfn(Pfn),
    Addr(u64),
    Slot(usize),
}

/// The first broken invariant `verify_all` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    /// `page_alloc`, `slab`, `vmap` or `pkmap`.
    pub subsystem: &'static str,
    pub what: &'static str,
    pub at: VerifyAt,
}

impl core::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {} at ", self.subsystem, self.what)?;
        match self.at {
            VerifyAt::Pfn(pfn) => write!(f, "pfn:{:#x}", pfn.0),
            VerifyAt::Addr(a) => write!(f, "{a:#010x}"),
            VerifyAt::Slot(nr) => write!(f, "slot {nr}"),
        }
    }
}

/// Runs every allocator's invariant checks, one `verify()` per subsystem: the page allocator
/// (free lists, counters, pageblock types, per-CPU lists, owners), the slab layer (freelists,
/// lists, counts, `PG_slab` marks), the vmalloc range (both trees, tiling, counters) and the pkmap
/// pool (counts and hash). Each runs under its own lock (SLAB before NODE).
pub fn verify_all() -> Result<(), VerifyFailure> {
    let slab = SLAB.lock();
    // Its check of every slab page's PG_slab mark takes NODE itself.
    slab.verify(&BuddyPages).map_err(|e| VerifyFailure {
        subsystem: "slab",
        what: e.what,
        at: VerifyAt::Addr(e.slab as u64),
    })?;
    if let Some(node) = NODE.lock().as_ref() {
        node.verify().map_err(|(what, pfn)| VerifyFailure {
            subsystem: "page_alloc",
            what,
            at: VerifyAt::Pfn(pfn),
        })?;
        // Every block the slab layer holds is an allocated block of that order to the page
        // allocator (a slab page freed behind the slab's back is how kmalloc broke).
        for (addr, order) in slab.page_blocks() {
            let head = node.virt_to_pfn(VirtAddr(addr)).and_then(|pfn| node.page(pfn));
            let allocated = head.is_some_and(|p| {
                p.refcount() != 0 && !p.is_reserved() && !p.is_buddy() && p.order() == order
            });
            if !allocated {
                return Err(VerifyFailure {
                    subsystem: "slab",
                    what: "a slab block is not an allocated block of the page allocator",
                    at: VerifyAt::Addr(addr as u64),
                });
            }
        }
    }
    drop(slab);
    super::vmalloc::VMAP.lock().verify().map_err(|e| VerifyFailure {
        subsystem: e.subsystem,
        what: e.what,
        at: VerifyAt::Addr(e.at),
    })?;
    if let Some(pkmap) = super::vmalloc::PKMAP.lock().as_ref() {
        pkmap.verify().map_err(|(what, nr)| VerifyFailure {
            subsystem: "pkmap",
            what,
            at: VerifyAt::Slot(nr),
        })?;
    }
    Ok(())
}
