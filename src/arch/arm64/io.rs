//! String I/O on a device's data port (`readsl`/`writesl`). arm64 Linux has no assembly for
//! these: it takes `asm-generic/io.h`'s `__raw_readsl`/`__raw_writesl`, one 32-bit device
//! access per word in a loop, for any word count. The SDHCI driver moves every block through
//! its data port this way on the Pi 3.

/// Words the count must be a multiple of (the generic loop takes any count).
pub const IO_BURST_WORDS: usize = 1;

/// Reads `words` 32-bit values from the device register at `port` into `buf`.
///
/// # Safety
/// `port` is a mapped device register; `buf` is word-aligned and writable for `words`
/// words.
pub unsafe fn readsl(port: *const u32, buf: *mut u32, words: usize) {
    debug_assert!((buf as usize).is_multiple_of(4));
    for i in 0..words {
        // SAFETY: the caller's contract: `port` is a device register, `buf + i` is inside
        // the buffer and aligned.
        unsafe { buf.add(i).write(core::ptr::read_volatile(port)) }
    }
}

/// Writes `words` 32-bit values from `buf` to the device register at `port`.
///
/// # Safety
/// As [`readsl`], with `buf` readable.
pub unsafe fn writesl(port: *mut u32, buf: *const u32, words: usize) {
    debug_assert!((buf as usize).is_multiple_of(4));
    for i in 0..words {
        // SAFETY: as in `readsl`.
        unsafe { core::ptr::write_volatile(port, buf.add(i).read()) }
    }
}
