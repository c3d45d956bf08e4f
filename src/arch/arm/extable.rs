//! The exception table's logic (Linux's lib/extable.c): `__ex_table` pairs an instruction
//! allowed to fault (a user access in `copy_from_user` and friends, the console's `peek`) with
//! the fixup to resume at. The linker leaves the entries in link order; `sort_extable` puts
//! them in instruction order once at boot (`sort_main_extable`) and `search_extable` finds a
//! faulting pc by binary search. Pure, so it is tested on the host.

/// One `__ex_table` entry (`struct exception_table_entry`): absolute addresses, as the
/// assembly's `.long insn, fixup` lays them down.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExTableEntry {
    pub insn: u32,
    pub fixup: u32,
}

/// `sort_extable`: orders the entries by instruction address.
pub fn sort_extable(table: &mut [ExTableEntry]) {
    table.sort_unstable_by_key(|e| e.insn);
}

/// Whether the table is in instruction order (what `search_extable` needs).
pub fn is_sorted(table: &[ExTableEntry]) -> bool {
    table.windows(2).all(|w| w[0].insn <= w[1].insn)
}

/// `search_extable`: the fixup for a fault at `pc`, by binary search of a sorted table.
pub fn search_extable(table: &[ExTableEntry], pc: u32) -> Option<u32> {
    table.binary_search_by_key(&pc, |e| e.insn).ok().map(|i| table[i].fixup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(insn: u32, fixup: u32) -> ExTableEntry {
        ExTableEntry { insn, fixup }
    }

    #[test]
    fn sorted_table_finds_exact_pcs_only() {
        let mut t =
            [e(0x8000_1010, 0x8010_0000), e(0x8000_0100, 0x8010_0010), e(0x8000_2000, 0x8010_0020)];
        assert!(!is_sorted(&t));
        sort_extable(&mut t);
        assert!(is_sorted(&t));
        assert_eq!(search_extable(&t, 0x8000_0100), Some(0x8010_0010));
        assert_eq!(search_extable(&t, 0x8000_1010), Some(0x8010_0000));
        assert_eq!(search_extable(&t, 0x8000_2000), Some(0x8010_0020));
        // Neighbouring instructions are not covered: only the listed access may fault.
        for pc in [0, 0x8000_00fc, 0x8000_0104, 0x8000_100c, 0x8000_1014, 0x8000_2004, u32::MAX] {
            assert_eq!(search_extable(&t, pc), None, "{pc:#x}");
        }
        assert_eq!(search_extable(&[], 0x8000_0100), None);
    }

    #[test]
    fn matches_a_linear_scan_on_random_tables() {
        // A small xorshift stream: tables of every size, every listed pc found with its own
        // fixup, every other pc not found, exactly as a linear scan says.
        let mut x = 0x1234_5678u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for n in 0..64 {
            let mut t: Vec<ExTableEntry> = (0..n).map(|_| e((next() % 4096) * 4, next())).collect();
            t.sort_by_key(|e| e.insn);
            t.dedup_by_key(|e| e.insn);
            let mut shuffled = t.clone();
            shuffled.reverse();
            sort_extable(&mut shuffled);
            for pc in (0..4096 * 4).step_by(2) {
                let linear = t.iter().find(|e| e.insn == pc).map(|e| e.fixup);
                assert_eq!(search_extable(&shuffled, pc), linear, "n {n} pc {pc:#x}");
            }
        }
    }
}
