//! Filesystems and executable formats: the initramfs unpacker, the in-memory filesystem it
//! fills, the file layer over it (`vfs`: descriptors, `/proc`, the console tty) and the ELF
//! loader's pure half. Pure and host-tested; the kernel (`kernel::process::fs`) puts the
//! page cache under the ramfs and runs the system calls and `execve` through them.
pub mod binfmt_elf;
pub mod blkdev;
pub mod fat;
pub mod fdtable;
pub mod initramfs;
pub mod pipe;
pub mod procfs;
pub mod ramfs;
pub mod tty;
pub mod vfs;
