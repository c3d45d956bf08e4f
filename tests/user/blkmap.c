/* blkmap.c - a block device as a program sees it (the raw-partition runs of
 * LINUX_USER_FACTS.md section 4): opened read-only, fstat (a block special file and its
 * major:minor), ioctl BLKGETSIZE64 and BLKRAGET (read-ahead in sectors, as blockdev
 * --getra), then for each N the first N pages mapped MAP_SHARED and read one byte a page,
 * twice, each pass's +minflt/+majflt (getrusage), and the first page read with pread(2)
 * compared with the mapping.
 *
 *   blkmap DEV N...     e.g. blkmap /dev/mmcblk0p2 1 16 256
 *
 * Output: "blkmap DEV: block MAJ:MIN size BYTES ra SECTORS", then one line per N:
 * "blkmap DEV N=n: first-read +MIN/+MAJ  re-read +MIN/+MAJ  pread ok". Exit 1 on an error.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DELTA 48

/* Reads one byte of each of the n pages at p; their sum (so the reads are not dropped). */
static unsigned long touch(const volatile unsigned char *p, long n)
{
    unsigned long sum = 0;
    for (long i = 0; i < n; i++)
        sum += p[i * PG];
    return sum;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: blkmap DEV N...\n");
        return 2;
    }
    const char *dev = argv[1];
    int fd = open(dev, O_RDONLY);
    struct stat st;
    unsigned long long bytes = 0;
    long ra = -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
        printf("blkmap %s: %s\n", dev, strerror(errno));
        return 1;
    }
    if (!S_ISBLK(st.st_mode)) {
        printf("blkmap %s: not a block device\n", dev);
        return 1;
    }
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ioctl(fd, BLKRAGET, &ra) != 0) {
        printf("blkmap %s: ioctl: %s\n", dev, strerror(errno));
        return 1;
    }
    printf("blkmap %s: block %u:%u size %llu ra %ld\n", dev, major(st.st_rdev), minor(st.st_rdev), bytes, ra);
    int bad = 0;
    for (int a = 2; a < argc; a++) {
        long n = atol(argv[a]);
        if (n <= 0 || (unsigned long long)n * PG > bytes) {
            printf("blkmap %s N=%ld: the device has %llu pages\n", dev, n, bytes / PG);
            bad = 1;
            continue;
        }
        volatile unsigned char *p = mmap(NULL, n * PG, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            printf("blkmap %s N=%ld: mmap: %s\n", dev, n, strerror(errno));
            bad = 1;
            continue;
        }
        char d1[DELTA], d2[DELTA];
        struct flt f0 = faults_now();
        unsigned long sum = touch(p, n);
        struct flt f1 = faults_now();
        sum += touch(p, n);
        struct flt f2 = faults_now();
        static unsigned char page[PG];
        int same = pread(fd, page, PG, 0) == (ssize_t)PG && memcmp(page, (const void *)p, PG) == 0;
        printf("blkmap %s N=%ld: first-read %s  re-read %s  pread %s (sum %lu)\n", dev, n,
               flt_delta(d1, sizeof d1, f0, f1), flt_delta(d2, sizeof d2, f1, f2), same ? "ok" : "DIFFERS", sum);
        bad |= !same;
        munmap((void *)p, n * PG);
    }
    close(fd);
    return bad;
}
