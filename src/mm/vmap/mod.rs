//! The vmalloc range's address allocator: Linux 6.1's `vmap_area` machinery (mm/vmalloc.c),
//! pure. It hands out page-granular ranges of `[VMALLOC_START, VMALLOC_END)` lowest-address
//! first, keeps the guard page after each area, frees lazily and purges in batches with one
//! TLB flush per purge, and answers the lookups /proc/vmallocinfo, /proc/meminfo and the oops
//! need. The kernel maps and unmaps pages; this module only keeps the books.
//!
//! # Structure (as 6.1)
//! Three AVL trees (`avl`) of `vmap_area` nodes, keyed by virtual page number, each node its
//! own allocation (Linux's `vmap_area_cachep`), moving between the trees without a new one:
//! * `busy` (`vmap_area_root`): live areas, each owning its `vm_struct` (`VmStruct`, also its
//!   own allocation, `kzalloc` in Linux);
//! * `purge` (`purge_vmap_area_root`): lazily freed ranges, neighbours merged, shown as
//!   `unpurged vm_area`;
//! * `free` (`free_vmap_area_root`): maximal free blocks, each subtree augmented with, for
//!   every alignment pivm allows (`PAGE_SIZE << k`, k = 0..=7, up to `1 << IOREMAP_MAX_ORDER`),
//!   the largest request that alignment could place in it. Linux augments with the largest
//!   block size only and searches with `size + align - 1`, which can miss a block where an
//!   aligned request fits exactly; one maximum per alignment makes `find_vmap_lowest_match`
//!   exact and a single descent.
//!
//! Nothing is capped: areas are limited by the range and by memory. A node or `vm_struct`
//! that cannot be allocated fails the request with `NoMemory` and changes nothing.
//!
//! # Lazy freeing (`free_vmap_area_noflush`, `__purge_vmap_area_lazy`)
//! `remove_vm_area` unlinks the area from the busy tree and merges its range into the purge
//! tree; the kernel has already cleared its PTEs but flushed nothing. Once more than
//! `lazy_max_pages` pages wait (0: at every free), or when an allocation finds no room, the
//! purge flushes the TLB once over the whole purged span and returns every range to the free
//! tree. The flush goes through the `TlbFlush` the caller passes, and is counted.
use alloc::boxed::Box;
use core::fmt;

use bitflags::bitflags;

use self::avl::{Item, Node, Tree, TreeError};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};
use crate::sizes::SZ_32M;

mod avl;
#[cfg(test)]
mod tests;
pub mod vmalloc;

/// Largest ioremap alignment order on SMP ARM (the generic `7 + PAGE_SHIFT`: 512 KiB).
pub const IOREMAP_MAX_ORDER: u32 = 7 + PAGE_SHIFT;
/// Largest alignment `alloc_vmap_area` accepts: what an ioremap can ask for.
pub const VMAP_MAX_ALIGN: u64 = 1 << IOREMAP_MAX_ORDER;
/// One free-tree maximum per alignment `PAGE_SIZE << k`, k = 0..ALIGN_CLASSES.
const ALIGN_CLASSES: usize = (IOREMAP_MAX_ORDER - PAGE_SHIFT + 1) as usize;
/// `lazy_max_pages()` allows this much lazily freed space per bit of `fls(num_online_cpus())`.
const LAZY_MAX_BYTES_PER_CPU_ORDER: u64 = SZ_32M;
/// Bytes of one `pages[]` entry: a `struct page *` on 32-bit ARM (pivm stores the PFN).
pub const PAGES_ENTRY_SIZE: u64 = 4;

bitflags! {
    /// Linux's `vm_struct` flags (include/linux/vmalloc.h, values as in 6.1).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VmFlags: u32 {
        /// `ioremap()` and friends.
        const VM_IOREMAP = 0x0000_0001;
        /// `vmalloc()`.
        const VM_ALLOC = 0x0000_0002;
        /// `vmap()`ed pages.
        const VM_MAP = 0x0000_0004;
        /// Suitable for `remap_vmalloc_range()`.
        const VM_USERMAP = 0x0000_0008;
        /// `dma_alloc_coherent()` remap.
        const VM_DMA_COHERENT = 0x0000_0010;
        /// The area is reserved but not yet fully set up.
        const VM_UNINITIALIZED = 0x0000_0020;
        /// No guard page after the area.
        const VM_NO_GUARD = 0x0000_0040;
    }
}

/// Linux's `fls()`: 1-based index of the most significant set bit, 0 for 0.
pub const fn fls(x: u32) -> u32 {
    u32::BITS - x.leading_zeros()
}

/// Linux's `get_count_order_long()`: ceil(log2(count)), -1 for 0.
pub const fn get_count_order(count: u64) -> i32 {
    if count == 0 {
        -1
    } else {
        (u64::BITS - (count - 1).leading_zeros()) as i32
    }
}

/// Linux's `lazy_max_pages()`: 32 MiB of lazily freed space per bit of `fls(cpus)` before a
/// purge (24576 pages, 96 MiB, on the Pi 2's four cores).
pub const fn lazy_max_pages(num_online_cpus: u32) -> u64 {
    fls(num_online_cpus) as u64 * (LAZY_MAX_BYTES_PER_CPU_ORDER / PAGE_SIZE)
}

/// `__get_vm_area_node()`'s alignment for `VM_IOREMAP`: the size's power-of-two order, clamped
/// to `[PAGE_SHIFT, IOREMAP_MAX_ORDER]`, so big device windows can use section mappings.
pub const fn ioremap_align(size: u64) -> u64 {
    let order = get_count_order(size);
    let order = if order < PAGE_SHIFT as i32 {
        PAGE_SHIFT
    } else if order > IOREMAP_MAX_ORDER as i32 {
        IOREMAP_MAX_ORDER
    } else {
        order as u32
    };
    1 << order
}

/// `PAGE_ALIGN()`, `None` on overflow.
pub const fn page_align(size: u64) -> Option<u64> {
    match size.checked_add(PAGE_SIZE - 1) {
        Some(s) => Some(s & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// The alignment class `k` (alignment `PAGE_SIZE << k`) for `align`, which must be a power of
/// two no larger than `VMAP_MAX_ALIGN` (anything up to a page means a page).
fn align_class(align: u64) -> Option<usize> {
    if !align.is_power_of_two() || align > VMAP_MAX_ALIGN {
        return None;
    }
    Some(align.trailing_zeros().saturating_sub(PAGE_SHIFT) as usize)
}

/// A virtual page number, as wide as a virtual address (Linux's `unsigned long`): a 64-bit
/// kernel's vmalloc range (arm64's starts near 2^64 - 2^47) fits as well as a 32-bit one's.
pub type Vpn = usize;

/// Highest page number a range may end at: its address fits a `u64`, and aligning any page
/// below it up to the largest alignment cannot overflow.
const MAX_VPN: Vpn = {
    let by_addr = u64::MAX >> PAGE_SHIFT;
    let top = if (Vpn::MAX as u64) < by_addr { Vpn::MAX } else { by_addr as Vpn };
    top - (1 << (ALIGN_CLASSES - 1))
};

/// First page at or above `vpn` aligned for class `k` (`vpn < MAX_VPN`, so no overflow).
fn align_up(vpn: Vpn, k: usize) -> Vpn {
    let mask: Vpn = (1 << k) - 1;
    vpn.saturating_add(mask) & !mask
}

/// The address of page `vpn` (exact: `vpn <= MAX_VPN`).
const fn vpn_addr(vpn: Vpn) -> u64 {
    (vpn as u64) << PAGE_SHIFT
}

/// The page number of `addr`, if page numbers can hold it.
fn addr_vpn(addr: u64) -> Option<Vpn> {
    Vpn::try_from(addr >> PAGE_SHIFT).ok()
}

/// A heap allocation that reports failure instead of aborting (`Box::try_new` is unstable):
/// in the kernel it is a kmalloc, so running out of lowmem fails the request cleanly.
fn try_box<T>(v: T) -> Option<Box<T>> {
    const { assert!(core::mem::size_of::<T>() != 0) };
    #[cfg(test)]
    {
        if tests::alloc_should_fail() {
            return None;
        }
    }
    let layout = core::alloc::Layout::new::<T>();
    // SAFETY: `T` is not zero-sized (asserted above), so `alloc` may be called with its
    // layout; a non-null result is valid, aligned memory for one `T`, written once here and
    // owned by the `Box` (which frees it with the same layout through the global allocator).
    unsafe {
        let p = alloc::alloc::alloc(layout).cast::<T>();
        if p.is_null() {
            return None;
        }
        p.write(v);
        Some(Box::from_raw(p))
    }
}

/// Who asked for an area. Linux records the caller's return address and prints it with
/// `%pS`; pivm records a code address (printed through the kernel's symbol table) or, for the
/// board's device mappings, which pivm makes in one loop, the driver's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A code address: printed `function+0xoff/0xsize`.
    Code(usize),
    /// A name, printed as it is.
    Name(&'static str),
}

impl From<&'static str> for Caller {
    fn from(name: &'static str) -> Self {
        Caller::Name(name)
    }
}

/// Prints a code address the way `%pS` does.
pub trait Symbols {
    fn write_symbol(&self, w: &mut dyn fmt::Write, addr: usize) -> fmt::Result;
}

/// No symbol table: `%pS` falls back to the bare address.
pub struct NoSymbols;

impl Symbols for NoSymbols {
    fn write_symbol(&self, w: &mut dyn fmt::Write, addr: usize) -> fmt::Result {
        write!(w, "{addr:#010x}")
    }
}

impl Caller {
    /// `%pS` of the caller.
    pub fn write(&self, w: &mut dyn fmt::Write, syms: &dyn Symbols) -> fmt::Result {
        match *self {
            Caller::Code(addr) => syms.write_symbol(w, addr),
            Caller::Name(name) => w.write_str(name),
        }
    }

    /// A `Display` of `%pS`.
    pub fn display<'a>(&'a self, syms: &'a dyn Symbols) -> impl fmt::Display + 'a {
        struct D<'a>(&'a Caller, &'a dyn Symbols);
        impl fmt::Display for D<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write(f, self.1)
            }
        }
        D(self, syms)
    }
}

/// Where a vmalloc area's `pages[]` array lives (`area->pages`): kmalloc'ed when it fits a
/// page, itself vmalloc'ed otherwise (`__vmalloc_node`, shown as ` vpages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagesArray {
    pub addr: u64,
    pub vmalloced: bool,
}

/// Linux's `struct vm_struct`: what the area is for. The address and size are the owning
/// `vmap_area`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmStruct {
    pub flags: VmFlags,
    pub caller: Caller,
    /// Pages backing the area (`vm->nr_pages`, 0 for an ioremap).
    pub nr_pages: u32,
    /// Physical base of a device mapping (`vm->phys_addr`; 0 prints nothing, as in Linux).
    pub phys_addr: u64,
    /// `vm->pages`, once allocated.
    pub pages: Option<PagesArray>,
    /// pivm's own mark: this area holds the `pages[]` array of the area at this address, so
    /// only that area's `vfree` may free it.
    pub pages_array_of: Option<u64>,
}

/// Linux's `struct vmap_area`: a range of page numbers, in exactly one of the three trees.
#[derive(Debug)]
pub struct VmapArea {
    start: Vpn,
    end: Vpn,
    /// Free tree only: for each alignment class, the largest request the subtree can place.
    fit: [Vpn; ALIGN_CLASSES],
    /// Busy tree only: the area's `vm_struct`.
    vm: Option<Box<VmStruct>>,
}

impl VmapArea {
    const fn range(start: Vpn, end: Vpn) -> Self {
        VmapArea { start, end, fit: [0; ALIGN_CLASSES], vm: None }
    }

    /// First address of the area.
    pub fn va_start(&self) -> u64 {
        vpn_addr(self.start)
    }

    /// One past the last reserved address (after the guard page, if any).
    pub fn va_end(&self) -> u64 {
        vpn_addr(self.end)
    }

    /// Reserved bytes, guard page included (`vm->size`, what vmallocinfo prints).
    pub fn size(&self) -> u64 {
        self.va_end() - self.va_start()
    }

    fn pages(&self) -> u64 {
        (self.end - self.start) as u64
    }

    /// The `vm_struct` of a live area.
    pub fn vm(&self) -> Option<&VmStruct> {
        self.vm.as_deref()
    }

    fn has_guard(&self) -> bool {
        self.vm().is_some_and(|vm| !vm.flags.contains(VmFlags::VM_NO_GUARD))
    }

    /// Usable bytes: the size without the guard page (`get_vm_area_size()`).
    pub fn get_vm_area_size(&self) -> u64 {
        self.size() - if self.has_guard() { PAGE_SIZE } else { 0 }
    }

    /// Whether `addr` lies in the reserved range (guard page included).
    pub fn contains(&self, addr: u64) -> bool {
        (self.va_start()..self.va_end()).contains(&addr)
    }

    /// Pages an allocation aligned for class `k` can take from this block alone.
    fn own_fit(&self, k: usize) -> Vpn {
        self.end.saturating_sub(align_up(self.start, k))
    }
}

impl Item for VmapArea {
    type Summary = [Vpn; ALIGN_CLASSES];
    const NONE: Self::Summary = [0; ALIGN_CLASSES];

    fn key(&self) -> Vpn {
        self.start
    }

    fn summary(&self) -> Self::Summary {
        self.fit
    }

    fn compute(&self, l: Self::Summary, r: Self::Summary) -> Self::Summary {
        // Runs on every node of every path an operation changes: keep it branch-free.
        let mut fit = [0; ALIGN_CLASSES];
        for (k, f) in fit.iter_mut().enumerate() {
            *f = self.own_fit(k).max(l[k]).max(r[k]);
        }
        fit
    }

    fn set_summary(&mut self, s: Self::Summary) {
        self.fit = s;
    }
}

/// A detached tree node holding `[start, end)`, or `NoMemory`.
fn new_node(start: Vpn, end: Vpn, size: u64) -> Result<Box<Node<VmapArea>>, VmapError> {
    try_box(Node::new(VmapArea::range(start, end)))
        .ok_or(VmapError::NoMemory { what: "vmap_area", size })
}

/// Flushes kernel TLB entries: `flush_tlb_kernel_range()`, supplied by the kernel.
pub trait TlbFlush {
    fn flush_tlb_kernel_range(&mut self, start: u64, end: u64);
}

impl<F: FnMut(u64, u64)> TlbFlush for F {
    fn flush_tlb_kernel_range(&mut self, start: u64, end: u64) {
        self(start, end)
    }
}

/// Errors, each reading like the message Linux prints for the same failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmapError {
    /// The range given to `new`/`init` is empty, unaligned or beyond 32-bit page numbers.
    InvalidRange { start: u64, end: u64 },
    /// `alloc_vmap_area` size that is zero or not a whole number of pages.
    InvalidSize { size: u64 },
    /// Alignment that is not a power of two up to `VMAP_MAX_ALIGN`.
    InvalidAlign { align: u64 },
    /// No free range fits, even after purging (`size` includes the guard page).
    NoSpace { size: u64 },
    /// The `vmap_area` or `vm_struct` could not be allocated (Linux: -ENOMEM, no message).
    NoMemory { what: &'static str, size: u64 },
    /// Free of an address that is not page aligned.
    BadAddress(u64),
    /// Free (or update) of an address that starts no live area.
    Nonexistent(u64),
}

impl fmt::Display for VmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::InvalidRange { start, end } => {
                write!(f, "vmalloc: invalid range 0x{start:08x}-0x{end:08x}")
            }
            Self::InvalidSize { size } => {
                write!(f, "vmap allocation for size {size} failed: not a whole number of pages")
            }
            Self::InvalidAlign { align } => write!(
                f,
                "vmap allocation failed: alignment {align:#x} is not a power of two up to \
                 {VMAP_MAX_ALIGN:#x}"
            ),
            Self::NoSpace { size } => write!(
                f,
                "vmap allocation for size {size} failed: use vmalloc=<size> to increase size"
            ),
            Self::NoMemory { what, size } => {
                write!(f, "vmap allocation for size {size} failed: no memory for the {what}")
            }
            Self::BadAddress(addr) => write!(f, "Trying to vfree() bad address ({addr:08x})"),
            Self::Nonexistent(addr) => {
                write!(f, "Trying to vfree() nonexistent vm area ({addr:08x})")
            }
        }
    }
}

/// What one purge did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purge {
    /// Areas freed since the previous purge.
    pub nr_areas: u64,
    /// Merged ranges returned to the free tree (`unpurged vm_area` lines).
    pub nr_ranges: usize,
    /// Their pages, guard pages included.
    pub nr_pages: u64,
    /// The one range flushed: lowest start to highest end.
    pub start: u64,
    pub end: u64,
}

/// Counters since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmapStats {
    /// Purges that found something to purge.
    pub nr_purges: u64,
    /// `flush_tlb_kernel_range` calls made by the allocator (one per purge).
    pub nr_tlb_flushes: u64,
}

/// Where an address that faulted lies, for the oops (16.11: only an area the address is in
/// or right next to is named).
#[derive(Clone, Copy, Debug)]
pub enum FaultSite<'a> {
    /// Not in `[VMALLOC_START, VMALLOC_END)`.
    Outside,
    /// In a live area, below its guard page.
    Inside(&'a VmapArea),
    /// In a live area's guard page.
    GuardPage(&'a VmapArea),
    /// In the page right after a live area.
    PastEnd(&'a VmapArea),
    /// In the page right before a live area.
    Before(&'a VmapArea),
    /// In a lazily freed range not yet purged.
    Unpurged { start: u64, end: u64 },
    /// In the range but near no area.
    Unused,
}

/// The first broken invariant `verify` found: where (`vmap` for the range as a whole, or one
/// of its trees), what, and the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmapVerifyError {
    pub subsystem: &'static str,
    pub what: &'static str,
    pub at: u64,
}

impl fmt::Display for VmapVerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {:#010x}", self.subsystem, self.what, self.at)
    }
}

/// The allocator for one range (see the module doc).
pub struct VmapAllocator {
    /// The managed range in page numbers.
    vstart: Vpn,
    vend: Vpn,
    busy: Tree<VmapArea>,
    purge: Tree<VmapArea>,
    free: Tree<VmapArea>,
    /// Pages of lazily freed ranges, guard pages included (`vmap_lazy_nr`).
    vmap_lazy_nr: u64,
    lazy_max_pages: u64,
    /// Areas freed since the last purge (before merging).
    nr_lazy_areas: u64,
    /// Pages of live areas, guard pages included.
    used_pages: u64,
    /// `nr_vmalloc_pages`: pages backing live areas.
    nr_vmalloc_pages: u64,
    stats: VmapStats,
}

impl VmapAllocator {
    /// An allocator with an empty range; `init` gives it one. `const`, for a static.
    pub const fn empty() -> Self {
        Self {
            vstart: 0,
            vend: 0,
            busy: Tree::new(false),
            purge: Tree::new(false),
            free: Tree::new(true),
            vmap_lazy_nr: 0,
            lazy_max_pages: 0,
            nr_lazy_areas: 0,
            used_pages: 0,
            nr_vmalloc_pages: 0,
            stats: VmapStats { nr_purges: 0, nr_tlb_flushes: 0 },
        }
    }

    /// An allocator for `[vstart, vend)` purging once more than `lazy_max_pages` pages are
    /// lazily freed (0: at every free).
    pub fn new(vstart: u64, vend: u64, lazy_max_pages: u64) -> Result<Self, VmapError> {
        let mut v = Self::empty();
        v.init(vstart, vend, lazy_max_pages)?;
        Ok(v)
    }

    /// Forgets everything and manages `[vstart, vend)`, which must be page aligned, non-empty
    /// and end where page numbers leave room to align (`MAX_VPN`: 512 KiB below the top of a
    /// 64-bit address space, or of 2^44 on a 32-bit host).
    pub fn init(&mut self, vstart: u64, vend: u64, lazy_max_pages: u64) -> Result<(), VmapError> {
        let bad = VmapError::InvalidRange { start: vstart, end: vend };
        if vstart >= vend || !vstart.is_multiple_of(PAGE_SIZE) || !vend.is_multiple_of(PAGE_SIZE) {
            return Err(bad);
        }
        let (Some(s), Some(e)) = (addr_vpn(vstart), addr_vpn(vend)) else {
            return Err(bad);
        };
        if e > MAX_VPN {
            return Err(bad);
        }
        let node = new_node(s, e, vend - vstart)?;
        *self = Self::empty();
        self.vstart = s;
        self.vend = e;
        self.lazy_max_pages = lazy_max_pages;
        self.free.insert(node);
        Ok(())
    }

    /// Sets the purge threshold (the `pivm.lazy_vfree=` boot parameter); takes effect at the
    /// next free.
    pub fn set_lazy_max_pages(&mut self, pages: u64) {
        self.lazy_max_pages = pages;
    }

    pub fn lazy_max_pages(&self) -> u64 {
        self.lazy_max_pages
    }

    /// `__get_vm_area_node()`: allocates the `vm_struct` and reserves room for `size` bytes
    /// (rounded up to pages) plus a guard page unless `VM_NO_GUARD`, aligned as Linux aligns
    /// the flags' kind (`ioremap_align` for `VM_IOREMAP`, a page otherwise). Returns the
    /// area's start. A purge it needs is flushed through `tlb`.
    pub fn get_vm_area(
        &mut self,
        size: u64,
        flags: VmFlags,
        caller: Caller,
        tlb: &mut impl TlbFlush,
    ) -> Result<u64, VmapError> {
        self.get_vm_area_node(size, PAGE_SIZE, flags, caller, tlb)
    }

    /// `__get_vm_area_node()` with the caller's alignment `align` (a power of two up to
    /// `VMAP_MAX_ALIGN`; `VM_IOREMAP` overrides it with `ioremap_align`), as
    /// `__vmalloc_node_range` passes `THREAD_ALIGN` for a `CONFIG_VMAP_STACK` kernel stack.
    pub fn get_vm_area_node(
        &mut self,
        size: u64,
        align: u64,
        flags: VmFlags,
        caller: Caller,
        tlb: &mut impl TlbFlush,
    ) -> Result<u64, VmapError> {
        let size = match page_align(size) {
            Some(0) => return Err(VmapError::InvalidSize { size: 0 }),
            Some(s) => s,
            None => return Err(VmapError::NoSpace { size }),
        };
        let align = if flags.contains(VmFlags::VM_IOREMAP) { ioremap_align(size) } else { align };
        let vm = VmStruct {
            flags,
            caller,
            nr_pages: 0,
            phys_addr: 0,
            pages: None,
            pages_array_of: None,
        };
        let vm = try_box(vm).ok_or(VmapError::NoMemory { what: "vm_struct", size })?;
        let guard = if flags.contains(VmFlags::VM_NO_GUARD) { 0 } else { PAGE_SIZE };
        let Some(size) = size.checked_add(guard) else {
            return Err(VmapError::NoSpace { size: u64::MAX });
        };
        let addr = self.alloc_vmap_area(size, align, tlb)?;
        self.busy.update(self.vpn(addr), |va| va.vm = Some(vm));
        Ok(addr)
    }

    fn vpn(&self, addr: u64) -> Vpn {
        addr_vpn(addr).unwrap_or(Vpn::MAX)
    }

    /// `alloc_vmap_area()`: reserves exactly `size` bytes (guard included, whole pages) at the
    /// lowest address aligned to `align`, as a busy area without a `vm_struct` yet. With no
    /// room it purges the lazily freed ranges and retries once before failing.
    fn alloc_vmap_area(
        &mut self,
        size: u64,
        align: u64,
        tlb: &mut impl TlbFlush,
    ) -> Result<u64, VmapError> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) {
            return Err(VmapError::InvalidSize { size });
        }
        let k = align_class(align).ok_or(VmapError::InvalidAlign { align })?;
        let pages = size >> PAGE_SHIFT;
        // The area's node first, as Linux allocates its va before taking the lock.
        let node = new_node(0, 0, size)?;
        let mut spare = None;
        let mut purged = false;
        loop {
            let found = self
                .free
                .lowest_match(|fit| fit[k] as u64 >= pages, |b| b.own_fit(k) as u64 >= pages)
                .map(|b| (b.start, b.end));
            if let Some((start, end)) = found {
                let a = align_up(start, k);
                // The search guarantees a + pages <= end, so this fits in a page number.
                let a_end = a + pages as Vpn;
                if a != start && a_end != end && spare.is_none() {
                    // Linux's NE_FIT_TYPE needs a second node (`ne_fit_preload_node`).
                    spare = Some(new_node(a_end, end, size)?);
                }
                self.adjust_va_to_fit(start, end, a, a_end, spare.take());
                let mut node = node;
                node.val.start = a;
                node.val.end = a_end;
                self.busy.insert(node);
                self.used_pages += pages;
                return Ok(vpn_addr(a));
            }
            if purged || self.purge.is_empty() {
                return Err(VmapError::NoSpace { size });
            }
            self.purge_vmap_area_lazy(tlb);
            purged = true;
        }
    }

    /// `adjust_va_to_fit_type()`: carves `[a, a_end)` out of free block `[start, end)`,
    /// removing it, shrinking it from either end, or splitting it with `spare`.
    fn adjust_va_to_fit(
        &mut self,
        start: Vpn,
        end: Vpn,
        a: Vpn,
        a_end: Vpn,
        spare: Option<Box<Node<VmapArea>>>,
    ) {
        match (a == start, a_end == end) {
            (true, true) => {
                self.free.remove(start);
            }
            (true, false) => {
                self.free.update(start, |b| b.start = a_end);
            }
            (false, true) => {
                self.free.update(start, |b| b.end = a);
            }
            (false, false) => {
                self.free.update(start, |b| b.end = a);
                if let Some(mut n) = spare {
                    n.val = VmapArea::range(a_end, end);
                    self.free.insert(n);
                }
            }
        }
    }

    /// `remove_vm_area()`, as `vfree`/`iounmap` use it once the kernel has cleared the
    /// area's PTEs (without a flush): the live area starting at `addr` leaves the busy tree
    /// for the purge tree (`free_vmap_area_noflush`), purged at once past the threshold, and
    /// its `vm_struct` is handed back for the kernel to free the pages it lists. Bad addresses
    /// change nothing. Unlike Linux, an address inside an area (rather than its start) is
    /// refused too.
    pub fn remove_vm_area(
        &mut self,
        addr: u64,
        tlb: &mut impl TlbFlush,
    ) -> Result<Box<VmStruct>, VmapError> {
        let vpn = self.live_area_at(addr)?.start;
        let Some(mut node) = self.busy.remove(vpn) else {
            return Err(VmapError::Nonexistent(addr));
        };
        let vm = node.val.vm.take().ok_or(VmapError::Nonexistent(addr))?;
        self.used_pages -= node.val.pages();
        self.nr_vmalloc_pages -= vm.nr_pages as u64;
        self.free_vmap_area_noflush(node, tlb);
        Ok(vm)
    }

    /// Queues a range for the lazy purge, purging everything once past the threshold.
    fn free_vmap_area_noflush(&mut self, node: Box<Node<VmapArea>>, tlb: &mut impl TlbFlush) {
        self.vmap_lazy_nr += node.val.pages();
        self.nr_lazy_areas += 1;
        Self::merge_or_add_vmap_area(&mut self.purge, node);
        if self.vmap_lazy_nr > self.lazy_max_pages {
            self.purge_vmap_area_lazy(tlb);
        }
    }

    /// `__purge_vmap_area_lazy()`: one TLB flush over the whole purged span, then every lazily
    /// freed range goes back to the free tree (merging neighbours). `None` (and no flush) when
    /// nothing waits.
    pub fn purge_vmap_area_lazy(&mut self, tlb: &mut impl TlbFlush) -> Option<Purge> {
        let (start, end) = (self.purge.first()?.start, self.purge.last()?.end);
        tlb.flush_tlb_kernel_range(vpn_addr(start), vpn_addr(end));
        self.stats.nr_tlb_flushes += 1;
        self.stats.nr_purges += 1;
        let p = Purge {
            nr_areas: self.nr_lazy_areas,
            nr_ranges: self.purge.len(),
            nr_pages: self.vmap_lazy_nr,
            start: vpn_addr(start),
            end: vpn_addr(end),
        };
        while let Some(node) = self.purge.pop_first() {
            Self::merge_or_add_vmap_area(&mut self.free, node);
        }
        self.vmap_lazy_nr = 0;
        self.nr_lazy_areas = 0;
        Some(p)
    }

    /// `merge_or_add_vmap_area()`: puts a range into `tree`, merged with the ranges right
    /// before and after it (a merged node is freed, as Linux frees the merged `vmap_area`).
    fn merge_or_add_vmap_area(tree: &mut Tree<VmapArea>, node: Box<Node<VmapArea>>) {
        let (start, end) = (node.val.start, node.val.end);
        let prev = tree.floor(start).filter(|p| p.end == start).map(|p| p.start);
        let next = tree.ceil(start).filter(|n| n.start == end).map(|n| n.end);
        match (prev, next) {
            (Some(p), Some(next_end)) => {
                tree.remove(end);
                tree.update(p, |b| b.end = next_end);
            }
            (Some(p), None) => {
                tree.update(p, |b| b.end = end);
            }
            (None, Some(_)) => {
                tree.update(end, |b| b.start = start);
            }
            (None, None) => tree.insert(node),
        }
    }

    /// The live area starting exactly at `addr`.
    fn live_area_at(&self, addr: u64) -> Result<&VmapArea, VmapError> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(VmapError::BadAddress(addr));
        }
        addr_vpn(addr).and_then(|vpn| self.busy.get(vpn)).ok_or(VmapError::Nonexistent(addr))
    }

    /// `find_vm_area()` with pivm's rule: the live area starting exactly at `addr`.
    pub fn find_vm_area(&self, addr: u64) -> Option<&VmapArea> {
        self.live_area_at(addr).ok()
    }

    /// `find_vmap_area()`: the live area whose range (guard page included) holds `addr`.
    pub fn find_vmap_area(&self, addr: u64) -> Option<&VmapArea> {
        let vpn = addr_vpn(addr)?;
        self.busy.floor(vpn).filter(|a| vpn < a.end)
    }

    /// Changes the `vm_struct` of the live area starting at `addr` (fields that are not
    /// counted: flags, pages array, physical address).
    pub fn update_vm<R>(
        &mut self,
        addr: u64,
        f: impl FnOnce(&mut VmStruct) -> R,
    ) -> Result<R, VmapError> {
        let vpn = self.live_area_at(addr)?.start;
        self.busy
            .update(vpn, |va| va.vm.as_deref_mut().map(f))
            .flatten()
            .ok_or(VmapError::Nonexistent(addr))
    }

    /// Records the pages backing the live area at `addr` (`vm->nr_pages`), which
    /// `vmalloc_nr_pages()` counts.
    pub fn set_nr_pages(&mut self, addr: u64, nr_pages: u32) -> Result<(), VmapError> {
        let old = self.update_vm(addr, |vm| core::mem::replace(&mut vm.nr_pages, nr_pages))?;
        self.nr_vmalloc_pages = self.nr_vmalloc_pages - old as u64 + nr_pages as u64;
        Ok(())
    }

    /// `clear_vm_uninitialized_flag()`: the area is fully set up.
    pub fn clear_vm_uninitialized_flag(&mut self, addr: u64) -> Result<(), VmapError> {
        self.update_vm(addr, |vm| vm.flags.remove(VmFlags::VM_UNINITIALIZED))
    }

    /// Where `addr` lies, for the oops: an area is named only when `addr` is in it, in its
    /// guard page, or in the page right before or after it.
    pub fn fault_site(&self, addr: u64) -> FaultSite<'_> {
        if addr < self.vstart() || addr >= self.vend() {
            return FaultSite::Outside;
        }
        let Some(vpn) = addr_vpn(addr) else { return FaultSite::Outside };
        let below = self.busy.floor(vpn);
        if let Some(a) = below.filter(|a| vpn < a.end) {
            return if a.has_guard() && vpn == a.end - 1 {
                FaultSite::GuardPage(a)
            } else {
                FaultSite::Inside(a)
            };
        }
        if let Some(r) = self.purge.floor(vpn).filter(|r| vpn < r.end) {
            return FaultSite::Unpurged { start: r.va_start(), end: r.va_end() };
        }
        if let Some(a) = below.filter(|a| a.end == vpn) {
            return FaultSite::PastEnd(a);
        }
        match self.busy.ceil(vpn).filter(|a| a.start == vpn + 1) {
            Some(a) => FaultSite::Before(a),
            None => FaultSite::Unused,
        }
    }

    /// Live areas, by address (`vmap_area_list`).
    pub fn areas(&self) -> impl Iterator<Item = &VmapArea> + '_ {
        self.busy.iter()
    }

    /// Lazily freed ranges, merged, by address (`purge_vmap_area_list`).
    pub fn unpurged(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.purge.iter().map(|r| (r.va_start(), r.va_end()))
    }

    /// First managed address (VMALLOC_START).
    pub fn vstart(&self) -> u64 {
        vpn_addr(self.vstart)
    }

    /// End of the managed range (VMALLOC_END).
    pub fn vend(&self) -> u64 {
        vpn_addr(self.vend)
    }

    /// `VmallocTotal`: the range's size.
    pub fn total_bytes(&self) -> u64 {
        self.vend() - self.vstart()
    }

    /// `vmalloc_nr_pages()`: pages backing vmalloc areas (6.1's `VmallocUsed`).
    pub fn vmalloc_nr_pages(&self) -> u64 {
        self.nr_vmalloc_pages
    }

    /// Pre-4.4 `VmallocUsed`: bytes of live areas, guard pages and ioremaps included,
    /// lazily freed ranges excluded.
    pub fn used_bytes(&self) -> u64 {
        self.used_pages << PAGE_SHIFT
    }

    /// `vmap_lazy_nr`: pages waiting for the purge.
    pub fn vmap_lazy_nr(&self) -> u64 {
        self.vmap_lazy_nr
    }

    /// The largest free block right now (lazily freed ranges not counted): the largest
    /// page-aligned allocation that succeeds without a purge. O(1).
    pub fn largest_free_block(&self) -> u64 {
        vpn_addr(self.free.root_summary()[0])
    }

    /// 3.10–4.3 `VmallocChunk`: the largest gap between live areas, lazily freed ranges
    /// counted as free (what an allocation can get after the purge it would trigger). O(n),
    /// like Linux's walk; it is only read for /proc/meminfo.
    pub fn largest_free_gap(&self) -> u64 {
        let (mut prev_end, mut chunk) = (self.vstart, 0);
        for a in self.busy.iter() {
            chunk = chunk.max(a.start - prev_end);
            prev_end = a.end;
        }
        vpn_addr(chunk.max(self.vend - prev_end))
    }

    /// Live areas.
    pub fn nr_areas(&self) -> usize {
        self.busy.len()
    }

    /// Areas freed since the last purge.
    pub fn nr_lazily_freed(&self) -> u64 {
        self.nr_lazy_areas
    }

    /// Merged lazily freed ranges (`unpurged vm_area` lines).
    pub fn nr_unpurged_ranges(&self) -> usize {
        self.purge.len()
    }

    /// Free blocks in the free tree (a fragmentation measure).
    pub fn nr_free_blocks(&self) -> usize {
        self.free.len()
    }

    pub fn stats(&self) -> VmapStats {
        self.stats
    }

    /// Checks every invariant and returns the first broken one: each tree's shape, order
    /// and summaries; busy, lazily freed and free ranges tiling the range exactly; free and
    /// lazily freed ranges merged with their neighbours; `vm_struct`s only on live areas;
    /// the counters; the purge threshold.
    pub fn verify(&self) -> Result<(), VmapVerifyError> {
        let tree = |subsystem: &'static str, t: &Tree<VmapArea>| {
            t.verify().map_err(|TreeError { what, key }| VmapVerifyError {
                subsystem,
                what,
                at: vpn_addr(key),
            })
        };
        tree("vmap busy tree", &self.busy)?;
        tree("vmap purge tree", &self.purge)?;
        tree("vmap free tree", &self.free)?;
        let err = |what, at| Err(VmapVerifyError { subsystem: "vmap", what, at: vpn_addr(at) });
        #[derive(PartialEq, Clone, Copy)]
        enum Kind {
            Busy,
            Lazy,
            Free,
        }
        let (mut b, mut l, mut f) = (
            self.busy.iter().peekable(),
            self.purge.iter().peekable(),
            self.free.iter().peekable(),
        );
        let (mut at, mut prev) = (self.vstart, None);
        let (mut used, mut lazy, mut vmalloc_pages) = (0u64, 0u64, 0u64);
        loop {
            let next = [
                b.peek().map(|a| (a.start, Kind::Busy)),
                l.peek().map(|a| (a.start, Kind::Lazy)),
                f.peek().map(|a| (a.start, Kind::Free)),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|&(s, _)| s);
            let Some((_, kind)) = next else { break };
            let a = match kind {
                Kind::Busy => b.next(),
                Kind::Lazy => l.next(),
                Kind::Free => f.next(),
            };
            let Some(a) = a else { break };
            if a.start != at || a.start >= a.end {
                return err("ranges do not tile the vmalloc range", at);
            }
            if kind != Kind::Busy && prev == Some(kind) {
                return err("unmerged neighbouring ranges", a.start);
            }
            match (kind, a.vm()) {
                (Kind::Busy, Some(vm)) => {
                    used += a.pages();
                    vmalloc_pages += vm.nr_pages as u64;
                    if vm.nr_pages as u64 > a.pages() {
                        return err("more pages than the area holds", a.start);
                    }
                }
                (Kind::Busy, None) => return err("live area without a vm_struct", a.start),
                (Kind::Lazy, None) => lazy += a.pages(),
                (_, Some(_)) => return err("vm_struct on a free range", a.start),
                (Kind::Free, None) => {}
            }
            prev = Some(kind);
            at = a.end;
        }
        if at != self.vend {
            return err("ranges do not reach VMALLOC_END", at);
        }
        if used != self.used_pages {
            return err("used page count differs from the live areas", self.vstart);
        }
        if lazy != self.vmap_lazy_nr {
            return err("vmap_lazy_nr differs from the lazily freed ranges", self.vstart);
        }
        if vmalloc_pages != self.nr_vmalloc_pages {
            return err("nr_vmalloc_pages differs from the areas' nr_pages", self.vstart);
        }
        if self.vmap_lazy_nr > self.lazy_max_pages {
            return err("lazily freed pages above lazy_max_pages", self.vstart);
        }
        if (self.nr_lazy_areas == 0) != self.purge.is_empty() {
            return err("lazily freed area count disagrees with the purge tree", self.vstart);
        }
        Ok(())
    }
}
