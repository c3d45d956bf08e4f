//! `cat` of the files pivm renders: /proc/cmdline, /proc/iomem, /proc/cpuinfo, the memory
//! files (/proc/meminfo, buddyinfo, pagetypeinfo, zoneinfo), the interrupt and time files
//! (/proc/interrupts, /proc/stat, /proc/uptime), /proc/vmstat, the debugfs fragmentation
//! indexes, and every process's /proc/PID files through the live procfs.
use core::fmt::{self, Write};

use super::{expect_args, CmdError, CmdResult};
use crate::arch::cpuinfo::CpuInfo;
use crate::board::raspi::{mailbox, map};
use crate::boot::reserved_mem;
use crate::console::args::Args;
use crate::console::printk::Console;
use crate::kernel::process::procfs_live;
use crate::kernel::{mem, Kernel};
use crate::kprintln;
use crate::mm::slab::MAX_CACHES;
use crate::proc::iomem::ResourceTree;
use crate::proc::snapshot::SlabCacheSnapshot;
use crate::proc::{buddyinfo, extfrag, meminfo, pagetypeinfo, slabinfo, zoneinfo};

/// One file `cat` shows: its path and what renders it.
struct File {
    path: &'static str,
    render: fn(&Kernel, &mut Console) -> fmt::Result,
}

/// Every file `cat` serves, in the order `help` lists them.
static FILES: &[File] = &[
    File { path: "/proc/cmdline", render: |k, out| writeln!(out, "{}", k.boot.cmdline()) },
    File { path: "/proc/cpuinfo", render: |_, out| cpuinfo().render(out) },
    File { path: "/proc/interrupts", render: |_, out| crate::kernel::irq::render_interrupts(out) },
    File { path: "/proc/iomem", render: |k, out| iomem(k).render(out) },
    File {
        path: "/proc/meminfo",
        render: |k, out| meminfo::render(out, &procfs_live::meminfo_snapshot(&k.layout)),
    },
    File {
        path: "/proc/buddyinfo",
        render: |_, out| buddyinfo::render(out, &mem::node_snapshot()),
    },
    File {
        path: "/proc/pagetypeinfo",
        render: |_, out| pagetypeinfo::render(out, &mem::node_snapshot()),
    },
    File { path: "/proc/zoneinfo", render: |_, out| zoneinfo::render(out, &mem::node_snapshot()) },
    File {
        path: "/proc/slabinfo",
        render: |_, out| {
            let mut caches = [SlabCacheSnapshot::EMPTY; MAX_CACHES];
            let n = mem::slab_snapshot(&mut caches);
            slabinfo::render(out, &caches[..n])
        },
    },
    File { path: "/proc/partitions", render: |_, out| crate::block::core::render_partitions(out) },
    File { path: "/proc/diskstats", render: |_, out| crate::block::core::render_diskstats(out) },
    File { path: "/proc/stat", render: |_, out| crate::kernel::irq::render_stat(out) },
    File { path: "/proc/vmstat", render: |_, out| procfs_live::render_vmstat(out) },
    File { path: "/proc/uptime", render: |_, out| crate::kernel::time::render_uptime(out) },
    File {
        path: "/proc/vmallocinfo",
        render: |_, out| crate::kernel::vmalloc::render_vmallocinfo(out),
    },
    File {
        path: "/sys/kernel/debug/extfrag/unusable_index",
        render: |_, out| extfrag::render_unusable_index(out, &mem::node_snapshot()),
    },
    File {
        path: "/sys/kernel/debug/extfrag/extfrag_index",
        render: |_, out| extfrag::render_extfrag_index(out, &mem::node_snapshot()),
    },
];

/// The paths `cat` serves (for `help`).
pub(super) fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|f| f.path)
}

pub(super) fn cmd_cat(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let path = args.get(1).unwrap_or("");
    let Some(file) = FILES.iter().find(|f| f.path == path) else {
        // Everything else under /proc (the processes' files) through procfs, as a
        // program's read sees it.
        if path == "/proc" || path.starts_with("/proc/") {
            match procfs_live::read_path(path) {
                Ok(bytes) => crate::kernel::process::console_write(&bytes),
                Err(e) => fail!(args, "{}: {}", path, e.message()),
            }
            return Ok(());
        }
        fail!(args, "{}: No such file or directory", path)
    };
    // The console cannot fail to take output.
    let _ = (file.render)(k, &mut Console);
    Ok(())
}

/// The resource tree of /proc/iomem: RAM with the kernel inside, and the devices pivm drives.
fn iomem(k: &Kernel) -> ResourceTree {
    let img = crate::arch::image::image();
    let pa = |va: usize| va as u64 - crate::config::PAGE_OFFSET;
    let mut t = ResourceTree::new();
    let dt_reserved = k.memblock.reserved().iter().filter(|r| reserved_mem::is_dt_owner(r.name));
    crate::proc::iomem::insert_ram(&mut t, &k.memblock, dt_reserved.map(|r| (r.base, r.end())));
    for c in k.layout.carveouts() {
        let _ = t.insert(c.start.0, c.start.0 + c.size - 1, c.name);
    }
    let _ = t.insert(pa(img.text), pa(img.etext) - 1, "Kernel code");
    let _ = t.insert(pa(img.sdata), pa(img.end) - 1, "Kernel data");
    let devices: [(u64, u64, &'static str); 6] = [
        (map::SYSTEM_TIMER_BASE, map::SYSTEM_TIMER_SIZE, "timer@7e003000"),
        (map::MAILBOX_BASE, map::MAILBOX_SIZE, "mailbox@7e00b880"),
        (map::PM_BASE, map::PM_SIZE, "watchdog@7e100000"),
        (map::UART0_BASE, map::UART0_SIZE, "serial@7e201000"),
        (map::EMMC_BASE, map::EMMC_SIZE, "mmc@7e300000"),
        (map::LOCAL_PERIPHERAL_BASE, map::LOCAL_PERIPHERAL_SIZE, "local_intc@40000000"),
    ];
    for (base, size, name) in devices {
        let _ = t.insert(base, base + size - 1, name);
    }
    t
}

fn cpuinfo() -> CpuInfo<'static> {
    let revision = mailbox::property2(mailbox::TAG_GET_BOARD_REVISION).map_or(0, |(r, _)| r);
    let serial = mailbox::property2(mailbox::TAG_GET_BOARD_SERIAL)
        .map_or(0, |(lo, hi)| (u64::from(hi) << 32) | u64::from(lo));
    CpuInfo::read("BCM2835", crate::board::raspi::NR_CPUS, revision, serial)
}
