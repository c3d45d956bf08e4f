//! Commands that drive the slab allocator: `kmalloc`, `kfree`, `ksize`.
use alloc::collections::BTreeSet;

use crate::kernel::spinlock::SpinLock;

use super::{expect_args, CmdError, CmdResult};
use crate::console::args::{parse_addr, parse_size, Args};
use crate::kernel::mem::{alloc_reclaiming, BuddyPages, SLAB};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::slab::{get_order, SlabError, ZERO_SIZE_PTR};

/// The objects the console's `kmalloc` gave out and `kfree` has not freed: a live object the
/// kernel allocated is refused (as `vfree` refuses areas the console did not make), so a
/// typed address cannot free a driver's or an allocator's own data.
static CONSOLE_OBJECTS: SpinLock<BTreeSet<usize>> = SpinLock::new(BTreeSet::new());

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
    // kmalloc(size, GFP_KERNEL) from the console, which holds no lock: out of memory at the
    // watermark, it reclaims and tries again (`alloc_reclaiming`), as 6.1's slow path does.
    let first = SLAB.lock().kmalloc(&mut BuddyPages, size);
    let ptr = match first {
        Ok(p) => p,
        Err(e @ SlabError::NoMemory { .. }) => {
            let again = alloc_reclaiming(GfpFlags::GFP_KERNEL, || {
                SLAB.lock().kmalloc(&mut BuddyPages, size).ok()
            });
            match again {
                Some(p) => p,
                None => return report(e),
            }
        }
        Err(e) => return report(e),
    };
    let slab = SLAB.lock();
    if ptr == ZERO_SIZE_PTR {
        kprintln!("kmalloc({}) = {:#010x} (ZERO_SIZE_PTR, ksize 0)", size, ptr);
        return Ok(());
    }
    let usable = slab.ksize(&BuddyPages, ptr).unwrap_or(0);
    let cache = slab.kmalloc_slab(size).and_then(|id| slab.cache_info(id).ok());
    // The set allocates from the slab too: only once the lock is dropped.
    drop(slab);
    CONSOLE_OBJECTS.lock().insert(ptr);
    match cache {
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
    let live = ptr > ZERO_SIZE_PTR && SLAB.lock().ksize(&BuddyPages, ptr).is_ok();
    if live && !CONSOLE_OBJECTS.lock().contains(&ptr) {
        fail!(args, "{:#010x} is a live object the kernel allocated, not the console", ptr);
    }
    SLAB.lock().kfree_checked(&mut BuddyPages, ptr).or_else(report)?;
    // Removing may free the set's memory through the slab: not under its lock.
    CONSOLE_OBJECTS.lock().remove(&ptr);
    Ok(())
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
