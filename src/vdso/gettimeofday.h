/* The vDSO's time functions shared by both architectures' images (Linux 6.1's
 * lib/vdso/gettimeofday.c): struct vdso_data as the kernel's src/kernel/vsyscall.rs writes it,
 * the seqcount readers, and the clocks answered in user space from the [vvar] page and the
 * generic timer's virtual counter. A clock it does not serve, or a clocksource user space
 * cannot read (clock_mode VDSO_CLOCKMODE_NONE), returns -1: the caller makes the system call,
 * as Linux's fallbacks do. Included by src/arch/{arm,arm64}/vdso/vgettimeofday.c. */

#ifndef PIVM_VDSO_GETTIMEOFDAY_H
#define PIVM_VDSO_GETTIMEOFDAY_H

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

/* The clock ids (uapi/linux/time.h). */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_TAI 11
#define MAX_CLOCKS 16

/* Which clocks the vDSO serves, and from which vdso_data (vdso/datapage.h). */
#define VDSO_HRES ((1u << CLOCK_REALTIME) | (1u << CLOCK_MONOTONIC) | (1u << CLOCK_BOOTTIME) | (1u << CLOCK_TAI))
#define VDSO_COARSE ((1u << CLOCK_REALTIME_COARSE) | (1u << CLOCK_MONOTONIC_COARSE))
#define VDSO_RAW (1u << CLOCK_MONOTONIC_RAW)
#define CS_HRES_COARSE 0
#define CS_RAW 1
#define CS_BASES 2
#define VDSO_BASES (CLOCK_TAI + 1)
#define VDSO_CLOCKMODE_NONE 0

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_USEC 1000u

struct vdso_timestamp {
    u64 sec;
    u64 nsec;
};

/* struct vdso_data as 6.1 lays it out (neither ARM nor arm64 has arch_data): the kernel's
 * src/kernel/vsyscall.rs writes the same layout and checks the same offsets. */
struct vdso_data {
    u32 seq;
    s32 clock_mode;
    u64 cycle_last;
    u64 mask;
    u32 mult;
    u32 shift;
    struct vdso_timestamp basetime[VDSO_BASES];
    s32 tz_minuteswest;
    s32 tz_dsttime;
    u32 hrtimer_res;
    u32 unused;
};

_Static_assert(__builtin_offsetof(struct vdso_data, cycle_last) == 8, "cycle_last");
_Static_assert(__builtin_offsetof(struct vdso_data, mult) == 24, "mult");
_Static_assert(__builtin_offsetof(struct vdso_data, basetime) == 32, "basetime");
_Static_assert(__builtin_offsetof(struct vdso_data, tz_minuteswest) == 224, "tz");
_Static_assert(__builtin_offsetof(struct vdso_data, hrtimer_res) == 232, "hrtimer_res");
_Static_assert(sizeof(struct vdso_data) == 240, "vdso_data size");

struct kernel_timespec { s64 tv_sec; long long tv_nsec; };
struct old_timeval { long tv_sec; long tv_usec; };
struct timezone { int tz_minuteswest; int tz_dsttime; };

/* The [vvar] data page below the image (the architecture's linker script defines the
 * symbol; hidden, so the reference is PC-relative and needs no relocation). */
extern const struct vdso_data _vdso_data[CS_BASES] __attribute__((visibility("hidden")));

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))

static inline void smp_rmb(void) { __asm__ volatile("dmb ish" ::: "memory"); }

static inline u32 vdso_read_begin(const struct vdso_data *vd)
{
    u32 seq;
    while ((seq = READ_ONCE(vd->seq)) & 1)
        __asm__ volatile("" ::: "memory");
    smp_rmb();
    return seq;
}

static inline int vdso_read_retry(const struct vdso_data *vd, u32 start)
{
    smp_rmb();
    return READ_ONCE(vd->seq) != start;
}


/* __iter_div_u64_rem: the quotient is small (a tick's worth of seconds), so subtract. */
static inline u32 iter_div_u64_rem(u64 dividend, u32 divisor, u64 *remainder)
{
    u32 ret = 0;
    while (dividend >= divisor) {
        __asm__("" : "+r"(dividend));
        dividend -= divisor;
        ret++;
    }
    *remainder = dividend;
    return ret;
}


/* The architecture provides, before including this file: get_hw_counter() (the counter the
 * clocksource reads, after an isb) and syscall2() (the fallback system call). */
static inline u64 get_hw_counter(void);
static inline long syscall2(long nr, long a0, long a1);

/* do_hres: base time + (cycles since the last tick) * mult >> shift, retried if a tick
 * updated the page meanwhile. -1 when the counter is not usable from user space. */
static inline int do_hres(const struct vdso_data *vd, u32 clk, struct kernel_timespec *ts)
{
    const struct vdso_timestamp *vdso_ts = &vd->basetime[clk];
    u64 cycles, last, sec, ns;
    u32 seq;

    do {
        seq = vdso_read_begin(vd);
        if (READ_ONCE(vd->clock_mode) == VDSO_CLOCKMODE_NONE)
            return -1;
        cycles = get_hw_counter();
        ns = READ_ONCE(vdso_ts->nsec);
        last = READ_ONCE(vd->cycle_last);
        ns += ((cycles - last) & READ_ONCE(vd->mask)) * READ_ONCE(vd->mult);
        ns >>= READ_ONCE(vd->shift);
        sec = READ_ONCE(vdso_ts->sec);
    } while (vdso_read_retry(vd, seq));

    ts->tv_sec = sec + iter_div_u64_rem(ns, NSEC_PER_SEC, &ns);
    ts->tv_nsec = ns;
    return 0;
}

/* do_coarse: the base time of the last tick. */
static inline int do_coarse(const struct vdso_data *vd, u32 clk, struct kernel_timespec *ts)
{
    const struct vdso_timestamp *vdso_ts = &vd->basetime[clk];
    u32 seq;

    do {
        seq = vdso_read_begin(vd);
        ts->tv_sec = READ_ONCE(vdso_ts->sec);
        ts->tv_nsec = READ_ONCE(vdso_ts->nsec);
    } while (vdso_read_retry(vd, seq));
    return 0;
}

/* __cvdso_clock_gettime_common: 0, or -1 for "ask the kernel". */
static inline int clock_gettime_common(u32 clock, struct kernel_timespec *ts)
{
    const struct vdso_data *vd = _vdso_data;
    u32 msk;

    if (clock >= MAX_CLOCKS)
        return -1;
    msk = 1u << clock;
    if (msk & VDSO_HRES)
        vd = &vd[CS_HRES_COARSE];
    else if (msk & VDSO_COARSE)
        return do_coarse(&vd[CS_HRES_COARSE], clock, ts);
    else if (msk & VDSO_RAW)
        vd = &vd[CS_RAW];
    else
        return -1;
    return do_hres(vd, clock, ts);
}

/* __cvdso_gettimeofday_data: 0, or -1 for "ask the kernel". */
static inline int gettimeofday_common(struct old_timeval *tv, struct timezone *tz)
{
    const struct vdso_data *vd = _vdso_data;

    if (tv) {
        struct kernel_timespec ts;
        if (do_hres(&vd[CS_HRES_COARSE], CLOCK_REALTIME, &ts))
            return -1;
        tv->tv_sec = (long)ts.tv_sec;
        tv->tv_usec = (u32)ts.tv_nsec / NSEC_PER_USEC;
    }
    if (tz) {
        tz->tz_minuteswest = READ_ONCE(vd[CS_HRES_COARSE].tz_minuteswest);
        tz->tz_dsttime = READ_ONCE(vd[CS_HRES_COARSE].tz_dsttime);
    }
    return 0;
}

/* __cvdso_clock_getres_common: the high-resolution clocks' resolution is hrtimer_res, the
 * coarse clocks' a tick (LOW_RES_NSEC); -1 for the clocks the kernel answers. */
static inline int clock_getres_common(u32 clock, u32 *ns)
{
    const struct vdso_data *vd = _vdso_data;
    u32 msk;

    if (clock >= MAX_CLOCKS)
        return -1;
    msk = 1u << clock;
    if (msk & (VDSO_HRES | VDSO_RAW))
        *ns = READ_ONCE(vd[CS_HRES_COARSE].hrtimer_res);
    else if (msk & VDSO_COARSE)
        *ns = (u32)((NSEC_PER_SEC + HZ / 2) / HZ);
    else
        return -1;
    return 0;
}

#endif
