//! vmalloc, ioremap and the vmalloc oops as Linux 6.1 does them, on the real kernel, with the
//! reproductions of issue 16: the console cannot unmap the kernel's own device mappings
//! (16.2), `vfree 0` does nothing (16.15), an oops names only an area the address is in or
//! next to (16.11), `vmalloc_fill` counts one call and prints its span upwards (16.12),
//! `ioremap` refuses RAM, also RAM `mem=` left out (16.4); and 6.1's lazy TLB flush (one per
//! purge, none per `vfree`), its merged `unpurged vm_area` lines, its /proc/meminfo figures
//! and its failure masks. Needs `make kernel VMSPLIT=2G|3G` (`make test` builds them).

mod common;
use common::*;
use std::thread;
use std::time::Duration;

const PAGE: u64 = 4096;
/// `%pS` of the console's `vmalloc` command, up to the build-dependent symbol size.
const VMALLOC_CALLER: &str = "pivm::console::commands::vmalloc::cmd_vmalloc+0x0/0x";

fn boot(split: &'static str, append: Option<&str>) -> (Qemu, String) {
    let opts = match append {
        Some(a) => Opts::raw(split).append(a),
        None => Opts::raw(split),
    };
    Qemu::boot_to_prompt(opts)
}

/// Runs `command` and fails unless it printed exactly `expected` (one line, or nothing).
fn expect_output(q: &mut Qemu, command: &str, expected: &str) {
    let out = q.cmd(command);
    if out.trim_end_matches('\n') != expected {
        q.fail(&format!("{command}: expected exactly {expected:?}, got {out:?}"));
    }
}

/// `vmalloc ARG`: returns the address it reports.
fn vmalloc(q: &mut Qemu, arg: &str) -> u64 {
    let out = q.cmd(&format!("vmalloc {arg}"));
    match out.trim_end().split_once(") = 0x").map(|(_, h)| u64::from_str_radix(h, 16)) {
        Some(Ok(addr)) if out.starts_with("vmalloc(") => addr,
        _ => q.fail(&format!("vmalloc {arg}: unexpected output {out:?}")),
    }
}

/// The first address of the /proc/vmallocinfo line containing `needle`.
fn area_with(q: &mut Qemu, needle: &str) -> (u64, String) {
    let info = q.cmd("cat /proc/vmallocinfo");
    let line = q.line_with("/proc/vmallocinfo", &info, needle).to_string();
    match hex_numbers(&line).first() {
        Some(&a) => (a, line),
        None => q.fail(&format!("/proc/vmallocinfo: cannot read {line:?}")),
    }
}

/// `[VMALLOC_START, VMALLOC_END)` from the boot banner.
fn vmalloc_range(q: &Qemu, log: &str) -> (u64, u64) {
    let line = q.line_with("boot banner", log, "    vmalloc : ");
    match hex_numbers(line)[..] {
        [start, end, ..] if start < end => (start, end),
        _ => q.fail(&format!("cannot read the vmalloc range from {line:?}")),
    }
}

/// `purge`'s line, checked: `(areas returned, flushes since boot)`; a purge with nothing to
/// do reports no flush.
fn purge(q: &mut Qemu) -> (u64, u64, String) {
    let out = q.cmd("purge");
    let line = out.trim_end().to_string();
    let since = |q: &Qemu| -> u64 {
        line.rsplit_once(" (")
            .and_then(|(_, t)| t.strip_suffix(" since boot)"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| q.fail(&format!("purge: no flush count in {line:?}")))
    };
    if line.starts_with("purge: nothing lazily freed, no TLB flush (") {
        return (0, since(q), line.clone());
    }
    let n = line
        .strip_prefix("purge: ")
        .and_then(|r| r.split_once(" lazily freed area"))
        .filter(|(_, r)| r.contains(", 1 TLB flush 0x"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("purge: unexpected report {line:?}")));
    (n, since(q), line.clone())
}

/// `touch`es `addr` and returns the oops (from `Unable to handle`), checking the kernel halted.
fn oops(q: &mut Qemu, addr: u64) -> String {
    q.send(&format!("touch {addr:#x}\n"));
    q.wait_for("Unable to handle kernel paging request", STEP).unwrap();
    q.wait_for("---[ end trace", STEP).unwrap();
    thread::sleep(Duration::from_millis(300));
    let t = q.transcript();
    let at = t.rfind("Unable to handle kernel paging request").unwrap();
    let tail = t[at..].to_string();
    if tail.contains(PROMPT) {
        q.fail("a prompt came back after the oops: the kernel must halt");
    }
    q.kill();
    tail
}

// ---------------------------------------------------------------------------------------------
// 16.2: the console unmaps only what it mapped; 16.15: vfree(NULL).

#[test]
fn console_cannot_unmap_the_kernels_device_mappings_2g() {
    let (mut q, _) = boot("2G", None);
    let info0 = q.cmd("cat /proc/vmallocinfo");
    let (uart, _) = area_with(&mut q, " pivm::board::raspi::uart phys=");
    let (mailbox, _) = area_with(&mut q, " pivm::board::raspi::mailbox phys=");
    expect_output(
        &mut q,
        &format!("iounmap {uart:#x}"),
        &format!("iounmap: {uart:#010x} belongs to pivm::board::raspi::uart"),
    );
    expect_output(
        &mut q,
        &format!("iounmap {:#x}", mailbox + 0x80),
        &format!("iounmap: {mailbox:#010x} belongs to pivm::board::raspi::mailbox"),
    );
    expect_output(
        &mut q,
        &format!("vfree {uart:#x}"),
        &format!("vfree: {uart:#010x} belongs to pivm::board::raspi::uart"),
    );
    // Nothing changed: the console still talks through the UART, the mailbox still answers.
    let cpuinfo = q.cmd("cat /proc/cpuinfo");
    q.expect_in("cat /proc/cpuinfo after the refused iounmap", &cpuinfo, "Revision\t: ");
    if q.cmd("cat /proc/vmallocinfo") != info0 {
        q.fail("a refused iounmap changed /proc/vmallocinfo");
    }
    // vfree(NULL) is a no-op, as in Linux.
    expect_output(&mut q, "vfree 0", "");
    expect_output(&mut q, "vfree 0x0", "");
    // A pages[] array larger than a page is vmalloc'ed (` vpages` on its owner): only the
    // owner's vfree may free it.
    let big = vmalloc(&mut q, "5M");
    let info = q.cmd("cat /proc/vmallocinfo");
    let owner = q.line_with("/proc/vmallocinfo", &info, &format!("{big:#010x}-"));
    if !owner.ends_with(" pages=1280 vmalloc vpages") {
        q.fail(&format!("a 5 MiB area's pages[] (5120 bytes) must be vmalloc'ed: {owner:?}"));
    }
    let array_line = info
        .lines()
        .find(|l| l.contains(" pages=2 vmalloc") && hex_numbers(l).first() > Some(&big))
        .unwrap_or_else(|| q.fail(&format!("no 2-page pages[] area after {big:#x}:\n{info}")))
        .to_string();
    let array = hex_numbers(&array_line)[0];
    expect_output(
        &mut q,
        &format!("vfree {array:#x}"),
        &format!("vfree: {array:#010x} holds the pages array of the area at {big:#010x}"),
    );
    // The owner's vfree frees both.
    expect_output(&mut q, &format!("vfree {big:#x}"), "");
    purge(&mut q);
    if q.cmd("cat /proc/vmallocinfo") != info0 {
        q.fail("vfree of the owner must free its pages[] area too");
    }
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// 16.11: the oops names an area only when the address is in or right next to it.

#[test]
fn oops_at_the_end_of_the_range_blames_no_area_2g() {
    let (mut q, log) = boot("2G", None);
    let (_, end) = vmalloc_range(&q, &log);
    let tail = oops(&mut q, end - 1);
    let want = format!("vmalloc: {:08x} is not in any vmalloc area", end - 1);
    if !tail.contains(&want) || tail.contains("past the end") || tail.contains("allocated by") {
        q.fail(&format!("touch {:#x}: expected {want:?} in the oops:\n{tail}", end - 1));
    }
}

#[test]
fn oops_in_a_purged_area_blames_no_neighbour_2g() {
    let (mut q, _) = boot("2G", None);
    let a = vmalloc(&mut q, "8K");
    let b = vmalloc(&mut q, "16K");
    let _c = vmalloc(&mut q, "8K");
    if b != a + 3 * PAGE {
        q.fail(&format!("vmalloc 16K = {b:#x}: expected right after {a:#x} and its guard page"));
    }
    expect_output(&mut q, &format!("vfree {b:#x}"), "");
    purge(&mut q);
    // b's second page: two pages from a's end, three from c's start.
    let addr = b + PAGE + 0x10;
    let tail = oops(&mut q, addr);
    let want = format!("vmalloc: {addr:08x} is not in any vmalloc area");
    if !tail.contains(&want) {
        q.fail(&format!("touch {addr:#x}: expected {want:?} in the oops:\n{tail}"));
    }
}

#[test]
fn oops_in_an_ioremap_guard_page_shows_its_size_and_phys_2g() {
    let (mut q, _) = boot("2G", None);
    let (uart, line) = area_with(&mut q, " pivm::board::raspi::uart phys=");
    let guard = uart + PAGE;
    let tail = oops(&mut q, guard + 4);
    let want = format!("vmalloc: {:08x} is in the guard page of area {line}", guard + 4);
    if !tail.contains(&want) || !line.contains("    8192 ") || !line.ends_with(" ioremap") {
        q.fail(&format!("touch {:#x}: expected {want:?} in the oops:\n{tail}", guard + 4));
    }
}

// ---------------------------------------------------------------------------------------------
// 16.12: vmalloc_fill reports this call's areas, lowest to highest.

#[test]
fn vmalloc_fill_reports_this_call_lowest_to_highest_3g() {
    let (mut q, _) = boot("3G", Some("vmalloc=32M"));
    let out = q.cmd_timeout("vmalloc_fill 1M", Duration::from_secs(30));
    let head = q.line_with("vmalloc_fill 1M", &out, "vmalloc_fill: ").to_string();
    let n: u64 = head
        .strip_prefix("vmalloc_fill: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("vmalloc_fill 1M: {head:?}")));
    let first = hex_numbers(&head)[0];
    let stride = (1 << 20) + PAGE;
    let second = first + stride;
    let last = first + (n - 1) * stride;
    // Free the last area and purge it: the top of the range is free again. Then free the
    // second one, lazily: the next fill first takes the top, then finds the range full,
    // purges, and takes the second one's place, below its first area.
    expect_output(&mut q, &format!("vfree {last:#x}"), "");
    purge(&mut q);
    expect_output(&mut q, &format!("vfree {second:#x}"), "");
    let out = q.cmd_timeout("vmalloc_fill 1M", Duration::from_secs(30));
    let want = format!(
        "vmalloc_fill: 2 areas of 1048576 bytes, {second:#010x}-{:#010x} (free them with 'vmalloc_fill free')",
        last + (1 << 20)
    );
    if out.lines().next() != Some(want.as_str()) {
        q.fail(&format!("second vmalloc_fill 1M: expected {want:?}, got:\n{out}"));
    }
    // One more fits nowhere: "no area".
    let out = q.cmd_timeout("vmalloc_fill 1M", Duration::from_secs(30));
    q.expect_in("third vmalloc_fill 1M", &out, "vmalloc_fill: no area of 1048576 bytes fits");
    expect_output(&mut q, "vmalloc_fill free", &format!("vmalloc_fill: freed {n} areas"));
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// 16.4 (ioremap side): RAM is refused, also RAM `mem=` left out.

#[test]
fn ioremap_refuses_ram_also_when_mem_left_it_out_2g() {
    let (mut q, _) = boot("2G", Some("mem=512M"));
    expect_output(
        &mut q,
        "ioremap 0x30000000 4K",
        "ioremap: 0x30000000 is RAM (left out by mem=): Linux's ARM ioremap refuses RAM",
    );
    expect_output(
        &mut q,
        "ioremap 0x1fffff00 0x200",
        "ioremap: 0x1fffff00 is RAM: use the linear map, not ioremap",
    );
    // The last page the firmware reported, reached by a range that runs past it.
    expect_output(
        &mut q,
        "ioremap 0x3bfff000 8K",
        "ioremap: 0x3bfff000 is RAM (left out by mem=): Linux's ARM ioremap refuses RAM",
    );
    // Device memory is fine.
    let out = q.cmd("ioremap 0x3f200000 4K");
    q.expect_in("ioremap of the GPIO block", &out, "ioremap(0x3f200000, 4096) = 0x");
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// 6.1's lazy TLB flush, merged unpurged ranges, meminfo and masks.

#[test]
fn vfree_defers_the_tlb_flush_to_one_per_purge_2g() {
    let (mut q, _) = boot("2G", None);
    let (n, flushes0, line) = purge(&mut q);
    if n != 0 || flushes0 != 0 {
        q.fail(&format!("after boot nothing is lazily freed and nothing was flushed: {line:?}"));
    }
    let a: Vec<u64> = (0..5).map(|_| vmalloc(&mut q, "4K")).collect();
    // Three frees, two of them neighbours: no flush, two merged unpurged ranges.
    for i in [1, 2, 4] {
        expect_output(&mut q, &format!("vfree {:#x}", a[i]), "");
    }
    let info = q.cmd("cat /proc/vmallocinfo");
    let tail: Vec<&str> = info.lines().rev().take(2).collect();
    let want = [
        format!("{:#010x}-{:#010x}    8192 unpurged vm_area", a[4], a[4] + 2 * PAGE),
        format!("{:#010x}-{:#010x}   16384 unpurged vm_area", a[1], a[3]),
    ];
    if tail != want {
        q.fail(&format!("/proc/vmallocinfo must end with the merged ranges {want:?}:\n{info}"));
    }
    let (n, flushes, line) = purge(&mut q);
    let want = format!(
        "purge: 3 lazily freed areas returned in 2 ranges (6 pages), 1 TLB flush {:#010x}-{:#010x} (1 since boot)",
        a[1],
        a[4] + 2 * PAGE
    );
    if (n, flushes) != (3, 1) || line != want {
        q.fail(&format!("purge: expected {want:?}, got {line:?}"));
    }
    let (n, flushes, _) = purge(&mut q);
    if (n, flushes) != (0, 1) {
        q.fail("a purge with nothing to purge must not flush");
    }
    q.poweroff_ok();
}

/// Past `pivm.lazy_vfree=` pages, the free that crosses the threshold purges everything with
/// one flush: three frees, one flush.
#[test]
fn threshold_purge_flushes_once_for_many_frees_2g() {
    let (mut q, _) = boot("2G", Some("pivm.lazy_vfree=5"));
    let a = vmalloc(&mut q, "8K"); // 3 pages with the guard
    let b = vmalloc(&mut q, "4K"); // 2
    let c = vmalloc(&mut q, "4K"); // 2
    for x in [a, b, c] {
        expect_output(&mut q, &format!("vfree {x:#x}"), "");
    }
    let (n, flushes, line) = purge(&mut q);
    if (n, flushes) != (0, 1) {
        q.fail(&format!("three frees past the threshold: one purge, one flush; got {line:?}"));
    }
    q.poweroff_ok();
}

/// 6.1's /proc/meminfo: `VmallocUsed` is the pages vmalloc areas hold (`vmalloc_nr_pages()`,
/// guard pages and ioremaps not counted), `VmallocChunk` is 0; and vmalloc()'s failure
/// reports carry GFP_KERNEL (`mode:0xcc0`).
#[test]
fn meminfo_and_failure_masks_are_6_1s_2g() {
    let (mut q, _) = boot("2G", None);
    let used = |q: &mut Qemu| {
        let mi = q.cmd("cat /proc/meminfo");
        (meminfo_kb(q, &mi, "VmallocUsed"), meminfo_kb(q, &mi, "VmallocChunk"))
    };
    if used(&mut q) != (0, 0) {
        q.fail("at boot only ioremaps exist: VmallocUsed and VmallocChunk must be 0");
    }
    let v = vmalloc(&mut q, "100000"); // 25 pages
    let out = q.cmd("ioremap 0x3f200000 64K");
    q.expect_in("ioremap", &out, " = 0x");
    if used(&mut q) != (100, 0) {
        q.fail("VmallocUsed must be the 25 vmalloc'ed pages (100 kB), VmallocChunk 0");
    }
    let info = q.cmd("cat /proc/vmallocinfo");
    let line = q.line_with("/proc/vmallocinfo", &info, &format!("{v:#010x}-"));
    if !line.contains(&format!("  106496 {VMALLOC_CALLER}")) || !line.ends_with(" pages=25 vmalloc")
    {
        q.fail(&format!("/proc/vmallocinfo: the area's caller must be %pS: {line:?}"));
    }
    expect_output(&mut q, &format!("vfree {v:#x}"), "");
    if used(&mut q) != (0, 0) {
        q.fail("VmallocUsed must drop at vfree, before any purge");
    }
    let out = q.cmd("vmalloc 4G");
    let first = out.lines().next().unwrap_or("");
    let want = "swapper/0: vmalloc error: size 4294967296, exceeds total pages, mode:0xcc0(GFP_KERNEL), nodemask=(null)";
    if first != want || !out.contains("\nMem-Info:\n") {
        q.fail(&format!("vmalloc 4G: expected {want:?} and Mem-Info, got:\n{out}"));
    }
    q.poweroff_ok();
}
