//! Scale and labels of the kernel picture over a small hand-made dump (3G split, highmem).
use super::*;
use crate::dump::parse_transcript;

pub(crate) const DUMP_3G: &str = "\
pivm# memdump\r
memdump version=1 what=kernel split=3G page_offset=0xc0000000 profile=linux page_size=4096 max_order=11 pageblock_order=10\r
ram start=0x00000000 end=0x3c000000
zone name=Normal start_pfn=0x0 end_pfn=0x30000 present=196608 managed=190000 free=180000 min=1 low=2 high=3
zone name=HighMem start_pfn=0x30000 end_pfn=0x3c000 present=49152 managed=49152 free=49000 min=1 low=2 high=3
region name=user kind=user start=0x00000000 end=0xbf000000
region name=modules kind=modules start=0xbf000000 end=0xbfe00000
region name=pkmap kind=pkmap start=0xbfe00000 end=0xc0000000
map region=pkmap va=0xbfe00000 pages=1 phys=0x30000000 zone=HighMem
region name=lowmem kind=lowmem start=0xc0000000 end=0xf0000000 phys=0x00000000 phys_end=0x30000000 zones=Normal
region name=.text kind=section start=0xc0008000 end=0xc0049000 phys=0x00008000 phys_end=0x00049000 zones=Normal
region name=vmalloc kind=vmalloc start=0xf0800000 end=0xff800000
region name=fixmap kind=fixmap start=0xffc80000 end=0xfff00000
region name=vectors kind=vectors start=0xffff0000 end=0xffff1000
map region=vectors va=0xffff0000 pages=1 phys=0x2ffff000 zone=Normal
varea start=0xf0800000 end=0xf0803000 size=12288 kind=vmalloc pages=Normal:1,HighMem:1 phys=0x30001000 caller=x
varea start=0xf0804000 end=0xf0806000 size=8192 kind=ioremap pages=none:1 phys=0x3f201000 caller=uart
vmalloc start=0xf0800000 end=0xff800000 total_kb=245760 used_kb=20 free_kb=245740 largest_gap_kb=245000 areas=2
pageblock pfn=0x00000 pages=1024 zone=Normal mt=Unmovable free=10 pcp=0 reserved=500 used=514 orders=0,1,2,0,0,0,0,0,0,0,0
pageblock pfn=0x30000 pages=1024 zone=HighMem mt=Movable free=1024 pcp=0 reserved=0 used=0 orders=0,0,0,0,0,0,0,0,0,0,1
memdump end lines=20
pivm# ";

fn dump() -> KernelDump {
    parse_transcript(DUMP_3G).unwrap().kernels.remove(0)
}

#[test]
fn segments_cover_the_address_space_top_down() {
    let k = dump();
    let segs = segments(&k);
    // From 0xffffffff down: the gap above the vectors first, the user half last.
    assert_eq!(segs.first().unwrap().end, VA_TOP);
    assert_eq!(segs.last().unwrap().name, "user");
    for w in segs.windows(2) {
        assert_eq!(w[1].end, w[0].start, "{w:?}");
        assert!((w[1].y - (w[0].y + w[0].h)).abs() < 1e-9);
    }
    let by = |n: &str| segs.iter().find(|s| s.name == n).unwrap().clone();
    // Lowmem (768 MB) and vmalloc (240 MB) are to scale: their heights keep the ratio.
    let (low, vm) = (by("lowmem"), by("vmalloc"));
    assert!(!low.enlarged && !vm.enlarged);
    assert!((low.h / vm.h - 768.0 / 240.0).abs() < 1e-6, "{} {}", low.h, vm.h);
    // The 4 kB vector page is enlarged to be seen; the 3 GB user half is cut.
    assert!(by("vectors").enlarged && by("vectors").h == MIN_H);
    assert!(by("user").cut && by("user").h == USER_MAX_H);
    // The 8 MB VMALLOC_OFFSET gap between lowmem and vmalloc is there.
    assert!(segs.iter().any(|s| s.kind == "gap" && s.start == 0xf000_0000 && s.end == 0xf080_0000));
}

#[test]
fn the_drawing_labels_regions_zones_and_mappings() {
    let svg = draw(&dump());
    for label in [
        "lowmem (768 MB)",
        "vmalloc (240 MB)",
        "vectors (4 kB, enlarged)",
        "user (3056 MB, not to scale)",
        "pkmap (2 MB, enlarged)",
        "Normal (768 MB)",
        "HighMem (192 MB)",
        "linear map: 768 MB of lowmem",
        "vmalloc: 1 pages in Normal",
        "vmalloc: 1 pages in HighMem",
        "vmalloc: 1 pages of device memory (ioremap)",
        "vectors: 1 mapped page now",
        ".text 260 kB -&gt; 0x00008000",
    ] {
        assert!(
            svg.contains(&format!(">{label}<")),
            "{label} missing: {}",
            svg.split("<text").filter(|t| t.contains("vectors")).collect::<Vec<_>>().join("\n")
        );
    }
    assert!(svg.contains(r#"data-region="lowmem" data-kind="lowmem""#));
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}

#[test]
fn a_pageless_dump_still_draws() {
    let mut k = dump();
    k.pageblocks.clear();
    k.vareas.clear();
    k.maps.clear();
    let svg = draw(&k);
    assert!(svg.ends_with("</svg>"));
    let p = crate::physical::draw(&k);
    assert!(p.ends_with("</svg>"));
}
