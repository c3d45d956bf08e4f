//! Programs from the console: `run PATH [ARGS...] [&]` (in the foreground the console's input
//! goes to the program, Ctrl-C sends it SIGINT and Ctrl-Z SIGTSTP; a shell's `Segmentation
//! fault` line when a signal kills it), job control as bash's (`jobs`, `fg [PID]`, `bg [PID]`
//! over [`JobTable`]), `ls [PATH]` over the rootfs, `kill [-SIG] PID` and `ps`.
use alloc::string::String;
use alloc::vec::Vec;

use super::{CmdError, CmdResult};
use crate::console::args::{parse_u32, Args};
use crate::console::input::{self, Input};
use crate::console::jobs::{JobStatus, JobTable};
use crate::console::line::CTRL_C;
use crate::kernel::process::{self, exec, fs::with_rootfs, TaskState};
use crate::kernel::Kernel;
use crate::{kprint, kprintln};

/// The console's jobs: programs `run` started that run in the background or are stopped.
static JOBS: crate::kernel::spinlock::SpinLock<JobTable> =
    crate::kernel::spinlock::SpinLock::new(JobTable::new());

pub(crate) fn cmd_run(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    let mut words: Vec<&str> = args.as_slice()[1..].to_vec();
    let background = words.last() == Some(&"&");
    if background {
        words.pop();
    }
    let Some(&path) = words.first() else { return Err(CmdError::Usage) };
    let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    let pid = match exec::spawn(path, &argv, !background) {
        Ok(pid) => pid,
        Err(e) => fail!(args, "{}: {}", path, e),
    };
    let cmd = words.join(" ");
    if background {
        JOBS.lock().add(pid, &cmd, JobStatus::Running, false);
        kprintln!("[{}]", pid);
        return Ok(());
    }
    wait_foreground(pid, &cmd);
    Ok(())
}

/// Whether `pid` is gone or a zombie, and whether it is stopped.
fn fg_state(pid: u32) -> (bool, bool) {
    process::with_tasks(|t| match t.map.get(&pid) {
        None => (true, false),
        Some(x) => (x.state == TaskState::Zombie, x.state == TaskState::Stopped),
    })
}

/// The console waits for its foreground program, passing what is typed to the console tty
/// (`fs::tty`: echo, line editing, a line a read returns) and the signal characters as
/// signals (^C SIGINT, ^\\ SIGQUIT, ^Z SIGTSTP), then reaps it, or, when it stops, makes it a
/// stopped job and prints bash's `[1]+  Stopped  ...` line.
fn wait_foreground(pid: u32, cmd: &str) {
    // Input left by an earlier program is not this one's.
    let _ = process::fs::tty_take_input();
    let done = || {
        let (exited, stopped) = fg_state(pid);
        exited || stopped
    };
    let mut suspended = false;
    while !done() {
        match input::next_or(|| done() || input::interrupted(), true) {
            None | Some(Input::Lost) => {}
            Some(Input::Byte(b)) => {
                if let Some(sig) = process::fs::tty_receive(b) {
                    suspended |= sig == process::SIGTSTP;
                    let _ = process::send_signal(pid, sig);
                }
            }
        }
        if input::take_interrupt() {
            if let Some(sig) = process::fs::tty_receive(CTRL_C) {
                let _ = process::send_signal(pid, sig);
            }
        }
    }
    // What the program was given but did not read is the console's again.
    input::unread(&process::fs::tty_take_input());
    if fg_state(pid).1 {
        // Stopped: the console takes the terminal back; the program is a stopped job.
        let sig = process::with_tasks(|t| {
            t.map.get_mut(&pid).map_or(0, |x| {
                x.foreground = false;
                x.ext.stop_code
            })
        });
        if suspended {
            kprintln!();
        }
        let mut jobs = JOBS.lock();
        jobs.add(pid, cmd, JobStatus::Stopped(sig), true);
        if let Some(line) = jobs.line(pid) {
            kprintln!("{}", line);
        }
        return;
    }
    JOBS.lock().remove(pid);
    let status = process::reap(pid);
    reap_background();
    if let Some(status) = status {
        if status & 0x7f == process::SIGINT {
            kprintln!();
        }
        if let Some(msg) = process::describe_status(status) {
            kprintln!("{}", msg);
        }
    }
}

/// Reaps finished background programs, reporting them as a shell's job control does.
pub(crate) fn reap_background() {
    // The console's own background jobs are reported; orphans of programs are reaped quietly.
    // The console's children (its jobs, the kernel threads, and orphans), in pid order.
    let done: Vec<(u32, bool)> = process::with_tasks(|t| {
        let kids = &t.map[&0].children;
        kids.iter()
            .filter_map(|p| t.map.get(p))
            .filter(|x| x.pid != 0 && x.ppid == 0 && x.state == TaskState::Zombie)
            .filter(|x| !(x.console_job && x.foreground))
            .map(|x| (x.pid, x.console_job))
            .collect()
    });
    for (pid, job) in done {
        JOBS.lock().remove(pid);
        if let Some(status) = process::reap(pid).filter(|_| job) {
            let what = process::describe_status(status).unwrap_or(if status == 0 {
                "Done"
            } else {
                "Exit"
            });
            if status >> 8 != 0 && status & 0x7f == 0 {
                kprintln!("[{}] {} {}", pid, what, status >> 8);
            } else {
                kprintln!("[{}] {}", pid, what);
            }
        }
    }
}

pub(crate) fn cmd_ls(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Usage);
    }
    let path = args.get(1).unwrap_or("/");
    // A path on the card volume (/boot): through the namespace, names in `ls` order.
    let disk = process::fs::with_ns(|ns| {
        ns.disk_list(&process::procfs_live::LiveProc, path).map(|r| {
            r.map(|entries| {
                let mut out = String::new();
                for (name, st) in entries {
                    out.push_str(&alloc::format!(
                        "{} {:>2} {:>8} {}\n",
                        crate::fs::ramfs::mode_string(st.mode),
                        st.nlink,
                        st.size,
                        name
                    ));
                }
                out
            })
        })
    });
    if let Some(r) = disk {
        match r {
            Ok(s) => kprint!("{}", s),
            Err(e) => fail!(args, "cannot access '{}': {}", path, e.message()),
        }
        return Ok(());
    }
    let r = with_rootfs(|fs| {
        let ino = fs.lookup(path)?;
        let mut out = String::new();
        let entries: Vec<(String, u64)> = match fs.readdir(ino) {
            Ok(it) => it.map(|(n, i)| (String::from(n), i)).collect(),
            Err(_) => alloc::vec![(String::from(path), ino)],
        };
        for (name, i) in entries {
            if name == "." || name == ".." {
                continue;
            }
            let st = fs.stat(i)?;
            out.push_str(&alloc::format!(
                "{} {:>2} {:>8} {}\n",
                crate::fs::ramfs::mode_string(st.st_mode),
                st.st_nlink,
                st.st_size,
                name
            ));
        }
        Ok::<String, crate::mm::mm_types::Errno>(out)
    });
    match r {
        Ok(s) => {
            kprint!("{}", s);
            Ok(())
        }
        Err(e) => fail!(args, "cannot access '{}': {}", path, e.message()),
    }
}

/// Signal names `kill -NAME` takes.
const SIGNAL_NAMES: [(&str, u32); 14] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("SEGV", 11),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
];

/// The job states the table shows, refreshed from the tasks (finished jobs are reaped and
/// reported first, as bash does before it lists jobs).
fn refresh_jobs() {
    reap_background();
    let mut jobs = JOBS.lock();
    let pids: Vec<u32> = jobs.iter().map(|j| j.pid).collect();
    for pid in pids {
        let now = process::with_tasks(|t| {
            t.map.get(&pid).map(|x| match x.state {
                TaskState::Stopped => JobStatus::Stopped(x.ext.stop_code),
                _ => JobStatus::Running,
            })
        });
        let fg = jobs.get(pid).is_some_and(|j| j.foreground);
        match now {
            Some(status) => jobs.set(pid, status, fg),
            None => {
                jobs.remove(pid);
            }
        }
    }
}

/// The job `fg`/`bg` name: `PID`, `%N` (job number) or none (the current job).
fn job_arg(args: &Args<'_>) -> Result<u32, CmdError> {
    let jobs = JOBS.lock();
    let pid = match args.get(1) {
        None => jobs.current(),
        Some(a) => match a.strip_prefix('%') {
            Some(n) => {
                parse_u32(n).ok().and_then(|n| jobs.iter().find(|j| j.num == n)).map(|j| j.pid)
            }
            None => parse_u32(a).ok().filter(|&p| jobs.get(p).is_some()),
        },
    };
    drop(jobs);
    match pid {
        Some(p) => Ok(p),
        None => fail!(args, "{}: no such job", args.get(1).unwrap_or("current")),
    }
}

/// `jobs`: the console's background and stopped programs, as bash lists them.
pub(crate) fn cmd_jobs(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 1 {
        return Err(CmdError::Usage);
    }
    refresh_jobs();
    let jobs = JOBS.lock();
    for j in jobs.iter() {
        if let Some(line) = jobs.line(j.pid) {
            kprintln!("{}", line);
        }
    }
    Ok(())
}

/// `fg [PID]`: the job continues (SIGCONT) in the foreground; the console waits for it.
pub(crate) fn cmd_fg(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Usage);
    }
    refresh_jobs();
    let pid = job_arg(args)?;
    let cmd = {
        let mut jobs = JOBS.lock();
        jobs.set(pid, JobStatus::Running, true);
        jobs.get(pid).map(|j| j.cmd.clone()).unwrap_or_default()
    };
    process::with_tasks(|t| {
        if let Some(x) = t.map.get_mut(&pid) {
            x.foreground = true;
        }
    });
    kprintln!("{}", cmd);
    let _ = process::send_signal(pid, process::SIGCONT);
    wait_foreground(pid, &cmd);
    Ok(())
}

/// `bg [PID]`: a stopped job continues (SIGCONT) in the background.
pub(crate) fn cmd_bg(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Usage);
    }
    refresh_jobs();
    let pid = job_arg(args)?;
    let (running, num) = {
        let jobs = JOBS.lock();
        let j = jobs.get(pid);
        (j.is_some_and(|j| j.status == JobStatus::Running), j.map_or(0, |j| j.num))
    };
    if running {
        fail!(args, "job {} already in background", num);
    }
    {
        let mut jobs = JOBS.lock();
        jobs.set(pid, JobStatus::Running, false);
        jobs.make_current(pid);
        if let Some(line) = jobs.bg_line(pid) {
            kprintln!("{}", line);
        }
    }
    let _ = process::send_signal(pid, process::SIGCONT);
    process::schedule();
    Ok(())
}

pub(crate) fn cmd_kill(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    let (sig, pid) = match args.len() {
        2 => (process::SIGTERM, args.get(1).unwrap_or("")),
        3 => {
            let s = args.get(1).unwrap_or("");
            let Some(name) = s.strip_prefix('-') else { return Err(CmdError::Usage) };
            let name = name.strip_prefix("SIG").unwrap_or(name);
            let sig = match SIGNAL_NAMES.iter().find(|(n, _)| *n == name) {
                Some(&(_, n)) => n,
                None => match parse_u32(name) {
                    Ok(n) if (1..=64).contains(&n) => n,
                    _ => fail!(args, "{}: invalid signal specification", s),
                },
            };
            (sig, args.get(2).unwrap_or(""))
        }
        _ => return Err(CmdError::Usage),
    };
    let pid = match parse_u32(pid) {
        Ok(p) => p,
        Err(e) => fail!(args, "{}", e),
    };
    if let Err(e) = process::send_signal(pid, sig) {
        fail!(
            args,
            "({}) - {}",
            pid,
            if e == crate::mm::mm_types::Errno::ESRCH { "No such process" } else { e.message() }
        );
    }
    // Give it the CPU so it acts on the signal now; a background one is reported when
    // reaped. A SIGKILLed or SIGSTOPped program (neither signal can be caught) keeps the CPU
    // (the tick hands it back through the console) until it has exited or stopped, so the
    // next command sees it gone or `T` however slow the host is.
    process::schedule();
    if sig == process::SIGKILL || sig == process::SIGSTOP {
        while process::program_runnable(pid) {
            process::schedule();
        }
    }
    Ok(())
}

/// `ps` as procps prints it ([`crate::console::ps`]), over the same snapshots
/// `/proc/PID/stat`, `status` and `cmdline` render.
pub(crate) fn cmd_ps(_k: &Kernel, args: &Args<'_>) -> CmdResult {
    use crate::console::ps::{Ps, PsProc, PID_MAX_DEFAULT};
    use crate::kernel::process::procfs_live;
    let ps = match Ps::parse(&args.as_slice()[1..], PID_MAX_DEFAULT) {
        Ok(ps) => ps,
        Err(e) => fail!(args, "{}", e),
    };
    reap_background();
    let text = process::with_tasks(|t| {
        let tasks: Vec<&process::Task> = t.map.values().filter(|x| x.pid != 0).collect();
        let snaps: Vec<_> = tasks.iter().map(|x| procfs_live::task_snapshot(x, 0)).collect();
        let reports: Vec<_> =
            tasks.iter().map(|x| x.mm.as_ref().map(|pm| procfs_live::mm_report(pm))).collect();
        let cmdlines: Vec<Vec<u8>> = tasks.iter().map(|x| procfs_live::cmdline_bytes(x)).collect();
        let procs: Vec<PsProc<'_>> = (0..tasks.len())
            .map(|i| PsProc {
                task: &snaps[i],
                mm: reports[i].as_ref(),
                cmdline: &cmdlines[i],
                tty: "?",
            })
            .collect();
        let mut out = String::new();
        let _ = ps.render(&mut out, &procs, 0);
        out
    });
    kprint!("{}", text);
    Ok(())
}
