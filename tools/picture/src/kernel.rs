//! Picture (a): the kernel's virtual address space beside physical memory, with the linear
//! map, the image's sections, the pages of the run-time mapped regions (vectors, fixmap,
//! pkmap, modules) and the vmalloc areas' pages drawn as arrows to the physical ranges and
//! zones they map. Virtual regions are to scale except where a region is too small to see
//! (drawn at a minimum height, marked "enlarged") or the user half is too large to fit
//! (drawn cut, with a break); physical memory is always to scale. The 64-bit kernel's dump
//! (arm64, `split=va48`/`va39`) is drawn the same way over 2^64 addresses: its user half and
//! the non-canonical addresses between the halves are cut, its kernel half to scale.
use crate::dump::KernelDump;
use crate::svg::{self, kind_colour, size, zone_colour, Svg};

/// The top of the 32-bit address space (exclusive).
pub const VA_TOP: u64 = 1 << 32;

/// The (exclusive) top of the dump's address space: [`VA_TOP`], or 2^64 - 1 on the 64-bit
/// kernel (one byte short of 2^64, which u64 cannot hold).
pub fn va_end(k: &KernelDump) -> u64 {
    k.va_last().saturating_add(1)
}

/// The address space's name in titles: `2G split`, or `arm64 VA_BITS=48`.
pub fn layout_name(k: &KernelDump) -> String {
    match k.split.strip_prefix("va") {
        Some(bits) if k.is_64bit() => format!("arm64 VA_BITS={bits}"),
        _ => format!("{} split", k.split),
    }
}
/// Pixels the kernel's part of the address space gets when drawn to scale.
const KERNEL_PX: f64 = 620.0;
/// The smallest height a region is drawn with.
const MIN_H: f64 = 16.0;
/// The user half is cut to this height when to scale it would be taller.
const USER_MAX_H: f64 = 110.0;
/// The smallest height of an unused gap between regions.
const GAP_MIN_H: f64 = 3.0;
const TOP: f64 = 70.0;
const VA_X: f64 = 250.0;
const VA_W: f64 = 190.0;
const PA_X: f64 = 800.0;
const PA_W: f64 = 150.0;
/// Most map runs drawn per region (the rest are counted in a note).
const MAX_ARROWS: usize = 6;

/// One stretch of the virtual address space as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: String,
    pub kind: String,
    pub start: u64,
    pub end: u64,
    pub y: f64,
    pub h: f64,
    /// Drawn taller than its size (too small to see to scale).
    pub enlarged: bool,
    /// Drawn shorter than its size, with a break.
    pub cut: bool,
}

/// The regions (the image's sections excepted: they are inside lowmem) and the gaps between
/// them, from the top of the address space down, with their heights.
pub fn segments(k: &KernelDump) -> Vec<Segment> {
    let mut regs: Vec<_> =
        k.regions.iter().filter(|r| r.kind != "section" && r.end > r.start).collect();
    regs.sort_by_key(|r| r.start);
    let top = va_end(k);
    let kernel_start = regs.iter().filter(|r| r.kind != "user").map(|r| r.start).min().unwrap_or(0);
    let scale = KERNEL_PX / (top - kernel_start).max(1) as f64;
    let mut list: Vec<(String, String, u64, u64)> = Vec::new();
    let mut at = 0;
    for r in regs {
        let start = r.start.max(at);
        if start >= r.end {
            continue;
        }
        if start > at {
            // On arm64, between the halves: addresses whose bits above VA_BITS are neither all
            // 0 (TTBR0) nor all 1 (TTBR1) translate nowhere.
            let name =
                if k.is_64bit() && start == kernel_start { "non-canonical" } else { "unused" };
            list.push((name.into(), "gap".into(), at, start));
        }
        list.push((r.name.clone(), r.kind.clone(), start, r.end));
        at = r.end;
    }
    if at < top {
        list.push(("unused".into(), "gap".into(), at, top));
    }
    let mut y = TOP;
    let mut out = Vec::new();
    for (name, kind, start, end) in list.into_iter().rev() {
        let natural = (end - start) as f64 * scale;
        // Below the kernel's regions (the user half; on arm64 the non-canonical addresses
        // too) a stretch too tall to draw to scale is cut.
        let (h, enlarged, cut) = if end <= kernel_start && natural > USER_MAX_H {
            (USER_MAX_H, false, true)
        } else if kind == "gap" {
            (natural.max(GAP_MIN_H), natural < GAP_MIN_H, false)
        } else if natural < MIN_H {
            (MIN_H, true, false)
        } else {
            (natural, false, false)
        };
        out.push(Segment { name, kind, start, end, y, h, enlarged, cut });
        y += h;
    }
    out
}

/// The y of virtual address `va` inside its segment (linear within the segment).
fn va_y(segs: &[Segment], va: u64) -> f64 {
    for s in segs {
        if (s.start..s.end).contains(&va) || (va == s.end && s.end == segs[0].end) {
            let f = (va - s.start) as f64 / (s.end - s.start) as f64;
            return s.y + s.h * (1.0 - f);
        }
    }
    TOP
}

/// The physical bar's scale: `(top address, pixels per byte, height)`.
fn phys_scale(k: &KernelDump, segs: &[Segment]) -> (u64, f64, f64) {
    let top = k.ram.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let height = segs.last().map_or(600.0, |s| s.y + s.h - TOP).min(760.0);
    (top, height / top as f64, height)
}

/// The page: the drawing and what it shows.
pub fn page(k: &KernelDump, when: &str) -> String {
    let title = format!("Kernel address space: {}, profile {}{when}", layout_name(k), k.profile);
    let space = if k.is_64bit() {
        "the 64-bit virtual address space (0xffffffffffffffff at the top: arm64's kernel half, the non-canonical \
addresses between the halves and the user half, both cut) as the kernel's memdump reports it; there is no highmem, the linear map \
covers all of RAM, and the kernel image lies inside the vmalloc range. Regions are to scale except those marked 'enlarged' \
(too small to see) and the cut ones (zigzag break)."
    } else {
        "the 32-bit virtual address space (0xffffffff at the top) as the kernel's memdump reports it. \
Regions are to scale except those marked 'enlarged' (too small to see) and the user half when it is cut (zigzag break)."
    };
    let intro = format!(
        "Left: {space} Right: physical memory to scale, coloured by zone, with the profile's carve-outs. Bands and arrows \
show what each region maps: the linear map of lowmem, the kernel image's sections, each mapped page of the vectors, fixmap, pkmap \
and modules, and how many pages of the vmalloc areas live in each zone."
    );
    svg::page(&title, &intro, &[draw(k)])
}

/// The drawing.
pub fn draw(k: &KernelDump) -> String {
    let segs = segments(k);
    let bottom = segs.last().map_or(TOP, |s| s.y + s.h);
    let (ptop, pscale, pheight) = phys_scale(k, &segs);
    let py = |pa: u64| TOP + (ptop.saturating_sub(pa)) as f64 * pscale;
    let mut s = Svg::new("kernel", 1180.0, bottom.max(TOP + pheight) + 90.0);
    s.text(
        VA_X + VA_W / 2.0,
        30.0,
        15.0,
        "middle",
        "label",
        &format!("virtual ({}, PAGE_OFFSET {:#010x})", layout_name(k), k.page_offset),
    );
    s.text(
        PA_X + PA_W / 2.0,
        30.0,
        15.0,
        "middle",
        "label",
        &format!("physical ({} of RAM)", size(k.ram.iter().map(|r| r.1 - r.0).sum())),
    );
    s.text(VA_X + VA_W / 2.0, 50.0, 12.0, "middle", "small", &format!("profile {}", k.profile));

    // The physical bar: zones, then RAM outside any zone, carve-outs on top.
    s.group(&[("data-layer", "physical")]);
    s.rect(PA_X, TOP, PA_W, pheight, "#eeeeee", "#888", "no RAM", "");
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
            &format!(
                "ZONE {} {:#010x}-{:#010x} ({}), {} pages free",
                z.name,
                a,
                b,
                size(b - a),
                z.free
            ),
            "",
        );
        s.text(
            PA_X + PA_W + 8.0,
            (py(a) + py(b)) / 2.0,
            13.0,
            "start",
            "label",
            &format!("{} ({})", z.name, size(b - a)),
        );
        s.text(
            PA_X + PA_W + 8.0,
            (py(a) + py(b)) / 2.0 + 15.0,
            10.0,
            "start",
            "small",
            &format!("{a:#010x}-{b:#010x}"),
        );
        s.end_group();
    }
    for c in &k.carveouts {
        s.group(&[("data-carveout", &c.name)]);
        s.rect(
            PA_X + 10.0,
            py(c.phys_end),
            PA_W - 20.0,
            (py(c.phys) - py(c.phys_end)).max(3.0),
            "#ffffff",
            "#b00",
            &format!("carve-out {} {:#010x}-{:#010x}", c.name, c.phys, c.phys_end),
            r#" stroke-dasharray="4 2" fill-opacity="0.7""#,
        );
        s.text(
            PA_X + PA_W / 2.0,
            (py(c.phys) + py(c.phys_end)) / 2.0 + 4.0,
            11.0,
            "middle",
            "label",
            &format!("carve-out {} ({})", c.name, size(c.phys_end - c.phys)),
        );
        s.end_group();
    }
    for (a, b) in &k.ram {
        s.text(PA_X - 6.0, py(*b) + 10.0, 10.0, "end", "small", &format!("{b:#010x}"));
        s.text(PA_X - 6.0, py(*a), 10.0, "end", "small", &format!("{a:#010x}"));
    }
    s.end_group();

    // The virtual bar.
    for g in &segs {
        let fill = if g.kind == "gap" { "#ffffff" } else { kind_colour(&g.kind) };
        s.group(&[("data-region", &g.name), ("data-kind", &g.kind)]);
        let title =
            format!("{} {:#010x}-{:#010x} ({})", g.name, g.start, g.end, size(g.end - g.start));
        let dash = if g.kind == "gap" { r#" stroke-dasharray="2 3""# } else { "" };
        s.rect(VA_X, g.y, VA_W, g.h, fill, "#555", &title, dash);
        if g.cut {
            // A zigzag across the middle: the user half is not to scale.
            let m = g.y + g.h / 2.0;
            let pts: Vec<(f64, f64)> = (0..=10)
                .map(|i| {
                    (
                        VA_X - 6.0 + (VA_W + 12.0) * i as f64 / 10.0,
                        m + if i % 2 == 0 { -5.0 } else { 5.0 },
                    )
                })
                .collect();
            s.polyline(&pts, "#ffffff", 6.0, "");
            s.polyline(&pts, "#555", 1.0, "");
        }
        if g.kind != "gap" || g.h >= 12.0 {
            let mut label = format!("{} ({}", g.name, size(g.end - g.start));
            if g.enlarged {
                label.push_str(", enlarged");
            }
            if g.cut {
                label.push_str(", not to scale");
            }
            label.push(')');
            let cls = if g.kind == "gap" { "note" } else { "label" };
            s.text(VA_X - 10.0, g.y + g.h / 2.0 + 4.0, 12.0, "end", cls, &label);
        }
        if g.h >= 14.0 {
            s.text(
                VA_X + 4.0,
                g.y + g.h - 3.0,
                9.0,
                "start",
                "small",
                &format!("{:#010x}", g.start),
            );
        }
        s.end_group();
    }
    s.text(VA_X - 10.0, TOP + 2.0, 9.0, "end", "small", &format!("{:#x}", k.va_last()));

    // The vmalloc areas as ticks inside the range, coloured by kind.
    if let Some(v) = segs.iter().find(|g| g.kind == "vmalloc") {
        s.group(&[("data-layer", "vareas")]);
        for a in &k.vareas {
            let (y0, y1) = (va_y(&segs, a.end.min(v.end)), va_y(&segs, a.start.max(v.start)));
            let fill = match a.kind.as_str() {
                "ioremap" => "#7f7f7f",
                "unpurged" => "#ffffff",
                _ => "#c85200",
            };
            let pages: Vec<String> = a.pages.iter().map(|(z, n)| format!("{z}:{n}")).collect();
            s.rect(
                VA_X + VA_W * 0.55,
                y0,
                VA_W * 0.4,
                (y1 - y0).max(1.0),
                fill,
                "none",
                &format!(
                    "{} {:#010x}-{:#010x} {} pages {} {}",
                    a.kind,
                    a.start,
                    a.end,
                    size(a.end - a.start),
                    pages.join(","),
                    a.caller
                ),
                "",
            );
        }
        if let Some(t) = &k.vmalloc {
            s.text(
                VA_X + 4.0,
                v.y + 14.0,
                10.0,
                "start",
                "small",
                &format!(
                    "{} areas, {} free, largest gap {}",
                    t.areas,
                    size(t.free_kb << 10),
                    size(t.largest_gap_kb << 10)
                ),
            );
        }
        s.end_group();
    }

    // The linear map: a band from lowmem to its physical range, and the image's sections.
    s.group(&[("data-layer", "arrows")]);
    for r in k.regions.iter().filter(|r| r.kind == "lowmem") {
        if let Some((pa, pend)) = r.phys {
            let (vy0, vy1) = (va_y(&segs, r.end - 1), va_y(&segs, r.start));
            s.polygon(
                &[(VA_X + VA_W, vy0), (PA_X, py(pend)), (PA_X, py(pa)), (VA_X + VA_W, vy1)],
                "#4e79a7",
                "none",
                r#" fill-opacity="0.18""#,
                &format!(
                    "linear map: {:#010x}-{:#010x} -> {:#010x}-{:#010x}",
                    r.start, r.end, pa, pend
                ),
            );
            s.text(
                (VA_X + VA_W + PA_X) / 2.0,
                (vy0 + vy1 + py(pend) + py(pa)) / 4.0,
                12.0,
                "middle",
                "label",
                &format!(
                    "linear map: {} of {}",
                    size(pend - pa),
                    if k.is_64bit() { "RAM" } else { "lowmem" }
                ),
            );
        }
    }
    let mut note_y = bottom + 20.0;
    let sections: Vec<_> =
        k.regions.iter().filter(|r| r.kind == "section" && r.end > r.start).collect();
    for (i, r) in sections.iter().enumerate() {
        if let Some((pa, _)) = r.phys {
            let vy = va_y(&segs, r.start);
            let x = VA_X + VA_W;
            let ly = vy - 6.0 - 12.0 * (sections.len() - 1 - i) as f64;
            s.line(x, vy, PA_X, py(pa), "#2f5d8a", 1.0, r#" marker-end="url(#arrow)""#);
            s.text(
                x + 4.0,
                ly,
                10.0,
                "start",
                "small",
                &format!("{} {} -> {pa:#010x}", r.name, size(r.end - r.start)),
            );
        }
    }
    // Page-by-page regions: an arrow per physically contiguous run.
    for g in
        segs.iter().filter(|g| ["vectors", "fixmap", "pkmap", "modules"].contains(&g.kind.as_str()))
    {
        let runs: Vec<_> = k.maps.iter().filter(|m| m.region == g.name).collect();
        for (i, m) in runs.iter().take(MAX_ARROWS).enumerate() {
            let vy = va_y(&segs, m.va).min(g.y + g.h - 1.0).max(g.y + 1.0);
            s.line(
                VA_X + VA_W,
                vy,
                PA_X,
                py(m.phys),
                "#c44e52",
                1.0,
                r#" marker-end="url(#arrow)""#,
            );
            if i == 0 {
                s.text(
                    VA_X + VA_W + 6.0,
                    vy + 12.0,
                    10.0,
                    "start",
                    "small",
                    &format!(
                        "{}: {} mapped page{} now",
                        g.name,
                        runs.iter().map(|m| m.pages).sum::<u64>(),
                        if runs.iter().map(|m| m.pages).sum::<u64>() == 1 { "" } else { "s" }
                    ),
                );
            }
        }
        if runs.len() > MAX_ARROWS {
            s.text(
                VA_X + VA_W + 6.0,
                g.y + g.h / 2.0 + 24.0,
                10.0,
                "start",
                "note",
                &format!("+{} more runs", runs.len() - MAX_ARROWS),
            );
        }
    }
    // Where the vmalloc areas' pages live: one arrow per zone with its page count.
    if let Some(v) = segs.iter().find(|g| g.kind == "vmalloc") {
        let mut per_zone: Vec<(String, u64)> = Vec::new();
        for (z, n) in k.vareas.iter().flat_map(|a| a.pages.iter()) {
            match per_zone.iter_mut().find(|(pz, _)| pz == z) {
                Some((_, c)) => *c += n,
                None => per_zone.push((z.clone(), *n)),
            }
        }
        for (i, (z, n)) in per_zone.iter().enumerate() {
            let target =
                k.zones.iter().find(|zz| &zz.name == z).map(|zz| {
                    (py(zz.end_pfn * k.page_size) + py(zz.start_pfn * k.page_size)) / 2.0
                });
            let vy = v.y + v.h * (0.3 + 0.2 * i as f64);
            match target {
                Some(ty) => {
                    s.line(
                        VA_X + VA_W,
                        vy,
                        PA_X,
                        ty + 10.0 * i as f64,
                        zone_colour(z),
                        2.0,
                        r#" marker-end="url(#arrow)" stroke-dasharray="6 3""#,
                    );
                    s.text(
                        VA_X + VA_W + 6.0,
                        vy - 4.0,
                        11.0,
                        "start",
                        "label",
                        &format!("vmalloc: {n} pages in {z}"),
                    );
                }
                None => {
                    s.text(
                        VA_X + VA_W + 6.0,
                        vy - 4.0,
                        11.0,
                        "start",
                        "label",
                        &format!("vmalloc: {n} pages of device memory (ioremap)"),
                    );
                }
            }
        }
    }
    s.end_group();

    // Legend.
    let mut x = 20.0;
    note_y = note_y.max(TOP + pheight + 20.0);
    for kind in [
        "user", "modules", "pkmap", "lowmem", "vmalloc", "hole", "fixmap", "vectors", "pci_io",
        "vmemmap",
    ] {
        if segs.iter().any(|g| g.kind == kind) {
            s.rect(x, note_y, 12.0, 12.0, kind_colour(kind), "#555", "", "");
            s.text(x + 16.0, note_y + 10.0, 11.0, "start", "small", kind);
            x += 90.0;
        }
    }
    s.text(20.0, note_y + 34.0, 11.0, "start", "note",
        "Heights: to scale except regions marked enlarged (shown at a minimum height) and a cut user half; physical memory is to scale.");
    s.finish()
}

#[cfg(test)]
mod tests;
