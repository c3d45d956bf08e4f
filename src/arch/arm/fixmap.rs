//! Fixmap: compile-time virtual addresses for pages mapped at run time (Linux's
//! `fix_to_virt`), counting down from `FIXADDR_TOP`. pivm maps the devices it drives here.
use super::memory::{FIXADDR_END, FIXADDR_START, FIXADDR_TOP};
use crate::mm::PAGE_SHIFT;

/// Fixmap slots in use. `EarlyconMemBase` keeps Linux's name for the console's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FixedAddress {
    EarlyconMemBase = 0,
    Mailbox = 1,
    PowerManagement = 2,
    SystemTimer = 3,
    LocalPeripherals = 4,
    IrqController = 5,
    /// Linux's `FIX_KMAP_BEGIN`: the temporary (`kmap_atomic`) mapping of one page.
    KmapBegin = 6,
    /// The next `kmap_local` slot (`FIX_KMAP_BEGIN + 1`): the second page of a copy between
    /// two highmem pages (`copy_user_highpage`).
    KmapNext = 7,
}

/// Number of slots the fixmap region holds.
pub const FIX_SLOTS: u64 = (FIXADDR_END - FIXADDR_START) >> PAGE_SHIFT;

/// Virtual address of a fixmap slot.
pub const fn fix_to_virt(idx: FixedAddress) -> u64 {
    FIXADDR_TOP - ((idx as u64) << PAGE_SHIFT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_down_from_top() {
        assert_eq!(fix_to_virt(FixedAddress::EarlyconMemBase), 0xffef_f000);
        assert_eq!(fix_to_virt(FixedAddress::Mailbox), 0xffef_e000);
        assert!(fix_to_virt(FixedAddress::LocalPeripherals) >= FIXADDR_START);
        assert_eq!(FIX_SLOTS, 640);
    }
}
