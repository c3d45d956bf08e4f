//! Board support: addresses and drivers of the Raspberry Pi's SoC.
pub mod raspi;
