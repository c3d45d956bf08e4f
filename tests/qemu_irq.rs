//! QEMU tests of exception entry, interrupts and the tick: the boot lines Linux prints for
//! its interrupt controllers and timer, the tick's rate against the generic timer's counter
//! (exact under `-icount shift=0`), `/proc/interrupts`, `/proc/stat` and `/proc/uptime` from
//! live counts, interrupts taken at the prompt and through a long command, and the
//! exceptions that still oops through the new entry code (SVC-stack overflow, undefined
//! instruction).
mod common;

use std::thread;
use std::time::Duration;

use common::{Opts, Qemu, STEP};

/// Linux's `HZ` as pivm sets it (bcm2709_defconfig).
const HZ: u64 = 100;
/// The counter is QEMU's virtual clock, advanced by the instructions run. `sleep=off`: while
/// the guest idles in WFI the clock jumps straight to the next timer deadline. With the
/// default (`sleep=on`) it follows the host's clock while idle, and a host that deschedules
/// QEMU then moves it past several deadlines at once, so that one interrupt counts several
/// ticks (a loaded run read 187 timer interrupts for 195 ticks).
const ICOUNT: &[&str] = &["-icount", "shift=0,sleep=off"];
/// Nanoseconds per tick.
const TICK_NSEC: u64 = 1_000_000_000 / HZ;
/// Linux's `INITIAL_JIFFIES` for a 32-bit `jiffies` and HZ=100: 300 s before the wrap.
const INITIAL_JIFFIES: u64 = 0x1_0000_0000 - 300 * HZ;
/// The virtual interrupt numbers 6.1 gives the PL011 (ARMCTRL bank 2 bit 25, i.e. hwirq 89)
/// and the virtual generic timer (bcm2836-timer hwirq 3) on this board.
const UART_IRQ: usize = 114;
const TIMER_IRQ: usize = 124;

/// One `jiffies` answer: `jiffies_64`, the ticks since boot and the counter's nanoseconds
/// since the tick started, all read in one interrupts-off moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    jiffies: u64,
    ticks: u64,
    ns: u64,
}

fn jiffies(q: &mut Qemu) -> Sample {
    let out = q.cmd("jiffies");
    let line = q.line_with("jiffies", &out, "jiffies: ");
    let parse = || -> Option<Sample> {
        let rest = line.strip_prefix("jiffies: ")?;
        let (jiffies, rest) = rest.split_once(" (")?;
        let (ticks, rest) = rest.split_once(" ticks since boot, HZ=")?;
        let (hz, rest) = rest.split_once("; arch_sys_counter: ")?;
        let (secs, rest) = rest.split_once('.')?;
        let (nanos, _) = rest.split_once(" s since the tick started)")?;
        if hz != HZ.to_string() || nanos.len() != 9 {
            return None;
        }
        let ns = secs.parse::<u64>().ok()? * 1_000_000_000 + nanos.parse::<u64>().ok()?;
        Some(Sample { jiffies: jiffies.parse().ok()?, ticks: ticks.parse().ok()?, ns })
    };
    parse().unwrap_or_else(|| q.fail(&format!("cannot parse the jiffies line {line:?}")))
}

/// The CPU0 count of `/proc/interrupts`' line for `irq`, checking the line's 6.1 shape.
fn interrupts_count(q: &mut Qemu, irq: usize, chip_and_name: &str) -> u64 {
    let out = q.cmd("cat /proc/interrupts");
    q.expect_in("/proc/interrupts", &out, "           CPU0       \n");
    let prefix = format!("{irq:>3}:");
    let line = q.line_with("/proc/interrupts", &out, &prefix);
    let count = line[prefix.len()..].split_whitespace().next().and_then(|c| c.parse().ok());
    if !line.ends_with(chip_and_name) {
        q.fail(&format!("/proc/interrupts line {line:?} should end with {chip_and_name:?}"));
    }
    count.unwrap_or_else(|| q.fail(&format!("no count in {line:?}")))
}

/// The tick is up to date with the counter: `ticks` is the number of whole periods since the
/// tick started, or one fewer when an expiry was pending (its interrupt not yet taken).
fn assert_tick_matches_counter(q: &Qemu, s: Sample) {
    let periods = s.ns / TICK_NSEC;
    if s.ticks != periods && s.ticks + 1 != periods {
        q.fail(&format!(
            "{} ticks after {} ns of the counter: expected {periods} (HZ={HZ})",
            s.ticks, s.ns
        ));
    }
    if s.jiffies != INITIAL_JIFFIES + s.ticks {
        q.fail(&format!("jiffies_64 {} is not INITIAL_JIFFIES + {} ticks", s.jiffies, s.ticks));
    }
}

#[test]
fn boot_lines_and_the_tick_at_hz_under_icount() {
    let (mut q, boot) = Qemu::boot_to_prompt(Opts::raw("2G").qemu_args(ICOUNT));
    // The lines Linux 6.1 prints on this board (tests/samples/linux-6.1-raspi2b-irq.txt), in
    // its order: early_irq_init, then time_init's arch_timer and clocksource, then
    // calibrate_delay (lpj from the timer: CNTFRQ / HZ).
    let lines = [
        "NR_IRQS: 16, nr_irqs: 16, preallocated irqs: 16\n",
        "arch_timer: cp15 timer(s) running at 62.50MHz (virt).\n",
        "clocksource: arch_sys_counter: mask: 0x1ffffffffffffff max_cycles: 0x1cd42e208c, \
         max_idle_ns: 881590405314 ns\n",
        "Calibrating delay loop (skipped), value calculated using timer frequency.. \
         125.00 BogoMIPS (lpj=625000)\n",
    ];
    let mut at = 0;
    for line in lines {
        match boot[at..].find(line) {
            Some(i) => at += i + line.len(),
            None => q.fail(&format!("boot log lacks {line:?} (after the lines before it)")),
        }
    }

    // Under -icount shift=0 the counter is QEMU's virtual clock: every sample must show
    // exactly HZ ticks per second of it, and the tick count must keep growing at the prompt.
    let first = jiffies(&mut q);
    assert_tick_matches_counter(&q, first);
    thread::sleep(Duration::from_secs(2));
    let second = jiffies(&mut q);
    assert_tick_matches_counter(&q, second);
    if second.ns - first.ns < 500_000_000 || second.ticks - first.ticks < 50 {
        q.fail(&format!(
            "the tick barely ran in two seconds at the prompt: {first:?} -> {second:?}"
        ));
    }

    // /proc/interrupts counts one timer interrupt per tick (none merged: interrupts are
    // on at the prompt), read between two samples.
    let count = interrupts_count(&mut q, TIMER_IRQ, "bcm2836-timer   3 Edge      arch_timer");
    let third = jiffies(&mut q);
    assert_tick_matches_counter(&q, third);
    if count > third.ticks || count + 5 < second.ticks {
        q.fail(&format!(
            "arch_timer count {count} should lie between the ticks {} and {} read around it",
            second.ticks, third.ticks
        ));
    }

    // /proc/uptime: the counter's seconds since the tick started, in hundredths.
    let out = q.cmd("cat /proc/uptime");
    let fourth = jiffies(&mut q);
    let uptime = out.split_whitespace().next().unwrap_or("");
    let centis = uptime.replace('.', "").parse::<u64>().unwrap_or(u64::MAX);
    if !uptime.contains('.') || centis < third.ns / TICK_NSEC || centis > fourth.ns / TICK_NSEC {
        q.fail(&format!("/proc/uptime {out:?} is not between {third:?} and {fourth:?}"));
    }

    // /proc/stat's intr line: the total first, then one count per interrupt number.
    let out = q.cmd("cat /proc/stat");
    let line = q.line_with("/proc/stat", &out, "intr ");
    let counts: Vec<u64> =
        line.split_whitespace().skip(1).map(|n| n.parse().unwrap_or(u64::MAX)).collect();
    if counts.len() < TIMER_IRQ + 2 || counts[0] != counts[1..].iter().sum::<u64>() {
        q.fail(&format!("intr line {line:?}: total must be the sum of the counts"));
    }
    if counts[1 + TIMER_IRQ] < count || counts[1 + UART_IRQ] == 0 {
        q.fail(&format!("intr line {line:?}: timer and uart-pl011 counts missing"));
    }
    q.poweroff_ok();
}

#[test]
fn interrupts_stay_enabled_at_the_prompt_and_through_a_long_command() {
    // Under -icount the counter advances with the instructions run, so a host that
    // deschedules QEMU cannot make an interrupt late by a whole period (without it, a loaded
    // host merged 109 of 971 ticks into later interrupts) and only the kernel's own
    // interrupts-off stretches can. Not `sleep=off` here: the ticks it lets pass between the
    // `jiffies` and `/proc/interrupts` reads at the prompt (the idle clock jumps from deadline to
    // deadline) would count as ticks without their own interrupt.
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").qemu_args(&["-icount", "shift=0"]));
    let uart_before = interrupts_count(&mut q, UART_IRQ, "ARMCTRL-level  89 Edge      uart-pl011");
    // Idle at the prompt: the ticks keep coming, each through an interrupt.
    let t0 = jiffies(&mut q);
    let c0 = interrupts_count(&mut q, TIMER_IRQ, "bcm2836-timer   3 Edge      arch_timer");
    thread::sleep(Duration::from_secs(1));
    let t1 = jiffies(&mut q);
    let c1 = interrupts_count(&mut q, TIMER_IRQ, "bcm2836-timer   3 Edge      arch_timer");
    if t1.ticks < t0.ticks + 20 || c1 < c0 + 20 {
        q.fail(&format!(
            "at the prompt: ticks {} -> {}, interrupts {c0} -> {c1}",
            t0.ticks, t1.ticks
        ));
    }
    let out = q.cmd_timeout("memtest", Duration::from_secs(240));
    q.expect_in("memtest", &out, "memtest: ok");
    let c2 = interrupts_count(&mut q, TIMER_IRQ, "bcm2836-timer   3 Edge      arch_timer");
    let t2 = jiffies(&mut q);
    for t in [t0, t1, t2] {
        assert_tick_matches_counter(&q, t);
    }
    // Every tick is one interrupt unless interrupts were off across a whole period (then the
    // next interrupt counts the missed ticks too). Ticks minus interrupts, taken around
    // memtest, may grow only by what passes between two reads.
    let missed_before = t1.ticks as i64 - c1 as i64;
    let missed_after = t2.ticks as i64 - c2 as i64;
    let span = t2.ticks - t1.ticks;
    if span < 100 || missed_after - missed_before > 5 {
        q.fail(&format!(
            "over {span} ticks of memtest, ticks without their own interrupt went from \
             {missed_before} to {missed_after}: interrupts were off for a while"
        ));
    }
    // Each typed byte arrived through the PL011's receive interrupt.
    let uart_after = interrupts_count(&mut q, UART_IRQ, "ARMCTRL-level  89 Edge      uart-pl011");
    if uart_after <= uart_before {
        q.fail(&format!("uart-pl011 count stayed at {uart_before} while commands were typed"));
    }
    q.verify_ok("after memtest with the tick running");
    q.poweroff_ok();
}

#[test]
fn svc_stack_overflow_still_oopses() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G"));
    q.send("crash stack\n");
    let oops = q.wait_for("Kernel panic - not syncing: Fatal exception", STEP).unwrap();
    for needle in [
        "Insufficient stack space to handle exception!\n",
        "Task stack:     [0x",
        "Overflow stack: [0x",
        "Internal error: kernel stack overflow: 0 [#1] SMP ARM\n",
        "LR is at pivm::console::commands::system::exhaust_stack+0x",
        "Mode SVC_32",
        "---[ end trace 0000000000000000 ]---\n",
    ] {
        q.expect_in("crash stack", &oops, needle);
    }
    if oops.contains("recursive fault") {
        q.fail("the overflow must be caught on the emergency stack, not fault again");
    }
}

#[test]
fn undefined_instruction_oopses_through_the_svc_entry() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G"));
    // The fixup path first, twice: a faulting peek after an earlier one still reports.
    for _ in 0..2 {
        let out = q.cmd("peek 0");
        q.expect_in("peek 0", &out, "fault at virtual address 00000000");
    }
    q.send("crash undef\n");
    let oops = q.wait_for("Kernel panic - not syncing: Fatal exception", STEP).unwrap();
    for needle in [
        "Internal error: Oops - undefined instruction: 0 [#1] SMP ARM\n",
        "PC is at pivm::console::commands::system::cmd_crash+0x",
        "IRQs on  FIQs off  Mode SVC_32",
        "(e7f000f0) \n",
    ] {
        q.expect_in("crash undef", &oops, needle);
    }
}
