//! AArch64 (ARMv8-A, the Raspberry Pi 3's Cortex-A53): arm64 Linux 6.1's layout formulas for
//! both VA sizes, VMSAv8-64 descriptors and ESR decoding (pure, compiled everywhere so the
//! host tests check them) and the code that runs on the CPU (entry at EL3/EL2, the drop to
//! EL1, the MMU, exceptions), compiled for the aarch64 kernel only.
pub mod asid;
pub mod bug;
pub mod cpufeature;
pub mod cpuinfo;
pub mod esr;
pub mod extable;
pub mod fault;
pub mod fork;
pub mod layout;
pub mod mapping;
pub mod memdump;
pub mod memory;
pub mod pgtable;
pub mod processor;
pub mod ptdump;
pub mod pte;
pub mod ptrace;
pub mod stacktrace;
pub mod tlbflush;
pub mod uaccess;
pub mod user_table;
pub mod vdso;

#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod arch_timer;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod boot;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod cpu;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod entry;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod head;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod io;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod irq;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod irqflags;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod mmu;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod page;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod process;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod semihosting;
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod traps;
