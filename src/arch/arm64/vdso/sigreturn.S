/* __kernel_rt_sigreturn (Linux 6.1's arch/arm64/kernel/vdso/sigreturn.S): where a signal
 * handler installed without SA_RESTORER returns to. The NOP before it is there for unwinders,
 * which look up the instruction before a return address. src/abi/arm64/vdso.rs holds the
 * same three words and the kernel checks the image against them at boot. */
	.text
	.balign	4
	nop
	.globl	__kernel_rt_sigreturn
	.type	__kernel_rt_sigreturn, %function
__kernel_rt_sigreturn:
	mov	x8, #139	/* __NR_rt_sigreturn */
	svc	#0
	.size	__kernel_rt_sigreturn, . - __kernel_rt_sigreturn
	.section .note.GNU-stack, "", %progbits
