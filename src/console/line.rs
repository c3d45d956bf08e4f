//! The console's line editor: a state machine fed one received byte at a time.
//!
//! It owns a fixed buffer (no heap), tells the caller what to echo, and hands over a finished
//! line; the line runs only if it is exactly what was typed, so the kernel's console loop is a
//! single `match` on [`Event`]:
//!
//! ```text
//! match editor.feed(byte) {
//!     Event::None => {}
//!     Event::Echo(echo) => write!(con, "{echo}"),
//!     Event::Cancel => { con.write_str(CANCEL_ECHO); prompt(con) }
//!     Event::Line(line) => {
//!         con.write_str(NEWLINE);
//!         match line.command() { Ok(cmd) => run(cmd), Err(e) => writeln!(con, "pivm: {e}") }
//!         prompt(con)
//!     }
//! }
//! ```
//!
//! Nothing typed vanishes: TAB is a word separator (stored and echoed as a space), and a byte
//! that cannot be part of a command (a control byte, any byte of a non-ASCII character, a
//! stray ESC) is stored, echoed visibly (`^A`, `\xc3`) so backspace can take it back, and makes
//! the whole line be refused with an error naming it. Only complete terminal escape
//! sequences (CSI such as the arrow keys, SS3, and OSC/DCS/APC/PM/SOS strings ended by BEL or
//! `ESC \`) are swallowed whole; one cut off by another byte makes the line be refused too.
use core::fmt;
use core::ops::RangeInclusive;

/// Longest line the editor stores, in bytes (each stored byte is one column of the line).
pub const LINE_MAX: usize = 256;

/// NUL, which telnet-style terminals send after a bare carriage return.
const NUL: u8 = 0x00;
/// Ctrl-C: abandon the line (or, while a command runs, interrupt it).
pub(crate) const CTRL_C: u8 = 0x03;
/// BEL: ends an OSC string (xterm's terminator).
const BEL: u8 = 0x07;
/// Backspace (Ctrl-H), sent by some terminals for the backspace key.
const BS: u8 = 0x08;
/// TAB: separates words like a space.
const TAB: u8 = b'\t';
/// Ctrl-U: erase the whole line (the tty's VKILL).
const CTRL_U: u8 = 0x15;
/// Escape: starts a terminal escape sequence (arrow keys, function keys, OSC replies).
const ESC: u8 = 0x1b;
/// DEL, sent by most terminals (and QEMU's stdio) for the backspace key.
const DEL: u8 = 0x7f;
/// Carriage return: Enter on a terminal.
const CR: u8 = b'\r';
/// Line feed: the line end of piped input.
const LF: u8 = b'\n';
/// Printable ASCII, the only bytes a command may contain.
const PRINTABLE: RangeInclusive<u8> = 0x20..=0x7e;
/// C0 control bytes, shown in caret notation (`^A`) like a tty with ECHOCTL.
const C0: RangeInclusive<u8> = 0x00..=0x1f;
/// Bytes that may sit inside a CSI sequence before its final byte (parameters, intermediates).
const CSI_BODY: RangeInclusive<u8> = 0x20..=0x3f;
/// Final bytes of CSI and SS3 sequences.
const ESC_FINAL: RangeInclusive<u8> = 0x40..=0x7e;
/// Bytes after ESC that open a control string (DCS `P`, SOS `X`, OSC `]`, PM `^`, APC `_`),
/// which runs until ST (`ESC \`) or, as xterm also accepts, BEL.
const STRING_INTRODUCERS: [u8; 5] = [b'P', b'X', b']', b'^', b'_'];
/// The byte after ESC that ends a control string (ST is `ESC \`).
const ST_FINAL: u8 = b'\\';

/// What erasing one column looks like on a terminal: back, blank, back.
pub const ERASE_SEQ: &str = "\x08 \x08";
/// The newline a serial terminal needs (raw mode: no output post-processing).
pub const NEWLINE: &str = "\r\n";
/// What the caller echoes for [`Event::Cancel`], as a Linux tty shows Ctrl-C.
pub const CANCEL_ECHO: &str = "^C\r\n";

/// Columns a stored byte takes on the screen (see [`Shown`]).
const fn columns(b: u8) -> usize {
    match b {
        0x20..=0x7e => 1,
        0x00..=0x1f => 2,
        _ => 4,
    }
}

/// A stored byte as the screen shows it: printable ASCII as itself, a control byte in caret
/// notation (`^A`, `^[` for ESC), any other byte as `\xHH`, so that every byte of the line is
/// visible and takes as many columns as `columns` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown(pub u8);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if PRINTABLE.contains(&b) {
            fmt::Write::write_char(f, char::from(b))
        } else if C0.contains(&b) {
            write!(f, "^{}", char::from(b ^ 0x40))
        } else {
            write!(f, "\\x{b:02x}")
        }
    }
}

/// Something to echo back to the terminal: erase some columns, then show up to two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo {
    erase: usize,
    shown: [u8; 2],
    len: u8,
}

impl Echo {
    const NOTHING: Echo = Echo { erase: 0, shown: [0; 2], len: 0 };

    /// Columns erased before the cursor ([`ERASE_SEQ`] each).
    pub fn erased(&self) -> usize {
        self.erase
    }

    /// The stored bytes to show (each as [`Shown`]).
    pub fn shown(&self) -> &[u8] {
        &self.shown[..usize::from(self.len)]
    }

    fn erase(columns: usize) -> Echo {
        Echo { erase: columns, ..Echo::NOTHING }
    }

    fn push(&mut self, b: u8) {
        self.shown[usize::from(self.len)] = b;
        self.len += 1;
    }

    fn into_event<'a>(self) -> Event<'a> {
        if self.erase == 0 && self.len == 0 {
            Event::None
        } else {
            Event::Echo(self)
        }
    }
}

impl fmt::Display for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (0..self.erase).try_for_each(|_| f.write_str(ERASE_SEQ))?;
        self.shown().iter().try_for_each(|&b| write!(f, "{}", Shown(b)))
    }
}

/// What the caller has to do after feeding one byte.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing visible happened (byte swallowed in an escape sequence, nothing to erase, or
    /// the line is full).
    None,
    /// Echo this.
    Echo(Echo),
    /// Ctrl-C: the line was abandoned; echo [`CANCEL_ECHO`] and print a fresh prompt.
    Cancel,
    /// Enter: the line is complete; echo [`NEWLINE`], then run it if [`Line::command`] agrees.
    Line(Line<'a>),
}

/// A completed line, borrowed from the editor until the next [`LineEditor::feed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    bytes: &'a [u8],
    overflowed: bool,
    /// Column of the first escape sequence cut off by a byte that cannot continue it.
    broken_escape: Option<usize>,
    /// Typed input was lost before this line ended (see [`LineEditor::input_lost`]).
    lost: bool,
}

impl<'a> Line<'a> {
    /// The stored bytes (truncated to [`LINE_MAX`] if the line overflowed; TAB stored as a
    /// space).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The line to run, or why it must not run: a line that is not exactly what was typed
    /// (too long, input lost, a byte no command can contain, a broken escape sequence) is
    /// refused whole, since running part of it could do something else than was meant.
    pub fn command(&self) -> Result<&'a str, LineError> {
        if self.lost {
            return Err(LineError::InputLost);
        }
        if self.overflowed {
            return Err(LineError::TooLong { max: LINE_MAX });
        }
        let bad = self.bytes.iter().position(|b| !PRINTABLE.contains(b));
        match (bad, self.broken_escape) {
            (Some(i), broken) if broken.is_none_or(|c| i + 1 < c) => Err(LineError::Untypable {
                byte: self.bytes[i],
                column: i + 1,
                ch: char_at(&self.bytes[i..]),
            }),
            (_, Some(column)) => Err(LineError::BrokenEscape { column }),
            // Only printable ASCII is left, which is always UTF-8.
            _ => Ok(core::str::from_utf8(self.bytes).unwrap_or_default()),
        }
    }
}

/// The non-ASCII character that starts at `bytes[0]`, if the bytes there are valid UTF-8.
fn char_at(bytes: &[u8]) -> Option<char> {
    if bytes.first().is_none_or(|b| b.is_ascii()) {
        return None;
    }
    let head = &bytes[..bytes.len().min(4)];
    let valid = match core::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    valid.chars().next()
}

/// Why a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// More than `max` bytes were typed; the line is discarded.
    TooLong { max: usize },
    /// `byte`, at 1-based `column`, cannot be part of a command; `ch` is the character it
    /// starts when the bytes there are valid UTF-8.
    Untypable { byte: u8, column: usize, ch: Option<char> },
    /// An escape sequence starting at `column` was cut off by a byte that cannot continue it.
    BrokenEscape { column: usize },
    /// Typed input was lost (it arrived while the receive buffer was full).
    InputLost,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LineError::TooLong { max } => write!(f, "line too long (max {max} characters)"),
            LineError::Untypable { byte, column, ch } => {
                write!(f, "byte {byte:#04x}")?;
                match ch {
                    Some(c) => write!(f, " (the start of U+{:04X} in UTF-8)", u32::from(c))?,
                    None if C0.contains(&byte) => write!(f, " ({})", Shown(byte))?,
                    None => {}
                }
                write!(f, " at column {column} cannot be typed here; line ignored")
            }
            LineError::BrokenEscape { column } => {
                write!(f, "escape sequence at column {column} was cut off; line ignored")
            }
            LineError::InputLost => {
                f.write_str("typed input was lost while a command ran; line ignored")
            }
        }
    }
}

/// Where the editor is inside a terminal escape sequence.
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
    /// Inside a control string (OSC and the like), until BEL or `ESC \`.
    Str,
    /// ESC inside a control string: `\` ends the string.
    StrEsc,
}

/// The line editor. Feed it every received byte; see the module documentation for the loop.
#[derive(Clone, Debug)]
pub struct LineEditor {
    buf: [u8; LINE_MAX],
    len: usize,
    overflowed: bool,
    broken_escape: Option<usize>,
    lost: bool,
    esc: EscState,
    /// Column the escape sequence being read started at.
    esc_column: usize,
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
            broken_escape: None,
            lost: false,
            esc: EscState::Ground,
            esc_column: 0,
            last_term: None,
            done: false,
        }
    }

    /// The bytes typed so far on the current line.
    pub fn line(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Number of bytes on the current line.
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
        self.broken_escape = None;
        self.lost = false;
        self.esc = EscState::Ground;
        self.done = false;
    }

    /// Typed bytes were lost before the next byte fed (the receive buffer overflowed while a
    /// command ran): the line they belonged to is refused when it ends.
    pub fn input_lost(&mut self) {
        if self.done {
            self.clear();
        }
        self.last_term = None;
        self.lost = true;
    }

    /// Takes one received byte and says what to echo or run.
    pub fn feed(&mut self, byte: u8) -> Event<'_> {
        if self.done {
            self.clear();
        }
        let prev_term = self.last_term.take();
        match self.esc {
            EscState::Ground => self.ground(byte, prev_term),
            EscState::Escape => self.after_esc(byte, prev_term),
            EscState::Csi if CSI_BODY.contains(&byte) => Event::None,
            EscState::Csi | EscState::Ss3 if ESC_FINAL.contains(&byte) => {
                self.esc = EscState::Ground;
                Event::None
            }
            EscState::Csi | EscState::Ss3 => {
                self.cut_off();
                self.ground(byte, prev_term)
            }
            EscState::Str => match byte {
                BEL => {
                    self.esc = EscState::Ground;
                    Event::None
                }
                ESC => {
                    self.esc = EscState::StrEsc;
                    Event::None
                }
                // A string never ends a line, nor outlives Enter or Ctrl-C.
                CR | LF | CTRL_C => {
                    self.cut_off();
                    self.ground(byte, prev_term)
                }
                _ => Event::None,
            },
            EscState::StrEsc if byte == ST_FINAL => {
                self.esc = EscState::Ground;
                Event::None
            }
            EscState::StrEsc => {
                // The string was cut off by a new escape sequence.
                self.cut_off();
                self.start_escape();
                self.after_esc(byte, prev_term)
            }
        }
    }

    /// A byte outside any escape sequence.
    fn ground(&mut self, byte: u8, prev_term: Option<u8>) -> Event<'_> {
        match byte {
            CR | LF => {
                // The second half of a \r\n or \n\r pair ends nothing.
                if matches!(prev_term, Some(t) if t != byte) {
                    return Event::None;
                }
                self.last_term = Some(byte);
                self.done = true;
                Event::Line(Line {
                    bytes: &self.buf[..self.len],
                    overflowed: self.overflowed,
                    broken_escape: self.broken_escape,
                    lost: self.lost,
                })
            }
            // Telnet-style terminals send CR NUL for Enter: the NUL belongs to the CR.
            NUL if prev_term == Some(CR) => Event::None,
            BS | DEL => {
                if self.len == 0 {
                    return Event::None;
                }
                self.len -= 1;
                Event::Echo(Echo::erase(columns(self.buf[self.len])))
            }
            CTRL_U => {
                let erased = self.buf[..self.len].iter().map(|&b| columns(b)).sum();
                self.clear();
                Echo::erase(erased).into_event()
            }
            CTRL_C => {
                self.clear();
                Event::Cancel
            }
            ESC => {
                self.start_escape();
                Event::None
            }
            _ => {
                let mut echo = Echo::NOTHING;
                self.store(byte, &mut echo);
                echo.into_event()
            }
        }
    }

    /// The byte after ESC: a sequence starts, or the ESC was a key of its own (Alt-x sends
    /// `ESC x`), which no command can contain: it is stored like any other such byte.
    fn after_esc(&mut self, byte: u8, prev_term: Option<u8>) -> Event<'_> {
        self.esc = match byte {
            b'[' => EscState::Csi,
            b'O' => EscState::Ss3,
            b if STRING_INTRODUCERS.contains(&b) => EscState::Str,
            _ => EscState::Ground,
        };
        if self.esc != EscState::Ground {
            return Event::None;
        }
        match byte {
            // Backspace takes the ESC back (it was never shown); Ctrl-U and Ctrl-C drop the
            // line anyway.
            BS | DEL => Event::None,
            CTRL_U | CTRL_C => self.ground(byte, prev_term),
            CR | LF => {
                let mut unseen = Echo::NOTHING;
                self.store(ESC, &mut unseen);
                self.ground(byte, prev_term)
            }
            ESC => {
                let mut echo = Echo::NOTHING;
                self.store(ESC, &mut echo);
                self.start_escape();
                echo.into_event()
            }
            _ => {
                let mut echo = Echo::NOTHING;
                self.store(ESC, &mut echo);
                self.store(byte, &mut echo);
                echo.into_event()
            }
        }
    }

    fn start_escape(&mut self) {
        self.esc = EscState::Escape;
        self.esc_column = self.len + 1;
    }

    /// The escape sequence being read was cut off: the line will be refused.
    fn cut_off(&mut self) {
        self.esc = EscState::Ground;
        self.broken_escape.get_or_insert(self.esc_column);
    }

    /// Stores a typed byte (TAB as a space) and adds it to `echo`; a full line stores nothing
    /// more and shows nothing more, so the screen shows what was kept.
    fn store(&mut self, byte: u8, echo: &mut Echo) {
        if self.len == LINE_MAX {
            self.overflowed = true;
            return;
        }
        let b = if byte == TAB { b' ' } else { byte };
        self.buf[self.len] = b;
        self.len += 1;
        echo.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a terminal would see and what the kernel would run, as owned values.
    #[derive(Debug, Default)]
    struct Transcript {
        echo: String,
        /// Each line's command, or its error text.
        lines: Vec<Result<String, String>>,
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
                    t.lines.push(l.command().map(str::to_string).map_err(|e| e.to_string()));
                }
            }
        }
        t
    }

    fn lines(input: &[u8]) -> Vec<Result<String, String>> {
        run(&mut LineEditor::new(), input).lines
    }

    fn ok(s: &str) -> Result<String, String> {
        Ok(s.to_string())
    }

    fn err(s: &str) -> Result<String, String> {
        Err(s.to_string())
    }

    /// The error of the single line `input` makes.
    fn refusal(input: &[u8]) -> LineError {
        let mut ed = LineEditor::new();
        for &b in &input[..input.len() - 1] {
            ed.feed(b);
        }
        match ed.feed(input[input.len() - 1]) {
            Event::Line(l) => l.command().unwrap_err(),
            other => panic!("expected a line, got {other:?}"),
        }
    }

    #[test]
    fn printable_is_stored_and_echoed() {
        let t = run(&mut LineEditor::new(), b"help me\r");
        assert_eq!(t.echo, "help me\r\n");
        assert_eq!(t.lines, [ok("help me")]);
    }

    #[test]
    fn backspace_and_del_erase_one() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"ab\x08c\x7f");
        assert_eq!(t.echo, "ab\x08 \x08c\x08 \x08");
        assert_eq!(ed.line(), b"a");
        let t = run(&mut ed, b"\r");
        assert_eq!(t.lines, [ok("a")]);
    }

    #[test]
    fn backspace_on_empty_line_does_nothing() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(0x7f), Event::None);
        assert_eq!(ed.feed(0x08), Event::None);
        let t = run(&mut ed, b"x\x7f\x7f\x7fy\n");
        assert_eq!(t.echo, "x\x08 \x08y\r\n");
        assert_eq!(t.lines, [ok("y")]);
    }

    #[test]
    fn ctrl_u_erases_whole_line() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"abc\x15");
        assert_eq!(t.echo, "abc\x08 \x08\x08 \x08\x08 \x08");
        assert!(ed.is_empty());
        assert_eq!(ed.feed(CTRL_U), Event::None);
        assert_eq!(lines(b"abc\x15def\r"), [ok("def")]);
        // The erase covers what was shown, bad bytes included (2 + 4 + 1 columns).
        let t = run(&mut LineEditor::new(), b"\x01\xffa\x15");
        assert_eq!(t.echo, format!("^A\\xffa{}", ERASE_SEQ.repeat(7)));
    }

    #[test]
    fn ctrl_c_abandons_line() {
        let mut ed = LineEditor::new();
        let t = run(&mut ed, b"peek 0x\x03");
        assert_eq!(t.cancels, 1);
        assert_eq!(t.echo, "peek 0x^C\r\n");
        assert!(t.lines.is_empty());
        assert!(ed.is_empty());
        assert_eq!(lines(b"junk\x03ok\r"), [ok("ok")]);
        // Even a line already refused for a bad byte.
        assert_eq!(lines(b"j\x01\x03ok\r"), [ok("ok")]);
    }

    #[test]
    fn cr_and_lf_both_end_a_line() {
        assert_eq!(lines(b"a\rb\n"), [ok("a"), ok("b")]);
    }

    #[test]
    fn crlf_and_lfcr_pairs_end_one_line() {
        assert_eq!(lines(b"a\r\nb\n\rc\r\n"), [ok("a"), ok("b"), ok("c")]);
        // Repeated same terminators are separate (empty) lines.
        assert_eq!(lines(b"a\r\r"), [ok("a"), ok("")]);
        assert_eq!(lines(b"a\n\n"), [ok("a"), ok("")]);
        // Two CRLF pairs are two line ends, not three.
        assert_eq!(lines(b"a\r\n\r\n"), [ok("a"), ok("")]);
    }

    #[test]
    fn cr_nul_is_one_line_end() {
        assert_eq!(lines(b"a\r\0b\r\0"), [ok("a"), ok("b")]);
        // A NUL anywhere else is a byte no command can contain.
        assert_eq!(
            lines(b"a\0b\r"),
            [err("byte 0x00 (^@) at column 2 cannot be typed here; line ignored")]
        );
    }

    #[test]
    fn piped_input() {
        assert_eq!(lines(b"cmd1\ncmd2\r\n\ncmd3\r"), [ok("cmd1"), ok("cmd2"), ok(""), ok("cmd3")]);
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
        assert_eq!(ed.line(), b"free");
        ed.feed(b'x');
        assert_eq!(ed.line(), b"x");
    }

    #[test]
    fn overflow_is_reported_once_and_line_discarded() {
        let mut input = vec![b'a'; LINE_MAX + 10];
        input.push(b'\r');
        let mut ed = LineEditor::new();
        let t = run(&mut ed, &input);
        // Only the stored characters are echoed.
        assert_eq!(t.echo.len(), LINE_MAX + NEWLINE.len());
        assert_eq!(t.lines, [err("line too long (max 256 characters)")]);
        assert_eq!(refusal(&input), LineError::TooLong { max: LINE_MAX });
        // The next line starts clean.
        assert_eq!(run(&mut ed, b"ok\r").lines, [ok("ok")]);
    }

    #[test]
    fn exactly_line_max_is_fine() {
        let mut input = vec![b'z'; LINE_MAX];
        input.push(b'\n');
        let t = run(&mut LineEditor::new(), &input);
        assert_eq!(t.lines, [Ok("z".repeat(LINE_MAX))]);
    }

    #[test]
    fn overflow_survives_backspace_but_not_ctrl_u() {
        let mut input = vec![b'a'; LINE_MAX + 1];
        input.extend_from_slice(b"\x7f\r");
        assert_eq!(lines(&input), [err("line too long (max 256 characters)")]);
        let mut input = vec![b'a'; LINE_MAX + 1];
        input.extend_from_slice(b"\x15ls\r");
        assert_eq!(lines(&input), [ok("ls")]);
    }

    #[test]
    fn tab_separates_words() {
        let t = run(&mut LineEditor::new(), b"\tpeek\t0x80000000\r");
        assert_eq!(t.echo, " peek 0x80000000\r\n");
        assert_eq!(t.lines, [ok(" peek 0x80000000")]);
        assert_eq!(crate::console::args::split_args(" peek 0x80000000").unwrap().len(), 2);
    }

    #[test]
    fn non_ascii_inside_a_word_refuses_the_line() {
        // `peek 0x8000é0000` must not run `peek 0x80000000`.
        let t = run(&mut LineEditor::new(), "peek 0x8000é0000\r".as_bytes());
        assert_eq!(t.echo, "peek 0x8000\\xc3\\xa90000\r\n");
        assert_eq!(
            t.lines,
            [err("byte 0xc3 (the start of U+00E9 in UTF-8) at column 12 cannot be typed here; line ignored")]
        );
        assert_eq!(
            refusal("peek 0x8000é0000\r".as_bytes()),
            LineError::Untypable { byte: 0xc3, column: 12, ch: Some('é') }
        );
        // `kmalloc 1` followed by an Arabic-Indic zero (U+0660).
        assert_eq!(
            refusal("kmalloc 1\u{660}\n".as_bytes()),
            LineError::Untypable { byte: 0xd9, column: 10, ch: Some('\u{660}') }
        );
        // A no-break space does not join two words.
        assert_eq!(
            refusal("kmalloc\u{a0}64\n".as_bytes()),
            LineError::Untypable { byte: 0xc2, column: 8, ch: Some('\u{a0}') }
        );
        // Bytes that are not UTF-8 are named alone.
        assert_eq!(
            lines(b"ab\xff\r"),
            [err("byte 0xff at column 3 cannot be typed here; line ignored")]
        );
        assert_eq!(refusal(b"a\xa9b\r"), LineError::Untypable { byte: 0xa9, column: 2, ch: None });
    }

    #[test]
    fn control_bytes_refuse_the_line_and_are_shown() {
        let t = run(&mut LineEditor::new(), b"a\x01b\x02\r");
        assert_eq!(t.echo, "a^Ab^B\r\n");
        assert_eq!(t.lines, [err("byte 0x01 (^A) at column 2 cannot be typed here; line ignored")]);
        // The count is per line: the next one runs.
        let mut ed = LineEditor::new();
        run(&mut ed, b"x\x07\r");
        assert_eq!(run(&mut ed, b"y\r").lines, [ok("y")]);
    }

    #[test]
    fn backspace_takes_back_a_bad_byte() {
        // Every byte shows, so backspace removes what the user sees last: one byte at a time.
        let t = run(&mut LineEditor::new(), b"kmalloc 64\x01\x7f\r");
        assert_eq!(t.echo, format!("kmalloc 64^A{}\r\n", ERASE_SEQ.repeat(2)));
        assert_eq!(t.lines, [ok("kmalloc 64")]);
        let t = run(&mut LineEditor::new(), "ab\u{e9}\x7f\x7fc\r".as_bytes());
        assert_eq!(t.echo, format!("ab\\xc3\\xa9{}c\r\n", ERASE_SEQ.repeat(8)));
        assert_eq!(t.lines, [ok("abc")]);
    }

    #[test]
    fn arrow_keys_are_swallowed() {
        // Up, Down, Right, Left (CSI), then Home in application mode (SS3).
        let t = run(&mut LineEditor::new(), b"ls\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH -l\r");
        assert_eq!(t.echo, "ls -l\r\n");
        assert_eq!(t.lines, [ok("ls -l")]);
    }

    #[test]
    fn csi_with_parameters_is_swallowed() {
        // Delete key (ESC [ 3 ~) and Ctrl-Right (ESC [ 1 ; 5 C).
        assert_eq!(lines(b"a\x1b[3~b\x1b[1;5Cc\r"), [ok("abc")]);
    }

    #[test]
    fn osc_strings_are_swallowed_whole() {
        // A colour query reply ended by BEL, and a title string ended by ST (ESC \).
        assert_eq!(lines(b"he\x1b]11;rgb:0000/0000/0000\x07lp\r"), [ok("help")]);
        assert_eq!(lines(b"he\x1b]0;title with spaces\x1b\\lp\r"), [ok("help")]);
        // DCS, APC, PM and SOS strings likewise.
        assert_eq!(lines(b"a\x1bP1$r0m\x1b\\b\x1b_x\x07c\x1b^y\x07\x1bXz\x1b\\\r"), [ok("abc")]);
        // Control bytes inside the string are part of it.
        assert_eq!(lines(b"a\x1b]x\x01\x08y\x07b\r"), [ok("ab")]);
    }

    #[test]
    fn cut_off_sequences_refuse_the_line() {
        // Enter inside a CSI ends the sequence and the line, which is refused.
        assert_eq!(
            lines(b"ab\x1b[1\rcd\r"),
            [err("escape sequence at column 3 was cut off; line ignored"), ok("cd")]
        );
        // An OSC with no terminator does not swallow Enter.
        assert_eq!(
            lines(b"ab\x1b]0;title\rhelp\r"),
            [err("escape sequence at column 3 was cut off; line ignored"), ok("help")]
        );
        // A new sequence inside a string cuts it off.
        assert_eq!(refusal(b"x\x1b]0;t\x1b[Ay\r"), LineError::BrokenEscape { column: 2 });
        // A control byte cutting a CSI is reported at the earlier of the two columns.
        assert_eq!(refusal(b"x\x1b[\x01\r"), LineError::BrokenEscape { column: 2 });
        assert_eq!(
            refusal(b"\x02x\x1b[\x01\r"),
            LineError::Untypable { byte: 0x02, column: 1, ch: None }
        );
        // Ctrl-C inside any sequence still cancels.
        for input in [&b"ab\x1b\x03cd\r"[..], b"ab\x1b[1\x03cd\r", b"ab\x1b]0;t\x03cd\r"] {
            let t = run(&mut LineEditor::new(), input);
            assert_eq!(t.cancels, 1, "{input:?}");
            assert_eq!(t.lines, [ok("cd")], "{input:?}");
        }
    }

    #[test]
    fn a_lone_esc_is_a_byte_of_the_line() {
        // Alt-x sends ESC x: shown, and the line refused, never `x` alone.
        let t = run(&mut LineEditor::new(), b"\x1bx\r");
        assert_eq!(t.echo, "^[x\r\n");
        assert_eq!(t.lines, [err("byte 0x1b (^[) at column 1 cannot be typed here; line ignored")]);
        // ESC then Enter.
        assert_eq!(
            lines(b"ab\x1b\r"),
            [err("byte 0x1b (^[) at column 3 cannot be typed here; line ignored")]
        );
        // ESC ESC [ A: the first ESC is a byte, the rest an arrow key.
        let t = run(&mut LineEditor::new(), b"a\x1b\x1b[Ab\r");
        assert_eq!(t.echo, "a^[b\r\n");
        // ESC then backspace: the backspace takes the (unseen) ESC back.
        let t = run(&mut LineEditor::new(), b"ab\x1b\x7fc\r");
        assert_eq!(t.echo, "abc\r\n");
        assert_eq!(t.lines, [ok("abc")]);
        // ESC then Ctrl-U erases only what was shown.
        let t = run(&mut LineEditor::new(), b"ab\x1b\x15c\r");
        assert_eq!(t.echo, format!("ab{}c\r\n", ERASE_SEQ.repeat(2)));
    }

    #[test]
    fn lost_input_refuses_the_line_it_was_in() {
        let mut ed = LineEditor::new();
        run(&mut ed, b"kmal");
        ed.input_lost();
        let t = run(&mut ed, b"loc 1\rhelp\r");
        assert_eq!(
            t.lines,
            [err("typed input was lost while a command ran; line ignored"), ok("help")]
        );
        // Lost right after a line end: the next line is the one refused.
        let mut ed = LineEditor::new();
        run(&mut ed, b"a\r");
        ed.input_lost();
        assert_eq!(
            run(&mut ed, b"\nb\r").lines,
            [err("typed input was lost while a command ran; line ignored"), ok("b")]
        );
    }

    #[test]
    fn full_line_keeps_escape_handling() {
        let mut input = vec![b'a'; LINE_MAX];
        input.extend_from_slice(b"\x1b[A\x1bx");
        input.push(b'\r');
        let t = run(&mut LineEditor::new(), &input);
        assert_eq!(t.echo.len(), LINE_MAX + NEWLINE.len());
        assert_eq!(t.lines, [err("line too long (max 256 characters)")]);
    }

    #[test]
    fn any_byte_sequence_is_safe() {
        let mut ed = LineEditor::new();
        let mut lines = 0;
        for i in 0..50_000u32 {
            let b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
            if let Event::Line(l) = ed.feed(b) {
                lines += 1;
                assert!(l.bytes().len() <= LINE_MAX);
                if let Ok(cmd) = l.command() {
                    assert!(cmd.bytes().all(|c| PRINTABLE.contains(&c)));
                    assert_eq!(cmd.as_bytes(), l.bytes());
                }
            }
        }
        assert!(lines > 100);
    }

    #[test]
    fn shown_bytes() {
        assert_eq!(Shown(b'a').to_string(), "a");
        assert_eq!(Shown(0x00).to_string(), "^@");
        assert_eq!(Shown(0x1b).to_string(), "^[");
        assert_eq!(Shown(0x1f).to_string(), "^_");
        assert_eq!(Shown(0x80).to_string(), "\\x80");
        for b in 0..=255u8 {
            if b != DEL {
                assert_eq!(Shown(b).to_string().len(), columns(b), "{b:#x}");
            }
        }
    }
}
