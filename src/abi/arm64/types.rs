//! arm64's user-visible structures whose layout depends on the 64-bit `long`: the generic
//! `struct stat` of `newfstatat`/`fstat` (arm64 has no `stat64`), `struct timespec` and
//! `struct timeval` (64-bit already: arm64's `clock_gettime` is the 32-bit kernel's
//! `clock_gettime64`), `struct rusage` and `struct iovec`. Layouts from
//! `include/uapi/asm-generic/stat.h` and `include/uapi/linux/{time_types,resource,uio}.h`,
//! checked against `aarch64-linux-gnu-gcc` by `tests/abi_golden_arm64.rs`, which also checks
//! the bytes [`Kstat::to_stat`] gives against a `struct stat` the compiler fills.
use crate::abi::generic::NSEC_PER_SEC;
use crate::abi_struct;
use crate::fs::vfs::Kstat;

pub use crate::abi::arm::types::{new_decode_dev, new_encode_dev};

/// The architecture's `unsigned long` (`__kernel_ulong_t`): user addresses and the
/// register-sized values of the system-call ABI.
pub type Ulong = u64;

/// An `unsigned long` widened (a no-op here; ARM's `long` is 32 bits).
pub const fn ulong_to_u64(x: Ulong) -> u64 {
    x
}

abi_struct! {
    /// `struct __kernel_old_timespec` with a 64-bit `long`: `clock_gettime`, `nanosleep`.
    pub struct Timespec = "struct __kernel_old_timespec", size 16, align 8 {
        tv_sec: i64 = 0,
        tv_nsec: i64 = 8,
    }
}

impl Timespec {
    /// `get_timespec64()` then `timespec64_valid()` on a 64-bit kernel: the whole `tv_nsec`
    /// counts (the 32-bit kernel looks at its low half only). Nanoseconds, or `None` (`EINVAL`).
    pub fn to_nanos(&self) -> Option<u64> {
        if self.tv_sec < 0 || !(0..NSEC_PER_SEC).contains(&self.tv_nsec) {
            return None;
        }
        (self.tv_sec as u64).checked_mul(NSEC_PER_SEC as u64)?.checked_add(self.tv_nsec as u64)
    }
}

abi_struct! {
    /// `struct __kernel_old_timeval` with a 64-bit `long`.
    pub struct Timeval = "struct __kernel_old_timeval", size 16, align 8 {
        tv_sec: i64 = 0,
        tv_usec: i64 = 8,
    }
}

impl Timeval {
    /// `ns_to_kernel_old_timeval`: truncated to microseconds.
    pub fn from_nanos(nanos: u64) -> Self {
        Self {
            tv_sec: (nanos / 1_000_000_000) as i64,
            tv_usec: (nanos % 1_000_000_000 / 1000) as i64,
        }
    }
}

abi_struct! {
    /// `struct rusage`: two timevals and fourteen 64-bit `long`s.
    pub struct Rusage = "struct rusage", size 144, align 8 {
        ru_utime: Timeval = 0,
        ru_stime: Timeval = 16,
        ru_maxrss: i64 = 32,
        ru_ixrss: i64 = 40,
        ru_idrss: i64 = 48,
        ru_isrss: i64 = 56,
        ru_minflt: i64 = 64,
        ru_majflt: i64 = 72,
        ru_nswap: i64 = 80,
        ru_inblock: i64 = 88,
        ru_oublock: i64 = 96,
        ru_msgsnd: i64 = 104,
        ru_msgrcv: i64 = 112,
        ru_nsignals: i64 = 120,
        ru_nvcsw: i64 = 128,
        ru_nivcsw: i64 = 136,
    }
}

abi_struct! {
    /// `struct iovec`: a 64-bit user address and length.
    pub struct Iovec = "struct iovec", size 16, align 8 {
        iov_base: u64 = 0,
        iov_len: u64 = 8,
    }
}

abi_struct! {
    /// The generic `struct stat` (`newfstatat`, `fstat`) as `cp_new_stat` fills it on a 64-bit
    /// kernel: the full inode number, devices as `new_encode_dev()` values, nanosecond times.
    pub struct Stat = "struct stat", size 128, align 8 {
        st_dev: u64 = 0,
        st_ino: u64 = 8,
        st_mode: u32 = 16,
        st_nlink: u32 = 20,
        st_uid: u32 = 24,
        st_gid: u32 = 28,
        st_rdev: u64 = 32,
        __pad1: u64 = 40,
        st_size: i64 = 48,
        st_blksize: i32 = 56,
        __pad2: i32 = 60,
        st_blocks: i64 = 64,
        st_atime: i64 = 72,
        st_atime_nsec: u64 = 80,
        st_mtime: i64 = 88,
        st_mtime_nsec: u64 = 96,
        st_ctime: i64 = 104,
        st_ctime_nsec: u64 = 112,
        __unused4: u32 = 120,
        __unused5: u32 = 124,
    }
}

impl Kstat {
    /// `cp_new_stat()` on a 64-bit kernel, what arm64's `fstat` and `newfstatat` copy out
    /// (the counterpart of the 32-bit EABI's [`Kstat::to_stat64`]): nothing can overflow (the
    /// inode is 64-bit, `st_nlink` 32-bit, the size a 64-bit `long`), devices are
    /// `new_encode_dev()` values, and pivm's one time stamp fills all three times with 0 ns,
    /// as it does for `stat64` and `statx`.
    pub fn to_stat(&self) -> Stat {
        let t = self.mtime as i64;
        Stat {
            st_dev: u64::from(new_encode_dev(self.dev.0, self.dev.1)),
            st_ino: self.ino,
            st_mode: self.mode,
            st_nlink: self.nlink,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: u64::from(new_encode_dev(self.rdev.0, self.rdev.1)),
            __pad1: 0,
            st_size: self.size as i64,
            st_blksize: self.blksize as i32,
            __pad2: 0,
            st_blocks: self.blocks as i64,
            st_atime: t,
            st_atime_nsec: 0,
            st_mtime: t,
            st_mtime_nsec: 0,
            st_ctime: t,
            st_ctime_nsec: 0,
            __unused4: 0,
            __unused5: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::wire::Wire;

    #[test]
    fn timespec_checks_the_whole_nanoseconds() {
        let t = Timespec { tv_sec: 2, tv_nsec: 5 };
        assert_eq!(t.to_nanos(), Some(2_000_000_005));
        // The 32-bit kernel would see 5 in the low half; arm64 sees 2^32 + 5: EINVAL.
        assert_eq!(Timespec { tv_sec: 0, tv_nsec: (1 << 32) + 5 }.to_nanos(), None);
        assert_eq!(Timespec { tv_sec: -1, tv_nsec: 0 }.to_nanos(), None);
        assert_eq!(Timeval::from_nanos(1_500_999_999), Timeval { tv_sec: 1, tv_usec: 500_999 });
    }

    #[test]
    fn cp_new_stat_fills_every_member() {
        let k = Kstat {
            dev: (0, 2),
            ino: 1 << 40,
            mode: 0o20_666,
            nlink: 1,
            uid: 5,
            gid: 6,
            rdev: (1, 0x105),
            size: 1 << 33,
            blksize: 4096,
            blocks: 3,
            mtime: 0x1_0000_0007,
            mnt_id: 1,
            attributes: 0,
            attributes_mask: 0,
        };
        let s = k.to_stat();
        assert_eq!((s.st_dev, s.st_ino, s.st_mode, s.st_nlink), (2, 1 << 40, 0o20_666, 1));
        assert_eq!((s.st_uid, s.st_gid, s.st_rdev), (5, 6, 0x0010_0105));
        assert_eq!((s.st_size, s.st_blksize, s.st_blocks), (1 << 33, 4096, 3));
        // A time past 2038 is whole: the 64-bit `long` (stat64 on ARM keeps its low half).
        assert_eq!(
            (s.st_atime, s.st_mtime, s.st_ctime),
            (0x1_0000_0007, 0x1_0000_0007, 0x1_0000_0007)
        );
        assert_eq!(k.to_stat64().st_mtime, 7);
    }

    #[test]
    fn stat_encodes_little_endian_at_its_offsets() {
        let mut s = Stat::zeroed();
        s.st_ino = 0x1_0000_0002;
        s.st_size = 4096;
        s.st_dev = u64::from(new_encode_dev(179, 2));
        let b = s.to_bytes();
        assert_eq!(b.len(), 128);
        assert_eq!(&b[8..16], &0x1_0000_0002u64.to_le_bytes());
        assert_eq!(&b[48..56], &4096i64.to_le_bytes());
        assert_eq!(&b[0..8], &0xb302u64.to_le_bytes());
    }
}
