//! `/proc` files as a process's `open` sees them: rendered once at open time from the live
//! state (a snapshot, read like a `seq_file` that was filled in one go) with the renderers in
//! `proc::pid`: `/proc/self` and `/proc/PID` `maps`, `stat`, `statm`, `status`, `cmdline`.
//! The full `/proc/PID` tree belongs to the procfs work that follows.
use alloc::string::String;
use alloc::vec::Vec;

use super::{Task, TaskState};
use crate::console::ps::{Ps, PsProc};
use crate::mm::mm_types::{Errno, PAGE_SIZE};
use crate::proc::pid::maps::{render_maps, ARM_VECTORS};
use crate::proc::pid::stat::{self, MmReport, RssCounters, TaskSnapshot};

/// `PF_RANDOMIZE` in the task flags `stat` prints.
const PF_RANDOMIZE: u32 = 0x0040_0000;
/// `RLIM_INFINITY` as `stat`'s rsslim prints it on 32-bit.
const RLIM_INFINITY_32: u64 = 0xffff_ffff;
/// The console's device number (`tty_nr`: major 5, minor 1).
pub const CONSOLE_TTY_NR: i32 = (5 << 8) | 1;
/// `SIGCHLD`, the exit signal of every pivm process.
const EXIT_SIGNAL: i32 = 17;
/// Signals queued limit (`RLIMIT_SIGPENDING` of a 1 GiB machine, as the reference shows).
const SIGPENDING_LIMIT: u64 = 6906;

fn snapshot(t: &Task) -> TaskSnapshot<'_> {
    let mut ignored = 0u64;
    let mut caught = 0u64;
    for sig in 1..=64usize {
        match t.sigactions[sig].sa_handler {
            0 => {}
            1 => ignored |= 1 << (sig - 1),
            _ => caught |= 1 << (sig - 1),
        }
    }
    TaskSnapshot {
        pid: t.pid as i32,
        tgid: t.pid as i32,
        ngid: 0,
        ppid: t.ppid as i32,
        tracer_pid: 0,
        pgrp: t.pid as i32,
        session: t.pid as i32,
        tty_nr: CONSOLE_TTY_NR,
        tpgid: -1,
        comm: &t.comm,
        state: match t.state {
            TaskState::Runnable => stat::TaskState::Running,
            TaskState::Sleeping => stat::TaskState::Sleeping,
            TaskState::Zombie => stat::TaskState::Zombie,
        },
        flags: if super::RANDOMIZE_VA_SPACE.load(core::sync::atomic::Ordering::Relaxed) != 0 {
            PF_RANDOMIZE
        } else {
            0
        },
        umask: 0o022,
        min_flt: t.counts.min_flt,
        cmin_flt: t.cmin_flt,
        maj_flt: t.counts.maj_flt,
        cmaj_flt: t.cmaj_flt,
        utime: t.utime,
        stime: t.stime,
        cutime: t.cutime,
        cstime: t.cstime,
        priority: 20,
        nice: 0,
        num_threads: 1,
        start_time: t.start_jiffies.saturating_sub(crate::kernel::time::INITIAL_JIFFIES),
        rsslim: RLIM_INFINITY_32,
        sig_pending: t.pending,
        sig_shared_pending: 0,
        sig_blocked: t.blocked,
        sig_ignored: ignored,
        sig_caught: caught,
        sigq: (0, SIGPENDING_LIMIT),
        wchan: t.state == TaskState::Sleeping,
        exit_signal: EXIT_SIGNAL,
        cpu: 0,
        rt_priority: 0,
        policy: 0,
        exit_code: if t.state == TaskState::Zombie { t.exit_status as i32 } else { 0 },
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
        nr_cpu_ids: crate::board::raspi::NR_CPUS,
        mems_allowed: 1,
        nr_node_ids: 1,
        core_dumping: false,
        thp_enabled: false,
        nvcsw: 0,
        nivcsw: 0,
    }
}

fn mm_report(t: &Task) -> Option<MmReport> {
    let pm = t.mm.as_ref()?;
    let rss = RssCounters {
        file: pm.hw.rss_file.max(0) as usize,
        anon: pm.hw.rss_anon.max(0) as usize,
        swapents: 0,
        shmem: 0,
    };
    let pgtables = super::mm::user_table_pages(pm) * (PAGE_SIZE / 2);
    Some(MmReport::from_mm(&pm.mm, rss, rss.file + rss.anon, pgtables))
}

/// The bytes of the `/proc` file at `path`, or `ENOENT`.
pub fn render(path: &str) -> Result<Vec<u8>, Errno> {
    let rest = path.strip_prefix("/proc/").ok_or(Errno::ENOENT)?;
    let (who, file) = rest.split_once('/').ok_or(Errno::ENOENT)?;
    let pid = match who {
        "self" | "thread-self" => super::current_pid(),
        n => n.parse::<u32>().map_err(|_| Errno::ENOENT)?,
    };
    let cmdline = if file == "cmdline" { Some(cmdline_of(pid)) } else { None };
    super::with_tasks(|t| {
        let task = t.map.get(&pid).filter(|x| x.pid != 0).ok_or(Errno::ENOENT)?;
        let mut out = String::new();
        let mm = mm_report(task);
        let r = match file {
            "maps" => match task.mm.as_ref() {
                Some(pm) => render_maps(&mut out, &pm.mm, Some(&ARM_VECTORS)),
                None => Ok(()),
            },
            "stat" => stat::render_stat(&mut out, &snapshot(task), mm.as_ref()),
            "statm" => stat::render_statm(&mut out, mm.as_ref()),
            "status" => stat::render_status(&mut out, &snapshot(task), mm.as_ref()),
            "cmdline" => return Ok(cmdline.clone().unwrap_or_default()),
            _ => return Err(Errno::ENOENT),
        };
        r.map_err(|_| Errno::ENOMEM)?;
        Ok(out.into_bytes())
    })
}

/// `get_mm_cmdline`: the argument area of the process's stack, read through its tables.
fn cmdline_of(pid: u32) -> Vec<u8> {
    super::with_tasks(|t| {
        let Some(task) = t.map.get_mut(&pid) else { return Vec::new() };
        let mut counts = task.counts;
        let out = match task.mm.as_mut() {
            Some(pm) => {
                let (start, end) = (pm.mm.arg_start, pm.mm.arg_end);
                let mut buf = alloc::vec![0u8; end.saturating_sub(start).min(PAGE_SIZE)];
                let mut um = super::mm::UserMem { pm, counts: &mut counts };
                match crate::abi::uaccess::UserMemory::copy_from_user(&mut um, &mut buf, start) {
                    Ok(()) => stat::cmdline(&buf, buf.len()).to_vec(),
                    Err(_) => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        task.counts = counts;
        out
    })
}

/// procps `ps` over every process (the console's own processes are on its terminal, so a
/// plain `ps` lists them all), rendered into `out`.
pub fn render_ps(ps: &Ps, out: &mut String) -> core::fmt::Result {
    let pids: Vec<u32> = super::with_tasks(|t| t.map.keys().copied().filter(|&p| p != 0).collect());
    let cmdlines: Vec<Vec<u8>> = pids.iter().map(|&p| cmdline_of(p)).collect();
    super::with_tasks(|t| {
        let rows: Vec<(TaskSnapshot<'_>, Option<MmReport>, &[u8])> = pids
            .iter()
            .zip(&cmdlines)
            .filter_map(|(p, c)| t.map.get(p).map(|x| (snapshot(x), mm_report(x), c.as_slice())))
            .collect();
        let procs: Vec<PsProc<'_>> = rows
            .iter()
            .map(|(task, mm, cmdline)| PsProc { task, mm: mm.as_ref(), cmdline, tty: "console" })
            .collect();
        ps.render(out, &procs, CONSOLE_TTY_NR)
    })
}
