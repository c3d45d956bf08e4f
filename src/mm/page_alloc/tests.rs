//! Unit tests of the page allocator, and its model proptest.
use super::*;
use crate::mm::gfp::zonelist;
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
    Zones { dma: None, normal: span(start, end), dma32: None, highmem: None }
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

/// `pageblock_order`: arm64 6.1 with hugetlb takes a PMD's order 9 (the arm64 reference's
/// "Page block order: 9"); without huge pages (ARMv7) it is MAX_ORDER - 1; a MAX_ORDER below
/// the huge page order caps it.
#[test]
fn pageblock_order_is_the_huge_page_order_capped_by_max_order() {
    assert_eq!(pageblock_order_with(11, Some(9)), 9);
    assert_eq!(pageblock_order_with(11, None), 10);
    assert_eq!(pageblock_order_with(5, Some(9)), 4);
    assert_eq!(pageblock_order_with(11, Some(21 - 12)), 9, "arm64's 2 MiB PMD");
    assert_eq!(PAGEBLOCK_ORDER, pageblock_order_with(crate::config::MAX_ORDER, None), "ARMv7");
}

#[test]
fn mobility_grouping_keeps_kernel_pages_in_their_own_pageblocks() {
    // 8 pageblocks: enough memory to group by mobility.
    let pages_nr = 8u64 << PAGEBLOCK_ORDER;
    let mut v = vec![Page::default(); pages_nr as usize];
    let mut node = all_free(&mut v, 0, &normal_only(0, pages_nr));
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [0, 8, 0, 0, 0, 0]);
    // The first kernel page steals a whole pageblock (the largest movable block)...
    let k1 = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    assert_eq!(node.get_pageblock_migratetype(k1), MIGRATE_UNMOVABLE);
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [1, 7, 0, 0, 0, 0]);
    // ...and the next ones come from it, while user pages stay in movable pageblocks.
    let k2 = node.alloc_pages(GfpFlags::GFP_KERNEL, 3).unwrap();
    let u = node.alloc_pages(GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    assert_eq!(k1.0 >> PAGEBLOCK_ORDER, k2.0 >> PAGEBLOCK_ORDER);
    assert_ne!(k1.0 >> PAGEBLOCK_ORDER, u.0 >> PAGEBLOCK_ORDER);
    assert_eq!(node.get_pageblock_migratetype(u), MIGRATE_MOVABLE);
    let z = node.zone(ZoneType::Normal);
    let unmovable: u64 =
        (0..MAX_ORDER).map(|o| z.free_area(o).unwrap().nr_free_of(MIGRATE_UNMOVABLE) << o).sum();
    assert_eq!(unmovable, (1 << PAGEBLOCK_ORDER) - 1 - 8);
    // Everything merges back; the stolen pageblock stays unmovable, as in Linux.
    for (pfn, order) in [(k1, 0), (k2, 3), (u, 0)] {
        node.free_pages(pfn, order).unwrap();
    }
    node.verify().unwrap();
    assert_eq!(node.zone(ZoneType::Normal).free_area_counts()[MAX_ORDER - 1], 8);
    assert_eq!(node.pageblocks_per_type(ZoneType::Normal), [1, 7, 0, 0, 0, 0]);
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

/// Page contents in a host buffer, with pages that cannot be mapped (as a highmem page whose
/// temporary mapping fails).
struct FakeMemory {
    base: u64,
    bytes: Mutex<Vec<u8>>,
    zeroed: Mutex<Vec<(Pfn, u32)>>,
    unmappable: Mutex<Vec<Pfn>>,
}

const PAGE: usize = PAGE_SIZE as usize;

impl FakeMemory {
    fn new(base: u64, n: usize) -> Self {
        FakeMemory {
            base,
            bytes: Mutex::new(vec![0x5a; n * PAGE]),
            zeroed: Mutex::new(Vec::new()),
            unmappable: Mutex::new(Vec::new()),
        }
    }

    /// The byte range of one page, or the error a failed mapping gives.
    fn page(&self, pfn: Pfn) -> Result<core::ops::Range<usize>, PageAccessError> {
        if self.unmappable.lock().unwrap().contains(&pfn) {
            return Err(PageAccessError { pfn });
        }
        let s = (pfn.0 - self.base) as usize * PAGE;
        Ok(s..s + PAGE)
    }

    fn write(&self, pfn: Pfn, offset: usize, data: &[u8]) {
        let r = self.page(pfn).unwrap();
        self.bytes.lock().unwrap()[r.start + offset..r.start + offset + data.len()]
            .copy_from_slice(data);
    }

    /// The first byte of a page (each test fills pages whole).
    fn tag(&self, pfn: Pfn) -> u8 {
        self.bytes.lock().unwrap()[self.page(pfn).unwrap().start]
    }
}

impl PageMemory for FakeMemory {
    fn zero(&self, pfn: Pfn, order: u32) -> Result<(), PageAccessError> {
        self.zeroed.lock().unwrap().push((pfn, order));
        for i in 0..1 << order {
            let r = self.page(Pfn(pfn.0 + i))?;
            self.bytes.lock().unwrap()[r].fill(0);
        }
        Ok(())
    }
    fn poison(&self, pfn: Pfn) -> Result<(), PageAccessError> {
        let r = self.page(pfn)?;
        self.bytes.lock().unwrap()[r].fill(PAGE_POISON);
        Ok(())
    }
    fn check_poison(&self, pfn: Pfn) -> Result<Option<usize>, PageAccessError> {
        let r = self.page(pfn)?;
        Ok(self.bytes.lock().unwrap()[r].iter().position(|&b| b != PAGE_POISON))
    }
    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) -> Result<(), PageAccessError> {
        let r = self.page(pfn)?;
        let start = r.start + offset;
        buf.copy_from_slice(&self.bytes.lock().unwrap()[start..start + buf.len()]);
        Ok(())
    }
}

#[test]
fn new_reserves_every_page_and_sets_zones() {
    let mut v = vec![Page::default(); 64];
    let zones = Zones {
        dma: Some(span(0, 16)),
        normal: span(16, 40),
        dma32: None,
        highmem: Some(span(40, 60)),
    };
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
    let z = Zones { dma: None, normal: span(0, 65), dma32: None, highmem: None };
    assert_eq!(
        Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &z).err(),
        Some(InitError::ZoneOutsideMap { zone: ZoneType::Normal, span: span(0, 65) })
    );
    let z = Zones { dma: Some(span(0, 20)), normal: span(10, 30), dma32: None, highmem: None };
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
        free_blocks(&node)[ZoneType::Normal.idx()],
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
    let zones = Zones { dma: Some(span(0, 100)), normal: span(100, n), dma32: None, highmem: None };
    let node = all_free(&mut v, 0, &zones);
    assert_eq!(node.zone(ZoneType::Dma).nr_free_pages(), 100);
    assert_eq!(node.zone(ZoneType::Normal).nr_free_pages(), n - 100);
    assert_eq!(free_blocks(&node)[0], [(2, 96), (5, 64), (6, 0)]);
}

#[test]
fn boot_free_refuses_bad_ranges_and_changes_nothing() {
    let mut v = vec![Page::default(); 64];
    let zones = Zones { dma: None, normal: span(8, 64), dma32: None, highmem: None };
    let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones).unwrap();
    let before = state(&node);
    assert_eq!(node.free_bootmem_range(Pfn(0), Pfn(16)), Err(InitError::NoZone { pfn: Pfn(0) }));
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
    assert!(!AllocError::NoMemory { gfp: GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN, order: 0 }
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
    Zones {
        dma: Some(span(0, 256)),
        normal: span(256, 1024),
        dma32: None,
        highmem: Some(span(1024, 2048)),
    }
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
        dma32: None,
        highmem: Some(span(1536, 2048)),
    };
    let mut node = all_free(&mut v, 0, &zones);
    node.init_per_zone_wmark_min();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    assert_eq!(node.page_zone(p), Some(ZoneType::Dma));
    assert_eq!(node.zone(ZoneType::Dma).lowmem_reserve(), [0, 0, 0, 512 / 256, 512 / 256]);
}

#[test]
fn watermarks_stop_ordinary_requests_first() {
    let mut v = vec![Page::default(); 4096];
    let mut node = all_free(&mut v, 0, &normal_only(0, 4096));
    node.set_min_free_kbytes(400); // min 100 pages, low 125, high 150
    let z = node.zone(ZoneType::Normal);
    assert_eq!((z.min_wmark_pages(), z.low_wmark_pages(), z.high_wmark_pages()), (100, 125, 150));
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
    let zones =
        Zones { dma: None, normal: span(0, 1024), dma32: None, highmem: Some(span(1024, 2048)) };
    let mut node = all_free(&mut v, 0, &zones);
    node.set_lowmem_reserve_ratio([256, 256, 4, 0, 0]); // Normal keeps 1024 / 4 = 256 from HighMem users
    assert_eq!(node.zone(ZoneType::Normal).lowmem_reserve(), [0, 0, 0, 256, 256]);
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
        Node::new(MemMap::new(&mut v, Pfn(0x100)).unwrap(), &normal_only(0x100, 0x500)).unwrap();
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

/// `bad_page()`'s report as a kernel with `bits` -bit longs prints it.
fn report_as(e: &FreeError, bits: u32) -> String {
    let mut s = String::new();
    e.write_report_as(&mut s, DEFAULT_COMM, bits).unwrap();
    s
}

#[test]
fn bad_page_report_reads_like_linux() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0x3f000, &normal_only(0x3f000, 0x3f040));
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    node.free_pages(p, 0).unwrap();
    let e = node.free_pages(p, 0).unwrap_err();
    assert_eq!(
        report_as(&e, 32),
        "BUG: Bad page state in process swapper/0  pfn:3f000\n\
         page:(ptrval) refcount:0 mapcount:0 mapping:00000000 index:0x0 pfn:0x3f000\n\
         flags: 0x2(buddy|zone=1)\n\
         raw: 01060002 00000000 ffffffff ffffffff 00000000 00000000 00000000 00000000\n\
         page dumped because: double free: page is already on a buddy free list\n"
    );
    // arm64 6.1: a pointer-wide mapping, print_hex_dump's 32-byte rows of 16-digit longs.
    assert_eq!(
        report_as(&e, 64),
        "BUG: Bad page state in process swapper/0  pfn:3f000\n\
         page:(____ptrval____) refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x3f000\n\
         flags: 0x2(buddy|zone=1)\n\
         raw: 0000000001060002 ffffffffffffffff 0000000000000000 0000000000000000\n\
         raw: 0000000000000000 0000000000000000\n\
         page dumped because: double free: page is already on a buddy free list\n"
    );
    assert_eq!(std::format!("{e}"), report_as(&e, BITS_PER_LONG), "Display is this build's");
    let e = node.free_pages(Pfn(0x12), 0).unwrap_err();
    let mut s = String::new();
    e.write_report(&mut s, "sh").unwrap();
    assert_eq!(
        s,
        "BUG: Bad page state in process sh  pfn:00012\n\
         page dumped because: pfn outside mem_map (no struct page)\n"
    );
    let mut v = vec![Page::default(); 64];
    let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(0, 64)).unwrap();
    let e = node.free_pages(Pfn(3), 0).unwrap_err();
    assert_eq!(
        report_as(&e, 32),
        "BUG: Bad page state in process swapper/0  pfn:00003\n\
         page:(ptrval) refcount:1 mapcount:0 mapping:00000000 index:0x0 pfn:0x3\n\
         flags: 0x1(reserved|zone=1)\n\
         raw: 01000001 00000001 ffffffff ffffffff 00000000 00000000 00000000 00000000\n\
         page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set\n"
    );
}

/// A user page's reverse-map key in the report: a 36-bit virtual page number and an inode
/// number fill their 64-bit words (the 32-bit kernel's user pages stop at 2^20).
#[test]
fn bad_page_report_prints_64_bit_keys_whole() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    let p = node.alloc_pages_for(PageOwner::Anon, GfpFlags::GFP_KERNEL, 0).unwrap();
    let vpn = 0xffff_8e61_6000_u64 >> PAGE_SHIFT;
    crate::mm::swap::Lruvec::set_rmap_key(&mut node.mem_map, p, 0x12_3456_789a, vpn as usize);
    let e = node.free_pages_for(PageOwner::Console, p, 0).unwrap_err();
    let s = report_as(&e, 64);
    assert!(s.contains("mapping:000000123456789a index:0xffff8e616 pfn:0x0\n"), "{s}");
    assert!(
        s.contains(
            "raw: 000000010100a000 ffffffffffffffff 000000123456789a 0000000ffff8e616\n\
             raw: 0000000000000000 0000000000000000\n"
        ),
        "{s}"
    );
}

#[test]
fn a_block_is_freed_only_by_its_owner() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0x3f000, &normal_only(0x3f000, 0x3f040));
    let p = node.alloc_pages_for(PageOwner::PageTable, GfpFlags::GFP_KERNEL, 1).unwrap();
    assert_eq!(node.page(p).unwrap().owner(), PageOwner::PageTable);
    let before = state(&node);
    let e = node.free_pages_for(PageOwner::Console, p, 1).unwrap_err();
    assert_eq!(
        e.reason,
        BadPageReason::WrongOwner { owner: PageOwner::PageTable, freed_by: PageOwner::Console }
    );
    assert_eq!(state(&node), before, "a refused free changes nothing");
    assert_eq!(
        report_as(&e, 32),
        "BUG: Bad page state in process swapper/0  pfn:3f000\n\
         page:(ptrval) refcount:1 mapcount:0 mapping:00000000 index:0x0 pfn:0x3f000\n\
         flags: 0x0(zone=1)\n\
         raw: 01015000 00000001 ffffffff ffffffff 00000000 00000000 00000000 00000000\n\
         page owner: a page table\n\
         page dumped because: page belongs to a page table, freed by the console\n"
    );
    expect_bad(
        &mut node,
        p.0,
        1,
        BadPageReason::WrongOwner { owner: PageOwner::PageTable, freed_by: PageOwner::Kernel },
    );
    node.free_pages_for(PageOwner::PageTable, p, 1).unwrap();
    assert_eq!(node.page(p).unwrap().owner(), PageOwner::None);
    node.verify().unwrap();
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
    assert!(report_as(&e, 32).contains(
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
    let k = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
    let e = node.set_slab(k, 2).unwrap_err().reason;
    assert_eq!(
        e,
        BadPageReason::WrongOwner { owner: PageOwner::Kernel, freed_by: PageOwner::Slab }
    );
    node.free_pages(k, 2).unwrap();
    let p = node.alloc_pages_for(PageOwner::Slab, GfpFlags::GFP_KERNEL, 2).unwrap();
    assert_eq!(node.set_slab(p, 1).unwrap_err().reason, BadPageReason::WrongOrder { allocated: 2 });
    node.set_slab(p, 2).unwrap();
    assert!(node.page(p).unwrap().is_slab());
    assert_eq!(node.compound_head(Pfn(p.0 + 3)), Some(p));
    expect_bad(&mut node, p.0, 2, BadPageReason::FlagsCheckAtFree);
    assert_eq!(node.clear_slab(Pfn(p.0 + 1)).unwrap_err().reason, BadPageReason::NotSlab);
    node.clear_slab(p).unwrap();
    assert_eq!(node.compound_head(Pfn(p.0 + 3)), Some(Pfn(p.0 + 3)));
    node.free_pages_for(PageOwner::Slab, p, 2).unwrap();
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
    // A use after free: two words written 0x20 bytes apart in the second page.
    mem.write(Pfn(p.0 + 1), 0x10, &[0x78, 0x56, 0x34, 0x12]);
    mem.write(Pfn(p.0 + 1), 0x30, b"pivm");
    let q = node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
    assert_eq!(q, p, "the freed block comes back first");
    assert_eq!(node.poison_corruptions(), 1);
    let (report, suppressed) = node.take_poison_report().expect("a report waits");
    assert_eq!(suppressed, 0);
    assert_eq!((report.pfn, report.start, report.len), (Pfn(p.0 + 1), 0x10, 0x24));
    assert!(!report.single_bit_error());
    let mut s = String::new();
    report.write_report(&mut s, 0xc000_1000).unwrap();
    assert_eq!(
        s,
        "pagealloc: memory corruption\n\
         c0001010: 78 56 34 12 aa aa aa aa aa aa aa aa aa aa aa aa  xV4.............\n\
         c0001020: aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa  ................\n\
         c0001030: 70 69 76 6d                                      pivm\n\
         page:(____ptrval____) refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x1\n\
         flags: 0x0(zone=1)\n\
         raw: 0000000001000000 ffffffffffffffff 0000000000000000 0000000000000000\n\
         raw: 0000000000000000 0000000000000000\n\
         page dumped because: pagealloc: corrupted page details\n"
    );
    assert!(node.take_poison_report().is_none(), "printed once");
    assert!(!node.page(Pfn(p.0 + 1)).unwrap().flags().contains(PageFlags::PG_poisoned));
    // Untouched poison passes.
    node.free_pages(q, 1).unwrap();
    node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
    assert_eq!(node.poison_corruptions(), 1);
    assert!(node.take_poison_report().is_none());
    node.verify().unwrap();
}

#[test]
fn one_flipped_bit_is_a_single_bit_error() {
    let mem = FakeMemory::new(0, 64);
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    node.set_page_memory(&mem);
    node.enable_page_poisoning();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    node.free_pages(p, 0).unwrap();
    mem.write(p, 0xfff, &[PAGE_POISON ^ 0x08]);
    assert_eq!(node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap(), p);
    let (report, _) = node.take_poison_report().unwrap();
    assert!(report.single_bit_error());
    let mut s = String::new();
    report.write_report(&mut s, 0x8000_0000).unwrap();
    assert!(s.starts_with(
        "pagealloc: single bit error\n\
         80000fff: a2                                               .\n\
         page:(____ptrval____) refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x0\n"
    ));
    assert!(s.contains("page owner: the kernel\n"));
    // Two bits, or two bytes, are corruption.
    node.free_pages(p, 0).unwrap();
    mem.write(p, 0, &[PAGE_POISON ^ 0x09]);
    node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    assert!(!node.take_poison_report().unwrap().0.single_bit_error());
}

#[test]
fn corruptions_found_while_a_report_waits_are_counted() {
    let mem = FakeMemory::new(0, 64);
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    node.set_page_memory(&mem);
    node.enable_page_poisoning();
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
    node.free_pages(p, 2).unwrap();
    for i in 0..4 {
        mem.write(Pfn(p.0 + i), 8, &[0]);
    }
    assert_eq!(node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap(), p);
    assert_eq!(node.poison_corruptions(), 4);
    let (report, suppressed) = node.take_poison_report().unwrap();
    assert_eq!((report.pfn, suppressed), (p, 3));
    assert!(node.take_poison_report().is_none());
}

#[test]
fn gfp_zero_fails_rather_than_hand_out_an_unzeroed_block() {
    let mem = FakeMemory::new(0, 64);
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    node.set_page_memory(&mem);
    // The block the next order-1 request gets, with its second page unreachable.
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
    node.free_pages(p, 1).unwrap();
    let before = (node.nr_free_pages(), node.nr_pcp_pages());
    mem.unmappable.lock().unwrap().push(Pfn(p.0 + 1));
    let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO;
    let e = node.alloc_pages(gfp, 1).unwrap_err();
    assert_eq!(e, AllocError::ZeroFailed { gfp, order: 1, pfn: Pfn(p.0 + 1) });
    assert!(!e.should_warn());
    assert_eq!(
        std::format!("{e}"),
        "alloc_pages: order:1, mode:0xdc0(GFP_KERNEL|__GFP_ZERO): cannot map pfn:0x1 to zero \
         it; the block was given back"
    );
    assert_eq!((node.nr_free_pages(), node.nr_pcp_pages()), before, "nothing leaked");
    assert_eq!(node.page(p).unwrap().owner(), PageOwner::None);
    node.verify().unwrap();
    // Without __GFP_ZERO the block is handed out; once reachable, zeroing works again.
    assert_eq!(node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap(), p);
    node.free_pages(p, 1).unwrap();
    mem.unmappable.lock().unwrap().clear();
    assert_eq!(node.alloc_pages(gfp, 1).unwrap(), p);
    assert_eq!(mem.tag(Pfn(p.0 + 1)), 0);
    node.verify().unwrap();
}

#[test]
fn linear_map_addresses() {
    let mut v = vec![Page::default(); 2048];
    let mut node = all_free(&mut v, 0, &three_zones());
    node.set_linear_map(LinearMap { page_offset: VirtAddr(0xc000_0000), phys_offset: PhysAddr(0) });
    let va = node.__get_free_pages(GfpFlags::GFP_HIGHUSER, 1).unwrap();
    let pfn = node.virt_to_pfn(va).unwrap();
    assert_eq!(node.page_zone(pfn), Some(ZoneType::Normal), "__get_free_pages is lowmem");
    assert_eq!(node.page_address(pfn), Some(va));
    assert_eq!(va.as_u64(), 0xc000_0000 + pfn.0 * PAGE_SIZE);
    let high = node.alloc_pages(GfpFlags::GFP_HIGHUSER, 0).unwrap();
    assert_eq!(node.page_address(high), None, "highmem needs kmap");
    assert!(node.page_is_highmem(high));
    assert_eq!(node.virt_to_pfn(VirtAddr(0xc000_0000 + 1500 * PAGE_SIZE as usize)), None);
    assert_eq!(node.virt_to_pfn(VirtAddr(0x1000)), None);
    // An address inside a page names the address and its real PFN (not a misaligned PFN).
    let e = node.free_pages_addr(VirtAddr(va.0 + 8), 1).unwrap_err();
    assert_eq!(e.reason, BadPageReason::MisalignedAddress(VirtAddr(va.0 + 8)));
    assert_eq!(e.pfn, pfn);
    let report = std::format!("{e}");
    assert!(report.starts_with(&std::format!(
        "BUG: Bad page state in process swapper/0  pfn:{:05x}\n",
        pfn.0
    )));
    assert!(report.ends_with(&std::format!(
        "page dumped because: address {:#010x} is not the start of a page\n",
        va.0 + 8
    )));
    // A page-aligned address of a block that is not aligned to the order is a misaligned PFN.
    let odd = VirtAddr(va.0 + PAGE_SIZE as usize);
    assert_eq!(node.free_pages_addr(odd, 1).unwrap_err().reason, BadPageReason::Misaligned);
    // An address with no page frame prints the address where the PFN would be.
    let e = node.free_pages_addr(VirtAddr(0x8000), 0).unwrap_err();
    assert_eq!(e.reason, BadPageReason::BadAddress(VirtAddr(0x8000)));
    assert_eq!(
        std::format!("{e}"),
        "BUG: Bad page state in process swapper/0  addr:00008000\n\
         page dumped because: address 0x00008000 is not in the linear map\n"
    );
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
    let zones =
        Zones { dma: None, normal: span(0, 2560), dma32: None, highmem: Some(span(2560, 4096)) };
    let mut v = vec![Page::default(); 4096];
    let mut usemap = vec![0; usemap_size(Pfn(0), Pfn(4096))];
    let map = MemMap::new(&mut v, Pfn(0)).unwrap();
    let mut node = Node::from_memblock(map, &mut usemap, &zones, &mb).unwrap();
    assert_eq!(node.zone(ZoneType::Normal).min_wmark_pages(), 0, "postcore's job");
    node.init_per_zone_wmark_min();
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
    assert_eq!(normal.lowmem_reserve(), [0, 0, 0, 1024 / 32, 1024 / 32]);
    assert!(node.page(Pfn(0x100)).unwrap().is_reserved(), "the kernel stays reserved");
    assert!(node.page(Pfn(2100)).unwrap().is_reserved(), "holes stay reserved");
    assert!(node.totalreserve_pages() > 0);
}

#[test]
fn failure_report_golden() {
    let mut v = vec![Page::default(); 1536];
    let zones =
        Zones { dma: None, normal: span(0, 1024), dma32: None, highmem: Some(span(1024, 1536)) };
    let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &zones).unwrap();
    node.free_bootmem_range(Pfn(16), Pfn(1536)).unwrap();
    node.init_per_zone_wmark_min();
    let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_COMP;
    let e = node.alloc_pages(gfp, TOP).unwrap_err();
    assert!(e.should_warn());
    let mut s = String::new();
    let stats = NodeStats {
        nr_slab_unreclaimable: 9,
        nr_page_table_pages: 2,
        nr_file_pages: 300,
        nr_swapcache: 7,
        nr_swap_free: 1000,
        nr_swap_total: 1024,
        ..NodeStats::default()
    };
    write_alloc_failure(&mut s, "sh", e.gfp(), e.order(), &node, &stats).unwrap();
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
    // The slab and page-table counters are the live ones the caller passes (as meminfo's).
    assert_eq!(lines[5], " slab_reclaimable:0 slab_unreclaimable:9");
    assert_eq!(lines[6], " mapped:0 shmem:0 pagetables:2");
    assert_eq!(lines[9], " free:1520 free_pcp:0 free_cma:0");
    assert!(lines[10].starts_with("Node 0 active_anon:0kB inactive_anon:0kB"));
    assert!(lines[10]
        .ends_with("kernel_stack:0kB pagetables:8kB sec_pagetables:0kB all_unreclaimable? no"));
    // GFP_KERNEL cannot use HighMem, so only Normal is shown (6.x's max_zone_idx filter).
    assert_eq!(
        lines[11],
        "Normal free:4032kB boost:0kB min:252kB low:312kB high:372kB \
         reserved_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB \
         inactive_file:0kB unevictable:0kB writepending:0kB present:4096kB managed:4032kB \
         mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB"
    );
    // One entry per zone of this kernel: Normal, HighMem, Movable.
    assert_eq!(lines[12], "lowmem_reserve[]: 0 16 16");
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
            // The page cache's and swap's live counts, as `show_swap_cache_info`.
            "300 total pagecache pages",
            "7 pages in swap cache",
            "Free swap  = 4000kB",
            "Total swap = 4096kB",
            "1536 pages RAM",
            "512 pages HighMem/MovableOnly",
            "16 pages reserved",
            "0 pages cma reserved",
        ]
    );
    // A HighMem-capable request shows both zones.
    let mut s = String::new();
    write_alloc_failure(&mut s, "sh", GfpFlags::GFP_HIGHUSER, 0, &node, &stats).unwrap();
    assert!(s.contains("\nHighMem free:2048kB boost:0kB min:128kB"), "{s}");
    assert!(s.contains("\nHighMem: "));
}

#[test]
fn buddy_line_format() {
    let mut v = vec![Page::default(); 64];
    let mut node = Node::new(MemMap::new(&mut v, Pfn(0)).unwrap(), &normal_only(0, 64)).unwrap();
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
    // prints in /proc/zoneinfo; large zones stop at 63, small ones at 0 (made 1 by
    // zone_pcp_update).
    use crate::mm::zone::zone_batchsize;
    assert_eq!(zone_batchsize(189_784), 63);
    assert_eq!(zone_batchsize(1 << 20), 63);
    assert_eq!(zone_batchsize(94_000), 31);
    assert_eq!(zone_batchsize(8192), 1);
    assert_eq!(zone_batchsize(8191), 0);
    // A 3.x kernel stopped at 512 KiB: 31.
    assert_eq!(zone_batchsize_capped(1 << 20, PCP_BATCH_MAX_PAGES_3X), 31);
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
    let got: Vec<Pfn> =
        (0..3 * pcp.high()).map(|_| node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()).collect();
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
    let frees: Vec<u64> = (0..6).map(|_| pcp.nr_pcp_free(100, false)).collect();
    assert_eq!(frees, [7, 14, 28, 56, 93, 93]);
    // A cache whose high is below its batch gives back one page at a time; one whose
    // high is below two batches gets high - batch (clamp's upper bound wins).
    let mut tiny = PerCpuPages { high: 3, batch: 7, ..PerCpuPages::EMPTY };
    assert_eq!(tiny.nr_pcp_free(3, false), 1);
    let mut small = PerCpuPages { high: 10, batch: 7, ..PerCpuPages::EMPTY };
    assert_eq!(small.nr_pcp_free(10, false), 3);
    // free_high (high-order pages freed with no allocation in between): everything, and
    // the limit for such a free is 0.
    assert_eq!(small.nr_pcp_free(0, true), small.count());
    assert_eq!((small.nr_pcp_high(true), small.nr_pcp_high(false)), (0, 10));

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
    assert_eq!(node.zone(ZoneType::Normal).pcp().free_factor(), 3);
    let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    assert_eq!(node.zone(ZoneType::Normal).pcp().free_factor(), 1);
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
        let pcp = node.zone(ZoneType::Normal).pcp();
        [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE].map(|mt| pcp.list_len(order_to_pindex(mt, 0)))
    };
    assert_eq!(lists(&node), [8, 8]);
    // Ten pages from the movable list first: it empties, then two unmovable ones go.
    node.free_pcppages_bulk(ZoneType::Normal.idx(), 10, order_to_pindex(MIGRATE_MOVABLE, 0));
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
            dma32: None,
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
        /// type); failing that, for a request that may reclaim (`can_reclaim`), once the
        /// lists are drained, the first with any fully free aligned block.
        fn expected_zone(
            &self,
            node: &Node<'_>,
            order: u32,
            highest: ZoneType,
            mt: usize,
            can_reclaim: bool,
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
                order == 0 && z.nr_free_pages() > 0 && !z.pcp.list_empty(order_to_pindex(mt, 0))
            };
            let uncached = |p: u64| self.is_free(p) && !cached(p);
            zonelist(highest).find(|&zt| on_own_list(zt) || has_block(zt, &uncached)).or_else(
                || {
                    let any_free = |p: u64| self.is_free(p);
                    (can_reclaim && node.nr_pcp_pages() > 0)
                        .then(|| zonelist(highest).find(|&zt| has_block(zt, &any_free)))
                        .flatten()
                },
            )
        }

        fn free_in_zone(&self, node: &Node<'_>, zt: ZoneType) -> u64 {
            let z = node.zone(zt);
            (z.zone_start_pfn().0..z.zone_end_pfn().0).filter(|&p| self.is_free(p)).count() as u64
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
        // The model describes order-0 per-CPU lists (the 3.x era's); 6.1's orders 1-3 and
        // HighAtomic reserves have their own tests.
        node.set_era(KernelEra::Linux3x);
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
                    let can_reclaim = gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM);
                    let want = m.expected_zone(&node, order, highest, mt, can_reclaim);
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
                    if m.owner[Model::i(pfn.0)] != Some(pfn.0) || !m.live.contains(&(pfn, order)) {
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
                        0 if order + 1 < MAX_ORDER as u32 => check_bad(&mut node, pfn, order + 1),
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
                0..=6 => {
                    Op::Alloc { order: (x >> 8) as u32 % 5, gfp: (x >> 16) as usize % GFPS.len() }
                }
                7 | 8 => Op::Free { pick: (x >> 20) as usize },
                _ => Op::BadFree { pick: (x >> 20) as usize, kind: (x >> 40) as u8 % 5 },
            });
        }
        run(&ops, x);
    }
}

/// Each kind of damage `verify` is there to find, made by hand on a healthy node.
#[test]
fn verify_finds_broken_invariants() {
    type Damage = fn(&mut Node<'_>, Pfn);
    let damage: [(&str, Damage); 7] = [
        ("page is neither free, cached, allocated nor reserved", |n, p| {
            // A lost page: the allocated block forgets it was handed out.
            n.mem_map.pages_mut()[p.0 as usize].refcount = 0;
        }),
        ("an allocated block has no owner", |n, p| {
            n.mem_map.pages_mut()[p.0 as usize].set_owner(PageOwner::None);
        }),
        ("a page inside an allocated block is not part of it", |n, p| {
            n.mem_map.pages_mut()[p.0 as usize + 1].set_owner(PageOwner::Console);
        }),
        ("a reserved page is free, cached or owned", |n, _| {
            n.mem_map.pages_mut()[0x3f].set_owner(PageOwner::Kernel);
        }),
        ("free list back link broken", |n, _| {
            let z = &n.node_zones[ZoneType::Normal.idx()];
            let idx =
                (0..MAX_ORDER).rev().find_map(|o| z.free_area[o].first(MIGRATE_UNMOVABLE)).unwrap();
            n.mem_map.pages_mut()[idx as usize].lru_prev = 7;
        }),
        ("managed pages differ from free + cached + allocated", |n, _| {
            n.node_zones[ZoneType::Normal.idx()].managed_pages += 1;
        }),
        ("pageblock without a valid migrate type", |n, _| {
            n.pageblock_mt[0] = MIGRATE_TYPES as u8;
        }),
    ];
    for (what, damage) in damage {
        let mut v = vec![Page::default(); 64];
        let mut node = all_free(&mut v, 0, &normal_only(0, 63));
        let p = node.alloc_pages(GfpFlags::GFP_KERNEL, 1).unwrap();
        node.verify().unwrap();
        damage(&mut node, p);
        assert_eq!(node.verify().map_err(|e| e.0), Err(what));
    }
}

#[test]
fn pgalloc_and_pgfree_count_pages_as_vmstat_does() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    // Boot memory handed to the allocator counts as freed (__free_pages_core -> PGFREE).
    assert_eq!(node.zone(ZoneType::Normal).vm_events(), (0, 64));
    let a = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
    let b = node.alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap();
    assert_eq!(node.zone(ZoneType::Normal).vm_events(), (5, 64));
    node.free_pages(a, 2).unwrap();
    assert_eq!(node.zone(ZoneType::Normal).vm_events(), (5, 68));
    // A refused free counts nothing.
    assert!(node.free_pages(a, 2).is_err());
    node.free_pages(b, 0).unwrap();
    assert_eq!(node.zone(ZoneType::Normal).vm_events(), (5, 69));
}

#[test]
fn dup_anon_rmap_counts_only_anonymous_pages_in_their_descriptor() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    let anon = node.alloc_pages_for(PageOwner::Anon, GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    let cache =
        node.alloc_pages_for(PageOwner::PageCache, GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    // fork's copy of a PTE: an anonymous page gets one more mapping, a file page none.
    assert!(node.dup_anon_rmap(anon));
    assert!(!node.dup_anon_rmap(cache));
    assert_eq!(node.page(anon).unwrap().mapcount(), 1);
    assert_eq!(node.page(cache).unwrap().mapcount(), 0);
    // The child's unmap drops the extra mapping; the parent's is the last (false: free it).
    assert!(node.remove_shared_rmap(anon));
    assert!(!node.remove_shared_rmap(anon));
    assert!(!node.remove_shared_rmap(cache));
    node.free_pages_for(PageOwner::Anon, anon, 0).unwrap();
    node.free_pages_for(PageOwner::PageCache, cache, 0).unwrap();
    node.verify().unwrap();
}

#[test]
fn dcache_clean_is_kept_for_page_cache_pages_until_written_or_freed() {
    let mut v = vec![Page::default(); 64];
    let mut node = all_free(&mut v, 0, &normal_only(0, 64));
    let cache =
        node.alloc_pages_for(PageOwner::PageCache, GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    let anon = node.alloc_pages_for(PageOwner::Anon, GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    // The first executable mapping cleans; the next ones find the page clean.
    assert!(!node.test_and_set_dcache_clean(cache));
    assert!(node.test_and_set_dcache_clean(cache));
    // A write through the page cache (flush_dcache_page) makes the next mapping clean again.
    node.clear_dcache_clean(cache);
    assert!(!node.test_and_set_dcache_clean(cache));
    // Anonymous pages are cleaned on every executable mapping.
    assert!(!node.test_and_set_dcache_clean(anon));
    assert!(!node.test_and_set_dcache_clean(anon));
    // A freed page comes back without the mark, whoever takes it next.
    node.free_pages_for(PageOwner::PageCache, cache, 0).unwrap();
    node.verify().unwrap();
    let again =
        node.alloc_pages_for(PageOwner::PageCache, GfpFlags::GFP_HIGHUSER_MOVABLE, 0).unwrap();
    assert!(!node.page(again).unwrap().flags().contains(PageFlags::PG_dcache_clean));
    assert!(!node.test_and_set_dcache_clean(again));
    node.free_pages_for(PageOwner::PageCache, again, 0).unwrap();
    node.free_pages_for(PageOwner::Anon, anon, 0).unwrap();
    node.verify().unwrap();
}
