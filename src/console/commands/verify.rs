//! `verify`: runs every allocator's invariant checks (`kernel::mem::verify_all`), then the
//! tasks' stack ends and swap's counts, and prints `verify: ok` or the first broken invariant.
use super::{expect_args, CmdResult};
use crate::console::args::Args;
use crate::kernel::{mem, Kernel};
use crate::kprintln;

/// Prints `verify: ok` or `verify: SUBSYSTEM: what at WHERE` (memtest prints it too).
pub(super) fn print_verify() {
    #[cfg(not(target_arch = "aarch64"))]
    let swap = || {
        crate::kernel::process::verify_stacks()?;
        let mut refs = crate::kernel::process::swapin::swap_pte_counts()?;
        let mut shmem = alloc::collections::BTreeSet::new();
        crate::kernel::process::shmem::add_swap_refs(&mut refs, &mut shmem)?;
        crate::kernel::swap::verify(&refs, &shmem)
    };
    // No processes or swap on the 64-bit kernel yet: the allocators are all there is.
    #[cfg(target_arch = "aarch64")]
    let swap = || Ok::<(), &'static str>(());
    match mem::verify_all() {
        Ok(()) => match swap() {
            Ok(()) => kprintln!("verify: ok"),
            Err(e) => kprintln!("verify: {}", e),
        },
        Err(e) => kprintln!("verify: {}", e),
    }
}

pub(super) fn cmd_verify(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    print_verify();
    Ok(())
}
