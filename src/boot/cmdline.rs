//! Kernel command-line parsing: Linux's `memparse` and `next_arg` tokenizer, and the
//! parameters pivm acts on (`vmalloc=`, `mem=`, `pivm.*`) gathered into a fixed-size
//! `BootParams`, with a fixed-size list of warnings to print. No heap: everything is inline.
use core::fmt;

use crate::sizes::SZ_16M;

/// Smallest `mem=` pivm accepts: below this the kernel image, its tables and the
/// allocators' metadata would not fit.
pub const MEM_MIN: u64 = SZ_16M;
/// Bytes a `pivm.profile=` / `pivm.run=` name may hold.
pub const NAME_MAX: usize = 32;
/// Bytes of a rejected value quoted back in a warning (longer values end in `...`).
pub const SHOWN_VALUE_MAX: usize = 40;
/// Bytes of the "Unknown kernel command line parameters" list before it stops growing.
pub const UNKNOWN_TEXT_MAX: usize = 200;
/// Warnings kept by one `parse`; more are only counted.
pub const MAX_DIAGNOSTICS: usize = 8;
/// Linux's `MAX_INIT_ARGS` / `MAX_INIT_ENVS` (`CONFIG_INIT_ENV_ARG_LIMIT`): unknown
/// parameters remembered for the summary line.
const MAX_INIT_ARGS: usize = 32;

/// Parameters Linux (or the Pi firmware) uses that pivm accepts without acting on them.
const SILENT_KEYS: &[&str] = &[
    "console",
    "earlycon",
    "earlyprintk",
    "loglevel",
    "root",
    "rootfstype",
    "rootwait",
    "ro",
    "rw",
    "quiet",
    "init",
    "rdinit",
    "8250.nr_uarts",
    "coherent_pool",
];

/// Prefix of pivm's own dotted parameters; any other dotted key is a module parameter.
const PIVM_PREFIX: &str = "pivm";

/// Linux `memparse()` on u64: a C-style number (`0x` hex, leading `0` octal, else decimal)
/// and an optional K/M/G/T/P/E suffix (either case, powers of 1024). Returns the value and
/// the unparsed rest; `None` when there is no digit or the value overflows 64 bits.
pub fn memparse(s: &str) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    // simple_strtoull's radix guess: "0x" only counts when a hex digit follows it.
    let (radix, first) = match b {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let mut i = first;
    let mut value: u64 = 0;
    while let Some(d) = b.get(i).and_then(|&c| char::from(c).to_digit(radix)) {
        value = value.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
        i += 1;
    }
    if i == first {
        return None;
    }
    let shift = match b.get(i).map(u8::to_ascii_uppercase) {
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        Some(b'P') => 50,
        Some(b'E') => 60,
        _ => 0,
    };
    if shift > 0 {
        if value > u64::MAX >> shift {
            return None;
        }
        value <<= shift;
        i += 1;
    }
    Some((value, &s[i..]))
}

/// `memparse` that must consume the whole string (pivm rejects `vmalloc=12Q`, where Linux
/// would silently read 12).
fn parse_size(s: &str) -> Option<u64> {
    match memparse(s)? {
        (v, "") => Some(v),
        _ => None,
    }
}

/// Linux's `isspace()` on ASCII (space, \t, \n, \v, \f, \r).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Linux `parameq()`: `-` and `_` are interchangeable in parameter names.
fn key_eq(a: &str, b: &str) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// One command-line parameter: `key` or `key=value`, quotes already removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
}

/// Iterator over parameters, splitting like Linux `next_arg()`: whitespace separates
/// parameters except inside double quotes; a quote opening the value or the whole
/// parameter is removed together with the quote that ends it.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    rest: &'a str,
}

/// Parameters of `cmdline`, in order.
pub fn args(cmdline: &str) -> Args<'_> {
    Args { rest: cmdline }
}

impl<'a> Iterator for Args<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let s = self.rest;
            let b = s.as_bytes();
            let lead = b.iter().take_while(|&&c| is_space(c)).count();
            if lead == b.len() {
                self.rest = "";
                return None;
            }
            let quoted = b[lead] == b'"';
            let start = lead + usize::from(quoted);
            let mut in_quote = quoted;
            // Offset of the first '=' from `start`; 0 means none, as in Linux (so a
            // leading '=' is part of the name).
            let mut equals = 0;
            let mut end = start;
            while end < b.len() {
                let c = b[end];
                if is_space(c) && !in_quote {
                    break;
                }
                if equals == 0 && c == b'=' {
                    equals = end - start;
                }
                if c == b'"' {
                    in_quote = !in_quote;
                }
                end += 1;
            }
            // Every index used below sits on an ASCII byte or a string end, so slicing is
            // always on a char boundary.
            self.rest = if end < b.len() { &s[end + 1..] } else { "" };

            let ends_in_quote = end > start && b[end - 1] == b'"';
            let mut text_end = end;
            let mut stripped = false;
            let param = if equals == 0 {
                None
            } else {
                let mut vstart = start + equals + 1;
                if vstart < end && b[vstart] == b'"' {
                    vstart += 1;
                    if ends_in_quote {
                        text_end = end - 1;
                        stripped = true;
                    }
                }
                Some((start + equals, vstart))
            };
            if quoted && ends_in_quote && !stripped {
                text_end = end - 1;
            }
            let item = match param {
                None => Param { key: &s[start..text_end.max(start)], value: None },
                Some((key_end, vstart)) => {
                    Param { key: &s[start..key_end], value: Some(&s[vstart..text_end.max(vstart)]) }
                }
            };
            if item.key.is_empty() && item.value.is_none() {
                continue; // a lone `""`: nothing to pass on
            }
            return Some(item);
        }
    }
}

/// A string in a fixed inline buffer (no heap at boot).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedStr<N> {
    pub const fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }

    /// `s` if it fits whole, else `None`.
    pub fn copy_from(s: &str) -> Option<Self> {
        let mut f = Self::new();
        f.push_str(s).then_some(f)
    }

    /// As much of `s` as fits, cut at a char boundary; the bool says whether it was cut.
    pub fn truncated(s: &str) -> (Self, bool) {
        let mut cut = s.len().min(N);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut f = Self::new();
        f.push_str(&s[..cut]);
        (f, cut < s.len())
    }

    /// Appends all of `s`, or nothing if it does not fit.
    pub fn push_str(&mut self, s: &str) -> bool {
        let Some(room) = self.buf.get_mut(self.len..self.len + s.len()) else {
            return false;
        };
        room.copy_from_slice(s.as_bytes());
        self.len += s.len();
        true
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s or char-boundary prefixes are ever copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `pivm.profile=` / `pivm.run=` name.
pub type Name = FixedStr<NAME_MAX>;

/// A user-supplied value quoted back in a warning, shortened with `...` if long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    text: FixedStr<SHOWN_VALUE_MAX>,
    cut: bool,
}

impl Shown {
    fn new(s: &str) -> Self {
        let (text, cut) = FixedStr::truncated(s);
        Self { text, cut }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.as_str())?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// `mem=size[@start]` (Linux ARM syntax); `start` defaults to the start of RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemParam {
    pub size: u64,
    pub start: Option<u64>,
}

/// Writes a byte count the way a user would type it: the largest exact K/M/G suffix.
fn write_size(f: &mut fmt::Formatter<'_>, bytes: u64) -> fmt::Result {
    const SUFFIXES: [(u32, char); 3] = [(30, 'G'), (20, 'M'), (10, 'K')];
    for (shift, suffix) in SUFFIXES {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return write!(f, "{}{}", bytes >> shift, suffix);
        }
    }
    write!(f, "{bytes}")
}

impl fmt::Display for MemParam {
    /// The value as it would appear after `mem=`, e.g. `256M@0x10000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_size(f, self.size)?;
        match self.start {
            Some(start) => write!(f, "@{start:#x}"),
            None => Ok(()),
        }
    }
}

/// The command-line parameters pivm acts on. Repeated keys: the last one wins (Linux
/// calls the handler for each occurrence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootParams {
    /// `vmalloc=`: requested vmalloc area size in bytes, unclamped (the layout clamps it).
    pub vmalloc: Option<u64>,
    /// `mem=size[@start]`, at least `MEM_MIN` bytes.
    pub mem: Option<MemParam>,
    /// `pivm.profile=NAME`: layout profile to use.
    pub profile: Option<Name>,
    /// `pivm.run=NAME`: scenario to run at boot.
    pub run: Option<Name>,
    /// `pivm.lazy_vfree=N`: pages of lazily freed vmalloc space before a purge.
    pub lazy_vfree: Option<u64>,
    /// `page_poison=1|on` (Linux's parameter): fill freed pages with a pattern and check it
    /// when they are allocated again.
    pub page_poison: bool,
    /// `cma=SIZE[@BASE[-LIMIT]]`: the default CMA area (`cma=0`: none).
    pub cma: Option<crate::mm::cma::CmaParam>,
}

/// A problem found on the command line; `Display` prints one line (no newline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineWarning {
    /// A size or count that does not parse (or has trailing junk).
    InvalidNumber { key: &'static str, value: Shown },
    /// A known key given without a value.
    MissingValue { key: &'static str },
    /// An on/off switch with another value.
    InvalidSwitch { key: &'static str, value: Shown },
    /// `mem=` below `MEM_MIN`.
    MemTooSmall { value: Shown },
    /// A name longer than `NAME_MAX` bytes.
    NameTooLong { key: &'static str, value: Shown, len: usize },
    /// Linux's summary of parameters no handler took; `more` says some did not fit.
    Unknown { list: FixedStr<UNKNOWN_TEXT_MAX>, more: bool },
}

impl fmt::Display for CmdlineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNumber { key, value } => {
                write!(f, "{key}={value}: invalid size, ignored")
            }
            Self::MissingValue { key } => write!(f, "{key}: missing value, ignored"),
            Self::InvalidSwitch { key, value } => {
                write!(f, "{key}={value}: expected 1/on or 0/off, ignored")
            }
            Self::MemTooSmall { value } => {
                write!(f, "mem={value}: too small (minimum {}MiB), ignored", MEM_MIN >> 20)
            }
            Self::NameTooLong { key, value, len } => {
                write!(f, "{key}={value}: name too long ({len} bytes, maximum {NAME_MAX}), ignored")
            }
            Self::Unknown { list, more } => write!(
                f,
                "Unknown kernel command line parameters \"{list}{}\", will be passed to user space.",
                if *more { " ..." } else { "" }
            ),
        }
    }
}

/// The warnings of one `parse`, in command-line order, at most `MAX_DIAGNOSTICS`.
pub type Diagnostics = crate::warnings::Warnings<CmdlineWarning, MAX_DIAGNOSTICS>;

/// Unknown parameters, kept as Linux keeps them for init: bare words (argv) and
/// `key=value` pairs (envp, where a repeated key replaces the earlier value in place).
struct Unknowns<'a> {
    argv: [Param<'a>; MAX_INIT_ARGS],
    nr_argv: usize,
    envp: [Param<'a>; MAX_INIT_ARGS],
    nr_envp: usize,
}

impl<'a> Unknowns<'a> {
    const EMPTY: Param<'static> = Param { key: "", value: None };

    fn new() -> Self {
        Self {
            argv: [Self::EMPTY; MAX_INIT_ARGS],
            nr_argv: 0,
            envp: [Self::EMPTY; MAX_INIT_ARGS],
            nr_envp: 0,
        }
    }

    fn add_arg(&mut self, p: Param<'a>) {
        if let Some(slot) = self.argv.get_mut(self.nr_argv) {
            *slot = p;
            self.nr_argv += 1;
        }
    }

    fn add(&mut self, p: Param<'a>) {
        if p.value.is_none() {
            self.add_arg(p);
        } else if let Some(old) = self.envp[..self.nr_envp].iter_mut().find(|e| e.key == p.key) {
            *old = p;
        } else if let Some(slot) = self.envp.get_mut(self.nr_envp) {
            *slot = p;
            self.nr_envp += 1;
        }
    }

    /// Linux prints all argv entries, then all envp entries, space separated.
    fn warning(&self) -> Option<CmdlineWarning> {
        let all = self.argv[..self.nr_argv].iter().chain(&self.envp[..self.nr_envp]);
        let mut list = FixedStr::new();
        let mut more = false;
        for (i, p) in all.enumerate() {
            let sep = if i == 0 { "" } else { " " };
            let eq = if p.value.is_some() { "=" } else { "" };
            let needed = sep.len() + p.key.len() + eq.len() + p.value.map_or(0, str::len);
            if more || list.len() + needed > UNKNOWN_TEXT_MAX {
                more = true;
                continue;
            }
            for part in [sep, p.key, eq, p.value.unwrap_or("")] {
                list.push_str(part);
            }
        }
        (self.nr_argv + self.nr_envp > 0).then_some(CmdlineWarning::Unknown { list, more })
    }
}

fn size_param(key: &'static str, value: Option<&str>, diag: &mut Diagnostics) -> Option<u64> {
    let value = match value {
        None | Some("") => {
            diag.push(CmdlineWarning::MissingValue { key });
            return None;
        }
        Some(v) => v,
    };
    let parsed = parse_size(value);
    if parsed.is_none() {
        diag.push(CmdlineWarning::InvalidNumber { key, value: Shown::new(value) });
    }
    parsed
}

fn mem_param(value: Option<&str>, diag: &mut Diagnostics) -> Option<MemParam> {
    const KEY: &str = "mem";
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        diag.push(CmdlineWarning::MissingValue { key: KEY });
        return None;
    };
    let parsed = memparse(value).and_then(|(size, rest)| match rest.strip_prefix('@') {
        None if rest.is_empty() => Some(MemParam { size, start: None }),
        Some(start) => Some(MemParam { size, start: Some(parse_size(start)?) }),
        None => None,
    });
    match parsed {
        None => diag.push(CmdlineWarning::InvalidNumber { key: KEY, value: Shown::new(value) }),
        Some(m) if m.size < MEM_MIN => {
            diag.push(CmdlineWarning::MemTooSmall { value: Shown::new(value) })
        }
        Some(m) => return Some(m),
    }
    None
}

fn name_param(key: &'static str, value: Option<&str>, diag: &mut Diagnostics) -> Option<Name> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        diag.push(CmdlineWarning::MissingValue { key });
        return None;
    };
    let name = Name::copy_from(value);
    if name.is_none() {
        diag.push(CmdlineWarning::NameTooLong { key, value: Shown::new(value), len: value.len() });
    }
    name
}

/// True for parameters pivm takes silently: the Linux/firmware ones in `SILENT_KEYS` and
/// module parameters (`module.param`, any dotted key outside `pivm.`).
fn is_silent(key: &str) -> bool {
    if SILENT_KEYS.iter().any(|k| key_eq(k, key)) {
        return true;
    }
    match key.split_once('.') {
        Some((prefix, _)) => !key_eq(prefix, PIVM_PREFIX),
        None => false,
    }
}

/// Parses a kernel command line. Invalid values are ignored with a warning, so the result is
/// always usable; unknown parameters are summarised in one final warning, as Linux does.
pub fn parse(cmdline: &str) -> (BootParams, Diagnostics) {
    let mut params = BootParams::default();
    let mut diag = Diagnostics::default();
    let mut unknown = Unknowns::new();
    let mut after_dashes = false;

    for p in args(cmdline) {
        if after_dashes {
            // Everything after `--` goes to init's argv untouched.
            unknown.add_arg(p);
            continue;
        }
        let key = p.key;
        if key == "--" && p.value.is_none() {
            after_dashes = true;
        } else if key_eq(key, "vmalloc") {
            if let Some(v) = size_param("vmalloc", p.value, &mut diag) {
                params.vmalloc = Some(v);
            }
        } else if key_eq(key, "mem") {
            if let Some(m) = mem_param(p.value, &mut diag) {
                params.mem = Some(m);
            }
        } else if key_eq(key, "cma") {
            match p.value.map(crate::mm::cma::CmaParam::parse) {
                Some(Ok(c)) => params.cma = Some(c),
                Some(Err(_)) => diag.push(CmdlineWarning::InvalidNumber {
                    key: "cma",
                    value: Shown::new(p.value.unwrap_or("")),
                }),
                None => diag.push(CmdlineWarning::MissingValue { key: "cma" }),
            }
        } else if key_eq(key, "pivm.lazy_vfree") {
            if let Some(v) = size_param("pivm.lazy_vfree", p.value, &mut diag) {
                params.lazy_vfree = Some(v);
            }
        } else if key_eq(key, "page_poison") {
            match p.value {
                Some("1" | "on" | "y") => params.page_poison = true,
                Some("0" | "off" | "n") => params.page_poison = false,
                _ => diag.push(CmdlineWarning::InvalidSwitch {
                    key: "page_poison",
                    value: Shown::new(p.value.unwrap_or("")),
                }),
            }
        } else if key_eq(key, "pivm.profile") {
            if let Some(n) = name_param("pivm.profile", p.value, &mut diag) {
                params.profile = Some(n);
            }
        } else if key_eq(key, "pivm.run") {
            if let Some(n) = name_param("pivm.run", p.value, &mut diag) {
                params.run = Some(n);
            }
        } else if !is_silent(key) {
            unknown.add(p);
        }
    }
    if let Some(w) = unknown.warning() {
        diag.push(w);
    }
    (params, diag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizes::{SZ_1G, SZ_1K, SZ_1M, SZ_4G};

    fn lines(d: &Diagnostics) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    fn kv(cmdline: &str) -> Vec<(&str, Option<&str>)> {
        args(cmdline).map(|p| (p.key, p.value)).collect()
    }

    #[test]
    fn page_poison_switch() {
        assert!(parse("page_poison=1").0.page_poison);
        assert!(!parse("page_poison=on page_poison=off").0.page_poison);
        let (p, d) = parse("page_poison=maybe");
        assert!(!p.page_poison);
        let msg = d.iter().next().unwrap().to_string();
        assert_eq!(msg, "page_poison=maybe: expected 1/on or 0/off, ignored");
    }

    #[test]
    fn memparse_like_linux() {
        let cases: &[(&str, Option<(u64, &str)>)] = &[
            ("0", Some((0, ""))),
            ("123", Some((123, ""))),
            ("0x10", Some((16, ""))),
            ("0X1f", Some((31, ""))),
            ("010", Some((8, ""))),
            ("08", Some((0, "8"))),
            ("0x", Some((0, "x"))),
            ("0xg", Some((0, "xg"))),
            ("4k", Some((4 * SZ_1K, ""))),
            ("4K", Some((4 * SZ_1K, ""))),
            ("256M", Some((256 * SZ_1M, ""))),
            ("1g", Some((SZ_1G, ""))),
            ("4G", Some((SZ_4G, ""))),
            ("1T", Some((1 << 40, ""))),
            ("1p", Some((1 << 50, ""))),
            ("15E", Some((15 << 60, ""))),
            ("0x10M@0x1000", Some((16 * SZ_1M, "@0x1000"))),
            ("12Q", Some((12, "Q"))),
            ("512MB", Some((512 * SZ_1M, "B"))),
            ("", None),
            ("M", None),
            ("-1", None),
            (" 1", None),
            ("16E", None),
            ("18446744073709551615", Some((u64::MAX, ""))),
            ("18446744073709551616", None),
            ("0x10000000000000000", None),
        ];
        for &(s, want) in cases {
            assert_eq!(memparse(s), want, "memparse({s:?})");
        }
    }

    #[test]
    fn tokenizer_splits_and_unquotes_like_next_arg() {
        assert_eq!(kv(""), []);
        assert_eq!(kv("   \t\n "), []);
        assert_eq!(kv("a b=c  d="), [("a", None), ("b", Some("c")), ("d", Some(""))]);
        assert_eq!(kv("key=\"a b\" x"), [("key", Some("a b")), ("x", None)]);
        assert_eq!(kv("\"key=a b\" x"), [("key", Some("a b")), ("x", None)]);
        assert_eq!(kv("\"quoted word\""), [("quoted word", None)]);
        assert_eq!(kv("a=b=c"), [("a", Some("b=c"))]);
        assert_eq!(kv("=x=y"), [("=x", Some("y"))]);
        assert_eq!(kv("k=\""), [("k", Some(""))]);
        assert_eq!(kv("k=\"unterminated value"), [("k", Some("unterminated value"))]);
        assert_eq!(kv("\"\" a"), [("a", None)]);
        assert_eq!(kv("a=x\"y z\""), [("a", Some("x\"y z\""))]);
    }

    #[test]
    fn known_parameters() {
        let (p, d) =
            parse("vmalloc=256M mem=512M pivm.profile=rpi pivm.run=frag pivm.lazy_vfree=0x40");
        assert!(d.is_empty(), "{:?}", lines(&d));
        assert_eq!(p.vmalloc, Some(256 * SZ_1M));
        assert_eq!(p.mem, Some(MemParam { size: 512 * SZ_1M, start: None }));
        assert_eq!(p.profile.unwrap().as_str(), "rpi");
        assert_eq!(p.run.unwrap().as_str(), "frag");
        assert_eq!(p.lazy_vfree, Some(64));
    }

    #[test]
    fn empty_line_gives_defaults() {
        let (p, d) = parse("");
        assert_eq!(p, BootParams::default());
        assert!(d.is_empty() && d.dropped() == 0);
    }

    #[test]
    fn vmalloc_is_not_clamped_here() {
        assert_eq!(parse("vmalloc=4G").0.vmalloc, Some(SZ_4G));
        assert_eq!(parse("vmalloc=1").0.vmalloc, Some(1));
    }

    #[test]
    fn mem_with_start() {
        let (p, d) = parse("mem=256M@0x10000000");
        assert!(d.is_empty());
        assert_eq!(p.mem, Some(MemParam { size: 256 * SZ_1M, start: Some(0x1000_0000) }));
        assert_eq!(p.mem.unwrap().to_string(), "256M@0x10000000");
        assert_eq!(MemParam { size: SZ_4G, start: None }.to_string(), "4G");
        assert_eq!(MemParam { size: SZ_16M + 5, start: None }.to_string(), "16777221");
    }

    #[test]
    fn bad_values_are_reported_and_ignored() {
        let (p, d) =
            parse("vmalloc=garbage vmalloc=12Q mem=0 mem=1M mem=16M@ mem=x pivm.lazy_vfree=lots");
        assert_eq!(p, BootParams::default());
        assert_eq!(
            lines(&d),
            [
                "vmalloc=garbage: invalid size, ignored",
                "vmalloc=12Q: invalid size, ignored",
                "mem=0: too small (minimum 16MiB), ignored",
                "mem=1M: too small (minimum 16MiB), ignored",
                "mem=16M@: invalid size, ignored",
                "mem=x: invalid size, ignored",
                "pivm.lazy_vfree=lots: invalid size, ignored",
            ]
        );
    }

    #[test]
    fn missing_values() {
        let (p, d) = parse("vmalloc mem= pivm.profile pivm.run=\"\"");
        assert_eq!(p, BootParams::default());
        assert_eq!(
            lines(&d),
            [
                "vmalloc: missing value, ignored",
                "mem: missing value, ignored",
                "pivm.profile: missing value, ignored",
                "pivm.run: missing value, ignored",
            ]
        );
    }

    #[test]
    fn long_names_and_values_are_cut() {
        let long = "p".repeat(SHOWN_VALUE_MAX + 5);
        let (p, d) = parse(&format!("pivm.profile={long} pivm.run={}", "r".repeat(NAME_MAX)));
        assert!(p.profile.is_none());
        assert_eq!(p.run.unwrap().len(), NAME_MAX);
        let (_, d2) = parse(&format!("pivm.run={}", "r".repeat(NAME_MAX + 1)));
        assert_eq!(
            lines(&d2),
            [format!("pivm.run={}: name too long (33 bytes, maximum 32), ignored", "r".repeat(33))]
        );
        assert_eq!(
            lines(&d),
            [format!(
                "pivm.profile={}...: name too long (45 bytes, maximum 32), ignored",
                "p".repeat(SHOWN_VALUE_MAX)
            )]
        );
    }

    #[test]
    fn last_value_wins_and_bad_repeat_keeps_earlier() {
        let (p, _) = parse("vmalloc=128M vmalloc=400M mem=512M mem=bad");
        assert_eq!(p.vmalloc, Some(400 * SZ_1M));
        assert_eq!(p.mem, Some(MemParam { size: 512 * SZ_1M, start: None }));
    }

    #[test]
    fn quoted_and_dashed_keys() {
        let (p, d) = parse("\"vmalloc=96M\" pivm.lazy-vfree=\"3\" pivm.profile=\"my profile\"");
        assert!(d.is_empty());
        assert_eq!(p.vmalloc, Some(96 * SZ_1M));
        assert_eq!(p.lazy_vfree, Some(3));
        assert_eq!(p.profile.unwrap().as_str(), "my profile");
    }

    #[test]
    fn pi_firmware_line_is_silent() {
        let pi = "coherent_pool=1M 8250.nr_uarts=1 snd_bcm2835.enable_compat_alsa=0 \
                  bcm2708_fb.fbwidth=656 bcm2708_fb.fbheight=416 smsc95xx.macaddr=B8:27:EB:00:00:00 \
                  vc_mem.mem_base=0x3ec00000 vc_mem.mem_size=0x40000000 console=ttyAMA0,115200 \
                  console=tty1 root=/dev/mmcblk0p2 rootfstype=ext4 rootwait quiet loglevel=7 \
                  earlycon=pl011,0x3f201000 earlyprintk init=/sbin/init rdinit=/init ro";
        let (p, d) = parse(pi);
        assert_eq!(p, BootParams::default());
        assert!(d.is_empty(), "{:?}", lines(&d));
    }

    #[test]
    fn unknown_parameters_in_linux_order() {
        // Linux lists bare words (init's argv) before key=value pairs (init's envp).
        let (_, d) = parse("foo=bar splash vmalloc=64M baz \"x=1 2\" pivm.bogus=1 foo=again");
        assert_eq!(
            lines(&d),
            ["Unknown kernel command line parameters \"splash baz foo=again x=1 2 pivm.bogus=1\", will be passed to user space."]
        );
        let (_, d) = parse("foo=bar baz");
        assert_eq!(
            lines(&d),
            ["Unknown kernel command line parameters \"baz foo=bar\", will be passed to user space."]
        );
    }

    #[test]
    fn after_dashes_everything_goes_to_init() {
        let (p, d) = parse("vmalloc=64M -- vmalloc=1G single");
        assert_eq!(p.vmalloc, Some(64 * SZ_1M));
        assert_eq!(
            lines(&d),
            ["Unknown kernel command line parameters \"vmalloc=1G single\", will be passed to user space."]
        );
    }

    #[test]
    fn unknown_list_is_bounded() {
        let mut line = String::new();
        for i in 0..100 {
            line.push_str(&format!("unknown_parameter_{i} "));
        }
        let (_, d) = parse(&line);
        let CmdlineWarning::Unknown { list, more } = d.iter().last().unwrap() else { panic!() };
        assert!(*more);
        assert!(list.len() <= UNKNOWN_TEXT_MAX);
        assert!(list.as_str().starts_with("unknown_parameter_0 unknown_parameter_1 "));
        assert!(lines(&d)[0].ends_with(" ...\", will be passed to user space."));
    }

    #[test]
    fn diagnostics_overflow_is_counted() {
        let line = "mem=0 ".repeat(MAX_DIAGNOSTICS + 3);
        let (_, d) = parse(&line);
        assert_eq!(d.len(), MAX_DIAGNOSTICS);
        assert_eq!(d.dropped(), 3);
    }

    #[test]
    fn garbage_bytes_do_not_panic() {
        let samples = [
            "\u{0}\u{1}\u{7f} \"\"\"\" = == =\"=\" \"",
            "vmalloc=\u{e9}\u{e9} mem=\u{1F600}@\u{1F600} pivm.profile=\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
            "\"unterminated key=value",
            "\u{b}\u{c}\r\n\t",
        ];
        for s in samples {
            let (_, d) = parse(s);
            for w in d.iter() {
                let _ = w.to_string();
            }
        }
        let (_, d) = parse("vmalloc=\u{e9}\u{e9}");
        assert_eq!(lines(&d), ["vmalloc=\u{e9}\u{e9}: invalid size, ignored"]);
        // A cut inside a multibyte char backs off to the char boundary.
        let (f, cut) = FixedStr::<3>::truncated("a\u{e9}\u{e9}");
        assert_eq!((f.as_str(), cut), ("a\u{e9}", true));
    }
}
