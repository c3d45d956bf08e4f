//! PL011 UART0: the serial console (115200 8N1 as set up by the firmware or QEMU): output
//! polled, input by the receive interrupt (see `console::input`) or polled.
use core::fmt;

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use super::io::{self, Device};

register_bitfields! {u32,
    FR [
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// UART busy sending.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    IMSC [
        /// Receive interrupt (FIFO level reached).
        RXIM OFFSET(4) NUMBITS(1) [],
        /// Receive timeout interrupt (characters waiting in the FIFO).
        RTIM OFFSET(6) NUMBITS(1) []
    ],
    CR [
        UARTEN OFFSET(0) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        RXE OFFSET(9) NUMBITS(1) []
    ]
}

register_structs! {
    Pl011Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => rsr_ecr: ReadWrite<u32>),
        (0x08 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => imsc: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved3),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

fn regs() -> &'static Pl011Regs {
    // SAFETY: `io::base` always holds a live device mapping of the PL011 (identity early,
    // fixmap later), and the registers are only accessed through volatile cells.
    unsafe { &*(io::base(Device::Uart0) as *const Pl011Regs) }
}

/// Makes sure transmit and receive are on. The firmware (`enable_uart=1`) or QEMU has set
/// the baud rate; pivm does not reprogram it because the UART clock differs between firmware.
pub fn init() {
    let r = regs();
    if !r.cr.is_set(CR::UARTEN) || !r.cr.is_set(CR::TXE) || !r.cr.is_set(CR::RXE) {
        r.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }
    r.rsr_ecr.set(0);
    r.icr.set(ICR_ALL);
    // Raise the UART's interrupt when input arrives (the console requests it, at the
    // interrupt controller, once interrupts are set up).
    r.imsc.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
}

/// Every PL011 interrupt's clear bit (ICR bits 0-10).
const ICR_ALL: u32 = 0x7ff;
/// The receive and receive-timeout interrupts' clear bits.
const ICR_RX: u32 = 1 << 4 | 1 << 6;

/// Clears the receive interrupts; the FIFO is read after it, so a byte arriving meanwhile
/// raises them again.
pub fn clear_rx_interrupt() {
    regs().icr.set(ICR_RX);
}

/// Sends one byte, waiting for room in the FIFO.
pub fn putc(b: u8) {
    let r = regs();
    while r.fr.is_set(FR::TXFF) {
        core::hint::spin_loop();
    }
    r.dr.set(u32::from(b));
}

/// The data register's break error bit (`UART011_DR_BE`): the line was held low for longer
/// than a character (a BREAK), received as a NUL with this bit.
const DR_BE: u32 = 1 << 10;

/// What the receive FIFO held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rx {
    Byte(u8),
    /// A BREAK (the console's SysRq key, see `kernel::sysrq`).
    Break,
}

/// Returns a received byte or BREAK, if any (never blocks).
pub fn getc() -> Option<Rx> {
    let r = regs();
    if r.fr.is_set(FR::RXFE) {
        None
    } else {
        let v = r.dr.get();
        if v & 0xf00 != 0 {
            // Framing/parity/break/overrun: clear and report the byte anyway (as garbage).
            r.rsr_ecr.set(0);
        }
        if v & DR_BE != 0 {
            return Some(Rx::Break);
        }
        Some(Rx::Byte(v as u8))
    }
}

/// Waits until everything written has left the UART.
pub fn flush() {
    let r = regs();
    while r.fr.is_set(FR::BUSY) {
        core::hint::spin_loop();
    }
}

/// A `fmt::Write` sink that turns `\n` into `\r\n` for terminals.
pub struct UartWriter;

impl fmt::Write for UartWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                putc(b'\r');
            }
            putc(b);
        }
        Ok(())
    }
}

// The board's table of read-sensitive registers names this driver's data register.
const _: () = assert!(
    core::mem::offset_of!(Pl011Regs, dr) as u64 == super::map::UART0_DR - super::map::UART0_BASE
);
