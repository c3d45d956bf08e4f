//! Memory-layout profiles: the layouts real Linux systems shipped with, as `const` data
//! (lowmem size or limit, `VMALLOC_END`, unused kernel VA, reserved carve-outs, ZONE_DMA), the
//! checks that decide whether one fits this build and this RAM, and the resolved partition
//! (`Carveout`, `VaHole`) that `mm::layout` records for memblock, /proc/iomem and ptdump.
//!
//! A profile is selected with `pivm.profile=NAME`. Applying it is `layout::compute_with_profile`;
//! a profile that does not fit is rejected with a one-line reason and the layout falls back to
//! `linux`, so a bad profile never stops the boot.
use core::fmt;

use super::layout::{
    self, Layout, LayoutInput, LayoutWarnings, FDT_FIXED_BASE, KERNEL_RAM_MIN, PMD_SIZE,
    VMALLOC_DEFAULT_SIZE, VMALLOC_MIN_SIZE, VMALLOC_OFFSET, VMSPLIT_3G,
};
use crate::boot::info::MemBank;
use crate::mm::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::sizes::{SZ_16M, SZ_1G, SZ_1M, SZ_32M, SZ_8M};

/// Carve-outs a profile may reserve (fixed array in `Layout`, no heap at boot).
pub const MAX_CARVEOUTS: usize = 8;
/// Named kernel VA holes a profile may declare.
pub const MAX_VA_HOLES: usize = 8;
/// Carve-outs placed at the top of lowmem start on a section boundary, as vendors kept them so
/// the modem and pmem drivers could map them with 1 MiB sections.
pub const CARVEOUT_ALIGN: u64 = SZ_1M;
/// Linux's default `MAX_ORDER` on 32-bit ARM: free lists of orders 0..=10.
pub const LINUX_MAX_ORDER: usize = 11;

/// How much RAM is linearly mapped (lowmem).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lowmem {
    /// Linux's `adjust_lowmem_bounds`: `VMALLOC_END - vmalloc_size - VMALLOC_OFFSET`, with
    /// `vmalloc=` honoured (the `linux` profile).
    LinuxFormula,
    /// Exactly this many bytes from PHYS_OFFSET; the RAM must have them.
    Size(u64),
    /// At most this many bytes (less when the RAM is smaller), like i386's MAXMEM.
    Limit(u64),
}

impl Lowmem {
    /// The fixed lowmem bound, if the profile sets one (then `vmalloc=` does not apply).
    pub const fn bytes(self) -> Option<u64> {
        match self {
            Self::LinuxFormula => None,
            Self::Size(b) | Self::Limit(b) => Some(b),
        }
    }
}

/// A kernel virtual address in a profile: relative ones follow the build's split, so a profile
/// written for the 3G/1G device reproduces it exactly on the 3G build and shifted on others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelVa {
    /// `PAGE_OFFSET + offset`.
    PageOffsetPlus(u64),
    /// A fixed address (for things pinned to the top of the address space).
    Absolute(u64),
}

impl KernelVa {
    /// The address for a build with this PAGE_OFFSET (saturating: validation rejects
    /// anything past 4 GiB).
    pub const fn resolve(self, page_offset: u64) -> u64 {
        match self {
            Self::PageOffsetPlus(off) => page_offset.saturating_add(off),
            Self::Absolute(a) => a,
        }
    }
}

/// A named range of kernel VA the profile leaves unused (shown by ptdump and the banner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaHoleSpec {
    pub name: &'static str,
    pub start: KernelVa,
    pub end: KernelVa,
}

/// Where a carve-out goes in physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// At this offset from PHYS_OFFSET (the start of RAM).
    PhysOffset(u64),
    /// Stacked down from the end of lowmem in list order, like top-down memblock_alloc at
    /// boot: the first listed ends at `arm_lowmem_limit`, the next right below it.
    TopOfLowmem,
}

/// RAM reserved at boot for a device and never given to the buddy allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarveoutSpec {
    pub name: &'static str,
    pub size: u64,
    pub placement: Placement,
}

/// A memory-layout profile: pure data, applied by `layout::compute_with_profile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// What `pivm.profile=` takes.
    pub name: &'static str,
    /// One line for `help` and the banner.
    pub description: &'static str,
    pub lowmem: Lowmem,
    /// `None`: the build's 0xff800000.
    pub vmalloc_end: Option<KernelVa>,
    /// Kernel VA left unused, between VMALLOC_END and the DT blob / fixmap area.
    pub holes: &'static [VaHoleSpec],
    pub carveouts: &'static [CarveoutSpec],
    /// Whether the modelled kernel has ZONE_DMA (CONFIG_ZONE_DMA), and how it is bounded.
    pub dma_zone: DmaZoneSpec,
    /// The `MAX_ORDER` the modelled system ran with. Informational: the build sets MAX_ORDER.
    pub max_order: usize,
    /// Which kernel the profile's page allocator behaves as (see [`KernelEra`]).
    pub era: KernelEra,
    /// The CMA area the kernel reserves when neither `cma=` nor a device-tree
    /// `linux,cma-default` node says otherwise (`CONFIG_CMA_SIZE_MBYTES`); `None`: no CMA.
    pub cma_default: Option<u64>,
    /// kmalloc's ceiling in bytes when the modelled kernel had an older one than
    /// `KMALLOC_MAX_SIZE` (the Android devices' 128 KiB); `None`: Linux 6.1's.
    pub kmalloc_max_size: Option<u64>,
    /// What /proc/meminfo's `VmallocUsed`/`VmallocChunk` mean in the modelled kernel's era.
    pub vmalloc_meminfo: VmallocMeminfo,
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

/// ZONE_DMA of a profile's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaZoneSpec {
    /// No CONFIG_ZONE_DMA (the Pi's own bcm2709_defconfig: a non-LPAE BCM2835 selects none).
    None,
    /// CONFIG_ZONE_DMA on ARM without a machine `dma_zone_size`: 6.1's `setup_dma_zone()`
    /// sets `arm_dma_limit` to 4 GiB, so DMA covers all of lowmem and Normal is empty
    /// (Debian's armmp kernel on the Pi).
    AllLowmem,
    /// `[PHYS_OFFSET, PHYS_OFFSET + size)` exactly (x86's `MAX_DMA_PFN` rule).
    Exact(u64),
}

/// The Linux whose page-allocator behaviour a profile's kernel has. One kernel, one era: the
/// default is 6.1; the case study's Android device ran a 3.x kernel, and its profiles keep
/// that kernel's allocator where it differs.
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

/// `CONFIG_CMA_SIZE_MBYTES=64` of the Raspberry Pi's device tree (`linux,cma` 64 MiB) and of
/// Debian's armmp kernel.
pub const CMA_64M: u64 = 64 * SZ_1M;

/// Linux's own computation for the build's split: exactly what pivm does without a profile.
pub const LINUX: Profile = Profile {
    name: "linux",
    description: "Linux's own layout for this build's split (adjust_lowmem_bounds)",
    lowmem: Lowmem::LinuxFormula,
    vmalloc_end: None,
    holes: &[],
    carveouts: &[],
    dma_zone: DmaZoneSpec::None,
    max_order: LINUX_MAX_ORDER,
    era: KernelEra::Linux61,
    cma_default: Some(CMA_64M),
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// i386's ZONE_DMA: the ISA DMA limit (`MAX_DMA_PFN`).
const X86_DMA_ZONE: u64 = SZ_16M;
/// i386's MAXMEM on a 3G/1G split: 1 GiB of kernel VA minus the 128 MiB `__VMALLOC_RESERVE`.
const X86_MAXMEM: u64 = 896 * SZ_1M;
/// i386's kernel VA window: PAGE_OFFSET + 1 GiB, less the 8 MiB ARM keeps at the top for the
/// DT blob, fixmap and vectors (i386 kept pkmap and fixmap there). On the 3G build this is
/// ARM's own VMALLOC_END, 0xff800000.
const X86_VMALLOC_END: u64 = SZ_1G - SZ_8M;

/// The i386 picture on ARM: ZONE_DMA below 16 MiB, ZONE_NORMAL to 896 MiB, ZONE_HIGHMEM above.
/// The 128 MiB above lowmem hold, as on i386, the 8 MiB VMALLOC_OFFSET hole, the vmalloc
/// range (112 MiB here) and the fixed mappings at the top. On 2G/1G builds the same window
/// sits at PAGE_OFFSET and the VA above it stays unused.
pub const X86_CLASSIC: Profile = Profile {
    name: "x86-classic",
    description: "i386: ZONE_DMA < 16MiB, ZONE_NORMAL < 896MiB, ZONE_HIGHMEM above",
    lowmem: Lowmem::Limit(X86_MAXMEM),
    vmalloc_end: Some(KernelVa::PageOffsetPlus(X86_VMALLOC_END)),
    holes: &[VaHoleSpec {
        name: "split-shift",
        start: KernelVa::PageOffsetPlus(X86_VMALLOC_END),
        end: KernelVa::Absolute(FDT_FIXED_BASE),
    }],
    carveouts: &[],
    dma_zone: DmaZoneSpec::Exact(X86_DMA_ZONE),
    max_order: LINUX_MAX_ORDER,
    era: KernelEra::Linux61,
    cma_default: None,
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

// The Cortex-A9 Android device of the vmalloc case study, as offsets from its PAGE_OFFSET
// (0xc0000000). Its kernel predates 5.14, where `vmalloc=256M` meant vmalloc_min =
// VMALLOC_END - 256 MiB: with the board's VMALLOC_END of 0xf0000000 that gives exactly 512 MiB
// of lowmem and a 248 MiB vmalloc range, 0xe0800000-0xf0000000.
/// The device's lowmem.
const A9_LOWMEM: u64 = 512 * SZ_1M;
/// The device's VMALLOC_END, 0xf0000000 on its 3G/1G split.
const A9_VMALLOC_END: u64 = 0x3000_0000;
/// The unused kernel VA above VMALLOC_END, 0xf0000000-0xfd100000: "about 200 MiB". It is 209
/// MiB because the fix moved 208 MiB of it (720 - 512) into lowmem and kept 1 MiB.
const A9_UNUSED: u64 = 209 * SZ_1M;
/// Above the unused range, up to the DT blob at 0xff800000: the SoC's static device mappings
/// (`iotable_init`). pivm ioremaps its peripherals instead, so this stays unmapped.
const A9_IOTABLE: u64 = A9_VMALLOC_END + A9_UNUSED;
/// Where the shifted (2G/1G) builds' kernel VA past the device's window starts.
const A9_WINDOW_END: u64 = FDT_FIXED_BASE - VMSPLIT_3G;
/// The modem ("CP", communication processor) carve-out.
const A9_CP: u64 = SZ_16M;
/// Android's `pmem` contiguous pool for the camera, video codec and GPU.
const A9_PMEM: u64 = 128 * SZ_1M;
/// Both carve-outs at the top of lowmem, CP first (topmost) then pmem below it, as the
/// board file reserved them top-down at boot: 512 - 144 = 368 MiB of lowmem stay for the
/// kernel's allocators ("about 360 MiB" once the kernel image is loaded).
const A9_CARVEOUTS: &[CarveoutSpec] = &[
    CarveoutSpec { name: "CP", size: A9_CP, placement: Placement::TopOfLowmem },
    CarveoutSpec { name: "pmem", size: A9_PMEM, placement: Placement::TopOfLowmem },
];
/// Beyond the device's window: only non-empty on the 2G/1G builds.
const A9_SPLIT_SHIFT: VaHoleSpec = VaHoleSpec {
    name: "split-shift",
    start: KernelVa::PageOffsetPlus(A9_WINDOW_END),
    end: KernelVa::Absolute(FDT_FIXED_BASE),
};
const A9_IOTABLE_HOLE: VaHoleSpec = VaHoleSpec {
    name: "iotable",
    start: KernelVa::PageOffsetPlus(A9_IOTABLE),
    end: KernelVa::PageOffsetPlus(A9_WINDOW_END),
};

/// kmalloc's ceiling on the case study's Android kernel: 128 KiB, the last of the
/// `kmalloc_sizes.h` caches (`CACHE(131072)`) the SLAB allocator of its era served.
const ANDROID_KMALLOC_MAX_SIZE: u64 = 128 * 1024;

/// The device as it failed: 1 GiB of RAM on a 3G/1G split, 512 MiB of lowmem holding the CP
/// (16 MiB) and pmem (128 MiB) carve-outs, modules and pkmap just below PAGE_OFFSET, vmalloc
/// ending at 0xf0000000, 209 MiB of unused VA above it, the rest of RAM highmem (512 MiB on
/// the device; 448 MiB on QEMU's 960 MiB raspi2b, where only highmem shrinks).
pub const ANDROID_A9: Profile = Profile {
    name: "android-a9",
    description:
        "Cortex-A9 Android device: 512MiB lowmem, CP+pmem carve-outs, VMALLOC_END 0xf0000000",
    lowmem: Lowmem::Size(A9_LOWMEM),
    vmalloc_end: Some(KernelVa::PageOffsetPlus(A9_VMALLOC_END)),
    holes: &[
        VaHoleSpec {
            name: "unused",
            start: KernelVa::PageOffsetPlus(A9_VMALLOC_END),
            end: KernelVa::PageOffsetPlus(A9_IOTABLE),
        },
        A9_IOTABLE_HOLE,
        A9_SPLIT_SHIFT,
    ],
    carveouts: A9_CARVEOUTS,
    dma_zone: DmaZoneSpec::None,
    max_order: LINUX_MAX_ORDER,
    era: KernelEra::Linux3x,
    cma_default: None,
    kmalloc_max_size: Some(ANDROID_KMALLOC_MAX_SIZE),
    vmalloc_meminfo: VmallocMeminfo::AreaSizes,
};

/// Lowmem after the fix.
const A9_FIX_LOWMEM: u64 = 720 * SZ_1M;
/// How far everything above lowmem moved: 208 MiB.
const A9_FIX_SHIFT: u64 = A9_FIX_LOWMEM - A9_LOWMEM;
/// VMALLOC_END after the fix, 0xfd000000: the range keeps its 248 MiB and moves up with lowmem.
const A9_FIX_VMALLOC_END: u64 = A9_VMALLOC_END + A9_FIX_SHIFT;
/// The 1 MiB of the old unused range the fix kept, 0xfd000000-0xfd100000.
const A9_FIX_PLACEHOLDER: u64 = A9_UNUSED - A9_FIX_SHIFT;

/// The fixed device: the unused VA given to lowmem, which grows to 720 MiB; vmalloc keeps its
/// size (248 MiB, 0xed800000-0xfd000000); a 1 MiB placeholder stays below the static device
/// mappings; the carve-outs move with the top of lowmem. Highmem: 304 MiB on the device, 240
/// MiB on QEMU.
pub const ANDROID_A9_720M: Profile = Profile {
    name: "android-a9-720m",
    description: "the fixed device: lowmem 720MiB, vmalloc moved up to end at 0xfd000000",
    lowmem: Lowmem::Size(A9_FIX_LOWMEM),
    vmalloc_end: Some(KernelVa::PageOffsetPlus(A9_FIX_VMALLOC_END)),
    holes: &[
        VaHoleSpec {
            name: "placeholder",
            start: KernelVa::PageOffsetPlus(A9_FIX_VMALLOC_END),
            end: KernelVa::PageOffsetPlus(A9_FIX_VMALLOC_END + A9_FIX_PLACEHOLDER),
        },
        A9_IOTABLE_HOLE,
        A9_SPLIT_SHIFT,
    ],
    carveouts: A9_CARVEOUTS,
    dma_zone: DmaZoneSpec::None,
    max_order: LINUX_MAX_ORDER,
    era: KernelEra::Linux3x,
    cma_default: None,
    kmalloc_max_size: Some(ANDROID_KMALLOC_MAX_SIZE),
    vmalloc_meminfo: VmallocMeminfo::AreaSizes,
};

/// Debian 12's `armmp` kernel (Linux 6.1, `linux-image-6.1.0-*-armmp`) on this board, the
/// kernel of the reference sample: VMSPLIT_3G with HIGHMEM, CONFIG_ZONE_DMA without a machine
/// limit (DMA covers all lowmem, Normal is empty), `MAX_ORDER` 12 (CONFIG_ARCH_FORCE_MAX_ORDER
/// for armmp) and a 64 MiB CMA area. Boot it as `make run VMSPLIT=3G MAX_ORDER=12
/// PROFILE=debian-armmp`.
pub const DEBIAN_ARMMP: Profile = Profile {
    name: "debian-armmp",
    description: "Debian's armmp 6.1 kernel: ZONE_DMA over lowmem, MAX_ORDER 12, CMA 64MiB",
    lowmem: Lowmem::LinuxFormula,
    vmalloc_end: None,
    holes: &[],
    carveouts: &[],
    dma_zone: DmaZoneSpec::AllLowmem,
    max_order: DEBIAN_ARMMP_MAX_ORDER,
    era: KernelEra::Linux61,
    cma_default: Some(CMA_64M),
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// Debian armmp's `MAX_ORDER` (12 free lists, order-11 pageblocks).
pub const DEBIAN_ARMMP_MAX_ORDER: usize = 12;

/// Every profile, the default first.
pub const PROFILES: &[&Profile] =
    &[&LINUX, &X86_CLASSIC, &ANDROID_A9, &ANDROID_A9_720M, &DEBIAN_ARMMP];

/// The profile used without `pivm.profile=` and whenever another one is rejected.
pub const DEFAULT_PROFILE: &Profile = &LINUX;

impl Profile {
    /// Looks a profile up by its name (ASCII case ignored).
    pub fn by_name(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().copied().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// The valid profile names, comma separated, for `help` and error messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProfileNames;

impl fmt::Display for ProfileNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in PROFILES.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(p.name)?;
        }
        Ok(())
    }
}

/// `pivm.profile=` named no profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownProfile<'a>(pub &'a str);

impl fmt::Display for UnknownProfile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pivm: unknown profile \"{}\" (valid: {ProfileNames}); using profile {}",
            self.0, DEFAULT_PROFILE.name
        )
    }
}

/// The profile `pivm.profile=` asks for: the default without one, the default plus the
/// message to print for an unknown name.
pub fn lookup(name: Option<&str>) -> Result<&'static Profile, UnknownProfile<'_>> {
    match name {
        None => Ok(DEFAULT_PROFILE),
        Some(n) => Profile::by_name(n).ok_or(UnknownProfile(n)),
    }
}

/// A carve-out as placed: reserved in memblock, listed in /proc/iomem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carveout {
    pub name: &'static str,
    pub start: PhysAddr,
    pub size: u64,
}

impl Carveout {
    pub const fn end(&self) -> PhysAddr {
        PhysAddr(self.start.0 + self.size)
    }
}

/// A kernel VA hole as resolved for this build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VaHole {
    pub name: &'static str,
    pub start: VirtAddr,
    pub end: VirtAddr,
}

impl VaHole {
    pub const fn size(&self) -> u64 {
        self.end.0 - self.start.0
    }
}

/// A byte count as `NNNMiB`, or `NNNKiB` when not a whole MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(SZ_1M) {
            write!(f, "{}MiB", self.0 / SZ_1M)
        } else {
            write!(f, "{}KiB", self.0 / 1024)
        }
    }
}

/// Why a profile cannot be applied to this build and RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileError {
    /// VMALLOC_END past the DT blob / fixmap area (or past 4 GiB).
    VmallocEndTooHigh {
        vmalloc_end: u64,
    },
    /// VMALLOC_END must be 2 MiB aligned (a whole first-level entry pair).
    VmallocEndUnaligned {
        vmalloc_end: u64,
    },
    /// PAGE_OFFSET..VMALLOC_END cannot hold lowmem, the 8 MiB hole and a vmalloc range.
    KernelVaTooSmall {
        page_offset: u64,
        vmalloc_end: u64,
    },
    /// A lowmem size of zero or not 2 MiB aligned.
    LowmemInvalid {
        lowmem: u64,
    },
    /// Lowmem leaves less than the 16 MiB minimum vmalloc range below VMALLOC_END.
    LowmemTooBig {
        lowmem: u64,
        max: u64,
        vmalloc_end: u64,
    },
    /// A fixed lowmem size the RAM does not have.
    LowmemExceedsRam {
        lowmem: u64,
        ram: u64,
    },
    /// The resulting vmalloc range is under 16 MiB.
    VmallocTooSmall {
        start: u64,
        end: u64,
    },
    /// A ZONE_DMA size of zero or not page aligned.
    DmaZoneInvalid {
        size: u64,
    },
    TooManyCarveouts,
    TooManyHoles,
    /// A carve-out of zero size or not page aligned.
    CarveoutInvalid {
        name: &'static str,
        size: u64,
    },
    CarveoutOutsideRam {
        name: &'static str,
        start: u64,
        end: u64,
    },
    CarveoutOutsideLowmem {
        name: &'static str,
        start: u64,
        end: u64,
        lowmem_end: u64,
    },
    /// Inside the kernel's own first 16 MiB (image, page tables, stacks).
    CarveoutOverlapsKernel {
        name: &'static str,
        start: u64,
        end: u64,
    },
    CarveoutOverlap {
        name: &'static str,
        start: u64,
        end: u64,
        other: &'static str,
    },
    /// A hole not inside `[VMALLOC_END, FDT_FIXED_BASE)`, or inverted.
    HoleOutside {
        name: &'static str,
        start: u64,
        end: u64,
        vmalloc_end: u64,
    },
    HoleOverlap {
        name: &'static str,
        start: u64,
        end: u64,
        other: &'static str,
    },
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::VmallocEndTooHigh { vmalloc_end } => write!(
                f,
                "VMALLOC_END {vmalloc_end:#010x} is above the DT blob and fixmap at {FDT_FIXED_BASE:#010x}"
            ),
            Self::VmallocEndUnaligned { vmalloc_end } => {
                write!(f, "VMALLOC_END {vmalloc_end:#010x} is not 2MiB aligned")
            }
            Self::KernelVaTooSmall { page_offset, vmalloc_end } => write!(
                f,
                "PAGE_OFFSET {page_offset:#010x} to VMALLOC_END {vmalloc_end:#010x} has no room for lowmem and a vmalloc range"
            ),
            Self::LowmemInvalid { lowmem } => {
                write!(f, "lowmem of {} is not a non-zero multiple of 2MiB", Bytes(lowmem))
            }
            Self::LowmemTooBig { lowmem, max, vmalloc_end } => write!(
                f,
                "lowmem of {} leaves no 16MiB vmalloc range below VMALLOC_END {vmalloc_end:#010x} (at most {} fits)",
                Bytes(lowmem),
                Bytes(max)
            ),
            Self::LowmemExceedsRam { lowmem, ram } => write!(
                f,
                "lowmem of {} needs more RAM than the {} from PHYS_OFFSET",
                Bytes(lowmem),
                Bytes(ram)
            ),
            Self::VmallocTooSmall { start, end } => write!(
                f,
                "vmalloc range {start:#010x}-{end:#010x} is {}, less than 16MiB",
                Bytes(end.saturating_sub(start))
            ),
            Self::DmaZoneInvalid { size } => {
                write!(f, "ZONE_DMA of {size:#x} bytes is empty or not page aligned")
            }
            Self::TooManyCarveouts => write!(f, "more than {MAX_CARVEOUTS} carve-outs"),
            Self::TooManyHoles => write!(f, "more than {MAX_VA_HOLES} VA holes"),
            Self::CarveoutInvalid { name, size } => {
                write!(f, "{name} carve-out of {size:#x} bytes is empty or not page aligned")
            }
            Self::CarveoutOutsideRam { name, start, end } => {
                write!(f, "{name} carve-out [{start:#010x}-{end:#010x}) is outside RAM")
            }
            Self::CarveoutOutsideLowmem { name, start, end, lowmem_end } => write!(
                f,
                "{name} carve-out [{start:#010x}-{end:#010x}) is outside lowmem (ends at {lowmem_end:#010x})"
            ),
            Self::CarveoutOverlapsKernel { name, start, end } => write!(
                f,
                "{name} carve-out [{start:#010x}-{end:#010x}) overlaps the kernel's first 16MiB"
            ),
            Self::CarveoutOverlap { name, start, end, other } => {
                write!(f, "{name} carve-out [{start:#010x}-{end:#010x}) overlaps {other}")
            }
            Self::HoleOutside { name, start, end, vmalloc_end } => write!(
                f,
                "hole {name} [{start:#010x}-{end:#010x}) is not between VMALLOC_END {vmalloc_end:#010x} and {FDT_FIXED_BASE:#010x}"
            ),
            Self::HoleOverlap { name, start, end, other } => {
                write!(f, "hole {name} [{start:#010x}-{end:#010x}) overlaps hole {other}")
            }
        }
    }
}

/// The boot message for a rejected profile:
/// `pivm: profile NAME: REASON; using profile linux`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileRejected {
    pub profile: &'static str,
    pub error: ProfileError,
}

impl fmt::Display for ProfileRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pivm: profile {}: {}; using profile {}",
            self.profile, self.error, DEFAULT_PROFILE.name
        )
    }
}

/// The part of a profile that depends only on PAGE_OFFSET, checked: what
/// `layout::compute_with_profile` feeds into Linux's computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaPlan {
    pub name: &'static str,
    pub vmalloc_end: u64,
    /// Fixed lowmem bytes (`Lowmem::Size` or `Limit`); `None` for Linux's formula.
    pub lowmem: Option<u64>,
    pub dma_zone: DmaZoneSpec,
    holes: [VaHole; MAX_VA_HOLES],
    nr_holes: usize,
}

impl VaPlan {
    /// The non-empty holes, as resolved for this PAGE_OFFSET.
    pub fn holes(&self) -> &[VaHole] {
        &self.holes[..self.nr_holes]
    }
}

const fn is_aligned(x: u64, align: u64) -> bool {
    x.is_multiple_of(align)
}

/// `[a, b)` and `[c, d)` share a byte.
const fn overlaps(a: u64, b: u64, c: u64, d: u64) -> bool {
    a < d && c < b
}

impl Profile {
    /// Checks what does not depend on the RAM: VMALLOC_END against the fixed top of the
    /// address space, lowmem against the split, the holes and the carve-out sizes.
    pub fn plan(&self, page_offset: u64) -> Result<VaPlan, ProfileError> {
        let vmalloc_end = match self.vmalloc_end {
            Some(va) => va.resolve(page_offset),
            None => layout::VMALLOC_END,
        };
        if vmalloc_end > FDT_FIXED_BASE {
            return Err(ProfileError::VmallocEndTooHigh { vmalloc_end });
        }
        if !is_aligned(vmalloc_end, PMD_SIZE) {
            return Err(ProfileError::VmallocEndUnaligned { vmalloc_end });
        }
        // The least kernel VA above PAGE_OFFSET that still works: the kernel's own 16 MiB
        // of lowmem, the hole and a minimum vmalloc range; Linux's formula needs its
        // 32 MiB floor and the default 240 MiB.
        let floor = match self.lowmem {
            Lowmem::LinuxFormula => SZ_32M + VMALLOC_OFFSET + VMALLOC_DEFAULT_SIZE,
            _ => KERNEL_RAM_MIN + VMALLOC_OFFSET + VMALLOC_MIN_SIZE,
        };
        if vmalloc_end < page_offset.saturating_add(floor) {
            return Err(ProfileError::KernelVaTooSmall { page_offset, vmalloc_end });
        }
        let lowmem = self.lowmem.bytes();
        if let Some(bytes) = lowmem {
            if bytes == 0 || !is_aligned(bytes, PMD_SIZE) {
                return Err(ProfileError::LowmemInvalid { lowmem: bytes });
            }
            let max = vmalloc_end - page_offset - VMALLOC_OFFSET - VMALLOC_MIN_SIZE;
            if bytes > max {
                return Err(ProfileError::LowmemTooBig { lowmem: bytes, max, vmalloc_end });
            }
        }
        if let DmaZoneSpec::Exact(size) = self.dma_zone {
            if size == 0 || !is_aligned(size, PAGE_SIZE) {
                return Err(ProfileError::DmaZoneInvalid { size });
            }
        }
        if self.carveouts.len() > MAX_CARVEOUTS {
            return Err(ProfileError::TooManyCarveouts);
        }
        for c in self.carveouts {
            let offset_ok = match c.placement {
                Placement::PhysOffset(off) => is_aligned(off, PAGE_SIZE),
                Placement::TopOfLowmem => true,
            };
            if c.size == 0 || !is_aligned(c.size, PAGE_SIZE) || !offset_ok {
                return Err(ProfileError::CarveoutInvalid { name: c.name, size: c.size });
            }
        }
        let (holes, nr_holes) = self.resolve_holes(page_offset, vmalloc_end)?;
        Ok(VaPlan {
            name: self.name,
            vmalloc_end,
            lowmem,
            dma_zone: self.dma_zone,
            holes,
            nr_holes,
        })
    }

    /// Resolves the holes, dropping empty ones (a split-shift hole on the 3G build).
    fn resolve_holes(
        &self,
        page_offset: u64,
        vmalloc_end: u64,
    ) -> Result<([VaHole; MAX_VA_HOLES], usize), ProfileError> {
        let mut holes = [VaHole::default(); MAX_VA_HOLES];
        let mut n = 0;
        for h in self.holes {
            let (start, end) = (h.start.resolve(page_offset), h.end.resolve(page_offset));
            if start == end {
                continue;
            }
            if start > end || start < vmalloc_end || end > FDT_FIXED_BASE {
                return Err(ProfileError::HoleOutside { name: h.name, start, end, vmalloc_end });
            }
            if let Some(o) = holes[..n].iter().find(|o| overlaps(start, end, o.start.0, o.end.0)) {
                return Err(ProfileError::HoleOverlap { name: h.name, start, end, other: o.name });
            }
            let slot = holes.get_mut(n).ok_or(ProfileError::TooManyHoles)?;
            *slot = VaHole { name: h.name, start: VirtAddr(start), end: VirtAddr(end) };
            n += 1;
        }
        Ok((holes, n))
    }

    /// Checks the layout Linux's computation produced under this profile's plan against the
    /// RAM, and places the carve-outs in it.
    pub fn place_carveouts(
        &self,
        l: &Layout,
    ) -> Result<([Carveout; MAX_CARVEOUTS], usize), ProfileError> {
        let phys_offset = l.phys_offset.0;
        let lowmem_end = l.arm_lowmem_limit.0;
        if let Lowmem::Size(bytes) = self.lowmem {
            let have = lowmem_end - phys_offset;
            if have < bytes {
                return Err(ProfileError::LowmemExceedsRam { lowmem: bytes, ram: have });
            }
        }
        if l.vmalloc_size() < VMALLOC_MIN_SIZE {
            return Err(ProfileError::VmallocTooSmall {
                start: l.vmalloc_start.0,
                end: l.vmalloc_end.0,
            });
        }
        let kernel_end = l.ram_start.0.saturating_add(KERNEL_RAM_MIN);
        let mut out = [Carveout::default(); MAX_CARVEOUTS];
        let mut n = 0;
        let mut top = lowmem_end;
        for c in self.carveouts {
            let (start, end) = match c.placement {
                Placement::PhysOffset(off) => {
                    let start = phys_offset.saturating_add(off);
                    (start, start.saturating_add(c.size))
                }
                Placement::TopOfLowmem => {
                    let start = top.saturating_sub(c.size) & !(CARVEOUT_ALIGN - 1);
                    top = start;
                    (start, start.saturating_add(c.size))
                }
            };
            let name = c.name;
            let in_ram =
                l.ram().iter().any(|b| b.start.0 <= start && end <= b.end()) && start < end;
            if !in_ram {
                return Err(ProfileError::CarveoutOutsideRam { name, start, end });
            }
            if start < phys_offset || end > lowmem_end {
                return Err(ProfileError::CarveoutOutsideLowmem { name, start, end, lowmem_end });
            }
            if start < kernel_end {
                return Err(ProfileError::CarveoutOverlapsKernel { name, start, end });
            }
            if let Some(o) = out[..n].iter().find(|o| overlaps(start, end, o.start.0, o.end().0)) {
                return Err(ProfileError::CarveoutOverlap { name, start, end, other: o.name });
            }
            let slot = out.get_mut(n).ok_or(ProfileError::TooManyCarveouts)?;
            *slot = Carveout { name, start: PhysAddr(start), size: c.size };
            n += 1;
        }
        Ok((out, n))
    }
}

/// Whether `profile` can be applied with this PAGE_OFFSET and RAM (no `mem=`, `vmalloc=`;
/// CONFIG_HIGHMEM on). `layout::compute_with_profile` runs the same checks and falls back to
/// `linux` on an error.
pub fn validate(
    profile: &Profile,
    page_offset: u64,
    ram_banks: &[MemBank],
) -> Result<(), ProfileError> {
    let input = LayoutInput {
        page_offset,
        banks: ram_banks,
        vmalloc: None,
        mem: &[],
        highmem: true,
        dma_zone_size: None,
    };
    layout::try_compute_with_profile(&input, profile).map(|_: (Layout, LayoutWarnings)| ())
}

/// The profile's partition, for the boot log and the console: its name, carve-outs and holes
/// in the banner's format (`    name : 0xstart - 0xend   (size MB)`).
pub fn write_partition(w: &mut impl fmt::Write, l: &Layout) -> fmt::Result {
    writeln!(w, "Memory layout profile: {}", l.profile)?;
    for c in l.carveouts() {
        writeln!(
            w,
            "    carve-out {:<8}: 0x{:08x} - 0x{:08x}   ({:4} MB) phys",
            c.name,
            c.start.0,
            c.end().0,
            c.size >> 20
        )?;
    }
    for h in l.holes() {
        writeln!(
            w,
            "    unused {:<11}: 0x{:08x} - 0x{:08x}   ({:4} MB)",
            h.name,
            h.start.0,
            h.end.0,
            h.size() >> 20
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::layout::{
        compute, compute_with_profile, write_zone_ranges, LayoutWarning, PfnRange, VMSPLIT_1G,
        VMSPLIT_2G, VMSPLIT_3G_OPT,
    };
    use super::*;
    use crate::boot::cmdline::MemParam;
    use crate::mm::Pfn;
    use proptest::prelude::*;

    const MIB: u64 = SZ_1M;
    /// The device: 1 GiB.
    const DEVICE: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: SZ_1G }];
    /// raspi2b in QEMU: 960 MiB.
    const RASPI2B: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: 960 * MIB }];

    fn input(page_offset: u64, banks: &[MemBank]) -> LayoutInput<'_> {
        LayoutInput {
            page_offset,
            banks,
            vmalloc: None,
            mem: &[],
            highmem: true,
            dma_zone_size: None,
        }
    }

    fn apply(i: &LayoutInput, p: &Profile) -> (Layout, Vec<String>) {
        let (l, w) = compute_with_profile(i, p);
        (l, w.iter().map(ToString::to_string).collect())
    }

    fn mib(bytes: u64) -> u64 {
        bytes / MIB
    }

    fn carveouts(l: &Layout) -> Vec<(&'static str, u64, u64)> {
        l.carveouts().iter().map(|c| (c.name, c.start.0, c.end().0)).collect()
    }

    fn holes(l: &Layout) -> Vec<(&'static str, u64, u64)> {
        l.holes().iter().map(|h| (h.name, h.start.0, h.end.0)).collect()
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(Profile::by_name("linux"), Some(&LINUX));
        assert_eq!(Profile::by_name("Android-A9"), Some(&ANDROID_A9));
        assert_eq!(Profile::by_name("android-a9-720m"), Some(&ANDROID_A9_720M));
        assert_eq!(Profile::by_name("x86-classic"), Some(&X86_CLASSIC));
        assert_eq!(Profile::by_name("android"), None);
        assert_eq!(lookup(None), Ok(&LINUX));
        assert_eq!(lookup(Some("x86-classic")), Ok(&X86_CLASSIC));
        assert_eq!(Profile::by_name("debian-armmp"), Some(&DEBIAN_ARMMP));
        assert_eq!(
            ProfileNames.to_string(),
            "linux, x86-classic, android-a9, android-a9-720m, debian-armmp"
        );
        assert_eq!(
            lookup(Some("rpi")).unwrap_err().to_string(),
            "pivm: unknown profile \"rpi\" (valid: linux, x86-classic, android-a9, android-a9-720m, debian-armmp); using profile linux"
        );
        for p in PROFILES {
            assert!(!p.description.is_empty() && !p.description.contains('\n'));
        }
        // One kernel, one era: the Android device's 3.x kernel, 6.1 everywhere else.
        for p in PROFILES {
            let android = p.name.starts_with("android");
            assert_eq!(p.era, if android { KernelEra::Linux3x } else { KernelEra::Linux61 });
            assert_eq!(p.max_order, if p.name == "debian-armmp" { 12 } else { LINUX_MAX_ORDER });
        }
        // CMA: the Pi's 64 MiB and Debian's; none for the Android device (its pmem carve-out
        // came before CMA) or the i386 picture.
        assert_eq!(LINUX.cma_default, Some(64 << 20));
        assert_eq!(DEBIAN_ARMMP.cma_default, Some(64 << 20));
        assert_eq!(ANDROID_A9.cma_default, None);
        assert_eq!(X86_CLASSIC.cma_default, None);
        assert_eq!(DEBIAN_ARMMP.dma_zone, DmaZoneSpec::AllLowmem);
        assert_eq!(LINUX.dma_zone, DmaZoneSpec::None);
    }

    #[test]
    fn linux_profile_is_the_plain_computation() {
        let two_banks = [
            MemBank { start: PhysAddr(0), size: SZ_16M },
            MemBank { start: PhysAddr(0x1000_0000), size: 256 * MIB },
        ];
        for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G, 0x1234_5678] {
            for banks in [&RASPI2B[..], &DEVICE[..], &two_banks[..]] {
                for (vmalloc, mem, highmem, dma) in [
                    (None, &[][..], true, None),
                    (Some(400 * MIB), &[], false, Some(SZ_16M)),
                    (Some(1), &[MemParam { size: 512 * MIB, start: None }], true, None),
                ] {
                    let i = LayoutInput {
                        vmalloc,
                        mem,
                        highmem,
                        dma_zone_size: dma,
                        ..input(po, banks)
                    };
                    let (l, w) = compute(&i);
                    let (lp, wp) = compute_with_profile(&i, &LINUX);
                    assert_eq!(l, lp);
                    assert_eq!(w, wp);
                    assert_eq!(l.profile, "linux");
                    assert!(l.carveouts().is_empty() && l.holes().is_empty());
                }
            }
        }
    }

    #[test]
    fn android_a9_on_the_3g_build_is_the_device() {
        for (banks, highmem_mib) in [(&DEVICE, 512), (&RASPI2B, 448)] {
            let (l, w) = apply(&input(VMSPLIT_3G, banks), &ANDROID_A9);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(l.profile, "android-a9");
            assert_eq!(mib(l.lowmem_size()), 512);
            assert_eq!(mib(l.highmem_size()), highmem_mib);
            assert_eq!(l.high_memory.0, 0xe000_0000);
            assert_eq!(l.vmalloc_start.0, 0xe080_0000);
            assert_eq!(l.vmalloc_end.0, 0xf000_0000);
            assert_eq!(mib(l.vmalloc_size()), 248);
            assert_eq!(l.modules_vaddr.0, 0xbf00_0000);
            assert_eq!(l.modules_end.0, 0xbfe0_0000);
            assert_eq!(l.pkmap_base, Some(VirtAddr(0xbfe0_0000)));
            assert_eq!(
                carveouts(&l),
                [("CP", 0x1f00_0000, 0x2000_0000), ("pmem", 0x1700_0000, 0x1f00_0000)]
            );
            assert_eq!(mib(l.lowmem_size() - l.carveout_size()), 368);
            assert_eq!(
                holes(&l),
                [("unused", 0xf000_0000, 0xfd10_0000), ("iotable", 0xfd10_0000, 0xff80_0000)]
            );
            assert_eq!(mib(l.holes()[0].size()), 209);
            assert_eq!(l.zones.normal, PfnRange { start: Pfn(0), end: Pfn(0x20000) });
            assert_eq!(l.zones.dma, None);
            assert_eq!(l.zones.highmem.unwrap().start, Pfn(0x20000));
            // Linux's formula for the old `vmalloc=256M`: VMALLOC_END - 256 MiB is lowmem's end.
            assert_eq!(l.vmalloc_end.0 - 256 * MIB, l.high_memory.0);
        }
    }

    #[test]
    fn android_a9_720m_on_the_3g_build() {
        for (banks, highmem_mib) in [(&DEVICE, 304), (&RASPI2B, 240)] {
            let (l, w) = apply(&input(VMSPLIT_3G, banks), &ANDROID_A9_720M);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(mib(l.lowmem_size()), 720);
            assert_eq!(mib(l.highmem_size()), highmem_mib);
            assert_eq!(l.high_memory.0, 0xed00_0000);
            assert_eq!(l.vmalloc_start.0, 0xed80_0000);
            assert_eq!(l.vmalloc_end.0, 0xfd00_0000);
            assert_eq!(mib(l.vmalloc_size()), 248, "the vmalloc range keeps the device's size");
            assert_eq!(
                carveouts(&l),
                [("CP", 0x2c00_0000, 0x2d00_0000), ("pmem", 0x2400_0000, 0x2c00_0000)]
            );
            assert_eq!(
                holes(&l),
                [("placeholder", 0xfd00_0000, 0xfd10_0000), ("iotable", 0xfd10_0000, 0xff80_0000)]
            );
            assert_eq!(l.vmalloc_end.0 - 256 * MIB, l.high_memory.0);
        }
        // The fix moved everything above lowmem up by lowmem's growth.
        let (old, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9);
        let (new, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9_720M);
        assert_eq!(new.vmalloc_end.0 - old.vmalloc_end.0, 208 * MIB);
        assert_eq!(new.vmalloc_start.0 - old.vmalloc_start.0, 208 * MIB);
    }

    #[test]
    fn android_profiles_shift_with_the_split() {
        // (PAGE_OFFSET, profile, high_memory, VMALLOC_END, first hole)
        let cases = [
            (
                VMSPLIT_2G,
                &ANDROID_A9,
                0xa000_0000,
                0xb000_0000,
                ("unused", 0xb000_0000, 0xbd10_0000),
            ),
            (
                VMSPLIT_1G,
                &ANDROID_A9,
                0x6000_0000,
                0x7000_0000,
                ("unused", 0x7000_0000, 0x7d10_0000),
            ),
            (
                VMSPLIT_2G,
                &ANDROID_A9_720M,
                0xad00_0000,
                0xbd00_0000,
                ("placeholder", 0xbd00_0000, 0xbd10_0000),
            ),
            (
                VMSPLIT_1G,
                &ANDROID_A9_720M,
                0x6d00_0000,
                0x7d00_0000,
                ("placeholder", 0x7d00_0000, 0x7d10_0000),
            ),
        ];
        for (po, p, high_memory, vmalloc_end, first) in cases {
            let (l, w) = apply(&input(po, &RASPI2B), p);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(l.high_memory.0, high_memory);
            assert_eq!(l.vmalloc_start.0, high_memory + SZ_8M);
            assert_eq!(l.vmalloc_end.0, vmalloc_end);
            assert_eq!(mib(l.vmalloc_size()), 248);
            assert_eq!(l.modules_vaddr.0, po - SZ_16M);
            let h = holes(&l);
            assert_eq!(h[0], first);
            assert_eq!(h[1], ("iotable", po + 0x3d10_0000, po + 0x3f80_0000));
            assert_eq!(h[2], ("split-shift", po + 0x3f80_0000, FDT_FIXED_BASE));
            assert_eq!(l.carveouts()[0].end(), l.arm_lowmem_limit);
            assert!(validate(p, po, &RASPI2B).is_ok());
        }
    }

    #[test]
    fn x86_classic_zones_at_16m_and_896m() {
        for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G] {
            let (l, w) = apply(&input(po, &RASPI2B), &X86_CLASSIC);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(l.zones.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x1000) }));
            assert_eq!(l.zones.normal, PfnRange { start: Pfn(0x1000), end: Pfn(0x38000) });
            assert_eq!(l.zones.highmem, Some(PfnRange { start: Pfn(0x38000), end: Pfn(0x3c000) }));
            assert_eq!(l.high_memory.0, po + 896 * MIB);
            assert_eq!(l.vmalloc_start.0, po + 904 * MIB);
            assert_eq!(l.vmalloc_end.0, po + SZ_1G - SZ_8M);
            assert_eq!(mib(l.vmalloc_size()), 112);
            // 128 MiB of kernel VA above lowmem, as i386's __VMALLOC_RESERVE.
            assert_eq!(po + SZ_1G - l.high_memory.0, 128 * MIB);
            let shift: Vec<_> = holes(&l);
            if po == VMSPLIT_3G {
                assert!(shift.is_empty());
            } else {
                assert_eq!(shift, [("split-shift", po + SZ_1G - SZ_8M, FDT_FIXED_BASE)]);
            }
        }
        let (l, _) = apply(&input(VMSPLIT_3G, &RASPI2B), &X86_CLASSIC);
        let mut s = String::new();
        write_zone_ranges(&mut s, &l).unwrap();
        assert!(
            s.starts_with(
                "Zone ranges:\n\
             \x20 DMA      [mem 0x0000000000000000-0x0000000000ffffff]\n\
             \x20 Normal   [mem 0x0000000001000000-0x0000000037ffffff]\n\
             \x20 HighMem  [mem 0x0000000038000000-0x000000003bffffff]\n"
            ),
            "{s}"
        );
        // A limit, not a size: less RAM is all lowmem, and vmalloc grows up to VMALLOC_END.
        let small = [MemBank { start: PhysAddr(0), size: 512 * MIB }];
        let (l, w) = apply(&input(VMSPLIT_3G, &small), &X86_CLASSIC);
        assert!(w.is_empty());
        assert_eq!(mib(l.lowmem_size()), 512);
        assert_eq!(l.highmem_size(), 0);
        assert_eq!(l.vmalloc_start.0, 0xe080_0000);
        assert_eq!(l.vmalloc_end.0, 0xff80_0000);
    }

    #[test]
    fn without_highmem_the_rest_is_ignored() {
        let i = LayoutInput { highmem: false, ..input(VMSPLIT_3G, &RASPI2B) };
        let (l, w) = apply(&i, &ANDROID_A9);
        assert_eq!(
            w,
            ["Ignoring RAM at 0x20000000-0x3c000000", "Consider using a HIGHMEM enabled kernel."]
        );
        assert_eq!(mib(l.total_ram), 512);
        assert_eq!(l.carveouts().len(), 2);
    }

    #[test]
    fn vmalloc_parameter_is_ignored_with_fixed_lowmem() {
        let i = LayoutInput { vmalloc: Some(400 * MIB), ..input(VMSPLIT_3G, &RASPI2B) };
        let (l, w) = apply(&i, &ANDROID_A9);
        assert_eq!(w, ["pivm: profile android-a9 fixes lowmem; vmalloc= ignored"]);
        assert_eq!(l.vmalloc_end.0, 0xf000_0000);
        assert_eq!(mib(l.lowmem_size()), 512);
        assert_eq!(mib(l.vmalloc_reserve), 248);
    }

    const fn bad(
        lowmem: Lowmem,
        vmalloc_end: Option<KernelVa>,
        carveouts: &'static [CarveoutSpec],
    ) -> Profile {
        Profile { name: "bad", lowmem, vmalloc_end, carveouts, holes: &[], ..ANDROID_A9 }
    }

    const OVERLAP: Profile = Profile {
        name: "android-a9",
        carveouts: &[
            CarveoutSpec { name: "CP", size: A9_CP, placement: Placement::PhysOffset(0x1e00_0000) },
            CarveoutSpec { name: "pmem", size: A9_PMEM, placement: Placement::TopOfLowmem },
        ],
        ..ANDROID_A9
    };

    #[test]
    fn bad_profiles_are_rejected_with_their_reason() {
        const TOO_BIG: Profile = bad(
            Lowmem::Size(800 * MIB),
            Some(KernelVa::PageOffsetPlus(A9_VMALLOC_END)),
            A9_CARVEOUTS,
        );
        const HIGH_END: Profile =
            bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::PageOffsetPlus(SZ_1G)), &[]);
        const ODD_END: Profile =
            bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::Absolute(0xf010_0000)), &[]);
        const OUTSIDE_RAM: Profile = bad(
            Lowmem::LinuxFormula,
            None,
            &[CarveoutSpec {
                name: "fb",
                size: SZ_16M,
                placement: Placement::PhysOffset(0x3f00_0000),
            }],
        );
        const OUTSIDE_LOWMEM: Profile = bad(
            Lowmem::Size(A9_LOWMEM),
            None,
            &[CarveoutSpec {
                name: "fb",
                size: SZ_16M,
                placement: Placement::PhysOffset(0x3000_0000),
            }],
        );
        const IN_KERNEL: Profile = bad(
            Lowmem::Size(A9_LOWMEM),
            None,
            &[CarveoutSpec {
                name: "fb",
                size: SZ_16M,
                placement: Placement::PhysOffset(0x80_0000),
            }],
        );
        const HUGE_CARVEOUT: Profile = bad(
            Lowmem::Size(A9_LOWMEM),
            None,
            &[CarveoutSpec { name: "pmem", size: SZ_1G, placement: Placement::TopOfLowmem }],
        );
        const EMPTY_CARVEOUT: Profile = bad(
            Lowmem::Size(A9_LOWMEM),
            None,
            &[CarveoutSpec { name: "CP", size: 0, placement: Placement::TopOfLowmem }],
        );
        const HOLE_OVERLAP: Profile = Profile {
            holes: &[
                VaHoleSpec {
                    name: "a",
                    start: KernelVa::Absolute(0xf000_0000),
                    end: KernelVa::Absolute(0xf100_0000),
                },
                VaHoleSpec {
                    name: "b",
                    start: KernelVa::Absolute(0xf080_0000),
                    end: KernelVa::Absolute(0xf200_0000),
                },
            ],
            ..bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::PageOffsetPlus(A9_VMALLOC_END)), &[])
        };
        const HOLE_IN_VMALLOC: Profile = Profile {
            holes: &[VaHoleSpec {
                name: "a",
                start: KernelVa::Absolute(0xe000_0000),
                end: KernelVa::Absolute(0xf100_0000),
            }],
            ..ANDROID_A9
        };
        const ZERO_DMA: Profile = Profile { dma_zone: DmaZoneSpec::Exact(0), ..X86_CLASSIC };
        const ODD_LOWMEM: Profile = bad(Lowmem::Limit(MIB), None, &[]);
        const FORMULA_LOW_END: Profile =
            bad(Lowmem::LinuxFormula, Some(KernelVa::PageOffsetPlus(0x1000_0000)), &[]);

        let po = VMSPLIT_3G;
        let cases: &[(&Profile, &[MemBank], &str)] = &[
            (&OVERLAP, &RASPI2B, "pmem carve-out [0x18000000-0x20000000) overlaps CP"),
            (&TOO_BIG, &RASPI2B, "lowmem of 800MiB leaves no 16MiB vmalloc range below VMALLOC_END 0xf0000000 (at most 744MiB fits)"),
            (&HIGH_END, &RASPI2B, "VMALLOC_END 0x100000000 is above the DT blob and fixmap at 0xff800000"),
            (&ODD_END, &RASPI2B, "VMALLOC_END 0xf0100000 is not 2MiB aligned"),
            (&OUTSIDE_RAM, &RASPI2B, "fb carve-out [0x3f000000-0x40000000) is outside RAM"),
            (&OUTSIDE_LOWMEM, &RASPI2B, "fb carve-out [0x30000000-0x31000000) is outside lowmem (ends at 0x20000000)"),
            (&IN_KERNEL, &RASPI2B, "fb carve-out [0x00800000-0x01800000) overlaps the kernel's first 16MiB"),
            (&HUGE_CARVEOUT, &RASPI2B, "pmem carve-out [0x00000000-0x40000000) is outside RAM"),
            (&EMPTY_CARVEOUT, &RASPI2B, "CP carve-out of 0x0 bytes is empty or not page aligned"),
            (&HOLE_OVERLAP, &RASPI2B, "hole b [0xf0800000-0xf2000000) overlaps hole a"),
            (&HOLE_IN_VMALLOC, &RASPI2B, "hole a [0xe0000000-0xf1000000) is not between VMALLOC_END 0xf0000000 and 0xff800000"),
            (&ZERO_DMA, &RASPI2B, "ZONE_DMA of 0x0 bytes is empty or not page aligned"),
            (&ODD_LOWMEM, &RASPI2B, "lowmem of 1MiB is not a non-zero multiple of 2MiB"),
            (&FORMULA_LOW_END, &RASPI2B, "PAGE_OFFSET 0xc0000000 to VMALLOC_END 0xd0000000 has no room for lowmem and a vmalloc range"),
            (
                &ANDROID_A9,
                &[MemBank { start: PhysAddr(0), size: 256 * MIB }],
                "lowmem of 512MiB needs more RAM than the 256MiB from PHYS_OFFSET",
            ),
            (
                &ANDROID_A9_720M,
                &[MemBank { start: PhysAddr(0), size: 512 * MIB }],
                "lowmem of 720MiB needs more RAM than the 512MiB from PHYS_OFFSET",
            ),
        ];
        for &(p, banks, msg) in cases {
            let err = validate(p, po, banks).unwrap_err();
            assert_eq!(err.to_string(), msg);
            // The boot falls back to Linux's layout, saying why first.
            let i = input(po, banks);
            let (l, w) = apply(&i, p);
            assert_eq!(w[0], format!("pivm: profile {}: {msg}; using profile linux", p.name));
            assert_eq!(w.len(), 1);
            assert_eq!(l, compute(&i).0);
            assert_eq!(l.profile, "linux");
        }
        assert_eq!(
            apply(&input(po, &RASPI2B), &OVERLAP).1[0],
            "pivm: profile android-a9: pmem carve-out [0x18000000-0x20000000) overlaps CP; using profile linux"
        );
    }

    #[test]
    fn rejection_keeps_linux_warnings() {
        let i = LayoutInput { vmalloc: Some(1), ..input(0x1234_5678, &RASPI2B) };
        let (_, w) = apply(&i, &OVERLAP);
        assert_eq!(
            w,
            [
                "pivm: profile android-a9: pmem carve-out [0x18000000-0x20000000) overlaps CP; using profile linux",
                "PAGE_OFFSET 0x12345678 is not supported; using 0xc0000000",
                "vmalloc area is too small, limiting to 16MiB",
            ]
        );
        assert!(matches!(
            compute_with_profile(&i, &OVERLAP).1.iter().next(),
            Some(LayoutWarning::ProfileRejected(ProfileRejected { profile: "android-a9", .. }))
        ));
    }

    #[test]
    fn every_profile_fits_every_build() {
        for p in PROFILES {
            for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G] {
                for banks in [&DEVICE, &RASPI2B] {
                    assert_eq!(validate(p, po, banks), Ok(()), "{} {po:#x}", p.name);
                    let (l, w) = compute_with_profile(&input(po, banks), p);
                    assert!(w.is_empty());
                    assert_eq!(l.profile, p.name);
                    assert!(l.vmalloc_size() >= VMALLOC_MIN_SIZE);
                    assert_eq!(l.total_ram, l.lowmem_size() + l.highmem_size());
                }
            }
        }
    }

    #[test]
    fn partition_report() {
        let (l, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9);
        let mut s = String::new();
        write_partition(&mut s, &l).unwrap();
        assert_eq!(
            s,
            "Memory layout profile: android-a9\n\
             \x20   carve-out CP      : 0x1f000000 - 0x20000000   (  16 MB) phys\n\
             \x20   carve-out pmem    : 0x17000000 - 0x1f000000   ( 128 MB) phys\n\
             \x20   unused unused     : 0xf0000000 - 0xfd100000   ( 209 MB)\n\
             \x20   unused iotable    : 0xfd100000 - 0xff800000   (  39 MB)\n"
        );
    }

    /// A profile built from arbitrary numbers (leaked: profiles hold `'static` slices).
    fn arbitrary_profile(
        lowmem: u8,
        bytes: u64,
        end: Option<u64>,
        carve: Vec<(u64, Option<u64>)>,
        hole: Option<(u64, u64)>,
        dma: Option<u64>,
    ) -> &'static Profile {
        let carveouts: Vec<CarveoutSpec> = carve
            .into_iter()
            .map(|(size, at)| CarveoutSpec {
                name: "c",
                size,
                placement: at.map_or(Placement::TopOfLowmem, Placement::PhysOffset),
            })
            .collect();
        let holes: Vec<VaHoleSpec> = hole
            .into_iter()
            .map(|(s, e)| VaHoleSpec {
                name: "h",
                start: KernelVa::Absolute(s),
                end: KernelVa::PageOffsetPlus(e),
            })
            .collect();
        Box::leak(Box::new(Profile {
            name: "arb",
            description: "",
            lowmem: match lowmem % 3 {
                0 => Lowmem::LinuxFormula,
                1 => Lowmem::Size(bytes),
                _ => Lowmem::Limit(bytes),
            },
            vmalloc_end: end.map(KernelVa::PageOffsetPlus),
            holes: Box::leak(holes.into_boxed_slice()),
            carveouts: Box::leak(carveouts.into_boxed_slice()),
            dma_zone: dma.map_or(DmaZoneSpec::None, DmaZoneSpec::Exact),
            max_order: 11,
            era: KernelEra::Linux61,
            cma_default: None,
            kmalloc_max_size: None,
            vmalloc_meminfo: VmallocMeminfo::NrPages,
        }))
    }

    proptest! {
        #[test]
        fn any_profile_is_applied_or_rejected_never_broken(
            po in prop_oneof![Just(VMSPLIT_3G), Just(VMSPLIT_2G), Just(VMSPLIT_1G), any::<u64>()],
            ram in 0u64..0x1_0000_0000,
            lowmem in any::<u8>(),
            bytes in prop_oneof![(0u64..2048).prop_map(|m| m * MIB), any::<u64>()],
            end in proptest::option::of(prop_oneof![(0u64..4096).prop_map(|m| m * MIB), any::<u64>()]),
            carve in proptest::collection::vec(((0u64..256).prop_map(|m| m * MIB), proptest::option::of((0u64..1024).prop_map(|m| m * MIB))), 0..10),
            hole in proptest::option::of((0u64..0x1_0000_0000, 0u64..0x1_0000_0000)),
            dma in proptest::option::of(0u64..0x1_0000_0000),
            vmalloc in proptest::option::of(any::<u64>()),
            highmem in any::<bool>(),
        ) {
            let p = arbitrary_profile(lowmem, bytes, end, carve, hole, dma);
            let banks = [MemBank { start: PhysAddr(0), size: ram }];
            let i = LayoutInput { vmalloc, highmem, ..input(po, &banks) };
            let ok = layout::try_compute_with_profile(&i, p).is_ok();
            let (l, w) = compute_with_profile(&i, p);
            for w in w.iter() {
                prop_assert!(!w.to_string().contains('\n'));
            }
            prop_assert_eq!(ok, l.profile == "arb");
            if !ok {
                prop_assert_eq!(l, compute(&i).0);
                continue_test(&l)?;
            } else {
                continue_test(&l)?;
                prop_assert!(l.vmalloc_size() >= VMALLOC_MIN_SIZE);
                prop_assert!(l.vmalloc_end.0 <= FDT_FIXED_BASE);
                let cs = l.carveouts();
                for (n, c) in cs.iter().enumerate() {
                    prop_assert!(c.start.0 >= l.ram_start.0 + KERNEL_RAM_MIN);
                    prop_assert!(c.end() <= l.arm_lowmem_limit);
                    prop_assert!(cs[..n].iter().all(|o| !overlaps(c.start.0, c.end().0, o.start.0, o.end().0)));
                }
                for h in l.holes() {
                    prop_assert!(h.start.0 >= l.vmalloc_end.0 && h.end.0 <= FDT_FIXED_BASE);
                }
            }
        }
    }

    fn continue_test(l: &Layout) -> Result<(), TestCaseError> {
        prop_assert!(l.high_memory <= l.vmalloc_start);
        prop_assert!(l.vmalloc_start <= l.vmalloc_end);
        prop_assert!(l.memblock_limit <= l.arm_lowmem_limit);
        let mut s = String::new();
        write_partition(&mut s, l).unwrap();
        Ok(())
    }
}
