//! Tasks asleep on block I/O (`io_schedule`, `folio_wait_locked`): a program that waits for
//! the card gives the CPU away and sleeps until the card's completion interrupt ends its
//! request, so other tasks run meanwhile, as on Linux.
//!
//! A fault that needs the card (a page-cache miss, read-ahead, a swap-in) submits its bios
//! under the task table's lock and does not wait there: it leaves the bio to wait for in
//! [`set_fault_wait`] and returns `VM_FAULT_RETRY`; the user-fault handler takes it once the
//! lock is free ([`take_fault_wait`]), sleeps, and runs the fault again with
//! `FAULT_FLAG_TRIED`. A fault that needs the FAT's metadata first stops before it touches
//! anything and is run again unchanged, uncounted ([`FaultWait::restart`]). The retry walks
//! the VMA and the page table from the start, so nothing the fault saw before the sleep is
//! trusted after it (Linux's `filemap_fault` and `do_swap_page` revalidate with the page lock
//! and `pte_same` for the same reason).
//!
//! A system call's user copy under a lock stops the same way ([`with_io_deferred`]) for a
//! second reason: its fault found no free page, where 6.1's fault allocation would reclaim
//! ([`Deferred::Reclaim`]); its caller reclaims with the locks dropped and goes on. So does a
//! read whose page-cache page got no frame. [`run_sleeping`] is that loop for copies that
//! are whole or nothing (a system call's own copies, rseq's, exec's new stack).
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::kernel::spinlock::SpinLock;

use super::{current_pid, with_tasks, TaskState};
use crate::block::blk_mq::Completion;
use crate::mm::memory::FaultFlags;
use crate::mm::mm_types::Errno;

/// A bio to wait for and the disk it is on.
pub type IoWait = (usize, Arc<Completion>);

/// The sleepers and the bio each waits for, by pid.
pub(super) static WAITERS: SpinLock<BTreeMap<u32, Arc<Completion>>> =
    SpinLock::new(BTreeMap::new());
/// How many there are (read from the completion interrupt, which takes no lock).
static NR_WAITERS: AtomicU32 = AtomicU32::new(0);
/// Waits for the card by a program that slept ([`io_sleep`], `io_schedule`).
static IO_SLEEPS: AtomicU64 = AtomicU64::new(0);
/// Waits for the card by a program that could not sleep (a lock held, or called where the
/// task table is taken) and idled the CPU or spun instead: each is a wait Linux makes in
/// `io_schedule` that pivm does not yet; the console's own waits (it is the idle task) are
/// not counted.
static IDLE_WAITS: AtomicU64 = AtomicU64::new(0);

/// A program is about to wait for the card without sleeping (see [`IDLE_WAITS`]).
pub fn note_idle_wait() {
    if current_pid() != 0 {
        IDLE_WAITS.fetch_add(1, Ordering::Relaxed);
    }
}

/// (sleeping waits, idle waits) for the card by programs since boot, for the console's
/// `iowait`.
pub fn wait_counts() -> (u64, u64) {
    (IO_SLEEPS.load(Ordering::Relaxed), IDLE_WAITS.load(Ordering::Relaxed))
}

/// What a fault that must wait for the card leaves its caller: the bio, on its disk, and
/// whether the fault only stopped to read what the file system needs before it can start
/// (a card file's cluster chain from the FAT) and touched nothing: then it is run again
/// unchanged once the bio is in, a retry inside the kernel that no counter sees (6.1 reads
/// that metadata inside the fault, asleep in `sb_bread`, and counts one fault).
pub struct FaultWait {
    pub disk: usize,
    pub done: Arc<Completion>,
    pub restart: bool,
    /// The bio is a swap-out write the fault waits to end (`folio_wait_writeback`), not a
    /// read it needs: a failed write leaves the page in memory, dirty, so its status is
    /// not the fault's.
    pub writeback: bool,
}

impl FaultWait {
    /// Sleeps until the bio is done (with no lock held, or the CPU idle: see
    /// [`crate::block::core::wait_bio`]); `EIO` only for a failed read.
    pub fn wait(&self) -> Result<(), Errno> {
        let r = crate::block::core::wait_bio(self.disk, &self.done);
        if self.writeback {
            return Ok(());
        }
        r.map_err(|_| Errno::EIO)
    }

    /// [`defer_io`] of the bio (or [`defer_writeback`] of the write).
    pub fn defer(&self) -> bool {
        let d = (self.disk, self.done.clone());
        defer(if self.writeback { Deferred::Writeback(d) } else { Deferred::Io(d) })
    }

    /// The flags of the fault's next run: `FAULT_FLAG_TRIED` after a `VM_FAULT_RETRY`, the
    /// same flags after a restart.
    pub fn next_flags(&self, flags: FaultFlags) -> FaultFlags {
        FaultFlags { tried: flags.tried || !self.restart, ..flags }
    }
}

/// The bio the fault being handled must wait for: set by the fault environment under the
/// task table's lock, taken by the same fault before it returns.
static FAULT_WAIT: SpinLock<Option<FaultWait>> = SpinLock::new(None);

/// The fault in progress submitted (or found in flight) `done` on `disk` and must wait for it
/// before its retry; a later bio replaces an earlier one (requests complete in order).
pub fn set_fault_wait(disk: usize, done: Arc<Completion>) {
    *FAULT_WAIT.lock() = Some(FaultWait { disk, done, restart: false, writeback: false });
}

/// The fault in progress stopped before it touched anything, to sleep on `done` (a sector
/// of the FAT being read): it is run again unchanged and not counted ([`FaultWait`]).
pub fn set_fault_restart(disk: usize, done: Arc<Completion>) {
    *FAULT_WAIT.lock() = Some(FaultWait { disk, done, restart: true, writeback: false });
}

/// The fault in progress stopped before it touched anything, to wait for the swap-out write
/// `done` of the page it needs (`shmem_swapin_folio`'s `folio_wait_writeback`): run again
/// unchanged once the write is done, whatever its status, and counted once.
pub fn set_fault_writeback(disk: usize, done: Arc<Completion>) {
    *FAULT_WAIT.lock() = Some(FaultWait { disk, done, restart: true, writeback: true });
}

/// The bio the fault just handled has to wait for, if any.
pub fn take_fault_wait() -> Option<FaultWait> {
    FAULT_WAIT.lock().take()
}

/// Why a read or a user copy under a lock stopped short, for its caller to finish with every
/// lock dropped before it goes on ([`Deferred::finish`]).
pub enum Deferred {
    /// A page still being read from the card: the bio to sleep on.
    Io(IoWait),
    /// A shmem/tmpfs page whose swap-out write is in flight (`folio_wait_writeback`): the
    /// bio to sleep on; its status is not the caller's (a failed write leaves the page).
    Writeback(IoWait),
    /// A user copy's fault, or a read's page-cache page, found no free page (the
    /// allocation is atomic under the task table or the cache's lock): the caller reclaims,
    /// as 6.1's allocation (`GFP_HIGHUSER_MOVABLE`, the mapping's mask) reclaims in its slow
    /// path ([`defer_reclaim`]). The error is the caller's when reclaim frees nothing.
    Reclaim(Errno),
}

impl Deferred {
    /// Does what the copy stopped for, with no lock held: sleeps on the bio (`EIO` when the
    /// card failed the read), or reclaims (`super::reclaim::reclaim_for_uaccess`: direct
    /// reclaim, then the OOM killer) and, when neither frees a page, gives the error
    /// [`defer_reclaim`] recorded.
    pub fn finish(self) -> Result<(), Errno> {
        match self {
            Deferred::Io((disk, done)) => {
                crate::block::core::wait_bio(disk, &done).map_err(|_| Errno::EIO)
            }
            Deferred::Writeback((disk, done)) => {
                let _ = crate::block::core::wait_bio(disk, &done);
                Ok(())
            }
            Deferred::Reclaim(e) => {
                if super::reclaim::reclaim_for_uaccess() {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// The tasks whose card reads and user copies may stop short instead of waiting or failing
/// under a lock (they asked through [`with_io_deferred`]), and what each one stopped for: a
/// stack of (pid, reason), a task's innermost call last. A vector keeps its room once grown,
/// so entering and leaving allocates nothing (rseq's updates take it at every return to user
/// space after a context switch).
static DEFERRED: SpinLock<Vec<(u32, Option<Deferred>)>> = SpinLock::new(Vec::new());

/// Runs `f` (a file read that may reach the card, or a system call's user copies, under the
/// namespace's, the page cache's or the task table's locks) so that a read finding its page
/// still being read does not wait there and a copy whose fault finds no free page does not
/// fail: it stops short and records why ([`defer_io`], [`defer_reclaim`]); returns `f`'s
/// result and that reason, for the caller to [`Deferred::finish`] once `f`'s locks are
/// dropped and then go on (6.1's `filemap_read` sleeps in `filemap_update_page` with no lock
/// held, and its copy's fault reclaims in its allocation). The console (pid 0) defers too
/// (its `run` writes the new program's stack through [`run_sleeping`]); its wait for the
/// card in [`Deferred::finish`] idles the CPU, as every wait of the idle task does.
pub fn with_io_deferred<R>(f: impl FnOnce() -> R) -> (R, Option<Deferred>) {
    let pid = current_pid();
    DEFERRED.lock().push((pid, None));
    let r = f();
    let wait = {
        let mut d = DEFERRED.lock();
        d.iter().rposition(|e| e.0 == pid).and_then(|i| d.remove(i).1)
    };
    (r, wait)
}

/// A read under a lock found its page locked (`done` on `disk` still in flight): true when
/// the running task asked to defer ([`with_io_deferred`]), the bio is recorded and the read
/// stops short; false when it must wait where it is.
pub fn defer_io(disk: usize, done: &Arc<Completion>) -> bool {
    defer(Deferred::Io((disk, done.clone())))
}

/// [`defer_io`] for a file operation that found its tmpfs page's swap-out write in flight
/// (`done` on `disk`): the task sleeps until the write is done, whatever its status.
pub fn defer_writeback(disk: usize, done: &Arc<Completion>) -> bool {
    defer(Deferred::Writeback((disk, done.clone())))
}

/// A user copy or a page-cache read under a lock found no free page: true when the running
/// task asked to defer ([`with_io_deferred`]), the reclaim is recorded and the copy or read
/// stops there, to go on after it; false when it must fail where it is. `gave_up` is the
/// error when reclaim frees nothing, 6.1's for the same failure: `EFAULT` for a user copy
/// (its kernel-mode fault's `VM_FAULT_OOM` ends in `no_context`), `ENOMEM` for a page
/// reached through `get_user_pages` (`vm_fault_to_errno`) and for a read's page-cache page
/// (`filemap_read` returns `-ENOMEM` when it copied nothing).
pub fn defer_reclaim(gave_up: Errno) -> bool {
    defer(Deferred::Reclaim(gave_up))
}

/// Runs `f` (user copies made with no lock held, each whole or nothing, so running it again
/// is the same copy) under [`with_io_deferred`] until it runs through: after a stop the task
/// sleeps on the bio or reclaims with every lock dropped, and runs `f` again (its fault there
/// the retry, `FAULT_FLAG_TRIED` after a sleep). `f`'s result, or the error of a reclaim that
/// freed nothing ([`defer_reclaim`]'s). A card read that failed is run into again: the
/// copy's fault reports it.
pub fn run_sleeping<R>(mut f: impl FnMut() -> Result<R, Errno>) -> Result<R, Errno> {
    let r = loop {
        let (r, wait) = with_io_deferred(&mut f);
        let Some(why) = wait else { break r };
        let reclaim = matches!(why, Deferred::Reclaim(_));
        match why.finish() {
            Err(e) if reclaim => break Err(e),
            _ => {}
        }
    };
    // A copy that stopped and was not run again leaves no retry note behind.
    clear_uaccess_retry();
    r
}

/// Records `why` for the running task when it asked to defer.
fn defer(why: Deferred) -> bool {
    let pid = current_pid();
    match DEFERRED.lock().iter_mut().rev().find(|e| e.0 == pid) {
        Some(w) => {
            w.1 = Some(why);
            true
        }
        None => false,
    }
}

/// The user page whose fault a task's deferred user copy left (`VM_FAULT_RETRY`): the copy's
/// next fault there is the retry (`FAULT_FLAG_TRIED`, counted major as the first would
/// have been).
static UACCESS_RETRY: SpinLock<BTreeMap<u32, usize>> = SpinLock::new(BTreeMap::new());

/// A user copy's fault at `page` returned `VM_FAULT_RETRY` and the copy stopped to sleep.
pub fn set_uaccess_retry(page: usize) {
    UACCESS_RETRY.lock().insert(current_pid(), page);
}

/// Whether the running task's fault at `page` retries one its user copy left (then forgotten).
pub fn take_uaccess_retry(page: usize) -> bool {
    let mut r = UACCESS_RETRY.lock();
    let pid = current_pid();
    if r.get(&pid) == Some(&page) {
        r.remove(&pid);
        return true;
    }
    false
}

/// Forgets the running task's retry note (its copy is over).
pub fn clear_uaccess_retry() {
    UACCESS_RETRY.lock().remove(&current_pid());
}

/// Whether task `pid` is asleep waiting for the card (`TASK_UNINTERRUPTIBLE`: `D` in
/// `/proc/PID/stat` and `ps`).
pub fn in_io_sleep(pid: u32) -> bool {
    NR_WAITERS.load(Ordering::Relaxed) != 0 && WAITERS.lock().contains_key(&pid)
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
    IO_SLEEPS.fetch_add(1, Ordering::Relaxed);
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
