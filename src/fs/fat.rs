//! The FAT glue of the `/boot` file system: what pivm reads itself around `embedded-sdmmc`
//! (which opens the volume from the MBR, parses the BPB and walks the directories with their
//! long names). A regular file's data goes through pivm's page cache, so pivm maps file
//! sectors to disk sectors itself (`fat_get_block`/`bmap` in Linux's fs/fat): the cluster
//! chain from the FAT, merged into extents; and two things the crate's `DirEntry` does not
//! carry, read from the raw 32-byte entry: the first cluster and the Windows NT case bits
//! Linux's `vfat` honours (`shortname=mixed`: `config.txt` stored as `CONFIG.TXT` with the
//! lower-case flags shows as `config.txt`). Pure and host-tested.
use alloc::string::String;
use alloc::vec::Vec;

use crate::abi::errno::Errno;

/// Bytes of a sector, of a directory entry.
pub const SECTOR_SIZE: usize = 512;
pub const DIR_ENTRY_SIZE: usize = 32;
/// FAT32 entries are 28 bits; at or above this the chain ends (`FAT_ENT_EOF`), and the
/// "bad cluster" value.
const FAT32_MASK: u32 = 0x0fff_ffff;
const FAT32_EOC: u32 = 0x0fff_fff8;
const FAT32_BAD: u32 = 0x0fff_fff7;
const FAT16_EOC: u32 = 0xfff8;
const FAT16_BAD: u32 = 0xfff7;
/// The first data cluster's number.
const FIRST_CLUSTER: u32 = 2;
/// `DIR_NTRes` bits: base name and extension stored upper case, shown lower case.
const CASE_LOWER_BASE: u8 = 0x08;
const CASE_LOWER_EXT: u8 = 0x10;

/// The volume's layout, in sectors from the start of the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FatGeometry {
    pub fat32: bool,
    pub sectors_per_cluster: u32,
    /// First sector of the first FAT.
    pub fat_start: u32,
    /// First sector of cluster 2.
    pub first_data_sector: u32,
    /// Data clusters (`2..cluster_count + 2` are valid).
    pub cluster_count: u32,
}

impl FatGeometry {
    /// From the boot sector, through `embedded-sdmmc`'s BPB parser (FAT16 and FAT32; FAT12 and
    /// sectors other than 512 bytes refused).
    pub fn from_boot_sector(sector: &[u8; SECTOR_SIZE]) -> Result<Self, &'static str> {
        let bpb = embedded_sdmmc::fat::Bpb::create_from_bytes(sector)?;
        if bpb.bytes_per_block() as usize != SECTOR_SIZE {
            return Err("sector size is not 512 bytes");
        }
        let spc = u32::from(bpb.blocks_per_cluster());
        if spc == 0 || !spc.is_power_of_two() {
            return Err("bad sectors per cluster");
        }
        let fat_start = u32::from(bpb.reserved_block_count());
        let root_dir_sectors =
            (u32::from(bpb.root_entries_count()) * DIR_ENTRY_SIZE as u32).div_ceil(512);
        let first_data_sector =
            fat_start + u32::from(bpb.num_fats()) * bpb.fat_size() + root_dir_sectors;
        Ok(FatGeometry {
            // Only FAT32 has an FSInfo sector.
            fat32: bpb.fs_info_block().is_some(),
            sectors_per_cluster: spc,
            fat_start,
            first_data_sector,
            cluster_count: bpb.total_clusters(),
        })
    }

    /// The partition sector of the FAT entry of `cluster`, and its byte offset there.
    pub fn fat_entry_pos(&self, cluster: u32) -> (u64, usize) {
        let bytes = if self.fat32 { 4 } else { 2 };
        let off = u64::from(cluster) * bytes;
        (u64::from(self.fat_start) + off / SECTOR_SIZE as u64, (off % SECTOR_SIZE as u64) as usize)
    }

    /// The first partition sector of `cluster`.
    pub fn cluster_sector(&self, cluster: u32) -> u64 {
        u64::from(self.first_data_sector)
            + u64::from(cluster - FIRST_CLUSTER) * u64::from(self.sectors_per_cluster)
    }

    fn valid(&self, cluster: u32) -> bool {
        (FIRST_CLUSTER..self.cluster_count + FIRST_CLUSTER).contains(&cluster)
    }
}

/// A run of a file's sectors that is contiguous on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First sector of the run in the file.
    pub file_sector: u64,
    /// Where it is in the partition.
    pub disk_sector: u64,
    pub sectors: u64,
}

/// `fat_get_cluster` for the whole file: the chain from `first` through the FAT (each FAT
/// sector from `read_sector`), as extents of contiguous clusters, stopping at the
/// end-of-chain mark or after `max_clusters` (the file's size). A free, bad or
/// out-of-range link, or a loop, is `EIO` (Linux's "invalid cluster chain").
pub fn cluster_extents(
    geom: &FatGeometry,
    first: u32,
    max_clusters: u64,
    read_sector: impl FnMut(u64) -> Result<[u8; SECTOR_SIZE], Errno>,
) -> Result<Vec<Extent>, Errno> {
    let mut chain = ClusterChain::new(first, max_clusters);
    chain.walk(geom, max_clusters, read_sector)?;
    Ok(chain.extents)
}

/// A file's cluster chain as far as it has been walked, as extents (`fat_get_cluster` with
/// its `fat_cache`): a page's read walks on from where the last one stopped, only as far
/// as the clusters it needs, so a file read from its start reads the FAT as it goes and a
/// fault costs a few links, not the whole chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterChain {
    /// The clusters walked so far, from the file's first.
    pub extents: Vec<Extent>,
    /// The next cluster to add and the number of clusters the extents hold; None once the
    /// chain ended (end-of-chain mark, or the file's size reached).
    next: Option<(u32, u64)>,
    max_clusters: u64,
}

impl ClusterChain {
    /// The chain from cluster `first` of a file of `max_clusters` clusters, nothing walked.
    pub fn new(first: u32, max_clusters: u64) -> ClusterChain {
        ClusterChain {
            extents: Vec::new(),
            next: (max_clusters > 0).then_some((first, 0)),
            max_clusters,
        }
    }

    /// A chain known whole (a block device's sectors mapped to themselves).
    pub fn whole(extents: Vec<Extent>) -> ClusterChain {
        ClusterChain { extents, next: None, max_clusters: 0 }
    }

    /// The file sectors the walk has mapped, or None when it is complete (every sector past
    /// the extents is a hole).
    pub fn known_sectors(&self) -> Option<u64> {
        self.next?;
        Some(self.extents.last().map_or(0, |e| e.file_sector + e.sectors))
    }

    /// Walks on until the chain holds `clusters` clusters (or ends). A broken link is `EIO`,
    /// and a failed read of a FAT sector is its error; the chain stays as far as it got,
    /// and the next walk starts from there again.
    pub fn walk(
        &mut self,
        geom: &FatGeometry,
        clusters: u64,
        mut read_sector: impl FnMut(u64) -> Result<[u8; SECTOR_SIZE], Errno>,
    ) -> Result<(), Errno> {
        let spc = u64::from(geom.sectors_per_cluster);
        let (eoc, bad) = if geom.fat32 { (FAT32_EOC, FAT32_BAD) } else { (FAT16_EOC, FAT16_BAD) };
        // The FAT sector is kept and looked at in place: a copy of it per link cost a
        // 512-byte memcpy per cluster of the chain.
        let mut cached: Option<(u64, [u8; SECTOR_SIZE])> = None;
        while let Some((cluster, n)) = self.next {
            if n >= clusters {
                return Ok(());
            }
            if !geom.valid(cluster) || n > u64::from(geom.cluster_count) {
                return Err(Errno::EIO);
            }
            let next = if n + 1 == self.max_clusters {
                None
            } else {
                let (sector, off) = geom.fat_entry_pos(cluster);
                let buf = match &mut cached {
                    Some((s, b)) if *s == sector => &*b,
                    slot => &slot.insert((sector, read_sector(sector)?)).1,
                };
                let link = if geom.fat32 {
                    u32::from_le_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
                        & FAT32_MASK
                } else {
                    u32::from(u16::from_le_bytes([buf[off], buf[off + 1]]))
                };
                if link >= eoc {
                    // The chain ends before the size says: the rest reads as a hole.
                    None
                } else if link == bad || link < FIRST_CLUSTER {
                    return Err(Errno::EIO);
                } else {
                    Some(link)
                }
            };
            let disk = geom.cluster_sector(cluster);
            match self.extents.last_mut() {
                Some(e) if e.disk_sector + e.sectors == disk => e.sectors += spc,
                _ => self.extents.push(Extent {
                    file_sector: n * spc,
                    disk_sector: disk,
                    sectors: spc,
                }),
            }
            self.next = next.map(|c| (c, n + 1));
        }
        Ok(())
    }
}

/// `bmap`: the partition sector of file sector `sector` and how many sectors from there are
/// contiguous in the file and on the disk; None past the chain (a hole).
pub fn bmap(extents: &[Extent], sector: u64) -> Option<(u64, u64)> {
    let i = extents.partition_point(|e| e.file_sector + e.sectors <= sector);
    let e = extents.get(i).filter(|e| e.file_sector <= sector)?;
    let off = sector - e.file_sector;
    Some((e.disk_sector + off, e.sectors - off))
}

/// The first cluster of a raw directory entry (`DIR_FstClusHI`:`DIR_FstClusLO`).
pub fn first_cluster(entry: &[u8]) -> u32 {
    let hi = u16::from_le_bytes([entry[20], entry[21]]);
    let lo = u16::from_le_bytes([entry[26], entry[27]]);
    (u32::from(hi) << 16) | u32::from(lo)
}

/// The name `vfat` shows for a short-name-only entry: `BASE.EXT`, each part lower-cased
/// when its NT case bit is set (`DIR_NTRes`), no dot without an extension.
pub fn short_name(entry: &[u8]) -> String {
    let case = entry[12];
    let part = |bytes: &[u8], lower: bool| -> String {
        let t = bytes.iter().rposition(|&b| b != b' ').map_or(&bytes[..0], |e| &bytes[..=e]);
        t.iter()
            .map(|&b| {
                // 0x05 stands for a leading 0xE5 (a deleted-entry marker otherwise).
                let b = if b == 0x05 { 0xe5 } else { b };
                let c = char::from(b);
                if lower {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    };
    let base = part(&entry[0..8], case & CASE_LOWER_BASE != 0);
    let ext = part(&entry[8..11], case & CASE_LOWER_EXT != 0);
    if ext.is_empty() {
        base
    } else {
        alloc::format!("{base}.{ext}")
    }
}

/// Seconds since the epoch of a FAT date and time (local time taken as UTC, as Linux's
/// `fat_time_fat2unix` with `tz=UTC`).
pub fn fat_time(date: u16, time: u16) -> u64 {
    let year = 1980 + u64::from(date >> 9);
    let month = u64::from((date >> 5) & 0xf).clamp(1, 12);
    let day = u64::from(date & 0x1f).max(1);
    let (h, m, s) =
        (u64::from(time >> 11), u64::from((time >> 5) & 0x3f), u64::from(time & 0x1f) * 2);
    // Days from 1970-01-01 to the date (the civil-from-days inverse, Gregorian).
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + m * 60 + s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FAT32 boot sector as mtools' `mformat -F` makes one for pivm's 40 MiB partition:
    /// 512-byte clusters, 32 reserved sectors, two FATs of 633 sectors.
    fn boot_sector() -> [u8; SECTOR_SIZE] {
        let mut b = [0u8; SECTOR_SIZE];
        b[0..3].copy_from_slice(&[0xeb, 0x58, 0x90]);
        b[3..11].copy_from_slice(b"MTOO4032");
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 1;
        b[14..16].copy_from_slice(&32u16.to_le_bytes());
        b[16] = 2;
        b[21] = 0xf8;
        b[32..36].copy_from_slice(&81920u32.to_le_bytes());
        b[36..40].copy_from_slice(&633u32.to_le_bytes());
        b[44..48].copy_from_slice(&2u32.to_le_bytes());
        b[48..50].copy_from_slice(&1u16.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    #[test]
    fn geometry_of_a_fat32_boot_sector() {
        let g = FatGeometry::from_boot_sector(&boot_sector()).unwrap();
        assert!(g.fat32);
        assert_eq!((g.sectors_per_cluster, g.fat_start, g.first_data_sector), (1, 32, 32 + 1266));
        assert_eq!(g.cluster_sector(2), 1298);
        assert_eq!(g.fat_entry_pos(200), (32 + 1, 288));
        let mut bad = boot_sector();
        bad[510] = 0;
        assert!(FatGeometry::from_boot_sector(&bad).is_err());
    }

    /// A FAT as sectors: `links` (cluster, next) set, everything else free.
    fn fat(g: &FatGeometry, links: &[(u32, u32)]) -> impl FnMut(u64) -> Result<[u8; 512], Errno> {
        let mut sectors = alloc::collections::BTreeMap::<u64, [u8; 512]>::new();
        for &(c, next) in links {
            let (s, off) = g.fat_entry_pos(c);
            sectors.entry(s).or_insert([0; 512])[off..off + 4].copy_from_slice(&next.to_le_bytes());
        }
        move |s| Ok(sectors.get(&s).copied().unwrap_or([0; 512]))
    }

    #[test]
    fn a_chain_becomes_extents_of_contiguous_clusters() {
        let g = FatGeometry::from_boot_sector(&boot_sector()).unwrap();
        // 3 -> 4 -> 5 -> 9 -> 10 -> EOC
        let links = [(3, 4), (4, 5), (5, 9), (9, 10), (10, 0x0fff_ffff)];
        let e = cluster_extents(&g, 3, 100, fat(&g, &links)).unwrap();
        assert_eq!(
            e,
            [
                Extent { file_sector: 0, disk_sector: g.cluster_sector(3), sectors: 3 },
                Extent { file_sector: 3, disk_sector: g.cluster_sector(9), sectors: 2 },
            ]
        );
        assert_eq!(bmap(&e, 1), Some((g.cluster_sector(4), 2)));
        assert_eq!(bmap(&e, 4), Some((g.cluster_sector(10), 1)));
        assert_eq!(bmap(&e, 5), None);
        // The size bounds the walk: two clusters read, no FAT entry past them needed.
        let e = cluster_extents(&g, 3, 2, fat(&g, &links)).unwrap();
        assert_eq!(e, [Extent { file_sector: 0, disk_sector: g.cluster_sector(3), sectors: 2 }]);
    }

    /// Walked in steps, the chain reads only the FAT sectors its clusters' links are in,
    /// and ends as the whole walk does.
    #[test]
    fn a_chain_walked_in_steps_reads_the_fat_as_far_as_needed() {
        let g = FatGeometry::from_boot_sector(&boot_sector()).unwrap();
        // 300 clusters from 3, contiguous but for a jump after 202 (to 1000): the links of
        // 3..=202 are in FAT sectors 32 and 33 (128 a sector), those from 1000 in 39-40.
        let mut links: Vec<(u32, u32)> = (3..202).map(|c| (c, c + 1)).collect();
        links.push((202, 1000));
        links.extend((1000..1099).map(|c| (c, c + 1)));
        links.push((1099, 0x0fff_ffff));
        let whole = cluster_extents(&g, 3, u64::MAX, fat(&g, &links)).unwrap();
        let mut read = fat(&g, &links);
        let mut seen = alloc::collections::BTreeSet::new();
        let mut chain = ClusterChain::new(3, u64::MAX);
        chain
            .walk(&g, 10, |s| {
                seen.insert(s);
                read(s)
            })
            .unwrap();
        assert_eq!(chain.known_sectors(), Some(10));
        assert_eq!(seen.iter().copied().collect::<Vec<_>>(), [32]);
        // Asking for fewer than it holds reads nothing.
        chain.walk(&g, 5, |_| panic!("no FAT read needed")).unwrap();
        for step in [100, 203, 250, 400] {
            chain
                .walk(&g, step, |s| {
                    seen.insert(s);
                    read(s)
                })
                .unwrap();
        }
        assert_eq!(chain.known_sectors(), None, "the end-of-chain mark ends the walk");
        assert_eq!(chain.extents, whole);
        assert_eq!(seen.iter().copied().collect::<Vec<_>>(), [32, 33, 39, 40]);
        // A read that fails leaves the chain where it was; the next walk goes on.
        let mut chain = ClusterChain::new(3, u64::MAX);
        assert_eq!(chain.walk(&g, 200, |_| Err(Errno::EAGAIN)), Err(Errno::EAGAIN));
        assert_eq!(chain.known_sectors(), Some(0));
        chain.walk(&g, u64::MAX, fat(&g, &links)).unwrap();
        assert_eq!(chain.extents, whole);
        // The size bounds it: no link past the last cluster is read.
        let mut chain = ClusterChain::new(3, 2);
        chain.walk(&g, u64::MAX, fat(&g, &[(3, 4)])).unwrap();
        assert_eq!(chain.known_sectors(), None);
        assert_eq!(
            chain.extents,
            [Extent { file_sector: 0, disk_sector: g.cluster_sector(3), sectors: 2 }]
        );
    }

    #[test]
    fn broken_chains_are_io_errors() {
        let g = FatGeometry::from_boot_sector(&boot_sector()).unwrap();
        // A free link, a loop, a cluster past the volume, a bad-cluster mark.
        assert_eq!(cluster_extents(&g, 3, 10, fat(&g, &[(3, 0)])), Err(Errno::EIO));
        assert_eq!(cluster_extents(&g, 3, u64::MAX, fat(&g, &[(3, 4), (4, 3)])), Err(Errno::EIO));
        assert_eq!(cluster_extents(&g, 3, 10, fat(&g, &[(3, 1_000_000)])), Err(Errno::EIO));
        assert_eq!(cluster_extents(&g, 3, 10, fat(&g, &[(3, 0x0fff_fff7)])), Err(Errno::EIO));
        assert_eq!(cluster_extents(&g, 0, 10, fat(&g, &[])), Err(Errno::EIO));
    }

    #[test]
    fn short_names_honour_the_nt_case_bits() {
        let mut e = [0u8; 32];
        e[0..11].copy_from_slice(b"CONFIG  TXT");
        assert_eq!(short_name(&e), "CONFIG.TXT");
        e[12] = CASE_LOWER_BASE | CASE_LOWER_EXT;
        assert_eq!(short_name(&e), "config.txt");
        e[0..11].copy_from_slice(b"BIN        ");
        e[12] = CASE_LOWER_BASE;
        assert_eq!(short_name(&e), "bin");
        e[20..22].copy_from_slice(&1u16.to_le_bytes());
        e[26..28].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(first_cluster(&e), 0x1_0002);
    }

    #[test]
    fn fat_times_are_unix_seconds() {
        // 1980-01-01 00:00:00 and 2024-02-29 12:34:56.
        assert_eq!(fat_time(1 << 5 | 1, 0), 315_532_800);
        let date = (44 << 9) | (2 << 5) | 29;
        let time = (12 << 11) | (34 << 5) | 28;
        assert_eq!(fat_time(date, time), 1_709_210_096);
    }
}
