//! The block layer's view of the task that submits I/O: its name for the messages, whether
//! it can sleep until its bio completes (`io_schedule`), and the scheduler's hooks a wait
//! and a completion use. The 32-bit kernel answers from `kernel::process`. The 64-bit kernel
//! has no processes yet: the only task is the console, pivm's idle task, which never sleeps
//! (it idles in `wfi` until the card's interrupt completes the bio, as the 32-bit console
//! does), so the answers there are the idle task's.
use alloc::string::String;

use super::blk_mq::Completion;

/// The idle task's name in the kernel's messages (`swapper/0`).
const IDLE_COMM: &str = "swapper/0";

#[cfg(not(target_arch = "aarch64"))]
mod imp {
    use alloc::string::String;
    use alloc::sync::Arc;

    use super::{Completion, IDLE_COMM};
    use crate::kernel::process::{self, iowait};

    pub fn current_comm() -> String {
        if process::current_pid() == 0 {
            String::from(IDLE_COMM)
        } else {
            process::with_current(|t| t.comm.clone())
        }
    }

    pub fn io_sleep(done: &Arc<Completion>, timeout: u64) -> bool {
        if !iowait::can_sleep() {
            return false;
        }
        iowait::io_sleep(done, timeout);
        true
    }

    pub fn note_idle_wait() {
        iowait::note_idle_wait();
    }

    pub fn others_runnable() -> bool {
        process::others_runnable()
    }

    pub fn schedule() {
        process::schedule();
    }

    pub fn io_completed() {
        iowait::io_completed();
    }
}

/// The 64-bit kernel, whose only task is the idle task (the console).
#[cfg(target_arch = "aarch64")]
mod imp {
    use alloc::string::String;
    use alloc::sync::Arc;

    use super::{Completion, IDLE_COMM};

    pub fn current_comm() -> String {
        String::from(IDLE_COMM)
    }

    /// The idle task does not sleep.
    pub fn io_sleep(_: &Arc<Completion>, _: u64) -> bool {
        false
    }

    /// Only programs' idle waits are counted (`iowait`), and there are none.
    pub fn note_idle_wait() {}

    pub fn others_runnable() -> bool {
        false
    }

    /// Nothing else to run.
    pub fn schedule() {}

    /// No task sleeps on a bio, so none needs waking.
    pub fn io_completed() {}
}

/// The name of the task submitting I/O, as the kernel's messages name it.
pub fn current_comm() -> String {
    imp::current_comm()
}

/// `io_schedule` until `done` or `timeout` jiffies: true when the running task slept (a
/// program whose task table is free); false when it cannot, and the caller idles instead.
pub fn io_sleep(done: &alloc::sync::Arc<Completion>, timeout: u64) -> bool {
    imp::io_sleep(done, timeout)
}

/// A program is about to wait for the card without sleeping (counted for `iowait`).
pub fn note_idle_wait() {
    imp::note_idle_wait();
}

/// Whether another task could run while this one waits.
pub fn others_runnable() -> bool {
    imp::others_runnable()
}

/// Gives the CPU to another task.
pub fn schedule() {
    imp::schedule();
}

/// A bio completed (from the driver's interrupt): wakes its sleeper at once.
pub fn io_completed() {
    imp::io_completed();
}
