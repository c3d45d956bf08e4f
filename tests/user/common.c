/* common.c - helpers shared by the test programs (see common.h). */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef MAPS_BUF
#define MAPS_BUF 8192
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct flt faults_now(void)
{
    struct rusage ru;
    struct flt f = { -1, -1 };
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        f.min = ru.ru_minflt;
        f.maj = ru.ru_majflt;
    }
    return f;
}

const char *flt_delta(char *buf, size_t len, struct flt a, struct flt b)
{
    snprintf(buf, len, "+%ld/+%ld", b.min - a.min, b.maj - a.maj);
    return buf;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Reads a whole (small) file into buf, NUL-terminated; returns its length or -1. */
static long slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    return (long)got;
}

void print_self_stat(const char *tag)
{
    char buf[1024];
    if (slurp("/proc/self/stat", buf, sizeof buf) < 0) {
        printf("%s /proc/self/stat: cannot open: %s\n", tag, strerror(errno));
        return;
    }
    /* Fields after "(comm)": the comm may hold spaces, so count from the last ')'. Field 3
     * (state) is the first one after it. */
    char *p = strrchr(buf, ')');
    unsigned long long v[53] = { 0 };
    int field = 3;
    if (p) {
        p++;
        while (*p && field < 53) {
            while (*p == ' ')
                p++;
            if (!*p || *p == '\n')
                break;
            if (field != 3)
                v[field] = strtoull(p, NULL, 10);
            while (*p && *p != ' ')
                p++;
            field++;
        }
    }
    printf("%s /proc/self/stat: minflt(10)=%llu cminflt(11)=%llu majflt(12)=%llu cmajflt(13)=%llu "
           "vsize(23)=%llu rss(24)=%llu pages\n",
           tag, v[10], v[11], v[12], v[13], v[23], v[24]);
}

int cat_file(const char *path)
{
    return head_file(path, -1);
}

int head_file(const char *path, int max_lines)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int n = 0;
    while ((max_lines < 0 || n < max_lines) && fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        n++;
    }
    fclose(f);
    return 0;
}

int maps_line(const char *name, char *out, size_t len)
{
    /* The whole file in one buffer on the stack (no stdio): a static program's maps are far
     * smaller. The buffer's size decides how deep below the caller this reaches into the
     * stack, which `vmtest stack` counts on (see there). */
    char buf[MAPS_BUF];
    long n = slurp("/proc/self/maps", buf, sizeof buf);
    if (n < 0)
        return -1;
    size_t nl = strlen(name);
    for (char *line = buf; *line;) {
        char *eol = strchr(line, '\n');
        size_t l = eol ? (size_t)(eol - line) : strlen(line);
        size_t t = l;
        while (t && line[t - 1] == ' ')
            t--;
        if (t >= nl && memcmp(line + t - nl, name, nl) == 0) {
            snprintf(out, len, "%.*s", (int)t, line);
            return 0;
        }
        if (!eol)
            break;
        line = eol + 1;
    }
    return -1;
}

/* PAGE_OFFSET for CONFIG_VMSPLIT_3G / _2G / _1G; TASK_SIZE is 16 MiB below it. */
const struct split splits[3] = {
    { "3G", 0xc0000000UL, 0xbf000000UL },
    { "2G", 0x80000000UL, 0x7f000000UL },
    { "1G", 0x40000000UL, 0x3f000000UL },
};

/* 1 when a page at addr can be mapped (or is already mapped), 0 when the kernel says the
 * address is out of the user range (ENOMEM), -1 otherwise. */
static int page_mappable(unsigned long addr)
{
    void *want = (void *)addr;
    void *p = mmap(want, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        return errno == EEXIST ? 1 : errno == ENOMEM ? 0 : -1;
    munmap(p, PG);
    return p == want ? 1 : -1;
}

const struct split *split_find(const char *arg)
{
    if (arg && strcmp(arg, "auto") != 0) {
        for (int i = 0; i < 3; i++)
            if (strcasecmp(arg, splits[i].name) == 0)
                return &splits[i];
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        if (page_mappable(splits[i].task_size - PG) == 1 && page_mappable(splits[i].task_size) == 0)
            return &splits[i];
    return NULL;
}

int checks_run, checks_failed;

void check(const char *what, int ok, const char *detail)
{
    checks_run++;
    if (!ok)
        checks_failed++;
    printf("  %-44s %s%s%s\n", what, ok ? "ok" : "FAIL", detail[0] ? ": " : "", detail);
    fflush(stdout);
}

void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long vmstat_value(const char *name)
{
    FILE *f = fopen("/proc/vmstat", "r");
    char key[64];
    long val, found = -1;
    if (!f)
        return -1;
    while (found < 0 && fscanf(f, "%63s %ld", key, &val) == 2)
        if (!strcmp(key, name))
            found = val;
    fclose(f);
    return found;
}
