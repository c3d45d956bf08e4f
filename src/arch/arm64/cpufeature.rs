//! `emulate_mrs` (arm64 6.1's `cpufeature.c`): EL0 may not read the CPU's ID registers, so an
//! `MRS` of one is undefined there and traps; with `HWCAP_CPUID` advertised the kernel
//! emulates it instead of sending SIGILL. glibc's start-up reads MIDR_EL1 this way. Pure
//! decoding here; the EL0 entry applies the result.

/// `mrs_hook`: `MRS Xt, <reg>` with op0 = 3, op1 = 0 (`instr_mask`/`instr_val`).
const MRS_MASK: u32 = 0xffff_0000;
const MRS_VAL: u32 = 0xd538_0000;

/// `sys_reg(op0, op1, crn, crm, op2)` for the registers `emulate_id_reg` answers.
const fn sys_reg(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
    op0 << 19 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5
}
const SYS_MIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 0);
const SYS_MPIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 5);
const SYS_REVIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 6);
/// `SYS_MPIDR_SAFE_VAL`: bit 31 (RES1) only, so no program learns the topology.
const SYS_MPIDR_SAFE_VAL: u64 = 1 << 31;

/// What an emulated `MRS` does: write `value` to `Xrt` (nothing for XZR, 31) and step over
/// the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MrsResult {
    pub rt: usize,
    pub value: u64,
}

/// `emulate_mrs` for the instruction `insn` on a CPU whose MIDR_EL1 is `midr`: the ID block
/// with CRm = 0 as `emulate_id_reg` answers it (MIDR_EL1 itself, MPIDR_EL1 as
/// `SYS_MPIDR_SAFE_VAL`, REVIDR_EL1 as 0). None for anything else, which stays SIGILL:
/// another instruction, another register, or the feature registers with CRm 2-7, whose
/// sanitised user views (`arm64_ftr_reg_user_value`) pivm does not keep.
pub fn emulate_mrs(insn: u32, midr: u64) -> Option<MrsResult> {
    if insn & MRS_MASK != MRS_VAL {
        return None;
    }
    // `aarch64_insn_decode_immediate(AARCH64_INSN_IMM_16, insn) << 5`: op0..op2 in place.
    let reg = ((insn >> 5) & 0xffff) << 5;
    let value = match reg {
        SYS_MIDR_EL1 => midr,
        SYS_MPIDR_EL1 => SYS_MPIDR_SAFE_VAL,
        SYS_REVIDR_EL1 => 0,
        _ => return None,
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
    #[test]
    fn id_block_reads_are_emulated_as_linux_does() {
        assert_eq!(emulate_mrs(0xd538_0000, MIDR), Some(MrsResult { rt: 0, value: MIDR }));
        assert_eq!(emulate_mrs(0xd538_00a3, MIDR), Some(MrsResult { rt: 3, value: 1 << 31 }));
        assert_eq!(emulate_mrs(0xd538_00de, MIDR), Some(MrsResult { rt: 30, value: 0 }));
        assert_eq!(emulate_mrs(0xd538_001f, MIDR), Some(MrsResult { rt: 31, value: MIDR }));
    }

    /// Not emulated: `mrs x0, id_aa64isar0_el1` (CRm 6, a sanitised feature register), `mrs
    /// x0, ctr_el0` (op1 3, which EL0 reads itself), `udf #0`, `msr midr_el1`-shaped writes.
    #[test]
    fn other_instructions_stay_undefined() {
        assert_eq!(emulate_mrs(0xd538_0600, MIDR), None);
        assert_eq!(emulate_mrs(0xd53b_0020, MIDR), None);
        assert_eq!(emulate_mrs(0x0000_0000, MIDR), None);
        assert_eq!(emulate_mrs(0xd518_0000, MIDR), None);
    }
}
