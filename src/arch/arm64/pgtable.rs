//! arm64 VMSAv8-64 translation-table descriptors with 4 KiB pages, as Linux 6.1 encodes them
//! (`asm/pgtable-hwdef.h`, `pgtable-prot.h`): the attribute bits, the kernel's protections,
//! MAIR_EL1 with Linux's attribute indices, TCR_EL1's value, the descriptor decoder `pt`
//! prints, and a software walk over any table reader (pure: tested on the host).
use bitflags::bitflags;
use core::fmt::{self, Write};

use super::memory::{pgtable_levels, tcr_tsz, PAGE_SHIFT};

bitflags! {
    /// Descriptor bits (the same positions in block and page descriptors; `TABLE` shares
    /// bit 1 with `PAGE`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PteBits: u64 {
        /// bit 0: valid.
        const VALID = 1 << 0;
        /// bit 1: table (levels 0-2) or page (level 3); clear with VALID set = block.
        const TABLE_OR_PAGE = 1 << 1;
        /// AP[1]: EL0 may access (`PTE_USER`).
        const USER = 1 << 6;
        /// AP[2]: read-only (`PTE_RDONLY`).
        const RDONLY = 1 << 7;
        /// SH[1:0] = 0b11, inner shareable (`PTE_SHARED`).
        const SHARED = 3 << 8;
        /// Access flag (`PTE_AF`): clear makes the first access fault.
        const AF = 1 << 10;
        /// Not global (`PTE_NG`): tagged with the ASID.
        const NG = 1 << 11;
        /// Dirty bit modifier, Linux's software `PTE_WRITE` (`PTE_DBM`).
        const WRITE = 1 << 51;
        /// Contiguous hint.
        const CONT = 1 << 52;
        /// Privileged execute-never.
        const PXN = 1 << 53;
        /// Unprivileged execute-never.
        const UXN = 1 << 54;
    }
}

/// `PTE_ATTRINDX(t)`: bits 4:2.
pub const fn attrindx(idx: u64) -> u64 {
    idx << 2
}
pub const ATTRINDX_MASK: u64 = 7 << 2;
/// Output address bits 47:12.
pub const PTE_ADDR_MASK: u64 = ((1u64 << 48) - 1) & !((1u64 << PAGE_SHIFT) - 1);
/// Table descriptor attributes: `PMD_TABLE_PXN`, `PMD_TABLE_UXN`.
pub const TABLE_PXN: u64 = 1 << 59;
pub const TABLE_UXN: u64 = 1 << 60;

/// Linux's memory types (`asm/memory.h`): the MAIR_EL1 index of each.
pub const MT_NORMAL: u64 = 0;
pub const MT_NORMAL_TAGGED: u64 = 1;
pub const MT_NORMAL_NC: u64 = 2;
pub const MT_DEVICE_NGNRNE: u64 = 3;
pub const MT_DEVICE_NGNRE: u64 = 4;
/// The attribute bytes (`MAIR_ATTR_*`, sysreg.h): normal write-back, normal non-cacheable,
/// device nGnRnE, device nGnRE.
pub const MAIR_ATTR_NORMAL: u64 = 0xff;
pub const MAIR_ATTR_NORMAL_NC: u64 = 0x44;
pub const MAIR_ATTR_DEVICE_NGNRNE: u64 = 0x00;
pub const MAIR_ATTR_DEVICE_NGNRE: u64 = 0x04;

/// MAIR_EL1 as `__cpu_setup` programs it (no MTE: the tagged slot is plain normal).
pub const fn mair_el1() -> u64 {
    (MAIR_ATTR_DEVICE_NGNRNE << (8 * MT_DEVICE_NGNRNE))
        | (MAIR_ATTR_DEVICE_NGNRE << (8 * MT_DEVICE_NGNRE))
        | (MAIR_ATTR_NORMAL_NC << (8 * MT_NORMAL_NC))
        | (MAIR_ATTR_NORMAL << (8 * MT_NORMAL_TAGGED))
        | (MAIR_ATTR_NORMAL << (8 * MT_NORMAL))
}

/// `_PROT_DEFAULT`: page, accessed, inner shareable (`PTE_MAYBE_NG` is 0: no KPTI on the A53).
const PROT_DEFAULT: u64 = 0b11 | PteBits::AF.bits() | PteBits::SHARED.bits();
/// `PROT_NORMAL`: kernel data, read/write, never executable.
pub const PROT_NORMAL: u64 = PROT_DEFAULT
    | PteBits::PXN.bits()
    | PteBits::UXN.bits()
    | PteBits::WRITE.bits()
    | attrindx(MT_NORMAL);
/// `PROT_DEVICE_nGnRE`: device registers (ioremap).
pub const PROT_DEVICE_NGNRE: u64 = PROT_DEFAULT
    | PteBits::PXN.bits()
    | PteBits::UXN.bits()
    | PteBits::WRITE.bits()
    | attrindx(MT_DEVICE_NGNRE);
/// `PAGE_KERNEL`, `PAGE_KERNEL_RO`, `PAGE_KERNEL_ROX`, `PAGE_KERNEL_EXEC`.
pub const PAGE_KERNEL: u64 = PROT_NORMAL;
pub const PAGE_KERNEL_RO: u64 = (PROT_NORMAL & !PteBits::WRITE.bits()) | PteBits::RDONLY.bits();
pub const PAGE_KERNEL_ROX: u64 =
    (PROT_NORMAL & !(PteBits::WRITE.bits() | PteBits::PXN.bits())) | PteBits::RDONLY.bits();
pub const PAGE_KERNEL_EXEC: u64 = PROT_NORMAL & !PteBits::PXN.bits();

/// The descriptor bits of an arch-neutral kernel protection (`mm::pgprot`): device memory is
/// `PROT_DEVICE_nGnRE` (ioremap's), normal memory `PAGE_KERNEL` made read-only without WRITE
/// and executable with EXEC, as `pgprot` values are composed in `pgtable-prot.h`.
pub fn pgprot(prot: crate::mm::pgprot::PageProt) -> u64 {
    use crate::mm::pgprot::PageProt;
    let mut bits = if prot.contains(PageProt::DEVICE) { PROT_DEVICE_NGNRE } else { PROT_NORMAL };
    if !prot.contains(PageProt::WRITE) {
        bits = (bits & !PteBits::WRITE.bits()) | PteBits::RDONLY.bits();
    }
    if prot.contains(PageProt::EXEC) && !prot.contains(PageProt::DEVICE) {
        bits &= !PteBits::PXN.bits();
    }
    if prot.contains(PageProt::USER) {
        // PAGE_SHARED and friends: EL0 access, per-ASID, user-executable only with EXEC.
        bits |= PteBits::USER.bits() | PteBits::NG.bits();
        bits |= PteBits::PXN.bits();
        if prot.contains(PageProt::EXEC) {
            bits &= !PteBits::UXN.bits();
        }
    }
    bits
}

/// A level-3 page descriptor for `pa` with protection `prot` (a `PAGE_KERNEL*` value).
pub const fn pfn_pte(pa: u64, prot: u64) -> u64 {
    (pa & PTE_ADDR_MASK) | prot
}

/// A block descriptor (level 1: 1 GiB, level 2: 2 MiB): the page protection with bit 1
/// clear (`mk_pmd_sect_prot`).
pub const fn block_desc(pa: u64, prot: u64) -> u64 {
    (pa & PTE_ADDR_MASK) | (prot & !PteBits::TABLE_OR_PAGE.bits())
}

/// A table descriptor pointing at the next-level table (`PMD_TYPE_TABLE`), with Linux's
/// `PxD_TABLE_UXN` on kernel tables.
pub const fn table_desc(table_pa: u64) -> u64 {
    (table_pa & PTE_ADDR_MASK) | 0b11 | TABLE_UXN
}

/// TCR_EL1 fields (pgtable-hwdef.h).
pub const TCR_IRGN_WBWA: u64 = (1 << 8) | (1 << 24);
pub const TCR_ORGN_WBWA: u64 = (1 << 10) | (1 << 26);
pub const TCR_SHARED: u64 = (3 << 12) | (3 << 28);
pub const TCR_TG0_4K: u64 = 0 << 14;
/// TG1's 4 KiB encoding is 0b10, not TG0's 0b00.
pub const TCR_TG1_4K: u64 = 2 << 30;
pub const TCR_EPD0: u64 = 1 << 7;
pub const TCR_A1: u64 = 1 << 22;
pub const TCR_IPS_SHIFT: u64 = 32;
pub const TCR_ASID16: u64 = 1 << 36;
pub const TCR_TBI0: u64 = 1 << 37;

/// TCR_EL1 for `va_bits` in both halves and the CPU's physical range
/// (`ID_AA64MMFR0_EL1.PARange`, copied into IPS as `tcr_compute_pa_size` does). `ttbr0_off`
/// sets EPD0 (no walks through TTBR0: pivm's kernel has no user space yet).
pub const fn tcr_el1(va_bits: u32, parange: u64, asid16: bool, ttbr0_off: bool) -> u64 {
    let tsz = tcr_tsz(va_bits);
    tsz | (tsz << 16)
        | TCR_IRGN_WBWA
        | TCR_ORGN_WBWA
        | TCR_SHARED
        | TCR_TG0_4K
        | TCR_TG1_4K
        | TCR_TBI0
        | ((parange & 7) << TCR_IPS_SHIFT)
        | if asid16 { TCR_ASID16 } else { 0 }
        | if ttbr0_off { TCR_EPD0 } else { 0 }
}

/// Linux's names of the levels for a table with `levels` levels, top first.
pub const fn level_names(levels: u32) -> &'static [&'static str] {
    if levels == 4 {
        &["pgd", "pud", "pmd", "pte"]
    } else {
        &["pgd", "pmd", "pte"]
    }
}

/// The hardware level (0-3) of the `i`th table visited by a walk with `levels` levels.
pub const fn hw_level(levels: u32, i: u32) -> u32 {
    4 - levels + i
}

/// Index of `va` in the table at hardware level `level` (9 bits per level, 4 KiB pages).
pub const fn table_index(va: u64, level: u32) -> u64 {
    (va >> (PAGE_SHIFT + 9 * (3 - level))) & 0x1ff
}

/// Bytes one entry maps at hardware level `level` (512 GiB, 1 GiB, 2 MiB, 4 KiB).
pub const fn entry_span(level: u32) -> u64 {
    1 << (PAGE_SHIFT + 9 * (3 - level))
}

/// What a descriptor at a hardware level is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescKind {
    Invalid,
    Table {
        next: u64,
    },
    Block {
        pa: u64,
    },
    Page {
        pa: u64,
    },
    /// Bits 1:0 = 0b01 at level 0 or 3: reserved, faults.
    Reserved,
}

/// Classifies a descriptor found at hardware level `level`.
pub const fn desc_kind(desc: u64, level: u32) -> DescKind {
    let addr = desc & PTE_ADDR_MASK;
    match desc & 3 {
        0 | 2 => DescKind::Invalid,
        3 if level < 3 => DescKind::Table { next: addr },
        3 => DescKind::Page { pa: addr },
        _ if level == 1 || level == 2 => DescKind::Block { pa: addr & !(entry_span(level) - 1) },
        _ => DescKind::Reserved,
    }
}

/// Decodes a leaf (block or page) descriptor's attributes the way `pt` prints them: memory
/// type, shareability, permissions, AF, nG.
pub struct LeafAttrs(pub u64);

impl fmt::Display for LeafAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = PteBits::from_bits_retain(self.0);
        let mt = match (self.0 & ATTRINDX_MASK) >> 2 {
            MT_NORMAL => "MT_NORMAL",
            MT_NORMAL_TAGGED => "MT_NORMAL_TAGGED",
            MT_NORMAL_NC => "MT_NORMAL_NC",
            MT_DEVICE_NGNRNE => "MT_DEVICE_nGnRnE",
            MT_DEVICE_NGNRE => "MT_DEVICE_nGnRE",
            _ => "MT_?",
        };
        let sh = match (self.0 >> 8) & 3 {
            0 => "NSH",
            2 => "OSH",
            3 => "SHD",
            _ => "SH?",
        };
        let el1 = if d.contains(PteBits::RDONLY) { "ro" } else { "RW" };
        let el0 = match (d.contains(PteBits::USER), d.contains(PteBits::RDONLY)) {
            (false, _) => "--",
            (true, true) => "ro",
            (true, false) => "RW",
        };
        write!(f, "{mt} {sh} EL1:{el1}")?;
        write!(
            f,
            "{} EL0:{el0}{}",
            if d.contains(PteBits::PXN) { "" } else { "x" },
            if d.contains(PteBits::UXN) { "" } else { "x" }
        )?;
        write!(
            f,
            " {} {}",
            if d.contains(PteBits::AF) { "AF" } else { "af" },
            if d.contains(PteBits::NG) { "nG" } else { "G" }
        )?;
        if d.contains(PteBits::WRITE) {
            write!(f, " DBM")?;
        }
        if d.contains(PteBits::CONT) {
            write!(f, " CONT")?;
        }
        Ok(())
    }
}

/// One step of a software walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkStep {
    /// Hardware level 0-3.
    pub level: u32,
    pub index: u64,
    /// Physical address of the descriptor read.
    pub entry_pa: u64,
    pub desc: u64,
    pub kind: DescKind,
}

/// A finished walk: up to four steps, and the physical address when it ended in a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub steps: [Option<WalkStep>; 4],
    pub pa: Option<u64>,
}

impl Walk {
    pub fn len(&self) -> usize {
        self.steps.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Walks `va` through the table at physical `root` of a `va_bits` translation regime, reading
/// each descriptor with `read(pa)` (None: the table is not readable, the walk stops).
pub fn walk(va: u64, va_bits: u32, root: u64, mut read: impl FnMut(u64) -> Option<u64>) -> Walk {
    let levels = pgtable_levels(va_bits);
    let mut out = Walk { steps: [None; 4], pa: None };
    let mut table = root;
    for i in 0..levels {
        let level = hw_level(levels, i);
        let mut index = table_index(va, level);
        if i == 0 {
            // The top table holds only the entries the VA size needs (`PTRS_PER_PGD`).
            index &= (1 << (va_bits - (PAGE_SHIFT + 9 * (3 - level)))) - 1;
        }
        let entry_pa = table + index * 8;
        let Some(desc) = read(entry_pa) else { break };
        let kind = desc_kind(desc, level);
        out.steps[i as usize] = Some(WalkStep { level, index, entry_pa, desc, kind });
        match kind {
            DescKind::Table { next } => table = next,
            DescKind::Block { pa } | DescKind::Page { pa } => {
                out.pa = Some(pa + (va & (entry_span(level) - 1)));
                break;
            }
            DescKind::Invalid | DescKind::Reserved => break,
        }
    }
    out
}

/// `pt`'s report: one line per level with Linux's level names, each descriptor decoded.
pub fn write_walk(w: &mut impl Write, va: u64, va_bits: u32, walk: &Walk) -> fmt::Result {
    let levels = pgtable_levels(va_bits);
    let names = level_names(levels);
    writeln!(
        w,
        "{va:#018x}: {levels} levels (VA_BITS={va_bits}), walk of {} descriptors",
        walk.len()
    )?;
    for (i, s) in walk.steps.iter().enumerate() {
        let Some(s) = s else { continue };
        write!(
            w,
            "  {:<3} L{} [{:3}] @{:#011x} = {:#018x} ",
            names[i], s.level, s.index, s.entry_pa, s.desc
        )?;
        match s.kind {
            DescKind::Invalid => writeln!(w, "none")?,
            DescKind::Reserved => writeln!(w, "reserved (faults)")?,
            DescKind::Table { next } => {
                let flag = |bit: u64, name: &'static str| if s.desc & bit != 0 { name } else { "" };
                writeln!(
                    w,
                    "table -> {next:#x}{}{}",
                    flag(TABLE_PXN, " PXNTable"),
                    flag(TABLE_UXN, " UXNTable")
                )?
            }
            DescKind::Block { pa } => {
                writeln!(w, "block {} -> {pa:#x} {}", span_name(s.level), LeafAttrs(s.desc))?
            }
            DescKind::Page { pa } => writeln!(w, "page -> {pa:#x} {}", LeafAttrs(s.desc))?,
        }
    }
    match walk.pa {
        Some(pa) => writeln!(w, "  => physical {pa:#x}"),
        None => writeln!(w, "  => not mapped"),
    }
}

/// The size a block at `level` maps, as `ptdump` names it.
pub const fn span_name(level: u32) -> &'static str {
    match level {
        1 => "1G",
        2 => "2M",
        3 => "4K",
        _ => "512G",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_neutral_protections_are_linuxs() {
        use crate::mm::pgprot::{
            PAGE_KERNEL as K, PAGE_KERNEL_EXEC as KX, PAGE_KERNEL_IO, PAGE_KERNEL_RO as KR,
        };
        assert_eq!(pgprot(K), PAGE_KERNEL);
        assert_eq!(pgprot(KR), PAGE_KERNEL_RO);
        assert_eq!(pgprot(KX), PAGE_KERNEL_ROX);
        assert_eq!(pgprot(KX | crate::mm::pgprot::PageProt::WRITE), PAGE_KERNEL_EXEC);
        assert_eq!(pgprot(PAGE_KERNEL_IO), PROT_DEVICE_NGNRE);
    }
    use std::collections::BTreeMap;

    #[test]
    fn mair_is_linuxs() {
        assert_eq!(mair_el1(), 0x0000_0004_0044_ffff);
    }

    #[test]
    fn kernel_protections_match_pgtable_prot() {
        // PAGE_KERNEL: UXN|PXN|DBM|AF|SH|page, AttrIndx 0.
        assert_eq!(PAGE_KERNEL, 0x0060_0000_0000_0000 | (1 << 51) | 0x703);
        assert_eq!(PAGE_KERNEL_ROX & PteBits::PXN.bits(), 0);
        assert_ne!(PAGE_KERNEL_ROX & PteBits::RDONLY.bits(), 0);
        assert_ne!(PAGE_KERNEL_RO & PteBits::PXN.bits(), 0);
        assert_eq!(PROT_DEVICE_NGNRE & ATTRINDX_MASK, 4 << 2);
        assert_eq!(pfn_pte(0x3f20_1000, PROT_DEVICE_NGNRE), 0x0068_0000_3f20_1713);
        // A 2 MiB block of kernel data: bit 1 clear.
        assert_eq!(block_desc(0x20_0000, PAGE_KERNEL) & 3, 1);
    }

    #[test]
    fn tcr_fields() {
        let t = tcr_el1(48, 2, true, true);
        assert_eq!(t & 0x3f, 16);
        assert_eq!((t >> 16) & 0x3f, 16);
        assert_eq!((t >> 30) & 3, 0b10, "TG1 4K");
        assert_eq!((t >> 14) & 3, 0b00, "TG0 4K");
        assert_eq!((t >> 32) & 7, 2, "IPS 40 bits");
        assert_ne!(t & TCR_EPD0, 0);
        assert_eq!(tcr_el1(39, 2, false, false) & 0x3f, 25);
    }

    #[test]
    fn indices_and_kinds() {
        let va = 0xffff_0000_37d6_8a18;
        assert_eq!(table_index(va, 0), 0);
        assert_eq!(table_index(va, 2), (0x37d6_8a18 >> 21) & 0x1ff);
        assert_eq!(desc_kind(0, 2), DescKind::Invalid);
        assert_eq!(desc_kind(0x1000_0003, 0), DescKind::Table { next: 0x1000_0000 });
        assert_eq!(desc_kind(0x4000_0701, 1), DescKind::Block { pa: 0x4000_0000 });
        assert_eq!(desc_kind(0x701, 0), DescKind::Reserved);
        assert_eq!(desc_kind(0x5000_0703, 3), DescKind::Page { pa: 0x5000_0000 });
    }

    /// A fake memory with a 4-level and a 3-level table: the walks have 4 and 3 steps to a
    /// page, fewer to a block.
    #[test]
    fn walks_have_the_levels_of_the_va_size() {
        for va_bits in [48, 39] {
            let levels = pgtable_levels(va_bits);
            let va = super::super::memory::page_offset(va_bits) + 0x1234_5678;
            let mut mem = BTreeMap::new();
            let tables = [0x10_0000u64, 0x10_1000, 0x10_2000, 0x10_3000];
            for i in 0..levels {
                let level = hw_level(levels, i);
                let mut idx = table_index(va, level);
                if i == 0 {
                    idx &= (1 << (va_bits - (12 + 9 * (3 - level)))) - 1;
                }
                let d = if i + 1 < levels {
                    table_desc(tables[i as usize + 1])
                } else {
                    pfn_pte(0x2000_0000, PAGE_KERNEL)
                };
                mem.insert(tables[i as usize] + idx * 8, d);
            }
            let w = walk(va, va_bits, tables[0], |pa| Some(*mem.get(&pa).unwrap_or(&0)));
            assert_eq!(w.len(), levels as usize);
            assert_eq!(w.pa, Some(0x2000_0000 + (va & 0xfff)));
            let mut s = std::string::String::new();
            write_walk(&mut s, va, va_bits, &w).unwrap();
            assert!(s.contains(&format!("{levels} levels")), "{s}");
            assert!(s.contains("page -> 0x20000000 MT_NORMAL SHD EL1:RW EL0:-- AF G DBM"), "{s}");
            // An unmapped address stops at the first empty entry.
            let other =
                super::super::memory::page_offset(va_bits) + 3 * entry_span(hw_level(levels, 0));
            let w = walk(other, va_bits, tables[0], |pa| Some(*mem.get(&pa).unwrap_or(&0)));
            assert_eq!((w.len(), w.pa), (1, None));
        }
    }
}
