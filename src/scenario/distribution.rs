//! The distribution of time to failure over many seeds (`scenario vmalloc-frag seeds=N`): the
//! fraction of runs whose graphics request failed both ways within the budget, and the
//! quartiles of the failing step. Kept in a fixed array so the kernel needs no heap for it.
use core::fmt::{self, Write};

/// Most runs one distribution holds (`seeds=` is bounded by it).
pub const MAX_RUNS: usize = 1024;

/// Failing steps of the runs so far.
#[derive(Clone, Debug)]
pub struct TimeToFailure {
    runs: u32,
    failed: usize,
    /// Steps of the first double failure, in the order recorded (sorted on demand).
    steps: [u32; MAX_RUNS],
}

/// What `TimeToFailure` sums up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Distribution {
    pub runs: u32,
    pub failed: u32,
    /// First quartile, median, third quartile of the failing steps (None: no run failed).
    pub quartiles: Option<[u32; 3]>,
    /// Earliest and latest failing step.
    pub range: Option<(u32, u32)>,
}

impl Default for TimeToFailure {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeToFailure {
    pub const fn new() -> TimeToFailure {
        TimeToFailure { runs: 0, failed: 0, steps: [0; MAX_RUNS] }
    }

    /// Records one run: the step of its first double failure, or None within the budget.
    /// Runs beyond `MAX_RUNS` are not recorded (returns false).
    pub fn record(&mut self, failed_step: Option<u32>) -> bool {
        if self.runs as usize >= MAX_RUNS {
            return false;
        }
        self.runs += 1;
        if let Some(step) = failed_step {
            self.steps[self.failed] = step;
            self.failed += 1;
        }
        true
    }

    pub fn distribution(&mut self) -> Distribution {
        let steps = &mut self.steps[..self.failed];
        steps.sort_unstable();
        Distribution {
            runs: self.runs,
            failed: self.failed as u32,
            quartiles: quartiles(steps),
            range: steps.first().zip(steps.last()).map(|(&a, &b)| (a, b)),
        }
    }
}

/// The quartiles of sorted values by linear interpolation between the closest ranks (the
/// position of quantile q is q * (n - 1), as R's type 7 and numpy's default), rounded down.
pub fn quartiles(sorted: &[u32]) -> Option<[u32; 3]> {
    let last = sorted.len().checked_sub(1)?;
    Some([1, 2, 3].map(|quarter| {
        // Position in quarters of a rank: quarter * last / 4.
        let pos4 = quarter * last;
        let (i, frac) = (pos4 / 4, pos4 % 4);
        let lo = u64::from(sorted[i]);
        let hi = u64::from(sorted[(i + 1).min(last)]);
        (lo + (hi - lo) * frac as u64 / 4) as u32
    }))
}

impl Distribution {
    /// Failed runs in tenths of a percent.
    pub const fn failed_permille(&self) -> u32 {
        if self.runs == 0 {
            0
        } else {
            ((self.failed as u64 * 1000 + self.runs as u64 / 2) / self.runs as u64) as u32
        }
    }
}

/// The human line and the machine-readable `scenario-distribution:` line.
pub fn write_distribution(
    w: &mut impl Write,
    profile: &str,
    first_seed: u64,
    budget: u32,
    d: &Distribution,
) -> fmt::Result {
    let pm = d.failed_permille();
    write!(
        w,
        "time to failure: {} of {} seeds ({}-{}) failed both ways within {} steps ({}.{}%)",
        d.failed,
        d.runs,
        first_seed,
        first_seed + u64::from(d.runs.max(1)) - 1,
        budget,
        pm / 10,
        pm % 10
    )?;
    match (d.quartiles, d.range) {
        (Some([q1, q2, q3]), Some((lo, hi))) => writeln!(
            w,
            "; failing step: median {q2}, quartiles {q1}-{q3}, earliest {lo}, latest {hi}"
        )?,
        _ => writeln!(w)?,
    }
    let q = |i: usize| d.quartiles.map_or(-1, |q| i64::from(q[i]));
    writeln!(
        w,
        "scenario-distribution: profile={} first_seed={} budget={} runs={} failed={} q1={} median={} q3={} min={} max={}",
        profile,
        first_seed,
        budget,
        d.runs,
        d.failed,
        q(0),
        q(1),
        q(2),
        d.range.map_or(-1, |r| i64::from(r.0)),
        d.range.map_or(-1, |r| i64::from(r.1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_like_numpy() {
        assert_eq!(quartiles(&[]), None);
        assert_eq!(quartiles(&[7]), Some([7, 7, 7]));
        // numpy.percentile([10, 20], [25, 50, 75]) = 12.5, 15, 17.5 (rounded down here).
        assert_eq!(quartiles(&[10, 20]), Some([12, 15, 17]));
        assert_eq!(quartiles(&[1, 2, 3, 4, 5]), Some([2, 3, 4]));
        // [100, 200, 400, 800]: 175, 300, 500.
        assert_eq!(quartiles(&[100, 200, 400, 800]), Some([175, 300, 500]));
        assert_eq!(quartiles(&[u32::MAX, u32::MAX]), Some([u32::MAX; 3]));
    }

    #[test]
    fn distribution_of_runs() {
        let mut t = TimeToFailure::new();
        for s in [Some(900), None, Some(100), Some(500), None] {
            assert!(t.record(s));
        }
        let d = t.distribution();
        assert_eq!(d.runs, 5);
        assert_eq!(d.failed, 3);
        assert_eq!(d.quartiles, Some([300, 500, 700]));
        assert_eq!(d.range, Some((100, 900)));
        assert_eq!(d.failed_permille(), 600);
        let mut out = String::new();
        write_distribution(&mut out, "android-a9", 1, 40_000, &d).unwrap();
        assert_eq!(
            out,
            "time to failure: 3 of 5 seeds (1-5) failed both ways within 40000 steps (60.0%); failing step: median 500, quartiles 300-700, earliest 100, latest 900\n\
             scenario-distribution: profile=android-a9 first_seed=1 budget=40000 runs=5 failed=3 q1=300 median=500 q3=700 min=100 max=900\n"
        );
    }

    #[test]
    fn no_failure_and_capacity() {
        let mut t = TimeToFailure::new();
        for _ in 0..MAX_RUNS {
            assert!(t.record(None));
        }
        assert!(!t.record(Some(3)));
        let d = t.distribution();
        assert_eq!((d.runs, d.failed, d.quartiles), (MAX_RUNS as u32, 0, None));
        let mut out = String::new();
        write_distribution(&mut out, "android-a9-720m", 101, 100, &d).unwrap();
        assert!(out.starts_with(
            "time to failure: 0 of 1024 seeds (101-1124) failed both ways within 100 steps (0.0%)\n"
        ));
        assert!(out.ends_with("failed=0 q1=-1 median=-1 q3=-1 min=-1 max=-1\n"), "{out}");
        // Two of three: 66.7%.
        let mut t = TimeToFailure::new();
        for s in [Some(1), Some(2), None] {
            t.record(s);
        }
        assert_eq!(t.distribution().failed_permille(), 667);
    }
}
