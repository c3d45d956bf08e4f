//! arm64's user-memory accessors as Linux 6.1 builds them: every access to a user address
//! is an unprivileged load or store (`LDTR`/`STTR` and their byte forms, the `user_ldst`
//! macro of copy_{from,to}_user.S and `__get_mem_asm`/`__put_mem_asm`), so the MMU checks it
//! with EL0's permissions whatever PAN says: a kernel address given as a user pointer faults
//! like a user program's access would, and the exception table ([`extable`](super::extable))
//! turns the fault into the short count or `EFAULT` the callers return. `access_ok` (the
//! pure range check) runs first, as in Linux. The accessors are compiled into the arm64
//! kernel; its system calls use them once EL0 processes run there (the next stage).
use crate::abi::errno::Errno;

/// `access_ok(ptr, size)` (asm-generic `__access_ok` with arm64's `TASK_SIZE_MAX` =
/// 2^VA_BITS): the whole range lies below `TASK_SIZE_MAX` (no tagged-address opt-in, so the
/// top byte is not stripped).
pub const fn access_ok(addr: u64, size: u64, va_bits: u32) -> bool {
    let limit = 1u64 << va_bits;
    size <= limit && addr <= limit - size
}

/// What `strncpy_from_user` returns: the string's length (without its NUL), `count` when no
/// NUL came within `count` bytes, or `EFAULT`.
pub fn strncpy_result(copied: &[u8], count: usize, faulted: bool) -> Result<usize, Errno> {
    match copied.iter().position(|&b| b == 0) {
        Some(n) => Ok(n),
        None if faulted => Err(Errno::EFAULT),
        None => Ok(copied.len().min(count)),
    }
}

#[cfg(all(kernel, target_arch = "aarch64"))]
pub use imp::*;

#[cfg(all(kernel, target_arch = "aarch64"))]
mod imp {
    use super::access_ok;
    use crate::abi::errno::Errno;
    use crate::arch::arm64::extable::{fixup_load, fixup_store};
    use crate::config::VA_BITS;

    /// `raw_copy_from_user`: `n` bytes from user `src` to `dst` with `LDTRB`; the bytes not
    /// copied (0 when all were).
    ///
    /// # Safety
    /// `dst` must be valid for `n` bytes of writes.
    pub unsafe fn raw_copy_from_user(dst: *mut u8, src: u64, n: usize) -> usize {
        let mut left = n;
        // SAFETY: a fault on the LDTRB is fixed up to the end with `left` bytes remaining.
        unsafe {
            core::arch::asm!(
                "cbz {n}, 3f",
                "1: ldtrb {t:w}, [{s}]",
                "strb {t:w}, [{d}], #1",
                "add {s}, {s}, #1",
                "subs {n}, {n}, #1",
                "b.ne 1b",
                "3:",
                ".pushsection __ex_table, \"a\"",
                ".balign 8",
                ".quad 1b, 3b",
                ".popsection",
                n = inout(reg) left,
                s = inout(reg) src => _,
                d = inout(reg) dst => _,
                t = out(reg) _,
                options(nostack)
            );
        }
        left
    }

    /// `raw_copy_to_user`: `n` bytes from `src` to user `dst` with `STTRB`; the bytes not
    /// copied.
    ///
    /// # Safety
    /// `src` must be valid for `n` bytes of reads.
    pub unsafe fn raw_copy_to_user(dst: u64, src: *const u8, n: usize) -> usize {
        let mut left = n;
        // SAFETY: as in `raw_copy_from_user`, the STTRB's fault is fixed up.
        unsafe {
            core::arch::asm!(
                "cbz {n}, 3f",
                "2: ldrb {t:w}, [{s}], #1",
                "1: sttrb {t:w}, [{d}]",
                "add {d}, {d}, #1",
                "subs {n}, {n}, #1",
                "b.ne 2b",
                "3:",
                ".pushsection __ex_table, \"a\"",
                ".balign 8",
                ".quad 1b, 3b",
                ".popsection",
                n = inout(reg) left,
                s = inout(reg) src => _,
                d = inout(reg) dst => _,
                t = out(reg) _,
                options(nostack)
            );
        }
        left
    }

    /// The physical address of the live user table (TTBR0_EL1's base address): whether the
    /// caller's address space is the one the accessors reach.
    pub fn live_pgd() -> u64 {
        use aarch64_cpu::registers::{Readable, TTBR0_EL1};
        TTBR0_EL1.get() & crate::arch::arm64::asid::TTBR_BADDR_MASK
    }

    /// A user access faulted and the fault was not resolved (`-EFAULT`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Efault;

    /// `copy_from_user`: `access_ok` then the copy; what was not copied is zeroed (as
    /// `_copy_from_user` does). The bytes not copied.
    pub fn copy_from_user(dst: &mut [u8], src: usize) -> usize {
        let n = dst.len();
        let left = if access_ok(src as u64, n as u64, VA_BITS) {
            // SAFETY: `dst` is a valid slice of `n` bytes.
            unsafe { raw_copy_from_user(dst.as_mut_ptr(), src as u64, n) }
        } else {
            n
        };
        dst[n - left..].fill(0);
        left
    }

    /// `copy_to_user`: the bytes not copied.
    pub fn copy_to_user(dst: usize, src: &[u8]) -> usize {
        if !access_ok(dst as u64, src.len() as u64, VA_BITS) {
            return src.len();
        }
        // SAFETY: `src` is a valid slice.
        unsafe { raw_copy_to_user(dst as u64, src.as_ptr(), src.len()) }
    }

    /// `get_user` of 1, 2, 4 or 8 bytes into `out` (one `LDTR` for 4 and 8); other sizes are
    /// not scalars: `None`.
    pub fn get_user(addr: usize, out: &mut [u8]) -> Option<Result<(), Efault>> {
        let r = match out.len() {
            4 => get_user_u32(addr as u64).map(|v| out.copy_from_slice(&v.to_ne_bytes())),
            8 => get_user_u64(addr as u64).map(|v| out.copy_from_slice(&v.to_ne_bytes())),
            1 | 2 => match copy_from_user(out, addr) {
                0 => Ok(()),
                _ => Err(Errno::EFAULT),
            },
            _ => return None,
        };
        Some(r.map_err(|_| Efault))
    }

    /// `put_user` of 1, 2, 4 or 8 bytes from `data` (one `STTR` for 4 and 8); other sizes:
    /// `None`.
    pub fn put_user(addr: usize, data: &[u8]) -> Option<Result<(), Efault>> {
        let r = match *data {
            [a, b, c, d] => put_user_u32(addr as u64, u32::from_ne_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => {
                put_user_u64(addr as u64, u64::from_ne_bytes([a, b, c, d, e, f, g, h]))
            }
            [_] | [_, _] => match copy_to_user(addr, data) {
                0 => Ok(()),
                _ => Err(Errno::EFAULT),
            },
            _ => return None,
        };
        Some(r.map_err(|_| Efault))
    }

    /// `strnlen_user`: the size of the string at `s` including its NUL, `n + 1` when none
    /// came within `n` bytes, 0 on a fault or a bad range.
    pub fn strnlen_user(s: usize, n: usize) -> usize {
        let mut b = 0u8;
        for i in 0..n {
            let at = s as u64 + i as u64;
            // SAFETY: one byte into the local `b`; the user load's fault is fixed up.
            if !access_ok(at, 1, VA_BITS) || unsafe { raw_copy_from_user(&mut b, at, 1) } != 0 {
                return 0;
            }
            if b == 0 {
                return i + 1;
            }
        }
        n + 1
    }

    /// `clear_user` (`__arch_clear_user`): zeroes `n` user bytes with `STTRB`; the bytes not
    /// cleared.
    pub fn clear_user(dst: usize, n: usize) -> usize {
        if !access_ok(dst as u64, n as u64, VA_BITS) {
            return n;
        }
        let mut left = n;
        // SAFETY: only user memory is written, through the unprivileged store; a fault is
        // fixed up with `left` bytes remaining.
        unsafe {
            core::arch::asm!(
                "cbz {n}, 3f",
                "1: sttrb wzr, [{d}]",
                "add {d}, {d}, #1",
                "subs {n}, {n}, #1",
                "b.ne 1b",
                "3:",
                ".pushsection __ex_table, \"a\"",
                ".balign 8",
                ".quad 1b, 3b",
                ".popsection",
                n = inout(reg) left,
                d = inout(reg) dst as u64 => _,
                options(nostack)
            );
        }
        left
    }

    /// `get_user` of a 32-bit value (`__get_mem_asm(ldtr)`).
    pub fn get_user_u32(addr: u64) -> Result<u32, Errno> {
        if !access_ok(addr, 4, VA_BITS) {
            return Err(Errno::EFAULT);
        }
        let (val, faulted) = fixup_load!("ldtr {v:w}, [{a}]", addr);
        if faulted {
            Err(Errno::EFAULT)
        } else {
            Ok(val as u32)
        }
    }

    /// `get_user` of a 64-bit value.
    pub fn get_user_u64(addr: u64) -> Result<u64, Errno> {
        if !access_ok(addr, 8, VA_BITS) {
            return Err(Errno::EFAULT);
        }
        let (val, faulted) = fixup_load!("ldtr {v}, [{a}]", addr);
        if faulted {
            Err(Errno::EFAULT)
        } else {
            Ok(val)
        }
    }

    /// `put_user` of a 32-bit value (`__put_mem_asm(sttr)`).
    pub fn put_user_u32(addr: u64, value: u32) -> Result<(), Errno> {
        if !access_ok(addr, 4, VA_BITS) {
            return Err(Errno::EFAULT);
        }
        if fixup_store!("sttr {v:w}, [{a}]", addr, value) {
            Err(Errno::EFAULT)
        } else {
            Ok(())
        }
    }

    /// `put_user` of a 64-bit value.
    pub fn put_user_u64(addr: u64, value: u64) -> Result<(), Errno> {
        if !access_ok(addr, 8, VA_BITS) {
            return Err(Errno::EFAULT);
        }
        if fixup_store!("sttr {v}, [{a}]", addr, value) {
            Err(Errno::EFAULT)
        } else {
            Ok(())
        }
    }

    /// `strncpy_from_user`: up to `dst.len()` bytes of a NUL-terminated user string; its
    /// length, `dst.len()` if no NUL came, or `EFAULT` (a fault before the NUL, or a bad range).
    pub fn strncpy_from_user(dst: &mut [u8], src: usize) -> Result<usize, Efault> {
        strncpy_from_user_errno(dst, src as u64).map_err(|_| Efault)
    }

    fn strncpy_from_user_errno(dst: &mut [u8], src: u64) -> Result<usize, Errno> {
        let count = dst.len();
        // Linux checks the range it may read (up to TASK_SIZE_MAX); one byte must be there.
        if count == 0 {
            return Ok(0);
        }
        if !access_ok(src, 1, VA_BITS) {
            return Err(Errno::EFAULT);
        }
        let limit = (1u64 << VA_BITS) - src;
        let max = count.min(limit as usize);
        let mut done = 0;
        while done < max {
            // SAFETY: one byte of `dst` at `done`.
            let left =
                unsafe { raw_copy_from_user(dst.as_mut_ptr().add(done), src + done as u64, 1) };
            if left != 0 {
                return super::strncpy_result(&dst[..done], count, true);
            }
            if dst[done] == 0 {
                return Ok(done);
            }
            done += 1;
        }
        super::strncpy_result(&dst[..done], count, done < count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ok_is_the_task_size_range() {
        for va in [48, 39] {
            let top = 1u64 << va;
            assert!(access_ok(0, 0, va));
            assert!(access_ok(0x40_0000, 4096, va));
            assert!(access_ok(top - 8, 8, va));
            assert!(!access_ok(top - 8, 9, va));
            assert!(access_ok(top, 0, va), "an empty range at the end");
            assert!(!access_ok(top, 1, va));
            assert!(!access_ok(0xffff_8000_0800_0000, 4, va), "kernel addresses");
            assert!(!access_ok(0, u64::MAX, va), "a size that wraps");
            // A tagged pointer (top byte set) is refused without the tagged-address opt-in.
            assert!(!access_ok(0x0f00_0000_0040_0000, 4, va));
        }
        assert!(access_ok(0x7f_ffff_f000, 0x1000, 39));
        assert!(!access_ok(0x80_0000_0000, 4, 39));
        assert!(access_ok(0x80_0000_0000, 4, 48));
    }

    #[test]
    fn strncpy_results() {
        assert_eq!(strncpy_result(b"abc\0", 16, false), Ok(3));
        assert_eq!(strncpy_result(b"abcd", 4, false), Ok(4));
        assert_eq!(strncpy_result(b"ab", 16, true), Err(Errno::EFAULT));
        assert_eq!(strncpy_result(b"a\0", 16, true), Ok(1));
    }
}
