//! `/proc/diskstats` (6.1's `diskstats_show`): per device its number, name, then the read,
//! write, discard and flush counters: I/Os, merges, sectors, milliseconds, the requests in
//! flight, the milliseconds with I/O (`io_ticks`) and the weighted total.
use core::fmt::{self, Write};

use crate::block::genhd::Part;

/// Nanoseconds per millisecond.
const NSEC_PER_MSEC: u64 = 1_000_000;

/// Renders every partition of every disk; `ms_per_jiffy` converts `io_ticks`
/// (`jiffies_to_msecs`, 10 at HZ=100).
pub fn render<'a>(
    w: &mut impl Write,
    parts: impl Iterator<Item = &'a Part>,
    ms_per_jiffy: u64,
) -> fmt::Result {
    for p in parts {
        // Partitions of no size are skipped; the disk is always listed.
        if p.partno != 0 && p.nr_sects == 0 {
            continue;
        }
        let s = &p.stats;
        let ms = |i: usize| s.nsecs[i] / NSEC_PER_MSEC;
        writeln!(
            w,
            "{:4} {:7} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            p.devt.major,
            p.devt.minor,
            p.name,
            s.ios[0],
            s.merges[0],
            s.sectors[0],
            ms(0),
            s.ios[1],
            s.merges[1],
            s.sectors[1],
            ms(1),
            s.in_flight[0] + s.in_flight[1],
            s.io_ticks * ms_per_jiffy,
            (s.nsecs[0] + s.nsecs[1] + s.nsecs[2] + s.nsecs[3]) / NSEC_PER_MSEC,
            s.ios[2],
            s.merges[2],
            s.sectors[2],
            ms(2),
            s.ios[3],
            ms(3),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::genhd::{Gendisk, ReqOp};
    use alloc::string::String;

    #[test]
    fn renders_linux_61_fields_from_the_accounting() {
        let mut d = Gendisk::new("mmcblk0", 179, 0, 8, 131072);
        d.parts.push(crate::block::genhd::Part {
            name: "mmcblk0p1".into(),
            devt: crate::block::DevT { major: 179, minor: 1 },
            partno: 1,
            start_sect: 2048,
            nr_sects: 81920,
            stats: Default::default(),
            stamp: 0,
        });
        d.account_io_start(1, ReqOp::Read, 50);
        d.account_io_done(1, ReqOp::Read, 8, 2_500_000, 52);
        d.account_io_start(0, ReqOp::Write, 60);
        let mut s = String::new();
        render(&mut s, d.parts.iter(), 10).unwrap();
        assert_eq!(
            s,
            " 179       0 mmcblk0 1 0 8 2 0 0 0 0 1 40 2 0 0 0 0 0 0\n \
             179       1 mmcblk0p1 1 0 8 2 0 0 0 0 0 30 2 0 0 0 0 0 0\n"
        );
    }
}
