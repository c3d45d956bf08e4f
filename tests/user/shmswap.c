/* shmswap - shared anonymous memory through swap: maps M MiB MAP_SHARED|MAP_ANONYMOUS (a
 * shmem object), writes a known pattern into every page, forks a child that checks every word
 * and writes a second pattern, then the parent checks every word of the child's pattern
 * (the pages are the same object's). With M above the free RAM and swap on, reclaim sends the
 * object's pages to swap (shmem_writepage) and faults bring them back (shmem_swapin_folio).
 *
 *   shmswap [-m MIB] [-h]
 *     -m  MiB of shared anonymous memory (default 16)
 *     -h  hold: after the parent's check print "SHMSWAP HOLDING", wait for SIGUSR1, then check
 *         every word again ("SHMSWAP RESUMED bad=N") before unmapping
 *
 * Each phase prints "SHMSWAP PHASE: minflt +A majflt +B bad=N | pswpin +C pswpout +D", and
 * after the write pass the object's smaps "Swap:" and /proc/self/status' RssShmem and VmSwap.
 * A page holds its index and the pass's seed in its first word, the complement in its last,
 * zeroes between. Exit status 0 when every word was right, 1 otherwise. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORDS ((long)(PG / sizeof(uint32_t)))
#define SEED_PARENT 0x5eed0001u
#define SEED_CHILD 0xc41d0002u

struct vmstat {
    long pswpin, pswpout;
};

struct mark {
    struct flt f;
    struct vmstat v;
};

static struct mark mark_now(void)
{
    struct mark m;
    m.v.pswpin = vmstat_value("pswpin");
    m.v.pswpout = vmstat_value("pswpout");
    m.f = faults_now();
    return m;
}

static void report(const char *phase, struct mark a, long bad)
{
    struct mark b = mark_now();
    printf("SHMSWAP %s: minflt +%ld majflt +%ld bad=%ld | pswpin +%ld pswpout +%ld\n", phase,
           b.f.min - a.f.min, b.f.maj - a.f.maj, bad, b.v.pswpin - a.v.pswpin, b.v.pswpout - a.v.pswpout);
    fflush(stdout);
}

static uint32_t first_word(long page, uint32_t seed)
{
    return (uint32_t)page * 2654435761u ^ seed;
}

static void write_pattern(volatile uint32_t *p, long n, uint32_t seed)
{
    for (long i = 0; i < n; i++) {
        p[i * WORDS] = first_word(i, seed);
        p[i * WORDS + WORDS - 1] = ~first_word(i, seed);
    }
}

/* Every word of every page; the wrong ones counted (the first few printed). */
static long check_pattern(const volatile uint32_t *p, long n, uint32_t seed)
{
    long bad = 0;
    for (long i = 0; i < n; i++)
        for (long w = 0; w < WORDS; w++) {
            uint32_t want = w == 0 ? first_word(i, seed) : w == WORDS - 1 ? ~first_word(i, seed) : 0;
            uint32_t got = p[i * WORDS + w];
            if (got != want) {
                if (bad < 8)
                    printf("SHMSWAP page %ld word %ld is 0x%08x, not 0x%08x\n", i, w, got, want);
                bad++;
            }
        }
    return bad;
}

/* The smaps "Swap:" line of the VMA starting at `start`, and status' RssShmem and VmSwap. */
static void print_swap_state(unsigned long start)
{
    char line[256], head[32];
    int in_vma = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    snprintf(head, sizeof head, "%08lx-", start);
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') && line[0] != ' ')
                in_vma = !strncmp(line, head, strlen(head));
            if (in_vma && !strncmp(line, "Swap:", 5))
                printf("SHMSWAP smaps %s", line);
        }
        fclose(f);
    }
    f = fopen("/proc/self/status", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "RssShmem:", 9) || !strncmp(line, "VmSwap:", 7))
                printf("SHMSWAP status %s", line);
        fclose(f);
    }
    fflush(stdout);
}

static volatile sig_atomic_t resumed;

static void on_usr1(int sig)
{
    (void)sig;
    resumed = 1;
}

int main(int argc, char **argv)
{
    long mib = 16;
    int hold = 0, opt;
    while ((opt = getopt(argc, argv, "m:h")) != -1) {
        if (opt == 'm')
            mib = atol(optarg);
        else if (opt == 'h')
            hold = 1;
        else {
            fprintf(stderr, "usage: shmswap [-m MIB] [-h]\n");
            return 2;
        }
    }
    long n = mib * (long)((1 << 20) / PG);
    size_t len = (size_t)n * PG;
    signal(SIGUSR1, on_usr1);
    volatile uint32_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("SHMSWAP mmap of %ld MiB failed: %s\n", mib, strerror(errno));
        return 1;
    }
    printf("SHMSWAP %ld MiB shared anonymous (%ld pages)\n", mib, n);
    struct mark a = mark_now();
    write_pattern(p, n, SEED_PARENT);
    report("write pass", a, 0);
    print_swap_state((unsigned long)p);
    pid_t child = fork();
    if (child < 0) {
        printf("SHMSWAP fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        a = mark_now();
        long bad = check_pattern(p, n, SEED_PARENT);
        report("child read", a, bad);
        a = mark_now();
        write_pattern((volatile uint32_t *)p, n, SEED_CHILD);
        report("child write", a, 0);
        _exit(bad != 0);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
        printf("SHMSWAP child did not exit: status %#x\n", status);
        return 1;
    }
    a = mark_now();
    long bad = check_pattern(p, n, SEED_CHILD);
    report("parent read", a, bad);
    printf("SHMSWAP child exited %d\n", WEXITSTATUS(status));
    if (hold) {
        print_swap_state((unsigned long)p);
        printf("SHMSWAP HOLDING\n");
        fflush(stdout);
        while (!resumed)
            pause();
        a = mark_now();
        long again = check_pattern(p, n, SEED_CHILD);
        report("resumed read", a, again);
        printf("SHMSWAP RESUMED bad=%ld\n", again);
        bad += again;
    }
    munmap((void *)p, len);
    printf("SHMSWAP %s\n", bad == 0 && WEXITSTATUS(status) == 0 ? "ok: every word right" : "FAILED");
    return bad != 0 || WEXITSTATUS(status) != 0;
}
