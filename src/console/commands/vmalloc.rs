//! Commands for kernel virtual memory: `vmalloc`, `vfree`, `vmalloc_fill`, `purge`,
//! `ioremap`, `iounmap`, `kmap`, `kunmap`, and `poke`/`touch` to use the memory they return.
use spin::Mutex;

use super::{arg_addr, arg_pfn, expect_args, refuse_read_sensitive, CmdError, CmdResult, FORCE};
use crate::arch::arm::fault;
use crate::console::args::{parse_size, parse_u64, Args};
use crate::console::Count;
use crate::kernel::vmalloc::{self, VmallocError};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::PAGE_SIZE;

/// The caller name /proc/vmallocinfo shows for areas made at the console.
const CONSOLE_CALLER: &str = "pivm::console::vmalloc";
/// The caller name of `vmalloc_fill`'s areas, so that `vmalloc_fill free` frees only those.
const FILL_CALLER: &str = "pivm::console::vmalloc_fill";
/// Most areas `vmalloc_fill` keeps (the vmap allocator holds 4096).
const FILL_MAX: usize = 4096;

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
    let va = vmalloc::vmalloc(size, CONSOLE_CALLER).map_err(report)?;
    kprintln!("vmalloc({}) = {:#010x}", size, va);
    Ok(())
}

pub(super) fn cmd_vfree(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    vmalloc::vfree(u64::from(arg_addr(args, 1)?)).map_err(report)
}

/// Addresses `vmalloc_fill` allocated, so that `vmalloc_fill free` can give them back.
static FILLED: Mutex<([u32; FILL_MAX], usize)> = Mutex::new(([0; FILL_MAX], 0));

/// `vmalloc_fill SIZE`: allocates SIZE-byte areas until the range is full and reports how far
/// it got; `vmalloc_fill free` frees them again.
pub(super) fn cmd_vmalloc_fill(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let mut filled = FILLED.lock();
    if args.get(1) == Some("free") {
        let mut n = 0;
        for &va in &filled.0[..filled.1] {
            // Only areas this command still owns: one freed by hand may have been reused.
            if vmalloc::live_area_caller(u64::from(va)) == Some(FILL_CALLER) {
                n += usize::from(vmalloc::vfree(u64::from(va)).is_ok());
            }
        }
        filled.1 = 0;
        kprintln!("vmalloc_fill: freed {}", Count(n, "area"));
        return Ok(());
    }
    let size = size_arg(args, 1)?;
    let (mut first, mut last) = (None, 0u64);
    let mut interrupted = false;
    let error = loop {
        if filled.1 == FILL_MAX {
            break None;
        }
        if crate::console::interrupted() {
            interrupted = true;
            break None;
        }
        match vmalloc::vmalloc(size, FILL_CALLER) {
            Ok(va) => {
                let n = filled.1;
                filled.0[n] = va as u32;
                filled.1 += 1;
                first.get_or_insert(va);
                last = va;
            }
            Err(e) => break Some(e),
        }
    };
    let n = filled.1;
    match first {
        Some(f) => kprintln!(
            "vmalloc_fill: {} of {}, {:#010x}-{:#010x} (free them with 'vmalloc_fill free')",
            Count(n, "area"),
            Count(size, "byte"),
            f,
            last + size
        ),
        None if !interrupted => kprintln!("vmalloc_fill: no area of {} fits", Count(size, "byte")),
        None => {}
    }
    match error {
        Some(e) => {
            crate::kprint!("vmalloc_fill: stopped by: ");
            vmalloc::report(&e);
        }
        None if interrupted => kprintln!(
            "vmalloc_fill: interrupted; what it allocated stays until 'vmalloc_fill free'"
        ),
        None if n == FILL_MAX => kprintln!("vmalloc_fill: stopped at {} areas", FILL_MAX),
        None => {}
    }
    Ok(())
}

pub(super) fn cmd_purge(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!("purge: {} returned", Count(vmalloc::purge(), "lazily freed area"));
    Ok(())
}

pub(super) fn cmd_ioremap(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 3)?;
    let phys = u64::from(arg_addr(args, 1)?);
    let size = size_arg(args, 2)?;
    if size == 0 || phys.checked_add(size).is_none_or(|e| e > 1 << 32) {
        fail!(args, "size {} at {:#x} is empty or runs past 4 GiB", size, phys);
    }
    let va = vmalloc::ioremap(phys, size, CONSOLE_CALLER).map_err(report)?;
    kprintln!("ioremap({:#010x}, {}) = {:#010x}", phys, size, va);
    Ok(())
}

pub(super) fn cmd_iounmap(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    vmalloc::iounmap(u64::from(arg_addr(args, 1)?)).map_err(report)
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
    if let Err(f) = fault::probe_write_u32(addr, value) {
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
    let _ = PAGE_SIZE;
    Ok(())
}
