//! The CPU as the rest of the kernel sees it through `arch::cpu`, `arch::timer` and
//! `arch::cache`: identification for the boot log, halting, the generic timer's counter and
//! the data cache maintenance device buffers need.
use core::fmt::{self, Write};

use tock_registers::interfaces::Readable;

use super::cp15;

/// Linux's `MPIDR_HWID_BITMASK`: the affinity fields that name a CPU.
const MPIDR_HWID_BITMASK: u32 = 0x00ff_ffff;
/// Linux's `MODE_MASK`: the mode bits of a PSR.
const MODE_MASK: u32 = 0x1f;
/// MIDR[3:0]: the CPU revision.
const MIDR_REVISION_MASK: u32 = 0xf;

/// The booting CPU's hardware id (MPIDR's affinity fields), as `smp_setup_processor_id()`
/// prints it: `Booting Linux on physical CPU 0x...`.
pub fn boot_cpu_hwid() -> u64 {
    u64::from(cp15::Mpidr.get() & MPIDR_HWID_BITMASK)
}

/// The name of the mode a PSR value is in (`SVC_32`, `HYP_32`, ...): what the loader entered
/// the kernel in.
pub fn entry_mode_name(psr: u32) -> &'static str {
    super::vectors::mode_name(psr & MODE_MASK)
}

/// `setup_processor()`'s line: `CPU: ARMv7 Processor [410fc075] revision 5 (ARMv7), cr=...`.
pub fn write_setup_processor(w: &mut impl Write) -> fmt::Result {
    let midr = cp15::Midr.get();
    writeln!(
        w,
        "CPU: ARMv7 Processor [{:08x}] revision {} (ARMv7), cr={:08x}",
        midr,
        midr & MIDR_REVISION_MASK,
        cp15::Sctlr.get()
    )
}

/// Stops this CPU for good: interrupts off, wait for an event that never comes.
pub fn halt() -> ! {
    loop {
        // SAFETY: masking interrupts and waiting has no memory effects.
        unsafe { core::arch::asm!("cpsid if", "wfi", options(nomem, nostack)) };
    }
}

/// The generic timer's frequency in Hz (CNTFRQ, programmed by the firmware).
pub fn counter_frequency() -> u32 {
    cp15::Cntfrq.get()
}

/// The generic timer's physical count (CNTPCT).
pub fn read_counter() -> u64 {
    cp15::cntpct()
}

/// Cleans the data cache lines covering `[va, va + len)` to the point of coherency, before a
/// device reads memory the CPU wrote.
pub fn clean_dcache_range(va: usize, len: usize) {
    cp15::clean_dcache_range(va as u32, len as u32);
}

/// Invalidates the data cache lines covering `[va, va + len)`, after a device wrote memory.
/// The range must be whole cache lines the CPU has not dirtied meanwhile.
pub fn invalidate_dcache_range(va: usize, len: usize) {
    cp15::invalidate_dcache_range(va as u32, len as u32);
}
