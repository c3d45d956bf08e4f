//! The command the 64-bit kernel does not have yet: `memdump` (its format and walker are the
//! 32-bit kernel's two-level tables). It answers with one line saying so, and the console
//! carries on. The command table is the same on both architectures, so `help` lists it.
use super::{CmdError, CmdResult};
use crate::console::args::Args;
use crate::kernel::Kernel;
use crate::kprintln;

pub(super) fn cmd_memdump(_: &Kernel, a: &Args<'_>) -> CmdResult {
    kprintln!(
        "{}: not on the 64-bit kernel yet (the dump walks the 32-bit tables and processes' pages)",
        a.get(0).unwrap_or("?")
    );
    Err(CmdError::Reported)
}
