//! `cat PATH`: any file of the rootfs and of `/proc` (every process's `/proc/PID` files and
//! `/proc`'s own: stat, iomem, uptime, vmstat, cmdline, cpuinfo, meminfo, interrupts,
//! partitions, diskstats, buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmallocinfo) through
//! the file layer, so the console reads the same tree, lookup and `seq_file` reads as a
//! program's `open`/`read`; and the files only the console shows (the debugfs fragmentation
//! indexes: pivm's debugfs holds `fault_around_bytes` alone), rendered here.
use alloc::string::String;
use core::fmt;

use super::{expect_args, CmdError, CmdResult};
use crate::abi::errno::Errno;
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

/// The files only the console shows (pivm's debugfs for programs has `fault_around_bytes`).
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

/// `echo TEXT` and `echo VALUE > FILE` (also `>FILE`) as a shell runs them, for the knob
/// files (`/proc/sys/vm/*`, `/sys/kernel/debug/fault_around_bytes`,
/// `/sys/kernel/slab/CACHE/shrink`): `VALUE\n` goes through
/// the file's handler as a program's `write` would (`drop_caches` logs the writer, the
/// console writing as the idle task); bash's messages for what fails.
pub(super) fn cmd_echo(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    let words = &args.as_slice()[1..];
    let redirect = words.iter().position(|w| w.starts_with('>'));
    let Some(r) = redirect else {
        kprintln!("{}", words.join(" "));
        return Ok(());
    };
    let target = match words[r].strip_prefix('>').unwrap_or("") {
        "" => words.get(r + 1).copied().unwrap_or(""),
        t => t,
    };
    if target.is_empty() {
        fail!(args, "syntax error near unexpected token `newline'");
    }
    let mut value = words[..r].join(" ");
    value.push('\n');
    match crate::kernel::process::fs::write_knob(target, value.as_bytes()) {
        Ok(_) => Ok(()),
        // bash: the open failed, or the write did.
        Err(e @ (Errno::ENOENT | Errno::EACCES | Errno::EISDIR | Errno::ENOTDIR)) => {
            fail!(args, "{}: {}", target, e.message())
        }
        Err(Errno::EINVAL) if !is_knob(target) => {
            fail!(
                args,
                "{}: the console writes only /proc/sys/vm, debugfs and /sys/kernel/slab files",
                target
            )
        }
        Err(e) => fail!(args, "write error: {}", e.message()),
    }
}

/// Whether `path` names a knob file (for echo's message about other files).
fn is_knob(path: &str) -> bool {
    path.starts_with("/sys/kernel/slab/")
        || crate::proc::sysctl::KNOBS.iter().any(|k| path.ends_with(k.name))
}
