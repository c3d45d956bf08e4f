/* cardmap - what reading a file from the SD card costs a process: major and minor faults of
 * mmap'd pages, the card's read requests behind them (read-ahead), and the same file read with
 * read(2), on Linux 6.1 and on pivm, in vmtest's line format so compare-table.pl pairs the two.
 *
 *   cardmap [-d] FILE [shared|private] [read|write] N...
 *       maps the first N pages of FILE and touches one byte of each, in address order (read,
 *       or write: copy-on-write for private, dirtying for shared), then re-reads them, unmaps,
 *       maps again and re-reads; each step's getrusage(RUSAGE_SELF) delta is "+minflt/+majflt".
 *       -d drops the page cache (echo 3 > /proc/sys/vm/drop_caches) before each N.
 *   cardmap [-d] read FILE CHUNK...  read(2)s the whole file in CHUNK-byte pieces, twice
 *   cardmap drop                     echo 3 > /proc/sys/vm/drop_caches
 *   cardmap ra KB                    /sys/block/mmcblk0/queue/read_ahead_kb = KB
 *   cardmap fa BYTES                 /sys/kernel/debug/fault_around_bytes = BYTES
 *   cardmap pc N                     /proc/sys/vm/page-cluster = N (swap read-ahead: 2^N pages)
 *   cardmap cache                    the page-cache lines of /proc/meminfo and the card's I/O
 *
 * Every step also gives the card's completed reads and sectors read over it ("STEP io
 * +reads/+sectors": the mmcblk0 line of /proc/diskstats, fields 4 and 6), which is what
 * read-ahead changes; read(2) of a page-cache miss is no fault, so there only io moves. The
 * file's bytes are checked against the pattern `make sd-image` writes (every byte of page i is
 * i mod 256, the reference's f16m): any wrong byte is reported and the exit status is 1. */
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

#define DELTA 48
#define DISK "mmcblk0"
#define DROP_CACHES "/proc/sys/vm/drop_caches"
#define READ_AHEAD_KB "/sys/block/" DISK "/queue/read_ahead_kb"
#define FAULT_AROUND "/sys/kernel/debug/fault_around_bytes"
#define PAGE_CLUSTER "/proc/sys/vm/page-cluster"
#define MAX_CHUNK (1L << 20)

static int bad_bytes; /* pattern mismatches seen: the exit status says whether there were any */

/* The card's completed reads and sectors read so far (/proc/diskstats, whole disk); -1 when
 * there is no such line. */
struct io {
    long reads, sectors;
};

static struct io io_now(void)
{
    struct io r = { -1, -1 };
    FILE *f = fopen("/proc/diskstats", "r");
    char line[256], name[32];
    unsigned maj, min;
    long rd, rdm, sec;
    if (!f)
        return r;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%u %u %31s %ld %ld %ld", &maj, &min, name, &rd, &rdm, &sec) == 6 && !strcmp(name, DISK)) {
            r.reads = rd;
            r.sectors = sec;
        }
    fclose(f);
    return r;
}

/* One measured step: faults and card I/O before and after. */
struct step {
    struct flt f;
    struct io io;
    uint64_t ns;
};

static struct step begin(void)
{
    struct step s;
    s.io = io_now();
    s.f = faults_now();
    s.ns = now_ns();
    return s;
}

/* "+min/+maj (NS ns)  LABEL io +reads/+sectors" for the step that began at `a` (reads and
 * sectors of the card; "LABEL io -" without /proc/diskstats). */
static const char *end(char *buf, size_t len, struct step a, const char *label)
{
    uint64_t ns = now_ns();
    struct flt f = faults_now();
    struct io io = io_now();
    char d[DELTA];
    if (io.reads < 0 || a.io.reads < 0)
        snprintf(buf, len, "%s (%llu ns)  %s io -", flt_delta(d, sizeof d, a.f, f), (unsigned long long)(ns - a.ns),
                 label);
    else
        snprintf(buf, len, "%s (%llu ns)  %s io +%ld/+%ld", flt_delta(d, sizeof d, a.f, f),
                 (unsigned long long)(ns - a.ns), label, io.reads - a.io.reads, io.sectors - a.io.sectors);
    return buf;
}

/* Writes `value` into a control file; prints what it did. Returns 0 on success. */
static int set_knob(const char *path, const char *value)
{
    char old[32] = "?";
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, old, sizeof old - 1);
        old[n > 0 ? n : 0] = 0;
        old[strcspn(old, "\n")] = 0;
        close(fd);
    }
    fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value)) {
        printf("cardmap: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    printf("cardmap: %s: %s -> %s\n", path, old, value);
    return 0;
}

static int drop_caches(void)
{
    sync();
    return set_knob(DROP_CACHES, "3");
}

/* Checks a whole page of the file against the pattern; counts and reports a mismatch. */
static void check_page(const volatile unsigned char *p, long page, const char *path)
{
    unsigned char want = (unsigned char)page;
    for (long i = 0; i < (long)PG; i++)
        if (p[i] != want) {
            if (bad_bytes++ < 8)
                printf("cardmap: %s page %ld byte %ld is 0x%02x, not 0x%02x\n", path, page, i, p[i], want);
            return;
        }
}

/* One byte of each of n pages read (their sum), in address order. */
static inline __attribute__((always_inline)) unsigned long touch_read(volatile unsigned char *p, long n)
{
    unsigned long sum = 0;
    for (long i = 0; i < n; i++)
        sum += p[i * PG];
    return sum;
}

static void map_test(const char *path, long n, int shared, int write, int drop)
{
    char d[4][128];
    const char *kind = shared ? "MAP_SHARED" : "MAP_PRIVATE";
    const char *what = write ? "first-write" : "first-read";
    unsigned long sum = 0;
    size_t len = (size_t)n * PG;
    int prot = PROT_READ | (write || !shared ? PROT_WRITE : 0);

    if (drop && drop_caches() != 0)
        return;
    int fd = open(path, shared && write ? O_RDWR : O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        printf("file %s N=%ld %s: cannot open: %s\n", path, n, kind, strerror(errno));
        bad_bytes++;
        if (fd >= 0)
            close(fd);
        return;
    }
    if ((unsigned long long)st.st_size < len) {
        printf("file %s N=%ld %s: the file has only %lld pages\n", path, n, kind, (long long)st.st_size / (long long)PG);
        bad_bytes++;
        close(fd);
        return;
    }
    volatile unsigned char *p;
    struct step s = begin();
    p = mmap(NULL, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    end(d[0], sizeof d[0], s, "mmap");
    if (p == MAP_FAILED) {
        printf("file %s N=%ld %s: mmap failed: %s\n", path, n, kind, strerror(errno));
        bad_bytes++;
        close(fd);
        return;
    }
    s = begin();
    if (write) {
        /* The byte written is the one already there, so the file keeps its pattern. */
        for (long i = 0; i < n; i++)
            p[i * PG] = (unsigned char)i;
    } else {
        sum += touch_read(p, n);
    }
    end(d[1], sizeof d[1], s, what);
    s = begin();
    sum += touch_read(p, n);
    end(d[2], sizeof d[2], s, "re-read");
    for (long i = 0; i < n; i++)
        check_page(p + i * PG, i, path);
    munmap((void *)p, len);
    s = begin();
    p = mmap(NULL, len, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED)
        sum += touch_read(p, n);
    end(d[3], sizeof d[3], s, "remap+read");
    if (p != MAP_FAILED)
        munmap((void *)p, len);
    close(fd);
    printf("file %s N=%ld %s: mmap %s  %s %s  re-read %s  remap+read %s  sum=%lu  %s\n", path, n, kind,
           d[0], what, d[1], d[2], d[3], sum, bad_bytes ? "pattern BAD" : "pattern ok");
    fflush(stdout);
}

static void read_test(const char *path, long chunk, int drop)
{
    static unsigned char buf[MAX_CHUNK];
    char d[2][128];
    if (drop && drop_caches() != 0)
        return;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("read %s chunk=%ld: cannot open: %s\n", path, chunk, strerror(errno));
        bad_bytes++;
        return;
    }
    long total[2] = { 0, 0 };
    for (int pass = 0; pass < 2; pass++) {
        lseek(fd, 0, SEEK_SET);
        struct step s = begin();
        for (;;) {
            ssize_t n = read(fd, buf, (size_t)chunk);
            if (n < 0) {
                printf("read %s chunk=%ld: read at %ld: %s\n", path, chunk, total[pass], strerror(errno));
                bad_bytes++;
                break;
            }
            if (n == 0)
                break;
            /* Each byte's page index is its offset's; a short read can end mid-page. */
            for (ssize_t i = 0; i < n; i++) {
                long off = total[pass] + i;
                if (buf[i] != (unsigned char)(off / (long)PG) && bad_bytes++ < 8)
                    printf("cardmap: %s offset %ld is 0x%02x, not 0x%02x\n", path, off, buf[i],
                           (unsigned char)(off / (long)PG));
            }
            total[pass] += n;
        }
        end(d[pass], sizeof d[pass], s, pass ? "re-read" : "read");
    }
    close(fd);
    printf("read %s chunk=%ld: read %s  re-read %s  bytes=%ld  %s\n", path, chunk, d[0], d[1], total[0],
           bad_bytes ? "pattern BAD" : "pattern ok");
    fflush(stdout);
}

static void cache_lines(void)
{
    static const char *const keys[] = { "Buffers:", "Cached:", "SwapCached:", "Active(file):", "Inactive(file):" };
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    if (!f) {
        printf("cardmap: /proc/meminfo: %s\n", strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (!strncmp(line, keys[i], strlen(keys[i])))
                printf("  %s", line);
    fclose(f);
    struct io io = io_now();
    printf("  %s reads=%ld sectors=%ld\n", DISK, io.reads, io.sectors);
}

static long number(const char *s, long min)
{
    char *e;
    errno = 0;
    long n = strtol(s, &e, 0);
    if (errno || *e || n < min) {
        fprintf(stderr, "cardmap: '%s' is not a number >= %ld\n", s, min);
        exit(2);
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: cardmap [-d] FILE [shared|private] [read|write] N...\n"
                    "       cardmap [-d] read FILE CHUNK...\n"
                    "       cardmap drop | ra KB | fa BYTES | pc N | cache\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int drop = 0, i = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (i < argc && !strcmp(argv[i], "-d")) {
        drop = 1;
        i++;
    }
    if (i >= argc)
        usage();
    const char *cmd = argv[i++];
    if (!strcmp(cmd, "drop") && i == argc)
        return drop_caches() ? 1 : 0;
    if (!strcmp(cmd, "ra") && i + 1 == argc)
        return set_knob(READ_AHEAD_KB, argv[i]) ? 1 : 0;
    if (!strcmp(cmd, "fa") && i + 1 == argc)
        return set_knob(FAULT_AROUND, argv[i]) ? 1 : 0;
    if (!strcmp(cmd, "pc") && i + 1 == argc)
        return set_knob(PAGE_CLUSTER, argv[i]) ? 1 : 0;
    if (!strcmp(cmd, "cache") && i == argc) {
        cache_lines();
        return 0;
    }
    if (!strcmp(cmd, "read")) {
        if (i + 1 >= argc)
            usage();
        const char *path = argv[i++];
        for (; i < argc; i++) {
            long chunk = number(argv[i], 1);
            if (chunk > MAX_CHUNK)
                usage();
            read_test(path, chunk, drop);
        }
        return bad_bytes ? 1 : 0;
    }
    int shared = 1, write = 0, ran = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "shared"))
            shared = 1;
        else if (!strcmp(argv[i], "private"))
            shared = 0;
        else if (!strcmp(argv[i], "read"))
            write = 0;
        else if (!strcmp(argv[i], "write"))
            write = 1;
        else {
            map_test(cmd, number(argv[i], 1), shared, write, drop);
            ran++;
        }
    }
    if (!ran)
        usage();
    return bad_bytes ? 1 : 0;
}
