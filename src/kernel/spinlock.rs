//! Locks that interrupt handlers may take: Linux's `spin_lock_irqsave`. Taking the lock
//! first masks interrupts on this CPU (and remembers whether they were on), so a handler can
//! never spin on a lock that the code it interrupted holds; dropping the guard restores the
//! CPU's interrupt state. Locks no handler takes stay plain `spin::Mutex`es.
use core::ops::{Deref, DerefMut};

use spin::{Mutex, MutexGuard};

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
        IrqSpinLockGuard { guard: Some(self.inner.lock()), flags: Some(flags) }
    }

    /// `spin_trylock_irqsave`: the lock if it is free, interrupts unchanged otherwise.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let flags = save();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinLockGuard { guard: Some(guard), flags: Some(flags) }),
            None => {
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
}
