//! ARMv7-A, the implementation behind the `arch` facade: the 32-bit layout formulas and
//! profiles, short-descriptor translation table formats and fault decoding (pure, compiled
//! everywhere) and the code that runs on the CPU (entry, CP15, MMU, exceptions), compiled for
//! the kernel only.
pub mod asid;
pub mod cpuinfo;
pub mod desc;
pub mod extable;
pub mod fixmap;
pub mod fsr;
pub mod layout;
pub mod memdump;
pub mod memory;
pub mod pgtable;
pub mod profile;
pub mod vdso;

#[cfg(all(kernel, target_arch = "arm"))]
pub mod arch_timer;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod cp15;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod cpu;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod entry;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod entry_armv;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod fault;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod fork;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod image;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod io;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod irq;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod irqflags;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod mmu;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod page;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod process;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod semihosting;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod uaccess;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod vectors;

#[cfg(all(kernel, target_arch = "arm"))]
pub use irq::smp_processor_id;

/// Kernel code here is compiled only for 32-bit ARM, where `usize` is 32 bits: a virtual
/// address converts to the `u32` the hardware takes exactly.
#[cfg(all(kernel, target_arch = "arm"))]
const _: () = assert!(usize::BITS == u32::BITS);
