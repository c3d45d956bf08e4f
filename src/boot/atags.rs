//! ATAG list parser: the boot parameters QEMU's raspi2b (and older Pi firmware) leave at 0x100.
//! Fills `BootInfo` with the RAM banks (ATAG_MEM) and the command line (ATAG_CMDLINE), the same
//! tags Linux's `arch/arm/kernel/atags_parse.c` acts on; every other tag is skipped.
use core::fmt;

use super::info::{BootInfo, BootSource};
use crate::mm::PhysAddr;

/// Terminates the list. QEMU and Linux write it with size 0, some boot loaders with size 2;
/// either is accepted.
pub const ATAG_NONE: u32 = 0x0000_0000;
/// Must be the first tag (payload: flags, page size, root device; or no payload at all).
pub const ATAG_CORE: u32 = 0x5441_0001;
/// One bank of RAM: size, start.
pub const ATAG_MEM: u32 = 0x5441_0002;
/// VGA text console description (ignored).
pub const ATAG_VIDEOTEXT: u32 = 0x5441_0003;
/// RAM disk description (ignored).
pub const ATAG_RAMDISK: u32 = 0x5441_0004;
/// Initial RAM disk by virtual address (deprecated, ignored).
pub const ATAG_INITRD: u32 = 0x5441_0005;
/// Initial RAM disk by physical address (ignored for now).
pub const ATAG_INITRD2: u32 = 0x5442_0005;
/// 64-bit board serial number (ignored).
pub const ATAG_SERIAL: u32 = 0x5441_0006;
/// Board revision (ignored).
pub const ATAG_REVISION: u32 = 0x5441_0007;
/// Frame buffer description (ignored).
pub const ATAG_VIDEOLFB: u32 = 0x5441_0008;
/// The kernel command line, a NUL-terminated string.
pub const ATAG_CMDLINE: u32 = 0x5441_0009;

/// Header words per tag (size, tag).
const ATAG_HDR_WORDS: u32 = 2;
/// `struct tag_core` with its payload; the payload-less form is `ATAG_HDR_WORDS`.
const ATAG_CORE_WORDS: u32 = 5;
/// `struct tag_mem32`: header + size + start.
const ATAG_MEM_WORDS: u32 = 4;
/// Bound on the walk, so a list that never reaches ATAG_NONE cannot loop for long.
pub const MAX_ATAGS: usize = 256;

/// Why an ATAG list was rejected. `info` is left untouched when parsing fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtagError {
    /// The first tag is not ATAG_CORE (or the slice is too short to hold one).
    NoCore { tag: u32 },
    /// ATAG_CORE has a size other than 2 or 5 words.
    BadCoreSize { size: u32 },
    /// A tag (other than ATAG_NONE) claims fewer than the 2 header words.
    SizeTooSmall { offset: usize, tag: u32, size: u32 },
    /// A tag extends past the end of the mapped slice.
    Truncated { offset: usize, tag: u32, size: u32 },
    /// A tag with a fixed layout (ATAG_MEM) has the wrong size.
    BadTagSize { offset: usize, tag: u32, size: u32 },
    /// `MAX_ATAGS` tags were walked without finding ATAG_NONE.
    TooManyTags,
}

impl fmt::Display for AtagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AtagError::NoCore { tag } => {
                write!(f, "atags: list does not start with ATAG_CORE (found tag {tag:#010x})")
            }
            AtagError::BadCoreSize { size } => {
                write!(f, "atags: ATAG_CORE has size {size} words (expected 2 or 5)")
            }
            AtagError::SizeTooSmall { offset, tag, size } => write!(
                f,
                "atags: tag {tag:#010x} at offset {offset:#x} has size {size} words (minimum 2)"
            ),
            AtagError::Truncated { offset, tag, size } => write!(
                f,
                "atags: tag {tag:#010x} at offset {offset:#x} ({size} words) runs past the mapped list"
            ),
            AtagError::BadTagSize { offset, tag, size } => write!(
                f,
                "atags: tag {tag:#010x} at offset {offset:#x} has wrong size {size} words"
            ),
            AtagError::TooManyTags => {
                write!(f, "atags: no ATAG_NONE within the first {MAX_ATAGS} tags")
            }
        }
    }
}

/// True if the first two words at r2 look like an ATAG list (`{2 or 5, ATAG_CORE}`), so the
/// caller can tell ATAGs from a device tree before mapping more.
pub fn looks_like_atags(first_words: [u32; 2]) -> bool {
    let [size, tag] = first_words;
    tag == ATAG_CORE && (size == ATAG_HDR_WORDS || size == ATAG_CORE_WORDS)
}

/// Parses the ATAG list in `mem` (bytes from `params_phys` on, little-endian words) into `info`.
///
/// The whole list is checked before `info` is changed, so a malformed list leaves `info` as
/// it was. On success `info.source` is `Atags` and `params_size` covers the list up to and
/// including ATAG_NONE (the range to reserve in memblock).
pub fn parse_atags(mem: &[u8], params_phys: u64, info: &mut BootInfo) -> Result<(), AtagError> {
    // First pass validates and finds the end; the second applies the tags.
    let size = walk(mem, |_, _| {})?;
    walk(mem, |tag, payload| apply_tag(tag, payload, info))?;
    info.source = BootSource::Atags;
    info.params_phys = PhysAddr(params_phys);
    info.params_size = size as u64;
    Ok(())
}

/// Acts on one valid tag (sizes were checked by `walk`).
fn apply_tag(tag: u32, payload: &[u8], info: &mut BootInfo) {
    match tag {
        ATAG_MEM => {
            let size = read_word(payload, 0).unwrap_or(0);
            let start = read_word(payload, 4).unwrap_or(0);
            // Like Linux's arm_add_memory, banks beyond the table are ignored.
            let _ = info.add_bank(u64::from(start), u64::from(size));
        }
        // set_cmdline stops at the NUL and truncates to COMMAND_LINE_SIZE - 1, as Linux does.
        ATAG_CMDLINE => info.set_cmdline(payload),
        // `struct tag_initrd`: start (physical), size.
        ATAG_INITRD2 => {
            let start = read_word(payload, 0).unwrap_or(0);
            let size = read_word(payload, 4).unwrap_or(0);
            if size != 0 {
                info.initrd = Some(super::info::MemBank {
                    start: PhysAddr(u64::from(start)),
                    size: u64::from(size),
                });
            }
        }
        _ => {}
    }
}

/// Walks the list, calling `visit(tag, payload)` for every tag after ATAG_CORE and before
/// ATAG_NONE. Returns the byte length of the list including ATAG_NONE.
fn walk(mem: &[u8], mut visit: impl FnMut(u32, &[u8])) -> Result<usize, AtagError> {
    walk_headers(
        mem.len(),
        |offset| read_word(mem, offset),
        |offset, tag, end| visit(tag, &mem[offset + 8..end]),
    )
}

/// Byte length of the ATAG list (including ATAG_NONE), found by reading only tag headers:
/// `read_word(offset)` gives the little-endian word at a byte offset below `readable`.
/// The boot code uses it to learn how many bytes to map before it forms a slice over them.
pub fn atags_size(
    readable: usize,
    read_word: impl FnMut(usize) -> Option<u32>,
) -> Result<usize, AtagError> {
    walk_headers(readable, read_word, |_, _, _| {})
}

/// The walk itself, over `readable` bytes seen through `read_word`: checks ATAG_CORE, every
/// tag's size and that it ends inside `readable`, and calls `visit(offset, tag, end)` for each
/// tag after ATAG_CORE and before ATAG_NONE. Bounded by `MAX_ATAGS`.
fn walk_headers(
    readable: usize,
    mut read_word: impl FnMut(usize) -> Option<u32>,
    mut visit: impl FnMut(usize, u32, usize),
) -> Result<usize, AtagError> {
    // Never asks for a word that does not lie wholly inside `readable`.
    let mut word = |offset: usize| {
        offset.checked_add(4).filter(|&end| end <= readable).and_then(|_| read_word(offset))
    };
    let mut header = |offset: usize| {
        let size = word(offset)?;
        let tag = offset.checked_add(4).and_then(&mut word);
        Some((size, tag))
    };
    let first = header(0);
    let (core_size, core_tag) = match first {
        Some((size, Some(tag))) => (size, tag),
        _ => return Err(AtagError::NoCore { tag: ATAG_NONE }),
    };
    if core_tag != ATAG_CORE {
        return Err(AtagError::NoCore { tag: core_tag });
    }
    if core_size != ATAG_HDR_WORDS && core_size != ATAG_CORE_WORDS {
        return Err(AtagError::BadCoreSize { size: core_size });
    }

    let mut offset = 0usize;
    for _ in 0..MAX_ATAGS {
        let (size, tag) = match header(offset) {
            Some((size, Some(tag))) => (size, tag),
            h => {
                return Err(AtagError::Truncated {
                    offset,
                    tag: ATAG_NONE,
                    size: h.map_or(0, |(size, _)| size),
                })
            }
        };
        if tag == ATAG_NONE {
            return Ok(offset + 8);
        }
        if size < ATAG_HDR_WORDS {
            return Err(AtagError::SizeTooSmall { offset, tag, size });
        }
        let end = match (size as usize).checked_mul(4).and_then(|b| offset.checked_add(b)) {
            Some(end) if end <= readable => end,
            _ => return Err(AtagError::Truncated { offset, tag, size }),
        };
        if tag == ATAG_MEM && size != ATAG_MEM_WORDS {
            return Err(AtagError::BadTagSize { offset, tag, size });
        }
        if offset != 0 {
            visit(offset, tag, end);
        }
        offset = end;
    }
    Err(AtagError::TooManyTags)
}

/// Reads the little-endian word at byte `offset`, if it lies inside `mem`.
fn read_word(mem: &[u8], offset: usize) -> Option<u32> {
    let bytes = mem.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::info::COMMAND_LINE_SIZE;

    /// Builds an ATAG list in memory, the way QEMU's `set_kernel_args` writes it.
    struct Builder(Vec<u8>);

    impl Builder {
        fn new() -> Self {
            Builder(Vec::new())
        }
        fn words(mut self, words: &[u32]) -> Self {
            for w in words {
                self.0.extend_from_slice(&w.to_le_bytes());
            }
            self
        }
        /// ATAG_CORE as QEMU writes it: flags=1, pagesize=4096, rootdev=0.
        fn core(self) -> Self {
            self.words(&[5, ATAG_CORE, 1, 4096, 0])
        }
        fn mem(self, size: u32, start: u32) -> Self {
            self.words(&[4, ATAG_MEM, size, start])
        }
        fn cmdline(mut self, s: &[u8]) -> Self {
            let words = (s.len() + 1).div_ceil(4);
            self = self.words(&[2 + words as u32, ATAG_CMDLINE]);
            let mut payload = s.to_vec();
            payload.resize(words * 4, 0);
            self.0.extend_from_slice(&payload);
            self
        }
        fn none(self) -> Self {
            self.words(&[0, ATAG_NONE])
        }
    }

    fn parse(list: &[u8]) -> Result<BootInfo, AtagError> {
        let mut info = BootInfo::new();
        parse_atags(list, 0x100, &mut info).map(|()| info)
    }

    #[test]
    fn qemu_raspi2b_list() {
        let list =
            Builder::new().core().mem(0x3c00_0000, 0).cmdline(b"foo=bar console=ttyAMA0").none().0;
        let info = parse(&list).unwrap();
        assert_eq!(info.source, BootSource::Atags);
        assert_eq!(info.params_phys, PhysAddr(0x100));
        assert_eq!(info.params_size, list.len() as u64);
        assert_eq!(info.banks().len(), 1);
        assert_eq!(info.banks()[0].start, PhysAddr(0));
        assert_eq!(info.banks()[0].size, 0x3c00_0000);
        assert_eq!(info.cmdline_bytes(), b"foo=bar console=ttyAMA0");
    }

    #[test]
    fn trailing_bytes_are_not_counted() {
        let mut list = Builder::new().core().mem(0x3c00_0000, 0).none().0;
        let len = list.len();
        list.resize(16 * 1024, 0xaa);
        let info = parse(&list).unwrap();
        assert_eq!(info.params_size, len as u64);
    }

    #[test]
    fn without_cmdline_and_with_short_core() {
        let list = Builder::new().words(&[2, ATAG_CORE]).mem(0x1000_0000, 0).none().0;
        let info = parse(&list).unwrap();
        assert_eq!(info.cmdline_bytes(), b"");
        assert_eq!(info.banks()[0].size, 0x1000_0000);
        assert_eq!(info.params_size, 8 + 16 + 8);
    }

    #[test]
    fn none_with_size_two_terminates() {
        let list = Builder::new().core().words(&[2, ATAG_NONE]).0;
        assert_eq!(parse(&list).unwrap().params_size, 28);
    }

    #[test]
    fn several_mem_tags_in_order() {
        let list = Builder::new()
            .core()
            .mem(0x1000_0000, 0)
            .words(&[4, ATAG_SERIAL, 0x1234, 0x5678]) // ignored
            .mem(0x0800_0000, 0x2000_0000)
            .mem(0x0400_0000, 0x3000_0000)
            .none()
            .0;
        let info = parse(&list).unwrap();
        let banks: Vec<(u64, u64)> = info.banks().iter().map(|b| (b.start.0, b.size)).collect();
        assert_eq!(
            banks,
            [(0, 0x1000_0000), (0x2000_0000, 0x0800_0000), (0x3000_0000, 0x0400_0000)]
        );
    }

    #[test]
    fn truncated_list_is_an_error_and_leaves_info_alone() {
        let list = Builder::new().core().mem(0x3c00_0000, 0).cmdline(b"console=ttyAMA0").0;
        // No ATAG_NONE: the walk runs off the end of the slice.
        let mut info = BootInfo::new();
        let err = parse_atags(&list, 0x100, &mut info).unwrap_err();
        assert!(matches!(err, AtagError::Truncated { .. }), "{err}");
        assert_eq!(info.source, BootSource::None);
        assert_eq!(info.banks().len(), 0);
        assert_eq!(info.cmdline_bytes(), b"");

        // A tag whose size runs past the slice.
        let list = Builder::new().core().words(&[100, ATAG_CMDLINE, 0]).0;
        let err = parse(&list).unwrap_err();
        assert_eq!(err, AtagError::Truncated { offset: 20, tag: ATAG_CMDLINE, size: 100 });

        // A slice cut in the middle of a header.
        let list = Builder::new().core().words(&[4]).0;
        assert!(matches!(parse(&list), Err(AtagError::Truncated { offset: 20, .. })));
    }

    #[test]
    fn zero_size_tag_is_rejected() {
        let list = Builder::new().core().words(&[0, ATAG_MEM, 0, 0]).none().0;
        let err = parse(&list).unwrap_err();
        assert_eq!(err, AtagError::SizeTooSmall { offset: 20, tag: ATAG_MEM, size: 0 });
        let list = Builder::new().core().words(&[1, ATAG_REVISION]).none().0;
        assert!(matches!(parse(&list), Err(AtagError::SizeTooSmall { size: 1, .. })));
    }

    #[test]
    fn mem_tag_with_wrong_size_is_rejected() {
        let list = Builder::new().core().words(&[3, ATAG_MEM, 0x1000]).none().0;
        assert!(matches!(parse(&list), Err(AtagError::BadTagSize { size: 3, .. })));
    }

    #[test]
    fn list_must_start_with_core() {
        let list = Builder::new().mem(0x3c00_0000, 0).none().0;
        assert_eq!(parse(&list).unwrap_err(), AtagError::NoCore { tag: ATAG_MEM });
        assert!(matches!(parse(&[]), Err(AtagError::NoCore { .. })));
        assert!(matches!(parse(&[1, 2, 3]), Err(AtagError::NoCore { .. })));
        let list = Builder::new().words(&[3, ATAG_CORE, 0]).none().0;
        assert_eq!(parse(&list).unwrap_err(), AtagError::BadCoreSize { size: 3 });
    }

    #[test]
    fn long_cmdline_is_truncated() {
        let long = vec![b'x'; COMMAND_LINE_SIZE + 100];
        let list = Builder::new().core().cmdline(&long).none().0;
        let info = parse(&list).unwrap();
        assert_eq!(info.cmdline_bytes().len(), COMMAND_LINE_SIZE - 1);
        assert_eq!(info.params_size, list.len() as u64);
    }

    #[test]
    fn walk_is_bounded() {
        let mut b = Builder::new().core();
        for _ in 0..MAX_ATAGS {
            b = b.words(&[2, ATAG_REVISION]);
        }
        let list = b.none().0;
        assert_eq!(parse(&list).unwrap_err(), AtagError::TooManyTags);
    }

    /// The size comes from the headers alone, and nothing past `readable` is ever read.
    #[test]
    fn size_from_headers_reads_only_the_list() {
        let list = Builder::new().core().mem(0x3c00_0000, 0).cmdline(b"console=ttyAMA0").none().0;
        let reads = std::cell::RefCell::new(Vec::new());
        let reader = |mem: &[u8]| {
            let mem = mem.to_vec();
            let reads = &reads;
            move |off: usize| {
                reads.borrow_mut().push(off);
                read_word(&mem, off)
            }
        };
        assert_eq!(atags_size(list.len(), reader(&list)), Ok(list.len()));
        assert!(reads.borrow().iter().all(|&off| off + 4 <= list.len()));
        // Headers only: core (checked, then walked), mem, cmdline, none; two words each.
        assert_eq!(reads.borrow().len(), 10);

        let mut padded = list.clone();
        padded.resize(4096, 0xaa);
        assert_eq!(atags_size(padded.len(), reader(&padded)), Ok(list.len()));
        // A list cut by the readable window is an error, not a read past it.
        reads.borrow_mut().clear();
        let err = atags_size(list.len() - 8, reader(&list[..list.len() - 8])).unwrap_err();
        assert!(matches!(err, AtagError::Truncated { .. }), "{err}");
        assert!(reads.borrow().iter().all(|&off| off + 4 <= list.len() - 8));
        // A huge tag size cannot wrap the offset.
        let list = Builder::new().core().words(&[u32::MAX, ATAG_CMDLINE]).none().0;
        assert!(matches!(
            atags_size(list.len(), reader(&list)),
            Err(AtagError::Truncated { size: u32::MAX, .. })
        ));
    }

    #[test]
    fn detection() {
        assert!(looks_like_atags([5, ATAG_CORE]));
        assert!(looks_like_atags([2, ATAG_CORE]));
        assert!(!looks_like_atags([0xedfe0dd0, 0x96500000]));
        assert!(!looks_like_atags([0, 0]));
        assert!(!looks_like_atags([4, ATAG_MEM]));
    }

    #[test]
    fn errors_display_one_line() {
        let errs = [
            AtagError::NoCore { tag: 0 },
            AtagError::BadCoreSize { size: 3 },
            AtagError::SizeTooSmall { offset: 20, tag: ATAG_MEM, size: 0 },
            AtagError::Truncated { offset: 20, tag: ATAG_CMDLINE, size: 100 },
            AtagError::BadTagSize { offset: 20, tag: ATAG_MEM, size: 3 },
            AtagError::TooManyTags,
        ];
        for e in errs {
            let s = e.to_string();
            assert!(s.starts_with("atags: ") && !s.contains('\n'), "{s}");
        }
        assert_eq!(
            AtagError::Truncated { offset: 20, tag: ATAG_CMDLINE, size: 100 }.to_string(),
            "atags: tag 0x54410009 at offset 0x14 (100 words) runs past the mapped list"
        );
    }
}
