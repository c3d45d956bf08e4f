//! What the exception entry (`entry_armv`) calls: aborts (exception-table fixups, so a system
//! call's user copy (`arch/arm/uaccess.rs`) and `peek` survive a bad address, and Linux-style
//! oopses for everything else, after which the kernel halts), undefined instructions, exceptions from modes that never take one, the
//! stack overflow report, and the ways in for user space (its faults and system calls go to
//! the handlers the process code registers).
use core::arch::asm;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use tock_registers::interfaces::Readable;

use super::cp15::{Dacr, Sctlr, Ttbr0};
use super::extable::{self, ExTableEntry};
use super::fsr;
use super::vectors::{PtRegs, ShowRegs, SvcPtRegs};
use crate::board::raspi::uart::UartWriter;
use crate::kallsyms::Sym;
use crate::mm::PAGE_SIZE;

extern "C" {
    /// The bounds of `__ex_table` (linker.ld keeps it in `.data`, so it can be sorted in place
    /// at boot, as Linux's `sort_main_extable` does without a build-time sort).
    static __start___ex_table: u8;
    static __stop___ex_table: u8;
}

/// Set once `sort_main_extable` ran: until then the table is searched linearly.
static EXTABLE_SORTED: AtomicBool = AtomicBool::new(false);

/// The entries of `__ex_table`, and their number.
fn exception_table_raw() -> (*mut ExTableEntry, usize) {
    let start = core::ptr::addr_of!(__start___ex_table) as *mut ExTableEntry;
    let end = core::ptr::addr_of!(__stop___ex_table) as *mut ExTableEntry;
    // SAFETY: the linker script brackets the table with these symbols; entries are 8 bytes.
    (start, unsafe { end.offset_from(start) } as usize)
}

fn exception_table() -> &'static [ExTableEntry] {
    let (start, n) = exception_table_raw();
    // SAFETY: the table lives as long as the kernel; only sort_main_extable writes it, once,
    // before anything searches it with the binary search.
    unsafe { core::slice::from_raw_parts(start, n) }
}

/// `sort_main_extable`: puts `__ex_table` in instruction order (once, early at boot, before
/// any process runs), so `search_exception_tables` can bisect it.
pub fn sort_main_extable() {
    if EXTABLE_SORTED.load(Ordering::Relaxed) {
        return;
    }
    let (start, n) = exception_table_raw();
    // SAFETY: the table is in writable .data and nothing reads it while it is sorted (one
    // CPU, interrupts masked at this point of boot, no fixup can be pending).
    let table = unsafe { core::slice::from_raw_parts_mut(start, n) };
    extable::sort_extable(table);
    EXTABLE_SORTED.store(true, Ordering::Release);
}

/// `search_exception_tables`: the fixup for a kernel fault at `pc`, if the instruction there
/// is one allowed to fault.
pub fn search_exception_tables(pc: u32) -> Option<u32> {
    let table = exception_table();
    if EXTABLE_SORTED.load(Ordering::Acquire) {
        extable::search_extable(table, pc)
    } else {
        table.iter().find(|e| e.insn == pc).map(|e| e.fixup)
    }
}

/// Linux's software bit marking a prefetch abort's FSR (`FSR_LNX_PF`).
const FSR_LNX_PF: u32 = 1 << 31;

/// The fault a fixup absorbed most recently: (address, FSR).
static FIXED_FAR: AtomicU32 = AtomicU32::new(0);
static FIXED_FSR: AtomicU32 = AtomicU32::new(0);

/// The fault the most recent exception-table fixup absorbed (`copy_from_user` and friends
/// read it to resolve the fault with the mm their caller holds, then retry).
pub fn last_fixup_fault() -> Fault {
    Fault {
        addr: FIXED_FAR.load(Ordering::Relaxed) as usize,
        fsr: FIXED_FSR.load(Ordering::Relaxed),
    }
}

/// A fault absorbed by an exception-table fixup.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub addr: usize,
    pub fsr: u32,
}

impl Fault {
    /// The faulting address (FAR), as the shared uaccess code resolves it.
    pub fn address(&self) -> usize {
        self.addr
    }
    /// The status register the architecture's `decode_abort` reads (the FSR).
    pub fn status(&self) -> u32 {
        self.fsr
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "fault at virtual address {:08x}: {} (FSR 0x{:03x})",
            self.addr,
            fsr::fault_name(self.fsr),
            self.fsr
        )
    }
}

/// One memory access that may fault: the instruction at label 1 is listed in `__ex_table`
/// with its fixup at label 3, which sets `{e}` to 1 and resumes after the access; `{e}` is 0
/// when the access worked.
macro_rules! fixup_access {
    ($insn:literal) => {
        concat!(
            "1: ",
            $insn,
            "\n",
            "   mov {e}, #0\n",
            "2:\n",
            ".pushsection __ex_table, \"a\"\n",
            ".long 1b, 3f\n",
            ".popsection\n",
            ".pushsection .text.fixup, \"ax\"\n",
            "3: mov {e}, #1\n",
            "   b 2b\n",
            ".popsection",
        )
    };
}

/// The fault a fixup just absorbed, as `Err`, or `Ok(value)`.
fn fixup_result<T>(err: u32, value: T) -> Result<T, Fault> {
    if err == 0 {
        Ok(value)
    } else {
        Err(Fault {
            addr: FIXED_FAR.load(Ordering::Relaxed) as usize,
            fsr: FIXED_FSR.load(Ordering::Relaxed),
        })
    }
}

/// Reads a word, turning a data abort into `Err` through the exception table (not by
/// checking the page tables first, so it exercises the real fault path).
pub fn probe_read_u32(addr: usize) -> Result<u32, Fault> {
    let val: u32;
    let err: u32;
    // SAFETY: the load may fault; the abort handler finds it in __ex_table and resumes at
    // the fixup, which reports the error. Nothing else is touched.
    unsafe {
        asm!(
            fixup_access!("ldr {v}, [{a}]"),
            a = in(reg) addr,
            v = out(reg) val,
            e = out(reg) err,
            options(nostack, readonly),
        );
    }
    fixup_result(err, val)
}

/// Writes a word, turning a data abort into `Err` like `probe_read_u32`.
pub fn probe_write_u32(addr: usize, value: u32) -> Result<(), Fault> {
    let err: u32;
    // SAFETY: the store may fault; the abort handler resumes at the fixup through
    // __ex_table. Callers choose the address deliberately (the console's `poke`).
    unsafe {
        asm!(
            fixup_access!("str {v}, [{a}]"),
            a = in(reg) addr,
            v = in(reg) value,
            e = out(reg) err,
            options(nostack),
        );
    }
    fixup_result(err, ())
}

/// Something that can say what a kernel address belongs to (the vmalloc area it lies in or
/// ran past), for the oops. Registered by the code that owns the knowledge, so arch code does
/// not reach into it. Must not block: it may run while its own lock is held.
pub type DescribeAddr = fn(w: &mut dyn Write, addr: u64);

static DESCRIBE_ADDR: spin::Once<DescribeAddr> = spin::Once::new();

/// Registers the oops' address describer (once; later calls are ignored).
pub fn set_address_describer(f: DescribeAddr) {
    DESCRIBE_ADDR.call_once(|| f);
}

/// Set while an oops is being printed: a fault inside it must not start another.
static IN_OOPS: AtomicBool = AtomicBool::new(false);

/// The exception `bad_mode` reports (Linux's `handler[]`, by `BAD_*` reason).
const BAD_MODE_HANDLER: [&str; 5] =
    ["prefetch abort", "data abort", "address exception", "interrupt", "undefined instruction"];

/// A user-mode exception, for the handler the process code registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserException {
    /// A data abort at `addr` with the DFSR.
    DataAbort { addr: u32, fsr: u32 },
    /// A prefetch abort at `addr` with the IFSR.
    PrefetchAbort { addr: u32, fsr: u32 },
    /// An undefined instruction at `regs.pc()`.
    Undefined,
}

/// Handles a user-mode exception on the task's behalf (signals it, or fixes the fault up)
/// and returns to let `ret_to_user` resume it with `regs`.
pub type UserExceptionHandler = fn(UserException, &mut PtRegs);
/// Runs a system call from user space: number in r7, arguments in r0-r6, result to r0.
/// Called straight from `vector_swi` (C ABI), as Linux's `vector_swi` calls through
/// `sys_call_table`.
pub type SyscallHandler = extern "C" fn(&mut PtRegs);

static USER_EXCEPTION: spin::Once<UserExceptionHandler> = spin::Once::new();
/// The registered [`SyscallHandler`], which `vector_swi` loads and calls (`sys_ni_syscall`
/// until one is registered).
#[export_name = "syscall_handler"]
static SYSCALL: AtomicPtr<()> = AtomicPtr::new(sys_ni_syscall as *mut ());

/// Registers what user-mode faults and undefined instructions go to (once).
pub fn set_user_exception_handler(f: UserExceptionHandler) {
    USER_EXCEPTION.call_once(|| f);
}

/// Registers the system-call handler (at boot). Until then every call returns `-ENOSYS`.
pub fn set_syscall_handler(f: SyscallHandler) {
    SYSCALL.store(f as *mut (), Ordering::Release);
}

/// Linux's `ENOSYS`.
const ENOSYS: i32 = 38;

/// The DACR an exception interrupted: saved in the frame for a kernel context; user space
/// runs with its domain accessible (`DACR_UACCESS_ENABLE`).
///
/// # Safety
/// `regs` is a frame the entry code saved: a kernel context's is a whole `svc_pt_regs`.
unsafe fn interrupted_dacr(regs: *const PtRegs) -> u32 {
    if (*regs).user_mode() {
        (Dacr.get() & !super::mmu::DACR_USER_MASK) | (1 << (2 * super::desc::DOMAIN_USER as u32))
    } else {
        (*regs.cast::<SvcPtRegs>()).dacr
    }
}

/// A user-mode exception: to the process code's handler, or, with none registered (no
/// process can run yet), an oops naming it.
fn user_exception(e: UserException, regs: &mut PtRegs, dacr: u32) {
    match USER_EXCEPTION.get() {
        Some(handle) => handle(e, regs),
        None => {
            let mut w = oops_writer();
            let _ = writeln!(w, "pivm: user-mode {:?} with no process to signal", e);
            die("Oops - bad mode", 0, regs, dacr)
        }
    }
}

/// Short-descriptor fault status codes of translation faults (first and second level).
const TRANSLATION_SECTION: u32 = 0x05;
const TRANSLATION_PAGE: u32 = 0x07;

/// `do_DataAbort` from `__dabt_svc` / `__dabt_usr`.
#[no_mangle]
extern "C" fn do_DataAbort(addr: u32, fsr: u32, regs: *mut PtRegs) {
    // SAFETY: the entry code passes the frame it saved on this CPU's kernel stack.
    let dacr = unsafe { interrupted_dacr(regs) };
    // SAFETY: as above; nothing else refers to the frame while the handler runs.
    let regs = unsafe { &mut *regs };
    if regs.user_mode() {
        return user_exception(UserException::DataAbort { addr, fsr }, regs, dacr);
    }
    // do_translation_fault: a kernel address a process's table lacks (a vmalloc or ioremap
    // table made after its pgd was copied) is synced from swapper_pg_dir and retried.
    if matches!(fsr::fault_status(fsr), TRANSLATION_SECTION | TRANSLATION_PAGE)
        && super::process::sync_kernel_entry(addr)
    {
        return;
    }
    // A kernel access allowed to fault (a uaccess accessor, a probe): record the fault and
    // resume at its fixup. For a user address the accessor's caller resolves the recorded
    // fault with the mm it holds and retries (kernel/process/mm.rs `UserMem`); a fault at
    // any other pc oopses, on a user address too.
    if let Some(fixup) = search_exception_tables(regs.pc()) {
        FIXED_FAR.store(addr, Ordering::Relaxed);
        FIXED_FSR.store(fsr, Ordering::Relaxed);
        regs.set_pc(fixup);
        return;
    }
    die_kernel_fault(addr, fsr, false, regs, dacr)
}

/// `do_PrefetchAbort` from `__pabt_svc` / `__pabt_usr`.
#[no_mangle]
extern "C" fn do_PrefetchAbort(addr: u32, ifsr: u32, regs: *mut PtRegs) {
    // SAFETY: as in do_DataAbort.
    let dacr = unsafe { interrupted_dacr(regs) };
    // SAFETY: as in do_DataAbort.
    let regs = unsafe { &mut *regs };
    if regs.user_mode() {
        return user_exception(UserException::PrefetchAbort { addr, fsr: ifsr }, regs, dacr);
    }
    die_kernel_fault(addr, ifsr, true, regs, dacr)
}

/// `do_undefinstr` from `__und_svc` / `__und_usr` (pc already at the instruction).
#[no_mangle]
extern "C" fn do_undefinstr(regs: *mut PtRegs) {
    // SAFETY: as in do_DataAbort.
    let dacr = unsafe { interrupted_dacr(regs) };
    // SAFETY: as in do_DataAbort.
    let regs = unsafe { &mut *regs };
    if regs.user_mode() {
        return user_exception(UserException::Undefined, regs, dacr);
    }
    die("Oops - undefined instruction", 0, regs, dacr)
}

/// `bad_mode`: an exception taken in a mode that never takes one (FIQ, IRQ, abort,
/// undefined or system mode).
#[no_mangle]
extern "C" fn bad_mode(regs: *mut PtRegs, reason: u32) -> ! {
    // SAFETY: common_invalid built a pt_regs frame (without the DACR) on the SVC stack.
    let regs = unsafe { &*regs };
    let mut w = oops_writer();
    let handler = BAD_MODE_HANDLER.get(reason as usize).unwrap_or(&"unknown");
    let _ = writeln!(w, "Bad mode in {} handler detected", handler);
    die("Oops - bad mode", 0, regs, Dacr.get())
}

/// `ret_to_user` found a frame that would not return to user mode with interrupts on.
#[no_mangle]
extern "C" fn bad_user_return(regs: *mut PtRegs) -> ! {
    // SAFETY: ret_to_user passes the frame it was about to restore.
    let regs = unsafe { &*regs };
    let mut w = oops_writer();
    let _ = writeln!(w, "Returning to usermode but unexpected PSR bits set?");
    die("Oops - BUG", 0, regs, Dacr.get())
}

/// `sys_ni_syscall`: every call, until the process code registers its handler.
extern "C" fn sys_ni_syscall(regs: &mut PtRegs) {
    regs.uregs[0] = (-ENOSYS) as u32;
}

/// An IRQ taken before a root controller registered its handler.
pub fn bad_irq(_regs: &PtRegs) -> ! {
    let mut w = oops_writer();
    let _ = writeln!(w, "Kernel panic - not syncing: IRQ taken without a root IRQ handler");
    crate::board::raspi::uart::flush();
    super::cpu::halt()
}

extern "C" {
    /// The boot SVC stack (the only kernel stack until tasks exist) and the overflow stack
    /// (arch/arm/entry.rs).
    static __svc_stack: u8;
    static __svc_stack_top: u8;
    static __overflow_stack: u8;
    static __overflow_stack_top: u8;
}

/// Set once the overflow report started: an overflow of the overflow stack stops there.
static IN_BAD_STACK: AtomicBool = AtomicBool::new(false);

/// `handle_bad_stack`: an exception whose frame did not fit the kernel stack, reported from
/// the overflow stack (`__bad_stack` moved there).
#[no_mangle]
extern "C" fn handle_bad_stack(regs: *mut PtRegs) -> ! {
    // SAFETY: __bad_stack built a whole svc_pt_regs frame at the overflow stack's top.
    let dacr = unsafe { (*regs.cast::<SvcPtRegs>()).dacr };
    // SAFETY: as above.
    let regs = unsafe { &*regs };
    let mut w = oops_writer();
    if IN_BAD_STACK.swap(true, Ordering::Relaxed) {
        recursive_fault(&mut w, regs.uregs[PtRegs::SP], regs)
    }
    let addr = |s: &u8| core::ptr::from_ref(s) as u32;
    // SAFETY: linker-placed symbols; only their addresses are taken.
    let (task, task_top, ovf, ovf_top) = unsafe {
        (
            addr(&__svc_stack),
            addr(&__svc_stack_top),
            addr(&__overflow_stack),
            addr(&__overflow_stack_top),
        )
    };
    let _ = writeln!(w, "Insufficient stack space to handle exception!");
    let _ = writeln!(w, "Task stack:     [{:#010x}..{:#010x}]", task, task_top);
    let _ = writeln!(w, "Overflow stack: [{:#010x}..{:#010x}]", ovf, ovf_top);
    die("kernel stack overflow", 0, regs, dacr)
}

/// The console, taken without its lock: an oops may interrupt a print.
fn oops_writer() -> UartWriter {
    UartWriter
}

fn die_kernel_fault(addr: u32, fsr_val: u32, instruction: bool, regs: &PtRegs, dacr: u32) -> ! {
    let mut w = oops_writer();
    if IN_OOPS.swap(true, Ordering::Relaxed) {
        recursive_fault(&mut w, addr, regs)
    }
    let what =
        if u64::from(addr) < PAGE_SIZE { "NULL pointer dereference" } else { "paging request" };
    let _ = writeln!(w, "8<--- cut here ---");
    let _ = writeln!(
        w,
        "Unable to handle kernel {} at virtual address {:08x} when {}",
        what,
        addr,
        fsr::access_kind(fsr_val, instruction)
    );
    super::mmu::show_pte(&mut w, addr as usize);
    if let Some(describe) = DESCRIBE_ADDR.get() {
        describe(&mut w, u64::from(addr));
    }
    let _ = writeln!(w, "FSR 0x{:03x}: {}", fsr_val, fsr::fault_name(fsr_val));
    // Linux marks prefetch aborts with FSR_LNX_PF, and die() prints the marked value.
    die("Oops", if instruction { fsr_val | FSR_LNX_PF } else { fsr_val }, regs, dacr)
}

/// A fault while printing an oops: say so and stop, as Linux's `make_task_dead` does for a
/// recursive fault.
fn recursive_fault(w: &mut UartWriter, addr: u32, regs: &PtRegs) -> ! {
    let _ = writeln!(
        w,
        "Fixing recursive fault but reboot is needed! (at {:08x}, pc {:08x})",
        addr,
        regs.pc()
    );
    crate::board::raspi::uart::flush();
    super::cpu::halt()
}

/// Linux's `die()`: the oops header, the registers (with `dacr`, the DACR the exception
/// interrupted) and the code around pc, then halt.
fn die(msg: &str, err: u32, regs: &PtRegs, dacr: u32) -> ! {
    let mut w = oops_writer();
    IN_OOPS.store(true, Ordering::Relaxed);
    let _ = writeln!(w, "Internal error: {}: {:x} [#1] SMP ARM", msg, err);
    let _ = writeln!(w, "Modules linked in:");
    let _ = writeln!(w, "CPU: 0 PID: 0 Comm: swapper/0 Not tainted {}", crate::VERSION);
    let _ = writeln!(w, "Hardware name: BCM2835");
    let _ = writeln!(w, "PC is at {}", Sym(u64::from(regs.pc())));
    let _ = writeln!(w, "LR is at {}", Sym(u64::from(regs.uregs[PtRegs::LR])));
    let _ = writeln!(w, "{}", ShowRegs { regs, dacr });
    let _ =
        writeln!(w, "Control: {:08x}  Table: {:08x}  DAC: {:08x}", Sctlr.get(), Ttbr0.get(), dacr);
    // dump_instr(): four words before pc and pc's own; "bad PC value" where one faults.
    let read = |a: u64| probe_read_u32(a as usize).ok();
    let _ = crate::arch::dump_instr::write_code_line(&mut w, u64::from(regs.pc()), read);
    let _ = writeln!(w, "---[ end trace 0000000000000000 ]---");
    let _ = writeln!(w, "Kernel panic - not syncing: Fatal exception");
    crate::board::raspi::uart::flush();
    super::cpu::halt()
}

/// Rust panics are broken invariants: report them like Linux's panic() and halt.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut w = oops_writer();
    let _ = writeln!(w, "Kernel panic - not syncing: {}", info);
    crate::board::raspi::uart::flush();
    super::cpu::halt()
}
