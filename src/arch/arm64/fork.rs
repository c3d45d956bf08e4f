//! What `copy_page_range` needs from arm64's page tables (6.1's `copy_present_pte`): the
//! parent's private writable PTEs write-protected in place (`ptep_set_wrprotect`: `PTE_WRITE`
//! cleared, `PTE_RDONLY` set, a hardware-dirty entry's dirtiness kept in `PTE_DIRTY`), the
//! child's entry the same page made read-only for copy-on-write, clean for a shared mapping
//! and old (`pte_mkold`: AF clear, so the child's first access takes an access-flag fault
//! that Linux counts). Under the names ARM's `fork.rs` gives the shared code.
use super::pte::{Pte, UserPteProt};
#[cfg(all(kernel, target_arch = "aarch64"))]
pub use hw::{copy_user_ptes, set_user_pte_old};

/// What `copy_present_pte` does with one present PTE: the protections the parent's entry is
/// changed to, if any, and the child's (installed old).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteCopy {
    pub parent: Option<UserPteProt>,
    pub child: UserPteProt,
}

/// The parent's and the child's entries for a copy `c` of the present `pte`, as 6.1 derives
/// them from the parent's: write-protection by `pte_wrprotect`, cleaning by `pte_mkclean`,
/// the child's entry old.
pub const fn copy_present_pte(pte: Pte, c: PteCopy) -> (Pte, Pte) {
    let parent = match c.parent {
        Some(p) => adjust(pte, p),
        None => pte,
    };
    (parent, adjust(pte, c.child).mkold())
}

/// `pte` with write permission and dirtiness taken down to `p`'s (fork never adds either).
const fn adjust(pte: Pte, p: UserPteProt) -> Pte {
    let pte = if !p.write && pte.write() { pte.wrprotect() } else { pte };
    if !p.dirty && pte.dirty() {
        pte.mkclean()
    } else {
        pte
    }
}

#[cfg(all(kernel, target_arch = "aarch64"))]
mod hw {
    use super::super::mmu::PteAlloc;
    use super::super::pte::{user_pte_bits, Pte, UserPteProt};
    use super::super::user_table::{copy_range, publish, set_pte, tables, UserPte, UserTableError};
    use super::{copy_present_pte, PteCopy};
    use crate::config::VA_BITS;

    /// Installs an old user PTE for `pa` at `va` in the table at physical `pgd`, creating its
    /// tables with `alloc`. The table is not live (the child has not run) or the slot was a swap
    /// entry: no flush.
    pub fn set_user_pte_old(
        pgd: u64,
        va: usize,
        pa: u64,
        prot: UserPteProt,
        alloc: PteAlloc<'_>,
    ) -> Result<(), UserTableError> {
        let pte = Pte::new(pa, user_pte_bits(prot)).mkold();
        set_pte(&mut tables(alloc), pgd, VA_BITS, va as u64, pte)?;
        publish();
        Ok(())
    }

    /// `copy_pte_range` over `[start, end)` from the table at physical `src` to the one at `dst`
    /// (not live yet): `f` gets each present PTE and says how it is copied (None: not at all).
    /// The child's tables come from `alloc`. The caller flushes the parent's TLB.
    pub fn copy_user_ptes(
        src: u64,
        dst: u64,
        start: usize,
        end: usize,
        alloc: PteAlloc<'_>,
        mut f: impl FnMut(usize, UserPte) -> Option<PteCopy>,
    ) -> Result<(), UserTableError> {
        let r =
            copy_range(&mut tables(alloc), src, dst, VA_BITS, start as u64, end as u64, |va, p| {
                let c = f(va as usize, UserPte::of(p))?;
                Some(copy_present_pte(p, c))
            });
        publish();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::arm64::pte::{user_pte_bits, PAGE_READONLY};

    /// Fork of a private writable page (copy-on-write), a shared writable page and a
    /// read-only one: the parent's entries as `ptep_set_wrprotect` leaves them, the child's
    /// old.
    #[test]
    fn copy_present_pte_as_linux() {
        let prot = |write, dirty| UserPteProt { write, exec: false, dirty };
        let pa = 0x3a5_6000;
        let dirty_rw = Pte::new(pa, user_pte_bits(prot(true, true)));
        assert!(dirty_rw.write() && dirty_rw.dirty() && dirty_rw.young());
        // Private writable: both read-only, dirtiness kept in PTE_DIRTY, the child old.
        let cow = PteCopy { parent: Some(prot(false, true)), child: prot(false, true) };
        let (parent, child) = copy_present_pte(dirty_rw, cow);
        assert_eq!(parent, dirty_rw.wrprotect());
        assert!(!parent.write() && parent.dirty() && parent.young());
        assert_eq!(child, dirty_rw.wrprotect().mkold());
        assert!(!child.young() && child.pfn_phys() == pa);
        // Shared writable: the parent untouched, the child writable but clean and old.
        let shared = PteCopy { parent: None, child: prot(true, false) };
        let (parent, child) = copy_present_pte(dirty_rw, shared);
        assert_eq!(parent, dirty_rw);
        assert!(child.write() && !child.dirty() && !child.young());
        assert_ne!(child.0 & crate::arch::arm64::pgtable::PteBits::RDONLY.bits(), 0);
        // Read-only: only made old in the child.
        let ro = Pte::new(pa, PAGE_READONLY);
        let (parent, child) =
            copy_present_pte(ro, PteCopy { parent: None, child: prot(false, false) });
        assert_eq!((parent, child), (ro, ro.mkold()));
    }
}
