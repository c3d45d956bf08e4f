//! Symbol lookup for oopses (Linux's kallsyms, much simplified): the table is the text of
//! `nm -n -C` for the kernel's functions (`80011af0 T name` per line, address-sorted), written
//! into the image after linking by `scripts/kallsyms.sh`.
use core::fmt;

/// A function containing an address, printed like Linux's `%pS`: `name+0x1c/0x40`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub offset: u32,
    pub size: u32,
}

impl fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}/{:#x}", self.name, self.offset, self.size)
    }
}

/// One parsed table line: address and name.
fn parse_line(line: &str) -> Option<(u32, &str)> {
    let (addr, rest) = line.split_once(' ')?;
    let (_kind, name) = rest.split_once(' ')?;
    Some((u32::from_str_radix(addr, 16).ok()?, name))
}

/// The symbol containing `addr`: the last one at or below it, sized up to the next symbol.
/// None if the table is empty, `addr` is below the first symbol or past the last one.
pub fn lookup(table: &[u8], addr: u32) -> Option<Symbol<'_>> {
    let end = table.iter().position(|&b| b == 0).unwrap_or(table.len());
    let text = core::str::from_utf8(&table[..end]).ok()?;
    let mut best: Option<(u32, &str)> = None;
    for (start, name) in text.lines().filter_map(parse_line) {
        if start > addr {
            let (bstart, bname) = best?;
            if start == bstart {
                continue;
            }
            return Some(Symbol { name: bname, offset: addr - bstart, size: start - bstart });
        }
        best = Some((start, name));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[u8] =
        b"80008000 T _start\n80008100 t relocated\n80008200 T pivm::kernel::set\n\0\0\0";

    #[test]
    fn finds_the_containing_function() {
        let s = lookup(TABLE, 0x8000_8104).unwrap();
        assert_eq!(s, Symbol { name: "relocated", offset: 4, size: 0x100 });
        assert_eq!(s.to_string(), "relocated+0x4/0x100");
        assert_eq!(lookup(TABLE, 0x8000_8000).unwrap().name, "_start");
    }

    #[test]
    fn outside_the_table_is_none() {
        assert_eq!(lookup(TABLE, 0x8000_7fff), None);
        // Past the last symbol its size is unknown.
        assert_eq!(lookup(TABLE, 0x8000_8204), None);
        assert_eq!(lookup(b"\0\0", 0x8000_8000), None);
        assert_eq!(lookup(b"garbage line\n\xff\xfe", 0x8000_8000), None);
    }
}
