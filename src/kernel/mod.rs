//! The running kernel's state: what boot found and computed, fixed once `kernel_main` has
//! set it, then read by the console commands. Also the boot steps that need it.
pub mod mem;
pub mod scenario;
pub mod vmalloc;

use spin::Once;

use crate::board::raspi::mailbox;
use crate::boot::cmdline::BootParams;
use crate::boot::{atags, dtb, BootInfo, BootSource};
use crate::config::PAGE_OFFSET;
use crate::mm::layout::Layout;
use crate::mm::memblock::Memblock;
use crate::sizes::SZ_1M;

/// How the loader started us (from the entry registers).
#[derive(Clone, Copy, Debug)]
pub struct EntryState {
    /// r2: ATAG list or DTB physical address (0 from QEMU's ELF loader).
    pub params_reg: u32,
    /// r1: machine type.
    pub machine: u32,
    /// CPSR at entry (HYP on the Pi firmware, SVC under QEMU).
    pub entry_cpsr: u32,
    /// Physical address the image was loaded at (before relocation to PHYS_OFFSET+0x8000).
    pub load_addr: u32,
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
    crate::arch::arm::mmu::set_linear_map(layout.phys_offset.0, layout.arm_lowmem_limit.0);
}

/// `phys_to_virt` for lowmem, usable from fault paths (the architecture's linear map).
pub fn phys_to_virt(pa: u64) -> Option<u64> {
    crate::arch::arm::mmu::phys_to_virt(pa)
}

/// Bytes of boot parameters reachable through the entry code's two-section mapping.
const BOOT_PARAMS_WINDOW: u64 = 2 * SZ_1M;
/// Boot parameters must lie in the first GiB (where the entry code maps them).
const BOOT_PARAMS_LIMIT: u64 = 0x4000_0000;
/// Largest ATAG list pivm reads.
const ATAGS_MAX: u64 = 16 * 1024;

/// Why no RAM information was found, for the boot log.
pub enum BootParamsProblem {
    None,
    Atags(atags::AtagError),
    Dtb(dtb::DtbError),
    DtbTooBig(u32),
}

/// Reads the ATAGs or device tree r2 points at; falls back to the VideoCore mailbox when
/// there are none (QEMU's ELF path) or they give no RAM.
pub fn read_boot_params(r2: u32) -> (BootInfo, BootParamsProblem) {
    let mut info = BootInfo::new();
    let mut problem = BootParamsProblem::None;
    let pa = u64::from(r2);
    if pa != 0 && pa < BOOT_PARAMS_LIMIT && pa % 4 == 0 {
        let window = BOOT_PARAMS_WINDOW - (pa % SZ_1M);
        // SAFETY: the entry code mapped the two sections starting at r2's section at
        // PAGE_OFFSET + r2 (normal memory), so `window` bytes from there are readable.
        let bytes = unsafe {
            core::slice::from_raw_parts((PAGE_OFFSET + pa) as *const u8, window as usize)
        };
        let first = [
            u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        ];
        if dtb::looks_like_dtb(first[0].swap_bytes()) {
            match dtb::dtb_total_size(bytes) {
                Some(size) if u64::from(size) <= window => {
                    if let Err(e) = dtb::parse_dtb(&bytes[..size as usize], pa, &mut info) {
                        problem = BootParamsProblem::Dtb(e);
                    }
                }
                Some(size) => problem = BootParamsProblem::DtbTooBig(size),
                None => {}
            }
        } else if atags::looks_like_atags(first) {
            let len = window.min(ATAGS_MAX) as usize;
            if let Err(e) = atags::parse_atags(&bytes[..len], pa, &mut info) {
                problem = BootParamsProblem::Atags(e);
            }
        }
    }
    if info.banks().is_empty() {
        if let Some((base, size)) = mailbox::arm_memory() {
            info.add_bank(u64::from(base), u64::from(size));
            if info.source == BootSource::None {
                info.source = BootSource::Mailbox;
            }
        }
    }
    (info, problem)
}

impl core::fmt::Display for BootParamsProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootParamsProblem::None => Ok(()),
            BootParamsProblem::Atags(e) => write!(f, "ATAGs: {e}"),
            BootParamsProblem::Dtb(e) => write!(f, "device tree: {e}"),
            BootParamsProblem::DtbTooBig(n) => {
                write!(f, "device tree: {n} bytes is more than the {BOOT_PARAMS_WINDOW} bytes mapped at boot")
            }
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
                let slot = crate::arch::arm::mmu::fixmap_slot_of(dev);
                let _ = crate::arch::arm::mmu::set_fixmap_page(slot, 0, None);
            }
            Err(e) => crate::kprintln!("ioremap of {:#010x} failed: {}", dev.phys(), e),
        }
    }
}
