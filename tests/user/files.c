/* files - the file system calls as a program sees them: /proc/self/maps, /proc/self/status and
 * /proc/meminfo read in small chunks (seq_file: the pieces join into the text one large read
 * gives, every read but the last is full, whole records end the text), lseek on them,
 * /proc/stat, /proc/uptime, /proc/interrupts, /proc/partitions and /proc/diskstats read whole,
 * getdents64 over /proc and over the program's own directory (in one call and in many small
 * ones), dup/dup2/dup3 and the close-on-exec flag, stdout redirected into a file, a file created
 * in /tmp written, read back, pread and appended to, umask and mkdir/mkdirat, and the errno of
 * bad descriptors, paths,
 * pointers and arguments. Prints "FILES ok" and exits 0 when everything holds, else a
 * "FAIL ..." line per broken check and exits 1.
 *
 * "files hold" then prints its own /proc/self/maps between "--- maps" and "--- end" (read 7
 * bytes at a time), "HOLDING pid=N" and sleeps up to 30 s, so that the console can `cat
 * /proc/N/maps` and compare. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __func__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The call failed with errno `e`. */
#define ERRNO(call, e)                                                                             \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        CHECK(r_ == -1 && errno == (e), "%s = %ld errno %d (%s), want %d", #call, r_, errno,       \
              strerror(errno), (e));                                                               \
    } while (0)

static char whole[65536], pieces[65536];

/* Reads the file at `path` with reads of `chunk` bytes into out; its length. Every read but
 * the last two (data, then 0 at the end) must return the whole chunk. */
static long read_chunks(const char *path, char *out, size_t cap, size_t chunk)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    if (fd < 0)
        return -1;
    size_t len = 0;
    int short_reads = 0;
    for (;;) {
        ssize_t n = read(fd, out + len, chunk < cap - len ? chunk : cap - len);
        CHECK(n >= 0, "read %s: %s", path, strerror(errno));
        if (n <= 0)
            break;
        CHECK((size_t)n <= chunk, "read %zd > %zu bytes", n, chunk);
        short_reads += (size_t)n < chunk;
        len += n;
    }
    /* seq_file fills a read while records remain: at most one short read, the last. */
    CHECK(short_reads <= 1, "%s: %d short reads of %zu", path, short_reads, chunk);
    close(fd);
    return (long)len;
}

/* The field names of a "Name: value" text, one per line (the values of meminfo and status
 * change from one read to the next; their lines do not). */
static void shape(char *text, long len)
{
    int in_value = 0;
    long w = 0;
    for (long r = 0; r < len; r++) {
        if (text[r] == '\n')
            in_value = 0;
        else if (in_value)
            continue;
        else if (text[r] == ':')
            in_value = 1;
        text[w++] = text[r];
    }
    text[w] = 0;
}

/* The chunked reads of `path` give the text of one large read (`stable`), or the same lines. */
static void check_chunked(const char *path, int stable)
{
    long big = read_chunks(path, whole, sizeof whole - 1, sizeof whole);
    CHECK(big > 0 && whole[big - 1] == '\n', "%s: %ld bytes, not whole lines", path, big);
    if (!stable)
        shape(whole, big > 0 ? big : 0);
    size_t sizes[] = { 1, 7, 64, 100, 4095 };
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        long n = read_chunks(path, pieces, sizeof pieces - 1, sizes[i]);
        CHECK(n > 0 && pieces[n - 1] == '\n', "%s read %zu at a time ends mid-line", path,
              sizes[i]);
        if (stable) {
            CHECK(n == big && memcmp(whole, pieces, big) == 0,
                  "%s read %zu at a time: %ld bytes differ from one read's %ld", path, sizes[i],
                  n, big);
        } else {
            shape(pieces, n > 0 ? n : 0);
            CHECK(strcmp(whole, pieces) == 0, "%s read %zu at a time: other lines", path,
                  sizes[i]);
        }
    }
}

static void proc_files(void)
{
    /* stdout's buffer exists before maps is read, so the mappings stay the same. */
    printf("proc files\n");
    fflush(stdout);
    check_chunked("/proc/self/maps", 1);
    check_chunked("/proc/self/status", 0);
    check_chunked("/proc/meminfo", 0);

    long n = read_chunks("/proc/self/status", whole, sizeof whole - 1, sizeof whole);
    whole[n > 0 ? n : 0] = 0;
    char want[64];
    snprintf(want, sizeof want, "\nPid:\t%d\n", (int)getpid());
    CHECK(strstr(whole, want) != NULL, "status has no %s", want + 1);
    n = read_chunks("/proc/meminfo", whole, sizeof whole - 1, sizeof whole);
    whole[n > 0 ? n : 0] = 0;
    CHECK(strncmp(whole, "MemTotal:", 9) == 0, "meminfo starts %.20s", whole);

    /* lseek: a position inside a record reads the rest of the text from there. */
    int fd = open("/proc/meminfo", O_RDONLY);
    char buf[256];
    CHECK(lseek(fd, 3, SEEK_SET) == 3, "lseek 3");
    ssize_t got = read(fd, buf, 5);
    CHECK(got == 5 && memcmp(buf, "Total", 5) == 0, "read at 3: %zd", got);
    CHECK(lseek(fd, 0, SEEK_CUR) == 8, "SEEK_CUR after the read");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "back to 0");
    got = read(fd, buf, 9);
    CHECK(got == 9 && memcmp(buf, "MemTotal:", 9) == 0, "read at 0 after lseek");
    ERRNO(lseek(fd, 0, SEEK_END), EINVAL); /* seq_lseek */
    ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
#if defined(__aarch64__)
    /* arm64 has no _llseek: its lseek already takes a 64-bit offset. */
    CHECK(syscall(SYS_lseek, fd, 12, SEEK_SET) == 12, "lseek 12 by number");
#else
    loff_t res = -1;
    CHECK(syscall(SYS__llseek, fd, 0, 12, &res, SEEK_SET) == 0 && res == 12, "_llseek 12");
#endif
    got = pread(fd, buf, 9, 0);
    CHECK(got == 9 && memcmp(buf, "MemTotal:", 9) == 0, "pread at 0: %zd", got);
    close(fd);

    /* /proc/self is this process's directory. */
    char link[64];
    ssize_t l = readlink("/proc/self", link, sizeof link - 1);
    CHECK(l > 0, "readlink /proc/self: %s", strerror(errno));
    if (l > 0) {
        link[l] = 0;
        CHECK(atoi(link) == getpid(), "/proc/self -> %s, pid %d", link, (int)getpid());
    }
}

/* Lists a directory with getdents64 in `count`-byte calls: the names, NUL-separated, in out. */
static long list_dir(const char *path, size_t count, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    if (fd < 0)
        return -1;
    char buf[8192];
    size_t len = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, count);
        CHECK(n >= 0, "getdents64 %s %zu: %s", path, count, strerror(errno));
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            size_t nl = strlen(d->d_name) + 1;
            if (len + nl <= cap) {
                memcpy(out + len, d->d_name, nl);
                len += nl;
            }
            CHECK(d->d_reclen >= 20 && d->d_reclen % 8 == 0, "d_reclen %u", d->d_reclen);
            off += d->d_reclen;
        }
    }
    close(fd);
    return (long)len;
}

static int has_name(const char *names, long len, const char *name)
{
    for (long off = 0; off < len; off += strlen(names + off) + 1)
        if (strcmp(names + off, name) == 0)
            return 1;
    return 0;
}

static void directories(const char *self)
{
    static char one[16384], many[16384];
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    /* /proc in one call and in 64-byte calls (other processes may come and go between). */
    long a = list_dir("/proc", 8192, one, sizeof one);
    long b = list_dir("/proc", 64, many, sizeof many);
    const char *in_proc[] = { ".", "..", "self", "meminfo", pid };
    for (unsigned i = 0; i < sizeof in_proc / sizeof in_proc[0]; i++)
        CHECK(has_name(one, a, in_proc[i]) && has_name(many, b, in_proc[i]), "/proc has no %s",
              in_proc[i]);

    /* The program's own directory (/bin on pivm) holds the program. */
    char dir[256];
    snprintf(dir, sizeof dir, "%s", self);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : self;
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    a = list_dir(dir, 8192, one, sizeof one);
    b = list_dir(dir, 40, many, sizeof many);
    CHECK(a > 0 && a == b && memcmp(one, many, a) == 0, "%s listed in 40-byte calls differs", dir);
    CHECK(has_name(one, a, base) && has_name(one, a, ".."), "%s has no %s", dir, base);

    /* A buffer too small for one entry, and a file that is no directory. */
    int fd = open("/proc", O_RDONLY | O_DIRECTORY);
    char small[8];
    ERRNO(syscall(SYS_getdents64, fd, small, sizeof small), EINVAL);
    close(fd);
    fd = open("/proc/meminfo", O_RDONLY);
    ERRNO(syscall(SYS_getdents64, fd, one, sizeof one), ENOTDIR);
    close(fd);
}

static void tmp_file(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/files-%d", (int)getpid());
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
    CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
    if (fd < 0)
        return;
    ERRNO(open(path, O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
    const char text[] = "written by files\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)sizeof text - 1, "write");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof text - 1 && S_ISREG(st.st_mode) &&
              (st.st_mode & 0777) == 0644,
          "fstat size %ld mode %o", (long)st.st_size, (unsigned)st.st_mode);
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
    char buf[64] = { 0 };
    CHECK(read(fd, buf, sizeof buf) == (ssize_t)sizeof text - 1 && strcmp(buf, text) == 0,
          "read back %s", buf);
    CHECK(read(fd, buf, sizeof buf) == 0, "EOF");
    CHECK(pread(fd, buf, 7, 3) == 7 && memcmp(buf, "tten by", 7) == 0, "pread");
    CHECK(lseek(fd, 0, SEEK_END) == (off_t)sizeof text - 1, "SEEK_END");

    /* stdout into the file: dup2 over 1, printf, then back. */
    fflush(stdout);
    int saved = dup(1);
    CHECK(saved > 2, "dup(1) = %d", saved);
    CHECK(dup2(fd, 1) == 1, "dup2(fd, 1)");
    printf("via stdout\n");
    fflush(stdout);
    CHECK(dup2(saved, 1) == 1, "dup2 back");
    close(saved);
    int ro = open(path, O_RDONLY);
    char all[128] = { 0 };
    ssize_t n = read(ro, all, sizeof all - 1);
    CHECK(n == (ssize_t)sizeof text - 1 + 11 && strcmp(all + sizeof text - 1, "via stdout\n") == 0,
          "the file holds %zd bytes: %s", n, all);
    ERRNO(write(ro, "x", 1), EBADF);

    /* O_APPEND writes at the end whatever the position. */
    int ap = open(path, O_WRONLY | O_APPEND);
    CHECK(lseek(ap, 0, SEEK_SET) == 0, "lseek on O_APPEND");
    CHECK(write(ap, "!\n", 2) == 2, "append");
    CHECK(fstat(ap, &st) == 0 && st.st_size == n + 2, "size after append %ld", (long)st.st_size);
    struct stat st2;
    CHECK(stat(path, &st2) == 0 && st2.st_ino == st.st_ino, "stat by path");

    /* Close-on-exec flags: dup clears it, dup3 and F_DUPFD_CLOEXEC set it. */
    int c = dup3(fd, 20, O_CLOEXEC);
    CHECK(c == 20 && fcntl(20, F_GETFD) == FD_CLOEXEC, "dup3 O_CLOEXEC");
    CHECK(fcntl(fd, F_GETFD) == 0, "the original keeps FD_CLOEXEC clear");
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 30);
    CHECK(d == 30 && fcntl(d, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC = %d", d);
    CHECK((fcntl(ap, F_GETFL) & O_APPEND) != 0, "F_GETFL has O_APPEND");
    ERRNO(dup3(fd, fd, 0), EINVAL);
    ERRNO(dup2(fd, -1), EBADF);
    close(c);
    close(d);
    close(ap);
    close(ro);
    close(fd);
    CHECK(unlink(path) == 0, "unlink %s: %s", path, strerror(errno));
}

/* The calls glibc no longer issues for its wrappers, by number: creat, stat64, lstat64,
 * readlink, readlinkat, fcntl, dup2, readv. arm64 has none of creat, stat64, lstat64, readlink
 * and dup2 (the generic table's openat, newfstatat, readlinkat and dup3 serve them), so there the
 * same checks call those. */
#if defined(__aarch64__)
#define SYS_creat_(path, mode) syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)
#define SYS_stat_(path, st) syscall(SYS_newfstatat, AT_FDCWD, path, st, 0)
#define SYS_lstat_(path, st) syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW)
#define SYS_readlink_(path, buf, n) syscall(SYS_readlinkat, AT_FDCWD, path, buf, n)
#define SYS_dup2_(a, b) syscall(SYS_dup3, a, b, 0)
typedef struct stat stat64_;
#else
#define SYS_creat_(path, mode) syscall(SYS_creat, path, mode)
#define SYS_stat_(path, st) syscall(SYS_stat64, path, st)
#define SYS_lstat_(path, st) syscall(SYS_lstat64, path, st)
#define SYS_readlink_(path, buf, n) syscall(SYS_readlink, path, buf, n)
#define SYS_dup2_(a, b) syscall(SYS_dup2, a, b)
typedef struct stat64 stat64_;
#endif
static void raw_calls(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/raw-%d", (int)getpid());
    int fd = SYS_creat_(path, 0600);
    CHECK(fd >= 0, "creat: %s", strerror(errno));
    CHECK(write(fd, "0123456789", 10) == 10, "write after creat");
    ERRNO(read(fd, path + 40, 1), EBADF); /* creat opens O_WRONLY */
    stat64_ st;
    CHECK(SYS_stat_(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 10,
          "stat64 size %lld", (long long)st.st_size);
    CHECK(SYS_lstat_("/proc/self", &st) == 0 && S_ISLNK(st.st_mode), "lstat64 link");
    CHECK(SYS_stat_("/proc/self", &st) == 0 && S_ISDIR(st.st_mode), "stat64 follows");
    ERRNO(SYS_stat_("/nonexistent", &st), ENOENT);
    char link[64];
    long n = SYS_readlink_("/proc/self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0; /* readlink does not terminate the name */
    CHECK(n > 0 && atoi(link) == getpid(), "readlink: %ld", n);
    n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self", link, 2);
    CHECK(n == 2 || (getpid() < 10 && n == 1), "readlinkat cut at bufsiz: %ld", n);
    ERRNO(syscall(SYS_readlinkat, AT_FDCWD, "/proc/self", link, 0), EINVAL);
    CHECK(syscall(SYS_fcntl, fd, F_GETFL) == (O_WRONLY | O_LARGEFILE) ||
              syscall(SYS_fcntl, fd, F_GETFL) == O_WRONLY,
          "fcntl F_GETFL %ld", syscall(SYS_fcntl, fd, F_GETFL));
    CHECK(SYS_dup2_(fd, 40) == 40 && fcntl(40, F_GETFD) == 0, "dup2 by number");
    close(40);
    close(fd);
    /* readv: two segments filled in order from one file. */
    int rd = open(path, O_RDONLY);
    char a[4] = { 0 }, b[8] = { 0 };
    struct iovec iov[2] = { { a, 3 }, { b, 7 } };
    CHECK(readv(rd, iov, 2) == 10 && memcmp(a, "012", 3) == 0 && memcmp(b, "3456789", 7) == 0,
          "readv");
    CHECK(readv(rd, iov, 2) == 0, "readv at the end");
    close(rd);
    unlink(path);
}

static void bad_arguments(void)
{
    char buf[16];
    ERRNO(read(-1, buf, 1), EBADF);
    ERRNO(read(999, buf, 1), EBADF);
    ERRNO(write(999, buf, 1), EBADF);
    ERRNO(close(999), EBADF);
    ERRNO(lseek(999, 0, SEEK_SET), EBADF);
    ERRNO(dup(999), EBADF);
    struct stat st;
    ERRNO(fstat(999, &st), EBADF);
    ERRNO(open("/nonexistent/file", O_RDONLY), ENOENT);
    ERRNO(open("/proc/meminfo/x", O_RDONLY), ENOTDIR);
    ERRNO(open("/proc/999999/maps", O_RDONLY), ENOENT);
    ERRNO(open("/tmp", O_WRONLY), EISDIR);
    char *volatile bad = (char *)1; /* the compiler must not see through it */
    ERRNO(open(bad, O_RDONLY), EFAULT);
    int fd = open("/proc/meminfo", O_RDONLY);
    ERRNO(read(fd, bad, 16), EFAULT);
    ERRNO(openat(fd, "x", O_RDONLY), ENOTDIR);
    ERRNO(write(fd, "x", 1), EBADF);
    close(fd);
    ERRNO(read(fd, buf, 1), EBADF);
    int dir = open("/proc", O_RDONLY | O_DIRECTORY);
    ERRNO(read(dir, buf, 1), EISDIR);
    close(dir);
    ERRNO(readlink("/proc/meminfo", buf, sizeof buf), EINVAL);
}

/* Prints /proc/self/maps read 7 bytes at a time, then waits for the console to read it too. */
static int hold(void)
{
    printf("--- maps\n");
    fflush(stdout);
    long n = read_chunks("/proc/self/maps", pieces, sizeof pieces, 7);
    fwrite(pieces, 1, n > 0 ? (size_t)n : 0, stdout);
    printf("--- end\nHOLDING pid=%d\n", (int)getpid());
    fflush(stdout);
    struct timespec t = { 30, 0 };
    nanosleep(&t, NULL);
    return failures != 0;
}

/* /proc's system-wide files a shell's tools read (top, uptime, vmstat, iostat): each opens and
 * reads whole, in Linux's shape. Their counters move between reads, so only the shape is
 * checked; /proc/partitions is stable and must read the same 1 and 7 bytes at a time. */
static void proc_root_files(void)
{
    long n = read_chunks("/proc/stat", whole, sizeof whole - 1, sizeof whole);
    whole[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && strncmp(whole, "cpu  ", 5) == 0 && strstr(whole, "\ncpu0 ") && strstr(whole, "\nintr "),
          "/proc/stat: %.40s", whole);
    n = read_chunks("/proc/uptime", whole, sizeof whole - 1, sizeof whole);
    whole[n > 0 ? n : 0] = 0;
    double up = -1, idle = -1;
    char end = 0;
    CHECK(sscanf(whole, "%lf %lf%c", &up, &idle, &end) == 3 && end == '\n' && up > 0 && idle >= 0,
          "/proc/uptime: %s", whole);
    n = read_chunks("/proc/interrupts", whole, sizeof whole - 1, sizeof whole);
    whole[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && strncmp(whole, "           CPU0", 15) == 0 && whole[n - 1] == '\n',
          "/proc/interrupts: %.40s", whole);
    check_chunked("/proc/partitions", 1);
    CHECK(strncmp(whole, "major minor  #blocks  name\n\n", 28) == 0, "/proc/partitions: %.40s", whole);
    /* Empty without a card (pivm) or a line per block device (Linux). */
    n = read_chunks("/proc/diskstats", whole, sizeof whole - 1, sizeof whole);
    CHECK(n == 0 || whole[n - 1] == '\n', "/proc/diskstats: %ld bytes", n);
    printf("proc root files\n");
}

/* umask and mkdir/mkdirat: the mask comes back from the next call and strips the new
 * directories' modes; Linux's errors for an existing name, a missing parent, a file as a
 * parent; then the files and directories are removed again. */
static void make_directories(void)
{
    char dir[64], sub[96], file[96], bad[128];
    snprintf(dir, sizeof dir, "/tmp/files-dir-%d", (int)getpid());
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(file, sizeof file, "%s/f", dir);
    snprintf(bad, sizeof bad, "%s/x", file);
    mode_t old = umask(077);
    CHECK(umask(077) == 077, "umask returns the mask set");
    CHECK(mkdir(dir, 0777) == 0, "mkdir %s: %s", dir, strerror(errno));
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
          "mkdir 0777 under umask 077: mode 0%o", (unsigned)st.st_mode);
    ERRNO(mkdir(dir, 0777), EEXIST);
    ERRNO(mkdir("/", 0777), EEXIST);
    ERRNO(mkdir("/nonexistent-dir/x", 0777), ENOENT);
    int fd = creat(file, 0644);
    CHECK(fd >= 0, "creat %s: %s", file, strerror(errno));
    close(fd);
    ERRNO(mkdir(bad, 0777), ENOTDIR);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open %s: %s", dir, strerror(errno));
    umask(022);
    CHECK(mkdirat(dfd, "sub/", 0775) == 0, "mkdirat sub/: %s", strerror(errno));
    CHECK(stat(sub, &st) == 0 && (st.st_mode & 07777) == 0755, "mkdirat 0775 under 022: 0%o",
          (unsigned)st.st_mode);
    CHECK(stat(dir, &st) == 0 && st.st_nlink == 3, "a subdirectory links its parent: %u",
          (unsigned)st.st_nlink);
    ERRNO(mkdirat(dfd, "sub", 0775), EEXIST);
    ERRNO(mkdirat(999, "sub", 0775), EBADF);
    close(dfd);
    umask(old);
    CHECK(unlink(file) == 0, "unlink %s: %s", file, strerror(errno));
    CHECK(rmdir(sub) == 0, "rmdir %s: %s", sub, strerror(errno));
    CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "hold") == 0)
        return hold();
    proc_files();
    proc_root_files();
    directories(argv[0]);
    tmp_file();
    make_directories();
    raw_calls();
    bad_arguments();
    if (failures)
        return 1;
    printf("FILES ok\n");
    return 0;
}
