//! Reclaim on the device (issue 13, item 5): the LRU lists hold every user page (the
//! meminfo and zoneinfo counters are the lists' live sizes), and a program that takes all
//! memory with no swap and nothing reclaimable gets kswapd and direct reclaim first, then
//! the OOM killer, and the kernel carries on with every list consistent (`verify` checks the
//! lists). The scan and steal counters stay at 0 there, as on Linux: without swap the anon
//! lists are not scanned and tmpfs pages cannot go. Reclaim that frees pages is covered by
//! the host tests (`mm::vmscan`) until swap and the card's page cache plug in
//! (`kernel::process::reclaim::{SwapOps, FileReclaimOps}`).
mod common;

use common::{meminfo_kb, Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host.
const RUN: Duration = Duration::from_secs(60);

/// The value of `name` in /proc/vmstat.
fn vmstat(q: &mut Qemu, name: &str) -> u64 {
    let out = q.cmd("cat /proc/vmstat");
    let line = q.line_with("/proc/vmstat", &out, &format!("{name} ")).to_string();
    line[name.len() + 1..]
        .trim()
        .parse()
        .unwrap_or_else(|_| q.fail(&format!("/proc/vmstat: cannot read {line:?}")))
}

/// The LRU lists in meminfo hold exactly the user pages: anonymous pages and tmpfs pages
/// (shmem, which lives on the anon lists); no disk page cache yet, so the file lists are
/// empty. Returns the anon lists' total in kB.
fn lru_matches_user_pages(q: &mut Qemu, when: &str) -> u64 {
    let mi = q.cmd("cat /proc/meminfo");
    let lru_anon = meminfo_kb(q, &mi, "Active(anon)") + meminfo_kb(q, &mi, "Inactive(anon)");
    let lru_file = meminfo_kb(q, &mi, "Active(file)") + meminfo_kb(q, &mi, "Inactive(file)");
    let user = meminfo_kb(q, &mi, "AnonPages") + meminfo_kb(q, &mi, "Shmem");
    if lru_anon != user || lru_file != 0 {
        q.fail(&format!(
            "{when}: anon LRU {lru_anon} kB, file LRU {lru_file} kB; AnonPages + Shmem {user} kB"
        ));
    }
    let active = meminfo_kb(q, &mi, "Active");
    let inactive = meminfo_kb(q, &mi, "Inactive");
    if active + inactive != lru_anon + lru_file {
        q.fail(&format!("{when}: Active + Inactive != the four lists"));
    }
    // zoneinfo's per-node counter is the same list, in pages.
    let zi = q.cmd("cat /proc/zoneinfo");
    let node: u64 = ["nr_inactive_anon", "nr_active_anon"]
        .iter()
        .map(|n| {
            let l = q.line_with("zoneinfo", &zi, &format!(" {n} "));
            l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap()
        })
        .sum();
    if node * 4 != lru_anon {
        q.fail(&format!("{when}: zoneinfo's anon lists {node} pages, meminfo {lru_anon} kB"));
    }
    lru_anon
}

/// Every page a program touches joins the anon lists and leaves them when it exits.
#[test]
fn lru_lists_hold_every_user_page_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs().append("norandmaps"));
    let idle = lru_matches_user_pages(&mut q, "at the prompt");
    // 512 pages mapped, 400 written (the 8 read map the zero page: not on a list).
    let pid = q.start_background("/bin/touch 512 400 8", "TOUCH holding", RUN);
    let busy = lru_matches_user_pages(&mut q, "while touch holds its pages");
    if busy < idle + 400 * 4 {
        q.fail(&format!("the lists grew by {} kB for 400 written pages", busy - idle));
    }
    q.verify_ok("with touch holding");
    q.cmd(&format!("kill -9 {pid}"));
    q.cmd_timeout("run /bin/vmtest anon 1", RUN);
    let after = lru_matches_user_pages(&mut q, "after touch exited");
    if after != idle {
        q.fail(&format!("{idle} kB on the anon lists before, {after} kB after"));
    }
    q.verify_ok("after touch exited");
    q.poweroff_ok();
}

/// No swap and nothing reclaimable: kswapd runs (`pageoutrun`), the fault's allocation
/// stalls in direct reclaim (`allocstall_movable`), neither scans anything, and only then
/// the OOM killer kills the program; the kernel and its lists are intact afterwards.
#[test]
fn a_memory_hog_without_swap_gets_reclaim_then_the_oom_killer_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").initramfs().append("norandmaps mem=96M mem=32M@0x08000000"),
    );
    let stalls = vmstat(&mut q, "allocstall_movable");
    let runs = vmstat(&mut q, "pageoutrun");
    let out = q.cmd_timeout("run /bin/membomb", RUN);
    q.expect_in("membomb", &out, "Out of memory: Killed process ");
    q.expect_in("membomb", &out, "Killed");
    if vmstat(&mut q, "allocstall_movable") <= stalls {
        q.fail("the OOM killer ran without direct reclaim first");
    }
    if vmstat(&mut q, "pageoutrun") <= runs {
        q.fail("kswapd never ran while memory ran out");
    }
    for name in ["pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct"] {
        let v = vmstat(&mut q, name);
        if v != 0 {
            q.fail(&format!("{name} {v}: nothing is reclaimable without swap"));
        }
    }
    lru_matches_user_pages(&mut q, "after the OOM kill");
    let out = q.cmd_timeout("run /bin/vmtest anon 4", RUN);
    q.expect_in("after membomb", &out, "anon N=4:");
    q.verify_ok("after membomb");
    q.poweroff_ok();
}
