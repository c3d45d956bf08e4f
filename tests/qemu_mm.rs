//! Physical memory management on the real kernel: /proc/meminfo adding up to what the firmware
//! reported minus the reservations, highmem on the 3G build, memtest, the page allocation
//! failure report, the /proc and debugfs files, kmalloc/kfree, bad input to all of it, and the
//! sixteen-free-list build variant.
//! Needs `make kernel VMSPLIT=2G|3G` and the variant (`make test` builds them all).

mod common;
use common::*;
use std::time::Duration;

/// memtest writes and reads all of RAM: give it more than one console step.
const MEMTEST: Duration = Duration::from_secs(45);

fn boot(split: &'static str) -> (Qemu, String) {
    Qemu::boot_to_prompt(Opts::raw(split))
}

/// The number before `unit` in the field of `line` that ends with `suffix`, e.g. the 276 in
/// "..., 276K reserved, ..." for (`K reserved`).
fn number_before(q: &Qemu, line: &str, suffix: &str) -> u64 {
    let end = line.find(suffix).unwrap_or_else(|| q.fail(&format!("no {suffix:?} in {line:?}")));
    let start = line[..end].rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    line[start..end].parse().unwrap_or_else(|_| q.fail(&format!("no number before {suffix:?}")))
}

fn meminfo_adds_up(split: &'static str, highmem_kb: u64) {
    let (mut q, log) = boot(split);
    let mem = q.line_with("boot log", &log, "Memory: ").to_string();
    let total = number_before(&q, &mem, "K available");
    let reserved = number_before(&q, &mem, "K reserved");
    let highmem = number_before(&q, &mem, "K highmem");
    let mi = q.cmd("cat /proc/meminfo");
    let mem_total = meminfo_kb(&q, &mi, "MemTotal");
    if mem_total != total - reserved {
        q.fail(&format!("MemTotal {mem_total} kB != {total} kB of RAM - {reserved} kB reserved"));
    }
    let (high_total, low_total) =
        (meminfo_kb(&q, &mi, "HighTotal"), meminfo_kb(&q, &mi, "LowTotal"));
    // The Memory: line counts the CMA area apart (`cma-reserved`), as 6.1 does: on the 3G
    // build the area is in highmem, which it joins once activated.
    let cma = number_before(&q, &mem, "K cma-reserved");
    let cma_in_high = if highmem_kb > 0 { cma } else { 0 };
    if high_total != highmem_kb || highmem + cma_in_high != highmem_kb {
        q.fail(&format!("HighTotal {high_total} kB / Memory: {highmem}K, expected {highmem_kb}"));
    }
    if low_total + high_total != mem_total {
        q.fail("LowTotal + HighTotal != MemTotal");
    }
    let free = meminfo_kb(&q, &mi, "MemFree");
    if free > mem_total || free + 1024 < mem_total - 4096 {
        q.fail(&format!("MemFree {free} kB is not nearly all of MemTotal {mem_total} kB"));
    }
    q.expect_in("/proc/meminfo", &mi, "VmallocTotal:");
    q.poweroff_ok();
}

#[test]
fn meminfo_totals_2g() {
    meminfo_adds_up("2G", 0);
}

#[test]
fn meminfo_totals_3g_has_highmem() {
    // 960 MiB of RAM, 768 MiB of lowmem: the top 192 MiB are HighMem.
    meminfo_adds_up("3G", 192 * 1024);
}

#[test]
fn memtest_covers_lowmem_and_highmem() {
    let (mut q, _) = boot("3G");
    let mi = q.cmd("cat /proc/meminfo");
    let free_before = meminfo_kb(&q, &mi, "MemFree");
    // Free pages cached on the per-CPU lists are not in MemFree; /proc/zoneinfo counts them.
    let cached = q.pcp_cached_pages();
    let out = q.cmd_timeout("memtest", MEMTEST);
    let verdict = q.line_with("memtest", &out, "memtest: ");
    let verdict = out.lines().rfind(|l| l.starts_with("memtest: ")).unwrap_or(verdict);
    if !verdict.starts_with("memtest: ok, ") || !verdict.ends_with("(49152 highmem)") {
        q.fail(&format!("memtest verdict: {verdict:?}"));
    }
    let pages = number_before(&q, verdict, " pages");
    if pages * 4 != free_before + cached * 4 {
        q.fail(&format!(
            "memtest tested {pages} pages, but MemFree was {free_before} kB and {cached} pages were cached"
        ));
    }
    // memtest drains the lists before and after: every page it tested is back in MemFree.
    let mi = q.cmd("cat /proc/meminfo");
    let free_after = meminfo_kb(&q, &mi, "MemFree");
    if free_after != pages * 4 {
        q.fail(&format!("memtest tested {pages} pages, MemFree is {free_after} kB after"));
    }
    q.poweroff_ok();
}

#[test]
fn allocation_failure_report_and_recovery() {
    let (mut q, _) = boot("2G");
    let out = q.cmd("frag checkerboard");
    q.expect_in("frag", &out, "frag: checkerboard Normal: took ");
    let out = q.cmd("alloc_pages 10");
    q.expect_in(
        "alloc_pages 10",
        &out,
        "swapper/0: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null)",
    );
    q.expect_in("alloc_pages 10", &out, "Mem-Info:");
    let zone_line = q.line_with("alloc_pages 10", &out, "Normal: ");
    q.expect_in("free area line", zone_line, "*4kB ");
    // After the checkerboard the only order-10 blocks left are the CMA area's, which a
    // kernel request may not use.
    let order10 = zone_line.split("*4096kB ").nth(1).unwrap_or("");
    if !zone_line.contains(" 0*4096kB = ") && !order10.starts_with("(C) = ") {
        q.fail(&format!(
            "after the checkerboard only CMA order-10 blocks may be free: {zone_line:?}"
        ));
    }
    // __GFP_NOWARN: the same failure, without the report.
    let out = q.cmd("alloc_pages 10 GFP_KERNEL|__GFP_NOWARN");
    if out.contains("page allocation failure") {
        q.fail("__GFP_NOWARN must suppress the failure report");
    }
    let out = q.cmd("frag release");
    q.expect_in("frag release", &out, "frag: released ");
    let out = q.cmd("alloc_pages 10");
    q.expect_in("alloc_pages 10 after release", &out, "order 10 GFP_KERNEL -> pfn 0x");
    q.poweroff_ok();
}

#[test]
fn proc_files_have_linux_shape() {
    let (mut q, _) = boot("3G");
    let buddy = q.cmd("cat /proc/buddyinfo");
    for zone in ["Node 0, zone   Normal ", "Node 0, zone  HighMem "] {
        let line = q.line_with("buddyinfo", &buddy, zone);
        let columns = line[zone.len()..].split_whitespace().count();
        if columns != 11 {
            q.fail(&format!("buddyinfo: {columns} orders in {line:?}, expected 11"));
        }
    }
    let zi = q.cmd("cat /proc/zoneinfo");
    for s in
        ["Node 0, zone   Normal", "Node 0, zone  Movable", "  pages free     ", "protection: ("]
    {
        q.expect_in("zoneinfo", &zi, s);
    }
    let pti = q.cmd("cat /proc/pagetypeinfo");
    q.expect_in("pagetypeinfo", &pti, "Page block order: 10\nPages per block:  1024\n");
    // Mobility grouping: the kernel's boot allocations claimed a few Unmovable pageblocks, the
    // rest of Normal is Movable (columns: Unmovable Movable Reclaimable ...).
    let blocks = q.line_with("pagetypeinfo", &pti, "Node 0, zone   Normal  ");
    let counts: Vec<u64> = blocks["Node 0, zone   Normal ".len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    if counts.len() != 6 || counts[0] == 0 || counts[1] <= counts[0] || counts[0] + counts[1] != 192
    {
        q.fail(&format!("pageblocks per type in Normal: {blocks:?}"));
    }
    let si = q.cmd("cat /proc/slabinfo");
    q.expect_in("slabinfo", &si, "slabinfo - version: 2.1\n");
    q.expect_in("slabinfo", &si, "kmalloc-64 ");
    let ui = q.cmd("cat /sys/kernel/debug/extfrag/unusable_index");
    q.expect_in("unusable_index", &ui, "Node 0, zone   Normal 0.000 ");
    let fi = q.cmd("cat /sys/kernel/debug/extfrag/extfrag_index");
    q.expect_in("extfrag_index", &fi, "Node 0, zone   Normal -1.000 ");
    q.poweroff_ok();
}

#[test]
fn kmalloc_round_trip_and_bad_input() {
    let (mut q, _) = boot("2G");
    let out = q.cmd("kmalloc 100");
    q.expect_in("kmalloc 100", &out, "(kmalloc-128, ksize 128)");
    let addr = hex_numbers(&out)[0];
    let out = q.cmd(&format!("peek {addr:#x}"));
    q.expect_in("peek of a kmalloc object", &out, &format!("{addr:#010x}: "));
    q.cmd_silent(&format!("kfree {addr:#x}"));
    let out = q.cmd(&format!("kfree {addr:#x}"));
    q.expect_in("second kfree", &out, "kfree: double free of ");
    for (cmd, expect) in [
        ("kmalloc -1", "kmalloc: "),
        ("kmalloc 4194305", "kmalloc: size 4194305 exceeds KMALLOC_MAX_SIZE (4194304 bytes)"),
        ("kfree 0x1234", "kfree: invalid pointer 0x00001234"),
        ("alloc_pages 99", "alloc_pages: order 99 out of range"),
        ("alloc_pages 1 GFP_BOGUS", "alloc_pages: "),
        ("free_pages 0x1234 0", "BUG: Bad page state"),
    ] {
        let out = q.cmd(cmd);
        q.expect_in(cmd, &out, expect);
    }
    // A page freed twice is caught, and the allocator still works afterwards.
    let out = q.cmd("alloc_pages 0");
    let va = hex_numbers(&out)[2];
    q.cmd(&format!("free_pages {va:#x} 0"));
    let out = q.cmd(&format!("free_pages {va:#x} 0"));
    q.expect_in("double free_pages", &out, "BUG: Bad page state");
    let out = q.cmd("alloc_pages 0");
    q.expect_in("alloc after bad frees", &out, "order 0 GFP_KERNEL -> pfn 0x");
    q.poweroff_ok();
}

/// The 16-list build (`make kernel VMSPLIT=3G MAX_ORDER=16`, like the case study's Android
/// kernel): /proc/buddyinfo and pagetypeinfo have sixteen orders, pageblocks are order 15,
/// an order-15 block (128 MiB) can be had and freed, order 16 is out of range, and memtest
/// still gets every page back.
#[test]
fn sixteen_free_lists_3g() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").max_order(16));
    let buddyinfo = q.cmd("cat /proc/buddyinfo");
    for line in buddyinfo.lines() {
        let counts = line.split_once("zone").map_or(0, |(_, r)| r.split_whitespace().count() - 1);
        if counts != 16 {
            q.fail(&format!("buddyinfo: expected 16 orders per zone, got {counts} in {line:?}"));
        }
    }
    let pagetypeinfo = q.cmd("cat /proc/pagetypeinfo");
    q.expect_in("pagetypeinfo", &pagetypeinfo, "Page block order: 15\nPages per block:  32768\n");
    let out = q.cmd("alloc_pages 15");
    q.expect_in("alloc_pages 15", &out, "order 15 GFP_KERNEL -> pfn 0x");
    let pfn = hex_numbers(&out)[0];
    q.cmd_silent(&format!("__free_pages {pfn:#x} 15"));
    // Back at the head of its list: the next order-15 request gets the same block.
    let out = q.cmd("alloc_pages 15");
    q.expect_in("alloc_pages 15 again", &out, &format!("-> pfn {pfn:#x} "));
    q.cmd(&format!("__free_pages {pfn:#x} 15"));
    let out = q.cmd("alloc_pages 16");
    q.expect_in("alloc_pages 16", &out, "order 16 out of range (0-15)");
    let memtest = q.cmd_timeout("memtest", MEMTEST);
    q.expect_in("memtest", &memtest, "memtest: ok, ");
    q.poweroff_ok();
}
