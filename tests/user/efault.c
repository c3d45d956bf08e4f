/* efault - a hostile program that hands the kernel bad pointers: NULL, an unmapped user page,
 * the kernel's own text, lowmem and vmalloc addresses, the [vectors] page, a read-only user page
 * as a destination. Every call must fail with EFAULT (the kernel may neither read nor write
 * memory the process cannot, nor oops); each check prints one line. `efault [3G|2G|1G|auto]`
 * picks the split whose kernel addresses are used (auto: found by probing TASK_SIZE; 3G's if
 * that fails). Exits 0 when every check got EFAULT, 1 otherwise. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define KERNEL_TEXT_OFFSET 0x8000UL
#define VMALLOC_PROBE 0xf0000000UL
#define VECTORS 0xffff0000UL
#define LEN 16

static int checks, failed;

/* r: the raw system call's result (-1 with errno set on failure). */
static void expect_efault(const char *what, long r, int err)
{
    checks++;
    if (r == -1 && err == EFAULT) {
        printf("  %-56s -> -1 EFAULT (ok)\n", what);
    } else {
        failed++;
        if (r == -1)
            printf("  %-56s -> -1 %s (FAIL: expected EFAULT)\n", what, strerrorname_np(err));
        else
            printf("  %-56s -> %ld (FAIL: expected EFAULT)\n", what, r);
    }
    fflush(stdout);
}

#define CHECK(what, call)                                                                          \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        expect_efault(what, r_, errno);                                                            \
    } while (0)

int main(int argc, char **argv)
{
    const struct split *s = split_find(argc > 1 ? argv[1] : NULL);
    if (!s && argc > 1 && strcmp(argv[1], "auto") != 0) {
        fprintf(stderr, "usage: efault [3G|2G|1G|auto]\n");
        return 2;
    }
    printf("EFAULT checks (split %s)\n", s ? s->name : "unknown, using 3G's kernel addresses");
    if (!s)
        s = &splits[0];
    const unsigned long ktext = s->page_offset + KERNEL_TEXT_OFFSET;
    char desc[96];
    const struct { const char *name; unsigned long addr; } bad[] = {
        { "NULL", 0 },
        { "0x1000", 0x1000 },
        { "kernel text", ktext },
        { "lowmem PAGE_OFFSET", s->page_offset },
        { "vmalloc", VMALLOC_PROBE },
        { "[vectors]", VECTORS },
    };
    const int nbad = (int)(sizeof bad / sizeof bad[0]);

    int fd = open(argv[0], O_RDONLY);
    if (fd < 0) {
        printf("efault: cannot open %s: %s\n", argv[0], strerror(errno));
        return 1;
    }
    for (int i = 0; i < nbad; i++) {
        snprintf(desc, sizeof desc, "write(1, %s 0x%lx, %d)", bad[i].name, bad[i].addr, LEN);
        CHECK(desc, syscall(SYS_write, 1, bad[i].addr, LEN));
    }
    for (int i = 0; i < nbad; i++) {
        snprintf(desc, sizeof desc, "read(file, %s 0x%lx, %d)", bad[i].name, bad[i].addr, LEN);
        CHECK(desc, syscall(SYS_read, fd, bad[i].addr, LEN));
        lseek(fd, 0, SEEK_SET);
    }
    snprintf(desc, sizeof desc, "read(file, text (read-only) %p, %d)", (void *)&main, LEN);
    CHECK(desc, syscall(SYS_read, fd, (unsigned long)&main & ~1UL, LEN));
    lseek(fd, 0, SEEK_SET);
    for (int i = 0; i < nbad; i++) {
        snprintf(desc, sizeof desc, "openat(AT_FDCWD, %s 0x%lx, O_RDONLY)", bad[i].name, bad[i].addr);
        CHECK(desc, syscall(SYS_openat, AT_FDCWD, bad[i].addr, O_RDONLY));
    }
    /* The first vector is empty, so a kernel that wrongly writes part of it prints nothing. */
    struct iovec iov[2] = { { (void *)"", 0 }, { (void *)ktext, LEN } };
    snprintf(desc, sizeof desc, "writev(1, [\"\", kernel text 0x%lx])", ktext);
    CHECK(desc, syscall(SYS_writev, 1, iov, 2));
    snprintf(desc, sizeof desc, "writev(1, iov = kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_writev, 1, ktext, 1));
    snprintf(desc, sizeof desc, "uname(kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_uname, ktext));
    snprintf(desc, sizeof desc, "getrusage(RUSAGE_SELF, kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_getrusage, 0, ktext));
    snprintf(desc, sizeof desc, "clock_gettime(CLOCK_MONOTONIC, kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_clock_gettime, 1, ktext));
    snprintf(desc, sizeof desc, "rt_sigaction(SIGUSR1, kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_rt_sigaction, SIGUSR1, ktext, 0, 8));
    snprintf(desc, sizeof desc, "rt_sigprocmask(SIG_BLOCK, kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_rt_sigprocmask, SIG_BLOCK, ktext, 0, 8));
    snprintf(desc, sizeof desc, "execve(kernel text 0x%lx, argv, envp)", ktext);
    CHECK(desc, syscall(SYS_execve, ktext, argv, 0));
    snprintf(desc, sizeof desc, "execve(self, argv = kernel text 0x%lx)", ktext);
    CHECK(desc, syscall(SYS_execve, argv[0], ktext, 0));
    close(fd);
    printf("efault: %d checks, %d failed\n", checks, failed);
    return failed ? 1 : 0;
}
