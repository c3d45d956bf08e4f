//! The 32-bit ARM EABI as Linux 6.1 defines it for user space: system-call numbers and their
//! classification, the structures whose layout depends on ARM's 32-bit `long` and its own
//! headers (`stat64`, `rusage`, `iovec`, the 32-bit time types), signals and their frames, and
//! the console's `termios`.
pub mod elf;
pub mod signal;
pub mod termbits;
pub mod types;
pub mod unistd;

/// `UTS_MACHINE` for `uname`: `new_utsname.machine` of an ARMv7 kernel (`armv7l`, the CPU
/// architecture's name with the little-endian suffix).
pub const UTS_MACHINE: &str = "armv7l";

use super::generic::{Dirent64Header, KernelTimespec, NewUtsname, Statx, StatxTimestamp};
use super::wire::Layout;
use signal::{
    KernelSigaction, OldSigaction, SigSet, Sigcontext, Sigframe, StackT, Ucontext, UserVfp,
    UserVfpExc, VfpSigframe, RT_SIGFRAME_LAYOUT, SIGINFO_LAYOUT,
};
use termbits::Termios;
use types::{Iovec, OldTimespec, OldTimeval, Rusage, Stat64};

/// Every structure of the ARM EABI that pivm encodes, as the C compiler must lay it out: the
/// list `tests/abi_golden.rs` checks against `arm-linux-gnueabihf-gcc`.
pub const LAYOUTS: &[Layout] = &[
    Stat64::LAYOUT,
    Statx::LAYOUT,
    StatxTimestamp::LAYOUT,
    KernelTimespec::LAYOUT,
    OldTimespec::LAYOUT,
    OldTimeval::LAYOUT,
    Rusage::LAYOUT,
    Iovec::LAYOUT,
    NewUtsname::LAYOUT,
    Dirent64Header::LAYOUT,
    SigSet::LAYOUT,
    KernelSigaction::LAYOUT,
    OldSigaction::LAYOUT,
    StackT::LAYOUT,
    Sigcontext::LAYOUT,
    Ucontext::LAYOUT,
    UserVfp::LAYOUT,
    UserVfpExc::LAYOUT,
    VfpSigframe::LAYOUT,
    Sigframe::LAYOUT,
    RT_SIGFRAME_LAYOUT,
    SIGINFO_LAYOUT,
    Termios::LAYOUT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_struct_is_fully_declared() {
        for l in LAYOUTS.iter().filter(|l| l.c_type != "siginfo_t") {
            l.check_tiling().unwrap();
        }
        assert_eq!(LAYOUTS.iter().find(|l| l.c_type == "struct stat64").unwrap().size, 104);
        assert_eq!(RT_SIGFRAME_LAYOUT.size, 888);
    }
}
