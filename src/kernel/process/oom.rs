//! The OOM killer (mm/oom_kill.c): when an allocation that may sleep cannot get memory and
//! reclaim gave up (a user page fault's page: `pagefault_out_of_memory`; a kernel
//! allocation's: `alloc_pages_may_oom`, from the slow path's loop), `out_of_memory` picks the process whose death frees the most
//! (`oom_badness`: its RSS, swap entries and page tables, plus `oom_score_adj` scaled to the
//! machine), prints Linux's report (`invoked oom-killer`, `Mem-Info:`, the task table of `dump_tasks`, the
//! `oom-kill:` summary and `Out of memory: Killed process ...`) and sends it SIGKILL. Its
//! memory comes back when it exits. While a victim is still dying no second one is chosen
//! (`oom_evaluate_task` aborts the scan), so one shortage kills one process. The choice is
//! pure (`mm::oom_kill`) and host-tested.
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::console::printk::Console;
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::mm_types::PAGE_SIZE;
use crate::mm::oom_kill::{select_bad_process, OomCandidate};
use crate::mm::page_alloc::write_show_mem;

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

/// What `out_of_memory` did for the caller's allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomResult {
    /// This victim (pid) was sent SIGKILL now.
    Killed(u32),
    /// An earlier victim (pid) has not exited yet: its memory is on its way.
    VictimPending(u32),
    /// No process could be chosen.
    NoneKillable,
}

/// How long an allocation waits for a victim to exit before it gives up (6.1's OOM reaper
/// would have freed the victim's memory in that time; pivm has none).
const VICTIM_EXIT_TIMEOUT: u64 = 5 * crate::kernel::time::HZ;

/// `pagefault_out_of_memory()`: the fault's page allocation (6.1's anonymous fault mask,
/// order 0) could not be satisfied after reclaim gave up, so the OOM killer runs as 6.1's
/// slow path runs it for that allocation (pivm allocates a fault's page under the task
/// table's lock and reclaims in the exception handler, so the report comes from here);
/// the faulting task retries the access (or dies of the SIGKILL it was sent).
#[track_caller]
pub fn pagefault_out_of_memory() {
    match out_of_memory(FAULT_GFP, 0) {
        OomResult::Killed(v) | OomResult::VictimPending(v) if v != super::current_pid() => {
            super::set_need_resched();
        }
        OomResult::NoneKillable => {
            // Nothing killable: the faulting task cannot go on.
            let _ = super::send_signal(super::current_pid(), super::SIGKILL);
        }
        _ => {}
    }
}

/// `__alloc_pages_may_oom` for a kernel allocation that may sleep and whose reclaim gave
/// up (the caller checked `mm::oom_kill::alloc_may_oom`): the OOM killer, then, when it
/// killed another task (or one is still dying), sleep until that task has exited so its
/// memory is free; true: retry the allocation. False when nothing could be killed, when the
/// victim is the caller itself (its allocation fails and it dies on the way out, as 6.1 lets
/// an OOM victim's allocation fail), or when the victim did not exit in time.
#[track_caller]
pub fn alloc_pages_may_oom(gfp: GfpFlags, order: u32) -> bool {
    let victim = match out_of_memory(gfp, order) {
        OomResult::Killed(v) | OomResult::VictimPending(v) => v,
        OomResult::NoneKillable => return false,
    };
    if victim == super::current_pid() {
        return false;
    }
    let deadline = crate::kernel::time::get_jiffies_64() + VICTIM_EXIT_TIMEOUT;
    while victim_pending() {
        if crate::kernel::time::get_jiffies_64() >= deadline {
            return false;
        }
        // The victim runs (and exits) while this task gives the CPU up.
        super::schedule();
    }
    true
}

/// `__alloc_pages_may_oom` for the page of a system call's user copy's fault, whose
/// reclaim gave up (the copy stopped and the call reclaims with no lock held): the OOM
/// killer with the fault's mask, as 6.1's fault allocation runs it from its slow path, and
/// the wait for the victim's exit; true: the copy goes on.
#[track_caller]
pub fn uaccess_out_of_memory() -> bool {
    alloc_pages_may_oom(FAULT_GFP, 0)
}

/// `out_of_memory()` for an allocation of `gfp` and `order` by the current task: picks the
/// process whose death frees the most, prints `dump_header` (the `invoked oom-killer` line,
/// the caller, `show_mem`'s `Mem-Info:`, `dump_tasks`' table), `dump_oom_summary` and
/// `Out of memory: Killed process ...`, and sends it SIGKILL. Nothing is chosen while an
/// earlier victim is still exiting. Nothing here allocates: the slab may have no page.
#[track_caller]
pub fn out_of_memory(gfp: GfpFlags, order: u32) -> OomResult {
    if victim_pending() {
        // oom_evaluate_task: a victim is exiting; wait for its memory.
        return OomResult::VictimPending(OOM_VICTIM.load(Ordering::Relaxed));
    }
    let at = core::panic::Location::caller();
    let totalpages = crate::kernel::mem::with_node(|n| n.totalram_pages());
    let stats = crate::kernel::mem::show_mem_stats();
    let chosen = super::with_tasks(|t| {
        let cur = t.current;
        let cur_comm: &str = t.map.get(&cur).map_or("", |x| x.comm.as_str());
        // dump_header().
        kprintln!(
            "{} invoked oom-killer: gfp_mask={:#x}({}), order={}, oom_score_adj=0",
            cur_comm,
            gfp.bits(),
            gfp,
            order
        );
        crate::kernel::spinlock::dump_stack(cur, cur_comm, at);
        crate::kernel::mem::with_node(|n| {
            let _ = write_show_mem(&mut Console, gfp, n, &stats);
        });
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
        chosen
    });
    match chosen {
        Some(v) => {
            OOM_VICTIM.store(v.pid, Ordering::Relaxed);
            OOM_KILLS.fetch_add(1, Ordering::Relaxed);
            let _ = super::send_signal(v.pid, super::SIGKILL);
            OomResult::Killed(v.pid)
        }
        None => {
            kprintln!("Out of memory and no killable processes...");
            OomResult::NoneKillable
        }
    }
}
