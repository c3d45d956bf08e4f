//! Where each device's registers are visible in the kernel's address space right now.
//!
//! Early in boot the entry code identity-maps the peripheral window, so a device is reached at
//! its physical address; `paging_init` then maps each device page in the fixmap and moves the
//! base here. Drivers always ask this module, so they work in both phases.
use core::sync::atomic::{AtomicUsize, Ordering};

use super::map;

/// The devices pivm drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Uart0,
    Mailbox,
    Pm,
    SystemTimer,
    LocalPeripherals,
    IrqController,
}

impl Device {
    pub const ALL: [Device; 6] = [
        Device::Uart0,
        Device::Mailbox,
        Device::Pm,
        Device::SystemTimer,
        Device::LocalPeripherals,
        Device::IrqController,
    ];

    /// Physical address of the device's registers.
    pub const fn phys(self) -> u64 {
        match self {
            Device::Uart0 => map::UART0_BASE,
            Device::Mailbox => map::MAILBOX_BASE,
            Device::Pm => map::PM_BASE,
            Device::SystemTimer => map::SYSTEM_TIMER_BASE,
            Device::LocalPeripherals => map::LOCAL_PERIPHERAL_BASE,
            Device::IrqController => map::IRQ_BASE,
        }
    }

    /// Bytes of registers (what a driver ioremaps).
    pub const fn size(self) -> u64 {
        match self {
            Device::Uart0 => map::UART0_SIZE,
            Device::Mailbox => map::MAILBOX_SIZE,
            Device::Pm => map::PM_SIZE,
            Device::SystemTimer => map::SYSTEM_TIMER_SIZE,
            Device::LocalPeripherals => map::LOCAL_PERIPHERAL_SIZE,
            Device::IrqController => map::IRQ_SIZE,
        }
    }

    /// The pivm driver that maps the device (the caller /proc/vmallocinfo shows).
    pub const fn driver(self) -> &'static str {
        match self {
            Device::Uart0 => "pivm::board::raspi::uart",
            Device::Mailbox => "pivm::board::raspi::mailbox",
            Device::Pm => "pivm::board::raspi::power",
            Device::SystemTimer => "pivm::board::raspi::timer",
            Device::LocalPeripherals => "pivm::board::raspi::local_intc",
            Device::IrqController => "pivm::board::raspi::armctrl",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

static BASES: [AtomicUsize; 6] = [
    AtomicUsize::new(map::UART0_BASE as usize),
    AtomicUsize::new(map::MAILBOX_BASE as usize),
    AtomicUsize::new(map::PM_BASE as usize),
    AtomicUsize::new(map::SYSTEM_TIMER_BASE as usize),
    AtomicUsize::new(map::LOCAL_PERIPHERAL_BASE as usize),
    AtomicUsize::new(map::IRQ_BASE as usize),
];

/// Virtual address of the device's registers.
pub fn base(dev: Device) -> usize {
    BASES[dev.index()].load(Ordering::Acquire)
}

/// Records a new mapping of the device (called once its new mapping is live).
pub fn set_base(dev: Device, va: usize) {
    BASES[dev.index()].store(va, Ordering::Release);
}
