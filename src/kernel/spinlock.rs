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
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use spin::{Mutex, MutexGuard};

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
    inner: Mutex<T>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock { inner: Mutex::new(value) }
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
    inner: Mutex<T>,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock { inner: Mutex::new(value) }
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
