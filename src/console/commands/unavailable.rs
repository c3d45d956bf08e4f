//! The commands the 64-bit kernel does not have the subsystem for yet (processes, swap, the
//! sysctl files, the per-process memory dump):
//! each answers with one line saying so, and the console carries on. The command table is
//! the same on both architectures, so `help` lists them all.
use super::{CmdError, CmdResult};
use crate::console::args::Args;
use crate::kernel::Kernel;
use crate::kprintln;

/// Prints `NAME: not on the 64-bit kernel yet (WHY)` and fails the command.
fn not_yet(args: &Args<'_>, why: &str) -> CmdResult {
    kprintln!("{}: not on the 64-bit kernel yet ({})", args.get(0).unwrap_or("?"), why);
    Err(CmdError::Reported)
}

const PROCESSES: &str = "no user processes on AArch64 so far; the 32-bit kernel runs them";
const SWAP: &str = "no swap on AArch64 so far (it needs processes and the SD card)";

pub(super) fn cmd_run(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_jobs(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_fg(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_bg(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_kill(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_ps(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, PROCESSES)
}
pub(super) fn cmd_ls(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "no rootfs on AArch64 so far: the initramfs is unpacked with processes")
}
pub(super) fn cmd_memdump(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "the dump walks the 32-bit tables and processes' pages")
}
pub(super) fn cmd_swapon(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, SWAP)
}
pub(super) fn cmd_swapoff(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, SWAP)
}
pub(super) fn cmd_free(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "procps's table counts processes' and swap's pages; cat /proc/meminfo has the rest")
}
pub(super) fn cmd_sysctl(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "no /proc/sys on AArch64 so far")
}
pub(super) fn cmd_echo(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "no /proc/sys or debugfs knob files on AArch64 so far")
}
pub(super) fn cmd_iowait(_: &Kernel, a: &Args<'_>) -> CmdResult {
    not_yet(a, "its counters are the programs' waits for the card, and there are no programs")
}
