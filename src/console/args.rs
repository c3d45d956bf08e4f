//! Argument parsing for console commands: splitting a line into words, and strict number and
//! size parsing. Strict means every character must be understood: a typo in an address must
//! be an error, never a different address.
use core::fmt;

/// Most words a command line may have (the command name included): enough for `run` to give
/// a program the arguments the comparison with Linux types (`run /bin/vmtest malloc 1 16 31
/// 32 256 4096` is 9 words); a 256-character line has at most 128.
pub const MAX_ARGS: usize = 32;

/// Why an argument was rejected. Borrows the offending text from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// An empty string where a number was expected.
    Empty,
    /// A leading minus sign: all console numbers are unsigned.
    Negative(&'a str),
    /// Characters that are not part of a number (or `0x` with no digits).
    Invalid(&'a str),
    /// Hex digits without the `0x` prefix (`ff`): rejected rather than guessed.
    HexWithoutPrefix(&'a str),
    /// Another base's prefix (`0b101`, `0o17`) or an exponent (`1e6`): what the user meant is
    /// not a hex number, so no hex hint.
    OtherNotation(&'a str),
    /// Does not fit in 64 bits.
    OutOfRange(&'a str),
    /// Does not fit in 32 bits, where a 32-bit value is required.
    OutOfRange32(&'a str),
    /// An address above 0xffffffff: the Cortex-A7 address space is 32-bit.
    AddrOutOfRange(&'a str),
    /// Not a number with an optional K/M/G suffix.
    InvalidSize(&'a str),
    /// More than [`MAX_ARGS`] words.
    TooManyArgs,
}

impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArgError::Empty => f.write_str("missing number"),
            ArgError::Negative(s) => write!(f, "invalid number '{s}' (numbers are unsigned)"),
            ArgError::Invalid(s) => write!(f, "invalid number '{s}'"),
            ArgError::HexWithoutPrefix(s) => {
                write!(f, "invalid number '{s}' (hex needs a 0x prefix: 0x{s})")
            }
            ArgError::OtherNotation(s) => {
                write!(f, "invalid number '{s}' (numbers are decimal or 0x hex)")
            }
            ArgError::OutOfRange(s) => write!(f, "number out of range: {s} (max 64 bits)"),
            ArgError::OutOfRange32(s) => write!(f, "number out of range: {s} (max 32 bits)"),
            ArgError::AddrOutOfRange(s) => {
                write!(f, "number out of range: {s} (addresses are 32-bit)")
            }
            ArgError::InvalidSize(s) => {
                write!(f, "invalid size '{s}' (a number with an optional K, M or G suffix)")
            }
            ArgError::TooManyArgs => write!(f, "too many arguments (max {MAX_ARGS})"),
        }
    }
}

/// Splits off a `0x`/`0X` prefix: Some(hex digits) or None for decimal.
fn strip_hex_prefix(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Whether `s` is written in a notation the console does not take: a base prefix other than
/// `0x` (`0b101`, `0o17`, `0d10`) or decimal with an exponent (`1e6`). Both look like hex
/// digits, but the number meant is not the hex one.
fn other_notation(s: &str) -> bool {
    let b = s.as_bytes();
    let prefixed = b.len() > 2 && b[0] == b'0' && b[1].is_ascii_alphabetic();
    let exponent = s.split_once(['e', 'E']).is_some_and(|(m, e)| {
        !m.is_empty() && !e.is_empty() && (m.bytes().chain(e.bytes())).all(|c| c.is_ascii_digit())
    });
    prefixed || exponent
}

/// Parses `0x` hex or plain decimal into a u64. Leading zeros are decimal (`010` is ten:
/// unlike C's strtoul there is no octal, which surprises more than it helps).
pub fn parse_u64(s: &str) -> Result<u64, ArgError<'_>> {
    if s.is_empty() {
        return Err(ArgError::Empty);
    }
    if s.starts_with('-') {
        return Err(ArgError::Negative(s));
    }
    let (digits, radix) = match strip_hex_prefix(s) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        if radix == 10 && other_notation(s) {
            return Err(ArgError::OtherNotation(s));
        }
        // Decimal failed, but every character is a hex digit: the user meant hex.
        if radix == 10 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ArgError::HexWithoutPrefix(s));
        }
        return Err(ArgError::Invalid(s));
    }
    // Only digits remain, so the only possible failure is overflow.
    u64::from_str_radix(digits, radix).map_err(|_| ArgError::OutOfRange(s))
}

/// Parses a number that must fit in 32 bits (counts, register values).
pub fn parse_u32(s: &str) -> Result<u32, ArgError<'_>> {
    let v = parse_u64(s)?;
    u32::try_from(v).map_err(|_| ArgError::OutOfRange32(s))
}

/// Parses a virtual or physical address: like [`parse_u32`], with an error that says why.
pub fn parse_addr(s: &str) -> Result<Addr, ArgError<'_>> {
    match parse_u64(s) {
        Ok(v) => Addr::try_from(v).map_err(|_| ArgError::AddrOutOfRange(s)),
        Err(ArgError::OutOfRange(s)) => Err(ArgError::AddrOutOfRange(s)),
        Err(e) => Err(e),
    }
}

/// An address as the console's commands take it: as wide as the CPU's (32 bits on the
/// Cortex-A7, 64 on the Cortex-A53).
#[cfg(not(target_arch = "aarch64"))]
pub type Addr = u32;
/// An address as the console's commands take it: as wide as the CPU's (32 bits on the
/// Cortex-A7, 64 on the Cortex-A53).
#[cfg(target_arch = "aarch64")]
pub type Addr = u64;

/// An [`Addr`] as the 64-bit value the allocators and page tables take.
#[cfg(not(target_arch = "aarch64"))]
pub const fn addr_u64(a: Addr) -> u64 {
    a as u64
}
/// An [`Addr`] as the 64-bit value the allocators and page tables take.
#[cfg(target_arch = "aarch64")]
pub const fn addr_u64(a: Addr) -> u64 {
    a
}

/// Parses a size like Linux's `memparse()` (`64K`, `1M`, `0x100000`, `2g`), but strictly: no
/// trailing junk, no negative sizes, no overflow.
pub fn parse_size(s: &str) -> Result<u64, ArgError<'_>> {
    if s.is_empty() {
        return Err(ArgError::Empty);
    }
    if s.starts_with('-') {
        return Err(ArgError::Negative(s));
    }
    let (number, shift) = match s.as_bytes()[s.len() - 1] {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let value = match parse_u64(number) {
        Ok(v) => v,
        Err(ArgError::OutOfRange(_)) => return Err(ArgError::OutOfRange(s)),
        Err(_) => return Err(ArgError::InvalidSize(s)),
    };
    value.checked_mul(1 << shift).ok_or(ArgError::OutOfRange(s))
}

/// A size the way [`parse_size`] reads it back: the largest of G, M, K that divides it, else
/// plain bytes (`131072` shows as `128K`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u32, char); 3] = [(30, 'G'), (20, 'M'), (10, 'K')];
        let n = self.0;
        match UNITS.iter().find(|&&(shift, _)| n != 0 && n.trailing_zeros() >= shift) {
            Some(&(shift, unit)) => write!(f, "{}{}", n >> shift, unit),
            None => write!(f, "{n}"),
        }
    }
}

/// The words of a command line, split on spaces and tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args<'a> {
    argv: [&'a str; MAX_ARGS],
    argc: usize,
}

impl<'a> Args<'a> {
    /// All words, the command name first.
    pub fn as_slice(&self) -> &[&'a str] {
        &self.argv[..self.argc]
    }

    /// Number of words (0 for a blank line).
    pub fn len(&self) -> usize {
        self.argc
    }

    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Word `i`, if present.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.as_slice().get(i).copied()
    }
}

impl<'a> core::ops::Deref for Args<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &Self::Target {
        self.as_slice()
    }
}

/// Splits `line` into at most [`MAX_ARGS`] words; more is an error rather than a silently
/// dropped argument.
pub fn split_args(line: &str) -> Result<Args<'_>, ArgError<'_>> {
    let mut args = Args { argv: [""; MAX_ARGS], argc: 0 };
    for word in line.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if args.argc == MAX_ARGS {
            return Err(ArgError::TooManyArgs);
        }
        args.argv[args.argc] = word;
        args.argc += 1;
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex() {
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("4096"), Ok(4096));
        assert_eq!(parse_u64("010"), Ok(10));
        assert_eq!(parse_u64("0x3f201000"), Ok(0x3f20_1000));
        assert_eq!(parse_u64("0XFFFF"), Ok(0xffff));
        assert_eq!(parse_u64("0xAbC"), Ok(0xabc));
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
    }

    #[test]
    fn rejects_junk() {
        assert_eq!(parse_u64(""), Err(ArgError::Empty));
        assert_eq!(parse_u64("0x"), Err(ArgError::Invalid("0x")));
        assert_eq!(parse_u64("0x12g"), Err(ArgError::Invalid("0x12g")));
        assert_eq!(parse_u64("12 "), Err(ArgError::Invalid("12 ")));
        assert_eq!(parse_u64("+5"), Err(ArgError::Invalid("+5")));
        assert_eq!(parse_u64("0x-1"), Err(ArgError::Invalid("0x-1")));
        assert_eq!(parse_u64("1_000"), Err(ArgError::Invalid("1_000")));
        assert_eq!(parse_u64("١٢"), Err(ArgError::Invalid("١٢")));
        assert_eq!(ArgError::Invalid("0x12g").to_string(), "invalid number '0x12g'");
        assert_eq!(ArgError::Empty.to_string(), "missing number");
    }

    #[test]
    fn rejects_negative() {
        assert_eq!(parse_u64("-1"), Err(ArgError::Negative("-1")));
        assert_eq!(parse_u32("-0x10"), Err(ArgError::Negative("-0x10")));
        assert_eq!(
            ArgError::Negative("-1").to_string(),
            "invalid number '-1' (numbers are unsigned)"
        );
    }

    #[test]
    fn hex_needs_prefix() {
        assert_eq!(parse_u64("ff"), Err(ArgError::HexWithoutPrefix("ff")));
        assert_eq!(parse_u64("3f201000"), Err(ArgError::HexWithoutPrefix("3f201000")));
        assert_eq!(parse_u64("fg"), Err(ArgError::Invalid("fg")));
        assert_eq!(
            parse_addr("deadbeef").unwrap_err().to_string(),
            "invalid number 'deadbeef' (hex needs a 0x prefix: 0xdeadbeef)"
        );
    }

    #[test]
    fn other_notations_get_no_hex_hint() {
        // `0b101` is five in binary, not 0x0b101.
        assert_eq!(parse_u64("0b101"), Err(ArgError::OtherNotation("0b101")));
        assert_eq!(
            parse_addr("0b101").unwrap_err().to_string(),
            "invalid number '0b101' (numbers are decimal or 0x hex)"
        );
        assert_eq!(parse_u64("0B11"), Err(ArgError::OtherNotation("0B11")));
        assert_eq!(parse_u64("0o17"), Err(ArgError::OtherNotation("0o17")));
        assert_eq!(parse_u64("0d10"), Err(ArgError::OtherNotation("0d10")));
        assert_eq!(parse_u64("1e6"), Err(ArgError::OtherNotation("1e6")));
        assert_eq!(parse_u64("2E10"), Err(ArgError::OtherNotation("2E10")));
        // Plain hex digits still get the hint; so do words that only look like exponents.
        assert_eq!(parse_u64("1e"), Err(ArgError::HexWithoutPrefix("1e")));
        assert_eq!(parse_u64("e5"), Err(ArgError::HexWithoutPrefix("e5")));
        assert_eq!(parse_u64("0e"), Err(ArgError::HexWithoutPrefix("0e")));
        assert_eq!(parse_u64("1ee5"), Err(ArgError::HexWithoutPrefix("1ee5")));
        assert_eq!(parse_u64("0b"), Err(ArgError::HexWithoutPrefix("0b")));
        // And the prefix case with non-hex letters too.
        assert_eq!(parse_u64("0z1"), Err(ArgError::OtherNotation("0z1")));
    }

    #[test]
    fn overflow() {
        assert_eq!(
            parse_u64("18446744073709551616"),
            Err(ArgError::OutOfRange("18446744073709551616"))
        );
        assert_eq!(
            parse_u64("0x10000000000000000"),
            Err(ArgError::OutOfRange("0x10000000000000000"))
        );
        assert_eq!(parse_u32("0xffffffff"), Ok(u32::MAX));
        assert_eq!(parse_u32("4294967296"), Err(ArgError::OutOfRange32("4294967296")));
        assert_eq!(
            ArgError::OutOfRange32("4294967296").to_string(),
            "number out of range: 4294967296 (max 32 bits)"
        );
    }

    #[test]
    fn addresses_are_32_bit() {
        assert_eq!(parse_addr("0xffffffff"), Ok(0xffff_ffff));
        assert_eq!(parse_addr("0x80000000"), Ok(0x8000_0000));
        assert_eq!(parse_addr("0x100000000"), Err(ArgError::AddrOutOfRange("0x100000000")));
        assert_eq!(
            parse_addr("0x100000000").unwrap_err().to_string(),
            "number out of range: 0x100000000 (addresses are 32-bit)"
        );
        // Even beyond 64 bits the message is about addresses.
        assert_eq!(
            parse_addr("0x1ffffffffffffffff"),
            Err(ArgError::AddrOutOfRange("0x1ffffffffffffffff"))
        );
        assert_eq!(parse_addr("0x12g"), Err(ArgError::Invalid("0x12g")));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("0x10M"), Ok(16 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("0x100000"), Ok(1 << 20));
    }

    #[test]
    fn sizes_are_strict() {
        assert_eq!(parse_size(""), Err(ArgError::Empty));
        assert_eq!(parse_size("M"), Err(ArgError::InvalidSize("M")));
        assert_eq!(parse_size("1.5M"), Err(ArgError::InvalidSize("1.5M")));
        assert_eq!(parse_size("1MB"), Err(ArgError::InvalidSize("1MB")));
        assert_eq!(parse_size("1T"), Err(ArgError::InvalidSize("1T")));
        assert_eq!(parse_size("1 M"), Err(ArgError::InvalidSize("1 M")));
        assert_eq!(parse_size("ffK"), Err(ArgError::InvalidSize("ffK")));
        assert_eq!(parse_size("-1M"), Err(ArgError::Negative("-1M")));
        assert_eq!(parse_size("17179869184G"), Err(ArgError::OutOfRange("17179869184G")));
        assert_eq!(
            parse_size("99999999999999999999K"),
            Err(ArgError::OutOfRange("99999999999999999999K"))
        );
        assert_eq!(
            ArgError::InvalidSize("1.5M").to_string(),
            "invalid size '1.5M' (a number with an optional K, M or G suffix)"
        );
        // Multi-byte last character must not split a char boundary.
        assert_eq!(parse_size("1é"), Err(ArgError::InvalidSize("1é")));
    }

    #[test]
    fn sizes_show_as_they_are_typed() {
        for (n, text) in [(131_072, "128K"), (4 << 20, "4M"), (2 << 30, "2G"), (4097, "4097")] {
            assert_eq!(Size(n).to_string(), text);
            assert_eq!(parse_size(text), Ok(n));
        }
        assert_eq!(Size(0).to_string(), "0");
        assert_eq!(Size(3 << 10).to_string(), "3K");
        assert_eq!(Size(1536 << 20).to_string(), "1536M");
    }

    #[test]
    fn split() {
        let a = split_args("  peek   0x3f201000\t4 ").unwrap();
        assert_eq!(a.as_slice(), ["peek", "0x3f201000", "4"]);
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(1), Some("0x3f201000"));
        assert_eq!(a.get(3), None);
        assert_eq!(&a[..1], ["peek"]);

        let blank = split_args("   ").unwrap();
        assert!(blank.is_empty());
        assert!(split_args("").unwrap().is_empty());

        let words: alloc::vec::Vec<&str> = core::iter::repeat_n("w", MAX_ARGS).collect();
        let full_line = words.join(" ");
        let full = split_args(&full_line).unwrap();
        assert_eq!(full.len(), MAX_ARGS);
        assert_eq!(split_args(&(full_line.clone() + " x")), Err(ArgError::TooManyArgs));
        assert_eq!(ArgError::TooManyArgs.to_string(), "too many arguments (max 32)");
    }
}
