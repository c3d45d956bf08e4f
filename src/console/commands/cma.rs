//! `cma_alloc COUNT [ALIGN]` and `cma_release PFN COUNT`: the CMA area's allocator from the
//! console. The console gives back only ranges it took itself, whole.
use crate::kernel::spinlock::SpinLock;

use super::{CmdError, CmdResult};
use crate::console::args::{parse_u32, parse_u64, Args};
use crate::console::printk::Console;
use crate::kernel::cma::{self, CmaError};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::DEFAULT_COMM;
use crate::mm::Pfn;

/// Largest alignment order: a 2^19-page (2 GiB) boundary is the last that 32-bit physical
/// memory can meet twice.
const CMA_ALIGN_MAX: u32 = 19;
/// Ranges the console holds at once.
const MAX_CONSOLE_RANGES: usize = 64;

/// The ranges `cma_alloc` gave the console: first PFN and pages.
static TAKEN: SpinLock<[Option<(Pfn, u64)>; MAX_CONSOLE_RANGES]> =
    SpinLock::new([None; MAX_CONSOLE_RANGES]);

fn report(args: &Args<'_>, e: CmaError) -> CmdResult {
    match e {
        CmaError::NoArea => {
            fail!(args, "this kernel has no CMA area (profile without one, or cma=0)")
        }
        CmaError::Alloc(e) => kprintln!("{}", e),
        CmaError::Release(e) => kprintln!("{}", e),
        CmaError::Free(e) => {
            let _ = e.write_report(&mut Console, DEFAULT_COMM);
        }
    }
    Err(CmdError::Reported)
}

pub(super) fn cmd_cma_alloc(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(2..=3).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let count = match parse_u64(args.get(1).unwrap_or("")) {
        Ok(c) if c > 0 => c,
        Ok(_) => fail!(args, "COUNT must be at least 1"),
        Err(e) => fail!(args, "{}", e),
    };
    let align = match args.get(2).map(parse_u32) {
        None => 0,
        Some(Ok(a)) if a <= CMA_ALIGN_MAX => a,
        Some(Ok(a)) => fail!(args, "ALIGN {} out of range (an order, 0-{})", a, CMA_ALIGN_MAX),
        Some(Err(e)) => fail!(args, "{}", e),
    };
    let mut taken = TAKEN.lock();
    let Some(slot) = taken.iter_mut().find(|s| s.is_none()) else {
        fail!(args, "the console already holds {} ranges; cma_release one", MAX_CONSOLE_RANGES)
    };
    match cma::cma_alloc(count, align, PageOwner::Cma) {
        Ok(pfn) => {
            *slot = Some((pfn, count));
            kprintln!(
                "cma_alloc: {} pages at pfn {:#x} (phys {:#010x}-{:#010x})",
                count,
                pfn.0,
                pfn.phys().0,
                Pfn(pfn.0 + count).phys().0 - 1
            );
            Ok(())
        }
        Err(e) => report(args, e),
    }
}

pub(super) fn cmd_cma_release(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() != 3 {
        return Err(CmdError::Usage);
    }
    let pfn = match parse_u64(args.get(1).unwrap_or("")) {
        Ok(p) => Pfn(p),
        Err(e) => fail!(args, "{}", e),
    };
    let count = match parse_u64(args.get(2).unwrap_or("")) {
        Ok(c) => c,
        Err(e) => fail!(args, "{}", e),
    };
    let mut taken = TAKEN.lock();
    let Some(slot) = taken.iter_mut().find(|s| **s == Some((pfn, count))) else {
        fail!(args, "pfn {:#x} count {} is no range the console took with cma_alloc", pfn.0, count)
    };
    match cma::cma_release(pfn, count, PageOwner::Cma) {
        Ok(()) => {
            *slot = None;
            kprintln!("cma_release: {} pages at pfn {:#x}", count, pfn.0);
            Ok(())
        }
        Err(e) => report(args, e),
    }
}
