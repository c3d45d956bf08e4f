//! The pure rules behind fork, wait and signals, as Linux 6.1 states them (kernel/fork.c,
//! kernel/exit.c, kernel/signal.c, arch/arm/kernel/signal.c): which `clone` flag sets pivm
//! accepts, how a wait status is encoded and which children a `wait4` sees, each signal's
//! default action, the order pending signals are taken in, and when an interrupted system call
//! is restarted. Host-tested; the device code in `fork`, `wait` and `signal` applies them.
use crate::abi::native::signal::{sa, sig, KernelSigaction, SIG_DFL, SIG_IGN};
use crate::mm::mm_types::Errno;

/// `CSIGNAL`: the low byte of the flags is the signal sent to the parent on exit.
pub const CSIGNAL: u32 = 0x0000_00ff;
pub const CLONE_VM: u32 = 0x0000_0100;
pub const CLONE_FS: u32 = 0x0000_0200;
pub const CLONE_FILES: u32 = 0x0000_0400;
pub const CLONE_SIGHAND: u32 = 0x0000_0800;
pub const CLONE_VFORK: u32 = 0x0000_4000;
pub const CLONE_PARENT: u32 = 0x0000_8000;
pub const CLONE_THREAD: u32 = 0x0001_0000;
pub const CLONE_SETTLS: u32 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u32 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
pub const CLONE_CHILD_SETTID: u32 = 0x0100_0000;

/// What a `clone` asks for, reduced to what pivm does: a new process with a copy-on-write copy
/// of the address space; the parent waits for it to exec or exit when `vfork` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloneRequest {
    /// Signal to the parent on exit (`exit_signal`; SIGCHLD for fork, 0 for none).
    pub exit_signal: u32,
    /// `CLONE_VFORK`: the parent sleeps until the child execs or exits.
    pub vfork: bool,
    /// `CLONE_CHILD_SETTID`, `CLONE_CHILD_CLEARTID`, `CLONE_PARENT_SETTID` (what glibc's fork
    /// passes to have the child's tid written into its thread descriptor).
    pub child_settid: bool,
    pub child_cleartid: bool,
    pub parent_settid: bool,
}

/// Why a `clone` flag set is refused (`EINVAL`), for the source reader and the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloneRefusal {
    /// `exit_signal` above `_NSIG` (`copy_process` refuses it).
    BadExitSignal,
    /// `CLONE_VM` without `CLONE_VFORK` asks for a thread sharing memory: pivm's processes
    /// have one thread each and share nothing (`clone` has fork semantics).
    SharedMemoryThread,
    /// `CLONE_THREAD`, `CLONE_SIGHAND`, `CLONE_FILES`, `CLONE_FS`, namespaces and the rest:
    /// sharing or features pivm does not have. (`CLONE_SETTLS` alone is fine: the child's
    /// TLS register is set.)
    Unsupported(u32),
}

impl CloneRefusal {
    pub const fn errno(self) -> Errno {
        Errno::EINVAL
    }
}

/// `clone(flags, ...)` (and `fork`/`vfork` as the flag sets they are) classified: accepted
/// sets become a [`CloneRequest`], the rest `EINVAL` with the reason.
pub fn classify_clone(flags: u32) -> Result<CloneRequest, CloneRefusal> {
    const ACCEPTED: u32 = CSIGNAL
        | CLONE_VM
        | CLONE_VFORK
        | CLONE_SETTLS
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID
        | CLONE_CHILD_SETTID;
    let exit_signal = flags & CSIGNAL;
    if exit_signal > sig::NSIG {
        return Err(CloneRefusal::BadExitSignal);
    }
    let other = flags & !ACCEPTED;
    if other != 0 {
        return Err(CloneRefusal::Unsupported(other));
    }
    // vfork's CLONE_VM is honoured as a copy: the child may not write the parent's memory
    // anyway (POSIX), and until it execs or exits the parent does not run.
    if flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0 {
        return Err(CloneRefusal::SharedMemoryThread);
    }
    Ok(CloneRequest {
        exit_signal,
        vfork: flags & CLONE_VFORK != 0,
        child_settid: flags & CLONE_CHILD_SETTID != 0,
        child_cleartid: flags & CLONE_CHILD_CLEARTID != 0,
        parent_settid: flags & CLONE_PARENT_SETTID != 0,
    })
}

/// `fork()`'s flags (`SIGCHLD`) and `vfork()`'s (`CLONE_VFORK | CLONE_VM | SIGCHLD`).
pub const FORK_FLAGS: u32 = sig::SIGCHLD;
pub const VFORK_FLAGS: u32 = CLONE_VFORK | CLONE_VM | sig::SIGCHLD;

/// `set_max_threads()`: at most as many threads as fit in 1/8 of RAM with `THREAD_SIZE`
/// stacks, clamped to [`MIN_THREADS`, `FUTEX_TID_MASK`].
pub fn max_threads(totalram_pages: u64, page_size: u64, thread_size: u64) -> u64 {
    const MIN_THREADS: u64 = 20;
    const FUTEX_TID_MASK: u64 = 0x3fff_ffff;
    (totalram_pages * page_size / (thread_size * 8)).clamp(MIN_THREADS, FUTEX_TID_MASK)
}

/// `copy_process()`'s process-count checks: `EAGAIN` when the user already has
/// `RLIMIT_NPROC` processes (root, with CAP_SYS_RESOURCE/CAP_SYS_ADMIN, is exempt) or the
/// system `max_threads` (`/proc/sys/kernel/threads-max`).
pub fn may_fork(
    user_processes: u64,
    rlimit_nproc: u64,
    uid: u32,
    nr_threads: u64,
    max_threads: u64,
) -> Result<(), Errno> {
    if user_processes >= rlimit_nproc && uid != 0 {
        return Err(Errno::EAGAIN);
    }
    if nr_threads >= max_threads {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// `_STK_LIM` (8 MiB) and `ARG_MAX` (32 pages): `bprm_stack_limits`'s bounds.
const STK_LIM: usize = 8 << 20;
const ARG_MAX: usize = 32 * 4096;

/// `bprm_stack_limits`: the bytes execve's argv and envp (strings and pointers) may take: a
/// quarter of the stack rlimit, at most 3/4 of `_STK_LIM`, at least `ARG_MAX`; beyond is
/// `E2BIG`.
pub fn arg_limit(rlimit_stack: usize) -> usize {
    (rlimit_stack / 4).clamp(ARG_MAX, STK_LIM / 4 * 3)
}

// ---- wait ----------------------------------------------------------------------------------

pub const WNOHANG: u32 = 0x0000_0001;
pub const WUNTRACED: u32 = 0x0000_0002;
pub const WCONTINUED: u32 = 0x0000_0008;
pub const WNOTHREAD: u32 = 0x2000_0000;
pub const WALL: u32 = 0x4000_0000;
pub const WCLONE: u32 = 0x8000_0000;
/// `WCOREFLAG`: the status bit saying a core was dumped.
pub const WCOREFLAG: u32 = 0x80;

/// The status of a normal exit (`(code & 0xff) << 8`, as `do_exit` records `exit_group`'s).
pub const fn status_exited(code: u32) -> u32 {
    (code & 0xff) << 8
}

/// The status of a death by signal: the signal, with `WCOREFLAG` when a core was written.
/// pivm writes no core files (`RLIMIT_CORE` 0, Debian's default), so `core` is false there
/// and a shell prints `Segmentation fault` without `(core dumped)`, as on the reference.
pub const fn status_signaled(signo: u32, core: bool) -> u32 {
    (signo & 0x7f) | if core { WCOREFLAG } else { 0 }
}

/// `WIFEXITED`, `WEXITSTATUS`, `WIFSIGNALED`, `WTERMSIG`, `WCOREDUMP` of a status.
pub const fn wifexited(status: u32) -> bool {
    status & 0x7f == 0
}
pub const fn wexitstatus(status: u32) -> u32 {
    (status >> 8) & 0xff
}
pub const fn wifsignaled(status: u32) -> bool {
    let s = status & 0x7f;
    s != 0 && s != 0x7f
}
pub const fn wtermsig(status: u32) -> u32 {
    status & 0x7f
}
pub const fn wcoredump(status: u32) -> bool {
    status & WCOREFLAG != 0
}

/// The status `wait_task_stopped` reports for a child stopped by `signo`
/// (`W_STOPCODE(sig)`: `WIFSTOPPED`, `WSTOPSIG` = `signo`).
pub const fn status_stopped(signo: u32) -> u32 {
    ((signo & 0xff) << 8) | 0x7f
}

/// The status `wait_task_continued` reports (`WIFCONTINUED`).
pub const STATUS_CONTINUED: u32 = 0xffff;

/// `WIFSTOPPED`, `WSTOPSIG`, `WIFCONTINUED` of a status.
pub const fn wifstopped(status: u32) -> bool {
    status & 0xff == 0x7f
}
pub const fn wstopsig(status: u32) -> u32 {
    (status >> 8) & 0xff
}
pub const fn wifcontinued(status: u32) -> bool {
    status == STATUS_CONTINUED
}

/// What a child has to tell a waiting parent (`wait_consider_task`'s view of it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildWaitState {
    /// `EXIT_ZOMBIE`.
    pub zombie: bool,
    /// The stop signal not yet reported (`exit_code` of a stopped task; 0 once reported).
    pub stop_code: u32,
    /// `SIGNAL_STOP_CONTINUED`: resumed, not yet reported.
    pub continued: bool,
}

/// What a `wait4` with `options` gets from a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReport {
    /// Reap it (`wait_task_zombie`).
    Exited,
    /// `wait_task_stopped`: status `W_STOPCODE(sig)`; the report is consumed.
    Stopped(u32),
    /// `wait_task_continued`: status 0xffff; the report is consumed.
    Continued,
}

/// `wait_consider_task`'s order: a zombie first, then a stop (only with `WUNTRACED`), then a
/// continue (only with `WCONTINUED`); `None`: nothing to report yet.
pub fn wait_report(c: ChildWaitState, options: u32) -> Option<WaitReport> {
    if c.zombie {
        return Some(WaitReport::Exited);
    }
    if options & WUNTRACED != 0 && c.stop_code != 0 {
        return Some(WaitReport::Stopped(c.stop_code));
    }
    if options & WCONTINUED != 0 && c.continued {
        return Some(WaitReport::Continued);
    }
    None
}

/// `kernel_wait4()`'s option check.
pub fn check_wait_options(options: u32) -> Result<(), Errno> {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `eligible_pid()` + `eligible_child()`: whether a `wait4(upid, ..., options)` looks at a
/// child with pid `child` and exit signal `exit_signal`. pivm has one process group, so
/// `upid` 0 and `upid < -1` mean any child. A "clone child" (exit signal other than
/// SIGCHLD) is seen only with `__WCLONE`; `__WALL` sees both kinds.
pub fn wait_eligible(upid: i32, child: u32, exit_signal: u32, options: u32) -> bool {
    if upid > 0 && upid as u32 != child {
        return false;
    }
    if options & WALL != 0 {
        return true;
    }
    (exit_signal != sig::SIGCHLD) == (options & WCLONE != 0)
}

// ---- signals -------------------------------------------------------------------------------

/// A signal's default action (`SIG_KERNEL_*_MASK` in include/linux/signal.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Terminate.
    Term,
    /// Terminate and dump core (`SIG_KERNEL_COREDUMP_MASK`).
    Core,
    /// Nothing (`SIG_KERNEL_IGNORE_MASK`).
    Ign,
    /// Stop the process (`SIG_KERNEL_STOP_MASK`).
    Stop,
    /// Continue a stopped process (SIGCONT; otherwise nothing).
    Cont,
}

/// The default action of `signo` (real-time signals terminate).
pub const fn default_action(signo: u32) -> DefaultAction {
    match signo {
        sig::SIGQUIT
        | sig::SIGILL
        | sig::SIGTRAP
        | sig::SIGABRT
        | sig::SIGBUS
        | sig::SIGFPE
        | sig::SIGSEGV
        | sig::SIGXCPU
        | sig::SIGXFSZ
        | sig::SIGSYS => DefaultAction::Core,
        sig::SIGCHLD | sig::SIGURG | sig::SIGWINCH => DefaultAction::Ign,
        sig::SIGCONT => DefaultAction::Cont,
        sig::SIGSTOP | sig::SIGTSTP | sig::SIGTTIN | sig::SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Term,
    }
}

/// `sig_kernel_only()`: SIGKILL and SIGSTOP, whose action cannot be changed nor blocked.
pub const fn sig_kernel_only(signo: u32) -> bool {
    signo == sig::SIGKILL || signo == sig::SIGSTOP
}

/// The bit of `signo` in a 64-bit set (signal N is bit N-1).
pub const fn sigmask(signo: u32) -> u64 {
    1 << (signo - 1)
}

/// SIGKILL and SIGSTOP: removed from every blocked mask.
pub const UNBLOCKABLE: u64 = sigmask(sig::SIGKILL) | sigmask(sig::SIGSTOP);

/// `SYNCHRONOUS_MASK`: the signals a fault raises, taken before any other pending one.
pub const SYNCHRONOUS_MASK: u64 = sigmask(sig::SIGSEGV)
    | sigmask(sig::SIGBUS)
    | sigmask(sig::SIGILL)
    | sigmask(sig::SIGTRAP)
    | sigmask(sig::SIGFPE)
    | sigmask(sig::SIGSYS);

/// The pending signals in the order `next_signal()` takes them: the synchronous ones (what a
/// fault raised) first, then the rest, each group lowest-numbered first.
pub fn delivery_order(pending: u64) -> impl Iterator<Item = u32> {
    let bits = |set: u64| (1..=64u32).filter(move |&s| set & sigmask(s) != 0);
    bits(pending & SYNCHRONOUS_MASK).chain(bits(pending & !SYNCHRONOUS_MASK))
}

/// `next_signal()`: the signal `dequeue_signal` takes from `pending` with `blocked` masked.
pub fn next_signal(pending: u64, blocked: u64) -> Option<u32> {
    delivery_order(pending & !(blocked & !UNBLOCKABLE)).next()
}

/// `sig_handler_ignored()`: whether a signal sent now would be thrown away (SIG_IGN, or
/// SIG_DFL with a default action of ignoring). SIGKILL and SIGSTOP never are.
pub fn sig_ignored(action: &KernelSigaction, signo: u32) -> bool {
    if sig_kernel_only(signo) {
        return false;
    }
    action.sa_handler == SIG_IGN
        || (action.sa_handler == SIG_DFL
            && matches!(default_action(signo), DefaultAction::Ign | DefaultAction::Cont))
}

/// `SIG_KERNEL_STOP_MASK`: SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU.
pub const STOP_MASK: u64 =
    sigmask(sig::SIGSTOP) | sigmask(sig::SIGTSTP) | sigmask(sig::SIGTTIN) | sigmask(sig::SIGTTOU);

/// `sig_kernel_stop()`.
pub const fn sig_kernel_stop(signo: u32) -> bool {
    signo >= 1 && signo <= 64 && STOP_MASK & sigmask(signo) != 0
}

/// `prepare_signal()`'s job-control half: a stop signal discards a pending SIGCONT, and a
/// SIGCONT discards every pending stop signal. The pending set after `signo` is sent (before
/// `signo` itself is queued).
pub const fn prepare_pending(pending: u64, signo: u32) -> u64 {
    if sig_kernel_stop(signo) {
        pending & !sigmask(sig::SIGCONT)
    } else if signo == sig::SIGCONT {
        pending & !STOP_MASK
    } else {
        pending
    }
}

/// `do_notify_parent()`'s autoreap rule for an exiting child whose exit signal is SIGCHLD:
/// with the parent's SIGCHLD at `SIG_IGN` or flagged `SA_NOCLDWAIT` the child is released at
/// once (no zombie). Returns (autoreap, whether the SIGCHLD is still sent): `SIG_IGN` sends
/// nothing, `SA_NOCLDWAIT` with a handler still sends it.
pub fn exit_autoreap(parent_chld: &KernelSigaction, exit_signal: u32) -> (bool, bool) {
    let send = exit_signal != 0;
    if exit_signal != sig::SIGCHLD {
        return (false, send);
    }
    if parent_chld.sa_handler == SIG_IGN {
        return (true, false);
    }
    (parent_chld.sa_flags & sa::SA_NOCLDWAIT != 0, send)
}

/// `do_notify_parent_cldstop()`: whether a child's stop or continue sends the parent SIGCHLD
/// (not when it ignores SIGCHLD or asked `SA_NOCLDSTOP`; it is woken from `wait4` anyway).
pub fn cldstop_sends(parent_chld: &KernelSigaction) -> bool {
    parent_chld.sa_handler != SIG_IGN && parent_chld.sa_flags & sa::SA_NOCLDSTOP == 0
}

/// `do_sigaction()`'s check: a valid signal, and no new action for SIGKILL or SIGSTOP.
pub fn check_sigaction(signo: u32, setting: bool, sigsetsize: u32) -> Result<(), Errno> {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    if !(1..=sig::NSIG).contains(&signo) || (setting && sig_kernel_only(signo)) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// The mask a handler runs with (`signal_delivered`): the old mask plus the action's
/// `sa_mask`, plus the signal itself unless `SA_NODEFER`; never SIGKILL or SIGSTOP.
pub fn handler_mask(blocked: u64, action: &KernelSigaction, signo: u32) -> u64 {
    let act = action.sa_mask.bits();
    let mut m = blocked | act;
    if action.sa_flags & sa::SA_NODEFER == 0 {
        m |= sigmask(signo);
    }
    m & !UNBLOCKABLE
}

/// What becomes of a system call that returned an `-ERESTART*` code when the task goes back
/// to user space (arch/arm/kernel/signal.c `do_signal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Run the call again (r0 = orig_r0, pc back over the `svc`).
    Again,
    /// Return `EINTR`.
    Eintr,
}

/// The restart decision for `code`, with `handler` the action of the signal about to run a
/// handler (`None`: no handler runs, every restart code restarts).
pub fn restart_decision(code: Errno, handler: Option<&KernelSigaction>) -> Option<Restart> {
    let restartable = matches!(
        code,
        Errno::ERESTARTSYS
            | Errno::ERESTARTNOINTR
            | Errno::ERESTARTNOHAND
            | Errno::ERESTART_RESTARTBLOCK
    );
    if !restartable {
        return None;
    }
    let Some(act) = handler else { return Some(Restart::Again) };
    Some(match code {
        Errno::ERESTARTNOHAND | Errno::ERESTART_RESTARTBLOCK => Restart::Eintr,
        Errno::ERESTARTSYS if act.sa_flags & sa::SA_RESTART == 0 => Restart::Eintr,
        _ => Restart::Again,
    })
}

/// The shell's word for a wait status (busybox's, as the reference prints): none for a
/// normal exit and SIGINT, `Segmentation fault` for SIGSEGV and so on, with
/// ` (core dumped)` when the status says so.
pub fn shell_status_text(status: u32) -> Option<(&'static str, bool)> {
    if !wifsignaled(status) {
        return None;
    }
    let text = match wtermsig(status) {
        sig::SIGINT => return None,
        sig::SIGHUP => "Hangup",
        sig::SIGQUIT => "Quit",
        sig::SIGILL => "Illegal instruction",
        sig::SIGTRAP => "Trace/breakpoint trap",
        sig::SIGABRT => "Aborted",
        sig::SIGBUS => "Bus error",
        sig::SIGFPE => "Floating point exception",
        sig::SIGKILL => "Killed",
        sig::SIGUSR1 => "User defined signal 1",
        sig::SIGSEGV => "Segmentation fault",
        sig::SIGUSR2 => "User defined signal 2",
        sig::SIGPIPE => "Broken pipe",
        sig::SIGALRM => "Alarm clock",
        sig::SIGTERM => "Terminated",
        _ => "Killed by a signal",
    };
    Some((text, wcoredump(status)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::arm::signal::SigSet;

    fn act(handler: u32, flags: u32) -> KernelSigaction {
        KernelSigaction {
            sa_handler: handler,
            sa_flags: flags,
            sa_restorer: 0,
            sa_mask: SigSet::EMPTY,
        }
    }

    #[test]
    fn fork_vfork_and_glibc_clone_are_accepted() {
        let f = classify_clone(FORK_FLAGS).unwrap();
        assert_eq!((f.exit_signal, f.vfork), (sig::SIGCHLD, false));
        let v = classify_clone(VFORK_FLAGS).unwrap();
        assert!(v.vfork);
        // glibc's _Fork: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
        let g = classify_clone(0x0120_0011).unwrap();
        assert!(g.child_settid && g.child_cleartid && !g.parent_settid);
        assert_eq!(g.exit_signal, sig::SIGCHLD);
        assert_eq!(classify_clone(CLONE_PARENT_SETTID).unwrap().exit_signal, 0);
    }

    #[test]
    fn thread_and_sharing_clones_are_refused() {
        // pthread_create's set.
        let thread = CLONE_VM
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SETTLS
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_CLEARTID;
        assert!(matches!(classify_clone(thread), Err(CloneRefusal::Unsupported(_))));
        assert_eq!(classify_clone(CLONE_VM | sig::SIGCHLD), Err(CloneRefusal::SharedMemoryThread));
        assert_eq!(
            classify_clone(CLONE_FILES | sig::SIGCHLD),
            Err(CloneRefusal::Unsupported(CLONE_FILES))
        );
        assert_eq!(classify_clone(65), Err(CloneRefusal::BadExitSignal));
        assert_eq!(CloneRefusal::BadExitSignal.errno(), Errno::EINVAL);
    }

    #[test]
    fn process_limits_give_eagain() {
        // 1 GiB of RAM, 8 KiB stacks: 262144 * 4096 / 65536.
        assert_eq!(max_threads(262_144, 4096, 8192), 16384);
        assert_eq!(max_threads(10, 4096, 8192), 20);
        assert_eq!(may_fork(63, 64, 65534, 100, 16384), Ok(()));
        assert_eq!(may_fork(64, 64, 65534, 100, 16384), Err(Errno::EAGAIN));
        // Root is exempt from RLIMIT_NPROC but not from threads-max.
        assert_eq!(may_fork(64, 64, 0, 100, 16384), Ok(()));
        assert_eq!(may_fork(1, 64, 0, 16384, 16384), Err(Errno::EAGAIN));
    }

    #[test]
    fn exec_argument_space_follows_the_stack_limit() {
        assert_eq!(arg_limit(8 << 20), 2 << 20);
        assert_eq!(arg_limit(64 << 10), 128 << 10);
        assert_eq!(arg_limit(1 << 30), 6 << 20);
    }

    #[test]
    fn wait_status_encoding_matches_the_macros() {
        let s = status_exited(3);
        assert_eq!(s, 0x300);
        assert!(wifexited(s) && !wifsignaled(s));
        assert_eq!(wexitstatus(s), 3);
        assert_eq!(status_exited(0x1ff), 0xff00);
        let k = status_signaled(sig::SIGSEGV, false);
        assert_eq!(k, 11);
        assert!(wifsignaled(k) && !wifexited(k) && !wcoredump(k));
        assert_eq!(wtermsig(k), sig::SIGSEGV);
        let c = status_signaled(sig::SIGSEGV, true);
        assert_eq!(c, 0x8b);
        assert!(wcoredump(c) && wtermsig(c) == sig::SIGSEGV);
        assert_eq!(shell_status_text(k), Some(("Segmentation fault", false)));
        assert_eq!(shell_status_text(c), Some(("Segmentation fault", true)));
        assert_eq!(
            shell_status_text(status_signaled(sig::SIGKILL, false)),
            Some(("Killed", false))
        );
        assert_eq!(shell_status_text(status_signaled(sig::SIGINT, false)), None);
        assert_eq!(shell_status_text(status_exited(1)), None);
    }

    #[test]
    fn wait_options_and_eligibility() {
        assert_eq!(check_wait_options(WNOHANG | WALL), Ok(()));
        assert_eq!(check_wait_options(0x100), Err(Errno::EINVAL));
        assert!(wait_eligible(-1, 7, sig::SIGCHLD, 0));
        assert!(wait_eligible(7, 7, sig::SIGCHLD, WNOHANG));
        assert!(!wait_eligible(8, 7, sig::SIGCHLD, 0));
        // A child that signals nothing on exit is a "clone child": __WCLONE or __WALL only.
        assert!(!wait_eligible(-1, 7, 0, 0));
        assert!(wait_eligible(-1, 7, 0, WCLONE));
        assert!(wait_eligible(-1, 7, 0, WALL));
        assert!(!wait_eligible(-1, 7, sig::SIGCHLD, WCLONE));
        assert!(wait_eligible(0, 7, sig::SIGCHLD, 0));
    }

    #[test]
    fn default_actions_and_ignoring() {
        assert_eq!(default_action(sig::SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(sig::SIGINT), DefaultAction::Term);
        assert_eq!(default_action(sig::SIGCHLD), DefaultAction::Ign);
        assert_eq!(default_action(sig::SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(40), DefaultAction::Term);
        assert!(sig_ignored(&act(SIG_DFL, 0), sig::SIGCHLD));
        assert!(!sig_ignored(&act(SIG_DFL, 0), sig::SIGTERM));
        assert!(sig_ignored(&act(SIG_IGN, 0), sig::SIGTERM));
        assert!(!sig_ignored(&act(SIG_IGN, 0), sig::SIGKILL));
        assert!(!sig_ignored(&act(0x1_0000, 0), sig::SIGCHLD));
    }

    #[test]
    fn stop_and_continue_statuses_match_the_macros() {
        let s = status_stopped(sig::SIGTSTP);
        assert_eq!(s, 0x147f);
        assert!(wifstopped(s) && !wifexited(s) && !wifsignaled(s) && !wifcontinued(s));
        assert_eq!(wstopsig(s), sig::SIGTSTP);
        assert_eq!(status_stopped(sig::SIGSTOP), 0x137f);
        assert!(wifcontinued(STATUS_CONTINUED) && !wifstopped(STATUS_CONTINUED));
        assert!(!wifsignaled(STATUS_CONTINUED) && !wifexited(STATUS_CONTINUED));
    }

    #[test]
    fn wait_reports_in_linux_order() {
        let stopped = ChildWaitState { stop_code: sig::SIGSTOP, ..Default::default() };
        assert_eq!(wait_report(stopped, 0), None);
        assert_eq!(wait_report(stopped, WUNTRACED), Some(WaitReport::Stopped(sig::SIGSTOP)));
        assert_eq!(wait_report(stopped, WCONTINUED), None);
        let cont = ChildWaitState { continued: true, ..Default::default() };
        assert_eq!(wait_report(cont, WUNTRACED), None);
        assert_eq!(wait_report(cont, WCONTINUED | WNOHANG), Some(WaitReport::Continued));
        let dead = ChildWaitState { zombie: true, stop_code: 19, continued: true };
        assert_eq!(wait_report(dead, WUNTRACED | WCONTINUED), Some(WaitReport::Exited));
        assert_eq!(wait_report(ChildWaitState::default(), WUNTRACED | WCONTINUED), None);
    }

    #[test]
    fn stop_and_continue_discard_each_other() {
        let stops = sigmask(sig::SIGTSTP) | sigmask(sig::SIGSTOP);
        let p = stops | sigmask(sig::SIGINT);
        assert_eq!(prepare_pending(p, sig::SIGCONT), sigmask(sig::SIGINT));
        let p = sigmask(sig::SIGCONT) | sigmask(sig::SIGUSR1);
        assert_eq!(prepare_pending(p, sig::SIGTTIN), sigmask(sig::SIGUSR1));
        assert_eq!(prepare_pending(p, sig::SIGTERM), p);
        assert!(sig_kernel_stop(sig::SIGTTOU) && !sig_kernel_stop(sig::SIGCONT));
        assert!(!sig_kernel_stop(0) && !sig_kernel_stop(65));
    }

    #[test]
    fn ignoring_sigchld_reaps_children_at_exit() {
        assert_eq!(exit_autoreap(&act(SIG_DFL, 0), sig::SIGCHLD), (false, true));
        assert_eq!(exit_autoreap(&act(SIG_IGN, 0), sig::SIGCHLD), (true, false));
        assert_eq!(exit_autoreap(&act(SIG_DFL, sa::SA_NOCLDWAIT), sig::SIGCHLD), (true, true));
        assert_eq!(exit_autoreap(&act(0x1_0000, sa::SA_NOCLDWAIT), sig::SIGCHLD), (true, true));
        // A clone child with another exit signal is never autoreaped.
        assert_eq!(exit_autoreap(&act(SIG_IGN, 0), sig::SIGUSR1), (false, true));
        assert_eq!(exit_autoreap(&act(SIG_IGN, 0), 0), (false, false));
        assert!(cldstop_sends(&act(SIG_DFL, 0)));
        assert!(!cldstop_sends(&act(0x1_0000, sa::SA_NOCLDSTOP)));
        assert!(!cldstop_sends(&act(SIG_IGN, 0)));
    }

    #[test]
    fn sigaction_and_mask_rules() {
        assert_eq!(check_sigaction(sig::SIGSEGV, true, 8), Ok(()));
        assert_eq!(check_sigaction(sig::SIGKILL, true, 8), Err(Errno::EINVAL));
        assert_eq!(check_sigaction(sig::SIGSTOP, true, 8), Err(Errno::EINVAL));
        // Reading SIGKILL's action is allowed.
        assert_eq!(check_sigaction(sig::SIGKILL, false, 8), Ok(()));
        assert_eq!(check_sigaction(0, false, 8), Err(Errno::EINVAL));
        assert_eq!(check_sigaction(65, false, 8), Err(Errno::EINVAL));
        assert_eq!(check_sigaction(sig::SIGINT, true, 4), Err(Errno::EINVAL));
        let mut a = act(0x1_0000, 0);
        a.sa_mask.add(sig::SIGUSR2);
        a.sa_mask.add(sig::SIGKILL);
        let m = handler_mask(sigmask(sig::SIGHUP), &a, sig::SIGUSR1);
        assert_eq!(m, sigmask(sig::SIGHUP) | sigmask(sig::SIGUSR2) | sigmask(sig::SIGUSR1));
        a.sa_flags = sa::SA_NODEFER;
        assert_eq!(handler_mask(0, &a, sig::SIGUSR1), sigmask(sig::SIGUSR2));
    }

    #[test]
    fn synchronous_signals_come_first_and_blocking_holds_the_rest() {
        let pending = sigmask(sig::SIGINT) | sigmask(sig::SIGSEGV) | sigmask(sig::SIGHUP);
        assert_eq!(next_signal(pending, 0), Some(sig::SIGSEGV));
        let p2 = sigmask(sig::SIGINT) | sigmask(sig::SIGHUP);
        assert_eq!(next_signal(p2, 0), Some(sig::SIGHUP));
        assert_eq!(next_signal(p2, sigmask(sig::SIGHUP)), Some(sig::SIGINT));
        assert_eq!(next_signal(p2, p2), None);
        // SIGKILL cannot be blocked.
        assert_eq!(next_signal(sigmask(sig::SIGKILL), u64::MAX), Some(sig::SIGKILL));
        let all: alloc::vec::Vec<u32> = delivery_order(pending | sigmask(sig::SIGBUS)).collect();
        assert_eq!(all, [sig::SIGBUS, sig::SIGSEGV, sig::SIGHUP, sig::SIGINT]);
    }

    #[test]
    fn interrupted_calls_restart_as_arm_linux_decides() {
        let restart = act(0x1_0000, sa::SA_RESTART);
        let plain = act(0x1_0000, 0);
        assert_eq!(restart_decision(Errno::ERESTARTSYS, None), Some(Restart::Again));
        assert_eq!(restart_decision(Errno::ERESTARTSYS, Some(&restart)), Some(Restart::Again));
        assert_eq!(restart_decision(Errno::ERESTARTSYS, Some(&plain)), Some(Restart::Eintr));
        assert_eq!(restart_decision(Errno::ERESTARTNOHAND, Some(&restart)), Some(Restart::Eintr));
        assert_eq!(
            restart_decision(Errno::ERESTART_RESTARTBLOCK, Some(&restart)),
            Some(Restart::Eintr)
        );
        assert_eq!(restart_decision(Errno::ERESTARTNOINTR, Some(&plain)), Some(Restart::Again));
        assert_eq!(restart_decision(Errno::EINTR, Some(&plain)), None);
    }
}
