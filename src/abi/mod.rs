//! The system-call ABI as data, arch-neutral where Linux's is: error numbers, the
//! [`wire`] encoders every user-visible structure is declared with, the structures shared by
//! all architectures ([`generic`]), the user-memory seam ([`uaccess`]), and the 32-bit ARM
//! EABI ([`arm`]). Pure and host-tested; the system-call layer will call it. An AArch64 port
//! adds `arm64/` beside `arm/`.
pub mod arm;
pub mod errno;
pub mod generic;
pub mod uaccess;
pub mod wire;

/// The ABI of the architecture pivm is built for, the one path the arch-neutral callers (the
/// file layer) use; an AArch64 build will point it at `arm64`.
pub use arm as native;
