//! ARM's user-visible structures whose layout depends on the 32-bit `long`: `struct stat64`
//! (ARM's own, with its padding and the truncated `__st_ino`), the 32-bit time structures
//! (`__kernel_old_timespec` for `clock_gettime`/`nanosleep`, `__kernel_old_timeval` in
//! `struct rusage`), `struct rusage` and `struct iovec`. Layouts from
//! `arch/arm/include/uapi/asm/stat.h` and `include/uapi/linux/{time_types,resource,uio}.h`,
//! checked against the cross compiler by `tests/abi_golden.rs`.
use crate::abi_struct;

/// The architecture's `unsigned long` (`__kernel_ulong_t`): user addresses and the
/// register-sized values of the system-call ABI.
pub type Ulong = u32;

/// An `unsigned long` widened (a no-op on arm64, whose `long` is 64 bits).
pub const fn ulong_to_u64(x: Ulong) -> u64 {
    x as u64
}

/// The native names of the `long`-sized time structures (arm64's are 64-bit).
pub type Timespec = OldTimespec;
pub type Timeval = OldTimeval;

abi_struct! {
    /// `struct __kernel_old_timespec` (`struct timespec` of 32-bit time): `clock_gettime`,
    /// `nanosleep`.
    pub struct OldTimespec = "struct __kernel_old_timespec", size 8, align 4 {
        tv_sec: i32 = 0,
        tv_nsec: i32 = 4,
    }
}

impl OldTimespec {
    /// `get_old_timespec32()` then `timespec64_valid()`: nanoseconds, or `None` (`EINVAL`) for
    /// negative seconds or nanoseconds outside `0..NSEC_PER_SEC`.
    pub fn to_nanos(&self) -> Option<u64> {
        if self.tv_sec < 0 || !(0..1_000_000_000).contains(&self.tv_nsec) {
            return None;
        }
        Some(self.tv_sec as u64 * 1_000_000_000 + self.tv_nsec as u64)
    }
}

abi_struct! {
    /// `struct __kernel_old_timeval`: seconds and microseconds.
    pub struct OldTimeval = "struct __kernel_old_timeval", size 8, align 4 {
        tv_sec: i32 = 0,
        tv_usec: i32 = 4,
    }
}

impl OldTimeval {
    /// The timeval of `nanos` nanoseconds (truncated to microseconds, as
    /// `ns_to_kernel_old_timeval` does).
    pub fn from_nanos(nanos: u64) -> Self {
        Self {
            tv_sec: (nanos / 1_000_000_000) as i32,
            tv_usec: (nanos % 1_000_000_000 / 1000) as i32,
        }
    }
}

abi_struct! {
    /// `struct rusage` (`getrusage`, `wait4`): two timevals and fourteen `long`s. Linux fills
    /// `ru_maxrss` (KiB), `ru_minflt`, `ru_majflt`, `ru_inblock`, `ru_oublock`, `ru_nvcsw` and
    /// `ru_nivcsw`; the rest stay zero.
    pub struct Rusage = "struct rusage", size 72, align 4 {
        ru_utime: OldTimeval = 0,
        ru_stime: OldTimeval = 8,
        ru_maxrss: i32 = 16,
        ru_ixrss: i32 = 20,
        ru_idrss: i32 = 24,
        ru_isrss: i32 = 28,
        ru_minflt: i32 = 32,
        ru_majflt: i32 = 36,
        ru_nswap: i32 = 40,
        ru_inblock: i32 = 44,
        ru_oublock: i32 = 48,
        ru_msgsnd: i32 = 52,
        ru_msgrcv: i32 = 56,
        ru_nsignals: i32 = 60,
        ru_nvcsw: i32 = 64,
        ru_nivcsw: i32 = 68,
    }
}

abi_struct! {
    /// `struct iovec` (`readv`, `writev`): a user address and a length.
    pub struct Iovec = "struct iovec", size 8, align 4 {
        iov_base: u32 = 0,
        iov_len: u32 = 4,
    }
}

abi_struct! {
    /// ARM's `struct stat64` (`fstat64`, `stat64`, `lstat64`, `fstatat64`), as `cp_new_stat64`
    /// fills it: `__st_ino` holds the low 32 bits of the inode number
    /// (`STAT64_HAS_BROKEN_ST_INO`), devices are `huge_encode_dev()` values.
    pub struct Stat64 = "struct stat64", size 104, align 8 {
        st_dev: u64 = 0,
        __pad0: [u8; 4] = 8,
        __st_ino: u32 = 12,
        st_mode: u32 = 16,
        st_nlink: u32 = 20,
        st_uid: u32 = 24,
        st_gid: u32 = 28,
        st_rdev: u64 = 32,
        __pad3: [u8; 4] = 40,
        st_size: i64 = 48,
        st_blksize: u32 = 56,
        st_blocks: u64 = 64,
        st_atime: u32 = 72,
        st_atime_nsec: u32 = 76,
        st_mtime: u32 = 80,
        st_mtime_nsec: u32 = 84,
        st_ctime: u32 = 88,
        st_ctime_nsec: u32 = 92,
        st_ino: u64 = 96,
    }
}

/// `new_encode_dev()` (= `huge_encode_dev()` for 32-bit numbers): minor's low byte, major,
/// then minor's upper bits, as `st_dev`/`st_rdev` and the `stat` family carry devices.
pub const fn new_encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// `new_decode_dev()`: (major, minor).
pub const fn new_decode_dev(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_encode_as_linux() {
        assert_eq!(new_encode_dev(0, 2), 0x0002);
        assert_eq!(new_encode_dev(5, 1), 0x0501);
        assert_eq!(new_encode_dev(204, 64), 0xcc40);
        assert_eq!(new_encode_dev(1, 0x123), 0x0010_0123);
        for (ma, mi) in [(0, 0), (4095, 0xfffff), (259, 65536), (8, 17)] {
            assert_eq!(new_decode_dev(new_encode_dev(ma, mi)), (ma, mi));
        }
        assert_eq!(
            OldTimeval::from_nanos(1_500_999_999),
            OldTimeval { tv_sec: 1, tv_usec: 500_999 }
        );
    }

    #[test]
    fn old_timespec_nanos_are_checked_as_timespec64_valid() {
        let ts = |tv_sec, tv_nsec| OldTimespec { tv_sec, tv_nsec };
        assert_eq!(ts(1, 500).to_nanos(), Some(1_000_000_500));
        assert_eq!(ts(i32::MAX, 999_999_999).to_nanos(), Some(2_147_483_647_999_999_999));
        assert_eq!(ts(-1, 0).to_nanos(), None);
        assert_eq!(ts(0, 1_000_000_000).to_nanos(), None);
        assert_eq!(ts(0, -1).to_nanos(), None);
        assert_eq!(ulong_to_u64(u32::MAX), 0xffff_ffff);
    }
}
