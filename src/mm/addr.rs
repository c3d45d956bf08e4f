//! Address newtypes, as wide as Linux's: a virtual address is a `usize` (`unsigned long`, 32
//! bits on the Pi 2's kernel, 64 on an AArch64 one and on the host that tests the code), a
//! physical address a `u64` (`phys_addr_t`, wide enough for LPAE and 64-bit RAM maps), a page
//! frame number a `u64`. Conversions between them are checked, never silently truncated.
use core::fmt;

use super::PAGE_SHIFT;

/// A physical (bus-side, CPU view) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

/// A kernel virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(pub usize);

/// A page frame number: `PhysAddr >> PAGE_SHIFT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pfn(pub u64);

impl PhysAddr {
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    pub const fn pfn(self) -> Pfn {
        Pfn(self.0 >> PAGE_SHIFT)
    }
}

impl VirtAddr {
    pub const fn as_usize(self) -> usize {
        self.0
    }

    /// The address as a `u64` (lossless: `usize` is at most 64 bits wide).
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }

    /// The virtual address `addr`, if this machine's addresses can hold it.
    pub const fn try_from_u64(addr: u64) -> Option<Self> {
        if addr > usize::MAX as u64 {
            None
        } else {
            Some(VirtAddr(addr as usize))
        }
    }
}

impl Pfn {
    pub const fn phys(self) -> PhysAddr {
        PhysAddr(self.0 << PAGE_SHIFT)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_addresses_convert_without_truncation() {
        assert_eq!(VirtAddr::try_from_u64(0xffff_f000), Some(VirtAddr(0xffff_f000)));
        assert_eq!(VirtAddr(0xc000_0000).as_u64(), 0xc000_0000);
        let wide = u64::MAX;
        assert_eq!(VirtAddr::try_from_u64(wide).is_some(), usize::BITS == u64::BITS);
        assert_eq!(Pfn(0x3_0000).phys(), PhysAddr(0x3000_0000));
        assert_eq!(PhysAddr(0x1_0000_1000).pfn(), Pfn(0x10_0001));
    }
}
