//! `/proc/cpuinfo` as Linux prints it on 32-bit ARM (`c_show()` in arch/arm/kernel/setup.c).
//!
//! The CPU is described by its raw ID registers, and the `Features` line is derived from them
//! the way Linux computes its hwcaps, so the renderer is pure and its text is tested here.
use core::fmt;

use bitflags::bitflags;

/// Linux's `CONFIG_HZ`: the BogoMIPS formula goes through loops-per-jiffy, so its rounding
/// depends on it.
pub use crate::config::HZ;
/// Linux's `cpu_name` for every ARMv7 core with the CPUID scheme.
pub const CPU_NAME: &str = "ARMv7 Processor";
/// Linux's `elf_platform` for ARMv7 little-endian.
pub const ELF_PLATFORM: &str = "v7l";

bitflags! {
    /// Linux's `HWCAP_*` bits for 32-bit ARM (uapi/asm/hwcap.h); the bit order is the order
    /// of the `Features` line.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Hwcap: u32 {
        const SWP = 1 << 0;
        const HALF = 1 << 1;
        const THUMB = 1 << 2;
        const BIT26 = 1 << 3;
        const FAST_MULT = 1 << 4;
        const FPA = 1 << 5;
        const VFP = 1 << 6;
        const EDSP = 1 << 7;
        const JAVA = 1 << 8;
        const IWMMXT = 1 << 9;
        const CRUNCH = 1 << 10;
        const THUMBEE = 1 << 11;
        const NEON = 1 << 12;
        const VFPV3 = 1 << 13;
        const VFPV3D16 = 1 << 14;
        const TLS = 1 << 15;
        const VFPV4 = 1 << 16;
        const IDIVA = 1 << 17;
        const IDIVT = 1 << 18;
        const VFPD32 = 1 << 19;
        const LPAE = 1 << 20;
        const EVTSTRM = 1 << 21;
    }
}

/// Linux's `hwcap_str[]`: the name of each hwcap bit, indexed by bit number.
const HWCAP_STR: [&str; 22] = [
    "swp", "half", "thumb", "26bit", "fastmult", "fpa", "vfp", "edsp", "java", "iwmmxt", "crunch",
    "thumbee", "neon", "vfpv3", "vfpv3d16", "tls", "vfpv4", "idiva", "idivt", "vfpd32", "lpae",
    "evtstrm",
];

/// What every ARMv7 core Linux supports has (proc-v7.S `__v7_proc` hwcaps, minus SWP, which
/// Linux hides on cores with LDREX/STREX).
const HWCAP_V7_BASE: Hwcap =
    Hwcap::HALF.union(Hwcap::THUMB).union(Hwcap::FAST_MULT).union(Hwcap::EDSP).union(Hwcap::TLS);

/// Extracts the 4-bit ID register field at `shift`.
const fn field(reg: u32, shift: u32) -> u32 {
    (reg >> shift) & 0xf
}

/// `ID_PFR0[15:12]`: ThumbEE (1 = implemented).
const PFR0_THUMBEE_SHIFT: u32 = 12;
/// `ID_ISAR0[27:24]`: divide instructions (1 = Thumb SDIV/UDIV, 2 = ARM and Thumb).
const ISAR0_DIVIDE_SHIFT: u32 = 24;
/// `ID_MMFR0[3:0]`: VMSA support (5 = VMSAv7 with the Long-descriptor format, i.e. LPAE).
const MMFR0_VMSA_SHIFT: u32 = 0;
/// `ID_MMFR0[7:4]`: PMSA support.
const MMFR0_PMSA_SHIFT: u32 = 4;
/// VMSA level that implies LPAE.
const VMSA_LPAE: u32 = 5;
/// `MVFR0[3:0]`: Advanced SIMD/VFP register bank (1 = 16 doubles, 2 = 32 doubles).
const MVFR0_A_SIMD_SHIFT: u32 = 0;
/// `MVFR0[7:4]`: single-precision support (2 = VFPv3 or later).
const MVFR0_SP_SHIFT: u32 = 4;
/// `MVFR0[11:8]`: double-precision support (2 = VFPv3 or later).
const MVFR0_DP_SHIFT: u32 = 8;
/// `MVFR1[31:28]`: fused multiply-accumulate, new in VFPv4.
const MVFR1_FMAC_SHIFT: u32 = 28;
/// `MVFR1[19:8]`: Advanced SIMD single-precision, integer and load/store; Linux advertises NEON
/// only when all three are exactly 1.
const MVFR1_NEON_MASK: u32 = 0x000f_ff00;
const MVFR1_NEON_ALL: u32 = 0x0001_1100;

/// The raw identification registers of one core (CP15 c0 and the VFP system registers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdRegs {
    pub midr: u32,
    pub id_pfr0: u32,
    pub id_isar0: u32,
    pub id_mmfr0: u32,
    pub mvfr0: u32,
    pub mvfr1: u32,
}

impl IdRegs {
    /// `MIDR[31:24]`, the implementer code (0x41 = ARM).
    pub const fn implementer(&self) -> u32 {
        self.midr >> 24
    }
    /// `MIDR[23:20]`, the major revision (the `r` of `rNpM`).
    pub const fn variant(&self) -> u32 {
        (self.midr >> 20) & 0xf
    }
    /// `MIDR[19:16]`: 0xf means "see the CPUID registers".
    pub const fn architecture_field(&self) -> u32 {
        (self.midr >> 16) & 0xf
    }
    /// `MIDR[15:4]`, the primary part number (0xc07 = Cortex-A7).
    pub const fn part(&self) -> u32 {
        (self.midr >> 4) & 0xfff
    }
    /// `MIDR[3:0]`, the minor revision (the `p` of `rNpM`).
    pub const fn revision(&self) -> u32 {
        self.midr & 0xf
    }

    /// The architecture string as Linux's `proc_arch[cpu_architecture()]` gives it.
    pub fn architecture(&self) -> &'static str {
        /// `proc_arch[]` for the pre-CPUID MIDR architecture codes 1..=7.
        const OLD_ARCH: [&str; 8] = ["?", "4", "4T", "5", "5T", "5TE", "5TEJ", "6TEJ"];
        const CPUID_SCHEME: u32 = 0xf;
        const VMSA_V7: u32 = 3;
        const VMSA_V6: u32 = 2;
        let arch = self.architecture_field();
        if arch != CPUID_SCHEME {
            return OLD_ARCH.get(arch as usize).copied().unwrap_or("?");
        }
        let vmsa = field(self.id_mmfr0, MMFR0_VMSA_SHIFT);
        let pmsa = field(self.id_mmfr0, MMFR0_PMSA_SHIFT);
        if vmsa >= VMSA_V7 || pmsa >= VMSA_V7 {
            "7"
        } else if vmsa == VMSA_V6 || pmsa == VMSA_V6 {
            "6TEJ"
        } else {
            "?"
        }
    }

    /// The hwcaps Linux derives from these registers (`cpuid_init_hwcaps()`, `vfp_init()`,
    /// `thumbee_init()`); `evtstrm` is set when the arch timer's event stream is on.
    pub fn hwcaps(&self, evtstrm: bool) -> Hwcap {
        let mut caps = HWCAP_V7_BASE;

        if field(self.id_pfr0, PFR0_THUMBEE_SHIFT) == 1 {
            caps |= Hwcap::THUMBEE;
        }
        match field(self.id_isar0, ISAR0_DIVIDE_SHIFT) {
            1 => caps |= Hwcap::IDIVT,
            2.. => caps |= Hwcap::IDIVA | Hwcap::IDIVT,
            0 => {}
        }
        if field(self.id_mmfr0, MMFR0_VMSA_SHIFT) >= VMSA_LPAE {
            caps |= Hwcap::LPAE;
        }

        let sp = field(self.mvfr0, MVFR0_SP_SHIFT);
        let dp = field(self.mvfr0, MVFR0_DP_SHIFT);
        if sp != 0 || dp != 0 {
            caps |= Hwcap::VFP;
            if self.mvfr1 & MVFR1_NEON_MASK == MVFR1_NEON_ALL {
                caps |= Hwcap::NEON;
            }
            if sp == 2 || dp == 2 {
                caps |= Hwcap::VFPV3;
                match field(self.mvfr0, MVFR0_A_SIMD_SHIFT) {
                    1 => caps |= Hwcap::VFPV3D16,
                    2 => caps |= Hwcap::VFPD32,
                    _ => {}
                }
            }
            if field(self.mvfr1, MVFR1_FMAC_SHIFT) == 1 {
                caps |= Hwcap::VFPV4;
            }
        }

        if evtstrm {
            caps |= Hwcap::EVTSTRM;
        }
        caps
    }
}

/// Writes the `Features` value: each set hwcap's name followed by a space, in bit order.
struct Features(Hwcap);

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, name) in HWCAP_STR.iter().enumerate() {
            if self.0.bits() & (1 << bit) != 0 {
                write!(f, "{name} ")?;
            }
        }
        Ok(())
    }
}

/// BogoMIPS from the timer frequency, as Linux computes it with a timer-based delay loop:
/// `loops_per_jiffy = freq / HZ`, printed as `lpj / (500000 / HZ)` with two decimals.
struct BogoMips(u64);

impl fmt::Display for BogoMips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lpj = self.0 / HZ;
        write!(f, "{}.{:02}", lpj / (500_000 / HZ), (lpj / (5_000 / HZ)) % 100)
    }
}

/// Everything `/proc/cpuinfo` shows. All cores of a BCM2836 are identical, so one register set
/// describes every processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuInfo<'a> {
    pub regs: IdRegs,
    /// CNTFRQ, the generic timer frequency in Hz.
    pub cntfrq: u32,
    /// Processors listed (Linux lists the online ones).
    pub nr_cpus: u32,
    /// Whether the arch timer event stream is enabled (the `evtstrm` hwcap).
    pub evtstrm: bool,
    /// Machine name (`Hardware`).
    pub hardware: &'a str,
    /// Board revision code (`Revision`, printed `%04x` as Linux's `system_rev`).
    pub revision: u32,
    /// Board serial number (`Serial`, printed as 16 hex digits).
    pub serial: u64,
}

impl<'a> CpuInfo<'a> {
    /// This CPU's `/proc/cpuinfo`: its ID registers and timer frequency read now, with what
    /// the board says of itself (machine name, cores, the firmware's revision and serial).
    #[cfg(all(kernel, target_arch = "arm"))]
    pub fn read(hardware: &'a str, nr_cpus: u32, revision: u32, serial: u64) -> Self {
        use super::cp15;
        use tock_registers::interfaces::Readable;
        let (mvfr0, mvfr1) = cp15::read_mvfr();
        let regs = IdRegs {
            midr: cp15::Midr.get(),
            id_pfr0: cp15::IdPfr0.get(),
            id_isar0: cp15::IdIsar0.get(),
            id_mmfr0: cp15::IdMmfr0.get(),
            mvfr0,
            mvfr1,
        };
        CpuInfo {
            regs,
            cntfrq: cp15::Cntfrq.get(),
            nr_cpus,
            evtstrm: super::arch_timer::evtstrm_enabled(),
            hardware,
            revision,
            serial,
        }
    }

    /// The hwcaps this CPU reports.
    pub fn hwcaps(&self) -> Hwcap {
        self.regs.hwcaps(self.evtstrm)
    }

    /// Renders the file (same text as `Display`).
    pub fn render(&self, w: &mut impl fmt::Write) -> fmt::Result {
        write!(w, "{self}")
    }
}

/// `ELF_HWCAP` of the CPU running now (`AT_HWCAP`).
#[cfg(all(kernel, target_arch = "arm"))]
pub fn elf_hwcap() -> u32 {
    CpuInfo::read("", 1, 0, 0).hwcaps().bits()
}

impl fmt::Display for CpuInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `MIDR[19:16]` and `MIDR[15:12]` patterns that tell ARM7-era and older MIDR layouts apart.
        const MIDR_ERA_MASK: u32 = 0x0008_f000;
        const MIDR_PRE_ARM7: u32 = 0x0000_0000;
        const MIDR_ARM7: u32 = 0x0000_7000;

        let r = &self.regs;
        for cpu in 0..self.nr_cpus {
            writeln!(f, "processor\t: {cpu}")?;
            writeln!(f, "model name\t: {CPU_NAME} rev {} ({ELF_PLATFORM})", r.revision())?;
            writeln!(f, "BogoMIPS\t: {}", BogoMips(u64::from(self.cntfrq)))?;
            writeln!(f, "Features\t: {}", Features(self.hwcaps()))?;
            writeln!(f, "CPU implementer\t: {:#04x}", r.implementer())?;
            writeln!(f, "CPU architecture: {}", r.architecture())?;
            match r.midr & MIDR_ERA_MASK {
                MIDR_PRE_ARM7 => writeln!(f, "CPU part\t: {:07x}", r.midr >> 4)?,
                era => {
                    if era == MIDR_ARM7 {
                        writeln!(f, "CPU variant\t: {:#04x}", (r.midr >> 16) & 0x7f)?;
                    } else {
                        writeln!(f, "CPU variant\t: {:#x}", r.variant())?;
                    }
                    writeln!(f, "CPU part\t: {:#05x}", r.part())?;
                }
            }
            writeln!(f, "CPU revision\t: {}", r.revision())?;
            writeln!(f)?;
        }
        writeln!(f, "Hardware\t: {}", self.hardware)?;
        writeln!(f, "Revision\t: {:04x}", self.revision)?;
        writeln!(f, "Serial\t\t: {:016x}", self.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU's raspi2b Cortex-A7, as Linux 6.1 reads it (the sample in /work/shared/samples).
    const CORTEX_A7: IdRegs = IdRegs {
        midr: 0x410f_c075,
        id_pfr0: 0x1131,
        id_isar0: 0x0210_1110,
        id_mmfr0: 0x1010_1105,
        mvfr0: 0x1011_0222,
        mvfr1: 0x1111_1111,
    };

    fn raspi2b(evtstrm: bool) -> CpuInfo<'static> {
        CpuInfo {
            regs: CORTEX_A7,
            cntfrq: 62_500_000,
            nr_cpus: 4,
            evtstrm,
            hardware: "BCM2835",
            revision: 0,
            serial: 0,
        }
    }

    fn processor(n: u32, features: &str) -> String {
        format!(
            "processor\t: {n}\n\
             model name\t: ARMv7 Processor rev 5 (v7l)\n\
             BogoMIPS\t: 125.00\n\
             Features\t: {features}\n\
             CPU implementer\t: 0x41\n\
             CPU architecture: 7\n\
             CPU variant\t: 0x0\n\
             CPU part\t: 0xc07\n\
             CPU revision\t: 5\n\
             \n"
        )
    }

    const TRAILER: &str = "Hardware\t: BCM2835\nRevision\t: 0000\nSerial\t\t: 0000000000000000\n";

    #[test]
    fn golden_sample_with_evtstrm() {
        let features = "half thumb fastmult vfp edsp thumbee neon vfpv3 tls vfpv4 idiva idivt \
                        vfpd32 lpae evtstrm ";
        let expected: String = (0..4).map(|n| processor(n, features)).collect::<String>() + TRAILER;
        assert_eq!(raspi2b(true).to_string(), expected);
    }

    #[test]
    fn sample_head_matches_verbatim() {
        // The first 12 lines of the captured Linux output, byte for byte.
        let sample = "processor\t: 0\n\
model name\t: ARMv7 Processor rev 5 (v7l)\n\
BogoMIPS\t: 125.00\n\
Features\t: half thumb fastmult vfp edsp thumbee neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm \n\
CPU implementer\t: 0x41\n\
CPU architecture: 7\n\
CPU variant\t: 0x0\n\
CPU part\t: 0xc07\n\
CPU revision\t: 5\n\
\n\
processor\t: 1\n\
model name\t: ARMv7 Processor rev 5 (v7l)\n";
        let mut out = String::new();
        raspi2b(true).render(&mut out).unwrap();
        assert!(out.starts_with(sample));
    }

    #[test]
    fn without_evtstrm() {
        let features = "half thumb fastmult vfp edsp thumbee neon vfpv3 tls vfpv4 idiva idivt \
                        vfpd32 lpae ";
        let mut info = raspi2b(false);
        info.nr_cpus = 1;
        assert_eq!(info.to_string(), processor(0, features) + TRAILER);
    }

    #[test]
    fn bogomips_from_timer_frequency() {
        assert_eq!(BogoMips(62_500_000).to_string(), "125.00");
        assert_eq!(BogoMips(19_200_000).to_string(), "38.40");
        assert_eq!(BogoMips(54_000_000).to_string(), "108.00");
        assert_eq!(BogoMips(1_000_000).to_string(), "2.00");
        assert_eq!(BogoMips(0).to_string(), "0.00");
        assert_eq!(BogoMips(u64::from(u32::MAX)).to_string(), "8589.93");
    }

    #[test]
    fn hwcaps_follow_the_registers() {
        let base = HWCAP_V7_BASE;
        assert_eq!(IdRegs::default().hwcaps(false), base);
        // VFPv3-D16 without NEON (e.g. a Cortex-R/A5 style FPU).
        let d16 = IdRegs { mvfr0: 0x1011_0221, mvfr1: 0x0000_0011, ..IdRegs::default() };
        assert_eq!(d16.hwcaps(false), base | Hwcap::VFP | Hwcap::VFPV3 | Hwcap::VFPV3D16);
        // VFPv2 only.
        let v2 = IdRegs { mvfr0: 0x0000_0111, ..IdRegs::default() };
        assert_eq!(v2.hwcaps(false), base | Hwcap::VFP);
        // Thumb-only divide, no LPAE (VMSAv7 without long descriptors).
        let a9ish = IdRegs {
            midr: 0x413f_c090,
            id_isar0: 0x0110_1110,
            id_mmfr0: 0x1010_0103,
            ..IdRegs::default()
        };
        assert_eq!(a9ish.hwcaps(false), base | Hwcap::IDIVT);
        assert_eq!(a9ish.architecture(), "7");
        // The full Cortex-A7 set.
        let a7 = CORTEX_A7.hwcaps(true);
        assert!(a7.contains(Hwcap::NEON | Hwcap::VFPV4 | Hwcap::LPAE | Hwcap::EVTSTRM));
        assert!(!a7.contains(Hwcap::SWP));
        assert_eq!(Features(Hwcap::empty()).to_string(), "");
    }

    #[test]
    fn midr_fields_and_other_layouts() {
        assert_eq!(CORTEX_A7.implementer(), 0x41);
        assert_eq!(CORTEX_A7.part(), 0xc07);
        assert_eq!(CORTEX_A7.variant(), 0);
        assert_eq!(CORTEX_A7.revision(), 5);
        assert_eq!(CORTEX_A7.architecture(), "7");
        // ARM1176 (old-style MIDR, architecture code 7 = ARMv6TEJ).
        let arm1176 = IdRegs { midr: 0x410f_b767, ..IdRegs::default() };
        assert_eq!(arm1176.architecture(), "?");
        let arm1176 = IdRegs { midr: 0x4107_b767, ..IdRegs::default() };
        assert_eq!(arm1176.architecture(), "6TEJ");
        let info = CpuInfo { regs: arm1176, nr_cpus: 1, ..raspi2b(false) };
        assert!(info.to_string().contains("CPU variant\t: 0x0\nCPU part\t: 0xb76\n"));
        // An ARM7-era MIDR prints the 7-bit variant.
        let arm7 = IdRegs { midr: 0x4107_7100, ..IdRegs::default() };
        let info = CpuInfo { regs: arm7, nr_cpus: 1, ..raspi2b(false) };
        assert!(info.to_string().contains("CPU variant\t: 0x07\nCPU part\t: 0x710\n"));
        // Revised CPUID scheme without a VMSA/PMSA level is unknown.
        assert_eq!(IdRegs { midr: 0x000f_0000, ..IdRegs::default() }.architecture(), "?");
    }

    #[test]
    fn trailer_values() {
        let info = CpuInfo {
            nr_cpus: 0,
            hardware: "BCM2836",
            revision: 0xa21041,
            serial: 0x0000_0000_1234_abcd,
            ..raspi2b(false)
        };
        assert_eq!(
            info.to_string(),
            "Hardware\t: BCM2836\nRevision\t: a21041\nSerial\t\t: 000000001234abcd\n"
        );
    }
}
