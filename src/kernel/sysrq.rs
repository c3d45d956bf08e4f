//! Magic SysRq on the serial console (6.1's `drivers/tty/sysrq.c` with serial_core's
//! `uart_handle_break` / `uart_handle_sysrq_char`): a BREAK on the console's UART arms it for
//! five seconds, and the next character received is a command, not input: `t` lists every
//! task's state (`show_state`), `w` the blocked (`D`) ones, any other key the help line. The
//! key is taken in the UART's interrupt and the command runs from the tick, whatever the
//! console is doing, so a console that no longer answers can still say what every task waits
//! for. The arming and the text are pure; the device half is at the end.
use core::fmt::{self, Write};

use crate::kernel::time::HZ;

/// `SYSRQ_TIMEOUT`: how long after a BREAK the next character is a SysRq command.
pub const SYSRQ_TIMEOUT: u64 = 5 * HZ;

/// The serial port's SysRq state (`uart_port::sysrq`): the jiffy its arming expires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysrqArm {
    until: Option<u64>,
}

impl SysrqArm {
    pub const fn new() -> Self {
        SysrqArm { until: None }
    }

    /// `uart_handle_break` on the console's port at jiffy `now`: the first BREAK arms SysRq
    /// and is consumed (true); a second one while armed disarms it and is received as any
    /// BREAK is (false).
    pub fn brk(&mut self, now: u64) -> bool {
        if self.until.is_none() {
            self.until = Some(now.saturating_add(SYSRQ_TIMEOUT));
            return true;
        }
        self.until = None;
        false
    }

    /// `uart_handle_sysrq_char`: the character `ch` received at `now` is the SysRq command
    /// (Some, consumed) when SysRq is armed and has not expired; either way it is disarmed.
    /// A NUL is never a command.
    pub fn take_key(&mut self, ch: u8, now: u64) -> Option<u8> {
        let until = self.until.take()?;
        (ch != 0 && now < until).then_some(ch)
    }
}

/// What a SysRq key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysrqAction {
    /// `sysrq_handle_showstate`: every task's state.
    ShowState,
    /// `sysrq_handle_showstate_blocked`: the tasks in uninterruptible sleep.
    ShowBlocked,
}

/// `struct sysrq_key_op`: the key, its help and action messages as 6.1 prints them.
#[derive(Clone, Copy, Debug)]
pub struct SysrqKeyOp {
    pub key: u8,
    pub help_msg: &'static str,
    pub action_msg: &'static str,
    pub action: SysrqAction,
}

/// `sysrq_key_table`, cut to the keys pivm has, in the table's (key) order.
pub const SYSRQ_KEY_TABLE: [SysrqKeyOp; 2] = [
    SysrqKeyOp {
        key: b't',
        help_msg: "show-task-states(t)",
        action_msg: "Show State",
        action: SysrqAction::ShowState,
    },
    SysrqKeyOp {
        key: b'w',
        help_msg: "show-blocked-tasks(w)",
        action_msg: "Show Blocked State",
        action: SysrqAction::ShowBlocked,
    },
];

/// `__sysrq_get_key_op`: the operation of `key`.
pub fn key_op(key: u8) -> Option<&'static SysrqKeyOp> {
    SYSRQ_KEY_TABLE.iter().find(|op| op.key == key)
}

/// `__handle_sysrq`'s first line for `key`: the action's message, or the help line listing
/// every key (for a key with no operation).
pub fn render_header(w: &mut impl Write, key: u8) -> fmt::Result {
    match key_op(key) {
        Some(op) => writeln!(w, "sysrq: {}", op.action_msg),
        None => {
            w.write_str("sysrq: HELP : ")?;
            for op in &SYSRQ_KEY_TABLE {
                write!(w, "{} ", op.help_msg)?;
            }
            writeln!(w)
        }
    }
}

/// Where a sleeping task waits, as far as pivm knows it (the function `/proc/PID/wchan`
/// would name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wchan {
    /// Not asleep.
    None,
    /// Asleep on the card (`io_schedule`), `D`.
    Io,
    /// Asleep on a wait queue, with the jiffies left before its timeout if it has one.
    WaitQueue(Option<u64>),
    /// Asleep until a deadline (`nanosleep`, a pipe or `wait4` with its own wake-ups), with
    /// the jiffies left, or with none.
    Sleep(Option<u64>),
}

/// One task as `sched_show_task` prints it.
#[derive(Clone, Copy, Debug)]
pub struct TaskLine<'a> {
    pub comm: &'a str,
    pub state: char,
    /// The task on the CPU (`task_is_running` and current): 6.1 marks it.
    pub running: bool,
    pub pid: u32,
    pub ppid: u32,
    pub flags: u32,
    pub wchan: Wchan,
}

/// `sched_show_task`'s line for `t` (stack usage 0: pivm does not track it, as 6.1 without
/// `CONFIG_DEBUG_STACK_USAGE`), then, where 6.1 dumps the task's stack, what it waits on.
pub fn render_task(w: &mut impl Write, t: &TaskLine<'_>) -> fmt::Result {
    write!(w, "task:{:<15.15} state:{}", t.comm, t.state)?;
    if t.running {
        w.write_str("  running task    ")?;
    }
    writeln!(w, " stack:{:<5} pid:{:<5} ppid:{:<6} flags:0x{:08x}", 0, t.pid, t.ppid, t.flags)?;
    let left = |w: &mut dyn Write, j: Option<u64>| match j {
        Some(j) => writeln!(w, ", {j} jiffies left"),
        None => writeln!(w),
    };
    match t.wchan {
        Wchan::None => Ok(()),
        Wchan::Io => writeln!(w, "  waiting in io_schedule (the card)"),
        Wchan::WaitQueue(j) => {
            w.write_str("  waiting on a wait queue")?;
            left(w, j)
        }
        Wchan::Sleep(j) => {
            w.write_str("  sleeping")?;
            left(w, j)
        }
    }
}

/// The CPU's run queue as `sysrq_sched_debug_show` begins it (`print_cpu`), and, pivm's own,
/// what the console (the idle task, pid 0) was doing.
/// `console` is the command it was running (None: it was at the prompt).
pub fn render_cpu(
    w: &mut impl Write,
    nr_running: usize,
    curr: u32,
    console: Option<&str>,
) -> fmt::Result {
    writeln!(w, "cpu#0")?;
    writeln!(w, "  .{:<30}: {}", "nr_running", nr_running)?;
    writeln!(w, "  .{:<30}: {}", "curr->pid", curr)?;
    match console {
        Some(cmd) => writeln!(w, "console: running `{cmd}`"),
        None => writeln!(w, "console: at the prompt"),
    }
}

#[cfg(kernel)]
mod device {
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::{render_header, SysrqAction, SysrqArm};
    use crate::kernel::spinlock::IrqSpinLock;

    /// The console port's SysRq arming (taken by the UART's interrupt).
    static ARM: IrqSpinLock<SysrqArm> = IrqSpinLock::new(SysrqArm::new());
    /// A SysRq key received and not yet handled (0: none).
    static PENDING: AtomicU32 = AtomicU32::new(0);

    /// The console's UART received a BREAK: whether SysRq took it (see [`SysrqArm::brk`]).
    pub fn handle_break() -> bool {
        ARM.lock().brk(crate::kernel::time::get_jiffies_64())
    }

    /// The console's UART received `ch`: whether it was a SysRq command (then it is run from
    /// the next tick, see [`run_pending`], and is not input).
    pub fn handle_char(ch: u8) -> bool {
        let key = ARM.lock().take_key(ch, crate::kernel::time::get_jiffies_64());
        match key {
            Some(k) => {
                PENDING.store(u32::from(k), Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// From the tick: runs a pending SysRq command once the console's output and the locks
    /// the report reads are free (an interrupt must not wait for a lock the code it
    /// interrupted holds); until then it stays pending. Nothing here allocates.
    pub fn run_pending() {
        let key = PENDING.load(Ordering::Acquire);
        if key == 0 {
            return;
        }
        let Some(mut out) = crate::console::printk::try_console() else { return };
        let key = key as u8;
        let header = |w: &mut dyn core::fmt::Write, _: &str, _: u32| {
            let _ = render_header(&mut Dyn(w), key);
        };
        let done = match super::key_op(key).map(|op| op.action) {
            None => {
                let _ = render_header(&mut out, key);
                true
            }
            Some(a) => {
                let blocked = a == SysrqAction::ShowBlocked;
                crate::kernel::process::show_state::render(&mut out, header, blocked).is_ok()
            }
        };
        if done {
            PENDING.store(0, Ordering::Release);
        }
    }

    /// A `dyn Write` as an `impl Write` (the reports' headers get the former).
    pub struct Dyn<'a>(pub &'a mut dyn core::fmt::Write);

    impl core::fmt::Write for Dyn<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.write_str(s)
        }
    }
}

#[cfg(kernel)]
pub use device::{handle_break, handle_char, run_pending, Dyn};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_break_arms_sysrq_for_five_seconds_and_the_next_char_is_the_command() {
        let mut s = SysrqArm::new();
        // Not armed: a character is input.
        assert_eq!(s.take_key(b't', 100), None);
        assert!(s.brk(100));
        assert_eq!(s.take_key(b't', 100 + SYSRQ_TIMEOUT - 1), Some(b't'));
        // One command per BREAK.
        assert_eq!(s.take_key(b't', 101), None);
        // Too late: the character is input again, and the arming is gone.
        assert!(s.brk(200));
        assert_eq!(s.take_key(b't', 200 + SYSRQ_TIMEOUT), None);
        assert_eq!(s.take_key(b't', 201), None);
    }

    #[test]
    fn a_second_break_disarms_and_a_nul_is_no_command() {
        let mut s = SysrqArm::new();
        assert!(s.brk(0));
        assert!(!s.brk(1));
        assert_eq!(s.take_key(b't', 2), None);
        assert!(s.brk(3));
        assert_eq!(s.take_key(0, 4), None);
        assert_eq!(s.take_key(b't', 5), None);
    }

    #[test]
    fn headers_and_help_read_as_6_1_prints_them() {
        let mut out = String::new();
        render_header(&mut out, b't').unwrap();
        render_header(&mut out, b'w').unwrap();
        render_header(&mut out, b'?').unwrap();
        assert_eq!(
            out,
            "sysrq: Show State\nsysrq: Show Blocked State\n\
             sysrq: HELP : show-task-states(t) show-blocked-tasks(w) \n"
        );
    }

    #[test]
    fn task_lines() {
        let mut out = String::new();
        let mut t = TaskLine {
            comm: "swapstress-with-a-long-name",
            state: 'D',
            running: false,
            pid: 3,
            ppid: 1,
            flags: 0x40,
            wchan: Wchan::Io,
        };
        render_task(&mut out, &t).unwrap();
        t.comm = "kswapd0";
        t.state = 'S';
        t.pid = 2;
        t.ppid = 0;
        t.flags = 0x0022_0840;
        t.wchan = Wchan::WaitQueue(Some(25));
        render_task(&mut out, &t).unwrap();
        t.comm = "cardmap";
        t.state = 'R';
        t.running = true;
        t.pid = 12345;
        t.wchan = Wchan::None;
        render_task(&mut out, &t).unwrap();
        t.running = false;
        t.state = 'S';
        t.wchan = Wchan::Sleep(None);
        render_task(&mut out, &t).unwrap();
        assert_eq!(
            out,
            "task:swapstress-with state:D stack:0     pid:3     ppid:1      flags:0x00000040\n\
             \x20 waiting in io_schedule (the card)\n\
             task:kswapd0         state:S stack:0     pid:2     ppid:0      flags:0x00220840\n\
             \x20 waiting on a wait queue, 25 jiffies left\n\
             task:cardmap         state:R  running task     stack:0     pid:12345 ppid:0      \
             flags:0x00220840\n\
             task:cardmap         state:S stack:0     pid:12345 ppid:0      flags:0x00220840\n\
             \x20 sleeping\n"
        );
    }

    #[test]
    fn cpu_section() {
        let mut out = String::new();
        render_cpu(&mut out, 2, 0, None).unwrap();
        render_cpu(&mut out, 1, 3, Some("ps")).unwrap();
        assert_eq!(
            out,
            "cpu#0\n  .nr_running                    : 2\n  .curr->pid                     : 0\n\
             console: at the prompt\n\
             cpu#0\n  .nr_running                    : 1\n  .curr->pid                     : 3\n\
             console: running `ps`\n"
        );
    }
}
