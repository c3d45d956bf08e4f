/* tmpfsswap - a rootfs (tmpfs) file through swap: writes a pattern file in /tmp that other
 * programs' memory then pushes out (reclaim sends the file's pages to swap as 6.1's
 * shmem_writepage does), then reads every byte back through read(), through a shared mapping
 * and through partial-page pwrite()s, and prints what each phase brought back from swap.
 *
 *   tmpfsswap write PATH MIB   PATH: MIB MiB of the pattern, written 60000 bytes at a time;
 *                              PATH.txt: TEXT_LINES lines of text (for the console's cat)
 *   tmpfsswap check PATH       the first half of PATH by read() in 10000-byte steps, the
 *                              second half through mmap(MAP_SHARED), then a 100-byte pwrite()
 *                              into every 7th page of the first half and a pread() of that
 *                              whole page (the new bytes and the untouched rest)
 *   tmpfsswap copy SRC DST     copies SRC to DST, mode 0755 (a program to exec from /tmp)
 *   tmpfsswap rm PATH          unlinks PATH (its pages and swap slots go with the inode)
 *   tmpfsswap hello            prints "TMPFSSWAP hello"
 *
 * Byte `o` of the file is byte o % 4 (little end first) of the word
 * (o / 4) * 2654435761 ^ SEED: a page from the wrong slot, a lost page and a torn page all
 * show. Each phase prints "TMPFSSWAP PHASE: minflt +A majflt +B bad=N | pswpin +C pswpout +D".
 * Exit status 0 when every byte was right, 1 otherwise. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED 0x7f5a0001u
#define SEED_PWRITE 0x7f5a0002u
#define WRITE_STEP 60000
#define READ_STEP 10000
#define PWRITE_EVERY 7
#define PWRITE_AT 2000
#define PWRITE_LEN 100
#define TEXT_LINES 600

struct mark {
    struct flt f;
    long pswpin, pswpout;
};

static struct mark mark_now(void)
{
    struct mark m;
    m.pswpin = vmstat_value("pswpin");
    m.pswpout = vmstat_value("pswpout");
    m.f = faults_now();
    return m;
}

static void report(const char *phase, struct mark a, long bad)
{
    struct mark b = mark_now();
    printf("TMPFSSWAP %s: minflt +%ld majflt +%ld bad=%ld | pswpin +%ld pswpout +%ld\n", phase,
           b.f.min - a.f.min, b.f.maj - a.f.maj, bad, b.pswpin - a.pswpin, b.pswpout - a.pswpout);
    fflush(stdout);
}

static unsigned char want(unsigned long off, uint32_t seed)
{
    uint32_t w = (uint32_t)(off / 4) * 2654435761u ^ seed;
    return (unsigned char)(w >> (off % 4 * 8));
}

static void fill(unsigned char *buf, unsigned long off, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = want(off + i, seed);
}

/* The bytes of `buf` (file offset `off`) that are not the pattern `seed`; the first few printed. */
static long check_bytes(const volatile unsigned char *buf, unsigned long off, size_t n, uint32_t seed,
                  long bad)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char w = want(off + i, seed);
        if (buf[i] != w) {
            if (bad < 8)
                printf("TMPFSSWAP byte %lu is 0x%02x, not 0x%02x\n", off + i, buf[i], w);
            bad++;
        }
    }
    return bad;
}

static int fail(const char *what, const char *path)
{
    printf("TMPFSSWAP %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static int write_file(const char *path, long mib)
{
    static unsigned char buf[WRITE_STEP];
    unsigned long size = (unsigned long)mib << 20;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail("open", path);
    struct mark a = mark_now();
    for (unsigned long off = 0; off < size;) {
        size_t n = size - off < WRITE_STEP ? size - off : WRITE_STEP;
        fill(buf, off, n, SEED);
        ssize_t got = write(fd, buf, n);
        if (got <= 0)
            return fail("write", path);
        off += (unsigned long)got;
    }
    close(fd);
    report("write", a, 0);
    char text[256];
    snprintf(text, sizeof text, "%s.txt", path);
    FILE *t = fopen(text, "w");
    if (!t)
        return fail("open", text);
    for (int i = 0; i < TEXT_LINES; i++)
        fprintf(t, "tmpfsswap line %05d\n", i);
    fclose(t);
    printf("TMPFSSWAP wrote %lu pages\n", size / PG);
    return 0;
}

static int check_file(const char *path)
{
    static unsigned char buf[READ_STEP];
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return fail("open", path);
    unsigned long size = (unsigned long)st.st_size, half = size / 2 / PG * PG;
    long bad = 0, all = 0;
    struct mark a = mark_now();
    for (unsigned long off = 0; off < half;) {
        size_t n = half - off < READ_STEP ? half - off : READ_STEP;
        ssize_t got = read(fd, buf, n);
        if (got <= 0)
            return fail("read", path);
        bad = check_bytes(buf, off, (size_t)got, SEED, bad);
        off += (unsigned long)got;
    }
    report("read", a, bad);
    all += bad;
    a = mark_now();
    volatile unsigned char *p = mmap(NULL, size - half, PROT_READ, MAP_SHARED, fd, (off_t)half);
    if (p == MAP_FAILED)
        return fail("mmap", path);
    bad = check_bytes(p, half, size - half, SEED, 0);
    munmap((void *)p, size - half);
    report("mmap", a, bad);
    all += bad;
    a = mark_now();
    bad = 0;
    static unsigned char page[PG];
    for (unsigned long pg = 0; pg < half / PG; pg += PWRITE_EVERY) {
        unsigned long at = pg * PG + PWRITE_AT;
        fill(buf, at, PWRITE_LEN, SEED_PWRITE);
        if (pwrite(fd, buf, PWRITE_LEN, (off_t)at) != PWRITE_LEN)
            return fail("pwrite", path);
        if (pread(fd, page, PG, (off_t)(pg * PG)) != (ssize_t)PG)
            return fail("pread", path);
        bad = check_bytes(page, pg * PG, PWRITE_AT, SEED, bad);
        bad = check_bytes(page + PWRITE_AT, at, PWRITE_LEN, SEED_PWRITE, bad);
        bad = check_bytes(page + PWRITE_AT + PWRITE_LEN, at + PWRITE_LEN, PG - PWRITE_AT - PWRITE_LEN,
                    SEED, bad);
    }
    report("pwrite", a, bad);
    all += bad;
    close(fd);
    printf("TMPFSSWAP %s\n", all == 0 ? "ok: every byte right" : "FAILED");
    return all != 0;
}

static int copy_file(const char *src, const char *dst)
{
    static unsigned char buf[WRITE_STEP];
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0)
        return fail("open", src);
    if (out < 0)
        return fail("open", dst);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            return fail("write", dst);
    if (n < 0)
        return fail("read", src);
    close(in);
    close(out);
    printf("TMPFSSWAP copied %s to %s\n", src, dst);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "write"))
        return write_file(argv[2], atol(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "check"))
        return check_file(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "copy"))
        return copy_file(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "rm")) {
        if (unlink(argv[2]) != 0)
            return fail("unlink", argv[2]);
        printf("TMPFSSWAP removed %s\n", argv[2]);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "hello")) {
        printf("TMPFSSWAP hello\n");
        return 0;
    }
    fprintf(stderr, "usage: tmpfsswap write PATH MIB | check PATH | copy SRC DST | rm PATH | hello\n");
    return 2;
}
