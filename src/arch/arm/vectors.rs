//! Exception vectors and the register frame (`pt_regs`) handlers work on.
//!
//! The vector page is position independent (`ldr pc, [pc, #24]` through a table of absolute
//! handler addresses), so the same page serves at VBAR early in boot and at `VECTORS_BASE`
//! (0xffff0000, SCTLR.V) once `paging_init` has mapped it there, as Linux does.

use core::fmt;

/// Exception kinds, numbered by their vector slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExceptionKind {
    Reset = 0,
    Undefined = 1,
    Svc = 2,
    PrefetchAbort = 3,
    DataAbort = 4,
    Unused = 5,
    Irq = 6,
    Fiq = 7,
}

impl ExceptionKind {
    fn from_u32(v: u32) -> Self {
        match v {
            1 => Self::Undefined,
            2 => Self::Svc,
            3 => Self::PrefetchAbort,
            4 => Self::DataAbort,
            5 => Self::Unused,
            6 => Self::Irq,
            7 => Self::Fiq,
            _ => Self::Reset,
        }
    }
}

/// The interrupted context, laid out like Linux's ARM `struct pt_regs`: r0-r12, sp, lr, pc,
/// cpsr, orig_r0. `pc` is the faulting instruction (or the return address for SVC).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PtRegs {
    pub uregs: [u32; 18],
}

impl PtRegs {
    pub const SP: usize = 13;
    pub const LR: usize = 14;
    pub const PC: usize = 15;
    pub const CPSR: usize = 16;

    pub fn pc(&self) -> u32 {
        self.uregs[Self::PC]
    }
    pub fn set_pc(&mut self, pc: u32) {
        self.uregs[Self::PC] = pc;
    }
    pub fn cpsr(&self) -> u32 {
        self.uregs[Self::CPSR]
    }
}

/// Linux's `__show_regs` register block (without the symbolic "PC is at" lines).
impl fmt::Display for PtRegs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.uregs;
        writeln!(f, "pc : [<{:08x}>]    lr : [<{:08x}>]    psr: {:08x}", r[15], r[14], r[16])?;
        writeln!(f, "sp : {:08x}  ip : {:08x}  fp : {:08x}", r[13], r[12], r[11])?;
        writeln!(f, "r10: {:08x}  r9 : {:08x}  r8 : {:08x}", r[10], r[9], r[8])?;
        writeln!(f, "r7 : {:08x}  r6 : {:08x}  r5 : {:08x}  r4 : {:08x}", r[7], r[6], r[5], r[4])?;
        writeln!(f, "r3 : {:08x}  r2 : {:08x}  r1 : {:08x}  r0 : {:08x}", r[3], r[2], r[1], r[0])?;
        let psr = r[16];
        let flag =
            |bit: u32, c: char| if psr & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c };
        write!(
            f,
            "Flags: {}{}{}{}  IRQs {}  FIQs {}  Mode {}  ISA {}  Segment none",
            flag(31, 'n'),
            flag(30, 'z'),
            flag(29, 'c'),
            flag(28, 'v'),
            if psr & (1 << 7) != 0 { "off" } else { "on" },
            if psr & (1 << 6) != 0 { "off" } else { "on" },
            mode_name(psr & 0x1f),
            if psr & (1 << 5) != 0 { "Thumb" } else { "ARM" },
        )
    }
}

/// Linux's `processor_modes[]` names.
pub fn mode_name(mode: u32) -> &'static str {
    match mode {
        0x10 => "USER_32",
        0x11 => "FIQ_32",
        0x12 => "IRQ_32",
        0x13 => "SVC_32",
        0x16 => "MON_32",
        0x17 => "ABT_32",
        0x1a => "HYP_32",
        0x1b => "UND_32",
        0x1f => "SYS_32",
        _ => "UK_32",
    }
}

extern "C" {
    static __vectors_start: u8;
}

/// Kernel virtual address of the vector page in the image.
pub fn vectors_page_va() -> u32 {
    core::ptr::addr_of!(__vectors_start) as u32
}

#[no_mangle]
extern "C" fn arm_exception(kind: u32, regs: &mut PtRegs) {
    super::fault::handle(ExceptionKind::from_u32(kind), regs);
}

core::arch::global_asm!(
    r#"
    .section .vectors, "ax"
    .arm
    .align  5
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    ldr     pc, [pc, #24]
    .word   vec_reset, vec_undef, vec_svc, vec_pabt, vec_dabt, vec_unused, vec_irq, vec_fiq

    .text
    .arm
    @ Build a pt_regs frame on this mode's stack, call arm_exception(kind, regs) and, if it
    @ returns (fixup applied), resume at regs->pc.
    .macro exc_entry kind, adjust
    sub     lr, lr, #\adjust
    sub     sp, sp, #72
    stmia   sp, {{r0-r12}}
    str     lr, [sp, #60]
    mrs     r0, spsr
    str     r0, [sp, #64]
    mrs     r4, cpsr
    and     r1, r0, #0x1f
    cmp     r1, #0x10                   @ user mode's sp/lr are read through SYS mode
    moveq   r1, #0x1f
    orr     r1, r1, #0xc0
    msr     cpsr_c, r1
    mov     r2, sp
    mov     r3, lr
    msr     cpsr_c, r4
    str     r2, [sp, #52]
    str     r3, [sp, #56]
    mov     r0, #\kind
    mov     r1, sp
    bl      arm_exception
    ldr     r0, [sp, #64]
    msr     spsr_cxsf, r0
    ldr     lr, [sp, #60]
    ldmia   sp, {{r0-r12}}
    add     sp, sp, #72
    movs    pc, lr
    .endm

vec_reset:  exc_entry 0, 0
vec_undef:  exc_entry 1, 4
vec_pabt:   exc_entry 3, 4
vec_dabt:   exc_entry 4, 8
vec_unused: exc_entry 5, 0
vec_irq:    exc_entry 6, 4
vec_fiq:    exc_entry 7, 4
    @ SVC is only issued for semihosting; reaching here means the host does not provide it.
vec_svc:
    movs    pc, lr
"#
);
