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
use crate::mm::PhysAddr;
use crate::sizes::SZ_1M;

/// Second-level tables available to the kernel's own mappings (kernel image, vectors,
/// fixmap, a partial last lowmem section). Later the vmalloc area allocates its own.
const L2_POOL: usize = 16;
/// TTBR walk attributes: inner/outer write-back write-allocate, shareable.
const TTBR_WALK_ATTRS: u32 = 0x6A;

#[repr(C, align(16384))]
struct PgDir([u32; L1_ENTRIES]);

#[repr(C, align(1024))]
#[derive(Clone, Copy)]
struct L2Table([u32; L2_ENTRIES]);

struct Tables {
    pgd: PgDir,
    l2: [L2Table; L2_POOL],
    l2_used: usize,
}

/// The kernel's translation tables. Only `paging_init` writes them in this scope.
static TABLES: Mutex<Tables> = Mutex::new(Tables {
    pgd: PgDir([0; L1_ENTRIES]),
    l2: [L2Table([0; L2_ENTRIES]); L2_POOL],
    l2_used: 0,
});

/// Errors building the tables (all mean a broken layout or an exhausted pool).
#[derive(Clone, Copy, Debug)]
pub enum MapError {
    NoL2Table,
    SectionInTheWay(u32),
}

fn virt_to_phys_kernel(va: u32) -> u32 {
    (u64::from(va) - PAGE_OFFSET) as u32
}

impl Tables {
    fn l2_for(&mut self, va: u32) -> Result<&mut L2Table, MapError> {
        let idx = (va >> SECTION_SHIFT) as usize;
        let entry = self.pgd.0[idx];
        let slot = match desc::decode_l1(entry) {
            desc::L1Desc::PageTable { l2, .. } => self
                .l2
                .iter()
                .position(|t| u64::from(virt_to_phys_kernel(t as *const _ as u32)) == l2.0),
            desc::L1Desc::Fault => {
                if self.l2_used == L2_POOL {
                    return Err(MapError::NoL2Table);
                }
                let n = self.l2_used;
                self.l2_used += 1;
                self.l2[n] = L2Table([0; L2_ENTRIES]);
                let pa = virt_to_phys_kernel(&self.l2[n] as *const _ as u32);
                self.pgd.0[idx] = desc::page_table(PhysAddr(pa.into()), desc::DOMAIN_KERNEL);
                Some(n)
            }
            _ => None,
        };
        match slot {
            Some(n) => Ok(&mut self.l2[n]),
            None => Err(MapError::SectionInTheWay(va)),
        }
    }

    fn map_page(&mut self, va: u32, pa: u32, attrs: desc::Attrs) -> Result<(), MapError> {
        let t = self.l2_for(va)?;
        t.0[((va >> PAGE_SHIFT) & 0xff) as usize] = desc::small_page(PhysAddr(pa.into()), attrs);
        Ok(())
    }

    fn map_section(&mut self, va: u32, pa: u32, attrs: desc::Attrs) {
        self.pgd.0[(va >> SECTION_SHIFT) as usize] = desc::section(PhysAddr(pa.into()), attrs);
    }
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
pub fn paging_init(high_memory: u64) -> Result<(), MapError> {
    let img = image();
    let kernel_first = img.text & !(SZ_1M as u32 - 1);
    let kernel_last = img.end - 1;
    let mut t = TABLES.lock();
    t.pgd.0.fill(0);
    t.l2_used = 0;

    let mut va = PAGE_OFFSET;
    while va < high_memory {
        let v = va as u32;
        let section_end = va + SZ_1M;
        let needs_pages = (kernel_first..=kernel_last).contains(&v) || section_end > high_memory;
        if needs_pages {
            let mut p = va;
            while p < section_end.min(high_memory) {
                t.map_page(p as u32, virt_to_phys_kernel(p as u32), kernel_page_prot(p as u32))?;
                p += 1 << PAGE_SHIFT;
            }
        } else {
            t.map_section(v, virt_to_phys_kernel(v), desc::MT_MEMORY_RW);
        }
        va = section_end;
    }

    let vectors_pa = virt_to_phys_kernel(super::vectors::vectors_page_va());
    t.map_page(VECTORS_BASE as u32, vectors_pa, desc::MT_MEMORY_RX)?;

    for (slot, dev) in FIXMAP_DEVICES {
        t.map_page(fix_to_virt(slot) as u32, (dev.phys() as u32) & !0xfff, desc::MT_DEVICE)?;
    }

    let pgd_pa = virt_to_phys_kernel(&t.pgd as *const _ as u32);
    drop(t);
    cp15::dsb();
    Ttbr0.set(pgd_pa | TTBR_WALK_ATTRS);
    Ttbr1.set(pgd_pa | TTBR_WALK_ATTRS);
    // With the 2G split TTBR0 covers only user space: disable its walks altogether.
    let pd0 = if TTBCR_N == 1 { TTBCR::PD0::SET } else { TTBCR::PD0::CLEAR };
    Ttbcr.write(TTBCR::N.val(TTBCR_N) + pd0);
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
/// `__set_fixmap`), or unmaps it with `attrs = None`, and drops the stale TLB entry.
pub fn set_fixmap_page(va: u32, pa: u32, attrs: Option<desc::Attrs>) -> Result<(), MapError> {
    let mut t = TABLES.lock();
    let l2 = t.l2_for(va)?;
    l2.0[((va >> PAGE_SHIFT) & 0xff) as usize] = match attrs {
        Some(a) => desc::small_page(PhysAddr(pa.into()), a),
        None => 0,
    };
    drop(t);
    cp15::local_flush_tlb_kernel_page(va);
    Ok(())
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
