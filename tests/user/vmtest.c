/* vmtest - measures what each memory access pattern costs a process in page faults, as the
 * reference transcripts of Linux 6.1 on QEMU's raspi2b show them (shared/samples/
 * linux-6.1-raspi2b-user: faults.txt, icount.txt, layout.txt, swap.txt), in the same format, so
 * that a run on pivm can be compared line by line with a run on Linux.
 *
 * Every step is measured with getrusage(RUSAGE_SELF) before and after it and printed as
 * "+minflt/+majflt"; N pages means one byte touched per page, in address order. Run without
 * arguments for the list of subcommands. Exits 0 when it ran to completion. */
#define _GNU_SOURCE
#include "common.h"
#include "segvprobe.h"

#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DELTA 32 /* room for one "+min/+maj" */
#define SMAPS_FIRST_VMA_LINES 24 /* one smaps entry: the maps line, 22 fields, VmFlags */
#define BSS_ARR_PAGES 6

/* Linker-defined bounds of the image (GNU ld and glibc's crt1.o). */
extern char __executable_start[], etext[], _edata[], end[];

int data_var = 42;                          /* in .data */
int bss_var;                                /* in .bss */
static char bss_arr[BSS_ARR_PAGES * PG];    /* .bss pages nothing touches before `exec`'s fork test */
/* A .data page of its own (initialised, so in the file's data segment), written only by the
 * fork test: the child's first write is a copy-on-write fault, the parent's after the child
 * exits is a fault on a page fork write-protected. */
static char data_page[PG] __attribute__((aligned(PG))) = { 1 };
static const char rodata_str[] = "vmtest rodata string";

int main(int argc, char **argv);

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

static long parse_count(const char *s)
{
    char *e;
    errno = 0;
    long n = strtol(s, &e, 0);
    if (errno || *e || n <= 0) {
        fprintf(stderr, "vmtest: '%s' is not a positive page count\n", s);
        exit(2);
    }
    return n;
}

/* ---- measuring ---------------------------------------------------------------------------- */

/* The faults `op` took, as "+minflt/+majflt" in `delta`. */
#define FAULTS(delta, op)                                                                          \
    do {                                                                                           \
        struct flt fa_ = faults_now();                                                             \
        op;                                                                                        \
        struct flt fb_ = faults_now();                                                             \
        flt_delta(delta, DELTA, fa_, fb_);                                                         \
    } while (0)

/* One byte of each of n pages read (returns their sum) or written. Inlined, so a measured
 * step runs no text outside its caller's pages. */
static inline __attribute__((always_inline)) unsigned long read_pages(volatile unsigned char *p, long n)
{
    unsigned long sum = 0;
    for (long i = 0; i < n; i++)
        sum += p[i * PG];
    return sum;
}

static inline __attribute__((always_inline)) void write_pages(volatile unsigned char *p, long n, unsigned char v)
{
    for (long i = 0; i < n; i++)
        p[i * PG] = v;
}

/* ---- anonymous memory ------------------------------------------------------------------- */

static void anon(long n, int readfirst)
{
    char d[5][DELTA];
    size_t len = (size_t)n * PG;
    unsigned long sum = 0;
    volatile unsigned char *p;

    FAULTS(d[0], p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) {
        printf("anon N=%ld: mmap failed: %s\n", n, strerror(errno));
        return;
    }
    if (!readfirst) {
        FAULTS(d[1], write_pages(p, n, 1));
        FAULTS(d[2], sum += read_pages(p, n));
    } else {
        FAULTS(d[1], sum += read_pages(p, n));
        FAULTS(d[2], write_pages(p, n, 1));
    }
    FAULTS(d[3], write_pages(p, n, 2));
    FAULTS(d[4], munmap((void *)p, len));
    if (!readfirst)
        printf("anon N=%ld: mmap %s  write-touch %s  re-read %s  re-write %s  munmap %s  "
               "(minflt/majflt) sum=%lu\n", n, d[0], d[1], d[2], d[3], d[4], sum);
    else
        printf("anon-readfirst N=%ld: mmap %s  read-touch(zero page) %s  write-after-read %s  "
               "re-write %s  munmap %s  (minflt/majflt) sum=%lu\n", n, d[0], d[1], d[2], d[3], d[4], sum);
    fflush(stdout);
}

/* /proc/self/status's VmPTE in kB (-1 if missing). */
static long vm_pte_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmPTE: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* VmPTE before an mmap of N pages, after writing each, and after the munmap: munmap's
 * free_pgtables gives back every page table no other mapping shares. */
static void ptfree(long n)
{
    size_t len = (size_t)n * PG;
    long before = vm_pte_kb();
    volatile unsigned char *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("ptfree N=%ld: mmap failed: %s\n", n, strerror(errno));
        return;
    }
    write_pages(p, n, 1);
    long touched = vm_pte_kb();
    munmap((void *)p, len);
    long after = vm_pte_kb();
    printf("ptfree N=%ld: VmPTE %ld kB before, %ld kB touched, %ld kB after munmap\n", n, before,
           touched, after);
    fflush(stdout);
}

/* glibc's malloc: below M_MMAP_THRESHOLD (128 KiB) from the brk heap, above it a fresh mmap. */
static void malloc_test(long n)
{
    char d[4][DELTA];
    size_t len = (size_t)n * PG;
    unsigned long sum = 0;
    volatile unsigned char *p;

    char *brk0 = sbrk(0);
    FAULTS(d[0], p = malloc(len));
    char *brk1 = sbrk(0);
    if (!p) {
        printf("malloc N=%ld (%zu bytes): malloc failed\n", n, len);
        return;
    }
    FAULTS(d[1], write_pages(p, n, 1));
    FAULTS(d[2], sum += read_pages(p, n));
    /* A block between the end of bss and the brk is on the heap; anything else was mmapped. */
    uintptr_t addr = (uintptr_t)p;
    const char *where = (addr >= (uintptr_t)end && addr < (uintptr_t)brk1) ? "heap" : "mmap";
    FAULTS(d[3], free((void *)p));
    printf("malloc N=%ld (%zu bytes) -> 0x%lx (%s; brk %p -> %p): malloc %s  write-touch %s  re-read %s  "
           "free %s  sum=%lu\n", n, len, (unsigned long)addr, where, (void *)brk0, (void *)brk1, d[0], d[1], d[2],
           d[3], sum);
    fflush(stdout);
}

/* ---- the stack --------------------------------------------------------------------------- */

/* Touches n pages just below the caller's frame, from the top down as a growing stack would. */
static __attribute__((noinline)) void touch_below(long n)
{
    volatile unsigned char *buf = alloca((size_t)n * PG);
    for (long i = n - 1; i >= 0; i--)
        buf[i * PG] = 1;
}

static void stack_test(long n)
{
    char line[256], d[2][DELTA];
    printf("  before: %s\n", maps_line("[stack]", line, sizeof line) ? "(no [stack] line)" : line);
    fflush(stdout);
    FAULTS(d[0], touch_below(n));
    FAULTS(d[1], touch_below(n));
    printf("stack N=%ld: first touch %s  second touch %s (minflt/majflt)\n", n, d[0], d[1]);
    printf("  after : %s\n", maps_line("[stack]", line, sizeof line) ? "(no [stack] line)" : line);
    fflush(stdout);
}

/* ---- system calls into untouched memory -------------------------------------------------- */

/* The kernel's own accesses to user pages: read() into N never-touched anonymous pages (each
 * page a kernel-mode write fault, counted as a user fault is), the same read again (no fault),
 * write() from N other never-touched pages (each a kernel-mode read fault mapping the zero
 * page), then the program's own writes to those (copy-on-write from the zero page). */
static void sysio_test(const char *path, long n)
{
    char d[4][DELTA];
    size_t len = (size_t)n * PG;
    struct flt a, b;
    int fd = open(path, O_RDONLY);
    int out = open("/tmp/vmtest-sysio", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile unsigned char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fd < 0 || out < 0 || p == MAP_FAILED || q == MAP_FAILED) {
        printf("sysio %s N=%ld: set-up failed: %s\n", path, n, strerror(errno));
        return;
    }
    ssize_t r[3];
    a = faults_now();
    r[0] = read(fd, p, len);
    b = faults_now();
    flt_delta(d[0], DELTA, a, b);
    lseek(fd, 0, SEEK_SET);
    a = faults_now();
    r[1] = read(fd, p, len);
    b = faults_now();
    flt_delta(d[1], DELTA, a, b);
    a = faults_now();
    r[2] = write(out, (const void *)q, len);
    b = faults_now();
    flt_delta(d[2], DELTA, a, b);
    a = faults_now();
    for (long i = 0; i < n; i++)
        q[i * PG] = 1;
    b = faults_now();
    flt_delta(d[3], DELTA, a, b);
    printf("sysio N=%ld: read(file) into untouched %s  read again %s  write(file) from untouched %s  "
           "user write after %s (minflt/majflt; returned %zd %zd %zd)\n",
           n, d[0], d[1], d[2], d[3], r[0], r[1], r[2]);
    munmap(p, len);
    munmap((void *)q, len);
    close(fd);
    close(out);
    unlink("/tmp/vmtest-sysio");
}

/* ---- file mappings ----------------------------------------------------------------------- */

/* One measured step: faults and time around `op`. */
#define MEASURE(delta, ns, op)                                                                     \
    do {                                                                                           \
        struct flt fa_ = faults_now();                                                             \
        uint64_t ta_ = now_ns();                                                                   \
        op;                                                                                        \
        uint64_t tb_ = now_ns();                                                                   \
        struct flt fb_ = faults_now();                                                             \
        flt_delta(delta, DELTA, fa_, fb_);                                                         \
        ns = tb_ - ta_;                                                                            \
    } while (0)

/* fault_around_bytes: the window fault-around maps is aligned to it. */
#define FAULT_AROUND (64 * 1024)

/* mmap of a file, at an address aligned to FAULT_AROUND when `align` (a PROT_NONE
 * reservation, the file mapped MAP_FIXED into it, the rest given back), so that the
 * fault-around windows are the same on every run and every kernel. */
static volatile unsigned char *map_file(size_t len, int prot, int flags, int fd, int align)
{
    if (!align)
        return mmap(NULL, len, prot, flags, fd, 0);
    unsigned char *r = mmap(NULL, len + FAULT_AROUND, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return MAP_FAILED;
    uintptr_t a = ((uintptr_t)r + FAULT_AROUND - 1) & ~(uintptr_t)(FAULT_AROUND - 1);
    unsigned char *p = mmap((void *)a, len, prot, flags | MAP_FIXED, fd, 0);
    if ((uintptr_t)r < a)
        munmap(r, a - (uintptr_t)r);
    if (a + len < (uintptr_t)r + len + FAULT_AROUND)
        munmap((void *)(a + len), (uintptr_t)r + len + FAULT_AROUND - (a + len));
    return p;
}

static void file_test(const char *path, long n, int shared, int align)
{
    char d[5][DELTA];
    uint64_t ns[5] = { 0, 0, 0, 0, 0 };
    size_t len = (size_t)n * PG;
    unsigned long sum = 0;
    const char *kind = shared ? "MAP_SHARED" : "MAP_PRIVATE";
    int prot = shared ? PROT_READ : PROT_READ | PROT_WRITE;
    int flags = shared ? MAP_SHARED : MAP_PRIVATE;

    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        printf("file %s N=%ld %s: cannot open: %s\n", path, n, kind, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    if ((unsigned long long)st.st_size < len) {
        printf("file %s N=%ld %s: the file has only %lld pages\n", path, n, kind,
               (long long)st.st_size / (long long)PG);
        close(fd);
        return;
    }
    volatile unsigned char *p;
    MEASURE(d[0], ns[0], p = map_file(len, prot, flags, fd, align));
    if (p == MAP_FAILED) {
        printf("file %s N=%ld %s: mmap failed: %s\n", path, n, kind, strerror(errno));
        close(fd);
        return;
    }
    MEASURE(d[1], ns[1], sum += read_pages(p, n));
    MEASURE(d[2], ns[2], sum += read_pages(p, n));
    if (!shared)
        MEASURE(d[3], ns[3], for (long i = 0; i < n; i++) p[i * PG] = 0xff);
    munmap((void *)p, len);
    MEASURE(d[4], ns[4], p = map_file(len, prot, flags, fd, align); if (p != MAP_FAILED) sum += read_pages(p, n));
    if (p != MAP_FAILED)
        munmap((void *)p, len);
    close(fd);
    if (!shared)
        printf("file %s N=%ld %s: mmap %s  first-read %s (%llu ns)  re-read %s (%llu ns)  write(COW) %s "
               "(%llu ns)  remap+read %s (%llu ns)  sum=%lu\n", path, n, kind, d[0], d[1],
               (unsigned long long)ns[1], d[2], (unsigned long long)ns[2], d[3], (unsigned long long)ns[3],
               d[4], (unsigned long long)ns[4], sum);
    else
        printf("file %s N=%ld %s: mmap %s  first-read %s (%llu ns)  re-read %s (%llu ns)  remap+read %s "
               "(%llu ns)  sum=%lu\n", path, n, kind, d[0], d[1], (unsigned long long)ns[1], d[2],
               (unsigned long long)ns[2], d[4], (unsigned long long)ns[4], sum);
    fflush(stdout);
}

/* ---- processes --------------------------------------------------------------------------- */

static pid_t spawn(const char *self, const char *arg1, const char *arg2)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = { (char *)self, (char *)arg1, (char *)arg2, NULL };
        execv(self, argv);
        fprintf(stderr, "vmtest: execv %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    if (pid < 0)
        printf("vmtest: fork: %s\n", strerror(errno));
    return pid;
}

/* Waits (10 s at most) for a held child's SIGUSR1 saying it has printed its entry line; 0 when
 * it did, -1 when it exited first (then it has been reaped and its status printed). */
static int wait_ready(pid_t pid)
{
    for (int i = 0; i < 1000 && !got_usr1; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            printf("  child %d exited (status 0x%x) before it was ready\n", (int)pid, status);
            return -1;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (!got_usr1)
        printf("vmtest: child %d did not report ready within 10 s\n", (int)pid);
    got_usr1 = 0;
    return 0;
}

static void show_text_smaps(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    printf("--- %s (first VMA = text)\n", path);
    fflush(stdout);
    head_file(path, SMAPS_FIRST_VMA_LINES);
    fflush(stdout);
}

/* Writes the fork test's own .data page. */
static void write_data_page(void)
{
    *(volatile char *)data_page += 1;
}

/* Reads one .bss page that nothing touched before (the zero page gets mapped). */
static unsigned char read_bss_page(void)
{
    unsigned long a = (((unsigned long)bss_arr + PG - 1) & ~(PG - 1)) + PG;
    return *(volatile unsigned char *)a;
}

/* The child's and the parent's measurements go into slots written before the first one, so no
 * copy-on-write fault of a stack page (fork write-protected them all) lands inside a step. */
static void fork_test(void)
{
    char d[3][DELTA];
    struct rusage ru;
    struct flt m[6];
    int status;
    memset(m, 0, sizeof m);
    __asm__ volatile("" : : "r"(m) : "memory");
    write_data_page();
    fflush(stdout);
    m[0] = faults_now();
    pid_t pid = fork();
    if (pid == 0) {
        memset(m, 0, sizeof m);
        __asm__ volatile("" : : "r"(m) : "memory");
        m[1] = faults_now(); /* the child's counts start at zero at fork */
        m[2] = faults_now();
        write_data_page();
        m[3] = faults_now();
        m[4] = faults_now();
        (void)read_bss_page();
        m[5] = faults_now();
        printf("  fork child pid=%d: minflt at start=%ld  write .data %s  read .bss %s\n", (int)getpid(),
               m[1].min, flt_delta(d[0], DELTA, m[2], m[3]), flt_delta(d[1], DELTA, m[4], m[5]));
        fflush(stdout);
        _exit(0);
    }
    if (pid < 0) {
        printf("  fork: %s\n", strerror(errno));
        return;
    }
    wait4(pid, &status, 0, &ru);
    m[1] = faults_now();
    printf("  fork child total minflt=%ld majflt=%ld; parent faults across fork+wait %s\n", ru.ru_minflt,
           ru.ru_majflt, flt_delta(d[2], DELTA, m[0], m[1]));
    m[2] = faults_now();
    m[3] = faults_now();
    write_data_page();
    m[4] = faults_now();
    printf("  parent write .data after child exit %s (page was write-protected by fork)\n",
           flt_delta(d[2], DELTA, m[3], m[4]));
    fflush(stdout);
}

static void exec_test(const char *self)
{
    struct rusage ru;
    int status;
    signal(SIGUSR1, on_usr1);
    printf("EXEC parent pid=%d\n", (int)getpid());
    for (int i = 1; i <= 2; i++) {
        pid_t pid = spawn(self, "child", NULL);
        if (pid < 0)
            return;
        wait4(pid, &status, 0, &ru);
        printf("  sequential instance %d pid=%d: rusage of child total minflt=%ld majflt=%ld\n", i, (int)pid,
               ru.ru_minflt, ru.ru_majflt);
    }
    pid_t pa = spawn(self, "child", "hold");
    if (pa < 0 || wait_ready(pa) < 0) {
        fork_test();
        return;
    }
    show_text_smaps(pa);
    pid_t pb = spawn(self, "child", "hold");
    if (pb >= 0 && wait_ready(pb) < 0)
        pb = -1;
    if (pb >= 0) {
        show_text_smaps(pa);
        show_text_smaps(pb);
        kill(pb, SIGUSR1);
    }
    kill(pa, SIGUSR1);
    wait4(pa, &status, 0, &ru);
    printf("  concurrent A pid=%d total minflt=%ld majflt=%ld\n", (int)pa, ru.ru_minflt, ru.ru_majflt);
    if (pb >= 0) {
        wait4(pb, &status, 0, &ru);
        printf("  concurrent B pid=%d total minflt=%ld majflt=%ld\n", (int)pb, ru.ru_minflt, ru.ru_majflt);
    }
    fork_test();
}

/* The child `exec` starts: reports its faults at main entry (and at exit unless held; a held
 * child tells its parent it is ready with SIGUSR1 and waits for SIGUSR1 to end). */
static int child_mode(struct flt entry, int hold)
{
    printf("CHILD pid=%d at main entry: minflt=%ld majflt=%ld\n", (int)getpid(), entry.min, entry.maj);
    fflush(stdout);
    if (hold) {
        signal(SIGUSR1, on_usr1);
        kill(getppid(), SIGUSR1);
        while (!got_usr1) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        return 0;
    }
    struct flt f = faults_now();
    printf("CHILD pid=%d at exit: minflt=%ld majflt=%ld\n", (int)getpid(), f.min, f.maj);
    return 0;
}

/* ---- layout ------------------------------------------------------------------------------ */

static int layout(char **argv, int hold)
{
    int local = 0;
    char *brk0 = sbrk(0);
    void *m1 = malloc(100);
    char *brk1 = sbrk(0);
    void *m2 = malloc(100);
    void *big = malloc(1 << 20);
    void *anon16 = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    (void)m1;
    printf("LAYOUT pid=%d\n", (int)getpid());
    printf("  text  __executable_start=%p main=%p etext=%p rodata_str=%p\n", (void *)__executable_start,
           (void *)&main, (void *)etext, (void *)rodata_str);
    printf("  data  &data_var=%p edata=%p\n", (void *)&data_var, (void *)_edata);
    printf("  bss   &bss_var=%p bss_arr=%p end=%p\n", (void *)&bss_var, (void *)bss_arr, (void *)end);
    printf("  brk   sbrk(0) at start=%p, after malloc(100)=%p, malloc(100)=%p\n", (void *)brk0, (void *)brk1, m2);
    printf("  mmap  malloc(1MiB)=%p  mmap(16 pages anon)=%p\n", big, anon16);
    printf("  stack &local=%p argv[0]=%p environ[0]=%p\n", (void *)&local, (void *)argv[0],
           environ && environ[0] ? (void *)environ[0] : NULL);
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    printf("  auxv  AT_SYSINFO_EHDR(vdso)=%p AT_PHDR=%p AT_ENTRY=%p AT_RANDOM=%p AT_HWCAP=0x%lx AT_PAGESZ=%lu "
           "AT_PLATFORM=%s\n", (void *)getauxval(AT_SYSINFO_EHDR), (void *)getauxval(AT_PHDR),
           (void *)getauxval(AT_ENTRY), (void *)getauxval(AT_RANDOM), getauxval(AT_HWCAP),
           getauxval(AT_PAGESZ), platform ? platform : "(none)");
#ifdef __arm__
    /* The kuser helper page at 0xffff0000 is user-readable; its last word is the version. */
    printf("  kuser helper version word @0xffff0ffc = %d\n", *(volatile int *)0xffff0ffc);
#else
    printf("  kuser helper page: none on this architecture (arm64 has no [vectors] page)\n");
#endif
    printf("--- /proc/self/maps\n");
    fflush(stdout);
    cat_file("/proc/self/maps");
    print_self_stat("LAYOUT");
    if (hold) {
        printf("HOLDING pid=%d\n", (int)getpid());
        fflush(stdout);
        for (;;) {
            struct timespec ts = { 1, 0 };
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* ---- timing (under -icount shift=0 one nanosecond is one guest instruction) --------------- */

/* Insertion sort (R <= 200): glibc's qsort would ask the kernel for sysinfo. */
static void sort_u64(uint64_t *v, int n)
{
    for (int i = 1; i < n; i++) {
        uint64_t x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

#define TIME_CALLS 1000
#define MAX_R 200

static void report_min_median(const char *what, uint64_t *v, int r, long per)
{
    sort_u64(v, r);
    printf("  %s: min %llu median %llu ns", what, (unsigned long long)v[0], (unsigned long long)v[r / 2]);
    if (per)
        printf(" = %llu ns/page", (unsigned long long)(v[r / 2] / (uint64_t)per));
    printf(" (R=%d)", r);
}

/* A small read and write through user memory: RW_BYTES at offset 0 of a /tmp file, each
 * after an lseek back to 0 (glibc's lseek is _llseek, which stores the new offset in user
 * memory), so three figures: lseek alone, lseek + write, lseek + read. */
#define RW_BYTES 64
static void rw_time(void)
{
    char buf[RW_BYTES];
    memset(buf, 'x', sizeof buf);
    int fd = open("/tmp/vmtest-rw", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
        printf("  rw: /tmp/vmtest-rw: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    uint64_t t0 = now_ns();
    for (int i = 0; i < TIME_CALLS; i++)
        (void)lseek(fd, 0, SEEK_SET);
    uint64_t t1 = now_ns();
    for (int i = 0; i < TIME_CALLS; i++) {
        (void)lseek(fd, 0, SEEK_SET);
        (void)write(fd, buf, sizeof buf);
    }
    uint64_t t2 = now_ns();
    for (int i = 0; i < TIME_CALLS; i++) {
        (void)lseek(fd, 0, SEEK_SET);
        (void)read(fd, buf, sizeof buf);
    }
    uint64_t t3 = now_ns();
    printf("  lseek: %llu ns per call; lseek+write(%d B): %llu ns; lseek+read(%d B): %llu ns\n",
           (unsigned long long)((t1 - t0) / TIME_CALLS), RW_BYTES, (unsigned long long)((t2 - t1) / TIME_CALLS),
           RW_BYTES, (unsigned long long)((t3 - t2) / TIME_CALLS));
    close(fd);
    unlink("/tmp/vmtest-rw");
}

static void time_test(const char *self, long n, int reps)
{
    size_t len = (size_t)n * PG;
    uint64_t t0, t1, v[MAX_R];
    printf("TIME N=%ld pages, reps=%d (ns = guest instructions under -icount shift=0)\n", n, reps);
    t0 = now_ns();
    for (int i = 0; i < TIME_CALLS; i++)
        (void)now_ns();
    t1 = now_ns();
    printf("  clock_gettime: %llu ns per call\n", (unsigned long long)((t1 - t0) / (TIME_CALLS + 1)));
    t0 = now_ns();
    for (int i = 0; i < TIME_CALLS; i++)
        syscall(SYS_getpid);
    t1 = now_ns();
    printf("  syscall(getpid): %llu ns per call\n", (unsigned long long)((t1 - t0) / TIME_CALLS));
    rw_time();
    fflush(stdout);
    for (int rep = 0; rep < reps; rep++) {
        volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("  rep %d: mmap failed: %s\n", rep, strerror(errno));
            return;
        }
        struct flt fa = faults_now();
        uint64_t a = now_ns();
        for (long i = 0; i < n; i++)
            p[i * PG] = 1;
        uint64_t b = now_ns();
        struct flt fb = faults_now();
        for (long i = 0; i < n; i++)
            p[i * PG] = 2;
        uint64_t c = now_ns();
        unsigned long sum = 0;
        for (long i = 0; i < n; i++)
            sum += p[i * PG];
        uint64_t d = now_ns();
        munmap((void *)p, len);
        uint64_t e = now_ns();
        printf("  rep %d: first-touch write %llu ns total, %llu ns/page (%ld minflt); re-touch write %llu ns/page; "
               "re-read %llu ns/page; munmap(%ld touched pages) %llu ns = %llu ns/page\n", rep,
               (unsigned long long)(b - a), (unsigned long long)((b - a) / (uint64_t)n), fb.min - fa.min,
               (unsigned long long)((c - b) / (uint64_t)n), (unsigned long long)((d - c) / (uint64_t)n), n,
               (unsigned long long)(e - d), (unsigned long long)((e - d) / (uint64_t)n));
        (void)sum;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return;
        fa = faults_now();
        a = now_ns();
        for (long i = 0; i < n; i++)
            sum += p[i * PG];
        b = now_ns();
        fb = faults_now();
        struct flt fc = faults_now();
        c = now_ns();
        for (long i = 0; i < n; i++)
            p[i * PG] = 1;
        d = now_ns();
        struct flt fd = faults_now();
        munmap((void *)p, len);
        printf("  rep %d: read-first (zero page) %llu ns/page (%ld minflt); write-after-zero-page %llu ns/page "
               "(%ld minflt)\n", rep, (unsigned long long)((b - a) / (uint64_t)n), fb.min - fa.min,
               (unsigned long long)((d - c) / (uint64_t)n), fd.min - fc.min);
        fflush(stdout);
    }
    const size_t mib = 1 << 20;
    for (int r = 0; r < 200; r++) {
        uint64_t a = now_ns();
        void *p = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(p, mib);
        v[r] = now_ns() - a;
    }
    report_min_median("mmap+munmap 1MiB untouched", v, 200, 0);
    printf("\n");
    for (int r = 0; r < 20; r++) {
        uint64_t a = now_ns();
        volatile unsigned char *p = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (unsigned long i = 0; i < mib / PG; i++)
            p[i * PG] = 1;
        munmap((void *)p, mib);
        v[r] = now_ns() - a;
    }
    report_min_median("mmap+touch 256 pages+munmap 1MiB", v, 20, (long)(mib / PG));
    printf("\n");
    fflush(stdout);
    for (int r = 0; r < 30; r++) {
        int status;
        uint64_t a = now_ns();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        waitpid(pid, &status, 0);
        v[r] = now_ns() - a;
    }
    report_min_median("fork+_exit+waitpid", v, 30, 0);
    printf("\n");
    fflush(stdout);
    long child_minflt = -1;
    for (int r = 0; r < 10; r++) {
        int status;
        struct rusage ru;
        uint64_t a = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = { (char *)self, "nop", NULL };
            execv(self, argv);
            _exit(127);
        }
        wait4(pid, &status, 0, &ru);
        v[r] = now_ns() - a;
        child_minflt = ru.ru_minflt;
    }
    report_min_median("fork+execve(static vmtest nop)+exit+wait", v, 10, 0);
    printf("; nop child minflt=%ld\n", child_minflt);
    fflush(stdout);
}

/* ---- swap (the next issue's reference: swap.txt) ------------------------------------------- */

static void print_prefixed(const char *path, const char *const *keys, int nkeys)
{
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f) {
        printf("  cannot open %s: %s\n", path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (int i = 0; i < nkeys; i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0 && line[strlen(keys[i])] == ':')
                printf("  %s", line);
    fclose(f);
}

static const char *const meminfo_keys[] = { "MemTotal", "MemFree", "MemAvailable", "SwapCached", "SwapTotal",
                                            "SwapFree" };

struct vmstat {
    long pswpin, pswpout, pgfault, pgmajfault;
};

static struct vmstat vmstat_now(void)
{
    struct vmstat v = { 0, 0, 0, 0 };
    FILE *f = fopen("/proc/vmstat", "r");
    char name[64];
    long val;
    if (!f)
        return v;
    while (fscanf(f, "%63s %ld", name, &val) == 2) {
        if (!strcmp(name, "pswpin"))
            v.pswpin = val;
        else if (!strcmp(name, "pswpout"))
            v.pswpout = val;
        else if (!strcmp(name, "pgfault"))
            v.pgfault = val;
        else if (!strcmp(name, "pgmajfault"))
            v.pgmajfault = val;
    }
    fclose(f);
    return v;
}

static void swap_test(long mib, int passes)
{
    long n = mib * (long)((1 << 20) / PG);
    size_t len = (size_t)n * PG;
    printf("SWAP test: %ld MiB anonymous (%ld pages), then %d re-read passes\n", mib, n, passes);
    print_prefixed("/proc/meminfo", meminfo_keys, 6);
    fflush(stdout);
    volatile uint32_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("  mmap failed: %s\n", strerror(errno));
        return;
    }
    const long words = (long)(PG / sizeof(uint32_t));
    struct flt fa = faults_now();
    struct vmstat va = vmstat_now();
    uint64_t a = now_ns();
    for (long i = 0; i < n; i++)
        p[i * words] = (uint32_t)i;
    uint64_t b = now_ns();
    struct flt fb = faults_now();
    struct vmstat vb = vmstat_now();
    printf("  write pass: %llu ns (%llu ns/page) minflt +%ld majflt +%ld | vmstat pswpin +%ld pswpout +%ld "
           "pgfault +%ld pgmajfault +%ld\n", (unsigned long long)(b - a), (unsigned long long)((b - a) / (uint64_t)n),
           fb.min - fa.min, fb.maj - fa.maj, vb.pswpin - va.pswpin, vb.pswpout - va.pswpout,
           vb.pgfault - va.pgfault, vb.pgmajfault - va.pgmajfault);
    print_prefixed("/proc/meminfo", meminfo_keys, 6);
    fflush(stdout);
    for (int pass = 1; pass <= passes; pass++) {
        long bad = 0;
        fa = faults_now();
        va = vmstat_now();
        a = now_ns();
        for (long i = 0; i < n; i++)
            if (p[i * words] != (uint32_t)i)
                bad++;
        b = now_ns();
        fb = faults_now();
        vb = vmstat_now();
        long maj = fb.maj - fa.maj;
        printf("  re-read pass %d: %llu ns (%llu ns/page) minflt +%ld majflt +%ld bad=%ld | vmstat pswpin +%ld "
               "pswpout +%ld pgfault +%ld pgmajfault +%ld | %llu ns per major fault\n", pass,
               (unsigned long long)(b - a), (unsigned long long)((b - a) / (uint64_t)n), fb.min - fa.min, maj, bad,
               vb.pswpin - va.pswpin, vb.pswpout - va.pswpout, vb.pgfault - va.pgfault,
               vb.pgmajfault - va.pgmajfault, (unsigned long long)(maj ? (b - a) / (uint64_t)maj : 0));
        print_prefixed("/proc/meminfo", meminfo_keys, 6);
        fflush(stdout);
    }
    static const char *const status_keys[] = { "VmPeak", "VmSize", "VmHWM", "VmRSS", "RssAnon", "VmData", "VmSwap" };
    static const char *const rollup_keys[] = { "Rss", "Pss", "Anonymous", "Swap", "SwapPss" };
    printf("  /proc/self/status (mapping still held):\n");
    print_prefixed("/proc/self/status", status_keys, 7);
    printf("  /proc/self/smaps_rollup:\n");
    print_prefixed("/proc/self/smaps_rollup", rollup_keys, 5);
    print_self_stat("SWAP");
    munmap((void *)p, len);
}

/* ---- main -------------------------------------------------------------------------------- */

/* ---- the vDSO ----------------------------------------------------------------------------- */

/* The address of `name` in the vDSO at `ehdr`, found as glibc finds it: PT_DYNAMIC's symbol
 * and string tables (DT_HASH gives the symbol count), values relative to the PT_LOAD's vaddr. */
static void *vdso_sym(const Elf32_Ehdr *ehdr, const char *name)
{
    const char *base = (const char *)ehdr;
    const Elf32_Phdr *ph = (const Elf32_Phdr *)(base + ehdr->e_phoff);
    const Elf32_Dyn *dyn = NULL;
    long load = -1;
    for (int i = 0; i < ehdr->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && load < 0)
            load = (long)ph[i].p_offset - (long)ph[i].p_vaddr;
        else if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const Elf32_Dyn *)(base + ph[i].p_offset);
    }
    if (!dyn || load < 0)
        return NULL;
    const Elf32_Sym *sym = NULL;
    const char *str = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            sym = (const Elf32_Sym *)(base + load + dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_STRTAB)
            str = base + load + dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_HASH)
            hash = (const Elf32_Word *)(base + load + dyn->d_un.d_ptr);
    }
    if (!sym || !str || !hash)
        return NULL;
    for (Elf32_Word i = 0; i < hash[1]; i++)
        if (sym[i].st_name && sym[i].st_shndx != SHN_UNDEF && !strcmp(str + sym[i].st_name, name))
            return (void *)(base + load + sym[i].st_value);
    return NULL;
}

static uint64_t ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec;
}

/* CLOCK_* through the kernel: clock_gettime64 (what glibc calls without a vDSO); arm64 has
 * only clock_gettime, whose timespec is already 64-bit. */
#if defined(__aarch64__)
#define SYS_clock_gettime64 SYS_clock_gettime
#endif
static uint64_t sys_clock_ns(int clk)
{
    long long ts[2] = { 0, 0 };
    syscall(SYS_clock_gettime64, clk, ts);
    return (uint64_t)ts[0] * 1000000000ULL + (uint64_t)ts[1];
}

#define VDSO_LOOPS 20000

/* The vDSO as a program sees it: AT_SYSINFO_EHDR is the [vdso] mapping, its symbols resolve,
 * glibc's clock_gettime reads the time without entering the kernel and agrees with the
 * system call, and what each call costs (ns = guest instructions under -icount shift=0). */
static int vdso_test(void)
{
    const Elf32_Ehdr *ehdr = (const Elf32_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    char line[256];
    int bad = 0;
    printf("VDSO AT_SYSINFO_EHDR=%p\n", (void *)ehdr);
    if (!ehdr) {
        printf("VDSO none\n");
        return 1;
    }
    if (maps_line("[vdso]", line, sizeof line) == 0)
        printf("  maps %s\n", line);
    if (maps_line("[vvar]", line, sizeof line) == 0)
        printf("  maps %s\n", line);
    printf("  ELF magic %s, e_type %d, e_machine %d\n",
           memcmp(ehdr->e_ident, ELFMAG, SELFMAG) ? "BAD" : "ok", ehdr->e_type, ehdr->e_machine);
    static const char *const names[] = { "__vdso_gettimeofday", "__vdso_clock_gettime",
                                         "__vdso_clock_gettime64", "__vdso_clock_getres" };
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
        void *p = vdso_sym(ehdr, names[i]);
        printf("  symbol %s at +0x%lx\n", names[i], p ? (unsigned long)((char *)p - (char *)ehdr) : 0);
        bad |= !p;
    }

    /* The first read of the time touches [vvar]: one minor fault, as on Linux. */
    struct timespec t;
    struct flt f0 = faults_now();
    clock_gettime(CLOCK_MONOTONIC, &t);
    struct flt f1 = faults_now();
    char d[DELTA];
    printf("  first clock_gettime: %s faults\n", flt_delta(d, sizeof d, f0, f1));

    /* Monotonic, and between two readings of the system call. */
    const int clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME };
    const char *const cnames[] = { "REALTIME", "MONOTONIC", "MONOTONIC_RAW", "BOOTTIME" };
    for (unsigned c = 0; c < sizeof clocks / sizeof *clocks; c++) {
        uint64_t s0 = sys_clock_ns(clocks[c]), prev = 0, back = 0;
        for (int i = 0; i < VDSO_LOOPS; i++) {
            clock_gettime(clocks[c], &t);
            uint64_t v = ts_ns(&t);
            back += v < prev;
            prev = v;
        }
        uint64_t s1 = sys_clock_ns(clocks[c]);
        clock_gettime(clocks[c], &t);
        uint64_t v = ts_ns(&t);
        uint64_t s2 = sys_clock_ns(clocks[c]);
        int within = s1 <= v && v <= s2 && s0 <= prev && prev <= s1;
        printf("  %s: %d calls, %llu backwards, %s the system call's readings\n", cnames[c],
               VDSO_LOOPS, (unsigned long long)back, within ? "within" : "OUTSIDE");
        bad |= back != 0 || !within;
    }
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &c0);
    clock_gettime(CLOCK_MONOTONIC, &t);
    clock_gettime(CLOCK_MONOTONIC_COARSE, &c1);
    int coarse_ok = ts_ns(&c0) <= ts_ns(&t) && ts_ns(&c0) <= ts_ns(&c1);
    printf("  MONOTONIC_COARSE: %s\n", coarse_ok ? "not after MONOTONIC, not backwards" : "WRONG");
    bad |= !coarse_ok;
    struct timeval tv;
    int r = gettimeofday(&tv, NULL);
    printf("  gettimeofday: %d, tv_usec %s\n", r, tv.tv_usec >= 0 && tv.tv_usec < 1000000 ? "in range" : "OUT OF RANGE");
    struct timespec res = { -1, -1 };
    r = clock_getres(CLOCK_MONOTONIC, &res);
    printf("  clock_getres(MONOTONIC): %d, %ld s %ld ns\n", r, (long)res.tv_sec, res.tv_nsec);
    /* The vDSO's own clock_getres (glibc asks the kernel's clock_getres_time64 first). */
    int (*vdso_getres)(int, struct timespec *) =
        (int (*)(int, struct timespec *))vdso_sym(ehdr, "__vdso_clock_getres");
    res.tv_sec = res.tv_nsec = -1;
    r = vdso_getres ? vdso_getres(CLOCK_MONOTONIC, &res) : -1;
    printf("  __vdso_clock_getres(MONOTONIC): %d, %ld s %ld ns\n", r, (long)res.tv_sec, res.tv_nsec);
    bad |= r != 0 || res.tv_sec != 0 || res.tv_nsec <= 0;
    /* A clock the vDSO does not serve goes to the kernel. */
    r = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    printf("  PROCESS_CPUTIME_ID (system call): %d\n", r);

    /* A child inherits [vvar] and [vdso] at the same addresses and reads the same clock. */
    clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t before_fork = ts_ns(&t);
    pid_t child = fork();
    if (child == 0) {
        struct timespec ct;
        int ok = maps_line("[vdso]", line, sizeof line) == 0 &&
                 strtoul(line, NULL, 16) == (unsigned long)getauxval(AT_SYSINFO_EHDR) &&
                 clock_gettime(CLOCK_MONOTONIC, &ct) == 0 && ts_ns(&ct) >= before_fork;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(child, &status, 0);
    int child_ok = child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("  fork: the child's clock_gettime through the inherited [vdso]: %s\n", child_ok ? "ok" : "FAILED");
    bad |= !child_ok;

    /* Cost per call: glibc through the vDSO, and the same through the system call. */
    uint64_t a = now_ns();
    for (int i = 0; i < VDSO_LOOPS; i++)
        clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t b = now_ns();
    for (int i = 0; i < VDSO_LOOPS; i++)
        sys_clock_ns(CLOCK_MONOTONIC);
    uint64_t e = now_ns();
    printf("  cost: clock_gettime %llu ns per call (vDSO), syscall(clock_gettime64) %llu ns per call\n",
           (unsigned long long)((b - a) / VDSO_LOOPS), (unsigned long long)((e - b) / VDSO_LOOPS));
    printf("VDSO %s\n", bad ? "FAILED" : "ok");
    return bad;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: vmtest anon N...            mmap N anonymous pages: write, re-read, re-write, munmap\n"
            "       vmtest anonrd N...          the same, reading each page first (the shared zero page)\n"
            "       vmtest malloc N...          glibc malloc of N pages: write, re-read, free\n"
            "       vmtest ptfree N...          VmPTE before, after writing N anonymous pages, after munmap\n"
            "       vmtest stack N...           touch N pages below the stack pointer, twice\n"
            "       vmtest file PATH N...       MAP_PRIVATE file: read, re-read, write (COW), unmap+map+read\n"
            "       vmtest fileshared PATH N... MAP_SHARED file: read, re-read, unmap+map+read\n"
            "       vmtest filealigned PATH N.. the same at a 64 KiB-aligned address (fault-around)\n"
            "       vmtest entry                faults taken before main, and /proc/self/stat\n"
            "       vmtest exec                 fork+exec of itself: sequential, concurrent, fork COW\n"
            "       vmtest layout [hold]        addresses of every part of the image and /proc/self/maps\n"
            "       vmtest segv [3G|2G|1G|auto] the SIGSEGV table (kernel addresses for that split)\n"
            "       vmtest sysio PATH N...      read() into / write() from N untouched anonymous pages\n"
            "       vmtest dropcaches N         write N to /proc/sys/vm/drop_caches\n"
            "       vmtest time N REPS          costs in ns (guest instructions under -icount shift=0)\n"
            "       vmtest vdso                 the vDSO: its symbols, clock_gettime through it, its cost\n"
            "       vmtest swap MIB PASSES      write MIB of anonymous memory, re-read it PASSES times\n"
            "       vmtest norand PROG ARGS...  exec PROG with address-space randomisation off\n"
            "       vmtest null                 dereference NULL without a handler (dies)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct flt entry = faults_now(); /* first: the faults taken before main */
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "anon") || !strcmp(cmd, "anonrd")) {
        if (argc < 3)
            usage();
        for (int i = 2; i < argc; i++)
            anon(parse_count(argv[i]), cmd[4] == 'r');
        if (cmd[4] != 'r')
            print_self_stat("END");
    } else if (!strcmp(cmd, "ptfree")) {
        if (argc < 3)
            usage();
        for (int i = 2; i < argc; i++)
            ptfree(parse_count(argv[i]));
    } else if (!strcmp(cmd, "malloc")) {
        if (argc < 3)
            usage();
        for (int i = 2; i < argc; i++)
            malloc_test(parse_count(argv[i]));
    } else if (!strcmp(cmd, "stack")) {
        if (argc < 3)
            usage();
        for (int i = 2; i < argc; i++)
            stack_test(parse_count(argv[i]));
    } else if (!strcmp(cmd, "file") || !strcmp(cmd, "fileshared") || !strcmp(cmd, "filealigned")) {
        if (argc < 4)
            usage();
        for (int i = 3; i < argc; i++)
            file_test(argv[2], parse_count(argv[i]), cmd[4] != '\0', cmd[4] == 'a');
    } else if (!strcmp(cmd, "dropcaches")) {
        /* echo N > /proc/sys/vm/drop_caches, as a program does it. */
        if (argc < 3)
            usage();
        int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
        ssize_t n = fd < 0 ? -1 : write(fd, argv[2], strlen(argv[2]));
        printf("dropcaches %s: %s\n", argv[2], n < 0 ? strerror(errno) : "ok");
        if (fd >= 0)
            close(fd);
    } else if (!strcmp(cmd, "sysio")) {
        if (argc < 4)
            usage();
        for (int i = 3; i < argc; i++)
            sysio_test(argv[2], parse_count(argv[i]));
    } else if (!strcmp(cmd, "entry")) {
        printf("faults at main entry: minflt=%ld majflt=%ld\n", entry.min, entry.maj);
        print_self_stat("ENTRY");
    } else if (!strcmp(cmd, "exec")) {
        exec_test(argv[0]);
    } else if (!strcmp(cmd, "child")) {
        return child_mode(entry, argc > 2 && !strcmp(argv[2], "hold"));
    } else if (!strcmp(cmd, "nop")) {
        return 0;
    } else if (!strcmp(cmd, "layout")) {
        return layout(argv, argc > 2 && !strcmp(argv[2], "hold"));
    } else if (!strcmp(cmd, "segv")) {
        const struct split *s = split_find(argc > 2 ? argv[2] : NULL);
        if (!s && argc > 2 && strcmp(argv[2], "auto") != 0) {
            fprintf(stderr, "vmtest: unknown split '%s' (3G, 2G, 1G or auto)\n", argv[2]);
            return 2;
        }
        return segv_probes(s, (unsigned long)&main, 0, NULL);
    } else if (!strcmp(cmd, "vdso")) {
        return vdso_test();
    } else if (!strcmp(cmd, "time")) {
        if (argc < 4)
            usage();
        long reps = parse_count(argv[3]);
        time_test(argv[0], parse_count(argv[2]), (int)reps);
    } else if (!strcmp(cmd, "swap")) {
        if (argc < 4)
            usage();
        swap_test(parse_count(argv[2]), (int)parse_count(argv[3]));
    } else if (!strcmp(cmd, "norand")) {
        if (argc < 3)
            usage();
        if (personality(ADDR_NO_RANDOMIZE) == -1)
            printf("vmtest: personality(ADDR_NO_RANDOMIZE): %s\n", strerror(errno));
        fflush(stdout);
        execv(argv[2], argv + 2);
        printf("vmtest: execv %s: %s\n", argv[2], strerror(errno));
        return 1;
    } else if (!strcmp(cmd, "null")) {
        printf("dereferencing NULL...\n");
        fflush(stdout);
        return *(volatile int *)0;
    } else {
        usage();
    }
    return 0;
}
