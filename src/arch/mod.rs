//! CPU architecture support: `arm` is ARMv7-A (Cortex-A7, Pi 2).
pub mod arm;
