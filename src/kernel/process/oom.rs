//! The OOM killer (mm/oom_kill.c): when a user page fault cannot get a page,
//! `pagefault_out_of_memory` -> `out_of_memory` picks the process whose death frees the most
//! (`oom_badness`: its RSS, swap entries and page tables, plus `oom_score_adj` scaled to the
//! machine), prints Linux's report (`invoked oom-killer`, the task table of `dump_tasks`, the
//! `oom-kill:` summary and `Out of memory: Killed process ...`) and sends it SIGKILL. Its
//! memory comes back when it exits. While a victim is still dying no second one is chosen
//! (`oom_evaluate_task` aborts the scan), so one shortage kills one process. The choice is
//! pure (`mm::oom_kill`) and host-tested.
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::mm_types::PAGE_SIZE;
use crate::mm::oom_kill::{select_bad_process, OomCandidate};

/// `oom_kill` in /proc/vmstat: processes killed.
pub static OOM_KILLS: AtomicU64 = AtomicU64::new(0);
/// The pid of the victim that has not exited yet (0: none).
static OOM_VICTIM: AtomicU32 = AtomicU32::new(0);

/// The gfp mask of the anonymous-page allocation that failed (`vma_alloc_zeroed_movable_folio`
/// in 6.1: `GFP_HIGHUSER_MOVABLE | __GFP_ZERO`, a folio so `__GFP_COMP`).
const FAULT_GFP: GfpFlags =
    GfpFlags::GFP_HIGHUSER_MOVABLE.union(GfpFlags::__GFP_COMP).union(GfpFlags::__GFP_ZERO);

/// Whether the last victim is still alive (it holds memory that is on its way back).
fn victim_pending() -> bool {
    let v = OOM_VICTIM.load(Ordering::Relaxed);
    if v == 0 {
        return false;
    }
    let alive = super::with_tasks(|t| {
        t.map.get(&v).is_some_and(|x| x.state != super::TaskState::Zombie && x.mm.is_some())
    });
    if !alive {
        OOM_VICTIM.store(0, Ordering::Relaxed);
    }
    alive
}

/// `pagefault_out_of_memory()` -> `out_of_memory()` for the current task's fault: kills the
/// biggest process (maybe the current one) and returns; the faulting task retries (or dies
/// of the SIGKILL it was sent).
pub fn pagefault_out_of_memory() {
    if victim_pending() {
        // oom_evaluate_task: a victim is exiting; wait for its memory.
        super::set_need_resched();
        return;
    }
    let totalpages = crate::kernel::mem::with_node(|n| n.totalram_pages());
    let (cur_pid, chosen) = super::with_tasks(|t| {
        let cur = t.current;
        // Nothing here allocates: the slab may have no page to give.
        let cur_comm: &str = t.map.get(&cur).map_or("", |x| x.comm.as_str());
        kprintln!(
            "{} invoked oom-killer: gfp_mask={:#x}({}), order=0, oom_score_adj=0",
            cur_comm,
            FAULT_GFP.bits(),
            FAULT_GFP
        );
        // dump_tasks().
        kprintln!("Tasks state (memory values in pages):");
        kprintln!(
            "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
        );
        for task in t.map.values() {
            let Some(pm) = task.mm.as_ref() else { continue };
            let r = super::procfs_live::mm_report(pm);
            kprintln!(
                "[{:>7}] {:>5} {:>5} {:>8} {:>8} {:>8} {:>8}         {:>5} {}",
                task.pid,
                0,
                task.pid,
                r.total_vm,
                r.rss_pages(),
                r.pgtables_bytes,
                r.rss.swapents,
                0,
                task.comm
            );
        }
        let candidates = t.map.values().filter(|x| x.pid != 0).filter_map(|task| {
            let pm = task.mm.as_ref()?;
            let r = super::procfs_live::mm_report(pm);
            Some(OomCandidate {
                pid: task.pid,
                rss: r.rss_pages() as u64,
                swapents: r.rss.swapents as u64,
                pgtables_bytes: r.pgtables_bytes as u64,
                oom_score_adj: 0,
            })
        });
        let chosen = select_bad_process(candidates, totalpages);
        if let Some(v) = chosen {
            let task = &t.map[&v.pid];
            let pm = task.mm.as_ref().expect("a candidate has an mm");
            let r = super::procfs_live::mm_report(pm);
            let kb = |pages: usize| pages * (PAGE_SIZE / 1024);
            // dump_oom_summary() (no cpusets or memory cgroups in pivm).
            kprintln!(
                "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task={},pid={},uid=0",
                task.comm,
                task.pid
            );
            kprintln!(
                "Out of memory: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, UID:0 pgtables:{}kB oom_score_adj:0",
                task.pid,
                task.comm,
                kb(r.total_vm),
                kb(r.rss.anon),
                kb(r.rss.file),
                kb(r.rss.shmem),
                r.pgtables_bytes >> 10
            );
        }
        (cur, chosen)
    });
    match chosen {
        Some(v) => {
            OOM_VICTIM.store(v.pid, Ordering::Relaxed);
            OOM_KILLS.fetch_add(1, Ordering::Relaxed);
            let _ = super::send_signal(v.pid, super::SIGKILL);
            if v.pid != cur_pid {
                super::set_need_resched();
            }
        }
        None => {
            // Nothing killable: the faulting task cannot go on.
            kprintln!("Out of memory and no killable processes...");
            let _ = super::send_signal(cur_pid, super::SIGKILL);
        }
    }
}
