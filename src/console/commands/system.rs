//! Commands that end or break the running kernel: `crash`, `poweroff`, `reboot`.
use super::{expect_args, CmdError, CmdResult};
use crate::board::raspi::power;
use crate::console::args::Args;
use crate::kernel::Kernel;
use crate::kprintln;

/// Where `crash exec` jumps: an unmapped page, so the oops' code dump faults too.
const CRASH_EXEC_ADDR: usize = 0x1000;

pub(super) fn cmd_crash(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    if args.get(1) == Some("exec") {
        // SAFETY: deliberately not safe: the jump takes a prefetch abort and the oops path
        // (whose dump of the code around pc faults in turn) halts the kernel.
        let f: extern "C" fn() = unsafe { core::mem::transmute(CRASH_EXEC_ADDR) };
        f();
        kprintln!("crash: executed {:#x} without a fault?", CRASH_EXEC_ADDR);
        return Ok(());
    }
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
