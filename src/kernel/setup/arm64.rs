//! arm64's steps of the shared boot sequence (`kernel_main` in `src/main.rs`), as Linux's
//! `start_kernel` calls `setup_arch`, `paging_init` and `mem_init` of
//! `arch/arm64/kernel/setup.c` and `arch/arm64/mm/`: the first lines of the log, where the
//! boot parameters can be read, the layout for `VA_BITS` and RAM with the zones from the device
//! tree's `dma-ranges`, the linear map, the kernel image's vmap areas, the 4.15-format banner,
//! and the console's restart point after an oops. Every function here has a namesake in
//! `kernel/setup/arm.rs`.
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::head::{self as boot, pgtable, traps};
use crate::arch::layout::{self, Layout};
use crate::arch::memory::{self, THREAD_ALIGN, THREAD_SIZE};
use crate::board::raspi::io::{self, Device};
use crate::board::raspi::map;
use crate::boot::cmdline::BootParams;
use crate::boot::params::{self, ParamsError};
use crate::boot::{BootInfo, BootSource};
use crate::config::VA_BITS;
use crate::console::printk::Console;
use crate::kernel::{self, BootParamsProblem, EntryState};
use crate::kprintln;
use crate::mm::era::{DmaZoneSpec, Era, KernelEra, VmallocMeminfo, CMA_64M, LINUX_MAX_ORDER};
use crate::mm::memblock::Memblock;
use crate::mm::mm_init::MemoryLine;
use crate::sizes::SZ_2M;

/// PSTATE.M of the exception level the loader entered at (SPSR's encoding: ELxh).
const PSTATE_M_EL2H: u32 = 0b1001;
const PSTATE_M_EL3H: u32 = 0b1101;

/// What the arm64 kernel is built as: Debian's `linux-image-6.1.0-*-arm64` (the reference):
/// 6.1's page allocator, MAX_ORDER 11 (`ARCH_FORCE_MAX_ORDER`), `CONFIG_CMA_SIZE_MBYTES=64`.
/// Its zones come from the device tree (`Layout::with_zone_dma_bits`), not from here.
pub const ERA: Era = Era {
    kernel: "Linux 6.1, Debian's arm64",
    page_alloc: KernelEra::Linux61,
    max_order: LINUX_MAX_ORDER,
    dma_zone: DmaZoneSpec::AllLowmem,
    cma_default: Some(CMA_64M),
    kmalloc_max_size: None,
    vmalloc_meminfo: VmallocMeminfo::NrPages,
};

/// x0 = 0 can be a device tree: QEMU's ELF loader puts `-dtb`'s blob at physical 0 and leaves
/// x0 at its reset value (the probe saw it).
pub const PARAMS_AT_ZERO: bool = true;

/// Whether the CMA area that no device-tree node makes is reserved after the zones' lines:
/// arm64 6.1's `bootmem_init` calls `dma_contiguous_reserve(arm64_dma_phys_limit)` after
/// `zone_sizes_init` (the limit comes from the zones), so `cma: Reserved` follows `Zone
/// ranges:`. A device tree's `linux,cma` node is made earlier, by the reserved-memory scan.
pub const CMA_AFTER_ZONE_SIZES: bool = true;

/// `%pa`'s width: 16 hex digits of arm64's 64-bit `phys_addr_t` (the reference's
/// "CMA memory pool at 0x0000000038000000").
pub const PA_DIGITS: Option<usize> = Some(16);

// The boot stack's top: the console's stack if vmalloc cannot give it one.
extern "C" {
    static __boot_stack_top: u8;
}

/// How the loader started us: x0 and the exception level `head.rs` recorded.
pub fn entry_state(x0: u64) -> EntryState {
    let el = boot::ENTRY_EL.load(Ordering::Relaxed);
    EntryState {
        params_reg: x0,
        machine: 0,
        entry_cpsr: if el == 3 { PSTATE_M_EL3H } else { PSTATE_M_EL2H },
        load_addr: boot::LOAD_PA,
    }
}

/// The first moments at the kernel's addresses: the identity map goes (TTBR0 walks the empty
/// `reserved_pg_dir`), the UART through earlycon's fixmap slot, the vectors; then the lines
/// that say what this kernel is and how it was entered.
pub fn early_setup(entry: &EntryState) {
    boot::uninstall_idmap();
    let fix = memory::fix_to_virt(VA_BITS, memory::FIX_EARLYCON_MEM_BASE);
    io::set_base(Device::Uart0, (fix + (map::UART0_BASE & 0xfff)) as usize);
    traps::trap_init();
    kprintln!(
        "Booting pivm on physical CPU {:#012x} [{:#010x}]",
        boot::boot_cpu_hwid(),
        boot::midr()
    );
    kprintln!(
        "pivm version {} (arm64, VA_BITS={}, {} levels, 4K pages)",
        crate::VERSION,
        VA_BITS,
        memory::pgtable_levels(VA_BITS)
    );
    kprintln!(
        "CPU: entered at EL{}, running at EL1; x0={:#x}",
        boot::ENTRY_EL.load(Ordering::Relaxed),
        entry.params_reg
    );
    let (mair, tcr, ok) = boot::translation_regs_match();
    kprintln!(
        "MMU: MAIR_EL1={mair:#018x} TCR_EL1={tcr:#018x}{}",
        if ok { " (Linux's values)" } else { " (DIFFERENT from the computed values)" }
    );
}

/// Where the boot parameters at `pa` can be read: their linear-map address and how many bytes
/// from there lie in the early linear map's two 2 MiB blocks around `pa` and outside the image.
pub fn boot_params_window(pa: u64) -> Result<(u64, u64), ParamsError> {
    let window_end = (pa & !(SZ_2M - 1)) + 2 * SZ_2M;
    let image = (boot::LOAD_PA, boot::LOAD_PA + (boot::sections().end - boot::KIMAGE_VADDR));
    let readable = params::readable_len(pa, u64::MAX, window_end, image)?;
    Ok((memory::page_offset(VA_BITS) + pa, readable))
}

/// The ARM's RAM from the firmware's property mailbox (`GET_ARM_MEMORY`), when x0 gave none
/// (QEMU's ELF loader without `-dtb`; arm64 Linux has no such fallback, pivm's own). Nothing
/// maps the mailbox this early on arm64, so its page goes to the first early_ioremap slot
/// (`FIX_BTMAP_BEGIN`) for the call and is unmapped after it (`early_iounmap`).
pub fn firmware_arm_memory() -> Option<(u32, u32)> {
    let pa = Device::Mailbox.phys();
    let va = memory::fix_to_virt(VA_BITS, memory::FIX_BTMAP_BEGIN);
    let page = crate::mm::PAGE_SIZE;
    if let Err(e) = boot::map_kernel(va, pa & !(page - 1), page, pgtable::PROT_DEVICE_NGNRE, false)
    {
        kprintln!("pivm: early_ioremap of the mailbox at {pa:#x} failed: {e:?}");
        return None;
    }
    let boot_base = io::base(Device::Mailbox);
    io::set_base(Device::Mailbox, (va + (pa & (page - 1))) as usize);
    let memory = crate::board::raspi::mailbox::arm_memory();
    io::set_base(Device::Mailbox, boot_base);
    if crate::arch::mmu::unmap_kernel_page(va as usize).is_some() {
        crate::arch::mmu::flush_tlb_kernel_range(va as usize, (va + page) as usize);
    }
    memory
}

/// What the boot parameters were; halts when they gave no RAM and the mailbox did not answer.
pub fn report_boot_params(entry: &EntryState, boot: &BootInfo, problem: &BootParamsProblem) {
    let x0 = entry.params_reg;
    if !matches!(problem, BootParamsProblem::None) {
        kprintln!("pivm: boot parameters: {problem}");
    }
    match boot.source {
        BootSource::Atags => kprintln!("ATAGs at {x0:#x}"),
        BootSource::DeviceTree => kprintln!("Machine model: {}", boot.model()),
        BootSource::Mailbox => {
            let bank = boot.banks()[0];
            kprintln!(
                "No ATAGs or device tree at x0={x0:#x}; RAM from the VideoCore mailbox: \
                 [mem {:#018x}-{:#018x}] ({} MiB)",
                bank.start.0,
                bank.end() - 1,
                (bank.end() - bank.start.0) >> 20
            );
        }
        BootSource::None => {}
    }
    if boot.banks().is_empty() {
        kprintln!(
            "pivm: no memory from x0={x0:#x} (no ATAG list or device tree there) and the \
             VideoCore mailbox did not answer: boot kernel8.img, or add -dtb"
        );
        boot::halt();
    }
}

/// The layout for `VA_BITS` and the first RAM bank, its zones from the device tree's
/// `dma-ranges` (`zone_dma_bits`): on the Pi 3 all RAM is ZONE_DMA.
pub fn setup_layout(boot: &BootInfo, params: &BootParams) -> Layout {
    let bank = boot.banks()[0];
    let layout = match Layout::new(VA_BITS, bank.start.0, bank.end()) {
        Ok(l) => l,
        Err(e) => {
            kprintln!("pivm: layout: {e}");
            boot::halt();
        }
    };
    let max_dma = if boot.source == BootSource::DeviceTree {
        kernel::with_boot_fdt(boot.params_phys.0, dma_limit).flatten()
    } else {
        None
    };
    let layout = layout.with_zone_dma_bits(layout::zone_dma_bits(max_dma));
    // arm64's `early_mem`: `mem=` is one limit (the last one given; `@start` is ARM's
    // syntax, not arm64's), applied by `arm64_memblock_init`.
    let Some(mem) = params.mem.iter().last() else { return layout };
    kprintln!("Memory limited to {}MB", (mem.size & !0xfff) >> 20);
    let (_, kernel_end) = kernel_phys_range(&layout);
    let initrd = boot.initrd.map(|rd| (rd.start.0, rd.start.0 + rd.size));
    let (start, end) = (layout.ram_start, layout.ram_end);
    let Some(lim) = layout::memory_limit(start, end, mem.size, kernel_end, initrd) else {
        return layout;
    };
    match layout.with_memory_limit(lim) {
        Ok(l) => l,
        Err(e) => {
            kprintln!("pivm: layout: {e}");
            boot::halt();
        }
    }
}

/// The kernel image's physical range, reserved in memblock.
pub fn kernel_phys_range(layout: &Layout) -> (u64, u64) {
    let s = boot::sections();
    (layout.kimage_pa(s.text, boot::LOAD_PA), layout.kimage_pa(s.end, boot::LOAD_PA))
}

/// RAM for memblock: the one bank the layout covers, or what `mem=` kept of it.
pub fn memblock_add_ram(layout: &Layout, memblock: &mut Memblock) {
    for (start, end) in layout.memory_ranges() {
        if let Err(e) = memblock.add(start, end - start) {
            kprintln!("memblock: {e}");
        }
    }
}

/// arm64 reserves nothing of its own beyond the image (no carveouts, no vmalloc-sized holes).
pub fn arch_memblock_reserve(_layout: &Layout, _memblock: &mut Memblock) {}

/// What the kernel is built as (Debian's arm64 6.1).
pub fn era(_layout: &Layout) -> &'static Era {
    &ERA
}

/// `dma_contiguous_reserve(arm64_dma_phys_limit)`: the end of ZONE_DMA as `zone_sizes_init`
/// computed it (no limit without one).
pub fn cma_dma_limit(layout: &Layout) -> u64 {
    let (start, end) = layout.zones(layout.zone_dma_bits).dma;
    if start < end {
        end
    } else {
        u64::MAX
    }
}

/// `paging_init`'s linear map: all of RAM, in blocks where it can.
pub fn paging_init(layout: &Layout, _memblock: &mut Memblock) {
    if let Err(e) = boot::map_kernel(
        layout.page_offset + (layout.ram_start - layout.memstart_addr),
        layout.ram_start,
        layout.ram_end - layout.ram_start,
        pgtable::PAGE_KERNEL,
        true,
    ) {
        kprintln!("paging_init: linear map: {e:?}");
        boot::halt();
    }
}

/// `zone_sizes_init`'s "Zone ranges:" lines, then `memmap_init`'s count of the unavailable
/// pages up to the end of the last 128 MiB sparsemem section (960 MiB leave 64 MiB).
pub fn write_zone_ranges(layout: &Layout) {
    let _ = layout::write_zone_ranges(
        &mut Console,
        &layout.zones(layout.zone_dma_bits),
        (layout.ram_start, layout.ram_end),
    );
    let ram = crate::mm::mm_init::PfnRange {
        start: crate::mm::Pfn(layout.ram_start >> crate::mm::PAGE_SHIFT),
        end: crate::mm::Pfn(layout.ram_end >> crate::mm::PAGE_SHIFT),
    };
    let _ = crate::mm::mm_init::write_unavailable_ranges(
        &mut Console,
        &layout.node_zones(),
        &[ram],
        Some(crate::arch::memory::PAGES_PER_SECTION),
    );
}

/// Once the vmalloc range exists: arm64's `declare_kernel_vmas`, the image's text, rodata and
/// data (with .bss and the boot tables and stack) as `vmap` areas of the vmalloc range, whose
/// start the image occupies.
pub fn vmalloc_ready(layout: &Layout) {
    let s = boot::sections();
    let page = crate::mm::PAGE_SIZE;
    let up = |a: u64| a.div_ceil(page) * page;
    let bounds = [s.text, up(s.start_rodata), up(s.end_rodata), up(s.end)];
    for w in bounds.windows(2) {
        let (start, end) = (w[0], w[1]);
        if end <= start {
            continue;
        }
        let phys = layout.kimage_pa(start, boot::LOAD_PA);
        if let Err(e) = kernel::vmalloc::vm_area_add_early(start, end - start, phys, "paging_init")
        {
            kprintln!("declare_kernel_vmas: {start:#x}: {e}");
        }
    }
}

/// pivm's own addition: the layout banner in the format arm64 Linux last printed (4.15).
pub fn write_banner(layout: &Layout) {
    let mem_map =
        kernel::mem::mem_map_range().map(|(start, end)| layout::MemMapRange { start, end });
    let _ = layout::write_banner(&mut Console, layout, &boot::sections(), mem_map);
}

/// The image's sizes for the "Memory:" line (6.1 counts `__init_begin`..`__init_end` too).
pub fn memory_line_sizes(line: &mut MemoryLine) {
    let s = boot::sections();
    line.code = s.etext - s.text;
    line.rwdata = s.edata - s.sdata;
    line.rodata = s.end_rodata - s.start_rodata;
    line.init = s.init_end - s.init_begin;
    line.bss = s.bss_stop - s.bss_start;
}

/// `arch_timer_select_ppi`: the physical timer when EL2 was there (the kernel dropped from
/// it), the virtual one when the loader entered at EL3 straight to EL1.
pub fn entered_in_hyp(_entry: &EntryState) -> bool {
    boot::ENTRY_EL.load(Ordering::Relaxed) == 2
}

/// The console's receive interrupt on the PL011, once interrupts exist: the UART is set up
/// here on arm64 (its registers were reached through the fixmap until `ioremap_devices`).
pub fn console_uart_init() {
    crate::board::raspi::uart::init();
}

/// Whether the tick was started (interrupts are then on at the console).
static TICK_RUNNING: AtomicBool = AtomicBool::new(false);

/// Notes that interrupts are on for good (the oops recovery turns them back on).
pub fn irqs_running() {
    TICK_RUNNING.store(true, Ordering::Relaxed);
}

/// `init_irq_stacks`, the first thing arm64 6.1's `init_IRQ` does: an IRQ stack for each
/// possible CPU (`for_each_possible_cpu`), `IRQ_STACK_SIZE` at `THREAD_ALIGN` with its guard
/// page (`arch_alloc_vmap_stack`). Its /proc/vmallocinfo caller is `start_kernel`, as the
/// reference's (init_IRQ is inlined there). Interrupts are still masked at the controllers and
/// the boot is exempt from `might_sleep` (6.1's `system_state == SYSTEM_BOOTING`).
pub fn init_irq_stacks() {
    use crate::arch::arm64::irq;
    let caller = crate::mm::vmap::Caller::Name("start_kernel");
    for cpu in 0..irq::NR_CPUS {
        match kernel::vmalloc::vmalloc_aligned(irq::IRQ_STACK_SIZE, THREAD_ALIGN, caller) {
            Ok(base) => irq::set_irq_stack(cpu, base),
            Err(e) => kprintln!(
                "init_IRQ: no IRQ stack for CPU{cpu} ({e}); its interrupts run on the task's stack"
            ),
        }
    }
}

/// The console, forever, on its own kernel stack as arm64 6.1 gives every task one with
/// `CONFIG_VMAP_STACK` (`alloc_thread_stack_node`: `THREAD_SIZE` vmalloc'ed at
/// `THREAD_ALIGN`, so that the vector entry's one-bit test sees an overflow, and the page
/// below it unmapped, so that the overflowing store faults); an oops returns to it with the
/// stack empty again. Without vmalloc space it stays on the boot stack, where the vectors
/// make no overflow test (the boot takes 30 KiB of it, more than a `THREAD_SIZE`).
pub fn run_console() -> ! {
    let caller = crate::mm::vmap::Caller::Name("run_console");
    let base = match kernel::vmalloc::vmalloc_aligned(THREAD_SIZE, THREAD_ALIGN, caller) {
        Ok(base) => {
            if crate::arch::mmu::translate((base - crate::mm::PAGE_SIZE) as usize).is_some() {
                kprintln!("pivm: the console's stack at {base:#x} has a mapped page below it");
            }
            base
        }
        Err(e) => {
            kernel::vmalloc::report(&e);
            kprintln!("pivm: the console stays on the boot stack");
            let top = core::ptr::addr_of!(__boot_stack_top) as u64;
            traps::set_oops_recovery(console_restart, top);
            console_restart()
        }
    };
    // Masked from here until `console_restart` runs on the new stack: the vectors that test
    // for an overflow take over in `set_task_stack`, and an interrupt taken while sp is still
    // on the boot stack (not THREAD_ALIGN-aligned) would be reported as a stack overflow.
    crate::arch::irqflags::local_irq_disable();
    traps::set_task_stack(base);
    let top = base + THREAD_SIZE;
    traps::set_oops_recovery(console_restart, top);
    // SAFETY: `top` is the top of a mapped THREAD_SIZE stack nothing else uses; the boot
    // stack is left for good.
    unsafe {
        core::arch::asm!(
            "mov sp, {top}",
            // The first frame on this stack: x29 0 ends the oops' call trace here.
            "mov x29, xzr",
            "mov x30, xzr",
            "b {f}",
            top = in(reg) top,
            f = sym console_restart,
            options(noreturn)
        )
    }
}

/// Where an oops returns to, on a fresh stack: the shared command table and line editor.
extern "C" fn console_restart() -> ! {
    if TICK_RUNNING.load(Ordering::Relaxed) {
        // After an oops the recovery point is entered with interrupts masked.
        crate::arch::irqflags::local_irq_enable();
    }
    // The oopsed command never returned: the prompt reads again.
    crate::console::input::end_command();
    crate::console::commands::console_loop()
}

/// The panic handler's report.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(crate::board::raspi::uart::UartWriter, "Kernel panic - not syncing: {info}");
    boot::halt()
}

/// The highest CPU address in `/soc`'s `dma-ranges` (child, parent, size cells; the parent
/// address is the CPU's), as `of_dma_get_max_cpu_address` finds it.
fn dma_limit(blob: &[u8]) -> Option<u64> {
    let fdt = fdt::Fdt::new(blob).ok()?;
    let soc = fdt.find_node("/soc")?;
    let prop = soc.property("dma-ranges")?;
    let child = soc.cell_sizes();
    let root = fdt.root().cell_sizes();
    let (ca, pa, sz) = (child.address_cells, root.address_cells, child.size_cells);
    let stride = (ca + pa + sz) * 4;
    if stride == 0 {
        return None;
    }
    let read = |b: &[u8], n: usize| {
        b.chunks_exact(4).take(n).fold(0u64, |acc, c| {
            (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        })
    };
    prop.value
        .chunks_exact(stride)
        .map(|e| {
            let cpu = read(&e[ca * 4..], pa);
            let size = read(&e[(ca + pa) * 4..], sz);
            cpu + size.saturating_sub(1)
        })
        .max()
}

/// /proc/iomem as arm64's `request_standard_resources` builds it: System RAM, the
/// kernel's code and data inside it, every other memblock reservation as `reserved`,
/// and the devices pivm drives.
pub fn iomem(k: &crate::kernel::Kernel) -> crate::proc::iomem::ResourceTree {
    let s = crate::arch::image::sections();
    let pa = |va: u64| k.layout.kimage_pa(va, k.entry.load_addr);
    let mut t = crate::proc::iomem::ResourceTree::new();
    crate::proc::iomem::insert_ram(&mut t, &k.memblock, core::iter::empty());
    let code = (pa(s.text), pa(s.etext));
    let data = (pa(s.sdata), pa(s.end));
    let _ = t.insert(code.0, code.1 - 1, "Kernel code");
    let _ = t.insert(data.0, data.1 - 1, "Kernel data");
    // `reserve_region_with_split`: a reservation shows as `reserved` around the
    // kernel's own entries, not over them.
    for r in k.memblock.reserved().iter() {
        let mut start = r.base;
        for (a, b) in [code, data] {
            if a > start && a < r.end() {
                let _ = t.insert(start, a - 1, crate::proc::iomem::RESERVED);
            }
            if b > start && a < r.end() {
                start = b;
            }
        }
        if start < r.end() {
            let _ = t.insert(start, r.end() - 1, crate::proc::iomem::RESERVED);
        }
    }
    crate::proc::iomem::insert_board_devices(&mut t);
    t
}

/// /proc/cpuinfo's contents: this CPU's registers and timer, for every core (arm64 prints no
/// board lines).
pub fn cpuinfo() -> crate::arch::cpuinfo::CpuInfo {
    crate::arch::cpuinfo::CpuInfo::read(crate::board::raspi::NR_CPUS)
}
