//! Programs from the console: `run PATH [ARGS...] [&]` (in the foreground the console's input
//! goes to the program and Ctrl-C sends it SIGINT; a shell's `Segmentation fault` line when a
//! signal kills it), `ls [PATH]` over the rootfs, `kill [-SIG] PID` and a short `ps`.
use alloc::string::String;
use alloc::vec::Vec;

use super::{CmdError, CmdResult};
use crate::console::args::{parse_u32, Args};
use crate::console::input::{self, Input};
use crate::console::line::CTRL_C;
use crate::kernel::process::{self, exec, fs::with_rootfs, TaskState};
use crate::kernel::Kernel;
use crate::{kprint, kprintln};

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
    if background {
        kprintln!("[{}]", pid);
        return Ok(());
    }
    wait_foreground(pid);
    Ok(())
}

/// The console waits for its foreground program, passing what is typed to the console tty
/// (`fs::tty`: echo, line editing, a line a read returns) and the signal characters as
/// signals (^C SIGINT, ^\\ SIGQUIT), then reaps it.
fn wait_foreground(pid: u32) {
    // Input left by an earlier program is not this one's.
    let _ = process::fs::tty_take_input();
    let exited =
        || process::with_tasks(|t| t.map.get(&pid).is_none_or(|x| x.state == TaskState::Zombie));
    while !exited() {
        match input::next_or(|| exited() || input::interrupted(), true) {
            None | Some(Input::Lost) => {}
            Some(Input::Byte(b)) => {
                if let Some(sig) = process::fs::tty_receive(b) {
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
    let done: Vec<(u32, bool)> = process::with_tasks(|t| {
        t.map
            .values()
            .filter(|x| x.pid != 0 && x.ppid == 0 && x.state == TaskState::Zombie)
            .filter(|x| !(x.console_job && x.foreground))
            .map(|x| (x.pid, x.console_job))
            .collect()
    });
    for (pid, job) in done {
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
const SIGNAL_NAMES: [(&str, u32); 8] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("SEGV", 11),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
];

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
    // Give it the CPU so it dies now; a background one is reported when reaped.
    process::schedule();
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
        let tasks: Vec<&process::Task> =
            t.map.values().filter(|x| x.pid != 0).map(|x| &**x).collect();
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
