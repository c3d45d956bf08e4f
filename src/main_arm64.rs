//! pivm's arm64 `kernel_main` (the Raspberry Pi 3, `kernel8.img`), next to the 32-bit kernel's
//! `main.rs`: the boot sequence from the MMU's first moments to the console. The entry code
//! (`arch/arm64/head.rs`) has parked the other cores, dropped to EL1, built the boot tables and
//! jumped here at KIMAGE_VADDR. Until the `arch` facade routes arm64 (the next stage, with
//! processes), it names `arch::arm64` directly.
#![no_std]
#![no_main]

extern crate alloc;

use core::fmt::Write;
use core::sync::atomic::Ordering;

use pivm::arch::arm64::{boot, layout, memory, pgtable, traps};
use pivm::board::raspi::io::{self, Device};
use pivm::board::raspi::map;
use pivm::board::raspi::uart::UartWriter;
use pivm::boot::info::{BootInfo, BootSource};
use pivm::boot::{atags, dtb, params};
use pivm::config::VA_BITS;
use pivm::console::input;
use pivm::kernel;
use pivm::mm::memblock::Memblock;
use pivm::mm::mm_init::{self, MemoryLine};
use pivm::mm::PAGE_SHIFT;
use pivm::sizes::SZ_2M;

/// PSTATE.M of the exception level the loader entered at (SPSR's encoding: ELxh).
const PSTATE_M_EL2H: u32 = 0b1001;
const PSTATE_M_EL3H: u32 = 0b1101;

/// QEMU's and the firmware's stubs and spin table live in page 0 (`/memreserve/ 0 0x1000`).
const FIRMWARE_STUB_SIZE: u64 = 0x1000;

macro_rules! kprintln {
    ($($arg:tt)*) => {{ let _ = writeln!(UartWriter, $($arg)*); }};
}

// The boot stack's top: the console restarts there after an oops.
extern "C" {
    static __boot_stack_top: u8;
}

#[no_mangle]
extern "C" fn __arm64_start_kernel(params_pa: u64, _cpu: u64) -> ! {
    // The identity map goes; TTBR0 now walks the empty reserved_pg_dir.
    boot::uninstall_idmap();
    // The UART through its fixmap slot (earlycon's FIX_EARLYCON_MEM_BASE).
    let fix = memory::fix_to_virt(VA_BITS, memory::FIX_EARLYCON_MEM_BASE);
    io::set_base(Device::Uart0, (fix + (map::UART0_BASE & 0xfff)) as usize);
    traps::trap_init();
    let el = boot::ENTRY_EL.load(Ordering::Relaxed);
    kprintln!(
        "Booting pivm on physical CPU {:#012x} [{:#010x}]",
        boot::boot_cpu_hwid(),
        boot::midr()
    );
    kprintln!(
        "pivm version {} (arm64, VA_BITS={}, {} levels, 4K pages)",
        pivm::VERSION,
        VA_BITS,
        memory::pgtable_levels(VA_BITS)
    );
    kprintln!("CPU: entered at EL{el}, running at EL1; x0={params_pa:#x}");
    let (mair, tcr, ok) = boot::translation_regs_match();
    kprintln!(
        "MMU: MAIR_EL1={mair:#018x} TCR_EL1={tcr:#018x}{}",
        if ok { " (Linux's values)" } else { " (DIFFERENT from the computed values)" }
    );

    // The boot parameters, through their 2 MiB blocks of the early linear map.
    let mut info = BootInfo::new();
    let dt = read_boot_params(params_pa, &mut info);
    match info.source {
        BootSource::Atags => kprintln!("ATAGs at {params_pa:#x}"),
        BootSource::DeviceTree => kprintln!("Machine model: {}", info.model()),
        _ => {}
    }
    let Some(bank) = info.banks().first().copied() else {
        kprintln!(
            "pivm: no memory from x0={params_pa:#x} (no ATAG list or device tree there; QEMU's \
             ELF loader passes none without -dtb): boot kernel8.img, or add -dtb"
        );
        halt();
    };
    kprintln!("Kernel command line: {}", info.cmdline());
    let (params, diags) = pivm::boot::cmdline::parse(info.cmdline_bytes());
    for d in diags.iter() {
        kprintln!("{d}");
    }
    let layout = match layout::Layout::new(VA_BITS, bank.start.0, bank.end()) {
        Ok(l) => l,
        Err(e) => {
            kprintln!("pivm: layout: {e}");
            halt();
        }
    };

    // memblock: RAM, then what is in use.
    let s = boot::sections();
    let kpa = |va: u64| layout.kimage_pa(va, boot::LOAD_PA);
    let mut memblock = Memblock::new();
    let check = |r: Result<(), pivm::mm::memblock::MemblockError>| {
        if let Err(e) = r {
            kprintln!("memblock: {e}");
        }
    };
    check(memblock.add(layout.ram_start, layout.ram_end - layout.ram_start));
    check(memblock.reserve(0, FIRMWARE_STUB_SIZE, "firmware stub"));
    check(memblock.reserve(kpa(s.text), kpa(s.end) - kpa(s.text), "kernel"));
    if info.params_size != 0 {
        check(memblock.reserve(info.params_phys.0, info.params_size, "boot params"));
    }
    if let Some(rd) = info.initrd {
        check(memblock.reserve(rd.start.0, rd.size, "initrd"));
    }

    // paging_init's linear map: all of RAM, in blocks where it can.
    if let Err(e) = boot::map_kernel(
        layout.page_offset + (layout.ram_start - layout.memstart_addr),
        layout.ram_start,
        layout.ram_end - layout.ram_start,
        pgtable::PAGE_KERNEL,
        true,
    ) {
        kprintln!("paging_init: linear map: {e:?}");
        halt();
    }

    // arm64's zones: ZONE_DMA up to zone_dma_bits (the device tree's dma-ranges), DMA32 to
    // 4 GiB, Normal above; on the Pi 3 all RAM is DMA.
    let layout =
        layout.with_zone_dma_bits(layout::zone_dma_bits(dt.and_then(|d| d.max_dma_cpu_addr)));
    let _ = layout::write_zone_ranges(
        &mut UartWriter,
        &layout.zones(layout.zone_dma_bits),
        (layout.ram_start, layout.ram_end),
    );
    // The shared allocators, as `kernel_main` brings them up on ARMv7: the linear map
    // published, mem_map and the buddy lists, the kmalloc caches, the watermarks.
    kernel::set_linear_map(&layout);
    if let Err(e) = kernel::mem::mem_init(&layout, &mut memblock, params.page_poison) {
        kprintln!("mem_init failed: {e}");
        halt();
    }
    if let Err(e) = kernel::mem::kmem_cache_init(&layout) {
        kprintln!("kmem_cache_init failed: {e}");
        halt();
    }
    kernel::mem::with_node(|n| n.init_per_zone_wmark_min());
    // The vmalloc range, the kernel image declared in it (the image lies at VMALLOC_START),
    // then the devices move from earlycon's fixmap slot (the UART) or from nothing to
    // ioremap()ed addresses, as on ARMv7.
    if let Err(e) = kernel::vmalloc::vmalloc_init(&layout, params.lazy_vfree) {
        kprintln!("vmalloc_init failed: {e}");
        halt();
    }
    declare_kernel_vmas(&layout);
    kernel::ioremap_devices();
    let (free_pages, totalram_pages) =
        kernel::mem::with_node(|n| (n.nr_free_pages(), n.totalram_pages()));
    let _ = mm_init::write_memory_line(
        &mut UartWriter,
        &MemoryLine {
            free_pages,
            physpages: memblock.phys_mem_size() >> PAGE_SHIFT,
            totalram_pages,
            cma_pages: 0,
            highmem_pages: 0,
            code: s.etext - s.text,
            rwdata: s.edata - s.sdata,
            rodata: s.end_rodata - s.start_rodata,
            init: s.init_end - s.init_begin,
            bss: s.bss_stop - s.bss_start,
            highmem: false,
        },
    );
    irq_and_time_init();
    // Boot's results, published for the kernel's shared code (`kernel::try_get`), as
    // `kernel_main` does on ARMv7.
    let entry = kernel::EntryState {
        params_reg: params_pa,
        machine: 0,
        entry_cpsr: if el == 3 { PSTATE_M_EL3H } else { PSTATE_M_EL2H },
        load_addr: boot::LOAD_PA,
    };
    kernel::set(kernel::Kernel { entry, boot: info, params, layout, memblock });
    let mem_map =
        kernel::mem::mem_map_range().map(|(start, end)| layout::MemMapRange { start, end });
    let _ = layout::write_banner(&mut UartWriter, &layout, &boot::sections(), mem_map);
    let stack_top = core::ptr::addr_of!(__boot_stack_top) as u64;
    traps::set_oops_recovery(console_loop, stack_top);
    console_loop()
}

/// arm64's `declare_kernel_vmas`: the image's text, rodata and data (with .bss and the boot
/// tables and stack) as `vmap` areas of the vmalloc range, whose start the image occupies.
fn declare_kernel_vmas(layout: &layout::Layout) {
    let s = boot::sections();
    let page = pivm::mm::PAGE_SIZE;
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

/// start_kernel's interrupt and time setup, as on the 32-bit kernel: the descriptors
/// (`early_irq_init`), the BCM2836/BCM2837 local controller and the BCM2835 one chained to it
/// (`init_IRQ`), the generic timer as clocksource and periodic tick (`time_init`), then
/// interrupts on. The console keeps polling the UART.
fn irq_and_time_init() {
    use pivm::kernel::{irq, time};
    kprintln!("{}", irq::EarlyIrqInit);
    irq::boot_cpu_init();
    if let Err(e) = pivm::board::raspi::irq::init_irq() {
        kprintln!("init_IRQ failed: {e} (no interrupts, no tick)");
        return;
    }
    // arch_timer_select_ppi: the physical timer when EL2 was there (the kernel dropped from
    // it), the virtual one when the loader entered at EL3 straight to EL1.
    let entered_in_hyp = boot::ENTRY_EL.load(Ordering::Relaxed) == 2;
    match time::time_init(entered_in_hyp) {
        Ok(t) => {
            kprintln!("{}", t.banner);
            kprintln!("{}", t.clocksource);
            pivm::arch::irqflags::local_irq_enable();
            TICK_RUNNING.store(true, Ordering::Relaxed);
            kprintln!("{}", t.calibrate);
        }
        Err(e) => kprintln!("time_init failed: {e} (no tick)"),
    }
    // The console's receive interrupt (`uart-pl011`), as the 32-bit kernel requests it.
    pivm::board::raspi::uart::init();
    if let Err(e) = input::init_irq() {
        kprintln!("uart-pl011: no receive interrupt ({e}); the console polls");
    }
}

/// The console, forever: the shared command table and line editor of the 32-bit kernel.
/// Also where an oops returns to, on a fresh stack.
extern "C" fn console_loop() -> ! {
    if TICK_RUNNING.load(Ordering::Relaxed) {
        // After an oops the recovery point is entered with interrupts masked.
        pivm::arch::irqflags::local_irq_enable();
    }
    // The oopsed command never returned: the prompt reads again.
    input::end_command();
    pivm::console::commands::console_loop()
}

/// Whether `time_init` started the tick (interrupts are then on at the console).
static TICK_RUNNING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// What the device tree says beyond BootInfo: the highest CPU address DMA reaches.
#[derive(Clone, Copy)]
struct DtExtra {
    max_dma_cpu_addr: Option<u64>,
}

/// Finds and parses the ATAG list or device tree at `pa` (read through the early linear
/// map's two 2 MiB blocks around it).
fn read_boot_params(pa: u64, info: &mut BootInfo) -> Option<DtExtra> {
    let window_end = (pa & !(SZ_2M - 1)) + 2 * SZ_2M;
    let kernel = (boot::LOAD_PA, boot::LOAD_PA + (boot::sections().end - boot::KIMAGE_VADDR));
    let readable = match params::readable_len(pa, u64::MAX, window_end, kernel) {
        Ok(r) => r,
        Err(e) => {
            kprintln!("pivm: boot parameters: {e}");
            return None;
        }
    };
    let base = memory::page_offset(VA_BITS) + pa;
    let read_word = |off: usize| {
        let end = (off as u64).checked_add(4)?;
        if end > readable || !off.is_multiple_of(4) {
            return None;
        }
        // SAFETY: inside the early linear map's window around `pa`, word aligned.
        Some(unsafe { core::ptr::read_volatile((base + off as u64) as *const u32) })
    };
    let (format, len) = match params::locate(readable, read_word) {
        Ok(Some(f)) => f,
        Ok(None) => return None,
        Err(e) => {
            kprintln!("pivm: boot parameters: {e}");
            return None;
        }
    };
    // SAFETY: `locate` measured `len` bytes inside the window; nothing writes them.
    let bytes = unsafe { core::slice::from_raw_parts(base as *const u8, len) };
    match format {
        params::ParamsFormat::Atags => {
            if let Err(e) = atags::parse_atags(bytes, pa, info) {
                kprintln!("pivm: ATAGs: {e}");
            }
            None
        }
        params::ParamsFormat::Dtb => {
            if let Err(e) = dtb::parse_dtb(bytes, pa, info) {
                kprintln!("pivm: device tree: {e}");
            }
            Some(DtExtra { max_dma_cpu_addr: dma_limit(bytes) })
        }
    }
}

/// The highest CPU address in `/soc`'s `dma-ranges` (child, parent, size cells; the parent
/// address is the CPU's), as `of_dma_get_max_cpu_address` finds it.
fn dma_limit(blob: &[u8]) -> Option<u64> {
    let fdt = fdt::Fdt::new(blob).ok()?;
    let soc = fdt.find_node("/soc")?;
    let prop = soc.property("dma-ranges")?;
    let cells = |n: &fdt::node::FdtNode<'_, '_>| n.cell_sizes();
    let child = cells(&soc);
    let root = fdt.root().cell_sizes();
    let (ca, pa, sz) = (child.address_cells, root.address_cells, child.size_cells);
    let words: &[u8] = prop.value;
    let stride = (ca + pa + sz) * 4;
    if stride == 0 {
        return None;
    }
    let read = |b: &[u8], n: usize| {
        b.chunks_exact(4).take(n).fold(0u64, |acc, c| {
            (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        })
    };
    words
        .chunks_exact(stride)
        .map(|e| {
            let cpu = read(&e[ca * 4..], pa);
            let size = read(&e[(ca + pa) * 4..], sz);
            cpu + size.saturating_sub(1)
        })
        .max()
}

fn halt() -> ! {
    boot::halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("Kernel panic - not syncing: {info}");
    halt()
}
