//! The compaction debugfs files `/sys/kernel/debug/extfrag/unusable_index` and
//! `.../extfrag_index` (Linux's `unusable_show_print()` and `extfrag_show_print()` in
//! mm/vmstat.c), and the two indexes themselves, computed from a zone's free-list counts.
//!
//! Both indexes are in thousandths, as Linux keeps them: the unusable free space index is the
//! share of free memory in blocks too small for an order; the fragmentation index says whether
//! an allocation that would fail does so for lack of memory (toward 0) or because the free
//! memory is scattered in small blocks (toward 1000), and is -1000 when the allocation would
//! succeed.
use core::fmt;

use super::snapshot::{NodeSnapshot, ZoneSnapshot, NODE_ID};

/// Linux's index scale: 1000 means 1.000.
pub const INDEX_SCALE: i32 = 1000;
/// `fragmentation_index()` when a block of the requested order is free.
pub const INDEX_WOULD_SUCCEED: i32 = -INDEX_SCALE;

/// Linux's `struct contig_page_info`: a zone's free memory seen from one requested order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContigPageInfo {
    /// Free base pages.
    pub free_pages: u64,
    /// Free blocks of any order.
    pub free_blocks_total: u64,
    /// Free blocks of the requested size that the free lists could provide.
    pub free_blocks_suitable: u64,
}

/// Linux's `fill_contig_page_info()` over `nr_free` per order.
pub fn fill_contig_page_info(free_area: &[u64], suitable_order: usize) -> ContigPageInfo {
    let mut info = ContigPageInfo::default();
    for (order, &blocks) in free_area.iter().enumerate() {
        info.free_blocks_total += blocks;
        info.free_pages += blocks << order;
        if order >= suitable_order {
            info.free_blocks_suitable += blocks << (order - suitable_order);
        }
    }
    info
}

/// Linux's `unusable_free_index()` on filled info: free memory that cannot serve `order`, in
/// thousandths of free memory; no free memory at all counts as all unusable.
pub fn unusable_free_index_of(order: usize, info: &ContigPageInfo) -> i32 {
    if info.free_pages == 0 {
        return INDEX_SCALE;
    }
    let unusable = info.free_pages - (info.free_blocks_suitable << order);
    (unusable * INDEX_SCALE as u64 / info.free_pages) as i32
}

/// Linux's `__fragmentation_index()`: `1000 - (1000 + free_pages * 1000 / 2^order) / blocks`.
/// The subtraction is done as Linux does it (unsigned, then taken as `int`), so a zone whose
/// only free block is smaller than the request yields a negative value other than -1000.
pub fn fragmentation_index_of(order: usize, info: &ContigPageInfo) -> i32 {
    if info.free_blocks_total == 0 {
        return 0;
    }
    if info.free_blocks_suitable != 0 {
        return INDEX_WOULD_SUCCEED;
    }
    let requested = 1u64 << order;
    let scale = INDEX_SCALE as u64;
    let spread = (scale + info.free_pages * scale / requested) / info.free_blocks_total;
    scale.wrapping_sub(spread) as i32
}

/// Unusable free space index of `zone` for `order`, in thousandths.
pub fn unusable_free_index<const ORDERS: usize>(zone: &ZoneSnapshot<ORDERS>, order: usize) -> i32 {
    unusable_free_index_of(order, &fill_contig_page_info(&zone.free_area, order))
}

/// Linux's `fragmentation_index()`: external fragmentation index of `zone` for `order`, in
/// thousandths (0 for an order beyond the free lists, where Linux warns and returns 0).
pub fn fragmentation_index<const ORDERS: usize>(zone: &ZoneSnapshot<ORDERS>, order: usize) -> i32 {
    if order >= ORDERS {
        return 0;
    }
    fragmentation_index_of(order, &fill_contig_page_info(&zone.free_area, order))
}

/// Renders `unusable_index`: `%d.%03d ` per order for each populated zone.
pub fn render_unusable_index<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
) -> fmt::Result {
    for zone in node.populated_zones() {
        write!(w, "Node {}, zone {:>8} ", NODE_ID, zone.name)?;
        for order in 0..ORDERS {
            let index = unusable_free_index(zone, order);
            write!(w, "{}.{:03} ", index / INDEX_SCALE, index % INDEX_SCALE)?;
        }
        w.write_char('\n')?;
    }
    Ok(())
}

/// Renders `extfrag_index`: `%2d.%03d ` per order for each populated zone. Rust's `/` and `%`
/// truncate toward zero like C's, so negative indexes print as Linux prints them.
pub fn render_extfrag_index<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
) -> fmt::Result {
    for zone in node.populated_zones() {
        write!(w, "Node {}, zone {:>8} ", NODE_ID, zone.name)?;
        for order in 0..ORDERS {
            let index = fragmentation_index(zone, order);
            write!(w, "{:>2}.{:03} ", index / INDEX_SCALE, index % INDEX_SCALE)?;
        }
        w.write_char('\n')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::snapshot::ZONE_NORMAL;

    fn node_with(free_area: [u64; 4]) -> NodeSnapshot<4> {
        let mut node = NodeSnapshot::<4>::empty();
        node.zones[ZONE_NORMAL].populated = true;
        node.zones[ZONE_NORMAL].free_area = free_area;
        node
    }

    #[test]
    fn one_big_block_is_never_fragmented() {
        // One free order-3 block: every order can be served.
        let node = node_with([0, 0, 0, 1]);
        let zone = &node.zones[ZONE_NORMAL];
        for order in 0..4 {
            assert_eq!(unusable_free_index(zone, order), 0);
            assert_eq!(fragmentation_index(zone, order), -1000);
        }
        let mut out = String::new();
        render_unusable_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal 0.000 0.000 0.000 0.000 \n");
        out.clear();
        render_extfrag_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 \n");
    }

    #[test]
    fn scattered_order0_pages_are_fragmentation() {
        // 8 free order-0 pages (every other page of a 16-page zone).
        let node = node_with([8, 0, 0, 0]);
        let zone = &node.zones[ZONE_NORMAL];
        // Order 1: (8 - 0) / 8 unusable; FI = 1000 - (1000 + 8*1000/2) / 8 = 1000 - 625.
        assert_eq!(unusable_free_index(zone, 1), 1000);
        assert_eq!(fragmentation_index(zone, 1), 375);
        // Order 2: 1000 - (1000 + 2000) / 8 = 625; order 3: 1000 - 2000 / 8 = 750.
        assert_eq!(fragmentation_index(zone, 2), 625);
        assert_eq!(fragmentation_index(zone, 3), 750);
        let mut out = String::new();
        render_extfrag_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal -1.000  0.375  0.625  0.750 \n");
        out.clear();
        render_unusable_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal 0.000 1.000 1.000 1.000 \n");
    }

    #[test]
    fn mixed_free_lists() {
        // 2 order-0 + 1 order-1 + 1 order-2 = 8 pages in 4 blocks.
        let node = node_with([2, 1, 1, 0]);
        let zone = &node.zones[ZONE_NORMAL];
        // Order 1: only the two order-0 pages are unusable → 2/8.
        assert_eq!(unusable_free_index(zone, 1), 250);
        // Order 2: only the order-2 block → 4/8 unusable; order 3: none.
        assert_eq!(unusable_free_index(zone, 2), 500);
        assert_eq!(unusable_free_index(zone, 3), 1000);
        // Order 3: 1000 - (1000 + 8000/8) / 4 = 500.
        assert_eq!(fragmentation_index(zone, 3), 500);
        assert_eq!(fragmentation_index(zone, 2), -1000);
    }

    #[test]
    fn lack_of_memory_and_empty_zone() {
        // Nothing free: unusable index 1.000, fragmentation index 0.
        let node = node_with([0; 4]);
        let zone = &node.zones[ZONE_NORMAL];
        assert_eq!(unusable_free_index(zone, 0), 1000);
        assert_eq!(fragmentation_index(zone, 3), 0);
        let mut out = String::new();
        render_extfrag_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal  0.000  0.000  0.000  0.000 \n");
        out.clear();
        render_unusable_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal 1.000 1.000 1.000 1.000 \n");
    }

    #[test]
    fn single_small_block_goes_negative_like_c() {
        // One order-0 page, order-1 request: 1000 - (1000 + 500) / 1 = -500, which Linux prints
        // with C's truncating division as " 0.-500".
        let node = node_with([1, 0, 0, 0]);
        let zone = &node.zones[ZONE_NORMAL];
        assert_eq!(fragmentation_index(zone, 1), -500);
        assert_eq!(fragmentation_index(zone, 2), -250);
        let mut out = String::new();
        render_extfrag_index(&mut out, &node).unwrap();
        assert_eq!(out, "Node 0, zone   Normal -1.000  0.-500  0.-250  0.-125 \n");
    }

    #[test]
    fn order_beyond_free_lists_is_zero() {
        let node = node_with([8, 0, 0, 0]);
        assert_eq!(fragmentation_index(&node.zones[ZONE_NORMAL], 4), 0);
    }
}
