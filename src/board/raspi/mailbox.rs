//! VideoCore mailbox, property channel: asks the firmware for the ARM's share of RAM when the
//! loader passed neither ATAGs nor a device tree (QEMU's ELF path, on both kernels), and for
//! the board revision and serial number shown in /proc/cpuinfo (ARMv7). The same BCM2835
//! mailbox 0 sits at the same address on the Pi 2 and the Pi 3.
use core::ptr::{addr_of, read_volatile, write_volatile};

use crate::kernel::spinlock::SpinLock;

use super::io::{self, Device};
use super::map::VC_SDRAM_BUS_OFFSET;
use crate::arch::cache;

/// Mailbox 0's read register (a FIFO: see `map::READ_SENSITIVE`).
const MBOX_READ: usize = (super::map::MAILBOX0_READ - super::map::MAILBOX_BASE) as usize;
const MBOX_STATUS: usize = 0x18;
const MBOX_WRITE: usize = 0x20;
const MBOX_FULL: u32 = 0x8000_0000;
const MBOX_EMPTY: u32 = 0x4000_0000;
/// Channel 8: ARM to VideoCore property tags.
const CHANNEL_PROPERTY: u32 = 8;
const REQUEST: u32 = 0;
const RESPONSE_OK: u32 = 0x8000_0000;
/// Property tags used by pivm.
pub const TAG_GET_BOARD_REVISION: u32 = 0x0001_0002;
pub const TAG_GET_BOARD_SERIAL: u32 = 0x0001_0004;
pub const TAG_GET_ARM_MEMORY: u32 = 0x0001_0005;
/// Polls before giving up on a silent VideoCore.
const POLL_LIMIT: u32 = 1_000_000;

/// One cache line: the buffer must be 16-byte aligned and is cleaned/invalidated whole.
#[repr(C, align(64))]
struct Buffer([u32; 16]);

static BUFFER: SpinLock<Buffer> = SpinLock::new(Buffer([0; 16]));
/// The buffer's size: what the caches are cleaned and invalidated over.
const BUFFER_BYTES: usize = core::mem::size_of::<Buffer>();

fn reg(off: usize) -> *mut u32 {
    (io::base(Device::Mailbox) + off) as *mut u32
}

/// Sends one property tag expecting two response words; returns them, or None when the
/// firmware does not answer or reports an error.
pub fn property2(tag: u32) -> Option<(u32, u32)> {
    let mut buf = BUFFER.lock();
    buf.0 = [0; 16];
    buf.0[..8].copy_from_slice(&[8 * 4, REQUEST, tag, 8, 0, 0, 0, 0]);
    let va = addr_of!(buf.0) as usize;
    let bus = (buffer_phys(va as u64) + VC_SDRAM_BUS_OFFSET) as u32;
    cache::clean_dcache_range(va, BUFFER_BYTES);
    // SAFETY: the mailbox registers are mapped (identity early, fixmap later) and the buffer
    // stays locked and cache-clean while the VideoCore owns it.
    unsafe {
        let mut n = 0;
        while read_volatile(reg(MBOX_STATUS)) & MBOX_FULL != 0 {
            n += 1;
            if n > POLL_LIMIT {
                return None;
            }
        }
        write_volatile(reg(MBOX_WRITE), bus | CHANNEL_PROPERTY);
        loop {
            let mut n = 0;
            while read_volatile(reg(MBOX_STATUS)) & MBOX_EMPTY != 0 {
                n += 1;
                if n > POLL_LIMIT {
                    return None;
                }
            }
            if read_volatile(reg(MBOX_READ)) & 0xf == CHANNEL_PROPERTY {
                break;
            }
        }
    }
    cache::invalidate_dcache_range(va, BUFFER_BYTES);
    let b = &buf.0;
    if b[1] != RESPONSE_OK || b[4] & RESPONSE_OK == 0 {
        return None;
    }
    Some((b[5], b[6]))
}

/// The physical address of the buffer (a kernel static): ARMv7's image lies in the linear
/// map at `PAGE_OFFSET`; arm64's at `KIMAGE_VADDR` (`__pa_symbol`).
fn buffer_phys(va: u64) -> u64 {
    #[cfg(target_arch = "aarch64")]
    return crate::arch::arm64::boot::pa_symbol(va);
    #[cfg(not(target_arch = "aarch64"))]
    return va - crate::config::PAGE_OFFSET;
}

/// The ARM's RAM as (base, size), from the firmware.
pub fn arm_memory() -> Option<(u32, u32)> {
    property2(TAG_GET_ARM_MEMORY).filter(|&(_, size)| size != 0)
}
