//! Page poisoning's check when a page is handed out again (mm/page_poison.c): which bytes of
//! a freed page were written, kept as an event for the kernel to print as Linux's report
//! (`pagealloc: memory corruption` or `pagealloc: single bit error`, the bytes as
//! `print_hex_dump` shows them, then `dump_page`). The allocator never prints.
use super::*;

/// Bytes in a page: a corrupted span is at most one page long.
const PAGE_BYTES: usize = PAGE_SIZE as usize;
/// `print_hex_dump`'s row: 16 bytes, one byte per group, with the ASCII column.
const HEX_DUMP_ROWSIZE: usize = 16;
/// Where `hex_dump_to_buffer` starts the ASCII column of a 16-byte, 1-byte-group row:
/// `rowsize * 2 + rowsize / groupsize + 1`.
const HEX_DUMP_ASCII_COLUMN: usize = HEX_DUMP_ROWSIZE * 2 + HEX_DUMP_ROWSIZE + 1;

/// One page that page poisoning found written after it was freed: the bytes from the first to
/// the last that no longer hold `PAGE_POISON` (`check_poison_mem`'s `start..=end`), and the
/// page descriptor as it was when the page was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoisonCorruption {
    pub pfn: Pfn,
    /// Offset in the page of the first byte that is not `PAGE_POISON`.
    pub start: usize,
    /// `end - start + 1` (0 if the bytes could not be read back).
    pub len: usize,
    /// The descriptor at the time of the check (`dump_page`'s subject).
    pub page: Page,
    bytes: [u8; PAGE_BYTES],
}

impl PoisonCorruption {
    /// The corrupted span, `start..=end`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// `single_bit_flip()` of a one-byte span: exactly one bit differs from the poison.
    pub fn single_bit_error(&self) -> bool {
        self.len == 1 && (self.bytes[0] ^ PAGE_POISON).count_ones() == 1
    }

    /// `check_poison_mem()`'s report: the headline, the span as `print_hex_dump` prints it
    /// (`DUMP_PREFIX_ADDRESS`, 16 bytes a row; `page_va` is the address the page was read at,
    /// printed in full as with `no_hash_pointers`), then `dump_page()`. Linux prints
    /// `dump_stack()` between the two; pivm has no unwinder and leaves it out.
    pub fn write_report(&self, w: &mut impl fmt::Write, page_va: u64) -> fmt::Result {
        let headline = if self.single_bit_error() {
            "pagealloc: single bit error"
        } else {
            "pagealloc: memory corruption"
        };
        writeln!(w, "{headline}")?;
        write_hex_dump(w, page_va + self.start as u64, self.bytes())?;
        write_dump_page(w, self.pfn, &self.page, None, "pagealloc: corrupted page details")
    }
}

/// `print_hex_dump(KERN_ERR, "", DUMP_PREFIX_ADDRESS, 16, 1, buf, len, true)` for bytes that
/// start at `addr`: `addr: hh hh ...` padded to the ASCII column, then the printable bytes.
pub fn write_hex_dump(w: &mut impl fmt::Write, addr: u64, bytes: &[u8]) -> fmt::Result {
    for (row, chunk) in bytes.chunks(HEX_DUMP_ROWSIZE).enumerate() {
        write!(w, "{:08x}: ", addr + (row * HEX_DUMP_ROWSIZE) as u64)?;
        let mut col = 0;
        for (i, b) in chunk.iter().enumerate() {
            if i > 0 {
                w.write_char(' ')?;
                col += 1;
            }
            write!(w, "{b:02x}")?;
            col += 2;
        }
        for _ in col..HEX_DUMP_ASCII_COLUMN {
            w.write_char(' ')?;
        }
        for &b in chunk {
            w.write_char(if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' })?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// The corruptions found and not yet printed: one report waits (the kernel prints it right
/// after the allocation that found it); others found before it is taken are only counted,
/// as Linux's ratelimit counts the callbacks it suppresses.
#[derive(Clone, Copy, Debug)]
pub struct PoisonReports {
    pending: Option<PoisonCorruption>,
    suppressed: u64,
    total: u64,
}

impl Default for PoisonReports {
    fn default() -> Self {
        Self::new()
    }
}

impl PoisonReports {
    pub const fn new() -> Self {
        PoisonReports { pending: None, suppressed: 0, total: 0 }
    }

    /// Corruptions found since boot.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether a report waits.
    #[inline]
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The waiting report and how many were suppressed after it.
    pub fn take(&mut self) -> Option<(PoisonCorruption, u64)> {
        let report = self.pending.take()?;
        Some((report, core::mem::take(&mut self.suppressed)))
    }
}

impl<'a> Node<'a> {
    /// `unpoison_page()` for one page just taken off the free lists (`page` is its
    /// descriptor now): a byte that is not `PAGE_POISON` means it was written while free. A
    /// page the kernel cannot map is left unchecked (Linux's kmap cannot fail).
    #[cold]
    #[inline(never)]
    pub(super) fn check_poison_page(&mut self, pfn: Pfn, page: Page) {
        let Ok(Some(start)) = self.memory.check_poison(pfn) else { return };
        let start = start.min(PAGE_BYTES - 1);
        let reports = &mut self.poison_reports;
        reports.total += 1;
        if reports.pending.is_some() {
            reports.suppressed += 1;
            return;
        }
        let report = reports.pending.insert(PoisonCorruption {
            pfn,
            start,
            len: 0,
            page,
            bytes: [PAGE_POISON; PAGE_BYTES],
        });
        let tail = &mut report.bytes[..PAGE_BYTES - start];
        if self.memory.read(pfn, start, tail).is_ok() {
            // The last byte that is not poison (`check_poison_mem`'s `end`); the first one
            // is not, by `check_poison`.
            report.len = tail.iter().rposition(|&b| b != PAGE_POISON).map_or(1, |i| i + 1);
        }
    }
}
