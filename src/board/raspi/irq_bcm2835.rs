//! The BCM2835 ARM interrupt controller ("ARMCTRL"), chained behind the BCM2836 local
//! controller's GPU interrupt, as Linux 6.1's irq-bcm2835.c drives it: three banks (8 ARM
//! interrupts, then the GPU's 64), hardware number `bank * 32 + bit`, level-triggered lines
//! masked and unmasked through per-bank enable/disable registers, and the basic pending
//! register's quirks (its "shortcut" bits name some GPU interrupts directly and then the bank
//! bits are not set). Decoding is pure; the driver is for the kernel build.
use core::fmt;

/// Banks, and lines per bank.
pub const NR_BANKS: usize = 3;
pub const IRQS_PER_BANK: u32 = 32;
/// Lines each bank has (bank 0: the ARM's own 8).
pub const BANK_IRQS: [u32; NR_BANKS] = [8, 32, 32];
/// Register offsets per bank: pending, enable, disable.
pub const REG_PENDING: [usize; NR_BANKS] = [0x00, 0x04, 0x08];
pub const REG_ENABLE: [usize; NR_BANKS] = [0x18, 0x10, 0x14];
pub const REG_DISABLE: [usize; NR_BANKS] = [0x24, 0x1c, 0x20];
pub const REG_FIQ_CONTROL: usize = 0x0c;
pub const REG_FIQ_ENABLE: u32 = 1 << 7;

/// The basic pending register: bank 0's lines, "more in bank 1/2", and the shortcuts.
const BANK0_HWIRQ_MASK: u32 = 0xff;
const SHORTCUT1_MASK: u32 = 0x0000_7c00;
const SHORTCUT2_MASK: u32 = 0x001f_8000;
const SHORTCUT_SHIFT: u32 = 10;
const BANK1_HWIRQ: u32 = 1 << 8;
const BANK2_HWIRQ: u32 = 1 << 9;
const BANK0_VALID_MASK: u32 =
    BANK0_HWIRQ_MASK | BANK1_HWIRQ | BANK2_HWIRQ | SHORTCUT1_MASK | SHORTCUT2_MASK;
/// The bank bits the shortcut bits stand for: 5 of bank 1, then 6 of bank 2.
const SHORTCUTS: [u32; 11] = [7, 9, 10, 18, 19, 21, 22, 23, 24, 25, 30];

/// Linux's `MAKE_HWIRQ(bank, bit)`.
pub const fn make_hwirq(bank: usize, bit: u32) -> u32 {
    ((bank as u32) << 5) | bit
}

/// A hardware number's bank and the bit within it.
pub const fn hwirq_bank_bit(hwirq: u32) -> (usize, u32) {
    ((hwirq >> 5) as usize, hwirq & 0x1f)
}

/// The PL011 UART: GPU interrupt 57 (bank 2, bit 25), as the device tree gives it.
pub const UART0_HWIRQ: u32 = make_hwirq(2, 25);

/// The Arasan SDHCI controller: GPU interrupt 62 (bank 2, bit 30; `interrupts = <2 30>`).
pub const ARASAN_SDIO_HWIRQ: u32 = make_hwirq(2, 30);

/// `get_next_armctrl_hwirq`: the next interrupt to handle, reading the pending registers
/// through `read_pending(bank)`; None when nothing is pending.
pub fn next_hwirq(mut read_pending: impl FnMut(usize) -> u32) -> Option<u32> {
    let stat = read_pending(0) & BANK0_VALID_MASK;
    let shortcut = |bank: usize, bits: u32| {
        make_hwirq(bank, SHORTCUTS[(bits >> SHORTCUT_SHIFT).trailing_zeros() as usize])
    };
    if stat == 0 {
        None
    } else if stat & BANK0_HWIRQ_MASK != 0 {
        Some(make_hwirq(0, (stat & BANK0_HWIRQ_MASK).trailing_zeros()))
    } else if stat & SHORTCUT1_MASK != 0 {
        Some(shortcut(1, stat & SHORTCUT1_MASK))
    } else if stat & SHORTCUT2_MASK != 0 {
        Some(shortcut(2, stat & SHORTCUT2_MASK))
    } else {
        // Bank 1 or 2 (armctrl_translate_bank); nothing if it cleared meanwhile.
        let bank = if stat & BANK1_HWIRQ != 0 { 1 } else { 2 };
        let bits = read_pending(bank);
        (bits != 0).then(|| make_hwirq(bank, bits.trailing_zeros()))
    }
}

/// A register's set bits as a list of ranges, like Linux's `%*pbl` (`0-3,25`).
pub struct BitList(pub u32);

impl fmt::Display for BitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut bit = 0;
        while bit < 32 {
            if self.0 & (1 << bit) == 0 {
                bit += 1;
                continue;
            }
            let start = bit;
            while bit < 32 && self.0 & (1 << bit) != 0 {
                bit += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if bit - 1 == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{}-{}", start, bit - 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(kernel)]
pub use device::*;

#[cfg(kernel)]
mod device {
    use core::ptr::{read_volatile, write_volatile};

    use spin::Once;

    use super::*;
    use crate::arch::irq::smp_processor_id;
    use crate::board::raspi::io::{self, Device};
    use crate::kernel::irq::{ChipFlow, DomainId, Flow, IrqChip, IrqError, Irqs, IRQS};
    use crate::kprintln;

    fn read(off: usize) -> u32 {
        // SAFETY: the controller's registers are mapped (io::base follows their mapping)
        // and `off` is one of them.
        unsafe { read_volatile((io::base(Device::IrqController) + off) as *const u32) }
    }

    fn write(off: usize, v: u32) {
        // SAFETY: as for `read`; enable/disable writes only gate interrupt lines.
        unsafe { write_volatile((io::base(Device::IrqController) + off) as *mut u32, v) }
    }

    /// `armctrl_chip`.
    struct Armctrl;

    impl IrqChip for Armctrl {
        fn name(&self) -> &'static str {
            "ARMCTRL-level"
        }
        fn mask(&self, hwirq: u32, _cpu: usize) {
            let (bank, bit) = hwirq_bank_bit(hwirq);
            write(REG_DISABLE[bank], 1 << bit);
        }
        fn unmask(&self, hwirq: u32, _cpu: usize) {
            let (bank, bit) = hwirq_bank_bit(hwirq);
            write(REG_ENABLE[bank], 1 << bit);
        }
    }

    static ARMCTRL: Armctrl = Armctrl;

    /// Every line is level-triggered (`handle_level_irq`).
    fn map(_hwirq: u32) -> Option<ChipFlow> {
        Some(ChipFlow { chip: &ARMCTRL, flow: Flow::Level, percpu: false })
    }

    static DOMAIN: Once<DomainId> = Once::new();

    /// `armctrl_of_init` for the BCM2836: maps every line (as Linux does at init), masks
    /// what the firmware left enabled (and says so), and chains the controller to the local
    /// controller's GPU interrupt `parent`.
    pub fn init(parent_domain: DomainId, parent_hwirq: u32) -> Result<DomainId, IrqError> {
        let d = IRQS.add_domain(make_hwirq(NR_BANKS, 0), map)?;
        DOMAIN.call_once(|| d);
        for (bank, &n) in BANK_IRQS.iter().enumerate() {
            for bit in 0..n {
                IRQS.create_mapping(d, make_hwirq(bank, bit))?;
            }
            let left = read(REG_ENABLE[bank]);
            if left != 0 {
                write(REG_DISABLE[bank], left);
                kprintln!(
                    "[Firmware Bug]: Bootloader left irq enabled: bank {} irq {}",
                    bank,
                    BitList(left)
                );
            }
        }
        if read(REG_FIQ_CONTROL) & REG_FIQ_ENABLE != 0 {
            write(REG_FIQ_CONTROL, 0);
            kprintln!("[Firmware Bug]: Bootloader left fiq enabled");
        }
        let parent = IRQS.create_mapping(parent_domain, parent_hwirq)?;
        IRQS.set_chained_handler(parent, chained_handle_irq, smp_processor_id())?;
        Ok(d)
    }

    /// The Linux number of hardware interrupt `hwirq` (after `init`).
    pub fn irq_of(hwirq: u32) -> Option<u32> {
        IRQS.with(|t| t.find_mapping(*DOMAIN.get()?, hwirq))
    }

    /// `bcm2836_chained_handle_irq`: every pending line, one after the other.
    fn chained_handle_irq(irqs: &Irqs, cpu: usize) {
        let Some(&d) = DOMAIN.get() else { return };
        while let Some(hwirq) = next_hwirq(|bank| read(REG_PENDING[bank])) {
            irqs.generic_handle_domain_irq(d, hwirq, cpu);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(basic: u32, bank1: u32, bank2: u32) -> Option<u32> {
        next_hwirq(|b| [basic, bank1, bank2][b])
    }

    #[test]
    fn basic_pending_register_decodes_as_linux() {
        assert_eq!(next(0, 0, 0), None);
        // Bank 0's own lines come first: the ARM mailbox (bit 1).
        assert_eq!(next(1 << 1 | 1 << 9, 0, 1 << 25), Some(1));
        // The UART (GPU 57) as QEMU and the hardware raise it: bank 2's bit and its
        // shortcut (basic bit 19); the shortcut names it without reading bank 2.
        assert_eq!(next(1 << 9 | 1 << 19, 0, 0), Some(UART0_HWIRQ));
        assert_eq!(UART0_HWIRQ, 89);
        // GPU 7 (bank 1) through its shortcut, bit 10.
        assert_eq!(next(1 << 10, 0, 0), Some(make_hwirq(1, 7)));
        // GPU 3, the system timer: no shortcut, so bank 1's register is read.
        assert_eq!(next(1 << 8, 1 << 3, 0), Some(35));
        assert_eq!(next(1 << 9, 0, 1 << 0), Some(64));
        // A bank bit whose register has cleared meanwhile: nothing.
        assert_eq!(next(1 << 8, 0, 0), None);
        // Bits outside BANK0_VALID_MASK are ignored.
        assert_eq!(next(1 << 21, 0, 0), None);
    }

    #[test]
    fn hwirq_numbers() {
        assert_eq!(make_hwirq(0, 1), 1);
        assert_eq!(make_hwirq(1, 3), 35);
        assert_eq!(hwirq_bank_bit(89), (2, 25));
        assert_eq!(make_hwirq(NR_BANKS, 0), 96);
    }

    #[test]
    fn bit_lists_print_like_pbl() {
        assert_eq!(BitList(0).to_string(), "");
        assert_eq!(BitList(1 << 25).to_string(), "25");
        assert_eq!(BitList(0xf | 1 << 7 | 3 << 30).to_string(), "0-3,7,30-31");
    }
}
