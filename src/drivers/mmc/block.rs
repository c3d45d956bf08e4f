//! The SD card as a block device (`drivers/mmc/core/block.c`): `mmcblk0` with major 179 and
//! eight minors, registered on the block layer with the card's capacity, its partition
//! table read at probe, and requests passed to the SDHCI driver.
use alloc::vec::Vec;

use spin::Once;

use super::core::StringSize;
use super::sdhci::{self, HOSTNAME};
use crate::block::blk_mq::{BioVec, Request};
use crate::block::core::{self as blk, BlockOps};
use crate::block::genhd::{Gendisk, ReqOp};
use crate::block::partitions::msdos;
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
    // check_partition: read through the block layer like any other I/O (one page).
    let mut first_page: Option<Vec<u8>> = None;
    let parsed = msdos::msdos_partition("mmcblk0", MMC_BLOCK_MINORS, |sector| {
        let mut buf = alloc::vec![0u8; SECTOR_SIZE];
        if sector == 0 {
            if let Some(p) = &first_page {
                buf.copy_from_slice(&p[..SECTOR_SIZE]);
                return buf.try_into().ok();
            }
            // read_part_sector reads the page holding the sector: 8 sectors.
            let mut page = alloc::vec![0u8; 4096];
            let seg = BioVec { addr: page.as_mut_ptr() as usize, len: page.len() as u32 };
            blk::submit_bio_wait(disk, 0, ReqOp::Read, 0, alloc::vec![seg]).ok()?;
            buf.copy_from_slice(&page[..SECTOR_SIZE]);
            first_page = Some(page);
            return buf.try_into().ok();
        }
        let seg = BioVec { addr: buf.as_mut_ptr() as usize, len: SECTOR_SIZE as u32 };
        blk::submit_bio_wait(disk, 0, ReqOp::Read, sector, alloc::vec![seg]).ok()?;
        buf.try_into().ok()
    });
    kprintln!("{}", parsed.line);
    blk::set_partitions(disk, &parsed);
}
