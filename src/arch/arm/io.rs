//! String I/O on a device's data port (Linux's `readsl`/`writesl`, `arch/arm/lib/io-readsl.S`):
//! eight reads of the port gathered into one multiple-register store (or one multiple load
//! spread over eight port writes), so moving a 512-byte block by PIO takes about 180
//! instructions where a word-at-a-time loop takes some 600. The SDHCI driver moves every
//! page-cache and swap page through its data port this way.
use core::arch::global_asm;

/// Words moved per burst.
pub const IO_BURST_WORDS: usize = 8;

// r0: port; r1: buffer (word aligned); r2: words (a multiple of 8, not 0).
global_asm!(
    r#"
    .text
    .align  5
    .global pivm_readsl8
    .type   pivm_readsl8, %function
pivm_readsl8:
    push    {{r4 - r10, lr}}
    add     lr, r1, r2, lsl #2
1:  ldr     r3, [r0]
    ldr     r4, [r0]
    ldr     r5, [r0]
    ldr     r6, [r0]
    ldr     r7, [r0]
    ldr     r8, [r0]
    ldr     r9, [r0]
    ldr     r10, [r0]
    stmia   r1!, {{r3 - r10}}
    cmp     r1, lr
    bne     1b
    pop     {{r4 - r10, pc}}
    .size   pivm_readsl8, . - pivm_readsl8

    .align  5
    .global pivm_writesl8
    .type   pivm_writesl8, %function
pivm_writesl8:
    push    {{r4 - r10, lr}}
    add     lr, r1, r2, lsl #2
1:  ldmia   r1!, {{r3 - r10}}
    str     r3, [r0]
    str     r4, [r0]
    str     r5, [r0]
    str     r6, [r0]
    str     r7, [r0]
    str     r8, [r0]
    str     r9, [r0]
    str     r10, [r0]
    cmp     r1, lr
    bne     1b
    pop     {{r4 - r10, pc}}
    .size   pivm_writesl8, . - pivm_writesl8
"#
);

extern "C" {
    fn pivm_readsl8(port: *const u32, buf: *mut u32, words: usize);
    fn pivm_writesl8(port: *mut u32, buf: *const u32, words: usize);
}

/// Reads `words` 32-bit values from the device register at `port` into `buf`.
///
/// # Safety
/// `port` is a mapped device register; `buf` is word-aligned and writable for `words`
/// words; `words` is a multiple of [`IO_BURST_WORDS`].
pub unsafe fn readsl(port: *const u32, buf: *mut u32, words: usize) {
    debug_assert!(words.is_multiple_of(IO_BURST_WORDS) && (buf as usize).is_multiple_of(4));
    if words != 0 {
        // SAFETY: the caller's contract.
        unsafe { pivm_readsl8(port, buf, words) }
    }
}

/// Writes `words` 32-bit values from `buf` to the device register at `port`.
///
/// # Safety
/// As [`readsl`], with `buf` readable.
pub unsafe fn writesl(port: *mut u32, buf: *const u32, words: usize) {
    debug_assert!(words.is_multiple_of(IO_BURST_WORDS) && (buf as usize).is_multiple_of(4));
    if words != 0 {
        // SAFETY: the caller's contract.
        unsafe { pivm_writesl8(port, buf, words) }
    }
}
