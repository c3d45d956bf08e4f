/* cardwait - a program that reads a card file with read(2) does not hold the CPU while the card
 * works: each wait for the card is a sleep, and another program gets the CPU meanwhile.
 *
 *   cardwait FILE BYTES CHUNK [read|readv|mmap|write|writev]
 *       drops the page cache (echo 3 > /proc/sys/vm/drop_caches), forks a CPU-bound spinner, and
 *       reads the first BYTES of FILE in CHUNK-byte read(2)s (readv: readv(2)s of two iovecs of
 *       CHUNK/2 bytes; mmap: a shared read-only mapping of FILE touched byte by byte, each CHUNK
 *       a "read"; write: each CHUNK of that mapping written with write(2) straight from it to a
 *       tmpfs file, WRITE_OUT, and read back from there, so the write's own copy in faults on
 *       the card's pages; writev: the same with writev(2) of two iovecs), checking every byte
 *       against the
 *       pattern `make sd-image` writes (every byte of page i is i mod 256). Counted, not timed:
 *       the reader's voluntary context switches over its reads are the times it went to sleep
 *       (a wait that idled the CPU instead counts none), and the spinner, which never sleeps,
 *       counts its involuntary ones over the same reads: each sleep of the reader handed it the
 *       CPU, and the reader's wake-up took it back.
 *
 * Prints "cardwait: read|readv|mapped|write|writev N bytes in R reads, pattern ok|BAD (W wrong); reader slept S times;
 * spinner ran L loops, preempted P times" and exits 0 when every byte was right. */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define DROP_CACHES "/proc/sys/vm/drop_caches"
#define MAX_CHUNK (1L << 20)
#define WRITE_OUT "/tmp/cardwait.out"

/* What the reader and the spinner share (a MAP_SHARED anonymous page). */
struct shared {
    volatile unsigned long loops;  /* the spinner's loops */
    volatile long nivcsw;          /* the spinner's involuntary switches between go and stop */
    volatile int go;               /* set by the reader before its first read */
    volatile int ready;            /* set by the spinner once it has its starting count */
    volatile int stop;             /* set by the reader after its last read */
};

/* A line of /proc/self/status as a number ("voluntary_ctxt_switches:"), or -1. */
static long status_value(const char *key)
{
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k))
            v = strtol(line + k, NULL, 10);
    fclose(f);
    return v;
}

static int drop_caches(void)
{
    int fd = open(DROP_CACHES, O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2) {
        perror("cardwait: " DROP_CACHES);
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: cardwait FILE BYTES CHUNK [read|readv|mmap|write|writev]\n");
        return 2;
    }
    const char *file = argv[1];
    const char *mode = argc == 5 ? argv[4] : "read";
    long bytes = strtol(argv[2], NULL, 0), chunk = strtol(argv[3], NULL, 0);
    if (bytes <= 0 || chunk <= 0 || chunk > MAX_CHUNK ||
        (strcmp(mode, "read") && strcmp(mode, "readv") && strcmp(mode, "mmap") &&
         strcmp(mode, "write") && strcmp(mode, "writev"))) {
        fprintf(stderr, "cardwait: bad BYTES, CHUNK or mode\n");
        return 2;
    }
    struct shared *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *buf = malloc(chunk);
    if (sh == MAP_FAILED || !buf) {
        perror("cardwait: memory");
        return 1;
    }
    /* Cleared before the fork (a shmem page reads as zeros anyway: the spinner and the reader
     * share it however it is first touched). */
    memset((void *)sh, 0, sizeof *sh);
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        perror(file);
        return 1;
    }
    const char *map = NULL;
    int writing = !strcmp(mode, "write") || !strcmp(mode, "writev"), out = -1;
    if (writing) {
        mkdir("/tmp", 0755);
        out = open(WRITE_OUT, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (out < 0) {
            perror(WRITE_OUT);
            return 1;
        }
    }
    if (!strcmp(mode, "mmap") || writing) {
        map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            perror("cardwait: mmap");
            return 1;
        }
    }
    if (drop_caches())
        return 1;
    pid_t spinner = fork();
    if (spinner < 0) {
        perror("cardwait: fork");
        return 1;
    }
    if (spinner == 0) {
        while (!sh->go)
            sh->loops++;
        long nivcsw0 = status_value("nonvoluntary_ctxt_switches:");
        sh->ready = 1;
        while (!sh->stop)
            sh->loops++;
        sh->nivcsw = status_value("nonvoluntary_ctxt_switches:") - nivcsw0;
        _exit(0);
    }
    /* The spinner is running before the first read. */
    while (sh->loops == 0)
        sched_yield();
    sh->go = 1;
    while (!sh->ready)
        sched_yield();
    long nvcsw0 = status_value("voluntary_ctxt_switches:");
    long got = 0, reads = 0, wrong = 0;
    while (got < bytes) {
        long want = bytes - got < chunk ? bytes - got : chunk;
        ssize_t n;
        if (writing) {
            /* The write's copy in faults on the mapping's pages (and, after drop_caches, the
             * FAT): the bytes come from the card inside the call. */
            if (!strcmp(mode, "writev")) {
                struct iovec iov[2] = {{(void *)(map + got), want / 2},
                                       {(void *)(map + got + want / 2), want - want / 2}};
                n = writev(out, iov, 2);
            } else {
                n = write(out, map + got, want);
            }
            if (n > 0 && pread(out, buf, n, got) != n)
                n = -1;
        } else if (map) {
            /* Each byte through the mapping: the faults read the file (and, after
             * drop_caches, the FAT for its cluster chain). */
            for (long i = 0; i < want; i++)
                buf[i] = map[got + i];
            n = want;
        } else if (!strcmp(mode, "readv")) {
            struct iovec iov[2] = {{buf, want / 2}, {buf + want / 2, want - want / 2}};
            n = readv(fd, iov, 2);
        } else {
            n = read(fd, buf, want);
        }
        if (n <= 0) {
            perror("cardwait: read");
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != (unsigned char)(((got + i) / (long)PG) & 255))
                wrong++;
        got += n;
        reads++;
    }
    long nvcsw = status_value("voluntary_ctxt_switches:") - nvcsw0;
    sh->stop = 1;
    int status;
    waitpid(spinner, &status, 0);
    printf("cardwait: %s %ld bytes in %ld reads, pattern %s (%ld wrong); reader slept %ld times; "
           "spinner ran %lu loops, preempted %ld times\n",
           writing ? mode : map ? "mapped" : mode, got, reads, wrong ? "BAD" : "ok", wrong, nvcsw, sh->loops, sh->nivcsw);
    if (writing)
        unlink(WRITE_OUT);
    return wrong || got != bytes ? 1 : 0;
}
