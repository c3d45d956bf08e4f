//! arm64's exception frame and user FP/SIMD state (Linux's `asm/ptrace.h` `struct pt_regs`,
//! `uapi/asm/ptrace.h` `struct user_fpsimd_state`), and how an exception from EL0 is
//! classified by its ESR (6.1's `el0t_64_sync_handler`). Pure: the host tests check the
//! layouts against 6.1's `asm-offsets` and the classification against the ESR encodings.
use super::esr;

/// `struct pt_regs` exactly as arm64 6.1 lays it out on the kernel stack (`kernel_entry`):
/// the user-visible `user_pt_regs` (x0-x30, sp, pc, pstate), then `orig_x0` and `syscallno`
/// (what a restarted system call needs), and the fields 6.1 keeps for SDEI, pseudo-NMI,
/// the unwinder's frame record and lockdep, which pivm zeroes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub orig_x0: u64,
    /// The system call number (x8 at `svc`), `NO_SYSCALL` for any other entry.
    pub syscallno: i32,
    pub unused2: u32,
    pub sdei_ttbr1: u64,
    pub pmr_save: u64,
    pub stackframe: [u64; 2],
    pub lockdep_hardirqs: u64,
    pub exit_rcu: u64,
}

/// `NO_SYSCALL`: the `syscallno` of an entry that is not a system call.
pub const NO_SYSCALL: i32 = -1;

/// 6.1's `asm-offsets.c` for `struct pt_regs`, which the entry code's stores use.
pub const S_LR: usize = 240;
pub const S_SP: usize = 248;
pub const S_PC: usize = 256;
pub const S_PSTATE: usize = 264;
pub const S_ORIG_X0: usize = 272;
pub const S_SYSCALLNO: usize = 280;
pub const S_STACKFRAME: usize = 304;
/// `PT_REGS_SIZE`: a multiple of 16, so sp stays aligned below the frame.
pub const PT_REGS_SIZE: usize = 336;

const _: () = {
    assert!(core::mem::size_of::<PtRegs>() == PT_REGS_SIZE);
    assert!(core::mem::offset_of!(PtRegs, sp) == S_SP);
    assert!(core::mem::offset_of!(PtRegs, pc) == S_PC);
    assert!(core::mem::offset_of!(PtRegs, pstate) == S_PSTATE);
    assert!(core::mem::offset_of!(PtRegs, orig_x0) == S_ORIG_X0);
    assert!(core::mem::offset_of!(PtRegs, syscallno) == S_SYSCALLNO);
    assert!(core::mem::offset_of!(PtRegs, stackframe) == S_STACKFRAME);
    assert!(PT_REGS_SIZE.is_multiple_of(16));
};

/// `PSR_MODE_EL0t`: EL0 with its own stack pointer, interrupts unmasked.
pub const PSR_MODE_EL0T: u64 = 0;
/// PSTATE's M[3:0] (exception level and stack selector) and M[4] (AArch32).
pub const PSR_MODE_MASK: u64 = 0x1f;
/// PSTATE's D, A, I, F mask bits.
pub const PSR_DAIF_MASK: u64 = 0x3c0;

impl PtRegs {
    /// A frame of zeros but for `syscallno`, as `kernel_entry` leaves the fields it does
    /// not save.
    pub const fn zeroed() -> PtRegs {
        PtRegs {
            regs: [0; 31],
            sp: 0,
            pc: 0,
            pstate: 0,
            orig_x0: 0,
            syscallno: NO_SYSCALL,
            unused2: 0,
            sdei_ttbr1: 0,
            pmr_save: 0,
            stackframe: [0; 2],
            lockdep_hardirqs: 0,
            exit_rcu: 0,
        }
    }

    /// `user_mode(regs)`: the frame was saved on an exception from EL0.
    pub const fn user_mode(&self) -> bool {
        self.pstate & PSR_MODE_MASK == PSR_MODE_EL0T
    }

    /// `valid_user_regs` for a return to EL0 (what `ret_to_user` may restore): AArch64 EL0t
    /// with no exception masked.
    pub const fn valid_user_return(&self) -> bool {
        self.user_mode() && self.pstate & PSR_DAIF_MASK == 0
    }

    /// `syscall_get_nr`: the number `el0_svc` took from x8 (its low 32 bits).
    pub const fn syscall_get_nr(&self) -> usize {
        self.syscallno as u32 as usize
    }

    /// `syscall_get_arguments`: x0-x5 as the call found them (x0 from `orig_x0`, which a
    /// result written to x0 does not overwrite).
    pub const fn syscall_get_arguments(&self) -> [usize; 6] {
        [
            self.orig_x0 as usize,
            self.regs[1] as usize,
            self.regs[2] as usize,
            self.regs[3] as usize,
            self.regs[4] as usize,
            self.regs[5] as usize,
        ]
    }

    /// `syscall_set_return_value` / `regs_set_return_value`: x0.
    pub fn set_return_value(&mut self, v: usize) {
        self.regs[0] = v as u64;
    }

    /// `regs_return_value`: x0.
    pub const fn return_value(&self) -> usize {
        self.regs[0] as usize
    }

    /// `instruction_pointer`.
    pub const fn instruction_pointer(&self) -> usize {
        self.pc as usize
    }

    /// `instruction_pointer_set`.
    pub fn instruction_pointer_set(&mut self, pc: usize) {
        self.pc = pc as u64;
    }

    /// `user_stack_pointer`: sp_el0 as saved.
    pub const fn user_stack_pointer(&self) -> usize {
        self.sp as usize
    }

    /// `user_stack_pointer_set`.
    pub fn user_stack_pointer_set(&mut self, sp: usize) {
        self.sp = sp as u64;
    }

    /// `user_pt_regs`: the user registers a signal frame saves (x0-x30, sp, pc, pstate).
    pub fn user_regs(&self) -> crate::abi::arm64::signal::UserRegs {
        crate::abi::arm64::signal::UserRegs {
            regs: self.regs,
            sp: self.sp,
            pc: self.pc,
            pstate: self.pstate,
        }
    }

    /// Writes the registers of a built or restored frame back (`orig_x0` and `syscallno`
    /// stay: a restored frame is no system call to restart).
    pub fn set_user_regs(&mut self, u: &crate::abi::arm64::signal::UserRegs) {
        self.regs = u.regs;
        self.sp = u.sp;
        self.pc = u.pc;
        self.pstate = u.pstate;
    }

    /// The system call runs again on the return (arm64's `do_signal` for `-ERESTART*`): x0
    /// back from `orig_x0`, pc back over the 4-byte `svc`.
    pub fn restart_syscall(&mut self) {
        self.regs[0] = self.orig_x0;
        self.pc = self.pc.wrapping_sub(AARCH64_INSN_SIZE);
    }
}

/// `__show_regs`: who ran (`show_regs_print_info` for the task `who`, pid and comm), PSTATE
/// decoded, pc and lr (`%pS` from the kallsyms table `symbols` for a kernel frame, raw for a
/// user frame, where 6.1 prints no symbol), sp, x29..x0.
pub fn write_regs(
    w: &mut impl core::fmt::Write,
    regs: &PtRegs,
    who: (u32, &str),
    symbols: &[u8],
) -> core::fmt::Result {
    writeln!(w, "CPU: 0 PID: {} Comm: {} Not tainted {} #1", who.0, who.1, crate::VERSION)?;
    writeln!(w, "Hardware name: Raspberry Pi 3 Model B (DT)")?;
    let p = regs.pstate;
    let f = |bit: u32, c: char| if p & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c };
    let on = |bit: u32| if p & (1 << bit) != 0 { '+' } else { '-' };
    writeln!(
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
        on(22),
        on(23),
        on(25),
        on(24),
        on(12),
    )?;
    if regs.user_mode() {
        writeln!(w, "pc : {:016x}", regs.pc)?;
        writeln!(w, "lr : {:016x}", regs.regs[30])?;
    } else {
        write!(w, "pc : ")?;
        crate::kallsyms::write_symbol(w, symbols, regs.pc)?;
        write!(w, "\nlr : ")?;
        crate::kallsyms::write_symbol(w, symbols, regs.regs[30])?;
        writeln!(w)?;
    }
    writeln!(w, "sp : {:016x}", regs.sp)?;
    let mut i: i32 = 29;
    while i >= 0 {
        write!(w, "x{:<2}: {:016x}", i, regs.regs[i as usize])?;
        loop {
            let more = i % 3 != 0;
            i -= 1;
            if !more {
                break;
            }
            write!(w, " x{:<2}: {:016x}", i, regs.regs[i as usize])?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// `AARCH64_INSN_SIZE`: every A64 instruction, `svc` included, is 4 bytes.
pub const AARCH64_INSN_SIZE: u64 = 4;

/// `struct user_fpsimd_state`: v0-v31, FPSR, FPCR. The user FP/SIMD registers of a task
/// while it is not running, and of the running task while the kernel runs (the kernel's own
/// Rust code uses them, so the EL0 entry saves them and the return restores them).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfpState {
    pub vregs: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
    pub reserved: [u32; 2],
}

impl VfpState {
    /// The registers as a signal frame's `fpsimd_context` holds them
    /// (`fpsimd_signal_preserve_current_state`).
    pub fn to_sigframe(&self) -> crate::abi::arm64::signal::UserFpsimdState {
        crate::abi::arm64::signal::UserFpsimdState {
            vregs: self.vregs,
            fpsr: self.fpsr,
            fpcr: self.fpcr,
        }
    }
    /// The registers a checked `fpsimd_context` gives back (`restore_fpsimd_context`).
    pub fn from_sigframe(f: &crate::abi::arm64::signal::UserFpsimdState) -> VfpState {
        VfpState { vregs: f.vregs, fpsr: f.fpsr, fpcr: f.fpcr, reserved: [0; 2] }
    }
}

/// Offset of FPSR in [`VfpState`] (the entry code stores FPSR and FPCR as one pair there).
pub const FPSIMD_FPSR: usize = 512;
const _: () = {
    assert!(core::mem::size_of::<VfpState>() == 528);
    assert!(core::mem::offset_of!(VfpState, fpsr) == FPSIMD_FPSR);
    assert!(core::mem::offset_of!(VfpState, fpcr) == FPSIMD_FPSR + 4);
};

/// What a synchronous exception from EL0 asks of the kernel (6.1's `el0t_64_sync_handler`
/// switch on ESR_ELx.EC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserException {
    /// `el0_da`: a data abort at `addr` (FAR) with the ESR.
    DataAbort { addr: u64, esr: u64 },
    /// `el0_ia`: an instruction abort at `addr` with the ESR.
    InstructionAbort { addr: u64, esr: u64 },
    /// `el0_pc`/`el0_sp`: pc or sp misaligned (`SIGBUS`, `BUS_ADRALN`), at `addr`.
    Alignment { addr: u64, esr: u64 },
    /// `el0_undef` and every class 6.1 treats as one (`bad_el0_sync`): `SIGILL`.
    Undefined { esr: u64 },
    /// `el0_dbg` from a `BRK` (`SIGTRAP`, `TRAP_BRKPT`).
    Breakpoint { esr: u64 },
}

/// What an EL0 synchronous exception is: a system call (`el0_svc`) or a [`UserException`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El0Sync {
    Svc,
    Exception(UserException),
}

/// ESR_ELx.EC of a misaligned pc (`ESR_ELx_EC_PC_ALIGN`) and sp (`ESR_ELx_EC_SP_ALIGN`).
pub const EC_PC_ALIGN: u64 = 0x22;
pub const EC_SP_ALIGN: u64 = 0x26;

/// Classifies an EL0 synchronous exception by its ESR and FAR (`el0t_64_sync_handler`).
/// A misaligned pc reports the pc (`el0_pc` passes `regs->pc` as FAR); a misaligned sp
/// the sp.
pub fn classify_el0_sync(esr: u64, far: u64, regs: &PtRegs) -> El0Sync {
    let e = match esr::ec(esr) {
        esr::EC_SVC64 => return El0Sync::Svc,
        esr::EC_DABT_LOW => UserException::DataAbort { addr: far, esr },
        esr::EC_IABT_LOW => UserException::InstructionAbort { addr: far, esr },
        EC_PC_ALIGN => UserException::Alignment { addr: far, esr },
        EC_SP_ALIGN => UserException::Alignment { addr: regs.sp, esr },
        esr::EC_BRK64 => UserException::Breakpoint { esr },
        _ => UserException::Undefined { esr },
    };
    El0Sync::Exception(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::arm64::signal::{FpsimdContext, Sigcontext};

    /// `__show_regs` of a kernel frame: pc and lr as `%pS`, then sp and the register pairs.
    #[test]
    fn arm64syms_show_regs_names_pc_and_lr() {
        let table = b"ffff800008001000 T pivm::console::commands::system::cmd_crash\n\
ffff800008001200 T pivm::console::commands::console_loop\nffff800008001400 T end\n\0";
        let mut r = PtRegs::zeroed();
        r.pc = 0xffff_8000_0800_1064;
        r.regs[30] = 0xffff_8000_0800_1234;
        r.regs[29] = 0xffff_8000_0a00_7f20;
        r.sp = 0xffff_8000_0a00_7f00;
        r.pstate = 0x6000_0005;
        let mut s = String::new();
        write_regs(&mut s, &r, (0, "swapper/0"), table).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[2], "pstate: 60000005 (nZCv daif -PAN -UAO -TCO -DIT -SSBS BTYPE=--)");
        assert_eq!(lines[3], "pc : pivm::console::commands::system::cmd_crash+0x64/0x200");
        assert_eq!(lines[4], "lr : pivm::console::commands::console_loop+0x34/0x200");
        assert_eq!(lines[5], "sp : ffff80000a007f00");
        assert_eq!(lines[6], "x29: ffff80000a007f20 x28: 0000000000000000 x27: 0000000000000000");
        // An address outside the table is %pS's bare hex; a user frame's pc is never looked up.
        r.pc = 0x1000;
        s.clear();
        write_regs(&mut s, &r, (0, "swapper/0"), table).unwrap();
        assert!(s.contains("\npc : 0x1000\n"), "{s}");
        r.pstate = PSR_MODE_EL0T;
        r.pc = 0xffff_8000_0800_1064;
        s.clear();
        write_regs(&mut s, &r, (1, "init"), table).unwrap();
        assert!(s.contains("\npc : ffff800008001064\n"), "{s}");
    }

    #[test]
    fn syscall_accessors_read_x8_x0_x5_and_restart_over_svc() {
        // The frame el0_svc leaves for `write(1, buf, 5)` at pc 0x400100 (x8 = 64).
        let mut r = PtRegs::zeroed();
        r.regs[..6].copy_from_slice(&[1, 0x4a_0000, 5, 0, 0, 0]);
        r.regs[8] = 0xffff_ffff_0000_0040;
        r.orig_x0 = 1;
        r.syscallno = r.regs[8] as u32 as i32;
        r.pc = 0x40_0104;
        r.sp = 0xffff_ffff_f000;
        r.pstate = PSR_MODE_EL0T;
        assert_eq!(r.syscall_get_nr(), 64);
        assert_eq!(r.syscall_get_arguments(), [1, 0x4a_0000, 5, 0, 0, 0]);
        assert!(r.user_mode());
        assert_eq!(r.user_stack_pointer(), 0xffff_ffff_f000);
        // The result goes to x0 and leaves orig_x0 (the first argument) alone.
        r.set_return_value((-4i64) as usize);
        assert_eq!(r.return_value(), usize::MAX - 3);
        assert_eq!(r.syscall_get_arguments()[0], 1);
        r.restart_syscall();
        assert_eq!((r.regs[0], r.instruction_pointer()), (1, 0x40_0100));
        r.instruction_pointer_set(0x40_0200);
        r.user_stack_pointer_set(0x1000);
        assert_eq!((r.pc, r.sp), (0x40_0200, 0x1000));
    }

    fn field(layout: &crate::abi::wire::Layout, name: &str) -> usize {
        layout.fields.iter().find(|f| f.name == name).unwrap().offset
    }

    #[test]
    fn user_pt_regs_is_sigcontexts_register_block() {
        // sigcontext = fault_address, then user_pt_regs: the frame's first 272 bytes are
        // what setup_sigcontext copies, 8 bytes further on.
        let l = Sigcontext::LAYOUT;
        assert_eq!(field(&l, "regs"), 8);
        assert_eq!(field(&l, "sp") - 8, S_SP);
        assert_eq!(field(&l, "pc") - 8, S_PC);
        assert_eq!(field(&l, "pstate") - 8, S_PSTATE);
        assert_eq!(core::mem::offset_of!(PtRegs, regs), 0);
        assert_eq!(core::mem::offset_of!(PtRegs, regs) + 30 * 8, S_LR);
    }

    #[test]
    fn fpsimd_state_matches_the_signal_record() {
        // fpsimd_context = header (8), fpsr, fpcr, vregs at 16: the same registers.
        let l = FpsimdContext::LAYOUT;
        assert_eq!(field(&l, "vregs"), 16);
        assert_eq!(l.size - 16, FPSIMD_FPSR);
        assert_eq!(core::mem::size_of::<VfpState>(), 528);
    }

    #[test]
    fn zeroed_frame_is_no_syscall_and_user_mode_checks() {
        let mut r = PtRegs::zeroed();
        assert_eq!(r.syscallno, NO_SYSCALL);
        assert!(r.user_mode() && r.valid_user_return());
        r.pstate = 0x3c0; // EL0t, DAIF masked
        assert!(r.user_mode() && !r.valid_user_return());
        r.pstate = 0x3c5; // EL1h
        assert!(!r.user_mode());
        r.pstate = 0x10; // AArch32 user
        assert!(!r.user_mode());
    }

    #[test]
    fn el0_sync_classes() {
        let regs = PtRegs { sp: 0x7fff_fff1, ..PtRegs::zeroed() };
        let esr_of = |ec: u64, iss: u64| ec << 26 | esr::IL | iss;
        assert_eq!(classify_el0_sync(esr_of(0x15, 0), 0, &regs), El0Sync::Svc);
        let da = esr_of(0x24, 0x47); // write, level-3 translation fault
        assert_eq!(
            classify_el0_sync(da, 0x1234, &regs),
            El0Sync::Exception(UserException::DataAbort { addr: 0x1234, esr: da })
        );
        let ia = esr_of(0x20, 0x0f); // level-3 permission fault
        assert_eq!(
            classify_el0_sync(ia, 0x400000, &regs),
            El0Sync::Exception(UserException::InstructionAbort { addr: 0x400000, esr: ia })
        );
        let sp = esr_of(0x26, 0);
        assert_eq!(
            classify_el0_sync(sp, 0, &regs),
            El0Sync::Exception(UserException::Alignment { addr: 0x7fff_fff1, esr: sp })
        );
        let pc = esr_of(0x22, 0);
        assert_eq!(
            classify_el0_sync(pc, 0x400002, &regs),
            El0Sync::Exception(UserException::Alignment { addr: 0x400002, esr: pc })
        );
        let brk = esr_of(0x3c, 0x3e8);
        assert_eq!(
            classify_el0_sync(brk, 0, &regs),
            El0Sync::Exception(UserException::Breakpoint { esr: brk })
        );
        // UDF (EC 0) and any class 6.1 sends to bad_el0_sync are SIGILL.
        for ec in [0x00, 0x0e, 0x18, 0x2f] {
            let e = esr_of(ec, 0);
            assert_eq!(
                classify_el0_sync(e, 0, &regs),
                El0Sync::Exception(UserException::Undefined { esr: e })
            );
        }
    }
}
