//! `scenario vmalloc-frag [seed=N] [steps=N]` and `scenario release`.
use super::{CmdError, CmdResult};
use crate::console::args::{parse_u64, Args};
use crate::console::Count;
use crate::kernel::scenario;
use crate::kernel::Kernel;
use crate::kprintln;
use crate::scenario::workload::{DEFAULT_SEED, DEFAULT_STEPS};

/// Most steps a run may take (a bound on how long the console is busy).
const MAX_STEPS: u64 = 1_000_000;

pub(super) fn cmd_scenario(_: &Kernel, args: &Args<'_>) -> CmdResult {
    match args.get(1) {
        Some("vmalloc-frag") => {
            let (mut seed, mut steps) = (DEFAULT_SEED, u64::from(DEFAULT_STEPS));
            for a in args.iter().skip(2) {
                let (key, value) = a.split_once('=').unwrap_or((a, ""));
                if key != "seed" && key != "steps" {
                    fail!(args, "unknown option '{}' (seed=N, steps=N)", a);
                }
                let v = match parse_u64(value) {
                    Ok(v) => v,
                    Err(e) => fail!(args, "{}: {}", key, e),
                };
                match key {
                    "seed" => seed = v,
                    "steps" if (1..=MAX_STEPS).contains(&v) => steps = v,
                    _ => fail!(args, "steps={} out of range (1-{})", v, MAX_STEPS),
                }
            }
            if let Err(e) = scenario::run_vmalloc_frag(seed, steps as u32) {
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
