//! Picture (c): physical memory as a map of pageblocks, one cell per block in PFN order,
//! grouped by zone: the cell's colour is the block's migrate type, the dark part its used
//! pages (bottom up, as a fraction), a white part its pages on per-CPU lists and reserved
//! pages hatched grey; beside each zone, its free blocks by order.
use crate::dump::{KernelDump, Pageblock};
use crate::kernel::layout_name;
use crate::svg::{self, mt_colour, size, zone_colour, Svg};

const LEFT: f64 = 20.0;
/// Width the cells of a zone take.
const GRID_W: f64 = 760.0;
const CHART_X: f64 = 820.0;
const CHART_W: f64 = 300.0;
/// Migrate types in `enum migratetype` order.
pub const MIGRATE_TYPES: [&str; 6] =
    ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"];

/// Cells per row and cell size for `n` blocks.
pub fn grid(n: usize) -> (usize, f64) {
    let cols = match n {
        0..=256 => 16,
        257..=2048 => 32,
        2049..=8192 => 64,
        _ => 128,
    };
    (cols, (GRID_W / cols as f64).floor().min(46.0))
}

/// Free blocks by order over `blocks`.
pub fn free_by_order(blocks: &[&Pageblock]) -> Vec<u64> {
    let n = blocks.iter().map(|b| b.orders.len()).max().unwrap_or(0);
    (0..n).map(|o| blocks.iter().map(|b| b.orders.get(o).copied().unwrap_or(0)).sum()).collect()
}

pub fn page(k: &KernelDump, when: &str) -> String {
    let title = format!("Physical memory: {}, profile {}{when}", layout_name(k), k.profile);
    let intro = format!(
        "Every pageblock ({} pages, {}) of every zone, in page-frame order, from the kernel's memdump. \
A cell's colour is the block's migrate type; its dark part, from the bottom, the fraction of its pages in use; \
grey the reserved pages (kernel image, mem_map, carve-outs). The strip above each zone is the zone's colour. \
Right: the zone's free blocks by order (the largest free order is what a large contiguous request needs).",
        1u64 << k.pageblock_order,
        size((1u64 << k.pageblock_order) * k.page_size)
    );
    svg::page(&title, &intro, &[draw(k)])
}

pub fn draw(k: &KernelDump) -> String {
    let zones: Vec<&str> = {
        let mut z: Vec<&str> = Vec::new();
        for b in &k.pageblocks {
            if !z.contains(&b.zone.as_str()) {
                z.push(&b.zone);
            }
        }
        z
    };
    let widest = zones
        .iter()
        .map(|z| k.pageblocks.iter().filter(|b| b.zone == *z).count())
        .max()
        .unwrap_or(0);
    let (cols, cell) = grid(widest);
    // Heights first, so the drawing is sized.
    let mut y = 40.0;
    let mut layout = Vec::new();
    for z in &zones {
        let blocks: Vec<&Pageblock> = k.pageblocks.iter().filter(|b| b.zone == *z).collect();
        let rows = blocks.len().div_ceil(cols);
        let h = (rows as f64 * cell).max(24.0);
        let chart_h = free_by_order(&blocks).len() as f64 * 16.0 + 20.0;
        layout.push((*z, blocks, y));
        y += 36.0 + h.max(chart_h) + 20.0;
    }
    let legend_y = y;
    let mut s = Svg::new("physical", 1160.0, legend_y + 70.0);
    s.text(
        LEFT,
        24.0,
        15.0,
        "start",
        "label",
        &format!(
            "physical memory by pageblock: {} blocks of {}",
            k.pageblocks.len(),
            size((1u64 << k.pageblock_order) * k.page_size)
        ),
    );
    for (z, blocks, y0) in layout {
        let free: u64 = blocks.iter().map(|b| b.free).sum();
        let pages: u64 = blocks.iter().map(|b| b.pages).sum();
        let (first, last) =
            (blocks.first().map_or(0, |b| b.pfn), blocks.last().map_or(0, |b| b.pfn + b.pages));
        s.group(&[("data-zone", z)]);
        s.rect(
            LEFT,
            y0 + 14.0,
            (cols as f64 * cell).min(GRID_W),
            4.0,
            zone_colour(z),
            "none",
            "",
            "",
        );
        s.text(
            LEFT,
            y0 + 8.0,
            13.0,
            "start",
            "label",
            &format!(
                "{z}: pfn {first:#x}-{last:#x}, {} blocks, {} free of {}",
                blocks.len(),
                size(free * k.page_size),
                size(pages * k.page_size)
            ),
        );
        let top = y0 + 22.0;
        for (i, b) in blocks.iter().enumerate() {
            let (x, cy) = (LEFT + (i % cols) as f64 * cell, top + (i / cols) as f64 * cell);
            let inner = (cell - 1.0).max(1.0);
            let n = b.pages.max(1) as f64;
            let orders: Vec<String> = b
                .orders
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(o, c)| format!("{c}x{o}"))
                .collect();
            let title = format!(
                "pfn {:#x} {} {}: {} free ({}), {} used, {} pcp, {} reserved",
                b.pfn,
                b.zone,
                b.mt,
                b.free,
                if orders.is_empty() {
                    "none".into()
                } else {
                    format!("blocks by order: {}", orders.join(" "))
                },
                b.used,
                b.pcp,
                b.reserved
            );
            s.group(&[("data-pfn", &format!("{:#x}", b.pfn)), ("data-mt", &b.mt)]);
            s.rect(x, cy, inner, inner, mt_colour(&b.mt), "none", &title, "");
            let used_h = inner * b.used as f64 / n;
            let res_h = inner * b.reserved as f64 / n;
            if used_h > 0.0 {
                s.rect(
                    x,
                    cy + inner - used_h,
                    inner,
                    used_h,
                    "#000000",
                    "none",
                    "",
                    r#" fill-opacity="0.55""#,
                );
            }
            if res_h > 0.0 {
                s.rect(
                    x,
                    cy + inner - used_h - res_h,
                    inner,
                    res_h,
                    "#7f7f7f",
                    "none",
                    "",
                    r#" fill-opacity="0.9""#,
                );
            }
            s.end_group();
        }
        // Free blocks by order.
        let by_order = free_by_order(&blocks);
        let max = by_order.iter().copied().max().unwrap_or(0).max(1) as f64;
        s.text(CHART_X, y0 + 8.0, 12.0, "start", "label", &format!("{z}: free blocks by order"));
        for (o, c) in by_order.iter().enumerate() {
            let cy = top + o as f64 * 16.0;
            s.text(CHART_X + 22.0, cy + 11.0, 10.0, "end", "small", &format!("{o}"));
            let w = if *c == 0 {
                0.0
            } else {
                ((*c as f64).ln_1p() / max.ln_1p() * (CHART_W - 80.0)).max(2.0)
            };
            s.rect(
                CHART_X + 28.0,
                cy + 2.0,
                w,
                11.0,
                zone_colour(z),
                "none",
                &format!("order {o}: {c} free blocks"),
                "",
            );
            s.text(CHART_X + 32.0 + w, cy + 11.0, 10.0, "start", "small", &format!("{c}"));
        }
        s.end_group();
    }
    let mut x = LEFT;
    for mt in MIGRATE_TYPES {
        s.rect(x, legend_y, 12.0, 12.0, mt_colour(mt), "none", "", "");
        s.text(x + 16.0, legend_y + 10.0, 11.0, "start", "small", mt);
        x += 110.0;
    }
    s.rect(x, legend_y, 12.0, 12.0, "#000000", "none", "", r#" fill-opacity="0.55""#);
    s.text(x + 16.0, legend_y + 10.0, 11.0, "start", "small", "used");
    s.rect(x + 70.0, legend_y, 12.0, 12.0, "#7f7f7f", "none", "", "");
    s.text(x + 86.0, legend_y + 10.0, 11.0, "start", "small", "reserved");
    s.text(
        LEFT,
        legend_y + 34.0,
        11.0,
        "start",
        "note",
        "Order bars are on a logarithmic scale; hover a cell for its counts.",
    );
    s.finish()
}
