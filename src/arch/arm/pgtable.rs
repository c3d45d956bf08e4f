//! The 2-level ARM Linux page tables (`pgtable-2level.h`), as pure data and functions over any
//! physical-memory accessor: Linux's software PTE bits, the memory types `build_mem_type_table()`
//! computes for an SMP ARMv7 with TEX remap, `cpu_v7_set_pte_ext()` (the hardware PTE derived
//! from the Linux one), the table page holding two Linux and two hardware tables, map/unmap/
//! lookup of one PTE, and `show_pte()`'s line. Host-tested; `mmu` applies it to the live tables.
use core::fmt;

use super::desc::{
    self, SectionFlags, SmallPageFlags, TableFlags, DOMAIN_IO, DOMAIN_KERNEL, DOMAIN_USER,
    DOMAIN_VECTORS, L2_ENTRIES, SECTION_SHIFT, SMALL_PAGE_SHIFT,
};
use crate::mm::pgprot::PageProt;

// Linux's software PTE bits (the Linux half of a table page).
/// `L_PTE_VALID` / `L_PTE_PRESENT`.
pub const L_PTE_PRESENT: u32 = 1 << 0;
/// Referenced since last aged; the hardware entry exists only while it is set.
pub const L_PTE_YOUNG: u32 = 1 << 1;
/// Written since last cleaned; the hardware entry is writable only while it is set.
pub const L_PTE_DIRTY: u32 = 1 << 6;
pub const L_PTE_RDONLY: u32 = 1 << 7;
pub const L_PTE_USER: u32 = 1 << 8;
pub const L_PTE_XN: u32 = 1 << 9;
/// Shareable (SMP): copied to the hardware S bit.
pub const L_PTE_SHARED: u32 = 1 << 10;
/// `PROT_NONE`: present for Linux, faulting for the hardware.
pub const L_PTE_NONE: u32 = 1 << 11;

// Memory types in PTE bits [5:2]; bits [4:2] are the TEX remap index TEX[0]:C:B.
pub const L_PTE_MT_UNCACHED: u32 = 0x00;
pub const L_PTE_MT_BUFFERABLE: u32 = 0x04;
pub const L_PTE_MT_WRITETHROUGH: u32 = 0x08;
pub const L_PTE_MT_WRITEBACK: u32 = 0x0c;
pub const L_PTE_MT_MINICACHE: u32 = 0x18;
pub const L_PTE_MT_WRITEALLOC: u32 = 0x1c;
pub const L_PTE_MT_DEV_SHARED: u32 = 0x10;
pub const L_PTE_MT_DEV_NONSHARED: u32 = 0x30;
pub const L_PTE_MT_DEV_WC: u32 = 0x24;
pub const L_PTE_MT_DEV_CACHED: u32 = 0x2c;
pub const L_PTE_MT_VECTORS: u32 = 0x3c;
pub const L_PTE_MT_MASK: u32 = 0x3c;
/// The Linux PTE bits `cpu_v7_set_pte_ext` does not copy to the hardware entry.
const LINUX_ONLY_BITS: u32 = 0x3f0;

/// First-level bit 4: set in the table descriptors `pmd_populate_kernel()` writes
/// (`PMD_BIT4`, a leftover of ARMv5 that ARMv7 ignores).
pub const PMD_BIT4: u32 = 1 << 4;
/// `_PAGE_KERNEL_TABLE`: vmalloc, ioremap and pkmap tables.
pub const PAGE_KERNEL_TABLE: u32 =
    TableFlags::TYPE_TABLE.bits() | PMD_BIT4 | domain_bits(DOMAIN_KERNEL);
/// `_PAGE_USER_TABLE` with `PMD_PXNTABLE`, which 6.1 adds when ID_MMFR0 reports PXN (the
/// Cortex-A7 does): user tables never hold kernel-executable code.
pub const PAGE_USER_TABLE: u32 =
    TableFlags::TYPE_TABLE.bits() | PMD_BIT4 | domain_bits(DOMAIN_USER) | TableFlags::PXN.bits();

/// Entries of one Linux table (`PTRS_PER_PTE`): 2 MiB, the two hardware tables of a pair.
pub const PTRS_PER_PTE: usize = 2 * L2_ENTRIES;
/// Hardware entries follow the Linux ones (`PTE_HWTABLE_PTRS`, `PTE_HWTABLE_OFF`).
pub const PTE_HWTABLE_PTRS: usize = PTRS_PER_PTE;
pub const PTE_HWTABLE_OFF: u64 = (PTE_HWTABLE_PTRS * 4) as u64;
/// Bytes of a table page: two Linux tables then two hardware tables.
pub const PTE_TABLE_PAGE: u64 = 2 * PTE_HWTABLE_OFF;
/// A Linux pgd entry covers two first-level entries (`PGDIR_SHIFT`).
pub const PGDIR_SHIFT: u32 = SECTION_SHIFT + 1;
/// `PGDIR_SIZE` (= `PMD_SIZE`, the levels between folded): the 2 MiB one table page maps.
pub const PGDIR_SIZE: usize = 1 << PGDIR_SHIFT;

/// `free_pgd_range()`'s arithmetic: of the tables covering `[addr, end)`, those whose whole
/// 2 MiB lies in `[floor, ceiling)` (`ceiling` `None`: `USER_PGTABLES_CEILING`, 0 on ARM, no
/// limit), as the start of the first and the end of the last such span; `None` when there
/// is none. A table partly outside may still map a VMA beside the range and stays.
pub const fn free_pgd_span(
    addr: usize,
    end: usize,
    floor: usize,
    ceiling: Option<usize>,
) -> Option<(usize, usize)> {
    let mask = !(PGDIR_SIZE - 1);
    let mut addr = addr & mask;
    if addr < floor {
        addr = match addr.checked_add(PGDIR_SIZE) {
            Some(a) => a,
            None => return None,
        };
    }
    let mut end = end;
    if let Some(c) = ceiling {
        let c = c & mask;
        if c == 0 {
            return None;
        }
        if end - 1 > c - 1 {
            end -= PGDIR_SIZE;
        }
    }
    if end == 0 || addr > end - 1 {
        return None;
    }
    // The tables from `addr` up to the one holding `end - 1`.
    Some((addr, ((end - 1) & mask) + PGDIR_SIZE))
}

const fn domain_bits(domain: u8) -> u32 {
    (domain as u32) << 5
}

/// Hardware small-page bits `cpu_v7_set_pte_ext` sets.
const PTE_EXT_XN: u32 = SmallPageFlags::XN.bits();
const PTE_TYPE_SMALL: u32 = SmallPageFlags::TYPE_SMALL.bits();
const PTE_TYPE_MASK: u32 = 0b11;
const PTE_EXT_AP0: u32 = SmallPageFlags::AP0.bits();
const PTE_EXT_AP1: u32 = SmallPageFlags::AP1.bits();
const PTE_EXT_APX: u32 = SmallPageFlags::AP2.bits();
const PTE_EXT_TEX1: u32 = 1 << 6;
/// `PTE_EXT_NG`: the `ext` value `set_pte_at()` passes for user pages.
pub const PTE_EXT_NG: u32 = SmallPageFlags::NG.bits();
/// The Linux memory-type bit that becomes `TEX[0]`.
const L_PTE_MT_TEX0: u32 = 1 << 4;

/// `cpu_v7_set_pte_ext`: the hardware small-page entry for Linux PTE `pte` (`ext` adds nG).
/// The hardware entry is read-only unless the page is dirty (software dirty tracking), and
/// absent unless the page is young, present and not `PROT_NONE` (software young tracking).
pub const fn set_pte_ext(pte: u32, ext: u32) -> u32 {
    let mut hw = (pte & !LINUX_ONLY_BITS & !PTE_TYPE_MASK) | ext | PTE_EXT_AP0 | PTE_TYPE_SMALL;
    if pte & L_PTE_MT_TEX0 != 0 {
        hw |= PTE_EXT_TEX1;
    }
    if pte & L_PTE_RDONLY != 0 || pte & L_PTE_DIRTY == 0 {
        hw |= PTE_EXT_APX;
    }
    if pte & L_PTE_USER != 0 {
        hw |= PTE_EXT_AP1;
    }
    if pte & L_PTE_XN != 0 {
        hw |= PTE_EXT_XN;
    }
    if pte & L_PTE_YOUNG == 0 || pte & L_PTE_PRESENT == 0 || pte & L_PTE_NONE != 0 {
        hw = 0;
    }
    hw
}

/// Linux's ptdump name of a Linux memory type (`L_PTE_MT_*`), None for an unused value.
pub const fn mt_name(mt: u32) -> Option<&'static str> {
    Some(match mt & L_PTE_MT_MASK {
        L_PTE_MT_UNCACHED => "SO/UNCACHED",
        L_PTE_MT_BUFFERABLE => "MEM/BUFFERABLE/WC",
        L_PTE_MT_WRITETHROUGH => "MEM/CACHED/WT",
        L_PTE_MT_WRITEBACK => "MEM/CACHED/WBRA",
        L_PTE_MT_MINICACHE => "MEM/MINICACHE",
        L_PTE_MT_WRITEALLOC => "MEM/CACHED/WBWA",
        L_PTE_MT_DEV_SHARED => "DEV/SHARED",
        L_PTE_MT_DEV_NONSHARED => "DEV/NONSHARED",
        L_PTE_MT_DEV_WC => "DEV/WC",
        L_PTE_MT_DEV_CACHED => "DEV/CACHED",
        _ => return None,
    })
}

/// Swap entries in the Linux PTE (6.1's 2-level `arch/arm/include/asm/pgtable.h`): bits 0-1
/// clear (not present, not young: the hardware entry stays 0), the type in bits 2-6, the
/// offset in bits 7-31. 31 types and 2^25 pages (128 GiB) an area; the offset is never 0
/// (slot 0 is the header), so a swap PTE is never `pte_none`.
pub const __SWP_TYPE_SHIFT: u32 = 2;
pub const __SWP_TYPE_BITS: u32 = 5;
pub const __SWP_TYPE_MASK: u32 = (1 << __SWP_TYPE_BITS) - 1;
pub const __SWP_OFFSET_SHIFT: u32 = __SWP_TYPE_BITS + __SWP_TYPE_SHIFT;
// MAX_SWAPFILES_CHECK: every type fits the PTE's field.
const _: () = assert!(crate::mm::swapops::MAX_SWAPFILES_SHIFT <= __SWP_TYPE_BITS);

/// `max_swapfile_size()`: the largest offset a swap PTE holds, plus one.
pub const MAX_SWAPFILE_PAGES: u64 = 1 << (32 - __SWP_OFFSET_SHIFT);

/// `swp_entry_to_pte`: the Linux PTE of a swap entry.
pub const fn swp_entry_to_pte(e: crate::mm::swapops::SwpEntry) -> u32 {
    ((e.swp_type() & __SWP_TYPE_MASK) << __SWP_TYPE_SHIFT) | (e.offset() << __SWP_OFFSET_SHIFT)
}

/// A Linux PTE value with readable flags (`pt` prints it after the raw value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxPte(pub u32);

impl LinuxPte {
    pub const fn pfn_phys(self) -> u64 {
        (self.0 >> SMALL_PAGE_SHIFT << SMALL_PAGE_SHIFT) as u64
    }
    pub const fn present(self) -> bool {
        self.0 & L_PTE_PRESENT != 0
    }
    pub const fn young(self) -> bool {
        self.0 & L_PTE_YOUNG != 0
    }
    pub const fn dirty(self) -> bool {
        self.0 & L_PTE_DIRTY != 0
    }
    /// `pte_pfn`.
    pub const fn pfn(self) -> u64 {
        self.pfn_phys() >> SMALL_PAGE_SHIFT
    }
    /// `pte_write`: `L_PTE_RDONLY` clear (the hardware entry stays read-only until the PTE
    /// is dirty too).
    pub const fn write(self) -> bool {
        self.0 & L_PTE_RDONLY == 0
    }
    /// `pte_exec`: `L_PTE_XN` clear.
    pub const fn exec(self) -> bool {
        self.0 & L_PTE_XN == 0
    }
    /// `is_swap_pte` + `pte_to_swp_entry`: the entry a non-present, non-empty PTE holds.
    pub const fn swp_entry(self) -> Option<crate::mm::swapops::SwpEntry> {
        if self.0 == 0 || self.present() {
            return None;
        }
        Some(crate::mm::swapops::SwpEntry::new(
            (self.0 >> __SWP_TYPE_SHIFT) & __SWP_TYPE_MASK,
            self.0 >> __SWP_OFFSET_SHIFT,
        ))
    }
    /// `pte_mkyoung`, `pte_mkold`, `pte_mkdirty`, `pte_mkclean`, `pte_wrprotect`: the software
    /// bits a fault handler or reclaim changes (then written back with [`PageTable::update`]).
    pub const fn mkyoung(self) -> Self {
        Self(self.0 | L_PTE_YOUNG)
    }
    pub const fn mkold(self) -> Self {
        Self(self.0 & !L_PTE_YOUNG)
    }
    pub const fn mkdirty(self) -> Self {
        Self(self.0 | L_PTE_DIRTY)
    }
    pub const fn mkclean(self) -> Self {
        Self(self.0 & !L_PTE_DIRTY)
    }
    pub const fn wrprotect(self) -> Self {
        Self(self.0 | L_PTE_RDONLY)
    }
    /// What the mapping allows, in arch-neutral terms.
    pub const fn prot(self) -> PageProt {
        let mut p = PageProt::READ.bits();
        if self.0 & L_PTE_RDONLY == 0 {
            p |= PageProt::WRITE.bits();
        }
        if self.0 & L_PTE_XN == 0 {
            p |= PageProt::EXEC.bits();
        }
        if self.0 & L_PTE_USER != 0 {
            p |= PageProt::USER.bits();
        }
        let mt = self.0 & L_PTE_MT_MASK;
        if mt == L_PTE_MT_DEV_SHARED || mt == L_PTE_MT_DEV_NONSHARED {
            p |= PageProt::DEVICE.bits();
        }
        PageProt::from_bits_truncate(p)
    }
}

impl fmt::Display for LinuxPte {
    /// `L_PTE_PRESENT|L_PTE_YOUNG|... MT_WRITEALLOC (MEM/CACHED/WBWA)`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        if let Some(e) = self.swp_entry() {
            return write!(f, "swap {e}");
        }
        const NAMES: [(u32, &str); 8] = [
            (L_PTE_PRESENT, "L_PTE_PRESENT"),
            (L_PTE_YOUNG, "L_PTE_YOUNG"),
            (L_PTE_DIRTY, "L_PTE_DIRTY"),
            (L_PTE_RDONLY, "L_PTE_RDONLY"),
            (L_PTE_USER, "L_PTE_USER"),
            (L_PTE_XN, "L_PTE_XN"),
            (L_PTE_SHARED, "L_PTE_SHARED"),
            (L_PTE_NONE, "L_PTE_NONE"),
        ];
        let mut first = true;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        match mt_name(self.0) {
            Some(n) => write!(f, " {n}"),
            None => write!(f, " MT {:#x}", self.0 & L_PTE_MT_MASK),
        }
    }
}

/// One of Linux's memory types as `build_mem_type_table()` leaves it on an SMP ARMv7 with TEX
/// remap and the write-allocate cache policy: Linux PTE bits, the first-level table
/// descriptor bits, the section bits (0 if the type is never section-mapped) and the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemType {
    pub name: &'static str,
    pub prot_pte: u32,
    pub prot_l1: u32,
    pub prot_sect: u32,
    pub domain: u8,
}

const PROT_PTE_DEVICE: u32 = L_PTE_PRESENT | L_PTE_YOUNG | L_PTE_DIRTY | L_PTE_XN;
/// `kern_pgprot` / `vecs_pgprot`: the cache policy's memory type, shared because SMP.
const KERN_PGPROT: u32 = L_PTE_MT_WRITEALLOC | L_PTE_SHARED;
/// `PMD_SECT_WBWA`: TEX=001 C=1 B=1, remap index 7.
const PMD_SECT_WBWA: u32 = (1 << 12) | SectionFlags::C.bits() | SectionFlags::B.bits();
const PMD_TYPE_SECT: u32 = SectionFlags::TYPE_SECT.bits();
const PMD_SECT_AP_WRITE: u32 = SectionFlags::AP0.bits();
const PMD_SECT_APX: u32 = SectionFlags::AP2.bits();
const PMD_SECT_XN: u32 = SectionFlags::XN.bits();
const PMD_SECT_S: u32 = SectionFlags::S.bits();
const PMD_SECT_TEX1: u32 = 1 << 12;
const PMD_TYPE_TABLE: u32 = TableFlags::TYPE_TABLE.bits();

/// `MT_DEVICE`: shared device memory (remap index 4 with S), never executable, domain IO.
pub const MT_DEVICE: MemType = MemType {
    name: "MT_DEVICE",
    prot_pte: PROT_PTE_DEVICE | L_PTE_MT_DEV_SHARED | L_PTE_SHARED,
    prot_l1: PMD_TYPE_TABLE | domain_bits(DOMAIN_IO),
    prot_sect: PMD_TYPE_SECT
        | PMD_SECT_AP_WRITE
        | PMD_SECT_S
        | PMD_SECT_XN
        | PMD_SECT_TEX1
        | domain_bits(DOMAIN_IO),
    domain: DOMAIN_IO,
};
/// `MT_MEMORY_RWX`: the kernel image's sections before `mark_rodata_ro()`.
pub const MT_MEMORY_RWX: MemType = MemType {
    name: "MT_MEMORY_RWX",
    prot_pte: L_PTE_PRESENT | L_PTE_YOUNG | L_PTE_DIRTY | KERN_PGPROT,
    prot_l1: PMD_TYPE_TABLE | domain_bits(DOMAIN_KERNEL),
    prot_sect: PMD_TYPE_SECT
        | PMD_SECT_AP_WRITE
        | PMD_SECT_S
        | PMD_SECT_WBWA
        | domain_bits(DOMAIN_KERNEL),
    domain: DOMAIN_KERNEL,
};
/// `MT_MEMORY_RW`: lowmem outside the kernel image, vmalloc, pkmap (`PAGE_KERNEL`).
pub const MT_MEMORY_RW: MemType = MemType {
    name: "MT_MEMORY_RW",
    prot_pte: MT_MEMORY_RWX.prot_pte | L_PTE_XN,
    prot_sect: MT_MEMORY_RWX.prot_sect | PMD_SECT_XN,
    ..MT_MEMORY_RWX
};
/// Read-only kernel data: `MT_MEMORY_RW` with the read-only bit `mark_rodata_ro()` sets
/// (Linux's `section_perms`).
pub const MT_MEMORY_RO: MemType = MemType {
    name: "MT_MEMORY_RO",
    prot_pte: MT_MEMORY_RW.prot_pte | L_PTE_RDONLY,
    prot_sect: MT_MEMORY_RW.prot_sect | PMD_SECT_APX,
    ..MT_MEMORY_RW
};
/// Kernel text: `MT_MEMORY_RWX` made read-only by `mark_rodata_ro()`, still executable.
pub const MT_MEMORY_RX: MemType = MemType {
    name: "MT_MEMORY_RWX ro",
    prot_pte: MT_MEMORY_RWX.prot_pte | L_PTE_RDONLY,
    prot_sect: MT_MEMORY_RWX.prot_sect | PMD_SECT_APX,
    ..MT_MEMORY_RWX
};
/// `MT_HIGH_VECTORS`: the vector page at 0xffff0000, readable and executable by user space
/// (the kuser helpers live in its last 160 bytes), domain VECTORS.
pub const MT_HIGH_VECTORS: MemType = MemType {
    name: "MT_HIGH_VECTORS",
    prot_pte: L_PTE_PRESENT | L_PTE_YOUNG | L_PTE_DIRTY | L_PTE_USER | L_PTE_RDONLY | KERN_PGPROT,
    prot_l1: PMD_TYPE_TABLE | domain_bits(DOMAIN_VECTORS),
    prot_sect: 0,
    domain: DOMAIN_VECTORS,
};
/// `MT_LOW_VECTORS`: the stubs page at 0xffff1000, kernel read-only.
pub const MT_LOW_VECTORS: MemType = MemType {
    name: "MT_LOW_VECTORS",
    prot_pte: MT_HIGH_VECTORS.prot_pte & !L_PTE_USER,
    ..MT_HIGH_VECTORS
};

/// Every memory type pivm maps with, for naming an entry.
pub const MEM_TYPES: [MemType; 7] = [
    MT_DEVICE,
    MT_MEMORY_RWX,
    MT_MEMORY_RW,
    MT_MEMORY_RO,
    MT_MEMORY_RX,
    MT_HIGH_VECTORS,
    MT_LOW_VECTORS,
];

/// The memory type whose PTE bits a Linux PTE carries (ignoring the PFN and the young and
/// dirty bits, which change while mapped). The stubs page and kernel text have the same PTE
/// bits: the table's `domain` decides between them. (ioremap tables are in the kernel
/// domain, as `pte_alloc_kernel` makes them, so `MT_DEVICE` matches in any domain.)
/// A user page (in the user domain) has no kernel memory type: its PTE is a protection
/// (`vm_get_page_prot`), whatever kernel type it happens to share bits with.
pub fn mem_type_of_pte(pte: u32, domain: u8) -> Option<&'static MemType> {
    if domain == super::desc::DOMAIN_USER {
        return None;
    }
    let mask = !(L_PTE_YOUNG | L_PTE_DIRTY) & 0xfff;
    let mut matching = MEM_TYPES.iter().filter(|t| t.prot_pte & mask == pte & mask);
    let first = matching.clone().next();
    matching.find(|t| t.domain == domain).or(first)
}

/// The memory type of a first-level section entry.
pub fn mem_type_of_section(sect: u32) -> Option<&'static MemType> {
    const MASK: u32 = 0x000f_fffe & !SectionFlags::SUPER.bits() & !SectionFlags::NS.bits();
    MEM_TYPES.iter().find(|t| t.prot_sect != 0 && t.prot_sect & MASK == sect & MASK)
}

/// The Linux PTE for mapping a page with arch-neutral protections (`vm_get_page_prot()`'s
/// result for user pages, `PAGE_KERNEL`-based for kernel ones). User pages start clean, as
/// Linux's do: the hardware entry is read-only until the page is marked dirty.
pub const fn pgprot(prot: PageProt) -> u32 {
    let p = prot.bits();
    let mut pte = L_PTE_PRESENT | L_PTE_YOUNG;
    if p & PageProt::DEVICE.bits() != 0 {
        pte = PROT_PTE_DEVICE | L_PTE_MT_DEV_SHARED | L_PTE_SHARED;
    } else {
        pte |= KERN_PGPROT;
        if p & PageProt::USER.bits() == 0 {
            pte |= L_PTE_DIRTY;
        }
    }
    if p & PageProt::USER.bits() != 0 {
        pte |= L_PTE_USER;
    }
    if p & PageProt::WRITE.bits() == 0 {
        pte |= L_PTE_RDONLY;
    }
    if p & PageProt::EXEC.bits() == 0 {
        pte |= L_PTE_XN;
    }
    pte
}

/// `pfn_pte()`: the Linux PTE mapping the page at `pa` with `prot_pte`.
pub const fn pfn_pte(pa: u64, prot_pte: u32) -> u32 {
    (pa as u32 & !((1 << SMALL_PAGE_SHIFT) - 1)) | (prot_pte & ((1 << SMALL_PAGE_SHIFT) - 1))
}

/// `__pmd_populate()`: the two first-level entries pointing at the hardware tables of the
/// table page at `page_pa` (the even section's at +2048, the odd one's at +3072).
pub const fn pmd_populate(page_pa: u64, prot_l1: u32) -> [u32; 2] {
    let hw = page_pa as u32 + PTE_HWTABLE_OFF as u32;
    [hw | prot_l1, (hw + (L2_ENTRIES * 4) as u32) | prot_l1]
}

/// `__pmd_populate()` in a table's first-level entries: the two entries of `va`'s 2 MiB pair.
pub const fn pgd_index_pair(va: u32) -> usize {
    ((va >> PGDIR_SHIFT) as usize) * 2
}

/// Access to physical memory for the table code: descriptors are read and written by physical
/// address (the kernel goes through the linear map; tests use a map).
pub trait PhysMem {
    fn read(&self, pa: u64) -> Option<u32>;
    fn write(&mut self, pa: u64, value: u32);
    /// A pointer to the `n` consecutive words from `pa`, when this memory holds them as
    /// ordinary memory (a table page in the linear map): a range of PTEs is then read and
    /// cleared with plain loads and stores instead of a translation per word. `None` makes
    /// the caller go word by word.
    fn words(&self, _pa: u64, _n: usize) -> Option<*mut u32> {
        None
    }
}

/// Whether the `n` words at `p` are all 0: an OR of sixteen words per step, no branch per word
/// (plain loads, which the compiler may combine into `ldm`), so a run of empty PTEs costs
/// about one instruction each.
///
/// # Safety
/// `p` must point at `n` readable words (lent by [`PhysMem::words`]) under the table lock
/// (nothing else writes them meanwhile: ARMv7's short descriptors have no hardware
/// access or dirty bits).
unsafe fn all_zero(p: *const u32, n: usize) -> bool {
    // SAFETY: the caller promised `n` readable words at `p`, unchanged while we read.
    let words = unsafe { core::slice::from_raw_parts(p, n) };
    let mut chunks = words.chunks_exact(16);
    for c in &mut chunks {
        let a = (c[0] | c[1]) | (c[2] | c[3]) | (c[4] | c[5]) | (c[6] | c[7]);
        let b = (c[8] | c[9]) | (c[10] | c[11]) | (c[12] | c[13]) | (c[14] | c[15]);
        if a | b != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&w| w == 0)
}

/// Why a table could not be changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No memory for a table page.
    NoL2Table,
    /// The address is covered by a section mapping (lowmem), not by a page table.
    SectionInTheWay(u32),
    /// The first-level entry points at a table that is not in Linux's layout (its hardware
    /// table is not in the upper half of a page).
    NotLinuxTable(u32),
    /// A descriptor could not be read.
    Unreadable(u64),
    /// A physical address past 4 GiB, which short descriptors cannot hold (no LPAE).
    PhysTooHigh(u64),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NoL2Table => f.write_str("out of memory for a page table"),
            MapError::SectionInTheWay(va) => write!(f, "{va:#010x} is mapped by a section"),
            MapError::NotLinuxTable(va) => {
                write!(f, "{va:#010x}: the page table is not in Linux's two-table layout")
            }
            MapError::Unreadable(pa) => write!(f, "cannot read a descriptor at {pa:#010x}"),
            MapError::PhysTooHigh(pa) => {
                write!(f, "physical address {pa:#x} is beyond 32 bits (no LPAE)")
            }
        }
    }
}

/// Where `va`'s two PTEs live: the Linux entry and, 2048 bytes above it, the hardware one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteSlot {
    pub linux: u64,
    pub hw: u64,
}

/// A first-level table (`swapper_pg_dir` or, later, a process's) and the operations on the
/// PTEs below it. `pgd` is the table's physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageTable {
    pub pgd: u64,
}

impl PageTable {
    /// Physical address of `va`'s first-level entry.
    pub const fn l1_entry(&self, va: u32) -> u64 {
        self.pgd + ((va >> SECTION_SHIFT) as u64) * 4
    }

    /// The PTE slot for `va` if a page table covers it (`pte_offset_kernel`).
    pub fn pte_slot(&self, mem: &impl PhysMem, va: u32) -> Result<Option<PteSlot>, MapError> {
        let l1_pa = self.l1_entry(va);
        let l1 = mem.read(l1_pa).ok_or(MapError::Unreadable(l1_pa))?;
        match desc::decode_l1(l1) {
            desc::L1Desc::Fault => Ok(None),
            desc::L1Desc::PageTable { l2, .. } => {
                if l2.0 & (PTE_TABLE_PAGE - 1) < PTE_HWTABLE_OFF {
                    return Err(MapError::NotLinuxTable(va));
                }
                let hw = desc::l2_entry_addr(l2.0, va);
                Ok(Some(PteSlot { linux: hw - PTE_HWTABLE_OFF, hw }))
            }
            _ => Err(MapError::SectionInTheWay(va)),
        }
    }

    /// The PTE slot for `va`, creating its table page with `alloc` (a zeroed, page-aligned
    /// page's physical address) and pointing both first-level entries of the pair at it with
    /// `prot_l1` (`pte_alloc_kernel` / `pte_alloc`). Returns whether a page was taken.
    pub fn pte_alloc(
        &self,
        mem: &mut impl PhysMem,
        va: u32,
        prot_l1: u32,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(PteSlot, bool), MapError> {
        if let Some(slot) = self.pte_slot(mem, va)? {
            return Ok((slot, false));
        }
        let page = alloc().ok_or(MapError::NoL2Table)?;
        let entries = pmd_populate(page, prot_l1);
        let first = self.l1_entry(va & !((1 << PGDIR_SHIFT) - 1));
        for (i, e) in entries.iter().enumerate() {
            let pa = first + 4 * i as u64;
            // A half already mapped by a section keeps its section.
            if mem.read(pa).ok_or(MapError::Unreadable(pa))? & 0b11 == 0 {
                mem.write(pa, *e);
            }
        }
        let slot = self.pte_slot(mem, va)?.ok_or(MapError::NoL2Table)?;
        Ok((slot, true))
    }

    /// `set_pte_ext()`: writes the Linux PTE and the hardware one derived from it; returns the
    /// old Linux PTE.
    pub fn set_pte(mem: &mut impl PhysMem, slot: PteSlot, pte: u32, ext: u32) -> u32 {
        let old = mem.read(slot.linux).unwrap_or(0);
        mem.write(slot.linux, pte);
        mem.write(slot.hw, set_pte_ext(pte, ext));
        old
    }

    /// The `ext` bits `set_pte_at()` adds: nG for user pages below the kernel.
    pub const fn ext_for(va: u32, pte: u32) -> u32 {
        if pte & L_PTE_USER != 0 && (va as u64) < crate::config::PAGE_OFFSET {
            PTE_EXT_NG
        } else {
            0
        }
    }

    /// Maps the page at `pa` at `va` with `prot_pte` (Linux PTE bits), creating the table
    /// (kernel or user layout by address) if needed. Returns whether a table page was taken.
    pub fn map(
        &self,
        mem: &mut impl PhysMem,
        va: u32,
        pa: u64,
        prot_pte: u32,
        prot_l1: u32,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<bool, MapError> {
        let (slot, taken) = self.pte_alloc(mem, va, prot_l1, alloc)?;
        let pte = pfn_pte(pa, prot_pte);
        Self::set_pte(mem, slot, pte, Self::ext_for(va, pte));
        Ok(taken)
    }

    /// Maps with arch-neutral protections: the interface a process address space uses.
    pub fn map_prot(
        &self,
        mem: &mut impl PhysMem,
        va: u32,
        pa: u64,
        prot: PageProt,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<bool, MapError> {
        let table = if (va as u64) < crate::config::PAGE_OFFSET {
            PAGE_USER_TABLE
        } else {
            PAGE_KERNEL_TABLE
        };
        self.map(mem, va, pa, pgprot(prot), table, alloc)
    }

    /// `zap_pte_range` over `[start, end)`, which lies inside one first-level entry (1 MiB):
    /// clears every non-empty PTE (both halves) and stores the old Linux PTEs in `old`, one
    /// per page of the range (0 where there was none). False when the entry has no table or
    /// the range holds no entry (`old` is not to be read then: an untouched range, the common case of
    /// `munmap`, is one load per PTE). One table lookup for the whole range, then consecutive
    /// slots; the caller flushes the TLB.
    pub fn clear_ptes(
        &self,
        mem: &mut impl PhysMem,
        start: u32,
        end: u32,
        old: &mut [u32],
    ) -> Result<bool, MapError> {
        debug_assert!(start < end && (end - 1) >> SECTION_SHIFT == start >> SECTION_SHIFT);
        let Some(slot) = self.pte_slot(mem, start)? else { return Ok(false) };
        let n = ((end - start) as usize).div_ceil(1 << SMALL_PAGE_SHIFT).min(old.len());
        if let (Some(linux), Some(hw)) = (mem.words(slot.linux, n), mem.words(slot.hw, n)) {
            // SAFETY: `words` lent `n` words; the caller holds the table lock.
            if unsafe { all_zero(linux, n) } {
                return Ok(false);
            }
            for (i, o) in old[..n].iter_mut().enumerate() {
                // SAFETY: `words` lent `n` words at each address; the caller holds the table
                // lock.
                unsafe {
                    let v = linux.add(i).read_volatile();
                    *o = v;
                    if v != 0 {
                        linux.add(i).write_volatile(0);
                        hw.add(i).write_volatile(0);
                    }
                }
            }
            return Ok(true);
        }
        let mut any = 0;
        for (i, o) in old[..n].iter_mut().enumerate() {
            let off = 4 * i as u64;
            let v = mem.read(slot.linux + off).unwrap_or(0);
            *o = v;
            any |= v;
            if v != 0 {
                mem.write(slot.linux + off, 0);
                mem.write(slot.hw + off, 0);
            }
        }
        Ok(any != 0)
    }

    /// Whether `[start, end)` (inside one first-level entry) holds no PTE (present or swap):
    /// true also when the entry has no table. One table lookup and one OR-scan of the Linux
    /// PTEs, with no buffer: `munmap` of an untouched range beside a live table (the table
    /// stays for its neighbour) skips the range on this alone, as `zap_pte_range` finds
    /// every slot `pte_none`.
    pub fn ptes_none(&self, mem: &impl PhysMem, start: u32, end: u32) -> Result<bool, MapError> {
        debug_assert!(start < end && (end - 1) >> SECTION_SHIFT == start >> SECTION_SHIFT);
        let Some(slot) = self.pte_slot(mem, start)? else { return Ok(true) };
        let n = ((end - start) as usize).div_ceil(1 << SMALL_PAGE_SHIFT);
        if let Some(linux) = mem.words(slot.linux, n) {
            // SAFETY: `words` lent `n` words; the caller holds the table lock.
            return Ok(unsafe { all_zero(linux, n) });
        }
        Ok((0..n).all(|i| mem.read(slot.linux + 4 * i as u64).unwrap_or(0) == 0))
    }

    /// The Linux PTEs of `[start, end)` (inside one first-level entry) into `out`, one per
    /// page; false when the entry has no table or the range holds no entry (`out` is not to be
    /// read then). One table lookup for the whole range.
    pub fn read_ptes(
        &self,
        mem: &impl PhysMem,
        start: u32,
        end: u32,
        out: &mut [u32],
    ) -> Result<bool, MapError> {
        debug_assert!(start < end && (end - 1) >> SECTION_SHIFT == start >> SECTION_SHIFT);
        let Some(slot) = self.pte_slot(mem, start)? else { return Ok(false) };
        let n = ((end - start) as usize).div_ceil(1 << SMALL_PAGE_SHIFT).min(out.len());
        if let Some(linux) = mem.words(slot.linux, n) {
            // SAFETY: `words` lent `n` words; the caller holds the table lock.
            if unsafe { all_zero(linux, n) } {
                return Ok(false);
            }
            for (i, o) in out[..n].iter_mut().enumerate() {
                // SAFETY: `words` lent `n` words; the caller holds the table lock.
                *o = unsafe { linux.add(i).read_volatile() };
            }
            return Ok(true);
        }
        let mut any = 0;
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = mem.read(slot.linux + 4 * i as u64).unwrap_or(0);
            any |= *o;
        }
        Ok(any != 0)
    }

    /// Writes entry `i` of a table's Linux and hardware halves (`set_pte_ext`): through the
    /// words `fast` lent when the table is reachable that way, else through `mem`.
    fn write_pte_pair(
        mem: &mut impl PhysMem,
        slot: PteSlot,
        fast: Option<(*mut u32, *mut u32)>,
        i: usize,
        pte: u32,
        ext: u32,
    ) {
        let hw = set_pte_ext(pte, ext);
        match fast {
            // SAFETY: `words` lent the table's words and `i` is inside them; the caller holds
            // the table lock.
            Some((linux, hwp)) => unsafe {
                linux.add(i).write_volatile(pte);
                hwp.add(i).write_volatile(hw);
            },
            None => {
                let off = 4 * i as u64;
                mem.write(slot.linux + off, pte);
                mem.write(slot.hw + off, hw);
            }
        }
    }

    /// `filemap_map_pages`' walk from `start` (a run inside one first-level entry): writes
    /// `ptes[i]` (a Linux PTE for `start + i` pages; 0 offers none) into each empty slot
    /// (`pte_none`), zeroing `ptes[i]` where the slot was taken (a present page or a swap
    /// entry). One table lookup for the run; the table page is created with `alloc` before
    /// the first write, so a failure writes nothing. How many entries were written.
    pub fn set_ptes_none(
        &self,
        mem: &mut impl PhysMem,
        start: u32,
        ptes: &mut [u32],
        prot_l1: u32,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<usize, MapError> {
        let n = ptes.len();
        debug_assert!(
            n > 0
                && (start + ((n as u32 - 1) << SMALL_PAGE_SHIFT)) >> SECTION_SHIFT
                    == start >> SECTION_SHIFT
        );
        if ptes.iter().all(|&p| p == 0) {
            return Ok(0);
        }
        let slot = self.pte_alloc(mem, start, prot_l1, alloc)?.0;
        let fast = mem.words(slot.linux, n).zip(mem.words(slot.hw, n));
        let mut written = 0;
        for (i, pte) in ptes.iter_mut().enumerate() {
            if *pte == 0 {
                continue;
            }
            let old = match fast {
                // SAFETY: `words` lent `n` words; the caller holds the table lock.
                Some((linux, _)) => unsafe { linux.add(i).read_volatile() },
                None => mem.read(slot.linux + 4 * i as u64).unwrap_or(0),
            };
            if old != 0 {
                *pte = 0;
                continue;
            }
            let va = start + (i << SMALL_PAGE_SHIFT) as u32;
            Self::write_pte_pair(mem, slot, fast, i, *pte, Self::ext_for(va, *pte));
            written += 1;
        }
        Ok(written)
    }

    /// `copy_pte_range` over `[start, end)` (inside one first-level entry) from this table to
    /// `dst`: for each non-empty Linux PTE, `f(va, pte)` says what this table keeps and what
    /// `dst` gets (`Some((src, dst))`, Linux PTEs; None leaves both). One lookup in each
    /// table for the whole range; `dst`'s table page is created with `alloc` before the first
    /// PTE is offered, so a decision `f` made is always carried out. False when this table
    /// has none there. The caller flushes this table's TLB entries.
    #[allow(clippy::too_many_arguments)]
    pub fn copy_ptes(
        &self,
        dst: &PageTable,
        mem: &mut impl PhysMem,
        start: u32,
        end: u32,
        prot_l1: u32,
        alloc: &mut dyn FnMut() -> Option<u64>,
        mut f: impl FnMut(u32, u32) -> Option<(u32, u32)>,
    ) -> Result<bool, MapError> {
        debug_assert!(start < end && (end - 1) >> SECTION_SHIFT == start >> SECTION_SHIFT);
        let Some(src) = self.pte_slot(mem, start)? else { return Ok(false) };
        let n = ((end - start) as usize).div_ceil(1 << SMALL_PAGE_SHIFT);
        let mut to: Option<(PteSlot, Option<(*mut u32, *mut u32)>)> = None;
        let fast = mem.words(src.linux, n).zip(mem.words(src.hw, n));
        for i in 0..n {
            let off = 4 * i as u64;
            let va = start + (i << SMALL_PAGE_SHIFT) as u32;
            let old = match fast {
                // SAFETY: `words` lent `n` words; the caller holds the table lock.
                Some((linux, _)) => unsafe { linux.add(i).read_volatile() },
                None => mem.read(src.linux + off).unwrap_or(0),
            };
            if old == 0 {
                continue;
            }
            let (d, dfast) = match to {
                Some(d) => d,
                None => {
                    let d = dst.pte_alloc(mem, start, prot_l1, alloc)?.0;
                    *to.insert((d, mem.words(d.linux, n).zip(mem.words(d.hw, n))))
                }
            };
            let Some((keep, copy)) = f(va, old) else { continue };
            if keep != old {
                Self::write_pte_pair(mem, src, fast, i, keep, Self::ext_for(va, keep));
            }
            Self::write_pte_pair(mem, d, dfast, i, copy, Self::ext_for(va, copy));
        }
        Ok(true)
    }

    /// `pte_clear()`: removes `va`'s mapping, returning the old Linux PTE (0 if none). The
    /// caller flushes the TLB.
    pub fn unmap(&self, mem: &mut impl PhysMem, va: u32) -> Result<u32, MapError> {
        match self.pte_slot(mem, va)? {
            Some(slot) => {
                let old = mem.read(slot.linux).unwrap_or(0);
                mem.write(slot.linux, 0);
                mem.write(slot.hw, 0);
                Ok(old)
            }
            None => Ok(0),
        }
    }

    /// The Linux PTE mapping `va` (None if no table covers it or the entry is empty).
    pub fn lookup(&self, mem: &impl PhysMem, va: u32) -> Option<LinuxPte> {
        let slot = self.pte_slot(mem, va).ok()??;
        let pte = mem.read(slot.linux)?;
        (pte != 0).then_some(LinuxPte(pte))
    }

    /// Rewrites `va`'s Linux PTE (and so its hardware entry) with `f` (young/dirty updates,
    /// write protection). Returns the new PTE, None if nothing is mapped there.
    pub fn update(
        &self,
        mem: &mut impl PhysMem,
        va: u32,
        f: impl FnOnce(LinuxPte) -> LinuxPte,
    ) -> Option<LinuxPte> {
        let slot = self.pte_slot(mem, va).ok()??;
        let old = LinuxPte(mem.read(slot.linux)?);
        if old.0 == 0 {
            return None;
        }
        let new = f(old);
        Self::set_pte(mem, slot, new.0, Self::ext_for(va, new.0));
        Some(new)
    }

    /// The table page a pair of first-level entries points at, and clears them
    /// (`pmd_clear`/`free_pte_range`): the caller frees the page after flushing the TLB.
    pub fn take_pte_table(&self, mem: &mut impl PhysMem, va: u32) -> Option<u64> {
        let first = self.l1_entry(va & !((1 << PGDIR_SHIFT) - 1));
        let mut page = None;
        for i in 0..2 {
            let pa = first + 4 * i;
            if let desc::L1Desc::PageTable { l2, .. } = desc::decode_l1(mem.read(pa)?) {
                page = Some(l2.0 & !(PTE_TABLE_PAGE - 1));
                mem.write(pa, 0);
            }
        }
        page
    }
}

/// Linux's `show_pte()` line for `addr` in the table at `pgd`:
/// `[addr] *pgd=XXXXXXXX` (the even entry of the pair, as Linux's folded pgd reads it), then
/// `(bad)` for a section, or `, *pte=XXXXXXXX, *ppte=XXXXXXXX` (the Linux and the hardware
/// entry) for a page table. Unreadable descriptors end the line early.
pub fn write_show_pte(
    w: &mut impl fmt::Write,
    pgd: u64,
    addr: u32,
    read: impl Fn(u64) -> Option<u32>,
) -> fmt::Result {
    let first = pgd + (pgd_index_pair(addr) as u64) * 4;
    let Some(pmd) = read(first) else {
        return writeln!(w, "[{addr:08x}] *pgd=????????");
    };
    write!(w, "[{addr:08x}] *pgd={pmd:08x}")?;
    if pmd != 0 {
        if pmd & 0b10 != 0 {
            w.write_str("(bad)")?;
        } else {
            // pte_offset_map: the page holding the table, indexed over the whole 2 MiB.
            let page = u64::from(pmd) & !(PTE_TABLE_PAGE - 1);
            let index = ((addr >> SMALL_PAGE_SHIFT) as usize & (PTRS_PER_PTE - 1)) as u64;
            let pte = page + index * 4;
            if let (Some(l), Some(h)) = (read(pte), read(pte + PTE_HWTABLE_OFF)) {
                write!(w, ", *pte={l:08x}, *ppte={h:08x}")?;
            }
        }
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_pgd_span_keeps_tables_a_neighbour_shares() {
        const M: usize = 1 << 20;
        // Alone in its 2 MiB: the table goes.
        assert_eq!(
            free_pgd_span(0x40_0000, 0x40_0000 + M, 0x20_0000, Some(0x80_0000)),
            Some((0x40_0000, 0x60_0000))
        );
        // A VMA below ends inside the first table, one above starts inside the last: neither
        // table goes, those wholly between do.
        assert_eq!(
            free_pgd_span(0x41_0000, 0xa1_0000, 0x41_0000, Some(0xa1_0000)),
            Some((0x60_0000, 0xa0_0000))
        );
        assert_eq!(free_pgd_span(0x41_0000, 0x42_0000, 0x40_1000, Some(0x5f_f000)), None);
        // Floor rounds the start up, ceiling rounds down: 6.1's `free_pgd_range`.
        assert_eq!(
            free_pgd_span(0x50_0000, 0x70_0000, 0x40_0000, Some(0x70_0000)),
            Some((0x40_0000, 0x60_0000))
        );
        // No VMA above: up to the top.
        assert_eq!(
            free_pgd_span(0xbe00_0000, 0xbf00_0000, 0x1000, None),
            Some((0xbe00_0000, 0xbf00_0000))
        );
        // A ceiling below 2 MiB frees nothing.
        assert_eq!(free_pgd_span(0x2000, 0x3000, 0x2000, Some(0x10_0000)), None);
    }

    #[test]
    fn swap_ptes_use_linux_arm_layout() {
        use crate::mm::swapops::SwpEntry;
        let e = SwpEntry::new(1, 0x100);
        let pte = swp_entry_to_pte(e);
        assert_eq!(pte, (1 << 2) | (0x100 << 7));
        // Not present, not young: no hardware entry.
        assert_eq!(set_pte_ext(pte, PTE_EXT_NG), 0);
        assert_eq!(LinuxPte(pte).swp_entry(), Some(e));
        let max = SwpEntry::new(__SWP_TYPE_MASK, (MAX_SWAPFILE_PAGES - 1) as u32);
        assert_eq!(LinuxPte(swp_entry_to_pte(max)).swp_entry(), Some(max));
        assert_eq!(LinuxPte(0).swp_entry(), None);
        assert_eq!(LinuxPte(0x1234_5000 | L_PTE_PRESENT).swp_entry(), None);
        assert_eq!(alloc::format!("{}", LinuxPte(pte)), "swap 1:0x100");
    }
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<u64, u32>);

    impl PhysMem for Mem {
        fn read(&self, pa: u64) -> Option<u32> {
            Some(self.0.get(&pa).copied().unwrap_or(0))
        }
        fn write(&mut self, pa: u64, value: u32) {
            self.0.insert(pa, value);
        }
    }

    /// Memory that lends its words ([`PhysMem::words`]): physical address `pa` is word
    /// `pa / 4` of a buffer, as the linear map lends a table page.
    struct FlatMem(core::cell::UnsafeCell<Vec<u32>>);

    impl FlatMem {
        fn new(bytes: usize) -> Self {
            FlatMem(core::cell::UnsafeCell::new(vec![0; bytes / 4]))
        }
    }

    impl PhysMem for FlatMem {
        fn read(&self, pa: u64) -> Option<u32> {
            // SAFETY: single-threaded test; no reference into the buffer outlives a call.
            unsafe { (&*self.0.get()).get(pa as usize / 4).copied() }
        }
        fn write(&mut self, pa: u64, value: u32) {
            self.0.get_mut()[pa as usize / 4] = value;
        }
        fn words(&self, pa: u64, n: usize) -> Option<*mut u32> {
            // SAFETY: as for `read`; the range is checked against the buffer.
            let v = unsafe { &mut *self.0.get() };
            let i = pa as usize / 4;
            (i + n <= v.len()).then(|| v[i..].as_mut_ptr())
        }
    }

    const PGD: u64 = 0x4000;

    #[test]
    fn linux_mem_types_match_build_mem_type_table() {
        // Values an SMP ARMv7 Linux 6.1 computes (writealloc, shared, TEX remap).
        assert_eq!(MT_MEMORY_RW.prot_pte, 0x65f);
        assert_eq!(MT_MEMORY_RWX.prot_pte, 0x45f);
        assert_eq!(MT_DEVICE.prot_pte, 0x653);
        assert_eq!(MT_HIGH_VECTORS.prot_pte, 0x5df);
        assert_eq!(MT_LOW_VECTORS.prot_pte, 0x4df);
        assert_eq!(MT_MEMORY_RWX.prot_sect, 0x1140e);
        assert_eq!(MT_MEMORY_RW.prot_sect, 0x1141e);
        assert_eq!(MT_DEVICE.prot_sect, 0x11452);
        assert_eq!(MT_HIGH_VECTORS.prot_l1, 0x61);
        assert_eq!(MT_DEVICE.prot_l1, 0x41);
        assert_eq!(PAGE_KERNEL_TABLE, 0x11);
        assert_eq!(PAGE_USER_TABLE, 0x35);
    }

    #[test]
    fn set_pte_ext_as_cpu_v7_set_pte_ext() {
        // PAGE_KERNEL: TEX[0]=1 C=1 B=1 (index 7), S, AP=001, XN.
        assert_eq!(set_pte_ext(0x1234_5000 | MT_MEMORY_RW.prot_pte, 0), 0x1234_545f);
        // MT_DEVICE: index 4 (TEX[0]=1 C=0 B=0), S, XN.
        assert_eq!(set_pte_ext(0x3f20_1000 | MT_DEVICE.prot_pte, 0), 0x3f20_1453);
        // Vectors: user read-only (APX|AP1|AP0), executable; stubs: kernel read-only.
        assert_eq!(set_pte_ext(MT_HIGH_VECTORS.prot_pte, 0), 0x67e);
        assert_eq!(set_pte_ext(MT_LOW_VECTORS.prot_pte, 0), 0x65e);
        // Clean pages are read-only for the hardware; old or PROT_NONE pages are absent.
        let user = pgprot(PageProt::READ | PageProt::WRITE | PageProt::USER);
        assert_eq!(set_pte_ext(user, PTE_EXT_NG) & 0x230, 0x230);
        assert_eq!(set_pte_ext(user | L_PTE_DIRTY, PTE_EXT_NG) & 0x230, 0x030);
        assert_eq!(set_pte_ext(user, PTE_EXT_NG) & PTE_EXT_NG, PTE_EXT_NG);
        assert_eq!(set_pte_ext(user & !L_PTE_YOUNG, 0), 0);
        assert_eq!(set_pte_ext(user & !L_PTE_PRESENT, 0), 0);
        assert_eq!(set_pte_ext(user | L_PTE_NONE, 0), 0);
    }

    #[test]
    fn hardware_pte_decodes_to_the_same_memory_type() {
        for t in MEM_TYPES {
            let hw = set_pte_ext(0x0010_0000 | t.prot_pte, 0);
            let desc::L2Desc::SmallPage { attrs, .. } = desc::decode_l2(hw) else {
                panic!("{}: {hw:#x} is not a small page", t.name)
            };
            assert_eq!(Some(attrs.linux_name()), mt_name(t.prot_pte), "{}", t.name);
            assert_eq!(attrs.xn, t.prot_pte & L_PTE_XN != 0, "{}", t.name);
            if t.prot_sect != 0 {
                let desc::L1Desc::Section { attrs: s, domain, .. } = desc::decode_l1(t.prot_sect)
                else {
                    panic!()
                };
                assert_eq!(s.linux_name(), attrs.linux_name(), "{}", t.name);
                assert_eq!((s.ap, s.xn, domain), (attrs.ap, attrs.xn, t.domain), "{}", t.name);
                assert_eq!(mem_type_of_section(t.prot_sect), Some(&t));
            }
            assert_eq!(mem_type_of_pte(t.prot_pte | 0x8000_0000, t.domain), Some(&t));
        }
    }

    #[test]
    fn table_page_holds_two_linux_and_two_hardware_tables() {
        assert_eq!(pmd_populate(0x0a3f_5000, PAGE_KERNEL_TABLE), [0x0a3f_5811, 0x0a3f_5c11]);
        let mut m = Mem::default();
        let t = PageTable { pgd: PGD };
        let mut pages = vec![0x9000u64];
        let mut alloc = || pages.pop();
        // 0xbc900000 is the odd section of the pair 0xbc800000-0xbca00000.
        let taken = t
            .map(
                &mut m,
                0xbc90_1000,
                0x3f20_1000,
                MT_DEVICE.prot_pte,
                PAGE_KERNEL_TABLE,
                &mut alloc,
            )
            .unwrap();
        assert!(taken);
        assert_eq!(m.read(PGD + 0xbc8 * 4), Some(0x9811));
        assert_eq!(m.read(PGD + 0xbc9 * 4), Some(0x9c11));
        // Index 257 of the 512-entry Linux table; the hardware entry 2048 bytes above.
        assert_eq!(m.read(0x9000 + 257 * 4), Some(0x3f20_1653));
        assert_eq!(m.read(0x9800 + 257 * 4), Some(0x3f20_1453));
        let walk = desc::walk(PGD, 0, 0xbc90_1abc, |a| m.read(a));
        assert_eq!(walk.result.unwrap().pa.0, 0x3f20_1abc);
        let text = walk.to_string();
        assert!(text.contains(
            "  Linux PTE 0x00009404: 0x3f201653 \
             L_PTE_PRESENT|L_PTE_YOUNG|L_PTE_DIRTY|L_PTE_XN|L_PTE_SHARED DEV/SHARED\n"
        ));
        assert!(text.ends_with("  => PA 0x3f201abc (4K small page, MT_DEVICE)\n"), "{text}");
        // The next page of the pair needs no new table.
        let taken = t
            .map(
                &mut m,
                0xbc80_0000,
                0x10_0000,
                MT_MEMORY_RW.prot_pte,
                PAGE_KERNEL_TABLE,
                &mut || None,
            )
            .unwrap();
        assert!(!taken);
        assert_eq!(t.lookup(&m, 0xbc80_0000), Some(LinuxPte(0x10_065f)));
        assert_eq!(t.unmap(&mut m, 0xbc80_0000), Ok(0x10_065f));
        assert_eq!(t.lookup(&m, 0xbc80_0000), None);
        assert_eq!(t.take_pte_table(&mut m, 0xbc90_0000), Some(0x9000));
        assert_eq!(m.read(PGD + 0xbc8 * 4), Some(0));
    }

    #[test]
    fn sections_and_foreign_tables_are_refused() {
        let mut m = Mem::default();
        let t = PageTable { pgd: PGD };
        m.write(PGD + 0x800 * 4, MT_MEMORY_RW.prot_sect);
        let e =
            t.map(&mut m, 0x8000_0000, 0, MT_MEMORY_RW.prot_pte, PAGE_KERNEL_TABLE, &mut || {
                Some(0x9000)
            });
        assert_eq!(e, Err(MapError::SectionInTheWay(0x8000_0000)));
        // A page table in the lower half of a page is not Linux's layout.
        m.write(PGD + 0x900 * 4, 0x9401);
        assert_eq!(t.pte_slot(&m, 0x9000_0000), Err(MapError::NotLinuxTable(0x9000_0000)));
        // The odd half of a pair with a section keeps the section.
        let mut m = Mem::default();
        m.write(PGD + 0x801 * 4, MT_MEMORY_RW.prot_sect | 0x10_0000);
        t.map(&mut m, 0x8000_0000, 0, MT_MEMORY_RW.prot_pte, PAGE_KERNEL_TABLE, &mut || {
            Some(0x9000)
        })
        .unwrap();
        assert_eq!(m.read(PGD + 0x800 * 4), Some(0x9811));
        assert_eq!(m.read(PGD + 0x801 * 4), Some(MT_MEMORY_RW.prot_sect | 0x10_0000));
    }

    #[test]
    fn process_interface_user_pages() {
        let mut m = Mem::default();
        let t = PageTable { pgd: PGD };
        let rw = PageProt::READ | PageProt::WRITE | PageProt::USER;
        t.map_prot(&mut m, 0x0001_0000, 0x20_0000, rw, &mut || Some(0xa000)).unwrap();
        // A user table: domain USER, PXN for the whole table.
        assert_eq!(m.read(PGD), Some(0xa800 | PAGE_USER_TABLE));
        let pte = t.lookup(&m, 0x0001_0000).unwrap();
        assert_eq!(pte.prot(), rw);
        assert!(pte.young() && !pte.dirty());
        let hw = |m: &Mem| m.read(0xa800 + 0x10 * 4).unwrap();
        assert_eq!(hw(&m) & 0x230, 0x230, "clean: read-only for the hardware");
        assert_eq!(hw(&m) & PTE_EXT_NG, PTE_EXT_NG);
        t.update(&mut m, 0x0001_0000, LinuxPte::mkdirty).unwrap();
        assert_eq!(hw(&m) & 0x230, 0x030, "dirty: writable");
        t.update(&mut m, 0x0001_0000, LinuxPte::mkold).unwrap();
        assert_eq!(hw(&m), 0, "old: absent, so the next access faults");
        assert!(t.lookup(&m, 0x0001_0000).unwrap().present());
        assert_eq!(t.update(&mut m, 0x0002_0000, LinuxPte::mkyoung), None);
        let k = pgprot(PageProt::READ | PageProt::WRITE);
        assert_eq!(k, MT_MEMORY_RW.prot_pte);
        assert_eq!(pgprot(PageProt::READ | PageProt::WRITE | PageProt::DEVICE), MT_DEVICE.prot_pte);
        assert_eq!(pgprot(PageProt::READ | PageProt::EXEC), MT_MEMORY_RX.prot_pte);
    }

    /// The kernel's page-table users map with arch-neutral protections: each must give the
    /// Linux PTE bits of the memory type it used to name (MT_MEMORY_RW for vmalloc, pkmap and
    /// the kmap_atomic slot, MT_DEVICE for ioremap), so the tables come out as before.
    #[test]
    fn kernel_protections_are_linux_memory_types() {
        use crate::mm::pgprot::{PAGE_KERNEL, PAGE_KERNEL_EXEC, PAGE_KERNEL_IO, PAGE_KERNEL_RO};
        assert_eq!(pgprot(PAGE_KERNEL), MT_MEMORY_RW.prot_pte);
        assert_eq!(pgprot(PAGE_KERNEL_IO), MT_DEVICE.prot_pte);
        assert_eq!(pgprot(PAGE_KERNEL_RO), MT_MEMORY_RO.prot_pte);
        assert_eq!(pgprot(PAGE_KERNEL_EXEC), MT_MEMORY_RX.prot_pte);
        assert_eq!(LinuxPte(pfn_pte(0x1000, pgprot(PAGE_KERNEL_IO))).prot(), PAGE_KERNEL_IO);
    }

    #[test]
    fn show_pte_like_linux() {
        let mut m = Mem::default();
        let t = PageTable { pgd: PGD };
        let mut out = String::new();
        write_show_pte(&mut out, PGD, 0, |a| m.read(a)).unwrap();
        assert_eq!(out, "[00000000] *pgd=00000000\n");
        m.write(PGD + 0x800 * 4, MT_MEMORY_RW.prot_sect);
        out.clear();
        write_show_pte(&mut out, PGD, 0x8001_2345, |a| m.read(a)).unwrap();
        assert_eq!(out, "[80012345] *pgd=0001141e(bad)\n");
        t.map(&mut m, 0xf010_3000, 0x3f20_1000, MT_DEVICE.prot_pte, PAGE_KERNEL_TABLE, &mut || {
            Some(0x9000)
        })
        .unwrap();
        out.clear();
        // The odd section of the pair: *pgd is still the even entry, as Linux's folded pgd.
        write_show_pte(&mut out, PGD, 0xf010_3010, |a| m.read(a)).unwrap();
        assert_eq!(out, "[f0103010] *pgd=00009811, *pte=3f201653, *ppte=3f201453\n");
        out.clear();
        write_show_pte(&mut out, PGD, 0xf010_4000, |a| m.read(a)).unwrap();
        assert_eq!(out, "[f0104000] *pgd=00009811, *pte=00000000, *ppte=00000000\n");
        out.clear();
        write_show_pte(&mut out, PGD, 0, |_| None).unwrap();
        assert_eq!(out, "[00000000] *pgd=????????\n");
    }

    #[test]
    fn clear_ptes_clears_a_range_as_unmap_does_page_by_page() {
        let mut m = Mem::default();
        let t = PageTable { pgd: PGD };
        let mut old = [0u32; 256];
        // No table: nothing to clear.
        assert_eq!(t.clear_ptes(&mut m, 0x0010_0000, 0x0020_0000, &mut old), Ok(false));
        for i in [0u32, 3, 4, 255] {
            t.map(
                &mut m,
                0x0010_0000 + i * 0x1000,
                0x10_0000 + u64::from(i) * 0x1000,
                MT_MEMORY_RW.prot_pte,
                PAGE_USER_TABLE,
                &mut || Some(0x9000),
            )
            .unwrap();
        }
        let mut reference = m.0.clone();
        let mut r = Mem(core::mem::take(&mut reference));
        let want: Vec<u32> =
            (0..255u32).map(|i| t.unmap(&mut r, 0x0010_1000 + i * 0x1000).unwrap()).collect();
        assert_eq!(t.clear_ptes(&mut m, 0x0010_1000, 0x0020_0000, &mut old), Ok(true));
        assert_eq!(&old[..255], &want[..]);
        assert!(old[2] != 0 && old[3] != 0 && old[254] != 0 && old[0] == 0);
        // The same tables afterwards, the first page untouched.
        let nonzero = |m: &Mem| {
            let mut v: Vec<_> = m.0.iter().filter(|e| *e.1 != 0).map(|(a, v)| (*a, *v)).collect();
            v.sort();
            v
        };
        assert_eq!(nonzero(&m), nonzero(&r));
        assert!(t.lookup(&m, 0x0010_0000).is_some());
        let mut read = [0u32; 4];
        assert_eq!(t.read_ptes(&m, 0x0010_0000, 0x0010_4000, &mut read), Ok(true));
        assert_eq!(read[0], t.lookup(&m, 0x0010_0000).unwrap().0);
        assert_eq!(&read[1..], &[0, 0, 0]);
        assert_eq!(t.read_ptes(&m, 0x0030_0000, 0x0030_4000, &mut read), Ok(false));
    }

    #[test]
    fn lent_words_clear_and_read_as_word_by_word() {
        // The same mappings in memory that lends its words and in memory that does not.
        let t = PageTable { pgd: PGD };
        let mut word = Mem::default();
        let mut flat = FlatMem::new(0x10000);
        for i in [0u32, 3, 4, 17, 255] {
            let va = 0x0010_0000 + i * 0x1000;
            let pa = 0x10_0000 + u64::from(i) * 0x1000;
            t.map(&mut word, va, pa, MT_MEMORY_RW.prot_pte, PAGE_USER_TABLE, &mut || Some(0x9000))
                .unwrap();
            t.map(&mut flat, va, pa, MT_MEMORY_RW.prot_pte, PAGE_USER_TABLE, &mut || Some(0x9000))
                .unwrap();
        }
        let (mut a, mut b) = ([0u32; 64], [0u32; 64]);
        assert_eq!(t.read_ptes(&word, 0x0010_0000, 0x0014_0000, &mut a), Ok(true));
        assert_eq!(t.read_ptes(&flat, 0x0010_0000, 0x0014_0000, &mut b), Ok(true));
        assert_eq!(a, b);
        assert!(b[3] != 0 && b[17] != 0 && b[5] == 0);
        assert_eq!(t.clear_ptes(&mut word, 0x0010_3000, 0x0011_2000, &mut a), Ok(true));
        assert_eq!(t.clear_ptes(&mut flat, 0x0010_3000, 0x0011_2000, &mut b), Ok(true));
        assert_eq!(a, b);
        // Both halves (Linux and hardware) cleared in the range, the rest kept.
        for i in [0u32, 3, 4, 17, 255] {
            let va = 0x0010_0000 + i * 0x1000;
            assert_eq!(t.lookup(&flat, va), t.lookup(&word, va), "{va:#x}");
            let slot = t.pte_slot(&flat, va).unwrap().unwrap();
            assert_eq!(flat.read(slot.hw), word.read(slot.hw), "{va:#x}");
        }
        assert!(t.lookup(&flat, 0x0010_4000).is_none() && t.lookup(&flat, 0x0010_0000).is_some());
    }

    #[test]
    fn copy_ptes_writes_both_tables_as_map_does_page_by_page() {
        // Source pages at 1, 3 and 5 of the section; the child gets 1 and 3 (3 write-protected
        // in the source), 5 is left; word-by-word and lent-word memory agree with `map`.
        let (src, dst) = (PageTable { pgd: PGD }, PageTable { pgd: 0xc000 });
        let rw = MT_MEMORY_RW.prot_pte | L_PTE_USER;
        let mut word = Mem::default();
        let mut flat = FlatMem::new(0x20000);
        let mut want = Mem::default();
        for i in [1u32, 3, 5] {
            let (va, pa) = (0x0010_0000 + i * 0x1000, 0x10_0000 + u64::from(i) * 0x1000);
            for m in [&mut word as &mut dyn PhysMemDyn, &mut flat, &mut want] {
                m.map_dyn(src, va, pa, rw, &mut || Some(0x9000));
            }
        }
        let decide = |va: u32, pte: u32| match (va >> 12) & 0xff {
            1 => Some((pte, pte & !L_PTE_YOUNG)),
            3 => Some((pte | L_PTE_RDONLY, pte | L_PTE_RDONLY)),
            _ => None,
        };
        for (i, ro) in [(1u32, false), (3, true)] {
            let (va, pa) = (0x0010_0000 + i * 0x1000, 0x10_0000 + u64::from(i) * 0x1000);
            let prot = if ro { rw | L_PTE_RDONLY } else { rw };
            let child = if ro { prot } else { prot & !L_PTE_YOUNG };
            src.map(&mut want, va, pa, prot, PAGE_USER_TABLE, &mut || None).unwrap();
            dst.map(&mut want, va, pa, child, PAGE_USER_TABLE, &mut || Some(0xa000)).unwrap();
        }
        let (a, b) = (0x0010_0000, 0x0010_8000);
        assert_eq!(
            src.copy_ptes(&dst, &mut word, a, b, PAGE_USER_TABLE, &mut || Some(0xa000), decide),
            Ok(true)
        );
        assert_eq!(
            src.copy_ptes(&dst, &mut flat, a, b, PAGE_USER_TABLE, &mut || Some(0xa000), decide),
            Ok(true)
        );
        for va in (a..b).step_by(0x1000) {
            for t in [src, dst] {
                let w = t.pte_slot(&want, va).unwrap();
                assert_eq!(t.pte_slot(&word, va).unwrap(), w, "{va:#x}");
                if let Some(w) = w {
                    for pa in [w.linux, w.hw] {
                        assert_eq!(word.read(pa), want.read(pa), "{va:#x} {pa:#x}");
                        assert_eq!(flat.read(pa), want.read(pa), "{va:#x} {pa:#x}");
                    }
                }
            }
        }
        // No source table: nothing copied, no child table made.
        let mut none = || -> Option<u64> { panic!("no table needed") };
        assert_eq!(
            src.copy_ptes(&dst, &mut word, 0x0030_0000, 0x0030_4000, 0, &mut none, decide),
            Ok(false)
        );
    }

    #[test]
    fn set_ptes_none_fills_only_empty_slots_as_map_does_page_by_page() {
        // Pages 2 (present) and 4 (a swap entry) are taken; 1, 3 and 6 are offered and 3 and
        // 6 written, 0/5/7 offer nothing. Word-by-word and lent-word memory agree with `map`.
        let t = PageTable { pgd: PGD };
        let ro = MT_MEMORY_RW.prot_pte | L_PTE_USER | L_PTE_RDONLY;
        let base = 0x0020_0000u32;
        let va = |i: u32| base + i * 0x1000;
        let pa = |i: u32| 0x10_0000 + u64::from(i) * 0x1000;
        let mut word = Mem::default();
        let mut flat = FlatMem::new(0x20000);
        let mut want = Mem::default();
        for m in [&mut word as &mut dyn PhysMemDyn, &mut flat, &mut want] {
            m.map_dyn(t, va(2), pa(2), ro, &mut || Some(0x9000));
            let swp = swp_entry_to_pte(crate::mm::swapops::SwpEntry::new(0, 7));
            m.map_dyn(t, va(4), u64::from(swp & !0xfff), swp & 0xfff, &mut || None);
        }
        for i in [3u32, 6] {
            t.map(&mut want, va(i), pa(i), ro, PAGE_USER_TABLE, &mut || None).unwrap();
        }
        let offered: [u32; 8] = core::array::from_fn(|i| match i {
            2 | 3 | 4 | 6 => pfn_pte(pa(i as u32), ro),
            _ => 0,
        });
        for m in [&mut word as &mut dyn PhysMemDyn, &mut flat] {
            let mut ptes = offered;
            assert_eq!(m.set_ptes_none_dyn(t, base, &mut ptes), 2);
            assert_eq!(
                ptes,
                core::array::from_fn(|i| if i == 3 || i == 6 { offered[i] } else { 0 })
            );
        }
        for i in 0..8 {
            let w = t.pte_slot(&want, va(i)).unwrap().unwrap();
            for pa in [w.linux, w.hw] {
                assert_eq!(word.read(pa), want.read(pa), "{i} {pa:#x}");
                assert_eq!(flat.read(pa), want.read(pa), "{i} {pa:#x}");
            }
        }
        // No table yet: made once, before the first write; nothing offered makes none.
        let mut fresh = Mem::default();
        let mut none = || -> Option<u64> { panic!("no table needed") };
        assert_eq!(
            t.set_ptes_none(&mut fresh, 0x0040_0000, &mut [0; 4], PAGE_USER_TABLE, &mut none),
            Ok(0)
        );
        let mut ptes = [0, pfn_pte(pa(1), ro), pfn_pte(pa(2), ro)];
        assert_eq!(
            t.set_ptes_none(&mut fresh, 0x0040_0000, &mut ptes, PAGE_USER_TABLE, &mut || Some(
                0x9000
            )),
            Ok(2)
        );
        assert_eq!(t.lookup(&fresh, 0x0040_2000).map(|p| p.0), Some(pfn_pte(pa(2), ro)));
        let mut failing = || None;
        let fresh_va = 0x0060_0000;
        assert_eq!(
            t.set_ptes_none(
                &mut fresh,
                fresh_va,
                &mut [pfn_pte(pa(1), ro)],
                PAGE_USER_TABLE,
                &mut failing
            ),
            Err(MapError::NoL2Table)
        );
    }

    /// `PageTable::map` over either test memory.
    trait PhysMemDyn {
        fn map_dyn(
            &mut self,
            t: PageTable,
            va: u32,
            pa: u64,
            prot: u32,
            a: &mut dyn FnMut() -> Option<u64>,
        );
        fn set_ptes_none_dyn(&mut self, t: PageTable, start: u32, ptes: &mut [u32]) -> usize;
    }
    impl<M: PhysMem> PhysMemDyn for M {
        fn map_dyn(
            &mut self,
            t: PageTable,
            va: u32,
            pa: u64,
            prot: u32,
            a: &mut dyn FnMut() -> Option<u64>,
        ) {
            t.map(self, va, pa, prot, PAGE_USER_TABLE, a).unwrap();
        }
        fn set_ptes_none_dyn(&mut self, t: PageTable, start: u32, ptes: &mut [u32]) -> usize {
            t.set_ptes_none(self, start, ptes, PAGE_USER_TABLE, &mut || None).unwrap()
        }
    }

    #[test]
    fn linux_pte_reads_like_its_flags() {
        assert_eq!(
            LinuxPte(0x3f20_1653).to_string(),
            "L_PTE_PRESENT|L_PTE_YOUNG|L_PTE_DIRTY|L_PTE_XN|L_PTE_SHARED DEV/SHARED"
        );
        assert_eq!(LinuxPte(0).to_string(), "none");
        assert_eq!(LinuxPte(0x3c | 1).to_string(), "L_PTE_PRESENT MT 0x3c");
        assert_eq!(mt_name(L_PTE_MT_VECTORS), None);
        assert_eq!(mt_name(L_PTE_MT_DEV_NONSHARED), Some("DEV/NONSHARED"));
        assert_eq!(LinuxPte(0x1234_5fff).pfn_phys(), 0x1234_5000);
        assert!(LinuxPte(0).mkyoung().mkdirty().wrprotect().mkclean().young());
    }
}
