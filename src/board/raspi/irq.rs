//! `init_IRQ` for the Pi 2: the interrupt controllers in the order Linux 6.1 probes them from
//! the device tree (the BCM2836 local controller, the root, then the BCM2835 controller
//! chained to its GPU interrupt), so descriptors get the numbers Linux gives them; and the
//! interrupts the board's devices raise, as its device tree lists them.
use super::irq_bcm2835::{self as armctrl, ARASAN_SDIO_HWIRQ, UART0_HWIRQ};
use super::irq_bcm2836::{self as local, LOCAL_IRQ_GPU_FAST, TIMER_PPI_HWIRQ};
use crate::arch::arch_timer::ArchTimerPpi;
use crate::kernel::irq::{IrqError, IRQS};

/// Sets up both controllers and makes the local one the root (`handle_arch_irq`).
pub fn init_irq() -> Result<(), IrqError> {
    let d = local::init()?;
    armctrl::init(d, LOCAL_IRQ_GPU_FAST)?;
    Ok(())
}

/// The Linux number of a generic-timer interrupt. The first call maps all four the way
/// `arch_timer_of_init` does (the device tree's order), as Linux numbers them.
pub fn timer_irq(ppi: ArchTimerPpi) -> Result<u32, IrqError> {
    let d = local::domain().ok_or(IrqError::Invalid)?;
    let mut irqs = [0u32; 4];
    for (i, &hw) in TIMER_PPI_HWIRQ.iter().enumerate() {
        irqs[i] = IRQS.create_mapping(d, hw)?;
    }
    Ok(irqs[ppi as usize])
}

/// The PL011 UART's Linux number.
pub fn uart_irq() -> Result<u32, IrqError> {
    armctrl::irq_of(UART0_HWIRQ).ok_or(IrqError::Invalid)
}

/// The SDHCI controller's Linux number.
pub fn sdhci_irq() -> Result<u32, IrqError> {
    armctrl::irq_of(ARASAN_SDIO_HWIRQ).ok_or(IrqError::Invalid)
}
