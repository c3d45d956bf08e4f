//! Interrupt masking on this CPU through PSTATE.DAIF (arm64's `asm/irqflags.h`): the same
//! names as 32-bit ARM's CPSR-based ones, so the shared interrupt-safe locks use either.
use core::arch::asm;

/// DAIF's I bit (`PSR_I_BIT`): IRQs masked.
pub const PSR_I_BIT: u64 = 1 << 7;

/// The DAIF value `local_irq_save` read, for `local_irq_restore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "pass the saved state to local_irq_restore"]
pub struct IrqFlags(u64);

impl IrqFlags {
    /// Whether IRQs were masked when the flags were saved (`arch_irqs_disabled_flags`).
    pub fn irqs_disabled(self) -> bool {
        self.0 & PSR_I_BIT != 0
    }
}

/// `arch_local_irq_save`: reads DAIF, then masks IRQs.
#[inline(always)]
pub fn local_irq_save() -> IrqFlags {
    let daif: u64;
    // SAFETY: reads DAIF and sets its I bit; no memory is touched.
    unsafe {
        asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack, preserves_flags))
    };
    IrqFlags(daif)
}

/// `arch_local_irq_restore`: DAIF as it was saved.
#[inline(always)]
pub fn local_irq_restore(flags: IrqFlags) {
    // SAFETY: writes back a DAIF value read from this CPU.
    unsafe { asm!("msr daif, {}", in(reg) flags.0, options(nostack, preserves_flags)) };
}

/// `arch_local_irq_enable`.
#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: clears PSTATE.I; the vector table is installed before the first enable.
    unsafe { asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// `arch_local_irq_disable`.
#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: sets PSTATE.I.
    unsafe { asm!("msr daifset, #2", options(nostack, preserves_flags)) };
}

/// `arch_irqs_disabled`.
pub fn irqs_disabled() -> bool {
    let daif: u64;
    // SAFETY: reads DAIF.
    unsafe { asm!("mrs {}, daif", out(reg) daif, options(nomem, nostack, preserves_flags)) };
    daif & PSR_I_BIT != 0
}

/// `cpu_do_idle`: waits for an interrupt (taken once the caller unmasks IRQs).
#[inline(always)]
pub fn wait_for_interrupt() {
    // SAFETY: a barrier and a wait; no state changes.
    unsafe { asm!("dsb sy", "wfi", options(nostack, preserves_flags)) };
}
