//! Raspberry Pi 2 (BCM2836) and Pi 3 (BCM2837, the same peripheral map at 0x3f000000): the
//! peripheral memory map and the drivers pivm needs (the PL011 and its mapping base serve both).
pub mod irq_bcm2835;
pub mod irq_bcm2836;
pub mod map;

/// Cores of the BCM2836 (Cortex-A7 MPCore).
pub const NR_CPUS: u32 = 4;

#[cfg(kernel)]
pub mod io;
#[cfg(kernel)]
pub mod irq;
#[cfg(kernel)]
pub mod mailbox;
#[cfg(kernel)]
pub mod power;
#[cfg(kernel)]
pub mod uart;
