//! Signals on pivm's processes, as Linux 6.1's kernel/signal.c and arch/arm/kernel/signal.c
//! handle them: each task's actions (`rt_sigaction`), pending set with one `siginfo` per
//! signal, sending (`kill`, `tgkill`, the console's Ctrl-C and `kill -SIG`, SIGCHLD on a
//! child's exit) with ignored signals thrown away as `prepare_signal` does, faults forced on
//! the task (`force_sig_fault`: a caught SIGSEGV sees `si_code` and `si_addr`), and delivery on
//! the way back to user space (`do_work_pending` -> `do_signal`): default actions, or a
//! `setup_rt_frame`/`setup_frame` through sysabi's encoders with the return through
//! `SA_RESTORER` or the `[sigpage]` trampolines, the restart of interrupted system calls, and
//! `rt_sigreturn`/`sigreturn`.
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use super::mm::UserMem;
use super::rules::{
    self, default_action, handler_mask, next_signal, restart_decision, sig_ignored, sigmask,
    DefaultAction, Restart, UNBLOCKABLE,
};
use super::{with_current, with_tasks, Task, TaskState, NEED_RESCHED};
use crate::abi::arm::signal::{
    self as abi, sa, si_code, sig, AltStack, Delivery, KernelSigaction, SigFields, SigSet, Siginfo,
    ThreadFault, UserRegs, UserVfp, UserVfpExc, VfpSigframe, SIGRETURN_CODES, SIG_DFL, VFP_MAGIC,
    VFP_STORAGE_SIZE,
};
use crate::arch::arm::process::{self as arch, VfpState};
use crate::arch::arm::vectors::PtRegs;
use crate::mm::mm_types::Errno;

/// `_NSIG` + 1: actions and siginfo are indexed by signal number.
const NSIG_SLOTS: usize = sig::NSIG as usize + 1;
/// ARM's `trap_no` for a page fault (`thread.trap_no` 14, as `__do_user_fault` sets it).
const TRAP_PAGE_FAULT: u32 = 14;
/// FPEXC.EN: the VFP unit was on (what the frame's `ufp_exc.fpexc` records).
const FPEXC_EN: u32 = 1 << 30;
/// Bytes of one ARM / Thumb `svc` instruction (the restart steps back over it).
const ARM_INSN: u32 = 4;
const THUMB_INSN: u32 = 2;
/// CPSR.T.
const PSR_T_BIT: u32 = 1 << 5;

/// A task's signal state beyond the pending and blocked masks `Task` holds.
#[derive(Clone, Debug)]
pub struct SigState {
    /// `sighand->action[sig - 1]`, here indexed by the signal itself (on the heap: kernel
    /// stacks are 8 KiB).
    pub action: Vec<KernelSigaction>,
    /// The `siginfo` queued with each pending signal (one per signal, as for non-RT signals).
    pub info: BTreeMap<u32, Siginfo>,
    pub altstack: AltStack,
    /// The `-ERESTART*` code the system call now returning gave, for `do_signal`.
    pub restart: Option<Errno>,
    /// `thread.trap_no`, `error_code` and `address` of the last fault (the frame's sigcontext).
    pub fault: ThreadFault,
}

impl Default for SigState {
    fn default() -> Self {
        SigState {
            action: alloc::vec![KernelSigaction::zeroed(); NSIG_SLOTS],
            info: BTreeMap::new(),
            altstack: AltStack { sp: 0, size: 0, flags: abi::SS_DISABLE },
            restart: None,
            fault: ThreadFault::default(),
        }
    }
}

impl SigState {
    /// `fork`: the child inherits the actions and the alternate stack, nothing pending.
    pub fn for_child(&self) -> SigState {
        SigState {
            action: self.action.clone(),
            altstack: self.altstack,
            ..SigState::default()
        }
    }

    /// `flush_signal_handlers` at exec: handlers go back to SIG_DFL, SIG_IGN stays.
    pub fn flush_handlers(&mut self) {
        for a in self.action.iter_mut() {
            if a.sa_handler != abi::SIG_IGN {
                a.sa_handler = SIG_DFL;
            }
            a.sa_flags = 0;
            a.sa_restorer = 0;
            a.sa_mask = SigSet::EMPTY;
        }
        self.altstack = AltStack { sp: 0, size: 0, flags: abi::SS_DISABLE };
    }
}

/// Where the return trampolines sit in the sigpage (`signal_return_offset`, chosen once at
/// boot as `get_signal_page` does: 0x200 plus a random word offset below 2 KiB).
static SIGNAL_RETURN_OFFSET: AtomicU32 = AtomicU32::new(0);
/// `get_signal_page`'s base offset and random range.
const SIGPAGE_RETURN_BASE: u32 = 0x200;
const SIGPAGE_RETURN_RANDOM_MASK: u32 = 0x7fc;

/// `get_signal_page`: copies `sigreturn_codes` into the sigpage at a random offset.
pub fn init_sigpage() {
    use crate::fs::binfmt_elf::RandomSource;
    let Some(kva) = super::mm::sigpage_kva() else { return };
    let offset =
        SIGPAGE_RETURN_BASE + (super::exec::CounterRandom::new().next_u32() & SIGPAGE_RETURN_RANDOM_MASK);
    for (i, code) in SIGRETURN_CODES.iter().enumerate() {
        // SAFETY: the sigpage is a lowmem page the kernel owns; offset + 24 bytes < 4096.
        unsafe { ((kva + offset as usize) as *mut u32).add(i).write_volatile(*code) };
    }
    arch::sync_icache_dcache(kva as u32);
    SIGNAL_RETURN_OFFSET.store(offset, Ordering::Relaxed);
}

/// `prepare_signal` + `__send_signal`: queues `signo` with `info` for `pid` and wakes it.
/// A signal the task ignores (and does not block) is thrown away at once.
pub fn send_signal_info(pid: u32, signo: u32, info: Siginfo) -> Result<(), Errno> {
    if signo == 0 || signo > sig::NSIG {
        return Err(Errno::EINVAL);
    }
    with_tasks(|t| {
        let task = t.map.get_mut(&pid).filter(|x| x.pid != 0).ok_or(Errno::ESRCH)?;
        if task.state == TaskState::Zombie {
            return Ok(());
        }
        let s = &mut task.ext.sig;
        if task.blocked & sigmask(signo) == 0 && sig_ignored(&s.action[signo as usize], signo) {
            return Ok(());
        }
        if task.pending & sigmask(signo) == 0 {
            s.info.insert(signo, info);
        }
        task.pending |= sigmask(signo);
        if task.state == TaskState::Sleeping && task.blocked & sigmask(signo) & !UNBLOCKABLE == 0 {
            task.state = TaskState::Runnable;
            task.wake_at = u64::MAX;
            if !t.rq.contains(&pid) {
                t.rq.push_back(pid);
            }
        }
        Ok(())
    })
}

/// `force_sig_fault`: a fault's signal for the running task, with `si_code` and `si_addr`;
/// a blocked or ignored one is unblocked and reset to SIG_DFL so that it cannot be ignored.
pub fn force_sig_fault(t: &mut Task, signo: u32, code: i32, addr: u32, fsr: u32) {
    let s = &mut t.ext.sig;
    let act = &mut s.action[signo as usize];
    let blocked = t.blocked & sigmask(signo) != 0;
    if blocked || act.sa_handler == abi::SIG_IGN {
        act.sa_handler = SIG_DFL;
        t.blocked &= !sigmask(signo);
    }
    s.info.insert(signo, Siginfo::fault(signo, code, addr));
    s.fault = ThreadFault { trap_no: TRAP_PAGE_FAULT, error_code: fsr, address: addr };
    t.pending |= sigmask(signo);
}

/// A signal taken off the queue with its action.
struct Taken {
    signo: u32,
    info: Siginfo,
    action: KernelSigaction,
}

/// What `get_signal` decided for the running task.
enum Next {
    Nothing,
    Handler(Taken),
    /// The default action kills: the wait status.
    Die(u32),
}

/// `get_signal`: dequeues signals until one has a handler or kills; ignored ones and those
/// whose default is to do nothing are dropped. Stop signals are ignored too (pivm has no
/// stopped state: a documented difference).
fn get_signal(t: &mut Task) -> Next {
    while let Some(signo) = next_signal(t.pending, t.blocked) {
        t.pending &= !sigmask(signo);
        let s = &mut t.ext.sig;
        let info = s.info.remove(&signo).unwrap_or(Siginfo::kill(signo, 0, 0));
        let action = s.action[signo as usize];
        if action.sa_handler == abi::SIG_IGN && signo != sig::SIGKILL {
            continue;
        }
        if action.sa_handler != SIG_DFL && signo != sig::SIGKILL {
            if action.sa_flags & sa::SA_RESETHAND != 0 {
                s.action[signo as usize].sa_handler = SIG_DFL;
            }
            return Next::Handler(Taken { signo, info, action });
        }
        match default_action(signo) {
            DefaultAction::Ign | DefaultAction::Cont | DefaultAction::Stop => continue,
            // No core is written (RLIMIT_CORE 0), so the status has no core bit.
            DefaultAction::Term | DefaultAction::Core => {
                return Next::Die(rules::status_signaled(signo, false))
            }
        }
    }
    Next::Nothing
}

fn user_regs(regs: &PtRegs) -> UserRegs {
    let mut r = [0u32; 13];
    r.copy_from_slice(&regs.uregs[..13]);
    UserRegs {
        r,
        sp: regs.uregs[PtRegs::SP],
        lr: regs.uregs[PtRegs::LR],
        pc: regs.uregs[PtRegs::PC],
        cpsr: regs.uregs[PtRegs::CPSR],
    }
}

fn set_user_regs(regs: &mut PtRegs, u: &UserRegs) {
    regs.uregs[..13].copy_from_slice(&u.r);
    regs.uregs[PtRegs::SP] = u.sp;
    regs.uregs[PtRegs::LR] = u.lr;
    regs.uregs[PtRegs::PC] = u.pc;
    regs.uregs[PtRegs::CPSR] = u.cpsr;
}

/// `pt_regs` index of `orig_r0`.
const ORIG_R0: usize = 17;

/// Steps back over the `svc` so the call runs again with its first argument restored.
fn restart_syscall(regs: &mut PtRegs) {
    regs.uregs[0] = regs.uregs[ORIG_R0];
    let back = if regs.cpsr() & PSR_T_BIT != 0 { THUMB_INSN } else { ARM_INSN };
    regs.uregs[PtRegs::PC] = regs.pc().wrapping_sub(back);
}

/// The running task's VFP registers as the frame stores them (`vfp_preserve_user_clear_hwstate`).
fn vfp_frame() -> VfpSigframe {
    let mut v = VfpState::default();
    arch::vfp_save(&mut v);
    VfpSigframe {
        magic: VFP_MAGIC,
        size: VFP_STORAGE_SIZE,
        ufp: UserVfp { fpregs: v.d, fpscr: v.fpscr },
        ufp_exc: UserVfpExc { fpexc: FPEXC_EN, fpinst: 0, fpinst2: 0 },
    }
}

/// `handle_signal`: the restart decision, then the frame on the user stack and the registers
/// that enter the handler; the mask the handler runs with. A frame that cannot be written
/// kills the task with SIGSEGV (`force_sigsegv`).
fn handle_signal(regs: &mut PtRegs, k: Taken) {
    let code = with_current(|t| t.ext.sig.restart.take());
    if let Some(code) = code {
        match restart_decision(code, Some(&k.action)) {
            Some(Restart::Again) => restart_syscall(regs),
            Some(Restart::Eintr) => regs.uregs[0] = Errno::EINTR.to_return(),
            None => {}
        }
    }
    let vfp = vfp_frame();
    let offset = SIGNAL_RETURN_OFFSET.load(Ordering::Relaxed);
    let ok = with_current(|t| {
        let Some(mut pm) = t.mm.take() else { return false };
        let saved = t.blocked;
        let mut saved_mask = SigSet::EMPTY;
        saved_mask.sig = [saved as u32, (saved >> 32) as u32];
        let d = Delivery {
            signo: k.signo,
            action: &k.action,
            info: &k.info,
            saved_mask,
            fault: t.ext.sig.fault,
            vfp: &vfp,
            sigpage: pm.mm.sigpage as u32,
            signal_return_offset: offset,
        };
        let u = user_regs(regs);
        let mut counts = t.counts;
        let mut alt = t.ext.sig.altstack;
        let r = {
            let mut um = UserMem { pm: &mut pm, counts: &mut counts };
            if k.action.sa_flags & sa::SA_SIGINFO != 0 {
                abi::setup_rt_frame(&mut um, &u, &mut alt, &d)
            } else {
                abi::setup_frame(&mut um, &u, &alt, &d)
            }
        };
        t.counts = counts;
        t.mm = Some(pm);
        t.ext.sig.altstack = alt;
        match r {
            Ok(delivered) => {
                set_user_regs(regs, &delivered.regs);
                t.blocked = handler_mask(saved, &k.action, k.signo);
                true
            }
            Err(_) => false,
        }
    });
    if !ok {
        super::do_exit(rules::status_signaled(sig::SIGSEGV, false));
    }
}

/// `do_work_pending`, run by `ret_to_user` with interrupts masked: a new child's
/// `set_child_tid` (as `schedule_tail` writes it), rescheduling, then each pending signal;
/// a system call that asked for a restart and ran no handler is restarted.
pub fn do_work_pending(regs: &mut PtRegs) {
    let tid_at = with_current(|t| core::mem::take(&mut t.ext.set_child_tid));
    if tid_at != 0 {
        let pid = super::current_pid();
        let _ = super::syscall::put(tid_at, &pid);
    }
    loop {
        if NEED_RESCHED.load(Ordering::Relaxed) {
            super::schedule();
            continue;
        }
        match with_current(get_signal) {
            Next::Nothing => break,
            Next::Die(status) => super::do_exit(status),
            Next::Handler(k) => handle_signal(regs, k),
        }
    }
    let code = with_current(|t| t.ext.sig.restart.take());
    if let Some(code) = code {
        if restart_decision(code, None) == Some(Restart::Again) {
            restart_syscall(regs);
        }
    }
}

/// `sys_rt_sigreturn` / `sys_sigreturn`: the registers, mask and VFP state from the frame at
/// the user sp; a bad frame is SIGSEGV. The call's "result" is the restored r0.
pub fn sys_sigreturn(regs: &mut PtRegs, rt: bool) {
    let sp = regs.uregs[PtRegs::SP];
    let r = with_current(|t| {
        let mut pm = t.mm.take()?;
        let mut counts = t.counts;
        let r = {
            let mut um = UserMem { pm: &mut pm, counts: &mut counts };
            if rt {
                abi::rt_sigreturn(&mut um, sp)
            } else {
                abi::sigreturn(&mut um, sp)
            }
        };
        t.counts = counts;
        t.mm = Some(pm);
        let restored = r.ok()?;
        t.blocked = (u64::from(restored.blocked.sig[0]) | (u64::from(restored.blocked.sig[1]) << 32))
            & !UNBLOCKABLE;
        if let Some(st) = restored.altstack {
            t.ext.sig.altstack = AltStack { sp: st.ss_sp, size: st.ss_size, flags: st.ss_flags as u32 };
            if st.ss_flags as u32 & abi::SS_DISABLE != 0 {
                t.ext.sig.altstack = AltStack { sp: 0, size: 0, flags: abi::SS_DISABLE };
            }
        }
        t.ext.sig.restart = None;
        Some(restored)
    });
    match r {
        Some(restored) => {
            set_user_regs(regs, &restored.regs);
            let mut v = VfpState::default();
            v.d = restored.vfp.ufp.fpregs;
            v.fpscr = restored.vfp.ufp.fpscr;
            arch::vfp_restore(&v);
        }
        None => {
            with_current(|t| force_sig_fault(t, sig::SIGSEGV, si_code::SI_KERNEL, 0, 0));
        }
    }
}

/// `rt_sigaction(sig, act, oact, sigsetsize)`.
pub fn sys_rt_sigaction(signo: u32, act: u32, oact: u32, sigsetsize: u32) -> Result<u32, Errno> {
    rules::check_sigaction(signo, act != 0, sigsetsize)?;
    let new: Option<KernelSigaction> =
        if act != 0 { Some(super::syscall::get(act)?) } else { None };
    let old = with_current(|t| {
        let old = t.ext.sig.action[signo as usize];
        if let Some(mut a) = new {
            a.sa_mask = a.sa_mask.without_unblockable();
            t.ext.sig.action[signo as usize] = a;
            t.sigactions[signo as usize] = a.sa_handler;
            // POSIX: setting a pending signal to be ignored discards it.
            if sig_ignored(&a, signo) {
                t.pending &= !sigmask(signo);
                t.ext.sig.info.remove(&signo);
            }
        }
        old
    });
    if oact != 0 {
        super::syscall::put(oact, &old)?;
    }
    Ok(0)
}

/// `kill(pid, sig)` from a program: `si_code` SI_USER with the sender's pid. pid 0 and
/// negative pids (process groups) address the caller's group, which on pivm is every
/// program (-1: all but the caller and the console).
pub fn sys_kill(pid: i32, signo: u32) -> Result<u32, Errno> {
    if signo > sig::NSIG {
        return Err(Errno::EINVAL);
    }
    let me = super::current_pid();
    let targets: alloc::vec::Vec<u32> = if pid > 0 {
        alloc::vec![pid as u32]
    } else {
        with_tasks(|t| {
            t.map
                .values()
                .filter(|x| x.pid != 0 && x.state != TaskState::Zombie && (pid != -1 || x.pid != me))
                .map(|x| x.pid)
                .collect()
        })
    };
    let mut found = false;
    for p in targets {
        let exists = with_tasks(|t| {
            t.map.get(&p).is_some_and(|x| x.pid != 0 && x.state != TaskState::Zombie)
        });
        if !exists {
            continue;
        }
        found = true;
        if signo != 0 {
            let mut info = Siginfo::kill(signo, me as i32, 0);
            info.fields = SigFields::Kill { pid: me as i32, uid: 0 };
            send_signal_info(p, signo, info)?;
        }
    }
    if found {
        Ok(0)
    } else {
        Err(Errno::ESRCH)
    }
}

/// `tgkill(tgid, tid, sig)` / `tkill(tid, sig)`: one thread; on pivm tid = tgid = pid.
pub fn sys_tgkill(tgid: Option<i32>, tid: i32, signo: u32) -> Result<u32, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    if tgid.is_some_and(|g| g != tid) {
        return Err(Errno::ESRCH);
    }
    let me = super::current_pid();
    let exists = with_tasks(|t| {
        t.map.get(&(tid as u32)).is_some_and(|x| x.pid != 0 && x.state != TaskState::Zombie)
    });
    if !exists {
        return Err(Errno::ESRCH);
    }
    if signo == 0 {
        return Ok(0);
    }
    let info = Siginfo {
        si_signo: signo as i32,
        si_errno: 0,
        si_code: si_code::SI_TKILL,
        fields: SigFields::Kill { pid: me as i32, uid: 0 },
    };
    send_signal_info(tid as u32, signo, info).map(|_| 0)
}
