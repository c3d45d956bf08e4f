//! The scheduler's side of pipes: a reader of an empty pipe or a writer to a full one sleeps
//! on it (`pipe_wait_readable`/`pipe_wait_writable`: the task is put on the pipe's wait list
//! and leaves the run queue, no polling), and every change to a pipe (bytes written or read,
//! an end closed) hands its sleepers back to [`wake_pipe_waiters`], which `schedule()` runs.
//! A signal ends the wait (`-ERESTARTSYS`, or the bytes already written). A write with no
//! reader left raises SIGPIPE and fails with `EPIPE`, as `pipe_write` does.
use alloc::sync::Arc;

use crate::kernel::spinlock::SpinLock;

use super::syscall::transfer_sleeping;
use super::{with_current, TaskState, Tasks};
use crate::fs::pipe::Pipe;
use crate::fs::vfs::{o, Object};
use crate::mm::mm_types::Errno;

/// `SIGPIPE`.
const SIGPIPE: u32 = 13;

/// The pipe behind `fd` when it is one without `O_NONBLOCK` (a read or write may sleep).
pub fn blocking_pipe(fd: i32) -> Option<Arc<SpinLock<Pipe>>> {
    with_current(|t| {
        let f = t.files.get(fd).ok()?.lock();
        match &f.object {
            Object::Pipe(end) if f.f_flags & o::O_NONBLOCK == 0 => Some(end.pipe.clone()),
            _ => None,
        }
    })
}

/// Whether `fd` is a pipe (blocking or not).
fn is_pipe(fd: i32) -> bool {
    with_current(|t| t.files.get(fd).is_ok_and(|f| matches!(f.lock().object, Object::Pipe(_))))
}

/// Sleeps the caller on `fd`'s pipe until it changes. `Some` ends the call: a pending signal
/// (`done` bytes already moved, or `-ERESTARTSYS`), or `fd` no longer a blocking pipe.
pub fn pipe_wait(fd: i32, done: usize) -> Option<Result<usize, Errno>> {
    let Some(pipe) = blocking_pipe(fd) else { return Some(Ok(done)) };
    let stop = with_current(|t| {
        if t.pending & !t.blocked != 0 {
            return true;
        }
        pipe.lock().add_waiter(t.pid);
        t.state = TaskState::Sleeping;
        t.wake_at = u64::MAX;
        false
    });
    if stop {
        return Some(if done > 0 { Ok(done) } else { Err(Errno::ERESTARTSYS) });
    }
    super::schedule();
    None
}

/// `write(fd, buf, count)`: to a blocking pipe, everything (sleeping while it is full) unless
/// a signal comes first; SIGPIPE with `EPIPE` when no reader is left.
pub fn write_blocking(fd: i32, buf: usize, count: usize) -> Result<usize, Errno> {
    let mut done = 0;
    loop {
        match transfer_sleeping(|v, d| v.write(fd, buf + done + d, count - done - d)) {
            Ok(n) => {
                done += n;
                if done >= count || blocking_pipe(fd).is_none() {
                    return Ok(done);
                }
            }
            Err(Errno::EAGAIN) if blocking_pipe(fd).is_some() => {}
            Err(Errno::EPIPE) if is_pipe(fd) => {
                let _ = super::send_signal(super::current_pid(), SIGPIPE);
                return if done > 0 { Ok(done) } else { Err(Errno::EPIPE) };
            }
            Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
        }
        if let Some(r) = pipe_wait(fd, done) {
            return r;
        }
    }
}

/// `writev(fd, iov, iovcnt)`: a full blocking pipe waits until the first segment can start;
/// SIGPIPE with `EPIPE` as for `write`.
pub fn writev_blocking(fd: i32, iov: usize, iovcnt: usize) -> Result<usize, Errno> {
    loop {
        match transfer_sleeping(|v, done| v.writev(fd, iov, iovcnt, done)) {
            Err(Errno::EAGAIN) if blocking_pipe(fd).is_some() => {}
            Err(Errno::EPIPE) if is_pipe(fd) => {
                let _ = super::send_signal(super::current_pid(), SIGPIPE);
                return Err(Errno::EPIPE);
            }
            r => return r,
        }
        if let Some(r) = pipe_wait(fd, 0) {
            return r;
        }
    }
}

/// Makes runnable the tasks whose pipe changed while they slept on it.
pub(super) fn wake_pipe_waiters(t: &mut Tasks) {
    for pid in crate::fs::pipe::take_wakeups() {
        if let Some(task) = t.map.get_mut(&pid) {
            if task.state == TaskState::Sleeping {
                task.state = TaskState::Runnable;
                task.wake_at = u64::MAX;
                t.activate(pid, false);
            }
        }
    }
}
