//! The AArch64 kernel (issue 14, first stage) on `qemu-system-aarch64 -M raspi3b`: both VA
//! sizes through the raw `kernel8.img` (EL2, ATAGs at x0) and the ELF (all four cores at EL3,
//! the reference's device tree with `-dtb`), checked against arm64 Linux 6.1's layout
//! formulas, the reference's /proc/meminfo, the page-table walk lengths of 4 and 3 levels, the
//! oops of a NULL dereference, and peek/poke's fixups.
//! Needs `make ARCH=arm64 VA_BITS=48` and `VA_BITS=39` (`make test` builds them).

mod common;
use common::*;

use pivm::arch::arm64::memory as m;

/// The reference's `/proc/meminfo` (Debian Linux 6.1 arm64 on the same board).
const REF_MEMINFO: &str = include_str!("samples/linux-6.1-raspi3b-arm64-meminfo.txt");
/// The first 40 lines of the reference's `/proc/vmallocinfo`.
const REF_VMALLOCINFO: &str =
    include_str!("samples/linux-6.1-raspi3b-arm64-vmallocinfo-head40.txt");
/// The reference's `/proc/cpuinfo`.
const REF_CPUINFO: &str = include_str!("samples/linux-6.1-raspi3b-arm64-cpuinfo.txt");
/// The reference's `/proc/zoneinfo`.
const REF_ZONEINFO: &str = include_str!("samples/linux-6.1-raspi3b-arm64-zoneinfo.txt");
/// The reference's boot log.
const REF_BOOT: &str = include_str!("samples/linux-6.1-raspi3b-arm64-boot.txt");
/// The reference's `/proc/pagetypeinfo`.
const REF_PAGETYPEINFO: &str = include_str!("samples/linux-6.1-raspi3b-arm64-pagetypeinfo.txt");
/// The reference's `/proc/buddyinfo`.
const REF_BUDDYINFO: &str = include_str!("samples/linux-6.1-raspi3b-arm64-buddyinfo.txt");

/// Boots `build/arm64-<va_bits>/kernel8.img` (or `.elf`, with the reference's DTB) to the prompt.
fn boot64(va_bits: u32, elf: bool) -> (Qemu, String) {
    let dir = format!("build/arm64-{va_bits}");
    let image = root().join(format!("{dir}/kernel8.{}", if elf { "elf" } else { "img" }));
    assert!(
        image.is_file(),
        "missing {}: run `make ARCH=arm64 VA_BITS={va_bits}` first (or `make test`)",
        image.display()
    );
    let mut args: Vec<String> =
        ["-M", "raspi3b", "-display", "none", "-serial", "stdio", "-semihosting"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let mon = monitor_path(va_bits, elf);
    let _ = std::fs::remove_file(&mon);
    args.push("-monitor".into());
    args.push(format!("unix:{},server,nowait", mon.display()));
    args.push("-kernel".into());
    args.push(image.display().to_string());
    if elf {
        args.push("-dtb".into());
        args.push(root().join("tests/samples/linux-6.1-raspi3b-arm64.dtb").display().to_string());
        args.push("-append".into());
        args.push("console=ttyAMA0 pivm.test=elf".into());
    }
    let mut q = Qemu::spawn("qemu-system-aarch64", &args);
    let log = q.wait_for(PROMPT, BOOT).unwrap();
    (q, log)
}

/// QEMU's monitor socket for one boot (in /tmp: a Unix socket's path must stay short).
fn monitor_path(va_bits: u32, elf: bool) -> std::path::PathBuf {
    let kind = if elf { "elf" } else { "img" };
    std::path::PathBuf::from(format!("/tmp/pivm-{}-arm64-{va_bits}-{kind}.mon", std::process::id()))
}

/// The banner line starting with `label`, e.g. "    vmalloc : 0x... - 0x...".
fn banner_range(q: &Qemu, log: &str, label: &str) -> (u64, u64) {
    let line = q.line_with("banner", log, label);
    let hex: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("0x"))
        .map(|h| u64::from_str_radix(h, 16).unwrap())
        .collect();
    if hex.len() != 2 {
        q.fail(&format!("banner line {line:?}"));
    }
    (hex[0], hex[1])
}

/// The layout banner against memory.h's formulas, and the boot lines 6.1 prints.
fn check_boot(q: &Qemu, log: &str, va_bits: u32) {
    q.expect_in("boot", log, &format!("VA_BITS={va_bits}, {} levels", m::pgtable_levels(va_bits)));
    q.expect_in("boot", log, "(Linux's values)");
    // The reference's zone report, from "Zone ranges:" to memmap_init's count of the last
    // sparsemem section's pages beyond RAM, line for line.
    let theirs: String = REF_BOOT
        .lines()
        .skip_while(|l| !l.ends_with("Zone ranges:"))
        .take_while(|l| !l.contains("percpu:"))
        .map(|l| l.split_once("] ").unwrap().1.to_string() + "\n")
        .collect();
    assert!(theirs.ends_with("On node 0, zone DMA: 16384 pages in unavailable ranges\n"));
    q.expect_in("boot", log, &theirs);
    q.expect_in("boot", log, "Memory: ");
    q.expect_in("boot", log, "K cma-reserved)\n");
    q.expect_in("boot", log, "Virtual kernel memory layout:");
    assert_eq!(
        banner_range(q, log, "    modules :"),
        (m::modules_vaddr(va_bits), m::modules_end(va_bits))
    );
    assert_eq!(
        banner_range(q, log, "    vmalloc :"),
        (m::vmalloc_start(va_bits), m::vmalloc_end(va_bits))
    );
    assert_eq!(
        banner_range(q, log, "    fixed   :"),
        (m::fixaddr_start(va_bits), m::fixaddr_top(va_bits))
    );
    assert_eq!(
        banner_range(q, log, "    PCI I/O :"),
        (m::pci_io_start(va_bits), m::pci_io_end(va_bits))
    );
    let (vs, ve) = banner_range(q, log, "    vmemmap :");
    assert_eq!((vs, ve - vs), (m::vmemmap_start(va_bits), m::vmemmap_size(va_bits)));
    assert_eq!(
        banner_range(q, log, "    memory  :"),
        (m::page_offset(va_bits), m::page_offset(va_bits) + 0x3c00_0000)
    );
    let (ts, _) = banner_range(q, log, "      .text :");
    assert_eq!(ts, m::kimage_vaddr(va_bits), "the image is linked at KIMAGE_VADDR");
}

/// The CMA area: the device tree's `linux,cma` node (with `-dtb`, the reference's line) or,
/// without one, `CONFIG_CMA_SIZE_MBYTES` (64 MiB, as Linux's `dma_contiguous_reserve` falls
/// back to); CmaTotal the reference's, its pageblocks `MIGRATE_CMA` at arm64's pageblock
/// order 9 (the reference's block counts for CMA), and a `cma_alloc`/`cma_release` round trip
/// that gives every page back.
fn check_cma(q: &mut Qemu, log: &str, dtb: bool) {
    if dtb {
        let theirs = REF_BOOT
            .lines()
            .find_map(|l| l.split_once("] Reserved memory: ").map(|(_, r)| r))
            .unwrap();
        q.expect_in("boot", log, &format!("\nReserved memory: {theirs}\n"));
        q.expect_in(
            "boot",
            log,
            "\nOF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool\n",
        );
        // The node's pool is made by the reserved-memory scan (arm64_memblock_init), before
        // the zones' lines, as in the reference.
        let order = |l: &str| log.find(l).unwrap_or_else(|| q.fail(&format!("no {l:?}")));
        let zones = order("Zone ranges:");
        assert!(order("Reserved memory: created CMA") < zones, "the pool before the zones");
        let ref_order = |l: &str| REF_BOOT.find(l).unwrap();
        assert!(ref_order("Reserved memory: created CMA") < ref_order("Zone ranges:"));
    } else {
        q.expect_in("boot", log, "\ncma: Reserved 64 MiB at 0x0000000038000000\n");
        // Without a node, arm64 6.1's bootmem_init reserves the area after zone_sizes_init:
        // its line follows the zones' (the last of them, memmap_init's unavailable pages).
        let order = |l: &str| log.find(l).unwrap_or_else(|| q.fail(&format!("no {l:?}")));
        let cma = order("\ncma: Reserved ");
        assert!(order("Zone ranges:") < cma, "cma: Reserved after Zone ranges:\n{log}");
        assert!(order(" pages in unavailable ranges") < cma, "after the zones' lines:\n{log}");
        assert!(cma < order("Memory: "), "before mem_init's line:\n{log}");
    }
    let mem = q.line_with("boot", log, "Memory: ").to_string();
    let theirs = REF_BOOT.lines().find(|l| l.contains("] Memory: ")).unwrap();
    let cma_kb = |l: &str| l.rsplit(", ").next().unwrap().to_string();
    assert_eq!(cma_kb(&mem), cma_kb(theirs), "cma-reserved: {mem}");

    let mi = q.cmd("cat /proc/meminfo");
    let total = meminfo_kb(q, REF_MEMINFO, "CmaTotal");
    assert_eq!(meminfo_kb(q, &mi, "CmaTotal"), total, "the reference's CmaTotal");
    assert_eq!(meminfo_kb(q, &mi, "CmaFree"), total, "no CMA page used at the prompt");

    let pti = q.cmd("cat /proc/pagetypeinfo");
    let head = |t: &str| -> Vec<String> {
        t.lines().filter(|l| l.starts_with("Page")).map(String::from).collect()
    };
    assert_eq!(head(&pti), head(REF_PAGETYPEINFO), "pageblock order and pages per block");
    let cma_blocks = |t: &str| -> String {
        let line = t.lines().find(|l| l.starts_with("Node 0, zone      DMA ")).unwrap();
        line.split_whitespace().nth(8).unwrap().to_string()
    };
    assert_eq!(cma_blocks(&pti), cma_blocks(REF_PAGETYPEINFO), "CMA pageblocks:\n{pti}");

    let free_before = meminfo_kb(q, &mi, "MemFree") + 4 * q.pcp_cached_pages();
    let out = q.cmd("cma_alloc 16 4");
    q.expect_in(
        "cma_alloc",
        &out,
        "cma_alloc: 16 pages at pfn 0x38000 (phys 0x38000000-0x3800ffff)",
    );
    let mi = q.cmd("cat /proc/meminfo");
    assert_eq!(meminfo_kb(q, &mi, "CmaFree"), total - 16 * 4);
    let out = q.cmd("cma_release 0x38000 16");
    q.expect_in("cma_release", &out, "cma_release: 16 pages at pfn 0x38000");
    let out = q.cmd("cma_release 0x38000 16");
    q.expect_in("cma_release twice", &out, "is no range the console took with cma_alloc");
    let mi = q.cmd("cat /proc/meminfo");
    let free_after = meminfo_kb(q, &mi, "MemFree") + 4 * q.pcp_cached_pages();
    assert_eq!(free_after, free_before, "free pages (buddy and per-CPU lists) back after release");
}

/// meminfo: Linux's field order (the reference's lines that pivm prints, in the same order,
/// no highmem lines), and the reference's VmallocTotal for 48 bits.
fn check_meminfo(q: &mut Qemu, va_bits: u32) {
    let out = q.cmd("cat /proc/meminfo");
    let ours: Vec<&str> = out.lines().filter_map(|l| l.split(':').next()).collect();
    let theirs: Vec<&str> = REF_MEMINFO
        .lines()
        .filter(|l| l.contains(':'))
        .filter_map(|l| l.split(':').next())
        .collect();
    let mut it = theirs.iter();
    for f in &ours {
        if !it.any(|t| t == f) {
            q.fail(&format!("meminfo field {f:?} missing from the reference or out of its order"));
        }
    }
    assert!(ours.len() >= 40, "meminfo has {} fields", ours.len());
    assert!(!out.contains("HighTotal"), "arm64 has no highmem");
    let vt = meminfo_kb(q, &out, "VmallocTotal");
    assert_eq!(vt, (m::vmalloc_end(va_bits) - m::vmalloc_start(va_bits)) >> 10);
    if va_bits == 48 {
        assert_eq!(vt, meminfo_kb(q, REF_MEMINFO, "VmallocTotal"), "the reference's figure");
    }
    let total = meminfo_kb(q, &out, "MemTotal");
    assert!(total > 900 * 1024 && total <= 960 * 1024, "MemTotal {total} kB of 960 MiB");
    assert!(meminfo_kb(q, &out, "MemFree") <= total);
    // zoneinfo: every zone pivm has is one of the reference's, and the DMA zone's lines are
    // the reference's lines in the reference's order.
    let zi = q.cmd("cat /proc/zoneinfo");
    let zones = |t: &str| -> Vec<String> {
        t.lines().filter(|l| l.starts_with("Node 0, zone")).map(|l| l.to_string()).collect()
    };
    // arm64's zone list (CONFIG_ZONE_DMA, CONFIG_ZONE_DMA32, no HIGHMEM): DMA, DMA32,
    // Normal, Movable, exactly the reference's blocks in its order.
    let (ours_z, theirs_z) = (zones(&zi), zones(REF_ZONEINFO));
    assert_eq!(ours_z, theirs_z, "{zi}");
    // The empty zones print what the reference prints, byte for byte (no per-node stats, no
    // pagesets; a protection entry per zone).
    for name in ["DMA32", "Normal", "Movable"] {
        assert_eq!(zone_block(&zi, name), zone_block(REF_ZONEINFO, name), "zone {name}");
    }
    // The DMA zone: the reference's span (960 MiB from pfn 0) and protection array.
    let dma = zone_block(&zi, "DMA");
    let theirs_dma = zone_block(REF_ZONEINFO, "DMA");
    for key in ["spanned", "present", "protection:", "start_pfn:"] {
        assert_eq!(key_line(&dma, key), key_line(&theirs_dma, key), "DMA {key}\n{dma}");
    }
    let pt = q.cmd("cat /proc/pagetypeinfo");
    let pt_zones = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("Node "))
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "zone").nth(1))
            .map(|z| z.trim_end_matches(',').to_string())
            .collect()
    };
    assert_eq!(pt_zones(&pt), pt_zones(REF_PAGETYPEINFO), "pagetypeinfo's zones\n{pt}");
    let dma_keys = |t: &str| -> Vec<String> {
        t.lines()
            .skip_while(|l| !l.starts_with("Node 0, zone      DMA"))
            .skip(1)
            .take_while(|l| !l.starts_with("Node "))
            .filter_map(|l| l.split_whitespace().next())
            .map(|k| k.trim_end_matches(':').to_string())
            .collect()
    };
    let (ours_k, theirs_k) = (dma_keys(&zi), dma_keys(REF_ZONEINFO));
    let mut it = theirs_k.iter();
    for k in &ours_k {
        if !it.any(|t| t == k) {
            q.fail(&format!("zoneinfo DMA line {k:?} missing from the reference or out of order"));
        }
    }
    assert!(ours_k.len() >= 60, "zoneinfo DMA has {} lines", ours_k.len());
    let buddy = q.cmd("cat /proc/buddyinfo");
    let line = q.line_with("buddyinfo", &buddy, "Node 0, zone      DMA");
    assert_eq!(line.split_whitespace().count(), 4 + 11, "orders 0-10: {line}");
    let theirs = REF_BUDDYINFO.lines().find(|l| l.starts_with("Node 0")).unwrap();
    assert_eq!(line.find("    "), theirs.find("    "), "the reference's column layout: {line}");
    assert_eq!(line.split_whitespace().count(), theirs.split_whitespace().count());
}

/// The first line of `text` that starts with `key` (after indentation), trimmed.
fn key_line<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find(|l| l.trim_start().starts_with(key)).map(str::trim)
}

/// One zone's block of /proc/zoneinfo: its `Node 0, zone NAME` line up to the next zone's.
fn zone_block(zoneinfo: &str, name: &str) -> String {
    let head = format!("Node 0, zone {name:>8}");
    let mut lines = zoneinfo.lines().skip_while(|l| *l != head);
    let first = lines.next().map(str::to_string).unwrap_or_default();
    lines.take_while(|l| !l.starts_with("Node ")).fold(first, |b, l| b + "\n" + l)
}

/// Whether `line` has /proc/vmallocinfo's 64-bit shape: `0x%px-0x%px %7ld CALLER ...` with
/// 16 hex digits each, the size the range's, and `phys=` (if any) with 16 digits.
fn vmallocinfo_line_ok(line: &str) -> bool {
    let Some((range, rest)) = line.split_once(' ') else { return false };
    let Some((a, b)) = range.split_once('-') else { return false };
    let hex = |h: &str| {
        h.strip_prefix("0x").filter(|d| d.len() == 16).and_then(|d| u64::from_str_radix(d, 16).ok())
    };
    let (Some(a), Some(b)) = (hex(a), hex(b)) else { return false };
    let size: Option<u64> = rest.split_whitespace().next().and_then(|n| n.parse().ok());
    let phys_ok =
        rest.split_whitespace().filter_map(|w| w.strip_prefix("phys=")).all(|p| hex(p).is_some());
    size == Some(b - a) && phys_ok
}

/// The shared allocators on arm64: /proc/vmallocinfo in the reference's shape (the kernel
/// image's `vmap` areas from VMALLOC_START, the devices' `ioremap`s with 64-bit `phys=`),
/// pagetypeinfo's and slabinfo's headers, `verify: ok`, and a kmalloc/vmalloc round trip
/// whose second run leaves MemFree, VmallocUsed and Slab exactly where they were.
fn check_allocators(q: &mut Qemu, va_bits: u32) {
    let vi = q.cmd("cat /proc/vmallocinfo");
    for line in REF_VMALLOCINFO.lines().filter(|l| l.starts_with("0x")) {
        assert!(vmallocinfo_line_ok(line), "the reference's own line: {line}");
    }
    let ours: Vec<&str> = vi.lines().filter(|l| l.starts_with("0x")).collect();
    assert!(ours.len() >= 6, "vmallocinfo:\n{vi}");
    for line in &ours {
        if !vmallocinfo_line_ok(line) {
            q.fail(&format!("vmallocinfo line not in the reference's shape: {line}"));
        }
    }
    let start = format!("{:#018x}-", m::vmalloc_start(va_bits));
    assert!(
        ours[0].starts_with(&start) && ours[0].ends_with(" phys=0x0000000000080000 vmap"),
        "{}",
        ours[0]
    );
    // The PL011 and the local interrupt controller (the reference's of_iomap) are ioremapped.
    q.expect_in("vmallocinfo", &vi, " phys=0x000000003f201000 ioremap\n");
    q.expect_in("vmallocinfo", &vi, " phys=0x0000000040000000 ioremap\n");
    let pt = q.cmd("cat /proc/pagetypeinfo");
    let ref_header = REF_PAGETYPEINFO.lines().find(|l| l.starts_with("Free pages count")).unwrap();
    q.expect_in("pagetypeinfo", &pt, ref_header);
    q.expect_in("pagetypeinfo", &pt, "Node    0, zone      DMA, type      Movable");
    let slab = q.cmd("cat /proc/slabinfo");
    q.expect_in("slabinfo", &slab, "slabinfo - version: 2.1\n");
    // ARCH_DMA_MINALIGN is 128 on arm64: no kmalloc cache below kmalloc-128.
    q.expect_in("slabinfo", &slab, "kmalloc-128 ");
    assert!(!slab.contains("kmalloc-64 "), "arm64's smallest kmalloc cache is 128:\n{slab}");
    let out = q.cmd("verify");
    q.expect_in("verify", &out, "verify: ok");
    // /proc/cpuinfo: the reference's file, line for line (QEMU's A53 is the reference's CPU).
    let out = q.cmd("cat /proc/cpuinfo");
    let want: Vec<&str> = REF_CPUINFO.lines().skip(1).collect();
    assert_eq!(out.trim_end(), want.join("\n").trim_end(), "cpuinfo");

    let figures = |q: &mut Qemu| {
        let mi = q.cmd("cat /proc/meminfo");
        ["MemFree", "VmallocUsed", "Slab"].map(|f| meminfo_kb(q, &mi, f))
    };
    let round_trip = |q: &mut Qemu| {
        let before = figures(q);
        let out = q.cmd("vmalloc 100000");
        let va = number_hex_after(q, "vmalloc", &out, "vmalloc(100000) = ");
        let out = q.cmd("kmalloc 3000");
        let obj = number_hex_after(q, "kmalloc", &out, "kmalloc(3000) = ");
        assert!(out.contains("(kmalloc-4k, ksize 4096)"), "{out}");
        let during = figures(q);
        assert_eq!(during[1], before[1] + 100, "VmallocUsed counts the 25 pages: {during:?}");
        let vi = q.cmd("cat /proc/vmallocinfo");
        let line =
            q.line_with("vmallocinfo", &vi, &format!("{va:#018x}-{:#018x}  106496 ", va + 106496));
        assert!(line.ends_with(" pages=25 vmalloc"), "{line}");
        // The caller as %pS, from the kernel's kallsyms table: the console's command.
        let caller = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(
            caller.starts_with("pivm::console::commands::vmalloc::cmd_vmalloc+0x0/0x"),
            "{line}"
        );
        let out = q.cmd(&format!("ksize {obj:#x}"));
        q.expect_in("ksize", &out, &format!("ksize({obj:#x}) = 4096"));
        let out = q.cmd(&format!("kfree {obj:#x}"));
        assert!(out.trim().is_empty(), "{out}");
        let out = q.cmd(&format!("vfree {va:#x}"));
        assert!(out.trim().is_empty(), "{out}");
        let out = q.cmd(&format!("vfree {va:#x}"));
        q.expect_in(
            "double vfree",
            &out,
            &format!("Trying to vfree() nonexistent vm area ({va:016x})"),
        );
        let lin = m::page_offset(va_bits);
        let out = q.cmd(&format!("vfree {lin:#x}"));
        q.expect_in(
            "foreign vfree",
            &out,
            &format!("Trying to vfree() nonexistent vm area ({lin:016x})"),
        );
        let out = q.cmd(&format!("kfree {:#x}", lin + 0x80000));
        q.expect_in("kfree of the kernel's page", &out, "kfree: ");
        // vfree frees lazily: the range shows as an `unpurged vm_area` until purged.
        let vi = q.cmd("cat /proc/vmallocinfo");
        let gone = vi
            .lines()
            .filter(|l| l.starts_with(&format!("{va:#018x}-")))
            .all(|l| l.ends_with(" unpurged vm_area"));
        assert!(gone, "the area is gone:\n{vi}");
        (before, figures(q))
    };
    let (b1, a1) = round_trip(q);
    assert_eq!(a1[1], b1[1], "VmallocUsed back after the first round trip");
    let (b2, a2) = round_trip(q);
    assert_eq!(b2, a1);
    assert_eq!(a2, b2, "the second round trip leaves MemFree, VmallocUsed and Slab unchanged");
    let out = q.cmd("verify");
    q.expect_in("verify", &out, "verify: ok");
    let out = q.cmd("vmalloc 2G");
    q.expect_in("vmalloc too big", &out, "vmalloc error: size 2147483648, exceeds total pages");
    let out = q.cmd("verify");
    q.expect_in("verify", &out, "verify: ok");
}

/// The hex number after `label` in `text`.
fn number_hex_after(q: &Qemu, what: &str, text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| q.fail(&format!("{what}: no {label:?}")));
    let t = &text[at + label.len()..];
    let t = t.strip_prefix("0x").unwrap_or(t);
    let digits: String = t.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u64::from_str_radix(&digits, 16)
        .unwrap_or_else(|_| q.fail(&format!("{what}: no number after {label:?}")))
}

/// `pt`: a linear-map address ends in a 2 MiB block one level before a page; the image's
/// text is a page at the last level, read-only and executable; the MMU agrees.
fn check_pt(q: &mut Qemu, va_bits: u32) {
    let levels = m::pgtable_levels(va_bits);
    let lin = m::page_offset(va_bits) + 0x80000;
    let out = q.cmd(&format!("pt {lin:#x}"));
    // show_pte's line (an oops's), then the MMU's answer, then the walk decoded.
    q.expect_in("pt linear", &out, &format!("[{lin:016x}] pgd="));
    q.expect_in("pt linear", &out, &format!("swapper pgtable: 4k pages, {va_bits}-bit VAs, pgdp="));
    q.expect_in("pt linear", &out, "AT S1E1R (hardware): PA 0x80000\n");
    q.expect_in("pt linear", &out, &format!("walk of {} descriptors", levels - 1));
    q.expect_in("pt linear", &out, "block 2M -> 0x0 MT_NORMAL SHD EL1:RW EL0:-- AF G DBM\n");
    q.expect_in("pt linear", &out, "=> physical 0x80000\n");
    let names: &[&str] =
        if levels == 4 { &["pgd L0", "pud L1", "pmd L2"] } else { &["pgd L1", "pmd L2"] };
    for n in names {
        q.expect_in("pt linear", &out, &format!("  {n} "));
    }
    let img = m::kimage_vaddr(va_bits);
    let out = q.cmd(&format!("pt {img:#x}"));
    q.expect_in("pt image", &out, &format!("walk of {levels} descriptors"));
    q.expect_in("pt image", &out, "page -> 0x80000 MT_NORMAL SHD EL1:rox EL0:-- AF G\n");
    q.expect_in("pt image", &out, "(the kernel image)");
    let out = q.cmd("pt 0x1000");
    q.expect_in("pt user", &out, "[0000000000001000] user address but active_mm is swapper\n");
    q.expect_in("pt user", &out, "AT S1E1R (hardware): fault, FST ");
    let out = q.cmd("pt 0x1000 7");
    q.expect_in("pt PID", &out, "pt: 7: No such process");
    let out = q.cmd("ptdump");
    let po = m::page_offset(va_bits);
    let linear = format!(
        "0x{po:016x}-0x{:016x}         960M PMD       RW NX SHD AF        BLK UXN    MEM/NORMAL\n",
        po + 0x3c00_0000
    );
    let text = format!("0x{img:016x}-0x");
    q.expect_in("ptdump", &out, &linear);
    q.expect_in("ptdump", &out, &text);
    let text_line = q.line_with("ptdump", &out, &text);
    assert!(
        text_line.ends_with(" PTE       ro x  SHD AF            UXN    MEM/NORMAL"),
        "{text_line}"
    );
    // The PL011 ioremapped in the vmalloc area, as PROT_DEVICE_nGnRE.
    let dev = out
        .lines()
        .filter(|l| l.ends_with(" PTE       RW NX SHD AF            UXN    DEVICE/nGnRE"))
        .count();
    assert!(dev >= 6, "six ioremapped devices:\n{out}");
    // arm64 6.1's address markers, in order, each once.
    let markers: Vec<&str> = out.lines().filter(|l| l.starts_with("---[")).collect();
    assert_eq!(
        markers,
        [
            "---[ Linear Mapping start ]---",
            "---[ Linear Mapping end ]---",
            "---[ Modules start ]---",
            "---[ Modules end ]---",
            "---[ vmalloc() area ]---",
            "---[ vmalloc() end ]---",
            "---[ Fixmap start ]---",
            "---[ Fixmap end ]---",
            "---[ PCI I/O start ]---",
            "---[ PCI I/O end ]---",
            "---[ vmemmap start ]---",
            "---[ vmemmap end ]---",
        ]
    );
    // earlycon's fixmap slot was the only fixmap mapping; ioremap_devices cleared it.
    let fixmap = out.split("---[ Fixmap start ]---\n").nth(1).unwrap();
    assert!(
        fixmap.starts_with("---[ Fixmap end ]---"),
        "the fixmap is empty after ioremap:\n{out}"
    );
    // The walk agrees with QEMU's own view of memory: `x` through the MMU at a linear-map
    // address and `xp` at the physical address pt gave read the same words.
    let probe = po + 0x8_0000;
    let out = q.cmd(&format!("pt {probe:#x}"));
    let pa = number_hex_after(q, "pt", &out, "=> physical ");
    assert_eq!(pa, 0x8_0000);
    let sock = monitor_path(va_bits, false);
    let virt = monitor_cmd(&sock, &format!("x /4wx {probe:#x}"));
    let phys = monitor_cmd(&sock, &format!("xp /4wx {pa:#x}"));
    let words = |t: &str| -> Vec<String> {
        t.split_whitespace()
            .filter(|w| w.starts_with("0x") && !w.ends_with(':'))
            .map(String::from)
            .collect()
    };
    assert_eq!(words(&virt).len(), 4, "monitor x: {virt}");
    assert_eq!(words(&virt), words(&phys), "x {probe:#x}: {virt}\nxp {pa:#x}: {phys}");
    let out = q.cmd(&format!("peek {probe:#x}"));
    let w0 = words(&phys)[0].clone();
    q.expect_in("peek vs xp", &out, &format!("{probe:#x}: {}", w0.trim_start_matches("0x")));
    let out = q.cmd(&format!("v2p {:#x}", m::page_offset(va_bits) + 0x1234));
    q.expect_in("v2p", &out, "-> phys 0x1234");
    let out = q.cmd("p2v 0x3c000000");
    q.expect_in("p2v", &out, "is not RAM");
}

/// `crash null`: arm64 Linux's oops, then the console again; peek/poke fixed up.
fn check_faults(q: &mut Qemu, va_bits: u32) {
    let out = q.cmd("crash null");
    let fsc = if va_bits == 48 {
        "0x04: level 0 translation fault"
    } else {
        "0x05: level 1 translation fault"
    };
    for s in [
        "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000\nMem abort info:\n",
        "  EC = 0x25: DABT (current EL), IL = 32 bits\n",
        &format!("  FSC = {fsc}\nData abort info:\n"),
        "  CM = 0, WnR = 0\n",
        "[0000000000000000] user address but active_mm is swapper\n",
        "Internal error: Oops: 00000000960000",
        "\npc : pivm::console::commands::system::cmd_crash+0x",
        "x29: ",
        "x2 : ",
        "\n---[ end trace 0000000000000000 ]---\n",
    ] {
        q.expect_in("crash null", &out, s);
    }
    // The call trace: the faulting function, then the console's dispatcher and loop (the
    // frame records' return addresses), then `Code:` with pc's instruction in parentheses.
    let trace = call_trace(q, "crash null", &out);
    let want = [
        "pivm::console::commands::system::cmd_crash+0x",
        "pivm::console::commands::run+0x",
        "pivm::console::commands::console_loop+0x",
    ];
    if trace.len() < want.len() || trace.iter().zip(want).any(|(t, w)| !t.starts_with(w)) {
        q.fail(&format!("crash null: call trace {trace:?}, want it to start {want:?}"));
    }
    let pc = q.line_with("crash null", &out, "pc : ").trim_start_matches("pc : ").to_string();
    assert_eq!(trace[0], pc, "the trace starts at pc");
    let code = q.line_with("crash null", &out, "Code: ");
    let words: Vec<&str> = code.trim_start_matches("Code: ").split_whitespace().collect();
    let hex8 = |w: &str| w.len() == 8 && w.chars().all(|c| c.is_ascii_hexdigit());
    let ok = words.len() == 5
        && words[..4].iter().all(|w| hex8(w))
        && words[4].strip_prefix('(').and_then(|w| w.strip_suffix(')')).is_some_and(hex8);
    assert!(ok, "{code}");
    let out = q.cmd("help");
    q.expect_in("console after the oops", &out, "crash null");
    // The tick goes on after the oops (the console restarts with interrupts on).
    let before = q.cmd("jiffies");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let after = q.cmd("jiffies");
    let (t1, t2) =
        (number_after(q, "jiffies", &before, "("), number_after(q, "jiffies", &after, "("));
    assert!(t2 > t1, "no tick after the oops: {before} then {after}");
    let out = q.cmd("peek 0");
    q.expect_in(
        "peek 0",
        &out,
        &format!(
            "peek: 0x00000000: fault at virtual address 0000000000000000: {} (ESR 0x9600000",
            &fsc[6..]
        ),
    );
    let img = m::kimage_vaddr(va_bits);
    let out = q.cmd(&format!("poke {img:#x} 0"));
    q.expect_in("poke text", &out, "level 3 permission fault (ESR 0x9600004f, DABT (current EL))");
    let out = q.cmd("crash exec");
    for s in [
        "Unable to handle kernel paging request at virtual address 0000000000001000\n",
        "  EC = 0x21: IABT (current EL), IL = 32 bits\n",
        // %pS of an address no symbol covers is the bare address; lr is the caller's.
        "\npc : 0x1000\nlr : pivm::console::commands::system::cmd_crash+0x",
        "Internal error: Oops: 0000000086000",
        "\nCode: bad PC value\n",
    ] {
        q.expect_in("crash exec", &out, s);
    }
    // An undefined instruction at EL1: do_undefinstr's BUG_ON(!user_mode(regs)), the brk's
    // ESR (EC 0x3c, BUG_BRK_IMM), the trace through the exception into the crashed command.
    let out = q.cmd("crash undef");
    for s in [
        "------------[ cut here ]------------\nkernel BUG at src/arch/arm64/traps.rs:",
        "Internal error: Oops - BUG: 00000000f2000800 [#3] SMP\n",
        "\npc : pivm::arch::arm64::traps::do_undefinstr+0x",
        "\nlr : __arm64_el1_exception+0x",
    ] {
        q.expect_in("crash undef", &out, s);
    }
    let trace = call_trace(q, "crash undef", &out);
    let from = trace.iter().position(|t| t.starts_with("__arm64_vector_common+0x"));
    let next = from.and_then(|i| trace.get(i + 1));
    if !next.is_some_and(|t| t.starts_with("pivm::console::commands::system::cmd_crash+0x")) {
        q.fail(&format!("crash undef: the trace does not lead into cmd_crash: {trace:?}"));
    }
    let out = q.cmd("verify");
    q.expect_in("verify after the oopses", &out, "verify: ok");
}

/// The `Call trace:` lines of an oops (6.1's `dump_backtrace`: one ` %pS` line per frame).
fn call_trace(q: &Qemu, what: &str, out: &str) -> Vec<String> {
    let Some((_, rest)) = out.split_once("\nCall trace:\n") else {
        q.fail(&format!("{what}: no call trace"));
    };
    rest.lines().map_while(|l| l.strip_prefix(' ')).map(String::from).collect()
}

/// Every command of the shared console's table on arm64 answers from its subsystem; nothing
/// is lost afterwards.
fn check_every_command(q: &mut Qemu, va_bits: u32) {
    let help = q.cmd("help");
    let names: Vec<String> = help
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    let before = q.memory_snapshot_unshrunk();
    let po = m::page_offset(va_bits);
    let checks: Vec<(String, String)> = [
        ("layout", "Virtual kernel memory layout:".to_string()),
        ("cat /proc/cmdline", String::new()),
        (
            "cat /proc/iomem",
            "00000000-3bffffff : System RAM\n  00000000-00000fff : reserved\n  00080000-"
                .to_string(),
        ),
        ("cat /proc/iomem", "3f201000-3f2011ff : serial@7e201000\n".to_string()),
        ("cat /proc/stat", "cpu  ".to_string()),
        ("cat /proc/vmstat", "\nnr_kernel_stack ".to_string()),
        // The card's commands (no card in this boot: tests/qemu_arm64_sd.rs attaches one).
        ("blockdev x", "blockdev: usage: blockdev --getsize64|".to_string()),
        (
            "dd if=/dev/mmcblk0",
            "dd: cannot open /dev/mmcblk0: No such file or directory".to_string(),
        ),
        ("cat /proc/partitions", "major minor  #blocks  name\n".to_string()),
        ("cat /proc/nope", "cat: /proc/nope: No such file or directory".to_string()),
        ("cat /sys/kernel/debug/extfrag/unusable_index", "Node 0, zone      DMA ".to_string()),
        ("kmap 0x100", format!("kmap(pfn 0x100) = {:#018x}", po + 0x10_0000)),
        ("kunmap 0x100", "kunmap(pfn 0x100): lowmem page, nothing to unmap".to_string()),
        ("vmalloc_fill 4K", "vmalloc_fill: 4096 areas of 4096 bytes".to_string()),
        ("vmalloc_fill free", "vmalloc_fill: freed 4096 areas".to_string()),
        ("purge", "purge: ".to_string()),
        ("touch ADDR", format!("{:#x}: ", po + 0x1000)),
        ("frag checkerboard DMA", "frag: ".to_string()),
        ("frag release", "frag: released ".to_string()),
        (
            "scenario vmalloc-frag budget=1",
            "cannot fail for lack of address space, as it did in the 32-bit layout".to_string(),
        ),
        ("scenario release", "scenario: released ".to_string()),
        (
            "scenario vmalloc-frag budget=500",
            format!(
                "VmallocTotal:   {} kB",
                (m::vmalloc_end(va_bits) - m::vmalloc_start(va_bits)) >> 10
            ),
        ),
        ("scenario release", "scenario: released ".to_string()),
        ("crash nothing", "crash: usage: crash null|exec|undef|stack".to_string()),
        ("nosuchcmd", "pivm: nosuchcmd: command not found".to_string()),
        ("verify", "verify: ok".to_string()),
    ]
    .into_iter()
    .map(|(c, e)| (c.to_string(), e))
    .collect();
    for (c, e) in &checks {
        let c = c.replace("ADDR", &format!("{:#x}", po + 0x1000));
        let out = q.cmd_timeout(&c, std::time::Duration::from_secs(60));
        q.expect_in(&c, &out, e);
    }
    // The pages alloc_pages and ioremap took are the console's until freed.
    let out = q.cmd("alloc_pages 0");
    let pfn = number_hex_after(q, "alloc_pages", &out, "-> pfn ");
    let out = q.cmd(&format!("__free_pages {pfn:#x} 0"));
    assert!(out.trim().is_empty(), "{out}");
    let out = q.cmd(&format!("free_pages {:#x} 0", po + (pfn << 12)));
    q.expect_in(
        "double free",
        &out,
        "page dumped because: double free: page is already on a buddy free list",
    );
    // dump_page as arm64 6.1 prints it: 64-bit pointers (`%p` before the hash is ready,
    // `mapping:` in 16 digits) and the descriptor's longs in print_hex_dump's 32-byte rows.
    q.expect_in(
        "double free",
        &out,
        &format!("page:(____ptrval____) refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}\n"),
    );
    let raw: Vec<Vec<u64>> = out
        .lines()
        .filter_map(|l| l.strip_prefix("raw: "))
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    assert_eq!(w.len(), 16, "a 64-bit word: {l}\n{}", q.transcript());
                    u64::from_str_radix(w, 16).unwrap()
                })
                .collect()
        })
        .collect();
    assert_eq!(raw.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2], "{out}");
    // Free (pivm's PG_buddy or PG_pcp), order 0, zone 0 (DMA) and refcount 0 in the first
    // long; mapping, index and private in the third to fifth.
    assert!(raw[0][0] & 0x202 != 0 && raw[0][0] >> 16 == 0, "{out}");
    assert_eq!([raw[0][2], raw[0][3], raw[1][0]], [0, 0, 0], "{out}");
    let out = q.cmd("ioremap 0x3f200000 4096");
    let va = number_hex_after(q, "ioremap", &out, "= ");
    let out = q.cmd(&format!("iounmap {va:#x}"));
    assert!(out.trim().is_empty(), "{out}");
    // Nothing lost: what is not free is in the slab caches the commands grew (vmap_area
    // objects) or in kernel page-table pages vmalloc keeps, as Linux keeps both.
    let after = q.memory_snapshot_unshrunk();
    let held = |s: &MemSnapshot| {
        s.free_kb + meminfo_kb(q, &s.meminfo, "Slab") + meminfo_kb(q, &s.meminfo, "PageTables")
    };
    assert_eq!(
        held(&after),
        held(&before),
        "free + Slab + PageTables:\n{}\n{}",
        before.meminfo,
        after.meminfo
    );
    q.expect_in("help", &help, "  scenario ");
    for n in
        ["pt", "ptdump", "peek", "poke", "v2p", "p2v", "kmalloc", "vmalloc", "bench", "jiffies"]
    {
        assert!(names.iter().any(|x| x == n), "help lists {n}: {help}");
    }
}

/// The number after `label` in `text` (e.g. "(" in "jiffies: N (T ticks since boot").
fn number_after(q: &Qemu, what: &str, text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| q.fail(&format!("{what}: no {label:?}")));
    let digits: String =
        text[at + label.len()..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| q.fail(&format!("{what}: no number after {label:?}")))
}

/// Interrupts and the tick through the shared `kernel::irq` and `kernel::time`: the boot
/// lines, the timer's and the UART's interrupts counted in /proc/interrupts next to arm64's
/// IPI names, jiffies advancing at HZ against the counter's own time, idle time in uptime.
fn check_tick(q: &mut Qemu, log: &str, timer: &str) {
    q.expect_in("boot", log, "NR_IRQS: ");
    q.expect_in("boot", log, &format!("arch_timer: cp15 timer(s) running at 62.50MHz ({timer})."));
    q.expect_in("boot", log, "clocksource: arch_sys_counter: mask: 0x1ffffffffffffff");
    let first = q.cmd("jiffies");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = q.cmd("jiffies");
    let t1 = number_after(q, "jiffies", &first, "(");
    let t2 = number_after(q, "jiffies", &second, "(");
    let s2 = number_after(q, "jiffies", &second, "arch_sys_counter: ");
    let ns2 = number_after(q, "jiffies", &second, &format!("arch_sys_counter: {s2}."));
    assert!(t2 > t1, "the tick stopped: {first} then {second}");
    // HZ=100: one tick per 10 ms of the counter, give or take the tick in progress.
    let expected = (s2 * 1_000_000_000 + ns2) / 10_000_000;
    assert!(t2.abs_diff(expected) <= 2, "{t2} ticks in {s2}.{ns2:09} s");
    let irqs = q.cmd("cat /proc/interrupts");
    let line = q.line_with("interrupts", &irqs, "arch_timer");
    let count: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(count > 0, "no timer interrupt counted: {line}");
    q.expect_in("interrupts", &irqs, "IPI3:          0  CPU stop (for crash dump) interrupts");
    // The console's input arrives by interrupt, and the CPU idles in between.
    q.expect_in("interrupts", &irqs, " Edge      uart-pl011\n");
    let up = q.cmd("cat /proc/uptime");
    let fields: Vec<f64> = up.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert!(fields[0] >= s2 as f64, "uptime {} behind the counter's {s2} s", fields[0]);
    assert!(fields[1] > 0.0 && fields[1] <= fields[0], "idle time {up}");
}

#[test]
fn va48_raw_image() {
    let (mut q, log) = boot64(48, false);
    q.expect_in("boot", &log, "CPU: entered at EL2, running at EL1; x0=0x100");
    q.expect_in("boot", &log, "ATAGs at 0x100");
    check_boot(&q, &log, 48);
    check_tick(&mut q, &log, "phys");
    check_cma(&mut q, &log, false);
    check_meminfo(&mut q, 48);
    check_allocators(&mut q, 48);
    check_pt(&mut q, 48);
    check_faults(&mut q, 48);
    check_every_command(&mut q, 48);
    q.poweroff_ok();
}

#[test]
fn va39_raw_image() {
    let (mut q, log) = boot64(39, false);
    check_boot(&q, &log, 39);
    check_tick(&mut q, &log, "phys");
    check_cma(&mut q, &log, false);
    check_meminfo(&mut q, 39);
    check_allocators(&mut q, 39);
    check_pt(&mut q, 39);
    check_faults(&mut q, 39);
    check_every_command(&mut q, 39);
    q.poweroff_ok();
}

/// The ELF: all four cores at Secure EL3; the reference's device tree at physical 0.
#[test]
fn va48_elf_with_the_reference_dtb() {
    let (mut q, log) = boot64(48, true);
    q.expect_in("boot", &log, "CPU: entered at EL3, running at EL1; x0=0x0");
    q.expect_in("boot", &log, "Machine model: Raspberry Pi 3 Model B");
    q.expect_in("boot", &log, "Kernel command line: console=ttyAMA0 pivm.test=elf");
    check_boot(&q, &log, 48);
    check_tick(&mut q, &log, "virt");
    check_cma(&mut q, &log, true);
    q.poweroff_ok();
}
