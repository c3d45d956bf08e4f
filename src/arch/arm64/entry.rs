//! The way into the kernel from EL0 and back (arm64 6.1's `entry.S` `kernel_entry 0` /
//! `kernel_exit 0`, `entry-common.c` `el0t_64_sync_handler`, `ret_to_user`,
//! `ret_from_fork`): the full `pt_regs` on the task's kernel stack (SP_EL1, which is the top
//! of that stack whenever the task runs at EL0), `el0_svc` to the registered system-call
//! handler with the number in x8, arguments in x0-x5 and the result in x0, aborts and
//! undefined instructions to the registered user-exception handler, IRQs to the root
//! controller, and on the way out the work-pending hook with interrupts masked.
//!
//! The user FP/SIMD registers (q0-q31, FPSR, FPCR) are saved at every EL0 entry into one
//! per-CPU area and restored from it at the return, because the kernel's Rust code uses
//! them (Linux's kernel does not, so it switches them lazily instead). `vfp_save` and
//! `vfp_restore` copy that area to and from a task's [`VfpState`] at a task switch, a
//! signal frame or a fork, as ARMv7's do with the live VFP registers.
//!
//! `kernel/process` registers the handlers (README, "Processes run on arm64").
use core::arch::global_asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use aarch64_cpu::registers::{ReadWriteable, Readable, CPACR_EL1, ESR_EL1, FAR_EL1};
use spin::Once;

use super::ptrace::{
    classify_el0_sync, El0Sync, PtRegs, UserException, VfpState, FPSIMD_FPSR, PT_REGS_SIZE, S_LR,
    S_ORIG_X0, S_PC, S_SP, S_STACKFRAME, S_SYSCALLNO,
};
use super::traps;

/// The vector kinds (traps.rs's slot numbers) of exceptions from EL0: AArch64 synchronous
/// and IRQ; FIQ, SError and AArch32 EL0 (kinds 10-15) are unexpected.
const EL0_SYNC: u64 = 8;
const EL0_IRQ: u64 = 9;

/// The running task's user FP/SIMD registers while the kernel runs on its behalf.
#[repr(C, align(16))]
struct UserFpsimd(UnsafeCell<VfpState>);

// SAFETY: one CPU runs processes; the entry code, `vfp_save` and `vfp_restore` touch it only
// with interrupts masked, on that CPU.
unsafe impl Sync for UserFpsimd {}

static USER_FPSIMD: UserFpsimd =
    UserFpsimd(UnsafeCell::new(VfpState { vregs: [0; 32], fpsr: 0, fpcr: 0, reserved: [0; 2] }));

/// Linux's `kernel_entry el`: saves x2-x29, x30, the interrupted sp (SP_EL0 from EL0, the
/// frame's top from EL1), ELR and SPSR into the `pt_regs` frame at sp, and marks it as no
/// system call; then the frame record in `pt_regs` that the call trace follows through the
/// exception, with x29 pointing at it: empty from EL0 (the chain's end), the interrupted x29
/// and pc from EL1 (6.1's `stp x29, x22, [sp, #S_STACKFRAME]`). x0/x1 are in the frame
/// already (the vector slot stored them to free x1 for the vector's kind). Operands: `frame`, `s_lr`, `s_pc`,
/// `s_orig_x0`, `s_syscallno`, `s_stackframe`.
macro_rules! kernel_entry {
    (0) => {
        concat!(
            kernel_entry!(@gprs),
            "    mrs     x21, sp_el0\n",
            kernel_entry!(@tail),
            "    stp     xzr, xzr, [sp, #{s_stackframe}]\n",
            "    add     x29, sp, #{s_stackframe}\n"
        )
    };
    (1) => {
        concat!(
            kernel_entry!(@gprs),
            "    add     x21, sp, #{frame}\n",
            kernel_entry!(@tail),
            "    stp     x29, x22, [sp, #{s_stackframe}]\n",
            "    add     x29, sp, #{s_stackframe}\n"
        )
    };
    (@gprs) => {
        "    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
"
    };
    (@tail) => {
        "    stp     x30, x21, [sp, #{s_lr}]
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x22, x23, [sp, #{s_pc}]
    str     x0, [sp, #{s_orig_x0}]
    mov     w24, #-1                        // NO_SYSCALL until el0_svc says otherwise
    str     w24, [sp, #{s_syscallno}]
"
    };
}
pub(super) use kernel_entry;

/// Linux's `kernel_exit el`: from the `pt_regs` frame at sp, SP_EL0 (to EL0 only), ELR, SPSR,
/// x0-x30; then the frame is popped and `eret` returns. Operands: `frame`, `s_lr`, `s_pc`,
/// and `s_sp` for EL0.
macro_rules! kernel_exit {
    (0) => {
        concat!(
            "    ldr     x21, [sp, #{s_sp}]\n    msr     sp_el0, x21\n",
            kernel_exit!(@regs)
        )
    };
    (1) => {
        kernel_exit!(@regs)
    };
    (@regs) => {
        "    ldp     x22, x23, [sp, #{s_pc}]
    msr     elr_el1, x22
    msr     spsr_el1, x23
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldr     x30, [sp, #{s_lr}]
    add     sp, sp, #{frame}
    eret
"
    };
}
pub(super) use kernel_exit;

global_asm!(
    r#"
    .text
    .balign 4
    // From the EL0 vector slots: x0/x1 are saved at [sp], x1 holds the kind. sp is SP_EL1,
    // the top of the task's kernel stack less the frame.
    .global __arm64_el0_vector
__arm64_el0_vector:
"#,
    kernel_entry!(0),
    r#"
    adrp    x2, {fpsimd}
    add     x2, x2, :lo12:{fpsimd}
    stp     q0, q1, [x2, #32 * 0]
    stp     q2, q3, [x2, #32 * 1]
    stp     q4, q5, [x2, #32 * 2]
    stp     q6, q7, [x2, #32 * 3]
    stp     q8, q9, [x2, #32 * 4]
    stp     q10, q11, [x2, #32 * 5]
    stp     q12, q13, [x2, #32 * 6]
    stp     q14, q15, [x2, #32 * 7]
    stp     q16, q17, [x2, #32 * 8]
    stp     q18, q19, [x2, #32 * 9]
    stp     q20, q21, [x2, #32 * 10]
    stp     q22, q23, [x2, #32 * 11]
    stp     q24, q25, [x2, #32 * 12]
    stp     q26, q27, [x2, #32 * 13]
    stp     q28, q29, [x2, #32 * 14]
    stp     q30, q31, [x2, #32 * 15]
    mrs     x3, fpsr
    mrs     x4, fpcr
    str     w3, [x2, #{fpsr}]
    str     w4, [x2, #{fpsr} + 4]
    mov     x0, sp
    bl      __arm64_el0_exception

    // ret_to_user: sp is the user frame. The work-pending hook and the frame's check run
    // with interrupts masked; then kernel_exit 0.
    .global __arm64_ret_to_user
__arm64_ret_to_user:
    mov     x0, sp
    bl      __arm64_exit_to_user_mode
    adrp    x2, {fpsimd}
    add     x2, x2, :lo12:{fpsimd}
    ldp     q0, q1, [x2, #32 * 0]
    ldp     q2, q3, [x2, #32 * 1]
    ldp     q4, q5, [x2, #32 * 2]
    ldp     q6, q7, [x2, #32 * 3]
    ldp     q8, q9, [x2, #32 * 4]
    ldp     q10, q11, [x2, #32 * 5]
    ldp     q12, q13, [x2, #32 * 6]
    ldp     q14, q15, [x2, #32 * 7]
    ldp     q16, q17, [x2, #32 * 8]
    ldp     q18, q19, [x2, #32 * 9]
    ldp     q20, q21, [x2, #32 * 10]
    ldp     q22, q23, [x2, #32 * 11]
    ldp     q24, q25, [x2, #32 * 12]
    ldp     q26, q27, [x2, #32 * 13]
    ldp     q28, q29, [x2, #32 * 14]
    ldp     q30, q31, [x2, #32 * 15]
    ldr     w3, [x2, #{fpsr}]
    ldr     w4, [x2, #{fpsr} + 4]
    msr     fpsr, x3
    msr     fpcr, x4
"#,
    kernel_exit!(0),
    r#"
    // A new task's first run (cpu_switch_to resumes here): a kernel thread's context holds
    // its function in x19 and argument in x20 (copy_thread) and never returns; a user task
    // has x19 = 0 and sp at its pt_regs, and leaves through ret_to_user.
    .global __arm64_ret_from_fork
__arm64_ret_from_fork:
    cbz     x19, 1f
    mov     x0, x20
    blr     x19
1:  b       __arm64_ret_to_user
"#,
    s_lr = const S_LR,
    s_sp = const S_SP,
    s_pc = const S_PC,
    s_orig_x0 = const S_ORIG_X0,
    s_syscallno = const S_SYSCALLNO,
    s_stackframe = const S_STACKFRAME,
    frame = const PT_REGS_SIZE,
    fpsr = const FPSIMD_FPSR,
    fpsimd = sym USER_FPSIMD,
);

extern "C" {
    fn __arm64_ret_from_fork();
}

/// Handles a user-mode exception on the task's behalf (signals it, or resolves the fault)
/// and returns to let `ret_to_user` resume it with `regs`.
pub type UserExceptionHandler = fn(UserException, &mut PtRegs);
/// Runs a system call: number in x8 (`regs.syscallno`), arguments in x0-x5, result to x0.
pub type SyscallHandler = extern "C" fn(&mut PtRegs);
/// What `ret_to_user` runs before leaving the kernel (rescheduling, signals), interrupts
/// masked.
pub type WorkHandler = fn(&mut PtRegs);

static USER_EXCEPTION: Once<UserExceptionHandler> = Once::new();
static SYSCALL: AtomicPtr<()> = AtomicPtr::new(sys_ni_syscall as *mut ());
static WORK: Once<WorkHandler> = Once::new();

/// Linux's `ENOSYS`.
const ENOSYS: i64 = 38;

/// `sys_ni_syscall`: every call, until the process code registers its handler.
extern "C" fn sys_ni_syscall(regs: &mut PtRegs) {
    regs.regs[0] = (-ENOSYS) as u64;
}

/// Registers what user-mode aborts and undefined instructions go to (once).
pub fn set_user_exception_handler(f: UserExceptionHandler) {
    USER_EXCEPTION.call_once(|| f);
}

/// Registers the system-call handler (at boot). Until then every call returns `-ENOSYS`.
pub fn set_syscall_handler(f: SyscallHandler) {
    SYSCALL.store(f as *mut (), Ordering::Release);
}

/// Registers the `do_work_pending` handler (once).
pub fn set_work_handler(f: WorkHandler) {
    WORK.call_once(|| f);
}

/// `ret_to_user` calls the work handler only while this is nonzero (Linux's test of the
/// thread flags against `_TIF_WORK_MASK`), as on ARMv7.
static USER_WORK_HINT: AtomicU32 = AtomicU32::new(1);

/// There may be work for `do_work_pending` before the next return to user space.
#[inline(always)]
pub fn set_user_work_hint() {
    USER_WORK_HINT.store(1, Ordering::Relaxed);
}

/// `do_work_pending` found no work; interrupts masked (nothing can set the hint meanwhile).
pub fn clear_user_work_hint() {
    USER_WORK_HINT.store(0, Ordering::Relaxed);
}

/// `el0t_64_sync_handler` and `el0t_64_irq_handler`, from `__arm64_el0_vector`.
#[no_mangle]
extern "C" fn __arm64_el0_exception(regs: &mut PtRegs, kind: u64) {
    match kind {
        EL0_SYNC => {
            let (esr, far) = (ESR_EL1.get(), FAR_EL1.get());
            match classify_el0_sync(esr, far, regs) {
                El0Sync::Svc => el0_svc(regs),
                El0Sync::Exception(UserException::Undefined { .. }) if emulate_mrs(regs) => {}
                El0Sync::Exception(e) => match USER_EXCEPTION.get() {
                    Some(handle) => handle(e, regs),
                    // No process code to signal: the kernel's report of an unexpected
                    // exception (an oops, then the console's restart).
                    None => traps::unexpected_exception(regs, kind),
                },
            }
        }
        EL0_IRQ if super::irq::generic_handle_arch_irq(regs) => {}
        _ => traps::unexpected_exception(regs, kind),
    }
}

/// `do_el0_undef`'s `mrs_hook`: an EL0 read of an ID register (glibc reads MIDR_EL1 at
/// start-up) answered as `emulate_mrs` does, then the instruction skipped. False when the
/// instruction is not one it emulates, or cannot be read: the task gets SIGILL.
fn emulate_mrs(regs: &mut PtRegs) -> bool {
    let mut insn = [0u8; 4];
    if super::uaccess::copy_from_user(&mut insn, regs.pc as usize) != 0 {
        return false;
    }
    let Some(r) = super::cpufeature::emulate_mrs(u32::from_le_bytes(insn), read_id_reg) else {
        return false;
    };
    if r.rt != 31 {
        regs.regs[r.rt] = r.value;
    }
    regs.pc += 4;
    true
}

/// The boot CPU's ID register `id` (a `sys_reg` encoding `emulate_mrs` asks for: MIDR_EL1
/// or a feature register it tracks); 0 for any other.
fn read_id_reg(id: u32) -> u64 {
    use super::cpufeature as f;
    macro_rules! mrs {
        ($name:literal) => {{
            let v: u64;
            // SAFETY: reading an ID register at EL1 has no side effect.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
            v
        }};
    }
    match id {
        x if x == f::sys_reg(3, 0, 0, 0, 0) => mrs!("midr_el1"),
        f::SYS_ID_AA64PFR0_EL1 => mrs!("s3_0_c0_c4_0"),
        f::SYS_ID_AA64PFR1_EL1 => mrs!("s3_0_c0_c4_1"),
        f::SYS_ID_AA64ZFR0_EL1 => mrs!("s3_0_c0_c4_4"),
        f::SYS_ID_AA64SMFR0_EL1 => mrs!("s3_0_c0_c4_5"),
        f::SYS_ID_AA64DFR0_EL1 => mrs!("s3_0_c0_c5_0"),
        f::SYS_ID_AA64DFR1_EL1 => mrs!("s3_0_c0_c5_1"),
        f::SYS_ID_AA64ISAR0_EL1 => mrs!("s3_0_c0_c6_0"),
        f::SYS_ID_AA64ISAR1_EL1 => mrs!("s3_0_c0_c6_1"),
        f::SYS_ID_AA64ISAR2_EL1 => mrs!("s3_0_c0_c6_2"),
        f::SYS_ID_AA64MMFR0_EL1 => mrs!("s3_0_c0_c7_0"),
        f::SYS_ID_AA64MMFR1_EL1 => mrs!("s3_0_c0_c7_1"),
        f::SYS_ID_AA64MMFR2_EL1 => mrs!("s3_0_c0_c7_2"),
        _ => 0,
    }
}

/// `el0_svc`: 6.1's `el0_svc_common` keeps x0 for a restart and the number from w8, then
/// `invoke_syscall` (the handler looks the number up in arm64's table).
fn el0_svc(regs: &mut PtRegs) {
    regs.orig_x0 = regs.regs[0];
    regs.syscallno = regs.regs[8] as u32 as i32;
    let f = SYSCALL.load(Ordering::Acquire);
    // SAFETY: SYSCALL only ever holds a `SyscallHandler` (sys_ni_syscall or a registered one).
    let f: SyscallHandler = unsafe { core::mem::transmute::<*mut (), SyscallHandler>(f) };
    f(regs);
}

/// `exit_to_user_mode`: with interrupts masked, the work-pending hook when the hint says
/// there may be work, then the check that the frame returns to EL0t with nothing masked
/// (anything else is a kernel bug: an oops, as ARMv7's `bad_user_return`).
#[no_mangle]
extern "C" fn __arm64_exit_to_user_mode(regs: &mut PtRegs) {
    crate::arch::irqflags::local_irq_disable();
    if USER_WORK_HINT.load(Ordering::Relaxed) != 0 {
        if let Some(f) = WORK.get() {
            f(regs);
            crate::arch::irqflags::local_irq_disable();
        }
    }
    if !regs.valid_user_return() {
        traps::bad_user_return(regs);
    }
}

/// The address a new task's context resumes at.
pub fn ret_from_fork_addr() -> u64 {
    __arm64_ret_from_fork as *const () as u64
}

/// `copy_thread` for a kernel thread: its first switch runs `entry(arg)` on its own kernel
/// stack from `sp` (through `ret_from_fork`, which sees x19 set).
pub fn kernel_thread_context(
    ctx: &mut super::process::CpuContext,
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    sp: usize,
) {
    *ctx = super::process::CpuContext::default();
    ctx.x19_x28[0] = entry as usize as u64;
    ctx.x19_x28[1] = arg as u64;
    ctx.sp = sp as u64;
    ctx.pc = ret_from_fork_addr();
}

/// `fpsimd_init`: EL0 (and EL1) may use FP/SIMD without trapping (CPACR_EL1.FPEN; boot set
/// it for the kernel already, this makes it explicit for user space).
pub fn vfp_enable() {
    CPACR_EL1.modify(CPACR_EL1::FPEN::TrapNothing);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Copies the running task's user FP/SIMD registers (as the EL0 entry saved them) to `s`.
pub fn vfp_save(s: &mut VfpState) {
    // SAFETY: interrupts are masked (task switch, signal delivery, fork), so the entry code
    // does not write the area meanwhile.
    *s = unsafe { *USER_FPSIMD.0.get() };
}

/// Makes `s` the user FP/SIMD registers the next return to EL0 restores.
pub fn vfp_restore(s: &VfpState) {
    // SAFETY: as in `vfp_save`.
    unsafe { *USER_FPSIMD.0.get() = *s };
}
