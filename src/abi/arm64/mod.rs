//! The arm64 (AArch64) Linux 6.1 user ABI, beside [`arm`](super::arm)'s EABI: the generic
//! system-call table as arm64 uses it (`svc #0`, the number in x8, arguments in x0-x5), the
//! 64-bit structure layouts (`struct stat`, the `long`-sized time types, `rusage`, `iovec`,
//! signals and the record-based signal frame), and the auxiliary vector's arm64 entries.
//! The structures the architectures share (`statx`, `__kernel_timespec`, `linux_dirent64`,
//! `new_utsname`) are [`generic`](super::generic)'s; the console's `termios` and the signal
//! numbers are the asm-generic ones 32-bit ARM uses too, re-exported here so the arch-neutral
//! callers can name `abi::native::...` on both. Pure and host-tested; the arm64 kernel's
//! process layer will call it (wired in the next stage).
pub mod auxv;
pub mod elf;
pub mod signal;
pub mod types;
pub mod unistd;
pub mod vdso;

pub use super::arm::termbits;
pub use auxv::UTS_MACHINE;

use super::generic::{Dirent64Header, KernelTimespec, NewUtsname, Statx, StatxTimestamp};
use super::wire::Layout;
use signal::{
    Aarch64Ctx, EsrContext, ExtraContext, FpsimdContext, KernelSigaction, SigSet, Sigcontext,
    StackT, Ucontext, RT_SIGFRAME_LAYOUT, SIGINFO_LAYOUT,
};
use termbits::Termios;
use types::{Iovec, Rusage, Stat, Timespec, Timeval};

/// Every structure of the arm64 ABI that pivm encodes, as the C compiler must lay it out: the
/// list `tests/abi_golden_arm64.rs` checks against `aarch64-linux-gnu-gcc`.
pub const LAYOUTS: &[Layout] = &[
    Stat::LAYOUT,
    Statx::LAYOUT,
    StatxTimestamp::LAYOUT,
    KernelTimespec::LAYOUT,
    Timespec::LAYOUT,
    Timeval::LAYOUT,
    Rusage::LAYOUT,
    Iovec::LAYOUT,
    NewUtsname::LAYOUT,
    Dirent64Header::LAYOUT,
    SigSet::LAYOUT,
    KernelSigaction::LAYOUT,
    StackT::LAYOUT,
    Sigcontext::LAYOUT,
    Aarch64Ctx::LAYOUT,
    FpsimdContext::LAYOUT,
    EsrContext::LAYOUT,
    ExtraContext::LAYOUT,
    Ucontext::LAYOUT,
    RT_SIGFRAME_LAYOUT,
    SIGINFO_LAYOUT,
    Termios::LAYOUT,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes printed by `aarch64-linux-gnu-gcc` (Debian 12, linux-libc-dev-arm64-cross 6.1)
    /// for a program of `sizeof`s over the uapi headers and `tests/abi/kernel_structs_arm64.h`,
    /// run under `qemu-aarch64`; `tests/abi_golden_arm64.rs` recomputes every member live.
    const GOLDEN_SIZES: [(&str, usize, usize); 13] = [
        ("struct stat", 128, 8),
        ("struct __kernel_old_timespec", 16, 8),
        ("struct rusage", 144, 8),
        ("struct iovec", 16, 8),
        ("struct kernel_sigaction", 32, 8),
        ("stack_t", 24, 8),
        ("struct sigcontext", 4384, 16),
        ("struct fpsimd_context", 528, 16),
        ("struct esr_context", 16, 8),
        ("struct extra_context", 32, 8),
        ("struct ucontext", 4560, 16),
        ("struct rt_sigframe", 4688, 16),
        ("siginfo_t", 128, 8),
    ];

    #[test]
    fn every_struct_is_fully_declared_and_the_golden_sizes_hold() {
        for l in LAYOUTS.iter().filter(|l| l.c_type != "siginfo_t") {
            l.check_tiling().unwrap();
        }
        for (c_type, size, align) in GOLDEN_SIZES {
            let l = LAYOUTS.iter().find(|l| l.c_type == c_type).unwrap();
            assert_eq!((l.size, l.align), (size, align), "{c_type}");
        }
    }
}
