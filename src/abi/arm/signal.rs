//! Signals on 32-bit ARM as Linux 6.1 delivers them: the numbers and flags, the kernel's
//! 64-bit `sigset_t`, `struct sigaction` as `rt_sigaction` reads it (and the old one of
//! `sigaction`), `siginfo_t` with the fields SIGSEGV/SIGBUS/SIGILL/SIGCHLD/kill use, and the
//! signal frames `setup_frame`/`setup_rt_frame` build on the user stack (`struct sigcontext`,
//! `struct ucontext` with its VFP block in `uc_regspace`, the return trampoline in `retcode`),
//! with the register changes `setup_return` makes and the checks `sys_rt_sigreturn` applies
//! when it reads a frame back. Everything goes through [`UserMemory`], so a frame that cannot
//! be written is an error value the kernel turns into `SIGSEGV` (`signal_setup_done`), as
//! Linux does. Layouts from `arch/arm/include/uapi/asm/{signal,sigcontext}.h`,
//! `include/uapi/asm-generic/siginfo.h`, `arch/arm/include/asm/ucontext.h` and
//! `arch/arm/kernel/signal.h`; checked by `tests/abi_golden.rs`.
use alloc::vec::Vec;

use crate::abi::errno::Errno;
use crate::abi::uaccess::{get_user, put_user, UserMemory};
use crate::abi::wire::{Field, Layout, Wire};
use crate::abi_struct;

pub use super::types::Ulong;

/// Signal numbers (`arch/arm/include/uapi/asm/signal.h`).
pub mod sig {
    pub const SIGHUP: u32 = 1;
    pub const SIGINT: u32 = 2;
    pub const SIGQUIT: u32 = 3;
    pub const SIGILL: u32 = 4;
    pub const SIGTRAP: u32 = 5;
    pub const SIGABRT: u32 = 6;
    pub const SIGBUS: u32 = 7;
    pub const SIGFPE: u32 = 8;
    pub const SIGKILL: u32 = 9;
    pub const SIGUSR1: u32 = 10;
    pub const SIGSEGV: u32 = 11;
    pub const SIGUSR2: u32 = 12;
    pub const SIGPIPE: u32 = 13;
    pub const SIGALRM: u32 = 14;
    pub const SIGTERM: u32 = 15;
    pub const SIGSTKFLT: u32 = 16;
    pub const SIGCHLD: u32 = 17;
    pub const SIGCONT: u32 = 18;
    pub const SIGSTOP: u32 = 19;
    pub const SIGTSTP: u32 = 20;
    pub const SIGTTIN: u32 = 21;
    pub const SIGTTOU: u32 = 22;
    pub const SIGURG: u32 = 23;
    pub const SIGXCPU: u32 = 24;
    pub const SIGXFSZ: u32 = 25;
    pub const SIGVTALRM: u32 = 26;
    pub const SIGPROF: u32 = 27;
    pub const SIGWINCH: u32 = 28;
    pub const SIGIO: u32 = 29;
    pub const SIGPWR: u32 = 30;
    pub const SIGSYS: u32 = 31;
    pub const SIGRTMIN: u32 = 32;
    /// `_NSIG`: signals are 1..=64.
    pub const NSIG: u32 = 64;
}

/// `sa_flags` bits.
pub mod sa {
    pub const SA_NOCLDSTOP: u32 = 0x0000_0001;
    pub const SA_NOCLDWAIT: u32 = 0x0000_0002;
    pub const SA_SIGINFO: u32 = 0x0000_0004;
    /// Bits 6.1 reserves to tell user space which flags it knows (`SA_UNSUPPORTED`,
    /// `SA_EXPOSE_TAGBITS`).
    pub const SA_UNSUPPORTED: u32 = 0x0000_0400;
    pub const SA_EXPOSE_TAGBITS: u32 = 0x0000_0800;
    pub const SA_THIRTYTWO: u32 = 0x0200_0000;
    pub const SA_RESTORER: u32 = 0x0400_0000;
    pub const SA_ONSTACK: u32 = 0x0800_0000;
    pub const SA_RESTART: u32 = 0x1000_0000;
    pub const SA_NODEFER: u32 = 0x4000_0000;
    pub const SA_RESETHAND: u32 = 0x8000_0000;
}

/// `si_code` values for the signals a fault, a child or `kill` raises.
pub mod si_code {
    pub const SI_USER: i32 = 0;
    pub const SI_KERNEL: i32 = 0x80;
    pub const SI_QUEUE: i32 = -1;
    pub const SI_TKILL: i32 = -6;
    pub const ILL_ILLOPC: i32 = 1;
    pub const ILL_ILLTRP: i32 = 4;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const BUS_ADRERR: i32 = 2;
    pub const BUS_OBJERR: i32 = 3;
    pub const TRAP_BRKPT: i32 = 1;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
    pub const CLD_DUMPED: i32 = 3;
    pub const CLD_TRAPPED: i32 = 4;
    pub const CLD_STOPPED: i32 = 5;
    pub const CLD_CONTINUED: i32 = 6;
}

/// `how` of `rt_sigprocmask`.
pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;
/// Handler values.
pub const SIG_DFL: u32 = 0;
pub const SIG_IGN: u32 = 1;
/// `sigaltstack` flags and sizes.
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
pub const MINSIGSTKSZ: u32 = 2048;

abi_struct! {
    /// The kernel's `sigset_t`: 64 bits (`_NSIG_WORDS` = 2), signal N is bit N-1.
    /// `rt_sigprocmask`/`rt_sigaction` take `sigsetsize` = 8; anything else is `EINVAL`.
    pub struct SigSet = "kernel_sigset_t", size 8, align 4 {
        sig: [u32; 2] = 0,
    }
}

impl SigSet {
    pub const EMPTY: SigSet = SigSet { sig: [0, 0] };

    /// The set from a 64-bit mask (bit N-1 for signal N), as the task keeps it.
    pub const fn from_bits(mask: u64) -> SigSet {
        SigSet { sig: [mask as u32, (mask >> 32) as u32] }
    }
    /// The set as a 64-bit mask.
    pub const fn bits(&self) -> u64 {
        self.sig[0] as u64 | (self.sig[1] as u64) << 32
    }

    fn bit(signo: u32) -> Option<(usize, u32)> {
        (1..=sig::NSIG)
            .contains(&signo)
            .then(|| (((signo - 1) / 32) as usize, 1 << ((signo - 1) % 32)))
    }
    pub fn contains(&self, signo: u32) -> bool {
        Self::bit(signo).is_some_and(|(w, b)| self.sig[w] & b != 0)
    }
    pub fn add(&mut self, signo: u32) {
        if let Some((w, b)) = Self::bit(signo) {
            self.sig[w] |= b;
        }
    }
    pub fn remove(&mut self, signo: u32) {
        if let Some((w, b)) = Self::bit(signo) {
            self.sig[w] &= !b;
        }
    }
    /// `sigdelsetmask(set, sigmask(SIGKILL) | sigmask(SIGSTOP))`: the two signals no mask holds.
    pub fn without_unblockable(mut self) -> Self {
        self.remove(sig::SIGKILL);
        self.remove(sig::SIGSTOP);
        self
    }
    /// `rt_sigprocmask`'s `how` applied to `self` (the blocked set): `EINVAL` for an unknown
    /// `how`. SIGKILL and SIGSTOP are never blocked.
    pub fn apply(self, how: u32, set: SigSet) -> Result<SigSet, Errno> {
        let r = match how {
            SIG_BLOCK => SigSet { sig: [self.sig[0] | set.sig[0], self.sig[1] | set.sig[1]] },
            SIG_UNBLOCK => SigSet { sig: [self.sig[0] & !set.sig[0], self.sig[1] & !set.sig[1]] },
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        Ok(r.without_unblockable())
    }
}

abi_struct! {
    /// `struct sigaction` as `rt_sigaction` reads and writes it (`include/linux/signal_types.h`
    /// with `__ARCH_HAS_SA_RESTORER`): handler, flags, restorer, then the 64-bit mask.
    pub struct KernelSigaction = "struct kernel_sigaction", size 20, align 4 {
        sa_handler: u32 = 0,
        sa_flags: u32 = 4,
        sa_restorer: u32 = 8,
        sa_mask: SigSet = 12,
    }
}

abi_struct! {
    /// ARM's old `struct sigaction` of the `sigaction` call (number 67): a 32-bit mask second.
    pub struct OldSigaction = "struct sigaction", size 16, align 4 {
        sa_handler: u32 = 0,
        sa_mask: u32 = 4,
        sa_flags: u32 = 8,
        sa_restorer: u32 = 12,
    }
}

abi_struct! {
    /// `stack_t` (`sigaltstack`, `uc_stack`).
    pub struct StackT = "stack_t", size 12, align 4 {
        ss_sp: u32 = 0,
        ss_flags: i32 = 4,
        ss_size: u32 = 8,
    }
}

abi_struct! {
    /// `struct sigcontext`: the registers at the time of the signal, the fault that caused
    /// it (`trap_no`, `error_code` = FSR, `fault_address`) and the old mask's first word.
    pub struct Sigcontext = "struct sigcontext", size 84, align 4 {
        trap_no: u32 = 0,
        error_code: u32 = 4,
        oldmask: u32 = 8,
        arm_r0: u32 = 12,
        arm_r1: u32 = 16,
        arm_r2: u32 = 20,
        arm_r3: u32 = 24,
        arm_r4: u32 = 28,
        arm_r5: u32 = 32,
        arm_r6: u32 = 36,
        arm_r7: u32 = 40,
        arm_r8: u32 = 44,
        arm_r9: u32 = 48,
        arm_r10: u32 = 52,
        arm_fp: u32 = 56,
        arm_ip: u32 = 60,
        arm_sp: u32 = 64,
        arm_lr: u32 = 68,
        arm_pc: u32 = 72,
        arm_cpsr: u32 = 76,
        fault_address: u32 = 80,
    }
}

abi_struct! {
    /// The kernel's `struct ucontext` on ARM: the mask padded to glibc's 1024 bits, then 512
    /// bytes of coprocessor state (`uc_regspace`, 8-byte aligned).
    pub struct Ucontext = "struct ucontext", size 744, align 8 {
        uc_flags: u32 = 0,
        uc_link: u32 = 4,
        uc_stack: StackT = 8,
        uc_mcontext: Sigcontext = 20,
        uc_sigmask: SigSet = 104,
        __unused: [i32; 30] = 112,
        uc_regspace: [u32; 128] = 232,
    }
}

abi_struct! {
    /// `struct user_vfp`: the 32 double registers and FPSCR.
    pub struct UserVfp = "struct user_vfp", size 264, align 8 {
        fpregs: [u64; 32] = 0,
        fpscr: u32 = 256,
    }
}

abi_struct! {
    /// `struct user_vfp_exc`: the VFP exception registers.
    pub struct UserVfpExc = "struct user_vfp_exc", size 12, align 4 {
        fpexc: u32 = 0,
        fpinst: u32 = 4,
        fpinst2: u32 = 8,
    }
}

abi_struct! {
    /// `struct vfp_sigframe`, the first block in `uc_regspace` (bcm2709_defconfig has VFP and
    /// no iWMMXt): `VFP_MAGIC`, its size, the registers.
    pub struct VfpSigframe = "struct vfp_sigframe", size 288, align 8 {
        magic: u32 = 0,
        size: u32 = 4,
        ufp: UserVfp = 8,
        ufp_exc: UserVfpExc = 272,
    }
}

/// `VFP_MAGIC` and `VFP_STORAGE_SIZE` (`sizeof(struct vfp_sigframe)`).
pub const VFP_MAGIC: u32 = 0x5646_5001;
pub const VFP_STORAGE_SIZE: u32 = VfpSigframe::LAYOUT.size as u32;
/// Offset of `end_magic` (0) after the VFP block in `struct aux_sigframe`.
pub const AUX_END_MAGIC_OFFSET: usize = VfpSigframe::LAYOUT.size;

abi_struct! {
    /// `struct sigframe` (`setup_frame`, handlers without `SA_SIGINFO`): the context and four
    /// words of return code.
    pub struct Sigframe = "struct sigframe", size 760, align 8 {
        uc: Ucontext = 0,
        retcode: [u32; 4] = 744,
    }
}

/// Size of `siginfo_t` (`SI_MAX_SIZE`).
pub const SIGINFO_SIZE: usize = 128;

/// What a `siginfo_t` carries after its three common members, by the union member that the
/// signal uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFields {
    /// `_kill`: sender's pid and uid (`kill`, `tkill`, `SI_USER`).
    Kill { pid: i32, uid: u32 },
    /// `_sigchld`: the child, its status and CPU times in clock ticks.
    Chld { pid: i32, uid: u32, status: i32, utime: i32, stime: i32 },
    /// `_sigfault`: the faulting address (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE).
    Fault { addr: u32 },
    /// Nothing beyond the common members.
    None,
}

/// `siginfo_t`, 128 bytes, as `copy_siginfo_to_user` writes it (the rest zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Siginfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    pub fields: SigFields,
}

/// `siginfo_t`'s members at their offsets (the union's members overlap at 12).
pub const SIGINFO_LAYOUT: Layout = Layout {
    c_type: "siginfo_t",
    size: SIGINFO_SIZE,
    align: 4,
    fields: &[
        Field { name: "si_signo", offset: 0, size: 4, align: 4 },
        Field { name: "si_errno", offset: 4, size: 4, align: 4 },
        Field { name: "si_code", offset: 8, size: 4, align: 4 },
        Field { name: "si_pid", offset: 12, size: 4, align: 4 },
        Field { name: "si_uid", offset: 16, size: 4, align: 4 },
        Field { name: "si_status", offset: 20, size: 4, align: 4 },
        Field { name: "si_utime", offset: 24, size: 4, align: 4 },
        Field { name: "si_stime", offset: 28, size: 4, align: 4 },
        Field { name: "si_addr", offset: 12, size: 4, align: 4 },
    ],
};

impl Wire for Siginfo {
    const SIZE: usize = SIGINFO_SIZE;
    const ALIGN: usize = 4;
    fn put(&self, out: &mut [u8]) {
        out[..SIGINFO_SIZE].fill(0);
        let mut w = |off: usize, v: u32| v.put(&mut out[off..off + 4]);
        w(0, self.si_signo as u32);
        w(4, self.si_errno as u32);
        w(8, self.si_code as u32);
        match self.fields {
            SigFields::Kill { pid, uid } => {
                w(12, pid as u32);
                w(16, uid);
            }
            SigFields::Chld { pid, uid, status, utime, stime } => {
                w(12, pid as u32);
                w(16, uid);
                w(20, status as u32);
                w(24, utime as u32);
                w(28, stime as u32);
            }
            SigFields::Fault { addr } => w(12, addr),
            SigFields::None => {}
        }
    }
    /// Reads back the common members and the fault address (what `rt_sigqueueinfo` or a
    /// frame check needs); the union is taken as `_sigfault`.
    fn get(inp: &[u8]) -> Self {
        let r = |off: usize| u32::get(&inp[off..off + 4]);
        Siginfo {
            si_signo: r(0) as i32,
            si_errno: r(4) as i32,
            si_code: r(8) as i32,
            fields: SigFields::Fault { addr: r(12) },
        }
    }
}

impl Siginfo {
    /// A fault's siginfo (`force_sig_fault`): SIGSEGV with `SEGV_MAPERR`/`SEGV_ACCERR`, SIGBUS...
    pub fn fault(signo: u32, code: i32, addr: u32) -> Self {
        Siginfo {
            si_signo: signo as i32,
            si_errno: 0,
            si_code: code,
            fields: SigFields::Fault { addr },
        }
    }
    /// `kill()`'s siginfo: `SI_USER` with the sender.
    pub fn kill(signo: u32, pid: i32, uid: u32) -> Self {
        Siginfo {
            si_signo: signo as i32,
            si_errno: 0,
            si_code: si_code::SI_USER,
            fields: SigFields::Kill { pid, uid },
        }
    }
}

/// A `struct rt_sigframe`: siginfo, then a `struct sigframe`.
pub const RT_SIGFRAME_SIZE: usize = SIGINFO_SIZE + Sigframe::LAYOUT.size;
/// Offset of `sig.uc` in `struct rt_sigframe` (the handler's third argument).
pub const RT_SIGFRAME_UC_OFFSET: usize = SIGINFO_SIZE;
/// The layout of `struct rt_sigframe`.
pub const RT_SIGFRAME_LAYOUT: Layout = Layout {
    c_type: "struct rt_sigframe",
    size: RT_SIGFRAME_SIZE,
    align: 8,
    fields: &[
        Field { name: "info", offset: 0, size: SIGINFO_SIZE, align: 4 },
        Field { name: "sig", offset: SIGINFO_SIZE, size: Sigframe::LAYOUT.size, align: 8 },
    ],
};

/// `sigreturn_codes[]` (`arch/arm/kernel/sigreturn_codes.S`): the return trampolines copied
/// into the signal page at `signal_return_offset` and onto the stack. Words 0-1: ARM
/// `mov r7, #119; swi #0x900077` (sigreturn); 2: Thumb `movs r7, #119; svc #0`; 3-4: ARM
/// rt_sigreturn (173); 5: Thumb rt_sigreturn. (The FDPIC entries after them are for a
/// binary format pivm does not load.)
pub const SIGRETURN_CODES: [u32; 6] = [
    0xe3a0_7000 | super::unistd::nr::SIGRETURN,
    0xef90_0000 | super::unistd::nr::SIGRETURN,
    0xdf00_2700 | super::unistd::nr::SIGRETURN,
    0xe3a0_7000 | super::unistd::nr::RT_SIGRETURN,
    0xef90_0000 | super::unistd::nr::RT_SIGRETURN,
    0xdf00_2700 | super::unistd::nr::RT_SIGRETURN,
];

/// CPSR bits `setup_return` and `valid_user_regs` use.
pub mod psr {
    pub const MODE_MASK: u32 = 0x0000_001f;
    pub const USR_MODE: u32 = 0x0000_0010;
    pub const MODE32_BIT: u32 = 0x0000_0010;
    pub const T_BIT: u32 = 0x0000_0020;
    pub const F_BIT: u32 = 0x0000_0040;
    pub const I_BIT: u32 = 0x0000_0080;
    pub const A_BIT: u32 = 0x0000_0100;
    pub const E_BIT: u32 = 0x0000_0200;
    pub const IT_MASK: u32 = 0x0600_fc00;
    pub const F: u32 = 0xff00_0000;
    pub const S: u32 = 0x00ff_0000;
    pub const X: u32 = 0x0000_ff00;
}

/// The user registers a signal saves and restores (`struct pt_regs` without `ORIG_r0`):
/// r0-r12, sp, lr, pc, cpsr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub r: [u32; 13],
    pub sp: u32,
    pub lr: u32,
    pub pc: u32,
    pub cpsr: u32,
}

impl UserRegs {
    /// `valid_user_regs()`: F and A are always cleared; a user-mode CPSR with IRQs enabled is
    /// valid. Otherwise the CPSR is forced to user mode with only the condition, status,
    /// extension and T bits kept, and the answer is false.
    pub fn valid_user_regs(&mut self) -> bool {
        self.cpsr &= !(psr::F_BIT | psr::A_BIT);
        if self.cpsr & psr::I_BIT == 0 && self.cpsr & psr::MODE_MASK == psr::USR_MODE {
            return true;
        }
        self.cpsr &= psr::F | psr::S | psr::X | psr::T_BIT | psr::MODE32_BIT;
        self.cpsr |= psr::USR_MODE;
        false
    }

    fn to_sigcontext(self, fault: &ThreadFault, oldmask: u32) -> Sigcontext {
        let r = self.r;
        Sigcontext {
            trap_no: fault.trap_no,
            error_code: fault.error_code,
            oldmask,
            arm_r0: r[0],
            arm_r1: r[1],
            arm_r2: r[2],
            arm_r3: r[3],
            arm_r4: r[4],
            arm_r5: r[5],
            arm_r6: r[6],
            arm_r7: r[7],
            arm_r8: r[8],
            arm_r9: r[9],
            arm_r10: r[10],
            arm_fp: r[11],
            arm_ip: r[12],
            arm_sp: self.sp,
            arm_lr: self.lr,
            arm_pc: self.pc,
            arm_cpsr: self.cpsr,
            fault_address: fault.address,
        }
    }

    fn from_sigcontext(c: &Sigcontext) -> Self {
        UserRegs {
            r: [
                c.arm_r0, c.arm_r1, c.arm_r2, c.arm_r3, c.arm_r4, c.arm_r5, c.arm_r6, c.arm_r7,
                c.arm_r8, c.arm_r9, c.arm_r10, c.arm_fp, c.arm_ip,
            ],
            sp: c.arm_sp,
            lr: c.arm_lr,
            pc: c.arm_pc,
            cpsr: c.arm_cpsr,
        }
    }
}

/// The last fault recorded in `current->thread` (`trap_no`, `error_code`, `address`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadFault {
    pub trap_no: u32,
    pub error_code: u32,
    pub address: u32,
}

impl ThreadFault {
    /// What `__do_user_fault` records for the frame: the trap number, the FSR and the
    /// address (ARM keeps them as they are; `task_size` matters only on arm64).
    pub fn record(addr: usize, trap_no: u32, raw: u32, _task_size: usize) -> Self {
        ThreadFault { trap_no, error_code: raw, address: addr as u32 }
    }
}

/// The task's alternate signal stack (`sas_ss_sp`, `sas_ss_size`, `sas_ss_flags`), with `W`
/// the architecture's `unsigned long`: the rules are the generic kernel's, the same on arm64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStackOf<W> {
    pub sp: W,
    pub size: W,
    pub flags: u32,
}

/// ARM's: 32-bit addresses.
pub type AltStack = AltStackOf<u32>;

impl<W: Copy + Default + PartialOrd + core::ops::Sub<Output = W>> AltStackOf<W> {
    /// `on_sig_stack(sp)` for a downward-growing stack.
    pub fn on_stack(&self, sp: W) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }
    /// `sas_ss_flags(sp)`: `SS_DISABLE` without a stack, `SS_ONSTACK` while on it, else 0.
    pub fn ss_flags(&self, sp: W) -> u32 {
        if self.size == W::default() {
            SS_DISABLE
        } else if self.on_stack(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }
}

/// Everything `handle_signal` needs besides user memory.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    pub signo: u32,
    pub action: &'a KernelSigaction,
    pub info: &'a Siginfo,
    /// The mask to restore on return (`sigmask_to_save()`).
    pub saved_mask: SigSet,
    pub fault: ThreadFault,
    pub vfp: &'a VfpSigframe,
    /// `mm->context.sigpage` (the `[sigpage]` VMA).
    pub sigpage: u32,
    /// `signal_return_offset`: where `sigreturn_codes` sit in the signal page (6.1 picks
    /// `0x200 + (random & 0x7fc)` at boot).
    pub signal_return_offset: u32,
}

/// Why a frame could not be built or read back: the task gets `SIGSEGV`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFrame {
    /// The frame's memory could not be written or read (`EFAULT`).
    Fault,
    /// `sigreturn` with a stack pointer not 8-byte aligned.
    Misaligned,
    /// The saved CPSR was not a user-mode one (`valid_user_regs`).
    BadRegs,
    /// The VFP block's magic or size was wrong.
    BadVfp,
}

/// `get_sigframe()`: the frame's address below the stack (or at the top of the alternate
/// stack with `SA_ONSTACK`), 8-byte aligned as the AAPCS requires.
pub fn get_sigframe(sp: u32, act: &KernelSigaction, alt: &AltStack, framesize: usize) -> u32 {
    let sp = if act.sa_flags & sa::SA_ONSTACK != 0 && alt.ss_flags(sp) == 0 {
        alt.sp.wrapping_add(alt.size)
    } else {
        sp
    };
    sp.wrapping_sub(framesize as u32) & !7
}

fn ucontext(regs: &UserRegs, d: &Delivery<'_>, stack: StackT, uc_flags: u32) -> Ucontext {
    // `setup_sigframe`: the registers and fault into uc_mcontext, the mask, then the VFP
    // block and a zero end_magic in uc_regspace.
    let mut regspace = [0u8; 512];
    let mut vfp = *d.vfp;
    vfp.magic = VFP_MAGIC;
    vfp.size = VFP_STORAGE_SIZE;
    vfp.put(&mut regspace);
    let regspace = <[u32; 128]>::get(&regspace);
    Ucontext {
        uc_flags,
        uc_link: 0,
        uc_stack: stack,
        uc_mcontext: regs.to_sigcontext(&d.fault, d.saved_mask.sig[0]),
        uc_sigmask: d.saved_mask,
        __unused: [0; 30],
        uc_regspace: regspace,
    }
}

/// `setup_return()`: the handler's registers. Returns them and the retcode words.
fn setup_return(regs: &UserRegs, d: &Delivery<'_>, frame: u32) -> (UserRegs, [u32; 4]) {
    let handler = d.action.sa_handler;
    // PSR_ENDSTATE is 0 on a little-endian kernel; the Cortex-A7 has HWCAP_THUMB.
    let mut cpsr = regs.cpsr & !(psr::F | psr::E_BIT);
    if d.action.sa_flags & sa::SA_THIRTYTWO != 0 {
        cpsr = (cpsr & !psr::MODE_MASK) | psr::USR_MODE;
    }
    let thumb = handler & 1;
    cpsr &= !psr::IT_MASK;
    if thumb != 0 {
        cpsr |= psr::T_BIT;
    } else {
        cpsr &= !psr::T_BIT;
    }
    let mut retcode = [0u32; 4];
    let lr = if d.action.sa_flags & sa::SA_RESTORER != 0 {
        d.action.sa_restorer
    } else {
        let mut idx = (thumb << 1) as usize;
        if d.action.sa_flags & sa::SA_SIGINFO != 0 {
            idx += 3;
        }
        // The code goes on the stack as well, "to remain ABI compliant"; word idx+1 exists for
        // every idx (the array is padded in Linux too).
        retcode[0] = SIGRETURN_CODES[idx];
        retcode[1] = SIGRETURN_CODES.get(idx + 1).copied().unwrap_or(0);
        d.sigpage + d.signal_return_offset + ((idx as u32) << 2) + thumb
    };
    let mut out = *regs;
    out.r[0] = d.signo;
    out.sp = frame;
    out.lr = lr;
    out.pc = handler;
    out.cpsr = cpsr;
    (out, retcode)
}

/// A built frame: where it went and the registers the handler starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub frame: u32,
    pub regs: UserRegs,
}

/// `setup_rt_frame()` (handlers with `SA_SIGINFO`): writes siginfo, ucontext (with
/// `uc_stack` as `__save_altstack` fills it) and retcode at the frame address, sets r0 = signal,
/// r1 = &info, r2 = &uc. With `SS_AUTODISARM` the alternate stack is reset afterwards
/// (`alt` is updated). A frame that cannot be written is [`BadFrame::Fault`].
pub fn setup_rt_frame(
    mem: &mut impl UserMemory,
    regs: &UserRegs,
    alt: &mut AltStack,
    d: &Delivery<'_>,
) -> Result<Delivered, BadFrame> {
    let frame = get_sigframe(regs.sp, d.action, alt, RT_SIGFRAME_SIZE);
    if !mem.access_ok(frame as usize, RT_SIGFRAME_SIZE) {
        return Err(BadFrame::Fault);
    }
    let stack = StackT { ss_sp: alt.sp, ss_flags: alt.ss_flags(regs.sp) as i32, ss_size: alt.size };
    if alt.flags & SS_AUTODISARM != 0 {
        *alt = AltStack { sp: 0, size: 0, flags: SS_DISABLE };
    }
    let uc = ucontext(regs, d, stack, 0);
    let (mut out, retcode) = setup_return(regs, d, frame);
    let sf = Sigframe { uc, retcode };
    let mut bytes = Vec::with_capacity(RT_SIGFRAME_SIZE);
    bytes.extend_from_slice(&d.info.to_bytes());
    bytes.extend_from_slice(&sf.to_bytes());
    mem.copy_to_user(frame as usize, &bytes).map_err(|_| BadFrame::Fault)?;
    out.r[1] = frame;
    out.r[2] = frame + RT_SIGFRAME_UC_OFFSET as u32;
    Ok(Delivered { frame, regs: out })
}

/// `uc_flags` of a non-RT frame: "a value which sc.trap_no would never have".
pub const SIGFRAME_UC_FLAGS: u32 = 0x5ac3_c35a;

/// `setup_frame()` (handlers without `SA_SIGINFO`): a `struct sigframe`, r0 = signal.
pub fn setup_frame(
    mem: &mut impl UserMemory,
    regs: &UserRegs,
    alt: &AltStack,
    d: &Delivery<'_>,
) -> Result<Delivered, BadFrame> {
    let frame = get_sigframe(regs.sp, d.action, alt, Sigframe::LAYOUT.size);
    // setup_frame leaves uc_stack as the stack had it (Linux does not write it): zeros here.
    let uc = ucontext(regs, d, StackT::zeroed(), SIGFRAME_UC_FLAGS);
    let (out, retcode) = setup_return(regs, d, frame);
    put_user(mem, frame as usize, &Sigframe { uc, retcode }).map_err(|_| BadFrame::Fault)?;
    Ok(Delivered { frame, regs: out })
}

/// What `sigreturn`/`rt_sigreturn` restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    pub regs: UserRegs,
    /// The new blocked mask (SIGKILL and SIGSTOP removed).
    pub blocked: SigSet,
    pub vfp: VfpSigframe,
    /// `uc_stack` of an rt frame (`restore_altstack`), `None` for a plain frame.
    pub altstack: Option<StackT>,
}

/// The FP/SIMD state a frame saves and gives back.
pub type SigFpState = VfpSigframe;

impl Restored {
    /// The FP/SIMD state the frame gave back.
    pub fn fp(&self) -> &SigFpState {
        &self.vfp
    }
}

fn restore_sigframe(
    mem: &mut impl UserMemory,
    at: u32,
) -> Result<(UserRegs, SigSet, VfpSigframe), BadFrame> {
    let sf: Sigframe = get_user(mem, at as usize).map_err(|_| BadFrame::Fault)?;
    let blocked = sf.uc.uc_sigmask.without_unblockable();
    let mut regs = UserRegs::from_sigcontext(&sf.uc.uc_mcontext);
    if !regs.valid_user_regs() {
        return Err(BadFrame::BadRegs);
    }
    let mut raw = [0u8; 512];
    sf.uc.uc_regspace.put(&mut raw);
    let vfp = VfpSigframe::get(&raw);
    if vfp.magic != VFP_MAGIC || vfp.size != VFP_STORAGE_SIZE {
        return Err(BadFrame::BadVfp);
    }
    Ok((regs, blocked, vfp))
}

/// `sys_rt_sigreturn()`: reads the rt frame at `sp` back.
pub fn rt_sigreturn(mem: &mut impl UserMemory, sp: u32) -> Result<Restored, BadFrame> {
    if sp & 7 != 0 {
        return Err(BadFrame::Misaligned);
    }
    let sig_at = sp.checked_add(SIGINFO_SIZE as u32).ok_or(BadFrame::Fault)?;
    let (regs, blocked, vfp) = restore_sigframe(mem, sig_at)?;
    let stack: StackT = get_user(mem, sig_at as usize + 8).map_err(|_| BadFrame::Fault)?;
    Ok(Restored { regs, blocked, vfp, altstack: Some(stack) })
}

/// `sys_sigreturn()`: reads a plain frame at `sp` back.
pub fn sigreturn(mem: &mut impl UserMemory, sp: u32) -> Result<Restored, BadFrame> {
    if sp & 7 != 0 {
        return Err(BadFrame::Misaligned);
    }
    let (regs, blocked, vfp) = restore_sigframe(mem, sp)?;
    Ok(Restored { regs, blocked, vfp, altstack: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::uaccess::SparseUserMemory;

    const STACK_TOP: u32 = 0xbf00_0000;

    fn setup() -> (SparseUserMemory, UserRegs) {
        let mut m = SparseUserMemory::new(STACK_TOP as usize);
        m.map((STACK_TOP - 0x4000) as usize, 0x4000, true);
        let regs = UserRegs {
            r: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
            sp: STACK_TOP - 0x104,
            lr: 0x1_0101,
            pc: 0x1_0200,
            cpsr: psr::USR_MODE | 0x6000_0000,
        };
        (m, regs)
    }

    #[test]
    fn rt_frame_layout_registers_and_round_trip() {
        let (mut m, regs) = setup();
        let act = KernelSigaction {
            sa_handler: 0x1_0401, // a Thumb handler
            sa_flags: sa::SA_SIGINFO,
            sa_restorer: 0,
            sa_mask: SigSet::EMPTY,
        };
        let info = Siginfo::fault(sig::SIGSEGV, si_code::SEGV_MAPERR, 0);
        let mut mask = SigSet::EMPTY;
        mask.add(sig::SIGUSR1);
        let vfp = VfpSigframe::zeroed();
        let d = Delivery {
            signo: sig::SIGSEGV,
            action: &act,
            info: &info,
            saved_mask: mask,
            fault: ThreadFault { trap_no: 14, error_code: 0x805, address: 0 },
            vfp: &vfp,
            sigpage: 0xb6ff_d000,
            signal_return_offset: 0x200,
        };
        let mut alt = AltStack::default();
        let got = setup_rt_frame(&mut m, &regs, &mut alt, &d).unwrap();
        assert_eq!(RT_SIGFRAME_SIZE, 888);
        assert_eq!(got.frame, (regs.sp - 888) & !7);
        assert_eq!(got.frame % 8, 0);
        assert_eq!(got.regs.r[0], sig::SIGSEGV);
        assert_eq!(got.regs.r[1], got.frame);
        assert_eq!(got.regs.r[2], got.frame + 128);
        assert_eq!(got.regs.sp, got.frame);
        assert_eq!(got.regs.pc, 0x1_0401);
        assert_ne!(got.regs.cpsr & psr::T_BIT, 0, "Thumb handler");
        // No SA_RESTORER: return through the sigpage's Thumb rt_sigreturn code, idx 5.
        assert_eq!(got.regs.lr, 0xb6ff_d000 + 0x200 + (5 << 2) + 1);
        let f = got.frame as usize;
        assert_eq!(m.peek(f, 12), [11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], "signo, errno, code");
        let uc: Ucontext = get_user(&mut m, f + 128).unwrap();
        assert_eq!(uc.uc_stack.ss_flags as u32, SS_DISABLE);
        assert_eq!(uc.uc_mcontext.arm_pc, regs.pc);
        assert_eq!(uc.uc_mcontext.error_code, 0x805);
        assert_eq!(uc.uc_mcontext.oldmask, 1 << 9);
        assert_eq!(uc.uc_regspace[0], VFP_MAGIC);
        assert_eq!(uc.uc_regspace[1], 288);
        assert_eq!(uc.uc_regspace[288 / 4], 0, "end_magic");
        assert_eq!(m.peek(f + 128 + 744, 4), SIGRETURN_CODES[5].to_le_bytes());
        // rt_sigreturn at the frame gives the registers and mask back.
        let back = rt_sigreturn(&mut m, got.frame).unwrap();
        assert_eq!(back.regs, regs);
        assert_eq!(back.blocked, mask);
        assert_eq!(rt_sigreturn(&mut m, got.frame + 4), Err(BadFrame::Misaligned));
        assert_eq!(rt_sigreturn(&mut m, 0x1000), Err(BadFrame::Fault));
        // A forged frame with a privileged CPSR or a broken VFP block is refused.
        m.poke(f + 128 + 20 + 76, &0x13u32.to_le_bytes()); // SVC mode
        assert_eq!(rt_sigreturn(&mut m, got.frame), Err(BadFrame::BadRegs));
        m.poke(f + 128 + 20 + 76, &psr::USR_MODE.to_le_bytes());
        m.poke(f + 128 + 232, &0u32.to_le_bytes());
        assert_eq!(rt_sigreturn(&mut m, got.frame), Err(BadFrame::BadVfp));
    }

    #[test]
    fn restorer_altstack_plain_frames_and_unwritable_stacks() {
        let (mut m, regs) = setup();
        let act = KernelSigaction {
            sa_handler: 0x1_0400,
            sa_flags: sa::SA_RESTORER | sa::SA_ONSTACK,
            sa_restorer: 0x1_0800,
            sa_mask: SigSet::EMPTY,
        };
        let info = Siginfo::kill(sig::SIGUSR1, 1, 0);
        let vfp = VfpSigframe::zeroed();
        let d = Delivery {
            signo: sig::SIGUSR1,
            action: &act,
            info: &info,
            saved_mask: SigSet::EMPTY,
            fault: ThreadFault::default(),
            vfp: &vfp,
            sigpage: 0,
            signal_return_offset: 0,
        };
        let alt = AltStack { sp: STACK_TOP - 0x4000, size: 0x1000, flags: 0 };
        let got = setup_frame(&mut m, &regs, &alt, &d).unwrap();
        assert_eq!(got.frame, (STACK_TOP - 0x3000 - 760) & !7, "on the alternate stack");
        assert_eq!(got.regs.lr, 0x1_0800, "SA_RESTORER");
        assert_eq!(got.regs.cpsr & psr::T_BIT, 0);
        let uc: Ucontext = get_user(&mut m, got.frame as usize).unwrap();
        assert_eq!(uc.uc_flags, SIGFRAME_UC_FLAGS);
        assert_eq!(sigreturn(&mut m, got.frame).unwrap().regs, regs);
        // Already on the alternate stack: the frame goes below the current sp.
        let mut on_alt = regs;
        on_alt.sp = STACK_TOP - 0x3800;
        assert_eq!(get_sigframe(on_alt.sp, &act, &alt, 760), (on_alt.sp - 760) & !7);
        // A stack that cannot hold the frame.
        let mut low = regs;
        low.sp = STACK_TOP - 0x4000 + 100;
        assert_eq!(setup_frame(&mut m, &low, &AltStack::default(), &d), Err(BadFrame::Fault));
        let mut alt = AltStack::default();
        assert_eq!(setup_rt_frame(&mut m, &low, &mut alt, &d), Err(BadFrame::Fault));
    }

    #[test]
    fn masks_and_codes() {
        let mut s = SigSet::EMPTY;
        s.add(sig::SIGKILL);
        s.add(64);
        s.add(0);
        s.add(65);
        assert_eq!(s.sig, [1 << 8, 1 << 31]);
        let b = SigSet::EMPTY.apply(SIG_BLOCK, s).unwrap();
        assert!(!b.contains(sig::SIGKILL) && b.contains(64));
        assert_eq!(b.apply(SIG_UNBLOCK, s).unwrap(), SigSet::EMPTY);
        assert_eq!(b.apply(3, s), Err(Errno::EINVAL));
        assert_eq!(SIGRETURN_CODES[0], 0xe3a0_7077);
        assert_eq!(SIGRETURN_CODES[4], 0xef90_00ad);
        assert_eq!(SIGRETURN_CODES[2], 0xdf00_2777);
        let mut r =
            UserRegs { cpsr: psr::USR_MODE | psr::F_BIT | psr::A_BIT, ..Default::default() };
        assert!(r.valid_user_regs());
        assert_eq!(r.cpsr, psr::USR_MODE);
        let mut r = UserRegs { cpsr: 0x1f | psr::I_BIT | 0x8000_0000, ..Default::default() };
        assert!(!r.valid_user_regs());
        assert_eq!(r.cpsr, 0x8000_0000 | psr::USR_MODE);
    }
}
