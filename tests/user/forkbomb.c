/* forkbomb - a hostile program that forks until the kernel refuses: each child only sleeps
 * (and leaves when its parent is gone); the parent counts them until fork fails, which must be
 * EAGAIN (a pid or process limit), then kills and reaps every child.
 *   forkbomb [--max N] [--nproc N]
 * --max N stops after N children even if fork never fails (default 40000, above Linux's
 * pid_max of 32768); --nproc N sets RLIMIT_NPROC to N and, when run as root (whom Linux exempts
 * from that limit), drops to uid/gid 65534 first, so a host run stays small.
 * Exits 0 when fork failed with EAGAIN and every child was reaped, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX 40000
#define NOBODY 65534
#define PROGRESS_EVERY 1000

static void child(pid_t parent)
{
    while (getppid() == parent) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    long max = DEFAULT_MAX, nproc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max") && i + 1 < argc)
            max = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--nproc") && i + 1 < argc)
            nproc = strtol(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: forkbomb [--max N] [--nproc N]\n");
            return 2;
        }
    }
    if (max <= 0) {
        fprintf(stderr, "forkbomb: --max must be positive\n");
        return 2;
    }
    if (nproc > 0) {
        struct rlimit rl = { (rlim_t)nproc, (rlim_t)nproc };
        if (setrlimit(RLIMIT_NPROC, &rl) != 0)
            printf("forkbomb: setrlimit(RLIMIT_NPROC, %ld): %s\n", nproc, strerror(errno));
        if (getuid() == 0 && (setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
            printf("forkbomb: cannot drop to uid %d: %s\n", NOBODY, strerror(errno));
        printf("forkbomb: RLIMIT_NPROC=%ld, uid %d\n", nproc, (int)getuid());
    }
    pid_t *kids = calloc((size_t)max, sizeof *kids);
    if (!kids) {
        printf("forkbomb: no memory for %ld pids\n", max);
        return 1;
    }
    pid_t self = getpid();
    printf("forkbomb: pid %d forking until the kernel refuses\n", (int)self);
    fflush(stdout);
    long n = 0;
    int err = 0;
    while (n < max) {
        pid_t pid = fork();
        if (pid == 0)
            child(self);
        if (pid < 0) {
            err = errno;
            break;
        }
        kids[n++] = pid;
        if (n % PROGRESS_EVERY == 0) {
            printf("forkbomb: %ld children\n", n);
            fflush(stdout);
        }
    }
    if (err)
        printf("forkbomb: fork number %ld failed: %s (%s)\n", n + 1, strerrorname_np(err), strerror(err));
    else
        printf("forkbomb: stopped at --max %ld children, fork never failed\n", max);
    fflush(stdout);
    for (long i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    long reaped = 0;
    while (wait(NULL) > 0)
        reaped++;
    printf("forkbomb: %ld children started, %ld reaped\n", n, reaped);
    return err == EAGAIN && reaped == n ? 0 : 1;
}
