//! Memory-layout profiles: the layouts real Linux systems shipped with, as `const` data
//! (lowmem size or limit, `VMALLOC_END`, unused kernel VA, reserved carve-outs), each with the
//! kernel it ran (`mm::era::Era`: allocator behaviour, ZONE_DMA, CMA, kmalloc's ceiling), the
//! checks that decide whether one fits this build (`Profile::plan`, resolved to a `VaPlan`),
//! and the resolved partition (`Carveout`, `VaHole`) that the layout records for memblock,
//! /proc/iomem and ptdump.
//!
//! A profile is selected with `pivm.profile=NAME`. Applying its plan, and placing its
//! carve-outs in the RAM, is `arch::layout::compute_with_profile` (this module does not know
//! the layout code); a profile that does not fit is rejected with a one-line reason and the
//! layout falls back to `linux`, so a bad profile never stops the boot.
use core::fmt;

use super::memory::{
    FDT_FIXED_BASE, KERNEL_RAM_MIN, PMD_SIZE, VMALLOC_DEFAULT_SIZE, VMALLOC_END, VMALLOC_MIN_SIZE,
    VMALLOC_OFFSET, VMSPLIT_3G,
};
use crate::mm::era::{
    DmaZoneSpec, Era, EraCell, ERA_ROWS, LINUX_3X_ANDROID, LINUX_61_DEBIAN_ARMMP,
    LINUX_61_I386_ZONES, LINUX_61_RPI,
};
use crate::mm::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::sizes::{SZ_16M, SZ_1G, SZ_1M, SZ_32M, SZ_8M};

/// Carve-outs a profile may reserve (fixed array in `Layout`, no heap at boot).
pub const MAX_CARVEOUTS: usize = 8;
/// Named kernel VA holes a profile may declare.
pub const MAX_VA_HOLES: usize = 8;
/// Carve-outs placed at the top of lowmem start on a section boundary, as vendors kept them so
/// the modem and pmem drivers could map them with 1 MiB sections.
pub const CARVEOUT_ALIGN: u64 = SZ_1M;

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
    /// The kernel the modelled system ran: everything its Linux version and configuration
    /// decide (allocator behaviour, `MAX_ORDER`, ZONE_DMA, CMA, kmalloc, meminfo), in one
    /// place (`mm::era`).
    pub era: &'static Era,
}

/// Linux's own computation for the build's split: exactly what pivm does without a profile.
pub const LINUX: Profile = Profile {
    name: "linux",
    description: "Linux's own layout for this build's split (adjust_lowmem_bounds)",
    lowmem: Lowmem::LinuxFormula,
    vmalloc_end: None,
    holes: &[],
    carveouts: &[],
    era: &LINUX_61_RPI,
};

/// i386's MAXMEM on a 3G/1G split: 1 GiB of kernel VA minus the 128 MiB `__VMALLOC_RESERVE`.
pub(super) const X86_MAXMEM: u64 = 896 * SZ_1M;
/// i386's kernel VA window: PAGE_OFFSET + 1 GiB, less the 8 MiB ARM keeps at the top for the
/// DT blob, fixmap and vectors (i386 kept pkmap and fixmap there). On the 3G build this is
/// ARM's own VMALLOC_END, 0xff800000.
pub(super) const X86_VMALLOC_END: u64 = SZ_1G - SZ_8M;

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
    era: &LINUX_61_I386_ZONES,
};

// The Cortex-A9 Android device of the vmalloc case study, as offsets from its PAGE_OFFSET
// (0xc0000000). Its kernel predates 5.14, where `vmalloc=256M` meant vmalloc_min =
// VMALLOC_END - 256 MiB: with the board's VMALLOC_END of 0xf0000000 that gives exactly 512 MiB
// of lowmem and a 248 MiB vmalloc range, 0xe0800000-0xf0000000.
/// The device's lowmem.
pub(super) const A9_LOWMEM: u64 = 512 * SZ_1M;
/// The device's VMALLOC_END, 0xf0000000 on its 3G/1G split.
pub(super) const A9_VMALLOC_END: u64 = 0x3000_0000;
/// The unused kernel VA above VMALLOC_END, 0xf0000000-0xfd100000: "about 200 MiB". It is 209
/// MiB because the fix moved 208 MiB of it (720 - 512) into lowmem and kept 1 MiB.
pub(super) const A9_UNUSED: u64 = 209 * SZ_1M;
/// Above the unused range, up to the DT blob at 0xff800000: the SoC's static device mappings
/// (`iotable_init`). pivm ioremaps its peripherals instead, so this stays unmapped.
pub(super) const A9_IOTABLE: u64 = A9_VMALLOC_END + A9_UNUSED;
/// Where the shifted (2G/1G) builds' kernel VA past the device's window starts.
pub(super) const A9_WINDOW_END: u64 = FDT_FIXED_BASE - VMSPLIT_3G;
/// The modem ("CP", communication processor) carve-out.
pub(super) const A9_CP: u64 = SZ_16M;
/// Android's `pmem` contiguous pool for the camera, video codec and GPU.
pub(super) const A9_PMEM: u64 = 128 * SZ_1M;
/// Both carve-outs at the top of lowmem, CP first (topmost) then pmem below it, as the
/// board file reserved them top-down at boot: 512 - 144 = 368 MiB of lowmem stay for the
/// kernel's allocators ("about 360 MiB" once the kernel image is loaded).
pub(super) const A9_CARVEOUTS: &[CarveoutSpec] = &[
    CarveoutSpec { name: "CP", size: A9_CP, placement: Placement::TopOfLowmem },
    CarveoutSpec { name: "pmem", size: A9_PMEM, placement: Placement::TopOfLowmem },
];
/// Beyond the device's window: only non-empty on the 2G/1G builds.
pub(super) const A9_SPLIT_SHIFT: VaHoleSpec = VaHoleSpec {
    name: "split-shift",
    start: KernelVa::PageOffsetPlus(A9_WINDOW_END),
    end: KernelVa::Absolute(FDT_FIXED_BASE),
};
pub(super) const A9_IOTABLE_HOLE: VaHoleSpec = VaHoleSpec {
    name: "iotable",
    start: KernelVa::PageOffsetPlus(A9_IOTABLE),
    end: KernelVa::PageOffsetPlus(A9_WINDOW_END),
};

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
    era: &LINUX_3X_ANDROID,
};

/// Lowmem after the fix.
pub(super) const A9_FIX_LOWMEM: u64 = 720 * SZ_1M;
/// How far everything above lowmem moved: 208 MiB.
pub(super) const A9_FIX_SHIFT: u64 = A9_FIX_LOWMEM - A9_LOWMEM;
/// VMALLOC_END after the fix, 0xfd000000: the range keeps its 248 MiB and moves up with lowmem.
pub(super) const A9_FIX_VMALLOC_END: u64 = A9_VMALLOC_END + A9_FIX_SHIFT;
/// The 1 MiB of the old unused range the fix kept, 0xfd000000-0xfd100000.
pub(super) const A9_FIX_PLACEHOLDER: u64 = A9_UNUSED - A9_FIX_SHIFT;

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
    era: &LINUX_3X_ANDROID,
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
    era: &LINUX_61_DEBIAN_ARMMP,
};

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

/// The eras the profiles use, each once, in the order of `PROFILES`.
fn eras() -> impl Iterator<Item = &'static Era> {
    PROFILES
        .iter()
        .enumerate()
        .filter(|&(i, p)| !PROFILES[..i].iter().any(|q| q.era == p.era))
        .map(|(_, p)| p.era)
}

/// The README's "one kernel, one era" table (Markdown), read straight from the eras the
/// profiles name: a column per era, headed by its kernel and the profiles that run it, a row
/// per `mm::era::ERA_ROWS` entry.
pub fn write_era_table(w: &mut impl fmt::Write) -> fmt::Result {
    w.write_str("|")?;
    for era in eras() {
        write!(w, " | {} (", era.kernel)?;
        let users = PROFILES.iter().filter(|p| p.era == era);
        for (i, p) in users.enumerate() {
            write!(w, "{}`{}`", if i > 0 { ", " } else { "" }, p.name)?;
        }
        w.write_str(")")?;
    }
    w.write_str(" |\n|---|")?;
    for _ in eras() {
        w.write_str("---|")?;
    }
    w.write_str("\n")?;
    for row in ERA_ROWS {
        write!(w, "| {} |", row.name)?;
        for era in eras() {
            write!(w, " {} |", EraCell { era, row })?;
        }
        w.write_str("\n")?;
    }
    Ok(())
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
        self.end.as_u64() - self.start.as_u64()
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
            None => VMALLOC_END,
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
        if let DmaZoneSpec::Exact(size) = self.era.dma_zone {
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
            dma_zone: self.era.dma_zone,
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
            let overlapping = |o: &&VaHole| overlaps(start, end, o.start.as_u64(), o.end.as_u64());
            if let Some(o) = holes[..n].iter().find(overlapping) {
                return Err(ProfileError::HoleOverlap { name: h.name, start, end, other: o.name });
            }
            // Both ends are at most FDT_FIXED_BASE (checked above), inside the address space.
            let (Some(va_start), Some(va_end)) =
                (VirtAddr::try_from_u64(start), VirtAddr::try_from_u64(end))
            else {
                return Err(ProfileError::HoleOutside { name: h.name, start, end, vmalloc_end });
            };
            let slot = holes.get_mut(n).ok_or(ProfileError::TooManyHoles)?;
            *slot = VaHole { name: h.name, start: va_start, end: va_end };
            n += 1;
        }
        Ok((holes, n))
    }
}
