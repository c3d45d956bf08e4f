//! `/proc/vmstat` as Linux 6.1 prints it (mm/vmstat.c `vmstat_text[]`, `vmstat_show`) for the
//! reference's configuration (HIGHMEM, CMA, ZSMALLOC, SWAP, COMPACTION, MIGRATION, BALLOON,
//! KSM, ZSWAP; no NUMA, no THP events, no VM_EVENT debug counters): the zone counters, the node
//! counters, the two writeback thresholds, the events with one `pgalloc_`/`allocstall_`/`pgskip_`
//! line per configured zone, and the legacy `nr_unstable 0` line 6.1 still prints last. Pure:
//! the kernel fills a [`VmstatSnapshot`] from its counters.
use core::fmt;

/// Declares a counter enum (the index into the snapshot's array) and its names in order.
macro_rules! counters {
    ($(#[$doc:meta])* $enum:ident, $names:ident, $($variant:ident = $name:literal,)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum $enum { $($variant),* }
        impl $enum {
            /// Number of counters.
            pub const COUNT: usize = [$($name),*].len();
        }
        /// The names `/proc/vmstat` prints, in order.
        pub const $names: [&str; $enum::COUNT] = [$($name),*];
    };
}

counters! {
    /// `enum zone_stat_item` (`NR_FREE_PAGES` ... `NR_FREE_CMA_PAGES`).
    ZoneStat, ZONE_STAT_NAMES,
    NrFreePages = "nr_free_pages",
    NrZoneInactiveAnon = "nr_zone_inactive_anon",
    NrZoneActiveAnon = "nr_zone_active_anon",
    NrZoneInactiveFile = "nr_zone_inactive_file",
    NrZoneActiveFile = "nr_zone_active_file",
    NrZoneUnevictable = "nr_zone_unevictable",
    NrZoneWritePending = "nr_zone_write_pending",
    NrMlock = "nr_mlock",
    NrBounce = "nr_bounce",
    NrZspages = "nr_zspages",
    NrFreeCma = "nr_free_cma",
}

counters! {
    /// `enum node_stat_item`.
    NodeStat, NODE_STAT_NAMES,
    NrInactiveAnon = "nr_inactive_anon",
    NrActiveAnon = "nr_active_anon",
    NrInactiveFile = "nr_inactive_file",
    NrActiveFile = "nr_active_file",
    NrUnevictable = "nr_unevictable",
    NrSlabReclaimable = "nr_slab_reclaimable",
    NrSlabUnreclaimable = "nr_slab_unreclaimable",
    NrIsolatedAnon = "nr_isolated_anon",
    NrIsolatedFile = "nr_isolated_file",
    WorkingsetNodes = "workingset_nodes",
    WorkingsetRefaultAnon = "workingset_refault_anon",
    WorkingsetRefaultFile = "workingset_refault_file",
    WorkingsetActivateAnon = "workingset_activate_anon",
    WorkingsetActivateFile = "workingset_activate_file",
    WorkingsetRestoreAnon = "workingset_restore_anon",
    WorkingsetRestoreFile = "workingset_restore_file",
    WorkingsetNodereclaim = "workingset_nodereclaim",
    NrAnonPages = "nr_anon_pages",
    NrMapped = "nr_mapped",
    NrFilePages = "nr_file_pages",
    NrDirty = "nr_dirty",
    NrWriteback = "nr_writeback",
    NrWritebackTemp = "nr_writeback_temp",
    NrShmem = "nr_shmem",
    NrShmemHugepages = "nr_shmem_hugepages",
    NrShmemPmdmapped = "nr_shmem_pmdmapped",
    NrFileHugepages = "nr_file_hugepages",
    NrFilePmdmapped = "nr_file_pmdmapped",
    NrAnonTransparentHugepages = "nr_anon_transparent_hugepages",
    NrVmscanWrite = "nr_vmscan_write",
    NrVmscanImmediateReclaim = "nr_vmscan_immediate_reclaim",
    NrDirtied = "nr_dirtied",
    NrWritten = "nr_written",
    NrThrottledWritten = "nr_throttled_written",
    NrKernelMiscReclaimable = "nr_kernel_misc_reclaimable",
    NrFollPinAcquired = "nr_foll_pin_acquired",
    NrFollPinReleased = "nr_foll_pin_released",
    NrKernelStack = "nr_kernel_stack",
    NrPageTablePages = "nr_page_table_pages",
    NrSecPageTablePages = "nr_sec_page_table_pages",
    NrSwapcached = "nr_swapcached",
}

counters! {
    /// `enum vm_event_item` after the per-zone events (`PGFREE` ...).
    VmEvent, VM_EVENT_NAMES,
    Pgfree = "pgfree",
    Pgactivate = "pgactivate",
    Pgdeactivate = "pgdeactivate",
    Pglazyfree = "pglazyfree",
    Pgfault = "pgfault",
    Pgmajfault = "pgmajfault",
    Pglazyfreed = "pglazyfreed",
    Pgrefill = "pgrefill",
    Pgreuse = "pgreuse",
    PgstealKswapd = "pgsteal_kswapd",
    PgstealDirect = "pgsteal_direct",
    PgdemoteKswapd = "pgdemote_kswapd",
    PgdemoteDirect = "pgdemote_direct",
    PgscanKswapd = "pgscan_kswapd",
    PgscanDirect = "pgscan_direct",
    PgscanDirectThrottle = "pgscan_direct_throttle",
    PgscanAnon = "pgscan_anon",
    PgscanFile = "pgscan_file",
    PgstealAnon = "pgsteal_anon",
    PgstealFile = "pgsteal_file",
    Pginodesteal = "pginodesteal",
    SlabsScanned = "slabs_scanned",
    KswapdInodesteal = "kswapd_inodesteal",
    KswapdLowWmarkHitQuickly = "kswapd_low_wmark_hit_quickly",
    KswapdHighWmarkHitQuickly = "kswapd_high_wmark_hit_quickly",
    Pageoutrun = "pageoutrun",
    Pgrotated = "pgrotated",
    DropPagecache = "drop_pagecache",
    DropSlab = "drop_slab",
    OomKill = "oom_kill",
    PgmigrateSuccess = "pgmigrate_success",
    PgmigrateFail = "pgmigrate_fail",
    ThpMigrationSuccess = "thp_migration_success",
    ThpMigrationFail = "thp_migration_fail",
    ThpMigrationSplit = "thp_migration_split",
    CompactMigrateScanned = "compact_migrate_scanned",
    CompactFreeScanned = "compact_free_scanned",
    CompactIsolated = "compact_isolated",
    CompactStall = "compact_stall",
    CompactFail = "compact_fail",
    CompactSuccess = "compact_success",
    CompactDaemonWake = "compact_daemon_wake",
    CompactDaemonMigrateScanned = "compact_daemon_migrate_scanned",
    CompactDaemonFreeScanned = "compact_daemon_free_scanned",
    CmaAllocSuccess = "cma_alloc_success",
    CmaAllocFail = "cma_alloc_fail",
    UnevictablePgsCulled = "unevictable_pgs_culled",
    UnevictablePgsScanned = "unevictable_pgs_scanned",
    UnevictablePgsRescued = "unevictable_pgs_rescued",
    UnevictablePgsMlocked = "unevictable_pgs_mlocked",
    UnevictablePgsMunlocked = "unevictable_pgs_munlocked",
    UnevictablePgsCleared = "unevictable_pgs_cleared",
    UnevictablePgsStranded = "unevictable_pgs_stranded",
    BalloonInflate = "balloon_inflate",
    BalloonDeflate = "balloon_deflate",
    BalloonMigrate = "balloon_migrate",
    SwapRa = "swap_ra",
    SwapRaHit = "swap_ra_hit",
    KsmSwpinCopy = "ksm_swpin_copy",
    CowKsm = "cow_ksm",
    Zswpin = "zswpin",
    Zswpout = "zswpout",
}

/// The events before the per-zone ones: `pgpgin`, `pgpgout`, `pswpin`, `pswpout`.
pub const VM_EVENT_HEAD_NAMES: [&str; 4] = ["pgpgin", "pgpgout", "pswpin", "pswpout"];
/// The per-zone events, each printed once per configured zone (`pgalloc_dma` ...).
pub const VM_ZONE_EVENT_PREFIXES: [&str; 3] = ["pgalloc", "allocstall", "pgskip"];
/// Most zones a configuration has (every slot of `enum zone_type`).
pub const MAX_ZONES: usize = crate::mm::zone::MAX_NR_ZONES;
/// The zone suffixes of the reference's configuration (`TEXTS_FOR_ZONES`).
pub const ZONES_DMA_NORMAL_HIGH_MOVABLE: [&str; 4] = ["dma", "normal", "high", "movable"];
/// arm64 6.1 (CONFIG_ZONE_DMA and CONFIG_ZONE_DMA32, no HIGHMEM).
pub const ZONES_DMA_DMA32_NORMAL_MOVABLE: [&str; 4] = ["dma", "dma32", "normal", "movable"];
/// pivm's default configuration: no ZONE_DMA.
pub const ZONES_NORMAL_HIGH_MOVABLE: [&str; 3] = ["normal", "high", "movable"];

/// Every `/proc/vmstat` value, indexed by the enums above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmstatSnapshot<'a> {
    pub zone: [u64; ZoneStat::COUNT],
    pub node: [u64; NodeStat::COUNT],
    /// `nr_dirty_threshold`, `nr_dirty_background_threshold`.
    pub dirty_threshold: u64,
    pub dirty_background_threshold: u64,
    /// `pgpgin`, `pgpgout`, `pswpin`, `pswpout`.
    pub head: [u64; 4],
    /// The configured zones' suffixes, in zone order.
    pub zone_names: &'a [&'a str],
    /// Per zone (same order as `zone_names`): `pgalloc_*`, `allocstall_*`, `pgskip_*`.
    pub per_zone: [[u64; MAX_ZONES]; 3],
    pub events: [u64; VmEvent::COUNT],
}

impl<'a> VmstatSnapshot<'a> {
    /// All zero, for the given zones.
    pub fn new(zone_names: &'a [&'a str]) -> Self {
        VmstatSnapshot {
            zone: [0; ZoneStat::COUNT],
            node: [0; NodeStat::COUNT],
            dirty_threshold: 0,
            dirty_background_threshold: 0,
            head: [0; 4],
            zone_names,
            per_zone: [[0; MAX_ZONES]; 3],
            events: [0; VmEvent::COUNT],
        }
    }
}

/// Renders the whole file.
pub fn render(w: &mut impl fmt::Write, s: &VmstatSnapshot) -> fmt::Result {
    for (name, v) in ZONE_STAT_NAMES.iter().zip(s.zone) {
        writeln!(w, "{name} {v}")?;
    }
    for (name, v) in NODE_STAT_NAMES.iter().zip(s.node) {
        writeln!(w, "{name} {v}")?;
    }
    writeln!(w, "nr_dirty_threshold {}", s.dirty_threshold)?;
    writeln!(w, "nr_dirty_background_threshold {}", s.dirty_background_threshold)?;
    for (name, v) in VM_EVENT_HEAD_NAMES.iter().zip(s.head) {
        writeln!(w, "{name} {v}")?;
    }
    for (prefix, values) in VM_ZONE_EVENT_PREFIXES.iter().zip(&s.per_zone) {
        for (zone, v) in s.zone_names.iter().take(MAX_ZONES).zip(values) {
            writeln!(w, "{prefix}_{zone} {v}")?;
        }
    }
    for (name, v) in VM_EVENT_NAMES.iter().zip(s.events) {
        writeln!(w, "{name} {v}")?;
    }
    // NR_UNSTABLE_NFS is gone; 6.1 keeps printing the line for old tools.
    writeln!(w, "nr_unstable 0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn sample() -> String {
        crate::proc::pid::sample::output(crate::proc::pid::sample::FORMATS, "cat /proc/vmstat", 0)
    }

    /// Builds the snapshot from the sample's own numbers, by name.
    fn from_sample<'a>(zones: &'a [&'a str]) -> VmstatSnapshot<'a> {
        let mut s = VmstatSnapshot::new(zones);
        for line in sample().lines() {
            let (name, v) = line.split_once(' ').unwrap();
            let v: u64 = v.parse().unwrap();
            if let Some(i) = ZONE_STAT_NAMES.iter().position(|n| *n == name) {
                s.zone[i] = v;
            } else if let Some(i) = NODE_STAT_NAMES.iter().position(|n| *n == name) {
                s.node[i] = v;
            } else if let Some(i) = VM_EVENT_HEAD_NAMES.iter().position(|n| *n == name) {
                s.head[i] = v;
            } else if let Some(i) = VM_EVENT_NAMES.iter().position(|n| *n == name) {
                s.events[i] = v;
            } else if name == "nr_dirty_threshold" {
                s.dirty_threshold = v;
            } else if name == "nr_dirty_background_threshold" {
                s.dirty_background_threshold = v;
            } else if let Some((prefix, zone)) = name.rsplit_once('_') {
                let p = VM_ZONE_EVENT_PREFIXES.iter().position(|x| *x == prefix);
                let z = zones.iter().position(|x| *x == zone);
                if let (Some(p), Some(z)) = (p, z) {
                    s.per_zone[p][z] = v;
                }
            }
        }
        s
    }

    #[test]
    fn golden_against_the_reference() {
        let s = from_sample(&ZONES_DMA_NORMAL_HIGH_MOVABLE);
        assert_eq!(s.events[VmEvent::Pgfault as usize], 2194);
        assert_eq!(s.node[NodeStat::NrShmem as usize], 5773);
        let mut out = String::new();
        render(&mut out, &s).unwrap();
        assert_eq!(out, sample());
    }

    #[test]
    fn zone_lines_follow_the_configured_zones() {
        let s = VmstatSnapshot::new(&ZONES_NORMAL_HIGH_MOVABLE);
        let mut out = String::new();
        render(&mut out, &s).unwrap();
        assert!(out.contains(
            "pgalloc_normal 0\npgalloc_high 0\npgalloc_movable 0\nallocstall_normal 0\n"
        ));
        assert!(!out.contains("_dma"));
        assert_eq!(out.lines().count(), sample().lines().count() - 3);
        assert!(out.ends_with("zswpout 0\nnr_unstable 0\n"));
    }

    /// arm64 6.1's four zones: a line per zone and prefix, DMA32 between DMA and Normal.
    #[test]
    fn arm64_zone_lines_include_dma32() {
        let s = VmstatSnapshot::new(&ZONES_DMA_DMA32_NORMAL_MOVABLE);
        let mut out = String::new();
        render(&mut out, &s).unwrap();
        assert!(
            out.contains("pgalloc_dma 0\npgalloc_dma32 0\npgalloc_normal 0\npgalloc_movable 0\n")
        );
        assert!(out.contains("pgskip_dma32 0\n") && !out.contains("_high "));
        assert_eq!(out.lines().count(), sample().lines().count());
    }
}
