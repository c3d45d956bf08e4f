//! ARMv7-A: short-descriptor translation table formats and fault decoding (pure, compiled
//! everywhere) and the code that runs on the CPU (entry, CP15, MMU, exceptions), compiled for
//! the kernel only.
pub mod cpuinfo;
pub mod desc;
pub mod fixmap;
pub mod fsr;
pub mod layout;
pub mod pgtable;
pub mod profile;

#[cfg(all(kernel, target_arch = "arm"))]
pub mod cp15;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod entry;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod fault;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod image;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod mmu;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod semihosting;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod vectors;

/// Stops this CPU for good: interrupts off, wait for an event that never comes.
#[cfg(all(kernel, target_arch = "arm"))]
pub fn halt() -> ! {
    loop {
        // SAFETY: masking interrupts and waiting has no memory effects.
        unsafe { core::arch::asm!("cpsid if", "wfi", options(nomem, nostack)) };
    }
}
