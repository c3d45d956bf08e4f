//! ESR_ELx decoding as arm64 Linux 6.1 prints it in an oops (`esr_get_class_string`,
//! `mem_abort_decode`, `data_abort_decode`, the `fault_info[]` names of arch/arm64/mm/fault.c).
//! Pure: the oops path gives it the register's value.
use core::fmt::{self, Write};

/// Exception classes (`ESR_ELx_EC_*`) pivm meets.
pub const EC_UNKNOWN: u64 = 0x00;
pub const EC_SVC64: u64 = 0x15;
pub const EC_IABT_LOW: u64 = 0x20;
pub const EC_IABT_CUR: u64 = 0x21;
pub const EC_DABT_LOW: u64 = 0x24;
pub const EC_DABT_CUR: u64 = 0x25;
pub const EC_BRK64: u64 = 0x3c;

/// `ESR_ELx_EC(esr)`: bits 31:26.
pub const fn ec(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// `ESR_ELx_IL`: a 32-bit instruction trapped.
pub const IL: u64 = 1 << 25;
pub const ISS_MASK: u64 = (1 << 25) - 1;
/// Data abort ISS fields.
pub const ISV: u64 = 1 << 24;
pub const WNR: u64 = 1 << 6;
pub const CM: u64 = 1 << 8;
pub const EA: u64 = 1 << 9;
pub const FNV: u64 = 1 << 10;
pub const S1PTW: u64 = 1 << 7;
pub const FSC_MASK: u64 = 0x3f;

/// `esr_class_str[]`'s name for an exception class.
pub const fn class_string(ec: u64) -> &'static str {
    match ec {
        0x00 => "Unknown/Uncategorized",
        0x01 => "WFI/WFE",
        0x03 => "CP15 MCR/MRC",
        0x04 => "CP15 MCRR/MRRC",
        0x05 => "CP14 MCR/MRC",
        0x06 => "CP14 LDC/STC",
        0x07 => "ASIMD",
        0x08 => "CP10 MRC/VMRS",
        0x0c => "CP14 MCRR/MRRC",
        0x0d => "BTI",
        0x0e => "PSTATE.IL",
        0x11 => "SVC (AArch32)",
        0x12 => "HVC (AArch32)",
        0x13 => "SMC (AArch32)",
        0x15 => "SVC (AArch64)",
        0x16 => "HVC (AArch64)",
        0x17 => "SMC (AArch64)",
        0x18 => "MSR/MRS (AArch64)",
        0x19 => "SVE",
        0x1f => "EL3 IMP DEF",
        0x20 => "IABT (lower EL)",
        0x21 => "IABT (current EL)",
        0x22 => "PC Alignment",
        0x24 => "DABT (lower EL)",
        0x25 => "DABT (current EL)",
        0x26 => "SP Alignment",
        0x28 => "FP (AArch32)",
        0x2c => "FP (AArch64)",
        0x2f => "SError",
        0x30 => "Breakpoint (lower EL)",
        0x31 => "Breakpoint (current EL)",
        0x32 => "Software Step (lower EL)",
        0x33 => "Software Step (current EL)",
        0x34 => "Watchpoint (lower EL)",
        0x35 => "Watchpoint (current EL)",
        0x38 => "BKPT (AArch32)",
        0x3a => "Vector catch (AArch32)",
        0x3c => "BRK (AArch64)",
        _ => "UNRECOGNIZED EC",
    }
}

/// `fault_info[fsc].name` (arch/arm64/mm/fault.c).
pub fn fsc_name(fsc: u64) -> FscName {
    FscName(fsc & FSC_MASK)
}

/// The name of a fault status code (a Display so the "unknown N" names need no buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FscName(pub u64);

impl fmt::Display for FscName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match n {
            0 => write!(f, "ttbr address size fault"),
            1..=3 => write!(f, "level {n} address size fault"),
            4..=7 => write!(f, "level {} translation fault", n - 4),
            9..=11 => write!(f, "level {} access flag fault", n - 8),
            13..=15 => write!(f, "level {} permission fault", n - 12),
            16 => write!(f, "synchronous external abort"),
            17 => write!(f, "synchronous tag check fault"),
            20..=23 => write!(f, "level {} (translation table walk)", n - 20),
            24 => write!(f, "synchronous parity or ECC error"),
            28..=31 => {
                write!(f, "level {} synchronous parity error (translation table walk)", n - 28)
            }
            33 => write!(f, "alignment fault"),
            48 => write!(f, "TLB conflict abort"),
            49 => write!(f, "Unsupported atomic hardware update fault"),
            52 => write!(f, "implementation fault (lockdown abort)"),
            53 => write!(f, "implementation fault (unsupported exclusive)"),
            61 => write!(f, "section domain fault"),
            62 => write!(f, "page domain fault"),
            _ => write!(f, "unknown {n}"),
        }
    }
}

/// Whether the ESR is a data abort (`esr_is_data_abort`).
pub const fn is_data_abort(esr: u64) -> bool {
    let c = ec(esr);
    c == EC_DABT_LOW || c == EC_DABT_CUR
}

/// Whether an abort was a write (`is_write_abort`: WnR, and not a cache maintenance op).
pub const fn is_write_abort(esr: u64) -> bool {
    esr & WNR != 0 && esr & CM == 0
}

/// Whether the fault status is a translation fault (`is_translation_fault`).
pub const fn is_translation_fault(esr: u64) -> bool {
    (esr & FSC_MASK) & !3 == 4
}

/// `mem_abort_decode()`: the "Mem abort info:" block (and "Data abort info:" for a data
/// abort), one `pr_alert` per line.
pub fn write_mem_abort_decode(w: &mut impl Write, esr: u64) -> fmt::Result {
    writeln!(w, "Mem abort info:")?;
    writeln!(w, "  ESR = {esr:#018x}")?;
    let c = ec(esr);
    writeln!(
        w,
        "  EC = {c:#04x}: {}, IL = {} bits",
        class_string(c),
        if esr & IL != 0 { 32 } else { 16 }
    )?;
    writeln!(w, "  SET = {}, FnV = {}", (esr >> 11) & 3, (esr & FNV) >> 10)?;
    writeln!(w, "  EA = {}, S1PTW = {}", (esr & EA) >> 9, (esr & S1PTW) >> 7)?;
    writeln!(w, "  FSC = {:#04x}: {}", esr & FSC_MASK, fsc_name(esr))?;
    if is_data_abort(esr) {
        writeln!(w, "Data abort info:")?;
        if esr & ISV != 0 {
            writeln!(w, "  Access size = {} byte(s)", 1u32 << ((esr >> 22) & 3))?;
            writeln!(w, "  SSE = {}, SRT = {}", (esr >> 21) & 1, (esr >> 16) & 0x1f)?;
            writeln!(w, "  SF = {}, AR = {}", (esr >> 15) & 1, (esr >> 14) & 1)?;
        } else {
            writeln!(w, "  ISV = 0, ISS = {:#010x}", esr & ISS_MASK)?;
        }
        writeln!(w, "  CM = {}, WnR = {}", (esr & CM) >> 8, (esr & WNR) >> 6)?;
    }
    Ok(())
}

/// `__do_kernel_fault`'s first line: "NULL pointer dereference" below a page, "paging
/// request" otherwise (the "write to read-only memory"/"execute from non-executable memory"
/// cases for permission faults on kernel addresses, as `is_el1_permission_fault` picks them).
pub fn kernel_fault_msg(addr: u64, esr: u64) -> &'static str {
    let perm = (esr & FSC_MASK) & !3 == 12;
    if perm && ec(esr) == EC_IABT_CUR {
        "execute from non-executable memory"
    } else if perm && is_write_abort(esr) {
        "write to read-only memory"
    } else if addr < 4096 {
        "NULL pointer dereference"
    } else {
        "paging request"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    /// A kernel load from NULL with TTBR0 walks disabled: a level-0 translation fault,
    /// Linux's ESR 0x96000004 (EC 0x25, IL, ISV 0, FSC 4).
    #[test]
    fn null_load_decodes_as_linux_prints_it() {
        let esr = 0x9600_0004;
        assert!(is_data_abort(esr) && is_translation_fault(esr) && !is_write_abort(esr));
        let mut s = String::new();
        write_mem_abort_decode(&mut s, esr).unwrap();
        assert_eq!(
            s,
            "Mem abort info:\n  ESR = 0x0000000096000004\n  EC = 0x25: DABT (current EL), IL = 32 bits\n  \
             SET = 0, FnV = 0\n  EA = 0, S1PTW = 0\n  FSC = 0x04: level 0 translation fault\n\
             Data abort info:\n  ISV = 0, ISS = 0x00000004\n  CM = 0, WnR = 0\n"
        );
        assert_eq!(kernel_fault_msg(0, esr), "NULL pointer dereference");
    }

    #[test]
    fn write_with_valid_syndrome() {
        // STR w1, [x0] to a read-only page: ISV, SAS=2 (4 bytes), SRT=1, WnR, level 3 permission.
        let esr = 0x9600_0000 | ISV | (2 << 22) | (1 << 16) | WNR | 0xf;
        let mut s = String::new();
        write_mem_abort_decode(&mut s, esr).unwrap();
        assert!(s.contains("  Access size = 4 byte(s)\n  SSE = 0, SRT = 1\n  SF = 0, AR = 0\n"));
        assert!(s.contains("FSC = 0x0f: level 3 permission fault"));
        assert!(s.contains("CM = 0, WnR = 1"));
        assert_eq!(kernel_fault_msg(0xffff_8000_0800_0000, esr), "write to read-only memory");
    }

    #[test]
    fn names() {
        assert_eq!(class_string(ec(0x5600_0000)), "SVC (AArch64)");
        assert_eq!(class_string(0x3d), "UNRECOGNIZED EC");
        assert_eq!(fsc_name(0x21).to_string(), "alignment fault");
        assert_eq!(fsc_name(8).to_string(), "unknown 8");
        assert_eq!(fsc_name(0x0b).to_string(), "level 3 access flag fault");
    }
}

/// A kernel access absorbed by an exception-table fixup (`peek`/`poke`): where it faulted
/// and the syndrome, shown as the 32-bit kernel shows its `Fault`, with the ESR decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// FAR_EL1.
    pub addr: u64,
    pub esr: u64,
}

impl Fault {
    /// The faulting address (FAR), as the shared uaccess code resolves it.
    pub fn address(&self) -> usize {
        self.addr as usize
    }
    /// The status register the architecture's `decode_abort` reads: the ESR (bits 63:32
    /// are RES0 on ARMv8.0).
    pub fn status(&self) -> u32 {
        self.esr as u32
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault at virtual address {:016x}: {} (ESR {:#010x}, {})",
            self.addr,
            fsc_name(self.esr),
            self.esr,
            class_string(ec(self.esr))
        )
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    #[test]
    fn a_fixed_up_fault_names_its_level_and_class() {
        let f = Fault { addr: 0, esr: 0x9600_0004 };
        assert_eq!(
            f.to_string(),
            "fault at virtual address 0000000000000000: level 0 translation fault \
             (ESR 0x96000004, DABT (current EL))"
        );
        let w = Fault { addr: 0xffff_8000_0801_0000, esr: 0x9600_004f };
        assert!(w.to_string().contains("level 3 permission fault"), "{w}");
    }
}
