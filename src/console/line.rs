//! The console's line editor: a state machine fed one received byte at a time.
//!
//! It owns a fixed buffer (no heap), tells the caller what to echo, and hands over a finished
//! line together with what went wrong while typing it (overflow, ignored bytes), so the kernel's
//! console loop is a single `match` on [`Event`]:
//!
//! ```text
//! match editor.feed(byte) {
//!     Event::None => {}
//!     Event::Echo(echo) => write!(con, "{echo}"),
//!     Event::Cancel => { con.write_str(CANCEL_ECHO); prompt(con) }
//!     Event::Line(line) => {
//!         con.write_str(NEWLINE);
//!         if let Some(w) = line.warning() { writeln!(con, "pivm: {w}") }
//!         match line.command() { Ok(cmd) => run(cmd), Err(e) => writeln!(con, "pivm: {e}") }
//!         prompt(con)
//!     }
//! }
//! ```
use core::fmt;

/// Longest line the editor stores, in characters (bytes: only printable ASCII is stored).
pub const LINE_MAX: usize = 256;

/// Backspace (Ctrl-H), sent by some terminals for the backspace key.
const BS: u8 = 0x08;
/// DEL, sent by most terminals (and QEMU's stdio) for the backspace key.
const DEL: u8 = 0x7f;
/// Ctrl-C: abandon the line.
const CTRL_C: u8 = 0x03;
/// Ctrl-U: erase the whole line (the tty's VKILL).
const CTRL_U: u8 = 0x15;
/// Escape: starts an ANSI sequence (arrow keys, function keys).
const ESC: u8 = 0x1b;
/// Carriage return: Enter on a terminal.
const CR: u8 = b'\r';
/// Line feed: the line end of piped input.
const LF: u8 = b'\n';
/// Printable ASCII, the only bytes stored in a line.
const PRINTABLE: core::ops::RangeInclusive<u8> = 0x20..=0x7e;
/// Bytes that may sit inside a CSI sequence before its final byte (parameters, intermediates).
const CSI_BODY: core::ops::RangeInclusive<u8> = 0x20..=0x3f;
/// Final bytes of CSI and SS3 sequences.
const ESC_FINAL: core::ops::RangeInclusive<u8> = 0x40..=0x7e;

/// What erasing one character looks like on a terminal: back, blank, back.
pub const ERASE_SEQ: &str = "\x08 \x08";
/// The newline a serial terminal needs (raw mode: no output post-processing).
pub const NEWLINE: &str = "\r\n";
/// What the caller echoes for [`Event::Cancel`], as a Linux tty shows Ctrl-C.
pub const CANCEL_ECHO: &str = "^C\r\n";

/// Something to echo back to the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Show this printable character.
    Char(u8),
    /// Erase this many characters before the cursor ([`ERASE_SEQ`] each).
    Erase(usize),
}

impl fmt::Display for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Echo::Char(c) => fmt::Write::write_char(f, char::from(c)),
            Echo::Erase(n) => (0..n).try_for_each(|_| f.write_str(ERASE_SEQ)),
        }
    }
}

/// What the caller has to do after feeding one byte.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing visible happened (byte swallowed, dropped, or nothing to erase).
    None,
    /// Echo this.
    Echo(Echo),
    /// Ctrl-C: the line was abandoned; echo [`CANCEL_ECHO`] and print a fresh prompt.
    Cancel,
    /// Enter: the line is complete; echo [`NEWLINE`], then run it.
    Line(Line<'a>),
}

/// A completed line, borrowed from the editor until the next [`LineEditor::feed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    text: &'a str,
    overflowed: bool,
    ignored: usize,
}

impl<'a> Line<'a> {
    /// The stored characters (truncated to [`LINE_MAX`] if the line overflowed).
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// True if characters were lost because the line was longer than [`LINE_MAX`].
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// How many bytes were dropped (control bytes, non-ASCII, escape sequences).
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// The line to run, or the error to print instead: a truncated line is never run, since
    /// running a prefix of what was typed could do the wrong thing.
    pub fn command(&self) -> Result<&'a str, LineError> {
        if self.overflowed {
            Err(LineError::TooLong { max: LINE_MAX })
        } else {
            Ok(self.text)
        }
    }

    /// A warning to print before running the line: dropped bytes do not stop it (an arrow key
    /// pressed by mistake should not cost the user the command). None for overflowed lines,
    /// whose one error is enough.
    pub fn warning(&self) -> Option<LineError> {
        (!self.overflowed && self.ignored > 0).then_some(LineError::Ignored { count: self.ignored })
    }
}

/// What went wrong while a line was typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// More than `max` characters were typed; the line is discarded.
    TooLong { max: usize },
    /// `count` bytes could not be stored and were dropped.
    Ignored { count: usize },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LineError::TooLong { max } => write!(f, "line too long (max {max} characters)"),
            LineError::Ignored { count: 1 } => f.write_str("ignored 1 non-printable byte"),
            LineError::Ignored { count } => write!(f, "ignored {count} non-printable bytes"),
        }
    }
}

/// Where the editor is inside an ANSI escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EscState {
    /// Not in a sequence.
    Ground,
    /// After ESC.
    Escape,
    /// After `ESC [`: parameters until a final byte 0x40..=0x7e.
    Csi,
    /// After `ESC O`: one more byte (keypad and F1-F4 in application mode).
    Ss3,
}

/// The line editor. Feed it every received byte; see the module documentation for the loop.
#[derive(Clone, Debug)]
pub struct LineEditor {
    buf: [u8; LINE_MAX],
    len: usize,
    overflowed: bool,
    ignored: usize,
    esc: EscState,
    /// The line terminator fed just before this byte, to fold `\r\n` and `\n\r` into one.
    last_term: Option<u8>,
    /// A line was handed out; clear it on the next byte (the caller borrowed it until then).
    done: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_MAX],
            len: 0,
            overflowed: false,
            ignored: 0,
            esc: EscState::Ground,
            last_term: None,
            done: false,
        }
    }

    /// The characters typed so far on the current line.
    pub fn line(&self) -> &str {
        // Only printable ASCII is ever stored, so this cannot fail; "" keeps it panic-free.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// Number of characters on the current line.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the current line (and any partial escape sequence).
    fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
        self.ignored = 0;
        self.esc = EscState::Ground;
        self.done = false;
    }

    /// Takes one received byte and says what to echo or run.
    pub fn feed(&mut self, byte: u8) -> Event<'_> {
        if self.done {
            self.clear();
        }
        let prev_term = self.last_term.take();

        if self.swallow_escape(byte) {
            return Event::None;
        }

        match byte {
            CR | LF => {
                // The second half of a \r\n or \n\r pair ends nothing.
                if matches!(prev_term, Some(t) if t != byte) {
                    return Event::None;
                }
                self.last_term = Some(byte);
                self.done = true;
                Event::Line(Line {
                    text: core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""),
                    overflowed: self.overflowed,
                    ignored: self.ignored,
                })
            }
            BS | DEL => {
                if self.len == 0 {
                    return Event::None;
                }
                self.len -= 1;
                Event::Echo(Echo::Erase(1))
            }
            CTRL_U => {
                let erased = self.len;
                self.clear();
                if erased == 0 {
                    Event::None
                } else {
                    Event::Echo(Echo::Erase(erased))
                }
            }
            CTRL_C => {
                self.clear();
                Event::Cancel
            }
            ESC => {
                self.esc = EscState::Escape;
                self.ignore();
                Event::None
            }
            b if PRINTABLE.contains(&b) => {
                if self.len == LINE_MAX {
                    // Not stored, so not echoed either: the screen shows what will run.
                    self.overflowed = true;
                    return Event::None;
                }
                self.buf[self.len] = b;
                self.len += 1;
                Event::Echo(Echo::Char(b))
            }
            _ => {
                self.ignore();
                Event::None
            }
        }
    }

    fn ignore(&mut self) {
        self.ignored = self.ignored.saturating_add(1);
    }

    /// Advances the escape-sequence state; true if `byte` belonged to a sequence. A byte that
    /// cannot continue the sequence ends it and is then handled normally, so Enter or Ctrl-C
    /// after a cut-off sequence still work.
    fn swallow_escape(&mut self, byte: u8) -> bool {
        let (swallow, next) = match self.esc {
            EscState::Ground => return false,
            EscState::Escape => match byte {
                b'[' => (true, EscState::Csi),
                b'O' => (true, EscState::Ss3),
                _ => (false, EscState::Ground),
            },
            EscState::Csi if CSI_BODY.contains(&byte) => (true, EscState::Csi),
            EscState::Csi | EscState::Ss3 if ESC_FINAL.contains(&byte) => (true, EscState::Ground),
            EscState::Csi | EscState::Ss3 => (false, EscState::Ground),
        };
        self.esc = next;
        if swallow {
            self.ignore();
        }
        swallow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a terminal would see and what the kernel would run, as owned values.
    #[derive(Debug, Default)]
    struct Transcript {
        echo: String,
        lines: Vec<(String, bool, usize)>,
        cancels: usize,
    }

    fn run(ed: &mut LineEditor, input: &[u8]) -> Transcript {
        let mut t = Transcript::default();
        for &b in input {
            match ed.feed(b) {
                Event::None => {}
                Event::Echo(e) => t.echo.push_str(&e.to_string()),
                Event::Cancel => {
                    t.cancels += 1;
                    t.echo.push_str(CANCEL_ECHO);
                }
                Event::Line(l) => {
                    t.echo.push_str(NEWLINE);
                    t.lines.push((l.text().to_string(), l.overflowed(), l.ignored()));
                }
            }
        }
        t
    }

    fn lines(input: &[u8]) -> Vec<String> {
        run(&mut LineEditor::new(), input).lines.into_iter().map(|l| l.0).collect()
    }

    #[test]
    fn printable_is_stored_and_echoed() {
        let t = run(&mut LineEditor::new(), b"help me\r");
        assert_eq!(t.echo, "help me\r\n");
        assert_eq!(t.lines, [("help me".to_string(), false, 0)]);
    }

    #[test]
    fn backspace_and_del_erase_one() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"ab\x08c\x7f");
        assert_eq!(t.echo, "ab\x08 \x08c\x08 \x08");
        assert_eq!(ed.line(), "a");
        let t = run(&mut ed, b"\r");
        assert_eq!(t.lines[0].0, "a");
    }

    #[test]
    fn backspace_on_empty_line_does_nothing() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(0x7f), Event::None);
        assert_eq!(ed.feed(0x08), Event::None);
        let t = run(&mut ed, b"x\x7f\x7f\x7fy\n");
        assert_eq!(t.echo, "x\x08 \x08y\r\n");
        assert_eq!(t.lines[0], ("y".to_string(), false, 0));
    }

    #[test]
    fn ctrl_u_erases_whole_line() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"abc\x15");
        assert_eq!(t.echo, "abc\x08 \x08\x08 \x08\x08 \x08");
        assert!(ed.is_empty());
        assert_eq!(ed.feed(CTRL_U), Event::None);
        assert_eq!(lines(b"abc\x15def\r"), ["def"]);
    }

    #[test]
    fn ctrl_c_abandons_line() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"peek 0x\x03");
        assert_eq!(t.cancels, 1);
        assert_eq!(t.echo, "peek 0x^C\r\n");
        assert!(t.lines.is_empty());
        assert!(ed.is_empty());
        assert_eq!(lines(b"junk\x03ok\r"), ["ok"]);
    }

    #[test]
    fn cr_and_lf_both_end_a_line() {
        assert_eq!(lines(b"a\rb\n"), ["a", "b"]);
    }

    #[test]
    fn crlf_and_lfcr_pairs_end_one_line() {
        assert_eq!(lines(b"a\r\nb\n\rc\r\n"), ["a", "b", "c"]);
        // Repeated same terminators are separate (empty) lines.
        assert_eq!(lines(b"a\r\r"), ["a", ""]);
        assert_eq!(lines(b"a\n\n"), ["a", ""]);
        // Two CRLF pairs are two line ends, not three.
        assert_eq!(lines(b"a\r\n\r\n"), ["a", ""]);
    }

    #[test]
    fn piped_input() {
        assert_eq!(lines(b"cmd1\ncmd2\r\n\ncmd3\r"), ["cmd1", "cmd2", "", "cmd3"]);
    }

    #[test]
    fn line_is_borrowed_until_next_feed() {
        let mut ed = LineEditor::new();
        for &b in b"free" {
            ed.feed(b);
        }
        match ed.feed(b'\r') {
            Event::Line(l) => assert_eq!(l.command(), Ok("free")),
            other => panic!("expected a line, got {other:?}"),
        }
        assert_eq!(ed.line(), "free");
        ed.feed(b'x');
        assert_eq!(ed.line(), "x");
    }

    #[test]
    fn overflow_is_reported_once_and_line_discarded() {
        let mut input = vec![b'a'; LINE_MAX + 10];
        input.push(b'\r');
        let mut ed = LineEditor::new();
        let t = run(&mut ed, &input);
        // Only the stored characters are echoed.
        assert_eq!(t.echo.len(), LINE_MAX + NEWLINE.len());
        assert_eq!(t.lines.len(), 1);
        let (text, overflowed, _) = &t.lines[0];
        assert_eq!(text.len(), LINE_MAX);
        assert!(overflowed);

        let mut ed = LineEditor::new();
        for &b in &input[..input.len() - 1] {
            ed.feed(b);
        }
        match ed.feed(b'\r') {
            Event::Line(l) => {
                let err = l.command().unwrap_err();
                assert_eq!(err, LineError::TooLong { max: LINE_MAX });
                assert_eq!(err.to_string(), "line too long (max 256 characters)");
                assert_eq!(l.warning(), None);
            }
            other => panic!("expected a line, got {other:?}"),
        }
        // The next line starts clean.
        assert_eq!(run(&mut ed, b"ok\r").lines, [("ok".to_string(), false, 0)]);
    }

    #[test]
    fn exactly_line_max_is_fine() {
        let mut input = vec![b'z'; LINE_MAX];
        input.push(b'\n');
        let t = run(&mut LineEditor::new(), &input);
        assert!(!t.lines[0].1);
        assert_eq!(t.lines[0].0.len(), LINE_MAX);
    }

    #[test]
    fn overflow_survives_backspace_but_not_ctrl_u() {
        let mut input = vec![b'a'; LINE_MAX + 1];
        input.extend_from_slice(b"\x7f\r");
        assert!(run(&mut LineEditor::new(), &input).lines[0].1);
        let mut input = vec![b'a'; LINE_MAX + 1];
        input.extend_from_slice(b"\x15ls\r");
        assert_eq!(run(&mut LineEditor::new(), &input).lines, [("ls".to_string(), false, 0)]);
    }

    #[test]
    fn control_and_non_ascii_bytes_are_dropped_and_counted() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"a\x01b\x09\xc3\xa9c\x00\r");
        assert_eq!(t.echo, "abc\r\n");
        assert_eq!(t.lines, [("abc".to_string(), false, 5)]);
        let mut ed = LineEditor::new();
        for &b in b"x\x02" {
            ed.feed(b);
        }
        match ed.feed(b'\r') {
            Event::Line(l) => {
                assert_eq!(l.command(), Ok("x"));
                let w = l.warning().unwrap();
                assert_eq!(w.to_string(), "ignored 1 non-printable byte");
            }
            other => panic!("expected a line, got {other:?}"),
        }
        assert_eq!(LineError::Ignored { count: 4 }.to_string(), "ignored 4 non-printable bytes");
        // The count is per line.
        assert_eq!(run(&mut ed, b"y\r").lines, [("y".to_string(), false, 0)]);
    }

    #[test]
    fn arrow_keys_are_swallowed() {
        // Up, Down, Right, Left (CSI), then Home in application mode (SS3).
        let t = run(&mut LineEditor::new(), b"ls\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH -l\r");
        assert_eq!(t.echo, "ls -l\r\n");
        assert_eq!(t.lines, [("ls -l".to_string(), false, 15)]);
    }

    #[test]
    fn csi_with_parameters_is_swallowed() {
        // Delete key (ESC [ 3 ~) and Ctrl-Right (ESC [ 1 ; 5 C).
        let t = run(&mut LineEditor::new(), b"a\x1b[3~b\x1b[1;5Cc\r");
        assert_eq!(t.lines, [("abc".to_string(), false, 10)]);
    }

    #[test]
    fn cut_off_escape_does_not_eat_enter_or_text() {
        // ESC then a normal key: only ESC is dropped.
        assert_eq!(lines(b"\x1bx\r"), ["x"]);
        // Enter inside a CSI ends the sequence and the line.
        assert_eq!(lines(b"ab\x1b[1\rcd\r"), ["ab", "cd"]);
        // Ctrl-C inside an escape still cancels.
        let t = run(&mut LineEditor::new(), b"ab\x1b\x03cd\r");
        assert_eq!(t.cancels, 1);
        assert_eq!(t.lines, [("cd".to_string(), false, 0)]);
    }

    #[test]
    fn any_byte_sequence_is_safe() {
        let mut ed = LineEditor::new();
        for i in 0..20_000u32 {
            let b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
            if let Event::Line(l) = ed.feed(b) {
                assert!(l.text().len() <= LINE_MAX);
                assert!(l.text().bytes().all(|c| PRINTABLE.contains(&c)));
            }
        }
    }
}
