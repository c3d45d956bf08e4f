//! The knob files: `/proc/sys/vm/*` (6.1's `vm_table`, the entries pivm implements) and
//! debugfs's `fault_around_bytes`, with the parsers their 6.1 handlers use, so a program's
//! `write`, the console's `echo N > FILE` and `sysctl vm.NAME=N` accept and refuse exactly the
//! same text. Pure: the kernel (`kernel::sysctl`) holds the live values.
use crate::abi::errno::Errno;

/// A knob pivm implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Knob {
    /// `vm.drop_caches`: write-only, 1 to 4.
    DropCaches,
    /// `vm.min_free_kbytes`: recomputes every zone's watermarks (`min_free_kbytes_sysctl_handler`).
    MinFreeKbytes,
    /// `vm.page-cluster`: swap read-ahead of `1 << N` pages.
    PageCluster,
    /// `vm.swappiness`: anon against file in `get_scan_count`.
    Swappiness,
    /// `vm.watermark_scale_factor`: the low/high watermarks' gap.
    WatermarkScaleFactor,
    /// debugfs `fault_around_bytes`: the pages `do_fault_around` maps around a read fault.
    FaultAroundBytes,
}

/// How a knob's handler parses a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `proc_dointvec_minmax` with `extra1`/`extra2` (`None`: no bound on that side).
    IntMinMax { min: Option<i32>, max: Option<i32> },
    /// `DEFINE_DEBUGFS_ATTRIBUTE`'s `simple_attr_write`: `kstrtoull(buf, 0)`, shown as
    /// `"%llu\n"`.
    DebugU64,
}

/// One knob: its `sysctl` name (`None` for a debugfs file), its name in its directory, its
/// permission bits and its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnobInfo {
    pub knob: Knob,
    pub sysctl: Option<&'static str>,
    pub name: &'static str,
    pub mode: u32,
    pub handler: Handler,
}

/// `SYSCTL_ZERO`, `SYSCTL_ONE`, `SYSCTL_TWO_HUNDRED`, `SYSCTL_THREE_THOUSAND`, `SYSCTL_FOUR`.
const ZERO: Option<i32> = Some(0);

/// `/proc/sys/vm`'s entries pivm has, in the order its readdir lists them (6.1 keeps a sysctl
/// directory in an rbtree sorted by name: `namecmp`), and `fault_around_bytes` (debugfs).
pub const KNOBS: &[KnobInfo] = &[
    KnobInfo {
        knob: Knob::DropCaches,
        sysctl: Some("vm.drop_caches"),
        name: "drop_caches",
        mode: 0o200,
        handler: Handler::IntMinMax { min: Some(1), max: Some(4) },
    },
    KnobInfo {
        knob: Knob::MinFreeKbytes,
        sysctl: Some("vm.min_free_kbytes"),
        name: "min_free_kbytes",
        mode: 0o644,
        handler: Handler::IntMinMax { min: ZERO, max: None },
    },
    KnobInfo {
        knob: Knob::PageCluster,
        sysctl: Some("vm.page-cluster"),
        name: "page-cluster",
        mode: 0o644,
        handler: Handler::IntMinMax { min: ZERO, max: None },
    },
    KnobInfo {
        knob: Knob::Swappiness,
        sysctl: Some("vm.swappiness"),
        name: "swappiness",
        mode: 0o644,
        handler: Handler::IntMinMax { min: ZERO, max: Some(200) },
    },
    KnobInfo {
        knob: Knob::WatermarkScaleFactor,
        sysctl: Some("vm.watermark_scale_factor"),
        name: "watermark_scale_factor",
        mode: 0o644,
        handler: Handler::IntMinMax { min: Some(1), max: Some(3000) },
    },
    KnobInfo {
        knob: Knob::FaultAroundBytes,
        sysctl: None,
        name: "fault_around_bytes",
        mode: 0o644,
        handler: Handler::DebugU64,
    },
];

/// The entry of `knob`.
pub fn info(knob: Knob) -> &'static KnobInfo {
    KNOBS.iter().find(|k| k.knob == knob).expect("every knob is in KNOBS")
}

/// The `/proc/sys/vm` entries (the sysctls).
pub fn vm_knobs() -> impl Iterator<Item = &'static KnobInfo> {
    KNOBS.iter().filter(|k| k.sysctl.is_some())
}

/// The knob a `sysctl` name (`vm.page-cluster` or `vm/page-cluster`) names.
pub fn by_sysctl_name(name: &str) -> Option<&'static KnobInfo> {
    let dotted = name.replace('/', ".");
    vm_knobs().find(|k| k.sysctl == Some(dotted.as_str()))
}

/// `proc_wspace_sep`: what may follow a number.
fn is_wspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// `simple_strtoull`'s base 0: `0x`/`0X` hex, a leading `0` octal, else decimal. Returns the
/// value and the digits used; `None` on overflow (`strtoul_lenient` fails it).
fn strtoull_base0(s: &[u8]) -> Option<(u64, usize)> {
    let (base, start) =
        if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit() {
            (16, 2)
        } else if s.first() == Some(&b'0') {
            (8, 0)
        } else {
            (10, 0)
        };
    let mut v: u64 = 0;
    let mut i = start;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        v = v.checked_mul(base as u64)?.checked_add(d as u64)?;
        i += 1;
    }
    Some((v, i))
}

/// `TMPBUFLEN`: `proc_get_long` looks at most this many bytes minus one.
const TMPBUFLEN: usize = 22;

/// `__do_proc_dointvec` writing one `int` through `do_proc_dointvec_minmax_conv`: blanks
/// skipped, an optional `-`, a number in base 0 that must be followed by a blank or the end,
/// within `min..=max`. Returns the value and the bytes the write consumed (`*lenp - left`:
/// blanks after the number count, anything after them is left unwritten). `EINVAL` for no
/// number, a bad one, one out of range.
pub fn proc_dointvec_minmax(
    buf: &[u8],
    min: Option<i32>,
    max: Option<i32>,
) -> Result<(i32, usize), Errno> {
    let skip = |mut p: usize| {
        while p < buf.len() && is_wspace(buf[p]) {
            p += 1;
        }
        p
    };
    let p = skip(0);
    if p == buf.len() {
        return Err(Errno::EINVAL);
    }
    // proc_get_long: a copy of at most TMPBUFLEN - 1 bytes.
    let tmp = &buf[p..buf.len().min(p + TMPBUFLEN - 1)];
    let (neg, digits) = match tmp {
        [b'-', rest @ ..] if tmp.len() > 1 => (true, rest),
        _ => (false, tmp),
    };
    if !digits.first().is_some_and(u8::is_ascii_digit) {
        return Err(Errno::EINVAL);
    }
    let (lval, used) = strtoull_base0(digits).ok_or(Errno::EINVAL)?;
    let len = used + neg as usize;
    if len == TMPBUFLEN - 1 {
        return Err(Errno::EINVAL);
    }
    if len < buf.len() - p && !is_wspace(tmp[len]) {
        return Err(Errno::EINVAL);
    }
    // do_proc_dointvec_conv: the magnitude must fit an int.
    let val: i64 = if neg {
        if lval > i32::MAX as u64 + 1 {
            return Err(Errno::EINVAL);
        }
        -(lval as i64)
    } else {
        if lval > i32::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        lval as i64
    };
    if min.is_some_and(|m| val < m as i64) || max.is_some_and(|m| val > m as i64) {
        return Err(Errno::EINVAL);
    }
    let end = skip(p + len);
    Ok((val as i32, end))
}

/// `simple_attr_write`'s parse: at most 23 bytes (`set_buf`), `kstrtoull(buf, 0)`: the
/// whole text one number, a single trailing newline allowed. `EINVAL` for anything else,
/// `ERANGE` on overflow.
pub fn simple_attr_u64(buf: &[u8]) -> Result<u64, Errno> {
    /// `sizeof(attr->set_buf) - 1`.
    const SET_BUF: usize = 23;
    let s = &buf[..buf.len().min(SET_BUF)];
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    let s = s.strip_prefix(b"+").unwrap_or(s);
    if !s.first().is_some_and(u8::is_ascii_digit) {
        return Err(Errno::EINVAL);
    }
    let (v, used) = strtoull_base0(s).ok_or(Errno::ERANGE)?;
    if used != s.len() {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

/// `PTRS_PER_PTE` of ARM's Linux page tables.
pub const PTRS_PER_PTE: u64 = 512;

/// `fault_around_bytes_set`: at most `PTRS_PER_PTE` pages, rounded down to a power of two,
/// at least a page. `EINVAL` above the limit.
pub fn fault_around_bytes_set(val: u64, page_size: u64) -> Result<u64, Errno> {
    if val / page_size > PTRS_PER_PTE {
        return Err(Errno::EINVAL);
    }
    Ok(if val > page_size { 1 << (63 - val.leading_zeros()) } else { page_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minmax(s: &str, min: Option<i32>, max: Option<i32>) -> Result<(i32, usize), Errno> {
        proc_dointvec_minmax(s.as_bytes(), min, max)
    }

    #[test]
    fn dointvec_takes_one_number_with_blanks_around() {
        assert_eq!(minmax("3\n", ZERO, None), Ok((3, 2)));
        assert_eq!(minmax("  42 \n", ZERO, None), Ok((42, 6)));
        assert_eq!(minmax("0x10", ZERO, None), Ok((16, 4)));
        assert_eq!(minmax("010", ZERO, None), Ok((8, 3)));
        assert_eq!(minmax("-5", None, None), Ok((-5, 2)));
        // A second number is left unwritten (a short write).
        assert_eq!(minmax("5 6", ZERO, None), Ok((5, 2)));
    }

    #[test]
    fn dointvec_refuses_what_6_1_refuses() {
        for bad in
            ["", "\n", "  ", "abc", "3x", "-", "- 3", "2147483648", "99999999999999999999999"]
        {
            assert_eq!(minmax(bad, None, None), Err(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(minmax("-1", ZERO, None), Err(Errno::EINVAL));
        assert_eq!(minmax("201", ZERO, Some(200)), Err(Errno::EINVAL));
        assert_eq!(minmax("200", ZERO, Some(200)), Ok((200, 3)));
        assert_eq!(minmax("-2147483648", None, None), Ok((i32::MIN, 11)));
        assert_eq!(minmax("0", Some(1), Some(3000)), Err(Errno::EINVAL));
    }

    #[test]
    fn debugfs_attribute_is_one_number() {
        assert_eq!(simple_attr_u64(b"4096\n"), Ok(4096));
        assert_eq!(simple_attr_u64(b"0x1000"), Ok(4096));
        assert_eq!(simple_attr_u64(b"4096 \n"), Err(Errno::EINVAL));
        assert_eq!(simple_attr_u64(b" 4096"), Err(Errno::EINVAL));
        assert_eq!(simple_attr_u64(b"-1"), Err(Errno::EINVAL));
        assert_eq!(simple_attr_u64(b""), Err(Errno::EINVAL));
        assert_eq!(simple_attr_u64(b"99999999999999999999"), Err(Errno::ERANGE));
    }

    #[test]
    fn fault_around_bytes_rounds_down_to_a_power_of_two_page_multiple() {
        assert_eq!(fault_around_bytes_set(0, 4096), Ok(4096));
        assert_eq!(fault_around_bytes_set(4097, 4096), Ok(4096));
        assert_eq!(fault_around_bytes_set(65536, 4096), Ok(65536));
        assert_eq!(fault_around_bytes_set(100_000, 4096), Ok(65536));
        assert_eq!(fault_around_bytes_set(2 << 20, 4096), Ok(2 << 20));
        // 512 pages and a bit still divide to 512; 513 pages do not.
        assert_eq!(fault_around_bytes_set((2 << 20) + 4095, 4096), Ok(2 << 20));
        assert_eq!(fault_around_bytes_set((2 << 20) + 4096, 4096), Err(Errno::EINVAL));
    }

    #[test]
    fn vm_knobs_are_in_namecmp_order() {
        let names: alloc::vec::Vec<_> = vm_knobs().map(|k| k.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(by_sysctl_name("vm/page-cluster").map(|k| k.knob), Some(Knob::PageCluster));
        assert_eq!(by_sysctl_name("vm.fault_around_bytes"), None);
    }
}
