//! The console's watchdog, pivm's counterpart of 6.1's soft-lockup detector
//! (`kernel/watchdog.c`, which reports a CPU that has not scheduled for 2 x `watchdog_thresh`
//! = 20 s): here the console is the idle task and the dispatcher, so a kernel that stops
//! answering shows as typed input nobody reads. When input has waited unread for
//! [`CONSOLE_STALL_SECS`], the tick prints one report, the SysRq `t` task list included, so
//! that such a hang is never silent. Pure detection here; the device half is at the end.
use core::fmt::{self, Write};

use crate::kernel::time::HZ;

/// How long typed input may wait unread before the report: 6.1's soft-lockup threshold
/// (2 x `watchdog_thresh`, 10 s by default).
pub const CONSOLE_STALL_SECS: u64 = 20;

/// Typed input waiting for the console (the tick the oldest unread byte came at, since the
/// console last read; ticks come `HZ` times a second), and whether this stall was reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputStall {
    waiting_since: Option<u64>,
    reported: bool,
}

impl InputStall {
    pub const fn new() -> Self {
        InputStall { waiting_since: None, reported: false }
    }

    /// A byte was received at `now`: the wait starts unless input already waited.
    pub fn arrived(&mut self, now: u64) {
        self.waiting_since.get_or_insert(now);
    }

    /// The console read its input at `now`; `more` bytes still wait (they wait from now).
    pub fn read(&mut self, more: bool, now: u64) {
        self.waiting_since = more.then_some(now);
        self.reported = false;
    }

    /// From the tick at `now`: the seconds input has waited when that reaches
    /// [`CONSOLE_STALL_SECS`] and this stall was not reported yet (then it is).
    pub fn check(&mut self, now: u64) -> Option<u64> {
        let since = self.waiting_since?;
        let secs = now.saturating_sub(since) / HZ;
        if self.reported || secs < CONSOLE_STALL_SECS {
            return None;
        }
        self.reported = true;
        Some(secs)
    }
}

/// The report's first line, in the soft-lockup report's shape: what waited, for how long,
/// and the task on the CPU (`[comm:pid]`; the console itself is `swapper/0`, its idle task).
pub fn render_stall(w: &mut impl Write, secs: u64, comm: &str, pid: u32) -> fmt::Result {
    writeln!(w, "watchdog: console: typed input unread for {secs}s! [{comm}:{pid}]")
}

#[cfg(kernel)]
mod device {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::{render_stall, InputStall};
    use crate::kernel::spinlock::IrqSpinLock;
    use crate::kernel::sysrq::Dyn;

    /// Taken by the UART's interrupt and the tick: interrupt-safe.
    static STALL: IrqSpinLock<InputStall> = IrqSpinLock::new(InputStall::new());
    /// Tick interrupts taken: the watchdog's clock. Not jiffies, which jump by the ticks
    /// missed when QEMU's host left it without a CPU for a while (a starved guest is not a
    /// stuck one); the interrupts keep coming HZ times a second in a kernel that hangs.
    static TICKS: AtomicU64 = AtomicU64::new(0);

    fn now() -> u64 {
        TICKS.load(Ordering::Relaxed)
    }
    /// A stall found by the tick and not yet printed (its seconds; 0: none).
    static PENDING: AtomicU64 = AtomicU64::new(0);

    /// The console's UART received a byte of input.
    pub fn input_arrived() {
        STALL.lock().arrived(now());
    }

    /// The console read its input; `more` bytes still wait.
    pub fn input_read(more: bool) {
        STALL.lock().read(more, now());
    }

    /// From the tick: finds a stall and prints its report once the console's output and
    /// the task table are free (see `sysrq::run_pending`); nothing here allocates.
    pub fn tick() {
        let ticks = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(secs) = STALL.lock().check(ticks) {
            PENDING.store(secs, Ordering::Release);
        }
        let secs = PENDING.load(Ordering::Acquire);
        if secs == 0 {
            return;
        }
        let Some(mut out) = crate::console::printk::try_console() else { return };
        let header = |w: &mut dyn core::fmt::Write, comm: &str, pid: u32| {
            let _ = render_stall(&mut Dyn(w), secs, comm, pid);
        };
        if crate::kernel::process::show_state::render(&mut out, header, false).is_ok() {
            PENDING.store(0, Ordering::Release);
        }
    }
}

#[cfg(kernel)]
pub use device::{input_arrived, input_read, tick};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_unread_for_the_threshold_is_reported_once() {
        let mut s = InputStall::new();
        // Nothing typed: never a stall.
        assert_eq!(s.check(1_000_000), None);
        s.arrived(100);
        // A later byte does not restart the wait.
        s.arrived(150);
        assert_eq!(s.check(100 + CONSOLE_STALL_SECS * HZ - 1), None);
        assert_eq!(s.check(100 + CONSOLE_STALL_SECS * HZ), Some(CONSOLE_STALL_SECS));
        assert_eq!(s.check(100 + 2 * CONSOLE_STALL_SECS * HZ), None);
        // The console reads: the wait is over, and a new stall is reported again.
        s.read(false, 5000);
        assert_eq!(s.check(5000 + 10 * CONSOLE_STALL_SECS * HZ), None);
        s.arrived(6000);
        assert_eq!(s.check(6000 + 30 * HZ), Some(30));
    }

    #[test]
    fn bytes_left_after_a_read_wait_from_the_read() {
        let mut s = InputStall::new();
        s.arrived(0);
        s.read(true, 10 * HZ);
        assert_eq!(s.check((10 + CONSOLE_STALL_SECS) * HZ - 1), None);
        assert_eq!(s.check((10 + CONSOLE_STALL_SECS) * HZ), Some(CONSOLE_STALL_SECS));
    }

    #[test]
    fn the_report_line() {
        let mut out = String::new();
        render_stall(&mut out, 21, "swapstress", 4).unwrap();
        render_stall(&mut out, 20, "swapper/0", 0).unwrap();
        assert_eq!(
            out,
            "watchdog: console: typed input unread for 21s! [swapstress:4]\n\
             watchdog: console: typed input unread for 20s! [swapper/0:0]\n"
        );
    }
}
