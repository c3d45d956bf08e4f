//! `emulate_mrs` (arm64 6.1's `cpufeature.c`): EL0 may not read the CPU's ID registers, so an
//! `MRS` of one is undefined there and traps; with `HWCAP_CPUID` advertised the kernel
//! emulates it instead of sending SIGILL. glibc's start-up reads MIDR_EL1 this way; programs
//! probing features read the ID_AA64* registers. Pure decoding and sanitising here (the
//! `arm64_ftr_bits` tables reduced to what a user read sees); the EL0 entry reads the CPU's
//! register and applies the result.

/// `mrs_hook`: `MRS Xt, <reg>` with op0 = 3, op1 = 0 (`instr_mask`/`instr_val`).
const MRS_MASK: u32 = 0xffff_0000;
const MRS_VAL: u32 = 0xd538_0000;

/// `sys_reg(op0, op1, crn, crm, op2)`.
pub const fn sys_reg(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
    op0 << 19 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5
}
const fn sys_reg_crm(id: u32) -> u32 {
    (id >> 8) & 0xf
}
const SYS_MIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 0);
const SYS_MPIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 5);
const SYS_REVIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 6);
/// `SYS_MPIDR_SAFE_VAL`: bit 31 (RES1) only, so no program learns the topology.
const SYS_MPIDR_SAFE_VAL: u64 = 1 << 31;

/// The AArch64 feature registers 6.1 tracks (`arm64_ftr_regs[]`, CRm 4-7).
pub const SYS_ID_AA64PFR0_EL1: u32 = sys_reg(3, 0, 0, 4, 0);
pub const SYS_ID_AA64PFR1_EL1: u32 = sys_reg(3, 0, 0, 4, 1);
pub const SYS_ID_AA64ZFR0_EL1: u32 = sys_reg(3, 0, 0, 4, 4);
pub const SYS_ID_AA64SMFR0_EL1: u32 = sys_reg(3, 0, 0, 4, 5);
pub const SYS_ID_AA64DFR0_EL1: u32 = sys_reg(3, 0, 0, 5, 0);
pub const SYS_ID_AA64DFR1_EL1: u32 = sys_reg(3, 0, 0, 5, 1);
pub const SYS_ID_AA64ISAR0_EL1: u32 = sys_reg(3, 0, 0, 6, 0);
pub const SYS_ID_AA64ISAR1_EL1: u32 = sys_reg(3, 0, 0, 6, 1);
pub const SYS_ID_AA64ISAR2_EL1: u32 = sys_reg(3, 0, 0, 6, 2);
pub const SYS_ID_AA64MMFR0_EL1: u32 = sys_reg(3, 0, 0, 7, 0);
pub const SYS_ID_AA64MMFR1_EL1: u32 = sys_reg(3, 0, 0, 7, 1);
pub const SYS_ID_AA64MMFR2_EL1: u32 = sys_reg(3, 0, 0, 7, 2);

/// A 4-bit field's mask at `shift`.
const fn f4(shift: u32) -> u64 {
    0xf << shift
}
/// A 1-bit field's mask at `bit`.
const fn f1(bit: u32) -> u64 {
    1 << bit
}

/// A tracked register as a user read sees it (`arm64_ftr_reg_user_value`: `(sys_val &
/// user_mask) | user_val`): the `FTR_VISIBLE` fields' mask, and `user_val`, every hidden
/// field at its `safe_val` (only the non-zero ones matter). With one CPU the sanitised
/// `sys_val` is the boot CPU's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FtrReg {
    pub user_mask: u64,
    pub user_val: u64,
}

/// 6.1's `ftr_id_aa64*` tables reduced to `FtrReg`: fields `FTR_VISIBLE` (also the
/// `FTR_VISIBLE_IF_IS_ENABLED` ones of Debian's configuration: SVE, SME, MTE, BTI, pointer
/// authentication) and hidden fields with a non-zero safe value. None: not tracked.
pub const fn ftr_reg(id: u32) -> Option<FtrReg> {
    let (user_mask, user_val) = match id {
        // DIT, SVE, AdvSIMD, FP visible; EL1 and EL0 hidden, safe ELx_64BIT_ONLY (1).
        SYS_ID_AA64PFR0_EL1 => (f4(48) | f4(32) | f4(20) | f4(16), 1 << 4 | 1),
        // SME, MTE, SSBS, BT.
        SYS_ID_AA64PFR1_EL1 => (f4(24) | f4(8) | f4(4) | f4(0), 0),
        // F64MM, F32MM, I8MM, SM4, SHA3, BF16, BitPerm, AES, SVEver.
        SYS_ID_AA64ZFR0_EL1 => {
            (f4(56) | f4(52) | f4(44) | f4(40) | f4(32) | f4(20) | f4(16) | f4(4) | f4(0), 0)
        }
        // FA64, I16I64, F64F64, I8I32, F16F32, B16F32, F32F32.
        SYS_ID_AA64SMFR0_EL1 => (f1(63) | f4(52) | f1(48) | f4(36) | f1(35) | f1(34) | f1(32), 0),
        // All hidden; DebugVer's safe value is 6 (ARMv8 debug).
        SYS_ID_AA64DFR0_EL1 => (0, 6),
        // `ftr_raz`.
        SYS_ID_AA64DFR1_EL1 => (0, 0),
        // RNDR, TS, FHM, DP, SM4, SM3, SHA3, RDM, ATOMIC, CRC32, SHA2, SHA1, AES (TLB hidden).
        SYS_ID_AA64ISAR0_EL1 => (
            f4(60)
                | f4(52)
                | f4(48)
                | f4(44)
                | f4(40)
                | f4(36)
                | f4(32)
                | f4(28)
                | f4(20)
                | f4(16)
                | f4(12)
                | f4(8)
                | f4(4),
            0,
        ),
        // I8MM, DGH, BF16, SB, FRINTTS, GPI, GPA, LRCPC, FCMA, JSCVT, API, APA, DPB
        // (SPECRES hidden).
        SYS_ID_AA64ISAR1_EL1 => (
            f4(52)
                | f4(48)
                | f4(44)
                | f4(36)
                | f4(32)
                | f4(28)
                | f4(24)
                | f4(20)
                | f4(16)
                | f4(12)
                | f4(8)
                | f4(4)
                | f4(0),
            0,
        ),
        // APA3, GPA3, RPRES, WFxT (CLRBHB hidden).
        SYS_ID_AA64ISAR2_EL1 => (f4(12) | f4(8) | f4(4) | f4(0), 0),
        // ECV visible; TGRAN{4,64,16}_2 safe 1, TGRAN4 and TGRAN64 safe NI (0xf).
        SYS_ID_AA64MMFR0_EL1 => (f4(60), 1 << 40 | 1 << 36 | 1 << 32 | 0xf << 28 | 0xf << 24),
        // AFP.
        SYS_ID_AA64MMFR1_EL1 => (f4(44), 0),
        // AT.
        SYS_ID_AA64MMFR2_EL1 => (f4(32), 0),
        _ => return None,
    };
    Some(FtrReg { user_mask, user_val })
}

/// `is_emulated`: op0 3, op1 0, CRn 0 and CRm 0 or 2-7 (the ID block and the feature
/// registers; CRm 1, AArch32's first ID registers, is not).
const fn is_emulated(id: u32) -> bool {
    id & !(0xf << 8 | 0x7 << 5) == sys_reg(3, 0, 0, 0, 0)
        && (sys_reg_crm(id) == 0 || (sys_reg_crm(id) >= 2 && sys_reg_crm(id) <= 7))
}

/// What an emulated `MRS` does: write `value` to `Xrt` (nothing for XZR, 31) and step over
/// the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MrsResult {
    pub rt: usize,
    pub value: u64,
}

/// `emulate_mrs` for the instruction `insn`, reading the CPU's registers with `read` (given a
/// `sys_reg` id: MIDR_EL1 or one `ftr_reg` tracks): `emulate_sys_reg` answers the ID block
/// (CRm 0) as `emulate_id_reg` does (MIDR_EL1 itself, MPIDR_EL1 as `SYS_MPIDR_SAFE_VAL`,
/// REVIDR_EL1 as 0, the rest of CRm 0 not at all), a tracked feature register (CRm 2-7) with
/// its user-visible value, an untracked one there as 0 (IMPLEMENTATION DEFINED or RAZ; every
/// field of the AArch32 registers in CRm 2-3 is hidden with safe value 0, so they read 0 too).
/// None for anything else, which stays SIGILL.
pub fn emulate_mrs(insn: u32, read: impl FnOnce(u32) -> u64) -> Option<MrsResult> {
    if insn & MRS_MASK != MRS_VAL {
        return None;
    }
    // `aarch64_insn_decode_immediate(AARCH64_INSN_IMM_16, insn) << 5`: op0..op2 in place.
    let id = ((insn >> 5) & 0xffff) << 5;
    if !is_emulated(id) {
        return None;
    }
    let value = match id {
        SYS_MIDR_EL1 => read(SYS_MIDR_EL1),
        SYS_MPIDR_EL1 => SYS_MPIDR_SAFE_VAL,
        SYS_REVIDR_EL1 => 0,
        _ if sys_reg_crm(id) == 0 => return None,
        _ => match ftr_reg(id) {
            Some(r) => (read(id) & r.user_mask) | r.user_val,
            None => 0,
        },
    };
    Some(MrsResult { rt: (insn & 0x1f) as usize, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The QEMU raspi3b's Cortex-A53 r0p4.
    const MIDR: u64 = 0x410f_d034;

    /// Encodings from `aarch64-linux-gnu-as`: `mrs x0, midr_el1` (glibc's `init_cpu_features`),
    /// `mrs x3, mpidr_el1`, `mrs x30, revidr_el1`, `mrs xzr, midr_el1`.
    /// The QEMU raspi3b A53's feature registers (QEMU's `cortex_a53` model; PFR0 and MMFR0
    /// as AARCH64_FACTS.md observed them).
    fn a53(id: u32) -> u64 {
        match id {
            SYS_MIDR_EL1 => MIDR,
            SYS_ID_AA64PFR0_EL1 => 0x2222,
            SYS_ID_AA64DFR0_EL1 => 0x1030_5106,
            SYS_ID_AA64ISAR0_EL1 => 0x1_1120,
            SYS_ID_AA64MMFR0_EL1 => 0x1122,
            _ => 0,
        }
    }

    #[test]
    fn id_block_reads_are_emulated_as_linux_does() {
        assert_eq!(emulate_mrs(0xd538_0000, a53), Some(MrsResult { rt: 0, value: MIDR }));
        assert_eq!(emulate_mrs(0xd538_00a3, a53), Some(MrsResult { rt: 3, value: 1 << 31 }));
        assert_eq!(emulate_mrs(0xd538_00de, a53), Some(MrsResult { rt: 30, value: 0 }));
        assert_eq!(emulate_mrs(0xd538_001f, a53), Some(MrsResult { rt: 31, value: MIDR }));
    }

    /// `mrs xN, <reg>` for a `sys_reg` id.
    fn mrs(id: u32, rt: u32) -> u32 {
        MRS_VAL | id | rt
    }

    /// The user-visible values 6.1 gives on an A53 (Documentation/arm64/cpu-feature-registers:
    /// AES, SHA1, SHA2, CRC32 pass through; FP and AdvSIMD 0 (present); EL0/EL1 at their safe
    /// 64-bit-only value; the MMU's granule fields at their safe values; DebugVer 6).
    #[test]
    fn arm64dbg_feature_registers_read_their_sanitised_user_values() {
        let read = |id| emulate_mrs(mrs(id, 1), a53).map(|r| (r.rt, r.value));
        assert_eq!(read(SYS_ID_AA64ISAR0_EL1), Some((1, 0x1_1120)));
        assert_eq!(read(SYS_ID_AA64PFR0_EL1), Some((1, 0x11)));
        assert_eq!(read(SYS_ID_AA64MMFR0_EL1), Some((1, 0x0000_0111_ff00_0000)));
        assert_eq!(read(SYS_ID_AA64DFR0_EL1), Some((1, 6)));
        assert_eq!(read(SYS_ID_AA64ISAR1_EL1), Some((1, 0)));
        // A visible field passes through, a hidden one does not (TLB in ISAR0, PAN in MMFR1).
        let isar0 = emulate_mrs(mrs(SYS_ID_AA64ISAR0_EL1, 0), |_| 0x0f00_0000_0000_0000 | 0xf0);
        assert_eq!(isar0.map(|r| r.value), Some(0xf0));
        let mmfr1 = emulate_mrs(mrs(SYS_ID_AA64MMFR1_EL1, 0), |_| 0xf0_0000 | 1 << 44);
        assert_eq!(mmfr1.map(|r| r.value), Some(1 << 44));
        // Untracked in CRm 2-7 (ID_AA64AFR0_EL1, AArch32's ID_ISAR0_EL1): read as zero.
        assert_eq!(read(sys_reg(3, 0, 0, 5, 4)), Some((1, 0)));
        assert_eq!(read(sys_reg(3, 0, 0, 2, 0)), Some((1, 0)));
    }

    /// Not emulated: CRm 1 (`mrs x0, id_pfr0_el1`), the rest of CRm 0 (`mrs x0, s3_0_c0_c0_1`),
    /// `mrs x0, ctr_el0` (op1 3, which EL0 reads itself), CRn 1, `udf #0`, `msr midr_el1`-shaped
    /// writes.
    #[test]
    fn other_instructions_stay_undefined() {
        assert_eq!(emulate_mrs(mrs(sys_reg(3, 0, 0, 1, 0), 0), a53), None);
        assert_eq!(emulate_mrs(mrs(sys_reg(3, 0, 0, 0, 1), 0), a53), None);
        assert_eq!(emulate_mrs(0xd53b_0020, a53), None);
        assert_eq!(emulate_mrs(mrs(sys_reg(3, 0, 1, 0, 0), 0), a53), None);
        assert_eq!(emulate_mrs(0x0000_0000, a53), None);
        assert_eq!(emulate_mrs(0xd518_0000, a53), None);
    }
}
