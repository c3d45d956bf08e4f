//! `swp_entry_t` in its arch-independent form (include/linux/swapops.h): the area's type in
//! the top `MAX_SWAPFILES_SHIFT` bits, the slot's offset below. The page-table encoding of an
//! entry is the architecture's (`swp_entry_to_pte` behind `crate::arch`); `mm/` sees only this.

/// `MAX_SWAPFILES_SHIFT`: bits of the type.
pub const MAX_SWAPFILES_SHIFT: u32 = 5;
/// `SWP_TYPE_SHIFT` for a 32-bit entry.
const SWP_TYPE_SHIFT: u32 = 32 - MAX_SWAPFILES_SHIFT;
const SWP_OFFSET_MASK: u32 = (1 << SWP_TYPE_SHIFT) - 1;

/// `swp_entry_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwpEntry(pub u32);

impl SwpEntry {
    /// `swp_entry(type, offset)`.
    pub const fn new(ty: u32, offset: u32) -> SwpEntry {
        SwpEntry((ty << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK))
    }
    /// `swp_type`.
    pub const fn swp_type(self) -> u32 {
        self.0 >> SWP_TYPE_SHIFT
    }
    /// `swp_offset`.
    pub const fn offset(self) -> u32 {
        self.0 & SWP_OFFSET_MASK
    }
}

impl core::fmt::Display for SwpEntry {
    /// `type:offset`, as pivm's `pt` and ptdump show a swap PTE.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{:#x}", self.swp_type(), self.offset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_offset_round_trip() {
        let e = SwpEntry::new(3, 0x12345);
        assert_eq!((e.swp_type(), e.offset()), (3, 0x12345));
        assert_eq!(SwpEntry::new(27, SWP_OFFSET_MASK).swp_type(), 27);
    }
}
