//! EL1 exceptions: the vector table (Linux's `entry.S` `vectors`), the register frame
//! (`struct pt_regs`), kernel faults with the exception-table fixups `peek`/`poke` use, and
//! the oops in arm64 Linux 6.1's format (`die_kernel_fault`, `mem_abort_decode`, `show_pte`,
//! `__die`, `__show_regs`). After an oops the console starts again (the recovery point the
//! kernel registers); the oopsed command's stack is abandoned.
use core::arch::global_asm;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::*;

use super::esr;
use super::extable::{self, fixup_load, fixup_store, ExTableEntry};
use super::pgtable;
use crate::config::VA_BITS;

/// The saved registers: arm64 6.1's whole `struct pt_regs` (`ptrace.rs`), for exceptions
/// from EL1 and EL0 alike.
pub use super::ptrace::PtRegs;
use super::ptrace::{PT_REGS_SIZE, S_ORIG_X0, S_STACKFRAME, S_SYSCALLNO};

/// Frame size on the stack (`PT_REGS_SIZE`, a multiple of 16).
const FRAME: usize = PT_REGS_SIZE;
/// The FP/SIMD save area below the frame: FPSR, FPCR, q0-q31.
const FPFRAME: usize = 32 * 16 + 16;

global_asm!(
    r#"
    // Each 128-byte slot saves x0/x1, records its kind and branches to the common path.
    .macro vector_slot kind, common
    .balign 128
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #\kind
    b       \common
    .endm

    .section .vectors, "ax"
    .balign 2048
    // Current EL with SP_EL0, current EL with SP_ELx, lower EL AArch64, lower EL AArch32;
    // each: synchronous, IRQ, FIQ, SError (kinds 0-15). The lower-EL ones save the user
    // frame (entry.rs, `kernel_entry 0`).
    .irp kind, 0,1,2,3,4,5,6,7
    vector_slot \kind, __arm64_vector_common
    .endr
    .irp kind, 8,9,10,11,12,13,14,15
    vector_slot \kind, __arm64_el0_vector
    .endr

    .text
__arm64_vector_common:
    stp     x2, x3, [sp, #16 * 1]
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
    add     x21, sp, #{frame}
    stp     x30, x21, [sp, #16 * 15]
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x22, x23, [sp, #16 * 16]
    str     x0, [sp, #{s_orig_x0}]
    mov     w24, #-1                        // NO_SYSCALL
    str     w24, [sp, #{s_syscallno}]
    stp     xzr, xzr, [sp, #{s_stackframe}]
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
    ldp     x22, x23, [sp, #16 * 16]
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
    ldr     x30, [sp, #16 * 15]
    add     sp, sp, #{frame}
    eret
"#,
    frame = const FRAME,
    fpframe = const FPFRAME,
    s_orig_x0 = const S_ORIG_X0,
    s_syscallno = const S_SYSCALLNO,
    s_stackframe = const S_STACKFRAME,
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

/// `__die` and `__show_regs`.
fn die(w: &mut impl Write, what: &str, regs: &PtRegs, esr: u64) {
    let n = DIE_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = writeln!(w, "Internal error: {what}: {esr:016x} [#{n}] SMP");
    let _ = writeln!(w, "Modules linked in:");
    let _ = writeln!(w, "CPU: 0 PID: 0 Comm: swapper/0 Not tainted {} #1", crate::VERSION);
    let _ = writeln!(w, "Hardware name: Raspberry Pi 3 Model B (DT)");
    let p = regs.pstate;
    let f = |bit: u32, c: char| if p & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c };
    let _ = writeln!(
        w,
        "pstate: {p:08x} ({}{}{}{} {}{}{}{} {}PAN {}UAO {}TCO {}DIT {}SSBS BTYPE=--)",
        f(31, 'n'),
        f(30, 'z'),
        f(29, 'c'),
        f(28, 'v'),
        f(9, 'd'),
        f(8, 'a'),
        f(7, 'i'),
        f(6, 'f'),
        if p & (1 << 22) != 0 { '+' } else { '-' },
        if p & (1 << 23) != 0 { '+' } else { '-' },
        if p & (1 << 25) != 0 { '+' } else { '-' },
        if p & (1 << 24) != 0 { '+' } else { '-' },
        if p & (1 << 12) != 0 { '+' } else { '-' },
    );
    let _ = writeln!(w, "pc : {:#018x}", regs.pc);
    let _ = writeln!(w, "lr : {:#018x}", regs.regs[30]);
    let _ = writeln!(w, "sp : {:016x}", regs.sp);
    let mut i: i32 = 29;
    while i >= 0 {
        let _ = write!(w, "x{:<2}: {:016x}", i, regs.regs[i as usize]);
        loop {
            let more = i % 3 != 0;
            i -= 1;
            if !more {
                break;
            }
            let _ = write!(w, " x{:<2}: {:016x}", i, regs.regs[i as usize]);
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "---[ end trace {:016x} ]---", 0);
}

/// Reads a 32-bit word at `addr`, or the fault if the access faults (the exception table
/// turns the fault into an error).
pub fn probe_read_u32(addr: usize) -> Result<u32, esr::Fault> {
    match fixup_load!("ldr {v:w}, [{a}]", addr as u64) {
        (_, true) => Err(last_fixup()),
        (val, false) => Ok(val as u32),
    }
}

/// Writes a 32-bit word at `addr`, or the fault.
pub fn probe_write_u32(addr: usize, value: u32) -> Result<(), esr::Fault> {
    if fixup_store!("str {v:w}, [{a}]", addr as u64, value) {
        Err(last_fixup())
    } else {
        Ok(())
    }
}

/// The last fault the exception table fixed up.
fn last_fixup() -> esr::Fault {
    esr::Fault {
        esr: LAST_FIXUP[0].load(Ordering::Relaxed),
        addr: LAST_FIXUP[1].load(Ordering::Relaxed),
    }
}
