//! `ps` as procps-ng 4.0 prints it (Debian bookworm's `ps`, the one the seed's
//! `ps -o majflt,minflt -C NAME` means; busybox's `ps` cannot print fault counts): its SysV
//! options `-e`/`-A`, `-C`, `-p`, `-o`, the default `pid,tname,time,ucmd` list, each column's
//! header, width and justification from procps's format table, and its column placement
//! (`show_one_proc`: a column that overflows pushes the next one right, and the next ones
//! take the space back where they can). Pure: the console hands it one [`PsProc`] per process,
//! built from the same snapshots `/proc/PID/stat` and `status` render.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use crate::mm::mm_types::PAGE_SIZE;
use crate::proc::pid::stat::{MmReport, TaskSnapshot, TaskState};

/// `USER_HZ`: the clock ticks of `utime`/`stime`, as `/proc/PID/stat` counts them.
const USER_HZ: u64 = 100;
/// `PID_MAX_DEFAULT` (`0x8000`), `/proc/sys/kernel/pid_max` on a 32-bit kernel: procps sizes
/// its PID columns to the number of digits of pid_max.
pub const PID_MAX_DEFAULT: u32 = 0x8000;

/// One process as `ps` reads it from `/proc/PID/{stat,status,cmdline}`.
#[derive(Clone, Copy, Debug)]
pub struct PsProc<'a> {
    pub task: &'a TaskSnapshot<'a>,
    /// None for a process without an address space (a zombie, a kernel thread).
    pub mm: Option<&'a MmReport>,
    /// `/proc/PID/cmdline`: arguments separated (and ended) by NULs; empty without an mm.
    pub cmdline: &'a [u8],
    /// The name of its controlling terminal as procps shows it (`console`, `ttyAMA0`), or
    /// `?` when it has none.
    pub tty: &'a str,
}

/// What a column prints (procps's format names; aliases map to one of these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Pid,
    Ppid,
    Pgid,
    Sid,
    Tty,
    Time,
    Stat,
    State,
    Vsz,
    Rss,
    MajFlt,
    MinFlt,
    CMajFlt,
    CMinFlt,
    Comm,
    Args,
    Nlwp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Just {
    Right,
    Left,
    /// The command columns: as wide as their text, and only ever last in practice.
    Unlimited,
}

/// procps-ng 4.0.2's `format_array` entries pivm supports: name, header, width,
/// justification. `pid_max`-sized columns are marked by `None` for the width.
const FORMATS: [(&str, &str, Option<usize>, Just, Field); 24] = [
    ("args", "COMMAND", Some(27), Just::Unlimited, Field::Args),
    ("cmajflt", "CMAJFLT", Some(6), Just::Right, Field::CMajFlt),
    ("cmd", "CMD", Some(27), Just::Unlimited, Field::Args),
    ("cminflt", "CMINFLT", Some(6), Just::Right, Field::CMinFlt),
    ("comm", "COMMAND", Some(15), Just::Unlimited, Field::Comm),
    ("command", "COMMAND", Some(27), Just::Unlimited, Field::Args),
    ("majflt", "MAJFLT", Some(6), Just::Right, Field::MajFlt),
    ("maj_flt", "MAJFLT", Some(6), Just::Right, Field::MajFlt),
    ("minflt", "MINFLT", Some(6), Just::Right, Field::MinFlt),
    ("min_flt", "MINFLT", Some(6), Just::Right, Field::MinFlt),
    ("nlwp", "NLWP", Some(4), Just::Right, Field::Nlwp),
    ("pgid", "PGID", None, Just::Right, Field::Pgid),
    ("pid", "PID", None, Just::Right, Field::Pid),
    ("ppid", "PPID", None, Just::Right, Field::Ppid),
    ("rss", "RSS", Some(5), Just::Right, Field::Rss),
    ("s", "S", Some(1), Just::Left, Field::State),
    ("sid", "SID", None, Just::Right, Field::Sid),
    ("stat", "STAT", Some(4), Just::Left, Field::Stat),
    ("time", "TIME", Some(8), Just::Right, Field::Time),
    ("tname", "TTY", Some(8), Just::Left, Field::Tty),
    ("tty", "TT", Some(8), Just::Left, Field::Tty),
    ("ucmd", "CMD", Some(15), Just::Unlimited, Field::Comm),
    ("vsz", "VSZ", Some(6), Just::Right, Field::Vsz),
    ("vsize", "VSZ", Some(6), Just::Right, Field::Vsz),
];

/// procps's SysV default list (`DefSysV` without `-f`).
const DEFAULT_FORMAT: &str = "pid,tname,time,ucmd";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Column {
    field: Field,
    header: String,
    width: usize,
    just: Just,
}

/// Which processes a command line selects (procps ORs the selections it is given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Selection {
    every: bool,
    commands: Vec<String>,
    pids: Vec<i32>,
}

/// A parsed `ps` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ps {
    columns: Vec<Column>,
    select: Selection,
}

/// Why a `ps` command line was refused (the console prints it after `ps: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PsError {
    /// An option pivm's `ps` does not have (procps: `error: unsupported SysV option`).
    Unsupported(String),
    /// `-C`, `-p` or `-o` without its list.
    MissingList(char),
    /// A `-p` entry that is not a process ID.
    BadPid(String),
    /// A `-o` name procps does not know (or pivm does not print).
    UnknownFormat(String),
}

impl fmt::Display for PsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsError::Unsupported(o) => {
                write!(f, "error: unsupported option {o} (pivm's ps has -e, -A, -C, -p, -o)")
            }
            PsError::MissingList(o) => {
                write!(f, "error: list of {} missing after -{o}", list_of(*o))
            }
            PsError::BadPid(p) => write!(f, "error: process ID list syntax error: {p:?}"),
            PsError::UnknownFormat(s) => {
                write!(f, "error: unknown user-defined format specifier \"{s}\"")
            }
        }
    }
}

fn list_of(option: char) -> &'static str {
    match option {
        'C' => "command names",
        'p' => "process IDs",
        _ => "format specifiers",
    }
}

impl Ps {
    /// Parses the arguments after `ps`, with `pid_max` sizing the PID columns as procps
    /// sizes them (digits of `/proc/sys/kernel/pid_max`).
    pub fn parse(args: &[&str], pid_max: u32) -> Result<Ps, PsError> {
        let mut select = Selection::default();
        let mut formats: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i];
            i += 1;
            let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
                return Err(PsError::Unsupported(String::from(arg)));
            };
            for (at, flag) in flags.char_indices() {
                match flag {
                    'e' | 'A' => select.every = true,
                    'C' | 'p' | 'o' => {
                        // The list is the rest of this word, or the next word.
                        let rest = &flags[at + flag.len_utf8()..];
                        let list = if !rest.is_empty() {
                            rest
                        } else if i < args.len() {
                            i += 1;
                            args[i - 1]
                        } else {
                            return Err(PsError::MissingList(flag));
                        };
                        match flag {
                            'C' => select.commands.extend(split_list(list).map(String::from)),
                            'p' => {
                                for p in split_list(list) {
                                    match p.parse::<i32>() {
                                        Ok(pid) if pid > 0 => select.pids.push(pid),
                                        _ => return Err(PsError::BadPid(String::from(p))),
                                    }
                                }
                            }
                            _ => formats.push(list),
                        }
                        break;
                    }
                    _ => {
                        let mut option = String::from("-");
                        option.push(flag);
                        return Err(PsError::Unsupported(option));
                    }
                }
            }
        }
        if formats.is_empty() {
            formats.push(DEFAULT_FORMAT);
        }
        let mut columns = Vec::new();
        for list in formats {
            parse_format(list, pid_max, &mut columns)?;
        }
        Ok(Ps { columns, select })
    }

    /// Whether `ps` shows this process. Without a selection procps shows the processes on
    /// its own terminal (`tty_nr` equal to the caller's; 0 when it has none, as here for
    /// pivm's console, which is no process).
    pub fn selects(&self, p: &PsProc<'_>, own_tty_nr: i32) -> bool {
        let s = &self.select;
        if !s.every && s.commands.is_empty() && s.pids.is_empty() {
            return p.task.tty_nr == own_tty_nr;
        }
        s.every
            || s.pids.contains(&p.task.tgid)
            || s.commands.iter().any(|c| c.as_str() == p.task.comm)
    }

    /// Prints the header (unless every header is empty, as with `-o pid=`) and one line
    /// per selected process.
    pub fn render(&self, w: &mut impl Write, procs: &[PsProc<'_>], own_tty_nr: i32) -> fmt::Result {
        if self.columns.iter().any(|c| !c.header.is_empty()) {
            self.line(w, None)?;
        }
        for p in procs.iter().filter(|p| self.selects(p, own_tty_nr)) {
            self.line(w, Some(p))?;
        }
        Ok(())
    }

    /// One line, placed as procps's `show_one_proc` places it: `correct` is where the next
    /// column should start, `actual` where the cursor is; a right-justified column pads up
    /// to its width, and an overflowing column shifts the rest by what it took, which the
    /// following padding gives back.
    fn line(&self, w: &mut impl Write, p: Option<&PsProc<'_>>) -> fmt::Result {
        let (mut correct, mut actual) = (0usize, 0usize);
        let mut dospace = 0;
        let mut text = String::new();
        for (i, col) in self.columns.iter().enumerate() {
            text.clear();
            match p {
                Some(p) => field(&mut text, col.field, p)?,
                None => text.push_str(&col.header),
            }
            let amount = text.chars().count();
            let leftpad = match col.just {
                Just::Right => col.width.saturating_sub(amount),
                Just::Left | Just::Unlimited => 0,
            };
            let mut space = (correct + leftpad).saturating_sub(actual);
            if space < 1 {
                space = dospace;
            }
            for _ in 0..space {
                w.write_char(' ')?;
            }
            w.write_str(&text)?;
            if i + 1 == self.columns.len() {
                break;
            }
            actual += space + amount;
            correct += col.width + 1;
            dospace = 1;
        }
        w.write_char('\n')
    }
}

/// `-o` lists are separated by commas or blanks.
fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ' ']).filter(|s| !s.is_empty())
}

/// One `-o` list: names, each optionally `name=HEADER`; as in procps, a header override
/// takes the rest of the list (`-o pid,comm=NAME OF IT`).
fn parse_format(list: &str, pid_max: u32, out: &mut Vec<Column>) -> Result<(), PsError> {
    let mut rest = list;
    while !rest.is_empty() {
        let (item, tail) = match rest.find([',', ' ']) {
            Some(at) if !rest[..at].contains('=') => (&rest[..at], &rest[at + 1..]),
            _ => (rest, ""),
        };
        rest = tail;
        if item.is_empty() {
            continue;
        }
        let (name, header) = match item.split_once('=') {
            Some((name, header)) => (name, Some(header)),
            None => (item, None),
        };
        let Some(&(_, head, width, just, field)) = FORMATS.iter().find(|f| f.0 == name) else {
            return Err(PsError::UnknownFormat(String::from(name)));
        };
        let width = width.unwrap_or(decimal_digits(pid_max).max(head.len()));
        let (header, width) = match header {
            Some(h) => (String::from(h), width.max(h.chars().count())),
            None => (String::from(head), width),
        };
        out.push(Column { field, header, width, just });
    }
    Ok(())
}

/// The number of decimal digits, as procps's `procps_pid_length` counts pid_max's.
fn decimal_digits(mut n: u32) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// The text of one field for one process.
fn field(out: &mut String, f: Field, p: &PsProc<'_>) -> fmt::Result {
    let t = p.task;
    let kib = |pages: usize| pages * (PAGE_SIZE / 1024);
    match f {
        Field::Pid => write!(out, "{}", t.tgid),
        Field::Ppid => write!(out, "{}", t.ppid),
        Field::Pgid => write!(out, "{}", t.pgrp),
        Field::Sid => write!(out, "{}", t.session),
        Field::Tty => out.write_str(p.tty),
        Field::Time => {
            let secs = (t.utime + t.stime) / USER_HZ;
            let (dd, hh, mm, ss) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
            if dd > 0 {
                write!(out, "{dd}-")?;
            }
            write!(out, "{hh:02}:{mm:02}:{ss:02}")
        }
        Field::State => out.write_char(t.state.letter()),
        Field::Stat => {
            out.write_char(t.state.letter())?;
            if t.nice < 0 {
                out.write_char('<')?;
            }
            if t.nice > 0 {
                out.write_char('N')?;
            }
            if p.mm.is_some_and(|m| m.locked_vm > 0) {
                out.write_char('L')?;
            }
            if t.session == t.tgid {
                out.write_char('s')?;
            }
            if t.num_threads > 1 {
                out.write_char('l')?;
            }
            if t.pgrp == t.tpgid {
                out.write_char('+')?;
            }
            Ok(())
        }
        Field::Vsz => write!(out, "{}", p.mm.map_or(0, |m| kib(m.total_vm))),
        Field::Rss => write!(out, "{}", p.mm.map_or(0, |m| kib(m.rss_pages()))),
        Field::MajFlt => write!(out, "{}", t.maj_flt),
        Field::MinFlt => write!(out, "{}", t.min_flt),
        Field::CMajFlt => write!(out, "{}", t.cmaj_flt),
        Field::CMinFlt => write!(out, "{}", t.cmin_flt),
        Field::Nlwp => write!(out, "{}", t.num_threads),
        Field::Comm => escaped(out, t.comm.as_bytes()),
        Field::Args => {
            // procps's fill_cmdline_cvt: the arguments joined by blanks, or the command in
            // brackets (and a zombie marked) when there are none.
            let args = p.cmdline.strip_suffix(b"\0").unwrap_or(p.cmdline);
            if args.is_empty() {
                out.write_char('[')?;
                escaped(out, t.comm.as_bytes())?;
                out.write_char(']')?;
                if t.state == TaskState::Zombie {
                    out.write_str(" <defunct>")?;
                }
                Ok(())
            } else {
                let joined: Vec<u8> = args.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
                escaped(out, &joined)
            }
        }
    }
}

/// procps's `escape_str` in a UTF-8 locale: control characters and invalid bytes as `?`.
fn escaped(out: &mut String, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.write_char(if c.is_control() { '?' } else { c })?;
        }
        if !chunk.invalid().is_empty() {
            out.write_char('?')?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::pid::golden_tests::vmtest_task;
    use crate::proc::pid::stat::RssCounters;

    /// The reference's `vmtest` task, renumbered and renamed.
    fn task(pid: i32, comm: &'static str, tty_nr: i32) -> TaskSnapshot<'static> {
        TaskSnapshot {
            pid,
            tgid: pid,
            ppid: 1,
            pgrp: pid,
            session: 1,
            tty_nr,
            tpgid: -1,
            comm,
            state: TaskState::Running,
            min_flt: 0,
            maj_flt: 0,
            utime: 0,
            stime: 0,
            nice: 0,
            num_threads: 1,
            ..vmtest_task()
        }
    }

    fn render(args: &[&str], procs: &[PsProc<'_>]) -> String {
        let ps = Ps::parse(args, PID_MAX_DEFAULT).unwrap();
        let mut out = String::new();
        ps.render(&mut out, procs, 0).unwrap();
        out
    }

    #[test]
    fn the_seeds_command_prints_procps_headers_and_right_aligned_counts() {
        let mut t = task(57, "vmtest", 0);
        t.maj_flt = 0;
        t.min_flt = 1040;
        let other = task(58, "sh", 0);
        let procs = [
            PsProc { task: &t, mm: None, cmdline: b"", tty: "?" },
            PsProc { task: &other, mm: None, cmdline: b"", tty: "?" },
        ];
        assert_eq!(
            render(&["-o", "majflt,minflt", "-C", "vmtest"], &procs),
            "MAJFLT MINFLT\n     0   1040\n"
        );
        // LINUX_USER_FACTS.md: with pid and comm, `  PID MAJFLT MINFLT COMMAND`.
        assert_eq!(
            render(&["-o", "pid,majflt,minflt,comm", "-C", "vmtest"], &procs),
            "  PID MAJFLT MINFLT COMMAND\n   57      0   1040 vmtest\n"
        );
    }

    #[test]
    fn default_columns_and_selection_by_terminal() {
        let mut t = task(61, "hello", 0);
        t.utime = 100 * 3725; // 1 h 2 min 5 s
        let elsewhere = task(62, "getty", 0x0401);
        let procs = [
            PsProc { task: &t, mm: None, cmdline: b"", tty: "?" },
            PsProc { task: &elsewhere, mm: None, cmdline: b"", tty: "tty1" },
        ];
        assert_eq!(
            render(&[], &procs),
            "  PID TTY          TIME CMD\n   61 ?        01:02:05 hello\n"
        );
        let all = render(&["-e"], &procs);
        assert!(all.ends_with("   62 tty1     00:00:00 getty\n"), "{all}");
        assert_eq!(render(&["-p", "62", "-o", "pid="], &procs), "   62\n");
    }

    #[test]
    fn vsz_rss_stat_and_args() {
        let mut t = task(70, "vmtest", 0);
        t.session = 70;
        t.pgrp = 70;
        t.tpgid = 70;
        t.state = TaskState::Sleeping;
        let mm = MmReport {
            total_vm: 530,
            rss: RssCounters { file: 60, anon: 3, ..Default::default() },
            ..Default::default()
        };
        let mut z = task(71, "child", 0);
        z.state = TaskState::Zombie;
        let procs = [
            PsProc { task: &t, mm: Some(&mm), cmdline: b"/bin/vmtest\0anon\0", tty: "?" },
            PsProc { task: &z, mm: None, cmdline: b"", tty: "?" },
        ];
        assert_eq!(
            render(&["-e", "-o", "pid,ppid,vsz,rss,stat,args"], &procs),
            "  PID  PPID    VSZ   RSS STAT COMMAND\n   70     1   2120   252 Ss+  /bin/vmtest anon\n   71     1      0     0 Z    [child] <defunct>\n"
        );
    }

    #[test]
    fn an_overflowing_column_pushes_the_next_and_is_taken_back() {
        let mut t = task(5, "x", 0);
        t.min_flt = 123_456_789;
        let procs = [PsProc { task: &t, mm: None, cmdline: b"", tty: "?" }];
        // MINFLT is 6 wide: its 9 digits push PID right, and PID's padding gives the 3 back.
        assert_eq!(
            render(&["-o", "minflt,pid,comm"], &procs),
            "MINFLT   PID COMMAND\n123456789  5 x\n"
        );
    }

    #[test]
    fn header_overrides_and_bad_input() {
        let t = task(9, "a\tb", 0);
        let procs = [PsProc { task: &t, mm: None, cmdline: b"", tty: "?" }];
        assert_eq!(
            render(&["-o", "pid=PROCESS", "-o", "comm"], &procs),
            "PROCESS COMMAND\n      9 a?b\n"
        );
        // A header takes the rest of its list, commas and all.
        assert_eq!(render(&["-o", "pid=A,B"], &procs), "  A,B\n    9\n");
        let err = |args: &[&str]| Ps::parse(args, PID_MAX_DEFAULT).unwrap_err().to_string();
        assert_eq!(
            err(&["-o", "pid,bogus"]),
            "error: unknown user-defined format specifier \"bogus\""
        );
        assert!(err(&["-f"]).starts_with("error: unsupported option -f"));
        assert!(err(&["aux"]).starts_with("error: unsupported option aux"));
        assert_eq!(err(&["-C"]), "error: list of command names missing after -C");
        assert_eq!(err(&["-p", "0"]), "error: process ID list syntax error: \"0\"");
        // Attached lists, as procps accepts them.
        assert_eq!(render(&["-ocomm", "-Ca\tb"], &procs), "COMMAND\na?b\n");
    }

    #[test]
    fn pid_columns_follow_pid_max() {
        let t = task(4_000_000, "big", 0);
        let procs = [PsProc { task: &t, mm: None, cmdline: b"", tty: "?" }];
        let ps = Ps::parse(&["-e", "-o", "pid,comm"], 4_194_304).unwrap();
        let mut out = String::new();
        ps.render(&mut out, &procs, 0).unwrap();
        assert_eq!(out, "    PID COMMAND\n4000000 big\n");
    }
}
