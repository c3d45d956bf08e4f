//! How arm64 Linux 6.1 handles an abort taken from EL0 (arch/arm64/mm/fault.c): the ESR's
//! fault status code picks the `fault_info[]` row (translation faults and, for user
//! addresses, access-flag and permission faults go to `do_page_fault`; alignment faults are
//! `SIGBUS`/`BUS_ADRALN`; external aborts and the rest are the row's signal), and for the
//! page-fault path the access decides which VMA flags allow it (`do_page_fault`'s
//! `vm_flags`: an instruction fetch needs `VM_EXEC`, a write `VM_WRITE`, a read any of
//! read, write or exec on a CPU without EPAN such as the Cortex-A53). The signal a failed
//! fault raises is `__do_user_fault`'s: `SEGV_MAPERR` without a VMA, `SEGV_ACCERR` when the
//! VMA forbids the access, `BUS_ADRERR` for `VM_FAULT_SIGBUS`. Pure, host-tested; the arm64
//! kernel's EL0 exception path (next stage) hands the shared fault code what this decides.
use super::esr::{self, ec, FSC_MASK};
use super::ptrace::UserException;
use crate::abi::arm64::signal::{si_code, sig};
use crate::mm::memory::{FaultFlags, UserTrap};
use crate::mm::mm_types::VmFlags;

/// `ESR_ELx_EC_PC_ALIGN` and `ESR_ELx_EC_SP_ALIGN`: misaligned pc or sp at EL0.
pub const EC_PC_ALIGN: u64 = 0x22;
pub const EC_SP_ALIGN: u64 = 0x26;

/// What kind of abort the fault status code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortKind {
    /// FSC 0-3: address size fault at a level.
    AddressSize(u8),
    /// FSC 4-7: translation fault (no valid descriptor) at a level.
    Translation(u8),
    /// FSC 9-11: access flag fault (AF clear) at a level.
    AccessFlag(u8),
    /// FSC 13-15: permission fault at a level.
    Permission(u8),
    /// FSC 33: alignment fault.
    Alignment,
    /// FSC 16, 20-24, 28-31: a synchronous external abort or parity error.
    External,
    /// Anything else `fault_info[]` names `do_bad`.
    Other(u8),
}

impl AbortKind {
    /// The kind of the ESR's fault status code.
    pub const fn of(esr: u64) -> Self {
        let fsc = (esr & FSC_MASK) as u8;
        match fsc {
            0..=3 => AbortKind::AddressSize(fsc),
            4..=7 => AbortKind::Translation(fsc - 4),
            9..=11 => AbortKind::AccessFlag(fsc - 8),
            13..=15 => AbortKind::Permission(fsc - 12),
            33 => AbortKind::Alignment,
            16 | 20..=24 | 28..=31 => AbortKind::External,
            _ => AbortKind::Other(fsc),
        }
    }
}

/// The access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Access {
    /// `is_el0_instruction_abort` / `is_write_abort` / a read.
    pub const fn of(esr: u64) -> Self {
        if ec(esr) == esr::EC_IABT_LOW {
            Access::Exec
        } else if esr::is_write_abort(esr) {
            Access::Write
        } else {
            Access::Read
        }
    }

    /// `do_page_fault`'s `vm_flags`: a VMA with any of these flags allows the access (no
    /// EPAN on the Cortex-A53, so exec-only memory is readable).
    pub fn allowed_by(self) -> VmFlags {
        match self {
            Access::Exec => VmFlags::EXEC,
            Access::Write => VmFlags::WRITE,
            Access::Read => VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC,
        }
    }
}

/// A signal and its `si_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    pub signo: u32,
    pub code: i32,
}

/// What happens to an EL0 abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El0Abort {
    /// `do_page_fault`: the VMAs decide ([`user_fault_signal`] when they refuse).
    PageFault(Access),
    /// A signal at once (`do_bad_area`, `do_alignment_fault`, `do_sea`, `do_bad`), with the
    /// faulting address as `si_addr`.
    Signal(Signal),
}

/// `fault_info[fsc]` and its handler for an abort (EC 0x20 or 0x24) or a pc/sp alignment
/// fault taken from EL0 at `far`, with user space below `task_size`: translation faults on
/// user addresses and access-flag/permission faults go to `do_page_fault` (a kernel
/// address finds no VMA there: `SEGV_MAPERR`); a translation fault above `TASK_SIZE` is
/// `do_bad_area`'s `SEGV_MAPERR` at once. `None` for an ESR that is no abort.
pub const fn classify_el0_abort(esr: u64, far: u64, task_size: u64) -> Option<El0Abort> {
    let c = ec(esr);
    if c == EC_PC_ALIGN || c == EC_SP_ALIGN {
        return Some(El0Abort::Signal(Signal { signo: sig::SIGBUS, code: si_code::BUS_ADRALN }));
    }
    if c != esr::EC_IABT_LOW && c != esr::EC_DABT_LOW {
        return None;
    }
    let access = Access::of(esr);
    let segv_maperr = Signal { signo: sig::SIGSEGV, code: si_code::SEGV_MAPERR };
    Some(match AbortKind::of(esr) {
        AbortKind::Translation(_) if far < task_size => El0Abort::PageFault(access),
        AbortKind::Translation(_) => El0Abort::Signal(segv_maperr),
        AbortKind::AccessFlag(_) | AbortKind::Permission(_) => El0Abort::PageFault(access),
        AbortKind::Alignment => {
            El0Abort::Signal(Signal { signo: sig::SIGBUS, code: si_code::BUS_ADRALN })
        }
        // do_sea: FSC 16 and 24 are SIGBUS/BUS_OBJERR, the table-walk ones SIGKILL.
        AbortKind::External if (esr & FSC_MASK) == 16 || (esr & FSC_MASK) == 24 => {
            El0Abort::Signal(Signal { signo: sig::SIGBUS, code: si_code::BUS_OBJERR })
        }
        AbortKind::External | AbortKind::AddressSize(_) | AbortKind::Other(_) => {
            El0Abort::Signal(Signal { signo: sig::SIGKILL, code: si_code::SI_KERNEL })
        }
    })
}

/// What `do_page_fault` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageFaultResult {
    /// No VMA covers the address (`VM_FAULT_BADMAP`).
    BadMap,
    /// The VMA's flags do not allow the access (`VM_FAULT_BADACCESS`).
    BadAccess,
    /// The fault handler could not supply the page (a file page past EOF: `VM_FAULT_SIGBUS`).
    SigBus,
}

/// `__do_user_fault`'s signal for a page fault that failed.
pub const fn user_fault_signal(result: PageFaultResult) -> Signal {
    match result {
        PageFaultResult::BadMap => Signal { signo: sig::SIGSEGV, code: si_code::SEGV_MAPERR },
        PageFaultResult::BadAccess => Signal { signo: sig::SIGSEGV, code: si_code::SEGV_ACCERR },
        PageFaultResult::SigBus => Signal { signo: sig::SIGBUS, code: si_code::BUS_ADRERR },
    }
}

/// `do_page_fault`'s verdict for `access` at an address covered by a VMA with `vma_flags`
/// (`None`: no VMA): allowed (`None`), or the failure.
pub fn check_vma_access(access: Access, vma_flags: Option<VmFlags>) -> Option<PageFaultResult> {
    match vma_flags {
        None => Some(PageFaultResult::BadMap),
        Some(f) if !f.intersects(access.allowed_by()) => Some(PageFaultResult::BadAccess),
        Some(_) => None,
    }
}

/// The signal frame's `trap_no` of a fault: arm64's frame has none.
pub const TRAP_ABORT: u32 = 0;

/// What the shared fault code makes of an EL0 exception (`el0t_64_sync_handler`'s cases):
/// aborts and pc/sp alignment faults as [`classify_el0_abort`] decides for a process whose
/// `TASK_SIZE` is `task_size`, an undefined instruction `SIGILL`/`ILL_ILLOPC` and a `BRK`
/// `SIGTRAP`/`TRAP_BRKPT` at `pc`. The ESR is the frame's `esr_context` (`raw`; bits 63:32
/// are RES0 on ARMv8.0).
pub fn decode_user_exception(e: UserException, pc: u64, task_size: u64) -> UserTrap {
    let signal = |addr: u64, signo, code, esr: u64| UserTrap::Signal {
        addr: addr as usize,
        signo,
        code,
        trap_no: TRAP_ABORT,
        raw: esr as u32,
    };
    match e {
        UserException::DataAbort { addr, esr }
        | UserException::InstructionAbort { addr, esr }
        | UserException::Alignment { addr, esr } => {
            match classify_el0_abort(esr, addr, task_size) {
                Some(El0Abort::PageFault(access)) => UserTrap::PageFault {
                    addr: addr as usize,
                    flags: FaultFlags {
                        write: access == Access::Write,
                        instruction: access == Access::Exec,
                        tried: false,
                    },
                    raw: esr as u32,
                },
                Some(El0Abort::Signal(s)) => signal(addr, s.signo, s.code, esr),
                // Not an abort class: `bad_el0_sync`'s SIGILL.
                None => signal(pc, sig::SIGILL, si_code::ILL_ILLOPC, esr),
            }
        }
        UserException::Undefined { esr } => signal(pc, sig::SIGILL, si_code::ILL_ILLOPC, esr),
        UserException::Breakpoint { esr } => signal(pc, sig::SIGTRAP, si_code::TRAP_BRKPT, esr),
    }
}

/// arm64 reports a fatal user fault by default (`arm64_show_signal` under
/// `show_unhandled_signals`), not only under ARM's `user_debug=`.
pub const SHOWS_UNHANDLED_SIGNALS: bool = true;

/// `arm64_show_signal` for a user fault that kills the task (the report 6.1 prints with
/// `show_unhandled_signals`): `comm[pid]: unhandled exception: `, the ESR's class and value,
/// the fault's name (`fault_info[].name`; pc/sp alignment has its own), `print_vma_addr`'s
/// ` in file[start+size]` for the file VMA at pc (`vma`: the file's base name, start, size),
/// then `__show_regs`. `_pgd` and `_addr`/`_sig` are what ARM's report prints; arm64's does
/// not show them.
#[allow(clippy::too_many_arguments)]
pub fn show_user_fault(
    w: &mut impl core::fmt::Write,
    _pgd: Option<u64>,
    _addr: usize,
    _sig: u32,
    esr: u32,
    regs: &super::ptrace::PtRegs,
    who: (u32, &str),
    vma: Option<(&str, usize, usize)>,
) -> core::fmt::Result {
    let esr = u64::from(esr);
    write!(w, "{}[{}]: unhandled exception: ", who.1, who.0)?;
    if esr != 0 {
        write!(w, "{}, ESR 0x{esr:016x}, ", esr::class_string(ec(esr)))?;
    }
    match ec(esr) {
        EC_PC_ALIGN | EC_SP_ALIGN => write!(w, "SP/PC alignment exception")?,
        _ => write!(w, "{}", esr::fsc_name(esr))?,
    }
    if let Some((file, start, size)) = vma {
        write!(w, " in {file}[{start:x}+{size:x}]")?;
    }
    writeln!(w)?;
    // A user frame: pc and lr print raw, no symbol table needed.
    super::ptrace::write_regs(w, regs, who, &[])
}

/// `do_page_fault` for an abort at user address `addr` that the kernel took on behalf of the
/// task (a `copy_*_user` caught by its fixup: EC 0x25 from EL1, or 0x24/0x20 from EL0): the
/// ESR's fault status and WnR decide as for an EL0 abort (`instruction`: a fetch, ARM's
/// prefetch abort), the shared name ARM's `fsr::decode_abort` has. The caller checked
/// `addr` against `TASK_SIZE`.
pub fn decode_abort(addr: usize, esr: u32, instruction: bool) -> UserTrap {
    const EC_SHIFT: u32 = 26;
    let class = if instruction { esr::EC_IABT_LOW } else { esr::EC_DABT_LOW };
    let low = (u64::from(esr) & !(0x3f << EC_SHIFT)) | (class << EC_SHIFT);
    let (addr, esr) = (addr as u64, low);
    let e = if instruction {
        UserException::InstructionAbort { addr, esr }
    } else {
        UserException::DataAbort { addr, esr }
    };
    decode_user_exception(e, 0, u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK_SIZE: u64 = 1 << 48;
    /// ESRs as the Cortex-A53 reports them from EL0 (EC << 26 | IL | ISS).
    const DABT_EL0: u64 = (esr::EC_DABT_LOW << 26) | esr::IL;
    const IABT_EL0: u64 = (esr::EC_IABT_LOW << 26) | esr::IL;

    /// A kernel write to user memory (EC 0x25) that found no PTE, and one that met a
    /// read-only PTE: page faults as from EL0; an external abort is no page fault.
    #[test]
    fn uaccess_aborts_decode_as_user_ones() {
        let cur = (esr::EC_DABT_CUR << 26) | esr::IL;
        let flags = |t: UserTrap| match t {
            UserTrap::PageFault { flags, addr, .. } => Some((flags.write, flags.instruction, addr)),
            UserTrap::Signal { .. } => None,
        };
        let w = decode_abort(0x40_1000, (cur | esr::WNR | 7) as u32, false);
        assert_eq!(flags(w), Some((true, false, 0x40_1000)));
        let r = decode_abort(0x40_1000, (cur | 0x0f) as u32, false);
        assert_eq!(flags(r), Some((false, false, 0x40_1000)));
        assert_eq!(
            flags(decode_abort(0x40_1000, (cur | 0x0b) as u32, false)),
            Some((false, false, 0x40_1000))
        );
        assert_eq!(flags(decode_abort(0x40_1000, (cur | 0x10) as u32, false)), None);
    }

    #[test]
    fn user_exceptions_decode_to_the_shared_fault_path() {
        let pf = |write, instruction, addr: u64, esr: u64| UserTrap::PageFault {
            addr: addr as usize,
            flags: FaultFlags { write, instruction, tried: false },
            raw: esr as u32,
        };
        // A write to the stack's first page (level-3 translation fault, WnR).
        let e = DABT_EL0 | esr::WNR | 7;
        let d = decode_user_exception(
            UserException::DataAbort { addr: 0xffff_ffff_e000, esr: e },
            0x40_0100,
            TASK_SIZE,
        );
        assert_eq!(d, pf(true, false, 0xffff_ffff_e000, e));
        // A read of a page whose access flag is clear (level 3).
        let e = DABT_EL0 | 11;
        let d = decode_user_exception(
            UserException::DataAbort { addr: 0x40_1000, esr: e },
            0,
            TASK_SIZE,
        );
        assert_eq!(d, pf(false, false, 0x40_1000, e));
        // A fetch from a non-executable page: a permission fault, FAULT_FLAG_INSTRUCTION.
        let e = IABT_EL0 | 15;
        let d = decode_user_exception(
            UserException::InstructionAbort { addr: 0x4a_0000, esr: e },
            0x4a_0000,
            TASK_SIZE,
        );
        assert_eq!(d, pf(false, true, 0x4a_0000, e));
        // A translation fault above TASK_SIZE: SEGV_MAPERR at once, no trap number.
        let e = DABT_EL0 | 4;
        let d =
            decode_user_exception(UserException::DataAbort { addr: 1 << 48, esr: e }, 0, TASK_SIZE);
        let want = UserTrap::Signal {
            addr: 1 << 48,
            signo: sig::SIGSEGV,
            code: si_code::SEGV_MAPERR,
            trap_no: 0,
            raw: e as u32,
        };
        assert_eq!(d, want);
        // An undefined instruction and a BRK: SIGILL and SIGTRAP at pc.
        let d = decode_user_exception(
            UserException::Undefined { esr: 0x0200_0000 },
            0x40_0200,
            TASK_SIZE,
        );
        assert!(matches!(
            d,
            UserTrap::Signal { addr: 0x40_0200, signo: sig::SIGILL, code: si_code::ILL_ILLOPC, .. }
        ));
        let d = decode_user_exception(
            UserException::Breakpoint { esr: 0xf200_0000 },
            0x40_0204,
            TASK_SIZE,
        );
        assert!(matches!(
            d,
            UserTrap::Signal {
                addr: 0x40_0204,
                signo: sig::SIGTRAP,
                code: si_code::TRAP_BRKPT,
                ..
            }
        ));
    }

    #[test]
    fn fault_status_codes_name_their_kind() {
        assert_eq!(AbortKind::of(DABT_EL0 | 0x07), AbortKind::Translation(3));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x04), AbortKind::Translation(0));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x0b), AbortKind::AccessFlag(3));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x0f), AbortKind::Permission(3));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x0d), AbortKind::Permission(1));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x21), AbortKind::Alignment);
        assert_eq!(AbortKind::of(DABT_EL0 | 0x10), AbortKind::External);
        assert_eq!(AbortKind::of(DABT_EL0 | 0x02), AbortKind::AddressSize(2));
        assert_eq!(AbortKind::of(DABT_EL0 | 0x08), AbortKind::Other(8));
    }

    #[test]
    fn reads_writes_and_fetches() {
        assert_eq!(Access::of(DABT_EL0 | 0x07), Access::Read);
        assert_eq!(Access::of(DABT_EL0 | esr::WNR | 0x0f), Access::Write);
        // A cache maintenance op sets WnR but is a read (is_write_abort).
        assert_eq!(Access::of(DABT_EL0 | esr::WNR | esr::CM | 0x07), Access::Read);
        assert_eq!(Access::of(IABT_EL0 | 0x0f), Access::Exec);
    }

    #[test]
    fn el0_aborts_go_where_linux_sends_them() {
        let pf = |esr, far| classify_el0_abort(esr, far, TASK_SIZE);
        let segv = |code| El0Abort::Signal(Signal { signo: sig::SIGSEGV, code });
        // A NULL read: a translation fault on a user address, for the VMAs to judge.
        assert_eq!(pf(DABT_EL0 | 0x04, 0), Some(El0Abort::PageFault(Access::Read)));
        // A write to read-only text: a permission fault, the VMA decides (ACCERR below).
        let w = DABT_EL0 | esr::WNR | 0x0f;
        assert_eq!(pf(w, 0x40_0530), Some(El0Abort::PageFault(Access::Write)));
        // Executing a PROT_READ page: an instruction abort's permission fault.
        assert_eq!(pf(IABT_EL0 | 0x0f, 0x55_0080_3000), Some(El0Abort::PageFault(Access::Exec)));
        // A kernel address: no translation through TTBR0 for it: SEGV_MAPERR at once.
        let kernel = 0xffff_8000_0800_0000;
        assert_eq!(pf(DABT_EL0 | 0x06, kernel), Some(segv(si_code::SEGV_MAPERR)));
        // A permission fault on it goes to do_page_fault, which finds no VMA: MAPERR too.
        assert_eq!(pf(DABT_EL0 | 0x0f, kernel), Some(El0Abort::PageFault(Access::Read)));
        assert_eq!(
            user_fault_signal(check_vma_access(Access::Read, None).unwrap()),
            Signal { signo: sig::SIGSEGV, code: si_code::SEGV_MAPERR }
        );
        let bus = |code| El0Abort::Signal(Signal { signo: sig::SIGBUS, code });
        assert_eq!(pf(DABT_EL0 | 0x21, 0x1001), Some(bus(si_code::BUS_ADRALN)));
        assert_eq!(pf(EC_PC_ALIGN << 26 | esr::IL, 0x40_0002), Some(bus(si_code::BUS_ADRALN)));
        assert_eq!(pf(EC_SP_ALIGN << 26 | esr::IL, 0x7fff_0008), Some(bus(si_code::BUS_ADRALN)));
        assert_eq!(pf(DABT_EL0 | 0x10, 0x1000), Some(bus(si_code::BUS_OBJERR)));
        let kill = El0Abort::Signal(Signal { signo: sig::SIGKILL, code: si_code::SI_KERNEL });
        assert_eq!(pf(DABT_EL0 | 0x15, 0x1000), Some(kill));
        assert_eq!(pf(DABT_EL0 | 0x30, 0x1000), Some(kill));
        // Not an EL0 abort: an SVC, or an abort taken at EL1.
        assert_eq!(pf(esr::EC_SVC64 << 26, 0), None);
        assert_eq!(pf((esr::EC_DABT_CUR << 26) | 0x07, 0), None);
    }

    #[test]
    fn the_vma_decides_maperr_and_accerr() {
        let rx = VmFlags::READ | VmFlags::EXEC;
        let r = VmFlags::READ;
        assert_eq!(check_vma_access(Access::Read, Some(rx)), None);
        assert_eq!(check_vma_access(Access::Write, Some(rx)), Some(PageFaultResult::BadAccess));
        assert_eq!(check_vma_access(Access::Exec, Some(r)), Some(PageFaultResult::BadAccess));
        // No EPAN: an exec-only or write-only mapping is readable.
        assert_eq!(check_vma_access(Access::Read, Some(VmFlags::EXEC)), None);
        assert_eq!(check_vma_access(Access::Read, Some(VmFlags::WRITE)), None);
        // PROT_NONE refuses everything.
        assert_eq!(
            check_vma_access(Access::Read, Some(VmFlags::empty())),
            Some(PageFaultResult::BadAccess)
        );
        assert_eq!(check_vma_access(Access::Read, None), Some(PageFaultResult::BadMap));
        assert_eq!(
            user_fault_signal(PageFaultResult::BadAccess),
            Signal { signo: sig::SIGSEGV, code: si_code::SEGV_ACCERR }
        );
        assert_eq!(
            user_fault_signal(PageFaultResult::SigBus),
            Signal { signo: sig::SIGBUS, code: si_code::BUS_ADRERR }
        );
    }

    #[test]
    fn a_kernel_user_access_fault_decodes_as_the_user_abort() {
        // STTR at EL1 on a read-only user page: EC 0x25, WnR, level-3 permission fault.
        let esr = ((esr::EC_DABT_CUR << 26) | esr::IL | (1 << 6) | 0x0f) as u32;
        let flags = FaultFlags { write: true, instruction: false, tried: false };
        assert_eq!(
            decode_abort(0x40_1000, esr, false),
            UserTrap::PageFault {
                addr: 0x40_1000,
                flags,
                raw: (esr & !(0x3f << 26)) | (0x24 << 26)
            }
        );
        // LDTR on an unmapped page: level-3 translation fault, a read.
        let esr = ((esr::EC_DABT_CUR << 26) | esr::IL | 0x07) as u32;
        let UserTrap::PageFault { flags, .. } = decode_abort(0x7f_0000, esr, false) else {
            panic!("a translation fault goes to the fault path")
        };
        assert!(!flags.write && !flags.instruction);
        // An external abort is no page fault: a signal.
        let esr = ((esr::EC_DABT_CUR << 26) | esr::IL | 0x10) as u32;
        assert!(matches!(decode_abort(0x40_0000, esr, false), UserTrap::Signal { .. }));
    }

    #[test]
    fn unhandled_user_fault_report_is_arm64_show_signals() {
        let mut regs = crate::arch::arm64::ptrace::PtRegs::zeroed();
        regs.pc = 0x40_0584;
        regs.sp = 0xffff_ffff_f000;
        regs.regs[30] = 0x40_0600;
        let esr = ((esr::EC_DABT_LOW << 26) | esr::IL | (1 << 6) | 0x07) as u32;
        let mut out = alloc::string::String::new();
        show_user_fault(
            &mut out,
            None,
            0,
            11,
            esr,
            &regs,
            (42, "crash"),
            Some(("crash", 0x40_0000, 0x1000)),
        )
        .unwrap();
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some(
                "crash[42]: unhandled exception: DABT (lower EL), ESR 0x0000000092000047, \
                 level 3 translation fault in crash[400000+1000]"
            )
        );
        assert!(lines.next().unwrap().starts_with("CPU: 0 PID: 42 Comm: crash Not tainted"));
        assert_eq!(lines.next(), Some("Hardware name: Raspberry Pi 3 Model B (DT)"));
        assert!(lines.next().unwrap().starts_with("pstate: 00000000 (nzcv daif -PAN"));
        assert_eq!(lines.next(), Some("pc : 0000000000400584"));
        assert_eq!(lines.next(), Some("lr : 0000000000400600"));
        assert_eq!(lines.next(), Some("sp : 0000fffffffff000"));
        assert_eq!(lines.count(), 10, "x29..x0, three a line");
    }
}
