/* pivm's vDSO for arm64 (Linux 6.1's arch/arm64/kernel/vdso/vgettimeofday.c with
 * lib/vdso/gettimeofday.c's algorithm, src/vdso/gettimeofday.h): __kernel_clock_gettime,
 * __kernel_gettimeofday and __kernel_clock_getres answered in user space from the [vvar]
 * data page the kernel updates on every tick, and the generic timer's virtual counter
 * (CNTVCT_EL0, readable at EL0 because the kernel sets CNTKCTL_EL1.EL0VCTEN); the fallbacks
 * are arm64's system calls (svc #0, number in x8). __kernel_rt_sigreturn is in sigreturn.S.
 *
 * Built by build.rs with aarch64-linux-gnu-gcc into a position-independent shared object
 * linked at 0 (vdso.lds); the kernel include_bytes! it. */

#include "../../../vdso/gettimeofday.h"

/* System-call numbers of the fallbacks (the generic table, asm-generic/unistd.h). */
#define NR_gettimeofday 169
#define NR_clock_gettime 113
#define NR_clock_getres 114

/* __arch_get_hw_counter: CNTVCT_EL0 after an isb, so that it is not read early. */
static inline u64 get_hw_counter(void)
{
    u64 res;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(res) :: "memory");
    return res;
}

static inline long syscall2(long nr, long a0, long a1)
{
    register long x0 __asm__("x0") = a0;
    register long x1 __asm__("x1") = a1;
    register long x8 __asm__("x8") = nr;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x8) : "memory");
    return x0;
}

int __kernel_clock_gettime(int clock, struct kernel_timespec *ts)
{
    if (clock_gettime_common((u32)clock, ts))
        return syscall2(NR_clock_gettime, clock, (long)ts);
    return 0;
}

int __kernel_gettimeofday(struct old_timeval *tv, struct timezone *tz)
{
    if (gettimeofday_common(tv, tz))
        return syscall2(NR_gettimeofday, (long)tv, (long)tz);
    return 0;
}

/* __cvdso_clock_getres: 64-bit struct __kernel_timespec. */
int __kernel_clock_getres(int clock, struct kernel_timespec *res)
{
    u32 ns;

    if (clock_getres_common((u32)clock, &ns))
        return syscall2(NR_clock_getres, clock, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = ns;
    }
    return 0;
}
