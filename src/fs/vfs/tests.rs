//! The file system calls against a small tree, each error path with the errno 6.1 returns,
//! and proptests of positions, short reads and directory listing against simple models.
use super::*;
use crate::abi::native::termbits::cc;
use crate::abi::uaccess::SparseUserMemory;
use crate::abi::wire::Wire;
use crate::fs::procfs::{ProcFile, RootFile, SeqBuf};
use crate::fs::ramfs::BTreeAddressSpace;
use core::fmt::Write;
use proptest::prelude::*;

/// `TASK_SIZE` of the model user space.
const TASK: usize = 0xbf00_0000;
/// Where path arguments are placed (one writable page).
const PATH: usize = 0x1000;
/// A writable 64 KiB buffer.
const BUF: usize = 0x10000;
const BUF_LEN: usize = 0x10000;
/// A read-only page.
const RO: usize = 0x40000;
/// Mapped nowhere (but below `TASK_SIZE`).
const HOLE: usize = 0x80000;
const HELLO: &[u8] = b"hello world\n";

/// A kernel stand-in for `/proc`: process 1 is the reader; meminfo has `lines` lines.
struct Src {
    lines: usize,
    /// `vm.swappiness` as this kernel stand-in keeps it (its handler: `proc_dointvec_minmax`
    /// 0..=200).
    swappiness: core::cell::Cell<i32>,
    /// `kmem_cache_shrink` calls of each slab slot.
    shrinks: core::cell::RefCell<Vec<u8>>,
}

/// The stand-in's slab caches: slot and name.
const CACHES: [(u8, &str); 2] = [(3, "kmalloc-512"), (5, "kmalloc-64")];

impl ProcSource for Src {
    fn tgids(&self) -> Vec<u32> {
        vec![1, 7]
    }
    fn current_tgid(&self) -> Option<u32> {
        Some(1)
    }
    fn exe_path(&self, tgid: u32) -> Option<String> {
        (tgid == 1).then(|| "/init".into())
    }
    fn render(&self, file: ProcFile, out: &mut SeqBuf) -> Result<(), Errno> {
        match file {
            ProcFile::Root(RootFile::Meminfo) => {
                for i in 0..self.lines {
                    writeln!(out, "Line{i:05}: {:8} kB", i * 4).unwrap();
                }
            }
            ProcFile::Sysctl(crate::proc::sysctl::Knob::Swappiness) => {
                writeln!(out, "{}", self.swappiness.get()).unwrap()
            }
            // shrink_show: nothing.
            ProcFile::Slab(_, crate::fs::procfs::SlabAttr::Shrink) => {}
            _ => writeln!(out, "other").unwrap(),
        }
        Ok(())
    }
    fn sysctl_write(&self, file: crate::fs::procfs::Sysctl, value: &[u8]) -> Result<usize, Errno> {
        match file {
            crate::proc::sysctl::Knob::Swappiness => {
                let (v, used) =
                    crate::proc::sysctl::proc_dointvec_minmax(value, Some(0), Some(200))?;
                self.swappiness.set(v);
                Ok(used)
            }
            _ => Err(Errno::EINVAL),
        }
    }
    fn slab_caches(&self) -> Vec<(u8, &'static str)> {
        CACHES.to_vec()
    }
    fn slab_shrink(&self, slot: u8) -> Result<(), Errno> {
        self.shrinks.borrow_mut().push(slot);
        Ok(())
    }
}

/// Directory entries (name, d_type, d_off) and the byte count of each `getdents64` call.
type Listing = (Vec<(String, u8, i64)>, Vec<usize>);

/// One process's world: the namespace, its memory, its descriptors.
struct World {
    ns: Namespace<BTreeAddressSpace>,
    mem: SparseUserMemory,
    files: FdTable<FileRef>,
    src: Src,
    cwd: Node,
}

fn world() -> World {
    let mut fs: Ramfs = Ramfs::new();
    for d in ["/proc", "/dev", "/tmp", "/etc"] {
        fs.mkdir(d, 0o755).unwrap();
    }
    let h = fs.create("/etc/hello", 0o644, false).unwrap();
    fs.write(h, 0, HELLO).unwrap();
    fs.symlink("hello", "/etc/link").unwrap();
    fs.symlink("/nowhere/x", "/etc/broken").unwrap();
    fs.symlink("newfile", "/tmp/dangling").unwrap();
    fs.symlink("loop", "/tmp/loop").unwrap();
    let mut mem = SparseUserMemory::new(TASK);
    mem.map(PATH, 0x1000, true);
    mem.map(BUF, BUF_LEN, true);
    mem.map(RO, 0x1000, false);
    let ns = Namespace::new(fs, Termios::serial_console(38400).unwrap());
    World {
        ns,
        mem,
        files: FdTable::new(),
        src: Src {
            lines: 500,
            swappiness: core::cell::Cell::new(60),
            shrinks: core::cell::RefCell::new(Vec::new()),
        },
        cwd: Node::Ram(ROOT_INO),
    }
}

impl World {
    fn ctx(&mut self) -> Ctx<'_, BTreeAddressSpace, SparseUserMemory> {
        Ctx {
            ns: &mut self.ns,
            proc: &self.src,
            mem: &mut self.mem,
            files: &mut self.files,
            cwd: self.cwd,
            umask: DEFAULT_UMASK,
        }
    }

    /// Places `p` NUL-terminated at [`PATH`].
    fn path(&mut self, p: &str) -> usize {
        self.mem.poke(PATH, p.as_bytes());
        self.mem.poke(PATH + p.len(), &[0]);
        PATH
    }

    fn open(&mut self, p: &str, flags: u32) -> Result<i32, Errno> {
        self.openat(AT_FDCWD, p, flags)
    }

    fn openat(&mut self, dirfd: i32, p: &str, flags: u32) -> Result<i32, Errno> {
        let a = self.path(p);
        self.ctx().openat(dirfd, a, flags, 0o666)
    }

    /// `read` into [`BUF`], returning the bytes.
    fn read(&mut self, fd: i32, n: usize) -> Result<Vec<u8>, Errno> {
        let got = self.ctx().read(fd, BUF, n)?;
        Ok(self.mem.peek(BUF, got))
    }

    fn write(&mut self, fd: i32, data: &[u8]) -> Result<usize, Errno> {
        self.mem.poke(BUF, data);
        self.ctx().write(fd, BUF, data.len())
    }

    fn stat(&mut self, fd: i32) -> Stat64 {
        self.ctx().fstat64(fd, BUF).unwrap();
        Stat64::get(&self.mem.peek(BUF, Stat64::SIZE))
    }

    /// Every entry `getdents64` returns with a `count`-byte buffer, call after call:
    /// (name, d_type, d_off), and the sizes each call returned.
    fn list(&mut self, fd: i32, count: usize) -> Result<Listing, Errno> {
        let (mut all, mut sizes) = (Vec::new(), Vec::new());
        loop {
            let n = self.ctx().getdents64(fd, BUF, count)?;
            sizes.push(n);
            if n == 0 {
                return Ok((all, sizes));
            }
            let b = self.mem.peek(BUF, n);
            let mut at = 0;
            while at < n {
                let off = i64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap());
                let reclen = u16::from_le_bytes([b[at + 16], b[at + 17]]) as usize;
                let name_end = b[at + 19..at + reclen].iter().position(|&c| c == 0).unwrap();
                let name = String::from_utf8(b[at + 19..at + 19 + name_end].to_vec()).unwrap();
                all.push((name, b[at + 18], off));
                at += reclen;
            }
            assert_eq!(at, n, "whole records only");
        }
    }

    fn names(&mut self, dir: &str) -> Vec<String> {
        let fd = self.open(dir, o::O_RDONLY | o::O_DIRECTORY).unwrap();
        let (l, _) = self.list(fd, 4096).unwrap();
        self.ctx().close(fd).unwrap();
        l.into_iter().map(|e| e.0).collect()
    }
}

#[test]
fn open_read_positions_and_seeks() {
    let mut w = world();
    let fd = w.open("/etc/hello", o::O_RDONLY).unwrap();
    assert_eq!(fd, 0, "the lowest free descriptor");
    assert_eq!(w.read(fd, 5).unwrap(), b"hello");
    assert_eq!(w.read(fd, 100).unwrap(), b" world\n", "a short read at the end");
    assert_eq!(w.read(fd, 100).unwrap(), b"", "a read past the end is 0");
    assert_eq!(w.ctx().lseek(fd, 0i32, procfs::SEEK_SET), Ok(0));
    assert_eq!(w.ctx().lseek(fd, -1i32, procfs::SEEK_END), Ok(11));
    assert_eq!(w.read(fd, 100).unwrap(), b"\n");
    assert_eq!(w.ctx().lseek(fd, -20, procfs::SEEK_CUR), Err(Errno::EINVAL));
    assert_eq!(w.ctx().lseek(fd, 0, 5), Err(Errno::EINVAL));
    assert_eq!(w.ctx().lseek(fd, 0i32, procfs::SEEK_CUR), Ok(12), "a failed seek moves nothing");
    // arm64's 64-bit off_t reaches past 2 GiB; ARM's 32-bit one overflows there (and moves).
    assert_eq!(w.ctx().lseek(fd, 3i64 << 31, procfs::SEEK_SET), Ok(3i64 << 31));
    assert_eq!(w.ctx().lseek(fd, 0i64, procfs::SEEK_SET), Ok(0));
    assert_eq!(w.ctx().lseek(fd, i32::MAX, procfs::SEEK_SET), Ok(i32::MAX));
    assert_eq!(w.ctx().lseek(fd, 1i32, procfs::SEEK_CUR), Err(Errno::EOVERFLOW));
    assert_eq!(w.ctx().lseek(fd, 0i64, procfs::SEEK_CUR), Ok(1i64 << 31), "moved all the same");
    assert_eq!(w.ctx().lseek(fd, 20, procfs::SEEK_DATA), Err(Errno::ENXIO));
    assert_eq!(w.ctx().lseek(fd, 3, procfs::SEEK_HOLE), Ok(12));
    // pread64 leaves the position alone.
    assert_eq!(w.ctx().pread64(fd, BUF, 5, 6), Ok(5));
    assert_eq!(w.mem.peek(BUF, 5), b"world");
    assert_eq!(w.ctx().pread64(fd, BUF, 5, -1), Err(Errno::EINVAL));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(12));
    // _llseek past 4 GiB: the 64-bit result, and lseek's off_t then overflows.
    assert_eq!(w.ctx()._llseek(fd, 1, 5, BUF, procfs::SEEK_SET), Ok(()));
    assert_eq!(u64::get(&w.mem.peek(BUF, 8)), (1 << 32) + 5);
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Err(Errno::EOVERFLOW));
    // A bad result pointer is EFAULT after the seek has happened, as in 6.1.
    assert_eq!(w.ctx()._llseek(fd, 0, 0, HOLE, procfs::SEEK_SET), Err(Errno::EFAULT));
    assert_eq!(w.read(fd, 10).unwrap(), b"hello worl");
    // A relative path from the working directory and from a directory descriptor.
    let etc = w.open("/etc", o::O_RDONLY | o::O_DIRECTORY).unwrap();
    let a = w.openat(AT_FDCWD, "etc/./../etc/hello", o::O_RDONLY).unwrap();
    let b = w.openat(etc, "link", o::O_RDONLY).unwrap();
    assert_eq!(w.read(a, 5).unwrap(), b"hello");
    assert_eq!(w.read(b, 5).unwrap(), b"hello", "the symlink followed");
    assert_eq!(w.openat(fd, "x", o::O_RDONLY), Err(Errno::ENOTDIR), "dirfd not a directory");
    assert_eq!(w.openat(77, "x", o::O_RDONLY), Err(Errno::EBADF));
    assert!(w.openat(77, "/etc/hello", o::O_RDONLY).is_ok(), "an absolute path ignores dirfd");
}

#[test]
fn every_error_path_leaves_the_table_alone() {
    let mut w = world();
    let file = w.open("/etc/hello", o::O_RDONLY).unwrap();
    let wr = w.open("/tmp/w", o::O_WRONLY | o::O_CREAT).unwrap();
    let dir = w.open("/etc", o::O_RDONLY).unwrap();
    let before: Vec<i32> = w.files.open_fds().collect();
    let long_name = "n".repeat(256);
    let long_path = "a/".repeat(2048);
    let cases: &[(&str, u32, Errno)] = &[
        ("/etc/nothing", o::O_RDONLY, Errno::ENOENT),
        ("/nowhere/x", o::O_RDONLY, Errno::ENOENT),
        ("", o::O_RDONLY, Errno::ENOENT),
        ("/etc/hello/x", o::O_RDONLY, Errno::ENOTDIR),
        ("/etc/hello/", o::O_RDONLY, Errno::ENOTDIR),
        ("/etc/hello", o::O_RDONLY | o::O_DIRECTORY, Errno::ENOTDIR),
        ("/etc", o::O_WRONLY, Errno::EISDIR),
        ("/etc", o::O_RDWR, Errno::EISDIR),
        ("/etc", o::O_RDONLY | o::O_CREAT, Errno::EISDIR),
        ("/tmp/new/", o::O_RDWR | o::O_CREAT, Errno::EISDIR),
        ("/etc/hello", o::O_RDWR | o::O_CREAT | o::O_EXCL, Errno::EEXIST),
        ("/etc/link", o::O_RDWR | o::O_CREAT | o::O_EXCL, Errno::EEXIST),
        ("/etc/link", o::O_RDONLY | o::O_NOFOLLOW, Errno::ELOOP),
        ("/tmp/loop", o::O_RDONLY, Errno::ELOOP),
        ("/tmp/loop/x", o::O_RDONLY, Errno::ELOOP),
        ("/etc/broken", o::O_RDONLY, Errno::ENOENT),
        (long_name.as_str(), o::O_RDONLY, Errno::ENAMETOOLONG),
        (long_path.as_str(), o::O_RDONLY, Errno::ENAMETOOLONG),
        ("/proc/nothing", o::O_RDONLY, Errno::ENOENT),
        ("/proc/99/maps", o::O_RDONLY, Errno::ENOENT),
        ("/proc/meminfo/x", o::O_RDONLY, Errno::ENOTDIR),
    ];
    for &(p, flags, e) in cases {
        if p.len() >= 0x1000 {
            // Longer than the path page: no NUL within PATH_MAX readable bytes.
            let mut big = SparseUserMemory::new(TASK);
            big.map(PATH, 0x2000, true);
            big.poke(PATH, &p.as_bytes()[..0x1000]);
            core::mem::swap(&mut w.mem, &mut big);
            assert_eq!(w.ctx().openat(AT_FDCWD, PATH, flags, 0o666), Err(e), "{p:.20}...");
            core::mem::swap(&mut w.mem, &mut big);
        } else {
            assert_eq!(w.open(p, flags), Err(e), "{p:?} {flags:#o}");
        }
    }
    assert_eq!(w.ctx().openat(AT_FDCWD, HOLE, o::O_RDONLY, 0), Err(Errno::EFAULT));
    assert_eq!(w.ctx().openat(AT_FDCWD, TASK, o::O_RDONLY, 0), Err(Errno::EFAULT));
    // Reads and writes.
    assert_eq!(w.ctx().read(file, HOLE, 4), Err(Errno::EFAULT));
    assert_eq!(w.ctx().read(file, RO, 4), Err(Errno::EFAULT), "read-only buffer");
    assert_eq!(w.ctx().read(file, TASK - 2, 4), Err(Errno::EFAULT), "access_ok");
    assert_eq!(w.ctx().write(wr, HOLE, 4), Err(Errno::EFAULT));
    assert_eq!(w.ctx().read(wr, BUF, 4), Err(Errno::EBADF), "write-only");
    assert_eq!(w.ctx().write(file, BUF, 4), Err(Errno::EBADF), "read-only");
    assert_eq!(w.ctx().read(dir, BUF, 4), Err(Errno::EISDIR));
    assert_eq!(w.ctx().read(40, BUF, 4), Err(Errno::EBADF));
    assert_eq!(w.ctx().read(-1, BUF, 4), Err(Errno::EBADF));
    assert_eq!(w.ctx().getdents64(file, BUF, 4096), Err(Errno::ENOTDIR));
    assert_eq!(w.ctx().getdents64(dir, BUF, 10), Err(Errno::EINVAL), "no room for one record");
    assert_eq!(w.ctx().getdents64(dir, HOLE, 4096), Err(Errno::EFAULT));
    assert_eq!(w.ctx().fstat64(40, BUF), Err(Errno::EBADF));
    assert_eq!(w.ctx().fstat64(file, RO), Err(Errno::EFAULT));
    let p = w.path("/etc/hello");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF, 100), Err(Errno::EINVAL), "not a symlink");
    let p = w.path("/etc/link");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF, 0), Err(Errno::EINVAL));
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, HOLE, 10), Err(Errno::EFAULT));
    assert_eq!(w.ctx().fstatat64(AT_FDCWD, p, BUF, 0x8000), Err(Errno::EINVAL));
    assert_eq!(w.ctx().statx(AT_FDCWD, p, AT_STATX_SYNC_TYPE, 0, BUF), Err(Errno::EINVAL));
    assert_eq!(w.ctx().statx(AT_FDCWD, p, 0, statx_mask::RESERVED, BUF), Err(Errno::EINVAL));
    assert_eq!(w.ctx().ioctl(file, ioctl::TCGETS, BUF), Err(Errno::ENOTTY), "not a terminal");
    assert_eq!(w.ctx().fcntl64(file, 999, 0), Err(Errno::EINVAL));
    assert_eq!(w.ctx().close(40), Err(Errno::EBADF));
    assert_eq!(w.files.open_fds().collect::<Vec<_>>(), before);
    assert_eq!(w.names("/tmp"), [".", "..", "w", "loop", "dangling"], "nothing created");
    // The table full: EMFILE before the path is looked at.
    w.files.nofile = 3;
    assert_eq!(w.open("/nothing", o::O_RDONLY), Err(Errno::EMFILE));
    assert_eq!(w.ctx().fcntl64(file, F_DUPFD, 0), Err(Errno::EMFILE));
}

#[test]
fn mkdir_applies_the_umask_and_linux_errors() {
    let mut w = world();
    let mkdir = |w: &mut World, dirfd: i32, p: &str, mode: u32| {
        let a = w.path(p);
        w.ctx().mkdirat(dirfd, a, mode)
    };
    // 0777 under the 022 umask; setuid/setgid dropped, the sticky bit kept (vfs_mkdir).
    assert_eq!(mkdir(&mut w, AT_FDCWD, "/tmp/d", 0o7777), Ok(()));
    let fd = w.open("/tmp/d", o::O_RDONLY | o::O_DIRECTORY).unwrap();
    assert_eq!(w.stat(fd).st_mode, S_IFDIR | 0o1755);
    assert_eq!(w.stat(fd).st_nlink, 2);
    // Relative to a directory descriptor, with a trailing slash.
    assert_eq!(mkdir(&mut w, fd, "sub/", 0o700), Ok(()));
    assert!(w.names("/tmp/d").contains(&"sub".to_string()));
    assert_eq!(mkdir(&mut w, fd, "sub", 0o700), Err(Errno::EEXIST));
    for (p, e) in [
        ("/tmp", Errno::EEXIST),
        ("/", Errno::EEXIST),
        ("/tmp/.", Errno::EEXIST),
        ("/etc/hello", Errno::EEXIST),
        ("/etc/broken", Errno::EEXIST),
        ("/nowhere/x", Errno::ENOENT),
        ("/etc/hello/x", Errno::ENOTDIR),
        ("/proc/x", Errno::EPERM),
        ("", Errno::ENOENT),
    ] {
        assert_eq!(mkdir(&mut w, AT_FDCWD, p, 0o755), Err(e), "{p:?}");
    }
    let long = "x".repeat(256);
    assert_eq!(mkdir(&mut w, AT_FDCWD, &format!("/tmp/{long}"), 0o755), Err(Errno::ENAMETOOLONG));
    assert_eq!(w.ctx().mkdirat(AT_FDCWD, 0, 0o755), Err(Errno::EFAULT));
    assert_eq!(mkdir(&mut w, 99, "rel", 0o755), Err(Errno::EBADF));
}

#[test]
fn create_truncate_append_and_stat() {
    let mut w = world();
    let fd = w.open("/tmp/f", o::O_RDWR | o::O_CREAT | o::O_EXCL).unwrap();
    let st = w.stat(fd);
    assert_eq!(st.st_mode, S_IFREG | 0o644, "0666 under the 022 umask");
    assert_eq!((st.st_size, st.st_nlink, st.st_dev), (0, 1, 2));
    assert_eq!(w.write(fd, b"abcdef").unwrap(), 6);
    assert_eq!(w.stat(fd).st_size, 6);
    // O_APPEND writes at the end whatever the position.
    let ap = w.open("/tmp/f", o::O_WRONLY | o::O_APPEND).unwrap();
    w.ctx().lseek(ap, 0, procfs::SEEK_SET).unwrap();
    assert_eq!(w.write(ap, b"gh").unwrap(), 2);
    assert_eq!(w.ctx().lseek(ap, 0, procfs::SEEK_CUR), Ok(8));
    assert_eq!(w.ctx().pread64(fd, BUF, 100, 0), Ok(8));
    assert_eq!(w.mem.peek(BUF, 8), b"abcdefgh");
    // Writing past the end leaves a zero-filled gap.
    w.ctx().lseek(fd, 10, procfs::SEEK_SET).unwrap();
    w.write(fd, b"Z").unwrap();
    assert_eq!(w.ctx().pread64(fd, BUF, 100, 0), Ok(11));
    assert_eq!(w.mem.peek(BUF, 11), b"abcdefgh\0\0Z");
    // O_TRUNC empties it; O_CREAT of an existing file opens it.
    let t = w.open("/tmp/f", o::O_RDWR | o::O_CREAT | o::O_TRUNC).unwrap();
    assert_eq!(w.stat(t).st_size, 0);
    // Creating through a dangling symlink creates its target.
    let d = w.open("/tmp/dangling", o::O_WRONLY | o::O_CREAT).unwrap();
    w.write(d, b"x").unwrap();
    let n = w.open("/tmp/newfile", o::O_RDONLY).unwrap();
    assert_eq!(w.read(n, 10).unwrap(), b"x");
    // O_DIRECTORY with O_CREAT on a new name: 6.1 creates the file and returns ENOTDIR.
    assert_eq!(w.open("/tmp/g", o::O_RDWR | o::O_CREAT | o::O_DIRECTORY), Err(Errno::ENOTDIR));
    assert!(w.open("/tmp/g", o::O_RDONLY).is_ok());
    // Creating in /proc is refused.
    assert_eq!(w.open("/proc/new", o::O_RDWR | o::O_CREAT), Err(Errno::EACCES));
    // stat of paths: a symlink followed or not; statx's fields.
    let p = w.path("/etc/link");
    w.ctx().fstatat64(AT_FDCWD, p, BUF, AT_SYMLINK_NOFOLLOW).unwrap();
    let l = Stat64::get(&w.mem.peek(BUF, Stat64::SIZE));
    assert_eq!((l.st_mode, l.st_size), (S_IFLNK | 0o777, 5));
    w.ctx().fstatat64(AT_FDCWD, p, BUF, 0).unwrap();
    let h = Stat64::get(&w.mem.peek(BUF, Stat64::SIZE));
    assert_eq!((h.st_mode, h.st_size), (S_IFREG | 0o644, HELLO.len() as i64));
    assert_eq!(h.__st_ino as u64, h.st_ino);
    w.ctx().statx(AT_FDCWD, p, 0, statx_mask::BASIC_STATS, BUF).unwrap();
    let x = Statx::get(&w.mem.peek(BUF, Statx::SIZE));
    assert_eq!((x.stx_size, x.stx_ino, x.stx_mode as u32), (12, h.st_ino, h.st_mode));
    assert_eq!((x.stx_dev_major, x.stx_dev_minor, x.stx_mnt_id), (0, 2, 1));
    // tmpfs's and the VFS's attribute mask, nothing set; the mount roots are marked.
    assert_eq!((x.stx_attributes, x.stx_attributes_mask), (0, 0x203070));
    for (path, mnt) in [("/", 1), ("/proc", 2), ("/proc/..", 1), ("/tmp/..", 1)] {
        let p = w.path(path);
        w.ctx().statx(AT_FDCWD, p, 0, statx_mask::BASIC_STATS, BUF).unwrap();
        let r = Statx::get(&w.mem.peek(BUF, Statx::SIZE));
        assert_eq!((r.stx_attributes, r.stx_mnt_id), (statx_attr::MOUNT_ROOT, mnt), "{path}");
    }
    let p = w.path("/proc/meminfo");
    w.ctx().statx(AT_FDCWD, p, 0, statx_mask::BASIC_STATS, BUF).unwrap();
    let r = Statx::get(&w.mem.peek(BUF, Statx::SIZE));
    assert_eq!((r.stx_attributes, r.stx_attributes_mask), (0, 0x201000 | 0x2000));
    // AT_EMPTY_PATH: the descriptor itself.
    let e = w.open("/etc/hello", o::O_RDONLY).unwrap();
    let p = w.path("");
    w.ctx().fstatat64(e, p, BUF, AT_EMPTY_PATH).unwrap();
    assert_eq!(Stat64::get(&w.mem.peek(BUF, Stat64::SIZE)).st_ino, h.st_ino);
    assert_eq!(w.ctx().fstatat64(e, p, BUF, 0), Err(Errno::ENOENT));
    // readlink: not NUL-terminated, cut at bufsiz.
    let p = w.path("/etc/link");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF, 100), Ok(5));
    assert_eq!(w.mem.peek(BUF, 5), b"hello");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF + 0x1000, 3), Ok(3));
    assert_eq!(w.mem.peek(BUF + 0x1000, 4), b"hel\0");
}

#[test]
fn short_copies_at_a_fault() {
    let mut w = world();
    let fd = w.open("/tmp/f", o::O_RDWR | o::O_CREAT).unwrap();
    // Only 4 bytes of the source are mapped: the write stops there.
    let edge = BUF + BUF_LEN - 4;
    w.mem.poke(edge, b"1234");
    assert_eq!(w.ctx().write(fd, edge, 10), Ok(4));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(4));
    // A read into a buffer with 3 writable bytes returns 3 and the position follows it.
    w.ctx().lseek(fd, 0, procfs::SEEK_SET).unwrap();
    assert_eq!(w.ctx().read(fd, BUF + BUF_LEN - 3, 10), Ok(3));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(3));
    assert_eq!(w.read(fd, 10).unwrap(), b"4");
    // /dev/zero fills until the fault.
    let z = w.open("/dev/zero", o::O_RDONLY).unwrap();
    w.mem.poke(BUF + BUF_LEN - 5, b"xxxxx");
    assert_eq!(w.ctx().read(z, BUF + BUF_LEN - 5, 100), Ok(5));
    assert_eq!(w.mem.peek(BUF + BUF_LEN - 5, 5), [0; 5]);
    // getdents64 keeps the whole records that reached the user.
    let tmp = w.open("/tmp", o::O_RDONLY).unwrap();
    let at = BUF + BUF_LEN - 50;
    let n = w.ctx().getdents64(tmp, at, 200).unwrap();
    assert_eq!(n, 48, "'.' and '..' (24 bytes each) fit before the fault");
    let (rest, _) = w.list(tmp, 4096).unwrap();
    let names: Vec<&str> = rest.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["f", "loop", "dangling"]);
}

/// A tmpfs read larger than a page is copied a page at a time (no kernel buffer of its whole
/// count): every byte arrives across the page steps, and a fault partway through a later page
/// ends the read with what the user got, the position after it; the next read goes on there.
#[test]
fn a_large_tmpfs_read_goes_page_by_page_and_stops_at_a_fault() {
    let mut w = world();
    let size = 3 * 4096 + 700;
    let file: Vec<u8> = (0..size).map(|i| (i / 4096 * 7 + i % 253) as u8).collect();
    let fd = w.open("/tmp/big", o::O_RDWR | o::O_CREAT).unwrap();
    assert_eq!(w.write(fd, &file), Ok(size));
    assert_eq!(w.ctx().pread64(fd, BUF, BUF_LEN, 0), Ok(size));
    assert_eq!(w.mem.peek(BUF, size), file);
    // The buffer's mapping ends 2.5 pages into the file (from offset 100).
    let mapped = 2 * 4096 + 2048;
    let buf = BUF + BUF_LEN - mapped;
    w.ctx().lseek(fd, 100, procfs::SEEK_SET).unwrap();
    assert_eq!(w.ctx().read(fd, buf, BUF_LEN), Ok(mapped));
    assert_eq!(w.mem.peek(buf, mapped), &file[100..100 + mapped]);
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok((100 + mapped) as u32));
    assert_eq!(w.read(fd, BUF_LEN).unwrap(), &file[100 + mapped..]);
    // Nothing writable: EFAULT, the position unchanged.
    w.ctx().lseek(fd, 5000, procfs::SEEK_SET).unwrap();
    assert_eq!(w.ctx().read(fd, BUF + BUF_LEN, 10), Err(Errno::EFAULT));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(5000));
    // At the end of the file: 0.
    w.ctx().lseek(fd, size as i32, procfs::SEEK_SET).unwrap();
    assert_eq!(w.read(fd, 10).unwrap(), b"");
}

#[test]
fn devices_and_the_console() {
    let mut w = world();
    assert_eq!(w.names("/dev"), [".", "..", "zero", "null", "console"]);
    let null = w.open("/dev/null", o::O_RDWR).unwrap();
    assert_eq!(w.read(null, 100).unwrap(), b"");
    assert_eq!(w.write(null, b"gone").unwrap(), 4);
    assert_eq!(w.ctx().lseek(null, 100, procfs::SEEK_SET), Ok(0));
    let st = w.stat(null);
    assert_eq!((st.st_mode, st.st_rdev), (S_IFCHR | 0o666, new_encode_dev(1, 3) as u64));
    let zero = w.open("/dev/zero", o::O_RDONLY).unwrap();
    w.mem.poke(BUF, &[9; 10]);
    assert_eq!(w.read(zero, 10).unwrap(), [0; 10]);
    // fds 0-2 of a console program: the console, opened once and duplicated.
    let mut w = world();
    w.ctx().console_on_rootfs().unwrap();
    assert_eq!(w.files.open_fds().collect::<Vec<_>>(), [0, 1, 2]);
    assert!(Arc::ptr_eq(w.files.get(0).unwrap(), w.files.get(2).unwrap()));
    assert_eq!(w.ctx().fcntl64(1, F_GETFL, 0), Ok(o::O_RDWR));
    let st = w.stat(2);
    assert_eq!((st.st_mode, st.st_rdev), (S_IFCHR | 0o600, new_encode_dev(5, 1) as u64));
    assert_eq!(w.write(1, b"hi\nthere").unwrap(), 8);
    assert_eq!(w.ns.tty.output, b"hi\r\nthere");
    w.ns.tty.output.clear();
    // No line typed yet: EAGAIN (the kernel sleeps unless O_NONBLOCK).
    assert_eq!(w.read(0, 100), Err(Errno::EAGAIN));
    for &c in b"ls -l\r" {
        w.ns.tty.receive(c);
    }
    assert_eq!(w.ns.tty.output, b"ls -l\r\n", "echoed");
    assert_eq!(w.read(0, 3).unwrap(), b"ls ");
    assert_eq!(w.read(0, 100).unwrap(), b"-l\n");
    assert_eq!(w.ctx().lseek(0, 0, procfs::SEEK_CUR), Err(Errno::ESPIPE));
    assert_eq!(w.ctx().pread64(0, BUF, 1, 0), Err(Errno::ESPIPE));
    // TCGETS: the serial console's termios, byte for byte.
    assert_eq!(w.ctx().ioctl(0, ioctl::TCGETS, BUF), Ok(0));
    let want = Termios::serial_console(38400).unwrap();
    assert_eq!(w.mem.peek(BUF, Termios::SIZE), want.to_bytes());
    assert_eq!(w.ctx().ioctl(0, ioctl::TCGETS, HOLE), Err(Errno::EFAULT));
    assert_eq!(w.ctx().ioctl(0, ioctl::TIOCGWINSZ, BUF), Ok(0));
    assert_eq!(w.mem.peek(BUF, 8), [0; 8], "a serial line has no window size");
    // TCSETS to raw mode: the next byte is readable at once.
    let mut raw = want;
    raw.c_lflag &= !(crate::abi::native::termbits::ICANON | crate::abi::native::termbits::ECHO);
    w.mem.poke(BUF, &raw.to_bytes());
    assert_eq!(w.ctx().ioctl(0, ioctl::TCSETS, BUF), Ok(0));
    w.ns.tty.receive(b'q');
    assert_eq!(w.read(0, 10).unwrap(), b"q");
    assert_eq!(w.ns.tty.termios.c_cc[cc::VINTR], 3);
}

#[test]
fn no_console_node() {
    let mut fs: Ramfs = Ramfs::new();
    fs.mkdir("/tmp", 0o755).unwrap();
    let mut w = world();
    w.ns = Namespace::new(fs, Termios::serial_console(38400).unwrap());
    assert_eq!(w.ctx().console_on_rootfs(), Err(Errno::ENOENT));
    assert_eq!(w.files.open_fds().count(), 0);
}

#[test]
fn descriptors_share_the_open_file() {
    let mut w = world();
    let fd = w.open("/etc/hello", o::O_RDONLY | o::O_CLOEXEC).unwrap();
    assert_eq!(w.ctx().fcntl64(fd, F_GETFD, 0), Ok(FD_CLOEXEC_BIT));
    let d = w.ctx().fcntl64(fd, F_DUPFD, 5).unwrap() as i32;
    assert_eq!(d, 5);
    assert_eq!(w.ctx().fcntl64(d, F_GETFD, 0), Ok(0), "dup clears close-on-exec");
    assert_eq!(w.read(fd, 6).unwrap(), b"hello ");
    assert_eq!(w.read(d, 100).unwrap(), b"world\n", "one position for both");
    assert_eq!(w.ctx().fcntl64(fd, F_GETFL, 0), Ok(o::O_RDONLY));
    w.ctx().fcntl64(fd, F_SETFL, o::O_APPEND | o::O_WRONLY).unwrap();
    assert_eq!(w.ctx().fcntl64(d, F_GETFL, 0), Ok(o::O_APPEND), "the access mode is kept");
    assert_eq!(w.ctx().ioctl(d, FIOCLEX, 0), Ok(0));
    assert_eq!(w.ctx().fcntl64(d, F_GETFD, 0), Ok(FD_CLOEXEC_BIT));
    w.ctx().lseek(fd, 2, procfs::SEEK_SET).unwrap();
    assert_eq!(w.ctx().ioctl(d, FIONREAD, BUF), Ok(0));
    assert_eq!(i32::get(&w.mem.peek(BUF, 4)), 10);
    assert_eq!(w.files.close_on_exec(), 2);
    // readv/writev: segments in order.
    let f = w.open("/tmp/v", o::O_RDWR | o::O_CREAT).unwrap();
    w.mem.poke(BUF + 0x100, b"abcXYZ");
    let iov = [(BUF + 0x100) as u32, 3, (BUF + 0x103) as u32, 3];
    let mut bytes = Vec::new();
    for v in iov {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    w.mem.poke(BUF, &bytes);
    assert_eq!(w.ctx().writev(f, BUF, 2, 0), Ok(6));
    assert_eq!(w.ctx().writev(f, HOLE, 2, 0), Err(Errno::EFAULT));
    w.ctx().lseek(f, 1, procfs::SEEK_SET).unwrap();
    let iov = [(BUF + 0x200) as u32, 2, (BUF + 0x300) as u32, 10];
    let mut bytes = Vec::new();
    for v in iov {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    w.mem.poke(BUF, &bytes);
    assert_eq!(w.ctx().readv(f, BUF, 2, 0), Ok(5));
    assert_eq!(w.mem.peek(BUF + 0x200, 2), b"bc");
    assert_eq!(w.mem.peek(BUF + 0x300, 3), b"XYZ");
}

/// `F_GETFD`'s answer for a close-on-exec descriptor.
const FD_CLOEXEC_BIT: u32 = crate::fs::fdtable::FD_CLOEXEC;

#[test]
fn proc_through_the_file_calls() {
    let mut w = world();
    assert_eq!(w.names("/"), [".", "..", "etc", "tmp", "dev", "proc"]);
    let names = w.names("/proc");
    assert_eq!(&names[..2], [".", ".."]);
    assert!(names.contains(&"meminfo".into()) && names.contains(&"self".into()));
    assert_eq!(&names[names.len() - 2..], ["1", "7"]);
    // `cat /proc/meminfo` with a small buffer sees the whole rendered text, then 0.
    let mut want_text = String::new();
    for i in 0..w.src.lines {
        writeln!(want_text, "Line{i:05}: {:8} kB", i * 4).unwrap();
    }
    let fd = w.open("/proc/meminfo", o::O_RDONLY).unwrap();
    let mut got = Vec::new();
    loop {
        let chunk = w.read(fd, 1000).unwrap();
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= 1000);
        got.extend(chunk);
    }
    assert_eq!(got, want_text.as_bytes());
    assert_eq!(w.read(fd, 1000).unwrap(), b"", "past the end");
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_END), Err(Errno::EINVAL), "seq_lseek");
    assert_eq!(w.ctx().lseek(fd, 21, procfs::SEEK_SET), Ok(21));
    assert_eq!(w.read(fd, 21).unwrap(), &want_text.as_bytes()[21..42]);
    let st = w.stat(fd);
    assert_eq!(
        (st.st_mode, st.st_size, st.st_dev),
        (S_IFREG | 0o444, 0, new_encode_dev(0, 3) as u64)
    );
    assert_eq!(w.write(fd, b"x"), Err(Errno::EBADF), "opened read-only");
    // Root may open them for writing; the write itself fails as 6.1's does.
    let wm = w.open("/proc/meminfo", o::O_WRONLY).unwrap();
    assert_eq!(w.write(wm, b"x"), Err(Errno::EIO), "pde_write without proc_write");
    let wp = w.open("/proc/1/maps", o::O_WRONLY).unwrap();
    assert_eq!(w.write(wp, b"x"), Err(Errno::EINVAL), "no ->write: FMODE_CAN_WRITE clear");
    // /proc/self is a symlink to the reader's directory, followed by open.
    let p = w.path("/proc/self");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF, 100), Ok(1));
    assert_eq!(w.mem.peek(BUF, 1), b"1");
    let m = w.open("/proc/self/maps", o::O_RDONLY).unwrap();
    assert_eq!(w.read(m, 100).unwrap(), b"other\n");
    assert_eq!(w.open("/proc/self/../7/status", o::O_RDONLY).map(|_| ()), Ok(()));
    let p = w.path("/proc/1/exe");
    assert_eq!(w.ctx().readlinkat(AT_FDCWD, p, BUF, 100), Ok(5));
    assert_eq!(w.mem.peek(BUF, 5), b"/init");
    // `..` of /proc leaves the mount.
    let r = w.open("/proc/../etc/hello", o::O_RDONLY).unwrap();
    assert_eq!(w.read(r, 5).unwrap(), b"hello");
    assert_eq!(w.open("/proc", o::O_WRONLY), Err(Errno::EISDIR));
    let pd = w.open("/proc/1", o::O_RDONLY).unwrap();
    assert_eq!(w.ctx().read(pd, BUF, 10), Err(Errno::EISDIR));
    let tt = w.openat(pd, "status", o::O_RDONLY).unwrap();
    assert_eq!(w.read(tt, 100).unwrap(), b"other\n");
}

#[test]
fn kernel_reads_and_paths_see_what_programs_see() {
    let mut w = world();
    let read = |w: &mut World, p: &str| {
        let mut got = Vec::new();
        w.ns.kernel_read(&w.src, p, &mut |b: &[u8]| got.extend_from_slice(b)).map(|_| got)
    };
    // The console's `cat` of a /proc file: the text a program's read loop gets.
    let mut want = String::new();
    for i in 0..w.src.lines {
        writeln!(want, "Line{i:05}: {:8} kB", i * 4).unwrap();
    }
    assert_eq!(read(&mut w, "/proc/meminfo").unwrap(), want.as_bytes());
    let fd = w.open("/proc/meminfo", o::O_RDONLY).unwrap();
    let mut through_read = Vec::new();
    loop {
        let chunk = w.read(fd, 333).unwrap();
        if chunk.is_empty() {
            break;
        }
        through_read.extend(chunk);
    }
    assert_eq!(through_read, want.as_bytes());
    assert_eq!(read(&mut w, "/proc/self/maps").unwrap(), b"other\n");
    assert_eq!(read(&mut w, "/etc/link").unwrap(), HELLO);
    // A file a program wrote is read back, across the bounce buffer's steps.
    let fd = w.open("/tmp/new", o::O_CREAT | o::O_WRONLY).unwrap();
    let long: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(w.write(fd, &long), Ok(5000));
    assert_eq!(read(&mut w, "/tmp/new").unwrap(), long);
    assert_eq!(read(&mut w, "/proc"), Err(Errno::EISDIR));
    assert_eq!(read(&mut w, "/etc"), Err(Errno::EISDIR));
    assert_eq!(read(&mut w, "/dev/zero"), Err(Errno::EINVAL));
    assert_eq!(read(&mut w, "/nope"), Err(Errno::ENOENT));
    // d_path: every ramfs inode's absolute path.
    let ino = w.ns.ramfs.lookup("/tmp/new").unwrap();
    assert_eq!(w.ns.d_path(ino).as_deref(), Some("/tmp/new"));
    assert_eq!(w.ns.d_path(ROOT_INO).as_deref(), Some("/"));
    let etc = w.ns.ramfs.lookup("/etc").unwrap();
    assert_eq!(w.ns.d_path(etc).as_deref(), Some("/etc"));
    assert_eq!(w.ns.d_path(9999), None);
}

/// An operation on one open file, and its model.
#[derive(Clone, Debug)]
enum Op {
    Write(Vec<u8>),
    Read(usize),
    Pread(usize, u64),
    Seek(i32, u32),
    Trunc,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Write),
        (0usize..400).prop_map(Op::Read),
        (0usize..400, 0u64..600).prop_map(|(n, p)| Op::Pread(n, p)),
        (-600i32..600, 0u32..4).prop_map(|(o, w)| Op::Seek(o, w)),
        Just(Op::Trunc),
    ]
}

proptest! {
    /// A regular file against a byte vector and a position: every read, write, pread,
    /// seek (EINVAL for a negative result or bad whence) and O_TRUNC reopen agrees.
    #[test]
    fn file_matches_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = world();
        let fd = w.open("/tmp/m", o::O_RDWR | o::O_CREAT).unwrap();
        let (mut data, mut pos): (Vec<u8>, usize) = (Vec::new(), 0);
        for op in ops {
            match op {
                Op::Write(b) => {
                    prop_assert_eq!(w.write(fd, &b), Ok(b.len()));
                    // An empty write changes nothing, not even the size.
                    if !b.is_empty() {
                        if data.len() < pos + b.len() {
                            data.resize(pos + b.len(), 0);
                        }
                        data[pos..pos + b.len()].copy_from_slice(&b);
                        pos += b.len();
                    }
                }
                Op::Read(n) => {
                    let want = &data[pos.min(data.len())..(pos + n).min(data.len())];
                    prop_assert_eq!(w.read(fd, n).unwrap(), want);
                    pos += want.len();
                }
                Op::Pread(n, at) => {
                    let at = at as usize;
                    let want = &data[at.min(data.len())..(at + n).min(data.len())];
                    prop_assert_eq!(w.ctx().pread64(fd, BUF, n, at as i64), Ok(want.len()));
                    prop_assert_eq!(w.mem.peek(BUF, want.len()), want);
                }
                Op::Seek(off, whence) => {
                    let base = match whence { 0 => Some(0), 1 => Some(pos as i64), 2 => Some(data.len() as i64), _ => None };
                    let want = match base.map(|b| b + off as i64) {
                        Some(t) if t >= 0 => Ok(t as i32),
                        _ if whence == 3 && (off as i64) < 0 => Err(Errno::ENXIO),
                        _ if whence == 3 && off as usize >= data.len() => Err(Errno::ENXIO),
                        _ if whence == 3 => Ok(off),
                        _ => Err(Errno::EINVAL),
                    };
                    prop_assert_eq!(w.ctx().lseek(fd, off, whence), want);
                    if let Ok(p) = want { pos = p as usize; }
                }
                Op::Trunc => {
                    let t = w.open("/tmp/m", o::O_RDWR | o::O_TRUNC).unwrap();
                    w.ctx().close(t).unwrap();
                    data.clear();
                }
            }
            prop_assert_eq!(w.stat(fd).st_size as usize, data.len());
        }
    }

    /// A directory listed with any buffer size yields the same entries, in whole records,
    /// as one large read, with each d_off the position of the next.
    #[test]
    fn listing_is_independent_of_buffer_size(n in 0usize..40, count in 24usize..600) {
        let mut w = world();
        for i in 0..n {
            let fd = w.open(&alloc::format!("/tmp/file{i:03}-{}", "x".repeat(i)), o::O_CREAT | o::O_WRONLY).unwrap();
            w.ctx().close(fd).unwrap();
        }
        let fd = w.open("/tmp", o::O_RDONLY).unwrap();
        let (big, _) = w.list(fd, BUF_LEN).unwrap();
        prop_assert_eq!(big.len(), n + 4);
        let fd2 = w.open("/tmp", o::O_RDONLY).unwrap();
        match w.list(fd2, count) {
            Ok((small, sizes)) => {
                prop_assert_eq!(&small, &big);
                prop_assert!(sizes.iter().all(|&s| s <= count));
            }
            // A name longer than the buffer: EINVAL, as filldir64 answers.
            Err(e) => {
                prop_assert_eq!(e, Errno::EINVAL);
                prop_assert!(big.iter().any(|e| dirent64_reclen(e.0.len()) > count));
            }
        }
        // d_off of each entry seeks to the entry after it.
        if big.len() > 3 {
            let (_, _, off) = big[2].clone();
            w.ctx().lseek(fd, off as i32, procfs::SEEK_SET).unwrap();
            let (rest, _) = w.list(fd, BUF_LEN).unwrap();
            prop_assert_eq!(&rest[..], &big[3..]);
        }
    }
}

proptest! {
    /// A read into a buffer whose first `mapped` bytes are writable (the rest faulting), or a
    /// write from one readable for `mapped` bytes, moves what fits before the fault: `EFAULT`
    /// when nothing could be copied, 0 at the end of the file, and the position advances by
    /// exactly what the user got.
    #[test]
    fn short_copies_match_a_model(
        size in 0usize..3000,
        pos in 0usize..3500,
        count in 0usize..5000,
        mapped in 0usize..5000,
        write in any::<bool>(),
    ) {
        let mut w = world();
        let file: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let fd = w.open("/tmp/s", o::O_RDWR | o::O_CREAT).unwrap();
        w.write(fd, &file).unwrap();
        w.ctx().lseek(fd, pos as i32, procfs::SEEK_SET).unwrap();
        // The buffer's first `mapped` bytes end where the mapped region does.
        let buf = BUF + BUF_LEN - mapped;
        let mut model = file.clone();
        if write {
            let data: Vec<u8> = (0..mapped).map(|i| (i % 13) as u8 + 1).collect();
            w.mem.poke(buf, &data);
            let got = count.min(mapped);
            let want = if count > 0 && got == 0 { Err(Errno::EFAULT) } else { Ok(got) };
            prop_assert_eq!(w.ctx().write(fd, buf, count), want);
            if got > 0 {
                model.resize(model.len().max(pos + got), 0);
                model[pos..pos + got].copy_from_slice(&data[..got]);
            }
            prop_assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok((pos + got) as u32));
        } else {
            let avail = size.saturating_sub(pos).min(count);
            let got = avail.min(mapped);
            let want = if avail > 0 && got == 0 { Err(Errno::EFAULT) } else { Ok(got) };
            prop_assert_eq!(w.ctx().read(fd, buf, count), want);
            prop_assert_eq!(w.mem.peek(buf, got), &file[pos.min(size)..pos.min(size) + got]);
            prop_assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok((pos + got) as u32));
        }
        prop_assert_eq!(w.ctx().pread64(fd, BUF, BUF_LEN, 0), Ok(model.len()));
        prop_assert_eq!(w.mem.peek(BUF, model.len()), model);
    }
}

/// A read-only disk file system: root (1) holding `bin/` (2) with `prog` (3, 5000 bytes of
/// a pattern) and `config.txt` (4); it counts reads and checks the read-ahead state is
/// the open file's own.
struct FakeDisk {
    reads: Reads,
    /// The first byte whose page gets no page-cache frame (`ENOMEM`, as the card's read
    /// returns once reclaim freed nothing), shared with the test.
    enomem_from: Arc<SpinLock<u64>>,
}

/// The reads a [`FakeDisk`] served: inode, position, the read-ahead state's `prev_pos`, the
/// bytes asked for and the read's whole request from there (its read-ahead's).
type Reads = Arc<SpinLock<Vec<(u64, u64, i64, usize, usize)>>>;

/// A program's read reaches a file system a page at a time (one page-sized kernel buffer,
/// whatever the count), and tells it the whole request.
fn assert_within_a_page(pos: u64, len: usize, req: usize) {
    assert!(len <= 4096 - (pos % 4096) as usize, "{len} bytes at {pos}: more than a page");
    assert!(req >= len);
}

fn fake_byte(pos: u64) -> u8 {
    (pos % 251) as u8
}

impl DiskFs for FakeDisk {
    fn dev(&self) -> (u32, u32) {
        (179, 1)
    }
    fn root(&self) -> u64 {
        1
    }
    fn parent(&self, ino: u64) -> u64 {
        if ino == 3 {
            2
        } else {
            1
        }
    }
    fn lookup(&self, dir: u64, name: &str) -> Result<u64, Errno> {
        match (dir, name) {
            (1, "bin") => Ok(2),
            (1, "config.txt") => Ok(4),
            (2, "prog") => Ok(3),
            _ => Err(Errno::ENOENT),
        }
    }
    fn getattr(&self, ino: u64) -> Result<DiskStat, Errno> {
        let (mode, size) = match ino {
            1 | 2 => (S_IFDIR | 0o755, 512),
            3 => (S_IFREG | 0o755, 5000),
            4 => (S_IFREG | 0o755, 6),
            _ => return Err(Errno::ENOENT),
        };
        Ok(DiskStat { mode, nlink: 1, size, blksize: 512, blocks: size.div_ceil(512), mtime: 7 })
    }
    fn readdir(&self, dir: u64) -> Result<Vec<(String, u64, u32)>, Errno> {
        match dir {
            1 => Ok(vec![("bin".into(), 2, S_IFDIR), ("config.txt".into(), 4, S_IFREG)]),
            2 => Ok(vec![("prog".into(), 3, S_IFREG)]),
            _ => Err(Errno::ENOTDIR),
        }
    }
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        ra: &mut FileRaState,
    ) -> Result<usize, Errno> {
        assert_within_a_page(pos, buf.len(), req);
        if pos >= *self.enomem_from.lock() {
            return Err(Errno::ENOMEM);
        }
        let size = self.getattr(ino)?.size;
        let n = (size.saturating_sub(pos) as usize).min(buf.len());
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = if ino == 4 { b"x=1\n\n\n"[pos as usize + i] } else { fake_byte(pos + i as u64) };
        }
        self.reads.lock().push((ino, pos, ra.prev_pos, buf.len(), req));
        ra.prev_pos = (pos + n as u64) as i64;
        Ok(n)
    }
    fn ra_init(&self) -> FileRaState {
        FileRaState::new(32)
    }
    fn path(&self, ino: u64) -> Option<String> {
        Some(match ino {
            1 => "".into(),
            2 => "bin".into(),
            3 => "bin/prog".into(),
            _ => "config.txt".into(),
        })
    }
}

fn world_with_disk() -> (World, Reads) {
    let (w, reads, _) = world_with_disk_short_of_memory(u64::MAX);
    (w, reads)
}

/// [`world_with_disk`] whose file system gets no frame for the pages from byte `from` on
/// (the limit can be moved).
fn world_with_disk_short_of_memory(from: u64) -> (World, Reads, Arc<SpinLock<u64>>) {
    let mut w = world();
    w.ns.ramfs.mkdir("/boot", 0o755).unwrap();
    let reads = Arc::new(SpinLock::new(Vec::new()));
    let enomem_from = Arc::new(SpinLock::new(from));
    let fs = FakeDisk { reads: reads.clone(), enomem_from: enomem_from.clone() };
    w.ns.mount_disk("/boot", alloc::boxed::Box::new(fs)).unwrap();
    (w, reads, enomem_from)
}

/// A read whose page gets no page-cache frame (the file system's `ENOMEM`, once reclaim
/// freed nothing) returns what it copied before that page, and `ENOMEM` when it copied
/// nothing, with the file position after the bytes the user got: 6.1's `filemap_read`
/// (`filemap_get_pages` -> `-ENOMEM`, `already_read ? already_read : error`); before, pivm
/// returned `EIO` (or `EFAULT` after a deferred reclaim) for the empty read.
#[test]
fn a_read_without_a_page_cache_frame_is_short_or_enomem() {
    let (mut w, _, enomem_from) = world_with_disk_short_of_memory(4096);
    let fd = w.open("/boot/bin/prog", o::O_RDONLY).unwrap();
    let a = w.read(fd, 5000).unwrap();
    assert_eq!(a.len(), 4096, "a short count: the first page only");
    assert!(a.iter().enumerate().all(|(i, &c)| c == fake_byte(i as u64)));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(4096));
    assert_eq!(w.read(fd, 100), Err(Errno::ENOMEM));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(4096), "nothing read: no move");
    assert_eq!(w.ctx().pread64(fd, BUF, 10, 4090), Ok(6));
    *enomem_from.lock() = 0;
    assert_eq!(w.ctx().pread64(fd, BUF, 10, 0), Err(Errno::ENOMEM));
    // Memory back: the read goes on where it stopped.
    *enomem_from.lock() = u64::MAX;
    let b = w.read(fd, 5000).unwrap();
    assert_eq!(b.len(), 904);
    assert!(b.iter().enumerate().all(|(i, &c)| c == fake_byte(4096 + i as u64)));
}

#[test]
fn a_mounted_disk_is_read_through_its_file_system() {
    let (mut w, reads) = world_with_disk();
    assert_eq!(w.names("/boot"), [".", "..", "bin", "config.txt"]);
    assert_eq!(w.names("/boot/bin/"), [".", "..", "prog"]);
    let fd = w.open("/boot/bin/../bin/prog", o::O_RDONLY).unwrap();
    let a = w.read(fd, 3000).unwrap();
    let b = w.read(fd, 3000).unwrap();
    assert_eq!(a.len() + b.len(), 5000);
    assert!(a.iter().chain(&b).enumerate().all(|(i, &c)| c == fake_byte(i as u64)));
    assert_eq!(w.read(fd, 10).unwrap(), b"");
    // The read-ahead state is the open file's: the second read saw the first's position. It
    // went a page at a time, each step told the rest of the read (2000 bytes, then 904).
    assert_eq!(
        reads.lock()[..3],
        [(3, 0, -1, 3000, 3000), (3, 3000, 3000, 1096, 2000), (3, 4096, 4096, 904, 904)]
    );
    let st = w.stat(fd);
    assert_eq!((st.st_size, st.st_dev, st.st_ino), (5000, new_encode_dev(179, 1) as u64, 3));
    assert_eq!(w.ctx().lseek(fd, -10, procfs::SEEK_END), Ok(4990));
    // `..` of the mount's root is the ramfs directory above it.
    let fd2 = w.open("/boot/../etc/hello", o::O_RDONLY).unwrap();
    assert_eq!(w.read(fd2, 100).unwrap(), HELLO);
    let mut out = Vec::new();
    w.ns.kernel_read(&w.src, "/boot/config.txt", &mut |b| out.extend_from_slice(b)).unwrap();
    assert_eq!(out, b"x=1\n\n\n");
    assert_eq!(w.ns.disk_path(3).as_deref(), Some("/boot/bin/prog"));
}

#[test]
fn a_mounted_disk_is_read_only() {
    let (mut w, _) = world_with_disk();
    assert_eq!(w.open("/boot/config.txt", o::O_WRONLY), Err(Errno::EROFS));
    assert_eq!(w.open("/boot/config.txt", o::O_RDWR), Err(Errno::EROFS));
    assert_eq!(w.open("/boot/config.txt", o::O_RDONLY | o::O_TRUNC), Err(Errno::EROFS));
    assert_eq!(w.open("/boot/new", o::O_WRONLY | o::O_CREAT), Err(Errno::EROFS));
    assert_eq!(w.open("/boot/bin", o::O_WRONLY), Err(Errno::EISDIR));
    assert_eq!(w.open("/boot/nothing", o::O_RDONLY), Err(Errno::ENOENT));
    assert_eq!(w.open("/boot/config.txt/x", o::O_RDONLY), Err(Errno::ENOTDIR));
    let fd = w.open("/boot/config.txt", o::O_RDONLY).unwrap();
    assert_eq!(w.write(fd, b"no"), Err(Errno::EBADF));
    let d = w.open("/boot/bin", o::O_RDONLY).unwrap();
    assert_eq!(w.read(d, 10), Err(Errno::EISDIR));
}

#[test]
fn proc_sys_vm_drop_caches_is_write_only() {
    let mut w = world();
    assert_eq!(w.names("/proc/sys"), [".", "..", "vm"]);
    assert_eq!(
        w.names("/proc/sys/vm/"),
        [
            ".",
            "..",
            "drop_caches",
            "min_free_kbytes",
            "page-cluster",
            "swappiness",
            "watermark_scale_factor"
        ]
    );
    assert_eq!(w.open("/proc/sys/vm/drop_caches", o::O_RDONLY), Err(Errno::EACCES));
    assert_eq!(w.open("/proc/sys/vm/drop_caches", o::O_RDWR), Err(Errno::EACCES));
    let fd = w.open("/proc/sys/vm/drop_caches", o::O_WRONLY).unwrap();
    assert_eq!(w.stat(fd).st_mode, S_IFREG | 0o200);
    // This /proc's handler refuses everything (the kernel's drops the caches).
    assert_eq!(w.write(fd, b"3\n"), Err(Errno::EINVAL));
    let fd2 = w.open("/proc/sys/vm/../../sys/vm/drop_caches", o::O_WRONLY).unwrap();
    assert!(fd2 > fd);
    let mut out = Vec::new();
    assert_eq!(
        w.ns.kernel_read(&w.src, "/proc/sys/vm/drop_caches", &mut |b| out.extend_from_slice(b)),
        Err(Errno::EACCES)
    );
}

#[test]
fn proc_sys_vm_knobs_read_and_write_through_their_handler() {
    let mut w = world();
    let fd = w.open("/proc/sys/vm/swappiness", o::O_RDWR).unwrap();
    assert_eq!(w.stat(fd).st_mode, S_IFREG | 0o644);
    assert_eq!(w.read(fd, 100).unwrap(), b"60\n");
    // A write from the start goes to the handler; one past it is ignored (writes_strict).
    let fd2 = w.open("/proc/sys/vm/swappiness", o::O_WRONLY).unwrap();
    assert_eq!(w.write(fd2, b"100\n"), Ok(4));
    assert_eq!(w.write(fd2, b"7\n"), Ok(2));
    assert_eq!(w.src.swappiness.get(), 100);
    let fd3 = w.open("/proc/sys/vm/swappiness", o::O_WRONLY).unwrap();
    assert_eq!(w.write(fd3, b"201\n"), Err(Errno::EINVAL));
    assert_eq!(w.write(fd3, b"12abc"), Err(Errno::EINVAL));
    // Only the first number is taken: the write is short.
    assert_eq!(w.write(fd3, b"5 6"), Ok(2));
    assert_eq!(w.src.swappiness.get(), 5);
    assert_eq!(w.ns.kernel_write(&w.src, "/proc/sys/vm/swappiness", b"9\n"), Ok(2));
    assert_eq!(w.ns.kernel_write(&w.src, "/proc/sys/vm/nope", b"9"), Err(Errno::ENOENT));
    assert_eq!(w.ns.kernel_write(&w.src, "/proc/sys/vm", b"9"), Err(Errno::EISDIR));
    assert_eq!(w.ns.kernel_write(&w.src, "/etc/hello", b"9"), Err(Errno::EINVAL));
}

#[test]
fn debugfs_on_sys_kernel_debug_has_fault_around_bytes() {
    let mut fs: Ramfs = Ramfs::new();
    for d in ["/proc", "/sys"] {
        fs.mkdir(d, 0o755).unwrap();
    }
    let mut w = world();
    w.ns = Namespace::new(fs, Termios::serial_console(38400).unwrap());
    assert_eq!(w.names("/sys"), [".", "..", "kernel"]);
    assert_eq!(w.names("/sys/kernel/debug"), [".", "..", "fault_around_bytes"]);
    let fd = w.open("/sys/kernel/debug/fault_around_bytes", o::O_RDWR).unwrap();
    let st = w.stat(fd);
    assert_eq!(st.st_mode, S_IFREG | 0o644);
    assert_eq!(st.st_dev, new_encode_dev(procfs::DEBUGFS_DEV.0, procfs::DEBUGFS_DEV.1) as u64);
    let d = w.open("/sys/kernel/debug", o::O_RDONLY).unwrap();
    assert_eq!(w.stat(d).st_mode, S_IFDIR | 0o700);
    // `..` of sysfs's root is the ramfs directory above it.
    assert_eq!(w.names("/sys/kernel/debug/../../.."), w.names("/"));
    assert!(w.open("/sys/kernel/../../proc/sys/vm/swappiness", o::O_RDONLY).is_ok());
}

#[test]
fn sys_kernel_slab_has_a_directory_per_cache_and_shrink_runs_kmem_cache_shrink() {
    let mut fs: Ramfs = Ramfs::new();
    for d in ["/proc", "/sys"] {
        fs.mkdir(d, 0o755).unwrap();
    }
    let mut w = world();
    w.ns = Namespace::new(fs, Termios::serial_console(38400).unwrap());
    // kernfs order: by name hash.
    let mut kernel = w.names("/sys/kernel");
    assert_eq!(kernel.drain(..2).collect::<Vec<_>>(), [".", ".."]);
    kernel.sort_by_key(|n| procfs::kernfs_name_hash(n));
    assert_eq!(w.names("/sys/kernel")[2..], kernel[..]);
    let mut caches = w.names("/sys/kernel/slab");
    caches.sort();
    assert_eq!(caches, [".", "..", "kmalloc-512", "kmalloc-64"]);
    assert_eq!(w.names("/sys/kernel/slab/kmalloc-512").len(), 2 + procfs::SLAB_ATTRS.len());
    assert_eq!(w.open("/sys/kernel/slab/kmalloc-96", o::O_RDONLY), Err(Errno::ENOENT));
    let d = w.open("/sys/kernel/slab", o::O_RDONLY).unwrap();
    assert_eq!(w.stat(d).st_nlink, 2 + CACHES.len() as u32);
    // shrink: 0600, reads nothing, `1...` shrinks and takes the whole write, else EINVAL.
    let fd = w.open("/sys/kernel/slab/kmalloc-512/shrink", o::O_RDWR).unwrap();
    let st = w.stat(fd);
    assert_eq!((st.st_mode, st.st_size), (S_IFREG | 0o600, 4096));
    assert_eq!(st.st_dev, new_encode_dev(procfs::SYSFS_DEV.0, procfs::SYSFS_DEV.1) as u64);
    assert_eq!(w.read(fd, 100).unwrap(), b"");
    assert_eq!(w.write(fd, b"1\n"), Ok(2));
    assert_eq!(w.write(fd, b"10 x"), Ok(4));
    assert_eq!(w.write(fd, b"0\n"), Err(Errno::EINVAL));
    assert_eq!(w.write(fd, b" 1"), Err(Errno::EINVAL));
    assert_eq!(w.write(fd, b""), Ok(0));
    assert_eq!(*w.src.shrinks.borrow(), [3, 3]);
    assert_eq!(w.ns.kernel_write(&w.src, "/sys/kernel/slab/kmalloc-64/shrink", b"1\n"), Ok(2));
    assert_eq!(*w.src.shrinks.borrow(), [3, 3, 5]);
    // The read-only attributes: no write open (kernfs_fop_open), EACCES for the console.
    assert_eq!(w.open("/sys/kernel/slab/kmalloc-64/order", o::O_WRONLY), Err(Errno::EACCES));
    assert_eq!(
        w.ns.kernel_write(&w.src, "/sys/kernel/slab/kmalloc-64/order", b"1"),
        Err(Errno::EACCES)
    );
    let ro = w.open("/sys/kernel/slab/kmalloc-64/objects", o::O_RDONLY).unwrap();
    assert_eq!(w.stat(ro).st_mode, S_IFREG | 0o400);
    assert_eq!(w.ns.kernel_write(&w.src, "/sys/kernel/slab/kmalloc-64", b"1"), Err(Errno::EISDIR));
    assert_eq!(w.names("/sys/kernel/slab/kmalloc-64/../../slab/kmalloc-512/..").len(), 4);
}

/// A block device of 3 pages whose byte at offset i is i mod 251, for the file layer's side
/// of block special files.
#[derive(Debug)]
struct ThreePages;

impl crate::fs::blkdev::BlockDevOps for ThreePages {
    fn open(&self, rdev: (u32, u32)) -> Result<(u64, FileRaState), Errno> {
        if rdev == (179, 2) {
            Ok((42, FileRaState::new(32)))
        } else {
            Err(Errno::ENXIO)
        }
    }
    fn size(&self, _: (u32, u32)) -> Result<u64, Errno> {
        Ok(3 * 4096)
    }
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        _: &mut FileRaState,
    ) -> Result<usize, Errno> {
        assert_eq!(ino, 42);
        assert_within_a_page(pos, buf.len(), req);
        for (k, b) in buf.iter_mut().enumerate() {
            *b = ((pos + k as u64) % 251) as u8;
        }
        Ok(buf.len())
    }
    fn read_ahead_kb(&self, _: (u32, u32)) -> u64 {
        128
    }
    fn set_read_ahead_kb(&self, _: (u32, u32), _: u64) {}
}

#[test]
fn block_special_files_open_read_only_and_read_the_device() {
    let mut w = world();
    w.ns.ramfs.mknod("/dev/mmcblk0p2", S_IFBLK | 0o660, (179, 2)).unwrap();
    w.ns.ramfs.mknod("/dev/mmcblk0p7", S_IFBLK | 0o660, (179, 7)).unwrap();
    // No block devices registered yet: no driver.
    assert_eq!(w.open("/dev/mmcblk0p2", o::O_RDONLY), Err(Errno::ENXIO));
    w.ns.blkdev = Some(alloc::boxed::Box::new(ThreePages));
    assert_eq!(w.open("/dev/mmcblk0p7", o::O_RDONLY), Err(Errno::ENXIO));
    assert_eq!(w.open("/dev/mmcblk0p2", o::O_RDWR), Err(Errno::EROFS));
    let fd = w.open("/dev/mmcblk0p2", o::O_RDONLY).unwrap();
    let st = w.stat(fd);
    assert_eq!(st.st_mode, S_IFBLK | 0o660);
    assert_eq!((st.st_rdev, st.st_size), (new_encode_dev(179, 2) as u64, 0));
    assert_eq!(w.read(fd, 4).unwrap(), [0, 1, 2, 3]);
    assert_eq!(w.ctx().lseek(fd, -2, procfs::SEEK_END), Ok(3 * 4096 - 2));
    let tail = w.read(fd, 100).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0], ((3 * 4096 - 2) % 251) as u8);
    assert_eq!(w.read(fd, 100).unwrap(), b"");
    assert_eq!(w.write(fd, b"x"), Err(Errno::EBADF));
    assert_eq!(w.ctx().ioctl(fd, ioctl::TCGETS, BUF), Err(Errno::ENOTTY));
    assert_eq!(w.ctx().ioctl(fd, crate::fs::blkdev::ioctl::BLKGETSIZE64, BUF), Ok(0));
    assert_eq!(w.mem.peek(BUF, 8), (3u64 * 4096).to_le_bytes());
}

/// A read of a card file or a block device larger than a page goes page by page through
/// one page-sized buffer (the file systems' asserts), every byte right; a fault partway ends
/// it with what the user got and the position after it, `EFAULT` when nothing was copied.
#[test]
fn large_card_and_block_device_reads_go_page_by_page_and_stop_at_a_fault() {
    let (mut w, reads) = world_with_disk();
    let fd = w.open("/boot/bin/prog", o::O_RDONLY).unwrap();
    let all = w.read(fd, BUF_LEN).unwrap();
    assert!(all.len() == 5000 && all.iter().enumerate().all(|(i, &c)| c == fake_byte(i as u64)));
    let asked: Vec<_> = reads.lock().iter().map(|r| (r.1, r.3, r.4)).collect();
    assert_eq!(asked, [(0, 4096, 5000), (4096, 904, 904)]);
    // pread64 with the buffer's mapping ending 1000 bytes in: those, the position unmoved.
    assert_eq!(w.ctx().pread64(fd, BUF + BUF_LEN - 1000, 4000, 3500), Ok(1000));
    assert!(w.mem.peek(BUF + BUF_LEN - 1000, 1000).iter().eq(&all[3500..4500]));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(5000));
    w.ctx().lseek(fd, 100, procfs::SEEK_SET).unwrap();
    assert_eq!(w.ctx().read(fd, BUF + BUF_LEN, 10), Err(Errno::EFAULT));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(100));
    assert_eq!(w.ctx().read(fd, BUF + BUF_LEN - 4500, 4900), Ok(4500));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(4600));

    w.ns.ramfs.mknod("/dev/mmcblk0p2", S_IFBLK | 0o660, (179, 2)).unwrap();
    w.ns.blkdev = Some(alloc::boxed::Box::new(ThreePages));
    let fd = w.open("/dev/mmcblk0p2", o::O_RDONLY).unwrap();
    let dev = w.read(fd, BUF_LEN).unwrap();
    assert!(dev.len() == 3 * 4096 && dev.iter().enumerate().all(|(i, &c)| c == (i % 251) as u8));
    assert_eq!(w.ctx().pread64(fd, BUF + BUF_LEN - 5000, BUF_LEN, 10), Ok(5000));
    assert!(w.mem.peek(BUF + BUF_LEN - 5000, 5000).iter().eq(&dev[10..5010]));
    assert_eq!(w.ctx().lseek(fd, 0, procfs::SEEK_CUR), Ok(3 * 4096));
}

/// Places `p` NUL-terminated at the second half of the path page (a second path argument).
fn path2(w: &mut World, p: &str) -> usize {
    let at = PATH + 0x800;
    w.mem.poke(at, p.as_bytes());
    w.mem.poke(at + p.len(), &[0]);
    at
}

#[test]
fn unlink_rmdir_and_rename_give_linux_errors() {
    let mut w = world();
    let unlink = |w: &mut World, p: &str, flags: u32| {
        let a = w.path(p);
        w.ctx().unlinkat(AT_FDCWD, a, flags)
    };
    let rename = |w: &mut World, a: &str, b: &str, flags: u32| {
        let (pa, pb) = (w.path(a), path2(w, b));
        w.ctx().renameat2(AT_FDCWD, pa, AT_FDCWD, pb, flags)
    };
    for (p, flags, e) in [
        ("/tmp", 0, Errno::EISDIR),
        ("/tmp/..", 0, Errno::EISDIR),
        ("/etc/hello/", 0, Errno::ENOTDIR),
        ("/etc/none", 0, Errno::ENOENT),
        ("/proc/self", 0, Errno::EPERM),
        ("/proc", AT_REMOVEDIR, Errno::EBUSY),
        ("/", AT_REMOVEDIR, Errno::EBUSY),
        ("/tmp/.", AT_REMOVEDIR, Errno::EINVAL),
        ("/tmp/..", AT_REMOVEDIR, Errno::ENOTEMPTY),
        ("/etc", AT_REMOVEDIR, Errno::ENOTEMPTY),
        ("/etc/hello", AT_REMOVEDIR, Errno::ENOTDIR),
        ("/etc/hello", 1, Errno::EINVAL),
    ] {
        assert_eq!(unlink(&mut w, p, flags), Err(e), "{p:?} {flags:#x}");
    }
    assert_eq!(w.ctx().unlinkat(AT_FDCWD, HOLE, 0), Err(Errno::EFAULT));
    assert_eq!(rename(&mut w, "/etc/hello", "/proc/x", 0), Err(Errno::EXDEV));
    assert_eq!(rename(&mut w, "/proc", "/p2", 0), Err(Errno::EBUSY));
    assert_eq!(rename(&mut w, "/tmp/.", "/t2", 0), Err(Errno::EBUSY));
    assert_eq!(rename(&mut w, "/etc/hello", "/etc/link", 1), Err(Errno::EEXIST));
    assert_eq!(rename(&mut w, "/etc/hello", "/x", 4), Err(Errno::EINVAL));
    assert_eq!(rename(&mut w, "/etc/hello", "/x", 3), Err(Errno::EINVAL));
    assert_eq!(rename(&mut w, "/etc", "/etc/sub", 0), Err(Errno::EINVAL));
    // A file renamed while open stays open; its old name is gone, the new one has it.
    let fd = w.open("/etc/hello", o::O_RDONLY).unwrap();
    assert_eq!(rename(&mut w, "/etc/hello", "/tmp/moved", 0), Ok(()));
    assert_eq!(w.open("/etc/hello", o::O_RDONLY), Err(Errno::ENOENT));
    assert_eq!(unlink(&mut w, "/tmp/moved", 0), Ok(()));
    assert_eq!(w.stat(fd).st_nlink, 0);
    assert_eq!(w.read(fd, 100).unwrap(), HELLO);
    let Node::Ram(ino) = w.files.get(fd).unwrap().lock().node else { panic!("a ramfs file") };
    assert!(w.ns.ramfs.is_orphan(ino));
    w.ctx().close(fd).unwrap();
    assert_eq!(w.ns.ramfs.evict_orphans(), 1);
    assert!(w.ns.ramfs.inode(ino).is_none());
    w.ns.ramfs.verify().unwrap();
}

#[test]
fn working_directory_and_getcwd() {
    let mut w = world();
    let a = w.path("/etc");
    let etc = w.ctx().chdir(a).unwrap();
    w.cwd = etc;
    assert_eq!(w.ctx().getcwd(BUF, 64), Ok(5));
    assert_eq!(w.mem.peek(BUF, 5), b"/etc\0");
    assert_eq!(w.ctx().getcwd(BUF, 4), Err(Errno::ERANGE));
    assert_eq!(w.ctx().getcwd(HOLE, 64), Err(Errno::EFAULT));
    // Relative paths start there; `..` climbs.
    let fd = w.open("hello", o::O_RDONLY).unwrap();
    assert_eq!(w.read(fd, 100).unwrap(), HELLO);
    let a = w.path("../proc/self");
    w.cwd = w.ctx().chdir(a).unwrap();
    assert_eq!(w.ctx().getcwd(BUF, 64), Ok(8));
    assert_eq!(w.mem.peek(BUF, 8), b"/proc/1\0");
    let a = w.path("/etc/hello");
    assert_eq!(w.ctx().chdir(a), Err(Errno::ENOTDIR));
    assert_eq!(w.ctx().fchdir(fd), Err(Errno::ENOTDIR));
    assert_eq!(w.ctx().fchdir(77), Err(Errno::EBADF));
    // A removed working directory has no path.
    let a = w.path("/tmp/gone");
    w.ctx().mkdirat(AT_FDCWD, a, 0o755).unwrap();
    let gone = w.ctx().chdir(a).unwrap();
    let Node::Ram(ino) = gone else { panic!("a ramfs directory") };
    let hold = w.ns.ramfs.iget(ino);
    w.cwd = gone;
    let a = w.path("/tmp/gone");
    w.ctx().unlinkat(AT_FDCWD, a, AT_REMOVEDIR).unwrap();
    assert_eq!(w.ctx().getcwd(BUF, 64), Err(Errno::ENOENT));
    drop(hold);
    assert_eq!(w.ns.ramfs.evict_orphans(), 1);
}

#[test]
fn pipes_through_the_file_calls() {
    let mut w = world();
    w.ctx().pipe2(BUF, o::O_CLOEXEC).unwrap();
    let fds = w.mem.peek(BUF, 8);
    let (r, wr) = (
        i32::from_le_bytes(fds[..4].try_into().unwrap()),
        i32::from_le_bytes(fds[4..].try_into().unwrap()),
    );
    assert_eq!((r, wr), (0, 1));
    assert_eq!(w.files.cloexec(r), Ok(true));
    assert_eq!(w.stat(r).st_mode, S_IFIFO | 0o600);
    assert_eq!(w.read(r, 10), Err(Errno::EAGAIN));
    assert_eq!(w.write(wr, b"abc"), Ok(3));
    assert_eq!(w.write(r, b"abc"), Err(Errno::EBADF));
    assert_eq!(w.ctx().lseek(r, 0, 0), Err(Errno::ESPIPE));
    assert_eq!(w.ctx().pread64(r, BUF, 1, 0), Err(Errno::ESPIPE));
    assert_eq!(w.read(r, 10).unwrap(), b"abc");
    // More than a page in one read (a page at a time), only what is there, then EAGAIN.
    let data: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i % 241) as u8).collect();
    assert_eq!(w.write(wr, &data), Ok(data.len()));
    assert_eq!(w.read(r, BUF_LEN).unwrap(), data);
    assert_eq!(w.read(r, BUF_LEN), Err(Errno::EAGAIN));
    // A fault on the first byte of a write is EFAULT; the pipe is untouched.
    assert_eq!(w.ctx().write(wr, HOLE, 10), Err(Errno::EFAULT));
    w.ctx().close(wr).unwrap();
    assert_eq!(w.read(r, 10).unwrap(), b"");
    assert_eq!(w.ctx().pipe2(BUF, o::O_DIRECT), Err(Errno::EINVAL));
    assert_eq!(w.ctx().pipe2(RO, 0), Err(Errno::EFAULT));
    // Nothing was left installed by the failed call.
    assert_eq!(w.files.open_fds().collect::<Vec<_>>(), [r]);
    // A new pipe on 1 (read) and 2 (write): with its reader closed, a write is EPIPE.
    w.ctx().pipe2(BUF, 0).unwrap();
    w.ctx().close(1).unwrap();
    assert_eq!(w.write(2, b"x"), Err(Errno::EPIPE));
}
