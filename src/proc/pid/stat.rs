//! `/proc/PID/stat`, `statm`, `status` and `cmdline` as Linux 6.1 prints them
//! (fs/proc/array.c `do_task_stat`, `proc_pid_statm`, `proc_pid_status`; fs/proc/task_mmu.c
//! `task_mem`, `task_statm`; fs/proc/base.c `get_mm_cmdline`), over plain snapshots: the task's
//! fields in [`TaskSnapshot`], the address space's in [`MmReport`].
use core::fmt;

use crate::mm::mm_types::{MmStruct, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};

/// The per-mm RSS counters (`MM_FILEPAGES`, `MM_ANONPAGES`, `MM_SWAPENTS`, `MM_SHMEMPAGES`), in
/// pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RssCounters {
    pub file: usize,
    pub anon: usize,
    pub swapents: usize,
    pub shmem: usize,
}

/// What the reports read from a process's `mm_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmReport {
    pub total_vm: usize,
    pub hiwater_vm: usize,
    pub locked_vm: usize,
    pub pinned_vm: usize,
    pub data_vm: usize,
    pub exec_vm: usize,
    pub stack_vm: usize,
    pub rss: RssCounters,
    pub hiwater_rss: usize,
    /// `mm_pgtables_bytes()`: 2 KiB per ARM page table (512 Linux PTEs of 4 bytes).
    pub pgtables_bytes: usize,
    pub start_code: usize,
    pub end_code: usize,
    pub start_data: usize,
    pub end_data: usize,
    pub start_brk: usize,
    pub start_stack: usize,
    pub arg_start: usize,
    pub arg_end: usize,
    pub env_start: usize,
    pub env_end: usize,
}

impl MmReport {
    /// The report fields of `mm`, with the RSS counters and page-table bytes the fault path
    /// keeps beside it.
    pub fn from_mm(
        mm: &MmStruct,
        rss: RssCounters,
        hiwater_rss: usize,
        pgtables_bytes: usize,
    ) -> Self {
        MmReport {
            total_vm: mm.total_vm,
            hiwater_vm: mm.hiwater_vm,
            locked_vm: mm.locked_vm,
            pinned_vm: mm.pinned_vm,
            data_vm: mm.data_vm,
            exec_vm: mm.exec_vm,
            stack_vm: mm.stack_vm,
            rss,
            hiwater_rss,
            pgtables_bytes,
            start_code: mm.start_code,
            end_code: mm.end_code,
            start_data: mm.start_data,
            end_data: mm.end_data,
            start_brk: mm.start_brk,
            start_stack: mm.start_stack,
            arg_start: mm.arg_start,
            arg_end: mm.arg_end,
            env_start: mm.env_start,
            env_end: mm.env_end,
        }
    }

    /// `get_mm_rss()`.
    pub fn rss_pages(&self) -> usize {
        self.rss.file + self.rss.anon + self.rss.shmem
    }

    /// The text size `task_mem`/`task_statm` use: `PAGE_ALIGN(end_code) - (start_code & PAGE_MASK)`.
    fn text_bytes(&self) -> usize {
        ((self.end_code + PAGE_SIZE - 1) & PAGE_MASK).saturating_sub(self.start_code & PAGE_MASK)
    }
}

/// A task's scheduler state as `/proc` shows it (`task_state_array`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    TracingStop,
    Dead,
    Zombie,
    Parked,
    Idle,
}

impl TaskState {
    /// The letter in `stat`.
    pub const fn letter(self) -> char {
        match self {
            TaskState::Running => 'R',
            TaskState::Sleeping => 'S',
            TaskState::DiskSleep => 'D',
            TaskState::Stopped => 'T',
            TaskState::TracingStop => 't',
            TaskState::Dead => 'X',
            TaskState::Zombie => 'Z',
            TaskState::Parked => 'P',
            TaskState::Idle => 'I',
        }
    }
    /// The text in `status`.
    pub const fn name(self) -> &'static str {
        match self {
            TaskState::Running => "R (running)",
            TaskState::Sleeping => "S (sleeping)",
            TaskState::DiskSleep => "D (disk sleep)",
            TaskState::Stopped => "T (stopped)",
            TaskState::TracingStop => "t (tracing stop)",
            TaskState::Dead => "X (dead)",
            TaskState::Zombie => "Z (zombie)",
            TaskState::Parked => "P (parked)",
            TaskState::Idle => "I (idle)",
        }
    }
}

/// `PF_RANDOMIZE`, the task flag a randomised exec sets (stat field 9).
pub const PF_RANDOMIZE: u32 = 0x0040_0000;
/// `RLIM_INFINITY` as `rsslim` prints it on a 32-bit kernel.
pub const RLIM_INFINITY_32: u64 = 0xffff_ffff;

/// A task's fields for `stat` and `status` (times in clock ticks of `USER_HZ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskSnapshot<'a> {
    pub pid: i32,
    pub tgid: i32,
    pub ngid: i32,
    pub ppid: i32,
    pub tracer_pid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub tpgid: i32,
    pub comm: &'a str,
    pub state: TaskState,
    pub flags: u32,
    pub umask: u32,
    pub min_flt: u64,
    pub cmin_flt: u64,
    pub maj_flt: u64,
    pub cmaj_flt: u64,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub priority: i32,
    pub nice: i32,
    pub num_threads: u32,
    pub start_time: u64,
    pub rsslim: u64,
    /// Signal sets (64 signals): pending, shared pending, blocked, ignored, caught.
    pub sig_pending: u64,
    pub sig_shared_pending: u64,
    pub sig_blocked: u64,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    /// Queued signals and the `RLIMIT_SIGPENDING` limit (`SigQ:`).
    pub sigq: (u32, u64),
    /// The task sleeps somewhere `/proc/PID/wchan` can name.
    pub wchan: bool,
    pub exit_signal: i32,
    pub cpu: i32,
    pub rt_priority: u32,
    pub policy: u32,
    pub exit_code: i32,
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub fd_size: u32,
    pub groups: &'a [u32],
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cap_bounding: u64,
    pub cap_ambient: u64,
    pub no_new_privs: bool,
    pub seccomp: u32,
    pub seccomp_filters: u32,
    pub speculation_store_bypass: &'a str,
    pub speculation_indirect_branch: &'a str,
    /// Allowed CPUs as a bitmap over `nr_cpu_ids`, allowed memory nodes over `nr_node_ids`.
    pub cpus_allowed: u64,
    pub nr_cpu_ids: u32,
    pub mems_allowed: u64,
    pub nr_node_ids: u32,
    pub core_dumping: bool,
    pub thp_enabled: bool,
    pub nvcsw: u64,
    pub nivcsw: u64,
}

/// `/proc/PID/stat`: 52 fields, Linux 6.1's order. `mm` is `None` for a task without one
/// (kernel threads, zombies).
pub fn render_stat(
    w: &mut impl fmt::Write,
    t: &TaskSnapshot,
    mm: Option<&MmReport>,
) -> fmt::Result {
    write!(w, "{} ({}) {}", t.pid, t.comm, t.state.letter())?;
    write!(w, " {} {} {} {} {} {}", t.ppid, t.pgrp, t.session, t.tty_nr, t.tpgid, t.flags)?;
    write!(w, " {} {} {} {}", t.min_flt, t.cmin_flt, t.maj_flt, t.cmaj_flt)?;
    write!(w, " {} {} {} {}", t.utime, t.stime, t.cutime, t.cstime)?;
    write!(w, " {} {} {} 0 {}", t.priority, t.nice, t.num_threads, t.start_time)?;
    let vsize = mm.map_or(0, |m| m.total_vm << PAGE_SHIFT);
    let rss = mm.map_or(0, |m| m.rss_pages());
    write!(w, " {vsize} {rss} {}", t.rsslim)?;
    let (sc, ec, ss) = mm.map_or((0, 0, 0), |m| (m.start_code, m.end_code, m.start_stack));
    // esp and eip: always 0 (only a core-dumping task shows them).
    write!(w, " {sc} {ec} {ss} 0 0")?;
    const OLD_SIGNALS: u64 = 0x7fff_ffff;
    write!(
        w,
        " {} {} {} {}",
        t.sig_pending & OLD_SIGNALS,
        t.sig_blocked & OLD_SIGNALS,
        t.sig_ignored & OLD_SIGNALS,
        t.sig_caught & OLD_SIGNALS
    )?;
    write!(w, " {} 0 0 {} {}", u8::from(t.wchan), t.exit_signal, t.cpu)?;
    // rt_priority, policy, delayacct_blkio_ticks, guest time, children's guest time.
    write!(w, " {} {} 0 0 0", t.rt_priority, t.policy)?;
    match mm {
        Some(m) => write!(
            w,
            " {} {} {} {} {} {} {}",
            m.start_data, m.end_data, m.start_brk, m.arg_start, m.arg_end, m.env_start, m.env_end
        )?,
        None => w.write_str(" 0 0 0 0 0 0 0")?,
    }
    writeln!(w, " {}", t.exit_code)
}

/// `/proc/PID/statm`: size resident shared text lib(0) data dt(0), in pages.
pub fn render_statm(w: &mut impl fmt::Write, mm: Option<&MmReport>) -> fmt::Result {
    let Some(m) = mm else { return writeln!(w, "0 0 0 0 0 0 0") };
    let shared = m.rss.file + m.rss.shmem;
    let text = m.text_bytes() >> PAGE_SHIFT;
    let data = m.data_vm + m.stack_vm;
    writeln!(w, "{} {} {} {} 0 {} 0", m.total_vm, shared + m.rss.anon, shared, text, data)
}

/// `SEQ_PUT_DEC` of `task_mem`: pages as kB right-aligned in 8 columns.
fn vm_line(w: &mut impl fmt::Write, label: &str, kb: usize) -> fmt::Result {
    writeln!(w, "{label}:\t{kb:>8} kB")
}

/// `task_mem()`: the Vm*/Rss* lines of `status`.
pub fn task_mem(w: &mut impl fmt::Write, m: &MmReport) -> fmt::Result {
    let kb = |pages: usize| pages << (PAGE_SHIFT - 10);
    let total_rss = m.rss_pages();
    let text = m.text_bytes().min(m.exec_vm << PAGE_SHIFT);
    let lib = (m.exec_vm << PAGE_SHIFT) - text;
    vm_line(w, "VmPeak", kb(m.total_vm.max(m.hiwater_vm)))?;
    vm_line(w, "VmSize", kb(m.total_vm))?;
    vm_line(w, "VmLck", kb(m.locked_vm))?;
    vm_line(w, "VmPin", kb(m.pinned_vm))?;
    vm_line(w, "VmHWM", kb(total_rss.max(m.hiwater_rss)))?;
    vm_line(w, "VmRSS", kb(total_rss))?;
    vm_line(w, "RssAnon", kb(m.rss.anon))?;
    vm_line(w, "RssFile", kb(m.rss.file))?;
    vm_line(w, "RssShmem", kb(m.rss.shmem))?;
    vm_line(w, "VmData", kb(m.data_vm))?;
    vm_line(w, "VmStk", kb(m.stack_vm))?;
    vm_line(w, "VmExe", text >> 10)?;
    vm_line(w, "VmLib", lib >> 10)?;
    vm_line(w, "VmPTE", m.pgtables_bytes >> 10)?;
    vm_line(w, "VmSwap", kb(m.rss.swapents))
}

/// `%*pb`: a bitmap of `nbits` in hex, 32-bit groups separated by commas.
fn write_bitmap(w: &mut impl fmt::Write, bits: u64, nbits: u32) -> fmt::Result {
    let nbits = nbits.clamp(1, 64);
    let digits = nbits.div_ceil(4) as usize;
    if digits > 8 {
        let high = bits >> 32;
        let hdigits = digits - 8;
        write!(w, "{high:0hdigits$x},{:08x}", bits & 0xffff_ffff)
    } else {
        write!(w, "{bits:0digits$x}")
    }
}

/// `%*pbl`: the set bits as ranges (`0-3`, `0,2`).
fn write_bitmap_list(w: &mut impl fmt::Write, bits: u64, nbits: u32) -> fmt::Result {
    let mut first = true;
    let mut i = 0;
    while i < nbits.min(64) {
        if bits & (1 << i) == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < nbits.min(64) && bits & (1 << (i + 1)) != 0 {
            i += 1;
        }
        if !first {
            w.write_str(",")?;
        }
        first = false;
        if start == i {
            write!(w, "{start}")?;
        } else {
            write!(w, "{start}-{i}")?;
        }
        i += 1;
    }
    Ok(())
}

/// `/proc/PID/status`, every line of Linux 6.1's (armmp configuration: no NUMA balancing
/// `Ngid` beyond 0, no hugetlb lines, CPU and memory-node masks from the snapshot).
pub fn render_status(
    w: &mut impl fmt::Write,
    t: &TaskSnapshot,
    mm: Option<&MmReport>,
) -> fmt::Result {
    writeln!(w, "Name:\t{}", t.comm)?;
    writeln!(w, "Umask:\t{:04o}", t.umask)?;
    writeln!(w, "State:\t{}", t.state.name())?;
    writeln!(w, "Tgid:\t{}", t.tgid)?;
    writeln!(w, "Ngid:\t{}", t.ngid)?;
    writeln!(w, "Pid:\t{}", t.pid)?;
    writeln!(w, "PPid:\t{}", t.ppid)?;
    writeln!(w, "TracerPid:\t{}", t.tracer_pid)?;
    writeln!(w, "Uid:\t{}\t{}\t{}\t{}", t.uid[0], t.uid[1], t.uid[2], t.uid[3])?;
    writeln!(w, "Gid:\t{}\t{}\t{}\t{}", t.gid[0], t.gid[1], t.gid[2], t.gid[3])?;
    writeln!(w, "FDSize:\t{}", t.fd_size)?;
    w.write_str("Groups:\t")?;
    for (i, g) in t.groups.iter().enumerate() {
        write!(w, "{}{g}", if i == 0 { "" } else { " " })?;
    }
    // Linux ends the list with a space it keeps for compatibility.
    w.write_str(" \n")?;
    writeln!(w, "NStgid:\t{}", t.tgid)?;
    writeln!(w, "NSpid:\t{}", t.pid)?;
    writeln!(w, "NSpgid:\t{}", t.pgrp)?;
    writeln!(w, "NSsid:\t{}", t.session)?;
    if let Some(m) = mm {
        task_mem(w, m)?;
        writeln!(w, "CoreDumping:\t{}", u8::from(t.core_dumping))?;
        writeln!(w, "THP_enabled:\t{}", u8::from(t.thp_enabled))?;
    }
    writeln!(w, "Threads:\t{}", t.num_threads)?;
    writeln!(w, "SigQ:\t{}/{}", t.sigq.0, t.sigq.1)?;
    writeln!(w, "SigPnd:\t{:016x}", t.sig_pending)?;
    writeln!(w, "ShdPnd:\t{:016x}", t.sig_shared_pending)?;
    writeln!(w, "SigBlk:\t{:016x}", t.sig_blocked)?;
    writeln!(w, "SigIgn:\t{:016x}", t.sig_ignored)?;
    writeln!(w, "SigCgt:\t{:016x}", t.sig_caught)?;
    writeln!(w, "CapInh:\t{:016x}", t.cap_inheritable)?;
    writeln!(w, "CapPrm:\t{:016x}", t.cap_permitted)?;
    writeln!(w, "CapEff:\t{:016x}", t.cap_effective)?;
    writeln!(w, "CapBnd:\t{:016x}", t.cap_bounding)?;
    writeln!(w, "CapAmb:\t{:016x}", t.cap_ambient)?;
    writeln!(w, "NoNewPrivs:\t{}", u8::from(t.no_new_privs))?;
    writeln!(w, "Seccomp:\t{}", t.seccomp)?;
    writeln!(w, "Seccomp_filters:\t{}", t.seccomp_filters)?;
    writeln!(w, "Speculation_Store_Bypass:\t{}", t.speculation_store_bypass)?;
    writeln!(w, "SpeculationIndirectBranch:\t{}", t.speculation_indirect_branch)?;
    w.write_str("Cpus_allowed:\t")?;
    write_bitmap(w, t.cpus_allowed, t.nr_cpu_ids)?;
    w.write_str("\nCpus_allowed_list:\t")?;
    write_bitmap_list(w, t.cpus_allowed, t.nr_cpu_ids)?;
    w.write_str("\nMems_allowed:\t")?;
    write_bitmap(w, t.mems_allowed, t.nr_node_ids)?;
    w.write_str("\nMems_allowed_list:\t")?;
    write_bitmap_list(w, t.mems_allowed, t.nr_node_ids)?;
    writeln!(w)?;
    writeln!(w, "voluntary_ctxt_switches:\t{}", t.nvcsw)?;
    writeln!(w, "nonvoluntary_ctxt_switches:\t{}", t.nivcsw)
}

/// `get_mm_cmdline()`: `area` holds the bytes from `arg_start` to `env_end`, of which the
/// first `arg_len` are the arguments. Normally that is the argument area, NULs included; if
/// its last byte was overwritten (`setproctitle`), the string from `arg_start` to the first NUL
/// (NUL included), which may run into the environment.
pub fn cmdline(area: &[u8], arg_len: usize) -> &[u8] {
    let arg_len = arg_len.min(area.len());
    if arg_len == 0 || area[arg_len - 1] == 0 {
        return &area[..arg_len];
    }
    let limit = area.len().min(PAGE_SIZE);
    match area[..limit].iter().position(|&b| b == 0) {
        Some(n) => &area[..n + 1],
        None => &area[..limit],
    }
}
