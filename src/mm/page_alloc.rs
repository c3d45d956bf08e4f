//! The buddy page allocator (Linux's mm/page_alloc.c): a `Node` (`pg_data_t`) owns `mem_map`
//! and the zones, takes free memory from memblock at boot, and serves `alloc_pages` /
//! `free_pages` by splitting and merging power-of-two blocks found by PFN arithmetic. Pure
//! code: page contents (zeroing, poisoning) go through the caller's `PageMemory`.
use core::fmt;

use super::gfp::{gfp_zone, GfpFlags};
use super::layout::{PfnRange, Zones};
use super::memblock::Memblock;
use super::page::{MemMap, Page, PageFlagNames, PageFlags, NIL, NO_ZONE};
use super::zone::{
    calculate_min_free_kbytes, calculate_totalreserve_pages, setup_per_zone_lowmem_reserve,
    setup_per_zone_wmarks, zone_batchsize, zone_highsize, zone_watermark_fast, AllocFlags, Zone,
    ZoneType, DEFAULT_LOWMEM_RESERVE_RATIO, DEFAULT_WATERMARK_SCALE_FACTOR, MAX_NR_ZONES,
    MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE,
};
use super::{Pfn, PhysAddr, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::config::{MAX_ORDER, PAGE_OFFSET};

/// Byte written over free pages when page poisoning is on (include/linux/poison.h).
pub const PAGE_POISON: u8 = 0xaa;
/// The task name reports use when the caller has none: the boot CPU's idle task, which is
/// what runs pivm's console.
pub const DEFAULT_COMM: &str = "swapper/0";
/// `K(x)`: pages to kB.
const KB_PER_PAGE: u64 = PAGE_SIZE >> 10;
/// `MAX_ORDER_NR_PAGES`: pages in the largest block.
pub const MAX_ORDER_NR_PAGES: u64 = 1 << (MAX_ORDER - 1);

/// Access to the contents of page frames, which the allocator itself never touches. The
/// kernel implements it with real memory (lowmem through the linear map, highmem with kmap);
/// tests with a fake. Methods take `&self`: implementations write RAM, not their own state.
pub trait PageMemory {
    /// Fills the `1 << order` pages at `pfn` with zeroes (`__GFP_ZERO`).
    fn zero(&self, pfn: Pfn, order: u32);
    /// Fills them with `PAGE_POISON` (on free, with page poisoning on).
    fn poison(&self, pfn: Pfn, order: u32);
    /// Byte offset of the first byte that is not `PAGE_POISON`, if any (checked on alloc).
    fn check_poison(&self, pfn: Pfn, order: u32) -> Option<u64>;
}

/// A `PageMemory` that cannot reach memory: zeroing and poisoning do nothing. Host tests and
/// benchmarks that only look at the allocator's bookkeeping use it; the kernel must install
/// a real one (`Node::set_page_memory`) before `__GFP_ZERO` means anything.
pub struct NoPageMemory;

impl PageMemory for NoPageMemory {
    fn zero(&self, _pfn: Pfn, _order: u32) {}
    fn poison(&self, _pfn: Pfn, _order: u32) {}
    fn check_poison(&self, _pfn: Pfn, _order: u32) -> Option<u64> {
        None
    }
}

static NO_PAGE_MEMORY: NoPageMemory = NoPageMemory;

/// `__find_buddy_pfn()`: the other half of the order-`order + 1` block `pfn` is in.
pub const fn __find_buddy_pfn(pfn: u64, order: u32) -> u64 {
    pfn ^ (1 << order)
}

/// `gfp_to_alloc_flags()` (6.1) for the slow path: the min watermark; `__GFP_HIGH` may use
/// half of it (ALLOC_HIGH), `__GFP_ATOMIC` a further quarter (ALLOC_HARDER) unless
/// `__GFP_NOMEMALLOC`; `__GFP_MEMALLOC` ignores watermarks (`gfp_pfmemalloc_allowed`).
pub fn gfp_to_alloc_flags(gfp: GfpFlags) -> AllocFlags {
    let mut flags = AllocFlags::ALLOC_WMARK_MIN;
    let nomemalloc = gfp.contains(GfpFlags::__GFP_NOMEMALLOC);
    if gfp.contains(GfpFlags::__GFP_HIGH) {
        flags |= AllocFlags::ALLOC_HIGH;
    }
    if gfp.contains(GfpFlags::__GFP_ATOMIC) && !nomemalloc {
        flags |= AllocFlags::ALLOC_HARDER;
    }
    if gfp.contains(GfpFlags::__GFP_MEMALLOC) && !nomemalloc {
        flags |= AllocFlags::ALLOC_NO_WATERMARKS;
    }
    flags
}

/// Where the linear map puts lowmem: `__va(phys) = phys - phys_offset + page_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearMap {
    pub page_offset: VirtAddr,
    pub phys_offset: PhysAddr,
}

impl Default for LinearMap {
    /// The build's PAGE_OFFSET over RAM at physical 0 (the Pi).
    fn default() -> Self {
        LinearMap { page_offset: VirtAddr(PAGE_OFFSET), phys_offset: PhysAddr(0) }
    }
}

/// Why the node could not be set up or given memory; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// A zone's span is not inside mem_map.
    ZoneOutsideMap { zone: ZoneType, span: PfnRange },
    /// Zone spans overlap or are out of order (DMA < Normal < HighMem).
    ZonesOverlap { zone: ZoneType, span: PfnRange },
    /// A range handed to the allocator is not inside mem_map.
    RangeOutsideMap { start: Pfn, end: Pfn },
    /// A page handed to the allocator was not reserved (given twice?).
    NotReserved { pfn: Pfn },
    /// A page handed to the allocator belongs to no zone.
    NoZone { pfn: Pfn },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InitError::ZoneOutsideMap { zone, span } => write!(
                f,
                "zone {}: pfns {:#x}-{:#x} are outside mem_map",
                zone.name(),
                span.start.0,
                span.end.0
            ),
            InitError::ZonesOverlap { zone, span } => write!(
                f,
                "zone {}: pfns {:#x}-{:#x} overlap a lower zone",
                zone.name(),
                span.start.0,
                span.end.0
            ),
            InitError::RangeOutsideMap { start, end } => {
                write!(f, "memblock_free_all: pfns {:#x}-{:#x} are outside mem_map", start.0, end.0)
            }
            InitError::NotReserved { pfn } => write!(
                f,
                "memblock_free_all: pfn {:#x} is not reserved (already given to the allocator?)",
                pfn.0
            ),
            InitError::NoZone { pfn } => {
                write!(f, "memblock_free_all: pfn {:#x} belongs to no zone", pfn.0)
            }
        }
    }
}

/// A failed allocation. `NoMemory` is Linux's "page allocation failure"; render the full
/// report with [`write_alloc_failure`] when [`AllocError::should_warn`] says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `order >= MAX_ORDER` (Linux WARNs and returns NULL).
    InvalidOrder { gfp: GfpFlags, order: u32 },
    /// The zone modifiers contradict each other (`GFP_ZONE_BAD`).
    BadGfp { gfp: GfpFlags, order: u32 },
    /// No zone the request may use has a free block of that order above its watermark.
    NoMemory { gfp: GfpFlags, order: u32 },
}

impl AllocError {
    pub const fn gfp(&self) -> GfpFlags {
        match *self {
            AllocError::InvalidOrder { gfp, .. }
            | AllocError::BadGfp { gfp, .. }
            | AllocError::NoMemory { gfp, .. } => gfp,
        }
    }

    pub const fn order(&self) -> u32 {
        match *self {
            AllocError::InvalidOrder { order, .. }
            | AllocError::BadGfp { order, .. }
            | AllocError::NoMemory { order, .. } => order,
        }
    }

    /// Linux prints the failure report (`warn_alloc`) unless the caller passed `__GFP_NOWARN`.
    pub const fn should_warn(&self) -> bool {
        matches!(self, AllocError::NoMemory { .. }) && !self.gfp().contains(GfpFlags::__GFP_NOWARN)
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gfp = self.gfp();
        match *self {
            AllocError::InvalidOrder { order, .. } => write!(
                f,
                "alloc_pages: order:{order} is too large (MAX_ORDER {MAX_ORDER}: orders 0..{})",
                MAX_ORDER - 1
            ),
            AllocError::BadGfp { .. } => {
                write!(f, "alloc_pages: mode:{:#x}({gfp}) asks for more than one zone", gfp.bits())
            }
            AllocError::NoMemory { order, .. } => write!(
                f,
                "page allocation failure: order:{order}, mode:{:#x}({gfp}), nodemask=(null)",
                gfp.bits()
            ),
        }
    }
}

/// Why a free (or a slab marking) was refused: the `page dumped because:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPageReason {
    /// No `struct page` for the PFN.
    OutOfRange,
    /// An address outside the linear map (`free_pages(addr, ..)`).
    BadAddress(VirtAddr),
    InvalidOrder,
    /// The PFN is not a multiple of the block size.
    Misaligned,
    /// The page is already free.
    DoubleFree,
    /// `PG_reserved` or `PG_slab` set (Linux's PAGE_FLAGS_CHECK_AT_FREE).
    FlagsCheckAtFree,
    /// A tail page of a compound or slab block, whose head is at this PFN.
    TailPage {
        head: Pfn,
    },
    /// refcount 0 but not free: inside an allocated block, not its first page.
    NotAllocated,
    /// The block was allocated with another order.
    WrongOrder {
        allocated: u32,
    },
    /// A tail page of the compound block does not point back at its head.
    CorruptTail {
        tail: Pfn,
    },
    /// `clear_slab` on a page that is not a slab page.
    NotSlab,
}

impl fmt::Display for BadPageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadPageReason::OutOfRange => f.write_str("pfn outside mem_map (no struct page)"),
            BadPageReason::BadAddress(a) => write!(f, "address {a} is not in the linear map"),
            BadPageReason::InvalidOrder => {
                write!(f, "order >= MAX_ORDER ({MAX_ORDER})")
            }
            BadPageReason::Misaligned => f.write_str("pfn not aligned to the block's order"),
            BadPageReason::DoubleFree => {
                f.write_str("double free: page is already on a buddy free list")
            }
            BadPageReason::FlagsCheckAtFree => f.write_str("PAGE_FLAGS_CHECK_AT_FREE flag(s) set"),
            BadPageReason::TailPage { head } => {
                write!(f, "not a head page (tail of the block at pfn:{:#x})", head.0)
            }
            BadPageReason::NotAllocated => f.write_str("VM_BUG_ON_PAGE(page_ref_count(page) == 0)"),
            BadPageReason::WrongOrder { allocated } => {
                write!(f, "freed with the wrong order (allocated with order:{allocated})")
            }
            BadPageReason::CorruptTail { tail } => {
                write!(f, "compound_head not consistent (tail pfn:{:#x})", tail.0)
            }
            BadPageReason::NotSlab => f.write_str("not a slab page"),
        }
    }
}

/// A refused `free_pages`: nothing was changed. Its `Display` is Linux's `bad_page()` report
/// for the boot CPU's task; [`FreeError::write_report`] names another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeError {
    pub pfn: Pfn,
    pub order: u32,
    pub reason: BadPageReason,
    /// The descriptor as it was, when there is one.
    pub page: Option<Page>,
    /// Order of the compound block the page heads or belongs to.
    pub compound_order: Option<u32>,
}

impl FreeError {
    /// `bad_page()`: `BUG: Bad page state in process %s  pfn:%05lx`, then `dump_page()`'s
    /// lines (`%p` prints `(ptrval)`, as before the pointer hash is ready), then the reason.
    pub fn write_report(&self, w: &mut impl fmt::Write, comm: &str) -> fmt::Result {
        writeln!(w, "BUG: Bad page state in process {comm}  pfn:{:05x}", self.pfn.0)?;
        if let Some(page) = &self.page {
            writeln!(
                w,
                "page:(ptrval) refcount:{} mapcount:0 mapping:00000000 index:0x0 pfn:{:#x}",
                page.refcount(),
                self.pfn.0
            )?;
            if let Some(order) = self.compound_order {
                writeln!(w, "head:(ptrval) order:{order} compound_mapcount:0 compound_pincount:0")?;
            }
            // The free-list type bits are pivm's bookkeeping, not a Linux page flag.
            let flags = page.flags().difference(PageFlags::PG_free_mt);
            writeln!(w, "flags: {:#x}({})", flags.bits(), PageFlagNames(page))?;
        }
        write!(w, "page dumped because: {}", self.reason)
    }
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_report(f, DEFAULT_COMM)
    }
}

/// Page poisoning found a free page written to (`pagealloc: memory corruption`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoisonCorruption {
    pub pfn: Pfn,
    /// Byte offset in the page of the first byte that is not `PAGE_POISON`.
    pub offset: u64,
}

impl fmt::Display for PoisonCorruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pagealloc: memory corruption at pfn:{:#x} offset:{:#x} (page written after free)",
            self.pfn.0, self.offset
        )
    }
}

/// `pg_data_t`: the one memory node — mem_map, zones, and the allocator's tunables.
pub struct Node<'a> {
    mem_map: MemMap<'a>,
    node_zones: [Zone; MAX_NR_ZONES],
    /// Zones this kernel has (a layout without ZONE_DMA maps `__GFP_DMA` to Normal, as a
    /// kernel built without CONFIG_ZONE_DMA does; likewise HighMem).
    configured: [bool; MAX_NR_ZONES],
    memory: &'a (dyn PageMemory + Sync),
    linear: LinearMap,
    page_poisoning: bool,
    poison_corruptions: u64,
    last_poison_corruption: Option<PoisonCorruption>,
    min_free_kbytes: u64,
    watermark_scale_factor: u64,
    lowmem_reserve_ratio: [u64; MAX_NR_ZONES],
    /// The migrate type of each pageblock (`pageblock_flags`), from the map's first one.
    pageblock_mt: [u8; MAX_PAGEBLOCKS],
    /// Linux's `page_group_by_mobility_disabled`: too little memory to group by mobility
    /// (fewer pages than `pageblock_nr_pages * MIGRATE_TYPES`), so everything is unmovable.
    mobility_disabled: bool,
    /// CPUs of the node, among which `zone_highsize` shares the low watermark.
    nr_cpus: u64,
}

/// `pageblock_order`: MAX_ORDER - 1 on ARM without huge pages (one block of the largest order).
pub const PAGEBLOCK_ORDER: u32 = MAX_ORDER as u32 - 1;
/// Pageblocks a node can describe: the 4 GiB a 32-bit physical address reaches, in 4 MiB
/// blocks.
pub const MAX_PAGEBLOCKS: usize = 1024;
/// `fallbacks[]`: where each migrate type looks when its own lists are empty.
const FALLBACKS: [[usize; 2]; MIGRATE_TYPES] = [
    [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
    [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
    [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/// `gfp_migratetype()`: movable for `__GFP_MOVABLE` (user and page-cache pages),
/// reclaimable for `__GFP_RECLAIMABLE`, otherwise unmovable (the kernel's own).
pub fn gfp_migratetype(gfp: GfpFlags) -> usize {
    if gfp.contains(GfpFlags::__GFP_MOVABLE) {
        MIGRATE_MOVABLE
    } else if gfp.contains(GfpFlags::__GFP_RECLAIMABLE) {
        MIGRATE_RECLAIMABLE
    } else {
        MIGRATE_UNMOVABLE
    }
}

impl<'a> Node<'a> {
    /// `free_area_init()`: lays the zones over `mem_map` as the layout computed them and
    /// initialises every descriptor reserved (Linux's `memmap_init`); no page is free until
    /// `free_bootmem_range`. Present pages start equal to spanned (see `account_holes`).
    pub fn new(mut mem_map: MemMap<'a>, zones: &Zones) -> Result<Node<'a>, InitError> {
        let spans = [zones.dma, Some(zones.normal), zones.highmem];
        let mut prev_end = 0;
        for (t, span) in ZoneType::ALL.into_iter().zip(spans) {
            let Some(span) = span.filter(|s| !s.is_empty()) else { continue };
            if span.start.0 < mem_map.base_pfn().0 || span.end.0 > mem_map.end_pfn().0 {
                return Err(InitError::ZoneOutsideMap { zone: t, span });
            }
            if span.start.0 < prev_end {
                return Err(InitError::ZonesOverlap { zone: t, span });
            }
            // The last pageblock the zone touches must have a slot in `pageblock_mt`.
            if ((span.end.0 - 1) >> PAGEBLOCK_ORDER) - (mem_map.base_pfn().0 >> PAGEBLOCK_ORDER)
                >= MAX_PAGEBLOCKS as u64
            {
                return Err(InitError::ZoneOutsideMap { zone: t, span });
            }
            prev_end = span.end.0;
        }

        let base = mem_map.base_pfn().0;
        let total: u64 = spans.iter().flatten().map(|s| s.pages()).sum();
        let mobility_disabled = total < (1u64 << PAGEBLOCK_ORDER) * MIGRATE_TYPES as u64;
        let pages = mem_map.pages_mut();
        pages.fill(Page::RESERVED);
        let mut node_zones = ZoneType::ALL.map(Zone::new);
        for ((zone, span), t) in node_zones.iter_mut().zip(spans).zip(ZoneType::ALL) {
            let Some(span) = span.filter(|s| !s.is_empty()) else { continue };
            zone.zone_start_pfn = span.start.0;
            zone.spanned_pages = span.pages();
            zone.present_pages = span.pages();
            let (s, e) = ((span.start.0 - base) as usize, (span.end.0 - base) as usize);
            for p in &mut pages[s..e] {
                p.zone = t as u8;
            }
        }
        Ok(Node {
            mem_map,
            node_zones,
            configured: spans.map(|s| s.is_some()),
            memory: &NO_PAGE_MEMORY,
            linear: LinearMap::default(),
            page_poisoning: false,
            poison_corruptions: 0,
            last_poison_corruption: None,
            min_free_kbytes: 0,
            watermark_scale_factor: DEFAULT_WATERMARK_SCALE_FACTOR,
            lowmem_reserve_ratio: DEFAULT_LOWMEM_RESERVE_RATIO,
            // memmap_init marks every pageblock movable; without mobility grouping there is
            // one type.
            pageblock_mt: [if mobility_disabled { MIGRATE_UNMOVABLE } else { MIGRATE_MOVABLE }
                as u8; MAX_PAGEBLOCKS],
            mobility_disabled,
            nr_cpus: 1,
        })
    }

    /// The whole boot hand-over: `new`, holes from memblock's memory map, every free range
    /// to the buddy lists (`memblock_free_all`), then watermarks and reserves
    /// (`init_per_zone_wmark_min`).
    pub fn from_memblock(
        mem_map: MemMap<'a>,
        zones: &Zones,
        memblock: &Memblock,
    ) -> Result<Node<'a>, InitError> {
        let mut node = Node::new(mem_map, zones)?;
        node.account_holes(memblock);
        let mut result = Ok(());
        memblock.for_each_free_range(|start, end| {
            if result.is_ok() {
                let (s, e) = (start.div_ceil(PAGE_SIZE), end / PAGE_SIZE);
                if s < e {
                    result = node.free_bootmem_range(Pfn(s), Pfn(e)).map(|_| ());
                }
            }
        });
        result?;
        node.init_per_zone_wmark_min();
        Ok(node)
    }

    /// Present pages = spanned pages that memblock knows as memory (Linux's
    /// `zone_absent_pages_in_node`).
    pub fn account_holes(&mut self, memblock: &Memblock) {
        for zone in self.node_zones.iter_mut() {
            let (zs, ze) = (zone.zone_start_pfn, zone.zone_start_pfn + zone.spanned_pages);
            zone.present_pages = memblock
                .memory()
                .iter()
                .map(|r| {
                    let (s, e) = (r.base.div_ceil(PAGE_SIZE), r.end() / PAGE_SIZE);
                    e.min(ze).saturating_sub(s.max(zs))
                })
                .sum();
        }
    }

    /// Installs the kernel's access to page contents (for `__GFP_ZERO` and poisoning).
    pub fn set_page_memory(&mut self, memory: &'a (dyn PageMemory + Sync)) {
        self.memory = memory;
    }

    /// Where lowmem is mapped, for `page_address` and `__get_free_pages`.
    pub fn set_linear_map(&mut self, linear: LinearMap) {
        self.linear = linear;
    }

    pub fn linear_map(&self) -> LinearMap {
        self.linear
    }

    /// Turns on page poisoning (`page_poison=1`): freed pages are filled with `PAGE_POISON`
    /// and checked when handed out again. Pages freed before stay unchecked; it cannot be
    /// turned off again (the flags it leaves must stay meaningful).
    pub fn enable_page_poisoning(&mut self) {
        self.page_poisoning = true;
    }

    pub fn page_poisoning(&self) -> bool {
        self.page_poisoning
    }

    /// Corruptions page poisoning has found so far, and the last one.
    pub fn poison_corruptions(&self) -> (u64, Option<PoisonCorruption>) {
        (self.poison_corruptions, self.last_poison_corruption)
    }

    /// Forgets the last corruption (once the caller has printed it).
    pub fn take_poison_corruption(&mut self) -> Option<PoisonCorruption> {
        self.last_poison_corruption.take()
    }

    // ---- boot: memblock_free_all -------------------------------------------------------

    /// Hands the reserved pages `[start, end)` to the buddy allocator (`memblock_free_all`
    /// for one free range): in the largest naturally aligned blocks that fit, never across a
    /// zone boundary, each merged with free neighbours. Returns the pages freed. Every page
    /// must be reserved and in a zone; otherwise nothing changes.
    pub fn free_bootmem_range(&mut self, start: Pfn, end: Pfn) -> Result<u64, InitError> {
        if start.0 >= end.0 {
            return Ok(0);
        }
        if !self.mem_map.contains(start) || end.0 > self.mem_map.end_pfn().0 {
            return Err(InitError::RangeOutsideMap { start, end });
        }
        let base = self.mem_map.base_pfn().0;
        let range = (start.0 - base) as usize..(end.0 - base) as usize;
        let pages = &self.mem_map.pages()[range.clone()];
        if let Some(i) = pages.iter().position(|p| !p.is_reserved()) {
            return Err(InitError::NotReserved { pfn: Pfn(start.0 + i as u64) });
        }
        if let Some(i) = pages.iter().position(|p| p.zone == NO_ZONE) {
            return Err(InitError::NoZone { pfn: Pfn(start.0 + i as u64) });
        }
        let mut cur = start.0;
        while cur < end.0 {
            let z = self.mem_map.pages()[(cur - base) as usize].zone as usize;
            let zone_end = end.0.min(self.node_zones[z].zone_end_pfn().0);
            self.__free_pages_memory(cur, zone_end, z);
            cur = zone_end;
        }
        Ok(end.0 - start.0)
    }

    /// `__free_pages_memory()`: the range in maximal aligned blocks.
    fn __free_pages_memory(&mut self, mut start: u64, end: u64, z: usize) {
        while start < end {
            let mut order = (start.trailing_zeros() as usize).min(MAX_ORDER - 1) as u32;
            while start + (1 << order) > end {
                order -= 1;
            }
            self.__free_pages_core(start, order, z);
            start += 1 << order;
        }
    }

    /// `__free_pages_core()`: clears PG_reserved and the refcount, counts the pages as
    /// managed, and frees the block to the tail of its list (FPI_TO_TAIL, so boot memory is
    /// used last).
    fn __free_pages_core(&mut self, pfn: u64, order: u32, z: usize) {
        let nr = 1u64 << order;
        let idx = self.mem_map.index(Pfn(pfn)).unwrap_or(NIL) as usize;
        for p in &mut self.mem_map.pages_mut()[idx..idx + nr as usize] {
            p.flags = PageFlags::empty();
            p.refcount = 0;
        }
        let zone = &mut self.node_zones[z];
        zone.managed_pages += nr;
        zone.nr_free_pages += nr;
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
        self.__free_one_page(pfn, order, z, mt, true);
    }

    // ---- watermarks ----------------------------------------------------------------------

    /// `nr_free_buffer_pages()`: managed pages above the high watermark in the zones
    /// `GFP_USER` may use (DMA and Normal).
    pub fn nr_free_buffer_pages(&self) -> u64 {
        self.node_zones[..=gfp_zone(GfpFlags::GFP_USER).idx()]
            .iter()
            .map(|z| z.managed_pages.saturating_sub(z.high_wmark_pages()))
            .sum()
    }

    /// `init_per_zone_wmark_min()`: `min_free_kbytes` from lowmem, then every zone's
    /// watermarks and `lowmem_reserve`. Linux runs it once, at postcore_initcall.
    pub fn init_per_zone_wmark_min(&mut self) {
        let lowmem_kbytes = self.nr_free_buffer_pages() * KB_PER_PAGE;
        self.min_free_kbytes = calculate_min_free_kbytes(lowmem_kbytes);
        self.setup_per_zone_wmarks();
        self.setup_per_zone_lowmem_reserve();
    }

    /// `vm.min_free_kbytes`: sets it and recomputes the watermarks.
    pub fn set_min_free_kbytes(&mut self, kbytes: u64) {
        self.min_free_kbytes = kbytes;
        self.setup_per_zone_wmarks();
    }

    pub fn min_free_kbytes(&self) -> u64 {
        self.min_free_kbytes
    }

    /// `vm.watermark_scale_factor`.
    pub fn set_watermark_scale_factor(&mut self, factor: u64) {
        self.watermark_scale_factor = factor;
        self.setup_per_zone_wmarks();
    }

    /// `vm.lowmem_reserve_ratio`.
    pub fn set_lowmem_reserve_ratio(&mut self, ratio: [u64; MAX_NR_ZONES]) {
        self.lowmem_reserve_ratio = ratio;
        self.setup_per_zone_lowmem_reserve();
    }

    pub fn lowmem_reserve_ratio(&self) -> [u64; MAX_NR_ZONES] {
        self.lowmem_reserve_ratio
    }

    /// `setup_per_zone_wmarks()` with the current `min_free_kbytes`.
    pub fn setup_per_zone_wmarks(&mut self) {
        setup_per_zone_wmarks(
            &mut self.node_zones,
            self.min_free_kbytes,
            self.watermark_scale_factor,
        );
        // The pcp limits follow the watermarks.
        self.zone_pcp_update();
    }

    /// `zone_pcp_update()`: every zone's pcp batch from its size and high from its low
    /// watermark (four batches at least, so a node without watermarks still caches).
    pub fn zone_pcp_update(&mut self) {
        for zone in &mut self.node_zones {
            zone.pcp.batch = zone_batchsize(zone.managed_pages);
            zone.pcp.high = zone_highsize(zone.low_wmark_pages(), zone.pcp.batch, self.nr_cpus);
        }
    }

    /// The node's CPUs (Linux counts them all when it sizes `pcp->high`, whether or not
    /// pivm runs on them); recomputes the pcp limits.
    pub fn set_nr_cpus(&mut self, nr_cpus: u64) {
        self.nr_cpus = nr_cpus.max(1);
        self.zone_pcp_update();
    }

    /// `setup_per_zone_lowmem_reserve()` with the current ratios.
    pub fn setup_per_zone_lowmem_reserve(&mut self) {
        setup_per_zone_lowmem_reserve(&mut self.node_zones, &self.lowmem_reserve_ratio);
    }

    // ---- allocation ----------------------------------------------------------------------

    /// The highest zone `gfp` may use in this kernel (`gfp_zone`, with an absent DMA or
    /// HighMem zone standing for Normal, as when Linux is built without it).
    #[inline]
    pub fn highest_zoneidx(&self, gfp: GfpFlags) -> ZoneType {
        let z = gfp_zone(gfp);
        if self.configured[z.idx()] {
            z
        } else {
            ZoneType::Normal
        }
    }

    /// `alloc_pages()`: a block of `1 << order` pages from the highest zone the request
    /// allows that passes its watermark, falling back to lower zones. First against the low
    /// watermark (the fast path, kept small enough to inline), then against min as `gfp`
    /// permits (`__alloc_pages_slowpath`). Returns the first PFN.
    #[inline]
    pub fn alloc_pages(&mut self, gfp: GfpFlags, order: u32) -> Result<Pfn, AllocError> {
        if order as usize >= MAX_ORDER || !gfp.zone_valid() {
            return Err(self.alloc_refused(gfp, order));
        }
        let highest = self.highest_zoneidx(gfp);
        let mt = if self.mobility_disabled { MIGRATE_UNMOVABLE } else { gfp_migratetype(gfp) };
        let idx = match self.get_page_from_freelist(order, highest, AllocFlags::ALLOC_WMARK_LOW, mt)
        {
            Some(idx) => idx,
            None => self.__alloc_pages_slowpath(gfp, order, highest, mt)?,
        };
        self.prep_new_page(idx, order, gfp);
        Ok(self.mem_map.pfn_of(idx))
    }

    /// Why a request was refused before any zone was looked at.
    #[cold]
    fn alloc_refused(&self, gfp: GfpFlags, order: u32) -> AllocError {
        if order as usize >= MAX_ORDER {
            AllocError::InvalidOrder { gfp, order }
        } else {
            AllocError::BadGfp { gfp, order }
        }
    }

    /// `__alloc_pages_slowpath()`: the zonelist again against the min watermark, lowered as
    /// `gfp` permits; pivm has no reclaim or compaction to try, so the last resort before
    /// failing is to give the pages cached on the pcp lists back to the buddy lists, where
    /// they count and can merge.
    #[cold]
    #[inline(never)]
    fn __alloc_pages_slowpath(
        &mut self,
        gfp: GfpFlags,
        order: u32,
        highest: ZoneType,
        mt: usize,
    ) -> Result<u32, AllocError> {
        let flags = gfp_to_alloc_flags(gfp);
        if let Some(idx) = self.get_page_from_freelist(order, highest, flags, mt) {
            return Ok(idx);
        }
        if self.drain_all_pages() > 0 {
            if let Some(idx) = self.get_page_from_freelist(order, highest, flags, mt) {
                return Ok(idx);
            }
        }
        Err(AllocError::NoMemory { gfp, order })
    }

    /// `alloc_page()`.
    pub fn alloc_page(&mut self, gfp: GfpFlags) -> Result<Pfn, AllocError> {
        self.alloc_pages(gfp, 0)
    }

    /// `__get_free_pages()`: like `alloc_pages` but from lowmem only, returning the block's
    /// address in the linear map.
    pub fn __get_free_pages(&mut self, gfp: GfpFlags, order: u32) -> Result<VirtAddr, AllocError> {
        let pfn = self.alloc_pages(gfp.difference(GfpFlags::__GFP_HIGHMEM), order)?;
        Ok(self.pfn_to_virt(pfn))
    }

    /// `__get_free_page()`.
    pub fn __get_free_page(&mut self, gfp: GfpFlags) -> Result<VirtAddr, AllocError> {
        self.__get_free_pages(gfp, 0)
    }

    /// `get_zeroed_page()`.
    pub fn get_zeroed_page(&mut self, gfp: GfpFlags) -> Result<VirtAddr, AllocError> {
        self.__get_free_pages(gfp | GfpFlags::__GFP_ZERO, 0)
    }

    /// `get_page_from_freelist()`: walks the zonelist from `highest` down, taking from the
    /// first managed zone whose watermark check passes. Returns the block's mem_map index.
    #[inline]
    fn get_page_from_freelist(
        &mut self,
        order: u32,
        highest: ZoneType,
        alloc_flags: AllocFlags,
        mt: usize,
    ) -> Option<u32> {
        // The zonelist (HighMem -> Normal -> DMA), cut at the request's highest zone.
        for z in (0..=highest.idx()).rev() {
            let zone = &self.node_zones[z];
            if !zone.is_managed() {
                continue;
            }
            if !alloc_flags.contains(AllocFlags::ALLOC_NO_WATERMARKS) {
                let mark = zone.wmark_pages(alloc_flags.wmark());
                if !zone_watermark_fast(zone, order, mark, highest, alloc_flags) {
                    continue;
                }
            }
            let idx = if order == 0 && self.node_zones[z].pcp.enabled() {
                self.rmqueue_pcplist(z, mt)
            } else {
                let idx = self.__rmqueue(z, order, mt);
                if idx.is_some() {
                    self.node_zones[z].nr_free_pages -= 1 << order;
                }
                idx
            };
            if idx.is_some() {
                return idx;
            }
        }
        None
    }

    /// `rmqueue_pcplist()`: an order-0 page from the CPU's list of type `mt`, refilled with
    /// a batch from the buddy lists when empty.
    #[inline]
    fn rmqueue_pcplist(&mut self, z: usize, mt: usize) -> Option<u32> {
        let pages = self.mem_map.pages_mut();
        let pcp = &mut self.node_zones[z].pcp;
        // Every allocation halves how many pages the next bulk free gives back.
        pcp.free_factor >>= 1;
        let idx = match pcp.lists.pop_first(pages, mt) {
            Some(idx) => idx,
            None => {
                self.rmqueue_bulk(z, mt);
                let pages = self.mem_map.pages_mut();
                self.node_zones[z].pcp.lists.pop_first(pages, mt)?
            }
        };
        self.mem_map.pages_mut()[idx as usize].flags.remove(PageFlags::PG_pcp);
        Some(idx)
    }

    /// `rmqueue_bulk()`: up to `batch` order-0 pages from the buddy lists (stealing from
    /// other types as `__rmqueue` does) onto the pcp list of `mt`, in the order they came.
    #[inline(never)]
    fn rmqueue_bulk(&mut self, z: usize, mt: usize) {
        for _ in 0..self.node_zones[z].pcp.batch {
            let Some(idx) = self.__rmqueue(z, 0, mt) else { break };
            let pages = self.mem_map.pages_mut();
            let zone = &mut self.node_zones[z];
            zone.nr_free_pages -= 1;
            pages[idx as usize].flags.insert(PageFlags::PG_pcp);
            zone.pcp.lists.add(pages, idx, mt, true);
        }
    }

    /// `free_pcppages_bulk()` (6.1): gives `count` cached pages back to the buddy lists,
    /// the coldest (the list tails) first, emptying one list before going round to the next,
    /// starting with list `pindex`.
    #[inline(never)]
    fn free_pcppages_bulk(&mut self, z: usize, count: u64, mut pindex: usize) {
        let mut count = count.min(self.node_zones[z].pcp.count());
        while count > 0 {
            while self.node_zones[z].pcp.lists.last(pindex).is_none() {
                pindex = (pindex + 1) % MIGRATE_TYPES;
            }
            while count > 0 {
                let pages = self.mem_map.pages_mut();
                let Some(idx) = self.node_zones[z].pcp.lists.pop_last(pages, pindex) else {
                    break;
                };
                pages[idx as usize].flags.remove(PageFlags::PG_pcp);
                count -= 1;
                self.node_zones[z].nr_free_pages += 1;
                let pfn = self.mem_map.pfn_of(idx).0;
                self.__free_one_page(pfn, 0, z, pindex, false);
            }
        }
    }

    /// `drain_all_pages()`: every zone's cached pages back to the buddy lists. Returns how
    /// many moved.
    pub fn drain_all_pages(&mut self) -> u64 {
        let mut moved = 0;
        for z in 0..MAX_NR_ZONES {
            let count = self.node_zones[z].pcp.count();
            self.free_pcppages_bulk(z, count, 0);
            moved += count;
        }
        moved
    }

    /// Pages on the pcp lists of all zones (`free_pcp`).
    pub fn nr_pcp_pages(&self) -> u64 {
        self.node_zones.iter().map(|z| z.pcp.count()).sum()
    }

    /// `__rmqueue()`: a block of the request's migrate type, or, when its lists are empty,
    /// one stolen from another type's lists (`__rmqueue_fallback`) and taken again.
    fn __rmqueue(&mut self, z: usize, order: u32, mt: usize) -> Option<u32> {
        if let Some(idx) = self.__rmqueue_smallest(z, order, mt) {
            return Some(idx);
        }
        if self.__rmqueue_fallback(z, order, mt) {
            return self.__rmqueue_smallest(z, order, mt);
        }
        None
    }

    /// `__rmqueue_smallest()`: the first block on the smallest non-empty list of type `mt`
    /// of order `order` or more, split down to `order`.
    fn __rmqueue_smallest(&mut self, z: usize, order: u32, mt: usize) -> Option<u32> {
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        for current in order as usize..MAX_ORDER {
            let Some(idx) = zone.free_area[current].first(mt) else { continue };
            zone.free_area[current].del(pages, idx);
            pages[idx as usize].flags.remove(PageFlags::PG_buddy);
            Self::expand(zone, pages, idx, order as usize, current, mt);
            return Some(idx);
        }
        None
    }

    /// `can_steal_fallback()`: whether taking a block of `order` may claim its pageblock.
    fn can_steal_fallback(order: u32, start_mt: usize) -> bool {
        order >= PAGEBLOCK_ORDER / 2 || start_mt != MIGRATE_MOVABLE
    }

    /// `__rmqueue_fallback()` (6.1): the *largest* free block of a fallback type, so that a
    /// whole pageblock changes hands and types stay grouped (for movable requests that cannot
    /// claim a pageblock, the smallest instead). The free blocks of its pageblock move to
    /// `start_mt`'s lists, and the pageblock becomes `start_mt` when at least half of it was
    /// free (`steal_suitable_fallback`). Returns whether anything moved.
    fn __rmqueue_fallback(&mut self, z: usize, order: u32, start_mt: usize) -> bool {
        let zone = &self.node_zones[z];
        let first_fallback = |current: u32| {
            FALLBACKS[start_mt].iter().find_map(|&fb| zone.free_area[current as usize].first(fb))
        };
        let mut found = None;
        for current in (order..MAX_ORDER as u32).rev() {
            if let Some(idx) = first_fallback(current) {
                let can_steal = Self::can_steal_fallback(current, start_mt);
                if can_steal || start_mt != MIGRATE_MOVABLE || current == order {
                    found = Some((idx, current, can_steal));
                }
                break;
            }
        }
        if found.is_none() {
            // find_smallest: a movable request takes the smallest fallback block that fits.
            found = (order..MAX_ORDER as u32).find_map(|current| {
                first_fallback(current)
                    .map(|idx| (idx, current, Self::can_steal_fallback(current, start_mt)))
            });
        }
        let Some((idx, current, can_steal)) = found else { return false };
        if can_steal {
            let pfn = self.mem_map.pfn_of(idx).0;
            let moved = self.move_freepages_block(z, pfn, start_mt);
            if moved >= 1 << (PAGEBLOCK_ORDER - 1) {
                self.set_pageblock_migratetype(pfn, start_mt);
            }
        } else {
            let pages = self.mem_map.pages_mut();
            let area = &mut self.node_zones[z].free_area[current as usize];
            area.del(pages, idx);
            area.add(pages, idx, start_mt, false);
        }
        true
    }

    /// `move_freepages_block()`: every free block inside `pfn`'s pageblock goes to `mt`'s
    /// lists. Returns the pages moved.
    fn move_freepages_block(&mut self, z: usize, pfn: u64, mt: usize) -> u64 {
        let block = pfn & !((1u64 << PAGEBLOCK_ORDER) - 1);
        let base = self.mem_map.base_pfn().0;
        let end = self.mem_map.end_pfn().0;
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        let mut moved = 0;
        let mut p = block.max(base);
        while p < (block + (1 << PAGEBLOCK_ORDER)).min(end) {
            let idx = (p - base) as u32;
            let page = pages[idx as usize];
            if page.is_buddy() && usize::from(page.zone) == z {
                let order = page.order() as usize;
                zone.free_area[order].del(pages, idx);
                zone.free_area[order].add(pages, idx, mt, false);
                moved += 1 << order;
                p += 1 << order;
            } else {
                p += 1;
            }
        }
        moved
    }

    /// The pageblock table's index for `pfn`.
    #[inline]
    fn pageblock_index(&self, pfn: u64) -> usize {
        ((pfn >> PAGEBLOCK_ORDER) - (self.mem_map.base_pfn().0 >> PAGEBLOCK_ORDER)) as usize
    }

    /// `get_pageblock_migratetype()`.
    #[inline]
    pub fn get_pageblock_migratetype(&self, pfn: Pfn) -> usize {
        self.pageblock_mt
            .get(self.pageblock_index(pfn.0))
            .map_or(MIGRATE_MOVABLE, |&m| usize::from(m))
    }

    fn set_pageblock_migratetype(&mut self, pfn: u64, mt: usize) {
        let i = self.pageblock_index(pfn);
        if let Some(m) = self.pageblock_mt.get_mut(i) {
            *m = mt as u8;
        }
    }

    /// Pageblocks of each migrate type in a zone (`/proc/pagetypeinfo`'s block counts; Linux
    /// steps from `zone_start_pfn` by a block, so a partial last block counts).
    pub fn pageblocks_per_type(&self, t: ZoneType) -> [u64; MIGRATE_TYPES] {
        let zone = &self.node_zones[t.idx()];
        let mut counts = [0; MIGRATE_TYPES];
        let mut pfn = zone.zone_start_pfn;
        while pfn < zone.zone_start_pfn + zone.spanned_pages {
            counts[self.get_pageblock_migratetype(Pfn(pfn)).min(MIGRATE_TYPES - 1)] += 1;
            pfn += 1 << PAGEBLOCK_ORDER;
        }
        counts
    }

    /// `expand()`: splits an order-`high` block at `idx` down to `low`, returning each upper
    /// half to the lists of `mt`.
    fn expand(
        zone: &mut Zone,
        pages: &mut [Page],
        idx: u32,
        low: usize,
        mut high: usize,
        mt: usize,
    ) {
        let mut size = 1u32 << high;
        while high > low {
            high -= 1;
            size >>= 1;
            let half = idx + size;
            let p = &mut pages[half as usize];
            p.flags.insert(PageFlags::PG_buddy);
            p.order = high as u8;
            zone.free_area[high].add(pages, half, mt, false);
        }
    }

    /// `prep_new_page()`: refcount 1, the order remembered for checking the free; then
    /// what only some requests need (poison check, zeroing, compound setup) out of line.
    #[inline]
    fn prep_new_page(&mut self, idx: u32, order: u32, gfp: GfpFlags) {
        let head = &mut self.mem_map.pages_mut()[idx as usize];
        head.refcount = 1;
        head.order = order as u8;
        if self.page_poisoning || gfp.intersects(GfpFlags::__GFP_ZERO | GfpFlags::__GFP_COMP) {
            self.prep_new_page_extra(idx, order, gfp);
        }
    }

    /// The rest of `prep_new_page()`: the poison check of every page (page poisoning),
    /// zeroing (`__GFP_ZERO`), the head and tail marks of a compound block (`__GFP_COMP`).
    #[cold]
    #[inline(never)]
    fn prep_new_page_extra(&mut self, idx: u32, order: u32, gfp: GfpFlags) {
        let nr = 1usize << order;
        let pfn = self.mem_map.pfn_of(idx);
        if self.page_poisoning {
            for i in 0..nr {
                let p = &mut self.mem_map.pages_mut()[idx as usize + i];
                if p.flags.contains(PageFlags::PG_poisoned) {
                    p.flags.remove(PageFlags::PG_poisoned);
                    let page_pfn = Pfn(pfn.0 + i as u64);
                    if let Some(offset) = self.memory.check_poison(page_pfn, 0) {
                        self.poison_corruptions += 1;
                        self.last_poison_corruption =
                            Some(PoisonCorruption { pfn: page_pfn, offset });
                    }
                }
            }
        }
        if gfp.contains(GfpFlags::__GFP_ZERO) {
            self.memory.zero(pfn, order);
        }
        if gfp.contains(GfpFlags::__GFP_COMP) && order > 0 {
            let pages = self.mem_map.pages_mut();
            pages[idx as usize].flags.insert(PageFlags::PG_head);
            Self::set_tails(pages, idx, nr, true);
        }
    }

    /// Marks (or unmarks) the tail pages of the block at `idx` with a link to their head.
    fn set_tails(pages: &mut [Page], idx: u32, nr: usize, on: bool) {
        for p in &mut pages[idx as usize + 1..idx as usize + nr] {
            if on {
                p.flags.insert(PageFlags::PG_tail);
                p.lru_next = idx;
            } else {
                p.flags.remove(PageFlags::PG_tail);
                p.lru_next = NIL;
            }
        }
    }

    // ---- freeing -------------------------------------------------------------------------

    /// `__free_pages()` by PFN: returns the block to the buddy lists, merging it with its
    /// free buddies. Double frees, frees of reserved, slab or tail pages, of a block with the
    /// wrong order or a misaligned or unknown PFN are refused and change nothing.
    #[inline]
    pub fn free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        let Some(idx) = self.allocated_head(pfn, order) else {
            return Err(self.free_refused(pfn, order));
        };
        let head = &mut self.mem_map.pages_mut()[idx as usize];
        let z = head.zone as usize;
        let compound = head.flags.contains(PageFlags::PG_head);
        head.refcount = 0;
        head.order = 0;
        if compound || self.page_poisoning {
            self.free_pages_prepare_extra(idx, pfn, order);
        }
        if order == 0 && self.node_zones[z].pcp.enabled() {
            self.free_unref_page(pfn.0, idx, z);
        } else {
            self.node_zones[z].nr_free_pages += 1 << order;
            let mt = self.get_pageblock_migratetype(pfn);
            self.__free_one_page(pfn.0, order, z, mt, false);
        }
        Ok(())
    }

    /// What `free_pages` reports when `allocated_head` refused the block.
    #[cold]
    #[inline(never)]
    fn free_refused(&self, pfn: Pfn, order: u32) -> FreeError {
        self.check_allocated_head(pfn, order).err().unwrap_or(self.bad_page(
            pfn,
            order,
            BadPageReason::NotAllocated,
        ))
    }

    /// The part of `free_pages_prepare()` only some blocks need: a compound block's tail
    /// marks come off, and with page poisoning every page is filled and marked.
    #[cold]
    #[inline(never)]
    fn free_pages_prepare_extra(&mut self, idx: u32, pfn: Pfn, order: u32) {
        let nr = 1usize << order;
        let pages = self.mem_map.pages_mut();
        if pages[idx as usize].flags.contains(PageFlags::PG_head) {
            pages[idx as usize].flags.remove(PageFlags::PG_head);
            Self::set_tails(pages, idx, nr, false);
        }
        if self.page_poisoning {
            self.memory.poison(pfn, order);
            for p in &mut pages[idx as usize..idx as usize + nr] {
                p.flags.insert(PageFlags::PG_poisoned);
            }
        }
    }

    /// `free_unref_page()`: an order-0 page goes to the head of the CPU's list of its
    /// pageblock's type (hot: the next allocation reuses it); past `high`, a batch goes back.
    #[inline]
    fn free_unref_page(&mut self, pfn: u64, idx: u32, z: usize) {
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
        let pages = self.mem_map.pages_mut();
        let pcp = &mut self.node_zones[z].pcp;
        pages[idx as usize].flags.insert(PageFlags::PG_pcp);
        pcp.lists.add(pages, idx, mt, false);
        if pcp.count() >= pcp.high {
            let count = pcp.nr_pcp_free();
            self.free_pcppages_bulk(z, count, mt);
        }
    }

    /// Linux's name for freeing by page.
    pub fn __free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        self.free_pages(pfn, order)
    }

    /// `free_pages(addr, order)`: frees a block by its linear-map address (from
    /// `__get_free_pages`). Address 0 is ignored, as in Linux.
    pub fn free_pages_addr(&mut self, addr: VirtAddr, order: u32) -> Result<(), FreeError> {
        if addr.0 == 0 {
            return Ok(());
        }
        let pfn = self.virt_to_pfn(addr).ok_or(FreeError {
            pfn: Pfn(0),
            order,
            reason: BadPageReason::BadAddress(addr),
            page: None,
            compound_order: None,
        })?;
        if !addr.0.is_multiple_of(PAGE_SIZE) {
            return Err(self.bad_page(pfn, order, BadPageReason::Misaligned));
        }
        self.free_pages(pfn, order)
    }

    fn bad_page(&self, pfn: Pfn, order: u32, reason: BadPageReason) -> FreeError {
        let page = self.mem_map.pfn_to_page(pfn).copied();
        let compound_order = page.and_then(|p| {
            if p.flags.contains(PageFlags::PG_head) {
                Some(p.order())
            } else {
                let head = p.compound_head_index()?;
                let h = self.mem_map.pages().get(head as usize)?;
                h.flags.contains(PageFlags::PG_head).then(|| h.order())
            }
        });
        FreeError { pfn, order, reason, page, compound_order }
    }

    /// The fast form of `check_allocated_head`: the head's index if `pfn` heads an allocated
    /// block of order `order` that may be freed.
    #[inline]
    fn allocated_head(&self, pfn: Pfn, order: u32) -> Option<u32> {
        const NOT_FREEABLE: PageFlags = PageFlags::PG_buddy
            .union(PageFlags::PG_pcp)
            .union(PageFlags::PG_reserved)
            .union(PageFlags::PG_slab)
            .union(PageFlags::PG_tail);
        let idx = self.mem_map.index(pfn)?;
        let page = &self.mem_map.pages()[idx as usize];
        let ok = (order as usize) < MAX_ORDER
            && pfn.0 & ((1 << order) - 1) == 0
            && !page.flags.intersects(NOT_FREEABLE)
            && page.refcount != 0
            && page.order() == order;
        if !ok {
            return None;
        }
        if page.flags.contains(PageFlags::PG_head) && !self.tails_point_at(idx, order) {
            return None;
        }
        Some(idx)
    }

    /// Whether every tail page of the compound block at `idx` links back to it.
    #[cold]
    #[inline(never)]
    fn tails_point_at(&self, idx: u32, order: u32) -> bool {
        let tails = &self.mem_map.pages()[idx as usize + 1..idx as usize + (1 << order)];
        tails.iter().all(|t| t.compound_head_index() == Some(idx))
    }

    /// The checks `free_pages` makes before touching anything (`free_pages_prepare`'s
    /// `free_page_is_bad` plus pivm's order check). Returns the head's mem_map index.
    #[cold]
    fn check_allocated_head(&self, pfn: Pfn, order: u32) -> Result<u32, FreeError> {
        let bad = |reason| Err(self.bad_page(pfn, order, reason));
        let Some(idx) = self.mem_map.index(pfn) else { return bad(BadPageReason::OutOfRange) };
        if order as usize >= MAX_ORDER {
            return bad(BadPageReason::InvalidOrder);
        }
        if pfn.0 & ((1 << order) - 1) != 0 {
            return bad(BadPageReason::Misaligned);
        }
        let page = &self.mem_map.pages()[idx as usize];
        if page.is_buddy() || page.flags.contains(PageFlags::PG_pcp) {
            return bad(BadPageReason::DoubleFree);
        }
        if page.flags.intersects(PageFlags::PG_reserved | PageFlags::PG_slab) {
            return bad(BadPageReason::FlagsCheckAtFree);
        }
        if let Some(head) = page.compound_head_index() {
            return bad(BadPageReason::TailPage { head: self.mem_map.pfn_of(head) });
        }
        if page.refcount == 0 {
            // Pages inside a free block have refcount 0 too: tell a double free from a page
            // in the middle of an allocation (only on this error path: it costs MAX_ORDER
            // lookups).
            return bad(if self.is_free_buddy_page(pfn) {
                BadPageReason::DoubleFree
            } else {
                BadPageReason::NotAllocated
            });
        }
        if page.order() != order {
            return bad(BadPageReason::WrongOrder { allocated: page.order() });
        }
        if page.flags.contains(PageFlags::PG_head) {
            let tails = &self.mem_map.pages()[idx as usize + 1..idx as usize + (1 << order)];
            if let Some(i) = tails.iter().position(|t| t.compound_head_index() != Some(idx)) {
                let tail = Pfn(pfn.0 + 1 + i as u64);
                return bad(BadPageReason::CorruptTail { tail });
            }
        }
        Ok(idx)
    }

    /// `is_free_buddy_page()`: whether `pfn` lies in a free block (it or an aligned page
    /// below it heads a free block that covers it). At most MAX_ORDER lookups.
    pub fn is_free_buddy_page(&self, pfn: Pfn) -> bool {
        (0..MAX_ORDER as u32).any(|order| {
            let head = Pfn(pfn.0 & !((1u64 << order) - 1));
            self.mem_map.pfn_to_page(head).is_some_and(|p| p.is_buddy() && p.order() >= order)
        })
    }

    /// `__free_one_page()`: merges the block with its buddy while the buddy is free and of
    /// the same order, then puts the result on its list (at the tail when
    /// `buddy_merge_likely`, or when `to_tail`). Counters other than `nr_free` are the
    /// caller's. The block goes to the lists of `mt`: its pageblock's type, or for a page
    /// coming back from a pcp list that list's type, as in Linux (merges stay inside one
    /// pageblock, since MAX_ORDER - 1 is the pageblock order).
    fn __free_one_page(
        &mut self,
        mut pfn: u64,
        mut order: u32,
        z: usize,
        mt: usize,
        to_tail: bool,
    ) {
        let base = self.mem_map.base_pfn().0;
        let pages = self.mem_map.pages_mut();
        let zone = &mut self.node_zones[z];
        let mut buddy_pfn = None;
        while (order as usize) < MAX_ORDER - 1 {
            let b = __find_buddy_pfn(pfn, order);
            buddy_pfn = Some(b);
            let Some(bidx) = page_is_buddy(pages, base, b, order, z) else { break };
            zone.free_area[order as usize].del(pages, bidx);
            let bp = &mut pages[bidx as usize];
            bp.flags.remove(PageFlags::PG_buddy);
            bp.order = 0;
            pfn &= b;
            order += 1;
        }
        let to_tail =
            to_tail || buddy_pfn.is_some_and(|b| buddy_merge_likely(pages, base, pfn, b, order, z));
        let idx = (pfn - base) as u32;
        let p = &mut pages[idx as usize];
        p.flags.insert(PageFlags::PG_buddy);
        p.order = order as u8;
        zone.free_area[order as usize].add(pages, idx, mt, to_tail);
    }

    // ---- slab support ----------------------------------------------------------------------

    /// `__SetPageSlab` for a block the slab allocator took with `alloc_pages(.., order)`:
    /// marks the head `PG_slab` and every other page a tail pointing at it, so that
    /// `compound_head` finds the slab from any address in it. The block must be allocated
    /// with that order; `clear_slab` undoes it before the free.
    pub fn set_slab(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        let idx = self.check_allocated_head(pfn, order)?;
        let pages = self.mem_map.pages_mut();
        pages[idx as usize].flags.insert(PageFlags::PG_slab);
        if !pages[idx as usize].flags.contains(PageFlags::PG_head) {
            Self::set_tails(pages, idx, 1 << order, true);
        }
        Ok(())
    }

    /// `__ClearPageSlab`: the slab gives the block back (then frees it with `free_pages`).
    pub fn clear_slab(&mut self, pfn: Pfn) -> Result<(), FreeError> {
        let Some(idx) = self.mem_map.index(pfn) else {
            return Err(self.bad_page(pfn, 0, BadPageReason::OutOfRange));
        };
        let page = self.mem_map.pages()[idx as usize];
        if !page.is_slab() || page.compound_head_index().is_some() {
            return Err(self.bad_page(pfn, 0, BadPageReason::NotSlab));
        }
        let pages = self.mem_map.pages_mut();
        pages[idx as usize].flags.remove(PageFlags::PG_slab);
        if !page.flags.contains(PageFlags::PG_head) {
            Self::set_tails(pages, idx, 1 << page.order(), false);
        }
        Ok(())
    }

    /// `compound_head()`: the first page of the compound or slab block `pfn` is in (itself
    /// if it is no tail page). `None` outside mem_map.
    pub fn compound_head(&self, pfn: Pfn) -> Option<Pfn> {
        let page = self.mem_map.pfn_to_page(pfn)?;
        Some(page.compound_head_index().map_or(pfn, |h| self.mem_map.pfn_of(h)))
    }

    // ---- addresses and lookups ---------------------------------------------------------------

    /// The descriptor of `pfn`.
    pub fn page(&self, pfn: Pfn) -> Option<&Page> {
        self.mem_map.pfn_to_page(pfn)
    }

    pub fn mem_map(&self) -> &MemMap<'a> {
        &self.mem_map
    }

    /// The zone `pfn` belongs to.
    pub fn page_zone(&self, pfn: Pfn) -> Option<ZoneType> {
        ZoneType::from_idx(self.page(pfn)?.zone as usize)
    }

    /// `PageHighMem()`: needs kmap to be touched.
    pub fn page_is_highmem(&self, pfn: Pfn) -> bool {
        self.page_zone(pfn) == Some(ZoneType::HighMem)
    }

    fn pfn_to_virt(&self, pfn: Pfn) -> VirtAddr {
        VirtAddr(pfn.phys().0.wrapping_sub(self.linear.phys_offset.0) + self.linear.page_offset.0)
    }

    /// `page_address()`: the linear-map address of a lowmem page; `None` for highmem (use
    /// kmap) and pages outside every zone.
    pub fn page_address(&self, pfn: Pfn) -> Option<VirtAddr> {
        match self.page_zone(pfn)? {
            ZoneType::HighMem => None,
            _ => Some(self.pfn_to_virt(pfn)),
        }
    }

    /// `virt_to_pfn()` for a linear-map address of a lowmem page.
    pub fn virt_to_pfn(&self, addr: VirtAddr) -> Option<Pfn> {
        let offset = addr.0.checked_sub(self.linear.page_offset.0)?;
        let pfn = Pfn((self.linear.phys_offset.0 + offset) >> PAGE_SHIFT);
        matches!(self.page_zone(pfn)?, ZoneType::Dma | ZoneType::Normal).then_some(pfn)
    }

    // ---- snapshots for the reports ---------------------------------------------------------

    pub fn zone(&self, t: ZoneType) -> &Zone {
        &self.node_zones[t.idx()]
    }

    /// DMA, Normal, HighMem (present or not).
    pub fn zones(&self) -> &[Zone; MAX_NR_ZONES] {
        &self.node_zones
    }

    /// Zones with present pages (`for_each_populated_zone`).
    pub fn populated_zones(&self) -> impl Iterator<Item = &Zone> {
        self.node_zones.iter().filter(|z| z.is_populated())
    }

    /// Whether this kernel has the zone at all (vs. present but empty).
    pub fn zone_configured(&self, t: ZoneType) -> bool {
        self.configured[t.idx()]
    }

    pub fn node_start_pfn(&self) -> Pfn {
        self.mem_map.base_pfn()
    }

    pub fn node_spanned_pages(&self) -> u64 {
        self.mem_map.len() as u64
    }

    pub fn node_present_pages(&self) -> u64 {
        self.node_zones.iter().map(Zone::present_pages).sum()
    }

    /// `totalram_pages()`: pages managed by the allocator (MemTotal).
    pub fn totalram_pages(&self) -> u64 {
        self.node_zones.iter().map(Zone::managed_pages).sum()
    }

    /// `totalhigh_pages()` (HighTotal).
    pub fn totalhigh_pages(&self) -> u64 {
        self.zone(ZoneType::HighMem).managed_pages()
    }

    /// `global_zone_page_state(NR_FREE_PAGES)` (MemFree).
    pub fn nr_free_pages(&self) -> u64 {
        self.node_zones.iter().map(Zone::nr_free_pages).sum()
    }

    /// `nr_free_highpages()` (HighFree).
    pub fn nr_free_highpages(&self) -> u64 {
        self.zone(ZoneType::HighMem).nr_free_pages()
    }

    /// `totalreserve_pages` (what MemAvailable subtracts).
    pub fn totalreserve_pages(&self) -> u64 {
        calculate_totalreserve_pages(&self.node_zones)
    }

    /// Walks every free list and checks what the allocator promises: each block heads with
    /// PG_buddy, has the list's order, is aligned, lies in its zone, its pages are neither
    /// reserved nor allocated, and the counters match the lists. O(free blocks + mem_map).
    pub fn verify(&self) -> Result<(), (&'static str, Pfn)> {
        let pages = self.mem_map.pages();
        for (z, zone) in self.node_zones.iter().enumerate() {
            let mut free = 0;
            for (order, area) in zone.free_area.iter().enumerate() {
                let mut n = 0;
                for idx in area.iter(pages) {
                    let pfn = self.mem_map.pfn_of(idx);
                    let p = &pages[idx as usize];
                    if !p.is_buddy() || p.order() as usize != order {
                        return Err(("free list entry without PG_buddy of its order", pfn));
                    }
                    if pfn.0 & ((1 << order) - 1) != 0 {
                        return Err(("free block not aligned to its order", pfn));
                    }
                    if !zone.spans(pfn) || !zone.spans(Pfn(pfn.0 + (1 << order) - 1)) {
                        return Err(("free block outside its zone", pfn));
                    }
                    let block = &pages[idx as usize..idx as usize + (1 << order)];
                    if block
                        .iter()
                        .any(|q| q.zone as usize != z || q.is_reserved() || q.refcount != 0)
                    {
                        return Err(("free block holds a reserved or allocated page", pfn));
                    }
                    if block[1..].iter().any(|q| q.is_buddy()) {
                        return Err(("free block overlaps another", pfn));
                    }
                    n += 1;
                    free += 1u64 << order;
                }
                if n != area.nr_free {
                    return Err(("nr_free differs from the list length", zone.zone_start_pfn()));
                }
            }
            if free != zone.nr_free_pages {
                return Err(("NR_FREE_PAGES differs from the lists", zone.zone_start_pfn()));
            }
            let mut cached = 0;
            for idx in zone.pcp.lists.iter(pages) {
                let pfn = self.mem_map.pfn_of(idx);
                let p = &pages[idx as usize];
                if !p.flags.contains(PageFlags::PG_pcp) || p.is_buddy() || p.refcount != 0 {
                    return Err(("pcp list entry not marked cached, or in use", pfn));
                }
                if !zone.spans(pfn) || p.zone as usize != z || p.is_reserved() {
                    return Err(("pcp page outside its zone or reserved", pfn));
                }
                cached += 1;
            }
            if cached != zone.pcp.count() {
                return Err(("pcp count differs from its lists", zone.zone_start_pfn()));
            }
        }
        let marked = pages.iter().filter(|p| p.flags.contains(PageFlags::PG_pcp)).count() as u64;
        if marked != self.nr_pcp_pages() {
            return Err(("a PG_pcp page is on no pcp list", self.mem_map.base_pfn()));
        }
        let buddies = pages.iter().filter(|p| p.is_buddy()).count() as u64;
        let listed: u64 =
            self.node_zones.iter().flat_map(|z| z.free_area.iter()).map(|a| a.nr_free).sum();
        if buddies != listed {
            return Err(("a PG_buddy page is on no list", self.mem_map.base_pfn()));
        }
        Ok(())
    }
}

/// `page_is_buddy()`: the block at `pfn` is free, of order `order`, in zone `z`; returns its
/// mem_map index (`base` is mem_map's first PFN).
#[inline]
fn page_is_buddy(pages: &[Page], base: u64, pfn: u64, order: u32, z: usize) -> Option<u32> {
    let idx = pfn.wrapping_sub(base);
    let p = pages.get(usize::try_from(idx).ok()?)?;
    (p.is_buddy() && p.order() == order && p.zone as usize == z).then_some(idx as u32)
}

/// `buddy_merge_likely()`: if the block just freed could merge once its buddy comes back
/// (the next-larger block's buddy is free), queue it at the tail so it stays free longer.
#[inline]
fn buddy_merge_likely(
    pages: &[Page],
    base: u64,
    pfn: u64,
    buddy_pfn: u64,
    order: u32,
    z: usize,
) -> bool {
    if order as usize >= MAX_ORDER.saturating_sub(2) {
        return false;
    }
    let higher = buddy_pfn & pfn;
    page_is_buddy(pages, base, __find_buddy_pfn(higher, order + 1), order + 1, z).is_some()
}

/// `warn_alloc()` + `show_mem()`: the report Linux prints when an allocation fails,
/// for `comm` (the task name). Counters pivm does not have print as 0; zones above the
/// request's highest zone are left out, as in 6.x.
pub fn write_alloc_failure(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    order: u32,
    node: &Node<'_>,
) -> fmt::Result {
    write_warn_alloc(w, comm, gfp, format_args!("page allocation failure: order:{order}"), node)
}

/// Linux's `warn_alloc()` for any message (vmalloc uses it too): `comm: message, mode:...`,
/// then `show_mem()` for the zones the request could use.
pub fn write_warn_alloc(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    msg: fmt::Arguments<'_>,
    node: &Node<'_>,
) -> fmt::Result {
    writeln!(w, "{comm}: {msg}, mode:{:#x}({gfp}), nodemask=(null)", gfp.bits())?;
    let max_zone_idx = node.highest_zoneidx(gfp).idx();
    let shown = || node.populated_zones().filter(move |z| z.zone_type().idx() <= max_zone_idx);
    writeln!(w, "Mem-Info:")?;
    writeln!(
        w,
        "active_anon:0 inactive_anon:0 isolated_anon:0\n active_file:0 inactive_file:0 \
         isolated_file:0\n unevictable:0 dirty:0 writeback:0\n slab_reclaimable:0 \
         slab_unreclaimable:0\n mapped:0 shmem:0 pagetables:0\n sec_pagetables:0 bounce:0\n \
         kernel_misc_reclaimable:0\n free:{} free_pcp:{} free_cma:0",
        node.nr_free_pages(),
        node.nr_pcp_pages()
    )?;
    if shown().any(|z| z.is_managed()) {
        writeln!(
            w,
            "Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB \
             unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB \
             writeback:0kB shmem:0kB writeback_tmp:0kB kernel_stack:0kB pagetables:0kB \
             sec_pagetables:0kB all_unreclaimable? no"
        )?;
    }
    for z in shown() {
        writeln!(
            w,
            "{} free:{}kB boost:0kB min:{}kB low:{}kB high:{}kB reserved_highatomic:0KB \
             active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB \
             unevictable:0kB writepending:0kB present:{}kB managed:{}kB mlocked:0kB bounce:0kB \
             free_pcp:{}kB local_pcp:{}kB free_cma:0kB",
            z.name(),
            z.nr_free_pages() * KB_PER_PAGE,
            z.min_wmark_pages() * KB_PER_PAGE,
            z.low_wmark_pages() * KB_PER_PAGE,
            z.high_wmark_pages() * KB_PER_PAGE,
            z.present_pages() * KB_PER_PAGE,
            z.managed_pages() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
        )?;
        write!(w, "lowmem_reserve[]:")?;
        for r in z.lowmem_reserve() {
            write!(w, " {r}")?;
        }
        writeln!(w)?;
    }
    for z in shown() {
        write_free_area_line(w, z)?;
    }
    writeln!(w, "0 total pagecache pages")?;
    writeln!(w, "0 pages in swap cache")?;
    writeln!(w, "Free swap  = 0kB")?;
    writeln!(w, "Total swap = 0kB")?;
    let (mut total, mut reserved, mut highmem) = (0, 0, 0);
    for z in node.populated_zones() {
        total += z.present_pages();
        reserved += z.present_pages() - z.managed_pages();
        if z.is_highmem() {
            highmem += z.present_pages();
        }
    }
    writeln!(w, "{total} pages RAM")?;
    writeln!(w, "{highmem} pages HighMem/MovableOnly")?;
    writeln!(w, "{reserved} pages reserved")
}

/// `show_free_areas()`' per-zone buddy line: `Normal: 3*4kB (UM) 0*8kB ... = 12kB`, each
/// non-empty order followed by the letters of the migrate types that have blocks there.
pub fn write_free_area_line(w: &mut impl fmt::Write, z: &Zone) -> fmt::Result {
    write!(w, "{}: ", z.name())?;
    let mut total = 0;
    /// `show_migration_types()`'s letters, in migrate-type order.
    const TYPE_LETTERS: [char; MIGRATE_TYPES] = ['U', 'M', 'E'];
    for (order, nr) in z.free_area_counts().into_iter().enumerate() {
        write!(w, "{nr}*{}kB ", KB_PER_PAGE << order)?;
        if nr != 0 {
            w.write_char('(')?;
            for (mt, letter) in TYPE_LETTERS.into_iter().enumerate() {
                if z.free_area(order).is_some_and(|a| a.nr_free_of(mt) > 0) {
                    w.write_char(letter)?;
                }
            }
            w.write_str(") ")?;
        }
        total += nr << order;
    }
    writeln!(w, "= {}kB", total * KB_PER_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::gfp::zonelist;
    use crate::mm::page::PAGE_DESCRIPTOR_SIZE;
    extern crate std;
    use std::string::String;
    use std::sync::Mutex;
    use std::vec;
    use std::vec::Vec;

    const TOP: u32 = MAX_ORDER as u32 - 1;

    fn span(start: u64, end: u64) -> PfnRange {
        PfnRange { start: Pfn(start), end: Pfn(end) }
    }

    fn normal_only(start: u64, end: u64) -> Zones {
        Zones { dma: None, normal: span(start, end), highmem: None }
    }

    /// A node over `pages` with every page of every zone free.
    fn all_free<'a>(pages: &'a mut [Page], base: u64, zones: &Zones) -> Node<'a> {
        let mut node = Node::new(MemMap::new(pages, Pfn(base)).unwrap(), zones).unwrap();
        for z in ZoneType::ALL {
            let zone = node.zone(z);
            let (s, e) = (zone.zone_start_pfn(), zone.zone_end_pfn());
            node.free_bootmem_range(s, e).unwrap();
        }
        node.verify().unwrap();
        node
    }

    #[test]
    fn mobility_grouping_keeps_kernel_pages_in_their_own_pageblocks() {
        // 8 pageblocks: enough memory to group by mobility.
        let pages_nr = 8u64 << PAGEBLOCK_ORDER;
        let mut v = vec![Page::default(); pages_nr as usize];
        let mut node = all_free(&mut v, 0, &normal_only(0, pages_nr));
        assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [0, 8, 0]);
        // The first kernel page steals a whole pageblock (the largest movable block)...
        let k1 = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(node.get_pageblock_migratetype(k1), MIGRATE_UNMOVABLE);
        assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [1, 7, 0]);
        // ...and the next ones come from it, while user pages stay in movable pageblocks.
        let k2 = node.alloc_pages(GfpFlags::GFP_KERNEL, 3).unwrap();
        let u = node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
        assert_eq!(k1.0 >> PAGEBLOCK_ORDER, k2.0 >> PAGEBLOCK_ORDER);
        assert_ne!(k1.0 >> PAGEBLOCK_ORDER, u.0 >> PAGEBLOCK_ORDER);
        assert_eq!(node.get_pageblock_migratetype(u), MIGRATE_MOVABLE);
        let z = node.zone(ZoneType::Normal);
        let unmovable: u64 = (0..MAX_ORDER)
            .map(|o| z.free_area(o).unwrap().nr_free_of(MIGRATE_UNMOVABLE) << o)
            .sum();
        assert_eq!(unmovable, (1 << PAGEBLOCK_ORDER) - 1 - 8);
        // Everything merges back; the stolen pageblock stays unmovable, as in Linux.
        for (pfn, order) in [(k1, 0), (k2, 3), (u, 0)] {
            node.free_pages(pfn, order).unwrap();
        }
        node.verify().unwrap();
        assert_eq!(node.zone(ZoneType::Normal).free_area_counts()[MAX_ORDER - 1], 8);
        assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [1, 7, 0]);
    }

    #[test]
    fn small_nodes_do_not_group_by_mobility() {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 64));
        let p = node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
        let z = node.zone(ZoneType::Normal);
        assert_eq!(z.free_area(0).unwrap().nr_free_of(MIGRATE_MOVABLE), 0);
        assert_eq!(node.get_pageblock_migratetype(p), MIGRATE_UNMOVABLE);
    }

    /// Free blocks per zone as sorted (order, pfn) lists.
    fn free_blocks(node: &Node<'_>) -> Vec<Vec<(usize, u64)>> {
        node.zones()
            .iter()
            .map(|z| {
                let mut v: Vec<_> = z
                    .free_area
                    .iter()
                    .enumerate()
                    .flat_map(|(o, a)| {
                        a.iter(node.mem_map.pages()).map(move |i| (o, i)).collect::<Vec<_>>()
                    })
                    .map(|(o, i)| (o, node.mem_map.pfn_of(i).0))
                    .collect();
                v.sort_unstable();
                v
            })
            .collect()
    }

    /// Everything observable about the allocator's state.
    fn state(node: &Node<'_>) -> (Vec<Zone>, Vec<Page>) {
        (node.zones().to_vec(), node.mem_map.pages().to_vec())
    }

    /// One tag byte per page standing for its contents.
    struct FakeMemory {
        base: u64,
        tags: Mutex<Vec<u8>>,
        zeroed: Mutex<Vec<(Pfn, u32)>>,
    }

    impl FakeMemory {
        fn new(base: u64, n: usize) -> Self {
            FakeMemory { base, tags: Mutex::new(vec![0x5a; n]), zeroed: Mutex::new(Vec::new()) }
        }

        fn range(&self, pfn: Pfn, order: u32) -> core::ops::Range<usize> {
            let s = (pfn.0 - self.base) as usize;
            s..s + (1 << order)
        }

        fn write(&self, pfn: Pfn, byte: u8) {
            let i = (pfn.0 - self.base) as usize;
            self.tags.lock().unwrap()[i] = byte;
        }

        fn tag(&self, pfn: Pfn) -> u8 {
            self.tags.lock().unwrap()[(pfn.0 - self.base) as usize]
        }
    }

    impl PageMemory for FakeMemory {
        fn zero(&self, pfn: Pfn, order: u32) {
            self.zeroed.lock().unwrap().push((pfn, order));
            let r = self.range(pfn, order);
            self.tags.lock().unwrap()[r].fill(0);
        }
        fn poison(&self, pfn: Pfn, order: u32) {
            let r = self.range(pfn, order);
            self.tags.lock().unwrap()[r].fill(PAGE_POISON);
        }
        fn check_poison(&self, pfn: Pfn, order: u32) -> Option<u64> {
            let r = self.range(pfn, order);
            let tags = self.tags.lock().unwrap();
            tags[r].iter().position(|&t| t != PAGE_POISON).map(|i| i as u64 * PAGE_SIZE + 16)
        }
    }

    #[test]
    fn page_descriptor_is_16_bytes() {
        assert_eq!(PAGE_DESCRIPTOR_SIZE, 16);
    }

    #[test]
    fn new_reserves_every_page_and_sets_zones() {
        let mut v = vec![Page::default(); 64];
        let zones =
            Zones { dma: Some(span(0, 16)), normal: span(16, 40), highmem: Some(span(40, 60)) };
        let node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones).unwrap();
        assert!(node.mem_map.pages().iter().all(|p| p.is_reserved() && p.refcount() == 1));
        assert_eq!(node.page_zone(Pfn(0)), Some(ZoneType::Dma));
        assert_eq!(node.page_zone(Pfn(39)), Some(ZoneType::Normal));
        assert_eq!(node.page_zone(Pfn(40)), Some(ZoneType::HighMem));
        assert_eq!(node.page_zone(Pfn(60)), None);
        assert_eq!(node.zone(ZoneType::Normal).spanned_pages(), 24);
        assert_eq!(node.zone(ZoneType::Normal).managed_pages(), 0);
        assert_eq!(node.nr_free_pages(), 0);
        assert!(node.zone_configured(ZoneType::Dma));
    }

    #[test]
    fn new_rejects_bad_spans() {
        let mut v = vec![Page::default(); 64];
        let z = Zones { dma: None, normal: span(0, 65), highmem: None };
        assert_eq!(
            Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &z).err(),
            Some(InitError::ZoneOutsideMap { zone: ZoneType::Normal, span: span(0, 65) })
        );
        let z = Zones { dma: Some(span(0, 20)), normal: span(10, 30), highmem: None };
        assert!(matches!(
            Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &z),
            Err(InitError::ZonesOverlap { zone: ZoneType::Normal, .. })
        ));
    }

    #[test]
    fn boot_memory_goes_in_the_largest_aligned_blocks() {
        let mut v = vec![Page::default(); 2 * MAX_ORDER_NR_PAGES as usize + 128];
        let mut node =
            Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(0, v_len(2))).unwrap();
        // [3, 100): 3 | 4..8 | 8..16 | 16..32 | 32..64 | 64..96 | 96..100
        assert_eq!(node.free_bootmem_range(Pfn(3), Pfn(100)), Ok(97));
        node.verify().unwrap();
        assert_eq!(
            free_blocks(&node)[1],
            [(0, 3), (2, 4), (2, 96), (3, 8), (4, 16), (5, 32), (5, 64)]
        );
        assert_eq!(node.zone(ZoneType::Normal).managed_pages(), 97);
        assert_eq!(node.zone(ZoneType::Normal).nr_free_pages(), 97);
        // The rest, adjacent on both sides: everything merges into maximal blocks.
        node.free_bootmem_range(Pfn(0), Pfn(3)).unwrap();
        node.free_bootmem_range(Pfn(100), Pfn(v_len(2))).unwrap();
        node.verify().unwrap();
        let counts = node.zone(ZoneType::Normal).free_area_counts();
        assert_eq!(counts[MAX_ORDER - 1], 2);
        assert_eq!(counts[7], 1, "the 128-page tail");
        assert_eq!(counts.iter().sum::<u64>(), 3);
    }

    fn v_len(max_blocks: u64) -> u64 {
        max_blocks * MAX_ORDER_NR_PAGES + 128
    }

    #[test]
    fn boot_blocks_never_cross_zones() {
        let n = 2 * MAX_ORDER_NR_PAGES;
        let mut v = vec![Page::default(); n as usize];
        let zones = Zones { dma: Some(span(0, 100)), normal: span(100, n), highmem: None };
        let node = all_free(&mut v, 0, &zones);
        assert_eq!(node.zone(ZoneType::Dma).nr_free_pages(), 100);
        assert_eq!(node.zone(ZoneType::Normal).nr_free_pages(), n - 100);
        assert_eq!(free_blocks(&node)[0], [(2, 96), (5, 64), (6, 0)]);
    }

    #[test]
    fn boot_free_refuses_bad_ranges_and_changes_nothing() {
        let mut v = vec![Page::default(); 64];
        let zones = Zones { dma: None, normal: span(8, 64), highmem: None };
        let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones).unwrap();
        let before = state(&node);
        assert_eq!(
            node.free_bootmem_range(Pfn(0), Pfn(16)),
            Err(InitError::NoZone { pfn: Pfn(0) })
        );
        assert_eq!(
            node.free_bootmem_range(Pfn(60), Pfn(70)),
            Err(InitError::RangeOutsideMap { start: Pfn(60), end: Pfn(70) })
        );
        assert_eq!(state(&node), before);
        node.free_bootmem_range(Pfn(16), Pfn(32)).unwrap();
        let before = state(&node);
        assert_eq!(
            node.free_bootmem_range(Pfn(10), Pfn(20)),
            Err(InitError::NotReserved { pfn: Pfn(16) })
        );
        assert_eq!(state(&node), before);
        assert_eq!(node.free_bootmem_range(Pfn(20), Pfn(20)), Ok(0));
    }

    #[test]
    fn order_0_from_a_max_block_splits_all_the_way_and_merges_back() {
        let n = MAX_ORDER_NR_PAGES;
        let mut v = vec![Page::default(); n as usize];
        let mut node = all_free(&mut v, 0, &normal_only(0, n));
        let initial = free_blocks(&node);
        let pfn = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(pfn, Pfn(0), "expand keeps the lower half");
        let counts = node.zone(ZoneType::Normal).free_area_counts();
        assert!(counts[..MAX_ORDER - 1].iter().all(|&c| c == 1), "{counts:?}");
        assert_eq!(counts[MAX_ORDER - 1], 0);
        assert_eq!(node.nr_free_pages(), n - 1);
        let p = node.page(pfn).unwrap();
        assert_eq!((p.refcount(), p.order(), p.is_buddy()), (1, 0, false));
        node.verify().unwrap();
        node.free_pages(pfn, 0).unwrap();
        node.verify().unwrap();
        assert_eq!(free_blocks(&node), initial);
        assert_eq!(node.nr_free_pages(), n);
    }

    #[test]
    fn every_order_can_be_allocated_and_freed() {
        let n = 2 * MAX_ORDER_NR_PAGES;
        let mut v = vec![Page::default(); n as usize];
        let mut node = all_free(&mut v, 0, &normal_only(0, n));
        let initial = free_blocks(&node);
        let mut got = Vec::new();
        for order in 0..=TOP {
            let pfn = node.alloc_pages(GfpFlags::GFP_KERNEL, order).unwrap();
            assert_eq!(pfn.0 % (1 << order), 0, "aligned to its order");
            got.push((pfn, order));
            node.verify().unwrap();
        }
        for (pfn, order) in got.into_iter().rev() {
            node.free_pages(pfn, order).unwrap();
        }
        node.verify().unwrap();
        assert_eq!(free_blocks(&node), initial);
    }

    #[test]
    fn exhaustion_reports_no_memory() {
        let mut v = vec![Page::default(); 8];
        let mut node = all_free(&mut v, 0, &normal_only(0, 8));
        assert_eq!(
            node.alloc_pages(GfpFlags::GFP_KERNEL, 4),
            Err(AllocError::NoMemory { gfp: GfpFlags::GFP_KERNEL, order: 4 })
        );
        for _ in 0..8 {
            node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        }
        let e = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap_err();
        assert!(e.should_warn());
        assert!(!AllocError::NoMemory {
            gfp: GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN,
            order: 0
        }
        .should_warn());
        assert_eq!(
            std::format!("{e}"),
            "page allocation failure: order:0, mode:0xcc0(GFP_KERNEL), nodemask=(null)"
        );
    }

    #[test]
    fn invalid_requests_are_errors() {
        let mut v = vec![Page::default(); 8];
        let mut node = all_free(&mut v, 0, &normal_only(0, 8));
        let e = node.alloc_pages(GfpFlags::GFP_KERNEL, 99).unwrap_err();
        assert_eq!(e, AllocError::InvalidOrder { gfp: GfpFlags::GFP_KERNEL, order: 99 });
        assert!(!e.should_warn());
        assert!(std::format!("{e}").starts_with("alloc_pages: order:99 is too large"));
        let bad = GfpFlags::__GFP_DMA | GfpFlags::__GFP_HIGHMEM;
        let e = node.alloc_pages(bad, 0).unwrap_err();
        assert_eq!(e, AllocError::BadGfp { gfp: bad, order: 0 });
        assert_eq!(
            std::format!("{e}"),
            "alloc_pages: mode:0x3(GFP_DMA|__GFP_HIGHMEM) asks for more than one zone"
        );
        assert_eq!(node.nr_free_pages(), 8);
    }

    fn three_zones() -> Zones {
        Zones { dma: Some(span(0, 256)), normal: span(256, 1024), highmem: Some(span(1024, 2048)) }
    }

    #[test]
    fn zone_fallback_follows_gfp() {
        let mut v = vec![Page::default(); 2048];
        let mut node = all_free(&mut v, 0, &three_zones());
        let zone_of = |n: &Node<'_>, p| n.page_zone(p).unwrap();
        let p = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
        assert_eq!(zone_of(&node, p), ZoneType::HighMem);
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(zone_of(&node, p), ZoneType::Normal);
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::GFP_DMA, 0).unwrap();
        assert_eq!(zone_of(&node, p), ZoneType::Dma);
        // Drain HighMem: GFP_HIGHUSER falls back to Normal, then DMA.
        while node.zone(ZoneType::HighMem).nr_free_pages() > 0 {
            let p = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
            assert_eq!(zone_of(&node, p), ZoneType::HighMem);
        }
        let p = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
        assert_eq!(zone_of(&node, p), ZoneType::Normal);
        while node.zone(ZoneType::Normal).nr_free_pages() > 0 {
            let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
            assert_eq!(zone_of(&node, p), ZoneType::Normal);
        }
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(zone_of(&node, p), ZoneType::Dma);
        node.verify().unwrap();
    }

    #[test]
    fn absent_zones_stand_for_normal() {
        let mut v = vec![Page::default(); 512];
        let mut node = all_free(&mut v, 0, &normal_only(0, 512));
        assert!(!node.zone_configured(ZoneType::Dma));
        assert_eq!(node.highest_zoneidx(GfpFlags::GFP_DMA), ZoneType::Normal);
        assert_eq!(node.highest_zoneidx(GfpFlags::GFP_HIGHUSER), ZoneType::Normal);
        node.alloc_pages(GfpFlags::GFP_DMA, 0).unwrap();
        node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
    }

    #[test]
    fn the_sample_board_layout_serves_gfp_kernel_from_dma() {
        // Linux 6.1 on the raspi2b, 3G split: DMA is all lowmem, Normal is empty.
        let mut v = vec![Page::default(); 2048];
        let zones = Zones {
            dma: Some(span(0, 1536)),
            normal: span(1536, 1536),
            highmem: Some(span(1536, 2048)),
        };
        let mut node = all_free(&mut v, 0, &zones);
        node.init_per_zone_wmark_min();
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(node.page_zone(p), Some(ZoneType::Dma));
        assert_eq!(node.zone(ZoneType::Dma).lowmem_reserve(), [0, 0, 512 / 256]);
    }

    #[test]
    fn watermarks_stop_ordinary_requests_first() {
        let mut v = vec![Page::default(); 4096];
        let mut node = all_free(&mut v, 0, &normal_only(0, 4096));
        node.set_min_free_kbytes(400); // min 100 pages, low 125, high 150
        let z = node.zone(ZoneType::Normal);
        assert_eq!(
            (z.min_wmark_pages(), z.low_wmark_pages(), z.high_wmark_pages()),
            (100, 125, 150)
        );
        let free = |n: &Node<'_>| n.zone(ZoneType::Normal).nr_free_pages();
        while node.alloc_pages(GfpFlags::GFP_KERNEL, 0).is_ok() {}
        // The slow path checks against min: the last success left free > 100.
        assert_eq!(free(&node), 100);
        // __GFP_HIGH may use half of min, GFP_ATOMIC a further quarter: 100 -> 50 -> 38.
        while node.alloc_pages(GfpFlags::__GFP_HIGH, 0).is_ok() {}
        assert_eq!(free(&node), 50);
        while node.alloc_pages(GfpFlags::GFP_ATOMIC, 0).is_ok() {}
        assert_eq!(free(&node), 38);
        // __GFP_NOMEMALLOC takes ALLOC_HARDER away; __GFP_MEMALLOC ignores watermarks.
        while node.alloc_pages(GfpFlags::__GFP_MEMALLOC, 0).is_ok() {}
        assert_eq!(free(&node), 0);
        node.verify().unwrap();
    }

    #[test]
    fn lowmem_reserve_protects_normal_from_highmem_requests() {
        let mut v = vec![Page::default(); 2048];
        let zones = Zones { dma: None, normal: span(0, 1024), highmem: Some(span(1024, 2048)) };
        let mut node = all_free(&mut v, 0, &zones);
        node.set_lowmem_reserve_ratio([256, 4, 0]); // Normal keeps 1024 / 4 = 256 from HighMem users
        assert_eq!(node.zone(ZoneType::Normal).lowmem_reserve(), [0, 0, 256]);
        let mut in_normal = 0;
        while let Ok(p) = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0) {
            in_normal += (node.page_zone(p) == Some(ZoneType::Normal)) as u64;
        }
        assert_eq!(node.zone(ZoneType::HighMem).nr_free_pages(), 0);
        assert_eq!(in_normal, 1024 - 256);
        assert_eq!(node.zone(ZoneType::Normal).nr_free_pages(), 256);
        // A lowmem request may still have them.
        node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    }

    fn expect_bad(node: &mut Node<'_>, pfn: u64, order: u32, reason: BadPageReason) -> FreeError {
        let before = state(node);
        let e = node.free_pages(Pfn(pfn), order).unwrap_err();
        assert_eq!(e.reason, reason, "{e}");
        assert_eq!(state(node), before, "a refused free changed the state");
        e
    }

    #[test]
    fn bad_frees_are_refused_and_change_nothing() {
        let mut v = vec![Page::default(); 1024];
        let mut node =
            Node::new(MemMap::new(&mut v, Pfn(0x100)).unwrap(), &normal_only(0x100, 0x500))
                .unwrap();
        node.free_bootmem_range(Pfn(0x200), Pfn(0x500)).unwrap();
        let a = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
        let b = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        expect_bad(&mut node, 0x50, 0, BadPageReason::OutOfRange);
        expect_bad(&mut node, 0x600, 0, BadPageReason::OutOfRange);
        expect_bad(&mut node, a.0, MAX_ORDER as u32, BadPageReason::InvalidOrder);
        expect_bad(&mut node, a.0 + 2, 1, BadPageReason::NotAllocated);
        expect_bad(&mut node, a.0 + 1, 1, BadPageReason::Misaligned);
        expect_bad(&mut node, a.0 + 1, 0, BadPageReason::NotAllocated);
        expect_bad(&mut node, a.0, 1, BadPageReason::WrongOrder { allocated: 2 });
        expect_bad(&mut node, a.0, 3, BadPageReason::WrongOrder { allocated: 2 });
        expect_bad(&mut node, 0x100, 0, BadPageReason::FlagsCheckAtFree);
        // A free page, and a page inside a free block, are double frees.
        let areas = &node.zone(ZoneType::Normal).free_area;
        let free_head = areas.iter().rev().find_map(|a| a.first(MIGRATE_UNMOVABLE)).unwrap();
        let free_head = node.mem_map.pfn_of(free_head).0;
        expect_bad(&mut node, free_head, 0, BadPageReason::DoubleFree);
        expect_bad(&mut node, free_head + 5, 0, BadPageReason::DoubleFree);
        node.free_pages(b, 0).unwrap();
        expect_bad(&mut node, b.0, 0, BadPageReason::DoubleFree);
        node.free_pages(a, 2).unwrap();
        expect_bad(&mut node, a.0, 2, BadPageReason::DoubleFree);
        node.verify().unwrap();
        assert_eq!(node.nr_free_pages(), 0x300);
    }

    #[test]
    fn bad_page_report_reads_like_linux() {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0x3f000, &normal_only(0x3f000, 0x3f040));
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        node.free_pages(p, 0).unwrap();
        let e = node.free_pages(p, 0).unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "BUG: Bad page state in process swapper/0  pfn:3f000\n\
             page:(ptrval) refcount:0 mapcount:0 mapping:00000000 index:0x0 pfn:0x3f000\n\
             flags: 0x2(buddy|zone=1)\n\
             page dumped because: double free: page is already on a buddy free list"
        );
        let e = node.free_pages(Pfn(0x12), 0).unwrap_err();
        let mut s = String::new();
        e.write_report(&mut s, "sh").unwrap();
        assert_eq!(
            s,
            "BUG: Bad page state in process sh  pfn:00012\n\
             page dumped because: pfn outside mem_map (no struct page)"
        );
        let mut v = vec![Page::default(); 64];
        let mut node =
            Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(0, 64)).unwrap();
        let e = node.free_pages(Pfn(3), 0).unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "BUG: Bad page state in process swapper/0  pfn:00003\n\
             page:(ptrval) refcount:1 mapcount:0 mapping:00000000 index:0x0 pfn:0x3\n\
             flags: 0x1(reserved|zone=1)\n\
             page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
        );
    }

    #[test]
    fn compound_pages_have_linked_tails() {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 64));
        let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_COMP;
        let p = node.alloc_pages(gfp, 3).unwrap();
        assert!(node.page(p).unwrap().flags().contains(PageFlags::PG_head));
        for i in 1..8 {
            assert_eq!(node.compound_head(Pfn(p.0 + i)), Some(p));
        }
        assert_eq!(node.compound_head(p), Some(p));
        let e = expect_bad(&mut node, p.0 + 4, 0, BadPageReason::TailPage { head: p });
        assert_eq!(e.compound_order, Some(3));
        assert!(std::format!("{e}").contains(
            "head:(ptrval) order:3 compound_mapcount:0 compound_pincount:0\nflags: 0x10(tail|zone=1)"
        ));
        expect_bad(&mut node, p.0, 2, BadPageReason::WrongOrder { allocated: 3 });
        // A corrupted tail is caught.
        node.mem_map.pages_mut()[(p.0 + 5) as usize].lru_next = 0x3f;
        expect_bad(&mut node, p.0, 3, BadPageReason::CorruptTail { tail: Pfn(p.0 + 5) });
        node.mem_map.pages_mut()[(p.0 + 5) as usize].lru_next = p.0 as u32;
        node.free_pages(p, 3).unwrap();
        node.verify().unwrap();
        assert!(node.mem_map.pages().iter().all(|q| q.compound_head_index().is_none()));
        // Order 0 with __GFP_COMP is a plain page.
        let p = node.alloc_pages(gfp, 0).unwrap();
        assert!(!node.page(p).unwrap().flags().contains(PageFlags::PG_head));
    }

    #[test]
    fn slab_marking() {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 64));
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
        assert_eq!(
            node.set_slab(p, 1).unwrap_err().reason,
            BadPageReason::WrongOrder { allocated: 2 }
        );
        node.set_slab(p, 2).unwrap();
        assert!(node.page(p).unwrap().is_slab());
        assert_eq!(node.compound_head(Pfn(p.0 + 3)), Some(p));
        expect_bad(&mut node, p.0, 2, BadPageReason::FlagsCheckAtFree);
        assert_eq!(node.clear_slab(Pfn(p.0 + 1)).unwrap_err().reason, BadPageReason::NotSlab);
        node.clear_slab(p).unwrap();
        assert_eq!(node.compound_head(Pfn(p.0 + 3)), Some(Pfn(p.0 + 3)));
        node.free_pages(p, 2).unwrap();
        assert_eq!(node.clear_slab(p).unwrap_err().reason, BadPageReason::NotSlab);
        node.verify().unwrap();
    }

    #[test]
    fn gfp_zero_and_page_poisoning_use_page_memory() {
        let mem = FakeMemory::new(0, 64);
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 64));
        node.set_page_memory(&mem);
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 1).unwrap();
        assert_eq!(*mem.zeroed.lock().unwrap(), [(p, 1)]);
        assert_eq!(mem.tag(p), 0);
        node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(mem.zeroed.lock().unwrap().len(), 1, "only __GFP_ZERO zeroes");

        node.enable_page_poisoning();
        node.free_pages(p, 1).unwrap();
        assert_eq!((mem.tag(p), mem.tag(Pfn(p.0 + 1))), (PAGE_POISON, PAGE_POISON));
        assert!(node.page(Pfn(p.0 + 1)).unwrap().flags().contains(PageFlags::PG_poisoned));
        // A use after free.
        mem.write(Pfn(p.0 + 1), 0x42);
        let q = node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
        assert_eq!(q, p, "the freed block comes back first");
        let (count, last) = node.poison_corruptions();
        assert_eq!(count, 1);
        assert_eq!(last, Some(PoisonCorruption { pfn: Pfn(p.0 + 1), offset: 16 }));
        assert_eq!(
            std::format!("{}", last.unwrap()),
            "pagealloc: memory corruption at pfn:0x1 offset:0x10 (page written after free)"
        );
        assert!(node.take_poison_corruption().is_some());
        assert!(node.take_poison_corruption().is_none());
        assert!(!node.page(Pfn(p.0 + 1)).unwrap().flags().contains(PageFlags::PG_poisoned));
        // Untouched poison passes.
        node.free_pages(q, 1).unwrap();
        node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
        assert_eq!(node.poison_corruptions().0, 1);
        node.verify().unwrap();
    }

    #[test]
    fn linear_map_addresses() {
        let mut v = vec![Page::default(); 2048];
        let mut node = all_free(&mut v, 0, &three_zones());
        node.set_linear_map(LinearMap {
            page_offset: VirtAddr(0xc000_0000),
            phys_offset: PhysAddr(0),
        });
        let va = node.__get_free_pages(GfpFlags::GFP_HIGHUSER, 1).unwrap();
        let pfn = node.virt_to_pfn(va).unwrap();
        assert_eq!(node.page_zone(pfn), Some(ZoneType::Normal), "__get_free_pages is lowmem");
        assert_eq!(node.page_address(pfn), Some(va));
        assert_eq!(va.0, 0xc000_0000 + pfn.0 * PAGE_SIZE);
        let high = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
        assert_eq!(node.page_address(high), None, "highmem needs kmap");
        assert!(node.page_is_highmem(high));
        assert_eq!(node.virt_to_pfn(VirtAddr(0xc000_0000 + 1500 * PAGE_SIZE)), None);
        assert_eq!(node.virt_to_pfn(VirtAddr(0x1000)), None);
        let e = node.free_pages_addr(VirtAddr(va.0 + 8), 1).unwrap_err();
        assert_eq!(e.reason, BadPageReason::Misaligned);
        let e = node.free_pages_addr(VirtAddr(0x8000), 0).unwrap_err();
        assert_eq!(e.reason, BadPageReason::BadAddress(VirtAddr(0x8000)));
        assert!(std::format!("{e}").ends_with("address 0x00008000 is not in the linear map"));
        node.free_pages_addr(va, 1).unwrap();
        node.free_pages_addr(VirtAddr(0), 3).unwrap();
        let z = node.get_zeroed_page(GfpFlags::GFP_KERNEL).unwrap();
        node.free_pages_addr(z, 0).unwrap();
        node.verify().unwrap();
    }

    #[test]
    fn from_memblock_hands_over_free_memory() {
        let mut mb = Memblock::new();
        mb.add(0, 8 << 20).unwrap(); // 2048 pages
        mb.add(12 << 20, 4 << 20).unwrap(); // a 4 MiB hole, then 1024 pages
        mb.reserve(0, 0x8000, "vectors").unwrap(); // 8 pages
        mb.reserve(0x10_0000, 0x20_1000, "kernel").unwrap(); // 513 pages
        let zones = Zones { dma: None, normal: span(0, 2560), highmem: Some(span(2560, 4096)) };
        let mut v = vec![Page::default(); 4096];
        let node = Node::from_memblock(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones, &mb).unwrap();
        node.verify().unwrap();
        let normal = node.zone(ZoneType::Normal);
        let high = node.zone(ZoneType::HighMem);
        assert_eq!((normal.spanned_pages(), normal.present_pages()), (2560, 2048));
        assert_eq!(normal.managed_pages(), 2048 - 8 - 513);
        assert_eq!(
            (high.spanned_pages(), high.present_pages(), high.managed_pages()),
            (1536, 1024, 1024)
        );
        assert_eq!(node.totalram_pages(), 2048 - 521 + 1024);
        assert_eq!(node.nr_free_pages(), node.totalram_pages());
        assert_eq!(node.totalhigh_pages(), 1024);
        assert_eq!(node.node_present_pages(), 3072);
        assert_eq!(node.node_spanned_pages(), 4096);
        assert!(node.min_free_kbytes() >= 128);
        assert!(normal.min_wmark_pages() > 0);
        assert_eq!(normal.lowmem_reserve(), [0, 0, 1024 / 32]);
        assert!(node.page(Pfn(0x100)).unwrap().is_reserved(), "the kernel stays reserved");
        assert!(node.page(Pfn(2100)).unwrap().is_reserved(), "holes stay reserved");
        assert!(node.totalreserve_pages() > 0);
    }

    #[test]
    fn failure_report_golden() {
        let mut v = vec![Page::default(); 1536];
        let zones = Zones { dma: None, normal: span(0, 1024), highmem: Some(span(1024, 1536)) };
        let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(16), Pfn(1536)).unwrap();
        node.init_per_zone_wmark_min();
        let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_COMP;
        let e = node.alloc_pages(gfp, TOP).unwrap_err();
        assert!(e.should_warn());
        let mut s = String::new();
        write_alloc_failure(&mut s, "sh", e.gfp(), e.order(), &node).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            std::format!(
                "sh: page allocation failure: order:{TOP}, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), \
                 nodemask=(null)"
            )
        );
        assert_eq!(lines[1], "Mem-Info:");
        assert_eq!(lines[2], "active_anon:0 inactive_anon:0 isolated_anon:0");
        assert_eq!(lines[9], " free:1520 free_pcp:0 free_cma:0");
        assert!(lines[10].starts_with("Node 0 active_anon:0kB inactive_anon:0kB"));
        assert!(lines[10].ends_with("sec_pagetables:0kB all_unreclaimable? no"));
        // GFP_KERNEL cannot use HighMem, so only Normal is shown (6.x's max_zone_idx filter).
        assert_eq!(
            lines[11],
            "Normal free:4032kB boost:0kB min:252kB low:312kB high:372kB \
             reserved_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB \
             inactive_file:0kB unevictable:0kB writepending:0kB present:4096kB managed:4032kB \
             mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB"
        );
        assert_eq!(lines[12], "lowmem_reserve[]: 0 0 16");
        let mut expect = String::from("Normal: ");
        let counts = node.zone(ZoneType::Normal).free_area_counts();
        for (o, n) in counts.iter().enumerate() {
            expect += &std::format!("{n}*{}kB {}", 4 << o, if *n > 0 { "(U) " } else { "" });
        }
        expect += "= 4032kB";
        assert_eq!(lines[13], expect);
        assert_eq!(
            &lines[14..],
            [
                "0 total pagecache pages",
                "0 pages in swap cache",
                "Free swap  = 0kB",
                "Total swap = 0kB",
                "1536 pages RAM",
                "512 pages HighMem/MovableOnly",
                "16 pages reserved",
            ]
        );
        // A HighMem-capable request shows both zones.
        let mut s = String::new();
        write_alloc_failure(&mut s, "sh", GfpFlags::GFP_HIGHUSER, 0, &node).unwrap();
        assert!(s.contains("\nHighMem free:2048kB boost:0kB min:128kB"), "{s}");
        assert!(s.contains("\nHighMem: "));
    }

    #[test]
    fn buddy_line_format() {
        let mut v = vec![Page::default(); 64];
        let mut node =
            Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(0, 64)).unwrap();
        node.free_bootmem_range(Pfn(3), Pfn(12)).unwrap();
        let mut s = String::new();
        write_free_area_line(&mut s, node.zone(ZoneType::Normal)).unwrap();
        let mut expect = String::from("Normal: 1*4kB (U) 0*8kB 2*16kB (U) ");
        for o in 3..MAX_ORDER {
            expect += &std::format!("0*{}kB ", 4 << o);
        }
        expect += "= 36kB\n";
        assert_eq!(s, expect);
    }

    #[test]
    fn freed_blocks_that_may_merge_soon_go_to_the_tail() {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 64));
        // Split so that order-0 pages 0 and 1 are allocated, 2..4 free as order 1 and 4..8
        // as order 2 ...
        let a = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        let b = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        let c = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        let d = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!([a, b, c, d], [Pfn(0), Pfn(1), Pfn(2), Pfn(3)]);
        let e = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap(); // 4; 5 free, 6..8 free
        let f = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap(); // 5
        let _ = (e, f);
        // Free 2: its buddy 3 is allocated, and the order-1 buddy of {2,3} ({0,1}) is not
        // free: head of the list. Free 0: buddy 1 allocated; {0,1}'s buddy {2,3} not free as
        // an order-1 block either: head.
        node.free_pages(c, 0).unwrap();
        assert_eq!(node.zone(ZoneType::Normal).free_area[0].first(MIGRATE_UNMOVABLE), Some(2));
        node.free_pages(d, 0).unwrap(); // merges with 2 into {2,3}, order 1
                                        // Free 0 now: buddy 1 allocated, but {0,1}'s buddy {2,3} is free at order 1: tail.
        node.free_pages(a, 0).unwrap();
        let list: Vec<u32> =
            node.zone(ZoneType::Normal).free_area[0].iter(node.mem_map.pages()).collect();
        assert_eq!(list.last(), Some(&0));
        node.verify().unwrap();
    }

    #[test]
    fn pcp_limits_follow_linux() {
        // The raspi2b 3G sample's DMA zone (189784 managed pages): batch 63, as Linux 6.1
        // prints in /proc/zoneinfo; large zones stop at 63, small ones at 0 (no cache).
        assert_eq!(zone_batchsize(189_784), 63);
        assert_eq!(zone_batchsize(1 << 20), 63);
        assert_eq!(zone_batchsize(94_000), 31);
        assert_eq!(zone_batchsize(8192), 1);
        assert_eq!(zone_batchsize(8191), 0);
        // high: the low watermark shared among the CPUs, at least four batches.
        assert_eq!(zone_highsize(1512, 63, 4), 378);
        assert_eq!(zone_highsize(400, 63, 4), 252);
        assert_eq!(zone_highsize(400, 63, 0), 400);
    }

    #[test]
    fn order_0_pages_go_through_the_per_cpu_lists() {
        let n = 1 << 16;
        let mut v = vec![Page::default(); n];
        let mut node = all_free(&mut v, 0, &normal_only(0, n as u64));
        let initial = free_blocks(&node);
        node.init_per_zone_wmark_min();
        node.set_nr_cpus(4);
        let pcp = *node.zone(ZoneType::Normal).pcp();
        assert_eq!(pcp.batch(), 15);
        assert_eq!(pcp.high(), (node.zone(ZoneType::Normal).low_wmark_pages() / 4).max(60));
        let free = |node: &Node<'_>| node.zone(ZoneType::Normal).nr_free_pages();
        let count = |node: &Node<'_>| node.zone(ZoneType::Normal).pcp().count();
        // The first allocation takes a batch; the rest of it stays cached and out of MemFree.
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!((count(&node), free(&node)), (14, n as u64 - 15));
        node.free_pages(p, 0).unwrap();
        assert_eq!(count(&node), 15);
        // The page just freed is the next one handed out (hot).
        assert_eq!(node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap(), p);
        node.free_pages(p, 0).unwrap();
        // A cached page freed again is a double free, and nothing changes.
        let before = state(&node);
        assert_eq!(node.free_pages(p, 0).unwrap_err().reason, BadPageReason::DoubleFree);
        assert_eq!(state(&node), before);
        // Past `high`, frees give a batch back: the cache never holds `high` pages.
        let got: Vec<Pfn> = (0..3 * pcp.high())
            .map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap())
            .collect();
        for p in got {
            node.free_pages(p, 0).unwrap();
            assert!(count(&node) < pcp.high());
        }
        node.verify().unwrap();
        // Drained, everything merges back to where it started.
        let cached = count(&node);
        assert_eq!(cached + free(&node), n as u64);
        assert_eq!(node.drain_all_pages(), cached);
        assert_eq!((count(&node), free(&node)), (0, n as u64));
        node.verify().unwrap();
        assert_eq!(free_blocks(&node), initial);
    }

    #[test]
    fn bulk_frees_double_until_an_allocation() {
        // 6.1's nr_pcp_free: batch << free_factor, between batch and high - batch.
        use crate::mm::zone::PerCpuPages;
        let mut pcp = PerCpuPages { high: 100, batch: 7, ..PerCpuPages::EMPTY };
        let frees: Vec<u64> = (0..6).map(|_| pcp.nr_pcp_free()).collect();
        assert_eq!(frees, [7, 14, 28, 56, 93, 93]);
        // A cache whose high is below its batch gives back one page at a time; one whose
        // high is below two batches gets high - batch (clamp's upper bound wins).
        let mut tiny = PerCpuPages { high: 3, batch: 7, ..PerCpuPages::EMPTY };
        assert_eq!(tiny.nr_pcp_free(), 1);
        let mut small = PerCpuPages { high: 10, batch: 7, ..PerCpuPages::EMPTY };
        assert_eq!(small.nr_pcp_free(), 3);

        let mut v = vec![Page::default(); 4096];
        let mut node = all_free(&mut v, 0, &normal_only(0, 4096));
        let z = &mut node.node_zones[ZoneType::Normal.idx()];
        (z.pcp.batch, z.pcp.high) = (7, 40);
        let got: Vec<Pfn> =
            (0..200).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()).collect();
        let count = |node: &Node<'_>| node.zone(ZoneType::Normal).pcp().count();
        let mut after_bulk = Vec::new();
        for p in got {
            let before = count(&node);
            node.free_pages(p, 0).unwrap();
            if count(&node) < before {
                after_bulk.push(count(&node));
            }
        }
        // high 40: the first bulk free gives back 7 (33 left), the next 14 from 40 (26),
        // then 28 from 40 (12); high - batch = 33 caps the rest (7 left).
        assert_eq!(after_bulk[..4], [33, 26, 12, 7]);
        // The factor stopped growing at 3 (7 << 3 is past the cap); an allocation halves it.
        assert_eq!(node.zone(ZoneType::Normal).pcp().free_factor, 3);
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
        assert_eq!(node.zone(ZoneType::Normal).pcp().free_factor, 1);
        node.free_pages(p, 0).unwrap();
        node.verify().unwrap();
    }

    #[test]
    fn bulk_free_empties_the_list_it_was_asked_for_first() {
        // Enough pageblocks for mobility grouping (three), whatever MAX_ORDER is.
        let n = (MIGRATE_TYPES as u64) << PAGEBLOCK_ORDER;
        let mut v = vec![Page::default(); n as usize];
        let mut node = all_free(&mut v, 0, &normal_only(0, n));
        let z = &mut node.node_zones[ZoneType::Normal.idx()];
        (z.pcp.batch, z.pcp.high) = (4, 1000);
        let kernel: Vec<Pfn> =
            (0..8).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()).collect();
        let user: Vec<Pfn> =
            (0..8).map(|_| node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap()).collect();
        for &p in kernel.iter().chain(&user) {
            node.free_pages(p, 0).unwrap();
        }
        let lists = |node: &Node<'_>| {
            let pcp = &node.zone(ZoneType::Normal).pcp().lists;
            [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE].map(|mt| pcp.nr_free_of(mt))
        };
        assert_eq!(lists(&node), [8, 8]);
        // Ten pages from the movable list first: it empties, then two unmovable ones go.
        node.free_pcppages_bulk(ZoneType::Normal.idx(), 10, MIGRATE_MOVABLE);
        assert_eq!(lists(&node), [6, 0]);
        node.verify().unwrap();
    }

    #[test]
    fn a_high_order_request_drains_the_lists_before_it_fails() {
        // Two blocks of the largest order (4 MiB each with MAX_ORDER 11).
        let n = 2 << (MAX_ORDER - 1);
        let mut v = vec![Page::default(); n];
        let mut node = all_free(&mut v, 0, &normal_only(0, n as u64));
        let z = &mut node.node_zones[ZoneType::Normal.idx()];
        (z.pcp.batch, z.pcp.high) = (7, 2 * n as u64);
        let got: Vec<Pfn> =
            (0..n).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()).collect();
        for p in got {
            node.free_pages(p, 0).unwrap();
        }
        // Every page is cached, none counted free: only draining can find a largest block.
        assert_eq!(node.nr_pcp_pages(), n as u64);
        assert_eq!(node.nr_free_pages(), 0);
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, MAX_ORDER as u32 - 1).unwrap();
        assert_eq!(node.nr_pcp_pages(), 0);
        node.free_pages(p, MAX_ORDER as u32 - 1).unwrap();
        node.verify().unwrap();
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        const BASE: u64 = 0x300;
        const N: u64 = 4096;
        /// DMA 0x300..0x500, Normal ..0xb00, HighMem ..0x1300, with reserved holes.
        fn zones() -> Zones {
            Zones {
                dma: Some(span(BASE, 0x500)),
                normal: span(0x500, 0xb00),
                highmem: Some(span(0xb00, BASE + N)),
            }
        }
        /// Ranges handed to the allocator (the rest stays reserved).
        const FREE: [(u64, u64); 5] =
            [(0x305, 0x4f0), (0x4f0, 0x700), (0x720, 0xb00), (0xb00, 0xd13), (0xd40, BASE + N)];
        const RESERVED_PFN: u64 = 0x710;

        const GFPS: [GfpFlags; 5] = [
            GfpFlags::GFP_KERNEL,
            GfpFlags::GFP_HIGHUSER,
            GfpFlags::GFP_DMA,
            GfpFlags::GFP_ATOMIC,
            GfpFlags::GFP_HIGHUSER_MOVABLE,
        ];

        #[derive(Clone, Debug)]
        enum Op {
            Alloc { order: u32, gfp: usize },
            Free { pick: usize },
            DoubleFree { pick: usize },
            BadFree { pick: usize, kind: u8 },
        }

        fn op() -> impl Strategy<Value = Op> {
            let order = prop_oneof![6 => 0u32..3, 3 => 0u32..7, 1 => 0..MAX_ORDER as u32];
            prop_oneof![
                5 => (order, 0..GFPS.len()).prop_map(|(order, gfp)| Op::Alloc { order, gfp }),
                4 => any::<usize>().prop_map(|pick| Op::Free { pick }),
                1 => any::<usize>().prop_map(|pick| Op::DoubleFree { pick }),
                1 => (any::<usize>(), 0u8..5).prop_map(|(pick, kind)| Op::BadFree { pick, kind }),
            ]
        }

        /// The reference: which pages exist for the allocator and who holds each.
        struct Model {
            /// Per page: handed to the allocator at boot.
            managed: Vec<bool>,
            /// Per page: the head PFN of the block holding it.
            owner: Vec<Option<u64>>,
            live: Vec<(Pfn, u32)>,
            freed: Vec<(Pfn, u32)>,
        }

        impl Model {
            fn i(pfn: u64) -> usize {
                (pfn - BASE) as usize
            }

            fn is_free(&self, pfn: u64) -> bool {
                self.managed[Self::i(pfn)] && self.owner[Self::i(pfn)].is_none()
            }

            /// The zone an eager buddy allocator with per-CPU lists must serve `order` from:
            /// the first in the zonelist with a fully free aligned block of that order that
            /// the lists do not hold (for order 0, also a page on the list of the request's
            /// type); failing that, once the lists are drained, the first with any fully free
            /// aligned block.
            fn expected_zone(
                &self,
                node: &Node<'_>,
                order: u32,
                highest: ZoneType,
                mt: usize,
            ) -> Option<ZoneType> {
                let cached = |p: u64| {
                    node.mem_map
                        .pfn_to_page(Pfn(p))
                        .is_some_and(|q| q.flags.contains(PageFlags::PG_pcp))
                };
                let has_block = |zt: ZoneType, usable: &dyn Fn(u64) -> bool| {
                    let size = 1u64 << order;
                    let z = node.zone(zt);
                    let (s, e) = (z.zone_start_pfn().0, z.zone_end_pfn().0);
                    let mut start = s.div_ceil(size) * size;
                    while start + size <= e {
                        if (start..start + size).all(usable) {
                            return true;
                        }
                        start += size;
                    }
                    false
                };
                // The watermark check counts NR_FREE_PAGES, which leaves the lists out: a
                // zone whose free pages are all cached is passed over, as in Linux.
                let on_own_list = |zt: ZoneType| {
                    let z = node.zone(zt);
                    order == 0 && z.nr_free_pages() > 0 && z.pcp.lists.first(mt).is_some()
                };
                let uncached = |p: u64| self.is_free(p) && !cached(p);
                zonelist(highest).find(|&zt| on_own_list(zt) || has_block(zt, &uncached)).or_else(
                    || {
                        let any_free = |p: u64| self.is_free(p);
                        (node.nr_pcp_pages() > 0)
                            .then(|| zonelist(highest).find(|&zt| has_block(zt, &any_free)))
                            .flatten()
                    },
                )
            }

            fn free_in_zone(&self, node: &Node<'_>, zt: ZoneType) -> u64 {
                let z = node.zone(zt);
                (z.zone_start_pfn().0..z.zone_end_pfn().0).filter(|&p| self.is_free(p)).count()
                    as u64
            }
        }

        fn check_bad(node: &mut Node<'_>, pfn: Pfn, order: u32) {
            let before = state(node);
            let r = node.free_pages(pfn, order);
            assert!(r.is_err(), "bad free of {pfn:?} order {order} accepted");
            assert_eq!(state(node), before, "refused free changed the state");
        }

        fn run(ops: &[Op], shuffle_seed: u64) {
            let mut v = vec![Page::default(); N as usize];
            let mut node = Node::new(MemMap::new(&mut v, Pfn(BASE)).unwrap(), &zones()).unwrap();
            // Small per-CPU lists, so that refills and drains happen all the time.
            for z in &mut node.node_zones {
                z.pcp.batch = 7;
                z.pcp.high = 20;
            }
            let mut m = Model {
                managed: vec![false; N as usize],
                owner: vec![None; N as usize],
                live: Vec::new(),
                freed: Vec::new(),
            };
            for (s, e) in FREE {
                node.free_bootmem_range(Pfn(s), Pfn(e)).unwrap();
                for p in s..e {
                    m.managed[Model::i(p)] = true;
                }
            }
            node.verify().unwrap();
            let initial = free_blocks(&node);

            for (step, op) in ops.iter().enumerate() {
                match *op {
                    Op::Alloc { order, gfp } => {
                        let gfp = GFPS[gfp];
                        let highest = node.highest_zoneidx(gfp);
                        let mt = gfp_migratetype(gfp);
                        let want = m.expected_zone(&node, order, highest, mt);
                        match node.alloc_pages(gfp, order) {
                            Ok(pfn) => {
                                let zt = node.page_zone(pfn).unwrap();
                                assert_eq!(Some(zt), want, "{gfp} order {order} from {zt:?}");
                                assert!(zt <= highest, "zone above the request's");
                                assert_eq!(pfn.0 % (1 << order), 0, "misaligned block");
                                for p in pfn.0..pfn.0 + (1 << order) {
                                    assert!(m.is_free(p), "page {p:#x} handed out twice");
                                    assert_eq!(node.page_zone(Pfn(p)), Some(zt));
                                    m.owner[Model::i(p)] = Some(pfn.0);
                                }
                                m.live.push((pfn, order));
                            }
                            Err(e) => {
                                assert_eq!(e, AllocError::NoMemory { gfp, order });
                                assert_eq!(want, None, "{gfp} order {order} failed");
                            }
                        }
                    }
                    Op::Free { pick } => {
                        if m.live.is_empty() {
                            continue;
                        }
                        let (pfn, order) = m.live.swap_remove(pick % m.live.len());
                        node.free_pages(pfn, order).unwrap();
                        for p in pfn.0..pfn.0 + (1 << order) {
                            m.owner[Model::i(p)] = None;
                        }
                        m.freed.push((pfn, order));
                    }
                    Op::DoubleFree { pick } => {
                        if m.freed.is_empty() {
                            continue;
                        }
                        let (pfn, order) = m.freed[pick % m.freed.len()];
                        if m.owner[Model::i(pfn.0)] != Some(pfn.0)
                            || !m.live.contains(&(pfn, order))
                        {
                            check_bad(&mut node, pfn, order);
                        }
                    }
                    Op::BadFree { pick, kind } => {
                        if m.live.is_empty() {
                            check_bad(&mut node, Pfn(RESERVED_PFN), 0);
                            continue;
                        }
                        let (pfn, order) = m.live[pick % m.live.len()];
                        match kind {
                            0 if order + 1 < MAX_ORDER as u32 => {
                                check_bad(&mut node, pfn, order + 1)
                            }
                            1 if order > 0 => check_bad(&mut node, Pfn(pfn.0 + 1), 0),
                            2 if order > 0 => check_bad(&mut node, pfn, order - 1),
                            3 => check_bad(&mut node, Pfn(RESERVED_PFN), 0),
                            _ => check_bad(&mut node, Pfn(BASE + N + pick as u64 % 64), 0),
                        }
                    }
                }
                for zt in ZoneType::ALL {
                    let z = node.zone(zt);
                    assert_eq!(
                        z.nr_free_pages() + z.pcp().count(),
                        m.free_in_zone(&node, zt),
                        "NR_FREE_PAGES + pcp count of {zt:?} after step {step}"
                    );
                }
                if step % 64 == 0 {
                    node.verify().unwrap();
                }
            }
            node.verify().unwrap();

            // Free everything in a shuffled order: the lists return exactly to their start.
            let mut live = core::mem::take(&mut m.live);
            let mut x = shuffle_seed | 1;
            for i in (1..live.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                live.swap(i, (x % (i as u64 + 1)) as usize);
            }
            for (pfn, order) in live {
                node.free_pages(pfn, order).unwrap();
            }
            node.verify().unwrap();
            node.drain_all_pages();
            node.verify().unwrap();
            assert_eq!(free_blocks(&node), initial, "free lists differ after freeing everything");
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

            #[test]
            fn buddy_matches_the_reference_model(
                ops in proptest::collection::vec(op(), 1000..3000),
                seed in any::<u64>(),
            ) {
                run(&ops, seed);
            }
        }

        /// A deterministic long run that fills the pool (frees are rarer than allocations).
        #[test]
        fn long_fill_and_drain() {
            let mut ops = Vec::new();
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..6000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ops.push(match x % 10 {
                    0..=6 => Op::Alloc {
                        order: (x >> 8) as u32 % 5,
                        gfp: (x >> 16) as usize % GFPS.len(),
                    },
                    7 | 8 => Op::Free { pick: (x >> 20) as usize },
                    _ => Op::BadFree { pick: (x >> 20) as usize, kind: (x >> 40) as u8 % 5 },
                });
            }
            run(&ops, x);
        }
    }
}
