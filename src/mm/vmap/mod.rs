//! The vmalloc range's address allocator: Linux's `vmap_area` machinery (mm/vmalloc.c, 5.2+
//! shape) with fixed capacity and no heap. It hands out page-granular ranges of
//! `[VMALLOC_START, VMALLOC_END)` lowest-address first fit, keeps the guard page after each
//! area, frees lazily and purges in batches, and snapshots itself for /proc/vmallocinfo. It
//! only does the bookkeeping: the kernel maps pages, unmaps them and flushes the TLB.
//!
//! # Structure
//! Two AVL trees over fixed arenas (`avl`), both keyed by virtual page number:
//! * the busy tree (Linux's `vmap_area_root`): every reserved area, live or lazily freed, so
//!   `find` and `find_nearest_below` are one O(log n) descent;
//! * the free tree (Linux's `free_vmap_area_root`): maximal free blocks, each subtree
//!   augmented with, for every alignment pivm allows (`PAGE_SIZE << k`, k = 0..=7, up to
//!   `1 << IOREMAP_MAX_ORDER`), the largest request that alignment could place in it. Linux
//!   augments with the largest block size only and searches with `size + align - 1`, which can
//!   miss a block where an aligned request fits exactly; one maximum per alignment makes
//!   `find_vmap_lowest_match` exact and a single descent: go left while the left subtree can
//!   take the request, else take this block if it can, else go right.
//!
//! Insert, remove and lowest fit are O(log n) worst case (AVL height <= 1.44 log2 n).
//! Neighbouring free blocks merge when a range returns (`merge_or_add_vmap_area`). Recursion
//! depth is the tree height (about 18 for 4096 nodes).
//!
//! # Lazy freeing
//! `remove_vm_area` (what `vfree`/`iounmap` call) marks the area lazily freed: its range
//! stays reserved, shown as `unpurged vm_area`, and its pages (guard included) count toward
//! `vmap_lazy_nr`. When that exceeds `lazy_max_pages` (0: on every free) every lazily freed
//! range returns to the free tree at once. An allocation that finds no room (or no free
//! `vmap_area` slot) purges and retries once, as `alloc_vmap_area` does. Purged ranges
//! accumulate until the kernel collects them with `take_purged` and flushes the TLB for
//! them, which it must do before it maps anything at an address returned after the purge.
//!
//! # Memory
//! `VmapAllocator<N>` holds `N - 2` areas in two arenas of `N` slots (slot 0 of each is a
//! sentinel; `N - 1` free-block slots cover the at most `areas + 1` gaps) plus one purge-list
//! entry per slot. Per slot on ARMv7: 56 bytes busy node, 48 bytes free node (eight 32-bit
//! maxima), 2 bytes lazy link, 8 bytes purge entry: 114 bytes, so `Vmap` (4096 areas) takes
//! 467,264 bytes (456 KiB). It is all zero bytes when empty and `empty()` is `const`, so a
//! `static Mutex<Vmap>` lands in .bss and costs nothing in the image.

mod avl;
#[cfg(test)]
mod tests;
mod verify;

use core::fmt;

use self::avl::{Idx, Item, Tree, NIL};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};
use crate::proc::snapshot::{VmFlags, VmallocArea};
use crate::sizes::SZ_32M;

/// Largest ioremap alignment order on SMP ARM (the generic `7 + PAGE_SHIFT`: 512 KiB).
pub const IOREMAP_MAX_ORDER: u32 = 7 + PAGE_SHIFT;
/// Largest alignment `alloc_vmap_area` accepts: what an ioremap can ask for.
pub const VMAP_MAX_ALIGN: u64 = 1 << IOREMAP_MAX_ORDER;
/// One free-tree maximum per alignment `PAGE_SIZE << k`, k = 0..ALIGN_CLASSES.
const ALIGN_CLASSES: usize = (IOREMAP_MAX_ORDER - PAGE_SHIFT + 1) as usize;
/// Areas pivm's kernel allocator holds (live plus lazily freed).
pub const VMAP_AREAS_MAX: usize = 4096;
/// Arena slots for `VMAP_AREAS_MAX` areas (two sentinels' worth more, see the module doc).
pub const VMAP_ARENA_SLOTS: usize = VMAP_AREAS_MAX + 2;
/// The kernel's allocator.
pub type Vmap = VmapAllocator<VMAP_ARENA_SLOTS>;
// Keep the documented memory cost honest on the 32-bit target.
#[cfg(target_pointer_width = "32")]
const _: () = assert!(core::mem::size_of::<Vmap>() <= 115 * VMAP_ARENA_SLOTS);
/// `lazy_max_pages()` allows this much lazily freed space per bit of `fls(num_online_cpus())`.
const LAZY_MAX_BYTES_PER_CPU_ORDER: u64 = SZ_32M;

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

/// Highest page number a range may end at: aligning any page below it up to the largest
/// alignment cannot overflow a `u32`.
const MAX_VPN: u32 = u32::MAX - (1 << (ALIGN_CLASSES - 1));

/// First page at or above `vpn` aligned for class `k` (`vpn < MAX_VPN`, so no overflow).
fn align_up(vpn: u32, k: usize) -> u32 {
    let mask = (1u32 << k) - 1;
    vpn.saturating_add(mask) & !mask
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
    /// Every `vmap_area` slot is taken, even after purging.
    OutOfAreas { size: u64, capacity: usize },
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
            Self::OutOfAreas { size, capacity } => write!(
                f,
                "vmap allocation for size {size} failed: all {capacity} vmap_area slots in use"
            ),
            Self::BadAddress(addr) => write!(f, "Trying to vfree() bad address ({addr:08x})"),
            Self::Nonexistent(addr) => {
                write!(f, "Trying to vfree() nonexistent vm area ({addr:08x})")
            }
        }
    }
}

/// Whether a reserved area is in use or waiting for the next lazy purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmapState {
    Busy,
    /// Freed; the range stays reserved (`unpurged vm_area`) until the next purge.
    LazilyFreed,
}

/// One reserved area: Linux's `vmap_area` with its `vm_struct` folded in. Addresses are
/// kept as page numbers; the accessors give bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmapArea {
    start: u32,
    end: u32,
    flags: VmFlags,
    /// `None` rather than "" keeps an empty arena all zero bytes.
    caller: Option<&'static str>,
    nr_pages: u32,
    phys_addr: Option<u64>,
    state: VmapState,
}

impl VmapArea {
    /// First address of the area.
    pub fn va_start(&self) -> u64 {
        (self.start as u64) << PAGE_SHIFT
    }

    /// One past the last reserved address (after the guard page, if any).
    pub fn va_end(&self) -> u64 {
        (self.end as u64) << PAGE_SHIFT
    }

    /// Reserved bytes, guard page included (`vm->size`, what vmallocinfo prints).
    pub fn size(&self) -> u64 {
        self.va_end() - self.va_start()
    }

    /// Usable bytes: the size without the guard page (`get_vm_area_size()`).
    pub fn get_vm_area_size(&self) -> u64 {
        if self.flags.contains(VmFlags::VM_NO_GUARD) {
            self.size()
        } else {
            self.size().saturating_sub(PAGE_SIZE)
        }
    }

    /// The unmapped page after the area, where an overrun faults.
    pub fn guard_page(&self) -> Option<u64> {
        (!self.flags.contains(VmFlags::VM_NO_GUARD))
            .then(|| self.va_end().saturating_sub(PAGE_SIZE))
    }

    /// Whether `addr` lies in the reserved range (guard page included).
    pub fn contains(&self, addr: u64) -> bool {
        (self.va_start()..self.va_end()).contains(&addr)
    }

    pub fn flags(&self) -> VmFlags {
        self.flags
    }

    /// Who asked for the area, as given to `alloc_vmap_area` ("" if nobody said).
    pub fn caller(&self) -> &'static str {
        self.caller.unwrap_or("")
    }

    /// Pages backing the area (`vm->nr_pages`), as recorded by `set_nr_pages`.
    pub fn nr_pages(&self) -> u32 {
        self.nr_pages
    }

    /// Physical base of a device mapping (`vm->phys_addr`).
    pub fn phys_addr(&self) -> Option<u64> {
        self.phys_addr
    }

    pub fn state(&self) -> VmapState {
        self.state
    }

    /// The /proc/vmallocinfo view of the area.
    pub fn to_vmalloc_area(&self) -> VmallocArea {
        VmallocArea {
            start: self.va_start(),
            end: self.va_end(),
            size: self.size(),
            caller: self.caller(),
            nr_pages: self.nr_pages,
            phys_addr: self.phys_addr,
            flags: self.flags,
            lazily_freed: self.state == VmapState::LazilyFreed,
        }
    }
}

impl Item for VmapArea {
    type Summary = ();

    const EMPTY: Self = VmapArea {
        start: 0,
        end: 0,
        flags: VmFlags::empty(),
        caller: None,
        nr_pages: 0,
        phys_addr: None,
        state: VmapState::Busy,
    };

    fn key(&self) -> u32 {
        self.start
    }

    fn summary(&self) {}

    fn pull(&mut self, _: (), _: ()) {}
}

/// A free block `[start, end)` (page numbers) and, for its subtree, the largest request each
/// alignment class can place (`fit[0]` is the largest block: Linux's `subtree_max_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FreeBlock {
    start: u32,
    end: u32,
    fit: [u32; ALIGN_CLASSES],
}

impl FreeBlock {
    fn new(start: u32, end: u32) -> Self {
        let mut b = FreeBlock { start, end, fit: [0; ALIGN_CLASSES] };
        b.pull([0; ALIGN_CLASSES], [0; ALIGN_CLASSES]);
        b
    }

    /// Pages an allocation aligned for class `k` can take from this block alone.
    fn own_fit(&self, k: usize) -> u32 {
        self.end.saturating_sub(align_up(self.start, k))
    }
}

impl Item for FreeBlock {
    type Summary = [u32; ALIGN_CLASSES];

    const EMPTY: Self = FreeBlock { start: 0, end: 0, fit: [0; ALIGN_CLASSES] };

    fn key(&self) -> u32 {
        self.start
    }

    fn summary(&self) -> [u32; ALIGN_CLASSES] {
        self.fit
    }

    fn pull(&mut self, l: [u32; ALIGN_CLASSES], r: [u32; ALIGN_CLASSES]) {
        // Runs on every node of every path an operation changes: keep it branch-free.
        for k in 0..ALIGN_CLASSES {
            self.fit[k] = self.own_fit(k).max(l[k]).max(r[k]);
        }
    }
}

/// The union of the ranges purged since the kernel last collected them: what it must flush
/// from the TLB (Linux flushes `[start, end)` in one `flush_tlb_kernel_range`).
#[derive(Clone, Copy, Debug)]
pub struct Purged<'a> {
    /// Areas returned to the free tree.
    pub nr_areas: usize,
    /// Their pages, guard pages included.
    pub nr_pages: u64,
    /// Lowest start and highest end among them.
    pub start: u64,
    pub end: u64,
    ranges: &'a [(u32, u32)],
}

impl Purged<'_> {
    /// Each purged `[start, end)`, in purge order. If more ranges were purged than the
    /// allocator has slots before they were collected, the last entry is widened to cover
    /// the excess: flushing every listed range always covers every purged one.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|&(s, e)| ((s as u64) << PAGE_SHIFT, (e as u64) << PAGE_SHIFT))
    }
}

/// The allocator for one range, holding up to `N - 2` areas (see the module doc).
pub struct VmapAllocator<const N: usize> {
    /// The managed range in page numbers.
    vstart: u32,
    vend: u32,
    busy: Tree<VmapArea, N>,
    free: Tree<FreeBlock, N>,
    /// Lazily freed busy slots, chained (Linux's `purge_vmap_area_list`).
    lazy_next: [Idx; N],
    lazy_head: Idx,
    nr_lazy_areas: usize,
    /// Pages of lazily freed areas, guard pages included.
    vmap_lazy_nr: u64,
    lazy_max_pages: u64,
    /// Pages of live areas, guard pages included.
    used_pages: u64,
    /// Ranges purged and not yet collected by `take_purged`.
    purge_list: [(u32, u32); N],
    nr_purge_list: usize,
    purged_areas: usize,
    purged_pages: u64,
    purged_span: (u32, u32),
}

impl<const N: usize> VmapAllocator<N> {
    /// Areas the allocator can hold.
    pub const CAPACITY: usize = N - 2;

    /// An allocator with an empty range; `init` gives it one. `const`, so a kernel static
    /// needs no stack copy of this large value.
    pub const fn empty() -> Self {
        const { assert!(N >= 3, "need room for at least one area") };
        Self {
            vstart: 0,
            vend: 0,
            busy: Tree::new(),
            free: Tree::new(),
            lazy_next: [NIL; N],
            lazy_head: NIL,
            nr_lazy_areas: 0,
            vmap_lazy_nr: 0,
            lazy_max_pages: 0,
            used_pages: 0,
            purge_list: [(0, 0); N],
            nr_purge_list: 0,
            purged_areas: 0,
            purged_pages: 0,
            purged_span: (0, 0),
        }
    }

    /// An allocator for `[vstart, vend)` purging once more than `lazy_max_pages` pages are
    /// lazily freed (0: free immediately). Builds the value on the stack: use `empty` +
    /// `init` for a static.
    pub fn new(vstart: u64, vend: u64, lazy_max_pages: u64) -> Result<Self, VmapError> {
        let mut v = Self::empty();
        v.init(vstart, vend, lazy_max_pages)?;
        Ok(v)
    }

    /// Forgets everything and manages `[vstart, vend)`, which must be page aligned, non-empty
    /// and end below 2^44 - 512 KiB (32-bit page numbers, room to align).
    pub fn init(&mut self, vstart: u64, vend: u64, lazy_max_pages: u64) -> Result<(), VmapError> {
        let bad = VmapError::InvalidRange { start: vstart, end: vend };
        if vstart >= vend || !vstart.is_multiple_of(PAGE_SIZE) || !vend.is_multiple_of(PAGE_SIZE) {
            return Err(bad);
        }
        let (Ok(s), Ok(e)) =
            (u32::try_from(vstart >> PAGE_SHIFT), u32::try_from(vend >> PAGE_SHIFT))
        else {
            return Err(bad);
        };
        if e > MAX_VPN {
            return Err(bad);
        }
        // Field by field: the value is too large to build on a kernel stack.
        self.vstart = s;
        self.vend = e;
        self.lazy_max_pages = lazy_max_pages;
        self.busy.clear();
        self.free.clear();
        self.lazy_head = NIL;
        self.nr_lazy_areas = 0;
        self.vmap_lazy_nr = 0;
        self.used_pages = 0;
        self.nr_purge_list = 0;
        self.purged_areas = 0;
        self.purged_pages = 0;
        self.purged_span = (0, 0);
        // An empty tree always has room for one block.
        let root = self.free.insert(FreeBlock::new(s, e));
        debug_assert!(root.is_some());
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

    /// `__get_vm_area_node()`: reserves room for `size` bytes (rounded up to pages) plus a
    /// guard page unless `VM_NO_GUARD`, aligned as Linux aligns the flags' kind (`ioremap_align`
    /// for `VM_IOREMAP`, a page otherwise). Returns the area's start.
    pub fn get_vm_area(
        &mut self,
        size: u64,
        flags: VmFlags,
        caller: &'static str,
    ) -> Result<u64, VmapError> {
        let size = match page_align(size) {
            Some(0) => return Err(VmapError::InvalidSize { size: 0 }),
            Some(s) => s,
            None => return Err(VmapError::NoSpace { size }),
        };
        let align =
            if flags.contains(VmFlags::VM_IOREMAP) { ioremap_align(size) } else { PAGE_SIZE };
        let guard = if flags.contains(VmFlags::VM_NO_GUARD) { 0 } else { PAGE_SIZE };
        let Some(size) = size.checked_add(guard) else {
            return Err(VmapError::NoSpace { size: u64::MAX });
        };
        self.alloc_vmap_area(size, align, flags, caller)
    }

    /// `alloc_vmap_area()`: reserves exactly `size` bytes (guard included, whole pages) at the
    /// lowest address aligned to `align`. With no room, or no free slot, it purges the lazily
    /// freed areas and retries once before failing.
    pub fn alloc_vmap_area(
        &mut self,
        size: u64,
        align: u64,
        flags: VmFlags,
        caller: &'static str,
    ) -> Result<u64, VmapError> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) {
            return Err(VmapError::InvalidSize { size });
        }
        let k = align_class(align).ok_or(VmapError::InvalidAlign { align })?;
        let pages = size >> PAGE_SHIFT;
        let mut purged = false;
        loop {
            let may_retry = !purged && self.lazy_head != NIL;
            let found = if self.busy.len() >= Self::CAPACITY {
                Err(VmapError::OutOfAreas { size, capacity: Self::CAPACITY })
            } else {
                match self.find_vmap_lowest_match(pages, k) {
                    NIL => Err(VmapError::NoSpace { size }),
                    i => Ok(i),
                }
            };
            match found {
                Ok(i) => {
                    // Carving cannot fail once a fitting block and a busy slot were found.
                    let addr = self.take_from(i, pages, k, flags, caller);
                    return addr.ok_or(VmapError::NoSpace { size });
                }
                Err(e) if !may_retry => return Err(e),
                Err(_) => {
                    self.purge_vmap_area_lazy();
                    purged = true;
                }
            }
        }
    }

    /// `find_vmap_lowest_match()`: the lowest free block that can hold `pages` pages aligned
    /// for class `k`, in one descent thanks to the per-alignment subtree maxima.
    fn find_vmap_lowest_match(&self, pages: u64, k: usize) -> Idx {
        let fits = |i: Idx| self.free.get(i).fit[k] as u64 >= pages;
        let mut t = self.free.root();
        if !fits(t) {
            return NIL;
        }
        while t != NIL {
            let l = self.free.left(t);
            if fits(l) {
                t = l;
            } else if self.free.get(t).own_fit(k) as u64 >= pages {
                return t;
            } else {
                t = self.free.right(t);
            }
        }
        NIL
    }

    /// Carves the area out of free block `i` (Linux's `adjust_va_to_fit_type`: the block is
    /// removed, shrunk from either end, or split in two) and records it as busy.
    fn take_from(
        &mut self,
        i: Idx,
        pages: u64,
        k: usize,
        flags: VmFlags,
        caller: &'static str,
    ) -> Option<u64> {
        let FreeBlock { start, end, .. } = *self.free.get(i);
        // The search guarantees start <= a and a + pages <= end, so both fit in u32.
        let a = align_up(start, k);
        let a_end = u32::try_from(a as u64 + pages).ok()?;
        let area = VmapArea {
            start: a,
            end: a_end,
            flags,
            caller: (!caller.is_empty()).then_some(caller),
            nr_pages: 0,
            phys_addr: None,
            state: VmapState::Busy,
        };
        self.busy.insert(area)?;
        match (a == start, a_end == end) {
            (true, true) => {
                self.free.remove(start);
            }
            (true, false) => {
                self.free.get_mut(i).start = a_end;
                self.free.refresh(a_end);
            }
            (false, true) => {
                self.free.get_mut(i).end = a;
                self.free.refresh(start);
            }
            (false, false) => {
                self.free.get_mut(i).end = a;
                self.free.refresh(start);
                // Free blocks never outnumber areas + 1, which the arena holds.
                let added = self.free.insert(FreeBlock::new(a_end, end));
                debug_assert!(added.is_some(), "free-block arena overflow");
            }
        }
        self.used_pages += pages;
        Some((a as u64) << PAGE_SHIFT)
    }

    /// `remove_vm_area()`, as `vfree`/`iounmap` use it: the live area starting at `addr` is
    /// lazily freed (purged at once past the threshold) and returned so the kernel can unmap
    /// and free its pages. Bad addresses are rejected with nothing changed. Unlike Linux, an
    /// address inside an area (rather than its start) is rejected too.
    pub fn remove_vm_area(&mut self, addr: u64) -> Result<VmapArea, VmapError> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(VmapError::BadAddress(addr));
        }
        let i = self.live_area_at(addr).ok_or(VmapError::Nonexistent(addr))?;
        let area = *self.busy.get(i);
        self.free_vmap_area_noflush(i);
        Ok(area)
    }

    /// Queues busy slot `i` for the lazy purge, purging everything once past the threshold.
    fn free_vmap_area_noflush(&mut self, i: Idx) {
        let a = self.busy.get_mut(i);
        a.state = VmapState::LazilyFreed;
        let pages = (a.end - a.start) as u64;
        self.used_pages -= pages;
        self.vmap_lazy_nr += pages;
        self.lazy_next[i as usize] = self.lazy_head;
        self.lazy_head = i;
        self.nr_lazy_areas += 1;
        if self.vmap_lazy_nr > self.lazy_max_pages {
            self.purge_vmap_area_lazy();
        }
    }

    /// `purge_vmap_area_lazy()`: returns every lazily freed range to the free tree (merging
    /// neighbours) and queues it for `take_purged`. Returns the number of areas purged.
    pub fn purge_vmap_area_lazy(&mut self) -> usize {
        let mut n = 0;
        let mut i = self.lazy_head;
        while i != NIL {
            let next = self.lazy_next[i as usize];
            self.lazy_next[i as usize] = NIL;
            let VmapArea { start, end, .. } = *self.busy.get(i);
            self.busy.remove(start);
            self.merge_or_add_vmap_area(start, end);
            self.note_purged(start, end);
            n += 1;
            i = next;
        }
        self.lazy_head = NIL;
        self.nr_lazy_areas = 0;
        self.vmap_lazy_nr = 0;
        n
    }

    /// `merge_or_add_vmap_area()`: puts `[start, end)` back in the free tree, merged with the
    /// free blocks right before and after it.
    fn merge_or_add_vmap_area(&mut self, start: u32, end: u32) {
        let prev = self.free.floor(start);
        let next = self.free.ceil(start);
        let prev_adj = prev != NIL && self.free.get(prev).end == start;
        let next_adj = next != NIL && self.free.get(next).start == end;
        match (prev_adj, next_adj) {
            (true, true) => {
                let next_end = self.free.get(next).end;
                self.free.remove(end);
                let p = self.free.get_mut(prev);
                p.end = next_end;
                let key = p.start;
                self.free.refresh(key);
            }
            (true, false) => {
                let p = self.free.get_mut(prev);
                p.end = end;
                let key = p.start;
                self.free.refresh(key);
            }
            (false, true) => {
                self.free.get_mut(next).start = start;
                self.free.refresh(start);
            }
            (false, false) => {
                let added = self.free.insert(FreeBlock::new(start, end));
                debug_assert!(added.is_some(), "free-block arena overflow");
            }
        }
    }

    fn note_purged(&mut self, start: u32, end: u32) {
        if self.nr_purge_list < N {
            self.purge_list[self.nr_purge_list] = (start, end);
            self.nr_purge_list += 1;
        } else {
            let last = &mut self.purge_list[N - 1];
            *last = (last.0.min(start), last.1.max(end));
        }
        self.purged_span = if self.purged_areas == 0 {
            (start, end)
        } else {
            (self.purged_span.0.min(start), self.purged_span.1.max(end))
        };
        self.purged_areas += 1;
        self.purged_pages += (end - start) as u64;
    }

    /// Ranges purged since the last call, for the TLB flush the kernel owes them; `None` if
    /// nothing was purged. Call it after every allocation or free, whatever its result.
    pub fn take_purged(&mut self) -> Option<Purged<'_>> {
        if self.purged_areas == 0 {
            return None;
        }
        let p = Purged {
            nr_areas: self.purged_areas,
            nr_pages: self.purged_pages,
            start: (self.purged_span.0 as u64) << PAGE_SHIFT,
            end: (self.purged_span.1 as u64) << PAGE_SHIFT,
            ranges: &self.purge_list[..self.nr_purge_list],
        };
        self.purged_areas = 0;
        self.purged_pages = 0;
        self.nr_purge_list = 0;
        Some(p)
    }

    /// Whether purged ranges wait for `take_purged`.
    pub fn has_purged(&self) -> bool {
        self.purged_areas != 0
    }

    /// Records the pages backing the live area at `addr` (`vm->nr_pages`).
    pub fn set_nr_pages(&mut self, addr: u64, nr_pages: u32) -> Result<(), VmapError> {
        let i = self.live_area_at(addr).ok_or(VmapError::Nonexistent(addr))?;
        self.busy.get_mut(i).nr_pages = nr_pages;
        Ok(())
    }

    /// Records the physical base of the device mapping at `addr` (`vm->phys_addr`).
    pub fn set_phys_addr(&mut self, addr: u64, phys: u64) -> Result<(), VmapError> {
        let i = self.live_area_at(addr).ok_or(VmapError::Nonexistent(addr))?;
        self.busy.get_mut(i).phys_addr = Some(phys);
        Ok(())
    }

    /// `clear_vm_uninitialized_flag()`: the area is fully set up.
    pub fn clear_vm_uninitialized_flag(&mut self, addr: u64) -> Result<(), VmapError> {
        let i = self.live_area_at(addr).ok_or(VmapError::Nonexistent(addr))?;
        self.busy.get_mut(i).flags.remove(VmFlags::VM_UNINITIALIZED);
        Ok(())
    }

    /// The slot of the live area starting exactly at `addr`.
    fn live_area_at(&self, addr: u64) -> Option<Idx> {
        let vpn = u32::try_from(addr >> PAGE_SHIFT).ok()?;
        let i = self.busy.find(vpn);
        (i != NIL && addr.is_multiple_of(PAGE_SIZE) && self.busy.get(i).state == VmapState::Busy)
            .then_some(i)
    }

    /// `find_vmap_area()`: the live area whose range (guard page included) holds `addr`.
    pub fn find(&self, addr: u64) -> Option<&VmapArea> {
        self.find_nearest_below(addr).filter(|a| a.state == VmapState::Busy && a.contains(addr))
    }

    /// The area, live or lazily freed, with the highest start at or below `addr`: the one an
    /// access at `addr` is in or ran past, for the fault handler's report.
    pub fn find_nearest_below(&self, addr: u64) -> Option<&VmapArea> {
        let vpn = u32::try_from(addr >> PAGE_SHIFT).unwrap_or(u32::MAX);
        match self.busy.floor(vpn) {
            NIL => None,
            i => Some(self.busy.get(i)),
        }
    }

    /// Every reserved area, live and lazily freed, by address.
    pub fn iter(&self) -> impl Iterator<Item = &VmapArea> + '_ {
        self.busy.iter().map(|i| self.busy.get(i))
    }

    /// Writes the areas by address into `out` for /proc/vmallocinfo; returns how many were
    /// written (all of them if `out` holds `len()`).
    pub fn snapshot(&self, out: &mut [VmallocArea]) -> usize {
        let mut n = 0;
        for (slot, a) in out.iter_mut().zip(self.iter()) {
            *slot = a.to_vmalloc_area();
            n += 1;
        }
        n
    }

    /// First managed address (VMALLOC_START).
    pub fn vstart(&self) -> u64 {
        (self.vstart as u64) << PAGE_SHIFT
    }

    /// End of the managed range (VMALLOC_END).
    pub fn vend(&self) -> u64 {
        (self.vend as u64) << PAGE_SHIFT
    }

    /// `VmallocTotal`: the range's size.
    pub fn total_bytes(&self) -> u64 {
        self.vend() - self.vstart()
    }

    /// Pre-4.4 `VmallocUsed`: bytes of live areas, guard pages and ioremaps included,
    /// lazily freed areas excluded.
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
        (self.free.get(self.free.root()).fit[0] as u64) << PAGE_SHIFT
    }

    /// 3.10–4.3 `VmallocChunk`: the largest gap between live areas, lazily freed ranges
    /// counted as free (what an allocation can get after the purge it would trigger). O(n),
    /// like Linux's walk; it is only read for /proc/meminfo.
    pub fn largest_free_gap(&self) -> u64 {
        let (mut prev_end, mut chunk) = (self.vstart, 0);
        for a in self.iter().filter(|a| a.state == VmapState::Busy) {
            chunk = chunk.max(a.start - prev_end);
            prev_end = a.end;
        }
        (chunk.max(self.vend - prev_end) as u64) << PAGE_SHIFT
    }

    /// Reserved areas, live and lazily freed.
    pub fn len(&self) -> usize {
        self.busy.len()
    }

    pub fn is_empty(&self) -> bool {
        self.busy.len() == 0
    }

    /// Live areas.
    pub fn nr_areas(&self) -> usize {
        self.busy.len() - self.nr_lazy_areas
    }

    /// Lazily freed areas waiting for the purge.
    pub fn nr_lazily_freed(&self) -> usize {
        self.nr_lazy_areas
    }

    /// Free blocks in the free tree (a fragmentation measure).
    pub fn nr_free_blocks(&self) -> usize {
        self.free.len()
    }

    /// Checks every invariant: tree shapes and summaries, busy and free blocks tiling the
    /// range exactly, free blocks maximal, counters matching (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) -> Result<(), String> {
        self.busy.check()?;
        self.free.check()?;
        let mut segs: Vec<(u32, u32, bool)> = Vec::new();
        let (mut used, mut lazy, mut nr_lazy) = (0u64, 0u64, 0usize);
        for a in self.iter() {
            if a.start >= a.end {
                return Err(format!("empty area at {:#x}", a.va_start()));
            }
            segs.push((a.start, a.end, false));
            match a.state {
                VmapState::Busy => used += (a.end - a.start) as u64,
                VmapState::LazilyFreed => {
                    lazy += (a.end - a.start) as u64;
                    nr_lazy += 1;
                }
            }
        }
        for i in self.free.iter() {
            let b = self.free.get(i);
            segs.push((b.start, b.end, true));
        }
        segs.sort();
        let mut at = self.vstart;
        let mut prev_free = false;
        for &(s, e, is_free) in &segs {
            if s != at || s >= e {
                return Err(format!("range not tiled at page {at:#x}: next {s:#x}-{e:#x}"));
            }
            if is_free && prev_free {
                return Err(format!("unmerged free blocks at page {s:#x}"));
            }
            prev_free = is_free;
            at = e;
        }
        if at != self.vend {
            return Err(format!("range ends at page {at:#x}"));
        }
        let mut chain = 0;
        let mut i = self.lazy_head;
        while i != NIL && chain <= N {
            if self.busy.get(i).state != VmapState::LazilyFreed {
                return Err("live area on the lazy list".into());
            }
            chain += 1;
            i = self.lazy_next[i as usize];
        }
        if (used, lazy, nr_lazy, chain)
            != (self.used_pages, self.vmap_lazy_nr, self.nr_lazy_areas, nr_lazy)
        {
            return Err(format!(
                "counters: used {used}/{} lazy {lazy}/{} nr_lazy {nr_lazy}/{} chain {chain}",
                self.used_pages, self.vmap_lazy_nr, self.nr_lazy_areas
            ));
        }
        if self.free.len() > self.busy.len() + 1 {
            return Err("more free blocks than gaps".into());
        }
        Ok(())
    }
}
