//! System calls reaching user memory as Linux does (issue 12 item 6): through the live user
//! table, a fault in the kernel's copy resolved by the process's fault path and counted as
//! Linux's `mm_account_fault` counts it; and user pages living in HighMem on the 3G build
//! (the kernel needs no linear address for them).
mod common;

use common::{meminfo_kb, Opts, Qemu};
use std::time::Duration;

const RUN: Duration = Duration::from_secs(90);

fn boot(split: &'static str) -> Qemu {
    Qemu::boot_to_prompt(Opts::raw(split).initramfs()).0
}

/// Free HighMem in kB: /proc/meminfo's HighFree plus the pages on HighMem's per-CPU lists
/// (free, but not counted in HighFree).
fn high_free_kb(q: &mut Qemu) -> u64 {
    let mi = q.cmd("cat /proc/meminfo");
    let free = meminfo_kb(q, &mi, "HighFree");
    let zi = q.cmd("cat /proc/zoneinfo");
    let high = zi
        .split("Node 0, zone")
        .find(|z| z.trim_start().starts_with("HighMem"))
        .unwrap_or_else(|| q.fail(&format!("no HighMem zone in /proc/zoneinfo:\n{zi}")));
    let pcp: u64 = high
        .lines()
        .filter_map(|l| l.trim().strip_prefix("count:"))
        .map(|n| n.trim().parse::<u64>().unwrap_or_else(|_| q.fail(&format!("count {n:?}"))))
        .sum();
    free + 4 * pcp
}

#[test]
fn a_programs_pages_come_from_highmem_on_3g_and_go_back() {
    let mut q = boot("3G");
    let before = high_free_kb(&mut q);
    // 1024 pages written (4 MiB) and held.
    q.send("run /bin/touch 1024 1024 0 &\n");
    let out = q.wait_for("TOUCH holding", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    let pid: u32 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no [PID] line in {out:?}")));
    let holding = high_free_kb(&mut q);
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    let rss_anon = meminfo_kb(&q, &status, "RssAnon");
    assert!(rss_anon >= 4096, "RssAnon {rss_anon} kB below the 4 MiB written:\n{status}");
    // Every anonymous page of the program came from HighMem (page tables and the kernel
    // stack from lowmem).
    assert_eq!(
        before - holding,
        rss_anon,
        "HighMem free dropped by {} kB while the program's RssAnon is {rss_anon} kB",
        before - holding
    );
    q.cmd(&format!("kill -9 {pid}"));
    let ps = q.cmd("ps");
    q.expect_in("ps", &ps, &format!("[{pid}] Killed\n"));
    assert_eq!(high_free_kb(&mut q), before, "HighMem pages not given back");
    q.verify_ok("after the HighMem program");
    q.poweroff_ok();
}

#[test]
fn faults_in_a_system_calls_user_copy_count_as_linux() {
    // mm_account_fault counts a fault the kernel takes on a user page (FAULT_FLAG_USER
    // clear) as it counts the program's own: read() into N untouched pages takes N (write
    // faults, one new page each), the same read again none, write() from N untouched pages N
    // (read faults mapping the zero page), and the program's own writes to those N more
    // (copy-on-write from the zero page).
    for split in ["3G", "2G"] {
        let mut q = boot(split);
        let out = q.cmd_timeout("run /bin/vmtest sysio /data/f16m 1 16", RUN);
        for n in [1, 16] {
            let bytes = n * 4096;
            q.expect_in(
                split,
                &out,
                &format!(
                    "sysio N={n}: read(file) into untouched +{n}/+0  read again +0/+0  \
                     write(file) from untouched +{n}/+0  user write after +{n}/+0 \
                     (minflt/majflt; returned {bytes} {bytes} {bytes})\n"
                ),
            );
        }
        q.verify_ok("after sysio");
        q.poweroff_ok();
    }
}

#[test]
fn efault_checks_pass_on_the_other_splits() {
    // qemu_process runs the hostile pointer checks on 2G; the accessors' access_ok and the
    // exception table must hold where TASK_SIZE and the kernel's addresses differ too.
    for split in ["3G", "1G"] {
        let mut q = boot(split);
        let out = q.cmd_timeout(&format!("run /bin/efault {split}"), RUN);
        let summary = q.line_with("efault", &out, "efault: ");
        assert!(summary.ends_with(" checks, 0 failed"), "{split}: {summary}");
        q.verify_ok("after efault");
        q.poweroff_ok();
    }
}
