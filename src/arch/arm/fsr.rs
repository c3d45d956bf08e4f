//! Decoding of the short-descriptor fault status (DFSR/IFSR), with the ARMv7 ARM's fault names
//! in the wording of Linux's `fsr_info` table, and whether the access was a write.

/// `FS[4]` is FSR bit 10; `FS[3:0]` are bits 3:0.
pub fn fault_status(fsr: u32) -> u32 {
    ((fsr >> 6) & 0x10) | (fsr & 0xf)
}

/// WnR: the faulting access was a write (DFSR only).
pub const FSR_WRITE: u32 = 1 << 11;

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
