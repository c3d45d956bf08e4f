//! Wait queues (`wait_queue_head_t`): a task sleeps on one until another context wakes it.
//! A wake-up takes no lock (it may come from an interrupt, or from an allocation under the
//! page allocator's lock while the task table is held): it advances the queue's sequence
//! number and asks for a reschedule, and the scheduler's `wake_and_check` makes every task
//! that slept at an older number runnable. A wake-up between `prepare_to_wait` and the sleep
//! is not lost: the sleeper's number is already old.
use core::sync::atomic::{AtomicU32, Ordering};

use super::{schedule, with_tasks, TaskState};

/// `wait_queue_head_t`.
pub struct WaitQueue {
    /// Wake-ups so far.
    seq: AtomicU32,
    /// Tasks between `prepare_to_wait` and `finish_wait` (`waitqueue_active`).
    waiters: AtomicU32,
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue { seq: AtomicU32::new(0), waiters: AtomicU32::new(0) }
    }

    /// `wake_up_interruptible`: from any context; nothing to do when no task waits.
    pub fn wake_up(&self) {
        if self.waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        self.seq.fetch_add(1, Ordering::AcqRel);
        super::set_need_resched();
    }

    /// `waitqueue_active`.
    pub fn active(&self) -> bool {
        self.waiters.load(Ordering::Acquire) != 0
    }

    /// Whether a wake-up came after the sleeper's number `seen`.
    pub(super) fn woken_since(&self, seen: u32) -> bool {
        self.seq.load(Ordering::Acquire) != seen
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

/// `prepare_to_wait`: the caller joins `q`; the number its sleep will compare against.
pub fn prepare_to_wait(q: &WaitQueue) -> u32 {
    q.waiters.fetch_add(1, Ordering::AcqRel);
    q.seq.load(Ordering::Acquire)
}

/// `finish_wait`: the caller leaves `q`.
pub fn finish_wait(q: &WaitQueue) {
    q.waiters.fetch_sub(1, Ordering::AcqRel);
}

/// `schedule_timeout` in `TASK_INTERRUPTIBLE` on `q` (joined at number `seen`): sleeps
/// until a wake-up after `seen` or until `timeout` jiffies pass (`u64::MAX`: no timeout);
/// the jiffies left (0 when it timed out), as Linux returns them.
#[track_caller]
pub fn schedule_timeout(q: &'static WaitQueue, seen: u32, timeout: u64) -> u64 {
    // A sleep where the caller may not sleep (a lock held, interrupts off) is reported.
    crate::kernel::spinlock::might_sleep();
    let now = crate::kernel::time::get_jiffies_64();
    let deadline = now.saturating_add(timeout);
    with_tasks(|t| {
        let c = t.current();
        c.state = TaskState::Sleeping;
        c.wake_at = deadline;
        c.wait = Some((q, seen));
    });
    schedule();
    with_tasks(|t| {
        let c = t.current();
        c.wait = None;
        c.state = TaskState::Runnable;
        c.wake_at = u64::MAX;
    });
    if timeout == u64::MAX {
        return u64::MAX;
    }
    deadline.saturating_sub(crate::kernel::time::get_jiffies_64())
}
