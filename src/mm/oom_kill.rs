//! The OOM killer's choice (mm/oom_kill.c `oom_badness`, `select_bad_process`), pure so the
//! host tests it: the kernel's `out_of_memory` (kernel/process/oom.rs) feeds it the live
//! processes and kills the one it picks.
use crate::mm::gfp::{gfp_zone, GfpFlags};
use crate::mm::mm_types::PAGE_SIZE;
use crate::mm::zone::{ZoneType, PAGE_ALLOC_COSTLY_ORDER};

/// `OOM_SCORE_ADJ_MIN`: a task with this adjustment is never chosen.
pub const OOM_SCORE_ADJ_MIN: i32 = -1000;

/// What `oom_badness` reads of one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomCandidate {
    pub pid: u32,
    /// `get_mm_rss()` in pages.
    pub rss: u64,
    /// `MM_SWAPENTS`.
    pub swapents: u64,
    /// `mm_pgtables_bytes()`.
    pub pgtables_bytes: u64,
    pub oom_score_adj: i32,
}

/// `oom_badness()`: pages its death would free, adjusted by `oom_score_adj` in thousandths of
/// `totalpages`; None for a task that must not be killed.
pub fn oom_badness(c: &OomCandidate, totalpages: u64) -> Option<i64> {
    if c.oom_score_adj <= OOM_SCORE_ADJ_MIN {
        return None;
    }
    let points = (c.rss + c.swapents + c.pgtables_bytes / PAGE_SIZE as u64) as i64;
    Some(points + i64::from(c.oom_score_adj) * (totalpages / 1000) as i64)
}

/// `select_bad_process()`: the candidate with the most points; on a tie the later one in
/// the walk (`oom_evaluate_task` replaces the choice unless the new score is lower).
pub fn select_bad_process(
    candidates: impl Iterator<Item = OomCandidate>,
    totalpages: u64,
) -> Option<OomCandidate> {
    let mut chosen: Option<(i64, OomCandidate)> = None;
    for c in candidates {
        let Some(points) = oom_badness(&c, totalpages) else { continue };
        if chosen.is_some_and(|(best, _)| points < best) {
            continue;
        }
        chosen = Some((points, c));
    }
    chosen.map(|(_, c)| c)
}

/// Whether an allocation of `gfp` and `order` whose reclaim gave up may invoke the OOM
/// killer, as 6.1's slow path decides: it must be allowed to reclaim (`__GFP_DIRECT_RECLAIM`)
/// and to retry (not `__GFP_NORETRY`: that one fails right after reclaim), and
/// `__alloc_pages_may_oom` then refuses a costly order (above `PAGE_ALLOC_COSTLY_ORDER`: the
/// OOM killer will not help higher orders), a request for the DMA zones only ("does not
/// needlessly kill tasks for lowmem"), and `__GFP_RETRY_MAYFAIL` or `__GFP_THISNODE`;
/// `out_of_memory` kills nothing for a request without `__GFP_FS` ("does not compensate for
/// IO-less reclaim": 6.1 reports progress and retries; pivm, with no such caller, fails it).
pub fn alloc_may_oom(gfp: GfpFlags, order: u32) -> bool {
    gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM)
        && !gfp.contains(GfpFlags::__GFP_NORETRY)
        && order <= PAGE_ALLOC_COSTLY_ORDER
        && gfp_zone(gfp) >= ZoneType::Normal
        && !gfp.intersects(GfpFlags::__GFP_RETRY_MAYFAIL.union(GfpFlags::__GFP_THISNODE))
        && gfp.contains(GfpFlags::__GFP_FS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sleepable_cheap_requests_may_invoke_the_oom_killer() {
        let k = GfpFlags::GFP_KERNEL;
        for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
            assert!(alloc_may_oom(k, order), "GFP_KERNEL order {order}");
        }
        assert!(!alloc_may_oom(k, PAGE_ALLOC_COSTLY_ORDER + 1), "costly orders fail");
        assert!(alloc_may_oom(GfpFlags::GFP_HIGHUSER_MOVABLE, 0));
        assert!(!alloc_may_oom(GfpFlags::GFP_ATOMIC, 0), "cannot reclaim");
        assert!(!alloc_may_oom(GfpFlags::GFP_NOWAIT, 0));
        assert!(!alloc_may_oom(GfpFlags::GFP_NOFS, 0), "IO-less reclaim");
        assert!(!alloc_may_oom(GfpFlags::GFP_NOIO, 0));
        assert!(!alloc_may_oom(k.union(GfpFlags::__GFP_NORETRY), 0));
        assert!(!alloc_may_oom(k.union(GfpFlags::__GFP_RETRY_MAYFAIL), 0));
        assert!(!alloc_may_oom(k.union(GfpFlags::__GFP_THISNODE), 0));
        assert!(!alloc_may_oom(k.union(GfpFlags::__GFP_DMA), 0), "lowmem");
        assert!(alloc_may_oom(k.union(GfpFlags::__GFP_NOFAIL), 0));
    }

    fn c(pid: u32, rss: u64, pt: u64, adj: i32) -> OomCandidate {
        OomCandidate { pid, rss, swapents: 0, pgtables_bytes: pt, oom_score_adj: adj }
    }

    #[test]
    fn badness_is_rss_swap_and_page_tables() {
        assert_eq!(oom_badness(&c(1, 100, 8192, 0), 240_000), Some(102));
        // oom_score_adj is thousandths of RAM: +500 on 240000 pages adds 120000.
        assert_eq!(oom_badness(&c(1, 100, 0, 500), 240_000), Some(100 + 500 * 240));
        assert_eq!(oom_badness(&c(1, 100, 0, -100), 240_000), Some(100 - 100 * 240));
        assert_eq!(oom_badness(&c(1, 100, 0, OOM_SCORE_ADJ_MIN), 240_000), None);
    }

    #[test]
    fn the_biggest_process_is_chosen_and_ties_go_to_the_later() {
        let v = select_bad_process(
            [c(300, 50, 0, 0), c(301, 50_000, 2048 * 40, 0), c(302, 900, 0, 0)].into_iter(),
            240_000,
        );
        assert_eq!(v.map(|v| v.pid), Some(301));
        let tie = select_bad_process([c(5, 10, 0, 0), c(6, 10, 0, 0)].into_iter(), 1000);
        assert_eq!(tie.map(|v| v.pid), Some(6));
        // A small process with a large adjustment beats a big one.
        let adj = select_bad_process([c(7, 1000, 0, 0), c(8, 10, 0, 100)].into_iter(), 240_000);
        assert_eq!(adj.map(|v| v.pid), Some(8));
        assert_eq!(select_bad_process([c(9, 1, 0, -1000)].into_iter(), 100), None);
        assert_eq!(select_bad_process(core::iter::empty(), 100), None);
    }
}
