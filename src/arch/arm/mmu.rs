//! `paging_init`: builds the kernel's final translation table (`swapper_pg_dir`) from the
//! computed layout, switches to it and drops the boot-time identity map.
//!
//! Lowmem is mapped with 1 MiB sections, except where finer permissions are needed (the
//! kernel image: text read-only+executable, rodata read-only+XN, data/bss read-write+XN) or
//! the memory ends inside a section; those use 4 KiB second-level tables, as do the vector
//! page and the fixmap.
use core::fmt::Write;

use spin::Mutex;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use super::cp15::{self, Sctlr, Ttbcr, Ttbr0, Ttbr1, SCTLR, TTBCR};
use super::desc::{self, L1_ENTRIES, L2_ENTRIES, SECTION_SHIFT, SMALL_PAGE_SHIFT as PAGE_SHIFT};
use super::entry::TTBCR_N;
use super::image::image;
use crate::board::raspi::io::{self, Device};
use crate::config::PAGE_OFFSET;
use crate::mm::fixmap::{fix_to_virt, FixedAddress};
use crate::mm::layout::VECTORS_BASE;
use crate::mm::memblock::Memblock;
use crate::mm::PhysAddr;
use crate::sizes::SZ_1M;

/// Second-level table pairs for the kernel's own mappings made before the page allocator
/// exists (kernel image, vectors, fixmap, a partial last lowmem section).
const BOOT_PMD_POOL: usize = 8;
/// TTBR walk attributes: inner/outer write-back write-allocate, shareable.
const TTBR_WALK_ATTRS: u32 = 0x6A;
/// Linux's PMD: two hardware second-level tables (two 1 MiB sections, 2 MiB) allocated
/// together, as in `pgtable-2level.h`.
pub const PMD_TABLE_BYTES: usize = 2 * L2_ENTRIES * 4;

#[repr(C, align(16384))]
struct PgDir([u32; L1_ENTRIES]);

/// Two hardware tables for an even/odd pair of sections.
#[repr(C, align(2048))]
#[derive(Clone, Copy)]
struct PmdTables([u32; 2 * L2_ENTRIES]);

struct Tables {
    pgd: PgDir,
    boot_pool: [PmdTables; BOOT_PMD_POOL],
    boot_used: usize,
    /// Pages taken from the page allocator for tables (/proc/meminfo `PageTables`).
    allocated_pages: u64,
}

/// The kernel's translation tables: `swapper_pg_dir` and the boot-time table pool.
static TABLES: Mutex<Tables> = Mutex::new(Tables {
    pgd: PgDir([0; L1_ENTRIES]),
    boot_pool: [PmdTables([0; 2 * L2_ENTRIES]); BOOT_PMD_POOL],
    boot_used: 0,
    allocated_pages: 0,
});

/// Errors building the tables.
#[derive(Clone, Copy, Debug)]
pub enum MapError {
    /// No memory for a second-level table.
    NoL2Table,
    /// The address is covered by a section mapping (lowmem), not by a page table.
    SectionInTheWay(u32),
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::NoL2Table => f.write_str("out of memory for a page table"),
            MapError::SectionInTheWay(va) => write!(f, "{va:#010x} is mapped by a section"),
        }
    }
}

/// Where new second-level tables come from: returns the physical address of a zeroed,
/// 2 KiB-aligned block of `PMD_TABLE_BYTES` in lowmem (Linux's `pte_alloc_kernel`).
pub type PteAlloc<'a> = &'a mut dyn FnMut() -> Option<u32>;

fn virt_to_phys_kernel(va: u32) -> u32 {
    (u64::from(va) - PAGE_OFFSET) as u32
}

impl Tables {
    /// The hardware table covering `va`, created (with its PMD partner) if missing.
    fn pte_table(&mut self, va: u32, alloc: PteAlloc<'_>) -> Result<*mut u32, MapError> {
        let idx = (va >> SECTION_SHIFT) as usize;
        if let desc::L1Desc::Fault = desc::decode_l1(self.pgd.0[idx]) {
            let pa = alloc().ok_or(MapError::NoL2Table)?;
            for half in 0..2 {
                let i = (idx & !1) + half;
                if let desc::L1Desc::Fault = desc::decode_l1(self.pgd.0[i]) {
                    let table = pa + (half * L2_ENTRIES * 4) as u32;
                    self.pgd.0[i] = desc::page_table(PhysAddr(table.into()), desc::DOMAIN_KERNEL);
                }
            }
        }
        match desc::decode_l1(self.pgd.0[idx]) {
            desc::L1Desc::PageTable { l2, .. } => {
                crate::kernel::phys_to_virt(l2.0).map(|v| v as *mut u32).ok_or(MapError::NoL2Table)
            }
            _ => Err(MapError::SectionInTheWay(va)),
        }
    }

    /// `pte_table` for run-time mappings: a table taken from `alloc` (the page allocator)
    /// is counted in `allocated_pages`.
    fn pte_table_counted(&mut self, va: u32, alloc: PteAlloc<'_>) -> Result<*mut u32, MapError> {
        let mut taken = false;
        let table = self.pte_table(va, &mut || {
            let table = alloc();
            taken = table.is_some();
            table
        })?;
        if taken {
            self.allocated_pages += 1;
        }
        Ok(table)
    }

    /// Writes the entry for `va` in `table` (from `pte_table`), returning the old one.
    fn write_pte(&mut self, table: *mut u32, va: u32, pte: u32) -> u32 {
        let i = ((va >> PAGE_SHIFT) & 0xff) as usize;
        // SAFETY: `table` is a live second-level table in lowmem (from the boot pool or the
        // page allocator), reached through the linear map, and `&mut self` means TABLES'
        // lock is held.
        unsafe {
            let old = table.add(i).read_volatile();
            table.add(i).write_volatile(pte);
            old
        }
    }

    fn set_pte(&mut self, va: u32, pte: u32, alloc: PteAlloc<'_>) -> Result<u32, MapError> {
        let table = self.pte_table(va, alloc)?;
        Ok(self.write_pte(table, va, pte))
    }

    /// Maps a page during `paging_init`, taking a new table pair from the static pool (the
    /// page allocator does not exist yet).
    fn map_page_boot(&mut self, va: u32, pa: u32, attrs: desc::Attrs) -> Result<(), MapError> {
        let next = self.boot_pool.get_mut(self.boot_used).map(|t| {
            *t = PmdTables([0; 2 * L2_ENTRIES]);
            virt_to_phys_kernel(t as *const _ as u32)
        });
        let mut taken = false;
        self.set_pte(va, desc::small_page(PhysAddr(pa.into()), attrs), &mut || {
            taken = true;
            next
        })?;
        if taken {
            self.boot_used += 1;
        }
        Ok(())
    }

    fn map_section(&mut self, va: u32, pa: u32, attrs: desc::Attrs) {
        self.pgd.0[(va >> SECTION_SHIFT) as usize] = desc::section(PhysAddr(pa.into()), attrs);
    }
}

extern "C" {
    /// The page below the SVC stack (arch/arm/entry.rs), left unmapped.
    static __svc_stack_guard: u8;
}

/// Protection of one page of the kernel image's neighbourhood in lowmem.
fn kernel_page_prot(va: u32) -> desc::Attrs {
    let img = image();
    if (img.text..img.etext).contains(&va) {
        desc::MT_MEMORY_RX
    } else if (img.start_rodata..img.end_rodata).contains(&va) {
        desc::MT_MEMORY_RO
    } else {
        desc::MT_MEMORY_RW
    }
}

/// Builds `swapper_pg_dir` for lowmem `[PAGE_OFFSET, high_memory)`, the vector page and the
/// fixmap device pages, then switches to it. After this, nothing below PAGE_OFFSET is mapped.
///
/// Lowmem maps exactly memblock's mappable memory, as `map_lowmem()` does: holes and NOMAP
/// regions stay unmapped. A section only partly mappable is mapped by pages; when the boot
/// table pool runs out, the whole section is left out and marked NOMAP, so that nothing ever
/// hands out memory the linear map does not reach.
pub fn paging_init(high_memory: u64, memblock: &mut Memblock) -> Result<(), MapError> {
    let img = image();
    let kernel_first = img.text & !(SZ_1M as u32 - 1);
    let kernel_last = img.end - 1;
    let mut t = TABLES.lock();
    t.pgd.0.fill(0);
    t.boot_used = 0;

    let stack_guard = core::ptr::addr_of!(__svc_stack_guard) as u32;
    let mut va = PAGE_OFFSET;
    while va < high_memory {
        let v = va as u32;
        let section_end = va + SZ_1M;
        let pa = u64::from(virt_to_phys_kernel(v));
        let kernel = (kernel_first..=kernel_last).contains(&v);
        let mappable = memblock.map_memory_in(pa, section_end.min(high_memory) - va);
        let needs_pages = kernel || section_end > high_memory || mappable != SZ_1M;
        if mappable == 0 && !kernel {
            // A hole or a NOMAP region: nothing to map.
        } else if needs_pages {
            let mut p = va;
            while p < section_end.min(high_memory) {
                let page_pa = virt_to_phys_kernel(p as u32);
                if p as u32 == stack_guard || !(kernel || memblock.is_map_memory(page_pa.into())) {
                    p += 1 << PAGE_SHIFT;
                    continue;
                }
                match t.map_page_boot(p as u32, page_pa, kernel_page_prot(p as u32)) {
                    Err(MapError::NoL2Table) if !kernel => {
                        let _ = memblock.mark_nomap(pa, SZ_1M);
                        crate::kprintln!(
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
        } else {
            t.map_section(v, virt_to_phys_kernel(v), desc::MT_MEMORY_RW);
        }
        va = section_end;
    }

    let vectors_pa = virt_to_phys_kernel(super::vectors::vectors_page_va());
    t.map_page_boot(VECTORS_BASE as u32, vectors_pa, desc::MT_MEMORY_RX)?;

    for (slot, dev) in FIXMAP_DEVICES {
        t.map_page_boot(fix_to_virt(slot) as u32, (dev.phys() as u32) & !0xfff, desc::MT_DEVICE)?;
    }

    let pgd_pa = virt_to_phys_kernel(&t.pgd as *const _ as u32);
    drop(t);
    cp15::dsb();
    Ttbr0.set(pgd_pa | TTBR_WALK_ATTRS);
    Ttbr1.set(pgd_pa | TTBR_WALK_ATTRS);
    // TTBR0 walks stay enabled: with the 2G split (N = 1) they cover 0-2 GiB, where the
    // modules and pkmap areas live; that half of swapper_pg_dir is empty otherwise, so every
    // other address below PAGE_OFFSET faults.
    Ttbcr.write(TTBCR::N.val(TTBCR_N));
    cp15::local_flush_tlb_all();

    for (slot, dev) in FIXMAP_DEVICES {
        io::set_base(dev, (fix_to_virt(slot) + (dev.phys() & 0xfff)) as usize);
    }
    Sctlr.modify(SCTLR::V::SET);
    cp15::isb();
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
/// `__set_fixmap`), or unmaps it with `attrs = None`, and drops the stale TLB entry. The
/// fixmap's tables exist from boot, so no allocation happens.
pub fn set_fixmap_page(va: u32, pa: u32, attrs: Option<desc::Attrs>) -> Result<(), MapError> {
    let pte = attrs.map_or(0, |a| desc::small_page(PhysAddr(pa.into()), a));
    TABLES.lock().set_pte(va, pte, &mut || None)?;
    cp15::local_flush_tlb_kernel_page(va);
    Ok(())
}

/// Maps one 4 KiB page at a kernel address outside lowmem (vmalloc, ioremap, pkmap),
/// creating its second-level table with `alloc` if needed. A newly valid entry needs no TLB
/// maintenance; the caller flushes when it replaces or removes mappings.
pub fn map_kernel_page(
    va: u32,
    pa: u32,
    attrs: desc::Attrs,
    alloc: PteAlloc<'_>,
) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    let table = t.pte_table_counted(va, alloc)?;
    t.write_pte(table, va, desc::small_page(PhysAddr(pa.into()), attrs));
    cp15::dsb();
    Ok(())
}

/// Creates the second-level table covering `va` now (Linux's `kmap_init` allocates the pkmap
/// table at boot), so later mappings there never allocate.
pub fn prealloc_pte_table(va: u32, alloc: PteAlloc<'_>) -> Result<(), MapError> {
    TABLES.lock().pte_table_counted(va, alloc).map(|_| ())
}

/// Clears the entry for `va` and returns the physical page it mapped (None if none). The TLB
/// is not flushed: batch that with `flush_tlb_kernel_range`.
pub fn unmap_kernel_page(va: u32) -> Option<u32> {
    let old = TABLES.lock().set_pte(va, 0, &mut || None).ok()?;
    match desc::decode_l2(old) {
        desc::L2Desc::SmallPage { pa, .. } => Some(pa.0 as u32),
        _ => None,
    }
}

/// Invalidates the TLB entries of `[start, end)` (Linux's `flush_tlb_kernel_range`), page by
/// page for small ranges and all at once above a threshold.
pub fn flush_tlb_kernel_range(start: u32, end: u32) {
    const FULL_FLUSH_PAGES: u32 = 64;
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

/// The fixmap address `paging_init` mapped a device at.
pub fn fixmap_slot_of(dev: Device) -> u32 {
    FIXMAP_DEVICES.iter().find(|(_, d)| *d == dev).map_or(0, |&(slot, _)| fix_to_virt(slot) as u32)
}

/// Physical address of the live first-level table (TTBR1 holds the kernel's).
pub fn pgd_phys() -> u64 {
    u64::from(Ttbr1.get() & !0x3fff)
}

/// Reads a descriptor at a physical address. Tables live in lowmem, so the linear map
/// reaches them; anything else is not a table pivm built.
pub fn read_phys_word(pa: u64) -> Option<u32> {
    let va = crate::kernel::phys_to_virt(pa)?;
    crate::arch::arm::fault::probe_read_u32(va as u32).ok()
}

/// Linux's `show_pte`: the first- and second-level entries for `addr`.
pub fn show_pte(w: &mut impl Write, addr: u32) {
    let l1_pa = pgd_phys() + u64::from(addr >> SECTION_SHIFT) * 4;
    let Some(l1) = read_phys_word(l1_pa) else {
        let _ = writeln!(w, "[{:08x}] *pgd=????????", addr);
        return;
    };
    let _ = write!(w, "[{:08x}] *pgd={:08x}", addr, l1);
    if let desc::L1Desc::PageTable { l2, .. } = desc::decode_l1(l1) {
        if let Some(pte) = read_phys_word(desc::l2_entry_addr(l2.0, addr)) {
            let _ = write!(w, ", *pte={:08x}", pte);
        }
    }
    let _ = writeln!(w);
}
