//! Kernel entry: the first instructions run, with the MMU off, wherever the loader put us.
//!
//! Position independent until the MMU is on: parks cores 1-3 (calling them out of the loader's
//! stub into a WFI loop), leaves HYP mode (Pi firmware),
//! moves the image to its link-time physical address if it was loaded elsewhere (QEMU's raw
//! `-kernel` loads at 0x10000, the Pi firmware and the ELF loader at 0x8000), builds
//! `init_pg_dir` (identity + linear sections for the kernel, the boot parameters and the UART),
//! turns the MMU and caches on the way Linux 6.1's `__v7_setup` does (TTBCR.N = 0, TEX
//! remap with Linux's PRRR/NMRR, the domain register, high vectors) and jumps to
//! `PAGE_OFFSET`. Then it sets the mode stacks (four words each: exceptions are handled on
//! the SVC stack, see `entry_armv`), clears the BSS and calls
//! `kernel_main(boot_params, machine, entry_cpsr, load_addr)`.

use super::desc::{NMRR, PRRR};
use super::mmu::{DACR_INIT, STUBS_PAGE, TTB_FLAGS_SMP, VECTORS_PAGE};
use super::pgtable::{
    pgd_index_pair, set_pte_ext, MT_DEVICE, MT_HIGH_VECTORS, MT_LOW_VECTORS, MT_MEMORY_RWX,
    PTE_HWTABLE_OFF, PTE_TABLE_PAGE,
};

/// Bytes of each exception mode's stack (IRQ, ABT, UND, FIQ).
const MODE_STACK_BYTES: usize = 4 * super::entry_armv::MODE_STACK_WORDS;
/// Linux's `OVERFLOW_STACK_SIZE`.
const OVERFLOW_STACK_SIZE: usize = 4096;
/// TTBCR.N = 0 for every split: one table through TTBR0, as `v7_ttb_setup` writes.
pub const TTBCR_N: u32 = 0;
/// First-level section descriptor for the boot map of RAM: Linux's `MT_MEMORY_RWX`.
const SECTION_MEM_RWX: u32 = MT_MEMORY_RWX.prot_sect;
/// First-level section descriptor for the peripheral window: Linux's `MT_DEVICE`.
const SECTION_DEVICE: u32 = MT_DEVICE.prot_sect;
/// The vector and stubs pages' first-level and PTE bits (Linux and hardware halves).
const VECTORS_L1: u32 = MT_HIGH_VECTORS.prot_l1;
const VECTORS_PTE: u32 = MT_HIGH_VECTORS.prot_pte;
const VECTORS_HW_PTE: u32 = set_pte_ext(VECTORS_PTE, 0);
const STUBS_PTE: u32 = MT_LOW_VECTORS.prot_pte;
const STUBS_HW_PTE: u32 = set_pte_ext(STUBS_PTE, 0);
/// Byte offset of the vector pair's first-level entries in a first-level table.
const VECTORS_PGD_OFFSET: u32 = (pgd_index_pair(VECTORS_PAGE) * 4) as u32;
/// Byte offsets of the two pages' Linux PTEs in their table page (512 entries per 2 MiB).
const VECTORS_PTE_OFFSET: u32 = ((VECTORS_PAGE >> 12) & 0x1ff) * 4;
const STUBS_PTE_OFFSET: u32 = ((STUBS_PAGE >> 12) & 0x1ff) * 4;
/// SCTLR bits `__v7_setup` sets or clears beyond the MMU and caches.
const SCTLR_TRE: u32 = 1 << 28;
const SCTLR_AFE: u32 = 1 << 29;
const SCTLR_V: u32 = 1 << 13;
/// First and one-past-last 1 MiB section of the BCM2836 peripheral window (0x3F000000).
const PERIPHERAL_FIRST_SECTION: u32 = 0x3F0;
const PERIPHERAL_END_SECTION: u32 = 0x400;
/// BCM2836 local peripherals (per-core mailboxes and interrupt routing).
const LOCAL_PERIPHERAL_BASE: u32 = 0x4000_0000;
/// Core 0's mailbox interrupt control register; one word per core.
const CORE0_MAILBOX_INT_CTRL: u32 = LOCAL_PERIPHERAL_BASE + 0x50;
/// Its bit that turns a write to the core's mailbox 3 into an IRQ (what wakes WFI).
const MAILBOX3_IRQ_ENABLE: u32 = 1 << 3;
/// Core 0's mailbox-3 set and read/clear registers; 0x10 bytes on per core. A loader's stub
/// (QEMU's raw `-kernel` path, the Pi firmware) keeps cores 1-3 polling their mailbox 3
/// until an entry address shows up there.
const CORE0_MAILBOX3_SET: u32 = LOCAL_PERIPHERAL_BASE + 0x8C;
const CORE0_MAILBOX3_RDCLR: u32 = LOCAL_PERIPHERAL_BASE + 0xCC;

core::arch::global_asm!(
    r#"
    .arch armv7-a
    .arch_extension virt
    .arch_extension sec
    .section .head.text, "ax"
    .arm
    .global _start
_start:
    mov     r8, r2                      @ boot parameters (ATAGs / DTB), 0 from the ELF loader
    mov     r9, r1                      @ machine type
    mrc     p15, 0, r4, c0, c0, 5       @ MPIDR
    ands    r4, r4, #3
    bne     secondary_park              @ cores 1-3 wait (ELF loader starts all four)

    mrs     r10, cpsr                   @ remembered for the boot log
    and     r4, r10, #0x1f
    cmp     r4, #0x1a                   @ HYP (the Pi 2 firmware enters here)?
    bne     1f
    mrc     p15, 4, r4, c14, c1, 0      @ CNTHCTL: let PL1 read the physical counter/timer
    orr     r4, r4, #3
    mcr     p15, 4, r4, c14, c1, 0
    mov     r4, #0
    mcrr    p15, 4, r4, r4, c14         @ CNTVOFF = 0
    mrs     r4, cpsr
    bic     r4, r4, #0x1f
    orr     r4, r4, #0xd3               @ SVC with IRQ and FIQ masked
    orr     r4, r4, #0x100              @ and asynchronous aborts
    msr     spsr_cxsf, r4               @ (not spsr_hyp: UNDEFINED when executed in HYP)
    adr     r4, 1f
    msr     elr_hyp, r4
    eret
1:  cpsid   aif

    @ Invalidate the L1 data cache by set/way: real firmware may leave stale lines.
    mov     r0, #0
    mcr     p15, 2, r0, c0, c0, 0       @ CSSELR: level 1 data
    isb
    mrc     p15, 1, r0, c0, c0, 0       @ CCSIDR
    and     r1, r0, #7
    add     r1, r1, #4                  @ log2(line bytes)
    ubfx    r2, r0, #3, #10             @ ways - 1
    ubfx    r3, r0, #13, #15            @ sets - 1
    clz     r12, r2                     @ bit position of the way field
2:  mov     r5, r3
3:  lsl     r6, r2, r12
    orr     r6, r6, r5, lsl r1
    mcr     p15, 0, r6, c7, c6, 2       @ DCISW
    subs    r5, r5, #1
    bge     3b
    subs    r2, r2, #1
    bge     2b
    dsb

    @ Move the image to its link-time physical address if the loader put it elsewhere.
    adr     r4, _start                  @ where we run
    ldr     r5, =_start_phys            @ where we are linked to run
    mov     r11, r4                     @ load address, for the boot log
    cmp     r4, r5
    beq     relocated
    ldr     r6, =__image_size
    adr     r2, reloc_head_end
    sub     r2, r2, r4                  @ bytes of this head, copied first
    mov     r0, #0
4:  ldr     r3, [r4, r0]
    str     r3, [r5, r0]
    add     r0, r0, #4
    cmp     r0, r2
    blo     4b
    adr     r3, 5f                      @ continue in the copy, which the rest of the
    sub     r3, r3, r4                  @ copy (to higher addresses) cannot overwrite
    add     r3, r3, r5
    bx      r3
5:  ldr     r3, [r4, r0]
    str     r3, [r5, r0]
    add     r0, r0, #4
    cmp     r0, r6
    blo     5b
    mov     r3, #0
    mcr     p15, 0, r3, c7, c5, 0       @ ICIALLU
    mcr     p15, 0, r3, c7, c5, 6       @ BPIALL
    dsb
    isb
    b       relocated
    .ltorg
reloc_head_end:

relocated:
    @ Cores 1-3 of a raw boot spin in the loader's stub (QEMU's busily: three host threads
    @ at full speed for as long as the machine runs). Send them to secondary_park, where
    @ they sleep in WFI; parked ones (the ELF loader starts all four) just park again.
    ldr     r0, =_start_phys
    ldr     r1, ={mbox3_set}
    str     r0, [r1, #0x10]             @ core 1
    str     r0, [r1, #0x20]             @ core 2
    str     r0, [r1, #0x30]             @ core 3
    dsb
    sev

    @ Build init_pg_dir: 4096 first-level entries, all faults but:
    ldr     r5, =PAGE_OFFSET
    ldr     r4, =init_pg_dir
    sub     r4, r4, r5                  @ its physical address (PHYS_OFFSET is 0)
    mov     r0, #0
    mov     r1, r4
    add     r2, r4, #0x4000
6:  str     r0, [r1], #4
    cmp     r1, r2
    blo     6b

    ldr     r7, ={mem_rwx}
    lsr     r5, r5, #20                 @ PAGE_OFFSET section index
    @ the kernel image, identity-mapped (for the jump) and at PAGE_OFFSET
    ldr     r0, =_text
    ldr     r1, =_end
    sub     r1, r1, #1
    lsr     r0, r0, #20
    lsr     r1, r1, #20
    sub     r0, r0, r5
    sub     r1, r1, r5
7:  orr     r2, r7, r0, lsl #20
    str     r2, [r4, r0, lsl #2]
    add     r3, r0, r5
    str     r2, [r4, r3, lsl #2]
    add     r0, r0, #1
    cmp     r0, r1
    bls     7b
    @ the boot parameters (two sections at PAGE_OFFSET + r2, if r2 lies below the peripheral
    @ window: RAM ends there, and on the 3G split a higher r2 would index past the table)
    cmp     r8, #0x3f000000
    bhs     8f
    lsr     r0, r8, #20
    orr     r2, r7, r0, lsl #20
    add     r3, r0, r5
    str     r2, [r4, r3, lsl #2]
    add     r0, r0, #1
    orr     r2, r7, r0, lsl #20
    add     r3, r3, #1
    str     r2, [r4, r3, lsl #2]
8:  @ the peripheral window, identity-mapped as device memory until paging_init maps the
    @ devices pivm uses in the fixmap (the console and the mailbox are needed before that)
    ldr     r2, ={periph_first}
    ldr     r6, ={device}
12: orr     r3, r6, r2, lsl #20
    str     r3, [r4, r2, lsl #2]
    add     r2, r2, #1
    cmp     r2, #{periph_end}
    blo     12b
    @ the vector page and the stubs page at 0xffff0000 (high vectors from the start, as
    @ Linux), through one table page in Linux's layout: two Linux tables, then the two
    @ hardware tables the pair of first-level entries points at
    ldr     r0, =init_pte_vectors
    ldr     r1, =PAGE_OFFSET
    sub     r0, r0, r1                  @ its physical address
    mov     r2, #0
    mov     r1, r0
    add     r3, r0, #{table_page}
13: str     r2, [r1], #4
    cmp     r1, r3
    blo     13b
    ldr     r1, ={vec_l1}
    add     r2, r0, #{hwoff}
    orr     r2, r2, r1
    ldr     r3, ={vec_pgd}
    str     r2, [r4, r3]                @ even section of the pair
    add     r2, r2, #1024
    add     r3, r3, #4
    str     r2, [r4, r3]                @ odd section (0xfff00000, the vectors)
    ldr     r1, =__vectors_start
    ldr     r2, =PAGE_OFFSET
    sub     r1, r1, r2                  @ the vector page's physical address
    ldr     r6, ={vec_off}
    ldr     r3, ={vec_pte}
    orr     r3, r3, r1
    str     r3, [r0, r6]                @ Linux PTE
    ldr     r3, ={vec_hw}
    orr     r3, r3, r1
    add     r6, r6, #{hwoff}
    str     r3, [r0, r6]                @ hardware PTE
    add     r1, r1, #4096               @ the stubs page follows it
    ldr     r6, ={stubs_off}
    ldr     r3, ={stubs_pte}
    orr     r3, r3, r1
    str     r3, [r0, r6]
    ldr     r3, ={stubs_hw}
    orr     r3, r3, r1
    add     r6, r6, #{hwoff}
    str     r3, [r0, r6]

    @ MMU on
    mov     r0, #0
    mcr     p15, 0, r0, c8, c7, 0       @ TLBIALL
    mcr     p15, 0, r0, c7, c5, 0       @ ICIALLU
    mcr     p15, 0, r0, c7, c5, 6       @ BPIALL
    dsb
    isb
    mrc     p15, 0, r0, c1, c0, 1       @ ACTLR.SMP: take part in cache coherency
    orr     r0, r0, #(1 << 6)
    mcr     p15, 0, r0, c1, c0, 1
    mov     r0, #{ttbcr_n}
    mcr     p15, 0, r0, c2, c0, 2       @ TTBCR: N = 0, one table
    orr     r0, r4, #{walk}
    mcr     p15, 0, r0, c2, c0, 0       @ TTBR0
    mcr     p15, 0, r0, c2, c0, 1       @ TTBR1 (unused with N = 0; Linux loads it too)
    ldr     r0, ={dacr}
    mcr     p15, 0, r0, c3, c0, 0       @ DACR: DACR_INIT
    ldr     r0, ={prrr}
    mcr     p15, 0, r0, c10, c2, 0      @ PRRR
    ldr     r0, ={nmrr}
    mcr     p15, 0, r0, c10, c2, 1      @ NMRR
    dsb
    isb
    mrc     p15, 0, r0, c1, c0, 0       @ SCTLR
    orr     r0, r0, #{tre}              @ TRE: TEX remap through PRRR/NMRR
    bic     r0, r0, #{afe}              @ AFE off: AP[0] is a permission bit
    orr     r0, r0, #{v}                @ V: vectors at 0xffff0000
    bic     r0, r0, #(1 << 1)           @ A: no alignment checking
    orr     r0, r0, #(1 << 0)           @ M: MMU
    orr     r0, r0, #(1 << 2)           @ C: data cache
    orr     r0, r0, #(1 << 11)          @ Z: branch prediction
    orr     r0, r0, #(1 << 12)          @ I: instruction cache
    mcr     p15, 0, r0, c1, c0, 0
    isb
    ldr     pc, =__mmap_switched
    .ltorg

    @ Cores 1-3: enable this core's mailbox-3 interrupt (so WFI wakes on a write to it)
    @ and wait for an entry address there, like the Pi firmware's own stub.
secondary_park:
    cpsid   aif
    ldr     r6, ={mbox_int_ctrl}
    mov     r7, #{mbox3_irq}
    str     r7, [r6, r4, lsl #2]        @ core n mailbox interrupt control: mailbox 3 -> IRQ
    ldr     r5, ={mbox3_rdclr}
    add     r5, r5, r4, lsl #4          @ core n mailbox 3 read/clear
9:  wfi
    ldr     r6, [r5]
    cmp     r6, #0
    beq     9b
    str     r6, [r5]
    bx      r6
    .ltorg

    .text
    .align  2
__mmap_switched:
    @ cpu_init: each exception mode's stack is four words (the vector stubs save r0, lr and
    @ spsr there and switch to SVC mode at once), in Linux's struct stack order.
    ldr     r0, =__mode_stacks
    cps     #0x12                       @ IRQ
    mov     sp, r0
    add     r0, r0, #{mode_stack}
    cps     #0x17                       @ ABT
    mov     sp, r0
    add     r0, r0, #{mode_stack}
    cps     #0x1b                       @ UND
    mov     sp, r0
    add     r0, r0, #{mode_stack}
    cps     #0x11                       @ FIQ
    mov     sp, r0
    cps     #0x13                       @ SVC
    ldr     sp, =__svc_stack_top
    ldr     r0, =__bss_start
    ldr     r1, =__bss_stop
    mov     r2, #0
10: cmp     r0, r1
    strlo   r2, [r0], #4
    blo     10b
    mov     r0, r8
    mov     r1, r9
    mov     r2, r10
    mov     r3, r11
    bl      kernel_main
11: wfi
    b       11b
    .ltorg

    .section .bss.stacks, "aw", %nobits
    .balign 4096
    @ Left unmapped by paging_init: a stack overflow faults (and oopses) instead of
    @ silently overwriting whatever lies below.
__svc_stack_guard: .space 4096
__svc_stack:    .space 65536
__svc_stack_top:
    @ Where a stack overflow is reported from (the exception entry checks every frame
    @ against the current stack's lowest address); Linux's per-CPU overflow stack.
__overflow_stack: .space {overflow_stack}
__overflow_stack_top:
__mode_stacks:  .space 4 * {mode_stack}
    .global __svc_stack, __svc_stack_top, __svc_stack_guard
    .global __overflow_stack, __overflow_stack_top, __mode_stacks
"#,
    mode_stack = const MODE_STACK_BYTES,
    overflow_stack = const OVERFLOW_STACK_SIZE,
    mem_rwx = const SECTION_MEM_RWX,
    device = const SECTION_DEVICE,
    periph_first = const PERIPHERAL_FIRST_SECTION,
    periph_end = const PERIPHERAL_END_SECTION,
    ttbcr_n = const TTBCR_N,
    walk = const TTB_FLAGS_SMP,
    dacr = const DACR_INIT,
    prrr = const PRRR,
    nmrr = const NMRR,
    tre = const SCTLR_TRE,
    afe = const SCTLR_AFE,
    v = const SCTLR_V,
    table_page = const PTE_TABLE_PAGE,
    hwoff = const PTE_HWTABLE_OFF,
    vec_l1 = const VECTORS_L1,
    vec_pgd = const VECTORS_PGD_OFFSET,
    vec_off = const VECTORS_PTE_OFFSET,
    vec_pte = const VECTORS_PTE,
    vec_hw = const VECTORS_HW_PTE,
    stubs_off = const STUBS_PTE_OFFSET,
    stubs_pte = const STUBS_PTE,
    stubs_hw = const STUBS_HW_PTE,
    mbox3_set = const CORE0_MAILBOX3_SET,
    mbox3_rdclr = const CORE0_MAILBOX3_RDCLR,
    mbox_int_ctrl = const CORE0_MAILBOX_INT_CTRL,
    mbox3_irq = const MAILBOX3_IRQ_ENABLE,
);
