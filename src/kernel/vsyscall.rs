//! The vDSO's data page (Linux 6.1's include/vdso/datapage.h and kernel/time/vsyscall.c):
//! `struct vdso_data` laid out as 6.1 lays it out, `update_vsyscall`'s arithmetic that fills
//! it from the timekeeper at every tick, and (for the kernel build) the `[vvar]` and `[vdso]`
//! pages themselves: allocated once at boot, owned by the kernel, mapped by every process
//! and freed by none (on both architectures; arm64's `[vdso]` also holds the signal return
//! trampoline, `vdso_sigreturn_addr`). A model of the vDSO's reader (`do_hres`/`do_coarse`,
//! what `src/vdso/gettimeofday.h` computes in both images) lets the host tests check that
//! user space reads the same time the system call returns.
use super::time::{Timekeeper, NSEC_PER_SEC, TICK_NSEC};

/// Clock ids (uapi/linux/time.h).
pub const CLOCK_REALTIME: usize = 0;
pub const CLOCK_MONOTONIC: usize = 1;
pub const CLOCK_MONOTONIC_RAW: usize = 4;
pub const CLOCK_REALTIME_COARSE: usize = 5;
pub const CLOCK_MONOTONIC_COARSE: usize = 6;
pub const CLOCK_BOOTTIME: usize = 7;
pub const CLOCK_TAI: usize = 11;

/// `vdso_data[CS_HRES_COARSE]` serves the high-resolution and coarse clocks,
/// `vdso_data[CS_RAW]` `CLOCK_MONOTONIC_RAW`.
pub const CS_HRES_COARSE: usize = 0;
pub const CS_RAW: usize = 1;
pub const CS_BASES: usize = 2;
/// One base time per clock id up to `CLOCK_TAI`.
pub const VDSO_BASES: usize = CLOCK_TAI + 1;
/// `VDSO_CLOCKMODE_NONE`: user space cannot read the clocksource; the vDSO calls the kernel.
pub const VDSO_CLOCKMODE_NONE: i32 = 0;

/// `struct vdso_timestamp`: seconds, and nanoseconds shifted left by the clocksource's shift
/// (plain nanoseconds for the coarse clocks).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VdsoTimestamp {
    pub sec: u64,
    pub nsec: u64,
}

/// `struct vdso_data` (ARM has no `arch_data`): 240 bytes, two of them at the start of
/// `[vvar]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VdsoData {
    /// The seqcount: odd while the kernel writes.
    pub seq: u32,
    pub clock_mode: i32,
    pub cycle_last: u64,
    pub mask: u64,
    pub mult: u32,
    pub shift: u32,
    pub basetime: [VdsoTimestamp; VDSO_BASES],
    pub tz_minuteswest: i32,
    pub tz_dsttime: i32,
    pub hrtimer_res: u32,
    pub unused: u32,
}

// The offsets the vDSO's C code reads (it asserts the same ones).
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(VdsoData, cycle_last) == 8);
    assert!(offset_of!(VdsoData, mask) == 16);
    assert!(offset_of!(VdsoData, mult) == 24);
    assert!(offset_of!(VdsoData, shift) == 28);
    assert!(offset_of!(VdsoData, basetime) == 32);
    assert!(offset_of!(VdsoData, tz_minuteswest) == 224);
    assert!(offset_of!(VdsoData, hrtimer_res) == 232);
    assert!(size_of::<VdsoData>() == 240);
};

/// A clocksource's reading as one of the timekeeper's `tk_read_base`s sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TkReadBase {
    pub cycle_last: u64,
    pub mask: u64,
    pub mult: u32,
    pub shift: u32,
    /// Nanoseconds into the second, shifted left by `shift`.
    pub xtime_nsec: u64,
}

/// The `struct timekeeper` fields `update_vsyscall` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TkSnapshot {
    /// The clocksource's `vdso_clock_mode`.
    pub clock_mode: i32,
    pub tkr_mono: TkReadBase,
    pub tkr_raw: TkReadBase,
    /// `CLOCK_REALTIME`'s seconds.
    pub xtime_sec: u64,
    /// `wall_to_monotonic` and `monotonic_to_boot` as (seconds, nanoseconds).
    pub wall_to_monotonic: (i64, u64),
    pub monotonic_to_boot: (i64, u64),
    /// `CLOCK_MONOTONIC_RAW`'s seconds.
    pub raw_sec: u64,
    pub tai_offset: i64,
    /// `hrtimer_resolution`.
    pub hrtimer_res: u32,
}

impl TkSnapshot {
    /// pivm's timekeeper as Linux's would hold it: every clock counts from boot (the
    /// system calls answer all of them with the boot time), so the offsets between
    /// `CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` and `CLOCK_TAI` are 0, and
    /// without NTP the raw clock runs with the same mult. Without high-resolution timers
    /// `hrtimer_resolution` is a tick (`LOW_RES_NSEC`).
    pub fn of(tk: &Timekeeper) -> Self {
        let c = &tk.clock;
        let base = TkReadBase {
            cycle_last: tk.cycle_last,
            mask: c.mask,
            mult: c.mult,
            shift: c.shift,
            xtime_nsec: (tk.ns % NSEC_PER_SEC) << c.shift,
        };
        TkSnapshot {
            clock_mode: c.vdso_clock_mode,
            tkr_mono: base,
            tkr_raw: base,
            xtime_sec: tk.ns / NSEC_PER_SEC,
            wall_to_monotonic: (0, 0),
            monotonic_to_boot: (0, 0),
            raw_sec: tk.ns / NSEC_PER_SEC,
            tai_offset: 0,
            hrtimer_res: TICK_NSEC as u32,
        }
    }
}

/// Nanoseconds (shifted) folded into whole seconds, as `update_vdso_data`'s loops do.
fn normalise(sec: &mut u64, nsec: &mut u64, shift: u32) {
    let one = NSEC_PER_SEC << shift;
    while *nsec >= one {
        *nsec -= one;
        *sec = sec.wrapping_add(1);
    }
}

/// `update_vdso_data`: the clocksource's conversion and the high-resolution base times.
fn update_vdso_data(vdata: &mut [VdsoData; CS_BASES], tk: &TkSnapshot) {
    for (vd, tkr) in [(CS_HRES_COARSE, &tk.tkr_mono), (CS_RAW, &tk.tkr_raw)] {
        vdata[vd].cycle_last = tkr.cycle_last;
        vdata[vd].mask = tkr.mask;
        vdata[vd].mult = tkr.mult;
        vdata[vd].shift = tkr.shift;
    }
    let shift = tk.tkr_mono.shift;
    let hres = &mut vdata[CS_HRES_COARSE].basetime;

    // CLOCK_MONOTONIC
    let mut sec = tk.xtime_sec.wrapping_add(tk.wall_to_monotonic.0 as u64);
    let mut nsec = tk.tkr_mono.xtime_nsec + (tk.wall_to_monotonic.1 << shift);
    normalise(&mut sec, &mut nsec, shift);
    hres[CLOCK_MONOTONIC] = VdsoTimestamp { sec, nsec };

    // CLOCK_BOOTTIME: monotonic plus the time spent suspended.
    let mut sec = sec.wrapping_add(tk.monotonic_to_boot.0 as u64);
    let mut nsec = nsec + (tk.monotonic_to_boot.1 << shift);
    normalise(&mut sec, &mut nsec, shift);
    hres[CLOCK_BOOTTIME] = VdsoTimestamp { sec, nsec };

    // CLOCK_TAI
    hres[CLOCK_TAI] = VdsoTimestamp {
        sec: tk.xtime_sec.wrapping_add(tk.tai_offset as u64),
        nsec: tk.tkr_mono.xtime_nsec,
    };

    // CLOCK_MONOTONIC_RAW
    vdata[CS_RAW].basetime[CLOCK_MONOTONIC_RAW] =
        VdsoTimestamp { sec: tk.raw_sec, nsec: tk.tkr_raw.xtime_nsec };
}

/// `update_vsyscall` between `vdso_write_begin` and `vdso_write_end`: everything but the
/// seqcounts.
pub fn update_vsyscall_data(vdata: &mut [VdsoData; CS_BASES], tk: &TkSnapshot) {
    vdata[CS_HRES_COARSE].clock_mode = tk.clock_mode;
    vdata[CS_RAW].clock_mode = tk.clock_mode;
    let shift = tk.tkr_mono.shift;
    let hres = &mut vdata[CS_HRES_COARSE].basetime;

    // CLOCK_REALTIME (time() reads it too)
    hres[CLOCK_REALTIME] = VdsoTimestamp { sec: tk.xtime_sec, nsec: tk.tkr_mono.xtime_nsec };
    // CLOCK_REALTIME_COARSE: the last tick, in plain nanoseconds.
    hres[CLOCK_REALTIME_COARSE] =
        VdsoTimestamp { sec: tk.xtime_sec, nsec: tk.tkr_mono.xtime_nsec >> shift };
    // CLOCK_MONOTONIC_COARSE
    let nsec = (tk.tkr_mono.xtime_nsec >> shift) + tk.wall_to_monotonic.1;
    hres[CLOCK_MONOTONIC_COARSE] = VdsoTimestamp {
        sec: tk.xtime_sec.wrapping_add(tk.wall_to_monotonic.0 as u64) + nsec / NSEC_PER_SEC,
        nsec: nsec % NSEC_PER_SEC,
    };

    if tk.clock_mode != VDSO_CLOCKMODE_NONE {
        update_vdso_data(vdata, tk);
    }
    vdata[CS_HRES_COARSE].hrtimer_res = tk.hrtimer_res;
}

/// What the vDSO's `clock_gettime` computes from the page and a counter value: the time as
/// (seconds, nanoseconds), or None where it calls the kernel instead (a clock it does not
/// serve, or `VDSO_CLOCKMODE_NONE`).
pub fn vdso_clock_gettime(
    vdata: &[VdsoData; CS_BASES],
    clock: usize,
    cycles: u64,
) -> Option<(u64, u64)> {
    let (vd, coarse) = match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI => {
            (&vdata[CS_HRES_COARSE], false)
        }
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => (&vdata[CS_HRES_COARSE], true),
        CLOCK_MONOTONIC_RAW => (&vdata[CS_RAW], false),
        _ => return None,
    };
    let ts = vd.basetime[clock];
    if coarse {
        return Some((ts.sec, ts.nsec));
    }
    if vd.clock_mode == VDSO_CLOCKMODE_NONE {
        return None;
    }
    let delta = (cycles.wrapping_sub(vd.cycle_last) & vd.mask).wrapping_mul(u64::from(vd.mult));
    let ns = ts.nsec.wrapping_add(delta) >> vd.shift;
    Some((ts.sec + ns / NSEC_PER_SEC, ns % NSEC_PER_SEC))
}

#[cfg(kernel)]
pub use device::*;

/// The pages themselves (both architectures: ARM's `[vvar]` is one page, arm64's two, of
/// which the second, the time-namespace page, is never backed, as without a time namespace).
#[cfg(kernel)]
mod device {
    use core::sync::atomic::{fence, Ordering};

    use spin::Once;

    use super::*;
    use crate::arch::vdso::{vdso_init as check_image, VdsoError, VdsoInfo, SIGTRAMP, VDSO_IMAGE};
    use crate::fs::binfmt_elf::VDSO_TEXT_PAGES;
    use crate::kernel::mem::with_node;
    use crate::mm::gfp::GfpFlags;
    use crate::mm::mm_types::{MmStruct, SpecialMapping, PAGE_SIZE};
    use crate::mm::page::PageOwner;
    use crate::mm::Pfn;

    /// `vdso_data_page` and `vdso_text_pagelist` (one page of code), with the data page's
    /// kernel address and what `vdso_init` found in the image.
    struct VdsoPages {
        vvar: Pfn,
        text: Pfn,
        vvar_kva: usize,
        info: VdsoInfo,
    }

    static PAGES: Once<VdsoPages> = Once::new();

    /// Why no vDSO is mapped.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum VdsoInitError {
        Image(VdsoError),
        /// Not the one page of code binfmt_elf places.
        TooBig,
        NoMemory,
    }

    fn alloc_page() -> Option<(Pfn, usize)> {
        let pfn = with_node(|n| {
            n.alloc_pages_for(PageOwner::Kernel, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
        })
        .ok()?;
        let kva = crate::kernel::phys_to_virt(pfn.phys().0)? as usize;
        Some((pfn, kva))
    }

    /// `vdso_init` (an initcall after `time_init`): checks the image, copies it into a page
    /// of its own, takes the data page, and fills it from the timekeeper. Processes exec'd
    /// afterwards get `[vvar]` and `[vdso]`.
    pub fn vdso_init() -> Result<(), VdsoInitError> {
        let info = check_image(VDSO_IMAGE).map_err(VdsoInitError::Image)?;
        if info.text_pages != VDSO_TEXT_PAGES {
            return Err(VdsoInitError::TooBig);
        }
        let (vvar, vvar_kva) = alloc_page().ok_or(VdsoInitError::NoMemory)?;
        let Some((text, text_kva)) = alloc_page() else {
            let _ = with_node(|n| n.free_pages_for(PageOwner::Kernel, vvar, 0));
            return Err(VdsoInitError::NoMemory);
        };
        // SAFETY: a lowmem page just allocated for the image, which fits in it.
        unsafe {
            core::ptr::copy_nonoverlapping(
                VDSO_IMAGE.as_ptr(),
                text_kva as *mut u8,
                VDSO_IMAGE.len(),
            )
        };
        crate::arch::process::sync_icache_dcache(text_kva as _);
        PAGES.call_once(|| VdsoPages { vvar, text, vvar_kva, info });
        crate::kernel::time::timekeeping_update_vsyscall();
        Ok(())
    }

    /// Whether exec maps a vDSO.
    pub fn vdso_available() -> bool {
        PAGES.get().is_some()
    }

    /// The page behind a `[vvar]` or `[vdso]` mapping (`vdso_data_mapping.pages`,
    /// `vdso_text_mapping.pages`).
    pub fn vdso_special_page(kind: SpecialMapping, offset: u64) -> Option<u64> {
        let p = PAGES.get()?;
        match (kind, offset) {
            (SpecialMapping::Vvar, 0) => Some(p.vvar.0),
            (SpecialMapping::Vdso, 0) => Some(p.text.0),
            _ => None,
        }
    }

    /// The `[vvar]` and `[vdso]` frames, once `vdso_init` made them.
    pub fn vdso_pfns() -> Option<(u64, u64)> {
        PAGES.get().map(|p| (p.vvar.0, p.text.0))
    }

    /// A frame of the vDSO: the kernel's, never freed by an unmapping.
    pub fn is_vdso_page(pfn: u64) -> bool {
        PAGES.get().is_some_and(|p| p.vvar.0 == pfn || p.text.0 == pfn)
    }

    /// `VDSO_SYMBOL(mm->context.vdso, sigtramp)`: where a signal handler installed without
    /// `SA_RESTORER` returns to in `mm` (arm64's `__kernel_rt_sigreturn` in its `[vdso]`).
    /// `None` when `mm` has no vDSO mapped, or the architecture's image has no such entry
    /// (ARM returns through its sigpage).
    pub fn vdso_sigreturn_addr(mm: &MmStruct) -> Option<usize> {
        let p = PAGES.get()?;
        let offset = p.info.symbol(SIGTRAMP?)?;
        (mm.vdso != 0).then(|| mm.vdso + offset as usize)
    }

    /// `update_vsyscall`: the page rewritten under its seqcounts (odd while it changes), so
    /// that a reader interrupted by the tick retries. Called with the timekeeper locked.
    pub fn update_vsyscall(tk: &Timekeeper) {
        let Some(p) = PAGES.get() else { return };
        let vd = p.vvar_kva as *mut [VdsoData; CS_BASES];
        const _: () = assert!(core::mem::size_of::<[VdsoData; CS_BASES]>() <= PAGE_SIZE);
        // SAFETY: the data page is ours, lowmem, and written only here (the tick's lock is
        // held); user space maps it read-only.
        unsafe {
            let mut data = core::ptr::read_volatile(vd);
            let seq = [data[CS_HRES_COARSE].seq, data[CS_RAW].seq];
            // vdso_write_begin
            for (i, s) in seq.iter().enumerate() {
                core::ptr::write_volatile(&raw mut (*vd)[i].seq, s.wrapping_add(1));
            }
            fence(Ordering::Release);
            update_vsyscall_data(&mut data, &TkSnapshot::of(tk));
            for (i, d) in data.iter_mut().enumerate() {
                d.seq = seq[i].wrapping_add(1);
            }
            core::ptr::write_volatile(vd, data);
            // vdso_write_end
            fence(Ordering::Release);
            for (i, s) in seq.iter().enumerate() {
                core::ptr::write_volatile(&raw mut (*vd)[i].seq, s.wrapping_add(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::time::{clocksource_mask, Clocksource};

    const QEMU_CNTFRQ: u32 = 62_500_000;
    const ARCHTIMER: i32 = 1;

    fn clock() -> Clocksource {
        let mut c = Clocksource::new("arch_sys_counter", clocksource_mask(57), QEMU_CNTFRQ);
        c.vdso_clock_mode = ARCHTIMER;
        c
    }

    fn page_of(tk: &Timekeeper) -> [VdsoData; CS_BASES] {
        let mut v = [VdsoData::default(); CS_BASES];
        update_vsyscall_data(&mut v, &TkSnapshot::of(tk));
        v
    }

    fn split(ns: u64) -> (u64, u64) {
        (ns / NSEC_PER_SEC, ns % NSEC_PER_SEC)
    }

    #[test]
    fn the_vdso_reads_what_the_system_call_returns() {
        // A timekeeper after assorted ticks, read at assorted counters before the next:
        // every high-resolution clock equals ktime_get_boottime_ns() (what pivm's
        // clock_gettime system call returns for all of them), to the nanosecond.
        let mut tk = Timekeeper::new(clock(), 12_345);
        let mut now = 12_345u64;
        for step in 0..5_000u64 {
            now += 625_000 + (step * 7_919) % 40_000;
            tk.advance(now);
            let vd = page_of(&tk);
            for late in [0u64, 1, 17, 312_500, 624_999, 3 * 625_000] {
                let t = now + late;
                let want = split(tk.boottime_ns(t));
                for clk in [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI] {
                    assert_eq!(vdso_clock_gettime(&vd, clk, t), Some(want), "clock {clk}");
                }
                assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC_RAW, t), Some(want));
                // The coarse clocks stop at the last tick.
                let tick = split(tk.ns);
                assert_eq!(vdso_clock_gettime(&vd, CLOCK_REALTIME_COARSE, t), Some(tick));
                assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC_COARSE, t), Some(tick));
            }
        }
        assert!(tk.ns > NSEC_PER_SEC * 50);
    }

    #[test]
    fn clocks_the_vdso_does_not_serve_go_to_the_kernel() {
        let tk = Timekeeper::new(clock(), 0);
        let vd = page_of(&tk);
        // CPU-time clocks, CLOCK_REALTIME_ALARM.. and out-of-range ids.
        for clk in [2, 3, 8, 9, 10, 12, 15, 16, 1000] {
            assert_eq!(vdso_clock_gettime(&vd, clk, 5), None, "clock {clk}");
        }
        // A clocksource user space cannot read: high-resolution clocks fall back, the
        // coarse ones are still served, and update_vdso_data leaves the conversion alone.
        let mut c = clock();
        c.vdso_clock_mode = VDSO_CLOCKMODE_NONE;
        let vd = page_of(&Timekeeper::new(c, 0));
        assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC, 5), None);
        assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC_RAW, 5), None);
        assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC_COARSE, 5), Some((0, 0)));
        assert_eq!((vd[0].mult, vd[0].clock_mode), (0, VDSO_CLOCKMODE_NONE));
    }

    #[test]
    fn update_vsyscall_arithmetic_follows_linux() {
        // Linux's offsets, non-zero: wall_to_monotonic is negative seconds plus nanoseconds,
        // so the monotonic base needs the carry loop.
        let shift = 23;
        let base = TkReadBase {
            cycle_last: 1_000,
            mask: clocksource_mask(57),
            mult: 1 << 27,
            shift,
            xtime_nsec: 900_000_000 << shift,
        };
        let tk = TkSnapshot {
            clock_mode: ARCHTIMER,
            tkr_mono: base,
            tkr_raw: TkReadBase { xtime_nsec: 5 << shift, ..base },
            xtime_sec: 1_700_000_000,
            wall_to_monotonic: (-1_699_999_000, 300_000_000),
            monotonic_to_boot: (2, 850_000_000),
            raw_sec: 999,
            tai_offset: 37,
            hrtimer_res: 1,
        };
        let mut vd = [VdsoData::default(); CS_BASES];
        update_vsyscall_data(&mut vd, &tk);
        let b = vd[CS_HRES_COARSE].basetime;
        let ts = |sec, ns: u64| VdsoTimestamp { sec, nsec: ns << shift };
        assert_eq!(b[CLOCK_REALTIME], ts(1_700_000_000, 900_000_000));
        assert_eq!(b[CLOCK_MONOTONIC], ts(1_001, 200_000_000));
        assert_eq!(b[CLOCK_BOOTTIME], ts(1_004, 50_000_000));
        assert_eq!(b[CLOCK_TAI], ts(1_700_000_037, 900_000_000));
        assert_eq!(
            b[CLOCK_REALTIME_COARSE],
            VdsoTimestamp { sec: 1_700_000_000, nsec: 900_000_000 }
        );
        assert_eq!(b[CLOCK_MONOTONIC_COARSE], VdsoTimestamp { sec: 1_001, nsec: 200_000_000 });
        assert_eq!(vd[CS_RAW].basetime[CLOCK_MONOTONIC_RAW], ts(999, 5));
        assert_eq!((vd[0].hrtimer_res, vd[1].hrtimer_res), (1, 0));
        // 62.5 MHz: 16 ns a cycle; 10 cycles after the tick, monotonic reads 160 ns more.
        assert_eq!(vdso_clock_gettime(&vd, CLOCK_MONOTONIC, 1_010), Some((1_001, 200_000_160)));
        // Past a second boundary between ticks.
        assert_eq!(
            vdso_clock_gettime(&vd, CLOCK_REALTIME, 1_000 + 6_250_000 + 1),
            Some((1_700_000_001, 16))
        );
        // pivm's own timekeeper: a tick's resolution, no offsets.
        let s = TkSnapshot::of(&Timekeeper::new(clock(), 7));
        assert_eq!((s.hrtimer_res, s.wall_to_monotonic, s.tai_offset), (10_000_000, (0, 0), 0));
    }
}
