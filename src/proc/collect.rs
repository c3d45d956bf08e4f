//! Builds the `/proc` snapshots from the live page allocator (`mm::page_alloc::Node`), so the
//! renderers stay independent of the allocator's internals and this translation is tested on
//! the host like the renderers themselves.
use super::snapshot::{NodeSnapshot, NodeStats, ZoneSnapshot, MAX_NR_ZONES, NR_CPUS, ZONE_NAMES};
use crate::config::MAX_ORDER;
use crate::mm::page_alloc::Node;

/// One zone of the node, as /proc/zoneinfo and friends see it.
fn zone_snapshot(node: &Node<'_>, idx: usize) -> ZoneSnapshot<{ MAX_ORDER }> {
    let z = &node.zones()[idx];
    let mut s = ZoneSnapshot::empty(ZONE_NAMES[idx]);
    s.configured = node.zone_configured(z.zone_type());
    s.populated = z.is_populated();
    s.start_pfn = z.zone_start_pfn().0;
    s.spanned = z.spanned_pages();
    s.present = z.present_pages();
    s.managed = z.managed_pages();
    s.free_pages = z.nr_free_pages();
    s.free_area = z.free_area_counts();
    s.min = z.min_wmark_pages();
    s.low = z.low_wmark_pages();
    s.high = z.high_wmark_pages();
    s.boost = z.watermark_boost();
    s.cma = z.cma_pages();
    s.free_cma = z.nr_free_cma_pages();
    s.lowmem_reserve = z.lowmem_reserve();
    s.by_type = true;
    for (mt, counts) in s.free_by_type.iter_mut().enumerate() {
        for (order, n) in counts.iter_mut().enumerate() {
            *n = z.free_area(order).map_or(0, |a| a.nr_free_of(mt));
        }
    }
    s.blocks_by_type = node.pageblocks_per_type(z.zone_type());
    // pivm runs on the first CPU only, the only one online: its pageset is the zone's.
    let pcp = z.pcp();
    let as_i32 = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    s.pagesets[0].count = as_i32(pcp.count());
    s.pagesets[0].high = as_i32(pcp.high());
    s.pagesets[0].batch = as_i32(pcp.batch());
    s.pagesets[0].stat_threshold = as_i32(z.stat_threshold());
    s
}

/// The whole node; `stats` carries the counters kept outside the page allocator (slab pages,
/// page-table pages).
pub fn node_snapshot(node: &Node<'_>, stats: NodeStats) -> NodeSnapshot<{ MAX_ORDER }> {
    let mut s = NodeSnapshot::empty();
    for idx in 0..MAX_NR_ZONES {
        s.zones[idx] = zone_snapshot(node, idx);
    }
    s.stats = stats;
    let lru = node.lruvec();
    s.lru = lru.sizes();
    for (idx, z) in s.zones.iter_mut().enumerate() {
        z.lru =
            core::array::from_fn(|i| lru.zone_size(idx, crate::mm::swap::LruList::from_index(i)));
    }
    s.nr_cpus = (node.nr_online_cpus() as usize).clamp(1, NR_CPUS);
    s.totalcma_pages = node.totalcma_pages();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::mm_init::{PfnRange, Zones};
    use crate::mm::page::{MemMap, Page};
    use crate::mm::page_alloc::PAGEBLOCK_ORDER;
    use crate::mm::Pfn;
    use crate::proc::snapshot::{ZONE_DMA, ZONE_DMA32, ZONE_HIGHMEM, ZONE_MOVABLE, ZONE_NORMAL};

    #[test]
    fn snapshot_mirrors_the_node() {
        // Six pageblocks of Normal and two of HighMem, whatever MAX_ORDER is.
        const BLOCK: u64 = 1 << PAGEBLOCK_ORDER;
        const NORMAL: u64 = 6 * BLOCK;
        const PAGES: u64 = 8 * BLOCK;
        let mut pages = vec![Page::default(); PAGES as usize];
        let zones = Zones {
            dma: None,
            normal: PfnRange { start: Pfn(0), end: Pfn(NORMAL) },
            dma32: None,
            highmem: Some(PfnRange { start: Pfn(NORMAL), end: Pfn(PAGES) }),
        };
        let mut node = Node::new(MemMap::new(&mut pages, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(16), Pfn(PAGES)).unwrap();
        node.init_per_zone_wmark_min();
        let s = node_snapshot(&node, NodeStats::default());
        let normal = &s.zones[ZONE_NORMAL];
        assert!(normal.populated && !s.zones[0].populated);
        assert_eq!((normal.start_pfn, normal.spanned), (0, NORMAL));
        assert_eq!(normal.free_pages, NORMAL - 16);
        let pages_of = |t: &[u64]| t.iter().enumerate().map(|(o, n)| n << o).sum::<u64>();
        assert_eq!(pages_of(&normal.free_area), NORMAL - 16);
        assert_eq!(s.zones[ZONE_HIGHMEM].free_pages, 2 * BLOCK);
        assert_eq!(normal.min, node.zones()[ZONE_NORMAL].min_wmark_pages());
        // Per migrate type: all of it is in movable pageblocks until the kernel takes some.
        assert!(normal.by_type);
        assert_eq!(normal.blocks_by_type, [0, 6, 0, 0, 0, 0]);
        // No DMA or DMA32 zone in this kernel; Movable always, empty.
        assert!(!s.zones[ZONE_DMA].configured && !s.zones[ZONE_DMA32].configured);
        assert!(s.zones[ZONE_MOVABLE].configured && !s.zones[ZONE_MOVABLE].populated);
        assert_eq!(s.configured_zones().count(), 3);
        assert_eq!(pages_of(&normal.free_by_type[1]), NORMAL - 16);
        assert_eq!(pages_of(&normal.free_by_type[0]), 0);
        let mut out = String::new();
        crate::proc::pagetypeinfo::render(&mut out, &s).unwrap();
        assert!(out.contains(
            "Node 0, zone   Normal            0            6            0            0            0            0 "
        ));
    }

    #[test]
    fn pagesets_show_the_online_cpus_lists() {
        const PAGES: u64 = 1 << 16;
        let mut pages = vec![Page::default(); PAGES as usize];
        let zones = Zones::normal_only(PAGES);
        let mut node = Node::new(MemMap::new(&mut pages, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(0), Pfn(PAGES)).unwrap();
        node.init_per_zone_wmark_min();
        let _page = node.alloc_pages(crate::mm::gfp::GfpFlags::GFP_KERNEL, 0).unwrap();
        let pcp = *node.zones()[ZONE_NORMAL].pcp();
        assert!(pcp.batch() > 0 && pcp.count() == pcp.batch() - 1);
        // One CPU online: one pageset, with the zone's list, limits and vmstat threshold.
        let s = node_snapshot(&node, NodeStats::default());
        assert_eq!(s.nr_cpus, 1);
        let set = s.zones[ZONE_NORMAL].pagesets[0];
        assert_eq!((set.count as u64, set.high as u64), (pcp.count(), pcp.high()));
        assert_eq!(set.batch as u64, pcp.batch());
        assert_eq!(set.stat_threshold as u64, node.zones()[ZONE_NORMAL].stat_threshold());
        assert!(set.stat_threshold > 0);
    }
}
