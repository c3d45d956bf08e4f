//! Linux's generic interrupt layer in the small (kernel/irq/): interrupt descriptors numbered
//! the way Linux numbers them (`early_irq_init` preallocates `NR_IRQS`, later ones are the
//! first free number from a hint, as `irq_domain_alloc_descs` finds it), linear IRQ domains
//! that map a controller's hardware numbers to them, the flow handlers (level, per-CPU,
//! chained) with per-CPU counts, `request_irq`, and the error count of
//! /proc/interrupts' `Err:` line. The controllers (`IrqChip`) and handlers are functions the
//! drivers register, so the table itself is plain data, tested on the host.
use core::fmt;

use crate::kernel::spinlock::IrqSpinLock;

/// CPUs a descriptor counts for (the BCM2836's four cores; Linux's `NR_CPUS` is larger).
pub const NR_CPUS: usize = crate::board::raspi::NR_CPUS as usize;
/// arch/arm's `NR_IRQS`: the descriptors `early_irq_init` preallocates.
pub const NR_IRQS: u32 = 16;
/// Descriptors the table holds (Linux's `IRQ_BITMAP_BITS`; the Pi 2 uses 127).
pub const IRQ_BITMAP_BITS: usize = 192;
/// IRQ domains the table holds.
pub const MAX_DOMAINS: usize = 4;
/// Hardware numbers a linear domain may have (the BCM2835 controller's three banks of 32).
pub const MAX_DOMAIN_SIZE: usize = 96;

/// What a handler did (`irqreturn_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    None,
    Handled,
}

/// A device's interrupt handler; runs with interrupts off.
pub type IrqHandler = fn(irq: u32) -> IrqReturn;

/// An interrupt controller's operations on one of its lines (`struct irq_chip`). Each runs
/// with interrupts off; `cpu` is the CPU handling the interrupt.
pub trait IrqChip: Sync {
    /// The name /proc/interrupts shows.
    fn name(&self) -> &'static str;
    fn mask(&self, _hwirq: u32, _cpu: usize) {}
    fn unmask(&self, _hwirq: u32, _cpu: usize) {}
    /// End of interrupt (per-CPU flow).
    fn eoi(&self, _hwirq: u32, _cpu: usize) {}
}

/// How a descriptor's interrupts are handled (its `handle_irq`).
#[derive(Clone, Copy)]
pub enum Flow {
    /// `handle_bad_irq`: nothing set the descriptor up; counted as an error.
    Bad,
    /// `handle_level_irq`: masked while the handler runs.
    Level,
    /// `handle_percpu_devid_irq`: a per-CPU interrupt (timers, IPIs).
    PercpuDevid,
    /// A chained handler demultiplexing a secondary controller (not counted itself).
    Chained(fn(&Irqs, cpu: usize)),
}

/// A requested handler (`struct irqaction`).
#[derive(Clone, Copy)]
pub struct IrqAction {
    pub name: &'static str,
    pub handler: IrqHandler,
}

/// An IRQ domain's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainId(pub u8);

/// What a domain's `map` gives a new mapping: its chip and flow, and whether it is per-CPU.
#[derive(Clone, Copy)]
pub struct ChipFlow {
    pub chip: &'static dyn IrqChip,
    pub flow: Flow,
    pub percpu: bool,
}

/// A domain's `.map` (or `.alloc`) operation: None refuses the hardware number.
pub type DomainMap = fn(hwirq: u32) -> Option<ChipFlow>;

/// One interrupt descriptor (`struct irq_desc`).
#[derive(Clone, Copy)]
pub struct IrqDesc {
    pub domain: Option<DomainId>,
    pub hwirq: u32,
    pub chip: Option<&'static dyn IrqChip>,
    pub flow: Flow,
    pub action: Option<IrqAction>,
    /// Interrupts handled, per CPU (`kstat_irqs`).
    pub kstat: [u32; NR_CPUS],
    /// Not listed in /proc/interrupts (`IRQ_HIDDEN`: the IPIs, shown on their own lines).
    pub hidden: bool,
    /// `irq_set_percpu_devid`.
    pub percpu: bool,
    /// CPUs the per-CPU interrupt is enabled on, or bit 0 for an ordinary one.
    pub enabled: u8,
}

impl IrqDesc {
    const fn new() -> Self {
        IrqDesc {
            domain: None,
            hwirq: 0,
            chip: None,
            flow: Flow::Bad,
            action: None,
            kstat: [0; NR_CPUS],
            hidden: false,
            percpu: false,
            enabled: 0,
        }
    }

    /// Whether the flow is a chained handler (`irq_desc_is_chained`).
    pub fn is_chained(&self) -> bool {
        matches!(self.flow, Flow::Chained(_))
    }
}

/// A linear IRQ domain (`irq_domain_add_linear`): hardware number -> Linux number.
#[derive(Clone, Copy)]
struct Domain {
    size: u32,
    /// 0: not mapped (Linux number 0 is never handed out).
    revmap: [u16; MAX_DOMAIN_SIZE],
    map: DomainMap,
}

/// Why an interrupt operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// No free descriptor numbers left (`-ENOMEM`).
    NoDescriptors,
    /// No such descriptor, domain or hardware number (`-EINVAL`).
    Invalid,
    /// The descriptor already has a handler (`-EBUSY`).
    Busy,
    /// The domain table is full.
    NoDomains,
}

impl fmt::Display for IrqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IrqError::NoDescriptors => "no free interrupt descriptors",
            IrqError::Invalid => "invalid interrupt",
            IrqError::Busy => "interrupt already requested",
            IrqError::NoDomains => "no room for another IRQ domain",
        })
    }
}

/// The descriptors and domains.
pub struct IrqTable {
    descs: [Option<IrqDesc>; IRQ_BITMAP_BITS],
    /// One more than the highest allocated number (Linux's `nr_irqs`).
    nr_irqs: u32,
    domains: [Option<Domain>; MAX_DOMAINS],
    /// Interrupts nobody handles (`irq_err_count`).
    err_count: u32,
}

impl IrqTable {
    /// `early_irq_init`: the `NR_IRQS` legacy descriptors exist from the start.
    pub const fn new() -> Self {
        let mut descs = [None; IRQ_BITMAP_BITS];
        let mut i = 0;
        while i < NR_IRQS as usize {
            descs[i] = Some(IrqDesc::new());
            i += 1;
        }
        IrqTable { descs, nr_irqs: NR_IRQS, domains: [None; MAX_DOMAINS], err_count: 0 }
    }

    /// `nr_irqs`.
    pub fn nr_irqs(&self) -> u32 {
        self.nr_irqs
    }

    pub fn desc(&self, irq: u32) -> Option<&IrqDesc> {
        self.descs.get(irq as usize)?.as_ref()
    }

    fn desc_mut(&mut self, irq: u32) -> Result<&mut IrqDesc, IrqError> {
        self.descs.get_mut(irq as usize).and_then(Option::as_mut).ok_or(IrqError::Invalid)
    }

    /// `__irq_alloc_descs(-1, from, cnt)`: the first `cnt` free numbers in a row at or after
    /// `from`; `nr_irqs` grows to cover them.
    fn alloc_descs(&mut self, from: u32, cnt: u32) -> Result<u32, IrqError> {
        let cnt = cnt as usize;
        let mut start = from as usize;
        while start + cnt <= IRQ_BITMAP_BITS {
            match self.descs[start..start + cnt].iter().rposition(Option::is_some) {
                None => {
                    for d in &mut self.descs[start..start + cnt] {
                        *d = Some(IrqDesc::new());
                    }
                    self.nr_irqs = self.nr_irqs.max((start + cnt) as u32);
                    return Ok(start as u32);
                }
                Some(taken) => start += taken + 1,
            }
        }
        Err(IrqError::NoDescriptors)
    }

    /// `irq_domain_alloc_descs`: numbers for a mapping of `hwirq`, from the hint
    /// `hwirq % nr_irqs` (never 0), else from 1.
    fn domain_alloc_descs(&mut self, cnt: u32, hwirq: u32) -> Result<u32, IrqError> {
        let hint = (hwirq % self.nr_irqs).max(1);
        self.alloc_descs(hint, cnt).or_else(|e| {
            if hint > 1 {
                self.alloc_descs(1, cnt)
            } else {
                Err(e)
            }
        })
    }

    /// `irq_domain_add_linear`.
    pub fn add_domain(&mut self, size: u32, map: DomainMap) -> Result<DomainId, IrqError> {
        if size as usize > MAX_DOMAIN_SIZE {
            return Err(IrqError::Invalid);
        }
        let slot = self.domains.iter().position(Option::is_none).ok_or(IrqError::NoDomains)?;
        self.domains[slot] = Some(Domain { size, revmap: [0; MAX_DOMAIN_SIZE], map });
        Ok(DomainId(slot as u8))
    }

    fn domain(&self, d: DomainId) -> Result<&Domain, IrqError> {
        self.domains.get(d.0 as usize).and_then(Option::as_ref).ok_or(IrqError::Invalid)
    }

    /// `irq_find_mapping`.
    pub fn find_mapping(&self, d: DomainId, hwirq: u32) -> Option<u32> {
        let dom = self.domain(d).ok()?;
        let irq = *dom.revmap.get(hwirq as usize).filter(|_| hwirq < dom.size)?;
        (irq != 0).then_some(u32::from(irq))
    }

    /// Gives descriptor `irq` hardware number `hwirq` of domain `d` and what its `map` says.
    fn associate(&mut self, d: DomainId, irq: u32, hwirq: u32) -> Result<(), IrqError> {
        let dom = *self.domain(d)?;
        let cf = (dom.map)(hwirq).ok_or(IrqError::Invalid)?;
        let desc = self.desc_mut(irq)?;
        desc.domain = Some(d);
        desc.hwirq = hwirq;
        desc.chip = Some(cf.chip);
        desc.flow = cf.flow;
        desc.percpu = cf.percpu;
        if let Some(dom) = self.domains[d.0 as usize].as_mut() {
            dom.revmap[hwirq as usize] = irq as u16;
        }
        Ok(())
    }

    /// `irq_create_mapping`: the Linux number of `hwirq` in `d`, made if it has none yet.
    pub fn create_mapping(&mut self, d: DomainId, hwirq: u32) -> Result<u32, IrqError> {
        if hwirq >= self.domain(d)?.size {
            return Err(IrqError::Invalid);
        }
        if let Some(irq) = self.find_mapping(d, hwirq) {
            return Ok(irq);
        }
        let irq = self.domain_alloc_descs(1, hwirq)?;
        if let Err(e) = self.associate(d, irq, hwirq) {
            self.descs[irq as usize] = None;
            return Err(e);
        }
        Ok(irq)
    }

    /// `irq_domain_alloc_irqs(d, cnt)`: `cnt` numbers in a row for hardware numbers 0..cnt.
    pub fn alloc_irqs(&mut self, d: DomainId, cnt: u32) -> Result<u32, IrqError> {
        if cnt == 0 || cnt > self.domain(d)?.size {
            return Err(IrqError::Invalid);
        }
        let base = self.domain_alloc_descs(cnt, 0)?;
        for i in 0..cnt {
            self.associate(d, base + i, i)?;
        }
        Ok(base)
    }

    /// `irq_set_status_flags(irq, IRQ_HIDDEN)`.
    pub fn set_hidden(&mut self, irq: u32) -> Result<(), IrqError> {
        self.desc_mut(irq)?.hidden = true;
        Ok(())
    }

    /// `irq_set_chained_handler`: the line now feeds `handler`, and is started (unmasked).
    pub fn set_chained_handler(
        &mut self,
        irq: u32,
        handler: fn(&Irqs, usize),
    ) -> Result<Startup, IrqError> {
        let desc = self.desc_mut(irq)?;
        desc.flow = Flow::Chained(handler);
        desc.enabled |= 1;
        Ok(Startup { chip: desc.chip, hwirq: desc.hwirq })
    }

    /// `request_irq` (ordinary) or `request_percpu_irq`: installs the handler; an ordinary
    /// interrupt is started at once, a per-CPU one on each CPU's `enable_percpu_irq`.
    pub fn request(
        &mut self,
        irq: u32,
        handler: IrqHandler,
        name: &'static str,
        percpu: bool,
    ) -> Result<Option<Startup>, IrqError> {
        let desc = self.desc_mut(irq)?;
        if desc.chip.is_none() || desc.is_chained() || desc.percpu != percpu {
            return Err(IrqError::Invalid);
        }
        if desc.action.is_some() {
            return Err(IrqError::Busy);
        }
        desc.action = Some(IrqAction { name, handler });
        if percpu {
            return Ok(None);
        }
        desc.enabled |= 1;
        Ok(Some(Startup { chip: desc.chip, hwirq: desc.hwirq }))
    }

    /// `enable_percpu_irq` on `cpu`.
    pub fn enable_percpu(&mut self, irq: u32, cpu: usize) -> Result<Startup, IrqError> {
        let desc = self.desc_mut(irq)?;
        if !desc.percpu || cpu >= NR_CPUS {
            return Err(IrqError::Invalid);
        }
        desc.enabled |= 1 << cpu;
        Ok(Startup { chip: desc.chip, hwirq: desc.hwirq })
    }

    /// Errors counted so far (`irq_err_count`).
    pub fn err_count(&self) -> u32 {
        self.err_count
    }

    /// Sum of every descriptor's count (/proc/stat's `intr` total).
    pub fn kstat_sum(&self) -> u64 {
        self.descs.iter().flatten().flat_map(|d| d.kstat).map(u64::from).sum()
    }

    /// What handling `irq` on `cpu` takes (`handle_irq_desc`'s first half, under the lock):
    /// counts it where its flow does, and returns what runs next, outside the lock.
    fn begin(&mut self, irq: u32, cpu: usize) -> Dispatch {
        let Some(desc) = self.descs.get_mut(irq as usize).and_then(Option::as_mut) else {
            self.err_count = self.err_count.wrapping_add(1);
            return Dispatch::Nothing;
        };
        let chip = desc.chip;
        match desc.flow {
            Flow::Bad => {
                // handle_bad_irq: counted, then ack_bad_irq's irq_err_count.
                desc.kstat[cpu] = desc.kstat[cpu].wrapping_add(1);
                self.err_count = self.err_count.wrapping_add(1);
                Dispatch::Nothing
            }
            Flow::Chained(f) => Dispatch::Chained(f),
            Flow::Level => {
                desc.kstat[cpu] = desc.kstat[cpu].wrapping_add(1);
                match (chip, desc.action) {
                    (Some(chip), Some(action)) if desc.enabled & 1 != 0 => {
                        Dispatch::Level { chip, hwirq: desc.hwirq, action }
                    }
                    // No handler (or disabled): left masked, as handle_level_irq does.
                    (Some(chip), _) => Dispatch::Mask { chip, hwirq: desc.hwirq, eoi: false },
                    (None, _) => Dispatch::Nothing,
                }
            }
            Flow::PercpuDevid => {
                desc.kstat[cpu] = desc.kstat[cpu].wrapping_add(1);
                let enabled = desc.enabled & (1 << cpu) != 0;
                match (chip, desc.action) {
                    (Some(chip), Some(action)) if enabled => {
                        Dispatch::Percpu { chip, hwirq: desc.hwirq, action }
                    }
                    // handle_percpu_devid_irq without an enabled action: a spurious per-CPU
                    // interrupt, masked on this CPU.
                    (Some(chip), _) => Dispatch::Mask { chip, hwirq: desc.hwirq, eoi: true },
                    (None, _) => Dispatch::Nothing,
                }
            }
        }
    }
}

impl Default for IrqTable {
    fn default() -> Self {
        Self::new()
    }
}

/// A line to unmask now that it was started (done by the caller, outside the table's lock).
#[derive(Clone, Copy)]
pub struct Startup {
    chip: Option<&'static dyn IrqChip>,
    hwirq: u32,
}

impl Startup {
    fn run(self, cpu: usize) {
        if let Some(chip) = self.chip {
            chip.unmask(self.hwirq, cpu);
        }
    }
}

/// What `begin` decided.
enum Dispatch {
    Nothing,
    Mask { chip: &'static dyn IrqChip, hwirq: u32, eoi: bool },
    Chained(fn(&Irqs, usize)),
    Level { chip: &'static dyn IrqChip, hwirq: u32, action: IrqAction },
    Percpu { chip: &'static dyn IrqChip, hwirq: u32, action: IrqAction },
}

/// The table behind an interrupt-safe lock, and the operations drivers use. The lock is
/// never held while a chip operation or a handler runs.
pub struct Irqs {
    table: IrqSpinLock<IrqTable>,
}

impl Irqs {
    pub const fn new() -> Self {
        Irqs { table: IrqSpinLock::new(IrqTable::new()) }
    }

    /// Runs `f` on the table (setup, and the /proc snapshots).
    pub fn with<R>(&self, f: impl FnOnce(&mut IrqTable) -> R) -> R {
        f(&mut self.table.lock())
    }

    pub fn add_domain(&self, size: u32, map: DomainMap) -> Result<DomainId, IrqError> {
        self.with(|t| t.add_domain(size, map))
    }

    pub fn create_mapping(&self, d: DomainId, hwirq: u32) -> Result<u32, IrqError> {
        self.with(|t| t.create_mapping(d, hwirq))
    }

    pub fn alloc_irqs(&self, d: DomainId, cnt: u32) -> Result<u32, IrqError> {
        self.with(|t| t.alloc_irqs(d, cnt))
    }

    pub fn set_hidden(&self, irq: u32) -> Result<(), IrqError> {
        self.with(|t| t.set_hidden(irq))
    }

    pub fn set_chained_handler(
        &self,
        irq: u32,
        handler: fn(&Irqs, usize),
        cpu: usize,
    ) -> Result<(), IrqError> {
        self.with(|t| t.set_chained_handler(irq, handler))?.run(cpu);
        Ok(())
    }

    /// `request_irq`: the handler runs on the interrupt from now on (the line is unmasked).
    pub fn request_irq(
        &self,
        irq: u32,
        handler: IrqHandler,
        name: &'static str,
        cpu: usize,
    ) -> Result<(), IrqError> {
        if let Some(s) = self.with(|t| t.request(irq, handler, name, false))? {
            s.run(cpu);
        }
        Ok(())
    }

    /// `request_percpu_irq`: the handler, for each CPU that enables the line.
    pub fn request_percpu_irq(
        &self,
        irq: u32,
        handler: IrqHandler,
        name: &'static str,
    ) -> Result<(), IrqError> {
        self.with(|t| t.request(irq, handler, name, true)).map(|_| ())
    }

    /// `enable_percpu_irq` on the calling CPU.
    pub fn enable_percpu_irq(&self, irq: u32, cpu: usize) -> Result<(), IrqError> {
        self.with(|t| t.enable_percpu(irq, cpu))?.run(cpu);
        Ok(())
    }

    /// `generic_handle_domain_irq`: handles hardware interrupt `hwirq` of `d` on `cpu`;
    /// an unmapped one is an error (`Err:`).
    pub fn generic_handle_domain_irq(&self, d: DomainId, hwirq: u32, cpu: usize) {
        let irq = self.with(|t| {
            let irq = t.find_mapping(d, hwirq);
            if irq.is_none() {
                t.err_count = t.err_count.wrapping_add(1);
            }
            irq
        });
        if let Some(irq) = irq {
            self.handle_irq(irq, cpu);
        }
    }

    /// `generic_handle_irq`: runs descriptor `irq`'s flow.
    pub fn handle_irq(&self, irq: u32, cpu: usize) {
        match self.with(|t| t.begin(irq, cpu)) {
            Dispatch::Nothing => {}
            Dispatch::Mask { chip, hwirq, eoi } => {
                chip.mask(hwirq, cpu);
                if eoi {
                    chip.eoi(hwirq, cpu);
                }
            }
            Dispatch::Chained(f) => f(self, cpu),
            Dispatch::Level { chip, hwirq, action } => {
                // handle_level_irq: mask and ack, handle, unmask.
                chip.mask(hwirq, cpu);
                (action.handler)(irq);
                chip.unmask(hwirq, cpu);
            }
            Dispatch::Percpu { chip, hwirq, action } => {
                (action.handler)(irq);
                chip.eoi(hwirq, cpu);
            }
        }
    }
}

impl Default for Irqs {
    fn default() -> Self {
        Self::new()
    }
}

/// The kernel's interrupt descriptors.
pub static IRQS: Irqs = Irqs::new();

/// CPUs online (`cpu_online_mask`): the boot CPU; cores 1-3 stay parked.
pub static CPU_ONLINE_MASK: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The online CPUs' numbers, in order.
pub fn online_cpus() -> impl Iterator<Item = usize> {
    let mask = CPU_ONLINE_MASK.load(core::sync::atomic::Ordering::Relaxed);
    (0..NR_CPUS).filter(move |c| mask & (1 << c) != 0)
}

/// `early_irq_init`'s boot line.
pub struct EarlyIrqInit;

impl fmt::Display for EarlyIrqInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NR_IRQS: {NR_IRQS}, nr_irqs: {NR_IRQS}, preallocated irqs: {NR_IRQS}")
    }
}

#[cfg(kernel)]
pub use device::*;

/// The running kernel's entry points on `IRQS`, for the calling CPU.
#[cfg(kernel)]
mod device {
    use super::*;
    use crate::arch::irq::smp_processor_id;

    /// `request_irq` on `IRQS`.
    pub fn request_irq(irq: u32, handler: IrqHandler, name: &'static str) -> Result<(), IrqError> {
        IRQS.request_irq(irq, handler, name, smp_processor_id())
    }

    /// `request_percpu_irq` on `IRQS`.
    pub fn request_percpu_irq(
        irq: u32,
        handler: IrqHandler,
        name: &'static str,
    ) -> Result<(), IrqError> {
        IRQS.request_percpu_irq(irq, handler, name)
    }

    /// `enable_percpu_irq` on `IRQS`, for this CPU (`_type` is Linux's trigger argument).
    pub fn enable_percpu_irq(irq: u32, _type: u32) -> Result<(), IrqError> {
        IRQS.enable_percpu_irq(irq, smp_processor_id())
    }

    /// The boot CPU comes online (`boot_cpu_init`).
    pub fn boot_cpu_init() {
        CPU_ONLINE_MASK.fetch_or(1 << smp_processor_id(), core::sync::atomic::Ordering::Relaxed);
    }

    /// The online CPUs' numbers, as an array and its length.
    fn online() -> ([usize; NR_CPUS], usize) {
        let mut cpus = [0; NR_CPUS];
        let mut n = 0;
        for c in online_cpus() {
            cpus[n] = c;
            n += 1;
        }
        (cpus, n)
    }

    /// /proc/interrupts, each descriptor read under the lock on its own (as Linux's
    /// seq_file does), so interrupts are never held off for the whole file.
    pub fn render_interrupts(w: &mut impl core::fmt::Write) -> core::fmt::Result {
        use crate::board::raspi::irq_bcm2836::ipis;
        use crate::proc::interrupts::{render, IpiLine, IrqLine};
        let (cpus, n) = online();
        let (nr_irqs, err) = IRQS.with(|t| (t.nr_irqs(), t.err_count()));
        let lines =
            (0..nr_irqs).filter_map(|irq| IRQS.with(|t| t.desc(irq).map(|d| IrqLine::of(irq, d))));
        let ipi_lines = ipis().filter_map(|(irq, name)| {
            IRQS.with(|t| t.desc(irq).map(|d| IpiLine { counts: d.kstat, name }))
        });
        render(w, nr_irqs, &cpus[..n], lines, ipi_lines, err)
    }

    /// /proc/stat's CPU lines (the boot CPU's tick accounting) and `intr` line.
    pub fn render_stat(w: &mut impl core::fmt::Write) -> core::fmt::Result {
        let ticks = crate::kernel::time::cpu_ticks();
        let (cpus, n) = online();
        let mut per_cpu = [(0, crate::kernel::time::CpuTicks::default()); NR_CPUS];
        for (i, &c) in cpus[..n].iter().enumerate() {
            // Only the boot CPU runs, and ticks.
            per_cpu[i] = (c, if c == smp_processor_id() { ticks } else { Default::default() });
        }
        let nr_irqs = IRQS.with(|t| t.nr_irqs());
        let counts = (0..nr_irqs).map(|irq| {
            IRQS.with(|t| t.desc(irq).map_or(0, |d| d.kstat.iter().copied().map(u64::from).sum()))
        });
        crate::proc::stat::render(w, &per_cpu[..n], counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicU32, Ordering};

    struct TestChip {
        name: &'static str,
        masks: AtomicU32,
        unmasks: AtomicU32,
    }

    impl IrqChip for TestChip {
        fn name(&self) -> &'static str {
            self.name
        }
        fn mask(&self, _: u32, _: usize) {
            self.masks.fetch_add(1, Ordering::Relaxed);
        }
        fn unmask(&self, _: u32, _: usize) {
            self.unmasks.fetch_add(1, Ordering::Relaxed);
        }
    }

    static LOCAL: TestChip =
        TestChip { name: "local", masks: AtomicU32::new(0), unmasks: AtomicU32::new(0) };
    static LEVEL: TestChip =
        TestChip { name: "level", masks: AtomicU32::new(0), unmasks: AtomicU32::new(0) };

    fn local_map(hw: u32) -> Option<ChipFlow> {
        (hw < 10).then_some(ChipFlow { chip: &LOCAL, flow: Flow::PercpuDevid, percpu: true })
    }
    fn level_map(_hw: u32) -> Option<ChipFlow> {
        Some(ChipFlow { chip: &LEVEL, flow: Flow::Level, percpu: false })
    }

    /// The sequence of mappings Linux 6.1 makes on the Pi 2 (bcm2836 local controller,
    /// its IPI domain, the chained BCM2835 controller, the arch timer's four PPIs and the
    /// PMU) gives the numbers Debian's kernel shows in /proc/interrupts.
    #[test]
    fn descriptor_numbers_follow_linux_61_on_the_pi_2() {
        let mut t = IrqTable::new();
        assert_eq!(t.nr_irqs(), 16);
        let local = t.add_domain(10, local_map).unwrap();
        assert_eq!(t.create_mapping(local, 4), Ok(16)); // the mailbox-0 IPI mux
        let ipi = t.add_domain(32, local_map_any).unwrap();
        assert_eq!(t.alloc_irqs(ipi, 32), Ok(17));
        let armctrl = t.add_domain(96, level_map).unwrap();
        let mut numbers = [0u32; 96];
        for (b, n) in [(0u32, 8u32), (1, 32), (2, 32)] {
            for i in 0..n {
                numbers[(b * 32 + i) as usize] = t.create_mapping(armctrl, b * 32 + i).unwrap();
            }
        }
        // 3f00b880.mailbox (bank 0 bit 1), the system timer (GPU 3), uart-pl011 (GPU 57).
        assert_eq!(numbers[1], 50);
        assert_eq!(numbers[35], 60);
        assert_eq!(numbers[89], 114);
        assert_eq!(t.create_mapping(local, 8), Ok(121)); // the chained GPU interrupt
                                                         // arch_timer: the device tree lists PPIs 0, 1, 3, 2; the virtual timer is 3.
        assert_eq!(t.create_mapping(local, 0), Ok(122));
        assert_eq!(t.create_mapping(local, 1), Ok(123));
        assert_eq!(t.create_mapping(local, 3), Ok(124));
        assert_eq!(t.create_mapping(local, 2), Ok(125));
        assert_eq!(t.create_mapping(local, 9), Ok(126)); // arm-pmu
        assert_eq!(t.nr_irqs(), 127);
        // A mapping is made once; refused hardware numbers take no descriptor.
        assert_eq!(t.create_mapping(local, 3), Ok(124));
        assert_eq!(t.create_mapping(local, 10), Err(IrqError::Invalid));
        assert_eq!(t.find_mapping(armctrl, 89), Some(114));
        assert_eq!(t.find_mapping(armctrl, 8), None); // bank 0 has 8 lines
        assert_eq!(t.nr_irqs(), 127);
    }

    fn local_map_any(_: u32) -> Option<ChipFlow> {
        Some(ChipFlow { chip: &LOCAL, flow: Flow::PercpuDevid, percpu: true })
    }

    #[test]
    fn descriptors_run_out_cleanly() {
        let mut t = IrqTable::new();
        let d = t.add_domain(96, level_map).unwrap();
        for hw in 0..96 {
            t.create_mapping(d, hw).unwrap();
        }
        let d2 = t.add_domain(96, level_map).unwrap();
        let mut last = Ok(0);
        for hw in 0..96 {
            last = t.create_mapping(d2, hw);
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(IrqError::NoDescriptors));
        assert_eq!(t.nr_irqs() as usize, IRQ_BITMAP_BITS);
    }

    static HANDLED: AtomicU32 = AtomicU32::new(0);
    fn count_handler(_: u32) -> IrqReturn {
        HANDLED.fetch_add(1, Ordering::Relaxed);
        IrqReturn::Handled
    }

    static CHAIN_DOMAIN: AtomicU32 = AtomicU32::new(0);
    fn chained(irqs: &Irqs, cpu: usize) {
        irqs.generic_handle_domain_irq(
            DomainId(CHAIN_DOMAIN.load(Ordering::Relaxed) as u8),
            5,
            cpu,
        );
    }

    #[test]
    fn flows_count_dispatch_and_mask() {
        let irqs = Irqs::new();
        let local = irqs.add_domain(10, local_map).unwrap();
        let level = irqs.add_domain(32, level_map).unwrap();
        CHAIN_DOMAIN.store(u32::from(level.0), Ordering::Relaxed);
        let timer = irqs.create_mapping(local, 3).unwrap();
        let gpu = irqs.create_mapping(local, 8).unwrap();
        let uart = irqs.create_mapping(level, 5).unwrap();
        irqs.set_chained_handler(gpu, chained, 0).unwrap();
        // Per-CPU: requested but not enabled on this CPU, the interrupt is masked again.
        irqs.request_percpu_irq(timer, count_handler, "arch_timer").unwrap();
        let before = HANDLED.load(Ordering::Relaxed);
        irqs.handle_irq(timer, 0);
        assert_eq!(HANDLED.load(Ordering::Relaxed), before);
        irqs.enable_percpu_irq(timer, 0).unwrap();
        irqs.generic_handle_domain_irq(local, 3, 0);
        assert_eq!(HANDLED.load(Ordering::Relaxed), before + 1);
        // The chained line demultiplexes to the level interrupt, which is counted, not it.
        assert_eq!(irqs.request_irq(uart, count_handler, "uart-pl011", 0), Ok(()));
        assert_eq!(irqs.request_irq(uart, count_handler, "again", 0), Err(IrqError::Busy));
        irqs.generic_handle_domain_irq(local, 8, 0);
        assert_eq!(HANDLED.load(Ordering::Relaxed), before + 2);
        irqs.with(|t| {
            assert_eq!(t.desc(timer).unwrap().kstat, [2, 0, 0, 0]);
            assert_eq!(t.desc(uart).unwrap().kstat, [1, 0, 0, 0]);
            assert_eq!(t.desc(gpu).unwrap().kstat, [0; 4]);
            assert_eq!(t.kstat_sum(), 3);
            assert_eq!(t.err_count(), 0);
        });
        // An unmapped hardware number and a bare descriptor are errors.
        irqs.generic_handle_domain_irq(local, 7, 0);
        irqs.handle_irq(3, 1);
        irqs.with(|t| {
            assert_eq!(t.err_count(), 2);
            assert_eq!(t.desc(3).unwrap().kstat, [0, 1, 0, 0]);
        });
        // A level interrupt without a handler is left masked.
        let other = irqs.create_mapping(level, 6).unwrap();
        let masks = LEVEL.masks.load(Ordering::Relaxed);
        irqs.handle_irq(other, 0);
        assert!(LEVEL.masks.load(Ordering::Relaxed) > masks);
    }

    #[test]
    fn boot_line() {
        assert_eq!(EarlyIrqInit.to_string(), "NR_IRQS: 16, nr_irqs: 16, preallocated irqs: 16");
    }
}
