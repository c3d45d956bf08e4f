//! The card's block-device files: `/dev/mmcblk0`, `/dev/mmcblk0p1`, ... made in the rootfs's
//! `/dev` once the partitions are known (as devtmpfs makes them when `add_disk` registers
//! them: block special, 0660, major:minor 179:N), and what opening one reaches: the device's
//! page cache in `kernel::cardfs` (its own inode there, pages counted as `Buffers`, read with
//! the open file's read-ahead, mapped by the fault path like a file's) and the disk's
//! `read_ahead_kb`.
use alloc::boxed::Box;

use crate::abi::errno::Errno;
use crate::block::core as blk;
use crate::block::{MMC_BLOCK_MAJOR, SECTOR_SIZE};
use crate::fs::blkdev::BlockDevOps;
use crate::fs::ramfs::S_IFBLK;
use crate::kernel::cardfs;
use crate::mm::readahead::FileRaState;

/// devtmpfs's mode for a disk's node.
const BLKDEV_MODE: u32 = 0o660;

/// The card's block devices as the file layer opens them.
#[derive(Debug)]
struct CardBlockDevs;

/// The (disk, partition) behind device number `rdev`.
fn lookup(rdev: (u32, u32)) -> Result<(usize, u32), Errno> {
    blk::parts_snapshot()
        .iter()
        .find(|p| (p.devt.major, p.devt.minor) == rdev)
        .and_then(|p| blk::lookup(&p.name))
        .ok_or(Errno::ENXIO)
}

impl BlockDevOps for CardBlockDevs {
    fn open(&self, rdev: (u32, u32)) -> Result<(u64, FileRaState), Errno> {
        let (_, partno) = lookup(rdev)?;
        cardfs::bdev_open(partno)
    }
    fn size(&self, rdev: (u32, u32)) -> Result<u64, Errno> {
        let (disk, partno) = lookup(rdev)?;
        let (_, sectors) = blk::part_info(disk, partno).ok_or(Errno::ENXIO)?;
        Ok(sectors * SECTOR_SIZE as u64)
    }
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        ra: &mut FileRaState,
    ) -> Result<usize, Errno> {
        cardfs::bdev_read(ino, pos, buf, req, ra)
    }
    fn read_ahead_kb(&self, rdev: (u32, u32)) -> u64 {
        lookup(rdev).map_or(blk::DEFAULT_READ_AHEAD_KB, |(d, _)| blk::read_ahead_kb(d))
    }
    fn set_read_ahead_kb(&self, rdev: (u32, u32), kb: u64) {
        if let Ok((disk, _)) = lookup(rdev) {
            blk::set_read_ahead_kb(disk, kb);
        }
    }
}

/// Makes a node in `/dev` for the disk and each partition, and lets the file layer open
/// them. At boot, after the partition scan and the `/boot` mount.
pub fn make_nodes() {
    let parts = blk::parts_snapshot();
    if parts.is_empty() {
        return;
    }
    crate::kernel::process::fs::with_ns(|ns| {
        for p in parts.iter().filter(|p| p.devt.major == MMC_BLOCK_MAJOR) {
            let path = alloc::format!("/dev/{}", p.name);
            let ino = match ns.ramfs.lookup_nofollow(&path) {
                Ok(i) => i,
                Err(_) => {
                    match ns.ramfs.mknod(&path, S_IFBLK | BLKDEV_MODE, (p.devt.major, p.devt.minor))
                    {
                        Ok(i) => i,
                        Err(_) => continue,
                    }
                }
            };
            cardfs::register_bdev_node(ino, p.partno);
        }
        ns.blkdev = Some(Box::new(CardBlockDevs));
    });
}
