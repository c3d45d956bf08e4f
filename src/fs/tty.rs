//! The console as a tty (`/dev/console`, fds 0-2 of a program started from pivm's console),
//! the parts of Linux's tty layer and `n_tty` line discipline a program can observe: output
//! post-processing (`OPOST|ONLCR`: `\n` becomes `\r\n`), canonical input (a read returns at most
//! one line; erase, kill and end-of-file characters; `ICRNL`; echo), the signal characters
//! (^C raises SIGINT for the foreground program, ^\ SIGQUIT, ^Z SIGTSTP), and `TCGETS`/`TCSETS`
//! with Linux's serial-console `termios`. Pure: the kernel feeds received bytes in, drains the
//! echo and output bytes to the UART, and sleeps a reader while [`Tty::read`] says `EAGAIN`.
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::abi::errno::Errno;
use crate::abi::native::signal::sig;
use crate::abi::native::termbits::{cc, Termios, ECHO, ICANON, ICRNL, ISIG, ONLCR, OPOST};

/// `N_TTY_BUF_SIZE`: the most input bytes the line discipline holds.
pub const N_TTY_BUF_SIZE: usize = 4096;

/// The console tty's state.
#[derive(Clone, Debug)]
pub struct Tty {
    pub termios: Termios,
    /// Completed input (lines, or bytes in non-canonical mode) waiting for a reader.
    ready: VecDeque<u8>,
    /// Bytes after the last line end in ready that end a read (a line's `\n` or EOF mark).
    line_ends: VecDeque<usize>,
    /// The line being edited.
    line: Vec<u8>,
    /// Bytes to send to the UART (echo and program output), in order.
    pub output: Vec<u8>,
}

impl Tty {
    /// A tty with `termios` (Linux's serial console: [`Termios::serial_console`]).
    pub fn new(termios: Termios) -> Self {
        Tty {
            termios,
            ready: VecDeque::new(),
            line_ends: VecDeque::new(),
            line: Vec::new(),
            output: Vec::new(),
        }
    }

    fn lflag(&self, f: u32) -> bool {
        self.termios.c_lflag & f != 0
    }

    /// `n_tty_receive_char`: one byte typed on the console. Returns the signal to send to the
    /// foreground program, if the byte was a signal character.
    pub fn receive(&mut self, mut c: u8) -> Option<u32> {
        if c == b'\r' && self.termios.c_iflag & ICRNL != 0 {
            c = b'\n';
        }
        let cc = self.termios.c_cc;
        if self.lflag(ISIG) {
            let signal = if c == cc[cc::VINTR] {
                Some(sig::SIGINT)
            } else if c == cc[cc::VQUIT] {
                Some(sig::SIGQUIT)
            } else if c == cc[cc::VSUSP] {
                Some(sig::SIGTSTP)
            } else {
                None
            };
            if let Some(s) = signal {
                // Pending input is flushed and the character echoed as ^C.
                self.line.clear();
                self.ready.clear();
                self.line_ends.clear();
                if self.lflag(ECHO) {
                    self.output.extend_from_slice(&[b'^', c + b'@']);
                }
                return Some(s);
            }
        }
        if !self.lflag(ICANON) {
            if self.ready.len() < N_TTY_BUF_SIZE {
                self.ready.push_back(c);
                self.line_ends.push_back(self.ready.len());
            }
            self.echo(c);
            return None;
        }
        if c == cc[cc::VERASE] {
            if self.line.pop().is_some() && self.lflag(ECHO) {
                self.output.extend_from_slice(b"\x08 \x08");
            }
        } else if c == cc[cc::VKILL] {
            while self.line.pop().is_some() {
                if self.lflag(ECHO) {
                    self.output.extend_from_slice(b"\x08 \x08");
                }
            }
        } else if c == cc[cc::VEOF] {
            // End of file: the line so far becomes readable without a newline; on an empty
            // line the read returns 0.
            self.finish_line();
        } else if c == b'\n' {
            self.line.push(c);
            self.echo(c);
            self.finish_line();
        } else if self.ready.len() + self.line.len() < N_TTY_BUF_SIZE - 1 {
            self.line.push(c);
            self.echo(c);
        }
        None
    }

    fn finish_line(&mut self) {
        self.ready.extend(self.line.drain(..));
        self.line_ends.push_back(self.ready.len());
    }

    fn echo(&mut self, c: u8) {
        if self.lflag(ECHO) {
            self.post(c);
        }
    }

    fn post(&mut self, c: u8) {
        if c == b'\n' && self.termios.c_oflag & (OPOST | ONLCR) == OPOST | ONLCR {
            self.output.push(b'\r');
        }
        self.output.push(c);
    }

    /// `n_tty_read`: up to `want` bytes of the first completed line (canonical mode) or of
    /// the bytes received (non-canonical). `EAGAIN` when nothing is ready: the caller returns
    /// it for `O_NONBLOCK`, else sleeps until [`receive`](Self::receive) completes a line.
    /// An end-of-file on an empty line reads as 0 bytes.
    pub fn read(&mut self, want: usize) -> Result<Vec<u8>, Errno> {
        let Some(&end) = self.line_ends.front() else { return Err(Errno::EAGAIN) };
        let n = want.min(end);
        let out: Vec<u8> = self.ready.drain(..n).collect();
        for e in self.line_ends.iter_mut() {
            *e -= n;
        }
        if self.line_ends.front() == Some(&0) {
            self.line_ends.pop_front();
        }
        Ok(out)
    }

    /// Takes the input no reader has consumed: completed lines, then the line being edited
    /// (the console gets back what a program that exits never read).
    pub fn take_input(&mut self) -> Vec<u8> {
        let mut out: Vec<u8> = self.ready.drain(..).collect();
        out.append(&mut self.line);
        self.line_ends.clear();
        out
    }

    /// `n_tty_write` with `OPOST|ONLCR`: the program's bytes to the console.
    pub fn write(&mut self, data: &[u8]) -> usize {
        for &c in data {
            self.post(c);
        }
        data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tty() -> Tty {
        Tty::new(Termios::serial_console(38400).unwrap())
    }

    #[test]
    fn canonical_lines_edit_echo_and_eof() {
        let mut t = tty();
        assert_eq!(t.read(10), Err(Errno::EAGAIN));
        for &c in b"lsx\x7f -l\r" {
            assert_eq!(t.receive(c), None);
        }
        assert_eq!(t.output, b"lsx\x08 \x08 -l\r\n");
        for &c in b"second\n" {
            t.receive(c);
        }
        // One line per read, and a short buffer leaves the rest of the line.
        assert_eq!(t.read(3).unwrap(), b"ls ");
        assert_eq!(t.read(100).unwrap(), b"-l\n");
        assert_eq!(t.read(100).unwrap(), b"second\n");
        assert_eq!(t.read(100), Err(Errno::EAGAIN));
        // ^D on an empty line: read returns 0 bytes; after text: the text without newline.
        t.receive(4);
        assert_eq!(t.read(100).unwrap(), b"");
        for &c in b"ab\x04" {
            t.receive(c);
        }
        assert_eq!(t.read(100).unwrap(), b"ab");
        // ^U kills the line being typed.
        for &c in b"junk\x15ok\n" {
            t.receive(c);
        }
        assert_eq!(t.read(100).unwrap(), b"ok\n");
    }

    #[test]
    fn unread_input_goes_back_whole() {
        let mut t = tty();
        for &c in b"one\ntw" {
            t.receive(c);
        }
        assert_eq!(t.take_input(), b"one\ntw");
        assert_eq!(t.read(10), Err(Errno::EAGAIN));
        t.receive(b'x');
        assert_eq!(t.receive(3), Some(sig::SIGINT));
        assert_eq!(t.take_input(), b"");
    }

    proptest::proptest! {
        /// Canonical mode against a model: typed text (CR read as NL) comes back byte for
        /// byte, whatever the read sizes, and no read runs past the end of a line.
        #[test]
        fn lines_survive_any_read_sizes(
            text in proptest::collection::vec(
                proptest::prop_oneof![b'a'..=b'z', proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'\r')],
                0..300,
            ),
            sizes in proptest::collection::vec(1usize..20, 1..50),
        ) {
            let mut t = tty();
            for &c in &text {
                proptest::prop_assert_eq!(t.receive(c), None);
            }
            let typed: Vec<u8> = text.iter().map(|&c| if c == b'\r' { b'\n' } else { c }).collect();
            let complete = typed.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
            let mut got = Vec::new();
            for &n in sizes.iter().cycle() {
                match t.read(n) {
                    Ok(chunk) => {
                        proptest::prop_assert!(!chunk.is_empty() && chunk.len() <= n);
                        let nl = chunk.iter().position(|&c| c == b'\n');
                        proptest::prop_assert!(nl.is_none_or(|i| i + 1 == chunk.len()), "one line per read");
                        got.extend(chunk);
                    }
                    Err(e) => {
                        proptest::prop_assert_eq!(e, Errno::EAGAIN);
                        break;
                    }
                }
            }
            // Completed lines are readable; the unfinished one waits for its end.
            proptest::prop_assert_eq!(&got[..], &typed[..complete]);
        }
    }

    #[test]
    fn signals_and_output_processing() {
        let mut t = tty();
        t.receive(b'x');
        t.output.clear();
        assert_eq!(t.receive(3), Some(sig::SIGINT));
        assert_eq!(t.output, b"^C");
        assert_eq!(t.receive(0x1c), Some(sig::SIGQUIT));
        t.output.clear();
        assert_eq!(t.write(b"a\nb"), 3);
        assert_eq!(t.output, b"a\r\nb");
        t.termios.c_lflag &= !(ICANON | ECHO | ISIG);
        t.output.clear();
        assert_eq!(t.receive(3), None);
        assert_eq!(t.read(10).unwrap(), [3]);
        assert!(t.output.is_empty());
    }
}
