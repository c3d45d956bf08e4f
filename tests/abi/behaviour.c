/* behaviour.c - the golden program of tests/abi_golden.rs, run under qemu-arm (Debian's
 * qemu-user, which implements Linux's ARM EABI): prints glibc's view of the structures the
 * kernel shares with it, every errno with glibc's name and text, the layouts of the generated
 * layouts.c (pivm_layouts), and checks that the restated kernel structures of kernel_structs.h
 * work as Linux's ABI: rt_sigaction with struct kernel_sigaction, rt_sigprocmask's sigsetsize,
 * where an SA_SIGINFO handler finds siginfo, ucontext and the VFP block of an rt_sigframe, and
 * the record format of getdents64. One line per fact; pivm's test compares them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel_structs.h"

void pivm_layouts(void);

#define GLIBC_FIELD(T, m) \
    printf("glibc %s|%s|%zu|%zu\n", #T, #m, offsetof(T, m), sizeof(((T *)0)->m))

static void check(const char *what, int ok, long detail)
{
    printf("check %s %s %ld\n", what, ok ? "ok" : "FAIL", detail);
}

static volatile long uc_minus_info, info_align, sp_slack, vfp_magic, vfp_size, si_code_seen;

static void on_usr1(int sig, siginfo_t *info, void *ucv)
{
    struct ucontext *uc = ucv;
    (void)sig;
    uc_minus_info = (char *)uc - (char *)info;
    info_align = (uintptr_t)info % 8;
    sp_slack = (long)uc->uc_mcontext.arm_sp - (long)((uintptr_t)info + sizeof(struct rt_sigframe));
    vfp_magic = (long)uc->uc_regspace[0];
    vfp_size = (long)uc->uc_regspace[1];
    si_code_seen = info->si_code;
}

int main(void)
{
    pivm_layouts();

    GLIBC_FIELD(ucontext_t, uc_flags);
    GLIBC_FIELD(ucontext_t, uc_link);
    GLIBC_FIELD(ucontext_t, uc_stack);
    GLIBC_FIELD(ucontext_t, uc_mcontext);
    GLIBC_FIELD(ucontext_t, uc_sigmask);
    GLIBC_FIELD(ucontext_t, uc_regspace);
    printf("glibc ucontext_t|sizeof|%zu|0\n", sizeof(ucontext_t));
    GLIBC_FIELD(struct dirent64, d_ino);
    GLIBC_FIELD(struct dirent64, d_off);
    GLIBC_FIELD(struct dirent64, d_reclen);
    GLIBC_FIELD(struct dirent64, d_type);
    GLIBC_FIELD(struct dirent64, d_name);

    for (int e = 1; e <= 133; e++) {
        const char *name = strerrorname_np(e);
        if (name)
            printf("errno %d %s %s\n", e, name, strerror(e));
    }

    /* rt_sigaction through the kernel's struct, read back through glibc and raw. */
    struct kernel_sigaction ka = { 0 }, kold = { 0 };
#pragma push_macro("sa_handler")
#undef sa_handler
    ka.sa_handler = (unsigned long)on_usr1;
    ka.sa_flags = SA_SIGINFO | SA_RESTART;
    ka.sa_mask.sig[0] = 1UL << (SIGUSR2 - 1);
    long r = syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, sizeof(kernel_sigset_t));
    check("rt_sigaction_kernel_struct", r == 0, r);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    check("glibc_reads_handler", old.sa_sigaction == on_usr1, 0);
    check("glibc_reads_flags", (old.sa_flags & (SA_SIGINFO | SA_RESTART)) == (SA_SIGINFO | SA_RESTART),
          old.sa_flags);
    check("glibc_reads_mask", sigismember(&old.sa_mask, SIGUSR2) == 1 && sigismember(&old.sa_mask, SIGUSR1) == 0, 0);
    r = syscall(SYS_rt_sigaction, SIGUSR1, NULL, &kold, sizeof(kernel_sigset_t));
    check("rt_sigaction_reads_back", r == 0 && kold.sa_handler == ka.sa_handler &&
          kold.sa_mask.sig[0] == ka.sa_mask.sig[0], (long)kold.sa_flags);
#pragma pop_macro("sa_handler")
    errno = 0;
    r = syscall(SYS_rt_sigaction, SIGUSR1, NULL, &kold, 2 * sizeof(kernel_sigset_t));
    check("rt_sigaction_sigsetsize_16_einval", r == -1 && errno == EINVAL, errno);

    kernel_sigset_t set = { { 0, 0 } }, oset;
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &oset, sizeof set);
    check("rt_sigprocmask_sigsetsize_8", r == 0, r);
    errno = 0;
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &oset, 16);
    check("rt_sigprocmask_sigsetsize_16_einval", r == -1 && errno == EINVAL, errno);

    /* The installed handler (SA_SIGINFO, no SA_RESTORER) sees an rt_sigframe. */
    kill(getpid(), SIGUSR1);
    check("frame_uc_after_info", uc_minus_info == (long)offsetof(struct rt_sigframe, sig.uc), uc_minus_info);
    check("frame_8_aligned", info_align == 0, info_align);
    check("frame_ends_below_old_sp", sp_slack >= 0 && sp_slack < 8, sp_slack);
    check("frame_vfp_magic", vfp_magic == 0x56465001, vfp_magic);
    check("frame_vfp_size", vfp_size == (long)sizeof(struct vfp_sigframe), vfp_size);
    check("frame_si_code_user", si_code_seen == SI_USER, si_code_seen);

    /* getdents64: records of ALIGN(19 + namelen + 1, 8) bytes, the name at offset 19. */
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    char buf[4096];
    long n = fd < 0 ? -1 : syscall(SYS_getdents64, fd, buf, sizeof buf);
    int ok = n > 0;
    for (long off = 0; ok && off < n;) {
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
        size_t want = (offsetof(struct linux_dirent64, d_name) + strlen(d->d_name) + 1 + 7) & ~7UL;
        ok = d->d_reclen == want && (char *)d->d_name - (char *)d == 19;
        off += d->d_reclen;
    }
    check("getdents64_records", ok, n);
    lseek(fd, 0, SEEK_SET);
    errno = 0;
    n = syscall(SYS_getdents64, fd, buf, 10);
    check("getdents64_small_buffer_einval", n == -1 && errno == EINVAL, errno);
    return 0;
}
