//! The IRQ exception's way into the kernel (arch/arm/kernel/irq.c): the root interrupt
//! controller registers its handler (`set_handle_irq`, Linux's `handle_arch_irq`), and the
//! entry code (`__irq_svc`, `__irq_usr`) calls `generic_handle_arch_irq` with the
//! interrupted context's registers, which the handler's callees can ask about (`get_irq_regs`:
//! whether a tick interrupted user mode).
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;
use tock_registers::interfaces::Readable;

use super::cp15::Mpidr;
use super::vectors::PtRegs;

/// A PSR's mode field (`MODE_MASK`) and user mode (`USR_MODE`).
pub const PSR_MODE_MASK: u32 = 0x1f;
pub const USR_MODE: u32 = 0x10;
/// MPIDR's CPU number within the cluster (`MPIDR_AFFINITY_LEVEL(mpidr, 0)`).
const MPIDR_CPU_MASK: u32 = 0x3;

/// Linux's `NR_IPI` and `ipi_types[]`: the IPIs 32-bit ARM requests.
pub const IPI_TYPES: [&str; 7] = [
    "CPU wakeup interrupts",
    "Timer broadcast interrupts",
    "Rescheduling interrupts",
    "Function call interrupts",
    "CPU stop interrupts",
    "IRQ work interrupts",
    "completion interrupts",
];

static HANDLE_ARCH_IRQ: Once<fn(&PtRegs)> = Once::new();
/// The interrupted context's CPSR while an interrupt is handled (`get_irq_regs()->ARM_cpsr`).
static IRQ_REGS_CPSR: AtomicU32 = AtomicU32::new(0);

/// `set_handle_irq`: the root controller's handler (once; later calls are ignored).
pub fn set_handle_irq(handler: fn(&PtRegs)) {
    HANDLE_ARCH_IRQ.call_once(|| handler);
}

/// The CPSR of the context the current interrupt interrupted.
pub fn irq_regs_cpsr() -> u32 {
    IRQ_REGS_CPSR.load(Ordering::Relaxed)
}

/// `smp_processor_id()`: this core's number (MPIDR affinity level 0).
pub fn smp_processor_id() -> usize {
    (Mpidr.get() & MPIDR_CPU_MASK) as usize
}

/// Called by the IRQ entry with interrupts masked and a complete `pt_regs`.
#[no_mangle]
extern "C" fn generic_handle_arch_irq(regs: *mut PtRegs) {
    // SAFETY: the entry code passes the pt_regs it just saved on this CPU's kernel stack;
    // it stays there, unaliased, until the handler returns.
    let regs = unsafe { &*regs };
    IRQ_REGS_CPSR.store(regs.cpsr(), Ordering::Relaxed);
    match HANDLE_ARCH_IRQ.get() {
        Some(handle) => handle(regs),
        // Interrupts are unmasked only after the controller registered its handler.
        None => super::fault::bad_irq(regs),
    }
}
