//! `paging_init`: builds the kernel's final translation table (`swapper_pg_dir`) as Linux 6.1
//! does without LPAE, switches to it and drops the boot-time identity map; and the run-time
//! page-table operations (vmalloc, ioremap, pkmap, fixmap, and any other first-level table).
//!
//! Lowmem is mapped from memblock's memory regions only (`map_lowmem()`), with 1 MiB
//! sections where a whole section is memory; the sections holding the kernel image use
//! 4 KiB pages so that text is read-only and executable, rodata read-only, data/bss
//! read-write and non-executable (Linux applies the same permissions per section). Every
//! second-level table is a page in Linux's layout (two Linux tables, then the two hardware
//! tables `cpu_v7_set_pte_ext` derives from them), from a static pool at boot and from the
//! page allocator afterwards. TTBCR.N = 0 for every split: TTBR0 and TTBR1 both hold
//! `swapper_pg_dir`, as `v7_ttb_setup` and `cpu_v7_switch_mm` leave them for kernel threads.
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::{Mutex, Once};
use tock_registers::interfaces::{Readable, Writeable};

use super::cp15::{self, Dacr, Sctlr, Ttbcr, Ttbr0, Ttbr1, TTBCR};
use super::desc::{self, L1_ENTRIES, SMALL_PAGE_SHIFT as PAGE_SHIFT};
use super::fixmap::{fix_to_virt, FixedAddress};
use super::image::image;
use super::layout::Layout;
use super::memory::VECTORS_BASE;
use super::pgtable::{
    self, LinuxPte, MemType, PageTable, PhysMem, MT_DEVICE, MT_HIGH_VECTORS, MT_LOW_VECTORS,
    MT_MEMORY_RO, MT_MEMORY_RW, MT_MEMORY_RX, PAGE_KERNEL_TABLE, PTE_HWTABLE_OFF, PTE_TABLE_PAGE,
};
use crate::board::raspi::io::{self, Device};
use crate::config::PAGE_OFFSET;
use crate::mm::memblock::Memblock;
use crate::mm::pgprot::PageProt;
use crate::mm::{VirtAddr, PAGE_SIZE};
use crate::sizes::SZ_1M;

pub use super::pgtable::MapError;

/// `TTB_FLAGS_SMP`, ORed into TTBR0/TTBR1 by `v7_ttb_setup`: table walks inner and outer
/// write-back write-allocate, shareable, not outer shareable.
pub const TTB_FLAGS_SMP: u32 = 0x6a;
/// `DACR_INIT` with `CONFIG_CPU_SW_DOMAIN_PAN` (on in bcm2709_defconfig: the option defaults
/// to y without LPAE): the kernel, IO and vector domains are clients and the user domain has
/// no access except inside uaccess helpers.
pub const DACR_INIT: u32 = 0x51;
/// DACR's two bits for the user domain, and "no access".
pub const DACR_USER_MASK: u32 = 0b11 << (2 * super::desc::DOMAIN_USER as u32);
/// The vector page and the stubs page after it (`devicemaps_init`).
pub const VECTORS_PAGE: u32 = VECTORS_BASE as u32;
pub const STUBS_PAGE: u32 = VECTORS_PAGE + (1 << PAGE_SHIFT);

extern "C" {
    /// The kernel's first-level table (`linker.ld`, 16 KiB aligned).
    static swapper_pg_dir: u8;
    /// The boot table pool (`linker.ld`, page aligned; the script checks that the kernel
    /// image's tables, the vector/fixmap table and the lowmem ends fit).
    static __pte_pool_start: u8;
    static __pte_pool_end: u8;
    /// The page below the SVC stack (arch/arm/entry.rs), left unmapped.
    static __svc_stack_guard: u8;
    /// The vector page and the stubs page (arch/arm/vectors.rs).
    static __vectors_start: u8;
    static __stubs_start: u8;
}

/// Counters of the kernel's tables; the tables themselves are reached through the linear
/// map while this lock is held.
struct Tables {
    boot_used: usize,
    /// Pages taken from the page allocator for tables (/proc/meminfo `PageTables`).
    allocated_pages: u64,
}

static TABLES: Mutex<Tables> = Mutex::new(Tables { boot_used: 0, allocated_pages: 0 });

/// Where new second-level tables come from: returns the physical address of a zeroed page in
/// lowmem (Linux's `pte_alloc_kernel`).
pub type PteAlloc<'a> = &'a mut dyn FnMut() -> Option<u64>;

/// The lowmem linear map: `[phys_offset, lowmem_end)` at `PAGE_OFFSET`.
#[derive(Clone, Copy, Debug)]
struct LinearMap {
    phys_offset: u64,
    lowmem_end: u64,
}

static LINEAR_MAP: Once<LinearMap> = Once::new();

/// Publishes the linear map's bounds once the layout is known (before `paging_init`): arch
/// code reaches page tables through it.
pub fn set_linear_map(phys_offset: u64, lowmem_end: u64) {
    LINEAR_MAP.call_once(|| LinearMap { phys_offset, lowmem_end });
}

/// `__va()` for lowmem, usable from fault paths: before the layout is known only the first
/// MiB (kernel, ATAGs) is assumed mapped. Says where a physical address would be in the
/// linear map, not that it is mapped (memblock's holes are not).
pub fn phys_to_virt(pa: u64) -> Option<u64> {
    match LINEAR_MAP.get() {
        Some(m) => {
            (m.phys_offset..m.lowmem_end).contains(&pa).then(|| pa - m.phys_offset + PAGE_OFFSET)
        }
        None => (pa < SZ_1M).then_some(pa + PAGE_OFFSET),
    }
}

/// Physical address of a kernel image symbol (the image sits at PHYS_OFFSET + 0x8000).
fn virt_to_phys_kernel(va: u32) -> u64 {
    u64::from(va) - PAGE_OFFSET
}

/// Descriptors through the linear map. Only used with `TABLES` locked, on tables pivm built.
struct LinearMem;

impl PhysMem for LinearMem {
    fn read(&self, pa: u64) -> Option<u32> {
        let va = phys_to_virt(pa)?;
        // SAFETY: `pa` is a descriptor in a table pivm built (swapper_pg_dir, the boot pool or
        // a page the page allocator gave for a table), all in lowmem and so mapped; the
        // TABLES lock serialises table updates.
        Some(unsafe { (va as *const u32).read_volatile() })
    }
    fn write(&mut self, pa: u64, value: u32) {
        if let Some(va) = phys_to_virt(pa) {
            // SAFETY: as for `read`.
            unsafe { (va as *mut u32).write_volatile(value) };
        }
    }
    fn words(&self, pa: u64, n: usize) -> Option<*mut u32> {
        // Both ends in lowmem, so the whole range is linearly mapped (contiguous).
        let last = pa.checked_add(4 * n.checked_sub(1)? as u64)?;
        phys_to_virt(last)?;
        phys_to_virt(pa).map(|va| va as *mut u32)
    }
}

fn swapper() -> PageTable {
    PageTable { pgd: virt_to_phys_kernel(core::ptr::addr_of!(swapper_pg_dir) as u32) }
}

/// The kernel's first-level table, for a process address space to copy its kernel half from.
pub fn swapper_pg_dir_phys() -> u64 {
    swapper().pgd
}

impl Tables {
    /// A zeroed page from the boot pool.
    fn boot_alloc(&mut self) -> Option<u64> {
        let base = core::ptr::addr_of!(__pte_pool_start) as u32;
        let end = core::ptr::addr_of!(__pte_pool_end) as u32;
        if self.boot_used as u64 >= u64::from(end - base) / PTE_TABLE_PAGE {
            return None;
        }
        let pa = virt_to_phys_kernel(base) + self.boot_used as u64 * PTE_TABLE_PAGE;
        for i in 0..PTE_TABLE_PAGE / 4 {
            LinearMem.write(pa + 4 * i, 0);
        }
        self.boot_used += 1;
        Some(pa)
    }

    /// Maps a page during `paging_init` (`create_mapping` with `early_alloc`).
    fn map_boot(&mut self, va: u32, pa: u64, mt: &MemType) -> Result<(), MapError> {
        let pgt = swapper();
        let mut pool = || self.boot_alloc();
        pgt.map(&mut LinearMem, va, pa, mt.prot_pte, mt.prot_l1, &mut pool).map(|_| ())
    }

    /// A table page from `alloc`, counted in `PageTables`.
    fn counted<'a>(&'a mut self, alloc: PteAlloc<'a>) -> impl FnMut() -> Option<u64> + 'a {
        move || {
            let page = alloc();
            if page.is_some() {
                self.allocated_pages += 1;
            }
            page
        }
    }
}

/// Protection of one page of the kernel image's neighbourhood in lowmem.
fn kernel_page_prot(va: usize) -> &'static MemType {
    let img = image();
    if (img.text..img.etext).contains(&va) {
        &MT_MEMORY_RX
    } else if (img.start_rodata..img.end_rodata).contains(&va) {
        &MT_MEMORY_RO
    } else {
        &MT_MEMORY_RW
    }
}

/// Builds `swapper_pg_dir`: lowmem `[PAGE_OFFSET, high_memory)` from memblock's mappable
/// memory (`map_lowmem`: holes and NOMAP regions stay unmapped), the kernel image wherever it
/// is (`map_kernel`), the vector and stubs pages (`devicemaps_init`) and the fixmap device
/// pages; then switches to it. After this nothing below PAGE_OFFSET is mapped.
///
/// A section only partly mappable is mapped by pages; when the boot table pool runs out, the
/// whole section is left out and marked NOMAP, so that nothing ever hands out memory the
/// linear map does not reach (said on `log`).
pub fn paging_init(
    high_memory: u64,
    memblock: &mut Memblock,
    log: &mut dyn Write,
) -> Result<(), MapError> {
    let img = image();
    let phys_offset = LINEAR_MAP.get().map_or(0, |m| m.phys_offset);
    let kernel_first = img.text as u64 & !(SZ_1M - 1);
    let kernel_end = img.end as u64;
    let stack_guard = core::ptr::addr_of!(__svc_stack_guard) as u32;
    let mut t = TABLES.lock();
    let pgd = swapper().pgd;
    for i in 0..L1_ENTRIES as u64 {
        LinearMem.write(pgd + 4 * i, 0);
    }
    t.boot_used = 0;

    let mut va = PAGE_OFFSET;
    while va < high_memory.max(kernel_end) {
        let section_end = va + SZ_1M;
        let pa = va - PAGE_OFFSET + phys_offset;
        let lowmem_bytes = section_end.min(high_memory).saturating_sub(va);
        let mappable = memblock.map_memory_in(pa, lowmem_bytes);
        let kernel = va < kernel_end && section_end > kernel_first;
        if mappable == SZ_1M && !kernel {
            let entry = swapper().l1_entry(va as u32);
            LinearMem.write(entry, (pa as u32) | MT_MEMORY_RW.prot_sect);
        } else if mappable != 0 || kernel {
            let mut p = va;
            while p < section_end {
                let ppa = p - PAGE_OFFSET + phys_offset;
                let in_image = (img.text as u64..kernel_end).contains(&p);
                let mappable = p < high_memory && memblock.is_map_memory(ppa);
                if p as u32 == stack_guard || !(in_image || mappable) {
                    p += 1 << PAGE_SHIFT;
                    continue;
                }
                match t.map_boot(p as u32, ppa, kernel_page_prot(p as usize)) {
                    Err(MapError::NoL2Table) if !kernel => {
                        let _ = memblock.mark_nomap(pa, SZ_1M);
                        let _ = writeln!(
                            log,
                            "paging_init: out of boot page tables; [mem {:#010x}-{:#010x}] left unmapped",
                            pa,
                            pa + SZ_1M - 1
                        );
                        break;
                    }
                    r => r?,
                }
                p += 1 << PAGE_SHIFT;
            }
        }
        va = section_end;
    }

    // The vector page (user-readable: the kuser helpers) and the stubs page after it.
    let vectors_pa = virt_to_phys_kernel(core::ptr::addr_of!(__vectors_start) as u32);
    let stubs_pa = virt_to_phys_kernel(core::ptr::addr_of!(__stubs_start) as u32);
    t.map_boot(VECTORS_PAGE, vectors_pa, &MT_HIGH_VECTORS)?;
    t.map_boot(STUBS_PAGE, stubs_pa, &MT_LOW_VECTORS)?;

    for (slot, dev) in FIXMAP_DEVICES {
        t.map_boot(fix_to_virt(slot) as u32, dev.phys() & !0xfff, &MT_DEVICE)?;
    }
    drop(t);

    cp15::dsb();
    let ttbr = pgd as u32 | TTB_FLAGS_SMP;
    Ttbr0.set(ttbr);
    Ttbr1.set(ttbr);
    Ttbcr.write(TTBCR::N.val(0));
    cp15::local_flush_tlb_all();

    for (slot, dev) in FIXMAP_DEVICES {
        io::set_base(dev, (fix_to_virt(slot) + (dev.phys() & 0xfff)) as usize);
    }
    Ok(())
}

/// The devices mapped in the fixmap, and their slots.
const FIXMAP_DEVICES: [(FixedAddress, Device); 6] = [
    (FixedAddress::EarlyconMemBase, Device::Uart0),
    (FixedAddress::Mailbox, Device::Mailbox),
    (FixedAddress::PowerManagement, Device::Pm),
    (FixedAddress::SystemTimer, Device::SystemTimer),
    (FixedAddress::LocalPeripherals, Device::LocalPeripherals),
    (FixedAddress::IrqController, Device::IrqController),
];

/// Maps one page at a fixed kernel address after `paging_init` (fixmap slots: Linux's
/// `__set_fixmap`), or unmaps it with `mt = None`, and drops the stale TLB entry. The
/// fixmap's table exists from boot, so no allocation happens.
#[inline(never)]
fn set_fixmap_page(va: u32, pa: u64, prot_pte: Option<u32>) -> Result<(), MapError> {
    let _t = TABLES.lock();
    let pgt = swapper();
    match prot_pte {
        Some(prot_pte) => {
            pgt.map(&mut LinearMem, va, pa, prot_pte, PAGE_KERNEL_TABLE, &mut || None)?;
        }
        None => {
            pgt.unmap(&mut LinearMem, va)?;
        }
    }
    cp15::local_flush_tlb_kernel_page(va);
    Ok(())
}

/// Short descriptors hold 32-bit physical addresses: anything higher is refused, never cut.
fn check_phys(pa: u64) -> Result<(), MapError> {
    if pa > u64::from(u32::MAX) {
        return Err(MapError::PhysTooHigh(pa));
    }
    Ok(())
}

/// The linear addresses of the Linux PTEs of the two `kmap_local` slots (`FIX_KMAP_BEGIN`
/// and the next), 0 until first used. Linux keeps the kmap PTEs' address too
/// (`kmap_get_pte`): mapping a highmem page (zeroing it for a fault, copying it for COW) then
/// writes its entry pair and flushes the slot, with no walk of the tables to find it.
static KMAP_PTES: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// The Linux PTE of kmap slot `idx` (index into [`KMAP_PTES`]) at `va`, looked up under the
/// TABLES lock the first time (the fixmap's tables exist from `paging_init` on and are never
/// freed, so the address stays good).
#[inline(always)]
fn kmap_pte(idx: usize, va: u32) -> Option<*mut u32> {
    let cached = KMAP_PTES[idx].load(Ordering::Relaxed);
    if cached != 0 {
        return Some(cached as *mut u32);
    }
    kmap_pte_lookup(idx, va)
}

/// The first lookup of a kmap slot's PTE: a walk of `swapper_pg_dir` under the TABLES lock.
#[cold]
#[inline(never)]
fn kmap_pte_lookup(idx: usize, va: u32) -> Option<*mut u32> {
    let _t = TABLES.lock();
    let slot = swapper().pte_slot(&LinearMem, va).ok()??;
    // The Linux and hardware entries share the table's page, so one lent run covers both.
    let linux = LinearMem.words(slot.linux, (PTE_HWTABLE_OFF / 4 + 1) as usize)?;
    debug_assert_eq!(slot.hw, slot.linux + PTE_HWTABLE_OFF);
    KMAP_PTES[idx].store(linux as usize, Ordering::Relaxed);
    Some(linux)
}

/// Writes the fixmap kmap slot `idx`'s entry pair (`pte` 0: unmapped) and flushes the slot's
/// TLB entry, as 6.1's `__kmap_local_pfn_prot` (`set_pte_at` then
/// `arch_kmap_local_post_map`) and `kunmap_local_indexed` (`pte_clear` then
/// `arch_kmap_local_post_unmap`) do on ARM; false for a slot that is no kmap slot, or whose
/// table is not there (the caller walks the tables then). Like Linux's, which relies on the
/// slot being the CPU's own with preemption off, the write takes no page-table lock: a kmap
/// slot's entries have one writer, the holder of the kmap slots (`kernel::mem`'s
/// `with_page_mapped`, `with_two_pages_mapped`), and no walk ever changes the fixmap's
/// table. Inline, so that a caller's constant protection folds into both entries.
#[inline(always)]
fn set_kmap_pte(idx: FixedAddress, pte: u32) -> bool {
    let k = match idx {
        FixedAddress::KmapBegin => 0,
        FixedAddress::KmapNext => 1,
        _ => return false,
    };
    let va = fix_to_virt(idx) as u32;
    let Some(p) = kmap_pte(k, va) else { return false };
    let hw = if pte == 0 { 0 } else { pgtable::set_pte_ext(pte, PageTable::ext_for(va, pte)) };
    // SAFETY: `p` is the slot's Linux PTE in a kernel table page (lowmem, never freed), its
    // hardware entry `PTE_HWTABLE_OFF` bytes on in the same page; the slot's one writer is
    // the caller (see above).
    unsafe {
        p.write_volatile(pte);
        p.byte_add(PTE_HWTABLE_OFF as usize).write_volatile(hw);
    }
    cp15::local_flush_tlb_kernel_page(va);
    true
}

/// `__set_fixmap(idx, phys, prot)`: maps the page at `pa` in a fixmap slot and drops the
/// slot's stale TLB entry. Inline: `kmap_local_page`'s one mapping per zeroed or copied
/// highmem page comes through here with a constant protection.
#[inline(always)]
pub fn set_fixmap(idx: FixedAddress, pa: u64, prot: PageProt) -> Result<(), MapError> {
    check_phys(pa)?;
    let prot_pte = pgtable::pgprot(prot);
    if set_kmap_pte(idx, pgtable::pfn_pte(pa, prot_pte)) {
        return Ok(());
    }
    set_fixmap_page(fix_to_virt(idx) as u32, pa, Some(prot_pte))
}

/// `clear_fixmap(idx)`: unmaps a fixmap slot and drops its TLB entry.
#[inline(always)]
pub fn clear_fixmap(idx: FixedAddress) {
    if !set_kmap_pte(idx, 0) {
        let _ = set_fixmap_page(fix_to_virt(idx) as u32, 0, None);
    }
}

/// Unmaps the fixmap slot `paging_init` mapped a device in, once the device has moved to an
/// `ioremap()`ed address (Linux drops earlycon's mapping likewise).
pub fn clear_fixmap_device(dev: Device) {
    if let Some(&(slot, _)) = FIXMAP_DEVICES.iter().find(|(_, d)| *d == dev) {
        clear_fixmap(slot);
    }
}

/// Maps one 4 KiB page at a kernel address outside lowmem (vmalloc, ioremap, pkmap) with
/// arch-neutral protections, creating its table page with `alloc` if needed
/// (`_PAGE_KERNEL_TABLE`, also below PAGE_OFFSET for pkmap, as `kmap_init` does). A newly
/// valid entry needs no TLB maintenance; the caller flushes when it replaces or removes
/// mappings. Inline, so that the protection's PTE bits are worked out where the caller names
/// a constant (`PAGE_KERNEL`), as the memory type's bits were.
#[inline]
pub fn map_kernel_page(
    va: usize,
    pa: u64,
    prot: PageProt,
    alloc: PteAlloc<'_>,
) -> Result<(), MapError> {
    map_kernel_pte(va, pa, pgtable::pgprot(prot), alloc)
}

/// `map_kernel_page` with the Linux PTE bits worked out.
fn map_kernel_pte(va: usize, pa: u64, prot_pte: u32, alloc: PteAlloc<'_>) -> Result<(), MapError> {
    check_phys(pa)?;
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    let pgt = swapper();
    pgt.map(&mut LinearMem, va as u32, pa, prot_pte, PAGE_KERNEL_TABLE, &mut alloc)?;
    cp15::dsb();
    Ok(())
}

/// Creates the table covering `va` now (Linux's `kmap_init` allocates the pkmap table at
/// boot), so later mappings there never allocate.
pub fn prealloc_pte_table(va: usize, alloc: PteAlloc<'_>) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    swapper().pte_alloc(&mut LinearMem, va as u32, PAGE_KERNEL_TABLE, &mut alloc).map(|_| ())
}

/// Clears the entry for `va` and returns the physical page it mapped (None if none). The TLB
/// is not flushed: batch that with `flush_tlb_kernel_range`.
pub fn unmap_kernel_page(va: usize) -> Option<u64> {
    let _t = TABLES.lock();
    let old = LinuxPte(swapper().unmap(&mut LinearMem, va as u32).ok()?);
    old.present().then(|| old.pfn_phys())
}

/// Maps `pa` at `va` in the first-level table `pgt` with arch-neutral protections, creating
/// the table page with `alloc` (a user table below PAGE_OFFSET, a kernel one above). The
/// interface a process address space uses; the caller flushes the TLB when it replaces a
/// mapping.
pub fn map_page(
    pgt: PageTable,
    va: u32,
    pa: u64,
    prot: PageProt,
    alloc: PteAlloc<'_>,
) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    pgt.map_prot(&mut LinearMem, va, pa, prot, &mut alloc)?;
    cp15::dsb();
    Ok(())
}

/// Maps `pa` at `va` in `pgt` with Linux PTE bits `prot_pte` (a process's pages, whose
/// dirty and young bits the fault path sets), creating a user table page with `alloc`.
pub fn map_page_pte(
    pgt: PageTable,
    va: u32,
    pa: u64,
    prot_pte: u32,
    alloc: PteAlloc<'_>,
) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    pgt.map(&mut LinearMem, va, pa, prot_pte, pgtable::PAGE_USER_TABLE, &mut alloc)?;
    cp15::dsb();
    Ok(())
}

/// Removes `va`'s mapping from `pgt`, returning the old Linux PTE (the caller flushes).
pub fn unmap_page(pgt: PageTable, va: u32) -> Option<LinuxPte> {
    let _t = TABLES.lock();
    let old = pgt.unmap(&mut LinearMem, va).ok()?;
    (old != 0).then_some(LinuxPte(old))
}

/// Clears every PTE of `[start, end)` (inside one first-level entry) in `pgt`, the old ones
/// in `old`; false if no table covers the range or it holds no entry (`old` not to be read). The
/// caller flushes the TLB.
pub fn clear_page_range(pgt: PageTable, start: u32, end: u32, old: &mut [u32]) -> bool {
    let _t = TABLES.lock();
    pgt.clear_ptes(&mut LinearMem, start, end, old).unwrap_or(false)
}

/// [`PageTable::ptes_none`] under the table lock: whether `[start, end)` (inside one
/// first-level entry) of `pgt` holds no PTE (true without a table; a table that cannot be
/// read counts as not empty, so that the caller looks at it entry by entry).
pub fn page_range_none(pgt: PageTable, start: u32, end: u32) -> bool {
    let _t = TABLES.lock();
    pgt.ptes_none(&LinearMem, start, end).unwrap_or(false)
}

/// The Linux PTEs of `[start, end)` (inside one first-level entry) of `pgt` into `out`;
/// false if no table covers the range or it holds no entry (`out` not to be read).
pub fn read_page_range(pgt: PageTable, start: u32, end: u32, out: &mut [u32]) -> bool {
    let _t = TABLES.lock();
    pgt.read_ptes(&LinearMem, start, end, out).unwrap_or(false)
}

/// [`map_page_pte`] for a user page, returning the Linux PTE it replaced (0 for none): one
/// table lookup where reading the old entry first took another (`ptep_get` + `set_pte_at`
/// on the same slot).
pub fn replace_page_pte(
    pgt: PageTable,
    va: u32,
    pa: u64,
    prot_pte: u32,
    alloc: PteAlloc<'_>,
) -> Result<u32, MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    let (slot, _) = pgt.pte_alloc(&mut LinearMem, va, pgtable::PAGE_USER_TABLE, &mut alloc)?;
    let pte = pgtable::pfn_pte(pa, prot_pte);
    let old = PageTable::set_pte(&mut LinearMem, slot, pte, PageTable::ext_for(va, pte));
    cp15::dsb();
    Ok(old)
}

/// [`PageTable::set_ptes_none`] in a user table under the table lock (the table page from
/// `alloc`, counted): `filemap_map_pages`' one lookup for a run of empty slots.
pub fn map_empty_ptes(
    pgt: PageTable,
    start: u32,
    ptes: &mut [u32],
    alloc: PteAlloc<'_>,
) -> Result<usize, MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    let r = pgt.set_ptes_none(&mut LinearMem, start, ptes, pgtable::PAGE_USER_TABLE, &mut alloc);
    cp15::dsb();
    r
}

/// `copy_pte_range` of `[start, end)` (inside one first-level entry) from `src` to `dst`
/// under the table lock ([`PageTable::copy_ptes`]; `dst`'s table page from `alloc`, counted).
/// False when `src` has no table there. The caller flushes `src`'s TLB entries.
pub fn copy_page_range(
    src: PageTable,
    dst: PageTable,
    start: u32,
    end: u32,
    alloc: PteAlloc<'_>,
    f: impl FnMut(u32, u32) -> Option<(u32, u32)>,
) -> Result<bool, MapError> {
    let mut t = TABLES.lock();
    let mut alloc = t.counted(alloc);
    let r =
        src.copy_ptes(&dst, &mut LinearMem, start, end, pgtable::PAGE_USER_TABLE, &mut alloc, f);
    cp15::dsb();
    r
}

/// The Linux PTE mapping `va` in `pgt`.
pub fn lookup_page(pgt: PageTable, va: u32) -> Option<LinuxPte> {
    let _t = TABLES.lock();
    pgt.lookup(&LinearMem, va)
}

/// Rewrites `va`'s PTE in `pgt` with `f` (young/dirty/write-protect) and returns the new
/// PTE. The caller flushes the TLB entry (by ASID for a process's non-global pages).
pub fn update_page(
    pgt: PageTable,
    va: u32,
    f: impl FnOnce(LinuxPte) -> LinuxPte,
) -> Option<LinuxPte> {
    let _t = TABLES.lock();
    pgt.update(&mut LinearMem, va, f)
}

/// Detaches the table page covering `va`'s 2 MiB from `pgt`, flushes the TLB and gives the
/// page to `free` (Linux's `free_pte_range`; the caller has unmapped every page in it).
pub fn free_pte_table(pgt: PageTable, va: u32, free: &mut dyn FnMut(u32)) {
    let page = {
        let mut t = TABLES.lock();
        let page = pgt.take_pte_table(&mut LinearMem, va);
        if page.is_some() {
            t.allocated_pages = t.allocated_pages.saturating_sub(1);
        }
        page
    };
    if let Some(page) = page {
        cp15::local_flush_tlb_all();
        free(page as u32);
    }
}

/// Detaches the table page covering `va`'s 2 MiB from `pgt` without flushing (the caller
/// flushes the mm's TLB entries before the page is reused: exit's `free_pgtables`); its
/// physical address, or None when there was no table.
pub fn detach_pte_table(pgt: PageTable, va: u32) -> Option<u32> {
    let mut t = TABLES.lock();
    let page = pgt.take_pte_table(&mut LinearMem, va)?;
    t.allocated_pages = t.allocated_pages.saturating_sub(1);
    Some(page as u32)
}

/// Invalidates the TLB entries of `[start, end)` (Linux's `flush_tlb_kernel_range`), page by
/// page for small ranges and all at once above a threshold.
pub fn flush_tlb_kernel_range(start: usize, end: usize) {
    const FULL_FLUSH_PAGES: u32 = 64;
    let (start, end) = (start as u32, end as u32);
    if (end.wrapping_sub(start) >> PAGE_SHIFT) > FULL_FLUSH_PAGES {
        cp15::local_flush_tlb_all();
    } else {
        let mut va = start & !0xfff;
        while va < end {
            cp15::local_flush_tlb_kernel_page(va);
            va += 1 << PAGE_SHIFT;
        }
    }
}

/// Pages the page tables took from the page allocator (/proc/meminfo `PageTables`).
pub fn page_table_pages() -> u64 {
    TABLES.lock().allocated_pages
}

/// Physical address of the live first-level table (TTBR0: with TTBCR.N = 0 the hardware
/// walks only it).
pub fn pgd_phys() -> u64 {
    u64::from(Ttbr0.get() & !((1 << 14) - 1))
}

/// Reads a descriptor at a physical address through the linear map, turning a fault into
/// None (so the oops path can walk tables it does not trust).
pub fn read_phys_word(pa: u64) -> Option<u32> {
    let va = phys_to_virt(pa)?;
    super::fault::probe_read_u32(va as usize).ok()
}

/// Linux's `show_pte`: `[addr] *pgd=..., *pte=..., *ppte=...` for the live table.
pub fn show_pte(w: &mut impl Write, addr: usize) {
    let _ = pgtable::write_show_pte(w, pgd_phys(), addr as u32, read_phys_word);
}

/// PAR bit 0: the translation faulted.
const PAR_F: u32 = 1;
/// PAR's physical page bits.
const PAR_PA_MASK: u32 = !0xfff;

/// The MMU's own translation of `va` for a privileged read (ATS1CPR): the physical address,
/// or None when the access would fault.
pub fn translate(va: usize) -> Option<u64> {
    let par = cp15::ats1cpr(va as u32);
    (par & PAR_F == 0).then(|| u64::from(par & PAR_PA_MASK) | (va as u64 & (PAGE_SIZE - 1)))
}

/// pivm's view of one translation, after `show_pte`: the MMU's answer (ATS1CPR), the
/// registers the walk depends on, then the software walk of the live table, level by level.
pub fn write_translation(w: &mut impl Write, va: usize) -> fmt::Result {
    // With TTBCR.N = 0 the MMU walks TTBR0's full table for every address.
    let walk = desc::walk(pgd_phys(), 0, va as u32, read_phys_word);
    // The MMU's own answer first, so the software walk's result is the last line.
    let par = cp15::ats1cpr(va as u32);
    if par & PAR_F == 0 {
        writeln!(w, "ATS1CPR (hardware): PA {:#010x}", (par & PAR_PA_MASK) | (va as u32 & 0xfff))?;
    } else {
        writeln!(w, "ATS1CPR (hardware): fault, PAR {:#010x}", par)?;
    }
    // The registers the walk depends on (pivm's addition; Linux has no such line).
    writeln!(
        w,
        "MMU: SCTLR {:08x} TTBCR {:08x} TTBR0 {:08x} TTBR1 {:08x} DACR {:08x}",
        Sctlr.get(),
        Ttbcr.get(),
        Ttbr0.get(),
        Ttbr1.get(),
        Dacr.get()
    )?;
    write!(w, "{}", walk)
}

/// A process's table at `pgd`: Linux's `show_pte` line for `va` and the software walk (no
/// ATS1CPR: the MMU answers for the live table, the kernel's while the console runs).
pub fn write_translation_in(w: &mut impl Write, pgd: u64, va: usize) -> fmt::Result {
    pgtable::write_show_pte(w, pgd, va as u32, read_phys_word)?;
    write!(w, "{}", desc::walk(pgd, 0, va as u32, read_phys_word))
}

/// A process's table at `pgd`: its own half under pivm's `User Space` marker, then the kernel
/// half it shares, under the kernel's markers.
pub fn dump_user_page_tables(w: &mut impl Write, pgd: u64, l: &Layout) -> fmt::Result {
    writeln!(w, "---[ User Space ]---")?;
    dump_page_tables_at(w, pgd, l)
}

/// The kernel's mappings under Linux 6.1's `address_markers` (arch/arm/mm/dump.c; the FDT
/// area starts at VMALLOC_END), plus pivm's own marker for the pkmap area.
pub fn dump_kernel_page_tables(w: &mut impl Write, l: &Layout) -> fmt::Result {
    dump_page_tables_at(w, pgd_phys(), l)
}

/// The dump of the table at `pgd` with the kernel's markers.
fn dump_page_tables_at(w: &mut impl Write, pgd: u64, l: &Layout) -> fmt::Result {
    let marker = |start: VirtAddr, name| desc::AddrMarker { start: start.as_u64(), name };
    let pkmap = l.pkmap_base.unwrap_or(l.modules_end);
    let markers = [
        marker(l.modules_vaddr, "Modules"),
        marker(pkmap, "Persistent Kernel Mappings"),
        marker(l.page_offset, "Kernel Mapping"),
        marker(l.vmalloc_start, "vmalloc() Area"),
        marker(l.vmalloc_end, "FDT Area"),
        marker(l.fixaddr_start, "Fixmap Area"),
        marker(l.vectors_base, "Vectors"),
        marker(VirtAddr(l.vectors_base.0 + 2 * PAGE_SIZE as usize), "Vectors End"),
    ];
    desc::ptdump(w, pgd, 0, &markers, read_phys_word)
}
