//! QEMU tests of the files on the SD card: `make sd-image`'s FAT partition mounted on /boot
//! (`ls` and `cat` show what mtools put in the image), programs run from it taking major
//! faults until their pages are cached, `drop_caches` bringing them back, two instances
//! sharing text, mapped reads of a card file counting what `mm::readahead`'s host tests
//! derived from 6.1 (read-ahead on and off), and /proc/diskstats growing by the sectors a
//! read needs.
mod common;

use std::process::Command;

use common::{entry_faults, iowait_counts, meminfo_kb, number_after, Opts, Qemu};

const SD_IMG: &str = "build/sd.img";
/// Partition 1's offset in the image (sector 2048), for mtools' `-i IMG@@OFFSET`.
const P1_OFFSET: u64 = 2048 * 512;
/// The 16 MiB data file the image holds for these tests, and the program that maps it
/// (from the initramfs, so its own pages never touch the card).
const PAGES: &str = "/boot/data/f16m";
const MAPPER: &str = "/bin/vmtest";
const FILE_PAGES: u64 = 4096;

/// Runs an mtools command on partition 1 of the image; its standard output.
fn mtools(tool: &str, args: &[&str]) -> String {
    let img = format!("{}@@{}", common::root().join(SD_IMG).display(), P1_OFFSET);
    let out = Command::new(tool)
        .arg("-i")
        .arg(&img)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (mtools is needed, as for `make sd-image`)"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn boot() -> Qemu {
    Qemu::boot_to_prompt(Opts::raw("2G").initramfs().sd_card()).0
}

/// `ls` output as (mode, size, name) rows.
fn ls_rows(text: &str) -> Vec<(String, u64, String)> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[2].parse().unwrap(), f[3].to_string())
        })
        .collect()
}

#[test]
fn boot_shows_the_fat_volume_of_the_image() {
    let mut q = boot();
    // mtools' bare listing of the root: the names vfat shows (lower-case short names).
    let mut want: Vec<String> = mtools("mdir", &["-b", "::"])
        .lines()
        .map(|l| l.trim_start_matches("::/").trim_end_matches('/').to_string())
        .collect();
    want.sort();
    let rows = ls_rows(&q.cmd("ls /boot"));
    let names: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    if names != want {
        q.fail(&format!("ls /boot: {names:?}, the image holds {want:?}"));
    }
    // Sizes: what mtools extracts from the image.
    for (mode, size, name) in &rows {
        if mode.starts_with('-') {
            let data = Command::new("mtype")
                .arg("-i")
                .arg(format!("{}@@{}", common::root().join(SD_IMG).display(), P1_OFFSET))
                .arg(format!("::{name}"))
                .output()
                .unwrap();
            if data.stdout.len() as u64 != *size {
                q.fail(&format!(
                    "ls /boot: {name} is {size} bytes, {} in the image",
                    data.stdout.len()
                ));
            }
        }
    }
    let config = mtools("mtype", &["::config.txt"]);
    let cat = q.cmd("cat /boot/config.txt");
    if cat != config {
        q.fail(&format!("cat /boot/config.txt:\n{cat}\nthe image holds:\n{config}"));
    }
    // The programs in /boot/bin: every one, with the size of the file it was copied from.
    for (_, size, name) in ls_rows(&q.cmd("ls /boot/bin")) {
        let host = common::root().join("build/user/arm").join(&name);
        let len = std::fs::metadata(&host).map(|m| m.len()).unwrap_or(0);
        if len != size {
            q.fail(&format!("/boot/bin/{name}: {size} bytes, {} has {len}", host.display()));
        }
    }
    // A directory that does not exist, and a file opened for writing: read-only.
    let out = q.cmd("ls /boot/nothing");
    q.expect_in("ls", &out, "ls: cannot access '/boot/nothing': No such file or directory");
    let ra = q.cmd("blockdev --getra /dev/mmcblk0");
    q.expect_in("blockdev", &ra, "256\n");
    q.verify_ok("after the listing");
    q.poweroff_ok();
}

fn vmstat(q: &mut Qemu, key: &str) -> u64 {
    let v = q.cmd("cat /proc/vmstat");
    let line = q.line_with("/proc/vmstat", &v, &format!("{key} "));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn programs_from_boot_take_major_faults_until_cached() {
    let mut q = boot();
    let mi = q.cmd("cat /proc/meminfo");
    let cached0 = meminfo_kb(&q, &mi, "Cached");
    let maj0 = vmstat(&mut q, "pgmajfault");
    let out = q.cmd("run /boot/bin/vmtest entry");
    let (_, first) = entry_faults(&q, &out);
    if first == 0 {
        q.fail("the first run from /boot took no major fault");
    }
    // pgmajfault counts the faults that found their page missing (`filemap_fault`); a
    // fault retried after async read-ahead is major for the task only.
    let grew = vmstat(&mut q, "pgmajfault") - maj0;
    if grew == 0 || grew > first {
        q.fail(&format!("pgmajfault grew by {grew} for a run with {first} major faults"));
    }
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(&q, &mi, "Cached") <= cached0 || meminfo_kb(&q, &mi, "Buffers") == 0 {
        q.fail(&format!("Cached should grow by the program's pages, Buffers hold the FAT:\n{mi}"));
    }
    let out = q.cmd("run /boot/bin/vmtest entry");
    if entry_faults(&q, &out).1 != 0 {
        q.fail("the second run took major faults: its pages were cached");
    }
    // Two instances at once (fork + exec of itself): the children find the text cached.
    let out = q.cmd("run /boot/bin/vmtest exec");
    for l in out.lines().filter(|l| l.contains("at main entry:")) {
        if !l.ends_with("majflt=0") {
            q.fail(&format!("an instance took major faults: {l}"));
        }
    }
    // A program writes /proc/sys/vm/drop_caches (the kernel logs the writer, as 6.1 does).
    let out = q.cmd("run /bin/vmtest dropcaches 3");
    q.expect_in("dropcaches", &out, "dropcaches 3: ok");
    q.expect_in("dropcaches", &out, "vmtest (");
    q.expect_in("dropcaches", &out, "): drop_caches: 3");
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(&q, &mi, "Buffers") != 0 || meminfo_kb(&q, &mi, "Cached") > cached0 {
        q.fail(&format!("drop_caches left card pages cached:\n{mi}"));
    }
    let out = q.cmd("run /boot/bin/vmtest entry");
    if entry_faults(&q, &out).1 != first {
        q.fail(&format!("after drop_caches: {out} (the first run took {first} major faults)"));
    }
    if vmstat(&mut q, "drop_pagecache") != 1 || vmstat(&mut q, "drop_slab") != 1 {
        q.fail("/proc/vmstat: drop_pagecache and drop_slab should be 1");
    }
    let out = q.cmd("echo 5 > /proc/sys/vm/drop_caches");
    q.expect_in("echo", &out, "echo: write error: Invalid argument");
    let out = q.cmd("run /bin/vmtest dropcaches 0");
    q.expect_in("dropcaches", &out, "dropcaches 0: Invalid argument");
    let out = q.cmd("cat /proc/sys/vm/drop_caches");
    q.expect_in("cat", &out, "cat: /proc/sys/vm/drop_caches: Permission denied");
    q.verify_ok("after the runs");
    q.poweroff_ok();
}

/// A card file's pages are file pages, not tmpfs ones (6.1 decides by `PageSwapBacked`): a
/// program run from /boot counts its mapped text in `RssFile` (none in `RssShmem`) and smaps
/// shows it clean (`Shared_Clean`/`Private_Clean`), while the same program from the initramfs
/// keeps `RssShmem` and dirty text; mapping and reading a card file leaves meminfo's Shmem
/// where it was.
#[test]
fn card_pages_are_file_pages_and_rootfs_pages_shmem() {
    let mut q = boot();
    common::sd::check_card_program_is_file_pages(&mut q, common::SLOW_STEP);
    common::sd::check_rootfs_program_is_shmem(&mut q, common::SLOW_STEP);
    let mi = q.cmd("cat /proc/meminfo");
    let (shmem0, cached0) = (meminfo_kb(&q, &mi, "Shmem"), meminfo_kb(&q, &mi, "Cached"));
    q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} 256"), common::SLOW_STEP);
    let mi = q.cmd("cat /proc/meminfo");
    if meminfo_kb(&q, &mi, "Shmem") != shmem0 || meminfo_kb(&q, &mi, "Cached") <= cached0 {
        q.fail(&format!("a mapped card file's pages are Cached, not Shmem ({shmem0} kB):\n{mi}"));
    }
    q.verify_ok("after the card and rootfs programs");
    q.poweroff_ok();
}

/// `vmtest filealigned`'s first-read deltas: (minflt, majflt).
fn first_read(q: &Qemu, out: &str) -> (u64, u64) {
    let l = q.line_with("vmtest filealigned", out, "first-read +");
    let d = l.split("first-read +").nth(1).unwrap();
    let (min, rest) = d.split_once("/+").unwrap();
    (min.parse().unwrap(), rest.split_whitespace().next().unwrap().parse().unwrap())
}

/// /proc/diskstats' reads and read sectors of `dev`.
fn reads(q: &mut Qemu, dev: &str) -> (u64, u64) {
    let t = q.cmd("cat /proc/diskstats");
    let l = q.line_with("/proc/diskstats", &t, &format!(" {dev} "));
    let f: Vec<u64> = l.split_whitespace().skip(3).map(|x| x.parse().unwrap()).collect();
    (f[0], f[2])
}

/// The counts `mm::readahead`'s `mapped_reads_count_as_linux_61_filemap_on_fat` and
/// `mapped_reads_without_read_ahead_fault_every_page` derive from 6.1, on the card.
#[test]
fn mapped_card_reads_count_as_the_read_ahead_model() {
    let mut q = boot();
    // Warm the file's cluster chain (kept by `echo 1`), so the reads below are data only:
    // the whole file, as the chain is walked only as far as the reads go.
    q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} {FILE_PAGES}"), common::SLOW_STEP);
    for (n, want) in [(1, (0, 1)), (16, (0, 1)), (256, (8, 9)), (4096, (128, 129))] {
        q.cmd("echo 1 > /proc/sys/vm/drop_caches");
        let before = reads(&mut q, "mmcblk0p1");
        let out =
            q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} {n}"), common::SLOW_STEP);
        let got = first_read(&q, &out);
        if got != want {
            q.fail(&format!(
                "N={n}: first read (minflt, majflt) {got:?}, the model gives {want:?}"
            ));
        }
        // Read-around then 32-page windows: pages 0-31 and one window per 32 pages after,
        // up to the end of the 4096-page file.
        let after = reads(&mut q, "mmcblk0p1");
        let pages = if n <= 16 { 32 } else { (32 + n as u64).min(FILE_PAGES) };
        if after.1 - before.1 != pages * 8 || after.0 - before.0 < pages / 32 {
            q.fail(&format!(
                "N={n}: diskstats reads {before:?} -> {after:?}: {} sectors expected",
                pages * 8
            ));
        }
    }
    // read_ahead_kb 0: every page its own major fault and its own 8-sector read.
    q.cmd("blockdev --setra 0 /dev/mmcblk0");
    let ra = q.cmd("blockdev --getra /dev/mmcblk0p1");
    q.expect_in("getra", &ra, "0\n");
    for n in [1u64, 16, 256] {
        q.cmd("echo 1 > /proc/sys/vm/drop_caches");
        let before = reads(&mut q, "mmcblk0p1");
        let out =
            q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} {n}"), common::SLOW_STEP);
        let got = first_read(&q, &out);
        if got != (0, n) {
            q.fail(&format!("read-ahead off, N={n}: (minflt, majflt) {got:?}, expected (0, {n})"));
        }
        let after = reads(&mut q, "mmcblk0p1");
        if after != (before.0 + n, before.1 + 8 * n) {
            q.fail(&format!("read-ahead off, N={n}: diskstats {before:?} -> {after:?}"));
        }
    }
    q.cmd("blockdev --setra 256 /dev/mmcblk0");
    // A console read of a small file (its cluster chain known): one request of the
    // sectors holding it.
    q.cmd("cat /boot/config.txt");
    q.cmd("echo 1 > /proc/sys/vm/drop_caches");
    let before = reads(&mut q, "mmcblk0p1");
    q.cmd("cat /boot/config.txt");
    let after = reads(&mut q, "mmcblk0p1");
    let size = mtools("mtype", &["::config.txt"]).len() as u64;
    if after != (before.0 + 1, before.1 + size.div_ceil(512)) {
        q.fail(&format!("cat /boot/config.txt ({size} bytes): diskstats {before:?} -> {after:?}"));
    }
    q.verify_ok("after the mapped reads");
    q.poweroff_ok();
}

/// A `read()` of a card file waits for the card asleep, with every lock dropped, while
/// another program runs (issue 13: "the faulting task sleeps and other tasks run while the
/// card works"). `cardwait`, run from the card itself (its `execve` reads through the same
/// path), drops the caches, starts a CPU-bound spinner and reads 4 MiB of the pattern file
/// in 64 KiB `read()`s. Counted, not timed: the reader's voluntary context switches over its
/// reads are its sleeps (a wait under the page cache's lock idled the CPU and counted none);
/// the spinner, which never sleeps, is preempted at least once per sleep (the reader's
/// wake-up takes the CPU back from it); every byte is right.
#[test]
fn a_read_of_a_card_file_sleeps_while_another_program_runs() {
    let mut q = boot();
    let before = reads(&mut q, "mmcblk0p1");
    let out =
        q.cmd_timeout("run /boot/bin/cardwait /boot/data/f16m 4194304 65536", common::SLOW_STEP);
    let line = q.line_with("cardwait", &out, "cardwait: read ").to_string();
    if !line.contains("read 4194304 bytes in 64 reads, pattern ok (0 wrong)") {
        q.fail(&format!("bytes wrong or missing: {line}"));
    }
    let slept = number_after(&q, &line, "reader slept ");
    let preempted = number_after(&q, &line, "preempted ");
    assert!(slept > 0, "the reads never slept: {line}");
    assert!(preempted >= slept, "the spinner did not get the CPU at each sleep: {line}");
    // The 4 MiB came from the card (8192 sectors at least), after drop_caches.
    let after = reads(&mut q, "mmcblk0p1");
    assert!(after.1 - before.1 >= 8192, "sectors read {before:?} -> {after:?}");
    q.verify_ok("after read()s that slept on the card");
    q.poweroff_ok();
}

/// Every wait for the card on behalf of a program is a sleep (issue 13: "the faulting task
/// sleeps and other tasks run while the card works"), in each of the ways a program reads a
/// card file after `drop_caches`: `read()`, `readv()` (which also goes on where it stopped:
/// every byte lands where it belongs), the faults of a mapping, whose first faults also
/// read the FAT for the cluster chain, and `write()`/`writev()` to a tmpfs file straight from
/// that mapping, whose copy in (under the namespace's lock) faults on the card's pages. `cardwait` reads 2 MiB each way with a CPU-bound
/// spinner beside it; the console's `iowait` counts the programs' waits for the card asleep
/// and idle (a wait under a lock, the CPU in `wfi` and the spinner stopped): no idle wait
/// may be added, the sleeps must be, and the spinner gets the CPU at each of the reader's
/// sleeps.
/// A fault that must first read its file's cluster chain from the FAT (after `drop_caches` 3)
/// sleeps for it and is run again inside the kernel, uncounted: 6.1 reads the FAT inside the
/// fault (asleep in `sb_bread`) and counts the fault once, so `pgfault`, `pgmajfault` and the
/// program's own counts are what they are with the chain still known (`drop_caches` 1).
#[test]
fn a_fault_that_reads_the_fat_is_counted_as_one_that_does_not() {
    let mut q = boot();
    // Warm the chain as far as the runs below reach.
    q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} 256"), common::SLOW_STEP);
    let mut runs = Vec::new();
    for drop in [1, 3] {
        q.cmd(&format!("echo {drop} > /proc/sys/vm/drop_caches"));
        let (f0, m0, w0) =
            (vmstat(&mut q, "pgfault"), vmstat(&mut q, "pgmajfault"), iowait_counts(&mut q));
        let before = reads(&mut q, "mmcblk0p1");
        let out =
            q.cmd_timeout(&format!("run {MAPPER} filealigned {PAGES} 256"), common::SLOW_STEP);
        let after = reads(&mut q, "mmcblk0p1");
        let (f1, m1, w1) =
            (vmstat(&mut q, "pgfault"), vmstat(&mut q, "pgmajfault"), iowait_counts(&mut q));
        assert_eq!(w1.1, w0.1, "drop_caches {drop}: a wait for the card idled");
        runs.push((first_read(&q, &out), f1 - f0, m1 - m0, after.1 - before.1));
    }
    let (cached, cold) = (runs[0], runs[1]);
    eprintln!("((minflt, majflt), pgfault, pgmajfault, sectors): {cached:?} then {cold:?}");
    // The cold run read the FAT too: more sectors, the same faults.
    if cold.3 <= cached.3 || (cold.0, cold.1, cold.2) != (cached.0, cached.1, cached.2) {
        q.fail(&format!(
            "((minflt, majflt), pgfault, pgmajfault, sectors): chain known {cached:?}, \
             read from the FAT {cold:?}"
        ));
    }
    q.verify_ok("after the runs");
    q.poweroff_ok();
}

#[test]
fn every_wait_of_a_program_for_the_card_is_a_sleep() {
    let mut q = boot();
    for mode in ["read", "readv", "mmap", "write", "writev"] {
        let before = iowait_counts(&mut q);
        let out = q.cmd_timeout(
            &format!("run /boot/bin/cardwait /boot/data/f16m 2097152 65536 {mode}"),
            common::SLOW_STEP,
        );
        let line = q.line_with("cardwait", &out, "cardwait: ").to_string();
        if !line.contains("2097152 bytes in 32 reads, pattern ok (0 wrong)") {
            q.fail(&format!("{mode}: bytes wrong or missing: {line}"));
        }
        let after = iowait_counts(&mut q);
        let slept = number_after(&q, &line, "reader slept ");
        let preempted = number_after(&q, &line, "preempted ");
        assert!(slept > 0, "{mode}: the reads never slept: {line}");
        assert_eq!(after.1, before.1, "{mode}: a program waited idle for the card: {line}");
        assert!(after.0 > before.0, "{mode}: no sleep counted: {before:?} -> {after:?}");
        assert!(preempted >= slept, "{mode}: the spinner did not run at each sleep: {line}");
        eprintln!("{line}; iowait {before:?} -> {after:?}");
    }
    q.verify_ok("after the reads that slept on the card");
    q.poweroff_ok();
}
