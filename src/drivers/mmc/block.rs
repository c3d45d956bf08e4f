//! The SD card as a block device (`drivers/mmc/core/block.c`): `mmcblk0` with major 179 and
//! eight minors, registered on the block layer with the card's capacity, its partition
//! table read at probe, and requests passed to the SDHCI driver.
use spin::Once;

use super::core::StringSize;
use super::sdhci::{self, HOSTNAME};
use crate::block::blk_mq::Request;
use crate::block::core::{self as blk, BlockOps};
use crate::block::genhd::Gendisk;
use crate::block::{MMC_BLOCK_MAJOR, MMC_BLOCK_MINORS, SECTOR_SIZE};
use crate::kprintln;

/// Sectors one request may move (`max_hw_sectors`: 128 KiB, the read-ahead window).
pub const MAX_SECTORS: u64 = 256;

/// The disk number the block layer gave the card.
static DISK: Once<usize> = Once::new();

struct MmcBlk;

impl BlockOps for MmcBlk {
    fn queue_rq(&self, rq: Request) -> Result<(), Request> {
        sdhci::start_request(rq)
    }
    fn timeout(&self) -> Option<Request> {
        sdhci::abort_request()
    }
}

static OPS: MmcBlk = MmcBlk;

/// The SDHCI driver finished `rq` (from its interrupt handler, or at once on an error).
pub fn request_done(rq: Request, status: i32) {
    if let Some(&d) = DISK.get() {
        blk::blk_mq_end_request(d, rq, status);
    }
}

/// Probes the controller and the card; with a card, registers `mmcblk0` and reads its
/// partition table. The boot messages are Linux's.
pub fn probe() {
    let Some(card) = sdhci::probe() else { return };
    kprintln!("{}: new {} card at address {:04x}", HOSTNAME, card.ty.name(), card.rca);
    let gd = Gendisk::new("mmcblk0", MMC_BLOCK_MAJOR, 0, MMC_BLOCK_MINORS, card.sectors);
    let disk = *DISK.call_once(|| blk::add_disk(gd, &OPS, MAX_SECTORS));
    kprintln!(
        "mmcblk0: {}:{:04x} {} {} ",
        HOSTNAME,
        card.rca,
        card.cid.name(),
        StringSize(card.sectors * SECTOR_SIZE as u64)
    );
    blk::scan_partitions(disk);
}
