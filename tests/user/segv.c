/* segv - the SIGSEGV/SIGBUS table of LINUX_USER_FACTS §2 with a handler installed: each access
 * prints the signal and si_code it got. `segv [3G|2G|1G|auto]` picks the split whose kernel
 * addresses are probed; auto (the default) finds TASK_SIZE with MAP_FIXED_NOREPLACE. Beyond the
 * reference's table it also executes kernel text and a non-executable mapping, reads a file page
 * past EOF (SIGBUS) and asks mmap/mprotect/munmap for kernel addresses. Exits 0 when done.
 * On arm64 (`segv [va48|va39|auto]`) the layout is arm64 6.1's for the VA size, found as the
 * 32-bit splits are: by asking the kernel for a page at 2^39 with MAP_FIXED_NOREPLACE (ENOMEM:
 * TASK_SIZE is 2^39); the program then reads the CPU's ID registers with MRS, which the kernel
 * emulates (CRm 1 stays SIGILL). */
#define _GNU_SOURCE
#include "common.h"
#include "segvprobe.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#if defined(__aarch64__)
#include <errno.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* The smaller VA size arm64 builds: a page at 2^39 is out of range only there. */
#define VA_BITS_MIN 39
static struct split arm64_split;

/* 1 when the kernel maps a page at addr (or one is there), 0 when addr is past TASK_SIZE. */
static int user_page_at(unsigned long addr)
{
    void *p = mmap((void *)addr, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return errno == EEXIST;
    munmap(p, PG);
    return 1;
}

/* arm64 6.1's layout for VA_BITS: PAGE_OFFSET = -2^VA_BITS, TASK_SIZE = 2^VA_BITS. */
static const struct split *arm64_split_find(const char *arg)
{
    unsigned va_bits;
    if (strcmp(arg, "auto") == 0)
        va_bits = user_page_at(1UL << VA_BITS_MIN) ? 48 : 39;
    else if (strcmp(arg, "va48") == 0)
        va_bits = 48;
    else if (strcmp(arg, "va39") == 0)
        va_bits = 39;
    else
        return NULL;
    arm64_split.name = va_bits == 48 ? "va48" : "va39";
    arm64_split.page_offset = -(1UL << va_bits);
    arm64_split.task_size = 1UL << va_bits;
    return &arm64_split;
}

static sigjmp_buf ill_env;
static volatile int ill_code;

static void on_sigill(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    ill_code = si->si_code;
    siglongjmp(ill_env, 1);
}

/* One MRS at EL0: the kernel's emulation answers it (6.1's emulate_mrs) or it is SIGILL. */
#define READ_ID(name, enc)                                                                           \
    do {                                                                                             \
        volatile unsigned long v = 0;                                                                \
        ill_code = 0;                                                                                \
        if (sigsetjmp(ill_env, 1) == 0) {                                                            \
            unsigned long t;                                                                         \
            __asm__ volatile("mrs %0, " enc : "=r"(t));                                              \
            v = t;                                                                                   \
        }                                                                                            \
        if (ill_code)                                                                                \
            printf("  mrs %-18s -> SIGILL si_code=%d%s\n", name, ill_code,                           \
                   ill_code == ILL_ILLOPC ? " (ILL_ILLOPC)" : "");                                    \
        else                                                                                         \
            printf("  mrs %-18s -> 0x%016lx\n", name, (unsigned long)v);                             \
    } while (0)

static void id_registers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigill;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGILL, &sa, NULL);
    printf("ID registers (MRS at EL0, emulated by the kernel)\n");
    READ_ID("MIDR_EL1", "S3_0_C0_C0_0");
    READ_ID("MPIDR_EL1", "S3_0_C0_C0_5");
    READ_ID("ID_AA64PFR0_EL1", "S3_0_C0_C4_0");
    READ_ID("ID_AA64DFR0_EL1", "S3_0_C0_C5_0");
    READ_ID("ID_AA64ISAR0_EL1", "S3_0_C0_C6_0");
    READ_ID("ID_AA64ISAR1_EL1", "S3_0_C0_C6_1");
    READ_ID("ID_AA64MMFR0_EL1", "S3_0_C0_C7_0");
    READ_ID("ID_AA64MMFR2_EL1", "S3_0_C0_C7_2");
    READ_ID("ID_PFR0_EL1", "S3_0_C0_C1_0");
    signal(SIGILL, SIG_DFL);
    fflush(stdout);
}
#endif

int main(int argc, char **argv)
{
    const char *arg = argc > 1 ? argv[1] : "auto";
#if defined(__aarch64__)
    const struct split *s = arm64_split_find(arg);
    if (!s) {
        fprintf(stderr, "usage: segv [va48|va39|auto]  ('%s' is not a VA size)\n", arg);
        return 2;
    }
    printf("VA_BITS %s: PAGE_OFFSET 0x%016lx, TASK_SIZE 0x%016lx (%s)\n", s->name, s->page_offset,
           s->task_size, strcmp(arg, "auto") ? "as given" : "found by probing TASK_SIZE");
    fflush(stdout);
    int r = segv_probes(s, (unsigned long)&main, 1, argv[0]);
    id_registers();
    return r;
#else
    const struct split *s = split_find(arg);
    if (!s && strcmp(arg, "auto") != 0) {
        fprintf(stderr, "usage: segv [3G|2G|1G|auto]  ('%s' is not a split)\n", arg);
        return 2;
    }
    if (s)
        printf("split %s: PAGE_OFFSET 0x%08lx, TASK_SIZE 0x%08lx (%s)\n", s->name, s->page_offset, s->task_size,
               strcmp(arg, "auto") ? "as given" : "found by probing TASK_SIZE");
    else
        printf("split unknown: TASK_SIZE is none of 0x%08lx, 0x%08lx, 0x%08lx\n", splits[0].task_size,
               splits[1].task_size, splits[2].task_size);
    fflush(stdout);
    return segv_probes(s, (unsigned long)&main, 1, argv[0]);
#endif
}
