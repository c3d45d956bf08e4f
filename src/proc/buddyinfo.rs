//! `/proc/buddyinfo`: free blocks per order for each populated zone (Linux's `frag_show_print()`
//! in mm/vmstat.c, unchanged since 2.6).
use core::fmt;

use super::snapshot::{NodeSnapshot, ZoneSnapshot, NODE_ID};

/// Writes one zone's line: `Node 0, zone   Normal` then `%6lu ` per order (note the trailing
/// space before the newline, as Linux prints it).
pub fn write_zone<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    zone: &ZoneSnapshot<ORDERS>,
) -> fmt::Result {
    write!(w, "Node {}, zone {:>8} ", NODE_ID, zone.name)?;
    for nr_free in zone.free_area {
        write!(w, "{nr_free:>6} ")?;
    }
    w.write_char('\n')
}

/// Renders the whole file: one line per populated zone.
pub fn render<const ORDERS: usize>(
    w: &mut impl fmt::Write,
    node: &NodeSnapshot<ORDERS>,
) -> fmt::Result {
    node.populated_zones().try_for_each(|zone| write_zone(w, zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::snapshot::{ZONE_DMA, ZONE_HIGHMEM};

    /// The reference board's kernel has 12 free lists.
    const SAMPLE_ORDERS: usize = 12;

    /// The two buddyinfo lines of linux-6.1-raspi2b-3G-proc.txt.
    const SAMPLE: &str = "\
Node 0, zone      DMA      3      3      5      8     10      6      7      5      5      3      3     87 
Node 0, zone  HighMem      4      4      4      3      1      0      2      3      2      2      3     21 
";

    #[test]
    fn reproduces_linux_sample() {
        let mut node = NodeSnapshot::<SAMPLE_ORDERS>::empty();
        node.zones[ZONE_DMA].populated = true;
        node.zones[ZONE_DMA].free_area = [3, 3, 5, 8, 10, 6, 7, 5, 5, 3, 3, 87];
        node.zones[ZONE_HIGHMEM].populated = true;
        node.zones[ZONE_HIGHMEM].free_area = [4, 4, 4, 3, 1, 0, 2, 3, 2, 2, 3, 21];
        let mut out = String::new();
        render(&mut out, &node).unwrap();
        assert_eq!(out, SAMPLE);
    }

    #[test]
    fn default_build_prints_max_order_columns() {
        let mut node = NodeSnapshot::<{ crate::config::MAX_ORDER }>::empty();
        node.zones[crate::proc::snapshot::ZONE_NORMAL].populated = true;
        node.zones[crate::proc::snapshot::ZONE_NORMAL].free_area[0] = 105;
        let mut out = String::new();
        render(&mut out, &node).unwrap();
        let expected = format!(
            "Node 0, zone   Normal    105 {}\n",
            "     0 ".repeat(crate::config::MAX_ORDER - 1)
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn no_populated_zone_prints_nothing() {
        let mut out = String::new();
        render(&mut out, &NodeSnapshot::<11>::empty()).unwrap();
        assert_eq!(out, "");
    }
}
