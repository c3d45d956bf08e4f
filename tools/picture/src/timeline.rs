//! Picture (d): the scenario's timeline from its `vmfrag-step` lines, one column per layout
//! (the transcripts given, on the same seed), side by side with shared scales: free memory per
//! zone, the largest free order per zone, the vmalloc range's free space and largest gap, and
//! the graphics request's outcome at each step, with the first double failure marked; and
//! below it the time to failure over many seeds (`seeds=N`), per layout: the fraction of
//! seeds that failed within the budget and the failing steps with their median and quartiles.
use crate::dump::{Distribution, Step};
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

/// The scenario's page: the timeline of the traced runs (if any), then the distributions.
pub fn page(series: &[(String, &[Step])], dists: &[&Distribution]) -> String {
    let intro = "The timeline is drawn from the vmfrag-step lines the scenario prints (trace=N: every N-th step, the first and last, \
and every step at which the graphics module asked): per layout (columns, same seed, same scales), \
free memory in each zone, the largest order with a free block (-1: none), the vmalloc range's free space and largest free gap, \
and the outcome of the graphics module's 0x1a0000-byte request (green: __get_free_pages succeeded, yellow: only the vmalloc fallback, \
red: both failed, grey: no request). The red line marks the first double failure (the time to failure). \
The time to failure below it is drawn from the scenario-summary and scenario-distribution lines of scenario vmalloc-frag seeds=N \
(as make scenario prints them): per layout, the fraction of seeds whose request failed both ways within the step budget, \
each failing seed's step as a dot, the box from the first to the third quartile with the median, the whiskers from the earliest \
to the latest failure (the kernel's figures), and the seeds that never failed at the right.";
    let mut svgs = Vec::new();
    if !series.is_empty() {
        svgs.push(draw(series));
    }
    if !dists.is_empty() {
        svgs.push(draw_distributions(dists));
    }
    svg::page("The scenario's timeline and time to failure", intro, &svgs)
}

const DIST_LEFT: f64 = 20.0;
/// The fraction bar's width.
const FRACTION_W: f64 = 180.0;
/// Where the step axis starts and how wide it is.
const AXIS_X: f64 = 250.0;
const AXIS_W: f64 = 640.0;
const DIST_ROW_H: f64 = 140.0;
const FAILED: &str = "#e15759";
const SURVIVED: &str = "#bab0ac";

/// `failed` of `runs` as the kernel prints it: per mille, truncated, one decimal.
pub fn percent(failed: u64, runs: u64) -> String {
    let pm = (failed * 1000).checked_div(runs).unwrap_or(0);
    format!("{}.{}%", pm / 10, pm % 10)
}

/// The time to failure of each `seeds=N` sequence, one row per layout on one step axis.
pub fn draw_distributions(dists: &[&Distribution]) -> String {
    let max_step = dists.iter().map(|d| d.budget).max().unwrap_or(1).max(1) as f64;
    let width = AXIS_X + AXIS_W + 190.0;
    let height = 50.0 + DIST_ROW_H * dists.len() as f64 + 40.0;
    let mut s = Svg::new("distribution", width, height);
    s.text(DIST_LEFT, 24.0, 15.0, "start", "label", "Time to failure over many seeds");
    let xs = |step: u64| AXIS_X + step as f64 / max_step * AXIS_W;
    for (r, d) in dists.iter().enumerate() {
        let top = 50.0 + r as f64 * DIST_ROW_H;
        let last_seed = d.first_seed + d.runs.max(1) - 1;
        s.group(&[("data-distribution", &d.profile)]);
        s.text(
            DIST_LEFT,
            top + 12.0,
            13.0,
            "start",
            "label",
            &format!(
                "{}: {} of {} seeds ({}-{}) failed both ways within {} steps ({})",
                d.profile,
                d.failed,
                d.runs,
                d.first_seed,
                last_seed,
                d.budget,
                percent(d.failed, d.runs)
            ),
        );
        // The fraction that failed within the budget.
        let by = top + 44.0;
        let fw = if d.runs == 0 { 0.0 } else { FRACTION_W * d.failed as f64 / d.runs as f64 };
        s.rect(DIST_LEFT, by, FRACTION_W, 22.0, SURVIVED, "#888", "", "");
        s.rect(
            DIST_LEFT,
            by,
            fw,
            22.0,
            FAILED,
            "none",
            &format!("{} of {} seeds failed", d.failed, d.runs),
            r#" data-part="failed""#,
        );
        s.text(
            DIST_LEFT,
            by + 36.0,
            11.0,
            "start",
            "small",
            &format!("failed {}/{}, survived {}/{}", d.failed, d.runs, d.runs - d.failed, d.runs),
        );
        // The axis.
        let ay = top + 112.0;
        s.line(AXIS_X, ay, AXIS_X + AXIS_W, ay, "#888", 1.0, "");
        for k in 0..=4u64 {
            let v = (max_step as u64) * k / 4;
            s.line(xs(v), ay, xs(v), ay + 4.0, "#888", 1.0, "");
            s.text(xs(v), ay + 15.0, 10.0, "middle", "small", &v.to_string());
        }
        // Each failing seed a dot, spread over eight lanes by its place in the sequence.
        let lane = |i: usize| top + 44.0 + (i % 8) as f64 * 5.0;
        for (i, run) in d.seeds.iter().enumerate() {
            match run.failed_step {
                Some(f) => s.circle(
                    xs(f),
                    lane(i),
                    2.5,
                    FAILED,
                    &format!("seed {}: failed at step {f}", run.seed),
                ),
                None => s.circle(
                    AXIS_X + AXIS_W + 24.0 + (i / 8) as f64 * 6.0,
                    lane(i),
                    2.5,
                    SURVIVED,
                    &format!("seed {}: no failure within {} steps", run.seed, run.budget),
                ),
            }
        }
        let survived = d.runs - d.failed;
        if survived > 0 {
            s.text(
                AXIS_X + AXIS_W + 20.0,
                top + 96.0,
                10.0,
                "start",
                "small",
                &format!("{survived} never failed"),
            );
        }
        // The box: quartiles and median; whiskers: earliest to latest.
        let (bt, bh) = (top + 86.0, 18.0);
        match (d.quartiles, d.range) {
            (Some([q1, q2, q3]), Some((lo, hi))) => {
                s.group(&[("data-quartiles", &format!("{q1} {q2} {q3}"))]);
                s.line(xs(lo), bt + bh / 2.0, xs(hi), bt + bh / 2.0, "#333", 1.0, "");
                for w in [lo, hi] {
                    s.line(xs(w), bt + 3.0, xs(w), bt + bh - 3.0, "#333", 1.0, "");
                }
                s.rect(
                    xs(q1),
                    bt,
                    (xs(q3) - xs(q1)).max(1.0),
                    bh,
                    "#f4b6b7",
                    "#333",
                    &format!("quartiles {q1}-{q3}"),
                    "",
                );
                s.line(xs(q2), bt - 2.0, xs(q2), bt + bh + 2.0, "#000", 2.5, "");
                s.text(
                    DIST_LEFT,
                    top + 30.0,
                    11.0,
                    "start",
                    "small",
                    &format!(
                        "failing step: median {q2}, quartiles {q1}-{q3}, earliest {lo}, latest {hi}"
                    ),
                );
                s.end_group();
            }
            _ => s.text(
                DIST_LEFT,
                top + 30.0,
                11.0,
                "start",
                "small",
                &format!("no seed failed within {} steps", d.budget),
            ),
        }
        s.end_group();
    }
    s.text(
        AXIS_X + AXIS_W / 2.0,
        height - 12.0,
        11.0,
        "middle",
        "small",
        "step of the first double failure (the time to failure)",
    );
    s.finish()
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
