//! What processes need from the AArch64 CPU (arm64 Linux's `cpu_switch_to`, `start_thread`,
//! `cpu_do_switch_mm`, `cpu_set_reserved_ttbr0`, the TLS register): the saved context of a
//! task that gave up the CPU, the switch between two, a user task's first register frame,
//! and the switch of TTBR0 between address spaces with their ASIDs.
//! Each task has its own `THREAD_SIZE` kernel stack vmalloc'ed at `THREAD_ALIGN`
//! (`CONFIG_VMAP_STACK`); `switch_to` tells the exception entry's overflow report which one
//! now runs (`set_task_stack`). `entry.rs` is the way in and out of EL0.
use core::arch::global_asm;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{Readable, Writeable, ID_AA64MMFR0_EL1, TPIDR_EL0, TTBR0_EL1};

use super::asid::{asid_bits_of, ttbr0};
use super::ptrace::{PtRegs, UserException, PSR_MODE_EL0T};
use crate::mm::memory::UserTrap;

/// `struct cpu_context`: the callee-saved registers x19-x28, fp (x29), sp and the resume
/// address (lr), plus, since the Rust kernel may keep values in them across a call, the
/// callee-saved d8-d15 (Linux's kernel does not use FP/SIMD, so it has no such slot).
/// TPIDR_EL0 is the task's `tls`, switched by the shared scheduler through [`get_tls`] and
/// [`set_tls`] (Linux's `tls_thread_switch`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    pub x19_x28: [u64; 10],
    pub fp: u64,
    pub sp: u64,
    pub pc: u64,
    pub d8_d15: [u64; 8],
}

const _: () = assert!(core::mem::size_of::<CpuContext>() == 21 * 8);

global_asm!(
    r#"
    .text
    .balign 4
    .global __pivm_cpu_switch_to
    // x0: the context to save (prev), x1: the one to resume (next).
__pivm_cpu_switch_to:
    mov     x9, sp
    stp     x19, x20, [x0, #16 * 0]
    stp     x21, x22, [x0, #16 * 1]
    stp     x23, x24, [x0, #16 * 2]
    stp     x25, x26, [x0, #16 * 3]
    stp     x27, x28, [x0, #16 * 4]
    stp     x29, x9, [x0, #16 * 5]
    str     x30, [x0, #16 * 6]
    stp     d8, d9, [x0, #16 * 6 + 8]
    stp     d10, d11, [x0, #16 * 7 + 8]
    stp     d12, d13, [x0, #16 * 8 + 8]
    stp     d14, d15, [x0, #16 * 9 + 8]
    ldp     x19, x20, [x1, #16 * 0]
    ldp     x21, x22, [x1, #16 * 1]
    ldp     x23, x24, [x1, #16 * 2]
    ldp     x25, x26, [x1, #16 * 3]
    ldp     x27, x28, [x1, #16 * 4]
    ldp     x29, x9, [x1, #16 * 5]
    ldr     x30, [x1, #16 * 6]
    ldp     d8, d9, [x1, #16 * 6 + 8]
    ldp     d10, d11, [x1, #16 * 7 + 8]
    ldp     d12, d13, [x1, #16 * 8 + 8]
    ldp     d14, d15, [x1, #16 * 9 + 8]
    mov     sp, x9
    ret
"#
);

extern "C" {
    fn __pivm_cpu_switch_to(prev: *mut CpuContext, next: *const CpuContext);
}

/// `cpu_switch_to`: saves the running context in `prev` and resumes `next`, whose kernel
/// stack starts at `next_stack_base` (`THREAD_SIZE` from there, recorded for the overflow
/// report as `current->stack`); returns when something switches back to `prev`.
///
/// # Safety
/// Interrupts are masked; `prev` and `next` stay valid and unaliased until the switch back;
/// `next` was saved by this function or built with a valid stack and resume address.
pub unsafe fn switch_to(prev: *mut CpuContext, next: *const CpuContext, next_stack_base: usize) {
    super::traps::set_task_stack(next_stack_base as u64);
    // SAFETY: the caller's contract; the callee saves everything the ABI says survives a call.
    unsafe { __pivm_cpu_switch_to(prev, next) }
}

/// `THREAD_SIZE`: 32 KiB (`memory::THREAD_SHIFT` says why more than Linux's 16 KiB).
pub const THREAD_SIZE: usize = super::memory::THREAD_SIZE as usize;
/// `THREAD_ALIGN`: twice the size, for the vector entry's one-bit overflow test.
pub const THREAD_ALIGN: usize = super::memory::THREAD_ALIGN as usize;
/// `IS_ENABLED(CONFIG_VMAP_STACK)`: kernel stacks are vmalloc'ed, the page below each
/// unmapped, as arm64 6.1 builds them (`alloc_thread_stack_node`).
pub const VMAP_STACK: bool = true;

/// Runs `f` (a `/proc` renderer called from a system call). ARMv7 switches to a 24 KiB
/// stack for it because its task stacks are 8 KiB; arm64's are `THREAD_SIZE`, 32 KiB,
/// sized for these renderers, so `f` runs on the task's own stack, where the vector entry's
/// overflow test still guards it.
pub fn call_on_render_stack(f: &mut dyn FnMut()) {
    f()
}

/// The console's kernel stack (task 0's `current->stack`): the `THREAD_SIZE` area
/// `run_console` vmalloc'ed (its top is where an oops returns to), or the boot stack's lowest
/// address while the console has none (before `run_console`, or without vmalloc space).
/// The scheduler asks at each switch to the console, which moves to its stack after the
/// task table is made.
pub fn boot_stack_limit() -> usize {
    extern "C" {
        static __boot_stack_bottom: u8;
        static __boot_stack_top: u8;
    }
    let boot_top = core::ptr::addr_of!(__boot_stack_top) as u64;
    match super::traps::oops_recovery_sp() {
        0 => core::ptr::addr_of!(__boot_stack_bottom) as usize,
        top if top == boot_top => core::ptr::addr_of!(__boot_stack_bottom) as usize,
        top => (top - super::memory::THREAD_SIZE) as usize,
    }
}

/// What the shared fault code makes of an EL0 exception in `regs` for a process whose
/// `TASK_SIZE` is `task_size` ([`fault::decode_user_exception`](super::fault::decode_user_exception)).
pub fn decode_user_exception(e: UserException, regs: &PtRegs, task_size: usize) -> UserTrap {
    super::fault::decode_user_exception(e, regs.pc, task_size as u64)
}

/// `start_thread`: a fresh user frame entering at `pc` with stack `sp` in EL0t (AArch64
/// state, DAIF clear), every register zero and no system call to restart.
pub fn start_thread(regs: &mut PtRegs, pc: usize, sp: usize) {
    *regs = PtRegs { sp: sp as u64, pc: pc as u64, pstate: PSR_MODE_EL0T, ..PtRegs::zeroed() };
}

/// This CPU's ASID width (`get_cpu_asid_bits`); TCR_EL1.AS was set from the same field.
pub fn cpu_asid_bits() -> u32 {
    asid_bits_of(ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits))
}

/// `cpu_do_switch_mm`: TTBR0 to the user table at physical `pgd` with the ASID of `ctxid`,
/// this core's TLB flushed first when an ASID rollover asked for it. Table and ASID change
/// in one register write (the ASID lives in TTBR0 here), so Linux's detour through the
/// reserved table is not needed.
pub fn switch_mm(pgd: u64, ctxid: u64, flush: bool) {
    if flush {
        super::tlbflush::local_flush_tlb_all();
    }
    TTBR0_EL1.set(ttbr0(pgd, ctxid, cpu_asid_bits()));
    barrier::isb(barrier::SY);
}

/// `cpu_set_reserved_ttbr0`: back to the empty table with ASID 0 (a kernel task).
pub fn switch_to_kernel_mm() {
    let reserved = super::boot::RESERVED_PG_DIR.load(core::sync::atomic::Ordering::Relaxed);
    TTBR0_EL1.set(ttbr0(reserved, 0, cpu_asid_bits()));
    barrier::isb(barrier::SY);
}

/// `set_tls`: the user thread pointer, TPIDR_EL0, of the task about to run (or 0 at exec).
pub fn set_tls(value: usize) {
    TPIDR_EL0.set(value as u64);
}

/// The user thread pointer as it is now: user space writes TPIDR_EL0 itself (`msr`), so the
/// task giving up the CPU keeps what the register holds (`tls_thread_switch`'s save), and a
/// fork copies it from here (`copy_thread`).
pub fn get_tls() -> usize {
    TPIDR_EL0.get() as usize
}
