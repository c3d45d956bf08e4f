//! `BootInfo`: the firmware's hand-over in one fixed-size value (no heap exists at boot).
use super::cmdline::Escaped;
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
    /// The device tree's default CMA area (a `reusable` `shared-dma-pool` with
    /// `linux,cma-default`), placed by the reserved-memory scan but not reserved: it stays in
    /// the page allocator, for the CMA code to take as Linux's MIGRATE_CMA pageblocks.
    pub cma: Option<MemBank>,
    /// The initramfs the loader placed in RAM (ATAG_INITRD2, or the device tree's
    /// `/chosen/linux,initrd-start` and `linux,initrd-end`).
    pub initrd: Option<MemBank>,
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
            cma: None,
            initrd: None,
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

    /// The kernel command line's bytes (at most `COMMAND_LINE_SIZE - 1`, like Linux).
    pub fn cmdline_bytes(&self) -> &[u8] {
        &self.cmdline[..self.cmdline_len]
    }

    /// The command line for printing (`/proc/cmdline`, the boot log): every byte, the ones a
    /// terminal cannot show as `\xNN`.
    pub fn cmdline(&self) -> Escaped<'_> {
        Escaped(self.cmdline_bytes())
    }

    /// Stores the command line as given, up to its NUL (Linux's `strscpy`).
    pub fn set_cmdline(&mut self, bytes: &[u8]) {
        self.cmdline_len = copy_cstr(&mut self.cmdline[..COMMAND_LINE_SIZE - 1], bytes);
    }

    /// The device tree's `/model`, for printing.
    pub fn model(&self) -> Escaped<'_> {
        Escaped(&self.model[..self.model_len])
    }

    pub fn set_model(&mut self, bytes: &[u8]) {
        self.model_len = copy_cstr(&mut self.model, bytes);
    }
}

/// Copies `src` up to its first NUL, as much as fits; returns the length written.
fn copy_cstr(dst: &mut [u8], src: &[u8]) -> usize {
    let len = src.iter().position(|&b| b == 0).unwrap_or(src.len()).min(dst.len());
    dst[..len].copy_from_slice(&src[..len]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16.7: bytes were dropped (`café=1` became `caf=1`); they are kept and shown.
    #[test]
    fn cmdline_keeps_its_bytes_and_is_truncated() {
        let mut bi = BootInfo::new();
        bi.set_cmdline("a=b\x01 caf\u{e9}=1\0ignored".as_bytes());
        assert_eq!(bi.cmdline_bytes(), "a=b\x01 caf\u{e9}=1".as_bytes());
        assert_eq!(bi.cmdline().to_string(), "a=b\\x01 caf\u{e9}=1");
        let long = [b'x'; 2000];
        bi.set_cmdline(&long);
        assert_eq!(bi.cmdline_bytes().len(), COMMAND_LINE_SIZE - 1);
        bi.set_model(b"Pi\x07 2\0x");
        assert_eq!(bi.model().to_string(), "Pi\\x07 2");
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
