//! The swap commands: `swapon DEV` / `swapon -s` (`--show`), `swapoff DEV`, `free` (procps's
//! table) and `sysctl vm.page-cluster[=N]` (pivm's `/proc` has no `sys/` tree for programs
//! yet, so the knob is set here).
use core::sync::atomic::Ordering;

use super::{expect_args, CmdError, CmdResult};
use crate::abi::errno::Errno;
use crate::console::args::Args;
use crate::console::printk::Console;
use crate::kernel::{swap, Kernel};
use crate::kprintln;

/// util-linux's wording of a failed swapon/swapoff.
fn report(args: &Args<'_>, dev: &str, e: Errno) -> CmdResult {
    let what = if args.get(0) == Some("swapoff") { "swapoff" } else { "swapon" };
    fail!(args, "{}: {} failed: {}", dev, what, e.message())
}

pub(super) fn cmd_swapon(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let dev = args.get(1).unwrap_or("");
    if dev == "-s" || dev == "--show" {
        let _ = swap::render_swaps(&mut Console);
        return Ok(());
    }
    match swap::swapon(dev, 0) {
        Ok(()) => Ok(()),
        Err(e) => report(args, dev, e),
    }
}

pub(super) fn cmd_swapoff(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let dev = args.get(1).unwrap_or("");
    match crate::kernel::process::swapin::swapoff(dev) {
        Ok(()) => Ok(()),
        Err(e) => report(args, dev, e),
    }
}

pub(super) fn cmd_free(k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && args.get(1) != Some("-k")) {
        return Err(CmdError::Usage);
    }
    let mi = crate::kernel::process::procfs_live::meminfo_snapshot(&k.layout);
    let _ = crate::proc::free::render(&mut Console, &mi);
    Ok(())
}

/// `vm.page-cluster`'s range (`proc_dointvec_minmax`, `extra1` = 0).
const PAGE_CLUSTER_NAME: &str = "vm.page-cluster";

pub(super) fn cmd_sysctl(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let arg = args.get(1).unwrap_or("");
    let (name, value) = match arg.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (arg, None),
    };
    if name != PAGE_CLUSTER_NAME {
        fail!(args, "cannot stat /proc/sys/{}: No such file or directory", name.replace('.', "/"));
    }
    if let Some(v) = value {
        match v.trim().parse::<u32>() {
            Ok(n) if n <= i32::MAX as u32 => swap::PAGE_CLUSTER.store(n, Ordering::Relaxed),
            _ => fail!(args, "setting key \"{}\": Invalid argument", name),
        }
    }
    kprintln!("{} = {}", name, swap::PAGE_CLUSTER.load(Ordering::Relaxed));
    Ok(())
}
