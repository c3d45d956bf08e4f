//! The end of `scenario vmalloc-frag`: the diagnosis computed from the allocators' state, next
//! to the device's figures from the case study, the one-line verdict, and the machine-readable
//! summary line that `make scenario` collects into its comparison table.
use core::fmt::{self, Write};

/// The graphics driver's request in the case study.
pub const FINAL_REQUEST: u32 = 0x1a_0000;
/// `get_order(0x1a0000)`: 1.625 MiB needs an order-9 (2 MiB) block.
pub const FINAL_ORDER: u32 = 9;
/// A vmalloc area is the request plus its guard page.
pub const GUARD_PAGE: u64 = 4096;

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

/// How the final request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still running (progress lines).
    Pending,
    ViaGetFreePages,
    ViaVmalloc,
    Failed,
}

impl Outcome {
    /// The word the summary line and the table use.
    pub const fn word(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::ViaGetFreePages => "ok-gfp",
            Outcome::ViaVmalloc => "ok-vmalloc",
            Outcome::Failed => "failed",
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
        s.vmalloc_chunk_kb << 10,
        needed_gap,
        if s.vmalloc_chunk_kb << 10 >= needed_gap { "fits" } else { "does not fit" }
    )?;
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
    write_summary_line(w, s)
}

fn write_verdict(w: &mut impl Write, s: &Summary, size: u64, needed_gap: u64) -> fmt::Result {
    match s.outcome {
        Outcome::ViaGetFreePages => {
            writeln!(w, "request of {size:#x} bytes: succeeded (via __get_free_pages)")
        }
        Outcome::ViaVmalloc => writeln!(w, "request of {size:#x} bytes: succeeded (via vmalloc)"),
        Outcome::Failed | Outcome::Pending => {
            write!(w, "request of {size:#x} bytes: failed (__get_free_pages: ")?;
            if s.refused_by_watermark() {
                write!(w, "Normal at its watermark, {} kB free", s.low_free_kb)?;
            } else {
                write!(
                    w,
                    "largest free order {} < {}",
                    s.largest_free_order.map_or(-1, |o| o as i32),
                    FINAL_ORDER
                )?;
            }
            writeln!(
                w,
                "; vmalloc: largest gap {:#x} < {:#x})",
                s.vmalloc_chunk_kb << 10,
                needed_gap
            )
        }
    }
}

/// `scenario-summary: ...`: one line with every figure, for `make scenario`.
pub fn write_summary_line(w: &mut impl Write, s: &Summary) -> fmt::Result {
    writeln!(
        w,
        "scenario-summary: profile={} seed={} outcome={} largest_order={} largest_order_high={} memfree_kb={} lowfree_kb={} lowmin_kb={} vmalloc_free_kb={} vmalloc_chunk_kb={} unusable9={}",
        s.profile,
        s.seed,
        s.outcome.word(),
        s.largest_free_order.map_or(-1, |o| o as i32),
        s.largest_free_order_high.map_or(-1, |o| o as i32),
        s.mem_free_kb,
        s.low_free_kb,
        s.low_min_kb,
        s.vmalloc_total_kb.saturating_sub(s.vmalloc_used_kb),
        s.vmalloc_chunk_kb,
        s.unusable_index_9
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Summary {
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
            "scenario-summary: profile=android-a9 seed=3 outcome=failed largest_order=7 largest_order_high=2 memfree_kb=163840 lowfree_kb=102400 lowmin_kb=2436 vmalloc_free_kb=22528 vmalloc_chunk_kb=1028 unusable9=987\n"
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
}
