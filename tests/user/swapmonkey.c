/* swapmonkey - a seeded random swap workload: nothing may be lost, whatever the order of use.
 *
 *   swapmonkey SEED [STEPS] [-j WORKERS] [-r REGIONS] [-n PAGES] [-b BURST] [-s SHARED%]
 *
 * WORKERS processes (default 2, at most 8) each own REGIONS anonymous regions (default 4, at
 * most 7) of PAGES pages (default 256, at most 4096), each private or MAP_SHARED|MAP_ANONYMOUS
 * (chosen at random at every mmap: SHARED% of them shared, default 33). Every page holds a
 * pattern that encodes (worker, region, page, generation): word w of it is stamp ^ mix(w),
 * stamp = worker:3 region:3 page:12 gen:14, and gen 0 is a page never written since it was
 * mapped (every word 0). Each worker takes STEPS steps (default 200), each chosen by a PRNG
 * seeded from SEED and the worker's number, so a run is the same sequence of system calls for
 * the same arguments:
 *
 *   write     a random page range of a region gets a new generation, every word written
 *   check     a random range is read back, every word compared
 *   fork      a child checks a range of its copy, maybe pages it out first, writes a private
 *             range (its copy only) and a shared one (seen by the parent), and exits; the
 *             parent meanwhile writes a private range of its own: copy-on-write must keep both
 *             views right, and the parent checks both ranges after the child has gone
 *   remap     munmap a region and mmap a new one (private or shared): every page reads as 0
 *   mprotect  a range read-only, checked, and back to read-write
 *   pageout   madvise(MADV_PAGEOUT) of a range
 *   dontneed  madvise(MADV_DONTNEED) of a range: a private one then reads as zero, a shared one
 *             keeps its contents (the shmem object holds them)
 *   burst     BURST pages (default 1024) mapped, written, checked and unmapped, to push the
 *             other pages out
 *
 * At the end every page of every region is checked. The first mismatch of each check prints
 * a MISMATCH line with the seed, worker, step, region, page, word, address, the word expected
 * and the word read (and what its stamp says: whose page, which generation). Each worker prints
 * one summary line, and the parent one for the whole run:
 *   SWAPMONKEY seed=S steps=N checked=PAGES bad=WORDS minflt=A majflt=B
 * (the workers' own fault counts, their fork children's included, from getrusage), and exits
 * 1 on any mismatch, a child that died or a system call that failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MAX_WORKERS 8
#define MAX_REGIONS 7 /* region number MAX_REGIONS... is the burst's stamp */
#define MAX_PAGES 4096
#define GEN_MASK 0x3fffu
#define MAX_PRINTED 10
#define WORDS (PG / sizeof(uint32_t))

/* One worker's regions and what each page should hold. */
struct region {
    uint32_t *base;
    int shared;
    uint16_t *gen; /* per page; 0: never written since mapped */
};

struct totals {
    unsigned long steps, checked, bad, children_bad, errors;
    long minflt, majflt;
};

static unsigned long seed_arg;
static int worker, nregions = 4;
static size_t npages = 256, burst = 1024, shared_pct = 33;
static unsigned long step;
static struct region regions[MAX_REGIONS];
static struct totals tot;
static uint32_t next_gen;

/* splitmix64: the PRNG (the seed, then its own state). */
static uint64_t rng;
static uint64_t next64(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t below(size_t n) {
    return (size_t)(next64() % n);
}

static uint32_t stamp(int w, int r, size_t page, uint32_t gen) {
    return (uint32_t)w << 29 | (uint32_t)r << 26 | (uint32_t)page << 14 | (gen & GEN_MASK);
}
/* Different in every word, so a page shifted by words is caught too. */
static uint32_t mix(size_t w) {
    uint32_t x = (uint32_t)w * 0x9e3779b1u;
    return x ^ (x >> 15);
}
static uint32_t expected(int r, size_t page, uint32_t gen, size_t w) {
    return gen ? stamp(worker, r, page, gen) ^ mix(w) : 0;
}

static uint32_t new_gen(void) {
    next_gen = next_gen % GEN_MASK + 1;
    return next_gen;
}

static void fill(uint32_t *p, int r, size_t page, uint32_t gen) {
    for (size_t w = 0; w < WORDS; w++)
        p[w] = expected(r, page, gen, w);
}

/* Compares every word of the page; prints the first wrong one. Returns the wrong words. */
static unsigned long check_page(const char *what, const uint32_t *p, int r, size_t page,
                                uint32_t gen) {
    unsigned long bad = 0;
    size_t first = 0;
    for (size_t w = 0; w < WORDS; w++)
        if (p[w] != expected(r, page, gen, w) && bad++ == 0)
            first = w;
    tot.checked++;
    /* The first few wrong pages of a process are printed; the count says the rest. */
    static int printed;
    if (bad && printed++ < MAX_PRINTED) {
        uint32_t got = p[first], s = got ^ mix(first);
        printf("MISMATCH seed=%lu worker=%d step=%lu %s region=%d page=%zu word=%zu addr=%p "
               "expected=0x%08x got=0x%08x (stamp: worker %u region %u page %u gen %u; "
               "expected gen %u) wrong words in page %lu\n",
               seed_arg, worker, step, what, r, page, first, (const void *)&p[first],
               expected(r, page, gen, first), got, s >> 29, s >> 26 & 7, s >> 14 & 0xfff,
               s & GEN_MASK, gen, bad);
        fflush(stdout);
    }
    tot.bad += bad;
    return bad;
}

static uint32_t *page_at(int r, size_t page) {
    return regions[r].base + page * WORDS;
}

static void write_gen(int r, size_t start, size_t n, uint32_t gen) {
    for (size_t i = start; i < start + n; i++) {
        fill(page_at(r, i), r, i, gen);
        regions[r].gen[i] = (uint16_t)gen;
    }
}

static void write_range(int r, size_t start, size_t n) {
    write_gen(r, start, n, new_gen());
}

static void check_range(const char *what, int r, size_t start, size_t n) {
    for (size_t i = start; i < start + n; i++)
        check_page(what, page_at(r, i), r, i, regions[r].gen[i]);
}

static void fail_call(const char *call) {
    printf("SWAPMONKEY seed=%lu worker=%d step=%lu: %s failed: %s\n", seed_arg, worker, step,
           call, strerror(errno));
    fflush(stdout);
    tot.errors++;
}

static void map_region(int r) {
    int shared = below(100) < shared_pct;
    void *p = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fail_call("mmap");
        exit(1);
    }
    regions[r].base = p;
    regions[r].shared = shared;
    memset(regions[r].gen, 0, npages * sizeof regions[r].gen[0]);
}

/* A random range of a random region: up to 1/4 of the region, sometimes all of it. */
static int pick(size_t *start, size_t *n) {
    int r = (int)below((size_t)nregions);
    if (below(8) == 0) {
        *start = 0;
        *n = npages;
    } else {
        *n = 1 + below(npages / 4 > 0 ? npages / 4 : 1);
        *start = below(npages - *n + 1);
    }
    return r;
}

/* A private region other than `not`, or -1. */
static int pick_private(int not) {
    int first = (int)below((size_t)nregions);
    for (int k = 0; k < nregions; k++) {
        int r = (first + k) % nregions;
        if (!regions[r].shared && r != not)
            return r;
    }
    return -1;
}

static int pick_shared(void) {
    int first = (int)below((size_t)nregions);
    for (int k = 0; k < nregions; k++) {
        int r = (first + k) % nregions;
        if (regions[r].shared)
            return r;
    }
    return -1;
}

static void pageout(int r, size_t start, size_t n) {
    /* Pages it cannot push out stay; only a refused call is an error. */
    if (madvise(page_at(r, start), n * PG, MADV_PAGEOUT) != 0)
        fail_call("madvise(MADV_PAGEOUT)");
}

static void do_fork(void) {
    size_t cs, cn, ws, wn, ps, pn, ss = 0, sn = 0;
    int cr = pick(&cs, &cn);
    int child_pageout = (int)below(2);
    int wr = pick_private(-1);
    if (wr >= 0)
        pick(&ws, &wn);
    int pr = pick_private(wr);
    if (pr >= 0)
        pick(&ps, &pn);
    int sr = pick_shared();
    if (sr >= 0)
        pick(&ss, &sn);
    /* The shared write's generation is drawn here, so the parent knows it. */
    uint32_t sgen = new_gen();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fail_call("fork");
        return;
    }
    if (pid == 0) {
        tot.bad = 0;
        if (child_pageout)
            pageout(cr, cs, cn);
        check_range("child-check", cr, cs, cn);
        if (wr >= 0) {
            write_range(wr, ws, wn);
            check_range("child-private", wr, ws, wn);
        }
        if (sr >= 0) {
            write_gen(sr, ss, sn, sgen);
            check_range("child-shared", sr, ss, sn);
        }
        fflush(stdout);
        _exit(tot.bad || tot.errors ? 1 : 0);
    }
    /* The parent's own copy changes while the child may still read it. */
    if (pr >= 0) {
        write_range(pr, ps, pn);
        if (below(2))
            pageout(pr, ps, pn);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fail_call("waitpid");
            return;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("MISMATCH seed=%lu worker=%d step=%lu fork child %d %s %d\n", seed_arg, worker,
               step, (int)pid, WIFEXITED(status) ? "exited" : "killed by signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        tot.children_bad++;
    }
    if (sr >= 0)
        for (size_t i = ss; i < ss + sn; i++)
            regions[sr].gen[i] = (uint16_t)sgen;
    /* The child's private writes went to its copy: ours still holds what it held. */
    if (wr >= 0)
        check_range("after-child-private", wr, ws, wn);
    if (sr >= 0)
        check_range("after-child-shared", sr, ss, sn);
    if (pr >= 0)
        check_range("parent-cow", pr, ps, pn);
}

static void do_burst(void) {
    uint32_t *p = mmap(NULL, burst * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    if (p == MAP_FAILED) {
        fail_call("mmap(burst)");
        return;
    }
    uint32_t gen = new_gen();
    for (size_t i = 0; i < burst; i++)
        fill(p + i * WORDS, MAX_REGIONS, i & 0xfff, gen);
    for (size_t i = 0; i < burst; i++)
        check_page("burst", p + i * WORDS, MAX_REGIONS, i & 0xfff, gen);
    munmap(p, burst * PG);
}

static void one_step(void) {
    size_t start, n;
    int r = pick(&start, &n);
    unsigned op = (unsigned)below(100);
    if (op < 30) {
        write_range(r, start, n);
    } else if (op < 50) {
        check_range("check", r, start, n);
    } else if (op < 60) {
        do_fork();
    } else if (op < 64) {
        check_range("before-munmap", r, start, n);
        if (munmap(regions[r].base, npages * PG) != 0)
            fail_call("munmap");
        map_region(r);
    } else if (op < 70) {
        if (mprotect(page_at(r, start), n * PG, PROT_READ) != 0)
            fail_call("mprotect(PROT_READ)");
        check_range("read-only", r, start, n);
        if (mprotect(page_at(r, start), n * PG, PROT_READ | PROT_WRITE) != 0)
            fail_call("mprotect(PROT_READ|PROT_WRITE)");
    } else if (op < 85) {
        pageout(r, start, n);
    } else if (op < 92) {
        if (madvise(page_at(r, start), n * PG, MADV_DONTNEED) != 0)
            fail_call("madvise(MADV_DONTNEED)");
        else if (!regions[r].shared)
            memset(&regions[r].gen[start], 0, n * sizeof regions[r].gen[0]);
    } else {
        do_burst();
    }
}

static void start_worker(void) {
    rng = seed_arg * MAX_WORKERS + (unsigned long)worker;
    next64();
    for (int r = 0; r < nregions; r++) {
        regions[r].gen = calloc(npages, sizeof regions[r].gen[0]);
        if (!regions[r].gen) {
            fail_call("calloc");
            exit(1);
        }
        map_region(r);
    }
}

static void usage(void) {
    fprintf(stderr, "usage: swapmonkey SEED [STEPS] [-j WORKERS<=%d] [-r REGIONS<=%d] "
                    "[-n PAGES<=%d] [-b BURST] [-s SHARED%%]\n",
            MAX_WORKERS, MAX_REGIONS, MAX_PAGES);
    exit(2);
}

int main(int argc, char **argv) {
    unsigned long steps = 200;
    int workers = 2, positional = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] && !argv[i][2] && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], NULL, 0);
            switch (argv[i - 1][1]) {
            case 'j': workers = (int)v; break;
            case 'r': nregions = (int)v; break;
            case 'n': npages = v; break;
            case 'b': burst = v; break;
            case 's': shared_pct = v; break;
            default: usage();
            }
        } else if (positional == 0) {
            seed_arg = strtoul(argv[i], NULL, 0);
            positional++;
        } else if (positional == 1) {
            steps = strtoul(argv[i], NULL, 0);
            positional++;
        } else {
            usage();
        }
    }
    if (positional < 1 || workers < 1 || workers > MAX_WORKERS || nregions < 1 ||
        nregions > MAX_REGIONS || npages < 1 || npages > MAX_PAGES || burst < 1 || shared_pct > 100)
        usage();
    printf("swapmonkey seed=%lu steps=%lu workers=%d regions=%d pages=%zu burst=%zu "
           "shared=%zu%%\n",
           seed_arg, steps, workers, nregions, npages, burst, shared_pct);
    fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            worker = w;
            start_worker();
            for (step = 0; step < steps; step++)
                one_step();
            for (int r = 0; r < nregions; r++)
                check_range("final", r, 0, npages);
            struct rusage self, kids;
            getrusage(RUSAGE_SELF, &self);
            getrusage(RUSAGE_CHILDREN, &kids);
            tot.steps = steps;
            tot.minflt = self.ru_minflt + kids.ru_minflt;
            tot.majflt = self.ru_majflt + kids.ru_majflt;
            printf("swapmonkey worker %d: steps=%lu checked=%lu bad=%lu children_bad=%lu "
                   "errors=%lu minflt=%ld majflt=%ld\n",
                   w, tot.steps, tot.checked, tot.bad, tot.children_bad, tot.errors,
                   tot.minflt, tot.majflt);
            fflush(stdout);
            if (write(fds[1], &tot, sizeof tot) != (ssize_t)sizeof tot)
                _exit(3);
            _exit(tot.bad || tot.children_bad || tot.errors ? 1 : 0);
        }
    }
    close(fds[1]);
    struct totals all = {0}, t;
    int got = 0, failed = 0;
    while (read(fds[0], &t, sizeof t) == (ssize_t)sizeof t) {
        all.steps += t.steps;
        all.checked += t.checked;
        all.bad += t.bad;
        all.children_bad += t.children_bad;
        all.errors += t.errors;
        all.minflt += t.minflt;
        all.majflt += t.majflt;
        got++;
    }
    for (int w = 0; w < workers; w++) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            if (pid > 0 && !WIFEXITED(status))
                printf("MISMATCH seed=%lu worker pid %d killed by signal %d\n", seed_arg,
                       (int)pid, WTERMSIG(status));
            failed++;
        }
    }
    int ok = !failed && got == workers && !all.bad && !all.children_bad && !all.errors;
    printf("SWAPMONKEY seed=%lu steps=%lu checked=%lu bad=%lu children_bad=%lu errors=%lu "
           "minflt=%ld majflt=%ld %s\n",
           seed_arg, all.steps, all.checked, all.bad, all.children_bad, all.errors, all.minflt,
           all.majflt, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
