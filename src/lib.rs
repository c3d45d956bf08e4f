//! pivm: a bare-metal Raspberry Pi kernel that reproduces Linux's virtual-memory design.
//!
//! The library holds everything: pure, host-tested logic (layout formulas, parsers, report
//! renderers, descriptor encoding) is compiled everywhere; code that touches the hardware is
//! compiled only for the bare-metal target (`cfg(kernel)`, set by `build.rs`).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod abi;
pub mod arch;
pub mod block;
pub mod board;
pub mod boot;
pub mod config;
pub mod console;
pub mod drivers;
pub mod fs;
pub mod kallsyms;
pub mod mm;
pub mod proc;
pub mod scenario;
pub mod sizes;
pub mod warnings;

/// The running kernel (both architectures; on AArch64 without processes, the SD card and
/// swap yet: `kernel/mod.rs` gates those).
#[cfg(kernel)]
pub mod kernel;
/// The kernel's pure parts, compiled and tested on the host too (the kernel build reaches
/// them through `kernel` itself): interrupts, time, the vDSO's data page, interrupt-safe
/// locks, SysRq's arming and text, the console watchdog's detection.
#[cfg(not(kernel))]
#[path = "kernel"]
pub mod kernel {
    pub mod irq;
    pub mod ratelimit;
    pub mod spinlock;
    pub mod sysrq;
    pub mod time;
    pub mod vsyscall;
    pub mod watchdog;
    pub mod process {
        pub mod pid_table;
        pub mod rseq;
        pub mod rules;
        pub mod sysno;
    }
}

/// The kernel's version string, as `uname -r` would show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
