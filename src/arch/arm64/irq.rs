//! The IRQ exception's way into the kernel on arm64 (`handle_arch_irq`, set by the root
//! interrupt controller's driver), the interrupted registers' PSTATE for the tick's
//! accounting, this CPU's number, and arm64's IPI names for /proc/interrupts.
use core::sync::atomic::{AtomicU32, Ordering};

use aarch64_cpu::registers::{Readable, MPIDR_EL1};
use spin::Once;

use super::traps::PtRegs;

/// `PSR_MODE_MASK`: PSTATE's M[3:0], the exception level and stack the frame came from.
pub const PSR_MODE_MASK: u32 = 0xf;
/// `PSR_MODE_EL0t`: the interrupted code ran at EL0 (user space).
pub const USR_MODE: u32 = 0x0;
/// Aff0: the core within the cluster (the Pi 3 has one cluster of four).
const MPIDR_CPU_MASK: u64 = 0xff;

/// arm64 6.1's `ipi_types[NR_IPI]`, in `enum ipi_msg_type` order.
pub const IPI_TYPES: [&str; 7] = [
    "Rescheduling interrupts",
    "Function call interrupts",
    "CPU stop interrupts",
    "CPU stop (for crash dump) interrupts",
    "Timer broadcast interrupts",
    "IRQ work interrupts",
    "CPU wake-up interrupts",
];

static HANDLE_ARCH_IRQ: Once<fn(&PtRegs)> = Once::new();
/// The PSTATE the current (or last) interrupt interrupted (`get_irq_regs()->pstate`).
static IRQ_REGS_PSTATE: AtomicU32 = AtomicU32::new(0);

/// `set_handle_irq`: the root controller's handler (the first caller wins, as in Linux).
pub fn set_handle_irq(handler: fn(&PtRegs)) {
    HANDLE_ARCH_IRQ.call_once(|| handler);
}

/// The interrupted PSTATE (low 32 bits), to tell user from kernel ticks.
pub fn irq_regs_cpsr() -> u32 {
    IRQ_REGS_PSTATE.load(Ordering::Relaxed)
}

/// `smp_processor_id()`: MPIDR_EL1's Aff0.
pub fn smp_processor_id() -> usize {
    (MPIDR_EL1.get() & MPIDR_CPU_MASK) as usize
}

/// `generic_handle_arch_irq`, from the IRQ vectors. Returns false when no controller has
/// registered (the caller reports the unexpected interrupt).
pub fn generic_handle_arch_irq(regs: &PtRegs) -> bool {
    IRQ_REGS_PSTATE.store(regs.pstate as u32, Ordering::Relaxed);
    match HANDLE_ARCH_IRQ.get() {
        Some(handle) => {
            handle(regs);
            true
        }
        None => false,
    }
}
