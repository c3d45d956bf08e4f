//! The serial console: the line editor and argument parsing (pure), printing and the command
//! table (kernel only).
pub mod args;
pub mod line;

#[cfg(all(kernel, target_arch = "arm"))]
pub mod commands;
#[cfg(all(kernel, target_arch = "arm"))]
pub mod printk;
