//! The block-device commands: `blockdev` (util-linux's sizes and `--rereadpt`) and `dd`
//! between block devices, `/dev/zero` and the console (a `hexdump -C` dump). I/O goes
//! through the block layer as bios, like `dd iflag=direct oflag=direct` on Linux: a range
//! past the end of the device is refused with the kernel's message and `EIO`.
use alloc::vec::Vec;

use super::{CmdError, CmdResult};
use crate::block::blk_mq::BioVec;
use crate::block::core as blk;
use crate::block::genhd::ReqOp;
use crate::block::SECTOR_SIZE;
use crate::console::args::Args;
use crate::console::dd::{self, DdArgs, DEV_ZERO};
use crate::console::printk::Console;
use crate::drivers::mmc::block::MAX_SECTORS;
use crate::kernel::Kernel;
use crate::kprintln;

/// A block device named on the command line (`/dev/mmcblk0p1` or `mmcblk0p1`).
fn device(args: &Args<'_>, name: &str) -> Result<(usize, u32), CmdError> {
    match blk::lookup(name) {
        Some(d) => Ok(d),
        None => fail!(args, "cannot open {}: No such file or directory", name),
    }
}

pub(super) fn cmd_blockdev(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() == 4 && args.get(1) == Some("--setra") {
        // BLKRASET: read-ahead in 512-byte sectors, kept per disk in whole pages
        // (`bdi->ra_pages = arg >> (PAGE_SHIFT - 9)`); a partition sets its disk's.
        let name = args.get(3).unwrap_or("");
        let (disk, _) = device(args, name)?;
        let Some(sectors) = args.get(2).and_then(|v| v.parse::<u64>().ok()) else {
            fail!(args, "failed to parse read-ahead value: '{}'", args.get(2).unwrap_or(""))
        };
        let pages = sectors >> (crate::mm::PAGE_SHIFT - 9);
        blk::set_read_ahead_kb(disk, pages * crate::mm::PAGE_SIZE / 1024);
        return Ok(());
    }
    if args.len() != 3 {
        return Err(CmdError::Usage);
    }
    let (op, name) = (args.get(1).unwrap_or(""), args.get(2).unwrap_or(""));
    let (disk, partno) = device(args, name)?;
    let Some((_, sectors)) = blk::part_info(disk, partno) else {
        fail!(args, "cannot open {}: No such device or address", name)
    };
    match op {
        "--getsize64" => kprintln!("{}", sectors * SECTOR_SIZE as u64),
        "--getsz" => kprintln!("{}", sectors),
        "--getss" => kprintln!("{}", SECTOR_SIZE),
        // BLKRAGET: the disk's read-ahead in sectors.
        "--getra" => kprintln!("{}", blk::read_ahead_kb(disk) * 2),
        "--rereadpt" if partno == 0 => blk::scan_partitions(disk),
        "--rereadpt" => fail!(args, "ioctl error on BLKRRPART: Invalid argument"),
        other => {
            fail!(
                args,
                "unknown command {} (--getsize64, --getsz, --getss, --getra, --setra N, --rereadpt)",
                other
            )
        }
    }
    Ok(())
}

/// Submits `op` on `buf` at `sector` in requests of at most `MAX_SECTORS`.
fn transfer(
    disk: usize,
    partno: u32,
    op: ReqOp,
    sector: u64,
    buf: &mut [u8],
) -> Result<(), crate::abi::errno::Errno> {
    let chunk = MAX_SECTORS as usize * SECTOR_SIZE;
    for (i, part) in buf.chunks_mut(chunk).enumerate() {
        let seg = BioVec { addr: part.as_mut_ptr() as usize, len: part.len() as u32 };
        let s = sector + (i * chunk / SECTOR_SIZE) as u64;
        blk::submit_bio_wait(disk, partno, op, s, alloc::vec![seg])?;
    }
    Ok(())
}

pub(super) fn cmd_dd(_: &Kernel, args: &Args<'_>) -> CmdResult {
    let a: DdArgs<'_> = match dd::parse(&args.as_slice()[1..]) {
        Ok(a) => a,
        Err(e) => fail!(args, "{}", e),
    };
    let bytes = (a.count * a.bs) as usize;
    let sectors_per_block = a.bs / SECTOR_SIZE as u64;
    let mut buf: Vec<u8> = Vec::new();
    if buf.try_reserve_exact(bytes).is_err() {
        fail!(args, "memory exhausted by {} bytes", bytes);
    }
    buf.resize(bytes, 0);
    let start = crate::kernel::time::ktime_get_boottime_ns();
    if a.input != DEV_ZERO {
        let (disk, partno) = device(args, a.input)?;
        let Some(sector) = a.skip.checked_mul(sectors_per_block) else {
            fail!(args, "{}: cannot skip: Invalid argument", a.input)
        };
        if let Err(e) = transfer(disk, partno, ReqOp::Read, sector, &mut buf) {
            kprintln!("dd: error reading '{}': {}", a.input, e.message());
            kprintln!("0+0 records in\n0+0 records out");
            return Err(CmdError::Reported);
        }
    }
    kprintln!("{}+0 records in", a.count);
    match a.output {
        None => {
            let ns = crate::kernel::time::ktime_get_boottime_ns().saturating_sub(start);
            let _ = dd::hexdump_c(&mut Console, &buf, 0);
            print_copied(bytes, ns);
        }
        Some(out) => {
            let (disk, partno) = device(args, out)?;
            let Some(sector) = a.seek.checked_mul(sectors_per_block) else {
                fail!(args, "{}: cannot seek: Invalid argument", out)
            };
            if let Err(e) = transfer(disk, partno, ReqOp::Write, sector, &mut buf) {
                kprintln!("dd: error writing '{}': {}", out, e.message());
                kprintln!("0+0 records out");
                return Err(CmdError::Reported);
            }
            kprintln!("{}+0 records out", a.count);
            print_copied(bytes, crate::kernel::time::ktime_get_boottime_ns().saturating_sub(start));
        }
    }
    Ok(())
}

/// dd's summary: the bytes and the time the block I/O took (the dump's printing left out).
fn print_copied(bytes: usize, ns: u64) {
    kprintln!("{} bytes copied, {}.{:06} s", bytes, ns / 1_000_000_000, ns % 1_000_000_000 / 1000);
}

/// `iowait`: the programs' waits for the card since boot, asleep (`io_schedule`: `D`, other
/// tasks run) and idle (the CPU in `wfi` under a lock, nothing else running; none is the aim).
pub(super) fn cmd_iowait(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() != 1 {
        fail!(args, "usage: iowait");
    }
    let (slept, idle) = crate::kernel::process::iowait::wait_counts();
    kprintln!("iowait: {} waits for the card asleep, {} idle", slept, idle);
    Ok(())
}
