//! The console's `dd` and `hexdump -C` (pure): dd's `if= of= bs= skip= seek= count=`
//! operands checked and bounded, and util-linux's canonical hex+ASCII dump, which is what
//! `dd if=/dev/mmcblk0 count=1 | hexdump -C` prints on Linux.
use core::fmt::{self, Write};

use super::args::{parse_size, parse_u64, ArgError};

/// dd's default block size.
pub const DEFAULT_BS: u64 = 512;
/// The largest block size (a request's worth of sectors).
pub const MAX_BS: u64 = 128 * 1024;
/// The most `dd` moves in one command: to the console (a dump), and between devices.
pub const MAX_DUMP_BYTES: u64 = 64 * 1024;
pub const MAX_COPY_BYTES: u64 = 4 * 1024 * 1024;
/// The source that gives zeros.
pub const DEV_ZERO: &str = "/dev/zero";

/// dd's operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdArgs<'a> {
    pub input: &'a str,
    /// None: the data is dumped to the console as `hexdump -C` shows it.
    pub output: Option<&'a str>,
    pub bs: u64,
    pub skip: u64,
    pub seek: u64,
    pub count: u64,
}

/// Why the operands were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DdError<'a> {
    Unknown(&'a str),
    Missing(&'static str),
    Number(&'static str, ArgError<'a>),
    BadBs(u64),
    TooMuch { bytes: u64, max: u64 },
    ZeroToConsole,
}

impl fmt::Display for DdError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DdError::Unknown(op) => write!(f, "unrecognized operand '{op}'"),
            DdError::Missing(op) => write!(f, "missing operand {op}="),
            DdError::Number(op, e) => write!(f, "invalid {op}: {e}"),
            DdError::BadBs(bs) => write!(
                f,
                "invalid bs={bs}: a multiple of 512 from 512 to {MAX_BS} (block devices move \
                 whole sectors)"
            ),
            DdError::TooMuch { bytes, max } => {
                write!(f, "{bytes} bytes is more than this console's dd moves at once ({max})")
            }
            DdError::ZeroToConsole => write!(f, "nothing to show: if=/dev/zero needs of=DEV"),
        }
    }
}

/// Parses `dd` operands (everything after the command name). `count=` defaults to 1.
pub fn parse<'a>(ops: &[&'a str]) -> Result<DdArgs<'a>, DdError<'a>> {
    let (mut input, mut output) = (None, None);
    let (mut bs, mut skip, mut seek, mut count) = (DEFAULT_BS, 0, 0, 1);
    for &op in ops {
        let (key, val) = op.split_once('=').ok_or(DdError::Unknown(op))?;
        match key {
            "if" => input = Some(val),
            "of" => output = Some(val),
            "bs" => bs = parse_size(val).map_err(|e| DdError::Number("bs", e))?,
            "skip" => skip = parse_u64(val).map_err(|e| DdError::Number("skip", e))?,
            "seek" => seek = parse_u64(val).map_err(|e| DdError::Number("seek", e))?,
            "count" => count = parse_u64(val).map_err(|e| DdError::Number("count", e))?,
            _ => return Err(DdError::Unknown(op)),
        }
    }
    let input = input.ok_or(DdError::Missing("if"))?;
    if bs == 0 || bs % 512 != 0 || bs > MAX_BS {
        return Err(DdError::BadBs(bs));
    }
    let max = if output.is_some() { MAX_COPY_BYTES } else { MAX_DUMP_BYTES };
    let bytes = count.checked_mul(bs).filter(|&b| b <= max);
    let Some(_) = bytes else {
        return Err(DdError::TooMuch { bytes: count.saturating_mul(bs), max });
    };
    if input == DEV_ZERO && output.is_none() {
        return Err(DdError::ZeroToConsole);
    }
    Ok(DdArgs { input, output, bs, skip, seek, count })
}

/// `hexdump -C` of `data`, offsets from `base`: 16 bytes a line in two groups of eight, the
/// printable ones on the right, a repeated line as one `*`, then the end offset.
pub fn hexdump_c(w: &mut impl Write, data: &[u8], base: u64) -> fmt::Result {
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    for (i, line) in data.chunks(16).enumerate() {
        let off = base + i as u64 * 16;
        if line.len() == 16 && prev == Some(line) {
            if !starred {
                w.write_str("*\n")?;
                starred = true;
            }
            continue;
        }
        starred = false;
        prev = Some(line);
        write!(w, "{off:08x} ")?;
        for j in 0..16 {
            if j == 8 {
                w.write_char(' ')?;
            }
            match line.get(j) {
                Some(b) => write!(w, " {b:02x}")?,
                None => w.write_str("   ")?,
            }
        }
        w.write_str("  |")?;
        for &b in line {
            w.write_char(if (0x20..0x7f).contains(&b) { b as char } else { '.' })?;
        }
        w.write_str("|\n")?;
    }
    if !data.is_empty() {
        writeln!(w, "{:08x}", base + data.len() as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn operands_are_parsed_and_bounded() {
        let a = parse(&["if=/dev/mmcblk0", "skip=2048", "count=2"]).unwrap();
        assert_eq!(
            a,
            DdArgs { input: "/dev/mmcblk0", output: None, bs: 512, skip: 2048, seek: 0, count: 2 }
        );
        let a = parse(&["if=/dev/zero", "of=/dev/mmcblk0p2", "bs=4K", "seek=3"]).unwrap();
        assert_eq!((a.bs, a.seek, a.count, a.output), (4096, 3, 1, Some("/dev/mmcblk0p2")));
        assert_eq!(parse(&["count=1"]), Err(DdError::Missing("if")));
        assert_eq!(parse(&["if=x", "bs=100"]), Err(DdError::BadBs(100)));
        assert_eq!(parse(&["if=x", "bs=0"]), Err(DdError::BadBs(0)));
        assert_eq!(parse(&["if=x", "conv=sync"]), Err(DdError::Unknown("conv=sync")));
        assert_eq!(parse(&["if=x", "foo"]), Err(DdError::Unknown("foo")));
        assert!(matches!(parse(&["if=x", "skip=-1"]), Err(DdError::Number("skip", _))));
        assert_eq!(
            parse(&["if=x", "count=129"]),
            Err(DdError::TooMuch { bytes: 129 * 512, max: MAX_DUMP_BYTES })
        );
        assert_eq!(
            parse(&["if=x", "count=18446744073709551615"]),
            Err(DdError::TooMuch { bytes: u64::MAX, max: MAX_DUMP_BYTES })
        );
        assert_eq!(parse(&["if=/dev/zero"]), Err(DdError::ZeroToConsole));
        assert_eq!(DdError::Unknown("conv=sync").to_string(), "unrecognized operand 'conv=sync'");
    }

    #[test]
    fn dump_matches_hexdump_c() {
        let mut sector = [0u8; 512];
        sector[..11].copy_from_slice(b"\xebX\x90MTOO4032");
        sector[510] = 0x55;
        sector[511] = 0xaa;
        let mut s = String::new();
        hexdump_c(&mut s, &sector, 0).unwrap();
        assert_eq!(
            s,
            "00000000  eb 58 90 4d 54 4f 4f 34  30 33 32 00 00 00 00 00  |.X.MTOO4032.....|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             000001f0  00 00 00 00 00 00 00 00  00 00 00 00 00 00 55 aa  |..............U.|\n\
             00000200\n"
        );
        let mut s = String::new();
        hexdump_c(&mut s, b"abc", 0x10).unwrap();
        assert_eq!(
            s,
            "00000010  61 62 63                                          |abc|\n00000013\n"
        );
    }
}
