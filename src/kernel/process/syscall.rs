//! The system calls (`vector_swi` -> the EABI table): number in r7, arguments in r0-r5,
//! result or `-errno` in r0. Classification (holes, ARM-private calls) is sysabi's
//! `classify`; user memory is reached through [`UserMem`] (faults resolved or `EFAULT`);
//! structures are encoded with sysabi's byte-exact encoders.
use alloc::string::String;
use alloc::vec::Vec;

use super::exec::CounterRandom;
use super::fs::{register_file, with_ns, with_vfs, with_vfs_sleeping, CachePages, CurrentMem};
use super::mm::UserMem;
use super::sysno::{self, Handler};
use super::{with_current, with_current_mm, Task, TaskState};
use crate::abi::arm::types::OldTimespec;
use crate::abi::arm::unistd::{arm_nr, classify, nr, SyscallClass};
use crate::abi::generic::{uts_field, KernelTimespec, NewUtsname};
use crate::abi::native::signal::{
    AltStack, KernelSigaction, StackT, MINSIGSTKSZ, SIG_IGN, SS_DISABLE,
};
use crate::abi::native::types::{ulong_to_u64, Rusage, Timespec, Timeval, Ulong};
use crate::abi::uaccess::{self, UserMemory};
use crate::abi::wire::Wire;
use crate::arch::process as arch;
use crate::arch::process::PtRegs;
use crate::fs::binfmt_elf::RandomSource;
use crate::fs::ramfs::InodeKind;
use crate::fs::vfs::{o, Ctx, Object, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW};
use crate::mm::mm_types::{Errno, PAGE_SHIFT, PAGE_SIZE};
use crate::mm::mmap::{MapFlags, MmapFile, Prot};

/// A call's result as the ABI's register holds it (Linux's `long`), or its error.
type SysResult = Result<usize, Errno>;

/// `MADV_DONTNEED`.
const MADV_DONTNEED: u32 = 4;
/// `MADV_PAGEOUT`: reclaim the range's pages now.
const MADV_PAGEOUT: u32 = 21;
/// Nanoseconds per jiffy.
const NSEC_PER_JIFFY: u64 = 1_000_000_000 / crate::config::HZ;

/// The system-call handler `vector_swi` runs.
///
/// Runs with interrupts masked (`vector_swi` leaves them so): interrupt handlers take locks
/// (the timekeeping state, the tty's type-ahead) that system calls take too, and pivm does
/// not preempt the kernel, so nothing is lost but latency; a call that sleeps gives the CPU
/// up through `schedule()`.
pub extern "C" fn handle(regs: &mut PtRegs) {
    let n = match sysno::handler(regs.syscall_get_nr()) {
        Handler::Same(n) => n,
        other => {
            let r = arch_table_call(regs, other);
            set_result(regs, r);
            return;
        }
    };
    // The calls that only read a word of the running task's: no lock, no table walk.
    if n == nr::GETPID || n == nr::GETTID {
        regs.set_return_value(super::current_pid() as usize);
        return;
    }
    handle_call(regs, n);
}

/// The rows of the architecture's table that reach a handler only after a check of their
/// own (arm64's; ARM's table has none).
#[cold]
#[inline(never)]
fn arch_table_call(regs: &mut PtRegs, h: Handler) -> SysResult {
    let mut a = regs.syscall_get_arguments();
    match h {
        Handler::MmapBytes => {
            a[5] = sysno::mmap_pgoff(a[5] as u64, PAGE_SHIFT).ok_or(Errno::EINVAL)? as usize;
            call(nr::MMAP2, a)
        }
        // No such call, or one whose arm64 structure is not written yet.
        Handler::Same(_) | Handler::None => Err(Errno::ENOSYS),
    }
}

/// Every other call (kept out of line so the calls above need no stack frame).
#[inline(never)]
fn handle_call(regs: &mut PtRegs, n: u32) {
    // The sigreturns replace every register (r0 included) with the frame's.
    if n == nr::RT_SIGRETURN || n == nr::SIGRETURN {
        super::signal::sigreturn(regs, n == nr::RT_SIGRETURN);
        return;
    }
    // The arguments as the ABI's word (`unsigned long`: 32 bits on ARM, 64 on arm64).
    let a = regs.syscall_get_arguments();
    // The calls that need the caller's registers.
    let r = match n {
        nr::FORK => {
            Some(super::do_fork(regs, super::rules::FORK_FLAGS, 0, 0, 0).map(|p| p as usize))
        }
        nr::VFORK => {
            Some(super::do_fork(regs, super::rules::VFORK_FLAGS, 0, 0, 0).map(|p| p as usize))
        }
        // ARM's clone(flags, newsp, parent_tidptr, tls, child_tidptr).
        nr::CLONE => Some(super::do_fork(regs, a[0] as u32, a[1], a[3], a[4]).map(|p| p as usize)),
        nr::EXECVE => match sys_execve(regs) {
            // The new program starts with the registers start_thread set.
            Ok(()) => return,
            Err(e) => Some(Err(e)),
        },
        nr::WAIT4 => Some(sys_wait4(a[0] as i32, a[1], a[2] as u32, a[3])),
        _ => None,
    };
    if let Some(r) = r {
        set_result(regs, r);
        return;
    }
    // A number below the ARM-private range is a table row or a hole; `call` answers a hole
    // (and every row it does not implement) with ENOSYS, as `classify` would.
    if n < crate::abi::arm::unistd::ARM_NR_BASE {
        set_result(regs, call(n, a));
        return;
    }
    let r = match classify(n) {
        SyscallClass::Call(n, _) => call(n, a),
        SyscallClass::NotImplemented | SyscallClass::ArmPrivateUnknown => Err(Errno::ENOSYS),
        SyscallClass::ArmPrivate(arm_nr::SET_TLS) => {
            with_current(|t| t.tls = a[0]);
            arch::set_tls(a[0] as _);
            Ok(0)
        }
        SyscallClass::ArmPrivate(arm_nr::GET_TLS) => Ok(with_current(|t| t.tls)),
        SyscallClass::ArmPrivate(arm_nr::CACHEFLUSH) => Ok(0),
        SyscallClass::ArmPrivate(_) | SyscallClass::BadSyscall => {
            with_current(|t| t.pending |= 1 << (super::SIGILL - 1));
            Err(Errno::ENOSYS)
        }
        SyscallClass::BranchThroughZero => {
            with_current(|t| t.pending |= 1 << (super::SIGSEGV - 1));
            Err(Errno::ENOSYS)
        }
    };
    set_result(regs, r);
}

/// The result in r0; an `-ERESTART*` code is also kept for the signal code, which turns it
/// into `EINTR` or a restart on the way out (it never reaches user space).
fn set_result(regs: &mut PtRegs, r: SysResult) {
    if let Err(
        e @ (Errno::ERESTARTSYS
        | Errno::ERESTARTNOINTR
        | Errno::ERESTARTNOHAND
        | Errno::ERESTART_RESTARTBLOCK),
    ) = r
    {
        with_current(|t| t.ext.restart = Some(e));
    }
    regs.set_return_value(match r {
        Ok(v) => v,
        Err(e) => e.to_register(),
    });
}

/// Runs `f` with the current process's user memory.
pub(super) fn with_user<R>(
    f: impl FnOnce(&mut UserMem<'_>, &mut Task) -> Result<R, Errno>,
) -> Result<R, Errno> {
    with_current(|t| {
        let mut pm = t.mm.take().ok_or(Errno::EFAULT)?;
        let mut counts = t.counts;
        let r = {
            let mut um = UserMem { pm: &mut pm, counts: &mut counts };
            f(&mut um, t)
        };
        t.counts = counts;
        t.mm = Some(pm);
        r
    })
}

/// [`with_user`] for a copy made with no lock held: a fault on a card page or a swapped page
/// stops the copy (`VM_FAULT_RETRY`), the task sleeps for the card with the task table free
/// (`D`, other tasks running), and `f` runs again from the start (each copy here is whole
/// or nothing, so running it again is the same copy); a fault that found no free page stops
/// it too, and the task reclaims before `f` runs again (`EFAULT` when nothing was freed):
/// [`super::iowait::run_sleeping`].
fn with_user_sleeping<R>(
    mut f: impl FnMut(&mut UserMem<'_>, &mut Task) -> Result<R, Errno>,
) -> Result<R, Errno> {
    if !super::fs::ns_free() {
        // Called under the namespace's lock: a sleep could let another task spin on it.
        return with_user(f);
    }
    super::iowait::run_sleeping(|| with_user(&mut f))
}

fn copy_in(addr: usize, len: usize) -> Result<Vec<u8>, Errno> {
    with_user_sleeping(|um, _| {
        if !um.access_ok(addr, len) {
            return Err(Errno::EFAULT);
        }
        let mut buf = alloc::vec![0u8; len];
        um.copy_from_user(&mut buf, addr).map_err(|_| Errno::EFAULT)?;
        Ok(buf)
    })
}

fn copy_out(addr: usize, data: &[u8]) -> Result<(), Errno> {
    with_user_sleeping(|um, _| {
        if !um.access_ok(addr, data.len()) {
            return Err(Errno::EFAULT);
        }
        um.copy_to_user(addr, data).map_err(|_| Errno::EFAULT)
    })
}

fn put<T: Wire>(addr: usize, v: &T) -> Result<(), Errno> {
    with_user_sleeping(|um, _| uaccess::put_user(um, addr, v))
}

fn get<T: Wire>(addr: usize) -> Result<T, Errno> {
    with_user_sleeping(|um, _| uaccess::get_user(um, addr))
}

fn path_arg(addr: usize) -> Result<String, Errno> {
    let name = with_user_sleeping(|um, _| uaccess::getname(um, addr, true))?;
    String::from_utf8(name).map_err(|_| Errno::ENOENT)
}

/// A path made absolute from the caller's working directory (`ENOENT` if it was removed).
fn absolute(path: String) -> Result<String, Errno> {
    if path.starts_with('/') {
        return Ok(path);
    }
    let cwd = with_current(|t| t.ext.pwd.node);
    let base =
        with_ns(|ns| ns.node_path(&super::procfs_live::LiveProc, cwd)).ok_or(Errno::ENOENT)?;
    Ok(if base == "/" { alloc::format!("/{path}") } else { alloc::format!("{base}/{path}") })
}

fn call(n: u32, a: [usize; 6]) -> SysResult {
    match n {
        nr::EXIT | nr::EXIT_GROUP => super::do_exit((a[0] as u32 & 0xff) << 8),
        // The file calls: fs::vfs over the namespace, this process's descriptors.
        n if is_file_call(n) => file_call(n, a),
        nr::BRK => with_current(|t| {
            let pm = t.mm.as_mut().ok_or(Errno::ENOMEM)?;
            let old = pm.mm.brk;
            let (new, gone) = pm.mm.brk_unmapped(a[0]);
            if new < old {
                let from = new.next_multiple_of(PAGE_SIZE);
                pm.zap_range(from, old.next_multiple_of(PAGE_SIZE));
            }
            // do_brk_munmap's unmap_region: the tables no remaining VMA shares go too.
            if let Some(u) = gone {
                pm.free_pgtables(u);
            }
            Ok(new)
        }),
        nr::MMAP2 => sys_mmap2(a),
        nr::MUNMAP => with_current_mm(|t| {
            let pm = t.mm.as_mut().ok_or(Errno::EINVAL)?;
            let (start, len) = (a[0], a[1]);
            if !start.is_multiple_of(PAGE_SIZE) || len == 0 {
                return Err(Errno::EINVAL);
            }
            let end = start.saturating_add(len).next_multiple_of(PAGE_SIZE).min(pm.mm.task_size);
            let gone = pm.mm.do_vmi_munmap(start, len)?;
            pm.zap_range(start, end);
            if let Some(u) = gone {
                pm.free_pgtables(u);
            }
            // The PTEs are gone: a shmem object only these VMAs mapped is freed now.
            super::shmem::evict_pending();
            Ok(0)
        }),
        nr::MPROTECT => with_current(|t| {
            let pm = t.mm.as_mut().ok_or(Errno::EINVAL)?;
            let prot = Prot::from_bits(a[2] as u32).ok_or(Errno::EINVAL)?;
            pm.mm.mprotect(a[0], a[1], prot)?;
            let end = a[0].saturating_add(a[1]).next_multiple_of(PAGE_SIZE);
            pm.change_protection(a[0], end);
            Ok(0)
        }),
        nr::MADVISE => {
            let (start, len) = (a[0], a[1]);
            let end = start.saturating_add(len).next_multiple_of(PAGE_SIZE);
            with_current(|t| {
                let pm = t.mm.as_mut().ok_or(Errno::EINVAL)?;
                if !start.is_multiple_of(PAGE_SIZE) {
                    return Err(Errno::EINVAL);
                }
                if a[2] as u32 == MADV_DONTNEED {
                    if pm.mm.find_vma_intersection(start, end).is_none() {
                        return Err(Errno::ENOMEM);
                    }
                    pm.zap_range(start, end);
                }
                if a[2] as u32 == MADV_PAGEOUT && pm.mm.find_vma_intersection(start, end).is_none()
                {
                    return Err(Errno::ENOMEM);
                }
                Ok(0)
            })?;
            if a[2] as u32 == MADV_PAGEOUT {
                // Its writes are waited for with the task table free.
                super::reclaim::madvise_pageout(start, end);
            }
            Ok(0)
        }
        nr::SWAPON => {
            let path = path_arg(a[0])?;
            crate::kernel::swap::swapon(&path, a[1] as u32).map(|_| 0)
        }
        nr::SWAPOFF => {
            let path = path_arg(a[0])?;
            super::swapin::swapoff(&path).map(|_| 0)
        }
        nr::MINCORE => sys_mincore(a[0], a[1], a[2]),
        nr::UNAME => {
            let u = NewUtsname {
                sysname: uts_field("Linux"),
                nodename: uts_field("pivm"),
                release: uts_field("6.1.0-pivm"),
                version: uts_field(concat!("#1 SMP pivm ", env!("CARGO_PKG_VERSION"))),
                machine: uts_field(crate::abi::native::UTS_MACHINE),
                domainname: uts_field("(none)"),
            };
            put(a[0], &u)?;
            Ok(0)
        }
        nr::SET_TID_ADDRESS => with_current(|t| {
            t.clear_child_tid = a[0];
            Ok(t.pid as usize)
        }),
        nr::SET_ROBUST_LIST => sys_set_robust_list(a[0], a[1]),
        nr::GET_ROBUST_LIST => sys_get_robust_list(a[0] as i32, a[1], a[2]),
        nr::RSEQ => super::rseq_task::sys_rseq(a[0], a[1] as u32, a[2] as u32, a[3] as u32),
        nr::GETPPID => with_current(|t| Ok(t.ppid as usize)),
        nr::GETUID32 | nr::GETEUID32 => with_current(|t| Ok(t.ext.uid as usize)),
        nr::GETGID32 | nr::GETEGID32 => with_current(|t| Ok(t.ext.gid as usize)),
        nr::SETUID32 | nr::SETGID32 => with_current(|t| {
            // Root may become anyone; anyone else only what it is (no saved ids on pivm).
            let cur = if n == nr::SETUID32 { t.ext.uid } else { t.ext.gid };
            let id = a[0] as u32;
            if t.ext.uid != 0 && id != cur {
                return Err(Errno::EPERM);
            }
            if n == nr::SETUID32 {
                t.ext.uid = id;
            } else {
                t.ext.gid = id;
            }
            Ok(0)
        }),
        // umask(mask): the new mask's permission bits, the old mask returned (`sys_umask`).
        nr::UMASK => with_current(|t| {
            let old = t.ext.umask;
            t.ext.umask = a[0] as u32 & S_IRWXUGO;
            Ok(old as usize)
        }),
        nr::GETRANDOM => {
            let len = a[1].min(uaccess::MAX_RW_COUNT);
            let mut rng = CounterRandom::new();
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            copy_out(a[0], &bytes)?;
            Ok(len)
        }
        nr::CLOCK_GETTIME => {
            let ns = clock_ns(a[0] as u32)?;
            let ts = OldTimespec {
                tv_sec: (ns / 1_000_000_000) as i32,
                tv_nsec: (ns % 1_000_000_000) as i32,
            };
            put(a[1], &ts)?;
            Ok(0)
        }
        nr::CLOCK_GETTIME64 => {
            let ns = clock_ns(a[0] as u32)?;
            put(a[1], &KernelTimespec::from_nanos(ns))?;
            Ok(0)
        }
        // A null result pointer only checks the clock id.
        nr::CLOCK_GETRES => {
            let ns = clock_res_ns(a[0] as u32)?;
            if a[1] != 0 {
                put(a[1], &OldTimespec { tv_sec: 0, tv_nsec: ns as i32 })?;
            }
            Ok(0)
        }
        nr::CLOCK_GETRES_TIME64 => {
            let ns = clock_res_ns(a[0] as u32)?;
            if a[1] != 0 {
                put(a[1], &KernelTimespec::from_nanos(ns))?;
            }
            Ok(0)
        }
        nr::NANOSLEEP => {
            // The native `timespec` (`long` seconds and nanoseconds).
            let ts: Timespec = get(a[0])?;
            sleep_ns(ts.to_nanos().ok_or(Errno::EINVAL)?)
        }
        nr::CLOCK_NANOSLEEP | nr::CLOCK_NANOSLEEP_TIME64 => {
            let ns = if n == nr::CLOCK_NANOSLEEP {
                let ts: OldTimespec = get(a[2])?;
                ts.to_nanos().ok_or(Errno::EINVAL)?
            } else {
                let ts: KernelTimespec = get(a[2])?;
                ts.to_nanos().ok_or(Errno::EINVAL)?
            };
            // TIMER_ABSTIME: until that time on the clock.
            let ns = if a[1] & 1 != 0 { ns.saturating_sub(clock_ns(a[0] as u32)?) } else { ns };
            sleep_ns(ns)
        }
        nr::SCHED_YIELD => {
            super::schedule();
            Ok(0)
        }
        nr::GETRUSAGE => {
            let who = a[0] as i32;
            let ru = with_current(|t| {
                if who == 0 || who == 1 {
                    let rss = t.mm.as_ref().map_or(0, |m| {
                        m.hw.rss_anon + m.hw.rss_file + m.hw.rss_shmem + m.hw.rss_special
                    });
                    rusage(t.utime, t.stime, t.counts.min_flt, t.counts.maj_flt, rss as u64 * 4)
                } else if who == -1 {
                    // RUSAGE_CHILDREN: the reaped children's (cmin_flt, cutime...).
                    rusage(t.cutime, t.cstime, t.cmin_flt, t.cmaj_flt, 0)
                } else {
                    Rusage::zeroed()
                }
            });
            if who != 0 && who != 1 && who != -1 {
                return Err(Errno::EINVAL);
            }
            put(a[1], &ru)?;
            Ok(0)
        }
        nr::RT_SIGACTION => {
            let sig = a[0] as u32;
            super::rules::check_sigaction(sig, a[1] != 0, a[3] as u32)?;
            let old = with_current(|t| t.sigactions[sig as usize]);
            if a[1] != 0 {
                let mut act: KernelSigaction = get(a[1])?;
                act.sa_mask = act.sa_mask.without_unblockable();
                with_current(|t| {
                    t.sigactions[sig as usize] = act;
                    // Setting SIG_IGN discards a pending instance (`do_sigaction`).
                    if act.sa_handler == SIG_IGN {
                        t.pending &= !(1 << (sig - 1));
                    }
                });
            }
            if a[2] != 0 {
                put(a[2], &old)?;
            }
            Ok(0)
        }
        nr::SIGALTSTACK => {
            let (old, sp) = with_current(|t| (t.altstack, 0u32));
            let _ = sp;
            if a[1] != 0 {
                let cur_sp = 0;
                let st = StackT {
                    ss_sp: old.sp,
                    ss_flags: old.ss_flags(cur_sp) as i32,
                    ss_size: old.size,
                };
                put(a[1], &st)?;
            }
            if a[0] != 0 {
                let new: StackT = get(a[0])?;
                let disable = new.ss_flags as u32 & SS_DISABLE != 0;
                if !disable && (new.ss_size as usize) < MINSIGSTKSZ as usize {
                    return Err(Errno::ENOMEM);
                }
                with_current(|t| {
                    t.altstack = if disable {
                        AltStack::default()
                    } else {
                        AltStack { sp: new.ss_sp, size: new.ss_size, flags: new.ss_flags as u32 }
                    };
                });
            }
            Ok(0)
        }
        nr::RT_SIGPROCMASK => {
            if a[3] != 8 {
                return Err(Errno::EINVAL);
            }
            let old = with_current(|t| t.blocked);
            if a[1] != 0 {
                let set: u64 = get(a[1])?;
                let unblockable = (1u64 << (super::SIGKILL - 1)) | (1 << 18);
                let new = match a[0] {
                    0 => old | set,
                    1 => old & !set,
                    2 => set,
                    _ => return Err(Errno::EINVAL),
                } & !unblockable;
                with_current(|t| t.blocked = new);
            }
            if a[2] != 0 {
                put(a[2], &old)?;
            }
            Ok(0)
        }
        nr::KILL | nr::TKILL => {
            let pid = a[0] as i32;
            let target = if pid <= 0 { super::current_pid() } else { pid as u32 };
            if a[1] == 0 {
                return with_tasks_has(target);
            }
            super::send_signal(target, a[1] as u32).map(|_| 0)
        }
        nr::TGKILL => super::send_signal(a[1] as u32, a[2] as u32).map(|_| 0),
        // The native `struct rlimit`: two `unsigned long`s, `RLIM_INFINITY` all ones (ARM's
        // `ugetrlimit` clamps to it).
        nr::UGETRLIMIT => {
            let (cur, max) = rlimit(a[0] as u32);
            let clamp = |x: u64| x.min(ulong_to_u64(Ulong::MAX)) as Ulong;
            put(a[1], &[clamp(cur), clamp(max)])?;
            Ok(0)
        }
        nr::SETRLIMIT => {
            let [cur, max]: [Ulong; 2] = get(a[1])?;
            let inf = |x: Ulong| if x == Ulong::MAX { u64::MAX } else { ulong_to_u64(x) };
            set_rlimit(a[0] as u32, inf(cur), inf(max))?;
            Ok(0)
        }
        nr::PRLIMIT64 => {
            if a[0] != 0 && a[0] as u32 != super::current_pid() {
                return Err(Errno::ESRCH);
            }
            let (cur, max) = rlimit(a[1] as u32);
            if a[2] != 0 {
                let new = copy_in(a[2], 16)?;
                let word = |i: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&new[i * 8..i * 8 + 8]);
                    u64::from_le_bytes(b)
                };
                set_rlimit(a[1] as u32, word(0), word(1))?;
            }
            if a[3] != 0 {
                let mut out = [0u8; 16];
                out[..8].copy_from_slice(&cur.to_le_bytes());
                out[8..].copy_from_slice(&max.to_le_bytes());
                copy_out(a[3], &out)?;
            }
            Ok(0)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// `kill(pid, 0)`: whether the task exists. A zombie does until it is reaped (Linux finds its
/// pid until `release_task`); one released at exit (`autoreap`) is gone at once, though its
/// entry waits for the next `schedule()` to free its stack.
fn with_tasks_has(pid: u32) -> SysResult {
    super::with_tasks(|t| {
        let exists = |x: &Task| x.pid != 0 && !(x.state == TaskState::Zombie && x.ext.autoreap);
        if t.map.get(&pid).is_some_and(exists) {
            Ok(0)
        } else {
            Err(Errno::ESRCH)
        }
    })
}

/// `RLIMIT_STACK`, `RLIMIT_NPROC`.
const RLIMIT_STACK: u32 = 3;
const RLIMIT_NPROC: u32 = 6;

/// `RLIM_INFINITY` and the stack limit (8 MiB), as the reference system has them; the
/// task's own `RLIMIT_NPROC`.
fn rlimit(resource: u32) -> (u64, u64) {
    if resource == RLIMIT_STACK {
        (8 << 20, u64::MAX)
    } else if resource == RLIMIT_NPROC {
        with_current(|t| t.ext.rlimit_nproc)
    } else {
        (u64::MAX, u64::MAX)
    }
}

/// `do_prlimit`'s check and update of the one limit pivm enforces (`RLIMIT_NPROC`, in
/// `fork`): soft above hard is `EINVAL`, raising the hard limit needs root (`EPERM`). Other
/// limits are accepted and not enforced.
fn set_rlimit(resource: u32, cur: u64, max: u64) -> Result<(), Errno> {
    if cur > max {
        return Err(Errno::EINVAL);
    }
    if resource != RLIMIT_NPROC {
        return Ok(());
    }
    with_current(|t| {
        if max > t.ext.rlimit_nproc.1 && t.ext.uid != 0 {
            return Err(Errno::EPERM);
        }
        t.ext.rlimit_nproc = (cur, max);
        Ok(())
    })
}

/// Nanoseconds on a clock: every clock pivm has runs from boot.
/// Clock ids (`include/uapi/linux/time.h`).
mod clock {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
    pub const MONOTONIC_RAW: u32 = 4;
    pub const REALTIME_COARSE: u32 = 5;
    pub const MONOTONIC_COARSE: u32 = 6;
    pub const BOOTTIME: u32 = 7;
    pub const TAI: u32 = 11;
}

/// `clock_gettime`'s reading of `clock`. pivm's timekeeper counts from boot and has no wall
/// clock to set, no suspend and no TAI offset, so the high-resolution clocks all read the
/// boot time (as the vDSO's base times say); the coarse clocks read the last tick, as
/// `ktime_get_coarse` does; the CPU-time clocks the task's ticks (pivm charges time by the
/// tick, not `sum_exec_runtime`). The alarm clocks need an RTC, which the Pi lacks: `EINVAL`,
/// as `alarm_clock_get_timespec` gives without one.
fn clock_ns(id: u32) -> Result<u64, Errno> {
    use crate::kernel::time;
    match id {
        clock::REALTIME
        | clock::MONOTONIC
        | clock::MONOTONIC_RAW
        | clock::BOOTTIME
        | clock::TAI => Ok(time::ktime_get_boottime_ns()),
        clock::REALTIME_COARSE | clock::MONOTONIC_COARSE => Ok(time::ktime_get_coarse_ns()),
        clock::PROCESS_CPUTIME_ID | clock::THREAD_CPUTIME_ID => {
            Ok(super::current_cpu_ticks().saturating_mul(NSEC_PER_JIFFY))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `clock_getres`: every clock pivm has ticks at `HZ` (no high-resolution timers, so
/// `hrtimer_resolution` is `LOW_RES_NSEC`; the coarse and CPU-time clocks are a tick too).
fn clock_res_ns(id: u32) -> Result<u64, Errno> {
    clock_ns(id).map(|_| NSEC_PER_JIFFY)
}

/// Sleeps the current task for at least `ns` of the monotonic clock, until the first tick
/// at or after the deadline (`hrtimer_nanosleep` with low-resolution timers). The deadline is
/// a time of the clock, not a count of ticks: a tick that comes late adds several jiffies at
/// once, and a sleep counted in jiffies from a stale `jiffies` could end early (a loaded host
/// once ended a 10 ms sleep after 5 ms). A signal that comes first ends it with
/// `-ERESTART_RESTARTBLOCK`: `EINTR` when a handler runs, otherwise (a stop and SIGCONT, an
/// ignored signal) the call runs again and sleeps until the same deadline, as
/// `hrtimer_nanosleep_restart` does.
fn sleep_ns(ns: u64) -> SysResult {
    use crate::kernel::time;
    let deadline = match with_current(|t| t.ext.restart_wake.take()) {
        Some(deadline) => deadline,
        None if ns == 0 => return Ok(0),
        None => time::ktime_get_boottime_ns() + ns,
    };
    loop {
        let now = time::ktime_get_boottime_ns();
        let wake = time::expiry_jiffy(
            time::get_jiffies_64(),
            time::ktime_get_coarse_ns(),
            deadline,
            NSEC_PER_JIFFY,
        );
        let done = with_current(|t| {
            if t.pending & !t.blocked != 0 {
                t.ext.restart_wake = Some(deadline);
                return Some(Err(Errno::ERESTART_RESTARTBLOCK));
            }
            if now >= deadline {
                return Some(Ok(0));
            }
            t.state = TaskState::Sleeping;
            // At least the next tick: the clock has not reached the deadline yet.
            t.wake_at = wake.max(time::get_jiffies_64() + 1);
            None
        });
        if let Some(r) = done {
            return r;
        }
        super::schedule();
    }
}

/// The calls the file layer answers.
fn is_file_call(n: u32) -> bool {
    matches!(
        n,
        nr::READ
            | nr::WRITE
            | nr::READV
            | nr::WRITEV
            | nr::PREAD64
            | nr::OPEN
            | nr::OPENAT
            | nr::CREAT
            | nr::CLOSE
            | nr::LSEEK
            | nr::_LLSEEK
            | nr::GETDENTS64
            | nr::FSTAT64
            | nr::STAT64
            | nr::LSTAT64
            | nr::FSTATAT64
            | nr::STATX
            | nr::READLINK
            | nr::READLINKAT
            | nr::FCNTL
            | nr::FCNTL64
            | nr::IOCTL
            | nr::DUP
            | nr::DUP2
            | nr::DUP3
            | nr::MKDIR
            | nr::MKDIRAT
            | nr::UNLINK
            | nr::UNLINKAT
            | nr::RMDIR
            | nr::RENAME
            | nr::RENAMEAT
            | nr::RENAMEAT2
            | nr::CHDIR
            | nr::FCHDIR
            | nr::GETCWD
            | nr::PIPE
            | nr::PIPE2
            | nr::PWRITE64
            | nr::ACCESS
            | nr::FACCESSAT
            | nr::FACCESSAT2
    )
}

/// A file system call through `fs::vfs` (ARM EABI argument order: a 64-bit argument sits in
/// an even/odd register pair, low word first).
fn file_call(n: u32, a: [usize; 6]) -> SysResult {
    let (fd, u) = (a[0] as i32, |i: usize| a[i]);
    // `off_t` is a `long`: lseek's offset and result are 32-bit on ARM, 64-bit on arm64.
    #[cfg(target_pointer_width = "32")]
    type OffT = i32;
    #[cfg(target_pointer_width = "64")]
    type OffT = i64;
    // The 32-bit arguments (`int`/`unsigned int` flags, modes and descriptors).
    let w = |i: usize| a[i] as u32;
    match n {
        nr::READ => read_blocking(fd, |v, done| v.read(fd, u(1) + done, u(2) - done)),
        nr::READV => read_blocking(fd, |v, done| v.readv(fd, u(1), u(2), done)),
        nr::PREAD64 => {
            let pos = sysno::pos64(&a);
            transfer_sleeping(|v, done| v.pread64(fd, u(1) + done, u(2) - done, pos + done as i64))
        }
        nr::WRITE => super::pipe::write_blocking(fd, u(1), u(2)),
        nr::WRITEV => super::pipe::writev_blocking(fd, u(1), u(2)),
        nr::OPEN => {
            with_vfs_sleeping(|v| v.openat(AT_FDCWD, u(0), w(1), w(2))).map(|fd| fd as usize)
        }
        nr::OPENAT => with_vfs_sleeping(|v| v.openat(fd, u(1), w(2), w(3))).map(|fd| fd as usize),
        // creat(path, mode) is open(path, O_CREAT | O_WRONLY | O_TRUNC, mode).
        nr::CREAT => {
            let flags = o::O_CREAT | o::O_WRONLY | o::O_TRUNC;
            with_vfs_sleeping(|v| v.openat(AT_FDCWD, u(0), flags, w(1))).map(|fd| fd as usize)
        }
        nr::CLOSE => with_vfs_sleeping(|v| v.close(fd)).map(|_| 0),
        nr::LSEEK => with_vfs_sleeping(|v| v.lseek(fd, a[1] as OffT, w(2))).map(|off| off as usize),
        nr::_LLSEEK => {
            // `vfs_llseek`, then the result's copy with no lock held (as 6.1's `_llseek`):
            // the position moves even when the copy then fails with EFAULT.
            let off = ((a[1] as u64) << 32 | a[2] as u64) as i64;
            let r = with_vfs_sleeping(|v| v.llseek(fd, off, w(4)))?;
            put(u(3), &r).map(|_| 0)
        }
        nr::GETDENTS64 => transfer_sleeping(|v, done| v.getdents64(fd, u(1) + done, u(2) - done)),
        nr::FSTAT64 => with_vfs_sleeping(|v| v.fstat64(fd, u(1))).map(|_| 0),
        nr::STAT64 => with_vfs_sleeping(|v| v.fstatat64(AT_FDCWD, u(0), u(1), 0)).map(|_| 0),
        nr::LSTAT64 => {
            with_vfs_sleeping(|v| v.fstatat64(AT_FDCWD, u(0), u(1), AT_SYMLINK_NOFOLLOW)).map(|_| 0)
        }
        nr::FSTATAT64 => with_vfs_sleeping(|v| v.fstatat64(fd, u(1), u(2), w(3))).map(|_| 0),
        nr::STATX => with_vfs_sleeping(|v| v.statx(fd, u(1), w(2), w(3), u(4))).map(|_| 0),
        nr::READLINK => with_vfs_sleeping(|v| v.readlinkat(AT_FDCWD, u(0), u(1), a[2] as i32)),
        nr::READLINKAT => with_vfs_sleeping(|v| v.readlinkat(fd, u(1), u(2), a[3] as i32)),
        // fcntl and fcntl64 differ only in the record-lock commands, which pivm refuses.
        nr::FCNTL | nr::FCNTL64 => {
            with_vfs_sleeping(|v| v.fcntl64(fd, w(1), w(2))).map(|v| v as usize)
        }
        nr::IOCTL => with_vfs_sleeping(|v| v.ioctl(fd, w(1), u(2))).map(|v| v as usize),
        nr::DUP => with_current(|t| t.files.dup(fd)).map(|fd| fd as usize),
        nr::DUP2 => with_current(|t| t.files.dup2(fd, a[1] as i32)).map(|fd| fd as usize),
        nr::DUP3 => with_current(|t| t.files.dup3(fd, a[1] as i32, w(2))).map(|fd| fd as usize),
        nr::MKDIR => with_vfs_sleeping(|v| v.mkdirat(AT_FDCWD, u(0), w(1))).map(|_| 0),
        nr::MKDIRAT => with_vfs_sleeping(|v| v.mkdirat(fd, u(1), w(2))).map(|_| 0),
        nr::UNLINK => with_vfs_sleeping(|v| v.unlinkat(AT_FDCWD, u(0), 0)).map(|_| 0),
        nr::UNLINKAT => with_vfs_sleeping(|v| v.unlinkat(fd, u(1), w(2))).map(|_| 0),
        nr::RMDIR => with_vfs_sleeping(|v| v.unlinkat(AT_FDCWD, u(0), AT_REMOVEDIR)).map(|_| 0),
        nr::RENAME => {
            with_vfs_sleeping(|v| v.renameat2(AT_FDCWD, u(0), AT_FDCWD, u(1), 0)).map(|_| 0)
        }
        nr::RENAMEAT => {
            with_vfs_sleeping(|v| v.renameat2(fd, u(1), a[2] as i32, u(3), 0)).map(|_| 0)
        }
        nr::RENAMEAT2 => {
            with_vfs_sleeping(|v| v.renameat2(fd, u(1), a[2] as i32, u(3), w(4))).map(|_| 0)
        }
        nr::CHDIR => super::fs::set_pwd(|v| v.chdir(u(0))),
        nr::FCHDIR => super::fs::set_pwd(|v| v.fchdir(fd)),
        nr::GETCWD => with_vfs_sleeping(|v| v.getcwd(u(0), u(1))),
        nr::PWRITE64 => {
            let pos = sysno::pos64(&a);
            transfer_sleeping(|v, done| v.pwrite64(fd, u(1) + done, u(2) - done, pos + done as i64))
        }
        nr::ACCESS => with_vfs_sleeping(|v| v.faccessat2(AT_FDCWD, u(0), w(1), 0)).map(|_| 0),
        nr::FACCESSAT => with_vfs_sleeping(|v| v.faccessat2(fd, u(1), w(2), 0)).map(|_| 0),
        nr::FACCESSAT2 => with_vfs_sleeping(|v| v.faccessat2(fd, u(1), w(2), w(3))).map(|_| 0),
        nr::PIPE => with_vfs_sleeping(|v| v.pipe2(u(0), 0)).map(|_| 0),
        nr::PIPE2 => with_vfs_sleeping(|v| v.pipe2(u(0), w(1))).map(|_| 0),
        _ => Err(Errno::ENOSYS),
    }
}

/// A read that may wait for the console: the tty's `EAGAIN` ("no line yet") on a blocking
/// descriptor sleeps the reader until a line comes (the foreground program) or reads
/// end-of-file (a background one, which has no terminal input). A signal interrupts the wait.
fn read_blocking(
    fd: i32,
    mut op: impl FnMut(&mut Ctx<'_, CachePages, CurrentMem>, usize) -> Result<usize, Errno>,
) -> SysResult {
    loop {
        match transfer_sleeping(&mut op) {
            Err(Errno::EAGAIN) if blocking_console(fd) => {}
            Err(Errno::EAGAIN) if super::pipe::blocking_pipe(fd).is_some() => {
                if let Some(r) = super::pipe::pipe_wait(fd, 0) {
                    return r;
                }
                continue;
            }
            r => return r,
        }
        let wait = with_current(|t| {
            if !t.foreground {
                return Some(Ok(0));
            }
            if t.pending & !t.blocked != 0 {
                return Some(Err(Errno::ERESTARTSYS));
            }
            t.state = TaskState::Sleeping;
            t.wake_at = crate::kernel::time::get_jiffies_64() + 1;
            None
        });
        if let Some(r) = wait {
            return r;
        }
        super::schedule();
    }
}

/// `filemap_read`'s waits for the card, and a transfer's user copy that faults: `op` moves
/// bytes (a read's to user memory, a write's from it, `getdents64`'s records) from `done`
/// bytes into the call under the namespace's lock; a card file's read that reaches a page
/// still being read, or a copy that faults on a card or swapped page or finds no free page
/// for its fault, stops short there ([`super::iowait::with_io_deferred`]), and the task
/// sleeps on the bio (`D`, other tasks running) or reclaims with every lock dropped, then
/// goes on (a write's copy in then faults with
/// `FAULT_FLAG_TRIED`, as 6.1's `generic_perform_write` faults the page in and copies
/// again). The bytes moved in all, or the error of the first step (a later error ends the
/// call with what was moved, as `filemap_read` returns the bytes copied before it).
pub(super) fn transfer_sleeping(
    mut op: impl FnMut(&mut Ctx<'_, CachePages, CurrentMem>, usize) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let mut done = 0;
    let r = loop {
        let (r, wait) = super::iowait::with_io_deferred(|| with_vfs(|v| op(v, done)));
        let Some(why) = wait else {
            break match r {
                Ok(n) => Ok(done + n),
                Err(_) if done > 0 => Ok(done),
                Err(e) => Err(e),
            };
        };
        match r {
            Ok(n) => done += n,
            // The copy stopped at its first byte, on a page being read in or with no free
            // page for its fault (a real EFAULT comes back without a wait when the call runs
            // again).
            Err(Errno::EFAULT) => {}
            Err(_) if done > 0 => break Ok(done),
            Err(e) => break Err(e),
        }
        if let Err(e) = why.finish() {
            // The card failed the read (its page has left the cache: EIO), or reclaim freed
            // nothing (EFAULT): no second try.
            break if done > 0 { Ok(done) } else { Err(e) };
        }
    };
    // A copy that stopped and was not run again leaves no retry note behind.
    super::iowait::clear_uaccess_retry();
    r
}

/// Whether `fd` is the console without `O_NONBLOCK`.
fn blocking_console(fd: i32) -> bool {
    with_current(|t| {
        t.files.get(fd).is_ok_and(|f| {
            let f = f.lock();
            matches!(f.object, Object::Console) && f.f_flags & o::O_NONBLOCK == 0
        })
    })
}

/// What `mmap2` maps of descriptor `fd`: a regular ramfs file (its inode, path and access
/// mode); `ENODEV` for anything else (devices, directories, `/proc` files have no `mmap`).
fn mmap_file(fd: i32) -> Result<MmapFile, Errno> {
    let (object, node, readable, writable) = with_current(|t| {
        let f = t.files.get(fd)?.lock();
        Ok::<_, Errno>((f.object.clone(), f.node, f.readable(), f.writable()))
    })?;
    if let (Object::Blk { .. }, crate::fs::vfs::Node::Ram(ino)) = (&object, node) {
        // A block device: its pages come from the device's page cache (`blkdev_mmap`,
        // `generic_file_mmap`); the VMA names the device file, as /proc/PID/maps shows it.
        let path = with_ns(|ns| ns.d_path(ino).ok_or(Errno::ENOENT))?;
        // The mapping holds the device file's inode as the open file does.
        let pin = with_current(|t| t.files.get(fd).ok().and_then(|f| f.lock().pin.clone()))
            .map(|p| p as alloc::sync::Arc<dyn core::any::Any + Send + Sync>);
        let file = crate::mm::mm_types::VmFile { pin, dev: crate::fs::ramfs::RAMFS_DEV, ino, path };
        return Ok(MmapFile {
            file: alloc::sync::Arc::new(file),
            readable,
            writable,
            noexec: false,
        });
    }
    if let Object::Disk { ino, .. } = object {
        // A file of the card volume on /boot: its pages come from the card's page cache.
        let (dev, path) = with_ns(|ns| {
            let fs = ns.disk.as_ref().ok_or(Errno::ENODEV)?;
            if fs.fs.getattr(ino)?.mode & crate::fs::ramfs::S_IFMT != crate::fs::ramfs::S_IFREG {
                return Err(Errno::ENODEV);
            }
            Ok((fs.fs.dev(), ns.disk_path(ino).ok_or(Errno::ENOENT)?))
        })?;
        let file = crate::mm::mm_types::VmFile { pin: None, dev, ino, path };
        return Ok(MmapFile {
            file: alloc::sync::Arc::new(file),
            readable,
            writable,
            noexec: false,
        });
    }
    let Object::Ram(ino) = object else { return Err(Errno::ENODEV) };
    // The mapping holds the inode as the open file does (`vma->vm_file`).
    let pin = with_current(|t| t.files.get(fd).ok().and_then(|f| f.lock().pin.clone()));
    let path = with_ns(|ns| {
        if !matches!(ns.ramfs.inode(ino).map(|i| &i.kind), Some(InodeKind::Reg(_))) {
            return Err(Errno::ENODEV);
        }
        // The fault path finds the file's pages without the namespace's lock.
        register_file(ns, ino);
        ns.d_path(ino).ok_or(Errno::ENOENT)
    })?;
    Ok(MmapFile {
        file: alloc::sync::Arc::new(crate::mm::mm_types::VmFile {
            pin: pin.map(|p| p as alloc::sync::Arc<dyn core::any::Any + Send + Sync>),
            dev: crate::fs::ramfs::RAMFS_DEV,
            ino,
            path,
        }),
        readable,
        writable,
        noexec: false,
    })
}

fn sys_mmap2(a: [usize; 6]) -> SysResult {
    let (addr, len) = (a[0], a[1]);
    let prot = Prot::from_bits(a[2] as u32).ok_or(Errno::EINVAL)?;
    let flags = MapFlags::from_bits_retain(a[3] as u32);
    let pgoff = a[5] as u64;
    let file =
        if flags.contains(MapFlags::ANONYMOUS) { None } else { Some(mmap_file(a[4] as i32)?) };
    with_current_mm(|t| {
        let pm = t.mm.as_mut().ok_or(Errno::ENOMEM)?;
        if flags.intersects(MapFlags::FIXED) && addr.is_multiple_of(PAGE_SIZE) {
            let end = addr.saturating_add(len).next_multiple_of(PAGE_SIZE).min(pm.mm.task_size);
            if addr < end && addr >= pm.mm.mmap_min_addr {
                pm.zap_range(addr, end);
            }
        }
        let r = pm.mm.do_mmap(addr, len, prot, flags, file.as_ref().map(|f| (f, pgoff)));
        // A MAP_FIXED mapping replaced zapped VMAs: a shmem object only they mapped goes.
        super::shmem::evict_pending();
        r
    })
}

fn sys_mincore(start: usize, len: usize, vec: usize) -> SysResult {
    if !start.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let pages = len.div_ceil(PAGE_SIZE);
    let v = with_current(|t| {
        let pm = t.mm.as_ref().ok_or(Errno::ENOMEM)?;
        let mut v = Vec::with_capacity(pages);
        for i in 0..pages {
            let va = start + i * PAGE_SIZE;
            let vma = pm.mm.find_vma(va).filter(|x| x.vm_start <= va).ok_or(Errno::ENOMEM)?;
            // A swapped-out page still in the swap cache is resident (mincore_page).
            let present = arch::get_user_pte(pm.hw.pgd, va).is_some()
                || arch::get_user_swp_entry(pm.hw.pgd, va)
                    .is_some_and(crate::kernel::swap::in_cache)
                || vma.vm_file.as_ref().is_some_and(|f| {
                    let idx = vma.vm_pgoff + ((va - vma.vm_start) / PAGE_SIZE) as u64;
                    if crate::kernel::cardfs::is_card_file(f) {
                        crate::kernel::cardfs::is_cached(f, idx)
                    } else {
                        super::fs::cached_page(f, idx).is_some()
                    }
                });
            v.push(u8::from(present));
        }
        Ok(v)
    })?;
    copy_out(vec, &v)?;
    Ok(0)
}

/// The permission bits a umask keeps (`S_IRWXUGO`).
const S_IRWXUGO: u32 = 0o777;

/// `sizeof(struct robust_list_head)`: `list.next`, `futex_offset`, `list_op_pending`, a
/// `long` each (12 bytes on ARM, 24 on arm64).
const ROBUST_LIST_HEAD_SIZE: usize = 3 * core::mem::size_of::<Ulong>();

/// `set_robust_list(head, len)`: records the head for the exit-time walk (the address is not
/// checked, as in Linux); `EINVAL` for any other size.
fn sys_set_robust_list(head: usize, len: usize) -> SysResult {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    with_current(|t| t.ext.robust_list = head);
    Ok(0)
}

/// `get_robust_list(pid, head_ptr, len_ptr)`: the head `pid` (0: the caller) registered and
/// the size; `ESRCH` for no such task, `EPERM` unless `ptrace_may_access` would allow it
/// (root, or the same uid).
fn sys_get_robust_list(pid: i32, head_ptr: usize, len_ptr: usize) -> SysResult {
    let head = super::with_tasks(|t| {
        let me = t.current().ext.uid;
        let target = if pid == 0 {
            Some(t.current())
        } else {
            u32::try_from(pid).ok().and_then(|p| t.map.get_mut(&p))
        };
        let target = target.filter(|x| x.pid != 0).ok_or(Errno::ESRCH)?;
        if me != 0 && me != target.ext.uid {
            return Err(Errno::EPERM);
        }
        Ok(target.ext.robust_list)
    })?;
    // Both are written as the ABI's word (`size_t *`, `struct robust_list_head **`).
    put(len_ptr, &(ROBUST_LIST_HEAD_SIZE as Ulong))?;
    put(head_ptr, &(head as Ulong))?;
    Ok(0)
}

/// `wait4(pid, status, options, rusage)`.
fn sys_wait4(pid: i32, status: usize, options: u32, ru: usize) -> SysResult {
    super::rules::check_wait_options(options)?;
    let Some(r) = super::do_wait(pid, options)? else { return Ok(0) };
    if status != 0 {
        put(status, &r.status)?;
    }
    if ru != 0 {
        put(ru, &rusage(r.utime, r.stime, r.counts.min_flt, r.counts.maj_flt, 0))?;
    }
    Ok(r.pid as usize)
}

/// The native `struct rusage` `getrusage` and `wait4` fill: the user and system times (in
/// ticks), the minor and major faults, the largest resident set (KiB; 0 where pivm keeps
/// none); the other `long`s stay zero, as pivm counts none of them.
fn rusage(utime: u64, stime: u64, minflt: u64, majflt: u64, maxrss_kb: u64) -> Rusage {
    let mut ru = Rusage::zeroed();
    ru.ru_utime = Timeval::from_nanos(utime * NSEC_PER_JIFFY);
    ru.ru_stime = Timeval::from_nanos(stime * NSEC_PER_JIFFY);
    ru.ru_minflt = minflt as _;
    ru.ru_majflt = majflt as _;
    ru.ru_maxrss = maxrss_kb as _;
    ru
}

/// Most arguments or environment strings `execve` takes (`MAX_ARG_STRINGS` is far larger;
/// pivm's initial stack is built in one kernel buffer).
const MAX_EXEC_STRINGS: usize = 1024;

/// `execve`'s argument and environment strings, copied from user space into one buffer (as
/// Linux's `copy_strings` fills the new stack's pages) rather than one allocation a string.
struct ExecStrings {
    /// Every string's bytes, without their NULs, one after the other.
    bytes: Vec<u8>,
    /// Where each string ends in `bytes`.
    ends: Vec<usize>,
}

/// Room reserved for the strings up front: a typical command line and environment fit.
const EXEC_STRINGS_BYTES: usize = 512;
const EXEC_STRINGS_COUNT: usize = 32;

impl ExecStrings {
    /// Appends the NULL-terminated user array of strings at `addr` (`copy_strings`); the
    /// number of strings it held.
    fn copy_array(&mut self, addr: usize) -> Result<usize, Errno> {
        let first = self.ends.len();
        if addr == 0 {
            return Ok(0);
        }
        loop {
            let n = self.ends.len() - first;
            if n >= MAX_EXEC_STRINGS {
                return Err(Errno::E2BIG);
            }
            let p: Ulong = get(addr + core::mem::size_of::<Ulong>() * n)?;
            if p == 0 {
                return Ok(n);
            }
            // copy_strings: the string's size by `strnlen_user` (0: EFAULT; longer than
            // MAX_ARG_STRLEN: E2BIG), then the bytes before its NUL.
            // A copy that stopped (to sleep for the card or to reclaim) runs again whole.
            let bytes = &mut self.bytes;
            let at = bytes.len();
            with_user_sleeping(|um, _| {
                bytes.truncate(at);
                let max = crate::fs::binfmt_elf::MAX_ARG_STRLEN;
                let len = um.strnlen_user(p as usize, max);
                if len == 0 {
                    return Err(Errno::EFAULT);
                }
                if len > max {
                    return Err(Errno::E2BIG);
                }
                bytes.resize(at + len - 1, 0);
                um.copy_from_user(&mut bytes[at..], p as usize).map_err(|_| Errno::EFAULT)
            })?;
            self.ends.push(self.bytes.len());
        }
    }

    /// The strings, in order.
    fn slices(&self) -> Vec<&[u8]> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            out.push(&self.bytes[start..end]);
            start = end;
        }
        out
    }
}

fn sys_execve(regs: &mut PtRegs) -> Result<(), Errno> {
    let [path, argv, envp, ..] = regs.syscall_get_arguments();
    let path = path_arg(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = absolute(path)?;
    let mut strings = ExecStrings {
        bytes: Vec::with_capacity(EXEC_STRINGS_BYTES),
        ends: Vec::with_capacity(EXEC_STRINGS_COUNT),
    };
    let argc = strings.copy_array(argv)?;
    strings.copy_array(envp)?;
    // bprm_stack_limits: the strings and their pointers within a quarter of the stack limit.
    let bytes = strings.bytes.len() + strings.ends.len();
    let pointers = strings.ends.len() * core::mem::size_of::<Ulong>();
    if bytes + pointers > super::rules::arg_limit(rlimit(RLIMIT_STACK).0 as usize) {
        return Err(Errno::E2BIG);
    }
    let all = strings.slices();
    let (argv, envp) = all.split_at(argc);
    let loaded = super::exec::load(&path, argv, envp).map_err(|e| match e {
        super::exec::ExecError::Errno(e) => e,
        super::exec::ExecError::Elf(e) => e.errno(),
    })?;
    super::exec::exec_into_current(regs, &path, loaded);
    // do_close_on_exec: past the point of no return, the O_CLOEXEC descriptors go.
    with_current(|t| t.files.close_on_exec());
    Ok(())
}
