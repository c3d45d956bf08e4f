//! Golden tests: the reference's `/bin/vmtest layout hold` process (pid 113 in
//! `formats.txt`) rebuilt as an `MmStruct` with the same system calls Linux made for it, its
//! page statistics and task fields taken from the sample's own numbers, and every file rendered
//! byte for byte as Linux printed it. The address-space counters (VmSize, VmData, VmExe, VmLib,
//! statm's text and data) are computed by pivm's accounting, not copied.
use alloc::string::String;
use alloc::sync::Arc;

use super::maps::{self, MapsFormat, MemSizeStats, SmapsPage};
use super::sample::{output, FORMATS};
use super::stat::{
    self, MmReport, RssCounters, TaskSnapshot, TaskState, PF_RANDOMIZE, RLIM_INFINITY_32,
};
use crate::mm::mm_types::{MmStruct, Rlimits, SpecialMapping, VmFile, VmFlags, PAGE_SIZE};
use crate::mm::mmap::{MapFlags, MmapFile, Prot};

/// The vmtest process's address space, made as exec and glibc's start-up made it.
fn vmtest_mm() -> MmStruct {
    let mut mm = MmStruct::new(crate::arch::memory::arch_mm(0xC000_0000), Rlimits::DEFAULT);
    mm.arch_pick_mmap_layout(None);
    let file = MmapFile {
        file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 40, path: "/bin/vmtest".into() }),
        readable: true,
        writable: false,
        noexec: false,
    };
    // The stack at its (randomised) top; the strings took less than a page.
    mm.setup_arg_pages(0xbe89_6000, 0x70, VmFlags::STACK_FLAGS).unwrap();
    mm.start_stack = 3196673712;
    let rx = Prot::READ | Prot::EXEC;
    let rw = Prot::READ | Prot::WRITE;
    let fixed = MapFlags::PRIVATE | MapFlags::FIXED;
    mm.do_mmap(0x10000, 0x5c000, rx, fixed, Some((&file, 0))).unwrap();
    mm.do_mmap(0x6c000, 0x5000, rw, fixed, Some((&file, 0x5b))).unwrap();
    mm.vm_brk_flags(0x71000, 0x6000, VmFlags::empty()).unwrap();
    let rx_may =
        VmFlags::READ | VmFlags::EXEC | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
    mm.install_special_mapping(0xbe93_e000, PAGE_SIZE, rx_may, SpecialMapping::Sigpage).unwrap();
    mm.install_special_mapping(
        0xbe93_f000,
        PAGE_SIZE,
        VmFlags::READ | VmFlags::MAYREAD,
        SpecialMapping::Vvar,
    )
    .unwrap();
    mm.install_special_mapping(0xbe94_0000, PAGE_SIZE, rx_may, SpecialMapping::Vdso).unwrap();
    // mm fields as load_elf_binary left them (randomised brk).
    mm.start_code = 65536;
    mm.end_code = 438736;
    mm.start_data = 446092;
    mm.end_data = 459740;
    mm.start_brk = 0x0119_7000;
    mm.brk = 0x0119_7000;
    mm.arg_start = 3196673941;
    mm.arg_end = 3196673965;
    mm.env_start = 3196673965;
    mm.env_end = 3196674032;
    // glibc: RELRO made read-only, malloc's heap, malloc(1 MiB) and mmap(16 pages).
    mm.mprotect(0x6c000, 0x3000, Prot::READ).unwrap();
    assert_eq!(mm.brk(0x0119_7000 + 0x22000), 0x011b_9000);
    let big = mm.do_mmap(0, 0x101000, rw, MapFlags::PRIVATE | MapFlags::ANONYMOUS, None).unwrap();
    let small =
        mm.do_mmap(0, 16 * PAGE_SIZE, rw, MapFlags::PRIVATE | MapFlags::ANONYMOUS, None).unwrap();
    // With randomisation the base was lower; place both where Linux did.
    mm.do_munmap(big, 0x101000).unwrap();
    mm.do_munmap(small, 16 * PAGE_SIZE).unwrap();
    mm.do_mmap(
        0xb6ebe000,
        0x101000,
        rw,
        MapFlags::PRIVATE | MapFlags::ANONYMOUS | MapFlags::FIXED,
        None,
    )
    .unwrap();
    mm.do_mmap(
        0xb6eae000,
        0x10000,
        rw,
        MapFlags::PRIVATE | MapFlags::ANONYMOUS | MapFlags::FIXED,
        None,
    )
    .unwrap();
    mm.validate().unwrap();
    mm
}

fn vmtest_report(mm: &MmStruct) -> MmReport {
    // VmRSS 4 kB of anonymous memory (the counters lag: LINUX_USER_FACTS §7.3); 4 page tables.
    let mut r =
        MmReport::from_mm(mm, RssCounters { anon: 1, ..RssCounters::default() }, 1, 4 * 2048);
    r.hiwater_vm = 0;
    r
}

pub(crate) fn vmtest_task() -> TaskSnapshot<'static> {
    TaskSnapshot {
        pid: 113,
        tgid: 113,
        ngid: 0,
        ppid: 1,
        tracer_pid: 0,
        pgrp: 0,
        session: 0,
        tty_nr: 0,
        tpgid: -1,
        comm: "vmtest",
        state: TaskState::Sleeping,
        flags: PF_RANDOMIZE,
        umask: 0o022,
        min_flt: 51,
        cmin_flt: 0,
        maj_flt: 0,
        cmaj_flt: 0,
        utime: 1,
        stime: 2,
        cutime: 0,
        cstime: 0,
        priority: 20,
        nice: 0,
        num_threads: 1,
        start_time: 447,
        rsslim: RLIM_INFINITY_32,
        sig_pending: 0,
        sig_shared_pending: 0,
        sig_blocked: 0,
        sig_ignored: 6,
        sig_caught: 0,
        sigq: (0, 6906),
        wchan: true,
        exit_signal: 17,
        cpu: 0,
        rt_priority: 0,
        policy: 0,
        exit_code: 0,
        uid: [0; 4],
        gid: [0; 4],
        fd_size: 32,
        groups: &[],
        cap_inheritable: 0,
        cap_permitted: 0x1ff_ffff_ffff,
        cap_effective: 0x1ff_ffff_ffff,
        cap_bounding: 0x1ff_ffff_ffff,
        cap_ambient: 0,
        no_new_privs: false,
        seccomp: 0,
        seccomp_filters: 0,
        speculation_store_bypass: "unknown",
        speculation_indirect_branch: "unsupported",
        cpus_allowed: 0xf,
        nr_cpu_ids: 4,
        mems_allowed: 1,
        nr_node_ids: 1,
        core_dumping: false,
        thp_enabled: false,
        nvcsw: 1,
        nivcsw: 0,
    }
}

/// Per-VMA page statistics that reproduce the sample's smaps: tmpfs pages of the file
/// (swap-backed, dirty, mapped once), anonymous pages, and the vDSO page mapped by 4 processes.
fn vmtest_stats(mm: &MmStruct) -> alloc::vec::Vec<MemSizeStats> {
    let shmem = SmapsPage {
        swap_backed: true,
        page_dirty: true,
        young: true,
        count: 2,
        mapcount: 1,
        ..Default::default()
    };
    let anon = SmapsPage {
        anon: true,
        swap_backed: true,
        pte_dirty: true,
        young: true,
        count: 1,
        mapcount: 1,
        ..Default::default()
    };
    let vdso = SmapsPage { young: true, count: 5, mapcount: 4, ..Default::default() };
    let pages: [(usize, usize, usize); 10] = [
        (80, 0, 0),
        (2, 1, 0),
        (0, 2, 0),
        (0, 3, 0),
        (0, 2, 0),
        (0, 9, 0),
        (0, 2, 0),
        (0, 0, 0),
        (0, 0, 0),
        (0, 0, 1),
    ];
    assert_eq!(mm.map_count(), pages.len());
    pages
        .iter()
        .map(|&(s, a, v)| {
            let mut m = MemSizeStats::default();
            (0..s).for_each(|_| m.account(&shmem));
            (0..a).for_each(|_| m.account(&anon));
            (0..v).for_each(|_| m.account(&vdso));
            m
        })
        .collect()
}

#[test]
fn maps_golden() {
    let mm = vmtest_mm();
    let mut out = String::new();
    maps::render_maps(&mut out, &mm, &MapsFormat::ARM).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/maps", 0));
}

#[test]
fn smaps_and_rollup_golden() {
    let mm = vmtest_mm();
    let stats = vmtest_stats(&mm);
    let mut out = String::new();
    maps::render_smaps(&mut out, &mm, &stats, &MapsFormat::ARM).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/smaps", 0));
    let mut out = String::new();
    maps::render_smaps_rollup(&mut out, &mm, &stats, &MapsFormat::ARM).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/smaps_rollup", 0));
}

#[test]
fn stat_statm_status_golden() {
    let mm = vmtest_mm();
    let r = vmtest_report(&mm);
    let t = vmtest_task();
    let mut out = String::new();
    stat::render_stat(&mut out, &t, Some(&r)).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/stat", 0));
    let mut out = String::new();
    stat::render_statm(&mut out, Some(&r)).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/statm", 0));
    let mut out = String::new();
    stat::render_status(&mut out, &t, Some(&r)).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$P/status", 0));
}

#[test]
fn shell_status_golden() {
    // pid 1 (sh): groups empty, signals ignored and caught, more counters; its mm numbers
    // are the sample's (busybox's layout is not rebuilt here).
    let t = TaskSnapshot {
        pid: 1,
        tgid: 1,
        ppid: 0,
        comm: "sh",
        sig_ignored: 0x4004,
        sig_caught: 0x10002,
        nvcsw: 238,
        nivcsw: 107,
        ..vmtest_task()
    };
    let r = MmReport {
        total_vm: 389,
        exec_vm: 311,
        data_vm: 40,
        stack_vm: 33,
        rss: RssCounters { file: 1, anon: 15, swapents: 0, shmem: 248 },
        hiwater_rss: 264,
        pgtables_bytes: 3 * 2048,
        start_code: 65536,
        end_code: 1327240,
        ..MmReport::default()
    };
    let mut out = String::new();
    stat::render_status(&mut out, &t, Some(&r)).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$$/status", 0));
    let mut out = String::new();
    stat::render_statm(&mut out, Some(&r)).unwrap();
    assert_eq!(out, output(FORMATS, "cat /proc/$$/statm", 0));
}

#[test]
fn cmdline_follows_get_mm_cmdline() {
    let area = b"/bin/vmtest\0layout\0HOME=/\0";
    assert_eq!(stat::cmdline(area, 19), b"/bin/vmtest\0layout\0");
    // setproctitle() overwrote the final NUL: up to the first NUL, into the environment.
    let area = b"renamed-process-xxHOME=/\0";
    assert_eq!(stat::cmdline(area, 18), b"renamed-process-xxHOME=/\0");
    assert_eq!(stat::cmdline(b"", 0), b"");
}

#[test]
fn stat_without_mm_prints_zeros() {
    let t = TaskSnapshot { state: TaskState::Zombie, ..vmtest_task() };
    let mut out = String::new();
    stat::render_stat(&mut out, &t, None).unwrap();
    assert!(out.starts_with(
        "113 (vmtest) Z 1 0 0 0 -1 4194304 51 0 0 0 1 2 0 0 20 0 1 0 447 0 0 4294967295 0 0 0 0 0"
    ));
    assert!(out.ends_with(" 0 0 0 0 0 0 0 0\n"));
    assert_eq!(out.split(' ').count(), 52);
}
