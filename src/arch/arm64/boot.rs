//! From the entry code to `kernel_main`: the drop to EL1 (registers through `aarch64-cpu`),
//! the boot page tables (Linux's `__create_page_tables`/`paging_init` in one: the kernel image
//! with its section permissions and the fixmap in TTBR1, an identity map in TTBR0 for the
//! instant the MMU comes on), MAIR/TCR/TTBRs/SCTLR, then the jump to the kernel's virtual
//! addresses, where TTBR0 is pointed at an empty table as Linux's `reserved_pg_dir`.
//!
//! The first two functions run with the MMU off at the physical load address: they use no
//! formatting, no trait objects and no statics holding pointers (those hold link-time virtual
//! addresses), only PC-relative accesses.
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;

use super::mapping::{create_mapping, MapError, Mapping, TableMemory};
use super::memory::{self, fix_to_virt, FIX_EARLYCON_MEM_BASE};
use super::pgtable::{
    self, PAGE_KERNEL, PAGE_KERNEL_EXEC, PAGE_KERNEL_RO, PAGE_KERNEL_ROX, PROT_DEVICE_NGNRE,
};
use crate::board::raspi::map;
use crate::config::VA_BITS;
use crate::sizes::{SZ_1G, SZ_2M};

/// Where the loader put the image (`KERNEL64_LOAD_ADDR`, and the linker script's LOAD_PA).
pub const LOAD_PA: u64 = 0x80000;
/// The layout's kernel-image base for this build.
pub const KIMAGE_VADDR: u64 = memory::kimage_vaddr(VA_BITS);

extern "C" {
    static _text: u8;
    static _etext: u8;
    static __start_rodata: u8;
    static __end_rodata: u8;
    static __init_begin: u8;
    static __init_end: u8;
    static _sdata: u8;
    static _edata: u8;
    static __bss_start: u8;
    static __bss_stop: u8;
    static _end: u8;
    static __pgtable_pool_start: u8;
    static __pgtable_pool_end: u8;
    static __vectors_start: u8;
}

macro_rules! sym {
    ($s:ident) => {
        // Taking the address of a linker symbol is safe; it is never read.
        core::ptr::addr_of!($s) as u64
    };
}

/// The image's section boundaries (virtual; `sym!` gives the physical ones while the MMU is
/// off, since every access is PC-relative).
pub fn sections() -> super::layout::Sections {
    super::layout::Sections {
        text: sym!(_text),
        etext: sym!(_etext),
        start_rodata: sym!(__start_rodata),
        end_rodata: sym!(__end_rodata),
        init_begin: sym!(__init_begin),
        init_end: sym!(__init_end),
        sdata: sym!(_sdata),
        edata: sym!(_edata),
        bss_start: sym!(__bss_start),
        bss_stop: sym!(__bss_stop),
        end: sym!(_end),
    }
}

/// The exception level the loader entered the kernel at (2 or 3), for the boot log.
pub static ENTRY_EL: AtomicU64 = AtomicU64::new(0);
/// The tables' physical addresses: swapper_pg_dir (TTBR1), the identity map (TTBR0 at the
/// switch), reserved_pg_dir (TTBR0 afterwards: empty), and the pool's next free page.
pub static SWAPPER_PG_DIR: AtomicU64 = AtomicU64::new(0);
pub static RESERVED_PG_DIR: AtomicU64 = AtomicU64::new(0);
static POOL_NEXT: AtomicU64 = AtomicU64::new(0);
static POOL_END: AtomicU64 = AtomicU64::new(0);
/// Table pages taken (the `PageTables` the kernel's own tables use).
pub static TABLE_PAGES: AtomicU64 = AtomicU64::new(0);

/// EL3 or EL2 to EL1h, interrupts masked, EL1 in AArch64 with the counters readable; returns
/// to `el1_entry` on stack `sp`. At EL1 already (nothing to drop) it just jumps there.
#[no_mangle]
extern "C" fn __arm64_el_drop(el1_entry: u64, sp: u64) -> ! {
    let el = CurrentEL.read(CurrentEL::EL);
    ENTRY_EL.store(el, Ordering::Relaxed);
    // EL1 comes up with its MMU and caches off (SCTLR_EL1's RES1 bits kept from reset).
    SCTLR_EL1
        .modify(SCTLR_EL1::M::Disable + SCTLR_EL1::C::NonCacheable + SCTLR_EL1::I::NonCacheable);
    if el >= 2 {
        // HCR_EL2.RW: QEMU presets it for raw images only (pitfall 12).
        HCR_EL2.write(HCR_EL2::RW::EL1IsAarch64);
        CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCEN::SET + CNTHCTL_EL2::EL1PCTEN::SET);
        CNTVOFF_EL2.set(0);
    }
    SP_EL1.set(sp);
    match el {
        3 => {
            SCR_EL3.modify(
                SCR_EL3::RW::NextELIsAarch64 + SCR_EL3::HCE::HvcEnabled + SCR_EL3::NS::NonSecure,
            );
            SPSR_EL3.write(
                SPSR_EL3::D::Masked
                    + SPSR_EL3::A::Masked
                    + SPSR_EL3::I::Masked
                    + SPSR_EL3::F::Masked
                    + SPSR_EL3::M::EL1h,
            );
            ELR_EL3.set(el1_entry);
            aarch64_cpu::asm::eret()
        }
        2 => {
            SPSR_EL2.write(
                SPSR_EL2::D::Masked
                    + SPSR_EL2::A::Masked
                    + SPSR_EL2::I::Masked
                    + SPSR_EL2::F::Masked
                    + SPSR_EL2::M::EL1h,
            );
            ELR_EL2.set(el1_entry);
            aarch64_cpu::asm::eret()
        }
        _ => {
            // SAFETY: already at EL1: continue at the entry code's EL1 label on the same stack.
            unsafe {
                core::arch::asm!("mov sp, {sp}", "br {e}", sp = in(reg) sp, e = in(reg) el1_entry, options(noreturn))
            }
        }
    }
}

/// Table pages from the image's pool, reached at their physical addresses (MMU off) or, once
/// the MMU is on, at their kernel-image addresses.
struct Pool {
    virt: bool,
}

impl Pool {
    fn ptr(&self, pa: u64) -> *mut u64 {
        if self.virt {
            (pa - LOAD_PA + KIMAGE_VADDR) as *mut u64
        } else {
            pa as *mut u64
        }
    }
}

impl TableMemory for Pool {
    fn read(&self, pa: u64) -> u64 {
        // SAFETY: `pa` is a descriptor inside a pool page (create_mapping only follows tables
        // it or this pool made), mapped as said in `ptr`.
        unsafe { self.ptr(pa).read_volatile() }
    }

    fn write(&mut self, pa: u64, desc: u64) {
        // SAFETY: as in `read`.
        unsafe { self.ptr(pa).write_volatile(desc) }
    }

    fn alloc_table(&mut self) -> Option<u64> {
        let pa = POOL_NEXT.load(Ordering::Relaxed);
        if pa >= POOL_END.load(Ordering::Relaxed) {
            return None;
        }
        POOL_NEXT.store(pa + 4096, Ordering::Relaxed);
        TABLE_PAGES.fetch_add(1, Ordering::Relaxed);
        let p = self.ptr(pa);
        for i in 0..512 {
            // SAFETY: a whole pool page nobody else uses yet.
            unsafe { p.add(i).write_volatile(0) };
        }
        Some(pa)
    }
}

/// Writes a message to the PL011 at its physical address (MMU off; no formatting).
fn early_puts(s: &[u8]) {
    for &b in s {
        crate::board::raspi::uart::putc(b);
    }
}

fn early_fail(what: &[u8], e: MapError) -> ! {
    early_puts(b"pivm: boot page tables: ");
    early_puts(what);
    early_puts(match e {
        MapError::NoTable => b": out of table pages\r\n",
        MapError::Misaligned => b": misaligned\r\n",
        MapError::Overlap { .. } => b": overlap\r\n",
    });
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Builds swapper_pg_dir (kernel image by section, the boot parameters' 2 MiB blocks in the
/// linear map, the UART in the fixmap) and the identity map, programs MAIR, TCR and both TTBRs
/// and turns the MMU and caches on. Runs at the physical address; returns there (the identity
/// map keeps it valid).
#[no_mangle]
extern "C" fn __arm64_create_page_tables_and_enable_mmu(params_pa: u64) {
    let s = sections();
    let pa = |va_phys: u64| va_phys; // MMU off: symbols are physical already
    POOL_NEXT.store(sym!(__pgtable_pool_start), Ordering::Relaxed);
    POOL_END.store(sym!(__pgtable_pool_end), Ordering::Relaxed);
    let mut pool = Pool { virt: false };
    let (Some(swapper), Some(idmap), Some(reserved)) =
        (pool.alloc_table(), pool.alloc_table(), pool.alloc_table())
    else {
        early_fail(b"roots", MapError::NoTable)
    };
    SWAPPER_PG_DIR.store(swapper, Ordering::Relaxed);
    RESERVED_PG_DIR.store(reserved, Ordering::Relaxed);
    let kva = |p: u64| p - LOAD_PA + KIMAGE_VADDR;
    // The image by section (map_kernel): text RX, rodata RO, data and bss (and the pool,
    // the boot stack) RW and never executable.
    let segs = [
        (pa(s.text), pa(s.etext), PAGE_KERNEL_ROX, &b"text"[..]),
        (pa(s.start_rodata), pa(s.init_begin), PAGE_KERNEL_RO, &b"rodata"[..]),
        (pa(s.init_begin), pa(s.init_end), PAGE_KERNEL_EXEC, &b"init"[..]),
        (pa(s.sdata) & !0xfff, pa(s.end), PAGE_KERNEL, &b"data"[..]),
    ];
    for (start, end, prot, name) in segs {
        let (start, end) = (start & !0xfff, (end + 0xfff) & !0xfff);
        if start < end {
            if let Err(e) = create_mapping(
                &mut pool,
                swapper,
                VA_BITS,
                Mapping { va: kva(start), pa: start, size: end - start, prot, blocks: false },
            ) {
                early_fail(name, e);
            }
        }
    }
    // The boot parameters (DTB or ATAGs) and their neighbourhood in the linear map, 2 MiB
    // blocks, until paging_init maps all of RAM.
    let po = memory::page_offset(VA_BITS);
    let block = params_pa & !(SZ_2M - 1);
    if let Err(e) = create_mapping(
        &mut pool,
        swapper,
        VA_BITS,
        Mapping { va: po + block, pa: block, size: 2 * SZ_2M, prot: PAGE_KERNEL, blocks: true },
    ) {
        early_fail(b"boot params", e);
    }
    // The UART at FIX_EARLYCON_MEM_BASE, as earlycon maps it.
    let uart_page = map::UART0_BASE & !0xfff;
    let fix = fix_to_virt(VA_BITS, FIX_EARLYCON_MEM_BASE);
    if let Err(e) = create_mapping(
        &mut pool,
        swapper,
        VA_BITS,
        Mapping { va: fix, pa: uart_page, size: 4096, prot: PROT_DEVICE_NGNRE, blocks: false },
    ) {
        early_fail(b"earlycon", e);
    }
    // The identity map of the first GiB (the image runs there until the jump).
    if let Err(e) = create_mapping(
        &mut pool,
        idmap,
        VA_BITS,
        Mapping { va: 0, pa: 0, size: SZ_1G, prot: PAGE_KERNEL_EXEC, blocks: true },
    ) {
        early_fail(b"idmap", e);
    }
    set_translation_regs(idmap, swapper);
    barrier::isb(barrier::SY);
    SCTLR_EL1.modify(
        SCTLR_EL1::M::Enable
            + SCTLR_EL1::C::Cacheable
            + SCTLR_EL1::I::Cacheable
            + SCTLR_EL1::SA::Enable,
    );
    barrier::isb(barrier::SY);
}

/// MAIR_EL1 with Linux's indices, TCR_EL1 for VA_BITS in both halves with the CPU's PA size,
/// and the two table bases.
fn set_translation_regs(ttbr0: u64, ttbr1: u64) {
    MAIR_EL1.write(
        MAIR_EL1::Attr0_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr0_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr2_Normal_Outer::NonCacheable
            + MAIR_EL1::Attr2_Normal_Inner::NonCacheable
            + MAIR_EL1::Attr3_Device::nonGathering_nonReordering_noEarlyWriteAck
            + MAIR_EL1::Attr4_Device::nonGathering_nonReordering_EarlyWriteAck,
    );
    let tsz = memory::tcr_tsz(VA_BITS);
    let asid16 = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010;
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(tsz)
            + TCR_EL1::T1SZ.val(tsz)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::TG1::KiB_4
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IRGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::SH0::Inner
            + TCR_EL1::SH1::Inner
            + TCR_EL1::TBI0::Ignored
            + TCR_EL1::IPS.val(ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange) & 7)
            + if asid16 { TCR_EL1::AS::ASID16Bits } else { TCR_EL1::AS::ASID8Bits },
    );
    TTBR0_EL1.set_baddr(ttbr0);
    TTBR1_EL1.set_baddr(ttbr1);
}

/// Whether the registers hold exactly the values the pure, host-tested encoders compute
/// (MAIR_EL1 = Linux's 0x000000040044ffff, TCR_EL1 as `pgtable::tcr_el1`).
pub fn translation_regs_match() -> (u64, u64, bool) {
    let parange = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange) & 7;
    let asid16 = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010;
    let (mair, tcr) = (MAIR_EL1.get(), TCR_EL1.get());
    let ok =
        mair == pgtable::mair_el1() && tcr == pgtable::tcr_el1(VA_BITS, parange, asid16, false);
    (mair, tcr, ok)
}

/// `local_flush_tlb_all`.
pub fn flush_tlb_all() {
    barrier::dsb(barrier::ISHST);
    // SAFETY: TLB invalidation has no memory effects beyond dropping cached translations.
    unsafe { core::arch::asm!("tlbi vmalle1", options(nostack)) };
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// `flush_tlb_kernel_range` for one page (`tlbi vaale1` by VA, all ASIDs).
pub fn flush_tlb_kernel_page(va: u64) {
    barrier::dsb(barrier::ISHST);
    // SAFETY: as above.
    unsafe {
        core::arch::asm!("tlbi vaale1, {}", in(reg) (va >> 12) & ((1u64 << 44) - 1), options(nostack))
    };
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// `__pa_symbol`: the physical address of a kernel-image address (`kimage_voffset`).
pub fn pa_symbol(va: u64) -> u64 {
    va - KIMAGE_VADDR + LOAD_PA
}

/// The kernel tables after the switch: pool pages at their kernel-image addresses.
pub fn kernel_tables() -> impl TableMemory {
    Pool { virt: true }
}

/// Maps `[va, va + size)` to `pa` in swapper_pg_dir with `prot` (blocks allowed or not) and
/// flushes the TLB.
pub fn map_kernel(va: u64, pa: u64, size: u64, prot: u64, blocks: bool) -> Result<(), MapError> {
    let mut t = Pool { virt: true };
    let r = create_mapping(
        &mut t,
        SWAPPER_PG_DIR.load(Ordering::Relaxed),
        VA_BITS,
        Mapping { va, pa, size, prot, blocks },
    );
    flush_tlb_all();
    r
}

/// The virtual address of the vector table (VBAR_EL1).
pub fn vectors() -> u64 {
    sym!(__vectors_start)
}

/// Where a table page is readable now (pool pages through the image, others through the
/// linear map).
pub fn table_va(pa: u64) -> u64 {
    let (ps, pe) = (
        sym!(__pgtable_pool_start) - KIMAGE_VADDR + LOAD_PA,
        sym!(__pgtable_pool_end) - KIMAGE_VADDR + LOAD_PA,
    );
    if (ps..pe).contains(&pa) {
        pa - LOAD_PA + KIMAGE_VADDR
    } else {
        memory::page_offset(VA_BITS) + pa
    }
}

/// The switch's end (Linux's `cpu_uninstall_idmap`): TTBR0 to the empty reserved_pg_dir.
pub fn uninstall_idmap() {
    TTBR0_EL1.set_baddr(RESERVED_PG_DIR.load(Ordering::Relaxed));
    barrier::isb(barrier::SY);
    flush_tlb_all();
}

/// MPIDR_EL1's affinity fields (Linux's `cpu_logical_map` hwid: Aff3, Aff2-0).
pub fn boot_cpu_hwid() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// MIDR_EL1 (the boot log's `[0x410fd034]`: Cortex-A53 r0p4).
pub fn midr() -> u64 {
    MIDR_EL1.get()
}

/// Stops this CPU for good (events wake it only to wait again).
pub fn halt() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
