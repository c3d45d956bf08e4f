//! The disk issue's page cache, swap and reclaim on the 64-bit kernel (issue 14 item 5 with
//! issue 13 items 4-7): `make sd-image ARCH=arm64`'s card (build/arm64/sd.img: the AArch64
//! programs on the FAT partition, a mkswap'd swap partition) attached to raspi3b with the
//! arm64 initramfs. On both VA sizes a program run from `/boot` takes major faults on its
//! first run and none on the second, two instances share its text, `drop_caches` brings the
//! major faults back; `swapon` prints 6.1's line, `/proc/swaps`, `SwapTotal`/`SwapFree` and
//! `free` agree with the partition, `swaptest` pushes its pages out and reads every word
//! back (one major fault per page with page-cluster 0, swap read-ahead hits with 3: the
//! VMA's read-ahead state must keep a 64-bit address), 100 forked children hold its swap
//! entries at once (count continuations) and each reads every word, `swapoff` brings a
//! running program's pages back (its `Swap:`/`VmSwap:` lines go from N pages to 0). Under real pressure
//! (`mem=`, 4 levels, the initramfs and the 512 MiB card) `swapstress` overcommits RAM: kswapd
//! and direct reclaim scan and steal, the rootfs's pages go to swap first, then anonymous ones,
//! which come back with every word right; afterwards every slot is free but the rootfs's,
//! `AnonPages` is 0 and `verify` is clean. `shmswap` does the same with shared anonymous
//! memory (shmem objects through swap).
//! Needs `make kernel ARCH=arm64 VA_BITS=48` and `39`, `make initramfs ARCH=arm64` and
//! `make sd-image ARCH=arm64` (and `SD_SIZE=512M`; `make test` builds them).
mod common;

use std::time::Duration;

use common::sd::{
    boot_arm64, boot_arm64_card, check_only_slots_cached, paged_out_and_dropped, swapon,
    swaptest_resume, tmpfs_swapped_kb, SlotsCache, ARM64_SD_512M_IMG,
};
use common::{
    entry_faults, meminfo_kb, root, shmswap_delta, shmswap_kb, status_kb, swapstress_delta,
    swaptest_faults, vmstat, Qemu,
};

use common::sd::ARM64_SD_IMG as SD_IMG;
/// A program's run under a loaded host.
const RUN: Duration = Duration::from_secs(120);
/// The whole pressure run: a few minutes of swapping to the card under a loaded host.
const PRESSURE_LIMIT: Duration = Duration::from_secs(600);
/// RAM for the pressure run: arm64's `mem=` is one limit (40 MiB from the start of RAM), no
/// CMA area (the default 64 MiB would not fit), no initramfs: about 38 MiB free at the
/// prompt, the programs run from `/boot`.
const SMALL_RAM: &str = "mem=40M cma=0";
/// RAM for the pressure run with the initramfs: its 32 MiB of rootfs pages unpacked (before
/// swap is on) leave about as much free as [`SMALL_RAM`] without it.
const SMALL_RAM_INITRAMFS: &str = "mem=72M cma=0";

/// The swap partition's pages, from the image's MBR (entry 2) and its mkswap header.
fn swap_pages() -> u64 {
    swap_pages_of(SD_IMG)
}

/// [`swap_pages`] of the card image `card`.
fn swap_pages_of(card: &str) -> u64 {
    let img = common::sd::image(card, "make sd-image ARCH=arm64");
    let p2 = &img.parts[1];
    assert_eq!(p2.ty, 0x82, "partition 2 is Linux swap");
    let b = std::fs::read(root().join(card)).unwrap();
    let start = p2.start as usize * 512;
    assert_eq!(&b[start + 4086..start + 4096], b"SWAPSPACE2", "partition 2 is mkswap'd");
    p2.size / 8
}

/// Every slot back but the ones the swap slots cache holds (`model`'s figure for the runs
/// so far: Used moves by batches of 64, as on Linux): /proc/swaps' Used column, SwapFree the
/// rest of the area, nothing in the swap cache, no anonymous page left, `verify` clean.
fn all_slots_free(q: &mut Qemu, swap_kb: u64, when: &str, model: &SlotsCache) {
    let swaps = q.cmd("cat /proc/swaps");
    let want = format!(
        "/dev/mmcblk0p2                          partition\t{swap_kb}\t\t{}\t\t-2\n",
        model.used_kb()
    );
    if !swaps.contains(&want) {
        q.fail(&format!("{when}: slots in use, expected Used {}:\n{swaps}", model.used_kb()));
    }
    let mi = q.cmd("cat /proc/meminfo");
    for (field, want) in
        [("SwapTotal", swap_kb), ("SwapFree", swap_kb - model.used_kb()), ("SwapCached", 0)]
    {
        let got = meminfo_kb(q, &mi, field);
        if got != want {
            q.fail(&format!("{when}: {field} {got} kB, expected {want}:\n{mi}"));
        }
    }
    if meminfo_kb(q, &mi, "AnonPages") != 0 {
        q.fail(&format!("{when}: anonymous pages left:\n{mi}"));
    }
    q.verify_ok(when);
}

/// The page cache backed by the card: major faults on the first run from /boot, none on
/// the second, shared text, `drop_caches` bringing them back.
fn check_page_cache(q: &mut Qemu) {
    let maj0 = vmstat(q, "pgmajfault");
    let mi = q.cmd("cat /proc/meminfo");
    let cached0 = meminfo_kb(q, &mi, "Cached");
    let out = q.cmd_timeout("run /boot/bin/vmtest entry", RUN);
    let (_, first) = entry_faults(q, &out);
    if first == 0 {
        q.fail("the first run from /boot took no major fault");
    }
    let grew = vmstat(q, "pgmajfault") - maj0;
    if grew == 0 || grew > first {
        q.fail(&format!("pgmajfault grew by {grew} for a run with {first} major faults"));
    }
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(q, &mi, "Cached") <= cached0 || meminfo_kb(q, &mi, "Buffers") == 0 {
        q.fail(&format!("Cached should grow by the program's pages, Buffers hold the FAT:\n{mi}"));
    }
    let out = q.cmd_timeout("run /boot/bin/vmtest entry", RUN);
    if entry_faults(q, &out).1 != 0 {
        q.fail(&format!("the second run took major faults: its pages were cached\n{out}"));
    }
    // Two instances at once: both find the text cached, and smaps shows it shared.
    let out = q.cmd_timeout("run /boot/bin/vmtest exec", RUN);
    let entries: Vec<&str> = out.lines().filter(|l| l.contains("at main entry:")).collect();
    if entries.len() < 2 || entries.iter().any(|l| !l.ends_with("majflt=0")) {
        q.fail(&format!("two instances, no major fault: {entries:?}\n{out}"));
    }
    let text = out
        .split("(first VMA = text)\n")
        .nth(1)
        .unwrap_or_else(|| q.fail(&format!("no smaps of the text in:\n{out}")));
    let (rss, pss) = (status_kb(q, "smaps", text, "Rss"), status_kb(q, "smaps", text, "Pss"));
    if rss == 0 || pss * 2 > rss {
        q.fail(&format!("the text is shared: Pss {pss} kB of Rss {rss} kB\n{text}"));
    }
    let out = q.cmd("run /bin/vmtest dropcaches 3");
    q.expect_in("dropcaches", &out, "dropcaches 3: ok");
    q.expect_in("dropcaches", &out, "): drop_caches: 3");
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(q, &mi, "Buffers") != 0 || meminfo_kb(q, &mi, "Cached") > cached0 {
        q.fail(&format!("drop_caches left card pages cached:\n{mi}"));
    }
    let out = q.cmd_timeout("run /boot/bin/vmtest entry", RUN);
    if entry_faults(q, &out).1 != first {
        q.fail(&format!("after drop_caches: {out} (the first run took {first} major faults)"));
    }
}

/// Swap without pressure: `MADV_PAGEOUT` (its pages left in the swap cache, as 6.1 leaves
/// them), swap-in with and without read-ahead once the console's `swapcache drop` freed them,
/// `swapoff` of a running program's pages.
fn check_swap(q: &mut Qemu, pages: u64) {
    const N: u64 = 64;
    let empty = q.cmd("cat /proc/swaps");
    if empty != "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" {
        q.fail(&format!("/proc/swaps before swapon: {empty:?}"));
    }
    let swap_kb = swapon(q, pages);
    let free = q.cmd("free");
    q.expect_in("free", &free, &format!("Swap: {:>14}{:>12}{:>12}\n", swap_kb, 0, swap_kb));
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("double swapon", &out, "swapon failed: Device or resource busy\n");
    let mut model = SlotsCache::default();
    all_slots_free(q, swap_kb, "after swapon", &model);
    // page-cluster 0: every page comes back with a major fault of its own.
    q.cmd("sysctl vm.page-cluster=0");
    let (out0, in0) = (vmstat(q, "pswpout"), vmstat(q, "pswpin"));
    // MADV_PAGEOUT leaves the written pages in the swap cache, as 6.1 does: read back with a
    // minor fault each and no read.
    let out = q.cmd_timeout(&format!("run /bin/swaptest {N}"), RUN);
    q.expect_in("swaptest", &out, &format!("PAGED OUT: VmSwap {} kB, resident {N}", N * 4));
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    let (pout, pin) = (vmstat(q, "pswpout") - out0, vmstat(q, "pswpin") - in0);
    if swaptest_faults(q, &out, "READ BACK") != (N, 0) || (pout, pin) != (N, 0) {
        q.fail(&format!(
            "from the swap cache: {N} minor faults, pswpout +{N}, pswpin +0 expected \
             (+{pout}, +{pin}):\n{out}"
        ));
    }
    model.alloc(N);
    model.free(N);
    all_slots_free(q, swap_kb, "after swaptest from the swap cache", &model);
    let (out0, in0) = (vmstat(q, "pswpout"), vmstat(q, "pswpin"));
    let pid = paged_out_and_dropped(q, N, RUN);
    let out = swaptest_resume(q, pid, RUN);
    q.expect_in("swaptest", &out, &format!("RESUMED: VmSwap {} kB, resident 0", N * 4));
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    if swaptest_faults(q, &out, "READ BACK") != (0, N) {
        q.fail(&format!("page-cluster 0: {N} major faults expected:\n{out}"));
    }
    let (pout, pin) = (vmstat(q, "pswpout") - out0, vmstat(q, "pswpin") - in0);
    if (pout, pin) != (N, N) {
        q.fail(&format!("pswpout +{pout}, pswpin +{pin}: expected +{N} each"));
    }
    model.alloc(N);
    model.free(N);
    all_slots_free(q, swap_kb, "after swaptest, page-cluster 0", &model);
    // page-cluster 3: read-ahead brings the neighbours in; faults on them are minor.
    q.cmd("sysctl vm.page-cluster=3");
    let hit0 = vmstat(q, "swap_ra_hit");
    let pid = paged_out_and_dropped(q, N, RUN);
    let out = swaptest_resume(q, pid, RUN);
    q.expect_in("swaptest", &out, "PATTERN bad=0\n");
    let (min, maj) = swaptest_faults(q, &out, "READ BACK");
    if min + maj != N || maj == 0 || maj >= N / 2 {
        q.fail(&format!("page-cluster 3: read-ahead should make most faults minor:\n{out}"));
    }
    let hits = vmstat(q, "swap_ra_hit") - hit0;
    if hits != min {
        q.fail(&format!("swap_ra_hit +{hits}, minor faults {min}"));
    }
    model.alloc(N);
    model.free(N);
    all_slots_free(q, swap_kb, "after swaptest, page-cluster 3", &model);
    // 100 children hold the swap entries at once (101 swap PTEs a slot, past SWAP_MAP_MAX:
    // count continuation pages), each checks every word; every slot is free after.
    let out = q.cmd_timeout(&format!("run /bin/swaptest {N} children 100"), RUN);
    q.expect_in("children", &out, "CHILDREN 100 forked, 100 read every word right\n");
    q.expect_in("children", &out, "PATTERN bad=0\n");
    model.alloc(N);
    model.free(N);
    all_slots_free(q, swap_kb, "after 100 children", &model);
    // A running program's pages out: its status and smaps say so, swapoff brings them back.
    const HELD: u64 = 300;
    let pid = paged_out_and_dropped(q, HELD, RUN);
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status", &status, &format!("VmSwap:\t    {} kB\n", HELD * 4));
    let mi = q.cmd("cat /proc/meminfo");
    // The slots the cache took with them count as used (one batch before, five more).
    model.alloc(HELD);
    if meminfo_kb(q, &mi, "SwapFree") != swap_kb - model.used_kb() {
        q.fail(&format!("SwapFree with {HELD} pages out:\n{mi}"));
    }
    let swaps = q.cmd("cat /proc/swaps");
    q.expect_in("swaps", &swaps, &format!("partition\t{swap_kb}\t\t{}\t\t-2\n", model.used_kb()));
    let smaps = q.cmd(&format!("cat /proc/{pid}/smaps_rollup"));
    q.expect_in("smaps_rollup", &smaps, &format!("{:<16}{:>8} kB\n", "Swap:", HELD * 4));
    q.verify_ok("with pages out");
    let in0 = vmstat(q, "pswpin");
    let out = q.cmd_timeout("swapoff /dev/mmcblk0p2", RUN);
    if !out.is_empty() {
        q.fail(&format!("swapoff printed {out:?}"));
    }
    let pin = vmstat(q, "pswpin") - in0;
    if pin != HELD {
        q.fail(&format!("swapoff read {pin} pages in, expected {HELD}"));
    }
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    q.expect_in("status after swapoff", &status, "VmSwap:\t       0 kB\n");
    if q.cmd("cat /proc/swaps") != empty {
        q.fail("/proc/swaps still lists the area after swapoff");
    }
    q.verify_ok("after swapoff");
    let out = swaptest_resume(q, pid, RUN);
    q.expect_in("pattern after swapoff", &out, "PATTERN bad=0\n");
    q.expect_in("resumed", &out, &format!("RESUMED: VmSwap 0 kB, resident {HELD}"));
}

fn check(va_bits: u32) {
    let pages = swap_pages();
    let mut q = boot_arm64(va_bits, true, "", RUN);
    check_page_cache(&mut q);
    check_swap(&mut q, pages);
    q.cmd_until("ps", "    2 ?        00:00:00 kswapd0\n");
    q.verify_ok("at the end");
    q.poweroff_ok();
}

#[test]
fn page_cache_and_swap_with_4_levels() {
    check(48);
}

#[test]
fn page_cache_and_swap_with_3_levels() {
    check(39);
}

/// The sum of the `/proc/vmstat` counters named `prefix` + each of `suffixes`.
fn vmstat_sum(q: &mut Qemu, prefix: &str, suffixes: &[&str]) -> u64 {
    suffixes.iter().map(|s| vmstat(q, &format!("{prefix}{s}"))).sum()
}

/// Issue 13's "nothing lost" under real pressure on the 64-bit kernel, booted with the
/// initramfs (`mem=72M`, the 512 MiB card's 471 MiB of swap): `swapstress` writes its pattern
/// into about 1.5 times the free RAM and the rootfs's pages (which go to swap first) from a
/// program on the card; kswapd and
/// direct reclaim scan and steal anonymous pages (out to swap) and clean card pages, the
/// read-back faults them in (major faults, `pswpin`), every word is right; while it holds
/// its memory its `VmSwap` is above zero; afterwards every slot and page is free.
#[test]
fn pages_swapped_out_under_pressure_come_back_intact_4_levels() {
    let pages = swap_pages_of(ARM64_SD_512M_IMG);
    let mut q = boot_arm64_card(48, true, SMALL_RAM_INITRAMFS, PRESSURE_LIMIT, ARM64_SD_512M_IMG);
    let mi = q.cmd("cat /proc/meminfo");
    let (free_kb, shmem_kb) = (meminfo_kb(&q, &mi, "MemFree"), meminfo_kb(&q, &mi, "Shmem"));
    // The initrd's pages (loaded above the limit, added back) join after unpacking.
    let initrd_kb =
        std::fs::metadata(root().join(common::ARM64_INITRAMFS)).map_or(0, |m| m.len()) / 1024 + 4;
    if meminfo_kb(&q, &mi, "MemTotal") > 72 * 1024 + initrd_kb {
        q.fail(&format!(
            "mem=72M should leave at most 72 MiB and the initrd's {initrd_kb} kB:\n{mi}"
        ));
    }
    q.expect_in("boot log", &q.transcript(), "Memory limited to 72MB\n");
    let swap_kb = swapon(&mut q, pages);
    // The rootfs's pages (the initramfs, `Shmem`) go to swap first: 1.5 times the free RAM
    // and them.
    let mib = (free_kb + shmem_kb) * 3 / 2 / 1024;
    if mib * 1024 >= free_kb + swap_kb {
        q.fail(&format!("{mib} MiB must fit in {free_kb} + {swap_kb} kB"));
    }
    let kinds = ["_kswapd", "_direct"];
    let (out0, in0) = (vmstat(&mut q, "pswpout"), vmstat(&mut q, "pswpin"));
    let (scan0, steal0) =
        (vmstat_sum(&mut q, "pgscan", &kinds), vmstat_sum(&mut q, "pgsteal", &kinds));
    let out = q.cmd_timeout(&format!("run /boot/bin/swapstress -m {mib}"), PRESSURE_LIMIT);
    q.expect_in("swapstress", &out, &format!("ok: every word of {} pages right", mib * 256));
    let reread = q.line_with("swapstress", &out, "re-read pass 1:").to_string();
    if !reread.contains(" bad=0 ") {
        q.fail(&format!("words wrong: {reread}"));
    }
    if swapstress_delta(&q, &reread, "majflt") == 0 || swapstress_delta(&q, &reread, "pswpin") == 0
    {
        q.fail(&format!("no major faults or swap-ins reading back: {reread}"));
    }
    let vmswap = q.line_with("swapstress", &out, "VmSwap:").to_string();
    if vmswap.trim_end().ends_with(" 0 kB") {
        q.fail(&format!("nothing in swap while held: {vmswap}"));
    }
    let (pout, pin) = (vmstat(&mut q, "pswpout") - out0, vmstat(&mut q, "pswpin") - in0);
    let scan = vmstat_sum(&mut q, "pgscan", &kinds) - scan0;
    let steal = vmstat_sum(&mut q, "pgsteal", &kinds) - steal0;
    eprintln!(
        "arm64 pressure run: {mib} MiB over {free_kb} kB free, {swap_kb} kB swap: pswpout \
         +{pout}, pswpin +{pin}, pgscan +{scan}, pgsteal +{steal}"
    );
    if pout == 0 || pin == 0 || scan == 0 || steal == 0 || steal > scan {
        q.fail(&format!("pswpout +{pout} pswpin +{pin} pgscan +{scan} pgsteal +{steal}"));
    }
    if vmstat(&mut q, "pgsteal_anon") == 0 {
        q.fail("reclaim stole no anonymous page");
    }
    // The initramfs's pages went first, and stay in swap (nothing read them since).
    let tmpfs_kb = tmpfs_swapped_kb(&mut q);
    let mi = q.cmd("cat /proc/meminfo");
    let shmem_after = meminfo_kb(&q, &mi, "Shmem");
    eprintln!("arm64 rootfs: Shmem {shmem_kb} -> {shmem_after} kB, {tmpfs_kb} kB of tmpfs in swap");
    if tmpfs_kb == 0 || shmem_after + tmpfs_kb > shmem_kb {
        q.fail(&format!("Shmem {shmem_kb} -> {shmem_after} kB with {tmpfs_kb} kB in swap\n{mi}"));
    }
    check_only_slots_cached(&mut q, swap_kb, "after swapstress under pressure");
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(&q, &mi, "AnonPages") != 0 {
        q.fail(&format!("anonymous pages left:\n{mi}"));
    }
    q.poweroff_ok();
}

/// Shared anonymous memory through swap on the 64-bit kernel (the shmem swap path is the
/// shared `kernel::process` code): `shmswap` from the card maps 1.25 times the free RAM
/// `MAP_SHARED|MAP_ANONYMOUS`, its pages go out under pressure and come back on the child's
/// and the parent's faults (major faults, `pswpin`), every word is right, smaps' `Swap:` of
/// the VMA is above zero while held, and afterwards only the slots cache's slots are used.
#[test]
fn shared_anonymous_memory_goes_to_swap_4_levels() {
    let pages = swap_pages();
    let mut q = boot_arm64(48, false, SMALL_RAM, PRESSURE_LIMIT);
    let mi = q.cmd("cat /proc/meminfo");
    let free_kb = meminfo_kb(&q, &mi, "MemFree");
    let swap_kb = swapon(&mut q, pages);
    let mib = free_kb * 5 / 4 / 1024;
    let out = q.cmd_timeout(&format!("run /boot/bin/shmswap -m {mib}"), PRESSURE_LIMIT);
    q.expect_in("shmswap", &out, "SHMSWAP ok: every word right\n");
    if shmswap_kb(&q, &out, "Swap") == 0 {
        q.fail(&format!("no shmem page in swap while held:\n{out}"));
    }
    if shmswap_delta(&q, &out, "child read", "majflt") == 0
        || shmswap_delta(&q, &out, "child read", "pswpin") == 0
    {
        q.fail(&format!("no major faults or swap-ins reading back:\n{out}"));
    }
    shmswap_delta(&q, &out, "parent read", "majflt");
    check_only_slots_cached(&mut q, swap_kb, "after shmswap under pressure");
    q.poweroff_ok();
}
