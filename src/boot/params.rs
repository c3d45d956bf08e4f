//! Finding the boot parameters r2 points at without reading past them: which bytes may be
//! read at all (the entry code's mapping, minus the kernel image), then how many bytes the
//! ATAG list (its tag headers, walked word by word) or the DTB (its header's `totalsize`)
//! really has. Only those bytes are then handed to the parsers as a slice.
use core::fmt;

use super::atags::{self, AtagError};
use super::dtb;

/// What r2 points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsFormat {
    Atags,
    Dtb,
}

/// Why the bytes at r2 cannot be read or measured. Nothing is read past the readable window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// r2 is not word aligned (ATAGs and DTBs both start on a word).
    Misaligned { pa: u64 },
    /// r2 lies outside the range the entry code maps for boot parameters.
    NotMapped { pa: u64, limit: u64 },
    /// r2 points into the kernel image.
    InKernel { pa: u64 },
    /// An ATAG list that is malformed, or runs past what can be read.
    Atags(AtagError),
    /// A DTB whose `totalsize` is too small for a header or larger than what can be read.
    DtbSize { totalsize: u32, readable: u64 },
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Misaligned { pa } => write!(f, "r2={pa:#x} is not word aligned"),
            Self::NotMapped { pa, limit } => {
                write!(f, "r2={pa:#x} is not below {limit:#x}, where boot parameters are mapped")
            }
            Self::InKernel { pa } => write!(f, "r2={pa:#x} points into the kernel image"),
            Self::Atags(e) => write!(f, "{e}"),
            Self::DtbSize { totalsize, readable } => write!(
                f,
                "dtb: totalsize {totalsize:#x} is not between the header size and the \
                 {readable:#x} bytes readable at r2"
            ),
        }
    }
}

/// Bytes that may be read from `pa` on: up to `window_end` (the end of the entry code's
/// mapping) and, when the kernel image lies above `pa`, up to the image. `kernel` is the
/// image's physical range `[start, end)`; `limit` is the highest address r2 may hold.
pub fn readable_len(
    pa: u64,
    limit: u64,
    window_end: u64,
    kernel: (u64, u64),
) -> Result<u64, ParamsError> {
    if !pa.is_multiple_of(4) {
        return Err(ParamsError::Misaligned { pa });
    }
    if pa >= limit || pa >= window_end {
        return Err(ParamsError::NotMapped { pa, limit });
    }
    let (k_start, k_end) = kernel;
    if (k_start..k_end).contains(&pa) {
        return Err(ParamsError::InKernel { pa });
    }
    let end = if pa < k_start { window_end.min(k_start) } else { window_end };
    Ok(end - pa)
}

/// Which format starts at r2 and how many bytes it has, reading only words below
/// `readable` through `read_word(offset)` (the little-endian word at that byte offset).
/// `Ok(None)`: neither an ATAG list nor a DTB starts there.
pub fn locate(
    readable: u64,
    mut read_word: impl FnMut(usize) -> Option<u32>,
) -> Result<Option<(ParamsFormat, usize)>, ParamsError> {
    let readable_usize = usize::try_from(readable).unwrap_or(usize::MAX);
    let mut word = |offset: usize| {
        offset.checked_add(4).filter(|&end| end <= readable_usize).and_then(|_| read_word(offset))
    };
    let (Some(w0), Some(w1)) = (word(0), word(4)) else { return Ok(None) };
    if dtb::looks_like_dtb(w0.swap_bytes()) {
        let totalsize = w1.swap_bytes();
        let fits = u64::from(totalsize) <= readable && totalsize as usize >= dtb::FDT_HEADER_SIZE;
        return if fits {
            Ok(Some((ParamsFormat::Dtb, totalsize as usize)))
        } else {
            Err(ParamsError::DtbSize { totalsize, readable })
        };
    }
    if atags::looks_like_atags([w0, w1]) {
        return atags::atags_size(readable_usize, word)
            .map(|len| Some((ParamsFormat::Atags, len)))
            .map_err(ParamsError::Atags);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::atags::{ATAG_CMDLINE, ATAG_CORE, ATAG_MEM, ATAG_NONE};

    const KERNEL: (u64, u64) = (0x8000, 0x20_0000);
    const LIMIT: u64 = 0x3f00_0000;

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A reader over `mem` that records every offset asked for.
    fn reader<'a>(
        mem: &'a [u8],
        log: &'a std::cell::RefCell<Vec<usize>>,
    ) -> impl FnMut(usize) -> Option<u32> + 'a {
        move |off| {
            log.borrow_mut().push(off);
            let b = mem.get(off..off + 4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
    }

    /// Issue 11 §1: the readable window stops at the kernel image, so the ATAGs QEMU leaves
    /// at 0x100 can never be read (or sliced) together with the kernel's .bss and stack.
    #[test]
    fn window_stops_at_the_kernel() {
        assert_eq!(readable_len(0x100, LIMIT, 0x20_0000, KERNEL), Ok(0x8000 - 0x100));
        assert_eq!(readable_len(0x800_0000, LIMIT, 0x820_0000, KERNEL), Ok(0x20_0000));
        assert_eq!(readable_len(0x20_0000, LIMIT, 0x40_0000, KERNEL), Ok(0x20_0000));
        assert_eq!(
            readable_len(0x9000, LIMIT, 0x20_0000, KERNEL),
            Err(ParamsError::InKernel { pa: 0x9000 })
        );
        assert_eq!(
            readable_len(0x102, LIMIT, 0x20_0000, KERNEL),
            Err(ParamsError::Misaligned { pa: 0x102 })
        );
        assert_eq!(
            readable_len(LIMIT, LIMIT, LIMIT + 0x20_0000, KERNEL),
            Err(ParamsError::NotMapped { pa: LIMIT, limit: LIMIT })
        );
    }

    #[test]
    fn atags_are_measured_by_their_headers() {
        let mut mem = words(&[5, ATAG_CORE, 1, 4096, 0, 4, ATAG_MEM, 0x3c00_0000, 0]);
        mem.extend(words(&[3, ATAG_CMDLINE, u32::from_le_bytes(*b"a=b\0"), 0, ATAG_NONE]));
        let len = mem.len();
        mem.resize(0x7f00, 0x55); // what follows the list up to the kernel
        let log = Default::default();
        let got = locate(0x7f00, reader(&mem, &log)).unwrap();
        assert_eq!(got, Some((ParamsFormat::Atags, len)));
        assert!(log.borrow().iter().all(|&off| off + 4 <= len), "{:?}", log.borrow());
    }

    #[test]
    fn an_atag_list_without_end_stops_at_the_window() {
        // ATAG_CORE, then tags of 2 words forever: the walk must stop at `readable`.
        let mut ws = vec![2, ATAG_CORE];
        for _ in 0..100 {
            ws.extend([2, 0x5441_0007]);
        }
        let mem = words(&ws);
        let log = Default::default();
        let err = locate(64, reader(&mem, &log)).unwrap_err();
        assert!(matches!(err, ParamsError::Atags(AtagError::Truncated { .. })), "{err}");
        assert!(log.borrow().iter().all(|&off| off + 4 <= 64));
    }

    #[test]
    fn dtb_is_measured_by_totalsize() {
        let mut mem = vec![0u8; 0x100];
        mem[..4].copy_from_slice(&dtb::FDT_MAGIC.to_be_bytes());
        mem[4..8].copy_from_slice(&0x80u32.to_be_bytes());
        let log = Default::default();
        assert_eq!(locate(0x100, reader(&mem, &log)), Ok(Some((ParamsFormat::Dtb, 0x80))));
        assert_eq!(*log.borrow(), [0, 4]);
        // Larger than what can be read, or smaller than a header: refused.
        mem[4..8].copy_from_slice(&0x101u32.to_be_bytes());
        assert_eq!(
            locate(0x100, reader(&mem, &log)),
            Err(ParamsError::DtbSize { totalsize: 0x101, readable: 0x100 })
        );
        mem[4..8].copy_from_slice(&8u32.to_be_bytes());
        assert!(matches!(locate(0x100, reader(&mem, &log)), Err(ParamsError::DtbSize { .. })));
        mem[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(locate(0x100, reader(&mem, &log)), Err(ParamsError::DtbSize { .. })));
    }

    #[test]
    fn nothing_recognisable() {
        let log = Default::default();
        assert_eq!(locate(0x100, reader(&[0; 0x100], &log)), Ok(None));
        assert_eq!(locate(4, reader(&[0; 0x100], &log)), Ok(None));
    }

    #[test]
    fn errors_display_one_line() {
        let errs = [
            ParamsError::Misaligned { pa: 2 },
            ParamsError::NotMapped { pa: 0x4000_0000, limit: LIMIT },
            ParamsError::InKernel { pa: 0x9000 },
            ParamsError::Atags(AtagError::TooManyTags),
            ParamsError::DtbSize { totalsize: 1, readable: 2 },
        ];
        for e in errs {
            assert!(!e.to_string().contains('\n'));
        }
    }
}
