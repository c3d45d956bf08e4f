//! ARMv7's steps of the shared boot sequence (`kernel_main` in `src/main.rs`), as Linux's
//! `start_kernel` calls `setup_arch`, `paging_init` and `mem_init` of `arch/arm/kernel/setup.c`
//! and `arch/arm/mm/`: the first lines of the log, where the boot parameters can be read, the
//! layout for the split, the RAM and a memory-layout profile, the carveouts, the lowmem
//! linear map, the banner. Every function here has a namesake in `kernel/setup/arm64.rs`.
use crate::arch::layout::{self, Layout, LayoutInput};
use crate::arch::{cpu, fault, image::image, mmu, profile};
use crate::boot::cmdline::BootParams;
use crate::boot::params::{self, ParamsError};
use crate::boot::{BootInfo, BootSource};
use crate::config::{PAGE_OFFSET, VMSPLIT};
use crate::console::commands;
use crate::console::printk::Console;
use crate::kernel::{BootParamsProblem, EntryState};
use crate::kprintln;
use crate::mm::era::{DmaZoneSpec, Era};
use crate::mm::memblock::Memblock;
use crate::mm::mm_init::MemoryLine;
use crate::sizes::SZ_1M;

/// Bytes the entry code maps for the boot parameters: the two 1 MiB sections from r2's.
const BOOT_PARAMS_WINDOW: u64 = 2 * SZ_1M;
/// r2 must lie below this for the entry code to map it: RAM ends below the BCM2836
/// peripheral window (the entry code, `arch/arm/entry.rs`, checks the same value).
const BOOT_PARAMS_LIMIT: u64 = 0x3f00_0000;

/// r2 = 0 means no boot parameters (QEMU's ELF loader passes none).
pub const PARAMS_AT_ZERO: bool = false;

/// Whether the CMA area that no device-tree node makes is reserved after the zones' lines: not
/// on ARM, whose `arm_memblock_init` calls `dma_contiguous_reserve(arm_dma_limit)` before
/// `paging_init` (which remaps the area).
pub const CMA_AFTER_ZONE_SIZES: bool = false;

/// `%pa`'s width in the CMA lines: the shortest hex, as pivm's ARMv7 kernel has always
/// printed it (the same as Linux's 8 digits of a 32-bit `phys_addr_t` from 0x10000000 up).
pub const PA_DIGITS: Option<usize> = None;

/// The first lines: the UART, the exception table sorted for the fault path's binary search
/// (start_kernel's `sort_main_extable`, before anything can fault through it), then what this
/// kernel is and how it was entered.
pub fn early_setup(entry: &EntryState) {
    crate::board::raspi::uart::init();
    fault::sort_main_extable();
    kprintln!("Booting pivm on physical CPU {:#x}", cpu::boot_cpu_hwid());
    kprintln!(
        "pivm version {} (VMSPLIT_{}, PAGE_OFFSET {:#010x})",
        crate::VERSION,
        VMSPLIT,
        PAGE_OFFSET
    );
    let _ = cpu::write_setup_processor(&mut Console);
    kprintln!(
        "Entered in {} mode at {:#x}{}, r1={:#x} r2={:#x}",
        cpu::entry_mode_name(entry.entry_cpsr),
        entry.load_addr,
        if entry.load_addr != image().text as u64 - PAGE_OFFSET {
            ", relocated to 0x8000"
        } else {
            ""
        },
        entry.machine,
        entry.params_reg
    );
}

/// Where the boot parameters at `pa` can be read: `PAGE_OFFSET + pa`, through the entry code's
/// mapping of r2's two sections, up to the end of that window, never into the image.
pub fn boot_params_window(pa: u64) -> Result<(u64, u64), ParamsError> {
    let img = image();
    let kernel = (img.text as u64 - PAGE_OFFSET, img.end as u64 - PAGE_OFFSET);
    let window_end = (pa & !(SZ_1M - 1)).saturating_add(BOOT_PARAMS_WINDOW);
    let readable = params::readable_len(pa, BOOT_PARAMS_LIMIT, window_end, kernel)?;
    Ok((PAGE_OFFSET + pa, readable))
}

/// The ARM's RAM from the firmware's property mailbox (`GET_ARM_MEMORY`), for a boot with
/// no parameters: the mailbox is reachable at its physical address this early.
pub fn firmware_arm_memory() -> Option<(u32, u32)> {
    crate::board::raspi::mailbox::arm_memory()
}

/// What the firmware told us, or why nothing (the mailbox is the fallback for RAM).
pub fn report_boot_params(entry: &EntryState, boot: &BootInfo, problem: &BootParamsProblem) {
    match boot.source {
        BootSource::Atags => kprintln!("ATAGs at {:#x}", entry.params_reg),
        BootSource::DeviceTree => kprintln!("OF: fdt: Machine model: {}", boot.model()),
        BootSource::Mailbox => {
            kprintln!("No ATAGs or device tree at r2; RAM size from the VideoCore mailbox")
        }
        BootSource::None => {}
    }
    if let BootSource::None = boot.source {
        kprintln!("pivm: boot parameters unusable ({}), and the mailbox did not answer", problem);
    } else if !matches!(problem, BootParamsProblem::None) {
        kprintln!("pivm: boot parameters: {}", problem);
    }
}

/// The layout, exactly as Linux computes it for this split and RAM, or as a memory-layout
/// profile (`pivm.profile=`) lays it out.
pub fn setup_layout(boot: &BootInfo, params: &BootParams) -> Layout {
    let profile =
        profile::lookup(params.profile.as_ref().map(|n| n.as_str())).unwrap_or_else(|e| {
            kprintln!("{}", e);
            profile::DEFAULT_PROFILE
        });
    let (mem, nr_mem) = params.mem.to_array();
    let input = LayoutInput {
        page_offset: PAGE_OFFSET,
        banks: boot.banks(),
        vmalloc: params.vmalloc,
        mem: &mem[..nr_mem],
        highmem: layout::CONFIG_HIGHMEM,
        dma_zone_size: None,
    };
    let (layout, warnings) = layout::compute_with_profile(&input, profile);
    for w in warnings.iter() {
        kprintln!("{}", w);
    }
    layout
}

/// The kernel image's physical range, reserved in memblock.
pub fn kernel_phys_range(_layout: &Layout) -> (u64, u64) {
    let img = image();
    (img.text as u64 - PAGE_OFFSET, img.end as u64 - PAGE_OFFSET)
}

/// RAM for memblock: every bank the layout keeps.
pub fn memblock_add_ram(layout: &Layout, memblock: &mut Memblock) {
    for b in layout.ram() {
        if let Err(e) = memblock.add(b.start.0, b.size) {
            kprintln!("memblock: {}", e);
        }
    }
}

/// The profile's carveouts (RAM the firmware or other processors keep).
pub fn arch_memblock_reserve(layout: &Layout, memblock: &mut Memblock) {
    for c in layout.carveouts() {
        if let Err(e) = memblock.reserve(c.start.0, c.size, c.name) {
            kprintln!("memblock: {}", e);
        }
    }
}

/// The kernel the applied profile models (`linux` when the asked-for one was rejected): its
/// era, ZONE_DMA, the CMA default.
pub fn era(layout: &Layout) -> &'static Era {
    layout.era()
}

/// `dma_contiguous_reserve(arm_dma_limit)`: the end of the profile's ZONE_DMA (no limit
/// without one).
pub fn cma_dma_limit(layout: &Layout) -> u64 {
    match layout.era().dma_zone {
        DmaZoneSpec::Exact(size) => layout.phys_offset.0.saturating_add(size),
        _ => u64::MAX,
    }
}

/// Final page tables: lowmem linear map (memblock's mappable memory), vectors, fixmap; the
/// identity map goes away.
pub fn paging_init(layout: &Layout, memblock: &mut Memblock) {
    if let Err(e) = mmu::paging_init(layout.high_memory.as_u64(), memblock, &mut Console) {
        kprintln!("paging_init failed: {:?}", e);
        cpu::halt();
    }
}

/// The "Zone ranges:" lines.
pub fn write_zone_ranges(layout: &Layout) {
    let _ = layout::write_zone_ranges(&mut Console, layout);
}

/// Once the vmalloc range exists: the oops describes addresses in it.
pub fn vmalloc_ready(_layout: &Layout) {
    fault::set_address_describer(crate::kernel::vmalloc::describe_fault_address);
}

/// The "Virtual kernel memory layout:" banner, and the profile's partition when it has one.
pub fn write_banner(layout: &Layout) {
    let _ = layout::write_banner(&mut Console, layout, &commands::kernel_sections());
    if !layout.carveouts().is_empty() || !layout.holes().is_empty() {
        let _ = layout::write_partition(&mut Console, layout);
    }
}

/// The image's sizes for the "Memory:" line (the image has no init section to free).
pub fn memory_line_sizes(line: &mut MemoryLine) {
    let img = image();
    line.code = (img.etext - img.text) as u64;
    line.rwdata = (img.edata - img.sdata) as u64;
    line.rodata = (img.end_rodata - img.start_rodata) as u64;
    line.init = 0;
    line.bss = (img.bss_stop - img.bss_start) as u64;
}

/// Whether the firmware entered in HYP mode (the timer then runs on the physical counter).
pub fn entered_in_hyp(entry: &EntryState) -> bool {
    cpu::entry_mode_name(entry.entry_cpsr) == "HYP_32"
}

/// The PL011 was set up first thing (`early_setup`): nothing more before its interrupt.
pub fn console_uart_init() {}

/// Nothing to note: the oops path returns to the console with interrupts as they were.
pub fn irqs_running() {}

/// Nothing allocated: pivm's ARM kernel runs interrupts on the interrupted stack (6.1's ARM
/// `init_irq_stacks`, `CONFIG_IRQSTACKS`, is not modelled there).
pub fn init_irq_stacks() {}

/// The console, forever.
pub fn run_console() -> ! {
    commands::console_loop()
}

/// The panic handler's oops.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fault::panic(info)
}

/// The resource tree of /proc/iomem: RAM with the kernel inside, the profile's carveouts,
/// and the devices pivm drives.
pub fn iomem(k: &crate::kernel::Kernel) -> crate::proc::iomem::ResourceTree {
    use crate::boot::reserved_mem;
    let img = image();
    let pa = |va: usize| va as u64 - PAGE_OFFSET;
    let mut t = crate::proc::iomem::ResourceTree::new();
    let dt_reserved = k.memblock.reserved().iter().filter(|r| reserved_mem::is_dt_owner(r.name));
    crate::proc::iomem::insert_ram(&mut t, &k.memblock, dt_reserved.map(|r| (r.base, r.end())));
    for c in k.layout.carveouts() {
        let _ = t.insert(c.start.0, c.start.0 + c.size - 1, c.name);
    }
    let _ = t.insert(pa(img.text), pa(img.etext) - 1, "Kernel code");
    let _ = t.insert(pa(img.sdata), pa(img.end) - 1, "Kernel data");
    crate::proc::iomem::insert_board_devices(&mut t);
    t
}

/// /proc/cpuinfo's contents: this CPU's registers, and the board's revision and serial
/// from the firmware.
pub fn cpuinfo() -> crate::arch::cpuinfo::CpuInfo<'static> {
    use crate::board::raspi::mailbox;
    let revision = mailbox::property2(mailbox::TAG_GET_BOARD_REVISION).map_or(0, |(r, _)| r);
    let serial = mailbox::property2(mailbox::TAG_GET_BOARD_SERIAL)
        .map_or(0, |(lo, hi)| (u64::from(hi) << 32) | u64::from(lo));
    crate::arch::cpuinfo::CpuInfo::read("BCM2835", crate::board::raspi::NR_CPUS, revision, serial)
}
