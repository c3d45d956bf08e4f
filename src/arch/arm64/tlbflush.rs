//! TLB maintenance for user address spaces (arm64 Linux's `asm/tlbflush.h`): by ASID
//! (`tlbi aside1is`) when an address space goes, by ASID and page (`tlbi vale1is`, the last
//! level only: a PTE changed, not a table) when one PTE changes, and this CPU's whole TLB
//! (`tlbi vmalle1`) after an ASID rollover. Inner-shareable, so the other cores drop the
//! entries too. The operands' encoding is pure and tested on the host.

/// `__TLBI_VADDR(addr, asid)`: VA[55:12] in bits 43:0 and the ASID in bits 63:48.
pub const fn tlbi_vaddr(va: u64, asid: u64) -> u64 {
    ((va >> 12) & ((1 << 44) - 1)) | (asid << 48)
}

/// The operand of `tlbi aside1is`: the ASID in bits 63:48.
pub const fn tlbi_asid(asid: u64) -> u64 {
    asid << 48
}

#[cfg(all(kernel, target_arch = "aarch64"))]
mod hw {
    use super::{tlbi_asid, tlbi_vaddr};
    use aarch64_cpu::asm::barrier;
    use core::arch::asm;

    /// `flush_tlb_mm`: every entry tagged with `asid`, on every core.
    pub fn flush_tlb_asid(asid: u64) {
        barrier::dsb(barrier::ISHST);
        // SAFETY: TLB invalidation drops cached translations only.
        unsafe { asm!("tlbi aside1is, {}", in(reg) tlbi_asid(asid), options(nostack)) };
        barrier::dsb(barrier::ISH);
    }

    /// `flush_tlb_page`: the last-level entry for user address `va` under `asid`.
    pub fn flush_tlb_user_page(va: u64, asid: u64) {
        barrier::dsb(barrier::ISHST);
        // SAFETY: as above.
        unsafe { asm!("tlbi vale1is, {}", in(reg) tlbi_vaddr(va, asid), options(nostack)) };
        barrier::dsb(barrier::ISH);
    }

    /// `local_flush_tlb_all`: this core's whole TLB (after an ASID rollover).
    pub fn local_flush_tlb_all() {
        barrier::dsb(barrier::NSHST);
        // SAFETY: as above.
        unsafe { asm!("tlbi vmalle1", options(nostack)) };
        barrier::dsb(barrier::NSH);
        barrier::isb(barrier::SY);
    }
}

#[cfg(all(kernel, target_arch = "aarch64"))]
pub use hw::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands() {
        assert_eq!(tlbi_vaddr(0x40_0000, 0x2a), 0x002a_0000_0000_0400);
        // The top user page of a 48-bit space: VA[47:12] fits in the 44 bits.
        assert_eq!(tlbi_vaddr(0xffff_ffff_f000, 1), 0x0001_000f_ffff_ffff);
        assert_eq!(tlbi_asid(0xffff), 0xffff_0000_0000_0000);
    }
}
