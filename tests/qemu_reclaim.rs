//! Reclaim on the device (issue 13, item 5): the LRU lists hold every user page (the
//! meminfo and zoneinfo counters are the lists' live sizes), and a program that takes all
//! memory with no swap and nothing reclaimable gets kswapd and direct reclaim first, then
//! the OOM killer, and the kernel carries on with every list consistent (`verify` checks the
//! lists). The scan and steal counters stay at 0 there, as on Linux: without swap the anon
//! lists are not scanned and tmpfs pages cannot go. With the card's swap partition on and
//! RAM cut by `mem=`, `swapstress` takes about 1.5 times the free RAM: reclaim swaps its
//! pages out (and drops clean card pages), faults bring them back, every word is right, and
//! after it exits every slot is free and `verify` finds the lists, counters and swap counts
//! consistent. Several programs at once under the same pressure (two instances and a card
//! reader) lose nothing either. None of these runs prints a `might_sleep` report. With no swap,
//! a kernel allocation that may sleep and cannot reclaim invokes the OOM killer.
mod common;

use common::sd::{check_only_slots_cached, pressure_mib, tmpfs_swapped_kb, unlink_initramfs_data};
use common::{iowait_counts, meminfo_kb, shmswap_delta, shmswap_kb, swapstress_delta, Opts, Qemu};
use std::time::Duration;

/// One program's run: a few seconds alone, and the swap workloads (`swapstress` at 1.5x the
/// free RAM) most of a minute alone and several times that beside other QEMUs on 2 cores; a
/// hang still fails.
const RUN: Duration = Duration::from_secs(180);

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
/// (shmem, which lives on the anon lists); no card attached, so no disk page cache and the
/// file lists are empty. Returns the anon lists' total in kB.
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
    no_sleep_in_atomic(&q, "the whole run");
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
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// 64 MiB of RAM (the second bank keeps QEMU's initrd at 0x08000000 in RAM), about 36 MiB of
/// it free at the prompt; the card's 23 MiB swap partition.
const SMALL_RAM: &str = "mem=32M mem=32M@0x08000000";
/// The whole run's limit for the swap workloads on [`SMALL_RAM`]: about a minute of swapping
/// on an idle host, and a loaded one (other QEMUs on two cores) has needed several times
/// more, beyond the harness's default `RUN_LIMIT`.
const SWAP_RUN_LIMIT: Duration = Duration::from_secs(600);

/// Boots [`SMALL_RAM`] with the card (its QEMU monitor named `tag`) and turns its swap
/// partition on.
fn small_ram_with_swap(tag: &str) -> Qemu {
    small_ram_swapon(Opts::raw("2G").sd_card(), tag)
}

/// [`small_ram_with_swap`] on the 512 MiB card (471 MiB of swap), for a workload that the
/// 23 MiB swap cannot be sure to push out beside the rootfs's pages.
fn small_ram_with_big_swap(tag: &str) -> Qemu {
    small_ram_swapon(Opts::raw("2G").sd_card_512m(), tag)
}

fn small_ram_swapon(card: Opts, tag: &str) -> Qemu {
    let (mut q, _) =
        Qemu::boot_to_prompt(card.append(SMALL_RAM).initramfs().limit(SWAP_RUN_LIMIT).monitor(tag));
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    q
}

/// Direct reclaim stalls of every zone (`allocstall_*` in /proc/vmstat).
fn allocstalls(q: &mut Qemu) -> u64 {
    let out = q.cmd("cat /proc/vmstat");
    out.lines()
        .filter(|l| l.starts_with("allocstall_"))
        .filter_map(|l| l.split(' ').nth(1)?.trim().parse::<u64>().ok())
        .sum()
}

/// `swaptest N keep` (pid `pid`) is told to go on (SIGUSR1) and reads its pages back: every
/// word must be right.
fn kept_pattern_ok(q: &mut Qemu, pid: u32) {
    let mut out = q.cmd(&format!("kill -USR1 {pid}"));
    if !out.contains("PATTERN bad=") {
        out += &q.wait_for("PATTERN bad=", RUN).unwrap();
        out += &q.wait_for("\n", Duration::from_secs(5)).unwrap();
    }
    q.expect_in("pattern", &out, "PATTERN bad=0\n");
}

/// A kernel allocation reclaims as 6.1's `GFP_KERNEL` does: `swaptest` keeps three quarters
/// of the free memory resident (CMA off, so every free page can serve the kernel), then the
/// console, which holds no lock, asks `vmalloc` (order-0 `GFP_KERNEL` pages) for 4 MiB more
/// than is free. Its page allocations fall below the min watermark and, the caller being
/// preemptible, stall in direct reclaim (`allocstall_high`: vmalloc's mask has
/// `__GFP_HIGHMEM`, `pgscan_direct`), which swaps
/// the kept pages out (`pswpout`) until the area is whole; the program then reads every word
/// back. Before, the kernel's own allocations never reclaimed and `vmalloc` failed.
#[test]
fn a_kernel_allocation_that_may_sleep_reclaims_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(&format!("{SMALL_RAM} cma=0"))
            .sd_card()
            .initramfs()
            .limit(SWAP_RUN_LIMIT),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "CmaTotal"), 0, "cma=0");
    let n = meminfo_kb(&q, &mi, "MemFree") * 3 / 4 / 4;
    let pid = q.start_background(&format!("/bin/swaptest {n} keep"), "KEPT:", RUN);
    let free_kb = q.free_kb();
    let size = (free_kb + 4096) * 1024;
    let (stall0, scan0, out0) =
        (allocstalls(&mut q), vmstat(&mut q, "pgscan_direct"), vmstat(&mut q, "pswpout"));
    let out = q.cmd_timeout(&format!("vmalloc {size}"), RUN);
    let line = q.line_with("vmalloc", &out, &format!("vmalloc({size}) = ")).to_string();
    let (stalls, scanned, written) = (
        allocstalls(&mut q) - stall0,
        vmstat(&mut q, "pgscan_direct") - scan0,
        vmstat(&mut q, "pswpout") - out0,
    );
    eprintln!(
        "vmalloc of {} kB over {free_kb} kB free: allocstall +{stalls}, \
         pgscan_direct +{scanned}, pswpout +{written}",
        size / 1024
    );
    assert!(stalls > 0, "no direct reclaim for the kernel allocation");
    assert!(scanned > 0, "direct reclaim scanned nothing");
    assert!(written > 0, "nothing swapped out for the kernel allocation");
    let addr = line.rsplit(' ').next().unwrap_or("").trim();
    let out = q.cmd(&format!("vfree {addr}"));
    assert_eq!(out, "", "vfree printed {out:?}");
    kept_pattern_ok(&mut q, pid);
    q.verify_ok("after the kernel allocation's reclaim");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// Nothing lost under real memory pressure: reclaim (kswapd and direct) swaps anonymous pages
/// out to the card and drops clean card pages, swap-in faults them back, every word of every
/// page is right, and afterwards no slot is left in use and `verify` is clean.
#[test]
fn pages_swapped_out_under_pressure_come_back_intact_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(SMALL_RAM)
            .sd_card()
            .initramfs()
            .limit(SWAP_RUN_LIMIT)
            .monitor("intact"),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    // The free RAM, the rootfs's pages (which go to swap first) and half the swap left beside
    // them, and room in RAM + swap for it.
    let (free_kb, shmem_kb) = unlink_initramfs_data(&mut q);
    let mib = pressure_mib(free_kb, shmem_kb, swap_kb);
    assert!(mib * 1024 < free_kb + swap_kb, "{mib} MiB must fit in {free_kb} + {swap_kb} kB");
    let (out0, in0, steal_file0) =
        (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"), vmstat(&mut q, "pgsteal_file"));
    // Run from the card, so its own text is a clean card page reclaim may drop.
    let out = q.cmd_timeout(&format!("run /boot/bin/swapstress -m {mib}"), RUN);
    q.expect_in("swapstress", &out, &format!("ok: every word of {} pages right", mib * 256));
    let reread = q.line_with("swapstress", &out, "re-read pass 1:").to_string();
    if !reread.contains(" bad=0 ") {
        q.fail(&format!("words wrong: {reread}"));
    }
    assert!(swapstress_delta(&q, &reread, "majflt") > 0, "no major faults reading back: {out}");
    assert!(swapstress_delta(&q, &reread, "pswpin") > 0, "nothing swapped in: {out}");
    let vmswap = q.line_with("swapstress", &out, "VmSwap:").to_string();
    assert!(!vmswap.trim_end().ends_with(" 0 kB"), "nothing in swap while held: {vmswap}");
    assert!(vmstat(&mut q, "pswpout") > out0, "nothing swapped out");
    assert!(vmstat(&mut q, "pswpin") > in0, "nothing swapped in");
    assert!(vmstat(&mut q, "pgsteal_anon") > 0, "reclaim stole no anon page");
    let steal_file = vmstat(&mut q, "pgsteal_file") - steal_file0;
    check_only_slots_cached(&mut q, swap_kb, "after swapstress under pressure");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "AnonPages"), 0);
    eprintln!("pressure run: {mib} MiB over {free_kb} kB free, {swap_kb} kB swap; card pages dropped {steal_file}");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// Several programs at once under memory pressure, nothing lost: two `swapstress` instances
/// (one parent forking both, together 1.5 times the free RAM and the rootfs's pages without
/// the initramfs's data file, on the 512 MiB card's swap, two read-back passes) swap against
/// each other while a
/// third program maps and checks a file from the card (its cache dropped first) and then runs
/// again. Every word and byte comes back right, swap was used both ways, and once all have
/// exited every slot is free and `verify` is clean (each task's stack end included: an
/// overflowing kernel stack once wrote over the next task's registers here).
#[test]
fn several_programs_under_pressure_lose_nothing_2g() {
    let mut q = small_ram_with_big_swap("several");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    // Together 1.5 times what reclaim can take (the free RAM and the rootfs's pages, which
    // go first), on the big swap: with the 23 MiB one the margin left (a few MiB over what
    // reclaim took from the rootfs and the card's cache) once made no anonymous page go out
    // (`pswpout` +2760, all rootfs pages, `pswpin` +0).
    let (free_kb, shmem_kb) = unlink_initramfs_data(&mut q);
    let mib = (free_kb + shmem_kb) * 3 / 4 / 1024;
    let (out0, in0) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    // Two read-back passes: a page reclaim wrote stays in the swap cache until its next scan,
    // so with the pressure this small swap allows, one re-read could find every page out
    // still cached (no `pswpin`: seen once in a `make test`); the second re-reads what the
    // first pushed out.
    let pid = q.start_background(
        &format!("/boot/bin/swapstress -j 2 -m {mib} -p 2"),
        &format!("swapstress M={mib} [2] {mib} MiB anonymous"),
        RUN,
    );
    // The card reader runs twice while both instances swap.
    for _ in 0..2 {
        let out = q.cmd_timeout(&format!("run /boot/bin/cardmap -d {F16M} private 256"), RUN);
        q.expect_in("cardmap", &out, "pattern ok");
    }
    // Both instances finish; `ps` reaps the job and reports it as a shell would.
    let done = format!("[{pid}] Done");
    let until = std::time::Instant::now() + RUN;
    loop {
        let ps = q.cmd("ps");
        // Reported by `ps`, or at a prompt already if it ended during a cardmap run.
        if ps.contains(&done) || q.transcript().contains(&format!("\n{done}\n")) {
            break;
        }
        if ["Exit", "Killed", "Segmentation fault"]
            .iter()
            .any(|w| ps.contains(&format!("[{pid}] {w}")))
        {
            q.fail(&format!("swapstress (pid {pid}) failed:\n{ps}"));
        }
        if std::time::Instant::now() > until {
            q.fail(&format!("swapstress (pid {pid}) did not finish"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Their lines came out between the commands.
    let seen = q.transcript();
    for i in 1..=2 {
        let tag = format!("swapstress M={mib} [{i}]");
        let pages = mib * 256;
        q.expect_in("swapstress", &seen, &format!("{tag} ok: every word of {pages} pages right"));
        for pass in 1..=2 {
            let reread = q.line_with("swapstress", &seen, &format!("{tag} re-read pass {pass}:"));
            if !reread.contains(" bad=0 ") {
                q.fail(&format!("words wrong: {reread}"));
            }
        }
    }
    let (out1, in1) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    eprintln!(
        "several programs: 2 x {mib} MiB over {free_kb} kB free and {shmem_kb} kB Shmem, \
         {swap_kb} kB swap: pswpout +{}, pswpin +{}",
        out1 - out0,
        in1 - in0
    );
    if out1 == out0 || in1 == in0 {
        q.fail(&format!(
            "swap not used both ways: pswpout +{}, pswpin +{}",
            out1 - out0,
            in1 - in0
        ));
    }
    check_only_slots_cached(&mut q, swap_kb, "after several programs under pressure");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "AnonPages"), 0);
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// The card's 16 MiB pattern file (every byte of page i is i mod 256).
const F16M: &str = "/boot/data/f16m";

/// The `+MIN/+MAJ` fault delta at the end of a `bigread` round's line, summed.
fn bigread_faults(q: &Qemu, line: &str) -> u64 {
    let delta = line.rsplit(" faults +").next().unwrap_or("");
    let (min, maj) = delta.trim().split_once("/+").unwrap_or_else(|| q.fail(line));
    min.parse::<u64>().unwrap_or_else(|_| q.fail(line))
        + maj.parse::<u64>().unwrap_or_else(|_| q.fail(line))
}

/// Checks `bigread`'s two rounds in `out` (`read()`, then `pread64()`): each returned all
/// `bytes`, every byte right, and with `faulted` each fresh buffer page faulted once (a few
/// more for the program's own pages reclaim swapped out); and the kernel did not panic.
fn bigread_rounds_ok(q: &Qemu, out: &str, what: &str, bytes: u64, faulted: bool) {
    if out.contains("memory allocation of") || out.contains("panicked") {
        q.fail(&format!("the kernel panicked in bigread's read of {what}"));
    }
    for (round, call) in [(1, "read"), (2, "pread")] {
        let line = q.line_with("bigread", out, &format!("bigread round {round} {call}"));
        if !line.contains(&format!(": {bytes} of {bytes} bytes, bad=0,")) {
            q.fail(&format!("bigread's {call}() of {what} under pressure: {line}"));
        }
        let (faults, pages) = (bigread_faults(q, line), bytes / 4096);
        if faulted && !(pages..=pages + 16).contains(&faults) {
            q.fail(&format!("{call}(): {faults} faults for {pages} fresh pages: {line}"));
        }
    }
    q.expect_in("bigread", out, "bigread ok");
}

/// A system call's user copy that finds no free page reclaims and goes on, as 6.1's fault
/// allocation reclaims: `swaptest` holds three quarters of the free memory, then the console
/// runs `bigread` from the card (exec under that pressure, the CI case of `run
/// /boot/bin/cardmap: Bad address`), which reads the initramfs's 16 MiB pattern file (tmpfs)
/// in one `read()` and then one `pread64()`, each into a fresh 16 MiB buffer: every buffer
/// page is faulted in by the call's copy, far more than is free, and nothing else runs
/// during the call to free memory. Each call returns all 16 MiB, every byte right (before, the copy's fault failed at
/// the min watermark and the call came back short or with `EFAULT`), each buffer page's
/// fault counted once for the task (`mm_account_fault`: the attempt that found no page is
/// not counted when the retry after reclaim succeeds), direct reclaim ran
/// (`allocstall_*`), the holder's pages come back right, and `verify` is clean.
#[test]
fn a_system_calls_copy_that_finds_no_free_page_reclaims_2g() {
    const PAGES: u64 = 4096;
    let (mut q, n, pid) = hold_memory_with_swap();
    let stall0 = allocstalls(&mut q);
    let out = q.cmd_timeout("run /boot/bin/bigread /data/f16m 2", RUN);
    bigread_rounds_ok(&q, &out, "/data/f16m", PAGES * 4096, true);
    let stalls = allocstalls(&mut q) - stall0;
    eprintln!("bigread under pressure (swaptest holding {n} pages): allocstall +{stalls}\n{out}");
    assert!(stalls > 0, "no direct reclaim for the copies");
    kept_pattern_ok(&mut q, pid);
    q.verify_ok("after the copies' reclaim");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// A card file's large `read()` copies page by page from the page cache, never through a
/// kernel buffer of the request's size, as 6.1's `filemap_read` copies each folio: under the
/// same pressure (`swaptest` holding three quarters of the free memory), `bigread` reads the
/// card's 16 MiB pattern file in one `read()` and one `pread64()` into fresh 16 MiB buffers;
/// each returns all 16 MiB, every byte right, each buffer page faulted once, and the kernel
/// does not panic (before: a 16 MiB kernel buffer built under the namespace's lock, and
/// "memory allocation of 16777216 bytes failed"; a short read when the page cache found no
/// free frame, now reclaimed for as the copy's faults are); the holder's pages come back
/// right and `verify` is clean. Then the same of 8 MiB of the block device file
/// `/dev/mmcblk0p1`, checked against the device read again a page at a time.
#[test]
fn a_large_card_file_read_under_pressure_copies_page_by_page_2g() {
    const PAGES: u64 = 4096;
    let (mut q, n, pid) = hold_memory_with_swap();
    let out = q.cmd_timeout(&format!("run /bin/bigread {F16M} 2"), RUN);
    bigread_rounds_ok(&q, &out, F16M, PAGES * 4096, true);
    eprintln!("bigread of {F16M} under pressure (swaptest holding {n} pages)\n{out}");
    kept_pattern_ok(&mut q, pid);
    q.verify_ok("after the card file's large reads");
    // The same of the card's first partition (its device file): 8 MiB in one read() and one
    // pread64(), checked against the device read again a page at a time (swap is nearly
    // full by now: the OOM killer may take the holder, as 6.1's would).
    let out =
        q.cmd_timeout(&format!("run /boot/bin/bigread /dev/mmcblk0p1 2 {}", PAGES * 4096 / 2), RUN);
    bigread_rounds_ok(&q, &out, "/dev/mmcblk0p1", PAGES * 4096 / 2, false);
    eprintln!("bigread of /dev/mmcblk0p1 under pressure\n{out}");
    q.verify_ok("after the block device's large reads");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// A system call's copy whose fault reclaim cannot help invokes the OOM killer, as 6.1's fault
/// allocation does in its slow path, and goes on once the victim has exited: with no swap,
/// `swaptest` holds three quarters of the free memory and `bigread` reads the initramfs's
/// 16 MiB file into a fresh buffer in one `read()`; nothing is reclaimable (tmpfs and
/// anonymous pages without swap), so the OOM killer runs for the copy's fault's allocation
/// (`bigread invoked oom-killer`, the fault's mask), kills the larger holder, and the read
/// returns all 16 MiB, every byte right (before: a short read).
#[test]
fn a_system_calls_copy_reclaim_cannot_help_invokes_the_oom_killer_2g() {
    let (mut q, _, pid) = hold_memory_without_swap("");
    let kills = vmstat(&mut q, "oom_kill");
    let out = q.cmd_timeout("run /bin/bigread /data/f16m 1", RUN);
    q.expect_in(
        "oom header",
        &out,
        "bigread invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), \
         order=0, oom_score_adj=0\n",
    );
    q.expect_in(
        "oom report",
        &out,
        &format!(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=swaptest,pid={pid},uid=0\n"
        ),
    );
    killed_line(&q, &out, pid, "swaptest");
    let line = q.line_with("bigread", &out, "bigread round 1 read");
    eprintln!("{}\n{line}", q.line_with("oom", &out, "Out of memory: Killed process"));
    if !line.contains(&format!(": {0} of {0} bytes, bad=0,", 16 << 20)) {
        q.fail(&format!("bigread's read() after the OOM kill: {line}"));
    }
    q.expect_in("bigread", &out, "bigread ok");
    assert_eq!(vmstat(&mut q, "oom_kill"), kills + 1, "one process killed");
    q.verify_ok("after the OOM kill for a system call's copy");
    no_sleep_in_atomic(&q, "the OOM run");
    q.poweroff_ok();
}

/// Field `n` (1-based, as proc(5) numbers them) of `/proc/PID/stat`.
fn stat_field(q: &mut Qemu, pid: u32, n: usize) -> u64 {
    let out = q.cmd(&format!("cat /proc/{pid}/stat"));
    let line = q.line_with("stat", &out, &format!("{pid} (")).to_string();
    // Fields after the comm's closing parenthesis start at 3 (the state).
    let rest = line.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace()
        .nth(n - 3)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("/proc/{pid}/stat field {n}: {line:?}")))
}

/// A value of `/proc/PID/status`.
fn status_value(q: &mut Qemu, pid: u32, key: &str) -> u64 {
    let out = q.cmd(&format!("cat /proc/{pid}/status"));
    let line = q.line_with("status", &out, &format!("{key}:")).to_string();
    line[key.len() + 1..]
        .trim()
        .parse()
        .unwrap_or_else(|_| q.fail(&format!("/proc/{pid}/status: {line:?}")))
}

/// A program waiting for the card sleeps, with no lock held, while the others run (issue 13:
/// "the faulting task sleeps and other tasks run while the card works"). A CPU-bound `spin`
/// runs throughout; `cardmap` maps a card file after `drop_caches` (its major faults each
/// wait for a read) and checks every byte; `swapstress` under memory pressure swaps its pages
/// out and back (each swap-in a major fault): each wait is a sleep
/// (`voluntary_ctxt_switches`, counted when a task leaves the CPU asleep), spin's CPU time
/// grows meanwhile, nothing is lost and every slot is free afterwards.
#[test]
fn a_task_waiting_for_the_card_sleeps_while_others_run_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(SMALL_RAM)
            .sd_card()
            .initramfs()
            .limit(SWAP_RUN_LIMIT)
            .monitor("cardsleep"),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    let spin = q.start_background("/bin/spin", "spinning until killed", RUN);
    let utime0 = stat_field(&mut q, spin, 14);
    let out = q.cmd_timeout(&format!("run /boot/bin/cardmap -d {F16M} private 256"), RUN);
    q.expect_in("cardmap", &out, "pattern ok");
    let (free_kb, shmem_kb) = unlink_initramfs_data(&mut q);
    let mib = pressure_mib(free_kb, shmem_kb, swap_kb);
    let pid = q.start_background(
        &format!("/boot/bin/swapstress -m {mib} -p 2"),
        &format!("swapstress M={mib} {mib} MiB"),
        RUN,
    );
    q.wait_for("re-read pass 1:", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    q.wait_for(" ns", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    let seen = q.transcript();
    let reread = q.line_with("swapstress", &seen, "re-read pass 1:").to_string();
    let majflt = swapstress_delta(&q, &reread, "majflt");
    // The second pass is running: every major fault of the first waited asleep (a few of the
    // program's own text pages may be read ahead without a wait).
    let nvcsw = status_value(&mut q, pid, "voluntary_ctxt_switches");
    assert!(majflt > 0 && nvcsw * 2 > majflt, "{nvcsw} sleeps for {majflt} major faults");
    let utime1 = stat_field(&mut q, spin, 14);
    assert!(utime1 > utime0, "spin did not run: utime {utime0} -> {utime1}");
    q.wait_for(&format!("swapstress M={mib} ok:"), RUN).unwrap_or_else(|f| panic!("{f:?}"));
    q.wait_for("right", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    let seen = q.transcript();
    for pass in 1..=2 {
        let l = q.line_with("swapstress", &seen, &format!("re-read pass {pass}:")).to_string();
        if !l.contains(" bad=0 ") {
            q.fail(&format!("words wrong: {l}"));
        }
    }
    q.expect_in("swapstress", &seen, &format!("ok: every word of {} pages right", mib * 256));
    q.cmd(&format!("kill -9 {spin}"));
    std::thread::sleep(Duration::from_millis(500));
    check_only_slots_cached(&mut q, swap_kb, "after waits for the card beside a running program");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// kswapd0 writes to swap with the task table free while another program runs (issue 13):
/// a CPU-bound `spin` runs throughout while a memory hog (`swapstress`, 1.5x the free RAM)
/// makes kswapd reclaim to swap. Counted, not timed: kswapd's context switches (asleep for a
/// write, or preempted at a `cond_resched` with its writes in flight) outnumber what its
/// loop between two `balance_pgdat` runs (`pageoutrun`) can account for, so it gave the CPU
/// up in the middle of its runs; spin's CPU time grows meanwhile; `pgscan_kswapd` and
/// `pgsteal_kswapd` move; every word comes back right and nothing is lost once both have
/// gone and swap is off.
#[test]
fn kswapd_writes_to_swap_while_another_program_runs_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(SMALL_RAM)
            .sd_card()
            .initramfs()
            .limit(SWAP_RUN_LIMIT)
            .monitor("kswapd"),
    );
    let before = q.memory_snapshot();
    let mi = q.cmd("cat /proc/meminfo");
    let free_kb = meminfo_kb(&q, &mi, "MemFree");
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let spin = q.start_background("/bin/spin", "spinning until killed", RUN);
    let utime0 = stat_field(&mut q, spin, 14);
    let nvcsw0 = status_value(&mut q, 2, "voluntary_ctxt_switches");
    let nivcsw0 = status_value(&mut q, 2, "nonvoluntary_ctxt_switches");
    let (runs0, scan0, steal0) = (
        vmstat(&mut q, "pageoutrun"),
        vmstat(&mut q, "pgscan_kswapd"),
        vmstat(&mut q, "pgsteal_kswapd"),
    );
    let out0 = vmstat(&mut q, "pswpout");
    let mib = free_kb * 3 / 2 / 1024;
    let out = q.cmd_timeout(&format!("run /bin/swapstress -m {mib}"), RUN);
    q.expect_in("swapstress", &out, &format!("ok: every word of {} pages right", mib * 256));
    let reread = q.line_with("swapstress", &out, "re-read pass 1:").to_string();
    if !reread.contains(" bad=0 ") {
        q.fail(&format!("words wrong: {reread}"));
    }
    let runs = vmstat(&mut q, "pageoutrun") - runs0;
    let scanned = vmstat(&mut q, "pgscan_kswapd") - scan0;
    let stolen = vmstat(&mut q, "pgsteal_kswapd") - steal0;
    let written = vmstat(&mut q, "pswpout") - out0;
    let nvcsw = status_value(&mut q, 2, "voluntary_ctxt_switches") - nvcsw0;
    let nivcsw = status_value(&mut q, 2, "nonvoluntary_ctxt_switches") - nivcsw0;
    let utime1 = stat_field(&mut q, spin, 14);
    eprintln!(
        "kswapd: {runs} runs, {scanned} scanned, {stolen} stolen, {nvcsw} sleeps, {nivcsw} preempted; \
         {written} pages written; spin utime {utime0} -> {utime1}"
    );
    assert!(
        runs > 0 && scanned > 0 && stolen > 0,
        "kswapd did not reclaim: {runs} {scanned} {stolen}"
    );
    assert!(written > 0, "nothing written to swap");
    // Between two runs kswapd leaves the CPU at most three times (two sleeps on its queue,
    // one cond_resched); every other switch happened in the middle of a run, with its
    // writes in flight and the task table free, and another task got the CPU.
    assert!(
        nvcsw + nivcsw > 3 * (runs + 1),
        "kswapd left the CPU {nvcsw}+{nivcsw} times for {runs} runs: never during one"
    );
    assert!(utime1 > utime0, "spin did not run: utime {utime0} -> {utime1}");
    q.cmd(&format!("kill -9 {spin}"));
    q.cmd_until("ps", &format!("[{spin}] Killed"));
    let out = q.cmd("swapoff /dev/mmcblk0p2");
    assert!(!out.contains("swapoff:"), "{out}");
    q.verify_ok("after kswapd's writes beside a running program");
    // The slab keeps the partial slabs the workload's bios and swap cache grew (about
    // 100 kB; the same after a second and third run: retained, not leaked).
    q.assert_nothing_lost("after kswapd's writes beside a running program", &before, 128);
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// `/proc/diskstats`' (reads, reads merged, writes, writes merged) of `dev`.
fn diskstats(q: &mut Qemu, dev: &str) -> [u64; 4] {
    let out = q.cmd("cat /proc/diskstats");
    let line = q.line_with("/proc/diskstats", &out, &format!(" {dev} ")).to_string();
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse().unwrap_or_else(|_| q.fail(&format!("diskstats: {line:?}"))))
        .collect();
    [f[0], f[1], f[4], f[5]]
}

/// Swap I/O in batches with several programs at once: three `swapstress` instances (twice the
/// free RAM and the rootfs's pages together, on the card with 471 MiB of swap, two passes
/// each, `page-cluster` 3) fault against each
/// other, so swap read-ahead's windows (their reads merged while the card is busy) and
/// reclaim's batches of writes (one plug per `shrink_folio_list`: neighbouring slots as one
/// request) run while other programs' pages are under writeback, in flight or being read.
/// Every word of every page is right in both passes; then two programs push 8 MiB each out
/// with `MADV_PAGEOUT` (its writes plugged, waited for with the task table free) and read it
/// back right. The card's partition counts merged reads and merged writes, and afterwards
/// every slot is free and `verify` is clean.
#[test]
fn swap_io_in_batches_loses_nothing_with_several_programs_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(SMALL_RAM)
            .sd_card_512m()
            .initramfs()
            .limit(SWAP_RUN_LIMIT)
            .monitor("batches"),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    // Twice what reclaim can take, the free RAM and the rootfs's pages (which go to swap
    // first), on the card with 471 MiB of swap: the instances do not all run at once, and
    // the 23 MiB swap could not hold the rootfs and enough of their pages for their re-reads
    // to read ahead and merge.
    let (free_kb, shmem_kb) = (meminfo_kb(&q, &mi, "MemFree"), meminfo_kb(&q, &mi, "Shmem"));
    let mib = (free_kb + shmem_kb) * 2 / 1024 / 3;
    let before = diskstats(&mut q, "mmcblk0p2");
    let out = q.cmd_timeout(&format!("run /bin/swapstress -j 3 -m {mib} -p 2 -c 3"), RUN);
    q.expect_in("swapstress", &out, "swapstress: page-cluster 3");
    for i in 1..=3 {
        let tag = format!("swapstress M={mib} [{i}]");
        q.expect_in(
            "swapstress",
            &out,
            &format!("{tag} ok: every word of {} pages right", mib * 256),
        );
        for pass in 1..=2 {
            let l =
                q.line_with("swapstress", &out, &format!("{tag} re-read pass {pass}:")).to_string();
            if !l.contains(" bad=0 ") {
                q.fail(&format!("words wrong: {l}"));
            }
        }
    }
    q.expect_in("swapstress", &out, "swapstress: 3 instances, 0 failed");
    // MADV_PAGEOUT's writes go under a plug too, and are waited for with the table free:
    // two programs push 8 MiB each out at once and read it back.
    let out = q.cmd_timeout("run /bin/swapstress -j 2 -m 8 -o", RUN);
    for i in 1..=2 {
        let tag = format!("swapstress M=8 [{i}]");
        let l = q.line_with("swapstress", &out, &format!("{tag} pageout:")).to_string();
        assert!(swapstress_delta(&q, &l, "pswpout") > 0, "nothing paged out: {l}");
        q.expect_in("swapstress", &out, &format!("{tag} ok: every word of 2048 pages right"));
    }
    q.expect_in("swapstress", &out, "swapstress: 2 instances, 0 failed");
    let after = diskstats(&mut q, "mmcblk0p2");
    let [reads, rmerged, writes, wmerged] = [0, 1, 2, 3].map(|i| after[i] - before[i]);
    if reads == 0 || writes == 0 {
        q.fail(&format!("no swap I/O: {before:?} -> {after:?}"));
    }
    if rmerged == 0 || wmerged == 0 {
        q.fail(&format!("reads merged {rmerged}, writes merged {wmerged} (read-ahead's window, reclaim's plug): {before:?} -> {after:?}"));
    }
    check_only_slots_cached(&mut q, swap_kb, "after three programs swapping under plugs");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "AnonPages"), 0);
    eprintln!(
        "swap in batches: 3 x {mib} MiB over {free_kb} kB free: {reads} read requests (+{rmerged} merged bios), {writes} write requests (+{wmerged} merged)"
    );
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// The log of a whole run has no `might_sleep` report: nothing the kernel did slept, or made
/// an allocation that may sleep, with a lock held or interrupts off.
fn no_sleep_in_atomic(q: &Qemu, when: &str) {
    if q.transcript().contains("BUG: sleeping function called from invalid context") {
        q.fail(&format!("{when}: a might_sleep report"));
    }
}

/// Boots [`SMALL_RAM`] with the card's swap partition on and starts `swaptest N keep`, which
/// holds three quarters of the free memory: the console, N (pages) and the holder's pid.
fn hold_memory_with_swap() -> (Qemu, u64, u32) {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").append(SMALL_RAM).sd_card().initramfs().limit(SWAP_RUN_LIMIT),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    let n = meminfo_kb(&q, &mi, "MemFree") * 3 / 4 / 4;
    let pid = q.start_background(&format!("/bin/swaptest {n} keep"), "KEPT:", RUN);
    (q, n, pid)
}

/// Boots [`SMALL_RAM`] (and `extra`) without swap and starts `swaptest N keep`, which holds
/// three quarters of the free memory: the console, N (pages) and the holder's pid.
fn hold_memory_without_swap(extra: &str) -> (Qemu, u64, u32) {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .append(&format!("norandmaps {SMALL_RAM}{extra}"))
            .initramfs()
            .limit(SWAP_RUN_LIMIT),
    );
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "SwapTotal"), 0, "no swap");
    let n = meminfo_kb(&q, &mi, "MemFree") * 3 / 4 / 4;
    let pid = q.start_background(&format!("/bin/swaptest {n} keep"), "KEPT:", RUN);
    (q, n, pid)
}

/// The fields of an `Out of memory: Killed process PID (NAME) ...` line, in kB, checked
/// against 6.1's `__oom_kill_process` format: total-vm, anon-rss, file-rss, shmem-rss,
/// pgtables.
fn killed_line(q: &Qemu, out: &str, pid: u32, name: &str) -> [u64; 5] {
    let prefix = format!("Out of memory: Killed process {pid} ({name}) total-vm:");
    let line = q.line_with("oom", out, &prefix);
    let rest = &line[line.find(&prefix).unwrap() + prefix.len()..];
    let mut v = [0u64; 5];
    let mut s = rest;
    for (i, unit) in [
        "kB, anon-rss:",
        "kB, file-rss:",
        "kB, shmem-rss:",
        "kB, UID:0 pgtables:",
        "kB oom_score_adj:0",
    ]
    .iter()
    .enumerate()
    {
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        let after = &s[digits.len()..];
        if digits.is_empty() || !after.starts_with(unit) {
            q.fail(&format!("not 6.1's OOM kill line: {line:?}"));
        }
        v[i] = digits.parse().unwrap();
        s = &after[unit.len()..];
    }
    if !s.trim().is_empty() {
        q.fail(&format!("trailing text after oom_score_adj: {line:?}"));
    }
    v
}

/// Issue 13, item 5: with no swap, a kernel allocation that may sleep (the console's
/// `vmalloc`, order-0 `GFP_KERNEL | __GFP_HIGHMEM | __GFP_NOWARN` pages, asked for 4 MiB more than is free
/// while `swaptest` keeps three quarters of the free memory) reclaims, finds nothing it can
/// free, and when `should_reclaim_retry` gives up invokes the OOM killer as 6.1's slow path
/// does (`__alloc_pages_may_oom`): the report names the console's task and the allocation,
/// shows `Mem-Info:` and the task table, kills `swaptest` with 6.1's line, waits for it to
/// exit and retries: the vmalloc then completes, and the kernel carries on with `verify`
/// clean. Before, the allocation failed without the OOM killer.
#[test]
fn a_kernel_allocation_reclaim_cannot_help_invokes_the_oom_killer_2g() {
    let (mut q, n, pid) = hold_memory_without_swap(" cma=0");
    let kills = vmstat(&mut q, "oom_kill");
    let size = (q.free_kb() + 4096) * 1024;
    let out = q.cmd_timeout(&format!("vmalloc {size}"), RUN);
    q.expect_in(
        "oom header",
        &out,
        "swapper/0 invoked oom-killer: gfp_mask=0x2cc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN), \
         order=0, \
         oom_score_adj=0\n",
    );
    for needle in [
        "CPU: 0 PID: 0 Comm: swapper/0 Not tainted",
        "Mem-Info:\n",
        "Tasks state (memory values in pages):\n",
        &format!(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=swaptest,pid={pid},uid=0\n"
        ),
    ] {
        q.expect_in("oom report", &out, needle);
    }
    let [total_vm, anon, _file, _shmem, _pgtables] = killed_line(&q, &out, pid, "swaptest");
    if anon < n * 4 || total_vm < anon {
        q.fail(&format!("swaptest kept {n} pages: total-vm {total_vm} kB, anon-rss {anon} kB"));
    }
    let line = q.line_with("vmalloc", &out, &format!("vmalloc({size}) = ")).to_string();
    assert_eq!(vmstat(&mut q, "oom_kill"), kills + 1, "one process killed");
    let addr = line.rsplit(' ').next().unwrap_or("").trim();
    let out = q.cmd(&format!("vfree {addr}"));
    assert_eq!(out, "", "vfree printed {out:?}");
    let ps = q.cmd("ps -e");
    if ps.contains("swaptest") {
        q.fail("the OOM victim is still there");
    }
    q.verify_ok("after the OOM kill for a kernel allocation");
    no_sleep_in_atomic(&q, "the OOM run");
    q.poweroff_ok();
}

/// Where `crash atomic-sleep` calls `vmalloc` under its lock: (file, line, column), read from
/// the source the kernel was built from.
fn atomic_sleep_call_site() -> (&'static str, usize, usize) {
    const FILE: &str = "src/console/commands/system.rs";
    const CALL: &str = "vmalloc::vmalloc(crate::mm::PAGE_SIZE, caller)";
    let src = std::fs::read_to_string(FILE).expect("the command's source");
    let mut sites = src.lines().enumerate().filter_map(|(i, l)| l.find(CALL).map(|c| (i, c)));
    let (i, c) = sites.next().expect("crash atomic-sleep's vmalloc call");
    assert!(sites.next().is_none(), "one such call");
    (FILE, i + 1, c + 1)
}

/// `might_sleep`: `crash atomic-sleep` makes a `GFP_KERNEL` vmalloc while holding a spin lock;
/// the kernel prints 6.1's `__might_resched` report (the site: the command's call of
/// `vmalloc`, not a line inside it; `in_atomic(): 1`, the task,
/// `preempt_count: 1, expected: 0`, the `CPU:` line), once for the site however often it is
/// reached, and carries on. The boot and the commands before it print none.
#[test]
fn sleeping_where_one_must_not_is_reported_once_per_site_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs());
    q.cmd_timeout("run /bin/vmtest anon 4", RUN);
    no_sleep_in_atomic(&q, "boot and a program");
    let out = q.cmd("crash atomic-sleep");
    // The site is the command's own vmalloc call, as `__might_sleep(__FILE__, __LINE__)`
    // names its caller: not a line inside vmalloc.
    let (file, line, column) = atomic_sleep_call_site();
    q.expect_in(
        "might_sleep",
        &out,
        &format!(
            "BUG: sleeping function called from invalid context at {file}:{line}\n\
             in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 0, name: swapper/0\n\
             preempt_count: 1, expected: 0\nCPU: 0 PID: 0 Comm: swapper/0 Not tainted "
        ),
    );
    q.expect_in("might_sleep", &out, &format!("\nCall trace:\n {file}:{line}:{column}\n"));
    if out.matches("BUG:").count() != 1 {
        q.fail(&format!("one report expected for the one site: {out:?}"));
    }
    let again = q.cmd("crash atomic-sleep");
    if again.contains("BUG:") {
        q.fail(&format!("the same site reported twice: {again:?}"));
    }
    q.verify_ok("after the atomic sleeps");
    let out = q.cmd_timeout("run /bin/vmtest anon 4", RUN);
    q.expect_in("after", &out, "anon N=4:");
    // Not `poweroff_ok`, which fails on the report this test provoked.
    let status = q.poweroff();
    if status.code() != Some(0) {
        q.fail(&format!("poweroff: exit status {status}"));
    }
}

/// Shared anonymous memory goes to swap under pressure, as 6.1's `shmem_writepage` sends it,
/// and comes back on the next fault (`shmem_swapin_folio`, a major fault): `shmswap` maps
/// 1.25 times the free RAM `MAP_SHARED|MAP_ANONYMOUS`, writes every page, forks a child that
/// reads every word and writes its own pattern, and the parent reads the child's words back.
/// While held, the object's pages in swap are smaps' `Swap:` of its VMA (`shmem_swap_usage`)
/// and out of `RssShmem`; `VmSwap` counts swap PTEs only (the object's PTEs are cleared, not
/// made swap entries: only the program's own few private pages count there). Afterwards every slot is free, `Shmem` is back, and `verify`
/// checks the slot counts with the shmem index's references. Before shmem swap, reclaim
/// activated the object's pages and the program was killed by the OOM killer.
#[test]
fn shared_anonymous_memory_goes_to_swap_and_comes_back_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").append(SMALL_RAM).sd_card().initramfs().limit(SWAP_RUN_LIMIT),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    let (free_kb, shmem_idle) = unlink_initramfs_data(&mut q);
    let mib = pressure_mib(free_kb, shmem_idle, swap_kb);
    assert!(mib * 1024 < free_kb + swap_kb, "{mib} MiB must fit in {free_kb} + {swap_kb} kB");
    let (out0, in0) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    let out = q.cmd_timeout(&format!("run /bin/shmswap -m {mib}"), RUN);
    q.expect_in("shmswap", &out, "SHMSWAP ok: every word right\n");
    q.expect_in("shmswap", &out, "SHMSWAP child exited 0\n");
    // The write pass itself pushed the object's first pages out.
    assert!(shmswap_delta(&q, &out, "write pass", "pswpout") > 0, "nothing written out: {out}");
    let swapped = shmswap_kb(&q, &out, "Swap");
    let rss_shmem = shmswap_kb(&q, &out, "RssShmem");
    // RssShmem also counts the program's own text and data (tmpfs pages of the rootfs).
    if swapped == 0 || swapped > mib * 1024 || rss_shmem >= mib * 1024 {
        q.fail(&format!(
            "{mib} MiB mapped: smaps Swap {swapped} kB, RssShmem {rss_shmem} kB\n{out}"
        ));
    }
    // VmSwap is MM_SWAPENTS: the program's own anonymous pages in swap, not the object's.
    let vm_swap = shmswap_kb(&q, &out, "VmSwap");
    if vm_swap * 4 > swapped {
        q.fail(&format!("VmSwap {vm_swap} kB counts shmem pages (smaps Swap {swapped} kB)\n{out}"));
    }
    // The child's reads brought pages back from the card: major faults, pswpin.
    assert!(shmswap_delta(&q, &out, "child read", "majflt") > 0, "no major fault: {out}");
    assert!(shmswap_delta(&q, &out, "child read", "pswpin") > 0, "nothing read in: {out}");
    shmswap_delta(&q, &out, "parent read", "majflt");
    assert!(vmstat(&mut q, "pswpout") > out0 && vmstat(&mut q, "pswpin") > in0);
    check_only_slots_cached(&mut q, swap_kb, "after shmswap under pressure");
    let mi = q.cmd("cat /proc/meminfo");
    let shmem = meminfo_kb(&q, &mi, "Shmem");
    assert!(shmem <= shmem_idle, "Shmem {shmem} kB after the run, {shmem_idle} kB before");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// `swapoff` brings a held shmem object's pages back (`shmem_unuse`): `shmswap` holds 12 MiB
/// shared anonymous while `swapstress` pushes it out (the initramfs's data file unlinked
/// first; the rootfs's pages go too), smaps shows the VMA's
/// `Swap:`, `Shmem` drops by all the tmpfs pages in swap (the object's and the rootfs's, the
/// console's `swapcache` count) and `verify` checks its slots; after `swapoff` the VMA has no swap,
/// `Shmem` is back, nothing is in the swap cache, `verify` is clean, and every word is still
/// right.
#[test]
fn swapoff_brings_shared_anonymous_pages_back_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").append(SMALL_RAM).sd_card().initramfs().limit(SWAP_RUN_LIMIT),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    unlink_initramfs_data(&mut q);
    let pid = q.start_background("/bin/shmswap -m 12 -h", "SHMSWAP HOLDING", RUN);
    let mi = q.cmd("cat /proc/meminfo");
    let (free_kb, shmem_held) = (meminfo_kb(&q, &mi, "MemFree"), meminfo_kb(&q, &mi, "Shmem"));
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    // The free RAM and three quarters of the swap: the rootfs's pages go out first, then the
    // object's (swap could not hold both whole beside swapstress's).
    let mib = (free_kb + swap_kb * 3 / 4) / 1024;
    let out = q.cmd_timeout(&format!("run /bin/swapstress -m {mib}"), RUN);
    q.expect_in("swapstress", &out, " ok: every word of ");
    // A page in swap (or in the swap cache) is the swap cache's, not the object's: out of
    // Shmem (NR_SHMEM), page for page. The rollup's Swap is the object's and the program's
    // own private pages' (VmSwap, its swap PTEs). kswapd may still be finishing a batch
    // when swapstress exits: the three are read again until they agree (a second at most).
    let mut tries = 0;
    loop {
        let rollup = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
        let swapped = common::status_kb(&q, "smaps_rollup", &rollup, "Swap");
        let status = q.cmd(&format!("cat /proc/{pid}/status"));
        let shmem_swapped = swapped - common::status_kb(&q, "status", &status, "VmSwap");
        let mi = q.cmd("cat /proc/meminfo");
        let shmem_out = meminfo_kb(&q, &mi, "Shmem");
        if shmem_swapped == 0 {
            q.fail(&format!("swapstress pushed none of shmswap's pages out:\n{rollup}"));
        }
        // The rootfs's pages in swap are out of Shmem too: all the tmpfs pages in swap.
        let tmpfs_swapped = tmpfs_swapped_kb(&mut q);
        if tmpfs_swapped >= shmem_swapped && shmem_held - shmem_out == tmpfs_swapped {
            break;
        }
        tries += 1;
        if tries == 10 {
            q.fail(&format!(
                "Shmem {shmem_held} -> {shmem_out} kB with {shmem_swapped} kB of the object and {tmpfs_swapped} kB of tmpfs in swap\n{mi}\n{rollup}\n{status}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    q.verify_ok("with shmem pages in swap");
    let in0 = vmstat(&mut q, "pswpin");
    let out = q.cmd_timeout("swapoff /dev/mmcblk0p2", RUN);
    assert_eq!(out, "", "swapoff printed {out:?}");
    // Pages still in the swap cache come back without a read; the others are read.
    assert!(vmstat(&mut q, "pswpin") > in0, "swapoff read nothing back");
    let rollup = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    assert_eq!(common::status_kb(&q, "smaps_rollup", &rollup, "Swap"), 0, "{rollup}");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "Shmem"), shmem_held, "{mi}");
    assert_eq!(meminfo_kb(&q, &mi, "SwapCached"), 0, "{mi}");
    q.verify_ok("after swapoff");
    let mut out = q.cmd(&format!("kill -USR1 {pid}"));
    if !out.contains("SHMSWAP RESUMED") {
        out += &q.wait_for("SHMSWAP RESUMED", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    }
    out += &q.wait_for("SHMSWAP ok", RUN).unwrap_or_else(|f| panic!("{f:?}"));
    q.expect_in("shmswap", &out, "SHMSWAP RESUMED bad=0");
    q.verify_ok("after shmswap");
    q.poweroff_ok();
}

/// A `tmpfsswap` phase line's `+N` after `key` (the phase's words must all be right).
fn tmpfsswap_delta(q: &Qemu, out: &str, phase: &str, key: &str) -> u64 {
    let line = q.line_with("tmpfsswap", out, &format!("TMPFSSWAP {phase}:")).to_string();
    if !line.contains(" bad=0 ") {
        q.fail(&format!("tmpfsswap {phase}: bytes wrong: {line}\n{out}"));
    }
    swapstress_delta(q, &line, key)
}

/// The rootfs's tmpfs files go to swap and come back, as 6.1's `shmem_writepage` sends a
/// tmpfs file's pages and `shmem_swapin_folio` brings them back for every reader. The
/// initramfs's 16 MiB data file is unlinked first (its pages freed: the card's 23 MiB swap
/// could not hold it beside the rest), then `tmpfsswap` copies itself to `/tmp` and writes two
/// pattern files and a text file there, and `swapstress` takes the free RAM and 9/10 of what
/// the rootfs holds: reclaim writes the rootfs's old pages to swap first (`pswpout`; `Shmem`
/// drops, the pages being the swap cache's and then gone), and `verify` counts the files'
/// index entries with the slots. Unlinking the first file frees its slots (`SwapFree` up).
/// The console's `cat` of the initramfs's text file prints every line (the console waits for
/// the card idle), the copy in `/tmp` runs (exec of a file in swap), and `tmpfsswap check`
/// reads the other file's first half through `read()` (swap-ins from the file layer: `pswpin`,
/// the call sleeping with its locks dropped), its second half through a shared mapping (major
/// faults), and pwrites and preads partial pages: every byte right. `swapoff` brings every
/// rootfs page back (`Shmem` as before the push, less the unlinked file; nothing in the swap
/// cache), `verify` clean. Before, reclaim activated the rootfs's pages and they never left RAM.
#[test]
fn a_rootfs_file_goes_to_swap_and_comes_back_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").append(SMALL_RAM).sd_card().initramfs().limit(SWAP_RUN_LIMIT),
    );
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
    for (cmd, said) in [
        ("rm /data/f16m", "TMPFSSWAP removed"),
        ("copy /bin/tmpfsswap /tmp/tx", "TMPFSSWAP copied"),
    ] {
        let out = q.cmd_timeout(&format!("run /bin/tmpfsswap {cmd}"), RUN);
        q.expect_in(cmd, &out, said);
    }
    let mi = q.cmd("cat /proc/meminfo");
    let mib = meminfo_kb(&q, &mi, "MemFree") / 6 / 1024;
    for (path, size) in [("/tmp/gone", mib / 2), ("/tmp/pat", mib)] {
        let out = q.cmd_timeout(&format!("run /bin/tmpfsswap write {path} {size}"), RUN);
        q.expect_in("write", &out, "TMPFSSWAP wrote");
    }
    let mi = q.cmd("cat /proc/meminfo");
    let (free_kb, shmem_written) = (meminfo_kb(&q, &mi, "MemFree"), meminfo_kb(&q, &mi, "Shmem"));
    let out0 = vmstat(&mut q, "pswpout");
    let push = (free_kb + shmem_written * 9 / 10) / 1024;
    let out = q.cmd_timeout(&format!("run /bin/swapstress -m {push}"), RUN);
    q.expect_in("swapstress", &out, " ok: every word of ");
    let pswpout = vmstat(&mut q, "pswpout") - out0;
    assert!(pswpout > 0, "nothing written out");
    let mi = q.cmd("cat /proc/meminfo");
    let shmem_pushed = meminfo_kb(&q, &mi, "Shmem");
    if shmem_pushed + mib * 1024 > shmem_written {
        q.fail(&format!("Shmem {shmem_written} -> {shmem_pushed} kB: the files stayed\n{mi}"));
    }
    q.verify_ok("with rootfs pages in swap");
    let swap_free = meminfo_kb(&q, &mi, "SwapFree");
    let out = q.cmd_timeout("run /bin/tmpfsswap rm /tmp/gone", RUN);
    q.expect_in("rm", &out, "TMPFSSWAP removed /tmp/gone");
    let mi = q.cmd("cat /proc/meminfo");
    let freed_kb = meminfo_kb(&q, &mi, "SwapFree").saturating_sub(swap_free);
    if freed_kb == 0 {
        q.fail(&format!(
            "unlinking a file in swap freed no slot (SwapFree was {swap_free} kB)\n{mi}"
        ));
    }
    q.verify_ok("after the unlink");
    // The console's cat of an initramfs file in swap: every line, in order.
    let in0 = vmstat(&mut q, "pswpin");
    let out = q.cmd_timeout("cat /data/lines.txt", RUN);
    let want: String = (0..600).map(|i| format!("initramfs line {i:05}\n")).collect();
    if out != want {
        q.fail(&format!(
            "cat /data/lines.txt: {} bytes, not the {} written",
            out.len(),
            want.len()
        ));
    }
    let cat_in = vmstat(&mut q, "pswpin") - in0;
    if cat_in == 0 {
        q.fail("cat /data/lines.txt read nothing from swap");
    }
    let out = q.cmd_timeout("run /tmp/tx hello", RUN);
    q.expect_in("exec from /tmp", &out, "TMPFSSWAP hello\n");
    let out = q.cmd_timeout("run /bin/tmpfsswap check /tmp/pat", RUN);
    q.expect_in("check", &out, "TMPFSSWAP ok: every byte right\n");
    let read_in = tmpfsswap_delta(&q, &out, "read", "pswpin");
    let mmap_majflt = tmpfsswap_delta(&q, &out, "mmap", "majflt");
    tmpfsswap_delta(&q, &out, "pwrite", "pswpin");
    if read_in == 0 || mmap_majflt == 0 {
        q.fail(&format!("the file's halves were not both in swap\n{out}"));
    }
    q.verify_ok("after the check");
    let out = q.cmd_timeout("swapoff /dev/mmcblk0p2", RUN);
    assert_eq!(out, "", "swapoff printed {out:?}");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "SwapCached"), 0, "{mi}");
    let shmem = meminfo_kb(&q, &mi, "Shmem");
    if shmem + mib / 2 * 1024 != shmem_written {
        q.fail(&format!(
            "Shmem {shmem} kB after swapoff, {shmem_written} kB before the push, {} MiB unlinked\n{mi}",
            mib / 2
        ));
    }
    q.verify_ok("after swapoff");
    eprintln!(
        "rootfs to swap: {} + {mib} MiB files, swapstress {push} MiB over {free_kb} kB free: pswpout +{pswpout}, Shmem {shmem_written} -> {shmem_pushed} kB; unlink freed {freed_kb} kB of swap; cat read {cat_in} pages in; check: read() pswpin +{read_in}, mmap majflt +{mmap_majflt}",
        mib / 2
    );
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}

/// No program waits for the card with the CPU idle while it swaps (issue 13): reclaim's
/// writes, direct and kswapd's, and `MADV_PAGEOUT`'s are waited for asleep with no lock held,
/// and so are the swap-ins of the copies a program's kernel side makes: the syscalls', and
/// rseq's updates of its area (in glibc's TLS) on the way back to user space, which read a
/// swapped-out area back under the task table with the CPU idle before (1 or 2 idle waits a
/// run). Two `swapstress` instances (sized by `pressure_mib` after the initramfs's data file
/// is unlinked, as the other pressure tests: the rootfs's pages go to swap first; two passes)
/// swap against each other, then two push 8 MiB each out with `MADV_PAGEOUT`: the console's
/// `iowait` shows the programs' waits for the card all asleep, none idle.
#[test]
fn no_program_waits_idle_for_the_card_while_swapping_2g() {
    let mut q = small_ram_with_swap("reclaimwait");
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(&q, &mi, "SwapTotal");
    // The rootfs's pages go to swap first: without the initramfs's data file, sized to push
    // anonymous pages out too.
    let (free_kb, shmem_kb) = unlink_initramfs_data(&mut q);
    let mib = pressure_mib(free_kb, shmem_kb, swap_kb) / 2;
    let (slept0, idle0) = iowait_counts(&mut q);
    let out0 = vmstat(&mut q, "pswpout");
    let out = q.cmd_timeout(&format!("run /bin/swapstress -j 2 -m {mib} -p 2"), RUN);
    q.expect_in("swapstress", &out, "swapstress: 2 instances, 0 failed");
    let out = q.cmd_timeout("run /bin/swapstress -j 2 -m 8 -o", RUN);
    q.expect_in("swapstress", &out, "swapstress: 2 instances, 0 failed");
    let (slept, idle) = iowait_counts(&mut q);
    let written = vmstat(&mut q, "pswpout") - out0;
    eprintln!(
        "2 x {mib} MiB over {free_kb} kB free and {shmem_kb} kB Shmem, then 2 x 8 MiB paged out: {written} pages \
         written; iowait asleep {slept0} -> {slept}, idle {idle0} -> {idle}"
    );
    assert!(written > 0, "nothing written to swap");
    assert!(slept > slept0, "no program slept for the card");
    if idle != idle0 {
        q.fail(&format!("{} waits for the card by programs idled the CPU", idle - idle0));
    }
    q.verify_ok("after reclaim's writes");
    no_sleep_in_atomic(&q, "the whole run");
    q.poweroff_ok();
}
