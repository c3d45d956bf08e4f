//! ARM semihosting: lets pivm end a QEMU run with an exit status (`-semihosting`). Without a
//! semihosting host the SVC lands in pivm's own vector, which simply returns.
use core::arch::asm;

const SYS_EXIT: u32 = 0x18;
const SYS_EXIT_EXTENDED: u32 = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x2_0026;

/// Asks the host to exit with `code`; returns only when no semihosting host is present.
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code];
    let (op, arg) = if code == 0 {
        (SYS_EXIT, ADP_STOPPED_APPLICATION_EXIT)
    } else {
        (SYS_EXIT_EXTENDED, block.as_ptr() as u32)
    };
    // SAFETY: the semihosting trap reads only `block`; if it is not intercepted, the SVC
    // vector returns at once, clobbering only the SVC-mode lr (declared).
    unsafe {
        asm!("svc 0x123456", inout("r0") op => _, in("r1") arg, out("lr") _, options(nostack));
    }
    let _ = block;
}
