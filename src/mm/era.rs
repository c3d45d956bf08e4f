//! One kernel, one era: what the Linux a profile models decides about memory management, as
//! data in one place. Each constant is one kernel as it was built: its page allocator's
//! behaviour (per-CPU lists, fallback, boosting, the HighAtomic reserve), `MAX_ORDER`,
//! ZONE_DMA, the default CMA area, kmalloc's ceiling and what /proc/meminfo's vmalloc lines
//! mean. A layout profile (`arch::profile`) names the one its system ran; the default is Linux
//! 6.1 as the Raspberry Pi's own `bcm2709_defconfig` builds it. Nothing here depends on an
//! architecture.
use core::fmt;

use crate::sizes::SZ_1M;

/// The Linux whose page-allocator behaviour an era has. The default is 6.1; the case study's
/// Android device ran a 3.x kernel, and its profiles keep that kernel's allocator where it
/// differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelEra {
    /// A 3.x kernel: order-0-only per-CPU lists with `high = 6 * batch` (batch capped at
    /// 512 KiB) freeing one batch at a time, round robin over the lists; no watermark
    /// boosting; `__rmqueue_fallback` claims a pageblock by free pages alone.
    Linux3x,
    /// Linux 6.1: per-CPU lists of orders 0-3 sized from the low watermark, watermark
    /// boosting, and 6.1's `steal_suitable_fallback` (free plus compatible pages).
    Linux61,
}

impl KernelEra {
    /// How the era is named in help texts and reports.
    pub const fn name(self) -> &'static str {
        match self {
            KernelEra::Linux3x => "3.x",
            KernelEra::Linux61 => "6.1",
        }
    }
}

/// The meaning of /proc/meminfo's vmalloc lines, which changed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmallocMeminfo {
    /// 5.3+ (6.1): `VmallocUsed` is `vmalloc_nr_pages()`, the pages vmalloc areas hold
    /// (ioremaps and guard pages not counted); `VmallocChunk` is 0 (since 4.4).
    NrPages,
    /// Up to 4.3 (`get_vmalloc_info()`, the Android profiles' 3.x kernel): `VmallocUsed` sums
    /// the live areas' sizes with guard pages and ioremaps, `VmallocChunk` is the largest gap.
    AreaSizes,
}

/// ZONE_DMA of an era's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaZoneSpec {
    /// No CONFIG_ZONE_DMA (the Pi's own bcm2709_defconfig: a non-LPAE BCM2835 selects none).
    None,
    /// CONFIG_ZONE_DMA without a machine `dma_zone_size`: 6.1's `setup_dma_zone()` sets
    /// `arm_dma_limit` to 4 GiB, so DMA covers all of lowmem and Normal is empty (Debian's
    /// armmp kernel on the Pi).
    AllLowmem,
    /// `[PHYS_OFFSET, PHYS_OFFSET + size)` exactly (i386's `MAX_DMA_PFN` rule).
    Exact(u64),
}

/// Linux's default `MAX_ORDER` on 32-bit ARM: free lists of orders 0..=10.
pub const LINUX_MAX_ORDER: usize = 11;
/// Debian armmp's `MAX_ORDER` (12 free lists, order-11 pageblocks).
pub const DEBIAN_ARMMP_MAX_ORDER: usize = 12;
/// `CONFIG_CMA_SIZE_MBYTES=64` of the Raspberry Pi's device tree (`linux,cma` 64 MiB) and of
/// Debian's armmp kernel.
pub const CMA_64M: u64 = 64 * SZ_1M;
/// kmalloc's ceiling on the case study's Android kernel: 128 KiB, the last of the
/// `kmalloc_sizes.h` caches (`CACHE(131072)`) the SLAB allocator of its era served.
pub const ANDROID_KMALLOC_MAX_SIZE: u64 = 128 * 1024;
/// i386's ZONE_DMA: the ISA DMA limit (`MAX_DMA_PFN`).
pub const I386_DMA_ZONE: u64 = 16 * SZ_1M;

/// What one kernel decides about memory management.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Era {
    /// The kernel, as the README's table heads its column.
    pub kernel: &'static str,
    /// Which Linux the page allocator behaves as (per-CPU lists, fallback, boosting,
    /// HighAtomic).
    pub page_alloc: KernelEra,
    /// The `MAX_ORDER` the kernel was built with. Informational: the build sets MAX_ORDER.
    pub max_order: usize,
    /// CONFIG_ZONE_DMA, and how the zone is bounded.
    pub dma_zone: DmaZoneSpec,
    /// The CMA area reserved when neither `cma=` nor a device-tree `linux,cma-default` node
    /// says otherwise (`CONFIG_CMA_SIZE_MBYTES`); `None`: no CMA.
    pub cma_default: Option<u64>,
    /// kmalloc's ceiling in bytes when the kernel had an older one than `KMALLOC_MAX_SIZE`;
    /// `None`: Linux 6.1's.
    pub kmalloc_max_size: Option<u64>,
    /// What /proc/meminfo's `VmallocUsed`/`VmallocChunk` mean.
    pub vmalloc_meminfo: VmallocMeminfo,
}

/// Linux 6.1 as the Raspberry Pi's own `bcm2709_defconfig` builds it: no ZONE_DMA, MAX_ORDER
/// 11, the Pi device tree's 64 MiB CMA area. The default.
pub const LINUX_61_RPI: Era = Era {
    kernel: "Linux 6.1, the Pi's `bcm2709_defconfig`",
    page_alloc: KernelEra::Linux61,
    max_order: LINUX_MAX_ORDER,
    dma_zone: DmaZoneSpec::None,
    cma_default: Some(CMA_64M),
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// Debian 12's `armmp` Linux 6.1: CONFIG_ZONE_DMA without a machine limit, MAX_ORDER 12
/// (CONFIG_ARCH_FORCE_MAX_ORDER), CMA 64 MiB (`CONFIG_CMA_SIZE_MBYTES`).
pub const LINUX_61_DEBIAN_ARMMP: Era = Era {
    kernel: "Linux 6.1, Debian's armmp",
    page_alloc: KernelEra::Linux61,
    max_order: DEBIAN_ARMMP_MAX_ORDER,
    dma_zone: DmaZoneSpec::AllLowmem,
    cma_default: Some(CMA_64M),
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// Linux 6.1 with i386's zones (ZONE_DMA below 16 MiB) and no CMA: the `x86-classic` picture.
pub const LINUX_61_I386_ZONES: Era = Era {
    kernel: "Linux 6.1, i386's zones",
    page_alloc: KernelEra::Linux61,
    max_order: LINUX_MAX_ORDER,
    dma_zone: DmaZoneSpec::Exact(I386_DMA_ZONE),
    cma_default: None,
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// The case study's Cortex-A9 Android device's 3.x kernel: its page allocator, SLAB's 128 KiB
/// kmalloc ceiling, the pre-4.4 vmalloc meminfo lines, no ZONE_DMA and no CMA (its `pmem`
/// carve-out was CMA's ancestor).
pub const LINUX_3X_ANDROID: Era = Era {
    kernel: "Linux 3.x, the Android device's",
    page_alloc: KernelEra::Linux3x,
    max_order: LINUX_MAX_ORDER,
    dma_zone: DmaZoneSpec::None,
    cma_default: None,
    kmalloc_max_size: Some(ANDROID_KMALLOC_MAX_SIZE),
    vmalloc_meminfo: VmallocMeminfo::AreaSizes,
};

/// One row of the README's "one kernel, one era" table: its name and each era's cell.
pub struct EraRow {
    pub name: &'static str,
    pub cell: fn(&Era, &mut fmt::Formatter<'_>) -> fmt::Result,
}

/// The table's rows, each read from one field of `Era`.
pub const ERA_ROWS: &[EraRow] = &[
    EraRow { name: "zones", cell: Era::fmt_zones },
    EraRow { name: "`MAX_ORDER`", cell: Era::fmt_max_order },
    EraRow { name: "per-CPU lists", cell: Era::fmt_pcp },
    EraRow { name: "fallback", cell: Era::fmt_fallback },
    EraRow { name: "HighAtomic reserve", cell: Era::fmt_highatomic },
    EraRow { name: "CMA", cell: Era::fmt_cma },
    EraRow { name: "kmalloc ceiling", cell: Era::fmt_kmalloc },
    EraRow { name: "meminfo `VmallocUsed`", cell: Era::fmt_vmalloc_meminfo },
];

impl Era {
    fn fmt_zones(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dma_zone {
            DmaZoneSpec::None => f.write_str("Normal, HighMem, Movable (no ZONE_DMA)"),
            DmaZoneSpec::AllLowmem => {
                f.write_str("DMA over all lowmem (Normal empty), HighMem, Movable")
            }
            DmaZoneSpec::Exact(size) => {
                write!(f, "DMA below {} MiB, Normal, HighMem, Movable", size / SZ_1M)
            }
        }
    }

    fn fmt_max_order(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.max_order == LINUX_MAX_ORDER {
            write!(f, "{}", self.max_order)
        } else {
            write!(f, "{0} (build with `MAX_ORDER={0}`)", self.max_order)
        }
    }

    fn fmt_pcp(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.page_alloc {
            KernelEra::Linux61 => {
                "orders 0-3, a list per type and order, `high` = low watermark / online CPUs, \
                 6.1's `free_factor`"
            }
            KernelEra::Linux3x => {
                "order 0 only, `high` = 6 batches (512 KiB batch cap), one batch freed round robin"
            }
        })
    }

    fn fmt_fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.page_alloc {
            KernelEra::Linux61 => {
                "6.1's `steal_suitable_fallback` (free + alike pages >= half), watermark boosting"
            }
            KernelEra::Linux3x => {
                "3.x: a pageblock claimed by free pages alone, kernel requests steal small blocks \
                 only if reclaimable, no boosting"
            }
        })
    }

    fn fmt_highatomic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.page_alloc {
            KernelEra::Linux61 => "yes",
            KernelEra::Linux3x => "no",
        })
    }

    fn fmt_cma(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cma_default {
            Some(bytes) => write!(f, "{} MiB by default", bytes / SZ_1M),
            None => f.write_str("none"),
        }
    }

    fn fmt_kmalloc(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kmalloc_max_size {
            None => f.write_str("4 MiB (`KMALLOC_MAX_SIZE`)"),
            Some(bytes) => write!(f, "{} KiB", bytes / 1024),
        }
    }

    fn fmt_vmalloc_meminfo(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.vmalloc_meminfo {
            VmallocMeminfo::NrPages => "vmalloc'ed pages; `VmallocChunk: 0 kB`",
            VmallocMeminfo::AreaSizes => "3.x: areas with guard pages and ioremaps; largest gap",
        })
    }
}

/// One cell of the table: `row` read from `era`.
pub struct EraCell<'a> {
    pub era: &'a Era,
    pub row: &'a EraRow,
}

impl fmt::Display for EraCell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.row.cell)(self.era, f)
    }
}
