//! The file system calls of Linux 6.1 over pivm's namespace: the ramfs root with `/proc`
//! mounted on its `/proc` directory and the character devices `/dev/null` (1,3), `/dev/zero`
//! (1,5) and `/dev/console` (5,1) as device nodes in it. Path resolution for `openat`
//! (`AT_FDCWD`, directory descriptors, `.`/`..` across the mount, symlinks with the 40-link
//! limit, trailing slashes), the `O_*` rules of `do_filp_open`, open files (`struct file`:
//! flags, position, what they refer to), `read`/`write`/`pread64`/`lseek`/`_llseek`/`readv`/
//! `writev`, `getdents64`, `fstat64`/`fstatat64`/`statx`, `readlinkat`, `ioctl` and the
//! descriptor calls, each taking user pointers through [`UserMemory`] and returning the errno
//! 6.1 returns. Every process is root: permission bits are not checked (root passes them).
//! Pure and host-tested; the system-call layer calls these with the current process's state.
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::kernel::spinlock::SpinLock;

use crate::abi::errno::Errno;
use crate::abi::generic::{
    dirent64_reclen, dt, encode_dirent64, statx_attr, statx_mask, Statx, StatxTimestamp,
};
use crate::abi::native::termbits::{ioctl, Termios};
// `struct stat64` is the 32-bit EABI's (fstat64/fstatat64); arm64 has the generic `struct stat`
// of newfstatat/fstat instead (`abi::arm64::types::Stat`), filled by its own call.
use crate::abi::arm::types::Stat64;

/// The `struct stat` the architecture's stat calls fill from a [`Kstat`]: ARM's `stat64`
/// (`fstat64`/`fstatat64`, `cp_new_stat64`).
#[cfg(not(target_arch = "aarch64"))]
fn native_stat(st: &Kstat) -> Stat64 {
    st.to_stat64()
}

/// The `struct stat` the architecture's stat calls fill from a [`Kstat`]: arm64's generic
/// `stat` (`fstat`/`newfstatat`, `cp_new_stat`).
#[cfg(target_arch = "aarch64")]
fn native_stat(st: &Kstat) -> crate::abi::arm64::types::Stat {
    st.to_stat()
}
use crate::abi::native::types::new_encode_dev;
use crate::abi::uaccess::{get_user, getname, import_iovec, put_user, UserMemory, MAX_RW_COUNT};
use crate::fs::fdtable::{FdTable, O_CLOEXEC};
use crate::fs::pipe::{PipeEnd, PIPEFS_DEV};
use crate::fs::procfs::{self, ProcNode, ProcSource, SeqBuf, SeqFile};
use crate::fs::ramfs::{
    AddressSpace, Ino, InodeKind, InodeRef, Ramfs, MAXSYMLINKS, NAME_MAX, ROOT_INO, S_IALLUGO,
    S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};
use crate::fs::tty::Tty;
use crate::mm::readahead::FileRaState;

/// `open` flags (ARM's `asm/fcntl.h` over asm-generic).
pub mod o {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    /// ARM's `O_DIRECT` (a packet-mode pipe for `pipe2`).
    pub const O_DIRECT: u32 = 0o200000;
    pub const O_DIRECTORY: u32 = 0o40000;
    pub const O_NOFOLLOW: u32 = 0o100000;
    pub const O_LARGEFILE: u32 = 0o400000;
    pub const O_CLOEXEC: u32 = super::O_CLOEXEC;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE_BIT: u32 = 0o20000000;
    /// The flags `F_SETFL` may change (`SETFL_MASK`, those pivm models).
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK;
}

/// `*at` flags and the current-directory descriptor.
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `unlinkat`'s flag: remove a directory (`rmdir`).
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// `fcntl` commands pivm answers.
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
/// `FIONCLEX`, `FIOCLEX`, `FIONREAD`.
pub const FIONCLEX: u32 = 0x5450;
pub const FIOCLEX: u32 = 0x5451;
pub const FIONREAD: u32 = 0x541b;
/// The default `umask` (`init_fs`).
pub const DEFAULT_UMASK: u32 = 0o022;
/// `MAX_LFS_FILESIZE` on 32-bit: `ULONG_MAX` pages.
pub const MAX_LFS_FILESIZE: i64 = (u32::MAX as i64) << 12;
/// procfs's device (pivm's next anonymous device after the rootfs's 0:2; Linux's number
/// depends on what was mounted before).
pub const PROC_DEV: (u32, u32) = (0, 3);
/// Device numbers of the character devices pivm provides.
pub const DEV_NULL: (u32, u32) = (1, 3);
pub const DEV_ZERO: (u32, u32) = (1, 5);
pub const DEV_CONSOLE: (u32, u32) = (5, 1);

/// A node of the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Ram(Ino),
    Proc(ProcNode),
    /// A file or directory of the disk file system mounted on a ramfs directory (`/boot`).
    Disk(u64),
    /// A pipe's inode on pipefs (never in a directory).
    Pipe(u64),
}

/// What a disk file system reports of an inode (`struct kstat`'s fields it fills).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStat {
    pub mode: u32,
    pub nlink: u32,
    pub size: u64,
    /// `st_blksize` (FAT reports its cluster size) and 512-byte `st_blocks`.
    pub blksize: u32,
    pub blocks: u64,
    pub mtime: u64,
}

/// A read-only disk file system mounted in the namespace (the FAT volume on `/boot`),
/// implemented by the kernel over its page cache and the block layer.
pub trait DiskFs: Send {
    /// The block device it lives on (`s_dev`).
    fn dev(&self) -> (u32, u32);
    /// The root directory's inode.
    fn root(&self) -> u64;
    /// The directory holding `ino` (the root is its own).
    fn parent(&self, ino: u64) -> u64;
    /// `lookup` of `name` in directory `dir`.
    fn lookup(&self, dir: u64, name: &str) -> Result<u64, Errno>;
    fn getattr(&self, ino: u64) -> Result<DiskStat, Errno>;
    /// The entries of directory `dir` (no `.` or `..`): name, inode, mode.
    fn readdir(&self, dir: u64) -> Result<Vec<(String, u64, u32)>, Errno>;
    /// Reads from `pos` into `buf` through the page cache with the open file's read-ahead;
    /// `req` is how many bytes the whole read wants from `pos` (at least `buf.len()`: a
    /// large read is copied a page at a time), the request its read-ahead sizes from.
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        ra: &mut FileRaState,
    ) -> Result<usize, Errno>;
    /// The read-ahead state a new open file starts with (`file_ra_state_init`).
    fn ra_init(&self) -> FileRaState;
    /// The path of `ino` below the file system's root (`""` for the root).
    fn path(&self, ino: u64) -> Option<String>;
}

/// A disk file system and the ramfs directory it is mounted on.
pub struct DiskMount {
    pub at: Ino,
    pub fs: alloc::boxed::Box<dyn DiskFs>,
}

impl core::fmt::Debug for DiskMount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DiskMount {{ at: {}, dev: {:?} }}", self.at, self.fs.dev())
    }
}

/// What an open file reads and writes.
#[derive(Clone, Debug)]
pub enum Object {
    /// A ramfs file or directory.
    Ram(Ino),
    /// A procfs directory.
    ProcDir(ProcNode),
    /// A procfs file and its `seq_file`.
    Proc(SeqFile),
    Null,
    Zero,
    Console,
    /// A disk file or directory and the open file's read-ahead state (`f_ra`).
    Disk {
        ino: u64,
        ra: FileRaState,
    },
    /// A block device (read-only): its number, its inode in the device's page cache, the
    /// open file's read-ahead state.
    Blk {
        rdev: (u32, u32),
        ino: u64,
        ra: FileRaState,
    },
    /// One end of a pipe.
    Pipe(Arc<PipeEnd>),
}

/// An open file description (`struct file`).
#[derive(Clone, Debug)]
pub struct File {
    /// The open flags kept after open (access mode, `O_APPEND`, `O_NONBLOCK`, ...).
    pub f_flags: u32,
    pub f_pos: u64,
    pub node: Node,
    pub object: Object,
    /// The open file's hold on a ramfs inode (`f_inode`'s reference): an unlinked file
    /// stays readable and writable until its last descriptor closes.
    pub pin: Option<Arc<InodeRef>>,
}

impl File {
    /// `FMODE_READ`.
    pub fn readable(&self) -> bool {
        self.f_flags & o::O_ACCMODE != o::O_WRONLY
    }
    /// `FMODE_WRITE`.
    pub fn writable(&self) -> bool {
        matches!(self.f_flags & o::O_ACCMODE, o::O_WRONLY | o::O_RDWR)
    }
}

/// Bytes copied per step between user memory and a file (a page, on the heap: a kernel
/// stack is 8 KiB).
const CHUNK: usize = 4096;

/// An open file shared by descriptors.
pub type FileRef = SpinLock<File>;

/// The namespace: the root filesystem, where `/proc` is mounted, the console tty.
#[derive(Debug)]
pub struct Namespace<A: AddressSpace> {
    pub ramfs: Ramfs<A>,
    /// The ramfs directory `/proc` is mounted on.
    pub proc_mount: Option<Ino>,
    pub tty: Tty,
    /// The disk file system mounted on a ramfs directory (`/boot`), if any.
    pub disk: Option<DiskMount>,
    /// The ramfs directory sysfs (with debugfs on its `kernel/debug`) is mounted on.
    pub sys_mount: Option<Ino>,
    /// The block devices the device files in the rootfs open, once the kernel has some.
    pub blkdev: Option<alloc::boxed::Box<dyn crate::fs::blkdev::BlockDevOps>>,
    /// The last pipefs inode number given (`get_next_ino`).
    pub last_pipe_ino: u64,
}

/// What `stat` reports (`struct kstat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kstat {
    pub dev: (u32, u32),
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: (u32, u32),
    pub size: u64,
    pub blksize: u32,
    pub blocks: u64,
    pub mtime: u64,
    /// The mount's id (`statx`'s `stx_mnt_id`): pivm numbers its two mounts 1 (rootfs) and 2.
    pub mnt_id: u64,
    /// `STATX_ATTR_*` set, and those the filesystem can report (`stx_attributes_mask`).
    pub attributes: u64,
    pub attributes_mask: u64,
}

/// What `vfs_getattr_nosec` can always report (automount points, DAX) and `vfs_statx` adds
/// (whether the path is a mount's root).
const VFS_ATTRIBUTES_MASK: u64 = statx_attr::AUTOMOUNT | statx_attr::DAX | statx_attr::MOUNT_ROOT;
/// What `shmem_getattr` adds: the rootfs is tmpfs in 6.1 (no `root=`, `CONFIG_TMPFS`).
const TMPFS_ATTRIBUTES_MASK: u64 = statx_attr::APPEND | statx_attr::IMMUTABLE | statx_attr::NODUMP;

impl Kstat {
    /// `cp_new_stat64()`.
    pub fn to_stat64(&self) -> Stat64 {
        let t = self.mtime as u32;
        Stat64 {
            st_dev: new_encode_dev(self.dev.0, self.dev.1) as u64,
            __pad0: [0; 4],
            __st_ino: self.ino as u32,
            st_mode: self.mode,
            st_nlink: self.nlink,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: new_encode_dev(self.rdev.0, self.rdev.1) as u64,
            __pad3: [0; 4],
            st_size: self.size as i64,
            st_blksize: self.blksize,
            st_blocks: self.blocks,
            st_atime: t,
            st_atime_nsec: 0,
            st_mtime: t,
            st_mtime_nsec: 0,
            st_ctime: t,
            st_ctime_nsec: 0,
            st_ino: self.ino,
        }
    }

    /// `cp_statx()`: every basic field and the mount id (`STATX_BASIC_STATS | STATX_MNT_ID`,
    /// whatever was asked, as 6.1 fills them).
    pub fn to_statx(&self) -> Statx {
        let ts = StatxTimestamp { tv_sec: self.mtime as i64, tv_nsec: 0, __reserved: 0 };
        Statx {
            stx_mask: statx_mask::BASIC_STATS | statx_mask::MNT_ID,
            stx_blksize: self.blksize,
            stx_attributes: self.attributes,
            stx_nlink: self.nlink,
            stx_uid: self.uid,
            stx_gid: self.gid,
            stx_mode: self.mode as u16,
            __spare0: [0],
            stx_ino: self.ino,
            stx_size: self.size,
            stx_blocks: self.blocks,
            stx_attributes_mask: self.attributes_mask,
            stx_atime: ts,
            stx_btime: StatxTimestamp::zeroed(),
            stx_ctime: ts,
            stx_mtime: ts,
            stx_rdev_major: self.rdev.0,
            stx_rdev_minor: self.rdev.1,
            stx_dev_major: self.dev.0,
            stx_dev_minor: self.dev.1,
            stx_mnt_id: self.mnt_id,
            stx_dio_mem_align: 0,
            stx_dio_offset_align: 0,
            __spare3: [0; 12],
        }
    }
}

/// `d_type` of an `S_IFMT` type.
fn d_type(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFDIR => dt::DIR,
        S_IFREG => dt::REG,
        S_IFLNK => dt::LNK,
        S_IFCHR => dt::CHR,
        S_IFBLK => dt::BLK,
        S_IFIFO => dt::FIFO,
        S_IFSOCK => dt::SOCK,
        _ => dt::UNKNOWN,
    }
}

/// One system call's view: the namespace, the kernel's `/proc` contents, the process's user
/// memory, descriptors, working directory and umask.
pub struct Ctx<'a, A: AddressSpace, M: UserMemory> {
    pub ns: &'a mut Namespace<A>,
    pub proc: &'a dyn ProcSource,
    pub mem: &'a mut M,
    pub files: &'a mut FdTable<FileRef>,
    pub cwd: Node,
    pub umask: u32,
}

impl<A: AddressSpace> Namespace<A> {
    /// A namespace over `ramfs`: `/proc` mounted if the directory exists, and the device
    /// nodes created in `/dev` (if it exists and they do not), as pivm's stand-in for
    /// devtmpfs. The console tty starts with `termios`.
    pub fn new(mut ramfs: Ramfs<A>, termios: Termios) -> Self {
        let proc_mount = ramfs
            .lookup("/proc")
            .ok()
            .filter(|&i| matches!(ramfs.inode(i).map(|n| &n.kind), Some(InodeKind::Dir { .. })));
        if ramfs.lookup("/dev").is_ok() {
            for (path, rdev, perm) in [
                ("/dev/console", DEV_CONSOLE, 0o600),
                ("/dev/null", DEV_NULL, 0o666),
                ("/dev/zero", DEV_ZERO, 0o666),
            ] {
                if ramfs.lookup_nofollow(path).is_err() {
                    let _ = ramfs.mknod(path, S_IFCHR | perm, rdev);
                }
            }
        }
        let sys_mount = ramfs
            .lookup("/sys")
            .ok()
            .filter(|&i| matches!(ramfs.inode(i).map(|n| &n.kind), Some(InodeKind::Dir { .. })));
        Namespace {
            ramfs,
            proc_mount,
            tty: Tty::new(termios),
            disk: None,
            sys_mount,
            blkdev: None,
            last_pipe_ino: 0,
        }
    }

    /// Mounts `fs` on the ramfs directory `path` (`EROFS`-style errors are the caller's: the
    /// directory must exist). Replaces an earlier disk mount.
    pub fn mount_disk(
        &mut self,
        path: &str,
        fs: alloc::boxed::Box<dyn DiskFs>,
    ) -> Result<(), Errno> {
        let at = self.ramfs.lookup(path)?;
        if !matches!(self.ramfs.inode(at).map(|n| &n.kind), Some(InodeKind::Dir { .. })) {
            return Err(Errno::ENOTDIR);
        }
        self.disk = Some(DiskMount { at, fs });
        Ok(())
    }

    /// The mounted disk file system.
    fn diskfs(&self) -> Result<&dyn DiskFs, Errno> {
        self.disk.as_ref().map(|d| &*d.fs).ok_or(Errno::ENOENT)
    }

    /// Resolves an absolute `path` (symlinks followed), for the kernel (`execve`).
    pub fn lookup_path(&self, proc: &dyn ProcSource, path: &str) -> Result<Node, Errno> {
        self.walk(proc, Node::Ram(ROOT_INO), path.as_bytes(), true, &mut 0)
    }

    /// The absolute path of a disk node (for `/proc/PID/maps`).
    pub fn disk_path(&self, ino: u64) -> Option<String> {
        let d = self.disk.as_ref()?;
        let mount = self.d_path(d.at)?;
        let rel = d.fs.path(ino)?;
        Some(if rel.is_empty() { mount } else { alloc::format!("{mount}/{rel}") })
    }

    /// `ls` of a disk directory (or one disk file), or of a `/proc` or `/sys` one: names and
    /// their `stat`, sorted by name as `ls` sorts them; None when `path` is on neither.
    pub fn disk_list(
        &self,
        proc: &dyn ProcSource,
        path: &str,
    ) -> Option<Result<Vec<(String, Kstat)>, Errno>> {
        let node = match self.walk(proc, Node::Ram(ROOT_INO), path.as_bytes(), true, &mut 0) {
            Ok(n @ (Node::Disk(_) | Node::Proc(_))) => n,
            _ => return None,
        };
        if let Node::Proc(p) = node {
            return Some((|| {
                let mut out = Vec::new();
                if !self.is_dir(node) {
                    out.push((String::from(path), self.stat(proc, node)?));
                    return Ok(out);
                }
                let (entries, _) = procfs::readdir(proc, p, 0, 0)?;
                for e in entries.into_iter().filter(|e| e.name != "." && e.name != "..") {
                    let child = procfs::lookup(proc, p, &e.name)?;
                    out.push((e.name, self.stat(proc, Node::Proc(child))?));
                }
                out.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(out)
            })());
        }
        let Node::Disk(ino) = node else { return None };
        let fs = self.disk.as_ref()?;
        Some((|| {
            let mut out = Vec::new();
            if self.is_dir(node) {
                let mut entries = fs.fs.readdir(ino)?;
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, i, _) in entries {
                    out.push((name, self.stat(proc, Node::Disk(i))?));
                }
            } else {
                out.push((String::from(path), self.stat(proc, node)?));
            }
            Ok(out)
        })())
    }

    /// `d_path()` of a ramfs inode: its absolute path, found from the root (pivm keeps no
    /// dentries; the first name found for a hard-linked file). For `/proc/PID/maps`.
    pub fn d_path(&self, ino: Ino) -> Option<String> {
        fn walk<A: AddressSpace>(
            fs: &Ramfs<A>,
            dir: Ino,
            prefix: &str,
            want: Ino,
        ) -> Option<String> {
            let Some(InodeKind::Dir { entries, .. }) = fs.inode(dir).map(|n| &n.kind) else {
                return None;
            };
            for (name, &i) in entries {
                let path = alloc::format!("{prefix}/{name}");
                if i == want {
                    return Some(path);
                }
                if let Some(p) = walk(fs, i, &path, want) {
                    return Some(p);
                }
            }
            None
        }
        if ino == ROOT_INO {
            return Some("/".into());
        }
        walk(&self.ramfs, ROOT_INO, "", ino)
    }

    /// The whole of the file at `path`, for the kernel itself (the console's `cat`), handed
    /// to `out` piece by piece: a regular file a bounce buffer at a time, a `/proc` file as
    /// its renderer produces it, through the same lookup and `ProcSource` a program's
    /// `open`/`read` use (a reader of the whole text needs no `seq_file` buffer, and none is
    /// allocated); `EISDIR` for a directory, `EINVAL` for a device.
    pub fn kernel_read(
        &mut self,
        proc: &dyn ProcSource,
        path: &str,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Errno> {
        /// Bytes per step through a regular file (on the caller's stack).
        const BOUNCE: usize = 512;
        let node = self.walk(proc, Node::Ram(ROOT_INO), path.as_bytes(), true, &mut 0)?;
        let file = self.open_node(node, o::O_RDONLY, false)?;
        match file.object {
            Object::Ram(i) if !self.is_dir(node) => {
                let mut buf = [0u8; BOUNCE];
                let mut pos = 0;
                loop {
                    let n = self.ramfs.read(i, pos, &mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    out(&buf[..n]);
                    pos += n as u64;
                }
            }
            Object::Proc(seq) => proc.render(seq.file(), &mut SeqBuf::streaming(out)),
            Object::Disk { ino, mut ra } if !self.is_dir(node) => {
                let fs = self.diskfs()?;
                let mut buf = alloc::vec![0u8; CHUNK];
                let mut pos = 0;
                loop {
                    // A page at a time, as a program's read goes.
                    let step = &mut buf[..CHUNK - (pos % CHUNK as u64) as usize];
                    let req = step.len();
                    let n = fs.read(ino, pos, step, req, &mut ra)?;
                    if n == 0 {
                        return Ok(());
                    }
                    out(&buf[..n]);
                    pos += n as u64;
                }
            }
            Object::Ram(_) | Object::ProcDir(_) | Object::Disk { .. } => Err(Errno::EISDIR),
            Object::Null
            | Object::Zero
            | Object::Console
            | Object::Blk { .. }
            | Object::Pipe(_) => Err(Errno::EINVAL),
        }
    }

    /// A write of `value` to the knob file at `path`, for the kernel itself (the console's
    /// `echo N > FILE`), through the same lookup, open and handler a program's `write`
    /// uses: `ENOENT`, `EACCES` (no write permission), `EINVAL` (not a knob file, or a
    /// value its handler refuses).
    pub fn kernel_write(
        &mut self,
        proc: &dyn ProcSource,
        path: &str,
        value: &[u8],
    ) -> Result<usize, Errno> {
        let node = self.walk(proc, Node::Ram(ROOT_INO), path.as_bytes(), true, &mut 0)?;
        match node {
            Node::Proc(ProcNode::File(procfs::ProcFile::Sysctl(k))) => {
                if crate::proc::sysctl::info(k).mode & 0o200 == 0 {
                    return Err(Errno::EACCES);
                }
                proc.sysctl_write(k, value)
            }
            Node::Proc(ProcNode::File(procfs::ProcFile::Slab(c, a))) => {
                if procfs::slab_attr_mode(a) & 0o200 == 0 {
                    return Err(Errno::EACCES);
                }
                procfs::slab_store(proc, c, a, value)
            }
            _ if self.is_dir(node) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The absolute path of a node (`d_path` for `getcwd`): None for one that has lost its
    /// name (an unlinked directory) or has none (a pipe).
    pub fn node_path(&self, proc: &dyn ProcSource, node: Node) -> Option<String> {
        match node {
            Node::Ram(i) if self.ramfs.is_orphan(i) => None,
            Node::Ram(i) => self.d_path(i),
            Node::Disk(i) => self.disk_path(i),
            Node::Proc(ProcNode::Root) => self.d_path(self.proc_mount?),
            Node::Proc(p) => {
                let parent = procfs::parent(p);
                let base = self.node_path(proc, Node::Proc(parent))?;
                let (entries, _) = procfs::readdir(proc, parent, ROOT_INO, 2).ok()?;
                let e = entries.into_iter().find(|e| e.ino == procfs::ino(p))?;
                Some(alloc::format!("{base}/{}", e.name))
            }
            Node::Pipe(_) => None,
        }
    }

    /// The mount a node belongs to (for `rename`'s `EXDEV`).
    fn mount_of(node: Node) -> u32 {
        match node {
            Node::Ram(_) => 1,
            Node::Proc(_) => 2,
            Node::Disk(_) => 3,
            Node::Pipe(_) => 4,
        }
    }

    /// Whether ramfs inode `ino` has a file system mounted on it (`d_mountpoint`).
    fn is_mountpoint(&self, ino: Ino) -> bool {
        Some(ino) == self.proc_mount || self.disk.as_ref().is_some_and(|d| d.at == ino)
    }

    fn is_dir(&self, node: Node) -> bool {
        match node {
            Node::Ram(i) => {
                matches!(self.ramfs.inode(i).map(|n| &n.kind), Some(InodeKind::Dir { .. }))
            }
            Node::Proc(p) => matches!(
                p,
                ProcNode::Root | ProcNode::Pid(_) | ProcNode::Sys(_) | ProcNode::SlabCache(_)
            ),
            Node::Disk(i) => self
                .diskfs()
                .and_then(|fs| fs.getattr(i))
                .is_ok_and(|st| st.mode & S_IFMT == S_IFDIR),
            Node::Pipe(_) => false,
        }
    }

    fn is_symlink(&self, node: Node) -> bool {
        match node {
            Node::Ram(i) => {
                matches!(self.ramfs.inode(i).map(|n| &n.kind), Some(InodeKind::Symlink(_)))
            }
            Node::Proc(p) => matches!(p, ProcNode::SelfLink | ProcNode::Exe(_)),
            Node::Disk(_) | Node::Pipe(_) => false,
        }
    }

    fn parent(&self, node: Node) -> Node {
        match node {
            Node::Ram(i) => match self.ramfs.inode(i).map(|n| &n.kind) {
                Some(InodeKind::Dir { parent, .. }) => Node::Ram(*parent),
                _ => node,
            },
            Node::Proc(ProcNode::Root) => match self.proc_mount {
                Some(m) => self.parent(Node::Ram(m)),
                None => node,
            },
            Node::Proc(ProcNode::Sys(procfs::SysDir::Sysfs)) => match self.sys_mount {
                Some(m) => self.parent(Node::Ram(m)),
                None => node,
            },
            Node::Proc(p) => Node::Proc(procfs::parent(p)),
            Node::Disk(i) => match &self.disk {
                Some(d) if i == d.fs.root() => self.parent(Node::Ram(d.at)),
                Some(d) => Node::Disk(d.fs.parent(i)),
                None => node,
            },
            Node::Pipe(_) => node,
        }
    }

    fn child(&self, proc: &dyn ProcSource, dir: Node, name: &str) -> Result<Node, Errno> {
        match dir {
            Node::Ram(i) => match self.ramfs.inode(i).map(|n| &n.kind) {
                Some(InodeKind::Dir { entries, .. }) => {
                    let c = *entries.get(name).ok_or(Errno::ENOENT)?;
                    if Some(c) == self.proc_mount {
                        Ok(Node::Proc(ProcNode::Root))
                    } else if Some(c) == self.sys_mount {
                        Ok(Node::Proc(ProcNode::Sys(procfs::SysDir::Sysfs)))
                    } else if let Some(d) = self.disk.as_ref().filter(|d| d.at == c) {
                        Ok(Node::Disk(d.fs.root()))
                    } else {
                        Ok(Node::Ram(c))
                    }
                }
                Some(_) => Err(Errno::ENOTDIR),
                None => Err(Errno::ENOENT),
            },
            Node::Proc(p) => procfs::lookup(proc, p, name).map(Node::Proc),
            Node::Disk(d) => {
                if !self.is_dir(dir) {
                    return Err(Errno::ENOTDIR);
                }
                self.diskfs()?.lookup(d, name).map(Node::Disk)
            }
            Node::Pipe(_) => Err(Errno::ENOTDIR),
        }
    }

    fn readlink_node(&self, proc: &dyn ProcSource, node: Node) -> Result<String, Errno> {
        match node {
            Node::Ram(i) => self.ramfs.readlink(i).map(String::from),
            Node::Proc(p) => procfs::readlink(proc, p),
            Node::Disk(_) | Node::Pipe(_) => Err(Errno::EINVAL),
        }
    }

    /// Resolves `path` from `start` (`/` restarts at the root). The last component is
    /// followed if it is a symlink and `follow` is set or the path ends in `/`, which also
    /// requires a directory. `links` counts symlinks followed (`ELOOP` past 40).
    fn walk(
        &self,
        proc: &dyn ProcSource,
        start: Node,
        path: &[u8],
        follow: bool,
        links: &mut usize,
    ) -> Result<Node, Errno> {
        let (dir, last, slash) = self.walk_parent(proc, start, path, links)?;
        let Some(last) = last else { return Ok(dir) };
        let node = self.child(proc, dir, &last)?;
        self.finish(proc, dir, node, follow || slash, slash, links)
    }

    /// Follows `node` if it is a symlink (`follow`), then checks a trailing slash's directory.
    fn finish(
        &self,
        proc: &dyn ProcSource,
        dir: Node,
        mut node: Node,
        follow: bool,
        must_be_dir: bool,
        links: &mut usize,
    ) -> Result<Node, Errno> {
        if follow && self.is_symlink(node) {
            *links += 1;
            if *links > MAXSYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = self.readlink_node(proc, node)?;
            node = self.walk(proc, dir, target.as_bytes(), true, links)?;
        }
        if must_be_dir && !self.is_dir(node) {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }

    /// Resolves every component but the last: the directory, the last name (`None` when the
    /// path ends in `.`, `..` or is `/`, after which the directory itself is the result) and
    /// whether a slash followed it.
    fn walk_parent(
        &self,
        proc: &dyn ProcSource,
        start: Node,
        path: &[u8],
        links: &mut usize,
    ) -> Result<(Node, Option<String>, bool), Errno> {
        if path.len() >= crate::abi::uaccess::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let text = core::str::from_utf8(path).map_err(|_| Errno::ENOENT)?;
        let mut cur = if text.starts_with('/') { Node::Ram(ROOT_INO) } else { start };
        // The components walked one by one (no list of them is built).
        let mut parts = text.split('/').filter(|p| !p.is_empty()).peekable();
        let slash = text.len() > 1 && text.ends_with('/');
        while let Some(part) = parts.next() {
            if part.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            if !self.is_dir(cur) {
                return Err(Errno::ENOTDIR);
            }
            let last = parts.peek().is_none();
            match part {
                "." => {}
                ".." => cur = self.parent(cur),
                name if last => return Ok((cur, Some(name.into()), slash)),
                name => {
                    let next = self.child(proc, cur, name)?;
                    cur = self.finish(proc, cur, next, true, true, links)?;
                }
            }
        }
        if !self.is_dir(cur) {
            return Err(Errno::ENOTDIR);
        }
        Ok((cur, None, slash))
    }

    /// `vfs_getattr` of a node.
    pub fn stat(&self, proc: &dyn ProcSource, node: Node) -> Result<Kstat, Errno> {
        match node {
            Node::Ram(i) => {
                let s = self.ramfs.stat(i)?;
                Ok(Kstat {
                    dev: s.st_dev,
                    ino: s.st_ino,
                    mode: s.st_mode,
                    nlink: s.st_nlink,
                    uid: s.st_uid,
                    gid: s.st_gid,
                    rdev: s.st_rdev,
                    size: s.st_size,
                    blksize: s.st_blksize,
                    blocks: s.st_blocks,
                    mtime: s.st_mtime,
                    mnt_id: 1,
                    attributes: 0,
                    attributes_mask: VFS_ATTRIBUTES_MASK | TMPFS_ATTRIBUTES_MASK,
                })
            }
            Node::Proc(p) => Ok(Kstat {
                dev: procfs::dev(p),
                ino: procfs::ino(p),
                mode: procfs::mode(p),
                nlink: procfs::nlink(p, proc),
                uid: 0,
                gid: 0,
                rdev: (0, 0),
                size: procfs::size(p),
                blksize: procfs::PROC_BLKSIZE,
                blocks: 0,
                mtime: 0,
                mnt_id: 2,
                attributes: 0,
                attributes_mask: VFS_ATTRIBUTES_MASK,
            }),
            Node::Disk(i) => {
                let fs = self.diskfs()?;
                let st = fs.getattr(i)?;
                Ok(Kstat {
                    dev: fs.dev(),
                    ino: i,
                    mode: st.mode,
                    nlink: st.nlink,
                    uid: 0,
                    gid: 0,
                    rdev: (0, 0),
                    size: st.size,
                    blksize: st.blksize,
                    blocks: st.blocks,
                    mtime: st.mtime,
                    mnt_id: 3,
                    attributes: 0,
                    attributes_mask: VFS_ATTRIBUTES_MASK,
                })
            }
            // get_pipe_inode: S_IFIFO | 0600, owned by the caller (root), no size.
            Node::Pipe(ino) => Ok(Kstat {
                dev: PIPEFS_DEV,
                ino,
                mode: S_IFIFO | 0o600,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: (0, 0),
                size: 0,
                blksize: crate::mm::mm_types::PAGE_SIZE as u32,
                blocks: 0,
                mtime: 0,
                mnt_id: 4,
                attributes: 0,
                attributes_mask: VFS_ATTRIBUTES_MASK,
            }),
        }
    }

    /// Makes an open file of `node` with `flags` (`do_open` after the lookup).
    fn open_node(&mut self, node: Node, flags: u32, created: bool) -> Result<File, Errno> {
        let acc = flags & o::O_ACCMODE;
        let write = acc == o::O_WRONLY || acc == o::O_RDWR;
        if self.is_symlink(node) {
            return Err(Errno::ELOOP);
        }
        if flags & o::O_CREAT != 0 && self.is_dir(node) {
            return Err(Errno::EISDIR);
        }
        if flags & o::O_DIRECTORY != 0 && !self.is_dir(node) {
            // 6.1 returns this even for the file it has just created (fixed in 6.4).
            return Err(Errno::ENOTDIR);
        }
        if self.is_dir(node) && write {
            return Err(Errno::EISDIR);
        }
        let object = match node {
            Node::Ram(i) => {
                let inode = self.ramfs.inode(i).ok_or(Errno::ENOENT)?;
                match inode.i_mode & S_IFMT {
                    S_IFREG => {
                        if flags & o::O_TRUNC != 0 && !created {
                            self.ramfs.truncate(i, 0)?;
                        }
                        Object::Ram(i)
                    }
                    S_IFDIR => Object::Ram(i),
                    // chrdev_open: only the devices pivm has a driver for.
                    S_IFCHR => match inode.i_rdev {
                        DEV_NULL => Object::Null,
                        DEV_ZERO => Object::Zero,
                        DEV_CONSOLE => Object::Console,
                        _ => return Err(Errno::ENXIO),
                    },
                    // blkdev_open: read-only in pivm (no writes through the page cache).
                    S_IFBLK => {
                        if write || flags & o::O_TRUNC != 0 {
                            return Err(Errno::EROFS);
                        }
                        let rdev = inode.i_rdev;
                        let ops = self.blkdev.as_ref().ok_or(Errno::ENXIO)?;
                        let (ino, ra) = ops.open(rdev)?;
                        Object::Blk { rdev, ino, ra }
                    }
                    // No FIFOs or sockets yet: no driver.
                    _ => return Err(Errno::ENXIO),
                }
            }
            // A write-only sysctl (mode 0200): root has no read right to it either
            // (`sysctl_perm` tests the owner bits).
            Node::Proc(ProcNode::File(procfs::ProcFile::Sysctl(k)))
                if acc != o::O_WRONLY && crate::proc::sysctl::info(k).mode & 0o400 == 0 =>
            {
                return Err(Errno::EACCES)
            }
            // kernfs_fop_open: writing an attribute without write bits (no `->store`).
            Node::Proc(ProcNode::File(procfs::ProcFile::Slab(_, a)))
                if write && procfs::slab_attr_mode(a) & 0o222 == 0 =>
            {
                return Err(Errno::EACCES)
            }
            Node::Proc(ProcNode::File(f)) => Object::Proc(SeqFile::new(f)),
            Node::Proc(p) => Object::ProcDir(p),
            // A read-only mount (`mnt_want_write` -> EROFS) for writing or truncating.
            Node::Disk(_) if write || flags & o::O_TRUNC != 0 => return Err(Errno::EROFS),
            Node::Disk(ino) => Object::Disk { ino, ra: self.diskfs()?.ra_init() },
            // Never reached by a path.
            Node::Pipe(_) => return Err(Errno::ENXIO),
        };
        let kept = flags & !(o::O_CREAT | o::O_EXCL | o::O_NOCTTY | o::O_TRUNC | o::O_CLOEXEC);
        let pin = match node {
            Node::Ram(i) => self.ramfs.iget(i),
            _ => None,
        };
        Ok(File { f_flags: kept, f_pos: 0, node, object, pin })
    }
}

/// The directory entries of a ramfs directory from position `from`: `.`, `..`, then the
/// children newest first, as 6.1's `dcache_readdir` walks a tmpfs directory (pivm orders by
/// inode number, which is creation order but for hard links), and the end position.
fn ram_readdir<A: AddressSpace>(
    ns: &Namespace<A>,
    dir: Ino,
    from: u64,
) -> Result<(Vec<procfs::DirEntry>, u64), Errno> {
    let Some(InodeKind::Dir { entries, parent }) = ns.ramfs.inode(dir).map(|n| &n.kind) else {
        return Err(Errno::ENOTDIR);
    };
    let mut kids: Vec<(&String, Ino)> = entries.iter().map(|(n, &i)| (n, i)).collect();
    kids.sort_by_key(|k| core::cmp::Reverse(k.1));
    let mut all = vec![
        procfs::DirEntry { pos: 0, name: ".".into(), ino: dir, d_type: dt::DIR },
        procfs::DirEntry { pos: 1, name: "..".into(), ino: *parent, d_type: dt::DIR },
    ];
    for (k, (name, ino)) in kids.iter().enumerate() {
        let mode = ns.ramfs.inode(*ino).map_or(0, |n| n.i_mode);
        all.push(procfs::DirEntry {
            pos: 2 + k as u64,
            name: (*name).clone(),
            ino: *ino,
            d_type: d_type(mode),
        });
    }
    let end = 2 + kids.len() as u64;
    all.retain(|e| e.pos >= from);
    Ok((all, end))
}

/// The entries of a disk directory from position `from`: `.`, `..`, then the directory's
/// entries in their on-disk order (`fat_readdir`), and the end position.
fn disk_readdir<A: AddressSpace>(
    ns: &Namespace<A>,
    dir: u64,
    from: u64,
) -> Result<(Vec<procfs::DirEntry>, u64), Errno> {
    let fs = ns.diskfs()?;
    let parent = match ns.parent(Node::Disk(dir)) {
        Node::Disk(p) | Node::Ram(p) => p,
        Node::Proc(_) | Node::Pipe(_) => ROOT_INO,
    };
    let kids = fs.readdir(dir)?;
    let mut all = vec![
        procfs::DirEntry { pos: 0, name: ".".into(), ino: dir, d_type: dt::DIR },
        procfs::DirEntry { pos: 1, name: "..".into(), ino: parent, d_type: dt::DIR },
    ];
    for (k, (name, ino, mode)) in kids.into_iter().enumerate() {
        all.push(procfs::DirEntry { pos: 2 + k as u64, name, ino, d_type: d_type(mode) });
    }
    let end = all.len() as u64;
    all.retain(|e| e.pos >= from);
    Ok((all, end))
}

impl<A: AddressSpace, M: UserMemory> Ctx<'_, A, M> {
    fn file(&self, fd: i32) -> Result<Arc<FileRef>, Errno> {
        self.files.get(fd).cloned()
    }

    /// The node relative paths start from: the working directory or `dirfd`'s directory.
    fn start(&self, dirfd: i32, path: &[u8]) -> Result<Node, Errno> {
        if path.first() == Some(&b'/') || dirfd == AT_FDCWD {
            return Ok(self.cwd);
        }
        let f = self.file(dirfd)?;
        let node = f.lock().node;
        if !self.ns.is_dir(node) {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }

    /// The node a `*at` call with `AT_EMPTY_PATH` and `AT_SYMLINK_NOFOLLOW` names
    /// (`user_path_at_empty`): `dirfd` itself (or the working directory) for an empty path,
    /// else the walk from [`Self::start`], following a final symlink unless `NOFOLLOW`.
    fn node_at(&mut self, dirfd: i32, path: usize, flags: u32) -> Result<Node, Errno> {
        let name = getname(self.mem, path, flags & AT_EMPTY_PATH != 0)?;
        if name.is_empty() {
            return if dirfd == AT_FDCWD {
                Ok(self.cwd)
            } else {
                Ok(self.file(dirfd)?.lock().node)
            };
        }
        let start = self.start(dirfd, &name)?;
        self.ns.walk(self.proc, start, &name, flags & AT_SYMLINK_NOFOLLOW == 0, &mut 0)
    }

    /// `openat(dirfd, path, flags, mode)`.
    pub fn openat(&mut self, dirfd: i32, path: usize, flags: u32, mode: u32) -> Result<i32, Errno> {
        let name = getname(self.mem, path, false)?;
        if flags & (o::O_PATH | o::O_TMPFILE_BIT) != 0 {
            // Not modelled (tmpfs supports both in Linux).
            return Err(Errno::EOPNOTSUPP);
        }
        if !self.files.has_free() {
            return Err(Errno::EMFILE);
        }
        let start = self.start(dirfd, &name)?;
        let proc = self.proc;
        let mut links = 0;
        let (node, created) = if flags & o::O_CREAT == 0 {
            let n = self.ns.walk(proc, start, &name, flags & o::O_NOFOLLOW == 0, &mut links)?;
            (n, false)
        } else {
            let (dir, last, slash) = self.ns.walk_parent(proc, start, &name, &mut links)?;
            match last {
                None => (dir, false),
                Some(_) if slash => return Err(Errno::EISDIR),
                Some(last) => match self.ns.child(proc, dir, &last) {
                    Ok(_) if flags & o::O_EXCL != 0 => return Err(Errno::EEXIST),
                    Ok(n) => {
                        let follow = flags & o::O_NOFOLLOW == 0;
                        match self.ns.finish(proc, dir, n, follow, false, &mut links) {
                            Ok(n) => (n, false),
                            // A dangling symlink: create its target.
                            Err(Errno::ENOENT) if self.ns.is_symlink(n) => {
                                let target = self.ns.readlink_node(proc, n)?;
                                let (d2, l2, _) = self.ns.walk_parent(
                                    proc,
                                    dir,
                                    target.as_bytes(),
                                    &mut links,
                                )?;
                                let l2 = l2.ok_or(Errno::EISDIR)?;
                                (self.create(d2, &l2, mode)?, true)
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Err(Errno::ENOENT) => (self.create(dir, &last, mode)?, true),
                    Err(e) => return Err(e),
                },
            }
        };
        let file = self.ns.open_node(node, flags, created)?;
        self.files.alloc_fd(0, Arc::new(SpinLock::new(file)), flags & O_CLOEXEC != 0)
    }

    /// `mkdirat(dirfd, path, mode)`: a directory with `mode`'s permission and sticky bits
    /// less the umask (`do_mkdirat`, `vfs_mkdir`); a trailing slash is allowed. `EEXIST` for
    /// any existing name (`/`, `.`, `..`, a dangling symlink included), `EPERM` in `/proc`
    /// (its directories have no `mkdir` operation).
    pub fn mkdirat(&mut self, dirfd: i32, path: usize, mode: u32) -> Result<(), Errno> {
        /// `S_IRWXUGO | S_ISVTX`: what `vfs_mkdir` keeps of the mode.
        const MKDIR_MODE_MASK: u32 = 0o1777;
        let name = getname(self.mem, path, false)?;
        let start = self.start(dirfd, &name)?;
        let proc = self.proc;
        let (dir, last, _) = self.ns.walk_parent(proc, start, &name, &mut 0)?;
        let Some(last) = last else { return Err(Errno::EEXIST) };
        match self.ns.child(proc, dir, &last) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let Node::Ram(d) = dir else { return Err(Errno::EPERM) };
        let path = self.ram_path(d, &last)?;
        self.ns.ramfs.mkdir(&path, mode & MKDIR_MODE_MASK & !self.umask)?;
        Ok(())
    }

    fn create(&mut self, dir: Node, name: &str, mode: u32) -> Result<Node, Errno> {
        let d = match dir {
            Node::Ram(d) => d,
            Node::Disk(_) => return Err(Errno::EROFS),
            Node::Proc(_) | Node::Pipe(_) => return Err(Errno::EACCES),
        };
        let path = self.ram_path(d, name)?;
        let ino = self.ns.ramfs.create(&path, (mode & S_IALLUGO) & !self.umask, false)?;
        Ok(Node::Ram(ino))
    }

    /// The absolute path of `name` in ramfs directory `dir` (ramfs creates by path).
    fn ram_path(&self, mut dir: Ino, name: &str) -> Result<String, Errno> {
        let mut parts = vec![String::from(name)];
        while dir != ROOT_INO {
            let Some(InodeKind::Dir { parent, .. }) = self.ns.ramfs.inode(dir).map(|n| &n.kind)
            else {
                return Err(Errno::ENOENT);
            };
            let p = *parent;
            let Some(InodeKind::Dir { entries, .. }) = self.ns.ramfs.inode(p).map(|n| &n.kind)
            else {
                return Err(Errno::ENOENT);
            };
            let n = entries.iter().find(|(_, &i)| i == dir).ok_or(Errno::ENOENT)?.0;
            parts.push(n.clone());
            dir = p;
        }
        parts.reverse();
        Ok(alloc::format!("/{}", parts.join("/")))
    }

    /// `console_on_rootfs()`: descriptors 0, 1 and 2 on one open `/dev/console` (`O_RDWR`),
    /// as the first program gets them and every program started from pivm's console
    /// inherits. `ENOENT` (Linux's "unable to open an initial console") without the node.
    pub fn console_on_rootfs(&mut self) -> Result<(), Errno> {
        let proc = self.proc;
        let node = self.ns.walk(proc, Node::Ram(ROOT_INO), b"/dev/console", true, &mut 0)?;
        let file = Arc::new(SpinLock::new(self.ns.open_node(node, o::O_RDWR, false)?));
        for _ in 0..3 {
            self.files.alloc_fd(0, file.clone(), false)?;
        }
        Ok(())
    }

    /// `close(fd)`.
    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        self.files.close(fd).map(|_| ())
    }

    /// Reads from `file` at `*pos` into a kernel buffer of at most `count` bytes: what
    /// [`Ctx::read_file`] does not read (a directory's `EISDIR`, `/proc`, devices).
    fn read_at(&mut self, f: &mut File, pos: &mut u64, count: usize) -> Result<Vec<u8>, Errno> {
        match &mut f.object {
            Object::Ram(_) | Object::Disk { .. } | Object::Blk { .. } => Err(Errno::EISDIR),
            Object::ProcDir(_) => Err(Errno::EISDIR),
            Object::Proc(seq) => {
                let mut out = Vec::new();
                seq.read(self.proc, pos, count, &mut out)?;
                Ok(out)
            }
            Object::Null => Ok(Vec::new()),
            Object::Zero => Ok(Vec::new()),
            // Read by `do_read` itself, a page at a time.
            Object::Pipe(_) => Err(Errno::ESPIPE),
            Object::Console => {
                let r = self.ns.tty.read(count);
                match r {
                    Err(Errno::EAGAIN) if f.f_flags & o::O_NONBLOCK == 0 => Err(Errno::EAGAIN),
                    r => r,
                }
            }
        }
    }

    /// `filemap_read`'s copy (and `shmem_file_read_iter`'s): `fill` reads up to a page of
    /// the file at a position into a page-sized kernel buffer (told, too, how many bytes the
    /// whole read still wants from there, its read-ahead's request), which goes to user
    /// `buf`, page after page from `*pos` for `count` bytes, as 6.1 copies each page cache
    /// page (`copy_folio_to_iter`): never a kernel buffer of the request's size, which a
    /// large read could not have when memory is short. A copy that stops short (a fault it
    /// could not resolve, or it stopped to reclaim or sleep) ends the read with the bytes the
    /// user got, `*pos` after them, `EFAULT` if none; so does a page `fill` stopped before (a
    /// page still being read, the end of the file), or its error once bytes were copied.
    fn read_paged(
        mem: &mut M,
        pos: &mut u64,
        buf: usize,
        count: usize,
        mut fill: impl FnMut(u64, &mut [u8], usize) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let mut chunk = vec![0u8; CHUNK.min(count)];
        let mut done = 0;
        while done < count {
            let n = (count - done).min(CHUNK - (*pos % CHUNK as u64) as usize);
            let got = match fill(*pos, &mut chunk[..n], count - done) {
                Ok(got) => got,
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            };
            if got == 0 {
                break;
            }
            let copied = match mem.copy_to_user(buf + done, &chunk[..got]) {
                Ok(()) => got,
                Err(e) => e.done,
            };
            done += copied;
            *pos += copied as u64;
            if copied < got {
                return if done == 0 { Err(Errno::EFAULT) } else { Ok(done) };
            }
            if got < n {
                break;
            }
        }
        Ok(done)
    }

    /// A regular file's read, [`Ctx::read_paged`] from its file system (tmpfs, the card's
    /// page cache or a block device's): `None` for every other object.
    fn read_file(
        &mut self,
        f: &mut File,
        pos: &mut u64,
        buf: usize,
        count: usize,
    ) -> Option<Result<usize, Errno>> {
        let mem = &mut *self.mem;
        let ns = &*self.ns;
        if ns.is_dir(f.node) {
            return None;
        }
        // The bytes there are from `pos` (a read-ahead request is no larger).
        let at = *pos;
        let there = |size: u64| (size.saturating_sub(at)).min(count as u64) as usize;
        Some(match &mut f.object {
            Object::Ram(i) => {
                let ino = *i;
                Self::read_paged(mem, pos, buf, count, |p, b, _| ns.ramfs.read(ino, p, b))
            }
            Object::Disk { ino, ra } => (|| {
                let fs = ns.diskfs()?;
                let count = there(fs.getattr(*ino)?.size);
                Self::read_paged(mem, pos, buf, count, |p, b, req| fs.read(*ino, p, b, req, ra))
            })(),
            Object::Blk { rdev, ino, ra } => (|| {
                let ops = ns.blkdev.as_ref().ok_or(Errno::ENXIO)?;
                let count = there(ops.size(*rdev)?);
                Self::read_paged(mem, pos, buf, count, |p, b, req| ops.read(*ino, p, b, req, ra))
            })(),
            _ => return None,
        })
    }

    /// Copies `data` to user `buf`: all of it, the prefix before a fault, or `EFAULT` if none.
    fn copy_out(&mut self, buf: usize, data: &[u8]) -> Result<usize, Errno> {
        match self.mem.copy_to_user(buf, data) {
            Ok(()) => Ok(data.len()),
            Err(f) if f.done > 0 => Ok(f.done),
            Err(_) => Err(Errno::EFAULT),
        }
    }

    fn do_read(
        &mut self,
        fd: i32,
        buf: usize,
        count: usize,
        at: Option<i64>,
    ) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        let mut f = file.lock();
        if !f.readable() {
            return Err(Errno::EBADF);
        }
        if !self.mem.access_ok(buf, count) {
            return Err(Errno::EFAULT);
        }
        let count = count.min(MAX_RW_COUNT);
        let mut pos = match at {
            Some(p) if p < 0 => return Err(Errno::EINVAL),
            Some(_) if matches!(f.object, Object::Console | Object::Pipe(_)) => {
                return Err(Errno::ESPIPE)
            }
            Some(p) => p as u64,
            None => f.f_pos,
        };
        let start = pos;
        if matches!(f.object, Object::Zero) {
            // read_zero: clear the user buffer a page at a time.
            let zeros = vec![0u8; CHUNK];
            let mut done = 0;
            while done < count {
                let n = (count - done).min(CHUNK);
                match self.mem.copy_to_user(buf + done, &zeros[..n]) {
                    Ok(()) => done += n,
                    Err(e) => {
                        done += e.done;
                        return if done == 0 { Err(Errno::EFAULT) } else { Ok(done) };
                    }
                }
            }
            return Ok(done);
        }
        if let Object::Pipe(end) = &f.object {
            // pipe_read: what is there now, a page at a time (never a kernel buffer of the
            // count); EAGAIN when empty with a writer (the kernel sleeps the reader unless
            // O_NONBLOCK), 0 at end-of-file.
            let pipe = &end.pipe;
            return Self::read_paged(self.mem, &mut 0, buf, count, |_, b, _| pipe.lock().read(b));
        }
        if let Some(r) = self.read_file(&mut f, &mut pos, buf, count) {
            let done = r?;
            if at.is_none() {
                f.f_pos = pos;
            }
            return Ok(done);
        }
        let data = self.read_at(&mut f, &mut pos, count)?;
        let done = self.copy_out(buf, &data)?;
        if at.is_none()
            && !matches!(f.object, Object::Null | Object::Zero | Object::Console | Object::Pipe(_))
        {
            // A short copy leaves the position after the bytes the user got.
            f.f_pos = if done < data.len() { start + done as u64 } else { pos };
        }
        Ok(done)
    }

    /// `read(fd, buf, count)`. The console's `EAGAIN` means "no line yet": the kernel returns
    /// it for `O_NONBLOCK` and otherwise sleeps and calls again.
    pub fn read(&mut self, fd: i32, buf: usize, count: usize) -> Result<usize, Errno> {
        self.do_read(fd, buf, count, None)
    }

    /// `pread64(fd, buf, count, pos)`: `ESPIPE` on the tty, `EINVAL` for a negative offset;
    /// the file position does not move.
    pub fn pread64(&mut self, fd: i32, buf: usize, count: usize, pos: i64) -> Result<usize, Errno> {
        self.do_read(fd, buf, count, Some(pos))
    }

    /// `write(fd, buf, count)`.
    pub fn write(&mut self, fd: i32, buf: usize, count: usize) -> Result<usize, Errno> {
        self.do_write(fd, buf, count, None)
    }

    /// `pwrite64(fd, buf, count, pos)`: `ESPIPE` on the tty and pipes, `EINVAL` for a
    /// negative offset; the file position does not move (`O_APPEND` still appends, as 6.1's
    /// `generic_write_checks` does).
    pub fn pwrite64(
        &mut self,
        fd: i32,
        buf: usize,
        count: usize,
        pos: i64,
    ) -> Result<usize, Errno> {
        self.do_write(fd, buf, count, Some(pos))
    }

    fn do_write(
        &mut self,
        fd: i32,
        buf: usize,
        count: usize,
        at: Option<i64>,
    ) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        let mut f = file.lock();
        if !f.writable() {
            return Err(Errno::EBADF);
        }
        match at {
            Some(_) if matches!(f.object, Object::Console | Object::Pipe(_)) => {
                return Err(Errno::ESPIPE)
            }
            Some(p) if p < 0 => return Err(Errno::EINVAL),
            _ => {}
        }
        let mut pos = at.map_or(f.f_pos, |p| p as u64);
        if !self.mem.access_ok(buf, count) {
            return Err(Errno::EFAULT);
        }
        let count = count.min(MAX_RW_COUNT);
        if matches!(f.object, Object::Null | Object::Zero) {
            return Ok(count);
        }
        if let Object::Pipe(end) = &f.object {
            return self.pipe_write(&end.pipe, buf, count);
        }
        match f.node {
            // A `proc_ops` file without `proc_write` (pde_write), as every `/proc` root file
            // pivm has: the write reaches procfs, which refuses it.
            Node::Proc(ProcNode::File(procfs::ProcFile::Root(_))) => return Err(Errno::EIO),
            // proc_sys_call_handler (or debugfs's simple_attr_write): the value to the
            // handler, which reports what it consumed or refuses it.
            Node::Proc(ProcNode::File(procfs::ProcFile::Sysctl(s))) => {
                let mut data = vec![0u8; count.min(CHUNK)];
                if self.mem.copy_from_user(&mut data, buf).is_err() {
                    return Err(Errno::EFAULT);
                }
                // sysctl_writes_strict: a sysctl written past its start is left alone.
                if f.f_pos != 0 && crate::proc::sysctl::info(s).sysctl.is_some() {
                    f.f_pos += count as u64;
                    return Ok(count);
                }
                let used = self.proc.sysctl_write(s, &data)?;
                if crate::proc::sysctl::info(s).sysctl.is_some() {
                    f.f_pos += used as u64;
                }
                return Ok(used);
            }
            // sysfs_kf_write: the bytes to the attribute's `->store`, the position moved by
            // what it took.
            Node::Proc(ProcNode::File(procfs::ProcFile::Slab(c, a))) => {
                let mut data = vec![0u8; count.min(CHUNK)];
                if self.mem.copy_from_user(&mut data, buf).is_err() {
                    return Err(Errno::EFAULT);
                }
                let used = procfs::slab_store(self.proc, c, a, &data)?;
                f.f_pos += used as u64;
                return Ok(used);
            }
            // `/proc/PID` files have no `write` at all (`FMODE_CAN_WRITE` clear).
            Node::Proc(_) => return Err(Errno::EINVAL),
            // Never open for writing (EROFS at open).
            Node::Disk(_) => return Err(Errno::EBADF),
            Node::Pipe(_) => return Err(Errno::EINVAL),
            Node::Ram(_) => {}
        }
        // Copy in a page at a time, as the page cache and the tty do; a fault ends the write
        // short, or with EFAULT if nothing was written.
        let mut done = 0;
        let mut data = vec![0u8; CHUNK];
        while done < count {
            let n = (count - done).min(CHUNK);
            let got = match self.mem.copy_from_user(&mut data[..n], buf + done) {
                Ok(()) => n,
                Err(e) => e.done,
            };
            if got > 0 {
                match f.object {
                    Object::Console => {
                        self.ns.tty.write(&data[..got]);
                    }
                    Object::Ram(i) => {
                        if f.f_flags & o::O_APPEND != 0 {
                            pos = self.ns.ramfs.stat(i)?.st_size;
                        }
                        // A page the file could not have now (one in swap whose read the
                        // task sleeps on, no memory) ends the write short before it: the
                        // bytes written so far are the result, and the caller goes on from
                        // there after the wait.
                        let wrote = match self.ns.ramfs.write(i, pos, &data[..got]) {
                            Ok(w) => w,
                            Err(_) if done > 0 => return Ok(done),
                            Err(e) => return Err(e),
                        };
                        pos += wrote as u64;
                        if at.is_none() {
                            f.f_pos = pos;
                        }
                        if wrote < got {
                            return Ok(done + wrote);
                        }
                    }
                    _ => return Err(Errno::EINVAL),
                }
            }
            done += got;
            if got < n {
                return if done == 0 { Err(Errno::EFAULT) } else { Ok(done) };
            }
        }
        Ok(done)
    }

    /// `readv(fd, iov, iovcnt)`: segment by segment, stopping at the first short one. `skip`
    /// is what an earlier call of the same `readv` already read (it stopped short to sleep
    /// for the card): the reading goes on from there in the iovec.
    pub fn readv(
        &mut self,
        fd: i32,
        iov: usize,
        iovcnt: usize,
        skip: usize,
    ) -> Result<usize, Errno> {
        self.file(fd)?;
        self.vectored(iov, iovcnt, skip, |vfs, base, len| vfs.read(fd, base, len))
    }

    /// `writev(fd, iov, iovcnt)`; `skip` as [`Ctx::readv`]'s (an earlier call of the same
    /// `writev` stopped short to sleep for a page of the iovec's).
    pub fn writev(
        &mut self,
        fd: i32,
        iov: usize,
        iovcnt: usize,
        skip: usize,
    ) -> Result<usize, Errno> {
        let f = self.file(fd)?;
        if !f.lock().writable() {
            return Err(Errno::EBADF);
        }
        self.vectored(iov, iovcnt, skip, |vfs, base, len| vfs.write(fd, base, len))
    }

    /// One transfer per segment of a user iovec after its first `skip` bytes, stopping at the
    /// first short one; an error is returned only when nothing moved (as
    /// `do_loop_readv_writev`).
    fn vectored(
        &mut self,
        iov: usize,
        iovcnt: usize,
        skip: usize,
        mut op: impl FnMut(&mut Self, usize, usize) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let segs = import_iovec(self.mem, iov, iovcnt)?;
        let mut total = 0;
        let mut skip = skip;
        for mut s in segs {
            let past = skip.min(s.len);
            skip -= past;
            s.base += past;
            s.len -= past;
            if past > 0 && s.len == 0 {
                continue;
            }
            match op(self, s.base, s.len) {
                Ok(n) => {
                    total += n;
                    if n < s.len {
                        break;
                    }
                }
                Err(e) if total == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(total)
    }

    /// `vfs_llseek`: the new position, by the file's own `llseek`.
    pub fn llseek(&mut self, fd: i32, offset: i64, whence: u32) -> Result<u64, Errno> {
        let file = self.file(fd)?;
        let mut f = file.lock();
        if whence > procfs::SEEK_HOLE {
            return Err(Errno::EINVAL);
        }
        let f = &mut *f;
        let generic = |pos: u64, eof: u64| -> Result<u64, Errno> {
            let target = match whence {
                procfs::SEEK_SET => offset,
                procfs::SEEK_CUR => (pos as i64).checked_add(offset).ok_or(Errno::EINVAL)?,
                procfs::SEEK_END => (eof as i64).checked_add(offset).ok_or(Errno::EINVAL)?,
                procfs::SEEK_DATA if (offset as u64) < eof => offset,
                procfs::SEEK_HOLE if (offset as u64) < eof => eof as i64,
                _ => return Err(Errno::ENXIO),
            };
            if !(0..=MAX_LFS_FILESIZE).contains(&target) {
                return Err(Errno::EINVAL);
            }
            Ok(target as u64)
        };
        let new = match &mut f.object {
            Object::Console | Object::Pipe(_) => return Err(Errno::ESPIPE),
            Object::Null | Object::Zero => 0,
            Object::Proc(seq) => return seq.lseek(self.proc, &mut f.f_pos, offset, whence),
            Object::Ram(i) if self.ns.is_dir(f.node) => {
                // dcache_dir_lseek: SEEK_SET and SEEK_CUR only.
                let _ = i;
                let t = match whence {
                    procfs::SEEK_SET => offset,
                    procfs::SEEK_CUR => {
                        (f.f_pos as i64).checked_add(offset).ok_or(Errno::EINVAL)?
                    }
                    _ => return Err(Errno::EINVAL),
                };
                if t < 0 {
                    return Err(Errno::EINVAL);
                }
                t as u64
            }
            Object::Ram(i) => generic(f.f_pos, self.ns.ramfs.stat(*i)?.st_size)?,
            Object::ProcDir(_) => generic(f.f_pos, 0)?,
            Object::Disk { ino, .. } => generic(f.f_pos, self.ns.diskfs()?.getattr(*ino)?.size)?,
            // blkdev_llseek: fixed_size_llseek over the device's size.
            Object::Blk { rdev, .. } => {
                let size = self.ns.blkdev.as_ref().ok_or(Errno::ENXIO)?.size(*rdev)?;
                generic(f.f_pos, size)?
            }
        };
        f.f_pos = new;
        Ok(new)
    }

    /// `lseek(fd, offset, whence)` with the ABI's `off_t`, a `long` (`i32` on ARM, `i64` on
    /// arm64): `EOVERFLOW` when the new position does not fit (the position has moved all the
    /// same, as in Linux).
    pub fn lseek<Off>(&mut self, fd: i32, offset: Off, whence: u32) -> Result<Off, Errno>
    where
        Off: Into<i64> + TryFrom<u64>,
    {
        let r = self.llseek(fd, offset.into(), whence)?;
        Off::try_from(r).map_err(|_| Errno::EOVERFLOW)
    }

    /// `_llseek(fd, high, low, result, whence)`: the 64-bit position written to `result`.
    pub fn _llseek(
        &mut self,
        fd: i32,
        high: u32,
        low: u32,
        result: usize,
        whence: u32,
    ) -> Result<(), Errno> {
        let off = ((high as u64) << 32 | low as u64) as i64;
        let r = self.llseek(fd, off, whence)?;
        put_user(self.mem, result, &r)
    }

    /// `getdents64(fd, dirp, count)`.
    pub fn getdents64(&mut self, fd: i32, dirp: usize, count: usize) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        let mut f = file.lock();
        if !self.mem.access_ok(dirp, count) {
            return Err(Errno::EFAULT);
        }
        let (entries, end) = match f.object {
            Object::Ram(i) if self.ns.is_dir(f.node) => ram_readdir(self.ns, i, f.f_pos)?,
            Object::ProcDir(p) => {
                let parent = match self.ns.proc_mount.map(|m| self.ns.parent(Node::Ram(m))) {
                    Some(Node::Ram(i)) => i,
                    _ => ROOT_INO,
                };
                procfs::readdir(self.proc, p, parent, f.f_pos)?
            }
            Object::Disk { ino, .. } if self.ns.is_dir(f.node) => {
                disk_readdir(self.ns, ino, f.f_pos)?
            }
            _ => return Err(Errno::ENOTDIR),
        };
        let mut out = Vec::new();
        let mut next = end;
        let mut ends = Vec::new();
        for (k, e) in entries.iter().enumerate() {
            if out.len() + dirent64_reclen(e.name.len()) > count {
                next = e.pos;
                break;
            }
            let d_off = entries.get(k + 1).map_or(end, |n| n.pos);
            encode_dirent64(&mut out, e.ino, d_off as i64, e.d_type, e.name.as_bytes());
            ends.push((out.len(), d_off));
        }
        if out.is_empty() && !entries.is_empty() {
            return Err(Errno::EINVAL);
        }
        match self.mem.copy_to_user(dirp, &out) {
            Ok(()) => {
                f.f_pos = next;
                Ok(out.len())
            }
            Err(fault) => {
                // Keep the whole records that reached the user.
                let kept = ends.iter().take_while(|(e, _)| *e <= fault.done).last();
                match kept {
                    Some(&(len, d_off)) => {
                        f.f_pos = d_off;
                        Ok(len)
                    }
                    None => Err(Errno::EFAULT),
                }
            }
        }
    }

    fn node_stat(&mut self, dirfd: i32, path: usize, flags: u32) -> Result<Kstat, Errno> {
        let proc = self.proc;
        let node = self.node_at(dirfd, path, flags)?;
        let mut st = self.ns.stat(proc, node)?;
        // vfs_statx: the root of a mount says so.
        let disk_root = self.ns.disk.as_ref().map(|d| Node::Disk(d.fs.root()));
        if matches!(node, Node::Ram(ROOT_INO) | Node::Proc(ProcNode::Root))
            || Some(node) == disk_root
        {
            st.attributes |= statx_attr::MOUNT_ROOT;
        }
        Ok(st)
    }

    /// `fstat64(fd, statbuf)`.
    pub fn fstat64(&mut self, fd: i32, statbuf: usize) -> Result<(), Errno> {
        let node = self.file(fd)?.lock().node;
        let st = self.ns.stat(self.proc, node)?;
        put_user(self.mem, statbuf, &native_stat(&st))
    }

    /// `fstatat64(dirfd, path, statbuf, flags)`: `EINVAL` for flags beyond
    /// `AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH`.
    pub fn fstatat64(
        &mut self,
        dirfd: i32,
        path: usize,
        statbuf: usize,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let st = self.node_stat(dirfd, path, flags)?;
        put_user(self.mem, statbuf, &native_stat(&st))
    }

    /// `statx(dirfd, path, flags, mask, buf)`.
    pub fn statx(
        &mut self,
        dirfd: i32,
        path: usize,
        flags: u32,
        mask: u32,
        buf: usize,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)
            != 0
            || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
            || mask & statx_mask::RESERVED != 0
        {
            return Err(Errno::EINVAL);
        }
        let st = self.node_stat(dirfd, path, flags)?;
        put_user(self.mem, buf, &st.to_statx())
    }

    /// `readlinkat(dirfd, path, buf, bufsiz)`: `EINVAL` for `bufsiz <= 0` or a path that is not
    /// a symlink; the target is not NUL-terminated and is cut at `bufsiz`.
    pub fn readlinkat(
        &mut self,
        dirfd: i32,
        path: usize,
        buf: usize,
        bufsiz: i32,
    ) -> Result<usize, Errno> {
        if bufsiz <= 0 {
            return Err(Errno::EINVAL);
        }
        let name = getname(self.mem, path, false)?;
        let start = self.start(dirfd, &name)?;
        let proc = self.proc;
        let node = self.ns.walk(proc, start, &name, false, &mut 0)?;
        if !self.ns.is_symlink(node) {
            return Err(Errno::EINVAL);
        }
        let target = self.ns.readlink_node(proc, node)?;
        let n = target.len().min(bufsiz as usize);
        self.mem.copy_to_user(buf, &target.as_bytes()[..n]).map_err(|_| Errno::EFAULT)?;
        Ok(n)
    }

    /// `ioctl(fd, cmd, arg)`: the descriptor-level `FIOCLEX`/`FIONCLEX`, `FIONREAD` on a
    /// regular file, and the console's `TCGETS`/`TCSETS*`/`TIOCGWINSZ`; anything else is
    /// `ENOTTY` ("Inappropriate ioctl for device"), which is also what a file that is not a
    /// terminal answers to `TCGETS`.
    pub fn ioctl(&mut self, fd: i32, cmd: u32, arg: usize) -> Result<u32, Errno> {
        let file = self.file(fd)?;
        match cmd {
            FIOCLEX => return self.files.set_cloexec(fd, true).map(|_| 0),
            FIONCLEX => return self.files.set_cloexec(fd, false).map(|_| 0),
            _ => {}
        }
        let f = file.lock();
        match (&f.object, cmd) {
            (Object::Ram(i), FIONREAD) if !self.ns.is_dir(f.node) => {
                let left = self.ns.ramfs.stat(*i)?.st_size.saturating_sub(f.f_pos);
                put_user(self.mem, arg, &(left.min(i32::MAX as u64) as i32)).map(|_| 0)
            }
            (Object::Disk { ino, .. }, FIONREAD) if !self.ns.is_dir(f.node) => {
                let left = self.ns.diskfs()?.getattr(*ino)?.size.saturating_sub(f.f_pos);
                put_user(self.mem, arg, &(left.min(i32::MAX as u64) as i32)).map(|_| 0)
            }
            (Object::Blk { rdev, .. }, _) => {
                let ops = self.ns.blkdev.as_deref().ok_or(Errno::ENXIO)?;
                crate::fs::blkdev::ioctl(ops, self.mem, *rdev, cmd, arg)
            }
            (Object::Pipe(end), FIONREAD) => {
                let n = end.pipe.lock().len() as i32;
                put_user(self.mem, arg, &n).map(|_| 0)
            }
            (Object::Console, ioctl::TCGETS) => {
                put_user(self.mem, arg, &self.ns.tty.termios).map(|_| 0)
            }
            (Object::Console, ioctl::TCSETS | ioctl::TCSETSW | ioctl::TCSETSF) => {
                self.ns.tty.termios = get_user::<Termios>(self.mem, arg)?;
                Ok(0)
            }
            (Object::Console, ioctl::TIOCGWINSZ) => {
                // A serial line has no size: rows and columns 0.
                put_user(self.mem, arg, &[0u16; 4]).map(|_| 0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    /// `fcntl64(fd, cmd, arg)` for the descriptor and status-flag commands; `EINVAL` for others.
    pub fn fcntl64(&mut self, fd: i32, cmd: u32, arg: u32) -> Result<u32, Errno> {
        let file = self.file(fd)?;
        match cmd {
            F_DUPFD => self.files.dupfd(fd, arg, false).map(|n| n as u32),
            F_DUPFD_CLOEXEC => self.files.dupfd(fd, arg, true).map(|n| n as u32),
            F_GETFD => self.files.cloexec(fd).map(u32::from),
            F_SETFD => self.files.set_cloexec(fd, arg & 1 != 0).map(|_| 0),
            F_GETFL => Ok(file.lock().f_flags),
            F_SETFL => {
                let mut f = file.lock();
                f.f_flags = (f.f_flags & !o::SETFL_MASK) | (arg & o::SETFL_MASK);
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    }
}

mod namei;
mod pipefile;

#[cfg(test)]
mod tests;
