//! Error numbers as Linux 6.1 returns them to user space (`include/uapi/asm-generic/errno-base.h`
//! and `errno.h`, which 32-bit ARM uses unchanged), with glibc's names and `strerror()` texts,
//! and the kernel-internal restart codes a system call may return on its way to signal delivery
//! (`include/linux/errno.h`), which never reach user space.
use core::fmt;

macro_rules! errnos {
    ($($name:ident = $num:literal, $msg:literal;)*) => {
        /// An error number. `code()` is what a system call returns negated.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        #[allow(non_camel_case_types)]
        pub enum Errno {
            $($name = $num,)*
            /// The signal code asked for a restart (`-ERESTARTSYS`): restart the call if the
            /// handler has `SA_RESTART`, else `EINTR`.
            ERESTARTSYS = 512,
            /// Restart unconditionally (`-ERESTARTNOINTR`).
            ERESTARTNOINTR = 513,
            /// Restart only if no handler runs (`-ERESTARTNOHAND`), else `EINTR`.
            ERESTARTNOHAND = 514,
            /// A driver's "no such ioctl" (`-ENOIOCTLCMD`): the ioctl layer turns it into `ENOTTY`.
            ENOIOCTLCMD = 515,
            /// Restart through `restart_syscall` (`-ERESTART_RESTARTBLOCK`), e.g. `nanosleep`.
            ERESTART_RESTARTBLOCK = 516,
        }

        impl Errno {
            /// Every user-visible error number, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The symbolic name (`EINVAL`), as glibc's `strerrorname_np()` gives it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                    Errno::ERESTARTSYS => "ERESTARTSYS",
                    Errno::ERESTARTNOINTR => "ERESTARTNOINTR",
                    Errno::ERESTARTNOHAND => "ERESTARTNOHAND",
                    Errno::ENOIOCTLCMD => "ENOIOCTLCMD",
                    Errno::ERESTART_RESTARTBLOCK => "ERESTART_RESTARTBLOCK",
                }
            }

            /// `strerror()`'s text, as glibc prints it.
            pub const fn message(self) -> &'static str {
                match self {
                    $(Errno::$name => $msg,)*
                    // Kernel-internal: glibc has no text; these are Linux's own descriptions.
                    Errno::ERESTARTSYS
                    | Errno::ERESTARTNOINTR
                    | Errno::ERESTARTNOHAND
                    | Errno::ERESTART_RESTARTBLOCK => "Interrupted system call (restart)",
                    Errno::ENOIOCTLCMD => "No ioctl command",
                }
            }

            /// The error with number `code` (positive), if Linux defines one.
            pub const fn from_code(code: u32) -> Option<Errno> {
                match code {
                    $($num => Some(Errno::$name),)*
                    512 => Some(Errno::ERESTARTSYS),
                    513 => Some(Errno::ERESTARTNOINTR),
                    514 => Some(Errno::ERESTARTNOHAND),
                    515 => Some(Errno::ENOIOCTLCMD),
                    516 => Some(Errno::ERESTART_RESTARTBLOCK),
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Numerical argument out of domain";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENOMSG = 42, "No message of desired type";
    EIDRM = 43, "Identifier removed";
    ECHRNG = 44, "Channel number out of range";
    EL2NSYNC = 45, "Level 2 not synchronized";
    EL3HLT = 46, "Level 3 halted";
    EL3RST = 47, "Level 3 reset";
    ELNRNG = 48, "Link number out of range";
    EUNATCH = 49, "Protocol driver not attached";
    ENOCSI = 50, "No CSI structure available";
    EL2HLT = 51, "Level 2 halted";
    EBADE = 52, "Invalid exchange";
    EBADR = 53, "Invalid request descriptor";
    EXFULL = 54, "Exchange full";
    ENOANO = 55, "No anode";
    EBADRQC = 56, "Invalid request code";
    EBADSLT = 57, "Invalid slot";
    EBFONT = 59, "Bad font file format";
    ENOSTR = 60, "Device not a stream";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    ENOSR = 63, "Out of streams resources";
    ENONET = 64, "Machine is not on the network";
    ENOPKG = 65, "Package not installed";
    EREMOTE = 66, "Object is remote";
    ENOLINK = 67, "Link has been severed";
    EADV = 68, "Advertise error";
    ESRMNT = 69, "Srmount error";
    ECOMM = 70, "Communication error on send";
    EPROTO = 71, "Protocol error";
    EMULTIHOP = 72, "Multihop attempted";
    EDOTDOT = 73, "RFS specific error";
    EBADMSG = 74, "Bad message";
    EOVERFLOW = 75, "Value too large for defined data type";
    ENOTUNIQ = 76, "Name not unique on network";
    EBADFD = 77, "File descriptor in bad state";
    EREMCHG = 78, "Remote address changed";
    ELIBACC = 79, "Can not access a needed shared library";
    ELIBBAD = 80, "Accessing a corrupted shared library";
    ELIBSCN = 81, ".lib section in a.out corrupted";
    ELIBMAX = 82, "Attempting to link in too many shared libraries";
    ELIBEXEC = 83, "Cannot exec a shared library directly";
    EILSEQ = 84, "Invalid or incomplete multibyte or wide character";
    ERESTART = 85, "Interrupted system call should be restarted";
    ESTRPIPE = 86, "Streams pipe error";
    EUSERS = 87, "Too many users";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    EPROTONOSUPPORT = 93, "Protocol not supported";
    ESOCKTNOSUPPORT = 94, "Socket type not supported";
    EOPNOTSUPP = 95, "Operation not supported";
    EPFNOSUPPORT = 96, "Protocol family not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETDOWN = 100, "Network is down";
    ENETUNREACH = 101, "Network is unreachable";
    ENETRESET = 102, "Network dropped connection on reset";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    ETOOMANYREFS = 109, "Too many references: cannot splice";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTDOWN = 112, "Host is down";
    EHOSTUNREACH = 113, "No route to host";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ESTALE = 116, "Stale file handle";
    EUCLEAN = 117, "Structure needs cleaning";
    ENOTNAM = 118, "Not a XENIX named type file";
    ENAVAIL = 119, "No XENIX semaphores available";
    EISNAM = 120, "Is a named type file";
    EREMOTEIO = 121, "Remote I/O error";
    EDQUOT = 122, "Disk quota exceeded";
    ENOMEDIUM = 123, "No medium found";
    EMEDIUMTYPE = 124, "Wrong medium type";
    ECANCELED = 125, "Operation canceled";
    ENOKEY = 126, "Required key not available";
    EKEYEXPIRED = 127, "Key has expired";
    EKEYREVOKED = 128, "Key has been revoked";
    EKEYREJECTED = 129, "Key was rejected by service";
    EOWNERDEAD = 130, "Owner died";
    ENOTRECOVERABLE = 131, "State not recoverable";
    ERFKILL = 132, "Operation not possible due to RF-kill";
    EHWPOISON = 133, "Memory page has hardware error";
}

#[allow(non_upper_case_globals)]
impl Errno {
    /// `EWOULDBLOCK` is `EAGAIN` on every Linux architecture.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// `EDEADLOCK` is `EDEADLK` in asm-generic (ARM has no separate value).
    pub const EDEADLOCK: Errno = Errno::EDEADLK;
    /// glibc's `ENOTSUP` is `EOPNOTSUPP`.
    pub const ENOTSUP: Errno = Errno::EOPNOTSUPP;

    /// The number a system call returns negated.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The value a system call leaves in r0: `-code` as an unsigned register.
    pub const fn to_return(self) -> u32 {
        (self as i32).wrapping_neg() as u32
    }

    /// `-code` in a register of the running architecture (sign-extended to 64 bits on
    /// arm64: the same bits as [`to_return`](Self::to_return) on ARM).
    pub const fn to_register(self) -> usize {
        (self as i32).wrapping_neg() as isize as usize
    }

    /// Whether this is one of the restart codes that must never reach user space.
    pub const fn is_kernel_internal(self) -> bool {
        self as u16 >= 512
    }

    /// The error a system call's return register holds, as `IS_ERR_VALUE()` decides it: the
    /// top 4095 values are errors, anything else is a result.
    pub const fn from_return(r0: u32) -> Option<Errno> {
        if r0 >= MAX_ERRNO_RETURN {
            Errno::from_code(r0.wrapping_neg())
        } else {
            None
        }
    }
}

/// `-MAX_ERRNO` (4095) as a 32-bit register: the lowest value that is an error, not a result.
pub const MAX_ERRNO_RETURN: u32 = 4095u32.wrapping_neg();

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_round_trips() {
        assert_eq!(Errno::ENOENT.code(), 2);
        assert_eq!(Errno::ENOSYS.code(), 38);
        assert_eq!(Errno::EHWPOISON.code(), 133);
        assert_eq!(Errno::ALL.len(), 131, "1..=133 without 41 and 58");
        for (i, e) in Errno::ALL.iter().enumerate() {
            assert_eq!(Errno::from_code(e.code() as u32), Some(*e));
            assert_eq!(Errno::from_return(e.to_return()), Some(*e));
            // A register holds -code: the low 32 bits are to_return's, the rest its sign.
            assert_eq!(e.to_register() as isize, -(e.code() as isize));
            assert_eq!(e.to_register() as u32, e.to_return());
            if i > 0 {
                assert!(Errno::ALL[i - 1] < *e);
            }
            assert!(!e.is_kernel_internal());
        }
        assert_eq!(Errno::from_code(41), None);
        assert_eq!(Errno::from_code(58), None);
        assert_eq!(Errno::EINVAL.to_return(), 0xffff_ffea);
        assert_eq!(Errno::from_return(0xffff_f000), None, "-4096 is not an error number");
        assert_eq!(Errno::from_return(0x7fff_0000), None);
        assert!(Errno::ERESTARTSYS.is_kernel_internal());
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(alloc::format!("{}", Errno::ENOTTY), "Inappropriate ioctl for device (ENOTTY)");
    }
}
