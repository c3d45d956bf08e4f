//! MBR ("msdos") partition tables, as 6.1's `block/partitions/msdos.c` reads them: the
//! 0x55AA signature, the boot-indicator sanity check (a FAT boot sector without partitions is
//! no table), the four primary entries, and the extended partition's chain of logical ones
//! (p5, p6, ...). Pure: the sectors come from a reader, so it is tested on golden and corrupted
//! images on the host.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::block::SECTOR_SIZE;

/// Offset of the partition table in a boot sector, and its entries.
const TABLE_OFFSET: usize = 0x1be;
const ENTRY_SIZE: usize = 16;
const NR_PRIMARY: usize = 4;
/// `MSDOS_LABEL_MAGIC` at bytes 510-511.
const MAGIC: [u8; 2] = [0x55, 0xaa];
/// System indicators of extended partitions (`is_extended_partition`).
pub const DOS_EXTENDED_PARTITION: u8 = 0x05;
pub const WIN98_EXTENDED_PARTITION: u8 = 0x0f;
pub const LINUX_EXTENDED_PARTITION: u8 = 0x85;
/// Linux swap's system indicator (`mkswap`'s partition type).
pub const LINUX_SWAP_PARTITION: u8 = 0x82;
/// FAT32 with LBA.
pub const WIN98_FAT32_LBA_PARTITION: u8 = 0x0c;
/// `parse_extended` gives up after this many links (a loop in the chain).
const MAX_EXTENDED_LINKS: usize = 100;

/// One partition entry as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartEntry {
    pub boot_ind: u8,
    pub sys_ind: u8,
    pub start_sect: u32,
    pub nr_sects: u32,
}

impl PartEntry {
    fn read(sector: &[u8; SECTOR_SIZE], i: usize) -> PartEntry {
        let e = &sector[TABLE_OFFSET + i * ENTRY_SIZE..TABLE_OFFSET + (i + 1) * ENTRY_SIZE];
        let le = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
        PartEntry { boot_ind: e[0], sys_ind: e[4], start_sect: le(8), nr_sects: le(12) }
    }

    fn is_extended(&self) -> bool {
        matches!(
            self.sys_ind,
            DOS_EXTENDED_PARTITION | WIN98_EXTENDED_PARTITION | LINUX_EXTENDED_PARTITION
        )
    }
}

/// A partition the table defines (`state->parts[n]`), in 512-byte sectors from the start of
/// the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedPart {
    pub partno: u32,
    pub from: u64,
    pub size: u64,
    pub sys_ind: u8,
}

/// What `check_partition` found: the partitions and the line Linux prints (` mmcblk0: p1 p2`,
/// ` mmcblk0: p1 p2 < p5 p6 >`, ` mmcblk0: unknown partition table`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub parts: Vec<ParsedPart>,
    pub line: String,
}

/// `msdos_magic_present`.
fn magic_present(sector: &[u8; SECTOR_SIZE]) -> bool {
    sector[510..512] == MAGIC
}

/// Parses the table of the disk named `name`, reading sectors through `read` (None: the read
/// failed, as `read_part_sector` returning NULL). `limit` is the number of partition numbers
/// the disk has (its minors: p1 .. p(limit-1)). Whether the partitions fit the disk is
/// `genhd`'s check, as `blk_add_partition`'s.
pub fn msdos_partition(
    name: &str,
    limit: u32,
    mut read: impl FnMut(u64) -> Option<[u8; SECTOR_SIZE]>,
) -> Parsed {
    let mut line = String::new();
    let _ = write!(line, " {}:", name);
    let mut parts = Vec::new();
    let unknown = |mut line: String| {
        line.push_str(" unknown partition table");
        Parsed { parts: Vec::new(), line }
    };
    let Some(mbr) = read(0) else {
        line.push_str(" unable to read partition table");
        return Parsed { parts, line };
    };
    if !magic_present(&mbr) {
        return unknown(line);
    }
    // Every boot indicator must be 0 or 0x80, or this is no partition table (a FAT volume
    // without partitions has boot code there: Linux's "partition-less FAT" case).
    for i in 0..NR_PRIMARY {
        let b = PartEntry::read(&mbr, i).boot_ind;
        if b != 0 && b != 0x80 {
            return unknown(line);
        }
    }
    for slot in 1..=NR_PRIMARY as u32 {
        let p = PartEntry::read(&mbr, slot as usize - 1);
        if p.nr_sects == 0 {
            continue;
        }
        if slot >= limit {
            break;
        }
        if p.is_extended() {
            // The extended partition itself gets two sectors ("leave room for LILO"), then
            // its logical partitions follow from number 5.
            let n = u64::from(p.nr_sects).min(2);
            parts.push(ParsedPart {
                partno: slot,
                from: u64::from(p.start_sect),
                size: n,
                sys_ind: p.sys_ind,
            });
            let _ = write!(line, " p{}", slot);
            line.push_str(" <");
            parse_extended(&mut parts, &mut line, u64::from(p.start_sect), limit, &mut read);
            line.push_str(" >");
            continue;
        }
        parts.push(ParsedPart {
            partno: slot,
            from: u64::from(p.start_sect),
            size: u64::from(p.nr_sects),
            sys_ind: p.sys_ind,
        });
        let _ = write!(line, " p{}", slot);
    }
    Parsed { parts, line }
}

/// `parse_extended`: each extended boot record holds one logical partition (relative to
/// itself) and the link to the next record (relative to the first one).
fn parse_extended(
    parts: &mut Vec<ParsedPart>,
    line: &mut String,
    first: u64,
    limit: u32,
    read: &mut impl FnMut(u64) -> Option<[u8; SECTOR_SIZE]>,
) {
    let mut this = first;
    let mut next_no = 5u32;
    for _ in 0..MAX_EXTENDED_LINKS {
        if next_no >= limit {
            return;
        }
        let Some(ebr) = read(this) else { return };
        if !magic_present(&ebr) {
            return;
        }
        let entries: [PartEntry; NR_PRIMARY] = core::array::from_fn(|i| PartEntry::read(&ebr, i));
        // The data partition: the first non-extended entry with sectors (Linux looks at
        // entries 0 and 1 only, the others are unused by DOS).
        for e in entries.iter().take(2) {
            if e.nr_sects == 0 || e.is_extended() {
                continue;
            }
            parts.push(ParsedPart {
                partno: next_no,
                from: this + u64::from(e.start_sect),
                size: u64::from(e.nr_sects),
                sys_ind: e.sys_ind,
            });
            let _ = write!(line, " p{}", next_no);
            next_no += 1;
            if next_no >= limit {
                return;
            }
            break;
        }
        // The link to the next record.
        match entries.iter().take(2).find(|e| e.nr_sects != 0 && e.is_extended()) {
            Some(e) => this = first + u64::from(e.start_sect),
            None => return,
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use alloc::vec;

    /// An MBR with the given (boot, type, start, size) entries and the signature.
    pub fn mbr(entries: &[(u8, u8, u32, u32)]) -> [u8; SECTOR_SIZE] {
        let mut s = [0u8; SECTOR_SIZE];
        for (i, &(boot, ty, start, size)) in entries.iter().enumerate() {
            let o = TABLE_OFFSET + i * ENTRY_SIZE;
            s[o] = boot;
            s[o + 4] = ty;
            s[o + 8..o + 12].copy_from_slice(&start.to_le_bytes());
            s[o + 12..o + 16].copy_from_slice(&size.to_le_bytes());
        }
        s[510] = 0x55;
        s[511] = 0xaa;
        s
    }

    fn disk(sectors: Vec<(u64, [u8; SECTOR_SIZE])>) -> impl FnMut(u64) -> Option<[u8; 512]> {
        move |n| sectors.iter().find(|(s, _)| *s == n).map(|(_, b)| *b)
    }

    #[test]
    fn the_sd_image_layout_gives_p1_and_p2() {
        // make sd-image: FAT32 LBA from 1 MiB, swap after it, on a 64 MiB card.
        let m = mbr(&[(0x80, 0x0c, 2048, 81920), (0, 0x82, 83968, 47104)]);
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m)]));
        assert_eq!(p.line, " mmcblk0: p1 p2");
        assert_eq!(
            p.parts,
            vec![
                ParsedPart { partno: 1, from: 2048, size: 81920, sys_ind: 0x0c },
                ParsedPart { partno: 2, from: 83968, size: 47104, sys_ind: 0x82 },
            ]
        );
    }

    #[test]
    fn empty_slots_keep_their_numbers() {
        // Linux's p3 stays p3 when slot 2 is empty.
        let m = mbr(&[(0, 0x83, 2048, 100), (0, 0, 0, 0), (0, 0x83, 4096, 100)]);
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m)]));
        assert_eq!(p.line, " mmcblk0: p1 p3");
        assert_eq!(p.parts[1].partno, 3);
    }

    #[test]
    fn no_signature_or_bad_boot_indicator_is_an_unknown_table() {
        let mut m = mbr(&[(0x80, 0x0c, 2048, 100)]);
        m[511] = 0;
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m)]));
        assert_eq!(p.line, " mmcblk0: unknown partition table");
        assert!(p.parts.is_empty());
        // A boot indicator other than 0 and 0x80 (a FAT boot sector's code bytes).
        let m = mbr(&[(0x80, 0x0c, 2048, 100), (0x12, 0x83, 4096, 100)]);
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m)]));
        assert_eq!(p.line, " mmcblk0: unknown partition table");
        // An all-zero sector.
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, [0; 512])]));
        assert!(p.parts.is_empty());
        // The sector cannot be read.
        let p = msdos_partition("mmcblk0", 8, disk(vec![]));
        assert_eq!(p.line, " mmcblk0: unable to read partition table");
    }

    #[test]
    fn logical_partitions_follow_the_chain() {
        // p2 extended at 10000; EBR 1 holds p5 at +63 and links to +5000; EBR 2 holds p6.
        let m = mbr(&[(0, 0x83, 2048, 4000), (0, 0x05, 10000, 20000)]);
        let e1 = mbr(&[(0, 0x83, 63, 1000), (0, 0x05, 5000, 3000)]);
        let e2 = mbr(&[(0, 0x82, 63, 2000)]);
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m), (10000, e1), (15000, e2)]));
        assert_eq!(p.line, " mmcblk0: p1 p2 < p5 p6 >");
        let got: Vec<_> = p.parts.iter().map(|x| (x.partno, x.from, x.size)).collect();
        assert_eq!(got, vec![(1, 2048, 4000), (2, 10000, 2), (5, 10063, 1000), (6, 15063, 2000)]);
    }

    #[test]
    fn a_looping_chain_and_the_minor_limit_end_the_walk() {
        // An EBR that links to itself: p5, p6, p7 then the disk's 8 minors are used up.
        let m = mbr(&[(0, 0x05, 100, 20000)]);
        let e = mbr(&[(0, 0x83, 1, 10), (0, 0x05, 0, 20000)]);
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m), (100, e)]));
        assert_eq!(p.line, " mmcblk0: p1 < p5 p6 p7 >");
        // A chain whose record is unreadable stops there.
        let p = msdos_partition("mmcblk0", 8, disk(vec![(0, m)]));
        assert_eq!(p.line, " mmcblk0: p1 < >");
    }
}
