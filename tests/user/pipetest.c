/* pipetest - pipes as Linux 6.1 has them: pipe/pipe2 (O_CLOEXEC, O_NONBLOCK, bad flags and
 * pointers), a capacity of 16 pages (64 KiB of page-sized writes before EAGAIN), a parent and
 * a forked child passing a pattern many times that size through blocking reads and writes
 * (each side sleeping while the other catches up), end-of-file when the last writer closes,
 * EPIPE and SIGPIPE when the last reader has gone, a reader that sleeps (no CPU time) until a
 * writer comes, dup2 of a pipe onto stdout, fcntl's flags, lseek's ESPIPE and FIONREAD.
 * Prints one line per check and "pipetest: N checks, M failed"; exits 0 when none failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* Bytes the child sends: 16 times the pipe's capacity. */
#define TOTAL (16 * 65536)

static char detail[256];

static void expect_errno(const char *what, long r, int e)
{
    int got = errno;
    snprintf(detail, sizeof detail, "r=%ld errno=%d (%s), want %d", r, r == -1 ? got : 0,
             r == -1 ? strerror(got) : "-", e);
    check(what, r == -1 && got == e, r == -1 && got == e ? "" : detail);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i ^ (i >> 8) ^ (i >> 16));
}

static void basics(void)
{
    int p[2];
    check("pipe", pipe(p) == 0, "");
    check("the read end is O_RDONLY", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY, "");
    check("the write end is O_WRONLY", (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY, "");
    struct stat st;
    check("fstat: a FIFO", fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode), "");
    expect_errno("lseek on a pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
    expect_errno("write to the read end", write(p[0], "x", 1), EBADF);
    check("write 5 bytes", write(p[1], "hello", 5) == 5, "");
    int n = -1;
    check("FIONREAD counts them", ioctl(p[0], FIONREAD, &n) == 0 && n == 5, "");
    char buf[16];
    check("read returns what is there", read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "");
    close(p[1]);
    check("read after the last writer closed: end-of-file", read(p[0], buf, sizeof buf) == 0, "");
    close(p[0]);

    check("pipe2(O_CLOEXEC)", pipe2(p, O_CLOEXEC) == 0, "");
    check("both ends FD_CLOEXEC", fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "");
    close(p[0]);
    close(p[1]);
    expect_errno("pipe2 with an unknown flag", pipe2(p, O_APPEND), EINVAL);
#if defined(__aarch64__)
    /* arm64 has no pipe system call: glibc's pipe() is pipe2(fds, 0). */
    expect_errno("pipe2(bad pointer)", syscall(SYS_pipe2, (int *)1, 0), EFAULT);
#else
    expect_errno("pipe(bad pointer)", syscall(SYS_pipe, (int *)1), EFAULT);
#endif
}

static void capacity(void)
{
    int p[2];
    check("pipe2(O_NONBLOCK)", pipe2(p, O_NONBLOCK) == 0, "");
    check("F_GETFL has O_NONBLOCK", (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0, "");
    char buf[4096];
    expect_errno("read of an empty non-blocking pipe", read(p[0], buf, sizeof buf), EAGAIN);
    memset(buf, 'c', sizeof buf);
    long total = 0;
    ssize_t r;
    while ((r = write(p[1], buf, sizeof buf)) > 0)
        total += r;
    snprintf(detail, sizeof detail, "%ld bytes", total);
    check("page writes fill 16 pages: 65536 bytes", total == 65536 && errno == EAGAIN, detail);
    expect_errno("one more byte: EAGAIN", write(p[1], buf, 1), EAGAIN);
    check("read one page", read(p[0], buf, sizeof buf) == 4096, "");
    check("a page fits again", write(p[1], buf, sizeof buf) == 4096, "");
    /* F_SETFL clears O_NONBLOCK. */
    check("F_SETFL 0", fcntl(p[1], F_SETFL, 0) == 0 && (fcntl(p[1], F_GETFL) & O_NONBLOCK) == 0, "");
    close(p[0]);
    close(p[1]);
}

/* The child writes TOTAL bytes in writes of varying sizes (some larger than the pipe); the
 * parent reads them in other sizes and checks every byte. */
static void big_transfer(void)
{
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        unsigned char *buf = malloc(TOTAL);
        for (size_t i = 0; i < TOTAL; i++)
            buf[i] = pattern(i);
        static const size_t sizes[] = { 1, 100, 4096, 5000, 70000, 65536, 12345, 3 };
        size_t off = 0, k = 0;
        while (off < TOTAL) {
            size_t n = sizes[k++ % 8];
            if (n > TOTAL - off)
                n = TOTAL - off;
            ssize_t w = write(p[1], buf + off, n);
            if (w != (ssize_t)n)
                _exit(2);
            off += n;
        }
        _exit(0);
    }
    close(p[1]);
    unsigned char buf[9000];
    size_t got = 0, bad = 0, calls = 0;
    static const size_t rsizes[] = { 9000, 1, 4096, 777 };
    for (;;) {
        ssize_t r = read(p[0], buf, rsizes[calls++ % 4]);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(got + i))
                bad++;
        got += r;
    }
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    snprintf(detail, sizeof detail, "%zu bytes, %zu wrong, child status %#x", got, bad, st);
    check("16 x 64 KiB through a pipe, parent and child", got == TOTAL && bad == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, detail);
}

static void broken_pipe(void)
{
    int p[2];
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    expect_errno("write with no reader: EPIPE", write(p[1], "x", 1), EPIPE);
    signal(SIGPIPE, SIG_DFL);
    pid_t pid = fork();
    if (pid == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    snprintf(detail, sizeof detail, "status %#x", st);
    check("without a handler SIGPIPE kills the writer", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, detail);
    close(p[1]);
}

/* A reader of an empty pipe sleeps until the writer comes (no CPU time spent waiting). */
static void sleeping_reader(void)
{
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        sleep_ms(300);
        write(p[1], "late", 4);
        _exit(0);
    }
    close(p[1]);
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    uint64_t t0 = now_ns();
    char buf[8];
    ssize_t r = read(p[0], buf, sizeof buf);
    uint64_t waited = now_ns() - t0;
    getrusage(RUSAGE_SELF, &b);
    long cpu_us = (b.ru_utime.tv_sec - a.ru_utime.tv_sec) * 1000000L + (b.ru_utime.tv_usec - a.ru_utime.tv_usec) +
                  (b.ru_stime.tv_sec - a.ru_stime.tv_sec) * 1000000L + (b.ru_stime.tv_usec - a.ru_stime.tv_usec);
    snprintf(detail, sizeof detail, "waited %llu ms, cpu %ld us", (unsigned long long)(waited / 1000000), cpu_us);
    check("a blocked read waits for the writer", r == 4 && memcmp(buf, "late", 4) == 0 && waited >= 200000000ULL, detail);
    check("and sleeps meanwhile (under 100 ms of CPU)", cpu_us < 100000, detail);
    close(p[0]);
    waitpid(pid, NULL, 0);
}

/* stdout dup2'd onto a pipe: what the child prints arrives in the parent. */
static void redirected_stdout(void)
{
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 1);
        close(p[1]);
        printf("through the pipe %d\n", 42);
        fflush(stdout);
        _exit(0);
    }
    close(p[1]);
    char buf[64] = { 0 };
    size_t n = 0;
    ssize_t r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    close(p[0]);
    waitpid(pid, NULL, 0);
    check("printf to a dup2'd pipe", strcmp(buf, "through the pipe 42\n") == 0, buf);
}

int main(void)
{
    basics();
    capacity();
    big_transfer();
    broken_pipe();
    sleeping_reader();
    redirected_stdout();
    printf("pipetest: %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed != 0;
}
