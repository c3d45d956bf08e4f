//! Pipes as open files: `pipe2` makes the two ends (`O_RDONLY` and `O_WRONLY`, with
//! `O_NONBLOCK` if asked) on two new descriptors, and a write copies from user memory into
//! the pipe's pages what fits now. Waiting (a full pipe, an empty one) is the kernel's: these
//! return `EAGAIN` and the system-call layer sleeps the caller on the pipe unless the file
//! is `O_NONBLOCK`.
use alloc::sync::Arc;
use alloc::vec;

use crate::kernel::spinlock::SpinLock;

use super::{o, Ctx, File, Node, Object};
use crate::abi::errno::Errno;
use crate::abi::uaccess::{put_user, UserMemory};
use crate::fs::pipe::{self, Pipe};
use crate::fs::ramfs::AddressSpace;

impl<A: AddressSpace, M: UserMemory> Ctx<'_, A, M> {
    /// `pipe2(fds, flags)`: `EINVAL` for flags other than `O_CLOEXEC` and `O_NONBLOCK`
    /// (packet mode, `O_DIRECT`, is not modelled), `EMFILE` without two free descriptors,
    /// `EFAULT` (and nothing installed) when `fds` cannot be written.
    pub fn pipe2(&mut self, fds: usize, flags: u32) -> Result<(), Errno> {
        if flags & !(o::O_CLOEXEC | o::O_NONBLOCK) != 0 {
            return Err(Errno::EINVAL);
        }
        self.ns.last_pipe_ino += 1;
        let ino = self.ns.last_pipe_ino;
        let (r, w) = pipe::create_pipe(ino);
        let file = |end, acc| {
            Arc::new(SpinLock::new(File {
                f_flags: acc | (flags & o::O_NONBLOCK),
                f_pos: 0,
                node: Node::Pipe(ino),
                object: Object::Pipe(end),
                pin: None,
            }))
        };
        let cloexec = flags & o::O_CLOEXEC != 0;
        let rfd = self.files.alloc_fd(0, file(r, o::O_RDONLY), cloexec)?;
        let wfd = match self.files.alloc_fd(0, file(w, o::O_WRONLY), cloexec) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = self.files.close(rfd);
                return Err(e);
            }
        };
        if let Err(e) = put_user(self.mem, fds, &[rfd, wfd]) {
            let _ = self.files.close(rfd);
            let _ = self.files.close(wfd);
            return Err(e);
        }
        Ok(())
    }

    /// `pipe_write` of `count` bytes at user `buf`: as many as fit now (all or nothing up
    /// to `PIPE_BUF`); `EPIPE` without a reader (the caller raises SIGPIPE), `EAGAIN` when
    /// full, `EFAULT` when the first byte cannot be read.
    pub(super) fn pipe_write(
        &mut self,
        pipe: &SpinLock<Pipe>,
        buf: usize,
        count: usize,
    ) -> Result<usize, Errno> {
        if count == 0 {
            return Ok(0);
        }
        let room = {
            let p = pipe.lock();
            if p.readers == 0 {
                return Err(Errno::EPIPE);
            }
            p.room_for(count)
        };
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let mut data = vec![0u8; room];
        let got = match self.mem.copy_from_user(&mut data, buf) {
            Ok(()) => room,
            Err(e) => e.done,
        };
        if got == 0 {
            return Err(Errno::EFAULT);
        }
        pipe.lock().write(&data[..got], count)
    }
}
