/* jobctl - job-control signals and SIGCHLD's ignore rule as Linux 6.1 has them: SIGSTOP stops
 * a child (state T in /proc/PID/stat, no CPU time while stopped), wait4(WUNTRACED) reports
 * W_STOPCODE(SIGSTOP) once, SIGCONT resumes it and wait4(WCONTINUED) reports 0xffff once, the
 * parent's SIGCHLD handler sees CLD_STOPPED and CLD_CONTINUED (none with SA_NOCLDSTOP), SIGKILL
 * kills a stopped child, a stop signal the child ignores does nothing, a nanosleep the stop
 * interrupted goes on to its first deadline after SIGCONT (no EINTR), and with SIGCHLD set
 * to SIG_IGN (or SA_NOCLDWAIT) exiting children leave no zombie and wait4 blocks until the
 * last is gone, then fails with ECHILD. One line per check; exits 0 when every check passed.
 * (SIGTSTP's own stop code is checked from the console in the QEMU tests: user-mode QEMU
 * stops itself with SIGSTOP for it.) */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a child gets to start, and the gaps the checks leave between steps. */
#define SETTLE_MS 100
#define CPU_WINDOW_MS 300
#define AUTOREAP_CHILDREN 3
#define AUTOREAP_STEP_MS 100
/* How long the first autoreaped child may take to disappear, and how often we look. */
#define AUTOREAP_POLL_MS 2000
#define AUTOREAP_POLL_STEP_MS 10
#define NAP_MS 400
/* The clock's tick (HZ 100 on pivm) may end a sleep up to this much early in our count. */
#define SLACK_MS 10

static long ms_since(uint64_t start)
{
    return (long)((now_ns() - start) / 1000000);
}

static volatile sig_atomic_t chld_count, chld_code, chld_status, chld_pid;
static void on_chld(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void set_chld(void (*handler)(int, siginfo_t *, void *), void (*plain)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags | SA_RESTART;
    if (handler) {
        sa.sa_sigaction = handler;
        sa.sa_flags |= SA_SIGINFO;
    } else {
        sa.sa_handler = plain;
    }
    sigaction(SIGCHLD, &sa, NULL);
}

/* A child that spins on the CPU until killed. */
static pid_t spinner(void)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        for (volatile unsigned long n = 0;; n++)
            ;
    }
    return c;
}

/* The state letter and utime+stime of `pid` from /proc/PID/stat ('?' if unreadable). */
static char proc_state(pid_t pid, unsigned long *ticks)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return '?';
    char state = p[2];
    /* After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt,
     * then utime and stime. */
    unsigned long ut, st;
    if (ticks && sscanf(p + 4, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu", &ut, &st) == 2)
        *ticks = ut + st;
    return state;
}

static void stop_and_continue(void)
{
    char d[160];
    int st;
    chld_count = 0;
    set_chld(on_chld, NULL, 0);
    pid_t c = spinner();
    sleep_ms(SETTLE_MS);

    kill(c, SIGSTOP);
    pid_t r = waitpid(c, &st, WUNTRACED);
    snprintf(d, sizeof d, "pid %d status %#x", (int)r, st);
    check("SIGSTOP: wait4(WUNTRACED) W_STOPCODE(19)",
          r == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP && st == 0x137f, d);
    snprintf(d, sizeof d, "count %d code %d status %d pid %d", (int)chld_count, (int)chld_code,
             (int)chld_status, (int)chld_pid);
    check("SIGCHLD CLD_STOPPED with si_status SIGSTOP",
          chld_count == 1 && chld_code == CLD_STOPPED && chld_status == SIGSTOP && chld_pid == c,
          d);
    unsigned long t0 = 0, t1 = 0;
    char s0 = proc_state(c, &t0);
    sleep_ms(CPU_WINDOW_MS);
    char s1 = proc_state(c, &t1);
    snprintf(d, sizeof d, "state %c/%c, ticks %lu -> %lu", s0, s1, t0, t1);
    check("stopped child: state T, no CPU time", s0 == 'T' && s1 == 'T' && t0 == t1, d);
    r = waitpid(c, &st, WUNTRACED | WNOHANG);
    snprintf(d, sizeof d, "returned %d", (int)r);
    check("the stop is reported once", r == 0, d);

    chld_count = 0;
    kill(c, SIGCONT);
    r = waitpid(c, &st, WCONTINUED);
    snprintf(d, sizeof d, "pid %d status %#x", (int)r, st);
    check("SIGCONT: wait4(WCONTINUED) 0xffff", r == c && WIFCONTINUED(st) && st == 0xffff, d);
    for (int i = 0; i < 50 && chld_count == 0; i++)
        sleep_ms(10);
    snprintf(d, sizeof d, "count %d code %d status %d", (int)chld_count, (int)chld_code,
             (int)chld_status);
    check("SIGCHLD CLD_CONTINUED with si_status SIGCONT",
          chld_count == 1 && chld_code == CLD_CONTINUED && chld_status == SIGCONT, d);
    r = waitpid(c, &st, WCONTINUED | WUNTRACED | WNOHANG);
    snprintf(d, sizeof d, "returned %d", (int)r);
    check("the continue is reported once", r == 0, d);
    s0 = proc_state(c, &t0);
    sleep_ms(CPU_WINDOW_MS);
    s1 = proc_state(c, &t1);
    snprintf(d, sizeof d, "state %c, ticks %lu -> %lu", s1, t0, t1);
    check("continued child runs again", s1 == 'R' && t1 > t0, d);

    /* SIGKILL ends a stopped child. */
    kill(c, SIGSTOP);
    r = waitpid(c, &st, WUNTRACED);
    kill(c, SIGKILL);
    r = waitpid(c, &st, 0);
    snprintf(d, sizeof d, "pid %d status %#x", (int)r, st);
    check("SIGKILL kills a stopped child", r == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          d);
}

static void no_cld_stop(void)
{
    char d[160];
    int st;
    chld_count = 0;
    set_chld(on_chld, NULL, SA_NOCLDSTOP);
    pid_t c = spinner();
    sleep_ms(SETTLE_MS);
    kill(c, SIGSTOP);
    pid_t r = waitpid(c, &st, WUNTRACED);
    int stopped = r == c && WIFSTOPPED(st);
    kill(c, SIGCONT);
    r = waitpid(c, &st, WCONTINUED);
    int continued = r == c && WIFCONTINUED(st);
    sleep_ms(SETTLE_MS);
    snprintf(d, sizeof d, "stopped %d continued %d SIGCHLDs %d", stopped, continued,
             (int)chld_count);
    check("SA_NOCLDSTOP: wait4 reports, no SIGCHLD", stopped && continued && chld_count == 0, d);
    kill(c, SIGKILL);
    r = waitpid(c, &st, 0);
    snprintf(d, sizeof d, "SIGCHLDs %d code %d", (int)chld_count, (int)chld_code);
    check("SA_NOCLDSTOP still signals the exit", chld_count == 1 && chld_code == CLD_KILLED, d);
}

static void ignored_stop(void)
{
    char d[160];
    int st;
    set_chld(NULL, SIG_DFL, 0);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGTSTP, SIG_IGN);
        sleep_ms(2 * SETTLE_MS);
        _exit(7);
    }
    sleep_ms(SETTLE_MS);
    kill(c, SIGTSTP);
    pid_t r = waitpid(c, &st, WUNTRACED);
    snprintf(d, sizeof d, "pid %d status %#x", (int)r, st);
    check("an ignored SIGTSTP does not stop", r == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, d);
}

/* A child sleeping NAP_MS is stopped and continued in the middle: without a handler the
 * sleep resumes (restart_syscall) and returns 0 no earlier than its first deadline. */
static void stopped_sleep(void)
{
    char d[160];
    int st;
    set_chld(NULL, SIG_DFL, 0);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        struct timespec ts = { NAP_MS / 1000, (NAP_MS % 1000) * 1000000L };
        uint64_t start = now_ns();
        int r = nanosleep(&ts, NULL);
        long slept = ms_since(start);
        _exit(r != 0 ? 1 : slept < NAP_MS - SLACK_MS ? 2 : 0);
    }
    sleep_ms(SETTLE_MS);
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    sleep_ms(SETTLE_MS);
    kill(c, SIGCONT);
    pid_t r = waitpid(c, &st, 0);
    snprintf(d, sizeof d, "pid %d status %#x (1: EINTR, 2: woke early)", (int)r, st);
    check("a stopped nanosleep resumes after SIGCONT", r == c && WIFEXITED(st) &&
          WEXITSTATUS(st) == 0, d);
}

/* Children exiting `AUTOREAP_STEP_MS` apart while SIGCHLD is ignored (or SA_NOCLDWAIT). */
static void autoreap(const char *how, int nocldwait)
{
    char d[160], what[64];
    int st;
    chld_count = 0;
    if (nocldwait)
        set_chld(on_chld, NULL, SA_NOCLDWAIT);
    else
        set_chld(NULL, SIG_IGN, 0);
    pid_t kids[AUTOREAP_CHILDREN];
    fflush(stdout);
    for (int i = 0; i < AUTOREAP_CHILDREN; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            sleep_ms(i * AUTOREAP_STEP_MS);
            _exit(i);
        }
    }
    uint64_t start = now_ns();
    /* The first child exits at once; a zombie never goes away unreaped, so polling until
     * it is gone (or a deadline far beyond a loaded machine's delay) fails only when the
     * kernel keeps one. */
    int gone = 0;
    for (long looked = 0; !gone && looked < AUTOREAP_POLL_MS; looked += AUTOREAP_POLL_STEP_MS) {
        sleep_ms(AUTOREAP_POLL_STEP_MS);
        errno = 0;
        gone = kill(kids[0], 0) == -1 && errno == ESRCH;
    }
    snprintf(d, sizeof d, "kill(%d, 0): %s", (int)kids[0], gone ? "ESRCH" : "exists");
    snprintf(what, sizeof what, "%s: exited child leaves no zombie", how);
    check(what, gone, d);
    errno = 0;
    pid_t r = wait4(-1, &st, 0, NULL);
    int err = errno;
    long waited = ms_since(start);
    long last = (AUTOREAP_CHILDREN - 1) * AUTOREAP_STEP_MS;
    snprintf(d, sizeof d, "returned %d %s after %ld ms", (int)r, strerror(err), waited);
    snprintf(what, sizeof what, "%s: wait4 blocks, then ECHILD", how);
    check(what, r == -1 && err == ECHILD && waited >= last - 20, d);
    if (nocldwait) {
        for (int i = 0; i < 50 && chld_count < AUTOREAP_CHILDREN; i++)
            sleep_ms(10);
        snprintf(d, sizeof d, "%d SIGCHLDs, last code %d", (int)chld_count, (int)chld_code);
        check("SA_NOCLDWAIT still sends SIGCHLD",
              chld_count == AUTOREAP_CHILDREN && chld_code == CLD_EXITED, d);
    }
    set_chld(NULL, SIG_DFL, 0);
}

int main(void)
{
    printf("jobctl: stop, continue and SIGCHLD's ignore rule\n");
    stop_and_continue();
    no_cld_stop();
    ignored_stop();
    stopped_sleep();
    autoreap("SIG_IGN", 0);
    autoreap("SA_NOCLDWAIT", 1);
    printf("jobctl: %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed ? 1 : 0;
}
