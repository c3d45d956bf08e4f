//! Renderers of `/proc` files: pure functions over state, writing to `core::fmt::Write`, so the
//! exact text is tested on the host and the same code runs on the device.
pub mod buddyinfo;
pub mod collect;
pub mod diskstats;
pub mod extfrag;
pub mod filter;
pub mod free;
pub mod interrupts;
pub mod iomem;
pub mod memdump;
pub mod meminfo;
pub mod pagetypeinfo;
pub mod partitions;
pub mod pid;
#[cfg(test)]
mod sample61;
pub mod slabinfo;
pub mod snapshot;
pub mod stat;
pub mod sysctl;
pub mod uptime;
pub mod vmallocinfo;
pub mod vmstat;
pub mod zoneinfo;
