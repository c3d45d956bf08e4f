/* common.h - what the test programs share: fault counters from getrusage(RUSAGE_SELF), the
 * "+min/+maj" delta format of the reference transcripts, /proc/self/stat's fault fields, a
 * nanosecond clock, and the per-split kernel addresses of 32-bit ARM Linux.
 *
 * The programs use only the system calls issue 12 lists (plus what static glibc itself issues),
 * so that they run unchanged on pivm once it runs processes. */
#ifndef PIVM_USER_COMMON_H
#define PIVM_USER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define PG 4096UL

/* Minor/major fault counts of this process (getrusage(RUSAGE_SELF)). */
struct flt {
    long min, maj;
};

struct flt faults_now(void);
/* Writes "+MIN/+MAJ" (the difference b - a) into buf. */
const char *flt_delta(char *buf, size_t len, struct flt a, struct flt b);

/* The /proc/vmstat counter `name`, or -1 when it cannot be read. */
long vmstat_value(const char *name);

/* CLOCK_MONOTONIC in nanoseconds (under QEMU's -icount shift=0, one guest instruction). */
uint64_t now_ns(void);

/* Prints "TAG /proc/self/stat: minflt(10)=... cminflt(11)=... majflt(12)=... cmajflt(13)=...
 * vsize(23)=... rss(24)=... pages", as the reference's vmtest does. */
void print_self_stat(const char *tag);

/* Copies the file to stdout (used for /proc files); returns -1 and prints why if it cannot. */
int cat_file(const char *path);
/* Prints the first max_lines lines of a file. */
int head_file(const char *path, int max_lines);
/* The /proc/self/maps line whose name field is `name` (e.g. "[stack]"), without its newline. */
int maps_line(const char *name, char *out, size_t len);

/* The checking programs' verdicts (syscalls, forkwait, jobctl): `check` prints "  WHAT ok" or
 * "  WHAT FAIL: DETAIL", one line per check, and counts it. */
extern int checks_run, checks_failed;
void check(const char *what, int ok, const char *detail);
/* Sleeps `ms` milliseconds, going back to sleep after a signal handler interrupts it. */
void sleep_ms(long ms);

/* The kernel's virtual layout for a VMSPLIT, as 32-bit ARM Linux computes it. */
struct split {
    const char *name;       /* "3G", "2G", "1G" */
    unsigned long page_offset;
    unsigned long task_size; /* PAGE_OFFSET - 16 MiB (the modules area sits just above) */
};

/* The split named by arg ("3G", "2G", "1G"), or found by probing TASK_SIZE with MAP_FIXED_NOREPLACE
 * when arg is NULL or "auto"; NULL when neither works (e.g. under user-mode QEMU). */
const struct split *split_find(const char *arg);
/* The known splits, for messages. */
extern const struct split splits[3];

#endif
