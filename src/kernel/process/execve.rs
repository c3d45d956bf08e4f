//! `execve` from a program (fs/exec.c): the path, argv and envp copied from user memory with
//! Linux's checks (`EFAULT` for a bad pointer, `ENAMETOOLONG` for a path, `E2BIG` past
//! `MAX_ARG_STRLEN` or the stack-derived total), the new address space built completely
//! first (`exec::load`), so that a failed exec returns its error to the intact caller; only
//! then is the old one released (`exec_mmap`), the handlers reset (`flush_signal_handlers`),
//! TLS and VFP cleared (`flush_thread`), a vfork parent released and the registers set to the
//! entry point (`start_thread`).
use alloc::string::String;
use alloc::vec::Vec;

use super::exec::{self, ExecError};
use super::mm::UserMem;
use super::syscall::with_user;
use super::with_current;
use crate::abi::uaccess;
use crate::arch::arm::process::{self as arch, VfpState};
use crate::arch::arm::vectors::PtRegs;
use crate::mm::mm_types::{Errno, PAGE_SIZE};

/// `MAX_ARG_STRLEN`: one argument or environment string, 32 pages.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// `MAX_ARG_STRINGS`.
pub const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// `ARG_MAX`: the least the strings may always use (32 pages).
const ARG_MAX: usize = 32 * PAGE_SIZE;
/// `_STK_LIM`: 8 MiB, the default stack rlimit.
const STK_LIM: usize = 8 << 20;

/// `bprm_stack_limits`: the bytes argv and envp (strings and pointers) may take: a quarter of
/// the stack rlimit, at most 3/4 of `_STK_LIM`, at least `ARG_MAX`.
pub fn arg_limit(rlimit_stack: usize) -> usize {
    (rlimit_stack / 4).clamp(ARG_MAX, STK_LIM / 4 * 3)
}

/// `copy_strings` for one NULL-terminated pointer array at `addr` (0: none): each string
/// with `strnlen_user`'s bound, the running total against `limit`.
fn copy_strings(
    um: &mut UserMem<'_>,
    addr: u32,
    total: &mut usize,
    limit: usize,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    loop {
        let at = (addr as usize).checked_add(out.len() * 4).ok_or(Errno::EFAULT)?;
        let p: u32 = uaccess::get_user(um, at)?;
        if p == 0 {
            return Ok(out);
        }
        if out.len() >= MAX_ARG_STRINGS {
            return Err(Errno::E2BIG);
        }
        let s = uaccess::strncpy_from_user(um, p as usize, MAX_ARG_STRLEN).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        // The string, its NUL and its pointer.
        *total = total.saturating_add(s.len() + 1 + 4);
        if *total > limit {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
}

/// `execve(filename, argv, envp)`: on success the registers enter the new program and
/// nothing is returned (r0 = 0 as `start_thread` leaves it); on failure the error.
pub fn sys_execve(regs: &mut PtRegs, filename: u32, argv: u32, envp: u32) -> Result<(), Errno> {
    let limit = arg_limit(STK_LIM);
    let (path, mut args, envs) = with_user(|um, _| {
        let name = uaccess::getname(um, filename as usize, false)?;
        let mut total = 0usize;
        let args = copy_strings(um, argv, &mut total, limit)?;
        let envs = copy_strings(um, envp, &mut total, limit)?;
        Ok((name, args, envs))
    })?;
    let path = String::from_utf8(path).map_err(|_| Errno::ENOENT)?;
    let path = if path.starts_with('/') { path } else { alloc::format!("/{path}") };
    // 6.1 gives a program started with an empty argv one empty argument.
    if args.is_empty() {
        args.push(Vec::new());
    }
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let envp: Vec<&[u8]> = envs.iter().map(|e| e.as_slice()).collect();
    let loaded = exec::load(&path, &argv, &envp).map_err(|e| match e {
        ExecError::Errno(e) => e,
        ExecError::Elf(e) => e.errno(),
    })?;
    // The point of no return: the new mm replaces the old one.
    let comm: String = path.rsplit('/').next().unwrap_or(&path).chars().take(15).collect();
    let mut new_pm = loaded.pm;
    new_pm.activate();
    let old = with_current(|t| {
        let old = t.mm.replace(new_pm);
        t.comm = comm;
        t.exe = path.clone();
        t.counts.min_flt += loaded.counts.min_flt;
        t.counts.maj_flt += loaded.counts.maj_flt;
        t.ext.sig.flush_handlers();
        for (i, a) in t.ext.sig.action.iter().enumerate() {
            t.sigactions[i] = a.sa_handler;
        }
        t.tls = 0;
        old
    });
    if let Some(old) = old {
        old.exit_mmap();
    }
    arch::set_tls(0);
    arch::vfp_restore(&VfpState::default());
    super::fork::complete_vfork_done();
    arch::start_thread(regs, loaded.entry, loaded.sp);
    Ok(())
}
