//! `/proc/pagetypeinfo`: free blocks per migrate type and order, and page blocks per migrate
//! type (Linux 6.1 `pagetypeinfo_show()` in mm/vmstat.c).
//!
//! pivm groups pages by mobility into Unmovable, Movable and Reclaimable pageblocks, reserves
//! HighAtomic ones for high-order atomic requests and gives the CMA area its own; Isolate
//! pageblocks exist only inside `cma_alloc`, so they print zeros. A snapshot without
//! per-type data (`by_type` unset) reports everything as Unmovable.
use core::fmt;

use super::snapshot::{NodeSnapshot, ZoneSnapshot, MIGRATE_TYPES, NODE_ID};

/// Linux ≥ 4.4 `migratetype_names[]` with CONFIG_CMA and CONFIG_MEMORY_ISOLATION (the
/// reference board's kernel), in `enum migratetype` order.
pub const MIGRATETYPE_NAMES: [&str; MIGRATE_TYPES] =
    ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"];
/// The type pivm's single free list stands for.
const MIGRATE_UNMOVABLE: usize = 0;
/// Linux stops counting a free list at this many entries and prints `>` before the count.
pub const FREECOUNT_CAP: u64 = 100_000;

/// `pageblock_order` for `orders` buddy orders: the largest, or the architecture's huge page
/// order when it is smaller (arm64: 9).
pub const fn pageblock_order(orders: usize) -> usize {
    crate::mm::page_alloc::pageblock_order_for(orders) as usize
}

/// `pageblock_nr_pages`.
pub const fn pageblock_nr_pages(orders: usize) -> u64 {
    1 << pageblock_order(orders)
}

/// Page blocks of `zone` per migrate type. Linux steps from `zone_start_pfn` by a block until
/// the zone's end, so a partial last block counts.
pub fn blocks_per_type<const ORDERS: usize>(zone: &ZoneSnapshot<ORDERS>) -> [u64; MIGRATE_TYPES] {
    if zone.by_type {
        return zone.blocks_by_type;
    }
    let mut count = [0; MIGRATE_TYPES];
    count[MIGRATE_UNMOVABLE] = zone.spanned.div_ceil(pageblock_nr_pages(ORDERS));
    count
}

/// One `Node    0, zone   Normal, type    Unmovable ...` line.
fn write_free_line<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    zone: &ZoneSnapshot<ORDERS>,
    mtype: usize,
) -> fmt::Result {
    write!(
        w,
        "Node {:>4}, zone {:>8}, type {:>12} ",
        NODE_ID, zone.name, MIGRATETYPE_NAMES[mtype]
    )?;
    for (order, nr_free) in zone.free_area.into_iter().enumerate() {
        let freecount = if zone.by_type {
            zone.free_by_type[mtype][order]
        } else if mtype == MIGRATE_UNMOVABLE {
            nr_free
        } else {
            0
        };
        if freecount >= FREECOUNT_CAP {
            write!(w, ">{FREECOUNT_CAP:>6} ")?;
        } else {
            write!(w, "{freecount:>6} ")?;
        }
    }
    w.write_char('\n')
}

/// Renders the whole file (header, free counts, block counts) over the populated zones.
pub fn render<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
) -> fmt::Result {
    // Linux skips a node without memory entirely.
    if node.populated_zones().next().is_none() {
        return Ok(());
    }
    writeln!(w, "Page block order: {}", pageblock_order(ORDERS))?;
    writeln!(w, "Pages per block:  {}", pageblock_nr_pages(ORDERS))?;
    w.write_char('\n')?;

    write!(w, "{:<43} ", "Free pages count per migrate type at order")?;
    for order in 0..ORDERS {
        write!(w, "{order:>6} ")?;
    }
    w.write_char('\n')?;
    for zone in node.populated_zones() {
        for mtype in 0..MIGRATETYPE_NAMES.len() {
            write_free_line(w, zone, mtype)?;
        }
    }

    write!(w, "\n{:<23}", "Number of blocks type ")?;
    for name in MIGRATETYPE_NAMES {
        write!(w, "{name:>12} ")?;
    }
    w.write_char('\n')?;
    for zone in node.populated_zones() {
        write!(w, "Node {}, zone {:>8} ", NODE_ID, zone.name)?;
        for count in blocks_per_type(zone) {
            write!(w, "{count:>12} ")?;
        }
        w.write_char('\n')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::snapshot::{ZONE_DMA, ZONE_HIGHMEM};

    const SAMPLE_ORDERS: usize = 12;

    /// The header, column line and block-count header of the reference board's file.
    const SAMPLE_HEAD: &str = "\
Page block order: 11
Pages per block:  2048

Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10     11 
";
    const SAMPLE_BLOCKS_HEAD: &str =
        "\nNumber of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate \n";

    fn sample_node() -> NodeSnapshot<SAMPLE_ORDERS> {
        let mut node = NodeSnapshot::<SAMPLE_ORDERS>::empty();
        let dma = &mut node.zones[ZONE_DMA];
        dma.populated = true;
        dma.spanned = 196608;
        // The sample's DMA Unmovable row.
        dma.free_area = [0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0];
        let high = &mut node.zones[ZONE_HIGHMEM];
        high.populated = true;
        high.spanned = 49152;
        high.free_area = [1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0];
        node
    }

    #[test]
    fn header_and_zone_lines_match_linux() {
        let mut out = String::new();
        render(&mut out, &sample_node()).unwrap();
        assert!(out.starts_with(SAMPLE_HEAD), "{out}");
        assert!(out.contains(
            "Node    0, zone      DMA, type    Unmovable      0      0      0      1      0      0      1      0      1      1      1      0 \n"
        ));
        assert!(out.contains(
            "Node    0, zone  HighMem, type    Unmovable      1      1      1      1      1      0      1      1      1      0      1      0 \n"
        ));
        assert!(out.contains(
            "Node    0, zone  HighMem, type      Isolate      0      0      0      0      0      0      0      0      0      0      0      0 \n"
        ));
        assert!(out.contains(SAMPLE_BLOCKS_HEAD));
        // All of the zone's 96 and 24 blocks are pivm's single type.
        assert!(out.ends_with(
            "Node 0, zone      DMA           96            0            0            0            0            0 \n\
             Node 0, zone  HighMem           24            0            0            0            0            0 \n"
        ));
        assert_eq!(out.lines().count(), 4 + 12 + 1 + 1 + 2);
    }

    #[test]
    fn long_lists_are_capped_like_linux() {
        let mut node = NodeSnapshot::<2>::empty();
        node.zones[crate::proc::snapshot::ZONE_NORMAL].populated = true;
        node.zones[crate::proc::snapshot::ZONE_NORMAL].free_area = [100_000, 99_999];
        node.zones[crate::proc::snapshot::ZONE_NORMAL].spanned = 3;
        let mut out = String::new();
        render(&mut out, &node).unwrap();
        assert!(out.contains("type    Unmovable >100000  99999 \n"), "{out}");
        assert!(out.contains("Node 0, zone   Normal            2 "), "{out}");
    }

    #[test]
    fn memoryless_node_prints_nothing() {
        let mut out = String::new();
        render(&mut out, &NodeSnapshot::<11>::empty()).unwrap();
        assert_eq!(out, "");
    }
}
