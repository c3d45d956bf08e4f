//! The kernel's page tables as arm64 Linux 6.1's `kernel_page_tables` prints them
//! (arch/arm64/mm/ptdump.c, walked as mm/ptdump.c walks): the layout's address markers
//! (`---[ Linear Mapping start ]---` ...), one line per run of entries with the same
//! protection bits at the same level, its size with a unit, the level's name and the bits
//! decoded as `pte_bits` decodes them; and a process's user half (TTBR0's table) the same way,
//! from 0 to `TASK_SIZE`, as `ptdump_walk` does for an `mm` whose `base_addr` is below
//! `TASK_SIZE_64`. Pure: the walk takes any table reader, so the merging is tested on the host.
use core::fmt::{self, Write};

use super::layout::Layout;
use super::memory::{pgtable_levels, PAGE_SHIFT};
use super::pgtable::{desc_kind, entry_span, hw_level, DescKind, PteBits, ATTRINDX_MASK};
use super::pgtable::{
    MT_DEVICE_NGNRE, MT_DEVICE_NGNRNE, MT_NORMAL, MT_NORMAL_NC, MT_NORMAL_TAGGED,
};

/// One address marker (`struct addr_marker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrMarker {
    pub start: u64,
    pub name: &'static str,
}

/// Markers in `address_markers[]`'s order (no KASAN), then the `-1` terminator.
pub const NR_MARKERS: usize = 13;

/// arm64 6.1's `address_markers[]` for this layout.
pub fn address_markers(l: &Layout) -> [AddrMarker; NR_MARKERS] {
    let m = |start, name| AddrMarker { start, name };
    [
        m(l.page_offset, "Linear Mapping start"),
        m(l.page_end, "Linear Mapping end"),
        m(l.modules_vaddr, "Modules start"),
        m(l.modules_end, "Modules end"),
        m(l.vmalloc_start, "vmalloc() area"),
        m(l.vmalloc_end, "vmalloc() end"),
        m(l.fixaddr_start, "Fixmap start"),
        m(l.fixaddr_top, "Fixmap end"),
        m(l.pci_io_start, "PCI I/O start"),
        m(l.pci_io_end, "PCI I/O end"),
        m(l.vmemmap_start, "vmemmap start"),
        m(l.vmemmap_end, "vmemmap end"),
        m(u64::MAX, ""),
    ]
}

/// The walker's depth names (`pg_level[]`): generic page-walk depths 0-4.
const LEVEL_NAMES: [&str; 5] = ["PGD", "P4D", "PUD", "PMD", "PTE"];

/// The generic walk's depth of an entry at hardware level `level` (the p4d is always folded;
/// with 3 levels the pud is folded into the pgd, whose entries then show as PUD).
pub const fn depth_of(level: u32) -> i32 {
    match level {
        0 => 0,
        l => l as i32 + 1,
    }
}

/// `pte_bits[]`: mask, value, text when equal, text otherwise (None: nothing).
const PTE_BITS: [(u64, u64, &str, Option<&str>); 16] = [
    (PteBits::VALID.bits(), PteBits::VALID.bits(), " ", Some("F")),
    (PteBits::USER.bits(), PteBits::USER.bits(), "USR", Some("   ")),
    (PteBits::RDONLY.bits(), PteBits::RDONLY.bits(), "ro", Some("RW")),
    (PteBits::PXN.bits(), PteBits::PXN.bits(), "NX", Some("x ")),
    (PteBits::SHARED.bits(), PteBits::SHARED.bits(), "SHD", Some("   ")),
    (PteBits::AF.bits(), PteBits::AF.bits(), "AF", Some("  ")),
    (PteBits::NG.bits(), PteBits::NG.bits(), "NG", Some("  ")),
    (PteBits::CONT.bits(), PteBits::CONT.bits(), "CON", Some("   ")),
    (PteBits::TABLE_OR_PAGE.bits(), PteBits::TABLE_OR_PAGE.bits(), "   ", Some("BLK")),
    (PteBits::UXN.bits(), PteBits::UXN.bits(), "UXN", Some("   ")),
    (PTE_GP, PTE_GP, "GP", Some("  ")),
    (ATTRINDX_MASK, MT_DEVICE_NGNRNE << 2, "DEVICE/nGnRnE", None),
    (ATTRINDX_MASK, MT_DEVICE_NGNRE << 2, "DEVICE/nGnRE", None),
    (ATTRINDX_MASK, MT_NORMAL_NC << 2, "MEM/NORMAL-NC", None),
    (ATTRINDX_MASK, MT_NORMAL << 2, "MEM/NORMAL", None),
    (ATTRINDX_MASK, MT_NORMAL_TAGGED << 2, "MEM/NORMAL-TAGGED", None),
];

/// `PTE_GP`: the BTI guarded-page bit.
const PTE_GP: u64 = 1 << 50;

/// `pg_level[].mask`: every bit `pte_bits` looks at.
const PROT_MASK: u64 = {
    let mut m = 0;
    let mut i = 0;
    while i < PTE_BITS.len() {
        m |= PTE_BITS[i].0;
        i += 1;
    }
    m
};

/// A process's markers: its user half, `[0, TASK_SIZE)` (`ptdump_walk`'s range for an `mm`
/// below `TASK_SIZE_64`; the names are pivm's, after the EFI runtime map's `start`/`end` pair,
/// since 6.1 registers no dump of a process).
pub fn user_markers(task_size: u64) -> [AddrMarker; 3] {
    [
        AddrMarker { start: 0, name: "User Space start" },
        AddrMarker { start: task_size, name: "User Space end" },
        AddrMarker { start: u64::MAX, name: "" },
    ]
}

/// `struct pg_state`: the run being merged and the next marker.
pub struct PgState<'a, W: Write> {
    out: &'a mut W,
    markers: &'a [AddrMarker],
    marker: usize,
    /// -1 before the first entry.
    level: i32,
    current_prot: u64,
    start_address: u64,
}

impl<'a, W: Write> PgState<'a, W> {
    pub fn new(out: &'a mut W, markers: &'a [AddrMarker]) -> Self {
        PgState { out, markers, marker: 0, level: -1, current_prot: 0, start_address: 0 }
    }

    fn next_marker(&mut self) -> fmt::Result {
        self.marker += 1;
        writeln!(self.out, "---[ {} ]---", self.markers[self.marker].name)
    }

    fn next_marker_start(&self) -> u64 {
        self.markers.get(self.marker + 1).map_or(u64::MAX, |m| m.start)
    }

    /// `note_page`: an entry (leaf, or `val` 0 for a hole) at `addr` and walk depth `level`
    /// (-1: the walk is over).
    pub fn note_page(&mut self, addr: u64, level: i32, val: u64) -> fmt::Result {
        let prot = if level >= 0 { val & PROT_MASK } else { 0 };
        if self.level == -1 {
            self.current_prot = prot;
            self.start_address = addr;
            self.level = level;
            writeln!(self.out, "---[ {} ]---", self.markers[self.marker].name)?;
        } else if prot != self.current_prot
            || level != self.level
            || addr >= self.next_marker_start()
        {
            if self.current_prot != 0 {
                self.dump_range(addr)?;
            }
            if addr >= self.next_marker_start() {
                self.next_marker()?;
            }
            self.start_address = addr;
            self.current_prot = prot;
            self.level = level;
        }
        if addr >= self.next_marker_start() {
            self.next_marker()?;
        }
        Ok(())
    }

    /// One line: the range, its size with a unit, the level, the bits.
    fn dump_range(&mut self, addr: u64) -> fmt::Result {
        write!(self.out, "0x{:016x}-0x{:016x}   ", self.start_address, addr)?;
        const UNITS: &[u8] = b"KMGTPE";
        let mut unit = 0;
        let mut delta = addr.wrapping_sub(self.start_address) >> 10;
        while delta & 1023 == 0 && unit + 1 < UNITS.len() {
            delta >>= 10;
            unit += 1;
        }
        let name = usize::try_from(self.level).ok().and_then(|l| LEVEL_NAMES.get(l)).unwrap_or(&"");
        write!(self.out, "{:9}{} {}", delta, UNITS[unit] as char, name)?;
        for (mask, val, set, clear) in PTE_BITS {
            let s = if self.current_prot & mask == val { Some(set) } else { clear };
            if let Some(s) = s {
                write!(self.out, " {s}")?;
            }
        }
        writeln!(self.out)
    }
}

/// Which half of the address space a table translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// TTBR1's: the top `2^va_bits` bytes (the kernel's).
    Kernel,
    /// TTBR0's: `[0, 2^va_bits)` (a process's).
    User,
}

/// `ptdump_walk` of the table at `root` (`va_bits`, the `half` it translates), reading
/// descriptors with `read`: every leaf and every hole in address order through `note_page`,
/// then the final flush at the range's end (0 after the kernel's, as `ptdump_walk_pgd`'s
/// `note_page(st, 0, -1, 0)`; `TASK_SIZE` after a process's, so its last run ends there).
pub fn walk(
    st: &mut PgState<'_, impl Write>,
    root: u64,
    va_bits: u32,
    half: Half,
    mut read: impl FnMut(u64) -> Option<u64>,
) -> fmt::Result {
    let levels = pgtable_levels(va_bits);
    let top = hw_level(levels, 0);
    let top_entries = 1u64 << (va_bits - (PAGE_SHIFT + 9 * (3 - top)));
    let (base, end) = match half {
        Half::Kernel => (0u64.wrapping_sub(1 << va_bits), 0),
        Half::User => (0, 1 << va_bits),
    };
    // (table, first VA, hardware level, next index)
    let mut stack = [(0u64, 0u64, 0u32, 0u64); 4];
    let mut depth = 0;
    stack[0] = (root, base, top, 0);
    loop {
        let (table, va_base, level, idx) = stack[depth];
        let limit = if depth == 0 { top_entries } else { 512 };
        if idx >= limit {
            if depth == 0 {
                break;
            }
            depth -= 1;
            stack[depth].3 += 1;
            continue;
        }
        let va = va_base.wrapping_add(idx * entry_span(level));
        let desc = read(table + idx * 8).unwrap_or(0);
        match desc_kind(desc, level) {
            DescKind::Table { next } => {
                depth += 1;
                stack[depth] = (next, va, level + 1, 0);
                continue;
            }
            DescKind::Block { .. } | DescKind::Page { .. } => {
                st.note_page(va, depth_of(level), desc)?
            }
            DescKind::Invalid | DescKind::Reserved => st.note_page(va, depth_of(level), 0)?,
        }
        stack[depth].3 += 1;
    }
    st.note_page(end, -1, 0)
}

/// The whole dump of the table at `root` for layout `l`.
pub fn write_kernel_page_tables(
    w: &mut impl Write,
    l: &Layout,
    root: u64,
    read: impl FnMut(u64) -> Option<u64>,
) -> fmt::Result {
    let markers = address_markers(l);
    let mut st = PgState::new(w, &markers);
    walk(&mut st, root, l.va_bits, Half::Kernel, read)
}

/// The dump of a process's table at `root` (its TTBR0 root): its user half, `[0, TASK_SIZE)`.
pub fn write_user_page_tables(
    w: &mut impl Write,
    l: &Layout,
    root: u64,
    read: impl FnMut(u64) -> Option<u64>,
) -> fmt::Result {
    let markers = user_markers(l.task_size);
    let mut st = PgState::new(w, &markers);
    walk(&mut st, root, l.va_bits, Half::User, read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::arm64::pgtable::{block_desc, pfn_pte, table_desc, PAGE_KERNEL_ROX};
    use crate::arch::arm64::pgtable::{PAGE_KERNEL, PROT_DEVICE_NGNRE};
    use std::collections::HashMap;

    /// A 39-bit kernel table: the linear map's first 6 MiB as 2 MiB blocks, one read-only
    /// executable page and one device page at VMALLOC_START.
    fn tables(l: &Layout) -> (u64, HashMap<u64, u64>) {
        let mut t = HashMap::new();
        let (pgd, pmd_lin, pmd_vm, pte_vm) = (0x1000u64, 0x2000u64, 0x3000u64, 0x4000u64);
        let idx = |va: u64, level| crate::arch::arm64::pgtable::table_index(va, level);
        t.insert(pgd + idx(l.page_offset, 1) * 8, table_desc(pmd_lin));
        for i in 0..3 {
            t.insert(pmd_lin + i * 8, block_desc(i << 21, PAGE_KERNEL));
        }
        t.insert(pgd + idx(l.vmalloc_start, 1) * 8, table_desc(pmd_vm));
        t.insert(pmd_vm + idx(l.vmalloc_start, 2) * 8, table_desc(pte_vm));
        let p = idx(l.vmalloc_start, 3);
        t.insert(pte_vm + p * 8, pfn_pte(0x80000, PAGE_KERNEL_ROX));
        t.insert(pte_vm + (p + 1) * 8, pfn_pte(0x3f20_1000, PROT_DEVICE_NGNRE));
        (pgd, t)
    }

    #[test]
    fn runs_merge_by_protection_and_markers_follow_the_layout() {
        let l = Layout::new(39, 0, 0x3c00_0000).unwrap();
        let (root, t) = tables(&l);
        let mut out = String::new();
        write_kernel_page_tables(&mut out, &l, root, |pa| Some(*t.get(&pa).unwrap_or(&0))).unwrap();
        let vs = l.vmalloc_start;
        let want = format!(
            "---[ Linear Mapping start ]---\n\
             0xffffff8000000000-0xffffff8000600000           6M PMD       RW NX SHD AF        BLK UXN    MEM/NORMAL\n\
             ---[ Linear Mapping end ]---\n\
             ---[ Modules start ]---\n\
             ---[ Modules end ]---\n\
             ---[ vmalloc() area ]---\n\
             0x{:016x}-0x{:016x}           4K PTE       ro x  SHD AF            UXN    MEM/NORMAL\n\
             0x{:016x}-0x{:016x}           4K PTE       RW NX SHD AF            UXN    DEVICE/nGnRE\n\
             ---[ vmalloc() end ]---\n\
             ---[ Fixmap start ]---\n\
             ---[ Fixmap end ]---\n\
             ---[ PCI I/O start ]---\n\
             ---[ PCI I/O end ]---\n\
             ---[ vmemmap start ]---\n\
             ---[ vmemmap end ]---\n",
            vs,
            vs + 0x1000,
            vs + 0x1000,
            vs + 0x2000
        );
        assert_eq!(out, want);
    }

    #[test]
    fn sizes_take_the_largest_whole_unit() {
        let l = Layout::new(48, 0, 0x3c00_0000).unwrap();
        let mut out = String::new();
        let markers = address_markers(&l);
        let mut st = PgState::new(&mut out, &markers);
        st.note_page(l.page_offset, 3, block_desc(0, PAGE_KERNEL)).unwrap();
        st.note_page(l.page_offset + (960 << 20), 3, 0).unwrap();
        st.note_page(0, -1, 0).unwrap();
        assert!(out.contains("         960M PMD "), "{out}");
        assert_eq!(depth_of(0), 0);
        assert_eq!(depth_of(3), 4);
    }

    /// A 48-bit process: two text pages and a data page at 0x400000 (the static program's),
    /// a swapped-out page after them (invalid: a hole) and the top page of user space.
    #[test]
    fn arm64dbg_user_half_from_zero_to_task_size() {
        use crate::arch::arm64::pte::{PAGE_READONLY_EXEC, PAGE_SHARED};
        use crate::arch::arm64::user_table::user_table_desc;
        let l = Layout::new(48, 0, 0x3c00_0000).unwrap();
        let idx = |va: u64, level| crate::arch::arm64::pgtable::table_index(va, level);
        let mut t = HashMap::new();
        let mut map = |va: u64, desc: u64, tables: [u64; 4]| {
            for level in 0..3 {
                let d = user_table_desc(tables[level as usize + 1]);
                t.insert(tables[level as usize] + idx(va, level) * 8, d);
            }
            t.insert(tables[3] + idx(va, 3) * 8, desc);
        };
        let low = [0x1000, 0x2000, 0x3000, 0x4000];
        map(0x40_0000, pfn_pte(0x10_0000, PAGE_READONLY_EXEC), low);
        map(0x40_1000, pfn_pte(0x10_1000, PAGE_READONLY_EXEC), low);
        map(0x40_2000, pfn_pte(0x20_0000, PAGE_SHARED), low);
        map(0x40_3000, 0x1234 << 12, low);
        let top = l.task_size - 0x1000;
        map(top, pfn_pte(0x30_0000, PAGE_SHARED), [0x1000, 0x5000, 0x6000, 0x7000]);
        let mut out = String::new();
        write_user_page_tables(&mut out, &l, 0x1000, |pa| Some(*t.get(&pa).unwrap_or(&0))).unwrap();
        let want = "---[ User Space start ]---\n\
             0x0000000000400000-0x0000000000402000           8K PTE   USR ro NX SHD AF NG                MEM/NORMAL\n\
             0x0000000000402000-0x0000000000403000           4K PTE   USR ro NX SHD AF NG         UXN    MEM/NORMAL\n\
             0x0000fffffffff000-0x0001000000000000           4K PTE   USR ro NX SHD AF NG         UXN    MEM/NORMAL\n\
             ---[ User Space end ]---\n";
        assert_eq!(out, want);
    }
}
