//! Device drivers that are not part of the board's core (Linux's `drivers/`): the SD card.
pub mod mmc;
