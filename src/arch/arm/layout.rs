//! The kernel's virtual memory layout on 32-bit ARM (short descriptors, 4 KiB pages), computed
//! from PAGE_OFFSET, the firmware's RAM banks and `vmalloc=`/`mem=` the way Linux >= 5.14 does
//! it (`early_vmalloc`, `adjust_lowmem_bounds`, `zone_sizes_init`), plus its boot-log renderers.
//! A layout profile (`arch::profile`) may fix lowmem, VMALLOC_END, ZONE_DMA and carve-outs: this
//! module applies the plan a profile resolves to and places its carve-outs (the profiles know
//! nothing of this code). The constants both use are in `arch::memory`.
use core::fmt::{self, Write};

use super::memory::{
    DEFAULT_PAGE_OFFSET, FIXADDR_END, FIXADDR_START, KERNEL_RAM_MIN, LAST_PKMAP, MODULES_SIZE,
    PHYS_ADDR_MAX, PMD_SIZE, TASK_GAP, VECTORS_BASE, VIRT_ADDR_MAX, VMALLOC_DEFAULT_SIZE,
    VMALLOC_END, VMALLOC_MIN_LOWMEM, VMALLOC_MIN_SIZE, VMALLOC_OFFSET,
};
use super::profile::{
    self, Carveout, Lowmem, Placement, Profile, ProfileError, ProfileRejected, VaHole, VaPlan,
    CARVEOUT_ALIGN, MAX_CARVEOUTS, MAX_VA_HOLES,
};
use crate::boot::cmdline::MemParam;
use crate::boot::info::{MemBank, MAX_MEM_BANKS};
use crate::mm::era::{DmaZoneSpec, Era};
use crate::mm::mm_init::{PfnRange, Zones};
use crate::mm::page_alloc::LinearMap;
use crate::mm::{Pfn, PhysAddr, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::sizes::{SZ_16M, SZ_1K, SZ_1M};

/// 32-bit ARM has high memory (`CONFIG_HIGHMEM=y`): RAM above `arm_lowmem_limit` is reached
/// through pkmap and the fixmap's kmap slots, and /proc/meminfo prints `HighTotal`.
pub const CONFIG_HIGHMEM: bool = true;

/// RAM ranges kept: the firmware's banks plus the one `mem=` may split off.
pub const MAX_RAM_RANGES: usize = MAX_MEM_BANKS + 1;
/// Warnings kept by one `compute`; more are only counted.
pub const MAX_LAYOUT_WARNINGS: usize = 8;
/// Highest PAGE_OFFSET whose default vmalloc area still leaves the minimum lowmem.
const MAX_PAGE_OFFSET: u64 =
    VMALLOC_END - (VMALLOC_DEFAULT_SIZE + VMALLOC_OFFSET + VMALLOC_MIN_LOWMEM);
/// PAGE_OFFSET must leave a user space and module area below it, and be 16 MiB aligned.
const MIN_PAGE_OFFSET: u64 = TASK_GAP + MODULES_SIZE;

const fn round_up(x: u64, align: u64) -> u64 {
    x.saturating_add(align - 1) & !(align - 1)
}

const fn round_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

const fn is_aligned(x: u64, align: u64) -> bool {
    x & (align - 1) == 0
}

/// A kernel virtual address of this 32-bit layout. Everything `compute` derives lies below
/// 4 GiB (it clamps its inputs to the fixed top of the address space), so the conversion is
/// exact on the 32-bit kernel and on a 64-bit host alike; an address past 4 GiB would be a bug
/// in the formulas, and stops here instead of being cut to its low bits.
fn kva(addr: u64) -> VirtAddr {
    assert!(addr <= VIRT_ADDR_MAX, "layout address {addr:#x} outside the 32-bit address space");
    VirtAddr(addr as usize)
}

/// What the layout is computed from.
#[derive(Clone, Copy, Debug)]
pub struct LayoutInput<'a> {
    /// `CONFIG_PAGE_OFFSET` (16 MiB aligned, 0x02000000..=0xee000000; others fall back to
    /// `DEFAULT_PAGE_OFFSET` with a warning).
    pub page_offset: u64,
    /// RAM as reported by the firmware, in any order, overlaps allowed.
    pub banks: &'a [MemBank],
    /// `vmalloc=` in bytes as parsed, before clamping.
    pub vmalloc: Option<u64>,
    /// Every `mem=size[@start]` as parsed, in command-line order (each adds a bank).
    pub mem: &'a [MemParam],
    /// `CONFIG_HIGHMEM`.
    pub highmem: bool,
    /// `arm_dma_zone_size`: `None` for no ZONE_DMA (the Pi), `Some(0)` for ZONE_DMA
    /// without a machine limit (covers all lowmem).
    pub dma_zone_size: Option<u64>,
}

/// The computed layout: every address a later boot stage needs, named as in Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub page_offset: VirtAddr,
    /// Physical address mapped at PAGE_OFFSET: the start of RAM rounded down to 2 MiB (the
    /// kernel is loaded at its start).
    pub phys_offset: PhysAddr,
    pub task_size: VirtAddr,
    pub modules_vaddr: VirtAddr,
    pub modules_end: VirtAddr,
    /// `PKMAP_BASE`, present only with highmem.
    pub pkmap_base: Option<VirtAddr>,
    pub vmalloc_start: VirtAddr,
    pub vmalloc_end: VirtAddr,
    pub fixaddr_start: VirtAddr,
    pub fixaddr_end: VirtAddr,
    pub vectors_base: VirtAddr,
    /// CONFIG_HIGHMEM.
    pub highmem: bool,
    /// Linux's `vmalloc_size` after `early_vmalloc` clamping (the area may end up larger
    /// when RAM is smaller than lowmem could be).
    pub vmalloc_reserve: u64,
    /// End (exclusive) of the RAM that is linearly mapped.
    pub arm_lowmem_limit: PhysAddr,
    /// Virtual end of lowmem: `__va(arm_lowmem_limit - 1) + 1`.
    pub high_memory: VirtAddr,
    /// Boot-time allocations must stay below this (2 MiB aligned).
    pub memblock_limit: PhysAddr,
    /// RAM below this is MEMBLOCK_NOMAP (the unaligned head of the first bank); equal to
    /// `ram_start` on any sane board.
    pub nomap_end: PhysAddr,
    /// First and last (exclusive) byte of RAM after `mem=` and dropping.
    pub ram_start: PhysAddr,
    pub ram_end: PhysAddr,
    /// Bytes of RAM kept (holes excluded).
    pub total_ram: u64,
    /// RAM removed because it is above lowmem and highmem is off.
    pub ignored_ram: Option<(PhysAddr, PhysAddr)>,
    pub zones: Zones,
    ram: [MemBank; MAX_RAM_RANGES],
    nr_ram: usize,
    /// Name of the layout profile applied (`linux` without one).
    pub profile: &'static str,
    carveouts: [Carveout; MAX_CARVEOUTS],
    nr_carveouts: usize,
    holes: [VaHole; MAX_VA_HOLES],
    nr_holes: usize,
}

impl Layout {
    /// The RAM kept, sorted, merged, page aligned (Linux's memblock.memory).
    pub fn ram(&self) -> &[MemBank] {
        &self.ram[..self.nr_ram]
    }

    /// `VMALLOC_END - VMALLOC_START` (what /proc/meminfo calls VmallocTotal).
    pub fn vmalloc_size(&self) -> u64 {
        (self.vmalloc_end.0 - self.vmalloc_start.0) as u64
    }

    /// Bytes of RAM below `arm_lowmem_limit` (the banner's lowmem line also counts holes).
    pub fn lowmem_size(&self) -> u64 {
        self.ram_below(self.arm_lowmem_limit.0)
    }

    /// Bytes of RAM above `arm_lowmem_limit` (zero without highmem).
    pub fn highmem_size(&self) -> u64 {
        self.total_ram - self.lowmem_size()
    }

    /// End of the pkmap window (`PKMAP_BASE + LAST_PKMAP * PAGE_SIZE`).
    pub fn pkmap_end(&self) -> Option<VirtAddr> {
        self.pkmap_base.map(|b| kva(b.as_u64() + LAST_PKMAP * PAGE_SIZE))
    }

    /// `__pa()` for lowmem addresses `[PAGE_OFFSET, high_memory)`; `None` elsewhere.
    pub fn virt_to_phys(&self, va: VirtAddr) -> Option<PhysAddr> {
        (va >= self.page_offset && va < self.high_memory)
            .then(|| PhysAddr((va.0 - self.page_offset.0) as u64 + self.phys_offset.0))
    }

    /// `__va()` for lowmem `[phys_offset, arm_lowmem_limit)`; `None` elsewhere.
    pub fn phys_to_virt(&self, pa: PhysAddr) -> Option<VirtAddr> {
        (pa >= self.phys_offset && pa < self.arm_lowmem_limit)
            .then(|| kva(pa.0 - self.phys_offset.0 + self.page_offset.as_u64()))
    }

    fn ram_below(&self, limit: u64) -> u64 {
        self.ram().iter().map(|b| b.end().min(limit).saturating_sub(b.start.0)).sum()
    }

    /// The profile's carve-outs: RAM memblock must reserve and the buddy allocator never gets.
    pub fn carveouts(&self) -> &[Carveout] {
        &self.carveouts[..self.nr_carveouts]
    }

    /// Bytes of lowmem held by carve-outs.
    pub fn carveout_size(&self) -> u64 {
        self.carveouts().iter().map(|c| c.size).sum()
    }

    /// Kernel VA the profile leaves unused, for ptdump and the banner.
    pub fn holes(&self) -> &[VaHole] {
        &self.holes[..self.nr_holes]
    }

    /// `[VMALLOC_START, VMALLOC_END)` (facade name).
    pub fn vmalloc_range(&self) -> (u64, u64) {
        (self.vmalloc_start.as_u64(), self.vmalloc_end.as_u64())
    }

    /// What /proc/meminfo's `VmallocUsed`/`VmallocChunk` mean in the era modelled.
    pub fn vmalloc_meminfo(&self) -> crate::mm::era::VmallocMeminfo {
        self.era().vmalloc_meminfo
    }

    /// RAM `[start, end)` (facade name: the node's `mem_map` spans it on every architecture).
    pub fn ram_range(&self) -> (PhysAddr, PhysAddr) {
        (self.ram_start, self.ram_end)
    }

    /// The end of the linear map's RAM (`arm_lowmem_limit`; facade name).
    pub fn lowmem_limit(&self) -> PhysAddr {
        self.arm_lowmem_limit
    }

    /// The linear map's offsets for the page allocator (`page_address`, `virt_to_page`).
    pub fn linear_map(&self) -> LinearMap {
        LinearMap { page_offset: self.page_offset, phys_offset: self.phys_offset }
    }

    /// `__va()` for lowmem (facade name; `phys_to_virt`).
    pub fn linear_va(&self, pa: PhysAddr) -> Option<VirtAddr> {
        self.phys_to_virt(pa)
    }

    /// The ceiling kmalloc serves (None: Linux's `KMALLOC_MAX_SIZE`; an older era's otherwise).
    pub fn kmalloc_max_size(&self) -> Option<u64> {
        self.era().kmalloc_max_size
    }

    /// The node's zones (DMA when the era has one, Normal, HighMem).
    pub fn node_zones(&self) -> Zones {
        self.zones
    }

    /// The kernel the applied profile models (the default's for a profile not in the list):
    /// what decides the allocator's behaviour, ZONE_DMA, CMA, kmalloc and meminfo.
    pub fn era(&self) -> &'static Era {
        Profile::by_name(self.profile).unwrap_or(profile::DEFAULT_PROFILE).era
    }
}

/// Something `compute` adjusted or refused; `Display` prints Linux's text where Linux has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutWarning {
    /// PAGE_OFFSET cannot hold the fixed layout; DEFAULT_PAGE_OFFSET was used instead.
    PageOffsetUnsupported {
        given: u64,
    },
    VmallocTooSmall {
        mib: u64,
    },
    VmallocTooBig {
        mib: u64,
    },
    /// A bank starting above 4 GiB (no LPAE).
    MemoryOutside32Bit {
        start: u64,
    },
    /// A bank crossing 4 GiB, cut at 0xfffff000.
    MemoryTruncated {
        start: u64,
    },
    /// More distinct RAM ranges than MAX_RAM_RANGES; the highest ones are dropped.
    TooManyBanks {
        start: u64,
        end: u64,
    },
    /// The firmware reported no usable RAM.
    NoRam,
    /// No RAM ended up linearly mapped (only possible with a first bank smaller than 2 MiB
    /// that does not start on a 2 MiB boundary); the kernel cannot run.
    NoLowmem,
    /// `mem=` covered every firmware bank (`ram` bytes) but asked for more.
    MemExceedsRam {
        mem: MemParam,
        ram: u64,
    },
    /// `mem=` reached into holes or beyond the RAM; `covered` bytes of it are RAM.
    MemPartlyRam {
        mem: MemParam,
        covered: u64,
    },
    /// `mem=` selected no firmware RAM at all, so it was ignored.
    MemNoRam {
        mem: MemParam,
    },
    /// `mem=` left out the kernel's own first 16 MiB, which was kept anyway (`mem` names the
    /// parameter when there was only one).
    MemKeepsKernel {
        mem: Option<MemParam>,
        start: u64,
        end: u64,
    },
    /// RAM above lowmem removed (no highmem): `[start, end)`.
    IgnoringRam {
        start: u64,
        end: u64,
    },
    ConsiderHighmem,
    /// The requested profile does not fit; the layout is Linux's own.
    ProfileRejected(ProfileRejected),
    /// The profile fixes lowmem, so `vmalloc=` has nothing to decide.
    VmallocIgnored {
        profile: &'static str,
    },
}

/// A byte count as `NNNMiB`, or `NNNKiB` when not a whole MiB.
struct Mib(u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_aligned(self.0, SZ_1M) {
            write!(f, "{}MiB", self.0 >> 20)
        } else {
            write!(f, "{}KiB", self.0 >> 10)
        }
    }
}

impl fmt::Display for LayoutWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PageOffsetUnsupported { given } => {
                write!(f, "PAGE_OFFSET {given:#010x} is not supported; using {DEFAULT_PAGE_OFFSET:#010x}")
            }
            Self::VmallocTooSmall { mib } => write!(f, "vmalloc area is too small, limiting to {mib}MiB"),
            Self::VmallocTooBig { mib } => write!(f, "vmalloc area is too big, limiting to {mib}MiB"),
            Self::MemoryOutside32Bit { start } => {
                write!(f, "Ignoring memory at 0x{start:08x} outside 32-bit physical address space")
            }
            Self::MemoryTruncated { start } => {
                write!(f, "Truncating memory at 0x{start:08x} to fit in 32-bit physical address space")
            }
            Self::TooManyBanks { start, end } => write!(
                f,
                "too many RAM ranges (at most {MAX_RAM_RANGES}); ignoring RAM at {start:#010x}-{end:#010x}"
            ),
            Self::NoRam => f.write_str("no RAM reported by the firmware"),
            Self::NoLowmem => f.write_str("no RAM left for lowmem: the first bank must start 2MiB aligned"),
            Self::MemExceedsRam { mem, ram } => write!(
                f,
                "mem={mem} exceeds the {} of RAM the firmware reported; using {}",
                Mib(ram),
                Mib(ram)
            ),
            Self::MemPartlyRam { mem, covered } => write!(
                f,
                "mem={mem} covers only {} of the RAM the firmware reported; using {}",
                Mib(covered),
                Mib(covered)
            ),
            Self::MemNoRam { mem } => write!(f, "mem={mem} selects none of the RAM the firmware reported; ignored"),
            Self::MemKeepsKernel { mem, start, end } => {
                f.write_str("mem=")?;
                if let Some(mem) = mem {
                    write!(f, "{mem}")?;
                }
                write!(f, " leaves out the kernel's RAM at {start:#010x}-{end:#010x}; keeping it")
            }
            Self::IgnoringRam { start, end } => write!(f, "Ignoring RAM at {start:#010x}-{end:#010x}"),
            Self::ConsiderHighmem => f.write_str("Consider using a HIGHMEM enabled kernel."),
            Self::ProfileRejected(r) => write!(f, "{r}"),
            Self::VmallocIgnored { profile } => {
                write!(f, "pivm: profile {profile} fixes lowmem; vmalloc= ignored")
            }
        }
    }
}

/// The warnings of one `compute`, in the order Linux would print them.
pub type LayoutWarnings = crate::warnings::Warnings<LayoutWarning, MAX_LAYOUT_WARNINGS>;

/// `[start, end)` in physical memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

impl Range {
    fn len(self) -> u64 {
        self.end - self.start
    }

    fn intersect(self, other: Range) -> Option<Range> {
        let r = Range { start: self.start.max(other.start), end: self.end.min(other.end) };
        (r.start < r.end).then_some(r)
    }
}

/// Sorted, merged RAM ranges in a fixed array (memblock.memory in miniature). One spare
/// slot lets an insertion overflow before the highest range is evicted.
#[derive(Clone, Copy, Debug, Default)]
struct RangeList {
    r: [Range; MAX_RAM_RANGES + 1],
    len: usize,
}

impl RangeList {
    fn as_slice(&self) -> &[Range] {
        &self.r[..self.len]
    }

    fn total(&self) -> u64 {
        self.as_slice().iter().map(|r| r.len()).sum()
    }

    fn first(&self) -> Option<Range> {
        self.as_slice().first().copied()
    }

    fn end(&self) -> u64 {
        self.as_slice().last().map_or(0, |r| r.end)
    }

    /// Adds a range, merging it with overlapping or touching ones (like memblock_add).
    /// Returns the range evicted when more than MAX_RAM_RANGES remain.
    fn add(&mut self, new: Range) -> Option<Range> {
        let mut merged = new;
        let mut out = RangeList::default();
        let mut placed = false;
        for &r in self.as_slice() {
            if r.end < merged.start {
                out.push(r);
            } else if r.start > merged.end {
                if !placed {
                    out.push(merged);
                    placed = true;
                }
                out.push(r);
            } else {
                merged = Range { start: r.start.min(merged.start), end: r.end.max(merged.end) };
            }
        }
        if !placed {
            out.push(merged);
        }
        *self = out;
        (self.len > MAX_RAM_RANGES).then(|| {
            self.len -= 1;
            self.r[self.len]
        })
    }

    fn push(&mut self, r: Range) {
        // Merging keeps at most len + 1 ranges, which the spare slot holds.
        if let Some(slot) = self.r.get_mut(self.len) {
            *slot = r;
            self.len += 1;
        }
    }

    fn intersect(&self, with: Range) -> RangeList {
        let mut out = RangeList::default();
        for r in self.as_slice().iter().filter_map(|r| r.intersect(with)) {
            out.push(r);
        }
        out
    }

    fn covers(&self, want: Range) -> bool {
        self.as_slice().iter().any(|r| r.start <= want.start && want.end <= r.end)
    }

    /// Removes `[start, end)` (like memblock_remove).
    fn remove(&mut self, cut: Range) {
        let mut out = RangeList::default();
        for &r in self.as_slice() {
            if let Some(low) = r.intersect(Range { start: 0, end: cut.start }) {
                out.push(low);
            }
            if let Some(high) = r.intersect(Range { start: cut.end, end: u64::MAX }) {
                out.push(high);
            }
        }
        *self = out;
    }
}

/// Linux's `early_vmalloc()` (>= 5.14): clamp a `vmalloc=` request to what the split allows.
fn early_vmalloc(
    page_offset: u64,
    vmalloc_end: u64,
    requested: u64,
    warnings: &mut LayoutWarnings,
) -> u64 {
    let mut size = requested;
    if size < VMALLOC_MIN_SIZE {
        size = VMALLOC_MIN_SIZE;
        warnings.push(LayoutWarning::VmallocTooSmall { mib: size >> 20 });
    }
    // A profile's plan guarantees room for the 32 MiB floor below its VMALLOC_END.
    let vmalloc_max = vmalloc_end.saturating_sub(page_offset + VMALLOC_MIN_LOWMEM + VMALLOC_OFFSET);
    if size > vmalloc_max {
        size = vmalloc_max;
        warnings.push(LayoutWarning::VmallocTooBig { mib: size >> 20 });
    }
    size
}

/// Linux's `arm_add_memory()`: page-align a bank and fit it into the 32-bit physical space.
fn arm_add_memory(bank: &MemBank, warnings: &mut LayoutWarnings) -> Option<Range> {
    let start = bank.start.0;
    let aligned_start = round_up(start, PAGE_SIZE);
    let mut size = start.saturating_add(bank.size).saturating_sub(aligned_start);
    if aligned_start > PHYS_ADDR_MAX {
        warnings.push(LayoutWarning::MemoryOutside32Bit { start });
        return None;
    }
    if size > PHYS_ADDR_MAX - aligned_start {
        warnings.push(LayoutWarning::MemoryTruncated { start });
        size = PHYS_ADDR_MAX - aligned_start;
    }
    size = round_down(size, PAGE_SIZE);
    (size > 0).then_some(Range { start: aligned_start, end: aligned_start + size })
}

/// Applies `mem=` as Linux/ARM's `early_mem()` does: the first `mem=` drops the firmware's
/// RAM and each adds the bank `[start, start + size)` (start defaults to PHYS_OFFSET). pivm never
/// invents RAM (a bank keeps only the firmware RAM inside it) and always keeps the kernel's own
/// first 16 MiB; a bank with no RAM in it is ignored, and so is `mem=` when no bank has any.
fn apply_mem(
    ram: &mut RangeList,
    mems: &[MemParam],
    phys_offset: u64,
    warnings: &mut LayoutWarnings,
) {
    let Some(first) = ram.first() else { return };
    let mut kept = RangeList::default();
    for &mem in mems {
        let start = mem.start.unwrap_or(phys_offset);
        let want = Range {
            start: round_up(start, PAGE_SIZE),
            end: round_down(start.saturating_add(mem.size), PAGE_SIZE),
        };
        let got = if want.start < want.end { ram.intersect(want) } else { RangeList::default() };
        if got.len == 0 {
            warnings.push(LayoutWarning::MemNoRam { mem });
            continue;
        }
        for &r in got.as_slice() {
            if let Some(evicted) = kept.add(r) {
                warnings
                    .push(LayoutWarning::TooManyBanks { start: evicted.start, end: evicted.end });
            }
        }
        let covered = got.total();
        if covered < want.len() {
            warnings.push(if covered == ram.total() {
                LayoutWarning::MemExceedsRam { mem, ram: covered }
            } else {
                LayoutWarning::MemPartlyRam { mem, covered }
            });
        }
    }
    if kept.len == 0 {
        return;
    }
    let kernel = Range { start: first.start, end: first.end.min(first.start + KERNEL_RAM_MIN) };
    if !kept.covers(kernel) {
        // The kernel's range lies inside the first bank, so this merges or takes the spare
        // slot: nothing is evicted that the intersection had.
        if let Some(evicted) = kept.add(kernel) {
            warnings.push(LayoutWarning::TooManyBanks { start: evicted.start, end: evicted.end });
        }
        let mem = match mems {
            [only] => Some(*only),
            _ => None,
        };
        warnings.push(LayoutWarning::MemKeepsKernel { mem, start: kernel.start, end: kernel.end });
    }
    *ram = kept;
}

/// Result of one `adjust_lowmem_bounds()` pass.
struct Bounds {
    arm_lowmem_limit: u64,
    memblock_limit: u64,
}

/// Linux's `adjust_lowmem_bounds()` (>= 5.14), minus the memblock removal: marks an
/// unaligned head of the first usable range NOMAP, then finds the lowmem and memblock limits.
fn adjust_lowmem_bounds(ram: &RangeList, nomap_end: &mut u64, vmalloc_limit: u64) -> Bounds {
    let usable = |r: &Range| {
        (r.end > *nomap_end).then(|| Range { start: r.start.max(*nomap_end), end: r.end })
    };
    if let Some(first) = ram.as_slice().iter().find_map(usable) {
        if !is_aligned(first.start, PMD_SIZE) {
            *nomap_end = round_up(first.start, PMD_SIZE);
        }
    }
    let usable = |r: &Range| {
        (r.end > *nomap_end).then(|| Range { start: r.start.max(*nomap_end), end: r.end })
    };
    let mut lowmem_limit = 0;
    let mut memblock_limit = 0;
    for block in ram.as_slice().iter().filter_map(usable) {
        if block.start >= vmalloc_limit {
            continue;
        }
        if block.end > lowmem_limit {
            lowmem_limit = vmalloc_limit.min(block.end);
        }
        // The first range not ending on a PMD boundary bounds early allocations, since
        // mapping its partial PMD would need a page table from memory not yet mapped.
        if memblock_limit == 0 {
            if !is_aligned(block.start, PMD_SIZE) {
                memblock_limit = block.start;
            } else if !is_aligned(block.end, PMD_SIZE) {
                memblock_limit = lowmem_limit;
            }
        }
    }
    if memblock_limit == 0 {
        memblock_limit = lowmem_limit;
    }
    Bounds { arm_lowmem_limit: lowmem_limit, memblock_limit: round_down(memblock_limit, PMD_SIZE) }
}

/// How ZONE_DMA is bounded.
#[derive(Clone, Copy)]
enum DmaZone {
    /// The machine's `arm_dma_zone_size` (`LayoutInput::dma_zone_size`).
    Arm(Option<u64>),
    /// A profile's zone: exactly `[PHYS_OFFSET, PHYS_OFFSET + size)`, like x86's MAX_DMA_PFN.
    Exact(u64),
}

/// Linux's `find_limits()` + `zone_sizes_init()` + the zone walk of `free_area_init()`.
fn zone_spans(
    ram: &RangeList,
    phys_offset: u64,
    arm_lowmem_limit: u64,
    input: &LayoutInput,
    dma_zone: DmaZone,
) -> Zones {
    let pfn = |addr: u64| addr >> PAGE_SHIFT;
    let max_low = pfn(arm_lowmem_limit);
    let max_high = pfn(ram.end());
    let mut start = ram.first().map_or(0, |r| pfn(r.start));
    // Each zone starts where the previous one ended and never runs backwards.
    let mut next = |max_pfn: u64| {
        let end = max_pfn.max(start);
        let r = PfnRange { start: Pfn(start), end: Pfn(end) };
        start = end;
        r
    };
    let dma = match dma_zone {
        DmaZone::Arm(size) => size.map(|size| {
            let arm_dma_limit = match size {
                0 => PHYS_ADDR_MAX,
                _ => phys_offset.saturating_add(size - 1).min(PHYS_ADDR_MAX),
            };
            // arm_dma_pfn_limit is the PFN of the last DMA-able byte, used as an exclusive end.
            next(pfn(arm_dma_limit).min(max_low))
        }),
        DmaZone::Exact(size) => {
            Some(next(pfn(phys_offset.saturating_add(size).min(PHYS_ADDR_MAX)).min(max_low)))
        }
    };
    let normal = next(max_low);
    let highmem = input.highmem.then(|| next(max_high));
    Zones { dma, dma32: None, normal, highmem }
}

/// The PAGE_OFFSET `compute` uses: the requested one, or DEFAULT_PAGE_OFFSET if it cannot
/// hold the fixed layout.
pub fn effective_page_offset(requested: u64) -> u64 {
    let valid =
        is_aligned(requested, SZ_16M) && (MIN_PAGE_OFFSET..=MAX_PAGE_OFFSET).contains(&requested);
    if valid {
        requested
    } else {
        DEFAULT_PAGE_OFFSET
    }
}

/// Computes the layout. Never panics; when the first RAM bank starts 2 MiB aligned, lowmem
/// always holds at least its first 16 MiB (or all of it, if smaller), whatever `vmalloc=` and
/// `mem=` say. Problems come back as warnings, in the order Linux would print them.
pub fn compute(input: &LayoutInput) -> (Layout, LayoutWarnings) {
    compute_plan(input, None)
}

/// `compute` under a layout profile. A profile that does not fit the split or the RAM is
/// rejected: the layout is then `compute`'s, with the reason as the first warning.
pub fn compute_with_profile(input: &LayoutInput, profile: &Profile) -> (Layout, LayoutWarnings) {
    match try_compute_with_profile(input, profile) {
        Ok(done) => done,
        Err(error) => {
            let (layout, linux_warnings) = compute(input);
            let mut warnings = LayoutWarnings::default();
            warnings.push(LayoutWarning::ProfileRejected(ProfileRejected {
                profile: profile.name,
                error,
            }));
            warnings.extend(&linux_warnings);
            (layout, warnings)
        }
    }
}

/// `compute` under a layout profile, or the reason the profile does not fit.
pub fn try_compute_with_profile(
    input: &LayoutInput,
    profile: &Profile,
) -> Result<(Layout, LayoutWarnings), ProfileError> {
    let plan = profile.plan(effective_page_offset(input.page_offset))?;
    let (mut layout, warnings) = compute_plan(input, Some(&plan));
    let (carveouts, nr_carveouts) = place_carveouts(profile, &layout)?;
    layout.carveouts = carveouts;
    layout.nr_carveouts = nr_carveouts;
    Ok((layout, warnings))
}

/// Checks the layout Linux's computation produced under a profile's plan against the RAM,
/// and places the profile's carve-outs in it.
fn place_carveouts(
    profile: &Profile,
    l: &Layout,
) -> Result<([Carveout; MAX_CARVEOUTS], usize), ProfileError> {
    let phys_offset = l.phys_offset.0;
    let lowmem_end = l.arm_lowmem_limit.0;
    if let Lowmem::Size(bytes) = profile.lowmem {
        let have = lowmem_end - phys_offset;
        if have < bytes {
            return Err(ProfileError::LowmemExceedsRam { lowmem: bytes, ram: have });
        }
    }
    if l.vmalloc_size() < VMALLOC_MIN_SIZE {
        return Err(ProfileError::VmallocTooSmall {
            start: l.vmalloc_start.as_u64(),
            end: l.vmalloc_end.as_u64(),
        });
    }
    let kernel_end = l.ram_start.0.saturating_add(KERNEL_RAM_MIN);
    let mut out = [Carveout::default(); MAX_CARVEOUTS];
    let mut n = 0;
    let mut top = lowmem_end;
    for c in profile.carveouts {
        let (start, end) = match c.placement {
            Placement::PhysOffset(off) => {
                let start = phys_offset.saturating_add(off);
                (start, start.saturating_add(c.size))
            }
            Placement::TopOfLowmem => {
                let start = top.saturating_sub(c.size) & !(CARVEOUT_ALIGN - 1);
                top = start;
                (start, start.saturating_add(c.size))
            }
        };
        let name = c.name;
        let in_ram = l.ram().iter().any(|b| b.start.0 <= start && end <= b.end()) && start < end;
        if !in_ram {
            return Err(ProfileError::CarveoutOutsideRam { name, start, end });
        }
        if start < phys_offset || end > lowmem_end {
            return Err(ProfileError::CarveoutOutsideLowmem { name, start, end, lowmem_end });
        }
        if start < kernel_end {
            return Err(ProfileError::CarveoutOverlapsKernel { name, start, end });
        }
        if let Some(o) = out[..n].iter().find(|o| overlaps(start, end, o.start.0, o.end().0)) {
            return Err(ProfileError::CarveoutOverlap { name, start, end, other: o.name });
        }
        let slot = out.get_mut(n).ok_or(ProfileError::TooManyCarveouts)?;
        *slot = Carveout { name, start: PhysAddr(start), size: c.size };
        n += 1;
    }
    Ok((out, n))
}

/// `[a, b)` and `[c, d)` share a byte.
const fn overlaps(a: u64, b: u64, c: u64, d: u64) -> bool {
    a < d && c < b
}

/// Whether `profile` can be applied with this PAGE_OFFSET and RAM (no `mem=`, `vmalloc=`;
/// CONFIG_HIGHMEM on). `compute_with_profile` runs the same checks and falls back to `linux`
/// on an error.
pub fn validate_profile(
    profile: &Profile,
    page_offset: u64,
    ram_banks: &[MemBank],
) -> Result<(), ProfileError> {
    let input = LayoutInput {
        page_offset,
        banks: ram_banks,
        vmalloc: None,
        mem: &[],
        highmem: true,
        dma_zone_size: None,
    };
    try_compute_with_profile(&input, profile).map(|_| ())
}

/// Linux's computation, with a profile's checked plan (VMALLOC_END, fixed lowmem, ZONE_DMA,
/// holes) in place of the defaults when given.
fn compute_plan(input: &LayoutInput, plan: Option<&VaPlan>) -> (Layout, LayoutWarnings) {
    let mut warnings = LayoutWarnings::default();

    let page_offset = effective_page_offset(input.page_offset);
    if page_offset != input.page_offset {
        warnings.push(LayoutWarning::PageOffsetUnsupported { given: input.page_offset });
    }
    let vmalloc_end = plan.map_or(VMALLOC_END, |p| p.vmalloc_end);
    let fixed_lowmem = plan.and_then(|p| p.lowmem);

    let vmalloc_reserve = match (fixed_lowmem, input.vmalloc) {
        // What `vmalloc=` would have been to give this lowmem (the plan ensures >= 16 MiB).
        (Some(lowmem), requested) => {
            if requested.is_some() {
                let profile = plan.map_or("", |p| p.name);
                warnings.push(LayoutWarning::VmallocIgnored { profile });
            }
            vmalloc_end.saturating_sub(page_offset + lowmem + VMALLOC_OFFSET)
        }
        (None, Some(requested)) => {
            early_vmalloc(page_offset, vmalloc_end, requested, &mut warnings)
        }
        (None, None) => VMALLOC_DEFAULT_SIZE,
    };

    let mut ram = RangeList::default();
    for bank in input.banks {
        if let Some(r) = arm_add_memory(bank, &mut warnings) {
            if let Some(evicted) = ram.add(r) {
                warnings
                    .push(LayoutWarning::TooManyBanks { start: evicted.start, end: evicted.end });
            }
        }
    }
    if ram.len == 0 {
        warnings.push(LayoutWarning::NoRam);
    }
    let phys_offset = ram.first().map_or(0, |r| round_down(r.start, PMD_SIZE));
    if !input.mem.is_empty() {
        apply_mem(&mut ram, input.mem, phys_offset, &mut warnings);
    }

    let vmalloc_limit = match fixed_lowmem {
        Some(lowmem) => phys_offset + lowmem,
        None => vmalloc_end - vmalloc_reserve - VMALLOC_OFFSET - page_offset + phys_offset,
    };
    let had_ram = ram.len > 0;
    let mut nomap_end = ram.first().map_or(0, |r| r.start);
    let mut ignored_ram: Option<(PhysAddr, PhysAddr)> = None;
    let mut bounds = Bounds { arm_lowmem_limit: 0, memblock_limit: 0 };
    // Linux runs the pass twice: before and after arm_memblock_init(), as memory may have
    // gone in between. The second pass only drops RAM on pathological maps.
    for _pass in 0..2 {
        bounds = adjust_lowmem_bounds(&ram, &mut nomap_end, vmalloc_limit);
        if !input.highmem && ram.end() > bounds.arm_lowmem_limit {
            let cut = Range { start: bounds.memblock_limit, end: ram.end() };
            warnings.push(LayoutWarning::IgnoringRam { start: cut.start, end: cut.end });
            warnings.push(LayoutWarning::ConsiderHighmem);
            ram.remove(cut);
            let start = ignored_ram.map_or(cut.start, |(s, _)| s.0.min(cut.start));
            ignored_ram = Some((PhysAddr(start), PhysAddr(cut.end)));
        }
    }
    let arm_lowmem_limit = bounds.arm_lowmem_limit.max(phys_offset);
    if had_ram && arm_lowmem_limit == phys_offset {
        warnings.push(LayoutWarning::NoLowmem);
    }
    let high_memory = page_offset + (arm_lowmem_limit - phys_offset);

    let mut banks = [MemBank::default(); MAX_RAM_RANGES];
    for (slot, r) in banks.iter_mut().zip(ram.as_slice()) {
        *slot = MemBank { start: PhysAddr(r.start), size: r.len() };
    }
    let dma_zone = match plan.map(|p| p.dma_zone) {
        Some(DmaZoneSpec::Exact(size)) => DmaZone::Exact(size),
        // setup_dma_zone() without a machine dma_zone_size: arm_dma_limit = 0xffffffff.
        Some(DmaZoneSpec::AllLowmem) => DmaZone::Arm(Some(0)),
        Some(DmaZoneSpec::None) | None => DmaZone::Arm(input.dma_zone_size),
    };
    let mut holes = [VaHole::default(); MAX_VA_HOLES];
    let nr_holes = plan.map_or(0, |p| p.holes().len());
    for (slot, h) in holes.iter_mut().zip(plan.map_or(&[][..], |p| p.holes())) {
        *slot = *h;
    }
    let layout = Layout {
        page_offset: kva(page_offset),
        phys_offset: PhysAddr(phys_offset),
        task_size: kva(page_offset - TASK_GAP),
        modules_vaddr: kva(page_offset - MODULES_SIZE),
        modules_end: kva(if input.highmem { page_offset - PMD_SIZE } else { page_offset }),
        pkmap_base: input.highmem.then_some(kva(page_offset - PMD_SIZE)),
        vmalloc_start: kva(round_down(high_memory + VMALLOC_OFFSET, VMALLOC_OFFSET)),
        vmalloc_end: kva(vmalloc_end),
        fixaddr_start: kva(FIXADDR_START),
        fixaddr_end: kva(FIXADDR_END),
        vectors_base: kva(VECTORS_BASE),
        highmem: input.highmem,
        vmalloc_reserve,
        arm_lowmem_limit: PhysAddr(arm_lowmem_limit),
        high_memory: kva(high_memory),
        memblock_limit: PhysAddr(bounds.memblock_limit),
        nomap_end: PhysAddr(nomap_end),
        ram_start: PhysAddr(ram.first().map_or(phys_offset, |r| r.start)),
        ram_end: PhysAddr(ram.end().max(phys_offset)),
        total_ram: ram.total(),
        ignored_ram,
        zones: zone_spans(&ram, phys_offset, arm_lowmem_limit, input, dma_zone),
        ram: banks,
        nr_ram: ram.len,
        profile: plan.map_or(profile::LINUX.name, |p| p.name),
        carveouts: [Carveout::default(); MAX_CARVEOUTS],
        nr_carveouts: 0,
        holes,
        nr_holes,
    };
    (layout, warnings)
}

/// Kernel image sections (virtual start, end) for the banner, from the linker symbols
/// `_text/_etext`, `__init_begin/__init_end`, `_sdata/_edata`, `__bss_start/__bss_stop`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSections {
    pub text: (u64, u64),
    pub init: (u64, u64),
    pub data: (u64, u64),
    pub bss: (u64, u64),
}

/// One banner line: `    name : 0xstart - 0xend   (size unit)`.
fn banner_line(
    w: &mut impl Write,
    name: &str,
    start: u64,
    end: u64,
    size: u64,
    unit: &str,
) -> fmt::Result {
    writeln!(w, "{name} : 0x{start:08x} - 0x{end:08x}   ({size:4} {unit})")
}

/// The line pivm prints before the layout banner. Linux removed the banner from `mem_init()`
/// in 5.1 (it leaked addresses); pivm prints it because the case study reads the layout from
/// it, and says on the console that the banner is pivm's, not 6.1's.
pub const BANNER_LABEL: &str = "pivm: the layout banner Linux printed before 5.1:";

/// Linux 4.x's "Virtual kernel memory layout:" banner (mem_init), with real addresses, under
/// pivm's `BANNER_LABEL`.
pub fn write_banner(w: &mut impl Write, l: &Layout, s: &KernelSections) -> fmt::Result {
    // MLK/MLM truncate; MLK_ROUNDUP rounds section sizes up to whole kB.
    let kb = |b: u64, e: u64| e.saturating_sub(b) >> 10;
    let mb = |b: u64, e: u64| e.saturating_sub(b) >> 20;
    let kb_up = |(b, e): (u64, u64)| e.saturating_sub(b).div_ceil(SZ_1K);
    let vectors_end = l.vectors_base.as_u64() + PAGE_SIZE;

    writeln!(w, "{BANNER_LABEL}")?;
    writeln!(w, "Virtual kernel memory layout:")?;
    banner_line(
        w,
        "    vector ",
        l.vectors_base.as_u64(),
        vectors_end,
        kb(l.vectors_base.as_u64(), vectors_end),
        "kB",
    )?;
    banner_line(
        w,
        "    fixmap ",
        l.fixaddr_start.as_u64(),
        l.fixaddr_end.as_u64(),
        kb(l.fixaddr_start.as_u64(), l.fixaddr_end.as_u64()),
        "kB",
    )?;
    banner_line(
        w,
        "    vmalloc",
        l.vmalloc_start.as_u64(),
        l.vmalloc_end.as_u64(),
        mb(l.vmalloc_start.as_u64(), l.vmalloc_end.as_u64()),
        "MB",
    )?;
    banner_line(
        w,
        "    lowmem ",
        l.page_offset.as_u64(),
        l.high_memory.as_u64(),
        mb(l.page_offset.as_u64(), l.high_memory.as_u64()),
        "MB",
    )?;
    if let (Some(base), Some(end)) = (l.pkmap_base, l.pkmap_end()) {
        banner_line(
            w,
            "    pkmap  ",
            base.as_u64(),
            end.as_u64(),
            mb(base.as_u64(), end.as_u64()),
            "MB",
        )?;
    }
    banner_line(
        w,
        "    modules",
        l.modules_vaddr.as_u64(),
        l.modules_end.as_u64(),
        mb(l.modules_vaddr.as_u64(), l.modules_end.as_u64()),
        "MB",
    )?;
    for (name, range) in [
        ("      .text", s.text),
        ("      .init", s.init),
        ("      .data", s.data),
        ("       .bss", s.bss),
    ] {
        banner_line(w, name, range.0, range.1, kb_up(range), "kB")?;
    }
    Ok(())
}

/// Linux's `free_area_init()` report for this layout (`mm::mm_init::write_zone_ranges` over
/// its zones and RAM; the unaligned head of the first bank is NOMAP).
pub fn write_zone_ranges(w: &mut impl Write, l: &Layout) -> fmt::Result {
    crate::mm::mm_init::write_zone_ranges(w, &l.zones, l.ram(), l.nomap_end)
}

/// The profile's partition, for the boot log and the console: its name, carve-outs and holes
/// in the banner's format (`    name : 0xstart - 0xend   (size MB)`).
pub fn write_partition(w: &mut impl Write, l: &Layout) -> fmt::Result {
    writeln!(w, "Memory layout profile: {}", l.profile)?;
    for c in l.carveouts() {
        writeln!(
            w,
            "    carve-out {:<8}: 0x{:08x} - 0x{:08x}   ({:4} MB) phys",
            c.name,
            c.start.0,
            c.end().0,
            c.size >> 20
        )?;
    }
    for h in l.holes() {
        writeln!(
            w,
            "    unused {:<11}: 0x{:08x} - 0x{:08x}   ({:4} MB)",
            h.name,
            h.start.0,
            h.end.0,
            h.size() >> 20
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod profile_tests;

#[cfg(test)]
mod tests {
    use super::super::memory::*;
    use super::*;
    use crate::sizes::{
        SZ_128M, SZ_1G, SZ_256M, SZ_2G, SZ_2M, SZ_32M, SZ_4G, SZ_512M, SZ_64M, SZ_8M,
    };
    use proptest::prelude::*;

    const MIB: u64 = SZ_1M;

    fn bank(start: u64, size: u64) -> MemBank {
        MemBank { start: PhysAddr(start), size }
    }

    fn input(page_offset: u64, banks: &[MemBank]) -> LayoutInput<'_> {
        LayoutInput {
            page_offset,
            banks,
            vmalloc: None,
            mem: &[],
            highmem: true,
            dma_zone_size: None,
        }
    }

    fn run(i: &LayoutInput) -> (Layout, Vec<String>) {
        let (l, w) = compute(i);
        (l, w.iter().map(ToString::to_string).collect())
    }

    /// One row of LINUX_FACTS §2.4, "Linux >= 5.14" table.
    struct Row {
        page_offset: u64,
        ram_gib: u64,
        vmalloc_mib: Option<u64>,
        lowmem_mib: u64,
        highmem_mib: u64,
        high_memory: u64,
        vmalloc_start: u64,
        vmalloc_mib_out: u64,
        vmalloc_total_kb: u64,
        message: Option<&'static str>,
    }

    #[allow(clippy::too_many_arguments)] // one argument per table column
    const fn row(
        page_offset: u64,
        ram_gib: u64,
        vmalloc_mib: Option<u64>,
        lowmem_mib: u64,
        highmem_mib: u64,
        high_memory: u64,
        vmalloc_start: u64,
        vmalloc_mib_out: u64,
        vmalloc_total_kb: u64,
        message: Option<&'static str>,
    ) -> Row {
        Row {
            page_offset,
            ram_gib,
            vmalloc_mib,
            lowmem_mib,
            highmem_mib,
            high_memory,
            vmalloc_start,
            vmalloc_mib_out,
            vmalloc_total_kb,
            message,
        }
    }

    const TOO_BIG_976: Option<&str> = Some("vmalloc area is too big, limiting to 976MiB");
    const D: Option<u64> = None;
    const V128: Option<u64> = Some(128);
    const V400: Option<u64> = Some(400);
    const V16: Option<u64> = Some(16);
    const V1G: Option<u64> = Some(1024);

    #[rustfmt::skip]
    const LINUX_5_14_TABLE: &[Row] = &[
        row(VMSPLIT_3G, 1, D, 768, 256, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G, 1, V128, 880, 144, 0xf7000000, 0xf7800000, 128, 131072, None),
        row(VMSPLIT_3G, 1, V400, 608, 416, 0xe6000000, 0xe6800000, 400, 409600, None),
        row(VMSPLIT_3G, 1, V16, 992, 32, 0xfe000000, 0xfe800000, 16, 16384, None),
        row(VMSPLIT_3G, 1, V1G, 32, 992, 0xc2000000, 0xc2800000, 976, 999424, TOO_BIG_976),
        row(VMSPLIT_3G, 2, D, 768, 1280, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G, 2, V128, 880, 1168, 0xf7000000, 0xf7800000, 128, 131072, None),
        row(VMSPLIT_3G, 2, V400, 608, 1440, 0xe6000000, 0xe6800000, 400, 409600, None),
        row(VMSPLIT_3G, 2, V16, 992, 1056, 0xfe000000, 0xfe800000, 16, 16384, None),
        row(VMSPLIT_3G, 2, V1G, 32, 2016, 0xc2000000, 0xc2800000, 976, 999424, TOO_BIG_976),
        row(VMSPLIT_3G_OPT, 1, D, 1024, 0, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G_OPT, 1, V128, 1024, 0, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G_OPT, 1, V400, 864, 160, 0xe6000000, 0xe6800000, 400, 409600, None),
        row(VMSPLIT_3G_OPT, 1, V16, 1024, 0, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G_OPT, 1, V1G, 240, 784, 0xbf000000, 0xbf800000, 1024, 1048576, None),
        row(VMSPLIT_3G_OPT, 2, D, 1024, 1024, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_3G_OPT, 2, V128, 1136, 912, 0xf7000000, 0xf7800000, 128, 131072, None),
        row(VMSPLIT_3G_OPT, 2, V400, 864, 1184, 0xe6000000, 0xe6800000, 400, 409600, None),
        row(VMSPLIT_3G_OPT, 2, V16, 1248, 800, 0xfe000000, 0xfe800000, 16, 16384, None),
        row(VMSPLIT_3G_OPT, 2, V1G, 240, 1808, 0xbf000000, 0xbf800000, 1024, 1048576, None),
        row(VMSPLIT_2G, 1, D, 1024, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_2G, 1, V128, 1024, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_2G, 1, V400, 1024, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_2G, 1, V16, 1024, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_2G, 1, V1G, 1008, 16, 0xbf000000, 0xbf800000, 1024, 1048576, None),
        row(VMSPLIT_2G, 2, D, 1792, 256, 0xf0000000, 0xf0800000, 240, 245760, None),
        row(VMSPLIT_2G, 2, V128, 1904, 144, 0xf7000000, 0xf7800000, 128, 131072, None),
        row(VMSPLIT_2G, 2, V400, 1632, 416, 0xe6000000, 0xe6800000, 400, 409600, None),
        row(VMSPLIT_2G, 2, V16, 2016, 32, 0xfe000000, 0xfe800000, 16, 16384, None),
        row(VMSPLIT_2G, 2, V1G, 1008, 1040, 0xbf000000, 0xbf800000, 1024, 1048576, None),
        row(VMSPLIT_1G, 1, D, 1024, 0, 0x80000000, 0x80800000, 2032, 2080768, None),
        row(VMSPLIT_1G, 1, V128, 1024, 0, 0x80000000, 0x80800000, 2032, 2080768, None),
        row(VMSPLIT_1G, 1, V400, 1024, 0, 0x80000000, 0x80800000, 2032, 2080768, None),
        row(VMSPLIT_1G, 1, V16, 1024, 0, 0x80000000, 0x80800000, 2032, 2080768, None),
        row(VMSPLIT_1G, 1, V1G, 1024, 0, 0x80000000, 0x80800000, 2032, 2080768, None),
        row(VMSPLIT_1G, 2, D, 2048, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_1G, 2, V128, 2048, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_1G, 2, V400, 2048, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_1G, 2, V16, 2048, 0, 0xc0000000, 0xc0800000, 1008, 1032192, None),
        row(VMSPLIT_1G, 2, V1G, 2032, 16, 0xbf000000, 0xbf800000, 1024, 1048576, None),
    ];

    #[test]
    fn linux_5_14_worked_table() {
        for (n, r) in LINUX_5_14_TABLE.iter().enumerate() {
            let banks = [bank(0, r.ram_gib * SZ_1G)];
            for highmem in [true, false] {
                let i = LayoutInput {
                    vmalloc: r.vmalloc_mib.map(|m| m * MIB),
                    highmem,
                    ..input(r.page_offset, &banks)
                };
                let ctx = format!(
                    "row {n} ({:#x}, {} GiB, {:?}, highmem={highmem})",
                    r.page_offset, r.ram_gib, r.vmalloc_mib
                );
                let (l, w) = run(&i);
                assert_eq!(l.lowmem_size(), r.lowmem_mib * MIB, "{ctx}: lowmem");
                assert_eq!(l.high_memory.as_u64(), r.high_memory, "{ctx}: high_memory");
                assert_eq!(l.vmalloc_start.as_u64(), r.vmalloc_start, "{ctx}: VMALLOC_START");
                assert_eq!(l.vmalloc_end.as_u64(), VMALLOC_END, "{ctx}");
                assert_eq!(l.vmalloc_size(), r.vmalloc_mib_out * MIB, "{ctx}: vmalloc size");
                assert_eq!(l.vmalloc_size() >> 10, r.vmalloc_total_kb, "{ctx}: VmallocTotal");
                let mut expected: Vec<String> = r.message.iter().map(ToString::to_string).collect();
                if highmem {
                    assert_eq!(l.highmem_size(), r.highmem_mib * MIB, "{ctx}: highmem");
                    assert_eq!(l.total_ram, r.ram_gib * SZ_1G, "{ctx}");
                } else {
                    assert_eq!(l.highmem_size(), 0, "{ctx}: highmem");
                    if r.highmem_mib > 0 {
                        let end = r.ram_gib * SZ_1G;
                        expected.push(format!(
                            "Ignoring RAM at {:#010x}-{end:#010x}",
                            r.lowmem_mib * MIB
                        ));
                        expected.push("Consider using a HIGHMEM enabled kernel.".into());
                        assert_eq!(
                            l.ignored_ram,
                            Some((PhysAddr(r.lowmem_mib * MIB), PhysAddr(end))),
                            "{ctx}"
                        );
                    }
                    assert_eq!(l.total_ram, r.lowmem_mib * MIB, "{ctx}");
                }
                assert_eq!(w, expected, "{ctx}: messages");
                assert_eq!(l.arm_lowmem_limit.0, r.lowmem_mib * MIB, "{ctx}");
                assert_eq!(l.memblock_limit, l.arm_lowmem_limit, "{ctx}");
            }
        }
    }

    #[test]
    fn no_highmem_examples() {
        let cases: &[(u64, u64, Option<u64>, u64, &str)] = &[
            (VMSPLIT_3G, SZ_1G, None, 768, "Ignoring RAM at 0x30000000-0x40000000"),
            (VMSPLIT_3G, SZ_1G, Some(400 * MIB), 608, "Ignoring RAM at 0x26000000-0x40000000"),
            (VMSPLIT_2G, SZ_2G, None, 1792, "Ignoring RAM at 0x70000000-0x80000000"),
        ];
        for &(po, ram, vmalloc, lowmem, msg) in cases {
            let banks = [bank(0, ram)];
            let (l, w) = run(&LayoutInput { vmalloc, highmem: false, ..input(po, &banks) });
            assert_eq!(l.lowmem_size(), lowmem * MIB);
            assert_eq!(w, [msg, "Consider using a HIGHMEM enabled kernel."]);
            assert_eq!(l.ram(), [bank(0, lowmem * MIB)]);
            assert_eq!(l.zones.highmem, None);
        }
    }

    #[test]
    fn raspberry_pi_checks() {
        for (ram_mib, lowmem_end) in [(948, 0xbb40_0000), (944, 0xbb00_0000)] {
            let banks = [bank(0, ram_mib * MIB)];
            let (l, w) = run(&LayoutInput { highmem: false, ..input(VMSPLIT_2G, &banks) });
            assert!(w.is_empty());
            assert_eq!(l.high_memory.as_u64(), lowmem_end);
            assert_eq!(l.vmalloc_start.as_u64(), 0xbb80_0000);
            assert_eq!(l.vmalloc_size() >> 20, 1088);
            assert_eq!(l.vmalloc_size() >> 10, 1_114_112);
            assert_eq!(l.modules_vaddr.as_u64(), 0x7f00_0000);
            assert_eq!(l.modules_end.as_u64(), 0x8000_0000);
            assert_eq!(l.pkmap_base, None);
        }
    }

    /// raspi2b in QEMU: one bank 0..0x3C000000 (960 MiB).
    const RASPI2B: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: 0x3C00_0000 }];

    #[test]
    fn raspi2b_splits() {
        // (PAGE_OFFSET, high_memory, VMALLOC_START, vmalloc MiB, highmem MiB)
        let cases = [
            (VMSPLIT_3G, 0xf000_0000, 0xf080_0000, 240, 192),
            (VMSPLIT_2G, 0xbc00_0000, 0xbc80_0000, 1072, 0),
            (VMSPLIT_1G, 0x7c00_0000, 0x7c80_0000, 2096, 0),
        ];
        for (po, high_memory, vmalloc_start, vmalloc_mib, highmem_mib) in cases {
            let (l, w) = run(&input(po, &RASPI2B));
            assert!(w.is_empty());
            assert_eq!(l.high_memory.as_u64(), high_memory);
            assert_eq!(l.vmalloc_start.as_u64(), vmalloc_start);
            assert_eq!(l.vmalloc_size(), vmalloc_mib * MIB);
            assert_eq!(l.highmem_size(), highmem_mib * MIB);
            assert_eq!(l.total_ram, 960 * MIB);
            assert_eq!(l.task_size.as_u64(), po - SZ_16M);
            assert_eq!(l.modules_vaddr.as_u64(), po - SZ_16M);
            assert_eq!(l.modules_end.as_u64(), po - SZ_2M);
            assert_eq!(l.pkmap_base, Some(VirtAddr((po - SZ_2M) as usize)));
            assert_eq!(l.pkmap_end(), Some(l.page_offset));
            assert_eq!(l.fixaddr_start.as_u64(), 0xffc8_0000);
            assert_eq!(l.fixaddr_end.as_u64(), 0xfff0_0000);
            assert_eq!(l.vectors_base.as_u64(), 0xffff_0000);
            assert_eq!(
                l.zones.normal,
                PfnRange { start: Pfn(0), end: Pfn((high_memory - po) >> 12) }
            );
            assert_eq!(l.zones.highmem.unwrap().end, Pfn(0x3C000));
        }
    }

    #[test]
    fn address_translation() {
        let (l, _) = run(&input(VMSPLIT_3G, &RASPI2B));
        assert_eq!(l.virt_to_phys(VirtAddr(0xc000_8000)), Some(PhysAddr(0x8000)));
        assert_eq!(l.virt_to_phys(VirtAddr(0xefff_ffff)), Some(PhysAddr(0x2fff_ffff)));
        assert_eq!(l.virt_to_phys(VirtAddr(0xf000_0000)), None);
        assert_eq!(l.virt_to_phys(VirtAddr(0xbfff_ffff)), None);
        assert_eq!(l.phys_to_virt(PhysAddr(0x1000)), Some(VirtAddr(0xc000_1000)));
        assert_eq!(l.phys_to_virt(PhysAddr(0x3000_0000)), None);
    }

    #[test]
    fn mem_parameter() {
        let mem = |size, start| vec![MemParam { size, start }];
        // (mem=, RAM kept, lowmem end, warnings)
        type Case = (Vec<MemParam>, Vec<MemBank>, u64, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (mem(SZ_512M, None), vec![bank(0, SZ_512M)], SZ_512M, vec![]),
            (
                mem(SZ_4G, None),
                vec![bank(0, 960 * MIB)],
                768 * MIB,
                vec!["mem=4G exceeds the 960MiB of RAM the firmware reported; using 960MiB"],
            ),
            (
                mem(SZ_256M, Some(0x1000_0000)),
                vec![bank(0, SZ_16M), bank(0x1000_0000, SZ_256M)],
                SZ_512M,
                vec!["mem=256M@0x10000000 leaves out the kernel's RAM at 0x00000000-0x01000000; keeping it"],
            ),
            (
                mem(SZ_512M, Some(0x3000_0000)),
                vec![bank(0, SZ_16M), bank(0x3000_0000, 192 * MIB)],
                SZ_16M, // the rest lies above the vmalloc limit: all highmem
                vec![
                    "mem=512M@0x30000000 covers only 192MiB of the RAM the firmware reported; using 192MiB",
                    "mem=512M@0x30000000 leaves out the kernel's RAM at 0x00000000-0x01000000; keeping it",
                ],
            ),
            (
                mem(SZ_256M, Some(0x8000_0000)),
                vec![bank(0, 960 * MIB)],
                768 * MIB,
                vec!["mem=256M@0x80000000 selects none of the RAM the firmware reported; ignored"],
            ),
            (
                mem(0, None),
                vec![bank(0, 960 * MIB)],
                768 * MIB,
                vec!["mem=0 selects none of the RAM the firmware reported; ignored"],
            ),
        ];
        for (m, ram, lowmem_end, warnings) in cases {
            let (l, w) = run(&LayoutInput { mem: &m, ..input(VMSPLIT_3G, &RASPI2B) });
            assert_eq!(l.ram(), ram, "{m:?}");
            assert_eq!(l.arm_lowmem_limit.0, lowmem_end, "{m:?}");
            assert_eq!(w, warnings, "{m:?}");
            assert_eq!(l.total_ram, ram.iter().map(|b| b.size).sum::<u64>());
        }
    }

    #[test]
    fn mem_into_hole_between_banks() {
        let banks = [bank(0, SZ_256M), bank(SZ_512M, SZ_256M)];
        let (l, w) = run(&LayoutInput {
            mem: &[MemParam { size: 600 * MIB, start: None }],
            ..input(VMSPLIT_3G, &banks)
        });
        assert_eq!(l.ram(), [bank(0, SZ_256M), bank(SZ_512M, 88 * MIB)]);
        assert_eq!(
            w,
            ["mem=600M covers only 344MiB of the RAM the firmware reported; using 344MiB"]
        );
    }

    /// Issue 16.15: a repeated `mem=` kept only the last; Linux/ARM's `early_mem()` drops the
    /// firmware's RAM at the first and adds a bank for each (`mem=SIZE@START` included).
    #[test]
    fn every_mem_adds_a_bank() {
        let m = |size, start| MemParam { size, start };
        let mems = [m(SZ_256M, None), m(SZ_128M, Some(SZ_512M)), m(SZ_64M, Some(SZ_512M + SZ_64M))];
        let (l, w) = run(&LayoutInput { mem: &mems, ..input(VMSPLIT_2G, &RASPI2B) });
        assert_eq!(l.ram(), [bank(0, SZ_256M), bank(SZ_512M, SZ_128M)]);
        assert_eq!(l.total_ram, SZ_256M + SZ_128M);
        assert!(w.is_empty(), "{w:?}");

        // Overlapping banks merge; one selecting no RAM is ignored on its own.
        let mems = [m(SZ_256M, None), m(SZ_256M, Some(SZ_128M)), m(SZ_64M, Some(SZ_2G))];
        let (l, w) = run(&LayoutInput { mem: &mems, ..input(VMSPLIT_2G, &RASPI2B) });
        assert_eq!(l.ram(), [bank(0, SZ_256M + SZ_128M)]);
        assert_eq!(
            w,
            ["mem=64M@0x80000000 selects none of the RAM the firmware reported; ignored"]
        );

        // Banks that all miss the kernel's first 16 MiB: it is kept, with one warning.
        let mems = [m(SZ_64M, Some(SZ_256M)), m(SZ_64M, Some(SZ_512M))];
        let (l, w) = run(&LayoutInput { mem: &mems, ..input(VMSPLIT_2G, &RASPI2B) });
        assert_eq!(l.ram(), [bank(0, SZ_16M), bank(SZ_256M, SZ_64M), bank(SZ_512M, SZ_64M)]);
        assert_eq!(w, ["mem= leaves out the kernel's RAM at 0x00000000-0x01000000; keeping it"]);

        // No bank with any RAM: mem= is ignored altogether.
        let mems = [m(SZ_64M, Some(SZ_2G)), m(SZ_64M, Some(SZ_2G + SZ_1G))];
        let (l, w) = run(&LayoutInput { mem: &mems, ..input(VMSPLIT_2G, &RASPI2B) });
        assert_eq!(l.ram(), [bank(0, 960 * MIB)]);
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn vmalloc_extremes() {
        let cases = [
            (1, "vmalloc area is too small, limiting to 16MiB", 16),
            (0, "vmalloc area is too small, limiting to 16MiB", 16),
            (u64::MAX, "vmalloc area is too big, limiting to 976MiB", 976),
            (SZ_4G, "vmalloc area is too big, limiting to 976MiB", 976),
        ];
        for (req, msg, reserve_mib) in cases {
            let (l, w) = run(&LayoutInput { vmalloc: Some(req), ..input(VMSPLIT_3G, &RASPI2B) });
            assert_eq!(w, [msg]);
            assert_eq!(l.vmalloc_reserve, reserve_mib * MIB);
            assert!(l.lowmem_size() >= SZ_32M);
        }
        // Too big for the 1G split is a much larger number.
        let (_, w) = run(&LayoutInput { vmalloc: Some(SZ_4G), ..input(VMSPLIT_1G, &RASPI2B) });
        assert_eq!(w, ["vmalloc area is too big, limiting to 3024MiB"]);
    }

    #[test]
    fn banks_are_sorted_merged_and_clipped_to_32_bits() {
        let banks = [
            bank(SZ_512M, SZ_256M),
            bank(0, SZ_256M),
            bank(128 * MIB, SZ_256M),
            bank(0x1_0000_0000, SZ_1G),
            bank(0xF000_0000, SZ_512M),
            bank(0x5000_0000, 0),
        ];
        let (l, w) = run(&LayoutInput { page_offset: VMSPLIT_1G, ..input(0, &banks) });
        assert_eq!(
            l.ram(),
            [bank(0, 384 * MIB), bank(SZ_512M, SZ_256M), bank(0xF000_0000, 0x0FFF_F000)]
        );
        assert_eq!(
            w,
            [
                "Ignoring memory at 0x100000000 outside 32-bit physical address space",
                "Truncating memory at 0xf0000000 to fit in 32-bit physical address space",
            ]
        );
        assert_eq!(l.ram_end.0, 0xFFFF_F000);
    }

    #[test]
    fn too_many_banks_drops_the_highest() {
        let banks: Vec<MemBank> =
            (0..MAX_RAM_RANGES as u64 + 2).rev().map(|i| bank(i * SZ_32M, SZ_16M)).collect();
        let (l, w) = run(&input(VMSPLIT_2G, &banks));
        assert_eq!(l.ram().len(), MAX_RAM_RANGES);
        assert_eq!(l.ram().last().unwrap().start.0, (MAX_RAM_RANGES as u64 - 1) * SZ_32M);
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("too many RAM ranges"), "{w:?}");
    }

    #[test]
    fn no_ram_is_reported_not_fatal() {
        for banks in [&[][..], &[bank(0, 0x800)][..], &[bank(0x2_0000_0000, SZ_1G)][..]] {
            let (l, w) = compute(&input(VMSPLIT_3G, banks));
            assert!(w.iter().any(|w| *w == LayoutWarning::NoRam), "{banks:?}");
            assert_eq!(l.total_ram, 0);
            assert_eq!(l.high_memory, l.page_offset);
            assert_eq!(l.vmalloc_start.as_u64(), l.page_offset.as_u64() + SZ_8M);
            assert!(l.zones.normal.is_empty());
            let mut s = String::new();
            write_zone_ranges(&mut s, &l).unwrap();
            assert!(s.contains("  Normal   empty\n"));
        }
    }

    #[test]
    fn tiny_ram_and_odd_alignment() {
        let tiny = [bank(0, 8 * MIB)];
        let (l, w) = run(&LayoutInput { highmem: false, ..input(VMSPLIT_3G, &tiny) });
        assert!(w.is_empty());
        assert_eq!(l.high_memory.as_u64(), 0xc080_0000);
        assert_eq!(l.vmalloc_start.as_u64(), 0xc100_0000);

        // RAM ending off a PMD boundary: memblock_limit rounds down, lowmem does not.
        let odd = [bank(0, 100 * MIB + 0x1000)];
        let (l, _) = run(&input(VMSPLIT_3G, &odd));
        assert_eq!(l.arm_lowmem_limit.0, 100 * MIB + 0x1000);
        assert_eq!(l.memblock_limit.0, 100 * MIB);
        assert_eq!(l.high_memory.as_u64(), 0xc640_1000);
        assert_eq!(l.vmalloc_start.as_u64(), 0xc680_0000);

        // A first bank starting off a PMD boundary gets a NOMAP head.
        let unaligned = [bank(0x1800, 64 * MIB)];
        let (l, w) = run(&input(VMSPLIT_3G, &unaligned));
        assert!(w.is_empty());
        assert_eq!(l.phys_offset.0, 0);
        assert_eq!(l.ram_start.0, 0x2000);
        assert_eq!(l.nomap_end.0, SZ_2M);
        assert_eq!(l.arm_lowmem_limit.0, 0x0400_1000);
        assert_eq!(l.memblock_limit.0, 64 * MIB);
        let mut s = String::new();
        write_zone_ranges(&mut s, &l).unwrap();
        assert!(s.contains(
            "  node   0: [mem 0x0000000000002000-0x00000000001fffff]\n  node   0: [mem 0x0000000000200000-0x0000000004000fff]\n"
        ));
    }

    #[test]
    fn unaligned_tiny_first_bank_leaves_no_lowmem() {
        // Found by the property test: the first bank is all NOMAP, and without highmem
        // Linux's second pass then drops everything else.
        let banks = [bank(0x0F40_0001, 0x0020_0FFF), bank(0x0F60_1001, 0x2FDF_FFFF)];
        let (l, w) = run(&LayoutInput { highmem: false, ..input(VMSPLIT_3G, &banks) });
        assert_eq!(
            w,
            [
                "Ignoring RAM at 0x0f600000-0x3f401000",
                "Consider using a HIGHMEM enabled kernel.",
                "Ignoring RAM at 0x00000000-0x0f600000",
                "Consider using a HIGHMEM enabled kernel.",
                "no RAM left for lowmem: the first bank must start 2MiB aligned",
            ]
        );
        assert_eq!(l.total_ram, 0);
        assert_eq!(l.high_memory, l.page_offset);
    }

    #[test]
    fn unusable_page_offset_falls_back() {
        for po in [0, 0xB080_0000, 0xFE00_0000, 0x1_0000_0000, u64::MAX] {
            let (l, w) = run(&input(po, &RASPI2B));
            assert_eq!(l.page_offset.as_u64(), DEFAULT_PAGE_OFFSET);
            assert_eq!(w, [format!("PAGE_OFFSET {po:#010x} is not supported; using 0xc0000000")]);
        }
    }

    #[test]
    fn dma_zone() {
        // The sample Debian log: a 1 GiB DMA zone capped by lowmem, Normal empty.
        let (l, _) =
            run(&LayoutInput { dma_zone_size: Some(SZ_1G), ..input(VMSPLIT_3G, &RASPI2B) });
        assert_eq!(l.zones.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x30000) }));
        assert!(l.zones.normal.is_empty());
        // A smaller zone ends one page short, as arm_dma_pfn_limit does in Linux.
        let (l, _) =
            run(&LayoutInput { dma_zone_size: Some(SZ_256M), ..input(VMSPLIT_3G, &RASPI2B) });
        assert_eq!(l.zones.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0xFFFF) }));
        assert_eq!(l.zones.normal, PfnRange { start: Pfn(0xFFFF), end: Pfn(0x30000) });
        let (l, _) = run(&LayoutInput {
            dma_zone_size: Some(0),
            highmem: false,
            ..input(VMSPLIT_2G, &RASPI2B)
        });
        assert_eq!(l.zones.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x3C000) }));
    }

    const SECTIONS: KernelSections = KernelSections {
        text: (0xc000_8000, 0xc002_0000),
        init: (0xc002_0000, 0xc002_4000),
        data: (0xc002_4000, 0xc002_5123),
        bss: (0xc002_5200, 0xc003_0000),
    };

    #[test]
    fn banner_3g_highmem() {
        let (l, _) = run(&input(VMSPLIT_3G, &RASPI2B));
        let mut s = String::new();
        write_banner(&mut s, &l, &SECTIONS).unwrap();
        assert_eq!(
            s,
            "pivm: the layout banner Linux printed before 5.1:\n\
             Virtual kernel memory layout:\n\
             \x20   vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n\
             \x20   fixmap  : 0xffc80000 - 0xfff00000   (2560 kB)\n\
             \x20   vmalloc : 0xf0800000 - 0xff800000   ( 240 MB)\n\
             \x20   lowmem  : 0xc0000000 - 0xf0000000   ( 768 MB)\n\
             \x20   pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n\
             \x20   modules : 0xbf000000 - 0xbfe00000   (  14 MB)\n\
             \x20     .text : 0xc0008000 - 0xc0020000   (  96 kB)\n\
             \x20     .init : 0xc0020000 - 0xc0024000   (  16 kB)\n\
             \x20     .data : 0xc0024000 - 0xc0025123   (   5 kB)\n\
             \x20      .bss : 0xc0025200 - 0xc0030000   (  44 kB)\n"
        );
    }

    #[test]
    fn banner_2g_no_highmem() {
        let (l, _) = run(&LayoutInput { highmem: false, ..input(VMSPLIT_2G, &RASPI2B) });
        let sections = KernelSections {
            text: (0x8000_8000, 0x808f_8000),
            init: (0x80a0_0000, 0x80b0_0000),
            data: (0x80b0_0000, 0x80ba_3a1c),
            bss: (0x80ba_4000, 0x80c7_1e4c),
        };
        let mut s = String::new();
        write_banner(&mut s, &l, &sections).unwrap();
        assert_eq!(
            s,
            "pivm: the layout banner Linux printed before 5.1:\n\
             Virtual kernel memory layout:\n\
             \x20   vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n\
             \x20   fixmap  : 0xffc80000 - 0xfff00000   (2560 kB)\n\
             \x20   vmalloc : 0xbc800000 - 0xff800000   (1072 MB)\n\
             \x20   lowmem  : 0x80000000 - 0xbc000000   ( 960 MB)\n\
             \x20   modules : 0x7f000000 - 0x80000000   (  16 MB)\n\
             \x20     .text : 0x80008000 - 0x808f8000   (9152 kB)\n\
             \x20     .init : 0x80a00000 - 0x80b00000   (1024 kB)\n\
             \x20     .data : 0x80b00000 - 0x80ba3a1c   ( 655 kB)\n\
             \x20      .bss : 0x80ba4000 - 0x80c71e4c   ( 824 kB)\n"
        );
    }

    #[test]
    fn zone_ranges_match_the_debian_sample() {
        let (l, _) =
            run(&LayoutInput { dma_zone_size: Some(SZ_1G), ..input(VMSPLIT_3G, &RASPI2B) });
        let mut s = String::new();
        write_zone_ranges(&mut s, &l).unwrap();
        assert_eq!(
            s,
            "Zone ranges:\n\
             \x20 DMA      [mem 0x0000000000000000-0x000000002fffffff]\n\
             \x20 Normal   empty\n\
             \x20 HighMem  [mem 0x0000000030000000-0x000000003bffffff]\n\
             Movable zone start for each node\n\
             Early memory node ranges\n\
             \x20 node   0: [mem 0x0000000000000000-0x000000003bffffff]\n\
             Initmem setup node 0 [mem 0x0000000000000000-0x000000003bffffff]\n"
        );
    }

    #[test]
    fn zone_ranges_pi_2g_and_mem_split() {
        let (l, _) = run(&LayoutInput { highmem: false, ..input(VMSPLIT_2G, &RASPI2B) });
        let mut s = String::new();
        write_zone_ranges(&mut s, &l).unwrap();
        assert_eq!(
            s,
            "Zone ranges:\n\
             \x20 Normal   [mem 0x0000000000000000-0x000000003bffffff]\n\
             Movable zone start for each node\n\
             Early memory node ranges\n\
             \x20 node   0: [mem 0x0000000000000000-0x000000003bffffff]\n\
             Initmem setup node 0 [mem 0x0000000000000000-0x000000003bffffff]\n"
        );

        let mem = [MemParam { size: SZ_256M, start: Some(0x1000_0000) }];
        let (l, _) = run(&LayoutInput { mem: &mem, ..input(VMSPLIT_1G, &RASPI2B) });
        let mut s = String::new();
        write_zone_ranges(&mut s, &l).unwrap();
        assert_eq!(
            s,
            "Zone ranges:\n\
             \x20 Normal   [mem 0x0000000000000000-0x000000001fffffff]\n\
             \x20 HighMem  empty\n\
             Movable zone start for each node\n\
             Early memory node ranges\n\
             \x20 node   0: [mem 0x0000000000000000-0x0000000000ffffff]\n\
             \x20 node   0: [mem 0x0000000010000000-0x000000001fffffff]\n\
             Initmem setup node 0 [mem 0x0000000000000000-0x000000001fffffff]\n"
        );
    }

    proptest! {
        #[test]
        fn compute_is_total_and_sane(
            po in prop_oneof![Just(VMSPLIT_3G), Just(VMSPLIT_3G_OPT), Just(VMSPLIT_2G), Just(VMSPLIT_1G), any::<u64>()],
            raw_banks in proptest::collection::vec((0u64..0x1_2000_0000, 0u64..0x1_0000_0000), 0..12),
            vmalloc in proptest::option::of(any::<u64>()),
            mem in proptest::collection::vec((MEM_MIN_FOR_TESTS..0x1_0000_0000u64, proptest::option::of(0u64..0x1_0000_0000)), 0..4),
            highmem in any::<bool>(),
            dma in proptest::option::of(0u64..0x1_0000_0000),
        ) {
            let banks: Vec<MemBank> = raw_banks.iter().map(|&(s, z)| bank(s, z)).collect();
            let mem: Vec<MemParam> = mem.iter().map(|&(size, start)| MemParam { size, start }).collect();
            let i = LayoutInput {
                page_offset: po,
                banks: &banks,
                vmalloc,
                mem: &mem,
                highmem,
                dma_zone_size: dma,
            };
            let (l, w) = compute(&i);
            for w in w.iter() {
                let _ = w.to_string();
            }
            let mut s = String::new();
            write_banner(&mut s, &l, &SECTIONS).unwrap();
            write_zone_ranges(&mut s, &l).unwrap();
            prop_assert!(l.high_memory <= l.vmalloc_start);
            prop_assert!(l.vmalloc_start.as_u64() + VMALLOC_MIN_SIZE <= VMALLOC_END);
            prop_assert!(l.memblock_limit <= l.arm_lowmem_limit);
            prop_assert!(l.ram_end.0 <= PHYS_ADDR_MAX);
            prop_assert!(l.ram().windows(2).all(|p| p[0].end() < p[1].start.0));
            prop_assert_eq!(l.total_ram, l.lowmem_size() + l.highmem_size());
            if !highmem {
                prop_assert_eq!(l.highmem_size(), 0);
            }
            // The kernel's own first 16 MiB (or the whole first bank) stays in lowmem.
            if let Some(first) = l.ram().first() {
                if first.start.0 == l.nomap_end.0 {
                    let want = first.size.min(KERNEL_RAM_MIN);
                    prop_assert!(l.arm_lowmem_limit.0 >= first.start.0 + want);
                    prop_assert_eq!(l.virt_to_phys(l.phys_to_virt(first.start).unwrap()), Some(first.start));
                }
            }
        }
    }

    const MEM_MIN_FOR_TESTS: u64 = crate::boot::cmdline::MEM_MIN;
}
