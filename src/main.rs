//! pivm's `kernel_main`: the boot sequence, top to bottom. The entry code
//! (`arch/arm/entry.rs`) has parked the other cores, left HYP, turned the MMU on with a
//! boot-time table and jumped here at PAGE_OFFSET.
#![no_std]
#![no_main]

use pivm::arch::layout::{self, LayoutInput};
use pivm::arch::profile;
use pivm::arch::{cpu, fault, image::image, mmu};
use pivm::board::raspi::uart;
use pivm::boot::{cmdline, reserved_mem, BootSource};
use pivm::config::{PAGE_OFFSET, VMSPLIT};
use pivm::console::{commands, printk::Console};
use pivm::kernel::{self, mem, EntryState, Kernel};
use pivm::mm::cma::DtCmaNode;
use pivm::mm::era::DmaZoneSpec;
use pivm::mm::memblock::{self, Memblock, MemblockError};
use pivm::mm::mm_init::{self, MemoryLine};
use pivm::mm::{PAGE_SHIFT, PAGE_SIZE};
use pivm::{kprintln, VERSION};

/// Whether this kernel has highmem support (Linux's CONFIG_HIGHMEM): pivm always does, so
/// RAM above the lowmem limit becomes ZONE_HIGHMEM instead of being dropped.
const CONFIG_HIGHMEM: bool = true;
/// QEMU's and the firmware's boot stubs live in the first page (secondary cores spin there).
const FIRMWARE_STUB_SIZE: u64 = 0x1000;

#[no_mangle]
pub extern "C" fn kernel_main(params_reg: u32, machine: u32, entry_cpsr: u32, load_addr: u32) -> ! {
    let entry = EntryState {
        params_reg: params_reg.into(),
        machine,
        entry_cpsr,
        load_addr: load_addr.into(),
    };
    uart::init();
    // start_kernel's sort_main_extable: the exception table in instruction order for the
    // fault path's binary search, before anything can fault through it.
    fault::sort_main_extable();
    kprintln!("Booting pivm on physical CPU {:#x}", cpu::boot_cpu_hwid());
    kprintln!("pivm version {} (VMSPLIT_{}, PAGE_OFFSET {:#010x})", VERSION, VMSPLIT, PAGE_OFFSET);
    let _ = cpu::write_setup_processor(&mut Console);
    kprintln!(
        "Entered in {} mode at {:#x}{}, r1={:#x} r2={:#x}",
        cpu::entry_mode_name(entry_cpsr),
        load_addr,
        if u64::from(load_addr) != image().text as u64 - PAGE_OFFSET {
            ", relocated to 0x8000"
        } else {
            ""
        },
        machine,
        params_reg
    );

    // What the firmware told us: RAM and the command line.
    let (mut boot, problem) = kernel::read_boot_params(params_reg);
    match boot.source {
        BootSource::Atags => kprintln!("ATAGs at {:#x}", params_reg),
        BootSource::DeviceTree => kprintln!("OF: fdt: Machine model: {}", boot.model()),
        BootSource::Mailbox => {
            kprintln!("No ATAGs or device tree at r2; RAM size from the VideoCore mailbox")
        }
        BootSource::None => {}
    }
    if let BootSource::None = boot.source {
        kprintln!("pivm: boot parameters unusable ({}), and the mailbox did not answer", problem);
    } else if !matches!(problem, kernel::BootParamsProblem::None) {
        kprintln!("pivm: boot parameters: {}", problem);
    }
    kprintln!("Kernel command line: {}", boot.cmdline());
    let (params, diags) = cmdline::parse(boot.cmdline_bytes());
    for d in diags.iter() {
        kprintln!("{}", d);
    }

    // The layout, exactly as Linux computes it for this split and RAM.
    // ... or as a memory-layout profile (pivm.profile=) lays it out.
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
        highmem: CONFIG_HIGHMEM,
        dma_zone_size: None,
    };
    let (layout, warnings) = layout::compute_with_profile(&input, profile);
    for w in warnings.iter() {
        kprintln!("{}", w);
    }
    kernel::set_linear_map(&layout);

    // Boot-time reservations, before any allocator exists.
    let mut memblock = Memblock::new();
    let check = |r: Result<(), MemblockError>| {
        if let Err(e) = r {
            kprintln!("memblock: {}", e);
        }
    };
    for b in layout.ram() {
        check(memblock.add(b.start.0, b.size));
    }
    let img = image();
    let pa = |va: usize| va as u64 - PAGE_OFFSET;
    check(memblock.reserve(0, FIRMWARE_STUB_SIZE, "firmware stub"));
    check(memblock.reserve(pa(img.text), pa(img.end) - pa(img.text), "kernel"));
    for c in layout.carveouts() {
        check(memblock.reserve(c.start.0, c.size, c.name));
    }
    if boot.params_size != 0 {
        check(memblock.reserve(boot.params_phys.0, boot.params_size, "boot params"));
    }
    // arm_memblock_init(): the initramfs stays put until populate_rootfs has unpacked it.
    if let Some(rd) = boot.initrd {
        check(memblock.reserve(rd.start.0, rd.size, "initrd"));
    }
    memblock.set_current_limit(layout.arm_lowmem_limit.0);
    // The device tree's /memreserve/ and /reserved-memory (early_init_fdt_scan_reserved_mem),
    // tried on a copy: they must leave room for mem_map, or they are all ignored.
    if boot.source == BootSource::DeviceTree {
        let mut with_dt = memblock.clone();
        let scan = kernel::with_boot_fdt(boot.params_phys.0, |fdt| {
            reserved_mem::early_init_fdt_scan_reserved_mem(fdt, &mut with_dt, &mut Console)
        });
        let mem_map = mem::mem_map_bytes(&layout);
        let lowmem = layout.arm_lowmem_limit.0;
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
    // The kernel the applied profile models (`linux` when the asked-for one was rejected)
    // decides what else the kernel is built with: its era, ZONE_DMA, the CMA default.
    let era = layout.era();
    // dma_contiguous_reserve(arm_dma_limit): the CMA area, before any allocator exists.
    let dma_limit = match era.dma_zone {
        DmaZoneSpec::Exact(size) => layout.phys_offset.0.saturating_add(size),
        _ => u64::MAX,
    };
    // The device tree's default CMA node (placed by the scan above, not yet reserved).
    let dt_cma =
        boot.cma.map(|b| DtCmaNode { size: b.size, base: Some(b.start.0), alloc_range: None });
    let cma_pages = kernel::cma::dma_contiguous_reserve(
        &mut memblock,
        params.cma,
        dt_cma,
        era.cma_default,
        layout.arm_lowmem_limit.0,
        dma_limit,
    );

    if params.memblock_debug {
        let _ = memblock::write_memblock_debug(&mut Console, &memblock);
    }

    // Final page tables: lowmem linear map (memblock's mappable memory), vectors, fixmap;
    // the identity map goes away.
    if let Err(e) = mmu::paging_init(layout.high_memory.as_u64(), &mut memblock, &mut Console) {
        kprintln!("paging_init failed: {:?}", e);
        cpu::halt();
    }

    let _ = layout::write_zone_ranges(&mut Console, &layout);

    // The page allocator: mem_map in lowmem, every free memblock range to the buddy lists.
    if let Err(e) = mem::mem_init(&layout, &mut memblock, params.page_poison) {
        kprintln!("mem_init failed: {}", e);
        cpu::halt();
    }
    // Before the first allocation: the profile's era decides how the allocator behaves.
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
        cpu::halt();
    }
    kernel::ioremap_devices();
    fault::set_address_describer(kernel::vmalloc::describe_fault_address);

    let _ = layout::write_banner(&mut Console, &layout, &commands::kernel_sections());
    if !layout.carveouts().is_empty() || !layout.holes().is_empty() {
        let _ = layout::write_partition(&mut Console, &layout);
    }
    let (free_pages, totalram_pages, highmem_pages, cma_pages) = mem::with_node(|n| {
        (n.nr_free_pages(), n.totalram_pages(), n.totalhigh_pages(), n.totalcma_pages())
    });
    let _ = mm_init::write_memory_line(
        &mut Console,
        &MemoryLine {
            free_pages,
            physpages: memblock.phys_mem_size() >> PAGE_SHIFT,
            totalram_pages,
            cma_pages,
            highmem_pages,
            code: (img.etext - img.text) as u64,
            rwdata: (img.edata - img.sdata) as u64,
            rodata: (img.end_rodata - img.start_rodata) as u64,
            init: 0,
            bss: (img.bss_stop - img.bss_start) as u64,
            highmem: CONFIG_HIGHMEM,
        },
    );

    // start_kernel's interrupt and time setup: the descriptors (early_irq_init), the
    // interrupt controllers (init_IRQ), the generic timer as clocksource and periodic tick
    // (time_init), the console's receive interrupt; then interrupts on.
    kprintln!("{}", kernel::irq::EarlyIrqInit);
    kernel::irq::boot_cpu_init();
    if let Err(e) = pivm::board::raspi::irq::init_irq() {
        kprintln!("init_IRQ failed: {}", e);
        cpu::halt();
    }
    let entered_in_hyp = cpu::entry_mode_name(entry_cpsr) == "HYP_32";
    match kernel::time::time_init(entered_in_hyp) {
        Ok(t) => {
            kprintln!("{}", t.banner);
            kprintln!("{}", t.clocksource);
            pivm::arch::irqflags::local_irq_enable();
            kprintln!("{}", t.calibrate);
        }
        Err(e) => kprintln!("time_init failed: {} (no tick)", e),
    }
    if let Err(e) = pivm::console::input::init_irq() {
        kprintln!("uart-pl011: no receive interrupt ({}); the console polls", e);
    }
    pivm::arch::irqflags::local_irq_enable();

    // core_initcall(cma_init_reserved_areas): the area joins the page allocator; then
    // postcore_initcall(init_per_zone_wmark_min) sizes the watermarks, reserves and pcp
    // limits, once, with it counted, as Linux does.
    kernel::cma::cma_init_reserved_areas();
    mem::with_node(|n| n.init_per_zone_wmark_min());

    // rootfs_initcall(populate_rootfs) and the process machinery (the console is task 0).
    kernel::process::init(&params, boot.initrd.map(|rd| (rd.start.0, rd.size)));

    let k = kernel::set(Kernel { entry, boot, params, layout, memblock });
    // The SD card: the SDHCI controller, the card, mmcblk0 and its partitions.
    pivm::drivers::mmc::block::probe();
    // Its FAT partition on /boot (read-only).
    kernel::cardfs::mount_boot();
    // Its block-device files in /dev.
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
    commands::console_loop()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fault::panic(info)
}
