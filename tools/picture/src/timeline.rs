//! Picture (d): the scenario's timeline from its `vmfrag-step` lines, one column per layout
//! (the transcripts given, on the same seed), side by side with shared scales: free memory per
//! zone, the largest free order per zone, the vmalloc range's free space and largest gap, and
//! the graphics request's outcome at each step, with the first double failure marked.
use crate::dump::Step;
use crate::svg::{self, Svg};

const COL_W: f64 = 540.0;
const PLOT_W: f64 = 440.0;
const ROW_H: f64 = 150.0;
const PLOT_H: f64 = 110.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 60.0;
const OUTCOME_H: f64 = 40.0;

/// One line of a chart: its name, colour and value at a step.
type Series = (&'static str, &'static str, fn(&Step) -> f64);

/// One chart row: its title, unit and the lines drawn.
struct Metric {
    title: &'static str,
    unit: &'static str,
    lines: &'static [Series],
}

const METRICS: [Metric; 3] = [
    Metric {
        title: "free memory per zone",
        unit: "MB",
        lines: &[
            ("Normal", "#4e79a7", |s| s.normal_free_kb as f64 / 1024.0),
            ("HighMem", "#59a14f", |s| s.highmem_free_kb as f64 / 1024.0),
        ],
    },
    Metric {
        title: "largest free order",
        unit: "order",
        lines: &[
            ("Normal", "#4e79a7", |s| s.normal_max_order as f64),
            ("HighMem", "#59a14f", |s| s.highmem_max_order as f64),
        ],
    },
    Metric {
        title: "vmalloc range",
        unit: "MB",
        lines: &[
            ("free", "#f1ce63", |s| s.vmalloc_free_kb as f64 / 1024.0),
            ("largest gap", "#c85200", |s| s.vmalloc_largest_kb as f64 / 1024.0),
        ],
    },
];

/// The colour of an outcome: `none` (no request this step), `pages` (`__get_free_pages`
/// succeeded), `vmalloc` (the fallback did), `fail` (both failed).
pub fn outcome_colour(gpu: &str) -> &'static str {
    match gpu {
        "pages" => "#59a14f",
        "vmalloc" => "#f1ce63",
        "fail" => "#e15759",
        _ => "#dddddd",
    }
}

/// The step of the first double failure.
pub fn first_failure(steps: &[Step]) -> Option<u64> {
    steps.iter().find(|s| s.gpu == "fail").map(|s| s.step)
}

pub fn page(series: &[(String, &[Step])]) -> String {
    let intro = "Drawn from the vmfrag-step lines the scenario prints at each step: per layout (columns, same seed, same scales), \
free memory in each zone, the largest order with a free block (-1: none), the vmalloc range's free space and largest free gap, \
and the outcome of the graphics module's 0x1a0000-byte request (green: __get_free_pages succeeded, yellow: only the vmalloc fallback, \
red: both failed, grey: no request). The red line marks the first double failure (the time to failure).";
    svg::page("The scenario's timeline", intro, &[draw(series)])
}

pub fn draw(series: &[(String, &[Step])]) -> String {
    let max_step =
        series.iter().flat_map(|(_, s)| s.iter().map(|x| x.step)).max().unwrap_or(1).max(1) as f64;
    let width = 20.0 + COL_W * series.len().max(1) as f64;
    let height = TOP + ROW_H * METRICS.len() as f64 + OUTCOME_H + 90.0;
    let mut s = Svg::new("timeline", width, height);
    let maxes: Vec<f64> = METRICS
        .iter()
        .map(|m| {
            series
                .iter()
                .flat_map(|(_, st)| st.iter().flat_map(|x| m.lines.iter().map(move |l| (l.2)(x))))
                .fold(1.0f64, f64::max)
        })
        .collect();
    for (c, (name, steps)) in series.iter().enumerate() {
        let x0 = 20.0 + c as f64 * COL_W + LEFT;
        let xs = |step: u64| x0 + step as f64 / max_step * PLOT_W;
        s.group(&[("data-series", name)]);
        let fail = first_failure(steps);
        let head = match fail {
            Some(f) => format!("{name}: first double failure at step {f}"),
            None => {
                format!("{name}: no double failure in {} steps", steps.last().map_or(0, |s| s.step))
            }
        };
        s.text(x0, 30.0, 14.0, "start", "label", &head);
        for (r, m) in METRICS.iter().enumerate() {
            let top = TOP + r as f64 * ROW_H;
            let max = maxes[r];
            // The order chart starts at -1 (no free block at all).
            let min = if m.unit == "order" { -1.0 } else { 0.0 };
            let ys = |v: f64| top + PLOT_H - (v - min) / (max - min) * PLOT_H;
            s.group(&[("data-metric", m.title)]);
            s.rect(x0, top, PLOT_W, PLOT_H, "#fafafa", "#bbb", "", "");
            s.text(x0, top - 6.0, 12.0, "start", "label", m.title);
            s.text(x0 - 6.0, top + 8.0, 10.0, "end", "small", &format!("{max:.0} {}", m.unit));
            s.text(x0 - 6.0, top + PLOT_H, 10.0, "end", "small", &format!("{min:.0}"));
            for (li, (label, colour, f)) in m.lines.iter().enumerate() {
                let pts: Vec<(f64, f64)> =
                    steps.iter().map(|st| (xs(st.step), ys(f(st)))).collect();
                if pts.len() == 1 {
                    s.circle(pts[0].0, pts[0].1, 2.5, colour, label);
                } else {
                    s.polyline(&pts, colour, 1.6, "");
                }
                s.rect(
                    x0 + PLOT_W - 150.0 + 75.0 * li as f64,
                    top + 4.0,
                    10.0,
                    10.0,
                    colour,
                    "none",
                    "",
                    "",
                );
                s.text(
                    x0 + PLOT_W - 136.0 + 75.0 * li as f64,
                    top + 13.0,
                    10.0,
                    "start",
                    "small",
                    label,
                );
            }
            s.end_group();
        }
        // The request's outcome per step.
        let top = TOP + METRICS.len() as f64 * ROW_H;
        s.group(&[("data-metric", "outcome")]);
        s.text(x0, top - 6.0, 12.0, "start", "label", "graphics request (0x1a0000 bytes)");
        s.rect(x0, top, PLOT_W, OUTCOME_H - 14.0, "#fafafa", "#bbb", "", "");
        let w = (PLOT_W / steps.len().max(1) as f64).clamp(1.0, 8.0);
        for st in steps.iter() {
            s.rect(
                xs(st.step) - w / 2.0,
                top + 2.0,
                w,
                OUTCOME_H - 18.0,
                outcome_colour(&st.gpu),
                "none",
                &format!("step {}: {}", st.step, st.gpu),
                "",
            );
        }
        s.end_group();
        if let Some(f) = fail {
            let x = xs(f);
            s.line(
                x,
                TOP - 4.0,
                x,
                top + OUTCOME_H - 12.0,
                "#e15759",
                1.5,
                r#" stroke-dasharray="4 3""#,
            );
        }
        s.text(
            x0 + PLOT_W / 2.0,
            top + OUTCOME_H + 8.0,
            11.0,
            "middle",
            "small",
            &format!("step (0-{max_step:.0})"),
        );
        s.end_group();
    }
    let ly = height - 30.0;
    let mut x = 20.0 + LEFT;
    for (o, label) in [
        ("pages", "__get_free_pages"),
        ("vmalloc", "vmalloc fallback"),
        ("fail", "both failed"),
        ("none", "no request"),
    ] {
        s.rect(x, ly, 12.0, 12.0, outcome_colour(o), "none", "", "");
        s.text(x + 16.0, ly + 10.0, 11.0, "start", "small", label);
        x += 150.0;
    }
    s.finish()
}
