//! What the firmware hands over: ATAGs or a device tree (RAM banks, command line), and the
//! kernel command-line parameters parsed from it.
pub mod atags;
pub mod cmdline;
pub mod dtb;
pub mod info;
pub mod params;
pub mod reserved_mem;

pub use info::{BootInfo, BootSource, MemBank};
