//! The live `/proc`: the kernel's [`ProcSource`], so the console's `cat` and a program's
//! `open`/`read` go through the same procfs layer (`fs::procfs`: names, lookup, `seq_file`
//! reads) and the same golden-tested renderers (`proc::pid`, `proc::meminfo`, `proc::vmstat`),
//! fed from the running tasks, their page tables and the page allocator. The smaps
//! accounting of one PTE (`proc::pid::smaps_walk`) is pure and host-tested; the walk over a
//! process's tables and the global mapcount live here.
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use super::{Task, TaskState as KState, Tasks};
use crate::abi::errno::Errno;
use crate::arch::process::{for_each_user_pte, user_table_pages, PGTABLE_BYTES};
use crate::fs::procfs::{PidFile, ProcFile, ProcSource, RootFile, SeqBuf};
use crate::mm::mm_types::{VmFlags, PAGE_SIZE};
use crate::mm::swap::LruList;
use crate::proc::pid::maps::{self, MapsFormat, MemSizeStats};

/// This kernel's maps format (its pointer width and gate VMA).
#[cfg(not(target_arch = "aarch64"))]
const MAPS_FORMAT: MapsFormat = MapsFormat::ARM;
/// This kernel's maps format (its pointer width and gate VMA).
#[cfg(target_arch = "aarch64")]
const MAPS_FORMAT: MapsFormat = MapsFormat::ARM64;
use crate::proc::pid::smaps_walk::{account_pte, FrameKind, PteView};
use crate::proc::pid::stat::{
    self, MmReport, RssCounters, TaskSnapshot, TaskState, PF_RANDOMIZE, RLIM_INFINITY_32,
};

/// `oom_badness()`'s and the reports' view of a process's RSS counters, as
/// `mm_counter_file` booked each page-cache page from its `PG_swapbacked`: the rootfs's
/// (tmpfs) pages and shared anonymous memory are shmem, a card file's pages file, and so are
/// the special mappings' kernel pages (not swap-backed).
fn rss_of(pm: &super::mm::ProcessMm) -> RssCounters {
    RssCounters {
        file: (pm.hw.rss_file + pm.hw.rss_special).max(0) as usize,
        anon: pm.hw.rss_anon.max(0) as usize,
        swapents: pm.hw.swapents.max(0) as usize,
        shmem: pm.hw.rss_shmem.max(0) as usize,
    }
}

/// The page frames other than anonymous ones mapped by every process's user PTEs, with how
/// many PTEs map each (`page_mapcount`, found by walking all address spaces: pivm keeps a
/// mapcount in the page for anonymous pages only). Anonymous frames are left out so the map's
/// size follows the mapped file and special pages, not the processes' RSS: a map of every
/// resident page took a megabyte of kernel memory when memory was short (issue 13).
pub fn mapcounts(t: &Tasks) -> BTreeMap<u64, u32> {
    let mut counts = BTreeMap::new();
    for task in t.map.values() {
        let Some(pm) = task.mm.as_ref() else { continue };
        for vma in pm.mm.iter() {
            for_each_user_pte(pm.hw.pgd, vma.vm_start, vma.vm_end, |_, pte| {
                if frame_kind_and_mapcount(pte.pfn).0 != FrameKind::Anon {
                    *counts.entry(pte.pfn).or_insert(0) += 1;
                }
            });
        }
    }
    counts
}

/// What kind of frame `pfn` is, with an anonymous page's `page_mapcount` (its own count).
fn frame_kind_and_mapcount(pfn: u64) -> (FrameKind, u32) {
    if pfn == super::mm::zero_pfn().0 {
        return (FrameKind::Zero, 0);
    }
    use crate::mm::page::{LruFlags, PageOwner};
    let page = crate::kernel::mem::with_node(|n| {
        n.page(crate::mm::Pfn(pfn)).map(|p| (p.owner(), u32::from(p.mapcount()) + 1, p.lru_flags()))
    });
    match page {
        Some((PageOwner::Anon, mapcount, _)) => (FrameKind::Anon, mapcount),
        // PageSwapBacked: a tmpfs or shmem page; else a disk file's (PG_dirty says whether
        // it is newer than the card).
        Some((PageOwner::PageCache, _, f)) if f.contains(LruFlags::PG_swapbacked) => {
            (FrameKind::Shmem, 0)
        }
        Some((PageOwner::PageCache, _, f)) => {
            (FrameKind::File { dirty: f.contains(LruFlags::PG_dirty) }, 0)
        }
        _ => (FrameKind::Kernel, 0),
    }
}

/// What kind of frame `pfn` is.
fn frame_kind(pfn: u64) -> FrameKind {
    frame_kind_and_mapcount(pfn).0
}

/// smaps statistics of every VMA of `task`, in VMA order.
fn smaps_stats(task: &Task, counts: &BTreeMap<u64, u32>) -> Vec<MemSizeStats> {
    let Some(pm) = task.mm.as_ref() else { return Vec::new() };
    pm.mm
        .iter()
        .map(|vma| {
            let locked = vma.vm_flags.contains(VmFlags::LOCKED);
            let mut st = MemSizeStats::default();
            for_each_user_pte(pm.hw.pgd, vma.vm_start, vma.vm_end, |_, pte| {
                let (kind, anon_mapcount) = frame_kind_and_mapcount(pte.pfn);
                let mapcount = match kind {
                    FrameKind::Anon => anon_mapcount,
                    _ => counts.get(&pte.pfn).copied().unwrap_or(1),
                };
                let view = PteView { young: pte.young, dirty: pte.dirty, kind, mapcount };
                account_pte(&mut st, &view, locked);
            });
            // smaps_pte_entry of a swap entry: Swap, and SwapPss shared by the swap count.
            crate::arch::process::for_each_user_swp_pte(
                pm.hw.pgd,
                vma.vm_start,
                vma.vm_end,
                |_, e| {
                    st.swap += PAGE_SIZE as u64;
                    let n = u64::from(crate::kernel::swap::swap_count(e).max(1));
                    st.swap_pss += ((PAGE_SIZE as u64) << maps::PSS_SHIFT) / n;
                },
            );
            // A shared anonymous VMA's pages in swap are no swap PTEs: shmem_swap_usage.
            st.swap += super::shmem::vma_swap_bytes(vma);
            st
        })
        .collect()
}

/// Bytes of a process's page tables (`mm_pgtables_bytes`: ARM counts 512 four-byte Linux
/// PTEs per PTE table, arm64 a page per table at every level below the PGD).
fn pgtables_bytes(pm: &super::mm::ProcessMm) -> usize {
    user_table_pages(pm.hw.pgd) * PGTABLE_BYTES
}

/// The report fields of a task's address space.
pub fn mm_report(pm: &super::mm::ProcessMm) -> MmReport {
    let rss = rss_of(pm);
    let total = rss.anon + rss.shmem + rss.file;
    MmReport::from_mm(&pm.mm, rss, total, pgtables_bytes(pm))
}

/// `RLIMIT_SIGPENDING`'s default: `max_threads / 2` (`fork_init`).
fn sigpending_limit() -> u64 {
    super::fork::MAX_THREADS.load(Ordering::Relaxed) / 2
}

/// Bits of the signals a task ignores (set to `SIG_IGN`; default-ignored signals are not
/// listed, as `collect_sigign_sigcatch` does not) and catches (a handler installed).
fn sig_sets(task: &Task) -> (u64, u64) {
    let (mut ign, mut cgt) = (0u64, 0u64);
    for sig in 1..=64usize {
        match task.sigactions[sig].sa_handler {
            0 => {}
            1 => ign |= 1 << (sig - 1),
            _ => cgt |= 1 << (sig - 1),
        }
    }
    (ign, cgt)
}

/// The snapshot `stat`, `status` and `ps` read of a task.
pub fn task_snapshot(task: &Task, sigq_limit: u64) -> TaskSnapshot<'_> {
    let (ign, cgt) = sig_sets(task);
    let state = match task.state {
        KState::Runnable => TaskState::Running,
        // Asleep on the card's I/O: TASK_UNINTERRUPTIBLE.
        KState::Sleeping if super::iowait::in_io_sleep(task.pid) => TaskState::DiskSleep,
        KState::Sleeping => TaskState::Sleeping,
        KState::Stopped => TaskState::Stopped,
        KState::Zombie => TaskState::Zombie,
    };
    let randomized = task.mm.is_some()
        && super::RANDOMIZE_VA_SPACE.load(Ordering::Relaxed) != 0
        && task.pid != 0;
    TaskSnapshot {
        pid: task.pid as i32,
        tgid: task.pid as i32,
        ngid: 0,
        ppid: task.ppid as i32,
        tracer_pid: 0,
        pgrp: 0,
        session: 0,
        tty_nr: 0,
        tpgid: -1,
        comm: &task.comm,
        state,
        flags: task.flags | if randomized { PF_RANDOMIZE } else { 0 },
        umask: 0o022,
        min_flt: task.counts.min_flt,
        cmin_flt: task.cmin_flt,
        maj_flt: task.counts.maj_flt,
        cmaj_flt: task.cmaj_flt,
        utime: task.utime,
        stime: task.stime,
        cutime: task.cutime,
        cstime: task.cstime,
        priority: 20,
        nice: 0,
        num_threads: 1,
        start_time: task.start_jiffies.wrapping_sub(crate::kernel::time::INITIAL_JIFFIES),
        rsslim: RLIM_INFINITY_32,
        sig_pending: task.pending,
        sig_shared_pending: 0,
        sig_blocked: task.blocked,
        sig_ignored: ign,
        sig_caught: cgt,
        sigq: (task.pending.count_ones(), sigq_limit),
        wchan: task.state == KState::Sleeping,
        exit_signal: super::SIGCHLD as i32,
        cpu: 0,
        rt_priority: 0,
        policy: 0,
        exit_code: if task.state == KState::Zombie { task.exit_status as i32 } else { 0 },
        uid: [0; 4],
        gid: [0; 4],
        fd_size: 32,
        groups: &[],
        cap_inheritable: 0,
        cap_permitted: CAP_FULL_SET,
        cap_effective: CAP_FULL_SET,
        cap_bounding: CAP_FULL_SET,
        cap_ambient: 0,
        no_new_privs: false,
        seccomp: 0,
        seccomp_filters: 0,
        speculation_store_bypass: "unknown",
        speculation_indirect_branch: "unsupported",
        // The default affinity: every possible CPU (pivm runs processes on CPU 0 only).
        cpus_allowed: (1 << crate::board::raspi::NR_CPUS) - 1,
        nr_cpu_ids: crate::board::raspi::NR_CPUS,
        mems_allowed: 1,
        nr_node_ids: 1,
        core_dumping: false,
        thp_enabled: false,
        nvcsw: task.nvcsw,
        nivcsw: task.nivcsw,
    }
}

/// `CAP_FULL_SET` for 6.1 (`CAP_LAST_CAP` 40): what root holds.
const CAP_FULL_SET: u64 = (1 << 41) - 1;

/// `get_mm_cmdline()`: the argument area read from the process's own pages (present ones
/// only: exec wrote them, so they are).
pub fn cmdline_bytes(task: &Task) -> Vec<u8> {
    let Some(pm) = task.mm.as_ref() else { return Vec::new() };
    let m = &pm.mm;
    if m.arg_end <= m.arg_start || m.env_end < m.arg_end {
        return Vec::new();
    }
    let mut area = alloc::vec![0u8; m.env_end.min(m.arg_start + PAGE_SIZE * 4) - m.arg_start];
    let got = pm.peek(m.arg_start, &mut area);
    area.truncate(got);
    let n = stat::cmdline(&area, m.arg_end - m.arg_start).len();
    area.truncate(n);
    area
}

/// The kernel's `ProcSource`.
pub struct LiveProc;

impl LiveProc {
    fn render_pid(&self, pid: u32, file: PidFile, out: &mut SeqBuf) -> Result<(), Errno> {
        super::with_tasks(|t| {
            let task = t.map.get(&pid).filter(|x| x.pid != 0).ok_or(Errno::ESRCH)?;
            let report = task.mm.as_ref().map(|pm| mm_report(pm));
            let err = |_| Errno::ENOMEM;
            match file {
                PidFile::Maps => {
                    if let Some(pm) = task.mm.as_ref() {
                        // One record per line (`show_map` per VMA, then the gate VMA).
                        let mut text = String::new();
                        maps::render_maps(&mut text, &pm.mm, &MAPS_FORMAT).map_err(err)?;
                        for line in text.split_inclusive('\n') {
                            out.write_str(line).map_err(err)?;
                            out.end_record();
                        }
                    }
                }
                PidFile::Smaps | PidFile::SmapsRollup => {
                    if let Some(pm) = task.mm.as_ref() {
                        let counts = mapcounts(t);
                        let stats = smaps_stats(task, &counts);
                        if file == PidFile::Smaps {
                            maps::render_smaps(out, &pm.mm, &stats, &MAPS_FORMAT)
                        } else {
                            maps::render_smaps_rollup(out, &pm.mm, &stats, &MAPS_FORMAT)
                        }
                        .map_err(err)?;
                    }
                }
                PidFile::Stat => {
                    let snap = task_snapshot(task, sigpending_limit());
                    stat::render_stat(out, &snap, report.as_ref()).map_err(err)?;
                }
                PidFile::Statm => stat::render_statm(out, report.as_ref()).map_err(err)?,
                PidFile::Status => {
                    let snap = task_snapshot(task, sigpending_limit());
                    stat::render_status(out, &snap, report.as_ref()).map_err(err)?;
                }
                PidFile::Cmdline => {
                    out.write_bytes(&cmdline_bytes(task));
                }
            }
            Ok(())
        })
    }
}

impl ProcSource for LiveProc {
    fn sysctl_write(&self, file: crate::fs::procfs::Sysctl, value: &[u8]) -> Result<usize, Errno> {
        let pid = super::current_pid();
        // The console writes as the idle task (`swapper/0`).
        let comm = if pid == 0 {
            String::from("swapper/0")
        } else {
            super::with_current(|t| t.comm.clone())
        };
        crate::kernel::sysctl::write(file, &comm, pid, value)
    }

    /// Copied out under the slab lock into a fixed array first: a `Vec` allocates through
    /// kmalloc, which takes the same lock.
    fn slab_caches(&self) -> Vec<(u8, &'static str)> {
        let mut slots = [(0u8, ""); crate::mm::slab::MAX_CACHES];
        let mut n = 0;
        for (slot, e) in slots.iter_mut().zip(crate::kernel::mem::SLAB.lock().cache_slots()) {
            *slot = e;
            n += 1;
        }
        slots[..n].to_vec()
    }

    fn slab_shrink(&self, slot: u8) -> Result<(), Errno> {
        let mut slab = crate::kernel::mem::SLAB.lock();
        slab.shrink_slot(&mut crate::kernel::mem::BuddyPages, slot).map(|_| ()).ok_or(Errno::ENOENT)
    }

    fn tgids(&self) -> Vec<u32> {
        super::with_tasks(|t| t.map.keys().filter(|&p| p != 0).collect())
    }

    fn current_tgid(&self) -> Option<u32> {
        Some(super::current_pid()).filter(|&p| p != 0)
    }

    fn exe_path(&self, tgid: u32) -> Option<String> {
        super::with_tasks(|t| {
            let x = t.map.get(&tgid).filter(|x| x.mm.is_some())?;
            x.exe.as_deref().filter(|e| !e.is_empty()).map(String::from)
        })
    }

    /// Renders a process's read on the render stack: the allocator snapshots `/proc/meminfo`,
    /// `zoneinfo` and the like take are several KiB each (a `NodeSnapshot` alone is over
    /// 3 KiB), more than a process's 8 KiB kernel stack has left below a `read`. The console
    /// (task 0) renders on its own boot stack, which has room, with interrupts on.
    fn render(&self, file: ProcFile, out: &mut SeqBuf) -> Result<(), Errno> {
        let mut render = || match file {
            ProcFile::Pid(pid, f) => self.render_pid(pid, f, out),
            ProcFile::Root(f) => render_root(f, out),
            // A write-only one: the open refused reading.
            ProcFile::Sysctl(k) => match crate::kernel::sysctl::render(k) {
                Some(text) => {
                    out.write_bytes(text.as_bytes());
                    Ok(())
                }
                None => Err(Errno::EACCES),
            },
            ProcFile::Slab(slot, attr) => {
                let stat = crate::kernel::mem::SLAB.lock().cache_stat(slot).ok_or(Errno::ENOENT)?;
                crate::fs::procfs::show_slab_attr(attr, &stat, out).map_err(|_| Errno::EIO)
            }
        };
        if super::current_pid() == 0 {
            return render();
        }
        // System calls run with interrupts masked, as the render stack requires.
        let mut r = Err(Errno::EIO);
        crate::arch::process::call_on_render_stack(&mut || r = render());
        r
    }
}

/// The files of `/proc` itself, through the renderers the console's `cat` uses.
fn render_root(f: RootFile, out: &mut SeqBuf) -> Result<(), Errno> {
    use crate::kernel::mem;
    use crate::proc::meminfo;
    let k = crate::kernel::try_get().ok_or(Errno::ENOENT)?;
    let r = match f {
        RootFile::Cmdline => writeln!(out, "{}", k.boot.cmdline()),
        RootFile::Meminfo => meminfo::render(out, &meminfo_snapshot(&k.layout)),
        RootFile::Vmstat => render_vmstat(out),
        RootFile::Buddyinfo | RootFile::Pagetypeinfo | RootFile::Zoneinfo | RootFile::Slabinfo => {
            mem::render_allocator_file(f, out).unwrap_or(Ok(()))
        }
        RootFile::Vmallocinfo => crate::kernel::vmalloc::render_vmallocinfo(out),
        RootFile::Iomem => crate::kernel::setup::iomem(k).render(out),
        RootFile::Partitions => crate::block::core::render_partitions(out),
        RootFile::Diskstats => crate::block::core::render_diskstats(out),
        RootFile::Cpuinfo => write!(out, "{}", crate::kernel::setup::cpuinfo()),
        RootFile::Swaps => crate::kernel::swap::render_swaps(out),
        RootFile::Stat => crate::kernel::irq::render_stat(out),
        RootFile::Uptime => crate::kernel::time::render_uptime(out),
        RootFile::Interrupts => crate::kernel::irq::render_interrupts(out),
    };
    r.map_err(|_| Errno::ENOMEM)
}

/// Pages of the page cache (`NR_FILE_PAGES`), counted from the page owners.
pub(crate) fn page_cache_pages() -> u64 {
    page_cache_and_shmem_pages().0
}

/// `NR_FILE_PAGES` and, of them, `NR_SHMEM`: the page-cache pages that are swap-backed
/// (`PG_swapbacked`: the rootfs's tmpfs files and shared anonymous memory, where 6.1's
/// `shmem_add_to_page_cache` counts `NR_SHMEM`), in one walk of mem_map.
fn page_cache_and_shmem_pages() -> (u64, u64) {
    use crate::mm::page::{LruFlags, PageOwner};
    crate::kernel::mem::with_node(|n| {
        let mm = n.mem_map();
        let (mut file, mut shmem) = (0, 0);
        for i in 0..mm.len() as u32 {
            let Some(p) = mm.pfn_to_page(mm.pfn_of(i)) else { continue };
            if p.owner() == PageOwner::PageCache {
                file += 1;
                shmem += u64::from(p.lru_flags().contains(LruFlags::PG_swapbacked));
            }
        }
        (file, shmem)
    })
}

/// The process counters /proc/meminfo and /proc/vmstat show, from live state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessMemStats {
    /// `NR_ANON_MAPPED`: anonymous pages of processes.
    pub anon_pages: u64,
    /// `NR_FILE_MAPPED`: page-cache pages and special mappings' pages mapped by at least one
    /// process (`page_add_file_rmap` counts both).
    pub mapped: u64,
    /// `NR_FILE_PAGES`: the rootfs's pages, the card's files' and the block devices'.
    pub file_pages: u64,
    /// `NR_SHMEM`: the swap-backed page-cache pages (the rootfs's tmpfs files, shared
    /// anonymous memory).
    pub shmem_pages: u64,
}

/// Gathers [`ProcessMemStats`].
pub fn process_mem_stats() -> ProcessMemStats {
    let counts = super::with_tasks(|t| mapcounts(t));
    let mapped = counts
        .keys()
        .filter(|&&p| {
            matches!(frame_kind(p), FrameKind::Shmem | FrameKind::File { .. })
                || super::mm::is_special_mapping_page(crate::mm::Pfn(p))
        })
        .count() as u64;
    let (file_pages, shmem_pages) = page_cache_and_shmem_pages();
    ProcessMemStats {
        anon_pages: super::mm::NR_ANON_PAGES.load(Ordering::Relaxed),
        mapped,
        file_pages,
        shmem_pages,
    }
}

/// `/proc/meminfo` with the page-cache and mapping counters filled in (AnonPages,
/// KernelStack and PageTables come live from `mem::meminfo_snapshot`): Mapped, Cached and
/// Shmem (the swap-backed cache pages), and the LRU lists' sizes as the node keeps them (tmpfs pages
/// live on the anon lists, as shmem's do).
pub fn meminfo_snapshot(
    layout: &crate::arch::layout::Layout,
) -> crate::proc::snapshot::MeminfoSnapshot {
    let p = process_mem_stats();
    let mut mi = crate::kernel::mem::meminfo_snapshot(layout);
    mi.mapped = p.mapped;
    // Cached = file pages less the block devices' (Buffers); Shmem the rootfs's alone.
    let buffers = crate::kernel::cardfs::nr_buffer_pages();
    mi.buffers = buffers;
    mi.cached = p.file_pages - buffers.min(p.file_pages);
    mi.shmem = p.shmem_pages;
    let (total, free, cached) = crate::kernel::swap::meminfo_pages();
    mi.swap_total = total;
    mi.swap_free = free;
    mi.swap_cached = cached;
    let lru = lru_sizes();
    mi.inactive_anon = lru[LruList::InactiveAnon as usize];
    mi.active_anon = lru[LruList::ActiveAnon as usize];
    mi.inactive_file = lru[LruList::InactiveFile as usize];
    mi.active_file = lru[LruList::ActiveFile as usize];
    mi.unevictable = lru[LruList::Unevictable as usize];
    mi
}

/// The node's LRU list sizes (`enum lru_list` order).
pub fn lru_sizes() -> [u64; crate::mm::swap::NR_LRU_LISTS] {
    crate::kernel::mem::with_node(|n| n.lruvec().sizes())
}

/// A zone's index (`enum zone_type`) by its name.
fn zone_index(name: &str) -> usize {
    use crate::mm::zone::ZoneType;
    ZoneType::ALL.into_iter().find(|z| z.name() == name).unwrap_or(ZoneType::Movable).idx()
}

/// `/proc/vmstat` from the live counters: free pages per the zones, the process counters,
/// page faults, page allocations per zone and frees (boot memory included, as
/// `__free_pages_core` counts it), OOM kills.
pub fn render_vmstat(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    use crate::proc::vmstat::{self, NodeStat, VmEvent, VmstatSnapshot, ZoneStat};
    let node = crate::kernel::mem::node_snapshot();
    // vmstat_text's per-zone suffixes (TEXT_FOR_DMA "_dma", TEXT_FOR_DMA32 "_dma32",
    // "_normal", TEXT_FOR_HIGHMEM "_high", "_movable").
    let names: Vec<&str> = node
        .configured_zones()
        .map(|z| match z.name {
            "DMA" => "dma",
            "DMA32" => "dma32",
            "Normal" => "normal",
            "HighMem" => "high",
            _ => "movable",
        })
        .collect();
    let mut s = VmstatSnapshot::new(&names);
    let p = process_mem_stats();
    s.zone[ZoneStat::NrFreePages as usize] = node.zones.iter().map(|z| z.free_pages).sum();
    s.zone[ZoneStat::NrFreeCma as usize] = node.zones.iter().map(|z| z.free_cma).sum();
    // The LRU lists: per zone in the configured zones' order, and node-wide.
    // Copied under the node's lock, without allocating there (the slab takes it too).
    let (lru, by_zone, ev) = crate::kernel::mem::with_node(|n| {
        let l = n.lruvec();
        let by_zone: [[u64; 5]; crate::mm::zone::MAX_NR_ZONES] = core::array::from_fn(|z| {
            core::array::from_fn(|i| l.zone_size(z, LruList::from_index(i)))
        });
        (l.sizes(), by_zone, l.events)
    });
    let per_zone: Vec<[u64; 5]> =
        node.configured_zones().map(|z| by_zone[zone_index(z.name)]).collect();
    let zone_lru = [
        ZoneStat::NrZoneInactiveAnon,
        ZoneStat::NrZoneActiveAnon,
        ZoneStat::NrZoneInactiveFile,
        ZoneStat::NrZoneActiveFile,
        ZoneStat::NrZoneUnevictable,
    ];
    let node_lru = [
        NodeStat::NrInactiveAnon,
        NodeStat::NrActiveAnon,
        NodeStat::NrInactiveFile,
        NodeStat::NrActiveFile,
        NodeStat::NrUnevictable,
    ];
    for i in 0..5 {
        s.zone[zone_lru[i] as usize] = per_zone.iter().map(|z| z[i]).sum();
        s.node[node_lru[i] as usize] = lru[i];
    }
    // allocstall_<zone>, the configured zones in order.
    for (i, z) in node.configured_zones().enumerate().take(s.per_zone[1].len()) {
        s.per_zone[1][i] = ev.allocstall.get(zone_index(z.name)).copied().unwrap_or(0);
    }
    for (e, v) in [
        (VmEvent::Pgactivate, ev.pgactivate),
        (VmEvent::Pgdeactivate, ev.pgdeactivate),
        (VmEvent::Pgrefill, ev.pgrefill),
        (VmEvent::PgstealKswapd, ev.pgsteal_kswapd),
        (VmEvent::PgstealDirect, ev.pgsteal_direct),
        (VmEvent::PgscanKswapd, ev.pgscan_kswapd),
        (VmEvent::PgscanDirect, ev.pgscan_direct),
        (VmEvent::PgscanAnon, ev.pgscan_anon),
        (VmEvent::PgscanFile, ev.pgscan_file),
        (VmEvent::PgstealAnon, ev.pgsteal_anon),
        (VmEvent::PgstealFile, ev.pgsteal_file),
        (VmEvent::KswapdLowWmarkHitQuickly, ev.kswapd_low_wmark_hit_quickly),
        (VmEvent::KswapdHighWmarkHitQuickly, ev.kswapd_high_wmark_hit_quickly),
        (VmEvent::Pageoutrun, ev.pageoutrun),
        (VmEvent::Pgrotated, ev.pgrotated),
    ] {
        s.events[e as usize] = v;
    }
    s.node[NodeStat::NrAnonPages as usize] = p.anon_pages;
    s.node[NodeStat::NrMapped as usize] = p.mapped;
    s.node[NodeStat::NrFilePages as usize] = p.file_pages;
    s.node[NodeStat::NrShmem as usize] = p.shmem_pages;
    s.node[NodeStat::NrSlabUnreclaimable as usize] = node.stats.nr_slab_unreclaimable;
    s.node[NodeStat::NrKernelStack as usize] = node.stats.nr_kernel_stack;
    s.node[NodeStat::NrPageTablePages as usize] = node.stats.nr_page_table_pages;
    // pgalloc_<zone> per configured zone (the snapshot's order), pgfree over all of them.
    // Copied into an array under the node's lock: a Vec allocated there deadlocks when the
    // slab needs a new page (it takes the same lock).
    let (zone_events, nr) = crate::kernel::mem::with_node(|n| {
        let mut a = [(0u64, 0u64); crate::mm::zone::MAX_NR_ZONES];
        let mut nr = 0;
        for (slot, z) in a.iter_mut().zip(n.configured_zones()) {
            *slot = z.vm_events();
            nr += 1;
        }
        (a, nr)
    });
    let events = &zone_events[..nr];
    for (i, &(alloc, _)) in events.iter().enumerate().take(s.per_zone[0].len()) {
        s.per_zone[0][i] = alloc;
    }
    s.events[VmEvent::Pgfree as usize] = events.iter().map(|e| e.1).sum();
    s.events[VmEvent::Pgfault as usize] = super::PGFAULT.load(Ordering::Relaxed);
    s.events[VmEvent::Pgmajfault as usize] = super::PGMAJFAULT.load(Ordering::Relaxed);
    s.events[VmEvent::OomKill as usize] = super::oom::OOM_KILLS.load(Ordering::Relaxed);
    s.events[VmEvent::DropPagecache as usize] =
        crate::kernel::cardfs::DROP_PAGECACHE.load(Ordering::Relaxed);
    s.events[VmEvent::DropSlab as usize] = crate::kernel::cardfs::DROP_SLAB.load(Ordering::Relaxed);
    {
        use crate::kernel::swap;
        s.head[2] = swap::PSWPIN.load(Ordering::Relaxed);
        s.head[3] = swap::PSWPOUT.load(Ordering::Relaxed);
        s.events[VmEvent::SwapRa as usize] = swap::SWAP_RA.load(Ordering::Relaxed);
        s.events[VmEvent::SwapRaHit as usize] = swap::SWAP_RA_HIT.load(Ordering::Relaxed);
        s.node[NodeStat::NrSwapcached as usize] = swap::meminfo_pages().2;
    }
    vmstat::render(w, &s)
}
