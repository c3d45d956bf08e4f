//! The IRQ exception's way into the kernel on arm64 (`handle_arch_irq`, set by the root
//! interrupt controller's driver), the interrupted registers' PSTATE for the tick's
//! accounting, this CPU's number, and arm64's IPI names for /proc/interrupts.
//!
//! Interrupts run on a per-CPU IRQ stack (6.1's `irq_stack_ptr`, `IRQ_STACK_SIZE` =
//! `THREAD_SIZE`, vmalloc'ed at `THREAD_ALIGN` as `init_irq_stacks` does, like every `VMAP_STACK`
//! stack, so the vectors' one-bit overflow test holds on it too): the vector saves the frame
//! on the interrupted task's stack, then `call_on_irq_stack` moves sp to the IRQ stack for the
//! controller's handler and back. `init_IRQ` allocates one for each possible CPU (the board's
//! four), as 6.1's `init_irq_stacks` does; only CPU 0 runs the kernel, so only its is used.
use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, MPIDR_EL1};
use spin::Once;

use super::memory::THREAD_SIZE;
use super::traps::PtRegs;

/// `IRQ_STACK_SIZE`: `THREAD_SIZE`, as arm64 6.1 has it.
pub const IRQ_STACK_SIZE: u64 = THREAD_SIZE;

/// `NR_CPUS`: the possible CPUs (`cpu_possible_mask`), the board's cores.
pub const NR_CPUS: usize = crate::board::raspi::NR_CPUS as usize;

/// `irq_stack_ptr`, per CPU: each IRQ stack's lowest address, 0 until `init_irq_stacks` (the
/// boot's interrupts before it, if any, run on the boot stack).
static IRQ_STACK_PTR: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

global_asm!(
    r#"
    .text
    .balign 4
    // call_on_irq_stack(regs, handler, irq_stack_top), 6.1's entry.S: a frame record on the
    // interrupted stack keeps lr and sp (in fp), sp moves to the IRQ stack's top for the
    // handler, and comes back from the frame record.
    .global __arm64_call_on_irq_stack
__arm64_call_on_irq_stack:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     sp, x2
    blr     x1
    mov     sp, x29
    ldp     x29, x30, [sp], #16
    ret
"#
);

extern "C" {
    fn __arm64_call_on_irq_stack(regs: &PtRegs, handler: extern "C" fn(&PtRegs), top: u64);
}

/// Makes `base` `cpu`'s IRQ stack (`per_cpu(irq_stack_ptr, cpu)`): `IRQ_STACK_SIZE` at
/// `THREAD_ALIGN` with an unmapped guard page below, as `init_irq_stacks` allocates it
/// (`kernel::setup::init_irq_stacks` does, through vmalloc). A CPU past `NR_CPUS` is ignored.
pub fn set_irq_stack(cpu: usize, base: u64) {
    if let Some(ptr) = IRQ_STACK_PTR.get(cpu) {
        ptr.store(base, Ordering::Release);
    }
}

/// This CPU's IRQ stack: its lowest address (`irq_stack_ptr`), 0 before `init_irq_stacks`.
pub fn irq_stack_ptr() -> u64 {
    IRQ_STACK_PTR.get(smp_processor_id()).map_or(0, |p| p.load(Ordering::Acquire))
}

/// Whether `sp` lies on the IRQ stack (`on_irq_stack`).
fn on_irq_stack(sp: u64, irq_stack: u64) -> bool {
    irq_stack != 0 && (irq_stack..irq_stack + IRQ_STACK_SIZE).contains(&sp)
}

/// The root controller's handler, called on the IRQ stack.
extern "C" fn handle_on_irq_stack(regs: &PtRegs) {
    if let Some(handle) = HANDLE_ARCH_IRQ.get() {
        handle(regs);
    }
}

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

/// `generic_handle_arch_irq` through `do_interrupt_handler`, from the IRQ vectors: on the
/// IRQ stack (`call_on_irq_stack`) unless already there. Returns false when no controller
/// has registered (the caller reports the unexpected interrupt).
pub fn generic_handle_arch_irq(regs: &PtRegs) -> bool {
    IRQ_REGS_PSTATE.store(regs.pstate as u32, Ordering::Relaxed);
    let Some(handle) = HANDLE_ARCH_IRQ.get() else { return false };
    let irq_stack = irq_stack_ptr();
    let sp: u64;
    // SAFETY: reads sp only.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
    if irq_stack == 0 || on_irq_stack(sp, irq_stack) {
        handle(regs);
    } else {
        // SAFETY: the IRQ stack is mapped, IRQ_STACK_SIZE long and unused now (interrupts
        // are masked in the handler, so nothing else runs on it); the callee returns with
        // the frame record intact, and sp comes back from it.
        unsafe { __arm64_call_on_irq_stack(regs, handle_on_irq_stack, irq_stack + IRQ_STACK_SIZE) };
    }
    true
}
