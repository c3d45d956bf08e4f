/* forkwait - fork, exec, exit, wait4 and signals as a shell and glibc use them: copy-on-write
 * isolation after fork, exit and signal statuses (WIFEXITED, WIFSIGNALED, no core bit), the
 * child's faults in wait4's rusage and in the parent's RUSAGE_CHILDREN (cminflt), SIGCHLD with
 * CLD_EXITED/CLD_KILLED, WNOHANG, __WALL, ECHILD, EINVAL, a signal interrupting wait4 (EINTR,
 * or restarted with SA_RESTART) and nanosleep (EINTR), execve failures returning to the intact
 * caller (ENOENT, EFAULT, E2BIG, ENAMETOOLONG), clone flag sets Linux refuses (EINVAL), and an
 * orphan adopted by the reaper. One line per check; exits 0 when every check passed. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOUCH_PAGES 20
#define EXIT_CODE 3
#define COW_CHILD_VALUE 2
#define ORPHAN_FILE "/tmp/forkwait-orphan"
#define BIG_ARG (200 * 1024) /* above MAX_ARG_STRLEN (128 KiB) */

static volatile sig_atomic_t chld_count, chld_code, chld_status, chld_pid, usr1_count;
static void on_chld(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}
static void on_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

static int cow_value = 1;

/* The state letter of /proc/PID/stat (the field after the command's closing parenthesis),
 * or 0 if the file cannot be read. */
static char task_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits until `pid` sleeps (state S) on two reads `ms` apart: a signal sent before the parent
 * has entered the call it should interrupt would run its handler early and the call would not
 * return EINTR, which a loaded host (qemu-user) makes likely with a fixed delay alone. */
static void wait_until_asleep(pid_t pid, long ms)
{
    for (int tries = 0; tries < 1000; tries++) {
        if (task_state(pid) == 'S') {
            sleep_ms(ms);
            if (task_state(pid) == 'S')
                return;
        } else {
            sleep_ms(1);
        }
    }
}

/* A child that signals its parent once the parent sleeps (at least `ms` after the fork) and
 * exits after `exit_ms`. */
static pid_t signalling_child(long ms, long exit_ms)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        sleep_ms(ms);
        wait_until_asleep(getppid(), 10);
        kill(getppid(), SIGUSR1);
        sleep_ms(exit_ms);
        _exit(0);
    }
    return c;
}

static void set_usr1(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

int main(int argc, char **argv)
{
    char d[256];
    int status;
    struct rusage ru, rc;
    (void)argc;
    printf("fork, exec, wait and signals\n");

    /* The child's faults come back in wait4's rusage and in RUSAGE_CHILDREN. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        unsigned char *m = mmap(NULL, TOUCH_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (int i = 0; m != MAP_FAILED && i < TOUCH_PAGES; i++)
            m[i * PG] = 1;
        cow_value = COW_CHILD_VALUE;
        _exit(EXIT_CODE + cow_value - COW_CHILD_VALUE);
    }
    long r = wait4(c, &status, 0, &ru);
    getrusage(RUSAGE_CHILDREN, &rc);
    snprintf(d, sizeof d, "status 0x%x", status);
    check("fork, exit(3), wait4: WIFEXITED 3", r == c && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CODE, d);
    snprintf(d, sizeof d, "child minflt %ld >= %d, parent cminflt %ld", ru.ru_minflt, TOUCH_PAGES, rc.ru_minflt);
    check("wait4 rusage and RUSAGE_CHILDREN", ru.ru_minflt >= TOUCH_PAGES && rc.ru_minflt == ru.ru_minflt, d);
    snprintf(d, sizeof d, "parent still sees %d", cow_value);
    check("copy-on-write: the child's write stays its own", cow_value == 1, d);

    /* A death by SIGSEGV: WIFSIGNALED, no core file, and SIGCHLD says CLD_KILLED. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        *(volatile int *)0 = 1;
        _exit(0);
    }
    r = waitpid(c, &status, 0);
    snprintf(d, sizeof d, "status 0x%x, SIGCHLD code %d status %d", status, (int)chld_code, (int)chld_status);
    check("SIGSEGV child: WIFSIGNALED, WTERMSIG 11", r == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV
          && !WCOREDUMP(status), d);
    check("SIGCHLD: CLD_KILLED, si_status 11, si_pid", chld_count == 1 && chld_code == CLD_KILLED
          && chld_status == SIGSEGV && chld_pid == c, d);
    fflush(stdout);
    c = fork();
    if (c == 0)
        _exit(9);
    r = waitpid(c, &status, 0);
    snprintf(d, sizeof d, "code %d status %d", (int)chld_code, (int)chld_status);
    check("SIGCHLD: CLD_EXITED, si_status 9", r == c && chld_count == 2 && chld_code == CLD_EXITED
          && chld_status == 9, d);
    signal(SIGCHLD, SIG_DFL);

    /* WNOHANG while the child runs; __WALL; ECHILD; EINVAL. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        sleep_ms(200);
        _exit(0);
    }
    r = waitpid(c, &status, WNOHANG);
    long r2 = waitpid(-1, &status, __WALL);
    snprintf(d, sizeof d, "WNOHANG -> %ld, __WALL -> %ld", r, r2);
    check("WNOHANG returns 0, __WALL reaps", r == 0 && r2 == c, d);
    errno = 0;
    r = waitpid(-1, &status, 0);
    check("wait with no children: ECHILD", r == -1 && errno == ECHILD, "");
    errno = 0;
    r = wait4(-1, &status, 0x100, NULL);
    check("wait4 with an unknown option: EINVAL", r == -1 && errno == EINVAL, "");

    /* A handled signal interrupts wait4 (EINTR), or restarts it with SA_RESTART. */
    set_usr1(0);
    c = signalling_child(100, 200);
    errno = 0;
    r = waitpid(c, &status, 0);
    snprintf(d, sizeof d, "-> %ld %s, handler ran %d", r, r < 0 ? strerrorname_np(errno) : "", (int)usr1_count);
    check("signal during wait4: EINTR", r == -1 && errno == EINTR && usr1_count == 1, d);
    waitpid(c, &status, 0);
    set_usr1(SA_RESTART);
    c = signalling_child(100, 200);
    r = waitpid(c, &status, 0);
    snprintf(d, sizeof d, "-> %ld, handler ran %d", r, (int)usr1_count);
    check("signal during wait4, SA_RESTART: restarted", r == c && usr1_count == 2, d);
    c = signalling_child(100, 0);
    struct timespec ts = { 5, 0 };
    errno = 0;
    r = nanosleep(&ts, NULL);
    snprintf(d, sizeof d, "-> %ld %s", r, r < 0 ? strerrorname_np(errno) : "");
    check("signal during nanosleep: EINTR", r == -1 && errno == EINTR && usr1_count == 3, d);
    waitpid(c, &status, 0);
    signal(SIGUSR1, SIG_DFL);

    /* Failed execs return to the intact caller. */
    char *ok_argv[] = { argv[0], NULL };
    errno = 0;
    r = execve("/no/such/program", ok_argv, NULL);
    check("execve of a missing file: ENOENT", r == -1 && errno == ENOENT, "");
    errno = 0;
    r = syscall(SYS_execve, (char *)16, ok_argv, NULL);
    check("execve with a bad path pointer: EFAULT", r == -1 && errno == EFAULT, "");
    char *bad_argv[] = { argv[0], (char *)16, NULL };
    errno = 0;
    r = execve(argv[0], bad_argv, NULL);
    check("execve with a bad argv string: EFAULT", r == -1 && errno == EFAULT, "");
    char *big = malloc(BIG_ARG + 1);
    if (big) {
        memset(big, 'x', BIG_ARG);
        big[BIG_ARG] = 0;
        char *big_argv[] = { argv[0], big, NULL };
        errno = 0;
        r = execve(argv[0], big_argv, NULL);
        check("execve with a 200 KiB argument: E2BIG", r == -1 && errno == E2BIG, "");
        big[5000] = 0;
        big[0] = '/';
        errno = 0;
        r = execve(big, ok_argv, NULL);
        check("execve of a 5000-byte path: ENAMETOOLONG", r == -1 && errno == ENAMETOOLONG, "");
        free(big);
    }
    snprintf(d, sizeof d, "cow_value %d", cow_value);
    check("the caller runs on after failed execs", cow_value == 1, d);

    /* Flag sets Linux refuses too: a thread without shared handlers, handlers without memory. */
    errno = 0;
    r = syscall(SYS_clone, CLONE_VM | CLONE_THREAD | SIGCHLD, 0, NULL, NULL, NULL);
    check("clone(CLONE_THREAD without SIGHAND): EINVAL", r == -1 && errno == EINVAL, "");
    errno = 0;
    r = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, NULL, NULL, NULL);
    check("clone(CLONE_SIGHAND without VM): EINVAL", r == -1 && errno == EINVAL, "");

    /* kill(pid, 0) probes; an orphan is adopted by the reaper. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        pid_t mid = getpid();
        pid_t g = fork();
        if (g == 0) {
            for (int i = 0; i < 200 && getppid() == mid; i++)
                sleep_ms(10);
            int fd = open(ORPHAN_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                char buf[32];
                int n = snprintf(buf, sizeof buf, "%d %d\n", (int)mid, (int)getppid());
                if (write(fd, buf, (size_t)n) != n)
                    _exit(1);
                close(fd);
            }
            _exit(0);
        }
        _exit(0);
    }
    r = kill(c, 0);
    waitpid(c, &status, 0);
    errno = 0;
    r2 = kill(c, 0);
    check("kill(pid, 0): live 0, reaped ESRCH", r == 0 && r2 == -1 && errno == ESRCH, "");
    int mid = 0, adopted = -1;
    for (int i = 0; i < 300 && adopted < 0; i++) {
        FILE *f = fopen(ORPHAN_FILE, "r");
        if (f) {
            if (fscanf(f, "%d %d", &mid, &adopted) != 2)
                adopted = -1;
            fclose(f);
        }
        if (adopted < 0)
            sleep_ms(10);
    }
    snprintf(d, sizeof d, "parent %d exited, new parent %d", mid, adopted);
    check("an orphan is adopted by the reaper", adopted >= 0 && adopted != mid && adopted != getpid(), d);

    printf("forkwait: %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed ? 1 : 0;
}
