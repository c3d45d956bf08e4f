//! Process exit and `wait4` (kernel/exit.c): `do_exit` releases the address space and files,
//! hands the children to the console (pivm's init: the child reaper, pid 0, which reaps
//! orphans silently), wakes a vfork parent, becomes a zombie and tells the parent
//! (`exit_signal`, SIGCHLD with `CLD_EXITED`/`CLD_KILLED`, and a wake-up for a parent asleep in
//! `wait4`). `wait4` finds an eligible child (`__WALL`, `__WCLONE`, a pid or any), returns a
//! zombie's status and `rusage` (its own faults and those of its reaped children) and adds
//! them to the caller's `cmin_flt`/`cmaj_flt` as `wait_task_zombie` does; `WNOHANG` returns
//! 0 while children still run; otherwise it sleeps, and a signal interrupts it
//! (`-ERESTARTSYS`).
use super::rules::{self, check_wait_options, wait_eligible};
use super::{with_current, with_tasks, TaskState};
use crate::abi::arm::signal::{si_code, sig, SigFields, Siginfo};
use crate::abi::arm::types::{OldTimeval, Rusage};
use crate::abi::wire::Wire;
use crate::arch::arm::process as arch;
use crate::mm::mm_types::Errno;

/// Nanoseconds per jiffy (task times are kept in ticks).
const NSEC_PER_JIFFY: u64 = 1_000_000_000 / crate::config::HZ;

/// `do_exit`: the address space and files go, the children go to the console, the parent is
/// told; the task stays a zombie until its parent (or the console) reaps it.
pub fn do_exit(status: u32) -> ! {
    let mm = with_current(|t| {
        t.files.clear();
        t.mm.take()
    });
    arch::switch_to_kernel_mm();
    if let Some(mm) = mm {
        mm.exit_mmap();
    }
    super::fork::complete_vfork_done();
    let me = super::current_pid();
    let notify = with_tasks(|t| {
        // forget_original_parent: the console adopts the children.
        for c in t.map.values_mut() {
            if c.ppid == me && c.pid != me {
                c.ppid = 0;
            }
        }
        let task = t.current();
        task.exit_status = status;
        task.state = TaskState::Zombie;
        let (ppid, exit_signal, times) = (task.ppid, task.ext.exit_signal, (task.utime, task.stime));
        // A parent that ignores SIGCHLD (or asked SA_NOCLDWAIT) does not wait: the console
        // reaps the child instead, as release_task does for an autoreaped child.
        let autoreap = t.map.get(&ppid).is_some_and(|p| {
            let a = &p.ext.sig.action[sig::SIGCHLD as usize];
            a.sa_handler == crate::abi::arm::signal::SIG_IGN
                || a.sa_flags & crate::abi::arm::signal::sa::SA_NOCLDWAIT != 0
        });
        if autoreap {
            t.current().ppid = 0;
        }
        // __wake_up_parent: a parent asleep in wait4 looks again.
        if let Some(p) = t.map.get_mut(&ppid).filter(|p| p.pid != 0) {
            if p.state == TaskState::Sleeping {
                p.state = TaskState::Runnable;
                p.wake_at = u64::MAX;
                if !t.rq.contains(&ppid) {
                    t.rq.push_back(ppid);
                }
            }
        }
        (ppid, exit_signal, times)
    });
    let (ppid, exit_signal, (utime, stime)) = notify;
    if ppid != 0 && exit_signal != 0 {
        // do_notify_parent: CLD_EXITED with the exit code, or CLD_KILLED with the signal.
        let (code, st) = if rules::wifexited(status) {
            (si_code::CLD_EXITED, rules::wexitstatus(status))
        } else if rules::wcoredump(status) {
            (si_code::CLD_DUMPED, rules::wtermsig(status))
        } else {
            (si_code::CLD_KILLED, rules::wtermsig(status))
        };
        let info = Siginfo {
            si_signo: exit_signal as i32,
            si_errno: 0,
            si_code: code,
            fields: SigFields::Chld {
                pid: me as i32,
                uid: 0,
                status: st as i32,
                utime: utime as i32,
                stime: stime as i32,
            },
        };
        let _ = super::signal::send_signal_info(ppid, exit_signal, info);
    }
    super::schedule();
    unreachable!("a zombie was scheduled");
}

/// A reaped child's figures for the parent.
struct Reaped {
    pid: u32,
    status: u32,
    min_flt: u64,
    maj_flt: u64,
    utime: u64,
    stime: u64,
}

/// What one look at the children found.
enum Look {
    Reaped(Reaped),
    NoChildren,
    Running,
    Interrupted,
    Slept,
}

fn rusage_of(r: &Reaped) -> Rusage {
    let mut ru = Rusage::get(&[0u8; 72]);
    ru.ru_utime = OldTimeval::from_nanos(r.utime * NSEC_PER_JIFFY);
    ru.ru_stime = OldTimeval::from_nanos(r.stime * NSEC_PER_JIFFY);
    ru.ru_minflt = r.min_flt as i32;
    ru.ru_majflt = r.maj_flt as i32;
    ru
}

/// `wait4(upid, stat_addr, options, ru)`.
pub fn sys_wait4(upid: i32, stat_addr: u32, options: u32, ru: u32) -> Result<u32, Errno> {
    check_wait_options(options)?;
    // WUNTRACED/WCONTINUED ask for stop and continue events too; pivm has none, so they
    // only widen what is waited for.
    loop {
        let look = with_tasks(|t| {
            let me = t.current;
            let mut any = false;
            let mut zombie = None;
            for c in t.map.values() {
                if c.pid == 0 || c.ppid != me || !wait_eligible(upid, c.pid, c.ext.exit_signal, options) {
                    continue;
                }
                any = true;
                if c.state == TaskState::Zombie {
                    zombie = Some(Reaped {
                        pid: c.pid,
                        status: c.exit_status,
                        min_flt: c.counts.min_flt + c.ext.cmin_flt,
                        maj_flt: c.counts.maj_flt + c.ext.cmaj_flt,
                        utime: c.utime + c.ext.cutime,
                        stime: c.stime + c.ext.cstime,
                    });
                    break;
                }
            }
            if let Some(z) = zombie {
                let p = t.current();
                p.ext.cmin_flt += z.min_flt;
                p.ext.cmaj_flt += z.maj_flt;
                p.ext.cutime += z.utime;
                p.ext.cstime += z.stime;
                return Look::Reaped(z);
            }
            if !any {
                return Look::NoChildren;
            }
            if options & rules::WNOHANG != 0 {
                return Look::Running;
            }
            let p = t.current();
            if rules::next_signal(p.pending, p.blocked).is_some() {
                return Look::Interrupted;
            }
            p.state = TaskState::Sleeping;
            p.wake_at = u64::MAX;
            Look::Slept
        });
        match look {
            Look::Reaped(z) => {
                super::reap(z.pid);
                if stat_addr != 0 {
                    super::syscall::put(stat_addr, &z.status)?;
                }
                if ru != 0 {
                    super::syscall::put(ru, &rusage_of(&z))?;
                }
                return Ok(z.pid);
            }
            Look::NoChildren => return Err(Errno::ECHILD),
            Look::Running => return Ok(0),
            Look::Interrupted => return Err(Errno::ERESTARTSYS),
            Look::Slept => super::schedule(),
        }
    }
}

/// `getrusage(RUSAGE_CHILDREN)`: the reaped children's faults and times.
pub fn children_rusage() -> Rusage {
    with_current(|t| {
        rusage_of(&Reaped {
            pid: 0,
            status: 0,
            min_flt: t.ext.cmin_flt,
            maj_flt: t.ext.cmaj_flt,
            utime: t.ext.cutime,
            stime: t.ext.cstime,
        })
    })
}
