//! `scenario vmalloc-frag [seed=N] [budget=N] [seeds=N] [trace[=N]]` and `scenario release`.
use crate::kernel::spinlock::Mutex;

use super::{CmdError, CmdResult};
use crate::console::args::{parse_u64, Args};
use crate::console::Count;
use crate::kernel::scenario;
use crate::kernel::Kernel;
use crate::kprintln;
use crate::scenario::distribution::{TimeToFailure, MAX_RUNS};
use crate::scenario::workload::{DEFAULT_BUDGET, DEFAULT_SEED};

/// Most steps a run may take (a bound on how long the console is busy).
const MAX_BUDGET: u64 = 1_000_000;
/// The options, for the error message.
const OPTIONS: &str = "seed=N, budget=N, seeds=N, trace, trace=N";

/// The failing steps of a `seeds=` sequence (4 KiB: not on the console's stack). A mutex:
/// the runs it is held across make `GFP_KERNEL` vmallocs, which may sleep.
static TTF: Mutex<TimeToFailure> = Mutex::new(TimeToFailure::new());

pub(super) fn cmd_scenario(k: &Kernel, args: &Args<'_>) -> CmdResult {
    match args.get(1) {
        Some("vmalloc-frag") => {
            #[cfg(target_arch = "aarch64")]
            explain_64bit(k);
            #[cfg(not(target_arch = "aarch64"))]
            let _ = k;
            let (mut seed, mut budget, mut seeds, mut trace) =
                (DEFAULT_SEED, u64::from(DEFAULT_BUDGET), None, None);
            for a in args.iter().skip(2) {
                if *a == "trace" {
                    trace = Some(1);
                    continue;
                }
                let (key, value) = a.split_once('=').unwrap_or((a, ""));
                if !matches!(key, "seed" | "budget" | "seeds" | "trace") || !a.contains('=') {
                    fail!(args, "unknown option '{}' ({})", a, OPTIONS);
                }
                let v = match parse_u64(value) {
                    Ok(v) => v,
                    Err(e) => fail!(args, "{}: {}", key, e),
                };
                match key {
                    "seed" => seed = v,
                    "budget" if (1..=MAX_BUDGET).contains(&v) => budget = v,
                    "budget" => fail!(args, "budget={} out of range (1-{})", v, MAX_BUDGET),
                    "trace" if (1..=MAX_BUDGET).contains(&v) => trace = Some(v as u32),
                    "trace" => fail!(args, "trace={} out of range (1-{})", v, MAX_BUDGET),
                    _ if (1..=MAX_RUNS as u64).contains(&v) => seeds = Some(v as u32),
                    _ => fail!(args, "seeds={} out of range (1-{})", v, MAX_RUNS),
                }
            }
            if seed.checked_add(seeds.map_or(0, u64::from)).is_none() {
                fail!(args, "seed={} leaves no room for {} seeds", seed, seeds.unwrap_or(0));
            }
            let r = match seeds {
                Some(_) if trace.is_some() => fail!(args, "trace takes one seed, not seeds="),
                Some(n) => {
                    let mut ttf = TTF.lock();
                    *ttf = TimeToFailure::new();
                    scenario::run_many(seed, n, budget as u32, &mut ttf)
                }
                None => scenario::run_vmalloc_frag(seed, budget as u32, trace).map(|_| ()),
            };
            if let Err(e) = r {
                fail!(args, "{}", e);
            }
            Ok(())
        }
        Some("release") if args.len() == 2 => {
            kprintln!("scenario: released {}", Count(scenario::release(), "object"));
            Ok(())
        }
        Some(other) if args.len() >= 2 && other != "release" => {
            fail!(args, "unknown scenario '{}' (vmalloc-frag)", other)
        }
        _ => Err(CmdError::Usage),
    }
}

/// What the 32-bit case study becomes on the 64-bit kernel, from the live layout: the
/// workload keeps at most `MAX_LIVE_VMAP` vmalloc and ioremap areas, so it can hold only a
/// bounded part of the vmalloc area and cut the rest into at most one hole more than that;
/// the largest hole is then far larger than the graphics module's request, so its vmalloc
/// fallback cannot fail for lack of address space (only the page allocator can fail it).
#[cfg(target_arch = "aarch64")]
fn explain_64bit(k: &Kernel) {
    use crate::mm::PAGE_SIZE;
    use crate::scenario::workload::{
        IOREMAP_SIZES, MAX_LIVE_VMAP, REQUEST_SIZE, VMALLOC_MAX_PAGES,
    };
    use crate::sizes::SZ_1M;
    let (start, end) = k.layout.vmalloc_range();
    let total = end - start;
    let largest_ioremap = IOREMAP_SIZES.iter().map(|&(_, s)| u64::from(s)).max().unwrap_or(0);
    let largest = (u64::from(VMALLOC_MAX_PAGES) * PAGE_SIZE)
        .max(largest_ioremap)
        .max(u64::from(REQUEST_SIZE));
    // Each live area: its size, its guard page, and at most as much again lost to alignment.
    let held = MAX_LIVE_VMAP as u64 * 2 * (largest + PAGE_SIZE);
    let hole = (total - held) / (MAX_LIVE_VMAP as u64 + 1);
    kprintln!(
        "scenario: 64-bit kernel: the vmalloc area is {} MiB ({:#018x}-{:#018x}); the workload \
         holds at most {} areas of at most {} KiB, {} MiB with guards and alignment, so some \
         hole of at least {} MiB always stays free: the {:#x}-byte request's vmalloc fallback \
         cannot fail for lack of address space, as it did in the 32-bit layout",
        total / SZ_1M,
        start,
        end,
        MAX_LIVE_VMAP,
        largest >> 10,
        held / SZ_1M,
        hole / SZ_1M,
        REQUEST_SIZE
    );
}
