//! The facade's kernel page-table names on arm64 (`arch::mmu`), over the boot tables of
//! `boot.rs` and the walker of `mapping.rs`: the linear map's `__va` for the shared
//! allocator, single kernel pages mapped and unmapped in swapper_pg_dir for vmalloc and
//! ioremap (table pages from the page allocator, `pte_alloc_kernel`), the TLB flush by
//! range, and the count of the kernel's table pages for /proc/meminfo's `PageTables`.
use core::sync::atomic::{AtomicU64, Ordering};

use spin::{Mutex, Once};

use super::mapping::{clear_pte, create_mapping, Mapping, TableMemory};
use super::pgtable::{self, PTE_ADDR_MASK};
use super::{boot, memory};
use crate::config::VA_BITS;
use crate::mm::pgprot::PageProt;
use crate::mm::PAGE_SIZE;

pub use super::mapping::MapError;

/// Where a new table page comes from (zeroed, owned as a page table; physical address).
pub type PteAlloc<'a> = &'a mut dyn FnMut() -> Option<u64>;

/// Serialises changes to swapper_pg_dir after boot (`init_mm.page_table_lock`).
static TABLES: Mutex<()> = Mutex::new(());
/// Table pages taken from the page allocator for kernel mappings after boot.
static ALLOCATED_TABLE_PAGES: AtomicU64 = AtomicU64::new(0);

/// swapper_pg_dir's tables as `create_mapping` reads them: boot pool pages through the
/// image, page-allocator pages through the linear map (`boot::table_va`).
struct KernelTables<'a> {
    alloc: PteAlloc<'a>,
}

impl TableMemory for KernelTables<'_> {
    fn read(&self, pa: u64) -> u64 {
        // SAFETY: `pa` is a descriptor of swapper_pg_dir or a table below it (the walk only
        // follows table descriptors the kernel wrote), readable at `table_va`.
        unsafe { (boot::table_va(pa) as *const u64).read_volatile() }
    }

    fn write(&mut self, pa: u64, desc: u64) {
        // SAFETY: as in `read`; the TABLES lock is held by the caller.
        unsafe { (boot::table_va(pa) as *mut u64).write_volatile(desc) }
    }

    fn alloc_table(&mut self) -> Option<u64> {
        let pa = (self.alloc)()?;
        ALLOCATED_TABLE_PAGES.fetch_add(1, Ordering::Relaxed);
        Some(pa)
    }
}

/// `map_kernel_page`: maps one page at `va` (in TTBR1's range) to `pa` with arch-neutral
/// protections, creating the missing tables with `alloc`. No TLB flush: the address mapped
/// nothing before (vmalloc and ioremap only map fresh areas).
pub fn map_kernel_page(
    va: usize,
    pa: u64,
    prot: PageProt,
    alloc: PteAlloc<'_>,
) -> Result<(), MapError> {
    let _t = TABLES.lock();
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let m =
        Mapping { va: va as u64, pa, size: PAGE_SIZE, prot: pgtable::pgprot(prot), blocks: false };
    let r = create_mapping(&mut KernelTables { alloc }, root, VA_BITS, m);
    // The descriptors reach the walker before the address is used (`dsb ishst` in set_pte).
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack)) };
    r
}

/// Clears the page entry for `va` and returns the physical page it mapped (None if none or
/// a block maps it). The TLB is not flushed: batch that with `flush_tlb_kernel_range`.
pub fn unmap_kernel_page(va: usize) -> Option<u64> {
    let _t = TABLES.lock();
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let mut none = || None;
    let old = clear_pte(&mut KernelTables { alloc: &mut none }, root, VA_BITS, va as u64)?;
    Some(old & PTE_ADDR_MASK)
}

/// `flush_tlb_kernel_range`: by page up to Linux's `MAX_DVM_OPS` (512 pages), else all.
pub fn flush_tlb_kernel_range(start: usize, end: usize) {
    const MAX_TLBI_OPS: u64 = 512;
    let (start, end) = (start as u64 & !(PAGE_SIZE - 1), end as u64);
    if end.saturating_sub(start) / PAGE_SIZE > MAX_TLBI_OPS {
        boot::flush_tlb_all();
        return;
    }
    let mut va = start;
    while va < end {
        boot::flush_tlb_kernel_page(va);
        va += PAGE_SIZE;
    }
}

/// The linear map: RAM from `phys_offset` (`memstart_addr`) to `lowmem_end` at
/// `PAGE_OFFSET`.
struct LinearMap {
    phys_offset: u64,
    lowmem_end: u64,
}

static LINEAR_MAP: Once<LinearMap> = Once::new();

/// Publishes the linear map once `paging_init` has mapped it (as on ARMv7; arm64 maps all
/// of RAM, so `lowmem_end` is the end of RAM).
pub fn set_linear_map(phys_offset: u64, lowmem_end: u64) {
    LINEAR_MAP.call_once(|| LinearMap { phys_offset, lowmem_end });
}

/// `__va()`: where a physical address is in the linear map (None before `set_linear_map`
/// and outside it). Says where it would be, not that it is mapped.
pub fn phys_to_virt(pa: u64) -> Option<u64> {
    let m = LINEAR_MAP.get()?;
    (m.phys_offset..m.lowmem_end)
        .contains(&pa)
        .then(|| memory::page_offset(VA_BITS) + (pa - m.phys_offset))
}

/// Pages holding the kernel's own translation tables (swapper_pg_dir and below).
pub fn page_table_pages() -> u64 {
    boot::TABLE_PAGES.load(Ordering::Relaxed) + ALLOCATED_TABLE_PAGES.load(Ordering::Relaxed)
}

/// Drops a device's boot-time mapping once it has an `ioremap`ped one: on arm64 only the
/// console UART has one, earlycon's `FIX_EARLYCON_MEM_BASE` slot (the others were never
/// mapped before `ioremap`).
pub fn clear_fixmap_device(dev: crate::board::raspi::io::Device) {
    if dev == crate::board::raspi::io::Device::Uart0 {
        let va = memory::fix_to_virt(VA_BITS, memory::FIX_EARLYCON_MEM_BASE);
        if unmap_kernel_page(va as usize).is_some() {
            flush_tlb_kernel_range(va as usize, (va + PAGE_SIZE) as usize);
        }
    }
}

/// `show_pte` as an oops prints it: the table that translates `addr` and the descriptor of
/// each level (`[addr] pgd=..., p4d=..., pud=..., pmd=..., pte=...`).
pub fn show_pte(w: &mut impl core::fmt::Write, addr: usize) {
    super::traps::show_pte(w, addr as u64);
}

/// PAR_EL1.F: the translation faulted.
const PAR_F: u64 = 1;
/// PAR_EL1's physical address bits [47:12].
const PAR_PA_MASK: u64 = pgtable::PTE_ADDR_MASK;

/// `AT S1E1R` and PAR_EL1: the MMU's own stage-1 EL1 read translation.
fn at_s1e1r(va: u64) -> u64 {
    use aarch64_cpu::registers::{Readable, PAR_EL1};
    // SAFETY: address translation has no side effect beyond PAR_EL1 (nothing else reads it
    // between the two instructions: interrupts do not translate).
    unsafe { core::arch::asm!("at s1e1r, {}", in(reg) va, options(nostack)) };
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    PAR_EL1.get()
}

/// The physical address the MMU translates `va` to for a kernel read (None: it faults).
pub fn translate(va: usize) -> Option<u64> {
    let par = at_s1e1r(va as u64);
    (par & PAR_F == 0).then_some((par & PAR_PA_MASK) | (va as u64 & (PAGE_SIZE - 1)))
}

/// pivm's view of one translation, after `show_pte`: the MMU's answer (`AT S1E1R`), the
/// region of the layout, then the software walk of swapper_pg_dir, each level's descriptor
/// decoded (AttrIndx named by its MAIR_EL1 index, SH, AP, PXN/UXN, AF, nG).
pub fn write_translation(w: &mut impl core::fmt::Write, va: usize) -> core::fmt::Result {
    let va = va as u64;
    let par = at_s1e1r(va);
    if par & PAR_F == 0 {
        writeln!(w, "AT S1E1R (hardware): PA {:#x}", (par & PAR_PA_MASK) | (va & 0xfff))?;
    } else {
        writeln!(w, "AT S1E1R (hardware): fault, FST {:#04x}", (par >> 1) & 0x3f)?;
    }
    // The layout of the linear map boot published (its regions depend on VA_BITS alone).
    let Some(l) = LINEAR_MAP
        .get()
        .and_then(|m| super::layout::Layout::new(VA_BITS, m.phys_offset, m.lowmem_end).ok())
    else {
        return Ok(());
    };
    if va >> 63 == 0 {
        return writeln!(
            w,
            "{va:#x} is a user (TTBR0) address: the console runs on the empty reserved_pg_dir \
             there; `pt VA PID` walks a process's table"
        );
    }
    if va < l.page_offset {
        return writeln!(
            w,
            "{va:#x} is below PAGE_OFFSET {:#x}: outside the {VA_BITS}-bit TTBR1 range",
            l.page_offset
        );
    }
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let image = (l.kimage_vaddr..boot::sections().end).contains(&va);
    writeln!(
        w,
        "swapper_pg_dir at {root:#x}; {}{}",
        l.region_of(va).unwrap_or("unused"),
        if image { " (the kernel image)" } else { "" }
    )?;
    let walk = pgtable::walk(va, VA_BITS, root, super::traps::read_table);
    pgtable::write_walk(w, va, VA_BITS, &walk)
}

/// A process's table at `pgd` (its TTBR0 root): the software walk of `va`, each level's
/// descriptor decoded (no `AT`: the MMU answers for the live table, the console's).
pub fn write_translation_in(
    w: &mut impl core::fmt::Write,
    pgd: u64,
    va: usize,
) -> core::fmt::Result {
    let walk = pgtable::walk(va as u64, VA_BITS, pgd, super::traps::read_table);
    pgtable::write_walk(w, va as u64, VA_BITS, &walk)
}

/// A process's table at `pgd` (its TTBR0 root) walked and merged as `ptdump_walk` walks an
/// `mm` below `TASK_SIZE_64`: its user half only (the kernel half is TTBR1's, the same for
/// every process: `ptdump`).
pub fn dump_user_page_tables(
    w: &mut impl core::fmt::Write,
    pgd: u64,
    l: &super::layout::Layout,
) -> core::fmt::Result {
    super::ptdump::write_user_page_tables(w, l, pgd, super::traps::read_table)
}

/// `/sys/kernel/debug/kernel_page_tables` as arm64 6.1 prints it (`ptdump_walk`).
pub fn dump_kernel_page_tables(
    w: &mut impl core::fmt::Write,
    l: &super::layout::Layout,
) -> core::fmt::Result {
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    super::ptdump::write_kernel_page_tables(w, l, root, super::traps::read_table)
}
