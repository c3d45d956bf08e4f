//! Pipes as 6.1's `fs/pipe.c` keeps them: a ring of at most `PIPE_DEF_BUFFERS` (16) page
//! buffers, so 64 KiB when each holds a page. A write first merges its sub-page tail into the
//! last buffer when that fits (`PIPE_BUF_FLAG_CAN_MERGE`), then fills new pages; a read
//! empties buffers from the front, freeing each as it empties. Reader and writer counts give
//! end-of-file (no writers) and `EPIPE` (no readers). Who waits on the pipe (`pipe->rd_wait`,
//! `wr_wait`) is a list of task ids, handed to the scheduler on every change
//! ([`take_wakeups`]) rather than woken here, so this stays pure and host-tested.
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::kernel::spinlock::SpinLock;

use crate::abi::errno::Errno;
use crate::mm::mm_types::PAGE_SIZE;

/// `PIPE_DEF_BUFFERS`: a new pipe's buffer slots (`pipe->max_usage`).
pub const PIPE_DEF_BUFFERS: usize = 16;
/// `PIPE_BUF`: writes up to this size are atomic.
pub const PIPE_BUF: usize = PAGE_SIZE;
/// A pipe's capacity when every buffer holds a whole page (`F_GETPIPE_SZ`).
pub const PIPE_CAPACITY: usize = PIPE_DEF_BUFFERS * PAGE_SIZE;
/// pipefs's device: pivm's next anonymous device after the rootfs (0:2) and procfs (0:3).
pub const PIPEFS_DEV: (u32, u32) = (0, 4);

/// Tasks whose pipe changed while they slept on it, for the scheduler to wake.
static WAKEUPS: SpinLock<Vec<u32>> = SpinLock::new(Vec::new());

/// The tasks to wake (emptied): the scheduler's side of [`Pipe`]'s wait lists.
pub fn take_wakeups() -> Vec<u32> {
    core::mem::take(&mut *WAKEUPS.lock())
}

/// One `struct pipe_buffer`: a page and the bytes of it still unread.
struct PipeBuf {
    page: Box<[u8; PAGE_SIZE]>,
    offset: usize,
    len: usize,
}

/// `struct pipe_inode_info`.
pub struct Pipe {
    bufs: VecDeque<PipeBuf>,
    pub readers: u32,
    pub writers: u32,
    /// Tasks sleeping until something changes (readers for data or end-of-file, writers for
    /// room or a vanished reader).
    waiters: Vec<u32>,
    /// The inode number `fstat` shows (pipefs's `get_next_ino`).
    pub ino: u64,
}

impl core::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Pipe {{ ino: {}, bytes: {}, r: {}, w: {} }}",
            self.ino,
            self.len(),
            self.readers,
            self.writers
        )
    }
}

impl Pipe {
    /// A pipe with one reader and one writer (`create_pipe_files`).
    pub fn new(ino: u64) -> Self {
        Pipe { bufs: VecDeque::new(), readers: 1, writers: 1, waiters: Vec::new(), ino }
    }

    /// Unread bytes (`FIONREAD`).
    pub fn len(&self) -> usize {
        self.bufs.iter().map(|b| b.len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Pages the pipe holds.
    pub fn nr_bufs(&self) -> usize {
        self.bufs.len()
    }

    /// `pipe_wait_readable`/`pipe_wait_writable`: `tid` sleeps until the next change.
    pub fn add_waiter(&mut self, tid: u32) {
        if !self.waiters.contains(&tid) {
            self.waiters.push(tid);
        }
    }

    /// `wake_up_interruptible_sync_poll`: every sleeper looks again.
    fn wake_all(&mut self) {
        if !self.waiters.is_empty() {
            WAKEUPS.lock().append(&mut self.waiters);
        }
    }

    /// `pipe_read`'s copy: up to `out.len()` bytes from the front. `Ok(0)` is end-of-file
    /// (empty, no writer); `EAGAIN` means empty with a writer (the caller sleeps or, with
    /// `O_NONBLOCK`, returns it).
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.bufs.is_empty() {
            return if self.writers == 0 { Ok(0) } else { Err(Errno::EAGAIN) };
        }
        let mut done = 0;
        while done < out.len() {
            let Some(b) = self.bufs.front_mut() else { break };
            let n = b.len.min(out.len() - done);
            out[done..done + n].copy_from_slice(&b.page[b.offset..b.offset + n]);
            b.offset += n;
            b.len -= n;
            done += n;
            if b.len == 0 {
                self.bufs.pop_front();
            }
        }
        self.wake_all();
        Ok(done)
    }

    /// How many bytes of a `total`-byte write can go in now without breaking `PIPE_BUF`
    /// atomicity: 0 when none can (the writer waits, or gets `EAGAIN`).
    pub fn room_for(&self, total: usize) -> usize {
        let free_slots = PIPE_DEF_BUFFERS - self.bufs.len();
        let tail = total % PAGE_SIZE;
        let merge =
            tail != 0 && self.bufs.back().is_some_and(|b| b.offset + b.len + tail <= PAGE_SIZE);
        if total <= PIPE_BUF {
            // All or nothing: merged whole, or one new page.
            return if merge || free_slots > 0 { total } else { 0 };
        }
        let merged = if merge { tail } else { 0 };
        total.min(merged + free_slots * PAGE_SIZE)
    }

    /// `pipe_write`'s copy of `data` (at most [`Pipe::room_for`] bytes of the caller's
    /// write, whose whole size is `total`): the sub-page tail of the whole write merged into
    /// the last page when it fits, then new pages. `EPIPE` without a reader.
    pub fn write(&mut self, data: &[u8], total: usize) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let mut done = 0;
        let tail = total % PAGE_SIZE;
        if tail != 0 && tail <= data.len() {
            if let Some(b) = self.bufs.back_mut() {
                let end = b.offset + b.len;
                if end + tail <= PAGE_SIZE {
                    b.page[end..end + tail].copy_from_slice(&data[..tail]);
                    b.len += tail;
                    done = tail;
                }
            }
        }
        while done < data.len() && self.bufs.len() < PIPE_DEF_BUFFERS {
            let n = (data.len() - done).min(PAGE_SIZE);
            // Zeroed on the heap, never on the (8 KiB) kernel stack.
            let mut page: Box<[u8; PAGE_SIZE]> =
                vec![0u8; PAGE_SIZE].into_boxed_slice().try_into().expect("one page");
            page[..n].copy_from_slice(&data[done..done + n]);
            self.bufs.push_back(PipeBuf { page, offset: 0, len: n });
            done += n;
        }
        if done == 0 && !data.is_empty() {
            return Err(Errno::EAGAIN);
        }
        self.wake_all();
        Ok(done)
    }

    /// `pipe_release` of one end.
    pub fn release(&mut self, write: bool) {
        if write {
            self.writers -= 1;
        } else {
            self.readers -= 1;
        }
        self.wake_all();
    }
}

/// One end of a pipe held by an open file: dropping the last reference to it is the
/// release of that end (`pipe_release`), which wakes the other side.
#[derive(Debug)]
pub struct PipeEnd {
    pub pipe: Arc<SpinLock<Pipe>>,
    pub write: bool,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        self.pipe.lock().release(self.write);
    }
}

/// `create_pipe_files`: the read end and the write end of a new pipe.
pub fn create_pipe(ino: u64) -> (Arc<PipeEnd>, Arc<PipeEnd>) {
    let pipe = Arc::new(SpinLock::new(Pipe::new(ino)));
    (
        Arc::new(PipeEnd { pipe: pipe.clone(), write: false }),
        Arc::new(PipeEnd { pipe, write: true }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_holds_sixteen_pages_of_page_writes() {
        let mut p = Pipe::new(1);
        let page = [7u8; PAGE_SIZE];
        for _ in 0..PIPE_DEF_BUFFERS {
            assert_eq!(p.room_for(PAGE_SIZE), PAGE_SIZE);
            assert_eq!(p.write(&page, PAGE_SIZE), Ok(PAGE_SIZE));
        }
        assert_eq!(p.len(), PIPE_CAPACITY);
        assert_eq!(p.room_for(1), 0);
        assert_eq!(p.write(&page[..1], 1), Err(Errno::EAGAIN));
        let mut out = [0u8; 100];
        assert_eq!(p.read(&mut out), Ok(100));
        // The front page is not free until it is read whole: still no room.
        assert_eq!(p.room_for(1), 0);
        let mut rest = [0u8; PAGE_SIZE];
        assert_eq!(p.read(&mut rest[..PAGE_SIZE - 100]), Ok(PAGE_SIZE - 100));
        assert_eq!(p.room_for(PAGE_SIZE + 1), PAGE_SIZE);
    }

    #[test]
    fn small_writes_merge_into_the_last_page_and_stay_atomic() {
        let mut p = Pipe::new(1);
        for i in 0..100u8 {
            assert_eq!(p.write(&[i; 10], 10), Ok(10));
        }
        assert_eq!(p.nr_bufs(), 1);
        let mut out = [0u8; 1000];
        assert_eq!(p.read(&mut out), Ok(1000));
        assert_eq!(out[995], 99);
        assert_eq!(p.read(&mut out), Err(Errno::EAGAIN));
        // 16 pages less 10 bytes of room: a 100-byte write cannot merge and has no slot.
        let page = [1u8; PAGE_SIZE];
        for _ in 0..15 {
            p.write(&page, PAGE_SIZE).unwrap();
        }
        p.write(&page[..PAGE_SIZE - 10], PAGE_SIZE - 10).unwrap();
        assert_eq!(p.room_for(100), 0);
        assert_eq!(p.room_for(10), 10);
    }

    #[test]
    fn ends_give_eof_and_epipe_and_wake_sleepers() {
        let (r, w) = create_pipe(5);
        let pipe = r.pipe.clone();
        pipe.lock().add_waiter(42);
        drop(w);
        let mut out = [0u8; 4];
        assert_eq!(pipe.lock().read(&mut out), Ok(0));
        assert!(take_wakeups().contains(&42) || pipe.lock().waiters.is_empty());
        drop(r);
        assert_eq!(pipe.lock().write(b"x", 1), Err(Errno::EPIPE));
    }
}
