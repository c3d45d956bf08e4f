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

/// The zone spans `free_area_init` is given, as Linux prints them in "Zone ranges:".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Zones {
    /// Only with a DMA zone configured.
    pub dma: Option<PfnRange>,
    pub normal: PfnRange,
    /// Only with CONFIG_HIGHMEM (then possibly empty).
    pub highmem: Option<PfnRange>,
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
    let zones = [("DMA", zones.dma), ("Normal", Some(zones.normal)), ("HighMem", zones.highmem)];
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
