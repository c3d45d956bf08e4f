//! The block layer (Linux's `block/`): disks and their partitions (`genhd`), the MBR parser
//! (`partitions/msdos`), requests built from bios and queued per disk in FIFO order
//! (`blk_mq`), and the I/O accounting `/proc/diskstats` shows. The data structures are pure
//! and host-tested; `core` (kernel build) holds the registered disks and runs their queues,
//! and `task` answers for the task that waits on them (a program or the idle task).
pub mod blk_mq;
pub mod genhd;
pub mod partitions;

#[cfg(kernel)]
pub mod core;
#[cfg(kernel)]
pub mod task;

/// Bytes of a sector (`SECTOR_SIZE`): the unit of every block address.
pub const SECTOR_SIZE: usize = 512;
/// `SECTOR_SHIFT`.
pub const SECTOR_SHIFT: u32 = 9;
/// `MMC_BLOCK_MAJOR`: the SD/MMC cards' block major.
pub const MMC_BLOCK_MAJOR: u32 = 179;
/// `CONFIG_MMC_BLOCK_MINORS`: minors per card (the disk and partitions 1-7).
pub const MMC_BLOCK_MINORS: u32 = 8;

/// A block device number (`dev_t`, its major and minor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevT {
    pub major: u32,
    pub minor: u32,
}
