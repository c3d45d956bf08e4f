//! pivm kernel entry point (smoke test).
#![no_std]
#![no_main]

use pivm::board::raspi::uart;
use core::fmt::Write;

#[no_mangle]
pub extern "C" fn kernel_main(params: u32, machine: u32, cpsr: u32, load: u32) -> ! {
    uart::init();
    let _ = writeln!(uart::UartWriter, "hello from high VA: r2={params:#x} r1={machine:#x} cpsr={cpsr:#x} load={load:#x} pc~{:p}", kernel_main as *const ());
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
