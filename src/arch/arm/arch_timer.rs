//! The ARMv7 generic timer's CP15 interface, as Linux's arm_arch_timer driver uses it: the
//! 64-bit counter (physical or virtual), and the comparator of each timer programmed with an
//! absolute value (CVAL) plus its control register (enable, mask, status).
use core::arch::asm;

use tock_registers::interfaces::Readable;

use super::cp15::Cntfrq;

/// CNTx_CTL bits.
const CTRL_ENABLE: u32 = 1 << 0;
const CTRL_IT_MASK: u32 = 1 << 1;
const CTRL_IT_STAT: u32 = 1 << 2;

pub use crate::drivers::arm_arch_timer::{ArchTimerPpi, TimerKind};

/// CNTKCTL bits: PL0 access to the physical counter (`ARCH_TIMER_USR_PCT_ACCESS_EN`), the
/// virtual counter (`ARCH_TIMER_USR_VCT_ACCESS_EN`), the event stream, the virtual and the
/// physical timer (`ARCH_TIMER_USR_VT_ACCESS_EN`, `ARCH_TIMER_USR_PT_ACCESS_EN`).
const CNTKCTL_PL0PCTEN: u32 = 1 << 0;
const CNTKCTL_PL0VCTEN: u32 = 1 << 1;
const CNTKCTL_EVNTEN: u32 = 1 << 2;
const CNTKCTL_PL0VTEN: u32 = 1 << 8;
const CNTKCTL_PL0PTEN: u32 = 1 << 9;

/// CNTKCTL.EVNTI (bits 7:4): which counter bit's transitions raise an event
/// (`ARCH_TIMER_EVT_TRIGGER_SHIFT`/`_MASK`).
const CNTKCTL_EVNTI_SHIFT: u32 = 4;
const CNTKCTL_EVNTI_MASK: u32 = 0xf << CNTKCTL_EVNTI_SHIFT;
/// `arch_counter_set_user_access`: user space may read the virtual counter (what the vDSO
/// reads), and nothing else of the timers; the event stream off until
/// [`evtstrm_enable`] turns it on.
pub fn set_user_access() {
    let mut v: u32;
    // SAFETY: CNTKCTL only decides what PL0 may read of this CPU's timers.
    unsafe {
        asm!("mrc p15, 0, {}, c14, c1, 0", out(reg) v, options(nomem, nostack, preserves_flags));
        v &= !(CNTKCTL_PL0PCTEN | CNTKCTL_PL0VTEN | CNTKCTL_PL0PTEN | CNTKCTL_EVNTEN);
        v |= CNTKCTL_PL0VCTEN;
        asm!("mcr p15, 0, {}, c14, c1, 0", "isb", in(reg) v, options(nomem, nostack, preserves_flags));
    }
}

/// `arch_timer_evtstrm_enable`: the virtual counter's bit `divider` raises an event on each
/// transition (CNTKCTL.EVNTI, EVNTEN; EVNTDIR 0: 0 to 1), which wakes a `wfe`.
pub fn evtstrm_enable(divider: u32) {
    let mut v: u32;
    // SAFETY: CNTKCTL's event-stream fields only generate wake-up events for `wfe`.
    unsafe {
        asm!("mrc p15, 0, {}, c14, c1, 0", out(reg) v, options(nomem, nostack, preserves_flags));
        v &= !CNTKCTL_EVNTI_MASK;
        v |= (divider << CNTKCTL_EVNTI_SHIFT) | CNTKCTL_EVNTEN;
        asm!("mcr p15, 0, {}, c14, c1, 0", "isb", in(reg) v, options(nomem, nostack, preserves_flags));
    }
}

/// Whether this CPU's event stream is on (CNTKCTL.EVNTEN, read now): what `HWCAP_EVTSTRM`
/// (`evtstrm` in /proc/cpuinfo, bit 21 of `AT_HWCAP`) says.
pub fn evtstrm_enabled() -> bool {
    let v: u32;
    // SAFETY: reading CNTKCTL has no side effects.
    unsafe {
        asm!("mrc p15, 0, {}, c14, c1, 0", out(reg) v, options(nomem, nostack, preserves_flags));
    }
    v & CNTKCTL_EVNTEN != 0
}

/// CNTFRQ: the counter's frequency, set by the firmware (QEMU: 62.5 MHz; Pi: 19.2 MHz).
pub fn cntfrq() -> u32 {
    Cntfrq.get()
}

/// The counter the timer compares against (CNTPCT or CNTVCT), after an `isb` so that it is
/// not read early.
pub fn read_counter(kind: TimerKind) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reading the counter has no side effects.
    unsafe {
        match kind {
            TimerKind::Phys => asm!("isb", "mrrc p15, 0, {}, {}, c14", out(reg) lo, out(reg) hi,
                options(nomem, nostack, preserves_flags)),
            TimerKind::Virt => asm!("isb", "mrrc p15, 1, {}, {}, c14", out(reg) lo, out(reg) hi,
                options(nomem, nostack, preserves_flags)),
        }
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

fn read_ctl(kind: TimerKind) -> u32 {
    let v: u32;
    // SAFETY: reading the timer control register has no side effects.
    unsafe {
        match kind {
            TimerKind::Phys => asm!("mrc p15, 0, {}, c14, c2, 1", out(reg) v,
                options(nomem, nostack, preserves_flags)),
            TimerKind::Virt => asm!("mrc p15, 0, {}, c14, c3, 1", out(reg) v,
                options(nomem, nostack, preserves_flags)),
        }
    }
    v
}

fn write_ctl(kind: TimerKind, v: u32) {
    // SAFETY: the control register only enables, masks or disables this CPU's timer.
    unsafe {
        match kind {
            TimerKind::Phys => asm!("mcr p15, 0, {}, c14, c2, 1", "isb", in(reg) v,
                options(nomem, nostack, preserves_flags)),
            TimerKind::Virt => asm!("mcr p15, 0, {}, c14, c3, 1", "isb", in(reg) v,
                options(nomem, nostack, preserves_flags)),
        }
    }
}

/// `set_next_event` with CVAL: the timer fires when the counter reaches `cval` (at once if
/// it already has), its interrupt unmasked.
pub fn set_next_event(kind: TimerKind, cval: u64) {
    let (lo, hi) = (cval as u32, (cval >> 32) as u32);
    // SAFETY: the comparator only decides when this CPU's timer interrupt is raised.
    unsafe {
        match kind {
            TimerKind::Phys => asm!("mcrr p15, 2, {}, {}, c14", in(reg) lo, in(reg) hi,
                options(nomem, nostack, preserves_flags)),
            TimerKind::Virt => asm!("mcrr p15, 3, {}, {}, c14", in(reg) lo, in(reg) hi,
                options(nomem, nostack, preserves_flags)),
        }
    }
    write_ctl(kind, (read_ctl(kind) | CTRL_ENABLE) & !CTRL_IT_MASK);
}

/// Whether the timer's condition is met (ISTATUS).
pub fn expired(kind: TimerKind) -> bool {
    read_ctl(kind) & CTRL_IT_STAT != 0
}

/// Masks the timer's interrupt (the handler does, until the next event is set).
pub fn mask(kind: TimerKind) {
    write_ctl(kind, read_ctl(kind) | CTRL_IT_MASK);
}
