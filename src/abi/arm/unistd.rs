//! The EABI system-call numbers of Linux 6.1 on 32-bit ARM (`arch/arm/tools/syscall.tbl`, its
//! `common` and `eabi` rows; numbers no row names are holes that return `ENOSYS`), the
//! ARM-private calls at `__ARM_NR_BASE`, and how the entry code classifies a number before it
//! calls anything (`vector_swi`, `arm_syscall`). The table was generated once from the
//! `asm/unistd-eabi.h` of Debian's `linux-libc-dev-armhf-cross` (6.1); `tests/abi_golden.rs`
//! checks it against that header in both directions.

/// Number of table slots (`__NR_syscalls`): one past the last call, `set_mempolicy_home_node`.
pub const NR_SYSCALLS: u32 = 451;
/// `__ARM_NR_BASE`: the ARM-private calls start here (`__NR_SYSCALL_BASE + 0x0f0000`).
pub const ARM_NR_BASE: u32 = 0x000f_0000;
/// The ARM-private calls (`__ARM_NR_*`), as offsets from [`ARM_NR_BASE`].
pub mod arm_nr {
    pub const BREAKPOINT: u32 = 1;
    pub const CACHEFLUSH: u32 = 2;
    pub const USR26: u32 = 3;
    pub const USR32: u32 = 4;
    pub const SET_TLS: u32 = 5;
    pub const GET_TLS: u32 = 6;
}
/// ARM-private numbers up to this offset that name nothing return `ENOSYS` ("Calls
/// 9f00xx..9f07ff are defined to return -ENOSYS if not implemented"); above it, `SIGILL`.
pub const ARM_NR_ENOSYS_LIMIT: u32 = 0x7ff;

/// What the entry code does with the number in r7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallClass {
    /// A row of the table: the call with this name.
    Call(u32, &'static str),
    /// A hole in the table, or a number past its end but below `__ARM_NR_BASE`:
    /// `sys_ni_syscall`, which returns `ENOSYS`.
    NotImplemented,
    /// `__ARM_NR_BASE + 0`: "branch through zero", `SIGSEGV` (`SEGV_MAPERR` at address 0).
    BranchThroughZero,
    /// An ARM-private call (`arm_nr::*`). `usr26`/`usr32` are `SIGILL` on a CPU without 26-bit
    /// mode, as the Cortex-A7 is (`HWCAP_26BIT` clear).
    ArmPrivate(u32),
    /// An unassigned ARM-private number at or below `0x7ff`: `ENOSYS`.
    ArmPrivateUnknown,
    /// Any other number: `SIGILL` with `ILL_ILLTRP` ("Oops - bad syscall").
    BadSyscall,
}

/// Classifies a system-call number as 6.1's `vector_swi` and `arm_syscall` do for an EABI task.
pub fn classify(nr: u32) -> SyscallClass {
    if nr < ARM_NR_BASE {
        return match name(nr) {
            Some(n) => SyscallClass::Call(nr, n),
            None => SyscallClass::NotImplemented,
        };
    }
    if nr >> 16 != ARM_NR_BASE >> 16 {
        return SyscallClass::BadSyscall;
    }
    match nr & 0xffff {
        0 => SyscallClass::BranchThroughZero,
        n @ (arm_nr::BREAKPOINT | arm_nr::CACHEFLUSH | arm_nr::SET_TLS | arm_nr::GET_TLS) => {
            SyscallClass::ArmPrivate(n)
        }
        arm_nr::USR26 | arm_nr::USR32 => SyscallClass::BadSyscall,
        n if n <= ARM_NR_ENOSYS_LIMIT => SyscallClass::ArmPrivateUnknown,
        _ => SyscallClass::BadSyscall,
    }
}

/// The name of table row `nr` (binary search).
pub fn name(nr: u32) -> Option<&'static str> {
    SYSCALL_TABLE.binary_search_by_key(&nr, |&(n, _)| n).ok().map(|i| SYSCALL_TABLE[i].1)
}

/// The number of the call named `name`.
pub fn number(name: &str) -> Option<u32> {
    SYSCALL_TABLE.iter().find(|&&(_, n)| n == name).map(|&(nr, _)| nr)
}

/// `__NR_<name>` for every row, as a constant named after the call (`nr::READ`).
pub mod nr {
    pub const RESTART_SYSCALL: u32 = 0;
    pub const EXIT: u32 = 1;
    pub const FORK: u32 = 2;
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const OPEN: u32 = 5;
    pub const CLOSE: u32 = 6;
    pub const CREAT: u32 = 8;
    pub const LINK: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const EXECVE: u32 = 11;
    pub const CHDIR: u32 = 12;
    pub const MKNOD: u32 = 14;
    pub const CHMOD: u32 = 15;
    pub const LCHOWN: u32 = 16;
    pub const LSEEK: u32 = 19;
    pub const GETPID: u32 = 20;
    pub const MOUNT: u32 = 21;
    pub const SETUID: u32 = 23;
    pub const GETUID: u32 = 24;
    pub const PTRACE: u32 = 26;
    pub const PAUSE: u32 = 29;
    pub const ACCESS: u32 = 33;
    pub const NICE: u32 = 34;
    pub const SYNC: u32 = 36;
    pub const KILL: u32 = 37;
    pub const RENAME: u32 = 38;
    pub const MKDIR: u32 = 39;
    pub const RMDIR: u32 = 40;
    pub const DUP: u32 = 41;
    pub const PIPE: u32 = 42;
    pub const TIMES: u32 = 43;
    pub const BRK: u32 = 45;
    pub const SETGID: u32 = 46;
    pub const GETGID: u32 = 47;
    pub const GETEUID: u32 = 49;
    pub const GETEGID: u32 = 50;
    pub const ACCT: u32 = 51;
    pub const UMOUNT2: u32 = 52;
    pub const IOCTL: u32 = 54;
    pub const FCNTL: u32 = 55;
    pub const SETPGID: u32 = 57;
    pub const UMASK: u32 = 60;
    pub const CHROOT: u32 = 61;
    pub const USTAT: u32 = 62;
    pub const DUP2: u32 = 63;
    pub const GETPPID: u32 = 64;
    pub const GETPGRP: u32 = 65;
    pub const SETSID: u32 = 66;
    pub const SIGACTION: u32 = 67;
    pub const SETREUID: u32 = 70;
    pub const SETREGID: u32 = 71;
    pub const SIGSUSPEND: u32 = 72;
    pub const SIGPENDING: u32 = 73;
    pub const SETHOSTNAME: u32 = 74;
    pub const SETRLIMIT: u32 = 75;
    pub const GETRUSAGE: u32 = 77;
    pub const GETTIMEOFDAY: u32 = 78;
    pub const SETTIMEOFDAY: u32 = 79;
    pub const GETGROUPS: u32 = 80;
    pub const SETGROUPS: u32 = 81;
    pub const SYMLINK: u32 = 83;
    pub const READLINK: u32 = 85;
    pub const USELIB: u32 = 86;
    pub const SWAPON: u32 = 87;
    pub const REBOOT: u32 = 88;
    pub const MUNMAP: u32 = 91;
    pub const TRUNCATE: u32 = 92;
    pub const FTRUNCATE: u32 = 93;
    pub const FCHMOD: u32 = 94;
    pub const FCHOWN: u32 = 95;
    pub const GETPRIORITY: u32 = 96;
    pub const SETPRIORITY: u32 = 97;
    pub const STATFS: u32 = 99;
    pub const FSTATFS: u32 = 100;
    pub const SYSLOG: u32 = 103;
    pub const SETITIMER: u32 = 104;
    pub const GETITIMER: u32 = 105;
    pub const STAT: u32 = 106;
    pub const LSTAT: u32 = 107;
    pub const FSTAT: u32 = 108;
    pub const VHANGUP: u32 = 111;
    pub const WAIT4: u32 = 114;
    pub const SWAPOFF: u32 = 115;
    pub const SYSINFO: u32 = 116;
    pub const FSYNC: u32 = 118;
    pub const SIGRETURN: u32 = 119;
    pub const CLONE: u32 = 120;
    pub const SETDOMAINNAME: u32 = 121;
    pub const UNAME: u32 = 122;
    pub const ADJTIMEX: u32 = 124;
    pub const MPROTECT: u32 = 125;
    pub const SIGPROCMASK: u32 = 126;
    pub const INIT_MODULE: u32 = 128;
    pub const DELETE_MODULE: u32 = 129;
    pub const QUOTACTL: u32 = 131;
    pub const GETPGID: u32 = 132;
    pub const FCHDIR: u32 = 133;
    pub const BDFLUSH: u32 = 134;
    pub const SYSFS: u32 = 135;
    pub const PERSONALITY: u32 = 136;
    pub const SETFSUID: u32 = 138;
    pub const SETFSGID: u32 = 139;
    pub const _LLSEEK: u32 = 140;
    pub const GETDENTS: u32 = 141;
    pub const _NEWSELECT: u32 = 142;
    pub const FLOCK: u32 = 143;
    pub const MSYNC: u32 = 144;
    pub const READV: u32 = 145;
    pub const WRITEV: u32 = 146;
    pub const GETSID: u32 = 147;
    pub const FDATASYNC: u32 = 148;
    pub const _SYSCTL: u32 = 149;
    pub const MLOCK: u32 = 150;
    pub const MUNLOCK: u32 = 151;
    pub const MLOCKALL: u32 = 152;
    pub const MUNLOCKALL: u32 = 153;
    pub const SCHED_SETPARAM: u32 = 154;
    pub const SCHED_GETPARAM: u32 = 155;
    pub const SCHED_SETSCHEDULER: u32 = 156;
    pub const SCHED_GETSCHEDULER: u32 = 157;
    pub const SCHED_YIELD: u32 = 158;
    pub const SCHED_GET_PRIORITY_MAX: u32 = 159;
    pub const SCHED_GET_PRIORITY_MIN: u32 = 160;
    pub const SCHED_RR_GET_INTERVAL: u32 = 161;
    pub const NANOSLEEP: u32 = 162;
    pub const MREMAP: u32 = 163;
    pub const SETRESUID: u32 = 164;
    pub const GETRESUID: u32 = 165;
    pub const POLL: u32 = 168;
    pub const NFSSERVCTL: u32 = 169;
    pub const SETRESGID: u32 = 170;
    pub const GETRESGID: u32 = 171;
    pub const PRCTL: u32 = 172;
    pub const RT_SIGRETURN: u32 = 173;
    pub const RT_SIGACTION: u32 = 174;
    pub const RT_SIGPROCMASK: u32 = 175;
    pub const RT_SIGPENDING: u32 = 176;
    pub const RT_SIGTIMEDWAIT: u32 = 177;
    pub const RT_SIGQUEUEINFO: u32 = 178;
    pub const RT_SIGSUSPEND: u32 = 179;
    pub const PREAD64: u32 = 180;
    pub const PWRITE64: u32 = 181;
    pub const CHOWN: u32 = 182;
    pub const GETCWD: u32 = 183;
    pub const CAPGET: u32 = 184;
    pub const CAPSET: u32 = 185;
    pub const SIGALTSTACK: u32 = 186;
    pub const SENDFILE: u32 = 187;
    pub const VFORK: u32 = 190;
    pub const UGETRLIMIT: u32 = 191;
    pub const MMAP2: u32 = 192;
    pub const TRUNCATE64: u32 = 193;
    pub const FTRUNCATE64: u32 = 194;
    pub const STAT64: u32 = 195;
    pub const LSTAT64: u32 = 196;
    pub const FSTAT64: u32 = 197;
    pub const LCHOWN32: u32 = 198;
    pub const GETUID32: u32 = 199;
    pub const GETGID32: u32 = 200;
    pub const GETEUID32: u32 = 201;
    pub const GETEGID32: u32 = 202;
    pub const SETREUID32: u32 = 203;
    pub const SETREGID32: u32 = 204;
    pub const GETGROUPS32: u32 = 205;
    pub const SETGROUPS32: u32 = 206;
    pub const FCHOWN32: u32 = 207;
    pub const SETRESUID32: u32 = 208;
    pub const GETRESUID32: u32 = 209;
    pub const SETRESGID32: u32 = 210;
    pub const GETRESGID32: u32 = 211;
    pub const CHOWN32: u32 = 212;
    pub const SETUID32: u32 = 213;
    pub const SETGID32: u32 = 214;
    pub const SETFSUID32: u32 = 215;
    pub const SETFSGID32: u32 = 216;
    pub const GETDENTS64: u32 = 217;
    pub const PIVOT_ROOT: u32 = 218;
    pub const MINCORE: u32 = 219;
    pub const MADVISE: u32 = 220;
    pub const FCNTL64: u32 = 221;
    pub const GETTID: u32 = 224;
    pub const READAHEAD: u32 = 225;
    pub const SETXATTR: u32 = 226;
    pub const LSETXATTR: u32 = 227;
    pub const FSETXATTR: u32 = 228;
    pub const GETXATTR: u32 = 229;
    pub const LGETXATTR: u32 = 230;
    pub const FGETXATTR: u32 = 231;
    pub const LISTXATTR: u32 = 232;
    pub const LLISTXATTR: u32 = 233;
    pub const FLISTXATTR: u32 = 234;
    pub const REMOVEXATTR: u32 = 235;
    pub const LREMOVEXATTR: u32 = 236;
    pub const FREMOVEXATTR: u32 = 237;
    pub const TKILL: u32 = 238;
    pub const SENDFILE64: u32 = 239;
    pub const FUTEX: u32 = 240;
    pub const SCHED_SETAFFINITY: u32 = 241;
    pub const SCHED_GETAFFINITY: u32 = 242;
    pub const IO_SETUP: u32 = 243;
    pub const IO_DESTROY: u32 = 244;
    pub const IO_GETEVENTS: u32 = 245;
    pub const IO_SUBMIT: u32 = 246;
    pub const IO_CANCEL: u32 = 247;
    pub const EXIT_GROUP: u32 = 248;
    pub const LOOKUP_DCOOKIE: u32 = 249;
    pub const EPOLL_CREATE: u32 = 250;
    pub const EPOLL_CTL: u32 = 251;
    pub const EPOLL_WAIT: u32 = 252;
    pub const REMAP_FILE_PAGES: u32 = 253;
    pub const SET_TID_ADDRESS: u32 = 256;
    pub const TIMER_CREATE: u32 = 257;
    pub const TIMER_SETTIME: u32 = 258;
    pub const TIMER_GETTIME: u32 = 259;
    pub const TIMER_GETOVERRUN: u32 = 260;
    pub const TIMER_DELETE: u32 = 261;
    pub const CLOCK_SETTIME: u32 = 262;
    pub const CLOCK_GETTIME: u32 = 263;
    pub const CLOCK_GETRES: u32 = 264;
    pub const CLOCK_NANOSLEEP: u32 = 265;
    pub const STATFS64: u32 = 266;
    pub const FSTATFS64: u32 = 267;
    pub const TGKILL: u32 = 268;
    pub const UTIMES: u32 = 269;
    pub const ARM_FADVISE64_64: u32 = 270;
    pub const PCICONFIG_IOBASE: u32 = 271;
    pub const PCICONFIG_READ: u32 = 272;
    pub const PCICONFIG_WRITE: u32 = 273;
    pub const MQ_OPEN: u32 = 274;
    pub const MQ_UNLINK: u32 = 275;
    pub const MQ_TIMEDSEND: u32 = 276;
    pub const MQ_TIMEDRECEIVE: u32 = 277;
    pub const MQ_NOTIFY: u32 = 278;
    pub const MQ_GETSETATTR: u32 = 279;
    pub const WAITID: u32 = 280;
    pub const SOCKET: u32 = 281;
    pub const BIND: u32 = 282;
    pub const CONNECT: u32 = 283;
    pub const LISTEN: u32 = 284;
    pub const ACCEPT: u32 = 285;
    pub const GETSOCKNAME: u32 = 286;
    pub const GETPEERNAME: u32 = 287;
    pub const SOCKETPAIR: u32 = 288;
    pub const SEND: u32 = 289;
    pub const SENDTO: u32 = 290;
    pub const RECV: u32 = 291;
    pub const RECVFROM: u32 = 292;
    pub const SHUTDOWN: u32 = 293;
    pub const SETSOCKOPT: u32 = 294;
    pub const GETSOCKOPT: u32 = 295;
    pub const SENDMSG: u32 = 296;
    pub const RECVMSG: u32 = 297;
    pub const SEMOP: u32 = 298;
    pub const SEMGET: u32 = 299;
    pub const SEMCTL: u32 = 300;
    pub const MSGSND: u32 = 301;
    pub const MSGRCV: u32 = 302;
    pub const MSGGET: u32 = 303;
    pub const MSGCTL: u32 = 304;
    pub const SHMAT: u32 = 305;
    pub const SHMDT: u32 = 306;
    pub const SHMGET: u32 = 307;
    pub const SHMCTL: u32 = 308;
    pub const ADD_KEY: u32 = 309;
    pub const REQUEST_KEY: u32 = 310;
    pub const KEYCTL: u32 = 311;
    pub const SEMTIMEDOP: u32 = 312;
    pub const VSERVER: u32 = 313;
    pub const IOPRIO_SET: u32 = 314;
    pub const IOPRIO_GET: u32 = 315;
    pub const INOTIFY_INIT: u32 = 316;
    pub const INOTIFY_ADD_WATCH: u32 = 317;
    pub const INOTIFY_RM_WATCH: u32 = 318;
    pub const MBIND: u32 = 319;
    pub const GET_MEMPOLICY: u32 = 320;
    pub const SET_MEMPOLICY: u32 = 321;
    pub const OPENAT: u32 = 322;
    pub const MKDIRAT: u32 = 323;
    pub const MKNODAT: u32 = 324;
    pub const FCHOWNAT: u32 = 325;
    pub const FUTIMESAT: u32 = 326;
    pub const FSTATAT64: u32 = 327;
    pub const UNLINKAT: u32 = 328;
    pub const RENAMEAT: u32 = 329;
    pub const LINKAT: u32 = 330;
    pub const SYMLINKAT: u32 = 331;
    pub const READLINKAT: u32 = 332;
    pub const FCHMODAT: u32 = 333;
    pub const FACCESSAT: u32 = 334;
    pub const PSELECT6: u32 = 335;
    pub const PPOLL: u32 = 336;
    pub const UNSHARE: u32 = 337;
    pub const SET_ROBUST_LIST: u32 = 338;
    pub const GET_ROBUST_LIST: u32 = 339;
    pub const SPLICE: u32 = 340;
    pub const ARM_SYNC_FILE_RANGE: u32 = 341;
    pub const TEE: u32 = 342;
    pub const VMSPLICE: u32 = 343;
    pub const MOVE_PAGES: u32 = 344;
    pub const GETCPU: u32 = 345;
    pub const EPOLL_PWAIT: u32 = 346;
    pub const KEXEC_LOAD: u32 = 347;
    pub const UTIMENSAT: u32 = 348;
    pub const SIGNALFD: u32 = 349;
    pub const TIMERFD_CREATE: u32 = 350;
    pub const EVENTFD: u32 = 351;
    pub const FALLOCATE: u32 = 352;
    pub const TIMERFD_SETTIME: u32 = 353;
    pub const TIMERFD_GETTIME: u32 = 354;
    pub const SIGNALFD4: u32 = 355;
    pub const EVENTFD2: u32 = 356;
    pub const EPOLL_CREATE1: u32 = 357;
    pub const DUP3: u32 = 358;
    pub const PIPE2: u32 = 359;
    pub const INOTIFY_INIT1: u32 = 360;
    pub const PREADV: u32 = 361;
    pub const PWRITEV: u32 = 362;
    pub const RT_TGSIGQUEUEINFO: u32 = 363;
    pub const PERF_EVENT_OPEN: u32 = 364;
    pub const RECVMMSG: u32 = 365;
    pub const ACCEPT4: u32 = 366;
    pub const FANOTIFY_INIT: u32 = 367;
    pub const FANOTIFY_MARK: u32 = 368;
    pub const PRLIMIT64: u32 = 369;
    pub const NAME_TO_HANDLE_AT: u32 = 370;
    pub const OPEN_BY_HANDLE_AT: u32 = 371;
    pub const CLOCK_ADJTIME: u32 = 372;
    pub const SYNCFS: u32 = 373;
    pub const SENDMMSG: u32 = 374;
    pub const SETNS: u32 = 375;
    pub const PROCESS_VM_READV: u32 = 376;
    pub const PROCESS_VM_WRITEV: u32 = 377;
    pub const KCMP: u32 = 378;
    pub const FINIT_MODULE: u32 = 379;
    pub const SCHED_SETATTR: u32 = 380;
    pub const SCHED_GETATTR: u32 = 381;
    pub const RENAMEAT2: u32 = 382;
    pub const SECCOMP: u32 = 383;
    pub const GETRANDOM: u32 = 384;
    pub const MEMFD_CREATE: u32 = 385;
    pub const BPF: u32 = 386;
    pub const EXECVEAT: u32 = 387;
    pub const USERFAULTFD: u32 = 388;
    pub const MEMBARRIER: u32 = 389;
    pub const MLOCK2: u32 = 390;
    pub const COPY_FILE_RANGE: u32 = 391;
    pub const PREADV2: u32 = 392;
    pub const PWRITEV2: u32 = 393;
    pub const PKEY_MPROTECT: u32 = 394;
    pub const PKEY_ALLOC: u32 = 395;
    pub const PKEY_FREE: u32 = 396;
    pub const STATX: u32 = 397;
    pub const RSEQ: u32 = 398;
    pub const IO_PGETEVENTS: u32 = 399;
    pub const MIGRATE_PAGES: u32 = 400;
    pub const KEXEC_FILE_LOAD: u32 = 401;
    pub const CLOCK_GETTIME64: u32 = 403;
    pub const CLOCK_SETTIME64: u32 = 404;
    pub const CLOCK_ADJTIME64: u32 = 405;
    pub const CLOCK_GETRES_TIME64: u32 = 406;
    pub const CLOCK_NANOSLEEP_TIME64: u32 = 407;
    pub const TIMER_GETTIME64: u32 = 408;
    pub const TIMER_SETTIME64: u32 = 409;
    pub const TIMERFD_GETTIME64: u32 = 410;
    pub const TIMERFD_SETTIME64: u32 = 411;
    pub const UTIMENSAT_TIME64: u32 = 412;
    pub const PSELECT6_TIME64: u32 = 413;
    pub const PPOLL_TIME64: u32 = 414;
    pub const IO_PGETEVENTS_TIME64: u32 = 416;
    pub const RECVMMSG_TIME64: u32 = 417;
    pub const MQ_TIMEDSEND_TIME64: u32 = 418;
    pub const MQ_TIMEDRECEIVE_TIME64: u32 = 419;
    pub const SEMTIMEDOP_TIME64: u32 = 420;
    pub const RT_SIGTIMEDWAIT_TIME64: u32 = 421;
    pub const FUTEX_TIME64: u32 = 422;
    pub const SCHED_RR_GET_INTERVAL_TIME64: u32 = 423;
    pub const PIDFD_SEND_SIGNAL: u32 = 424;
    pub const IO_URING_SETUP: u32 = 425;
    pub const IO_URING_ENTER: u32 = 426;
    pub const IO_URING_REGISTER: u32 = 427;
    pub const OPEN_TREE: u32 = 428;
    pub const MOVE_MOUNT: u32 = 429;
    pub const FSOPEN: u32 = 430;
    pub const FSCONFIG: u32 = 431;
    pub const FSMOUNT: u32 = 432;
    pub const FSPICK: u32 = 433;
    pub const PIDFD_OPEN: u32 = 434;
    pub const CLONE3: u32 = 435;
    pub const CLOSE_RANGE: u32 = 436;
    pub const OPENAT2: u32 = 437;
    pub const PIDFD_GETFD: u32 = 438;
    pub const FACCESSAT2: u32 = 439;
    pub const PROCESS_MADVISE: u32 = 440;
    pub const EPOLL_PWAIT2: u32 = 441;
    pub const MOUNT_SETATTR: u32 = 442;
    pub const QUOTACTL_FD: u32 = 443;
    pub const LANDLOCK_CREATE_RULESET: u32 = 444;
    pub const LANDLOCK_ADD_RULE: u32 = 445;
    pub const LANDLOCK_RESTRICT_SELF: u32 = 446;
    pub const PROCESS_MRELEASE: u32 = 448;
    pub const FUTEX_WAITV: u32 = 449;
    pub const SET_MEMPOLICY_HOME_NODE: u32 = 450;
}

/// Every row of the table: (number, name), in number order.
pub const SYSCALL_TABLE: &[(u32, &str)] = &[
    (0, "restart_syscall"),
    (1, "exit"),
    (2, "fork"),
    (3, "read"),
    (4, "write"),
    (5, "open"),
    (6, "close"),
    (8, "creat"),
    (9, "link"),
    (10, "unlink"),
    (11, "execve"),
    (12, "chdir"),
    (14, "mknod"),
    (15, "chmod"),
    (16, "lchown"),
    (19, "lseek"),
    (20, "getpid"),
    (21, "mount"),
    (23, "setuid"),
    (24, "getuid"),
    (26, "ptrace"),
    (29, "pause"),
    (33, "access"),
    (34, "nice"),
    (36, "sync"),
    (37, "kill"),
    (38, "rename"),
    (39, "mkdir"),
    (40, "rmdir"),
    (41, "dup"),
    (42, "pipe"),
    (43, "times"),
    (45, "brk"),
    (46, "setgid"),
    (47, "getgid"),
    (49, "geteuid"),
    (50, "getegid"),
    (51, "acct"),
    (52, "umount2"),
    (54, "ioctl"),
    (55, "fcntl"),
    (57, "setpgid"),
    (60, "umask"),
    (61, "chroot"),
    (62, "ustat"),
    (63, "dup2"),
    (64, "getppid"),
    (65, "getpgrp"),
    (66, "setsid"),
    (67, "sigaction"),
    (70, "setreuid"),
    (71, "setregid"),
    (72, "sigsuspend"),
    (73, "sigpending"),
    (74, "sethostname"),
    (75, "setrlimit"),
    (77, "getrusage"),
    (78, "gettimeofday"),
    (79, "settimeofday"),
    (80, "getgroups"),
    (81, "setgroups"),
    (83, "symlink"),
    (85, "readlink"),
    (86, "uselib"),
    (87, "swapon"),
    (88, "reboot"),
    (91, "munmap"),
    (92, "truncate"),
    (93, "ftruncate"),
    (94, "fchmod"),
    (95, "fchown"),
    (96, "getpriority"),
    (97, "setpriority"),
    (99, "statfs"),
    (100, "fstatfs"),
    (103, "syslog"),
    (104, "setitimer"),
    (105, "getitimer"),
    (106, "stat"),
    (107, "lstat"),
    (108, "fstat"),
    (111, "vhangup"),
    (114, "wait4"),
    (115, "swapoff"),
    (116, "sysinfo"),
    (118, "fsync"),
    (119, "sigreturn"),
    (120, "clone"),
    (121, "setdomainname"),
    (122, "uname"),
    (124, "adjtimex"),
    (125, "mprotect"),
    (126, "sigprocmask"),
    (128, "init_module"),
    (129, "delete_module"),
    (131, "quotactl"),
    (132, "getpgid"),
    (133, "fchdir"),
    (134, "bdflush"),
    (135, "sysfs"),
    (136, "personality"),
    (138, "setfsuid"),
    (139, "setfsgid"),
    (140, "_llseek"),
    (141, "getdents"),
    (142, "_newselect"),
    (143, "flock"),
    (144, "msync"),
    (145, "readv"),
    (146, "writev"),
    (147, "getsid"),
    (148, "fdatasync"),
    (149, "_sysctl"),
    (150, "mlock"),
    (151, "munlock"),
    (152, "mlockall"),
    (153, "munlockall"),
    (154, "sched_setparam"),
    (155, "sched_getparam"),
    (156, "sched_setscheduler"),
    (157, "sched_getscheduler"),
    (158, "sched_yield"),
    (159, "sched_get_priority_max"),
    (160, "sched_get_priority_min"),
    (161, "sched_rr_get_interval"),
    (162, "nanosleep"),
    (163, "mremap"),
    (164, "setresuid"),
    (165, "getresuid"),
    (168, "poll"),
    (169, "nfsservctl"),
    (170, "setresgid"),
    (171, "getresgid"),
    (172, "prctl"),
    (173, "rt_sigreturn"),
    (174, "rt_sigaction"),
    (175, "rt_sigprocmask"),
    (176, "rt_sigpending"),
    (177, "rt_sigtimedwait"),
    (178, "rt_sigqueueinfo"),
    (179, "rt_sigsuspend"),
    (180, "pread64"),
    (181, "pwrite64"),
    (182, "chown"),
    (183, "getcwd"),
    (184, "capget"),
    (185, "capset"),
    (186, "sigaltstack"),
    (187, "sendfile"),
    (190, "vfork"),
    (191, "ugetrlimit"),
    (192, "mmap2"),
    (193, "truncate64"),
    (194, "ftruncate64"),
    (195, "stat64"),
    (196, "lstat64"),
    (197, "fstat64"),
    (198, "lchown32"),
    (199, "getuid32"),
    (200, "getgid32"),
    (201, "geteuid32"),
    (202, "getegid32"),
    (203, "setreuid32"),
    (204, "setregid32"),
    (205, "getgroups32"),
    (206, "setgroups32"),
    (207, "fchown32"),
    (208, "setresuid32"),
    (209, "getresuid32"),
    (210, "setresgid32"),
    (211, "getresgid32"),
    (212, "chown32"),
    (213, "setuid32"),
    (214, "setgid32"),
    (215, "setfsuid32"),
    (216, "setfsgid32"),
    (217, "getdents64"),
    (218, "pivot_root"),
    (219, "mincore"),
    (220, "madvise"),
    (221, "fcntl64"),
    (224, "gettid"),
    (225, "readahead"),
    (226, "setxattr"),
    (227, "lsetxattr"),
    (228, "fsetxattr"),
    (229, "getxattr"),
    (230, "lgetxattr"),
    (231, "fgetxattr"),
    (232, "listxattr"),
    (233, "llistxattr"),
    (234, "flistxattr"),
    (235, "removexattr"),
    (236, "lremovexattr"),
    (237, "fremovexattr"),
    (238, "tkill"),
    (239, "sendfile64"),
    (240, "futex"),
    (241, "sched_setaffinity"),
    (242, "sched_getaffinity"),
    (243, "io_setup"),
    (244, "io_destroy"),
    (245, "io_getevents"),
    (246, "io_submit"),
    (247, "io_cancel"),
    (248, "exit_group"),
    (249, "lookup_dcookie"),
    (250, "epoll_create"),
    (251, "epoll_ctl"),
    (252, "epoll_wait"),
    (253, "remap_file_pages"),
    (256, "set_tid_address"),
    (257, "timer_create"),
    (258, "timer_settime"),
    (259, "timer_gettime"),
    (260, "timer_getoverrun"),
    (261, "timer_delete"),
    (262, "clock_settime"),
    (263, "clock_gettime"),
    (264, "clock_getres"),
    (265, "clock_nanosleep"),
    (266, "statfs64"),
    (267, "fstatfs64"),
    (268, "tgkill"),
    (269, "utimes"),
    (270, "arm_fadvise64_64"),
    (271, "pciconfig_iobase"),
    (272, "pciconfig_read"),
    (273, "pciconfig_write"),
    (274, "mq_open"),
    (275, "mq_unlink"),
    (276, "mq_timedsend"),
    (277, "mq_timedreceive"),
    (278, "mq_notify"),
    (279, "mq_getsetattr"),
    (280, "waitid"),
    (281, "socket"),
    (282, "bind"),
    (283, "connect"),
    (284, "listen"),
    (285, "accept"),
    (286, "getsockname"),
    (287, "getpeername"),
    (288, "socketpair"),
    (289, "send"),
    (290, "sendto"),
    (291, "recv"),
    (292, "recvfrom"),
    (293, "shutdown"),
    (294, "setsockopt"),
    (295, "getsockopt"),
    (296, "sendmsg"),
    (297, "recvmsg"),
    (298, "semop"),
    (299, "semget"),
    (300, "semctl"),
    (301, "msgsnd"),
    (302, "msgrcv"),
    (303, "msgget"),
    (304, "msgctl"),
    (305, "shmat"),
    (306, "shmdt"),
    (307, "shmget"),
    (308, "shmctl"),
    (309, "add_key"),
    (310, "request_key"),
    (311, "keyctl"),
    (312, "semtimedop"),
    (313, "vserver"),
    (314, "ioprio_set"),
    (315, "ioprio_get"),
    (316, "inotify_init"),
    (317, "inotify_add_watch"),
    (318, "inotify_rm_watch"),
    (319, "mbind"),
    (320, "get_mempolicy"),
    (321, "set_mempolicy"),
    (322, "openat"),
    (323, "mkdirat"),
    (324, "mknodat"),
    (325, "fchownat"),
    (326, "futimesat"),
    (327, "fstatat64"),
    (328, "unlinkat"),
    (329, "renameat"),
    (330, "linkat"),
    (331, "symlinkat"),
    (332, "readlinkat"),
    (333, "fchmodat"),
    (334, "faccessat"),
    (335, "pselect6"),
    (336, "ppoll"),
    (337, "unshare"),
    (338, "set_robust_list"),
    (339, "get_robust_list"),
    (340, "splice"),
    (341, "arm_sync_file_range"),
    (342, "tee"),
    (343, "vmsplice"),
    (344, "move_pages"),
    (345, "getcpu"),
    (346, "epoll_pwait"),
    (347, "kexec_load"),
    (348, "utimensat"),
    (349, "signalfd"),
    (350, "timerfd_create"),
    (351, "eventfd"),
    (352, "fallocate"),
    (353, "timerfd_settime"),
    (354, "timerfd_gettime"),
    (355, "signalfd4"),
    (356, "eventfd2"),
    (357, "epoll_create1"),
    (358, "dup3"),
    (359, "pipe2"),
    (360, "inotify_init1"),
    (361, "preadv"),
    (362, "pwritev"),
    (363, "rt_tgsigqueueinfo"),
    (364, "perf_event_open"),
    (365, "recvmmsg"),
    (366, "accept4"),
    (367, "fanotify_init"),
    (368, "fanotify_mark"),
    (369, "prlimit64"),
    (370, "name_to_handle_at"),
    (371, "open_by_handle_at"),
    (372, "clock_adjtime"),
    (373, "syncfs"),
    (374, "sendmmsg"),
    (375, "setns"),
    (376, "process_vm_readv"),
    (377, "process_vm_writev"),
    (378, "kcmp"),
    (379, "finit_module"),
    (380, "sched_setattr"),
    (381, "sched_getattr"),
    (382, "renameat2"),
    (383, "seccomp"),
    (384, "getrandom"),
    (385, "memfd_create"),
    (386, "bpf"),
    (387, "execveat"),
    (388, "userfaultfd"),
    (389, "membarrier"),
    (390, "mlock2"),
    (391, "copy_file_range"),
    (392, "preadv2"),
    (393, "pwritev2"),
    (394, "pkey_mprotect"),
    (395, "pkey_alloc"),
    (396, "pkey_free"),
    (397, "statx"),
    (398, "rseq"),
    (399, "io_pgetevents"),
    (400, "migrate_pages"),
    (401, "kexec_file_load"),
    (403, "clock_gettime64"),
    (404, "clock_settime64"),
    (405, "clock_adjtime64"),
    (406, "clock_getres_time64"),
    (407, "clock_nanosleep_time64"),
    (408, "timer_gettime64"),
    (409, "timer_settime64"),
    (410, "timerfd_gettime64"),
    (411, "timerfd_settime64"),
    (412, "utimensat_time64"),
    (413, "pselect6_time64"),
    (414, "ppoll_time64"),
    (416, "io_pgetevents_time64"),
    (417, "recvmmsg_time64"),
    (418, "mq_timedsend_time64"),
    (419, "mq_timedreceive_time64"),
    (420, "semtimedop_time64"),
    (421, "rt_sigtimedwait_time64"),
    (422, "futex_time64"),
    (423, "sched_rr_get_interval_time64"),
    (424, "pidfd_send_signal"),
    (425, "io_uring_setup"),
    (426, "io_uring_enter"),
    (427, "io_uring_register"),
    (428, "open_tree"),
    (429, "move_mount"),
    (430, "fsopen"),
    (431, "fsconfig"),
    (432, "fsmount"),
    (433, "fspick"),
    (434, "pidfd_open"),
    (435, "clone3"),
    (436, "close_range"),
    (437, "openat2"),
    (438, "pidfd_getfd"),
    (439, "faccessat2"),
    (440, "process_madvise"),
    (441, "epoll_pwait2"),
    (442, "mount_setattr"),
    (443, "quotactl_fd"),
    (444, "landlock_create_ruleset"),
    (445, "landlock_add_rule"),
    (446, "landlock_restrict_self"),
    (448, "process_mrelease"),
    (449, "futex_waitv"),
    (450, "set_mempolicy_home_node"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_issue_12_needs() {
        // The calls of issue 12 and glibc's static start-up, spot-checked against syscall.tbl.
        let want = [
            ("exit", 1),
            ("read", 3),
            ("write", 4),
            ("open", 5),
            ("close", 6),
            ("execve", 11),
            ("getpid", 20),
            ("kill", 37),
            ("brk", 45),
            ("ioctl", 54),
            ("munmap", 91),
            ("wait4", 114),
            ("uname", 122),
            ("mprotect", 125),
            ("_llseek", 140),
            ("writev", 146),
            ("sched_yield", 158),
            ("nanosleep", 162),
            ("rt_sigreturn", 173),
            ("rt_sigaction", 174),
            ("rt_sigprocmask", 175),
            ("pread64", 180),
            ("vfork", 190),
            ("mmap2", 192),
            ("fstat64", 197),
            ("madvise", 220),
            ("mincore", 219),
            ("getdents64", 217),
            ("gettid", 224),
            ("exit_group", 248),
            ("set_tid_address", 256),
            ("clock_gettime", 263),
            ("openat", 322),
            ("set_robust_list", 338),
            ("get_robust_list", 339),
            ("getrandom", 384),
            ("statx", 397),
            ("clock_gettime64", 403),
            ("clone", 120),
            ("fork", 2),
            ("getppid", 64),
            ("getrusage", 77),
            ("lseek", 19),
            ("readlink", 85),
            ("fstatat64", 327),
            ("dup", 41),
            ("dup2", 63),
            ("dup3", 358),
            ("fcntl64", 221),
        ];
        for (n, nr) in want {
            assert_eq!(number(n), Some(nr), "{n}");
            assert_eq!(classify(nr), SyscallClass::Call(nr, n));
        }
        assert_eq!(nr::RT_SIGACTION, 174);
        assert_eq!(nr::_LLSEEK, 140);
    }

    #[test]
    fn holes_and_out_of_range_numbers() {
        // 17 (break), 31 (stty), 59 (olduname) are OABI-only rows: holes for EABI.
        for hole in [17, 31, 59, 223, NR_SYSCALLS, 0x3ff, ARM_NR_BASE - 1] {
            assert_eq!(classify(hole), SyscallClass::NotImplemented, "{hole:#x}");
        }
        assert_eq!(classify(ARM_NR_BASE), SyscallClass::BranchThroughZero);
        assert_eq!(classify(ARM_NR_BASE + 5), SyscallClass::ArmPrivate(arm_nr::SET_TLS));
        assert_eq!(classify(ARM_NR_BASE + 3), SyscallClass::BadSyscall);
        assert_eq!(classify(0xf07ff), SyscallClass::ArmPrivateUnknown);
        assert_eq!(classify(0xf0800), SyscallClass::BadSyscall);
        assert_eq!(classify(0x10_0000), SyscallClass::BadSyscall);
        assert_eq!(classify(u32::MAX), SyscallClass::BadSyscall);
        // The table is sorted, unique, and ends one below NR_SYSCALLS.
        assert!(SYSCALL_TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(SYSCALL_TABLE.last().unwrap().0 + 1, NR_SYSCALLS);
    }
}
