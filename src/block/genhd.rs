//! Disks and partitions (`struct gendisk`, the `block_device` of each partition) and their
//! I/O statistics (`struct disk_stats`), with 6.1's accounting rules: what a partition counts
//! its whole disk counts too (`part_stat_add`), `io_ticks` grows by the jiffies during which
//! the device had I/O (`update_io_ticks`), and requests in flight are counted per direction.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use super::partitions::msdos::Parsed;
use super::DevT;

/// Linux's stat groups (`enum stat_group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatGroup {
    Read = 0,
    Write = 1,
    Discard = 2,
    Flush = 3,
}

/// `NR_STAT_GROUPS`.
pub const NR_STAT_GROUPS: usize = 4;

/// A request's operation (`REQ_OP_READ`, `REQ_OP_WRITE`; the numbers are `bi_opf`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqOp {
    Read = 0,
    Write = 1,
}

impl ReqOp {
    /// `op_stat_group`.
    pub const fn stat_group(self) -> StatGroup {
        match self {
            ReqOp::Read => StatGroup::Read,
            ReqOp::Write => StatGroup::Write,
        }
    }
}

/// `struct disk_stats` (summed over CPUs) plus the in-flight counts blk-mq derives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub ios: [u64; NR_STAT_GROUPS],
    pub merges: [u64; NR_STAT_GROUPS],
    pub sectors: [u64; NR_STAT_GROUPS],
    pub nsecs: [u64; NR_STAT_GROUPS],
    /// Jiffies with I/O in flight.
    pub io_ticks: u64,
    /// Requests dispatched and not completed, reads and writes.
    pub in_flight: [u32; 2],
}

/// One partition, or the whole disk as partition 0 (Linux's `block_device`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub devt: DevT,
    pub partno: u32,
    pub start_sect: u64,
    pub nr_sects: u64,
    pub stats: DiskStats,
    /// `bd_stamp`: the jiffies `io_ticks` was last brought up to.
    pub stamp: u64,
}

/// A disk: partition 0 is the disk itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gendisk {
    pub major: u32,
    pub first_minor: u32,
    pub minors: u32,
    pub parts: Vec<Part>,
}

/// `disk_name`: a partition of a disk whose name ends in a digit gets a `p` (`mmcblk0p1`).
pub fn part_name(disk: &str, partno: u32) -> String {
    let mut s = String::from(disk);
    if partno != 0 {
        if s.ends_with(|c: char| c.is_ascii_digit()) {
            s.push('p');
        }
        let _ = write!(s, "{}", partno);
    }
    s
}

impl Gendisk {
    /// `alloc_disk` + `set_capacity`: a disk of `capacity` sectors without partitions yet.
    pub fn new(name: &str, major: u32, first_minor: u32, minors: u32, capacity: u64) -> Gendisk {
        let whole = Part {
            name: String::from(name),
            devt: DevT { major, minor: first_minor },
            partno: 0,
            start_sect: 0,
            nr_sects: capacity,
            stats: DiskStats::default(),
            stamp: 0,
        };
        Gendisk { major, first_minor, minors, parts: alloc::vec![whole] }
    }

    pub fn name(&self) -> &str {
        &self.parts[0].name
    }

    /// `get_capacity`.
    pub fn capacity(&self) -> u64 {
        self.parts[0].nr_sects
    }

    /// `blk_add_partitions` for what a parser found: a partition starting past the end is
    /// dropped, one running past it is cut to the end, each with 6.1's warning (returned, one
    /// per line).
    pub fn add_partitions(&mut self, parsed: &Parsed) -> Vec<String> {
        let mut warnings = Vec::new();
        self.parts.truncate(1);
        let cap = self.capacity();
        for p in &parsed.parts {
            if p.size == 0 || p.partno >= self.minors {
                continue;
            }
            let mut size = p.size;
            if p.from >= cap {
                warnings.push(alloc::format!(
                    "{}: p{} start {} is beyond EOD, truncated",
                    self.name(),
                    p.partno,
                    p.from
                ));
                continue;
            }
            if p.from + size > cap {
                warnings.push(alloc::format!(
                    "{}: p{} size {} extends beyond EOD, truncated",
                    self.name(),
                    p.partno,
                    size
                ));
                size = cap - p.from;
            }
            let part = Part {
                name: part_name(self.name(), p.partno),
                devt: DevT { major: self.major, minor: self.first_minor + p.partno },
                partno: p.partno,
                start_sect: p.from,
                nr_sects: size,
                stats: DiskStats::default(),
                stamp: 0,
            };
            self.parts.push(part);
        }
        warnings
    }

    /// The index in `parts` of partition `partno`.
    pub fn part_index(&self, partno: u32) -> Option<usize> {
        self.parts.iter().position(|p| p.partno == partno)
    }

    /// Applies `f` to partition `idx` and, for a partition, to the whole disk
    /// (`part_stat_add`).
    fn stat_add(&mut self, idx: usize, mut f: impl FnMut(&mut DiskStats)) {
        f(&mut self.parts[idx].stats);
        if idx != 0 {
            f(&mut self.parts[0].stats);
        }
    }

    /// `update_io_ticks` on the partition, then on the whole disk.
    fn update_io_ticks(&mut self, idx: usize, now: u64, end: bool) {
        let mut i = idx;
        loop {
            let p = &mut self.parts[i];
            if now > p.stamp {
                p.stats.io_ticks += if end { now - p.stamp } else { 1 };
                p.stamp = now;
            }
            if i == 0 {
                break;
            }
            i = 0;
        }
    }

    /// `blk_account_io_start` for a request dispatched to the driver.
    pub fn account_io_start(&mut self, idx: usize, op: ReqOp, now_jiffies: u64) {
        self.update_io_ticks(idx, now_jiffies, false);
        let dir = op as usize;
        self.stat_add(idx, |s| s.in_flight[dir] += 1);
    }

    /// `blk_account_io_merge_bio`: a bio joined a queued request.
    pub fn account_io_merge(&mut self, idx: usize, op: ReqOp) {
        let g = op.stat_group() as usize;
        self.stat_add(idx, |s| s.merges[g] += 1);
    }

    /// `blk_account_io_completion` and `blk_account_io_done`: `sectors` transferred, the
    /// request's time `nsecs`, one I/O.
    pub fn account_io_done(
        &mut self,
        idx: usize,
        op: ReqOp,
        sectors: u64,
        nsecs: u64,
        now_jiffies: u64,
    ) {
        let g = op.stat_group() as usize;
        let dir = op as usize;
        self.update_io_ticks(idx, now_jiffies, true);
        self.stat_add(idx, |s| {
            s.sectors[g] += sectors;
            s.ios[g] += 1;
            s.nsecs[g] += nsecs;
            s.in_flight[dir] = s.in_flight[dir].saturating_sub(1);
        });
    }
}

/// 6.1's `handle_bad_sector` message (two lines): `comm` is the submitting task's name.
pub fn beyond_eod_message(
    comm: &str,
    part: &str,
    op: ReqOp,
    sector: u64,
    nr_sectors: u64,
    limit: u64,
) -> String {
    alloc::format!(
        "{comm}: attempt to access beyond end of device\n{part}: rw={}, sector={sector}, \
         nr_sectors = {nr_sectors} limit={limit}",
        op as u32
    )
}

/// `bio_check_eod`: whether `nr_sectors` at `sector` fit a device of `limit` sectors.
pub fn fits(sector: u64, nr_sectors: u64, limit: u64) -> bool {
    nr_sectors <= limit && sector <= limit - nr_sectors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::partitions::msdos::{msdos_partition, tests::mbr};

    fn card() -> Gendisk {
        let mut d = Gendisk::new("mmcblk0", 179, 0, 8, 131072);
        let m = mbr(&[(0x80, 0x0c, 2048, 81920), (0, 0x82, 83968, 47104)]);
        let parsed = msdos_partition("mmcblk0", 8, |n| (n == 0).then_some(m));
        assert!(d.add_partitions(&parsed).is_empty());
        d
    }

    #[test]
    fn partitions_are_named_and_numbered_as_linux_does() {
        let d = card();
        let got: Vec<_> =
            d.parts.iter().map(|p| (p.name.as_str(), p.devt.minor, p.nr_sects)).collect();
        assert_eq!(got, [("mmcblk0", 0, 131072), ("mmcblk0p1", 1, 81920), ("mmcblk0p2", 2, 47104)]);
        assert_eq!(part_name("sda", 1), "sda1");
    }

    #[test]
    fn partitions_past_the_end_are_dropped_or_cut() {
        let mut d = Gendisk::new("mmcblk0", 179, 0, 8, 10000);
        let m = mbr(&[(0, 0x83, 2048, 4000), (0, 0x83, 8000, 4000), (0, 0x83, 20000, 10)]);
        let parsed = msdos_partition("mmcblk0", 8, |n| (n == 0).then_some(m));
        let w = d.add_partitions(&parsed);
        assert_eq!(
            w,
            [
                "mmcblk0: p2 size 4000 extends beyond EOD, truncated",
                "mmcblk0: p3 start 20000 is beyond EOD, truncated"
            ]
        );
        assert_eq!(d.parts.len(), 3);
        assert_eq!(d.parts[2].nr_sects, 2000);
    }

    #[test]
    fn a_partitions_io_counts_for_the_disk_too() {
        let mut d = card();
        d.account_io_start(1, ReqOp::Read, 100);
        assert_eq!(d.parts[1].stats.in_flight, [1, 0]);
        assert_eq!(d.parts[0].stats.in_flight, [1, 0]);
        d.account_io_done(1, ReqOp::Read, 8, 3_000_000, 103);
        for i in [0, 1] {
            let s = d.parts[i].stats;
            assert_eq!(
                (s.ios[0], s.sectors[0], s.nsecs[0], s.in_flight),
                (1, 8, 3_000_000, [0, 0])
            );
            // One tick at the start (stamp was 0), then the three jiffies to completion.
            assert_eq!(s.io_ticks, 1 + 3);
        }
        assert_eq!(d.parts[2].stats, DiskStats::default());
        d.account_io_merge(2, ReqOp::Write);
        assert_eq!((d.parts[2].stats.merges[1], d.parts[0].stats.merges[1]), (1, 1));
    }

    #[test]
    fn end_of_device_checks_and_message() {
        assert!(fits(0, 8, 8));
        assert!(!fits(1, 8, 8));
        assert!(!fits(u64::MAX, 2, 8));
        assert!(!fits(0, 9, 8));
        assert_eq!(
            beyond_eod_message("swapper/0", "mmcblk0p2", ReqOp::Read, 47104, 1, 47104),
            "swapper/0: attempt to access beyond end of device\nmmcblk0p2: rw=0, sector=47104, \
             nr_sectors = 1 limit=47104"
        );
    }
}
