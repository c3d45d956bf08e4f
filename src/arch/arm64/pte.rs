//! A user page's PTE as arm64 Linux 6.1 builds, reads and changes it (`asm/pgtable.h`,
//! `pgtable-prot.h`, `vm_get_page_prot` in `mm/mmap.c`): the hardware descriptor carries
//! Linux's state itself, with three software bits beside it. Pure: tested on the host.
//!
//! - *Young* is the hardware access flag (AF). The Cortex-A53 has no hardware AF update
//!   (`ID_AA64MMFR1_EL1.HAFDBS` = 0), so an old PTE (AF clear) takes an access-flag fault on
//!   its next access and the fault path sets AF again (`pte_mkyoung`): how reclaim sees use.
//! - *Writable* is `PTE_WRITE` (the DBM bit, 51); *dirty* is the software `PTE_DIRTY` (55) or
//!   a writable PTE whose `PTE_RDONLY` is clear. A writable clean PTE keeps AP[2] read-only,
//!   so its first write takes a permission fault that makes it dirty (`pte_mkdirty` clears
//!   `PTE_RDONLY`): software dirty tracking, as without hardware DBM.
//! - `PTE_PROT_NONE` (58) marks a present `PROT_NONE` page, which has `PTE_VALID` clear.
//! - A swap entry is a non-present PTE with the type at bit 3 and the offset at bit 8.
use core::fmt;

use super::pgtable::{attrindx, PteBits, MT_NORMAL, PTE_ADDR_MASK};
use crate::mm::pgprot::PageProt;
use crate::mm::swapops::SwpEntry;

/// `PTE_SWP_EXCLUSIVE`: only in swap PTEs.
pub const PTE_SWP_EXCLUSIVE: u64 = 1 << 2;
/// `PTE_DIRTY`: software dirty bit.
pub const PTE_DIRTY: u64 = 1 << 55;
/// `PTE_SPECIAL`: no `struct page` behind it.
pub const PTE_SPECIAL: u64 = 1 << 56;
/// `PTE_PROT_NONE`: a present `PROT_NONE` page (only with `PTE_VALID` clear).
pub const PTE_PROT_NONE: u64 = 1 << 58;

const PTE_VALID: u64 = PteBits::VALID.bits();
const PTE_TYPE_PAGE: u64 = PteBits::VALID.bits() | PteBits::TABLE_OR_PAGE.bits();
const PTE_USER: u64 = PteBits::USER.bits();
const PTE_RDONLY: u64 = PteBits::RDONLY.bits();
const PTE_AF: u64 = PteBits::AF.bits();
const PTE_NG: u64 = PteBits::NG.bits();
const PTE_WRITE: u64 = PteBits::WRITE.bits();
const PTE_PXN: u64 = PteBits::PXN.bits();
const PTE_UXN: u64 = PteBits::UXN.bits();

/// `_PAGE_DEFAULT`: page, accessed, inner shareable, normal write-back memory.
pub const PAGE_DEFAULT: u64 = PTE_TYPE_PAGE | PTE_AF | PteBits::SHARED.bits() | attrindx(MT_NORMAL);
/// `PAGE_NONE`: present for Linux, invalid for the MMU.
pub const PAGE_NONE: u64 =
    (PAGE_DEFAULT & !PTE_VALID) | PTE_PROT_NONE | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
/// `PAGE_SHARED`: writable but clean (read-only to the MMU until the first write).
pub const PAGE_SHARED: u64 =
    PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN | PTE_WRITE;
pub const PAGE_SHARED_EXEC: u64 =
    PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_WRITE;
pub const PAGE_READONLY: u64 = PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
pub const PAGE_READONLY_EXEC: u64 = PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN;
/// `PAGE_EXECONLY` (used only with Enhanced PAN, which the A53 lacks).
pub const PAGE_EXECONLY: u64 = PAGE_DEFAULT | PTE_RDONLY | PTE_NG | PTE_PXN;

/// The VMA flags `vm_get_page_prot` looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmProt {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub shared: bool,
}

/// `protection_map[]` of arm64 6.1 (without Enhanced PAN): a private writable mapping is
/// read-only until a write fault copies it (`PAGE_READONLY`); any executable mapping is
/// readable too; a shared writable one is `PAGE_SHARED`.
pub const fn vm_get_page_prot(v: VmProt) -> u64 {
    match (v.shared, v.exec, v.write, v.read) {
        (_, false, false, false) => PAGE_NONE,
        (false, false, _, _) => PAGE_READONLY,
        (false, true, _, _) => PAGE_READONLY_EXEC,
        (true, false, false, true) => PAGE_READONLY,
        (true, false, true, _) => PAGE_SHARED,
        (true, true, false, _) => PAGE_READONLY_EXEC,
        (true, true, true, _) => PAGE_SHARED_EXEC,
    }
}

/// `__SWP_TYPE_SHIFT`, `__SWP_TYPE_BITS`, `__SWP_OFFSET_SHIFT`, `__SWP_OFFSET_BITS`.
pub const SWP_TYPE_SHIFT: u32 = 3;
pub const SWP_TYPE_BITS: u32 = 5;
pub const SWP_TYPE_MASK: u64 = (1 << SWP_TYPE_BITS) - 1;
pub const SWP_OFFSET_SHIFT: u32 = SWP_TYPE_BITS + SWP_TYPE_SHIFT;
pub const SWP_OFFSET_BITS: u32 = 50;

/// `swp_entry_to_pte`: a swap entry as a non-present PTE.
pub const fn swp_entry_to_pte(e: SwpEntry) -> u64 {
    ((e.swp_type() as u64 & SWP_TYPE_MASK) << SWP_TYPE_SHIFT)
        | ((e.offset() as u64) << SWP_OFFSET_SHIFT)
}

/// `max_swapfile_size()` (`generic_max_swapfile_size`): the largest offset that survives a
/// round trip `swp_entry` -> `swp_entry_to_pte` -> `pte_to_swp_entry`, plus one. arm64's PTE
/// holds 50 offset bits, but pivm's `swp_entry_t` is 32 bits wide on both kernels (27 offset
/// bits; arm64 Linux's is an `unsigned long`), so an area here has at most 2^27 pages.
pub const MAX_SWAPFILE_PAGES: u64 = {
    let e = SwpEntry::new(0, u32::MAX);
    match Pte(swp_entry_to_pte(e)).swp_entry() {
        Some(back) => back.offset() as u64 + 1,
        None => 0,
    }
};

/// Protections of a user PTE, arch-neutral in (the shared fault and fork code's view) and
/// descriptor bits out through [`user_pte_bits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPteProt {
    pub write: bool,
    pub exec: bool,
    pub dirty: bool,
}

/// The descriptor bits of a young user page with `p` (what `set_pte_at` installs after a
/// fault): `PAGE_READONLY(_EXEC)`'s bits (EL0 access, nG, PXN, AF, inner shareable, normal
/// memory), `PTE_WRITE` (DBM) for a writable page, `PTE_UXN` unless executable; dirty as
/// `pte_mkdirty` makes it (`PTE_DIRTY`, and a writable page loses `PTE_RDONLY`). A writable
/// clean page stays read-only to the MMU, so its first write takes a permission fault.
pub const fn user_pte_bits(p: UserPteProt) -> u64 {
    let mut bits = if p.exec { PAGE_READONLY_EXEC } else { PAGE_READONLY };
    if p.write {
        bits |= PTE_WRITE;
    }
    if p.dirty {
        bits = Pte(bits).mkdirty().0;
    }
    bits
}

/// One arm64 PTE value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pte(pub u64);

impl Pte {
    /// `mk_pte`/`pfn_pte`: the page at `pa` with protection `prot` (a `PAGE_*` value).
    pub const fn new(pa: u64, prot: u64) -> Self {
        Self((pa & PTE_ADDR_MASK) | prot)
    }
    pub const fn none(self) -> bool {
        self.0 == 0
    }
    /// `pte_present`: valid, or a `PROT_NONE` page.
    pub const fn present(self) -> bool {
        self.0 & (PTE_VALID | PTE_PROT_NONE) != 0
    }
    /// `pte_valid`: the MMU translates it.
    pub const fn valid(self) -> bool {
        self.0 & PTE_VALID != 0
    }
    pub const fn pfn_phys(self) -> u64 {
        self.0 & PTE_ADDR_MASK
    }
    /// `pte_pfn`.
    pub const fn pfn(self) -> u64 {
        self.pfn_phys() >> 12
    }
    pub const fn young(self) -> bool {
        self.0 & PTE_AF != 0
    }
    /// `pte_write`: writable for Linux (`PTE_WRITE`), whatever the MMU's momentary
    /// `PTE_RDONLY` says.
    pub const fn write(self) -> bool {
        self.0 & PTE_WRITE != 0
    }
    /// `pte_exec` of a user page: EL0 may execute it (`PTE_UXN` clear).
    pub const fn exec(self) -> bool {
        self.user_exec()
    }
    /// `pte_hw_dirty`: writable and no longer read-only to the MMU.
    pub const fn hw_dirty(self) -> bool {
        self.write() && self.0 & PTE_RDONLY == 0
    }
    /// `pte_dirty`: the software bit or the hardware state.
    pub const fn dirty(self) -> bool {
        self.0 & PTE_DIRTY != 0 || self.hw_dirty()
    }
    /// `pte_user`, `pte_user_exec`.
    pub const fn user(self) -> bool {
        self.0 & PTE_USER != 0
    }
    pub const fn user_exec(self) -> bool {
        self.0 & PTE_UXN == 0
    }
    /// `pte_mkyoung`/`pte_mkold`: the access flag (the A53's fault path sets it again).
    pub const fn mkyoung(self) -> Self {
        Self(self.0 | PTE_AF)
    }
    pub const fn mkold(self) -> Self {
        Self(self.0 & !PTE_AF)
    }
    /// `pte_mkwrite`: writable to the MMU at once.
    pub const fn mkwrite(self) -> Self {
        Self((self.0 | PTE_WRITE) & !PTE_RDONLY)
    }
    /// `pte_mkdirty`: the software bit, and the MMU may write if Linux may.
    pub const fn mkdirty(self) -> Self {
        let v = self.0 | PTE_DIRTY;
        Self(if v & PTE_WRITE != 0 { v & !PTE_RDONLY } else { v })
    }
    /// `pte_mkclean`: read-only to the MMU again, so the next write faults.
    pub const fn mkclean(self) -> Self {
        Self((self.0 & !PTE_DIRTY) | PTE_RDONLY)
    }
    /// `pte_wrprotect`: a hardware-dirty PTE keeps its dirtiness in the software bit.
    pub const fn wrprotect(self) -> Self {
        let v = if self.hw_dirty() { self.0 | PTE_DIRTY } else { self.0 };
        Self((v & !PTE_WRITE) | PTE_RDONLY)
    }
    /// `is_swap_pte` + `pte_to_swp_entry`: the entry a non-present, non-empty PTE holds.
    pub const fn swp_entry(self) -> Option<SwpEntry> {
        if self.0 == 0 || self.present() {
            return None;
        }
        Some(SwpEntry::new(
            ((self.0 >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK) as u32,
            ((self.0 >> SWP_OFFSET_SHIFT) & ((1 << SWP_OFFSET_BITS) - 1)) as u32,
        ))
    }
    /// What the mapping allows Linux-wise, in arch-neutral terms (write is `PTE_WRITE`, not
    /// the MMU's momentary read-only state).
    pub const fn prot(self) -> PageProt {
        let mut p = 0;
        if self.0 & PTE_PROT_NONE == 0 {
            p |= PageProt::READ.bits();
            if self.write() {
                p |= PageProt::WRITE.bits();
            }
            if self.user_exec() && self.user() {
                p |= PageProt::EXEC.bits();
            }
        }
        if self.user() {
            p |= PageProt::USER.bits();
        }
        PageProt::from_bits_truncate(p)
    }
}

impl fmt::Display for Pte {
    /// `PTE_VALID|PTE_USER|...`, or `none`, or `swap <entry>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.none() {
            return f.write_str("none");
        }
        if let Some(e) = self.swp_entry() {
            return write!(f, "swap {e}");
        }
        const NAMES: [(u64, &str); 11] = [
            (PTE_VALID, "PTE_VALID"),
            (PTE_PROT_NONE, "PTE_PROT_NONE"),
            (PTE_USER, "PTE_USER"),
            (PTE_RDONLY, "PTE_RDONLY"),
            (PTE_AF, "PTE_AF"),
            (PTE_NG, "PTE_NG"),
            (PTE_WRITE, "PTE_WRITE"),
            (PTE_DIRTY, "PTE_DIRTY"),
            (PTE_SPECIAL, "PTE_SPECIAL"),
            (PTE_PXN, "PTE_PXN"),
            (PTE_UXN, "PTE_UXN"),
        ];
        let mut first = true;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values arm64 6.1 gives these protections (`pgtable-prot.h`), spelled as numbers.
    #[test]
    fn page_protections_have_linux_values() {
        assert_eq!(PAGE_DEFAULT, 0x703);
        assert_eq!(PAGE_READONLY, 0x0060_0000_0000_0fc3);
        assert_eq!(PAGE_READONLY_EXEC, 0x0020_0000_0000_0fc3);
        assert_eq!(PAGE_SHARED, 0x0068_0000_0000_0fc3);
        assert_eq!(PAGE_SHARED_EXEC, 0x0028_0000_0000_0fc3);
        assert_eq!(PAGE_EXECONLY, 0x0020_0000_0000_0f83);
        assert_eq!(PAGE_NONE, 0x0460_0000_0000_0f82);
        // Every user page: EL0 access, ASID-tagged, never kernel-executable.
        for p in [PAGE_READONLY, PAGE_READONLY_EXEC, PAGE_SHARED, PAGE_SHARED_EXEC] {
            let pte = Pte(p);
            assert!(pte.valid() && pte.present() && pte.user() && pte.young());
            assert_ne!(p & PTE_NG, 0);
            assert_ne!(p & PTE_PXN, 0);
            assert!(!pte.dirty(), "fresh pages are clean");
        }
        assert!(Pte(PAGE_NONE).present() && !Pte(PAGE_NONE).valid());
        assert_eq!(Pte(PAGE_NONE).swp_entry(), None, "PROT_NONE is no swap entry");
    }

    #[test]
    fn protection_map() {
        let v = |read, write, exec, shared| vm_get_page_prot(VmProt { read, write, exec, shared });
        assert_eq!(v(false, false, false, false), PAGE_NONE);
        assert_eq!(v(false, false, false, true), PAGE_NONE);
        assert_eq!(v(true, false, false, false), PAGE_READONLY);
        // Private writable: copy-on-write, read-only until the write fault.
        assert_eq!(v(true, true, false, false), PAGE_READONLY);
        assert_eq!(v(false, true, false, false), PAGE_READONLY);
        assert_eq!(v(true, false, true, false), PAGE_READONLY_EXEC);
        assert_eq!(v(false, false, true, false), PAGE_READONLY_EXEC);
        assert_eq!(v(true, true, true, false), PAGE_READONLY_EXEC);
        assert_eq!(v(true, false, false, true), PAGE_READONLY);
        assert_eq!(v(false, true, false, true), PAGE_SHARED);
        assert_eq!(v(true, true, false, true), PAGE_SHARED);
        assert_eq!(v(false, false, true, true), PAGE_READONLY_EXEC);
        assert_eq!(v(true, true, true, true), PAGE_SHARED_EXEC);
        assert_eq!(v(false, true, true, true), PAGE_SHARED_EXEC);
    }

    /// A private writable page's life: mapped read-only, made writable and dirty by the write
    /// fault, aged by reclaim (AF cleared, so the next access faults), made young by that
    /// fault, write-protected by fork with its dirtiness kept, cleaned by writeback.
    #[test]
    fn young_and_dirty_through_faults() {
        let pa = 0x3a5_6000;
        let pte = Pte::new(pa, PAGE_READONLY);
        assert_eq!(pte.pfn_phys(), pa);
        assert!(!pte.write() && !pte.dirty());
        assert_eq!(pte.prot(), PageProt::READ | PageProt::USER);
        let w = pte.mkwrite().mkdirty();
        assert!(w.write() && w.hw_dirty() && w.dirty());
        assert_eq!(w.0 & PTE_RDONLY, 0, "the MMU may write it now");
        assert_eq!(w.prot(), PageProt::READ | PageProt::WRITE | PageProt::USER);
        let old = w.mkold();
        assert!(!old.young());
        assert_eq!(old.0 & PTE_AF, 0, "the next access takes an access-flag fault");
        assert_eq!(old.mkyoung(), w);
        let cow = w.wrprotect();
        assert!(!cow.write() && cow.dirty(), "dirtiness moves to the software bit");
        assert_ne!(cow.0 & PTE_RDONLY, 0);
        let clean = w.mkclean();
        assert!(clean.write() && !clean.dirty());
        assert_ne!(clean.0 & PTE_RDONLY, 0, "the next write faults to dirty it again");
        // A shared writable page starts clean: writable for Linux, read-only for the MMU.
        let s = Pte::new(pa, PAGE_SHARED);
        assert!(s.write() && !s.dirty());
        assert_eq!(s.mkdirty().0 & PTE_RDONLY, 0);
        // A read-only page made dirty (a dirty file page mapped read-only) stays read-only.
        assert_ne!(pte.mkdirty().0 & PTE_RDONLY, 0);
        let x = Pte::new(pa, PAGE_READONLY_EXEC);
        assert!(x.user_exec());
        assert_eq!(x.prot(), PageProt::READ | PageProt::EXEC | PageProt::USER);
    }

    /// The PTEs the fault path installs: `PAGE_READONLY(_EXEC)` plus `PTE_WRITE` for a
    /// writable page, read-only to the MMU until dirty (`pte_mkdirty`), young.
    #[test]
    fn user_pte_bits_as_set_pte_at_after_a_fault() {
        let p = |write, exec, dirty| user_pte_bits(UserPteProt { write, exec, dirty });
        assert_eq!(p(false, false, false), PAGE_READONLY);
        assert_eq!(p(false, true, false), PAGE_READONLY_EXEC);
        assert_eq!(p(true, false, false), PAGE_SHARED, "writable clean: PTE_WRITE|PTE_RDONLY");
        assert_eq!(p(true, true, false), PAGE_SHARED_EXEC);
        let d = Pte(p(true, false, true));
        assert_eq!(d, Pte(PAGE_SHARED).mkdirty());
        assert_eq!(d.0 & PTE_RDONLY, 0, "a dirty writable page is writable to the MMU");
        assert!(d.write() && d.dirty() && d.young() && !d.exec());
        assert_eq!(d.0 & PTE_NG, PTE_NG, "user pages are ASID-tagged");
        // A dirty read-only page (a COW page after fork) stays read-only.
        let r = Pte(p(false, true, true));
        assert!(!r.write() && r.dirty() && r.exec());
        assert_ne!(r.0 & PTE_RDONLY, 0);
        assert_eq!(r.pfn(), 0);
        assert_eq!(Pte::new(0x3a5_6000, PAGE_READONLY).pfn(), 0x3a56);
    }

    /// `max_swapfile_size`: the offset field of pivm's 32-bit `swp_entry_t` (27 bits) is
    /// narrower than arm64's PTE field (50 bits), so the entry decides.
    #[test]
    fn max_swapfile_pages_from_the_round_trip() {
        assert_eq!(MAX_SWAPFILE_PAGES, 1 << 27);
        let last = SwpEntry::new(31, (MAX_SWAPFILE_PAGES - 1) as u32);
        assert_eq!(Pte(swp_entry_to_pte(last)).swp_entry(), Some(last));
        assert_eq!(SWP_OFFSET_BITS, 50);
    }

    #[test]
    fn swap_entries() {
        let e = SwpEntry::new(3, 0x12345);
        let pte = Pte(swp_entry_to_pte(e));
        assert_eq!(pte.0, (3 << 3) | (0x12345 << 8));
        assert!(!pte.present() && !pte.none());
        assert_eq!(pte.swp_entry(), Some(e));
        assert_eq!(Pte(0).swp_entry(), None);
        assert_eq!(Pte::new(0x1000, PAGE_READONLY).swp_entry(), None);
        assert_eq!(format!("{}", Pte(0)), "none");
        assert_eq!(
            format!("{}", Pte::new(0x1000, PAGE_READONLY)),
            "PTE_VALID|PTE_USER|PTE_RDONLY|PTE_AF|PTE_NG|PTE_PXN|PTE_UXN"
        );
    }
}
