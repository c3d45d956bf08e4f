//! `cat` of the files pivm renders: /proc/cmdline, /proc/iomem, /proc/cpuinfo, the memory
//! files (/proc/meminfo, buddyinfo, pagetypeinfo, zoneinfo) and the debugfs fragmentation
//! indexes.
use core::fmt::Write;

use tock_registers::interfaces::Readable;

use super::{expect_args, CmdError, CmdResult};
use crate::arch::arm::cp15;
use crate::board::raspi::{mailbox, map};
use crate::boot::reserved_mem;
use crate::console::args::Args;
use crate::console::printk::Console;
use crate::kernel::{mem, Kernel};
use crate::kprintln;
use crate::mm::slab::MAX_CACHES;
use crate::proc::cpuinfo::{CpuInfo, IdRegs};
use crate::proc::iomem::ResourceTree;
use crate::proc::snapshot::SlabCacheSnapshot;
use crate::proc::{buddyinfo, extfrag, meminfo, pagetypeinfo, slabinfo, zoneinfo};

pub(super) fn cmd_cat(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let mut out = Console;
    let r = match args.get(1).unwrap_or("") {
        "/proc/cmdline" => writeln!(out, "{}", k.boot.cmdline()),
        "/proc/iomem" => iomem(k).render(&mut out),
        "/proc/cpuinfo" => cpuinfo().render(&mut out),
        "/proc/meminfo" => meminfo::render(&mut out, &mem::meminfo_snapshot(&k.layout)),
        "/proc/buddyinfo" => buddyinfo::render(&mut out, &mem::node_snapshot()),
        "/proc/pagetypeinfo" => pagetypeinfo::render(&mut out, &mem::node_snapshot()),
        "/proc/slabinfo" => {
            let mut caches = [SlabCacheSnapshot::EMPTY; MAX_CACHES];
            let n = mem::slab_snapshot(&mut caches);
            slabinfo::render(&mut out, &caches[..n])
        }
        "/proc/vmallocinfo" => crate::kernel::vmalloc::render_vmallocinfo(&mut out),
        "/proc/zoneinfo" => zoneinfo::render(&mut out, &mem::node_snapshot()),
        "/sys/kernel/debug/extfrag/unusable_index" => {
            extfrag::render_unusable_index(&mut out, &mem::node_snapshot())
        }
        "/sys/kernel/debug/extfrag/extfrag_index" => {
            extfrag::render_extfrag_index(&mut out, &mem::node_snapshot())
        }
        other => fail!(args, "{}: No such file or directory", other),
    };
    let _ = r;
    Ok(())
}

/// The resource tree of /proc/iomem: RAM with the kernel inside, and the devices pivm drives.
fn iomem(k: &Kernel) -> ResourceTree {
    let img = crate::arch::arm::image::image();
    let pa = |va: u32| u64::from(va) - crate::config::PAGE_OFFSET;
    let mut t = ResourceTree::new();
    let dt_reserved = k.memblock.reserved().iter().filter(|r| reserved_mem::is_dt_owner(r.name));
    crate::proc::iomem::insert_ram(&mut t, &k.memblock, dt_reserved.map(|r| (r.base, r.end())));
    for c in k.layout.carveouts() {
        let _ = t.insert(c.start.0, c.start.0 + c.size - 1, c.name);
    }
    let _ = t.insert(pa(img.text), pa(img.etext) - 1, "Kernel code");
    let _ = t.insert(pa(img.sdata), pa(img.end) - 1, "Kernel data");
    let devices: [(u64, u64, &'static str); 5] = [
        (map::SYSTEM_TIMER_BASE, map::SYSTEM_TIMER_SIZE, "timer@7e003000"),
        (map::MAILBOX_BASE, map::MAILBOX_SIZE, "mailbox@7e00b880"),
        (map::PM_BASE, map::PM_SIZE, "watchdog@7e100000"),
        (map::UART0_BASE, map::UART0_SIZE, "serial@7e201000"),
        (map::LOCAL_PERIPHERAL_BASE, map::LOCAL_PERIPHERAL_SIZE, "local_intc@40000000"),
    ];
    for (base, size, name) in devices {
        let _ = t.insert(base, base + size - 1, name);
    }
    t
}

fn cpuinfo() -> CpuInfo<'static> {
    let (mvfr0, mvfr1) = cp15::read_mvfr();
    let regs = IdRegs {
        midr: cp15::Midr.get(),
        id_pfr0: cp15::IdPfr0.get(),
        id_isar0: cp15::IdIsar0.get(),
        id_mmfr0: cp15::IdMmfr0.get(),
        mvfr0,
        mvfr1,
    };
    let revision = mailbox::property2(mailbox::TAG_GET_BOARD_REVISION).map_or(0, |(r, _)| r);
    let serial = mailbox::property2(mailbox::TAG_GET_BOARD_SERIAL)
        .map_or(0, |(lo, hi)| (u64::from(hi) << 32) | u64::from(lo));
    CpuInfo {
        regs,
        cntfrq: cp15::Cntfrq.get(),
        nr_cpus: crate::board::raspi::NR_CPUS,
        evtstrm: false,
        hardware: "BCM2835",
        revision,
        serial,
    }
}
