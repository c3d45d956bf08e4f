//! The swap commands: `swapon DEV` / `swapon -s` (`--show`), `swapoff DEV`, `free` (procps's
//! table) and `sysctl` (procps's, over `/proc/sys/vm`).

use super::{expect_args, CmdError, CmdResult};
use crate::abi::errno::Errno;
use crate::console::args::Args;
use crate::console::printk::Console;
use crate::kernel::{swap, Kernel};
use crate::kprintln;
use crate::proc::sysctl;

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

/// `swapcache`: the swap cache's pages (mapped, under writeback); `swapcache drop` frees the
/// clean ones no PTE maps, as the next reclaim scan would (pivm's, no Linux interface: the
/// tests use it to see swap-in after `MADV_PAGEOUT`).
pub(super) fn cmd_swapcache(_: &Kernel, args: &Args<'_>) -> CmdResult {
    match (args.len(), args.get(1)) {
        (1, _) => {}
        (2, Some("drop")) => {
            kprintln!("swapcache: dropped {} pages", swap::drop_clean_swap_cache())
        }
        _ => return Err(CmdError::Usage),
    }
    let (n, mapped, wb) = swap::cache_counts();
    kprintln!("swapcache: {} pages, {} mapped, {} under writeback", n, mapped, wb);
    kprintln!("swapcache: {} tmpfs pages in swap", crate::kernel::process::shmem::swapped_pages());
    Ok(())
}

pub(super) fn cmd_free(k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && args.get(1) != Some("-k")) {
        return Err(CmdError::Usage);
    }
    let mi = crate::kernel::process::procfs_live::meminfo_snapshot(&k.layout);
    let _ = crate::proc::free::render(&mut Console, &mi);
    Ok(())
}

/// `sysctl NAME`, `sysctl NAME=VALUE`, `sysctl -a` as procps prints them, over the same
/// `/proc/sys/vm` files and handlers a program reads and writes (`vm.page-cluster`,
/// `vm.swappiness`, `vm.min_free_kbytes`, `vm.watermark_scale_factor`, `vm.drop_caches`).
pub(super) fn cmd_sysctl(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let arg = args.get(1).unwrap_or("");
    if arg == "-a" || arg == "--all" {
        for k in sysctl::vm_knobs() {
            if let (Some(name), Some(v)) = (k.sysctl, crate::kernel::sysctl::get(k.knob)) {
                kprintln!("{} = {}", name, v);
            }
        }
        return Ok(());
    }
    let (name, value) = match arg.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (arg, None),
    };
    let Some(k) = sysctl::by_sysctl_name(name) else {
        fail!(args, "cannot stat /proc/sys/{}: No such file or directory", name.replace('.', "/"));
    };
    let shown = k.sysctl.unwrap_or(name);
    let path = alloc::format!("/proc/sys/vm/{}", k.name);
    if let Some(v) = value {
        if crate::kernel::process::fs::write_knob(&path, v.as_bytes()).is_err() {
            fail!(args, "setting key \"{}\": Invalid argument", shown);
        }
        kprintln!("{} = {}", shown, v);
        return Ok(());
    }
    match crate::kernel::sysctl::get(k.knob) {
        Some(v) => kprintln!("{} = {}", shown, v),
        None => fail!(args, "permission denied on key '{}'", shown),
    }
    Ok(())
}
