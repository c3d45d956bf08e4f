/* vmbench.c - cost per process operation in nanoseconds, which under QEMU's -icount shift=0
 * are guest instructions (scripts/bench-proc.sh). The operations and their measuring loops are
 * the reference's `vmtest time` (LINUX_USER_FACTS §5), so pivm's figures sit next to Linux's;
 * each is the minimum over a few repetitions (the one that no timer interrupt landed in), and
 * each is measured again with extra VMAs mapped and with other processes alive, to show whether
 * the cost grows with them.
 *
 *   vmbench [PAGES]   PAGES pages per touch/munmap run (default 256, as `vmtest time 256`)
 *   vmbench nop       exits at once (the fork+execve row's child)
 *   vmbench loop OP N [P [V]]  repeats one operation N times and prints nothing else (for a
 *                     profile: OP is getpid, touch (first write + munmap of PAGES=256), mmap,
 *                     fork, exec), with P sleeping children alive meanwhile (default 0) and V
 *                     extra one-page VMAs mapped (default 0), each touched run first once as
 *                     in the scaling rows
 *
 * Output, one line per figure (scripts/bench-proc.sh parses it):
 *   vmbench: OP vmas=V procs=P ns=N
 * V is the number of extra one-page VMAs the process holds, P the number of other processes
 * (children sleeping in nanosleep) alive during the measurement. Runs unchanged on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* Calls per getpid batch, and batches. */
#define GETPID_CALLS 1000
#define GETPID_BATCHES 5
/* Repetitions of each measurement; the minimum is reported. */
#define TOUCH_REPS 5
#define MMAP_REPS 50
#define FORK_REPS 10
#define EXEC_REPS 5
#define MAX_EXTRA 1000
#define MAX_PROCS 50

static const char *self_path;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void row(const char *op, int vmas, int procs, uint64_t ns)
{
    printf("vmbench: %s vmas=%d procs=%d ns=%llu\n", op, vmas, procs, (unsigned long long)ns);
    fflush(stdout);
}

static uint64_t bench_getpid(void)
{
    uint64_t best = UINT64_MAX;
    for (int b = 0; b < GETPID_BATCHES; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < GETPID_CALLS; i++)
            syscall(SYS_getpid);
        best = min_u64(best, (now_ns() - t0) / GETPID_CALLS);
    }
    return best;
}

/* First write to each of n anonymous pages, the re-touch, and munmap, each per page. */
static int bench_touch(long n, uint64_t *first, uint64_t *retouch, uint64_t *unmap)
{
    size_t len = (size_t)n * PG;
    *first = *retouch = *unmap = UINT64_MAX;
    for (int r = 0; r < TOUCH_REPS; r++) {
        volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("vmbench: mmap of %ld pages failed: %s\n", n, strerror(errno));
            return -1;
        }
        uint64_t a = now_ns();
        for (long i = 0; i < n; i++)
            p[i * PG] = 1;
        uint64_t b = now_ns();
        for (long i = 0; i < n; i++)
            p[i * PG] = 2;
        uint64_t c = now_ns();
        munmap((void *)p, len);
        uint64_t d = now_ns();
        *first = min_u64(*first, (b - a) / (uint64_t)n);
        *retouch = min_u64(*retouch, (c - b) / (uint64_t)n);
        *unmap = min_u64(*unmap, (d - c) / (uint64_t)n);
    }
    return 0;
}

static uint64_t bench_mmap_1m(void)
{
    const size_t mib = 1 << 20;
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < MMAP_REPS; r++) {
        uint64_t a = now_ns();
        void *p = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(p, mib);
        best = min_u64(best, now_ns() - a);
    }
    return best;
}

static uint64_t bench_fork(void)
{
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < FORK_REPS; r++) {
        int status;
        uint64_t a = now_ns();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0) {
            printf("vmbench: fork failed: %s\n", strerror(errno));
            return 0;
        }
        waitpid(pid, &status, 0);
        best = min_u64(best, now_ns() - a);
    }
    return best;
}

static uint64_t bench_exec(void)
{
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < EXEC_REPS; r++) {
        int status;
        uint64_t a = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = { (char *)self_path, "nop", NULL };
            execv(self_path, argv);
            _exit(127);
        }
        if (pid < 0) {
            printf("vmbench: fork failed: %s\n", strerror(errno));
            return 0;
        }
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("vmbench: exec of %s failed (status %#x)\n", self_path, status);
            return 0;
        }
        best = min_u64(best, now_ns() - a);
    }
    return best;
}

/* Maps `count` one-page VMAs that cannot merge (alternating protections), returns how many. */
static int map_extra(void **pages, int have, int count)
{
    for (int i = have; i < count; i++) {
        int prot = (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
        void *p = mmap(NULL, PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("vmbench: extra mapping %d failed: %s\n", i, strerror(errno));
            return i;
        }
        pages[i] = p;
    }
    return count;
}

/* Children that sleep until killed. */
static int spawn_sleepers(pid_t *pids, int have, int count)
{
    for (int i = have; i < count; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            struct timespec ts = { 100000, 0 };
            for (;;)
                nanosleep(&ts, NULL);
        }
        if (pid < 0) {
            printf("vmbench: fork of sleeper %d failed: %s\n", i, strerror(errno));
            return i;
        }
        pids[i] = pid;
    }
    return count;
}

static void reap_sleepers(pid_t *pids, int count)
{
    for (int i = 0; i < count; i++)
        kill(pids[i], SIGKILL);
    for (int i = 0; i < count; i++)
        waitpid(pids[i], NULL, 0);
}

int main(int argc, char **argv)
{
    static void *extra[MAX_EXTRA];
    static pid_t sleepers[MAX_PROCS];
    static const int vma_steps[] = { 1, 100, 1000 };
    static const int proc_steps[] = { 1, 10, 50 };
    long n = 256;
    uint64_t first, retouch, unmap;

    self_path = argv[0];
    if (argc > 1 && !strcmp(argv[1], "nop"))
        return 0;
    if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "loop")) {
        long count = strtol(argv[3], NULL, 0);
        int procs = argc >= 5 ? (int)strtol(argv[4], NULL, 0) : 0;
        int vmas = argc == 6 ? (int)strtol(argv[5], NULL, 0) : 0;
        if (procs < 0 || procs > MAX_PROCS) {
            fprintf(stderr, "vmbench loop: PROCS is 0-%d\n", MAX_PROCS);
            return 2;
        }
        if (vmas < 0 || vmas > MAX_EXTRA) {
            fprintf(stderr, "vmbench loop: VMAS is 0-%d\n", MAX_EXTRA);
            return 2;
        }
        if (map_extra(extra, 0, vmas) < vmas)
            return 1;
        /* The scaling rows run the touch benchmark before mmap: the same state here. */
        if (vmas > 0 && bench_touch(n, &first, &retouch, &unmap))
            return 1;
        if (spawn_sleepers(sleepers, 0, procs) < procs)
            return 1;
        if (procs > 0) {
            /* Time for every sleeper to start and fall asleep, so that their start is not
             * counted in a profile's difference of two runs. */
            struct timespec settle = { 0, 50000000 };
            nanosleep(&settle, NULL);
        }
        for (long i = 0; i < count; i++) {
            if (!strcmp(argv[2], "getpid"))
                syscall(SYS_getpid);
            else if (!strcmp(argv[2], "touch"))
                bench_touch(n, &first, &retouch, &unmap);
            else if (!strcmp(argv[2], "mmap"))
                bench_mmap_1m();
            else if (!strcmp(argv[2], "fork"))
                bench_fork();
            else if (!strcmp(argv[2], "exec"))
                bench_exec();
            else {
                fprintf(stderr, "vmbench loop: unknown operation %s\n", argv[2]);
                return 2;
            }
        }
        reap_sleepers(sleepers, procs);
        return 0;
    }
    if (argc > 1) {
        n = strtol(argv[1], NULL, 0);
        if (n <= 0 || n > 65536) {
            fprintf(stderr, "usage: vmbench [PAGES (1-65536)] | vmbench nop\n");
            return 2;
        }
    }
    printf("vmbench: pages=%ld (ns = guest instructions under -icount shift=0)\n", n);

    /* The plain figures, as `vmtest time` measures them. */
    row("getpid", 0, 0, bench_getpid());
    if (bench_touch(n, &first, &retouch, &unmap))
        return 1;
    row("first-touch", 0, 0, first);
    row("re-touch", 0, 0, retouch);
    row("munmap-page", 0, 0, unmap);
    row("mmap-munmap-1m", 0, 0, bench_mmap_1m());
    row("fork-exit-wait", 0, 0, bench_fork());
    row("fork-exec-wait", 0, 0, bench_exec());

    /* The same with more VMAs in this process. */
    int have = 0;
    for (unsigned s = 0; s < sizeof vma_steps / sizeof vma_steps[0]; s++) {
        int v = vma_steps[s];
        have = map_extra(extra, have, v);
        if (have < v)
            return 1;
        row("getpid", v, 0, bench_getpid());
        if (bench_touch(n, &first, &retouch, &unmap))
            return 1;
        row("first-touch", v, 0, first);
        row("munmap-page", v, 0, unmap);
        row("mmap-munmap-1m", v, 0, bench_mmap_1m());
        row("fork-exit-wait", v, 0, bench_fork());
    }
    for (int i = 0; i < have; i++)
        munmap(extra[i], PG);

    /* fork+exit+wait with other processes alive. */
    int alive = 0;
    for (unsigned s = 0; s < sizeof proc_steps / sizeof proc_steps[0]; s++) {
        int p = proc_steps[s];
        alive = spawn_sleepers(sleepers, alive, p);
        if (alive < p) {
            reap_sleepers(sleepers, alive);
            return 1;
        }
        row("getpid", 0, p, bench_getpid());
        row("fork-exit-wait", 0, p, bench_fork());
    }
    reap_sleepers(sleepers, alive);
    printf("vmbench: done\n");
    return 0;
}
