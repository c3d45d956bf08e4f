//! EL1 exceptions: the vector table (Linux's `entry.S` `vectors`), the register frame
//! (`struct pt_regs`), kernel faults with the exception-table fixups `peek`/`poke` use, and
//! the oops in arm64 Linux 6.1's format (`die_kernel_fault`, `mem_abort_decode`, `show_pte`,
//! `__die`, `__show_regs`). After an oops the console starts again (the recovery point the
//! kernel registers); the oopsed command's stack is abandoned.
use core::arch::global_asm;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::*;

use super::bug::{self, bug};
use super::esr;
use super::extable::{self, fixup_load, fixup_store, ExTableEntry};
use super::pgtable;
use super::stacktrace::{self, StackInfo};
use crate::config::VA_BITS;

use super::entry::{kernel_entry, kernel_exit};
use super::memory::{OVERFLOW_STACK_SIZE, THREAD_SHIFT, THREAD_SIZE};
/// The saved registers: arm64 6.1's whole `struct pt_regs` (`ptrace.rs`), for exceptions
/// from EL1 and EL0 alike.
pub use super::ptrace::PtRegs;
use super::ptrace::{PT_REGS_SIZE, S_LR, S_ORIG_X0, S_PC, S_SP, S_STACKFRAME, S_SYSCALLNO};

/// Frame size on the stack (`PT_REGS_SIZE`, a multiple of 16).
const FRAME: usize = PT_REGS_SIZE;
/// The FP/SIMD save area below the frame: FPSR, FPCR, q0-q31.
const FPFRAME: usize = 32 * 16 + 16;

/// The per-CPU overflow stack (`overflow_stack`, one CPU runs the kernel): where
/// `kernel_ventry` moves when the interrupted kernel stack has no room for the frame.
#[repr(C, align(16))]
struct OverflowStack(UnsafeCell<[u8; OVERFLOW_STACK_SIZE as usize]>);

// SAFETY: only the entry code writes it (as a stack), after an overflow, on CPU 0.
unsafe impl Sync for OverflowStack {}

static OVERFLOW_STACK: OverflowStack =
    OverflowStack(UnsafeCell::new([0; OVERFLOW_STACK_SIZE as usize]));

global_asm!(
    r#"
    // arm64 6.1's `kernel_ventry` with CONFIG_VMAP_STACK (`vmap` = 1): the frame is
    // reserved, then, before anything is saved and without a free register, the test that
    // the new sp still lies in its THREAD_ALIGNed stack (bit THREAD_SHIFT clear). If not,
    // the original sp goes to TPIDR_EL0 and x0 to TPIDRRO_EL0 (the kernel does not return
    // to user space after this) and sp moves to the overflow stack; an exception taken on
    // the overflow stack itself carries on there, any other goes to __bad_stack. Then x0/x1
    // are saved and the slot's kind goes to the common path in x1.
    .macro kernel_ventry kind, common, vmap
    .balign 128
    sub     sp, sp, #{frame}
    .if \vmap
    add     sp, sp, x0                      // sp' = sp + x0
    sub     x0, sp, x0                      // x0' = sp' - x0 = sp
    tbnz    x0, #{thread_shift}, 0f
    sub     x0, sp, x0                      // x0'' = sp' - x0' = x0
    sub     sp, sp, x0                      // sp'' = sp' - x0 = sp
    b       1f
0:  msr     tpidr_el0, x0                   // the original sp less the frame
    sub     x0, sp, x0
    msr     tpidrro_el0, x0                 // the original x0
    adrp    x0, {ovf}
    add     x0, x0, :lo12:{ovf}
    add     sp, x0, #{ovf_size}
    mrs     x0, tpidr_el0
    sub     x0, sp, x0                      // the distance below the overflow stack's top
    tst     x0, #~({ovf_size} - 1)
    b.ne    __arm64_bad_stack
    sub     sp, sp, x0                      // already on the overflow stack: carry on
    mrs     x0, tpidrro_el0
1:
    .endif
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #\kind
    b       \common
    .endm

    // Current EL with SP_EL0, current EL with SP_ELx, lower EL AArch64, lower EL AArch32;
    // each: synchronous, IRQ, FIQ, SError (kinds 0-15). The lower-EL ones save the user
    // frame (entry.rs, `kernel_entry 0`); they make no overflow test: their sp is the top
    // of the task's stack (SP_EL1 at EL0), where it cannot fire.
    .macro vectors vmap
    .balign 2048
    .irp kind, 0,1,2,3,4,5,6,7
    kernel_ventry \kind, __arm64_vector_common, \vmap
    .endr
    .irp kind, 8,9,10,11,12,13,14,15
    kernel_ventry \kind, __arm64_el0_vector, 0
    .endr
    .endm

    .section .vectors, "ax"
    // The boot's table: no overflow test, as the boot stack in the image is 64 KiB and the
    // boot uses 30 KiB of it (more than a THREAD_SIZE).
    vectors 0
    // From the console's start (`set_task_stack`): every kernel stack is THREAD_SIZE at
    // THREAD_ALIGN, and the EL1 entries test for an overflow.
    .balign 2048
    .global __arm64_vmap_stack_vectors
__arm64_vmap_stack_vectors:
    vectors 1

    // Linux's .entry.text: next to the vectors, as their conditional branches (the
    // overflow test's b.ne) reach only 1 MiB.
    .section .entry.text, "ax"
__arm64_vector_common:
"#,
    kernel_entry!(1),
    r#"
    // The FP/SIMD registers below the frame: Rust code (an interrupt's handler) may use
    // any of them, and the interrupted code's values must survive.
    sub     sp, sp, #{fpframe}
    stp     q0, q1, [sp, #16 + 32 * 0]
    stp     q2, q3, [sp, #16 + 32 * 1]
    stp     q4, q5, [sp, #16 + 32 * 2]
    stp     q6, q7, [sp, #16 + 32 * 3]
    stp     q8, q9, [sp, #16 + 32 * 4]
    stp     q10, q11, [sp, #16 + 32 * 5]
    stp     q12, q13, [sp, #16 + 32 * 6]
    stp     q14, q15, [sp, #16 + 32 * 7]
    stp     q16, q17, [sp, #16 + 32 * 8]
    stp     q18, q19, [sp, #16 + 32 * 9]
    stp     q20, q21, [sp, #16 + 32 * 10]
    stp     q22, q23, [sp, #16 + 32 * 11]
    stp     q24, q25, [sp, #16 + 32 * 12]
    stp     q26, q27, [sp, #16 + 32 * 13]
    stp     q28, q29, [sp, #16 + 32 * 14]
    stp     q30, q31, [sp, #16 + 32 * 15]
    mrs     x2, fpsr
    mrs     x3, fpcr
    stp     x2, x3, [sp]
    add     x0, sp, #{fpframe}
    bl      __arm64_el1_exception
    ldp     x2, x3, [sp]
    msr     fpsr, x2
    msr     fpcr, x3
    ldp     q0, q1, [sp, #16 + 32 * 0]
    ldp     q2, q3, [sp, #16 + 32 * 1]
    ldp     q4, q5, [sp, #16 + 32 * 2]
    ldp     q6, q7, [sp, #16 + 32 * 3]
    ldp     q8, q9, [sp, #16 + 32 * 4]
    ldp     q10, q11, [sp, #16 + 32 * 5]
    ldp     q12, q13, [sp, #16 + 32 * 6]
    ldp     q14, q15, [sp, #16 + 32 * 7]
    ldp     q16, q17, [sp, #16 + 32 * 8]
    ldp     q18, q19, [sp, #16 + 32 * 9]
    ldp     q20, q21, [sp, #16 + 32 * 10]
    ldp     q22, q23, [sp, #16 + 32 * 11]
    ldp     q24, q25, [sp, #16 + 32 * 12]
    ldp     q26, q27, [sp, #16 + 32 * 13]
    ldp     q28, q29, [sp, #16 + 32 * 14]
    ldp     q30, q31, [sp, #16 + 32 * 15]
    add     sp, sp, #{fpframe}
"#,
    kernel_exit!(1),
    r#"
    // __bad_stack: kernel_ventry found an overflow and moved to the overflow stack. The
    // original x0 is in TPIDRRO_EL0, the original sp (less the frame) in TPIDR_EL0: the
    // whole frame is saved here with that sp, for handle_bad_stack, which never returns.
__arm64_bad_stack:
    mrs     x0, tpidrro_el0
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #16 * 0]
"#,
    kernel_entry!(1),
    r#"
    mrs     x0, tpidr_el0
    add     x0, x0, #{frame}
    str     x0, [sp, #{s_sp}]
    mov     x0, sp
    bl      __arm64_handle_bad_stack
    brk     #0x800                          // ASM_BUG
"#,
    frame = const FRAME,
    fpframe = const FPFRAME,
    s_lr = const S_LR,
    s_sp = const S_SP,
    s_pc = const S_PC,
    s_orig_x0 = const S_ORIG_X0,
    s_syscallno = const S_SYSCALLNO,
    s_stackframe = const S_STACKFRAME,
    thread_shift = const THREAD_SHIFT,
    ovf = sym OVERFLOW_STACK,
    ovf_size = const OVERFLOW_STACK_SIZE,
);

/// Kind 4 is "current EL, SP_ELx, synchronous": the kernel's own faults.
const SYNC_EL1H: u64 = 4;
/// Kind 5 is "current EL, SP_ELx, IRQ" (`el1h_64_irq`); kind 9 the same from EL0
/// (`el0t_64_irq`).
const IRQ_EL1H: u64 = 5;
const IRQ_EL0: u64 = 9;

/// What the last fixed-up fault was (`peek`/`poke` report it): ESR, FAR.
static LAST_FIXUP: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Where the console starts again after an oops (0: nowhere; halt).
static RECOVER: AtomicUsize = AtomicUsize::new(0);
static RECOVER_SP: AtomicU64 = AtomicU64::new(0);
/// `die_counter`.
static DIE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Installs the vector table.
pub fn trap_init() {
    sort_main_extable();
    VBAR_EL1.set(super::boot::vectors());
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Sets where an oops returns to: `f` on a fresh stack at `sp`.
pub fn set_oops_recovery(f: extern "C" fn() -> !, sp: u64) {
    RECOVER.store(f as usize, Ordering::Release);
    RECOVER_SP.store(sp, Ordering::Release);
}

/// The stack top an oops returns to ([`set_oops_recovery`]): the console's, 0 before it runs.
pub fn oops_recovery_sp() -> u64 {
    RECOVER_SP.load(Ordering::Acquire)
}

extern "C" {
    static __start___ex_table: ExTableEntry;
    static __stop___ex_table: ExTableEntry;
}

/// Whether `sort_main_extable` has run (the search needs the sorted order).
static EXTABLE_SORTED: AtomicBool = AtomicBool::new(false);

/// `__ex_table` as (start, entries): the linker script bounds it in writable `.data`.
fn exception_table_raw() -> (*mut ExTableEntry, usize) {
    let start = core::ptr::addr_of!(__start___ex_table) as *mut ExTableEntry;
    let end = core::ptr::addr_of!(__stop___ex_table) as usize;
    (start, (end - start as usize) / core::mem::size_of::<ExTableEntry>())
}

/// `sort_main_extable`: puts `__ex_table` in instruction order, once, early at boot.
pub fn sort_main_extable() {
    if EXTABLE_SORTED.load(Ordering::Relaxed) {
        return;
    }
    let (start, n) = exception_table_raw();
    // SAFETY: the table is in writable .data and nothing searches it while it is sorted (one
    // CPU, interrupts masked at this point of boot, no fixup pending).
    let table = unsafe { core::slice::from_raw_parts_mut(start, n) };
    extable::sort_extable(table);
    EXTABLE_SORTED.store(true, Ordering::Release);
}

/// `search_exception_tables`: the fixup for a kernel fault at `pc`, if the instruction there
/// is one allowed to fault (a binary search of the sorted table).
fn search_exception_table(pc: u64) -> Option<u64> {
    if !EXTABLE_SORTED.load(Ordering::Acquire) {
        return None;
    }
    let (start, n) = exception_table_raw();
    // SAFETY: sorted once at boot and never written again.
    let table = unsafe { core::slice::from_raw_parts(start, n) };
    extable::search_extable(table, pc)
}

#[no_mangle]
extern "C" fn __arm64_el1_exception(regs: &mut PtRegs, kind: u64) {
    if (kind == IRQ_EL1H || kind == IRQ_EL0) && super::irq::generic_handle_arch_irq(regs) {
        return;
    }
    let esr = ESR_EL1.get();
    let far = FAR_EL1.get();
    if kind == SYNC_EL1H && (esr::is_data_abort(esr)) {
        if let Some(fixup) = search_exception_table(regs.pc) {
            LAST_FIXUP[0].store(esr, Ordering::Relaxed);
            LAST_FIXUP[1].store(far, Ordering::Relaxed);
            regs.pc = fixup;
            return;
        }
    }
    let mut c = crate::board::raspi::uart::UartWriter;
    if kind == SYNC_EL1H && esr::ec(esr) == esr::EC_UNKNOWN {
        // el1_undef: a kernel frame always BUG()s here.
        do_undefinstr(regs);
    }
    if kind == SYNC_EL1H && bug::is_bug_brk(esr) {
        if let Some(b) = bug::find_bug(bug::bug_table(), regs.pc) {
            // bug_handler: report_bug, then die.
            let _ = bug::write_report(&mut c, bug::entry_file(b), b.line);
            die(&mut c, "Oops - BUG", regs, esr);
            oops_recover(regs)
        }
    }
    if kind == SYNC_EL1H && (esr::is_data_abort(esr) || esr::ec(esr) == esr::EC_IABT_CUR) {
        let _ = writeln!(
            c,
            "Unable to handle kernel {} at virtual address {far:016x}",
            esr::kernel_fault_msg(far, esr)
        );
        let _ = esr::write_mem_abort_decode(&mut c, esr);
        show_pte(&mut c, far);
        die(&mut c, "Oops", regs, esr);
    } else {
        let _ = writeln!(
            c,
            "Unexpected exception, vector kind {kind}, ESR {esr:#018x} ({}), FAR {far:#018x}",
            esr::class_string(esr::ec(esr))
        );
        die(&mut c, "Oops - bad mode", regs, esr);
    }
    oops_recover(regs)
}

/// An exception the kernel does not expect (from EL0: FIQ, SError, AArch32, or one with no
/// process code registered to take it): reported as an oops, then the console restarts.
pub fn unexpected_exception(regs: &mut PtRegs, kind: u64) -> ! {
    let esr = ESR_EL1.get();
    let far = FAR_EL1.get();
    let mut c = crate::board::raspi::uart::UartWriter;
    let _ = writeln!(
        c,
        "Unexpected exception, vector kind {kind}, ESR {esr:#018x} ({}), FAR {far:#018x}",
        esr::class_string(esr::ec(esr))
    );
    die(&mut c, "Oops - bad mode", regs, esr);
    oops_recover(regs)
}

/// `ret_to_user` found a frame that would not return to EL0t with interrupts unmasked (a
/// kernel bug): an oops, as ARMv7's `bad_user_return`.
pub fn bad_user_return(regs: &mut PtRegs) -> ! {
    let mut c = crate::board::raspi::uart::UartWriter;
    let _ = writeln!(c, "Returning to usermode but unexpected PSTATE bits set?");
    die(&mut c, "Oops - BUG", regs, 0);
    oops_recover(regs)
}

/// After an oops: the console's restart point at EL1h on its own stack, or a halt when none
/// is registered.
fn oops_recover(regs: &mut PtRegs) -> ! {
    let f = RECOVER.load(Ordering::Acquire);
    if f == 0 {
        loop {
            aarch64_cpu::asm::wfe();
        }
    }
    // Return into the recovery point at EL1h with interrupts masked, on its own stack.
    regs.pc = f as u64;
    regs.pstate = 0x3c5;
    let sp = RECOVER_SP.load(Ordering::Acquire);
    // SAFETY: the exception return restores `regs` from the frame, which lies on the current
    // stack; the frame is copied to the top of the recovery stack and the return made from
    // there, so the abandoned stack is never used again.
    unsafe {
        let frame = (sp - FRAME as u64) as *mut PtRegs;
        frame.write(*regs);
        core::arch::asm!(
            "mov sp, {f}",
            "ldp x22, x23, [sp, #16 * 16]",
            "msr elr_el1, x22",
            "msr spsr_el1, x23",
            "add sp, sp, #{frame}",
            // The console starts a new frame-record chain: x29 0 ends the call trace there.
            "mov x29, xzr",
            "mov x30, xzr",
            "eret",
            f = in(reg) frame,
            frame = const FRAME,
            options(noreturn)
        );
    }
}

/// `show_pte`: the walk of the faulting address in the table that translates it.
pub fn show_pte(w: &mut impl Write, addr: u64) {
    let ttbr1 = addr >> 63 == 1;
    if !ttbr1 {
        // No user address space yet: current->active_mm is init_mm.
        let _ = writeln!(w, "[{addr:016x}] user address but active_mm is swapper");
        return;
    }
    let root = super::boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let _ = writeln!(w, "swapper pgtable: 4k pages, {VA_BITS}-bit VAs, pgdp={root:016x}");
    let walk = pgtable::walk(addr, VA_BITS, root, read_table);
    let levels = super::memory::pgtable_levels(VA_BITS);
    let _ = write!(w, "[{addr:016x}] pgd=");
    let mut first = true;
    // Linux prints pgd, p4d (folded: the pgd again), pud and pmd (folded on 3 levels), pte.
    // pgd, p4d (folded: the pgd again), pud (folded on 3 levels), pmd, pte.
    let names = ["pgd", "p4d", "pud", "pmd", "pte"];
    let steps: [Option<u64>; 4] = [0, 1, 2, 3].map(|i| walk.steps[i].map(|s| s.desc));
    let vals = if levels == 4 {
        [steps[0], steps[0], steps[1], steps[2], steps[3]]
    } else {
        [steps[0], steps[0], steps[0], steps[1], steps[2]]
    };
    for (i, v) in vals.iter().enumerate() {
        let Some(v) = v else { break };
        if first {
            let _ = write!(w, "{v:016x}");
            first = false;
        } else {
            let _ = write!(w, ", {}={v:016x}", names[i]);
        }
        let last_table_level = i >= 1 && (v & 3 != 3 || i == 4);
        if last_table_level {
            break;
        }
    }
    let _ = writeln!(w);
}

/// Reads a descriptor of the kernel's tables.
pub fn read_table(pa: u64) -> Option<u64> {
    // SAFETY: table pages are mapped where `table_va` says (pool pages in the image, others in
    // the linear map), and descriptors are 8-byte aligned.
    Some(unsafe { (super::boot::table_va(pa) as *const u64).read_volatile() })
}

/// `do_undefinstr` for an undefined instruction at EL1 (EL0's go to the process code, which
/// sends SIGILL): no undef hook covers a kernel instruction, so 6.1's
/// `BUG_ON(!user_mode(regs))` fires (`kernel BUG at ...`, `Oops - BUG`, ESR 0xf2000800).
#[inline(never)]
fn do_undefinstr(regs: &PtRegs) {
    if !regs.user_mode() {
        bug!();
    }
}

/// `__die` and `oops_exit`: the oops header, `show_regs` (the registers and the call
/// trace), `dump_kernel_instr`, the end marker.
fn die(w: &mut impl Write, what: &str, regs: &PtRegs, esr: u64) {
    let n = DIE_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = writeln!(w, "Internal error: {what}: {esr:016x} [#{n}] SMP");
    let _ = writeln!(w, "Modules linked in:");
    show_regs(w, regs);
    dump_kernel_instr(w, regs);
    let _ = writeln!(w, "---[ end trace {:016x} ]---", 0);
}

/// `show_regs`: `__show_regs` (who ran, PSTATE decoded, pc and lr as `%pS`, sp, x29..x0
/// three to a line), then `dump_backtrace` for a kernel frame.
fn show_regs(w: &mut impl Write, regs: &PtRegs) {
    __show_regs(w, regs);
    if regs.user_mode() {
        return;
    }
    let stacks = accessible_stacks();
    // SAFETY: the unwinder reads only 8-aligned words wholly inside `stacks`, which are
    // mapped kernel stacks.
    let read = |a: u64| unsafe { (a as *const u64).read_volatile() };
    let table = crate::kallsyms::kernel_table();
    let sym = |w: &mut dyn Write, a: u64| crate::kallsyms::write_symbol(w, table, a);
    let _ = stacktrace::write_backtrace(w, regs.pc, regs.regs[29], &stacks, read, sym);
}

/// `dump_backtrace(NULL, NULL)`, as `dump_stack` calls it: `Call trace:` and the frames from
/// this function's own record out through its callers (the reporting code first, as 6.1's
/// trace starts at `dump_backtrace`).
#[inline(never)]
pub fn dump_backtrace(w: &mut dyn Write) {
    let (pc, fp): (u64, u64);
    // SAFETY: reads this function's frame pointer (its record is set up: the kernel keeps
    // frame records, `-C force-frame-pointers=yes`) and an address inside it.
    unsafe {
        core::arch::asm!("adr {pc}, .", "mov {fp}, x29", pc = out(reg) pc, fp = out(reg) fp,
            options(nomem, nostack))
    };
    let stacks = accessible_stacks();
    // SAFETY: as in `show_regs`: only 8-aligned words wholly inside mapped kernel stacks.
    let read = |a: u64| unsafe { (a as *const u64).read_volatile() };
    let table = crate::kallsyms::kernel_table();
    let sym = |w: &mut dyn Write, a: u64| crate::kallsyms::write_symbol(w, table, a);
    let _ = stacktrace::write_backtrace(w, pc, fp, &stacks, read, sym);
}

/// `__show_regs`: the registers alone (the stack-overflow report prints no call trace).
fn __show_regs(w: &mut impl Write, regs: &PtRegs) {
    let table = crate::kallsyms::kernel_table();
    let _ = super::ptrace::write_regs(w, regs, (0, "swapper/0"), table);
}

/// `on_accessible_stack`: the stacks frame records may lie on: the running task's (or, before
/// the console has one, the boot stack in the image), CPU 0's IRQ stack (once it exists) and
/// the overflow stack.
fn accessible_stacks() -> [StackInfo; 3] {
    let boot = boot_stack();
    let task = match TASK_STACK.load(Ordering::Relaxed) {
        0 => boot,
        base if base == boot.low => boot,
        base => StackInfo { low: base, high: base + THREAD_SIZE },
    };
    let irq = super::irq::irq_stack_ptr();
    let irq =
        StackInfo { low: irq, high: if irq == 0 { 0 } else { irq + super::irq::IRQ_STACK_SIZE } };
    let ovf = OVERFLOW_STACK.0.get() as u64;
    [task, irq, StackInfo { low: ovf, high: ovf + OVERFLOW_STACK_SIZE }]
}

/// The boot stack in the image (`BOOT_STACK_SIZE` in the linker script).
fn boot_stack() -> StackInfo {
    extern "C" {
        static __boot_stack_bottom: u8;
        static __boot_stack_top: u8;
    }
    StackInfo {
        low: core::ptr::addr_of!(__boot_stack_bottom) as u64,
        high: core::ptr::addr_of!(__boot_stack_top) as u64,
    }
}

/// `dump_kernel_instr`: the `Code:` line of a kernel frame.
fn dump_kernel_instr(w: &mut impl Write, regs: &PtRegs) {
    if regs.user_mode() {
        return;
    }
    let read = |a: u64| probe_read_u32(a as usize).ok();
    let _ = crate::arch::dump_instr::write_code_line(w, regs.pc, read);
}

/// The running task's kernel stack (`current->stack`): its lowest address, 0 before one is
/// registered (the boot stack in the image).
static TASK_STACK: AtomicU64 = AtomicU64::new(0);

/// Records the kernel stack the CPU now runs on (`THREAD_SIZE` from `base`), for the
/// overflow report, and picks the vectors for it: those that test for an overflow for a
/// stack at `THREAD_ALIGN` (every vmalloc'ed one), the boot's, without the test, for the boot
/// stack in the image (64 KiB, not made for the one-bit test: it would see an overflow half
/// way down it). Called with interrupts masked, before sp moves to the stack.
pub fn set_task_stack(base: u64) {
    TASK_STACK.store(base, Ordering::Relaxed);
    // The boot stack is told apart by its address, not its alignment: the image's layout
    // may put it at a THREAD_ALIGN boundary, and at 64 KiB it is still too big for the test.
    let vectors = if base != boot_stack().low && base.is_multiple_of(super::memory::THREAD_ALIGN) {
        core::ptr::addr_of!(__arm64_vmap_stack_vectors) as u64
    } else {
        super::boot::vectors()
    };
    if VBAR_EL1.get() != vectors {
        VBAR_EL1.set(vectors);
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    }
}

extern "C" {
    /// The second vector table (`vectors 1` above), 2 KiB after the boot's.
    static __arm64_vmap_stack_vectors: u8;
}

/// `handle_bad_stack` and `panic_bad_stack` (arm64 6.1, `CONFIG_VMAP_STACK`): from the
/// overflow stack, the exception that did not fit the task's stack, both stacks' bounds and
/// the registers at the exception, then `panic("kernel stack overflow")`, which halts as
/// every panic of this kernel does. The bounds are the three stacks an EL1 exception can be
/// taken on: the task's, CPU 0's IRQ stack (`irq.rs`) and the overflow stack.
#[no_mangle]
extern "C" fn __arm64_handle_bad_stack(regs: &mut PtRegs) -> ! {
    let esr = ESR_EL1.get();
    let far = FAR_EL1.get();
    let mut w = crate::board::raspi::uart::UartWriter;
    let tsk = TASK_STACK.load(Ordering::Relaxed);
    let ovf = OVERFLOW_STACK.0.get() as u64;
    let _ = writeln!(w, "Insufficient stack space to handle exception!");
    let _ = writeln!(w, "ESR: 0x{esr:016x} -- {}", esr::class_string(esr::ec(esr)));
    let _ = writeln!(w, "FAR: 0x{far:016x}");
    let _ = writeln!(w, "Task stack:     [0x{tsk:016x}..0x{:016x}]", tsk + THREAD_SIZE);
    let irq = super::irq::irq_stack_ptr();
    let _ =
        writeln!(w, "IRQ stack:      [0x{irq:016x}..0x{:016x}]", irq + super::irq::IRQ_STACK_SIZE);
    let _ = writeln!(w, "Overflow stack: [0x{ovf:016x}..0x{:016x}]", ovf + OVERFLOW_STACK_SIZE);
    __show_regs(&mut w, regs);
    let msg = "kernel stack overflow";
    let _ = writeln!(w, "Kernel panic - not syncing: {msg}");
    let _ = writeln!(w, "---[ end Kernel panic - not syncing: {msg} ]---");
    super::boot::halt()
}

/// Reads a 32-bit word at `addr`, or the fault if the access faults (the exception table
/// turns the fault into an error).
pub fn probe_read_u32(addr: usize) -> Result<u32, esr::Fault> {
    match fixup_load!("ldr {v:w}, [{a}]", addr as u64) {
        (_, true) => Err(last_fixup_fault()),
        (val, false) => Ok(val as u32),
    }
}

/// Writes a 32-bit word at `addr`, or the fault.
pub fn probe_write_u32(addr: usize, value: u32) -> Result<(), esr::Fault> {
    if fixup_store!("str {v:w}, [{a}]", addr as u64, value) {
        Err(last_fixup_fault())
    } else {
        Ok(())
    }
}

/// The last fault the exception table fixed up (`peek`/`poke`, and the user accessors,
/// which resolve it with the caller's mm and retry).
pub fn last_fixup_fault() -> esr::Fault {
    esr::Fault {
        esr: LAST_FIXUP[0].load(Ordering::Relaxed),
        addr: LAST_FIXUP[1].load(Ordering::Relaxed),
    }
}
