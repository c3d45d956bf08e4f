//! The figures of Linux 6.1's samples that depend on the kernel's own size (managed pages,
//! and with them the watermarks, reserves and per-CPU limits), recomputed by pivm's own
//! code from the sample's page counts: the numbers are read from tests/samples/, never
//! written here.
use super::collect::node_snapshot;
use super::zoneinfo;
use crate::mm::mm_init::{PfnRange, Zones};
use crate::mm::page::{MemMap, Page};
use crate::mm::page_alloc::{Node, NodeStats, PAGEBLOCK_NR_PAGES};
use crate::mm::zone::{calculate_normal_threshold, zone_batchsize, zone_highsize};
use crate::mm::Pfn;
extern crate std;
use std::string::String;
use std::vec;

const PROC: &str = include_str!("../../tests/samples/linux-6.1-raspi2b-3G-proc.txt");
const BOOT: &str = include_str!("../../tests/samples/linux-6.1-raspi2b-3G-boot.txt");
const ARM64_ZONEINFO: &str =
    include_str!("../../tests/samples/linux-6.1-raspi3b-arm64-zoneinfo.txt");

/// `Memory: FREEK/...`: the free kB the boot log's `Memory:` line starts with (what the
/// allocator managed then, as nothing was allocated yet).
fn memory_free_kb() -> u64 {
    let line = BOOT.lines().find(|l| l.contains("Memory: ")).unwrap();
    let rest = &line[line.find("Memory: ").unwrap() + 8..];
    rest[..rest.find('K').unwrap()].parse().unwrap()
}

/// The kB figure before `field` in the boot log's `Memory:` line.
fn memory_kb(field: &str) -> u64 {
    let line = BOOT.lines().find(|l| l.contains("Memory: ")).unwrap();
    let end = line.find(&std::format!("K {field}")).unwrap();
    let start = line[..end].rfind(|c: char| !c.is_ascii_digit()).unwrap() + 1;
    line[start..end].parse().unwrap()
}

/// `key`'s value in the first zone block of a zoneinfo transcript.
fn zone_value(zoneinfo: &str, key: &str) -> u64 {
    zoneinfo
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} not in the sample"))
}

fn meminfo_kb(field: &str) -> u64 {
    let line = PROC.lines().find(|l| l.starts_with(&std::format!("{field}:"))).unwrap();
    line[field.len() + 1..].trim().trim_end_matches(" kB").trim().parse().unwrap()
}

/// The sample's DMA zone block of /proc/zoneinfo (its transcript has CRLF line ends).
fn sample_dma_block() -> String {
    let zi = PROC.replace("\r\n", "\n");
    let start = zi.find("Node 0, zone      DMA\n  per-node stats").unwrap();
    let end = zi[start..].find("/ # ").unwrap();
    zi[start..start + end].into()
}

/// Debian's armmp 6.1 on the 3G raspi2b: the DMA zone's `min`, `low`, `high`,
/// `protection`, `spanned`, `present`, `managed` and `cma` lines as pivm computes them from
/// the sample's page counts, line for line.
///
/// `init_per_zone_wmark_min` runs at postcore_initcall, after the CMA area joined HighMem
/// (core_initcall) and before the kernel's init memory is freed: lowmem then managed what
/// the boot log's `Memory:` line shows free minus highmem. The dump came later, when
/// the zone managed more (`managed` in zoneinfo).
#[test]
fn watermarks_and_reserves_of_the_debian_sample() {
    let k = |kb: u64| kb / 4;
    let lowmem_at_postcore = k(memory_free_kb() - memory_kb("highmem"));
    let sample = sample_dma_block();
    let (spanned, managed_at_dump) =
        (zone_value(&sample, "spanned"), zone_value(&sample, "managed"));
    let high_total = k(meminfo_kb("HighTotal"));
    let cma = k(meminfo_kb("CmaTotal"));
    let high_spanned = k(meminfo_kb("HighTotal"));

    // A node laid out as the board: DMA over lowmem, HighMem above, CMA at the top.
    let total = spanned + high_spanned;
    let mut pages = vec![Page::default(); total as usize];
    let zones = Zones {
        dma: Some(PfnRange { start: Pfn(0), end: Pfn(spanned) }),
        normal: PfnRange { start: Pfn(spanned), end: Pfn(spanned) },
        dma32: None,
        highmem: Some(PfnRange { start: Pfn(spanned), end: Pfn(total) }),
    };
    let mut node = Node::new(MemMap::new(&mut pages, Pfn(0)).unwrap(), &zones).unwrap();
    node.free_bootmem_range(Pfn(spanned - lowmem_at_postcore), Pfn(spanned)).unwrap();
    node.free_bootmem_range(Pfn(spanned), Pfn(total - cma)).unwrap();
    // The CMA area joins HighMem before the watermarks are computed (as MIGRATE_CMA
    // pageblocks where the build's pageblocks divide it; their type changes no mark).
    node.add_totalcma_pages(cma);
    if cma.is_multiple_of(PAGEBLOCK_NR_PAGES) {
        node.cma_activate_area(Pfn(total - cma), cma).unwrap();
    } else {
        node.free_bootmem_range(Pfn(total - cma), Pfn(total)).unwrap();
    }
    assert_eq!(node.zones()[crate::mm::zone::ZoneType::HighMem.idx()].managed_pages(), high_total);
    node.set_nr_cpus(4);
    node.init_per_zone_wmark_min();
    // Later, the init memory and initramfs are freed.
    node.free_bootmem_range(Pfn(spanned - managed_at_dump), Pfn(spanned - lowmem_at_postcore))
        .unwrap();
    node.verify().unwrap();

    let mut out = String::new();
    zoneinfo::render(&mut out, &node_snapshot(&node, NodeStats::default())).unwrap();
    let ours_start = out.find("Node 0, zone      DMA").unwrap();
    let ours = &out[ours_start..];
    for key in ["min", "low", "high", "spanned", "present", "managed", "cma", "protection:"] {
        let line = |t: &str| -> String {
            t.lines().find(|l| l.trim_start().starts_with(&std::format!("{key} "))).unwrap().into()
        };
        assert_eq!(line(ours), line(&sample), "{key}");
    }
}

/// The per-CPU limits and vmstat threshold of a 6.1 zone: the arm64 sample of the same
/// kernel version is the one whose transcript shows pagesets (4 CPUs online). pivm's
/// formulas, fed its managed pages and low watermark, give its `high`, `batch` and `vm stats
/// threshold`.
#[test]
fn pcp_high_batch_and_threshold_of_the_arm64_sample() {
    let managed = zone_value(ARM64_ZONEINFO, "managed");
    let low = zone_value(ARM64_ZONEINFO, "low");
    let cpus = ARM64_ZONEINFO.matches("cpu: ").count() as u64;
    let batch = zone_batchsize(managed).max(1);
    assert_eq!(batch, zone_value(ARM64_ZONEINFO, "batch:"));
    assert_eq!(zone_highsize(low, batch, cpus), zone_value(ARM64_ZONEINFO, "high:"));
    assert_eq!(
        calculate_normal_threshold(managed, cpus),
        zone_value(ARM64_ZONEINFO, "vm stats threshold:")
    );
}
