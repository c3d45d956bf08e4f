//! Interrupt masking on this CPU, as Linux's ARMv7 `asm/irqflags.h` does it: `cpsid i` /
//! `cpsie i`, and `local_irq_save` returning the CPSR so that `local_irq_restore` puts back
//! exactly what was there. Every operation is a compiler barrier (no `nomem`), so memory
//! accesses stay on their side of it.
use core::arch::asm;

/// CPSR's IRQ mask bit (`PSR_I_BIT`).
pub const PSR_I_BIT: u32 = 1 << 7;

/// The interrupt state `local_irq_save` found (the CPSR; `unsigned long flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "pass the saved state to local_irq_restore"]
pub struct IrqFlags(u32);

impl IrqFlags {
    /// Whether interrupts were masked when the state was saved.
    pub fn irqs_disabled(self) -> bool {
        self.0 & PSR_I_BIT != 0
    }
}

/// `arch_local_irq_save`: masks IRQs and returns the previous state.
#[inline(always)]
pub fn local_irq_save() -> IrqFlags {
    let cpsr: u32;
    // SAFETY: reads CPSR and masks IRQs on this CPU; no memory is touched (the asm is a
    // compiler barrier so that accesses are not moved out of the critical section).
    unsafe { asm!("mrs {}, cpsr", "cpsid i", out(reg) cpsr, options(nostack, preserves_flags)) };
    IrqFlags(cpsr)
}

/// `arch_local_irq_restore`: IRQs masked or not as `flags` says.
#[inline(always)]
pub fn local_irq_restore(flags: IrqFlags) {
    // SAFETY: writes back the control byte (mode, I, F) that local_irq_save read in this
    // same mode; only the interrupt mask can differ.
    unsafe { asm!("msr cpsr_c, {}", in(reg) flags.0, options(nostack, preserves_flags)) };
}

/// `local_irq_enable`.
#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: unmasking IRQs lets the (installed) IRQ vector run; a compiler barrier.
    unsafe { asm!("cpsie i", options(nostack, preserves_flags)) };
}

/// `local_irq_disable`.
#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: masking IRQs has no memory effect; a compiler barrier.
    unsafe { asm!("cpsid i", options(nostack, preserves_flags)) };
}

/// `irqs_disabled()`.
pub fn irqs_disabled() -> bool {
    let cpsr: u32;
    // SAFETY: reading CPSR has no side effects.
    unsafe { asm!("mrs {}, cpsr", out(reg) cpsr, options(nomem, nostack, preserves_flags)) };
    cpsr & PSR_I_BIT != 0
}

/// `cpu_v7_do_idle`: waits until an interrupt is pending. With IRQs masked the CPU still
/// wakes (WFI ignores CPSR.I); the interrupt is taken once the caller unmasks them.
#[inline(always)]
pub fn wait_for_interrupt() {
    // SAFETY: a barrier and a wait; no memory is touched.
    unsafe { asm!("dsb", "wfi", options(nostack, preserves_flags)) };
}
