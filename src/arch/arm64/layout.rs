//! The arm64 kernel's virtual memory layout for one `VA_BITS`, the RAM the boot found and the
//! kernel image's sections, with its boot-log renderers: arm64 6.1's "Zone ranges:" (DMA,
//! DMA32, Normal) and, as pivm's own labelled addition, the layout banner in the format arm64
//! Linux last printed (4.15's `mem_init`, removed in 4.16 by commit 071929dbdd86).
use core::fmt::{self, Write};

use super::memory as m;
use crate::mm::mm_init::{PfnRange, Zones};
use crate::mm::page_alloc::LinearMap;
use crate::mm::{Pfn, PhysAddr, VirtAddr, PAGE_SHIFT};
use crate::sizes::{SZ_1G, SZ_1K, SZ_1M};

/// arm64 has no high memory (`CONFIG_HIGHMEM` is 32-bit only): every page frame is in the
/// linear map, `kmap` is `page_address`, and /proc/meminfo has no `HighTotal` lines.
pub const CONFIG_HIGHMEM: bool = false;

/// The kernel image's section boundaries (virtual, ends exclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    pub text: u64,
    pub etext: u64,
    pub start_rodata: u64,
    pub end_rodata: u64,
    pub init_begin: u64,
    pub init_end: u64,
    pub sdata: u64,
    pub edata: u64,
    pub bss_start: u64,
    pub bss_stop: u64,
    pub end: u64,
}

/// One region of the layout: name and half-open virtual range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub start: u64,
    pub end: u64,
}

/// The whole layout, computed by [`Layout::new`] exactly as `memory.h` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub va_bits: u32,
    pub levels: u32,
    pub page_offset: u64,
    pub page_end: u64,
    pub modules_vaddr: u64,
    pub modules_end: u64,
    pub kimage_vaddr: u64,
    pub vmalloc_start: u64,
    pub vmalloc_end: u64,
    pub fixaddr_start: u64,
    pub fixaddr_top: u64,
    pub pci_io_start: u64,
    pub pci_io_end: u64,
    pub vmemmap_start: u64,
    pub vmemmap_end: u64,
    pub task_size: u64,
    /// `memstart_addr`: the physical address the linear map starts at (RAM's start rounded
    /// down to the linear map's granule; 0 on the Pi 3).
    pub memstart_addr: u64,
    /// RAM `[ram_start, ram_end)` as the boot reported it.
    pub ram_start: u64,
    pub ram_end: u64,
    /// `high_memory`: the linear-map address of the end of RAM (there is no highmem).
    pub high_memory: u64,
    /// `zone_dma_bits`: how far ZONE_DMA reaches (from the device tree's `dma-ranges`;
    /// 32 until `with_zone_dma_bits` says otherwise).
    pub zone_dma_bits: u32,
    /// The memory-layout profile's name, as the 32-bit layout has one: arm64 has no
    /// profiles, only Linux's layout for the VA size (`linux-va48`, `linux-va39`).
    pub profile: &'static str,
    /// `mem=`'s `memory_limit` as `arm64_memblock_init` applied it (None: no limit, or one
    /// not below the RAM there is); `[ram_start, ram_end)` then spans what it kept.
    pub memory_limit: Option<MemLimit>,
}

/// What arm64's `mem=` leaves of RAM (`arm64_memblock_init`): the first `limit` bytes
/// (`memblock_mem_limit_remove_map`), the kernel image always (`memblock_add(_text..._end)`),
/// and the initrd added back when the bootloader put it above the limit but within the
/// linear map's reach, so memory may have a hole between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemLimit {
    /// `memory_limit` (page-aligned).
    pub limit: u64,
    /// The end of the memory kept from RAM's start.
    pub kept_end: u64,
    /// The initrd's pages `[start, end)` added back above `kept_end`.
    pub initrd: Option<(u64, u64)>,
}

/// `arm64_memblock_init`'s `mem=` handling for RAM `[ram_start, ram_end)`, a kernel image
/// ending at `kernel_end` and the initrd `[start, end)`: None when the limit keeps all RAM.
/// Linux adds the initrd back only within the linear map's reach (else it drops the initrd
/// with a warning); RAM the firmware reported always is within it (`Layout::new` checks),
/// so an initrd in RAM is always added back and one outside it never.
pub fn memory_limit(
    ram_start: u64,
    ram_end: u64,
    limit: u64,
    kernel_end: u64,
    initrd: Option<(u64, u64)>,
) -> Option<MemLimit> {
    const PAGE: u64 = 1 << 12;
    let limit = limit & !(PAGE - 1);
    if limit >= ram_end - ram_start {
        return None;
    }
    let kept_end = (ram_start + limit).max((kernel_end + PAGE - 1) & !(PAGE - 1)).min(ram_end);
    let initrd = initrd.and_then(|(start, end)| {
        let (base, top) = (start & !(PAGE - 1), (end + PAGE - 1) & !(PAGE - 1));
        (base >= ram_start && top <= ram_end && top > kept_end).then_some((base.max(kept_end), top))
    });
    Some(MemLimit { limit, kept_end, initrd })
}

/// Why a layout cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// Only 39 and 48 are built.
    VaBits(u32),
    /// RAM does not fit in the linear map (half of the TTBR1 range).
    RamTooLarge {
        ram_end: u64,
        linear_size: u64,
    },
    EmptyRam,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::VaBits(v) => write!(f, "VA_BITS={v}: expected 39 or 48"),
            LayoutError::RamTooLarge { ram_end, linear_size } => {
                write!(f, "RAM ends at {ram_end:#x}, beyond the {linear_size:#x}-byte linear map")
            }
            LayoutError::EmptyRam => write!(f, "no RAM"),
        }
    }
}

/// The linear map is placed on a 1 GiB boundary of RAM (`ARM64_MEMSTART_ALIGN` with 4 KiB
/// pages and 4 levels is 1 GiB; 3 levels use the same, PUD_SIZE).
pub const ARM64_MEMSTART_ALIGN: u64 = SZ_1G;

impl Layout {
    /// The layout for `va_bits` with RAM `[ram_start, ram_end)`.
    pub fn new(va_bits: u32, ram_start: u64, ram_end: u64) -> Result<Layout, LayoutError> {
        if !m::VA_BITS_CHOICES.contains(&va_bits) {
            return Err(LayoutError::VaBits(va_bits));
        }
        if ram_end <= ram_start {
            return Err(LayoutError::EmptyRam);
        }
        let page_offset = m::page_offset(va_bits);
        let page_end = m::page_end(va_bits);
        let memstart_addr = ram_start & !(ARM64_MEMSTART_ALIGN - 1);
        let linear_size = page_end - page_offset;
        if ram_end - memstart_addr > linear_size {
            return Err(LayoutError::RamTooLarge { ram_end, linear_size });
        }
        let vmemmap_start = m::vmemmap_start(va_bits);
        Ok(Layout {
            va_bits,
            levels: m::pgtable_levels(va_bits),
            page_offset,
            page_end,
            modules_vaddr: m::modules_vaddr(va_bits),
            modules_end: m::modules_end(va_bits),
            kimage_vaddr: m::kimage_vaddr(va_bits),
            vmalloc_start: m::vmalloc_start(va_bits),
            vmalloc_end: m::vmalloc_end(va_bits),
            fixaddr_start: m::fixaddr_start(va_bits),
            fixaddr_top: m::fixaddr_top(va_bits),
            pci_io_start: m::pci_io_start(va_bits),
            pci_io_end: m::pci_io_end(va_bits),
            vmemmap_start,
            vmemmap_end: vmemmap_start + m::vmemmap_size(va_bits),
            task_size: m::task_size(va_bits),
            memstart_addr,
            ram_start,
            ram_end,
            high_memory: page_offset + (ram_end - memstart_addr),
            zone_dma_bits: zone_dma_bits(None),
            profile: if va_bits == 48 { "linux-va48" } else { "linux-va39" },
            memory_limit: None,
        })
    }

    /// The layout of what `mem=`'s limit keeps (`memory_limit`): RAM up to the end of the
    /// initrd added back, or of the memory kept.
    pub fn with_memory_limit(self, lim: MemLimit) -> Result<Layout, LayoutError> {
        let end = lim.initrd.map_or(lim.kept_end, |(_, e)| e);
        let l = Layout::new(self.va_bits, self.ram_start, end)?;
        Ok(Layout { zone_dma_bits: self.zone_dma_bits, memory_limit: Some(lim), ..l })
    }

    /// The ranges of memory memblock gets: all of RAM, or what `mem=` kept.
    pub fn memory_ranges(&self) -> impl Iterator<Item = (u64, u64)> {
        let kept = self.memory_limit.map_or(self.ram_end, |l| l.kept_end);
        let initrd = self.memory_limit.and_then(|l| l.initrd);
        core::iter::once((self.ram_start, kept)).chain(initrd)
    }

    /// The same layout with ZONE_DMA reaching `bits` address bits.
    pub fn with_zone_dma_bits(self, bits: u32) -> Layout {
        Layout { zone_dma_bits: bits, ..self }
    }

    /// `[VMALLOC_START, VMALLOC_END)` (facade name).
    pub fn vmalloc_range(&self) -> (u64, u64) {
        (self.vmalloc_start, self.vmalloc_end)
    }

    /// What /proc/meminfo's `VmallocUsed`/`VmallocChunk` mean: 6.1's vmalloc'ed pages and 0.
    pub fn vmalloc_meminfo(&self) -> crate::mm::era::VmallocMeminfo {
        crate::mm::era::VmallocMeminfo::NrPages
    }

    /// RAM `[start, end)`, for the node's `mem_map` (facade name, as on ARMv7).
    pub fn ram_range(&self) -> (PhysAddr, PhysAddr) {
        (PhysAddr(self.ram_start), PhysAddr(self.ram_end))
    }

    /// The end of memory the linear map covers (ARMv7's `arm_lowmem_limit`): all of RAM.
    pub fn lowmem_limit(&self) -> PhysAddr {
        PhysAddr(self.ram_end)
    }

    /// The linear map's offsets for the page allocator (`page_address`, `virt_to_page`).
    pub fn linear_map(&self) -> LinearMap {
        LinearMap {
            page_offset: VirtAddr(self.page_offset as usize),
            phys_offset: PhysAddr(self.memstart_addr),
        }
    }

    /// `__va` of a RAM address as the facade's typed addresses (None outside RAM).
    pub fn linear_va(&self, pa: PhysAddr) -> Option<VirtAddr> {
        self.phys_to_virt(pa.0).map(|va| VirtAddr(va as usize))
    }

    /// The ceiling kmalloc serves (None: Linux's `KMALLOC_MAX_SIZE`; arm64 models 6.1 only).
    pub fn kmalloc_max_size(&self) -> Option<u64> {
        None
    }

    /// The node's zones: arm64 6.1's configuration (CONFIG_ZONE_DMA, CONFIG_ZONE_DMA32, no
    /// HIGHMEM) with the spans `zone_sizes_init` computes ([`Layout::zones`]): on the Pi 3 all
    /// RAM is DMA, DMA32 and Normal are empty.
    pub fn node_zones(&self) -> Zones {
        let z = self.zones(self.zone_dma_bits);
        let range = |(s, e): (u64, u64)| {
            let start = Pfn(s >> PAGE_SHIFT);
            PfnRange { start, end: Pfn((e >> PAGE_SHIFT).max(start.0)) }
        };
        Zones {
            dma: Some(range(z.dma)),
            dma32: Some(range(z.dma32)),
            normal: range(z.normal),
            highmem: None,
        }
    }

    /// `__phys_to_virt`: linear-map address of a RAM address (None outside RAM).
    pub fn phys_to_virt(&self, pa: u64) -> Option<u64> {
        (self.ram_start..self.ram_end)
            .contains(&pa)
            .then(|| self.page_offset + (pa - self.memstart_addr))
    }

    /// `__virt_to_phys` on the linear map (None outside the mapped RAM).
    pub fn virt_to_phys(&self, va: u64) -> Option<u64> {
        if va < self.page_offset || va >= self.high_memory {
            return None;
        }
        let pa = va - self.page_offset + self.memstart_addr;
        (pa >= self.ram_start).then_some(pa)
    }

    /// Physical address of a kernel-image address (`__pa_symbol`), given where the image was
    /// loaded: `kimage_voffset = KIMAGE_VADDR - load address`.
    pub fn kimage_pa(&self, va: u64, load_pa: u64) -> u64 {
        va - self.kimage_vaddr + load_pa
    }

    /// The regions in address order, for the layout checks and `ptdump`'s section names.
    pub fn regions(&self) -> [Region; 7] {
        [
            Region { name: "Linear Mapping", start: self.page_offset, end: self.page_end },
            Region { name: "Modules", start: self.modules_vaddr, end: self.modules_end },
            Region { name: "vmalloc() area", start: self.vmalloc_start, end: self.vmalloc_end },
            Region { name: "Fixmap", start: self.fixaddr_start, end: self.fixaddr_top },
            Region { name: "PCI I/O", start: self.pci_io_start, end: self.pci_io_end },
            Region { name: "vmemmap", start: self.vmemmap_start, end: self.vmemmap_end },
            Region { name: "User", start: 0, end: self.task_size },
        ]
    }

    /// Which region holds `va` (the kernel image lies inside the vmalloc area, as on arm64).
    pub fn region_of(&self, va: u64) -> Option<&'static str> {
        self.regions().iter().find(|r| (r.start..r.end).contains(&va)).map(|r| r.name)
    }

    /// `/proc/meminfo`'s `VmallocTotal` in bytes.
    pub fn vmalloc_size(&self) -> u64 {
        self.vmalloc_end - self.vmalloc_start
    }

    /// `max_zone_phys()` (arch/arm64/mm/init.c): one past the highest address a zone of
    /// `zone_bits` address bits may hold on this RAM. RAM starting above the zone's mask
    /// widens it to 4 GiB, RAM starting above 4 GiB to everything; never beyond RAM's end.
    pub fn max_zone_phys(&self, zone_bits: u32) -> u64 {
        let mask = if zone_bits >= u64::BITS { u64::MAX } else { (1u64 << zone_bits) - 1 };
        let mask = if self.ram_start > u64::from(u32::MAX) {
            u64::MAX
        } else if self.ram_start > mask {
            u64::from(u32::MAX)
        } else {
            mask
        };
        mask.min(self.ram_end - 1) + 1
    }

    /// arm64's zones for this RAM as 6.1's `zone_sizes_init` and `free_area_init` lay them:
    /// `ZONE_DMA` up to `max_zone_phys(zone_dma_bits)` (from the device tree's `dma-ranges`,
    /// 30 bits on the Pi 3), `ZONE_DMA32` from there up to `max_zone_phys(32)`, `ZONE_NORMAL`
    /// from there to the end of RAM; each zone starts where the one below ended. Physical
    /// `[start, end)`, empty when `start == end`.
    pub fn zones(&self, zone_dma_bits: u32) -> ArmZones {
        let dma_limit = self.max_zone_phys(zone_dma_bits);
        let dma32_limit = self.max_zone_phys(ZONE_DMA32_BITS);
        let dma = (self.ram_start, dma_limit.max(self.ram_start));
        let dma32 = (dma.1, dma32_limit.max(dma.1));
        let normal = (dma32.1, self.ram_end.max(dma32.1));
        ArmZones { dma, dma32, normal }
    }
}

/// `ZONE_DMA32` covers what 32-bit DMA reaches (`DMA_BIT_MASK(32)`).
pub const ZONE_DMA32_BITS: u32 = 32;

/// arm64's three zones (physical `[start, end)`; empty when start >= end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArmZones {
    pub dma: (u64, u64),
    pub dma32: (u64, u64),
    pub normal: (u64, u64),
}

/// `zone_dma_bits` from the highest CPU address a device can reach (`fls64` of the device
/// tree's `dma-ranges` limit), capped at 32 as arm64 6.1's `arm64_memblock_init` does.
pub fn zone_dma_bits(max_dma_cpu_addr: Option<u64>) -> u32 {
    match max_dma_cpu_addr {
        Some(a) => (u64::BITS - a.leading_zeros()).min(32),
        None => 32,
    }
}

/// arm64 6.1's "Zone ranges:" block (zone names and `%#018Lx` ranges), then the early node
/// ranges and "Initmem setup node 0", for one RAM bank.
pub fn write_zone_ranges(w: &mut impl Write, zones: &ArmZones, ram: (u64, u64)) -> fmt::Result {
    writeln!(w, "Zone ranges:")?;
    for (name, (s, e)) in [("DMA", zones.dma), ("DMA32", zones.dma32), ("Normal", zones.normal)] {
        if s < e {
            writeln!(w, "  {name:<8} [mem {s:#018x}-{:#018x}]", e - 1)?;
        } else {
            writeln!(w, "  {name:<8} empty")?;
        }
    }
    writeln!(w, "Movable zone start for each node")?;
    writeln!(w, "Early memory node ranges")?;
    writeln!(w, "  node   0: [mem {:#018x}-{:#018x}]", ram.0, ram.1 - 1)?;
    writeln!(w, "Initmem setup node 0 [mem {:#018x}-{:#018x}]", ram.0, ram.1 - 1)
}

/// What the banner's vmemmap "actual" line shows: where this kernel's `mem_map` really is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemMapRange {
    pub start: u64,
    pub end: u64,
}

/// The arm64 4.15 "Virtual kernel memory layout:" banner for this layout, labelled as pivm's
/// addition (6.1 prints none). `mem_map` is where the page array lives (pivm's is a memblock
/// allocation in the linear map, not a virtual vmemmap).
pub fn write_banner(
    w: &mut impl Write,
    l: &Layout,
    s: &Sections,
    mem_map: Option<MemMapRange>,
) -> fmt::Result {
    let kb = |a: u64, b: u64| (b - a) / SZ_1K;
    let kb_up = |a: u64, b: u64| (b - a).div_ceil(SZ_1K);
    let mb = |a: u64, b: u64| (b - a) / SZ_1M;
    let gb = |a: u64, b: u64| (b - a) / SZ_1G;
    writeln!(
        w,
        "pivm: arm64 4.15-format layout banner (VA_BITS={}, {} levels):",
        l.va_bits, l.levels
    )?;
    writeln!(w, "Virtual kernel memory layout:")?;
    let (mv, me) = (l.modules_vaddr, l.modules_end);
    writeln!(w, "    modules : {mv:#018x} - {me:#018x}   ({:6} MB)", mb(mv, me))?;
    let (vs, ve) = (l.vmalloc_start, l.vmalloc_end);
    writeln!(w, "    vmalloc : {vs:#018x} - {ve:#018x}   ({:6} GB)", gb(vs, ve))?;
    for (name, a, b) in [
        ("      .text", s.text, s.etext),
        ("    .rodata", s.start_rodata, s.init_begin),
        ("      .init", s.init_begin, s.init_end),
        ("      .data", s.sdata, s.edata),
        ("       .bss", s.bss_start, s.bss_stop),
    ] {
        writeln!(w, "{name} : {a:#018x} - {b:#018x}   ({:6} KB)", kb_up(a, b))?;
    }
    let (fs, ft) = (l.fixaddr_start, l.fixaddr_top);
    writeln!(w, "    fixed   : {fs:#018x} - {ft:#018x}   ({:6} KB)", kb(fs, ft))?;
    let (ps, pe) = (l.pci_io_start, l.pci_io_end);
    writeln!(w, "    PCI I/O : {ps:#018x} - {pe:#018x}   ({:6} MB)", mb(ps, pe))?;
    let (vms, vme) = (l.vmemmap_start, l.vmemmap_end);
    writeln!(w, "    vmemmap : {vms:#018x} - {vme:#018x}   ({:6} GB maximum)", gb(vms, vme))?;
    if let Some(mm) = mem_map {
        writeln!(
            w,
            "              {:#018x} - {:#018x}   ({:6} MB actual)",
            mm.start,
            mm.end,
            mb(mm.start, mm.end)
        )?;
    }
    let lo = l.page_offset + (l.ram_start - l.memstart_addr);
    writeln!(
        w,
        "    memory  : {lo:#018x} - {:#018x}   ({:6} MB)",
        l.high_memory,
        mb(lo, l.high_memory)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    const PI3_RAM: (u64, u64) = (0, 0x3c00_0000);

    /// arm64's `mem=`: the first `limit` bytes, the image always, QEMU's initrd at 128 MiB
    /// added back above a smaller limit (a hole between), none for a limit at or above RAM.
    #[test]
    fn mem_limit_keeps_the_start_the_image_and_the_initrd() {
        const MIB: u64 = 1 << 20;
        let (s, e) = PI3_RAM;
        let kernel_end = 0x0030_0000;
        let rd = Some((128 * MIB + 0x123, 135 * MIB - 5));
        let l = memory_limit(s, e, 48 * MIB + 7, kernel_end, rd).unwrap();
        assert_eq!(l.limit, 48 * MIB);
        assert_eq!(l.kept_end, 48 * MIB);
        assert_eq!(l.initrd, Some((128 * MIB, 135 * MIB)));
        let lay =
            Layout::new(48, s, e).unwrap().with_zone_dma_bits(30).with_memory_limit(l).unwrap();
        assert_eq!((lay.ram_start, lay.ram_end, lay.zone_dma_bits), (0, 135 * MIB, 30));
        let r: std::vec::Vec<_> = lay.memory_ranges().collect();
        assert_eq!(r, [(0, 48 * MIB), (128 * MIB, 135 * MIB)]);
        // An initrd inside the memory kept needs nothing added; none at all is the same.
        let l = memory_limit(s, e, 256 * MIB, kernel_end, rd).unwrap();
        assert_eq!((l.kept_end, l.initrd), (256 * MIB, None));
        assert_eq!(memory_limit(s, e, 256 * MIB, kernel_end, None), Some(l));
        // The image is never cut off; a limit at or above RAM changes nothing.
        let l = memory_limit(s, e, 4096, kernel_end, None).unwrap();
        assert_eq!(l.kept_end, kernel_end);
        assert_eq!(memory_limit(s, e, e, kernel_end, rd), None);
        assert_eq!(memory_limit(s, e, u64::MAX, kernel_end, rd), None);
        let all: std::vec::Vec<_> = Layout::new(48, s, e).unwrap().memory_ranges().collect();
        assert_eq!(all, [PI3_RAM]);
    }

    #[test]
    fn both_va_sizes_build_and_nest() {
        for v in m::VA_BITS_CHOICES {
            let l = Layout::new(v, PI3_RAM.0, PI3_RAM.1).unwrap();
            assert!(l.page_offset < l.high_memory && l.high_memory <= l.page_end);
            assert!(l.page_end <= l.modules_vaddr && l.modules_end <= l.vmalloc_start);
            assert!(l.vmalloc_end < l.fixaddr_start && l.fixaddr_top <= l.pci_io_start);
            assert!(l.pci_io_end <= l.vmemmap_start);
            assert_eq!(
                l.vmemmap_end,
                if v == 48 { 0xfffffe0000000000 } else { 0xffffffff00000000 }
            );
        }
        assert_eq!(Layout::new(42, 0, 1), Err(LayoutError::VaBits(42)));
    }

    #[test]
    fn linear_map_is_page_offset_plus_pa_on_the_pi3() {
        let l = Layout::new(48, PI3_RAM.0, PI3_RAM.1).unwrap();
        // The anchor: 0xffff000037d68a18 <-> PA 0x37d68a18.
        assert_eq!(l.phys_to_virt(0x37d6_8a18), Some(0xffff_0000_37d6_8a18));
        assert_eq!(l.virt_to_phys(0xffff_0000_37d6_8a18), Some(0x37d6_8a18));
        assert_eq!(l.virt_to_phys(l.high_memory), None);
        assert_eq!(l.phys_to_virt(0x3c00_0000), None);
        assert_eq!(l.region_of(0xffff_8000_0801_0000), Some("vmalloc() area"));
        assert_eq!(l.region_of(0x400000), Some("User"));
    }

    /// The reference's zones: `dma-ranges` ends at 0x3effffff, so zone_dma_bits is 30 and
    /// all 960 MiB are DMA; DMA32 and Normal are empty.
    #[test]
    fn pi3_zones_are_all_dma() {
        let l = Layout::new(48, PI3_RAM.0, PI3_RAM.1).unwrap();
        assert_eq!(zone_dma_bits(Some(0x3eff_ffff)), 30);
        let z = l.zones(30);
        assert_eq!(z.dma, (0, 0x3c00_0000));
        assert!(z.dma32.0 >= z.dma32.1 && z.normal.0 >= z.normal.1);
        let mut s = String::new();
        write_zone_ranges(&mut s, &z, PI3_RAM).unwrap();
        let sample = include_str!("../../../tests/samples/linux-6.1-raspi3b-arm64-boot.txt");
        let want: String = sample
            .lines()
            .skip_while(|l| !l.ends_with("Zone ranges:"))
            .take(8)
            .map(|l| l.split_once("] ").unwrap().1)
            .collect::<std::vec::Vec<_>>()
            .join("\n");
        assert_eq!(s.trim_end(), want);
    }

    /// The node gets arm64's zone list (DMA, DMA32, Normal; no HighMem): on the Pi 3 one DMA
    /// zone holds all of the RAM and DMA32 and Normal are empty (the reference's zoneinfo);
    /// with 32-bit DMA (no `dma-ranges`) on 5 GiB, DMA takes the first 4 GiB and Normal the
    /// rest (DMA32 empty, since DMA already reaches 4 GiB).
    #[test]
    fn node_zones_are_dma_dma32_normal() {
        let l = Layout::new(48, PI3_RAM.0, PI3_RAM.1).unwrap().with_zone_dma_bits(30);
        let z = l.node_zones();
        assert_eq!(z.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x3c000) }));
        assert_eq!(z.dma32, Some(PfnRange { start: Pfn(0x3c000), end: Pfn(0x3c000) }));
        assert_eq!(z.normal, PfnRange { start: Pfn(0x3c000), end: Pfn(0x3c000) });
        assert_eq!(z.highmem, None);
        // DMA, DMA32, Normal and Movable: the reference's four zoneinfo blocks.
        assert_eq!(z.max_nr_zones(), 4);
        let big = Layout::new(48, 0, 0x1_4000_0000).unwrap();
        let z = big.node_zones();
        assert_eq!(z.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x10_0000) }));
        assert!(z.dma32.unwrap().is_empty());
        assert_eq!(z.normal, PfnRange { start: Pfn(0x10_0000), end: Pfn(0x14_0000) });
        assert_eq!(big.lowmem_limit(), PhysAddr(0x1_4000_0000));
        assert_eq!(big.linear_va(PhysAddr(0x1000)), Some(VirtAddr(0xffff_0000_0000_1000)));
        assert_eq!(big.linear_map().phys_offset, PhysAddr(0));
        // A 30-bit DMA zone on 5 GiB: DMA 1 GiB, DMA32 up to 4 GiB, Normal above.
        let z = big.with_zone_dma_bits(30).node_zones();
        assert_eq!(z.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x4_0000) }));
        assert_eq!(z.dma32, Some(PfnRange { start: Pfn(0x4_0000), end: Pfn(0x10_0000) }));
        assert_eq!(z.normal, PfnRange { start: Pfn(0x10_0000), end: Pfn(0x14_0000) });
    }

    /// `max_zone_phys`: the mask, clipped to RAM, widened when RAM starts above it.
    #[test]
    fn max_zone_phys_follows_linux() {
        let pi3 = Layout::new(48, PI3_RAM.0, PI3_RAM.1).unwrap();
        assert_eq!(pi3.max_zone_phys(30), 0x3c00_0000);
        assert_eq!(pi3.max_zone_phys(32), 0x3c00_0000);
        assert_eq!(pi3.max_zone_phys(20), 0x10_0000);
        // RAM from 2 GiB: a 30-bit zone cannot start there, so it widens to 4 GiB.
        let high = Layout::new(48, 0x8000_0000, 0x2_0000_0000).unwrap();
        assert_eq!(high.max_zone_phys(30), 0x1_0000_0000);
        // RAM entirely above 4 GiB: the zones reach its end.
        let above = Layout::new(48, 0x8_0000_0000, 0x9_0000_0000).unwrap();
        assert_eq!(above.max_zone_phys(32), 0x9_0000_0000);
        let z = above.zones(32);
        assert_eq!(z.dma, (0x8_0000_0000, 0x9_0000_0000));
        assert_eq!((z.dma32.0, z.normal.0), (0x9_0000_0000, 0x9_0000_0000));
    }

    #[test]
    fn banner_has_415s_columns() {
        let l = Layout::new(48, PI3_RAM.0, PI3_RAM.1).unwrap();
        let k = l.kimage_vaddr;
        let s = Sections {
            text: k,
            etext: k + 0x1800,
            start_rodata: k + 0x2000,
            end_rodata: k + 0x3000,
            init_begin: k + 0x3000,
            init_end: k + 0x3000,
            sdata: k + 0x3000,
            edata: k + 0x4000,
            bss_start: k + 0x4000,
            bss_stop: k + 0x5001,
            end: k + 0x6000,
        };
        let mut out = String::new();
        write_banner(&mut out, &l, &s, None).unwrap();
        assert!(
            out.contains("    modules : 0xffff800000000000 - 0xffff800008000000   (   128 MB)\n")
        );
        assert!(
            out.contains("    vmalloc : 0xffff800008000000 - 0xfffffbfff0000000   (126975 GB)\n")
        );
        assert!(out.contains("      .text : 0xffff800008000000 - 0xffff800008001800   (     6 KB)"));
        assert!(out.contains("       .bss : 0xffff800008004000 - 0xffff800008005001   (     5 KB)"));
        assert!(out.contains("    fixed   : 0xfffffbfffdbfd000 - 0xfffffbfffe000000   (  4108 KB)"));
        assert!(out.contains("    PCI I/O : 0xfffffbfffe800000 - 0xfffffbffff800000   (    16 MB)"));
        assert!(out.contains(
            "    vmemmap : 0xfffffc0000000000 - 0xfffffe0000000000   (  2048 GB maximum)"
        ));
        assert!(out.contains("    memory  : 0xffff000000000000 - 0xffff00003c000000   (   960 MB)"));
    }
}
