//! The oops' `Code:` line, printed the same way by both architectures (ARM's `dump_instr`,
//! arm64's `dump_kernel_instr`): the four instructions before pc and pc's own in
//! parentheses, each followed by a space; one that cannot be read ends the line with
//! `bad PC value`.
use core::fmt;

/// Writes `Code: ...` for `pc`, reading each 32-bit instruction with `read` (None: the read
/// faulted).
pub fn write_code_line(
    w: &mut dyn fmt::Write,
    pc: u64,
    read: impl Fn(u64) -> Option<u32>,
) -> fmt::Result {
    write!(w, "Code: ")?;
    for i in (0..5u64).rev() {
        match read(pc.wrapping_sub(4 * i)) {
            Some(v) if i == 0 => write!(w, "({v:08x}) ")?,
            Some(v) => write!(w, "{v:08x} ")?,
            None => {
                write!(w, "bad PC value")?;
                break;
            }
        }
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64syms_code_line() {
        let mut s = String::new();
        write_code_line(&mut s, 0x1010, |a| Some(a as u32)).unwrap();
        assert_eq!(s, "Code: 00001000 00001004 00001008 0000100c (00001010) \n");
        s.clear();
        write_code_line(&mut s, 0x1000, |a| (a != 0xff8).then_some(0)).unwrap();
        // 0xff0 and 0xff4 read, 0xff8 faults: the line ends there.
        assert_eq!(s, "Code: 00000000 00000000 bad PC value\n");
    }
}
