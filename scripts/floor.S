@ floor.S - the smallest possible "kernel" for scripts/bench-boot.sh: the cost of starting QEMU
@ raspi2b and running one line of guest code. Prints "floor: hello" on the PL011 UART (0x3F201000),
@ then exits QEMU through semihosting SYS_EXIT (needs -semihosting). Position independent, A32.

        .syntax unified
        .arm
        .text
        .global _start
_start:
        ldr     r1, =0x3f201000         @ PL011 UART0 base
        adr     r2, msg
1:      ldrb    r0, [r2], #1
        cmp     r0, #0
        beq     3f
2:      ldr     r3, [r1, #0x18]         @ FR
        tst     r3, #0x20               @ TXFF: transmit FIFO full
        bne     2b
        str     r0, [r1]                @ DR
        b       1b
3:      mov     r0, #0x18               @ SYS_EXIT
        ldr     r1, =0x20026            @ ADP_Stopped_ApplicationExit -> exit status 0
        svc     0x123456
4:      wfe
        b       4b

msg:    .asciz  "floor: hello\n"
        .balign 4
        .ltorg
