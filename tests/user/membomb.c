/* membomb - a hostile program that allocates and touches memory without end, 1 MiB at a time:
 * with overcommit the kernel's OOM killer must kill it (SIGKILL) and the rest of the system carry
 * on. Prints a progress line every 16 MiB.
 *   membomb [MAX_MIB]
 * MAX_MIB stops it alive after that much (for host runs); then it exits 0. If mmap fails first
 * it says so and exits 1 (it expected to be killed). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK (1UL << 20)
#define PAGE 4096UL
#define PROGRESS_MIB 16

int main(int argc, char **argv)
{
    long max = argc > 1 ? strtol(argv[1], NULL, 0) : 0;
    printf("membomb: pid %d touching memory %s\n", (int)getpid(), max > 0 ? "up to a cap" : "until killed");
    fflush(stdout);
    for (long mib = 0;; mib++) {
        if (max > 0 && mib == max) {
            printf("membomb: reached the cap of %ld MiB alive\n", max);
            return 0;
        }
        volatile unsigned char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("membomb: mmap failed after %ld MiB: %s (%s), not killed\n", mib, strerrorname_np(errno),
                   strerror(errno));
            return 1;
        }
        for (unsigned long off = 0; off < CHUNK; off += PAGE)
            p[off] = 1;
        if ((mib + 1) % PROGRESS_MIB == 0) {
            printf("membomb: %ld MiB touched\n", mib + 1);
            fflush(stdout);
        }
    }
}
