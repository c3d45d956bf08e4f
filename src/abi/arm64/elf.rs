//! arm64's executables for the shared ELF loader (`fs::binfmt_elf`): `ELFCLASS64`,
//! `EM_AARCH64`, and nothing more, as arm64's `elf_check_arch()` checks only the machine (a
//! misaligned entry faults at the first instruction, with `SIGBUS`, not at exec). The other
//! class or machine, ARM's ELF32 among them, is `ENOEXEC`.
use super::vdso::VVAR_NR_PAGES;
use crate::fs::binfmt_elf::{AdditionalPages, BinfmtArch, ElfArch, ElfClass, ElfError, ElfHeader};

/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;

fn aarch64_check(_: &ElfHeader) -> Result<(), ElfError> {
    Ok(())
}

/// AArch64 (64-bit) executables.
pub const AARCH64: ElfArch =
    ElfArch { class: ElfClass::Elf64, machine: EM_AARCH64, check: aarch64_check };

/// arm64's `load_elf_binary` for a native task: no `READ_IMPLIES_EXEC` (the generic
/// `elf_read_implies_exec` is 0), `[vvar]` + `[vdso]` from `__setup_additional_pages`,
/// `ARCH_DLINFO`'s `AT_SYSINFO_EHDR` and `AT_MINSIGSTKSZ`, and `arch_align_stack`.
pub const BINFMT: BinfmtArch = BinfmtArch {
    elf: AARCH64,
    read_implies_exec_default: false,
    pages: AdditionalPages::Vdso { vvar_pages: VVAR_NR_PAGES as usize },
    minsigstksz: Some(super::auxv::minsigstksz()),
    align_stack: true,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::errno::Errno;
    use crate::fs::binfmt_elf::{parse_for, phdrs_range, ElfFile, ARM_EABI, ELFCLASS64, PT_LOAD};

    /// A minimal ELF64 executable: one `PT_LOAD` of `len` bytes at 0x400000 holding the headers.
    fn elf64(machine: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = ELFCLASS64;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[24..32].copy_from_slice(&0x400078u64.to_le_bytes()); // e_entry
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let p = &mut b[64..120];
        p[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        p[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
        p[16..24].copy_from_slice(&0x400000u64.to_le_bytes());
        p[32..40].copy_from_slice(&(len as u64).to_le_bytes());
        p[40..48].copy_from_slice(&(len as u64).to_le_bytes());
        b
    }

    #[test]
    fn an_elf64_aarch64_executable_parses() {
        let b = elf64(EM_AARCH64, 0x200);
        let img = parse_for(&AARCH64, ElfFile::whole(&b), 1 << 48).unwrap();
        assert_eq!(img.ehdr.e_entry, 0x400078);
        assert_eq!(img.loads().next().unwrap().p_vaddr, 0x400000);
        assert_eq!(img.phdr_addr(), Some(0x400040));
        assert_eq!(phdrs_range(&b), Some((64, 56)));
    }

    #[test]
    fn the_other_class_or_machine_is_enoexec() {
        let b = elf64(EM_AARCH64, 0x200);
        let arm = parse_for(&ARM_EABI, ElfFile::whole(&b), 0xbf00_0000).unwrap_err();
        assert_eq!((arm.clone(), arm.errno()), (ElfError::BadClass, Errno::ENOEXEC));
        let b = elf64(40, 0x200);
        let e = parse_for(&AARCH64, ElfFile::whole(&b), 1 << 48).unwrap_err();
        assert_eq!(e, ElfError::BadMachine { found: 40, expected: EM_AARCH64 });
        assert_eq!(e.errno(), Errno::ENOEXEC);
        // A segment beyond a 39-bit user space is EINVAL, as for ARM past TASK_SIZE.
        let b = elf64(EM_AARCH64, 0x200);
        assert_eq!(
            parse_for(&AARCH64, ElfFile::whole(&b), 0x40_0100).unwrap_err().errno(),
            Errno::EINVAL
        );
    }
}
