//! The 32-bit ARM EABI as Linux 6.1 defines it for user space: system-call numbers and their
//! classification, the structures whose layout depends on ARM's 32-bit `long` and its own
//! headers (`stat64`, `rusage`, `iovec`, the 32-bit time types), signals and their frames, and
//! the console's `termios`.
pub mod signal;
pub mod termbits;
pub mod types;
pub mod unistd;
