//! Kernel console output (`kprint!`/`kprintln!`), serialised by a lock so lines from
//! different contexts do not interleave. Oopses bypass the lock (see `arch::fault`).
use core::fmt::{self, Write};

use crate::kernel::spinlock::SpinLock;

use crate::board::raspi::uart::UartWriter;

static LOCK: SpinLock<()> = SpinLock::new(());

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let _guard = LOCK.lock();
    let _ = UartWriter.write_fmt(args);
}

/// Prints to the serial console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => ($crate::console::printk::_print(format_args!($($arg)*)));
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! kprintln {
    () => ($crate::kprint!("\n"));
    ($($arg:tt)*) => ($crate::console::printk::_print(format_args!("{}\n", format_args!($($arg)*))));
}

/// A `fmt::Write` that prints through the console lock, for renderers.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        _print(format_args!("{}", s));
        Ok(())
    }
}
