//! arm64's exception table (lib/extable.c's sort and search over `__ex_table`): each entry
//! pairs an instruction allowed to fault (the console's `peek`/`poke` probes, the LDTR/STTR
//! user accesses of [`uaccess`](super::uaccess)) with the fixup to resume at. pivm lays the
//! entries down as two absolute 64-bit addresses (`.quad insn, fixup`; Linux 6.1 uses 32-bit
//! relative offsets and a type field, a size optimisation the search does not depend on).
//! The linker leaves them in link order; [`sort_extable`] orders them once at boot
//! (`sort_main_extable`, from `trap_init`) and [`search_extable`] bisects them in the fault
//! path. Pure, tested on the host.

/// One `__ex_table` entry: the faulting instruction's address and its fixup's.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExTableEntry {
    pub insn: u64,
    pub fixup: u64,
}

/// `sort_extable`: orders the entries by instruction address.
pub fn sort_extable(table: &mut [ExTableEntry]) {
    table.sort_unstable_by_key(|e| e.insn);
}

/// Whether the table is in instruction order (what [`search_extable`] needs).
pub fn is_sorted(table: &[ExTableEntry]) -> bool {
    table.windows(2).all(|w| w[0].insn <= w[1].insn)
}

/// `search_extable`: the fixup for a fault at `pc`, by binary search of a sorted table.
pub fn search_extable(table: &[ExTableEntry], pc: u64) -> Option<u64> {
    table.binary_search_by_key(&pc, |e| e.insn).ok().map(|i| table[i].fixup)
}

/// One load from `$addr` that may fault, with its `__ex_table` entry and fixup (Linux's
/// `__get_mem_asm`): `(value, faulted)`. `$insn` is the load, naming the value `{v}` and the
/// address `{a}` (e.g. `"ldtr {v:w}, [{a}]"`); a fault resumes at the fixup, which zeroes the
/// value and sets the flag.
#[cfg(all(kernel, target_arch = "aarch64"))]
macro_rules! fixup_load {
    ($insn:literal, $addr:expr) => {{
        let (val, failed): (u64, u64);
        // SAFETY: the load's only effect is reading `$addr`, which the caller chose; a fault
        // on it is fixed up through the exception table entry laid down here.
        unsafe {
            core::arch::asm!(
                "mov {f}, #0",
                "1:",
                $insn,
                "2:",
                ".pushsection __ex_table, \"a\"",
                ".balign 8",
                ".quad 1b, 3f",
                ".popsection",
                ".pushsection .text.fixup, \"ax\"",
                "3: mov {f}, #1",
                "mov {v}, #0",
                "b 2b",
                ".popsection",
                a = in(reg) $addr,
                v = out(reg) val,
                f = out(reg) failed,
                options(nostack)
            );
        }
        (val, failed != 0)
    }};
}
#[cfg(all(kernel, target_arch = "aarch64"))]
pub(crate) use fixup_load;

/// One store of `$value` to `$addr` that may fault, with its `__ex_table` entry and fixup
/// (`__put_mem_asm`): whether it faulted. `$insn` names the value `{v}` and the address `{a}`.
#[cfg(all(kernel, target_arch = "aarch64"))]
macro_rules! fixup_store {
    ($insn:literal, $addr:expr, $value:expr) => {{
        let failed: u64;
        // SAFETY: the store writes only `$addr`, which the caller chose to write; a fault on
        // it is fixed up through the exception table entry laid down here.
        unsafe {
            core::arch::asm!(
                "mov {f}, #0",
                "1:",
                $insn,
                "2:",
                ".pushsection __ex_table, \"a\"",
                ".balign 8",
                ".quad 1b, 3f",
                ".popsection",
                ".pushsection .text.fixup, \"ax\"",
                "3: mov {f}, #1",
                "b 2b",
                ".popsection",
                a = in(reg) $addr,
                v = in(reg) $value,
                f = out(reg) failed,
                options(nostack)
            );
        }
        failed != 0
    }};
}
#[cfg(all(kernel, target_arch = "aarch64"))]
pub(crate) use fixup_store;

#[cfg(test)]
mod tests {
    use super::*;

    fn e(insn: u64, fixup: u64) -> ExTableEntry {
        ExTableEntry { insn, fixup }
    }

    #[test]
    fn sorted_table_finds_exact_pcs_only() {
        let k = 0xffff_8000_0800_0000u64;
        let mut t =
            [e(k + 0x1010, k + 0x9000), e(k + 0x100, k + 0x9010), e(k + 0x2000, k + 0x9020)];
        assert!(!is_sorted(&t));
        sort_extable(&mut t);
        assert!(is_sorted(&t));
        assert_eq!(search_extable(&t, k + 0x100), Some(k + 0x9010));
        assert_eq!(search_extable(&t, k + 0x1010), Some(k + 0x9000));
        assert_eq!(search_extable(&t, k + 0x2000), Some(k + 0x9020));
        // Only the listed instruction may fault: its neighbours (4 bytes away) are not covered.
        for pc in [0, k + 0xfc, k + 0x104, k + 0x100c, k + 0x1014, k + 0x2004, u64::MAX] {
            assert_eq!(search_extable(&t, pc), None, "{pc:#x}");
        }
        assert_eq!(search_extable(&[], k), None);
    }

    #[test]
    fn matches_a_linear_scan_on_random_tables() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in 0..48 {
            let base = 0xffff_8000_0800_0000u64;
            let mut t: Vec<ExTableEntry> =
                (0..n).map(|_| e(base + (next() % 2048) * 4, next())).collect();
            t.sort_by_key(|e| e.insn);
            t.dedup_by_key(|e| e.insn);
            let mut shuffled = t.clone();
            shuffled.reverse();
            sort_extable(&mut shuffled);
            for pc in (base..base + 2048 * 4).step_by(4) {
                let linear = t.iter().find(|e| e.insn == pc).map(|e| e.fixup);
                assert_eq!(search_extable(&shuffled, pc), linear, "n {n} pc {pc:#x}");
            }
        }
    }
}
