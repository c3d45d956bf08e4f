//! What a process needs from the ARMv7 CPU: the saved kernel context and `cpu_switch_to`
//! (arch/arm/kernel/entry-armv.S: r4-r11, sp and pc of the task that gives up the CPU), the
//! first return of a new task to user space (`ret_from_fork`), `cpu_v7_switch_mm` (CONTEXTIDR
//! then TTBR0), TPIDRURO for `set_tls`, a process's first-level table (`pgd_alloc`: 16 KiB,
//! order 2, the kernel's entries copied from `swapper_pg_dir`; `free_pgd_range` + `pgd_free`),
//! its PTEs (the Linux/hardware pair with L_PTE_USER, RDONLY, XN, DIRTY, YOUNG; nG), TLB
//! maintenance by ASID, and the hook `ret_to_user` calls before it leaves the kernel
//! (`do_work_pending`: rescheduling and fatal signals).
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;

use super::desc::{L1_ENTRIES, SECTION_SHIFT, SMALL_PAGE_SHIFT};
use super::fault::UserException;
use super::fsr::decode_abort;
use super::mmu::{self, MapError, TTB_FLAGS_SMP};
use super::pgtable::{
    self, LinuxPte, PageTable, L_PTE_DIRTY, L_PTE_PRESENT, L_PTE_RDONLY, L_PTE_USER, L_PTE_XN,
    L_PTE_YOUNG, PTE_TABLE_PAGE,
};
use super::vectors::PtRegs;
use crate::abi::arm::signal::{si_code, sig};
use crate::config::PAGE_OFFSET;
use crate::mm::memory::UserTrap;

/// `struct cpu_context_save`: the callee-saved registers, sp and the resume address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    pub r4_r11: [u32; 8],
    pub sp: u32,
    pub pc: u32,
}

/// A task's VFP/Advanced SIMD registers (`struct vfp_hard_struct`: d0-d31, FPSCR), saved
/// and restored on every switch (pivm switches eagerly; Linux lazily).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default)]
pub struct VfpState {
    pub d: [u64; 32],
    pub fpscr: u32,
    _pad: u32,
}

impl VfpState {
    /// The registers as a signal frame's `vfp_sigframe` holds them (`vfp_preserve_user_clear_hwstate`;
    /// the frame code adds the magic and size).
    pub fn to_sigframe(&self) -> crate::abi::arm::signal::VfpSigframe {
        let mut f = crate::abi::arm::signal::VfpSigframe::zeroed();
        f.ufp.fpregs = self.d;
        f.ufp.fpscr = self.fpscr;
        f
    }
    /// The registers a checked `vfp_sigframe` gives back (`vfp_restore_user_hwstate`).
    pub fn from_sigframe(f: &crate::abi::arm::signal::VfpSigframe) -> VfpState {
        VfpState { d: f.ufp.fpregs, fpscr: f.ufp.fpscr, _pad: 0 }
    }
}

/// `vfp_init`: user space may use the VFP (CPACR cp10/cp11 full access, FPEXC.EN).
pub fn vfp_enable() {
    let _ = super::cp15::read_mvfr();
    // SAFETY: FPEXC.EN only enables the VFP unit, whose registers the kernel never uses.
    unsafe { vfp_enable_fpexc() };
}

/// Saves the VFP registers of the task giving the CPU up.
pub fn vfp_save(s: &mut VfpState) {
    // SAFETY: writes 33 doublewords into `s`, which has that size.
    unsafe { vfp_save_state(s) };
}

/// Loads the VFP registers of the task about to run.
pub fn vfp_restore(s: &VfpState) {
    // SAFETY: reads 33 doublewords from `s`.
    unsafe { vfp_restore_state(s) };
}

/// `TASK_SIZE`: PAGE_OFFSET - 16 MiB (the modules area lies between).
pub const TASK_SIZE: usize = (PAGE_OFFSET - 0x0100_0000) as usize;
/// `PGD_ORDER`: a first-level table is 16 KiB.
pub const PGD_ORDER: u32 = 2;
/// `USER_PTRS_PER_PGD` in hardware (1 MiB) entries: the user half `pgd_alloc` clears.
const USER_L1_ENTRIES: usize = TASK_SIZE >> SECTION_SHIFT;
// pgd_init clears and copies the two halves 32 bytes at a time.
const _: () = assert!((USER_L1_ENTRIES * 4).is_multiple_of(32));

global_asm!(
    r#"
    .syntax unified
    .arm
    .text
    @ cpu_switch_to(prev, next): r0 = &prev context, r1 = &next context.
    .global cpu_switch_to
cpu_switch_to:
    stmia   r0, {{r4 - r11, sp, lr}}
    ldmia   r1, {{r4 - r11, sp, pc}}

    @ vfp_save_state(buf) / vfp_restore_state(buf): d0-d31 then FPSCR (33 doublewords).
    .fpu    neon-vfpv4
    .global vfp_save_state, vfp_restore_state, vfp_enable_fpexc
vfp_save_state:
    vstmia  r0!, {{d0 - d15}}
    vstmia  r0!, {{d16 - d31}}
    vmrs    r1, fpscr
    str     r1, [r0]
    bx      lr
vfp_restore_state:
    vldmia  r0!, {{d0 - d15}}
    vldmia  r0!, {{d16 - d31}}
    ldr     r1, [r0]
    vmsr    fpscr, r1
    bx      lr
vfp_enable_fpexc:
    vmrs    r0, fpexc
    orr     r0, r0, #(1 << 30)
    vmsr    fpexc, r0
    bx      lr

    @ A new task's first run: its context's sp points at the pt_regs at the top of its
    @ kernel stack. A kernel thread's context holds its function in r5 and the argument in
    @ r4 (copy_thread): call it (it never returns); a user task leaves through ret_to_user.
    .global ret_from_fork
ret_from_fork:
    cmp     r5, #0
    movne   r0, r4
    blxne   r5
    b       ret_to_user
"#
);

extern "C" {
    fn vfp_save_state(buf: *mut VfpState);
    fn vfp_restore_state(buf: *const VfpState);
    fn vfp_enable_fpexc();
    fn cpu_switch_to(prev: *mut CpuContext, next: *const CpuContext);
    fn ret_from_fork();
    /// The lowest address a kernel frame may use (entry_armv's overflow check). A word in
    /// the asm's `.data`; an atomic so Rust writes it through a shared reference.
    static kernel_stack_limit: core::sync::atomic::AtomicU32;
}

/// `THREAD_SIZE`: 8 KiB kernel stacks (`THREAD_SIZE_ORDER` 1) from the buddy allocator, in
/// the linear map (no `CONFIG_VMAP_STACK`: entry-armv's overflow check compares sp with the
/// task's `kernel_stack_limit` instead).
pub const THREAD_SIZE: usize = 8192;
/// Their alignment: a page block of `THREAD_SIZE` is aligned to its size.
pub const THREAD_ALIGN: usize = THREAD_SIZE;
/// `IS_ENABLED(CONFIG_VMAP_STACK)`.
pub const VMAP_STACK: bool = false;

/// The address a new task's context resumes at.
pub fn ret_from_fork_addr() -> u32 {
    ret_from_fork as *const () as u32
}

/// `copy_thread` for a kernel thread: its first switch runs `entry(arg)` on its own kernel
/// stack from `sp` (through `ret_from_fork`, which sees r5 set).
pub fn kernel_thread_context(
    ctx: &mut CpuContext,
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    sp: usize,
) {
    *ctx = CpuContext::default();
    ctx.r4_r11[0] = arg as u32;
    ctx.r4_r11[1] = entry as usize as u32;
    ctx.sp = sp as u32;
    ctx.pc = ret_from_fork_addr();
}

/// Saves the running context in `prev` and resumes `next`; returns when something switches
/// back to `prev`. `next_stack_limit` is the lowest address of `next`'s kernel stack.
///
/// # Safety
/// Interrupts are masked; `prev` and `next` stay valid and unaliased until the switch back;
/// `next` was saved by this function or built for `ret_from_fork` with a user `pt_regs` at
/// its sp.
pub unsafe fn switch_to(prev: *mut CpuContext, next: *const CpuContext, next_stack_limit: usize) {
    // SAFETY: the entry code reads the limit only on exceptions, which are masked here.
    unsafe {
        kernel_stack_limit.store(next_stack_limit as u32, core::sync::atomic::Ordering::Relaxed)
    };
    // SAFETY: the caller's contract; r4-r11, sp and lr are saved and restored by the asm, every
    // other register is caller-saved across this call.
    unsafe { cpu_switch_to(prev, next) };
}

/// The boot SVC stack's limit (the console's task).
pub fn boot_stack_limit() -> usize {
    extern "C" {
        static __svc_stack: u8;
    }
    core::ptr::addr_of!(__svc_stack) as usize
}

/// The register accessors the shared process code uses (Linux's `asm/ptrace.h` and
/// `asm/syscall.h` names), so that it never indexes ARM's `uregs[]` itself.
impl PtRegs {
    /// `pt_regs` index of `orig_r0`.
    const ORIG_R0: usize = 17;
    /// `PSR_T_BIT`: the task runs Thumb code.
    const PSR_T_BIT: u32 = 1 << 5;

    /// `syscall_get_nr`: r7 (EABI).
    pub fn syscall_get_nr(&self) -> usize {
        self.uregs[7] as usize
    }

    /// `syscall_get_arguments`: r0-r5 as `vector_swi` saved them.
    pub fn syscall_get_arguments(&self) -> [usize; 6] {
        core::array::from_fn(|i| self.uregs[i] as usize)
    }

    /// `syscall_set_return_value` / `regs_set_return_value`: r0.
    pub fn set_return_value(&mut self, v: usize) {
        self.uregs[0] = v as u32;
    }

    /// `regs_return_value`: r0.
    pub fn return_value(&self) -> usize {
        self.uregs[0] as usize
    }

    /// `instruction_pointer`.
    pub fn instruction_pointer(&self) -> usize {
        self.pc() as usize
    }

    /// `instruction_pointer_set`.
    pub fn instruction_pointer_set(&mut self, pc: usize) {
        self.set_pc(pc as u32);
    }

    /// `user_stack_pointer`: the banked USR sp.
    pub fn user_stack_pointer(&self) -> usize {
        self.uregs[Self::SP] as usize
    }

    /// `user_stack_pointer_set`.
    pub fn user_stack_pointer_set(&mut self, sp: usize) {
        self.uregs[Self::SP] = sp as u32;
    }

    /// The user registers a signal frame saves (`struct pt_regs` without `ORIG_r0`).
    pub fn user_regs(&self) -> crate::abi::arm::signal::UserRegs {
        let mut r = [0u32; 13];
        r.copy_from_slice(&self.uregs[..13]);
        crate::abi::arm::signal::UserRegs {
            r,
            sp: self.uregs[Self::SP],
            lr: self.uregs[Self::LR],
            pc: self.uregs[Self::PC],
            cpsr: self.uregs[Self::CPSR],
        }
    }

    /// Writes the registers of a built or restored frame back.
    pub fn set_user_regs(&mut self, u: &crate::abi::arm::signal::UserRegs) {
        self.uregs[..13].copy_from_slice(&u.r);
        self.uregs[Self::SP] = u.sp;
        self.uregs[Self::LR] = u.lr;
        self.uregs[Self::PC] = u.pc;
        self.uregs[Self::CPSR] = u.cpsr;
    }

    /// The system call runs again on the return (arch/arm/kernel/signal.c `do_signal`): r0
    /// restored, pc back over the `svc` (4 bytes, 2 in Thumb).
    pub fn restart_syscall(&mut self) {
        self.uregs[0] = self.uregs[Self::ORIG_R0];
        let back = if self.cpsr() & Self::PSR_T_BIT != 0 { 2 } else { 4 };
        self.set_pc(self.pc().wrapping_sub(back));
    }
}

/// What the shared fault code makes of a user-mode exception: aborts through
/// [`decode_abort`](super::fsr::decode_abort) (a prefetch abort is an instruction fetch), an
/// undefined instruction `SIGILL`/`ILL_ILLOPC` at pc with `trap_no` 6. ARM needs no
/// `TASK_SIZE` here: the fault path finds no VMA above it.
pub fn decode_user_exception(e: UserException, regs: &PtRegs, _task_size: usize) -> UserTrap {
    match e {
        UserException::DataAbort { addr, fsr } => decode_abort(addr as usize, fsr, false),
        UserException::PrefetchAbort { addr, fsr } => decode_abort(addr as usize, fsr, true),
        UserException::Undefined => UserTrap::Signal {
            addr: regs.instruction_pointer(),
            signo: sig::SIGILL,
            code: si_code::ILL_ILLOPC,
            trap_no: TRAP_UNDEFINED,
            raw: 0,
        },
    }
}

/// `trap_no` of an undefined instruction in the signal frame.
const TRAP_UNDEFINED: u32 = 6;

/// A `pt_regs` for a fresh user task: USR mode, ARM state, interrupts on.
pub fn start_thread(regs: &mut PtRegs, pc: usize, sp: usize) {
    let (pc, sp) = (pc as u32, sp as u32);
    regs.uregs = [0; 18];
    regs.uregs[PtRegs::PC] = pc & !1;
    regs.uregs[PtRegs::SP] = sp;
    // USR_MODE, and Thumb when the entry point's low bit says so.
    regs.uregs[PtRegs::CPSR] = super::irq::USR_MODE | if pc & 1 != 0 { 1 << 5 } else { 0 };
}

/// `cpu_v7_switch_mm`: the address space `pgd` with context id `context_id` (ASID in its low
/// 8 bits), flushing the TLB first when the ASID generation rolled over.
pub fn switch_mm(pgd: u64, context_id: u64, flush: bool) {
    let asid = (context_id & super::asid::ASID_MASK) as u32;
    // SAFETY: CONTEXTIDR and TTBR0 writes change only translation; the kernel half of every
    // pgd is swapper's, so the code running now stays mapped. The ISBs order the writes as
    // cpu_v7_switch_mm does.
    unsafe {
        if flush {
            asm!("mcr p15, 0, {z}, c8, c7, 0", "dsb", "isb", z = in(reg) 0u32, options(nostack));
        }
        asm!(
            "mcr p15, 0, {asid}, c13, c0, 1",
            "isb",
            "mcr p15, 0, {ttb}, c2, c0, 0",
            "isb",
            asid = in(reg) asid,
            ttb = in(reg) pgd as u32 | TTB_FLAGS_SMP,
            options(nostack)
        );
    }
}

/// Back to the kernel's own table (`swapper_pg_dir`, ASID 0) for a kernel task.
pub fn switch_to_kernel_mm() {
    switch_mm(mmu::swapper_pg_dir_phys(), 0, false);
}

/// `set_tls`: TPIDRURO, the user-readable thread register (`__kuser_get_tls` reads it).
pub fn set_tls(value: usize) {
    // SAFETY: TPIDRURO is a plain register user space may read.
    unsafe {
        asm!("mcr p15, 0, {v}, c13, c0, 3", v = in(reg) value as u32, options(nostack, nomem))
    };
}

/// The thread register as it is now. User space cannot write TPIDRURO, so this is what the
/// last `set_tls` wrote (arm64's TPIDR_EL0 it can).
pub fn get_tls() -> usize {
    let v: u32;
    // SAFETY: reads a plain register.
    unsafe { asm!("mrc p15, 0, {v}, c13, c0, 3", v = out(reg) v, options(nostack, nomem)) };
    v as usize
}

/// `flush_tlb_page`: one user page of the address space with context id `context_id`.
pub fn flush_tlb_page(va: usize, context_id: u64) {
    let mva = (va as u32 & !0xfff) | (context_id & super::asid::ASID_MASK) as u32;
    // SAFETY: TLBIMVA only drops a cached translation.
    unsafe {
        asm!("dsb ishst", "mcr p15, 0, {m}, c8, c7, 1", "dsb", "isb", m = in(reg) mva, options(nostack))
    };
}

/// `flush_tlb_mm`: every entry of one ASID.
pub fn flush_tlb_mm(context_id: u64) {
    let asid = (context_id & super::asid::ASID_MASK) as u32;
    // SAFETY: TLBIASID only drops cached translations.
    unsafe {
        asm!("dsb ishst", "mcr p15, 0, {a}, c8, c7, 2", "dsb", "isb", a = in(reg) asid, options(nostack))
    };
}

/// `__sync_icache_dcache` for a page about to be mapped executable: its data cleaned to the
/// point of unification (through the linear map at `kva`) and the instruction cache
/// invalidated.
pub fn sync_icache_dcache(kva: usize) {
    clean_dcache_page(kva);
    flush_icache_all();
}

/// The data cache of the page at kernel address `kva` cleaned to the point of unification
/// (`__cpuc_flush_dcache_area` of `__flush_dcache_page`); the caller invalidates the
/// instruction cache after (a window of pages at once).
pub fn clean_dcache_page(kva: usize) {
    super::cp15::clean_dcache_range(kva as u32, 4096);
}

/// `__flush_icache_all`: the instruction cache invalidated (what mapping a page executable
/// needs when its data is clean already, `PG_dcache_clean`).
pub fn flush_icache_all() {
    // SAFETY: ICIALLU only discards instruction-cache lines.
    unsafe { asm!("mcr p15, 0, {z}, c7, c5, 0", "dsb", "isb", z = in(reg) 0u32, options(nostack)) };
}

/// Protections of a user PTE, arch-neutral in and Linux PTE bits out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPteProt {
    pub write: bool,
    pub exec: bool,
    pub dirty: bool,
}

/// The Linux PTE bits of a user page (`PAGE_*` of `vm_get_page_prot` plus dirty): present,
/// young, user, write-back cacheable, shareable.
pub fn user_pte_bits(p: UserPteProt) -> u32 {
    let base =
        pgtable::pgprot(crate::mm::pgprot::PageProt::USER | crate::mm::pgprot::PageProt::READ);
    let mut pte = (base & !(L_PTE_RDONLY | L_PTE_XN)) | L_PTE_PRESENT | L_PTE_YOUNG | L_PTE_USER;
    if !p.write {
        pte |= L_PTE_RDONLY;
    }
    if !p.exec {
        pte |= L_PTE_XN;
    }
    if p.dirty {
        pte |= L_PTE_DIRTY;
    }
    pte
}

/// `pgd_alloc`: clears the user entries of the 16 KiB table at physical `pgd` (reached at
/// kernel address `kva`) and copies the kernel's from `swapper_pg_dir`. The table is not
/// cleaned to memory after: the walks are cacheable (`TTB_FLAGS_SMP`, as every PTE write
/// relies on), so `pgd_alloc`'s `clean_dcache_area` is `cpu_v7_dcache_clean_area`, a no-op
/// on an SMP kernel ("MP extensions imply L1 PTW").
///
/// # Safety
/// `kva` maps the table's 16 KiB, which nothing else uses yet.
pub unsafe fn pgd_init(kva: *mut u32) {
    let swapper = mmu::phys_to_virt(mmu::swapper_pg_dir_phys()).unwrap_or(0) as *const u32;
    let user = USER_L1_ENTRIES * 4;
    // SAFETY: both tables have L1_ENTRIES words at these addresses (the caller's and
    // swapper's, mapped in lowmem); both halves are multiples of 32 bytes (below).
    unsafe {
        super::page::clear_bytes32(kva as *mut u8, user);
        super::page::copy_bytes32(
            kva.add(USER_L1_ENTRIES) as *mut u8,
            swapper.add(USER_L1_ENTRIES) as *const u8,
            L1_ENTRIES * 4 - user,
        );
    }
}

/// `do_translation_fault` for a kernel address: copies the first-level entry covering `addr`
/// from `swapper_pg_dir` into the live table when the live one lacks it (vmalloc and ioremap
/// tables created after the process's pgd was copied). Whether it fixed anything.
pub fn sync_kernel_entry(addr: u32) -> bool {
    let live = mmu::pgd_phys();
    let swapper = mmu::swapper_pg_dir_phys();
    if live == swapper || (addr as usize) < TASK_SIZE {
        return false;
    }
    let idx = (addr >> SECTION_SHIFT) as u64 & !1;
    let (Some(src), Some(dst)) =
        (mmu::phys_to_virt(swapper + idx * 4), mmu::phys_to_virt(live + idx * 4))
    else {
        return false;
    };
    let (src, dst) = (src as *const u32, dst as *mut u32);
    // SAFETY: two words of two first-level tables in lowmem; the pair is copied together.
    unsafe {
        let (a, b) = (src.read_volatile(), src.add(1).read_volatile());
        if a == 0 && b == 0 || dst.read_volatile() == a {
            return false;
        }
        dst.write_volatile(a);
        dst.add(1).write_volatile(b);
    }
    super::cp15::dsb();
    super::cp15::isb();
    true
}

/// A process's table at physical `pgd`.
pub fn user_table(pgd: u64) -> PageTable {
    PageTable { pgd }
}

/// Installs a user PTE, creating its table page with `alloc` (physical address of a zeroed
/// page); the present entry it replaced, if any. The caller flushes a replaced entry.
pub fn set_user_pte(
    pgd: u64,
    va: usize,
    pa: u64,
    prot: UserPteProt,
    alloc: mmu::PteAlloc<'_>,
) -> Result<Option<LinuxPte>, MapError> {
    let old = mmu::replace_page_pte(user_table(pgd), va as u32, pa, user_pte_bits(prot), alloc)?;
    Ok(Some(LinuxPte(old)).filter(|p| p.present()))
}

/// Maps `pfns[i]` at `va + i` pages with `prot` into each empty slot of the table at `pgd`
/// (`filemap_map_pages`: a present page or a swap entry stays), creating the table with
/// `alloc` before the first write; `pfns[i]` becomes None where nothing was mapped. One table
/// lookup per first-level entry the run covers (one for a fault-around window). How many
/// pages were mapped; on `Err` the run's pages from the failing entry on are not mapped.
pub fn set_user_ptes_none(
    pgd: u64,
    va: usize,
    pfns: &mut [Option<u64>],
    prot: UserPteProt,
    alloc: mmu::PteAlloc<'_>,
) -> Result<usize, MapError> {
    const RUN: usize = 32;
    let bits = user_pte_bits(prot);
    let mut mapped = 0;
    let mut first = 0;
    while first < pfns.len() {
        let start = va + (first << SMALL_PAGE_SHIFT);
        // Up to the end of `start`'s first-level entry, at most RUN pages.
        let to_section =
            ((1usize << SECTION_SHIFT) - (start & ((1 << SECTION_SHIFT) - 1))) >> SMALL_PAGE_SHIFT;
        let n = (pfns.len() - first).min(to_section).min(RUN);
        let run = &mut pfns[first..first + n];
        let mut buf = core::mem::MaybeUninit::uninit();
        let ptes = zeroed_ptes::<RUN>(&mut buf);
        for (p, pfn) in ptes.iter_mut().zip(run.iter()) {
            *p = pfn.map_or(0, |f| pgtable::pfn_pte(f << SMALL_PAGE_SHIFT, bits));
        }
        mapped += mmu::map_empty_ptes(user_table(pgd), start as u32, &mut ptes[..n], &mut *alloc)?;
        for (pfn, p) in run.iter_mut().zip(ptes.iter()) {
            if *p == 0 {
                *pfn = None;
            }
        }
        first += n;
    }
    Ok(mapped)
}

/// The Linux PTE at `va`, if present.
pub fn get_user_pte(pgd: u64, va: usize) -> Option<LinuxPte> {
    mmu::lookup_page(user_table(pgd), va as u32).filter(|p| p.present())
}

/// The swap entry in `va`'s PTE, if it holds one (`is_swap_pte`).
pub fn get_user_swp_entry(pgd: u64, va: usize) -> Option<crate::mm::swapops::SwpEntry> {
    mmu::lookup_page(user_table(pgd), va as u32)?.swp_entry()
}

/// Writes swap entry `e` into `va`'s PTE (`set_pte_at` of `swp_entry_to_pte`), creating the
/// table with `alloc` if needed; the hardware entry becomes 0. The caller flushes a replaced
/// present entry.
pub fn set_user_swp_pte(
    pgd: u64,
    va: usize,
    e: crate::mm::swapops::SwpEntry,
    alloc: mmu::PteAlloc<'_>,
) -> Result<(), MapError> {
    let pte = super::pgtable::swp_entry_to_pte(e);
    const LOW: u32 = (1 << 12) - 1;
    mmu::map_page_pte(user_table(pgd), va as u32, u64::from(pte & !LOW), pte & LOW, alloc)
}

/// Calls `f` for every swap PTE in `[start, end)` of the table at `pgd` (the walk of
/// [`for_each_user_pte`], the entries it skips).
pub fn for_each_user_swp_pte(
    pgd: u64,
    start: usize,
    end: usize,
    mut f: impl FnMut(usize, crate::mm::swapops::SwpEntry),
) {
    walk_user_ptes::<SMALL_BATCH>(pgd, start, end, mmu::read_page_range, |va, p| {
        if let Some(e) = p.swp_entry() {
            f(va, e);
        }
    });
}

/// `ptep_test_and_clear_young` + `flush_tlb_page` for the PTE at `va` if it maps the frame
/// `pfn`: whether it was young (None when `va` does not map `pfn`). An old PTE has no
/// hardware entry (`set_pte_ext` writes 0 without `L_PTE_YOUNG`), so the next access faults
/// and the fault path makes it young again: how 32-bit ARM ages pages without a hardware
/// access flag.
pub fn ptep_test_and_clear_young(pgd: u64, va: usize, pfn: u64, context_id: u64) -> Option<bool> {
    let pte = get_user_pte(pgd, va).filter(|p| p.pfn_phys() >> 12 == pfn)?;
    if !pte.young() {
        return Some(false);
    }
    mmu::update_page(user_table(pgd), va as u32, |p| p.mkold());
    flush_tlb_page(va, context_id);
    Some(true)
}

/// Clears the PTE at `va` (the caller flushes); the old one if there was one.
pub fn clear_user_pte(pgd: u64, va: usize) -> Option<LinuxPte> {
    mmu::unmap_page(user_table(pgd), va as u32)
}

/// `free_pgtables` at exit: detaches the table pages under the VMAs `spans` (start, end),
/// sorted by start, handing them to `free` a batch at a time. Only the 2 MiB slots a span
/// touches are read, as Linux's `free_pgtables` walks the VMAs rather than the whole first
/// level: no table lies outside them, since every `munmap` and `brk` shrink frees the tables
/// no remaining VMA shares (`free_user_pgd_range`). A slot two neighbouring VMAs share is
/// visited once. The mm's TLB entries (ASID `context_id`) are flushed once before each batch
/// goes to `free`, as the full-mm `mmu_gather` flushes before `tlb_finish_mmu` frees the
/// tables, instead of the whole TLB at each table.
pub fn free_user_tables(
    pgd: u64,
    spans: &[(usize, usize)],
    context_id: u64,
    free: &mut dyn FnMut(&[u32]),
) {
    let Some(va) = mmu::phys_to_virt(pgd) else { return };
    // SAFETY: the first USER_L1_ENTRIES words of a live 16 KiB table in lowmem, which only
    // this exiting mm uses (the caller switched away from it).
    let l1 = unsafe { core::slice::from_raw_parts(va as *const u32, USER_L1_ENTRIES) };
    const SLOTS: usize = USER_L1_ENTRIES / 2;
    let shift = pgtable::PGDIR_SIZE.trailing_zeros();
    let mut next = 0;
    let mut pages = [0u32; FREE_TABLES_BATCH];
    let mut n = 0;
    let mut release = |pages: &[u32]| {
        if !pages.is_empty() {
            flush_tlb_mm(context_id);
            free(pages);
        }
    };
    for &(start, end) in spans {
        let first = (start >> shift).max(next);
        let last = ((end.max(start + 1) - 1) >> shift).min(SLOTS - 1);
        for slot in first..=last {
            // The slot's first hardware word: its pair shares the one table page.
            let at = slot * 2;
            if l1[at] & PMD_TYPE_MASK != PMD_TYPE_TABLE {
                continue;
            }
            if let Some(page) = mmu::detach_pte_table(user_table(pgd), (at << SECTION_SHIFT) as u32)
            {
                pages[n] = page;
                n += 1;
                if n == FREE_TABLES_BATCH {
                    release(&pages[..n]);
                    n = 0;
                }
            }
        }
        next = next.max(last + 1);
    }
    release(&pages[..n]);
}

/// Table pages [`free_user_tables`] frees per TLB flush and per call of its `free`.
const FREE_TABLES_BATCH: usize = 16;

/// `free_pgd_range` after a `munmap` of `[addr, end)`: frees the PTE tables of the range
/// that no VMA left (below `floor`, from `ceiling` on) shares, handing each page to `free`.
pub fn free_user_pgd_range(
    pgd: u64,
    addr: usize,
    end: usize,
    floor: usize,
    ceiling: Option<usize>,
    free: &mut dyn FnMut(u32),
) {
    let Some((mut va, stop)) = pgtable::free_pgd_span(addr, end, floor, ceiling) else { return };
    let stop = stop.min(TASK_SIZE);
    while va < stop {
        if user_pmd_present(pgd, va) {
            mmu::free_pte_table(user_table(pgd), va as u32, free);
        }
        va += pgtable::PGDIR_SIZE;
    }
}

/// The PTE tables of the user half of the table at `pgd` (`mm_pgtables_bytes` counts 2 KiB,
/// one Linux table, for each).
pub fn user_table_count(pgd: u64) -> usize {
    let Some(va) = mmu::phys_to_virt(pgd) else { return 0 };
    let l1 = va as *const u32;
    (0..USER_L1_ENTRIES)
        .step_by(2)
        // SAFETY: the first USER_L1_ENTRIES words of a live 16 KiB table in lowmem.
        .filter(|&i| unsafe { l1.add(i).read_volatile() } & 0b11 == 0b01)
        .count()
}

/// Bytes of a PTE table page (two Linux and two hardware tables).
pub const PTE_PAGE_BYTES: u64 = PTE_TABLE_PAGE;

/// What the reports read of one present user PTE (the Linux half).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPte {
    pub pfn: u64,
    pub young: bool,
    pub dirty: bool,
    /// Writable (`L_PTE_RDONLY` clear).
    pub write: bool,
}

/// A first-level descriptor's type bits, and the page-table type (`PMD_TYPE_TABLE`).
const PMD_TYPE_MASK: u32 = 0b11;
const PMD_TYPE_TABLE: u32 = super::desc::TableFlags::TYPE_TABLE.bits();
/// Bytes of a small page.
const PAGE_BYTES: usize = 4096;

/// Whether the first-level entry covering `va` points at a page table.
fn user_pmd_present(pgd: u64, va: usize) -> bool {
    let Some(l1) = mmu::phys_to_virt(pgd) else { return false };
    let i = (va >> SECTION_SHIFT).min(L1_ENTRIES - 1);
    // SAFETY: word `i` of a live 16 KiB first-level table in lowmem (a process's pgd).
    let d = unsafe { (l1 as *const u32).add(i).read_volatile() };
    d & PMD_TYPE_MASK == PMD_TYPE_TABLE
}

/// `pmd_addr_end` with `pmd_none`: the end of the first-level entry covering `va` (capped at
/// `end`), and whether that entry points at a page table. Teardown skips a range without
/// one at once instead of looking at each of its pages.
pub fn user_pmd_span(pgd: u64, va: usize, end: usize) -> (usize, bool) {
    const SECTION: usize = 1 << SECTION_SHIFT;
    let next = (va & !(SECTION - 1)).saturating_add(SECTION).min(end);
    (next, va < TASK_SIZE && user_pmd_present(pgd, va))
}

/// `zap_pte_range` for a process: clears every user PTE in `[start, end)` and calls `f` with
/// each address and old PTE afterwards (outside the table lock: `f` frees pages). A range
/// without a table costs one first-level read per MiB; one with a table one lookup per 64
/// pages and a load per page. The caller flushes the TLB.
pub fn zap_user_ptes(pgd: u64, start: usize, end: usize, f: impl FnMut(usize, LinuxPte)) {
    if end.saturating_sub(start) <= SMALL_BATCH * PAGE_BYTES {
        zap_user_ptes_by::<SMALL_BATCH>(pgd, start, end, f)
    } else {
        zap_user_ptes_by::<LARGE_BATCH>(pgd, start, end, f)
    }
}

/// PTEs handled per table lock: a small range (a one-page VMA) does not pay for zeroing a
/// large buffer, a large one takes the lock and looks the table up once per quarter table.
const SMALL_BATCH: usize = 16;
const LARGE_BATCH: usize = 64;

fn zap_user_ptes_by<const BATCH: usize>(
    pgd: u64,
    start: usize,
    end: usize,
    f: impl FnMut(usize, LinuxPte),
) {
    walk_user_ptes::<BATCH>(pgd, start, end, mmu::clear_page_range, f);
}

/// `buf` zeroed 32 bytes a store, as a PTE buffer: `[0u32; N]` is `memclr`'s loop, five
/// instructions a word, and fork, exit and `munmap` clear a buffer per VMA with a table
/// (about 320 instructions for 64 PTEs).
#[inline(always)]
fn zeroed_ptes<const N: usize>(buf: &mut core::mem::MaybeUninit<[u32; N]>) -> &mut [u32; N] {
    const { assert!((N * 4).is_multiple_of(32)) };
    // SAFETY: `buf` is word aligned and `4 * N` bytes long, a multiple of 32; every byte is
    // written (zero) before the array is handed out.
    unsafe {
        super::page::clear_bytes32(buf.as_mut_ptr().cast(), N * 4);
        buf.assume_init_mut()
    }
}

/// Walks the user PTEs of `[start, end)` in the table at `pgd`, skipping first-level entries
/// without a table, `BATCH` entries per table lock: `batch` reads (or reads and clears) the
/// raw Linux PTEs of a run, and `f` gets each non-empty one with its address (a run `batch`
/// found empty is not scanned again).
fn walk_user_ptes<const BATCH: usize>(
    pgd: u64,
    start: usize,
    end: usize,
    batch: fn(PageTable, u32, u32, &mut [u32]) -> bool,
    mut f: impl FnMut(usize, LinuxPte),
) {
    let mut va = start & !(PAGE_BYTES - 1);
    let end = end.min(TASK_SIZE);
    while va < end {
        let (next, table) = user_pmd_span(pgd, va, end);
        if !table {
            va = next;
            continue;
        }
        // A range longer than one batch is first scanned whole (one lookup, no buffer): an
        // untouched mapping beside a live table (its neighbour's) is skipped on that scan.
        if next - va > BATCH * PAGE_BYTES
            && mmu::page_range_none(user_table(pgd), va as u32, next as u32)
        {
            va = next;
            continue;
        }
        // Zeroed only where there is a table to read: a range without one (an untouched
        // mapping, or one whose tables `munmap` freed) costs no clearing of the buffer.
        let mut buf = core::mem::MaybeUninit::uninit();
        let ptes = zeroed_ptes::<BATCH>(&mut buf);
        while va < next {
            let stop = next.min(va + BATCH * PAGE_BYTES);
            let n = (stop - va).div_ceil(PAGE_BYTES);
            if batch(user_table(pgd), va as u32, stop as u32, &mut ptes[..n]) {
                for (i, &p) in ptes[..n].iter().enumerate() {
                    if p != 0 {
                        f(va + i * PAGE_BYTES, LinuxPte(p));
                    }
                }
            }
            va = stop;
        }
    }
}

/// Calls `f` for every non-empty user PTE (present or swap) in `[start, end)` of the table at
/// `pgd`, one walk for both kinds.
pub fn for_each_user_entry(pgd: u64, start: usize, end: usize, f: impl FnMut(usize, LinuxPte)) {
    if end.saturating_sub(start) <= SMALL_BATCH * PAGE_BYTES {
        walk_user_ptes::<SMALL_BATCH>(pgd, start, end, mmu::read_page_range, f)
    } else {
        walk_user_ptes::<LARGE_BATCH>(pgd, start, end, mmu::read_page_range, f)
    }
}

/// Calls `f` for every present user PTE in `[start, end)` of the table at `pgd`, skipping
/// first-level entries without a table (a huge untouched mapping costs one read per MiB).
pub fn for_each_user_pte(pgd: u64, start: usize, end: usize, f: impl FnMut(usize, UserPte)) {
    if end.saturating_sub(start) <= SMALL_BATCH * PAGE_BYTES {
        for_each_user_pte_by::<SMALL_BATCH>(pgd, start, end, f)
    } else {
        for_each_user_pte_by::<LARGE_BATCH>(pgd, start, end, f)
    }
}

fn for_each_user_pte_by<const BATCH: usize>(
    pgd: u64,
    start: usize,
    end: usize,
    mut f: impl FnMut(usize, UserPte),
) {
    walk_user_ptes::<BATCH>(pgd, start, end, mmu::read_page_range, |va, p| {
        if p.present() {
            f(
                va,
                UserPte {
                    pfn: p.pfn_phys() >> 12,
                    young: p.young(),
                    dirty: p.dirty(),
                    write: p.0 & L_PTE_RDONLY == 0,
                },
            );
        }
    });
}

/// What `mm_pgtables_bytes` adds for one table [`user_table_pages`] counts: a PTE table of
/// 512 four-byte Linux PTEs (`PTRS_PER_PTE * sizeof(pte_t)`; the hardware half of the page is
/// not counted).
pub const PGTABLE_BYTES: usize = 512 * 4;

/// PTE table pages of the user half of the table at `pgd` (one per pair of first-level
/// entries, 2 MiB): what `mm_pgtables_bytes` counts.
pub fn user_table_pages(pgd: u64) -> usize {
    (0..USER_L1_ENTRIES / 2).filter(|&i| user_pmd_present(pgd, i << (SECTION_SHIFT + 1))).count()
}

/// `__do_user_fault`'s report under `user_debug`: `show_pte` of the process's table, then
/// ARM reports an unhandled user fault only under `user_debug=` (`__do_user_fault`); arm64's
/// `arm64_show_signal` also reports by default.
pub const SHOWS_UNHANDLED_SIGNALS: bool = false;

/// `show_regs` of the user-mode frame (`__show_regs` shows `DACR_UACCESS_ENABLE` for it: the
/// live DACR with the user domain a client).
#[allow(clippy::too_many_arguments)]
pub fn show_user_fault(
    w: &mut impl core::fmt::Write,
    pgd: Option<u64>,
    addr: usize,
    sig: u32,
    fsr: u32,
    regs: &PtRegs,
    who: (u32, &str),
    _vma: Option<(&str, usize, usize)>,
) -> core::fmt::Result {
    use super::cp15::{Dacr, Sctlr, Ttbr0};
    use tock_registers::interfaces::Readable;
    const DOMAIN_CLIENT: u32 = 0b01;
    let addr = addr as u32;
    writeln!(w, "8<--- cut here ---")?;
    writeln!(w, "{}: unhandled page fault ({}) at 0x{:08x}, code 0x{:03x}", who.1, sig, addr, fsr)?;
    if let Some(pgd) = pgd {
        super::pgtable::write_show_pte(w, pgd, addr, mmu::read_phys_word)?;
    }
    writeln!(w, "CPU: 0 PID: {} Comm: {} Not tainted {}", who.0, who.1, crate::VERSION)?;
    writeln!(w, "Hardware name: BCM2835")?;
    writeln!(w, "PC is at 0x{:x}", regs.pc())?;
    writeln!(w, "LR is at 0x{:x}", regs.uregs[PtRegs::LR])?;
    let user_client = DOMAIN_CLIENT << (2 * super::desc::DOMAIN_USER as u32);
    let dacr = (Dacr.get() & !mmu::DACR_USER_MASK) | user_client;
    writeln!(w, "{}", super::vectors::ShowRegs { regs, dacr })?;
    writeln!(w, "Control: {:08x}  Table: {:08x}  DAC: {:08x}", Sctlr.get(), Ttbr0.get(), dacr)
}

/// What `ret_to_user` runs before leaving the kernel (rescheduling, fatal signals), with
/// interrupts masked; registered by the process code.
pub type WorkHandler = fn(&mut PtRegs);
static WORK: Once<WorkHandler> = Once::new();

/// Registers the `do_work_pending` handler (once).
pub fn set_work_handler(f: WorkHandler) {
    WORK.call_once(|| f);
}

/// `ret_to_user` calls `do_work_pending` only while this word is nonzero (Linux's test of the
/// thread flags against `_TIF_WORK_MASK`): the process code sets it whenever there may be
/// work on the way out and clears it, with interrupts masked, once `do_work_pending` found
/// none.
#[export_name = "user_work_hint"]
static USER_WORK_HINT: AtomicU32 = AtomicU32::new(1);

/// There may be work for `do_work_pending` before the next return to user space.
#[inline(always)]
pub fn set_user_work_hint() {
    USER_WORK_HINT.store(1, Ordering::Relaxed);
}

/// `do_work_pending` found no work; interrupts masked (nothing can set the hint meanwhile).
pub fn clear_user_work_hint() {
    USER_WORK_HINT.store(0, Ordering::Relaxed);
}

/// `do_work_pending`, from `ret_to_user` with the user `pt_regs` at sp.
#[no_mangle]
extern "C" fn do_work_pending(regs: *mut PtRegs) {
    if let Some(f) = WORK.get() {
        // SAFETY: ret_to_user passes the frame at the top of this task's kernel stack.
        f(unsafe { &mut *regs });
    }
}

/// Bytes of the stack [`call_on_render_stack`] runs on.
pub const RENDER_STACK_SIZE: usize = 24 * 1024;

/// A stack for work that needs more than a task's 8 KiB kernel stack (the `/proc` renderers
/// build multi-KiB snapshots of the allocators), as Linux gives interrupts their own stacks.
#[repr(C, align(8))]
struct RenderStack(core::cell::UnsafeCell<[u8; RENDER_STACK_SIZE]>);

// SAFETY: only its address is taken; RENDER_STACK_BUSY gives it to one caller at a time.
unsafe impl Sync for RenderStack {}

static RENDER_STACK: RenderStack = RenderStack(core::cell::UnsafeCell::new([0; RENDER_STACK_SIZE]));
static RENDER_STACK_BUSY: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Runs `f` on the render stack (on the current stack if it is already in use, by a caller
/// further up). Interrupts must be masked (as in every system call), so nothing else runs
/// on it meanwhile; the entry code's overflow check is moved to it for the duration.
pub fn call_on_render_stack(f: &mut dyn FnMut()) {
    if RENDER_STACK_BUSY.swap(true, Ordering::Acquire) {
        f();
        return;
    }
    extern "C" fn trampoline(f: *mut &mut dyn FnMut()) {
        // SAFETY: the pointer below, to a live `&mut dyn FnMut` on the caller's stack.
        unsafe { (*f)() }
    }
    let base = RENDER_STACK.0.get() as u32;
    let top = base + RENDER_STACK_SIZE as u32;
    // SAFETY: exceptions are masked (the caller's contract), so only this code reads it.
    let limit = unsafe { kernel_stack_limit.swap(base, Ordering::Relaxed) };
    let mut f = f;
    let arg: *mut &mut dyn FnMut() = &mut f;
    // SAFETY: the new stack is unused (the busy flag), 8-byte aligned, and large enough for
    // the renderers; r4 (callee-saved, so kept by the AAPCS function called) holds the old sp
    // across the call, and every caller-saved core register is declared clobbered (the
    // kernel is built soft-float: no VFP register holds a value across the call).
    unsafe {
        core::arch::asm!(
            "mov r4, sp",
            "mov sp, {top}",
            "blx {tramp}",
            "mov sp, r4",
            top = in(reg) top,
            tramp = in(reg) trampoline as *const () as usize,
            inout("r0") arg => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r12") _,
            out("lr") _,
        );
        kernel_stack_limit.store(limit, Ordering::Relaxed);
    }
    RENDER_STACK_BUSY.store(false, Ordering::Release);
}
