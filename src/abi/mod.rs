//! The system-call ABI as data, arch-neutral where Linux's is: error numbers, the
//! [`wire`] encoders every user-visible structure is declared with, the structures shared by
//! all architectures ([`generic`]), the user-memory seam ([`uaccess`]), and the 32-bit ARM
//! EABI ([`arm`]) and the arm64 ABI ([`arm64`]) beside it. Pure and host-tested; the
//! system-call layer calls it.
pub mod arm;
pub mod arm64;
pub mod errno;
pub mod generic;
pub mod uaccess;
pub mod vdso;
pub mod wire;

/// The ABI of the architecture pivm is built for, the one path the arch-neutral callers (the
/// file layer) use: the ARM EABI on ARMv7 (and on the host, where the tests run), arm64's on
/// an AArch64 build.
#[cfg(not(target_arch = "aarch64"))]
pub use arm as native;
#[cfg(target_arch = "aarch64")]
pub use arm64 as native;
