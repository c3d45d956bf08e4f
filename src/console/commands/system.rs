//! Commands about the running kernel itself: `jiffies`, and those that end or break it:
//! `crash`, `poweroff`, `reboot`.
use super::{expect_args, CmdError, CmdResult};
use crate::board::raspi::power;
use crate::console::args::Args;
use crate::kernel::spinlock::SpinLock;
use crate::kernel::Kernel;
use crate::kprintln;

/// Where `crash exec` jumps: an unmapped page, so the oops' code dump faults too.
const CRASH_EXEC_ADDR: usize = 0x1000;

/// The lock `crash atomic-sleep` holds (nothing else takes it).
static ATOMIC_SLEEP_LOCK: SpinLock<()> = SpinLock::new(());

/// `crash atomic-sleep`: a `GFP_KERNEL` `vmalloc` of one page made while holding a spin lock,
/// the bug `CONFIG_DEBUG_ATOMIC_SLEEP` catches: `might_sleep` reports it (once per call
/// site) and the allocation goes on without reclaim; the page is freed again after the lock
/// is dropped.
fn crash_atomic_sleep(args: &Args<'_>) -> CmdResult {
    use crate::kernel::vmalloc;
    use crate::mm::vmap::Caller;
    expect_args(args, 2)?;
    let caller = Caller::Code(cmd_crash as *const () as usize);
    let r = {
        let _held = ATOMIC_SLEEP_LOCK.lock();
        vmalloc::vmalloc(crate::mm::PAGE_SIZE, caller)
    };
    // Any error is reported by vmalloc's own messages.
    let reported = |e| {
        vmalloc::report(&e);
        CmdError::Reported
    };
    vmalloc::vfree(r.map_err(reported)?).map_err(reported)
}

/// The lock `crash spinlockup` takes twice (lkdtm's `lock_me_up`; nothing else takes it).
static LOCK_ME_UP: SpinLock<()> = SpinLock::new(());

/// `crash spinlockup`: lkdtm's SPINLOCKUP, a spin lock taken while this task already holds
/// it (lkdtm's leaves it held and needs a second run; here one run takes it twice, so the
/// console does not go on with a lock held). On the kernel's one CPU the second `lock()` is
/// a deadlock: `spin_bug` reports `BUG: spinlock recursion` and the kernel stops.
fn crash_spinlockup() {
    let _held = LOCK_ME_UP.lock();
    let _again = LOCK_ME_UP.lock();
    kprintln!("crash: took a held spin lock without a deadlock?");
}

pub(super) fn cmd_crash(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.get(1) == Some("atomic-sleep") {
        return crash_atomic_sleep(args);
    }
    expect_args(args, 2)?;
    match args.get(1) {
        Some("exec") => {
            // SAFETY: deliberately not safe: the jump takes a prefetch abort and the oops
            // path (whose dump of the code around pc faults in turn) halts the kernel.
            let f: extern "C" fn() = unsafe { core::mem::transmute(CRASH_EXEC_ADDR) };
            f();
            kprintln!("crash: executed {:#x} without a fault?", CRASH_EXEC_ADDR);
        }
        Some("null") => {
            let null: *const u32 = core::ptr::null();
            // SAFETY: deliberately not safe: this read faults and the oops path halts.
            let v = unsafe { core::ptr::read_volatile(null) };
            kprintln!("crash: read {:#x} from NULL without a fault?", v);
        }
        Some("undef") => {
            // SAFETY: deliberately not safe: a permanently undefined instruction (UDF), as
            // Linux's lkdtm UNDEFINED; the undefined-instruction oops halts the kernel.
            #[cfg(not(target_arch = "aarch64"))]
            unsafe {
                core::arch::asm!(".inst 0xe7f000f0", options(nomem, nostack))
            };
            // SAFETY: as above; AArch64's `UDF #0` (all zeros), the oops restarts the console.
            #[cfg(target_arch = "aarch64")]
            unsafe {
                core::arch::asm!("udf #0", options(nomem, nostack))
            };
            kprintln!("crash: executed an undefined instruction without an exception?");
        }
        Some("spinlockup") => crash_spinlockup(),
        Some("softlockup") => {
            // lkdtm's SOFTLOCKUP: the CPU spins in the kernel for good, interrupts on. The
            // console never reads its input again: the console watchdog reports it
            // (`kernel::watchdog`) and SysRq still answers.
            loop {
                core::hint::spin_loop();
            }
        }
        Some("stack") => {
            // lkdtm's EXHAUST_STACK: recurse until the stack's guard page faults (ARMv7: the
            // SVC stack's; arm64: the page below the vmalloc'ed stack, CONFIG_VMAP_STACK).
            let depth = exhaust_stack(0);
            kprintln!("crash: recursed {} times without a stack overflow?", depth);
        }
        _ => return Err(CmdError::Usage),
    }
    Ok(())
}

/// Bytes of stack each level of `crash stack` takes, as lkdtm's `recursive_loop`.
const EXHAUST_FRAME: usize = 1024;

/// Recurses with a kilobyte frame each time, until the stack runs out (never returns: the
/// count bounds it only so that the compiler sees an end).
#[inline(never)]
fn exhaust_stack(depth: u32) -> u32 {
    let mut buf = [0u8; EXHAUST_FRAME];
    buf[0] = depth as u8;
    let buf = core::hint::black_box(buf);
    if depth == u32::MAX {
        return depth;
    }
    exhaust_stack(depth + 1).wrapping_add(u32::from(buf[EXHAUST_FRAME - 1]))
}

/// `jiffies`: the tick count (`jiffies_64`), the ticks since boot and, read in the same
/// interrupts-off moment, the clocksource's time since the tick started, so that the tick's
/// rate can be checked against the counter.
pub(super) fn cmd_jiffies(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let _ = crate::kernel::time::render_jiffies(&mut crate::console::printk::Console);
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
