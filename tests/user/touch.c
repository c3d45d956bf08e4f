/* touch - a process with a known set of touched pages, for the kernel's smaps and page-table
 * reports: maps N anonymous private pages, writes one byte to each of the first W, reads one
 * byte of each of the next R (the shared zero page: no RSS), leaves the rest untouched, then
 * prints where the mapping is and its own fault counts and waits (until killed, or S seconds).
 *   touch [N W R [S]]     defaults: 64 16 8, and wait forever
 * Prints "TOUCH pid=P addr=0x... pages=N written=W read=R" then the "/proc/self/stat" line of
 * common.c, then "TOUCH holding". Exits 0 after S seconds. */
#define _GNU_SOURCE
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    unsigned long w = argc > 2 ? strtoul(argv[2], NULL, 0) : 16;
    unsigned long r = argc > 3 ? strtoul(argv[3], NULL, 0) : 8;
    long secs = argc > 4 ? strtol(argv[4], NULL, 0) : -1;
    if (w + r > n) {
        fprintf(stderr, "touch: W + R (%lu) must not exceed N (%lu)\n", w + r, n);
        return 2;
    }
    volatile unsigned char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("touch: mmap");
        return 1;
    }
    unsigned sum = 0;
    for (unsigned long i = 0; i < w; i++)
        p[i * PG] = (unsigned char)(i + 1);
    for (unsigned long i = w; i < w + r; i++)
        sum += p[i * PG];
    printf("TOUCH pid=%d addr=%p pages=%lu written=%lu read=%lu (sum %u)\n", (int)getpid(), (void *)p, n, w, r,
           sum);
    print_self_stat("TOUCH");
    printf("TOUCH holding\n");
    fflush(stdout);
    for (long t = 0; secs < 0 || t < secs; t++) {
        struct timespec ts = { 1, 0 };
        nanosleep(&ts, NULL);
    }
    return 0;
}
