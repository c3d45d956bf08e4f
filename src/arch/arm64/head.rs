//! The entry code (Linux's `head.S`): the first instructions of `kernel8.img`, run at the
//! load address with the MMU off, at EL2 (QEMU's raw-image boot, the Pi firmware) or EL3
//! (QEMU's ELF loader, all four cores at once). In assembly only what cannot be Rust: parking
//! the secondary cores, the stack, and FP/SIMD, which must be enabled before the first Rust
//! instruction because rustc emits NEON for ordinary code (AARCH64_FACTS.md, pitfall 5).
//! `CPTR_EL3` is not in `aarch64-cpu`, and `CPACR_EL1`/`CPTR_EL2` are written here before any
//! Rust runs; every other register of the EL drop is set in Rust through the crate (boot.rs).
use core::arch::global_asm;

global_asm!(
    r#"
    .section .head.text, "ax"
    .global _start
_start:
    // Secondary cores (the ELF boot starts all four here; a raw image's come when core 0
    // releases them from the spin table below) sleep in WFI forever: pivm runs on CPU 0.
    // WFI, not WFE: QEMU's TCG runs WFE as a yield, so a core waiting in it spins a host
    // thread at full speed for as long as the machine runs (three of them took the host's
    // CPUs from the booting core); WFI halts the virtual CPU until an interrupt, and none is
    // routed to cores 1-3.
    mrs     x19, mpidr_el1
    and     x19, x19, #0xff
    cbz     x19, 2f
1:  wfi
    b       1b
2:  mov     x20, x0                     // boot parameters: DTB or ATAG list (0 from ELF)
    // At EL2 (QEMU's raw-image boot, the Pi firmware) cores 1-3 wait in the loader's stub,
    // polling the spin table (`cpu-release-addr` 0xe0/0xe8/0xf0, AARCH64_FACTS.md 1a/1b)
    // with WFE, i.e. busily under QEMU: release them to _start, where they park in WFI. At
    // EL3 (QEMU's ELF loader) they are already here, and page 0 may hold the device tree.
    mrs     x0, CurrentEL
    cmp     x0, #(2 << 2)
    b.ne    2f
    adr     x1, _start                  // physical: the MMU is off
    mov     x2, #{spin_table}
    str     x1, [x2, #8]                // core 1
    str     x1, [x2, #16]               // core 2
    str     x1, [x2, #24]               // core 3
    dsb     sy
    sev
2:
    adrp    x1, __boot_stack_top        // PC-relative: the physical address, MMU off
    add     x1, x1, :lo12:__boot_stack_top
    mov     sp, x1
    // FP/SIMD: untrap at EL3 (CPTR_EL3 = 0) and EL2 (CPTR_EL2: RES1 bits, TFP clear), and
    // let EL1 use it (CPACR_EL1.FPEN = 0b11).
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #3
    b.ne    3f
    msr     cptr_el3, xzr
3:  cmp     x0, #2
    b.lt    4f
    mov     x1, #0x33ff
    msr     cptr_el2, x1
4:  mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    isb
    // Clear the BSS (physical addresses: PC-relative).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_stop
    add     x2, x2, :lo12:__bss_stop
5:  cmp     x1, x2
    b.hs    6f
    str     xzr, [x1], #8
    b       5b
6:  // Drop to EL1 (Rust, registers through aarch64-cpu): it returns here at EL1h, on the
    // same stack, MMU still off.
    adr     x0, 7f
    mov     x1, sp
    bl      __arm64_el_drop
7:  // Build the boot page tables and turn the MMU on (still running at the physical
    // address, through the identity map in TTBR0).
    mov     x0, x20
    bl      __arm64_create_page_tables_and_enable_mmu
    // Now jump to the kernel's virtual addresses (TTBR1): stack and kernel_main.
    ldr     x1, =__boot_stack_top
    mov     sp, x1
    mov     x0, x20
    mov     x1, x19
    ldr     x2, =__arm64_start_kernel
    br      x2
    .ltorg
"#,
    spin_table = const SPIN_TABLE_BASE,
);

/// The spin table's slot array: core n polls `SPIN_TABLE_BASE + 8 * n` (the Pi firmware's
/// armstub8 and QEMU's raspi3b stub alike; the device tree's `cpu-release-addr` for cores
/// 1-3 are 0xe0, 0xe8 and 0xf0).
const SPIN_TABLE_BASE: u64 = 0xd8;
