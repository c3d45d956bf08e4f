//! `/proc/uptime` as Linux 6.1 prints it (fs/proc/uptime.c): seconds since boot and seconds
//! the CPUs spent idle, each with two decimals (truncated, not rounded).
use core::fmt::{self, Write};

use crate::kernel::time::Centis;

/// `uptime_ns`: since timekeeping started; `idle_ns`: every CPU's idle time, summed.
pub fn render(w: &mut impl Write, uptime_ns: u64, idle_ns: u64) -> fmt::Result {
    writeln!(w, "{} {}", Centis::from_ns(uptime_ns), Centis::from_ns(idle_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_linux_61_text() {
        // Debian's 6.1 on this board (tests/samples/linux-6.1-raspi2b-irq.txt).
        let mut out = String::new();
        render(&mut out, 1_309_999_999, 4_000_000).unwrap();
        assert_eq!(out, crate::proc::interrupts::tests::sample_file("/proc/uptime"));
        out.clear();
        render(&mut out, 3_600_050_000_000, 3_599_990_000_000).unwrap();
        assert_eq!(out, "3600.05 3599.99\n");
    }
}
