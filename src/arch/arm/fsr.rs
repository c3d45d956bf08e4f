//! Decoding of the short-descriptor fault status (DFSR/IFSR), with the ARMv7 ARM's fault names
//! in the wording of Linux's `fsr_info` table, and whether the access was a write.

use crate::abi::arm::signal::si_code::BUS_ADRALN;
use crate::abi::arm::signal::sig;
use crate::mm::memory::{FaultFlags, UserTrap};

/// `FS[4]` is FSR bit 10; `FS[3:0]` are bits 3:0.
pub fn fault_status(fsr: u32) -> u32 {
    ((fsr >> 6) & 0x10) | (fsr & 0xf)
}

/// WnR: the faulting access was a write (DFSR only).
pub const FSR_WRITE: u32 = 1 << 11;

/// CM: the abort came from a cache maintenance operation (never a write to the page).
pub const FSR_CM: u32 = 1 << 13;

/// What the fault path makes of an abort with status `fsr` at `addr` (`instruction`: a
/// prefetch abort): translation (section/page), access-flag and permission faults are page
/// faults (`do_translation_fault`, `do_page_fault` in Linux's `fsr_info`), a write when WnR
/// says so and no cache maintenance did it; every other status is `SIGBUS`.
pub fn decode_abort(addr: usize, fsr: u32, instruction: bool) -> UserTrap {
    if matches!(fault_status(fsr), 0x05 | 0x06 | 0x07 | 0x0d | 0x0f) {
        let write = !instruction && fsr & FSR_WRITE != 0 && fsr & FSR_CM == 0;
        UserTrap::PageFault {
            addr,
            flags: FaultFlags { write, instruction, tried: false },
            raw: fsr,
        }
    } else {
        UserTrap::Signal {
            addr,
            signo: sig::SIGBUS,
            code: BUS_ADRALN,
            trap_no: TRAP_ABORT,
            raw: fsr,
        }
    }
}

/// `trap_no` of an abort in the signal frame (the exception vector's number).
pub const TRAP_ABORT: u32 = 14;

/// Linux-style name of a fault status code.
pub fn fault_name(fsr: u32) -> &'static str {
    match fault_status(fsr) {
        0x01 | 0x03 => "alignment exception",
        0x02 => "debug event",
        0x04 => "fault on instruction cache maintenance",
        0x05 => "section translation fault",
        0x06 => "page access flag fault",
        0x07 => "page translation fault",
        0x08 => "external abort on non-linefetch",
        0x09 => "section domain fault",
        0x0b => "page domain fault",
        0x0c => "external abort on translation (first level)",
        0x0e => "external abort on translation (second level)",
        0x0d => "section permission fault",
        0x0f => "page permission fault",
        0x10 => "TLB conflict abort",
        0x16 => "asynchronous external abort",
        0x18 => "asynchronous parity error",
        0x19 => "synchronous parity error",
        0x1c => "parity error on translation (first level)",
        0x1e => "parity error on translation (second level)",
        _ => "unknown fault",
    }
}

/// "read" / "write" / "execute", as Linux's `__do_kernel_fault` says it.
pub fn access_kind(fsr: u32, instruction: bool) -> &'static str {
    if instruction {
        "execute"
    } else if fsr & FSR_WRITE != 0 {
        "write"
    } else {
        "read"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aborts_decode_to_page_faults_or_sigbus() {
        let pf = |write, instruction, raw| UserTrap::PageFault {
            addr: 0x1000,
            flags: FaultFlags { write, instruction, tried: false },
            raw,
        };
        // Page translation fault on a write; the same from a cache maintenance operation.
        assert_eq!(decode_abort(0x1000, 0x807, false), pf(true, false, 0x807));
        assert_eq!(decode_abort(0x1000, 0x807 | FSR_CM, false), pf(false, false, 0x807 | FSR_CM));
        // Section translation, access flag (page), permission (page) faults.
        assert_eq!(decode_abort(0x1000, 0x005, false), pf(false, false, 0x005));
        assert_eq!(decode_abort(0x1000, 0x006, false), pf(false, false, 0x006));
        assert_eq!(decode_abort(0x1000, 0x00f, true), pf(false, true, 0x00f));
        // WnR means nothing in an IFSR.
        assert_eq!(decode_abort(0x1000, 0x80d, true), pf(false, true, 0x80d));
        // An alignment fault and a synchronous external abort are SIGBUS.
        for fsr in [0x001, 0x408] {
            assert_eq!(
                decode_abort(0x1000, fsr, false),
                UserTrap::Signal {
                    addr: 0x1000,
                    signo: sig::SIGBUS,
                    code: 1,
                    trap_no: 14,
                    raw: fsr
                }
            );
        }
    }

    #[test]
    fn decodes_common_faults() {
        assert_eq!(fault_name(0x005), "section translation fault");
        assert_eq!(fault_name(0x007), "page translation fault");
        assert_eq!(fault_name(0x80f), "page permission fault");
        assert_eq!(access_kind(0x80f, false), "write");
        assert_eq!(access_kind(0x005, false), "read");
        assert_eq!(fault_status(0x406), 0x16);
        assert_eq!(fault_name(0x406), "asynchronous external abort");
    }
}
