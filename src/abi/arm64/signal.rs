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
use crate::abi::wire::{Field, Layout, Wire};
use crate::abi_struct;

pub use crate::abi::arm::signal::{sa, si_code, sig};
pub use crate::abi::arm::signal::{SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK};
pub use crate::abi::arm::signal::{SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};

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
/// Space `init_user_layout` keeps back for the `end` record and an `extra_context` record.
const TERMINATOR_SIZE: usize = Aarch64Ctx::LAYOUT.size;
const EXTRA_CONTEXT_SIZE: usize = 32;

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

/// `get_sigframe()`: from the stack pointer (or the alternate stack's top), the frame record
/// goes 16-aligned below it and the frame 16-aligned below that. Returns (frame, record).
pub const fn sigframe_addresses(sp: u64, layout: &SigframeLayout) -> (u64, u64) {
    let record = (sp - FRAME_RECORD_SIZE as u64) & !15;
    let frame = (record & !15) - layout.frame_size() as u64;
    (frame, record)
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
        assert_eq!((fault.esr_offset, fault.end_offset, fault.size), (Some(1120), 1136, 1144));
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

    #[test]
    fn the_frame_sits_16_aligned_below_its_record() {
        let l = SigframeLayout::new(false);
        let (frame, record) = sigframe_addresses(0x7fff_ffff_f008, &l);
        assert_eq!(record, 0x7fff_ffff_eff0);
        assert_eq!(frame, 0x7fff_ffff_eff0 - 4688);
        assert_eq!(frame % 16, 0);
    }
}
