//! SD cards (Linux's `drivers/mmc/`): the protocol (`core`: commands, responses, the CID and
//! CSD registers, the card-identification state machine), the SDHCI host controller
//! (`sdhci`: registers, command encoding, and on the kernel build the driver of the Pi's
//! Arasan controller) and the block driver that puts the card on the block layer (`block`,
//! kernel build).
pub mod core;
pub mod sdhci;

#[cfg(kernel)]
pub mod block;
