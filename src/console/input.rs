//! Typed input between the UART and the line editor. The UART's receive interrupt puts
//! every byte into a type-ahead buffer as it arrives (Ctrl-C marks the running command
//! interrupted, see `console::interrupted`); the console loop reads the buffer, idling in
//! between, so no keystroke is lost or reordered. If the buffer overflows, the loss is
//! reported to the line editor (which then refuses the line it hit), never silent.
use super::line::CTRL_C;

/// Bytes of type-ahead kept while a command runs (four full lines).
pub const TYPE_AHEAD_MAX: usize = 4 * super::line::LINE_MAX;

/// What the console loop reads next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A typed byte, in the order it arrived.
    Byte(u8),
    /// Bytes were dropped here because the type-ahead buffer was full.
    Lost,
}

/// A FIFO of typed bytes with the Ctrl-C and overflow state of the running command.
#[derive(Clone, Debug)]
pub struct TypeAhead {
    buf: [u8; TYPE_AHEAD_MAX],
    head: usize,
    len: usize,
    /// Bytes were dropped after the ones buffered; set until the loss is handed out.
    lost: bool,
    /// Ctrl-C arrived since [`TypeAhead::begin_command`].
    interrupted: bool,
    /// A command runs (between [`TypeAhead::begin_command`] and [`TypeAhead::end_command`]):
    /// Ctrl-C is its interrupt. At the prompt Ctrl-C is a byte for the line editor.
    running: bool,
}

impl Default for TypeAhead {
    fn default() -> Self {
        Self::new()
    }
}

impl TypeAhead {
    pub const fn new() -> Self {
        Self {
            buf: [0; TYPE_AHEAD_MAX],
            head: 0,
            len: 0,
            lost: false,
            interrupted: false,
            running: false,
        }
    }

    /// A received byte. While a command runs, Ctrl-C interrupts it (and is consumed, as a
    /// tty's ISIG consumes it); any other byte, and Ctrl-C at the prompt (the line editor
    /// cancels the line with it), is kept for the line editor. Once a byte
    /// had to be dropped, every later one is dropped too until the loss has been handed out,
    /// so what is kept is always a prefix of what was typed.
    pub fn receive(&mut self, b: u8) {
        if b == CTRL_C && self.running {
            self.interrupted = true;
        } else if self.lost || self.len == TYPE_AHEAD_MAX {
            self.lost = true;
        } else {
            self.buf[(self.head + self.len) % TYPE_AHEAD_MAX] = b;
            self.len += 1;
        }
    }

    /// The next buffered input: bytes in order, then the loss if there was one.
    pub fn pop(&mut self) -> Option<Input> {
        if self.len > 0 {
            let b = self.buf[self.head];
            self.head = (self.head + 1) % TYPE_AHEAD_MAX;
            self.len -= 1;
            Some(Input::Byte(b))
        } else if self.lost {
            self.lost = false;
            Some(Input::Lost)
        } else {
            None
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && !self.lost
    }

    /// Whether Ctrl-C arrived since the running command started.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// A command starts: forget an earlier command's Ctrl-C. The bytes still buffered were
    /// typed after the command's line, so they are the command's type-ahead: a Ctrl-C among
    /// them (typed right after Enter, received while the prompt was still reading)
    /// interrupts the command, as it would had it arrived a moment later.
    pub fn begin_command(&mut self) {
        self.interrupted = false;
        self.running = true;
        let (head, len) = (self.head, self.len);
        self.len = 0;
        for i in 0..len {
            let b = self.buf[(head + i) % TYPE_AHEAD_MAX];
            if b == CTRL_C {
                self.interrupted = true;
            } else {
                self.buf[(self.head + self.len) % TYPE_AHEAD_MAX] = b;
                self.len += 1;
            }
        }
    }

    /// The command returned: Ctrl-C goes to the line editor again.
    pub fn end_command(&mut self) {
        self.running = false;
    }

    /// Puts bytes back in front of what is buffered, in order: input a program was given but
    /// never read goes back to the line editor when it exits, as a tty's input queue outlives
    /// the program that left it unread. If they do not all fit, the newest buffered bytes are
    /// dropped and the loss reported, so what is kept stays a prefix of what was typed.
    pub fn unread(&mut self, bytes: &[u8]) {
        let mut all = [0u8; TYPE_AHEAD_MAX];
        let mut n = 0;
        let old = (0..self.len).map(|i| self.buf[(self.head + i) % TYPE_AHEAD_MAX]);
        for b in bytes.iter().copied().chain(old) {
            if n == TYPE_AHEAD_MAX {
                self.lost = true;
                break;
            }
            all[n] = b;
            n += 1;
        }
        self.buf = all;
        self.head = 0;
        self.len = n;
    }

    /// Whether Ctrl-C arrived, forgetting it (a command that handles Ctrl-C and goes on,
    /// as `run` does for its foreground program, sees the next one).
    pub fn take_interrupt(&mut self) -> bool {
        core::mem::replace(&mut self.interrupted, false)
    }
}

#[cfg(kernel)]
mod device {
    use super::{Input, TypeAhead};
    use crate::board::raspi::uart;
    use crate::kernel::irq::{self, IrqError, IrqReturn};
    use crate::kernel::spinlock::IrqSpinLock;

    /// Taken by the UART's interrupt handler too, hence interrupt-safe.
    static TYPE_AHEAD: IrqSpinLock<TypeAhead> = IrqSpinLock::new(TypeAhead::new());

    /// Moves every byte the UART's receive FIFO holds into the type-ahead buffer; whether
    /// there was one. A BREAK and the character after it may be a SysRq command instead
    /// (`kernel::sysrq`), which is not input; a BREAK that is not is received as a NUL.
    /// Input waiting starts the console watchdog's clock (`kernel::watchdog`).
    fn drain(t: &mut TypeAhead) -> bool {
        use crate::kernel::sysrq;
        let mut any = false;
        while let Some(rx) = uart::getc() {
            any = true;
            match rx {
                uart::Rx::Break if sysrq::handle_break() => {}
                uart::Rx::Break => t.receive(0),
                uart::Rx::Byte(b) if sysrq::handle_char(b) => {}
                uart::Rx::Byte(b) => {
                    t.receive(b);
                    // Input for the console to read (not a Ctrl-C a command consumed).
                    if !t.is_empty() {
                        crate::kernel::watchdog::input_arrived();
                    }
                }
            }
        }
        any
    }

    /// The PL011's receive interrupt (`uart-pl011`): typed bytes go to the type-ahead
    /// buffer as they arrive, Ctrl-C included, whatever the console is doing. The interrupt
    /// is acknowledged before the FIFO is read, not after: a byte that arrives once the
    /// drain has found the FIFO empty then raises it again. Cleared after the drain, that
    /// byte's interrupt was lost with it in the FIFO (QEMU, whose PL011 holds one byte with
    /// the FIFO off, then passes no more input), until the console next read the UART.
    fn uart_interrupt(_irq: u32) -> IrqReturn {
        uart::clear_rx_interrupt();
        let got = drain(&mut TYPE_AHEAD.lock());
        if got {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }

    /// Requests the UART's interrupt: from now on input is received by interrupt.
    pub fn init_irq() -> Result<(), IrqError> {
        irq::request_irq(crate::board::raspi::irq::uart_irq()?, uart_interrupt, "uart-pl011")
    }

    /// Whether the user pressed Ctrl-C since the running command started. Never blocks, so
    /// long loops call it as often as they like (once per step or block) and stop cleanly
    /// when it says so. It also empties the receive FIFO itself, so it works with
    /// interrupts masked.
    pub fn interrupted() -> bool {
        let mut t = TYPE_AHEAD.lock();
        drain(&mut t);
        t.interrupted()
    }

    /// Called before each command runs (see [`interrupted`]).
    pub fn begin_command() {
        TYPE_AHEAD.lock().begin_command();
    }

    /// Called when the command has returned, before the prompt reads again.
    pub fn end_command() {
        TYPE_AHEAD.lock().end_command();
    }

    /// Gives input back to the line editor (see [`TypeAhead::unread`]).
    pub fn unread(bytes: &[u8]) {
        TYPE_AHEAD.lock().unread(bytes);
    }

    /// Whether Ctrl-C arrived since the command started or the last call, forgetting it.
    pub fn take_interrupt() -> bool {
        let mut t = TYPE_AHEAD.lock();
        drain(&mut t);
        t.take_interrupt()
    }

    /// Whether a program could run (the console is the idle task of the programs).
    fn others_runnable() -> bool {
        crate::kernel::process::others_runnable()
    }

    /// The next input for the line editor, in the order it was typed; the CPU idles until
    /// there is some (programs that can run get it meanwhile).
    pub fn next() -> Input {
        loop {
            if let Some(i) = next_or(|| false, false) {
                return i;
            }
        }
    }

    /// The next input, or None as soon as `stop` says so (checked whenever the CPU comes
    /// back to the console, and on Ctrl-C when `ctrl_c_stops`). While there is none,
    /// programs that can run get the CPU (the console is their idle task); otherwise the
    /// CPU idles.
    pub fn next_or(mut stop: impl FnMut() -> bool, ctrl_c_stops: bool) -> Option<Input> {
        loop {
            let got = crate::kernel::time::idle_wait(|| {
                let mut t = TYPE_AHEAD.lock();
                drain(&mut t);
                if let Some(i) = t.pop() {
                    crate::kernel::watchdog::input_read(!t.is_empty());
                    return Some(Some(i));
                }
                if (ctrl_c_stops && t.interrupted()) || others_runnable() {
                    return Some(None);
                }
                None
            });
            if let Some(i) = got {
                return Some(i);
            }
            if others_runnable() {
                crate::kernel::process::schedule();
            }
            if stop() {
                return None;
            }
        }
    }
}

#[cfg(kernel)]
pub use device::{
    begin_command, end_command, init_irq, interrupted, next, next_or, take_interrupt, unread,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut TypeAhead) -> Vec<Input> {
        core::iter::from_fn(|| t.pop()).collect()
    }

    #[test]
    fn bytes_come_out_in_order_and_ctrl_c_interrupts() {
        let mut t = TypeAhead::new();
        t.begin_command();
        assert!(!t.interrupted());
        for &b in b"he\x03lp\n" {
            t.receive(b);
        }
        assert!(t.interrupted());
        assert_eq!(t.len(), 5);
        assert_eq!(drain(&mut t), b"help\n".iter().map(|&b| Input::Byte(b)).collect::<Vec<_>>());
        assert!(t.is_empty());
        // The interrupt belongs to the command that was running.
        assert!(t.interrupted());
        t.begin_command();
        assert!(!t.interrupted());
    }

    #[test]
    fn ctrl_c_at_the_prompt_goes_to_the_line_editor() {
        let mut t = TypeAhead::new();
        for &b in b"abc\x03" {
            t.receive(b);
        }
        assert!(!t.interrupted());
        assert_eq!(drain(&mut t), b"abc\x03".iter().map(|&b| Input::Byte(b)).collect::<Vec<_>>());
        // During a command it interrupts; after it, it is a byte again.
        t.begin_command();
        t.receive(CTRL_C);
        assert!(t.interrupted());
        assert!(t.is_empty());
        t.end_command();
        t.receive(CTRL_C);
        assert_eq!(t.pop(), Some(Input::Byte(CTRL_C)));
    }

    #[test]
    fn ctrl_c_typed_after_the_line_interrupts_the_command() {
        // "memtest\n\x03ls\n" arrives at once: the prompt reads the line, the Ctrl-C
        // behind it belongs to the command it starts, the rest stays type-ahead.
        let mut t = TypeAhead::new();
        for _ in 0..TYPE_AHEAD_MAX - 2 {
            t.receive(b'x');
            t.pop();
        }
        for &b in b"memtest\n\x03ls\n" {
            t.receive(b);
        }
        for &b in b"memtest\n" {
            assert_eq!(t.pop(), Some(Input::Byte(b)));
        }
        t.begin_command();
        assert!(t.interrupted());
        assert_eq!(drain(&mut t), b"ls\n".iter().map(|&b| Input::Byte(b)).collect::<Vec<_>>());
        t.end_command();
        t.begin_command();
        assert!(!t.interrupted());
    }

    #[test]
    fn overflow_keeps_a_prefix_and_reports_the_loss_once() {
        let mut t = TypeAhead::new();
        t.begin_command();
        for i in 0..TYPE_AHEAD_MAX + 10 {
            t.receive(b'a' + (i % 26) as u8);
        }
        // A Ctrl-C behind the lost bytes still interrupts.
        t.receive(CTRL_C);
        assert!(t.interrupted());
        // Space freed by reading does not let later bytes jump the loss.
        assert_eq!(t.pop(), Some(Input::Byte(b'a')));
        t.receive(b'z');
        let rest = drain(&mut t);
        assert_eq!(rest.len(), TYPE_AHEAD_MAX - 1 + 1);
        assert_eq!(rest.last(), Some(&Input::Lost));
        assert_eq!(rest[..TYPE_AHEAD_MAX - 1].iter().filter(|i| **i == Input::Lost).count(), 0);
        assert_eq!(t.pop(), None);
        // After the loss is handed out, bytes are kept again, the ring wrapping around.
        for &b in b"ok" {
            t.receive(b);
        }
        assert_eq!(drain(&mut t), [Input::Byte(b'o'), Input::Byte(b'k')]);
    }

    #[test]
    fn unread_input_comes_first_and_stays_a_prefix() {
        let mut t = TypeAhead::new();
        for &b in b"cd" {
            t.receive(b);
        }
        t.pop();
        t.unread(b"ab");
        let bytes: Vec<Input> = drain(&mut t);
        assert_eq!(bytes, [Input::Byte(b'a'), Input::Byte(b'b'), Input::Byte(b'd')]);
        // More than fits: the unread bytes first, then the loss instead of the newest ones.
        t.receive(b'z');
        let big = [b'x'; TYPE_AHEAD_MAX];
        t.unread(&big);
        let out = drain(&mut t);
        assert_eq!(out.len(), TYPE_AHEAD_MAX + 1);
        assert!(out[..TYPE_AHEAD_MAX].iter().all(|i| *i == Input::Byte(b'x')));
        assert_eq!(out[TYPE_AHEAD_MAX], Input::Lost);
    }

    #[test]
    fn ring_wraps() {
        let mut t = TypeAhead::new();
        for round in 0..3 * TYPE_AHEAD_MAX {
            t.receive((round % 251) as u8 + 4);
            assert_eq!(t.pop(), Some(Input::Byte((round % 251) as u8 + 4)));
        }
        assert!(t.is_empty());
    }
}
