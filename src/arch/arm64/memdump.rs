//! arm64's layout as `memdump` prints it (`proc::memdump`'s records, format version 1 with
//! 64-bit addresses): the user half, the linear map of all RAM (kind `lowmem`: there is no
//! highmem) and its unused rest, modules, the vmalloc area with the kernel image's sections
//! inside it (their frames from where the loader put the image), fixmap, PCI I/O and vmemmap;
//! the header's split is `va48` or `va39`. Pure: tested on the host for both VA sizes.
use alloc::format;
use alloc::vec::Vec;

use super::layout::{Layout, Sections};
use crate::proc::memdump::{DumpLayout, Region, RegionKind};

/// The regions by address. `load_pa` is the image's physical load address (`kimage_voffset`
/// is `KIMAGE_VADDR - load_pa`).
pub fn regions(l: &Layout, s: &Sections, load_pa: u64) -> Vec<Region> {
    let r = |name, kind, start: u64, end: u64| Region { name, kind, start, end, phys: None };
    let linear_start = l.phys_to_virt(l.ram_start).unwrap_or(l.page_offset);
    let mut linear = r("linear", RegionKind::Lowmem, linear_start, l.high_memory);
    linear.phys = Some(l.ram_start);
    let mut v = alloc::vec![
        r("user", RegionKind::User, 0, l.task_size),
        linear,
        r("linear-unused", RegionKind::Hole, l.high_memory, l.page_end),
        r("modules", RegionKind::Modules, l.modules_vaddr, l.modules_end),
        r("vmalloc", RegionKind::Vmalloc, l.vmalloc_start, l.vmalloc_end),
        r("fixmap", RegionKind::Fixmap, l.fixaddr_start, l.fixaddr_top),
        r("pci_io", RegionKind::PciIo, l.pci_io_start, l.pci_io_end),
        r("vmemmap", RegionKind::Vmemmap, l.vmemmap_start, l.vmemmap_end),
    ];
    for (name, start, end) in [
        (".text", s.text, s.etext),
        (".rodata", s.start_rodata, s.end_rodata),
        (".init", s.init_begin, s.init_end),
        (".data", s.sdata, s.edata),
        (".bss", s.bss_start, s.bss_stop),
    ] {
        let mut sec = r(name, RegionKind::Section, start, end);
        sec.phys = Some(l.kimage_pa(start, load_pa));
        v.push(sec);
    }
    v.retain(|r| r.end > r.start);
    v.sort_by_key(|r| (r.start, core::cmp::Reverse(r.end)));
    v
}

/// The header's layout: `va48`/`va39` for the split, RAM, no carve-outs, the vmalloc range.
pub fn dump_layout(l: &Layout) -> DumpLayout {
    DumpLayout {
        split: format!("va{}", l.va_bits),
        page_offset: l.page_offset,
        profile: l.profile,
        ram: alloc::vec![(l.ram_start, l.ram_end)],
        carveouts: Vec::new(),
        vmalloc: (l.vmalloc_start, l.vmalloc_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image as the linker places it: 2 MiB of text at KIMAGE_VADDR, then the rest.
    fn sections(l: &Layout) -> Sections {
        let k = l.kimage_vaddr;
        Sections {
            text: k,
            etext: k + 0x20_0000,
            start_rodata: k + 0x20_0000,
            end_rodata: k + 0x28_0000,
            init_begin: k + 0x28_0000,
            init_end: k + 0x29_0000,
            sdata: k + 0x29_0000,
            edata: k + 0x2a_0000,
            bss_start: k + 0x2a_0000,
            bss_stop: k + 0x40_0000,
            end: k + 0x40_0000,
        }
    }

    #[test]
    fn arm64dbg_regions_cover_both_va_sizes_in_address_order() {
        for va_bits in [39, 48] {
            let l = Layout::new(va_bits, 0, 0x3c00_0000).unwrap();
            let rs = regions(&l, &sections(&l), 0x8_0000);
            let names: Vec<_> = rs.iter().map(|r| r.name).collect();
            assert_eq!(
                names,
                [
                    "user",
                    "linear",
                    "linear-unused",
                    "modules",
                    "vmalloc",
                    ".text",
                    ".rodata",
                    ".init",
                    ".data",
                    ".bss",
                    "fixmap",
                    "pci_io",
                    "vmemmap"
                ],
                "VA_BITS={va_bits}"
            );
            assert_eq!(rs[0].end, 1 << va_bits);
            assert_eq!(
                (rs[1].start, rs[1].end, rs[1].phys),
                (l.page_offset, l.high_memory, Some(0))
            );
            // The image's text is where the loader put it, not in the linear map.
            let text = &rs[5];
            assert_eq!((text.start, text.phys), (l.kimage_vaddr, Some(0x8_0000)));
            assert!(rs.windows(2).all(|w| w[0].start <= w[1].start));
            let d = dump_layout(&l);
            assert_eq!(d.split, format!("va{va_bits}"));
            assert_eq!(d.vmalloc.1 - d.vmalloc.0, l.vmalloc_size());
        }
    }
}
