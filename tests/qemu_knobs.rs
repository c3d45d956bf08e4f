//! QEMU tests of the knob files and the card's block-device files: `/proc/sys/vm/*` read and
//! written by programs and the console (`cat`, `echo N >`, `sysctl`), each change showing in
//! live behaviour (the watermarks in /proc/zoneinfo, fault-around's faults, swap read-ahead's
//! order), bad values refused with `EINVAL`; debugfs's `fault_around_bytes`; and
//! `/dev/mmcblk0p2` opened, sized (`BLKGETSIZE64`) and mapped by a program through the
//! device's page cache (`Buffers`), with the reference's raw-partition counts.
mod common;

use common::{meminfo_kb, Opts, Qemu};

fn boot() -> Qemu {
    Qemu::boot_to_prompt(Opts::raw("2G").initramfs().sd_card()).0
}

/// A watermark (`min`, `low`, `high`) of zone `zone` in /proc/zoneinfo, in pages.
fn wmark_of(q: &mut Qemu, zone: &str, which: &str) -> u64 {
    let t = q.cmd("cat /proc/zoneinfo");
    let start =
        t.find(&format!("zone {zone:>8}")).unwrap_or_else(|| q.fail(&format!("no zone {zone}")));
    t[start..]
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 2 && f[0] == which).then(|| f[1].parse::<u64>().ok()).flatten()
        })
        .unwrap_or_else(|| q.fail(&format!("zone {zone} has no {which}")))
}

/// The Normal zone's watermark `which` (2G: all of lowmem is Normal).
fn wmark(q: &mut Qemu, which: &str) -> u64 {
    wmark_of(q, "Normal", which)
}

/// `vmtest file`'s first-read deltas: (minflt, majflt).
fn first_read(q: &Qemu, what: &str, out: &str) -> (u64, u64) {
    let l = q.line_with(what, out, "first-read +");
    let d = l.split("first-read +").nth(1).unwrap();
    let (min, rest) = d.split_once("/+").unwrap();
    (min.parse().unwrap(), rest.split_whitespace().next().unwrap().parse().unwrap())
}

#[test]
fn proc_sys_vm_knobs_change_live_behaviour() {
    let mut q = boot();
    let all = q.cmd("sysctl -a");
    for want in ["vm.page-cluster = 3", "vm.swappiness = 60", "vm.watermark_scale_factor = 10"] {
        q.expect_in("sysctl -a", &all, want);
    }
    // drop_caches is write-only: sysctl -a leaves it out, as procps does.
    if all.contains("drop_caches") {
        q.fail(&format!("sysctl -a shows the write-only drop_caches:\n{all}"));
    }
    let min_free: u64 = q.cmd("cat /proc/sys/vm/min_free_kbytes").trim().parse().unwrap();
    q.expect_in("sysctl -a", &all, &format!("vm.min_free_kbytes = {min_free}"));
    // min_free_kbytes: the zones' min watermarks are its pages, split by zone size.
    let min0 = wmark(&mut q, "min");
    q.cmd("echo 16384 > /proc/sys/vm/min_free_kbytes");
    let min1 = wmark(&mut q, "min");
    if min1 <= min0 || min1 != 16384 / 4 {
        q.fail(&format!("min watermarks {min0} -> {min1} pages for min_free_kbytes 16384"));
    }
    // watermark_scale_factor: the gap between min and high grows with it.
    let gap0 = wmark(&mut q, "high") - wmark(&mut q, "min");
    let out = q.cmd("sysctl vm.watermark_scale_factor=100");
    q.expect_in("sysctl", &out, "vm.watermark_scale_factor = 100");
    let gap1 = wmark(&mut q, "high") - wmark(&mut q, "min");
    if gap1 <= gap0 {
        q.fail(&format!("high-min gap {gap0} -> {gap1} pages for watermark_scale_factor 100"));
    }
    // A program writes a knob and reads it back (cardmap prints old -> new).
    let out = q.cmd("run /bin/cardmap pc 0");
    q.expect_in("cardmap pc", &out, "/proc/sys/vm/page-cluster: 3 -> 0");
    let out = q.cmd("sysctl vm.page-cluster");
    q.expect_in("sysctl", &out, "vm.page-cluster = 0");
    q.cmd("echo 100 > /proc/sys/vm/swappiness");
    let out = q.cmd("cat /proc/sys/vm/swappiness");
    q.expect_in("cat", &out, "100");
    // Bad values: EINVAL, the value unchanged.
    for (cmd, msg) in [
        ("echo 201 > /proc/sys/vm/swappiness", "echo: write error: Invalid argument"),
        ("echo -1 > /proc/sys/vm/page-cluster", "echo: write error: Invalid argument"),
        ("echo 12x > /proc/sys/vm/min_free_kbytes", "echo: write error: Invalid argument"),
        ("echo > /proc/sys/vm/swappiness", "echo: write error: Invalid argument"),
        (
            "sysctl vm.watermark_scale_factor=0",
            "setting key \"vm.watermark_scale_factor\": Invalid argument",
        ),
        ("sysctl vm.nosuch=1", "cannot stat /proc/sys/vm/nosuch: No such file or directory"),
        ("echo 1 > /proc/sys/vm/nosuch", "/proc/sys/vm/nosuch: No such file or directory"),
        ("cat /proc/sys/vm/drop_caches", "cat: /proc/sys/vm/drop_caches: Permission denied"),
    ] {
        let out = q.cmd(cmd);
        q.expect_in(cmd, &out, msg);
    }
    let out = q.cmd("cat /proc/sys/vm/swappiness");
    q.expect_in("cat", &out, "100");
    q.verify_ok("after the knobs");
    q.poweroff_ok();
}

#[test]
fn fault_around_bytes_is_debugfs_and_sets_the_window() {
    let mut q = boot();
    let out = q.cmd("cat /sys/kernel/debug/fault_around_bytes");
    q.expect_in("cat", &out, "65536");
    // The initramfs's f16m: 256 pages read with 16-page fault-around are 17 faults (16 when
    // the mapping is 64 KiB-aligned), with one page each 256.
    let out = q.cmd("run /bin/vmtest filealigned /data/f16m 256");
    assert_eq!(first_read(&q, "fault-around 64 KiB", &out), (16, 0));
    // A program sets it (rounded down to a power of two, at least a page).
    let out = q.cmd("run /bin/cardmap fa 5000");
    q.expect_in("cardmap fa", &out, "fault_around_bytes: 65536 -> 5000");
    let out = q.cmd("cat /sys/kernel/debug/fault_around_bytes");
    q.expect_in("cat", &out, "4096");
    let out = q.cmd("run /bin/vmtest filealigned /data/f16m 256");
    assert_eq!(first_read(&q, "fault-around 4 KiB", &out), (256, 0));
    q.cmd("echo 32768 > /sys/kernel/debug/fault_around_bytes");
    let out = q.cmd("run /bin/vmtest filealigned /data/f16m 256");
    assert_eq!(first_read(&q, "fault-around 32 KiB", &out), (32, 0));
    // More than PTRS_PER_PTE pages, or not a number: EINVAL, unchanged.
    for bad in ["2101248", "4096x", "-1"] {
        let out = q.cmd(&format!("echo {bad} > /sys/kernel/debug/fault_around_bytes"));
        q.expect_in(bad, &out, "echo: write error: Invalid argument");
    }
    let out = q.cmd("cat /sys/kernel/debug/fault_around_bytes");
    q.expect_in("cat", &out, "32768");
    q.poweroff_ok();
}

/// The reference's raw-partition mapping (LINUX_USER_FACTS §4): `/dev/mmcblk0p2` mapped
/// with `read_ahead_kb` 0 takes a major fault per page, none on a second run; the pages are
/// the device's cache (`Buffers`), dropped by `drop_caches`.
#[test]
fn a_program_maps_a_raw_partition_through_its_page_cache() {
    let mut q = boot();
    let out = q.cmd("ls /dev");
    for dev in ["mmcblk0", "mmcblk0p1", "mmcblk0p2"] {
        q.expect_in("ls /dev", &out, &format!("brw-rw----  1        0 {dev}"));
    }
    q.cmd("blockdev --setra 0 /dev/mmcblk0");
    let out = q.cmd("run /bin/blkmap /dev/mmcblk0p2 1");
    // p2: 47104 sectors; BLKRAGET in sectors (read_ahead_kb 0).
    q.expect_in("blkmap", &out, "blkmap /dev/mmcblk0p2: block 179:2 size 24117248 ra 0");
    for n in [1u64, 16, 256] {
        q.cmd("echo 3 > /proc/sys/vm/drop_caches");
        let mi = q.cmd("cat /proc/meminfo");
        if meminfo_kb(&q, &mi, "Buffers") != 0 {
            q.fail(&format!("drop_caches left Buffers:\n{mi}"));
        }
        let out = q.cmd(&format!("run /bin/blkmap /dev/mmcblk0p2 {n}"));
        q.expect_in("blkmap", &out, &format!("N={n}: first-read +0/+{n}  re-read +0/+0  pread ok"));
        let mi = q.cmd("cat /proc/meminfo");
        if meminfo_kb(&q, &mi, "Buffers") != n * 4 {
            q.fail(&format!("N={n}: Buffers should be {} kB:\n{mi}", n * 4));
        }
    }
    // The second run: every page cached, no major fault (fault-around maps 16 per fault).
    let out = q.cmd("run /bin/blkmap /dev/mmcblk0p2 256");
    q.expect_in("blkmap", &out, "N=256: first-read +");
    q.expect_in("blkmap", &out, "/+0  re-read +0/+0  pread ok");
    // Past the end (p2 has 5888 pages); opened for writing: read-only here.
    let out = q.cmd("run /bin/blkmap /dev/mmcblk0p2 6000");
    q.expect_in("blkmap", &out, "N=6000: the device has 5888 pages");
    let out = q.cmd("run /bin/blkmap /dev/mmcblk0 1");
    q.expect_in("blkmap", &out, "blkmap /dev/mmcblk0: block 179:0 size 67108864 ra 0");
    q.cmd("blockdev --setra 256 /dev/mmcblk0");
    q.verify_ok("after the raw mappings");
    q.poweroff_ok();
}
