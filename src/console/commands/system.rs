//! Commands that end or break the running kernel: `crash`, `poweroff`, `reboot`.
use super::{expect_args, CmdError, CmdResult};
use crate::board::raspi::power;
use crate::console::args::Args;
use crate::kernel::Kernel;
use crate::kprintln;

pub(super) fn cmd_crash(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    if args.get(1) != Some("null") {
        return Err(CmdError::Usage);
    }
    let null: *const u32 = core::ptr::null();
    // SAFETY: deliberately not safe: this read faults and the oops path halts the kernel.
    let v = unsafe { core::ptr::read_volatile(null) };
    kprintln!("crash: read {:#x} from NULL without a fault?", v);
    Ok(())
}

pub(super) fn cmd_poweroff(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!("reboot: Power down");
    power::poweroff()
}

pub(super) fn cmd_reboot(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!("reboot: Restarting system");
    power::reboot()
}
