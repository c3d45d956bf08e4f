//! Commands that look at address translation: the layout banner, `v2p`/`p2v`, table walks,
//! the ptdump of the kernel's mappings and `peek`.

use super::{arg_addr, expect_args, refuse_read_sensitive, CmdError, CmdResult, FORCE};
#[cfg(not(target_arch = "aarch64"))]
use crate::arch::image::image;
use crate::arch::{fault, mmu};
#[cfg(not(target_arch = "aarch64"))]
use crate::config::PAGE_OFFSET;
use crate::console::args::{parse_u32, Addr, Args};
use crate::console::printk::Console;
use crate::kernel::Kernel;
use crate::kprintln;
#[cfg(not(target_arch = "aarch64"))]
use crate::mm::{PhysAddr, VirtAddr};

/// Most words `peek` prints at once.
const PEEK_MAX: u32 = 64;

#[cfg(not(target_arch = "aarch64"))]
pub(super) fn cmd_layout(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let _ = crate::arch::layout::write_banner(&mut Console, &k.layout, &kernel_sections());
    let _ = crate::arch::layout::write_partition(&mut Console, &k.layout);
    Ok(())
}

/// The arm64 layout banner (4.15's format, labelled as pivm's), with the image's live
/// section boundaries and where `mem_map` really is.
#[cfg(target_arch = "aarch64")]
pub(super) fn cmd_layout(k: &Kernel, args: &Args<'_>) -> CmdResult {
    use crate::arch::layout::{write_banner, MemMapRange};
    expect_args(args, 1)?;
    let mm = crate::kernel::mem::mem_map_range().map(|(start, end)| MemMapRange { start, end });
    let _ = write_banner(&mut Console, &k.layout, &crate::arch::image::sections(), mm);
    Ok(())
}

/// The image's sections as the banner wants them.
#[cfg(not(target_arch = "aarch64"))]
pub fn kernel_sections() -> crate::arch::layout::KernelSections {
    let img = image();
    let v = |va: usize| va as u64;
    crate::arch::layout::KernelSections {
        text: (v(img.text), v(img.etext)),
        init: (v(img.etext), v(img.etext)),
        data: (v(img.sdata), v(img.edata)),
        bss: (v(img.bss_start), v(img.bss_stop)),
    }
}

#[cfg(not(target_arch = "aarch64"))]
/// Whether the linear map maps `pa`: memblock's memory below the lowmem limit, and the kernel
/// image wherever it is (`map_lowmem()` maps only memblock memory; `map_kernel()` the image).
fn linear_mapped(k: &Kernel, pa: u64) -> bool {
    let img = image();
    let image = img.text as u64 - PAGE_OFFSET..img.end as u64 - PAGE_OFFSET;
    k.memblock.is_memory(pa) || image.contains(&pa)
}

#[cfg(not(target_arch = "aarch64"))]
pub(super) fn cmd_v2p(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let va = arg_addr(args, 1)?;
    match k.layout.virt_to_phys(VirtAddr(va as usize)) {
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

#[cfg(not(target_arch = "aarch64"))]
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

/// `virt_to_phys` on arm64's linear map (all of RAM: there is no highmem).
#[cfg(target_arch = "aarch64")]
pub(super) fn cmd_v2p(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let va = arg_addr(args, 1)?;
    let l = &k.layout;
    match l.virt_to_phys(va) {
        Some(pa) if !k.memblock.is_memory(pa) => fail!(
            args,
            "{:#018x} would be phys {:#x}, which is not memblock memory: not mapped",
            va,
            pa
        ),
        Some(pa) => kprintln!("virt {:#018x} -> phys {:#x}", va, pa),
        None => fail!(
            args,
            "{:#x} is not in the linear map of RAM [{:#018x}-{:#018x})",
            va,
            l.phys_to_virt(l.ram_start).unwrap_or(l.page_offset),
            l.high_memory
        ),
    }
    Ok(())
}

/// `phys_to_virt` on arm64's linear map.
#[cfg(target_arch = "aarch64")]
pub(super) fn cmd_p2v(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let pa = arg_addr(args, 1)?;
    match k.layout.phys_to_virt(pa) {
        Some(_) if !k.memblock.is_memory(pa) => fail!(
            args,
            "{:#x} is not memblock memory (left out by mem= or a hole): not in the linear map",
            pa
        ),
        Some(va) => kprintln!("phys {:#x} -> virt {:#018x}", pa, va),
        None => {
            fail!(args, "{:#x} is not RAM [{:#x}-{:#x})", pa, k.layout.ram_start, k.layout.ram_end)
        }
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

pub(super) fn cmd_pt(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(2..=3).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let va = arg_addr(args, 1)?;
    if args.len() == 3 {
        // `pt VA PID`: the walk of a process's own table (the console runs on the kernel's).
        let (pid, pgd) = process_pgd(args, 2)?;
        kprintln!("pid {} pgd {:#010x}", pid, pgd);
        let _ = mmu::write_translation_in(&mut Console, pgd, va as usize);
        return Ok(());
    }
    // Linux's show_pte line first (`*pgd`, `*pte` and `*ppte` as an oops prints them), then
    // the MMU's own translation, the registers and the software walk.
    mmu::show_pte(&mut Console, va as usize);
    let _ = mmu::write_translation(&mut Console, va as usize);
    Ok(())
}

pub(super) fn cmd_ptdump(k: &Kernel, args: &Args<'_>) -> CmdResult {
    match args.len() {
        1 => {
            let _ = mmu::dump_kernel_page_tables(&mut Console, &k.layout);
        }
        2 => {
            let (_, pgd) = process_pgd(args, 1)?;
            let _ = mmu::dump_user_page_tables(&mut Console, pgd, &k.layout);
        }
        _ => return Err(CmdError::Usage),
    }
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
    if addr.checked_add(Addr::from(4 * count - 1)).is_none() {
        fail!(args, "address range wraps past {:#x}", Addr::MAX);
    }
    if !forced {
        refuse_read_sensitive(args, addr, 4 * count)?;
    }
    for a in (0..count).map(|i| addr + Addr::from(4 * i)) {
        match fault::probe_read_u32(a as usize) {
            Ok(v) => kprintln!("{:#010x}: {:08x}", a, v),
            Err(f) => fail!(args, "{:#010x}: {}", a, f),
        }
    }
    Ok(())
}
