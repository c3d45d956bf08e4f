//! Plain, copyable snapshots of the memory-management state that the `/proc` renderers read.
//!
//! The kernel fills these from its live allocators (buddy, slab, vmalloc) under their locks and
//! hands them to the renderers, so the renderers stay pure functions that run unchanged in host
//! tests. Everything is fixed-size (no heap). Units follow Linux's counters: page counts unless a
//! field says otherwise.
//!
//! The per-order arrays are sized by a const generic `ORDERS` that defaults to the build's
//! `MAX_ORDER` (number of free lists); tests use other values to reproduce kernels built with a
//! different `CONFIG_FORCE_MAX_ZONEORDER` (the reference board's kernel has 12 lists).

use crate::config::MAX_ORDER;

/// Zone slots, in Linux's `enum zone_type` order: DMA, DMA32, Normal, HighMem, Movable (the
/// page allocator's `mm::zone::MAX_NR_ZONES`). A kernel built without one of them (the 32-bit
/// kernel has no DMA32, arm64 no HighMem) leaves its slot unconfigured, and the reports leave
/// it out, as that kernel's `MAX_NR_ZONES` would.
pub const MAX_NR_ZONES: usize = crate::mm::zone::MAX_NR_ZONES;
/// Index of `ZONE_DMA` in [`NodeSnapshot::zones`].
pub const ZONE_DMA: usize = crate::mm::zone::ZoneType::Dma.idx();
/// Index of `ZONE_DMA32` in [`NodeSnapshot::zones`].
pub const ZONE_DMA32: usize = crate::mm::zone::ZoneType::Dma32.idx();
/// Index of `ZONE_NORMAL` in [`NodeSnapshot::zones`].
pub const ZONE_NORMAL: usize = crate::mm::zone::ZoneType::Normal.idx();
/// Index of `ZONE_HIGHMEM` in [`NodeSnapshot::zones`].
pub const ZONE_HIGHMEM: usize = crate::mm::zone::ZoneType::HighMem.idx();
/// Index of `ZONE_MOVABLE` in [`NodeSnapshot::zones`].
pub const ZONE_MOVABLE: usize = crate::mm::zone::ZoneType::Movable.idx();
/// Linux's `zone_names[]`, by zone index.
pub const ZONE_NAMES: [&str; MAX_NR_ZONES] = ["DMA", "DMA32", "Normal", "HighMem", "Movable"];
/// Migrate types (Linux 6.1 with CONFIG_CMA and CONFIG_MEMORY_ISOLATION): Unmovable,
/// Movable, Reclaimable, HighAtomic, CMA, Isolate.
pub const MIGRATE_TYPES: usize = 6;

/// pivm is a UMA machine: one memory node, node 0 (what `Node %d` prints).
pub const NODE_ID: u32 = 0;
/// Most CPUs a snapshot can describe (the raspi2b's four cores); each zone has one pageset per CPU.
pub const NR_CPUS: usize = crate::board::raspi::NR_CPUS as usize;

/// One CPU's page cache for a zone (Linux's `struct per_cpu_pages` plus the vmstat threshold),
/// as `/proc/zoneinfo` prints it under `pagesets`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagesetSnapshot {
    /// Pages currently on this CPU's lists.
    pub count: i32,
    /// Drain to the buddy lists above this many.
    pub high: i32,
    /// Pages moved per refill/drain.
    pub batch: i32,
    /// `vm stats threshold`: per-CPU counter drift allowed before folding into the zone.
    pub stat_threshold: i32,
}

/// One zone (Linux's `struct zone` fields the reports show). All counts in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSnapshot<const ORDERS: usize = { MAX_ORDER }> {
    /// `"DMA"`, `"DMA32"`, `"Normal"`, `"HighMem"` or `"Movable"`.
    pub name: &'static str,
    /// `NR_ZONE_INACTIVE_ANON` ... `NR_ZONE_UNEVICTABLE`: the zone's pages on each LRU list.
    pub lru: [u64; 5],
    /// The kernel is built with this zone (it has a slot in `MAX_NR_ZONES`).
    pub configured: bool,
    /// Linux's `populated_zone()`: the zone has present pages.
    pub populated: bool,
    /// First PFN the zone spans.
    pub start_pfn: u64,
    /// PFNs spanned, holes included.
    pub spanned: u64,
    /// Pages that exist (spanned minus holes).
    pub present: u64,
    /// Pages handed to the buddy allocator (present minus boot-time reservations).
    pub managed: u64,
    /// `NR_FREE_PAGES`: free pages in the buddy lists.
    pub free_pages: u64,
    /// `free_area[order].nr_free`: free blocks per order.
    pub free_area: [u64; ORDERS],
    /// Watermarks (`_watermark[WMARK_MIN/LOW/HIGH]`).
    pub min: u64,
    pub low: u64,
    pub high: u64,
    /// `watermark_boost` (already included in `min`, `low` and `high`, as Linux prints them).
    pub boost: u64,
    /// Pages of the zone given to CMA (`zone_cma_pages()`).
    pub cma: u64,
    /// `NR_FREE_CMA_PAGES`.
    pub free_cma: u64,
    /// Pages this zone keeps back from allocations that could have used a higher zone, indexed
    /// by the zone the allocation asked for.
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    /// Per-CPU page lists, one per CPU (only the first [`NodeSnapshot::nr_cpus`] are shown).
    pub pagesets: [PagesetSnapshot; NR_CPUS],
    /// Free blocks per migrate type and order, and pageblocks per type, when `by_type` is
    /// set; otherwise every free block and pageblock counts as Unmovable (an allocator
    /// without mobility grouping).
    pub by_type: bool,
    pub free_by_type: [[u64; ORDERS]; MIGRATE_TYPES],
    pub blocks_by_type: [u64; MIGRATE_TYPES],
}

impl<const ORDERS: usize> ZoneSnapshot<ORDERS> {
    /// An empty, unpopulated zone called `name` (how an absent zone looks in `/proc/zoneinfo`).
    pub const fn empty(name: &'static str) -> Self {
        const NO_PAGESET: PagesetSnapshot =
            PagesetSnapshot { count: 0, high: 0, batch: 0, stat_threshold: 0 };
        Self {
            name,
            lru: [0; 5],
            configured: true,
            populated: false,
            start_pfn: 0,
            spanned: 0,
            present: 0,
            managed: 0,
            free_pages: 0,
            free_area: [0; ORDERS],
            min: 0,
            low: 0,
            high: 0,
            boost: 0,
            cma: 0,
            free_cma: 0,
            lowmem_reserve: [0; MAX_NR_ZONES],
            pagesets: [NO_PAGESET; NR_CPUS],
            by_type: false,
            free_by_type: [[0; ORDERS]; MIGRATE_TYPES],
            blocks_by_type: [0; MIGRATE_TYPES],
        }
    }

    /// One past the last PFN spanned (Linux's `zone_end_pfn()`).
    pub const fn end_pfn(&self) -> u64 {
        self.start_pfn + self.spanned
    }
}

/// Node-wide counters (Linux's `node_stat_item`s that pivm can have), shared with the page
/// allocator's `show_mem`.
pub use crate::mm::page_alloc::NodeStats;

/// The one memory node: its zones and node-wide state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSnapshot<const ORDERS: usize = { MAX_ORDER }> {
    /// DMA, DMA32, Normal, HighMem, Movable, in that order (indexes [`ZONE_DMA`] ...
    /// [`ZONE_MOVABLE`]).
    pub zones: [ZoneSnapshot<ORDERS>; MAX_NR_ZONES],
    /// Node-wide counters (the `per-node stats` block of `/proc/zoneinfo`).
    pub stats: NodeStats,
    /// `NR_INACTIVE_ANON` ... `NR_UNEVICTABLE`: the node's LRU list sizes.
    pub lru: [u64; 5],
    /// Online CPUs (how many `pagesets` entries each zone prints), at most [`NR_CPUS`].
    pub nr_cpus: usize,
    /// kswapd gave up on this node (`kswapd_failures >= MAX_RECLAIM_RETRIES`); pivm has no
    /// reclaim, so normally false.
    pub unreclaimable: bool,
    /// `totalcma_pages`: pages reserved for CMA areas (CmaTotal).
    pub totalcma_pages: u64,
}

impl<const ORDERS: usize> NodeSnapshot<ORDERS> {
    /// A node with five empty zones named DMA, DMA32, Normal, HighMem, Movable, configured
    /// as the 32-bit ARM kernel is (no DMA32); `collect` sets the live kernel's zone list.
    pub const fn empty() -> Self {
        let mut dma32 = ZoneSnapshot::empty(ZONE_NAMES[ZONE_DMA32]);
        dma32.configured = false;
        Self {
            zones: [
                ZoneSnapshot::empty(ZONE_NAMES[ZONE_DMA]),
                dma32,
                ZoneSnapshot::empty(ZONE_NAMES[ZONE_NORMAL]),
                ZoneSnapshot::empty(ZONE_NAMES[ZONE_HIGHMEM]),
                ZoneSnapshot::empty(ZONE_NAMES[ZONE_MOVABLE]),
            ],
            stats: NodeStats {
                nr_slab_reclaimable: 0,
                nr_slab_unreclaimable: 0,
                nr_kernel_stack: 0,
                nr_page_table_pages: 0,
                nr_kernel_misc_reclaimable: 0,
                nr_file_pages: 0,
                nr_swapcache: 0,
                nr_swap_free: 0,
                nr_swap_total: 0,
            },
            lru: [0; 5],
            nr_cpus: NR_CPUS,
            unreclaimable: false,
            totalcma_pages: 0,
        }
    }

    /// The zones the kernel is built with (what `/proc/zoneinfo` lists).
    pub fn configured_zones(&self) -> impl Iterator<Item = &ZoneSnapshot<ORDERS>> {
        self.zones.iter().filter(|z| z.configured)
    }

    /// The zones Linux walks with `populated only` (buddyinfo, pagetypeinfo, extfrag).
    pub fn populated_zones(&self) -> impl Iterator<Item = &ZoneSnapshot<ORDERS>> {
        self.zones.iter().filter(|z| z.populated)
    }
}

impl<const ORDERS: usize> Default for NodeSnapshot<ORDERS> {
    fn default() -> Self {
        Self::empty()
    }
}

/// Everything `/proc/meminfo` prints that is not derived from other fields.
///
/// Units: **pages** for every field, except those ending in `_kb` (kB) or `_bytes` (bytes), which
/// are kept in the unit Linux's own counter uses. Fields pivm cannot have (page cache, swap,
/// anonymous memory, user mappings) stay 0; they exist so the renderer prints Linux's full field
/// list and so a test can feed a real Linux's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeminfoSnapshot {
    /// `totalram_pages()`: managed pages of all zones (MemTotal).
    pub total_ram: u64,
    /// `NR_FREE_PAGES` over all zones (MemFree).
    pub free_ram: u64,
    /// `totalhigh_pages()`: managed pages of HighMem (HighTotal).
    pub total_high: u64,
    /// Free HighMem pages (HighFree).
    pub free_high: u64,
    /// `totalreserve_pages`: per zone, high watermark plus the largest `lowmem_reserve`
    /// (input of MemAvailable; see [`totalreserve_pages`]).
    pub totalreserve_pages: u64,
    /// Sum of the zones' low watermarks (input of MemAvailable; see [`wmark_low_pages`]).
    pub wmark_low: u64,
    pub buffers: u64,
    pub cached: u64,
    pub swap_cached: u64,
    pub active_anon: u64,
    pub inactive_anon: u64,
    pub active_file: u64,
    pub inactive_file: u64,
    pub unevictable: u64,
    pub mlocked: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub zswap: u64,
    pub zswapped: u64,
    pub dirty: u64,
    pub writeback: u64,
    pub anon_pages: u64,
    pub mapped: u64,
    pub shmem: u64,
    /// `NR_KERNEL_MISC_RECLAIMABLE` (part of KReclaimable).
    pub kernel_misc_reclaimable: u64,
    /// Reclaimable slab pages (SReclaimable).
    pub slab_reclaimable: u64,
    /// Unreclaimable slab pages (SUnreclaim).
    pub slab_unreclaimable: u64,
    /// Kernel stacks, in kB (Linux's `NR_KERNEL_STACK_KB`).
    pub kernel_stack_kb: u64,
    pub page_tables: u64,
    pub sec_page_tables: u64,
    pub nfs_unstable: u64,
    pub bounce: u64,
    pub writeback_tmp: u64,
    /// `vm_memory_committed()` (Committed_AS).
    pub committed_as: u64,
    /// `VMALLOC_END - VMALLOC_START`, in bytes.
    pub vmalloc_total_bytes: u64,
    /// `VmallocUsed` in bytes, with the profile's meaning: `vmalloc_nr_pages()` (5.3+) or
    /// the sum of live area sizes with guard pages (before 4.4).
    pub vmalloc_used_bytes: u64,
    /// `VmallocChunk` in bytes: 0 (4.4+) or the largest free gap (before 4.4).
    pub vmalloc_chunk_bytes: u64,
    /// `pcpu_nr_pages()` (Percpu).
    pub percpu: u64,
    pub cma_total: u64,
    pub cma_free: u64,
    /// A kernel without CONFIG_HIGHMEM (arm64): no HighTotal/HighFree/LowTotal/LowFree lines.
    pub no_highmem: bool,
}

impl MeminfoSnapshot {
    /// The zone-derived fields (totals, free, highmem, reserves) filled from `node`; the rest 0.
    pub fn from_node<const ORDERS: usize>(node: &NodeSnapshot<ORDERS>) -> Self {
        let high = &node.zones[ZONE_HIGHMEM];
        Self {
            total_ram: node.zones.iter().map(|z| z.managed).sum(),
            free_ram: node.zones.iter().map(|z| z.free_pages).sum(),
            total_high: high.managed,
            free_high: high.free_pages,
            totalreserve_pages: totalreserve_pages(node),
            wmark_low: wmark_low_pages(node),
            slab_reclaimable: node.stats.nr_slab_reclaimable,
            slab_unreclaimable: node.stats.nr_slab_unreclaimable,
            kernel_stack_kb: node.stats.nr_kernel_stack,
            page_tables: node.stats.nr_page_table_pages,
            kernel_misc_reclaimable: node.stats.nr_kernel_misc_reclaimable,
            cma_total: node.totalcma_pages,
            cma_free: node.zones.iter().map(|z| z.free_cma).sum(),
            ..Self::default()
        }
    }
}

/// Linux's `calculate_totalreserve_pages()`: per zone, the high watermark plus the largest
/// `lowmem_reserve` toward the same or higher zones, capped at the zone's managed pages. These
/// pages are what the allocator keeps out of reach of ordinary allocations.
pub fn totalreserve_pages<const ORDERS: usize>(node: &NodeSnapshot<ORDERS>) -> u64 {
    node.zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let max_reserve = z.lowmem_reserve[i..].iter().copied().max().unwrap_or(0);
            (max_reserve + z.high).min(z.managed)
        })
        .sum()
}

/// Sum of the zones' low watermarks (`wmark_low` in Linux's `si_mem_available()`).
pub fn wmark_low_pages<const ORDERS: usize>(node: &NodeSnapshot<ORDERS>) -> u64 {
    node.zones.iter().map(|z| z.low).sum()
}

/// One slab cache as `/proc/slabinfo` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabCacheSnapshot {
    pub name: &'static str,
    /// Objects in use.
    pub active_objs: u64,
    /// Objects in all slabs (used and free).
    pub num_objs: u64,
    /// Bytes per object including metadata and alignment (`s->size`).
    pub objsize: u32,
    /// Objects per slab.
    pub objperslab: u32,
    /// Pages per slab (`1 << order`).
    pub pagesperslab: u32,
    /// Slabs with at least one object in use.
    pub active_slabs: u64,
    /// All slabs of the cache.
    pub num_slabs: u64,
}

impl SlabCacheSnapshot {
    /// A blank entry, to fill fixed-size arrays before copying caches in.
    pub const EMPTY: SlabCacheSnapshot = SlabCacheSnapshot {
        name: "",
        active_objs: 0,
        num_objs: 0,
        objsize: 0,
        objperslab: 0,
        pagesperslab: 0,
        active_slabs: 0,
        num_slabs: 0,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_follow_the_allocators_zone_types() {
        assert_eq!(ZONE_NAMES, crate::mm::zone::ZoneType::ALL.map(|z| z.name()));
        let node = NodeSnapshot::<4>::empty();
        let names: std::vec::Vec<_> = node.configured_zones().map(|z| z.name).collect();
        assert_eq!(names, ["DMA", "Normal", "HighMem", "Movable"]);
    }
}
