/* procself - prints its own /proc/self/maps, status, stat, statm and cmdline (NULs as spaces),
 * each after a "--- PATH" line, so the kernel's per-process reports can be compared with
 * Linux's for the same program. Exits 0 when every file could be read.
 *
 * procself shared-anon: maps two pages MAP_SHARED|MAP_ANONYMOUS (a shmem object on Linux) and
 * forks; the child writes both pages, first touched after the fork, and exits; the parent
 * reads them and checks it sees the child's bytes. Prints "SHMEM-KB <stage> N" (meminfo's
 * Shmem before, with the pages, after munmap), "MAPLINE <maps line of the mapping>", and the
 * mapping's smaps block after "--- smaps"; exits 0 when the parent saw both bytes. */
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

#define SHARED_PAGES 2
#define CHILD_BYTE0 0x5a
#define CHILD_BYTE1 0xa5

/* The kB value of `key` ("Shmem:") in /proc/meminfo, or -1. */
static long meminfo_kb(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) {
            v = strtol(line + strlen(key), NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Prints the smaps block of the VMA starting at `start`, up to its VmFlags line. */
static void print_smaps_of(unsigned long start)
{
    char line[512], head[32];
    int in = 0;
    snprintf(head, sizeof head, "%08lx-", start);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) {
        printf("cannot open /proc/self/smaps: %s\n", strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, head, strlen(head)))
            in = 1;
        if (in)
            fputs(line, stdout);
        if (in && !strncmp(line, "VmFlags:", 8))
            break;
    }
    fclose(f);
}

static int shared_anon(void)
{
    printf("SHMEM-KB before %ld\n", meminfo_kb("Shmem:"));
    unsigned char *p =
        mmap(NULL, SHARED_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap: %s\n", strerror(errno));
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* Neither page was touched before the fork. */
        p[0] = CHILD_BYTE0;
        p[PG] = CHILD_BYTE1;
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("child failed: status %#x\n", status);
        return 1;
    }
    unsigned b0 = p[0], b1 = p[PG];
    int ok = b0 == CHILD_BYTE0 && b1 == CHILD_BYTE1;
    printf("SHARED child wrote %#x %#x, parent sees %#x %#x: %s\n", CHILD_BYTE0, CHILD_BYTE1, b0,
           b1, ok ? "ok" : "FAIL");
    char line[256] = "";
    char key[32];
    snprintf(key, sizeof key, "%08lx-", (unsigned long)p);
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            break;
    if (f)
        fclose(f);
    printf("MAPLINE %s", line);
    printf("--- smaps\n");
    print_smaps_of((unsigned long)p);
    printf("SHMEM-KB touched %ld\n", meminfo_kb("Shmem:"));
    munmap(p, SHARED_PAGES * PG);
    printf("SHMEM-KB unmapped %ld\n", meminfo_kb("Shmem:"));
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "shared-anon"))
        return shared_anon();
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
