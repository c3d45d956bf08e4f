//! The pure part of `vmalloc`/`ioremap` around the area allocator: the GFP masks Linux 6.1
//! uses at each step, its failure messages with the mask each one goes to `warn_alloc()`
//! with, and ARM's refusal to ioremap RAM. The kernel (`kernel::vmalloc`) does the rest.
use core::fmt;

use super::VmapError;
use crate::mm::gfp::GfpFlags;

/// `GFP_RECLAIM_MASK` (mm/internal.h): the flags a nested allocation inherits.
pub const GFP_RECLAIM_MASK: GfpFlags = GfpFlags::__GFP_RECLAIM
    .union(GfpFlags::__GFP_HIGH)
    .union(GfpFlags::__GFP_IO)
    .union(GfpFlags::__GFP_FS)
    .union(GfpFlags::__GFP_NOWARN)
    .union(GfpFlags::__GFP_RETRY_MAYFAIL)
    .union(GfpFlags::__GFP_NOFAIL)
    .union(GfpFlags::__GFP_NORETRY)
    .union(GfpFlags::__GFP_MEMALLOC)
    .union(GfpFlags::__GFP_NOMEMALLOC);

/// `vmalloc()`'s mask: `__vmalloc_node(size, 1, GFP_KERNEL, ...)`.
pub const VMALLOC_GFP: GfpFlags = GfpFlags::GFP_KERNEL;

/// The mask `__vmalloc_area_node()` works with from its start in 6.1: `__GFP_NOWARN` is
/// added first (so its own `warn_alloc()` calls print nothing, until 6.3 moved it), then
/// `__GFP_HIGHMEM` unless the caller asked for a DMA zone. Pages are taken with it.
pub const fn vmalloc_area_gfp(gfp: GfpFlags) -> GfpFlags {
    let gfp = gfp.union(GfpFlags::__GFP_NOWARN);
    if gfp.intersects(GfpFlags::GFP_DMA.union(GfpFlags::GFP_DMA32)) {
        gfp
    } else {
        gfp.union(GfpFlags::__GFP_HIGHMEM)
    }
}

/// The mask of the `pages[]` array's own allocation: `(gfp & GFP_RECLAIM_MASK) | __GFP_ZERO`.
pub const fn nested_gfp(gfp: GfpFlags) -> GfpFlags {
    gfp.intersection(GFP_RECLAIM_MASK).union(GfpFlags::__GFP_ZERO)
}

/// A vmalloc-family failure. `Display` is the message alone, as `warn_alloc()` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmallocError {
    /// `vmalloc(0)`: Linux WARNs once and returns NULL; pivm says why.
    ZeroSize,
    /// `__vmalloc_node_range`: `vmalloc error: size %lu, exceeds total pages`.
    ExceedsTotalPages { size: u64, gfp: GfpFlags },
    /// `__get_vm_area_node` failed: no room (`err` is `NoSpace`, after the `vmap allocation
    /// for size ... failed` line) or no memory for the `vm_struct`/`vmap_area`.
    VmStruct { size: u64, gfp: GfpFlags, err: VmapError },
    /// `__vmalloc_area_node`: the `pages[]` array could not be allocated.
    PagesArray { size: u64, array_size: u64, gfp: GfpFlags },
    /// `__vmalloc_area_node`: a page could not be allocated; `obtained` bytes were.
    Pages { obtained: u64, gfp: GfpFlags },
    /// `__vmalloc_area_node`: a page table could not be allocated.
    Map { size: u64, gfp: GfpFlags },
    /// `ioremap` of a size 0 or a range past the end of the physical address space.
    IoremapRange { phys: u64, size: u64 },
    /// `ioremap` of RAM: Linux's ARM `__arm_ioremap_pfn_caller` refuses it; pivm also
    /// refuses RAM the firmware reported that `mem=` left out.
    IoremapRam { phys: u64, excluded: bool },
    /// `ioremap`: no room (the `vmap allocation ... failed` line) or no memory.
    IoremapArea(VmapError),
    /// A bad `vfree`/`iounmap` address (Linux's WARN texts).
    BadFree(VmapError),
    /// `iounmap` of an area that is not an ioremap, or `vfree` of one that is.
    WrongKind { addr: u64, expected: &'static str },
}

impl fmt::Display for VmallocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroSize => f.write_str("vmalloc: size 0 (Linux returns NULL)"),
            Self::ExceedsTotalPages { size, .. } => {
                write!(f, "vmalloc error: size {size}, exceeds total pages")
            }
            Self::VmStruct { size, .. } => {
                write!(f, "vmalloc error: size {size}, vm_struct allocation failed")
            }
            Self::PagesArray { size, array_size, .. } => write!(
                f,
                "vmalloc error: size {size}, failed to allocated page array size {array_size}"
            ),
            Self::Pages { obtained, .. } => {
                write!(f, "vmalloc error: size {obtained}, page order 0, failed to allocate pages")
            }
            Self::Map { size, .. } => write!(f, "vmalloc error: size {size}, failed to map pages"),
            Self::IoremapRange { phys, size } => {
                write!(f, "ioremap: size {size} at {phys:#x} is empty or runs past 4 GiB")
            }
            Self::IoremapRam { phys, excluded: false } => {
                write!(f, "ioremap: {phys:#010x} is RAM: use the linear map, not ioremap")
            }
            Self::IoremapRam { phys, excluded: true } => write!(
                f,
                "ioremap: {phys:#010x} is RAM (left out by mem=): Linux's ARM ioremap refuses RAM"
            ),
            Self::IoremapArea(e) | Self::BadFree(e) => write!(f, "{e}"),
            Self::WrongKind { addr, expected } => {
                write!(f, "{addr:#010x} is not {expected} area")
            }
        }
    }
}

impl VmallocError {
    /// The line Linux prints before this failure: `alloc_vmap_area()`'s
    /// `vmap allocation for size %lu failed: use vmalloc=<size> to increase size`.
    pub fn preface(&self) -> Option<VmapError> {
        match *self {
            Self::VmStruct { err: e @ VmapError::NoSpace { .. }, .. }
            | Self::IoremapArea(e @ VmapError::NoSpace { .. }) => Some(e),
            _ => None,
        }
    }

    /// The mask this failure goes to `warn_alloc()` with, if it does.
    pub fn warn_gfp(&self) -> Option<GfpFlags> {
        match *self {
            Self::ExceedsTotalPages { gfp, .. }
            | Self::VmStruct { gfp, .. }
            | Self::PagesArray { gfp, .. }
            | Self::Pages { gfp, .. }
            | Self::Map { gfp, .. } => Some(gfp),
            _ => None,
        }
    }

    /// Whether Linux 6.1 prints anything at all for it (the preface, or a `warn_alloc()`
    /// without `__GFP_NOWARN`); an `IoremapArea` without room prints its preface only.
    pub fn linux_prints(&self) -> bool {
        self.preface().is_some()
            || self.warn_gfp().is_some_and(|g| !g.contains(GfpFlags::__GFP_NOWARN))
    }
}

/// The one line pivm prints where 6.1's `warn_alloc()` stays silent because the mask has
/// `__GFP_NOWARN`: the message and mask Linux computed, and that it printed nothing.
pub fn write_silent_warning(
    w: &mut dyn fmt::Write,
    e: &VmallocError,
    gfp: GfpFlags,
) -> fmt::Result {
    writeln!(
        w,
        "{e}, mode:{:#x}({gfp}) (not printed by Linux 6.1: warn_alloc() skips __GFP_NOWARN)",
        gfp.bits()
    )
}

/// ARM's `ioremap` refusal of RAM, for `[phys, phys + size)`: RAM in the linear map
/// (`map_memory`: memblock memory without NOMAP, which Linux's `memblock_is_map_memory`
/// tests), or RAM the firmware reported (`firmware`) that memblock does not hold at all
/// (`memory`: every memblock region, NOMAP ones included), i.e. RAM `mem=` left out. NOMAP
/// RAM (a device tree's `no-map` reservation) may be ioremapped, as in Linux. Linux checks the
/// first page only; pivm checks every page. Ranges are `(start, end)`, `memory` sorted.
pub fn ioremap_check(
    phys: u64,
    size: u64,
    map_memory: impl IntoIterator<Item = (u64, u64)>,
    memory: &[(u64, u64)],
    firmware: impl IntoIterator<Item = (u64, u64)>,
) -> Result<(), VmallocError> {
    let end = match phys.checked_add(size) {
        Some(e) if size != 0 && e <= 1 << 32 => e,
        _ => return Err(VmallocError::IoremapRange { phys, size }),
    };
    let hit = |(s, e): (u64, u64)| s < end && phys < e;
    if map_memory.into_iter().any(hit) {
        return Err(VmallocError::IoremapRam { phys, excluded: false });
    }
    // A firmware bank's part of the range that memblock's regions do not cover.
    let uncovered = |(s, e): (u64, u64)| {
        let (mut at, stop) = (s.max(phys), e.min(end));
        for &(ms, me) in memory {
            if at >= stop {
                break;
            }
            if ms <= at && at < me {
                at = me;
            }
        }
        at < stop
    };
    if firmware.into_iter().filter(|&r| hit(r)).any(uncovered) {
        return Err(VmallocError::IoremapRam { phys, excluded: true });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(e: &VmallocError) -> String {
        let mut s = String::new();
        if let Some(p) = e.preface() {
            s += &format!("{p}\n");
        }
        match e.warn_gfp() {
            Some(g) if g.contains(GfpFlags::__GFP_NOWARN) => {
                write_silent_warning(&mut s, e, g).unwrap()
            }
            Some(g) => {
                s += &format!("swapper/0: {e}, mode:{:#x}({g}), nodemask=(null)\n", g.bits())
            }
            None => s += &format!("{e}\n"),
        }
        s
    }

    /// 6.1's masks: `vmalloc()` goes in with GFP_KERNEL, which its two `__vmalloc_node_range`
    /// warnings print; `__vmalloc_area_node` has added `__GFP_NOWARN` and `__GFP_HIGHMEM`
    /// before its own three, so they print nothing in 6.1.
    #[test]
    fn masks_and_messages_are_6_1s() {
        assert_eq!(VMALLOC_GFP.bits(), 0xcc0);
        let area = vmalloc_area_gfp(VMALLOC_GFP);
        assert_eq!(area.bits(), 0x2cc2);
        assert_eq!(area.to_string(), "GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN");
        assert_eq!(vmalloc_area_gfp(GfpFlags::GFP_KERNEL | GfpFlags::GFP_DMA).bits(), 0x2cc1);
        let nested = nested_gfp(VMALLOC_GFP);
        assert_eq!((nested.bits(), nested.to_string()), (0xdc0, "GFP_KERNEL|__GFP_ZERO".into()));
        assert_eq!(nested_gfp(area).bits(), 0x2dc0);

        let cases = [
            (
                VmallocError::ExceedsTotalPages { size: 1 << 32, gfp: VMALLOC_GFP },
                "swapper/0: vmalloc error: size 4294967296, exceeds total pages, \
                 mode:0xcc0(GFP_KERNEL), nodemask=(null)\n",
            ),
            (
                VmallocError::VmStruct {
                    size: 1 << 20,
                    gfp: VMALLOC_GFP,
                    err: VmapError::NoSpace { size: (1 << 20) + 4096 },
                },
                "vmap allocation for size 1052672 failed: use vmalloc=<size> to increase size\n\
                 swapper/0: vmalloc error: size 1048576, vm_struct allocation failed, \
                 mode:0xcc0(GFP_KERNEL), nodemask=(null)\n",
            ),
            (
                VmallocError::VmStruct {
                    size: 4096,
                    gfp: VMALLOC_GFP,
                    err: VmapError::NoMemory { what: "vm_struct", size: 4096 },
                },
                "swapper/0: vmalloc error: size 4096, vm_struct allocation failed, \
                 mode:0xcc0(GFP_KERNEL), nodemask=(null)\n",
            ),
            (
                VmallocError::Pages { obtained: 8192, gfp: area },
                "vmalloc error: size 8192, page order 0, failed to allocate pages, \
                 mode:0x2cc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN) \
                 (not printed by Linux 6.1: warn_alloc() skips __GFP_NOWARN)\n",
            ),
            (
                VmallocError::PagesArray { size: 8 << 20, array_size: 8192, gfp: area },
                "vmalloc error: size 8388608, failed to allocated page array size 8192, \
                 mode:0x2cc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN) \
                 (not printed by Linux 6.1: warn_alloc() skips __GFP_NOWARN)\n",
            ),
            (
                VmallocError::Map { size: 4096, gfp: area },
                "vmalloc error: size 4096, failed to map pages, \
                 mode:0x2cc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN) \
                 (not printed by Linux 6.1: warn_alloc() skips __GFP_NOWARN)\n",
            ),
            (
                VmallocError::IoremapArea(VmapError::NoSpace { size: 8192 }),
                "vmap allocation for size 8192 failed: use vmalloc=<size> to increase size\n\
                 vmap allocation for size 8192 failed: use vmalloc=<size> to increase size\n",
            ),
            (
                VmallocError::WrongKind { addr: 0xbc80_0000, expected: "an ioremap" },
                "0xbc800000 is not an ioremap area\n",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(report(&e), want, "{e:?}");
        }
        assert!(VmallocError::ExceedsTotalPages { size: 1, gfp: VMALLOC_GFP }.linux_prints());
        assert!(!VmallocError::Pages { obtained: 0, gfp: area }.linux_prints());
    }

    #[test]
    fn ioremap_refuses_ram_and_ram_left_out_by_mem() {
        // mem=512M@512M on 960 MiB: memblock has [512M, 960M), the firmware said [0, 960M).
        let memory = [(0x2000_0000, 0x3c00_0000)];
        let firmware = [(0, 0x3c00_0000)];
        let check = |phys, size| ioremap_check(phys, size, memory, &memory, firmware);
        let ram = |phys, excluded| Err(VmallocError::IoremapRam { phys, excluded });
        assert_eq!(check(0x3f20_1000, 0x1000), Ok(()));
        assert_eq!(check(0x2000_0000, 4), ram(0x2000_0000, false));
        assert_eq!(check(0x1000_0000, 4096), ram(0x1000_0000, true));
        // The last page of RAM, reached by a range that starts below it... and one after.
        assert_eq!(check(0x3bff_f000, 8192), ram(0x3bff_f000, false));
        assert_eq!(check(0x3c00_0000, 8192), Ok(()));
        assert_eq!(
            check(0x3f00_0000, 0),
            Err(VmallocError::IoremapRange { phys: 0x3f00_0000, size: 0 })
        );
        assert_eq!(
            check(0xffff_f000, 0x2000),
            Err(VmallocError::IoremapRange { phys: 0xffff_f000, size: 0x2000 })
        );
        assert_eq!(
            VmallocError::IoremapRam { phys: 0x1000_0000, excluded: true }.to_string(),
            "ioremap: 0x10000000 is RAM (left out by mem=): Linux's ARM ioremap refuses RAM"
        );
    }

    /// A device tree's `no-map` region stays memblock memory but leaves the linear map: Linux
    /// lets drivers ioremap it, and so does pivm.
    #[test]
    fn ioremap_allows_nomap_ram() {
        let memory = [(0, 0x1000_0000), (0x1000_0000, 0x1010_0000), (0x1010_0000, 0x3c00_0000)];
        let map_memory = [(0, 0x1000_0000), (0x1010_0000, 0x3c00_0000)];
        let firmware = [(0, 0x3c00_0000)];
        let check = |phys, size| ioremap_check(phys, size, map_memory, &memory, firmware);
        assert_eq!(check(0x1000_0000, 0x10_0000), Ok(()));
        assert_eq!(
            check(0x100f_f000, 0x2000),
            Err(VmallocError::IoremapRam { phys: 0x100f_f000, excluded: false })
        );
    }

    /// 6.1's meminfo semantics by default; the 3.x ones belong to the Android profiles.
    #[test]
    fn meminfo_era_is_profile_data() {
        use crate::mm::era::{self, VmallocMeminfo};
        assert_eq!(era::LINUX_61_RPI.vmalloc_meminfo, VmallocMeminfo::NrPages);
        assert_eq!(era::LINUX_61_DEBIAN_ARMMP.vmalloc_meminfo, VmallocMeminfo::NrPages);
        assert_eq!(era::LINUX_61_I386_ZONES.vmalloc_meminfo, VmallocMeminfo::NrPages);
        assert_eq!(era::LINUX_3X_ANDROID.vmalloc_meminfo, VmallocMeminfo::AreaSizes);
    }
}
