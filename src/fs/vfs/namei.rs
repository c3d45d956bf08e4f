//! The calls that change names or the working directory, as 6.1's `fs/namei.c` and
//! `fs/open.c` order their checks: `unlinkat` (and `rmdir` through `AT_REMOVEDIR`),
//! `renameat2` with `RENAME_NOREPLACE` and `RENAME_EXCHANGE`, `chdir`/`fchdir` and
//! `getcwd`. A name's removal goes through the ramfs, which keeps an inode that is still open,
//! mapped or a working directory until its last user goes.
use alloc::string::String;

use super::{Ctx, Namespace, Node, AT_FDCWD, AT_REMOVEDIR};
use crate::abi::errno::Errno;
use crate::abi::uaccess::{getname, UserMemory};
use crate::fs::ramfs::{AddressSpace, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};

/// What the last component of a path is (`enum last_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LastType {
    Norm,
    Dot,
    DotDot,
    Root,
}

/// The last component's type, from the path's text.
fn last_type(path: &[u8]) -> LastType {
    let t = path.iter().rposition(|&b| b != b'/').map_or(&path[..0], |e| &path[..=e]);
    if t.is_empty() {
        return LastType::Root;
    }
    let last = t.rsplit(|&b| b == b'/').next().unwrap_or(t);
    match last {
        b"." => LastType::Dot,
        b".." => LastType::DotDot,
        _ => LastType::Norm,
    }
}

/// A parent directory, the last name and whether a slash followed it
/// (`filename_parentat`), with the last component's type.
struct Parent {
    dir: Node,
    name: String,
    slash: bool,
    kind: LastType,
}

impl<A: AddressSpace, M: UserMemory> Ctx<'_, A, M> {
    fn parent_at(&self, dirfd: i32, path: &[u8]) -> Result<Parent, Errno> {
        let start = self.start(dirfd, path)?;
        let (dir, name, slash) = self.ns.walk_parent(self.proc, start, path, &mut 0)?;
        let kind = last_type(path);
        Ok(Parent { dir, name: name.unwrap_or_default(), slash, kind })
    }

    /// `unlinkat(dirfd, path, flags)`: `EINVAL` for flags other than `AT_REMOVEDIR`.
    pub fn unlinkat(&mut self, dirfd: i32, path: usize, flags: u32) -> Result<(), Errno> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let name = getname(self.mem, path, false)?;
        if flags & AT_REMOVEDIR != 0 {
            self.do_rmdir(dirfd, &name)
        } else {
            self.do_unlinkat(dirfd, &name)
        }
    }

    /// `do_unlinkat`: `EISDIR` for `.`, `..`, `/` and directories, `ENOTDIR` for a file
    /// named with a trailing slash, `EROFS` on `/boot` (before the lookup, as
    /// `mnt_want_write` comes first), `EPERM` in `/proc` (no `unlink` operation).
    fn do_unlinkat(&mut self, dirfd: i32, path: &[u8]) -> Result<(), Errno> {
        let p = self.parent_at(dirfd, path)?;
        if p.kind != LastType::Norm {
            return Err(Errno::EISDIR);
        }
        let proc = self.proc;
        match p.dir {
            Node::Disk(_) => Err(Errno::EROFS),
            Node::Ram(d) => {
                let ino = self.ns.ramfs.entry(d, &p.name)?;
                let is_dir = self.ns.is_dir(Node::Ram(ino));
                if is_dir {
                    return Err(Errno::EISDIR);
                }
                if p.slash {
                    return Err(Errno::ENOTDIR);
                }
                self.ns.ramfs.unlink_at(d, &p.name)
            }
            dir => {
                let n = self.ns.child(proc, dir, &p.name)?;
                Err(match (p.slash, self.ns.is_dir(n)) {
                    (_, true) => Errno::EISDIR,
                    (true, false) => Errno::ENOTDIR,
                    _ => Errno::EPERM,
                })
            }
        }
    }

    /// `do_rmdir`: `ENOTEMPTY` for `..`, `EINVAL` for `.`, `EBUSY` for `/` and a mount
    /// point, `ENOTDIR` for a file, `EROFS` on `/boot`, `EPERM` in `/proc`.
    fn do_rmdir(&mut self, dirfd: i32, path: &[u8]) -> Result<(), Errno> {
        let p = self.parent_at(dirfd, path)?;
        match p.kind {
            LastType::DotDot => return Err(Errno::ENOTEMPTY),
            LastType::Dot => return Err(Errno::EINVAL),
            LastType::Root => return Err(Errno::EBUSY),
            LastType::Norm => {}
        }
        let proc = self.proc;
        match p.dir {
            Node::Disk(_) => Err(Errno::EROFS),
            Node::Ram(d) => {
                let ino = self.ns.ramfs.entry(d, &p.name)?;
                if !self.ns.is_dir(Node::Ram(ino)) {
                    return Err(Errno::ENOTDIR);
                }
                if self.ns.is_mountpoint(ino) {
                    return Err(Errno::EBUSY);
                }
                self.ns.ramfs.rmdir_at(d, &p.name)
            }
            dir => {
                let n = self.ns.child(proc, dir, &p.name)?;
                Err(if self.ns.is_dir(n) { Errno::EPERM } else { Errno::ENOTDIR })
            }
        }
    }

    /// `renameat2(olddirfd, oldpath, newdirfd, newpath, flags)`: `EINVAL` for unknown flags,
    /// `RENAME_EXCHANGE` with another flag, or `RENAME_WHITEOUT` (not modelled); `EBUSY` for a
    /// `.`/`..`/`/` last component or a mount point, `EXDEV` across mounts (before `EROFS`,
    /// as `do_renameat2` compares the mounts first), `EPERM` in `/proc`, and the ramfs's own
    /// errors (`ENOTDIR`, `EISDIR`, `ENOTEMPTY`, `EINVAL` into itself, `EEXIST`).
    pub fn renameat2(
        &mut self,
        olddirfd: i32,
        oldpath: usize,
        newdirfd: i32,
        newpath: usize,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
            || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
            || flags & RENAME_WHITEOUT != 0
        {
            return Err(Errno::EINVAL);
        }
        let oldname = getname(self.mem, oldpath, false)?;
        let newname = getname(self.mem, newpath, false)?;
        let old = self.parent_at(olddirfd, &oldname)?;
        let new = self.parent_at(newdirfd, &newname)?;
        if old.kind != LastType::Norm {
            return Err(Errno::EBUSY);
        }
        if new.kind != LastType::Norm {
            return Err(if flags & RENAME_NOREPLACE != 0 { Errno::EEXIST } else { Errno::EBUSY });
        }
        if Namespace::<A>::mount_of(old.dir) != Namespace::<A>::mount_of(new.dir) {
            return Err(Errno::EXDEV);
        }
        let proc = self.proc;
        let (od, nd) = match (old.dir, new.dir) {
            (Node::Ram(od), Node::Ram(nd)) => (od, nd),
            (Node::Disk(_), _) => return Err(Errno::EROFS),
            (dir, _) => {
                self.ns.child(proc, dir, &old.name)?;
                return Err(Errno::EPERM);
            }
        };
        let src = self.ns.ramfs.entry(od, &old.name)?;
        let exchange = flags & RENAME_EXCHANGE != 0;
        let target = self.ns.ramfs.entry(nd, &new.name).ok();
        if !self.ns.is_dir(Node::Ram(src)) && (old.slash || (!exchange && new.slash)) {
            return Err(Errno::ENOTDIR);
        }
        if exchange && new.slash && target.is_some_and(|t| !self.ns.is_dir(Node::Ram(t))) {
            return Err(Errno::ENOTDIR);
        }
        if target != Some(src)
            && (self.ns.is_mountpoint(src) || target.is_some_and(|t| self.ns.is_mountpoint(t)))
        {
            return Err(Errno::EBUSY);
        }
        self.ns.ramfs.rename_at(od, &old.name, nd, &new.name, flags)
    }

    /// `faccessat2(dirfd, path, mode, flags)` for root: `EINVAL` for a mode beyond
    /// `R_OK | W_OK | X_OK` or unknown flags, the lookup's errors, `EROFS` for `W_OK` on the
    /// read-only `/boot`, and `EACCES` for `X_OK` on a file without any execute bit
    /// (`generic_permission` lets root execute only those).
    pub fn faccessat2(
        &mut self,
        dirfd: i32,
        path: usize,
        mode: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        const X_OK: u32 = 1;
        const W_OK: u32 = 2;
        const AT_EACCESS: u32 = 0x200;
        if mode & !7 != 0
            || flags & !(super::AT_SYMLINK_NOFOLLOW | AT_EACCESS | super::AT_EMPTY_PATH) != 0
        {
            return Err(Errno::EINVAL);
        }
        let node = self.node_at(dirfd, path, flags)?;
        if mode & W_OK != 0 && matches!(node, Node::Disk(_)) {
            return Err(Errno::EROFS);
        }
        let st = self.ns.stat(self.proc, node)?;
        if mode & X_OK != 0 && !self.ns.is_dir(node) && st.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// `chdir(path)`: the new working directory (`ENOTDIR` for anything else); the caller
    /// keeps it for the process.
    pub fn chdir(&mut self, path: usize) -> Result<Node, Errno> {
        let name = getname(self.mem, path, false)?;
        let start = self.start(AT_FDCWD, &name)?;
        let node = self.ns.walk(self.proc, start, &name, true, &mut 0)?;
        if !self.ns.is_dir(node) {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }

    /// `fchdir(fd)`: the directory `fd` has open (`ENOTDIR` for anything else).
    pub fn fchdir(&mut self, fd: i32) -> Result<Node, Errno> {
        let node = self.file(fd)?.lock().node;
        if !self.ns.is_dir(node) {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }

    /// `getcwd(buf, size)`: the working directory's path and its NUL; `ERANGE` when it does
    /// not fit in `size`, `ENOENT` when the directory has been removed. Returns the length
    /// with the NUL, as the system call does.
    pub fn getcwd(&mut self, buf: usize, size: usize) -> Result<usize, Errno> {
        let path = self.ns.node_path(self.proc, self.cwd).ok_or(Errno::ENOENT)?;
        let len = path.len() + 1;
        if len > size {
            return Err(Errno::ERANGE);
        }
        let mut bytes = path.into_bytes();
        bytes.push(0);
        self.mem.copy_to_user(buf, &bytes).map_err(|_| Errno::EFAULT)?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_component_types() {
        assert_eq!(last_type(b"/"), LastType::Root);
        assert_eq!(last_type(b"//"), LastType::Root);
        assert_eq!(last_type(b"a/."), LastType::Dot);
        assert_eq!(last_type(b"a/../"), LastType::DotDot);
        assert_eq!(last_type(b".."), LastType::DotDot);
        assert_eq!(last_type(b"a/b/"), LastType::Norm);
        assert_eq!(last_type(b"..a"), LastType::Norm);
    }
}
