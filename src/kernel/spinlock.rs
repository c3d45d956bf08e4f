//! The kernel's spin locks and the preempt count that says whether the running code may
//! sleep. [`SpinLock`] is `spin_lock`: the `spin` crate's lock plus `preempt_disable` while it
//! is held. [`IrqSpinLock`] is `spin_lock_irqsave`: taking it first masks interrupts on this
//! CPU (and remembers whether they were on), so a handler can never spin on a lock that the
//! code it interrupted holds; dropping the guard restores the CPU's interrupt state.
//!
//! [`preemptible`] is 6.1's `preemptible()` (`preempt_count() == 0 && !irqs_disabled()`,
//! what `might_sleep` checks): no lock held and interrupts on, so not in an interrupt handler
//! either (pivm's handlers run with interrupts masked). Only code for which it is true may
//! sleep or reclaim, so the global allocator reclaims there, as a `GFP_KERNEL` allocation
//! does (see `kernel::mem`), and keeps the atomic behaviour everywhere else. One CPU runs
//! the kernel, so the count is one counter; a task switch happens with no lock held.
use core::fmt::Write;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

use spin::MutexGuard;

/// `preempt_count()`'s `PREEMPT_MASK` part: the spin locks this CPU holds.
static PREEMPT_COUNT: AtomicU32 = AtomicU32::new(0);

/// `preempt_disable()`.
#[inline]
pub fn preempt_disable() {
    PREEMPT_COUNT.fetch_add(1, Ordering::Relaxed);
}

/// `preempt_enable()` (pivm preempts only at its scheduling points, so nothing to run here).
#[inline]
pub fn preempt_enable() {
    PREEMPT_COUNT.fetch_sub(1, Ordering::Relaxed);
}

/// `preempt_count()`: the spin locks held on this CPU.
pub fn preempt_count() -> u32 {
    PREEMPT_COUNT.load(Ordering::Relaxed)
}

/// `preemptible()`: no lock held and interrupts on, so the caller may sleep (and reclaim).
pub fn preemptible() -> bool {
    preempt_count() == 0 && !irqs_disabled()
}

/// `dump_stack()` for a report made at `at` by task `pid` (`comm`): the `CPU:` line; pivm has
/// no unwinder, so the call trace is the one site the report names.
pub fn dump_stack(pid: u32, comm: &str, at: &core::panic::Location<'_>) {
    let w = &mut ReportWriter;
    let _ = writeln!(w, "CPU: 0 PID: {} Comm: {} Not tainted {}", pid, comm, crate::VERSION);
    let _ = writeln!(w, "Call trace:");
    let _ = writeln!(w, " {}:{}:{}", at.file(), at.line(), at.column());
}

/// Where reports go: the kernel's console.
#[cfg(kernel)]
use crate::console::printk::Console as ReportWriter;

/// On the host reports are counted, not printed; the unit tests also keep each thread's text
/// (`take_reported_text`) to check it.
#[cfg(not(kernel))]
struct ReportWriter;

#[cfg(test)]
std::thread_local! {
    static REPORTED_TEXT: core::cell::RefCell<alloc::string::String> =
        const { core::cell::RefCell::new(alloc::string::String::new()) };
}

/// The report text this thread printed since the last call (unit tests).
#[cfg(test)]
fn take_reported_text() -> alloc::string::String {
    REPORTED_TEXT.with(|t| core::mem::take(&mut *t.borrow_mut()))
}

#[cfg(not(kernel))]
impl Write for ReportWriter {
    #[cfg(test)]
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        REPORTED_TEXT.with(|t| t.borrow_mut().push_str(s));
        Ok(())
    }
    #[cfg(not(test))]
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// Who is running, for reports: the process layer installs it (pid and comm of the current
/// task, given to the callback; it must not wait for a lock this CPU may hold).
pub type CurrentTask = fn(&mut dyn FnMut(u32, &str));

static CURRENT_TASK: spin::Once<CurrentTask> = spin::Once::new();

/// Installs the current-task hook (once, when the task table exists).
pub fn set_current_task(f: CurrentTask) {
    CURRENT_TASK.call_once(|| f);
}

/// The call sites `might_sleep` has reported, so each is reported once (6.1 rate-limits its
/// report to one a second instead; once per site keeps a log readable and a test exact).
const MIGHT_SLEEP_SITES: usize = 16;
static REPORTED: [AtomicUsize; MIGHT_SLEEP_SITES] =
    [const { AtomicUsize::new(0) }; MIGHT_SLEEP_SITES];

/// Reports reported so far (every site, first time each): for tests and `dmesg`-less checks.
static MIGHT_SLEEP_REPORTS: AtomicU32 = AtomicU32::new(0);

/// Whether `site` (a `Location`'s address) is reported for the first time; records it.
fn first_report_at(site: usize) -> bool {
    for slot in &REPORTED {
        match slot.compare_exchange(0, site, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(s) if s == site => return false,
            Err(_) => {}
        }
    }
    // Every slot taken by other sites: report, unrecorded.
    true
}

/// 6.1's `system_state`, as far as `might_sleep` needs it: the boot (`SYSTEM_BOOTING`, all of
/// `start_kernel`, interrupts masked at first), then `SYSTEM_SCHEDULING` from `rest_init` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SystemState {
    Booting = 0,
    Scheduling = 1,
}

static SYSTEM_STATE: AtomicU8 = AtomicU8::new(SystemState::Booting as u8);

/// Moves `system_state` on (`rest_init` sets `SYSTEM_SCHEDULING`); it never goes back.
pub fn set_system_state(state: SystemState) {
    SYSTEM_STATE.fetch_max(state as u8, Ordering::Relaxed);
}

/// The current `system_state`.
pub fn system_state() -> SystemState {
    match SYSTEM_STATE.load(Ordering::Relaxed) {
        0 => SystemState::Booting,
        _ => SystemState::Scheduling,
    }
}

/// `might_sleep()` (6.1's `__might_resched` under `CONFIG_DEBUG_ATOMIC_SLEEP`): code about to
/// sleep, or to make an allocation that may sleep, checks that it may; where it may not (a
/// spin lock held, interrupts off) it prints Linux's report, once per call site, and carries
/// on (the caller then keeps its atomic behaviour: allocations do not reclaim there).
/// Returns whether the caller may sleep.
///
/// The site is the caller's, as `__might_sleep(__FILE__, __LINE__)` names its caller: an
/// entry point that may sleep on its callers' behalf (`vmalloc`, `alloc_reclaiming`) is
/// `#[track_caller]` all the way down, so the report names the line that called it under the
/// lock, not a line inside the allocator.
///
/// While booting (`SYSTEM_BOOTING`) nothing is reported, as 6.1 reports nothing then (the
/// boot's `GFP_KERNEL` allocations run with interrupts masked: `init_IRQ`'s IRQ stacks), but
/// the answer is the same: the caller keeps its atomic behaviour.
#[track_caller]
pub fn might_sleep() -> bool {
    let (count, irqs_off) = (preempt_count(), irqs_disabled());
    if count == 0 && !irqs_off {
        return true;
    }
    if system_state() == SystemState::Booting {
        return false;
    }
    let at = core::panic::Location::caller();
    if first_report_at(at as *const _ as usize) {
        MIGHT_SLEEP_REPORTS.fetch_add(1, Ordering::Relaxed);
        report_invalid_sleep(at, count, irqs_off);
    }
    false
}

/// How many `BUG: sleeping function called from invalid context` reports were printed.
pub fn might_sleep_reports() -> u32 {
    MIGHT_SLEEP_REPORTS.load(Ordering::Relaxed)
}

/// The report itself, as `__might_resched` prints it: the site, `in_atomic()`,
/// `irqs_disabled()`, the task, the preempt count against the expected 0, then `dump_stack`'s
/// header (pivm has no unwinder: the backtrace is the reporting site).
#[cold]
#[inline(never)]
fn report_invalid_sleep(at: &core::panic::Location<'_>, count: u32, irqs_off: bool) {
    let mut who = |pid: u32, comm: &str| {
        let w = &mut ReportWriter;
        let _ = writeln!(
            w,
            "BUG: sleeping function called from invalid context at {}:{}",
            at.file(),
            at.line()
        );
        let _ = writeln!(
            w,
            "in_atomic(): {}, irqs_disabled(): {}, non_block: 0, pid: {}, name: {}",
            u32::from(count != 0),
            u32::from(irqs_off),
            pid,
            comm
        );
        let _ = writeln!(w, "preempt_count: {:x}, expected: 0", count);
        dump_stack(pid, comm, at);
    };
    match CURRENT_TASK.get() {
        Some(current) => current(&mut who),
        None => who(0, "swapper/0"),
    }
}

#[cfg(kernel)]
fn irqs_disabled() -> bool {
    crate::arch::irqflags::irqs_disabled()
}
// The host's unit tests run with no interrupts to mask.
#[cfg(not(kernel))]
fn irqs_disabled() -> bool {
    false
}

/// A spin lock (`spinlock_t` with `spin_lock`): the `spin` crate's lock, counted in the
/// preempt count while held.
pub struct SpinLock<T: ?Sized> {
    inner: spin::Mutex<T>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock { inner: spin::Mutex::new(value) }
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// `spin_lock`: `preempt_disable`, then spin for the lock.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        preempt_disable();
        SpinLockGuard { guard: self.inner.lock() }
    }

    /// `spin_trylock`: the lock if it is free.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        preempt_disable();
        let g = self.inner.try_lock();
        if g.is_none() {
            preempt_enable();
        }
        g.map(|guard| SpinLockGuard { guard })
    }

    /// `spin_is_locked`.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + core::fmt::Debug> core::fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        SpinLock::new(T::default())
    }
}

/// Holds a [`SpinLock`]; dropping it unlocks and `preempt_enable`s.
pub struct SpinLockGuard<'a, T: ?Sized> {
    guard: MutexGuard<'a, T>,
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // The lock itself is released right after this, when `guard` is dropped.
        preempt_enable();
    }
}

/// A lock whose holder may sleep (Linux's `struct mutex` in that role): the `spin` crate's
/// lock, not counted in the preempt count, so an allocation made under it may reclaim and
/// `might_sleep` stays quiet. pivm has no sleeping lock: a contended one spins, so it is only
/// for state one task takes (the console's commands), never for state an interrupt or
/// another task may want while its holder sleeps.
pub struct Mutex<T> {
    inner: spin::Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex { inner: spin::Mutex::new(value) }
    }

    /// `mutex_lock`.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.inner.lock()
    }
}

/// The interrupt state `lock` saved (Linux's `unsigned long flags`).
#[cfg(kernel)]
type Flags = crate::arch::irqflags::IrqFlags;
/// On the host (unit tests) there are no interrupts, so no state to keep.
#[cfg(not(kernel))]
#[derive(Clone, Copy)]
struct Flags;

#[cfg(kernel)]
fn save() -> Flags {
    crate::arch::irqflags::local_irq_save()
}
#[cfg(kernel)]
fn restore(flags: Flags) {
    crate::arch::irqflags::local_irq_restore(flags)
}
// On the host (unit tests) there are no interrupts to mask.
#[cfg(not(kernel))]
fn save() -> Flags {
    Flags
}
#[cfg(not(kernel))]
fn restore(_: Flags) {}

/// A spin lock taken with interrupts masked (`spinlock_t` used with `spin_lock_irqsave`).
pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock { inner: spin::Mutex::new(value) }
    }

    /// `spin_lock_irqsave`: masks interrupts, then spins for the lock.
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let flags = save();
        preempt_disable();
        IrqSpinLockGuard { guard: Some(self.inner.lock()), flags: Some(flags) }
    }

    /// `spin_trylock_irqsave`: the lock if it is free, interrupts unchanged otherwise.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let flags = save();
        preempt_disable();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinLockGuard { guard: Some(guard), flags: Some(flags) }),
            None => {
                preempt_enable();
                restore(flags);
                None
            }
        }
    }
}

/// Holds the lock and the interrupt state to restore (`spin_unlock_irqrestore` on drop).
pub struct IrqSpinLockGuard<'a, T> {
    guard: Option<MutexGuard<'a, T>>,
    flags: Option<Flags>,
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl<T> Drop for IrqSpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock first, then let interrupts in: a handler waiting to run may take the lock.
        drop(self.guard.take());
        preempt_enable();
        if let Some(flags) = self.flags.take() {
            restore(flags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_exclude_each_other_and_unlock_on_drop() {
        let l = IrqSpinLock::new(5);
        {
            let mut g = l.lock();
            *g += 1;
            assert!(l.try_lock().is_none());
        }
        assert_eq!(*l.try_lock().unwrap(), 6);
    }

    #[test]
    fn might_sleep_is_false_under_a_lock_and_reports_a_site_once() {
        set_system_state(SystemState::Scheduling);
        let s = SpinLock::new(());
        let before = might_sleep_reports();
        {
            let _g = s.lock();
            assert!(!might_sleep(), "a held lock: the caller may not sleep");
        }
        assert!(might_sleep_reports() > before, "the report was counted");
        // The record of reported sites: a new site once, then never again.
        let site = &REPORTED as *const _ as usize + 1;
        assert!(first_report_at(site));
        assert!(!first_report_at(site));
        assert!(!first_report_at(site));
    }

    /// An allocation entry point as `kernel::vmalloc`'s are: `#[track_caller]` through two
    /// levels down to `might_sleep`.
    #[track_caller]
    fn vmalloc_like() -> bool {
        alloc_pages_like()
    }

    #[track_caller]
    fn alloc_pages_like() -> bool {
        might_sleep()
    }

    #[test]
    fn might_sleep_names_the_caller_of_the_allocation_entry_point() {
        set_system_state(SystemState::Scheduling);
        let s = SpinLock::new(());
        let _ = take_reported_text();
        let mut line = 0;
        // The same site twice: one report.
        for _ in 0..2 {
            let _g = s.lock();
            let may = vmalloc_like();
            line = line!() - 1;
            assert!(!may, "a held lock: the caller may not sleep");
        }
        let text = take_reported_text();
        let site = format!("{}:{}", file!(), line);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("BUG: sleeping function called from invalid context at {site}").as_str())
        );
        assert!(lines.next().unwrap_or("").starts_with("in_atomic(): 1, irqs_disabled(): 0, "));
        assert!(text.contains(&format!("\nCall trace:\n {site}:")), "{text}");
        assert_eq!(text.matches("BUG:").count(), 1, "{text}");
    }

    #[test]
    fn a_held_lock_makes_the_code_atomic() {
        // Other tests on other threads take locks too: compare with the count before.
        let s = SpinLock::new(1);
        let i = IrqSpinLock::new(2);
        let g = s.lock();
        assert!(preempt_count() >= 1);
        assert!(s.try_lock().is_none());
        let h = i.lock();
        assert!(preempt_count() >= 2);
        drop(h);
        drop(g);
        let mut s = s;
        *s.get_mut() += 1;
        assert_eq!(*s.try_lock().unwrap(), 2);
        assert!(!s.is_locked());
    }
}
