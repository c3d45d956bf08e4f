//! The running kernel's state: what boot found and computed, fixed once `kernel_main` has
//! set it, then read by the console commands. Also the boot steps that need it.
//!
//! Both kernels build every module here (the allocators, interrupts, time, processes, the SD
//! card and swap); what differs per architecture goes through the `arch` facade, and the boot
//! steps through `setup`.
pub mod blkdev;
pub mod cardfs;
pub mod cma;
pub mod irq;
pub mod mem;
pub mod process;
pub mod ratelimit;
pub mod scenario;
/// The architecture's steps of the one boot sequence (`start_kernel` in `main.rs`), as
/// Linux's `start_kernel` calls `setup_arch`, `paging_init`, `mem_init`: the first lines of the
/// log, where the boot parameters are read, the layout, the RAM and reservations for memblock,
/// the linear map, the zone lines, the banner, the console's start. The two files have the same
/// functions; each reaches its CPU through the `arch::` facade.
#[cfg(all(kernel, target_arch = "arm"))]
#[path = "setup/arm.rs"]
pub mod setup;
#[cfg(all(kernel, target_arch = "aarch64"))]
#[path = "setup/arm64.rs"]
pub mod setup;
pub mod spinlock;
pub mod swap;
pub mod sysctl;
pub mod sysrq;
pub mod time;
pub mod vmalloc;
pub mod vsyscall;
pub mod watchdog;

use spin::Once;

use crate::arch::layout::Layout;
use crate::boot::cmdline::BootParams;
use crate::boot::BootInfo;
use crate::boot::BootSource;
use crate::boot::{atags, dtb, params};
use crate::mm::memblock::Memblock;

/// How the loader started us (from the entry registers).
#[derive(Clone, Copy, Debug)]
pub struct EntryState {
    /// r2 (arm64: x0): ATAG list or DTB physical address (0 from QEMU's ELF loader).
    pub params_reg: u64,
    /// r1: machine type (0 on arm64, whose boot protocol has none).
    pub machine: u32,
    /// CPSR at entry (HYP on the Pi firmware, SVC under QEMU); on arm64 the entry exception
    /// level as PSTATE.M would name it (EL2h from the firmware's path, EL3h from QEMU's ELF).
    pub entry_cpsr: u32,
    /// Physical address the image was loaded at (ARMv7: before relocation to
    /// PHYS_OFFSET+0x8000; arm64: 0x80000).
    pub load_addr: u64,
}

/// Everything boot established.
pub struct Kernel {
    pub entry: EntryState,
    pub boot: BootInfo,
    pub params: BootParams,
    pub layout: Layout,
    pub memblock: Memblock,
}

static KERNEL: Once<Kernel> = Once::new();

/// Publishes the boot state; called once by `kernel_main`.
pub fn set(k: Kernel) -> &'static Kernel {
    KERNEL.call_once(|| k)
}

/// The boot state (None only while booting).
pub fn try_get() -> Option<&'static Kernel> {
    KERNEL.get()
}

/// Publishes the lowmem linear map to the architecture code (called as soon as the layout is
/// computed, long before `set`, because page-table and page allocations during boot need
/// `phys_to_virt`).
pub fn set_linear_map(layout: &Layout) {
    crate::arch::mmu::set_linear_map(layout.linear_map().phys_offset.0, layout.lowmem_limit().0);
}

/// `phys_to_virt` for lowmem, usable from fault paths (the architecture's linear map).
pub fn phys_to_virt(pa: u64) -> Option<u64> {
    crate::arch::mmu::phys_to_virt(pa)
}

/// Why no RAM information was found, for the boot log.
pub enum BootParamsProblem {
    None,
    /// The bytes at r2 cannot be read safely, or are not a well-formed ATAG list / DTB size.
    Params(params::ParamsError),
    Atags(atags::AtagError),
    Dtb(dtb::DtbError),
}

/// Reads the ATAGs or device tree r2 (arm64: x0) points at; falls back to the VideoCore
/// mailbox when there are none (QEMU's ELF path) or they give no RAM.
///
/// Only the bytes the ATAG headers or the DTB's `totalsize` say the parameters have are
/// read, and never any byte of the kernel image (its .bss and stacks are live).
pub fn read_boot_params(r2: u64) -> (BootInfo, BootParamsProblem) {
    let mut info = BootInfo::new();
    let problem = match read_params_at(r2, &mut info) {
        Ok(()) => BootParamsProblem::None,
        Err(p) => p,
    };
    if info.banks().is_empty() {
        if let Some((base, size)) = crate::kernel::setup::firmware_arm_memory() {
            info.add_bank(u64::from(base), u64::from(size));
            if info.source == BootSource::None {
                info.source = BootSource::Mailbox;
            }
        }
    }
    (info, problem)
}

/// Locates, measures and parses the parameters at `pa` (0: none).
fn read_params_at(pa: u64, info: &mut BootInfo) -> Result<(), BootParamsProblem> {
    with_params(pa, |format, bytes| match format {
        params::ParamsFormat::Atags => {
            atags::parse_atags(bytes, pa, info).map_err(BootParamsProblem::Atags)
        }
        params::ParamsFormat::Dtb => {
            dtb::parse_dtb(bytes, pa, info).map_err(BootParamsProblem::Dtb)
        }
    })?
    .unwrap_or(Ok(()))
}

/// Runs `f` on the device tree `read_boot_params` found at `pa` (Linux keeps
/// `initial_boot_params` for the scans that follow, such as the reserved-memory one).
/// On ARMv7 only until `paging_init`: the blob is read through the entry code's boot mapping
/// (arm64's linear map keeps it readable).
pub fn with_boot_fdt<R>(pa: u64, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    match with_params(pa, |format, bytes| (format == params::ParamsFormat::Dtb).then(|| f(bytes))) {
        Ok(Some(r)) => r,
        _ => None,
    }
}

/// Finds the parameters at `pa` and runs `f` on exactly their bytes; `Ok(None)` when there
/// are none (pa = 0 where that means none, or neither ATAGs nor a DTB there).
fn with_params<R>(
    pa: u64,
    f: impl FnOnce(params::ParamsFormat, &[u8]) -> R,
) -> Result<Option<R>, BootParamsProblem> {
    if pa == 0 && !crate::kernel::setup::PARAMS_AT_ZERO {
        return Ok(None);
    }
    let (base, readable) =
        crate::kernel::setup::boot_params_window(pa).map_err(BootParamsProblem::Params)?;
    let read_word = |offset: usize| {
        let end = (offset as u64).checked_add(4)?;
        if end > readable || !offset.is_multiple_of(4) {
            return None;
        }
        // SAFETY: `boot_params_window` bounds [pa, pa + readable) to the entry code's mapping
        // of the parameters at `base` (normal memory), outside the kernel image;
        // the word lies below that bound and is aligned (pa is word aligned, so is offset).
        Some(unsafe { core::ptr::read_volatile((base + offset as u64) as *const u32) })
    };
    let Some((format, len)) =
        params::locate(readable, read_word).map_err(BootParamsProblem::Params)?
    else {
        return Ok(None);
    };
    // SAFETY: `locate` measured `len <= readable` bytes of parameters at r2, all inside the
    // boot mapping and outside the kernel image; nothing writes them while the slice lives
    // (memblock reserves them before any allocator exists).
    let bytes = unsafe { core::slice::from_raw_parts(base as *const u8, len) };
    Ok(Some(f(format, bytes)))
}

impl core::fmt::Display for BootParamsProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootParamsProblem::None => Ok(()),
            BootParamsProblem::Params(e) => write!(f, "{e}"),
            BootParamsProblem::Atags(e) => write!(f, "ATAGs: {e}"),
            BootParamsProblem::Dtb(e) => write!(f, "device tree: {e}"),
        }
    }
}

/// Moves every device from its boot-time fixmap slot to an `ioremap()`ed address, as Linux's
/// drivers map their registers; they then show in /proc/vmallocinfo. A device that cannot be
/// remapped keeps its fixmap mapping.
pub fn ioremap_devices() {
    use crate::board::raspi::io::{self, Device};
    for dev in Device::ALL {
        match vmalloc::ioremap(dev.phys(), dev.size(), dev.driver()) {
            Ok(va) => {
                io::set_base(dev, va as usize);
                // The boot-time mapping is no longer used (Linux drops earlycon's likewise).
                crate::arch::fixmap::clear_fixmap_device(dev);
            }
            Err(e) => crate::kprintln!("ioremap of {:#010x} failed: {}", dev.phys(), e),
        }
    }
}
