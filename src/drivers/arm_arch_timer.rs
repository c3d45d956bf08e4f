//! The ARM generic timer as Linux's `arm_arch_timer` driver names it, the same on 32-bit ARM
//! and AArch64 (`include/clocksource/arm_arch_timer.h`): which of the CPU's timers the kernel
//! uses and the interrupts a device tree lists for them. Each architecture's
//! `arch_timer` module reaches the timer's registers for it.

/// Which of the CPU's timers: the physical one when the kernel owns the hypervisor mode (PL2 /
/// EL2) or was let use it, the virtual one otherwise, as `arch_timer_select_ppi` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    Phys,
    Virt,
}

/// The timer interrupts a device tree lists for `arm,armv7-timer` / `arm,armv8-timer`, in
/// Linux's `enum arch_timer_ppi_nr` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchTimerPpi {
    PhysSecure = 0,
    PhysNonsecure = 1,
    Virt = 2,
    Hyp = 3,
}

impl TimerKind {
    /// The interrupt this timer raises.
    pub fn ppi(self) -> ArchTimerPpi {
        match self {
            TimerKind::Phys => ArchTimerPpi::PhysNonsecure,
            TimerKind::Virt => ArchTimerPpi::Virt,
        }
    }
}
