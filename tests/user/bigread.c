/* bigread - a system call's copy into many fresh user pages under memory pressure: the whole
 * of a file in one read(2) (or pread64) into a freshly mapped buffer, so that every page of the
 * buffer is faulted in by the kernel's copy_to_user, inside one call. On Linux 6.1 each of
 * those faults' page allocations reclaims (or invokes the OOM killer) when memory is short,
 * and the call returns every byte; it never fails with EFAULT or comes back short for want
 * of memory.
 *
 *   bigread FILE [ROUNDS [SIZE]]
 *       ROUNDS (default 2) rounds, read(2) from offset 0 in odd rounds and pread64 in even
 *       ones; each maps a fresh anonymous buffer the size of FILE (untouched), makes the one
 *       call, checks it returned the whole size and every byte against the pattern
 *       `make user` and `make sd-image` write (every byte of page i is i mod 256, f16m), and
 *       prints
 *         bigread round R read|pread: GOT of SIZE bytes, bad=B, faults +MIN/+MAJ
 *       (the call's own getrusage(RUSAGE_SELF) delta: each buffer page's fault counted once),
 *       then unmaps it. The last line is "bigread ok" or "bigread FAIL"; the exit status 1
 *       on any failure.
 *       SIZE (bytes) is the size to read of a file whose st_size is 0 (a block device): its
 *       bytes are checked against the same range read again a page at a time with pread64
 *       (not the pattern). */
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

/* Bytes of the buffer that differ from the pattern. */
static long bad_bytes(const unsigned char *buf, long size)
{
    long bad = 0;
    for (long i = 0; i < size; i++)
        if (buf[i] != (unsigned char)((i / (long)PG) & 255))
            bad++;
    return bad;
}

/* Bytes of the buffer that differ from the file read again a page at a time. */
static long bad_against_file(int fd, const unsigned char *buf, long size)
{
    static unsigned char page[PG];
    long bad = 0;
    for (long off = 0; off < size; off += PG) {
        long n = size - off < (long)PG ? size - off : (long)PG;
        if (pread(fd, page, n, off) != n)
            return size;
        for (long i = 0; i < n; i++)
            bad += buf[off + i] != page[i];
    }
    return bad;
}

/* Whether the buffer is checked against the file itself (a device) rather than the pattern. */
static int against_file;

/* One round: 0 when every byte came back right in one call. */
static int round_once(int fd, long size, int round)
{
    int use_pread = round % 2 == 0;
    unsigned char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        printf("bigread round %d: mmap %ld: %s\n", round, size, strerror(errno));
        return 1;
    }
    if (!use_pread && lseek(fd, 0, SEEK_SET) != 0) {
        printf("bigread round %d: lseek: %s\n", round, strerror(errno));
        return 1;
    }
    struct flt a = faults_now();
    ssize_t got = use_pread ? pread(fd, buf, size, 0) : read(fd, buf, size);
    int err = errno;
    struct flt b = faults_now();
    char d[48];
    if (got < 0) {
        printf("bigread round %d %s: %s, faults %s\n", round, use_pread ? "pread" : "read", strerror(err),
               flt_delta(d, sizeof d, a, b));
        munmap(buf, size);
        return 1;
    }
    long bad = against_file ? bad_against_file(fd, buf, got) : bad_bytes(buf, got);
    printf("bigread round %d %s: %ld of %ld bytes, bad=%ld, faults %s\n", round, use_pread ? "pread" : "read",
           (long)got, size, bad, flt_delta(d, sizeof d, a, b));
    munmap(buf, size);
    return got != size || bad != 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bigread FILE [ROUNDS [SIZE]]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 2;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    int stat_ok = fd >= 0 && fstat(fd, &st) == 0;
    if (stat_ok && st.st_size == 0 && argc > 3) {
        st.st_size = atol(argv[3]);
        against_file = 1;
    }
    if (!stat_ok || st.st_size <= 0) {
        printf("bigread: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int failed = 0;
    for (int r = 1; r <= rounds; r++)
        failed |= round_once(fd, (long)st.st_size, r);
    close(fd);
    printf("bigread %s\n", failed ? "FAIL" : "ok");
    return failed;
}
