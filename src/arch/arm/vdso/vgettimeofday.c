/* pivm's vDSO for 32-bit ARM (Linux 6.1's arch/arm/vdso with lib/vdso/gettimeofday.c's
 * algorithm, src/vdso/gettimeofday.h): clock_gettime, clock_gettime64, gettimeofday and
 * clock_getres answered in user space from the [vvar] page the kernel updates on every tick,
 * and the generic timer's virtual counter (CNTVCT, readable at PL0 because the kernel sets
 * CNTKCTL.PL0VCTEN); the fallbacks are ARM's system calls.
 *
 * Built by build.rs with the project's cross compiler (arm-linux-gnueabihf-gcc) into a
 * position-independent shared object linked at 0 (vdso.lds); the kernel include_bytes! it. */

#include "../../../vdso/gettimeofday.h"

/* System-call numbers of the fallbacks (arch/arm/tools/syscall.tbl). */
#define NR_gettimeofday 78
#define NR_clock_gettime 263
#define NR_clock_getres 264
#define NR_clock_gettime64 403

struct old_timespec32 { s32 tv_sec; s32 tv_nsec; };

/* CNTVCT after an isb, so that it is not read early (__arch_get_hw_counter). */
static inline u64 get_hw_counter(void)
{
    u32 lo, hi;
    __asm__ volatile("isb\n\tmrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi) :: "memory");
    return ((u64)hi << 32) | lo;
}

static inline long syscall2(long nr, long a0, long a1)
{
    register long r0 __asm__("r0") = a0;
    register long r1 __asm__("r1") = a1;
    register long r7 __asm__("r7") = nr;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r1), "r"(r7) : "memory");
    return r0;
}

int __vdso_clock_gettime64(int clock, struct kernel_timespec *ts)
{
    if (clock_gettime_common((u32)clock, ts))
        return syscall2(NR_clock_gettime64, clock, (long)ts);
    return 0;
}

int __vdso_clock_gettime(int clock, struct old_timespec32 *res)
{
    struct kernel_timespec ts;

    if (clock_gettime_common((u32)clock, &ts))
        return syscall2(NR_clock_gettime, clock, (long)res);
    res->tv_sec = (s32)ts.tv_sec;
    res->tv_nsec = (s32)ts.tv_nsec;
    return 0;
}

int __vdso_gettimeofday(struct old_timeval *tv, struct timezone *tz)
{
    if (gettimeofday_common(tv, tz))
        return syscall2(NR_gettimeofday, (long)tv, (long)tz);
    return 0;
}

/* __cvdso_clock_getres_time32. */
int __vdso_clock_getres(int clock, struct old_timespec32 *res)
{
    u32 ns;

    if (clock_getres_common((u32)clock, &ns))
        return syscall2(NR_clock_getres, clock, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = (s32)ns;
    }
    return 0;
}
