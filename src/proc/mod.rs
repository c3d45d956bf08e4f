//! Renderers of `/proc` files: pure functions over state, writing to `core::fmt::Write`, so the
//! exact text is tested on the host and the same code runs on the device.
pub mod cpuinfo;
pub mod iomem;
