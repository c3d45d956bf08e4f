//! `BootInfo`: the firmware's hand-over in one fixed-size value (no heap exists at boot).
use crate::mm::PhysAddr;

/// At most this many RAM banks are kept (ATAG_MEM entries or /memory reg cells).
pub const MAX_MEM_BANKS: usize = 8;
/// Linux's ARM `COMMAND_LINE_SIZE`.
pub const COMMAND_LINE_SIZE: usize = 1024;

/// One contiguous range of RAM reported by the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MemBank {
    pub start: PhysAddr,
    pub size: u64,
}

impl MemBank {
    pub const fn end(&self) -> u64 {
        self.start.0 + self.size
    }
}

/// Where the boot information came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BootSource {
    /// An ATAG list (r2 pointed at ATAG_CORE).
    Atags,
    /// A flattened device tree (r2 pointed at the 0xd00dfeed magic).
    DeviceTree,
    /// r2 held nothing usable; RAM size came from the VideoCore mailbox.
    Mailbox,
    /// Nothing was found at all.
    #[default]
    None,
}

/// RAM banks, command line and provenance, as parsed from the boot parameters.
#[derive(Clone, Debug)]
pub struct BootInfo {
    pub source: BootSource,
    /// Physical address r2 pointed at (0 if none).
    pub params_phys: PhysAddr,
    /// Bytes of the ATAG list or DTB blob at `params_phys` (to reserve them).
    pub params_size: u64,
    pub banks: [MemBank; MAX_MEM_BANKS],
    pub nr_banks: usize,
    cmdline: [u8; COMMAND_LINE_SIZE],
    cmdline_len: usize,
    /// Device tree `/model` (empty for ATAGs).
    model: [u8; 64],
    model_len: usize,
}

impl Default for BootInfo {
    fn default() -> Self {
        Self::new()
    }
}

impl BootInfo {
    pub const fn new() -> Self {
        Self {
            source: BootSource::None,
            params_phys: PhysAddr(0),
            params_size: 0,
            banks: [MemBank { start: PhysAddr(0), size: 0 }; MAX_MEM_BANKS],
            nr_banks: 0,
            cmdline: [0; COMMAND_LINE_SIZE],
            cmdline_len: 0,
            model: [0; 64],
            model_len: 0,
        }
    }

    /// The RAM banks, in the order the firmware listed them.
    pub fn banks(&self) -> &[MemBank] {
        &self.banks[..self.nr_banks]
    }

    /// Adds a bank; returns false (and drops it) when all slots are used or it is empty.
    pub fn add_bank(&mut self, start: u64, size: u64) -> bool {
        if size == 0 || self.nr_banks == MAX_MEM_BANKS {
            return false;
        }
        self.banks[self.nr_banks] = MemBank { start: PhysAddr(start), size };
        self.nr_banks += 1;
        true
    }

    /// The kernel command line (truncated to `COMMAND_LINE_SIZE - 1` bytes, like Linux).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// Stores the command line, dropping bytes that are not printable ASCII.
    pub fn set_cmdline(&mut self, bytes: &[u8]) {
        self.cmdline_len = copy_printable(&mut self.cmdline[..COMMAND_LINE_SIZE - 1], bytes);
    }

    pub fn model(&self) -> &str {
        core::str::from_utf8(&self.model[..self.model_len]).unwrap_or("")
    }

    pub fn set_model(&mut self, bytes: &[u8]) {
        self.model_len = copy_printable(&mut self.model, bytes);
    }
}

/// Copies printable ASCII (stopping at NUL), returns the length written.
fn copy_printable(dst: &mut [u8], src: &[u8]) -> usize {
    let mut n = 0;
    for &b in src.iter().take_while(|&&b| b != 0) {
        if n == dst.len() {
            break;
        }
        if (0x20..0x7f).contains(&b) {
            dst[n] = b;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_is_truncated_and_filtered() {
        let mut bi = BootInfo::new();
        bi.set_cmdline(b"a=b\x01 c\0ignored");
        assert_eq!(bi.cmdline(), "a=b c");
        let long = [b'x'; 2000];
        bi.set_cmdline(&long);
        assert_eq!(bi.cmdline().len(), COMMAND_LINE_SIZE - 1);
    }

    #[test]
    fn banks_are_bounded() {
        let mut bi = BootInfo::new();
        assert!(!bi.add_bank(0, 0));
        for i in 0..MAX_MEM_BANKS as u64 {
            assert!(bi.add_bank(i << 20, 1 << 20));
        }
        assert!(!bi.add_bank(0x4000_0000, 1));
        assert_eq!(bi.banks().len(), MAX_MEM_BANKS);
    }
}
