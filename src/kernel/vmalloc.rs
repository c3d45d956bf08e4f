//! vmalloc, vfree, ioremap, iounmap, kmap and kunmap in the running kernel. The pure parts
//! decide (`mm::vmap` places areas and tracks lazy frees, `mm::highmem` manages the pkmap
//! slots); this module takes pages from the buddy allocator, writes the page tables through
//! `arch::arm::mmu` and flushes the TLB.
use core::fmt;

use spin::Mutex;

use super::mem::{with_node, NODE};
use crate::arch::arm::{desc, mmu};
use crate::console::printk::Console;
use crate::mm::gfp::GfpFlags;
use crate::mm::highmem::{KmapError, Pkmap};
use crate::mm::layout::Layout;
use crate::mm::page_alloc::{write_warn_alloc, DEFAULT_COMM};
use crate::mm::vmap::{lazy_max_pages, page_align, Vmap, VmapError};
use crate::mm::{Pfn, PAGE_SHIFT, PAGE_SIZE};
use crate::proc::snapshot::VmFlags;

/// The vmalloc range's area allocator (`vmap_area_root`/`free_vmap_area_root`).
pub static VMAP: Mutex<Vmap> = Mutex::new(Vmap::empty());
/// The permanent kmap pool below PAGE_OFFSET.
pub static PKMAP: Mutex<Option<Pkmap>> = Mutex::new(None);
/// CPUs online for Linux's `lazy_max_pages()` (pivm's other cores are parked, but Linux's
/// figure for this board counts all four, which is what the case study's kernel had).
const NUM_POSSIBLE_CPUS: u32 = 4;

/// A vmalloc-family failure, printed like Linux's messages.
#[derive(Clone, Copy, Debug)]
pub enum VmallocError {
    /// `vmalloc error: size %lu, exceeds total pages`.
    ExceedsTotalPages { size: u64 },
    /// `vmalloc(0)`: Linux returns NULL silently; pivm says why.
    ZeroSize,
    /// No room in the range: `vmap allocation for size ... failed`, then
    /// `vmalloc error: size %lu, vm_struct allocation failed`.
    NoVmSpace { size: u64, err: VmapError },
    /// A page could not be allocated: `vmalloc error: size %lu, page order 0, failed to
    /// allocate pages`, with the bytes obtained before the failure, as Linux prints them.
    NoPages { obtained: u64 },
    /// A page table could not be allocated: `vmalloc error: size %lu, failed to map pages`.
    MapFailed { size: u64 },
    /// `ioremap` of RAM: Linux's ARM `__arm_ioremap_pfn_caller` refuses it.
    IoremapRam { phys: u64 },
    /// A bad `vfree`/`iounmap` address (Linux's WARN texts).
    BadFree(VmapError),
    /// `iounmap` of an area that is not an ioremap, or `vfree` of one that is.
    WrongKind { addr: u64, expected: &'static str },
}

impl fmt::Display for VmallocError {
    /// The message alone (what `warn_alloc` prints before `, mode:`); `report` prints it the
    /// way Linux does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ExceedsTotalPages { size } => {
                write!(f, "vmalloc error: size {size}, exceeds total pages")
            }
            Self::ZeroSize => f.write_str("vmalloc: size 0 (Linux returns NULL)"),
            Self::NoVmSpace { size, err } => {
                write!(f, "{err}; vmalloc error: size {size}, vm_struct allocation failed")
            }
            Self::NoPages { obtained } => {
                write!(f, "vmalloc error: size {obtained}, page order 0, failed to allocate pages")
            }
            Self::MapFailed { size } => {
                write!(f, "vmalloc error: size {size}, failed to map pages")
            }
            Self::IoremapRam { phys } => {
                write!(f, "ioremap: {phys:#010x} is RAM: use the linear map, not ioremap")
            }
            Self::BadFree(e) => write!(f, "{e}"),
            Self::WrongKind { addr, expected } => {
                write!(f, "{addr:#010x} is not a {expected} area")
            }
        }
    }
}

/// The mask vmalloc allocates its pages with.
const VMALLOC_GFP: GfpFlags = GfpFlags::GFP_KERNEL.union(GfpFlags::__GFP_HIGHMEM);

/// Prints a failure the way Linux reports it: the vmalloc errors through `warn_alloc()`
/// (`swapper/0: vmalloc error: ..., mode:0xcc2(GFP_KERNEL|__GFP_HIGHMEM), nodemask=(null)` and
/// the memory state), after the `vmap allocation ... failed` line where there is one.
pub fn report(e: &VmallocError) {
    let warn = |msg: fmt::Arguments<'_>| {
        let _ = with_node(|n| write_warn_alloc(&mut Console, DEFAULT_COMM, VMALLOC_GFP, msg, n));
    };
    match *e {
        VmallocError::ExceedsTotalPages { size } => {
            warn(format_args!("vmalloc error: size {size}, exceeds total pages"))
        }
        VmallocError::NoVmSpace { size, err } => {
            crate::kprintln!("{}", err);
            warn(format_args!("vmalloc error: size {size}, vm_struct allocation failed"))
        }
        VmallocError::NoPages { obtained } => warn(format_args!(
            "vmalloc error: size {obtained}, page order 0, failed to allocate pages"
        )),
        VmallocError::MapFailed { size } => {
            warn(format_args!("vmalloc error: size {size}, failed to map pages"))
        }
        _ => crate::kprintln!("{}", e),
    }
}

/// Sets up the vmalloc range from the layout; `lazy_pages` overrides Linux's purge threshold
/// (`pivm.lazy_vfree=`, 0 = free at once).
pub fn vmalloc_init(layout: &Layout, lazy_pages: Option<u64>) -> Result<(), VmapError> {
    let lazy = lazy_pages.unwrap_or(lazy_max_pages(NUM_POSSIBLE_CPUS));
    VMAP.lock().init(layout.vmalloc_start.0, layout.vmalloc_end.0, lazy)?;
    if let Some(base) = layout.pkmap_base {
        // kmap_init(): the pkmap page table exists from boot on.
        if mmu::prealloc_pte_table(base.0 as u32, &mut pte_alloc).is_ok() {
            *PKMAP.lock() = Some(Pkmap::new(base.0));
        }
    }
    Ok(())
}

/// A zeroed page-table page from the buddy allocator, owned as a page table
/// (`pte_alloc_kernel`).
fn pte_alloc() -> Option<u32> {
    let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO | GfpFlags::__GFP_NOWARN;
    let owner = crate::mm::page::PageOwner::PageTable;
    NODE.lock().as_mut()?.alloc_pages_for(owner, gfp, 0).ok().map(|pfn| pfn.phys().0 as u32)
}

/// Flushes whatever the area allocator purged since the last call.
fn flush_purged(vmap: &mut Vmap) {
    if let Some(p) = vmap.take_purged() {
        mmu::flush_tlb_kernel_range(p.start as u32, p.end as u32);
    }
}

/// Unmaps `[start, start + pages)`, returning each mapped page to the buddy allocator when
/// `free_pages`, then flushes the TLB for the range.
fn unmap_range(start: u64, pages: u64, free_pages: bool) {
    for i in 0..pages {
        let va = (start + (i << PAGE_SHIFT)) as u32;
        if let Some(pa) = mmu::unmap_kernel_page(va) {
            if free_pages {
                let _ = with_node(|n| n.__free_pages(Pfn(u64::from(pa) >> PAGE_SHIFT), 0));
            }
        }
    }
    mmu::flush_tlb_kernel_range(start as u32, (start + (pages << PAGE_SHIFT)) as u32);
}

/// `__vmalloc_node_range()`: reserves an area (with its guard page) lowest-first, backs it
/// with order-0 pages taken `GFP_KERNEL | __GFP_HIGHMEM` (highmem first, like Linux) and maps
/// them. Returns the area's address.
pub fn vmalloc(size: u64, caller: &'static str) -> Result<u64, VmallocError> {
    let Some(aligned) = page_align(size).filter(|&s| s != 0) else {
        return Err(if size == 0 {
            VmallocError::ZeroSize
        } else {
            VmallocError::ExceedsTotalPages { size }
        });
    };
    let pages = aligned >> PAGE_SHIFT;
    if pages > with_node(|n| n.totalram_pages()) {
        return Err(VmallocError::ExceedsTotalPages { size });
    }
    let mut vmap = VMAP.lock();
    let flags = VmFlags::VM_ALLOC | VmFlags::VM_UNINITIALIZED;
    let start = vmap.get_vm_area(aligned, flags, caller);
    flush_purged(&mut vmap);
    let start = start.map_err(|err| VmallocError::NoVmSpace { size, err })?;
    // Linux (>= 5.14) takes vmalloc's pages with __GFP_NOWARN and reports the failure itself.
    let gfp = VMALLOC_GFP | GfpFlags::__GFP_NOWARN;
    for i in 0..pages {
        let failed = match with_node(|n| n.alloc_pages(gfp, 0)) {
            Ok(pfn) => {
                let va = (start + (i << PAGE_SHIFT)) as u32;
                let pa = pfn.phys().0 as u32;
                match mmu::map_kernel_page(va, pa, desc::MT_MEMORY_RW, &mut pte_alloc) {
                    Ok(()) => None,
                    Err(_) => {
                        let _ = with_node(|n| n.__free_pages(pfn, 0));
                        Some(VmallocError::MapFailed { size: aligned })
                    }
                }
            }
            Err(_) => Some(VmallocError::NoPages { obtained: i << PAGE_SHIFT }),
        };
        if let Some(e) = failed {
            unmap_range(start, i, true);
            let _ = vmap.remove_vm_area(start);
            flush_purged(&mut vmap);
            return Err(e);
        }
    }
    let _ = vmap.set_nr_pages(start, pages as u32);
    let _ = vmap.clear_vm_uninitialized_flag(start);
    Ok(start)
}

/// `vfree()`: unmaps the area, flushes the TLB for it and returns its pages at once; the
/// address range itself is freed lazily (it stays reserved until the next purge).
pub fn vfree(addr: u64) -> Result<(), VmallocError> {
    let mut vmap = VMAP.lock();
    match vmap.find(addr) {
        Some(a) if a.flags().contains(VmFlags::VM_IOREMAP) => {
            return Err(VmallocError::WrongKind { addr, expected: "vmalloc" })
        }
        _ => {}
    }
    let area = vmap.remove_vm_area(addr).map_err(VmallocError::BadFree)?;
    unmap_range(area.va_start(), area.get_vm_area_size() >> PAGE_SHIFT, true);
    flush_purged(&mut vmap);
    Ok(())
}

/// `ioremap()`: maps device memory at `phys` (any alignment) in the vmalloc range, aligned as
/// Linux aligns ioremaps, and returns the virtual address of `phys`. RAM is refused.
pub fn ioremap(phys: u64, size: u64, caller: &'static str) -> Result<u64, VmallocError> {
    let is_ram =
        super::try_get().is_some_and(|k| k.memblock.is_memory(phys) || firmware_ram(k, phys));
    if is_ram {
        return Err(VmallocError::IoremapRam { phys });
    }
    let offset = phys & (PAGE_SIZE - 1);
    let Some(aligned) = page_align(size + offset).filter(|&s| s != 0) else {
        return Err(VmallocError::ZeroSize);
    };
    let mut vmap = VMAP.lock();
    let start = vmap.get_vm_area(aligned, VmFlags::VM_IOREMAP, caller);
    flush_purged(&mut vmap);
    let start = start.map_err(|err| VmallocError::NoVmSpace { size, err })?;
    let base = phys - offset;
    for i in 0..aligned >> PAGE_SHIFT {
        let va = (start + (i << PAGE_SHIFT)) as u32;
        let pa = (base + (i << PAGE_SHIFT)) as u32;
        if mmu::map_kernel_page(va, pa, desc::MT_DEVICE, &mut pte_alloc).is_err() {
            unmap_range(start, i, false);
            let _ = vmap.remove_vm_area(start);
            flush_purged(&mut vmap);
            return Err(VmallocError::MapFailed { size: aligned });
        }
    }
    let _ = vmap.set_phys_addr(start, base);
    Ok(start + offset)
}

/// RAM the firmware reported, including what `mem=` left out of memblock: a device mapping
/// of it would alias memory the kernel may map cacheable again (pivm refuses it; Linux's
/// check, `memblock_is_map_memory`, looks at memblock only).
fn firmware_ram(k: &super::Kernel, phys: u64) -> bool {
    k.boot.banks().iter().any(|b| (b.start.0..b.start.0.saturating_add(b.size)).contains(&phys))
}

/// `iounmap()`: takes the address ioremap returned (any offset into its first page).
pub fn iounmap(addr: u64) -> Result<(), VmallocError> {
    let start = addr & !(PAGE_SIZE - 1);
    let mut vmap = VMAP.lock();
    match vmap.find(start) {
        Some(a) if !a.flags().contains(VmFlags::VM_IOREMAP) => {
            return Err(VmallocError::WrongKind { addr, expected: "ioremap" })
        }
        _ => {}
    }
    let area = vmap.remove_vm_area(start).map_err(VmallocError::BadFree)?;
    unmap_range(area.va_start(), area.get_vm_area_size() >> PAGE_SHIFT, false);
    flush_purged(&mut vmap);
    Ok(())
}

/// Purges every lazily freed range now (`vm_unmap_aliases`); returns how many areas.
pub fn purge() -> usize {
    let mut vmap = VMAP.lock();
    let n = vmap.purge_vmap_area_lazy();
    flush_purged(&mut vmap);
    n
}

/// Renders /proc/vmallocinfo straight from the area tree (by address), under its lock.
pub fn render_vmallocinfo(w: &mut impl fmt::Write) -> fmt::Result {
    let v = VMAP.lock();
    crate::proc::vmallocinfo::render_iter(w, || v.iter().map(|a| a.to_vmalloc_area()))
}

/// The last `n` live areas by address (the top of the range) in /proc/vmallocinfo's format.
pub fn render_vmallocinfo_tail(w: &mut impl fmt::Write, n: usize) -> fmt::Result {
    let v = VMAP.lock();
    let live = || v.iter().filter(|a| a.state() == crate::mm::vmap::VmapState::Busy);
    let skip = live().count().saturating_sub(n);
    for a in live().skip(skip) {
        crate::proc::vmallocinfo::write_area(w, &a.to_vmalloc_area())?;
    }
    Ok(())
}

/// The caller of the live area starting at `addr`, if there is one.
pub fn live_area_caller(addr: u64) -> Option<&'static str> {
    let v = VMAP.lock();
    v.find(addr)
        .filter(|a| a.va_start() == addr && a.state() == crate::mm::vmap::VmapState::Busy)
        .map(|a| a.caller())
}

/// (VmallocUsed, VmallocChunk) in the pre-4.4 meanings: sum of area sizes including guard
/// pages and ioremaps, and the largest free gap.
pub fn used_and_chunk() -> (u64, u64) {
    let v = VMAP.lock();
    (v.used_bytes(), v.largest_free_gap())
}

/// The oops line naming the vmalloc area `addr` falls in or ran past (registered with
/// `arch::arm::fault::set_address_describer`).
pub fn describe_fault_addr(addr: u32, w: &mut dyn fmt::Write) {
    let addr = u64::from(addr);
    if let Some((start, end, caller, pages, freed)) = area_near(addr) {
        let place = if freed {
            "inside the freed (not yet purged)"
        } else if addr < end - PAGE_SIZE {
            "inside"
        } else if addr < end {
            "in the guard page of"
        } else {
            "past the end of"
        };
        let _ = writeln!(
            w,
            "vmalloc: {:08x} is {} area {:#010x}-{:#010x} ({} pages) allocated by {}",
            addr, place, start, end, pages, caller
        );
    }
}

/// The vmalloc area an address falls in or ran past, for oopses: (start, end, caller).
/// Uses `try_lock`: a fault may happen while the lock is held.
pub fn area_near(addr: u64) -> Option<(u64, u64, &'static str, u32, bool)> {
    let v = VMAP.try_lock()?;
    if addr < v.vstart() || addr >= v.vend() {
        return None;
    }
    let a = v.find(addr).or_else(|| v.find_nearest_below(addr))?;
    let freed = a.state() == crate::mm::vmap::VmapState::LazilyFreed;
    Some((a.va_start(), a.va_end(), a.caller(), a.nr_pages(), freed))
}

/// `kmap()`: the page's kernel address; lowmem pages have one already, highmem pages get a
/// pkmap slot (mapped on demand, unmapped lazily when the pool wraps around).
pub fn kmap(pfn: Pfn) -> Result<u64, KmapError> {
    if let Some(va) = with_node(|n| n.page_address(pfn)) {
        return Ok(va.0);
    }
    let mut pool = PKMAP.lock();
    let pool = pool.as_mut().ok_or(KmapError::NotMapped(pfn))?;
    let k = pool.kmap(pfn)?;
    if !k.flushed.is_empty() {
        for (_, va) in k.flushed.iter() {
            mmu::unmap_kernel_page(va as u32);
        }
        let (s, e) = k.flushed.tlb_range();
        mmu::flush_tlb_kernel_range(s as u32, e as u32);
    }
    if let Some((_, p)) = k.new_mapping {
        let mapped = mmu::map_kernel_page(
            k.vaddr as u32,
            p.phys().0 as u32,
            desc::MT_MEMORY_RW,
            &mut pte_alloc,
        );
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
