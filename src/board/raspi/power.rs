//! Power off and reboot through the BCM2835 power-management block (watchdog), the way
//! Linux's bcm2835_wdt does; under QEMU, power off first tries semihosting so QEMU exits 0.
use core::ptr::{read_volatile, write_volatile};

use super::io::{self, Device};

const PM_RSTC: usize = 0x1c;
const PM_RSTS: usize = 0x20;
const PM_WDOG: usize = 0x24;
const PM_PASSWORD: u32 = 0x5a00_0000;
const PM_WDOG_TIME_SET: u32 = 0x000f_ffff;
const PM_RSTC_WRCFG_CLR: u32 = 0xffff_ffcf;
const PM_RSTC_WRCFG_FULL_RESET: u32 = 0x0000_0020;
/// Boot partition 63 tells the firmware to halt instead of booting (Linux's power-off trick).
const PM_RSTS_RASPBERRYPI_HALT: u32 = 0x555;
/// Watchdog ticks (~16 us each) before the reset fires.
const WDOG_TICKS: u32 = 10;

fn reg(off: usize) -> *mut u32 {
    (io::base(Device::Pm) + off) as *mut u32
}

fn watchdog_reset() -> ! {
    // SAFETY: the PM block is mapped; these writes only arm the watchdog reset.
    unsafe {
        write_volatile(reg(PM_WDOG), PM_PASSWORD | (WDOG_TICKS & PM_WDOG_TIME_SET));
        let rstc = read_volatile(reg(PM_RSTC)) & PM_RSTC_WRCFG_CLR;
        write_volatile(reg(PM_RSTC), PM_PASSWORD | rstc | PM_RSTC_WRCFG_FULL_RESET);
    }
    crate::arch::cpu::halt()
}

/// Restarts the machine.
pub fn reboot() -> ! {
    crate::board::raspi::uart::flush();
    watchdog_reset()
}

/// Powers off: semihosting exit 0 when running under QEMU with `-semihosting`, otherwise the
/// firmware's halt partition plus a watchdog reset, as Linux does on the Pi.
pub fn poweroff() -> ! {
    crate::board::raspi::uart::flush();
    crate::arch::semihosting::exit(0);
    // SAFETY: as in watchdog_reset; RSTS only selects what the firmware does after reset.
    unsafe {
        let rsts = read_volatile(reg(PM_RSTS));
        write_volatile(reg(PM_RSTS), PM_PASSWORD | rsts | PM_RSTS_RASPBERRYPI_HALT);
    }
    watchdog_reset()
}
