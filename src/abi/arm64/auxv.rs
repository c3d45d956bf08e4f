//! What arm64 Linux 6.1 puts in a process's auxiliary vector beyond the generic entries:
//! `AT_HWCAP` with arm64's own bit numbering (`uapi/asm/hwcap.h`; the same names
//! /proc/cpuinfo's `Features` line prints, in bit order), `AT_HWCAP2` (none of its bits on a
//! Cortex-A53), `AT_PLATFORM` "aarch64" (`ELF_PLATFORM`) and `AT_MINSIGSTKSZ`, the signal
//! frame's real minimum, which arm64 (`ARCH_DLINFO`) adds and 32-bit ARM does not.
use super::signal::signal_minsigstksz;

/// `AT_MINSIGSTKSZ` (`uapi/linux/auxvec.h`).
pub const AT_MINSIGSTKSZ: u64 = 51;
/// `ELF_PLATFORM`, the string `AT_PLATFORM` points at (`uname -m` prints the same).
pub const ELF_PLATFORM: &str = "aarch64";
/// `UTS_MACHINE` for `uname`: `new_utsname.machine` on arm64.
pub const UTS_MACHINE: &str = "aarch64";

/// arm64's `HWCAP_*` names in bit order (`hwcap_str[]` of `arch/arm64/kernel/cpuinfo.c`
/// follows the same order for the first 32 bits).
pub const HWCAP_STR: [&str; 32] = [
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
    "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4",
    "asimddp", "sha512", "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb",
    "paca", "pacg",
];

/// The bit of the feature called `name` (`HWCAP_FP` = bit 0, ...).
pub fn hwcap_bit(name: &str) -> Option<u64> {
    HWCAP_STR.iter().position(|&n| n == name).map(|i| 1 << i)
}

/// `AT_HWCAP` of the features named (a /proc/cpuinfo `Features` line); an unknown name is an
/// error naming it.
pub fn hwcap_from_features(features: &str) -> Result<u64, &str> {
    features.split_whitespace().try_fold(0, |acc, f| hwcap_bit(f).map(|b| acc | b).ok_or(f))
}

/// The Cortex-A53 of the Pi 3 as Linux 6.1 sees it on QEMU's raspi3b (the reference's
/// /proc/cpuinfo: `fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid`): FP/SIMD, the
/// Crypto Extension's AES/PMULL/SHA1/SHA2, CRC32, the generic timer's event stream (evtstrm,
/// on because Linux turns it on) and EL0 access to the ID registers (cpuid, always set).
pub const CORTEX_A53_HWCAP: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 11);
/// `AT_HWCAP2` on the same CPU: none of arm64's second-word features (DCPODP, SVE2, ...).
pub const CORTEX_A53_HWCAP2: u64 = 0;

/// The value of `AT_MINSIGSTKSZ` for this CPU (no SVE/SME state in the frame).
pub const fn minsigstksz() -> u64 {
    signal_minsigstksz() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_references_features_give_the_a53_hwcap() {
        let features = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid";
        assert_eq!(hwcap_from_features(features), Ok(CORTEX_A53_HWCAP));
        assert_eq!(CORTEX_A53_HWCAP, 0x8ff);
        assert_eq!(hwcap_from_features("fp sve2"), Err("sve2"));
        assert_eq!(hwcap_bit("cpuid"), Some(1 << 11));
        assert_eq!(minsigstksz(), 4720);
    }
}
