//! Kernel command-line parsing: Linux's `memparse` and `next_arg` tokenizer, and the
//! parameters pivm acts on (`vmalloc=`, `mem=`, `pivm.*`) gathered into a fixed-size
//! `BootParams`, with a fixed-size list of warnings to print. No heap: everything is inline.
//!
//! The command line is bytes, as in Linux: nothing is dropped or rewritten. A value with a
//! byte its parser cannot take is refused with a warning, and text quoted back is shown with
//! [`Escaped`] (control bytes and invalid UTF-8 as `\xNN`).
use core::fmt;

use crate::sizes::SZ_4K;

/// Smallest `mem=` bank: one page (`arm_add_memory` drops a bank that rounds down to
/// nothing). A bank smaller than the kernel needs is fine: the layout keeps the kernel's own
/// first 16 MiB whatever `mem=` says.
pub const MEM_MIN: u64 = SZ_4K;
/// Bytes a `pivm.profile=` / `pivm.run=` name may hold.
pub const NAME_MAX: usize = 32;
/// Bytes of a rejected value quoted back in a warning (longer values end in `...`).
pub const SHOWN_VALUE_MAX: usize = 40;
/// Warnings kept by one `parse`; more are only counted.
pub const MAX_DIAGNOSTICS: usize = 8;
/// `mem=` parameters kept (Linux/ARM adds one memblock bank per `mem=`; pivm keeps as many as
/// the firmware may report banks).
pub const MAX_MEM_PARAMS: usize = crate::boot::info::MAX_MEM_BANKS;
/// Linux's `MAX_INIT_ARGS` / `MAX_INIT_ENVS` (`CONFIG_INIT_ENV_ARG_LIMIT`).
const MAX_INIT_ARGS: usize = 32;
const MAX_INIT_ENVS: usize = 32;
/// Entries init's argv and envp hold before `unknown_bootoption` gives up: its scan of the
/// existing entries stops the kernel at index `MAX_INIT_ARGS`/`MAX_INIT_ENVS`, so one more
/// than that fits.
const INIT_ARGS_SLOTS: usize = MAX_INIT_ARGS + 1;
const INIT_ENVS_SLOTS: usize = MAX_INIT_ENVS + 1;
/// Entries Linux puts there before the command line is parsed: argv `"init"`; envp
/// `"HOME=/"`, `"TERM=linux"`.
const INIT_ARGS_PRESET: usize = 1;
const INIT_ENVS_PRESET: usize = 2;

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

/// Bytes shown as they are (printable ASCII, and valid UTF-8 characters that are not control
/// characters); every other byte as `\xNN`. Linux prints the command line's bytes raw; this
/// keeps every byte visible on a terminal without ever dropping one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |f: &mut fmt::Formatter<'_>, bytes: &[u8]| {
            bytes.iter().try_for_each(|b| write!(f, "\\x{b:02x}"))
        };
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() {
                    let mut buf = [0u8; 4];
                    hex(f, c.encode_utf8(&mut buf).as_bytes())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            hex(f, chunk.invalid())?;
        }
        Ok(())
    }
}

/// Linux `memparse()` on u64: a C-style number (`0x` hex, leading `0` octal, else decimal)
/// and an optional K/M/G/T/P/E suffix (either case, powers of 1024). Returns the value and
/// the unparsed rest; `None` when there is no digit or the value overflows 64 bits.
pub fn memparse(b: &[u8]) -> Option<(u64, &[u8])> {
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
    Some((value, &b[i..]))
}

/// `memparse` that must consume the whole value (pivm rejects `vmalloc=12Q` and
/// `mem=5<0x01>12M`, where Linux would silently read 12 and 5).
fn parse_size(s: &[u8]) -> Option<u64> {
    match memparse(s)? {
        (v, []) => Some(v),
        _ => None,
    }
}

/// Linux's `isspace()` on ASCII (space, \t, \n, \v, \f, \r).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Linux `parameq()`: `-` and `_` are interchangeable in parameter names.
fn key_eq(a: &[u8], b: &str) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b.bytes()).all(|(&x, y)| norm(x) == norm(y))
}

/// One command-line parameter: `key` or `key=value`, quotes already removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl fmt::Display for Param<'_> {
    /// As Linux passes it to init: `key` or `key=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Escaped(self.key))?;
        match self.value {
            Some(v) => write!(f, "={}", Escaped(v)),
            None => Ok(()),
        }
    }
}

/// Iterator over parameters, splitting like Linux `next_arg()`: whitespace separates
/// parameters except inside double quotes; a quote opening the value or the whole
/// parameter is removed together with the quote that ends it.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    rest: &'a [u8],
}

/// Parameters of `cmdline`, in order.
pub fn args(cmdline: &[u8]) -> Args<'_> {
    Args { rest: cmdline }
}

impl<'a> Iterator for Args<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let b = self.rest;
            let lead = b.iter().take_while(|&&c| is_space(c)).count();
            if lead == b.len() {
                self.rest = &[];
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
            self.rest = if end < b.len() { &b[end + 1..] } else { &[] };

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
                None => Param { key: &b[start..text_end.max(start)], value: None },
                Some((key_end, vstart)) => {
                    Param { key: &b[start..key_end], value: Some(&b[vstart..text_end.max(vstart)]) }
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
        // Only whole `&str`s are ever copied in.
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

/// A user-supplied value quoted back in a warning, shortened with `...` if long; its bytes
/// are shown with [`Escaped`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    buf: [u8; SHOWN_VALUE_MAX],
    len: usize,
    cut: bool,
}

impl Shown {
    fn new(s: &[u8]) -> Self {
        let mut len = s.len().min(SHOWN_VALUE_MAX);
        // Do not cut a UTF-8 sequence in two (back off over continuation bytes).
        if len < s.len() {
            let mut back = len;
            while back > 0 && len - back < 3 && s[back] & 0xc0 == 0x80 {
                back -= 1;
            }
            if s[back] & 0xc0 != 0x80 {
                len = back;
            }
        }
        let mut buf = [0; SHOWN_VALUE_MAX];
        buf[..len].copy_from_slice(&s[..len]);
        Self { buf, len, cut: len < s.len() }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Escaped(&self.buf[..self.len]))?;
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

/// Every valid `mem=` in command-line order: Linux/ARM's `early_mem()` drops the firmware's
/// memory at the first one and adds a bank for each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemParams {
    banks: [Option<MemParam>; MAX_MEM_PARAMS],
    len: usize,
}

impl MemParams {
    /// Adds a bank; false (nothing added) when `MAX_MEM_PARAMS` are already kept.
    pub fn push(&mut self, m: MemParam) -> bool {
        let Some(slot) = self.banks.get_mut(self.len) else { return false };
        *slot = Some(m);
        self.len += 1;
        true
    }

    /// The banks, in command-line order (empty: no `mem=`).
    pub fn iter(&self) -> impl Iterator<Item = MemParam> + '_ {
        self.banks[..self.len].iter().flatten().copied()
    }

    /// The banks as a fixed array and its length, for `LayoutInput`.
    pub fn to_array(&self) -> ([MemParam; MAX_MEM_PARAMS], usize) {
        let mut out = [MemParam { size: 0, start: None }; MAX_MEM_PARAMS];
        for (slot, m) in out.iter_mut().zip(self.iter()) {
            *slot = m;
        }
        (out, self.len)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The command-line parameters pivm acts on. Repeated keys: the last one wins (Linux
/// calls the handler for each occurrence), except `mem=`, where each adds a bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootParams {
    /// `vmalloc=`: requested vmalloc area size in bytes, unclamped (the layout clamps it).
    pub vmalloc: Option<u64>,
    /// Every valid `mem=size[@start]`, each at least `MEM_MIN` bytes.
    pub mem: MemParams,
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
    /// `memblock=debug` (Linux's parameter): print memblock's regions once boot has made its
    /// reservations (`memblock_dump_all`).
    pub memblock_debug: bool,
    /// `norandmaps` (Linux's parameter): no address-space randomisation for processes
    /// (`randomize_va_space` 0).
    pub norandmaps: bool,
    /// `user_debug=N` (ARM's parameter): bits of user-space faults the kernel reports
    /// (`UDBG_SEGV` 8 prints `unhandled page fault`).
    pub user_debug: u32,
}

/// A problem found on the command line; `Display` prints one line (no newline). Text the
/// user typed is quoted back as typed (with `=` only when one was typed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineWarning<'a> {
    /// A size or count that does not parse (or has trailing junk).
    InvalidNumber { key: &'static str, value: Shown },
    /// A known key given without a value; `eq` says whether `key=` was typed.
    MissingValue { key: &'static str, eq: bool },
    /// An on/off switch with another value, or none (`value` is `None` without an `=`).
    InvalidSwitch { key: &'static str, value: Option<Shown> },
    /// A parameter whose only value is `expected`, given another (or none).
    InvalidChoice { key: &'static str, value: Option<Shown>, expected: &'static str },
    /// `mem=` below `MEM_MIN`.
    MemTooSmall { value: Shown },
    /// More than `MAX_MEM_PARAMS` valid `mem=` banks.
    TooManyMem { value: Shown },
    /// A name longer than `NAME_MAX` bytes.
    NameTooLong { key: &'static str, value: Shown, len: usize },
    /// A name with a byte outside printable ASCII.
    NameInvalidByte { key: &'static str, value: Shown, byte: u8 },
    /// Linux's summary of parameters no handler took, rendered from the command line itself
    /// (so it is never cut short).
    Unknown { cmdline: &'a [u8] },
    /// More unknown parameters than init's argv (`init`) or envp (`env`) can hold, at the
    /// first that did not fit: Linux panics here; pivm carries on without passing it.
    TooManyInitVars { what: &'static str, param: Param<'a> },
}

impl fmt::Display for CmdlineWarning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNumber { key, value } => {
                write!(f, "{key}={value}: invalid size, ignored")
            }
            Self::MissingValue { key, eq } => {
                write!(f, "{key}{}: missing value, ignored", if *eq { "=" } else { "" })
            }
            Self::InvalidSwitch { key, value: Some(value) } => {
                write!(f, "{key}={value}: expected 1/on or 0/off, ignored")
            }
            Self::InvalidSwitch { key, value: None } => {
                write!(f, "{key}: expected 1/on or 0/off, ignored")
            }
            Self::InvalidChoice { key, value: Some(value), expected } => {
                write!(f, "{key}={value}: expected {key}={expected}, ignored")
            }
            Self::InvalidChoice { key, value: None, expected } => {
                write!(f, "{key}: expected {key}={expected}, ignored")
            }
            Self::MemTooSmall { value } => {
                write!(f, "mem={value}: too small (minimum {}KiB), ignored", MEM_MIN >> 10)
            }
            Self::TooManyMem { value } => {
                write!(f, "mem={value}: more than {MAX_MEM_PARAMS} mem= banks, ignored")
            }
            Self::NameTooLong { key, value, len } => {
                write!(f, "{key}={value}: name too long ({len} bytes, maximum {NAME_MAX}), ignored")
            }
            Self::NameInvalidByte { key, value, byte } => write!(
                f,
                "{key}={value}: byte {byte:#04x} is not allowed in a name (printable ASCII), ignored"
            ),
            Self::Unknown { cmdline } => {
                f.write_str("Unknown kernel command line parameters \"")?;
                write_unknown(f, cmdline)?;
                f.write_str("\", will be passed to user space.")
            }
            Self::TooManyInitVars { what, param } => {
                write!(f, "Too many boot {what} vars at `{param}'")
            }
        }
    }
}

/// The warnings of one `parse`, in command-line order, at most `MAX_DIAGNOSTICS`.
pub type Diagnostics<'a> = crate::warnings::Warnings<CmdlineWarning<'a>, MAX_DIAGNOSTICS>;

/// Where a parameter goes: to a handler (pivm's or one it accepts silently) or, unknown, to
/// init (Linux's `unknown_bootoption`): bare words to argv, `key=value` to envp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    Handled,
    InitArg,
    InitEnv,
}

/// The keys `parse` acts on.
const KNOWN_KEYS: &[&str] = &[
    "vmalloc",
    "mem",
    "cma",
    "pivm.lazy_vfree",
    "page_poison",
    "memblock",
    "pivm.profile",
    "pivm.run",
    "norandmaps",
    "user_debug",
];

/// Each parameter with where it goes, in order; after `--` everything is init's argv.
fn route(cmdline: &[u8]) -> impl Iterator<Item = (Param<'_>, Dest)> {
    let mut after_dashes = false;
    args(cmdline).filter_map(move |p| {
        if after_dashes {
            return Some((p, Dest::InitArg));
        }
        if p.key == b"--" && p.value.is_none() {
            after_dashes = true;
            return None;
        }
        let handled = KNOWN_KEYS.iter().any(|k| key_eq(p.key, k)) || is_silent(p.key);
        Some((
            p,
            match (handled, p.value) {
                (true, _) => Dest::Handled,
                (false, None) => Dest::InitArg,
                (false, Some(_)) => Dest::InitEnv,
            },
        ))
    })
}

/// The envp entries in Linux's order: a key takes the slot of its first occurrence and the
/// value of its last (`unknown_bootoption` replaces an entry with the same `key=`).
fn init_envs(cmdline: &[u8]) -> impl Iterator<Item = Param<'_>> {
    let envs = move || route(cmdline).filter(|&(_, d)| d == Dest::InitEnv).map(|(p, _)| p);
    envs().enumerate().filter_map(move |(i, p)| {
        if envs().take(i).any(|q| q.key == p.key) {
            return None;
        }
        envs().filter(|q| q.key == p.key).last()
    })
}

/// The parameters passed to init, space separated as `print_unknown_bootoptions` lists them:
/// argv, then envp, as many as fit in Linux's arrays.
fn write_unknown(f: &mut fmt::Formatter<'_>, cmdline: &[u8]) -> fmt::Result {
    let argv = route(cmdline).filter(|&(_, d)| d == Dest::InitArg).map(|(p, _)| p);
    let argv = argv.take(INIT_ARGS_SLOTS - INIT_ARGS_PRESET);
    let envp = init_envs(cmdline).take(INIT_ENVS_SLOTS - INIT_ENVS_PRESET);
    for (i, p) in argv.chain(envp).enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{p}")?;
    }
    Ok(())
}

fn size_param(key: &'static str, value: Option<&[u8]>, diag: &mut Diagnostics) -> Option<u64> {
    let value = match value {
        None | Some([]) => {
            diag.push(CmdlineWarning::MissingValue { key, eq: value.is_some() });
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

fn mem_param(value: Option<&[u8]>, diag: &mut Diagnostics) -> Option<MemParam> {
    const KEY: &str = "mem";
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        diag.push(CmdlineWarning::MissingValue { key: KEY, eq: value.is_some() });
        return None;
    };
    let parsed = memparse(value).and_then(|(size, rest)| match rest.split_first() {
        None => Some(MemParam { size, start: None }),
        Some((b'@', start)) => Some(MemParam { size, start: Some(parse_size(start)?) }),
        Some(_) => None,
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

fn name_param(key: &'static str, value: Option<&[u8]>, diag: &mut Diagnostics) -> Option<Name> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        diag.push(CmdlineWarning::MissingValue { key, eq: value.is_some() });
        return None;
    };
    if let Some(&byte) = value.iter().find(|&&b| !(0x20..0x7f).contains(&b)) {
        diag.push(CmdlineWarning::NameInvalidByte { key, value: Shown::new(value), byte });
        return None;
    }
    // Printable ASCII is UTF-8.
    let name = core::str::from_utf8(value).ok().and_then(Name::copy_from);
    if name.is_none() {
        diag.push(CmdlineWarning::NameTooLong { key, value: Shown::new(value), len: value.len() });
    }
    name
}

/// True for parameters pivm takes silently: the Linux/firmware ones in `SILENT_KEYS` and
/// module parameters (`module.param`, any dotted key outside `pivm.`).
fn is_silent(key: &[u8]) -> bool {
    if SILENT_KEYS.iter().any(|k| key_eq(key, k)) {
        return true;
    }
    match key.iter().position(|&b| b == b'.') {
        Some(dot) => !key_eq(&key[..dot], PIVM_PREFIX),
        None => false,
    }
}

/// Parses a kernel command line. Invalid values are ignored with a warning, so the result is
/// always usable; unknown parameters are summarised in one final warning, as Linux does.
pub fn parse(cmdline: &[u8]) -> (BootParams, Diagnostics<'_>) {
    let mut params = BootParams::default();
    let mut diag = Diagnostics::default();
    let (mut nr_args, mut nr_envs) = (INIT_ARGS_PRESET, INIT_ENVS_PRESET);
    let mut envs_seen = 0;

    for (p, dest) in route(cmdline) {
        let key = p.key;
        match dest {
            Dest::InitArg => {
                if nr_args == INIT_ARGS_SLOTS {
                    diag.push(CmdlineWarning::TooManyInitVars { what: "init", param: p });
                }
                nr_args += 1;
                continue;
            }
            Dest::InitEnv => {
                // A repeated key reuses its slot.
                envs_seen += 1;
                let repeated = route(cmdline)
                    .filter(|&(_, d)| d == Dest::InitEnv)
                    .take(envs_seen - 1)
                    .any(|(q, _)| q.key == key);
                if !repeated {
                    if nr_envs == INIT_ENVS_SLOTS {
                        diag.push(CmdlineWarning::TooManyInitVars { what: "env", param: p });
                    }
                    nr_envs += 1;
                }
                continue;
            }
            Dest::Handled => {}
        }
        if key_eq(key, "vmalloc") {
            if let Some(v) = size_param("vmalloc", p.value, &mut diag) {
                params.vmalloc = Some(v);
            }
        } else if key_eq(key, "mem") {
            if let Some(m) = mem_param(p.value, &mut diag) {
                if !params.mem.push(m) {
                    let value = Shown::new(p.value.unwrap_or_default());
                    diag.push(CmdlineWarning::TooManyMem { value });
                }
            }
        } else if key_eq(key, "cma") {
            match p.value.map(crate::mm::cma::CmaParam::parse) {
                Some(Ok(c)) => params.cma = Some(c),
                Some(Err(_)) => diag.push(CmdlineWarning::InvalidNumber {
                    key: "cma",
                    value: Shown::new(p.value.unwrap_or(b"")),
                }),
                None => diag.push(CmdlineWarning::MissingValue { key: "cma", eq: false }),
            }
        } else if key_eq(key, "pivm.lazy_vfree") {
            if let Some(v) = size_param("pivm.lazy_vfree", p.value, &mut diag) {
                params.lazy_vfree = Some(v);
            }
        } else if key_eq(key, "page_poison") {
            match p.value {
                Some(b"1" | b"on" | b"y") => params.page_poison = true,
                Some(b"0" | b"off" | b"n") => params.page_poison = false,
                value => diag.push(CmdlineWarning::InvalidSwitch {
                    key: "page_poison",
                    value: value.map(Shown::new),
                }),
            }
        } else if key_eq(key, "norandmaps") {
            params.norandmaps = true;
        } else if key_eq(key, "user_debug") {
            if let Some(v) = size_param("user_debug", p.value, &mut diag) {
                params.user_debug = v as u32;
            }
        } else if key_eq(key, "memblock") {
            match p.value {
                Some(b"debug") => params.memblock_debug = true,
                value => diag.push(CmdlineWarning::InvalidChoice {
                    key: "memblock",
                    value: value.map(Shown::new),
                    expected: "debug",
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
        }
    }
    if nr_args > INIT_ARGS_PRESET || nr_envs > INIT_ENVS_PRESET {
        diag.push(CmdlineWarning::Unknown { cmdline });
    }
    (params, diag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizes::{SZ_16M, SZ_1G, SZ_1K, SZ_1M, SZ_4G};

    fn lines(d: &Diagnostics) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    fn kv(cmdline: &str) -> Vec<(&str, Option<&str>)> {
        args(cmdline.as_bytes())
            .map(|p| {
                // Every slice is a sub-slice of `cmdline`, cut next to ASCII bytes.
                let key = &cmdline[offset(cmdline, p.key)..][..p.key.len()];
                let value = p.value.map(|v| &cmdline[offset(cmdline, v)..][..v.len()]);
                (key, value)
            })
            .collect()
    }

    /// Where `part` (a sub-slice of `whole`) starts.
    fn offset(whole: &str, part: &[u8]) -> usize {
        part.as_ptr() as usize - whole.as_ptr() as usize
    }

    fn parse_str(cmdline: &str) -> (BootParams, Vec<String>) {
        let (p, d) = parse(cmdline.as_bytes());
        (p, lines(&d))
    }

    fn mems(p: &BootParams) -> Vec<MemParam> {
        p.mem.iter().collect()
    }

    #[test]
    fn cma_parameter() {
        let (p, d) = parse_str("cma=16M@0x20000000");
        assert_eq!(p.cma.map(|c| (c.size, c.base)), Some((16 << 20, 0x2000_0000)));
        assert!(d.is_empty(), "{d:?}");
        let (p, d) = parse_str("cma=lots");
        assert_eq!(p.cma, None);
        assert_eq!(d, ["cma=lots: invalid size, ignored"]);
    }

    #[test]
    fn page_poison_switch() {
        assert!(parse(b"page_poison=1").0.page_poison);
        assert!(!parse(b"page_poison=on page_poison=off").0.page_poison);
        let (p, d) = parse_str("page_poison=maybe");
        assert!(!p.page_poison);
        assert_eq!(d, ["page_poison=maybe: expected 1/on or 0/off, ignored"]);
    }

    /// Issue 16.15: `page_poison` without a value echoed an `=` never typed.
    #[test]
    fn page_poison_without_value_is_quoted_as_typed() {
        let (p, d) = parse_str("page_poison page_poison=");
        assert!(!p.page_poison);
        assert_eq!(
            d,
            [
                "page_poison: expected 1/on or 0/off, ignored",
                "page_poison=: expected 1/on or 0/off, ignored"
            ]
        );
    }

    #[test]
    fn norandmaps_and_user_debug() {
        let (p, d) = parse(b"norandmaps user_debug=31");
        assert!(p.norandmaps);
        assert_eq!(p.user_debug, 31);
        assert!(d.iter().next().is_none());
        assert!(!parse(b"").0.norandmaps);
    }

    #[test]
    fn memblock_debug() {
        assert!(parse(b"memblock=debug").0.memblock_debug);
        let (p, d) = parse_str("memblock memblock=verbose");
        assert!(!p.memblock_debug);
        assert_eq!(
            d,
            [
                "memblock: expected memblock=debug, ignored",
                "memblock=verbose: expected memblock=debug, ignored"
            ]
        );
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
            ("5\u{1}12M", Some((5, "\u{1}12M"))),
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
            let want = want.map(|(v, rest)| (v, rest.as_bytes()));
            assert_eq!(memparse(s.as_bytes()), want, "memparse({s:?})");
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
        assert_eq!(kv("caf\u{e9}=1\ta"), [("caf\u{e9}", Some("1")), ("a", None)]);
    }

    #[test]
    fn known_parameters() {
        let (p, d) =
            parse_str("vmalloc=256M mem=512M pivm.profile=rpi pivm.run=frag pivm.lazy_vfree=0x40");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.vmalloc, Some(256 * SZ_1M));
        assert_eq!(mems(&p), [MemParam { size: 512 * SZ_1M, start: None }]);
        assert_eq!(p.profile.unwrap().as_str(), "rpi");
        assert_eq!(p.run.unwrap().as_str(), "frag");
        assert_eq!(p.lazy_vfree, Some(64));
    }

    #[test]
    fn empty_line_gives_defaults() {
        let (p, d) = parse(b"");
        assert_eq!(p, BootParams::default());
        assert!(d.is_empty() && d.dropped() == 0);
    }

    #[test]
    fn vmalloc_is_not_clamped_here() {
        assert_eq!(parse(b"vmalloc=4G").0.vmalloc, Some(SZ_4G));
        assert_eq!(parse(b"vmalloc=1").0.vmalloc, Some(1));
    }

    #[test]
    fn mem_with_start() {
        let (p, d) = parse_str("mem=256M@0x10000000");
        assert!(d.is_empty());
        assert_eq!(mems(&p), [MemParam { size: 256 * SZ_1M, start: Some(0x1000_0000) }]);
        assert_eq!(mems(&p)[0].to_string(), "256M@0x10000000");
        assert_eq!(MemParam { size: SZ_4G, start: None }.to_string(), "4G");
        assert_eq!(MemParam { size: SZ_16M + 5, start: None }.to_string(), "16777221");
    }

    /// Issue 16.15: Linux/ARM's `early_mem()` adds a bank for every `mem=`; the last one did
    /// not simply win.
    #[test]
    fn every_mem_is_a_bank_in_order() {
        let (p, d) = parse_str("mem=256M mem=bad mem=128M@0x20000000 mem=64M@512M");
        assert_eq!(d, ["mem=bad: invalid size, ignored"]);
        assert_eq!(
            mems(&p),
            [
                MemParam { size: 256 * SZ_1M, start: None },
                MemParam { size: 128 * SZ_1M, start: Some(0x2000_0000) },
                MemParam { size: 64 * SZ_1M, start: Some(512 * SZ_1M) },
            ]
        );
        let line = "mem=16M@0 ".repeat(MAX_MEM_PARAMS) + "mem=32M@1G";
        let (p, d) = parse_str(&line);
        assert_eq!(p.mem.len(), MAX_MEM_PARAMS);
        assert_eq!(d, [format!("mem=32M@1G: more than {MAX_MEM_PARAMS} mem= banks, ignored")]);
        let (array, len) = p.mem.to_array();
        assert_eq!(len, MAX_MEM_PARAMS);
        assert!(array.iter().all(|m| *m == MemParam { size: SZ_16M, start: Some(0) }));
    }

    #[test]
    fn bad_values_are_reported_and_ignored() {
        let (p, d) = parse_str(
            "vmalloc=garbage vmalloc=12Q mem=0 mem=4095 mem=16M@ mem=x pivm.lazy_vfree=lots",
        );
        assert_eq!(p, BootParams::default());
        assert_eq!(
            d,
            [
                "vmalloc=garbage: invalid size, ignored",
                "vmalloc=12Q: invalid size, ignored",
                "mem=0: too small (minimum 4KiB), ignored",
                "mem=4095: too small (minimum 4KiB), ignored",
                "mem=16M@: invalid size, ignored",
                "mem=x: invalid size, ignored",
                "pivm.lazy_vfree=lots: invalid size, ignored",
            ]
        );
    }

    /// Issue 16.7: the byte the parser cannot take is kept, so the value is refused (and the
    /// byte shown) instead of being read as `mem=512M`.
    #[test]
    fn a_control_byte_in_a_value_is_refused_and_shown() {
        let (p, d) = parse(b"mem=5\x0112M vmalloc=1\x7f28M pivm.lazy_vfree=\xff");
        assert!(p.mem.is_empty() && p.vmalloc.is_none() && p.lazy_vfree.is_none());
        assert_eq!(
            lines(&d),
            [
                "mem=5\\x0112M: invalid size, ignored",
                "vmalloc=1\\x7f28M: invalid size, ignored",
                "pivm.lazy_vfree=\\xff: invalid size, ignored",
            ]
        );
        let (p, d) = parse_str("pivm.profile=caf\u{e9} pivm.run=a\tb");
        assert!(p.profile.is_none());
        assert_eq!(p.run.unwrap().as_str(), "a");
        assert_eq!(
            d,
            [
                "pivm.profile=caf\u{e9}: byte 0xc3 is not allowed in a name (printable ASCII), ignored",
                "Unknown kernel command line parameters \"b\", will be passed to user space."
            ]
        );
    }

    #[test]
    fn missing_values_are_quoted_as_typed() {
        let (p, d) = parse_str("vmalloc mem= pivm.profile pivm.run=\"\"");
        assert_eq!(p, BootParams::default());
        assert_eq!(
            d,
            [
                "vmalloc: missing value, ignored",
                "mem=: missing value, ignored",
                "pivm.profile: missing value, ignored",
                "pivm.run=: missing value, ignored",
            ]
        );
    }

    #[test]
    fn long_names_and_values_are_cut() {
        let long = "p".repeat(SHOWN_VALUE_MAX + 5);
        let (p, d) = parse_str(&format!("pivm.profile={long} pivm.run={}", "r".repeat(NAME_MAX)));
        assert!(p.profile.is_none());
        assert_eq!(p.run.unwrap().len(), NAME_MAX);
        let (_, d2) = parse_str(&format!("pivm.run={}", "r".repeat(NAME_MAX + 1)));
        assert_eq!(
            d2,
            [format!("pivm.run={}: name too long (33 bytes, maximum 32), ignored", "r".repeat(33))]
        );
        assert_eq!(
            d,
            [format!(
                "pivm.profile={}...: name too long (45 bytes, maximum 32), ignored",
                "p".repeat(SHOWN_VALUE_MAX)
            )]
        );
    }

    #[test]
    fn shown_values_are_cut_on_a_character_boundary() {
        let v = format!("{}\u{e9}\u{e9}", "x".repeat(SHOWN_VALUE_MAX - 1));
        let (_, d) = parse_str(&format!("vmalloc={v}"));
        assert_eq!(d, [format!("vmalloc={}...: invalid size, ignored", "x".repeat(39))]);
        // Invalid UTF-8 is cut at the byte limit and every byte shown.
        let mut line = b"vmalloc=".to_vec();
        line.extend([0x80u8; SHOWN_VALUE_MAX + 1]);
        let (_, d) = parse(&line);
        assert_eq!(
            lines(&d),
            [format!("vmalloc={}...: invalid size, ignored", "\\x80".repeat(SHOWN_VALUE_MAX))]
        );
    }

    #[test]
    fn last_value_wins_and_bad_repeat_keeps_earlier() {
        let (p, _) = parse(b"vmalloc=128M vmalloc=400M vmalloc=bad");
        assert_eq!(p.vmalloc, Some(400 * SZ_1M));
    }

    #[test]
    fn quoted_and_dashed_keys() {
        let (p, d) = parse_str("\"vmalloc=96M\" pivm.lazy-vfree=\"3\" pivm.profile=\"my profile\"");
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
        let (p, d) = parse_str(pi);
        assert_eq!(p, BootParams::default());
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn unknown_parameters_in_linux_order() {
        // Linux lists bare words (init's argv) before key=value pairs (init's envp); a
        // repeated key keeps its first slot and takes the last value.
        let (_, d) = parse_str("foo=bar splash vmalloc=64M baz \"x=1 2\" pivm.bogus=1 foo=again");
        assert_eq!(
            d,
            ["Unknown kernel command line parameters \"splash baz foo=again x=1 2 pivm.bogus=1\", will be passed to user space."]
        );
        let (_, d) = parse_str("foo=bar baz");
        assert_eq!(
            d,
            ["Unknown kernel command line parameters \"baz foo=bar\", will be passed to user space."]
        );
    }

    /// Issue 16.7: `café=1` showed as `caf=1`; control bytes are escaped, not dropped.
    #[test]
    fn unknown_parameters_keep_their_bytes() {
        let (_, d) = parse("caf\u{e9}=1 a\x01b".as_bytes());
        assert_eq!(
            lines(&d),
            ["Unknown kernel command line parameters \"a\\x01b caf\u{e9}=1\", will be passed to user space."]
        );
    }

    #[test]
    fn after_dashes_everything_goes_to_init() {
        let (p, d) = parse_str("vmalloc=64M -- vmalloc=1G single");
        assert_eq!(p.vmalloc, Some(64 * SZ_1M));
        assert_eq!(
            d,
            ["Unknown kernel command line parameters \"vmalloc=1G single\", will be passed to user space."]
        );
    }

    /// Issue 16.15: an unknown parameter longer than the old 200-byte summary buffer vanished
    /// from the line; Linux sizes the line to fit.
    #[test]
    fn unknown_list_is_never_cut() {
        let long = format!("x{}=1", "y".repeat(300));
        let (_, d) = parse_str(&format!("short {long} tail"));
        assert_eq!(
            d,
            [format!(
                "Unknown kernel command line parameters \"short tail {long}\", will be passed to user space."
            )]
        );
        let mut line = String::new();
        for i in 0..30 {
            line.push_str(&format!("unknown_parameter_{i} "));
        }
        let (_, d) = parse_str(&line);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("unknown_parameter_0 unknown_parameter_1 "), "{}", d[0]);
        assert!(d[0].contains("unknown_parameter_29\""), "{}", d[0]);
    }

    /// Past Linux's argv/envp arrays Linux panics ("Too many boot init vars"); pivm says so
    /// and lists what fits.
    #[test]
    fn too_many_unknown_parameters() {
        let args: Vec<String> = (0..INIT_ARGS_SLOTS).map(|i| format!("a{i}")).collect();
        let (_, d) = parse_str(&args.join(" "));
        let fit = INIT_ARGS_SLOTS - INIT_ARGS_PRESET;
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], format!("Too many boot init vars at `a{fit}'"));
        assert!(d[1].contains(&format!(" a{}\"", fit - 1)) && !d[1].contains(&format!("a{fit}")));

        let envs: Vec<String> = (0..INIT_ENVS_SLOTS).map(|i| format!("e{i}=1 e0=2")).collect();
        let (_, d) = parse_str(&envs.join(" "));
        let fit = INIT_ENVS_SLOTS - INIT_ENVS_PRESET;
        assert_eq!(d[0], format!("Too many boot env vars at `e{fit}=1'"));
        assert!(d[1].starts_with("Unknown kernel command line parameters \"e0=2 e1=1 "));
        assert!(!d[1].contains(&format!("e{fit}=")), "{}", d[1]);
    }

    #[test]
    fn diagnostics_overflow_is_counted() {
        let line = "mem=0 ".repeat(MAX_DIAGNOSTICS + 3);
        let (_, d) = parse(line.as_bytes());
        assert_eq!(d.len(), MAX_DIAGNOSTICS);
        assert_eq!(d.dropped(), 3);
    }

    #[test]
    fn escaped_shows_every_byte() {
        let e = |b: &[u8]| Escaped(b).to_string();
        assert_eq!(e(b"plain =\"text\""), "plain =\"text\"");
        assert_eq!(e("caf\u{e9} \u{a0}x".as_bytes()), "caf\u{e9} \u{a0}x");
        assert_eq!(e(b"\x01\t\x7f\n"), "\\x01\\x09\\x7f\\x0a");
        assert_eq!(e(b"\xc3(\xff"), "\\xc3(\\xff");
        assert_eq!(e("\u{85}".as_bytes()), "\\xc2\\x85");
    }

    #[test]
    fn garbage_bytes_do_not_panic() {
        let samples: [&[u8]; 5] = [
            b"\x00\x01\x7f \"\"\"\" = == =\"=\" \"",
            "vmalloc=\u{e9}\u{e9} mem=\u{1F600}@\u{1F600} pivm.profile=\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}".as_bytes(),
            b"\"unterminated key=value",
            b"\x0b\x0c\r\n\t",
            b"\xff\xfe=\xfd \x80 mem=\xc3",
        ];
        for s in samples {
            let (_, d) = parse(s);
            for w in d.iter() {
                let _ = w.to_string();
            }
        }
        let (_, d) = parse_str("vmalloc=\u{e9}\u{e9}");
        assert_eq!(d, ["vmalloc=\u{e9}\u{e9}: invalid size, ignored"]);
    }

    proptest::proptest! {
        /// Any bytes: a result and printable warnings, never a panic; every unknown
        /// parameter's bytes survive into the summary (escaped).
        #[test]
        fn any_bytes_parse(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let (_, d) = parse(&line);
            for w in d.iter() {
                let s = w.to_string();
                proptest::prop_assert!(!s.contains('\n'));
            }
        }
    }
}
