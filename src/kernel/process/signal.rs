//! Signal delivery and return on either kernel (`handle_signal`, `sys_rt_sigreturn`): the
//! shared path takes the task's user registers and FP/SIMD state through the architecture's
//! accessors (`PtRegs::user_regs`, `VfpState::to_sigframe`), builds the frame with the native
//! ABI's `setup_rt_frame` (ARM's `setup_frame` too, for a handler without `SA_SIGINFO`), and
//! reads it back with its `rt_sigreturn`. What differs is only where the handler returns to:
//! ARM's `[sigpage]` trampolines, arm64's `sa_restorer` or the vDSO's `__kernel_rt_sigreturn`.
use super::{do_exit, rules, syscall, with_current, SIGSEGV};
use crate::abi::native::signal::{
    self as abisig, sa, KernelSigaction, SigSet, Siginfo, ThreadFault,
};
use crate::arch::process::{self as arch, PtRegs, VfpState};

/// `signal_return_offset`: where the return trampolines sit in the sigpage (6.1 adds a
/// random multiple of 4 below 0x800 at boot; pivm uses the base).
pub const SIGNAL_RETURN_OFFSET: u32 = 0x200;

/// What the frame code needs of the task besides user memory.
struct Frame<'a> {
    sig: u32,
    act: &'a KernelSigaction,
    info: &'a Siginfo,
    saved_mask: SigSet,
    fault: ThreadFault,
    fp: &'a abisig::SigFpState,
}

/// ARM: `setup_rt_frame` with `SA_SIGINFO`, else `setup_frame`; the handler returns through
/// the `[sigpage]` trampoline (or `sa_restorer`).
#[cfg(not(target_arch = "aarch64"))]
fn setup_frame(
    um: &mut super::mm::UserMem<'_>,
    regs: &abisig::UserRegs,
    alt: &mut abisig::AltStack,
    f: &Frame<'_>,
) -> Result<abisig::Delivered, abisig::BadFrame> {
    let d = abisig::Delivery {
        signo: f.sig,
        action: f.act,
        info: f.info,
        saved_mask: f.saved_mask,
        fault: f.fault,
        vfp: f.fp,
        sigpage: um.pm.mm.sigpage as u32,
        signal_return_offset: SIGNAL_RETURN_OFFSET,
    };
    if f.act.sa_flags & sa::SA_SIGINFO != 0 {
        abisig::setup_rt_frame(um, regs, alt, &d)
    } else {
        abisig::setup_frame(um, regs, alt, &d)
    }
}

/// arm64: `setup_rt_frame` for every handler; the return address is `sa_restorer` with
/// `SA_RESTORER`, else the vDSO's `__kernel_rt_sigreturn`. With neither, no frame is built
/// and the task gets SIGSEGV (`signal_setup_done`), never a frame returning to a wrong
/// address.
#[cfg(target_arch = "aarch64")]
fn setup_frame(
    um: &mut super::mm::UserMem<'_>,
    regs: &abisig::UserRegs,
    alt: &mut abisig::AltStack,
    f: &Frame<'_>,
) -> Result<abisig::Delivered, abisig::BadFrame> {
    let sigtramp = match crate::kernel::vsyscall::vdso_sigreturn_addr(&um.pm.mm) {
        Some(at) => at as u64,
        None if f.act.sa_flags & sa::SA_RESTORER != 0 => 0,
        None => return Err(abisig::BadFrame::Fault),
    };
    let d = abisig::Delivery {
        signo: f.sig,
        action: f.act,
        info: f.info,
        saved_mask: f.saved_mask,
        fault: f.fault,
        fpsimd: f.fp,
        sigtramp,
    };
    abisig::setup_rt_frame(um, regs, alt, &d)
}

/// `handle_signal`: the frame on the user stack (or the alternate stack), the handler's
/// registers, the new blocked mask. A frame that cannot be written kills with SIGSEGV
/// (`signal_setup_done` -> `force_sigsegv`).
pub(super) fn handle_signal(
    regs: &mut PtRegs,
    sig: u32,
    act: KernelSigaction,
    info: Siginfo,
    tf: ThreadFault,
) {
    // An interrupted system call: EINTR, or run again after the handler (SA_RESTART). An
    // interrupted sleep is not resumed after a handler (EINTR).
    with_current(|t| t.ext.restart_wake = None);
    if let Some(code) = with_current(|t| t.ext.restart.take()) {
        match rules::restart_decision(code, Some(&act)) {
            Some(rules::Restart::Again) => regs.restart_syscall(),
            Some(rules::Restart::Eintr) => {
                regs.set_return_value(crate::mm::mm_types::Errno::EINTR.to_register());
            }
            None => {}
        }
    }
    let uregs = regs.user_regs();
    let mut live = VfpState::default();
    arch::vfp_save(&mut live);
    let fp = live.to_sigframe();
    let r = syscall::with_user(|um, t| {
        let f = Frame {
            sig,
            act: &act,
            info: &info,
            saved_mask: SigSet::from_bits(t.blocked),
            fault: tf,
            fp: &fp,
        };
        Ok(setup_frame(um, &uregs, &mut t.altstack, &f).ok())
    });
    match r {
        Ok(Some(done)) => {
            regs.set_user_regs(&done.regs);
            with_current(|t| {
                t.blocked = rules::handler_mask(t.blocked, &act, sig);
                if act.sa_flags & sa::SA_RESETHAND != 0 {
                    t.sigactions[sig as usize] = KernelSigaction::zeroed();
                }
            });
        }
        _ => do_exit(SIGSEGV),
    }
}

/// `sys_rt_sigreturn` (and ARM's `sys_sigreturn`): the registers, mask and FP/SIMD state the
/// frame at sp saved; a bad frame kills with SIGSEGV.
pub fn sigreturn(regs: &mut PtRegs, rt: bool) {
    let sp = regs.user_stack_pointer() as abisig::Ulong;
    let r = syscall::with_user(|um, _| {
        Ok(if rt { abisig::rt_sigreturn(um, sp) } else { plain_sigreturn(um, sp) }.ok())
    });
    let Ok(Some(rest)) = r else { do_exit(SIGSEGV) };
    regs.set_user_regs(&rest.regs);
    arch::vfp_restore(&VfpState::from_sigframe(rest.fp()));
    with_current(|t| t.blocked = rest.blocked.bits());
}

/// ARM's non-RT `sigreturn`.
#[cfg(not(target_arch = "aarch64"))]
fn plain_sigreturn(
    um: &mut super::mm::UserMem<'_>,
    sp: abisig::Ulong,
) -> Result<abisig::Restored, abisig::BadFrame> {
    abisig::sigreturn(um, sp)
}

/// arm64 has no non-RT `sigreturn` (its table has no such call).
#[cfg(target_arch = "aarch64")]
fn plain_sigreturn(
    _um: &mut super::mm::UserMem<'_>,
    _sp: abisig::Ulong,
) -> Result<abisig::Restored, abisig::BadFrame> {
    Err(abisig::BadFrame::Fault)
}
