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
//!
//! On that one CPU a lock is never legitimately contended: whoever holds it when `lock()`
//! finds it taken is the code now spinning (a recursion), the task an interrupt handler
//! interrupted, or a task that slept holding it, and none of them can run again to release
//! it. So every lock records its owner on acquire (6.1's `CONFIG_DEBUG_SPINLOCK` records
//! `owner` and `owner_cpu`), and a `lock()` whose `try_lock` fails is reported as 6.1's
//! `spin_bug` reports it ([`contention`] says which message) and stops the kernel: a
//! deadlock cannot be resumed. The check runs only on the contended path.
use core::fmt::Write;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

use spin::MutexGuard;

/// `preempt_count()`'s `PREEMPT_MASK` part: the spin locks this CPU holds.
#[cfg(not(test))]
static PREEMPT_COUNT: AtomicU32 = AtomicU32::new(0);

// The host's unit tests run on several threads, each its own CPU: one count per thread, so
// one test's locks never show in another's count.
#[cfg(test)]
std::thread_local! {
    static PREEMPT_COUNT: AtomicU32 = const { AtomicU32::new(0) };
}

/// Runs `f` on this CPU's count.
#[inline(always)]
fn with_count<R>(f: impl FnOnce(&AtomicU32) -> R) -> R {
    #[cfg(not(test))]
    return f(&PREEMPT_COUNT);
    #[cfg(test)]
    return PREEMPT_COUNT.with(f);
}

/// `preempt_disable()`.
#[inline]
pub fn preempt_disable() {
    with_count(|c| c.fetch_add(1, Ordering::Relaxed));
}

/// `preempt_enable()` (pivm preempts only at its scheduling points, so nothing to run here).
#[inline]
pub fn preempt_enable() {
    with_count(|c| c.fetch_sub(1, Ordering::Relaxed));
}

/// `preempt_count()`: the spin locks held on this CPU.
pub fn preempt_count() -> u32 {
    with_count(|c| c.load(Ordering::Relaxed))
}

/// `preemptible()`: no lock held and interrupts on, so the caller may sleep (and reclaim).
pub fn preemptible() -> bool {
    preempt_count() == 0 && !irqs_disabled()
}

/// `dump_stack()` for a report made at `at` by task `pid` (`comm`): the `CPU:` line; pivm has
/// no unwinder, so the call trace is the one site the report names.
pub fn dump_stack(pid: u32, comm: &str, at: &core::panic::Location<'_>) {
    write_dump_stack(&mut ReportWriter, pid, comm, at);
}

/// [`dump_stack`] to `w`.
fn write_dump_stack(w: &mut dyn Write, pid: u32, comm: &str, at: &core::panic::Location<'_>) {
    write_dump_stack_task(w, pid, comm);
    let _ = writeln!(w, "Call trace:");
    let _ = writeln!(w, " {}:{}:{}", at.file(), at.line(), at.column());
}

/// `dump_stack`'s first line: the CPU and the task.
fn write_dump_stack_task(w: &mut dyn Write, pid: u32, comm: &str) {
    let _ = writeln!(w, "CPU: 0 PID: {} Comm: {} Not tainted {}", pid, comm, crate::VERSION);
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

/// Who a report names: the process layer installs it (pid and comm of the task `pid`, the
/// running one for None, given to the callback; it must not wait for a lock this CPU may
/// hold, nor allocate).
pub type CurrentTask = fn(Option<u32>, &mut dyn FnMut(u32, &str));

static CURRENT_TASK: spin::Once<CurrentTask> = spin::Once::new();

/// Installs the current-task hook (once, when the task table exists).
pub fn set_current_task(f: CurrentTask) {
    CURRENT_TASK.call_once(|| f);
}

/// Calls `f` with the pid and comm of task `pid` (None: the running task); before the task
/// table exists only the boot task runs, `swapper/0`.
fn with_task(pid: Option<u32>, f: &mut dyn FnMut(u32, &str)) {
    match CURRENT_TASK.get() {
        Some(task) => task(pid, f),
        None => f(pid.unwrap_or(0), "swapper/0"),
    }
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
    with_task(None, &mut who);
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

/// `SPINLOCK_MAGIC` (6.1's `spinlock_types.h`): the `magic` every lock carries, so that a
/// report tells a lock from memory written over.
pub const SPINLOCK_MAGIC: u32 = 0xdead_4ead;

/// The one CPU that runs the kernel (the others stay parked): the CPU every lock is taken on,
/// so a held lock's `owner_cpu`.
const KERNEL_CPU: u32 = 0;

/// Whether a held lock can only be a deadlock: the kernel runs on one CPU; the host's unit
/// tests run on several threads, whose locks are legitimately contended.
const ONE_CPU: bool = cfg!(kernel);

/// What a `lock()` that found the lock held means (6.1's `debug_spin_lock_before`, checked
/// here only once the lock is found held).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contention {
    /// The owner is the running task: the same code path again, or the task an interrupt
    /// handler interrupted (6.1's `lock->owner == current`).
    Recursion,
    /// Another task holds it on this CPU, and slept holding it (`lock->owner_cpu ==
    /// raw_smp_processor_id()`): on one CPU it never runs again while this one spins.
    CpuRecursion,
    /// Another CPU's holder will release it: wait (the host's threads only).
    Wait,
}

impl Contention {
    /// The `spin_bug` message.
    pub fn msg(self) -> &'static str {
        match self {
            Contention::Recursion => "recursion",
            Contention::CpuRecursion => "cpu recursion",
            Contention::Wait => "",
        }
    }
}

/// The check of a held lock: the recorded `owner` against the running task `current`, on a
/// kernel with `one_cpu` (every holder then runs on this CPU).
pub fn contention(owner: u32, current: u32, one_cpu: bool) -> Contention {
    if owner == current {
        Contention::Recursion
    } else if one_cpu {
        Contention::CpuRecursion
    } else {
        Contention::Wait
    }
}

/// The running task as a lock owner: its pid (in an interrupt handler, the interrupted
/// task's, as 6.1's `current`).
#[cfg(kernel)]
#[inline(always)]
fn current_owner() -> u32 {
    crate::kernel::process::current_pid()
}

/// The host's unit tests: the thread, so that a thread taking a lock twice is a recursion
/// and two threads are not.
#[cfg(test)]
fn current_owner() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    std::thread_local! {
        static ID: u32 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// The host library outside tests (benchmarks) has no notion of the running thread: no owner
/// is recorded and a held lock is waited for.
#[cfg(not(any(kernel, test)))]
#[inline(always)]
fn current_owner() -> u32 {
    NO_OWNER
}

/// `SPINLOCK_OWNER_INIT`: a lock never taken.
const NO_OWNER: u32 = u32::MAX;

/// The debug half of every lock (6.1's `magic` and `owner` of `raw_spinlock_t` under
/// `CONFIG_DEBUG_SPINLOCK`; `owner_cpu` is [`KERNEL_CPU`] for every held lock). The owner is
/// written on each acquire (one store) and read only when a `lock()` finds the lock held, so
/// it is not cleared on unlock.
struct LockDebug {
    magic: u32,
    owner: AtomicU32,
}

impl LockDebug {
    const fn new() -> Self {
        LockDebug { magic: SPINLOCK_MAGIC, owner: AtomicU32::new(NO_OWNER) }
    }

    /// `debug_spin_lock_after`: the running task owns the lock now.
    #[inline(always)]
    fn acquired(&self) {
        if cfg!(any(kernel, test)) {
            self.owner.store(current_owner(), Ordering::Relaxed);
        }
    }

    /// The contended path of `lock()` for the lock at `lock`, taken at `at`: returns when the
    /// holder may release it (another thread of the host's tests), else reports and stops.
    #[cold]
    #[inline(never)]
    fn contended(&self, lock: usize, at: &core::panic::Location<'_>, counted: bool) {
        self.check(lock, at, ONE_CPU, counted)
    }

    /// [`contended`](Self::contended) on a machine with `one_cpu` or several; `counted`: the
    /// lock is in the preempt count (not a [`Mutex`]).
    fn check(&self, lock: usize, at: &core::panic::Location<'_>, one_cpu: bool, counted: bool) {
        let owner = self.owner.load(Ordering::Relaxed);
        let current = current_owner();
        if current == NO_OWNER {
            return;
        }
        let c = contention(owner, current, one_cpu);
        if c == Contention::Recursion && !one_cpu && !self.owner_stays(current) {
            return;
        }
        if c != Contention::Wait {
            spin_bug(lock, self.magic, owner, c, at, counted)
        }
    }

    /// Whether the owner read as `current` stays so. With several CPUs (the host's threads)
    /// the read can be this thread's own from an earlier hold: the field is not cleared at
    /// unlock, and the thread that took the lock since may not have written its own yet. A
    /// real recursion never changes it; a stale read changes once that holder writes.
    #[cfg(test)]
    fn owner_stays(&self, current: u32) -> bool {
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
        let until = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < until {
            if self.owner.load(Ordering::Relaxed) != current {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// Outside the unit tests the host records no owner (see `current_owner`).
    #[cfg(not(test))]
    fn owner_stays(&self, _current: u32) -> bool {
        true
    }
}

/// Set by the first `spin_bug` (6.1's `debug_locks_off`): a second one while it reports is
/// not printed.
#[cfg(kernel)]
static DEBUG_LOCKS_OFF: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Where `spin_bug` writes: the UART without the console's lock, which may be the lock that
/// deadlocked (an interrupt handler printing while its task printed), as an oops does.
#[cfg(kernel)]
type BugWriter = crate::board::raspi::uart::UartWriter;
#[cfg(not(kernel))]
type BugWriter = ReportWriter;

/// `spin_bug`: 6.1's `spin_dump` (the message, the task, the lock's `%pS`, `magic`, owner and
/// `owner_cpu`, `dump_stack` naming the `lock()` call), then the kernel stops: the lock's
/// holder cannot run again on this CPU, so spinning would hang silently (6.1 spins on after
/// the report; its watchdogs would report the hang later). Nothing here allocates or waits
/// for a lock: the lock that deadlocked may be the allocator's or the task table's.
#[cold]
#[inline(never)]
fn spin_bug(
    lock: usize,
    magic: u32,
    owner: u32,
    c: Contention,
    at: &core::panic::Location<'_>,
    counted: bool,
) -> ! {
    #[cfg(kernel)]
    {
        // Nothing else runs on this CPU from here on.
        crate::arch::irqflags::local_irq_disable();
        if DEBUG_LOCKS_OFF.swap(true, Ordering::Relaxed) {
            crate::arch::cpu::halt()
        }
    }
    let w = &mut BugWriter {};
    let current = current_owner();
    with_task(Some(current), &mut |pid, comm| {
        let _ = write_spin_bug(w, c.msg(), pid, comm);
    });
    let mut fields = |o: Option<(u32, &str)>| {
        let _ = write_lock_fields(w, &LockSym(lock), magic, o);
    };
    match owner {
        NO_OWNER => fields(None),
        _ => with_task(Some(owner), &mut |p, n| fields(Some((p, n)))),
    }
    with_task(Some(current), &mut |pid, comm| {
        // arm64 unwinds its frame records, as 6.1's `dump_stack`; elsewhere the trace is the
        // `lock()` call's site.
        #[cfg(all(kernel, target_arch = "aarch64"))]
        {
            write_dump_stack_task(w, pid, comm);
            let _ = at;
            crate::arch::stacktrace::dump_backtrace(w);
        }
        #[cfg(not(all(kernel, target_arch = "aarch64")))]
        write_dump_stack(w, pid, comm, at);
    });
    deadlock_stop(w, c, counted)
}

/// A lock's address as `%pS` prints it: the symbol covering it, else the address in hex.
struct LockSym(usize);

impl core::fmt::Display for LockSym {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        #[cfg(kernel)]
        return crate::kallsyms::write_symbol(f, crate::kallsyms::kernel_table(), self.0 as u64);
        #[cfg(not(kernel))]
        write!(f, "{:#x}", self.0)
    }
}

/// `spin_dump`'s first line: `BUG: spinlock <msg> on CPU#<cpu>, <comm>/<pid>`.
fn write_spin_bug(w: &mut dyn Write, msg: &str, pid: u32, comm: &str) -> core::fmt::Result {
    writeln!(w, "BUG: spinlock {msg} on CPU#{KERNEL_CPU}, {comm}/{pid}")
}

/// `spin_dump`'s second line, the lock's fields (`.owner: <none>/-1` for a lock with no
/// recorded owner).
fn write_lock_fields(
    w: &mut dyn Write,
    lock: &dyn core::fmt::Display,
    magic: u32,
    owner: Option<(u32, &str)>,
) -> core::fmt::Result {
    write!(w, " lock: {lock}, .magic: {magic:08x}, .owner: ")?;
    match owner {
        Some((p, n)) => write!(w, "{n}/{p}")?,
        None => write!(w, "<none>/-1")?,
    }
    writeln!(w, ", .owner_cpu: {KERNEL_CPU}")
}

/// The panic message after the report, naming the deadlock.
struct DeadlockMsg(Contention);

impl core::fmt::Display for DeadlockMsg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "spinlock {}: deadlock", self.0.msg())
    }
}

/// The kernel stops: `panic()`'s lines, then the CPU halts with interrupts masked.
#[cfg(kernel)]
fn deadlock_stop(w: &mut BugWriter, c: Contention, _counted: bool) -> ! {
    let msg = DeadlockMsg(c);
    let _ = writeln!(w, "Kernel panic - not syncing: {msg}");
    let _ = writeln!(w, "---[ end Kernel panic - not syncing: {msg} ]---");
    crate::board::raspi::uart::flush();
    crate::arch::cpu::halt()
}

/// On the host the deadlock is a Rust panic, which a unit test catches; the `lock()` that
/// panics gives its preempt count back (its guard never existed).
#[cfg(not(kernel))]
fn deadlock_stop(_: &mut BugWriter, c: Contention, counted: bool) -> ! {
    if counted {
        preempt_enable();
    }
    panic!("{}", DeadlockMsg(c))
}

/// `lock()`'s acquire for the lock at `lock` (`counted`: in the preempt count): the lock if
/// it is free, else the contended path, which on the kernel reports the deadlock and stops.
#[track_caller]
#[inline(always)]
fn acquire<'a, T: ?Sized>(
    debug: &LockDebug,
    inner: &'a spin::Mutex<T>,
    lock: usize,
    counted: bool,
) -> MutexGuard<'a, T> {
    let guard = match inner.try_lock() {
        Some(guard) => guard,
        None => {
            debug.contended(lock, core::panic::Location::caller(), counted);
            inner.lock()
        }
    };
    debug.acquired();
    guard
}

/// A spin lock (`spinlock_t` with `spin_lock`): the `spin` crate's lock, counted in the
/// preempt count while held.
pub struct SpinLock<T: ?Sized> {
    debug: LockDebug,
    inner: spin::Mutex<T>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock { debug: LockDebug::new(), inner: spin::Mutex::new(value) }
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// `spin_lock`: `preempt_disable`, then the lock; found held, a deadlock (see the module).
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        preempt_disable();
        let lock = self as *const Self as *const () as usize;
        SpinLockGuard { guard: acquire(&self.debug, &self.inner, lock, true) }
    }

    /// `spin_trylock`: the lock if it is free.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        preempt_disable();
        let g = self.inner.try_lock();
        match g {
            Some(_) => self.debug.acquired(),
            None => preempt_enable(),
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
/// another task may want while its holder sleeps. Being a spin lock, it is checked as one:
/// found held, it is a deadlock reported by `spin_bug`.
pub struct Mutex<T> {
    debug: LockDebug,
    inner: spin::Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex { debug: LockDebug::new(), inner: spin::Mutex::new(value) }
    }

    /// `mutex_lock`.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        acquire(&self.debug, &self.inner, self as *const Self as usize, false)
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
    debug: LockDebug,
    inner: spin::Mutex<T>,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock { debug: LockDebug::new(), inner: spin::Mutex::new(value) }
    }

    /// `spin_lock_irqsave`: masks interrupts, then the lock; found held, a deadlock.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let flags = save();
        preempt_disable();
        let guard = acquire(&self.debug, &self.inner, self as *const Self as usize, true);
        IrqSpinLockGuard { guard: Some(guard), flags: Some(flags) }
    }

    /// `spin_trylock_irqsave`: the lock if it is free, interrupts unchanged otherwise.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let flags = save();
        preempt_disable();
        match self.inner.try_lock() {
            Some(guard) => {
                self.debug.acquired();
                Some(IrqSpinLockGuard { guard: Some(guard), flags: Some(flags) })
            }
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
    fn a_held_lock_is_a_deadlock_only_on_one_cpu_or_for_its_owner() {
        assert_eq!(contention(7, 7, true), Contention::Recursion);
        assert_eq!(contention(7, 7, false), Contention::Recursion);
        assert_eq!(contention(3, 7, true), Contention::CpuRecursion);
        assert_eq!(contention(3, 7, false), Contention::Wait);
        assert_eq!(Contention::Recursion.msg(), "recursion");
        assert_eq!(Contention::CpuRecursion.msg(), "cpu recursion");
    }

    /// Runs `f`, which must stop with the deadlock panic; returns the panic message and the
    /// report printed.
    fn deadlock(f: impl FnOnce()) -> (String, String) {
        let _ = take_reported_text();
        let before = preempt_count();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .expect_err("the second lock() must not return");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        // The panicking lock() counted itself (its guard never existed); the first one's
        // guard gave its count back as the panic unwound.
        assert!(preempt_count() <= before + 1, "the panicking lock() left its count");
        (msg, take_reported_text())
    }

    /// `spin_dump`'s lines for a lock at `lock` taken twice by this thread at `line`.
    fn expect_recursion_report(text: &str, lock: usize, line: u32) {
        let me = current_owner();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("BUG: spinlock recursion on CPU#0, swapper/0/{me}").as_str())
        );
        assert_eq!(
            lines.next(),
            Some(
                format!(
                    " lock: {lock:#x}, .magic: dead4ead, .owner: swapper/0/{me}, .owner_cpu: 0"
                )
                .as_str()
            ),
            "{text}"
        );
        assert!(lines
            .next()
            .unwrap_or("")
            .starts_with(&format!("CPU: 0 PID: {me} Comm: swapper/0")));
        assert_eq!(lines.next(), Some("Call trace:"));
        let site = format!(" {}:{line}:", file!());
        assert!(lines.next().unwrap_or("").starts_with(&site), "{text}");
    }

    /// Takes a lock twice on this thread through `take`, which locks it at line `line`: the
    /// recursion's report for the lock at `lock`, then the panic.
    fn expect_taken_twice(lock: usize, line: u32, take: &dyn Fn() -> Box<dyn std::any::Any>) {
        let (msg, text) = deadlock(|| {
            let _g = take();
            let _h = take();
        });
        assert_eq!(msg, "spinlock recursion: deadlock");
        expect_recursion_report(&text, lock, line);
    }

    #[test]
    fn a_spin_lock_taken_twice_is_reported_as_recursion_and_stops() {
        static L: SpinLock<u32> = SpinLock::new(0);
        let take = || -> Box<dyn std::any::Any> { Box::new(L.lock()) };
        expect_taken_twice(&L as *const _ as usize, line!() - 1, &take);
        // The lock was released by the unwinding; it works again.
        assert_eq!(*L.lock(), 0);
    }

    #[test]
    fn irq_locks_and_mutexes_taken_twice_are_reported_too() {
        static I: IrqSpinLock<()> = IrqSpinLock::new(());
        static M: Mutex<()> = Mutex::new(());
        let take = || -> Box<dyn std::any::Any> { Box::new(I.lock()) };
        expect_taken_twice(&I as *const _ as usize, line!() - 1, &take);
        let take = || -> Box<dyn std::any::Any> { Box::new(M.lock()) };
        expect_taken_twice(&M as *const _ as usize, line!() - 1, &take);
    }

    #[test]
    fn another_owner_is_a_cpu_recursion_on_one_cpu_and_a_wait_on_several() {
        let l = SpinLock::new(());
        let g = l.lock();
        // The lock as another task left it (it slept holding it).
        l.debug.owner.store(u32::MAX - 1, Ordering::Relaxed);
        let at = core::panic::Location::caller();
        let addr = &l as *const _ as usize;
        l.debug.check(addr, at, false, true);
        assert_eq!(take_reported_text(), "", "on several CPUs the holder's CPU releases it");
        let (msg, text) = deadlock(|| l.debug.check(addr, at, true, false));
        assert_eq!(msg, "spinlock cpu recursion: deadlock");
        let me = current_owner();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("BUG: spinlock cpu recursion on CPU#0, swapper/0/{me}").as_str())
        );
        let fields = format!(
            " lock: {addr:#x}, .magic: dead4ead, .owner: swapper/0/{}, .owner_cpu: 0",
            u32::MAX - 1
        );
        assert_eq!(lines.next(), Some(fields.as_str()), "{text}");
        drop(g);
    }

    #[test]
    fn two_threads_contending_wait_for_each_other() {
        static L: SpinLock<u32> = SpinLock::new(0);
        let _ = take_reported_text();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..2000 {
                        *L.lock() += 1;
                    }
                    take_reported_text()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("no deadlock report"), "");
        }
        assert_eq!(*L.lock(), 8000);
    }

    #[test]
    fn a_lock_with_no_recorded_owner_is_reported_with_none() {
        let mut s = String::new();
        write_lock_fields(&mut s, &LockSym(0x8000_1000), SPINLOCK_MAGIC, None).unwrap();
        assert_eq!(s, " lock: 0x80001000, .magic: dead4ead, .owner: <none>/-1, .owner_cpu: 0\n");
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
