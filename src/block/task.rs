//! The block layer's view of the task that submits I/O: its name for the messages and
//! whether it can sleep until its bio completes (`io_schedule`), answered by
//! `kernel::process` on both kernels (the scheduler's own hooks are called directly). The console is
//! pivm's idle task and never sleeps: it idles in `wfi` until the card's interrupt completes
//! the bio.
use alloc::string::String;
use alloc::sync::Arc;

use super::blk_mq::Completion;
use crate::kernel::process::{self, iowait};

/// The idle task's name in the kernel's messages (`swapper/0`).
const IDLE_COMM: &str = "swapper/0";

/// The name of the task submitting I/O, as the kernel's messages name it.
pub fn current_comm() -> String {
    if process::current_pid() == 0 {
        String::from(IDLE_COMM)
    } else {
        process::with_current(|t| t.comm.clone())
    }
}

/// `io_schedule` until `done` or `timeout` jiffies: true when the running task slept (a
/// program whose task table is free); false when it cannot, and the caller idles instead.
pub fn io_sleep(done: &Arc<Completion>, timeout: u64) -> bool {
    if !iowait::can_sleep() {
        return false;
    }
    iowait::io_sleep(done, timeout);
    true
}
