/* spin - a CPU-bound program for the scheduler: loops reading the clock for SECONDS (0: until
 * killed), so the console must keep answering while it runs and Ctrl-C (SIGINT) or kill must stop
 * it. Exits 0 after SECONDS. */
#define _GNU_SOURCE
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NS_PER_S 1000000000ULL

int main(int argc, char **argv)
{
    long secs = argc > 1 ? strtol(argv[1], NULL, 0) : 0;
    printf("spin: pid %d spinning %s\n", (int)getpid(), secs > 0 ? "for a while" : "until killed");
    fflush(stdout);
    uint64_t start = now_ns(), loops = 0;
    while (secs <= 0 || now_ns() - start < (uint64_t)secs * NS_PER_S)
        loops++;
    printf("spin: done after %ld s (%llu loops)\n", secs, (unsigned long long)loops);
    return 0;
}
