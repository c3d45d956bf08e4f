//! Picture (b): a process's address space: one row per VMA (as `/proc/PID/maps` lists them),
//! its pages as a strip (present pages in their zone's colour, swapped-out ones orange, the
//! rest empty; several pages per cell in a large VMA), and lines from each VMA to the frames
//! its present pages occupy on a to-scale bar of physical memory.
use crate::dump::{KernelDump, ProcessDump, Vma};
use crate::svg::{self, size, zone_colour, Svg};

const ROW_H: f64 = 22.0;
const TOP: f64 = 60.0;
const STRIP_X: f64 = 470.0;
const STRIP_W: f64 = 400.0;
/// Most cells in a VMA's strip.
const MAX_CELLS: u64 = 200;
const PA_X: f64 = 1010.0;
const PA_W: f64 = 40.0;
const SWAPPED: &str = "#f28e2b";

/// What one cell of a strip shows: pages present per zone, swapped, and the cell's size.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cell {
    pub pages: u64,
    pub present: Vec<(String, u64)>,
    pub swapped: u64,
}

/// The strip of `v`: `MAX_CELLS` cells at most, each `per` pages.
pub fn cells(v: &Vma, page_size: u64) -> (u64, Vec<Cell>) {
    let pages = (v.end - v.start) / page_size;
    let per = pages.div_ceil(MAX_CELLS).max(1);
    let n = pages.div_ceil(per);
    let mut out: Vec<Cell> =
        (0..n).map(|i| Cell { pages: per.min(pages - i * per), ..Cell::default() }).collect();
    let idx = |va: u64| (((va - v.start) / page_size) / per) as usize;
    for r in &v.ptes {
        for i in 0..r.n {
            if let Some(c) = out.get_mut(idx(r.va + i * page_size)) {
                match c.present.iter_mut().find(|(z, _)| *z == r.zone) {
                    Some((_, k)) => *k += 1,
                    None => c.present.push((r.zone.clone(), 1)),
                }
            }
        }
    }
    for &(va, n) in &v.swapped {
        for i in 0..n {
            if let Some(c) = out.get_mut(idx(va + i * page_size)) {
                c.swapped += 1;
            }
        }
    }
    (per, out)
}

pub fn page(p: &ProcessDump, k: Option<&KernelDump>) -> String {
    let title = format!("Process {} ({})", p.pid, p.comm);
    let intro = "Each row is one VMA of the process, in address order (its /proc/PID/maps line). The strip shows its pages: \
coloured by the zone of the frame when present (from the process's page tables), orange when swapped out, empty when never touched. \
Right: physical memory to scale, with a line from each VMA to the frames its pages live in.";
    svg::page(&title, intro, &[draw(p, k)])
}

pub fn draw(p: &ProcessDump, k: Option<&KernelDump>) -> String {
    let rows = p.vmas.len().max(1) as f64;
    let height = TOP + rows * ROW_H + 80.0;
    let mut s = Svg::new("process", 1180.0, height.max(360.0));
    s.text(
        20.0,
        28.0,
        15.0,
        "start",
        "label",
        &format!("pid {} ({}): {} VMAs", p.pid, p.comm, p.vmas.len()),
    );
    s.text(
        STRIP_X,
        TOP - 8.0,
        11.0,
        "start",
        "small",
        "pages (present by zone, swapped, not present)",
    );
    // Physical bar: the RAM the kernel dump reports, else up to the highest frame seen.
    let ram_top = k.and_then(|k| k.ram.iter().map(|r| r.1).max()).unwrap_or_else(|| {
        p.vmas
            .iter()
            .flat_map(|v| v.ptes.iter())
            .map(|r| (r.pfn + r.n) * p.page_size)
            .max()
            .unwrap_or(p.page_size)
    });
    let bar_h = (rows * ROW_H).max(240.0);
    let py = |pa: u64| TOP + (ram_top.saturating_sub(pa)) as f64 / ram_top as f64 * bar_h;
    s.group(&[("data-layer", "physical")]);
    s.rect(PA_X, TOP, PA_W, bar_h, "#eeeeee", "#888", "physical memory", "");
    if let Some(k) = k {
        for z in &k.zones {
            let (a, b) = (z.start_pfn * k.page_size, z.end_pfn * k.page_size);
            s.group(&[("data-zone", &z.name)]);
            s.rect(
                PA_X,
                py(b),
                PA_W,
                py(a) - py(b),
                zone_colour(&z.name),
                "#333",
                &format!("{} {a:#010x}-{b:#010x}", z.name),
                r#" fill-opacity="0.35""#,
            );
            s.text(PA_X + PA_W + 6.0, (py(a) + py(b)) / 2.0, 12.0, "start", "label", &z.name);
            s.end_group();
        }
    }
    s.text(
        PA_X + PA_W / 2.0,
        TOP - 8.0,
        11.0,
        "middle",
        "small",
        &format!("physical ({})", size(ram_top)),
    );
    s.text(PA_X - 4.0, TOP + 8.0, 9.0, "end", "small", &format!("{ram_top:#010x}"));
    s.text(PA_X - 4.0, TOP + bar_h, 9.0, "end", "small", "0x00000000");
    s.end_group();
    for (i, v) in p.vmas.iter().enumerate() {
        let y = TOP + i as f64 * ROW_H;
        let present: u64 = v.ptes.iter().map(|r| r.n).sum();
        let swapped: u64 = v.swapped.iter().map(|r| r.1).sum();
        let pages = (v.end - v.start) / p.page_size;
        s.group(&[("data-vma", &v.name), ("data-start", &format!("{:#010x}", v.start))]);
        s.text(
            20.0,
            y + 15.0,
            11.0,
            "start",
            "small",
            &format!("{:08x}-{:08x} {}", v.start, v.end, v.perms),
        );
        s.text(
            200.0,
            y + 15.0,
            12.0,
            "start",
            "label",
            if v.name == "-" { "[anon]" } else { &v.name },
        );
        s.text(
            STRIP_X - 8.0,
            y + 15.0,
            10.0,
            "end",
            "small",
            &format!(
                "{present}/{pages}{}",
                if swapped > 0 { format!(" +{swapped} swp") } else { String::new() }
            ),
        );
        let (per, cs) = cells(v, p.page_size);
        let cw = STRIP_W / cs.len().max(1) as f64;
        s.rect(
            STRIP_X,
            y + 3.0,
            cw * cs.len() as f64,
            ROW_H - 6.0,
            "#ffffff",
            "#999",
            &format!("{} pages, {per} per cell", pages),
            "",
        );
        for (j, c) in cs.iter().enumerate() {
            let inside: u64 = c.present.iter().map(|(_, n)| n).sum();
            let x = STRIP_X + j as f64 * cw;
            if inside > 0 {
                let zone = c.present.iter().max_by_key(|(_, n)| *n).map_or("", |(z, _)| z.as_str());
                let op = (inside as f64 / c.pages as f64).max(0.25);
                s.rect(
                    x,
                    y + 3.0,
                    cw,
                    ROW_H - 6.0,
                    zone_colour(zone),
                    "none",
                    "",
                    &format!(r#" fill-opacity="{op:.2}""#),
                );
            }
            if c.swapped > 0 {
                s.rect(x, y + ROW_H / 2.0, cw, ROW_H / 2.0 - 3.0, SWAPPED, "none", "", "");
            }
        }
        // Lines to the frames: one per run (the first 24), ticks on the bar for all.
        let sx = STRIP_X + STRIP_W + 8.0;
        for r in v.ptes.iter().take(24) {
            s.line(
                sx,
                y + ROW_H / 2.0,
                PA_X,
                py(r.pfn * p.page_size),
                zone_colour(&r.zone),
                0.6,
                r#" stroke-opacity="0.6""#,
            );
        }
        for r in &v.ptes {
            let (a, b) = (py((r.pfn + r.n) * p.page_size), py(r.pfn * p.page_size));
            s.rect(
                PA_X,
                a,
                PA_W,
                (b - a).max(1.0),
                zone_colour(&r.zone),
                "none",
                &format!("{:#010x}: {} pages at pfn {:#x} ({})", r.va, r.n, r.pfn, r.zone),
                "",
            );
        }
        s.end_group();
    }
    let ly = TOP + bar_h.max(rows * ROW_H) + 24.0;
    let mut x = 20.0;
    let zones: Vec<String> = {
        let mut z: Vec<String> = Vec::new();
        for r in p.vmas.iter().flat_map(|v| v.ptes.iter()) {
            if !z.contains(&r.zone) {
                z.push(r.zone.clone());
            }
        }
        z
    };
    for z in &zones {
        s.rect(x, ly, 12.0, 12.0, zone_colour(z), "none", "", "");
        s.text(x + 16.0, ly + 10.0, 11.0, "start", "small", &format!("present in {z}"));
        x += 140.0;
    }
    s.rect(x, ly, 12.0, 12.0, SWAPPED, "none", "", "");
    s.text(x + 16.0, ly + 10.0, 11.0, "start", "small", "swapped out");
    s.finish()
}
