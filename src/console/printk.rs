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

/// The console's output while its lock is held, for a context that must not wait for it
/// (an interrupt: the code it interrupted may hold it).
pub struct ConsoleGuard(#[allow(dead_code)] crate::kernel::spinlock::SpinLockGuard<'static, ()>);

impl Write for ConsoleGuard {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        UartWriter.write_str(s)
    }
}

/// The console's output if nothing holds it now (see [`ConsoleGuard`]).
pub fn try_console() -> Option<ConsoleGuard> {
    LOCK.try_lock().map(ConsoleGuard)
}

/// A `fmt::Write` that prints through the console lock, for renderers.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        _print(format_args!("{}", s));
        Ok(())
    }
}
