//! Commands that drive the slab allocator: `kmalloc`, `kfree`, `ksize`.
use super::{expect_args, CmdError, CmdResult};
use crate::console::args::{parse_addr, parse_size, Args};
use crate::kernel::mem::{BuddyPages, SLAB};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::slab::{get_order, SlabError, ZERO_SIZE_PTR};

fn report(e: SlabError) -> CmdResult {
    kprintln!("{}", e);
    Err(CmdError::Reported)
}

pub(super) fn cmd_kmalloc(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let size = match parse_size(args.get(1).unwrap_or("")) {
        Ok(s) => s,
        Err(e) => fail!(args, "{}", e),
    };
    let Ok(size) = usize::try_from(size) else { fail!(args, "size {} is too large", size) };
    let mut slab = SLAB.lock();
    let ptr = match slab.kmalloc(&mut BuddyPages, size) {
        Ok(p) => p,
        Err(e) => return report(e),
    };
    if ptr == ZERO_SIZE_PTR {
        kprintln!("kmalloc({}) = {:#010x} (ZERO_SIZE_PTR, ksize 0)", size, ptr);
        return Ok(());
    }
    let usable = slab.ksize(&BuddyPages, ptr).unwrap_or(0);
    match slab.kmalloc_slab(size).and_then(|id| slab.cache_info(id).ok()) {
        Some(info) => {
            kprintln!("kmalloc({}) = {:#010x} ({}, ksize {})", size, ptr, info.name, usable)
        }
        None => kprintln!(
            "kmalloc({}) = {:#010x} (kmalloc_large order {}, ksize {})",
            size,
            ptr,
            get_order(size),
            usable
        ),
    }
    Ok(())
}

pub(super) fn cmd_kfree(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let ptr = match parse_addr(args.get(1).unwrap_or("")) {
        Ok(p) => p as usize,
        Err(e) => fail!(args, "{}", e),
    };
    SLAB.lock().kfree_checked(&mut BuddyPages, ptr).or_else(report)
}

pub(super) fn cmd_ksize(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let ptr = match parse_addr(args.get(1).unwrap_or("")) {
        Ok(p) => p as usize,
        Err(e) => fail!(args, "{}", e),
    };
    match SLAB.lock().ksize(&BuddyPages, ptr) {
        Ok(n) => {
            kprintln!("ksize({:#010x}) = {}", ptr, n);
            Ok(())
        }
        Err(e) => report(e),
    }
}
