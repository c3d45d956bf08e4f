/* kernel_structs_arm64.h - the kernel-internal structures of Linux 6.1 on arm64 that user space
 * sees in memory but no installed header declares, restated from their kernel declarations so
 * aarch64-linux-gnu-gcc can lay them out: the one-word sigset_t and struct sigaction of
 * rt_sigaction (include/linux/signal_types.h with SA_RESTORER), arm64's struct ucontext
 * (arch/arm64/include/asm/ucontext.h), struct rt_sigframe (arch/arm64/kernel/signal.c) and
 * struct linux_dirent64 (include/linux/dirent.h). Included after the uapi headers (stack_t,
 * struct sigcontext and its records, siginfo_t come from them). */
#ifndef PIVM_KERNEL_STRUCTS_ARM64_H
#define PIVM_KERNEL_STRUCTS_ARM64_H

typedef struct {
    unsigned long sig[1];
} kernel_sigset_t;

#pragma push_macro("sa_handler")
#undef sa_handler
struct kernel_sigaction {
    unsigned long sa_handler;
    unsigned long sa_flags;
    unsigned long sa_restorer;
    kernel_sigset_t sa_mask;
};
#pragma pop_macro("sa_handler")

struct ucontext {
    unsigned long uc_flags;
    struct ucontext *uc_link;
    stack_t uc_stack;
    kernel_sigset_t uc_sigmask;
    unsigned char __unused[1024 / 8 - sizeof(kernel_sigset_t)];
    struct sigcontext uc_mcontext;
};

struct rt_sigframe {
    siginfo_t info;
    struct ucontext uc;
};

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#endif
