//! CP15 system registers as tock-registers interfaces (`Readable`/`Writeable` with named
//! bitfields where pivm reads fields), plus the cache, TLB and address-translation operations.

use core::arch::asm;

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;

register_bitfields! {u32,
    /// System Control Register.
    pub SCTLR [
        M OFFSET(0) NUMBITS(1) [],
        A OFFSET(1) NUMBITS(1) [],
        C OFFSET(2) NUMBITS(1) [],
        Z OFFSET(11) NUMBITS(1) [],
        I OFFSET(12) NUMBITS(1) [],
        V OFFSET(13) NUMBITS(1) [],
        TRE OFFSET(28) NUMBITS(1) [],
        AFE OFFSET(29) NUMBITS(1) []
    ],
    /// Translation Table Base Control Register (short-descriptor format).
    pub TTBCR [
        N OFFSET(0) NUMBITS(3) [],
        PD0 OFFSET(4) NUMBITS(1) [],
        PD1 OFFSET(5) NUMBITS(1) [],
        EAE OFFSET(31) NUMBITS(1) []
    ],
    /// Data/Instruction Fault Status Register (short-descriptor format).
    pub FSR [
        FS_LOW OFFSET(0) NUMBITS(4) [],
        DOMAIN OFFSET(4) NUMBITS(4) [],
        FS_HIGH OFFSET(10) NUMBITS(1) [],
        WNR OFFSET(11) NUMBITS(1) [],
        EXT OFFSET(12) NUMBITS(1) []
    ],
    /// Main ID Register.
    pub MIDR [
        REVISION OFFSET(0) NUMBITS(4) [],
        PARTNUM OFFSET(4) NUMBITS(12) [],
        ARCHITECTURE OFFSET(16) NUMBITS(4) [],
        VARIANT OFFSET(20) NUMBITS(4) [],
        IMPLEMENTER OFFSET(24) NUMBITS(8) []
    ]
}

/// No named fields: the whole register is the value.
pub struct Raw;
impl tock_registers::RegisterLongName for Raw {}

/// Defines a zero-sized handle for one CP15 register (`mrc`/`mcr p15, opc1, Rt, CRn, CRm, opc2`).
macro_rules! cp15_register {
    ($(#[$doc:meta])* $name:ident, $fields:ty, $opc1:literal, $crn:literal, $crm:literal, $opc2:literal $(, $w:ident)?) => {
        $(#[$doc])*
        pub struct $name;
        impl Readable for $name {
            type T = u32;
            type R = $fields;
            #[inline]
            fn get(&self) -> u32 {
                let v: u32;
                // SAFETY: reading a CP15 register has no side effects at PL1.
                unsafe {
                    asm!(concat!("mrc p15, ", $opc1, ", {}, c", $crn, ", c", $crm, ", ", $opc2),
                         out(reg) v, options(nomem, nostack, preserves_flags));
                }
                v
            }
        }
        $(cp15_register!(@$w $name, $fields, $opc1, $crn, $crm, $opc2);)?
    };
    (@rw $name:ident, $fields:ty, $opc1:literal, $crn:literal, $crm:literal, $opc2:literal) => {
        impl Writeable for $name {
            type T = u32;
            type R = $fields;
            #[inline]
            fn set(&self, v: u32) {
                // SAFETY: callers change translation/control state deliberately; the
                // barrier after the write is theirs to issue (see `isb`).
                unsafe {
                    asm!(concat!("mcr p15, ", $opc1, ", {}, c", $crn, ", c", $crm, ", ", $opc2),
                         in(reg) v, options(nostack, preserves_flags));
                }
            }
        }
    };
}

cp15_register!(/// Main ID.
    Midr, MIDR::Register, 0, 0, 0, 0);
cp15_register!(/// Multiprocessor affinity.
    Mpidr, Raw, 0, 0, 0, 5);
cp15_register!(IdPfr0, Raw, 0, 0, 1, 0);
cp15_register!(IdPfr1, Raw, 0, 0, 1, 1);
cp15_register!(IdMmfr0, Raw, 0, 0, 1, 4);
cp15_register!(IdIsar0, Raw, 0, 0, 2, 0);
cp15_register!(Sctlr, SCTLR::Register, 0, 1, 0, 0, rw);
cp15_register!(/// Coprocessor access control (for the VFP ID registers).
    Cpacr, Raw, 0, 1, 0, 2, rw);
cp15_register!(Ttbr0, Raw, 0, 2, 0, 0, rw);
cp15_register!(Ttbr1, Raw, 0, 2, 0, 1, rw);
cp15_register!(Ttbcr, TTBCR::Register, 0, 2, 0, 2, rw);
cp15_register!(Dacr, Raw, 0, 3, 0, 0, rw);
cp15_register!(Dfsr, FSR::Register, 0, 5, 0, 0);
cp15_register!(Ifsr, FSR::Register, 0, 5, 0, 1);
cp15_register!(Dfar, Raw, 0, 6, 0, 0);
cp15_register!(Ifar, Raw, 0, 6, 0, 2);
cp15_register!(/// Physical Address Register (result of ATS1CPR).
    Par, Raw, 0, 7, 4, 0);
cp15_register!(Vbar, Raw, 0, 12, 0, 0, rw);
cp15_register!(/// Generic timer frequency, programmed by the firmware (QEMU: 62.5 MHz, Pi: 19.2 MHz).
    Cntfrq, Raw, 0, 14, 0, 0);

/// Instruction synchronisation barrier.
#[inline]
pub fn isb() {
    // SAFETY: a barrier has no memory-safety effects.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Data synchronisation barrier (full system).
#[inline]
pub fn dsb() {
    // SAFETY: a barrier has no memory-safety effects.
    unsafe { asm!("dsb", options(nostack, preserves_flags)) };
}

/// Invalidates the whole unified TLB and the branch predictor, then synchronises.
pub fn local_flush_tlb_all() {
    dsb();
    // SAFETY: TLB and branch-predictor invalidation only drop cached translations.
    unsafe {
        asm!(
            "mcr p15, 0, {z}, c8, c7, 0",
            "mcr p15, 0, {z}, c7, c5, 6",
            z = in(reg) 0u32,
            options(nostack, preserves_flags)
        );
    }
    dsb();
    isb();
}

/// Invalidates the TLB entries for one page (TLBIMVA, ASID 0).
pub fn local_flush_tlb_kernel_page(va: u32) {
    dsb();
    // SAFETY: as above; invalidating a translation is always safe.
    unsafe {
        asm!("mcr p15, 0, {}, c8, c7, 1", in(reg) va & !0xfff, options(nostack, preserves_flags));
    }
    dsb();
    isb();
}

/// Cleans the data cache lines covering `[va, va+len)` to the point of coherency
/// (before a device such as the VideoCore reads memory the CPU wrote).
pub fn clean_dcache_range(va: u32, len: u32) {
    for line in (va & !63..va.saturating_add(len)).step_by(64) {
        // SAFETY: cleaning writes back dirty lines; it never changes memory contents.
        unsafe {
            asm!("mcr p15, 0, {}, c7, c10, 1", in(reg) line, options(nostack, preserves_flags))
        };
    }
    dsb();
}

/// Invalidates the data cache lines covering `[va, va+len)` (after a device wrote memory).
/// The range must be whole cache lines the CPU has not dirtied meanwhile.
pub fn invalidate_dcache_range(va: u32, len: u32) {
    for line in (va & !63..va.saturating_add(len)).step_by(64) {
        // SAFETY: callers pass line-aligned buffers they own (see above).
        unsafe {
            asm!("mcr p15, 0, {}, c7, c6, 1", in(reg) line, options(nostack, preserves_flags))
        };
    }
    dsb();
}

/// Asks the MMU to translate `va` for a privileged read (ATS1CPR) and returns PAR.
/// PAR bit 0 set means the translation faulted.
pub fn ats1cpr(va: u32) -> u32 {
    // SAFETY: address translation operations only write PAR.
    unsafe { asm!("mcr p15, 0, {}, c7, c8, 0", in(reg) va, options(nostack, preserves_flags)) };
    isb();
    Par.get()
}

/// MVFR0 and MVFR1 (VFP/Advanced SIMD features). Grants PL1 access to cp10/cp11 first.
pub fn read_mvfr() -> (u32, u32) {
    const CPACR_CP10_CP11_FULL: u32 = 0xf << 20;
    Cpacr.set(Cpacr.get() | CPACR_CP10_CP11_FULL);
    isb();
    let (m0, m1): (u32, u32);
    // SAFETY: VMRS from the MVFR registers only reads ID information. Encoded with .inst
    // because the soft-float target's assembler does not accept VFP mnemonics.
    unsafe {
        asm!(".inst 0xeef70a10", out("r0") m0, options(nomem, nostack, preserves_flags));
        asm!(".inst 0xeef60a10", out("r0") m1, options(nomem, nostack, preserves_flags));
    }
    (m0, m1)
}

/// Current Program Status Register.
pub fn cpsr() -> u32 {
    let v: u32;
    // SAFETY: reading CPSR has no side effects.
    unsafe { asm!("mrs {}, cpsr", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Generic timer physical count (CNTPCT).
pub fn cntpct() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reading the counter has no side effects.
    unsafe {
        asm!("isb", "mrrc p15, 0, {}, {}, c14", out(reg) lo, out(reg) hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}
