//! Address newtypes. Values are held as u64 so arithmetic near the top of the 32-bit space
//! (e.g. `PAGE_OFFSET + lowmem` with a 1G/3G split) cannot overflow; the hardware only ever
//! sees the low 32 bits.
use core::fmt;

use super::PAGE_SHIFT;

/// A physical (bus-side, CPU view) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

/// A kernel virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(pub u64);

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
    pub const fn as_u64(self) -> u64 {
        self.0
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
