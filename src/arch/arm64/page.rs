//! Whole-page clearing and copying (arm64 Linux's `clear_page`, `copy_page` in
//! `arch/arm64/lib`): clearing with `DC ZVA` blocks where DCZID_EL0 permits it (the
//! Cortex-A53's block is 64 bytes), otherwise 16-byte stores of the zero register; copying
//! with 64-byte `ldp`/`stp` pairs of SIMD registers.
use core::arch::asm;

use crate::mm::PAGE_SIZE;

/// DCZID_EL0.DZP: `DC ZVA` is prohibited.
const DCZID_DZP: u64 = 1 << 4;
/// DCZID_EL0.BS: log2 of the block size in 4-byte words.
const DCZID_BS_MASK: u64 = 0xf;

/// The `DC ZVA` block size in bytes, or None when the instruction is prohibited.
fn zva_block_size() -> Option<usize> {
    let dczid: u64;
    // SAFETY: reads DCZID_EL0 (EL0-readable, no side effects).
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    (dczid & DCZID_DZP == 0).then(|| 4usize << (dczid & DCZID_BS_MASK))
}

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` is page-aligned, mapped as Normal memory and writable, and nothing else uses it.
pub unsafe fn clear_page(page: *mut u8) {
    let end = page as usize + PAGE_SIZE as usize;
    match zva_block_size() {
        Some(bs) if bs <= PAGE_SIZE as usize => {
            let mut a = page as usize;
            while a < end {
                // SAFETY: `a` is inside the page and block-aligned (the page is).
                unsafe { asm!("dc zva, {}", in(reg) a, options(nostack, preserves_flags)) };
                a += bs;
            }
        }
        _ => {
            let mut a = page as usize;
            while a < end {
                // SAFETY: 64 bytes inside the page.
                unsafe {
                    asm!(
                        "stp xzr, xzr, [{a}]",
                        "stp xzr, xzr, [{a}, #16]",
                        "stp xzr, xzr, [{a}, #32]",
                        "stp xzr, xzr, [{a}, #48]",
                        a = in(reg) a,
                        options(nostack, preserves_flags)
                    )
                };
                a += 64;
            }
        }
    }
}

/// Copies the 4 KiB page at `from` to `to`.
///
/// # Safety
/// Both are page-aligned whole pages, mapped, `to` writable, and they do not overlap.
pub unsafe fn copy_page(to: *mut u8, from: *const u8) {
    // SAFETY: 64 pages-internal bytes per iteration, 64 iterations; v0-v3 are clobbered.
    unsafe {
        asm!(
            "2:",
            "ldp q0, q1, [{src}], #32",
            "ldp q2, q3, [{src}], #32",
            "stp q0, q1, [{dst}], #32",
            "stp q2, q3, [{dst}], #32",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            src = inout(reg) from => _,
            dst = inout(reg) to => _,
            n = inout(reg) PAGE_SIZE / 64 => _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _,
            options(nostack)
        )
    };
}
