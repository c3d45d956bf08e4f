//! `struct ratelimit_state` and `___ratelimit` (lib/ratelimit.c): at most `burst` messages per
//! `interval` jiffies; the ones refused are counted and reported as `callbacks suppressed`
//! when the next interval begins. Pure: the caller passes the time, so it is tested on the host.

/// `DEFAULT_RATELIMIT_INTERVAL` (5 * HZ) and `DEFAULT_RATELIMIT_BURST`.
pub const DEFAULT_RATELIMIT_INTERVAL: u64 = 5 * crate::config::HZ;
pub const DEFAULT_RATELIMIT_BURST: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatelimitState {
    interval: u64,
    burst: u32,
    /// Start of the current interval (None before the first call: `begin == 0`).
    begin: Option<u64>,
    printed: u32,
    missed: u32,
}

/// One call's answer: whether to print, and the count of messages suppressed in the interval
/// that just ended (Linux prints `NAME: N callbacks suppressed` first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratelimited {
    pub print: bool,
    pub suppressed: u32,
}

impl RatelimitState {
    /// `DEFINE_RATELIMIT_STATE(rs, interval, burst)`.
    pub const fn new(interval: u64, burst: u32) -> Self {
        RatelimitState { interval, burst, begin: None, printed: 0, missed: 0 }
    }

    /// `___ratelimit` at jiffies `now`.
    pub fn ratelimit(&mut self, now: u64) -> Ratelimited {
        let begin = *self.begin.get_or_insert(now);
        let mut suppressed = 0;
        // time_is_before_jiffies(begin + interval): the interval is over.
        if (begin.wrapping_add(self.interval).wrapping_sub(now) as i64) < 0 {
            suppressed = core::mem::take(&mut self.missed);
            self.begin = Some(now);
            self.printed = 0;
        }
        let print = self.burst > self.printed;
        if print {
            self.printed += 1;
        } else {
            self.missed += 1;
        }
        Ratelimited { print, suppressed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64dbg_burst_per_interval_then_the_suppressed_count() {
        let mut rs = RatelimitState::new(DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);
        let t0 = 1000;
        for _ in 0..10 {
            assert_eq!(rs.ratelimit(t0), Ratelimited { print: true, suppressed: 0 });
        }
        for _ in 0..3 {
            assert!(!rs.ratelimit(t0 + DEFAULT_RATELIMIT_INTERVAL).print, "still inside");
        }
        // One jiffy past the interval: a new burst, and the three refused are reported.
        let r = rs.ratelimit(t0 + DEFAULT_RATELIMIT_INTERVAL + 1);
        assert_eq!(r, Ratelimited { print: true, suppressed: 3 });
        assert_eq!(rs.ratelimit(t0 + DEFAULT_RATELIMIT_INTERVAL + 2).suppressed, 0);
    }
}
