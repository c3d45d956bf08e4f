//! `struct termios` as `ioctl(TCGETS)` returns it on ARM (asm-generic `termbits.h`: four flag
//! words, the line discipline, 19 control characters), the flag bits, and the settings a
//! Linux 6.1 serial console tty starts with: `tty_std_termios` with the console's `c_cflag`
//! (`uart_set_options`: the speed, `CS8`, `CREAD | HUPCL | CLOCAL`), which `uart_port_startup`
//! copies into the tty when it is first opened.
use crate::abi_struct;

/// `NCCS` of the kernel's `struct termios` (glibc's own has 32 and translates).
pub const NCCS: usize = 19;

abi_struct! {
    /// The kernel's `struct termios`.
    pub struct Termios = "struct termios", size 36, align 4 {
        c_iflag: u32 = 0,
        c_oflag: u32 = 4,
        c_cflag: u32 = 8,
        c_lflag: u32 = 12,
        c_line: u8 = 16,
        c_cc: [u8; 19] = 17,
    }
}

/// The tty ioctls pivm's console answers (`asm-generic/ioctls.h`).
pub mod ioctl {
    pub const TCGETS: u32 = 0x5401;
    pub const TCSETS: u32 = 0x5402;
    pub const TCSETSW: u32 = 0x5403;
    pub const TCSETSF: u32 = 0x5404;
    pub const TIOCGPGRP: u32 = 0x540f;
    pub const TIOCSPGRP: u32 = 0x5410;
    pub const TIOCGWINSZ: u32 = 0x5413;
}

/// `c_cc` indices.
pub mod cc {
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSWTC: usize = 7;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VDISCARD: usize = 13;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;
}

/// `c_iflag` bits.
pub const ICRNL: u32 = 0o000400;
pub const IXON: u32 = 0o002000;
/// `c_oflag` bits.
pub const OPOST: u32 = 0o000001;
pub const ONLCR: u32 = 0o000004;
/// `c_cflag` bits and speeds.
pub const CBAUD: u32 = 0o010017;
pub const B9600: u32 = 0o000015;
pub const B19200: u32 = 0o000016;
pub const B38400: u32 = 0o000017;
pub const B57600: u32 = 0o010001;
pub const B115200: u32 = 0o010002;
pub const CS8: u32 = 0o000060;
pub const CREAD: u32 = 0o000200;
pub const HUPCL: u32 = 0o002000;
pub const CLOCAL: u32 = 0o004000;
/// `c_lflag` bits.
pub const ISIG: u32 = 0o000001;
pub const ICANON: u32 = 0o000002;
pub const ECHO: u32 = 0o000010;
pub const ECHOE: u32 = 0o000020;
pub const ECHOK: u32 = 0o000040;
pub const ECHOCTL: u32 = 0o001000;
pub const ECHOKE: u32 = 0o004000;
pub const IEXTEN: u32 = 0o100000;

/// `INIT_C_CC`: ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, 0, ^Q ^S ^Z, 0, ^R ^O ^W ^V, 0.
pub const INIT_C_CC: [u8; NCCS] =
    [0o3, 0o34, 0o177, 0o25, 0o4, 0, 1, 0, 0o21, 0o23, 0o32, 0, 0o22, 0o17, 0o27, 0o26, 0, 0, 0];

/// The `Bnnn` constant of a speed in baud, for the speeds a serial console takes.
pub const fn baud_bits(baud: u32) -> Option<u32> {
    match baud {
        9600 => Some(B9600),
        19200 => Some(B19200),
        38400 => Some(B38400),
        57600 => Some(B57600),
        115200 => Some(B115200),
        _ => None,
    }
}

/// The PL011 console's speed when `console=ttyAMA0` names none and nothing enabled the UART
/// before Linux (QEMU's direct boot): `pl011_console_setup`'s default.
pub const PL011_CONSOLE_DEFAULT_BAUD: u32 = 38400;

impl Termios {
    /// A serial console's termios in 6.1: `tty_std_termios` (`ICRNL|IXON`, `OPOST|ONLCR`,
    /// canonical mode with echo and signals, `INIT_C_CC`) with the console's `c_cflag`.
    /// `None` for a speed that has no `Bnnn` constant here.
    pub fn serial_console(baud: u32) -> Option<Termios> {
        Some(Termios {
            c_iflag: ICRNL | IXON,
            c_oflag: OPOST | ONLCR,
            c_cflag: baud_bits(baud)? | CS8 | CREAD | HUPCL | CLOCAL,
            c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            c_line: 0,
            c_cc: INIT_C_CC,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::wire::Wire;

    #[test]
    fn console_termios_bytes() {
        let t = Termios::serial_console(PL011_CONSOLE_DEFAULT_BAUD).unwrap();
        assert_eq!((t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag), (0x500, 0x5, 0xcbf, 0x8a3b));
        let b = t.to_bytes();
        assert_eq!(b.len(), 36);
        assert_eq!(&b[16..22], &[0, 3, 0x1c, 0x7f, 0x15, 4]);
        assert_eq!(Termios::serial_console(115200).unwrap().c_cflag & CBAUD, B115200);
        assert_eq!(Termios::serial_console(300), None);
    }
}
