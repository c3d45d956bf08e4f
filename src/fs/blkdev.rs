//! Block-device files (`/dev/mmcblk0`, `/dev/mmcblk0p1`...): what an open of a block special
//! file reaches (`blkdev_open`, `def_blk_fops`), read-only in pivm. Reads go through the
//! device's own page cache with the open file's read-ahead (`blkdev_read_iter` ->
//! `filemap_read` over `bdev->bd_inode->i_mapping`), pages counted as `Buffers`; the
//! `ioctl`s `blockdev` uses (`blkdev_common_ioctl`, `blkdev_ioctl`). The kernel implements
//! [`BlockDevOps`] over the block layer and the card's page cache.
use crate::abi::errno::Errno;
use crate::abi::uaccess::{put_user, UserMemory};
use crate::block::SECTOR_SIZE;
use crate::mm::readahead::FileRaState;

/// The block `ioctl`s pivm answers (ARM EABI's numbers: `size_t` is 4 bytes).
pub mod ioctl {
    /// `_IO(0x12, 96)`: the size in 512-byte sectors, an `unsigned long`.
    pub const BLKGETSIZE: u32 = 0x1260;
    /// `_IO(0x12, 98)`: set read-ahead, in sectors (the argument itself).
    pub const BLKRASET: u32 = 0x1262;
    /// `_IO(0x12, 99)`: read-ahead in sectors, a `long`.
    pub const BLKRAGET: u32 = 0x1263;
    /// `_IO(0x12, 104)`: the logical block size, an `int`.
    pub const BLKSSZGET: u32 = 0x1268;
    /// `_IOR(0x12, 112, size_t)`: the soft block size, an `int`.
    pub const BLKBSZGET: u32 = 0x8004_1270;
    /// `_IOR(0x12, 114, size_t)`: the size in bytes, a `u64`.
    pub const BLKGETSIZE64: u32 = 0x8004_1272;
}

/// The block devices the kernel has, by device number.
pub trait BlockDevOps: Send + core::fmt::Debug {
    /// `blkdev_get_by_dev`: the device's inode in its page cache and a new open file's
    /// read-ahead state; `ENXIO` for a number with no device.
    fn open(&self, rdev: (u32, u32)) -> Result<(u64, FileRaState), Errno>;
    /// `bdev_nr_bytes`.
    fn size(&self, rdev: (u32, u32)) -> Result<u64, Errno>;
    /// Reads from `pos` into `buf` through the device's page cache; `req` as
    /// [`crate::fs::vfs::DiskFs::read`]'s.
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        ra: &mut FileRaState,
    ) -> Result<usize, Errno>;
    /// The disk's `read_ahead_kb` (`bdi->ra_pages`), and setting it.
    fn read_ahead_kb(&self, rdev: (u32, u32)) -> u64;
    fn set_read_ahead_kb(&self, rdev: (u32, u32), kb: u64);
}

/// `block_size(bdev)`: the page size for a device nothing has set it on.
const BLOCK_SIZE: i32 = 4096;

/// `blkdev_ioctl` of `cmd` on device `rdev` with argument `arg` (a user pointer, or the value
/// for `BLKRASET`). `ENOTTY` for anything else (`blkdev_ioctl`'s `-ENOIOCTLCMD`).
pub fn ioctl(
    ops: &dyn BlockDevOps,
    mem: &mut impl UserMemory,
    rdev: (u32, u32),
    cmd: u32,
    arg: usize,
) -> Result<u32, Errno> {
    let sectors = || ops.size(rdev).map(|b| b / SECTOR_SIZE as u64);
    match cmd {
        ioctl::BLKGETSIZE64 => put_user(mem, arg, &ops.size(rdev)?).map(|_| 0),
        // EFBIG when the count does not fit an unsigned long.
        ioctl::BLKGETSIZE => {
            let s = u32::try_from(sectors()?).map_err(|_| Errno::EFBIG)?;
            put_user(mem, arg, &s).map(|_| 0)
        }
        ioctl::BLKSSZGET => put_user(mem, arg, &(SECTOR_SIZE as i32)).map(|_| 0),
        ioctl::BLKBSZGET => put_user(mem, arg, &BLOCK_SIZE).map(|_| 0),
        // ra_pages * PAGE_SIZE / 512: read_ahead_kb * 2.
        ioctl::BLKRAGET => put_user(mem, arg, &((ops.read_ahead_kb(rdev) * 2) as i32)).map(|_| 0),
        // ra_pages = arg * 512 / PAGE_SIZE: whole pages only.
        ioctl::BLKRASET => {
            let pages = arg as u64 * SECTOR_SIZE as u64 / 4096;
            ops.set_read_ahead_kb(rdev, pages * 4);
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::uaccess::SparseUserMemory;
    use crate::kernel::spinlock::SpinLock;
    use core::cell::Cell;

    #[derive(Debug)]
    struct Dev {
        ra_kb: SpinLock<Cell<u64>>,
    }

    impl BlockDevOps for Dev {
        fn open(&self, rdev: (u32, u32)) -> Result<(u64, FileRaState), Errno> {
            if rdev == (179, 2) {
                Ok((7, FileRaState::new(32)))
            } else {
                Err(Errno::ENXIO)
            }
        }
        fn size(&self, _: (u32, u32)) -> Result<u64, Errno> {
            Ok(47104 * 512)
        }
        fn read(
            &self,
            _: u64,
            _: u64,
            _: &mut [u8],
            _: usize,
            _: &mut FileRaState,
        ) -> Result<usize, Errno> {
            Ok(0)
        }
        fn read_ahead_kb(&self, _: (u32, u32)) -> u64 {
            self.ra_kb.lock().get()
        }
        fn set_read_ahead_kb(&self, _: (u32, u32), kb: u64) {
            self.ra_kb.lock().set(kb)
        }
    }

    #[test]
    fn blockdev_ioctls_answer_as_6_1() {
        let dev = Dev { ra_kb: SpinLock::new(Cell::new(128)) };
        let mut mem = SparseUserMemory::new(0xbf00_0000);
        mem.map(0x1000, 0x1000, true);
        let p2 = (179, 2);
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKGETSIZE64, 0x1000), Ok(0));
        assert_eq!(mem.peek(0x1000, 8), (47104u64 * 512).to_le_bytes());
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKGETSIZE, 0x1000), Ok(0));
        assert_eq!(mem.peek(0x1000, 4), 47104u32.to_le_bytes());
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKRAGET, 0x1000), Ok(0));
        assert_eq!(mem.peek(0x1000, 4), 256i32.to_le_bytes());
        // blockdev --setra 7: whole pages only (3 pages, 12 KiB).
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKRASET, 7), Ok(0));
        assert_eq!(dev.read_ahead_kb(p2), 0);
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKRASET, 24), Ok(0));
        assert_eq!(dev.read_ahead_kb(p2), 12);
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKSSZGET, 0x1000), Ok(0));
        assert_eq!(mem.peek(0x1000, 4), 512i32.to_le_bytes());
        assert_eq!(ioctl(&dev, &mut mem, p2, ioctl::BLKGETSIZE64, 0x9000), Err(Errno::EFAULT));
        assert_eq!(ioctl(&dev, &mut mem, p2, 0x5401, 0x1000), Err(Errno::ENOTTY));
    }
}
