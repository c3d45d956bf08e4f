//! The AArch64 CPU's counter and data-cache maintenance by virtual address (arm64's
//! `dcache_clean_poc` / `dcache_inval_poc`), under the names the 32-bit ARM facade gives them.
use core::arch::asm;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{Readable, CNTFRQ_EL0, CNTPCT_EL0};

/// The generic timer's frequency (CNTFRQ_EL0).
pub fn counter_frequency() -> u32 {
    CNTFRQ_EL0.get() as u32
}

/// The generic timer's physical count (CNTPCT_EL0), after an ISB.
pub fn read_counter() -> u64 {
    barrier::isb(barrier::SY);
    CNTPCT_EL0.get()
}

/// CTR_EL0, the cache type register.
fn ctr_el0() -> u64 {
    let ctr: u64;
    // SAFETY: reads CTR_EL0 (aarch64-cpu has no accessor for it).
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    ctr
}

/// The smallest data-cache line (CTR_EL0.DminLine, log2 of words).
fn dcache_line_size() -> usize {
    4 << ((ctr_el0() >> 16) & 0xf)
}

/// The smallest instruction-cache line (CTR_EL0.IminLine, log2 of words).
fn icache_line_size() -> usize {
    4 << (ctr_el0() & 0xf)
}

/// Runs `op` on every data-cache line covering `[va, va + len)`, then a DSB.
fn for_each_line(va: usize, len: usize, op: impl Fn(usize)) {
    let line = dcache_line_size();
    let mut a = va & !(line - 1);
    while a < va + len {
        op(a);
        a += line;
    }
    barrier::dsb(barrier::SY);
}

/// Cleans the lines covering `[va, va + len)` to the point of coherency (`dc cvac`), before
/// a device reads memory the CPU wrote.
pub fn clean_dcache_range(va: usize, len: usize) {
    // SAFETY: cleaning writes dirty lines back; memory's contents do not change.
    for_each_line(va, len, |a| unsafe { asm!("dc cvac, {}", in(reg) a, options(nostack)) });
}

/// Invalidates the lines covering `[va, va + len)` (`dc ivac`), after a device wrote memory.
pub fn invalidate_dcache_range(va: usize, len: usize) {
    // SAFETY: the caller owns the buffer the device wrote; stale lines are dropped.
    for_each_line(va, len, |a| unsafe { asm!("dc ivac, {}", in(reg) a, options(nostack)) });
}

/// `__sync_icache_dcache` for a page about to be mapped executable (`caches_clean_inval_pou`
/// on the A53's non-aliasing VIPT instruction cache): its data cleaned to the point of
/// unification through the linear map at `kva`, then its instruction-cache lines invalidated.
pub fn sync_icache_dcache(kva: usize) {
    const PAGE: usize = 4096;
    // SAFETY: cleaning writes dirty lines back; memory's contents do not change.
    for_each_line(kva, PAGE, |a| unsafe { asm!("dc cvau, {}", in(reg) a, options(nostack)) });
    let line = icache_line_size();
    let mut a = kva & !(line - 1);
    while a < kva + PAGE {
        // SAFETY: invalidating instruction-cache lines only makes later fetches read memory.
        unsafe { asm!("ic ivau, {}", in(reg) a, options(nostack)) };
        a += line;
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// `icache_inval_all_pou`: every core's instruction cache invalidated (`ic ialluis`), for a
/// page whose data is already clean (`PG_dcache_clean`).
pub fn flush_icache_all() {
    // SAFETY: as above.
    unsafe { asm!("ic ialluis", options(nostack)) };
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}
