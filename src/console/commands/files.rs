//! `cat PATH`: any file of the rootfs and of `/proc` (every process's `/proc/PID` files and
//! `/proc`'s own: stat, iomem, uptime, vmstat, cmdline, cpuinfo, meminfo, interrupts,
//! partitions, diskstats, buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmallocinfo) through
//! the file layer, so the console reads the same tree, lookup and `seq_file` reads as a
//! program's `open`/`read`; and the files only the console shows (the debugfs fragmentation
//! indexes: pivm mounts no debugfs), rendered here.
use alloc::string::String;
use core::fmt;

use super::{expect_args, CmdError, CmdResult};
use crate::console::args::Args;
use crate::console::printk::Console;
use crate::fs::procfs::ROOT_FILES;
use crate::kernel::{mem, Kernel};
use crate::kprintln;
use crate::proc::extfrag;

/// One file `cat` shows: its path and what renders it.
struct File {
    path: &'static str,
    render: fn(&Kernel, &mut Console) -> fmt::Result,
}

/// The files only the console shows (pivm has no debugfs for programs).
static FILES: &[File] = &[
    File {
        path: "/sys/kernel/debug/extfrag/unusable_index",
        render: |_, out| extfrag::render_unusable_index(out, &mem::node_snapshot()),
    },
    File {
        path: "/sys/kernel/debug/extfrag/extfrag_index",
        render: |_, out| extfrag::render_extfrag_index(out, &mem::node_snapshot()),
    },
];

/// The paths `cat` serves beyond the processes' and the rootfs's files (for `help`).
pub(super) fn paths() -> impl Iterator<Item = String> {
    ROOT_FILES
        .iter()
        .map(|(name, _, _)| alloc::format!("/proc/{name}"))
        .chain(FILES.iter().map(|f| f.path.into()))
}

pub(super) fn cmd_cat(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let path = args.get(1).unwrap_or("");
    if let Some(file) = FILES.iter().find(|f| f.path == path) {
        // The console cannot fail to take output.
        let _ = (file.render)(k, &mut Console);
        return Ok(());
    }
    // Everything else through the file layer: the same namespace, /proc and seq_file reads
    // as a program's open and read.
    if let Err(e) = crate::kernel::process::fs::cat(path) {
        fail!(args, "{}: {}", path, e.message());
    }
    Ok(())
}
