//! `grep`-like excerpts of a rendered file without a heap: the scenario shows a few lines of
//! /proc/meminfo exactly when memory may be exhausted, so the excerpt cannot allocate.
use core::fmt::{self, Write};

/// Longest line kept; /proc lines pivm renders are far shorter.
const LINE_MAX: usize = 128;

/// A `fmt::Write` that passes on only the lines starting with one of `prefixes`.
pub struct LineFilter<'a, W: Write> {
    out: W,
    prefixes: &'a [&'a str],
    line: [u8; LINE_MAX],
    len: usize,
}

impl<'a, W: Write> LineFilter<'a, W> {
    pub fn new(out: W, prefixes: &'a [&'a str]) -> Self {
        LineFilter { out, prefixes, line: [0; LINE_MAX], len: 0 }
    }

    /// Passes on a last line without a newline; returns the inner writer.
    pub fn finish(mut self) -> Result<W, fmt::Error> {
        self.flush(false)?;
        Ok(self.out)
    }

    fn flush(&mut self, newline: bool) -> fmt::Result {
        let len = core::mem::take(&mut self.len);
        let Ok(text) = core::str::from_utf8(&self.line[..len]) else {
            return Ok(());
        };
        if len > 0 && self.prefixes.iter().any(|p| text.starts_with(p)) {
            self.out.write_str(text)?;
            if newline {
                self.out.write_char('\n')?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for LineFilter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.flush(true)?;
            } else if let Some(slot) = self.line.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_lines_with_the_prefixes() {
        let mut f = LineFilter::new(String::new(), &["MemFree:", "HighFree:"]);
        write!(f, "MemTotal: 1 kB\nMemFree:").unwrap();
        write!(f, " 2 kB\nHighFree: {} kB\nHighFreeX\nLow: 4 kB\nMemFree: last", 3).unwrap();
        assert_eq!(f.finish().unwrap(), "MemFree: 2 kB\nHighFree: 3 kB\nMemFree: last");
    }

    #[test]
    fn overlong_lines_are_cut_not_overflowed() {
        let mut f = LineFilter::new(String::new(), &["A"]);
        let long = "A".repeat(LINE_MAX + 50);
        writeln!(f, "{long}").unwrap();
        assert_eq!(f.finish().unwrap(), format!("{}\n", &long[..LINE_MAX]));
    }
}
