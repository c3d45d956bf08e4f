//! `show_state_filter` (SysRq `t` and `w`): every task's line as `sched_show_task` prints it,
//! with what it waits on, then the CPU's run queue and what the console (the idle task) was
//! doing. It runs from the tick, so it takes no lock it would have to wait for.
use core::fmt::Write;

use super::{iowait, TaskState, CURRENT_PID, TASKS};
use crate::kernel::spinlock::IrqSpinLock;
use crate::kernel::sysrq::{render_cpu, render_task, TaskLine, Wchan};

/// The task table (or another lock the report needs) was held by what the tick interrupted.
#[derive(Debug)]
pub struct Busy;

/// Bytes of the console's command line kept for the report.
const CMD_MAX: usize = 64;

/// The command the console is running (its line, cut to [`CMD_MAX`] bytes), if any.
static CONSOLE_CMD: IrqSpinLock<([u8; CMD_MAX], Option<usize>)> =
    IrqSpinLock::new(([0; CMD_MAX], None));

/// The console starts running `line` (None: it is back at the prompt).
pub fn set_console_command(line: Option<&str>) {
    let mut c = CONSOLE_CMD.lock();
    match line {
        Some(l) => {
            // Cut on a character boundary, so the kept bytes stay a string.
            let mut n = l.len().min(CMD_MAX);
            while !l.is_char_boundary(n) {
                n -= 1;
            }
            c.0[..n].copy_from_slice(&l.as_bytes()[..n]);
            c.1 = Some(n);
        }
        None => c.1 = None,
    }
}

/// Writes `header` (given the running task's comm and pid), then the tasks (only those in `D` when `blocked_only`;
/// never the console, pid 0, which is the idle task), then the run queue and the console's
/// command. Nothing is written, and nothing allocated, unless every lock was free.
pub fn render(
    w: &mut impl Write,
    header: impl FnOnce(&mut dyn Write, &str, u32),
    blocked_only: bool,
) -> Result<(), Busy> {
    let io = iowait::WAITERS.try_lock().ok_or(Busy)?;
    let g = TASKS.try_lock().ok_or(Busy)?;
    let Some(t) = g.as_ref() else { return Err(Busy) };
    let c = CONSOLE_CMD.try_lock().ok_or(Busy)?;
    let now = crate::kernel::time::get_jiffies_64();
    let curr = CURRENT_PID.load(core::sync::atomic::Ordering::Relaxed);
    header(w, t.map.get(&curr).map_or("?", |x| x.comm.as_str()), curr);
    let left = |at: u64| (at != u64::MAX).then(|| at.saturating_sub(now));
    for (pid, x) in t.map.iter().filter(|(p, _)| *p != 0) {
        // A task woken from its I/O sleep keeps its entry until it runs: it is `R` then.
        let in_io = x.state == TaskState::Sleeping && io.contains_key(&pid);
        if blocked_only && !in_io {
            continue;
        }
        let wchan = match x.state {
            TaskState::Sleeping if in_io => Wchan::Io,
            TaskState::Sleeping if x.wait.is_some() => Wchan::WaitQueue(left(x.wake_at)),
            TaskState::Sleeping => Wchan::Sleep(left(x.wake_at)),
            _ => Wchan::None,
        };
        let line = TaskLine {
            comm: &x.comm,
            state: if in_io { 'D' } else { x.state.letter() },
            running: pid == curr && x.state == TaskState::Runnable,
            pid,
            ppid: x.ppid,
            flags: x.flags,
            wchan,
        };
        let _ = render_task(w, &line);
    }
    if blocked_only {
        return Ok(());
    }
    // The console (pid 0) is the idle task, which 6.1's count leaves out.
    let running = |p: &u32| *p != 0 && t.map.get(p).is_some_and(|x| x.state == TaskState::Runnable);
    let nr_running = t.rq.iter().filter(|p| running(p)).count() + usize::from(running(&curr));
    let cmd = c.1.map(|n| core::str::from_utf8(&c.0[..n]).unwrap_or("?"));
    let _ = render_cpu(w, nr_running, curr, cmd);
    Ok(())
}
