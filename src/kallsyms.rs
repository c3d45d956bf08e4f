//! Symbol lookup for oopses and `%pS` (Linux's kallsyms, much simplified): the table is the
//! text of `nm -n -C` for the kernel's functions (`80011af0 T name` per line on ARMv7,
//! `ffff800008010000 T name` on arm64: the address as wide as the ELF's, address-sorted),
//! written into the image's `.kallsyms` section after linking by `scripts/kallsyms.sh`.
use core::fmt;

/// A function containing an address, printed like Linux's `%pS`: `name+0x1c/0x40`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub size: u64,
}

impl fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}/{:#x}", self.name, self.offset, self.size)
    }
}

/// One parsed table line: address (8 or 16 hex digits) and name.
fn parse_line(line: &str) -> Option<(u64, &str)> {
    let (addr, rest) = line.split_once(' ')?;
    let (_kind, name) = rest.split_once(' ')?;
    Some((u64::from_str_radix(addr, 16).ok()?, name))
}

/// The symbol containing `addr`: the last one at or below it, sized up to the next symbol.
/// None if the table is empty, `addr` is below the first symbol or past the last one.
pub fn lookup(table: &[u8], addr: u64) -> Option<Symbol<'_>> {
    let end = table.iter().position(|&b| b == 0).unwrap_or(table.len());
    let text = core::str::from_utf8(&table[..end]).ok()?;
    let mut best: Option<(u64, &str)> = None;
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

/// Writes `addr` as Linux's `%pS` does: `function+0x1c/0x40` from `table`, or, for an
/// address no symbol covers, the bare address in hex.
pub fn write_symbol(w: &mut dyn fmt::Write, table: &[u8], addr: u64) -> fmt::Result {
    match lookup(table, addr) {
        Some(s) => write!(w, "{s}"),
        None => write!(w, "{addr:#x}"),
    }
}

#[cfg(kernel)]
extern "C" {
    static __kallsyms_start: u8;
    static __kallsyms_end: u8;
}

/// The running kernel's table: the `.kallsyms` section both linker scripts reserve in rodata
/// (a fixed size, so filling it after linking moves no address).
#[cfg(kernel)]
pub fn kernel_table() -> &'static [u8] {
    let start = core::ptr::addr_of!(__kallsyms_start);
    let end = core::ptr::addr_of!(__kallsyms_end);
    // SAFETY: the linker reserves [start, end) in rodata; scripts/kallsyms.sh fills it before
    // the image is made, and nothing writes it at run time.
    unsafe { core::slice::from_raw_parts(start, end.offset_from(start) as usize) }
}

/// An address of the running kernel printed like `%pS` (the oops' `PC is at`, `pc :`, the
/// call trace).
#[cfg(kernel)]
pub struct Sym(pub u64);

#[cfg(kernel)]
impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_symbol(f, kernel_table(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[u8] =
        b"80008000 T _start\n80008100 t relocated\n80008200 T pivm::kernel::set\n\0\0\0";

    /// arm64's table: the same lines with 64-bit addresses (`nm` on the aarch64 ELF).
    const TABLE64: &[u8] = b"ffff800008000000 T _text\nffff800008000040 t __pivm_head\n\
ffff800008001000 T pivm::console::commands::system::cmd_crash\n\
ffff800008001180 T pivm::console::commands::console_loop\n\0";

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

    #[test]
    fn arm64syms_64_bit_addresses() {
        let s = lookup(TABLE64, 0xffff_8000_0800_1064).unwrap();
        assert_eq!(s.to_string(), "pivm::console::commands::system::cmd_crash+0x64/0x180");
        assert_eq!(lookup(TABLE64, 0xffff_8000_0800_0000).unwrap().name, "_text");
        // Below the first symbol, past the last, and a 32-bit address in a 64-bit table.
        assert_eq!(lookup(TABLE64, 0xffff_7fff_ffff_fffc), None);
        assert_eq!(lookup(TABLE64, 0xffff_8000_0800_1190), None);
        assert_eq!(lookup(TABLE64, 0x8000_1064), None);
    }

    #[test]
    fn arm64syms_write_symbol_falls_back_to_hex() {
        let mut s = String::new();
        write_symbol(&mut s, TABLE64, 0xffff_8000_0800_0044).unwrap();
        assert_eq!(s, "__pivm_head+0x4/0xfc0");
        s.clear();
        write_symbol(&mut s, TABLE64, 0x1000).unwrap();
        assert_eq!(s, "0x1000");
    }
}
