/* fstest - names that change while files are in use, as Linux 6.1 handles them: a working
 * directory per process (chdir, fchdir, getcwd, `..`, relative paths, inherited by fork, openat
 * with a directory descriptor), rename/renameat/renameat2 (replace, RENAME_NOREPLACE,
 * RENAME_EXCHANGE, the directory rules, EXDEV into /proc), unlink/unlinkat/rmdir and their
 * errors, and an unlinked file that stays whole while it is open or mapped: its data readable
 * through the descriptor and the mapping until munmap and close.
 *
 * Prints one line per check, "MEMINFO <tag> MemFree=N Cached=N Shmem=N" (kB, from
 * /proc/meminfo) before the file exists, while the unlinked file is held and after it is let
 * go (the QEMU test checks pivm's page cache gives the pages back), and
 * "fstest: N checks, M failed"; exits 0 when none failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

/* Pages of the file that is removed while in use. */
#define FILE_PAGES 64

static char detail[2 * PATH_MAX + 64];

/* The call returned -1 with errno `e`. */
static void expect_errno(const char *what, long r, int e)
{
    int got = errno;
    snprintf(detail, sizeof detail, "r=%ld errno=%d (%s), want %d", r, r == -1 ? got : 0,
             r == -1 ? strerror(got) : "-", e);
    check(what, r == -1 && got == e, r == -1 && got == e ? "" : detail);
}

static void expect_ok(const char *what, long r)
{
    snprintf(detail, sizeof detail, "r=%ld errno=%d (%s)", r, errno, strerror(errno));
    check(what, r == 0, r == 0 ? "" : detail);
}

static int cwd_is(const char *want)
{
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        snprintf(detail, sizeof detail, "getcwd: %s", strerror(errno));
        return 0;
    }
    snprintf(detail, sizeof detail, "getcwd %s, want %s", buf, want);
    return strcmp(buf, want) == 0;
}

/* A /proc/meminfo field in kB (-1 if missing). */
static long meminfo(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void print_meminfo(const char *tag)
{
    printf("MEMINFO %s MemFree=%ld Cached=%ld Shmem=%ld\n", tag, meminfo("MemFree"),
           meminfo("Cached"), meminfo("Shmem"));
    fflush(stdout);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 4096);
}

/* Whether `len` bytes at `p` hold the pattern from offset `off`. */
static int has_pattern(const unsigned char *p, size_t off, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(off + i))
            return 0;
    return 1;
}

static void working_directory(const char *top)
{
    expect_ok("chdir to the test directory", chdir(top));
    check("getcwd names it", cwd_is(top), detail);
    expect_ok("mkdir sub (relative)", mkdir("sub", 0755));
    expect_ok("chdir sub", chdir("sub"));
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/sub", top);
    check("getcwd after chdir sub", cwd_is(want), detail);
    expect_ok("chdir ..", chdir(".."));
    check("getcwd after chdir ..", cwd_is(top), detail);
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    expect_ok("fchdir to an open directory", fchdir(dfd));
    check("getcwd after fchdir", cwd_is(want), detail);
    expect_ok("chdir back by a relative ..", chdir("../"));
    /* openat with a directory descriptor, unlinkat through it. */
    int fd = openat(dfd, "in-sub", O_CREAT | O_WRONLY, 0644);
    check("openat(dirfd) creates in that directory", fd >= 0 && access("sub/in-sub", F_OK) == 0, "");
    close(fd);
    expect_ok("unlinkat(dirfd, name, 0)", unlinkat(dfd, "in-sub", 0));
    check("the name is gone", access("sub/in-sub", F_OK) == -1 && errno == ENOENT, "");
    int ffd = open("sub-file", O_CREAT | O_RDWR, 0644);
    expect_errno("fchdir to a regular file", fchdir(ffd), ENOTDIR);
    expect_errno("chdir to a regular file", chdir("sub-file"), ENOTDIR);
    expect_errno("chdir to nothing", chdir("no-such-dir"), ENOENT);
    expect_errno("fchdir(bad fd)", fchdir(999), EBADF);
    expect_errno("chdir(bad pointer)", chdir((const char *)1), EFAULT);
    close(ffd);
    unlink("sub-file");
    char small[4];
    expect_errno("getcwd into too small a buffer", getcwd(small, sizeof small) ? 0 : -1, ERANGE);
    expect_errno("getcwd into a bad pointer", syscall(SYS_getcwd, (char *)1, 64), EFAULT);
    /* fork: the child starts in the parent's directory; its chdir is its own. */
    pid_t pid = fork();
    if (pid == 0) {
        char buf[PATH_MAX];
        int same = getcwd(buf, sizeof buf) && strcmp(buf, top) == 0;
        int moved = chdir("sub") == 0;
        _exit(same && moved ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    check("a fork's child inherits the working directory", WIFEXITED(st) && WEXITSTATUS(st) == 0, "");
    check("the child's chdir leaves the parent's", cwd_is(top), detail);
    /* A removed working directory: getcwd says ENOENT, nothing can be created in it. */
    expect_ok("mkdir gone", mkdir("gone", 0755));
    expect_ok("chdir gone", chdir("gone"));
    expect_ok("rmdir of the working directory", rmdir("../gone"));
    char big[PATH_MAX];
    expect_errno("getcwd of a removed directory", getcwd(big, sizeof big) ? 0 : -1, ENOENT);
    expect_errno("create in a removed directory", open("x", O_CREAT | O_WRONLY, 0644), ENOENT);
    expect_ok("chdir out of it", chdir(top));
    close(dfd);
}

static void renames(void)
{
    int fd = open("a", O_CREAT | O_WRONLY, 0644);
    write(fd, "A", 1);
    close(fd);
    fd = open("b", O_CREAT | O_WRONLY, 0644);
    write(fd, "B", 1);
    close(fd);
    struct stat sa, sb;
    stat("a", &sa);
    expect_errno("renameat2 RENAME_NOREPLACE onto a name", syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE), EEXIST);
    expect_ok("rename replaces an existing file", rename("a", "b"));
    check("the new name is the old inode", stat("b", &sb) == 0 && sb.st_ino == sa.st_ino, "");
    expect_errno("the old name is gone", access("a", F_OK), ENOENT);
    expect_ok("renameat2 RENAME_NOREPLACE to a free name", syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "c", RENAME_NOREPLACE));
    expect_ok("mkdir d", mkdir("d", 0755));
    expect_ok("renameat2 RENAME_EXCHANGE file and directory", syscall(SYS_renameat2, AT_FDCWD, "c", AT_FDCWD, "d", RENAME_EXCHANGE));
    struct stat sd;
    check("after the exchange c is the directory", stat("c", &sd) == 0 && S_ISDIR(sd.st_mode), "");
    check("and d the file", stat("d", &sd) == 0 && S_ISREG(sd.st_mode) && sd.st_ino == sa.st_ino, "");
    expect_errno("rename a file over a directory", rename("d", "c"), EISDIR);
    expect_errno("rename a directory over a file", rename("c", "d"), ENOTDIR);
    expect_ok("mkdir c/inner", mkdir("c/inner", 0755));
    expect_errno("rename a directory into itself", rename("c", "c/inner/x"), EINVAL);
    expect_ok("mkdir e", mkdir("e", 0755));
    expect_errno("rename over a non-empty directory", rename("e", "c"), ENOTEMPTY);
    expect_ok("rename a directory over an empty one", rename("c/inner", "e"));
    struct stat sc;
    check("the parents' link counts follow", stat("c", &sc) == 0 && sc.st_nlink == 2, "");
    expect_ok("renameat with directory descriptors", renameat(AT_FDCWD, "d", AT_FDCWD, "e/moved"));
    check("a renamed file keeps its data", access("e/moved", F_OK) == 0, "");
    expect_errno("rename into /proc", rename("e/moved", "/proc/moved"), EXDEV);
    expect_errno("rename a missing name", rename("nothing", "x"), ENOENT);
    expect_errno("rename .", rename(".", "x"), EBUSY);
    expect_errno("renameat2 with an unknown flag", syscall(SYS_renameat2, AT_FDCWD, "e", AT_FDCWD, "f", 0x80), EINVAL);
    expect_errno("renameat2 EXCHANGE|NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "e", AT_FDCWD, "c", 3), EINVAL);
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    expect_errno("rename to a 256-byte name", rename("e", longname), ENAMETOOLONG);
    expect_errno("rename(bad pointer)", rename((const char *)1, "x"), EFAULT);
}

static void removals(void)
{
    expect_errno("rmdir a non-empty directory", rmdir("e"), ENOTEMPTY);
    expect_errno("rmdir a file", rmdir("e/moved"), ENOTDIR);
    expect_errno("unlink a directory", unlink("e"), EISDIR);
    expect_errno("unlink a file with a trailing slash", unlink("e/moved/"), ENOTDIR);
    expect_errno("rmdir .", rmdir("."), EINVAL);
    expect_errno("rmdir ..", rmdir(".."), ENOTEMPTY);
    expect_errno("rmdir /", rmdir("/"), EBUSY);
    expect_errno("rmdir /proc (a mount point)", rmdir("/proc"), EBUSY);
    expect_errno("unlink /proc/self", unlink("/proc/self"), EPERM);
    expect_errno("unlink a missing name", unlink("nothing"), ENOENT);
    expect_errno("unlinkat with an unknown flag", unlinkat(AT_FDCWD, "e", 1), EINVAL);
    expect_errno("unlinkat(bad fd)", unlinkat(999, "x", 0), EBADF);
    expect_errno("unlink(bad pointer)", unlink((const char *)1), EFAULT);
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    expect_errno("unlink a 256-byte name", unlink(longname), ENAMETOOLONG);
    expect_ok("unlinkat a file", unlinkat(AT_FDCWD, "e/moved", 0));
    expect_ok("unlinkat AT_REMOVEDIR", unlinkat(AT_FDCWD, "e", AT_REMOVEDIR));
    expect_ok("rmdir c", rmdir("c"));
    expect_ok("rmdir sub", rmdir("sub"));
}

/* An unlinked file stays whole while open or mapped; its pages go with the last user. */
static void unlinked_but_in_use(void)
{
    size_t len = FILE_PAGES * PG;
    print_meminfo("before");
    int fd = open("held", O_CREAT | O_RDWR, 0644);
    unsigned char *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(i);
    check("write the file", write(fd, buf, len) == (ssize_t)len, "");
    unsigned char *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    check("mmap it MAP_SHARED", map != MAP_FAILED, "");
    /* A second descriptor that is closed before the unlink, and a mapping without one. */
    int fd2 = open("held", O_RDONLY);
    unsigned char *map2 = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd2, 0);
    close(fd2);
    expect_ok("unlink it while open and mapped", unlink("held"));
    expect_errno("the name is gone", access("held", F_OK), ENOENT);
    struct stat st;
    check("fstat: st_nlink 0, size kept", fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == (off_t)len, "");
    print_meminfo("held");
    check("the mapping still reads the data", has_pattern(map, 0, len), "");
    check("the mapping without a descriptor too", map2 != MAP_FAILED && has_pattern(map2, 0, len), "");
    memset(buf, 0, len);
    check("pread through the descriptor", pread(fd, buf, len, 0) == (ssize_t)len && has_pattern(buf, 0, len), "");
    unsigned char b = 0xee;
    check("a write through the descriptor", pwrite(fd, &b, 1, 5) == 1, "");
    check("shows in the shared mapping", map[5] == 0xee, "");
    munmap(map, len);
    munmap(map2, len);
    check("read after munmap", pread(fd, &b, 1, 5) == 1 && b == 0xee, "");
    close(fd);
    free(buf);
    print_meminfo("after");
}

int main(void)
{
    char top[64];
    snprintf(top, sizeof top, "/tmp/fstest-%d", (int)getpid());
    mkdir(top, 0755);
    working_directory(top);
    renames();
    removals();
    unlinked_but_in_use();
    chdir("/");
    expect_ok("rmdir the test directory", rmdir(top));
    printf("fstest: %d checks, %d failed\n", checks_run, checks_failed);
    return checks_failed != 0;
}
