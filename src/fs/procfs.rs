//! `/proc` as a filesystem: the names Linux 6.1 has for the files pivm renders, their lookup and
//! readdir order, and the read semantics of `seq_file` (`fs/seq_file.c`), so the console's `cat`
//! and a program's `read` see the same text. The kernel supplies the contents through
//! [`ProcSource`] (a renderer per file, the live thread-group ids, the current process); this
//! module owns names, modes, inode numbers, positions, and how reads of any size and offset
//! are answered from the rendered records: at most one buffer (a page, doubled while a single
//! record does not fit) of whole records per read, the rest kept for the next read, a read
//! from offset 0 rendering afresh, any other offset re-walking the records (`traverse`), and a
//! read past the end returning 0. A file is rendered when a read starts from its first record
//! and that snapshot serves the reads that follow (Linux renders each record as it goes; the
//! text is the same unless the state changes between two reads of one file).
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::abi::errno::Errno;
use crate::abi::generic::dt;
use crate::fs::ramfs::{S_IFDIR, S_IFLNK, S_IFREG};

/// The files in `/proc` itself that pivm renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RootFile {
    Stat,
    Uptime,
    Interrupts,
    Iomem,
    Vmstat,
    Cmdline,
    Cpuinfo,
    Meminfo,
    Slabinfo,
    Zoneinfo,
    Buddyinfo,
    Diskstats,
    Partitions,
    Vmallocinfo,
    Pagetypeinfo,
    Swaps,
}

/// `/proc`'s own entries in the order 6.1 lists them: its subdir tree compares names by length
/// first, then bytes (`proc_match`). Name, file, permission bits as registered.
pub const ROOT_FILES: &[(&str, RootFile, u32)] = &[
    ("stat", RootFile::Stat, 0o444),
    ("iomem", RootFile::Iomem, 0o444),
    ("swaps", RootFile::Swaps, 0o444),
    ("uptime", RootFile::Uptime, 0o444),
    ("vmstat", RootFile::Vmstat, 0o444),
    ("cmdline", RootFile::Cmdline, 0o444),
    ("cpuinfo", RootFile::Cpuinfo, 0o444),
    ("meminfo", RootFile::Meminfo, 0o444),
    ("slabinfo", RootFile::Slabinfo, 0o600),
    ("zoneinfo", RootFile::Zoneinfo, 0o444),
    ("buddyinfo", RootFile::Buddyinfo, 0o444),
    ("diskstats", RootFile::Diskstats, 0o444),
    ("interrupts", RootFile::Interrupts, 0o444),
    ("partitions", RootFile::Partitions, 0o444),
    ("vmallocinfo", RootFile::Vmallocinfo, 0o400),
    ("pagetypeinfo", RootFile::Pagetypeinfo, 0o400),
];

/// The directories of `/proc/sys` pivm has, and those of the sysfs and debugfs trees its
/// knob files sit in (served by the same code: they are directories of attribute files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysDir {
    /// `/proc/sys`.
    Sys,
    /// `/proc/sys/vm`.
    Vm,
    /// `/sys`: sysfs's root (pivm's has `kernel` alone).
    Sysfs,
    /// `/sys/kernel`.
    SysfsKernel,
    /// `/sys/kernel/debug`: debugfs's root, mounted there.
    Debug,
    /// `/sys/kernel/slab`: SLUB's `slab_kset`, a directory per cache.
    Slab,
}

/// A file of `/sys/kernel/slab/<cache>/` (6.1's `slab_attrs[]`, those pivm has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlabAttr {
    ObjectSize,
    SlabSize,
    ObjsPerSlab,
    Order,
    Slabs,
    Objects,
    TotalObjects,
    ObjectsInuse,
    Shrink,
}

/// The attributes: name, file, mode (`SLAB_ATTR_RO` 0400, `SLAB_ATTR` 0600).
pub const SLAB_ATTRS: &[(&str, SlabAttr, u32)] = &[
    ("object_size", SlabAttr::ObjectSize, 0o400),
    ("slab_size", SlabAttr::SlabSize, 0o400),
    ("objs_per_slab", SlabAttr::ObjsPerSlab, 0o400),
    ("order", SlabAttr::Order, 0o400),
    ("slabs", SlabAttr::Slabs, 0o400),
    ("objects", SlabAttr::Objects, 0o400),
    ("total_objects", SlabAttr::TotalObjects, 0o400),
    ("objects_inuse", SlabAttr::ObjectsInuse, 0o400),
    ("shrink", SlabAttr::Shrink, 0o600),
];

/// The permission bits of a slab attribute.
pub fn slab_attr_mode(attr: SlabAttr) -> u32 {
    SLAB_ATTRS.iter().find(|e| e.1 == attr).map_or(0o400, |e| e.2)
}

/// An attribute's `->show()`: one decimal and a newline (`sysfs_emit`); `shrink_show`
/// returns nothing. `slabs`, `objects`, `total_objects` are `show_slab_objects` on a
/// kernel without NUMA (no ` N0=` part); `objects` counts as slabinfo's active objects do
/// (the free objects of the node partial list left out).
pub fn show_slab_attr(
    attr: SlabAttr,
    s: &crate::mm::slab::CacheStat,
    out: &mut dyn fmt::Write,
) -> fmt::Result {
    let v = match attr {
        SlabAttr::ObjectSize => s.object_size,
        SlabAttr::SlabSize => s.info.objsize,
        SlabAttr::ObjsPerSlab => s.info.objperslab,
        SlabAttr::Order => s.order as usize,
        SlabAttr::Slabs => s.info.num_slabs,
        SlabAttr::Objects => s.info.active_objs,
        SlabAttr::TotalObjects => s.info.num_objs,
        SlabAttr::ObjectsInuse => s.objects_inuse,
        SlabAttr::Shrink => return Ok(()),
    };
    writeln!(out, "{v}")
}

/// An attribute's `->store()` (the file was opened for writing, so it has one): 6.1's
/// `shrink_store` shrinks the cache when the first byte is `1` and takes the whole write;
/// anything else is `EINVAL`. sysfs hands a store nothing for an empty write.
pub fn slab_store(
    src: &dyn ProcSource,
    cache: u8,
    attr: SlabAttr,
    value: &[u8],
) -> Result<usize, Errno> {
    if value.is_empty() {
        return Ok(0);
    }
    match attr {
        SlabAttr::Shrink if value[0] == b'1' => {
            src.slab_shrink(cache)?;
            Ok(value.len())
        }
        SlabAttr::Shrink => Err(Errno::EINVAL),
        _ => Err(Errno::EACCES),
    }
}

/// `kernfs_name_hash()`: where kernfs sorts a name in its directory and the readdir
/// position it gets (`full_name_hash`'s byte loop, `__hash_32`, positions 0, 1 and
/// `INT_MAX` reserved).
pub fn kernfs_name_hash(name: &str) -> u32 {
    /// `GOLDEN_RATIO_32` (`__hash_32`).
    const GOLDEN_RATIO_32: u32 = 0x61C8_8647;
    let mut hash: u32 = 0;
    for &c in name.as_bytes() {
        let c = u32::from(c);
        hash = hash.wrapping_add(c << 4).wrapping_add(c >> 4).wrapping_mul(11);
    }
    let hash = hash.wrapping_mul(GOLDEN_RATIO_32) & KERNFS_END_POS;
    hash.clamp(2, KERNFS_END_POS - 1)
}

/// `INT_MAX`: where a kernfs readdir ends.
pub const KERNFS_END_POS: u32 = 0x7fff_ffff;

/// A knob file (a sysctl in `/proc/sys/vm`, or debugfs's `fault_around_bytes`).
pub type Sysctl = crate::proc::sysctl::Knob;

/// sysfs's device and debugfs's (pivm's anonymous devices after procfs's).
pub const SYSFS_DEV: (u32, u32) = (0, 4);
pub const DEBUGFS_DEV: (u32, u32) = (0, 5);

/// The device a node of this tree is on (`/proc`, `/sys` or `/sys/kernel/debug`).
pub fn dev(node: ProcNode) -> (u32, u32) {
    match node {
        ProcNode::Sys(SysDir::Sysfs | SysDir::SysfsKernel | SysDir::Slab)
        | ProcNode::SlabCache(_)
        | ProcNode::File(ProcFile::Slab(..)) => SYSFS_DEV,
        ProcNode::Sys(SysDir::Debug) => DEBUGFS_DEV,
        ProcNode::File(ProcFile::Sysctl(k)) if crate::proc::sysctl::info(k).sysctl.is_none() => {
            DEBUGFS_DEV
        }
        _ => crate::fs::vfs::PROC_DEV,
    }
}

/// The files of `/proc/PID` that pivm renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PidFile {
    Status,
    Cmdline,
    Stat,
    Statm,
    Maps,
    Smaps,
    SmapsRollup,
}

/// One entry of `/proc/PID`: a rendered file or the `exe` symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidEntry {
    File(PidFile),
    Exe,
}

/// `/proc/PID`'s entries in `tgid_base_stuff[]` order (6.1's table, the entries pivm has).
pub const PID_ENTRIES: &[(&str, PidEntry)] = &[
    ("status", PidEntry::File(PidFile::Status)),
    ("cmdline", PidEntry::File(PidFile::Cmdline)),
    ("stat", PidEntry::File(PidFile::Stat)),
    ("statm", PidEntry::File(PidFile::Statm)),
    ("maps", PidEntry::File(PidFile::Maps)),
    ("exe", PidEntry::Exe),
    ("smaps", PidEntry::File(PidFile::Smaps)),
    ("smaps_rollup", PidEntry::File(PidFile::SmapsRollup)),
];

/// A file procfs asks the kernel to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFile {
    Root(RootFile),
    Pid(u32, PidFile),
    Sysctl(Sysctl),
    /// `/sys/kernel/slab/<cache>/<attr>`: the cache's slab slot and the attribute.
    Slab(u8, SlabAttr),
}

/// A node of the `/proc` tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcNode {
    Root,
    /// `/proc/self`, a symlink to the reader's own directory.
    SelfLink,
    Pid(u32),
    File(ProcFile),
    /// `/proc/PID/exe`.
    Exe(u32),
    /// `/proc/sys` and its subdirectories.
    Sys(SysDir),
    /// `/sys/kernel/slab/<cache>`: the cache in this slab slot.
    SlabCache(u8),
}

/// `FIRST_PROCESS_ENTRY`: readdir positions of `/proc` below it are its own entries; `self`
/// sits at it, and process `P` at `P + TGID_OFFSET`.
pub const FIRST_PROCESS_ENTRY: u64 = 256;
/// `TGID_OFFSET` (`FIRST_PROCESS_ENTRY + 2`: `self`, `thread-self`).
pub const TGID_OFFSET: u64 = FIRST_PROCESS_ENTRY + 2;
/// `PID_MAX_LIMIT` on 32-bit: where `/proc`'s readdir position ends.
pub const PID_MAX_LIMIT: u64 = 4 * 1024 * 1024;
/// procfs's block size (`s_blocksize_bits` 10).
pub const PROC_BLKSIZE: u32 = 1024;
/// The root's inode number (`PROC_ROOT_INO`).
pub const PROC_ROOT_INO: u64 = 1;
/// Bytes of the first `seq_file` buffer (`PAGE_SIZE`).
pub const SEQ_BUF_SIZE: usize = 4096;

/// What the kernel provides to procfs.
pub trait ProcSource {
    /// The live thread-group ids, ascending.
    fn tgids(&self) -> Vec<u32>;
    /// The reader's thread-group id; `None` for a kernel context such as the console (its
    /// `/proc/self` is `ENOENT`, as for a kernel thread).
    fn current_tgid(&self) -> Option<u32>;
    /// The path of a process's executable (`/proc/PID/exe`), `None` without one.
    fn exe_path(&self, tgid: u32) -> Option<String>;
    /// Renders `file` into `out` (calling [`SeqBuf::end_record`] after each record of a
    /// multi-record file; a file rendered without it is one record, as `single_open`'s).
    /// `ESRCH` when the process has gone.
    fn render(&self, file: ProcFile, out: &mut SeqBuf) -> Result<(), Errno>;
    /// A write of `value` to a knob file (its handler: parse, check, act): the bytes the
    /// handler consumed. `EINVAL` for a value the handler refuses.
    fn sysctl_write(&self, _file: Sysctl, _value: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// The slab caches (`/sys/kernel/slab`'s directories): slot and name.
    fn slab_caches(&self) -> Vec<(u8, &'static str)> {
        Vec::new()
    }
    /// `kmem_cache_shrink` of the cache in `slot`; `ENOENT` when it has gone.
    fn slab_shrink(&self, _slot: u8) -> Result<(), Errno> {
        Err(Errno::ENOENT)
    }
}

/// Where a streaming [`SeqBuf`] hands what is rendered.
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]);

/// The text a renderer produces, cut into records; or, streaming, each piece handed to a sink
/// as it is produced (a reader that takes the whole file, such as the console's `cat`, needs
/// no buffer).
#[derive(Default)]
pub struct SeqBuf<'a> {
    text: Vec<u8>,
    ends: Vec<usize>,
    sink: Option<Sink<'a>>,
}

impl<'a> SeqBuf<'a> {
    /// A buffer that passes everything rendered to `sink` and keeps nothing.
    pub fn streaming(sink: Sink<'a>) -> Self {
        SeqBuf { text: Vec::new(), ends: Vec::new(), sink: Some(sink) }
    }

    /// Marks the end of one record (one `->show()`).
    pub fn end_record(&mut self) {
        if self.sink.is_none() {
            self.ends.push(self.text.len());
        }
    }

    /// Adds raw bytes (`seq_write`: a file such as cmdline is not text).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        match &mut self.sink {
            Some(sink) => sink(bytes),
            None => self.text.extend_from_slice(bytes),
        }
    }

    /// The records: the marked ones, and the text after the last mark as a final one.
    fn into_records(mut self) -> Vec<Vec<u8>> {
        if self.ends.last() != Some(&self.text.len()) {
            self.ends.push(self.text.len());
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            out.push(self.text[start..end].to_vec());
            start = end;
        }
        out
    }
}

impl fmt::Write for SeqBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Does `rec` fit in a buffer of `size` holding `count` bytes? `seq_printf` needs room for a
/// NUL, so a record fits only when strictly smaller than the room left.
fn fits(count: usize, rec: &[u8], size: usize) -> bool {
    count + rec.len() < size
}

/// The state of one open `seq_file` (`struct seq_file`).
#[derive(Clone, Debug)]
pub struct SeqFile {
    file: ProcFile,
    records: Vec<Vec<u8>>,
    buf: Vec<u8>,
    size: usize,
    from: usize,
    count: usize,
    index: usize,
    read_pos: u64,
}

impl SeqFile {
    /// A `seq_file` for `file`, nothing read yet.
    pub fn new(file: ProcFile) -> Self {
        SeqFile {
            file,
            records: Vec::new(),
            buf: Vec::new(),
            size: 0,
            from: 0,
            count: 0,
            index: 0,
            read_pos: 0,
        }
    }

    /// The file this reads.
    pub fn file(&self) -> ProcFile {
        self.file
    }

    /// `->start(index)`: a fresh rendering when the walk starts over.
    fn start(&mut self, src: &dyn ProcSource) -> Result<(), Errno> {
        if self.index == 0 {
            let mut b = SeqBuf::default();
            src.render(self.file, &mut b)?;
            self.records = b.into_records();
        }
        Ok(())
    }

    fn record(&self, i: usize) -> Option<&[u8]> {
        self.records.get(i).map(|r| r.as_slice())
    }

    /// `traverse()`: re-walks the records to `offset`, leaving the rest of the record that
    /// holds it in the buffer.
    fn traverse(&mut self, src: &dyn ProcSource, offset: u64) -> Result<(), Errno> {
        loop {
            self.index = 0;
            self.count = 0;
            self.from = 0;
            if offset == 0 {
                return Ok(());
            }
            if self.size == 0 {
                self.size = SEQ_BUF_SIZE;
            }
            self.start(src)?;
            let mut pos = 0u64;
            let mut overflow = false;
            while let Some(rec) = self.record(self.index) {
                if !fits(0, rec, self.size) {
                    overflow = true;
                    break;
                }
                let len = rec.len() as u64;
                let rec = rec.to_vec();
                self.index += 1;
                if pos + len > offset {
                    self.from = (offset - pos) as usize;
                    self.count = rec.len() - self.from;
                    self.buf = rec;
                    return Ok(());
                }
                pos += len;
                if pos == offset {
                    return Ok(());
                }
            }
            if !overflow {
                return Ok(());
            }
            self.size <<= 1;
        }
    }

    /// `seq_read_iter()`: reads up to `want` bytes at `*pos` into `out`, advancing `*pos`.
    pub fn read(
        &mut self,
        src: &dyn ProcSource,
        pos: &mut u64,
        want: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, Errno> {
        if want == 0 {
            return Ok(0);
        }
        if *pos == 0 {
            self.index = 0;
            self.count = 0;
        }
        if *pos != self.read_pos {
            if let Err(e) = self.traverse(src, *pos) {
                self.read_pos = 0;
                self.index = 0;
                self.count = 0;
                return Err(e);
            }
            self.read_pos = *pos;
        }
        if self.size == 0 {
            self.size = SEQ_BUF_SIZE;
        }
        let mut copied = 0;
        let result = self.fill(src, want, out, &mut copied);
        if copied > 0 {
            *pos += copied as u64;
            self.read_pos += copied as u64;
            return Ok(copied);
        }
        result.map(|_| 0)
    }

    fn fill(
        &mut self,
        src: &dyn ProcSource,
        want: usize,
        out: &mut Vec<u8>,
        copied: &mut usize,
    ) -> Result<(), Errno> {
        // Something left in the buffer: copy it out first.
        if self.count > 0 {
            let n = self.count.min(want);
            out.extend_from_slice(&self.buf[self.from..self.from + n]);
            self.count -= n;
            self.from += n;
            *copied += n;
            if self.count > 0 {
                return Ok(());
            }
        }
        self.from = 0;
        // Get one non-empty record into the buffer, growing it while the record does not fit.
        self.start(src)?;
        loop {
            let Some(rec) = self.record(self.index) else {
                self.count = 0;
                return Ok(());
            };
            if rec.is_empty() {
                self.index += 1;
                continue;
            }
            if fits(0, rec, self.size) {
                self.buf = rec.to_vec();
                self.count = self.buf.len();
                break;
            }
            self.size <<= 1;
            self.start(src)?;
        }
        // Add whole records while the reader wants more and they fit.
        loop {
            self.index += 1;
            let Some(rec) = self.record(self.index) else { break };
            if self.count >= want - *copied {
                break;
            }
            if !fits(self.count, rec, self.size) {
                break;
            }
            let rec = rec.to_vec();
            self.buf.extend_from_slice(&rec);
            self.count += rec.len();
        }
        let n = self.count.min(want - *copied);
        out.extend_from_slice(&self.buf[..n]);
        *copied += n;
        self.count -= n;
        self.from = n;
        Ok(())
    }

    /// `seq_lseek()`: `SEEK_SET`/`SEEK_CUR` only (`EINVAL` otherwise and for a negative
    /// result), re-walking to the new offset.
    pub fn lseek(
        &mut self,
        src: &dyn ProcSource,
        f_pos: &mut u64,
        offset: i64,
        whence: u32,
    ) -> Result<u64, Errno> {
        let target = match whence {
            SEEK_SET => offset,
            SEEK_CUR => (*f_pos as i64).checked_add(offset).ok_or(Errno::EINVAL)?,
            _ => return Err(Errno::EINVAL),
        };
        if target < 0 {
            return Err(Errno::EINVAL);
        }
        let target = target as u64;
        if target != self.read_pos {
            if let Err(e) = self.traverse(src, target) {
                *f_pos = 0;
                self.read_pos = 0;
                self.index = 0;
                self.count = 0;
                return Err(e);
            }
            self.read_pos = target;
        }
        *f_pos = target;
        Ok(target)
    }
}

/// `lseek`'s `whence` values.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

/// One directory entry as readdir emits it: position, name, inode number, `d_type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub pos: u64,
    pub name: String,
    pub ino: u64,
    pub d_type: u8,
}

/// Inode numbers pivm gives proc nodes (Linux allocates them dynamically; these are stable).
pub fn ino(node: ProcNode) -> u64 {
    const PID_BASE: u64 = 0x1000;
    const SYS_BASE: u64 = 0x800;
    // Above every process's numbers (`PID_MAX_LIMIT` * 16).
    const SLAB_BASE: u64 = 1 << 32;
    match node {
        ProcNode::Root => PROC_ROOT_INO,
        ProcNode::SelfLink => 2,
        ProcNode::File(ProcFile::Root(f)) => 3 + f as u64,
        ProcNode::Pid(p) => PID_BASE + p as u64 * 16,
        ProcNode::File(ProcFile::Pid(p, f)) => PID_BASE + p as u64 * 16 + 1 + f as u64,
        ProcNode::Exe(p) => PID_BASE + p as u64 * 16 + 15,
        ProcNode::Sys(d) => SYS_BASE + d as u64,
        ProcNode::File(ProcFile::Sysctl(f)) => SYS_BASE + 16 + f as u64,
        ProcNode::SlabCache(c) => SLAB_BASE + c as u64 * 16,
        ProcNode::File(ProcFile::Slab(c, a)) => SLAB_BASE + c as u64 * 16 + 1 + a as u64,
    }
}

/// The mode (type and permission bits) of a proc node.
pub fn mode(node: ProcNode) -> u32 {
    match node {
        // debugfs's root is 0700 (`debugfs_fill_super`), sysfs's directories 0755.
        ProcNode::Sys(SysDir::Debug) => S_IFDIR | 0o700,
        ProcNode::Sys(SysDir::Sysfs | SysDir::SysfsKernel | SysDir::Slab)
        | ProcNode::SlabCache(_) => S_IFDIR | 0o755,
        ProcNode::Root | ProcNode::Pid(_) | ProcNode::Sys(_) => S_IFDIR | 0o555,
        ProcNode::SelfLink | ProcNode::Exe(_) => S_IFLNK | 0o777,
        ProcNode::File(ProcFile::Root(f)) => {
            S_IFREG | ROOT_FILES.iter().find(|e| e.1 == f).map_or(0o444, |e| e.2)
        }
        ProcNode::File(ProcFile::Pid(..)) => S_IFREG | 0o444,
        ProcNode::File(ProcFile::Sysctl(f)) => S_IFREG | crate::proc::sysctl::info(f).mode,
        ProcNode::File(ProcFile::Slab(_, a)) => S_IFREG | slab_attr_mode(a),
    }
}

/// `st_size`: a sysfs attribute's is a page (`sysfs_add_file_mode_ns`), everything else's 0.
pub fn size(node: ProcNode) -> u64 {
    match node {
        ProcNode::File(ProcFile::Slab(..)) => SEQ_BUF_SIZE as u64,
        _ => 0,
    }
}

/// `st_nlink`: the root has 2 plus one per process (`proc_root_getattr`), a process directory
/// 2 (pivm's has no subdirectories), everything else 1.
pub fn nlink(node: ProcNode, src: &dyn ProcSource) -> u32 {
    match node {
        ProcNode::Root => 2 + src.tgids().len() as u32,
        ProcNode::Pid(_) | ProcNode::Sys(SysDir::Vm | SysDir::Debug) | ProcNode::SlabCache(_) => 2,
        ProcNode::Sys(SysDir::Sys | SysDir::Sysfs) => 3,
        // kernfs: 2 plus one per subdirectory.
        ProcNode::Sys(SysDir::SysfsKernel) => 4,
        ProcNode::Sys(SysDir::Slab) => 2 + src.slab_caches().len() as u32,
        _ => 1,
    }
}

/// `lookup` of `name` in directory `dir`: `ENOENT` for a name that is not there (a process
/// that does not exist, `01` for 1), `ENOTDIR` when `dir` is not a directory.
pub fn lookup(src: &dyn ProcSource, dir: ProcNode, name: &str) -> Result<ProcNode, Errno> {
    match dir {
        ProcNode::Root => {
            if name == "self" {
                return Ok(ProcNode::SelfLink);
            }
            if name == "sys" {
                return Ok(ProcNode::Sys(SysDir::Sys));
            }
            if let Some(&(_, f, _)) = ROOT_FILES.iter().find(|e| e.0 == name) {
                return Ok(ProcNode::File(ProcFile::Root(f)));
            }
            let pid = parse_pid(name).ok_or(Errno::ENOENT)?;
            if src.tgids().contains(&pid) {
                Ok(ProcNode::Pid(pid))
            } else {
                Err(Errno::ENOENT)
            }
        }
        ProcNode::Pid(pid) => {
            if !src.tgids().contains(&pid) {
                return Err(Errno::ENOENT);
            }
            match PID_ENTRIES.iter().find(|e| e.0 == name) {
                Some((_, PidEntry::File(f))) => Ok(ProcNode::File(ProcFile::Pid(pid, *f))),
                Some((_, PidEntry::Exe)) => Ok(ProcNode::Exe(pid)),
                None => Err(Errno::ENOENT),
            }
        }
        ProcNode::Sys(SysDir::Sys) if name == "vm" => Ok(ProcNode::Sys(SysDir::Vm)),
        ProcNode::Sys(SysDir::Vm) => crate::proc::sysctl::vm_knobs()
            .find(|e| e.name == name)
            .map(|e| ProcNode::File(ProcFile::Sysctl(e.knob)))
            .ok_or(Errno::ENOENT),
        ProcNode::Sys(SysDir::Sysfs) if name == "kernel" => Ok(ProcNode::Sys(SysDir::SysfsKernel)),
        ProcNode::Sys(SysDir::SysfsKernel) if name == "debug" => Ok(ProcNode::Sys(SysDir::Debug)),
        ProcNode::Sys(SysDir::SysfsKernel) if name == "slab" => Ok(ProcNode::Sys(SysDir::Slab)),
        ProcNode::Sys(SysDir::Slab) => src
            .slab_caches()
            .into_iter()
            .find(|e| e.1 == name)
            .map(|e| ProcNode::SlabCache(e.0))
            .ok_or(Errno::ENOENT),
        ProcNode::SlabCache(c) => {
            if !src.slab_caches().iter().any(|e| e.0 == c) {
                return Err(Errno::ENOENT);
            }
            SLAB_ATTRS
                .iter()
                .find(|e| e.0 == name)
                .map(|e| ProcNode::File(ProcFile::Slab(c, e.1)))
                .ok_or(Errno::ENOENT)
        }
        ProcNode::Sys(SysDir::Debug) => debug_knobs()
            .find(|e| e.name == name)
            .map(|e| ProcNode::File(ProcFile::Sysctl(e.knob)))
            .ok_or(Errno::ENOENT),
        ProcNode::Sys(_) => Err(Errno::ENOENT),
        _ => Err(Errno::ENOTDIR),
    }
}

/// The directory holding a proc node (`..`).
pub fn parent(node: ProcNode) -> ProcNode {
    match node {
        ProcNode::Sys(SysDir::Vm) => ProcNode::Sys(SysDir::Sys),
        ProcNode::Sys(SysDir::SysfsKernel) => ProcNode::Sys(SysDir::Sysfs),
        ProcNode::Sys(SysDir::Debug | SysDir::Slab) => ProcNode::Sys(SysDir::SysfsKernel),
        ProcNode::SlabCache(_) => ProcNode::Sys(SysDir::Slab),
        ProcNode::File(ProcFile::Slab(c, _)) => ProcNode::SlabCache(c),
        ProcNode::Sys(SysDir::Sysfs) => ProcNode::Sys(SysDir::Sysfs),
        ProcNode::File(ProcFile::Sysctl(k)) if crate::proc::sysctl::info(k).sysctl.is_none() => {
            ProcNode::Sys(SysDir::Debug)
        }
        ProcNode::File(ProcFile::Sysctl(_)) => ProcNode::Sys(SysDir::Vm),
        ProcNode::File(ProcFile::Pid(p, _)) | ProcNode::Exe(p) => ProcNode::Pid(p),
        _ => ProcNode::Root,
    }
}

/// Readdir entries of knob files from position 2; returns the end position.
fn knob_entries(
    all: &mut Vec<DirEntry>,
    knobs: impl Iterator<Item = &'static crate::proc::sysctl::KnobInfo>,
) -> u64 {
    let mut pos = 2;
    for k in knobs {
        let node = ProcNode::File(ProcFile::Sysctl(k.knob));
        all.push(DirEntry { pos, name: k.name.into(), ino: ino(node), d_type: dt::REG });
        pos += 1;
    }
    pos
}

/// Readdir entries of a kernfs directory: by name hash (its readdir position), then name.
fn kernfs_entries(all: &mut Vec<DirEntry>, mut items: Vec<(&str, ProcNode, u8)>) -> u64 {
    items.sort_by(|a, b| (kernfs_name_hash(a.0), a.0).cmp(&(kernfs_name_hash(b.0), b.0)));
    for (name, node, d_type) in items {
        let pos = u64::from(kernfs_name_hash(name));
        all.push(DirEntry { pos, name: name.into(), ino: ino(node), d_type });
    }
    u64::from(KERNFS_END_POS)
}

/// debugfs's files pivm has.
fn debug_knobs() -> impl Iterator<Item = &'static crate::proc::sysctl::KnobInfo> {
    crate::proc::sysctl::KNOBS.iter().filter(|k| k.sysctl.is_none())
}

/// `name_to_int()`: a decimal number without a leading zero.
fn parse_pid(name: &str) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// `readlink` of a proc symlink: `/proc/self` is the reader's tgid (`ENOENT` for a kernel
/// context), `exe` the executable's path (`ENOENT` without one).
pub fn readlink(src: &dyn ProcSource, node: ProcNode) -> Result<String, Errno> {
    match node {
        ProcNode::SelfLink => {
            src.current_tgid().map(|t| alloc::format!("{t}")).ok_or(Errno::ENOENT)
        }
        ProcNode::Exe(pid) => src.exe_path(pid).ok_or(Errno::ENOENT),
        _ => Err(Errno::EINVAL),
    }
}

/// The entries of directory `dir` from readdir position `from` on (`.` and `..` included),
/// and the position after the last one.
pub fn readdir(
    src: &dyn ProcSource,
    dir: ProcNode,
    parent_ino: u64,
    from: u64,
) -> Result<(Vec<DirEntry>, u64), Errno> {
    let mut all = Vec::new();
    let dot = |pos, name: &str, ino| DirEntry { pos, name: name.into(), ino, d_type: dt::DIR };
    let end = match dir {
        ProcNode::Root => {
            all.push(dot(0, ".", PROC_ROOT_INO));
            all.push(dot(1, "..", parent_ino));
            // `sys` first: the shortest name (proc_match orders by length, then bytes).
            all.push(dot(2, "sys", ino(ProcNode::Sys(SysDir::Sys))));
            for (i, &(name, f, _)) in ROOT_FILES.iter().enumerate() {
                let node = ProcNode::File(ProcFile::Root(f));
                all.push(DirEntry {
                    pos: 3 + i as u64,
                    name: name.into(),
                    ino: ino(node),
                    d_type: dt::REG,
                });
            }
            all.push(DirEntry {
                pos: FIRST_PROCESS_ENTRY,
                name: "self".into(),
                ino: ino(ProcNode::SelfLink),
                d_type: dt::LNK,
            });
            for t in src.tgids() {
                all.push(DirEntry {
                    pos: t as u64 + TGID_OFFSET,
                    name: alloc::format!("{t}"),
                    ino: ino(ProcNode::Pid(t)),
                    d_type: dt::DIR,
                });
            }
            PID_MAX_LIMIT + TGID_OFFSET
        }
        ProcNode::Pid(pid) => {
            if !src.tgids().contains(&pid) {
                return Err(Errno::ENOENT);
            }
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", PROC_ROOT_INO));
            for (i, &(name, e)) in PID_ENTRIES.iter().enumerate() {
                let (node, d_type) = match e {
                    PidEntry::File(f) => (ProcNode::File(ProcFile::Pid(pid, f)), dt::REG),
                    PidEntry::Exe => (ProcNode::Exe(pid), dt::LNK),
                };
                all.push(DirEntry { pos: 2 + i as u64, name: name.into(), ino: ino(node), d_type });
            }
            2 + PID_ENTRIES.len() as u64
        }
        ProcNode::Sys(SysDir::Sys) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", PROC_ROOT_INO));
            all.push(dot(2, "vm", ino(ProcNode::Sys(SysDir::Vm))));
            3
        }
        ProcNode::Sys(SysDir::Vm) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", ino(ProcNode::Sys(SysDir::Sys))));
            knob_entries(&mut all, crate::proc::sysctl::vm_knobs())
        }
        ProcNode::Sys(SysDir::Sysfs) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", parent_ino));
            all.push(dot(2, "kernel", ino(ProcNode::Sys(SysDir::SysfsKernel))));
            3
        }
        ProcNode::Sys(SysDir::SysfsKernel) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", ino(ProcNode::Sys(SysDir::Sysfs))));
            let subdirs = alloc::vec![
                ("debug", ProcNode::Sys(SysDir::Debug), dt::DIR),
                ("slab", ProcNode::Sys(SysDir::Slab), dt::DIR),
            ];
            kernfs_entries(&mut all, subdirs)
        }
        ProcNode::Sys(SysDir::Slab) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", ino(ProcNode::Sys(SysDir::SysfsKernel))));
            let caches = src.slab_caches();
            let items =
                caches.iter().map(|&(c, name)| (name, ProcNode::SlabCache(c), dt::DIR)).collect();
            kernfs_entries(&mut all, items)
        }
        ProcNode::SlabCache(c) => {
            if !src.slab_caches().iter().any(|e| e.0 == c) {
                return Err(Errno::ENOENT);
            }
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", ino(ProcNode::Sys(SysDir::Slab))));
            let items = SLAB_ATTRS
                .iter()
                .map(|&(name, a, _)| (name, ProcNode::File(ProcFile::Slab(c, a)), dt::REG))
                .collect();
            kernfs_entries(&mut all, items)
        }
        ProcNode::Sys(SysDir::Debug) => {
            all.push(dot(0, ".", ino(dir)));
            all.push(dot(1, "..", ino(ProcNode::Sys(SysDir::SysfsKernel))));
            knob_entries(&mut all, debug_knobs())
        }
        _ => return Err(Errno::ENOTDIR),
    };
    all.retain(|e| e.pos >= from);
    Ok((all, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use core::fmt::Write;

    /// A kernel stand-in: meminfo-like single text, maps-like records, a render counter.
    struct Src {
        pids: Vec<u32>,
        me: Option<u32>,
        lines: usize,
        renders: Cell<usize>,
    }

    impl ProcSource for Src {
        fn tgids(&self) -> Vec<u32> {
            self.pids.clone()
        }
        fn current_tgid(&self) -> Option<u32> {
            self.me
        }
        fn exe_path(&self, tgid: u32) -> Option<String> {
            (tgid == 1).then(|| "/bin/init".into())
        }
        fn render(&self, file: ProcFile, out: &mut SeqBuf) -> Result<(), Errno> {
            self.renders.set(self.renders.get() + 1);
            match file {
                ProcFile::Root(RootFile::Meminfo) => {
                    for i in 0..self.lines {
                        writeln!(out, "Line{i:04}:     {i:8} kB").unwrap();
                    }
                }
                ProcFile::Pid(pid, PidFile::Maps) => {
                    if !self.pids.contains(&pid) {
                        return Err(Errno::ESRCH);
                    }
                    for i in 0..self.lines {
                        writeln!(
                            out,
                            "{:08x}-{:08x} rw-p 00000000 00:00 0 ",
                            i * 4096,
                            i * 4096 + 4096
                        )
                        .unwrap();
                        out.end_record();
                    }
                }
                _ => writeln!(out, "x").unwrap(),
            }
            Ok(())
        }
    }

    fn src(lines: usize) -> Src {
        Src { pids: alloc::vec![1, 42], me: Some(42), lines, renders: Cell::new(0) }
    }

    fn full(s: &Src, f: ProcFile) -> Vec<u8> {
        let mut b = SeqBuf::default();
        s.render(f, &mut b).unwrap();
        b.text
    }

    fn read_all(s: &Src, f: ProcFile, chunk: usize) -> (Vec<u8>, Vec<usize>) {
        let mut sf = SeqFile::new(f);
        let (mut pos, mut out, mut sizes) = (0, Vec::new(), Vec::new());
        loop {
            let n = sf.read(s, &mut pos, chunk, &mut out).unwrap();
            if n == 0 {
                return (out, sizes);
            }
            sizes.push(n);
        }
    }

    #[test]
    fn names_order_and_lookup() {
        let s = src(1);
        // proc_match order: shorter names first.
        let names: Vec<&str> = ROOT_FILES.iter().map(|e| e.0).collect();
        let mut sorted = names.clone();
        sorted.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        assert_eq!(names, sorted);
        let (entries, end) = readdir(&s, ProcNode::Root, 1, 0).unwrap();
        let listed: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(&listed[..7], [".", "..", "sys", "stat", "iomem", "swaps", "uptime"]);
        assert_eq!(&listed[listed.len() - 3..], ["self", "1", "42"]);
        assert_eq!(entries.last().unwrap().pos, 42 + TGID_OFFSET);
        assert_eq!(end, PID_MAX_LIMIT + TGID_OFFSET);
        let (rest, _) = readdir(&s, ProcNode::Root, 1, 2 + TGID_OFFSET).unwrap();
        assert_eq!(rest.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["42"]);
        assert_eq!(lookup(&s, ProcNode::Root, "42"), Ok(ProcNode::Pid(42)));
        assert_eq!(lookup(&s, ProcNode::Root, "042"), Err(Errno::ENOENT));
        assert_eq!(lookup(&s, ProcNode::Root, "7"), Err(Errno::ENOENT));
        assert_eq!(
            lookup(&s, ProcNode::Root, "meminfo"),
            Ok(ProcNode::File(ProcFile::Root(RootFile::Meminfo)))
        );
        assert_eq!(
            lookup(&s, ProcNode::Pid(42), "maps"),
            Ok(ProcNode::File(ProcFile::Pid(42, PidFile::Maps)))
        );
        assert_eq!(lookup(&s, ProcNode::Pid(42), "environ"), Err(Errno::ENOENT));
        assert_eq!(
            lookup(&s, ProcNode::File(ProcFile::Root(RootFile::Meminfo)), "x"),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(readlink(&s, ProcNode::SelfLink).unwrap(), "42");
        assert_eq!(readlink(&s, ProcNode::Exe(1)).unwrap(), "/bin/init");
        assert_eq!(readlink(&s, ProcNode::Exe(42)), Err(Errno::ENOENT));
        let console = Src { me: None, ..src(1) };
        assert_eq!(readlink(&console, ProcNode::SelfLink), Err(Errno::ENOENT));
        assert_eq!(mode(ProcNode::File(ProcFile::Root(RootFile::Slabinfo))), S_IFREG | 0o600);
        assert_eq!(nlink(ProcNode::Root, &s), 4);
        let (pid_dir, end) = readdir(&s, ProcNode::Pid(42), 1, 0).unwrap();
        assert_eq!(pid_dir[2].name, "status");
        assert_eq!(pid_dir[7].d_type, dt::LNK);
        assert_eq!(end, 10);
    }

    #[test]
    fn single_file_reads_any_size_and_renders_once() {
        let s = src(100); // 2500 bytes: one record under a page
        let whole = full(&s, ProcFile::Root(RootFile::Meminfo));
        s.renders.set(0);
        for chunk in [1, 7, 100, 4096, 65536] {
            let (got, sizes) = read_all(&s, ProcFile::Root(RootFile::Meminfo), chunk);
            assert_eq!(got, whole, "chunk {chunk}");
            assert!(sizes.iter().all(|&n| n == chunk.min(whole.len())) || sizes.len() > 1);
        }
        // One rendering per pass (the last read at EOF renders nothing new).
        assert_eq!(s.renders.get(), 5);
        // A single record larger than a page: the buffer doubles until it fits.
        let big = src(400); // 10400 bytes
        let (got, sizes) = read_all(&big, ProcFile::Root(RootFile::Meminfo), 1 << 20);
        assert_eq!(got, full(&big, ProcFile::Root(RootFile::Meminfo)));
        assert_eq!(sizes, [10400]);
    }

    #[test]
    fn record_files_return_whole_records_up_to_a_page() {
        let s = src(200); // 200 records of 41 bytes
        let whole = full(&s, ProcFile::Pid(42, PidFile::Maps));
        assert_eq!(whole.len(), 200 * 41);
        let (got, sizes) = read_all(&s, ProcFile::Pid(42, PidFile::Maps), 1 << 20);
        assert_eq!(got, whole);
        // 99 records (4059 bytes) fit in a page; the 100th (4100) would not.
        assert_eq!(sizes, [99 * 41, 99 * 41, 2 * 41]);
        // Small reads are served from the buffer without losing a byte.
        let (got, _) = read_all(&s, ProcFile::Pid(42, PidFile::Maps), 33);
        assert_eq!(got, whole);
    }

    #[test]
    fn offsets_seek_and_reads_past_the_end() {
        let s = src(200);
        let f = ProcFile::Pid(42, PidFile::Maps);
        let whole = full(&s, f);
        let mut sf = SeqFile::new(f);
        for at in [0usize, 1, 39, 40, 41, 4079, 4080, 7999, 8000, 9000] {
            let mut pos = at as u64;
            let mut out = Vec::new();
            let n = sf.read(&s, &mut pos, 100, &mut out).unwrap();
            let want = &whole[at.min(whole.len())..(at + 100).min(whole.len())];
            assert_eq!(&out[..], &want[..n], "pread at {at}");
            assert_eq!(n, want.len().min(100), "at {at}");
            assert_eq!(pos, (at + n) as u64);
        }
        let mut f_pos = 0;
        assert_eq!(sf.lseek(&s, &mut f_pos, 4000, SEEK_SET), Ok(4000));
        assert_eq!(sf.lseek(&s, &mut f_pos, 5, SEEK_CUR), Ok(4005));
        assert_eq!(sf.lseek(&s, &mut f_pos, 0, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(sf.lseek(&s, &mut f_pos, -5000, SEEK_CUR), Err(Errno::EINVAL));
        assert_eq!(f_pos, 4005);
        let mut out = Vec::new();
        let mut pos = f_pos;
        sf.read(&s, &mut pos, 10, &mut out).unwrap();
        assert_eq!(out, &whole[4005..4015]);
        // The process exits: reading its maps now fails with ESRCH, from the start.
        let gone = Src { pids: alloc::vec![1], ..src(200) };
        let mut pos = 0;
        assert_eq!(SeqFile::new(f).read(&gone, &mut pos, 10, &mut Vec::new()), Err(Errno::ESRCH));
    }

    #[test]
    fn kernfs_hash_orders_sysfs_and_slab_attributes_show_one_number() {
        // `kernfs_name_hash` by hand for "a": (0 + (97 << 4) + (97 >> 4)) * 11 = 17138;
        // times GOLDEN_RATIO_32, low 31 bits.
        assert_eq!(kernfs_name_hash("a"), 17138u32.wrapping_mul(0x61C8_8647) & 0x7fff_ffff);
        let h = kernfs_name_hash("shrink");
        assert!((2..KERNFS_END_POS).contains(&h));
        let s = src(1);
        let (entries, end) = readdir(&s, ProcNode::Sys(SysDir::SysfsKernel), 1, 0).unwrap();
        assert_eq!(end, KERNFS_END_POS as u64);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert!(entries.windows(2).all(|w| w[0].pos < w[1].pos));
        assert_eq!(entries[2].pos, u64::from(kernfs_name_hash(names[2])));
        // From a position on: the entries at or past it.
        let (rest, _) = readdir(&s, ProcNode::Sys(SysDir::SysfsKernel), 1, entries[3].pos).unwrap();
        assert_eq!(rest, entries[3..]);
        // A kernel without caches: an empty slab directory, no cache to look up.
        assert_eq!(lookup(&s, ProcNode::Sys(SysDir::Slab), "kmalloc-64"), Err(Errno::ENOENT));
        assert_eq!(nlink(ProcNode::Sys(SysDir::Slab), &s), 2);
        assert_eq!(
            parent(ProcNode::File(ProcFile::Slab(4, SlabAttr::Order))),
            ProcNode::SlabCache(4)
        );
        let info = crate::mm::slab::SlabInfo {
            name: "kmalloc-192",
            active_objs: 940,
            num_objs: 945,
            objsize: 192,
            objperslab: 21,
            pagesperslab: 1,
            active_slabs: 45,
            num_slabs: 45,
        };
        let stat = crate::mm::slab::CacheStat {
            info,
            object_size: 150,
            order: 0,
            min_partial: 5,
            objects_inuse: 911,
        };
        let show = |a| {
            let mut t = String::new();
            show_slab_attr(a, &stat, &mut t).unwrap();
            t
        };
        assert_eq!(show(SlabAttr::ObjectSize), "150\n");
        assert_eq!(show(SlabAttr::SlabSize), "192\n");
        assert_eq!(show(SlabAttr::ObjsPerSlab), "21\n");
        assert_eq!(show(SlabAttr::Order), "0\n");
        assert_eq!(show(SlabAttr::Slabs), "45\n");
        assert_eq!(show(SlabAttr::Objects), "940\n");
        assert_eq!(show(SlabAttr::TotalObjects), "945\n");
        assert_eq!(show(SlabAttr::ObjectsInuse), "911\n");
        assert_eq!(show(SlabAttr::Shrink), "");
        assert_eq!(slab_store(&s, 1, SlabAttr::Shrink, b"2"), Err(Errno::EINVAL));
        // The stand-in has no caches: the shrink's ENOENT comes back.
        assert_eq!(slab_store(&s, 1, SlabAttr::Shrink, b"1"), Err(Errno::ENOENT));
    }

    proptest::proptest! {
        /// Any sequence of reads at the file position, preads and seeks returns exactly the
        /// bytes of the rendered text at those offsets (the model: a flat byte string).
        #[test]
        fn reads_match_a_flat_model(lines in 0usize..300, ops in proptest::collection::vec((0u8..3, 0usize..12000, 1usize..9000), 1..40)) {
            let s = src(lines);
            let f = ProcFile::Pid(42, PidFile::Maps);
            let whole = full(&s, f);
            let mut sf = SeqFile::new(f);
            let mut f_pos = 0u64;
            for (op, off, len) in ops {
                let mut out = Vec::new();
                match op {
                    0 => {
                        let start = f_pos as usize;
                        let n = sf.read(&s, &mut f_pos, len, &mut out).unwrap();
                        let end = (start + len).min(whole.len()).max(start.min(whole.len()));
                        proptest::prop_assert!(n <= len);
                        proptest::prop_assert_eq!(&out[..], &whole[start.min(whole.len())..start.min(whole.len()) + n]);
                        proptest::prop_assert!(n > 0 || start >= whole.len() || end == start);
                    }
                    1 => {
                        let mut p = off as u64;
                        let n = sf.read(&s, &mut p, len, &mut out).unwrap();
                        let a = off.min(whole.len());
                        proptest::prop_assert_eq!(&out[..], &whole[a..a + n]);
                        proptest::prop_assert!(n > 0 || off >= whole.len());
                    }
                    _ => {
                        sf.lseek(&s, &mut f_pos, off as i64, SEEK_SET).unwrap();
                    }
                }
            }
        }
    }
}
