//! The ARM EABI's executables for the shared ELF loader (`fs::binfmt_elf`): `ELFCLASS32`,
//! `EM_ARM`, `arm_elf_read_implies_exec`, the sigpage, 4-byte stack words.
pub use crate::fs::binfmt_elf::ARM_BINFMT as BINFMT;
