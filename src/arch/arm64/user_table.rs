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
        for i in 0..PTRS_PER_PTE as u64 {
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

/// `free_pgtables` at exit as 6.1 walks it: for each VMA span `(start, end)`, sorted by
/// start, `free_pgd_range` with floor 0 (`FIRST_USER_ADDRESS`) and the next span's start as
/// ceiling (none after the last), so a table two neighbours share goes with the later one.
/// Only the entries the spans cover are read, not every slot of every table: no table lies
/// outside the VMAs, since each `munmap` and `brk` shrink frees those no remaining VMA
/// shares. How many table pages went to `free` (the root stays).
pub fn free_span_tables(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    spans: &[(usize, usize)],
    free: &mut impl FnMut(u64),
) -> usize {
    let mut n = 0;
    for (i, &(start, end)) in spans.iter().enumerate() {
        let ceiling = spans.get(i + 1).map(|&(next, _)| next as u64);
        n += free_pgd_range(mem, root, va_bits, start as u64..end as u64, 0, ceiling, free);
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
        (0..PTRS_PER_PTE as u64)
            .filter_map(|i| match desc_kind(mem.read(table + i * 8), level) {
                DescKind::Table { next } => Some(1 + count(mem, next, level + 1)),
                _ => None,
            })
            .sum()
    }
    count(mem, root, hw_level(pgtable_levels(va_bits), 0))
}

/// What `mm_pgtables_bytes` adds for one table [`table_count`] counts: a whole page of
/// 8-byte descriptors, at every level (`PTRS_PER_PTE/PMD/PUD * 8`).
pub const PGTABLE_BYTES: usize = entry_span(3) as usize;

/// Bytes one PTE table maps (`PMD_SIZE`).
pub const PMD_SIZE: u64 = entry_span(2);
/// Bytes of a page.
const PAGE_SIZE: u64 = entry_span(3);
/// Entries of a table page (`PTRS_PER_PTE`, the same at every level with 4 KiB pages).
const PTRS_PER_PTE: usize = (PAGE_SIZE / 8) as usize;
/// Entries one [`TableMemory::used_mask`] covers.
const USED_MASK_BITS: usize = 64;

/// The PTE table for `va`, if every table above it exists: its physical address.
fn pte_table(mem: &impl TableMemory, root: u64, va_bits: u32, va: u64) -> Option<u64> {
    pte_addr(mem, root, va_bits, va).map(|slot| slot & !(PAGE_SIZE - 1))
}

/// The first PTE table at or after `va` and below `end`: the address it starts covering (at
/// least `va`) and the table's physical address. A missing table at any level skips the
/// range that entry covers at once (an untouched GiB costs one read per level).
fn next_pte_table(
    mem: &impl TableMemory,
    root: u64,
    va_bits: u32,
    mut va: u64,
    end: u64,
) -> Option<(u64, u64)> {
    let end = end.min(1 << va_bits);
    let levels = pgtable_levels(va_bits);
    'search: while va < end {
        let mut table = root;
        for i in 0..levels - 1 {
            let level = hw_level(levels, i);
            match desc_kind(mem.read(table + table_index(va, level) * 8), level) {
                DescKind::Table { next } => table = next,
                _ => {
                    let span = entry_span(level);
                    va = (va & !(span - 1)).saturating_add(span);
                    continue 'search;
                }
            }
        }
        return Some((va, table));
    }
    None
}

/// `pmd_addr_end` with `pmd_none`: the end of the PTE table's range covering `va` (2 MiB,
/// capped at `end`), and whether that table exists.
pub fn pmd_span(mem: &impl TableMemory, root: u64, va_bits: u32, va: u64, end: u64) -> (u64, bool) {
    let next = (va & !(PMD_SIZE - 1)).saturating_add(PMD_SIZE).min(end);
    (next, pte_table(mem, root, va_bits, va).is_some())
}

/// Runs `f` on every non-empty PTE slot of `[start, end)`, with the slot's physical address
/// and address, in address order, a PTE table at a time; the table is read 64 entries at a
/// time by [`TableMemory::used_mask`] (a scan of the page, not a call per slot), so the
/// empty slots between cost a few instructions each.
fn for_each_slot<M: TableMemory>(
    mem: &mut M,
    root: u64,
    va_bits: u32,
    start: u64,
    end: u64,
    mut f: impl FnMut(&mut M, u64, u64),
) {
    let mut from = start & !(PAGE_SIZE - 1);
    while let Some((va, table)) = next_pte_table(mem, root, va_bits, from, end) {
        let stop = ((va & !(PMD_SIZE - 1)) + PMD_SIZE).min(end);
        let base = va & !(PMD_SIZE - 1);
        let last = ((stop - 1 - base) / PAGE_SIZE) as usize + 1;
        let first = table_index(va, 3) as usize;
        let mut w = first & !(USED_MASK_BITS - 1);
        while w < last {
            let mut m = mem.used_mask(table, w);
            if w < first {
                m &= !0 << (first - w);
            }
            if last - w < USED_MASK_BITS {
                m &= (1 << (last - w)) - 1;
            }
            while m != 0 {
                let i = w + m.trailing_zeros() as usize;
                m &= m - 1;
                f(mem, table + i as u64 * 8, base + i as u64 * PAGE_SIZE);
            }
            w += USED_MASK_BITS;
        }
        from = stop;
    }
}

/// `zap_pte_range`: empties every non-empty PTE of `[start, end)` and hands each with its
/// address to `f` (present pages and swap entries alike). The caller flushes the TLB.
pub fn zap_range<M: TableMemory>(
    mem: &mut M,
    root: u64,
    va_bits: u32,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64, Pte),
) {
    for_each_slot(mem, root, va_bits, start, end, |mem, slot, va| {
        let old = Pte(mem.read(slot));
        if !old.none() {
            mem.write(slot, 0);
            f(va, old);
        }
    });
}

/// `copy_pte_range` from the table at `src` to the one at `dst` (both in `mem`) over
/// `[start, end)`: `f` gets each present PTE of `src` and says what the parent's entry
/// becomes and what the child gets (None: not copied). The child's tables are allocated
/// as needed; on `Err` the copy stopped there.
pub fn copy_range<M: TableMemory>(
    mem: &mut M,
    src: u64,
    dst: u64,
    va_bits: u32,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64, Pte) -> Option<(Pte, Pte)>,
) -> Result<(), UserTableError> {
    let mut r = Ok(());
    for_each_slot(mem, src, va_bits, start, end, |mem, slot, va| {
        let pte = Pte(mem.read(slot));
        if r.is_err() || !pte.present() {
            return;
        }
        if let Some((parent, child)) = f(va, pte) {
            r = set_pte(mem, dst, va_bits, va, child).map(|_| ());
            if r.is_ok() && parent != pte {
                mem.write(slot, parent.0);
            }
        }
    });
    r
}

/// `ptep_test_and_clear_young` without the flush: whether the present PTE at `va` had its
/// access flag, which is now clear (None: nothing present there). The next access takes an
/// access-flag fault.
pub fn test_and_clear_young(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    va: u64,
) -> Option<bool> {
    let slot = pte_addr(mem, root, va_bits, va)?;
    let pte = Pte(mem.read(slot));
    if !pte.present() {
        return None;
    }
    if pte.young() {
        mem.write(slot, pte.mkold().0);
    }
    Some(pte.young())
}

/// `filemap_map_pages`' loop: maps `ptes[i]` at `va` + i pages where the slot is empty,
/// creating tables as needed; an entry whose slot was taken (a present page or a swap entry
/// stays) becomes None. How many were mapped; on `Err` the run from the failing page on is
/// not mapped (and its entries are None).
pub fn set_ptes_none(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    va: u64,
    ptes: &mut [Option<Pte>],
) -> Result<usize, UserTableError> {
    let mut mapped = 0;
    // The last slot found (its address and physical address): one walk per PTE table.
    let mut last: Option<(u64, u64)> = None;
    for i in 0..ptes.len() {
        let at = va + i as u64 * PAGE_SIZE;
        let Some(pte) = ptes[i] else { continue };
        let s = match last {
            Some((lva, ls)) if lva & !(PMD_SIZE - 1) == at & !(PMD_SIZE - 1) => {
                ls + (at - lva) / PAGE_SIZE * 8
            }
            _ => match pte_alloc(mem, root, va_bits, at) {
                Ok(s) => s,
                Err(e) => {
                    ptes[i..].iter_mut().for_each(|p| *p = None);
                    return Err(e);
                }
            },
        };
        last = Some((at, s));
        if mem.read(s) == 0 {
            mem.write(s, pte.0);
            mapped += 1;
        } else {
            ptes[i] = None;
        }
    }
    Ok(mapped)
}

/// `free_pgd_range` after an unmap of `range`: frees every table of that range no
/// address outside `[floor, ceiling)` (the neighbouring VMAs) can need, at every level but
/// the root, handing each page to `free`. `ceiling` None is the top of the address space.
/// How many were freed. The caller has zapped the PTEs and flushes the TLB.
pub fn free_pgd_range(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    range: core::ops::Range<u64>,
    floor: u64,
    ceiling: Option<u64>,
    free: &mut impl FnMut(u64),
) -> usize {
    // As 6.1's free_pgd_range: PTE tables only where a whole 2 MiB is free of neighbours.
    let mut addr = range.start & !(PMD_SIZE - 1);
    if addr < floor {
        addr += PMD_SIZE;
    }
    let ceiling = match ceiling {
        Some(c) if c & !(PMD_SIZE - 1) == 0 => return 0,
        Some(c) => c & !(PMD_SIZE - 1),
        None => 0,
    };
    let mut end = range.end.min(1 << va_bits);
    if end.wrapping_sub(1) > ceiling.wrapping_sub(1) {
        end -= PMD_SIZE;
    }
    if addr > end.wrapping_sub(1) {
        return 0;
    }
    let bounds = Bounds { floor, ceiling };
    let top = hw_level(pgtable_levels(va_bits), 0);
    free_entries(mem, root, top, addr, end, bounds, free)
}

/// `floor` and `ceiling` (0: the top) of a [`free_pgd_range`].
#[derive(Clone, Copy)]
struct Bounds {
    floor: u64,
    ceiling: u64,
}

/// The entries of the table at `table` (hardware level `level`) covering `[addr, end)`: the
/// PTE tables below them freed, and each higher table freed when its whole span lies inside
/// `[floor, ceiling)` (6.1's `free_p4d_range` down to `free_pte_range`). How many pages.
fn free_entries(
    mem: &mut impl TableMemory,
    table: u64,
    level: u32,
    addr: u64,
    end: u64,
    b: Bounds,
    free: &mut impl FnMut(u64),
) -> usize {
    let span = entry_span(level);
    let mut n = 0;
    let mut va = addr;
    while va < end {
        let next = (va & !(span - 1)).saturating_add(span).min(end);
        let entry = table + table_index(va, level) * 8;
        if let DescKind::Table { next: t } = desc_kind(mem.read(entry), level) {
            if level == 2 {
                // free_pte_range: the PTE table goes with its PMD entry.
                mem.write(entry, 0);
                free(t);
                n += 1;
            } else {
                n += free_entries(mem, t, level + 1, va, next, b, free);
                // free_pmd_range's tail (and pud's, p4d's): the table below this entry goes
                // only if nothing outside [floor, ceiling) shares its span.
                let start = va & !(span - 1);
                let shared_below = start < b.floor;
                let c = b.ceiling & !(span - 1);
                let shared_above = b.ceiling != 0 && (c == 0 || next - 1 > c.wrapping_sub(1));
                if !shared_below && !shared_above {
                    mem.write(entry, 0);
                    free(t);
                    n += 1;
                }
            }
        }
        va = next;
    }
    n
}

/// Whether a table descriptor is a user one (PXN set, pointing at a page-aligned table).
pub const fn is_user_table_desc(d: u64) -> bool {
    d & !PTE_ADDR_MASK == PTE_TYPE_TABLE | TABLE_PXN
}

/// The user table operations under the names the shared process code calls on both
/// architectures (ARM's `arch/arm/process.rs` has the same ones over its Linux/hardware PTE
/// pairs): a process's table at physical `pgd`, reached through the linear map, `VA_BITS`
/// from the build (4 levels at 48, 3 at 39), table pages from the caller's `alloc`.
#[cfg(all(kernel, target_arch = "aarch64"))]
mod hw {
    use super::super::boot::flush_tlb_all;
    use super::super::mmu::{phys_to_virt, PteAlloc};
    use super::super::pte::{swp_entry_to_pte, user_pte_bits, Pte, UserPteProt};
    use super::super::tlbflush::{flush_tlb_asid, flush_tlb_user_page};
    use super::*;
    use crate::config::VA_BITS;
    use crate::mm::swapops::SwpEntry;

    /// `TASK_SIZE_64`: user space is the whole TTBR0 half, 2^VA_BITS.
    pub const TASK_SIZE: usize = 1 << VA_BITS;
    /// `PGD_ORDER`: the root table is one page (`PTRS_PER_PGD` 512 entries of 8 bytes at
    /// either VA size), so `pgd_alloc` takes a single page.
    pub const PGD_ORDER: u32 = 0;

    /// A user table through the linear map (every table page is RAM, always mapped there);
    /// new tables from `alloc` (None: reads and clears, no table is created).
    pub struct UserTables<'a> {
        alloc: Option<PteAlloc<'a>>,
    }

    impl TableMemory for UserTables<'_> {
        fn read(&self, pa: u64) -> u64 {
            // SAFETY: `pa` is a descriptor of a process's table (the root the caller owns or
            // a table below it, which the walk reached through a table descriptor), in RAM.
            phys_to_virt(pa).map_or(0, |va| unsafe { (va as *const u64).read_volatile() })
        }

        fn write(&mut self, pa: u64, desc: u64) {
            if let Some(va) = phys_to_virt(pa) {
                // SAFETY: as in `read`; the caller holds the process's tables.
                unsafe { (va as *mut u64).write_volatile(desc) }
            }
        }

        fn alloc_table(&mut self) -> Option<u64> {
            self.alloc.as_mut()?()
        }

        fn used_mask(&self, table: u64, first: usize) -> u64 {
            let Some(va) = phys_to_virt(table) else { return 0 };
            let base = va as *const u64;
            let mut m = 0;
            for i in 0..USED_MASK_BITS.min(PTRS_PER_PTE.saturating_sub(first)) {
                // SAFETY: entry `first + i` (below 512) of a table page, as in `read`: one
                // address translation for 64 entries instead of one per entry.
                let d = unsafe { base.add(first + i).read_volatile() };
                m |= u64::from(d != 0) << i;
            }
            m
        }
    }

    /// The table without new table pages: reads, and changes to existing entries.
    pub fn existing_tables() -> UserTables<'static> {
        UserTables { alloc: None }
    }

    /// The table with `alloc` for new table pages.
    pub fn tables(alloc: PteAlloc<'_>) -> UserTables<'_> {
        UserTables { alloc: Some(alloc) }
    }

    /// The descriptors written reach the table walker before the next user access (the
    /// `dsb(ishst)` of `set_pmd`; pivm also orders PTE writes, so no spurious fault is
    /// counted).
    pub fn publish() {
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
    }

    /// The hardware ASID of context id `context_id` (the generation above it dropped).
    fn asid(context_id: u64) -> u64 {
        context_id & ((1 << super::super::process::cpu_asid_bits()) - 1)
    }

    /// `flush_tlb_page`: one user page of the address space with context id `context_id`.
    pub fn flush_tlb_page(va: usize, context_id: u64) {
        flush_tlb_user_page(va as u64, asid(context_id));
    }

    /// `flush_tlb_mm`: every entry of one address space's ASID (walk caches included).
    pub fn flush_tlb_mm(context_id: u64) {
        flush_tlb_asid(asid(context_id));
    }

    /// `pgd_alloc`: the user root table at kernel address `kva` emptied. Nothing is copied:
    /// the kernel half is TTBR1's.
    ///
    /// # Safety
    /// `kva` maps the table's page, which nothing else uses yet.
    pub unsafe fn pgd_init(kva: *mut u32) {
        // SAFETY: the caller's page, 4 KiB.
        unsafe { core::ptr::write_bytes(kva as *mut u8, 0, PAGE_SIZE as usize) };
    }

    /// `set_pte_at` of a young user PTE for `pa` at `va` with `prot`, creating the tables with
    /// `alloc`; the present entry it replaced, if any (the caller flushes it).
    pub fn set_user_pte(
        pgd: u64,
        va: usize,
        pa: u64,
        prot: UserPteProt,
        alloc: PteAlloc<'_>,
    ) -> Result<Option<Pte>, UserTableError> {
        let pte = Pte::new(pa, user_pte_bits(prot));
        let old = set_pte(&mut tables(alloc), pgd, VA_BITS, va as u64, pte)?;
        publish();
        Ok(old.filter(|p| p.present()))
    }

    /// Maps `pfns[i]` at `va` + i pages with `prot` into each empty slot (`filemap_map_pages`:
    /// a present page or a swap entry stays); `pfns[i]` becomes None where nothing was
    /// mapped. How many pages were mapped.
    pub fn set_user_ptes_none(
        pgd: u64,
        va: usize,
        pfns: &mut [Option<u64>],
        prot: UserPteProt,
        alloc: PteAlloc<'_>,
    ) -> Result<usize, UserTableError> {
        const RUN: usize = 32;
        let bits = user_pte_bits(prot);
        let mut t = tables(alloc);
        let mut mapped = 0;
        let mut r = Ok(());
        for (i, run) in pfns.chunks_mut(RUN).enumerate() {
            let mut ptes = [None; RUN];
            for (p, pfn) in ptes.iter_mut().zip(run.iter()) {
                *p = pfn.map(|f| Pte::new(f << 12, bits));
            }
            let at = (va + i * RUN * PAGE_SIZE as usize) as u64;
            let n = run.len();
            if r.is_ok() {
                r = set_ptes_none(&mut t, pgd, VA_BITS, at, &mut ptes[..n]).map(|m| mapped += m);
            } else {
                ptes = [None; RUN];
            }
            for (pfn, p) in run.iter_mut().zip(ptes.iter()) {
                if p.is_none() {
                    *pfn = None;
                }
            }
        }
        publish();
        r.map(|()| mapped)
    }

    /// The present PTE at `va`.
    pub fn get_user_pte(pgd: u64, va: usize) -> Option<Pte> {
        get_pte(&existing_tables(), pgd, VA_BITS, va as u64).filter(|p| p.present())
    }

    /// The swap entry in `va`'s PTE, if it holds one (`is_swap_pte`).
    pub fn get_user_swp_entry(pgd: u64, va: usize) -> Option<SwpEntry> {
        get_pte(&existing_tables(), pgd, VA_BITS, va as u64)?.swp_entry()
    }

    /// Writes swap entry `e` into `va`'s PTE (`set_pte_at` of `swp_entry_to_pte`), creating
    /// the tables with `alloc`. The caller flushes a replaced present entry.
    pub fn set_user_swp_pte(
        pgd: u64,
        va: usize,
        e: SwpEntry,
        alloc: PteAlloc<'_>,
    ) -> Result<(), UserTableError> {
        let pte = Pte(swp_entry_to_pte(e));
        set_pte(&mut tables(alloc), pgd, VA_BITS, va as u64, pte)?;
        publish();
        Ok(())
    }

    /// Calls `f` for every non-empty user PTE (present or swap) in `[start, end)`.
    pub fn for_each_user_entry(pgd: u64, start: usize, end: usize, mut f: impl FnMut(usize, Pte)) {
        for_each_pte(&existing_tables(), pgd, VA_BITS, start as u64, end as u64, |va, p| {
            f(va as usize, p)
        });
    }

    /// Calls `f` for every swap PTE in `[start, end)`.
    pub fn for_each_user_swp_pte(
        pgd: u64,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, SwpEntry),
    ) {
        for_each_user_entry(pgd, start, end, |va, p| {
            if let Some(e) = p.swp_entry() {
                f(va, e);
            }
        });
    }

    /// Calls `f` for every present user PTE in `[start, end)`.
    pub fn for_each_user_pte(
        pgd: u64,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, UserPte),
    ) {
        for_each_user_entry(pgd, start, end, |va, p| {
            if p.present() {
                f(va, UserPte::of(p));
            }
        });
    }

    /// `ptep_test_and_clear_young` + `flush_tlb_page` for the PTE at `va` if it maps the frame
    /// `pfn`: whether it was young (None when `va` does not map `pfn`). Clearing AF makes the
    /// next access take an access-flag fault, which the fault path answers with a young PTE
    /// (`pte_mkyoung`): arm64's aging, with the hardware flag the A53 does not set itself.
    pub fn ptep_test_and_clear_young(
        pgd: u64,
        va: usize,
        pfn: u64,
        context_id: u64,
    ) -> Option<bool> {
        get_user_pte(pgd, va).filter(|p| p.pfn() == pfn)?;
        let young = test_and_clear_young(&mut existing_tables(), pgd, VA_BITS, va as u64)?;
        if young {
            publish();
            flush_tlb_page(va, context_id);
        }
        Some(young)
    }

    /// `ptep_get_and_clear`: empties the PTE at `va` (the caller flushes); the old one.
    pub fn clear_user_pte(pgd: u64, va: usize) -> Option<Pte> {
        let old = clear_pte(&mut existing_tables(), pgd, VA_BITS, va as u64);
        publish();
        old
    }

    /// `zap_pte_range`: clears every user PTE in `[start, end)` and calls `f` with each address
    /// and old PTE. The caller flushes the TLB.
    pub fn zap_user_ptes(pgd: u64, start: usize, end: usize, mut f: impl FnMut(usize, Pte)) {
        zap_range(&mut existing_tables(), pgd, VA_BITS, start as u64, end as u64, |va, p| {
            f(va as usize, p)
        });
        publish();
    }

    /// `pmd_addr_end` with `pmd_none`: the end of the 2 MiB covering `va` (capped at `end`),
    /// and whether a PTE table covers it.
    pub fn user_pmd_span(pgd: u64, va: usize, end: usize) -> (usize, bool) {
        let (next, table) = pmd_span(&existing_tables(), pgd, VA_BITS, va as u64, end as u64);
        (next as usize, table && va < TASK_SIZE)
    }

    /// Table pages [`free_user_tables`] and [`free_user_pgd_range`] hand to `free` per TLB
    /// flush.
    const FREE_TABLES_BATCH: usize = 16;

    /// Gathers freed table pages and hands them on a batch at a time, each batch after a TLB
    /// flush (`tlb_remove_table`: no walk may still use a table when its page is reused).
    struct TableBatch<'a> {
        pages: [u64; FREE_TABLES_BATCH],
        n: usize,
        flush: &'a dyn Fn(),
        free: &'a mut dyn FnMut(&[u64]),
    }

    impl TableBatch<'_> {
        fn push(&mut self, pa: u64) {
            self.pages[self.n] = pa;
            self.n += 1;
            if self.n == FREE_TABLES_BATCH {
                self.release();
            }
        }

        fn release(&mut self) {
            if self.n > 0 {
                publish();
                (self.flush)();
                (self.free)(&self.pages[..self.n]);
                self.n = 0;
            }
        }
    }

    /// `free_pgtables` at exit: every table page under the VMAs `spans` (sorted by start;
    /// all levels, the root itself stays for `pgd_free`) goes to `free` a batch at a time,
    /// after a flush of the mm's ASID. Only the entries the spans cover are read
    /// ([`free_span_tables`]), as ARM reads only the first-level slots they touch: scanning
    /// all 512 slots of every table cost about 54,000 instructions per exit with 4 levels.
    pub fn free_user_tables(
        pgd: u64,
        spans: &[(usize, usize)],
        context_id: u64,
        free: &mut dyn FnMut(&[u64]),
    ) {
        let flush = || flush_tlb_mm(context_id);
        let mut b = TableBatch { pages: [0; FREE_TABLES_BATCH], n: 0, flush: &flush, free };
        free_span_tables(&mut existing_tables(), pgd, VA_BITS, spans, &mut |pa| b.push(pa));
        b.release();
    }

    /// `free_pgd_range` after a `munmap` of `[addr, end)`: frees the tables of the range (at
    /// every level below the root) that no VMA left below `floor` or from `ceiling` on
    /// shares, handing each page to `free` after a TLB flush. The table is the live one
    /// (munmap runs in its process): its ASID is TTBR0's; any other is flushed whole.
    pub fn free_user_pgd_range(
        pgd: u64,
        addr: usize,
        end: usize,
        floor: usize,
        ceiling: Option<usize>,
        free: &mut dyn FnMut(u64),
    ) {
        use super::super::asid::{TTBR_ASID_SHIFT, TTBR_BADDR_MASK};
        use aarch64_cpu::registers::{Readable, TTBR0_EL1};
        let ttbr0 = TTBR0_EL1.get();
        let flush = || {
            if ttbr0 & TTBR_BADDR_MASK == pgd {
                flush_tlb_asid(ttbr0 >> TTBR_ASID_SHIFT);
            } else {
                flush_tlb_all();
            }
        };
        let mut each = |pages: &[u64]| pages.iter().for_each(|&pa| free(pa));
        let mut b =
            TableBatch { pages: [0; FREE_TABLES_BATCH], n: 0, flush: &flush, free: &mut each };
        let ceiling = ceiling.map(|c| c as u64);
        let (range, floor) = (addr as u64..end as u64, floor as u64);
        free_pgd_range(&mut existing_tables(), pgd, VA_BITS, range, floor, ceiling, &mut |pa| {
            b.push(pa)
        });
        b.release();
    }

    /// The table pages under the root of the table at `pgd` (PTE, PMD and, with 4 levels,
    /// PUD tables): what arm64's `mm_pgtables_bytes` counts, a page each.
    pub fn user_table_count(pgd: u64) -> usize {
        table_count(&existing_tables(), pgd, VA_BITS)
    }
}

#[cfg(all(kernel, target_arch = "aarch64"))]
pub use hw::{
    clear_user_pte, flush_tlb_mm, flush_tlb_page, for_each_user_entry, for_each_user_pte,
    for_each_user_swp_pte, free_user_pgd_range, free_user_tables, get_user_pte, get_user_swp_entry,
    pgd_init, ptep_test_and_clear_young, set_user_pte, set_user_ptes_none, set_user_swp_pte,
    user_pmd_span, user_table_count, zap_user_ptes, PGD_ORDER, TASK_SIZE,
};
#[cfg(all(kernel, target_arch = "aarch64"))]
pub(crate) use hw::{publish, tables};

/// What the shared code reads of one present user PTE (Linux's `pte_pfn`, `pte_young`,
/// `pte_dirty`, `pte_write`), as ARM's `UserPte`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPte {
    pub pfn: u64,
    pub young: bool,
    pub dirty: bool,
    pub write: bool,
}

impl UserPte {
    pub const fn of(p: Pte) -> Self {
        UserPte { pfn: p.pfn(), young: p.young(), dirty: p.dirty(), write: p.write() }
    }
}

#[cfg(test)]
mod tests {
    use super::super::mapping::TableMemory as _;
    use super::super::pgtable::walk;
    use super::super::pte::{PAGE_READONLY_EXEC, PAGE_SHARED};
    use super::*;
    use crate::mm::swapops::SwpEntry;

    use super::super::mapping::fake_tables::{fake, Fake, ROOT};
    use core::cell::Cell;

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

    /// `zap_range` empties present and swap PTEs alike and reports each once; `pmd_span`
    /// says where a PTE table is; ranges without tables cost nothing.
    #[test]
    fn zap_and_pmd_span() {
        for va_bits in [48, 39] {
            let mut m = fake(64);
            let e = SwpEntry::new(1, 9);
            set_pte(&mut m, ROOT, va_bits, 0x40_0000, Pte::new(0x100_0000, PAGE_SHARED)).unwrap();
            set_pte(&mut m, ROOT, va_bits, 0x40_3000, Pte(super::super::pte::swp_entry_to_pte(e)))
                .unwrap();
            set_pte(&mut m, ROOT, va_bits, 0x60_0000, Pte::new(0x200_0000, PAGE_SHARED)).unwrap();
            assert_eq!(pmd_span(&m, ROOT, va_bits, 0x40_1000, u64::MAX), (0x60_0000, true));
            assert_eq!(pmd_span(&m, ROOT, va_bits, 0x40_1000, 0x40_2000), (0x40_2000, true));
            assert_eq!(pmd_span(&m, ROOT, va_bits, 0x80_0000, u64::MAX), (0xa0_0000, false));
            let mut zapped = Vec::new();
            zap_range(&mut m, ROOT, va_bits, 0x3f_f000, 0x60_0000, |va, p| zapped.push((va, p)));
            assert_eq!(zapped.len(), 2);
            assert_eq!(zapped[0], (0x40_0000, Pte::new(0x100_0000, PAGE_SHARED)));
            assert_eq!(zapped[1].1.swp_entry(), Some(e));
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_0000), None);
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_3000), None);
            // Past the range: untouched.
            assert!(get_pte(&m, ROOT, va_bits, 0x60_0000).is_some());
            zapped.clear();
            zap_range(&mut m, ROOT, va_bits, 0, 1 << va_bits, |va, _| zapped.push((va, Pte(0))));
            assert_eq!(zapped, vec![(0x60_0000, Pte(0))]);
        }
    }

    /// The zap reads a PTE table 64 entries at a time: slots on both sides of a window's
    /// edge and of the range's ends are each handled once, the ones outside left alone.
    #[test]
    fn zap_across_used_mask_windows() {
        for va_bits in [48, 39] {
            let mut m = fake(64);
            let base = 0x20_0000u64;
            for slot in [0u64, 63, 64, 130, 511] {
                set_pte(
                    &mut m,
                    ROOT,
                    va_bits,
                    base + slot * 0x1000,
                    Pte::new(0x100_0000, PAGE_SHARED),
                )
                .unwrap();
            }
            let mut zapped = Vec::new();
            zap_range(&mut m, ROOT, va_bits, base + 0x1000, base + 511 * 0x1000, |va, _| {
                zapped.push((va - base) / 0x1000)
            });
            assert_eq!(zapped, vec![63, 64, 130]);
            assert!(get_pte(&m, ROOT, va_bits, base).is_some());
            assert!(get_pte(&m, ROOT, va_bits, base + 511 * 0x1000).is_some());
            assert_eq!(get_pte(&m, ROOT, va_bits, base + 64 * 0x1000), None);
        }
    }

    /// Fork's copy of a range: the child gets what `f` decides in tables of its own, the
    /// parent's entry is rewritten only where it changes, non-present entries are skipped.
    #[test]
    fn copy_range_with_cow() {
        use super::super::fork::{copy_present_pte, PteCopy};
        use super::super::pte::{user_pte_bits, UserPteProt};
        for va_bits in [48, 39] {
            let levels = pgtable_levels(va_bits) as usize;
            let mut m = fake(64);
            let child_root = m.alloc_table().unwrap();
            let rw = Pte::new(
                0x100_0000,
                user_pte_bits(UserPteProt { write: true, exec: false, dirty: true }),
            );
            let ro = Pte::new(0x200_0000, PAGE_READONLY_EXEC);
            let e = SwpEntry::new(0, 5);
            set_pte(&mut m, ROOT, va_bits, 0x40_0000, ro).unwrap();
            set_pte(&mut m, ROOT, va_bits, 0x4000_0000, rw).unwrap();
            set_pte(
                &mut m,
                ROOT,
                va_bits,
                0x4000_1000,
                Pte(super::super::pte::swp_entry_to_pte(e)),
            )
            .unwrap();
            let mut seen = Vec::new();
            copy_range(&mut m, ROOT, child_root, va_bits, 0, 1 << va_bits, |va, p| {
                seen.push(va);
                let cow = p.write();
                let prot = UserPteProt { write: false, exec: p.exec(), dirty: p.dirty() };
                let c = PteCopy { parent: cow.then_some(prot), child: prot };
                Some(copy_present_pte(p, c))
            })
            .unwrap();
            assert_eq!(seen, vec![0x40_0000, 0x4000_0000], "the swap entry is not present");
            // The parent: COW page write-protected with its dirtiness kept, still young.
            let p = get_pte(&m, ROOT, va_bits, 0x4000_0000).unwrap();
            assert_eq!(p, rw.wrprotect());
            assert!(!p.write() && p.dirty() && p.young());
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_0000), Some(ro));
            // The child: the same pages, read-only, old; its own tables, one set per region.
            let c = get_pte(&m, child_root, va_bits, 0x4000_0000).unwrap();
            assert_eq!(c, rw.wrprotect().mkold());
            assert_eq!(get_pte(&m, child_root, va_bits, 0x40_0000), Some(ro.mkold()));
            assert_eq!(get_pte(&m, child_root, va_bits, 0x4000_1000), None);
            assert_eq!(table_count(&m, child_root, va_bits), table_count(&m, ROOT, va_bits));
            assert!(table_count(&m, child_root, va_bits) >= levels - 1);
            // No table left for the child: the copy fails.
            let mut m = fake(levels);
            let child_root = m.alloc_table().unwrap();
            set_pte(&mut m, ROOT, va_bits, 0x40_0000, ro).unwrap();
            let r = copy_range(&mut m, ROOT, child_root, va_bits, 0, 1 << va_bits, |_, p| {
                Some((p, p.mkold()))
            });
            assert_eq!(r, Err(UserTableError::NoTable));
        }
    }

    /// Reclaim's aging: the access flag is cleared once (young the first time, not the
    /// second), the page stays mapped, and the MMU's walk still reaches it (the next access
    /// takes an access-flag fault, not a translation fault).
    #[test]
    fn test_and_clear_young_clears_af() {
        for va_bits in [48, 39] {
            let mut m = fake(64);
            let pte = Pte::new(0x300_0000, PAGE_SHARED);
            set_pte(&mut m, ROOT, va_bits, 0x40_0000, pte).unwrap();
            assert_eq!(test_and_clear_young(&mut m, ROOT, va_bits, 0x40_0000), Some(true));
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_0000), Some(pte.mkold()));
            assert_eq!(test_and_clear_young(&mut m, ROOT, va_bits, 0x40_0000), Some(false));
            let w = walk(0x40_0010, va_bits, ROOT, |pa| Some(m.read(pa)));
            assert_eq!(w.pa, Some(0x300_0010), "still valid: AF clear faults, it does not unmap");
            assert_eq!(test_and_clear_young(&mut m, ROOT, va_bits, 0x40_1000), None);
            assert_eq!(test_and_clear_young(&mut m, ROOT, va_bits, 0x8000_0000), None);
            let e = Pte(super::super::pte::swp_entry_to_pte(SwpEntry::new(0, 3)));
            set_pte(&mut m, ROOT, va_bits, 0x40_1000, e).unwrap();
            assert_eq!(test_and_clear_young(&mut m, ROOT, va_bits, 0x40_1000), None);
            assert_eq!(get_pte(&m, ROOT, va_bits, 0x40_1000), Some(e));
        }
    }

    /// Fault-around's mapping of a window that crosses a PTE table's end: empty slots
    /// filled, taken ones (a page, a swap entry) left and reported None.
    #[test]
    fn set_ptes_none_fills_empty_slots_only() {
        for va_bits in [48, 39] {
            let mut m = fake(64);
            let start = 0x5f_e000; // two pages before the 2 MiB boundary
            let taken = Pte::new(0x900_0000, PAGE_READONLY_EXEC);
            let e = Pte(super::super::pte::swp_entry_to_pte(SwpEntry::new(0, 7)));
            set_pte(&mut m, ROOT, va_bits, start + 0x1000, taken).unwrap();
            set_pte(&mut m, ROOT, va_bits, start + 0x3000, e).unwrap();
            let mut ptes: Vec<Option<Pte>> = (0..5u64)
                .map(|i| Some(Pte::new(0x100_0000 + i * 0x1000, PAGE_READONLY_EXEC)))
                .collect();
            ptes[4] = None;
            assert_eq!(set_ptes_none(&mut m, ROOT, va_bits, start, &mut ptes), Ok(2));
            assert_eq!(
                ptes.iter().map(Option::is_some).collect::<Vec<_>>(),
                [true, false, true, false, false]
            );
            assert_eq!(
                get_pte(&m, ROOT, va_bits, start),
                Some(Pte::new(0x100_0000, PAGE_READONLY_EXEC))
            );
            assert_eq!(get_pte(&m, ROOT, va_bits, start + 0x1000), Some(taken));
            assert_eq!(
                get_pte(&m, ROOT, va_bits, start + 0x2000),
                Some(Pte::new(0x100_2000, PAGE_READONLY_EXEC))
            );
            assert_eq!(get_pte(&m, ROOT, va_bits, start + 0x3000), Some(e));
            assert_eq!(get_pte(&m, ROOT, va_bits, start + 0x4000), None);
            // No table for the second half: the run stops there.
            let levels = pgtable_levels(va_bits) as usize;
            let mut m = fake(levels - 1);
            let mut ptes = vec![Some(taken); 3];
            assert_eq!(
                set_ptes_none(&mut m, ROOT, va_bits, start, &mut ptes),
                Err(UserTableError::NoTable)
            );
            assert_eq!(ptes, vec![Some(taken), Some(taken), None]);
        }
    }

    /// `free_pgd_range` after munmap: the tables of the unmapped range go, at every level,
    /// unless a neighbouring VMA (floor, ceiling) shares their span.
    #[test]
    fn free_pgd_range_respects_floor_and_ceiling() {
        for va_bits in [48, 39] {
            let levels = pgtable_levels(va_bits) as usize;
            let free = |m: &mut Fake, range, floor, ceiling| {
                free_pgd_range(m, ROOT, va_bits, range, floor, ceiling, &mut |_| {})
            };
            let map = |m: &mut _, va| {
                set_pte(m, ROOT, va_bits, va, Pte::new(0x100_0000, PAGE_SHARED)).unwrap();
            };
            // One mapping alone in its GiB: everything under the root goes.
            let mut m = fake(64);
            map(&mut m, 0x4000_0000);
            let mut freed = Vec::new();
            zap_range(&mut m, ROOT, va_bits, 0x4000_0000, 0x4000_1000, |_, _| {});
            let n = free_pgd_range(
                &mut m,
                ROOT,
                va_bits,
                0x4000_0000..0x4000_1000,
                0,
                None,
                &mut |pa| freed.push(pa),
            );
            assert_eq!(n, levels - 1);
            assert_eq!(freed.len(), levels - 1);
            assert_eq!(table_count(&m, ROOT, va_bits), 0);
            // A neighbour in the same 2 MiB below (floor inside it): nothing goes.
            let mut m = fake(64);
            map(&mut m, 0x40_0000);
            map(&mut m, 0x40_5000);
            let before = table_count(&m, ROOT, va_bits);
            let n = free(&mut m, 0x40_5000..0x40_6000, 0x40_1000, None);
            assert_eq!(n, 0);
            assert_eq!(table_count(&m, ROOT, va_bits), before);
            assert!(get_pte(&m, ROOT, va_bits, 0x40_0000).is_some());
            // A neighbour in another 2 MiB of the same GiB: the PTE table goes, the PMD stays.
            let mut m = fake(64);
            map(&mut m, 0x40_0000);
            map(&mut m, 0x80_0000);
            zap_range(&mut m, ROOT, va_bits, 0x80_0000, 0x80_1000, |_, _| {});
            let n = free(&mut m, 0x80_0000..0x80_1000, 0x40_1000, None);
            assert_eq!(n, 1);
            assert_eq!(table_count(&m, ROOT, va_bits), levels - 1);
            assert!(get_pte(&m, ROOT, va_bits, 0x40_0000).is_some());
            // A ceiling (the next VMA) in the same 2 MiB above: nothing goes. Once that VMA
            // is unmapped too, the next one is at 1 GiB: the PTE table and GiB 0's PMD table
            // go; the root (and with 48 bits the PUD table, which 1 GiB shares) stays.
            let mut m = fake(64);
            map(&mut m, 0x40_0000);
            map(&mut m, 0x40_8000);
            map(&mut m, 0x4000_0000);
            zap_range(&mut m, ROOT, va_bits, 0x40_0000, 0x40_1000, |_, _| {});
            assert_eq!(free(&mut m, 0x40_0000..0x40_1000, 0, Some(0x40_8000)), 0);
            zap_range(&mut m, ROOT, va_bits, 0x40_8000, 0x40_9000, |_, _| {});
            assert_eq!(free(&mut m, 0x40_0000..0x40_9000, 0, Some(0x4000_0000)), 2);
            assert!(get_pte(&m, ROOT, va_bits, 0x4000_0000).is_some());
            assert_eq!(table_count(&m, ROOT, va_bits), levels - 1);
        }
    }

    /// A table memory that counts its reads.
    struct Counting<'a> {
        inner: &'a mut Fake,
        reads: Cell<usize>,
    }

    impl TableMemory for Counting<'_> {
        fn read(&self, pa: u64) -> u64 {
            self.reads.set(self.reads.get() + 1);
            self.inner.read(pa)
        }
        fn write(&mut self, pa: u64, desc: u64) {
            self.inner.write(pa, desc)
        }
        fn alloc_table(&mut self) -> Option<u64> {
            self.inner.alloc_table()
        }
    }

    /// Exit's walk over the VMAs frees exactly the tables the whole-tree walk frees, each
    /// once, for spans that share PTE, PMD and (48 bits) PUD tables, and reads only the
    /// entries the spans cover: a table outside every span is left alone.
    #[test]
    fn free_span_tables_frees_every_table_of_the_vmas_once() {
        for va_bits in [48, 39] {
            let top = 1u64 << va_bits;
            let spans: [(usize, usize); 5] = [
                (0x40_0000, 0x40_1000),
                (0x41_f000, 0x42_2000),
                (0x4000_0000, 0x4000_3000),
                (top as usize - 0x2_0000_0000, top as usize - 0x1_ffff_e000),
                (top as usize - 0x2_1000, top as usize),
            ];
            let mut m = fake(64);
            let mut whole = fake(64);
            for &(s, e) in &spans {
                for va in (s as u64..e as u64).step_by(0x1000) {
                    let p = Pte::new(0x100_0000, PAGE_SHARED);
                    set_pte(&mut m, ROOT, va_bits, va, p).unwrap();
                    set_pte(&mut whole, ROOT, va_bits, va, p).unwrap();
                }
            }
            let tables = table_count(&m, ROOT, va_bits);
            let mut freed = Vec::new();
            let n = free_span_tables(&mut m, ROOT, va_bits, &spans, &mut |pa| freed.push(pa));
            let mut all = Vec::new();
            assert_eq!(free_tables(&mut whole, ROOT, va_bits, &mut |pa| all.push(pa)), tables);
            assert_eq!(n, tables);
            freed.sort();
            all.sort();
            freed.dedup();
            assert_eq!(freed, all);
            assert_eq!(table_count(&m, ROOT, va_bits), 0);
            // The whole-tree walk read all 512 slots of each non-PTE table; this one reads a
            // few entries per span and level.
            let mut m = fake(64);
            for &(s, e) in &spans {
                set_pte(&mut m, ROOT, va_bits, s as u64, Pte::new(0x100_0000, PAGE_SHARED))
                    .unwrap();
                set_pte(&mut m, ROOT, va_bits, e as u64 - 0x1000, Pte::new(0, PAGE_SHARED))
                    .unwrap();
            }
            let mut counting = Counting { inner: &mut m, reads: Cell::new(0) };
            assert_eq!(free_span_tables(&mut counting, ROOT, va_bits, &spans, &mut |_| {}), tables);
            let levels = pgtable_levels(va_bits) as usize;
            assert!(counting.reads.get() <= spans.len() * 2 * levels, "{}", counting.reads.get());
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
