//! The console's job table, kept as bash keeps its own: job numbers (the lowest above the
//! highest in use), the current (`+`) and previous (`-`) job, and the lines bash prints for
//! `jobs`, for Ctrl-Z (`[1]+  Stopped                 PROG ARGS`) and for `bg`. Pure: the
//! console (`commands::process`) feeds it the programs' live states.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::abi::arm::signal::sig;

/// bash pads a job's status to this many columns before the command (`print_pipeline`).
const STATUS_WIDTH: usize = 24;

/// What a job is doing, as `jobs` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    /// Stopped by this signal (0: not known).
    Stopped(u32),
}

impl JobStatus {
    /// bash's word for the status (`printable_job_status`: the stop signal's `strsignal`
    /// text, plain `Stopped` for SIGTSTP).
    pub fn text(self) -> &'static str {
        match self {
            JobStatus::Running => "Running",
            JobStatus::Stopped(sig::SIGSTOP) => "Stopped (signal)",
            JobStatus::Stopped(sig::SIGTTIN) => "Stopped (tty input)",
            JobStatus::Stopped(sig::SIGTTOU) => "Stopped (tty output)",
            JobStatus::Stopped(_) => "Stopped",
        }
    }

    fn stopped(self) -> bool {
        matches!(self, JobStatus::Stopped(_))
    }
}

/// One job: a program the console started (one process: pivm has no pipelines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub num: u32,
    pub pid: u32,
    /// The command as typed after `run` (`PROG ARGS`).
    pub cmd: String,
    pub status: JobStatus,
    /// Last put in the foreground (bash's `J_FOREGROUND`): its line has no ` &`.
    pub foreground: bool,
}

/// The jobs, in job-number order, and the order they were last made current in.
#[derive(Clone, Debug, Default)]
pub struct JobTable {
    jobs: Vec<Job>,
    /// Pids, least recently made current first.
    recent: Vec<u32>,
}

impl JobTable {
    pub const fn new() -> Self {
        JobTable { jobs: Vec::new(), recent: Vec::new() }
    }

    /// Adds a job (or finds the one `pid` already has); its number. It becomes current.
    pub fn add(&mut self, pid: u32, cmd: &str, status: JobStatus, foreground: bool) -> u32 {
        if let Some(j) = self.jobs.iter_mut().find(|j| j.pid == pid) {
            j.status = status;
            j.foreground = foreground;
            let num = j.num;
            self.make_current(pid);
            return num;
        }
        let num = self.jobs.iter().map(|j| j.num).max().unwrap_or(0) + 1;
        self.jobs.push(Job { num, pid, cmd: cmd.into(), status, foreground });
        self.make_current(pid);
        num
    }

    /// Forgets the job of `pid` (it ended).
    pub fn remove(&mut self, pid: u32) -> Option<Job> {
        self.recent.retain(|&p| p != pid);
        let i = self.jobs.iter().position(|j| j.pid == pid)?;
        Some(self.jobs.remove(i))
    }

    pub fn get(&self, pid: u32) -> Option<&Job> {
        self.jobs.iter().find(|j| j.pid == pid)
    }

    /// Records what the job of `pid` is doing now and whether it is in the foreground.
    pub fn set(&mut self, pid: u32, status: JobStatus, foreground: bool) {
        if let Some(j) = self.jobs.iter_mut().find(|j| j.pid == pid) {
            j.status = status;
            j.foreground = foreground;
        }
    }

    /// The job of `pid` becomes the current one (`+`).
    pub fn make_current(&mut self, pid: u32) {
        self.recent.retain(|&p| p != pid);
        self.recent.push(pid);
    }

    /// The jobs in number order.
    pub fn iter(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// bash's current and previous jobs (`reset_current`): stopped jobs come first, each
    /// group most recently made current first.
    fn ranked(&self) -> Vec<u32> {
        let by_recency = self.recent.iter().rev().copied();
        let stopped = |p: &u32| self.get(*p).is_some_and(|j| j.status.stopped());
        let mut out: Vec<u32> = by_recency.clone().filter(stopped).collect();
        out.extend(by_recency.filter(|p| !stopped(p)));
        out
    }

    /// The current job's pid (what `fg` and `bg` take without an argument).
    pub fn current(&self) -> Option<u32> {
        self.ranked().first().copied()
    }

    /// `+` for the current job, `-` for the previous one, a space for the others.
    pub fn mark(&self, pid: u32) -> char {
        match self.ranked().iter().position(|&p| p == pid) {
            Some(0) => '+',
            Some(1) => '-',
            _ => ' ',
        }
    }

    /// The line `jobs` (and Ctrl-Z) prints for the job of `pid`:
    /// `[1]+  Stopped                 sleep 100`, with ` &` after a background job.
    pub fn line(&self, pid: u32) -> Option<String> {
        let j = self.get(pid)?;
        let mut s = String::new();
        let _ = write!(
            s,
            "[{}]{}  {:<width$}{}",
            j.num,
            self.mark(pid),
            j.status.text(),
            j.cmd,
            width = STATUS_WIDTH
        );
        if !j.foreground {
            s.push_str(" &");
        }
        Some(s)
    }

    /// The line `bg` prints for a job it resumed: `[1]+ sleep 100 &`.
    pub fn bg_line(&self, pid: u32) -> Option<String> {
        let j = self.get(pid)?;
        Some(alloc::format!("[{}]{} {} &", j.num, self.mark(pid), j.cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_z_line_is_bashs() {
        let mut t = JobTable::new();
        let n = t.add(7, "spin 3", JobStatus::Stopped(sig::SIGTSTP), true);
        assert_eq!(n, 1);
        assert_eq!(t.line(7).unwrap(), "[1]+  Stopped                 spin 3");
        t.set(7, JobStatus::Stopped(sig::SIGSTOP), true);
        assert_eq!(t.line(7).unwrap(), "[1]+  Stopped (signal)        spin 3");
        t.set(7, JobStatus::Running, false);
        assert_eq!(t.line(7).unwrap(), "[1]+  Running                 spin 3 &");
        assert_eq!(t.bg_line(7).unwrap(), "[1]+ spin 3 &");
    }

    #[test]
    fn numbers_and_current_job_follow_bash() {
        let mut t = JobTable::new();
        assert_eq!(t.add(10, "a", JobStatus::Running, false), 1);
        assert_eq!(t.add(11, "b", JobStatus::Running, false), 2);
        assert_eq!((t.mark(11), t.mark(10)), ('+', '-'));
        // A stopped job is current before any running one.
        assert_eq!(t.add(12, "c", JobStatus::Stopped(sig::SIGTSTP), true), 3);
        t.make_current(11);
        assert_eq!(t.current(), Some(12));
        assert_eq!((t.mark(12), t.mark(11), t.mark(10)), ('+', '-', ' '));
        // Numbers go on above the highest in use, and start again at 1 when all are gone.
        t.remove(11);
        assert_eq!(t.add(13, "d", JobStatus::Running, false), 4);
        t.remove(10);
        t.remove(12);
        t.remove(13);
        assert!(t.is_empty() && t.current().is_none());
        assert_eq!(t.add(14, "e", JobStatus::Running, false), 1);
        // Adding a pid again updates its job.
        assert_eq!(t.add(14, "e", JobStatus::Stopped(sig::SIGTTIN), true), 1);
        assert_eq!(t.line(14).unwrap(), "[1]+  Stopped (tty input)     e");
        assert_eq!(t.line(99), None);
    }
}
