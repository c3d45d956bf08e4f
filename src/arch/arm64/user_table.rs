//! A process's own translation table (TTBR0): arm64 Linux's user page-table operations on
//! VMSAv8-64 descriptors, 4 levels with `VA_BITS`=48 and 3 with 39 (`pgd_alloc` is one zeroed
//! page: the kernel half lives in TTBR1, so nothing is copied into it). Table descriptors of
//! a user table carry `PXN` (`pmd_populate`, `pud_populate`, `p4d_populate` for a user mm):
//! nothing under them runs at EL1. Generic over `TableMemory`, so the same code runs in the
//! kernel through the linear map and on the host against a fake memory.
use super::mapping::TableMemory;
use super::memory::pgtable_levels;
use super::pgtable::{desc_kind, entry_span, hw_level, table_index, DescKind};
use super::pgtable::{PteBits, PTE_ADDR_MASK, TABLE_PXN};
use super::pte::Pte;

/// Why a user PTE could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTableError {
    /// No page left for a table.
    NoTable,
    /// The address is not below `TASK_SIZE` (2^VA_BITS).
    OutOfRange,
}

/// The table descriptor of a user table (`PMD_TYPE_TABLE | PMD_TABLE_PXN`; a kernel one has
/// `PMD_TABLE_UXN` instead).
pub const fn user_table_desc(table_pa: u64) -> u64 {
    (table_pa & PTE_ADDR_MASK) | PTE_TYPE_TABLE | TABLE_PXN
}

/// Bits 1:0 of a table descriptor.
const PTE_TYPE_TABLE: u64 = PteBits::VALID.bits() | PteBits::TABLE_OR_PAGE.bits();

/// The physical address of the level-3 entry for `va`, if every table above it exists.
pub fn pte_addr(mem: &impl TableMemory, root: u64, va_bits: u32, va: u64) -> Option<u64> {
    if va >> va_bits != 0 {
        return None;
    }
    let levels = pgtable_levels(va_bits);
    let mut table = root;
    for i in 0..levels - 1 {
        let level = hw_level(levels, i);
        match desc_kind(mem.read(table + table_index(va, level) * 8), level) {
            DescKind::Table { next } => table = next,
            _ => return None,
        }
    }
    Some(table + table_index(va, 3) * 8)
}

/// `pte_alloc` and the levels above: the level-3 entry's address for `va`, creating every
/// missing table.
pub fn pte_alloc(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    va: u64,
) -> Result<u64, UserTableError> {
    if va >> va_bits != 0 {
        return Err(UserTableError::OutOfRange);
    }
    let levels = pgtable_levels(va_bits);
    let mut table = root;
    for i in 0..levels - 1 {
        let level = hw_level(levels, i);
        let entry = table + table_index(va, level) * 8;
        table = match desc_kind(mem.read(entry), level) {
            DescKind::Table { next } => next,
            // A user table has no blocks: anything else is an empty slot.
            _ => {
                let t = mem.alloc_table().ok_or(UserTableError::NoTable)?;
                mem.write(entry, user_table_desc(t));
                t
            }
        };
    }
    Ok(table + table_index(va, 3) * 8)
}

/// `set_pte_at`: writes `pte` for `va`, creating tables as needed; the non-empty entry it
/// replaced, if any (the caller flushes a replaced valid one).
pub fn set_pte(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    va: u64,
    pte: Pte,
) -> Result<Option<Pte>, UserTableError> {
    let slot = pte_alloc(mem, root, va_bits, va)?;
    let old = Pte(mem.read(slot));
    mem.write(slot, pte.0);
    Ok((!old.none()).then_some(old))
}

/// The non-empty PTE at `va` (present or swap).
pub fn get_pte(mem: &impl TableMemory, root: u64, va_bits: u32, va: u64) -> Option<Pte> {
    let pte = Pte(mem.read(pte_addr(mem, root, va_bits, va)?));
    (!pte.none()).then_some(pte)
}

/// `ptep_get_and_clear`: empties the PTE at `va`; the old one if it was not empty.
pub fn clear_pte(mem: &mut impl TableMemory, root: u64, va_bits: u32, va: u64) -> Option<Pte> {
    let slot = pte_addr(mem, root, va_bits, va)?;
    let old = Pte(mem.read(slot));
    mem.write(slot, 0);
    (!old.none()).then_some(old)
}

/// Calls `f` for every non-empty PTE in `[start, end)`, in address order, skipping each
/// missing table at once (an untouched GiB costs one read).
pub fn for_each_pte(
    mem: &impl TableMemory,
    root: u64,
    va_bits: u32,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64, Pte),
) {
    let end = end.min(1 << va_bits);
    if start < end {
        let levels = pgtable_levels(va_bits);
        walk_range(mem, root, hw_level(levels, 0), start, end, &mut f);
    }
}

fn walk_range(
    mem: &impl TableMemory,
    table: u64,
    level: u32,
    start: u64,
    end: u64,
    f: &mut impl FnMut(u64, Pte),
) {
    let span = entry_span(level);
    let mut va = start;
    while va < end {
        let d = mem.read(table + table_index(va, level) * 8);
        let next = (va & !(span - 1)) + span;
        if level == 3 {
            if d != 0 {
                f(va, Pte(d));
            }
        } else if let DescKind::Table { next: t } = desc_kind(d, level) {
            walk_range(mem, t, level + 1, va, next.min(end), f);
        }
        va = next;
    }
}

/// `free_pgtables` at exit: hands every table page under `root` (not `root` itself) to
/// `free`, leaves the root empty, and returns how many were freed.
pub fn free_tables(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    free: &mut impl FnMut(u64),
) -> usize {
    let levels = pgtable_levels(va_bits);
    free_level(mem, root, hw_level(levels, 0), free, true)
}

fn free_level(
    mem: &mut impl TableMemory,
    table: u64,
    level: u32,
    free: &mut impl FnMut(u64),
    is_root: bool,
) -> usize {
    let mut n = 0;
    if level < 3 {
        for i in 0..512 {
            let entry = table + i * 8;
            if let DescKind::Table { next } = desc_kind(mem.read(entry), level) {
                n += free_level(mem, next, level + 1, free, false);
                mem.write(entry, 0);
            }
        }
    }
    if !is_root {
        free(table);
        n += 1;
    }
    n
}

/// The table pages under `root` (not counting it): what `mm_pgtables_bytes` counts, a page
/// each.
pub fn table_count(mem: &impl TableMemory, root: u64, va_bits: u32) -> usize {
    fn count(mem: &impl TableMemory, table: u64, level: u32) -> usize {
        if level == 3 {
            return 0;
        }
        (0..512)
            .filter_map(|i| match desc_kind(mem.read(table + i * 8), level) {
                DescKind::Table { next } => Some(1 + count(mem, next, level + 1)),
                _ => None,
            })
            .sum()
    }
    count(mem, root, hw_level(pgtable_levels(va_bits), 0))
}

/// Whether a table descriptor is a user one (PXN set, pointing at a page-aligned table).
pub const fn is_user_table_desc(d: u64) -> bool {
    d & !PTE_ADDR_MASK == PTE_TYPE_TABLE | TABLE_PXN
}

#[cfg(test)]
mod tests {
    use super::super::pgtable::walk;
    use super::super::pte::{PAGE_READONLY_EXEC, PAGE_SHARED};
    use super::*;
    use crate::mm::swapops::SwpEntry;

    use super::super::mapping::fake_tables::{fake, ROOT};

    /// A static program's text at 0x400000 and its stack just below TASK_SIZE, in both VA
    /// sizes: the MMU's walk (the software model of it) finds each page through user table
    /// descriptors, one table per level for each region.
    #[test]
    fn text_and_stack_pages() {
        for va_bits in [48, 39] {
            let levels = pgtable_levels(va_bits) as usize;
            let mut m = fake(64);
            let text = 0x40_0000;
            let stack = (1u64 << va_bits) - 0x1000;
            let t = Pte::new(0x3a0_0000, PAGE_READONLY_EXEC);
            let s = Pte::new(0x3a1_0000, PAGE_SHARED).mkwrite().mkdirty();
            assert_eq!(set_pte(&mut m, ROOT, va_bits, text, t), Ok(None));
            assert_eq!(set_pte(&mut m, ROOT, va_bits, stack, s), Ok(None));
            // Text and stack share only the root: levels - 1 tables each.
            assert_eq!(table_count(&m, ROOT, va_bits), 2 * (levels - 1));
            let w = walk(text + 0x123, va_bits, ROOT, |pa| Some(m.read(pa)));
            assert_eq!(w.pa, Some(0x3a0_0123));
            assert_eq!(w.len(), levels);
            for step in w.steps[..levels - 1].iter() {
                assert!(is_user_table_desc(step.unwrap().desc));
            }
            // A kernel table is UXN, not PXN: never taken for a user one.
            assert!(!is_user_table_desc(super::super::pgtable::table_desc(0x1000)));
            assert_eq!(walk(stack + 8, va_bits, ROOT, |pa| Some(m.read(pa))).pa, Some(0x3a1_0008));
            assert_eq!(get_pte(&m, ROOT, va_bits, text), Some(t));
            assert_eq!(get_pte(&m, ROOT, va_bits, text + 0x1000), None);
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x4000_0000), None, "no table there");
            // A neighbour page reuses the text's tables.
            let before = m.left;
            set_pte(&mut m, ROOT, va_bits, text + 0x1000, t).unwrap();
            assert_eq!(m.left, before);
            assert_eq!(
                set_pte(&mut m, ROOT, va_bits, 1 << va_bits, t),
                Err(UserTableError::OutOfRange)
            );
        }
    }

    #[test]
    fn range_walk_clear_swap_and_free() {
        for va_bits in [48, 39] {
            let mut m = fake(64);
            let pages = [0x40_0000u64, 0x40_1000, 0x41_f000, 0x4000_0000, 0x7f_0000_0000];
            for (i, &va) in pages.iter().enumerate() {
                set_pte(
                    &mut m,
                    ROOT,
                    va_bits,
                    va,
                    Pte::new(0x100_0000 * (i as u64 + 1), PAGE_SHARED),
                )
                .unwrap();
            }
            let e = SwpEntry::new(0, 77);
            set_pte(&mut m, ROOT, va_bits, 0x40_2000, Pte(super::super::pte::swp_entry_to_pte(e)))
                .unwrap();
            let mut seen = Vec::new();
            for_each_pte(&m, ROOT, va_bits, 0, u64::MAX, |va, p| seen.push((va, p.present())));
            assert_eq!(
                seen,
                vec![
                    (0x40_0000, true),
                    (0x40_1000, true),
                    (0x40_2000, false),
                    (0x41_f000, true),
                    (0x4000_0000, true),
                    (0x7f_0000_0000, true)
                ]
            );
            let mut part = Vec::new();
            for_each_pte(&m, ROOT, va_bits, 0x40_1000, 0x41_f000, |va, _| part.push(va));
            assert_eq!(part, vec![0x40_1000, 0x40_2000]);
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_2000).unwrap().swp_entry(), Some(e));
            let old = clear_pte(&mut m, ROOT, va_bits, 0x40_1000).unwrap();
            assert_eq!(old.pfn_phys(), 0x200_0000);
            assert_eq!(clear_pte(&mut m, ROOT, va_bits, 0x40_1000), None);
            let tables = table_count(&m, ROOT, va_bits);
            let mut freed = Vec::new();
            assert_eq!(free_tables(&mut m, ROOT, va_bits, &mut |pa| freed.push(pa)), tables);
            freed.sort();
            freed.dedup();
            assert_eq!(freed.len(), tables);
            assert!(!freed.contains(&ROOT));
            assert_eq!(table_count(&m, ROOT, va_bits), 0);
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_0000), None);
        }
    }

    #[test]
    fn out_of_table_pages() {
        let mut m = fake(2);
        assert_eq!(
            set_pte(&mut m, ROOT, 48, 0x40_0000, Pte::new(0, PAGE_SHARED)),
            Err(UserTableError::NoTable)
        );
        let mut m = fake(2);
        assert!(set_pte(&mut m, ROOT, 39, 0x40_0000, Pte::new(0, PAGE_SHARED)).is_ok());
    }
}
