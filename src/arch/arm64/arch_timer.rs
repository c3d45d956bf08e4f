//! The ARM generic timer's EL1 view on AArch64 (`asm/arch_timer.h` for arm64): the counter,
//! the EL0 physical and virtual timers (CNTP_*_EL0, CNTV_*_EL0) that drive the tick, and
//! CNTKCTL_EL1 for EL0's access and the event stream. The timer kinds and interrupts are the
//! ones both architectures share (`drivers::arm_arch_timer`), so `kernel::time` drives either.
use aarch64_cpu::registers::*;

/// ENABLE, IMASK, ISTATUS of CNT{P,V}_CTL_EL0.
const CTRL_ENABLE: u64 = 1 << 0;
const CTRL_IT_MASK: u64 = 1 << 1;
const CTRL_IT_STAT: u64 = 1 << 2;

pub use crate::drivers::arm_arch_timer::{ArchTimerPpi, TimerKind};

/// `arch_counter_set_user_access`: EL0 may read the virtual counter, nothing else.
pub fn set_user_access() {
    CNTKCTL_EL1.modify(
        CNTKCTL_EL1::EL0PCTEN::CLEAR
            + CNTKCTL_EL1::EL0VTEN::CLEAR
            + CNTKCTL_EL1::EL0PTEN::CLEAR
            + CNTKCTL_EL1::EVNTEN::CLEAR
            + CNTKCTL_EL1::EL0VCTEN::SET,
    );
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// `arch_timer_evtstrm_enable`: the event stream at counter bit `divider`.
pub fn evtstrm_enable(divider: u32) {
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EVNTI.val(u64::from(divider)) + CNTKCTL_EL1::EVNTEN::SET);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Whether the event stream runs (HWCAP_EVTSTRM).
pub fn evtstrm_enabled() -> bool {
    CNTKCTL_EL1.is_set(CNTKCTL_EL1::EVNTEN)
}

/// The counter's frequency (CNTFRQ_EL0, set by the firmware or QEMU).
pub fn cntfrq() -> u32 {
    CNTFRQ_EL0.get() as u32
}

/// The timer's counter (`arch_counter_get_cntpct`/`cntvct`), after an ISB as Linux reads it.
pub fn read_counter(kind: TimerKind) -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    match kind {
        TimerKind::Phys => CNTPCT_EL0.get(),
        TimerKind::Virt => CNTVCT_EL0.get(),
    }
}

fn read_ctl(kind: TimerKind) -> u64 {
    match kind {
        TimerKind::Phys => CNTP_CTL_EL0.get(),
        TimerKind::Virt => CNTV_CTL_EL0.get(),
    }
}

fn write_ctl(kind: TimerKind, v: u64) {
    match kind {
        TimerKind::Phys => CNTP_CTL_EL0.set(v),
        TimerKind::Virt => CNTV_CTL_EL0.set(v),
    }
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// `set_next_event` with an absolute compare value: enabled and unmasked.
pub fn set_next_event(kind: TimerKind, cval: u64) {
    match kind {
        TimerKind::Phys => CNTP_CVAL_EL0.set(cval),
        TimerKind::Virt => CNTV_CVAL_EL0.set(cval),
    }
    write_ctl(kind, (read_ctl(kind) | CTRL_ENABLE) & !CTRL_IT_MASK);
}

/// Whether the timer's condition is met (ISTATUS).
pub fn expired(kind: TimerKind) -> bool {
    read_ctl(kind) & CTRL_IT_STAT != 0
}

/// Masks the timer's interrupt (IMASK) until the next `set_next_event`.
pub fn mask(kind: TimerKind) {
    write_ctl(kind, read_ctl(kind) | CTRL_IT_MASK);
}
