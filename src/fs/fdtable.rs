//! A process's file descriptors (`struct files_struct`, `fs/file.c`): the lowest free number
//! first (`alloc_fd`), `RLIMIT_NOFILE` (1024, as the reference's `ulimit -n`), close-on-exec
//! flags, and `dup`/`dup2`/`dup3`/`fcntl(F_DUPFD...)` with the errors 6.1 returns. Open file
//! descriptions are shared (`Arc`) between duplicated descriptors and across `fork`.
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::abi::errno::Errno;

/// `INR_OPEN_CUR`: the default soft `RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE_DEFAULT: usize = 1024;
/// `O_CLOEXEC` (the only flag `dup3` takes).
pub const O_CLOEXEC: u32 = 0o2000000;
/// `FD_CLOEXEC` of `F_GETFD`/`F_SETFD`.
pub const FD_CLOEXEC: u32 = 1;

/// The descriptor table, generic over what an open file is.
#[derive(Debug)]
pub struct FdTable<F> {
    fds: Vec<Option<(Arc<F>, bool)>>,
    /// The soft `RLIMIT_NOFILE`: descriptors are below it.
    pub nofile: usize,
}

impl<F> Clone for FdTable<F> {
    /// `dup_fd()` at `fork`: the same open files, the same close-on-exec flags.
    fn clone(&self) -> Self {
        FdTable { fds: self.fds.clone(), nofile: self.nofile }
    }
}

impl<F> Default for FdTable<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F> FdTable<F> {
    pub fn new() -> Self {
        FdTable { fds: Vec::new(), nofile: RLIMIT_NOFILE_DEFAULT }
    }

    /// The open file behind `fd` (`EBADF` if none).
    pub fn get(&self, fd: i32) -> Result<&Arc<F>, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|e| e.as_ref())
            .map(|(f, _)| f)
            .ok_or(Errno::EBADF)
    }

    /// Whether `fd` is closed on `execve`.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.get(fd)?;
        Ok(self.fds[fd as usize].as_ref().is_some_and(|e| e.1))
    }

    /// `alloc_fd(start)`: installs `file` at the lowest free number at or above `start`;
    /// `EMFILE` when every number below the limit is taken.
    pub fn alloc_fd(&mut self, start: usize, file: Arc<F>, cloexec: bool) -> Result<i32, Errno> {
        let fd = (start..self.nofile)
            .find(|&i| self.fds.get(i).is_none_or(|e| e.is_none()))
            .ok_or(Errno::EMFILE)?;
        if fd >= self.fds.len() {
            self.fds.resize_with(fd + 1, || None);
        }
        self.fds[fd] = Some((file, cloexec));
        Ok(fd as i32)
    }

    /// Whether a descriptor can be allocated (`get_unused_fd_flags` runs before the path walk
    /// in `openat`, so a full table is `EMFILE` whatever the path).
    pub fn has_free(&self) -> bool {
        (0..self.nofile).any(|i| self.fds.get(i).is_none_or(|e| e.is_none()))
    }

    /// `close()`: `EBADF` for a descriptor that is not open. Returns the file it held.
    pub fn close(&mut self, fd: i32) -> Result<Arc<F>, Errno> {
        self.get(fd)?;
        Ok(self.fds[fd as usize].take().expect("checked").0)
    }

    /// `dup()`: the lowest free descriptor, close-on-exec clear.
    pub fn dup(&mut self, fd: i32) -> Result<i32, Errno> {
        let f = self.get(fd)?.clone();
        self.alloc_fd(0, f, false)
    }

    /// `dup2()`: `newfd` equal to `oldfd` returns it if open (`EBADF` otherwise); else `dup3`
    /// without flags.
    pub fn dup2(&mut self, oldfd: i32, newfd: i32) -> Result<i32, Errno> {
        if oldfd == newfd {
            self.get(oldfd)?;
            return Ok(newfd);
        }
        self.dup3(oldfd, newfd, 0)
    }

    /// `dup3()`: `EINVAL` for flags other than `O_CLOEXEC` or equal descriptors, `EBADF` for a
    /// `newfd` at or above the limit (checked before `oldfd`, as `ksys_dup3` does) or a closed
    /// `oldfd`. Whatever `newfd` held is closed.
    pub fn dup3(&mut self, oldfd: i32, newfd: i32, flags: u32) -> Result<i32, Errno> {
        if flags & !O_CLOEXEC != 0 || oldfd == newfd {
            return Err(Errno::EINVAL);
        }
        let new = usize::try_from(newfd).ok().filter(|&n| n < self.nofile).ok_or(Errno::EBADF)?;
        let f = self.get(oldfd)?.clone();
        if new >= self.fds.len() {
            self.fds.resize_with(new + 1, || None);
        }
        self.fds[new] = Some((f, flags & O_CLOEXEC != 0));
        Ok(newfd)
    }

    /// `F_DUPFD`/`F_DUPFD_CLOEXEC`: the lowest free descriptor at or above `from`; `EINVAL`
    /// when `from` is at or above the limit.
    pub fn dupfd(&mut self, fd: i32, from: u32, cloexec: bool) -> Result<i32, Errno> {
        let f = self.get(fd)?.clone();
        if from as usize >= self.nofile {
            return Err(Errno::EINVAL);
        }
        self.alloc_fd(from as usize, f, cloexec)
    }

    /// `F_SETFD` / `FIOCLEX` / `FIONCLEX`.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        self.get(fd)?;
        if let Some(e) = self.fds[fd as usize].as_mut() {
            e.1 = on;
        }
        Ok(())
    }

    /// `do_close_on_exec()`: closes every close-on-exec descriptor; returns how many.
    pub fn close_on_exec(&mut self) -> usize {
        let mut n = 0;
        for e in self.fds.iter_mut() {
            if e.as_ref().is_some_and(|e| e.1) {
                *e = None;
                n += 1;
            }
        }
        n
    }

    /// The open descriptors, ascending.
    pub fn open_fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds.iter().enumerate().filter(|(_, e)| e.is_some()).map(|(i, _)| i as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    #[test]
    fn linux_rules() {
        let mut t: FdTable<u32> = FdTable::new();
        let a = Arc::new(1u32);
        assert_eq!(t.alloc_fd(0, a.clone(), false), Ok(0));
        assert_eq!(t.alloc_fd(0, Arc::new(2), true), Ok(1));
        assert_eq!(t.alloc_fd(0, Arc::new(3), false), Ok(2));
        t.close(1).unwrap();
        assert_eq!(t.close(1), Err(Errno::EBADF));
        assert_eq!(t.close(-1), Err(Errno::EBADF));
        assert_eq!(t.dup(0), Ok(1), "lowest free");
        assert!(Arc::ptr_eq(t.get(1).unwrap(), &a));
        assert_eq!(t.cloexec(1), Ok(false));
        assert_eq!(t.dup2(0, 0), Ok(0));
        assert_eq!(t.dup2(7, 7), Err(Errno::EBADF));
        assert_eq!(t.dup2(0, 9), Ok(9));
        assert_eq!(t.dup3(0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(t.dup3(0, 5, 1), Err(Errno::EINVAL));
        assert_eq!(t.dup3(0, 1024, 0), Err(Errno::EBADF));
        assert_eq!(t.dup3(8, 1024, 0), Err(Errno::EBADF), "newfd checked first");
        assert_eq!(t.dup3(8, 5, 0), Err(Errno::EBADF));
        assert_eq!(t.dup3(2, 9, O_CLOEXEC), Ok(9));
        assert_eq!(t.cloexec(9), Ok(true));
        assert_eq!(t.dupfd(0, 1024, false), Err(Errno::EINVAL));
        assert_eq!(t.dupfd(0, 3, true), Ok(3));
        assert_eq!(t.close_on_exec(), 2);
        assert_eq!(t.open_fds().collect::<Vec<_>>(), [0, 1, 2]);
        let mut small: FdTable<u32> = FdTable { nofile: 2, ..FdTable::new() };
        small.alloc_fd(0, Arc::new(0), false).unwrap();
        small.alloc_fd(0, Arc::new(0), false).unwrap();
        assert!(!small.has_free());
        assert_eq!(small.dup(0), Err(Errno::EMFILE));
    }

    proptest! {
        /// Against a model (a map from number to file id): allocation is always the lowest
        /// free number, and every operation agrees on success, errors and contents.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec((0u8..5, 0i32..12, 0i32..12), 1..200)) {
            let mut t: FdTable<u32> = FdTable { nofile: 10, ..FdTable::new() };
            let mut m: BTreeMap<i32, u32> = BTreeMap::new();
            let mut next = 0u32;
            for (op, a, b) in ops {
                let lowest = (0..10).find(|i| !m.contains_key(i));
                match op {
                    0 => {
                        next += 1;
                        let r = t.alloc_fd(0, Arc::new(next), false);
                        match lowest {
                            Some(l) => { prop_assert_eq!(r, Ok(l)); m.insert(l, next); }
                            None => prop_assert_eq!(r, Err(Errno::EMFILE)),
                        }
                    }
                    1 => {
                        let r = t.close(a).map(|f| *f);
                        prop_assert_eq!(r.ok(), m.remove(&a));
                    }
                    2 => {
                        let r = t.dup(a);
                        match (m.get(&a).copied(), lowest) {
                            (None, _) => prop_assert_eq!(r, Err(Errno::EBADF)),
                            (Some(_), None) => prop_assert_eq!(r, Err(Errno::EMFILE)),
                            (Some(f), Some(l)) => { prop_assert_eq!(r, Ok(l)); m.insert(l, f); }
                        }
                    }
                    3 => {
                        let r = t.dup2(a, b);
                        let want = if b >= 10 { if a == b && m.contains_key(&a) { Ok(b) } else { Err(Errno::EBADF) } }
                            else if !m.contains_key(&a) { Err(Errno::EBADF) } else { Ok(b) };
                        prop_assert_eq!(r, want);
                        if r.is_ok() { let f = m[&a]; m.insert(b, f); }
                    }
                    _ => {
                        let r = t.dupfd(a, b as u32, false);
                        let from_low = (b..10).find(|i| !m.contains_key(i));
                        let want = if !m.contains_key(&a) { Err(Errno::EBADF) } else if b >= 10 { Err(Errno::EINVAL) } else { from_low.ok_or(Errno::EMFILE) };
                        prop_assert_eq!(r, want);
                        if let Ok(n) = r { let f = m[&a]; m.insert(n, f); }
                    }
                }
                for (&fd, &f) in &m {
                    prop_assert_eq!(t.get(fd).map(|x| **x), Ok(f));
                }
                prop_assert_eq!(t.open_fds().count(), m.len());
            }
        }
    }
}
