//! The user-visible structures whose layout is the same on every Linux architecture (no
//! `long` or pointer in them): `struct __kernel_timespec` (64-bit time, `clock_gettime64`),
//! `struct statx` with its timestamps, `struct linux_dirent64` (`getdents64`) and
//! `struct new_utsname` (`uname`). Layouts from `include/uapi/linux/{time_types,stat,utsname}.h`
//! and `include/linux/dirent.h`; checked against the cross compiler by `tests/abi_golden.rs`.
use alloc::vec::Vec;

use super::wire::Wire;
use crate::abi_struct;

abi_struct! {
    /// `struct __kernel_timespec`: 64-bit seconds and nanoseconds (`clock_gettime64`,
    /// `nanosleep` through `clock_nanosleep_time64`, `utimensat_time64`).
    pub struct KernelTimespec = "struct __kernel_timespec", size 16, align 8 {
        tv_sec: i64 = 0,
        tv_nsec: i64 = 8,
    }
}

/// Nanoseconds per second: a `tv_nsec` at or above it is `EINVAL` (`timespec64_valid`).
pub const NSEC_PER_SEC: i64 = 1_000_000_000;

impl KernelTimespec {
    /// `get_timespec64()` then `timespec64_valid()`: on a 32-bit kernel `tv_nsec` lands in a
    /// `long`, so only its low 32 bits count; they must be in `[0, NSEC_PER_SEC)` and the
    /// seconds not negative. The total in nanoseconds, or `None` (`EINVAL`).
    pub fn to_nanos(&self) -> Option<u64> {
        let nsec = self.tv_nsec as i32 as i64;
        if self.tv_sec < 0 || !(0..NSEC_PER_SEC).contains(&nsec) {
            return None;
        }
        (self.tv_sec as u64).checked_mul(NSEC_PER_SEC as u64)?.checked_add(nsec as u64)
    }

    /// The timespec of `nanos` nanoseconds.
    pub fn from_nanos(nanos: u64) -> Self {
        Self {
            tv_sec: (nanos / NSEC_PER_SEC as u64) as i64,
            tv_nsec: (nanos % NSEC_PER_SEC as u64) as i64,
        }
    }
}

abi_struct! {
    /// `struct statx_timestamp`.
    pub struct StatxTimestamp = "struct statx_timestamp", size 16, align 8 {
        tv_sec: i64 = 0,
        tv_nsec: u32 = 8,
        __reserved: i32 = 12,
    }
}

abi_struct! {
    /// `struct statx` as 6.1 fills it (`cp_statx`), including 6.1's new `stx_dio_*` members.
    pub struct Statx = "struct statx", size 256, align 8 {
        stx_mask: u32 = 0,
        stx_blksize: u32 = 4,
        stx_attributes: u64 = 8,
        stx_nlink: u32 = 16,
        stx_uid: u32 = 20,
        stx_gid: u32 = 24,
        stx_mode: u16 = 28,
        __spare0: [u16; 1] = 30,
        stx_ino: u64 = 32,
        stx_size: u64 = 40,
        stx_blocks: u64 = 48,
        stx_attributes_mask: u64 = 56,
        stx_atime: StatxTimestamp = 64,
        stx_btime: StatxTimestamp = 80,
        stx_ctime: StatxTimestamp = 96,
        stx_mtime: StatxTimestamp = 112,
        stx_rdev_major: u32 = 128,
        stx_rdev_minor: u32 = 132,
        stx_dev_major: u32 = 136,
        stx_dev_minor: u32 = 140,
        stx_mnt_id: u64 = 144,
        stx_dio_mem_align: u32 = 152,
        stx_dio_offset_align: u32 = 156,
        __spare3: [u64; 12] = 160,
    }
}

/// `statx()` mask bits (`STATX_*`).
pub mod statx_mask {
    pub const TYPE: u32 = 0x0001;
    pub const MODE: u32 = 0x0002;
    pub const NLINK: u32 = 0x0004;
    pub const UID: u32 = 0x0008;
    pub const GID: u32 = 0x0010;
    pub const ATIME: u32 = 0x0020;
    pub const MTIME: u32 = 0x0040;
    pub const CTIME: u32 = 0x0080;
    pub const INO: u32 = 0x0100;
    pub const SIZE: u32 = 0x0200;
    pub const BLOCKS: u32 = 0x0400;
    /// `STATX_BASIC_STATS`: everything `stat` has.
    pub const BASIC_STATS: u32 = 0x07ff;
    pub const BTIME: u32 = 0x0800;
    pub const MNT_ID: u32 = 0x1000;
    pub const DIOALIGN: u32 = 0x2000;
    /// `STATX__RESERVED`: a request with this bit is `EINVAL`.
    pub const RESERVED: u32 = 0x8000_0000;
}

/// `stx_attributes` bits (`STATX_ATTR_*`).
pub mod statx_attr {
    pub const COMPRESSED: u64 = 0x4;
    pub const IMMUTABLE: u64 = 0x10;
    pub const APPEND: u64 = 0x20;
    pub const NODUMP: u64 = 0x40;
    pub const ENCRYPTED: u64 = 0x800;
    pub const AUTOMOUNT: u64 = 0x1000;
    pub const MOUNT_ROOT: u64 = 0x2000;
    pub const VERITY: u64 = 0x10_0000;
    pub const DAX: u64 = 0x20_0000;
}

/// `struct linux_dirent64`'s fixed part: `d_ino`, `d_off`, `d_reclen`, `d_type`, then the
/// name (NUL-terminated) and padding to 8 bytes.
pub const DIRENT64_NAME_OFFSET: usize = 19;
/// Alignment of each `linux_dirent64` record (`sizeof(u64)`).
pub const DIRENT64_ALIGN: usize = 8;

abi_struct! {
    /// The fixed header of `struct linux_dirent64` (`d_name[]` follows at offset 19).
    pub struct Dirent64Header = "struct linux_dirent64", size 24, align 8 {
        d_ino: u64 = 0,
        d_off: i64 = 8,
        d_reclen: u16 = 16,
        d_type: u8 = 18,
    }
}

/// `d_type` values (`DT_*`), from the inode's file type (`S_IFMT >> 12`).
pub mod dt {
    pub const UNKNOWN: u8 = 0;
    pub const FIFO: u8 = 1;
    pub const CHR: u8 = 2;
    pub const DIR: u8 = 4;
    pub const BLK: u8 = 6;
    pub const REG: u8 = 8;
    pub const LNK: u8 = 10;
    pub const SOCK: u8 = 12;
}

/// The length of one `linux_dirent64` record for a name of `namelen` bytes:
/// `ALIGN(offsetof(d_name) + namlen + 1, sizeof(u64))`, as `filldir64` computes it.
pub const fn dirent64_reclen(namelen: usize) -> usize {
    (DIRENT64_NAME_OFFSET + namelen + 1).next_multiple_of(DIRENT64_ALIGN)
}

/// Appends one `linux_dirent64` record to `out`: the header, the name, a NUL, zero padding.
pub fn encode_dirent64(out: &mut Vec<u8>, d_ino: u64, d_off: i64, d_type: u8, name: &[u8]) {
    let reclen = dirent64_reclen(name.len());
    let start = out.len();
    out.resize(start + reclen, 0);
    let h = Dirent64Header { d_ino, d_off, d_reclen: reclen as u16, d_type };
    // The header's own padding (bytes 19..24) is where the name starts: write the members only.
    let mut head = [0u8; Dirent64Header::SIZE];
    h.put(&mut head);
    out[start..start + DIRENT64_NAME_OFFSET].copy_from_slice(&head[..DIRENT64_NAME_OFFSET]);
    out[start + DIRENT64_NAME_OFFSET..start + DIRENT64_NAME_OFFSET + name.len()]
        .copy_from_slice(name);
}

/// Length of each `struct new_utsname` string, NUL included (`__NEW_UTS_LEN + 1`).
pub const NEW_UTS_LEN: usize = 65;

abi_struct! {
    /// `struct new_utsname` (`uname`): six NUL-padded 65-byte strings.
    pub struct NewUtsname = "struct new_utsname", size 390, align 1 {
        sysname: [u8; 65] = 0,
        nodename: [u8; 65] = 65,
        release: [u8; 65] = 130,
        version: [u8; 65] = 195,
        machine: [u8; 65] = 260,
        domainname: [u8; 65] = 325,
    }
}

/// A NUL-padded `[u8; 65]` holding `s` (cut at 64 bytes, as `strscpy` into the field would).
pub fn uts_field(s: &str) -> [u8; NEW_UTS_LEN] {
    let mut f = [0u8; NEW_UTS_LEN];
    let n = s.len().min(NEW_UTS_LEN - 1);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirent_records_are_aligned_and_name_terminated() {
        assert_eq!(dirent64_reclen(1), 24);
        assert_eq!(dirent64_reclen(4), 24);
        assert_eq!(dirent64_reclen(5), 32, "19 + 5 + NUL = 25 rounds up to 32");
        let mut out = Vec::new();
        encode_dirent64(&mut out, 7, 3, dt::REG, b"hello");
        assert_eq!(out.len(), 32);
        assert_eq!(&out[0..8], &7u64.to_le_bytes());
        assert_eq!(&out[8..16], &3i64.to_le_bytes());
        assert_eq!(&out[16..18], &32u16.to_le_bytes());
        assert_eq!(out[18], dt::REG);
        assert_eq!(&out[19..25], b"hello\0");
        assert!(out[25..].iter().all(|&b| b == 0));
    }

    #[test]
    fn timespec_validation_follows_timespec64_valid() {
        let ts = |s, n| KernelTimespec { tv_sec: s, tv_nsec: n };
        assert_eq!(ts(1, 5).to_nanos(), Some(1_000_000_005));
        assert_eq!(ts(0, NSEC_PER_SEC).to_nanos(), None);
        assert_eq!(ts(0, -1).to_nanos(), None);
        assert_eq!(ts(-1, 0).to_nanos(), None);
        // Only the low 32 bits of tv_nsec count on a 32-bit kernel.
        assert_eq!(ts(0, (1 << 32) + 7).to_nanos(), Some(7));
        assert_eq!(KernelTimespec::from_nanos(2_500_000_000), ts(2, 500_000_000));
        let u = NewUtsname { sysname: uts_field("Linux"), ..NewUtsname::zeroed() };
        assert_eq!(&u.to_bytes()[..6], b"Linux\0");
        assert_eq!(uts_field(&"x".repeat(100))[64], 0);
    }
}
