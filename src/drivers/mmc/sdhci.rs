//! The SD Host Controller Interface (Linux's `drivers/mmc/host/sdhci.c`, and `sdhci-iproc.c`
//! for the Pi's Arasan "emmc" block at 0x3F300000): the register block as `tock-registers`
//! definitions, the command/transfer-mode word, the clock divider, the interrupt bits (pure,
//! host-tested), and on the kernel build the driver: reset, power, clock, interrupts, PIO data
//! transfer driven by the controller's interrupts, error recovery by resetting the CMD and DAT
//! lines, and a software deadline on every command so a silent card never hangs the kernel.
//!
//! The BCM2835's Arasan block only takes 32-bit accesses (Linux's iproc glue shadows the
//! 16-bit transfer-mode write and writes it with the command as one word); every register
//! here is 32 bits wide for that reason.
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

use super::core::RespType;

register_bitfields! {u32,
    /// 0x04: block size (bits 11:0) and block count (bits 31:16).
    pub BLKSIZECNT [
        BLKSIZE OFFSET(0) NUMBITS(12) [],
        BLKCNT OFFSET(16) NUMBITS(16) []
    ],
    /// 0x24: present state.
    pub PRESENT [
        CMD_INHIBIT OFFSET(0) NUMBITS(1) [],
        DAT_INHIBIT OFFSET(1) NUMBITS(1) [],
        BUF_WRITE_ENABLE OFFSET(10) NUMBITS(1) [],
        BUF_READ_ENABLE OFFSET(11) NUMBITS(1) [],
        CARD_INSERTED OFFSET(16) NUMBITS(1) [],
        WRITE_PROTECT OFFSET(19) NUMBITS(1) []
    ],
    /// 0x28: host control (bits 7:0), power control (15:8), block gap, wakeup.
    pub CONTROL0 [
        DATA_WIDTH_4 OFFSET(1) NUMBITS(1) [],
        HIGH_SPEED OFFSET(2) NUMBITS(1) [],
        BUS_POWER OFFSET(8) NUMBITS(1) [],
        BUS_VOLTAGE OFFSET(9) NUMBITS(3) [V3_3 = 7]
    ],
    /// 0x2c: clock control (15:0), data timeout (19:16), software reset (26:24).
    pub CONTROL1 [
        INT_CLK_EN OFFSET(0) NUMBITS(1) [],
        INT_CLK_STABLE OFFSET(1) NUMBITS(1) [],
        SD_CLK_EN OFFSET(2) NUMBITS(1) [],
        CLK_DIV_HI OFFSET(6) NUMBITS(2) [],
        CLK_DIV_LO OFFSET(8) NUMBITS(8) [],
        DATA_TOUNIT OFFSET(16) NUMBITS(4) [],
        SRST_HC OFFSET(24) NUMBITS(1) [],
        SRST_CMD OFFSET(25) NUMBITS(1) [],
        SRST_DATA OFFSET(26) NUMBITS(1) []
    ]
}

register_structs! {
    /// The SDHCI register block (SD Host Controller Simplified Specification 3.00).
    pub SdhciRegs {
        (0x00 => pub arg2: ReadWrite<u32>),
        (0x04 => pub blksizecnt: ReadWrite<u32, BLKSIZECNT::Register>),
        (0x08 => pub arg1: ReadWrite<u32>),
        /// Transfer mode (15:0) and command (31:16), written together.
        (0x0c => pub cmdtm: ReadWrite<u32>),
        (0x10 => pub resp: [ReadOnly<u32>; 4]),
        (0x20 => pub data: ReadWrite<u32>),
        (0x24 => pub present: ReadOnly<u32, PRESENT::Register>),
        (0x28 => pub control0: ReadWrite<u32, CONTROL0::Register>),
        (0x2c => pub control1: ReadWrite<u32, CONTROL1::Register>),
        /// Normal (15:0) and error (31:16) interrupt status, write 1 to clear.
        (0x30 => pub interrupt: ReadWrite<u32>),
        /// Which status bits are recorded.
        (0x34 => pub int_enable: ReadWrite<u32>),
        /// Which recorded bits raise the interrupt line.
        (0x38 => pub int_signal: ReadWrite<u32>),
        (0x3c => pub control2: ReadWrite<u32>),
        (0x40 => pub caps: [ReadOnly<u32>; 2]),
        (0x48 => _reserved),
        /// Slot interrupt status (15:0) and host controller version (31:16).
        (0xfc => pub slotisr_ver: ReadOnly<u32>),
        (0x100 => @END),
    }
}

/// Bytes of the register block (what the driver ioremaps, and /proc/iomem shows).
pub const SDHCI_REG_SIZE: u64 = 0x100;

// Interrupt status bits (`SDHCI_INT_*`).
pub const INT_CMD_COMPLETE: u32 = 1 << 0;
pub const INT_DATA_END: u32 = 1 << 1;
pub const INT_SPACE_AVAIL: u32 = 1 << 4;
pub const INT_DATA_AVAIL: u32 = 1 << 5;
pub const INT_CARD_INSERT: u32 = 1 << 6;
pub const INT_CARD_REMOVE: u32 = 1 << 7;
pub const INT_ERROR: u32 = 1 << 15;
pub const INT_TIMEOUT: u32 = 1 << 16;
pub const INT_CRC: u32 = 1 << 17;
pub const INT_END_BIT: u32 = 1 << 18;
pub const INT_INDEX: u32 = 1 << 19;
pub const INT_DATA_TIMEOUT: u32 = 1 << 20;
pub const INT_DATA_CRC: u32 = 1 << 21;
pub const INT_DATA_END_BIT: u32 = 1 << 22;
pub const INT_ACMD12ERR: u32 = 1 << 24;
/// Errors of the command phase, and of the data phase.
pub const INT_CMD_MASK: u32 = INT_TIMEOUT | INT_CRC | INT_END_BIT | INT_INDEX;
pub const INT_DATA_MASK: u32 = INT_DATA_TIMEOUT | INT_DATA_CRC | INT_DATA_END_BIT | INT_ACMD12ERR;
/// Everything the driver listens to (`sdhci_set_default_irqs`, PIO).
pub const INT_ENABLE: u32 = INT_CMD_COMPLETE
    | INT_DATA_END
    | INT_SPACE_AVAIL
    | INT_DATA_AVAIL
    | INT_CARD_INSERT
    | INT_CARD_REMOVE
    | INT_CMD_MASK
    | INT_DATA_MASK;

// Transfer mode bits (low half of 0x0c).
const TRNS_BLK_CNT_EN: u32 = 1 << 1;
const TRNS_AUTO_CMD12: u32 = 1 << 2;
const TRNS_READ: u32 = 1 << 4;
const TRNS_MULTI: u32 = 1 << 5;
// Command bits (high half).
const CMD_RESP_NONE: u32 = 0;
const CMD_RESP_LONG: u32 = 1;
const CMD_RESP_SHORT: u32 = 2;
const CMD_RESP_SHORT_BUSY: u32 = 3;
const CMD_CRC: u32 = 1 << 3;
const CMD_INDEX: u32 = 1 << 4;
const CMD_DATA: u32 = 1 << 5;

/// The direction of a command's data phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDir {
    Read,
    Write,
}

/// The word for register 0x0c (`sdhci_set_transfer_mode` + `SDHCI_MAKE_CMD`): response type
/// with its CRC/index checks, data present, and for a multi-block transfer the block count
/// and the controller's own CMD12 at the end.
pub fn command_word(opcode: u8, resp: RespType, data: Option<(DataDir, u32)>) -> u32 {
    let flags = match resp {
        RespType::None => CMD_RESP_NONE,
        RespType::R2 => CMD_RESP_LONG | CMD_CRC,
        RespType::R3 => CMD_RESP_SHORT,
        RespType::R1 => CMD_RESP_SHORT | CMD_CRC | CMD_INDEX,
        RespType::R1b => CMD_RESP_SHORT_BUSY | CMD_CRC | CMD_INDEX,
    };
    let mut cmd = (u32::from(opcode) & 0x3f) << 8 | flags;
    let mut mode = 0;
    if let Some((dir, blocks)) = data {
        cmd |= CMD_DATA;
        if dir == DataDir::Read {
            mode |= TRNS_READ;
        }
        if blocks > 1 {
            mode |= TRNS_MULTI | TRNS_BLK_CNT_EN | TRNS_AUTO_CMD12;
        }
    }
    cmd << 16 | mode
}

/// The 10-bit divider N of SDHCI 3.00's divided clock (SD clock = base / 2N, N = 0: base)
/// for the fastest clock not above `target_hz` (`sdhci_calc_clk`).
pub fn clock_divider(base_hz: u32, target_hz: u32) -> u32 {
    const MAX_DIV: u32 = 1023;
    if target_hz == 0 {
        return MAX_DIV;
    }
    if base_hz <= target_hz {
        return 0;
    }
    base_hz.div_ceil(2 * target_hz).min(MAX_DIV)
}

/// The CONTROL1 divider fields for divider `n`.
pub fn clock_divider_fields(n: u32) -> (u32, u32) {
    (n & 0xff, (n >> 8) & 0x3)
}

/// The base clock in Hz from capabilities word 0 (bits 15:8 in MHz), or None when the
/// controller does not say.
pub fn base_clock_hz(caps0: u32) -> Option<u32> {
    let mhz = (caps0 >> 8) & 0xff;
    (mhz != 0).then_some(mhz * 1_000_000)
}

/// The errors a command or transfer ends with (`-ETIMEDOUT`, `-EILSEQ`, `-EIO` in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmcError {
    /// The card did not answer (command timeout), or the data did not come.
    Timeout,
    /// CRC, end-bit or index error.
    Ilseq,
    /// The card reported an error in its status, or the transfer ended short.
    Io,
    /// No card in the slot.
    NoMedium,
}

impl MmcError {
    /// The error `sdhci_cmd_irq` / `sdhci_data_irq` record for the status bits `st`.
    pub fn from_status(st: u32) -> Option<MmcError> {
        if st & (INT_TIMEOUT | INT_DATA_TIMEOUT) != 0 {
            Some(MmcError::Timeout)
        } else if st & (INT_CRC | INT_END_BIT | INT_INDEX | INT_DATA_CRC | INT_DATA_END_BIT) != 0 {
            Some(MmcError::Ilseq)
        } else if st & (INT_ACMD12ERR | INT_ERROR) != 0 {
            Some(MmcError::Io)
        } else {
            None
        }
    }

    /// Linux's errno for it.
    pub fn errno(self) -> crate::abi::errno::Errno {
        use crate::abi::errno::Errno;
        match self {
            MmcError::Timeout => Errno::ETIMEDOUT,
            MmcError::Ilseq => Errno::EILSEQ,
            MmcError::Io => Errno::EIO,
            MmcError::NoMedium => Errno::ENOMEDIUM,
        }
    }
}

#[cfg(kernel)]
pub use device::*;

#[cfg(kernel)]
mod device;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::mmc::core::*;

    #[test]
    fn command_words_as_sdhci_builds_them() {
        // CMD0: no response, no flags.
        assert_eq!(command_word(0, RespType::None, None), 0);
        // CMD2 (R2): long response with CRC.
        assert_eq!(command_word(2, RespType::R2, None), (2 << 8 | 1 | 1 << 3) << 16);
        // ACMD41 (R3): short, no CRC or index check.
        assert_eq!(command_word(41, RespType::R3, None), (41 << 8 | 2) << 16);
        // CMD7 (R1b): short with busy.
        assert_eq!(command_word(7, RespType::R1b, None), (7 << 8 | 3 | 3 << 3) << 16);
        // CMD17: single read, data present, read direction, no block count.
        let w = command_word(MMC_READ_SINGLE_BLOCK, RespType::R1, Some((DataDir::Read, 1)));
        assert_eq!(w, (17 << 8 | 2 | 3 << 3 | 1 << 5) << 16 | 1 << 4);
        // CMD25: multi write with block count and auto-CMD12.
        let w = command_word(MMC_WRITE_MULTIPLE_BLOCK, RespType::R1, Some((DataDir::Write, 8)));
        assert_eq!(w, (25 << 8 | 2 | 3 << 3 | 1 << 5) << 16 | 1 << 1 | 1 << 2 | 1 << 5);
    }

    #[test]
    fn clock_dividers() {
        // QEMU's raspi2b SDHCI reports a 52 MHz base clock (capabilities 0x052134b4).
        assert_eq!(base_clock_hz(0x0521_34b4), Some(52_000_000));
        assert_eq!(base_clock_hz(0), None);
        // 400 kHz identification: 52 MHz / (2 * 65) = 400 kHz exactly.
        assert_eq!(clock_divider(52_000_000, 400_000), 65);
        // 25 MHz: N = 2 gives 13 MHz (N = 1 would be 26 MHz, too fast).
        assert_eq!(clock_divider(52_000_000, 25_000_000), 2);
        assert_eq!(clock_divider(52_000_000, 52_000_000), 0);
        assert_eq!(clock_divider(200_000_000, 100), 1023);
        assert_eq!(clock_divider_fields(0x2a5), (0xa5, 2));
    }

    #[test]
    fn error_status_decodes() {
        assert_eq!(MmcError::from_status(INT_ERROR | INT_TIMEOUT), Some(MmcError::Timeout));
        assert_eq!(MmcError::from_status(INT_ERROR | INT_DATA_CRC), Some(MmcError::Ilseq));
        assert_eq!(MmcError::from_status(INT_ERROR | INT_ACMD12ERR), Some(MmcError::Io));
        assert_eq!(MmcError::from_status(INT_CMD_COMPLETE), None);
        assert_eq!(MmcError::Timeout.errno().name(), "ETIMEDOUT");
    }
}
