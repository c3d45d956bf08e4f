//! What `copy_page_range` needs from ARMv7's page tables: a child's PTE installed old (young
//! clear), as `copy_present_pte` leaves every copied entry (`pte_mkold`). On ARM an old Linux
//! PTE has no hardware entry (`cpu_v7_set_pte_ext` writes 0), so the child's first access to
//! each copied page takes a fault that only makes it young, and Linux counts that fault.
use super::mmu::{self, MapError};
use super::pgtable::{pfn_pte, LinuxPte, L_PTE_RDONLY, L_PTE_YOUNG};
use super::process::{user_pmd_span, user_pte_bits, user_table, UserPte, UserPteProt};

/// Installs an old user PTE for `pa` at `va` in the table at physical `pgd`, creating its
/// table page with `alloc`. The table is not live yet (the child has not run): no flush.
pub fn set_user_pte_old(
    pgd: u64,
    va: usize,
    pa: u64,
    prot: UserPteProt,
    alloc: mmu::PteAlloc<'_>,
) -> Result<(), MapError> {
    mmu::map_page_pte(user_table(pgd), va as u32, pa, user_pte_bits(prot) & !L_PTE_YOUNG, alloc)
}

/// What `copy_present_pte` does with one present PTE: the protections the parent's entry is
/// rewritten with (young, as a fresh `set_pte_at`), if any, and the child's (installed old).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteCopy {
    pub parent: Option<UserPteProt>,
    pub child: UserPteProt,
}

/// `copy_pte_range` over `[start, end)` from the table at physical `src` to the one at `dst`
/// (not live yet): `f` gets each present PTE and says how it is copied (None: not at all).
/// A table at a time, skipping first-level entries without one; the child's tables come from
/// `alloc`. The caller flushes the parent's TLB.
pub fn copy_user_ptes(
    src: u64,
    dst: u64,
    start: usize,
    end: usize,
    alloc: mmu::PteAlloc<'_>,
    mut f: impl FnMut(usize, UserPte) -> Option<PteCopy>,
) -> Result<(), MapError> {
    let mut va = start & !0xfff;
    while va < end {
        let (next, table) = user_pmd_span(src, va, end);
        if table {
            mmu::copy_page_range(
                user_table(src),
                user_table(dst),
                va as u32,
                next as u32,
                &mut *alloc,
                |at, raw| {
                    let p = LinuxPte(raw);
                    if !p.present() {
                        return None;
                    }
                    let pa = p.pfn_phys();
                    let seen = UserPte {
                        pfn: pa >> 12,
                        young: p.young(),
                        dirty: p.dirty(),
                        write: raw & L_PTE_RDONLY == 0,
                    };
                    let c = f(at as usize, seen)?;
                    let keep = c.parent.map_or(raw, |prot| pfn_pte(pa, user_pte_bits(prot)));
                    Some((keep, pfn_pte(pa, user_pte_bits(c.child) & !L_PTE_YOUNG)))
                },
            )?;
        }
        va = next;
    }
    Ok(())
}
