//! Whole-page clearing and copying (Linux's `clear_page`, `copy_page` in `arch/arm/lib`):
//! multiple-register stores of 32 bytes each, unrolled four times, so zeroing a 4 KiB page
//! takes about 200 instructions and copying one about 400, where the byte-generic `memset`
//! and `memcpy` of `compiler_builtins` take some 3,000. The page fault path zeroes every new
//! anonymous page and copy-on-write copies one, so these are on the hot path; `pgd_alloc`
//! clears and copies the halves of a 16 KiB first-level table with the 32-byte loops.
use core::arch::global_asm;

use crate::mm::PAGE_SIZE;

// r0: page (4 KiB aligned); r1: source for copy_page.
global_asm!(
    r#"
    .text
    .align  5
    .global pivm_clear_page
    .type   pivm_clear_page, %function
pivm_clear_page:
    push    {{r4 - r8, lr}}
    mov     r2, #0
    mov     r3, #0
    mov     r4, #0
    mov     r5, #0
    mov     r6, #0
    mov     r7, #0
    mov     r8, #0
    mov     r12, #0
    add     lr, r0, #{page}
1:  stmia   r0!, {{r2 - r8, r12}}
    stmia   r0!, {{r2 - r8, r12}}
    stmia   r0!, {{r2 - r8, r12}}
    stmia   r0!, {{r2 - r8, r12}}
    cmp     r0, lr
    bne     1b
    pop     {{r4 - r8, pc}}
    .size   pivm_clear_page, . - pivm_clear_page

    .align  5
    .global pivm_clear_bytes32
    .type   pivm_clear_bytes32, %function
pivm_clear_bytes32:
    cmp     r1, #0
    bxeq    lr
    push    {{r4 - r8, lr}}
    mov     r2, #0
    mov     r3, #0
    mov     r4, #0
    mov     r5, #0
    mov     r6, #0
    mov     r7, #0
    mov     r8, #0
    mov     r12, #0
    add     lr, r0, r1
1:  stmia   r0!, {{r2 - r8, r12}}
    cmp     r0, lr
    bne     1b
    pop     {{r4 - r8, pc}}
    .size   pivm_clear_bytes32, . - pivm_clear_bytes32

    .align  5
    .global pivm_copy_bytes32
    .type   pivm_copy_bytes32, %function
pivm_copy_bytes32:
    cmp     r2, #0
    bxeq    lr
    push    {{r4 - r10, lr}}
    add     lr, r1, r2
1:  ldmia   r1!, {{r2 - r9}}
    stmia   r0!, {{r2 - r9}}
    cmp     r1, lr
    bne     1b
    pop     {{r4 - r10, pc}}
    .size   pivm_copy_bytes32, . - pivm_copy_bytes32

    .align  5
    .global pivm_copy_page
    .type   pivm_copy_page, %function
pivm_copy_page:
    push    {{r4 - r10, lr}}
    add     lr, r1, #{page}
1:  ldmia   r1!, {{r2 - r9}}
    stmia   r0!, {{r2 - r9}}
    ldmia   r1!, {{r2 - r9}}
    stmia   r0!, {{r2 - r9}}
    cmp     r1, lr
    bne     1b
    pop     {{r4 - r10, pc}}
    .size   pivm_copy_page, . - pivm_copy_page
"#,
    page = const PAGE_SIZE as u32,
);

extern "C" {
    fn pivm_clear_page(page: *mut u8);
    fn pivm_copy_page(to: *mut u8, from: *const u8);
    fn pivm_clear_bytes32(to: *mut u8, len: usize);
    fn pivm_copy_bytes32(to: *mut u8, from: *const u8, len: usize);
}

/// Zeroes `len` bytes at `to`, 32 at a time (a first-level table's user half).
///
/// # Safety
/// `to` is word-aligned and writable for `len` bytes; `len` is a multiple of 32.
pub unsafe fn clear_bytes32(to: *mut u8, len: usize) {
    debug_assert!(len.is_multiple_of(32) && (to as usize).is_multiple_of(4));
    // SAFETY: the caller's contract.
    unsafe { pivm_clear_bytes32(to, len) }
}

/// Copies `len` bytes from `from` to `to`, 32 at a time (a first-level table's kernel half).
///
/// # Safety
/// Both word-aligned, not overlapping, `len` readable/writable; `len` a multiple of 32.
pub unsafe fn copy_bytes32(to: *mut u8, from: *const u8, len: usize) {
    debug_assert!(len.is_multiple_of(32) && (to as usize).is_multiple_of(4));
    // SAFETY: the caller's contract.
    unsafe { pivm_copy_bytes32(to, from, len) }
}

/// Zeroes the page at kernel address `page`.
///
/// # Safety
/// `page` is page-aligned and maps a whole page the caller may write.
pub unsafe fn clear_page(page: *mut u8) {
    debug_assert!((page as usize).is_multiple_of(PAGE_SIZE as usize));
    // SAFETY: the caller's contract.
    unsafe { pivm_clear_page(page) }
}

/// Copies the page at `from` to the page at `to`.
///
/// # Safety
/// Both are page-aligned kernel addresses of whole, distinct pages; `to` is writable.
pub unsafe fn copy_page(to: *mut u8, from: *const u8) {
    debug_assert!(
        (to as usize).is_multiple_of(PAGE_SIZE as usize)
            && (from as usize).is_multiple_of(PAGE_SIZE as usize)
    );
    // SAFETY: the caller's contract.
    unsafe { pivm_copy_page(to, from) }
}
