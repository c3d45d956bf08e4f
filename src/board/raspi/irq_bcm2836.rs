//! The BCM2836 ARM local interrupt controller, the Pi 2's root irqchip, as Linux 6.1's
//! irq-bcm2836.c drives it: per-core interrupt sources (the four generic-timer interrupts,
//! the four mailboxes, the GPU's chained controller, the PMU) read from the core's pending
//! register and handled one at a time; per-core enables for the timers and mailboxes; mailbox
//! 0 carries the inter-processor interrupts (its 32 bits are an IPI domain of their own).
//! Register decoding is pure; the driver is for the kernel build.

/// Register offsets (include/linux/irqchip/irq-bcm2836.h).
pub const LOCAL_CONTROL: usize = 0x000;
pub const LOCAL_PRESCALER: usize = 0x008;
pub const LOCAL_PM_ROUTING_SET: usize = 0x010;
pub const LOCAL_PM_ROUTING_CLR: usize = 0x014;
/// Per core (4 bytes apart): timer interrupt enables, IRQ in bits 0-3.
pub const LOCAL_TIMER_INT_CONTROL0: usize = 0x040;
/// Per core: mailbox interrupt enables, IRQ in bits 0-3.
pub const LOCAL_MAILBOX_INT_CONTROL0: usize = 0x050;
/// Per core: the IRQ sources pending (`LOCAL_IRQ_*` bits).
pub const LOCAL_IRQ_PENDING0: usize = 0x060;
/// Per core (16 bytes apart): mailbox 0 write-to-set and write-to-clear.
pub const LOCAL_MAILBOX0_SET0: usize = 0x080;
pub const LOCAL_MAILBOX0_CLR0: usize = 0x0c0;

/// Hardware interrupt numbers: the pending register's bits.
pub const LOCAL_IRQ_CNTPSIRQ: u32 = 0;
pub const LOCAL_IRQ_CNTPNSIRQ: u32 = 1;
pub const LOCAL_IRQ_CNTHPIRQ: u32 = 2;
pub const LOCAL_IRQ_CNTVIRQ: u32 = 3;
pub const LOCAL_IRQ_MAILBOX0: u32 = 4;
pub const LOCAL_IRQ_GPU_FAST: u32 = 8;
pub const LOCAL_IRQ_PMU_FAST: u32 = 9;
pub const LAST_IRQ: u32 = LOCAL_IRQ_PMU_FAST;
/// IPIs one mailbox carries (its bits).
pub const BITS_PER_MBOX: u32 = 32;

/// The generic-timer interrupts in the order `bcm2836.dtsi` lists them for the
/// `arm,armv7-timer` node, i.e. indexed by Linux's `arch_timer_ppi_nr`: secure physical,
/// non-secure physical, virtual, hypervisor.
pub const TIMER_PPI_HWIRQ: [u32; 4] =
    [LOCAL_IRQ_CNTPSIRQ, LOCAL_IRQ_CNTPNSIRQ, LOCAL_IRQ_CNTVIRQ, LOCAL_IRQ_CNTHPIRQ];

/// `LOCAL_CONTROL` value: the core timers count the 19.2 MHz crystal, by 1 (Linux's
/// `bcm2835_init_local_timer_frequency`).
pub const LOCAL_CONTROL_CRYSTAL: u32 = 0;
/// `LOCAL_PRESCALER` value for 1:1 (timer frequency = input * 2^31 / prescaler).
pub const LOCAL_PRESCALER_1_1: u32 = 0x8000_0000;

/// Which irqchip a hardware number belongs to (`bcm2836_map`), None for one Linux refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalChip {
    /// `bcm2836-timer`: enabled per core in `LOCAL_TIMER_INT_CONTROL0`.
    Timer,
    /// `bcm2836-dummy`: mailbox 0, the IPI multiplexer.
    Dummy,
    /// `bcm2836-gpu`: the chained BCM2835 controller, always routed.
    Gpu,
    /// `bcm2836-pmu`.
    Pmu,
}

impl LocalChip {
    pub fn of(hwirq: u32) -> Option<LocalChip> {
        match hwirq {
            LOCAL_IRQ_CNTPSIRQ..=LOCAL_IRQ_CNTVIRQ => Some(LocalChip::Timer),
            LOCAL_IRQ_MAILBOX0 => Some(LocalChip::Dummy),
            LOCAL_IRQ_GPU_FAST => Some(LocalChip::Gpu),
            LOCAL_IRQ_PMU_FAST => Some(LocalChip::Pmu),
            _ => None,
        }
    }

    /// The name /proc/interrupts shows.
    pub fn name(self) -> &'static str {
        match self {
            LocalChip::Timer => "bcm2836-timer",
            LocalChip::Dummy => "bcm2836-dummy",
            LocalChip::Gpu => "bcm2836-gpu",
            LocalChip::Pmu => "bcm2836-pmu",
        }
    }
}

/// Lowest set bit (`ffs(x) - 1`), None for 0: the one interrupt a pass handles.
pub fn first_pending(stat: u32) -> Option<u32> {
    (stat != 0).then(|| stat.trailing_zeros())
}

/// `bcm2836_arm_irqchip_handle_irq`'s choice: the hardware interrupt to handle for a core
/// whose pending register reads `stat`.
pub fn pending_hwirq(stat: u32) -> Option<u32> {
    first_pending(stat)
}

/// Offset of `core`'s copy of a per-core 4-byte register.
pub const fn per_core(reg: usize, core: usize) -> usize {
    reg + 4 * core
}

/// Offset of `core`'s mailbox-0 register (mailboxes are 16 bytes apart per core).
pub const fn mailbox0(reg: usize, core: usize) -> usize {
    reg + 16 * core
}

#[cfg(kernel)]
pub use device::*;

#[cfg(kernel)]
mod device {
    use core::ptr::{read_volatile, write_volatile};

    use spin::Once;

    use super::*;
    use crate::arch::irq::{set_handle_irq, smp_processor_id, PtRegs};
    use crate::board::raspi::io::{self, Device};
    use crate::kernel::irq::{
        ChipFlow, DomainId, Flow, IrqChip, IrqError, IrqReturn, IRQS, NR_CPUS,
    };

    /// Linux's `NR_IPI` and `ipi_types[]`: the IPIs the architecture requests.
    pub use crate::arch::irq::IPI_TYPES;

    fn read(off: usize) -> u32 {
        // SAFETY: the local peripherals are mapped (identity, fixmap or ioremap: io::base
        // follows them) and `off` is one of this controller's registers.
        unsafe { read_volatile((io::base(Device::LocalPeripherals) + off) as *const u32) }
    }

    fn write(off: usize, v: u32) {
        // SAFETY: as for `read`; the writes only route or mask interrupts.
        unsafe { write_volatile((io::base(Device::LocalPeripherals) + off) as *mut u32, v) }
    }

    fn set_bit(reg: usize, bit: u32, on: bool) {
        let v = read(reg);
        write(reg, if on { v | 1 << bit } else { v & !(1 << bit) });
    }

    struct Chip(LocalChip);

    impl IrqChip for Chip {
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn mask(&self, hwirq: u32, cpu: usize) {
            match self.0 {
                LocalChip::Timer => set_bit(per_core(LOCAL_TIMER_INT_CONTROL0, cpu), hwirq, false),
                LocalChip::Pmu => write(LOCAL_PM_ROUTING_CLR, 1 << cpu),
                LocalChip::Dummy | LocalChip::Gpu => {}
            }
        }
        fn unmask(&self, hwirq: u32, cpu: usize) {
            match self.0 {
                LocalChip::Timer => set_bit(per_core(LOCAL_TIMER_INT_CONTROL0, cpu), hwirq, true),
                LocalChip::Pmu => write(LOCAL_PM_ROUTING_SET, 1 << cpu),
                LocalChip::Dummy | LocalChip::Gpu => {}
            }
        }
    }

    static TIMER: Chip = Chip(LocalChip::Timer);
    static DUMMY: Chip = Chip(LocalChip::Dummy);
    static GPU: Chip = Chip(LocalChip::Gpu);
    static PMU: Chip = Chip(LocalChip::Pmu);

    /// The IPI domain's chip (`bcm2836_arm_irqchip_ipi`): end of interrupt clears the IPI's
    /// bit in this core's mailbox 0.
    struct IpiChip;

    impl IrqChip for IpiChip {
        fn name(&self) -> &'static str {
            "IPI"
        }
        fn eoi(&self, hwirq: u32, cpu: usize) {
            write(mailbox0(LOCAL_MAILBOX0_CLR0, cpu), 1 << hwirq);
        }
    }

    static IPI: IpiChip = IpiChip;

    /// `bcm2836_map`: every local interrupt is per-CPU.
    fn map(hwirq: u32) -> Option<ChipFlow> {
        let chip: &'static dyn IrqChip = match LocalChip::of(hwirq)? {
            LocalChip::Timer => &TIMER,
            LocalChip::Dummy => &DUMMY,
            LocalChip::Gpu => &GPU,
            LocalChip::Pmu => &PMU,
        };
        Some(ChipFlow { chip, flow: Flow::PercpuDevid, percpu: true })
    }

    fn ipi_map(hwirq: u32) -> Option<ChipFlow> {
        (hwirq < BITS_PER_MBOX).then_some(ChipFlow {
            chip: &IPI,
            flow: Flow::PercpuDevid,
            percpu: true,
        })
    }

    static DOMAIN: Once<DomainId> = Once::new();
    static IPI_DOMAIN: Once<DomainId> = Once::new();
    /// The first IPI's Linux number (`ipi_irq_base`).
    static IPI_BASE: Once<u32> = Once::new();

    /// The local controller's domain (after `init`).
    pub fn domain() -> Option<DomainId> {
        DOMAIN.get().copied()
    }

    /// `bcm2836_arm_irqchip_l1_intc_of_init`: the core timers' clock, the domain, the IPIs
    /// (`bcm2835_init_ipi`, `set_smp_ipi_range`, unmasked on this core as
    /// `bcm2836_cpu_starting` does), and the root handler.
    pub fn init() -> Result<DomainId, IrqError> {
        write(LOCAL_CONTROL, LOCAL_CONTROL_CRYSTAL);
        write(LOCAL_PRESCALER, LOCAL_PRESCALER_1_1);
        let d = IRQS.add_domain(LAST_IRQ + 1, map)?;
        DOMAIN.call_once(|| d);
        let cpu = smp_processor_id();
        let mux = IRQS.create_mapping(d, LOCAL_IRQ_MAILBOX0)?;
        let ipi_domain = IRQS.add_domain(BITS_PER_MBOX, ipi_map)?;
        IPI_DOMAIN.call_once(|| ipi_domain);
        let base = IRQS.alloc_irqs(ipi_domain, BITS_PER_MBOX)?;
        IPI_BASE.call_once(|| base);
        for i in 0..IPI_TYPES.len() as u32 {
            IRQS.request_percpu_irq(base + i, ipi_handler, "IPI")?;
            IRQS.set_hidden(base + i)?;
            IRQS.enable_percpu_irq(base + i, cpu)?;
        }
        IRQS.set_chained_handler(mux, handle_ipi, cpu)?;
        set_bit(per_core(LOCAL_MAILBOX_INT_CONTROL0, cpu), 0, true);
        set_handle_irq(handle_irq);
        Ok(d)
    }

    /// The requested IPIs' Linux numbers and names, for /proc/interrupts.
    pub fn ipis() -> impl Iterator<Item = (u32, &'static str)> {
        let base = IPI_BASE.get().copied();
        IPI_TYPES.iter().enumerate().filter_map(move |(i, &n)| Some((base? + i as u32, n)))
    }

    /// `bcm2836_arm_irqchip_handle_irq`: one pending source of this core per exception.
    fn handle_irq(_regs: &PtRegs) {
        let cpu = smp_processor_id();
        let Some(&d) = DOMAIN.get() else { return };
        if let Some(hwirq) = pending_hwirq(read(per_core(LOCAL_IRQ_PENDING0, cpu))) {
            IRQS.generic_handle_domain_irq(d, hwirq, cpu);
        }
    }

    /// `bcm2836_arm_irqchip_handle_ipi`: the lowest IPI set in this core's mailbox 0.
    fn handle_ipi(irqs: &crate::kernel::irq::Irqs, cpu: usize) {
        let Some(&d) = IPI_DOMAIN.get() else { return };
        if let Some(hwirq) = first_pending(read(mailbox0(LOCAL_MAILBOX0_CLR0, cpu))) {
            irqs.generic_handle_domain_irq(d, hwirq, cpu);
        }
    }

    /// `ipi_handler`: pivm runs on one core, so no IPI has work to do yet; each is counted.
    fn ipi_handler(_irq: u32) -> IrqReturn {
        IrqReturn::Handled
    }

    /// `bcm2836_arm_irqchip_ipi_send_mask`: raises IPI `ipi` on the cores in `mask`.
    pub fn send_ipi(mask: u32, ipi: u32) {
        for cpu in (0..NR_CPUS).filter(|c| mask & (1 << c) != 0) {
            write(mailbox0(LOCAL_MAILBOX0_SET0, cpu), 1 << ipi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_register_gives_the_lowest_source() {
        assert_eq!(pending_hwirq(0), None);
        assert_eq!(pending_hwirq(1 << LOCAL_IRQ_CNTVIRQ), Some(3));
        // The GPU and the virtual timer at once: the timer first, the GPU on the next pass.
        assert_eq!(pending_hwirq(1 << 8 | 1 << 3), Some(3));
        assert_eq!(pending_hwirq(1 << LOCAL_IRQ_GPU_FAST), Some(8));
        assert_eq!(pending_hwirq(1 << 11), Some(11));
    }

    #[test]
    fn chips_as_bcm2836_map_gives_them() {
        for hw in 0..=3 {
            assert_eq!(LocalChip::of(hw), Some(LocalChip::Timer));
        }
        assert_eq!(LocalChip::of(4).map(LocalChip::name), Some("bcm2836-dummy"));
        // Mailboxes 1-3 are not Linux's (pivm's parked cores use mailbox 3 themselves).
        assert_eq!(LocalChip::of(5), None);
        assert_eq!(LocalChip::of(7), None);
        assert_eq!(LocalChip::of(8).map(LocalChip::name), Some("bcm2836-gpu"));
        assert_eq!(LocalChip::of(9).map(LocalChip::name), Some("bcm2836-pmu"));
        assert_eq!(LocalChip::of(10), None);
        assert_eq!(LocalChip::Timer.name(), "bcm2836-timer");
    }

    #[test]
    fn per_core_registers() {
        assert_eq!(per_core(LOCAL_TIMER_INT_CONTROL0, 0), 0x40);
        assert_eq!(per_core(LOCAL_IRQ_PENDING0, 3), 0x6c);
        assert_eq!(mailbox0(LOCAL_MAILBOX0_CLR0, 1), 0xd0);
        assert_eq!(mailbox0(LOCAL_MAILBOX0_SET0, 3), 0xb0);
        // The timer PPIs in the device tree's order: the virtual timer is the third.
        assert_eq!(TIMER_PPI_HWIRQ, [0, 1, 3, 2]);
    }
}
