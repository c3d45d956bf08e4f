//! The text of `scenario vmalloc-frag`: the progress lines, the per-step trace (`trace`), and
//! at the first double failure the diagnosis computed from the allocators' state, next to the
//! device's figures from the case study, the one-line verdict, and the machine-readable
//! summary line that `make scenario` collects into its tables. Every cause printed is the one
//! the allocators reported, and every inequality printed holds.
use core::fmt::{self, Write};

/// The graphics driver's request in the case study.
pub const FINAL_REQUEST: u32 = 0x1a_0000;
/// `get_order(0x1a0000)`: 1.625 MiB needs an order-9 (2 MiB) block.
pub const FINAL_ORDER: u32 = 9;
/// A vmalloc area is the request plus its guard page.
pub const GUARD_PAGE: u64 = 4096;
/// Steps between two progress lines.
pub const PROGRESS_EVERY: u32 = 5000;

/// How the graphics module's request of one step ended (`none`: no request at that step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuOutcome {
    None,
    /// `__get_free_pages` gave the order-9 block.
    Pages,
    /// `__get_free_pages` failed, the `vmalloc` fallback succeeded.
    Vmalloc,
    /// Both failed: the double failure that ends the run.
    Fail,
}

impl GpuOutcome {
    /// The word of the trace line.
    pub const fn word(self) -> &'static str {
        match self {
            GpuOutcome::None => "none",
            GpuOutcome::Pages => "pages",
            GpuOutcome::Vmalloc => "vmalloc",
            GpuOutcome::Fail => "fail",
        }
    }
}

/// The state after one step, for the trace (`scenario vmalloc-frag ... trace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTrace {
    /// Steps done, the one traced included (1 is the first).
    pub step: u32,
    pub normal_free_kb: u64,
    pub highmem_free_kb: u64,
    /// Largest order with a free block (None: no free page; highmem: or no highmem).
    pub normal_max_order: Option<u32>,
    pub highmem_max_order: Option<u32>,
    /// VmallocTotal - VmallocUsed (areas with their guard pages, lazily freed ones included).
    pub vmalloc_free_kb: u64,
    /// The largest free gap of the vmalloc range (VmallocChunk).
    pub vmalloc_largest_kb: u64,
    pub gpu: GpuOutcome,
}

/// One `vmfrag-step` line: all decimal, sizes in KiB, -1 for no order (README, "Scenarios").
pub fn write_step(w: &mut impl Write, t: &StepTrace) -> fmt::Result {
    writeln!(
        w,
        "vmfrag-step step={} normal_free_kb={} highmem_free_kb={} normal_max_order={} highmem_max_order={} vmalloc_free_kb={} vmalloc_largest_kb={} gpu={}",
        t.step,
        t.normal_free_kb,
        t.highmem_free_kb,
        t.normal_max_order.map_or(-1, |o| o as i32),
        t.highmem_max_order.map_or(-1, |o| o as i32),
        t.vmalloc_free_kb,
        t.vmalloc_largest_kb,
        t.gpu.word()
    )
}

/// Whether `trace=every` prints step `step` of a run of `budget` steps: every `every`-th
/// step, the first and the last, and every step at which the graphics module made its request
/// (so a thinned trace still shows each request's outcome and the double failure).
pub const fn is_traced(step: u32, every: u32, budget: u32, gpu: GpuOutcome) -> bool {
    let every = if every == 0 { 1 } else { every };
    step == 1 || step >= budget || step.is_multiple_of(every) || !matches!(gpu, GpuOutcome::None)
}

/// Whether a progress line follows step `step` (every [`PROGRESS_EVERY`] steps, whatever the
/// operation of that step was).
pub const fn is_progress_mark(step: u32) -> bool {
    step > 0 && step.is_multiple_of(PROGRESS_EVERY)
}

/// One progress line of a run of `steps` steps, after step `step`, with `failed` allocations
/// failed so far.
pub fn write_progress(
    w: &mut impl Write,
    step: u32,
    steps: u32,
    s: &Summary,
    failed: u32,
) -> fmt::Result {
    writeln!(
        w,
        "scenario: step {:>6}/{}: MemFree {:>7} kB, largest free order {}, VmallocUsed {:>7} kB, VmallocChunk {:>7} kB, failed allocs {}",
        step,
        steps,
        s.mem_free_kb,
        s.largest_free_order.map_or(-1, |o| o as i32),
        s.vmalloc_used_kb,
        s.vmalloc_chunk_kb,
        failed
    )
}

/// Why the fallback `vmalloc` of the final request failed, as the vmalloc layer reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmallocFailure {
    /// No free range held the request and its guard page.
    NoSpace,
    /// The range was found, but pages ran out after `obtained` bytes.
    NoPages { obtained: u64 },
    /// A page table for the range could not be allocated.
    NoPageTable,
}

impl VmallocFailure {
    /// The word the summary line uses.
    pub const fn word(self) -> &'static str {
        match self {
            VmallocFailure::NoSpace => "no-space",
            VmallocFailure::NoPages { .. } => "no-pages",
            VmallocFailure::NoPageTable => "no-page-table",
        }
    }
}

/// The device's figures (the case study), for the side-by-side view.
pub mod device {
    /// MemFree at the failure.
    pub const MEM_FREE_MB: u64 = 156;
    /// VmallocTotal - VmallocUsed.
    pub const VMALLOC_FREE_MB: u64 = 22;
    /// Largest free buddy block: order 7 (512 KiB).
    pub const LARGEST_FREE_ORDER: u32 = 7;
    /// The gap left at the top of the vmalloc range (0xefeff000..0xf0000000).
    pub const TOP_GAP: u64 = 0x10_1000;
}

/// How a request of the graphics module's buffer ended, or the run (`Survived`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still running (progress lines).
    Pending,
    ViaGetFreePages,
    ViaVmalloc,
    /// Both ways failed.
    Failed,
    /// The budget ran out without a double failure.
    Survived,
}

impl Outcome {
    /// The word the summary line and the table use.
    pub const fn word(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::ViaGetFreePages => "ok-gfp",
            Outcome::ViaVmalloc => "ok-vmalloc",
            Outcome::Failed => "failed",
            Outcome::Survived => "survived",
        }
    }
}

/// The state at the end of a run, as the analysis and the table need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub profile: &'static str,
    pub seed: u64,
    pub outcome: Outcome,
    pub mem_free_kb: u64,
    pub low_free_kb: u64,
    /// ZONE_NORMAL's min watermark: a GFP_KERNEL request may not take the zone below it.
    pub low_min_kb: u64,
    /// Largest order with a free block in ZONE_NORMAL (None: no free page at all).
    pub largest_free_order: Option<u32>,
    /// The same for ZONE_HIGHMEM (None: no free page there, or no highmem).
    pub largest_free_order_high: Option<u32>,
    pub vmalloc_total_kb: u64,
    pub vmalloc_used_kb: u64,
    /// Largest free gap in the vmalloc range (VmallocChunk).
    pub vmalloc_chunk_kb: u64,
    /// Unusable free space index of ZONE_NORMAL for order 9, in thousandths.
    pub unusable_index_9: i32,
    /// Why the failed request's vmalloc failed (None: not tried, or it succeeded).
    pub vmalloc_failure: Option<VmallocFailure>,
    /// The step budget, the steps run, and the first double failure's step (time to failure).
    pub budget: u32,
    pub steps: u32,
    pub failed_step: Option<u32>,
    /// Requests of the graphics module's buffer, and how many of them `vmalloc` served.
    pub requests: u32,
    pub requests_vmalloc: u32,
}

fn order_kb(order: u32) -> u64 {
    4u64 << order
}

impl Summary {
    /// Whether `__get_free_pages` failed although a block of the order was free: the zone
    /// was at its watermark, not (only) fragmented.
    fn refused_by_watermark(&self) -> bool {
        self.largest_free_order.is_some_and(|o| o >= FINAL_ORDER)
            && matches!(self.outcome, Outcome::ViaVmalloc | Outcome::Failed)
    }

    /// The largest vmalloc gap in bytes.
    fn chunk_bytes(&self) -> u64 {
        self.vmalloc_chunk_kb << 10
    }
}

/// The diagnosis and the verdict, for a request of `size` bytes.
pub fn write_analysis(w: &mut impl Write, s: &Summary, size: u64) -> fmt::Result {
    let needed_gap = size.div_ceil(GUARD_PAGE) * GUARD_PAGE + GUARD_PAGE;
    let largest = s.largest_free_order;
    writeln!(w, "--- diagnosis")?;
    match largest {
        Some(o) => {
            write!(
                w,
                "  buddy:   largest free block in Normal is order {} ({} kB); the request needs order {} ({} kB): ",
                o,
                order_kb(o),
                FINAL_ORDER,
                order_kb(FINAL_ORDER),
            )?;
            if s.refused_by_watermark() {
                writeln!(
                    w,
                    "free, but Normal is at its watermark ({} kB free, min {} kB)",
                    s.low_free_kb, s.low_min_kb
                )?
            } else if o >= FINAL_ORDER {
                writeln!(w, "available")?
            } else if s.low_free_kb >= s.low_min_kb + order_kb(FINAL_ORDER) {
                // Enough free pages for the block, just not together.
                writeln!(w, "fragmented")?
            } else {
                writeln!(
                    w,
                    "lowmem exhausted ({} kB free, min watermark {} kB)",
                    s.low_free_kb, s.low_min_kb
                )?
            }
        }
        None => writeln!(w, "  buddy:   no free page in Normal")?,
    }
    writeln!(
        w,
        "  vmalloc: largest gap {:#x} bytes; the request needs {:#x} with its guard page: {}",
        s.chunk_bytes(),
        needed_gap,
        if s.chunk_bytes() >= needed_gap { "fits" } else { "does not fit" }
    )?;
    match s.vmalloc_failure {
        Some(VmallocFailure::NoPages { obtained }) => writeln!(
            w,
            "  vmalloc: ran out of pages after {obtained:#x} of the {size:#x} bytes (lowmem free {} kB, min watermark {} kB)",
            s.low_free_kb, s.low_min_kb
        )?,
        Some(VmallocFailure::NoPageTable) => {
            writeln!(w, "  vmalloc: no page for the range's page table")?
        }
        Some(VmallocFailure::NoSpace) if s.chunk_bytes() >= needed_gap => writeln!(
            w,
            "  vmalloc: no free range was found for {needed_gap:#x} bytes (the gap is fragmented by alignment or lazily freed areas)"
        )?,
        Some(VmallocFailure::NoSpace) | None => {}
    }
    writeln!(
        w,
        "  free:    MemFree {} MiB (lowmem {} MiB), vmalloc free {} MiB of {} MiB, unusable index (order 9) {}.{:03}",
        s.mem_free_kb >> 10,
        s.low_free_kb >> 10,
        s.vmalloc_total_kb.saturating_sub(s.vmalloc_used_kb) >> 10,
        s.vmalloc_total_kb >> 10,
        s.unusable_index_9 / 1000,
        s.unusable_index_9 % 1000
    )?;
    writeln!(w, "--- the device (case study)")?;
    writeln!(
        w,
        "  MemFree {} MiB, VmallocTotal - VmallocUsed {} MiB, largest free order {} ({} kB), top vmalloc gap {:#x} < {:#x}",
        device::MEM_FREE_MB,
        device::VMALLOC_FREE_MB,
        device::LARGEST_FREE_ORDER,
        order_kb(device::LARGEST_FREE_ORDER),
        device::TOP_GAP,
        FINAL_REQUEST
    )?;
    write_verdict(w, s, size, needed_gap)?;
    write_time_to_failure(w, s)?;
    write_summary_line(w, s)
}

fn write_verdict(w: &mut impl Write, s: &Summary, size: u64, needed_gap: u64) -> fmt::Result {
    match s.outcome {
        Outcome::ViaGetFreePages => {
            writeln!(w, "request of {size:#x} bytes: succeeded (via __get_free_pages)")
        }
        Outcome::ViaVmalloc => writeln!(w, "request of {size:#x} bytes: succeeded (via vmalloc)"),
        Outcome::Survived => {
            writeln!(w, "request of {size:#x} bytes: never failed both ways in {} steps", s.steps)
        }
        Outcome::Failed | Outcome::Pending => {
            write!(w, "request of {size:#x} bytes: failed (__get_free_pages: ")?;
            match s.largest_free_order {
                _ if s.refused_by_watermark() => {
                    write!(w, "Normal at its watermark, {} kB free", s.low_free_kb)?
                }
                Some(o) => write!(w, "largest free order {o} < {FINAL_ORDER}")?,
                None => write!(w, "no free page in Normal")?,
            }
            match s.vmalloc_failure {
                Some(VmallocFailure::NoPages { obtained }) => {
                    write!(w, "; vmalloc: out of pages after {obtained:#x} bytes")?
                }
                Some(VmallocFailure::NoPageTable) => {
                    write!(w, "; vmalloc: no page for a page table")?
                }
                Some(VmallocFailure::NoSpace) | None if s.chunk_bytes() < needed_gap => {
                    write!(w, "; vmalloc: largest gap {:#x} < {:#x}", s.chunk_bytes(), needed_gap)?
                }
                Some(VmallocFailure::NoSpace) => {
                    write!(w, "; vmalloc: no free range of {needed_gap:#x} bytes found")?
                }
                None => write!(w, "; vmalloc: not tried")?,
            }
            writeln!(w, ")")
        }
    }
}

/// The time-to-failure line: the step of the first double failure, or none within the budget.
pub fn write_time_to_failure(w: &mut impl Write, s: &Summary) -> fmt::Result {
    match s.failed_step {
        Some(step) => write!(w, "time to failure: step {} (budget {})", step, s.budget)?,
        None => write!(w, "time to failure: none within the budget of {} steps", s.budget)?,
    }
    writeln!(
        w,
        "; the graphics module asked {} times, {} served by vmalloc",
        s.requests, s.requests_vmalloc
    )
}

/// `scenario-summary: ...`: one line with every figure, for `make scenario`.
pub fn write_summary_line(w: &mut impl Write, s: &Summary) -> fmt::Result {
    writeln!(
        w,
        "scenario-summary: profile={} seed={} outcome={} failed_step={} budget={} requests={} requests_vmalloc={} largest_order={} largest_order_high={} memfree_kb={} lowfree_kb={} lowmin_kb={} vmalloc_free_kb={} vmalloc_chunk_kb={} unusable9={} vmalloc_error={}",
        s.profile,
        s.seed,
        s.outcome.word(),
        s.failed_step.map_or(-1, i64::from),
        s.budget,
        s.requests,
        s.requests_vmalloc,
        s.largest_free_order.map_or(-1, |o| o as i32),
        s.largest_free_order_high.map_or(-1, |o| o as i32),
        s.mem_free_kb,
        s.low_free_kb,
        s.low_min_kb,
        s.vmalloc_total_kb.saturating_sub(s.vmalloc_used_kb),
        s.vmalloc_chunk_kb,
        s.unusable_index_9,
        s.vmalloc_failure.map_or("none", VmallocFailure::word)
    )
}

#[cfg(test)]
mod tests_support {
    pub use super::tests::failed;
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn failed() -> Summary {
        Summary {
            profile: "android-a9",
            seed: 3,
            outcome: Outcome::Failed,
            mem_free_kb: 160 * 1024,
            low_free_kb: 100 * 1024,
            low_min_kb: 2436,
            largest_free_order: Some(7),
            largest_free_order_high: Some(2),
            vmalloc_total_kb: 248 * 1024,
            vmalloc_used_kb: 226 * 1024,
            vmalloc_chunk_kb: 1028,
            unusable_index_9: 987,
            vmalloc_failure: Some(VmallocFailure::NoSpace),
            budget: 40_000,
            steps: 12_345,
            failed_step: Some(12_345),
            requests: 61,
            requests_vmalloc: 40,
        }
    }

    #[test]
    fn failure_is_explained_from_the_state() {
        let mut out = String::new();
        write_analysis(&mut out, &failed(), u64::from(FINAL_REQUEST)).unwrap();
        assert!(out.contains("order 7 (512 kB); the request needs order 9 (2048 kB): fragmented"));
        assert!(out.contains("largest gap 0x101000 bytes; the request needs 0x1a1000 with its guard page: does not fit"));
        assert!(out.contains(
            "request of 0x1a0000 bytes: failed (__get_free_pages: largest free order 7 < 9; vmalloc: largest gap 0x101000 < 0x1a1000)"
        ));
        assert!(out.ends_with(
            "time to failure: step 12345 (budget 40000); the graphics module asked 61 times, 40 served by vmalloc\nscenario-summary: profile=android-a9 seed=3 outcome=failed failed_step=12345 budget=40000 requests=61 requests_vmalloc=40 largest_order=7 largest_order_high=2 memfree_kb=163840 lowfree_kb=102400 lowmin_kb=2436 vmalloc_free_kb=22528 vmalloc_chunk_kb=1028 unusable9=987 vmalloc_error=no-space\n"
        ));
    }

    #[test]
    fn success_verdicts() {
        let mut s = failed();
        s.outcome = Outcome::ViaGetFreePages;
        s.largest_free_order = Some(10);
        let mut out = String::new();
        write_analysis(&mut out, &s, u64::from(FINAL_REQUEST)).unwrap();
        assert!(out.contains("request of 0x1a0000 bytes: succeeded (via __get_free_pages)"));
        assert!(out.contains(": available"));
        s.outcome = Outcome::ViaVmalloc;
        let mut out = String::new();
        write_analysis(&mut out, &s, u64::from(FINAL_REQUEST)).unwrap();
        assert!(out.contains("succeeded (via vmalloc)"));
        // An order-9 block was free, yet __get_free_pages failed: the watermark, not the order.
        assert!(
            out.contains(": free, but Normal is at its watermark (102400 kB free, min 2436 kB)")
        );
    }

    #[test]
    fn exhaustion_is_told_apart_from_fragmentation() {
        let mut s = failed();
        s.low_free_kb = 3000;
        let mut out = String::new();
        write_analysis(&mut out, &s, u64::from(FINAL_REQUEST)).unwrap();
        assert!(out.contains(
            "order 7 (512 kB); the request needs order 9 (2048 kB): lowmem exhausted (3000 kB free, min watermark 2436 kB)"
        ));
    }

    #[test]
    fn watermark_failure_is_told_apart_from_fragmentation() {
        let mut s = failed();
        s.largest_free_order = Some(9);
        s.low_free_kb = 2440;
        let mut out = String::new();
        write_analysis(&mut out, &s, u64::from(FINAL_REQUEST)).unwrap();
        assert!(out.contains(
            "order 9 (2048 kB): free, but Normal is at its watermark (2440 kB free, min 2436 kB)"
        ));
        assert!(out.contains(
            "request of 0x1a0000 bytes: failed (__get_free_pages: Normal at its watermark, 2440 kB free; vmalloc: largest gap 0x101000 < 0x1a1000)"
        ));
    }

    /// Every `A < B` the text prints, as numbers (decimal or 0x hex).
    fn inequalities(text: &str) -> Vec<(u64, u64)> {
        let num = |t: &str| {
            let t = t.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            match t.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => t.parse().ok(),
            }
        };
        let mut found = Vec::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                if *w == "<" {
                    let a = num(words[i - 1]).unwrap_or_else(|| panic!("{line}"));
                    let b = num(words[i + 1]).unwrap_or_else(|| panic!("{line}"));
                    found.push((a, b));
                }
            }
        }
        found
    }

    fn analysis(s: &Summary) -> String {
        let mut out = String::new();
        write_analysis(&mut out, s, u64::from(FINAL_REQUEST)).unwrap();
        for (a, b) in inequalities(&out) {
            assert!(a < b, "false inequality {a:#x} < {b:#x} in:\n{out}");
        }
        out
    }

    fn verdict(out: &str) -> &str {
        out.lines().find(|l| l.starts_with("request of ")).unwrap()
    }

    #[test]
    fn vmalloc_out_of_pages_is_not_blamed_on_the_gap() {
        // mem=32M: lowmem exhausted, the vmalloc range nearly empty (issue 16, item 10).
        let mut s = failed();
        s.largest_free_order = Some(4);
        s.low_free_kb = 708;
        s.low_min_kb = 708;
        s.vmalloc_chunk_kb = 0x71fff000 >> 10;
        s.vmalloc_failure = Some(VmallocFailure::NoPages { obtained: 0x5000 });
        let out = analysis(&s);
        assert_eq!(
            verdict(&out),
            "request of 0x1a0000 bytes: failed (__get_free_pages: largest free order 4 < 9; vmalloc: out of pages after 0x5000 bytes)"
        );
        assert!(out.contains("the request needs 0x1a1000 with its guard page: fits"));
        assert!(out.contains(
            "  vmalloc: ran out of pages after 0x5000 of the 0x1a0000 bytes (lowmem free 708 kB, min watermark 708 kB)"
        ));
        assert!(out.contains("lowmem exhausted (708 kB free, min watermark 708 kB)"));
        assert!(out.ends_with("vmalloc_error=no-pages\n"));
    }

    #[test]
    fn every_cause_is_named_and_every_comparison_holds() {
        let gfp_states: [(Option<u32>, u64); 5] =
            [(None, 0), (Some(3), 100 * 1024), (Some(8), 3000), (Some(9), 2440), (Some(10), 9000)];
        let vmalloc_states = [
            None,
            Some(VmallocFailure::NoSpace),
            Some(VmallocFailure::NoPages { obtained: 0 }),
            Some(VmallocFailure::NoPages { obtained: 0x19f000 }),
            Some(VmallocFailure::NoPageTable),
        ];
        for (order, low_free) in gfp_states {
            for failure in vmalloc_states {
                for chunk_kb in [0, 1028, 0x1a1000 >> 10, 2_000_000] {
                    for outcome in [Outcome::Failed, Outcome::ViaVmalloc, Outcome::ViaGetFreePages]
                    {
                        let mut s = failed();
                        s.largest_free_order = order;
                        s.low_free_kb = low_free;
                        s.vmalloc_chunk_kb = chunk_kb;
                        s.vmalloc_failure = failure;
                        s.outcome = outcome;
                        let out = analysis(&s);
                        let v = verdict(&out);
                        if outcome != Outcome::Failed {
                            assert!(v.contains("succeeded"), "{v}");
                            continue;
                        }
                        let expect = match failure {
                            Some(VmallocFailure::NoPages { .. }) => "vmalloc: out of pages after",
                            Some(VmallocFailure::NoPageTable) => {
                                "vmalloc: no page for a page table"
                            }
                            _ if chunk_kb << 10 < 0x1a1000 => "vmalloc: largest gap",
                            Some(VmallocFailure::NoSpace) => "vmalloc: no free range of 0x1a1000",
                            None => "vmalloc: not tried",
                        };
                        assert!(v.contains(expect), "{failure:?}, chunk {chunk_kb} kB: {v}");
                        let gfp = match order {
                            None => "no free page in Normal",
                            Some(o) if o >= 9 => "Normal at its watermark",
                            Some(_) => "largest free order",
                        };
                        assert!(v.contains(gfp), "{order:?}: {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn progress_marks_every_5000_steps() {
        let marks: Vec<u32> = (0..=20_001).filter(|&s| is_progress_mark(s)).collect();
        assert_eq!(marks, [5000, 10_000, 15_000, 20_000]);
        let mut out = String::new();
        write_progress(&mut out, 5000, 20_000, &failed(), 3).unwrap();
        assert_eq!(
            out,
            "scenario: step   5000/20000: MemFree  163840 kB, largest free order 7, VmallocUsed  231424 kB, VmallocChunk    1028 kB, failed allocs 3\n"
        );
    }
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    #[test]
    fn step_line_format() {
        let mut t = StepTrace {
            step: 17,
            normal_free_kb: 2436,
            highmem_free_kb: 160_000,
            normal_max_order: Some(7),
            highmem_max_order: None,
            vmalloc_free_kb: 22_528,
            vmalloc_largest_kb: 1028,
            gpu: GpuOutcome::Fail,
        };
        let mut out = String::new();
        write_step(&mut out, &t).unwrap();
        assert_eq!(
            out,
            "vmfrag-step step=17 normal_free_kb=2436 highmem_free_kb=160000 normal_max_order=7 highmem_max_order=-1 vmalloc_free_kb=22528 vmalloc_largest_kb=1028 gpu=fail\n"
        );
        for (gpu, word) in [
            (GpuOutcome::None, "gpu=none\n"),
            (GpuOutcome::Pages, "gpu=pages\n"),
            (GpuOutcome::Vmalloc, "gpu=vmalloc\n"),
        ] {
            t.gpu = gpu;
            let mut out = String::new();
            write_step(&mut out, &t).unwrap();
            assert!(out.ends_with(word), "{out}");
        }
    }

    #[test]
    fn a_thinned_trace_keeps_requests_and_the_ends() {
        let none = GpuOutcome::None;
        let steps: Vec<u32> = (1..=250).filter(|&s| is_traced(s, 100, 250, none)).collect();
        assert_eq!(steps, [1, 100, 200, 250]);
        assert!(is_traced(137, 100, 250, GpuOutcome::Pages));
        assert!(is_traced(138, 100, 250, GpuOutcome::Fail));
        // trace (every step) is trace=1; 0 is taken as 1.
        assert!((1..=50).all(|s| is_traced(s, 1, 50, none) && is_traced(s, 0, 50, none)));
    }

    #[test]
    fn survived_run() {
        let mut s = super::tests_support::failed();
        s.outcome = Outcome::Survived;
        s.failed_step = None;
        s.steps = 40_000;
        let mut out = String::new();
        write_time_to_failure(&mut out, &s).unwrap();
        write_summary_line(&mut out, &s).unwrap();
        assert!(out.starts_with("time to failure: none within the budget of 40000 steps; "));
        assert!(out.contains(" outcome=survived failed_step=-1 budget=40000 "), "{out}");
    }
}
