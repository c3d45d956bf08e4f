//! Device drivers that are not part of the board's core (Linux's `drivers/`): the SD card, and
//! the generic timer's names both architectures share.
pub mod arm_arch_timer;
pub mod mmc;
