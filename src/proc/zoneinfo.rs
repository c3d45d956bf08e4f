//! `/proc/zoneinfo`: every zone of the node, populated or not, with watermarks, protection,
//! counters and per-CPU pagesets (Linux 6.1 `zoneinfo_show_print()` in mm/vmstat.c).
//!
//! The counter names are Linux 6.1's `vmstat_text[]` for the reference board's configuration
//! (SMP, no NUMA, ZSMALLOC, SWAP, no shadow call stack, no NUMA balancing); counters pivm does
//! not keep print 0.
use core::fmt;

use super::snapshot::{NodeSnapshot, ZoneSnapshot, NODE_ID};

/// Linux 6.1's `node_stat_item` names, in order.
pub const NODE_STAT_NAMES: [&str; 41] = [
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_writeback_temp",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_swapcached",
];

/// Linux 6.1's `zone_stat_item` names, in order (`nr_zspages` because the reference kernel
/// builds zsmalloc).
pub const ZONE_STAT_NAMES: [&str; 11] = [
    "nr_free_pages",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_bounce",
    "nr_zspages",
    "nr_free_cma",
];

/// The value of node counter `name` (0 for counters pivm does not have).
fn node_stat<const ORDERS: usize>(node: &NodeSnapshot<ORDERS>, name: &str) -> u64 {
    let s = &node.stats;
    match name {
        "nr_slab_reclaimable" => s.nr_slab_reclaimable,
        "nr_slab_unreclaimable" => s.nr_slab_unreclaimable,
        "nr_kernel_misc_reclaimable" => s.nr_kernel_misc_reclaimable,
        "nr_kernel_stack" => s.nr_kernel_stack,
        "nr_page_table_pages" => s.nr_page_table_pages,
        "nr_inactive_anon" => node.lru[0],
        "nr_active_anon" => node.lru[1],
        "nr_inactive_file" => node.lru[2],
        "nr_active_file" => node.lru[3],
        "nr_unevictable" => node.lru[4],
        _ => 0,
    }
}

/// The value of zone counter `name` (0 for counters pivm does not have).
fn zone_stat<const ORDERS: usize>(zone: &ZoneSnapshot<ORDERS>, name: &str) -> u64 {
    match name {
        "nr_free_pages" => zone.free_pages,
        "nr_free_cma" => zone.free_cma,
        "nr_zone_inactive_anon" => zone.lru[0],
        "nr_zone_active_anon" => zone.lru[1],
        "nr_zone_inactive_file" => zone.lru[2],
        "nr_zone_active_file" => zone.lru[3],
        "nr_zone_unevictable" => zone.lru[4],
        _ => 0,
    }
}

/// One `"\n      %-12s %lu"` counter line (the newline comes first, as in Linux).
fn write_stat(w: &mut impl fmt::Write, name: &str, value: u64) -> fmt::Result {
    write!(w, "\n      {name:<12} {value}")
}

/// Writes one zone's block. `first_populated` selects the zone that carries the per-node stats.
pub fn write_zone<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
    zone: &ZoneSnapshot<ORDERS>,
    first_populated: bool,
) -> fmt::Result {
    write!(w, "Node {}, zone {:>8}", NODE_ID, zone.name)?;
    if first_populated {
        w.write_str("\n  per-node stats")?;
        for name in NODE_STAT_NAMES {
            write_stat(w, name, node_stat(node, name))?;
        }
    }
    write!(
        w,
        "\n  pages free     {}\
         \n        boost    {}\
         \n        min      {}\
         \n        low      {}\
         \n        high     {}\
         \n        spanned  {}\
         \n        present  {}\
         \n        managed  {}\
         \n        cma      {}",
        zone.free_pages,
        zone.boost,
        zone.min,
        zone.low,
        zone.high,
        zone.spanned,
        zone.present,
        zone.managed,
        zone.cma,
    )?;
    // One entry per zone of the kernel (its MAX_NR_ZONES).
    write!(w, "\n        protection: (")?;
    let reserves = node.zones.iter().zip(zone.lowmem_reserve).filter(|(z, _)| z.configured);
    for (i, (_, reserve)) in reserves.enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        write!(w, "{reserve}")?;
    }
    w.write_char(')')?;

    // Linux: "If unpopulated, no other information is useful".
    if !zone.populated {
        return w.write_char('\n');
    }

    for name in ZONE_STAT_NAMES {
        write_stat(w, name, zone_stat(zone, name))?;
    }
    w.write_str("\n  pagesets")?;
    for (cpu, pcp) in zone.pagesets.iter().take(node.nr_cpus).enumerate() {
        write!(
            w,
            "\n    cpu: {cpu}\
             \n              count: {}\
             \n              high:  {}\
             \n              batch: {}\
             \n  vm stats threshold: {}",
            pcp.count, pcp.high, pcp.batch, pcp.stat_threshold,
        )?;
    }
    write!(
        w,
        "\n  node_unreclaimable:  {}\
         \n  start_pfn:           {}\n",
        u32::from(node.unreclaimable),
        zone.start_pfn,
    )
}

/// Renders the whole file: every zone the kernel has, populated or not, in zone order.
pub fn render<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
) -> fmt::Result {
    let first_populated = node.zones.iter().position(|z| z.configured && z.populated);
    for (i, zone) in node.zones.iter().enumerate().filter(|(_, z)| z.configured) {
        write_zone(w, node, zone, first_populated == Some(i))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::snapshot::{PagesetSnapshot, ZONE_DMA, ZONE_HIGHMEM, ZONE_NORMAL};

    /// The sample's DMA zone from `pages free` to `protection`, then the counters and
    /// pagesets of two CPUs.
    const SAMPLE_DMA_HEAD: &str = "
  pages free     185597
        boost    0
        min      869
        low      1086
        high     1303
        spanned  196608
        present  196608
        managed  189784
        cma      0
        protection: (0, 0, 192, 192)
      nr_free_pages 185597
      nr_zone_inactive_anon 0
      nr_zone_active_anon 0
      nr_zone_inactive_file 0
      nr_zone_active_file 0
      nr_zone_unevictable 0
      nr_zone_write_pending 0
      nr_mlock     0
      nr_bounce    0
      nr_zspages   0
      nr_free_cma  0
  pagesets
    cpu: 0
              count: 12
              high:  378
              batch: 63
  vm stats threshold: 24
    cpu: 1
              count: 0
              high:  378
              batch: 63
  vm stats threshold: 24
  node_unreclaimable:  0
  start_pfn:           0
";

    fn sample_node() -> NodeSnapshot<12> {
        let mut node = NodeSnapshot::<12>::empty();
        node.nr_cpus = 2;
        node.stats.nr_slab_reclaimable = 1591;
        node.stats.nr_slab_unreclaimable = 1212;
        node.stats.nr_kernel_stack = 504;
        node.stats.nr_page_table_pages = 6;
        let dma = &mut node.zones[ZONE_DMA];
        dma.populated = true;
        dma.free_pages = 185597;
        dma.min = 869;
        dma.low = 1086;
        dma.high = 1303;
        dma.spanned = 196608;
        dma.present = 196608;
        dma.managed = 189784;
        dma.lowmem_reserve = [0, 0, 0, 192, 192];
        dma.pagesets = [PagesetSnapshot { count: 0, high: 378, batch: 63, stat_threshold: 24 }; 4];
        dma.pagesets[0].count = 12;
        let high = &mut node.zones[ZONE_HIGHMEM];
        high.populated = true;
        high.start_pfn = 196608;
        high.spanned = 49152;
        high.present = 49152;
        high.managed = 49152;
        node
    }

    #[test]
    fn first_populated_zone_carries_node_stats() {
        let mut out = String::new();
        render(&mut out, &sample_node()).unwrap();
        let head = "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 0\n";
        assert!(out.starts_with(head), "{out}");
        // Lines from the reference board's file.
        for line in [
            "\n      nr_slab_reclaimable 1591\n",
            "\n      nr_slab_unreclaimable 1212\n",
            "\n      nr_mapped    0\n",
            "\n      nr_dirty     0\n",
            "\n      nr_kernel_stack 504\n",
            "\n      nr_page_table_pages 6\n",
            "\n      nr_swapcached 0\n  pages free     185597\n",
        ] {
            assert!(out.contains(line), "missing {line:?}");
        }
        assert_eq!(out.matches("per-node stats").count(), 1);
        let dma_end = out.find("Node 0, zone   Normal").unwrap();
        let after_stats = out[..dma_end].find("\n  pages free").unwrap();
        assert_eq!(&out[after_stats..dma_end], SAMPLE_DMA_HEAD);
    }

    #[test]
    fn unpopulated_zone_stops_after_protection() {
        let mut out = String::new();
        render(&mut out, &sample_node()).unwrap();
        let normal = "Node 0, zone   Normal
  pages free     0
        boost    0
        min      0
        low      0
        high     0
        spanned  0
        present  0
        managed  0
        cma      0
        protection: (0, 0, 0, 0)
Node 0, zone  HighMem
  pages free     0
";
        assert!(out.contains(normal), "{out}");
        // The empty Movable zone ends the file, as on the reference board.
        assert!(out.contains(
            "  node_unreclaimable:  0\n  start_pfn:           196608\nNode 0, zone  Movable\n"
        ));
        assert!(out.ends_with("        protection: (0, 0, 0, 0)\n"), "{out}");
    }

    #[test]
    fn a_kernel_without_zone_dma_lists_three_zones() {
        let mut node = NodeSnapshot::<11>::empty();
        node.zones[ZONE_DMA].configured = false;
        node.zones[ZONE_NORMAL].populated = true;
        node.zones[ZONE_NORMAL].lowmem_reserve = [0, 0, 0, 64, 64];
        let mut out = String::new();
        render(&mut out, &node).unwrap();
        assert!(out.starts_with("Node 0, zone   Normal\n  per-node stats\n"), "{out}");
        assert!(!out.contains("zone      DMA"));
        assert!(out.contains("        protection: (0, 64, 64)\n"));
        assert_eq!(out.matches("protection: (0, 0, 0)\n").count(), 2);
    }

    #[test]
    fn node_stats_go_to_normal_when_dma_is_empty() {
        let mut node = NodeSnapshot::<11>::empty();
        node.zones[ZONE_NORMAL].populated = true;
        let mut out = String::new();
        render(&mut out, &node).unwrap();
        assert!(out.starts_with("Node 0, zone      DMA\n  pages free     0\n"));
        assert!(out.contains("Node 0, zone   Normal\n  per-node stats\n"));
        assert_eq!(out.matches("\n    cpu: ").count(), node.nr_cpus);
    }
}
