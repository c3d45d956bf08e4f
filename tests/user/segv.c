/* segv - the SIGSEGV/SIGBUS table of LINUX_USER_FACTS §2 with a handler installed: each access
 * prints the signal and si_code it got. `segv [3G|2G|1G|auto]` picks the split whose kernel
 * addresses are probed; auto (the default) finds TASK_SIZE with MAP_FIXED_NOREPLACE. Beyond the
 * reference's table it also executes kernel text and a non-executable mapping, reads a file page
 * past EOF (SIGBUS) and asks mmap/mprotect/munmap for kernel addresses. Exits 0 when done. */
#define _GNU_SOURCE
#include "common.h"
#include "segvprobe.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *arg = argc > 1 ? argv[1] : "auto";
    const struct split *s = split_find(arg);
    if (!s && strcmp(arg, "auto") != 0) {
        fprintf(stderr, "usage: segv [3G|2G|1G|auto]  ('%s' is not a split)\n", arg);
        return 2;
    }
    if (s)
        printf("split %s: PAGE_OFFSET 0x%08lx, TASK_SIZE 0x%08lx (%s)\n", s->name, s->page_offset, s->task_size,
               strcmp(arg, "auto") ? "as given" : "found by probing TASK_SIZE");
    else
        printf("split unknown: TASK_SIZE is none of 0x%08lx, 0x%08lx, 0x%08lx\n", splits[0].task_size,
               splits[1].task_size, splits[2].task_size);
    fflush(stdout);
    return segv_probes(s, (unsigned long)&main, 1, argv[0]);
}
