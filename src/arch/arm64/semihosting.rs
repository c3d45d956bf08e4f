//! QEMU's semihosting exit (`-semihosting`): `HLT #0xF000` with SYS_EXIT (0x18) and a block
//! `[ADP_Stopped_ApplicationExit, code]`, so QEMU exits with `code` (AARCH64_FACTS.md 1a).
const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Ends QEMU with status `code`. Without `-semihosting` HLT is undefined: the console prints
/// the unexpected exception and carries on.
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: the semihosting call reads the two-word block and does not return under QEMU.
    unsafe {
        core::arch::asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack));
    }
}
