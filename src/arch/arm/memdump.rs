//! The 32-bit layout as `memdump` prints it (`proc::memdump`'s records): the regions of the
//! address space by address, and the header's split, RAM, carve-outs and vmalloc range. Pure,
//! so the host tests render a computed layout of each profile.
use alloc::string::String;
use alloc::vec::Vec;

use super::layout::{KernelSections, Layout};
use crate::proc::memdump::{Carveout, DumpLayout, Region, RegionKind, PAGE_BYTES};

/// The regions of the address space as the layout computed them, by address: the user half,
/// modules, pkmap, lowmem with the image's sections inside it, vmalloc, the profile's unused
/// VA, fixmap and the vector page.
pub fn regions(l: &Layout, s: &KernelSections) -> Vec<Region> {
    let r = |name, kind, start: u64, end: u64| Region { name, kind, start, end, phys: None };
    let mut v = alloc::vec![
        r("user", RegionKind::User, 0, l.task_size.as_u64()),
        r("modules", RegionKind::Modules, l.modules_vaddr.as_u64(), l.modules_end.as_u64()),
    ];
    if let (Some(b), Some(e)) = (l.pkmap_base, l.pkmap_end()) {
        v.push(r("pkmap", RegionKind::Pkmap, b.as_u64(), e.as_u64()));
    }
    let linear = |va: u64| l.virt_to_phys(crate::mm::VirtAddr(va as usize)).map(|p| p.0);
    let mut low = r("lowmem", RegionKind::Lowmem, l.page_offset.as_u64(), l.high_memory.as_u64());
    low.phys = linear(low.start);
    v.push(low);
    for (name, (start, end)) in
        [(".text", s.text), (".init", s.init), (".data", s.data), (".bss", s.bss)]
    {
        let mut sec = r(name, RegionKind::Section, start, end);
        sec.phys = linear(start);
        v.push(sec);
    }
    v.push(r("vmalloc", RegionKind::Vmalloc, l.vmalloc_start.as_u64(), l.vmalloc_end.as_u64()));
    for h in l.holes() {
        v.push(r(h.name, RegionKind::Hole, h.start.as_u64(), h.end.as_u64()));
    }
    v.push(r("fixmap", RegionKind::Fixmap, l.fixaddr_start.as_u64(), l.fixaddr_end.as_u64()));
    let vectors = l.vectors_base.as_u64();
    v.push(r("vectors", RegionKind::Vectors, vectors, vectors + PAGE_BYTES));
    v.sort_by_key(|r| (r.start, core::cmp::Reverse(r.end)));
    v
}

/// The header's layout: the split's name, RAM banks, the profile's carve-outs (with their
/// linear address when lowmem) and the vmalloc range.
pub fn dump_layout(l: &Layout, split: &str) -> DumpLayout {
    DumpLayout {
        split: String::from(split),
        page_offset: l.page_offset.as_u64(),
        profile: l.profile,
        ram: l.ram().iter().map(|b| (b.start.0, b.end())).collect(),
        carveouts: l
            .carveouts()
            .iter()
            .map(|c| Carveout {
                name: c.name,
                phys: c.start.0,
                phys_end: c.end().0,
                va: l.phys_to_virt(c.start).map(|v| v.as_u64()),
            })
            .collect(),
        vmalloc: (l.vmalloc_start.as_u64(), l.vmalloc_end.as_u64()),
    }
}
