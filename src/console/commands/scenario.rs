//! `scenario vmalloc-frag [seed=N] [budget=N] [seeds=N] [trace[=N]]` and `scenario release`.
use spin::Mutex;

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

/// The failing steps of a `seeds=` sequence (4 KiB: not on the console's stack).
static TTF: Mutex<TimeToFailure> = Mutex::new(TimeToFailure::new());

pub(super) fn cmd_scenario(_: &Kernel, args: &Args<'_>) -> CmdResult {
    match args.get(1) {
        Some("vmalloc-frag") => {
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
