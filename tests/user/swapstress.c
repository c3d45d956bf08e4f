/* swapstress - nothing lost through swap: writes a known pattern into M MiB of anonymous
 * memory, reads it all back checking every word, and prints what each phase cost: the
 * process's minflt/majflt (getrusage) and /proc/vmstat's pswpin/pswpout deltas, then
 * SwapCached, VmSwap and /proc/swaps while the memory is still held.
 *
 *   swapstress [-m MIB] [-p PASSES] [-j INSTANCES] [-o] [-c PAGE_CLUSTER]
 *     -m  MiB of anonymous memory per instance (default 16)
 *     -p  read-back passes (default 1)
 *     -j  instances running at once, each its own process with its own pattern (default 1)
 *     -o  madvise(MADV_PAGEOUT) the whole range after the write pass, so swap is exercised
 *         without memory pressure (Linux 5.4+: the pages go to swap now, if there is swap)
 *     -c  write PAGE_CLUSTER into /proc/sys/vm/page-cluster first (swap read-ahead: 2^N pages)
 *
 * Each page holds its index and the instance's seed in its first word, the complement in its
 * last, and zeroes between (written by the kernel's zero fill), so a page read back from the
 * wrong slot, a lost page and a torn page all show. The write pass writes the two words of
 * each page in address order (one first touch per page); every pass reads all 1024 words.
 * Exit status 0 when every word of every instance was right, 1 otherwise. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define WORDS ((long)(PG / sizeof(uint32_t)))
#define MAX_INSTANCES 16
#define PAGE_CLUSTER "/proc/sys/vm/page-cluster"

struct vmstat {
    long pswpin, pswpout, pgmajfault;
};

static struct vmstat vmstat_now(void)
{
    struct vmstat v = { -1, -1, -1 };
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
        else if (!strcmp(name, "pgmajfault"))
            v.pgmajfault = val;
    }
    fclose(f);
    return v;
}

/* The tag every line of an instance starts with. */
static char tag[32];

struct mark {
    struct flt f;
    struct vmstat v;
    uint64_t ns;
};

static struct mark mark_now(void)
{
    struct mark m;
    m.v = vmstat_now();
    m.f = faults_now();
    m.ns = now_ns();
    return m;
}

/* "PHASE: minflt +A majflt +B | pswpin +C pswpout +D | NS ns" */
static void report(const char *phase, struct mark a, long extra_bad, int with_bad)
{
    struct mark b = mark_now();
    char bad[32] = "";
    if (with_bad)
        snprintf(bad, sizeof bad, " bad=%ld", extra_bad);
    if (a.v.pswpin < 0 || b.v.pswpin < 0)
        printf("%s %s: minflt +%ld majflt +%ld%s | pswpin - pswpout - | %llu ns\n", tag, phase, b.f.min - a.f.min,
               b.f.maj - a.f.maj, bad, (unsigned long long)(b.ns - a.ns));
    else
        printf("%s %s: minflt +%ld majflt +%ld%s | pswpin +%ld pswpout +%ld | %llu ns\n", tag, phase,
               b.f.min - a.f.min, b.f.maj - a.f.maj, bad, b.v.pswpin - a.v.pswpin, b.v.pswpout - a.v.pswpout,
               (unsigned long long)(b.ns - a.ns));
}

/* Prints the lines of `path` that start with one of `keys` followed by ':'. */
static void grep_keys(const char *path, const char *const *keys, int nkeys)
{
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f) {
        printf("%s %s: %s\n", tag, path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (int i = 0; i < nkeys; i++)
            if (!strncmp(line, keys[i], strlen(keys[i])) && line[strlen(keys[i])] == ':')
                printf("%s   %s", tag, line);
    fclose(f);
}

static uint32_t first_word(long page, uint32_t seed)
{
    return (uint32_t)page * 2654435761u ^ seed;
}

/* Checks every word of page i; returns the number of wrong words (reports the first few). */
static long check_page(const volatile uint32_t *p, long i, uint32_t seed, long *reported)
{
    long bad = 0;
    for (long w = 0; w < WORDS; w++) {
        uint32_t want = w == 0 ? first_word(i, seed) : w == WORDS - 1 ? ~first_word(i, seed) : 0;
        uint32_t got = p[w];
        if (got != want) {
            if ((*reported)++ < 8)
                printf("%s page %ld word %ld is 0x%08x, not 0x%08x\n", tag, i, w, got, want);
            bad++;
        }
    }
    return bad;
}

static int instance(long mib, int passes, int pageout, uint32_t seed)
{
    static const char *const meminfo_keys[] = { "MemFree", "SwapCached", "SwapTotal", "SwapFree" };
    static const char *const status_keys[] = { "VmRSS", "RssAnon", "VmSwap" };
    long n = mib * (long)((1 << 20) / PG), bad_total = 0, reported = 0;
    size_t len = (size_t)n * PG;
    printf("%s %ld MiB anonymous (%ld pages), %d passes%s\n", tag, mib, n, passes, pageout ? ", MADV_PAGEOUT" : "");
    volatile uint32_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("%s mmap of %ld MiB failed: %s\n", tag, mib, strerror(errno));
        return 1;
    }
    struct mark a = mark_now();
    for (long i = 0; i < n; i++) {
        p[i * WORDS] = first_word(i, seed);
        p[i * WORDS + WORDS - 1] = ~first_word(i, seed);
    }
    report("write pass", a, 0, 0);
    if (pageout) {
        a = mark_now();
        if (madvise((void *)p, len, MADV_PAGEOUT) != 0)
            printf("%s madvise(MADV_PAGEOUT): %s\n", tag, strerror(errno));
        report("pageout", a, 0, 0);
        grep_keys("/proc/self/status", status_keys, 3);
    }
    for (int pass = 1; pass <= passes; pass++) {
        long bad = 0;
        char phase[32];
        a = mark_now();
        for (long i = 0; i < n; i++)
            bad += check_page(p + i * WORDS, i, seed, &reported);
        snprintf(phase, sizeof phase, "re-read pass %d", pass);
        report(phase, a, bad, 1);
        bad_total += bad;
    }
    grep_keys("/proc/meminfo", meminfo_keys, 4);
    grep_keys("/proc/self/status", status_keys, 3);
    munmap((void *)p, len);
    if (bad_total)
        printf("%s FAIL: %ld wrong words\n", tag, bad_total);
    else
        printf("%s ok: every word of %ld pages right in %d passes\n", tag, n, passes);
    return bad_total ? 1 : 0;
}

static long number(const char *s, long min, long max)
{
    char *e;
    errno = 0;
    long n = strtol(s ? s : "", &e, 0);
    if (!s || errno || *e || n < min || n > max) {
        fprintf(stderr, "swapstress: '%s' is not a number in %ld..%ld\n", s ? s : "", min, max);
        exit(2);
    }
    return n;
}

static void print_file(const char *path)
{
    printf("swapstress: %s\n", path);
    if (cat_file(path) != 0)
        printf("swapstress: cannot read %s\n", path);
}

int main(int argc, char **argv)
{
    long mib = 16, passes = 1, jobs = 1, cluster = -1;
    int pageout = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m"))
            mib = number(argv[++i], 1, 2048);
        else if (!strcmp(argv[i], "-p"))
            passes = number(argv[++i], 0, 100);
        else if (!strcmp(argv[i], "-j"))
            jobs = number(argv[++i], 1, MAX_INSTANCES);
        else if (!strcmp(argv[i], "-c"))
            cluster = number(argv[++i], 0, 31);
        else if (!strcmp(argv[i], "-o"))
            pageout = 1;
        else {
            fprintf(stderr, "usage: swapstress [-m MIB] [-p PASSES] [-j INSTANCES] [-o] [-c PAGE_CLUSTER]\n");
            return 2;
        }
    }
    if (cluster >= 0) {
        char v[24]; /* a long's digits and sign on 64-bit too */
        snprintf(v, sizeof v, "%ld", cluster);
        int fd = open(PAGE_CLUSTER, O_WRONLY);
        if (fd < 0 || write(fd, v, strlen(v)) < 0)
            printf("swapstress: %s: %s\n", PAGE_CLUSTER, strerror(errno));
        else
            printf("swapstress: page-cluster %ld\n", cluster);
        if (fd >= 0)
            close(fd);
    }
    print_file("/proc/swaps");
    if (jobs == 1) {
        snprintf(tag, sizeof tag, "swapstress M=%ld", mib);
        int rc = instance(mib, (int)passes, pageout, 0x5a5a0000u);
        print_file("/proc/swaps");
        return rc;
    }
    pid_t pids[MAX_INSTANCES];
    for (long j = 0; j < jobs; j++) {
        fflush(stdout);
        pids[j] = fork();
        if (pids[j] < 0) {
            printf("swapstress: fork: %s\n", strerror(errno));
            jobs = j;
            break;
        }
        if (pids[j] == 0) {
            snprintf(tag, sizeof tag, "swapstress M=%ld [%ld]", mib, j + 1);
            _exit(instance(mib, (int)passes, pageout, 0x5a5a0000u + (uint32_t)j * 0x101u));
        }
    }
    int failed = 0;
    for (long j = 0; j < jobs; j++) {
        int st = 0;
        if (waitpid(pids[j], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("swapstress: instance %ld failed (status 0x%x)\n", j + 1, st);
            failed++;
        }
    }
    print_file("/proc/swaps");
    printf("swapstress: %ld instances, %d failed\n", jobs, failed);
    return failed ? 1 : 0;
}
