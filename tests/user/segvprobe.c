/* segvprobe.c - the fault table of LINUX_USER_FACTS §2: touches each address with a SIGSEGV/SIGBUS
 * handler installed (sigaction with SA_SIGINFO, siglongjmp back) and prints the signal and
 * si_code it got, one line per access, in the reference vmtest's format; then the mmap cases
 * (MAP_FIXED at 0, 0x1000, 0x2000, 0x8000, at TASK_SIZE, a low hint, MAP_FIXED_NOREPLACE).
 * The extended table (the `segv` program) adds a file page past EOF (SIGBUS), executing kernel
 * text and a non-executable mapping, and asking for kernel addresses with mmap and mprotect. */
#define _GNU_SOURCE
#include "segvprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Where the probes read the kernel's own memory (3G: the reference's addresses). */
#define KERNEL_TEXT_OFFSET 0x8000UL     /* the kernel image starts PAGE_OFFSET + 0x8000 */
#define VMALLOC_PROBE 0xf0000000UL      /* in (3G: just below) the vmalloc area on every split */
#define VECTORS 0xffff0000UL            /* [vectors]: the kuser helper page */
#define VECTORS_STUBS (VECTORS + PG)    /* the vector stubs page, not user-accessible */
/* arm64's KIMAGE_VADDR for a layout: MODULES_VADDR (-2^(VA_BITS-1), half of TASK_SIZE below 0)
 * plus the 128 MiB modules area. */
#define ARM64_KIMAGE_VADDR(s) (0UL - (s)->task_size / 2 + 0x8000000UL)

static sigjmp_buf probe_env;
static volatile sig_atomic_t got_sig;
static volatile int got_code;
static void *volatile got_addr;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(probe_env, 1);
}

static const char *code_name(int sig, int code)
{
    if (sig == SIGSEGV) {
        switch (code) {
        case SEGV_MAPERR: return "SEGV_MAPERR";
        case SEGV_ACCERR: return "SEGV_ACCERR";
        }
    } else if (sig == SIGBUS) {
        switch (code) {
        case BUS_ADRALN: return "BUS_ADRALN";
        case BUS_ADRERR: return "BUS_ADRERR";
        case BUS_OBJERR: return "BUS_OBJERR";
        }
    }
    if (code == SI_KERNEL)
        return "SI_KERNEL";
    return "?";
}

enum access { READ, WRITE, EXEC };
static const char *const access_name[] = { "read", "write", "exec" };

static void report(const char *desc, enum access how, unsigned long addr)
{
    printf("  %-40s %-5s %p: ", desc, access_name[how], (void *)addr);
    if (!got_sig)
        printf("no fault\n");
    else
        printf("signal %d (%s) si_code=%d (%s) si_addr=%p\n", (int)got_sig, strsignal(got_sig),
               got_code, code_name(got_sig, got_code), got_addr);
    fflush(stdout);
}

/* One access with the handler armed. Writes store the byte already there (when readable), so
 * a kernel that wrongly allows the write changes nothing. */
static void probe(const char *desc, enum access how, unsigned long addr)
{
    volatile unsigned char *p = (volatile unsigned char *)addr;
    got_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0) {
        if (how == READ) {
            (void)*p;
        } else if (how == WRITE) {
            *p = 0;
        } else {
            void (*fn)(void) = (void (*)(void))addr;
            fn();
        }
    }
    report(desc, how, addr);
}

/* A write that stores back what it read: the read must succeed (text, rodata) first. */
static void probe_rewrite(const char *desc, unsigned long addr)
{
    volatile unsigned char *p = (volatile unsigned char *)addr;
    unsigned char v = *p;
    got_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0)
        *p = v;
    report(desc, WRITE, addr);
}

static void mmap_case(const char *desc, unsigned long addr, int flags)
{
    void *p = mmap((void *)addr, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    int err = errno;
    if (p == MAP_FAILED) {
        printf("  %s -> %p (%s)\n", desc, p, strerror(err));
    } else {
        printf("  %s -> %p (%s)\n", desc, p, (unsigned long)p == addr ? "ok" : "placed elsewhere");
        munmap(p, PG);
    }
}

static const char rodata_str[] = "a string in .rodata";
int segv_probes(const struct split *s, unsigned long text, int extended, const char *self_path)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    char desc[64];
    printf("SEGV probes (handler catches, siglongjmp back)\n");
    probe("NULL", READ, 0);
    probe("NULL", WRITE, 0);
    probe("0x1000 (below text, >= mmap_min_addr)", READ, 0x1000);
#if defined(__aarch64__)
    probe("0x3ffffc (just below 0x400000 text)", READ, 0x3ffffc); /* arm64's static text */
#else
    probe("0xfffc (just below 0x10000 text)", READ, 0xfffc);
#endif
    probe("text (main)", READ, text);
    probe_rewrite("text (main)", text);
    probe_rewrite("rodata", (unsigned long)rodata_str);
#if defined(__aarch64__)
    if (s) {
        /* arm64 6.1: the linear map at PAGE_OFFSET, nothing between the halves (TASK_SIZE is
         * outside TTBR0's range), the image at KIMAGE_VADDR = MODULES_END, 128 MiB above
         * MODULES_VADDR = -2^(VA_BITS-1). */
        snprintf(desc, sizeof desc, "linear map 0x%016lx", s->page_offset + KERNEL_TEXT_OFFSET);
        probe(desc, READ, s->page_offset + KERNEL_TEXT_OFFSET);
        snprintf(desc, sizeof desc, "TASK_SIZE 0x%016lx", s->task_size);
        probe(desc, READ, s->task_size);
        snprintf(desc, sizeof desc, "kernel image 0x%016lx", ARM64_KIMAGE_VADDR(s));
        probe(desc, READ, ARM64_KIMAGE_VADDR(s));
    }
    printf("  [vectors] probes skipped: arm64 has no [vectors] page\n");
#else
    if (s) {
        snprintf(desc, sizeof desc, "kernel lowmem 0x%08lx", s->page_offset + KERNEL_TEXT_OFFSET);
        probe(desc, READ, s->page_offset + KERNEL_TEXT_OFFSET);
        snprintf(desc, sizeof desc, "modules area 0x%08lx", s->task_size);
        probe(desc, READ, s->task_size);
        snprintf(desc, sizeof desc, "vmalloc 0x%08lx", VMALLOC_PROBE);
        probe(desc, READ, VMALLOC_PROBE);
    } else {
        printf("  kernel-address probes skipped: the split is unknown (TASK_SIZE is none of "
               "0x%08lx, 0x%08lx, 0x%08lx); name it: 3G, 2G or 1G\n",
               splits[0].task_size, splits[1].task_size, splits[2].task_size);
    }
    probe("[vectors] 0xffff0000", READ, VECTORS);
    probe("[vectors] 0xffff0000", WRITE, VECTORS);
    probe("[vectors] page 2 0xffff1000", READ, VECTORS_STUBS);
#endif

    /* Two one-page mappings, placed top-down: PROT_NONE above, PROT_READ below it. */
    unsigned char *none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none != MAP_FAILED)
        probe("PROT_NONE mapping", READ, (unsigned long)none);
    if (ro != MAP_FAILED) {
        probe("PROT_READ anon mapping", READ, (unsigned long)ro);
        probe("PROT_READ anon mapping", WRITE, (unsigned long)ro);
    }

    if (extended) {
        if (ro != MAP_FAILED)
            probe("PROT_READ anon mapping (no PROT_EXEC)", EXEC, (unsigned long)ro);
        if (s) {
#if defined(__aarch64__)
            snprintf(desc, sizeof desc, "kernel text 0x%016lx", ARM64_KIMAGE_VADDR(s));
            probe(desc, EXEC, ARM64_KIMAGE_VADDR(s));
#else
            snprintf(desc, sizeof desc, "kernel text 0x%08lx", s->page_offset + KERNEL_TEXT_OFFSET);
            probe(desc, EXEC, s->page_offset + KERNEL_TEXT_OFFSET);
#endif
        }
        /* A file mapping one page longer than the file (rounded up): that page is past EOF. */
        int fd = self_path ? open(self_path, O_RDONLY) : -1;
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            size_t len = ((size_t)st.st_size + PG - 1) / PG * PG + PG;
            unsigned char *f = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (f != MAP_FAILED) {
                probe("file page past EOF", READ, (unsigned long)(f + len - PG));
                munmap(f, len);
            } else {
                printf("  file page past EOF: mmap of %s failed: %s\n", self_path, strerror(errno));
            }
        } else {
            printf("  file page past EOF: cannot open %s: %s\n", self_path ? self_path : "(none)",
                   strerror(errno));
        }
        if (fd >= 0)
            close(fd);
    }
    if (none != MAP_FAILED)
        munmap(none, PG);
    if (ro != MAP_FAILED)
        munmap(ro, PG);

    mmap_case("mmap(0, MAP_FIXED)", 0, MAP_FIXED);
    mmap_case("mmap(0x1000, MAP_FIXED)", 0x1000, MAP_FIXED);
    mmap_case("mmap(0x2000, MAP_FIXED)", 0x2000, MAP_FIXED);
    mmap_case("mmap(0x8000, MAP_FIXED)", 0x8000, MAP_FIXED);
    void *hint = mmap((void *)0x1000, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hint == MAP_FAILED) {
        printf("  mmap(hint 0x1000, no MAP_FIXED) -> %p (%s)\n", hint, strerror(errno));
    } else {
        printf("  mmap(hint 0x1000, no MAP_FIXED) -> %p\n", hint);
        munmap(hint, PG);
    }
    if (s) {
        snprintf(desc, sizeof desc, "mmap(0x%lx=TASK_SIZE, MAP_FIXED)", s->task_size);
        mmap_case(desc, s->task_size, MAP_FIXED);
        snprintf(desc, sizeof desc, "mmap(0x%lx, MAP_FIXED_NOREPLACE)", s->task_size - PG);
        mmap_case(desc, s->task_size - PG, MAP_FIXED_NOREPLACE);
        if (extended) {
            snprintf(desc, sizeof desc, "mmap(0x%lx=PAGE_OFFSET, MAP_FIXED)", s->page_offset);
            mmap_case(desc, s->page_offset, MAP_FIXED);
            unsigned long ktext = s->page_offset + KERNEL_TEXT_OFFSET;
            int r = mprotect((void *)ktext, PG, PROT_READ | PROT_WRITE);
            printf("  mprotect(0x%lx kernel text, PROT_READ|PROT_WRITE) -> %d (%s)\n", ktext, r,
                   r == 0 ? "ok" : strerror(errno));
            r = munmap((void *)s->page_offset, PG);
            printf("  munmap(0x%lx=PAGE_OFFSET) -> %d (%s)\n", s->page_offset, r,
                   r == 0 ? "ok" : strerror(errno));
        }
    }
    fflush(stdout);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    return 0;
}
