/* procself - prints its own /proc/self/maps, status, stat, statm and cmdline (NULs as spaces),
 * each after a "--- PATH" line, so the kernel's per-process reports can be compared with
 * Linux's for the same program. Exits 0 when every file could be read. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    static const char *const files[] = { "/proc/self/maps", "/proc/self/status", "/proc/self/stat",
                                         "/proc/self/statm" };
    int bad = 0;
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        printf("--- %s\n", files[i]);
        fflush(stdout);
        bad |= cat_file(files[i]) != 0;
    }
    printf("--- /proc/self/cmdline\n");
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd < 0) {
        printf("cannot open /proc/self/cmdline: %s\n", strerror(errno));
        bad = 1;
    } else {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < n; i++)
            if (!buf[i])
                buf[i] = i == n - 1 ? '\n' : ' ';
        fwrite(buf, 1, n > 0 ? (size_t)n : 0, stdout);
    }
    return bad;
}
