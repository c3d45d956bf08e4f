//! The initramfs unpacker, as Linux 6.1's init/initramfs.c accepts archives: newc `cpio`
//! (`070701`, and `070702` with its checksum field ignored, as Linux does), names padded so
//! each header and body start on 4 bytes, regular files, directories, symlinks, device nodes,
//! FIFOs and sockets, hard links (entries with `nlink >= 2` and the same device and inode
//! become links of the first one), `TRAILER!!!` ending an archive, zero padding between
//! archives, concatenated archives, and gzip-compressed members.
//!
//! A gzip member is unpacked as a stream, as Linux's `unpack_to_rootfs` does with its
//! decompressor's flush callback: `miniz_oxide` inflates into a 32 KiB wrap-around window (the
//! deflate dictionary) and every stretch it produces goes straight to [`CpioStream`], which
//! parses newc headers across chunk boundaries and writes file bodies into the filesystem as
//! they arrive. Nothing the size of the archive is ever allocated; an uncompressed archive is
//! parsed in place (whole-buffer), and both paths give the same files and the same errors.
//!
//! Where Linux stops silently or ignores a problem, pivm reports it instead, so every malformed
//! archive gives one clear error: a truncated archive or member, a header field that is not
//! hex, a name without its NUL, a path with a `..` component, a gzip member whose CRC or size
//! does not match. Linux's own messages are kept where it has them ("no cpio magic", "broken
//! padding", "junk within compressed archive", "compression method X not configured").
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::ramfs::{
    AddressSpace, Ramfs, PATH_MAX, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
    S_IFSOCK,
};
use crate::mm::mm_types::Errno;

/// The newc header: 6 bytes of magic and 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 110;
/// The name that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// The inflate window: deflate's 32 KiB dictionary, used as a wrap-around output buffer
/// (`TINFL_LZ_DICT_SIZE`; a power of two, as `decompress` wants for wrapping).
pub const INFLATE_WINDOW: usize = 32 << 10;

/// Why unpacking stopped; `offset` is where in the (decompressed) stream the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitramfsError {
    /// Neither `070701` nor `070702` where a header should start.
    NoCpioMagic {
        offset: usize,
    },
    /// An old binary or odc (`070707`) archive.
    OldCpioFormat {
        offset: usize,
    },
    BadHexField {
        offset: usize,
        field: &'static str,
    },
    /// The stream ended inside a header, a name or a body.
    Truncated {
        offset: usize,
    },
    NameSize {
        offset: usize,
        size: usize,
    },
    NameWithoutNul {
        offset: usize,
    },
    /// A name with a `..` component (pivm refuses to let an archive climb).
    DotDot {
        name: String,
    },
    /// Non-zero bytes where only zero padding may follow a trailer at an unaligned offset.
    BrokenPadding {
        offset: usize,
    },
    /// A compressed member Linux recognises but pivm cannot inflate.
    CompressionNotConfigured {
        method: &'static str,
    },
    /// Neither a cpio header nor a known compression magic.
    InvalidMagic {
        offset: usize,
    },
    /// The gzip member is damaged.
    Decompressor {
        offset: usize,
        what: &'static str,
    },
    /// Bytes that are neither cpio, padding nor trailer inside a compressed member.
    JunkWithin,
    /// The filesystem refused an entry.
    Fs {
        name: String,
        errno: Errno,
    },
}

impl fmt::Display for InitramfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitramfsError::NoCpioMagic { offset } => {
                write!(f, "no cpio magic at offset {offset:#x}")
            }
            InitramfsError::OldCpioFormat { offset } => {
                write!(f, "incorrect cpio method used: use -H newc option (offset {offset:#x})")
            }
            InitramfsError::BadHexField { offset, field } => {
                write!(f, "cpio header at {offset:#x}: {field} is not 8 hex digits")
            }
            InitramfsError::Truncated { offset } => {
                write!(f, "archive truncated at offset {offset:#x}")
            }
            InitramfsError::NameSize { offset, size } => {
                write!(f, "cpio header at {offset:#x}: name size {size} outside 1..={PATH_MAX}")
            }
            InitramfsError::NameWithoutNul { offset } => {
                write!(f, "malformed archive: name without NUL terminator at {offset:#x}")
            }
            InitramfsError::DotDot { name } => write!(f, "path with a '..' component: {name}"),
            InitramfsError::BrokenPadding { offset } => {
                write!(f, "broken padding at offset {offset:#x}")
            }
            InitramfsError::CompressionNotConfigured { method } => {
                write!(f, "compression method {method} not configured")
            }
            InitramfsError::InvalidMagic { offset } => {
                write!(f, "invalid magic at start of compressed archive (offset {offset:#x})")
            }
            InitramfsError::Decompressor { offset, what } => {
                write!(f, "decompressor failed at {offset:#x}: {what}")
            }
            InitramfsError::JunkWithin => write!(f, "junk within compressed archive"),
            InitramfsError::Fs { name, errno } => write!(f, "{name}: {errno}"),
        }
    }
}

/// One newc header's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpioHeader {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub major: u32,
    pub minor: u32,
    pub rmajor: u32,
    pub rminor: u32,
    pub namesize: u32,
    pub check: u32,
}

const FIELD_NAMES: [&str; 13] = [
    "c_ino",
    "c_mode",
    "c_uid",
    "c_gid",
    "c_nlink",
    "c_mtime",
    "c_filesize",
    "c_maj",
    "c_min",
    "c_rmaj",
    "c_rmin",
    "c_namesize",
    "c_chksum",
];

/// `N_ALIGN()`: the name's length padded so header + name end on 4 bytes.
const fn n_align(len: usize) -> usize {
    ((len + 1) & !3) + 2
}

/// Round up to 4 bytes.
const fn align4(x: usize) -> usize {
    (x + 3) & !3
}

/// Parses the header at `buf[0..HEADER_LEN]` (`parse_header()`, but strict hex).
pub fn parse_header(buf: &[u8], offset: usize) -> Result<CpioHeader, InitramfsError> {
    let h = buf.get(..HEADER_LEN).ok_or(InitramfsError::Truncated { offset })?;
    match &h[..6] {
        b"070701" | b"070702" => {}
        b"070707" => return Err(InitramfsError::OldCpioFormat { offset }),
        _ => return Err(InitramfsError::NoCpioMagic { offset }),
    }
    let mut v = [0u32; 13];
    for (i, field) in v.iter_mut().enumerate() {
        let digits = &h[6 + 8 * i..14 + 8 * i];
        let s = core::str::from_utf8(digits).ok();
        *field = s
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .ok_or(InitramfsError::BadHexField { offset, field: FIELD_NAMES[i] })?;
    }
    Ok(CpioHeader {
        ino: v[0],
        mode: v[1],
        uid: v[2],
        gid: v[3],
        nlink: v[4],
        mtime: v[5],
        filesize: v[6],
        major: v[7],
        minor: v[8],
        rmajor: v[9],
        rminor: v[10],
        namesize: v[11],
        check: v[12],
    })
}

/// What unpacking produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries created (trailers not counted), and the hard links among them.
    pub entries: usize,
    pub hard_links: usize,
    /// Archives (`TRAILER!!!`s) seen, and how many came out of gzip members.
    pub archives: usize,
    pub gzip_members: usize,
    /// Entries Linux skips too: over-long names or symlink targets, bodies on directories or
    /// device nodes.
    pub skipped: usize,
}

/// The hard-link table of one archive (`find_link()`'s hash): (major, minor, ino, type) to
/// the first name seen.
struct Links(Vec<((u32, u32, u32, u32), String)>);

impl Links {
    fn find_or_insert(&mut self, h: &CpioHeader, name: &str) -> Option<String> {
        let key = (h.major, h.minor, h.ino, h.mode & S_IFMT);
        if let Some((_, old)) = self.0.iter().find(|(k, _)| *k == key) {
            return Some(old.clone());
        }
        self.0.push((key, name.into()));
        None
    }
}

/// The unpacker's state between archives.
struct Unpacker<'f, A: AddressSpace> {
    fs: &'f mut Ramfs<A>,
    stats: UnpackStats,
    links: Links,
}

fn fs_err(name: &str, errno: Errno) -> InitramfsError {
    InitramfsError::Fs { name: name.into(), errno }
}

impl<A: AddressSpace> Unpacker<'_, A> {
    /// `clean_path()`: remove what is at `path` if it is of another type than `mode`.
    fn clean_path(&mut self, path: &str, mode: u32) {
        if let Ok(ino) = self.fs.lookup_nofollow(path) {
            let cur = self.fs.stat(ino).map(|s| s.st_mode).unwrap_or(0);
            if (cur ^ mode) & S_IFMT != 0 {
                let _ = if cur & S_IFMT == S_IFDIR {
                    self.fs.rmdir(path)
                } else {
                    self.fs.unlink(path)
                };
            }
        }
    }

    /// `maybe_link()`: a later name of a hard-linked inode becomes a link to the first.
    fn maybe_link(&mut self, h: &CpioHeader, name: &str) -> Result<bool, InitramfsError> {
        if h.nlink >= 2 {
            if let Some(old) = self.links.find_or_insert(h, name) {
                self.clean_path(name, 0);
                self.fs.link(&old, name).map_err(|e| fs_err(name, e))?;
                self.stats.hard_links += 1;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A regular file's entry starts (`do_name` for `S_IFREG`): what was at its path goes, a
    /// later name of a hard-linked inode becomes a link, the file is created (truncated
    /// unless it is such a link). Its inode.
    fn begin_file(&mut self, h: &CpioHeader, name: &str) -> Result<u64, InitramfsError> {
        self.clean_path(name, h.mode);
        let linked = self.maybe_link(h, name)?;
        self.fs.create(name, h.mode & 0o7777, !linked).map_err(|e| fs_err(name, e))
    }

    /// Body bytes of a regular file at `offset` (`do_copy`).
    fn file_data(
        &mut self,
        ino: u64,
        offset: u64,
        name: &str,
        data: &[u8],
    ) -> Result<(), InitramfsError> {
        if !data.is_empty() {
            let n = self.fs.write(ino, offset, data).map_err(|e| fs_err(name, e))?;
            if n < data.len() {
                // A page the file could not have (only a lack of memory at boot).
                return Err(fs_err(name, Errno::ENOMEM));
            }
        }
        Ok(())
    }

    /// The file's body is complete: owner, mode and time (`do_copy`'s `vfs_utimes` and the
    /// `chown`/`chmod` of `do_name`).
    fn end_file(&mut self, h: &CpioHeader, name: &str, ino: u64) -> Result<(), InitramfsError> {
        let perm = h.mode & 0o7777;
        self.fs.set_attr(ino, h.uid, h.gid, perm, h.mtime as u64).map_err(|e| fs_err(name, e))?;
        self.stats.entries += 1;
        Ok(())
    }

    /// One entry (`do_name`, `do_copy`, `do_symlink`).
    fn entry(&mut self, h: &CpioHeader, name: &str, body: &[u8]) -> Result<(), InitramfsError> {
        let perm = h.mode & 0o7777;
        let (uid, gid, mtime) = (h.uid, h.gid, h.mtime as u64);
        match h.mode & S_IFMT {
            S_IFREG => {
                let ino = self.begin_file(h, name)?;
                self.file_data(ino, 0, name, body)?;
                self.end_file(h, name, ino)?;
                return Ok(());
            }
            S_IFDIR => {
                self.clean_path(name, h.mode);
                let ino = match self.fs.mkdir(name, perm) {
                    Ok(ino) => ino,
                    Err(Errno::EEXIST) => self.fs.lookup(name).map_err(|e| fs_err(name, e))?,
                    Err(e) => return Err(fs_err(name, e)),
                };
                self.fs.set_attr(ino, uid, gid, perm, mtime).map_err(|e| fs_err(name, e))?;
            }
            S_IFLNK => {
                let target = core::str::from_utf8(body).map_err(|_| fs_err(name, Errno::EINVAL))?;
                self.clean_path(name, 0);
                let ino = self.fs.symlink(target, name).map_err(|e| fs_err(name, e))?;
                self.fs.set_attr(ino, uid, gid, 0o777, mtime).map_err(|e| fs_err(name, e))?;
            }
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
                if !self.maybe_link(h, name)? {
                    self.clean_path(name, h.mode);
                    let ino = self
                        .fs
                        .mknod(name, h.mode, (h.rmajor, h.rminor))
                        .map_err(|e| fs_err(name, e))?;
                    self.fs.set_attr(ino, uid, gid, perm, mtime).map_err(|e| fs_err(name, e))?;
                }
            }
            _ => {
                self.stats.skipped += 1;
                return Ok(());
            }
        }
        self.stats.entries += 1;
        Ok(())
    }

    /// One cpio archive starting at `buf[0]` (`base` is its offset in the stream, for
    /// messages and alignment). Returns the bytes consumed: through the trailer, its padding
    /// and the zeros after it.
    fn archive(&mut self, buf: &[u8], base: usize) -> Result<usize, InitramfsError> {
        let mut pos = 0;
        loop {
            let at = base + pos;
            let h = parse_header(&buf[pos..], at).map_err(|e| match e {
                InitramfsError::Truncated { .. }
                    if pos + 6 <= buf.len()
                        && &buf[pos..pos + 6] != b"070701"
                        && &buf[pos..pos + 6] != b"070702" =>
                {
                    InitramfsError::NoCpioMagic { offset: at }
                }
                e => e,
            })?;
            let namesize = h.namesize as usize;
            let name_start = pos + HEADER_LEN;
            let body_start = pos + HEADER_LEN + n_align(namesize);
            let body_len = h.filesize as usize;
            let next = align4(
                body_start.checked_add(body_len).ok_or(InitramfsError::Truncated { offset: at })?,
            );
            if namesize == 0 || namesize > PATH_MAX {
                return Err(InitramfsError::NameSize { offset: at, size: namesize });
            }
            let raw_name = buf
                .get(name_start..name_start + namesize)
                .ok_or(InitramfsError::Truncated { offset: at })?;
            if raw_name[namesize - 1] != 0 || raw_name[..namesize - 1].contains(&0) {
                return Err(InitramfsError::NameWithoutNul { offset: at });
            }
            let name = core::str::from_utf8(&raw_name[..namesize - 1])
                .map_err(|_| fs_err("(non-UTF-8 name)", Errno::EINVAL))?;
            let body = buf
                .get(body_start..body_start + body_len)
                .ok_or(InitramfsError::Truncated { offset: at })?;
            if name == TRAILER {
                self.links = Links(Vec::new());
                self.stats.archives += 1;
                // do_reset(): zeros may follow; the next archive must start on 4 bytes.
                let mut end = next.min(buf.len());
                while end < buf.len() && buf[end] == 0 {
                    end += 1;
                }
                if end < buf.len() && (base + end) & 3 != 0 {
                    return Err(InitramfsError::BrokenPadding { offset: base + end });
                }
                return Ok(end);
            }
            if name.split('/').any(|c| c == "..") {
                return Err(InitramfsError::DotDot { name: name.into() });
            }
            let kind = h.mode & S_IFMT;
            let skip = (kind == S_IFLNK && body_len > PATH_MAX)
                || (kind != S_IFREG && kind != S_IFLNK && body_len != 0);
            if skip {
                self.stats.skipped += 1;
            } else {
                self.entry(&h, &entry_path(name), body)?;
            }
            if next > buf.len() {
                return Err(InitramfsError::Truncated { offset: at });
            }
            pos = next;
        }
    }

    /// The whole-buffer form of what [`CpioStream`] does with a compressed member's output:
    /// archives and zero padding (`flush_buffer`). The host tests check the stream against it.
    #[cfg(test)]
    fn inflated(&mut self, data: &[u8]) -> Result<(), InitramfsError> {
        let mut pos = 0;
        while pos < data.len() {
            match data[pos] {
                0 => pos += 1,
                b'0' => pos += self.archive(&data[pos..], pos)?,
                _ => return Err(InitramfsError::JunkWithin),
            }
        }
        Ok(())
    }
}

/// Where [`CpioStream`] is in the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Between archives: zeros, or the `0` of a header (after a trailer only at an offset
    /// that is a multiple of 4).
    Between {
        after_trailer: bool,
    },
    /// Collecting the 110 header bytes (in `hold`).
    Header,
    /// Collecting the name's `namesize` bytes (in `hold`).
    Name,
    /// Skipping the name's padding, then the body, then the body's padding.
    NamePad {
        left: usize,
    },
    Body {
        left: usize,
    },
    BodyPad {
        left: usize,
    },
}

/// What becomes of the body of the entry being read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum BodyUse {
    /// `TRAILER!!!`: the archive ends after it.
    Trailer,
    /// A regular file: written into the inode as it arrives.
    File { ino: Option<u64>, written: u64 },
    /// A symlink target (at most `PATH_MAX`) or an empty body: kept in `hold`, the entry made
    /// at its end.
    Held,
    /// Skipped as Linux skips it.
    Skip,
    /// A name with `..`: refused once its body is there (as the whole-buffer parser does).
    DotDot,
}

/// The entry being read.
#[derive(Clone, Debug)]
struct Current {
    h: CpioHeader,
    /// Its path in the filesystem (or the raw name, for the trailer and refusals).
    path: String,
    body: BodyUse,
}

/// The newc parser as a state machine over chunks of any size, for the output of a
/// decompressor (Linux's `write_buffer` states `GotHeader`, `GotName`, `CopyFile`,
/// `GotSymlink`, `Reset`). Only a header, a name or a symlink target is ever held (at most
/// `PATH_MAX` bytes); file bodies go to the filesystem. [`CpioStream::finish`] reports an
/// archive cut short exactly as the whole-buffer parser does.
pub struct CpioStream {
    phase: Phase,
    hold: Vec<u8>,
    /// Offset in the stream of the next byte, of the header being read, and of the start of
    /// the archive it belongs to (padding is relative to that).
    offset: usize,
    at: usize,
    archive_base: usize,
    cur: Option<Current>,
}

impl Default for CpioStream {
    fn default() -> Self {
        Self::new()
    }
}

impl CpioStream {
    pub const fn new() -> Self {
        CpioStream {
            phase: Phase::Between { after_trailer: false },
            hold: Vec::new(),
            offset: 0,
            at: 0,
            archive_base: 0,
            cur: None,
        }
    }

    /// Takes up to `want` bytes of `data` into `hold`; how many it took.
    fn take(&mut self, data: &[u8], want: usize) -> usize {
        let n = want.min(data.len());
        self.hold.extend_from_slice(&data[..n]);
        n
    }

    /// The next chunk of the stream.
    fn feed<A: AddressSpace>(
        &mut self,
        u: &mut Unpacker<'_, A>,
        data: &[u8],
    ) -> Result<(), InitramfsError> {
        let mut i = 0;
        while i < data.len() {
            let rest = &data[i..];
            let used = match self.phase {
                Phase::Between { after_trailer } => {
                    if rest[0] == 0 {
                        1
                    } else if after_trailer && self.offset & 3 != 0 {
                        return Err(InitramfsError::BrokenPadding { offset: self.offset });
                    } else if rest[0] == b'0' {
                        self.at = self.offset;
                        self.archive_base = self.offset;
                        self.hold.clear();
                        self.phase = Phase::Header;
                        0
                    } else {
                        return Err(InitramfsError::JunkWithin);
                    }
                }
                Phase::Header => {
                    let n = self.take(rest, HEADER_LEN - self.hold.len());
                    if self.hold.len() == HEADER_LEN {
                        let h = parse_header(&self.hold, self.at)?;
                        let namesize = h.namesize as usize;
                        if namesize == 0 || namesize > PATH_MAX {
                            return Err(InitramfsError::NameSize {
                                offset: self.at,
                                size: namesize,
                            });
                        }
                        self.hold.clear();
                        self.cur = Some(Current { h, path: String::new(), body: BodyUse::Skip });
                        self.phase = Phase::Name;
                    }
                    n
                }
                Phase::Name => {
                    let Some(cur) = self.cur.as_ref() else { return Err(self.truncated()) };
                    let namesize = cur.h.namesize as usize;
                    let n = self.take(rest, namesize - self.hold.len());
                    if self.hold.len() == namesize {
                        self.name_done()?;
                        self.phase = Phase::NamePad { left: n_align(namesize) - namesize };
                    }
                    n
                }
                Phase::NamePad { left } => {
                    let n = left.min(rest.len());
                    if n == left {
                        self.body_start(u)?;
                    } else {
                        self.phase = Phase::NamePad { left: left - n };
                    }
                    n
                }
                Phase::Body { left } => {
                    let n = left.min(rest.len());
                    self.body_data(u, &rest[..n])?;
                    if n == left {
                        self.body_done(u)?;
                    } else {
                        self.phase = Phase::Body { left: left - n };
                    }
                    n
                }
                Phase::BodyPad { left } => {
                    let n = left.min(rest.len());
                    self.phase = if n < left {
                        Phase::BodyPad { left: left - n }
                    } else {
                        self.after_entry()
                    };
                    n
                }
            };
            // A phase that ends with nothing left to skip moves on at once.
            if let Phase::NamePad { left: 0 } = self.phase {
                self.body_start(u)?;
            }
            if let Phase::Body { left: 0 } = self.phase {
                self.body_done(u)?;
            }
            if let Phase::BodyPad { left: 0 } = self.phase {
                self.phase = self.after_entry();
            }
            i += used;
            self.offset += used;
        }
        Ok(())
    }

    fn truncated(&self) -> InitramfsError {
        InitramfsError::Truncated { offset: self.at }
    }

    /// The name is complete: checked as the whole-buffer parser checks it, and what its body
    /// is for decided.
    fn name_done(&mut self) -> Result<(), InitramfsError> {
        let at = self.at;
        let raw = core::mem::take(&mut self.hold);
        let Some(cur) = self.cur.as_mut() else {
            return Err(InitramfsError::Truncated { offset: at });
        };
        let namesize = raw.len();
        if raw[namesize - 1] != 0 || raw[..namesize - 1].contains(&0) {
            return Err(InitramfsError::NameWithoutNul { offset: at });
        }
        let name = core::str::from_utf8(&raw[..namesize - 1])
            .map_err(|_| fs_err("(non-UTF-8 name)", Errno::EINVAL))?;
        let kind = cur.h.mode & S_IFMT;
        let body_len = cur.h.filesize as usize;
        cur.body = if name == TRAILER {
            BodyUse::Trailer
        } else if name.split('/').any(|c| c == "..") {
            BodyUse::DotDot
        } else if (kind == S_IFLNK && body_len > PATH_MAX)
            || (kind != S_IFREG && kind != S_IFLNK && body_len != 0)
        {
            BodyUse::Skip
        } else if kind == S_IFREG {
            BodyUse::File { ino: None, written: 0 }
        } else {
            BodyUse::Held
        };
        cur.path = match cur.body {
            BodyUse::Trailer | BodyUse::DotDot => String::from(name),
            _ => entry_path(name),
        };
        Ok(())
    }

    /// The body starts: a regular file is created now, so its bytes can be written as they
    /// come.
    fn body_start<A: AddressSpace>(
        &mut self,
        u: &mut Unpacker<'_, A>,
    ) -> Result<(), InitramfsError> {
        let Some(cur) = self.cur.as_mut() else { return Err(self.truncated()) };
        if let BodyUse::File { ino: ino @ None, .. } = &mut cur.body {
            *ino = Some(u.begin_file(&cur.h, &cur.path)?);
        }
        self.phase = Phase::Body { left: cur.h.filesize as usize };
        Ok(())
    }

    fn body_data<A: AddressSpace>(
        &mut self,
        u: &mut Unpacker<'_, A>,
        data: &[u8],
    ) -> Result<(), InitramfsError> {
        let Some(cur) = self.cur.as_mut() else { return Err(self.truncated()) };
        match &mut cur.body {
            BodyUse::File { ino: Some(ino), written } => {
                u.file_data(*ino, *written, &cur.path, data)?;
                *written += data.len() as u64;
            }
            BodyUse::Held => self.hold.extend_from_slice(data),
            _ => {}
        }
        Ok(())
    }

    /// The body is complete: the entry is made (or refused, or skipped, or the archive ends),
    /// then the padding to 4 bytes follows.
    fn body_done<A: AddressSpace>(
        &mut self,
        u: &mut Unpacker<'_, A>,
    ) -> Result<(), InitramfsError> {
        let Some(cur) = self.cur.as_ref() else { return Err(self.truncated()) };
        let body_end = self.offset_after_body();
        match &cur.body {
            BodyUse::Trailer => {
                u.links = Links(Vec::new());
                u.stats.archives += 1;
            }
            BodyUse::DotDot => return Err(InitramfsError::DotDot { name: cur.path.clone() }),
            BodyUse::Skip => u.stats.skipped += 1,
            BodyUse::File { ino: Some(ino), .. } => u.end_file(&cur.h, &cur.path, *ino)?,
            BodyUse::File { ino: None, .. } => return Err(self.truncated()),
            BodyUse::Held => {
                let body = core::mem::take(&mut self.hold);
                u.entry(&cur.h, &cur.path, &body)?;
            }
        }
        let rel = body_end - self.archive_base;
        self.phase = Phase::BodyPad { left: align4(rel) - rel };
        Ok(())
    }

    /// The stream offset just past the body being finished (`body_done` runs before the
    /// last chunk's bytes are counted, so it is worked out from the header's position).
    fn offset_after_body(&self) -> usize {
        let h = self.cur.as_ref().map_or(CpioHeader::default(), |c| c.h);
        self.at + HEADER_LEN + n_align(h.namesize as usize) + h.filesize as usize
    }

    /// After an entry's padding: the next header, or (after a trailer) zeros and the next
    /// archive.
    fn after_entry(&mut self) -> Phase {
        self.at = self.offset_after_pad();
        let trailer = self.cur.take().is_some_and(|c| c.body == BodyUse::Trailer);
        self.hold.clear();
        if trailer {
            Phase::Between { after_trailer: true }
        } else {
            Phase::Header
        }
    }

    fn offset_after_pad(&self) -> usize {
        let end = self.offset_after_body();
        self.archive_base + align4(end - self.archive_base)
    }

    /// The stream ended: fine between archives (or in a trailer's padding); anywhere else
    /// the archive is truncated (with the whole-buffer parser's `no cpio magic` for a cut
    /// header that does not start like one).
    pub fn finish(&self) -> Result<(), InitramfsError> {
        match self.phase {
            Phase::Between { .. } => Ok(()),
            Phase::BodyPad { .. }
                if self.cur.as_ref().is_some_and(|c| c.body == BodyUse::Trailer) =>
            {
                Ok(())
            }
            Phase::Header
                if self.hold.len() >= 6
                    && &self.hold[..6] != b"070701"
                    && &self.hold[..6] != b"070702" =>
            {
                Err(InitramfsError::NoCpioMagic { offset: self.at })
            }
            _ => Err(self.truncated()),
        }
    }
}

/// An archive name as a path from the root: with or without a leading `/` or `./`; `.` is
/// the root itself (Linux's mkdir fails and its chown/chmod apply).
fn entry_path(name: &str) -> String {
    let path = alloc::format!("/{}", name.trim_start_matches("./").trim_start_matches('/'));
    if path == "/." {
        String::from("/")
    } else {
        path
    }
}

/// Compression magics Linux recognises (`compressed_formats[]`); only gzip is configured here.
const COMPRESSED_FORMATS: [([u8; 2], &str); 8] = [
    ([0x1f, 0x8b], "gzip"),
    ([0x1f, 0x9e], "gzip"),
    ([0x42, 0x5a], "bzip2"),
    ([0x5d, 0x00], "lzma"),
    ([0xfd, 0x37], "xz"),
    ([0x89, 0x4c], "lzo"),
    ([0x02, 0x21], "lz4"),
    ([0x28, 0xb5], "zstd"),
];

/// The CRC-32 (IEEE, reflected) table, one entry per byte value (`crc32_le`'s).
const CRC32_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Adds `data` to a running CRC-32 (start with 0).
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC32_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC-32 (IEEE, reflected), as gzip's trailer holds it.
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

/// One gzip member at `buf[0]` (RFC 1952), inflated through a [`INFLATE_WINDOW`] window into
/// `sink` a stretch at a time (`gunzip` with `flush`, as `unpack_to_rootfs` calls it); the
/// CRC and length in its trailer are checked. Returns the member's length.
pub fn gunzip_stream(
    buf: &[u8],
    offset: usize,
    mut sink: impl FnMut(&[u8]) -> Result<(), InitramfsError>,
) -> Result<usize, InitramfsError> {
    use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    let bad = |what| InitramfsError::Decompressor { offset, what };
    if buf.len() < 18 || buf[0] != 0x1f || buf[1] != 0x8b {
        return Err(bad("not a gzip file"));
    }
    if buf[2] != 8 {
        return Err(bad("unknown compression method"));
    }
    let flg = buf[3];
    if flg & 0xe0 != 0 {
        return Err(bad("reserved header flags set"));
    }
    let mut pos = 10;
    if flg & 0x04 != 0 {
        let xlen = u16::from_le_bytes([buf[pos], buf[pos + 1]]) as usize;
        pos += 2 + xlen;
    }
    for flag in [0x08, 0x10] {
        if flg & flag != 0 {
            let n = buf
                .get(pos..)
                .and_then(|r| r.iter().position(|&b| b == 0))
                .ok_or(bad("header error"))?;
            pos += n + 1;
        }
    }
    if flg & 0x02 != 0 {
        pos += 2;
    }
    if pos >= buf.len() {
        return Err(bad("header error"));
    }
    // The decompressor's tables (about 11 KiB) and the window live on the heap.
    let mut r = alloc::boxed::Box::new(DecompressorOxide::new());
    let mut window: Vec<u8> = alloc::vec![0; INFLATE_WINDOW];
    let (mut in_pos, mut out_pos) = (pos, 0usize);
    let (mut crc, mut total) = (0u32, 0u64);
    loop {
        // No flags: raw deflate, the whole member is in `buf`, the window wraps around.
        let (status, consumed, written) =
            decompress(&mut r, &buf[in_pos..], &mut window, out_pos, 0);
        in_pos += consumed;
        let out = &window[out_pos..out_pos + written];
        crc = crc32_update(crc, out);
        total += written as u64;
        sink(out)?;
        out_pos = (out_pos + written) & (INFLATE_WINDOW - 1);
        match status {
            TINFLStatus::Done => break,
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(bad("compressed data truncated"))
            }
            _ => return Err(bad("corrupt compressed data")),
        }
    }
    let trailer = buf.get(in_pos..in_pos + 8).ok_or(bad("trailer truncated"))?;
    let want_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if want_crc != crc {
        return Err(bad("CRC mismatch"));
    }
    if isize != total as u32 {
        return Err(bad("length mismatch"));
    }
    Ok(in_pos + 8)
}

/// `unpack_to_rootfs()`: every archive and compressed member in `buf`, into `fs`.
pub fn unpack_to_rootfs<A: AddressSpace>(
    buf: &[u8],
    fs: &mut Ramfs<A>,
) -> Result<UnpackStats, InitramfsError> {
    let mut u = Unpacker { fs, stats: UnpackStats::default(), links: Links(Vec::new()) };
    let mut pos = 0;
    while pos < buf.len() {
        let b = buf[pos];
        if b == b'0' && pos & 3 == 0 {
            pos += u.archive(&buf[pos..], pos)?;
            continue;
        }
        if b == 0 {
            pos += 1;
            continue;
        }
        let magic = [b, buf.get(pos + 1).copied().unwrap_or(0)];
        match COMPRESSED_FORMATS.iter().find(|(m, _)| *m == magic) {
            Some(([0x1f, 0x8b], _)) => {
                // The member's output is parsed as it is inflated; a member that ends inside
                // an archive is truncated where it ends (Linux: "junk at the end of
                // compressed archive").
                let mut stream = CpioStream::new();
                let len = gunzip_stream(&buf[pos..], pos, |chunk| stream.feed(&mut u, chunk))?;
                stream.finish()?;
                u.stats.gzip_members += 1;
                pos += len;
            }
            Some((_, method)) => return Err(InitramfsError::CompressionNotConfigured { method }),
            None => return Err(InitramfsError::InvalidMagic { offset: pos }),
        }
    }
    Ok(u.stats)
}

/// Writes a newc archive (the host tests' and the build's archive maker): `(name, mode,
/// body)` entries with inode numbers in order, `nlink` 1 (2 for directories), then the trailer.
pub fn newc_archive(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |ino: u32, name: &str, mode: u32, nlink: u32, body: &[u8]| {
        let fields =
            [ino, mode, 0, 0, nlink, 0, body.len() as u32, 0, 0, 0, 0, name.len() as u32 + 1, 0];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(alloc::format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(body);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (i, (name, mode, body)) in entries.iter().enumerate() {
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        put(i as u32 + 1, name, *mode, nlink, body);
    }
    put(0, TRAILER, 0, 1, &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::ramfs::{BTreeAddressSpace, ROOT_INO};
    use proptest::prelude::*;

    type Fs = Ramfs<BTreeAddressSpace>;

    fn sample() -> Vec<u8> {
        newc_archive(&[
            ("bin", S_IFDIR | 0o755, b""),
            ("bin/tiny", S_IFREG | 0o755, include_bytes!("../../tests/fixtures/tiny")),
            ("dev", S_IFDIR | 0o755, b""),
            ("dev/console", S_IFCHR | 0o600, b""),
            ("init", S_IFLNK | 0o777, b"/bin/tiny"),
            ("etc", S_IFDIR | 0o755, b""),
            ("etc/motd", S_IFREG | 0o644, b"hello\n"),
        ])
    }

    fn unpack(buf: &[u8]) -> (Fs, Result<UnpackStats, InitramfsError>) {
        let mut fs = Fs::new();
        let r = unpack_to_rootfs(buf, &mut fs);
        // Whatever happened, the filesystem stays consistent.
        fs.verify().unwrap();
        (fs, r)
    }

    fn file(fs: &Fs, path: &str) -> Vec<u8> {
        let ino = fs.lookup(path).unwrap();
        let mut buf = alloc::vec![0u8; fs.stat(ino).unwrap().st_size as usize];
        fs.read(ino, 0, &mut buf).unwrap();
        buf
    }

    #[test]
    fn unpacks_a_newc_archive() {
        let (fs, r) = unpack(&sample());
        let s = r.unwrap();
        assert_eq!((s.entries, s.archives, s.skipped), (7, 1, 0));
        assert_eq!(file(&fs, "/init"), include_bytes!("../../tests/fixtures/tiny"));
        assert_eq!(file(&fs, "/etc/motd"), b"hello\n");
        let st = fs.stat(fs.lookup("/dev/console").unwrap()).unwrap();
        assert_eq!(st.st_mode, S_IFCHR | 0o600);
        assert_eq!(fs.stat(ROOT_INO).unwrap().st_nlink, 5);
    }

    #[test]
    fn unpacks_what_gnu_cpio_and_gzip_made() {
        // tests/fixtures/build.sh: `find . | cpio -o -H newc | gzip -9n`.
        let (fs, r) = unpack(include_bytes!("../../tests/fixtures/initramfs.cpio.gz"));
        let s = r.unwrap();
        assert_eq!((s.gzip_members, s.archives, s.hard_links, s.skipped), (1, 1, 1, 0));
        assert_eq!(s.entries, 9);
        let tiny = fs.lookup("/bin/tiny").unwrap();
        assert_eq!(fs.lookup("/bin/tiny2"), Ok(tiny));
        assert_eq!(fs.lookup("/init"), Ok(tiny));
        assert_eq!(fs.stat(tiny).unwrap().st_nlink, 2);
        assert_eq!(file(&fs, "/bin/tiny"), include_bytes!("../../tests/fixtures/tiny"));
        assert_eq!(file(&fs, "/etc/motd"), b"hello\n");
        let console = fs.stat(fs.lookup("/dev/console").unwrap()).unwrap();
        assert_eq!((console.st_mode, console.st_rdev), (S_IFCHR | 0o600, (5, 1)));
        assert_eq!(fs.stat(ROOT_INO).unwrap().st_mode, S_IFDIR | 0o755);
    }

    #[test]
    fn header_padding_is_n_align() {
        // 110 + N_ALIGN(namesize) is a multiple of 4 for every name length.
        for n in 1..64 {
            assert_eq!((HEADER_LEN + n_align(n)) % 4, 0);
            assert!(n_align(n) >= n);
        }
    }

    #[test]
    fn hard_links_share_the_inode_and_the_last_carries_the_data() {
        // As cpio writes them: the earlier names with no data, the last with it.
        let mut a = Vec::new();
        let mut put = |name: &str, ino: u32, nlink: u32, body: &[u8]| {
            let f = [
                ino,
                S_IFREG | 0o755,
                0,
                0,
                nlink,
                0,
                body.len() as u32,
                0,
                0,
                0,
                0,
                name.len() as u32 + 1,
                0,
            ];
            a.extend_from_slice(b"070701");
            for x in f {
                a.extend_from_slice(alloc::format!("{x:08x}").as_bytes());
            }
            a.extend_from_slice(name.as_bytes());
            a.push(0);
            while a.len() % 4 != 0 {
                a.push(0);
            }
            a.extend_from_slice(body);
            while a.len() % 4 != 0 {
                a.push(0);
            }
        };
        put("sh", 7, 3, b"");
        put("ash", 7, 3, b"");
        put("busybox", 7, 3, b"BODY");
        put(TRAILER, 0, 1, b"");
        let (fs, r) = unpack(&a);
        assert_eq!(r.unwrap().hard_links, 2);
        let ino = fs.lookup("/sh").unwrap();
        assert_eq!(fs.lookup("/busybox"), Ok(ino));
        assert_eq!(fs.stat(ino).unwrap().st_nlink, 3);
        assert_eq!(file(&fs, "/ash"), b"BODY");
    }

    #[test]
    fn concatenated_archives_with_padding_and_gzip_members() {
        let first = newc_archive(&[("a", S_IFREG | 0o644, b"one")]);
        let second = newc_archive(&[("b", S_IFREG | 0o644, b"two"), ("a", S_IFREG | 0o600, b"1")]);
        let mut all = first.clone();
        all.extend_from_slice(&[0; 512]);
        all.extend_from_slice(&gzip(&second));
        all.extend_from_slice(&[0; 3]);
        let (fs, r) = unpack(&all);
        let s = r.unwrap();
        assert_eq!((s.archives, s.gzip_members, s.entries), (2, 1, 3));
        // The later archive's "a" replaced the first one's (O_TRUNC).
        assert_eq!(file(&fs, "/a"), b"1");
        assert_eq!(file(&fs, "/b"), b"two");
    }

    /// A gzip member around `data`, with deflate from miniz_oxide.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut g = alloc::vec![0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3];
        g.extend_from_slice(b"initramfs.cpio\0");
        g.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
        g.extend_from_slice(&crc32(data).to_le_bytes());
        g.extend_from_slice(&(data.len() as u32).to_le_bytes());
        g
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn every_malformed_archive_has_its_error() {
        let good = sample();
        let (_, r) = unpack(&good[..good.len() - 20]);
        assert!(matches!(r, Err(InitramfsError::Truncated { .. })), "{r:?}");
        let (_, r) = unpack(&good[..50]);
        assert!(matches!(r, Err(InitramfsError::Truncated { offset: 0 })));
        let mut bad = good.clone();
        bad[5] = b'7';
        assert_eq!(unpack(&bad).1, Err(InitramfsError::OldCpioFormat { offset: 0 }));
        bad[5] = b'9';
        assert_eq!(unpack(&bad).1, Err(InitramfsError::NoCpioMagic { offset: 0 }));
        let mut bad = good.clone();
        bad[6 + 8 * 6] = b'g';
        assert_eq!(
            unpack(&bad).1,
            Err(InitramfsError::BadHexField { offset: 0, field: "c_filesize" })
        );
        // A huge size: the body is not there.
        let mut bad = good.clone();
        bad[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"FFFFFFFF");
        assert!(matches!(unpack(&bad).1, Err(InitramfsError::Truncated { offset: 0 })));
        // A name whose last byte is not NUL.
        let mut bad = newc_archive(&[("abc", S_IFREG | 0o644, b"")]);
        bad[HEADER_LEN + 3] = b'x';
        assert_eq!(unpack(&bad).1, Err(InitramfsError::NameWithoutNul { offset: 0 }));
        let mut bad = newc_archive(&[("abc", S_IFREG | 0o644, b"")]);
        bad[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000000");
        assert_eq!(unpack(&bad).1, Err(InitramfsError::NameSize { offset: 0, size: 0 }));
        let bad = newc_archive(&[("a/../../etc/passwd", S_IFREG | 0o644, b"x")]);
        assert!(matches!(unpack(&bad).1, Err(InitramfsError::DotDot { .. })));
        // Something after the trailer that is neither padding nor an aligned archive.
        let mut bad = newc_archive(&[]);
        bad.extend_from_slice(b"\0\0\0\0xyz");
        assert_eq!(unpack(&bad).1, Err(InitramfsError::InvalidMagic { offset: 124 + 4 }));
        let mut bad = newc_archive(&[]);
        bad.extend_from_slice(&[0, b'0', b'7']);
        assert_eq!(unpack(&bad).1, Err(InitramfsError::BrokenPadding { offset: 125 }));
        assert_eq!(
            unpack(b"BZh91AY&SY").1,
            Err(InitramfsError::CompressionNotConfigured { method: "bzip2" })
        );
        // gzip: bit flips in the data, a cut member, a member ending mid-archive.
        let gz = gzip(&good);
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        assert!(matches!(
            unpack(&bad).1,
            Err(InitramfsError::Decompressor { what: "CRC mismatch", .. })
        ));
        assert!(matches!(unpack(&gz[..gz.len() / 2]).1, Err(InitramfsError::Decompressor { .. })));
        let half = gzip(&good[..good.len() - 200]);
        assert!(
            matches!(unpack(&half).1, Err(InitramfsError::Truncated { .. })),
            "{:?}",
            unpack(&half).1
        );
        let mut junk = good.clone();
        junk.extend_from_slice(b"junk");
        assert_eq!(unpack(&gzip(&junk)).1, Err(InitramfsError::JunkWithin));
        // An empty archive is fine; the messages read like Linux's.
        assert_eq!(unpack(&[]).1.unwrap(), UnpackStats::default());
        assert_eq!(
            alloc::format!("{}", InitramfsError::JunkWithin),
            "junk within compressed archive"
        );
    }

    #[test]
    fn directories_with_bodies_and_unknown_types_are_skipped_like_linux() {
        let a = newc_archive(&[
            ("d", S_IFDIR | 0o755, b"data"),
            ("w", 0o170000 | 0o644, b""),
            ("f", S_IFREG | 0o644, b"x"),
        ]);
        let (fs, r) = unpack(&a);
        assert_eq!(r.unwrap().skipped, 2);
        assert!(fs.lookup("/d").is_err());
        assert_eq!(file(&fs, "/f"), b"x");
    }

    /// One inode as [`snapshot`] sees it: path, mode, links, uid, device, mtime, content.
    type Node = (String, u32, u32, u32, (u32, u32), u64, Vec<u8>);

    /// Everything the filesystem holds, walked from the root: path, mode, links, owner,
    /// device, time, and the content (file bytes or symlink target).
    fn snapshot(fs: &Fs) -> Vec<Node> {
        let mut out = Vec::new();
        let mut todo = alloc::vec![(String::from(""), ROOT_INO)];
        while let Some((path, ino)) = todo.pop() {
            let st = fs.stat(ino).unwrap();
            let body = match st.st_mode & S_IFMT {
                S_IFREG => {
                    let mut b = alloc::vec![0u8; st.st_size as usize];
                    fs.read(ino, 0, &mut b).unwrap();
                    b
                }
                S_IFLNK => fs.readlink(ino).unwrap().as_bytes().to_vec(),
                _ => Vec::new(),
            };
            if st.st_mode & S_IFMT == S_IFDIR {
                for (name, child) in fs.readdir(ino).unwrap() {
                    if name != "." && name != ".." {
                        todo.push((alloc::format!("{path}/{name}"), child));
                    }
                }
            }
            out.push((path, st.st_mode, st.st_nlink, st.st_uid, st.st_rdev, st.st_mtime, body));
        }
        out.sort();
        out
    }

    /// The whole-buffer parse of a decompressed stream (`Unpacker::inflated`).
    fn whole(data: &[u8]) -> (Fs, Result<UnpackStats, InitramfsError>) {
        let mut fs = Fs::new();
        let mut u =
            Unpacker { fs: &mut fs, stats: UnpackStats::default(), links: Links(Vec::new()) };
        let r = u.inflated(data).map(|()| u.stats.clone());
        fs.verify().unwrap();
        (fs, r)
    }

    /// The same stream fed to [`CpioStream`] in chunks that end at `cuts`.
    fn streamed(data: &[u8], cuts: &[usize]) -> (Fs, Result<UnpackStats, InitramfsError>) {
        let mut fs = Fs::new();
        let mut u =
            Unpacker { fs: &mut fs, stats: UnpackStats::default(), links: Links(Vec::new()) };
        let mut stream = CpioStream::new();
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (data.len() + 1)).collect();
        bounds.push(0);
        bounds.push(data.len());
        bounds.sort();
        let r = bounds
            .windows(2)
            .try_for_each(|w| stream.feed(&mut u, &data[w[0]..w[1]]))
            .and_then(|()| stream.finish())
            .map(|()| u.stats.clone());
        fs.verify().unwrap();
        (fs, r)
    }

    /// An archive of generated entries: directories, files (some larger than the inflate
    /// window), symlinks, device nodes, a hard-linked pair, names with `./` and `/`.
    fn generated(files: &[(u8, usize)]) -> Vec<u8> {
        let bodies: Vec<Vec<u8>> = files
            .iter()
            .enumerate()
            .map(|(i, &(seed, len))| {
                (0..len).map(|k| (k as u8).wrapping_mul(seed) ^ i as u8).collect()
            })
            .collect();
        let names: Vec<String> = (0..files.len()).map(|i| alloc::format!("d/f{i}")).collect();
        let mut entries: Vec<(&str, u32, &[u8])> = alloc::vec![
            ("d", S_IFDIR | 0o755, b""),
            ("./d/e", S_IFDIR | 0o700, b""),
            ("/d/e/link", S_IFLNK | 0o777, b"../f0"),
            ("d/tty", S_IFCHR | 0o620, b""),
            ("d/fifo", S_IFIFO | 0o644, b""),
        ];
        for (i, name) in names.iter().enumerate() {
            entries.push((name, S_IFREG | 0o644 | (i as u32 & 0o111), &bodies[i]));
        }
        newc_archive(&entries)
    }

    #[test]
    fn a_large_gzip_archive_streams_through_the_window() {
        // Bodies several times the 32 KiB window, in one gzip member.
        let a = generated(&[(3, 200_000), (0, 70_000), (7, 1), (5, 0), (11, 40_000)]);
        let (plain_fs, plain) = unpack(&a);
        let (gz_fs, gz) = unpack(&gzip(&a));
        let (p, g) = (plain.unwrap(), gz.unwrap());
        assert_eq!((g.gzip_members, g.entries), (1, p.entries));
        assert_eq!(snapshot(&gz_fs), snapshot(&plain_fs));
        assert_eq!(file(&gz_fs, "/d/f0").len(), 200_000);
    }

    #[test]
    fn the_table_crc_is_the_bitwise_one() {
        let bitwise = |data: &[u8]| {
            let mut crc = !0u32;
            for &b in data {
                crc ^= b as u32;
                for _ in 0..8 {
                    crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
                }
            }
            !crc
        };
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(crc32(&data), bitwise(&data));
        assert_eq!(crc32_update(crc32(&data[..1234]), &data[1234..]), crc32(&data));
    }

    proptest! {
        /// Cut or corrupted archives (plain or gzip) never panic: they unpack or give an error.
        #[test]
        fn damaged_archives_never_panic(cut in 0usize..2000, flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8), zipped in any::<bool>()) {
            let mut a = sample();
            if zipped { a = gzip(&a); }
            for (at, v) in flips {
                if at < a.len() { a[at] = v; }
            }
            a.truncate(cut.max(1).min(a.len()));
            let _ = unpack(&a);
        }

        /// The streaming parser gives the whole-buffer parser's files and statistics for any
        /// chunking of any generated stream (one or two archives, zero padding around them).
        #[test]
        fn streaming_matches_the_whole_buffer(
            files in proptest::collection::vec((any::<u8>(), 0usize..3000), 0..6),
            second in any::<bool>(),
            lead in 0usize..3,
            pad in 0usize..3,
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut data = alloc::vec![0u8; 4 * lead];
            data.extend_from_slice(&generated(&files));
            if second {
                data.extend_from_slice(&alloc::vec![0u8; 4 * pad]);
                data.extend_from_slice(&newc_archive(&[("d/f0", S_IFREG | 0o600, b"again")]));
            }
            data.extend_from_slice(&alloc::vec![0u8; pad]);
            let (wfs, w) = whole(&data);
            let (sfs, st) = streamed(&data, &cuts);
            prop_assert_eq!(&st, &w);
            prop_assert!(w.is_ok());
            prop_assert_eq!(snapshot(&sfs), snapshot(&wfs));
        }

        /// Damaged streams give the same error either way (or the same files when they still
        /// parse); only a filesystem refusal can come first when streaming, since a file is
        /// created before its body has arrived.
        #[test]
        fn damaged_streams_fail_alike(
            files in proptest::collection::vec((any::<u8>(), 0usize..300), 0..4),
            cut in any::<usize>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut data = generated(&files);
            for (at, v) in flips {
                let i = at % data.len();
                data[i] = v;
            }
            data.truncate(cut % (data.len() + 1));
            let (wfs, w) = whole(&data);
            let (sfs, st) = streamed(&data, &cuts);
            match (&w, &st) {
                (Ok(_), Ok(_)) => {
                    prop_assert_eq!(&st, &w);
                    prop_assert_eq!(snapshot(&sfs), snapshot(&wfs));
                }
                (_, Err(InitramfsError::Fs { .. })) => {}
                _ => prop_assert_eq!(st, w),
            }
        }

        /// A gzip member unpacks to what its plain archive unpacks to.
        #[test]
        fn gzip_members_unpack_like_their_archive(
            files in proptest::collection::vec((any::<u8>(), 0usize..40_000), 0..4),
        ) {
            let a = generated(&files);
            let (pfs, p) = unpack(&a);
            let (gfs, g) = unpack(&gzip(&a));
            let (p, g) = (p.unwrap(), g.unwrap());
            prop_assert_eq!((g.entries, g.archives, g.gzip_members), (p.entries, p.archives, 1));
            prop_assert_eq!(snapshot(&gfs), snapshot(&pfs));
        }
    }
}
