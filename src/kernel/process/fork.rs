//! What fork, exec, wait and signals add to a task beyond `Task`'s own fields ([`ProcExt`]):
//! `copy_process`'s limits (`RLIMIT_NPROC` per user, `threads-max` for all: `EAGAIN`), the
//! user and group ids `setuid`/`setgid` change, the exit signal a `clone` asked for, vfork's
//! wait for the child to exec or exit (`wait_for_vfork_done`/`complete_vfork_done`), the
//! `-ERESTART*` code a system call left for the signal code, and the SIGCHLD siginfo a
//! child's exit queued. The copy itself is `ProcessMm::fork` and `process::do_fork`.
use core::sync::atomic::{AtomicU64, Ordering};

use super::rules::{self, sigmask};
use super::{with_tasks, TaskState, THREAD_SIZE};
use crate::abi::native::signal::{sig, Siginfo};
use crate::kernel::mem::with_node;
use crate::mm::mm_types::{Errno, PAGE_SIZE};

/// `max_threads` (`/proc/sys/kernel/threads-max`), set at boot from the RAM size.
pub static MAX_THREADS: AtomicU64 = AtomicU64::new(u64::MAX);

/// What fork, exec, wait and signals keep per task, beside the fields `Task` has.
#[derive(Clone, Debug)]
pub struct ProcExt {
    /// Signal the parent gets on exit (`exit_signal`: SIGCHLD, or what `clone` asked for).
    pub exit_signal: u32,
    /// The parent sleeping in vfork until this child execs or exits (`vfork_done`).
    pub vfork_parent: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    /// `RLIMIT_NPROC` (soft, hard).
    pub rlimit_nproc: (u64, u64),
    /// The `-ERESTART*` code the system call now returning gave, for the signal code.
    pub restart: Option<Errno>,
    /// The siginfo of a pending SIGCHLD (`do_notify_parent`'s CLD_* code and status).
    pub chld_info: Option<Siginfo>,
    /// The registered `struct rseq`, if any.
    pub rseq: Option<super::rseq::Rseq>,
    /// The stop signal a `wait4(WUNTRACED)` has not reported yet (`exit_code` of a stopped
    /// task), 0 when none.
    pub stop_code: u32,
    /// Resumed by SIGCONT and not yet reported to `wait4(WCONTINUED)`
    /// (`SIGNAL_STOP_CONTINUED`).
    pub continued: bool,
    /// Exited while its parent ignored SIGCHLD (or had `SA_NOCLDWAIT`): released at once,
    /// invisible to `wait4` (`EXIT_DEAD` with `autoreap`).
    pub autoreap: bool,
    /// The deadline (monotonic ns) of a `nanosleep` that a signal interrupted, for its restart
    /// when no handler runs (a stop and SIGCONT): `restart_block.nanosleep.expires`.
    pub restart_wake: Option<u64>,
    /// The `struct robust_list_head` user address `set_robust_list` registered
    /// (`robust_list`), 0 for none: a fork's child starts without one (`futex_init_task`),
    /// exec and exit drop it (`futex_cleanup`).
    pub robust_list: usize,
    /// The file-mode creation mask (`fs->umask`): inherited by a fork's child, kept by exec.
    pub umask: u32,
    /// The working directory (`fs->pwd`): inherited by a fork's child, kept by exec.
    pub pwd: super::fs::Pwd,
}

impl Default for ProcExt {
    fn default() -> Self {
        // init_task's RLIMIT_NPROC: half of max_threads (`fork_init`).
        let nproc = MAX_THREADS.load(Ordering::Relaxed) / 2;
        ProcExt {
            exit_signal: sig::SIGCHLD,
            vfork_parent: None,
            uid: 0,
            gid: 0,
            rlimit_nproc: (nproc, nproc),
            restart: None,
            chld_info: None,
            rseq: None,
            stop_code: 0,
            continued: false,
            autoreap: false,
            restart_wake: None,
            robust_list: 0,
            umask: crate::fs::vfs::DEFAULT_UMASK,
            pwd: super::fs::Pwd::default(),
        }
    }
}

impl ProcExt {
    /// What a child inherits (`copy_process`): ids and limits, the rseq registration
    /// (`rseq_fork` without `CLONE_VM`); its exit signal from `clone`.
    pub fn for_child(&self, exit_signal: u32, vfork_parent: Option<u32>) -> ProcExt {
        ProcExt {
            exit_signal,
            vfork_parent,
            uid: self.uid,
            gid: self.gid,
            rlimit_nproc: self.rlimit_nproc,
            restart: None,
            chld_info: None,
            rseq: self.rseq,
            stop_code: 0,
            continued: false,
            autoreap: false,
            restart_wake: None,
            robust_list: 0,
            umask: self.umask,
            pwd: self.pwd.clone(),
        }
    }
}

/// `fork_init` / `set_max_threads`: threads-max from the RAM the page allocator manages.
pub fn init() {
    let pages = with_node(|n| n.totalram_pages());
    let max = rules::max_threads(pages, PAGE_SIZE as u64, THREAD_SIZE as u64);
    MAX_THREADS.store(max, Ordering::Relaxed);
}

/// `copy_process`'s process-count checks for the running task: its user's processes against
/// its `RLIMIT_NPROC` (root exempt), every process against `threads-max`; `EAGAIN`. The
/// process count is the task table's size (Linux's `nr_threads`), not a scan; the user's
/// processes are counted only for a user the limit applies to (not root), so root's fork does
/// not grow with the number of processes.
pub fn check_limits() -> Result<(), Errno> {
    with_tasks(|t| {
        let (uid, limit) = {
            let me = t.current();
            (me.ext.uid, me.ext.rlimit_nproc.0)
        };
        // Every task but the console (pid 0), zombies included.
        let nr = (t.map.len() - usize::from(t.map.contains_key(&0))) as u64;
        let mine = if uid == 0 {
            0
        } else {
            t.map.values().filter(|x| x.pid != 0 && x.ext.uid == uid).count() as u64
        };
        rules::may_fork(mine, limit, uid, nr, MAX_THREADS.load(Ordering::Relaxed))
    })
}

/// vfork's parent sleeps until the child execs or exits (`wait_for_vfork_done`, killable:
/// a fatal signal ends the wait).
pub fn wait_for_vfork_done(child: u32) {
    loop {
        let done = with_tasks(|t| {
            let done = t
                .map
                .get(&child)
                .is_none_or(|c| c.ext.vfork_parent.is_none() || c.state == TaskState::Zombie);
            let me = t.current();
            if done || me.pending & sigmask(sig::SIGKILL) != 0 {
                return true;
            }
            me.state = TaskState::Sleeping;
            me.wake_at = u64::MAX;
            false
        });
        if done {
            return;
        }
        super::schedule();
    }
}

/// `complete_vfork_done`: the running task execs or exits; a parent waiting in vfork runs.
pub fn complete_vfork_done() {
    with_tasks(|t| {
        let Some(parent) = t.current().ext.vfork_parent.take() else { return };
        if let Some(p) = t.map.get_mut(&parent) {
            if p.state == TaskState::Sleeping {
                p.state = TaskState::Runnable;
                p.wake_at = u64::MAX;
                t.activate(parent, false);
            }
        }
    })
}
