//! Which handler a system-call number reaches: the system-call dispatch is keyed by the
//! running architecture's table (Linux's `sys_call_table`: ARM's EABI numbers on arm,
//! arm64's generic numbers from `abi::arm64::unistd` on aarch64), and both tables lead to the
//! same handlers, which are written against ARM's numbers.
//!
//! arm64 has no `fork`, `open`, `pipe`, `stat64` or `mmap2`: its C library calls `clone`,
//! `openat`, `pipe2`, `newfstatat` and `mmap` (offset in bytes). A call reaches ARM's handler
//! only where the two ABIs agree on every argument and structure; where a structure differs
//! (`struct stat`, `rusage`, `sigaction`, `stack_t`, `iovec`, `rlimit`, the 32-bit
//! `timespec`), the call is not in the table yet and answers `ENOSYS` rather than a structure
//! in the wrong layout. Pure: host-tested.
use crate::abi::arm::unistd::nr as arm;
use crate::abi::arm64::unistd::nr as a64;

/// What a number of the architecture's table runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// ARM's handler of this EABI number, with the arguments as they are.
    Same(u32),
    /// arm64's `mmap`: `mmap2`'s handler after the byte offset is checked (page aligned, else
    /// `EINVAL`) and turned into pages (`sys_mmap` in arch/arm64/kernel/sys.c).
    MmapBytes,
    /// Not in the table (yet): `ENOSYS`.
    None,
}

/// arm64's calls that are ARM's with the same arguments and structures: (arm64, ARM).
const SAME: [(u32, u32); 53] = [
    (a64::READ, arm::READ),
    (a64::WRITE, arm::WRITE),
    (a64::CLOSE, arm::CLOSE),
    (a64::DUP, arm::DUP),
    (a64::DUP3, arm::DUP3),
    (a64::OPENAT, arm::OPENAT),
    (a64::PIPE2, arm::PIPE2),
    (a64::LSEEK, arm::LSEEK),
    (a64::GETCWD, arm::GETCWD),
    (a64::CHDIR, arm::CHDIR),
    (a64::FCHDIR, arm::FCHDIR),
    (a64::MKDIRAT, arm::MKDIRAT),
    (a64::UNLINKAT, arm::UNLINKAT),
    (a64::RENAMEAT, arm::RENAMEAT),
    (a64::RENAMEAT2, arm::RENAMEAT2),
    (a64::READLINKAT, arm::READLINKAT),
    (a64::FACCESSAT, arm::FACCESSAT),
    (a64::FACCESSAT2, arm::FACCESSAT2),
    (a64::IOCTL, arm::IOCTL),
    // arm64's fcntl is the 64-bit one (`fcntl64` on ARM).
    (a64::FCNTL, arm::FCNTL64),
    (a64::GETDENTS64, arm::GETDENTS64),
    (a64::EXIT, arm::EXIT),
    (a64::EXIT_GROUP, arm::EXIT_GROUP),
    (a64::SET_TID_ADDRESS, arm::SET_TID_ADDRESS),
    (a64::KILL, arm::KILL),
    (a64::TKILL, arm::TKILL),
    (a64::TGKILL, arm::TGKILL),
    (a64::GETPID, arm::GETPID),
    (a64::GETPPID, arm::GETPPID),
    (a64::GETTID, arm::GETTID),
    // 32-bit ids on both (ARM's 16-bit calls are the ones without the suffix).
    (a64::GETUID, arm::GETUID32),
    (a64::GETEUID, arm::GETEUID32),
    (a64::GETGID, arm::GETGID32),
    (a64::GETEGID, arm::GETEGID32),
    (a64::SETUID, arm::SETUID32),
    (a64::SETGID, arm::SETGID32),
    (a64::UMASK, arm::UMASK),
    (a64::UNAME, arm::UNAME),
    (a64::SCHED_YIELD, arm::SCHED_YIELD),
    (a64::GETRANDOM, arm::GETRANDOM),
    (a64::RSEQ, arm::RSEQ),
    (a64::BRK, arm::BRK),
    (a64::MUNMAP, arm::MUNMAP),
    (a64::MPROTECT, arm::MPROTECT),
    (a64::MADVISE, arm::MADVISE),
    (a64::MINCORE, arm::MINCORE),
    (a64::EXECVE, arm::EXECVE),
    // Both are CLONE_BACKWARDS: (flags, newsp, parent_tid, tls, child_tid).
    (a64::CLONE, arm::CLONE),
    (a64::SWAPON, arm::SWAPON),
    (a64::SWAPOFF, arm::SWAPOFF),
    // arm64's timespec is ARM's __kernel_timespec (the time64 calls).
    (a64::CLOCK_GETTIME, arm::CLOCK_GETTIME64),
    (a64::CLOCK_GETRES, arm::CLOCK_GETRES_TIME64),
    (a64::CLOCK_NANOSLEEP, arm::CLOCK_NANOSLEEP_TIME64),
];

/// The same handler with the same structures, further: `prlimit64`'s `rlimit64`,
/// `rt_sigprocmask`'s 8-byte set and `statx`'s `struct statx` are alike on both; the
/// handlers of the rest write the native ABI's structure (`struct stat` through
/// `Kstat::to_stat`, the 16-byte `iovec`, `rt_sigaction`'s and `sigaltstack`'s 64-bit
/// `sigaction` and `stack_t`, `struct robust_list_head`'s size and pointer as the native
/// word), and `pread64`/`pwrite64` take their position from [`pos64`].
const SAME_STRUCTS: [(u32, u32); 19] = [
    (a64::PRLIMIT64, arm::PRLIMIT64),
    (a64::RT_SIGPROCMASK, arm::RT_SIGPROCMASK),
    (a64::STATX, arm::STATX),
    (a64::FSTAT, arm::FSTAT64),
    (a64::NEWFSTATAT, arm::FSTATAT64),
    (a64::READV, arm::READV),
    (a64::WRITEV, arm::WRITEV),
    (a64::PREAD64, arm::PREAD64),
    (a64::PWRITE64, arm::PWRITE64),
    (a64::RT_SIGACTION, arm::RT_SIGACTION),
    (a64::SIGALTSTACK, arm::SIGALTSTACK),
    (a64::RT_SIGRETURN, arm::RT_SIGRETURN),
    // The native rusage (144 bytes), timespec (16) and rlimit (two unsigned longs).
    (a64::WAIT4, arm::WAIT4),
    (a64::GETRUSAGE, arm::GETRUSAGE),
    (a64::NANOSLEEP, arm::NANOSLEEP),
    (a64::GETRLIMIT, arm::UGETRLIMIT),
    (a64::SETRLIMIT, arm::SETRLIMIT),
    // glibc registers its thread's list at start-up: 24 bytes here, 12 on ARM.
    (a64::SET_ROBUST_LIST, arm::SET_ROBUST_LIST),
    (a64::GET_ROBUST_LIST, arm::GET_ROBUST_LIST),
];

/// A slot of [`ARM64_TABLE`] with no ARM handler.
const NO_HANDLER: u32 = u32::MAX;

/// arm64's `sys_call_table`, built at compile time from [`SAME`] and [`SAME_STRUCTS`]: slot
/// `nr` holds the ARM number whose handler runs, so a call costs one indexed load as in
/// Linux (a search of the pairs cost ~150 instructions per system call).
const ARM64_TABLE: [u32; crate::abi::arm64::unistd::NR_SYSCALLS as usize] = {
    let mut t = [NO_HANDLER; crate::abi::arm64::unistd::NR_SYSCALLS as usize];
    let mut i = 0;
    while i < SAME.len() {
        t[SAME[i].0 as usize] = SAME[i].1;
        i += 1;
    }
    let mut i = 0;
    while i < SAME_STRUCTS.len() {
        t[SAME_STRUCTS[i].0 as usize] = SAME_STRUCTS[i].1;
        i += 1;
    }
    t
};

/// The handler of arm64's call `nr`.
pub fn arm64_handler(nr: u32) -> Handler {
    match ARM64_TABLE.get(nr as usize) {
        _ if nr == a64::MMAP => Handler::MmapBytes,
        Some(&h) if h != NO_HANDLER => Handler::Same(h),
        _ => Handler::None,
    }
}

/// The handler of the running architecture's call `nr` (arm64: x8's low 32 bits in the
/// generic table; ARM: its own EABI number, ARM-private calls included).
#[cfg(target_arch = "aarch64")]
pub fn handler(nr: usize) -> Handler {
    arm64_handler(nr as u32)
}

/// The handler of the running architecture's call `nr` (arm64: x8's low 32 bits in the
/// generic table; ARM: its own EABI number, ARM-private calls included).
#[cfg(not(target_arch = "aarch64"))]
pub fn handler(nr: usize) -> Handler {
    Handler::Same(nr as u32)
}

/// `pread64`/`pwrite64`'s file position (`loff_t`): ARM's EABI passes it in an even/odd
/// register pair after a padding register (r4 low word, r5 high word); arm64 in one register,
/// the fourth argument.
#[cfg(not(target_arch = "aarch64"))]
pub fn pos64(a: &[usize; 6]) -> i64 {
    ((a[5] as u64) << 32 | a[4] as u64) as i64
}

/// `pread64`/`pwrite64`'s file position (`loff_t`): ARM's EABI passes it in an even/odd
/// register pair after a padding register (r4 low word, r5 high word); arm64 in one register,
/// the fourth argument.
#[cfg(target_arch = "aarch64")]
pub fn pos64(a: &[usize; 6]) -> i64 {
    a[3] as i64
}

/// arm64's `sys_mmap` offset check: the byte offset as `mmap2`'s page offset, `None` (EINVAL)
/// when it is not page aligned.
pub fn mmap_pgoff(off: u64, page_shift: u32) -> Option<u64> {
    (off & ((1 << page_shift) - 1) == 0).then_some(off >> page_shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::arm::unistd as arm_table;
    use crate::abi::arm64::unistd as a64_table;

    #[test]
    fn same_calls_have_the_same_name_in_both_tables() {
        // Every pairing is a real row of each table, and the names agree but for ARM's
        // suffixes (32-bit ids, time64, fcntl64).
        for &(n64, n32) in SAME.iter().chain(&SAME_STRUCTS) {
            let a = a64_table::name(n64).unwrap();
            let b = arm_table::name(n32).unwrap();
            let b = b.trim_end_matches("32").trim_end_matches("_time64").trim_end_matches("64");
            // ARM's getrlimit with an unsigned rlimit is `ugetrlimit`.
            let b = if b == "ugetrlimit" { &b[1..] } else { b };
            // arm64's own suffixes and prefix: prlimit64, getdents64, pread64, newfstatat.
            let a = a.trim_start_matches("new").trim_end_matches("64");
            assert_eq!(a, b, "arm64 {n64} vs ARM {n32}");
        }
    }

    #[test]
    fn arm64_numbers_reach_arms_handlers() {
        // The generic numbers glibc's static programs use (write 64, exit_group 94, brk 214).
        assert_eq!(arm64_handler(64), Handler::Same(arm::WRITE));
        assert_eq!(arm64_handler(94), Handler::Same(arm::EXIT_GROUP));
        assert_eq!(arm64_handler(214), Handler::Same(arm::BRK));
        assert_eq!(arm64_handler(220), Handler::Same(arm::CLONE));
        assert_eq!(arm64_handler(113), Handler::Same(arm::CLOCK_GETTIME64));
        assert_eq!(arm64_handler(260), Handler::Same(arm::WAIT4));
        assert_eq!(arm64_handler(222), Handler::MmapBytes);
        // The calls whose handlers write the native structure.
        assert_eq!(arm64_handler(a64::NEWFSTATAT), Handler::Same(arm::FSTATAT64));
        assert_eq!(arm64_handler(a64::FSTAT), Handler::Same(arm::FSTAT64));
        assert_eq!(arm64_handler(a64::WRITEV), Handler::Same(arm::WRITEV));
        assert_eq!(arm64_handler(a64::RT_SIGACTION), Handler::Same(arm::RT_SIGACTION));
        assert_eq!(arm64_handler(a64::GETRLIMIT), Handler::Same(arm::UGETRLIMIT));
        assert_eq!(arm64_handler(99), Handler::Same(arm::SET_ROBUST_LIST));
        assert_eq!(arm64_handler(100), Handler::Same(arm::GET_ROBUST_LIST));
        // Calls pivm does not have on either: ENOSYS.
        for n in [a64::IO_SETUP, a64::SHMGET, a64::MMAP + 1000] {
            assert_eq!(arm64_handler(n), Handler::None, "{n}");
        }
        // Past the table.
        assert_eq!(arm64_handler(a64_table::NR_SYSCALLS), Handler::None);
    }

    #[test]
    fn the_indexed_table_is_the_list_of_pairs() {
        // Each arm64 number is paired once, and the table answers every number (past the
        // end and the largest too) as a search of the pairs does.
        let pairs: Vec<(u32, u32)> = SAME.iter().chain(&SAME_STRUCTS).copied().collect();
        for (i, &(n, _)) in pairs.iter().enumerate() {
            assert!(pairs[i + 1..].iter().all(|&(m, _)| m != n), "arm64 {n} paired twice");
        }
        for nr in (0..a64_table::NR_SYSCALLS + 16).chain([u32::MAX]) {
            let want = match pairs.iter().find(|&&(n, _)| n == nr) {
                _ if nr == a64::MMAP => Handler::MmapBytes,
                Some(&(_, h)) => Handler::Same(h),
                None => Handler::None,
            };
            assert_eq!(arm64_handler(nr), want, "arm64 {nr}");
        }
    }

    #[test]
    fn pread64_position_is_the_abis_register_pair() {
        // ARM: pread64(fd, buf, count, pad, lo, hi) for position 0x1_2345_6780.
        let a = [3, 0x1000, 16, 0, 0x2345_6780, 1];
        assert_eq!(pos64(&a), 0x1_2345_6780);
        assert_eq!(pos64(&[3, 0x1000, 16, 0, 0xffff_ffff, 0x7fff_ffff]), i64::MAX);
    }

    #[test]
    fn mmap_takes_a_page_aligned_byte_offset() {
        assert_eq!(mmap_pgoff(0, 12), Some(0));
        assert_eq!(mmap_pgoff(0x3000, 12), Some(3));
        assert_eq!(mmap_pgoff(0x3001, 12), None);
    }
}
