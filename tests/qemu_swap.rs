//! QEMU tests of swap on the SD card (`make sd-image`'s partition 2, formatted by mkswap):
//! `swapon` with 6.1's message and `/proc/swaps` exact, `EBUSY` for a second swapon; bad areas
//! (the FAT partition, a zeroed header) refused with Linux's message while the kernel carries
//! on; `swaptest` pushing its pages out with `MADV_PAGEOUT` (pswpout, VmSwap, SwapFree), the
//! pages left in the swap cache as 6.1 leaves them (a minor fault each to read back, no
//! `pswpin`), and, once the console's `swapcache drop` has freed them, reading every word back
//! (majflt exactly N with page-cluster 0, read-ahead hits with 3); every slot back after it
//! exits but the swap slots cache's batch (`/proc/swaps` Used moves 64 slots at a time, as
//! 6.1's does, and is what a model of the cache says), with `verify` checking the slot counts
//! and the cached slots; and `swapoff` bringing the pages of a running program back with its
//! pattern intact and returning every slot.
mod common;

use std::time::Duration;

use common::sd::{
    check_only_slots_cached, paged_out_and_dropped, swapon, swaps_used_kb, swaptest_resume,
    SlotsCache,
};
use common::{meminfo_kb, status_kb, swapstress_delta, swaptest_faults, Opts, Qemu};

/// The swap partition's pages, from the image's MBR (entry 2).
fn swap_pages() -> u64 {
    swap_pages_of("build/sd.img")
}

/// [`swap_pages`] of the card image `image`.
fn swap_pages_of(image: &str) -> u64 {
    let path = common::root().join(image);
    let b = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make sd-image`", path.display()));
    let o = 446 + 16;
    assert_eq!(b[o + 4], 0x82, "partition 2 is Linux swap");
    let sectors = u32::from_le_bytes(b[o + 12..o + 16].try_into().unwrap()) as u64;
    let start = u32::from_le_bytes(b[o + 8..o + 12].try_into().unwrap()) as usize * 512;
    assert_eq!(&b[start + 4086..start + 4096], b"SWAPSPACE2", "partition 2 is mkswap'd");
    sectors / 8
}

fn boot() -> Qemu {
    Qemu::boot_to_prompt(Opts::raw("2G").sd_card().initramfs()).0
}

/// A /proc/vmstat counter.
fn vmstat(q: &mut Qemu, name: &str) -> u64 {
    let out = q.cmd("cat /proc/vmstat");
    let line = q.line_with("vmstat", &out, &format!("{name} "));
    line[name.len() + 1..].trim().parse().unwrap_or_else(|_| q.fail(&format!("vmstat {line:?}")))
}

/// Read requests completed on the swap partition (/proc/diskstats' mmcblk0p2, field 4).
fn swap_reads(q: &mut Qemu) -> u64 {
    let out = q.cmd("cat /proc/diskstats");
    let line = q.line_with("diskstats", &out, " mmcblk0p2 ").to_string();
    line.split_whitespace()
        .nth(3)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("diskstats {line:?}")))
}

#[test]
fn swapon_shows_in_proc_swaps_and_bad_areas_are_refused() {
    let pages = swap_pages();
    let kb = (pages - 1) * 4;
    let mut q = boot();
    let empty = q.cmd("cat /proc/swaps");
    assert_eq!(empty, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    // The FAT partition has no signature.
    let out = q.cmd("swapon /dev/mmcblk0p1");
    q.expect_in("swapon p1", &out, "Unable to find swap-space signature\n");
    q.expect_in("swapon p1", &out, "swapon: /dev/mmcblk0p1: swapon failed: Invalid argument\n");
    swapon(&mut q, pages);
    let swaps = q.cmd("cat /proc/swaps");
    let want = format!(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
         /dev/mmcblk0p2                          partition\t{kb}\t\t0\t\t-2\n"
    );
    if swaps != want {
        q.fail(&format!("/proc/swaps:\n{swaps:?}\nexpected\n{want:?}"));
    }
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("double swapon", &out, "swapon failed: Device or resource busy\n");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "SwapTotal"), kb);
    assert_eq!(meminfo_kb(&q, &mi, "SwapFree"), kb);
    let free = q.cmd("free");
    q.expect_in("free", &free, &format!("Swap: {:>14}{:>12}{:>12}\n", kb, 0, kb));
    q.cmd("swapoff /dev/mmcblk0p2");
    // A zeroed header (writes go to the snapshot overlay).
    q.cmd("dd if=/dev/zero of=/dev/mmcblk0p2 count=8");
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon zeroed", &out, "Unable to find swap-space signature\n");
    let out = q.cmd("swapoff /dev/mmcblk0p2");
    q.expect_in("swapoff not on", &out, "swapoff failed: Invalid argument\n");
    // A path that names no device: swapoff's open fails first, as Linux's.
    let out = q.cmd("swapoff /dev/nosuch");
    q.expect_in("swapoff of no device", &out, "swapoff failed: No such file or directory\n");
    assert_eq!(q.cmd("cat /proc/swaps"), empty);
    q.verify_ok("after the bad areas");
    q.poweroff_ok();
}

/// The first `KEY: N kB` figure swapstress printed in `text` (its lines are prefixed).
fn swapstress_kb(q: &Qemu, text: &str, key: &str) -> u64 {
    let line = q.line_with("swapstress", text, &format!("{key}:"));
    line.split(&format!("{key}:"))
        .nth(1)
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no {key} figure in {line:?}")))
}

/// 6.1's `MADV_PAGEOUT` on a card: the pages are written and unmapped (`VmSwap`, `pswpout`)
/// but stay in the swap cache (`SwapCached`; mincore calls them resident), so reading them
/// back is a minor fault each with no read (`pswpin` +0), as in the arm64 Linux recording
/// (`swapstress -m 16 -p 1 -o`: re-read minflt +4096 majflt +0, pswpin +0). Before, pivm freed
/// them once written and the read-back took N major faults. Then `swapstress -m 16 -p 1 -o`,
/// Linux's recorded run.
#[test]
fn paged_out_pages_stay_in_the_swap_cache_and_come_back_without_a_read() {
    const N: u64 = 64;
    let pages = swap_pages();
    let mut q = boot();
    let swap_kb = swapon(&mut q, pages);
    let (out0, in0, rot0) =
        (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"), vmstat(&mut q, "pgrotated"));
    let pid = q.start_background(
        &format!("/bin/swaptest {N} hold"),
        "PAGED OUT",
        Duration::from_secs(60),
    );
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "SwapCached"), N * 4, "{mi}");
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status", &status, &format!("VmSwap:\t{:>8} kB\n", N * 4));
    assert_eq!(vmstat(&mut q, "pswpout") - out0, N);
    // Each written page went to the tail of its inactive list for the next scan.
    assert_eq!(vmstat(&mut q, "pgrotated") - rot0, N);
    q.verify_ok("with the paged-out pages in the swap cache");
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(60));
    q.expect_in("swaptest", &out, &format!("RESUMED: VmSwap {} kB, resident {N}", N * 4));
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    assert_eq!(swaptest_faults(&q, &out, "READ BACK"), (N, 0), "{out}");
    assert_eq!(vmstat(&mut q, "pswpin") - in0, 0, "read back from the swap cache");
    // swapstress -o, the run the arm64 Linux recording has.
    let (in0, out0) = (vmstat(&mut q, "pswpin"), vmstat(&mut q, "pswpout"));
    let out = q.cmd_timeout("run /bin/swapstress -m 16 -p 1 -o", Duration::from_secs(180));
    let po = q.line_with("swapstress", &out, "pageout:").to_string();
    assert_eq!(swapstress_delta(&q, &po, "pswpout"), 4096, "{out}");
    let after = &out[out.find("pageout:").unwrap_or(0)..];
    // Every buffer page out of RssAnon: what is left is the program's own stack and data
    // (Linux's recording shows 0 kB there: its per-task RSS counters lag by up to 64 faults).
    assert!(swapstress_kb(&q, after, "RssAnon") <= 64, "{out}");
    assert_eq!(swapstress_kb(&q, after, "VmSwap"), 16384, "{out}");
    let reread = q.line_with("swapstress", &out, "re-read pass 1:").to_string();
    assert_eq!(swapstress_delta(&q, &reread, "minflt"), 4096, "{reread}");
    assert_eq!(swapstress_delta(&q, &reread, "majflt"), 0, "{reread}");
    assert_eq!(swapstress_delta(&q, &reread, "pswpin"), 0, "{reread}");
    // Still cached after the re-read (this card's 23 MiB area is more than half full at first,
    // so the first pages read back give their slots up, `should_try_to_free_swap`, until it
    // is not: Linux's 471 MiB area kept all 4096 cached).
    assert!(swapstress_kb(&q, &out, "SwapCached") > 0, "{out}");
    q.expect_in("swapstress", &out, "ok: every word of 4096 pages right");
    assert_eq!(vmstat(&mut q, "pswpin") - in0, 0);
    assert_eq!(vmstat(&mut q, "pswpout") - out0, 4096);
    // Once the programs are gone, so are their cached pages and slots (but the swap slots
    // cache's: Used at most its two lists, `verify` checking each of them).
    check_only_slots_cached(&mut q, swap_kb, "after the runs");
    q.poweroff_ok();
}

#[test]
fn pages_go_out_and_come_back_intact() {
    const N: u64 = 64;
    let pages = swap_pages();
    let mut q = boot();
    swapon(&mut q, pages);
    // page-cluster 0: every page comes back with a major fault of its own.
    q.cmd("sysctl vm.page-cluster=0");
    let (out0, in0) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    let pid = paged_out_and_dropped(&mut q, N, Duration::from_secs(60));
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(60));
    q.expect_in("swaptest", &out, &format!("RESUMED: VmSwap {} kB, resident 0", N * 4));
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    assert_eq!(swaptest_faults(&q, &out, "READ BACK"), (0, N), "{out}");
    assert_eq!(vmstat(&mut q, "pswpout") - out0, N);
    assert_eq!(vmstat(&mut q, "pswpin") - in0, N);
    // 64 slots out and back: the batch taken for them waits on the return list.
    let mut model = SlotsCache::default();
    model.alloc(N);
    model.free(N);
    let kb = (pages - 1) * 4;
    assert_eq!(
        check_only_slots_cached(&mut q, kb, "after the page-cluster 0 run"),
        model.used_kb()
    );
    // page-cluster 3: read-ahead brings neighbours in; faults on them are minor.
    q.cmd("sysctl vm.page-cluster=3");
    let hit0 = vmstat(&mut q, "swap_ra_hit");
    let pid = paged_out_and_dropped(&mut q, N, Duration::from_secs(60));
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(60));
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    let (min, maj) = swaptest_faults(&q, &out, "READ BACK");
    assert_eq!(min + maj, N, "{out}");
    assert!(maj > 0 && maj < N / 2, "read-ahead should make most faults minor: {out}");
    assert_eq!(vmstat(&mut q, "swap_ra_hit") - hit0, min);
    // The second batch refilled the cache; the first went back with the 65th free.
    model.alloc(N);
    model.free(N);
    assert_eq!(
        check_only_slots_cached(&mut q, kb, "after the page-cluster 3 run"),
        model.used_kb()
    );
    assert_eq!(model.used_kb(), 256);
    // swapoff drains the cache: every slot returned, and a new swapon starts from none.
    assert_eq!(q.cmd("swapoff /dev/mmcblk0p2"), "");
    swapon(&mut q, pages);
    let swaps = q.cmd("cat /proc/swaps");
    assert_eq!(swaps_used_kb(&q, &swaps), 0, "{swaps}");
    q.verify_ok("after swapoff and swapon");
    q.poweroff_ok();
}

#[test]
fn a_forked_child_shares_the_swap_entries() {
    const N: u64 = 100;
    let pages = swap_pages();
    let mut q = boot();
    swapon(&mut q, pages);
    let out = q.cmd_timeout(&format!("run /bin/swaptest {N} fork"), Duration::from_secs(60));
    q.expect_in("child", &out, "CHILD PATTERN bad=0 VmSwap 0 kB\n");
    q.expect_in("child", &out, "CHILD exited 0\n");
    q.expect_in("parent", &out, "PATTERN bad=0\n");
    // The pages stayed in the swap cache after MADV_PAGEOUT (the child read them from there):
    // the parent's faults are all minor.
    assert_eq!(swaptest_faults(&q, &out, "READ BACK"), (N, 0), "{out}");
    // 100 slots: two batches taken; the 65th free gave the first 64 back, so 28 left to
    // hand out and 36 waiting to go back: one batch.
    let mut model = SlotsCache::default();
    model.alloc(N);
    model.free(N);
    assert_eq!(check_only_slots_cached(&mut q, (pages - 1) * 4, "after fork"), model.used_kb());
    q.poweroff_ok();
}

/// More swap PTEs on a slot than a `swap_map` byte counts (`SWAP_MAP_MAX`, 62): `swaptest`
/// pages N pages out and forks 100 children that all hold its swap entries at once (101 per
/// slot: count continuation pages carry the rest), `verify` checks every count against the
/// swap PTEs while they do, then each child checks every word and exits, and every slot is
/// free once all are gone. Before continuations the 62nd fork failed with ENOMEM.
#[test]
fn a_hundred_children_hold_one_slot_through_count_continuations() {
    const N: u64 = 64;
    const KIDS: u64 = 100;
    let pages = swap_pages();
    let mut q = boot();
    swapon(&mut q, pages);
    let pid = q.start_background(
        &format!("/bin/swaptest {N} children {KIDS} hold"),
        "FORKED",
        Duration::from_secs(180),
    );
    let swaps = q.cmd("cat /proc/swaps");
    let used = format!("\t\t{}\t\t-2\n", N * 4);
    if !swaps.contains(&used) {
        q.fail(&format!("{N} slots should be in use, held by {} processes:\n{swaps}", KIDS + 1));
    }
    q.verify_ok("with 101 swap PTEs on each slot");
    eprintln!("{KIDS} children holding {N} slots:\n{swaps}");
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(180));
    q.expect_in(
        "children",
        &out,
        &format!("CHILDREN {KIDS} forked, {KIDS} read every word right\n"),
    );
    q.expect_in("parent", &out, "PATTERN bad=0\n");
    eprintln!("{out}");
    let mut model = SlotsCache::default();
    model.alloc(N);
    model.free(N);
    let used =
        check_only_slots_cached(&mut q, (pages - 1) * 4, "after the children and the parent");
    assert_eq!(used, model.used_kb());
    q.poweroff_ok();
}

#[test]
fn swapoff_brings_a_running_programs_pages_back() {
    const N: u64 = 300;
    let pages = swap_pages();
    let mut q = boot();
    swapon(&mut q, pages);
    // Out of the swap cache first, so that swapoff reads every page.
    let pid = paged_out_and_dropped(&mut q, N, Duration::from_secs(60));
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status", &status, &format!("VmSwap:\t    {} kB\n", N * 4));
    // 300 slots handed out take five batches: 20 more wait in the slots cache, counted as
    // used (Used 1280 kB, as 6.1's one CPU would show).
    let mut model = SlotsCache::default();
    model.alloc(N);
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(&q, &mi, "SwapFree"), (pages - 1) * 4 - model.used_kb());
    let swaps = q.cmd("cat /proc/swaps");
    assert_eq!(swaps_used_kb(&q, &swaps), model.used_kb(), "{swaps}");
    assert_eq!(model.used_kb(), 1280);
    let smaps = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    q.expect_in("smaps_rollup", &smaps, &format!("{:<16}{:>8} kB\n", "Swap:", N * 4));
    q.verify_ok("with pages out");
    let (ra0, in0, rq0) = (vmstat(&mut q, "swap_ra"), vmstat(&mut q, "pswpin"), swap_reads(&mut q));
    let out = q.cmd_timeout("swapoff /dev/mmcblk0p2", Duration::from_secs(60));
    assert_eq!(out, "", "swapoff printed {out:?}");
    // swapoff read through swap read-ahead (`unuse_pte_range` -> `swapin_readahead`): most
    // pages were read ahead of the walk, a window's reads queued before one wait (the
    // console's interrupts are on, so each request is done before the next is queued: no
    // merges here), and each page was read once.
    let (ra, pswpin, reqs) =
        (vmstat(&mut q, "swap_ra") - ra0, vmstat(&mut q, "pswpin") - in0, swap_reads(&mut q) - rq0);
    eprintln!("swapoff: {pswpin} pages in, {ra} read ahead, {reqs} read requests");
    assert!(
        pswpin == N && ra > N / 2 && reqs <= pswpin,
        "swapoff: {pswpin} in, {ra} ahead, {reqs} requests"
    );
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status after swapoff", &status, "VmSwap:\t       0 kB\n");
    q.verify_ok("after swapoff");
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(60));
    q.expect_in("pattern", &out, "PATTERN bad=0\n");
    q.expect_in("resumed", &out, &format!("RESUMED: VmSwap 0 kB, resident {N}"));
    q.poweroff_ok();
}

#[test]
fn highmem_pages_go_through_the_bounce_page_on_3g() {
    // On 3G user pages come from HighMem: the swap I/O reaches them through kmap.
    let pages = swap_pages();
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").sd_card().initramfs());
    let mi = q.cmd("cat /proc/meminfo");
    assert!(meminfo_kb(&q, &mi, "HighTotal") > 0, "3G has HighMem");
    swapon(&mut q, pages);
    // Written through the bounce page, dropped from the swap cache, read back through it.
    let pid = paged_out_and_dropped(&mut q, 64, Duration::from_secs(60));
    let out = swaptest_resume(&mut q, pid, Duration::from_secs(60));
    q.expect_in("swaptest", &out, "RESUMED: VmSwap 256 kB, resident 0");
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    let (min, maj) = swaptest_faults(&q, &out, "READ BACK");
    assert!(min + maj == 64 && maj > 0, "read back from the card: {out}");
    q.verify_ok("after swaptest on 3G");
    q.poweroff_ok();
}

/// Issue 13's "nothing lost" on the standard card, and the /proc reads that panicked the
/// kernel under swap pressure (`Mapped` in meminfo and vmstat, the mapcounts of `smaps` and
/// `smaps_rollup`: a map of every mapped frame, allocated when free memory was at the min
/// watermark). On 128 MiB (the memory of compare-linux's diskcost phase, CMA off so that
/// every free page can serve the kernel), `swaptest N keep` writes its pattern into nine
/// tenths of the free memory and keeps every page mapped; the console's `vmalloc` of 8 MiB
/// more than is free and the rootfs holds then reclaims (see `qemu_reclaim`), swapping the
/// rootfs's pages (which go first) and thousands of the kept pages out, on the card with
/// 471 MiB of swap and leaving free memory at the watermarks. There, with tens of thousands of
/// pages resident and thousands in swap, the /proc reads answer with every page of the
/// mapping in smaps' Rss or Swap; the area goes, and every word comes back (`pswpin`), every
/// slot is free after exit and `verify` is clean throughout.
#[test]
fn tens_of_thousands_of_resident_pages_under_swap_keep_the_pattern_and_the_kernel() {
    // The card with 471 MiB of swap: the rootfs's pages go out before the kept ones, and
    // the 23 MiB area could not hold them both.
    let pages = swap_pages_of("build/sd-512M.img");
    let swap_kb = (pages - 1) * 4;
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G")
            .initramfs()
            .sd_card_512m()
            .append("norandmaps mem=120M mem=8M@0x08000000 cma=0")
            .limit(Duration::from_secs(600)),
    );
    swapon(&mut q, pages);
    q.cmd("sysctl vm.page-cluster=3");
    let mi = q.cmd("cat /proc/meminfo");
    let n = meminfo_kb(&q, &mi, "MemFree") * 9 / 10 / 4;
    let (out0, in0) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    let pid =
        q.start_background(&format!("/bin/swaptest {n} keep"), "KEPT:", Duration::from_secs(120));
    let free_kb = q.free_kb();
    // 8 MiB more than the free RAM and the rootfs's pages, which reclaim sends out first.
    let mi = q.cmd("cat /proc/meminfo");
    let size = (free_kb + meminfo_kb(&q, &mi, "Shmem") + 8192) * 1024;
    let out = q.cmd_timeout(&format!("vmalloc {size}"), Duration::from_secs(120));
    let line = q.line_with("vmalloc", &out, &format!("vmalloc({size}) = ")).to_string();
    // The kernel's view of a program with tens of thousands of pages resident and some out.
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    let (rss, swapped) =
        (status_kb(&q, "status", &status, "RssAnon"), status_kb(&q, "status", &status, "VmSwap"));
    eprintln!("swaptest {n} keep, vmalloc {size}: RssAnon {rss} kB, VmSwap {swapped} kB");
    assert!(rss / 4 >= 15_000, "tens of thousands of pages resident: {status}");
    assert!(swapped >= 8192 && swapped < swap_kb, "thousands of pages in swap: {status}");
    let mi = q.cmd("cat /proc/meminfo");
    // kswapd may still be at work between two reads: counts compared within one read only.
    assert!(meminfo_kb(&q, &mi, "AnonPages") / 4 >= 15_000, "{mi}");
    q.expect_in("meminfo", &mi, "\nMapped:");
    assert!(vmstat(&mut q, "pswpout") > out0, "nothing swapped out");
    let vm = q.cmd("cat /proc/vmstat");
    q.expect_in("vmstat", &vm, "\nnr_mapped ");
    // smaps: the kept mapping (its Rss and Swap) and the rollup over every mapping.
    let smaps = q.cmd(&format!("cat /proc/{pid}/smaps"));
    let region = smaps
        .split("\nSize:")
        .find(|r| r.trim_start().starts_with(&format!("{} kB\n", n * 4)))
        .unwrap_or_else(|| q.fail(&format!("no {n}-page mapping in smaps:\n{smaps}")));
    let (r_rss, r_swap) =
        (status_kb(&q, "smaps", region, "Rss"), status_kb(&q, "smaps", region, "Swap"));
    assert_eq!(r_rss + r_swap, n * 4, "every page resident or in swap: {region}");
    let rollup = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    assert!(status_kb(&q, "smaps_rollup", &rollup, "Rss") / 4 >= 15_000, "{rollup}");
    assert!(status_kb(&q, "smaps_rollup", &rollup, "Swap") >= 8192, "{rollup}");
    q.verify_ok("with the pages kept and the area held");
    let addr = line.rsplit(' ').next().unwrap_or("").trim();
    let out = q.cmd(&format!("vfree {addr}"));
    assert_eq!(out, "", "vfree printed {out:?}");
    // Every word back, through swap-in.
    let mut out = q.cmd(&format!("kill -USR1 {pid}"));
    if !out.contains("PATTERN bad=") {
        out += &q.wait_for("PATTERN bad=", Duration::from_secs(300)).unwrap();
        out += &q.wait_for("\n", Duration::from_secs(5)).unwrap();
    }
    q.expect_in("pattern", &out, "PATTERN bad=0\n");
    assert!(vmstat(&mut q, "pswpin") > in0, "nothing swapped in: {out}");
    check_only_slots_cached(&mut q, (pages - 1) * 4, "after swaptest keep");
    q.poweroff_ok();
}
