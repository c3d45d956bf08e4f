//! `/proc/partitions` (6.1's `show_partition` in block/genhd.c): a header, a blank line,
//! then each disk and its partitions with their size in 1 KiB blocks.
use core::fmt::{self, Write};

use crate::block::genhd::Part;

/// Renders every partition of every disk (empty disks are left out, as Linux does).
pub fn render<'a>(w: &mut impl Write, parts: impl Iterator<Item = &'a Part>) -> fmt::Result {
    w.write_str("major minor  #blocks  name\n\n")?;
    for p in parts {
        if p.partno == 0 && p.nr_sects == 0 {
            continue;
        }
        writeln!(w, "{:4}  {:7} {:10} {}", p.devt.major, p.devt.minor, p.nr_sects >> 1, p.name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::genhd::{DiskStats, Gendisk};
    use crate::block::DevT;
    use alloc::string::String;

    fn part(name: &str, minor: u32, sectors: u64) -> Part {
        Part {
            name: name.into(),
            devt: DevT { major: 179, minor },
            partno: minor,
            start_sect: 0,
            nr_sects: sectors,
            stats: DiskStats::default(),
            stamp: 0,
        }
    }

    #[test]
    fn matches_linux_61_on_the_qemu_card() {
        // samples/linux-6.1-raspi2b-user/swap.txt, a 512 MiB card with three partitions.
        let parts = [
            part("mmcblk0", 0, 1048576),
            part("mmcblk0p1", 1, 524288),
            part("mmcblk0p2", 2, 327680),
            part("mmcblk0p3", 3, 194560),
        ];
        let mut s = String::new();
        render(&mut s, parts.iter()).unwrap();
        assert_eq!(
            s,
            "major minor  #blocks  name\n\n \
             179        0     524288 mmcblk0\n \
             179        1     262144 mmcblk0p1\n \
             179        2     163840 mmcblk0p2\n \
             179        3      97280 mmcblk0p3\n"
        );
        // No disk: only the header.
        let mut s = String::new();
        render(&mut s, Gendisk::new("x", 1, 0, 1, 0).parts.iter()).unwrap();
        assert_eq!(s, "major minor  #blocks  name\n\n");
    }
}
