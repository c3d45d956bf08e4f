//! `/proc/meminfo` as Linux 6.1 prints it on the raspi2b (`meminfo_proc_show()` in
//! fs/proc/meminfo.c, armmp configuration: HIGHMEM, ZSWAP, CMA; no hugetlb, no THP).
//!
//! The snapshot carries the raw counters; the derived lines (MemAvailable, Active, Inactive,
//! LowTotal, LowFree, KReclaimable, Slab, CommitLimit) are computed here the way Linux does, so
//! they can never disagree with their inputs.
use core::fmt;

use super::snapshot::MeminfoSnapshot;
use crate::mm::PAGE_SHIFT;

/// Width of the label column: name, colon and padding (Linux's 16-character label strings).
const LABEL_WIDTH: usize = 16;
/// Width of the right-aligned number (`seq_put_decimal_ull_width(.., 8)`).
const VALUE_WIDTH: usize = 8;
/// `sysctl_overcommit_ratio` default: CommitLimit counts this percentage of RAM.
pub const OVERCOMMIT_RATIO: u64 = 50;

/// Pages to kB (Linux's `K(x)`: `x << (PAGE_SHIFT - 10)`).
const fn kb(pages: u64) -> u64 {
    pages << (PAGE_SHIFT - 10)
}

/// Linux's `si_mem_available()`: free pages minus what the allocator keeps in reserve, plus
/// the part of the page cache and reclaimable kernel memory that could be freed (at least half
/// of each, or a low watermark's worth, is assumed to stay). Never negative. In pages.
pub fn si_mem_available(mi: &MeminfoSnapshot) -> u64 {
    let free = mi.free_ram as i64;
    let mut available = free - mi.totalreserve_pages as i64;

    let pagecache = mi.active_file + mi.inactive_file;
    available += (pagecache - (pagecache / 2).min(mi.wmark_low)) as i64;

    let reclaimable = mi.slab_reclaimable + mi.kernel_misc_reclaimable;
    available += (reclaimable - (reclaimable / 2).min(mi.wmark_low)) as i64;

    available.max(0) as u64
}

/// Linux's `vm_commit_limit()` without hugetlb: `overcommit_ratio`% of RAM plus swap. In pages.
pub fn vm_commit_limit(mi: &MeminfoSnapshot) -> u64 {
    mi.total_ram * OVERCOMMIT_RATIO / 100 + mi.swap_total
}

/// One `"%-16s%8lu kB\n"` line; `label` includes the colon.
fn show_kb(w: &mut impl fmt::Write, label: &str, kbytes: u64) -> fmt::Result {
    writeln!(w, "{label:<LABEL_WIDTH$}{kbytes:>VALUE_WIDTH$} kB")
}

/// Linux's `show_val_kb()`: a page count printed in kB.
fn show_val_kb(w: &mut impl fmt::Write, label: &str, pages: u64) -> fmt::Result {
    show_kb(w, label, kb(pages))
}

/// Renders the whole file, every field in Linux 6.1's order.
pub fn render(w: &mut impl fmt::Write, mi: &MeminfoSnapshot) -> fmt::Result {
    let sreclaimable = mi.slab_reclaimable;
    let sunreclaim = mi.slab_unreclaimable;

    show_val_kb(w, "MemTotal:", mi.total_ram)?;
    show_val_kb(w, "MemFree:", mi.free_ram)?;
    show_val_kb(w, "MemAvailable:", si_mem_available(mi))?;
    show_val_kb(w, "Buffers:", mi.buffers)?;
    show_val_kb(w, "Cached:", mi.cached)?;
    show_val_kb(w, "SwapCached:", mi.swap_cached)?;
    show_val_kb(w, "Active:", mi.active_anon + mi.active_file)?;
    show_val_kb(w, "Inactive:", mi.inactive_anon + mi.inactive_file)?;
    show_val_kb(w, "Active(anon):", mi.active_anon)?;
    show_val_kb(w, "Inactive(anon):", mi.inactive_anon)?;
    show_val_kb(w, "Active(file):", mi.active_file)?;
    show_val_kb(w, "Inactive(file):", mi.inactive_file)?;
    show_val_kb(w, "Unevictable:", mi.unevictable)?;
    show_val_kb(w, "Mlocked:", mi.mlocked)?;
    if !mi.no_highmem {
        // CONFIG_HIGHMEM
        show_val_kb(w, "HighTotal:", mi.total_high)?;
        show_val_kb(w, "HighFree:", mi.free_high)?;
        show_val_kb(w, "LowTotal:", mi.total_ram.saturating_sub(mi.total_high))?;
        show_val_kb(w, "LowFree:", mi.free_ram.saturating_sub(mi.free_high))?;
    }
    show_val_kb(w, "SwapTotal:", mi.swap_total)?;
    show_val_kb(w, "SwapFree:", mi.swap_free)?;
    // CONFIG_ZSWAP
    show_val_kb(w, "Zswap:", mi.zswap)?;
    show_val_kb(w, "Zswapped:", mi.zswapped)?;
    show_val_kb(w, "Dirty:", mi.dirty)?;
    show_val_kb(w, "Writeback:", mi.writeback)?;
    show_val_kb(w, "AnonPages:", mi.anon_pages)?;
    show_val_kb(w, "Mapped:", mi.mapped)?;
    show_val_kb(w, "Shmem:", mi.shmem)?;
    show_val_kb(w, "KReclaimable:", sreclaimable + mi.kernel_misc_reclaimable)?;
    show_val_kb(w, "Slab:", sreclaimable + sunreclaim)?;
    show_val_kb(w, "SReclaimable:", sreclaimable)?;
    show_val_kb(w, "SUnreclaim:", sunreclaim)?;
    show_kb(w, "KernelStack:", mi.kernel_stack_kb)?;
    show_val_kb(w, "PageTables:", mi.page_tables)?;
    show_val_kb(w, "SecPageTables:", mi.sec_page_tables)?;
    show_val_kb(w, "NFS_Unstable:", mi.nfs_unstable)?;
    show_val_kb(w, "Bounce:", mi.bounce)?;
    show_val_kb(w, "WritebackTmp:", mi.writeback_tmp)?;
    show_val_kb(w, "CommitLimit:", vm_commit_limit(mi))?;
    show_val_kb(w, "Committed_AS:", mi.committed_as)?;
    show_kb(w, "VmallocTotal:", mi.vmalloc_total_bytes >> 10)?;
    show_kb(w, "VmallocUsed:", mi.vmalloc_used_bytes >> 10)?;
    show_kb(w, "VmallocChunk:", mi.vmalloc_chunk_bytes >> 10)?;
    show_val_kb(w, "Percpu:", mi.percpu)?;
    // CONFIG_CMA
    show_val_kb(w, "CmaTotal:", mi.cma_total)?;
    show_val_kb(w, "CmaFree:", mi.cma_free)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::snapshot::{NodeSnapshot, ZONE_HIGHMEM, ZONE_NORMAL};

    /// `cat /proc/meminfo` from linux-6.1-raspi2b-3G-proc.txt.
    const SAMPLE: &str = "\
MemTotal:         955744 kB
MemFree:          935112 kB
MemAvailable:     931676 kB
Buffers:               0 kB
Cached:             1260 kB
SwapCached:            0 kB
Active:             1088 kB
Inactive:            228 kB
Active(anon):       1088 kB
Inactive(anon):      228 kB
Active(file):          0 kB
Inactive(file):        0 kB
Unevictable:           0 kB
Mlocked:               0 kB
HighTotal:        196608 kB
HighFree:         192724 kB
LowTotal:         759136 kB
LowFree:          742388 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:                 0 kB
Writeback:             0 kB
AnonPages:            64 kB
Mapped:              928 kB
Shmem:              1260 kB
KReclaimable:       6364 kB
Slab:              11172 kB
SReclaimable:       6364 kB
SUnreclaim:         4808 kB
KernelStack:         512 kB
PageTables:           36 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:      477872 kB
Committed_AS:       1876 kB
VmallocTotal:     245760 kB
VmallocUsed:        1700 kB
VmallocChunk:          0 kB
Percpu:              336 kB
CmaTotal:          65536 kB
CmaFree:           65280 kB
";

    /// kB in the sample to pages.
    const fn pages(kbytes: u64) -> u64 {
        kbytes / 4
    }

    /// The sample's raw counters. The reserve (1655 pages) is what makes the sample's
    /// MemAvailable come out: DMA high 1303 + max protection 192, plus HighMem's 160.
    fn sample_snapshot() -> MeminfoSnapshot {
        MeminfoSnapshot {
            total_ram: pages(955744),
            free_ram: pages(935112),
            total_high: pages(196608),
            free_high: pages(192724),
            totalreserve_pages: 1655,
            wmark_low: 1086 + 200,
            cached: pages(1260),
            active_anon: pages(1088),
            inactive_anon: pages(228),
            anon_pages: pages(64),
            mapped: pages(928),
            shmem: pages(1260),
            slab_reclaimable: pages(6364),
            slab_unreclaimable: pages(4808),
            kernel_stack_kb: 512,
            page_tables: pages(36),
            committed_as: pages(1876),
            vmalloc_total_bytes: 245760 << 10,
            vmalloc_used_bytes: 1700 << 10,
            vmalloc_chunk_bytes: 0,
            percpu: pages(336),
            cma_total: pages(65536),
            cma_free: pages(65280),
            ..MeminfoSnapshot::default()
        }
    }

    #[test]
    fn reproduces_linux_sample() {
        let mut out = String::new();
        render(&mut out, &sample_snapshot()).unwrap();
        assert_eq!(out, SAMPLE);
    }

    #[test]
    fn mem_available_never_negative() {
        let mi = MeminfoSnapshot { free_ram: 10, totalreserve_pages: 100, ..Default::default() };
        assert_eq!(si_mem_available(&mi), 0);
    }

    #[test]
    fn mem_available_keeps_half_the_page_cache_up_to_low_watermark() {
        let mi = MeminfoSnapshot {
            free_ram: 1000,
            totalreserve_pages: 100,
            active_file: 300,
            inactive_file: 100,
            wmark_low: 50,
            ..Default::default()
        };
        // 1000 - 100 + (400 - min(200, 50))
        assert_eq!(si_mem_available(&mi), 1250);
    }

    #[test]
    fn from_node_sums_zones_and_reserves() {
        let mut node = NodeSnapshot::<11>::empty();
        let normal = &mut node.zones[ZONE_NORMAL];
        normal.populated = true;
        normal.managed = 1000;
        normal.free_pages = 900;
        normal.low = 12;
        normal.high = 15;
        normal.lowmem_reserve = [0, 0, 0, 40, 40];
        let high = &mut node.zones[ZONE_HIGHMEM];
        high.populated = true;
        high.managed = 500;
        high.free_pages = 450;
        high.low = 3;
        high.high = 4;
        let mi = MeminfoSnapshot::from_node(&node);
        assert_eq!((mi.total_ram, mi.free_ram), (1500, 1350));
        assert_eq!((mi.total_high, mi.free_high), (500, 450));
        assert_eq!(mi.totalreserve_pages, 15 + 40 + 4);
        assert_eq!(mi.wmark_low, 15);
        assert_eq!(si_mem_available(&mi), 1350 - 59);

        let mut out = String::new();
        render(&mut out, &mi).unwrap();
        assert!(out.contains("LowTotal:           4000 kB\nLowFree:            3600 kB\n"));
        assert!(out.contains("CommitLimit:        3000 kB\n"));
    }
}
