// floor-arm64.S - scripts/floor.S for AArch64: the cost of starting QEMU raspi3b and running one
// line of guest code (scripts/bench-boot.sh with ARCH=arm64). Loaded as a raw image at 0x80000
// and entered at EL2 on core 0 (cores 1-3 wait in QEMU's spin-table stub); prints
// "floor: hello" on the PL011 UART (0x3F201000), then exits QEMU through semihosting SYS_EXIT
// (HLT #0xF000, x1 -> {ADP_Stopped_ApplicationExit, 0}; needs -semihosting). Position independent.

        .text
        .global _start
_start:
        ldr     x1, =0x3f201000         // PL011 UART0 base
        adr     x2, msg
1:      ldrb    w0, [x2], #1
        cbz     w0, 3f
2:      ldr     w3, [x1, #0x18]         // FR
        tbnz    w3, #5, 2b              // TXFF: transmit FIFO full
        str     w0, [x1]                // DR
        b       1b
3:      mov     w0, #0x18               // SYS_EXIT
        adr     x1, exit_block
        hlt     #0xf000
4:      wfe
        b       4b

        .balign 8
exit_block:
        .quad   0x20026                 // ADP_Stopped_ApplicationExit -> exit status 0
        .quad   0                       // exit code
msg:    .asciz  "floor: hello\n"
        .balign 8
        .ltorg
