//! Kernel threads (`kthread_create` + `wake_up_process`, i.e. `kthread_run`): tasks with no
//! user address space (`mm` None: they run on the kernel's own tables, `swapper_pg_dir`),
//! their own `THREAD_SIZE` kernel stack, scheduled as every other task, never returning to user
//! space. `ps` shows them in brackets (no command line), `/proc/PID/status` without the
//! `Vm*` lines, and `PF_KTHREAD` in their flags. Signals are ignored, as a kernel thread's
//! are unless it allows one. pivm has no `kthreadd`: the threads are the console's children
//! (ppid 0), created at boot; pid 1 stays free for init, the first program, as Linux's
//! `kernel_init` takes it before any kernel thread exists.
use core::sync::atomic::Ordering;

use super::{alloc_thread_stack, free_thread_stack, Task, AUTOREAP_PENDING, NEED_RESCHED};
use crate::arch::irqflags;
use crate::arch::process as arch;
use crate::mm::mm_types::Errno;

/// `PF_FORKNOEXEC`: forked and not exec'd (every kernel thread).
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;
/// `PF_MEMALLOC`: may dip into the reserves (kswapd).
pub const PF_MEMALLOC: u32 = 0x0000_0800;
/// `PF_KSWAPD`: this is kswapd (`current_is_kswapd`).
pub const PF_KSWAPD: u32 = 0x0002_0000;
/// `PF_KTHREAD`: a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// The first code a kernel thread runs (`kthread`, after `schedule_tail`): the switch that
/// started it masked interrupts and left the reschedule request set; then its function.
extern "C" fn kthread(threadfn: usize) -> ! {
    NEED_RESCHED.store(false, Ordering::Relaxed);
    irqflags::local_irq_enable();
    if AUTOREAP_PENDING.swap(false, Ordering::Relaxed) {
        super::release_autoreaped();
    }
    // SAFETY: `kthread_run` stored a `fn() -> !` in this word.
    let f: fn() -> ! = unsafe { core::mem::transmute::<usize, fn() -> !>(threadfn) };
    f()
}

/// `kthread_run(threadfn, name)`: a runnable kernel thread named `name` (its `comm`) with
/// `PF_KTHREAD | PF_FORKNOEXEC` and `flags`; its pid.
pub fn kthread_run(threadfn: fn() -> !, name: &str, flags: u32) -> Result<u32, Errno> {
    let (stack, base, regs_addr) = alloc_thread_stack()?;
    let mut task = Task::boxed(0, 0, name);
    task.flags = PF_KTHREAD | PF_FORKNOEXEC | flags;
    task.kstack = Some(stack);
    task.stack_limit = base;
    // Kernel threads have no files of their own to speak of (`files` of init_task): none.
    arch::kernel_thread_context(&mut task.ctx, kthread, threadfn as usize, regs_addr);
    let pid = super::with_tasks(|t| {
        // pid 1 is init's (the first program run): a thread made before it starts after it.
        let before = t.last_pid;
        t.last_pid = t.last_pid.max(1);
        let pid = t.alloc_pid();
        if before == 0 {
            t.last_pid = 0;
        }
        let pid = pid?;
        task.pid = pid;
        t.map.insert(pid, task);
        t.reserve_queues();
        t.add_child(0, pid);
        t.rq.push_back(pid);
        Some(pid)
    });
    pid.ok_or_else(|| {
        free_thread_stack(stack);
        Errno::EAGAIN
    })
}
