/* kernel_structs.h - the kernel-internal structures of Linux 6.1 on 32-bit ARM that user space
 * sees in memory but no installed header declares, restated from their kernel declarations so
 * the cross compiler can lay them out: the 64-bit sigset_t and struct sigaction of
 * rt_sigaction (include/linux/signal_types.h, __ARCH_HAS_SA_RESTORER), struct ucontext and the
 * VFP block in uc_regspace (arch/arm/include/asm/ucontext.h, asm/user.h), the signal frames
 * (arch/arm/kernel/signal.h) and struct linux_dirent64 (include/linux/dirent.h). Included after
 * the uapi headers (stack_t, struct sigcontext, siginfo_t come from them). behaviour.c checks
 * these declarations against glibc's view and against what qemu-arm's Linux ABI does. */
#ifndef PIVM_KERNEL_STRUCTS_H
#define PIVM_KERNEL_STRUCTS_H

typedef struct {
    unsigned long sig[2];
} kernel_sigset_t;

/* Both the uapi and glibc headers define sa_handler as a macro for their own unions. */
#pragma push_macro("sa_handler")
#undef sa_handler
struct kernel_sigaction {
    unsigned long sa_handler;
    unsigned long sa_flags;
    unsigned long sa_restorer;
    kernel_sigset_t sa_mask;
};
#pragma pop_macro("sa_handler")

struct user_vfp {
    unsigned long long fpregs[32];
    unsigned long fpscr;
};

struct user_vfp_exc {
    unsigned long fpexc;
    unsigned long fpinst;
    unsigned long fpinst2;
};

struct vfp_sigframe {
    unsigned long magic;
    unsigned long size;
    struct user_vfp ufp;
    struct user_vfp_exc ufp_exc;
} __attribute__((__aligned__(8)));

struct ucontext {
    unsigned long uc_flags;
    struct ucontext *uc_link;
    stack_t uc_stack;
    struct sigcontext uc_mcontext;
    kernel_sigset_t uc_sigmask;
    int __unused[32 - (sizeof(kernel_sigset_t) / sizeof(int))];
    unsigned long uc_regspace[128] __attribute__((__aligned__(8)));
};

struct sigframe {
    struct ucontext uc;
    unsigned long retcode[4];
};

struct rt_sigframe {
    siginfo_t info;
    struct sigframe sig;
};

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#endif
