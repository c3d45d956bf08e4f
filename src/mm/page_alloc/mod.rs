//! The buddy page allocator (Linux's mm/page_alloc.c): a `Node` (`pg_data_t`) owns `mem_map`
//! and the zones, takes free memory from memblock at boot, and serves `alloc_pages` /
//! `free_pages` by splitting and merging power-of-two blocks found by PFN arithmetic. Pure
//! code: page contents (zeroing, poisoning) go through the caller's `PageMemory`.
//!
//! Split along Linux's lines: `init` (free_area_init, memblock_free_all, watermarks, the
//! CMA pageblocks), `alloc` (the fast and slow paths), `pcp` (per-CPU lists), `fallback`
//! (mobility grouping, watermark boosting, HighAtomic reserves), `contig`
//! (`alloc_contig_range` for CMA), `free` and `bad_page` (the free path and its checks),
//! `show_mem` (failure reports) and `verify` (invariants).
mod alloc;
mod bad_page;
mod contig;
mod fallback;
mod free;
mod init;
mod pcp;
mod poison;
mod show_mem;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests61;
mod verify;

pub use alloc::{gfp_to_alloc_flags, AllocError};
pub use bad_page::{write_dump_page, BadPageReason, FreeError};
pub use contig::ContigError;
pub use fallback::gfp_migratetype;
pub use free::__find_buddy_pfn;
pub use init::InitError;
pub use pcp::PcpError;
pub use poison::{write_hex_dump, PoisonCorruption, PoisonReports};
pub use show_mem::{
    write_alloc_failure, write_free_area_line, write_show_mem, write_warn_alloc, NodeStats,
};

use core::fmt;

use super::era::KernelEra;
use super::gfp::{gfp_zone, GfpFlags};
use super::memblock::Memblock;
use super::mm_init::{PfnRange, Zones};
use super::page::{
    free_mt_flags, LruFlags, MemMap, Page, PageFlagNames, PageFlags, PageOwner, BITS_PER_LONG, NIL,
    NO_ZONE,
};
use super::swap::Lruvec;
use super::zone::{
    calculate_min_free_kbytes, calculate_normal_threshold, calculate_totalreserve_pages,
    is_migrate_cma, migratetype_is_mergeable, mult_frac, order_to_pindex, pindex_to_order,
    setup_per_zone_lowmem_reserve, setup_per_zone_wmarks, zone_batchsize_capped, zone_highsize,
    zone_watermark_fast, AllocFlags, Zone, ZoneType, DEFAULT_LOWMEM_RESERVE_RATIO,
    DEFAULT_WATERMARK_BOOST_FACTOR, DEFAULT_WATERMARK_SCALE_FACTOR, MAX_NR_ZONES, MIGRATE_CMA,
    MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE, MIGRATE_MOVABLE, MIGRATE_PCPTYPES, MIGRATE_RECLAIMABLE,
    MIGRATE_TYPES, MIGRATE_UNMOVABLE, NR_PCP_LISTS, PAGE_ALLOC_COSTLY_ORDER, PCP_BATCH_MAX_PAGES,
    PCP_BATCH_MAX_PAGES_3X, WMARK_HIGH,
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

/// A page frame the kernel could not reach: its temporary mapping (highmem) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageAccessError {
    pub pfn: Pfn,
}

impl fmt::Display for PageAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot map pfn:{:#x} to reach its contents", self.pfn.0)
    }
}

/// Access to the contents of page frames, which the allocator itself never touches. The
/// kernel implements it with real memory (lowmem through the linear map, highmem through a
/// temporary mapping); tests with a fake. Methods take `&self`: implementations write RAM,
/// not their own state. A page that cannot be mapped is an error, never skipped in silence.
pub trait PageMemory {
    /// Fills the `1 << order` pages at `pfn` with zeroes (`__GFP_ZERO`).
    fn zero(&self, pfn: Pfn, order: u32) -> Result<(), PageAccessError>;
    /// Fills one page with `PAGE_POISON` (on free, with page poisoning on).
    fn poison(&self, pfn: Pfn) -> Result<(), PageAccessError>;
    /// Byte offset of the first byte of one page that is not `PAGE_POISON`, if any (checked
    /// on alloc, as `memchr_inv`).
    fn check_poison(&self, pfn: Pfn) -> Result<Option<usize>, PageAccessError>;
    /// Copies `buf.len()` bytes of one page from byte `offset` on (for a corruption report).
    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) -> Result<(), PageAccessError>;
}

/// A `PageMemory` that cannot reach memory: zeroing and poisoning do nothing. Host tests and
/// benchmarks that only look at the allocator's bookkeeping use it; the kernel must install
/// a real one (`Node::set_page_memory`) before `__GFP_ZERO` means anything.
pub struct NoPageMemory;

impl PageMemory for NoPageMemory {
    fn zero(&self, _pfn: Pfn, _order: u32) -> Result<(), PageAccessError> {
        Ok(())
    }
    fn poison(&self, _pfn: Pfn) -> Result<(), PageAccessError> {
        Ok(())
    }
    fn check_poison(&self, _pfn: Pfn) -> Result<Option<usize>, PageAccessError> {
        Ok(None)
    }
    fn read(&self, _pfn: Pfn, _offset: usize, buf: &mut [u8]) -> Result<(), PageAccessError> {
        buf.fill(PAGE_POISON);
        Ok(())
    }
}

static NO_PAGE_MEMORY: NoPageMemory = NoPageMemory;

/// Where the linear map puts lowmem: `__va(phys) = phys - phys_offset + page_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearMap {
    pub page_offset: VirtAddr,
    pub phys_offset: PhysAddr,
}

impl Default for LinearMap {
    /// The build's PAGE_OFFSET over RAM at physical 0 (the Pi).
    fn default() -> Self {
        LinearMap { page_offset: VirtAddr(PAGE_OFFSET as usize), phys_offset: PhysAddr(0) }
    }
}

/// `pg_data_t`: the one memory node — mem_map, zones, and the allocator's tunables.
#[repr(C)]
pub struct Node<'a> {
    // The fields every allocation or free reads come first: with `repr(C)` they stay within
    // the 4 KiB an ARM load's immediate offset reaches, before the zones' free lists.
    mem_map: MemMap<'a>,
    page_poisoning: bool,
    /// Linux's `page_group_by_mobility_disabled`: too little memory to group by mobility
    /// (fewer pages than `pageblock_nr_pages * MIGRATE_TYPES`), so everything is unmovable.
    mobility_disabled: bool,
    /// The kernel whose allocator this node behaves as (the profile's era).
    era: KernelEra,
    /// Highest order the per-CPU lists keep (`pcp_allowed_order`).
    pcp_max_order: u32,
    /// The migrate type of each pageblock (`pageblock_flags`, Linux's usemap), from the
    /// map's first one, two to a byte; sized for the node (`usemap_size`).
    pageblock_mt: &'a mut [u8],
    /// Zones this kernel has (a layout without ZONE_DMA maps `__GFP_DMA` to Normal, as a
    /// kernel built without CONFIG_ZONE_DMA does; likewise HighMem).
    configured: [bool; MAX_NR_ZONES],
    memory: &'a (dyn PageMemory + Sync),
    node_zones: [Zone; MAX_NR_ZONES],
    linear: LinearMap,
    min_free_kbytes: u64,
    watermark_scale_factor: u64,
    lowmem_reserve_ratio: [u64; MAX_NR_ZONES],
    /// Online CPUs of the node (`cpumask_of_node`), among which `zone_highsize` shares the
    /// low watermark and with which the vmstat thresholds grow. pivm runs on one.
    nr_cpus: u64,
    /// `vm.watermark_boost_factor` (0: no boosting).
    watermark_boost_factor: u64,
    /// kswapd was woken (`wakeup_kswapd`) and has not run yet.
    kswapd_woken: bool,
    /// `wake_up_interruptible(&pgdat->kswapd_wait)`: the kernel's wake-up of its kswapd
    /// thread, called under the node's lock from any context (it takes no lock).
    kswapd_wait: Option<fn()>,
    /// `totalcma_pages`: pages of every CMA area, from the moment they are reserved.
    totalcma_pages: u64,
    /// `pgdat->__lruvec`: the LRU lists of the node's user pages (`mm::swap`).
    lruvec: Lruvec,
    /// What page poisoning found, waiting for the kernel to print it. Last, and the struct
    /// `repr(C)`, so its page-sized buffer does not push the hot fields beyond the 4 KiB
    /// that an ARM load's immediate offset reaches.
    poison_reports: PoisonReports,
}

/// `pageblock_order`: the architecture's huge page order where it has huge pages, capped at
/// MAX_ORDER - 1; without them one block of the largest order.
pub const PAGEBLOCK_ORDER: u32 = pageblock_order_for(MAX_ORDER);

/// `pageblock_order` for a buddy allocator of `max_order` orders (`MAX_ORDER`) on this
/// architecture.
pub const fn pageblock_order_for(max_order: usize) -> u32 {
    pageblock_order_with(max_order, crate::config::HUGETLB_PAGE_ORDER)
}

/// `pageblock_order` (include/linux/pageblock-flags.h): `min(HUGETLB_PAGE_ORDER,
/// MAX_ORDER - 1)` with huge pages, `MAX_ORDER - 1` without.
pub const fn pageblock_order_with(max_order: usize, hugetlb_page_order: Option<u32>) -> u32 {
    let largest = max_order as u32 - 1;
    match hugetlb_page_order {
        Some(h) if h < largest => h,
        _ => largest,
    }
}
/// `pageblock_nr_pages`.
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << PAGEBLOCK_ORDER;
/// Bits of the pageblock table per pageblock (a migrate type is below 8).
const PB_MIGRATETYPE_BITS: u32 = 4;

/// `usemap_size()`: bytes of pageblock table for a node of `[start, end)`: four bits per
/// pageblock it touches (240 bytes for the Pi's 960 MiB by default, 60 KiB with
/// MAX_ORDER=2's 8 KiB pageblocks).
pub const fn usemap_size(start: Pfn, end: Pfn) -> usize {
    if end.0 <= start.0 {
        return 0;
    }
    let blocks = ((end.0 - 1) >> PAGEBLOCK_ORDER) - (start.0 >> PAGEBLOCK_ORDER) + 1;
    blocks.div_ceil(2) as usize
}

/// What [`Node::zap_rmap`] found dropping one mapping of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZapRmap {
    /// Other address spaces map it too: one mapping fewer.
    Shared,
    /// An anonymous page this was the last mapping of (the caller frees it).
    Anon,
    /// A swap-backed page-cache page (tmpfs, shmem): `MM_SHMEMPAGES`.
    Shmem,
    /// Any other page (a disk file's page-cache page, or not in mem_map).
    Other,
}

impl<'a> Node<'a> {
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

    /// Corruptions page poisoning has found so far.
    pub fn poison_corruptions(&self) -> u64 {
        self.poison_reports.total()
    }

    /// Whether a corruption report waits to be printed.
    #[inline]
    pub fn poison_report_pending(&self) -> bool {
        self.poison_reports.pending()
    }

    /// The oldest corruption report not printed yet, with the number of later ones that
    /// found its slot taken (Linux's ratelimit: `callbacks suppressed`). The kernel prints
    /// it after the allocation that found it.
    pub fn take_poison_report(&mut self) -> Option<(PoisonCorruption, u64)> {
        self.poison_reports.take()
    }

    /// The descriptor of `pfn`.
    pub fn page(&self, pfn: Pfn) -> Option<&Page> {
        self.mem_map.pfn_to_page(pfn)
    }

    /// `page_dup_anon_rmap` as fork's `copy_present_page` calls it: when `pfn` is an allocated
    /// anonymous page (`PageOwner::Anon`), one more mapping counted in its descriptor, true;
    /// otherwise nothing changes, false. One descriptor lookup answers both.
    pub fn dup_anon_rmap(&mut self, pfn: Pfn) -> bool {
        match self.mem_map.pfn_to_page_mut(pfn) {
            Some(p) if p.owner() == PageOwner::Anon => {
                p.dup_rmap();
                true
            }
            _ => false,
        }
    }

    /// `page_dup_anon_rmap` of a page known to be anonymous (a swapped-in page another PTE
    /// maps already).
    pub fn dup_rmap(&mut self, pfn: Pfn) {
        if let Some(p) = self.mem_map.pfn_to_page_mut(pfn) {
            p.dup_rmap();
        }
    }

    /// `page_remove_rmap` of an anonymous page: one mapping fewer when other address spaces
    /// map it too (true); false, changing nothing, when this was its only mapping.
    pub fn remove_shared_rmap(&mut self, pfn: Pfn) -> bool {
        self.mem_map.pfn_to_page_mut(pfn).is_some_and(|p| p.remove_shared_rmap())
    }

    /// `page_remove_rmap` for `zap_pte_range`'s gathered pages, with one descriptor lookup:
    /// a page other address spaces map too loses one mapping (`Shared`); otherwise nothing
    /// changes and the page's owner says whether it is an anonymous page whose last mapping
    /// this was (`Anon`) or another page (`Other`: a page-cache page).
    pub fn zap_rmap(&mut self, pfn: Pfn) -> ZapRmap {
        let Some(p) = self.mem_map.pfn_to_page_mut(pfn) else { return ZapRmap::Other };
        if p.remove_shared_rmap() {
            ZapRmap::Shared
        } else if p.owner() == PageOwner::Anon {
            ZapRmap::Anon
        } else if p.lru_flags().contains(LruFlags::PG_swapbacked) {
            ZapRmap::Shmem
        } else {
            ZapRmap::Other
        }
    }

    /// A shmem page moving between its file's page cache and the swap cache
    /// (`shmem_writepage`'s `add_to_swap_cache`, `shmem_swapin_folio`'s way back): an allocated
    /// order-0 page owned by `from` becomes `to`'s. False, changing nothing, otherwise.
    pub fn move_page_owner(&mut self, pfn: Pfn, from: PageOwner, to: PageOwner) -> bool {
        match self.mem_map.pfn_to_page_mut(pfn) {
            Some(p) if p.owner() == from && p.order() == 0 && p.refcount() != 0 => {
                p.set_owner(to);
                true
            }
            _ => false,
        }
    }

    /// `PageSwapBacked` of `pfn` (false for a frame outside mem_map).
    pub fn page_swapbacked(&self, pfn: Pfn) -> bool {
        self.mem_map
            .pfn_to_page(pfn)
            .is_some_and(|p| p.lru_flags().contains(LruFlags::PG_swapbacked))
    }

    /// `__sync_icache_dcache`'s `test_and_set_bit(PG_dcache_clean)` for a page-cache page
    /// about to be mapped executable: true when its data was cleaned since the kernel last
    /// wrote it (only the instruction cache needs invalidating); otherwise marks it clean and
    /// returns false (the caller cleans it now). Other pages are always cleaned (false): pivm
    /// writes user pages through the kernel's mapping without marking them.
    pub fn test_and_set_dcache_clean(&mut self, pfn: Pfn) -> bool {
        match self.mem_map.pfn_to_page_mut(pfn) {
            Some(p) if p.owner() == PageOwner::PageCache => {
                let was = p.flags.contains(PageFlags::PG_dcache_clean);
                p.flags.insert(PageFlags::PG_dcache_clean);
                was
            }
            _ => false,
        }
    }

    /// `flush_dcache_page` before the kernel writes a page-cache page: its next executable
    /// mapping cleans the data cache again.
    pub fn clear_dcache_clean(&mut self, pfn: Pfn) {
        if let Some(p) = self.mem_map.pfn_to_page_mut(pfn) {
            p.flags.remove(PageFlags::PG_dcache_clean);
        }
    }

    pub fn mem_map(&self) -> &MemMap<'a> {
        &self.mem_map
    }

    /// The node's LRU lists.
    pub fn lruvec(&self) -> &Lruvec {
        &self.lruvec
    }

    /// The LRU lists with the mem_map their pages are linked through (`mm::swap`'s
    /// operations take both).
    pub fn lru_mut(&mut self) -> (&mut Lruvec, &mut MemMap<'a>) {
        (&mut self.lruvec, &mut self.mem_map)
    }

    /// The zone `pfn` belongs to.
    pub fn page_zone(&self, pfn: Pfn) -> Option<ZoneType> {
        ZoneType::from_idx(self.page(pfn)?.zone_idx() as usize)
    }

    /// `PageHighMem()`: needs kmap to be touched.
    pub fn page_is_highmem(&self, pfn: Pfn) -> bool {
        self.page_zone(pfn) == Some(ZoneType::HighMem)
    }

    /// The linear-map address of a lowmem page frame (callers pass lowmem pages only: their
    /// offset from PHYS_OFFSET is below `high_memory - PAGE_OFFSET`, so it fits a `usize`).
    fn pfn_to_virt(&self, pfn: Pfn) -> VirtAddr {
        let offset = pfn.phys().0.wrapping_sub(self.linear.phys_offset.0) as usize;
        VirtAddr(offset.wrapping_add(self.linear.page_offset.0))
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
        let offset = addr.0.checked_sub(self.linear.page_offset.0)? as u64;
        let pfn = Pfn((self.linear.phys_offset.0 + offset) >> PAGE_SHIFT);
        matches!(self.page_zone(pfn)?, ZoneType::Dma | ZoneType::Normal).then_some(pfn)
    }

    pub fn zone(&self, t: ZoneType) -> &Zone {
        &self.node_zones[t.idx()]
    }

    /// DMA, Normal, HighMem, Movable (configured or not).
    pub fn zones(&self) -> &[Zone; MAX_NR_ZONES] {
        &self.node_zones
    }

    /// The zones this kernel is built with, lowest first (Linux's `node_zones[]`).
    pub fn configured_zones(&self) -> impl Iterator<Item = &Zone> {
        self.node_zones.iter().filter(|z| self.configured[z.zone_type().idx()])
    }

    /// The kernel the node's allocator behaves as.
    pub fn era(&self) -> KernelEra {
        self.era
    }

    /// Online CPUs (how many pagesets /proc/zoneinfo shows).
    pub fn nr_online_cpus(&self) -> u64 {
        self.nr_cpus
    }

    /// `totalcma_pages` (CmaTotal).
    pub fn totalcma_pages(&self) -> u64 {
        self.totalcma_pages
    }

    /// `global_zone_page_state(NR_FREE_CMA_PAGES)` (CmaFree).
    pub fn nr_free_cma_pages(&self) -> u64 {
        self.node_zones.iter().map(Zone::nr_free_cma_pages).sum()
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
}
