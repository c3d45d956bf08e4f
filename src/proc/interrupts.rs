//! `/proc/interrupts` as Linux 6.1 prints it (kernel/irq/proc.c `show_interrupts`, then
//! arch/arm's `arch_show_interrupts`): a header with one column per online CPU, one line per
//! descriptor that has a handler or has counted something (hidden and chained ones left out),
//! the IPIs on their own lines, and `Err:`.
use core::fmt::{self, Write};

use crate::kernel::irq::{IrqDesc, NR_CPUS};

/// What one descriptor shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqLine {
    pub irq: u32,
    /// Per CPU, indexed by CPU number.
    pub counts: [u32; NR_CPUS],
    /// The chip's name, None for a descriptor without one (`None`).
    pub chip: Option<&'static str>,
    /// The hardware number, if the descriptor belongs to a domain.
    pub hwirq: Option<u32>,
    /// `irqd_is_level_type` (`Level`/`Edge`).
    pub level: bool,
    /// The requested handler's name.
    pub action: Option<&'static str>,
    pub hidden: bool,
    pub chained: bool,
}

impl IrqLine {
    /// The line descriptor `irq` shows.
    pub fn of(irq: u32, d: &IrqDesc) -> Self {
        IrqLine {
            irq,
            counts: d.kstat,
            chip: d.chip.map(|c| c.name()),
            hwirq: d.domain.map(|_| d.hwirq),
            level: false,
            action: d.action.map(|a| a.name),
            hidden: d.hidden,
            chained: d.is_chained(),
        }
    }
}

/// One IPI's line (`show_ipi_list`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpiLine {
    pub counts: [u32; NR_CPUS],
    pub name: &'static str,
}

/// The width of the number column: 3, wider once `nr_irqs` reaches 1000.
pub fn prec(nr_irqs: u32) -> usize {
    let mut prec = 3;
    let mut j = 1000u64;
    while prec < 10 && j <= u64::from(nr_irqs) {
        prec += 1;
        j *= 10;
    }
    prec
}

/// Renders the file: `lines` in descriptor order (every allocated descriptor: the rules of
/// which show are applied here), `online` the online CPUs' numbers.
pub fn render(
    w: &mut impl Write,
    nr_irqs: u32,
    online: &[usize],
    lines: impl Iterator<Item = IrqLine>,
    ipis: impl Iterator<Item = IpiLine>,
    err_count: u32,
) -> fmt::Result {
    let prec = prec(nr_irqs);
    write!(w, "{:1$}", "", prec + 8)?;
    for cpu in online {
        write!(w, "CPU{:<8}", cpu)?;
    }
    writeln!(w)?;
    for l in lines {
        let any_count = online.iter().any(|&c| l.counts[c] != 0);
        if l.hidden || ((l.action.is_none() || l.chained) && !any_count) {
            continue;
        }
        write!(w, "{:>1$}: ", l.irq, prec)?;
        for &c in online {
            write!(w, "{:>10} ", l.counts[c])?;
        }
        write!(w, " {:>8}", l.chip.unwrap_or("None"))?;
        match l.hwirq {
            Some(hw) => write!(w, " {:>1$}", hw, prec)?,
            None => write!(w, " {:1$}", "", prec)?,
        }
        write!(w, " {:<8}", if l.level { "Level" } else { "Edge" })?;
        if let Some(a) = l.action {
            write!(w, "  {a}")?;
        }
        writeln!(w)?;
    }
    for (i, ipi) in ipis.enumerate() {
        write!(w, "{:>1$}{2}: ", "IPI", prec - 1, i)?;
        for &c in online {
            write!(w, "{:>10} ", ipi.counts[c])?;
        }
        writeln!(w, " {}", ipi.name)?;
    }
    writeln!(w, "{:>1$}: {2:>10}", "Err", prec, err_count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What Debian's Linux 6.1 printed on QEMU's raspi2b with `maxcpus=1`.
    const SAMPLE: &str = include_str!("../../tests/samples/linux-6.1-raspi2b-irq.txt");

    /// The output of `cat FILE` in the sample.
    pub(crate) fn sample_file(file: &str) -> String {
        let start = SAMPLE.find(&format!("### cat {file}\n")).expect("in the sample");
        let body = &SAMPLE[start..];
        let body = &body[body.find('\n').unwrap() + 1..];
        let end = body.find("### ").unwrap_or(body.len());
        body[..end].to_string()
    }

    fn line(irq: u32, count: u32, chip: &'static str, hw: u32, action: &'static str) -> IrqLine {
        IrqLine {
            irq,
            counts: [count, 0, 0, 0],
            chip: Some(chip),
            hwirq: Some(hw),
            level: false,
            action: Some(action),
            hidden: false,
            chained: false,
        }
    }

    #[test]
    fn renders_linux_61_text() {
        let quiet = IrqLine { action: None, ..line(51, 0, "ARMCTRL-level", 2, "") };
        let ipi = IrqLine { hidden: true, ..line(17, 0, "IPI", 0, "IPI") };
        let chained = IrqLine { chained: true, action: None, ..line(121, 0, "bcm2836-gpu", 8, "") };
        let lines = [
            ipi,
            line(50, 4, "ARMCTRL-level", 1, "3f00b880.mailbox"),
            quiet,
            line(60, 1, "ARMCTRL-level", 35, "timer"),
            line(114, 0, "ARMCTRL-level", 89, "uart-pl011"),
            chained,
            line(124, 332, "bcm2836-timer", 3, "arch_timer"),
            line(126, 0, "bcm2836-pmu", 9, "arm-pmu"),
        ];
        let names = [
            "CPU wakeup interrupts",
            "Timer broadcast interrupts",
            "Rescheduling interrupts",
            "Function call interrupts",
            "CPU stop interrupts",
            "IRQ work interrupts",
            "completion interrupts",
        ];
        let ipis = names.iter().map(|&name| IpiLine { counts: [0; NR_CPUS], name });
        let mut out = String::new();
        render(&mut out, 127, &[0], lines.into_iter(), ipis, 0).unwrap();
        assert_eq!(out, sample_file("/proc/interrupts"));
    }

    #[test]
    fn counted_lines_show_without_a_handler_and_columns_follow_online_cpus() {
        let bare = IrqLine { chip: None, hwirq: None, action: None, ..line(3, 0, "", 0, "") };
        let counted = IrqLine { counts: [2, 0, 5, 0], ..bare };
        let mut out = String::new();
        render(&mut out, 1000, &[0, 2], [bare, counted].into_iter(), core::iter::empty(), 7)
            .unwrap();
        assert_eq!(
            out,
            "            CPU0       CPU2       \n   \
             3:          2          5      None      Edge    \n \
             Err:          7\n"
        );
        assert_eq!(prec(999), 3);
        assert_eq!(prec(1000), 4);
    }
}
