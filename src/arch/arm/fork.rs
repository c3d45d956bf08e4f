//! What `copy_page_range` needs from ARMv7's page tables: a child's PTE installed old (young
//! clear), as `copy_present_pte` leaves every copied entry (`pte_mkold`). On ARM an old Linux
//! PTE has no hardware entry (`cpu_v7_set_pte_ext` writes 0), so the child's first access to
//! each copied page takes a fault that only makes it young, and Linux counts that fault.
use super::mmu::{self, MapError};
use super::pgtable::L_PTE_YOUNG;
use super::process::{user_pte_bits, user_table, UserPteProt};

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
