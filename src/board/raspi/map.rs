//! BCM2836 physical memory map (ARM view) of the devices pivm uses.

/// Start of the BCM2835-family peripheral window as the ARM sees it on BCM2836/7.
pub const PERIPHERAL_BASE: u64 = 0x3F00_0000;
/// Size of the peripheral window.
pub const PERIPHERAL_SIZE: u64 = 0x0100_0000;
/// BCM2836 "local" peripherals: per-core mailboxes, timers and interrupt routing.
pub const LOCAL_PERIPHERAL_BASE: u64 = 0x4000_0000;
pub const LOCAL_PERIPHERAL_SIZE: u64 = 0x100;

/// 1 MHz free-running system timer.
pub const SYSTEM_TIMER_BASE: u64 = PERIPHERAL_BASE + 0x3000;
pub const SYSTEM_TIMER_SIZE: u64 = 0x20;
/// ARM interrupt controller (BCM2835 "armctrl").
pub const IRQ_BASE: u64 = PERIPHERAL_BASE + 0xB200;
pub const IRQ_SIZE: u64 = 0x200;
/// VideoCore mailbox 0.
pub const MAILBOX_BASE: u64 = PERIPHERAL_BASE + 0xB880;
pub const MAILBOX_SIZE: u64 = 0x40;
/// Power management block: the watchdog and reset control.
pub const PM_BASE: u64 = PERIPHERAL_BASE + 0x10_0000;
pub const PM_SIZE: u64 = 0x114;
/// PL011 UART0, the serial console.
pub const UART0_BASE: u64 = PERIPHERAL_BASE + 0x20_1000;
pub const UART0_SIZE: u64 = 0x200;

/// The Arasan SDHCI controller ("emmc", `mmc@7e300000`), where QEMU's raspi2b attaches the
/// SD card by default.
pub const EMMC_BASE: u64 = PERIPHERAL_BASE + 0x30_0000;
pub const EMMC_SIZE: u64 = 0x100;

/// Offset between the ARM physical address of SDRAM and the VideoCore bus address that the
/// mailbox expects for buffers (the "L2 cache disabled" 0xC0000000 alias on BCM2836).
pub const VC_SDRAM_BUS_OFFSET: u64 = 0xC000_0000;

/// PL011 data register (UARTDR): reading it takes the oldest byte out of the receive FIFO.
pub const UART0_DR: u64 = UART0_BASE;
/// Mailbox 0's read register: reading it takes the VideoCore's oldest reply out of the FIFO.
pub const MAILBOX0_READ: u64 = MAILBOX_BASE;

/// A device register whose read changes the device (a FIFO pops): the console reads one only
/// when asked to explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSensitive {
    /// Physical address of the 32-bit register.
    pub phys: u64,
    pub name: &'static str,
    /// What a read does.
    pub effect: &'static str,
}

/// Every register pivm's devices have with a read side effect.
pub const READ_SENSITIVE: [ReadSensitive; 2] = [
    ReadSensitive {
        phys: UART0_DR,
        name: "the PL011 UART0 data register UARTDR",
        effect: "reading it takes a byte of typed input",
    },
    ReadSensitive {
        phys: MAILBOX0_READ,
        name: "mailbox 0's read register",
        effect: "reading it takes the VideoCore's next reply",
    },
];

/// The read-sensitive register that a read of `len` bytes at physical `phys` would touch.
pub fn read_sensitive(phys: u64, len: u64) -> Option<&'static ReadSensitive> {
    /// Bytes of each register.
    const REG_BYTES: u64 = 4;
    let end = phys.saturating_add(len);
    READ_SENSITIVE.iter().find(|r| phys < r.phys + REG_BYTES && r.phys < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_that_touch_a_fifo_register_are_found() {
        assert_eq!(read_sensitive(0x3f20_1000, 4).map(|r| r.phys), Some(UART0_DR));
        // Any byte of the register, and a range running into it.
        assert_eq!(read_sensitive(0x3f20_1003, 1).map(|r| r.phys), Some(UART0_DR));
        assert_eq!(read_sensitive(0x3f20_0ff0, 0x14).map(|r| r.phys), Some(UART0_DR));
        assert_eq!(read_sensitive(0x3f00_b880, 4).map(|r| r.phys), Some(MAILBOX0_READ));
        // The flag register next to it, a range ending just before it, and RAM are fine.
        assert_eq!(read_sensitive(0x3f20_1004, 4), None);
        assert_eq!(read_sensitive(0x3f20_1018, 4), None);
        assert_eq!(read_sensitive(0x3f20_0ff0, 0x10), None);
        assert_eq!(read_sensitive(0, 4), None);
        assert_eq!(read_sensitive(u64::MAX - 2, 8), None);
    }
}
