//! `BUG()` as arm64 Linux 6.1 builds it (`asm/bug.h`, `asm-bug.h`, `lib/bug.c`): a
//! `brk #0x800` (`BUG_BRK_IMM`) with a `__bug_table` entry giving the file and line; the
//! debug exception's `bug_handler` finds the entry by pc, `report_bug` prints `kernel BUG at
//! FILE:LINE!` and the trap ends in `die("Oops - BUG", regs, esr)`.
use core::fmt;

/// `BUG_BRK_IMM`: the immediate of the `brk` a `BUG()` executes.
pub const BUG_BRK_IMM: u64 = 0x800;

/// `CUT_HERE`: what `report_bug` prints before a BUG's report.
pub const CUT_HERE: &str = "------------[ cut here ]------------";

/// `struct bug_entry` (absolute addresses: pivm's image is not relocated): the `brk`'s
/// address, the address of a `&'static str` holding the file's name, the line, flags.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BugEntry {
    pub bug_addr: u64,
    pub file: u64,
    pub line: u32,
    pub flags: u32,
}

/// Whether an ESR is a `BUG()`'s `brk` (EC BRK64, ISS `BUG_BRK_IMM`: 6.1's `bug_break_hook`).
pub fn is_bug_brk(esr: u64) -> bool {
    super::esr::ec(esr) == super::esr::EC_BRK64 && esr & 0xffff == BUG_BRK_IMM
}

/// `find_bug`: the entry of the `brk` at `pc`.
pub fn find_bug(table: &[BugEntry], pc: u64) -> Option<&BugEntry> {
    table.iter().find(|b| b.bug_addr == pc)
}

/// `report_bug` for a `BUG()` (not a `WARN()`): the cut-here line, then `kernel BUG at
/// FILE:LINE!` (`CONFIG_DEBUG_BUGVERBOSE`, as Debian's kernel).
pub fn write_report(w: &mut dyn fmt::Write, file: &str, line: u32) -> fmt::Result {
    writeln!(w, "{CUT_HERE}")?;
    writeln!(w, "kernel BUG at {file}:{line}!")
}

/// `BUG()`: a `brk #BUG_BRK_IMM` with its `__bug_table` entry (file and line of the macro's
/// use). Never returns: the trap oopses.
#[cfg(all(kernel, target_arch = "aarch64"))]
macro_rules! bug {
    () => {{
        static BUG_FILE: &str = file!();
        // SAFETY: the `brk` traps to the kernel's `bug_handler`, which oopses; nothing after
        // it runs. The table entry is data only.
        unsafe {
            core::arch::asm!(
                "1: brk #{imm}",
                ".pushsection __bug_table, \"aw\"",
                ".balign 8",
                ".quad 1b",
                ".quad {file}",
                ".word {line}",
                ".word 0",
                ".popsection",
                imm = const $crate::arch::arm64::bug::BUG_BRK_IMM,
                file = sym BUG_FILE,
                line = const line!(),
                options(noreturn, nostack)
            )
        }
    }};
}
#[cfg(all(kernel, target_arch = "aarch64"))]
pub(crate) use bug;

#[cfg(all(kernel, target_arch = "aarch64"))]
extern "C" {
    static __start___bug_table: BugEntry;
    static __stop___bug_table: BugEntry;
}

/// The kernel's `__bug_table` (the linker script bounds it).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub fn bug_table() -> &'static [BugEntry] {
    let start = core::ptr::addr_of!(__start___bug_table);
    let end = core::ptr::addr_of!(__stop___bug_table) as usize;
    let n = (end - start as usize) / core::mem::size_of::<BugEntry>();
    // SAFETY: the linker script keeps every `bug!` entry between the two symbols, 8-aligned,
    // and nothing writes them.
    unsafe { core::slice::from_raw_parts(start, n) }
}

/// The file name a table entry points to (`bug_get_file_line`).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub fn entry_file(b: &BugEntry) -> &'static str {
    // SAFETY: `file` is the address of a `static BUG_FILE: &str` laid down by `bug!`.
    unsafe { *(b.file as *const &'static str) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64syms_bug_brk_is_ec_3c_imm_800() {
        // 6.1's oops prints this ESR: `Internal error: Oops - BUG: 00000000f2000800`.
        assert!(is_bug_brk(0xf200_0800));
        assert!(!is_bug_brk(0xf200_0000)); // brk #0 (a debugger's)
        assert!(!is_bug_brk(0x0200_0000)); // EC 0: an undefined instruction
    }

    #[test]
    fn arm64syms_finds_the_entry_and_reports_it() {
        let t = [
            BugEntry { bug_addr: 0x1000, file: 0, line: 7, flags: 0 },
            BugEntry { bug_addr: 0x2000, file: 0, line: 9, flags: 0 },
        ];
        assert_eq!(find_bug(&t, 0x2000).unwrap().line, 9);
        assert!(find_bug(&t, 0x2004).is_none());
        let mut s = String::new();
        write_report(&mut s, "src/arch/arm64/traps.rs", 321).unwrap();
        assert_eq!(
            s,
            "------------[ cut here ]------------\nkernel BUG at src/arch/arm64/traps.rs:321!\n"
        );
    }
}
