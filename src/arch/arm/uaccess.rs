//! User-space access from system calls as 32-bit ARM Linux 6.1 does it without
//! `CONFIG_CPU_USE_DOMAINS` (arch/arm/lib/copy_from_user.S, copy_to_user.S, clear_user.S,
//! getuser.S, putuser.S, and lib/strncpy_from_user.c / strnlen_user.c): while a system call
//! runs, the caller's user half is live in TTBR0 (TTBCR.N = 0), so the kernel reaches user
//! memory by its virtual address with plain `ldr`/`str`. With `CONFIG_CPU_SW_DOMAIN_PAN` the
//! kernel runs with the user domain set to "no access"; each accessor opens it
//! (`uaccess_save_and_enable`) around the copy and restores the saved DACR after.
//!
//! Every instruction that touches user memory is listed in `__ex_table` (Linux's `USER()`
//! macro) with the fixup to resume at when it faults: the abort handler
//! (`fault::do_DataAbort`) finds the pc there, records the fault address and status, and
//! resumes at the fixup, so the accessor returns short instead of oopsing. As Linux's, the
//! copies return the number of bytes *not* copied; the caller ([`crate::kernel::process::mm`]'s
//! `UserMem`) resolves the recorded fault with the address space it holds and retries.
//!
//! A copy uses word accesses when both addresses are word-aligned (a word never straddles a
//! page then) and byte accesses otherwise, so the count not copied is exact: every byte before
//! the faulting one was copied.
use super::desc::DOMAIN_USER;
use super::mmu::{DACR_INIT, DACR_USER_MASK};

/// `DACR_UACCESS_ENABLE`: the kernel's DACR with the user domain a client.
const DACR_UACCESS_ENABLE: u32 = (DACR_INIT & !DACR_USER_MASK) | (1 << (2 * DOMAIN_USER as u32));

core::arch::global_asm!(
    r#"
    @ uaccess_user FIXUP, INSN: INSN may fault on a user address; the fault resumes at FIXUP.
    .macro uaccess_user fixup:req, insn:vararg
9999:   \insn
        .pushsection __ex_table, "a"
        .balign 4
        .long   9999b, \fixup
        .popsection
    .endm

    @ uaccess_save_and_enable: the DACR saved in ip, the user domain opened (clobbers \tmp).
    .macro uaccess_enable tmp:req
        mrc     p15, 0, ip, c3, c0, 0
        mov     \tmp, #{enable}
        mcr     p15, 0, \tmp, c3, c0, 0
        isb
    .endm

    @ uaccess_restore: the DACR saved in ip.
    .macro uaccess_restore
        mcr     p15, 0, ip, c3, c0, 0
        isb
    .endm

    .pushsection .text.uaccess, "ax"
    .arm
    .balign 4

    @ unsigned long __copy_from_user(void *to, const void __user *from, unsigned long n):
    @ the number of bytes not copied.
    .global __copy_from_user
    .type   __copy_from_user, %function
__copy_from_user:
    uaccess_enable r3
    orr     r3, r0, r1
    tst     r3, #3
    bne     .Lcfu_bytes
.Lcfu_words:
    cmp     r2, #4
    blo     .Lcfu_bytes
    uaccess_user .Lcfu_done, ldr r3, [r1]
    str     r3, [r0], #4
    add     r1, r1, #4
    sub     r2, r2, #4
    b       .Lcfu_words
.Lcfu_bytes:
    cmp     r2, #0
    beq     .Lcfu_done
    uaccess_user .Lcfu_done, ldrb r3, [r1]
    strb    r3, [r0], #1
    add     r1, r1, #1
    sub     r2, r2, #1
    b       .Lcfu_bytes
.Lcfu_done:
    uaccess_restore
    mov     r0, r2
    bx      lr
    .size   __copy_from_user, . - __copy_from_user

    @ unsigned long __copy_to_user(void __user *to, const void *from, unsigned long n):
    @ the number of bytes not copied.
    .global __copy_to_user
    .type   __copy_to_user, %function
__copy_to_user:
    uaccess_enable r3
    orr     r3, r0, r1
    tst     r3, #3
    bne     .Lctu_bytes
.Lctu_words:
    cmp     r2, #4
    blo     .Lctu_bytes
    ldr     r3, [r1], #4
    uaccess_user .Lctu_done, str r3, [r0]
    add     r0, r0, #4
    sub     r2, r2, #4
    b       .Lctu_words
.Lctu_bytes:
    cmp     r2, #0
    beq     .Lctu_done
    ldrb    r3, [r1], #1
    uaccess_user .Lctu_done, strb r3, [r0]
    add     r0, r0, #1
    sub     r2, r2, #1
    b       .Lctu_bytes
.Lctu_done:
    uaccess_restore
    mov     r0, r2
    bx      lr
    .size   __copy_to_user, . - __copy_to_user

    @ unsigned long __clear_user(void __user *addr, unsigned long n): the number of bytes
    @ not cleared.
    .global __clear_user
    .type   __clear_user, %function
__clear_user:
    uaccess_enable r3
    mov     r3, #0
    tst     r0, #3
    bne     .Lclr_bytes
.Lclr_words:
    cmp     r1, #4
    blo     .Lclr_bytes
    uaccess_user .Lclr_done, str r3, [r0]
    add     r0, r0, #4
    sub     r1, r1, #4
    b       .Lclr_words
.Lclr_bytes:
    cmp     r1, #0
    beq     .Lclr_done
    uaccess_user .Lclr_done, strb r3, [r0]
    add     r0, r0, #1
    sub     r1, r1, #1
    b       .Lclr_bytes
.Lclr_done:
    uaccess_restore
    mov     r0, r1
    bx      lr
    .size   __clear_user, . - __clear_user

    @ long __strncpy_from_user(char *dst, const char __user *src, long count): the length of
    @ the string (its NUL copied too) if shorter than count, count if no NUL came within
    @ count bytes, -EFAULT if a byte before the NUL could not be read.
    .global __strncpy_from_user
    .type   __strncpy_from_user, %function
__strncpy_from_user:
    push    {{r4}}
    uaccess_enable r3
    mov     r4, #0
.Lsncpy_loop:
    cmp     r4, r2
    beq     .Lsncpy_done
    uaccess_user .Lsncpy_fault, ldrb r3, [r1, r4]
    strb    r3, [r0, r4]
    cmp     r3, #0
    beq     .Lsncpy_done
    add     r4, r4, #1
    b       .Lsncpy_loop
.Lsncpy_done:
    mov     r0, r4
    b       .Lsncpy_out
.Lsncpy_fault:
    mvn     r0, #({efault} - 1)
.Lsncpy_out:
    uaccess_restore
    pop     {{r4}}
    bx      lr
    .size   __strncpy_from_user, . - __strncpy_from_user

    @ long __strnlen_user(const char __user *s, long n): the string's size including its
    @ NUL, n + 1 if no NUL came within n bytes, 0 if a byte could not be read.
    .global __strnlen_user
    .type   __strnlen_user, %function
__strnlen_user:
    uaccess_enable r3
    mov     r2, #0
.Lsnlen_loop:
    cmp     r2, r1
    beq     .Lsnlen_long
    uaccess_user .Lsnlen_fault, ldrb r3, [r0, r2]
    add     r2, r2, #1
    cmp     r3, #0
    bne     .Lsnlen_loop
    mov     r0, r2
    b       .Lsnlen_out
.Lsnlen_long:
    add     r0, r1, #1
    b       .Lsnlen_out
.Lsnlen_fault:
    mov     r0, #0
.Lsnlen_out:
    uaccess_restore
    bx      lr
    .size   __strnlen_user, . - __strnlen_user

    @ int __get_user_N(const void __user *addr, void *val): 0 with the N bytes at addr
    @ stored at val, or -EFAULT.
    .global __get_user_1
    .type   __get_user_1, %function
__get_user_1:
    uaccess_enable r3
    uaccess_user .Lgu_fault, ldrb r3, [r0]
    strb    r3, [r1]
    b       .Lgu_ok
    .size   __get_user_1, . - __get_user_1

    .global __get_user_2
    .type   __get_user_2, %function
__get_user_2:
    uaccess_enable r3
    uaccess_user .Lgu_fault, ldrh r3, [r0]
    strh    r3, [r1]
    b       .Lgu_ok
    .size   __get_user_2, . - __get_user_2

    .global __get_user_4
    .type   __get_user_4, %function
__get_user_4:
    uaccess_enable r3
    uaccess_user .Lgu_fault, ldr r3, [r0]
    str     r3, [r1]
    b       .Lgu_ok
    .size   __get_user_4, . - __get_user_4

    .global __get_user_8
    .type   __get_user_8, %function
__get_user_8:
    uaccess_enable r3
    uaccess_user .Lgu_fault, ldr r3, [r0]
    uaccess_user .Lgu_fault, ldr r2, [r0, #4]
    str     r3, [r1]
    str     r2, [r1, #4]
    b       .Lgu_ok
    .size   __get_user_8, . - __get_user_8

    @ int __put_user_N(void __user *addr, const void *val): 0 with the N bytes at val stored
    @ at addr, or -EFAULT.
    .global __put_user_1
    .type   __put_user_1, %function
__put_user_1:
    uaccess_enable r3
    ldrb    r3, [r1]
    uaccess_user .Lgu_fault, strb r3, [r0]
    b       .Lgu_ok
    .size   __put_user_1, . - __put_user_1

    .global __put_user_2
    .type   __put_user_2, %function
__put_user_2:
    uaccess_enable r3
    ldrh    r3, [r1]
    uaccess_user .Lgu_fault, strh r3, [r0]
    b       .Lgu_ok
    .size   __put_user_2, . - __put_user_2

    .global __put_user_4
    .type   __put_user_4, %function
__put_user_4:
    uaccess_enable r3
    ldr     r3, [r1]
    uaccess_user .Lgu_fault, str r3, [r0]
    b       .Lgu_ok
    .size   __put_user_4, . - __put_user_4

    .global __put_user_8
    .type   __put_user_8, %function
__put_user_8:
    uaccess_enable r3
    ldr     r3, [r1]
    uaccess_user .Lgu_fault, str r3, [r0]
    ldr     r3, [r1, #4]
    uaccess_user .Lgu_fault, str r3, [r0, #4]
    b       .Lgu_ok
    .size   __put_user_8, . - __put_user_8

    @ The common tails of get_user and put_user.
.Lgu_ok:
    uaccess_restore
    mov     r0, #0
    bx      lr
.Lgu_fault:
    uaccess_restore
    mvn     r0, #({efault} - 1)
    bx      lr

    .popsection
"#,
    enable = const DACR_UACCESS_ENABLE,
    efault = const EFAULT,
);

/// `EFAULT`, what the string and scalar accessors return negated.
const EFAULT: i32 = 14;

/// A user access faulted and the fault was not resolved (`-EFAULT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Efault;

extern "C" {
    fn __copy_from_user(to: *mut u8, from: usize, n: usize) -> usize;
    fn __copy_to_user(to: usize, from: *const u8, n: usize) -> usize;
    fn __clear_user(addr: usize, n: usize) -> usize;
    fn __strncpy_from_user(dst: *mut u8, src: usize, count: usize) -> isize;
    fn __strnlen_user(s: usize, n: usize) -> usize;
    fn __get_user_1(addr: usize, val: *mut u8) -> i32;
    fn __get_user_2(addr: usize, val: *mut u16) -> i32;
    fn __get_user_4(addr: usize, val: *mut u32) -> i32;
    fn __get_user_8(addr: usize, val: *mut u64) -> i32;
    fn __put_user_1(addr: usize, val: *const u8) -> i32;
    fn __put_user_2(addr: usize, val: *const u16) -> i32;
    fn __put_user_4(addr: usize, val: *const u32) -> i32;
    fn __put_user_8(addr: usize, val: *const u64) -> i32;
}

// The safe wrappers below touch only `[addr, addr + len)` of user space, through the live
// TTBR0 table, with every access covered by `__ex_table`: a bad address makes them return
// short, never corrupts kernel memory. Callers check `access_ok` first (an address at or
// above TASK_SIZE would reach kernel memory, which these must never be given).

/// `raw_copy_from_user`: fills `buf` from user address `from`; the bytes not copied.
pub fn copy_from_user(buf: &mut [u8], from: usize) -> usize {
    // SAFETY: `buf` is a valid kernel buffer of its length; user faults are fixed up.
    unsafe { __copy_from_user(buf.as_mut_ptr(), from, buf.len()) }
}

/// `raw_copy_to_user`: writes `data` at user address `to`; the bytes not copied.
pub fn copy_to_user(to: usize, data: &[u8]) -> usize {
    // SAFETY: as copy_from_user.
    unsafe { __copy_to_user(to, data.as_ptr(), data.len()) }
}

/// `__clear_user`: zeroes `n` bytes at user address `addr`; the bytes not cleared.
pub fn clear_user(addr: usize, n: usize) -> usize {
    // SAFETY: only user memory is written, faults fixed up.
    unsafe { __clear_user(addr, n) }
}

/// `strncpy_from_user`: the string at `src` into `dst` (with its NUL when one came within
/// `dst.len()` bytes): `Ok(length)` (`dst.len()` when no NUL came), `Err` on a fault.
pub fn strncpy_from_user(dst: &mut [u8], src: usize) -> Result<usize, Efault> {
    // SAFETY: at most dst.len() bytes are stored into dst; user faults are fixed up.
    let r = unsafe { __strncpy_from_user(dst.as_mut_ptr(), src, dst.len()) };
    usize::try_from(r).map_err(|_| Efault)
}

/// `strnlen_user`: the size of the string at `s` including its NUL, `n + 1` when none came
/// within `n` bytes, 0 on a fault.
pub fn strnlen_user(s: usize, n: usize) -> usize {
    // SAFETY: only reads user memory, faults fixed up.
    unsafe { __strnlen_user(s, n) }
}

/// `get_user` of 1, 2, 4 or 8 bytes into `out` (`Err` on a fault, `out` then unchanged or
/// partly written). Other sizes are not scalars: `None`.
pub fn get_user(addr: usize, out: &mut [u8]) -> Option<Result<(), Efault>> {
    // SAFETY: each helper reads user memory (faults fixed up) and stores exactly the size
    // it names into a local of that size.
    let r = unsafe {
        match out.len() {
            1 => {
                let mut v = 0u8;
                let r = __get_user_1(addr, &mut v);
                out.copy_from_slice(&v.to_ne_bytes());
                r
            }
            2 => {
                let mut v = 0u16;
                let r = __get_user_2(addr, &mut v);
                out.copy_from_slice(&v.to_ne_bytes());
                r
            }
            4 => {
                let mut v = 0u32;
                let r = __get_user_4(addr, &mut v);
                out.copy_from_slice(&v.to_ne_bytes());
                r
            }
            8 => {
                let mut v = 0u64;
                let r = __get_user_8(addr, &mut v);
                out.copy_from_slice(&v.to_ne_bytes());
                r
            }
            _ => return None,
        }
    };
    Some(if r == 0 { Ok(()) } else { Err(Efault) })
}

/// `put_user` of 1, 2, 4 or 8 bytes from `data`; other sizes: `None`.
pub fn put_user(addr: usize, data: &[u8]) -> Option<Result<(), Efault>> {
    // SAFETY: each helper reads a local of the size it names and writes user memory
    // (faults fixed up).
    let r = unsafe {
        match data.len() {
            1 => __put_user_1(addr, &data[0]),
            2 => __put_user_2(addr, &u16::from_ne_bytes([data[0], data[1]])),
            4 => __put_user_4(addr, &u32::from_ne_bytes([data[0], data[1], data[2], data[3]])),
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(data);
                __put_user_8(addr, &u64::from_ne_bytes(b))
            }
            _ => return None,
        }
    };
    Some(if r == 0 { Ok(()) } else { Err(Efault) })
}
