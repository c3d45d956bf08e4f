//! Commands that look at address translation: the layout banner, `v2p`/`p2v`, table walks,
//! the ptdump of the kernel's mappings and `peek`.
use core::fmt::Write;

use tock_registers::interfaces::Readable;

use super::{arg_addr, expect_args, refuse_read_sensitive, CmdError, CmdResult, FORCE};
use crate::arch::arm::{cp15, desc, fault, mmu};
use crate::config::PAGE_OFFSET;
use crate::console::args::{parse_u32, Args};
use crate::console::printk::Console;
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::{PhysAddr, VirtAddr, PAGE_SIZE};

/// Most words `peek` prints at once.
const PEEK_MAX: u32 = 64;

pub(super) fn cmd_layout(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let _ = crate::mm::layout::write_banner(&mut Console, &k.layout, &kernel_sections());
    let _ = crate::mm::profile::write_partition(&mut Console, &k.layout);
    Ok(())
}

/// The image's sections as the banner wants them.
pub fn kernel_sections() -> crate::mm::layout::KernelSections {
    let img = crate::arch::arm::image::image();
    let v = u64::from;
    crate::mm::layout::KernelSections {
        text: (v(img.text), v(img.etext)),
        init: (v(img.etext), v(img.etext)),
        data: (v(img.sdata), v(img.edata)),
        bss: (v(img.bss_start), v(img.bss_stop)),
    }
}

/// Whether the linear map maps `pa`: memblock's memory below the lowmem limit, and the kernel
/// image wherever it is (`map_lowmem()` maps only memblock memory; `map_kernel()` the image).
fn linear_mapped(k: &Kernel, pa: u64) -> bool {
    let img = crate::arch::arm::image::image();
    let image = u64::from(img.text) - PAGE_OFFSET..u64::from(img.end) - PAGE_OFFSET;
    k.memblock.is_memory(pa) || image.contains(&pa)
}

pub(super) fn cmd_v2p(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let va = arg_addr(args, 1)?;
    match k.layout.virt_to_phys(VirtAddr(u64::from(va))) {
        Some(pa) if !linear_mapped(k, pa.0) => fail!(
            args,
            "{:#010x} would be phys {:#010x}, which is not memblock memory: not mapped",
            va,
            pa.0
        ),
        Some(pa) => kprintln!("virt {:#010x} -> phys {:#010x}", va, pa.0),
        None => fail!(
            args,
            "{:#010x} is not in lowmem [{:#010x}-{:#010x})",
            va,
            k.layout.page_offset.0,
            k.layout.high_memory.0
        ),
    }
    Ok(())
}

pub(super) fn cmd_p2v(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let pa = arg_addr(args, 1)?;
    match k.layout.phys_to_virt(PhysAddr(u64::from(pa))) {
        Some(_) if !linear_mapped(k, pa.into()) => fail!(
            args,
            "{:#010x} is not memblock memory (left out by mem= or a hole): not in the linear map",
            pa
        ),
        Some(va) => kprintln!("phys {:#010x} -> virt {:#010x}", pa, va.0),
        None => fail!(
            args,
            "{:#010x} is not lowmem RAM [{:#010x}-{:#010x})",
            pa,
            k.layout.ram_start.0,
            k.layout.arm_lowmem_limit.0
        ),
    }
    Ok(())
}

/// The first-level table of process `PID` (argument `i`), refused cleanly for a PID that is
/// not a live process with an address space.
fn process_pgd(args: &Args<'_>, i: usize) -> Result<(u32, u64), CmdError> {
    let pid = match parse_u32(args.get(i).unwrap_or("")) {
        Ok(p) => p,
        Err(e) => fail!(args, "{}", e),
    };
    if pid == 0 {
        fail!(args, "0 is the console: it runs on the kernel's tables (no PID)");
    }
    let pgd = crate::kernel::process::with_tasks(|t| {
        t.map.get(&pid).map(|x| x.mm.as_ref().map(|m| m.hw.pgd))
    });
    match pgd {
        None => fail!(args, "{}: No such process", pid),
        Some(None) => fail!(args, "{}: the process has no address space (exited)", pid),
        Some(Some(pgd)) => Ok((pid, pgd)),
    }
}

/// `pt VA PID`: the walk of `VA` in a process's own table (the console runs on the kernel's,
/// so the hardware's ATS1CPR would answer for another table and is not asked).
fn cmd_pt_process(args: &Args<'_>, va: u32) -> CmdResult {
    let (pid, pgd) = process_pgd(args, 2)?;
    kprintln!("pid {} pgd {:#010x}", pid, pgd);
    let _ = crate::arch::arm::pgtable::write_show_pte(&mut Console, pgd, va, mmu::read_phys_word);
    let walk = desc::walk(pgd, 0, va, mmu::read_phys_word);
    let _ = write!(Console, "{}", walk);
    Ok(())
}

pub(super) fn cmd_pt(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(2..=3).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let va = arg_addr(args, 1)?;
    if args.len() == 3 {
        return cmd_pt_process(args, va);
    }
    // Linux's show_pte line first (`*pgd`, `*pte` and `*ppte` as an oops prints them).
    mmu::show_pte(&mut Console, va);
    // With TTBCR.N = 0 the MMU walks TTBR0's full table for every address.
    let walk = desc::walk(mmu::pgd_phys(), 0, va, mmu::read_phys_word);
    // The MMU's own answer first, so the software walk's result is the last line.
    let par = cp15::ats1cpr(va);
    if par & 1 == 0 {
        kprintln!("ATS1CPR (hardware): PA {:#010x}", (par & !0xfff) | (va & 0xfff));
    } else {
        kprintln!("ATS1CPR (hardware): fault, PAR {:#010x}", par);
    }
    // The registers the walk depends on (pivm's addition; Linux has no such line).
    kprintln!(
        "MMU: SCTLR {:08x} TTBCR {:08x} TTBR0 {:08x} TTBR1 {:08x} DACR {:08x}",
        cp15::Sctlr.get(),
        cp15::Ttbcr.get(),
        cp15::Ttbr0.get(),
        cp15::Ttbr1.get(),
        cp15::Dacr.get()
    );
    let _ = write!(Console, "{}", walk);
    Ok(())
}

pub(super) fn cmd_ptdump(k: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(1..=2).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let (table, user) = match args.len() {
        2 => (process_pgd(args, 1)?.1, true),
        _ => (mmu::pgd_phys(), false),
    };
    let l = &k.layout;
    let marker = |start: u64, name| desc::AddrMarker { start, name };
    // Linux 6.1's address_markers (arch/arm/mm/dump.c; the FDT area starts at VMALLOC_END),
    // plus pivm's own marker for the pkmap area.
    let pkmap = l.pkmap_base.unwrap_or(l.modules_end);
    // A process's dump starts with its own half (pivm's marker; Linux dumps only the kernel's).
    let user_marker = [marker(0, "User Space")];
    let kernel_markers = [
        marker(l.modules_vaddr.0, "Modules"),
        marker(pkmap.0, "Persistent Kernel Mappings"),
        marker(l.page_offset.0, "Kernel Mapping"),
        marker(l.vmalloc_start.0, "vmalloc() Area"),
        marker(l.vmalloc_end.0, "FDT Area"),
        marker(l.fixaddr_start.0, "Fixmap Area"),
        marker(l.vectors_base.0, "Vectors"),
        marker(l.vectors_base.0 + 2 * PAGE_SIZE, "Vectors End"),
    ];
    let markers: alloc::vec::Vec<desc::AddrMarker<'_>> =
        user_marker.iter().filter(|_| user).chain(kernel_markers.iter()).copied().collect();
    let _ = desc::ptdump(&mut Console, table, 0, &markers, mmu::read_phys_word);
    Ok(())
}

pub(super) fn cmd_peek(_: &Kernel, args: &Args<'_>) -> CmdResult {
    // `peek -f ADDR` reads a register even if reading it has a side effect.
    let forced = args.get(1) == Some(FORCE);
    let first = 1 + usize::from(forced);
    if !(first + 1..=first + 2).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let addr = arg_addr(args, first)?;
    let count = match args.get(first + 1) {
        None => 1,
        Some(s) => match parse_u32(s) {
            Ok(n) if (1..=PEEK_MAX).contains(&n) => n,
            Ok(n) => fail!(args, "count {} out of range (1-{})", n, PEEK_MAX),
            Err(e) => fail!(args, "{}", e),
        },
    };
    if addr % 4 != 0 {
        fail!(args, "{:#010x}: address must be 4-byte aligned", addr);
    }
    if addr.checked_add(4 * count - 1).is_none() {
        fail!(args, "address range wraps past 0xffffffff");
    }
    if !forced {
        refuse_read_sensitive(args, addr, 4 * count)?;
    }
    for a in (0..count).map(|i| addr + 4 * i) {
        match fault::probe_read_u32(a) {
            Ok(v) => kprintln!("{:#010x}: {:08x}", a, v),
            Err(f) => fail!(args, "{:#010x}: {}", a, f),
        }
    }
    Ok(())
}
