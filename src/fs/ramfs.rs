//! The in-memory filesystem the initramfs is unpacked into, shaped like Linux's ramfs/tmpfs:
//! inodes (`i_ino`, `i_mode`, `i_size`, `i_nlink`, owner, times) in a table, directories as
//! sorted name -> inode maps, symlinks, device nodes, hard links, lookups by path with symlinks
//! followed as `path_lookupat` does, and regular files whose contents live in an
//! [`AddressSpace`]: page-sized chunks indexed by page offset, the seam where the kernel will put
//! page-cache pages (`find_get_page`, `find_or_create_page`, `truncate_inode_pages`). Every
//! file reports `st_dev` 00:02, like the reference's rootfs tmpfs.
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::mm::mm_types::{Errno, PAGE_SIZE};

/// `PATH_MAX`, `NAME_MAX`, `MAXSYMLINKS`.
pub const PATH_MAX: usize = 4096;
pub const NAME_MAX: usize = 255;
pub const MAXSYMLINKS: usize = 40;

/// File-type bits of `st_mode` (`S_IFMT` and the types).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;
/// Permission and set-id bits.
pub const S_IALLUGO: u32 = 0o7777;

/// The device the filesystem reports (`st_dev`): 00:02 like the reference's rootfs.
pub const RAMFS_DEV: (u32, u32) = (0, 2);
/// The root directory's inode number.
pub const ROOT_INO: Ino = 1;

/// An inode number.
pub type Ino = u64;
/// One page of file data.
pub type PageBuf = [u8; PAGE_SIZE];

/// A file's page cache (`struct address_space`): pages by index (`pgoff`). Pages not present
/// read as zeros (holes). The kernel will implement it over page frames from the page
/// allocator; the host uses [`BTreeAddressSpace`].
pub trait AddressSpace: Default {
    /// `find_get_page()`: the page at `index`, if the file has one (None: a hole). An error
    /// when the page could not be had now (the kernel's tmpfs brings a page back from swap
    /// here, and may stop the operation to wait for it with its locks dropped): the file
    /// operation ends short before that page.
    fn find_get_page(&self, index: u64) -> Result<Option<&PageBuf>, Errno>;
    /// `find_or_create_page()`: the page at `index`, a zeroed one added if absent; errors as
    /// for `find_get_page`.
    fn find_or_create_page(&mut self, index: u64) -> Result<&mut PageBuf, Errno>;
    /// `truncate_inode_pages()`: drop every page from `index` on.
    fn truncate_inode_pages(&mut self, index: u64);
    /// `mapping->nrpages`.
    fn nrpages(&self) -> u64;
    /// `i_size_write()`: the file's size changed (a kernel page cache that the fault path
    /// reads without the filesystem's lock keeps a copy; the host's needs none).
    fn set_size(&mut self, _size: u64) {}
    /// The inode number the file was given (a kernel page cache keys its pages by it for
    /// reclaim's reverse map; the host's needs none).
    fn set_ino(&mut self, _ino: Ino) {}
    /// `folio_mark_accessed()` of the page at `index`, which a read from its start or a write
    /// just used (`shmem_file_read_iter`, `shmem_get_folio` for `SGP_WRITE`): reclaim's aging
    /// of a kernel page cache's pages on the LRU; the host's has no LRU.
    fn mark_accessed(&self, _index: u64) {}
}

/// A page cache on the heap: boxed pages in a B-tree by index.
#[derive(Clone, Default, Debug)]
pub struct BTreeAddressSpace {
    pages: BTreeMap<u64, Box<PageBuf>>,
}

impl AddressSpace for BTreeAddressSpace {
    fn find_get_page(&self, index: u64) -> Result<Option<&PageBuf>, Errno> {
        Ok(self.pages.get(&index).map(|p| &**p))
    }
    fn find_or_create_page(&mut self, index: u64) -> Result<&mut PageBuf, Errno> {
        Ok(self.pages.entry(index).or_insert_with(|| Box::new([0; PAGE_SIZE])))
    }
    fn truncate_inode_pages(&mut self, index: u64) {
        self.pages.split_off(&index);
    }
    fn nrpages(&self) -> u64 {
        self.pages.len() as u64
    }
}

/// What an inode is.
#[derive(Clone, Debug)]
pub enum InodeKind<A> {
    /// Entries by name, and the parent directory (the root is its own parent).
    Dir {
        entries: BTreeMap<String, Ino>,
        parent: Ino,
    },
    Reg(A),
    Symlink(String),
    /// Character or block device, FIFO or socket: only the mode and `i_rdev` matter.
    Special,
}

/// A reference that keeps an inode alive after its last name is gone (Linux's `i_count`
/// held by an open file, a mapping's `vm_file`, a working directory): cloned from the inode
/// by [`Ramfs::iget`]; dropping the last clone is the `iput`, and an unlinked inode without
/// one is evicted (its pages freed) by the next [`Ramfs::evict_orphans`].
#[derive(Debug)]
pub struct InodeRef(pub Ino);

/// `rename` flags (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`).
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

/// `struct inode`, the fields the filesystem keeps.
#[derive(Clone, Debug)]
pub struct Inode<A> {
    pub i_ino: Ino,
    pub i_mode: u32,
    pub i_uid: u32,
    pub i_gid: u32,
    pub i_nlink: u32,
    pub i_size: u64,
    pub i_mtime: u64,
    pub i_rdev: (u32, u32),
    pub kind: InodeKind<A>,
    /// The inode's own reference: its strong count less one is `i_count`, the users that
    /// are not names.
    i_count: Arc<InodeRef>,
}

/// `struct stat`, as `stat`/`fstat64` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub st_dev: (u32, u32),
    pub st_ino: Ino,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: (u32, u32),
    pub st_size: u64,
    pub st_blksize: u32,
    /// 512-byte blocks: the pages the file holds.
    pub st_blocks: u64,
    pub st_mtime: u64,
}

/// The filesystem: an inode table and the root.
#[derive(Clone, Debug)]
pub struct Ramfs<A: AddressSpace = BTreeAddressSpace> {
    inodes: BTreeMap<Ino, Inode<A>>,
    next_ino: Ino,
    /// Inodes without a name that something still uses (`i_nlink` 0, `i_count` > 0).
    orphans: BTreeSet<Ino>,
}

impl<A: AddressSpace> Default for Ramfs<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// Splits a path into its parent path and last component (`"/a/b/"` -> `("/a", "b")`).
fn split_last(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => (if i == 0 { "/" } else { &trimmed[..i] }, &trimmed[i + 1..]),
        None => (".", trimmed),
    }
}

impl<A: AddressSpace> Ramfs<A> {
    /// An empty filesystem: the root directory, mode 0755, owned by root.
    pub fn new() -> Self {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                i_ino: ROOT_INO,
                i_mode: S_IFDIR | 0o755,
                i_uid: 0,
                i_gid: 0,
                i_nlink: 2,
                i_size: 0,
                i_mtime: 0,
                i_rdev: (0, 0),
                kind: InodeKind::Dir { entries: BTreeMap::new(), parent: ROOT_INO },
                i_count: Arc::new(InodeRef(ROOT_INO)),
            },
        );
        Ramfs { inodes, next_ino: ROOT_INO + 1, orphans: BTreeSet::new() }
    }

    /// The inode `ino`.
    pub fn inode(&self, ino: Ino) -> Option<&Inode<A>> {
        self.inodes.get(&ino)
    }

    /// Number of inodes (the root included).
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    fn dir_entries(&self, ino: Ino) -> Result<&BTreeMap<String, Ino>, Errno> {
        match &self.inodes.get(&ino).ok_or(Errno::ENOENT)?.kind {
            InodeKind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Resolve `path` from `ROOT_INO` (relative paths too), following symlinks in the middle
    /// and, if `follow` is set, at the end. `links` counts symlinks followed so far.
    fn walk(&self, start: Ino, path: &str, follow: bool, links: &mut usize) -> Result<Ino, Errno> {
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut cur = if path.starts_with('/') { ROOT_INO } else { start };
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        for (i, part) in parts.iter().enumerate() {
            if part.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let entries = self.dir_entries(cur)?;
            let next = if *part == ".." {
                match &self.inodes[&cur].kind {
                    InodeKind::Dir { parent, .. } => *parent,
                    _ => return Err(Errno::ENOTDIR),
                }
            } else {
                *entries.get(*part).ok_or(Errno::ENOENT)?
            };
            let last = i + 1 == parts.len();
            if let InodeKind::Symlink(target) = &self.inodes[&next].kind {
                if !last || follow {
                    *links += 1;
                    if *links > MAXSYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    cur = self.walk(cur, target, true, links)?;
                    continue;
                }
            }
            cur = next;
        }
        Ok(cur)
    }

    /// `lookup`: the inode at `path`, symlinks followed (as `stat`).
    pub fn lookup(&self, path: &str) -> Result<Ino, Errno> {
        self.walk(ROOT_INO, path, true, &mut 0)
    }

    /// The inode at `path` without following a final symlink (as `lstat`).
    pub fn lookup_nofollow(&self, path: &str) -> Result<Ino, Errno> {
        self.walk(ROOT_INO, path, false, &mut 0)
    }

    /// The directory that would hold `path`, and the new entry's name.
    fn parent_of<'p>(&self, path: &'p str) -> Result<(Ino, &'p str), Errno> {
        let (dir, name) = split_last(path);
        if name.is_empty() || name == "." || name == ".." {
            return Err(Errno::EEXIST);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir = self.lookup(dir)?;
        self.dir_entries(dir)?;
        Ok((dir, name))
    }

    fn add_inode(
        &mut self,
        dir: Ino,
        name: &str,
        mode: u32,
        kind: InodeKind<A>,
    ) -> Result<Ino, Errno> {
        if self.dir_entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut kind = kind;
        if let InodeKind::Reg(m) = &mut kind {
            m.set_ino(ino);
        }
        let is_dir = matches!(kind, InodeKind::Dir { .. });
        let i_size = match &kind {
            InodeKind::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        self.inodes.insert(
            ino,
            Inode {
                i_ino: ino,
                i_mode: mode,
                i_uid: 0,
                i_gid: 0,
                i_nlink: if is_dir { 2 } else { 1 },
                i_size,
                i_mtime: 0,
                i_rdev: (0, 0),
                kind,
                i_count: Arc::new(InodeRef(ino)),
            },
        );
        let parent = self.inodes.get_mut(&dir).expect("parent");
        if let InodeKind::Dir { entries, .. } = &mut parent.kind {
            entries.insert(name.into(), ino);
        }
        if is_dir {
            parent.i_nlink += 1;
        }
        Ok(ino)
    }

    /// `mkdir`: a new directory with permission bits `mode`.
    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<Ino, Errno> {
        let (dir, name) = self.parent_of(path)?;
        self.add_inode(
            dir,
            name,
            S_IFDIR | (mode & S_IALLUGO),
            InodeKind::Dir { entries: BTreeMap::new(), parent: dir },
        )
    }

    /// `open(O_CREAT)`: the regular file at `path`, created empty with `mode` if absent;
    /// `truncate` empties an existing one (`O_TRUNC`).
    pub fn create(&mut self, path: &str, mode: u32, truncate: bool) -> Result<Ino, Errno> {
        match self.lookup(path) {
            Ok(ino) => {
                match self.inodes[&ino].kind {
                    InodeKind::Reg(_) => {}
                    InodeKind::Dir { .. } => return Err(Errno::EISDIR),
                    _ => return Err(Errno::EACCES),
                }
                if truncate {
                    self.truncate(ino, 0)?;
                }
                Ok(ino)
            }
            Err(Errno::ENOENT) => {
                let (dir, name) = self.parent_of(path)?;
                self.add_inode(
                    dir,
                    name,
                    S_IFREG | (mode & S_IALLUGO),
                    InodeKind::Reg(A::default()),
                )
            }
            Err(e) => Err(e),
        }
    }

    /// `symlink(target, path)`.
    pub fn symlink(&mut self, target: &str, path: &str) -> Result<Ino, Errno> {
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (dir, name) = self.parent_of(path)?;
        self.add_inode(dir, name, S_IFLNK | 0o777, InodeKind::Symlink(target.into()))
    }

    /// `mknod`: a device node, FIFO or socket (`mode` carries the type).
    pub fn mknod(&mut self, path: &str, mode: u32, rdev: (u32, u32)) -> Result<Ino, Errno> {
        match mode & S_IFMT {
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {}
            _ => return Err(Errno::EINVAL),
        }
        let (dir, name) = self.parent_of(path)?;
        let ino = self.add_inode(dir, name, mode & (S_IFMT | S_IALLUGO), InodeKind::Special)?;
        self.inodes.get_mut(&ino).expect("new inode").i_rdev = rdev;
        Ok(ino)
    }

    /// `link(old, new)`: another name for a non-directory.
    pub fn link(&mut self, old: &str, new: &str) -> Result<Ino, Errno> {
        let ino = self.lookup_nofollow(old)?;
        if matches!(self.inodes[&ino].kind, InodeKind::Dir { .. }) {
            return Err(Errno::EPERM);
        }
        let (dir, name) = self.parent_of(new)?;
        if self.dir_entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if let InodeKind::Dir { entries, .. } = &mut self.inodes.get_mut(&dir).expect("dir").kind {
            entries.insert(name.into(), ino);
        }
        self.inodes.get_mut(&ino).expect("inode").i_nlink += 1;
        Ok(ino)
    }

    /// `unlink`: remove a non-directory's name; the inode goes with its last link (or, if
    /// still in use, with its last user).
    pub fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.parent_of(path)?;
        self.unlink_at(dir, name)
    }

    /// `rmdir`: remove an empty directory.
    pub fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.parent_of(path)?;
        self.rmdir_at(dir, name)
    }

    /// The inode `name` names in directory `dir`.
    pub fn entry(&self, dir: Ino, name: &str) -> Result<Ino, Errno> {
        self.dir_entries(dir)?.get(name).copied().ok_or(Errno::ENOENT)
    }

    fn is_dir_ino(&self, ino: Ino) -> bool {
        matches!(self.inodes.get(&ino).map(|i| &i.kind), Some(InodeKind::Dir { .. }))
    }

    fn entries_mut(&mut self, dir: Ino) -> &mut BTreeMap<String, Ino> {
        match &mut self.inodes.get_mut(&dir).expect("a directory").kind {
            InodeKind::Dir { entries, .. } => entries,
            _ => panic!("not a directory"),
        }
    }

    /// `drop_nlink`/`clear_nlink` of an inode that lost a name: at no links it is evicted, or
    /// kept as an orphan while something uses it.
    fn drop_link(&mut self, ino: Ino) {
        let inode = self.inodes.get_mut(&ino).expect("inode");
        if matches!(inode.kind, InodeKind::Dir { .. }) {
            inode.i_nlink = 0;
        } else {
            inode.i_nlink -= 1;
        }
        if inode.i_nlink == 0 {
            if Arc::strong_count(&inode.i_count) > 1 {
                self.orphans.insert(ino);
            } else {
                self.inodes.remove(&ino);
            }
        }
    }

    /// `shmem_unlink` of `name` in `dir` (`EISDIR` for a directory).
    pub fn unlink_at(&mut self, dir: Ino, name: &str) -> Result<(), Errno> {
        let ino = self.entry(dir, name)?;
        if self.is_dir_ino(ino) {
            return Err(Errno::EISDIR);
        }
        self.entries_mut(dir).remove(name);
        self.drop_link(ino);
        Ok(())
    }

    /// `shmem_rmdir` of `name` in `dir`: `ENOTDIR`, `ENOTEMPTY`; a directory still in use
    /// (a working directory, an open descriptor) lives on empty and dead.
    pub fn rmdir_at(&mut self, dir: Ino, name: &str) -> Result<(), Errno> {
        let ino = self.entry(dir, name)?;
        if !self.is_dir_ino(ino) {
            return Err(Errno::ENOTDIR);
        }
        if !self.dir_entries(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.entries_mut(dir).remove(name);
        self.inodes.get_mut(&dir).expect("dir").i_nlink -= 1;
        self.drop_link(ino);
        Ok(())
    }

    /// Whether `anc` is `ino` or one of its ancestors.
    fn is_ancestor(&self, anc: Ino, mut ino: Ino) -> bool {
        loop {
            if ino == anc {
                return true;
            }
            match self.inodes.get(&ino).map(|i| &i.kind) {
                Some(InodeKind::Dir { parent, .. }) if *parent != ino => ino = *parent,
                _ => return false,
            }
        }
    }

    /// `shmem_rename2`: moves `oname` in `odir` to `nname` in `ndir`, replacing what was
    /// there (`flags` 0), refusing to (`RENAME_NOREPLACE`: `EEXIST`) or swapping the two
    /// (`RENAME_EXCHANGE`), with `vfs_rename`'s checks: a directory only over an empty
    /// directory (`ENOTDIR`, `EISDIR`, `ENOTEMPTY`), never into itself (`EINVAL`); two names
    /// of one inode make it a no-op.
    pub fn rename_at(
        &mut self,
        odir: Ino,
        oname: &str,
        ndir: Ino,
        nname: &str,
        flags: u32,
    ) -> Result<(), Errno> {
        if nname.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let old = self.entry(odir, oname)?;
        self.dir_entries(ndir)?;
        let new = match self.entry(ndir, nname) {
            Ok(n) => Some(n),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        let exchange = flags & RENAME_EXCHANGE != 0;
        if exchange && new.is_none() {
            return Err(Errno::ENOENT);
        }
        if flags & RENAME_NOREPLACE != 0 && new.is_some() {
            return Err(Errno::EEXIST);
        }
        if new == Some(old) {
            return Ok(());
        }
        let old_dir = self.is_dir_ino(old);
        let new_dir = new.is_some_and(|n| self.is_dir_ino(n));
        // lock_rename's trap: a directory moved below itself (or, exchanging, the other way).
        if old_dir && self.is_ancestor(old, ndir) {
            return Err(Errno::EINVAL);
        }
        if exchange {
            let new = new.expect("checked");
            if new_dir && self.is_ancestor(new, odir) {
                return Err(Errno::EINVAL);
            }
            self.entries_mut(odir).insert(oname.into(), new);
            self.entries_mut(ndir).insert(nname.into(), old);
            for (ino, to, from, is_dir) in [(old, ndir, odir, old_dir), (new, odir, ndir, new_dir)]
            {
                if is_dir && to != from {
                    if let InodeKind::Dir { parent, .. } =
                        &mut self.inodes.get_mut(&ino).expect("inode").kind
                    {
                        *parent = to;
                    }
                    self.inodes.get_mut(&to).expect("dir").i_nlink += 1;
                    self.inodes.get_mut(&from).expect("dir").i_nlink -= 1;
                }
            }
            return Ok(());
        }
        if let Some(n) = new {
            match (old_dir, new_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.dir_entries(n)?.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        self.entries_mut(odir).remove(oname);
        self.entries_mut(ndir).insert(nname.into(), old);
        if old_dir {
            if let InodeKind::Dir { parent, .. } =
                &mut self.inodes.get_mut(&old).expect("inode").kind
            {
                *parent = ndir;
            }
            self.inodes.get_mut(&odir).expect("dir").i_nlink -= 1;
            self.inodes.get_mut(&ndir).expect("dir").i_nlink += 1;
        }
        if let Some(n) = new {
            if new_dir {
                // The replaced empty directory's `..` link goes with it.
                self.inodes.get_mut(&ndir).expect("dir").i_nlink -= 1;
            }
            self.drop_link(n);
        }
        Ok(())
    }

    /// `ihold`: a reference keeping inode `ino` alive while its holder uses it.
    pub fn iget(&self, ino: Ino) -> Option<Arc<InodeRef>> {
        self.inodes.get(&ino).map(|i| i.i_count.clone())
    }

    /// The inode's users besides its names (`i_count`).
    pub fn i_count(&self, ino: Ino) -> usize {
        self.inodes.get(&ino).map_or(0, |i| Arc::strong_count(&i.i_count) - 1)
    }

    /// Whether `ino` has lost its last name (`d_unlinked`).
    pub fn is_orphan(&self, ino: Ino) -> bool {
        self.orphans.contains(&ino)
    }

    /// `iput_final` of every orphan whose last user has gone: the inode and its pages are
    /// freed. Returns how many were evicted.
    pub fn evict_orphans(&mut self) -> usize {
        if self.orphans.is_empty() {
            return 0;
        }
        let dead: Vec<Ino> = self
            .orphans
            .iter()
            .copied()
            .filter(|i| self.inodes.get(i).is_none_or(|n| Arc::strong_count(&n.i_count) == 1))
            .collect();
        for i in &dead {
            self.orphans.remove(i);
            self.inodes.remove(i);
        }
        dead.len()
    }

    /// Set the owner, permission bits and modification time (`chown`, `chmod`, `utimes`).
    pub fn set_attr(
        &mut self,
        ino: Ino,
        uid: u32,
        gid: u32,
        mode: u32,
        mtime: u64,
    ) -> Result<(), Errno> {
        let i = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        i.i_uid = uid;
        i.i_gid = gid;
        i.i_mode = (i.i_mode & S_IFMT) | (mode & S_IALLUGO);
        i.i_mtime = mtime;
        Ok(())
    }

    fn reg_mut(&mut self, ino: Ino) -> Result<&mut Inode<A>, Errno> {
        let i = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        match i.kind {
            InodeKind::Reg(_) => Ok(i),
            InodeKind::Dir { .. } => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `write` at `offset`: the data goes into the file's pages; the size grows to cover it.
    /// A page that cannot be had ends the write short before it (the bytes written; its error
    /// when none were), as `generic_perform_write` returns what it copied.
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        let i = self.reg_mut(ino)?;
        let InodeKind::Reg(mapping) = &mut i.kind else { return Err(Errno::EINVAL) };
        let mut done = 0;
        let mut failed = None;
        while done < data.len() {
            let pos = offset + done as u64;
            let (index, off) = (pos / PAGE_SIZE as u64, (pos % PAGE_SIZE as u64) as usize);
            let n = (PAGE_SIZE - off).min(data.len() - done);
            match mapping.find_or_create_page(index) {
                Ok(page) => {
                    page[off..off + n].copy_from_slice(&data[done..done + n]);
                    mapping.mark_accessed(index);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            done += n;
        }
        let end = offset + done as u64;
        if end > i.i_size {
            i.i_size = end;
            mapping.set_size(end);
        }
        match failed {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// `read` at `offset` into `buf`: bytes up to `i_size`, holes as zeros. A page that cannot
    /// be had ends the read short before it (the bytes read; its error when none were).
    pub fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let i = self.inodes.get(&ino).ok_or(Errno::ENOENT)?;
        let mapping = match &i.kind {
            InodeKind::Reg(m) => m,
            InodeKind::Dir { .. } => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if offset >= i.i_size {
            return Ok(0);
        }
        let len = buf.len().min((i.i_size - offset) as usize);
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let (index, off) = (pos / PAGE_SIZE as u64, (pos % PAGE_SIZE as u64) as usize);
            let n = (PAGE_SIZE - off).min(len - done);
            match mapping.find_get_page(index) {
                Ok(Some(p)) => {
                    buf[done..done + n].copy_from_slice(&p[off..off + n]);
                    // 6.1 marks the page accessed when the read takes its beginning.
                    if off == 0 {
                        mapping.mark_accessed(index);
                    }
                }
                Ok(None) => buf[done..done + n].fill(0),
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
            done += n;
        }
        Ok(len)
    }

    /// `truncate`: set the size; pages wholly past it are dropped and the tail of the last
    /// page is zeroed, so growing again reads zeros. The partial page is had first: when it
    /// cannot be (its error), nothing has changed.
    pub fn truncate(&mut self, ino: Ino, size: u64) -> Result<(), Errno> {
        let i = self.reg_mut(ino)?;
        let InodeKind::Reg(mapping) = &mut i.kind else { return Err(Errno::EINVAL) };
        let page = PAGE_SIZE as u64;
        if !size.is_multiple_of(page) {
            if let Some(p) = mapping.find_get_page(size / page)? {
                let mut copy = *p;
                copy[(size % page) as usize..].fill(0);
                *mapping.find_or_create_page(size / page)? = copy;
            }
        }
        mapping.truncate_inode_pages(size.div_ceil(page));
        mapping.set_size(size);
        i.i_size = size;
        Ok(())
    }

    /// `readlink`.
    pub fn readlink(&self, ino: Ino) -> Result<&str, Errno> {
        match &self.inodes.get(&ino).ok_or(Errno::ENOENT)?.kind {
            InodeKind::Symlink(t) => Ok(t),
            _ => Err(Errno::EINVAL),
        }
    }

    /// A directory's entries in name order.
    pub fn readdir(&self, ino: Ino) -> Result<impl Iterator<Item = (&str, Ino)>, Errno> {
        Ok(self.dir_entries(ino)?.iter().map(|(n, &i)| (n.as_str(), i)))
    }

    /// `stat` of an inode.
    pub fn stat(&self, ino: Ino) -> Result<Stat, Errno> {
        let i = self.inodes.get(&ino).ok_or(Errno::ENOENT)?;
        let pages = match &i.kind {
            InodeKind::Reg(m) => m.nrpages(),
            _ => 0,
        };
        Ok(Stat {
            st_dev: RAMFS_DEV,
            st_ino: i.i_ino,
            st_mode: i.i_mode,
            st_nlink: i.i_nlink,
            st_uid: i.i_uid,
            st_gid: i.i_gid,
            st_rdev: i.i_rdev,
            st_size: i.i_size,
            st_blksize: PAGE_SIZE as u32,
            st_blocks: pages * (PAGE_SIZE as u64 / 512),
            st_mtime: i.i_mtime,
        })
    }

    /// Checks the filesystem's invariants: every entry names a live inode, each inode's link
    /// count equals the names it has (plus `.` and the subdirectories' `..` for a directory),
    /// each directory has one name and knows its parent, and no inode is unreachable. The first
    /// broken one is returned as text.
    pub fn verify(&self) -> Result<(), String> {
        use alloc::format;
        let mut names: BTreeMap<Ino, u32> = BTreeMap::new();
        let mut subdirs: BTreeMap<Ino, u32> = BTreeMap::new();
        for (&dir, inode) in &self.inodes {
            if let InodeKind::Dir { entries, .. } = &inode.kind {
                for (name, &child) in entries {
                    let Some(c) = self.inodes.get(&child) else {
                        return Err(format!(
                            "entry {name} of directory {dir} names missing inode {child}"
                        ));
                    };
                    *names.entry(child).or_default() += 1;
                    if let InodeKind::Dir { parent, .. } = &c.kind {
                        if *parent != dir {
                            return Err(format!(
                                "directory {child} is in {dir} but names {parent} as parent"
                            ));
                        }
                        *subdirs.entry(dir).or_default() += 1;
                    }
                }
            }
        }
        for (&ino, inode) in &self.inodes {
            let n = names.get(&ino).copied().unwrap_or(0);
            if self.orphans.contains(&ino) {
                if n != 0 || inode.i_nlink != 0 {
                    return Err(format!("orphan {ino} has {n} names, i_nlink {}", inode.i_nlink));
                }
                continue;
            }
            let want = match inode.kind {
                InodeKind::Dir { .. } => {
                    if ino != ROOT_INO && n != 1 {
                        return Err(format!("directory {ino} has {n} names"));
                    }
                    2 + subdirs.get(&ino).copied().unwrap_or(0)
                }
                _ => n,
            };
            if inode.i_nlink != want {
                return Err(format!("inode {ino}: i_nlink {} but {want} links", inode.i_nlink));
            }
            if ino != ROOT_INO && n == 0 {
                return Err(format!("inode {ino} is unreachable"));
            }
        }
        Ok(())
    }

    /// The file's page cache, for the fault path (`file->f_mapping`).
    pub fn mapping(&self, ino: Ino) -> Option<&A> {
        match &self.inodes.get(&ino)?.kind {
            InodeKind::Reg(m) => Some(m),
            _ => None,
        }
    }
}

/// `ls -l`'s type letter and permission string (`drwxr-xr-x`), set-id and sticky bits included.
pub fn mode_string(mode: u32) -> String {
    let t = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        _ => '-',
    };
    let mut s = String::new();
    s.push(t);
    let bit = |b: u32, c: char| if mode & b != 0 { c } else { '-' };
    let exec = |x: u32, special: u32, set: char| match (mode & x != 0, mode & special != 0) {
        (true, true) => set,
        (false, true) => set.to_ascii_uppercase(),
        (true, false) => 'x',
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(exec(0o100, 0o4000, 's'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(exec(0o010, 0o2000, 's'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(exec(0o001, 0o1000, 't'));
    s
}

/// `ls -l PATH`: one line per entry of a directory (or the file itself), as busybox prints
/// them without dates: mode, links, owner, group, size (or `major, minor`), name and
/// `-> target` for symlinks.
pub fn render_ls<A: AddressSpace>(
    w: &mut impl fmt::Write,
    fs: &Ramfs<A>,
    path: &str,
) -> Result<(), LsError> {
    let ino = fs.lookup(path).map_err(LsError::Errno)?;
    let line = |w: &mut dyn fmt::Write, name: &str, ino: Ino| -> fmt::Result {
        let st = fs.stat(ino).map_err(|_| fmt::Error)?;
        write!(
            w,
            "{} {:>4} {:<8} {:<8} ",
            mode_string(st.st_mode),
            st.st_nlink,
            st.st_uid,
            st.st_gid
        )?;
        match st.st_mode & S_IFMT {
            S_IFCHR | S_IFBLK => write!(w, "{:>4}, {:>4} ", st.st_rdev.0, st.st_rdev.1)?,
            _ => write!(w, "{:>10} ", st.st_size)?,
        }
        w.write_str(name)?;
        if let Ok(t) = fs.readlink(ino) {
            write!(w, " -> {t}")?;
        }
        w.write_str("\n")
    };
    match fs.readdir(ino) {
        Ok(entries) => {
            for (name, child) in entries {
                line(w, name, child).map_err(|_| LsError::Fmt)?;
            }
        }
        Err(_) => line(w, path, ino).map_err(|_| LsError::Fmt)?,
    }
    Ok(())
}

/// Why `ls` printed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsError {
    Errno(Errno),
    Fmt,
}

/// An open file: the inode and the position (`struct file`'s `f_pos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    pub ino: Ino,
    pub pos: u64,
}

/// `lseek`'s `whence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
}

impl File {
    /// `open` of an existing file, symlinks followed.
    pub fn open<A: AddressSpace>(fs: &Ramfs<A>, path: &str) -> Result<File, Errno> {
        Ok(File { ino: fs.lookup(path)?, pos: 0 })
    }

    /// `read`: from the position, which moves on.
    pub fn read<A: AddressSpace>(&mut self, fs: &Ramfs<A>, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = fs.read(self.ino, self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    /// `lseek`: `EINVAL` for a negative result.
    pub fn lseek<A: AddressSpace>(
        &mut self,
        fs: &Ramfs<A>,
        offset: i64,
        whence: Whence,
    ) -> Result<u64, Errno> {
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => self.pos as i64,
            Whence::End => fs.stat(self.ino)?.st_size as i64,
        };
        let pos = base.checked_add(offset).filter(|p| *p >= 0).ok_or(Errno::EINVAL)?;
        self.pos = pos as u64;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fs = Ramfs<BTreeAddressSpace>;

    /// A page cache whose pages at the indexes in `away` cannot be had (as the kernel's tmpfs
    /// page in swap that a read must stop for), recording the inode number it was given.
    #[derive(Default)]
    struct Away {
        pages: BTreeAddressSpace,
        away: alloc::collections::BTreeSet<u64>,
        /// The pages marked accessed, in order.
        accessed: core::cell::RefCell<Vec<u64>>,
        ino: Ino,
    }

    impl AddressSpace for Away {
        fn find_get_page(&self, index: u64) -> Result<Option<&PageBuf>, Errno> {
            if self.away.contains(&index) {
                return Err(Errno::EFAULT);
            }
            self.pages.find_get_page(index)
        }
        fn find_or_create_page(&mut self, index: u64) -> Result<&mut PageBuf, Errno> {
            if self.away.contains(&index) {
                return Err(Errno::EFAULT);
            }
            self.pages.find_or_create_page(index)
        }
        fn truncate_inode_pages(&mut self, index: u64) {
            self.pages.truncate_inode_pages(index);
        }
        fn nrpages(&self) -> u64 {
            self.pages.nrpages()
        }
        fn set_ino(&mut self, ino: Ino) {
            self.ino = ino;
        }
        fn mark_accessed(&self, index: u64) {
            self.accessed.borrow_mut().push(index);
        }
    }

    #[test]
    fn reads_from_a_pages_start_and_writes_mark_it_accessed() {
        let mut fs = Ramfs::<Away>::new();
        let f = fs.create("/f", 0o644, true).unwrap();
        let data = alloc::vec![7u8; 3 * PAGE_SIZE];
        assert_eq!(fs.write(f, 10, &data[..2 * PAGE_SIZE]), Ok(2 * PAGE_SIZE));
        let accessed = |fs: &mut Ramfs<Away>| {
            core::mem::take(&mut *fs.mapping(f).unwrap().accessed.borrow_mut())
        };
        assert_eq!(accessed(&mut fs), [0, 1, 2], "every page a write touches");
        let mut buf = alloc::vec![0u8; 3 * PAGE_SIZE];
        // From the middle of page 0 into pages 1 and 2: 6.1 marks those whose start it read.
        assert_eq!(fs.read(f, 100, &mut buf), Ok(2 * PAGE_SIZE - 90));
        assert_eq!(accessed(&mut fs), [1, 2]);
        assert_eq!(fs.read(f, 0, &mut buf[..1]), Ok(1));
        assert_eq!(accessed(&mut fs), [0]);
        // A hole is no page: nothing to mark.
        let g = fs.create("/g", 0o644, true).unwrap();
        assert_eq!(fs.write(g, 2 * PAGE_SIZE as u64, b"x"), Ok(1));
        let _ = core::mem::take(&mut *fs.mapping(g).unwrap().accessed.borrow_mut());
        assert_eq!(fs.read(g, 0, &mut buf[..PAGE_SIZE]), Ok(PAGE_SIZE));
        assert!(fs.mapping(g).unwrap().accessed.borrow().is_empty());
    }

    fn away(fs: &mut Ramfs<Away>, ino: Ino) -> &mut alloc::collections::BTreeSet<u64> {
        let Some(Inode { kind: InodeKind::Reg(m), .. }) = fs.inodes.get_mut(&ino) else {
            panic!("a regular file")
        };
        &mut m.away
    }

    #[test]
    fn a_page_that_cannot_be_had_ends_read_and_write_short_before_it() {
        let mut fs = Ramfs::<Away>::new();
        let f = fs.create("/f", 0o644, true).unwrap();
        assert_eq!(fs.mapping(f).unwrap().ino, f, "the cache knows its inode");
        let data: Vec<u8> = (0..3 * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
        assert_eq!(fs.write(f, 0, &data), Ok(data.len()));
        away(&mut fs, f).insert(1);
        // A read from page 0 stops at page 1 with what it read; one starting there fails.
        let mut buf = alloc::vec![0u8; 3 * PAGE_SIZE];
        assert_eq!(fs.read(f, 100, &mut buf), Ok(PAGE_SIZE - 100));
        assert_eq!(&buf[..PAGE_SIZE - 100], &data[100..PAGE_SIZE]);
        assert_eq!(fs.read(f, PAGE_SIZE as u64 + 5, &mut buf), Err(Errno::EFAULT));
        // A write across it stops before it, the size grown only by what was written.
        let g = fs.create("/g", 0o644, true).unwrap();
        away(&mut fs, g).insert(1);
        assert_eq!(fs.write(g, 10, &data), Ok(PAGE_SIZE - 10));
        assert_eq!(fs.stat(g).unwrap().st_size, PAGE_SIZE as u64);
        assert_eq!(fs.write(g, PAGE_SIZE as u64, b"x"), Err(Errno::EFAULT));
        // Back: the rest reads as written.
        away(&mut fs, f).clear();
        assert_eq!(fs.read(f, PAGE_SIZE as u64 + 5, &mut buf[..10]), Ok(10));
        assert_eq!(&buf[..10], &data[PAGE_SIZE + 5..PAGE_SIZE + 15]);
    }

    #[test]
    fn truncate_changes_nothing_when_its_partial_page_cannot_be_had() {
        let mut fs = Ramfs::<Away>::new();
        let f = fs.create("/f", 0o644, true).unwrap();
        let data = alloc::vec![7u8; 3 * PAGE_SIZE];
        fs.write(f, 0, &data).unwrap();
        away(&mut fs, f).insert(1);
        let cut = PAGE_SIZE as u64 + 10;
        assert_eq!(fs.truncate(f, cut), Err(Errno::EFAULT));
        assert_eq!(fs.stat(f).unwrap().st_size, 3 * PAGE_SIZE as u64);
        assert_eq!(fs.mapping(f).unwrap().nrpages(), 3);
        away(&mut fs, f).clear();
        fs.truncate(f, cut).unwrap();
        assert_eq!(fs.mapping(f).unwrap().nrpages(), 2);
        let mut buf = [1u8; 20];
        assert_eq!(fs.read(f, cut - 10, &mut buf), Ok(10));
        assert_eq!(&buf[..10], &[7; 10]);
        // Grown again: the tail past the cut reads as zeros.
        fs.truncate(f, cut + 10).unwrap();
        assert_eq!(fs.read(f, cut, &mut buf), Ok(10));
        assert_eq!(&buf[..10], &[0; 10]);
    }

    #[test]
    fn split_last_handles_roots_and_trailing_slashes() {
        assert_eq!(split_last("/a/b"), ("/a", "b"));
        assert_eq!(split_last("/a"), ("/", "a"));
        assert_eq!(split_last("a"), (".", "a"));
        assert_eq!(split_last("/a/b/"), ("/a", "b"));
    }

    #[test]
    fn tree_lookup_links_and_symlinks() {
        let mut fs = Fs::new();
        fs.mkdir("/bin", 0o755).unwrap();
        fs.mkdir("/lib", 0o755).unwrap();
        let f = fs.create("/bin/busybox", 0o755, true).unwrap();
        fs.write(f, 0, b"\x7fELF").unwrap();
        fs.link("/bin/busybox", "/bin/sh").unwrap();
        fs.symlink("busybox", "/bin/ls").unwrap();
        fs.symlink("/bin", "/sbin").unwrap();
        fs.symlink("/loop", "/loop").unwrap();
        assert_eq!(fs.lookup("/bin/sh"), Ok(f));
        assert_eq!(fs.lookup("/bin/ls"), Ok(f));
        assert_eq!(fs.lookup("/sbin/ls"), Ok(f));
        assert_eq!(fs.lookup("/lib/../bin/./busybox"), Ok(f));
        assert_eq!(fs.lookup("/../../bin/busybox"), Ok(f));
        assert_ne!(fs.lookup_nofollow("/bin/ls"), Ok(f));
        assert_eq!(fs.lookup("/loop"), Err(Errno::ELOOP));
        assert_eq!(fs.lookup("/bin/busybox/x"), Err(Errno::ENOTDIR));
        assert_eq!(fs.lookup("/nope"), Err(Errno::ENOENT));
        let st = fs.stat(f).unwrap();
        assert_eq!(
            (st.st_dev, st.st_nlink, st.st_size, st.st_mode),
            ((0, 2), 2, 4, S_IFREG | 0o755)
        );
        assert_eq!(fs.stat(ROOT_INO).unwrap().st_nlink, 4);
        assert_eq!(fs.mkdir("/bin", 0o755), Err(Errno::EEXIST));
        assert_eq!(fs.mkdir("/x/y", 0o755), Err(Errno::ENOENT));
        assert_eq!(fs.link("/bin", "/b2"), Err(Errno::EPERM));
        assert_eq!(fs.rmdir("/bin"), Err(Errno::ENOTEMPTY));
        fs.unlink("/bin/busybox").unwrap();
        assert_eq!(fs.lookup("/bin/sh"), Ok(f));
        assert_eq!(fs.stat(f).unwrap().st_nlink, 1);
        fs.unlink("/bin/sh").unwrap();
        assert!(fs.inode(f).is_none());
        let long = "x".repeat(NAME_MAX + 1);
        assert_eq!(fs.create(&alloc::format!("/{long}"), 0o644, true), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn files_are_pages_with_holes_and_truncation() {
        let mut fs = Fs::new();
        let f = fs.create("/data", 0o644, true).unwrap();
        fs.write(f, 5000, b"hello").unwrap();
        assert_eq!(fs.stat(f).unwrap().st_size, 5005);
        // Page 0 is a hole: not in the cache, reads as zeros.
        let m = fs.mapping(f).unwrap();
        assert!(m.find_get_page(0).unwrap().is_none());
        assert_eq!(m.nrpages(), 1);
        assert_eq!(&m.find_get_page(1).unwrap().unwrap()[904..909], b"hello");
        let mut buf = [1u8; 8];
        assert_eq!(fs.read(f, 4998, &mut buf), Ok(7));
        assert_eq!(&buf[..7], b"\0\0hello");
        fs.truncate(f, 5002).unwrap();
        fs.truncate(f, 6000).unwrap();
        let mut buf = [1u8; 5];
        fs.read(f, 5000, &mut buf).unwrap();
        assert_eq!(&buf, b"he\0\0\0");
        fs.truncate(f, 0).unwrap();
        assert_eq!(fs.mapping(f).unwrap().nrpages(), 0);
        let mut file = File::open(&fs, "/data").unwrap();
        assert_eq!(file.lseek(&fs, -1, Whence::Set), Err(Errno::EINVAL));
        assert_eq!(file.read(&fs, &mut buf), Ok(0));
    }

    #[test]
    fn ls_lists_like_busybox_without_dates() {
        let mut fs = Fs::new();
        fs.mkdir("/dev", 0o755).unwrap();
        fs.mknod("/dev/console", S_IFCHR | 0o600, (5, 1)).unwrap();
        let f = fs.create("/init", 0o4755, true).unwrap();
        fs.write(f, 0, &[0; 1234]).unwrap();
        fs.symlink("/init", "/linuxrc").unwrap();
        let mut out = String::new();
        render_ls(&mut out, &fs, "/").unwrap();
        assert_eq!(
            out,
            "drwxr-xr-x    2 0        0                 0 dev\n\
             -rwsr-xr-x    1 0        0              1234 init\n\
             lrwxrwxrwx    1 0        0                 5 linuxrc -> /init\n"
        );
        let mut out = String::new();
        render_ls(&mut out, &fs, "/dev").unwrap();
        assert_eq!(out, "crw-------    1 0        0           5,    1 console\n");
        assert_eq!(render_ls(&mut out, &fs, "/none"), Err(LsError::Errno(Errno::ENOENT)));
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
    }

    #[test]
    fn an_unlinked_file_lives_until_its_last_user_goes() {
        let mut fs = Fs::new();
        fs.mkdir("/d", 0o755).unwrap();
        let f = fs.create("/d/f", 0o644, true).unwrap();
        fs.write(f, 0, b"data").unwrap();
        let r = fs.iget(f).unwrap();
        assert_eq!(fs.i_count(f), 1);
        fs.unlink("/d/f").unwrap();
        assert_eq!(fs.lookup("/d/f"), Err(Errno::ENOENT));
        assert!(fs.is_orphan(f));
        assert_eq!(fs.stat(f).unwrap().st_nlink, 0);
        let mut buf = [0u8; 4];
        assert_eq!(fs.read(f, 0, &mut buf), Ok(4));
        assert_eq!(fs.evict_orphans(), 0);
        fs.verify().unwrap();
        drop(r);
        assert_eq!(fs.evict_orphans(), 1);
        assert!(fs.inode(f).is_none());
        fs.verify().unwrap();
        // A directory in use (a cwd) lives on, empty, after rmdir.
        let d = fs.lookup("/d").unwrap();
        let r = fs.iget(d).unwrap();
        fs.rmdir("/d").unwrap();
        assert_eq!(fs.stat(ROOT_INO).unwrap().st_nlink, 2);
        assert_eq!(fs.stat(d).unwrap().st_nlink, 0);
        fs.verify().unwrap();
        drop(r);
        fs.evict_orphans();
        assert_eq!(fs.inode_count(), 1);
    }

    #[test]
    fn rename_moves_replaces_and_exchanges_as_shmem() {
        let mut fs = Fs::new();
        for d in ["/a", "/a/sub", "/b", "/e"] {
            fs.mkdir(d, 0o755).unwrap();
        }
        let f = fs.create("/a/f", 0o644, true).unwrap();
        let g = fs.create("/b/g", 0o644, true).unwrap();
        let (a, b, e) =
            (fs.lookup("/a").unwrap(), fs.lookup("/b").unwrap(), fs.lookup("/e").unwrap());
        assert_eq!(fs.rename_at(a, "f", b, "g", RENAME_NOREPLACE), Err(Errno::EEXIST));
        assert_eq!(fs.rename_at(a, "nope", b, "x", 0), Err(Errno::ENOENT));
        assert_eq!(fs.rename_at(a, "f", b, "f2", RENAME_EXCHANGE), Err(Errno::ENOENT));
        assert_eq!(fs.rename_at(a, "sub", b, "g", 0), Err(Errno::ENOTDIR));
        assert_eq!(fs.rename_at(b, "g", a, "sub", 0), Err(Errno::EISDIR));
        assert_eq!(fs.rename_at(ROOT_INO, "a", a, "x", 0), Err(Errno::EINVAL));
        assert_eq!(fs.rename_at(ROOT_INO, "b", ROOT_INO, "a", 0), Err(Errno::ENOTEMPTY));
        // Over an existing file: the old one loses its name.
        fs.rename_at(a, "f", b, "g", 0).unwrap();
        assert!(fs.inode(g).is_none());
        assert_eq!(fs.lookup("/b/g"), Ok(f));
        // A directory moves: both parents' link counts follow.
        fs.rename_at(a, "sub", b, "sub", 0).unwrap();
        assert_eq!(fs.stat(a).unwrap().st_nlink, 2);
        assert_eq!(fs.stat(b).unwrap().st_nlink, 3);
        assert_eq!(fs.lookup("/b/sub/.."), Ok(b));
        // Over an empty directory.
        fs.rename_at(b, "sub", ROOT_INO, "e", 0).unwrap();
        assert!(fs.inode(e).is_none());
        fs.verify().unwrap();
        // Exchange a file and a directory.
        fs.rename_at(b, "g", ROOT_INO, "e", RENAME_EXCHANGE).unwrap();
        assert_eq!(fs.lookup("/e"), Ok(f));
        assert_eq!(fs.lookup("/b/g/.."), Ok(b));
        fs.verify().unwrap();
        // Two names of one inode: nothing happens.
        fs.link("/e", "/b/h").unwrap();
        fs.rename_at(b, "h", ROOT_INO, "e", 0).unwrap();
        assert_eq!(fs.lookup("/b/h"), Ok(f));
        fs.verify().unwrap();
    }

    #[derive(Debug, Clone)]
    enum FsOp {
        Mkdir(String),
        Create(String),
        Symlink(String, String),
        Link(String, String),
        Unlink(String),
        Rmdir(String),
        Lookup(String),
        Rename(String, String, u32),
        /// Takes a reference to the inode at the path (an open file, a cwd).
        Hold(String),
        /// Drops the oldest reference held, then evicts what lost its last user.
        Put,
    }

    /// Paths over a tiny alphabet, with `.`, `..`, doubled and trailing slashes.
    fn path() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof!["a", "b", "c", "..", ".", ""], 1..5)
            .prop_map(|parts| alloc::format!("/{}", parts.join("/")))
    }

    fn fs_op() -> impl Strategy<Value = FsOp> {
        prop_oneof![
            path().prop_map(FsOp::Mkdir),
            path().prop_map(FsOp::Create),
            (path(), path()).prop_map(|(a, b)| FsOp::Symlink(a, b)),
            (path(), path()).prop_map(|(a, b)| FsOp::Link(a, b)),
            path().prop_map(FsOp::Unlink),
            path().prop_map(FsOp::Rmdir),
            path().prop_map(FsOp::Lookup),
            (path(), path(), 0u32..3).prop_map(|(a, b, f)| FsOp::Rename(a, b, f)),
            path().prop_map(FsOp::Hold),
            Just(FsOp::Put),
        ]
    }

    proptest! {
        /// Any sequence of namespace operations on arbitrary paths (symlink loops included)
        /// returns errors, never panics, and keeps link counts and parents consistent.
        #[test]
        fn namespace_operations_keep_the_tree_consistent(ops in proptest::collection::vec(fs_op(), 1..60)) {
            let mut fs = Fs::new();
            let mut held = alloc::collections::VecDeque::new();
            for op in ops {
                let _ = match &op {
                    FsOp::Rename(a, b, f) => (|| {
                        let (od, on) = split_last(a);
                        let (nd, nn) = split_last(b);
                        let (od, nd) = (fs.lookup(od)?, fs.lookup(nd)?);
                        fs.rename_at(od, on, nd, nn, *f)
                    })(),
                    FsOp::Hold(p) => fs.lookup(p).map(|i| held.push_back(fs.iget(i).unwrap())),
                    FsOp::Put => {
                        held.pop_front();
                        fs.evict_orphans();
                        Ok(())
                    }
                    FsOp::Mkdir(p) => fs.mkdir(p, 0o755).map(|_| ()),
                    FsOp::Create(p) => fs.create(p, 0o644, true).map(|_| ()),
                    FsOp::Symlink(t, p) => fs.symlink(t, p).map(|_| ()),
                    FsOp::Link(a, b) => fs.link(a, b).map(|_| ()),
                    FsOp::Unlink(p) => fs.unlink(p),
                    FsOp::Rmdir(p) => fs.rmdir(p),
                    FsOp::Lookup(p) => fs.lookup(p).map(|_| ()),
                };
                fs.verify().map_err(|e| TestCaseError::fail(alloc::format!("after {op:?}: {e}")))?;
            }
        }

        /// Reads and writes at any offset agree with a flat byte vector.
        #[test]
        fn file_contents_match_a_flat_model(ops in proptest::collection::vec((0u64..20000, proptest::collection::vec(any::<u8>(), 0..5000), any::<bool>()), 1..20)) {
            let mut fs = Fs::new();
            let f = fs.create("/f", 0o644, true).unwrap();
            let mut model: Vec<u8> = Vec::new();
            for (off, data, trunc) in ops {
                if trunc {
                    fs.truncate(f, off).unwrap();
                    model.resize(off as usize, 0);
                } else {
                    fs.write(f, off, &data).unwrap();
                    let end = off as usize + data.len();
                    if model.len() < end { model.resize(end, 0); }
                    model[off as usize..end].copy_from_slice(&data);
                }
                let mut buf = alloc::vec![0u8; model.len() + 10];
                let n = fs.read(f, 0, &mut buf).unwrap();
                prop_assert_eq!(&buf[..n], &model[..]);
            }
        }
    }
}
