//! Unit tests of what 6.1 does and a 3.x kernel did not: per-CPU lists of orders 0-3, the
//! fallback rules on hand-built pageblocks, watermark boosting and pivm's kswapd, HighAtomic
//! reserves, CMA pageblocks and `alloc_contig_range`, the pageblock table's size.
use super::*;
use crate::mm::zone::{PerCpuPages, WMARK_MIN};
extern crate std;
use std::vec;
use std::vec::Vec;

const BLOCK: u64 = PAGEBLOCK_NR_PAGES;

fn normal_only(pages: u64) -> Zones {
    Zones {
        dma: None,
        normal: PfnRange { start: Pfn(0), end: Pfn(pages) },
        dma32: None,
        highmem: None,
    }
}

/// A Normal-only node of `blocks` pageblocks, every page free, watermarks set.
fn node_of(v: &mut Vec<Page>, blocks: u64) -> Node<'_> {
    let n = blocks * BLOCK;
    v.resize(n as usize, Page::default());
    let mut node = Node::new(MemMap::new(v, Pfn(0)).unwrap(), &normal_only(n)).unwrap();
    node.free_bootmem_range(Pfn(0), Pfn(n)).unwrap();
    node.init_per_zone_wmark_min();
    node.verify().unwrap();
    node
}

const N: usize = ZoneType::Normal as usize;

fn pcp(node: &Node<'_>) -> PerCpuPages {
    *node.zone(ZoneType::Normal).pcp()
}

#[test]
fn orders_up_to_costly_go_through_the_pcp_lists() {
    let mut v = Vec::new();
    // Enough memory for a batch above 1 (a 64 MiB zone's is 15).
    let mut node = node_of(&mut v, ((1 << 14) / BLOCK).max(1));
    assert!(pcp(&node).batch() > 2);
    let free0 = node.zone(ZoneType::Normal).nr_free_pages();
    for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, order).unwrap();
        let pindex = order_to_pindex(MIGRATE_UNMOVABLE, order);
        // A refill of max(batch >> order, 2) blocks, one handed out.
        let refill = (pcp(&node).batch() >> order).max(2);
        assert_eq!(pcp(&node).list_len(pindex), refill - 1, "order {order}");
        node.free_pages(p, order).unwrap();
        assert_eq!(pcp(&node).list_len(pindex), refill);
        // The block just freed is the next one handed out (hot).
        assert_eq!(node.alloc_pages(GfpFlags::GFP_KERNEL, order).unwrap(), p);
        node.free_pages(p, order).unwrap();
    }
    // Order 4 never touches them.
    let before = pcp(&node).count();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, PAGE_ALLOC_COSTLY_ORDER + 1).unwrap();
    assert_eq!(pcp(&node).count(), before);
    node.free_pages(p, PAGE_ALLOC_COSTLY_ORDER + 1).unwrap();
    node.verify().unwrap();
    assert_eq!(node.drain_all_pages(), before);
    assert_eq!(node.zone(ZoneType::Normal).nr_free_pages(), free0);
    node.verify().unwrap();
}

#[test]
fn high_order_frees_without_allocations_go_back_at_once() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    node.node_zones[N].pcp.high = 1000;
    let got: Vec<Pfn> =
        (0..4).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap()).collect();
    node.drain_all_pages();
    node.node_zones[N].pcp.free_factor = 1;
    // free_high: an order-2 free while free_factor is set empties the lists.
    node.free_pages(got[0], 2).unwrap();
    assert_eq!(pcp(&node).count(), 0);
    // Order 0 keeps the usual limit.
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    node.node_zones[N].pcp.free_factor = 1;
    node.free_pages(p, 0).unwrap();
    assert!(pcp(&node).count() > 0);
    for &p in &got[1..] {
        node.free_pages(p, 2).unwrap();
    }
    node.verify().unwrap();
}

#[test]
fn a_3x_kernel_caches_order_0_only_with_six_batches() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, ((1 << 14) / BLOCK).max(1));
    node.set_era(KernelEra::Linux3x);
    let z = node.zone(ZoneType::Normal);
    let batch = zone_batchsize_capped(z.managed_pages(), PCP_BATCH_MAX_PAGES_3X).max(1);
    assert_eq!((pcp(&node).batch(), pcp(&node).high()), (batch, 6 * batch));
    let before = pcp(&node).count();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
    assert_eq!(pcp(&node).count(), before, "order 1 skips the lists");
    node.free_pages(p, 1).unwrap();
    // Past high, exactly a batch goes back.
    let got: Vec<Pfn> =
        (0..8 * batch).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()).collect();
    let mut drops = Vec::new();
    for p in got {
        let c = pcp(&node).count();
        node.free_pages(p, 0).unwrap();
        if pcp(&node).count() != c + 1 {
            drops.push(c + 1 - pcp(&node).count());
        }
    }
    assert!(!drops.is_empty() && drops.iter().all(|&d| d == batch), "{drops:?}");
    // No boosting in that era.
    assert_eq!(node.watermark_boost_factor(), 0);
    node.verify().unwrap();
}

/// 6.1's `alike_pages` rule on a hand-built pageblock: three quarters in use, a quarter free.
#[test]
fn fallback_claims_a_pageblock_by_free_and_alike_pages() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    node.set_watermark_boost_factor(0);
    // Empty the unmovable and reclaimable lists: pageblocks are all movable at boot.
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal)[MIGRATE_MOVABLE], 8);
    // Take every page of block 1 as movable except a quarter, which stays free.
    let base = BLOCK;
    let quarter = BLOCK / 4;
    let taken: Vec<Pfn> = (0..BLOCK)
        .filter(|i| *i >= quarter)
        .map(|i| take_page(&mut node, Pfn(base + i), MIGRATE_MOVABLE))
        .collect();
    let (free, movable) = node.move_freepages_block(N, base, MIGRATE_MOVABLE);
    assert_eq!((free, movable), (quarter, BLOCK - quarter));
    // A movable request stealing here: free (1/4) + alike movable pages (3/4) >= half.
    let idx = node.mem_map.index(Pfn(base)).unwrap();
    node.set_pageblock_migratetype(base, MIGRATE_RECLAIMABLE);
    node.steal_suitable_fallback(N, idx, AllocFlags::empty(), MIGRATE_MOVABLE, true);
    assert_eq!(node.get_pageblock_migratetype(Pfn(base)), MIGRATE_MOVABLE);
    // An unmovable request from a movable block full of movable pages: only the free
    // quarter counts, less than half: the block stays movable, its free pages move.
    node.steal_suitable_fallback(N, idx, AllocFlags::empty(), MIGRATE_UNMOVABLE, true);
    assert_eq!(node.get_pageblock_migratetype(Pfn(base)), MIGRATE_MOVABLE);
    let unmovable_free: u64 = (0..MAX_ORDER)
        .map(|o| node.zone(ZoneType::Normal).free_area[o].nr_free_of(MIGRATE_UNMOVABLE) << o)
        .sum();
    assert_eq!(unmovable_free, quarter);
    // The same block filled with unmovable pages instead: those count as alike for an
    // unmovable request (not movable), so the block is claimed.
    for p in &taken {
        set_alloc_mt(&mut node, *p, MIGRATE_UNMOVABLE);
    }
    node.set_pageblock_migratetype(base, MIGRATE_MOVABLE);
    node.move_freepages_block(N, base, MIGRATE_MOVABLE);
    node.steal_suitable_fallback(N, idx, AllocFlags::empty(), MIGRATE_UNMOVABLE, true);
    assert_eq!(node.get_pageblock_migratetype(Pfn(base)), MIGRATE_UNMOVABLE);
    // Not allowed to take the whole block (`whole_block` false): only this block moves.
    node.set_pageblock_migratetype(base, MIGRATE_MOVABLE);
    node.move_freepages_block(N, base, MIGRATE_MOVABLE);
    node.steal_suitable_fallback(N, idx, AllocFlags::empty(), MIGRATE_UNMOVABLE, false);
    assert_eq!(node.get_pageblock_migratetype(Pfn(base)), MIGRATE_MOVABLE);
    assert_eq!(node.mem_map.pages()[idx as usize].free_mt(), MIGRATE_UNMOVABLE);
    node.verify().unwrap();
}

/// Takes the free page `pfn` off the buddy lists as an allocation of type `mt` (splitting the
/// block it is in), as a hand-built pageblock needs.
fn take_page(node: &mut Node<'_>, pfn: Pfn, mt: usize) -> Pfn {
    node.alloc_contig_range(pfn, Pfn(pfn.0 + 1), PageOwner::Kernel).unwrap();
    set_alloc_mt(node, pfn, mt);
    pfn
}

fn set_alloc_mt(node: &mut Node<'_>, pfn: Pfn, mt: usize) {
    let idx = node.mem_map.index(pfn).unwrap();
    node.mem_map.pages_mut()[idx as usize].set_free_mt(mt);
}

#[test]
fn can_steal_fallback_rules() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    let half = PAGEBLOCK_ORDER / 2;
    // 6.1: kernel requests steal whatever the size; movable ones only half a block or more.
    assert!(node.can_steal_fallback(0, MIGRATE_UNMOVABLE));
    assert!(node.can_steal_fallback(0, MIGRATE_RECLAIMABLE));
    assert!(!node.can_steal_fallback(0, MIGRATE_MOVABLE));
    assert!(node.can_steal_fallback(half, MIGRATE_MOVABLE));
    assert!(node.can_steal_fallback(PAGEBLOCK_ORDER, MIGRATE_MOVABLE));
    // 3.x: only reclaimable requests stole small blocks.
    node.set_era(KernelEra::Linux3x);
    assert!(!node.can_steal_fallback(0, MIGRATE_UNMOVABLE));
    assert!(node.can_steal_fallback(0, MIGRATE_RECLAIMABLE));
    assert!(node.can_steal_fallback(half, MIGRATE_UNMOVABLE));
}

#[test]
fn a_whole_free_pageblock_changes_type_without_a_boost() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    // The first kernel page takes the largest movable block, a whole pageblock: claimed
    // outright (change_pageblock_range), no boost.
    assert_eq!(node.get_pageblock_migratetype(p), MIGRATE_UNMOVABLE);
    assert_eq!(node.zone(ZoneType::Normal).watermark_boost(), 0);
    node.free_pages(p, 0).unwrap();
    node.verify().unwrap();
}

#[test]
fn a_fallback_into_a_partly_used_block_boosts_and_wakes_kswapd() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    // A movable page in the middle of every pageblock: no unmovable list has anything and
    // no whole free pageblock is left.
    for b in 0..8 {
        take_page(&mut node, Pfn(b * BLOCK + BLOCK / 2), MIGRATE_MOVABLE);
    }
    assert_eq!(node.zone(ZoneType::Normal).watermark_boost(), 0);
    let high = node.zone(ZoneType::Normal).base_watermarks()[WMARK_HIGH];
    let marks = node.zone(ZoneType::Normal).base_watermarks();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    let z = node.zone(ZoneType::Normal);
    // boost_watermark: a pageblock, at most 150% of the high watermark (at least a block).
    let expect = BLOCK.min(mult_frac(high, 15_000, 10_000).max(BLOCK));
    assert_eq!(z.watermark_boost(), expect);
    // Every mark reads boosted; GFP_KERNEL carries __GFP_KSWAPD_RECLAIM, so kswapd was woken.
    assert_eq!(z.min_wmark_pages(), marks[WMARK_MIN] + expect);
    assert!(node.kswapd_woken());
    // pivm's kswapd: nothing to reclaim, so the pass ends by clearing the boost.
    assert_eq!(node.kswapd(), expect);
    assert_eq!((node.zone(ZoneType::Normal).watermark_boost(), node.kswapd_woken()), (0, false));
    node.free_pages(p, 0).unwrap();
    node.verify().unwrap();
}

#[test]
fn no_boost_on_zones_under_four_pageblocks_or_with_factor_0() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 3);
    assert!(!node.boost_watermark(N));
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    assert!(node.boost_watermark(N));
    node.set_watermark_boost_factor(0);
    assert!(!node.boost_watermark(N));
}

#[test]
fn a_high_order_atomic_allocation_reserves_its_pageblock() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 8);
    // The fast path (low watermark) fails once free memory is under it; GFP_ATOMIC then
    // takes the slow path with ALLOC_HARDER.
    let low = node.zone(ZoneType::Normal).low_wmark_pages();
    let mut held = Vec::new();
    while node.zone(ZoneType::Normal).nr_free_pages() > low + BLOCK {
        held.push(node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap());
    }
    // Down to the low watermark with nothing cached, so the fast path fails.
    while {
        node.drain_all_pages();
        node.zone(ZoneType::Normal).nr_free_pages() > low
    } {
        held.push(
            node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE | GfpFlags::__GFP_NOWARN, 0).unwrap(),
        );
    }
    let p = node.alloc_pages(GfpFlags::GFP_ATOMIC, 2).unwrap();
    let z = node.zone(ZoneType::Normal);
    assert_eq!(z.nr_reserved_highatomic(), BLOCK);
    assert_eq!(node.get_pageblock_migratetype(p), MIGRATE_HIGHATOMIC);
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal)[MIGRATE_HIGHATOMIC], 1);
    node.verify().unwrap();
    // Forced (as before an OOM), the reserve goes back to the request's type.
    assert!(
        node.unreserve_highatomic_pageblock(ZoneType::Normal, MIGRATE_MOVABLE, true)
            || node.zone(ZoneType::Normal).nr_reserved_highatomic() == 0
    );
    node.free_pages(p, 2).unwrap();
    for p in held {
        node.free_pages(p, 0).unwrap();
    }
    node.verify().unwrap();
}

#[test]
fn cma_pageblocks_serve_movable_requests_only() {
    let mut v = Vec::new();
    v.resize((8 * BLOCK) as usize, Page::default());
    let n = 8 * BLOCK;
    let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(n)).unwrap();
    // The top two pageblocks stay reserved (memblock's "cma") until activated.
    node.free_bootmem_range(Pfn(0), Pfn(n - 2 * BLOCK)).unwrap();
    node.add_totalcma_pages(2 * BLOCK);
    node.cma_activate_area(Pfn(n - 2 * BLOCK), 2 * BLOCK).unwrap();
    node.init_per_zone_wmark_min();
    let z = node.zone(ZoneType::Normal);
    assert_eq!(
        (z.cma_pages(), z.nr_free_cma_pages(), node.totalcma_pages()),
        (2 * BLOCK, 2 * BLOCK, 2 * BLOCK)
    );
    assert_eq!(z.managed_pages(), n);
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal)[MIGRATE_CMA], 2);
    node.verify().unwrap();
    // Kernel pages never come from CMA.
    let mut kernel = Vec::new();
    while let Ok(p) = node.alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN, 0) {
        assert_ne!(node.get_pageblock_migratetype(p), MIGRATE_CMA);
        kernel.push(p);
    }
    // With the rest gone, more than half of the free memory is CMA: movable requests use it.
    let u = node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    assert_eq!(node.get_pageblock_migratetype(u), MIGRATE_CMA);
    node.verify().unwrap();
    // Freed, a CMA page goes to the movable pcp list but back to the CMA buddy list.
    node.free_pages(u, 0).unwrap();
    node.drain_all_pages();
    assert_eq!(node.zone(ZoneType::Normal).nr_free_cma_pages(), 2 * BLOCK);
    for p in kernel {
        node.free_pages(p, 0).unwrap();
    }
    node.verify().unwrap();
}

#[test]
fn alloc_contig_range_takes_free_pages_and_refuses_busy_ones() {
    let mut v = Vec::new();
    let mut node = node_of(&mut v, 4);
    let free = node.nr_free_pages() + node.nr_pcp_pages();
    // A range inside a free block: the block is split around it.
    node.alloc_contig_range(Pfn(BLOCK + 3), Pfn(BLOCK + 20), PageOwner::Cma).unwrap();
    node.verify().unwrap();
    assert_eq!(node.nr_free_pages() + node.nr_pcp_pages(), free - 17);
    // Overlapping it: busy, and nothing changes but the drained pcp lists.
    let before = (node.nr_free_pages(), node.zones().to_vec());
    assert_eq!(
        node.alloc_contig_range(Pfn(BLOCK), Pfn(BLOCK + 4), PageOwner::Cma),
        Err(ContigError::Busy { pfn: Pfn(BLOCK + 3) })
    );
    assert_eq!((node.nr_free_pages(), node.zones().to_vec()), before);
    assert!(matches!(
        node.alloc_contig_range(Pfn(5), Pfn(5), PageOwner::Cma),
        Err(ContigError::Invalid { .. })
    ));
    // Only their owner gives them back, all or nothing.
    assert!(node.free_contig_range(Pfn(BLOCK + 3), 17, PageOwner::Console).is_err());
    assert!(node.free_contig_range(Pfn(BLOCK + 3), 18, PageOwner::Cma).is_err());
    node.free_contig_range(Pfn(BLOCK + 3), 17, PageOwner::Cma).unwrap();
    node.drain_all_pages();
    assert_eq!(node.nr_free_pages(), free);
    node.verify().unwrap();
}

#[test]
fn the_pageblock_table_is_sized_from_the_node() {
    // 960 MiB of 4 KiB pages in 4 MiB pageblocks (MAX_ORDER 11): 240 blocks, 120 bytes; the
    // size follows the build's pageblock order.
    let end = Pfn(960 << 8);
    let blocks = (end.0 >> PAGEBLOCK_ORDER).max(1);
    assert_eq!(usemap_size(Pfn(0), end), blocks.div_ceil(2) as usize);
    assert_eq!(usemap_size(Pfn(0), Pfn(1)), 1);
    assert_eq!(usemap_size(Pfn(5), Pfn(5)), 0);
    // A table too small for the map is refused with both sizes.
    let mut v = vec![Page::default(); (4 * BLOCK) as usize];
    let mut small = vec![0u8; 1];
    let map = MemMap::new(&mut v, Pfn(0)).unwrap();
    assert_eq!(
        Node::with_usemap(map, &mut small, &normal_only(4 * BLOCK)).err(),
        Some(InitError::UsemapTooSmall { have: 1, need: 2 })
    );
}
