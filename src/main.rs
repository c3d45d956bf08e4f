//! pivm's `kernel_main`: the boot sequence, top to bottom, for both architectures (Linux's
//! `start_kernel`). The entry code has parked the other cores, left HYP/EL2 (or EL3), turned
//! the MMU on with a boot-time table and jumped to the architecture's entry below at the
//! kernel's addresses: ARMv7's `kernel_main(r2, r1, cpsr, load_addr)` from
//! `arch/arm/entry.rs`, arm64's `__arm64_start_kernel(x0)` from `arch/arm64/head.rs`. The
//! steps that differ per architecture are `kernel::setup`'s, as `start_kernel` calls
//! `setup_arch`, `paging_init` and `mem_init`.
#![no_std]
#![no_main]

use pivm::boot::{cmdline, reserved_mem, BootSource};
use pivm::console::{commands, printk::Console};
use pivm::kernel::setup;
use pivm::kernel::{self, mem, EntryState, Kernel};
use pivm::kprintln;
use pivm::mm::cma::DtCmaNode;
use pivm::mm::memblock::{self, Memblock, MemblockError};
use pivm::mm::mm_init::{self, MemoryLine};
use pivm::mm::{PAGE_SHIFT, PAGE_SIZE};

/// QEMU's and the firmware's boot stubs live in the first page (secondary cores spin there;
/// the Pi 3 device tree's `/memreserve/ 0 0x1000`).
const FIRMWARE_STUB_SIZE: u64 = 0x1000;

/// ARMv7's entry (`arch/arm/entry.rs`): the boot registers as the firmware left them.
#[cfg(not(target_arch = "aarch64"))]
#[no_mangle]
pub extern "C" fn kernel_main(params_reg: u32, machine: u32, entry_cpsr: u32, load_addr: u32) -> ! {
    start_kernel(EntryState {
        params_reg: params_reg.into(),
        machine,
        entry_cpsr,
        load_addr: load_addr.into(),
    })
}

/// arm64's entry (`arch/arm64/head.rs`): x0 as the loader left it.
#[cfg(target_arch = "aarch64")]
#[no_mangle]
pub extern "C" fn __arm64_start_kernel(x0: u64, _cpu: u64) -> ! {
    start_kernel(setup::entry_state(x0))
}

/// The one boot sequence: boot parameters, command line, layout, memblock and its
/// reservations (the device tree's reserved memory, CMA), the linear map, zones, the page
/// allocator, slab, vmalloc, the devices' ioremap, interrupts, time, processes, the console.
fn start_kernel(entry: EntryState) -> ! {
    setup::early_setup(&entry);

    // What the firmware told us: RAM and the command line.
    let (mut boot, problem) = kernel::read_boot_params(entry.params_reg);
    setup::report_boot_params(&entry, &boot, &problem);
    kprintln!("Kernel command line: {}", boot.cmdline());
    let (params, diags) = cmdline::parse(boot.cmdline_bytes());
    for d in diags.iter() {
        kprintln!("{}", d);
    }

    // The layout, exactly as Linux computes it for this split (VA_BITS) and RAM.
    let layout = setup::setup_layout(&boot, &params);
    kernel::set_linear_map(&layout);

    // Boot-time reservations, before any allocator exists.
    let mut memblock = Memblock::new();
    let check = |r: Result<(), MemblockError>| {
        if let Err(e) = r {
            kprintln!("memblock: {}", e);
        }
    };
    setup::memblock_add_ram(&layout, &mut memblock);
    let (kernel_start, kernel_end) = setup::kernel_phys_range(&layout);
    check(memblock.reserve(0, FIRMWARE_STUB_SIZE, "firmware stub"));
    check(memblock.reserve(kernel_start, kernel_end - kernel_start, "kernel"));
    setup::arch_memblock_reserve(&layout, &mut memblock);
    if boot.params_size != 0 {
        check(memblock.reserve(boot.params_phys.0, boot.params_size, "boot params"));
    }
    // The initramfs stays put until populate_rootfs has unpacked it.
    if let Some(rd) = boot.initrd {
        check(memblock.reserve(rd.start.0, rd.size, "initrd"));
    }
    let lowmem = layout.lowmem_limit().0;
    memblock.set_current_limit(lowmem);
    // The device tree's /memreserve/ and /reserved-memory (early_init_fdt_scan_reserved_mem),
    // tried on a copy: they must leave room for mem_map, or they are all ignored.
    if boot.source == BootSource::DeviceTree {
        let mut with_dt = memblock.clone();
        let scan = kernel::with_boot_fdt(boot.params_phys.0, |fdt| {
            reserved_mem::early_init_fdt_scan_reserved_mem(fdt, &mut with_dt, &mut Console)
        });
        let mem_map = mem::mem_map_bytes(&layout);
        match scan {
            Some(Ok(rmem)) if with_dt.find_in_range(mem_map, PAGE_SIZE, 0, lowmem).is_some() => {
                memblock = with_dt;
                boot.cma = rmem.cma;
            }
            Some(Ok(_)) => kprintln!(
                "pivm: the device tree's memory reservations leave no room for mem_map \
                 ({} bytes of lowmem); ignoring them",
                mem_map
            ),
            Some(Err(e)) => kprintln!("OF: reserved mem: {}; reservations ignored", e),
            None => {}
        }
    }
    // The kernel this one is built as (on ARMv7 the one the applied profile models) decides
    // what else the kernel has: its page allocator's era, ZONE_DMA, the CMA default.
    let era = setup::era(&layout);
    // dma_contiguous_reserve(arm_dma_limit): the CMA area, before any allocator exists, where
    // the device tree's default CMA node (placed by the scan above, not yet reserved) puts it.
    // The node's area is made with the scan; another one (cma=, the configuration's size) is
    // made where the architecture's setup_arch makes it: ARM's arm_memblock_init, here, or
    // arm64's bootmem_init, after the zones' lines (below).
    let dt_cma =
        boot.cma.map(|b| DtCmaNode { size: b.size, base: Some(b.start.0), alloc_range: None });
    let cma_with_scan = kernel::cma::rmem_cma_setup(params.cma, dt_cma);
    let reserve_cma = |memblock: &mut Memblock| {
        kernel::cma::dma_contiguous_reserve(
            memblock,
            params.cma,
            dt_cma,
            era.cma_default,
            lowmem,
            setup::cma_dma_limit(&layout),
        )
    };
    let cma_early = cma_with_scan || !setup::CMA_AFTER_ZONE_SIZES;
    let mut cma_pages = if cma_early { reserve_cma(&mut memblock) } else { 0 };

    if params.memblock_debug {
        let _ = memblock::write_memblock_debug(&mut Console, &memblock);
    }

    // Final page tables (the linear map), then the zones.
    setup::paging_init(&layout, &mut memblock);
    setup::write_zone_ranges(&layout);
    if !cma_early {
        cma_pages = reserve_cma(&mut memblock);
    }

    // The page allocator: mem_map in lowmem, every free memblock range to the buddy lists.
    if let Err(e) = mem::mem_init(&layout, &mut memblock, params.page_poison) {
        kprintln!("mem_init failed: {}", e);
        pivm::arch::cpu::halt();
    }
    // Before the first allocation: the era decides how the allocator behaves.
    mem::with_node(|n| {
        n.set_era(era.page_alloc);
        n.add_totalcma_pages(cma_pages);
    });
    // The kmalloc caches (Linux's kmem_cache_init, right after mem_init).
    if let Err(e) = mem::kmem_cache_init(&layout) {
        kprintln!("{}", e);
    }
    // The vmalloc range; the devices move from the fixmap to ioremap()ed addresses.
    if let Err(e) = kernel::vmalloc::vmalloc_init(&layout, params.lazy_vfree) {
        kprintln!("vmalloc_init failed: {}", e);
        pivm::arch::cpu::halt();
    }
    setup::vmalloc_ready(&layout);
    kernel::ioremap_devices();

    setup::write_banner(&layout);
    let (free_pages, totalram_pages, highmem_pages, cma_pages) = mem::with_node(|n| {
        (n.nr_free_pages(), n.totalram_pages(), n.totalhigh_pages(), n.totalcma_pages())
    });
    let mut line = MemoryLine {
        free_pages,
        physpages: memblock.phys_mem_size() >> PAGE_SHIFT,
        totalram_pages,
        cma_pages,
        highmem_pages,
        code: 0,
        rwdata: 0,
        rodata: 0,
        init: 0,
        bss: 0,
        highmem: pivm::arch::layout::CONFIG_HIGHMEM,
    };
    setup::memory_line_sizes(&mut line);
    let _ = mm_init::write_memory_line(&mut Console, &line);

    // start_kernel's interrupt and time setup: the descriptors (early_irq_init), the
    // interrupt controllers (init_IRQ), the generic timer as clocksource and periodic tick
    // (time_init), the console's receive interrupt; then interrupts on.
    kprintln!("{}", kernel::irq::EarlyIrqInit);
    kernel::irq::boot_cpu_init();
    setup::init_irq_stacks();
    if let Err(e) = pivm::board::raspi::irq::init_irq() {
        kprintln!("init_IRQ failed: {}", e);
        pivm::arch::cpu::halt();
    }
    match kernel::time::time_init(setup::entered_in_hyp(&entry)) {
        Ok(t) => {
            kprintln!("{}", t.banner);
            kprintln!("{}", t.clocksource);
            pivm::arch::irqflags::local_irq_enable();
            setup::irqs_running();
            kprintln!("{}", t.calibrate);
        }
        Err(e) => kprintln!("time_init failed: {} (no tick)", e),
    }
    setup::console_uart_init();
    if let Err(e) = pivm::console::input::init_irq() {
        kprintln!("uart-pl011: no receive interrupt ({}); the console polls", e);
    }
    pivm::arch::irqflags::local_irq_enable();
    // rest_init: the boot proper is over; might_sleep checks from here on.
    kernel::spinlock::set_system_state(kernel::spinlock::SystemState::Scheduling);

    // core_initcall(cma_init_reserved_areas): the area joins the page allocator; then
    // postcore_initcall(init_per_zone_wmark_min) sizes the watermarks, reserves and pcp
    // limits, once, with it counted, as Linux does.
    kernel::cma::cma_init_reserved_areas();
    mem::with_node(|n| n.init_per_zone_wmark_min());

    // rootfs_initcall(populate_rootfs) and the process machinery (the console is task 0).
    kernel::process::init(&params, boot.initrd.map(|rd| (rd.start.0, rd.size)));

    let k = kernel::set(Kernel { entry, boot, params, layout, memblock });

    // The SD card: the SDHCI controller, the card, mmcblk0 and its partitions; its FAT
    // partition on /boot (read-only); its block-device files in /dev (the last two need the
    // file layer, which arm64 gets with processes).
    pivm::drivers::mmc::block::probe();
    kernel::cardfs::mount_boot();
    kernel::blkdev::make_nodes();

    // pivm.run=NAME: a scenario at boot, then the console (to watch it on a real Pi).
    if let Some(name) = k.params.run.as_ref() {
        commands::run(match name.as_str() {
            "vmalloc-frag" => "scenario vmalloc-frag",
            other => {
                kprintln!("pivm.run={}: unknown scenario (vmalloc-frag)", other);
                ""
            }
        });
    }
    setup::run_console()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    setup::panic(info)
}
