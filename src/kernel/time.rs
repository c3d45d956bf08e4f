//! Time as Linux 6.1 keeps it (kernel/time/): the periodic tick at `HZ` from a clock event
//! device, `jiffies_64`, timekeeping that reads the clocksource between ticks, tick-based CPU
//! time accounting (the system and idle ticks of /proc/stat and /proc/uptime), and the boot
//! lines Linux prints for them. The arithmetic is Linux's (`clocks_calc_mult_shift`,
//! `clocks_calc_max_nsecs`) and pure; the device half (the ARM generic timer's interrupt)
//! is at the end, for the kernel build only.
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

pub use crate::config::HZ;

pub const NSEC_PER_SEC: u64 = 1_000_000_000;
/// Linux's `TICK_NSEC`: nanoseconds per tick.
pub const TICK_NSEC: u64 = (NSEC_PER_SEC + HZ / 2) / HZ;
/// Linux's `USER_HZ`: the unit of /proc/stat's CPU times.
pub const USER_HZ: u64 = 100;
/// Linux's `INITIAL_JIFFIES`: the 32-bit jiffies wrap 300 s after boot, so that code which
/// mishandles the wrap fails early.
pub const INITIAL_JIFFIES: u64 = 0u32.wrapping_sub(300 * HZ as u32) as u64;
/// Linux's `MIN_ROLLOVER_SECS` (arm_arch_timer.c): the counter must last 40 years.
const MIN_ROLLOVER_SECS: u64 = 40 * 365 * 24 * 3600;
/// The longest interval a clocksource wider than 32 bits gets its mult/shift computed for
/// (`__clocksource_update_freq_scale`): ten minutes.
const CLOCKSOURCE_MAX_SECS: u64 = 600;
/// `clocksource_max_adjustment`: NTP may slew a clocksource's mult by 11%.
const MAX_ADJ_PERCENT: u64 = 11;

/// Linux's `CLOCKSOURCE_MASK(bits)`.
pub const fn clocksource_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Linux's `clocks_calc_mult_shift`: the (mult, shift) pair that converts `from`-Hz cycles to
/// `to`-Hz units as `(cycles * mult) >> shift`, most precise while `maxsec` seconds of cycles
/// still fit 64 bits.
pub fn clocks_calc_mult_shift(from: u32, to: u32, maxsec: u32) -> (u32, u32) {
    let mut sftacc = 32u32;
    let mut tmp = (u64::from(maxsec) * u64::from(from)) >> 32;
    while tmp != 0 {
        tmp >>= 1;
        sftacc -= 1;
    }
    let mut sft = 32u32;
    let mut mult = 0u64;
    while sft > 0 {
        mult = ((u64::from(to) << sft) + u64::from(from) / 2) / u64::from(from);
        if mult >> sftacc == 0 {
            break;
        }
        sft -= 1;
    }
    (mult as u32, sft)
}

/// Linux's `clocksource_cyc2ns`.
pub const fn cyc2ns(cycles: u64, mult: u32, shift: u32) -> u64 {
    cycles.wrapping_mul(mult as u64) >> shift
}

/// Linux's `clocks_calc_max_nsecs`: half the nanoseconds that the most cycles convertible
/// without overflow (and within `mask`) take, with those cycles.
pub fn clocks_calc_max_nsecs(mult: u32, shift: u32, maxadj: u32, mask: u64) -> (u64, u64) {
    let max_cycles = (u64::MAX / (u64::from(mult) + u64::from(maxadj))).min(mask);
    (cyc2ns(max_cycles, mult - maxadj, shift) >> 1, max_cycles)
}

/// The arch timer's event stream rate (`ARCH_TIMER_EVT_STREAM_FREQ`, 10 kHz: a `wfe` waiting
/// on a lock or a flag wakes at least every 100 us).
pub const ARCH_TIMER_EVT_STREAM_FREQ: u32 = 10_000;

/// `arch_timer_configure_evtstream`'s divider (CNTKCTL.EVNTI: the counter bit whose
/// transitions raise the events) for a counter at `rate` Hz: the stream runs at most at half
/// the counter's rate, so half the rate over 10 kHz, rounded to the nearest power of two (the
/// bit below the top one set rounds up), within EVNTI's 0..=15.
pub fn evtstrm_divider(rate: u32) -> u32 {
    let div = rate / ARCH_TIMER_EVT_STREAM_FREQ / 2;
    if div == 0 {
        return 0;
    }
    let mut lsb = 31 - div.leading_zeros();
    if lsb > 0 && div & (1 << (lsb - 1)) != 0 {
        lsb += 1;
    }
    lsb.min(15)
}

/// arm_arch_timer's `arch_counter_get_width`: at least 56 bits, and enough for 40 years at
/// the counter's rate.
pub fn arch_counter_get_width(rate: u32) -> u32 {
    let min_cycles = MIN_ROLLOVER_SECS * u64::from(rate);
    (min_cycles.saturating_sub(1).checked_ilog2().map_or(0, |l| l + 1)).clamp(56, 64)
}

/// A clocksource as `__clocksource_register_scale` leaves it: the conversion to nanoseconds
/// and how long the kernel may go without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocksource {
    pub name: &'static str,
    pub mask: u64,
    pub mult: u32,
    pub shift: u32,
    pub maxadj: u32,
    pub max_cycles: u64,
    pub max_idle_ns: u64,
    /// `vdso_clock_mode`: how the vDSO reads this counter from user space
    /// (`VDSO_CLOCKMODE_NONE` until the driver says it can).
    pub vdso_clock_mode: i32,
}

impl Clocksource {
    /// Registers a counter of `freq` Hz with `mask` (`__clocksource_update_freq_scale`).
    pub fn new(name: &'static str, mask: u64, freq: u32) -> Self {
        let mut sec = mask / u64::from(freq.max(1));
        if sec == 0 {
            sec = 1;
        } else if sec > CLOCKSOURCE_MAX_SECS && mask > u64::from(u32::MAX) {
            sec = CLOCKSOURCE_MAX_SECS;
        }
        let (mut mult, mut shift) =
            clocks_calc_mult_shift(freq, NSEC_PER_SEC as u32, sec.min(u64::from(u32::MAX)) as u32);
        let max_adjustment = |mult: u32| (u64::from(mult) * MAX_ADJ_PERCENT / 100) as u32;
        let mut maxadj = max_adjustment(mult);
        while mult.checked_add(maxadj).is_none() || mult < maxadj {
            mult >>= 1;
            shift -= 1;
            maxadj = max_adjustment(mult);
        }
        let (max_idle_ns, max_cycles) = clocks_calc_max_nsecs(mult, shift, maxadj, mask);
        Clocksource {
            name,
            mask,
            mult,
            shift,
            maxadj,
            max_cycles,
            max_idle_ns,
            vdso_clock_mode: super::vsyscall::VDSO_CLOCKMODE_NONE,
        }
    }

    /// Nanoseconds of `cycles` (at most `max_cycles` of them).
    pub fn cyc2ns(&self, cycles: u64) -> u64 {
        cyc2ns(cycles & self.mask, self.mult, self.shift)
    }
}

impl fmt::Display for Clocksource {
    /// The registration line, `clocksource: NAME: mask: ... max_cycles: ..., max_idle_ns: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clocksource: {}: mask: {:#x} max_cycles: {:#x}, max_idle_ns: {} ns",
            self.name, self.mask, self.max_cycles, self.max_idle_ns
        )
    }
}

/// arm_arch_timer's `arch_timer_banner` for the CP15 timer: its rate and which of its timers
/// the kernel uses (the virtual one when entered outside HYP mode, as on QEMU; the physical
/// one when the firmware entered in HYP, as on a real Pi).
#[derive(Clone, Copy, Debug)]
pub struct ArchTimerBanner {
    pub rate: u32,
    pub virt: bool,
}

impl fmt::Display for ArchTimerBanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arch_timer: cp15 timer(s) running at {}.{:02}MHz ({}).",
            self.rate / 1_000_000,
            (self.rate / 10_000) % 100,
            if self.virt { "virt" } else { "phys" }
        )
    }
}

/// Loops per jiffy with a timer-based delay loop (`register_current_timer_delay`).
pub const fn lpj_fine(rate: u32) -> u64 {
    rate as u64 / HZ
}

/// `calibrate_delay`'s line when the timer frequency gives loops-per-jiffy.
#[derive(Clone, Copy, Debug)]
pub struct CalibrateDelay {
    pub lpj: u64,
}

impl fmt::Display for CalibrateDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lpj = self.lpj;
        write!(
            f,
            "Calibrating delay loop (skipped), value calculated using timer frequency.. \
             {}.{:02} BogoMIPS (lpj={})",
            lpj / (500_000 / HZ),
            (lpj / (5_000 / HZ)) % 100,
            lpj
        )
    }
}

/// The periodic tick on a one-shot clock event device (`tick_handle_periodic`): each expiry
/// is programmed at an absolute counter value one period after the last, so the ticks keep
/// exactly `HZ` per second of the counter however late an interrupt is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodicTick {
    /// Counter value of the next expiry.
    pub next: u64,
    /// Counter cycles per tick.
    pub period: u64,
}

impl PeriodicTick {
    /// A tick whose first expiry is one period after `now`; None for a counter slower than HZ.
    pub fn start(now: u64, rate: u32) -> Option<Self> {
        let period = u64::from(rate) / HZ;
        (period != 0).then_some(PeriodicTick { next: now.wrapping_add(period), period })
    }

    /// The device fired at counter `now`: returns the ticks that passed (1, or more if
    /// interrupts were off across several periods: Linux calls `tick_periodic` for each) and
    /// moves the next expiry past `now`.
    pub fn expire(&mut self, now: u64) -> u64 {
        if now < self.next {
            // Early (a stale interrupt): nothing has expired.
            return 0;
        }
        let missed = (now - self.next) / self.period;
        self.next += (missed + 1) * self.period;
        missed + 1
    }
}

/// Timekeeping between ticks (`timekeeping_advance` without NTP): the nanoseconds since
/// timekeeping began, accumulated at each tick so that the conversion of the cycles since
/// the last one never overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timekeeper {
    pub clock: Clocksource,
    pub cycle_last: u64,
    pub ns: u64,
}

impl Timekeeper {
    pub fn new(clock: Clocksource, now: u64) -> Self {
        Timekeeper { clock, cycle_last: now, ns: 0 }
    }

    /// Folds the cycles since the last update into `ns` (called from the tick).
    pub fn advance(&mut self, now: u64) {
        let delta = now.wrapping_sub(self.cycle_last) & self.clock.mask;
        self.ns += self.clock.cyc2ns(delta);
        self.cycle_last = now;
    }

    /// Nanoseconds since timekeeping began (Linux's boottime: pivm never suspends).
    pub fn boottime_ns(&self, now: u64) -> u64 {
        let delta =
            (now.wrapping_sub(self.cycle_last) & self.clock.mask).min(self.clock.max_cycles);
        self.ns + self.clock.cyc2ns(delta)
    }
}

/// Tick-based CPU time (`account_process_tick` without `CONFIG_VIRT_CPU_ACCOUNTING`): each
/// tick is charged whole to what it interrupted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    pub system: u64,
    pub idle: u64,
}

/// What a tick interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickContext {
    User,
    System,
    Idle,
}

impl CpuTicks {
    pub fn account(&mut self, ctx: TickContext, ticks: u64) {
        match ctx {
            TickContext::User => self.user += ticks,
            TickContext::System => self.system += ticks,
            TickContext::Idle => self.idle += ticks,
        }
    }
}

/// Linux's `jiffies_64`: ticks since boot, from `INITIAL_JIFFIES`.
static JIFFIES_64: AtomicU64 = AtomicU64::new(INITIAL_JIFFIES);

/// `get_jiffies_64()`.
pub fn get_jiffies_64() -> u64 {
    JIFFIES_64.load(Ordering::Relaxed)
}

/// `do_timer(ticks)`: advances jiffies (from the tick only).
#[cfg(kernel)]
fn do_timer(ticks: u64) {
    JIFFIES_64.fetch_add(ticks, Ordering::Relaxed);
}

/// The first tick at or after `deadline_ns`, for a sleep that must not end early: tick
/// `jiffies` happened at `tick_ns` (the coarse clock), and each later one a period after it.
/// Low-resolution `hrtimer`s expire from the tick in the same way: at the first tick whose
/// time has reached the expiry. A tick that comes late and counts several periods at once can
/// still wake the sleeper before its deadline; it then compares the clock and sleeps on.
pub fn expiry_jiffy(jiffies: u64, tick_ns: u64, deadline_ns: u64, tick_period_ns: u64) -> u64 {
    jiffies + deadline_ns.saturating_sub(tick_ns).div_ceil(tick_period_ns)
}

/// Seconds and hundredths, as /proc/uptime prints them (`%lu.%02lu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Centis(pub u64);

impl Centis {
    pub fn from_ns(ns: u64) -> Self {
        Centis(ns / (NSEC_PER_SEC / 100))
    }
}

impl fmt::Display for Centis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(kernel)]
pub use device::*;

/// The running clock: the ARM generic timer as clocksource and clock event device.
#[cfg(kernel)]
mod device {
    use spin::Once;

    use super::*;
    use crate::arch::arch_timer::{self, TimerKind};
    use crate::arch::irq::{irq_regs_cpsr, PSR_MODE_MASK, USR_MODE};
    use crate::kernel::irq::{self, IrqReturn};
    use crate::kernel::spinlock::IrqSpinLock;

    /// The tick and timekeeping, changed by the tick interrupt only.
    struct TickState {
        tick: PeriodicTick,
        tk: Timekeeper,
        cpustat: CpuTicks,
    }

    static STATE: IrqSpinLock<Option<TickState>> = IrqSpinLock::new(None);
    /// Which of the CP15 timers drives the tick (fixed once `time_init` ran).
    static TIMER: Once<TimerKind> = Once::new();
    /// Set by the idle loop while it waits for an interrupt (`is_idle_task(current)`).
    static IDLE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

    /// What `time_init` found, for its boot lines.
    pub struct TimeInit {
        pub banner: ArchTimerBanner,
        pub clocksource: Clocksource,
        pub calibrate: CalibrateDelay,
    }

    /// `time_init` + `tick_init` for the boot CPU: picks the CP15 timer Linux picks (the
    /// virtual one unless the firmware entered in HYP mode, which leaves the physical one
    /// to the kernel), registers the counter as clocksource and its interrupt as the tick,
    /// and starts the periodic tick. Interrupts are still off at the CPU.
    pub fn time_init(entered_in_hyp: bool) -> Result<TimeInit, irq::IrqError> {
        let kind = if entered_in_hyp { TimerKind::Phys } else { TimerKind::Virt };
        let rate = arch_timer::cntfrq();
        let width = arch_counter_get_width(rate);
        let mut clock = Clocksource::new("arch_sys_counter", clocksource_mask(width), rate);
        // arch_counter_register: user space may read the virtual counter (CNTVOFF is 0
        // when the kernel owns HYP, so it equals the physical one the tick then reads).
        arch_timer::set_user_access();
        // arch_timer_starting_cpu: the event stream (CONFIG_ARM_ARCH_TIMER_EVTSTREAM, on in
        // Debian's kernel), which also sets HWCAP_EVTSTRM.
        arch_timer::evtstrm_enable(evtstrm_divider(rate));
        // The vDSO reads the counter itself.
        clock.vdso_clock_mode = crate::arch::vdso::VDSO_CLOCKMODE_ARCHTIMER;
        let now = arch_timer::read_counter(kind);
        let tick = PeriodicTick::start(now, rate).ok_or(irq::IrqError::Invalid)?;
        TIMER.call_once(|| kind);
        *STATE.lock() =
            Some(TickState { tick, tk: Timekeeper::new(clock, now), cpustat: CpuTicks::default() });
        let virq = crate::board::raspi::irq::timer_irq(kind.ppi())?;
        irq::request_percpu_irq(virq, arch_timer_handler, "arch_timer")?;
        irq::enable_percpu_irq(virq, 0)?;
        arch_timer::set_next_event(kind, tick.next);
        Ok(TimeInit {
            banner: ArchTimerBanner { rate, virt: kind == TimerKind::Virt },
            clocksource: clock,
            calibrate: CalibrateDelay { lpj: lpj_fine(rate) },
        })
    }

    /// `arch_timer_handler_{virt,phys}`: masks the expired timer and runs the tick, which
    /// programs the next expiry (unmasking it again).
    fn arch_timer_handler(_irq: u32) -> IrqReturn {
        let Some(&kind) = TIMER.get() else { return IrqReturn::None };
        if !arch_timer::expired(kind) {
            return IrqReturn::None;
        }
        arch_timer::mask(kind);
        tick_handle_periodic(kind);
        // With the tick's state no longer held: a SysRq command the console's UART received
        // (`kernel::sysrq`).
        crate::kernel::sysrq::run_pending();
        // Typed input nobody has read for long (`kernel::watchdog`).
        crate::kernel::watchdog::tick();
        IrqReturn::Handled
    }

    /// `tick_handle_periodic` + `tick_periodic`: jiffies, timekeeping and the CPU time of
    /// every tick that passed, then the next expiry.
    fn tick_handle_periodic(kind: TimerKind) {
        let now = arch_timer::read_counter(kind);
        let ctx = if irq_regs_cpsr() & PSR_MODE_MASK == USR_MODE {
            TickContext::User
        } else if IDLE.load(core::sync::atomic::Ordering::Relaxed) {
            TickContext::Idle
        } else {
            TickContext::System
        };
        let mut state = STATE.lock();
        let Some(s) = state.as_mut() else { return };
        let ticks = s.tick.expire(now);
        if ticks == 0 {
            arch_timer::set_next_event(kind, s.tick.next);
            return;
        }
        do_timer(ticks);
        s.tk.advance(now);
        s.cpustat.account(ctx, ticks);
        // The vDSO's data page (once vdso_init made it), and the scheduler: processes run on
        // the ARMv7 kernel only so far (the arm64 kernel's tick keeps time and accounts CPU
        // time).
        crate::kernel::vsyscall::update_vsyscall(&s.tk);
        crate::kernel::process::scheduler_tick(matches!(ctx, TickContext::User));
        arch_timer::set_next_event(kind, s.tick.next);
    }

    /// Fills the vDSO's data page from the timekeeper now (`vdso_init` does, before the
    /// first tick that follows it).
    pub fn timekeeping_update_vsyscall() {
        if let Some(s) = STATE.lock().as_ref() {
            crate::kernel::vsyscall::update_vsyscall(&s.tk);
        }
    }

    /// The time of the last tick (`ktime_get_coarse`): what the coarse clocks read.
    pub fn ktime_get_coarse_ns() -> u64 {
        STATE.lock().as_ref().map_or(0, |s| s.tk.ns)
    }

    /// Nanoseconds since timekeeping started (`ktime_get_boottime`).
    pub fn ktime_get_boottime_ns() -> u64 {
        let Some(&kind) = TIMER.get() else { return 0 };
        let state = STATE.lock();
        state.as_ref().map_or(0, |s| s.tk.boottime_ns(arch_timer::read_counter(kind)))
    }

    /// The boot CPU's ticks so far, by what they interrupted.
    pub fn cpu_ticks() -> CpuTicks {
        STATE.lock().as_ref().map_or(CpuTicks::default(), |s| s.cpustat)
    }

    /// /proc/uptime: time since timekeeping started, and the idle ticks' time.
    pub fn render_uptime(w: &mut impl fmt::Write) -> fmt::Result {
        let idle_ns = cpu_ticks().idle * TICK_NSEC;
        crate::proc::uptime::render(w, ktime_get_boottime_ns(), idle_ns)
    }

    /// The console's `jiffies`: the tick count (`jiffies_64`), the ticks since boot and,
    /// read in the same interrupts-off moment, the clocksource's time since the tick
    /// started, so that the tick's rate can be checked against the counter.
    pub fn render_jiffies(w: &mut impl fmt::Write) -> fmt::Result {
        use crate::arch::irqflags;
        let flags = irqflags::local_irq_save();
        let (jiffies, ticks, ns) = (get_jiffies_64(), ticks_since_boot(), ktime_get_boottime_ns());
        irqflags::local_irq_restore(flags);
        writeln!(
            w,
            "jiffies: {} ({} ticks since boot, HZ={}; arch_sys_counter: {}.{:09} s since the tick started)",
            jiffies,
            ticks,
            HZ,
            ns / NSEC_PER_SEC,
            ns % NSEC_PER_SEC
        )
    }

    /// Timer interrupts and jiffies since `time_init`, for the console's `jiffies`.
    pub fn ticks_since_boot() -> u64 {
        get_jiffies_64().wrapping_sub(INITIAL_JIFFIES)
    }

    /// The idle loop's wait (`arch_cpu_idle` / `cpu_idle_poll`): with interrupts off, runs
    /// `idle_until` and, while it says there is nothing to do, sleeps in `wfi` until an
    /// interrupt is pending, then takes it. Ticks taken while asleep count as idle time.
    pub fn idle_wait<T>(mut ready: impl FnMut() -> Option<T>) -> T {
        use crate::arch::irqflags;
        loop {
            let flags = irqflags::local_irq_save();
            if let Some(v) = ready() {
                irqflags::local_irq_restore(flags);
                return v;
            }
            IDLE.store(true, core::sync::atomic::Ordering::Relaxed);
            irqflags::wait_for_interrupt();
            // The pending interrupt is taken here, still counted as idle.
            irqflags::local_irq_restore(flags);
            IDLE.store(false, core::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sleep_expires_at_the_first_tick_at_or_after_its_deadline() {
        const T: u64 = 10_000_000;
        // Tick 100 was at 1 s: a deadline 10 ms after it is tick 101; 10 ms + 1 ns is 102.
        assert_eq!(expiry_jiffy(100, 1_000_000_000, 1_010_000_000, T), 101);
        assert_eq!(expiry_jiffy(100, 1_000_000_000, 1_010_000_001, T), 102);
        // A deadline already passed: the current tick.
        assert_eq!(expiry_jiffy(100, 1_000_000_000, 999_000_000, T), 100);
    }

    use super::*;

    /// QEMU's raspi2b generic timer frequency, and what Debian's 6.1 printed for it.
    const QEMU_CNTFRQ: u32 = 62_500_000;

    #[test]
    fn arch_sys_counter_registers_as_linux_61_printed_it() {
        // linux-6.1-raspi2b-user/swap.txt: "clocksource: arch_sys_counter: mask:
        // 0x1ffffffffffffff max_cycles: 0x1cd42e208c, max_idle_ns: 881590405314 ns"
        let width = arch_counter_get_width(QEMU_CNTFRQ);
        assert_eq!(width, 57);
        let cs = Clocksource::new("arch_sys_counter", clocksource_mask(width), QEMU_CNTFRQ);
        assert_eq!(
            cs.to_string(),
            "clocksource: arch_sys_counter: mask: 0x1ffffffffffffff max_cycles: 0x1cd42e208c, \
             max_idle_ns: 881590405314 ns"
        );
        assert_eq!((cs.mult, cs.shift), (1 << 27, 23));
        // 16 ns per cycle at 62.5 MHz, exactly.
        assert_eq!(cs.cyc2ns(625_000), 10_000_000);
    }

    #[test]
    fn counter_width_is_at_least_56_bits() {
        // The Pi's 19.2 MHz crystal needs fewer than 56 bits for 40 years.
        assert_eq!(arch_counter_get_width(19_200_000), 56);
        assert_eq!(arch_counter_get_width(1_000_000_000), 61);
    }

    #[test]
    fn event_stream_divider_is_the_nearest_power_of_two() {
        // QEMU's 62.5 MHz: 3125 rounds up past 2^11 to bit 12 (7.6 kHz); the Pi's 19.2 MHz:
        // 960 to bit 10 (9.4 kHz); a slow counter stops at 0, a fast one at EVNTI's 15.
        assert_eq!(evtstrm_divider(QEMU_CNTFRQ), 12);
        assert_eq!(evtstrm_divider(19_200_000), 10);
        assert_eq!(evtstrm_divider(1_000_000), 6);
        assert_eq!(evtstrm_divider(20_000), 0);
        assert_eq!(evtstrm_divider(10_000), 0);
        assert_eq!(evtstrm_divider(u32::MAX), 15);
    }

    #[test]
    fn jiffies_clocksource_and_sched_clock_figures_match_linux() {
        // sched_clock_register(57 bits, 62.5 MHz): "resolution 16ns, wraps every
        // 4398046511096ns" (swap.txt); checks mult/shift for an hour and max_nsecs.
        let (mult, shift) = clocks_calc_mult_shift(QEMU_CNTFRQ, NSEC_PER_SEC as u32, 3600);
        assert_eq!(cyc2ns(1, mult, shift), 16);
        let (wrap, _) = clocks_calc_max_nsecs(mult, shift, 0, clocksource_mask(57));
        assert_eq!(wrap, 4_398_046_511_096);
        // The 1 MHz BCM2835 system timer: "clocksource: timer: mask: 0xffffffff max_cycles:
        // 0xffffffff, max_idle_ns: 1911260446275 ns".
        let cs = Clocksource::new("timer", clocksource_mask(32), 1_000_000);
        assert_eq!(
            cs.to_string(),
            "clocksource: timer: mask: 0xffffffff max_cycles: 0xffffffff, max_idle_ns: \
             1911260446275 ns"
        );
    }

    #[test]
    fn boot_lines() {
        assert_eq!(
            ArchTimerBanner { rate: QEMU_CNTFRQ, virt: true }.to_string(),
            "arch_timer: cp15 timer(s) running at 62.50MHz (virt)."
        );
        assert_eq!(
            ArchTimerBanner { rate: 19_200_000, virt: false }.to_string(),
            "arch_timer: cp15 timer(s) running at 19.20MHz (phys)."
        );
        // HZ = 100: lpj = 625000; Debian's HZ = 250 kernel printed lpj=250000 and the same
        // 125.00 BogoMIPS, which depend on the rate only.
        assert_eq!(lpj_fine(QEMU_CNTFRQ), 625_000);
        assert_eq!(
            CalibrateDelay { lpj: lpj_fine(QEMU_CNTFRQ) }.to_string(),
            "Calibrating delay loop (skipped), value calculated using timer frequency.. \
             125.00 BogoMIPS (lpj=625000)"
        );
    }

    #[test]
    fn jiffies_start_300_seconds_before_the_32_bit_wrap() {
        assert_eq!(INITIAL_JIFFIES, 0xffff_8ad0);
        assert_eq!((INITIAL_JIFFIES + 300 * HZ) as u32, 0);
        assert_eq!(TICK_NSEC, 10_000_000);
    }

    #[test]
    fn periodic_tick_keeps_hz_per_second_of_counter() {
        let mut t = PeriodicTick::start(1000, QEMU_CNTFRQ).unwrap();
        assert_eq!(t.period, 625_000);
        // Handled late each time by a varying amount: no drift.
        let mut ticks = 0;
        let mut now = 1000;
        for i in 0..1000u64 {
            now = t.next + (i * 7919) % 600_000;
            ticks += t.expire(now);
        }
        assert_eq!(ticks, 1000);
        assert_eq!(t.next, 1000 + 1001 * 625_000);
        assert!(t.next > now);
        // Interrupts off across 3.5 periods: three missed ticks are counted with this one.
        let next = t.next;
        assert_eq!(t.expire(next + 3 * 625_000 + 312_500), 4);
        assert_eq!(t.next, next + 4 * 625_000);
        // A stale interrupt before the expiry counts nothing and keeps the expiry.
        assert_eq!(t.expire(t.next - 1), 0);
        assert!(PeriodicTick::start(0, 50).is_none());
    }

    #[test]
    fn timekeeper_accumulates_without_overflow() {
        let cs = Clocksource::new("arch_sys_counter", clocksource_mask(57), QEMU_CNTFRQ);
        let mut tk = Timekeeper::new(cs, 5_000);
        assert_eq!(tk.boottime_ns(5_000 + 62_500_000), NSEC_PER_SEC);
        // A day of ticks: cycles * mult alone would overflow 64 bits after 2^37 cycles.
        let mut now = 5_000;
        for _ in 0..(24 * 3600 * HZ) {
            now += 625_000;
            tk.advance(now);
        }
        assert_eq!(tk.boottime_ns(now + 62_500), 24 * 3600 * NSEC_PER_SEC + 1_000_000);
        assert_eq!(Centis::from_ns(tk.boottime_ns(now)).to_string(), "86400.00");
        assert_eq!(Centis::from_ns(1_299_999_999).to_string(), "1.29");
    }

    #[test]
    fn ticks_are_charged_to_what_they_interrupted() {
        let mut c = CpuTicks::default();
        c.account(TickContext::System, 2);
        c.account(TickContext::Idle, 5);
        c.account(TickContext::User, 1);
        assert_eq!(c, CpuTicks { user: 1, system: 2, idle: 5 });
    }
}
