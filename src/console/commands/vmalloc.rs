//! Commands for kernel virtual memory: `vmalloc`, `vfree`, `vmalloc_fill`, `purge`,
//! `ioremap`, `iounmap`, `kmap`, `kunmap`, and `poke`/`touch` to use the memory they return.
use alloc::vec::Vec;

use crate::kernel::spinlock::Mutex;

use super::{arg_addr, arg_pfn, expect_args, refuse_read_sensitive, CmdError, CmdResult, FORCE};
use crate::arch::fault;
use crate::console::args::{addr_u64, parse_size, parse_u64, Args};
use crate::console::Count;
use crate::kernel::vmalloc::{self, KernelSymbols, VmallocError};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::vmap::Caller;
use crate::mm::PAGE_SIZE;

/// The caller /proc/vmallocinfo shows for `vmalloc` areas made at the console.
fn vmalloc_caller() -> Caller {
    Caller::Code(cmd_vmalloc as *const () as usize)
}

/// The caller of `ioremap`s made at the console.
fn ioremap_caller() -> Caller {
    Caller::Code(cmd_ioremap as *const () as usize)
}

/// The caller of `vmalloc_fill`'s areas, so that `vmalloc_fill free` frees only those.
fn fill_caller() -> Caller {
    Caller::Code(cmd_vmalloc_fill as *const () as usize)
}

fn size_arg(args: &Args<'_>, i: usize) -> Result<u64, CmdError> {
    match parse_size(args.get(i).unwrap_or("")) {
        Ok(s) => Ok(s),
        Err(e) => fail!(args, "{}", e),
    }
}

fn report(e: VmallocError) -> CmdError {
    vmalloc::report(&e);
    CmdError::Reported
}

pub(super) fn cmd_vmalloc(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let size = size_arg(args, 1)?;
    let va = vmalloc::vmalloc(size, vmalloc_caller()).map_err(report)?;
    kprintln!("vmalloc({}) = {:#010x}", size, va);
    Ok(())
}

/// Refuses to free a live area the console did not make (16.2): the kernel's own device
/// mappings, a `pages[]` array, anything another part of the kernel allocated. Whether the
/// area is of the right kind is `vfree`/`iounmap`'s to say.
fn check_console_owns(args: &Args<'_>, addr: u64) -> CmdResult {
    let Some(owner) = vmalloc::area_owner(addr) else { return Ok(()) };
    if let Some(of) = owner.pages_array_of {
        fail!(args, "{:#010x} holds the pages array of the area at {:#010x}", owner.start, of);
    }
    if ![vmalloc_caller(), fill_caller(), ioremap_caller()].contains(&owner.caller) {
        let syms = KernelSymbols::new();
        fail!(args, "{:#010x} belongs to {}", owner.start, owner.caller.display(&syms));
    }
    Ok(())
}

pub(super) fn cmd_vfree(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let addr = addr_u64(arg_addr(args, 1)?);
    if addr.is_multiple_of(PAGE_SIZE) {
        check_console_owns(args, addr)?;
    }
    vmalloc::vfree(addr).map_err(report)
}

/// Addresses `vmalloc_fill` allocated, so that `vmalloc_fill free` can give them back. A
/// mutex: the fill allocates (`vmalloc`, `GFP_KERNEL`) while holding it.
static FILLED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// Most areas `vmalloc_fill` keeps at once: the command's own limit, so that a fill with a
/// tiny size stays quick and its /proc/vmallocinfo readable (the allocator has none).
const FILL_MAX: usize = 4096;

/// `vmalloc_fill SIZE`: allocates SIZE-byte areas until vmalloc fails and reports how many
/// this call made and the span they cover; `vmalloc_fill free` frees every one still live.
pub(super) fn cmd_vmalloc_fill(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let mut filled = FILLED.lock();
    if args.get(1) == Some("free") {
        let mut n = 0;
        for &va in filled.iter() {
            // Only areas this command still owns: one freed by hand may have been reused.
            if vmalloc::area_owner(va).is_some_and(|o| o.start == va && o.caller == fill_caller()) {
                n += u64::from(vmalloc::vfree(va).is_ok());
            }
        }
        filled.clear();
        kprintln!("vmalloc_fill: freed {}", Count(n, "area"));
        return Ok(());
    }
    let size = size_arg(args, 1)?;
    // This call's areas: how many, the lowest start and the highest end.
    let (mut n, mut lowest, mut highest) = (0u64, u64::MAX, 0u64);
    let mut interrupted = false;
    let stop = loop {
        if filled.len() == FILL_MAX || filled.try_reserve(1).is_err() {
            break None;
        }
        if crate::console::interrupted() {
            interrupted = true;
            break None;
        }
        match vmalloc::vmalloc(size, fill_caller()) {
            Ok(va) => {
                filled.push(va);
                n += 1;
                lowest = lowest.min(va);
                highest = highest.max(va + size);
            }
            Err(e) => break Some(e),
        }
    };
    if n == 0 {
        if !interrupted {
            kprintln!("vmalloc_fill: no area of {} fits", Count(size, "byte"));
        }
    } else {
        kprintln!(
            "vmalloc_fill: {} of {}, {:#010x}-{:#010x} (free them with 'vmalloc_fill free')",
            Count(n, "area"),
            Count(size, "byte"),
            lowest,
            highest
        );
    }
    match stop {
        Some(e) => {
            crate::kprint!("vmalloc_fill: stopped by: ");
            vmalloc::report(&e);
        }
        None if interrupted => kprintln!(
            "vmalloc_fill: interrupted; what it allocated stays until 'vmalloc_fill free'"
        ),
        None if filled.len() == FILL_MAX => kprintln!(
            "vmalloc_fill: stopped at {} areas, the most it keeps ('vmalloc_fill free' them)",
            FILL_MAX
        ),
        None => kprintln!("vmalloc_fill: stopped: no memory to record more areas"),
    }
    Ok(())
}

/// `purge`: returns the lazily freed ranges now and shows the one TLB flush it cost, and the
/// flushes the vmap layer made since boot (one per purge, none per `vfree`).
pub(super) fn cmd_purge(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let (p, stats) = vmalloc::purge();
    match p {
        Some(p) => kprintln!(
            "purge: {} returned in {} ({}), 1 TLB flush {:#010x}-{:#010x} ({} since boot)",
            Count(p.nr_areas, "lazily freed area"),
            Count(p.nr_ranges, "range"),
            Count(p.nr_pages, "page"),
            p.start,
            p.end,
            stats.nr_tlb_flushes
        ),
        None => kprintln!(
            "purge: nothing lazily freed, no TLB flush ({} since boot)",
            stats.nr_tlb_flushes
        ),
    }
    Ok(())
}

pub(super) fn cmd_ioremap(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 3)?;
    let phys = addr_u64(arg_addr(args, 1)?);
    let size = size_arg(args, 2)?;
    let va = vmalloc::ioremap(phys, size, ioremap_caller()).map_err(report)?;
    kprintln!("ioremap({:#010x}, {}) = {:#010x}", phys, size, va);
    Ok(())
}

pub(super) fn cmd_iounmap(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let addr = addr_u64(arg_addr(args, 1)?);
    check_console_owns(args, addr)?;
    vmalloc::iounmap(addr).map_err(report)
}

pub(super) fn cmd_kmap(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let pfn = arg_pfn(args, 1)?;
    if !k.memblock.is_memory(pfn.phys().0) {
        fail!(args, "pfn {:#x} is not RAM", pfn.0);
    }
    match vmalloc::kmap(pfn) {
        Ok(va) => {
            kprintln!("kmap(pfn {:#x}) = {:#010x}", pfn.0, va);
            Ok(())
        }
        Err(e) => {
            // KmapError's text already starts with "kmap: ".
            kprintln!("{}", e);
            Err(CmdError::Reported)
        }
    }
}

pub(super) fn cmd_kunmap(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let pfn = arg_pfn(args, 1)?;
    match vmalloc::kunmap(pfn) {
        Ok(Some(users)) => {
            kprintln!("kunmap(pfn {:#x}): {} left", pfn.0, Count(users, "user"));
            Ok(())
        }
        Ok(None) => {
            kprintln!("kunmap(pfn {:#x}): lowmem page, nothing to unmap", pfn.0);
            Ok(())
        }
        Err(e) => {
            kprintln!("{}", e);
            Err(CmdError::Reported)
        }
    }
}

/// `poke ADDR VALUE`: writes a word; a fault is reported through the exception table.
pub(super) fn cmd_poke(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 3)?;
    let addr = arg_addr(args, 1)?;
    let value = match parse_u64(args.get(2).unwrap_or("")) {
        Ok(v) if v <= u64::from(u32::MAX) => v as u32,
        Ok(v) => fail!(args, "value {:#x} does not fit a 32-bit word", v),
        Err(e) => fail!(args, "{}", e),
    };
    if addr % 4 != 0 {
        fail!(args, "{:#010x}: address must be 4-byte aligned", addr);
    }
    if let Err(f) = fault::probe_write_u32(addr as usize, value) {
        fail!(args, "{:#010x}: {}", addr, f);
    }
    Ok(())
}

/// `touch ADDR`: reads one byte the way ordinary kernel code does, with no exception-table
/// entry, so a bad address oopses like a real kernel bug (e.g. one byte past a vmalloc area).
pub(super) fn cmd_touch(_: &Kernel, args: &Args<'_>) -> CmdResult {
    let forced = args.get(1) == Some(FORCE);
    expect_args(args, 2 + usize::from(forced))?;
    let addr = arg_addr(args, 1 + usize::from(forced))?;
    if !forced {
        refuse_read_sensitive(args, addr, 1)?;
    }
    // SAFETY: deliberately unchecked: a fault here is an oops, which is the point.
    let v = unsafe { core::ptr::read_volatile(addr as usize as *const u8) };
    kprintln!("{:#010x}: {:02x}", addr, v);
    Ok(())
}
