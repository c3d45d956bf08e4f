//! Setting the node up (`free_area_init`, `memblock_free_all`) and its watermarks,
//! lowmem reserves and per-CPU list limits (`init_per_zone_wmark_min`).
use super::*;

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
            poison_reports: PoisonReports::new(),
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
        let zone = &mut self.node_zones[z];
        zone.managed_pages += nr;
        zone.nr_free_pages += nr;
        let mt = self.get_pageblock_migratetype(Pfn(pfn));
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
}
