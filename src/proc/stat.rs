//! `/proc/stat`'s CPU and interrupt lines as Linux 6.1 prints them (fs/proc/stat.c): time
//! per CPU state in `USER_HZ` units, for all CPUs then each online one, and `intr` with the
//! total and every descriptor's count. pivm accounts CPU time by the tick, so only user,
//! system and idle time are non-zero; the lines after `intr` (context switches, forks,
//! runnable tasks, softirqs) need a scheduler and are left out.
use core::fmt::{self, Write};

use crate::kernel::time::{CpuTicks, HZ, USER_HZ};

/// Ticks in `USER_HZ` units (`nsec_to_clock_t` of a tick-accounted time).
fn clock_t(ticks: u64) -> u64 {
    ticks * USER_HZ / HZ
}

fn cpu_line(w: &mut impl Write, label: fmt::Arguments<'_>, t: &CpuTicks) -> fmt::Result {
    // user nice system idle iowait irq softirq steal guest guest_nice
    writeln!(
        w,
        "{label} {} 0 {} {} 0 0 0 0 0 0",
        clock_t(t.user),
        clock_t(t.system),
        clock_t(t.idle)
    )
}

/// `cpus`: each online CPU's number and ticks; `irqs`: every descriptor's count from 0 to
/// `nr_irqs - 1` (summed over CPUs).
pub fn render(
    w: &mut impl Write,
    cpus: &[(usize, CpuTicks)],
    irqs: impl Iterator<Item = u64> + Clone,
) -> fmt::Result {
    let total = cpus.iter().fold(CpuTicks::default(), |mut a, (_, t)| {
        a.user += t.user;
        a.system += t.system;
        a.idle += t.idle;
        a
    });
    cpu_line(w, format_args!("cpu "), &total)?;
    for (n, t) in cpus {
        cpu_line(w, format_args!("cpu{n}"), t)?;
    }
    write!(w, "intr {}", irqs.clone().sum::<u64>())?;
    for n in irqs {
        write!(w, " {n}")?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_linux_61_cpu_and_intr_lines() {
        // Debian's 6.1 (tests/samples/linux-6.1-raspi2b-irq.txt): 127 descriptors; the
        // mailbox (50), the system timer (60) and the arch timer (124) had counted.
        let mut counts = [0u64; 127];
        counts[50] = 4;
        counts[60] = 1;
        counts[124] = 333;
        let t = CpuTicks { user: 0, system: 130, idle: 0 };
        let mut out = String::new();
        render(&mut out, &[(0, t)], counts.iter().copied()).unwrap();
        let mut expect =
            String::from("cpu  0 0 130 0 0 0 0 0 0 0\ncpu0 0 0 130 0 0 0 0 0 0 0\nintr 338");
        for c in counts {
            expect += &format!(" {c}");
        }
        expect += "\n";
        assert_eq!(out, expect);
        // Linux's own lines, up to what pivm leaves out.
        let sample = crate::proc::interrupts::tests::sample_file("/proc/stat");
        assert!(sample.starts_with(&out), "{sample}");
    }

    #[test]
    fn totals_add_the_cpus() {
        let a = CpuTicks { user: 1, system: 2, idle: 3 };
        let b = CpuTicks { user: 10, system: 20, idle: 30 };
        let mut out = String::new();
        render(&mut out, &[(0, a), (3, b)], [].into_iter()).unwrap();
        assert_eq!(
            out,
            "cpu  11 0 22 33 0 0 0 0 0 0\ncpu0 1 0 2 3 0 0 0 0 0 0\ncpu3 10 0 20 30 0 0 0 0 0 0\nintr 0\n"
        );
    }
}
