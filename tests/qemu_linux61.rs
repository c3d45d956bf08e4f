//! The page allocator configured as Linux 6.1 on this board, on the real kernel: the
//! `debian-armmp` profile against the reference sample of Debian's armmp 6.1 kernel booted
//! on the same QEMU board (tests/samples/, parsed here, never copied into the test), the
//! default build's CMA area and console commands, the per-CPU lists of each era, and the
//! MAX_ORDER build variants. Needs `make kernel VMSPLIT=3G MAX_ORDER=12`, `make kernel
//! VMSPLIT=2G` and `make kernel VMSPLIT=2G MAX_ORDER=3` (`make test` builds them).

mod common;
use common::*;

/// The reference sample: `cat /proc/...` transcripts and the boot log.
fn sample(name: &str) -> String {
    let path = root().join("tests/samples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The samples were captured from a serial console: CRLF line ends.
    text.replace("\r\n", "\n")
}

/// The output of `cat FILE` in the sample's transcript (up to the next prompt).
fn sample_file(proc_txt: &str, file: &str) -> String {
    let marker = format!("/ # cat {file}");
    let start = proc_txt.find(&marker).unwrap_or_else(|| panic!("sample lacks {file}"));
    let body = &proc_txt[start + marker.len()..];
    let body = body.strip_prefix('\n').unwrap_or(body);
    body[..body.find("/ # ").unwrap_or(body.len())].to_string()
}

/// The boot log's messages without their `[    0.000000] ` timestamps.
fn sample_boot_lines() -> Vec<String> {
    sample("linux-6.1-raspi2b-3G-boot.txt")
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, m)| m).to_string())
        .collect()
}

/// The zone names of `Node 0, zone NAME` lines, in order.
fn zone_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Node 0, zone "))
        .map(|r| r.split_whitespace().next().unwrap_or("").trim_end_matches(',').to_string())
        .collect()
}

/// The value after `key` in one zone's block of /proc/zoneinfo.
fn zone_field<'a>(zoneinfo: &'a str, zone: &str, key: &str) -> Option<&'a str> {
    let head = format!("Node 0, zone {zone:>8}\n");
    let start = zoneinfo.find(&head)? + head.len();
    let block = &zoneinfo[start..];
    let block = &block[..block.find("Node 0, zone").unwrap_or(block.len())];
    block.lines().find_map(|l| l.trim_start().strip_prefix(key)).map(str::trim)
}

/// A `Memory:` line field such as `cma-reserved`: the number of kB before it.
fn memory_line_kb(line: &str, field: &str) -> u64 {
    let end = line.find(&format!("K {field}")).unwrap_or_else(|| panic!("{field} in {line}"));
    let start = line[..end].rfind(' ').map_or(0, |i| i + 1);
    line[start..end].parse().unwrap()
}

fn meminfo_field(meminfo: &str, field: &str) -> u64 {
    let line = meminfo
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing"));
    line[field.len() + 1..].trim().trim_end_matches(" kB").trim().parse().unwrap()
}

/// Debian's armmp 6.1 on this board, as the sample recorded it, against pivm's
/// `debian-armmp` profile: every figure that does not depend on the kernel's own size.
#[test]
fn debian_armmp_matches_the_linux_6_1_sample() {
    let proc_txt = sample("linux-6.1-raspi2b-3G-proc.txt");
    let boot = sample_boot_lines();
    let (mut q, log) =
        Qemu::boot_to_prompt(Opts::raw("3G").max_order(12).append("pivm.profile=debian-armmp"));

    // Zone ranges, the Movable zone line, the node's memory: the sample's lines verbatim.
    let from = boot.iter().position(|l| l == "Zone ranges:").expect("sample: Zone ranges");
    let to = boot.iter().position(|l| l.starts_with("Initmem setup node")).unwrap();
    for line in &boot[from..=to] {
        q.expect_in("boot log", &log, line);
    }
    // The Memory: line's figures that the kernel's size does not change.
    let sample_mem = boot.iter().find(|l| l.starts_with("Memory: ")).unwrap();
    let mem = q.line_with("boot log", &log, "Memory: ").to_string();
    for field in ["cma-reserved", "highmem"] {
        assert_eq!(memory_line_kb(&mem, field), memory_line_kb(sample_mem, field), "{field}");
    }
    // The CMA area where the sample has it (the sample's kernel took it from the device
    // tree, pivm from the configuration's default: same size, same place).
    let cma = boot.iter().find(|l| l.contains("CMA memory pool at")).unwrap();
    let (base, size) = (hex_numbers(cma)[0], cma.split("size ").nth(1).unwrap());
    q.expect_in("boot log", &log, &format!("cma: Reserved {} at {base:#x}", size.trim()));

    // /proc/zoneinfo: the zones and, for those the sample shows, spans and protection.
    let zi = q.cmd("cat /proc/zoneinfo");
    let sample_zi = sample_file(&proc_txt, "/proc/zoneinfo");
    let names = zone_names(&zi);
    // The sample's kernel has as many zones as its protection line has entries, and the
    // boot log's Zone ranges name all but Movable.
    let protection = zone_field(&sample_zi, "DMA", "protection:").unwrap();
    let nr_zones = protection.matches(',').count() + 1;
    let mut expect: Vec<String> = boot[from + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    expect.push("Movable".into());
    assert_eq!(expect.len(), nr_zones);
    assert_eq!(names, expect, "zones of /proc/zoneinfo");
    for zone in zone_names(&sample_zi) {
        for key in ["spanned", "present", "protection:"] {
            let want = zone_field(&sample_zi, &zone, key).unwrap();
            let got = zone_field(&zi, &zone, key);
            assert_eq!(got, Some(want), "zone {zone} {key}");
        }
    }
    // One CPU runs pivm: one pageset per populated zone, with a real vmstat threshold.
    assert_eq!(zi.matches("\n    cpu: ").count(), 2, "{zi}");
    assert!(!zi.contains("cpu: 1"));
    assert!(zi.lines().filter(|l| l.contains("vm stats threshold:")).all(|l| !l.ends_with(" 0")));

    // /proc/buddyinfo: the same zones with the same number of columns.
    let bi = q.cmd("cat /proc/buddyinfo");
    let sample_bi = sample_file(&proc_txt, "/proc/buddyinfo");
    assert_eq!(zone_names(&bi), zone_names(&sample_bi));
    let columns = |t: &str| -> Vec<usize> {
        t.lines().filter(|l| l.starts_with("Node ")).map(|l| l.split_whitespace().count()).collect()
    };
    assert_eq!(columns(&bi), columns(&sample_bi));

    // /proc/pagetypeinfo: the pageblock order, the order columns, the migrate types of each
    // zone and the block-count header, line for line.
    let pt = q.cmd("cat /proc/pagetypeinfo");
    let sample_pt = sample_file(&proc_txt, "/proc/pagetypeinfo");
    let shape = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                if l.contains(", type ") {
                    // The zone and the migrate type, not the free counts.
                    words[..6].join(" ")
                } else if l.starts_with("Node 0, zone") {
                    words[..4].join(" ")
                } else {
                    l.trim_end().to_string()
                }
            })
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(shape(&pt), shape(&sample_pt));
    // The CMA area's pageblocks are CMA, in HighMem, as in the sample.
    let cma_blocks = |t: &str| -> u64 {
        let l = t.lines().find(|l| l.starts_with("Node 0, zone  HighMem")).unwrap();
        l.split_whitespace().nth(8).unwrap().parse().unwrap()
    };
    assert_eq!(cma_blocks(&pt), cma_blocks(&sample_pt));
    let out = q.cmd("verify");
    q.expect_in("verify", &out, "verify: ok");

    // /proc/meminfo: the totals that do not depend on the kernel's size.
    let mi = q.cmd("cat /proc/meminfo");
    let sample_mi = sample_file(&proc_txt, "/proc/meminfo");
    for field in ["HighTotal", "VmallocTotal", "CmaTotal"] {
        assert_eq!(meminfo_field(&mi, field), meminfo_field(&sample_mi, field), "{field}");
    }
    q.poweroff_ok();
}

/// The default build (the Pi's own configuration): no DMA zone, a 64 MiB CMA area at the top
/// of RAM, `cma_alloc`/`cma_release` from the console.
#[test]
fn cma_area_and_console_commands_on_the_default_build() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G"));
    q.expect_in("boot log", &log, "cma: Reserved 64 MiB at 0x38000000");
    let mem = q.line_with("boot log", &log, "Memory: ").to_string();
    assert_eq!(memory_line_kb(&mem, "cma-reserved"), 65536);
    let zi = q.cmd("cat /proc/zoneinfo");
    assert_eq!(zone_names(&zi), ["Normal", "HighMem", "Movable"]);
    assert_eq!(zone_field(&zi, "Normal", "cma"), Some("16384"));
    assert_eq!(zone_field(&zi, "Normal", "protection:"), Some("(0, 0, 0)"));
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_field(&mi, "CmaTotal"), 65536);
    assert_eq!(meminfo_field(&mi, "CmaFree"), 65536);

    // Aligned to 16 pages, at the bottom of the area.
    let out = q.cmd("cma_alloc 16 4");
    q.expect_in(
        "cma_alloc",
        &out,
        "cma_alloc: 16 pages at pfn 0x38000 (phys 0x38000000-0x3800ffff)",
    );
    let out = q.cmd("cma_alloc 3");
    q.expect_in("cma_alloc", &out, "cma_alloc: 3 pages at pfn 0x38010 ");
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_field(&mi, "CmaFree"), 65536 - 19 * 4);
    // Bad input: one line each, nothing changes.
    for (cmd, msg) in [
        ("cma_alloc 0", "cma_alloc: COUNT must be at least 1"),
        ("cma_alloc 16385", "cma_alloc: 16385 pages: the area has 16384 (1-16384)"),
        ("cma_alloc 1 20", "cma_alloc: ALIGN 20 out of range (an order, 0-19)"),
        ("cma_alloc x", "cma_alloc: invalid number 'x'"),
        ("cma_release 0x38000 15", "is no range the console took with cma_alloc"),
        ("cma_release 0x1000 1", "is no range the console took with cma_alloc"),
        ("cma_release 0x38000", "usage: cma_release PFN COUNT"),
    ] {
        let out = q.cmd(cmd);
        q.expect_in(cmd, &out, msg);
    }
    // Another owner's free of a CMA page is a bad page, and changes nothing.
    let out = q.cmd("__free_pages 0x38000 0");
    q.expect_in("__free_pages", &out, "BUG: Bad page state");
    // Released, the pages are CMA's free pages again.
    let out = q.cmd("cma_release 0x38000 16");
    q.expect_in("cma_release", &out, "cma_release: 16 pages at pfn 0x38000");
    let out = q.cmd("cma_release 0x38000 16");
    q.expect_in("cma_release twice", &out, "is no range the console took with cma_alloc");
    q.cmd("cma_release 0x38010 3");
    let mi = q.cmd("cat /proc/meminfo");
    let cma_free_kb = meminfo_field(&mi, "CmaFree") + 4 * q.pcp_cached_pages();
    assert!(cma_free_kb >= 65536, "CmaFree after release: {cma_free_kb} kB");
    let out = q.cmd_timeout("memtest", std::time::Duration::from_secs(120));
    q.expect_in("memtest", &out, "memtest: ok");
    let out = q.cmd("verify");
    q.expect_in("verify", &out, "verify: ok");
    q.poweroff_ok();
}

/// `cma=` moves, resizes or removes the area; a value that does not parse is refused.
#[test]
fn cma_boot_parameter() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("cma=16M@0x20000000"));
    q.expect_in("boot log", &log, "cma: Reserved 16 MiB at 0x20000000");
    let out = q.cmd("cma_alloc 1");
    q.expect_in("cma_alloc", &out, "at pfn 0x20000 ");
    q.poweroff_ok();
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("cma=0"));
    assert!(!log.contains("cma: Reserved"), "{log}");
    let out = q.cmd("cma_alloc 1");
    q.expect_in("cma_alloc", &out, "this kernel has no CMA area");
    q.poweroff_ok();
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("cma=lots"));
    q.expect_in("boot log", &log, "cma=lots: invalid size, ignored");
    q.expect_in("boot log", &log, "cma: Reserved 64 MiB at 0x38000000");
    q.poweroff_ok();
}

/// Per-CPU lists by era: 6.1 caches orders up to 3, the Android profiles' 3.x kernel order 0
/// only, so an order-3 block freed goes to the per-CPU lists on one and not the other.
#[test]
fn pcp_lists_by_era() {
    for (profile, caches_order_3) in [("linux", true), ("android-a9", false)] {
        let opts = Opts::raw("3G").append(&format!("pivm.profile={profile}"));
        let (mut q, _) = Qemu::boot_to_prompt(opts);
        let out = q.cmd("alloc_pages 3");
        let pfn = hex_numbers(q.line_with("alloc_pages", &out, "order 3 "))[0];
        let before = q.pcp_cached_pages();
        q.cmd_silent(&format!("__free_pages {pfn:#x} 3"));
        let after = q.pcp_cached_pages();
        let expect = if caches_order_3 { before + 8 } else { before };
        assert_eq!(after, expect, "{profile}: {before} -> {after}");
        let out = q.cmd("verify");
        q.expect_in("verify", &out, "verify: ok");
        q.poweroff_ok();
    }
}

/// Build variants: Debian's MAX_ORDER 12 and a small one (order-3 pageblocks, 30,720 of them
/// on this board) both boot and pass memtest.
#[test]
fn max_order_variants_boot() {
    for (split, order) in [("3G", 12), ("2G", 3)] {
        let (mut q, _) = Qemu::boot_to_prompt(Opts::raw(split).max_order(order));
        let pt = q.cmd("cat /proc/pagetypeinfo");
        q.expect_in("pagetypeinfo", &pt, &format!("Page block order: {}", order - 1));
        let bi = q.cmd("cat /proc/buddyinfo");
        let cols = bi.lines().find(|l| l.starts_with("Node 0")).unwrap().split_whitespace().count();
        assert_eq!(cols, 4 + order as usize);
        let out = q.cmd_timeout("memtest", std::time::Duration::from_secs(120));
        q.expect_in("memtest", &out, "memtest: ok");
        q.poweroff_ok();
    }
}
