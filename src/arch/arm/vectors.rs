//! Exception vectors and the register frame (`pt_regs`) handlers work on.
//!
//! As Linux lays them out: the vector page (mapped at `VECTORS_BASE`, 0xffff0000, with
//! SCTLR.V set from the entry code on) holds the eight vectors, each a branch to its stub in
//! the next page, and the kuser helpers in its last 160 bytes; it is readable by user space.
//! The stubs page (0xffff1000, kernel only, `entry_armv`) switches to SVC mode and enters
//! the kernel.

use core::fmt;

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
    /// Whether the exception interrupted user mode (`user_mode(regs)`).
    pub fn user_mode(&self) -> bool {
        self.cpsr() & super::irq::PSR_MODE_MASK == super::irq::USR_MODE
    }
}

/// The frame of an exception that interrupted the kernel (`struct svc_pt_regs`): the
/// registers and the DACR the kernel had, which the exit restores.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SvcPtRegs {
    pub regs: PtRegs,
    pub dacr: u32,
}

// The entry code's offsets.
const _: () = assert!(core::mem::size_of::<PtRegs>() == super::entry_armv::PT_REGS_SIZE);
const _: () = assert!(core::mem::size_of::<SvcPtRegs>() == super::entry_armv::SVC_REGS_SIZE);
const _: () = assert!(core::mem::offset_of!(SvcPtRegs, dacr) == super::entry_armv::SVC_DACR);

/// Linux's `__show_regs` register block (without the symbolic "PC is at" lines), with the
/// DACR the exception interrupted: its user domain gives the `Segment` word.
pub struct ShowRegs<'a> {
    pub regs: &'a PtRegs,
    pub dacr: u32,
}

impl fmt::Display for ShowRegs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regs.uregs;
        writeln!(f, "pc : [<{:08x}>]    lr : [<{:08x}>]    psr: {:08x}", r[15], r[14], r[16])?;
        writeln!(f, "sp : {:08x}  ip : {:08x}  fp : {:08x}", r[13], r[12], r[11])?;
        writeln!(f, "r10: {:08x}  r9 : {:08x}  r8 : {:08x}", r[10], r[9], r[8])?;
        writeln!(f, "r7 : {:08x}  r6 : {:08x}  r5 : {:08x}  r4 : {:08x}", r[7], r[6], r[5], r[4])?;
        writeln!(f, "r3 : {:08x}  r2 : {:08x}  r1 : {:08x}  r0 : {:08x}", r[3], r[2], r[1], r[0])?;
        let psr = r[16];
        let flag =
            |bit: u32, c: char| if psr & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c };
        // With CONFIG_CPU_SW_DOMAIN_PAN, "none" while user access is off.
        let user_domain = self.dacr & super::mmu::DACR_USER_MASK;
        write!(
            f,
            "Flags: {}{}{}{}  IRQs {}  FIQs {}  Mode {}  ISA {}  Segment {}",
            flag(31, 'n'),
            flag(30, 'z'),
            flag(29, 'c'),
            flag(28, 'v'),
            if psr & (1 << 7) != 0 { "off" } else { "on" },
            if psr & (1 << 6) != 0 { "off" } else { "on" },
            mode_name(psr & 0x1f),
            if psr & (1 << 5) != 0 { "Thumb" } else { "ARM" },
            if user_domain == 0 { "none" } else { "user" },
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

core::arch::global_asm!(
    r#"
    .section .vectors, "ax"
    .arm
    @ The vector page (0xffff0000). Each vector branches to its stub in the next page, so the
    @ pair works wherever it is mapped.
    b       vector_rst
    b       vector_und
    b       vector_swi
    b       vector_pabt
    b       vector_dabt
    b       vector_addrexcptn
    b       vector_irq
    b       vector_fiq

    @ The kuser helpers at the top of the page, where Linux's ABI puts them (user space
    @ calls them at these fixed addresses): each slot is 32 bytes (cmpxchg64 has two).
    .org    0xf60
__kuser_cmpxchg64:                      @ r0 = &old, r1 = &new, r2 = ptr; r0 = 0 and C set if
    push    {{r4-r9}}                   @ *ptr was old and is now new; only r3 and the flags
    ldrd    r4, r5, [r0]                @ may change besides r0
    ldrd    r6, r7, [r1]
    dmb     ish
1:  ldrexd  r8, r9, [r2]
    eors    r3, r8, r4
    eorseq  r3, r9, r5
    bne     2f
    strexd  r3, r6, r7, [r2]
    teq     r3, #1
    beq     1b
2:  dmb     ish
    rsbs    r0, r3, #0
    pop     {{r4-r9}}
    bx      lr
    .org    0xfa0
__kuser_memory_barrier:
    dmb     ish
    bx      lr
    .org    0xfc0
__kuser_cmpxchg:                        @ r0 = old, r1 = new, r2 = ptr; r0 = 0 and C set if
    dmb     ish                         @ *ptr was old and is now new
1:  ldrex   r3, [r2]
    subs    r3, r3, r0
    strexeq r3, r1, [r2]
    teqeq   r3, #1
    beq     1b
    rsbs    r0, r3, #0
    b       __kuser_memory_barrier      @ the closing barrier (the slot is full)
    .org    0xfe0
__kuser_get_tls:                        @ r0 = the thread's TLS pointer (TPIDRURO)
    mrc     p15, 0, r0, c13, c0, 3
    bx      lr
    .org    0xffc
__kuser_helper_version:                 @ helpers in the page: (0x1000 - 0xf60) / 32
    .word   (0x1000 - 0xf60) / 32

"#
);
