//! Scripted workloads: the vmalloc fragmentation case study and its variants. The operation
//! traces are pure and seeded, so the same run replays on the host and on the device.
pub mod distribution;
pub mod report;
pub mod workload;
