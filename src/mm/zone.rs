//! Zones: `ZoneType` (DMA, Normal, HighMem, Movable), `struct zone` with its buddy
//! `free_area[]` lists, per-CPU lists, page counts, watermarks and their boost, and the Linux
//! 6.1 formulas that size the reserves: `min_free_kbytes`, `__setup_per_zone_wmarks`,
//! `setup_per_zone_lowmem_reserve`, `zone_batchsize`/`zone_highsize`,
//! `calculate_normal_threshold` and `__zone_watermark_ok`.
use bitflags::bitflags;

use super::gfp::GfpFlags;
use super::page::{free_mt_flags, Page, PageFlags, NIL};
use super::Pfn;
use crate::config::MAX_ORDER;

/// Zone slots of a node: every zone Linux's `enum zone_type` can have (CONFIG_ZONE_DMA,
/// CONFIG_ZONE_DMA32, CONFIG_HIGHMEM; ZONE_MOVABLE always exists). Which of them a kernel has
/// comes from its configuration ([`crate::mm::mm_init::Zones`]): an unconfigured slot stays
/// empty and out of every report, so the reports show the zones Linux's `MAX_NR_ZONES` would
/// have for that configuration (DMA, Normal, HighMem, Movable on the 32-bit ARM kernel; DMA,
/// DMA32, Normal, Movable on arm64).
pub const MAX_NR_ZONES: usize = 5;

/// `enum zone_type`, lowest first: an allocation may use its zone and every lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ZoneType {
    /// Only with CONFIG_ZONE_DMA: all of lowmem on ARM without a machine limit
    /// (`setup_dma_zone`), memory below `zone_dma_bits` on arm64, the ISA 16 MiB on the i386
    /// picture.
    Dma = 0,
    /// Only with CONFIG_ZONE_DMA32 (64-bit kernels): memory below 4 GiB above ZONE_DMA.
    Dma32 = 1,
    /// Lowmem: permanently mapped at PAGE_OFFSET.
    Normal = 2,
    /// Only with CONFIG_HIGHMEM: above the lowmem limit; mapped on demand with kmap.
    HighMem = 3,
    /// `ZONE_MOVABLE`: only `kernelcore=`/`movablecore=` give it pages; pivm takes neither,
    /// so it is always empty, as on a Pi booted without them.
    Movable = 4,
}

impl ZoneType {
    pub const ALL: [ZoneType; MAX_NR_ZONES] =
        [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::HighMem, ZoneType::Movable];

    /// Linux's `zone_names[]`.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::HighMem => "HighMem",
            ZoneType::Movable => "Movable",
        }
    }

    pub const fn idx(self) -> usize {
        self as usize
    }

    pub const fn from_idx(idx: usize) -> Option<ZoneType> {
        match idx {
            0 => Some(ZoneType::Dma),
            1 => Some(ZoneType::Dma32),
            2 => Some(ZoneType::Normal),
            3 => Some(ZoneType::HighMem),
            4 => Some(ZoneType::Movable),
            _ => None,
        }
    }

    /// `is_highmem_idx()`.
    pub const fn is_highmem(self) -> bool {
        matches!(self, ZoneType::HighMem)
    }
}

/// Watermark indices (`enum zone_watermarks`).
pub const WMARK_MIN: usize = 0;
pub const WMARK_LOW: usize = 1;
pub const WMARK_HIGH: usize = 2;
pub const NR_WMARK: usize = 3;

/// `min_free_kbytes` bounds (6.1's `calculate_min_free_kbytes`: `clamp(.., 128, 262144)`).
pub const MIN_FREE_KBYTES_MIN: u64 = 128;
pub const MIN_FREE_KBYTES_MAX: u64 = 262_144;
/// `vm.watermark_scale_factor` default: the low-min and high-low gaps are at least 0.1% of
/// the zone.
pub const DEFAULT_WATERMARK_SCALE_FACTOR: u64 = 10;
/// `vm.watermark_boost_factor` default (5.0+): a fallback may boost the watermarks by up to
/// 150% of the high watermark.
pub const DEFAULT_WATERMARK_BOOST_FACTOR: u64 = 15_000;
/// Denominator of `watermark_scale_factor` and `watermark_boost_factor`.
const WATERMARK_SCALE_DIVISOR: u64 = 10_000;
/// `SWAP_CLUSTER_MAX`: the smallest min watermark of a highmem zone.
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// Largest min watermark of a highmem zone.
const HIGHMEM_MIN_WMARK_MAX: u64 = 128;
/// A highmem zone's min watermark is 1/1024th of it (before clamping).
const HIGHMEM_MIN_WMARK_DIVISOR: u64 = 1024;
/// `sysctl_lowmem_reserve_ratio` defaults (6.1: DMA and DMA32 256, Normal 32, HighMem and
/// Movable 0 = none).
pub const DEFAULT_LOWMEM_RESERVE_RATIO: [u64; MAX_NR_ZONES] = [256, 256, 32, 0, 0];
/// kB per page (`PAGE_SIZE >> 10`).
const KB_PER_PAGE: u64 = super::PAGE_SIZE >> 10;

bitflags! {
    /// The allocator's internal `ALLOC_*` flags (mm/internal.h, 6.1). The low two bits hold
    /// the watermark index.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct AllocFlags: u32 {
        const ALLOC_WMARK_MIN = WMARK_MIN as u32;
        const ALLOC_WMARK_LOW = WMARK_LOW as u32;
        const ALLOC_WMARK_HIGH = WMARK_HIGH as u32;
        /// Ignore watermarks entirely (`__GFP_MEMALLOC`).
        const ALLOC_NO_WATERMARKS = 0x04;
        const ALLOC_OOM = 0x08;
        /// Try harder: `GFP_ATOMIC` may take another quarter of the min reserve, and
        /// high-order atomic requests may use (and create) HighAtomic pageblocks.
        const ALLOC_HARDER = 0x10;
        /// `__GFP_HIGH`: may take half of the min reserve.
        const ALLOC_HIGH = 0x20;
        /// A movable request may use CMA pageblocks.
        const ALLOC_CMA = 0x80;
        /// The request may wake kswapd (`__GFP_KSWAPD_RECLAIM`, the same bit).
        const ALLOC_KSWAPD = 0x800;
    }
}

/// `ALLOC_WMARK_MASK`: the bits holding the watermark index.
const ALLOC_WMARK_MASK: u32 = AllocFlags::ALLOC_NO_WATERMARKS.bits() - 1;

impl AllocFlags {
    /// The watermark index these flags check against.
    pub const fn wmark(self) -> usize {
        (self.bits() & ALLOC_WMARK_MASK) as usize
    }
}

/// Migrate types (Linux 6.1's `enum migratetype` with CONFIG_CMA and
/// CONFIG_MEMORY_ISOLATION): free pages are grouped by what will be allocated from them, per
/// pageblock, so that pages the kernel can never move (its own) cluster together instead of
/// pinning every large block.
pub const MIGRATE_UNMOVABLE: usize = 0;
pub const MIGRATE_MOVABLE: usize = 1;
pub const MIGRATE_RECLAIMABLE: usize = 2;
/// Types with per-CPU lists (`MIGRATE_PCPTYPES`).
pub const MIGRATE_PCPTYPES: usize = 3;
/// Pageblocks reserved for high-order atomic allocations (`reserve_highatomic_pageblock`).
pub const MIGRATE_HIGHATOMIC: usize = MIGRATE_PCPTYPES;
/// The CMA area's pageblocks: only movable allocations (and `cma_alloc`) take from them.
pub const MIGRATE_CMA: usize = 4;
/// Pageblocks being isolated (`alloc_contig_range` for a moment; pivm never leaves one so).
pub const MIGRATE_ISOLATE: usize = 5;
/// Free lists per order.
pub const MIGRATE_TYPES: usize = 6;

/// `migratetype_is_mergeable()`: may a block of this type be stolen or merged into another?
pub const fn migratetype_is_mergeable(mt: usize) -> bool {
    mt < MIGRATE_PCPTYPES
}

/// `is_migrate_cma()`.
pub const fn is_migrate_cma(mt: usize) -> bool {
    mt == MIGRATE_CMA
}

/// `PAGE_ALLOC_COSTLY_ORDER`: orders above this are "costly" (and, since 5.13, the highest
/// order the per-CPU lists keep).
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;
/// `NR_PCP_LISTS`: a list per pcp migrate type and order 0..=PAGE_ALLOC_COSTLY_ORDER (no
/// THP list: 32-bit ARM without LPAE has no transparent huge pages).
pub const NR_PCP_LISTS: usize = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1);

/// `order_to_pindex()`: the pcp list of a migrate type and order.
#[inline]
pub const fn order_to_pindex(mt: usize, order: u32) -> usize {
    MIGRATE_PCPTYPES * order as usize + mt
}

/// `pindex_to_order()`.
#[inline]
pub const fn pindex_to_order(pindex: usize) -> u32 {
    (pindex / MIGRATE_PCPTYPES) as u32
}

/// One doubly linked list of blocks, through `Page::lru_next/lru_prev` (mem_map indices,
/// `NIL` at the ends). Keeping both ends here, as Linux's `list_head`s in the zone do, makes
/// every insert or removal touch at most the block and its neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FreeList {
    head: u32,
    tail: u32,
    /// Blocks on the list (at most a mem_map's u32 indices).
    count: u32,
}

impl FreeList {
    const EMPTY: FreeList = FreeList { head: NIL, tail: NIL, count: 0 };

    #[inline(always)]
    fn first(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    #[inline(always)]
    fn last(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// `list_add` / `list_add_tail`.
    #[inline(always)]
    fn push(&mut self, pages: &mut [Page], idx: u32, to_tail: bool) {
        let (prev, next) = if to_tail { (self.tail, NIL) } else { (NIL, self.head) };
        {
            let p = &mut pages[idx as usize];
            p.lru_prev = prev;
            p.lru_next = next;
        }
        match prev {
            NIL => self.head = idx,
            prev => pages[prev as usize].lru_next = idx,
        }
        match next {
            NIL => self.tail = idx,
            next => pages[next as usize].lru_prev = idx,
        }
        self.count += 1;
    }

    /// `list_del`: the block must be on this list.
    #[inline(always)]
    fn unlink(&mut self, pages: &mut [Page], idx: u32) {
        let (prev, next) = {
            let p = &mut pages[idx as usize];
            let links = (p.lru_prev, p.lru_next);
            p.lru_prev = NIL;
            p.lru_next = NIL;
            links
        };
        match prev {
            NIL => self.head = next,
            prev => pages[prev as usize].lru_next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => pages[next as usize].lru_prev = prev,
        }
        self.count -= 1;
    }

    /// The blocks first to last (mem_map indices).
    #[cfg(test)]
    fn iter<'p>(&self, pages: &'p [Page]) -> impl Iterator<Item = u32> + 'p {
        let mut cur = self.head;
        core::iter::from_fn(move || {
            let this = cur;
            (this != NIL).then(|| {
                cur = pages[this as usize].lru_next;
                this
            })
        })
    }
}

/// `struct free_area`: one order's free lists, one per migrate type, and their total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeArea {
    lists: [FreeList; MIGRATE_TYPES],
    pub nr_free: u64,
}

impl FreeArea {
    pub const EMPTY: FreeArea = FreeArea { lists: [FreeList::EMPTY; MIGRATE_TYPES], nr_free: 0 };

    /// `free_area_empty()` over all migrate types.
    pub const fn is_empty(&self) -> bool {
        self.nr_free == 0
    }

    /// Blocks on the list of one migrate type (`/proc/pagetypeinfo`).
    pub fn nr_free_of(&self, mt: usize) -> u64 {
        self.lists.get(mt).map_or(0, |l| u64::from(l.count))
    }

    /// First block on the list of `mt`.
    #[inline(always)]
    pub(super) fn first(&self, mt: usize) -> Option<u32> {
        self.lists.get(mt)?.first()
    }

    /// Last block on the list of `mt`.
    #[inline]
    pub(super) fn last(&self, mt: usize) -> Option<u32> {
        self.lists.get(mt)?.last()
    }

    /// `add_to_free_list` / `add_to_free_list_tail`: O(1). The block remembers its list.
    #[inline(always)]
    pub(super) fn add(&mut self, pages: &mut [Page], idx: u32, mt: usize, to_tail: bool) {
        pages[idx as usize].set_free_mt(mt);
        self.lists[mt].push(pages, idx, to_tail);
        self.nr_free += 1;
    }

    /// `add_to_free_list` of a block that was on no list: marks it `PG_buddy` of `order` on
    /// the list of `mt` (one write of its flags, then its order) and links it in.
    #[inline(always)]
    pub(super) fn add_block(
        &mut self,
        pages: &mut [Page],
        idx: u32,
        order: u32,
        mt: usize,
        to_tail: bool,
    ) {
        let p = &mut pages[idx as usize];
        p.update_flags(PageFlags::PG_free_mt, PageFlags::PG_buddy | free_mt_flags(mt));
        p.order = order as u8;
        self.lists[mt].push(pages, idx, to_tail);
        self.nr_free += 1;
    }

    /// `del_page_from_free_list`: O(1) unlink of a free block from the list it is on.
    #[inline(always)]
    pub(super) fn del(&mut self, pages: &mut [Page], idx: u32) {
        let mt = pages[idx as usize].free_mt();
        self.lists[mt].unlink(pages, idx);
        self.nr_free -= 1;
    }

    /// The blocks on every list, each list first to last (mem_map indices).
    #[cfg(test)]
    pub(super) fn iter<'p>(&self, pages: &'p [Page]) -> impl Iterator<Item = u32> + 'p {
        let lists = self.lists;
        (0..MIGRATE_TYPES).flat_map(move |mt| lists[mt].iter(pages))
    }
}

/// `struct per_cpu_pages` of the one CPU pivm runs on: blocks of orders
/// 0..=PAGE_ALLOC_COSTLY_ORDER (6.1; order 0 only in a 3.x era profile) taken from the buddy
/// lists `batch` at a time and given back in bulk once `high` pages are cached, a list per
/// migrate type and order (`order_to_pindex`), so that most small allocations and frees
/// touch one list head and no buddy. Pages here are free but not counted in `NR_FREE_PAGES`
/// (MemFree), as in Linux. Each page remembers its pageblock's migrate type in `free_mt`
/// (Linux's pcppage migratetype), which may differ from its list: CMA and HighAtomic pages
/// share the movable list but go back to their own buddy lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerCpuPages {
    pub(super) lists: [FreeList; NR_PCP_LISTS],
    /// `pcp->count`: pages cached (a block of order n counts 2^n); 32 bits, as mem_map's
    /// indices, so that the add and take of every cached page is one instruction.
    pub(super) count: u32,
    pub(super) high: u64,
    pub(super) batch: u64,
    /// `free_factor`: each bulk free with no allocation in between frees twice as many
    /// pages as the last (`nr_pcp_free`); every allocation halves it back.
    pub(super) free_factor: u32,
}

impl PerCpuPages {
    pub const EMPTY: PerCpuPages = PerCpuPages {
        lists: [FreeList::EMPTY; NR_PCP_LISTS],
        count: 0,
        high: 0,
        batch: 0,
        free_factor: 0,
    };

    /// Whether the cache is in use: a zone whose limits are not set yet (batch 0) sends its
    /// pages straight to and from the buddy lists.
    pub const fn enabled(&self) -> bool {
        self.batch > 0
    }

    /// Pages cached (`pcp->count`).
    pub const fn count(&self) -> u64 {
        self.count as u64
    }

    pub const fn high(&self) -> u64 {
        self.high
    }

    pub const fn batch(&self) -> u64 {
        self.batch
    }

    pub const fn free_factor(&self) -> u32 {
        self.free_factor
    }

    /// Blocks on list `pindex`.
    pub fn list_len(&self, pindex: usize) -> u64 {
        self.lists.get(pindex).map_or(0, |l| u64::from(l.count))
    }

    /// The first and last block of list `pindex`.
    pub(super) fn list_ends(&self, pindex: usize) -> (Option<u32>, Option<u32>) {
        self.lists.get(pindex).map_or((None, None), |l| (l.first(), l.last()))
    }

    /// Whether list `pindex` is empty.
    #[inline(always)]
    pub(super) fn list_empty(&self, pindex: usize) -> bool {
        self.lists[pindex].head == NIL
    }

    /// `list_add` of a block of `pindex`'s order at the head (hot) or the tail.
    #[inline(always)]
    pub(super) fn add(&mut self, pages: &mut [Page], idx: u32, pindex: usize, to_tail: bool) {
        self.lists[pindex].push(pages, idx, to_tail);
        self.count += 1u32 << pindex_to_order(pindex);
    }

    /// Takes the first (hottest) block off list `pindex`.
    #[inline(always)]
    pub(super) fn pop_first(&mut self, pages: &mut [Page], pindex: usize) -> Option<u32> {
        let idx = self.lists[pindex].first()?;
        self.lists[pindex].unlink(pages, idx);
        self.count -= 1u32 << pindex_to_order(pindex);
        Some(idx)
    }

    /// Takes the last (coldest) block off list `pindex`.
    #[inline(always)]
    pub(super) fn pop_last(&mut self, pages: &mut [Page], pindex: usize) -> Option<u32> {
        let idx = self.lists[pindex].last()?;
        self.lists[pindex].unlink(pages, idx);
        self.count -= 1u32 << pindex_to_order(pindex);
        Some(idx)
    }

    /// `nr_pcp_free()` (6.1): how many pages a free that took the count to `high` gives
    /// back: everything when `free_high` (high-order pages freed with no allocation in
    /// between), else `batch` doubled for every bulk free since the last allocation, kept
    /// between `batch` and `high - batch` so a batch stays cached.
    pub fn nr_pcp_free(&mut self, high: u64, free_high: bool) -> u64 {
        if free_high {
            return self.count();
        }
        let batch = self.batch;
        if high < batch {
            return 1;
        }
        let min_nr_free = batch;
        let max_nr_free = high - batch;
        let batch = batch.checked_shl(self.free_factor).unwrap_or(u64::MAX);
        if batch < max_nr_free {
            self.free_factor += 1;
        }
        // Linux's clamp(): the upper bound wins when the two cross.
        batch.max(min_nr_free).min(max_nr_free)
    }

    /// `nr_pcp_high()` (6.1): the limit for this free; 0 (free at once) for a disabled list
    /// or a `free_high` free. pivm has no reclaim, so ZONE_RECLAIM_ACTIVE never lowers it.
    pub const fn nr_pcp_high(&self, free_high: bool) -> u64 {
        if self.high == 0 || free_high {
            0
        } else {
            self.high
        }
    }
}

/// `SZ_1M / PAGE_SIZE`: the largest 6.1 batch before `zone_batchsize` quarters it.
pub const PCP_BATCH_MAX_PAGES: u64 = 256;
/// `512K / PAGE_SIZE`: the 3.x kernels' cap.
pub const PCP_BATCH_MAX_PAGES_3X: u64 = 128;

/// `zone_batchsize()`: a quarter of a thousandth of the zone (of at most 1 MiB before the
/// quarter: `max_pages`), then 1.5 times that rounded down to a power of two, minus one
/// (Linux avoids power-of-two batches for cache colouring). 0 for zones under 32 MiB; the
/// caller makes that 1.
pub const fn zone_batchsize_capped(managed_pages: u64, max_pages: u64) -> u64 {
    let mut batch = managed_pages >> 10;
    if batch > max_pages {
        batch = max_pages;
    }
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    let x = batch + batch / 2;
    (1u64 << (u64::BITS - 1 - x.leading_zeros())) - 1
}

/// 6.1's `zone_batchsize()` (a 1 MiB cap).
pub const fn zone_batchsize(managed_pages: u64) -> u64 {
    zone_batchsize_capped(managed_pages, PCP_BATCH_MAX_PAGES)
}

/// `zone_highsize()` (5.14+, `percpu_pagelist_high_fraction` unset): the zone's low watermark
/// shared out among the node's online CPUs, but at least four batches.
pub const fn zone_highsize(low_wmark: u64, batch: u64, nr_cpus: u64) -> u64 {
    let cpus = if nr_cpus == 0 { 1 } else { nr_cpus };
    let high = low_wmark / cpus;
    if high > batch << 2 {
        high
    } else {
        batch << 2
    }
}

/// `fls()`: the 1-based index of the highest set bit, 0 for 0.
const fn fls(x: u64) -> u64 {
    (u64::BITS - x.leading_zeros()) as u64
}

/// Largest `vm stats threshold` (`calculate_normal_threshold`'s cap).
const MAX_STAT_THRESHOLD: u64 = 125;
/// `27 - PAGE_SHIFT`: `calculate_normal_threshold` counts memory in 128 MiB units.
const STAT_THRESHOLD_MEM_SHIFT: u32 = 27 - super::PAGE_SHIFT;

/// `calculate_normal_threshold()`: how far a CPU's vmstat counters may drift before they
/// are folded into the zone's, growing with the CPUs online and the zone's size (in 128 MiB
/// units), at most 125.
pub const fn calculate_normal_threshold(managed_pages: u64, online_cpus: u64) -> u64 {
    let mem = managed_pages >> STAT_THRESHOLD_MEM_SHIFT;
    let threshold = 2 * fls(online_cpus) * (1 + fls(mem));
    if threshold < MAX_STAT_THRESHOLD {
        threshold
    } else {
        MAX_STAT_THRESHOLD
    }
}

/// `struct zone`: a range of page frames with its own free lists and reserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub(super) zone_type: ZoneType,
    pub(super) free_area: [FreeArea; MAX_ORDER],
    pub(super) zone_start_pfn: u64,
    /// PFNs spanned, holes included.
    pub(super) spanned_pages: u64,
    /// Frames that exist (spanned minus holes).
    pub(super) present_pages: u64,
    /// Frames handed to the buddy allocator (present minus boot reservations).
    pub(super) managed_pages: u64,
    /// vmstat `NR_FREE_PAGES`.
    pub(super) nr_free_pages: u64,
    /// vm events `PGALLOC` (pages handed out from this zone) and `PGFREE` (pages freed
    /// into it), as /proc/vmstat's `pgalloc_<zone>` and `pgfree` count them.
    pub(super) pgalloc: u64,
    pub(super) pgfree: u64,
    /// vmstat `NR_FREE_CMA_PAGES`: the part of `nr_free_pages` on MIGRATE_CMA lists.
    pub(super) nr_free_cma: u64,
    /// `zone->cma_pages`: pages of the zone given to a CMA area.
    pub(super) cma_pages: u64,
    /// `nr_reserved_highatomic`: pages in MIGRATE_HIGHATOMIC pageblocks.
    pub(super) nr_reserved_highatomic: u64,
    pub(super) _watermark: [u64; NR_WMARK],
    /// `watermark_boost`: added to every watermark after a fallback stole from another
    /// migrate type, until kswapd (pivm's stand-in: `Node::kswapd`) clears it.
    pub(super) watermark_boost: u64,
    /// `ZONE_BOOSTED_WATERMARK`: a boost wants kswapd woken after this allocation.
    pub(super) boosted_watermark: bool,
    /// `lowmem_reserve[j]`: pages this zone keeps from a request whose highest zone is `j`.
    pub(super) lowmem_reserve: [u64; MAX_NR_ZONES],
    /// `zone->per_cpu_pageset` of the running CPU.
    pub(super) pcp: PerCpuPages,
    /// `zone->pageset_high` and `pageset_batch`: the limits `zone_pcp_update` last computed,
    /// which `zone_pcp_enable` puts back after `zone_pcp_disable` zeroed them.
    pub(super) pageset_high: u64,
    pub(super) pageset_batch: u64,
    /// `zone_pcp_disable` holds the lists (Linux holds `pcp_batch_high_lock` until
    /// `zone_pcp_enable`, so no limit update lands in between).
    pub(super) pcp_disabled: bool,
    /// `per_cpu_zonestats->stat_threshold` (`refresh_zone_stat_thresholds`).
    pub(super) stat_threshold: u64,
}

impl Zone {
    /// An empty zone of type `zone_type`: spans nothing until the node gives it a range.
    pub const fn new(zone_type: ZoneType) -> Zone {
        Zone {
            zone_type,
            free_area: [FreeArea::EMPTY; MAX_ORDER],
            zone_start_pfn: 0,
            spanned_pages: 0,
            present_pages: 0,
            managed_pages: 0,
            nr_free_pages: 0,
            pgalloc: 0,
            pgfree: 0,
            nr_free_cma: 0,
            cma_pages: 0,
            nr_reserved_highatomic: 0,
            _watermark: [0; NR_WMARK],
            watermark_boost: 0,
            boosted_watermark: false,
            lowmem_reserve: [0; MAX_NR_ZONES],
            pcp: PerCpuPages::EMPTY,
            pageset_high: 0,
            pageset_batch: 0,
            pcp_disabled: false,
            stat_threshold: 0,
        }
    }

    /// The running CPU's page cache (`/proc/zoneinfo`'s `pagesets`).
    pub const fn pcp(&self) -> &PerCpuPages {
        &self.pcp
    }

    /// Whether `zone_pcp_disable` holds the per-CPU lists (high 0, batch 1).
    pub const fn pcp_disabled(&self) -> bool {
        self.pcp_disabled
    }

    pub const fn zone_type(&self) -> ZoneType {
        self.zone_type
    }

    pub const fn name(&self) -> &'static str {
        self.zone_type.name()
    }

    pub const fn is_highmem(&self) -> bool {
        self.zone_type.is_highmem()
    }

    pub const fn zone_start_pfn(&self) -> Pfn {
        Pfn(self.zone_start_pfn)
    }

    /// `zone_end_pfn()`.
    pub const fn zone_end_pfn(&self) -> Pfn {
        Pfn(self.zone_start_pfn + self.spanned_pages)
    }

    /// `zone_spans_pfn()`.
    pub const fn spans(&self, pfn: Pfn) -> bool {
        pfn.0 >= self.zone_start_pfn && pfn.0 < self.zone_start_pfn + self.spanned_pages
    }

    pub const fn spanned_pages(&self) -> u64 {
        self.spanned_pages
    }

    pub const fn present_pages(&self) -> u64 {
        self.present_pages
    }

    /// `zone_managed_pages()`.
    pub const fn managed_pages(&self) -> u64 {
        self.managed_pages
    }

    /// `populated_zone()`: has frames at all.
    pub const fn is_populated(&self) -> bool {
        self.present_pages != 0
    }

    /// `managed_zone()`: has frames the allocator may hand out (zonelists hold only these).
    pub const fn is_managed(&self) -> bool {
        self.managed_pages != 0
    }

    /// `zone_page_state(zone, NR_FREE_PAGES)`.
    pub const fn nr_free_pages(&self) -> u64 {
        self.nr_free_pages
    }

    /// The `PGALLOC` and `PGFREE` events of this zone, in pages.
    pub const fn vm_events(&self) -> (u64, u64) {
        (self.pgalloc, self.pgfree)
    }

    /// `zone_page_state(zone, NR_FREE_CMA_PAGES)`.
    pub const fn nr_free_cma_pages(&self) -> u64 {
        self.nr_free_cma
    }

    /// `zone->cma_pages` (zoneinfo's `cma`).
    pub const fn cma_pages(&self) -> u64 {
        self.cma_pages
    }

    /// `nr_reserved_highatomic`.
    pub const fn nr_reserved_highatomic(&self) -> u64 {
        self.nr_reserved_highatomic
    }

    /// `zone->watermark_boost`.
    pub const fn watermark_boost(&self) -> u64 {
        self.watermark_boost
    }

    /// `min_wmark_pages()`: the min watermark plus the boost, as 6.1 reads every mark.
    pub const fn min_wmark_pages(&self) -> u64 {
        self.wmark_pages(WMARK_MIN)
    }

    pub const fn low_wmark_pages(&self) -> u64 {
        self.wmark_pages(WMARK_LOW)
    }

    pub const fn high_wmark_pages(&self) -> u64 {
        self.wmark_pages(WMARK_HIGH)
    }

    /// `wmark_pages()`: `_watermark[wmark] + watermark_boost`.
    pub const fn wmark_pages(&self, wmark: usize) -> u64 {
        self._watermark[wmark] + self.watermark_boost
    }

    /// The watermarks without the boost (`_watermark[]`).
    pub const fn base_watermarks(&self) -> [u64; NR_WMARK] {
        self._watermark
    }

    pub const fn lowmem_reserve(&self) -> [u64; MAX_NR_ZONES] {
        self.lowmem_reserve
    }

    /// `vm stats threshold` of the running CPU.
    pub const fn stat_threshold(&self) -> u64 {
        self.stat_threshold
    }

    /// `free_area[order].nr_free` for each order (what `/proc/buddyinfo` prints).
    pub fn free_area_counts(&self) -> [u64; MAX_ORDER] {
        let mut counts = [0; MAX_ORDER];
        for (c, a) in counts.iter_mut().zip(self.free_area.iter()) {
            *c = a.nr_free;
        }
        counts
    }

    pub fn free_area(&self, order: usize) -> Option<&FreeArea> {
        self.free_area.get(order)
    }

    /// `__mod_zone_freepage_state()`: free pages of migrate type `mt` came (`nr` > 0) or
    /// went; CMA pages count in `NR_FREE_CMA_PAGES` too.
    #[inline]
    pub(super) fn mod_freepage_state(&mut self, nr: i64, mt: usize) {
        self.nr_free_pages = self.nr_free_pages.wrapping_add_signed(nr);
        if is_migrate_cma(mt) {
            self.nr_free_cma = self.nr_free_cma.wrapping_add_signed(nr);
        }
    }
}

/// `int_sqrt()`: floor of the square root.
pub const fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Newton's iteration from above converges to the floor.
    let mut r = x;
    let mut next = x / 2 + x % 2;
    while next < r {
        r = next;
        next = (r + x / r) / 2;
    }
    r
}

/// `calculate_min_free_kbytes()`: `int_sqrt(lowmem_kbytes * 16)` clamped to [128, 262144]
/// (a machine with 16 MiB lowmem gets 512 kB, one with 1 GiB about 4 MiB). Linux feeds it
/// `nr_free_buffer_pages()` in kB.
pub const fn calculate_min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    let v = int_sqrt(lowmem_kbytes.saturating_mul(16));
    if v < MIN_FREE_KBYTES_MIN {
        MIN_FREE_KBYTES_MIN
    } else if v > MIN_FREE_KBYTES_MAX {
        MIN_FREE_KBYTES_MAX
    } else {
        v
    }
}

/// `mult_frac(x, n, d)` without intermediate overflow.
pub const fn mult_frac(x: u64, n: u64, d: u64) -> u64 {
    (x / d) * n + ((x % d) * n) / d
}

/// `__setup_per_zone_wmarks()`: splits `min_free_kbytes` over the lowmem zones by managed
/// pages (that share is the zone's min watermark); a highmem zone's min is instead
/// `clamp(managed / 1024, SWAP_CLUSTER_MAX, 128)`, since `__GFP_HIGH` and PF_MEMALLOC
/// allocations rarely need highmem. Every zone's low and high then sit `max(share / 4,
/// managed * watermark_scale_factor / 10000)` and twice that above its min, where `share` is
/// the zone's proportional part even for highmem, as in Linux. Boosts are cleared.
pub fn setup_per_zone_wmarks(
    zones: &mut [Zone],
    min_free_kbytes: u64,
    watermark_scale_factor: u64,
) {
    let pages_min = min_free_kbytes / KB_PER_PAGE;
    let lowmem_pages: u64 = zones.iter().filter(|z| !z.is_highmem()).map(|z| z.managed_pages).sum();
    for zone in zones.iter_mut() {
        let managed = zone.managed_pages;
        let share = if lowmem_pages == 0 {
            0
        } else {
            ((pages_min as u128 * managed as u128) / lowmem_pages as u128) as u64
        };
        let min = if zone.is_highmem() {
            (managed / HIGHMEM_MIN_WMARK_DIVISOR).clamp(SWAP_CLUSTER_MAX, HIGHMEM_MIN_WMARK_MAX)
        } else {
            share
        };
        let gap =
            (share >> 2).max(mult_frac(managed, watermark_scale_factor, WATERMARK_SCALE_DIVISOR));
        zone.watermark_boost = 0;
        zone._watermark[WMARK_MIN] = min;
        zone._watermark[WMARK_LOW] = min + gap;
        zone._watermark[WMARK_HIGH] = min + 2 * gap;
    }
}

/// `setup_per_zone_lowmem_reserve()` (6.1): for each zone `i` and each higher zone `j`,
/// `lowmem_reserve[j]` = managed pages of zones `i+1..=j` / `ratio[i]`; 0 when the ratio is 0
/// or the zone manages nothing. A request whose highest zone is `j` must leave that many
/// pages of zone `i` free, so highmem-capable requests cannot drain lowmem.
pub fn setup_per_zone_lowmem_reserve(zones: &mut [Zone], ratio: &[u64; MAX_NR_ZONES]) {
    let n = zones.len().min(MAX_NR_ZONES);
    for i in 0..n {
        let clear = ratio[i] == 0 || zones[i].managed_pages == 0;
        let mut upper_managed = 0;
        zones[i].lowmem_reserve[i] = 0;
        for j in i + 1..n {
            upper_managed += zones[j].managed_pages;
            zones[i].lowmem_reserve[j] = if clear { 0 } else { upper_managed / ratio[i] };
        }
    }
}

/// `calculate_totalreserve_pages()`: per zone, its largest `lowmem_reserve` plus its high
/// watermark (capped at managed pages), summed: what `MemAvailable` treats as untouchable.
pub fn calculate_totalreserve_pages(zones: &[Zone]) -> u64 {
    zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let max_reserve = z.lowmem_reserve[i.min(MAX_NR_ZONES - 1)..].iter().copied().max();
            (max_reserve.unwrap_or(0) + z.high_wmark_pages()).min(z.managed_pages)
        })
        .sum()
}

/// `__zone_watermark_unusable_free()` (6.1): free pages an order-`order` request cannot
/// count: those below its order, the HighAtomic reserve unless it may use it (ALLOC_HARDER),
/// and free CMA pages unless it may use them (ALLOC_CMA).
#[inline]
pub fn __zone_watermark_unusable_free(z: &Zone, order: u32, alloc_flags: AllocFlags) -> i64 {
    let alloc_harder = alloc_flags.intersects(AllocFlags::ALLOC_HARDER | AllocFlags::ALLOC_OOM);
    let mut unusable = (1i64 << order) - 1;
    if !alloc_harder {
        unusable += z.nr_reserved_highatomic as i64;
    }
    if !alloc_flags.contains(AllocFlags::ALLOC_CMA) {
        unusable += z.nr_free_cma as i64;
    }
    unusable
}

/// `__zone_watermark_ok()` (6.1): may an order-`order` request whose highest zone is
/// `highest_zoneidx` take pages from `z`, given `free_pages` free, against watermark `mark`?
/// `__GFP_HIGH` (ALLOC_HIGH) may use half the reserve, `GFP_ATOMIC` (ALLOC_HARDER) a quarter
/// of what is left; the zone's `lowmem_reserve` for the request's zone is added on top. A
/// higher-order request also needs a free block of that order or larger on a list it may
/// use: the three mobility types, CMA with ALLOC_CMA, HighAtomic with ALLOC_HARDER.
pub fn __zone_watermark_ok(
    z: &Zone,
    order: u32,
    mark: u64,
    highest_zoneidx: ZoneType,
    alloc_flags: AllocFlags,
    free_pages: i64,
) -> bool {
    let mut min = mark as i64;
    let alloc_harder = alloc_flags.intersects(AllocFlags::ALLOC_HARDER | AllocFlags::ALLOC_OOM);
    let free_pages = free_pages - __zone_watermark_unusable_free(z, order, alloc_flags);
    if alloc_flags.contains(AllocFlags::ALLOC_HIGH) {
        min -= min / 2;
    }
    if alloc_harder {
        if alloc_flags.contains(AllocFlags::ALLOC_OOM) {
            min -= min / 2;
        } else {
            min -= min / 4;
        }
    }
    if free_pages <= min + z.lowmem_reserve[highest_zoneidx.idx()] as i64 {
        return false;
    }
    if order == 0 {
        return true;
    }
    let cma = alloc_flags.contains(AllocFlags::ALLOC_CMA);
    z.free_area[order as usize..].iter().any(|a| {
        !a.is_empty()
            && ((0..MIGRATE_PCPTYPES).any(|mt| a.first(mt).is_some())
                || (cma && a.first(MIGRATE_CMA).is_some())
                || (alloc_harder && a.first(MIGRATE_HIGHATOMIC).is_some()))
    })
}

/// `zone_watermark_fast()` (6.1): for an order-0 request, usable free pages above the mark
/// plus the reserve are enough; anything else takes the full check. A `GFP_ATOMIC` order-0
/// request checked against the min watermark ignores the boost (so a boost never makes
/// atomic allocations fail earlier).
#[inline]
pub fn zone_watermark_fast(
    z: &Zone,
    order: u32,
    mark: u64,
    highest_zoneidx: ZoneType,
    alloc_flags: AllocFlags,
    gfp: GfpFlags,
) -> bool {
    let free_pages = z.nr_free_pages as i64;
    if order == 0 {
        let reserved = __zone_watermark_unusable_free(z, 0, alloc_flags);
        let usable = free_pages - free_pages.min(reserved);
        if usable > (mark + z.lowmem_reserve[highest_zoneidx.idx()]) as i64 {
            return true;
        }
    }
    if __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages) {
        return true;
    }
    if order == 0
        && gfp.contains(GfpFlags::__GFP_ATOMIC)
        && z.watermark_boost != 0
        && alloc_flags.wmark() == WMARK_MIN
    {
        let mark = z._watermark[WMARK_MIN];
        return __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages);
    }
    false
}

/// `zone_watermark_ok()`: `__zone_watermark_ok` with the zone's own free page count.
pub fn zone_watermark_ok(
    z: &Zone,
    order: u32,
    mark: u64,
    highest_zoneidx: ZoneType,
    alloc_flags: AllocFlags,
) -> bool {
    if order as usize >= MAX_ORDER {
        return false;
    }
    __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, z.nr_free_pages as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    fn zone(t: ZoneType, managed: u64) -> Zone {
        let mut z = Zone::new(t);
        z.managed_pages = managed;
        z.present_pages = managed;
        z.spanned_pages = managed;
        z
    }

    #[test]
    fn names_and_indices() {
        assert_eq!(
            ZoneType::ALL.map(ZoneType::name),
            ["DMA", "DMA32", "Normal", "HighMem", "Movable"]
        );
        for t in ZoneType::ALL {
            assert_eq!(ZoneType::from_idx(t.idx()), Some(t));
        }
        assert_eq!(ZoneType::from_idx(MAX_NR_ZONES), None);
        assert!(!ZoneType::Movable.is_highmem());
        assert!(ZoneType::HighMem.is_highmem() && !ZoneType::Normal.is_highmem());
    }

    #[test]
    fn int_sqrt_is_the_floor() {
        for x in [0u64, 1, 2, 3, 4, 15, 16, 17, 99, 100, 12_146_176, u32::MAX as u64, u64::MAX] {
            let r = int_sqrt(x);
            assert!(r.checked_mul(r).is_some_and(|sq| sq <= x), "{x}");
            assert!((r + 1).checked_mul(r + 1).is_none_or(|sq| sq > x), "{x}");
        }
    }

    #[test]
    fn min_free_kbytes_formula() {
        // Documentation/sysctl: 16 MiB lowmem -> 512 kB, 1 GiB -> 4096 kB (4 * sqrt(kB)).
        assert_eq!(calculate_min_free_kbytes(16 * 1024), 512);
        assert_eq!(calculate_min_free_kbytes(1024 * 1024), 4096);
        assert_eq!(calculate_min_free_kbytes(0), MIN_FREE_KBYTES_MIN);
        assert_eq!(calculate_min_free_kbytes(1 << 40), MIN_FREE_KBYTES_MAX);
    }

    /// The reference board (Linux 6.1, raspi2b, 3G split, 1 GiB) in
    /// shared/samples/linux-6.1-raspi2b-3G-proc.txt: a DMA zone of 189784 managed pages (all
    /// lowmem; Normal empty) and a HighMem zone of 49152, printing `min 869 low 1086 high
    /// 1303` and `protection: (0, 0, 192, 192)` (the 4th entry is the empty ZONE_MOVABLE).
    ///
    /// 869 = 3477 >> 2: `init_per_zone_wmark_min` ran at postcore_initcall, when fewer pages
    /// were managed than at the time of the dump (the initramfs and `__init` memory were
    /// freed later), so `nr_free_buffer_pages` was about 189000, not 189784.
    #[test]
    fn reproduces_the_linux_6_1_sample() {
        assert_eq!(calculate_min_free_kbytes(189_000 * KB_PER_PAGE), 3477);
        let mut zones = [
            zone(ZoneType::Dma, 189_784),
            zone(ZoneType::Dma32, 0),
            zone(ZoneType::Normal, 0),
            zone(ZoneType::HighMem, 49_152),
            zone(ZoneType::Movable, 0),
        ];
        zones[1].present_pages = 0;
        zones[2].present_pages = 0;
        setup_per_zone_wmarks(&mut zones, 3477, DEFAULT_WATERMARK_SCALE_FACTOR);
        assert_eq!(zones[0]._watermark, [869, 1086, 1303]);
        // HighMem: min = clamp(49152 / 1024, 32, 128) = 48; share = 869 * 49152 / 189784 = 225,
        // gap = max(225 / 4, 49152 * 10 / 10000) = 56.
        assert_eq!(zones[3]._watermark, [48, 104, 160]);
        assert_eq!(zones[2]._watermark, [0, 0, 0]);
        // Movable counts as lowmem in 6.1's split: an empty one gets no marks.
        assert_eq!(zones[4]._watermark, [0, 0, 0]);

        setup_per_zone_lowmem_reserve(&mut zones, &DEFAULT_LOWMEM_RESERVE_RATIO);
        // The unconfigured DMA32 slot manages nothing, so it adds nothing to the sums.
        assert_eq!(zones[0].lowmem_reserve, [0, 0, 0, 192, 192]);
        // An empty zone reserves nothing; HighMem's ratio is 0.
        assert_eq!(zones[2].lowmem_reserve, [0; MAX_NR_ZONES]);
        assert_eq!(zones[3].lowmem_reserve, [0; MAX_NR_ZONES]);

        assert_eq!(calculate_totalreserve_pages(&zones), (192 + 1303) + 160);
    }

    #[test]
    fn lowmem_reserve_of_a_normal_zone_below_highmem() {
        // The Pi's 2G/3G builds without a DMA zone: Normal below HighMem.
        let mut zones = [
            zone(ZoneType::Dma, 0),
            zone(ZoneType::Dma32, 0),
            zone(ZoneType::Normal, 180_000),
            zone(ZoneType::HighMem, 64_000),
            zone(ZoneType::Movable, 0),
        ];
        setup_per_zone_lowmem_reserve(&mut zones, &DEFAULT_LOWMEM_RESERVE_RATIO);
        assert_eq!(zones[2].lowmem_reserve, [0, 0, 0, 64_000 / 32, 64_000 / 32]);
        assert_eq!(zones[0].lowmem_reserve, [0; MAX_NR_ZONES]);
        // DMA + Normal + HighMem, x86-style.
        let mut zones = [
            zone(ZoneType::Dma, 3_968),
            zone(ZoneType::Dma32, 0),
            zone(ZoneType::Normal, 220_000),
            zone(ZoneType::HighMem, 30_000),
            zone(ZoneType::Movable, 0),
        ];
        setup_per_zone_lowmem_reserve(&mut zones, &DEFAULT_LOWMEM_RESERVE_RATIO);
        assert_eq!(zones[0].lowmem_reserve, [0, 0, 220_000 / 256, 250_000 / 256, 250_000 / 256]);
        assert_eq!(zones[2].lowmem_reserve, [0, 0, 0, 30_000 / 32, 30_000 / 32]);
    }

    /// arm64 on the Pi 3 (the reference's zoneinfo): DMA holds all 234026 managed pages,
    /// DMA32, Normal and Movable are empty, so every protection entry is 0.
    #[test]
    fn lowmem_reserve_of_arm64s_dma_only_node() {
        let mut zones = [
            zone(ZoneType::Dma, 234_026),
            zone(ZoneType::Dma32, 0),
            zone(ZoneType::Normal, 0),
            zone(ZoneType::HighMem, 0),
            zone(ZoneType::Movable, 0),
        ];
        setup_per_zone_lowmem_reserve(&mut zones, &DEFAULT_LOWMEM_RESERVE_RATIO);
        assert!(zones.iter().all(|z| z.lowmem_reserve == [0; MAX_NR_ZONES]));
        // With a populated DMA32 (4 GiB board), DMA keeps DMA32's pages / 256 back.
        zones[1] = zone(ZoneType::Dma32, 786_432);
        setup_per_zone_lowmem_reserve(&mut zones, &DEFAULT_LOWMEM_RESERVE_RATIO);
        assert_eq!(zones[0].lowmem_reserve, [0, 3072, 3072, 3072, 3072]);
    }

    #[test]
    fn watermarks_split_over_lowmem_zones() {
        let mut zones = [
            zone(ZoneType::Dma, 4_000),
            zone(ZoneType::Normal, 196_000),
            zone(ZoneType::HighMem, 20_000),
        ];
        setup_per_zone_wmarks(&mut zones, 4000, DEFAULT_WATERMARK_SCALE_FACTOR);
        // pages_min = 1000, split 4000 : 196000.
        assert_eq!(zones[0]._watermark[WMARK_MIN], 20);
        assert_eq!(zones[1]._watermark[WMARK_MIN], 980);
        assert_eq!(zones[1]._watermark[WMARK_LOW], 980 + 245);
        assert_eq!(zones[1]._watermark[WMARK_HIGH], 980 + 490);
        // DMA gap: max(20 / 4, 4000 * 10 / 10000) = 5.
        assert_eq!(zones[0]._watermark, [20, 25, 30]);
        // A small highmem zone still gets SWAP_CLUSTER_MAX.
        assert_eq!(zones[2]._watermark[WMARK_MIN], SWAP_CLUSTER_MAX);
        // A bigger scale factor widens the gaps.
        setup_per_zone_wmarks(&mut zones, 4000, 1000);
        assert_eq!(zones[1]._watermark[WMARK_LOW], 980 + 19_600);
    }

    #[test]
    fn no_lowmem_means_no_division_by_zero() {
        let mut zones = [zone(ZoneType::HighMem, 1000)];
        setup_per_zone_wmarks(&mut zones, 1024, DEFAULT_WATERMARK_SCALE_FACTOR);
        assert_eq!(zones[0]._watermark, [32, 33, 34]);
    }

    fn zone_with_free(
        free: u64,
        wmark: [u64; 3],
        reserve: [u64; MAX_NR_ZONES],
        orders: &[usize],
    ) -> Zone {
        let mut z = zone(ZoneType::Normal, 10_000);
        z.nr_free_pages = free;
        z._watermark = wmark;
        z.lowmem_reserve = reserve;
        let mut pages = vec![Page::RESERVED; 64];
        for (i, &o) in orders.iter().enumerate() {
            z.free_area[o].add(&mut pages, i as u32, MIGRATE_UNMOVABLE, false);
        }
        z
    }

    /// A zone with one free block of `order` on the list of `mt`.
    fn zone_with_block(free: u64, order: usize, mt: usize) -> Zone {
        let mut z = zone_with_free(free, [100, 125, 150], [0; MAX_NR_ZONES], &[]);
        let mut pages = vec![Page::RESERVED; 4];
        z.free_area[order].add(&mut pages, 0, mt, false);
        z
    }

    #[test]
    fn watermark_ok_order_0() {
        let none = AllocFlags::empty();
        let z = zone_with_free(101, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, none));
        let z = zone_with_free(100, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, none), "free must exceed min");
        // ALLOC_HIGH: min 100 -> 50.
        let z = zone_with_free(51, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, AllocFlags::ALLOC_HIGH));
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, none));
        // GFP_ATOMIC = ALLOC_HIGH | ALLOC_HARDER: 100 -> 50 -> 38.
        let atomic = AllocFlags::ALLOC_HIGH | AllocFlags::ALLOC_HARDER;
        let z = zone_with_free(39, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, atomic));
        let z = zone_with_free(38, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, atomic));
        // ALLOC_HARDER alone: 100 -> 75.
        let z = zone_with_free(76, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, AllocFlags::ALLOC_HARDER));
        let z = zone_with_free(75, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, AllocFlags::ALLOC_HARDER));
    }

    #[test]
    fn watermark_ok_adds_lowmem_reserve_of_the_requested_zone() {
        let none = AllocFlags::empty();
        let z = zone_with_free(300, [100, 125, 150], [0, 0, 0, 200, 200], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, none));
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::HighMem, none));
        let z = zone_with_free(301, [100, 125, 150], [0, 0, 0, 200, 200], &[0]);
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::HighMem, none));
    }

    #[test]
    fn watermark_fast_agrees_with_the_full_check() {
        let flag_sets = [
            AllocFlags::ALLOC_WMARK_LOW,
            AllocFlags::ALLOC_WMARK_MIN | AllocFlags::ALLOC_HIGH,
            AllocFlags::ALLOC_WMARK_MIN | AllocFlags::ALLOC_HIGH | AllocFlags::ALLOC_HARDER,
        ];
        for free in [0, 99, 100, 101, 125, 126, 325, 326, 2000] {
            for reserve in [[0; MAX_NR_ZONES], [0, 0, 0, 200, 200]] {
                for orders in [&[][..], &[0], &[3], &[10]] {
                    let z = zone_with_free(free, [100, 125, 150], reserve, orders);
                    for order in [0, 1, 3, 10] {
                        for flags in flag_sets {
                            for t in [ZoneType::Normal, ZoneType::HighMem] {
                                let mark = z.wmark_pages(flags.wmark());
                                assert_eq!(
                                    zone_watermark_fast(&z, order, mark, t, flags, GfpFlags::GFP_KERNEL),
                                    zone_watermark_ok(&z, order, mark, t, flags),
                                    "free {free} reserve {reserve:?} orders {orders:?} order {order} {flags:?} {t:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn watermark_ok_higher_orders_need_a_block() {
        let none = AllocFlags::empty();
        let z = zone_with_free(1000, [100, 125, 150], [0; MAX_NR_ZONES], &[0, 1]);
        assert!(zone_watermark_ok(&z, 1, 100, ZoneType::Normal, none));
        assert!(!zone_watermark_ok(&z, 2, 100, ZoneType::Normal, none));
        let z = zone_with_free(1000, [100, 125, 150], [0; MAX_NR_ZONES], &[5]);
        assert!(zone_watermark_ok(&z, 3, 100, ZoneType::Normal, none));
        // free - (2^order - 1) must still exceed min: 110 - 15 = 95 <= 100.
        let z = zone_with_free(110, [100, 125, 150], [0; MAX_NR_ZONES], &[4]);
        assert!(!zone_watermark_ok(&z, 4, 100, ZoneType::Normal, none));
        assert!(!zone_watermark_ok(&z, MAX_ORDER as u32, 0, ZoneType::Normal, none));
    }

    #[test]
    fn free_list_links_are_o1_at_both_ends() {
        let mut pages = vec![Page::RESERVED; 8];
        let mut a = FreeArea::EMPTY;
        assert!(a.is_empty());
        a.add(&mut pages, 3, MIGRATE_UNMOVABLE, false);
        a.add(&mut pages, 5, MIGRATE_UNMOVABLE, false);
        a.add(&mut pages, 1, MIGRATE_UNMOVABLE, true);
        a.add(&mut pages, 7, MIGRATE_MOVABLE, false);
        assert_eq!((a.nr_free_of(MIGRATE_UNMOVABLE), a.nr_free_of(MIGRATE_MOVABLE)), (3, 1));
        a.del(&mut pages, 7);
        let order: Vec<u32> = a.iter(&pages).collect();
        assert_eq!(order, [5, 3, 1]);
        assert_eq!(a.nr_free, 3);
        a.del(&mut pages, 3);
        assert_eq!(a.iter(&pages).collect::<Vec<_>>(), [5, 1]);
        a.del(&mut pages, 5);
        assert_eq!(a.first(MIGRATE_UNMOVABLE), Some(1));
        a.del(&mut pages, 1);
        assert!(a.is_empty());
        assert_eq!(a.lists[MIGRATE_UNMOVABLE].tail, NIL);
        assert_eq!(a.nr_free, 0);
        assert_eq!((pages[1].lru_next, pages[1].lru_prev), (NIL, NIL));
    }

    #[test]
    fn free_cma_pages_count_only_for_alloc_cma() {
        // 300 free, 250 of them CMA: an unmovable request sees 50.
        let mut z = zone_with_free(300, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        z.nr_free_cma = 250;
        let cma = AllocFlags::ALLOC_CMA;
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, AllocFlags::empty()));
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, cma));
        assert_eq!(__zone_watermark_unusable_free(&z, 2, AllocFlags::empty()), 3 + 250);
        // A block on the CMA list serves a higher order only with ALLOC_CMA.
        let z = zone_with_block(1000, 4, MIGRATE_CMA);
        assert!(!zone_watermark_ok(&z, 3, 100, ZoneType::Normal, AllocFlags::empty()));
        assert!(zone_watermark_ok(&z, 3, 100, ZoneType::Normal, cma));
    }

    #[test]
    fn highatomic_reserve_is_kept_from_ordinary_requests() {
        let mut z = zone_with_block(300, 2, MIGRATE_HIGHATOMIC);
        z.nr_reserved_highatomic = 250;
        let harder = AllocFlags::ALLOC_HARDER;
        assert!(!zone_watermark_ok(&z, 0, 100, ZoneType::Normal, AllocFlags::empty()));
        assert!(zone_watermark_ok(&z, 0, 100, ZoneType::Normal, harder));
        // Only an ALLOC_HARDER request may count a HighAtomic block for its order.
        z.nr_reserved_highatomic = 0;
        assert!(!zone_watermark_ok(&z, 1, 100, ZoneType::Normal, AllocFlags::empty()));
        assert!(zone_watermark_ok(&z, 1, 100, ZoneType::Normal, harder));
    }

    #[test]
    fn boost_raises_every_mark_but_not_for_atomic_min() {
        let mut z = zone_with_free(160, [100, 125, 150], [0; MAX_NR_ZONES], &[0]);
        z.watermark_boost = 100;
        assert_eq!(
            (z.min_wmark_pages(), z.low_wmark_pages(), z.high_wmark_pages()),
            (200, 225, 250)
        );
        assert_eq!(z.base_watermarks(), [100, 125, 150]);
        let min = AllocFlags::ALLOC_WMARK_MIN;
        let mark = z.wmark_pages(WMARK_MIN);
        // 160 free is below the boosted min: GFP_KERNEL fails, GFP_ATOMIC ignores the boost.
        let kernel = GfpFlags::GFP_KERNEL;
        assert!(!zone_watermark_fast(&z, 0, mark, ZoneType::Normal, min, kernel));
        assert!(zone_watermark_fast(&z, 0, mark, ZoneType::Normal, min, GfpFlags::GFP_ATOMIC));
        // ...but only against the min watermark, and only for order 0.
        let low = z.wmark_pages(WMARK_LOW);
        let low_flags = AllocFlags::ALLOC_WMARK_LOW;
        assert!(!zone_watermark_fast(
            &z,
            0,
            low,
            ZoneType::Normal,
            low_flags,
            GfpFlags::GFP_ATOMIC
        ));
        // setup_per_zone_wmarks clears the boost.
        let mut zones = [z];
        setup_per_zone_wmarks(&mut zones, 4000, DEFAULT_WATERMARK_SCALE_FACTOR);
        assert_eq!(zones[0].watermark_boost, 0);
    }

    #[test]
    fn pcp_lists_by_order_and_type() {
        assert_eq!(NR_PCP_LISTS, 12);
        for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
            for mt in 0..MIGRATE_PCPTYPES {
                let pindex = order_to_pindex(mt, order);
                assert!(pindex < NR_PCP_LISTS);
                assert_eq!(pindex_to_order(pindex), order);
                assert_eq!(pindex % MIGRATE_PCPTYPES, mt);
            }
        }
        let mut pages = vec![Page::RESERVED; 16];
        let mut pcp = PerCpuPages::EMPTY;
        let p3 = order_to_pindex(MIGRATE_MOVABLE, 3);
        pcp.add(&mut pages, 8, p3, false);
        pcp.add(&mut pages, 1, order_to_pindex(MIGRATE_MOVABLE, 0), false);
        pcp.add(&mut pages, 2, order_to_pindex(MIGRATE_MOVABLE, 0), true);
        // Counted in pages: an order-3 block is 8.
        assert_eq!(pcp.count(), 10);
        assert_eq!(pcp.pop_last(&mut pages, order_to_pindex(MIGRATE_MOVABLE, 0)), Some(2));
        assert_eq!(pcp.pop_first(&mut pages, p3), Some(8));
        assert_eq!(pcp.count(), 1);
        assert!(pcp.list_empty(p3) && pcp.pop_first(&mut pages, p3).is_none());
        assert_eq!((pages[8].lru_next, pages[8].lru_prev), (NIL, NIL));
    }

    #[test]
    fn vm_stats_threshold_as_6_1() {
        // The arm64 6.1 sample: 234026 managed pages, 4 CPUs -> 24; the 3G sample's DMA
        // zone (189784 pages) likewise.
        assert_eq!(calculate_normal_threshold(234_026, 4), 24);
        assert_eq!(calculate_normal_threshold(189_784, 4), 24);
        // One CPU: 2 * fls(1) * (1 + fls(5)) = 8; a 192 MiB zone: 2 * 1 * (1 + 1) = 4.
        assert_eq!(calculate_normal_threshold(189_784, 1), 8);
        assert_eq!(calculate_normal_threshold(49_152, 1), 4);
        assert_eq!(calculate_normal_threshold(0, 1), 2);
        assert_eq!(calculate_normal_threshold(u64::MAX >> 1, 64), 125);
    }

    #[test]
    fn alloc_flags_carry_the_watermark_index() {
        assert_eq!(AllocFlags::ALLOC_WMARK_LOW.wmark(), WMARK_LOW);
        assert_eq!((AllocFlags::ALLOC_WMARK_HIGH | AllocFlags::ALLOC_HIGH).wmark(), WMARK_HIGH);
        assert_eq!(AllocFlags::ALLOC_HARDER.wmark(), WMARK_MIN);
    }
}
