//! A process's address space as data: `mm_struct`, `vm_area_struct` and the VMA flags, with
//! Linux 6.1's names and values (include/linux/mm_types.h, include/linux/mm.h). Pure and
//! arch-neutral: user addresses are `usize`, and the split-dependent limits (`TASK_SIZE`) are
//! values in the struct, so the host tests cover every split. The operations on it (mmap,
//! munmap, mprotect, brk, stack growth, merging) live in `mm::mmap`.
//!
//! The VMAs are kept in a [`VmaTree`] (`mm::vma_tree`, in the maple tree's place): ordered by
//! range, with the free gaps between them tracked in the same tree; every lookup (`find_vma`,
//! `find_vma_prev`, `find_vma_intersection`) is one descent, a neighbour one link away.
use alloc::sync::Arc;

/// Bytes per page for user mappings (4 KiB on every configuration pivm models).
pub const PAGE_SIZE: usize = 4096;
/// log2 of `PAGE_SIZE`.
pub const PAGE_SHIFT: u32 = 12;
/// `~(PAGE_SIZE - 1)`.
pub const PAGE_MASK: usize = !(PAGE_SIZE - 1);

/// `PAGE_ALIGN()`: round up to a page boundary, `None` when that overflows.
pub const fn page_align(x: usize) -> Option<usize> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & PAGE_MASK),
        None => None,
    }
}

/// `offset_in_page()`.
pub const fn offset_in_page(x: usize) -> usize {
    x & (PAGE_SIZE - 1)
}

/// `/proc/sys/vm/mmap_min_addr` as the reference boots (Kconfig `DEFAULT_MMAP_MIN_ADDR`).
pub const DAC_MMAP_MIN_ADDR: usize = 4096;
/// `CONFIG_LSM_MMAP_MIN_ADDR` (32768 on ARM): with an LSM built in, hints below it move up.
pub const LSM_MMAP_MIN_ADDR: usize = 32768;
/// `DEFAULT_MAX_MAP_COUNT` (`/proc/sys/vm/max_map_count`).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// The error numbers system calls return: the full set lives in `abi::errno`.
pub use crate::abi::errno::Errno;

bitflags::bitflags! {
    /// `vm_flags_t` with Linux 6.1's bit values (32-bit, no soft-dirty, no userfaultfd minor).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct VmFlags: u32 {
        const READ = 0x0000_0001;
        const WRITE = 0x0000_0002;
        const EXEC = 0x0000_0004;
        const SHARED = 0x0000_0008;
        const MAYREAD = 0x0000_0010;
        const MAYWRITE = 0x0000_0020;
        const MAYEXEC = 0x0000_0040;
        const MAYSHARE = 0x0000_0080;
        const GROWSDOWN = 0x0000_0100;
        const UFFD_MISSING = 0x0000_0200;
        const PFNMAP = 0x0000_0400;
        const UFFD_WP = 0x0000_1000;
        const LOCKED = 0x0000_2000;
        const IO = 0x0000_4000;
        const SEQ_READ = 0x0000_8000;
        const RAND_READ = 0x0001_0000;
        const DONTCOPY = 0x0002_0000;
        const DONTEXPAND = 0x0004_0000;
        const LOCKONFAULT = 0x0008_0000;
        const ACCOUNT = 0x0010_0000;
        const NORESERVE = 0x0020_0000;
        const HUGETLB = 0x0040_0000;
        const SYNC = 0x0080_0000;
        const ARCH_1 = 0x0100_0000;
        const WIPEONFORK = 0x0200_0000;
        const DONTDUMP = 0x0400_0000;
        const MIXEDMAP = 0x1000_0000;
        const HUGEPAGE = 0x2000_0000;
        const NOHUGEPAGE = 0x4000_0000;
        const MERGEABLE = 0x8000_0000;
    }
}

impl VmFlags {
    /// `VM_STACK`: the stack grows down on this architecture.
    pub const STACK: VmFlags = VmFlags::GROWSDOWN;
    /// `VM_SPECIAL`: mappings `vma_merge` never touches.
    pub const SPECIAL: VmFlags =
        VmFlags::IO.union(VmFlags::DONTEXPAND).union(VmFlags::PFNMAP).union(VmFlags::MIXEDMAP);
    /// `VM_ACCESS_FLAGS`.
    pub const ACCESS: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);
    /// `VM_DATA_DEFAULT_FLAGS` on ARM (`VM_DATA_FLAGS_TSK_EXEC` without READ_IMPLIES_EXEC:
    /// read, write, may-read/write/exec).
    pub const DATA_DEFAULT: VmFlags = VmFlags::READ
        .union(VmFlags::WRITE)
        .union(VmFlags::MAYREAD)
        .union(VmFlags::MAYWRITE)
        .union(VmFlags::MAYEXEC);
    /// `VM_STACK_FLAGS`: `VM_STACK | VM_STACK_DEFAULT_FLAGS | VM_ACCOUNT`.
    pub const STACK_FLAGS: VmFlags =
        VmFlags::STACK.union(VmFlags::DATA_DEFAULT).union(VmFlags::ACCOUNT);

    /// `is_exec_mapping()`: counted in `exec_vm`.
    pub const fn is_exec_mapping(self) -> bool {
        self.bits() & (Self::EXEC.bits() | Self::WRITE.bits() | Self::STACK.bits())
            == Self::EXEC.bits()
    }
    /// `is_stack_mapping()`: counted in `stack_vm`.
    pub const fn is_stack_mapping(self) -> bool {
        self.bits() & Self::STACK.bits() == Self::STACK.bits()
    }
    /// `is_data_mapping()`: counted in `data_vm`.
    pub const fn is_data_mapping(self) -> bool {
        self.bits() & (Self::WRITE.bits() | Self::SHARED.bits() | Self::STACK.bits())
            == Self::WRITE.bits()
    }
    /// `vma_is_accessible()`.
    pub const fn is_accessible(self) -> bool {
        self.bits() & Self::ACCESS.bits() != 0
    }

    /// The two-letter mnemonics smaps prints after `VmFlags:` (`show_smap_vma_flags()`), in bit
    /// order; each is followed by a space, as Linux prints them.
    pub fn mnemonics(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(VmFlags, &str); 30] = [
            (VmFlags::READ, "rd"),
            (VmFlags::WRITE, "wr"),
            (VmFlags::EXEC, "ex"),
            (VmFlags::SHARED, "sh"),
            (VmFlags::MAYREAD, "mr"),
            (VmFlags::MAYWRITE, "mw"),
            (VmFlags::MAYEXEC, "me"),
            (VmFlags::MAYSHARE, "ms"),
            (VmFlags::GROWSDOWN, "gd"),
            (VmFlags::UFFD_MISSING, "um"),
            (VmFlags::PFNMAP, "pf"),
            (VmFlags::UFFD_WP, "uw"),
            (VmFlags::LOCKED, "lo"),
            (VmFlags::IO, "io"),
            (VmFlags::SEQ_READ, "sr"),
            (VmFlags::RAND_READ, "rr"),
            (VmFlags::DONTCOPY, "dc"),
            (VmFlags::DONTEXPAND, "de"),
            (VmFlags::LOCKONFAULT, "lf"),
            (VmFlags::ACCOUNT, "ac"),
            (VmFlags::NORESERVE, "nr"),
            (VmFlags::HUGETLB, "ht"),
            (VmFlags::SYNC, "sf"),
            (VmFlags::ARCH_1, "ar"),
            (VmFlags::WIPEONFORK, "wf"),
            (VmFlags::DONTDUMP, "dd"),
            (VmFlags::MIXEDMAP, "mm"),
            (VmFlags::HUGEPAGE, "hg"),
            (VmFlags::NOHUGEPAGE, "nh"),
            (VmFlags::MERGEABLE, "mg"),
        ];
        NAMES.into_iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| n)
    }
}

/// The file behind a file-backed VMA: what `/proc/PID/maps` names (device, inode, path).
#[derive(Clone, Debug)]
pub struct VmFile {
    /// `MAJOR(s_dev)`, `MINOR(s_dev)` of the filesystem.
    pub dev: (u32, u32),
    pub ino: u64,
    pub path: alloc::string::String,
    /// The filesystem's reference to the inode (`vm_file`'s hold on it): while a VMA has it,
    /// an unlinked file and its pages live on. Opaque here; None where nothing needs it.
    pub pin: Option<Arc<dyn core::any::Any + Send + Sync>>,
}

impl PartialEq for VmFile {
    /// The same file (device, inode, path); the reference held does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.dev == other.dev && self.ino == other.ino && self.path == other.path
    }
}

impl Eq for VmFile {}

/// A special mapping installed by the kernel (`_install_special_mapping`), named by its
/// `vm_special_mapping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialMapping {
    Sigpage,
    Vvar,
    Vdso,
}

impl SpecialMapping {
    /// The name maps prints (`vm_ops->name`).
    pub const fn name(self) -> &'static str {
        match self {
            SpecialMapping::Sigpage => "[sigpage]",
            SpecialMapping::Vvar => "[vvar]",
            SpecialMapping::Vdso => "[vdso]",
        }
    }
}

/// Identifies an `anon_vma`: two VMAs whose anonymous pages belong to different ones never
/// merge (`is_mergeable_anon_vma()`).
pub type AnonVmaId = u32;

/// `struct vm_area_struct`: `[vm_start, vm_end)` with its flags and backing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    pub vm_start: usize,
    pub vm_end: usize,
    pub vm_flags: VmFlags,
    /// Offset in the file in pages; for anonymous VMAs `vm_start >> PAGE_SHIFT` (as Linux sets
    /// it), which keeps merges and splits consistent.
    pub vm_pgoff: u64,
    pub vm_file: Option<Arc<VmFile>>,
    /// Set once an anonymous page is faulted in (`anon_vma_prepare()`).
    pub anon_vma: Option<AnonVmaId>,
    pub special: Option<SpecialMapping>,
}

impl Vma {
    /// Bytes covered.
    pub const fn len(&self) -> usize {
        self.vm_end - self.vm_start
    }
    /// Never true for a VMA in an `MmStruct`; here for clippy's `len_without_is_empty`.
    pub const fn is_empty(&self) -> bool {
        self.vm_end == self.vm_start
    }
    /// Pages covered.
    pub const fn pages(&self) -> usize {
        self.len() >> PAGE_SHIFT
    }
    /// `vma_is_anonymous()`: no file and no special mapping.
    pub const fn is_anonymous(&self) -> bool {
        self.vm_file.is_none() && self.special.is_none()
    }
}

pub use super::vma_tree::{VmaId, VmaTree};

/// `vm_start_gap()`: where a VMA's claim starts, its guard gap included for a stack.
pub fn vm_start_gap(vma: &Vma) -> usize {
    if vma.vm_flags.contains(VmFlags::GROWSDOWN) {
        vma.vm_start.saturating_sub(STACK_GUARD_GAP)
    } else {
        vma.vm_start
    }
}

/// `stack_guard_gap`: 256 pages kept free below a stack so it cannot grow into a mapping.
pub const STACK_GUARD_GAP: usize = 256 << PAGE_SHIFT;

/// Resource limits the address space honours (`RLIMIT_STACK`, `RLIMIT_AS`, `RLIMIT_DATA`), in
/// bytes; `None` is `RLIM_INFINITY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits {
    pub stack: Option<usize>,
    pub address_space: Option<usize>,
    pub data: Option<usize>,
}

impl Rlimits {
    /// The reference system's limits: `ulimit -s` 8192 kB, the rest unlimited.
    pub const DEFAULT: Rlimits =
        Rlimits { stack: Some(8 * 1024 * 1024), address_space: None, data: None };
}

/// What an architecture fixes about user address spaces (the values Linux takes from
/// `asm/pgtable.h`, `asm/memory.h`, `asm/elf.h` and Kconfig): each architecture builds it
/// (`arch::memory::arch_mm`), so `mm` names none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchMm {
    /// `TASK_SIZE`: the first address user space cannot use.
    pub task_size: usize,
    /// `FIRST_USER_ADDRESS`: `MAP_FIXED` below it is `EINVAL` (`arch_mmap_check`), top-down
    /// searches stop there.
    pub first_user_address: usize,
    /// `TASK_UNMAPPED_BASE`: where the legacy bottom-up layout starts.
    pub task_unmapped_base: usize,
    /// `mmap_rnd_bits` (`CONFIG_ARCH_MMAP_RND_BITS`): pages of mmap-base randomisation.
    pub mmap_rnd_bits: u32,
    /// `STACK_RND_MASK`: pages of stack-top randomisation.
    pub stack_rnd_mask: usize,
    /// `arch_randomize_brk()`'s range: brk moves up by a random page within it.
    pub brk_rnd_range: usize,
}

/// For the host tests of the address-space code: the values of the kernel the reference
/// transcripts come from (the architecture's own constructor, `arch::memory::arch_mm`,
/// must agree; its tests check it).
#[cfg(test)]
pub(crate) const fn test_arch_mm(page_offset: usize) -> ArchMm {
    const SZ_16M: usize = 16 << 20;
    let task_size = page_offset - SZ_16M;
    ArchMm {
        task_size,
        first_user_address: 2 * PAGE_SIZE,
        task_unmapped_base: (task_size / 3).next_multiple_of(SZ_16M),
        mmap_rnd_bits: 8,
        stack_rnd_mask: 0x7ff,
        brk_rnd_range: 0x0200_0000,
    }
}

/// `shmem_zero_setup(len)`: a shmem file of `len` bytes for a shared anonymous mapping.
pub type ShmemZeroSetup = fn(usize) -> Result<Arc<VmFile>, Errno>;

/// `struct mm_struct`: the VMAs and the counters and boundaries Linux keeps beside them.
#[derive(Clone, Debug)]
pub struct MmStruct {
    /// The VMAs and the gaps between them.
    pub(crate) vmas: VmaTree,
    /// The architecture's fixed values, `TASK_SIZE` among them.
    pub arch: ArchMm,
    /// `TASK_SIZE` (a copy of `arch.task_size`, the name every formula uses).
    pub task_size: usize,
    /// `dac_mmap_min_addr` (`/proc/sys/vm/mmap_min_addr`, 4096): below it only a process with
    /// `CAP_SYS_RAWIO` may map (`cap_mmap_addr`).
    pub dac_mmap_min_addr: usize,
    /// `mmap_min_addr`: `max(dac_mmap_min_addr, CONFIG_LSM_MMAP_MIN_ADDR)`; mmap hints below
    /// it are raised to it (`round_hint_to_min`).
    pub mmap_min_addr: usize,
    /// `sysctl_max_map_count`.
    pub max_map_count: usize,
    /// Where top-down allocation starts (`mm->mmap_base`).
    pub mmap_base: usize,
    /// `arch_pick_mmap_layout` chose the legacy bottom-up layout.
    pub legacy_layout: bool,
    pub total_vm: usize,
    pub locked_vm: usize,
    pub pinned_vm: usize,
    pub data_vm: usize,
    pub exec_vm: usize,
    pub stack_vm: usize,
    /// Highest `total_vm` seen (`hiwater_vm`), updated when mappings shrink as Linux does.
    pub hiwater_vm: usize,
    pub start_code: usize,
    pub end_code: usize,
    pub start_data: usize,
    pub end_data: usize,
    pub start_brk: usize,
    pub brk: usize,
    pub start_stack: usize,
    pub arg_start: usize,
    pub arg_end: usize,
    pub env_start: usize,
    pub env_end: usize,
    /// The task's `READ_IMPLIES_EXEC` personality (an executable without `PT_GNU_STACK` on
    /// ARM): `mmap` and `mprotect` add `PROT_EXEC` to `PROT_READ`. Kept here because only the
    /// address-space operations read it.
    pub read_implies_exec: bool,
    /// `mm->def_flags` (VM_LOCKED after `mlockall(MCL_FUTURE)`; 0 otherwise).
    pub def_flags: VmFlags,
    pub rlimits: Rlimits,
    /// The process holds `CAP_SYS_RAWIO` (root does): it may map below `dac_mmap_min_addr`.
    pub cap_sys_rawio: bool,
    /// `mm->context.sigpage` and `mm->context.vdso` on ARM (0 until installed).
    pub sigpage: usize,
    pub vdso: usize,
    /// `shmem_zero_setup`: the file a `MAP_SHARED|MAP_ANONYMOUS` mapping of a length gets
    /// (the kernel's shmem object, so every mapping of it shares its pages); None keeps such
    /// a mapping anonymous (an mm with no shmem behind it, as the host tests').
    pub shmem_zero_setup: Option<ShmemZeroSetup>,
    next_anon_vma: AnonVmaId,
}

impl MmStruct {
    /// An empty address space (layout not yet picked: see `arch_pick_mmap_layout`).
    pub fn new(arch: ArchMm, rlimits: Rlimits) -> Self {
        MmStruct {
            vmas: VmaTree::default(),
            arch,
            task_size: arch.task_size,
            dac_mmap_min_addr: DAC_MMAP_MIN_ADDR,
            mmap_min_addr: if DAC_MMAP_MIN_ADDR > LSM_MMAP_MIN_ADDR {
                DAC_MMAP_MIN_ADDR
            } else {
                LSM_MMAP_MIN_ADDR
            },
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            mmap_base: 0,
            legacy_layout: false,
            total_vm: 0,
            locked_vm: 0,
            pinned_vm: 0,
            data_vm: 0,
            exec_vm: 0,
            stack_vm: 0,
            hiwater_vm: 0,
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            read_implies_exec: false,
            def_flags: VmFlags::empty(),
            rlimits,
            cap_sys_rawio: true,
            sigpage: 0,
            vdso: 0,
            shmem_zero_setup: None,
            next_anon_vma: 1,
        }
    }

    /// `mm->map_count`.
    pub fn map_count(&self) -> usize {
        self.vmas.len()
    }

    /// Every VMA in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// `find_vma()`: the first VMA with `vm_end > addr`, if any.
    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        self.vmas.find(addr).map(|id| self.vmas.get(id))
    }

    /// `vma_lookup()`: the VMA containing `addr`.
    pub fn vma_lookup(&self, addr: usize) -> Option<&Vma> {
        self.find_vma(addr).filter(|v| v.vm_start <= addr)
    }

    /// `find_vma_prev()`'s `pprev`: the last VMA ending at or below `addr`.
    pub fn find_vma_prev(&self, addr: usize) -> Option<&Vma> {
        let id = match self.vmas.find(addr) {
            Some(id) => self.vmas.prev(id),
            None => self.vmas.last(),
        };
        id.map(|id| self.vmas.get(id))
    }

    /// `find_vma_intersection()`: the first VMA overlapping `[start, end)`.
    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&Vma> {
        self.find_vma(start).filter(|v| v.vm_start < end)
    }

    /// `anon_vma_prepare()` for the VMA at `addr`, whose first anonymous page is being
    /// faulted in: as `find_mergeable_anon_vma()`, the anon_vma of an adjacent VMA it could
    /// later merge with (`anon_vma_compatible()`: the same file, flags differing only in
    /// `VM_ACCESS_FLAGS`, contiguous offsets; the next VMA tried first), else a fresh one.
    pub fn anon_vma_prepare(&mut self, addr: usize) -> Option<AnonVmaId> {
        let id = self.vmas.find(addr).filter(|&id| self.vmas.get(id).vm_start <= addr)?;
        self.anon_vma_prepare_at(id)
    }

    /// [`Self::anon_vma_prepare`] for the VMA at `id`.
    pub(crate) fn anon_vma_prepare_at(&mut self, id: VmaId) -> Option<AnonVmaId> {
        let vma = self.vmas.get(id);
        if vma.anon_vma.is_some() {
            return vma.anon_vma;
        }
        let compatible = |a: &Vma, b: &Vma| {
            a.vm_end == b.vm_start
                && a.vm_file == b.vm_file
                && (a.vm_flags ^ b.vm_flags).difference(VmFlags::ACCESS).is_empty()
                && b.vm_pgoff == a.vm_pgoff + a.pages() as u64
        };
        let next = self.vmas.next(id).map(|n| self.vmas.get(n)).filter(|n| compatible(vma, n));
        let prev = self.vmas.prev(id).map(|p| self.vmas.get(p));
        let reused = next
            .and_then(|n| n.anon_vma)
            .or_else(|| prev.filter(|p| compatible(p, vma)).and_then(|p| p.anon_vma));
        let id_new = reused.unwrap_or_else(|| {
            self.next_anon_vma += 1;
            self.next_anon_vma - 1
        });
        self.vmas.get_mut(id).anon_vma = Some(id_new);
        Some(id_new)
    }

    /// `anon_vma_fork()` for a new child's VMAs (cloned from the parent's): each VMA with
    /// an anon_vma gets one of its own, so that two of the child's VMAs merge only as two
    /// VMAs with different anon_vmas would.
    pub fn anon_vma_fork(&mut self) {
        let next = &mut self.next_anon_vma;
        self.vmas.for_each_mut(|v| {
            if v.anon_vma.is_some() {
                v.anon_vma = Some(*next);
                *next += 1;
            }
        });
    }

    /// `vm_stat_account()`: keep `total_vm` and the exec/stack/data split in step with a
    /// mapping of `npages` (negative when it goes away).
    pub(crate) fn vm_stat_account(&mut self, flags: VmFlags, npages: isize) {
        let add = |x: &mut usize| *x = x.wrapping_add_signed(npages);
        add(&mut self.total_vm);
        if flags.is_exec_mapping() {
            add(&mut self.exec_vm);
        } else if flags.is_stack_mapping() {
            add(&mut self.stack_vm);
        } else if flags.is_data_mapping() {
            add(&mut self.data_vm);
        }
    }

    /// `update_hiwater_vm()`.
    pub(crate) fn update_hiwater_vm(&mut self) {
        if self.hiwater_vm < self.total_vm {
            self.hiwater_vm = self.total_vm;
        }
    }

    /// Checks the invariants every operation keeps: VMAs sorted, non-empty, page aligned, not
    /// overlapping, below `TASK_SIZE`, the tree's links and gap values right, and the counters equal to a
    /// recount. The first broken one is returned as text.
    pub fn validate(&self) -> Result<(), alloc::string::String> {
        use alloc::format;
        let mut prev_end = 0usize;
        let (mut total, mut exec, mut stack, mut data) = (0usize, 0usize, 0usize, 0usize);
        self.vmas.check()?;
        for v in self.vmas.iter() {
            if v.vm_start >= v.vm_end || offset_in_page(v.vm_start | v.vm_end) != 0 {
                return Err(format!("vma {:#x}-{:#x} empty or unaligned", v.vm_start, v.vm_end));
            }
            if v.vm_start < prev_end {
                return Err(format!("vma {:#x} overlaps the previous one", v.vm_start));
            }
            if v.vm_end > self.task_size {
                return Err(format!("vma {:#x}-{:#x} above TASK_SIZE", v.vm_start, v.vm_end));
            }
            prev_end = v.vm_end;
            total += v.pages();
            if v.vm_flags.is_exec_mapping() {
                exec += v.pages();
            } else if v.vm_flags.is_stack_mapping() {
                stack += v.pages();
            } else if v.vm_flags.is_data_mapping() {
                data += v.pages();
            }
        }
        if (total, exec, stack, data) != (self.total_vm, self.exec_vm, self.stack_vm, self.data_vm)
        {
            return Err(format!(
                "counters total/exec/stack/data {}/{}/{}/{} but the VMAs hold {total}/{exec}/{stack}/{data}",
                self.total_vm, self.exec_vm, self.stack_vm, self.data_vm
            ));
        }
        Ok(())
    }
}
