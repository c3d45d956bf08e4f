//! Runs `scenario vmalloc-frag` on the real allocators: the seeded trace of `scenario::workload`
//! is executed operation by operation (kmalloc, `__get_free_pages`, vmalloc, ioremap and their
//! frees), the outcome of every allocation is whatever the allocators' state gives, and at
//! intervals the graphics module asks for its 0x1a0000 bytes the way the device's driver did:
//! physically contiguous pages first, then vmalloc. The run stops at the first request that
//! fails both ways (the monkey test's failure) or at its step budget; the analysis is computed
//! from the state at that moment, which stays for inspection.
use crate::kernel::spinlock::Mutex;

use super::mem::{self, with_node, BuddyPages, SLAB};
use super::vmalloc;
use crate::console::printk::Console;
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::page_alloc::{write_alloc_failure, AllocError, DEFAULT_COMM};
use crate::mm::slab::get_order;
use crate::mm::vmap::VmapError;
use crate::mm::{Pfn, PAGE_SHIFT};
use crate::proc::filter::LineFilter;
use crate::proc::{buddyinfo, extfrag};
use crate::scenario::distribution::{self, TimeToFailure};
use crate::scenario::report::{self, GpuOutcome, Outcome, StepTrace, Summary, VmallocFailure};
use crate::scenario::workload::{Op, Params, Workload, MAX_LIVE};

/// The caller name the scenario's vmalloc and ioremap areas carry in /proc/vmallocinfo.
const DRIVER: &str = "pivm::scenario::driver";
/// The drivers' vmalloc mask: `GFP_KERNEL | __GFP_NORETRY`. Their vmallocs run with no spin
/// lock held, so they may reclaim; the run keeps lowmem at its watermark, where a plain
/// `GFP_KERNEL` request would go on to the OOM killer (with no process to kill) at nearly
/// every one. The drivers expect failure (a graphics buffer falls back, the run stops at
/// the double failure), so they fail after one round of reclaim, as 6.1's callers that
/// expect failure ask.
const DRIVER_VMALLOC_GFP: GfpFlags = GfpFlags::GFP_KERNEL.union(GfpFlags::__GFP_NORETRY);
/// Lines of /proc/vmallocinfo shown at the end (the top of the range, as the engineer read it).
const VMALLOCINFO_TAIL: usize = 8;
/// The /proc/meminfo lines the analysis shows.
const MEMINFO_EXCERPT: &[&str] =
    &["MemFree:", "LowFree:", "HighFree:", "VmallocTotal:", "VmallocUsed:", "VmallocChunk:"];

/// What each live object of the trace is, to free it again (addresses as wide as the
/// CPU's: 32 bits on ARMv7, 64 on AArch64).
#[derive(Clone, Copy)]
enum Handle {
    None,
    Kmalloc(usize),
    Pages {
        pfn: u32,
        order: u8,
    },
    /// An app chunk: `count` order-0 pages whose PFNs sit in a kmalloc'd array.
    App {
        list: usize,
        count: u16,
    },
    Vmalloc(usize),
    Ioremap(usize),
}

struct Run {
    workload: Workload,
    handles: [Handle; MAX_LIVE],
    active: bool,
}

/// The run's state, kept between commands for `scenario release`. A mutex, as Linux guards
/// state whose holder may sleep: the run's vmallocs are `GFP_KERNEL` and may reclaim, which
/// they may not under a spin lock (`might_sleep` reported them when this was one). Only the
/// console takes it.
static RUN: Mutex<Run> = Mutex::new(Run {
    workload: Workload::new(Params::DEFAULT),
    handles: [Handle::None; MAX_LIVE],
    active: false,
});

/// Why a scenario could not start or did not finish.
pub enum ScenarioError {
    /// A previous run still holds its memory (`scenario release` first).
    Busy,
    /// Ctrl-C stopped the run after `step` of `steps` steps; `released` says whether its
    /// memory was freed or stays for `scenario release`.
    Interrupted { step: u32, steps: u32, released: bool },
}

impl core::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ScenarioError::Busy => {
                f.write_str("a previous run still holds its memory: run 'scenario release' first")
            }
            ScenarioError::Interrupted { step, steps, released } => {
                write!(f, "interrupted at step {step} of {steps}; ")?;
                if released {
                    f.write_str("everything freed")
                } else {
                    f.write_str("its memory stays allocated until 'scenario release'")
                }
            }
        }
    }
}

/// Executes one operation; Some(success) for allocations.
fn execute(handles: &mut [Handle; MAX_LIVE], op: Op) -> Option<bool> {
    let nowarn = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN;
    let (id, result) = match op {
        Op::Kmalloc { id, size } => {
            let r = SLAB.lock().kmalloc(&mut BuddyPages, size as usize);
            (id, r.ok().map(Handle::Kmalloc))
        }
        Op::GetFreePages { id, order, gfp_highmem } => {
            let gfp = if gfp_highmem { nowarn | GfpFlags::__GFP_HIGHMEM } else { nowarn };
            let r = with_node(|n| n.alloc_pages(gfp, u32::from(order)));
            (id, r.ok().map(|pfn| Handle::Pages { pfn: pfn.0 as u32, order }))
        }
        Op::AppPages { id, pages } => (id, app_pages(pages)),
        Op::Vmalloc { id, size } => (
            id,
            vmalloc::__vmalloc(u64::from(size), DRIVER_VMALLOC_GFP, DRIVER)
                .ok()
                .map(|va| Handle::Vmalloc(va as usize)),
        ),
        Op::Ioremap { id, phys, size } => (
            id,
            vmalloc::ioremap(phys, u64::from(size), DRIVER)
                .ok()
                .map(|va| Handle::Ioremap(va as usize)),
        ),
        Op::GpuAlloc { id, size } => (id, gpu_alloc(size)),
        // The executor's loop makes the graphics module's request itself (`request`).
        Op::GpuRequest { .. } => return None,
        Op::Kfree { id }
        | Op::FreePages { id }
        | Op::Vfree { id }
        | Op::Iounmap { id }
        | Op::GpuFree { id } => {
            free_handle(&mut handles[id as usize]);
            return None;
        }
    };
    handles[id as usize] = result.unwrap_or(Handle::None);
    Some(result.is_some())
}

/// A graphics buffer the way the case study's driver allocated: physically contiguous pages
/// if the buddy allocator has a block of the covering order, else vmalloc.
fn gpu_alloc(size: u32) -> Option<Handle> {
    let order = get_order(size as usize);
    let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN;
    if let Ok(pfn) = with_node(|n| n.alloc_pages(gfp, order)) {
        return Some(Handle::Pages { pfn: pfn.0 as u32, order: order as u8 });
    }
    vmalloc::__vmalloc(u64::from(size), DRIVER_VMALLOC_GFP, DRIVER)
        .ok()
        .map(|va| Handle::Vmalloc(va as usize))
}

/// An app's pages: order-0 `GFP_HIGHUSER_MOVABLE` (highmem first, lowmem when highmem is
/// short), all or nothing, their PFNs kept in a kmalloc'd array (the kernel's per-process
/// bookkeeping, itself a kernel allocation).
fn app_pages(pages: u32) -> Option<Handle> {
    let count = pages.min(u32::from(u16::MAX));
    let list = SLAB.lock().kmalloc(&mut BuddyPages, count as usize * 4).ok()? as *mut u32;
    let gfp = GfpFlags::GFP_HIGHUSER_MOVABLE | GfpFlags::__GFP_NOWARN;
    for i in 0..count as usize {
        match with_node(|n| n.alloc_pages(gfp, 0)) {
            // SAFETY: `list` holds `count` words, kmalloc'd above and owned by this handle.
            Ok(pfn) => unsafe { list.add(i).write(pfn.0 as u32) },
            Err(_) => {
                free_app_pages(list, i);
                return None;
            }
        }
    }
    Some(Handle::App { list: list as usize, count: count as u16 })
}

fn free_app_pages(list: *mut u32, count: usize) {
    for i in 0..count {
        // SAFETY: the first `count` words of `list` were written by `app_pages`.
        let pfn = unsafe { list.add(i).read() };
        let _ = with_node(|n| n.__free_pages(Pfn(u64::from(pfn)), 0));
    }
    let _ = SLAB.lock().kfree(&mut BuddyPages, list as usize);
}

fn free_handle(h: &mut Handle) {
    match *h {
        Handle::None => {}
        Handle::Kmalloc(p) => {
            let _ = SLAB.lock().kfree(&mut BuddyPages, p);
        }
        Handle::Pages { pfn, order } => {
            let _ = with_node(|n| n.__free_pages(Pfn(u64::from(pfn)), u32::from(order)));
        }
        Handle::App { list, count } => free_app_pages(list as *mut u32, usize::from(count)),
        Handle::Vmalloc(va) => {
            let _ = vmalloc::vfree(va as u64);
        }
        Handle::Ioremap(va) => {
            let _ = vmalloc::iounmap(va as u64);
        }
    }
    *h = Handle::None;
}

/// The zone the kernel's own allocations come from, which the summary calls lowmem: Normal on
/// ARMv7; on AArch64 all of the Pi 3's RAM is ZONE_DMA (Normal is empty).
#[cfg(not(target_arch = "aarch64"))]
const LOWMEM_ZONE: usize = crate::proc::snapshot::ZONE_NORMAL;
#[cfg(target_arch = "aarch64")]
const LOWMEM_ZONE: usize = crate::proc::snapshot::ZONE_DMA;

/// The state numbers the analysis and the tables use.
fn summary(
    profile: &'static str,
    seed: u64,
    outcome: Outcome,
    workload: &Workload,
    requests_vmalloc: u32,
) -> Summary {
    let node = mem::node_snapshot();
    let (used, chunk) = vmalloc::used_and_chunk();
    let layout = &super::try_get().expect("booted").layout;
    let normal = &node.zones[LOWMEM_ZONE];
    let largest_order = normal.free_area.iter().rposition(|&n| n > 0);
    let high = &node.zones[crate::proc::snapshot::ZONE_HIGHMEM];
    let largest_order_high = high.free_area.iter().rposition(|&n| n > 0);
    Summary {
        profile,
        seed,
        outcome,
        mem_free_kb: node.zones.iter().map(|z| z.free_pages).sum::<u64>() << (PAGE_SHIFT - 10),
        low_free_kb: normal.free_pages << (PAGE_SHIFT - 10),
        low_min_kb: normal.min << (PAGE_SHIFT - 10),
        largest_free_order: largest_order.map(|o| o as u32),
        largest_free_order_high: largest_order_high.map(|o| o as u32),
        vmalloc_total_kb: layout.vmalloc_size() >> 10,
        vmalloc_used_kb: used >> 10,
        vmalloc_chunk_kb: chunk >> 10,
        unusable_index_9: extfrag::unusable_free_index(normal, report::FINAL_ORDER as usize),
        vmalloc_failure: None,
        budget: workload.params().budget,
        steps: workload.step(),
        failed_step: None,
        requests: workload.stats().requests,
        requests_vmalloc,
    }
}

/// How a run prints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing (`bench`).
    Quiet,
    /// The summary line only (many seeds in a row).
    Summary,
    /// The header, the progress lines and, at a double failure, the diagnosis.
    Full,
}

/// `scenario vmalloc-frag [seed=N] [budget=N] [trace[=N]]`: runs the monkey test until the graphics
/// module's request fails both ways or `budget` steps have run, then the diagnosis. The memory
/// stays allocated afterwards so it can be inspected (/proc/buddyinfo, /proc/vmallocinfo ...)
/// until `scenario release`. `trace: Some(n)` prints a `vmfrag-step` line after every n-th
/// step, the first and last, and every step with a request of the graphics module
/// ([`report::is_traced`]; `Some(1)`: every step).
pub fn run_vmalloc_frag(
    seed: u64,
    budget: u32,
    trace: Option<u32>,
) -> Result<Summary, ScenarioError> {
    run(seed, budget, Verbosity::Full, trace)
}

/// The trace alone, without output (for `bench`); returns the steps run. The memory stays
/// allocated until `release`, except after Ctrl-C, which frees it.
pub fn run_quiet(seed: u64, budget: u32) -> Result<u32, ScenarioError> {
    match run(seed, budget, Verbosity::Quiet, None) {
        Err(ScenarioError::Interrupted { step, steps, .. }) => {
            release();
            Err(ScenarioError::Interrupted { step, steps, released: true })
        }
        r => r.map(|s| s.steps),
    }
}

/// `scenario vmalloc-frag seeds=N`: `count` runs from `first_seed` on, each followed by
/// `reset`, their summary lines, and the distribution of time to failure. One boot runs them
/// all; each run starts from the memory the previous one gave back.
pub fn run_many(
    first_seed: u64,
    count: u32,
    budget: u32,
    ttf: &mut TimeToFailure,
) -> Result<(), ScenarioError> {
    let profile = super::try_get().map_or("linux", |k| k.layout.profile);
    kprintln!(
        "scenario vmalloc-frag: profile {}, seeds {}-{}, budget {}",
        profile,
        first_seed,
        first_seed + u64::from(count.max(1)) - 1,
        crate::console::Count(budget, "step")
    );
    for seed in (first_seed..).take(count as usize) {
        let r = run(seed, budget, Verbosity::Summary, None);
        if matches!(r, Err(ScenarioError::Busy)) {
            // Another run's memory: it stays for its `scenario release`.
            return r.map(|_| ());
        }
        reset();
        match r {
            Ok(s) => {
                ttf.record(s.failed_step);
            }
            Err(ScenarioError::Interrupted { step, steps, .. }) => {
                return Err(ScenarioError::Interrupted { step, steps, released: true })
            }
            Err(e) => return Err(e),
        }
    }
    let _ = distribution::write_distribution(
        &mut Console,
        profile,
        first_seed,
        budget,
        &ttf.distribution(),
    );
    Ok(())
}

/// What the graphics module's request got, and if it failed both ways, the two errors.
struct Request {
    outcome: GpuOutcome,
    handle: Handle,
    failure: Option<(AllocError, vmalloc::VmallocError)>,
}

/// The graphics module's buffer, the case study's way: `__get_free_pages(GFP_KERNEL, 9)`,
/// then `vmalloc`. The page allocator's warning is printed only for the double failure (by
/// `report_failure`), as one report instead of one per failed attempt.
fn request(size: u32) -> Request {
    let order = get_order(size as usize);
    match with_node(|n| n.alloc_pages(GfpFlags::GFP_KERNEL, order)) {
        Ok(pfn) => Request {
            outcome: GpuOutcome::Pages,
            handle: Handle::Pages { pfn: pfn.0 as u32, order: order as u8 },
            failure: None,
        },
        Err(gfp_err) => match vmalloc::__vmalloc(u64::from(size), DRIVER_VMALLOC_GFP, DRIVER) {
            Ok(va) => Request {
                outcome: GpuOutcome::Vmalloc,
                handle: Handle::Vmalloc(va as usize),
                failure: None,
            },
            Err(vm_err) => Request {
                outcome: GpuOutcome::Fail,
                handle: Handle::None,
                failure: Some((gfp_err, vm_err)),
            },
        },
    }
}

/// The state after a step, for the trace.
fn step_trace(step: u32, gpu: GpuOutcome) -> StepTrace {
    let node = mem::node_snapshot();
    let (used, chunk) = vmalloc::used_and_chunk();
    let total = super::try_get().map_or(0, |k| k.layout.vmalloc_size());
    let zone = |i: usize| {
        let z = &node.zones[i];
        (z.free_pages << (PAGE_SHIFT - 10), z.free_area.iter().rposition(|&n| n > 0))
    };
    let (normal_free_kb, normal_max_order) = zone(LOWMEM_ZONE);
    let (highmem_free_kb, highmem_max_order) = zone(crate::proc::snapshot::ZONE_HIGHMEM);
    StepTrace {
        step,
        normal_free_kb,
        highmem_free_kb,
        normal_max_order: normal_max_order.map(|o| o as u32),
        highmem_max_order: highmem_max_order.map(|o| o as u32),
        vmalloc_free_kb: total.saturating_sub(used) >> 10,
        vmalloc_largest_kb: chunk >> 10,
        gpu,
    }
}

fn run(
    seed: u64,
    budget: u32,
    verbosity: Verbosity,
    trace: Option<u32>,
) -> Result<Summary, ScenarioError> {
    let mut run = RUN.lock();
    if run.active {
        return Err(ScenarioError::Busy);
    }
    run.active = true;
    let profile = super::try_get().map_or("linux", |k| k.layout.profile);
    run.workload.reset(Params::new(seed, budget));
    let full = verbosity == Verbosity::Full;
    if full {
        kprintln!(
            "scenario vmalloc-frag: profile {}, seed {}, budget {}",
            profile,
            seed,
            crate::console::Count(budget, "step")
        );
    }
    let Run { workload, handles, .. } = &mut *run;
    let mut outcome = None;
    let mut failure = None;
    let mut requests_vmalloc = 0;
    loop {
        workload.report_free_kb(with_node(|n| n.nr_free_pages()) << (PAGE_SHIFT - 10));
        let Some(op) = workload.next(outcome) else { break };
        let mut gpu = GpuOutcome::None;
        if let Op::GpuRequest { id, size } = op {
            let r = request(size);
            handles[id as usize] = r.handle;
            gpu = r.outcome;
            outcome = Some(gpu != GpuOutcome::Fail);
            failure = r.failure;
            requests_vmalloc += u32::from(gpu == GpuOutcome::Vmalloc);
        } else {
            outcome = execute(handles, op);
        }
        if matches!(op, Op::GpuAlloc { .. } | Op::GpuRequest { .. })
            && matches!(handles[op.id() as usize], Handle::Pages { .. })
        {
            // Only a fallback holds a vmap area.
            workload.report_gpu_pages();
        }
        let step = workload.step();
        if trace.is_some_and(|every| report::is_traced(step, every, budget, gpu)) {
            let _ = report::write_step(&mut Console, &step_trace(step, gpu));
        }
        if full && report::is_progress_mark(step) {
            // The last operation's failure is counted once the workload hears of it.
            let pending = u32::from(outcome == Some(false));
            let failed = workload.stats().failed.iter().sum::<u32>() + pending;
            let s = summary(profile, seed, Outcome::Pending, workload, requests_vmalloc);
            let _ = report::write_progress(&mut Console, step, budget, &s, failed);
        }
        if failure.is_some() {
            break;
        }
        if crate::console::interrupted() {
            // The handles stay recorded, so `scenario release` frees what the run holds.
            return Err(ScenarioError::Interrupted { step, steps: budget, released: false });
        }
    }
    let mut s = summary(profile, seed, Outcome::Survived, workload, requests_vmalloc);
    if let Some((_, vm_err)) = &failure {
        s.outcome = Outcome::Failed;
        s.failed_step = Some(s.steps);
        s.vmalloc_failure = Some(vmalloc_failure(vm_err));
    }
    match (verbosity, failure) {
        (Verbosity::Quiet, _) => {}
        (Verbosity::Summary, _) => {
            let _ = report::write_summary_line(&mut Console, &s);
        }
        (Verbosity::Full, Some((gfp_err, vm_err))) => report_failure(&s, gfp_err, &vm_err),
        (Verbosity::Full, None) => {
            kprintln!(
                "scenario: the graphics module's {:#x}-byte request never failed both ways in {}",
                report::FINAL_REQUEST,
                crate::console::Count(s.steps, "step")
            );
            show_state();
            let _ = report::write_time_to_failure(&mut Console, &s);
            let _ = report::write_summary_line(&mut Console, &s);
        }
    }
    Ok(s)
}

/// The double failure as the engineer saw it: the two failed calls and their messages, the
/// files, the diagnosis and the verdict.
fn report_failure(s: &Summary, gfp_err: AllocError, vm_err: &vmalloc::VmallocError) {
    let size = u64::from(report::FINAL_REQUEST);
    kprintln!("scenario: step {}: the graphics driver asks for {:#x} bytes", s.steps, size);
    kprintln!("scenario: __get_free_pages(GFP_KERNEL, {})", report::FINAL_ORDER);
    let stats = mem::show_mem_stats();
    with_node(|n| {
        let _ = write_alloc_failure(
            &mut Console,
            DEFAULT_COMM,
            gfp_err.gfp(),
            gfp_err.order(),
            n,
            &stats,
        );
    });
    kprintln!("scenario: falling back to vmalloc({:#x})", size);
    vmalloc::report(vm_err);
    show_state();
    let _ = report::write_analysis(&mut Console, s, size);
}

/// What the analysis says about a failed vmalloc: the cause the vmalloc layer gave.
fn vmalloc_failure(e: &vmalloc::VmallocError) -> VmallocFailure {
    use vmalloc::VmallocError as E;
    match *e {
        E::Pages { obtained, .. } => VmallocFailure::NoPages { obtained },
        // More pages than the machine has, or no memory for the bookkeeping: out of pages
        // before the first one.
        E::ExceedsTotalPages { .. }
        | E::PagesArray { .. }
        | E::VmStruct { err: VmapError::NoMemory { .. }, .. } => {
            VmallocFailure::NoPages { obtained: 0 }
        }
        E::Map { .. } => VmallocFailure::NoPageTable,
        // The rest are vmap errors (no room) or cannot come from a vmalloc of 0x1a0000 bytes.
        _ => VmallocFailure::NoSpace,
    }
}

/// The files the engineer looked at: meminfo's key lines, buddyinfo, the tail of vmallocinfo.
fn show_state() {
    let k = super::try_get().expect("booted");
    let mi = mem::meminfo_snapshot(&k.layout);
    kprintln!("--- /proc/meminfo (excerpt)");
    // Memory may be exhausted here: filter the rendering line by line, without a heap.
    let mut excerpt = LineFilter::new(Console, MEMINFO_EXCERPT);
    let _ = crate::proc::meminfo::render(&mut excerpt, &mi);
    let _ = excerpt.finish();
    kprintln!("--- /proc/buddyinfo");
    let _ = buddyinfo::render(&mut Console, &mem::node_snapshot());
    kprintln!("--- /proc/vmallocinfo (top of the range)");
    let _ = vmalloc::render_vmallocinfo_tail(&mut Console, VMALLOCINFO_TAIL);
}

/// Gives back what a run leaves behind besides its objects, so the next run of a sequence
/// starts from the free memory a fresh boot has: everything released, lazily freed vmalloc
/// ranges purged, empty slabs returned, the per-CPU lists drained. (The free lists' order and
/// the vmalloc range's page tables stay as the run left them.)
pub fn reset() {
    release();
    let _ = vmalloc::purge();
    let _ = SLAB.lock().shrink_all(&mut BuddyPages);
    let _ = with_node(|n| n.drain_all_pages());
}

/// Frees everything the last run holds.
pub fn release() -> usize {
    let mut run = RUN.lock();
    let mut n = 0;
    for h in run.handles.iter_mut() {
        if !matches!(h, Handle::None) {
            free_handle(h);
            n += 1;
        }
    }
    run.active = false;
    n
}
