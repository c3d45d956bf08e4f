//! `/proc/cpuinfo` as arm64 Linux 6.1 prints it (`c_show`, arch/arm64/kernel/cpuinfo.c): per
//! processor its BogoMIPS (from the timer's frequency), the hwcaps decoded from
//! ID_AA64PFR0_EL1 and ID_AA64ISAR0_EL1 as `cpufeature.c` does, and MIDR_EL1's fields; no
//! `Hardware`/`Revision`/`Serial` lines (arm64 dropped them). The renderer is pure; `read`
//! takes the registers of the CPU it runs on (all cores of a BCM2837 are identical).
use core::fmt;

use bitflags::bitflags;

use crate::config::HZ;

/// `ELF_PLATFORM`, what `AT_PLATFORM` points at: "aarch64" (the ABI's constant).
pub use crate::abi::arm64::auxv::ELF_PLATFORM;

bitflags! {
    /// The `HWCAP_*` bits this decoder knows, in `hwcap_str`'s order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Hwcap: u32 {
        const FP = 1 << 0;
        const ASIMD = 1 << 1;
        const EVTSTRM = 1 << 2;
        const AES = 1 << 3;
        const PMULL = 1 << 4;
        const SHA1 = 1 << 5;
        const SHA2 = 1 << 6;
        const CRC32 = 1 << 7;
        const ATOMICS = 1 << 8;
        const FPHP = 1 << 9;
        const ASIMDHP = 1 << 10;
        const CPUID = 1 << 11;
        const SHA512 = 1 << 21;
    }
}

/// `hwcap_str`'s names for the bits above, in its order.
const HWCAP_NAMES: [(Hwcap, &str); 13] = [
    (Hwcap::FP, "fp"),
    (Hwcap::ASIMD, "asimd"),
    (Hwcap::EVTSTRM, "evtstrm"),
    (Hwcap::AES, "aes"),
    (Hwcap::PMULL, "pmull"),
    (Hwcap::SHA1, "sha1"),
    (Hwcap::SHA2, "sha2"),
    (Hwcap::CRC32, "crc32"),
    (Hwcap::ATOMICS, "atomics"),
    (Hwcap::FPHP, "fphp"),
    (Hwcap::ASIMDHP, "asimdhp"),
    (Hwcap::CPUID, "cpuid"),
    (Hwcap::SHA512, "sha512"),
];

/// The ID registers `/proc/cpuinfo` is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRegs {
    pub midr: u64,
    pub id_aa64pfr0: u64,
    pub id_aa64isar0: u64,
}

/// A 4-bit ID register field at `shift`.
const fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xf
}

impl IdRegs {
    /// The hwcaps `arm64_elf_hwcaps` sets from these registers: FP/AdvSIMD 0 (present) or 1
    /// (with half precision), 0xf absent; AES 1 (aes) or 2 (and pmull); SHA1, SHA2 (2: also
    /// SHA512), CRC32 at 1; LSE atomics at 2; `cpuid` always (the kernel emulates the ID
    /// register reads at EL0); `evtstrm` when the timer's event stream is on.
    pub fn hwcaps(&self, evtstrm: bool) -> Hwcap {
        let mut h = Hwcap::CPUID;
        let (pfr, isar) = (self.id_aa64pfr0, self.id_aa64isar0);
        match field(pfr, 16) {
            0 => h |= Hwcap::FP,
            1 => h |= Hwcap::FP | Hwcap::FPHP,
            _ => {}
        }
        match field(pfr, 20) {
            0 => h |= Hwcap::ASIMD,
            1 => h |= Hwcap::ASIMD | Hwcap::ASIMDHP,
            _ => {}
        }
        match field(isar, 4) {
            1 => h |= Hwcap::AES,
            2.. => h |= Hwcap::AES | Hwcap::PMULL,
            _ => {}
        }
        if field(isar, 8) >= 1 {
            h |= Hwcap::SHA1;
        }
        match field(isar, 12) {
            1 => h |= Hwcap::SHA2,
            2.. => h |= Hwcap::SHA2 | Hwcap::SHA512,
            _ => {}
        }
        if field(isar, 16) >= 1 {
            h |= Hwcap::CRC32;
        }
        if field(isar, 20) >= 2 {
            h |= Hwcap::ATOMICS;
        }
        if evtstrm {
            h |= Hwcap::EVTSTRM;
        }
        h
    }
}

/// Everything the file shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    pub regs: IdRegs,
    /// CNTFRQ_EL0 in Hz (BogoMIPS is computed from it, as `calibrate_delay` with a timer).
    pub cntfrq: u64,
    /// Processors listed (Linux lists the online ones).
    pub nr_cpus: u32,
    pub evtstrm: bool,
}

impl CpuInfo {
    /// This CPU's registers and timer, read now.
    #[cfg(all(kernel, target_arch = "aarch64"))]
    pub fn read(nr_cpus: u32) -> Self {
        use aarch64_cpu::registers::{Readable, ID_AA64ISAR0_EL1, ID_AA64PFR0_EL1, MIDR_EL1};
        CpuInfo {
            regs: IdRegs {
                midr: MIDR_EL1.get(),
                id_aa64pfr0: ID_AA64PFR0_EL1.get(),
                id_aa64isar0: ID_AA64ISAR0_EL1.get(),
            },
            cntfrq: u64::from(super::arch_timer::cntfrq()),
            nr_cpus,
            evtstrm: super::arch_timer::evtstrm_enabled(),
        }
    }
}

impl CpuInfo {
    /// The hwcaps this CPU reports (`ELF_HWCAP`, the Features line).
    pub fn hwcaps(&self) -> Hwcap {
        self.regs.hwcaps(self.evtstrm)
    }

    /// Renders the file (same text as `Display`).
    pub fn render(&self, w: &mut impl fmt::Write) -> fmt::Result {
        write!(w, "{self}")
    }
}

/// `ELF_HWCAP` of the CPU running now (`AT_HWCAP`: 0x8ff on the Pi 3's Cortex-A53).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub fn elf_hwcap() -> u32 {
    CpuInfo::read(1).hwcaps().bits()
}

impl fmt::Display for CpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lpj = self.cntfrq / HZ;
        let midr = self.regs.midr;
        let caps = self.hwcaps();
        for cpu in 0..self.nr_cpus {
            writeln!(f, "processor\t: {cpu}")?;
            writeln!(f, "BogoMIPS\t: {}.{:02}", lpj / (500_000 / HZ), (lpj / (5_000 / HZ)) % 100)?;
            f.write_str("Features\t:")?;
            for (_, name) in HWCAP_NAMES.iter().filter(|(c, _)| caps.contains(*c)) {
                write!(f, " {name}")?;
            }
            writeln!(f)?;
            writeln!(f, "CPU implementer\t: {:#04x}", (midr >> 24) & 0xff)?;
            writeln!(f, "CPU architecture: 8")?;
            writeln!(f, "CPU variant\t: {:#x}", (midr >> 20) & 0xf)?;
            writeln!(f, "CPU part\t: {:#05x}", (midr >> 4) & 0xfff)?;
            writeln!(f, "CPU revision\t: {}", midr & 0xf)?;
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    /// The Cortex-A53 r0p4 QEMU's raspi3b models (ID_AA64ISAR0 with AES+PMULL, SHA1, SHA2,
    /// CRC32; FP and AdvSIMD without half precision), 62.5 MHz, event stream on: the
    /// reference's file exactly.
    #[test]
    fn cortex_a53_is_the_references() {
        let c = CpuInfo {
            regs: IdRegs { midr: 0x410f_d034, id_aa64pfr0: 0x1111, id_aa64isar0: 0x1_1120 },
            cntfrq: 62_500_000,
            nr_cpus: 4,
            evtstrm: true,
        };
        let sample = include_str!("../../../tests/samples/linux-6.1-raspi3b-arm64-cpuinfo.txt");
        let want: std::vec::Vec<&str> = sample.lines().skip(1).collect();
        assert_eq!(c.to_string().trim_end(), want.join("\n").trim_end());
        // AT_HWCAP: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid.
        assert_eq!(c.hwcaps().bits(), 0x8ff);
        let mut rendered = std::string::String::new();
        c.render(&mut rendered).unwrap();
        assert_eq!(rendered, c.to_string());
        assert_eq!(ELF_PLATFORM, "aarch64");
    }

    #[test]
    fn absent_fp_and_lse_atomics_decode() {
        let r = IdRegs { midr: 0, id_aa64pfr0: 0xff_0000, id_aa64isar0: 0x21_2120 };
        let h = r.hwcaps(false);
        assert!(!h.contains(Hwcap::FP) && !h.contains(Hwcap::ASIMD));
        assert!(h.contains(Hwcap::ATOMICS | Hwcap::SHA512 | Hwcap::PMULL | Hwcap::CPUID));
        assert!(!h.contains(Hwcap::EVTSTRM));
    }
}
