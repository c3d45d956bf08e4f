//! Tasks asleep on block I/O (`io_schedule`, `folio_wait_locked`): a program that waits for
//! the card gives the CPU away and sleeps until the card's completion interrupt ends its
//! request, so other tasks run meanwhile, as on Linux.
//!
//! A fault that needs the card (a page-cache miss, read-ahead, a swap-in) submits its bios
//! under the task table's lock and does not wait there: it leaves the bio to wait for in
//! [`set_fault_wait`] and returns `VM_FAULT_RETRY`; the user-fault handler takes it once the
//! lock is free ([`take_fault_wait`]), sleeps, and runs the fault again with
//! `FAULT_FLAG_TRIED`. The retry walks the VMA and the page table from the start, so nothing
//! the fault saw before the sleep is trusted after it (Linux's `filemap_fault` and
//! `do_swap_page` revalidate with the page lock and `pte_same` for the same reason).
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Mutex;

use super::{current_pid, with_tasks, TaskState};
use crate::block::blk_mq::Completion;

/// A bio to wait for and the disk it is on.
pub type IoWait = (usize, Arc<Completion>);

/// The sleepers and the bio each waits for, by pid.
static WAITERS: Mutex<BTreeMap<u32, Arc<Completion>>> = Mutex::new(BTreeMap::new());
/// How many there are (read from the completion interrupt, which takes no lock).
static NR_WAITERS: AtomicU32 = AtomicU32::new(0);
/// The bio the fault being handled must wait for (disk, completion): set by the fault
/// environment under the task table's lock, taken by the same fault before it returns.
static FAULT_WAIT: Mutex<Option<IoWait>> = Mutex::new(None);

/// The fault in progress submitted (or found in flight) `done` on `disk` and must wait for it
/// before its retry; a later bio replaces an earlier one (requests complete in order).
pub fn set_fault_wait(disk: usize, done: Arc<Completion>) {
    *FAULT_WAIT.lock() = Some((disk, done));
}

/// The bio the fault just handled has to wait for, if any.
pub fn take_fault_wait() -> Option<IoWait> {
    FAULT_WAIT.lock().take()
}

/// Whether the running task may sleep for I/O: a program (the console is the idle task and
/// the dispatcher: it idles in `wfi` instead) while the task table is free.
pub fn can_sleep() -> bool {
    current_pid() != 0 && super::TASKS.try_lock().is_some()
}

/// Sleeps (`TASK_UNINTERRUPTIBLE`: a signal does not end the wait) until `done` completes or
/// `timeout` jiffies pass; the completion interrupt asks for the switch that wakes it.
pub fn io_sleep(done: &Arc<Completion>, timeout: u64) {
    let pid = current_pid();
    WAITERS.lock().insert(pid, done.clone());
    NR_WAITERS.fetch_add(1, Ordering::Relaxed);
    with_tasks(|t| {
        let c = t.current();
        c.state = TaskState::Sleeping;
        c.wake_at = crate::kernel::time::get_jiffies_64().saturating_add(timeout);
    });
    super::schedule();
    if WAITERS.lock().remove(&pid).is_some() {
        NR_WAITERS.fetch_sub(1, Ordering::Relaxed);
    }
    with_tasks(|t| {
        let c = t.current();
        c.state = TaskState::Runnable;
        c.wake_at = u64::MAX;
    });
}

/// For `wake_and_check`: None when `pid` is not asleep on I/O, else whether it may wake (its
/// bio completed, or its timeout `wake_at` passed; signals do not wake it).
pub(super) fn io_ready(pid: u32, wake_at: u64, now: u64) -> Option<bool> {
    if NR_WAITERS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    WAITERS.lock().get(&pid).map(|d| d.is_done() || wake_at <= now)
}

/// For `wake_and_check`: calls `f` with every I/O sleeper whose bio completed (the ones
/// whose timeout passed are found by their deadline).
pub(super) fn for_each_done(mut f: impl FnMut(u32)) {
    if NR_WAITERS.load(Ordering::Relaxed) == 0 {
        return;
    }
    for (&pid, done) in WAITERS.lock().iter() {
        if done.is_done() {
            f(pid);
        }
    }
}

/// From the block layer's completion (the card's interrupt): when a task sleeps on I/O, the
/// running program gives the CPU up on its way back to user space, so the sleeper is woken
/// at once rather than at the next tick.
pub fn io_completed() {
    if NR_WAITERS.load(Ordering::Relaxed) != 0 {
        super::set_need_resched();
        crate::arch::process::set_user_work_hint();
    }
}
