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

/// Offset between the ARM physical address of SDRAM and the VideoCore bus address that the
/// mailbox expects for buffers (the "L2 cache disabled" 0xC0000000 alias on BCM2836).
pub const VC_SDRAM_BUS_OFFSET: u64 = 0xC000_0000;
