//! Signals on arm64 as Linux 6.1 delivers them: the numbers, `sa_flags` bits and `si_code`s
//! are the 32-bit ARM ones (both use the asm-generic values; arm64 keeps `SA_RESTORER`), the
//! structures are 64-bit: the one-word `sigset_t`, `struct sigaction` of `rt_sigaction`,
//! `stack_t`, `siginfo_t` with its union at 16, and the frame `setup_rt_frame` builds:
//! `struct rt_sigframe` = `siginfo_t` + `struct ucontext`, whose `struct sigcontext` ends in a
//! 4096-byte `__reserved` area holding a list of records (`fpsimd_context` always,
//! `esr_context` after a fault, then the `end` record: a zero header). There is no ARM-style
//! `retcode`: the handler returns through the vDSO's `__kernel_rt_sigreturn` (or
//! `sa_restorer`), which calls `rt_sigreturn` (139). Layouts from
//! `arch/arm64/include/uapi/asm/{signal,sigcontext}.h`, `arch/arm64/include/asm/ucontext.h`,
//! `arch/arm64/kernel/signal.c` and `include/uapi/asm-generic/siginfo.h`; checked by
//! `tests/abi_golden_arm64.rs`.
use crate::abi::errno::Errno;
use crate::abi::uaccess::{get_user, put_user, UserMemory};
use crate::abi::wire::{Field, Layout, Wire};
use crate::abi_struct;

pub use super::types::Ulong;

pub use crate::abi::arm::signal::{si_code, sig};
pub use crate::abi::arm::signal::{SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK};
pub use crate::abi::arm::signal::{SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};

/// `sa_flags` bits: the asm-generic values ARM uses, as the 64-bit `unsigned long` arm64's
/// `struct sigaction` holds them (so `act.sa_flags & sa::SA_SIGINFO` reads the same on both).
pub mod sa {
    use crate::abi::arm::signal::sa as arm;
    pub const SA_NOCLDSTOP: u64 = arm::SA_NOCLDSTOP as u64;
    pub const SA_NOCLDWAIT: u64 = arm::SA_NOCLDWAIT as u64;
    pub const SA_SIGINFO: u64 = arm::SA_SIGINFO as u64;
    pub const SA_UNSUPPORTED: u64 = arm::SA_UNSUPPORTED as u64;
    pub const SA_EXPOSE_TAGBITS: u64 = arm::SA_EXPOSE_TAGBITS as u64;
    pub const SA_RESTORER: u64 = arm::SA_RESTORER as u64;
    pub const SA_ONSTACK: u64 = arm::SA_ONSTACK as u64;
    pub const SA_RESTART: u64 = arm::SA_RESTART as u64;
    pub const SA_NODEFER: u64 = arm::SA_NODEFER as u64;
    pub const SA_RESETHAND: u64 = arm::SA_RESETHAND as u64;
}

/// Handler values, as the 64-bit `sa_handler` holds them.
pub const SIG_DFL: u64 = crate::abi::arm::signal::SIG_DFL as u64;
pub const SIG_IGN: u64 = crate::abi::arm::signal::SIG_IGN as u64;

/// arm64's `MINSIGSTKSZ` and `SIGSTKSZ` (`uapi/asm/signal.h`): larger than the generic ones
/// because of the 4 KiB `__reserved` area; the real minimum for this CPU is
/// [`signal_minsigstksz`] (`AT_MINSIGSTKSZ`).
pub const MINSIGSTKSZ: u32 = 5120;
pub const SIGSTKSZ: u32 = 16384;

abi_struct! {
    /// The kernel's `sigset_t` on arm64: one 64-bit word, signal N is bit N-1 (the same bytes
    /// as ARM's two 32-bit words, aligned to 8).
    pub struct SigSet = "kernel_sigset_t", size 8, align 8 {
        sig: u64 = 0,
    }
}

abi_struct! {
    /// `struct sigaction` as `rt_sigaction` reads and writes it: handler, flags (a 64-bit
    /// `unsigned long`), restorer, mask.
    pub struct KernelSigaction = "struct kernel_sigaction", size 32, align 8 {
        sa_handler: u64 = 0,
        sa_flags: u64 = 8,
        sa_restorer: u64 = 16,
        sa_mask: SigSet = 24,
    }
}

abi_struct! {
    /// `stack_t` (`sigaltstack`, `uc_stack`).
    pub struct StackT = "stack_t", size 24, align 8 {
        ss_sp: u64 = 0,
        ss_flags: i32 = 8,
        ss_size: u64 = 16,
    }
}

/// Size of `__reserved` in `struct sigcontext`: the record area.
pub const SIGCONTEXT_RESERVED_SIZE: usize = 4096;

/// `__reserved[4096] __attribute__((__aligned__(16)))`: the record area as bytes, aligned as
/// C aligns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserved(pub [u8; SIGCONTEXT_RESERVED_SIZE]);

impl Wire for Reserved {
    const SIZE: usize = SIGCONTEXT_RESERVED_SIZE;
    const ALIGN: usize = 16;
    fn put(&self, out: &mut [u8]) {
        out[..Self::SIZE].copy_from_slice(&self.0);
    }
    fn get(inp: &[u8]) -> Self {
        let mut b = [0u8; SIGCONTEXT_RESERVED_SIZE];
        b.copy_from_slice(&inp[..Self::SIZE]);
        Self(b)
    }
}

abi_struct! {
    /// `struct sigcontext`: the faulting address, x0-x30, sp, pc, pstate, then the records
    /// (16-byte aligned).
    pub struct Sigcontext = "struct sigcontext", size 4384, align 16 {
        fault_address: u64 = 0,
        regs: [u64; 31] = 8,
        sp: u64 = 256,
        pc: u64 = 264,
        pstate: u64 = 272,
        __reserved: Reserved = 288,
    }
}

abi_struct! {
    /// `struct _aarch64_ctx`: every record's header, its magic and its size in bytes.
    pub struct Aarch64Ctx = "struct _aarch64_ctx", size 8, align 4 {
        magic: u32 = 0,
        size: u32 = 4,
    }
}

/// Record magics (`uapi/asm/sigcontext.h`); the `end` record is a header of zeros.
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
pub const ESR_MAGIC: u32 = 0x4553_5201;
pub const EXTRA_MAGIC: u32 = 0x4558_5401;
pub const SVE_MAGIC: u32 = 0x5356_4501;

abi_struct! {
    /// `struct fpsimd_context`: FPSR, FPCR and the 32 128-bit V registers (low half first).
    pub struct FpsimdContext = "struct fpsimd_context", size 528, align 16 {
        head: Aarch64Ctx = 0,
        fpsr: u32 = 8,
        fpcr: u32 = 12,
        vregs: [u64; 64] = 16,
    }
}

abi_struct! {
    /// `struct extra_context`: points at more records beyond the frame (SVE state too large
    /// for `__reserved`); `rt_sigreturn` follows it once.
    pub struct ExtraContext = "struct extra_context", size 32, align 8 {
        head: Aarch64Ctx = 0,
        datap: u64 = 8,
        size: u32 = 16,
        __reserved: [u32; 3] = 20,
    }
}

abi_struct! {
    /// `struct esr_context`: the ESR of the fault that raised the signal (present only then).
    pub struct EsrContext = "struct esr_context", size 16, align 8 {
        head: Aarch64Ctx = 0,
        esr: u64 = 8,
    }
}

abi_struct! {
    /// The kernel's `struct ucontext` on arm64: the mask padded to glibc's 1024 bits, then the
    /// machine context last, 16-byte aligned.
    pub struct Ucontext = "struct ucontext", size 4560, align 16 {
        uc_flags: u64 = 0,
        uc_link: u64 = 8,
        uc_stack: StackT = 16,
        uc_sigmask: SigSet = 40,
        __unused: [u8; 120] = 48,
        uc_mcontext: Sigcontext = 176,
    }
}

/// Size of `siginfo_t` (`SI_MAX_SIZE`).
pub const SIGINFO_SIZE: usize = 128;

/// `siginfo_t` on a 64-bit kernel: three ints, then the union 8-byte aligned at 16
/// (`clock_t` is a `long`).
pub const SIGINFO_LAYOUT: Layout = Layout {
    c_type: "siginfo_t",
    size: SIGINFO_SIZE,
    align: 8,
    fields: &[
        Field { name: "si_signo", offset: 0, size: 4, align: 4 },
        Field { name: "si_errno", offset: 4, size: 4, align: 4 },
        Field { name: "si_code", offset: 8, size: 4, align: 4 },
        Field { name: "si_pid", offset: 16, size: 4, align: 4 },
        Field { name: "si_uid", offset: 20, size: 4, align: 4 },
        Field { name: "si_status", offset: 24, size: 4, align: 4 },
        Field { name: "si_utime", offset: 32, size: 8, align: 8 },
        Field { name: "si_stime", offset: 40, size: 8, align: 8 },
        Field { name: "si_addr", offset: 16, size: 8, align: 8 },
    ],
};

/// `sizeof(struct rt_sigframe)`: `siginfo_t` then the 16-aligned `ucontext`.
pub const RT_SIGFRAME_SIZE: usize = SIGINFO_SIZE + Ucontext::LAYOUT.size;

/// `struct rt_sigframe` (`arch/arm64/kernel/signal.c`).
pub const RT_SIGFRAME_LAYOUT: Layout = Layout {
    c_type: "struct rt_sigframe",
    size: RT_SIGFRAME_SIZE,
    align: 16,
    fields: &[
        Field { name: "info", offset: 0, size: SIGINFO_SIZE, align: 8 },
        Field { name: "uc", offset: SIGINFO_SIZE, size: Ucontext::LAYOUT.size, align: 16 },
    ],
};

/// `struct frame_record`: the {fp, lr} pair `setup_return` pushes above the frame so unwinders
/// see the interrupted code as the handler's caller.
pub const FRAME_RECORD_SIZE: usize = 16;
/// Offset of `__reserved` from the start of the frame: where the first record goes.
pub const RESERVED_OFFSET: usize = SIGINFO_SIZE + 176 + 288;
/// Space `init_user_layout` keeps back for the `end` record and an `extra_context` record,
/// each rounded up to 16 as `sigframe_alloc` pads every record.
const TERMINATOR_SIZE: usize = Aarch64Ctx::LAYOUT.size.next_multiple_of(16);
const EXTRA_CONTEXT_SIZE: usize = ExtraContext::LAYOUT.size.next_multiple_of(16);

/// Where `setup_sigframe_layout` puts the records of one frame (offsets from the frame's
/// start, as `struct rt_sigframe_user_layout` keeps them), for a CPU without SVE or SME, as
/// the Cortex-A53 is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigframeLayout {
    pub fpsimd_offset: usize,
    /// Present when the signal comes from a fault (`thread.fault_code` set) or when the
    /// largest frame is measured.
    pub esr_offset: Option<usize>,
    pub end_offset: usize,
    /// `user->size`: the end of the last record.
    pub size: usize,
}

impl SigframeLayout {
    /// `setup_sigframe_layout(user, add_all)`: FP/SIMD first, the ESR record when `with_esr`,
    /// then the terminator. Fits the 4 KiB area (checked at compile time below).
    pub const fn new(with_esr: bool) -> Self {
        let fpsimd_offset = RESERVED_OFFSET;
        let mut size = fpsimd_offset + FpsimdContext::LAYOUT.size;
        let esr_offset = if with_esr {
            let at = size;
            size += EsrContext::LAYOUT.size;
            Some(at)
        } else {
            None
        };
        let end_offset = size;
        size += TERMINATOR_SIZE;
        Self { fpsimd_offset, esr_offset, end_offset, size }
    }

    /// `sigframe_size()`: the frame is never smaller than `struct rt_sigframe`, rounded to 16.
    pub const fn frame_size(&self) -> usize {
        let s = if self.size > RT_SIGFRAME_SIZE { self.size } else { RT_SIGFRAME_SIZE };
        s.next_multiple_of(16)
    }
}

const _: () = assert!(
    SigframeLayout::new(true).size
        <= RESERVED_OFFSET + SIGCONTEXT_RESERVED_SIZE - EXTRA_CONTEXT_SIZE + TERMINATOR_SIZE
);

/// `signal_minsigstksz` (`minsigstksz_setup`): the largest frame, its frame record, and 16
/// bytes of alignment padding; what the kernel gives user space as `AT_MINSIGSTKSZ`.
pub const fn signal_minsigstksz() -> usize {
    SigframeLayout::new(true).frame_size() + FRAME_RECORD_SIZE.next_multiple_of(16) + 16
}

impl SigSet {
    pub const EMPTY: SigSet = SigSet { sig: 0 };

    /// The set from a 64-bit mask (bit N-1 for signal N), as the task keeps it.
    pub const fn from_bits(mask: u64) -> SigSet {
        SigSet { sig: mask }
    }
    /// The set as a 64-bit mask.
    pub const fn bits(&self) -> u64 {
        self.sig
    }

    fn bit(signo: u32) -> Option<u64> {
        (1..=sig::NSIG).contains(&signo).then(|| 1u64 << (signo - 1))
    }
    pub fn contains(&self, signo: u32) -> bool {
        Self::bit(signo).is_some_and(|b| self.sig & b != 0)
    }
    pub fn add(&mut self, signo: u32) {
        if let Some(b) = Self::bit(signo) {
            self.sig |= b;
        }
    }
    pub fn remove(&mut self, signo: u32) {
        if let Some(b) = Self::bit(signo) {
            self.sig &= !b;
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
            SIG_BLOCK => SigSet { sig: self.sig | set.sig },
            SIG_UNBLOCK => SigSet { sig: self.sig & !set.sig },
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        Ok(r.without_unblockable())
    }
}

/// What a `siginfo_t` carries after its three common members, by the union member the signal
/// uses; 64-bit widths where arm64's are (`clock_t` and pointers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFields {
    /// `_kill`: sender's pid and uid.
    Kill { pid: i32, uid: u32 },
    /// `_sigchld`: the child, its status and CPU times in clock ticks.
    Chld { pid: i32, uid: u32, status: i32, utime: i64, stime: i64 },
    /// `_sigfault`: the faulting address.
    Fault { addr: u64 },
    /// Nothing beyond the common members.
    None,
}

/// `siginfo_t`, 128 bytes, as `copy_siginfo_to_user` writes it on arm64 (the rest zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Siginfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    pub fields: SigFields,
}

/// Offset of the union in a 64-bit `siginfo_t` (8-byte aligned after three ints).
const SIGINFO_UNION: usize = 16;

impl Wire for Siginfo {
    const SIZE: usize = SIGINFO_SIZE;
    const ALIGN: usize = 8;
    fn put(&self, out: &mut [u8]) {
        out[..SIGINFO_SIZE].fill(0);
        (self.si_signo as u32).put(&mut out[0..4]);
        (self.si_errno as u32).put(&mut out[4..8]);
        (self.si_code as u32).put(&mut out[8..12]);
        let u = &mut out[SIGINFO_UNION..];
        match self.fields {
            SigFields::Kill { pid, uid } => {
                (pid as u32).put(&mut u[0..4]);
                uid.put(&mut u[4..8]);
            }
            SigFields::Chld { pid, uid, status, utime, stime } => {
                (pid as u32).put(&mut u[0..4]);
                uid.put(&mut u[4..8]);
                (status as u32).put(&mut u[8..12]);
                (utime as u64).put(&mut u[16..24]);
                (stime as u64).put(&mut u[24..32]);
            }
            SigFields::Fault { addr } => addr.put(&mut u[0..8]),
            SigFields::None => {}
        }
    }
    /// The common members and the union read as `_sigfault`.
    fn get(inp: &[u8]) -> Self {
        Siginfo {
            si_signo: u32::get(&inp[0..4]) as i32,
            si_errno: u32::get(&inp[4..8]) as i32,
            si_code: u32::get(&inp[8..12]) as i32,
            fields: SigFields::Fault { addr: u64::get(&inp[SIGINFO_UNION..SIGINFO_UNION + 8]) },
        }
    }
}

impl Siginfo {
    /// A fault's siginfo (`arm64_force_sig_fault`).
    pub fn fault(signo: u32, code: i32, addr: u64) -> Self {
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

/// PSTATE (SPSR_EL1) bits `setup_return` and `valid_user_regs` use (`uapi/asm/ptrace.h`).
pub mod psr {
    pub const MODE_EL0T: u64 = 0x0000_0000;
    /// M[3:0]: exception level and stack pointer selector.
    pub const MODE_MASK: u64 = 0x0000_000f;
    /// M[4]: an AArch32 context.
    pub const MODE32_BIT: u64 = 0x0000_0010;
    pub const F_BIT: u64 = 0x0000_0040;
    pub const I_BIT: u64 = 0x0000_0080;
    pub const A_BIT: u64 = 0x0000_0100;
    pub const D_BIT: u64 = 0x0000_0200;
    /// PSTATE.SS (`DBG_SPSR_SS`): software step, cleared unless a debugger single-steps.
    pub const SS_BIT: u64 = 0x0020_0000;
    /// PSTATE.TCO: MTE's tag check override, cleared for a handler.
    pub const TCO_BIT: u64 = 0x0200_0000;
    pub const V_BIT: u64 = 0x1000_0000;
    pub const C_BIT: u64 = 0x2000_0000;
    pub const Z_BIT: u64 = 0x4000_0000;
    pub const N_BIT: u64 = 0x8000_0000;
    /// `SPSR_EL1_AARCH64_RES0_BITS` (`kernel/ptrace.c`): bits 63-32, 27-26, 23-22 (UAO, PAN),
    /// 20-13 (IL among them) and 5, which user space may not set.
    pub const RES0_BITS: u64 =
        0xffff_ffff_0000_0000 | (0b11 << 26) | (0b11 << 22) | (0xff << 13) | (1 << 5);
}

/// `struct user_pt_regs`: the user registers a signal saves and restores (x0-x30, sp, pc,
/// pstate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
}

impl UserRegs {
    /// `valid_user_regs()` for a native task (`valid_native_regs`, after
    /// `user_regs_reset_single_step` clears SS for a task not being stepped): the RES0 bits
    /// are cleared; AArch64 EL0t with D, A, I and F clear is valid. Otherwise PSTATE is forced
    /// to EL0t keeping only N, Z, C, V, and the answer is false.
    pub fn valid_user_regs(&mut self) -> bool {
        self.pstate &= !(psr::SS_BIT | psr::RES0_BITS);
        let daif = psr::D_BIT | psr::A_BIT | psr::I_BIT | psr::F_BIT;
        if self.pstate & psr::MODE_MASK == psr::MODE_EL0T
            && self.pstate & psr::MODE32_BIT == 0
            && self.pstate & daif == 0
        {
            return true;
        }
        self.pstate &= psr::N_BIT | psr::Z_BIT | psr::C_BIT | psr::V_BIT;
        false
    }
}

/// `struct user_fpsimd_state`: v0-v31, FPSR, FPCR; what the `fpsimd_context` record holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserFpsimdState {
    pub vregs: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
}

impl UserFpsimdState {
    /// `preserve_fpsimd_context`: the record with its magic and size.
    fn to_context(self) -> FpsimdContext {
        let mut vregs = [0u64; 64];
        for (i, v) in self.vregs.iter().enumerate() {
            vregs[2 * i] = *v as u64;
            vregs[2 * i + 1] = (*v >> 64) as u64;
        }
        let head = Aarch64Ctx { magic: FPSIMD_MAGIC, size: FpsimdContext::LAYOUT.size as u32 };
        FpsimdContext { head, fpsr: self.fpsr, fpcr: self.fpcr, vregs }
    }
    fn from_context(c: &FpsimdContext) -> Self {
        let mut vregs = [0u128; 32];
        for (i, v) in vregs.iter_mut().enumerate() {
            *v = u128::from(c.vregs[2 * i]) | (u128::from(c.vregs[2 * i + 1]) << 64);
        }
        Self { vregs, fpsr: c.fpsr, fpcr: c.fpcr }
    }
}

/// ESR_ELx fields `set_thread_esr` keeps when it hides a kernel address from user space.
pub mod esr {
    pub const EC_SHIFT: u32 = 26;
    pub const EC_MASK: u64 = 0x3f << EC_SHIFT;
    pub const EC_IABT_LOW: u64 = 0x20;
    pub const EC_DABT_LOW: u64 = 0x24;
    /// ESR_ELx.IL: a 32-bit instruction.
    pub const IL: u64 = 1 << 25;
    /// ISS.CM (cache maintenance) and ISS.WnR (write) of a data abort.
    pub const CM: u64 = 1 << 8;
    pub const WNR: u64 = 1 << 6;
    /// `ESR_ELx_FSC_FAULT`: a level-0 translation fault.
    pub const FSC_FAULT: u64 = 0x04;
}

/// The fault recorded in `current->thread` for the signal frame: `fault_address` goes to
/// `uc_mcontext.fault_address`, a non-zero `fault_code` (the ESR) adds an `esr_context`
/// record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadFault {
    pub fault_address: u64,
    pub fault_code: u64,
}

impl ThreadFault {
    /// `set_thread_esr(address, esr)` (`arch/arm64/mm/fault.c`), for a user fault that
    /// becomes a signal: an address at or above `task_size` (not a TTBR0 address) must not
    /// tell user space what the kernel maps there, so its ESR is reported as a level-0
    /// translation fault with only EC, IL (and CM, WnR for a data abort) kept; an ESR of
    /// another class is dropped (no `esr_context` at all).
    pub fn set_thread_esr(address: u64, esr: u64, task_size: u64) -> Self {
        let mut code = esr;
        if address >= task_size {
            code = match (esr & esr::EC_MASK) >> esr::EC_SHIFT {
                esr::EC_DABT_LOW => {
                    (esr & (esr::EC_MASK | esr::IL | esr::CM | esr::WNR)) | esr::FSC_FAULT
                }
                esr::EC_IABT_LOW => (esr & (esr::EC_MASK | esr::IL)) | esr::FSC_FAULT,
                _ => 0,
            };
        }
        ThreadFault { fault_address: address, fault_code: code }
    }
}

impl ThreadFault {
    /// What `__do_user_fault` records for the frame: `fault_address` and the ESR through
    /// [`set_thread_esr`](Self::set_thread_esr) (the trap number is ARM's; arm64 has none).
    pub fn record(addr: usize, _trap_no: u32, raw: u32, task_size: usize) -> Self {
        Self::set_thread_esr(addr as u64, u64::from(raw), task_size as u64)
    }
}

/// The task's alternate signal stack, with arm64's 64-bit addresses (the rules are ARM's).
pub type AltStack = crate::abi::arm::signal::AltStackOf<u64>;

/// Everything `handle_signal` needs besides user memory.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    pub signo: u32,
    pub action: &'a KernelSigaction,
    pub info: &'a Siginfo,
    /// The mask to restore on return (`sigmask_to_save()`).
    pub saved_mask: SigSet,
    pub fault: ThreadFault,
    /// The task's FP/SIMD registers (`fpsimd_signal_preserve_current_state`).
    pub fpsimd: &'a UserFpsimdState,
    /// `VDSO_SYMBOL(mm->context.vdso, sigtramp)`: the vDSO's `__kernel_rt_sigreturn`, where
    /// a handler without `SA_RESTORER` returns to.
    pub sigtramp: u64,
}

/// Why a frame could not be built or read back: the task gets `SIGSEGV`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFrame {
    /// The frame's memory could not be written or read (`EFAULT`).
    Fault,
    /// `rt_sigreturn` with a stack pointer not 16-byte aligned.
    Misaligned,
    /// The saved PSTATE was not an AArch64 EL0t one with DAIF clear (`valid_user_regs`).
    BadRegs,
    /// The record list was malformed (`parse_user_sigframe`: an unknown or repeated record,
    /// a bad size or alignment, no terminator, no FP/SIMD record or a wrong one).
    BadRecords,
}

/// Where `get_sigframe` puts one frame: the frame (`user->sigframe`) and the frame record
/// (`user->next_frame`) above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigframeAt {
    pub frame: u64,
    pub record: u64,
    pub layout: SigframeLayout,
}

/// `get_sigframe()`: the layout for this signal (the ESR record when the thread has a fault
/// code), the stack (the alternate stack's top with `SA_ONSTACK` when not already on it,
/// `sigsp`), the frame record and the frame 16-aligned below it. `None` when the range
/// is not user memory (`access_ok`).
pub fn get_sigframe(
    mem: &impl UserMemory,
    sp: u64,
    act: &KernelSigaction,
    alt: &AltStack,
    fault: &ThreadFault,
) -> Option<SigframeAt> {
    let layout = SigframeLayout::new(fault.fault_code != 0);
    let sp_top = if act.sa_flags & sa::SA_ONSTACK != 0 && alt.ss_flags(sp) == 0 {
        alt.sp.wrapping_add(alt.size)
    } else {
        sp
    };
    let record = sp_top.checked_sub(FRAME_RECORD_SIZE as u64)? & !15;
    let frame = record.checked_sub(layout.frame_size() as u64)?;
    let (at, len) = (usize::try_from(frame).ok()?, usize::try_from(sp_top - frame).ok()?);
    mem.access_ok(at, len).then_some(SigframeAt { frame, record, layout })
}

/// Offsets in the frame of what `setup_sigframe` writes (from the layouts above).
const UC: usize = SIGINFO_SIZE;
const UC_STACK: usize = UC + 16;
const UC_SIGMASK: usize = UC + 40;
const MCONTEXT: usize = UC + 176;

/// `copy_to_user` of `v` at `base + off`.
fn put_at<T: Wire>(mem: &mut impl UserMemory, base: u64, off: usize, v: &T) -> Result<(), Errno> {
    let at = usize::try_from(base).map_err(|_| Errno::EFAULT)? + off;
    put_user(mem, at, v)
}

/// `copy_from_user` of a `T` at `base + off`.
fn get_at<T: Wire>(mem: &mut impl UserMemory, base: u64, off: usize) -> Result<T, BadFrame> {
    let at = usize::try_from(base).map_err(|_| BadFrame::Fault)?;
    get_user(mem, at.checked_add(off).ok_or(BadFrame::Fault)?).map_err(|_| BadFrame::Fault)
}

/// `setup_sigframe()`: the frame record {x29, x30}, the registers, the fault address, the
/// mask, the FP/SIMD record, the ESR record when the thread has a fault code, the `end`
/// record. Only these bytes are written, as Linux writes them (the rest of the frame keeps
/// what the stack held).
fn setup_sigframe(
    mem: &mut impl UserMemory,
    at: &SigframeAt,
    regs: &UserRegs,
    d: &Delivery<'_>,
) -> Result<(), Errno> {
    let f = at.frame;
    put_at(mem, at.record, 0, &[regs.regs[29], regs.regs[30]])?;
    put_at(mem, f, MCONTEXT, &d.fault.fault_address)?;
    put_at(mem, f, MCONTEXT + 8, &regs.regs)?;
    put_at(mem, f, MCONTEXT + 256, &[regs.sp, regs.pc, regs.pstate])?;
    put_at(mem, f, UC_SIGMASK, &d.saved_mask)?;
    put_at(mem, f, at.layout.fpsimd_offset, &d.fpsimd.to_context())?;
    if let Some(off) = at.layout.esr_offset {
        let head = Aarch64Ctx { magic: ESR_MAGIC, size: EsrContext::LAYOUT.size as u32 };
        put_at(mem, f, off, &EsrContext { head, esr: d.fault.fault_code })?;
    }
    put_at(mem, f, at.layout.end_offset, &Aarch64Ctx { magic: 0, size: 0 })
}

/// A built frame: where it went and the registers the handler starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub frame: u64,
    pub regs: UserRegs,
}

/// `setup_rt_frame()` (arm64 has only this one, with or without `SA_SIGINFO`) and
/// `setup_return()`: the frame below the stack (see [`get_sigframe`]), `uc_flags` and
/// `uc_link` zero, `uc_stack` as `__save_altstack` fills it (the alternate stack is disarmed
/// with `SS_AUTODISARM`: `alt` is updated), then the handler's registers: x0 = signal,
/// sp = frame, x29 = the frame record, pc = handler, x30 = `sa_restorer` with
/// `SA_RESTORER`, else the vDSO's sigreturn trampoline; PSTATE.TCO cleared. With `SA_SIGINFO`
/// the siginfo is written and x1 = &info, x2 = &uc. The result is checked by
/// `valid_user_regs` as `handle_signal` does. Any failure means SIGSEGV
/// (`signal_setup_done`).
pub fn setup_rt_frame(
    mem: &mut impl UserMemory,
    regs: &UserRegs,
    alt: &mut AltStack,
    d: &Delivery<'_>,
) -> Result<Delivered, BadFrame> {
    let at = get_sigframe(mem, regs.sp, d.action, alt, &d.fault).ok_or(BadFrame::Fault)?;
    let f = at.frame;
    let stack = StackT { ss_sp: alt.sp, ss_flags: alt.ss_flags(regs.sp) as i32, ss_size: alt.size };
    let written = (|| {
        put_at(mem, f, UC, &[0u64, 0u64])?;
        put_at(mem, f, UC_STACK, &stack)?;
        setup_sigframe(mem, &at, regs, d)?;
        if d.action.sa_flags & sa::SA_SIGINFO != 0 {
            put_at(mem, f, 0, d.info)?;
        }
        Ok::<(), Errno>(())
    })();
    if alt.flags & SS_AUTODISARM != 0 {
        *alt = AltStack { sp: 0, size: 0, flags: SS_DISABLE };
    }
    written.map_err(|_| BadFrame::Fault)?;
    let mut out = *regs;
    out.regs[0] = u64::from(d.signo);
    out.sp = f;
    out.regs[29] = at.record;
    out.pc = d.action.sa_handler;
    out.pstate &= !psr::TCO_BIT;
    out.regs[30] =
        if d.action.sa_flags & sa::SA_RESTORER != 0 { d.action.sa_restorer } else { d.sigtramp };
    if d.action.sa_flags & sa::SA_SIGINFO != 0 {
        out.regs[1] = f;
        out.regs[2] = f + UC as u64;
    }
    if !out.valid_user_regs() {
        return Err(BadFrame::BadRegs);
    }
    Ok(Delivered { frame: f, regs: out })
}

/// `SIGFRAME_MAXSZ`: the largest frame `parse_user_sigframe` follows an `extra_context` into.
pub const SIGFRAME_MAXSZ: u64 = 256 * 1024;

/// `parse_user_sigframe()`: walks the records from `__reserved`, each 16-aligned with a size
/// that fits, to the zero terminator; follows one `extra_context` (its data must start right
/// after the terminator that follows it, 16-aligned, within `SIGFRAME_MAXSZ` of the frame).
/// The ESR record is skipped; SVE and ZA records are refused (the Cortex-A53 has neither), as
/// is any unknown magic. Returns the address of the (only) FP/SIMD record.
fn parse_user_sigframe(mem: &mut impl UserMemory, frame: u64) -> Result<u64, BadFrame> {
    let head_size = Aarch64Ctx::LAYOUT.size as u64;
    let mut base = frame + RESERVED_OFFSET as u64;
    let mut offset = 0u64;
    let mut limit = SIGCONTEXT_RESERVED_SIZE as u64;
    let mut have_extra = false;
    let mut fpsimd = None;
    loop {
        if limit - offset < head_size || !offset.is_multiple_of(16) {
            return Err(BadFrame::BadRecords);
        }
        let head: Aarch64Ctx = get_at(mem, base + offset, 0)?;
        let size = u64::from(head.size);
        if limit - offset < size {
            return Err(BadFrame::BadRecords);
        }
        match head.magic {
            0 if size == 0 => return fpsimd.ok_or(BadFrame::BadRecords),
            FPSIMD_MAGIC if fpsimd.is_none() && size >= FpsimdContext::LAYOUT.size as u64 => {
                fpsimd = Some(base + offset);
            }
            ESR_MAGIC => {}
            EXTRA_MAGIC if !have_extra && size >= ExtraContext::LAYOUT.size as u64 => {
                let extra: ExtraContext = get_at(mem, base + offset, 0)?;
                if limit - offset - size < TERMINATOR_SIZE as u64 {
                    return Err(BadFrame::BadRecords);
                }
                let end_at = base + offset + size;
                let end: Aarch64Ctx = get_at(mem, end_at, 0)?;
                let data = end_at + TERMINATOR_SIZE as u64;
                let extra_size = u64::from(extra.size);
                if end != (Aarch64Ctx { magic: 0, size: 0 })
                    || !extra.datap.is_multiple_of(16)
                    || !extra_size.is_multiple_of(16)
                    || extra.datap != data
                    || extra_size > (frame + SIGFRAME_MAXSZ).saturating_sub(data)
                {
                    return Err(BadFrame::BadRecords);
                }
                let (at, len) = (usize::try_from(data), usize::try_from(extra_size));
                if !matches!((at, len), (Ok(a), Ok(l)) if mem.access_ok(a, l)) {
                    return Err(BadFrame::BadRecords);
                }
                have_extra = true;
                base = data;
                offset = 0;
                limit = extra_size;
                continue;
            }
            _ => return Err(BadFrame::BadRecords),
        }
        if size < head_size {
            return Err(BadFrame::BadRecords);
        }
        offset += size;
    }
}

/// What `rt_sigreturn` restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    pub regs: UserRegs,
    /// The new blocked mask (SIGKILL and SIGSTOP removed).
    pub blocked: SigSet,
    pub fpsimd: UserFpsimdState,
    /// `uc_stack` (`restore_altstack`, whose own errors 6.1 ignores).
    pub altstack: Option<StackT>,
}

/// The FP/SIMD state a frame saves and gives back.
pub type SigFpState = UserFpsimdState;

impl Restored {
    /// The FP/SIMD state the frame gave back.
    pub fn fp(&self) -> &SigFpState {
        &self.fpsimd
    }
}

/// `sys_rt_sigreturn()` and `restore_sigframe()`: the frame at `sp` (16-aligned, wholly in
/// user space) gives back the mask, x0-x30, sp, pc and PSTATE (which must pass
/// `valid_user_regs`), the record list (parsed and checked) and the FP/SIMD record (magic and
/// exact size), and `uc_stack`.
pub fn rt_sigreturn(mem: &mut impl UserMemory, sp: u64) -> Result<Restored, BadFrame> {
    if sp & 15 != 0 {
        return Err(BadFrame::Misaligned);
    }
    let at = usize::try_from(sp).map_err(|_| BadFrame::Fault)?;
    if !mem.access_ok(at, RT_SIGFRAME_SIZE) {
        return Err(BadFrame::Fault);
    }
    let blocked = get_at::<SigSet>(mem, sp, UC_SIGMASK)?.without_unblockable();
    let mut regs = UserRegs { regs: get_at(mem, sp, MCONTEXT + 8)?, ..Default::default() };
    [regs.sp, regs.pc, regs.pstate] = get_at(mem, sp, MCONTEXT + 256)?;
    if !regs.valid_user_regs() {
        return Err(BadFrame::BadRegs);
    }
    let fp_at = parse_user_sigframe(mem, sp)?;
    let ctx: FpsimdContext = get_at(mem, fp_at, 0)?;
    if ctx.head.magic != FPSIMD_MAGIC || ctx.head.size as usize != FpsimdContext::LAYOUT.size {
        return Err(BadFrame::BadRecords);
    }
    let fpsimd = UserFpsimdState::from_context(&ctx);
    let altstack = Some(get_at(mem, sp, UC_STACK)?);
    Ok(Restored { regs, blocked, fpsimd, altstack })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_records_as_setup_sigframe_layout_places_them() {
        // The record area starts at 128 (siginfo) + 176 (uc_mcontext) + 288 (__reserved).
        assert_eq!(RESERVED_OFFSET, 592);
        assert_eq!(Ucontext::LAYOUT.field("uc_mcontext").unwrap().offset + 128 + 288, 592);
        let plain = SigframeLayout::new(false);
        assert_eq!((plain.fpsimd_offset, plain.esr_offset, plain.end_offset), (592, None, 1120));
        let fault = SigframeLayout::new(true);
        // The end record is 8 bytes, allocated as 16 (sigframe_alloc pads to 16).
        assert_eq!((fault.esr_offset, fault.end_offset, fault.size), (Some(1120), 1136, 1152));
        // Both fit inside struct rt_sigframe (4688 bytes), which sets the frame size.
        assert_eq!(RT_SIGFRAME_SIZE, 4688);
        assert_eq!(fault.frame_size(), 4688);
    }

    #[test]
    fn minsigstksz_is_the_largest_frame_with_its_record() {
        // 4688 + 16 + 16: what arm64 Linux 6.1 reports as AT_MINSIGSTKSZ on a CPU without SVE.
        assert_eq!(signal_minsigstksz(), 4720);
        assert!(signal_minsigstksz() <= MINSIGSTKSZ as usize);
    }

    use crate::abi::uaccess::SparseUserMemory;

    /// A 48-bit user space with 64 KiB of stack below its top.
    const TASK_SIZE: u64 = 1 << 48;
    const STACK_TOP: u64 = 0xffff_f000_0000;

    fn setup() -> (SparseUserMemory, UserRegs, UserFpsimdState) {
        let mut m = SparseUserMemory::new(TASK_SIZE as usize);
        m.map((STACK_TOP - 0x10000) as usize, 0x10000, true);
        let mut regs = UserRegs { sp: STACK_TOP - 0x108, pc: 0x40_1234, ..Default::default() };
        for (i, r) in regs.regs.iter_mut().enumerate() {
            *r = 0x1000 + i as u64;
        }
        regs.pstate = psr::N_BIT | psr::C_BIT;
        let mut fp = UserFpsimdState { fpsr: 0x0800_0010, fpcr: 0x0300_0000, ..Default::default() };
        for (i, v) in fp.vregs.iter_mut().enumerate() {
            *v = (u128::from(i as u32 + 1) << 64) | (0xa0 + i as u128);
        }
        (m, regs, fp)
    }

    fn action(flags: u64) -> KernelSigaction {
        KernelSigaction {
            sa_handler: 0x40_2000,
            sa_flags: flags,
            sa_restorer: 0x40_3000,
            sa_mask: SigSet::EMPTY,
        }
    }

    /// A signal without a fault, returning through a trampoline at 0x1000.
    fn plain<'a>(
        signo: u32,
        action: &'a KernelSigaction,
        info: &'a Siginfo,
        fpsimd: &'a UserFpsimdState,
    ) -> Delivery<'a> {
        let saved_mask = SigSet::EMPTY;
        let fault = ThreadFault::default();
        Delivery { signo, action, info, saved_mask, fault, fpsimd, sigtramp: 0x1000 }
    }

    fn le64(m: &SparseUserMemory, at: u64) -> u64 {
        u64::from_le_bytes(m.peek(at as usize, 8).try_into().unwrap())
    }
    fn le32(m: &SparseUserMemory, at: u64) -> u32 {
        u32::from_le_bytes(m.peek(at as usize, 4).try_into().unwrap())
    }

    /// The offset of `field` of the frame through the golden-checked layouts.
    fn frame_off(path: &[&str]) -> u64 {
        let mut off = RT_SIGFRAME_LAYOUT.field(path[0]).unwrap().offset;
        let mut layout = Ucontext::LAYOUT;
        for name in &path[1..] {
            off += layout.field(name).unwrap().offset;
            if *name == "uc_mcontext" {
                layout = Sigcontext::LAYOUT;
            }
        }
        off as u64
    }

    #[test]
    fn the_frame_offsets_used_are_the_layouts() {
        assert_eq!(frame_off(&["uc"]), UC as u64);
        assert_eq!(frame_off(&["uc", "uc_stack"]), UC_STACK as u64);
        assert_eq!(frame_off(&["uc", "uc_sigmask"]), UC_SIGMASK as u64);
        assert_eq!(frame_off(&["uc", "uc_mcontext"]), MCONTEXT as u64);
        assert_eq!(frame_off(&["uc", "uc_mcontext", "regs"]), MCONTEXT as u64 + 8);
        assert_eq!(frame_off(&["uc", "uc_mcontext", "sp"]), MCONTEXT as u64 + 256);
        assert_eq!(frame_off(&["uc", "uc_mcontext", "__reserved"]), RESERVED_OFFSET as u64);
    }

    #[test]
    fn rt_frame_bytes_registers_and_round_trip() {
        let (mut m, regs, fp) = setup();
        let act = action(sa::SA_SIGINFO);
        let info = Siginfo::fault(sig::SIGSEGV, si_code::SEGV_MAPERR, 0xdead_0000);
        let mut mask = SigSet::EMPTY;
        mask.add(sig::SIGUSR1);
        mask.add(64);
        // A level-3 translation fault on a write, from EL0.
        let esr_v = (esr::EC_DABT_LOW << esr::EC_SHIFT) | esr::IL | esr::WNR | 0x07;
        let fault = ThreadFault::set_thread_esr(0xdead_0000, esr_v, TASK_SIZE);
        assert_eq!(fault, ThreadFault { fault_address: 0xdead_0000, fault_code: esr_v });
        let d = Delivery {
            signo: sig::SIGSEGV,
            action: &act,
            info: &info,
            saved_mask: mask,
            fault,
            fpsimd: &fp,
            sigtramp: 0xffff_f7ff_f7a0,
        };
        let mut alt = AltStack::default();
        let got = setup_rt_frame(&mut m, &regs, &mut alt, &d).unwrap();
        let f = got.frame;
        // get_sigframe: the record 16-aligned below sp, the 4688-byte frame below it.
        let record = (regs.sp - 16) & !15;
        assert_eq!(f, record - 4688);
        assert_eq!(f % 16, 0);
        assert_eq!((le64(&m, record), le64(&m, record + 8)), (0x1000 + 29, 0x1000 + 30));
        // The handler's registers.
        let r = got.regs;
        assert_eq!((r.regs[0], r.regs[1], r.regs[2]), (11, f, f + 128));
        assert_eq!((r.sp, r.pc, r.regs[29], r.regs[30]), (f, 0x40_2000, record, d.sigtramp));
        assert_eq!(r.regs[3..29], regs.regs[3..29]);
        assert_eq!(r.pstate, regs.pstate);
        // siginfo: signo, errno, code, then si_addr at the union (16).
        let si_addr = SIGINFO_LAYOUT.field("si_addr").unwrap().offset as u64;
        assert_eq!((le32(&m, f), le32(&m, f + 4), le32(&m, f + 8)), (11, 0, 1));
        assert_eq!(le64(&m, f + si_addr), 0xdead_0000);
        // ucontext: flags, link, the stack (disabled), the mask.
        assert_eq!((le64(&m, f + frame_off(&["uc", "uc_flags"])), le64(&m, f + 136)), (0, 0));
        let ss_flags = frame_off(&["uc", "uc_stack"]) + 8;
        assert_eq!(le32(&m, f + ss_flags), SS_DISABLE);
        assert_eq!(le64(&m, f + frame_off(&["uc", "uc_sigmask"])), (1 << 9) | (1 << 63));
        // sigcontext: fault address, x0..x30, sp, pc, pstate.
        let mc = |name| f + frame_off(&["uc", "uc_mcontext", name]);
        assert_eq!(le64(&m, mc("fault_address")), 0xdead_0000);
        assert_eq!(le64(&m, mc("regs")), 0x1000);
        assert_eq!(le64(&m, mc("regs") + 30 * 8), 0x1000 + 30);
        assert_eq!(le64(&m, mc("sp")), regs.sp);
        assert_eq!(le64(&m, mc("pc")), 0x40_1234);
        assert_eq!(le64(&m, mc("pstate")), regs.pstate);
        // The records: fpsimd_context, esr_context, the zero end record.
        let rec = mc("__reserved");
        assert_eq!((le32(&m, rec), le32(&m, rec + 4)), (FPSIMD_MAGIC, 528));
        let fpsr = FpsimdContext::LAYOUT.field("fpsr").unwrap().offset as u64;
        assert_eq!((le32(&m, rec + fpsr), le32(&m, rec + fpsr + 4)), (0x0800_0010, 0x0300_0000));
        let v0 = rec + FpsimdContext::LAYOUT.field("vregs").unwrap().offset as u64;
        assert_eq!((le64(&m, v0), le64(&m, v0 + 8)), (0xa0, 1));
        assert_eq!((le64(&m, v0 + 31 * 16), le64(&m, v0 + 31 * 16 + 8)), (0xa0 + 31, 32));
        let esr_at = rec + 528;
        assert_eq!((le32(&m, esr_at), le32(&m, esr_at + 4)), (ESR_MAGIC, 16));
        assert_eq!(le64(&m, esr_at + 8), esr_v);
        assert_eq!(le64(&m, esr_at + 16), 0, "end record");
        // rt_sigreturn at the handler's sp gives everything back.
        let back = rt_sigreturn(&mut m, f).unwrap();
        assert_eq!(back.regs, regs);
        assert_eq!(back.blocked, mask);
        assert_eq!(back.fpsimd, fp);
        assert_eq!(back.altstack.map(|s| s.ss_flags as u32), Some(SS_DISABLE));
    }

    #[test]
    fn tampered_frames_are_refused() {
        let (mut m, regs, fp) = setup();
        let act = action(sa::SA_SIGINFO);
        let info = Siginfo::kill(sig::SIGUSR1, 7, 0);
        let d = plain(sig::SIGUSR1, &act, &info, &fp);
        let f = setup_rt_frame(&mut m, &regs, &mut AltStack::default(), &d).unwrap().frame;
        let rec = f + RESERVED_OFFSET as u64;
        // No fault code: no ESR record, the end record follows the FP/SIMD one.
        assert_eq!((le32(&m, rec + 528), le32(&m, rec + 532)), (0, 0));
        let pstate_at = (f + MCONTEXT as u64 + 272) as usize;
        let good = m.peek(f as usize, RT_SIGFRAME_SIZE);
        let tamper = |at: u64, bytes: &[u8]| {
            let mut m = m.clone();
            m.poke(at as usize, bytes);
            rt_sigreturn(&mut m, f)
        };
        assert!(rt_sigreturn(&mut m.clone(), f).is_ok());
        assert_eq!(rt_sigreturn(&mut m.clone(), f + 8), Err(BadFrame::Misaligned));
        assert_eq!(rt_sigreturn(&mut m.clone(), 0x1000), Err(BadFrame::Fault));
        assert_eq!(rt_sigreturn(&mut m.clone(), TASK_SIZE - 0x10), Err(BadFrame::Fault));
        // PSTATE: EL1h, an AArch32 mode, IRQs masked: refused.
        for bad in [0x5u64, 0x10, psr::I_BIT, psr::D_BIT] {
            assert_eq!(tamper(pstate_at as u64, &bad.to_le_bytes()), Err(BadFrame::BadRegs));
        }
        // SS, IL, PAN and the high word are sanitised away, the frame still restores.
        let noisy = psr::Z_BIT | psr::SS_BIT | (1 << 20) | (1 << 22) | (1 << 40);
        assert_eq!(tamper(pstate_at as u64, &noisy.to_le_bytes()).unwrap().regs.pstate, psr::Z_BIT);
        // Records: bad FP/SIMD magic, a size too large, a misaligned size, an unknown magic,
        // an SVE record (no SVE here), a non-zero end size, no end record at all.
        assert_eq!(tamper(rec, &0x1234u32.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 4, &4097u32.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 4, &520u32.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 4, &536u32.to_le_bytes()), Err(BadFrame::BadRecords));
        // 544: a record list parse accepts (zeros follow), but not restore_fpsimd_context's
        // exact size.
        assert_eq!(tamper(rec + 4, &544u32.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 528, &0x7777u32.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 528, &SVE_MAGIC.to_le_bytes()), Err(BadFrame::BadRecords));
        assert_eq!(tamper(rec + 532, &16u32.to_le_bytes()), Err(BadFrame::BadRecords));
        // A second FP/SIMD record where the end was, and an ESR record only: no end / no FP.
        let mut m2 = m.clone();
        m2.poke(rec as usize + 528, &m.peek(rec as usize, 528));
        assert_eq!(rt_sigreturn(&mut m2, f), Err(BadFrame::BadRecords));
        let esr_only = [ESR_MAGIC.to_le_bytes(), 16u32.to_le_bytes()].concat();
        let mut m3 = m.clone();
        m3.poke(rec as usize, &esr_only);
        m3.poke(rec as usize + 16, &[0; 8]);
        assert_eq!(rt_sigreturn(&mut m3, f), Err(BadFrame::BadRecords), "no FP/SIMD record");
        // Records filling __reserved with no terminator.
        let mut m4 = m.clone();
        for off in (0..SIGCONTEXT_RESERVED_SIZE).step_by(16).skip(33) {
            m4.poke(rec as usize + off, &esr_only);
        }
        assert_eq!(rt_sigreturn(&mut m4, f), Err(BadFrame::BadRecords), "no end record");
        // An ESR record between FP/SIMD and the end is skipped; the frame is untouched.
        let mut m5 = m.clone();
        m5.poke(rec as usize + 528, &esr_only);
        m5.poke(rec as usize + 544, &[0; 8]);
        assert!(rt_sigreturn(&mut m5, f).is_ok());
        assert_eq!(m.peek(f as usize, RT_SIGFRAME_SIZE), good);
    }

    #[test]
    fn an_extra_context_is_followed_once() {
        let (mut m, regs, fp) = setup();
        let act = action(0);
        let info = Siginfo::kill(sig::SIGUSR2, 1, 0);
        let d = plain(sig::SIGUSR2, &act, &info, &fp);
        let f = setup_rt_frame(&mut m, &regs, &mut AltStack::default(), &d).unwrap().frame;
        let rec = f + RESERVED_OFFSET as u64;
        // extra_context at 528 (32 bytes), its terminator at 560, data at 576: the end record.
        let extra = |datap: u64, size: u32| {
            let mut e = ExtraContext::zeroed();
            e.head = Aarch64Ctx { magic: EXTRA_MAGIC, size: 32 };
            (e.datap, e.size) = (datap, size);
            e.to_bytes()
        };
        let data = rec + 576;
        let mut ok = m.clone();
        ok.poke(rec as usize + 528, &extra(data, 16));
        ok.poke(rec as usize + 560, &[0; 16]);
        ok.poke(data as usize, &[0; 16]);
        assert!(rt_sigreturn(&mut ok, f).is_ok());
        // The data must start right after the terminator, 16-aligned, sized in 16s.
        for (datap, size) in [(data + 16, 16), (data, 8), (data + 8, 16)] {
            let mut bad = ok.clone();
            bad.poke(rec as usize + 528, &extra(datap, size));
            assert_eq!(rt_sigreturn(&mut bad, f), Err(BadFrame::BadRecords));
        }
        // A second extra_context in the extra data is refused.
        let mut twice = ok.clone();
        twice.poke(data as usize, &extra(data + 48, 16));
        assert_eq!(rt_sigreturn(&mut twice, f), Err(BadFrame::BadRecords));
    }

    #[test]
    fn restorer_alternate_stack_and_unwritable_stacks() {
        let (mut m, regs, fp) = setup();
        let act = action(sa::SA_RESTORER | sa::SA_ONSTACK);
        let info = Siginfo::kill(sig::SIGUSR1, 1, 0);
        let d = plain(sig::SIGUSR1, &act, &info, &fp);
        let alt_base = STACK_TOP - 0x10000;
        let mut alt = AltStack { sp: alt_base, size: 0x8000, flags: SS_AUTODISARM };
        let got = setup_rt_frame(&mut m, &regs, &mut alt, &d).unwrap();
        let top = alt_base + 0x8000;
        assert_eq!(got.frame, top - 16 - 4688, "on the alternate stack");
        assert_eq!(got.regs.regs[30], 0x40_3000, "SA_RESTORER");
        // Without SA_SIGINFO x1 and x2 keep their values and siginfo is not written.
        assert_eq!((got.regs.regs[1], got.regs.regs[2]), (0x1001, 0x1002));
        assert_eq!(m.peek(got.frame as usize, 16), [0; 16]);
        // uc_stack saved the stack before SS_AUTODISARM disabled it.
        let ss = got.frame + UC_STACK as u64;
        assert_eq!((le64(&m, ss), le32(&m, ss + 8), le64(&m, ss + 16)), (alt_base, 0, 0x8000));
        assert_eq!(alt, AltStack { sp: 0, size: 0, flags: SS_DISABLE });
        // Already on the alternate stack: the frame goes below the current sp.
        let alt = AltStack { sp: alt_base, size: 0x8000, flags: 0 };
        let on = get_sigframe(&m, alt_base + 0x7000, &act, &alt, &ThreadFault::default());
        assert_eq!(on.unwrap().frame, alt_base + 0x7000 - 16 - 4688);
        // A stack that cannot hold the frame, one below address 0, one past TASK_SIZE.
        for sp in [alt_base + 100, 0x100, TASK_SIZE + 0x10000] {
            let low = UserRegs { sp, ..regs };
            let r = setup_rt_frame(&mut m, &low, &mut AltStack::default(), &d);
            assert_eq!(r, Err(BadFrame::Fault), "sp {sp:#x}");
        }
    }

    #[test]
    fn valid_user_regs_and_set_thread_esr() {
        let mut r = UserRegs { pstate: psr::N_BIT | psr::V_BIT, ..Default::default() };
        assert!(r.valid_user_regs());
        let mut r = UserRegs { pstate: 0x3c5 | psr::C_BIT, ..Default::default() };
        assert!(!r.valid_user_regs());
        assert_eq!(r.pstate, psr::C_BIT, "forced to EL0t keeping NZCV");
        // A kernel address: the data abort's ESR keeps EC, IL, CM, WnR, reads as level 0.
        let esr_v = (esr::EC_DABT_LOW << esr::EC_SHIFT) | esr::IL | (1 << 24) | esr::WNR | 0x0f;
        let t = ThreadFault::set_thread_esr(0xffff_0000_0000_0000, esr_v, TASK_SIZE);
        let kept = (esr::EC_DABT_LOW << esr::EC_SHIFT) | esr::IL | esr::WNR | esr::FSC_FAULT;
        assert_eq!(t.fault_code, kept);
        let ia = (esr::EC_IABT_LOW << esr::EC_SHIFT) | esr::IL | 0x0f;
        let t = ThreadFault::set_thread_esr(TASK_SIZE, ia, TASK_SIZE);
        assert_eq!(t.fault_code, (esr::EC_IABT_LOW << esr::EC_SHIFT) | esr::IL | esr::FSC_FAULT);
        assert_eq!(ThreadFault::set_thread_esr(TASK_SIZE, 0x15 << 26, TASK_SIZE).fault_code, 0);
        // A user address keeps the whole ESR.
        assert_eq!(ThreadFault::set_thread_esr(0x1000, esr_v, TASK_SIZE).fault_code, esr_v);
    }

    #[test]
    fn siginfo_and_masks_at_64_bit_offsets() {
        let chld = Siginfo {
            si_signo: sig::SIGCHLD as i32,
            si_errno: 0,
            si_code: si_code::CLD_EXITED,
            fields: SigFields::Chld { pid: 42, uid: 0, status: 3, utime: 5, stime: 1 << 33 },
        };
        let b = chld.to_bytes();
        let at = |n: &str| SIGINFO_LAYOUT.field(n).unwrap().offset;
        assert_eq!(b[at("si_pid")], 42);
        assert_eq!(b[at("si_status")], 3);
        assert_eq!(b[at("si_utime")], 5);
        assert_eq!(b[at("si_stime") + 4], 2);
        let mut s = SigSet::EMPTY;
        s.add(sig::SIGKILL);
        s.add(64);
        assert_eq!(s.sig, (1 << 8) | (1 << 63));
        let b = SigSet::EMPTY.apply(SIG_BLOCK, s).unwrap();
        assert!(!b.contains(sig::SIGKILL) && b.contains(64));
        assert_eq!(b.apply(SIG_UNBLOCK, s).unwrap(), SigSet::EMPTY);
        assert_eq!(b.apply(3, s), Err(Errno::EINVAL));
    }
}
