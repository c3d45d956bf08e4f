//! Commands that drive the slab allocator: `kmalloc`, `kfree`, `ksize`.
use super::{expect_args, CmdError, CmdResult};
use crate::console::args::{parse_addr, parse_size, Args};
use crate::kernel::mem::{BuddyPages, SLAB};
use crate::kernel::Kernel;
use crate::kprintln;

pub(super) fn cmd_kmalloc(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let size = match parse_size(args.get(1).unwrap_or("")) {
        Ok(s) => s,
        Err(e) => fail!(args, "{}", e),
    };
    let Ok(size) = usize::try_from(size) else { fail!(args, "size {} is too large", size) };
    let mut slab = SLAB.lock();
    match slab.kmalloc(&mut BuddyPages, size) {
        Ok(ptr) => {
            let from = match slab.kmalloc_slab(size).and_then(|id| slab.cache_info(id).ok()) {
                Some(info) => info.name,
                None => "page allocator",
            };
            let usable = slab.ksize(ptr).unwrap_or(0);
            kprintln!("kmalloc({}) = {:#010x} ({}, ksize {})", size, ptr, from, usable);
            Ok(())
        }
        Err(e) => {
            kprintln!("{}", e);
            Err(CmdError::Reported)
        }
    }
}

pub(super) fn cmd_kfree(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let ptr = match parse_addr(args.get(1).unwrap_or("")) {
        Ok(p) => p as usize,
        Err(e) => fail!(args, "{}", e),
    };
    match SLAB.lock().kfree(&mut BuddyPages, ptr) {
        Ok(()) => Ok(()),
        Err(e) => {
            kprintln!("{}", e);
            Err(CmdError::Reported)
        }
    }
}

pub(super) fn cmd_ksize(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let ptr = match parse_addr(args.get(1).unwrap_or("")) {
        Ok(p) => p as usize,
        Err(e) => fail!(args, "{}", e),
    };
    match SLAB.lock().ksize(ptr) {
        Ok(n) => {
            kprintln!("ksize({:#010x}) = {}", ptr, n);
            Ok(())
        }
        Err(e) => {
            kprintln!("{}", e);
            Err(CmdError::Reported)
        }
    }
}
