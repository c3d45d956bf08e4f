//! The dump's records over computed layouts and a real page allocator: regions by address
//! with their physical targets, map runs, pageblocks walked through `mem_map`, process runs.
use super::*;
use crate::arch::layout::{compute_with_profile, KernelSections, Layout, LayoutInput};
use crate::arch::memdump::{dump_layout, regions};
use crate::arch::memory::{VMSPLIT_2G, VMSPLIT_3G};
use crate::arch::profile::{ANDROID_A9, LINUX};
use crate::boot::info::MemBank;
use crate::mm::gfp::GfpFlags;
use crate::mm::mm_init::PfnRange;
use crate::mm::page::{MemMap, Page};
use crate::mm::page_alloc::MAX_ORDER_NR_PAGES;
use crate::mm::PhysAddr;

const RASPI2B: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: 0x3C00_0000 }];

fn layout(page_offset: u64, p: &crate::arch::profile::Profile) -> Layout {
    let i = LayoutInput {
        page_offset,
        banks: &RASPI2B,
        vmalloc: None,
        mem: &[],
        highmem: true,
        dma_zone_size: None,
    };
    compute_with_profile(&i, p).0
}

fn sections(po: u64) -> KernelSections {
    KernelSections {
        text: (po + 0x8000, po + 0x49000),
        init: (po + 0x49000, po + 0x49000),
        data: (po + 0x64000, po + 0x9e450),
        bss: (po + 0xa0000, po + 0x141aa0),
    }
}

fn dump(l: &Layout, blocks: &[Pageblock], vareas: &[Varea]) -> String {
    let regions = regions(l, &sections(l.page_offset.as_u64()));
    let vi = regions.iter().position(|r| r.kind == RegionKind::Vectors).unwrap();
    let maps = [(vi, vec![(l.vectors_base.as_u64(), 1, 0x3bff_f000)])];
    let spans = zone_spans(&l.zones);
    let zones = [ZoneFigures {
        name: "Normal",
        start_pfn: 0,
        end_pfn: 0x30000,
        present: 0x30000,
        managed: 0x2f000,
        free: 0x2e000,
        min: 1,
        low: 2,
        high: 3,
    }];
    let dl = dump_layout(l, "3G");
    let d = KernelDump {
        layout: &dl,
        regions: &regions,
        maps: &maps,
        zones: &zones,
        spans: &spans,
        vareas,
        vmalloc: VmallocTotals {
            total: l.vmalloc_size(),
            used: 3 << 12,
            largest_gap: 1 << 20,
            areas: 1,
        },
        pageblocks: blocks,
    };
    let mut out = String::new();
    render_kernel(&mut out, &d).unwrap();
    out
}

#[test]
fn kernel_regions_follow_the_layout_with_linear_targets() {
    let l = layout(VMSPLIT_3G, &LINUX);
    let out = dump(&l, &[], &[]);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(
            "memdump version=1 what=kernel split=3G page_offset=0xc0000000 profile=linux"
        ),
        "{first}"
    );
    assert!(out.contains("ram start=0x00000000 end=0x3c000000\n"), "{out}");
    // Lowmem maps the first 768 MiB, all of it ZONE_NORMAL; highmem is above it.
    assert!(out.contains(
        "region name=lowmem kind=lowmem start=0xc0000000 end=0xf0000000 phys=0x00000000 phys_end=0x30000000 zones=Normal\n"
    ), "{out}");
    assert!(
        out.contains(
            "region name=.text kind=section start=0xc0008000 end=0xc0049000 phys=0x00008000"
        ),
        "{out}"
    );
    assert!(
        out.contains("region name=vmalloc kind=vmalloc start=0xf0800000 end=0xff800000\n"),
        "{out}"
    );
    assert!(
        out.contains("region name=pkmap kind=pkmap start=0xbfe00000 end=0xc0000000\n"),
        "{out}"
    );
    assert!(
        out.contains("region name=fixmap kind=fixmap start=0xffc80000 end=0xfff00000\n"),
        "{out}"
    );
    assert!(out.contains("region name=vectors kind=vectors start=0xffff0000 end=0xffff1000\nmap region=vectors va=0xffff0000 pages=1 phys=0x3bfff000 zone=HighMem\n"), "{out}");
    assert!(out.contains("region name=user kind=user start=0x00000000 end=0xbf000000\n"), "{out}");
    assert!(out.contains("vmalloc start=0xf0800000 end=0xff800000 total_kb=245760 used_kb=12 free_kb=245748 largest_gap_kb=1024 areas=1\n"), "{out}");
    // The regions come by address, and the closing line counts every line.
    let starts: Vec<u64> = out
        .lines()
        .filter(|l| l.starts_with("region "))
        .map(|l| u64::from_str_radix(&l.split("start=0x").nth(1).unwrap()[..8], 16).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    let n = out.lines().count();
    assert_eq!(out.lines().last().unwrap(), format!("memdump end lines={n}"));
}

#[test]
fn a_profile_adds_its_carveouts_and_holes() {
    let l = layout(VMSPLIT_3G, &ANDROID_A9);
    let out = dump(&l, &[], &[]);
    assert!(out.contains("profile=android-a9"), "{out}");
    assert!(out.contains("region name=lowmem kind=lowmem start=0xc0000000 end=0xe0000000 phys=0x00000000 phys_end=0x20000000 zones=Normal\n"), "{out}");
    assert!(
        out.contains("region name=unused kind=hole start=0xf0000000 end=0xfd100000\n"),
        "{out}"
    );
    // CP at the top of lowmem, pmem below it, with their linear addresses.
    assert!(
        out.contains(
            "carveout name=CP phys=0x1f000000 phys_end=0x20000000 va=0xdf000000 zones=Normal\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "carveout name=pmem phys=0x17000000 phys_end=0x1f000000 va=0xd7000000 zones=Normal\n"
        ),
        "{out}"
    );
    // 2G: all of RAM is lowmem (the pkmap window stays, below PAGE_OFFSET).
    let l2 = layout(VMSPLIT_2G, &LINUX);
    let out2 = dump(&l2, &[], &[]);
    assert!(
        out2.contains("region name=pkmap kind=pkmap start=0x7fe00000 end=0x80000000\n"),
        "{out2}"
    );
    assert!(out2.contains("phys=0x00000000 phys_end=0x3c000000 zones=Normal\n"), "{out2}");
}

#[test]
fn map_runs_join_contiguous_pages_only() {
    let t = |va: u64| match va {
        0x1000 => Some(0x5000),
        0x2000 => Some(0x6123), // offset inside the page is dropped
        0x3000 => None,
        0x4000 => Some(0x9000),
        0x5000 => Some(0x8000),
        _ => None,
    };
    assert_eq!(
        map_runs(0x1000, 0x6000, &t),
        vec![(0x1000, 2, 0x5000), (0x4000, 1, 0x9000), (0x5000, 1, 0x8000)]
    );
    let spans = [
        ZoneSpan { name: "Normal", start_pfn: 0, end_pfn: 6 },
        ZoneSpan { name: "HighMem", start_pfn: 6, end_pfn: 16 },
    ];
    let (by, first) = pages_by_zone(&spans, 0x1000, 0x6000, &t);
    assert_eq!(by, vec![("Normal", 1), ("HighMem", 3)]);
    assert_eq!(first, Some(0x5000));
    assert_eq!(zone_of(&spans, 99), NO_ZONE);
}

#[test]
fn vareas_print_their_zones_and_caller() {
    let l = layout(VMSPLIT_3G, &LINUX);
    let a = [
        Varea {
            start: 0xf080_0000,
            end: 0xf080_3000,
            kind: VareaKind::Vmalloc,
            by_zone: vec![("Normal", 1), ("HighMem", 1)],
            phys: Some(0x3000_0000),
            caller: field("cmd_vmalloc+0x0/0x10 x"),
        },
        Varea {
            start: 0xf080_4000,
            end: 0xf080_6000,
            kind: VareaKind::Unpurged,
            by_zone: vec![],
            phys: None,
            caller: String::new(),
        },
    ];
    let out = dump(&l, &[], &a);
    assert!(out.contains("varea start=0xf0800000 end=0xf0803000 size=12288 kind=vmalloc pages=Normal:1,HighMem:1 phys=0x30000000 caller=cmd_vmalloc+0x0/0x10_x\n"), "{out}");
    assert!(
        out.contains(
            "varea start=0xf0804000 end=0xf0806000 size=8192 kind=unpurged pages=- caller=-\n"
        ),
        "{out}"
    );
}

/// arm64's pageblocks (order 9) are half a `MAX_ORDER - 1` block: a free order-10 block
/// counts its pages free in both pageblocks it covers, by order in its head's.
#[test]
fn a_free_block_larger_than_a_pageblock_is_free_in_each_block_it_covers() {
    const PAGES: u64 = 2 * MAX_ORDER_NR_PAGES;
    let half = MAX_ORDER_NR_PAGES / 2;
    let mut pages = vec![Page::default(); PAGES as usize];
    let zones = Zones::normal_only(PAGES);
    let mut node = Node::new(MemMap::new(&mut pages, Pfn(0)).unwrap(), &zones).unwrap();
    node.free_bootmem_range(Pfn(MAX_ORDER_NR_PAGES), Pfn(PAGES)).unwrap();
    let mut blocks = Vec::with_capacity(4);
    assert!(pageblocks_of(&node, &mut blocks, half));
    let free: Vec<u64> = blocks.iter().map(|b| b.free).collect();
    assert_eq!(free, [0, 0, half, half], "{blocks:?}");
    assert_eq!((blocks[2].orders[MAX_ORDER - 1], blocks[3].orders[MAX_ORDER - 1]), (1, 0));
    assert!(blocks.iter().all(|b| b.free + b.pcp + b.reserved + b.used() == b.pages));
    assert_eq!(blocks[3].used(), 0);
}

#[test]
fn pageblocks_count_free_blocks_by_order_through_mem_map() {
    const BLOCK: u64 = PAGEBLOCK_NR_PAGES;
    const PAGES: u64 = 4 * BLOCK;
    let mut pages = vec![Page::default(); PAGES as usize];
    let zones = Zones {
        dma: None,
        normal: PfnRange { start: Pfn(0), end: Pfn(3 * BLOCK) },
        dma32: None,
        highmem: Some(PfnRange { start: Pfn(3 * BLOCK), end: Pfn(PAGES) }),
    };
    let mut node = Node::new(MemMap::new(&mut pages, Pfn(0)).unwrap(), &zones).unwrap();
    // The first 16 pages stay reserved (as the kernel image would).
    node.free_bootmem_range(Pfn(16), Pfn(PAGES)).unwrap();
    node.init_per_zone_wmark_min();
    let page = node.alloc_pages(GfpFlags::GFP_KERNEL, 2).unwrap();
    let blocks = pageblocks(&node);
    assert_eq!(blocks.len(), 4);
    assert_eq!(
        blocks.iter().map(|b| b.zone).collect::<Vec<_>>(),
        ["Normal", "Normal", "Normal", "HighMem"]
    );
    assert!(blocks.iter().all(|b| b.pages == BLOCK));
    // Every page accounted for, and the free pages are exactly the zones' free counts.
    let free: u64 = blocks.iter().map(|b| b.free).sum();
    assert_eq!(free, node.nr_free_pages());
    for b in &blocks {
        let by_order: u64 = b.orders.iter().enumerate().map(|(o, n)| n << o).sum();
        assert_eq!(by_order, b.free);
        assert_eq!(b.free + b.pcp + b.reserved + b.used(), b.pages);
    }
    assert_eq!(blocks[0].reserved, 16);
    // The allocation (4 pages) is used in its block; the highmem block is whole and free.
    let b = blocks.iter().find(|b| (b.pfn..b.pfn + BLOCK).contains(&page.0)).unwrap();
    assert!(b.used() >= 4, "{b:?}");
    assert_eq!(blocks[3].orders[MAX_ORDER - 1], 1);
    assert_eq!(blocks[3].free, BLOCK);
    let l = layout(VMSPLIT_3G, &LINUX);
    let out = dump(&l, &blocks, &[]);
    let line = format!(
        "pageblock pfn={:#07x} pages={BLOCK} zone=HighMem mt={} free={BLOCK} pcp=0 reserved=0 used=0 orders=",
        3 * BLOCK,
        MIGRATETYPE_NAMES[blocks[3].mt]
    );
    assert!(out.contains(&line), "{line}\n{out}");
}

#[test]
fn process_pages_come_as_runs_per_zone() {
    let spans = [
        ZoneSpan { name: "Normal", start_pfn: 0, end_pfn: 0x30000 },
        ZoneSpan { name: "HighMem", start_pfn: 0x30000, end_pfn: 0x3c000 },
    ];
    let vmas = [
        ProcVma {
            start: 0x10000,
            end: 0x15000,
            perms: *b"r-xp",
            name: String::from("/bin/vm test"),
            present: vec![
                (0x10000, 0x2ffff),
                (0x11000, 0x30000),
                (0x12000, 0x30001),
                (0x14000, 0x100),
            ],
            swapped: vec![],
        },
        ProcVma {
            start: 0xbefdf000,
            end: 0xbf000000,
            perms: *b"rw-p",
            name: String::from("[stack]"),
            present: vec![],
            swapped: vec![0xbefde000, 0xbefdf000, 0xbeff0000],
        },
    ];
    let mut out = String::new();
    render_process(&mut out, 7, "vmtest", &spans, &vmas).unwrap();
    assert_eq!(
        out,
        "memdump version=1 what=process pid=7 comm=vmtest page_size=4096\n\
         vma start=0x00010000 end=0x00015000 perms=r-xp pages=5 present=4 swapped=0 name=/bin/vm_test\n\
         pte va=0x00010000 n=1 pfn=0x2ffff zone=Normal\n\
         pte va=0x00011000 n=2 pfn=0x30000 zone=HighMem\n\
         pte va=0x00014000 n=1 pfn=0x100 zone=Normal\n\
         vma start=0xbefdf000 end=0xbf000000 perms=rw-p pages=33 present=0 swapped=3 name=[stack]\n\
         swp va=0xbefde000 n=2\n\
         swp va=0xbeff0000 n=1\n\
         memdump end lines=9\n"
    );
}
