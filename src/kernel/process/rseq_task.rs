//! Restartable sequences' kernel half (`kernel/rseq.c`): `sys_rseq`, `rseq_signal_deliver`
//! and `rseq_handle_notify_resume` apply [`super::rseq`]'s rules to the current task, on
//! either architecture (the area's address is the ABI's `unsigned long`).
use super::rseq::{check_cs, in_cs, request, Request, Rseq, RseqCs, RSEQ_EVENT_SIGNAL};
use crate::abi::uaccess::{self, UserMemory};
use crate::arch::process::PtRegs;
use crate::kernel::process::iowait::run_sleeping;
use crate::kernel::process::syscall::with_user;
use crate::kernel::process::with_current;
use crate::mm::mm_types::Errno;

/// `RSEQ_CPU_ID_UNINITIALIZED`, stored in `cpu_id` when a registration ends.
const RSEQ_CPU_ID_UNINITIALIZED: u32 = u32::MAX;
/// Field offsets in `struct rseq`.
const OFF_CPU_ID_START: usize = 0;
const OFF_CPU_ID: usize = 4;
const OFF_RSEQ_CS: usize = 8;
const OFF_FLAGS: usize = 16;
/// The CPU a task runs on: pivm runs processes on CPU 0 only.
const CPU_ID: u32 = 0;

/// A user read of `rseq`'s (`get_user`). Made inside [`run_sleeping`] (the update on the way
/// back to user space, `sys_rseq`'s unregistration: no lock held), a fault on a swapped or
/// card page stops it and the task sleeps for the card, one that finds no free page stops it
/// and the task reclaims (then the OOM killer), both with the task table free, and the
/// whole step runs again, as Linux's `get_user` there may sleep and reclaim. Before, the
/// copy's fault under the task table waited for a swap-in with the CPU idle (`iowait`'s idle
/// count), and a copy with no free page failed first and was fixed up after.
fn get<T: crate::abi::wire::Wire>(addr: usize) -> Result<T, Errno> {
    with_user(|um, _| uaccess::get_user(um, addr))
}

/// A user write of `rseq`'s (`put_user`), as [`get`].
fn put<T: crate::abi::wire::Wire>(addr: usize, v: T) -> Result<(), Errno> {
    with_user(|um, _| uaccess::put_user(um, addr, &v))
}

/// `sys_rseq(rseq, rseq_len, flags, sig)`.
pub fn sys_rseq(area: usize, len: u32, flags: u32, sig: u32) -> Result<usize, Errno> {
    let cur = with_current(|t| t.ext.rseq);
    match request(cur.as_ref(), area, len, flags, sig)? {
        Request::Register(r) => {
            // access_ok
            if !with_user(|um, _| Ok(um.access_ok(area, len as usize)))? {
                return Err(Errno::EFAULT);
            }
            with_current(|t| t.ext.rseq = Some(r));
        }
        Request::Unregister => {
            // rseq_reset_rseq_cpu_id
            run_sleeping(|| {
                put(area + OFF_CPU_ID_START, 0u32)?;
                put(area + OFF_CPU_ID, RSEQ_CPU_ID_UNINITIALIZED)
            })?;
            with_current(|t| t.ext.rseq = None);
        }
    }
    Ok(0)
}

/// `rseq_signal_deliver`: a handler is about to run; the update happens now, before the
/// signal frame saves the pc. `Err` means the area is unusable (the caller forces SIGSEGV).
pub fn signal_deliver(regs: &mut PtRegs) -> Result<(), Errno> {
    let registered =
        with_current(|t| t.ext.rseq.as_mut().map(|r| r.event_mask |= RSEQ_EVENT_SIGNAL).is_some());
    if registered {
        handle_notify_resume(regs)?;
    }
    Ok(())
}

/// `rseq_handle_notify_resume` on the way back to user space, when an update is due.
pub fn notify_resume(regs: &mut PtRegs) -> Result<(), Errno> {
    let due = with_current(|t| t.ext.rseq.as_mut().is_some_and(|r| core::mem::take(&mut r.notify)));
    if due {
        handle_notify_resume(regs)?;
    }
    Ok(())
}

/// `__rseq_handle_notify_resume`, with no lock held: [`update`] under one deferral, run again
/// from its start after each stop to sleep or reclaim (each of its steps leaves what the
/// next run takes up: see [`ip_fixup`]).
fn handle_notify_resume(regs: &mut PtRegs) -> Result<(), Errno> {
    run_sleeping(|| update(regs))
}

/// `rseq_ip_fixup`, then `rseq_update_cpu_id`.
fn update(regs: &mut PtRegs) -> Result<(), Errno> {
    let Some(r) = with_current(|t| t.ext.rseq) else { return Ok(()) };
    ip_fixup(regs, &r)?;
    put(r.area + OFF_CPU_ID_START, CPU_ID)?;
    put(r.area + OFF_CPU_ID, CPU_ID)
}

/// `rseq_ip_fixup`: outside a critical section the descriptor pointer is cleared; inside one
/// that an event interrupted, the pc goes to its abort handler.
fn ip_fixup(regs: &mut PtRegs, r: &Rseq) -> Result<(), Errno> {
    let ptr: u64 = get(r.area + OFF_RSEQ_CS)?;
    // TASK_SIZE: the process's (arm64's depends on VA_BITS).
    let task_size = with_current(|t| t.mm.as_ref().map_or(0, |m| m.mm.task_size)) as u64;
    let cs = if ptr == 0 {
        RseqCs::default()
    } else {
        if ptr >= task_size {
            return Err(Errno::EINVAL);
        }
        let p = ptr as usize;
        let cs = RseqCs {
            version: get(p)?,
            flags: get(p + 4)?,
            start_ip: get(p + 8)?,
            post_commit_offset: get(p + 16)?,
            abort_ip: get(p + 24)?,
        };
        check_cs(&cs, task_size)?;
        let sig: u32 = get(cs.abort_ip as usize - 4)?;
        if sig != r.sig {
            return Err(Errno::EINVAL);
        }
        cs
    };
    let clear = || put(r.area + OFF_RSEQ_CS, 0u64);
    if !in_cs(regs.instruction_pointer() as u64, &cs) {
        return clear();
    }
    // rseq_need_restart: flags (deprecated or unknown) are refused; an event restarts.
    let flags: u32 = get(r.area + OFF_FLAGS)?;
    if cs.flags != 0 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let events = with_current(|t| t.ext.rseq.map_or(0, |r| r.event_mask));
    if events == 0 {
        return Ok(());
    }
    // The descriptor is cleared before the events are consumed and the pc moved: a run that
    // stopped at the clear finds them again when it runs again, and one run after the pc
    // moved finds no descriptor.
    clear()?;
    with_current(|t| {
        if let Some(r) = t.ext.rseq.as_mut() {
            r.event_mask = 0;
        }
    });
    regs.instruction_pointer_set(cs.abort_ip as usize);
    Ok(())
}
