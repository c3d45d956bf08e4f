//! Setting the node up (`free_area_init`, `memblock_free_all`) and its watermarks,
//! lowmem reserves and per-CPU list limits (`init_per_zone_wmark_min`).
use core::mem::MaybeUninit;

use super::*;

/// A 3.x kernel's `pcp->high`: six batches (`pageset_set_batch`).
const PCP_HIGH_BATCHES_3X: u64 = 6;

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
    /// The pageblock table given is smaller than the node needs.
    UsemapTooSmall { have: usize, need: usize },
    /// A CMA pageblock is not wholly reserved RAM of one zone.
    CmaBlockInvalid { pfn: Pfn },
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
            InitError::UsemapTooSmall { have, need } => {
                write!(f, "free_area_init: pageblock table of {have} bytes, {need} needed")
            }
            InitError::CmaBlockInvalid { pfn } => write!(
                f,
                "init_cma_reserved_pageblock: pfn {:#x}: the pageblock is not reserved RAM of one zone",
                pfn.0
            ),
        }
    }
}

/// The zones' spans, each inside mem_map's `[base, end)` and above the one before.
fn check_spans(
    zones: &Zones,
    base: Pfn,
    end: Pfn,
) -> Result<[Option<PfnRange>; crate::mm::zone::MAX_NR_ZONES], InitError> {
    let spans = zones.spans();
    let mut prev_end = 0;
    for (t, span) in ZoneType::ALL.into_iter().zip(spans) {
        let Some(span) = span.filter(|s| !s.is_empty()) else { continue };
        if span.start.0 < base.0 || span.end.0 > end.0 {
            return Err(InitError::ZoneOutsideMap { zone: t, span });
        }
        if span.start.0 < prev_end {
            return Err(InitError::ZonesOverlap { zone: t, span });
        }
        prev_end = span.end.0;
    }
    Ok(spans)
}

/// `memmap_init()`: every descriptor reserved (`__init_single_page`), in its zone where one
/// of `spans` (checked by `check_spans`) covers it, with no zone elsewhere. One pass over
/// the map, a zone's run at a time; afterwards every element is initialised. A plain `fill`:
/// with `struct page` aligned to its widest field the compiler inlines each descriptor's
/// stores on both kernels (ARMv7's `stm`, arm64's `stp`; when arm64's descriptor was only
/// 4-byte aligned its `strict-align` target made each one an out-of-line `memcpy`).
fn memmap_init(pages: &mut [MaybeUninit<Page>], base: u64, spans: &[Option<PfnRange>]) {
    let mut done = 0;
    for (t, span) in ZoneType::ALL.into_iter().zip(spans) {
        let Some(span) = span.filter(|s| !s.is_empty()) else { continue };
        let (s, e) = ((span.start.0 - base) as usize, (span.end.0 - base) as usize);
        pages[done..s].fill(MaybeUninit::new(Page::RESERVED));
        let zoned = Page { zone: crate::mm::page::page_zonenum(t as u8), ..Page::RESERVED };
        pages[s..e].fill(MaybeUninit::new(zoned));
        done = e;
    }
    pages[done..].fill(MaybeUninit::new(Page::RESERVED));
}

impl<'a> Node<'a> {
    /// `free_area_init()`: lays the zones over `mem_map` as the layout computed them and
    /// initialises every descriptor reserved (Linux's `memmap_init`); no page is free until
    /// `free_bootmem_range`. Present pages start equal to spanned (see `account_holes`).
    #[cfg(not(kernel))]
    pub fn new(mem_map: MemMap<'a>, zones: &Zones) -> Result<Node<'a>, InitError> {
        // Host tests and benchmarks: the table comes from the heap and lives on.
        let bytes = usemap_size(mem_map.base_pfn(), mem_map.end_pfn());
        let usemap = ::alloc::boxed::Box::leak(::alloc::vec![0u8; bytes].into_boxed_slice());
        Self::with_usemap(mem_map, usemap, zones)
    }

    /// `free_area_init()` with the pageblock table (`usemap`, at least `usemap_size` bytes for
    /// the map; the kernel places it with memblock next to mem_map).
    pub fn with_usemap(
        mem_map: MemMap<'a>,
        usemap: &'a mut [u8],
        zones: &Zones,
    ) -> Result<Node<'a>, InitError> {
        let mut slot = None;
        Self::init_in(&mut slot, mem_map, usemap, zones)?;
        Ok(slot.expect("init_in filled the slot"))
    }

    /// `with_usemap` built in `slot`, where the node will live: with its zones' free lists
    /// and page poisoning's report buffer it is over 10 KiB, and boot runs on a 64 KiB stack,
    /// so the kernel never moves it. On an error `slot` is left as it was.
    pub fn init_in<'s>(
        slot: &'s mut Option<Node<'a>>,
        mem_map: MemMap<'a>,
        usemap: &'a mut [u8],
        zones: &Zones,
    ) -> Result<&'s mut Node<'a>, InitError> {
        Self::init_map_in(slot, mem_map, usemap, zones, true)
    }

    /// `init_in`; `fill`: false when `mem_map` comes from `memmap_init` already (the kernel's
    /// boot, `from_uninit_memblock_in`), so its 960 MiB of descriptors are written once.
    fn init_map_in<'s>(
        slot: &'s mut Option<Node<'a>>,
        mut mem_map: MemMap<'a>,
        usemap: &'a mut [u8],
        zones: &Zones,
        fill: bool,
    ) -> Result<&'s mut Node<'a>, InitError> {
        let need = usemap_size(mem_map.base_pfn(), mem_map.end_pfn());
        if usemap.len() < need {
            return Err(InitError::UsemapTooSmall { have: usemap.len(), need });
        }
        let spans = check_spans(zones, mem_map.base_pfn(), mem_map.end_pfn())?;
        let total: u64 = spans.iter().flatten().map(|s| s.pages()).sum();
        let mobility_disabled = total < (1u64 << PAGEBLOCK_ORDER) * MIGRATE_TYPES as u64;
        if fill {
            let pages = mem_map.pages_mut();
            // SAFETY: the same memory seen as possibly uninitialised; memmap_init writes
            // only whole, valid descriptors into it.
            let uninit = unsafe { &mut *(pages as *mut [Page] as *mut [MaybeUninit<Page>]) };
            memmap_init(uninit, mem_map.base_pfn().0, &spans);
        }
        let node = slot.insert(Node {
            mem_map,
            node_zones: ZoneType::ALL.map(Zone::new),
            configured: spans.map(|s| s.is_some()),
            memory: &NO_PAGE_MEMORY,
            linear: LinearMap::default(),
            page_poisoning: false,
            poison_reports: PoisonReports::new(),
            min_free_kbytes: 0,
            watermark_scale_factor: DEFAULT_WATERMARK_SCALE_FACTOR,
            lowmem_reserve_ratio: DEFAULT_LOWMEM_RESERVE_RATIO,
            // memmap_init marks every pageblock movable; without mobility grouping there is
            // one type.
            pageblock_mt: {
                let mt = if mobility_disabled { MIGRATE_UNMOVABLE } else { MIGRATE_MOVABLE } as u8;
                usemap.fill(mt | mt << PB_MIGRATETYPE_BITS);
                usemap
            },
            mobility_disabled,
            nr_cpus: 1,
            era: KernelEra::Linux61,
            pcp_max_order: PAGE_ALLOC_COSTLY_ORDER,
            watermark_boost_factor: DEFAULT_WATERMARK_BOOST_FACTOR,
            kswapd_woken: false,
            kswapd_wait: None,
            totalcma_pages: 0,
            lruvec: Lruvec::new(),
        });
        for (zone, span) in node.node_zones.iter_mut().zip(spans) {
            let Some(span) = span.filter(|s| !s.is_empty()) else { continue };
            zone.zone_start_pfn = span.start.0;
            zone.spanned_pages = span.pages();
            zone.present_pages = span.pages();
        }
        Ok(node)
    }

    /// Makes the node's allocator behave as `era`'s kernel (the profile's): which orders the
    /// per-CPU lists keep and how they are sized, boosting, the fallback rules. Set once at
    /// boot, before the first allocation; recomputes the pcp limits.
    pub fn set_era(&mut self, era: KernelEra) {
        self.era = era;
        (self.pcp_max_order, self.watermark_boost_factor) = match era {
            KernelEra::Linux3x => (0, 0),
            KernelEra::Linux61 => (PAGE_ALLOC_COSTLY_ORDER, DEFAULT_WATERMARK_BOOST_FACTOR),
        };
        self.zone_pcp_update();
    }

    /// `vm.watermark_boost_factor` (0 turns boosting off).
    pub fn set_watermark_boost_factor(&mut self, factor: u64) {
        self.watermark_boost_factor = factor;
    }

    pub fn watermark_boost_factor(&self) -> u64 {
        self.watermark_boost_factor
    }

    /// `init_cma_reserved_pageblock()`: a pageblock of a CMA area, reserved in memblock
    /// until now, goes to the buddy lists as MIGRATE_CMA and counts as managed and as the
    /// zone's `cma_pages`. The whole block must be reserved pages of one zone.
    pub fn init_cma_reserved_pageblock(&mut self, pfn: Pfn) -> Result<(), InitError> {
        let bad = InitError::CmaBlockInvalid { pfn };
        if pfn.0 & (PAGEBLOCK_NR_PAGES - 1) != 0 {
            return Err(bad);
        }
        let idx = self.mem_map.index(pfn).ok_or(bad)?;
        let end = idx as usize + PAGEBLOCK_NR_PAGES as usize;
        let block = self.mem_map.pages().get(idx as usize..end).ok_or(bad)?;
        let z = block[0].zone_idx();
        if z == NO_ZONE || block.iter().any(|p| !p.is_reserved() || p.zone_idx() != z) {
            return Err(bad);
        }
        for p in &mut self.mem_map.pages_mut()[idx as usize..end] {
            p.flags = PageFlags::empty();
            p.refcount = 0;
        }
        self.set_pageblock_migratetype(pfn.0, MIGRATE_CMA);
        let zone = &mut self.node_zones[z as usize];
        zone.managed_pages += PAGEBLOCK_NR_PAGES;
        zone.cma_pages += PAGEBLOCK_NR_PAGES;
        zone.mod_freepage_state(PAGEBLOCK_NR_PAGES as i64, MIGRATE_CMA);
        self.__free_one_page(pfn.0, PAGEBLOCK_ORDER, z as usize, MIGRATE_CMA, false);
        Ok(())
    }

    /// `cma_activate_area()`: every pageblock of the area `[base, base + count)` goes to the
    /// buddy lists as MIGRATE_CMA. The whole area must be reserved pages of one zone, in
    /// whole pageblocks; otherwise its pages become ordinary free memory (no longer counted
    /// as CMA), as Linux does, and the reason comes back.
    pub fn cma_activate_area(&mut self, base: Pfn, count: u64) -> Result<(), InitError> {
        let end = base.0.saturating_add(count);
        let bad = InitError::CmaBlockInvalid { pfn: base };
        let valid = count > 0
            && base.0.is_multiple_of(PAGEBLOCK_NR_PAGES)
            && count.is_multiple_of(PAGEBLOCK_NR_PAGES)
            && self.mem_map.contains(base)
            && end <= self.mem_map.end_pfn().0
            && {
                let first = self.mem_map.index(base).unwrap_or(0) as usize;
                let pages = &self.mem_map.pages()[first..first + count as usize];
                let z = pages[0].zone;
                z != NO_ZONE && pages.iter().all(|p| p.is_reserved() && p.zone == z)
            };
        if !valid {
            self.totalcma_pages -= count.min(self.totalcma_pages);
            if self.mem_map.contains(base) && end <= self.mem_map.end_pfn().0 {
                let _ = self.free_bootmem_range(base, Pfn(end));
            }
            return Err(bad);
        }
        let mut pfn = base.0;
        while pfn < end {
            self.init_cma_reserved_pageblock(Pfn(pfn))?;
            pfn += PAGEBLOCK_NR_PAGES;
        }
        Ok(())
    }

    /// `cma_init_reserved_mem()`'s count: `pages` more are reserved for CMA (CmaTotal, the
    /// `cma-reserved` of the boot `Memory:` line), whether or not they are active yet.
    pub fn add_totalcma_pages(&mut self, pages: u64) {
        self.totalcma_pages += pages;
    }

    /// The whole boot hand-over: `new`, holes from memblock's memory map, every free range
    /// to the buddy lists (`memblock_free_all`), the pcp limits. The watermarks and reserves
    /// are the caller's next step (`init_per_zone_wmark_min`).
    pub fn from_memblock(
        mem_map: MemMap<'a>,
        usemap: &'a mut [u8],
        zones: &Zones,
        memblock: &Memblock,
    ) -> Result<Node<'a>, InitError> {
        let mut slot = None;
        Self::from_memblock_in(&mut slot, mem_map, usemap, zones, memblock)?;
        Ok(slot.expect("from_memblock_in filled the slot"))
    }

    /// `from_memblock_in` over memory that is not yet descriptors (the kernel's mem_map, just
    /// allocated from memblock): `memmap_init` writes each descriptor once, in its zone, and
    /// the node takes them as they are. `None` when the map is too large for `MemMap`.
    pub fn from_uninit_memblock_in<'s>(
        slot: &'s mut Option<Node<'a>>,
        pages: &'a mut [MaybeUninit<Page>],
        base: Pfn,
        usemap: &'a mut [u8],
        zones: &Zones,
        memblock: &Memblock,
    ) -> Option<Result<&'s mut Node<'a>, InitError>> {
        let end = Pfn(base.0.checked_add(pages.len() as u64)?);
        let spans = match check_spans(zones, base, end) {
            Ok(spans) => spans,
            Err(e) => return Some(Err(e)),
        };
        memmap_init(pages, base.0, &spans);
        // SAFETY: memmap_init initialised every element.
        let pages = unsafe { &mut *(pages as *mut [MaybeUninit<Page>] as *mut [Page]) };
        let mem_map = MemMap::new(pages, base)?;
        Some(Self::init_map_in(slot, mem_map, usemap, zones, false).and_then(|node| {
            node.hand_over_memblock(memblock)?;
            Ok(node)
        }))
    }

    /// `from_memblock` built in `slot`, where the node will live (see `init_in`); after an
    /// error from memblock's ranges the slot holds the node as far as it got.
    pub fn from_memblock_in<'s>(
        slot: &'s mut Option<Node<'a>>,
        mem_map: MemMap<'a>,
        usemap: &'a mut [u8],
        zones: &Zones,
        memblock: &Memblock,
    ) -> Result<&'s mut Node<'a>, InitError> {
        let node = Node::init_in(slot, mem_map, usemap, zones)?;
        node.hand_over_memblock(memblock)?;
        Ok(node)
    }

    /// The hand-over after `free_area_init`: holes from memblock's memory map, every free
    /// range to the buddy lists (`memblock_free_all`), the pcp limits.
    fn hand_over_memblock(&mut self, memblock: &Memblock) -> Result<(), InitError> {
        let node = self;
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
        // setup_per_cpu_pageset(): pcp limits from the sizes, before any watermark exists.
        // The watermarks come at postcore_initcall (`init_per_zone_wmark_min`), after the CMA
        // area joined: the kernel calls it then, once, as Linux does.
        node.zone_pcp_update();
        Ok(())
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
        // One pass finds the first bad page (all of a boot's RAM goes through here).
        if let Some(i) = pages.iter().position(|p| !p.is_reserved() || p.zone == NO_ZONE) {
            let pfn = Pfn(start.0 + i as u64);
            return Err(if pages[i].is_reserved() {
                InitError::NoZone { pfn }
            } else {
                InitError::NotReserved { pfn }
            });
        }
        let mut cur = start.0;
        while cur < end.0 {
            let z = self.mem_map.pages()[(cur - base) as usize].zone_idx() as usize;
            let zone_end = end.0.min(self.node_zones[z].zone_end_pfn().0);
            self.__free_pages_memory(cur, zone_end, z);
            // __free_pages_core frees through __free_pages_ok, which counts PGFREE.
            self.node_zones[z].pgfree += zone_end - cur;
            cur = zone_end;
        }
        Ok(end.0 - start.0)
    }

    /// `__free_pages_memory()`: the range in maximal aligned blocks.
    pub(super) fn __free_pages_memory(&mut self, mut start: u64, end: u64, z: usize) {
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
    pub(super) fn __free_pages_core(&mut self, pfn: u64, order: u32, z: usize) {
        let nr = 1u64 << order;
        let idx = self.mem_map.index(Pfn(pfn)).unwrap_or(NIL) as usize;
        for p in &mut self.mem_map.pages_mut()[idx..idx + nr as usize] {
            p.flags = PageFlags::empty();
            p.refcount = 0;
        }
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
        let zone = &mut self.node_zones[z];
        zone.managed_pages += nr;
        zone.mod_freepage_state(nr as i64, mt);
        self.__free_one_page(pfn, order, z, mt, true);
    }

    /// `nr_free_buffer_pages()`: managed pages above the high watermark in the zones
    /// `GFP_USER` may use (DMA and Normal).
    pub fn nr_free_buffer_pages(&self) -> u64 {
        self.node_zones[..=gfp_zone(GfpFlags::GFP_USER).idx()]
            .iter()
            .map(|z| z.managed_pages.saturating_sub(z.high_wmark_pages()))
            .sum()
    }

    /// `init_per_zone_wmark_min()`: `min_free_kbytes` from lowmem, then every zone's
    /// watermarks, vmstat thresholds and `lowmem_reserve`. Linux runs it once, at
    /// postcore_initcall.
    pub fn init_per_zone_wmark_min(&mut self) {
        let lowmem_kbytes = self.nr_free_buffer_pages() * KB_PER_PAGE;
        self.min_free_kbytes = calculate_min_free_kbytes(lowmem_kbytes);
        self.setup_per_zone_wmarks();
        self.refresh_zone_stat_thresholds();
        self.setup_per_zone_lowmem_reserve();
    }

    /// `refresh_zone_stat_thresholds()`: each populated zone's `vm stats threshold` for the
    /// online CPUs (`calculate_normal_threshold`); an unpopulated zone keeps 0.
    pub fn refresh_zone_stat_thresholds(&mut self) {
        for zone in &mut self.node_zones {
            zone.stat_threshold = if zone.is_populated() {
                calculate_normal_threshold(zone.managed_pages, self.nr_cpus)
            } else {
                0
            };
        }
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

    pub fn watermark_scale_factor(&self) -> u64 {
        self.watermark_scale_factor
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

    /// `zone_pcp_update()` (`zone_set_pageset_high_and_batch`): every zone's pcp batch from
    /// its size, at least 1, and high from its low watermark shared among the online CPUs
    /// (four batches at least, so a node without watermarks still caches). A 3.x kernel
    /// (`pageset_set_batch`) capped the batch at 512 KiB and set high to six batches.
    /// While `zone_pcp_disable` holds a zone's lists, its new limits wait for
    /// `zone_pcp_enable` (Linux's update waits for `pcp_batch_high_lock`).
    pub fn zone_pcp_update(&mut self) {
        for zone in &mut self.node_zones {
            (zone.pageset_batch, zone.pageset_high) = match self.era {
                KernelEra::Linux61 => {
                    let batch = zone_batchsize_capped(zone.managed_pages, PCP_BATCH_MAX_PAGES);
                    let batch = batch.max(1);
                    (batch, zone_highsize(zone.low_wmark_pages(), batch, self.nr_cpus))
                }
                KernelEra::Linux3x => {
                    let batch = zone_batchsize_capped(zone.managed_pages, PCP_BATCH_MAX_PAGES_3X);
                    (batch.max(1), PCP_HIGH_BATCHES_3X * batch)
                }
            };
            if !zone.pcp_disabled {
                (zone.pcp.batch, zone.pcp.high) = (zone.pageset_batch, zone.pageset_high);
            }
        }
    }

    /// The node's online CPUs (`cpumask_of_node`): 6.1 shares `pcp->high` among them and
    /// scales the vmstat thresholds with them; recomputes both.
    pub fn set_nr_cpus(&mut self, nr_cpus: u64) {
        self.nr_cpus = nr_cpus.max(1);
        self.zone_pcp_update();
        self.refresh_zone_stat_thresholds();
    }

    /// `setup_per_zone_lowmem_reserve()` with the current ratios.
    pub fn setup_per_zone_lowmem_reserve(&mut self) {
        setup_per_zone_lowmem_reserve(&mut self.node_zones, &self.lowmem_reserve_ratio);
    }
}
