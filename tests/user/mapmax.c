/* mapmax - maps anonymous PROT_NONE memory until the kernel says ENOMEM (1 MiB at a time, then
 * 64 KiB, then single pages), and prints the lowest address it got and the highest end of any
 * mapping below the vectors page: TASK_SIZE (PAGE_OFFSET - 16 MiB), which differs per split.
 * The highest mapping need not be one of ours: ARM Linux puts [sigpage], [vvar] and [vdso] at
 * a random page between the stack and TASK_SIZE (sigpage_addr), so sometimes at the very top.
 * Then its /proc/self/maps. Nothing is touched, so it costs page tables only. Exits 0 when it
 * ran to completion. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_CALLS 200000L /* a kernel that never says ENOMEM must not keep us here forever */

int main(void)
{
    static const unsigned long sizes[] = { 1UL << 20, 64UL << 10, PG };
    unsigned long lowest = ~0UL, highest = 0, total = 0;
    long calls = 0, maps = 0;
    int last_err = 0;
    for (int i = 0; i < 3; i++) {
        for (; calls < MAX_CALLS; calls++) {
            void *p = mmap(NULL, sizes[i], PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                last_err = errno;
                break;
            }
            unsigned long a = (unsigned long)p;
            maps++;
            total += sizes[i];
            if (a < lowest)
                lowest = a;
            if (a + sizes[i] > highest)
                highest = a + sizes[i];
        }
        printf("mapmax: %lu KiB mappings until %s\n", sizes[i] >> 10,
               calls >= MAX_CALLS ? "the call limit" : strerrorname_np(last_err));
    }
    /* Read with read(2) into static storage: the address space is full, so stdio's buffer
     * (malloc) may not be had. */
    static char buf[16384];
    int fd = open("/proc/self/maps", O_RDONLY);
    long n = 0, got;
    while (fd >= 0 && n < (long)sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += got;
    if (fd >= 0)
        close(fd);
    buf[n] = 0;
    for (char *line = buf; *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = 0;
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && end > highest && !strstr(line, "[vectors]"))
            highest = end;
        if (!eol)
            break;
        line = eol + 1;
    }
    printf("mapmax: %ld mappings, %lu MiB; lowest 0x%08lx; highest address reached 0x%08lx\n", maps, total >> 20,
           lowest, highest);
    printf("--- /proc/self/maps\n");
    fflush(stdout);
    cat_file("/proc/self/maps");
    return 0;
}
