//! Processes: tasks (`task_struct`: pid, comm, state, mm, open files, an 8 KiB kernel stack,
//! the saved context), the run queue and `schedule()` (round-robin, preempted from the timer
//! tick on the way back to user space), exit and reaping, signal delivery (handlers, default
//! actions), and the user-fault and work-pending handlers the entry code calls. Job control as
//! Linux has it for a single-threaded process: the stop signals stop a task (`T`), SIGCONT
//! resumes it, the parent hears of both through SIGCHLD and `wait4`, and a parent that ignores
//! SIGCHLD has its children released at exit. Task 0 is the console itself (Linux's idle task, `swapper/0`): it runs
//! whenever it has input, and gives the CPU away while it waits.
pub mod exec;
pub mod fork;
pub mod fs;
pub mod iowait;
pub mod kthread;
pub mod mm;
pub mod oom;
pub mod pid_table;
pub mod pipe;
pub mod procfs_live;
pub mod reclaim;
pub mod rseq;
pub mod rseq_task;
pub mod rules;
pub mod shmem;
pub mod show_state;
pub mod signal;
pub mod swapin;
pub mod syscall;
pub mod sysno;
pub mod wait;

use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::kernel::spinlock::SpinLock;

use self::mm::ProcessMm;
use crate::abi::native::signal::{
    self as abisig, si_code, AltStack, KernelSigaction, Siginfo, ThreadFault, SIG_DFL, SIG_IGN,
};
use crate::arch::irqflags;
use crate::arch::process::PtRegs;
use crate::arch::process::UserException;
use crate::arch::process::{self as arch, CpuContext, VfpState};
use crate::fs::fdtable::FdTable;
use crate::fs::vfs::FileRef;
use crate::kernel::mem::with_node;
use crate::kernel::ratelimit::{
    RatelimitState, DEFAULT_RATELIMIT_BURST, DEFAULT_RATELIMIT_INTERVAL,
};
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{Fault, FaultCounts, FaultError, UserTrap};
use crate::mm::page::PageOwner;
use crate::mm::Pfn;

/// `THREAD_SIZE`: the architecture's (8 KiB on ARMv7, 32 KiB on arm64).
pub const THREAD_SIZE: usize = arch::THREAD_SIZE;
/// `THREAD_SIZE_ORDER`: the buddy order of a stack that is not vmalloc'ed.
const THREAD_SIZE_ORDER: u32 = (THREAD_SIZE / crate::mm::PAGE_SIZE as usize).ilog2();
/// `STACK_END_MAGIC`: written at the lowest word of every task's kernel stack
/// (`set_task_stack_end_magic`); a stack that grew past its end overwrote it.
pub const STACK_END_MAGIC: u32 = 0x57AC_6E9D;
/// `PID_MAX_DEFAULT`: pids wrap here (`/proc/sys/kernel/pid_max` 32768).
pub const PID_MAX: u32 = 32768;

// Signal numbers (uapi/asm/signal.h).
pub const SIGINT: u32 = 2;
pub const SIGILL: u32 = 4;
pub const SIGBUS: u32 = 7;
pub const SIGKILL: u32 = 9;
pub const SIGSEGV: u32 = 11;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;

/// Slots of `Task::sigactions`: signals 1-64 (`_NSIG`) by number, slot 0 unused.
const NSIG_SLOTS: usize = 65;

/// `TASK_RUNNING`, `TASK_INTERRUPTIBLE`, `TASK_STOPPED`, `EXIT_ZOMBIE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Runnable,
    Sleeping,
    /// Stopped by a stop signal: never scheduled until SIGCONT (or SIGKILL) wakes it.
    Stopped,
    Zombie,
}

impl TaskState {
    /// The state letter `ps` and `/proc/PID/stat` show.
    pub const fn letter(self) -> char {
        match self {
            TaskState::Runnable => 'R',
            TaskState::Sleeping => 'S',
            TaskState::Stopped => 'T',
            TaskState::Zombie => 'Z',
        }
    }
}

/// `struct task_struct`, cut to what pivm's processes use.
pub struct Task {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub state: TaskState,
    ctx: CpuContext,
    vfp: VfpState,
    /// The kernel stack (None for the console's boot stack) and its lowest address.
    kstack: Option<KernelStack>,
    stack_limit: usize,
    pub mm: Option<Box<ProcessMm>>,
    /// The user thread pointer (`set_tls`): TPIDRURO on ARMv7, TPIDR_EL0 on arm64.
    pub tls: usize,
    pub counts: FaultCounts,
    /// `exit_code` in wait-status form (`(code << 8)` or the killing signal).
    pub exit_status: u32,
    /// Pending signals (bit n-1 for signal n) and the blocked mask.
    pub pending: u64,
    pub blocked: u64,
    /// `rt_sigaction`'s actions, by signal number (0-64), on the heap: inline they made
    /// `Task` 1.6 KiB and `do_fork`'s frame 3.4 KiB of the 8 KiB kernel stack.
    pub sigactions: Box<[KernelSigaction]>,
    /// The siginfo and `thread` fault record of the last fault signal raised.
    pub fault_info: Option<(u32, Siginfo, ThreadFault)>,
    /// `sigaltstack`.
    pub altstack: AltStack,
    /// Jiffies to wake at while sleeping (`u64::MAX`: until woken).
    pub wake_at: u64,
    /// Runs in the foreground: the console's input goes to it.
    pub foreground: bool,
    pub utime: u64,
    pub stime: u64,
    pub start_jiffies: u64,
    /// Open files (`files_struct`): copied by fork, close-on-exec ones closed by execve,
    /// all closed at exit. Out of the task while one of its file system calls runs.
    pub files: FdTable<FileRef>,
    pub clear_child_tid: usize,
    /// The program's path (`/proc/PID/exe`; None before the first exec): shared with a
    /// fork's child, as the child shares `mm->exe_file`, so fork copies no string.
    pub exe: Option<alloc::sync::Arc<str>>,
    /// Reaped children's faults and ticks (`cmin_flt`, `cmaj_flt`, `cutime`, `cstime`).
    pub cmin_flt: u64,
    pub cmaj_flt: u64,
    pub cutime: u64,
    pub cstime: u64,
    /// Started by the console's `run` (its job), not by another program.
    pub console_job: bool,
    /// Ids, limits, exit signal, vfork and restart state (`fork::ProcExt`).
    pub ext: fork::ProcExt,
    /// Context switches (`nvcsw`: asleep, e.g. waiting for the card; `nivcsw`: preempted).
    pub nvcsw: u64,
    pub nivcsw: u64,
    /// `task->flags` (`PF_*`) a task carries for life: `PF_KTHREAD` and the like.
    pub flags: u32,
    /// The wait queue the task sleeps on and the wake-up number it saw (`wait::WaitQueue`).
    pub wait: Option<(&'static wait::WaitQueue, u32)>,
    /// `children`: the pids of this task's children, zombies included, in pid order.
    /// `wait4` looks only at these, and exit reparents only these, instead of walking the
    /// whole task table.
    pub children: Vec<u32>,
    /// The deadline this task is queued under in [`Tasks::timers`] while it sleeps with one.
    timer: Option<u64>,
}

impl Task {
    /// `task_stack_end_corrupted`: the magic at the end of the task's kernel stack is gone
    /// (the console's boot stack has none).
    fn stack_end_corrupted(&self) -> bool {
        // SAFETY: `stack_limit` is the lowest word of the task's own kernel stack, allocated
        // with it and freed only when the task is reaped.
        self.kstack.is_some()
            && unsafe { (self.stack_limit as *const u32).read_volatile() } != STACK_END_MAGIC
    }

    /// A new task, built in its heap box (`dup_task_struct` fills the one it allocated):
    /// `Box::new(Task { .. })` built the 768-byte task on the stack and then copied it into
    /// the box, about 1,300 instructions of `memcpy` and `memclr` a fork.
    fn boxed(pid: u32, ppid: u32, comm: &str) -> Box<Task> {
        Box::write(Box::new_uninit(), Task::new(pid, ppid, comm))
    }

    #[inline(always)]
    fn new(pid: u32, ppid: u32, comm: &str) -> Task {
        Task {
            pid,
            ppid,
            comm: comm.chars().take(15).collect(),
            state: TaskState::Runnable,
            ctx: CpuContext::default(),
            vfp: VfpState::default(),
            kstack: None,
            stack_limit: arch::boot_stack_limit(),
            mm: None,
            tls: 0,
            counts: FaultCounts::default(),
            exit_status: 0,
            pending: 0,
            blocked: 0,
            sigactions: alloc::vec![KernelSigaction::zeroed(); NSIG_SLOTS].into_boxed_slice(),
            fault_info: None,
            altstack: AltStack::default(),
            wake_at: u64::MAX,
            foreground: false,
            utime: 0,
            stime: 0,
            start_jiffies: crate::kernel::time::get_jiffies_64(),
            files: FdTable::new(),
            clear_child_tid: 0,
            exe: None,
            cmin_flt: 0,
            cmaj_flt: 0,
            cutime: 0,
            cstime: 0,
            console_job: false,
            ext: fork::ProcExt::default(),
            nvcsw: 0,
            nivcsw: 0,
            flags: 0,
            wait: None,
            children: Vec::new(),
            timer: None,
        }
    }

    /// A kernel thread (`PF_KTHREAD`).
    pub fn is_kthread(&self) -> bool {
        self.flags & kthread::PF_KTHREAD != 0
    }
}

/// The task table and run queue.
pub struct Tasks {
    /// The tasks by pid (Linux's pid `idr`: a lookup costs the same however many there are).
    pub map: pid_table::PidTable<Task>,
    /// The run queue: runnable tasks (every one but the running task is on it), in the order
    /// they run. Wake-ups put a task on it; `schedule()` takes the next one from its front.
    rq: VecDeque<u32>,
    /// Sleepers with a deadline, by (deadline, pid): the scheduler looks only at those due,
    /// as Linux's timers wake a sleeper, instead of at every task.
    timers: BTreeSet<(u64, u32)>,
    /// Sleepers on a wait queue ([`wait::WaitQueue`], whose wake-ups take no lock and only
    /// advance its number), with the queue and the number each saw: the scheduler looks at
    /// these queues for a wake-up, and at the task only when its queue was woken.
    wq_sleepers: Vec<(u32, &'static wait::WaitQueue, u32)>,
    /// Children released at exit (their parent ignores SIGCHLD), for the next task out of
    /// `schedule()` to reap.
    autoreap: Vec<u32>,
    /// Scratch for [`wake_and_check`]: the candidates it looks at, kept for its capacity.
    woken: Vec<u32>,
    pub current: u32,
    /// The running task's `Task` (`current`), so that finding it costs no table lookup.
    cur_task: core::ptr::NonNull<Task>,
    last_pid: u32,
}

// SAFETY: `cur_task` points into a `Box<Task>` the table owns; it is only used through the
// table (under its lock), like the table's other contents.
unsafe impl Send for Tasks {}

impl Tasks {
    /// `alloc_pid`: the next free pid after the last one given, wrapping at `pid_max` to
    /// 300 (`RESERVED_PIDS`) as Linux does; pid 1 is init's (the first program run).
    fn alloc_pid(&mut self) -> Option<u32> {
        let mut p = self.last_pid;
        for _ in 0..PID_MAX {
            p = if p + 1 >= PID_MAX { 300 } else { p + 1 };
            if !self.map.contains_key(&p) {
                self.last_pid = p;
                return Some(p);
            }
        }
        None
    }

    pub fn current(&mut self) -> &mut Task {
        // SAFETY: `cur_task` is the boxed task `current` names (set with it in `set_current`):
        // the running task is never taken out of the table (`reap_task` refuses it) and its box
        // never moves; the borrow of `self` keeps the table from being used meanwhile.
        unsafe { self.cur_task.as_mut() }
    }

    /// Makes `pid` the running task.
    fn set_current(&mut self, pid: u32) {
        let task = self.map.get_mut(&pid).expect("the next task is in the table");
        self.cur_task = core::ptr::NonNull::from(task);
        self.current = pid;
    }

    /// Links `child` into `parent`'s children (kept in pid order).
    pub(super) fn add_child(&mut self, parent: u32, child: u32) {
        if let Some(p) = self.map.get_mut(&parent) {
            let at = p.children.partition_point(|&c| c < child);
            if p.children.get(at) != Some(&child) {
                p.children.insert(at, child);
            }
        }
    }

    /// Unlinks `child` from `parent`'s children.
    fn remove_child(&mut self, parent: u32, child: u32) {
        if let Some(p) = self.map.get_mut(&parent) {
            if let Ok(at) = p.children.binary_search(&child) {
                p.children.remove(at);
            }
        }
    }

    /// Sizes the scheduler's queues for the tasks there are, when a task is made: the run
    /// queue, the wait-queue sleepers and the autoreap list hold a pid at most once each, and
    /// [`wake_and_check`]'s candidates at most three times (a due deadline, a finished I/O, a
    /// woken queue) and the task that has just slept. Their capacity then follows the largest
    /// number of tasks there ever were, not how many happened to wake at once (the timer's
    /// timing): grown by pushes instead, the run queue stayed at 32 slots after one fork bomb
    /// and at 16 after the next, and the leak checks read the difference as a kept object.
    /// Failing to reserve is not an error: a push then grows the queue as before.
    fn reserve_queues(&mut self) {
        let n = self.map.len();
        let _ = self.rq.try_reserve(n.saturating_sub(self.rq.len()));
        let _ = self.wq_sleepers.try_reserve(n.saturating_sub(self.wq_sleepers.len()));
        let _ = self.autoreap.try_reserve(n.saturating_sub(self.autoreap.len()));
        let _ = self.woken.try_reserve((3 * n + 1).saturating_sub(self.woken.len()));
    }

    /// Puts a woken `pid` on the run queue (`ttwu_do_activate`) unless it is on it already:
    /// at the back, or at the front for a kernel thread (kswapd), as CFS's wake-up preemption
    /// lets a thread that mostly sleeps run ahead of CPU-bound programs.
    pub(super) fn activate(&mut self, pid: u32, front: bool) {
        if !self.rq.contains(&pid) {
            if front {
                self.rq.push_front(pid);
            } else {
                self.rq.push_back(pid);
            }
        }
    }

    /// The running task is going to sleep: it is queued by its deadline, if it has
    /// one, and on the wait-queue sleepers if it sleeps on a queue, so that the scheduler
    /// finds it there.
    fn note_sleep(&mut self) {
        let pid = self.current;
        // SAFETY: as in `current` (a field borrow, so that the queues can be used with it).
        let x = unsafe { self.cur_task.as_mut() };
        if x.state != TaskState::Sleeping {
            return;
        }
        if x.wake_at != u64::MAX && x.timer != Some(x.wake_at) {
            if let Some(old) = x.timer {
                self.timers.remove(&(old, pid));
            }
            self.timers.insert((x.wake_at, pid));
            x.timer = Some(x.wake_at);
        }
        if let Some((q, seen)) = x.wait {
            self.wq_sleepers.retain(|e| e.0 != pid);
            self.wq_sleepers.push((pid, q, seen));
        }
    }

    /// The running task runs again after a sleep: its deadline and wait-queue entry are no
    /// longer needed.
    fn drop_sleep(&mut self) {
        let pid = self.current;
        if let Some(at) = self.current().timer.take() {
            self.timers.remove(&(at, pid));
        }
        if !self.wq_sleepers.is_empty() {
            self.wq_sleepers.retain(|e| e.0 != pid);
        }
    }
}

pub static TASKS: SpinLock<Option<Tasks>> = SpinLock::new(None);
static NEED_RESCHED: AtomicBool = AtomicBool::new(false);
static CURRENT_PID: AtomicU32 = AtomicU32::new(0);
/// A child exited with `autoreap` set: the next task to come out of `schedule()` releases it
/// (its kernel stack cannot go while it still runs on it, as Linux's `put_task_stack` waits
/// for `finish_task_switch`).
static AUTOREAP_PENDING: AtomicBool = AtomicBool::new(false);
/// Ticks of the current task not yet added to it (the tick does not take the task lock).
static CUR_UTICKS: AtomicU64 = AtomicU64::new(0);
static CUR_STICKS: AtomicU64 = AtomicU64::new(0);
/// `/proc/vmstat` pgfault and pgmajfault.
pub static PGFAULT: AtomicU64 = AtomicU64::new(0);
pub static PGMAJFAULT: AtomicU64 = AtomicU64::new(0);
/// Kernel stacks of live tasks (`/proc/meminfo` KernelStack, in pages).
pub static NR_KERNEL_STACK_PAGES: AtomicU64 = AtomicU64::new(0);
/// `user_debug=` bits (`UDBG_SEGV` = 8 reports unhandled faults).
static USER_DEBUG: AtomicU32 = AtomicU32::new(0);
/// `randomize_va_space` (0 with `norandmaps`).
pub static RANDOMIZE_VA_SPACE: AtomicU32 = AtomicU32::new(2);
const UDBG_SEGV: u32 = 8;
/// `UDBG_BUS`: report unhandled bus errors.
const UDBG_BUS: u32 = 16;

/// `__do_user_fault`'s report of an unhandled user fault, as the architecture prints it
/// (ARM with `user_debug`: the `unhandled page fault` line, `show_pte`, `show_regs`;
/// arm64: `arm64_show_signal`'s line with `print_vma_addr`'s file VMA at pc, `__show_regs`).
fn user_fault_report(addr: usize, sig: u32, fsr_v: u32, regs: &PtRegs) {
    let pc = regs.instruction_pointer();
    let (pid, comm, pgd, vma) = with_current(|t| {
        let vma = t.mm.as_ref().and_then(|m| {
            let v = m.mm.find_vma(pc)?;
            let f = v.vm_file.as_ref()?;
            let base = f.path.rsplit('/').next().unwrap_or(&f.path);
            Some((String::from(base), v.vm_start, v.vm_end - v.vm_start))
        });
        (t.pid, t.comm.clone(), t.mm.as_ref().map(|m| m.hw.pgd), vma)
    });
    let _ = crate::arch::process::show_user_fault(
        &mut crate::console::printk::Console,
        pgd,
        addr,
        sig,
        fsr_v,
        regs,
        (pid, &comm),
        vma.as_ref().map(|(f, start, size)| (f.as_str(), *start, *size)),
    );
}

/// `show_unhandled_signals` (kernel/signal.c): 1 by default, as in Linux (pivm has no
/// `debug.exception-trace` knob to turn it off).
const SHOW_UNHANDLED_SIGNALS: bool = true;
/// `arm64_show_signal`'s own `DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL,
/// DEFAULT_RATELIMIT_BURST)`.
static SHOW_SIGNAL_RS: crate::kernel::spinlock::SpinLock<RatelimitState> =
    crate::kernel::spinlock::SpinLock::new(RatelimitState::new(
        DEFAULT_RATELIMIT_INTERVAL,
        DEFAULT_RATELIMIT_BURST,
    ));

/// arm64's `arm64_show_signal` test: `show_unhandled_signals`, `unhandled_signal(current,
/// sig)` (the action is SIG_DFL or SIG_IGN, or the task is init), then the rate limit
/// (printing `arm64_show_signal: N callbacks suppressed` when an interval ends).
fn show_unhandled_signal(sig: u32) -> bool {
    if !SHOW_UNHANDLED_SIGNALS {
        return false;
    }
    let unhandled = with_current(|t| {
        let h = t.sigactions[sig as usize].sa_handler;
        t.pid == 1 || h == SIG_DFL || h == SIG_IGN
    });
    if !unhandled {
        return false;
    }
    let r = SHOW_SIGNAL_RS.lock().ratelimit(crate::kernel::time::get_jiffies_64());
    if r.suppressed != 0 {
        crate::kprintln!("arm64_show_signal: {} callbacks suppressed", r.suppressed);
    }
    r.print
}

/// The task table, locked. Whoever takes it may change the current task's signals, restart or
/// rseq state, or switch tasks: the return to user space checks for work again.
fn lock_tasks() -> crate::kernel::spinlock::SpinLockGuard<'static, Option<Tasks>> {
    arch::set_user_work_hint();
    TASKS.lock()
}

/// Runs `f` on the task table.
pub fn with_tasks<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    let mut g = lock_tasks();
    f(g.as_mut().expect("process::init ran at boot"))
}

/// Runs `f` on the running task.
pub fn with_current<R>(f: impl FnOnce(&mut Task) -> R) -> R {
    with_tasks(|t| f(t.current()))
}

/// [`with_current`] for work on the running task's address space and counters only (a page
/// fault handled, `mmap`, `munmap`): it changes neither the task's signals, restart or rseq
/// state nor which task runs, so the return to user space is not asked to look for work
/// (Linux's page fault and `mmap` leave `TIF_WORK_MASK` alone too). 100 instructions a fault.
pub fn with_current_mm<R>(f: impl FnOnce(&mut Task) -> R) -> R {
    let mut g = TASKS.lock();
    f(g.as_mut().expect("process::init ran at boot").current())
}

/// The running task's pid (0: the console). Every spin lock records it on acquire.
#[inline(always)]
pub fn current_pid() -> u32 {
    CURRENT_PID.load(Ordering::Relaxed)
}

/// `mm_account_fault`'s global half: `pgfault` for every fault handled (each attempt of a
/// retried one), `pgmajfault` for every attempt that had to read (`filemap_fault` counts it).
pub fn count_vm_fault(r: Result<Fault, FaultError>) {
    match r {
        Err(FaultError::BadMap | FaultError::BadAccess) => {}
        Ok(Fault::Major | Fault::Retry { major: true }) => {
            PGFAULT.fetch_add(1, Ordering::Relaxed);
            PGMAJFAULT.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            PGFAULT.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Task `pid`'s (None: the running task's) pid and comm for a report (`might_sleep`'s,
/// `spin_bug`'s), without waiting for the task table: code that holds it is named by pid only.
fn current_for_report(pid: Option<u32>, f: &mut dyn FnMut(u32, &str)) {
    let pid = pid.unwrap_or_else(|| CURRENT_PID.load(Ordering::Relaxed));
    match TASKS.try_lock() {
        Some(g) => f(pid, g.as_ref().and_then(|t| t.map.get(&pid)).map_or("", |x| x.comm.as_str())),
        None => f(pid, "(task table held)"),
    }
}

/// Sets up task 0 (the console), the special pages, the entry hooks and the rootfs.
pub fn init(params: &crate::boot::cmdline::BootParams, initrd: Option<(u64, u64)>) {
    crate::kernel::spinlock::set_current_task(current_for_report);
    let mut console = Task::boxed(0, 0, "swapper/0");
    let cur_task = core::ptr::NonNull::from(&mut *console);
    let mut map = pid_table::PidTable::new(PID_MAX);
    map.insert(0, console);
    *TASKS.lock() = Some(Tasks {
        map,
        rq: VecDeque::new(),
        timers: BTreeSet::new(),
        wq_sleepers: Vec::new(),
        autoreap: Vec::new(),
        woken: Vec::new(),
        current: 0,
        cur_task,
        last_pid: 0,
    });
    if params.norandmaps {
        RANDOMIZE_VA_SPACE.store(0, Ordering::Relaxed);
    }
    USER_DEBUG.store(params.user_debug, Ordering::Relaxed);
    fork::init();
    if !mm::init_special_pages() {
        kprintln!("process: no memory for the zero page");
    }
    if let Err(e) = crate::kernel::vsyscall::vdso_init() {
        kprintln!("vdso: {:?}: programs get no [vvar]/[vdso]", e);
    }
    arch::vfp_enable();
    arch::set_user_exception_handler(user_exception);
    arch::set_syscall_handler(syscall::handle);
    arch::set_work_handler(do_work_pending);
    match initrd {
        Some((start, size)) => fs::populate_rootfs(start, size),
        // The rootfs is there (empty but for /proc and /dev) without an initramfs too.
        None => fs::with_ns(|_| ()),
    }
    // module_init(kswapd_init): kswapd0, the first kernel thread.
    reclaim::kswapd_init();
}

/// The current task's CPU time in ticks, user and system, the running stretch included.
pub fn current_cpu_ticks() -> u64 {
    let running = CUR_UTICKS.load(Ordering::Relaxed) + CUR_STICKS.load(Ordering::Relaxed);
    with_current(|t| t.utime + t.stime) + running
}

/// `scheduler_tick`, from the timer interrupt: the tick is charged to the running task and,
/// when a program is running, it is asked to give the CPU up on its way back to user space.
pub fn scheduler_tick(user: bool) {
    if CURRENT_PID.load(Ordering::Relaxed) != 0 {
        if user {
            CUR_UTICKS.fetch_add(1, Ordering::Relaxed);
        } else {
            CUR_STICKS.fetch_add(1, Ordering::Relaxed);
        }
        NEED_RESCHED.store(true, Ordering::Relaxed);
        arch::set_user_work_hint();
    }
}

/// Whether the sleeper `task` may wake at jiffy `now`: its bio completed (I/O sleepers wake
/// for nothing else but their timeout), its wait queue was woken, its deadline passed, or
/// (sleeping on nothing) a signal is pending.
fn sleeper_ready(task: &Task, now: u64) -> bool {
    match (iowait::io_ready(task.pid, task.wake_at, now), task.wait) {
        (Some(ready), _) => ready,
        (None, Some((q, seen))) => q.woken_since(seen) || task.wake_at <= now,
        (None, None) => task.wake_at <= now || task.pending & !task.blocked != 0,
    }
}

/// Wakes the sleepers whose time came.
/// `slept` is the task that has just gone to sleep, if any (a signal may already be pending
/// for it). Only the candidates are looked at: pipe sleepers their pipe named, deadlines
/// due, I/O sleepers whose bio completed, wait-queue sleepers, and `slept`; the other
/// sleepers (however many) cost nothing. The ones that wake go on the run queue in pid order.
fn wake_and_check(t: &mut Tasks, slept: Option<u32>) {
    pipe::wake_pipe_waiters(t);
    let now = crate::kernel::time::get_jiffies_64();
    let mut cand = core::mem::take(&mut t.woken);
    cand.clear();
    while let Some(&(at, pid)) = t.timers.first() {
        if at > now {
            break;
        }
        t.timers.pop_first();
        if let Some(x) = t.map.get_mut(&pid) {
            if x.timer == Some(at) {
                x.timer = None;
            }
        }
        cand.push(pid);
    }
    iowait::for_each_done(|pid| cand.push(pid));
    for &(pid, q, seen) in &t.wq_sleepers {
        if q.woken_since(seen) {
            cand.push(pid);
        }
    }
    cand.extend(slept);
    if cand.len() > 1 {
        cand.sort_unstable();
        cand.dedup();
    }
    for &pid in &cand {
        let Some(task) = t.map.get_mut(&pid).filter(|x| x.pid != 0) else { continue };
        if task.state == TaskState::Sleeping && sleeper_ready(task, now) {
            task.state = TaskState::Runnable;
            task.wake_at = u64::MAX;
            let front = task.is_kthread();
            t.activate(pid, front);
        }
    }
    t.woken = cand;
}

/// Whether a task besides the console can run: the running program, or one on the run queue
/// (which may still hold a task that went to sleep after it was queued).
fn any_runnable(t: &Tasks) -> bool {
    let runnable =
        |p: &u32| *p != 0 && t.map.get(p).is_some_and(|x| x.state == TaskState::Runnable);
    runnable(&t.current) || t.rq.iter().any(runnable)
}

/// Whether program `pid` exists and is ready to run (not asleep, stopped or a zombie; a
/// kernel thread, which ignores signals, is never counted).
pub fn program_runnable(pid: u32) -> bool {
    with_tasks(|t| {
        t.map.get(&pid).is_some_and(|x| x.state == TaskState::Runnable && !x.is_kthread())
    })
}

/// Whether a program is ready to run (the console's idle loop gives the CPU away then).
pub fn others_runnable() -> bool {
    arch::set_user_work_hint();
    match TASKS.try_lock() {
        Some(mut g) => g.as_mut().is_some_and(|t| {
            wake_and_check(t, None);
            any_runnable(t)
        }),
        None => false,
    }
}

/// `schedule()`: the current task goes to the back of the run queue (if still runnable) and
/// the first runnable task in it runs; the console runs when nothing else can.
pub fn schedule() {
    let flags = irqflags::local_irq_save();
    let switch = {
        let mut g = lock_tasks();
        let t = g.as_mut().expect("process::init ran at boot");
        let cur = t.current;
        let slept = (cur != 0 && t.current().state == TaskState::Sleeping).then_some(cur);
        if slept.is_some() {
            t.note_sleep();
        }
        wake_and_check(t, slept);
        let (u, s) = (CUR_UTICKS.swap(0, Ordering::Relaxed), CUR_STICKS.swap(0, Ordering::Relaxed));
        {
            let c = t.current();
            c.utime += u;
            c.stime += s;
        }
        // rseq_preempt(prev) for a task that really leaves the CPU: it sleeps, stops or exits,
        // or another program is waiting for it. The tick's round trip through the console
        // (which only looks at its input and hands the CPU straight back) is pivm's own and no
        // context switch on Linux, where a lone runnable task keeps the CPU.
        let runnable = t.current().state == TaskState::Runnable;
        if cur != 0 {
            let others = t.rq.iter().any(|p| *p != cur);
            if !runnable || others {
                let p = t.current();
                rseq::preempt(&mut p.ext.rseq);
                // __schedule's switch_count: a task that leaves the CPU asleep (or stopped)
                // switched voluntarily, a preempted one did not.
                if runnable {
                    p.nivcsw += 1;
                } else {
                    p.nvcsw += 1;
                }
            }
        }
        if cur != 0 && runnable {
            t.activate(cur, false);
        }
        // The console is the idle task and the dispatcher: a program that gives the CPU up
        // (preempted, sleeping or exiting) hands it to the console, which looks at its input
        // and passes the CPU on to the next runnable program in the queue.
        let next = if cur != 0 {
            Some(0)
        } else {
            let mut next = None;
            while let Some(p) = t.rq.pop_front() {
                if t.map.get(&p).is_some_and(|x| x.state == TaskState::Runnable) {
                    next = Some(p);
                    break;
                }
            }
            next
        };
        next.map(|n| {
            let prev: *mut Task = t.current();
            t.set_current(n);
            t.drop_sleep();
            CURRENT_PID.store(n, Ordering::Relaxed);
            let next: *mut Task = t.current();
            (prev, next)
        })
    };
    if let Some((prev, next)) = switch {
        // schedule_debug (CONFIG_SCHED_STACK_END_CHECK): a task that ran off the end of its
        // 8 KiB stack has written over whatever lies below it (another task's pt_regs).
        // SAFETY: as below, `prev` is boxed in the table.
        if unsafe { (*prev).stack_end_corrupted() } {
            panic!("corrupted stack end detected inside scheduler");
        }
        // SAFETY: both tasks are boxed in the table and stay there until reaped, which only
        // the console does, never for the running task or one mid-switch; interrupts are
        // masked and nothing else runs on this CPU.
        unsafe {
            arch::vfp_save(&mut (*prev).vfp);
            match (*next).mm.as_mut() {
                Some(m) => m.activate(),
                None => arch::switch_to_kernel_mm(),
            }
            // tls_thread_switch: arm64's user space writes its thread register itself.
            (*prev).tls = arch::get_tls();
            arch::set_tls((*next).tls);
            arch::vfp_restore(&(*next).vfp);
            // The console (no stack of its own here) runs where the architecture put it.
            let limit = match (*next).kstack {
                Some(_) => (*next).stack_limit,
                None => arch::boot_stack_limit(),
            };
            arch::switch_to(&mut (*prev).ctx, &(*next).ctx, limit);
        }
    }
    NEED_RESCHED.store(false, Ordering::Relaxed);
    irqflags::local_irq_restore(flags);
    if AUTOREAP_PENDING.swap(false, Ordering::Relaxed) {
        release_autoreaped();
    }
}

/// `release_task` for children that exited while their parent ignored SIGCHLD: no zombie
/// stays behind for `wait4`. They are released in pid order, all but the running task
/// (which is still on its stack: the next task out of `schedule()` releases it).
fn release_autoreaped() {
    loop {
        let next = with_tasks(|t| {
            let cur = t.current;
            let (at, _) =
                t.autoreap.iter().enumerate().filter(|(_, &p)| p != cur).min_by_key(|(_, &p)| p)?;
            Some(t.autoreap.swap_remove(at))
        });
        let Some(pid) = next else { break };
        reap_task(pid);
    }
}

/// `need_resched()`: the tick (or a wake-up) asked the running task to give the CPU up.
pub fn need_resched() -> bool {
    NEED_RESCHED.load(Ordering::Relaxed)
}

/// `cond_resched`: a kernel thread (which never returns to user space, where the others
/// are preempted) gives the CPU up here when the tick asked for it.
pub fn cond_resched() {
    if NEED_RESCHED.load(Ordering::Relaxed) {
        schedule();
    }
}

/// Asks for a reschedule on the way back to user space (`set_tsk_need_resched`).
pub fn set_need_resched() {
    NEED_RESCHED.store(true, Ordering::Relaxed);
    arch::set_user_work_hint();
}

/// The bit of signal `sig` in a mask.
const fn sigbit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// `send_signal`: marks `sig` pending for `pid` and wakes it.
pub fn send_signal(pid: u32, sig: u32) -> Result<(), crate::mm::mm_types::Errno> {
    use crate::mm::mm_types::Errno;
    if sig == 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    let resumed = with_tasks(|t| {
        let task = t.map.get_mut(&pid).filter(|x| x.pid != 0).ok_or(Errno::ESRCH)?;
        // A kernel thread ignores every signal (SIGKILL too): sent, and dropped.
        if task.state == TaskState::Zombie || task.is_kthread() {
            return Ok(false);
        }
        // prepare_signal: a stop signal throws a pending SIGCONT away and SIGCONT the pending
        // stop signals; SIGCONT resumes a stopped task whatever its action (even ignored).
        task.pending = rules::prepare_pending(task.pending, sig);
        let mut resumed = false;
        if sig == SIGCONT && task.state == TaskState::Stopped {
            task.ext.stop_code = 0;
            task.ext.continued = true;
            task.state = TaskState::Runnable;
            resumed = true;
        }
        // A signal the task ignores (and does not block) is dropped here.
        if task.blocked & sigbit(sig) != 0
            || !rules::sig_ignored(&task.sigactions[sig as usize], sig)
        {
            task.pending |= sigbit(sig);
            // signal_wake_up: a sleeper looks at it; only SIGKILL wakes a stopped task.
            if task.state == TaskState::Sleeping
                || (task.state == TaskState::Stopped && sig == SIGKILL)
            {
                task.state = TaskState::Runnable;
                task.wake_at = u64::MAX;
            }
        }
        if task.state == TaskState::Runnable {
            t.activate(pid, false);
        }
        Ok(resumed)
    })?;
    if resumed {
        notify_parent_cldstop(pid, si_code::CLD_CONTINUED, SIGCONT);
    }
    Ok(())
}

/// `do_notify_parent_cldstop`: the parent of `child` hears that it stopped or continued
/// (SIGCHLD with `CLD_STOPPED`/`CLD_CONTINUED` unless it ignores SIGCHLD or set
/// `SA_NOCLDSTOP`) and is woken if it sleeps in `wait4`. The console (pid 0) looks at its
/// jobs' states itself.
fn notify_parent_cldstop(child: u32, code: i32, status: u32) {
    let send = with_tasks(|t| {
        let c = t.map.get(&child)?;
        let (parent, uid, utime, stime) = (c.ppid, c.ext.uid, c.utime, c.stime);
        if parent == 0 {
            return None;
        }
        let p = t.map.get_mut(&parent)?;
        let send = rules::cldstop_sends(&p.sigactions[SIGCHLD as usize]);
        if send && p.pending & sigbit(SIGCHLD) == 0 {
            p.ext.chld_info = Some(Siginfo {
                si_signo: SIGCHLD as i32,
                si_errno: 0,
                si_code: code,
                fields: abisig::SigFields::Chld {
                    pid: child as i32,
                    uid,
                    status: status as i32,
                    utime: utime as _,
                    stime: stime as _,
                },
            });
        }
        if p.state == TaskState::Sleeping {
            p.state = TaskState::Runnable;
            p.wake_at = u64::MAX;
            t.activate(parent, false);
        }
        send.then_some(parent)
    });
    if let Some(parent) = send {
        let _ = send_signal(parent, SIGCHLD);
    }
}

/// `do_signal_stop` for a single-threaded process: the task stops (`TASK_STOPPED`, the stop
/// signal kept for `wait4(WUNTRACED)`), its parent is told, and it does not run again until
/// SIGCONT or SIGKILL wakes it.
fn do_signal_stop(sig: u32) {
    let me = with_current(|t| {
        t.state = TaskState::Stopped;
        t.ext.stop_code = sig;
        t.ext.continued = false;
        t.pid
    });
    notify_parent_cldstop(me, si_code::CLD_STOPPED, sig);
    schedule();
}

/// What `get_signal` decided for the current task.
enum SignalAction {
    /// The default action kills (`do_group_exit`).
    Kill(u32),
    /// The default action stops (`do_signal_stop`).
    Stop(u32),
    /// Run the handler.
    Handle(u32, KernelSigaction, Siginfo, ThreadFault),
}

/// `get_signal`: the next pending, unblocked signal and what to do with it. Signals whose
/// action is to be ignored are dropped here. A fault signal that is blocked or ignored kills
/// (`force_sig_info_to_task` resets it to the default action).
fn get_signal(task: &mut Task) -> Option<SignalAction> {
    if task.pending == 0 {
        return None;
    }
    for sig in rules::delivery_order(task.pending) {
        let fault = task.fault_info.filter(|(s, _, _)| *s == sig);
        let act = task.sigactions[sig as usize];
        let blocked = task.blocked & sigbit(sig) != 0;
        if fault.is_some() && (blocked || act.sa_handler == SIG_IGN) {
            task.pending &= !sigbit(sig);
            return Some(SignalAction::Kill(sig));
        }
        if blocked && sig != SIGKILL {
            continue;
        }
        task.pending &= !sigbit(sig);
        if sig == SIGKILL || act.sa_handler == SIG_DFL {
            match rules::default_action(sig) {
                rules::DefaultAction::Term | rules::DefaultAction::Core => {
                    return Some(SignalAction::Kill(sig))
                }
                rules::DefaultAction::Stop => return Some(SignalAction::Stop(sig)),
                rules::DefaultAction::Ign | rules::DefaultAction::Cont => continue,
            }
        }
        if act.sa_handler == SIG_IGN {
            continue;
        }
        let (info, tf) = match fault {
            Some((_, info, tf)) => {
                task.fault_info = None;
                (info, tf)
            }
            // A child's exit queued its CLD_* siginfo with the SIGCHLD.
            None => match task.ext.chld_info.take().filter(|_| sig == SIGCHLD) {
                Some(info) => (info, ThreadFault::default()),
                None => (Siginfo::kill(sig, 0, 0), ThreadFault::default()),
            },
        };
        return Some(SignalAction::Handle(sig, act, info, tf));
    }
    None
}

pub use signal::SIGNAL_RETURN_OFFSET;

/// `do_work_pending`: signals first (a handler's frame, or the default action), then a
/// pending reschedule gives the CPU up.
fn do_work_pending(regs: &mut PtRegs) {
    // The common case, as ret_fast_syscall's test of the thread flags: nothing pending, no
    // restart asked for, no reschedule, no rseq update due (`_TIF_NOTIFY_RESUME`).
    if !NEED_RESCHED.load(Ordering::Relaxed)
        && with_current(|t| {
            t.pending == 0 && t.ext.restart.is_none() && !t.ext.rseq.is_some_and(|r| r.notify)
        })
    {
        // Interrupts are masked (ret_to_user): nothing sets the hint again before the return.
        arch::clear_user_work_hint();
        return;
    }
    loop {
        match with_current(get_signal) {
            Some(SignalAction::Kill(sig)) => do_exit(sig),
            Some(SignalAction::Stop(sig)) => {
                do_signal_stop(sig);
                continue;
            }
            Some(SignalAction::Handle(sig, act, info, tf)) => {
                // rseq_signal_deliver, before the frame saves the pc (force_sigsegv if the
                // area cannot be used).
                if rseq_task::signal_deliver(regs).is_err() {
                    do_exit(SIGSEGV);
                }
                signal::handle_signal(regs, sig, act, info, tf);
                continue;
            }
            None => {}
        }
        if !NEED_RESCHED.load(Ordering::Relaxed) {
            break;
        }
        schedule();
    }
    // No handler ran: a call that asked for a restart runs again (a sleep until its first
    // deadline).
    match with_current(|t| t.ext.restart.take()) {
        Some(code) if rules::restart_decision(code, None) == Some(rules::Restart::Again) => {
            regs.restart_syscall()
        }
        _ => with_current(|t| t.ext.restart_wake = None),
    }
    // resume_user_mode_work -> rseq_handle_notify_resume (force_sigsegv on a bad area).
    if rseq_task::notify_resume(regs).is_err() {
        do_exit(SIGSEGV);
    }
}

/// `do_exit`: the address space and files go, the task becomes a zombie for the console to
/// reap, and the CPU goes to another task for good.
pub fn do_exit(status: u32) -> ! {
    let (mm, files) = with_current(|t| {
        // futex_exit_release: Linux walks the robust list here (`exit_robust_list`), marking
        // the futexes this task holds FUTEX_OWNER_DIED and waking a waiter; pivm has no
        // futexes to wait on, so the registration is only dropped.
        t.ext.robust_list = 0;
        (t.mm.take(), core::mem::take(&mut t.files))
    });
    // exit_files: the descriptors go (an open file lives on while another process shares it).
    drop(files);
    arch::switch_to_kernel_mm();
    if let Some(mm) = mm {
        mm.exit_mmap();
    }
    fork::complete_vfork_done();
    let (me, parent, exit_signal, info) = with_current(|t| {
        t.exit_status = status;
        t.state = TaskState::Zombie;
        // do_notify_parent: CLD_EXITED with the exit code, or CLD_KILLED with the signal.
        let (code, st) = if rules::wifexited(status) {
            (si_code::CLD_EXITED, rules::wexitstatus(status))
        } else {
            (si_code::CLD_KILLED, rules::wtermsig(status))
        };
        let info = Siginfo {
            si_signo: t.ext.exit_signal as i32,
            si_errno: 0,
            si_code: code,
            fields: abisig::SigFields::Chld {
                pid: t.pid as i32,
                uid: t.ext.uid,
                status: st as i32,
                utime: t.utime as _,
                stime: t.stime as _,
            },
        };
        (t.pid, t.ppid, t.ext.exit_signal, info)
    });
    // forget_original_parent: orphans go to the console (task 0), which reaps them; only
    // this task's own children are walked.
    with_tasks(|t| {
        let orphans = core::mem::take(&mut t.current().children);
        for &c in &orphans {
            if let Some(x) = t.map.get_mut(&c) {
                x.ppid = 0;
            }
            t.add_child(0, c);
        }
    });
    if parent != 0 {
        // do_notify_parent: the autoreap rule, then __wake_up_parent (a parent asleep in
        // wait4 looks again, and gets ECHILD once its last child is released).
        let send = with_tasks(|t| {
            let p = t.map.get_mut(&parent)?;
            let (autoreap, send) =
                rules::exit_autoreap(&p.sigactions[SIGCHLD as usize], exit_signal);
            // SIGCHLD is not queued twice: the first siginfo stays (`legacy_queue`).
            if send && exit_signal == SIGCHLD && p.pending & sigbit(SIGCHLD) == 0 {
                p.ext.chld_info = Some(info);
            }
            if p.state == TaskState::Sleeping {
                p.state = TaskState::Runnable;
                p.wake_at = u64::MAX;
                t.activate(parent, false);
            }
            if autoreap {
                t.current().ext.autoreap = true;
                t.autoreap.push(me);
                AUTOREAP_PENDING.store(true, Ordering::Relaxed);
            }
            Some(send)
        });
        if send == Some(true) {
            let _ = send_signal(parent, exit_signal);
        }
    }
    schedule();
    unreachable!("a zombie was scheduled");
}

/// Frees a zombie's kernel stack and takes it out of the table (`release_task`).
fn reap_task(pid: u32) -> Option<Box<Task>> {
    let task = with_tasks(|t| {
        if t.map.get(&pid)?.state != TaskState::Zombie || t.current == pid {
            return None;
        }
        let task = t.map.remove(&pid)?;
        t.remove_child(task.ppid, pid);
        if let Some(at) = task.timer {
            t.timers.remove(&(at, pid));
        }
        Some(task)
    })?;
    if let Some(stack) = task.kstack {
        free_thread_stack(stack);
    }
    Some(task)
}

/// `verify`'s check of the tasks: every kernel stack still ends in `STACK_END_MAGIC`.
pub fn verify_stacks() -> Result<(), String> {
    with_tasks(|t| match t.map.values().find(|x| x.stack_end_corrupted()) {
        Some(x) => Err(alloc::format!(
            "task: pid {} ({}): corrupted stack end at {:#010x}",
            x.pid,
            x.comm,
            x.stack_limit
        )),
        None => Ok(()),
    })
}

/// Reaps a zombie the console started; its wait status.
pub fn reap(pid: u32) -> Option<u32> {
    reap_task(pid).map(|t| t.exit_status)
}

/// Runs a sleepable allocation `f` of a system call with interrupts on, as Linux runs every
/// system call (`vector_swi` enables them): pivm's run with them masked, which would make
/// the allocation atomic (no reclaim, no OOM killer) and a `might_sleep` report. Only where
/// no lock is held; interrupts are as before afterwards.
pub(crate) fn syscall_sleepable<R>(f: impl FnOnce() -> R) -> R {
    if crate::kernel::spinlock::preempt_count() != 0 {
        return f();
    }
    let flags = irqflags::local_irq_save();
    irqflags::local_irq_enable();
    let r = f();
    irqflags::local_irq_restore(flags);
    r
}

/// A task's kernel stack: buddy pages in the linear map, or with `CONFIG_VMAP_STACK`
/// (arm64) a vmalloc area of `THREAD_SIZE` at `THREAD_ALIGN` with an unmapped page below.
#[derive(Clone, Copy, Debug)]
enum KernelStack {
    Pages(Pfn),
    Vmap(u64),
}

/// A kernel stack for a new task (`alloc_thread_stack_node`): the stack, its lowest address,
/// and the `pt_regs` slot at its top.
fn alloc_thread_stack() -> Result<(KernelStack, usize, usize), crate::mm::mm_types::Errno> {
    let (stack, base) = if arch::VMAP_STACK {
        // __vmalloc_node(THREAD_SIZE, THREAD_ALIGN, THREADINFO_GFP, ...): /proc/vmallocinfo
        // lists it under the function's name, as Linux's does.
        let caller = crate::mm::vmap::Caller::Name("alloc_thread_stack_node");
        let base = crate::kernel::vmalloc::vmalloc_aligned(
            THREAD_SIZE as u64,
            arch::THREAD_ALIGN as u64,
            caller,
        )
        .map_err(|_| crate::mm::mm_types::Errno::ENOMEM)?;
        (KernelStack::Vmap(base), base as usize)
    } else {
        // GFP_KERNEL: where the caller may sleep (the console's `run`, a fork with no lock
        // held), a failure at the watermark reclaims first, as 6.1's slow path does.
        let order = THREAD_SIZE_ORDER;
        let stack = crate::kernel::mem::alloc_pages_reclaiming(GfpFlags::GFP_KERNEL, order, || {
            with_node(|n| n.alloc_pages_for(PageOwner::KernelStack, GfpFlags::GFP_KERNEL, order))
                .ok()
        })
        .ok_or(crate::mm::mm_types::Errno::ENOMEM)?;
        let base = crate::kernel::phys_to_virt(stack.phys().0).unwrap_or(0) as usize;
        (KernelStack::Pages(stack), base)
    };
    NR_KERNEL_STACK_PAGES.fetch_add(1 << THREAD_SIZE_ORDER, Ordering::Relaxed);
    let regs_addr = base + THREAD_SIZE - core::mem::size_of::<PtRegs>();
    // SAFETY: the lowest word of the stack just allocated (mapped, ours alone).
    unsafe { (base as *mut u32).write_volatile(STACK_END_MAGIC) };
    Ok((stack, base, regs_addr))
}

fn free_thread_stack(stack: KernelStack) {
    match stack {
        KernelStack::Pages(pfn) => {
            let _ = with_node(|n| n.free_pages_for(PageOwner::KernelStack, pfn, THREAD_SIZE_ORDER));
        }
        KernelStack::Vmap(base) => {
            if let Err(e) = crate::kernel::vmalloc::vfree(base) {
                crate::kernel::vmalloc::report(&e);
            }
        }
    }
    NR_KERNEL_STACK_PAGES.fetch_sub(1 << THREAD_SIZE_ORDER, Ordering::Relaxed);
}

/// Queues `task` with its stack and `pt_regs` (already filled); its pid.
fn enqueue_task(
    mut task: Box<Task>,
    stack: KernelStack,
    base: usize,
    regs_addr: usize,
) -> Result<u32, crate::mm::mm_types::Errno> {
    task.kstack = Some(stack);
    task.stack_limit = base;
    task.ctx.sp = regs_addr as _;
    task.ctx.pc = arch::ret_from_fork_addr();
    let r = with_tasks(|t| {
        let pid = t.alloc_pid()?;
        task.pid = pid;
        let parent = task.ppid;
        t.map.insert(pid, task);
        t.reserve_queues();
        t.add_child(parent, pid);
        t.rq.push_back(pid);
        Some(pid)
    });
    match r {
        Some(pid) => Ok(pid),
        None => Err(crate::mm::mm_types::Errno::EAGAIN),
    }
}

/// Creates a task for a loaded program: kernel stack, user `pt_regs` (entry point and stack
/// pointer), context to `ret_from_fork`; queued to run as a console job.
pub fn start_task(
    comm: &str,
    exe: &str,
    pm: Box<ProcessMm>,
    entry: usize,
    sp: usize,
    counts: FaultCounts,
    foreground: bool,
) -> Result<u32, crate::mm::mm_types::Errno> {
    let (stack, base, regs_addr) = match alloc_thread_stack() {
        Ok(s) => s,
        Err(e) => {
            pm.exit_mmap();
            return Err(e);
        }
    };
    // SAFETY: the top of the new, unused kernel stack (lowmem, 8-byte aligned).
    let regs = unsafe { &mut *(regs_addr as *mut PtRegs) };
    arch::start_thread(regs, entry, sp);
    let mut task = Task::boxed(0, 0, comm);
    task.mm = Some(pm);
    task.counts = counts;
    task.foreground = foreground;
    task.console_job = true;
    task.exe = Some(exe.into());
    // console_on_rootfs: fds 0, 1 and 2 on /dev/console.
    task.files = fs::console_files();
    enqueue_task(task, stack, base, regs_addr).inspect_err(|_| free_thread_stack(stack))
}

/// `CLONE_VM`, `CLONE_SETTLS`, `CLONE_CHILD_CLEARTID`, `CLONE_CHILD_SETTID`.
pub const CLONE_VM: u32 = 0x0000_0100;
pub const CLONE_SETTLS: u32 = 0x0008_0000;
pub const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
pub const CLONE_CHILD_SETTID: u32 = 0x0100_0000;

/// `kernel_clone` for `fork`, `vfork` and `clone` with fork semantics (the flag sets
/// `rules::classify_clone` accepts; others are `EINVAL`), within `copy_process`'s limits
/// (`EAGAIN`): a copy of the address space sharing its anonymous pages copy-on-write
/// (`dup_mmap`/`copy_page_range`), the same registers with r0 = 0, the same TLS, handlers,
/// mask and files. `vfork`'s child gets its own copy too (fork semantics), and the parent
/// sleeps until the child execs or exits. The child's pid.
pub fn do_fork(
    regs: &PtRegs,
    flags: u32,
    newsp: usize,
    tls: usize,
    ctid: usize,
) -> Result<u32, crate::mm::mm_types::Errno> {
    use crate::mm::mm_types::Errno;
    let req = rules::classify_clone(flags).map_err(|why| why.errno())?;
    fork::check_limits()?;
    let (stack, base, regs_addr) = syscall_sleepable(alloc_thread_stack)?;
    // The child's first-level table before the task table is taken: its allocation may
    // reclaim and invoke the OOM killer, which it could not do under the lock.
    let Some(pgd) = syscall_sleepable(mm::alloc_pgd) else {
        free_thread_stack(stack);
        return Err(Errno::ENOMEM);
    };
    let mut pgd = Some(pgd);
    let child = with_current(|t| {
        let pm = t.mm.as_mut()?.fork(pgd.take()?)?;
        let mut c = Task::boxed(0, t.pid, &t.comm);
        c.mm = Some(pm);
        // copy_thread: the parent's thread register as it is now (arm64's user space
        // writes TPIDR_EL0 itself).
        c.tls = if flags & CLONE_SETTLS != 0 { tls } else { arch::get_tls() };
        // Into the child's own table (allocated with it, every action SIG_DFL): no second
        // allocation, and only the actions the parent changed are copied (a copy of the
        // whole 65-entry table was `memcpy`'s word loop, about 1,600 instructions a fork).
        let dfl = KernelSigaction::zeroed();
        for (to, from) in c.sigactions.iter_mut().zip(t.sigactions.iter()) {
            if *from != dfl {
                *to = *from;
            }
        }
        c.blocked = t.blocked;
        c.altstack = t.altstack;
        c.files = t.files.clone();
        c.foreground = t.foreground;
        c.exe = t.exe.clone();
        c.ext = t.ext.for_child(req.exit_signal, req.vfork.then_some(t.pid));
        Some(c)
    });
    if let Some(unused) = pgd {
        mm::free_pgd(unused);
    }
    let Some(mut child) = child else {
        free_thread_stack(stack);
        return Err(Errno::ENOMEM);
    };
    arch::vfp_save(&mut child.vfp);
    // SAFETY: the top of the new, unused kernel stack (lowmem, 8-byte aligned).
    let cregs = unsafe { &mut *(regs_addr as *mut PtRegs) };
    *cregs = *regs;
    cregs.set_return_value(0);
    if newsp != 0 {
        cregs.user_stack_pointer_set(newsp);
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = ctid;
    }
    let settid = flags & CLONE_CHILD_SETTID != 0;
    let pid =
        enqueue_task(child, stack, base, regs_addr).inspect_err(|_| free_thread_stack(stack))?;
    if settid {
        // The child's own copy of the word (`schedule_tail` does it in the child).
        with_tasks(|t| {
            if let Some(c) = t.map.get_mut(&pid) {
                let mut counts = c.counts;
                if let Some(pm) = c.mm.as_mut() {
                    let mut um = mm::UserMem { pm, counts: &mut counts };
                    let _ = crate::abi::uaccess::UserMemory::copy_to_user(
                        &mut um,
                        ctid,
                        &pid.to_le_bytes(),
                    );
                }
                c.counts = counts;
            }
        });
    }
    if req.parent_settid {
        let ptid = regs.syscall_get_arguments()[2];
        let _ = syscall::with_user(|um, _| crate::abi::uaccess::put_user(um, ptid, &pid));
    }
    if req.vfork {
        fork::wait_for_vfork_done(pid);
    }
    Ok(pid)
}

/// `WNOHANG`.
pub const WNOHANG: u32 = 1;

/// What `wait4` hands back of a reaped child.
pub struct Reaped {
    pub pid: u32,
    pub status: u32,
    pub counts: FaultCounts,
    pub utime: u64,
    pub stime: u64,
}

/// A child `wait4` found: its pid, and the report of a stop or continue (None: a zombie).
type WaitFound = (u32, Option<Reaped>);

/// `do_wait_thread` over the children `kids` of `me`: the first one (in pid order) with
/// something to report for `wait4(pid, ..., options)`: `Some((pid, None))` for a zombie to
/// reap, `Some((pid, Some(report)))` for a stop or continue; `Ok(None)` while children
/// that could report are alive; `ECHILD` when none is eligible.
fn wait_scan(
    map: &mut pid_table::PidTable<Task>,
    kids: &[u32],
    me: u32,
    pid: i32,
    options: u32,
) -> Result<Option<WaitFound>, crate::mm::mm_types::Errno> {
    let mut any = false;
    for c in kids {
        let Some(x) = map.get_mut(c) else { continue };
        if x.pid == 0
            || x.ppid != me
            || x.ext.autoreap
            || !rules::wait_eligible(pid, x.pid, x.ext.exit_signal, options)
        {
            continue;
        }
        any = true;
        let st = rules::ChildWaitState {
            zombie: x.state == TaskState::Zombie,
            stop_code: x.ext.stop_code,
            continued: x.ext.continued,
        };
        let status = match rules::wait_report(st, options) {
            None => continue,
            Some(rules::WaitReport::Exited) => return Ok(Some((x.pid, None))),
            Some(rules::WaitReport::Stopped(sig)) => {
                x.ext.stop_code = 0;
                rules::status_stopped(sig)
            }
            Some(rules::WaitReport::Continued) => {
                x.ext.continued = false;
                rules::STATUS_CONTINUED
            }
        };
        // wait_task_stopped/continued: the child stays; getrusage(RUSAGE_BOTH).
        let r = Reaped {
            pid: x.pid,
            status,
            counts: FaultCounts {
                min_flt: x.counts.min_flt + x.cmin_flt,
                maj_flt: x.counts.maj_flt + x.cmaj_flt,
            },
            utime: x.utime + x.cutime,
            stime: x.stime + x.cstime,
        };
        return Ok(Some((x.pid, Some(r))));
    }
    if any {
        Ok(None)
    } else {
        Err(crate::mm::mm_types::Errno::ECHILD)
    }
}

/// `do_wait` for `wait4(pid, ..., options)`: a zombie child reaped, a stop
/// (`WUNTRACED`) or continue (`WCONTINUED`) reported once, `Ok(None)` with `WNOHANG` while
/// children run, `ECHILD` without children (autoreaped ones are not children any more);
/// sleeps otherwise.
pub fn do_wait(pid: i32, options: u32) -> Result<Option<Reaped>, crate::mm::mm_types::Errno> {
    use crate::mm::mm_types::Errno;
    loop {
        let me = current_pid();
        let found = with_tasks(|t| {
            // The caller's own children only (`do_wait_thread` walks `children`), in pid
            // order; the list is out of the task while they are looked at.
            let kids = core::mem::take(&mut t.current().children);
            // do_wait_pid: `wait4` for one pid looks at that child alone.
            let r = match u32::try_from(pid).ok().filter(|&p| p != 0) {
                Some(p) => match kids.binary_search(&p) {
                    Ok(at) => wait_scan(&mut t.map, &kids[at..=at], me, pid, options),
                    Err(_) => Err(Errno::ECHILD),
                },
                None => wait_scan(&mut t.map, &kids, me, pid, options),
            };
            t.current().children = kids;
            r
        })?;
        if let Some((_, Some(report))) = found {
            return Ok(Some(report));
        }
        if let Some((child, None)) = found {
            let Some(task) = reap_task(child) else { continue };
            let r = Reaped {
                pid: child,
                status: task.exit_status,
                // getrusage(child, RUSAGE_BOTH): its own faults and its reaped children's.
                counts: FaultCounts {
                    min_flt: task.counts.min_flt + task.cmin_flt,
                    maj_flt: task.counts.maj_flt + task.cmaj_flt,
                },
                utime: task.utime + task.cutime,
                stime: task.stime + task.cstime,
            };
            with_current(|t| {
                t.cmin_flt += task.counts.min_flt + task.cmin_flt;
                t.cmaj_flt += task.counts.maj_flt + task.cmaj_flt;
                t.cutime += r.utime;
                t.cstime += r.stime;
            });
            return Ok(Some(r));
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        let interrupted = with_current(|t| {
            // A SIGCHLD with a handler interrupts too (the children were looked at first).
            if t.pending & !t.blocked != 0 {
                return true;
            }
            t.state = TaskState::Sleeping;
            t.wake_at = crate::kernel::time::get_jiffies_64() + 1;
            false
        });
        // -ERESTARTSYS: EINTR after a handler, restarted with SA_RESTART or without one.
        if interrupted {
            return Err(Errno::ERESTARTSYS);
        }
        schedule();
    }
}

/// The user-mode exception handler: page faults through the fault path; what cannot be
/// resolved becomes a signal (fatal: no handler is run yet).
fn user_exception(e: UserException, regs: &mut PtRegs) {
    let (addr, sig, code, trap_no, fsr_v) =
        match arch::decode_user_exception(e, regs, arch::TASK_SIZE) {
            UserTrap::Signal { addr, signo, code, trap_no, raw } => {
                (addr, signo, code, trap_no, raw)
            }
            UserTrap::PageFault { addr, flags, raw: f } => {
                let mut flags = flags;
                // A fault that needs the card submits the read and comes back with
                // VM_FAULT_RETRY and the bio: the task sleeps for it here, with the task table
                // free so that other tasks run, then the fault runs again from the start
                // (FAULT_FLAG_TRIED). A failed read is VM_FAULT_SIGBUS.
                let r = loop {
                    let (r, wait) = with_current_mm(|t| {
                        let counts = &mut t.counts;
                        t.mm.as_mut().map(|m| m.fault_nowait(addr, flags, counts))
                    })
                    .map_or((None, None), |(r, w)| (Some(r), w));
                    let Some(w) = wait else { break r };
                    if w.wait().is_err() {
                        break Some(Err(FaultError::Sigbus));
                    }
                    flags = w.next_flags(flags);
                };
                match r {
                    Some(Ok(_)) => return,
                    Some(Err(FaultError::Sigbus)) => (addr, SIGBUS, 2, arch::TRAP_ABORT, f),
                    Some(Err(FaultError::Oom)) => {
                        // The page allocation failed: direct reclaim, now that neither the
                        // task table nor the allocator is locked, then the access again.
                        if reclaim::direct_reclaim_for_fault() {
                            return;
                        }
                        // VM_FAULT_OOM: the OOM killer frees memory (or kills this task);
                        // the access is retried.
                        count_vm_fault(Err(FaultError::Oom));
                        oom::pagefault_out_of_memory();
                        return;
                    }
                    Some(Err(err)) => (addr, SIGSEGV, err.si_code(), arch::TRAP_ABORT, f),
                    None => (addr, SIGSEGV, 1, arch::TRAP_ABORT, f),
                }
            }
        };
    let tf = ThreadFault::record(addr, trap_no, fsr_v, arch::TASK_SIZE);
    let info = Siginfo::fault(sig, code, addr as crate::abi::native::types::Ulong);
    with_current(|t| t.fault_info = Some((sig, info, tf)));
    let debug = USER_DEBUG.load(Ordering::Relaxed);
    let user_debug =
        (sig == SIGSEGV && debug & UDBG_SEGV != 0) || (sig == SIGBUS && debug & UDBG_BUS != 0);
    if user_debug || (arch::SHOWS_UNHANDLED_SIGNALS && show_unhandled_signal(sig)) {
        user_fault_report(addr, sig, fsr_v, regs);
    }
    with_current(|t| t.pending |= sigbit(sig));
}

/// How a shell reports a wait status: `Segmentation fault` and the like for a killing
/// signal (none for SIGINT and a normal exit).
pub fn describe_status(status: u32) -> Option<&'static str> {
    match status & 0x7f {
        0 => None,
        s if s == SIGSEGV => Some("Segmentation fault"),
        s if s == SIGBUS => Some("Bus error"),
        s if s == SIGILL => Some("Illegal instruction"),
        s if s == SIGKILL => Some("Killed"),
        s if s == SIGTERM => Some("Terminated"),
        s if s == SIGINT => None,
        _ => Some("Killed by a signal"),
    }
}
