//! The SD protocol as the host sees it (`mmc/core/sd.c`, `sd_ops.c`, `mmc_ops.c`): command
//! numbers and response types, the OCR, R1 card status, the CID and CSD registers decoded
//! as `mmc_decode_cid` / `mmc_decode_csd` do (both CSD versions), the SCR's bus widths, the
//! steps of card identification, and the sizes the boot messages print. Pure.
use core::fmt;

// Command numbers (`include/linux/mmc/mmc.h`, `sd.h`).
pub const MMC_GO_IDLE_STATE: u8 = 0;
pub const MMC_ALL_SEND_CID: u8 = 2;
pub const SD_SEND_RELATIVE_ADDR: u8 = 3;
pub const SD_SWITCH_BUS_WIDTH: u8 = 6; // ACMD6
pub const MMC_SELECT_CARD: u8 = 7;
pub const SD_SEND_IF_COND: u8 = 8;
pub const MMC_SEND_CSD: u8 = 9;
pub const MMC_STOP_TRANSMISSION: u8 = 12;
pub const MMC_SEND_STATUS: u8 = 13;
pub const MMC_SET_BLOCKLEN: u8 = 16;
pub const MMC_READ_SINGLE_BLOCK: u8 = 17;
pub const MMC_READ_MULTIPLE_BLOCK: u8 = 18;
pub const MMC_WRITE_BLOCK: u8 = 24;
pub const MMC_WRITE_MULTIPLE_BLOCK: u8 = 25;
pub const SD_APP_OP_COND: u8 = 41; // ACMD41
pub const SD_APP_SEND_SCR: u8 = 51; // ACMD51
pub const MMC_APP_CMD: u8 = 55;

/// CMD8's argument: 2.7-3.6 V and the check pattern 0xAA, echoed in R7.
pub const SD_IF_COND_ARG: u32 = 0x1aa;
/// The OCR voltage window pivm asks for (3.2-3.4 V, what the Pi supplies).
pub const OCR_VDD_32_34: u32 = 0x0030_0000;
/// OCR bits: card capacity status / host capacity support, and power-up done.
pub const SD_OCR_CCS: u32 = 1 << 30;
pub const MMC_CARD_BUSY: u32 = 1 << 31;
/// ACMD6's argument for a 4-bit bus.
pub const SD_BUS_WIDTH_4: u32 = 2;
/// The block size every transfer uses.
pub const BLOCK_SIZE: u32 = 512;

/// The response a command expects (Linux's `MMC_RSP_*` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RespType {
    None,
    /// R1, R6, R7: 48 bits with CRC and index.
    R1,
    /// R1b: R1 and the card holds DAT0 busy.
    R1b,
    /// R2: 136 bits (CID, CSD), CRC but no index.
    R2,
    /// R3: the OCR, neither CRC nor index.
    R3,
}

/// The response type of each command pivm sends.
pub const fn resp_type(opcode: u8, app: bool) -> RespType {
    match (opcode, app) {
        (MMC_GO_IDLE_STATE, false) => RespType::None,
        (MMC_ALL_SEND_CID, false) | (MMC_SEND_CSD, false) => RespType::R2,
        (SD_APP_OP_COND, true) => RespType::R3,
        (MMC_SELECT_CARD, false) | (MMC_STOP_TRANSMISSION, false) => RespType::R1b,
        _ => RespType::R1,
    }
}

/// R1 card status bits that mean the command failed (`R1_*` error bits).
pub const R1_OUT_OF_RANGE: u32 = 1 << 31;
pub const R1_ADDRESS_ERROR: u32 = 1 << 30;
pub const R1_BLOCK_LEN_ERROR: u32 = 1 << 29;
pub const R1_WP_VIOLATION: u32 = 1 << 26;
pub const R1_COM_CRC_ERROR: u32 = 1 << 23;
pub const R1_ILLEGAL_COMMAND: u32 = 1 << 22;
pub const R1_CARD_ECC_FAILED: u32 = 1 << 21;
pub const R1_CC_ERROR: u32 = 1 << 20;
pub const R1_ERROR: u32 = 1 << 19;
/// R1 bit: the card expects an application command next.
pub const R1_APP_CMD: u32 = 1 << 5;
/// The error bits a data command's R1 is checked for (`CMD_ERRORS`).
pub const R1_CMD_ERRORS: u32 = R1_OUT_OF_RANGE
    | R1_ADDRESS_ERROR
    | R1_BLOCK_LEN_ERROR
    | R1_WP_VIOLATION
    | R1_CARD_ECC_FAILED
    | R1_CC_ERROR
    | R1_ERROR;

/// `R1_CURRENT_STATE`: the card's state in an R1 (bits 12:9).
pub const fn r1_current_state(r1: u32) -> u32 {
    (r1 >> 9) & 0xf
}

/// SD card states (`R1_STATE_*`).
pub const R1_STATE_IDLE: u32 = 0;
pub const R1_STATE_STBY: u32 = 3;
pub const R1_STATE_TRAN: u32 = 4;

/// Linux's `UNSTUFF_BITS`: `size` bits from bit `start` of a 128-bit register held as
/// `resp[0]` (bits 127:96) .. `resp[3]` (bits 31:0).
pub fn unstuff_bits(resp: &[u32; 4], start: u32, size: u32) -> u32 {
    let mask: u32 = if size < 32 { (1 << size) - 1 } else { !0 };
    let off = 3 - (start / 32) as usize;
    let shft = start % 32;
    let mut res = resp[off] >> shft;
    if size + shft > 32 {
        res |= resp[off - 1] << ((32 - shft) % 32);
    }
    res & mask
}

/// An SDHCI controller keeps R2 without its CRC byte: response register n holds bits
/// [32n+39 : 32n+8] of the 136-bit response. This undoes the shift as `sdhci_read_rsp_136`
/// does, into `unstuff_bits`'s order (the CRC byte reads as 0).
pub fn r2_from_sdhci(regs: [u32; 4]) -> [u32; 4] {
    let mut r = [0u32; 4];
    for (i, slot) in r.iter_mut().enumerate() {
        let reg = regs[3 - i];
        *slot = reg << 8;
        if i != 3 {
            *slot |= regs[2 - i] >> 24;
        }
    }
    r
}

/// The card identification register (`struct mmc_cid`) of an SD card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cid {
    pub manfid: u32,
    pub oemid: u32,
    /// Product name, 5 ASCII characters.
    pub prod_name: [u8; 5],
    pub hwrev: u32,
    pub fwrev: u32,
    pub serial: u32,
    pub year: u32,
    pub month: u32,
}

impl Cid {
    /// `mmc_decode_cid` for SD cards.
    pub fn decode(r: &[u32; 4]) -> Cid {
        let mut prod_name = [0u8; 5];
        for (i, c) in prod_name.iter_mut().enumerate() {
            *c = unstuff_bits(r, 96 - 8 * i as u32, 8) as u8;
        }
        Cid {
            manfid: unstuff_bits(r, 120, 8),
            oemid: unstuff_bits(r, 104, 16),
            prod_name,
            hwrev: unstuff_bits(r, 60, 4),
            fwrev: unstuff_bits(r, 56, 4),
            serial: unstuff_bits(r, 24, 32),
            year: unstuff_bits(r, 12, 8) + 2000,
            month: unstuff_bits(r, 8, 4),
        }
    }

    /// The product name as text (`mmc_card_name`), non-printable bytes as `?`.
    pub fn name(&self) -> impl fmt::Display + '_ {
        struct Name<'a>(&'a [u8; 5]);
        impl fmt::Display for Name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for &b in self.0.iter().take_while(|&&b| b != 0) {
                    let c = if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' };
                    write!(f, "{c}")?;
                }
                Ok(())
            }
        }
        Name(&self.prod_name)
    }
}

/// What the CSD tells the host (`struct mmc_csd`, the fields pivm uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Csd {
    /// CSD_STRUCTURE: 0 (SDSC, v1.0) or 1 (SDHC/SDXC, v2.0).
    pub structure: u32,
    /// Card command classes (CCC).
    pub cmdclass: u32,
    /// Capacity in units of 2^`read_blkbits` bytes.
    pub capacity: u64,
    pub read_blkbits: u32,
    pub write_blkbits: u32,
    /// TRAN_SPEED in Hz.
    pub max_dtr: u32,
}

/// Why a register could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsdError {
    /// CSD_STRUCTURE 2 or 3 (Linux: "unrecognised CSD structure version").
    UnknownStructure(u32),
}

impl fmt::Display for CsdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsdError::UnknownStructure(v) => write!(f, "unrecognised CSD structure version {v}"),
        }
    }
}

/// TRAN_SPEED's units (100 kbit/s .. 100 Mbit/s, the last three unused) and multipliers
/// (x10), as `tran_exp` / `tran_mant`.
const TRAN_EXP: [u32; 8] = [10_000, 100_000, 1_000_000, 10_000_000, 0, 0, 0, 0];
const TRAN_MANT: [u32; 16] = [0, 10, 12, 13, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80];

impl Csd {
    /// `mmc_decode_csd` for SD cards: version 1.0 (C_SIZE, C_SIZE_MULT, READ_BL_LEN) and 2.0
    /// (C_SIZE in 512 KiB units, 512-byte blocks).
    pub fn decode(r: &[u32; 4]) -> Result<Csd, CsdError> {
        let structure = unstuff_bits(r, 126, 2);
        let tran = unstuff_bits(r, 96, 8);
        let max_dtr = TRAN_EXP[(tran & 7) as usize] * TRAN_MANT[((tran >> 3) & 0xf) as usize];
        let cmdclass = unstuff_bits(r, 84, 12);
        match structure {
            0 => {
                let e = unstuff_bits(r, 47, 3);
                let m = unstuff_bits(r, 62, 12);
                Ok(Csd {
                    structure,
                    cmdclass,
                    capacity: u64::from(1 + m) << (e + 2),
                    read_blkbits: unstuff_bits(r, 80, 4),
                    write_blkbits: unstuff_bits(r, 22, 4),
                    max_dtr,
                })
            }
            1 => {
                let m = unstuff_bits(r, 48, 22);
                Ok(Csd {
                    structure,
                    cmdclass,
                    capacity: u64::from(1 + m) << 10,
                    read_blkbits: 9,
                    write_blkbits: 9,
                    max_dtr,
                })
            }
            v => Err(CsdError::UnknownStructure(v)),
        }
    }

    /// The card's size in 512-byte sectors (`capacity << (read_blkbits - 9)`).
    pub fn sectors(&self) -> u64 {
        if self.read_blkbits >= 9 {
            self.capacity << (self.read_blkbits - 9)
        } else {
            self.capacity >> (9 - self.read_blkbits)
        }
    }
}

/// The SCR's supported bus widths (`SD_SCR_BUS_WIDTH_4`), from its first word.
pub fn scr_supports_4bit(scr0: u32) -> bool {
    (scr0 >> 16) & 0x4 != 0
}

/// The kind of card, for `mmc0: new ... card at address 4567` (`mmc_card_hc`: the OCR's
/// CCS bit says block addressing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardType {
    /// Standard capacity: byte addresses, CSD 1.0.
    Sd,
    /// High capacity: block addresses.
    Sdhc,
    /// Extended capacity (above 32 GiB).
    Sdxc,
}

impl CardType {
    /// From the OCR's CCS bit and the capacity in sectors (SDXC above 32 GiB).
    pub fn from_ocr(ocr: u32, sectors: u64) -> CardType {
        const SDXC_SECTORS: u64 = 32 << 21; // 32 GiB
        if ocr & SD_OCR_CCS == 0 {
            CardType::Sd
        } else if sectors > SDXC_SECTORS {
            CardType::Sdxc
        } else {
            CardType::Sdhc
        }
    }

    /// Block addressing: the argument of a data command is a sector, not a byte offset.
    pub fn block_addressed(self) -> bool {
        self != CardType::Sd
    }

    /// `mmc_add_card`'s type word.
    pub fn name(self) -> &'static str {
        match self {
            CardType::Sd => "SD",
            CardType::Sdhc => "SDHC",
            CardType::Sdxc => "SDXC",
        }
    }
}

/// A data command's argument: the sector, or its byte offset on a standard-capacity card.
pub fn data_arg(card: CardType, sector: u64) -> Option<u32> {
    let v = if card.block_addressed() { sector } else { sector.checked_mul(512)? };
    u32::try_from(v).ok()
}

/// Linux's `string_get_size(size, blk_size, STRING_UNITS_2)`: three significant digits and
/// a binary unit (`64.0 MiB`, `512 MiB`, `1.50 GiB`).
pub struct StringSize(pub u64);

impl fmt::Display for StringSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
        const DIVISOR: u64 = 1024;
        let mut size = self.0;
        let mut remainder: u64 = 0;
        let mut i = 0;
        if size == 0 {
            return write!(f, "0 B");
        }
        while size >= DIVISOR {
            remainder = size % DIVISOR;
            size /= DIVISOR;
            i += 1;
        }
        // Three significant digits: as many decimals as the integer part leaves room for.
        let mut j = 1u32;
        let mut sf_cap = size;
        while sf_cap * 10 < 1000 {
            sf_cap *= 10;
            j += 1;
        }
        let j = j - 1; // decimals (0, 1 or 2)
        if i == 0 || j == 0 {
            // No decimals: round to the nearest integer unit as Linux does (it truncates
            // after adding half of the last digit).
            return write!(f, "{} {}", size, UNITS[i]);
        }
        // remainder/DIVISOR as `j` decimal digits, rounded half up.
        let scale = 10u64.pow(j);
        let mut frac = (remainder * scale * 10 / DIVISOR + 5) / 10;
        let mut whole = size;
        if frac >= scale {
            frac -= scale;
            whole += 1;
        }
        write!(f, "{}.{:0width$} {}", whole, frac, UNITS[i], width = j as usize)
    }
}

/// The steps of card identification (`mmc_rescan` -> `mmc_attach_sd`), in order, so the
/// driver and its tests agree on the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitStep {
    GoIdle,
    SendIfCond,
    AppOpCond,
    AllSendCid,
    SendRelativeAddr,
    SendCsd,
    SelectCard,
    SetBlockLen,
    SendScr,
    SetBusWidth,
    Done,
}

impl InitStep {
    /// The step after this one for a card of `card` type whose SCR says `four_bit`.
    pub fn next(self, card: CardType, four_bit: bool) -> InitStep {
        use InitStep::*;
        match self {
            GoIdle => SendIfCond,
            SendIfCond => AppOpCond,
            AppOpCond => AllSendCid,
            AllSendCid => SendRelativeAddr,
            SendRelativeAddr => SendCsd,
            SendCsd => SelectCard,
            // CMD16 only where the block length is settable: standard-capacity cards.
            SelectCard if card.block_addressed() => SendScr,
            SelectCard => SetBlockLen,
            SetBlockLen => SendScr,
            SendScr if four_bit => SetBusWidth,
            SendScr | SetBusWidth | Done => Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// A 128-bit register from its 16 bytes, most significant first.
    fn reg(bytes: [u8; 16]) -> [u32; 4] {
        core::array::from_fn(|i| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()))
    }

    /// QEMU's SD card model (hw/sd/sd.c) for a 64 MiB image: CSD version 1.0 with
    /// READ_BL_LEN 9, C_SIZE_MULT 7 (512 << 9 = 2^18 per C_SIZE unit... set below).
    fn csd_v1(c_size: u32, c_size_mult: u32, read_bl_len: u32) -> [u32; 4] {
        let mut r = [0u32; 4];
        let mut put = |start: u32, size: u32, v: u32| {
            for b in 0..size {
                if v >> b & 1 != 0 {
                    let bit = start + b;
                    r[3 - (bit / 32) as usize] |= 1 << (bit % 32);
                }
            }
        };
        put(126, 2, 0);
        put(96, 8, 0x32); // TRAN_SPEED 25 MHz
        put(84, 12, 0x5b5);
        put(80, 4, read_bl_len);
        put(62, 12, c_size);
        put(47, 3, c_size_mult);
        put(22, 4, 9);
        r
    }

    #[test]
    fn csd_v1_capacity_as_linux_computes_it() {
        // 64 MiB = 131072 sectors: (C_SIZE + 1) << (MULT + 2) blocks of 2^READ_BL_LEN.
        let c = Csd::decode(&csd_v1(4095, 3, 9)).unwrap();
        assert_eq!(c.structure, 0);
        assert_eq!(c.sectors(), 4096 << 5);
        assert_eq!(c.capacity, 131072);
        assert_eq!(c.max_dtr, 25_000_000);
        assert_eq!(c.cmdclass, 0x5b5);
        // A 2 GiB card with 1024-byte blocks: capacity counts 1 KiB blocks.
        let c = Csd::decode(&csd_v1(4095, 7, 10)).unwrap();
        assert_eq!(c.sectors(), (4096u64 << 9) * 2);
    }

    #[test]
    fn csd_v2_capacity_is_c_size_plus_one_times_512k() {
        // A real 8 GB SDHC card's CSD: 400e0032 5b590000 3b377f80 0a404000.
        let r = reg([
            0x40, 0x0e, 0x00, 0x32, 0x5b, 0x59, 0x00, 0x00, 0x3b, 0x37, 0x7f, 0x80, 0x0a, 0x40,
            0x40, 0x00,
        ]);
        let c = Csd::decode(&r).unwrap();
        assert_eq!(c.structure, 1);
        assert_eq!(c.sectors(), (0x3b37 + 1) << 10);
        assert_eq!(c.max_dtr, 25_000_000);
        // Structure 2 is refused.
        let mut bad = r;
        bad[0] = (bad[0] & 0x3fff_ffff) | 0x8000_0000;
        assert_eq!(Csd::decode(&bad), Err(CsdError::UnknownStructure(2)));
    }

    #[test]
    fn sdhci_r2_shift_is_undone() {
        // The register bytes QEMU's SDHCI holds for a CID (15 bytes, CRC dropped).
        let cid = [
            0xaa, b'X', b'Y', b'Q', b'E', b'M', b'U', b'!', 0x12, 0x34, 0x56, 0x78, 0x9a, 0x01,
            0x2c, 0x00,
        ];
        let full = reg(cid);
        // rspreg[0] = bytes 11..14, rspreg[3] = bytes 0..2 (bits 127:104).
        let regs = [
            u32::from_be_bytes([cid[11], cid[12], cid[13], cid[14]]),
            u32::from_be_bytes([cid[7], cid[8], cid[9], cid[10]]),
            u32::from_be_bytes([cid[3], cid[4], cid[5], cid[6]]),
            u32::from_be_bytes([0, cid[0], cid[1], cid[2]]),
        ];
        assert_eq!(r2_from_sdhci(regs), full);
        let c = Cid::decode(&full);
        assert_eq!(c.manfid, 0xaa);
        assert_eq!(c.oemid, u32::from(u16::from_be_bytes(*b"XY")));
        assert_eq!(c.name().to_string(), "QEMU!");
        assert_eq!(c.serial, 0x3456_789a);
        assert_eq!((c.year, c.month), (2018, 12));
    }

    #[test]
    fn unstuff_bits_crosses_word_boundaries() {
        let r = [0x0000_0001, 0x0000_0001, 0x8000_0000, 0xffff_ffff];
        assert_eq!(unstuff_bits(&r, 63, 2), 0b11);
        assert_eq!(unstuff_bits(&r, 0, 32), 0xffff_ffff);
        assert_eq!(unstuff_bits(&r, 96, 1), 1);
    }

    #[test]
    fn card_types_and_addressing() {
        assert_eq!(CardType::from_ocr(0x80ff_8000, 131072), CardType::Sd);
        assert_eq!(CardType::from_ocr(0xc0ff_8000, 1 << 24), CardType::Sdhc);
        assert_eq!(CardType::from_ocr(0xc0ff_8000, 1 << 27), CardType::Sdxc);
        assert_eq!(data_arg(CardType::Sd, 3), Some(1536));
        assert_eq!(data_arg(CardType::Sdhc, 3), Some(3));
        assert_eq!(data_arg(CardType::Sd, 1 << 23), None);
        assert_eq!(r1_current_state(4 << 9 | R1_APP_CMD), R1_STATE_TRAN);
    }

    #[test]
    fn identification_sequence() {
        let walk = |card, four| {
            let mut s = InitStep::GoIdle;
            let mut v = alloc::vec![s];
            while s != InitStep::Done {
                s = s.next(card, four);
                v.push(s);
            }
            v
        };
        use InitStep::*;
        assert_eq!(
            walk(CardType::Sd, true),
            [
                GoIdle,
                SendIfCond,
                AppOpCond,
                AllSendCid,
                SendRelativeAddr,
                SendCsd,
                SelectCard,
                SetBlockLen,
                SendScr,
                SetBusWidth,
                Done
            ]
        );
        assert!(!walk(CardType::Sdhc, false).contains(&SetBlockLen));
        assert!(!walk(CardType::Sdhc, false).contains(&SetBusWidth));
        assert_eq!(resp_type(SD_APP_OP_COND, true), RespType::R3);
        assert_eq!(resp_type(MMC_SEND_CSD, false), RespType::R2);
        assert_eq!(resp_type(MMC_SELECT_CARD, false), RespType::R1b);
        assert!(scr_supports_4bit(0x0235_0000));
        assert!(!scr_supports_4bit(0x0131_0000));
    }

    #[test]
    fn sizes_print_as_string_get_size() {
        let s = |sectors: u64| StringSize(sectors * 512).to_string();
        assert_eq!(s(131072), "64.0 MiB");
        assert_eq!(s(1048576), "512 MiB");
        assert_eq!(s(3 << 20), "1.50 GiB");
        assert_eq!(s(15_523_840), "7.40 GiB");
        assert_eq!(StringSize(0).to_string(), "0 B");
        assert_eq!(StringSize(1000).to_string(), "1000 B");
    }
}
