/* swaptest - pushes anonymous pages out to swap with madvise(MADV_PAGEOUT) and reads them back.
 *
 *   swaptest N            write a pattern into N pages, page them out, read every word back
 *   swaptest N hold       the same, but after paging out wait for SIGUSR1 before reading back
 *                         (the console's swapoff brings the pages in meanwhile)
 *   swaptest N fork       after paging out, fork: the child (sharing the swap entries) reads
 *                         every word first and exits, then the parent reads them
 *   swaptest N children K after paging out, fork K children that all hold the swap entries
 *                         at once (each slot's count passes SWAP_MAP_MAX, 62, for K > 61:
 *                         Linux continues it in count continuation pages); once all are
 *                         forked they check every word and exit, then the parent reads
 *                         (`... children K hold`: the parent waits for SIGUSR1 before it lets
 *                         them go, so the console can `verify` the counts meanwhile)
 *   swaptest N keep       write the pattern and keep the pages (no MADV_PAGEOUT): wait for
 *                         SIGUSR1, then read every word back; with N above the free memory,
 *                         reclaim swaps some out while it writes (and the kernel's own
 *                         allocations meanwhile may reclaim more)
 *
 * Prints the fault counts (getrusage), /proc/self/status VmSwap, the pages mincore calls
 * resident, and a PATTERN line with the words that came back wrong (0 expected). Runs the same
 * on Linux 6.1 with a swap area on. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static volatile sig_atomic_t go;

static void on_usr1(int sig) {
    (void)sig;
    go = 1;
}

/* The word expected at word w of page i: different in every word of every page. */
static uint32_t pattern(size_t i, size_t w) {
    return 0xa5000000u ^ (uint32_t)(i << 10) ^ (uint32_t)w;
}

/* /proc/self/status's VmSwap in kB (-1 if missing). */
static long vm_swap_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSwap: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static size_t resident(unsigned char *p, size_t n) {
    unsigned char *vec = malloc(n);
    size_t r = 0;
    if (!vec || mincore(p, n * PG, vec) != 0) {
        free(vec);
        return (size_t)-1;
    }
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    free(vec);
    return r;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    int hold = argc > 2 && strcmp(argv[2], "hold") == 0;
    int forked = argc > 2 && strcmp(argv[2], "fork") == 0;
    int keep = argc > 2 && strcmp(argv[2], "keep") == 0;
    long kids = argc > 3 && strcmp(argv[2], "children") == 0 ? strtol(argv[3], NULL, 0) : 0;
    int kids_hold = kids > 0 && argc > 4 && strcmp(argv[4], "hold") == 0;
    char d[64];
    if (n == 0)
        n = 64;
    signal(SIGUSR1, on_usr1);
    uint32_t *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    size_t words = PG / 4;
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < words; w++)
            p[i * words + w] = pattern(i, w);
    printf("SWAPTEST %zu pages at %p written: VmSwap %ld kB, resident %zu\n", n, (void *)p,
           vm_swap_kb(), resident((unsigned char *)p, n));
    struct flt a = faults_now();
    if (keep) {
        printf("KEPT: VmSwap %ld kB\n", vm_swap_kb());
        fflush(stdout);
        while (!go)
            sleep_ms(20);
        printf("RESUMED: VmSwap %ld kB\n", vm_swap_kb());
    } else if (madvise(p, n * PG, MADV_PAGEOUT) != 0) {
        perror("madvise(MADV_PAGEOUT)");
        return 1;
    }
    struct flt b = faults_now();
    if (!keep)
        printf("PAGED OUT: VmSwap %ld kB, resident %zu, faults %s\n", vm_swap_kb(),
               resident((unsigned char *)p, n), flt_delta(d, sizeof d, a, b));
    fflush(stdout);
    if (hold) {
        while (!go)
            sleep_ms(20);
        printf("RESUMED: VmSwap %ld kB, resident %zu\n", vm_swap_kb(),
               resident((unsigned char *)p, n));
    }
    if (forked) {
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            size_t cbad = 0;
            for (size_t i = 0; i < n; i++)
                for (size_t w = 0; w < words; w++)
                    cbad += p[i * words + w] != pattern(i, w);
            printf("CHILD PATTERN bad=%zu VmSwap %ld kB\n", cbad, vm_swap_kb());
            fflush(stdout);
            _exit(cbad != 0);
        }
        int st = 0;
        waitpid(c, &st, 0);
        printf("CHILD exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    if (kids > 0) {
        /* Every child blocks on the pipe until all are forked, so all hold the entries. */
        int go_pipe[2];
        pid_t *pids = calloc((size_t)kids, sizeof *pids);
        long nforked = 0, ok = 0;
        if (!pids || pipe(go_pipe) != 0) {
            perror("pipe");
            return 1;
        }
        fflush(stdout);
        for (; nforked < kids; nforked++) {
            pid_t c = fork();
            if (c < 0) {
                printf("FORK failed after %ld children: %s\n", nforked, strerror(errno));
                break;
            }
            if (c == 0) {
                char ch;
                close(go_pipe[1]);
                while (read(go_pipe[0], &ch, 1) > 0)
                    ;
                size_t cbad = 0;
                for (size_t i = 0; i < n; i++)
                    for (size_t w = 0; w < words; w++)
                        cbad += p[i * words + w] != pattern(i, w);
                _exit(cbad != 0);
            }
            pids[nforked] = c;
        }
        printf("FORKED %ld children: VmSwap %ld kB\n", nforked, vm_swap_kb());
        fflush(stdout);
        while (kids_hold && !go)
            sleep_ms(20);
        close(go_pipe[1]);
        close(go_pipe[0]);
        for (long k = 0; k < nforked; k++) {
            int st = 0;
            if (waitpid(pids[k], &st, 0) == pids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
                ok++;
        }
        printf("CHILDREN %ld forked, %ld read every word right\n", nforked, ok);
        free(pids);
        if (nforked != kids || ok != kids)
            return 1;
    }
    a = faults_now();
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < words; w++)
            bad += p[i * words + w] != pattern(i, w);
    b = faults_now();
    printf("READ BACK: faults %s, VmSwap %ld kB, resident %zu\n", flt_delta(d, sizeof d, a, b),
           vm_swap_kb(), resident((unsigned char *)p, n));
    printf("PATTERN bad=%zu\n", bad);
    return bad != 0;
}
