/* syscalls - calls every system call issue 12 lists (beyond what glibc's start-up already
 * needs) and checks what it returns, one line each: identity (getpid, getppid, gettid,
 * set_tid_address, set_robust_list/get_robust_list), uname, getrandom, clocks and sleeping, brk, mmap/munmap/
 * mprotect/madvise(MADV_DONTNEED)/mincore, files (openat, read, lseek, _llseek, fstat, statx,
 * close, writev), ioctl(TCGETS), signals (rt_sigaction, rt_sigprocmask, kill), processes (fork,
 * vfork, wait4, execve), and numbers no kernel implements (ENOSYS). Exits 0 when every check
 * passed, 1 otherwise. `syscalls exit-with N` is the child execve runs. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_NS (10 * 1000 * 1000L)
#define EXEC_STATUS 5
#define FORK_STATUS 7
#define VFORK_STATUS 3
#define UNKNOWN_NR 0x3ff /* far above the last system call of Linux 6.1 (450) */
#ifdef __arm__
#define ARM_PRIVATE_UNKNOWN 0xf07ff /* __ARM_NR_BASE + 0x7ff: an unassigned ARM private call */
#endif

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

int main(int argc, char **argv)
{
    char d[256];
    if (argc == 3 && !strcmp(argv[1], "exit-with"))
        return atoi(argv[2]);
    printf("system calls\n");

    pid_t pid = getpid();
    snprintf(d, sizeof d, "pid %d, ppid %d, tid %ld", (int)pid, (int)getppid(), syscall(SYS_gettid));
    check("getpid, getppid, gettid", pid > 0 && getppid() >= 0 && syscall(SYS_gettid) == pid, d);
    int ctid;
    long r = syscall(SYS_set_tid_address, &ctid);
    snprintf(d, sizeof d, "returned %ld", r);
    check("set_tid_address returns the tid", r == pid, d);
    /* The robust futex list (an empty one: next points at the head itself). qemu-user
     * implements neither call (ENOSYS), which glibc copes with; a kernel that has them keeps
     * the head per task, refuses another size, clears it in a fork's child. */
    long robust[3] = { 0, 0, 0 };
    /* struct robust_list_head is three longs: 12 bytes on ARM, 24 on arm64. */
#if defined(__aarch64__)
#define ROBUST_SHORT_LABEL "set_robust_list(len 23): EINVAL"
#define ROBUST_SIZE_LABEL "get_robust_list: the head set, 24 bytes"
#else
#define ROBUST_SHORT_LABEL "set_robust_list(len 11): EINVAL"
#define ROBUST_SIZE_LABEL "get_robust_list: the head set, 12 bytes"
#endif
    robust[0] = (long)robust;
    r = syscall(SYS_set_robust_list, robust, sizeof robust);
    int no_robust = r == -1 && errno == ENOSYS;
    snprintf(d, sizeof d, "%s", r == 0 ? "0" : strerrorname_np(errno));
    check("set_robust_list: 0 or ENOSYS", r == 0 || no_robust, d);
    r = syscall(SYS_set_robust_list, robust, sizeof robust - 1);
    snprintf(d, sizeof d, "%ld %s", r, strerrorname_np(errno));
    check(ROBUST_SHORT_LABEL, r == -1 && errno == (no_robust ? ENOSYS : EINVAL), d);
    void *head = NULL;
    size_t hlen = 0;
    r = syscall(SYS_get_robust_list, 0, &head, &hlen);
    snprintf(d, sizeof d, "%ld: head %p len %zu", r, head, hlen);
    check(ROBUST_SIZE_LABEL,
          no_robust ? (r == -1 && errno == ENOSYS) : (r == 0 && head == (void *)robust && hlen == sizeof robust), d);
    long esrch = syscall(SYS_get_robust_list, 999999, &head, &hlen);
    int e1 = errno;
    long efault = syscall(SYS_get_robust_list, 0, NULL, &hlen);
    int e2 = errno;
    snprintf(d, sizeof d, "%ld %s, %ld %s", esrch, strerrorname_np(e1), efault, strerrorname_np(e2));
    check("get_robust_list: ESRCH, EFAULT", esrch == -1 && efault == -1 &&
          e1 == (no_robust ? ENOSYS : ESRCH) && e2 == (no_robust ? ENOSYS : EFAULT), d);
    /* The raw fork system call: glibc's fork() would register its own list in the child. */
    fflush(stdout);
#if defined(__aarch64__)
    long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* arm64 has no fork: clone(SIGCHLD) is it */
#else
    long child = syscall(SYS_fork);
#endif
    if (child == 0) {
        head = robust;
        r = syscall(SYS_get_robust_list, 0, &head, &hlen);
        _exit(no_robust ? !(r == -1 && errno == ENOSYS) : !(r == 0 && head == NULL));
    }
    int cst = -1;
    waitpid((pid_t)child, &cst, 0);
    snprintf(d, sizeof d, "child %ld status 0x%x", child, cst);
    check("fork's child starts with no robust list", child > 0 && cst == 0, d);

    struct utsname u;
    r = uname(&u);
    snprintf(d, sizeof d, "%s %s %s", u.sysname, u.release, u.machine);
    check("uname", r == 0 && u.sysname[0], r == 0 ? d : strerror(errno));
    unsigned char rnd[16];
    r = getrandom(rnd, sizeof rnd, 0);
    snprintf(d, sizeof d, "returned %ld", r);
    check("getrandom(16 bytes)", r == (long)sizeof rnd, d);

    struct timespec t0, t1, req = { 0, SLEEP_NS };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = nanosleep(&req, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long slept = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    snprintf(d, sizeof d, "slept %ld us", slept / 1000);
    check("nanosleep(10 ms), clock_gettime", r == 0 && slept >= SLEEP_NS, d);
    struct timespec rt;
    r = clock_gettime(CLOCK_REALTIME, &rt);
    check("clock_gettime(CLOCK_REALTIME)", r == 0, "");
    /* Resolution: a tick at most (pivm has no high-resolution timers; Linux's is 1 ns). */
    struct timespec res = { -1, -1 };
    r = clock_getres(CLOCK_MONOTONIC, &res);
    snprintf(d, sizeof d, "%ld.%09ld s", (long)res.tv_sec, res.tv_nsec);
    check("clock_getres(CLOCK_MONOTONIC)", r == 0 && res.tv_sec == 0 && res.tv_nsec > 0 &&
          res.tv_nsec <= 10000000L, d);
    errno = 0;
    r = clock_getres((clockid_t)99, &res);
    check("clock_getres(99): EINVAL", r == -1 && errno == EINVAL, "");
    struct timespec c0, c1;
    r = clock_gettime(CLOCK_MONOTONIC_COARSE, &c0) | clock_gettime(CLOCK_MONOTONIC, &c1);
    snprintf(d, sizeof d, "coarse %ld.%09ld, fine %ld.%09ld", (long)c0.tv_sec, c0.tv_nsec,
             (long)c1.tv_sec, c1.tv_nsec);
    check("CLOCK_MONOTONIC_COARSE not ahead of MONOTONIC", r == 0 &&
          (c0.tv_sec < c1.tv_sec || (c0.tv_sec == c1.tv_sec && c0.tv_nsec <= c1.tv_nsec)), d);
    check("sched_yield", sched_yield() == 0, "");
    struct rusage ru;
    check("getrusage(RUSAGE_SELF)", getrusage(RUSAGE_SELF, &ru) == 0, "");

    char *b0 = sbrk(0);
    char *b1 = sbrk(PG);
    char *b2 = sbrk(0);
    int brk_ok = b1 == b0 && b2 == b0 + PG;
    if (brk_ok) {
        b1[PG - 1] = 1;
        brk_ok = sbrk(-(long)PG) == b2 && sbrk(0) == b0;
    }
    snprintf(d, sizeof d, "%p -> %p -> back", (void *)b0, (void *)b2);
    check("brk: grow one page, write, shrink", brk_ok, d);

    unsigned char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap2 2 anonymous pages", m != MAP_FAILED, m == MAP_FAILED ? strerror(errno) : "");
    if (m != MAP_FAILED) {
        m[0] = 0x5a;
        unsigned char vec[2] = { 0xff, 0xff };
        r = mincore(m, 2 * PG, vec);
        snprintf(d, sizeof d, "vec %d %d", vec[0] & 1, vec[1] & 1);
        check("mincore: touched page in, other out", r == 0 && (vec[0] & 1) && !(vec[1] & 1), d);
        r = madvise(m, PG, MADV_DONTNEED);
        check("madvise(MADV_DONTNEED) zeroes the page", r == 0 && m[0] == 0, r ? strerror(errno) : "");
        r = mprotect(m, PG, PROT_READ);
        check("mprotect(PROT_READ)", r == 0, r ? strerror(errno) : "");
        r = munmap(m, 2 * PG);
        check("munmap", r == 0, r ? strerror(errno) : "");
    }

    int fd = (int)syscall(SYS_openat, AT_FDCWD, argv[0], O_RDONLY);
    check("openat(self)", fd >= 0, fd < 0 ? strerror(errno) : "");
    if (fd >= 0) {
        char magic[4] = { 0 };
        r = read(fd, magic, 4);
        check("read: the ELF magic", r == 4 && !memcmp(magic, "\177ELF", 4), "");
        struct stat st;
        r = fstat(fd, &st);
        off_t end = lseek(fd, 0, SEEK_END);
        snprintf(d, sizeof d, "st_size %lld, SEEK_END %lld", (long long)st.st_size, (long long)end);
        check("fstat, lseek(SEEK_END)", r == 0 && end == st.st_size && S_ISREG(st.st_mode), d);
#ifdef SYS__llseek
        unsigned long long res = 0;
        r = syscall(SYS__llseek, fd, 0, 1, &res, SEEK_SET);
        snprintf(d, sizeof d, "offset %llu", res);
        check("_llseek to 1", r == 0 && res == 1, d);
#endif
#ifdef SYS_statx
        struct statx sx;
        r = syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx);
        snprintf(d, sizeof d, "%s", r == 0 ? "stx_size matches" : strerrorname_np(errno));
        check("statx: size, or ENOSYS", (r == 0 && (off_t)sx.stx_size == st.st_size) || errno == ENOSYS, d);
#endif
        check("close", close(fd) == 0, "");
        errno = 0;
        r = read(fd, magic, 1);
        check("read of a closed fd: EBADF", r == -1 && errno == EBADF, "");
    }
    errno = 0;
    r = open("/no/such/file", O_RDONLY);
    check("open of a missing file: ENOENT", r == -1 && errno == ENOENT, "");
    struct iovec iov[2] = { { "  writev: two ", 14 }, { "pieces\n", 7 } };
    fflush(stdout);
    r = writev(1, iov, 2);
    check("writev returns both lengths", r == 21, "");
    struct termios tio;
    errno = 0;
    r = ioctl(1, TCGETS, &tio);
    check("ioctl(TCGETS): 0 or ENOTTY", r == 0 || errno == ENOTTY, r == 0 ? "a terminal" : strerrorname_np(errno));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    r = sigaction(SIGUSR1, &sa, NULL);
    check("rt_sigaction(SIGUSR1)", r == 0, "");
    kill(pid, SIGUSR1);
    check("kill(self, SIGUSR1) runs the handler", usr1_count == 1, "");
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    kill(pid, SIGUSR1);
    int held = usr1_count == 1;
    sigprocmask(SIG_SETMASK, &old, NULL);
    check("rt_sigprocmask holds SIGUSR1 until unblocked", held && usr1_count == 2, "");

    int status = 0;
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(FORK_STATUS);
    r = wait4(c, &status, 0, &ru);
    snprintf(d, sizeof d, "child %d, status %d", (int)c, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check("fork, wait4: the exit status", c > 0 && r == c && WIFEXITED(status) && WEXITSTATUS(status) == FORK_STATUS, d);
    c = vfork();
    if (c == 0)
        _exit(VFORK_STATUS);
    r = waitpid(c, &status, 0);
    check("vfork, wait4", c > 0 && r == c && WIFEXITED(status) && WEXITSTATUS(status) == VFORK_STATUS, "");
    c = fork();
    if (c == 0) {
        char code[8];
        snprintf(code, sizeof code, "%d", EXEC_STATUS);
        char *args[] = { argv[0], "exit-with", code, NULL };
        execv(argv[0], args);
        _exit(127);
    }
    r = waitpid(c, &status, 0);
    snprintf(d, sizeof d, "status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check("fork, execve(self), wait4", r == c && WIFEXITED(status) && WEXITSTATUS(status) == EXEC_STATUS, d);
    errno = 0;
    r = waitpid(-1, &status, WNOHANG);
    check("wait4 with no children: ECHILD", r == -1 && errno == ECHILD, "");

    errno = 0;
    r = syscall(UNKNOWN_NR);
    snprintf(d, sizeof d, "returned %ld %s", r, r == -1 ? strerrorname_np(errno) : "");
    check("unknown system call 0x3ff: ENOSYS", r == -1 && errno == ENOSYS, d);
#ifdef ARM_PRIVATE_UNKNOWN
    errno = 0;
    r = syscall(ARM_PRIVATE_UNKNOWN);
    snprintf(d, sizeof d, "returned %ld %s", r, r == -1 ? strerrorname_np(errno) : "");
    check("unknown ARM private call 0xf07ff: ENOSYS", r == -1 && errno == ENOSYS, d);
#endif
    printf("syscalls: %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed ? 1 : 0;
}
