//! Exception entry as Linux 6.1's arch/arm/kernel/entry-armv.S does it. The stubs page
//! (0xffff1000) holds one `vector_stub` per exception: in the exception's own mode it saves
//! r0, the return address and the interrupted PSR in a 4-word per-mode stack, then switches to
//! SVC mode and branches, through a table indexed by the interrupted mode, to `__<exc>_svc`
//! (interrupted the kernel), `__<exc>_usr` (interrupted user space) or `__<exc>_invalid`
//! (any other mode: a bug). The `_svc` paths save a `pt_regs` (plus the interrupted DACR,
//! Linux's `svc_pt_regs`) on the SVC stack, the current kernel stack, after checking that it
//! fits there: a frame below `kernel_stack_limit` means the stack overflowed, and
//! `__bad_stack` moves to the per-CPU overflow stack to report it (Linux's separate overflow
//! check of `VMAP_STACK`). The `_usr` paths save the user registers the same way and leave
//! through `ret_to_user`; `vector_swi` does the same for system calls from user space.
use super::desc::DOMAIN_USER;
use super::mmu::{DACR_INIT, DACR_USER_MASK};

/// `struct pt_regs` offsets (asm-offsets.c): r0-r12, sp, lr, pc, cpsr, orig_r0.
const S_IP: usize = 48;
const S_SP: usize = 52;
const S_PC: usize = 60;
const S_PSR: usize = 64;
const S_OLD_R0: usize = 68;
/// `sizeof(struct pt_regs)`.
pub const PT_REGS_SIZE: usize = 72;
/// Where `svc_pt_regs` keeps the interrupted DACR, and its size.
pub const SVC_DACR: usize = PT_REGS_SIZE;
pub const SVC_REGS_SIZE: usize = PT_REGS_SIZE + 4;
/// DACR while the kernel runs (user domain: no access, `CONFIG_CPU_SW_DOMAIN_PAN`) and while
/// user space runs (user domain: client).
const DACR_UACCESS_DISABLE: u32 = DACR_INIT;
const DACR_UACCESS_ENABLE: u32 = (DACR_INIT & !DACR_USER_MASK) | (1 << (2 * DOMAIN_USER as u32));
/// `bad_mode`'s reasons (Linux's `BAD_*`).
pub const BAD_PREFETCH: u32 = 0;
pub const BAD_DATA: u32 = 1;
pub const BAD_IRQ: u32 = 3;
pub const BAD_UNDEFINSTR: u32 = 4;
/// Words of each exception mode's own stack (`struct stack` in setup.c: r0, lr, spsr and
/// room to stash ip).
pub const MODE_STACK_WORDS: usize = 4;

core::arch::global_asm!(
    r#"
    .syntax unified
    .arm

    @ ---- the stubs page -------------------------------------------------------------------
    .section .stubs, "ax"

    @ First in the page, as in Linux's stubs section, so the reset vector is `b .+0x1000`.
    .global vector_rst
vector_rst:                                 @ only reached by a jump to 0xffff0000:
    .inst   0xe7f000f0                      @ report it as an undefined instruction

    @ In the exception's mode: r0, lr and spsr to this mode's 4-word stack, then SVC mode
    @ (interrupts stay masked) and the handler for the interrupted mode, with r0 pointing at
    @ the saved words.
    .macro  vector_stub, name, mode, correction
    .align  5
    .global vector_\name
vector_\name:
    .if     \correction
    sub     lr, lr, #\correction
    .endif
    stmia   sp, {{r0, lr}}
    mrs     lr, spsr
    str     lr, [sp, #8]
    mrs     r0, cpsr
    eor     r0, r0, #(\mode ^ 0x13)
    msr     spsr_cxsf, r0
    and     lr, lr, #0x0f
    mov     r0, sp
    ldr     lr, [pc, lr, lsl #2]
    movs    pc, lr
    .endm

    @ The table after each stub, by the interrupted mode's low four bits.
    .macro  vector_table, name
    .long   __\name\()_usr                  @ 0 (USR)
    .long   __\name\()_invalid              @ 1 (FIQ)
    .long   __\name\()_invalid              @ 2 (IRQ)
    .long   __\name\()_svc                  @ 3 (SVC)
    .rept   12
    .long   __\name\()_invalid              @ 4-f (MON, ABT, HYP, UND, SYS)
    .endr
    .endm

    vector_stub irq, 0x12, 4
    vector_table irq
    vector_stub dabt, 0x17, 8
    vector_table dabt
    vector_stub pabt, 0x17, 4
    vector_table pabt
    vector_stub und, 0x1b, 0
    vector_table und

    .align  5
    .global vector_fiq, vector_addrexcptn, vector_swi
vector_fiq:                                 @ FIQs are never unmasked
    subs    pc, lr, #4
vector_addrexcptn:
    b       vector_addrexcptn
vector_swi:
    ldr     pc, .Lvector_swi
.Lvector_swi:
    .word   __vector_swi

    @ ---- entry and exit, in the kernel text ------------------------------------------------
    .text
    .align  5

    @ A pt_regs + DACR frame for an exception that interrupted SVC mode; r0 points at the
    @ mode stack's r0, lr_<exc>, spsr_<exc>. Leaves r5 = the interrupted PSR and the user
    @ domain inaccessible (uaccess_entry).
    .macro  svc_entry
    sub     sp, sp, #{svc_regs}
    str     ip, [r0, #12]                   @ stash ip on the mode stack
    ldr     ip, =kernel_stack_limit
    ldr     ip, [ip]
    cmp     sp, ip                          @ the frame below the stack's lowest address?
    ldr     ip, [r0, #12]
    blo     __bad_stack
    tst     sp, #4                          @ keep sp 8-byte aligned (AAPCS)
    subne   sp, sp, #4
    stmib   sp, {{r1 - r12}}
    ldmia   r0, {{r3 - r5}}                 @ r0, lr_<exc>, spsr_<exc>
    add     r7, sp, #{s_sp}
    mvn     r6, #0                          @ orig_r0 = -1
    add     r2, sp, #{svc_regs}
    addne   r2, r2, #4                      @ the interrupted sp
    str     r3, [sp]
    mov     r3, lr                          @ the interrupted lr (SVC's own)
    stmia   r7, {{r2 - r6}}                 @ sp, lr, pc, cpsr, orig_r0
    mrc     p15, 0, r0, c3, c0, 0
    str     r0, [sp, #{svc_dacr}]
    mov     r0, #{dacr_disable}
    mcr     p15, 0, r0, c3, c0, 0
    isb
    .endm

    @ Back to the interrupted SVC context: its DACR and every register, PSR from \rpsr.
    .macro  svc_exit, rpsr
    cpsid   i
    ldr     r0, [sp, #{svc_dacr}]
    mcr     p15, 0, r0, c3, c0, 0
    msr     spsr_cxsf, \rpsr
    clrex
    ldmia   sp, {{r0 - pc}}^
    .endm

    @ A pt_regs frame for an exception that interrupted user mode (user sp and lr through
    @ the user bank). The kernel stack is the task's, empty: nothing to check.
    .macro  usr_entry
    sub     sp, sp, #{pt_regs}
    stmib   sp, {{r1 - r12}}
    ldmia   r0, {{r3 - r5}}
    add     r0, sp, #{s_pc}
    mvn     r6, #0
    str     r3, [sp]
    stmia   r0, {{r4 - r6}}                 @ pc, cpsr, orig_r0
    stmdb   r0, {{sp, lr}}^                 @ sp_usr, lr_usr
    mov     r1, #{dacr_disable}
    mcr     p15, 0, r1, c3, c0, 0
    isb
    .endm

    @ An exception from a mode that never takes one (bad_mode).
    .macro  inv_entry, reason
    sub     sp, sp, #{pt_regs}
    stmib   sp, {{r1 - lr}}
    mov     r1, #\reason
    .endm

    .align  5
__irq_svc:
    svc_entry
    mov     r0, sp
    bl      generic_handle_arch_irq
    svc_exit r5

    .align  5
__dabt_svc:
    svc_entry
    mrc     p15, 0, r1, c5, c0, 0           @ DFSR
    mrc     p15, 0, r0, c6, c0, 0           @ DFAR
    mov     r2, sp
    bl      do_DataAbort
    ldr     r5, [sp, #{s_psr}]
    svc_exit r5

    .align  5
__pabt_svc:
    svc_entry
    mrc     p15, 0, r1, c5, c0, 1           @ IFSR
    mrc     p15, 0, r0, c6, c0, 2           @ IFAR
    mov     r2, sp
    bl      do_PrefetchAbort
    ldr     r5, [sp, #{s_psr}]
    svc_exit r5

    .align  5
__und_svc:
    svc_entry
    ldr     r1, [sp, #{s_pc}]               @ the instruction after the undefined one:
    tst     r5, #0x20                       @ back 2 in Thumb, 4 in ARM
    subne   r1, r1, #2
    subeq   r1, r1, #4
    str     r1, [sp, #{s_pc}]
    mov     r0, sp
    bl      do_undefinstr
    ldr     r5, [sp, #{s_psr}]
    svc_exit r5

    .align  5
__irq_usr:
    usr_entry
    mov     r0, sp
    bl      generic_handle_arch_irq
    b       ret_to_user_from_irq

    .align  5
__dabt_usr:
    usr_entry
    mrc     p15, 0, r1, c5, c0, 0
    mrc     p15, 0, r0, c6, c0, 0
    mov     r2, sp
    bl      do_DataAbort
    b       ret_from_exception

    .align  5
__pabt_usr:
    usr_entry
    mrc     p15, 0, r1, c5, c0, 1
    mrc     p15, 0, r0, c6, c0, 2
    mov     r2, sp
    bl      do_PrefetchAbort
    b       ret_from_exception

    .align  5
__und_usr:
    usr_entry
    ldr     r1, [sp, #{s_pc}]
    tst     r5, #0x20
    subne   r1, r1, #2
    subeq   r1, r1, #4
    str     r1, [sp, #{s_pc}]
    mov     r0, sp
    bl      do_undefinstr
    b       ret_from_exception

__pabt_invalid:
    inv_entry {bad_prefetch}
    b       common_invalid
__dabt_invalid:
    inv_entry {bad_data}
    b       common_invalid
__irq_invalid:
    inv_entry {bad_irq}
    b       common_invalid
__und_invalid:
    inv_entry {bad_undef}
common_invalid:
    ldmia   r0, {{r4 - r6}}
    add     r0, sp, #{s_pc}
    mvn     r7, #0
    str     r4, [sp]
    stmia   r0, {{r5 - r7}}
    mov     r0, sp
    b       bad_mode

    @ System calls. From user space: a pt_regs frame, the system call (interrupts stay
    @ masked: the handler runs masked anyway, see syscall::handle) and back through
    @ ret_to_user. From the kernel only semihosting issues SVC (when QEMU provides no
    @ semihosting, it arrives here): the registers come back and it returns at once.
    .align  5
__vector_swi:
    sub     sp, sp, #{pt_regs}
    stmia   sp, {{r0 - r12}}
    mrs     r9, spsr
    tst     r9, #0x0f                       @ from the kernel?
    bne     __swi_from_kernel
    add     r8, sp, #{s_pc}
    stmdb   r8, {{sp, lr}}^
    str     lr, [sp, #{s_pc}]
    str     r9, [sp, #{s_psr}]
    str     r0, [sp, #{s_old_r0}]
    mov     r1, #{dacr_disable}
    mcr     p15, 0, r1, c3, c0, 0
    isb
    ldr     r1, =syscall_handler
    ldr     r1, [r1]
    mov     r0, sp
    blx     r1                              @ the system call (fault::set_syscall_handler)
    b       ret_fast_syscall
__swi_from_kernel:
    ldmia   sp, {{r0 - r12}}
    add     sp, sp, #{pt_regs}
    movs    pc, lr

    @ Back to user space from the pt_regs at sp (the task's kernel stack top): interrupts
    @ masked, do_work_pending if the work hint says there may be work (Linux's test of
    @ TIF_WORK_MASK in ret_fast_syscall), the user domain accessible again
    @ (uaccess_enable), the user registers.
    .global ret_to_user, ret_from_exception
ret_from_exception:
ret_to_user_from_irq:
ret_to_user:
    cpsid   i
ret_fast_syscall:                           @ (a system call ran with interrupts masked)
    ldr     r1, =user_work_hint
    ldr     r1, [r1]
    cmp     r1, #0
    movne   r0, sp                          @ do_work_pending: reschedule, signals
    blne    do_work_pending
    mov     r2, sp
    ldr     r1, [r2, #{s_psr}]
    ldr     lr, [r2, #{s_pc}]!
    tst     r1, #0x8f                       @ IRQs masked, or not user mode?
    bne     1f
    msr     spsr_cxsf, r1
    clrex
    mov     r3, #{dacr_enable}
    mcr     p15, 0, r3, c3, c0, 0
    ldmdb   r2, {{r0 - lr}}^
    add     sp, sp, #{pt_regs}
    movs    pc, lr
1:  mov     r0, sp
    b       bad_user_return

    @ The frame did not fit the kernel stack (svc_entry): sp is the interrupted sp minus
    @ the frame, ip is stashed on the mode stack. Build the frame on the overflow stack
    @ instead, check later exceptions against that stack, and report.
__bad_stack:
    ldr     ip, =__overflow_stack_top - {svc_regs} - 4
    stmib   ip, {{r1 - r11}}
    ldr     r1, [r0, #12]
    str     r1, [ip, #{s_ip}]
    ldmia   r0, {{r3 - r5}}
    str     r3, [ip]
    add     r2, sp, #{svc_regs}
    mov     r3, lr
    mvn     r6, #0
    add     r7, ip, #{s_sp}
    stmia   r7, {{r2 - r6}}
    mrc     p15, 0, r1, c3, c0, 0
    str     r1, [ip, #{svc_dacr}]
    mov     sp, ip
    ldr     r1, =__overflow_stack
    ldr     r2, =kernel_stack_limit
    str     r1, [r2]
    mov     r0, sp
    bl      handle_bad_stack
2:  b       2b
    .ltorg

    @ The lowest address the current kernel stack may hold a frame at (the task's stack
    @ base later; the boot SVC stack now).
    .data
    .align  2
    .global kernel_stack_limit
kernel_stack_limit:
    .word   __svc_stack
"#,
    svc_regs = const SVC_REGS_SIZE,
    pt_regs = const PT_REGS_SIZE,
    svc_dacr = const SVC_DACR,
    s_ip = const S_IP,
    s_sp = const S_SP,
    s_pc = const S_PC,
    s_psr = const S_PSR,
    s_old_r0 = const S_OLD_R0,
    dacr_disable = const DACR_UACCESS_DISABLE,
    dacr_enable = const DACR_UACCESS_ENABLE,
    bad_prefetch = const BAD_PREFETCH,
    bad_data = const BAD_DATA,
    bad_irq = const BAD_IRQ,
    bad_undef = const BAD_UNDEFINSTR,
);
