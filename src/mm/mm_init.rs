//! What every architecture's boot prints about memory once the zones are known, as Linux's
//! `mm/mm_init.c` (`free_area_init()`'s zone report, `mem_init_print_info()`) prints it, and
//! the zone spans themselves: the architecture computes them, the page allocator uses them.
use core::fmt::{self, Write};

use crate::boot::info::MemBank;
use crate::mm::{Pfn, PhysAddr, PAGE_SHIFT};
use crate::sizes::SZ_1K;

/// A half-open range of page frames `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PfnRange {
    pub start: Pfn,
    pub end: Pfn,
}

impl PfnRange {
    pub fn pages(&self) -> u64 {
        self.end.0.saturating_sub(self.start.0)
    }

    pub fn is_empty(&self) -> bool {
        self.pages() == 0
    }
}

/// The zone spans `free_area_init` is given, as Linux prints them in "Zone ranges:". Which
/// zones are `Some` is the kernel's configuration (CONFIG_ZONE_DMA, CONFIG_ZONE_DMA32,
/// CONFIG_HIGHMEM), so it also gives the node its zone list ([`Zones::max_nr_zones`]): a
/// configured zone may be empty, an unconfigured one does not exist for the reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Zones {
    /// Only with CONFIG_ZONE_DMA.
    pub dma: Option<PfnRange>,
    /// Only with CONFIG_ZONE_DMA32 (64-bit kernels).
    pub dma32: Option<PfnRange>,
    pub normal: PfnRange,
    /// Only with CONFIG_HIGHMEM (then possibly empty).
    pub highmem: Option<PfnRange>,
}

impl Zones {
    /// One Normal zone over PFNs `[0, pages)` (host tests' node).
    #[cfg(test)]
    pub const fn normal_only(pages: u64) -> Zones {
        Zones {
            dma: None,
            dma32: None,
            normal: PfnRange { start: super::Pfn(0), end: super::Pfn(pages) },
            highmem: None,
        }
    }

    /// The spans in `enum zone_type` order (DMA, DMA32, Normal, HighMem, Movable), `None` for
    /// a zone this configuration lacks. ZONE_MOVABLE always exists in 6.1; without
    /// `kernelcore=`/`movablecore=` it is empty.
    pub fn spans(&self) -> [Option<PfnRange>; crate::mm::zone::MAX_NR_ZONES] {
        [self.dma, self.dma32, Some(self.normal), self.highmem, Some(PfnRange::default())]
    }

    /// Linux's `MAX_NR_ZONES` for this configuration: Normal and Movable, plus each of DMA,
    /// DMA32 and HighMem that is configured.
    pub fn max_nr_zones(&self) -> usize {
        self.spans().iter().filter(|s| s.is_some()).count()
    }
}

/// `[mem 0x...-0x...]` with an inclusive end, as `%#018Lx`.
fn mem_range(w: &mut impl Write, start: u64, end_exclusive: u64) -> fmt::Result {
    write!(w, "[mem {start:#018x}-{:#018x}]", end_exclusive.saturating_sub(1))
}

/// Linux's `free_area_init()` report: "Zone ranges:", movable zones, early node ranges and
/// "Initmem setup node 0", for the zones and memblock's memory (sorted). RAM below
/// `nomap_end` is a separate NOMAP memblock region, so Linux lists it on its own line.
pub fn write_zone_ranges(
    w: &mut impl Write,
    zones: &Zones,
    ram: &[MemBank],
    nomap_end: PhysAddr,
) -> fmt::Result {
    let addr = |p: Pfn| p.0 << PAGE_SHIFT;
    writeln!(w, "Zone ranges:")?;
    let zones = [
        ("DMA", zones.dma),
        ("DMA32", zones.dma32),
        ("Normal", Some(zones.normal)),
        ("HighMem", zones.highmem),
    ];
    for (name, zone) in zones {
        let Some(zone) = zone else { continue };
        write!(w, "  {name:<8} ")?;
        if zone.is_empty() {
            writeln!(w, "empty")?;
        } else {
            mem_range(w, addr(zone.start), addr(zone.end))?;
            writeln!(w)?;
        }
    }
    writeln!(w, "Movable zone start for each node")?;
    writeln!(w, "Early memory node ranges")?;
    for bank in ram {
        let split = nomap_end.0.clamp(bank.start.0, bank.end());
        for (start, end) in [(bank.start.0, split), (split, bank.end())] {
            if start < end {
                write!(w, "  node   0: ")?;
                mem_range(w, start, end)?;
                writeln!(w)?;
            }
        }
    }
    write!(w, "Initmem setup node 0 ")?;
    match (ram.first(), ram.last()) {
        (Some(first), Some(last)) => mem_range(w, first.start.0, last.end())?,
        _ => write!(w, "[mem {:#018x}-{:#018x}]", 0, 0)?,
    }
    writeln!(w)
}

/// `memmap_init()`'s report of the page frames no memory backs inside the node's memory
/// map: holes before each memory range (given to the zone of the range that follows) and,
/// with SPARSEMEM, the tail up to the end of the last memory section (given to the zone of
/// the last range), as "On node 0, zone NAME: N pages in unavailable ranges". `ranges` are
/// memblock's memory ranges as PFNs, sorted; `section_pages` is `PAGES_PER_SECTION` (None
/// for FLATMEM, which has no tail).
pub fn write_unavailable_ranges(
    w: &mut impl Write,
    zones: &Zones,
    ranges: &[PfnRange],
    section_pages: Option<u64>,
) -> fmt::Result {
    let zone_of = |pfn: Pfn| {
        let spans = zones.spans();
        let found = crate::mm::zone::ZoneType::ALL
            .into_iter()
            .zip(spans)
            .find(|(_, s)| s.is_some_and(|s| !s.is_empty() && s.start <= pfn && pfn < s.end));
        found.map_or("Normal", |(t, _)| t.name())
    };
    let report = |w: &mut dyn Write, zone: &str, pages: u64| -> fmt::Result {
        if pages > 0 {
            writeln!(w, "On node 0, zone {zone}: {pages} pages in unavailable ranges")?;
        }
        Ok(())
    };
    let mut hole = 0u64;
    let mut last_zone = None;
    for r in ranges.iter().filter(|r| !r.is_empty()) {
        report(w, zone_of(r.start), r.start.0.saturating_sub(hole))?;
        hole = r.end.0;
        last_zone = Some(zone_of(Pfn(r.end.0 - 1)));
    }
    if let (Some(zone), Some(section)) = (last_zone, section_pages) {
        report(w, zone, hole.next_multiple_of(section) - hole)?;
    }
    Ok(())
}

/// Numbers for the "Memory:" line: page counts in pages, section sizes in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryLine {
    /// `nr_free_pages()`.
    pub free_pages: u64,
    /// `get_num_physpages()`: all present RAM pages.
    pub physpages: u64,
    /// `totalram_pages()`: pages handed to the page allocator.
    pub totalram_pages: u64,
    /// `totalcma_pages`.
    pub cma_pages: u64,
    /// `totalhigh_pages()`.
    pub highmem_pages: u64,
    /// `_etext - _stext`, `_edata - _sdata`, `__end_rodata - __start_rodata`, init code +
    /// data, `__bss_stop - __bss_start`, in bytes.
    pub code: u64,
    pub rwdata: u64,
    pub rodata: u64,
    pub init: u64,
    pub bss: u64,
    /// CONFIG_HIGHMEM: adds the `, ...K highmem` field.
    pub highmem: bool,
}

/// Linux's `mem_init_print_info()` line (3.19+ format, with cma-reserved).
pub fn write_memory_line(w: &mut impl Write, m: &MemoryLine) -> fmt::Result {
    let k = |pages: u64| pages << (PAGE_SHIFT - 10);
    let reserved = m.physpages.saturating_sub(m.totalram_pages).saturating_sub(m.cma_pages);
    write!(
        w,
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, \
         {}K reserved, {}K cma-reserved",
        k(m.free_pages),
        k(m.physpages),
        m.code / SZ_1K,
        m.rwdata / SZ_1K,
        m.rodata / SZ_1K,
        m.init / SZ_1K,
        m.bss / SZ_1K,
        k(reserved),
        k(m.cma_pages),
    )?;
    if m.highmem {
        write!(w, ", {}K highmem", k(m.highmem_pages))?;
    }
    writeln!(w, ")")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    /// The arm64 reference (960 MiB from 0, 128 MiB sections): the last section's 64 MiB
    /// beyond RAM are unavailable, given to DMA. FLATMEM or a section-sized RAM reports none;
    /// a hole between two ranges goes to the zone above it.
    #[test]
    fn unavailable_ranges_as_memmap_init_counts_them() {
        let span = |a: u64, b: u64| PfnRange { start: Pfn(a), end: Pfn(b) };
        let zones = Zones {
            dma: Some(span(0, 0x3c000)),
            dma32: Some(span(0x3c000, 0x3c000)),
            normal: span(0x3c000, 0x3c000),
            highmem: None,
        };
        let mut s = String::new();
        write_unavailable_ranges(&mut s, &zones, &[span(0, 0x3c000)], Some(0x8000)).unwrap();
        assert_eq!(s, "On node 0, zone DMA: 16384 pages in unavailable ranges\n");
        s.clear();
        write_unavailable_ranges(&mut s, &zones, &[span(0, 0x3c000)], None).unwrap();
        write_unavailable_ranges(&mut s, &zones, &[span(0, 0x40000)], Some(0x8000)).unwrap();
        assert_eq!(s, "");
        let zones = Zones { dma: None, dma32: None, normal: span(0, 0x9000), highmem: None };
        write_unavailable_ranges(&mut s, &zones, &[span(0, 0x1000), span(0x8000, 0x9000)], None)
            .unwrap();
        assert_eq!(s, "On node 0, zone Normal: 28672 pages in unavailable ranges\n");
    }

    #[test]
    fn memory_line_matches_the_debian_sample() {
        let k = |kib: u64| kib * SZ_1K;
        let m = MemoryLine {
            free_pages: 887_296 / 4,
            physpages: 983_040 / 4,
            totalram_pages: (983_040 - 30_208 - 65_536) / 4,
            cma_pages: 65_536 / 4,
            highmem_pages: 131_072 / 4,
            code: k(11_264),
            rwdata: k(1_700) + 100,
            rodata: k(3_732),
            init: k(2_048),
            bss: k(377) + 1023,
            highmem: true,
        };
        let mut s = String::new();
        write_memory_line(&mut s, &m).unwrap();
        assert_eq!(
            s,
            "Memory: 887296K/983040K available (11264K kernel code, 1700K rwdata, 3732K rodata, 2048K init, \
             377K bss, 30208K reserved, 65536K cma-reserved, 131072K highmem)\n"
        );
        let mut s = String::new();
        write_memory_line(&mut s, &MemoryLine { highmem: false, ..m }).unwrap();
        assert!(s.ends_with("30208K reserved, 65536K cma-reserved)\n"));
    }

    #[test]
    fn zone_ranges_list_a_nomap_head_apart() {
        let mb = |m: u64| m << 20;
        let pfn = |m: u64| Pfn(mb(m) >> PAGE_SHIFT);
        let zones = Zones {
            dma: Some(PfnRange { start: pfn(1), end: pfn(1) }),
            normal: PfnRange { start: pfn(1), end: pfn(768) },
            dma32: None,
            highmem: Some(PfnRange { start: pfn(768), end: pfn(960) }),
        };
        let ram = [MemBank { start: PhysAddr(mb(1)), size: mb(959) }];
        let mut s = String::new();
        write_zone_ranges(&mut s, &zones, &ram, PhysAddr(mb(2))).unwrap();
        assert_eq!(
            s,
            "Zone ranges:\n\
             \x20 DMA      empty\n\
             \x20 Normal   [mem 0x0000000000100000-0x000000002fffffff]\n\
             \x20 HighMem  [mem 0x0000000030000000-0x000000003bffffff]\n\
             Movable zone start for each node\n\
             Early memory node ranges\n\
             \x20 node   0: [mem 0x0000000000100000-0x00000000001fffff]\n\
             \x20 node   0: [mem 0x0000000000200000-0x000000003bffffff]\n\
             Initmem setup node 0 [mem 0x0000000000100000-0x000000003bffffff]\n"
        );
    }
}
