//! Filesystems and executable formats: the initramfs unpacker, the in-memory filesystem it
//! fills, and the ELF loader's pure half. Pure and host-tested; the kernel will wire them to
//! the page cache and to `execve`.
pub mod binfmt_elf;
pub mod fdtable;
pub mod initramfs;
pub mod procfs;
pub mod ramfs;
pub mod tty;
pub mod vfs;
