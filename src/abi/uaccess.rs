//! The seam between system calls and user memory, as `include/linux/uaccess.h` draws it: a
//! [`UserMemory`] the kernel implements over a process's page tables (faulting pages in, the
//! exception table turning a bad access into a short copy), and the helpers the system calls
//! use on top of it: `access_ok`, `get_user`/`put_user` of any [`Wire`] struct,
//! `strncpy_from_user` and `getname` (path arguments), and `import_iovec`. A host model,
//! [`SparseUserMemory`], lets every error path be tested without hardware.
use alloc::vec;
use alloc::vec::Vec;

use super::errno::Errno;
use super::native::types::{Iovec, Ulong};
use super::wire::Wire;

/// `PATH_MAX`: a path argument including its NUL.
pub const PATH_MAX: usize = 4096;
/// `UIO_MAXIOV`: the most `iovec`s one call takes.
pub const UIO_MAXIOV: usize = 1024;
/// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`): the most bytes one read or write transfers.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// A copy stopped by a fault after `done` bytes (Linux's `copy_*_user` return the bytes *not*
/// copied; callers turn any shortfall into `EFAULT`, or a short count once some data moved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub done: usize,
}

/// A process's memory as a system call reaches it.
pub trait UserMemory {
    /// `access_ok()`: the range lies wholly in user space (below `TASK_SIZE`); it says nothing
    /// about whether it is mapped.
    fn access_ok(&self, addr: usize, len: usize) -> bool;
    /// `copy_from_user()`: fills `buf` from `addr` up to the first byte that cannot be read.
    fn copy_from_user(&mut self, buf: &mut [u8], addr: usize) -> Result<(), Fault>;
    /// `copy_to_user()`: writes `data` at `addr` up to the first byte that cannot be written.
    fn copy_to_user(&mut self, addr: usize, data: &[u8]) -> Result<(), Fault>;

    /// `clear_user()`: zeroes `len` bytes at `addr` up to the first that cannot be written.
    fn clear_user(&mut self, addr: usize, len: usize) -> Result<(), Fault> {
        const ZEROS: [u8; 256] = [0; 256];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ZEROS.len());
            self.copy_to_user(addr + done, &ZEROS[..n])
                .map_err(|f| Fault { done: done + f.done })?;
            done += n;
        }
        Ok(())
    }

    /// One step of `strncpy_from_user()`: copies the string at `addr` into `dst`, stopping
    /// after its NUL. `Ok(length)` of the string when its NUL came within `dst.len()` bytes,
    /// `Ok(dst.len())` when it did not, `Err` when a byte before the NUL cannot be read
    /// (`done` bytes were).
    fn strncpy_from_user(&mut self, dst: &mut [u8], addr: usize) -> Result<usize, Fault> {
        // Byte by byte, so a string just before an unmapped page is still found.
        for i in 0..dst.len() {
            let at = addr.checked_add(i).ok_or(Fault { done: i })?;
            self.copy_from_user(&mut dst[i..=i], at).map_err(|_| Fault { done: i })?;
            if dst[i] == 0 {
                return Ok(i);
            }
        }
        Ok(dst.len())
    }

    /// `strnlen_user()`: the size of the string at `addr` including its NUL, more than `n`
    /// when no NUL comes within `n` bytes, 0 when a byte before the NUL cannot be read.
    fn strnlen_user(&mut self, addr: usize, n: usize) -> usize {
        let mut b = [0u8; 1];
        for i in 0..n {
            let Some(at) = addr.checked_add(i) else { return 0 };
            if self.copy_from_user(&mut b, at).is_err() {
                return 0;
            }
            if b[0] == 0 {
                return i + 1;
            }
        }
        n + 1
    }
}

/// `get_user()`/`copy_from_user()` of a whole struct: `EFAULT` if any byte is unreadable or
/// outside user space.
pub fn get_user<T: Wire>(mem: &mut impl UserMemory, addr: usize) -> Result<T, Errno> {
    if !mem.access_ok(addr, T::SIZE) {
        return Err(Errno::EFAULT);
    }
    // A small value (a word, a pointer, a timespec) goes through the stack: no allocation
    // per access, as Linux's get_user is a single load.
    if T::SIZE <= SMALL_WIRE {
        let mut buf = [0u8; SMALL_WIRE];
        mem.copy_from_user(&mut buf[..T::SIZE], addr).map_err(|_| Errno::EFAULT)?;
        return Ok(T::get(&buf[..T::SIZE]));
    }
    let mut buf = vec![0u8; T::SIZE];
    mem.copy_from_user(&mut buf, addr).map_err(|_| Errno::EFAULT)?;
    Ok(T::get(&buf))
}

/// Values up to this size are read and written through a buffer on the stack.
const SMALL_WIRE: usize = 64;

/// `put_user()`/`copy_to_user()` of a whole struct: `EFAULT` if any byte cannot be written.
pub fn put_user<T: Wire>(mem: &mut impl UserMemory, addr: usize, v: &T) -> Result<(), Errno> {
    if !mem.access_ok(addr, T::SIZE) {
        return Err(Errno::EFAULT);
    }
    if T::SIZE <= SMALL_WIRE {
        let mut buf = [0u8; SMALL_WIRE];
        v.put(&mut buf[..T::SIZE]);
        return mem.copy_to_user(addr, &buf[..T::SIZE]).map_err(|_| Errno::EFAULT);
    }
    mem.copy_to_user(addr, &v.to_bytes()).map_err(|_| Errno::EFAULT)
}

/// `strncpy_from_user()` for at most `max` bytes: the string before its NUL, `EFAULT` when a
/// byte before the NUL cannot be read, `ENAMETOOLONG` when no NUL comes within `max` bytes.
pub fn strncpy_from_user(
    mem: &mut impl UserMemory,
    addr: usize,
    max: usize,
) -> Result<Vec<u8>, Errno> {
    // In pieces, so a long limit (MAX_ARG_STRLEN) needs no buffer of its size.
    const CHUNK: usize = 256;
    let mut out = Vec::new();
    let mut buf = [0u8; CHUNK];
    while out.len() < max {
        let at = addr.checked_add(out.len()).ok_or(Errno::EFAULT)?;
        let n = CHUNK.min(max - out.len());
        if !mem.access_ok(at, 1) {
            return Err(Errno::EFAULT);
        }
        let got = mem.strncpy_from_user(&mut buf[..n], at).map_err(|_| Errno::EFAULT)?;
        out.extend_from_slice(&buf[..got]);
        if got < n {
            return Ok(out);
        }
    }
    Err(Errno::ENAMETOOLONG)
}

/// `getname_flags()`: a path argument. `ENOENT` for an empty path unless `allow_empty`
/// (`AT_EMPTY_PATH`, `LOOKUP_EMPTY`), `ENAMETOOLONG` past `PATH_MAX - 1` bytes, `EFAULT`.
pub fn getname(
    mem: &mut impl UserMemory,
    addr: usize,
    allow_empty: bool,
) -> Result<Vec<u8>, Errno> {
    let name = strncpy_from_user(mem, addr, PATH_MAX)?;
    if name.is_empty() && !allow_empty {
        return Err(Errno::ENOENT);
    }
    Ok(name)
}

/// One segment of an imported `iovec` array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoSegment {
    pub base: usize,
    pub len: usize,
}

/// `import_iovec()` for the native ABI's `struct iovec` (8 bytes on ARM, 16 on arm64): reads `nr_segs` `struct iovec`s at `addr`. `EINVAL` for
/// more than `UIO_MAXIOV` or a negative length (`ssize_t`), `EFAULT` if the array cannot be
/// read or a segment is outside user space; the total is clamped to `MAX_RW_COUNT` by
/// shortening the segment that crosses it, as `iovec_from_user` + `rw_copy_check_uvector` do.
pub fn import_iovec(
    mem: &mut impl UserMemory,
    addr: usize,
    nr_segs: usize,
) -> Result<Vec<IoSegment>, Errno> {
    if nr_segs > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    // `iovec_from_user`: the whole array first (EFAULT), then every length (EINVAL), then
    // each segment's range (EFAULT), clamping the running total.
    let mut iovs = Vec::with_capacity(nr_segs);
    for i in 0..nr_segs {
        iovs.push(get_user::<Iovec>(mem, addr + i * Iovec::SIZE)?);
    }
    // A length negative as `ssize_t`: its top bit set.
    if iovs.iter().any(|v| v.iov_len > Ulong::MAX >> 1) {
        return Err(Errno::EINVAL);
    }
    let mut segs = Vec::with_capacity(nr_segs);
    let mut total = 0usize;
    for iov in iovs {
        let mut len = iov.iov_len as usize;
        if !mem.access_ok(iov.iov_base as usize, len) {
            return Err(Errno::EFAULT);
        }
        if len > MAX_RW_COUNT - total {
            len = MAX_RW_COUNT - total;
        }
        total += len;
        segs.push(IoSegment { base: iov.iov_base as usize, len });
    }
    Ok(segs)
}

/// A host model of user memory: readable and writable ranges with their bytes, everything
/// else faulting, and a `TASK_SIZE` above which `access_ok` fails. For tests.
#[derive(Clone, Debug, Default)]
pub struct SparseUserMemory {
    /// (start, bytes, writable), non-overlapping.
    regions: Vec<(usize, Vec<u8>, bool)>,
    task_size: usize,
}

impl SparseUserMemory {
    /// Empty user space reaching up to `task_size`.
    pub fn new(task_size: usize) -> Self {
        Self { regions: Vec::new(), task_size }
    }

    /// Maps `len` zero bytes at `start` (read-only unless `writable`).
    pub fn map(&mut self, start: usize, len: usize, writable: bool) {
        self.regions.push((start, vec![0; len], writable));
    }

    /// Writes `data` at `addr` regardless of protection (test set-up).
    pub fn poke(&mut self, addr: usize, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            let (r, off) = self.find(addr + i).expect("poke outside any region");
            self.regions[r].1[off] = b;
        }
    }

    /// Reads `len` bytes at `addr` regardless of protection (test checks).
    pub fn peek(&self, addr: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                let (r, off) = self.find(addr + i).expect("peek outside any region");
                self.regions[r].1[off]
            })
            .collect()
    }

    fn find(&self, addr: usize) -> Option<(usize, usize)> {
        self.regions
            .iter()
            .position(|(s, b, _)| addr >= *s && addr - s < b.len())
            .map(|i| (i, addr - self.regions[i].0))
    }
}

impl UserMemory for SparseUserMemory {
    fn access_ok(&self, addr: usize, len: usize) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= self.task_size)
    }
    fn copy_from_user(&mut self, buf: &mut [u8], addr: usize) -> Result<(), Fault> {
        for (i, b) in buf.iter_mut().enumerate() {
            let Some((r, off)) = addr.checked_add(i).and_then(|a| self.find(a)) else {
                return Err(Fault { done: i });
            };
            *b = self.regions[r].1[off];
        }
        Ok(())
    }
    fn copy_to_user(&mut self, addr: usize, data: &[u8]) -> Result<(), Fault> {
        for (i, &b) in data.iter().enumerate() {
            match addr.checked_add(i).and_then(|a| self.find(a)) {
                Some((r, off)) if self.regions[r].2 => self.regions[r].1[off] = b,
                _ => return Err(Fault { done: i }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK_SIZE: usize = 0xbf00_0000;

    fn mem() -> SparseUserMemory {
        let mut m = SparseUserMemory::new(TASK_SIZE);
        m.map(0x1_0000, 0x1000, false);
        m.map(0x2_0000, 0x2000, true);
        m
    }

    #[test]
    fn strings_stop_at_nul_fault_or_limit() {
        let mut m = mem();
        m.poke(0x2_0000, b"/tmp/x\0junk");
        assert_eq!(getname(&mut m, 0x2_0000, false).unwrap(), b"/tmp/x");
        assert_eq!(getname(&mut m, 0x2_0006, false), Err(Errno::ENOENT));
        assert_eq!(getname(&mut m, 0x2_0006, true).unwrap(), b"");
        assert_eq!(getname(&mut m, 0, false), Err(Errno::EFAULT));
        assert_eq!(getname(&mut m, 0xc000_8000, false), Err(Errno::EFAULT));
        // A string running into an unmapped page faults; one ending right before it does not.
        m.poke(0x2_1ffd, b"ab\0");
        assert_eq!(getname(&mut m, 0x2_1ffd, false).unwrap(), b"ab");
        m.poke(0x2_1ffd, b"abc");
        assert_eq!(getname(&mut m, 0x2_1ffd, false), Err(Errno::EFAULT));
        // PATH_MAX bytes without a NUL: too long.
        let mut big = SparseUserMemory::new(TASK_SIZE);
        big.map(0x3_0000, 0x2000, true);
        big.poke(0x3_0000, &[b'a'; PATH_MAX]);
        assert_eq!(getname(&mut big, 0x3_0000, false), Err(Errno::ENAMETOOLONG));
        big.poke(0x3_0000 + PATH_MAX - 1, b"\0");
        assert_eq!(getname(&mut big, 0x3_0000, false).unwrap().len(), PATH_MAX - 1);
    }

    #[test]
    fn clear_and_strnlen() {
        let mut m = mem();
        m.poke(0x2_1ff0, &[0xaa; 16]);
        m.clear_user(0x2_1ff8, 8).unwrap();
        assert_eq!(m.peek(0x2_1ff0, 16), [[0xaa; 8], [0; 8]].concat());
        // Runs off the mapping after 8 bytes: those are cleared, the fault says so.
        m.poke(0x2_1ff0, &[0xaa; 16]);
        assert_eq!(m.clear_user(0x2_1ff8, 300), Err(Fault { done: 8 }));
        assert_eq!(m.clear_user(0x1_0000, 4), Err(Fault { done: 0 }), "read-only");
        m.poke(0x2_0000, b"abc\0");
        assert_eq!(m.strnlen_user(0x2_0000, 10), 4, "the NUL counts");
        assert_eq!(m.strnlen_user(0x2_0000, 3), 4, "longer than n: more than n");
        m.poke(0x2_1ffe, b"ab");
        assert_eq!(m.strnlen_user(0x2_1ffe, 10), 0, "runs into an unmapped page");
        assert_eq!(m.strnlen_user(0x9_0000, 10), 0);
    }

    #[test]
    fn structs_and_iovecs() {
        let mut m = mem();
        let iov =
            [Iovec { iov_base: 0x2_0100, iov_len: 5 }, Iovec { iov_base: 0x1_0000, iov_len: 7 }];
        put_user(&mut m, 0x2_0000, &iov).unwrap();
        assert_eq!(get_user::<[Iovec; 2]>(&mut m, 0x2_0000).unwrap(), iov);
        assert_eq!(put_user(&mut m, 0x1_0000, &iov), Err(Errno::EFAULT), "read-only");
        assert_eq!(get_user::<u32>(&mut m, 0x1_0ffe), Err(Errno::EFAULT), "runs off the page");
        let segs = import_iovec(&mut m, 0x2_0000, 2).unwrap();
        assert_eq!(
            segs,
            [IoSegment { base: 0x2_0100, len: 5 }, IoSegment { base: 0x1_0000, len: 7 }]
        );
        assert_eq!(import_iovec(&mut m, 0x2_0000, UIO_MAXIOV + 1), Err(Errno::EINVAL));
        assert_eq!(import_iovec(&mut m, 0x9_0000, 1), Err(Errno::EFAULT));
        put_user(&mut m, 0x2_0000, &Iovec { iov_base: 0x2_0100, iov_len: 0x8000_0000 }).unwrap();
        assert_eq!(import_iovec(&mut m, 0x2_0000, 1), Err(Errno::EINVAL), "negative ssize_t");
        put_user(&mut m, 0x2_0000, &Iovec { iov_base: 0xc000_0000, iov_len: 1 }).unwrap();
        assert_eq!(import_iovec(&mut m, 0x2_0000, 1), Err(Errno::EFAULT), "kernel address");
        // Two large segments: the second is cut so the total is MAX_RW_COUNT.
        let big = [
            Iovec { iov_base: 0x1000, iov_len: 0x7000_0000 },
            Iovec { iov_base: 0x1000, iov_len: 0x1000_0000 },
        ];
        put_user(&mut m, 0x2_0000, &big).unwrap();
        let segs = import_iovec(&mut m, 0x2_0000, 2).unwrap();
        assert_eq!(segs[1].len, MAX_RW_COUNT - 0x7000_0000);
    }
}
