//! The architecture facade: the one `crate::arch::` path through which the rest of the kernel
//! reaches the CPU, its translation tables and its layout formulas. Every name below is what
//! an architecture provides; the implementation is chosen per target with `#[path]`, as the
//! rust-raspberrypi-OS-tutorials choose theirs: 32-bit ARM (`arm/`, ARMv7-A, the Pi 2) for
//! every target but AArch64, whose `arm64/` (the Pi 3) will provide the same names. Only files
//! under `src/arch/` name the implementation (`tests/architecture.rs` checks it).
//!
//! The pure parts (layout formulas, profiles, descriptor encoding, fault decoding, the
//! `/proc/cpuinfo` renderer) compile on the host too, so `cargo test` checks them there.

/// The implementation. Public so that its pure parts stay visible to the host build and
/// the docs, but named only from inside `src/arch/`.
#[cfg(not(target_arch = "aarch64"))]
#[path = "arm/mod.rs"]
pub mod arm;
#[cfg(not(target_arch = "aarch64"))]
use arm as imp;

/// AArch64 (ARMv8-A, the Pi 3). Its pure parts (the arm64 layout for both VA sizes,
/// descriptors, ESR decoding) compile on every target, so the host tests check them next to
/// ARMv7's; its kernel runs the same `kernel_main` (`src/main.rs`) through this facade. The
/// names below that are ARMv7-only are left out of the aarch64 build.
#[path = "arm64/mod.rs"]
pub mod arm64;
#[cfg(target_arch = "aarch64")]
use arm64 as imp;

/// The oops' `Code:` line, shared by both architectures' oopses.
pub mod dump_instr;

/// The fixed constants of the kernel's address space (Linux's `asm/memory.h`). The only part
/// of the facade the aarch64 build has so far.
pub use imp::memory;

/// The kernel's virtual memory layout computed from the split (arm64: `VA_BITS`), the RAM
/// and the boot parameters, with its boot-log renderers. Both architectures' `Layout` answer
/// the shared kernel's questions with the same accessor names (`ram_range`, `lowmem_limit`,
/// `linear_map`, `linear_va`, `node_zones`, `vmalloc_size`, `kmalloc_max_size`) and say
/// whether the architecture has high memory (`CONFIG_HIGHMEM`).
pub use imp::layout;

/// arm64's boot state and early steps, for its half of the boot sequence
/// (`kernel::setup`, Linux's `head.S` and `setup_arch`): the entry level and load address, the
/// identity map's removal, the kernel image's mapping, the exception vectors and the oops'
/// restart point.
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod head {
    pub use super::imp::boot::{
        boot_cpu_hwid, halt, map_kernel, midr, sections, translation_regs_match, uninstall_idmap,
        ENTRY_EL, KIMAGE_VADDR, LOAD_PA,
    };
    /// The kernel image's protection.
    pub mod pgtable {
        pub use super::super::imp::pgtable::{PAGE_KERNEL, PROT_DEVICE_NGNRE};
    }
    /// The exception vectors and the console's restart after an oops.
    pub mod traps {
        pub use super::super::imp::traps::{set_oops_recovery, set_task_stack, trap_init};
    }
}

/// The layout as `memdump` prints it: `regions` (the address space's regions by address, the
/// arguments each architecture's image description needs) and `dump_layout` (the header's
/// split, RAM, carve-outs and vmalloc range).
pub use imp::memdump;

/// Memory-layout profiles: the layouts real systems shipped with, as data.
#[cfg(not(target_arch = "aarch64"))]
pub use imp::profile;

/// `/proc/cpuinfo` as the architecture's Linux prints it (pure renderer; `read` on the CPU).
pub use imp::cpuinfo;

/// Compile-time virtual addresses for pages mapped at run time (Linux's `fix_to_virt`), and
/// on the device the slots' mapping (`__set_fixmap`, `clear_fixmap`).
#[cfg(not(target_arch = "aarch64"))]
pub mod fixmap {
    pub use super::imp::fixmap::{fix_to_virt, FixedAddress, FIX_SLOTS};
    #[cfg(all(kernel, not(target_arch = "aarch64")))]
    pub use super::imp::mmu::{clear_fixmap, clear_fixmap_device, set_fixmap};
}

/// arm64's fixmap after boot: only earlycon's slot, which `ioremap` replaces.
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod fixmap {
    pub use super::imp::mmu::clear_fixmap_device;
}

/// The CPU itself: identification for the boot log, the mode the loader entered in, halting.
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod cpu {
    pub use super::imp::cpu::{boot_cpu_hwid, entry_mode_name, halt, write_setup_processor};
}

/// `dump_stack`'s call trace from the caller's frame (arm64's frame-record unwinder; the
/// ARMv7 kernel keeps no frame records, so it has none).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod stacktrace {
    pub use super::imp::traps::dump_backtrace;
}

/// The CPU itself on arm64: halting.
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod cpu {
    pub use super::imp::boot::{boot_cpu_hwid, halt};
}

/// The free-running counter the in-kernel benchmarks time with.
#[cfg(kernel)]
pub mod timer {
    pub use super::imp::cpu::{counter_frequency, read_counter};
}

/// Whole-page clearing and copying with the CPU's widest stores (`clear_page`, `copy_page`).
#[cfg(kernel)]
pub mod page {
    pub use super::imp::page::{clear_page, copy_page};
}

/// String I/O on a device's data port (`readsl`/`writesl`), for PIO drivers; the word
/// count is a multiple of `IO_BURST_WORDS` (8 for ARM's burst routine, 1 on arm64).
#[cfg(kernel)]
pub mod io {
    pub use super::imp::io::{readsl, writesl, IO_BURST_WORDS};
}

/// Data cache maintenance for buffers a device reads or writes (the firmware's mailbox).
#[cfg(kernel)]
pub mod cache {
    pub use super::imp::cpu::{clean_dcache_range, invalidate_dcache_range};
}

/// The kernel's page tables: `paging_init`, the linear map, the kernel page-table interface
/// with arch-neutral protections (`mm::pgprot::PageProt`) that vmalloc, ioremap, pkmap and
/// the fixmap go through, the TLB, and the inspection the console offers (`show_pte`, the
/// software walk next to the MMU's own translation, the dump of the kernel's mappings).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod mmu {
    pub use super::imp::mmu::{
        dump_kernel_page_tables, dump_user_page_tables, flush_tlb_kernel_range, map_kernel_page,
        page_table_pages, phys_to_virt, set_linear_map, show_pte, translate, unmap_kernel_page,
        write_translation, write_translation_in, MapError, PteAlloc,
    };
}
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod mmu {
    pub use super::imp::mmu::{
        dump_kernel_page_tables, dump_user_page_tables, flush_tlb_kernel_range, map_kernel_page,
        page_table_pages, paging_init, phys_to_virt, prealloc_pte_table, set_linear_map, show_pte,
        translate, unmap_kernel_page, write_translation, write_translation_in, MapError, PteAlloc,
    };
}

/// Faults: accesses that may fault without oopsing (`peek`/`poke`), the oops' address
/// describer, the panic handler's oops.
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod fault {
    pub use super::imp::fault::{
        last_fixup_fault, panic, probe_read_u32, probe_write_u32, set_address_describer,
        sort_main_extable, DescribeAddr, Fault,
    };
}

/// arm64's faults so far: the accesses that may fault without oopsing (`peek`/`poke`) and
/// the fault the user accessors' last fixup absorbed.
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod fault {
    pub use super::imp::esr::Fault;
    pub use super::imp::traps::{last_fixup_fault, probe_read_u32, probe_write_u32};
}

/// arm64's user accessors (`LDTR`/`STTR` under the exception table) with ARM's shapes, and
/// which address space's table is live (TTBR0's base).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod uaccess {
    pub use super::imp::uaccess::{
        clear_user, copy_from_user, copy_to_user, get_user, live_pgd, put_user, strncpy_from_user,
        strnlen_user, Efault,
    };
}

/// System calls' access to user memory through the live user table (Linux's
/// `copy_from_user` family, every user access covered by the exception table), and which
/// address space's table is live.
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod uaccess {
    pub use super::imp::mmu::pgd_phys as live_pgd;
    pub use super::imp::uaccess::{
        clear_user, copy_from_user, copy_to_user, get_user, put_user, strncpy_from_user,
        strnlen_user, Efault,
    };
}

/// The kernel image's boundaries (the linker script's `_text`, `_etext`, ...).
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod image {
    pub use super::imp::image::{image, Image};
}

/// The kernel image's sections on arm64 (the linker script's `_text`, `_etext`, ...).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod image {
    pub use super::imp::boot::sections;
    pub use super::imp::layout::Sections;
}

/// Semihosting: how QEMU's `-semihosting` lets the kernel end the emulator.
#[cfg(kernel)]
pub mod semihosting {
    pub use super::imp::semihosting::exit;
}

/// Interrupt masking on this CPU (Linux's `local_irq_save`/`restore`/`enable`/`disable`)
/// and the idle wait for an interrupt.
#[cfg(kernel)]
pub mod irqflags {
    pub use super::imp::irqflags::{
        irqs_disabled, local_irq_disable, local_irq_enable, local_irq_restore, local_irq_save,
        wait_for_interrupt, IrqFlags,
    };
}

/// The IRQ exception's way into the kernel: the root controller's handler
/// (`set_handle_irq`), the registers the interrupt interrupted, this CPU's number.
#[cfg(kernel)]
pub mod irq {
    pub use super::imp::irq::{
        irq_regs_cpsr, set_handle_irq, smp_processor_id, IPI_TYPES, PSR_MODE_MASK, USR_MODE,
    };
    #[cfg(target_arch = "aarch64")]
    pub use super::imp::traps::PtRegs;
    #[cfg(not(target_arch = "aarch64"))]
    pub use super::imp::vectors::PtRegs;
}

/// The per-CPU timer the tick runs on (the ARM generic timer's CP15 timers): its counter,
/// its comparator, and the private interrupt each timer raises.
#[cfg(kernel)]
pub mod arch_timer {
    pub use super::imp::arch_timer::{
        cntfrq, evtstrm_enable, evtstrm_enabled, expired, mask, read_counter, set_next_event,
        set_user_access, ArchTimerPpi, TimerKind,
    };
}

/// The vDSO image and its boot-time check (pure; the kernel maps it as `[vdso]`).
pub use imp::vdso;

/// Address-space identifiers (pure: the allocator and its generation rollover; arm64's is
/// generic over the CPUs and takes its ASID width from the CPU).
pub use imp::asid;

/// What processes need from the CPU: the saved context and `switch_to`, `switch_mm`, TLS,
/// VFP state, a process's first-level table and PTEs, TLB maintenance by ASID, the hooks the
/// user entry paths call (user faults, system calls, `do_work_pending`), the register frame
/// with its accessors, and the user exceptions decoded for the fault path (`UserTrap`).
#[cfg(all(kernel, not(target_arch = "aarch64")))]
pub mod process {
    pub use super::imp::fault::{set_syscall_handler, set_user_exception_handler, UserException};
    pub use super::imp::fork::{copy_user_ptes, set_user_pte_old, PteCopy};
    pub use super::imp::fsr::{decode_abort, TRAP_ABORT};
    pub use super::imp::pgtable::MAX_SWAPFILE_PAGES;
    pub use super::imp::process::*;
    pub use super::imp::vectors::PtRegs;
}

/// What processes need from the AArch64 CPU, as far as it exists: the context switch, a user
/// task's first frame, TTBR0 with its ASID, TLS, TLB maintenance by ASID, I-cache sync for
/// executable pages, the user PTE and user table operations under ARM's names (arm64
/// descriptors, 3 or 4 levels: `get_user_pte`, `set_user_pte`, `zap_user_ptes`,
/// `copy_user_ptes`, swap PTEs, `ptep_test_and_clear_young` with the access flag, ...), and
/// the EL0 entry's hooks (system calls, user exceptions, `do_work_pending`, the user FP/SIMD
/// state, a new task's first return), as `kernel/process` calls them on both kernels.
#[cfg(all(kernel, target_arch = "aarch64"))]
pub mod process {
    pub use super::imp::cpu::sync_icache_dcache as clean_dcache_page;
    pub use super::imp::cpu::{flush_icache_all, sync_icache_dcache};
    pub use super::imp::entry::{
        clear_user_work_hint, kernel_thread_context, ret_from_fork_addr, set_syscall_handler,
        set_user_exception_handler, set_user_work_hint, set_work_handler, vfp_enable, vfp_restore,
        vfp_save,
    };
    pub use super::imp::fault::{
        decode_abort, show_user_fault, SHOWS_UNHANDLED_SIGNALS, TRAP_ABORT,
    };
    pub use super::imp::fork::{copy_user_ptes, set_user_pte_old, PteCopy};
    pub use super::imp::process::{
        boot_stack_limit, call_on_render_stack, cpu_asid_bits, decode_user_exception, get_tls,
        set_tls, start_thread, switch_mm, switch_to, switch_to_kernel_mm, CpuContext, THREAD_ALIGN,
        THREAD_SIZE, VMAP_STACK,
    };
    pub use super::imp::pte::{
        swp_entry_to_pte, user_pte_bits, vm_get_page_prot, Pte, UserPteProt, VmProt,
        MAX_SWAPFILE_PAGES,
    };
    pub use super::imp::ptrace::{UserException, VfpState};
    pub use super::imp::tlbflush::{flush_tlb_asid, flush_tlb_user_page, local_flush_tlb_all};
    pub use super::imp::traps::PtRegs;
    pub use super::imp::user_table::{
        clear_pte, clear_user_pte, flush_tlb_mm, flush_tlb_page, for_each_pte, for_each_user_entry,
        for_each_user_pte, for_each_user_swp_pte, free_tables, free_user_pgd_range,
        free_user_tables, get_pte, get_user_pte, get_user_swp_entry, pgd_init,
        ptep_test_and_clear_young, set_pte, set_user_pte, set_user_ptes_none, set_user_swp_pte,
        table_count, user_pmd_span, user_table_count, user_table_count as user_table_pages,
        zap_user_ptes, UserPte, UserTableError, PGD_ORDER, PGTABLE_BYTES, TASK_SIZE,
    };
}
