//! `bench`: times the allocators on the device with the generic timer. Run under
//! `qemu-system-arm -icount shift=0`, where every instruction takes 1 ns of virtual time, the
//! nanoseconds printed are instruction counts and repeat exactly from run to run. The pages
//! it takes are the console's (`PageOwner::Console`), like every console command's.

use super::{expect_args, CmdResult};
use crate::arch::timer;
use crate::config::MAX_ORDER;
use crate::console::args::Args;
use crate::kernel::mem::{with_node, BuddyPages, SLAB};
use crate::kernel::Kernel;
use crate::kernel::{scenario, vmalloc};
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::Node;
use crate::mm::zone::{ZoneType, MIGRATE_UNMOVABLE};
use crate::mm::{Pfn, PAGE_SIZE};

/// Operations per measured loop.
const ROUNDS: u32 = 10_000;
/// vmalloc+vfree pairs (each maps, unmaps and flushes a page).
const VM_ROUNDS: u32 = 2_000;
/// Workload steps timed for the scenario figure.
const SCENARIO_STEPS: u32 = 20_000;
/// Live objects the kmalloc mix keeps at most.
const KMALLOC_LIVE: usize = 64;
/// Blocks the split/merge benchmark may have to set aside to empty the lower free lists.
const HELD_MAX: usize = 256;

/// Nanoseconds of (virtual) time since an arbitrary start.
fn now_ns() -> u64 {
    let freq = u64::from(timer::counter_frequency().max(1));
    (u128::from(timer::read_counter()) * 1_000_000_000 / u128::from(freq)) as u64
}

fn report(what: &str, ops: u32, ns: u64) {
    kprintln!("bench: {:<50} {:>8} ops {:>8} ns/op", what, ops, ns / u64::from(ops.max(1)));
}

/// What an order-0 alloc+free pair measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pairs {
    /// With the per-CPU lists on, as the kernel runs: a per-CPU list hit.
    PcpHit,
    /// With the per-CPU lists disabled (`zone_pcp_disable`): one page is held first, so the
    /// pair takes a page from the order-0 buddy list whose buddy stays allocated (no split,
    /// no merge).
    NoSplit,
    /// With the per-CPU lists disabled and the lower free lists emptied first: each
    /// allocation splits an order-(MAX_ORDER-1) block all the way down and each free merges
    /// it back.
    Cascade,
}

/// `zone_pcp_disable` (`off`) or `zone_pcp_enable` of every zone with pages.
fn set_pcp_lists(node: &mut Node<'static>, off: bool) {
    for t in ZoneType::ALL {
        if node.zone(t).is_managed() {
            let _ =
                if off { node.zone_pcp_disable(t).map(|_| ()) } else { node.zone_pcp_enable(t) };
        }
    }
}

/// order-0 alloc+free pairs, as `what` says.
fn buddy_pairs(what: Pairs) -> Option<u64> {
    with_node(|node| {
        let mut held: [(Pfn, u32); HELD_MAX] = [(Pfn(0), 0); HELD_MAX];
        let mut n = 0;
        if what != Pairs::PcpHit {
            set_pcp_lists(node, true);
        }
        if what == Pairs::NoSplit {
            if let Ok(p) = node.alloc_pages_for(PageOwner::Console, GfpFlags::GFP_KERNEL, 0) {
                held[0] = (p, 0);
                n = 1;
            }
        }
        if what == Pairs::Cascade {
            // The zone GFP_KERNEL's pages come from: the highest populated one it may use
            // (Normal on ARM; DMA on arm64 here, where all of RAM is DMA-able and Normal is
            // empty, so emptying Normal's lists left the pairs splitting nothing).
            let top = node.highest_zoneidx(GfpFlags::GFP_KERNEL);
            let zone = ZoneType::ALL
                .into_iter()
                .rev()
                .find(|&t| t <= top && node.zone(t).is_populated())
                .unwrap_or(top);
            for order in 0..MAX_ORDER as u32 - 1 {
                // GFP_KERNEL is unmovable: empty that type's lists (the others it never uses
                // while its own have blocks).
                let unmovable = |n: &Node<'static>| {
                    n.zone(zone)
                        .free_area(order as usize)
                        .map_or(0, |a| a.nr_free_of(MIGRATE_UNMOVABLE))
                };
                while unmovable(node) > 0 {
                    if n == HELD_MAX {
                        break;
                    }
                    let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN;
                    match node.alloc_pages_for(PageOwner::Console, gfp, order) {
                        Ok(p) => {
                            held[n] = (p, order);
                            n += 1;
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        let start = now_ns();
        let mut ok = true;
        for _ in 0..ROUNDS {
            match node.alloc_pages_for(PageOwner::Console, GfpFlags::GFP_KERNEL, 0) {
                Ok(p) => ok &= node.free_pages_for(PageOwner::Console, p, 0).is_ok(),
                Err(_) => ok = false,
            }
        }
        let ns = now_ns() - start;
        for &(p, o) in &held[..n] {
            let _ = node.free_pages_for(PageOwner::Console, p, o);
        }
        if what != Pairs::PcpHit {
            set_pcp_lists(node, false);
        }
        ok.then_some(ns)
    })
}

/// A deterministic kmalloc/kfree mix: sizes 8..4096 skewed small, up to 64 objects live.
fn kmalloc_mix() -> u64 {
    let mut live = [0usize; KMALLOC_LIVE];
    let mut seed: u32 = 0x2545_f491;
    let mut slab = SLAB.lock();
    let start = now_ns();
    for _ in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let slot = (seed as usize >> 8) % KMALLOC_LIVE;
        if live[slot] != 0 {
            let _ = slab.kfree(&mut BuddyPages, live[slot]);
            live[slot] = 0;
        } else {
            let size = 8usize << ((seed & 0xff) % 10).min(seed % 7);
            live[slot] = slab.kmalloc(&mut BuddyPages, size).unwrap_or(0);
        }
    }
    let ns = now_ns() - start;
    for p in live.into_iter().filter(|&p| p != 0) {
        let _ = slab.kfree(&mut BuddyPages, p);
    }
    ns
}

/// vmalloc(4 KiB)+vfree pairs (lazy purging as configured).
fn vmalloc_pairs() -> Option<u64> {
    let start = now_ns();
    for _ in 0..VM_ROUNDS {
        let va = vmalloc::vmalloc(PAGE_SIZE, "pivm::console::bench").ok()?;
        vmalloc::vfree(va).ok()?;
    }
    Some(now_ns() - start)
}

/// kmap+kunmap pairs of one page (highmem if there is any, so the pkmap path is measured).
fn kmap_pairs() -> Option<(u64, bool)> {
    let (pfn, high) = with_node(|n| {
        let gfp = GfpFlags::GFP_HIGHUSER | GfpFlags::__GFP_NOWARN;
        n.alloc_pages_for(PageOwner::Console, gfp, 0).ok().map(|p| (p, n.page_is_highmem(p)))
    })?;
    let start = now_ns();
    for _ in 0..ROUNDS {
        if vmalloc::kmap(pfn).is_err() || vmalloc::kunmap(pfn).is_err() {
            break;
        }
    }
    let ns = now_ns() - start;
    let _ = with_node(|n| n.free_pages_for(PageOwner::Console, pfn, 0));
    Some((ns, high))
}

pub(super) fn cmd_bench(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!(
        "bench: CNTFRQ {} Hz; under -icount shift=0, ns = instructions",
        timer::counter_frequency()
    );
    for (what, name) in [
        (Pairs::PcpHit, "alloc_pages(0)+free (per-CPU list hit)"),
        (Pairs::NoSplit, "alloc_pages(0)+free (lists off, no split)"),
        (Pairs::Cascade, "alloc_pages(0)+free (lists off, full split/merge)"),
    ] {
        match buddy_pairs(what) {
            Some(ns) => report(name, ROUNDS, ns),
            None => kprintln!("bench: alloc_pages(0) failed"),
        }
    }
    report("kmalloc/kfree mix (8-4096 bytes)", ROUNDS, kmalloc_mix());
    match vmalloc_pairs() {
        Some(ns) => report("vmalloc(4K)+vfree", VM_ROUNDS, ns),
        None => kprintln!("bench: vmalloc(4K) failed"),
    }
    match kmap_pairs() {
        Some((ns, true)) => report("kmap+kunmap (highmem page)", ROUNDS, ns),
        Some((ns, false)) => report("kmap+kunmap (lowmem page: no highmem)", ROUNDS, ns),
        None => kprintln!("bench: no page to kmap"),
    }
    let start = now_ns();
    match scenario::run_quiet(1, SCENARIO_STEPS) {
        Ok(steps) => {
            let ns = now_ns() - start;
            scenario::release();
            report("scenario vmalloc-frag workload step", steps, ns);
        }
        Err(e) => kprintln!("bench: scenario: {}", e),
    }
    Ok(())
}
