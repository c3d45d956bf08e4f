//! Kernel virtual memory on the real kernel: vmalloc/vfree of many sizes (placement, guard
//! pages, write and read back, /proc/vmallocinfo, /proc/meminfo, lazy freeing and purge),
//! filling the vmalloc range (Linux's failure messages; on an Android profile the 3.x
//! `VmallocChunk` against the gaps in /proc/vmallocinfo), the guard-page oops, kmap/kunmap
//! through the pkmap window on the 3G build, ioremap/iounmap, the devices ioremapped at boot,
//! and bad input to all of it. Needs `make kernel VMSPLIT=2G|3G` (`make test` builds them).

mod common;
use common::*;
use std::thread;
use std::time::Duration;

const PAGE: u64 = 4096;
/// Every area `vmalloc` makes at the console is charged to this caller in /proc/vmallocinfo
/// (`%pS` of the command's function; `strip_sym_size` drops the size after `/0x`).
const CONSOLE_CALLER: &str = "pivm::console::commands::vmalloc::cmd_vmalloc+0x0/0x";
/// `vmalloc_fill`'s areas carry their own caller.
const FILL_CALLER: &str = "pivm::console::commands::vmalloc::cmd_vmalloc_fill+0x0/0x";
/// pkmap slots (`LAST_PKMAP`): 2 MiB of 4 KiB pages below PAGE_OFFSET.
const LAST_PKMAP: u64 = 512;
/// The devices the kernel reaches through ioremap after boot, in the order it maps them: the
/// six the boot moves out of the fixmap, then the SD controller's driver when it probes.
const BOOT_IOREMAPS: [(&str, u64); 7] = [
    ("pivm::board::raspi::uart", 0x3f20_1000),
    ("pivm::board::raspi::mailbox", 0x3f00_b000),
    ("pivm::board::raspi::power", 0x3f10_0000),
    ("pivm::board::raspi::timer", 0x3f00_3000),
    ("pivm::board::raspi::local_intc", 0x4000_0000),
    ("pivm::board::raspi::armctrl", 0x3f00_b000),
    ("pivm::drivers::mmc::sdhci", 0x3f30_0000),
];

fn boot(split: &'static str, append: Option<&str>) -> (Qemu, String) {
    let opts = match append {
        Some(a) => Opts::raw(split).append(a),
        None => Opts::raw(split),
    };
    Qemu::boot_to_prompt(opts)
}

fn round_up(size: u64) -> u64 {
    size.div_ceil(PAGE) * PAGE
}

/// `[VMALLOC_START, VMALLOC_END)` from the boot banner line `    vmalloc : 0x... - 0x...`.
fn vmalloc_range(q: &Qemu, log: &str) -> (u64, u64) {
    let line = q.line_with("boot banner", log, "    vmalloc : ");
    match hex_numbers(line)[..] {
        [start, end, ..] if start < end => (start, end),
        _ => q.fail(&format!("cannot read the vmalloc range from {line:?}")),
    }
}

/// One line of /proc/vmallocinfo.
#[derive(Clone, Debug, PartialEq)]
struct Area {
    start: u64,
    end: u64,
    size: u64,
    /// What follows the size: caller, `pages=`, `phys=`, flags, or `unpurged vm_area`.
    rest: String,
}

impl Area {
    fn unpurged(&self) -> bool {
        self.rest == "unpurged vm_area"
    }
}

/// `%pS` of a function's start, `name+0x0/0x<size>`, with the size dropped: the size depends
/// on the build, the name and offset do not.
fn strip_sym_size(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("+0x0/0x") {
        let (head, tail) = rest.split_at(at + "+0x0/0x".len());
        out.push_str(head);
        rest = tail.trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

/// `0x%08x-0x%08x %7d ` followed by `rest`: Linux's /proc/vmallocinfo line.
fn info_line(start: u64, end: u64, rest: &str) -> String {
    format!("{start:#010x}-{end:#010x} {:>7} {rest}", end - start)
}

/// /proc/vmallocinfo, parsed; every line must have Linux's layout and a size equal to end - start.
/// Callers' symbol sizes are dropped (`strip_sym_size`) in what is returned.
fn vmallocinfo(q: &mut Qemu) -> (String, Vec<Area>) {
    let text = strip_sym_size(&q.cmd("cat /proc/vmallocinfo"));
    let mut areas = Vec::new();
    for line in text.lines() {
        let bad = |why: &str| -> ! { q.fail(&format!("/proc/vmallocinfo line {line:?}: {why}")) };
        let (range, tail) = line.split_once(' ').unwrap_or_else(|| bad("no size"));
        let (s, e) = range.split_once('-').unwrap_or_else(|| bad("no range"));
        let hex = |t: &str| {
            t.strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| bad("bad address"))
        };
        let (start, end) = (hex(s), hex(e));
        let tail = tail.trim_start();
        let (size, rest) = tail.split_once(' ').unwrap_or_else(|| bad("nothing after the size"));
        let size: u64 = size.parse().unwrap_or_else(|_| bad("bad size"));
        if size != end.wrapping_sub(start)
            || !start.is_multiple_of(PAGE)
            || !end.is_multiple_of(PAGE)
        {
            bad("size is not end - start of a page-aligned range");
        }
        if line != info_line(start, end, rest) {
            bad("not in Linux's \"0x%08x-0x%08x %7d \" layout");
        }
        areas.push(Area { start, end, size, rest: rest.to_string() });
    }
    (text, areas)
}

/// The largest free gap in `[lo, hi)` given the areas; lazily freed ranges count as free
/// when `unpurged_is_free`. Also checks that no two reserved ranges overlap.
fn largest_gap(q: &Qemu, areas: &[Area], lo: u64, hi: u64, unpurged_is_free: bool) -> u64 {
    let mut busy: Vec<(u64, u64)> = areas
        .iter()
        .filter(|a| !(unpurged_is_free && a.unpurged()))
        .map(|a| (a.start, a.end))
        .collect();
    busy.sort();
    let (mut cursor, mut best) = (lo, 0);
    for (s, e) in busy {
        if s < cursor || s < lo || e > hi {
            q.fail(&format!(
                "/proc/vmallocinfo: area {s:#x}-{e:#x} overlaps another or leaves [{lo:#x}, {hi:#x})"
            ));
        }
        best = best.max(s - cursor);
        cursor = e;
    }
    best.max(hi - cursor)
}

/// The numbers of /proc/meminfo a vmalloc test looks at.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Vmem {
    total_kb: u64,
    used_kb: u64,
    chunk_kb: u64,
    /// MemFree + Slab + PageTables + the per-CPU lists: vmalloc takes pages from MemFree,
    /// its bookkeeping from the slab, and may leave page tables behind; freed pages may wait
    /// on the lists (not in MemFree).
    free_kb: u64,
}

fn vmem(q: &mut Qemu) -> Vmem {
    let mi = q.cmd("cat /proc/meminfo");
    let cached_kb = 4 * q.pcp_cached_pages();
    Vmem {
        total_kb: meminfo_kb(q, &mi, "VmallocTotal"),
        used_kb: meminfo_kb(q, &mi, "VmallocUsed"),
        chunk_kb: meminfo_kb(q, &mi, "VmallocChunk"),
        free_kb: meminfo_kb(q, &mi, "MemFree")
            + meminfo_kb(q, &mi, "Slab")
            + meminfo_kb(q, &mi, "PageTables")
            + cached_kb,
    }
}

/// Runs `command` and fails unless it printed exactly `expected` (one line).
fn expect_output(q: &mut Qemu, command: &str, expected: &str) {
    let out = q.cmd(command);
    if out.trim_end_matches('\n') != expected {
        q.fail(&format!("{command}: expected exactly {expected:?}, got {out:?}"));
    }
}

/// Runs `command` and fails unless it printed one line starting with `prefix` and containing `also`.
fn expect_one_line(q: &mut Qemu, command: &str, prefix: &str, also: &str) -> String {
    let out = q.cmd(command);
    let lines: Vec<&str> = out.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with(prefix) || !lines[0].contains(also) {
        q.fail(&format!(
            "{command}: expected one line starting with {prefix:?} containing {also:?}, got {out:?}"
        ));
    }
    lines[0].to_string()
}

/// `purge`: the number of lazily freed areas it reports returning (0 for "nothing").
fn purge(q: &mut Qemu) -> u64 {
    let out = q.cmd("purge");
    let line = out.trim_end();
    if line.starts_with("purge: nothing lazily freed, no TLB flush (") && !line.contains('\n') {
        return 0;
    }
    match line.strip_prefix("purge: ").and_then(|r| r.split_once(" lazily freed area")) {
        Some((n, r)) if r.contains(", 1 TLB flush 0x") && !line.contains('\n') => {
            n.parse().unwrap_or_else(|_| q.fail(&format!("purge: bad count in {out:?}")))
        }
        _ => q.fail(&format!("purge: unexpected report {out:?}")),
    }
}

/// `vmalloc ARG`: the size it reports must be `size`; returns the address.
fn vmalloc(q: &mut Qemu, arg: &str, size: u64) -> u64 {
    let cmd = format!("vmalloc {arg}");
    let out = q.cmd(&cmd);
    let prefix = format!("vmalloc({size}) = 0x");
    match out.trim_end().strip_prefix(&prefix).map(|h| u64::from_str_radix(h, 16)) {
        Some(Ok(addr)) if !out.trim_end().contains('\n') => addr,
        _ => q.fail(&format!("{cmd}: expected one line \"{prefix}...\", got {out:?}")),
    }
}

fn poke(q: &mut Qemu, addr: u64, value: u32) {
    expect_output(q, &format!("poke {addr:#x} {value:#x}"), "");
}

fn peek(q: &mut Qemu, addr: u64) -> u32 {
    let out = q.cmd(&format!("peek {addr:#x}"));
    let prefix = format!("{addr:#010x}: ");
    match out.trim_end().strip_prefix(&prefix).map(|h| u32::from_str_radix(h, 16)) {
        Some(Ok(v)) => v,
        _ => q.fail(&format!("peek {addr:#x}: expected \"{prefix}xxxxxxxx\", got {out:?}")),
    }
}

fn expect_peek(q: &mut Qemu, addr: u64, value: u32) {
    let got = peek(q, addr);
    if got != value {
        q.fail(&format!("peek {addr:#x}: read {got:#010x}, wrote {value:#010x}"));
    }
}

/// `peek` of an unmapped address reports the fault in one line and the console carries on.
fn expect_peek_fault(q: &mut Qemu, addr: u64) {
    expect_one_line(
        q,
        &format!("peek {addr:#x}"),
        &format!("peek: {addr:#010x}: fault at virtual address {addr:08x}"),
        "translation fault",
    );
}

/// The physical address `pt VA` walks to.
fn walk_pa(q: &mut Qemu, va: u64) -> u64 {
    let out = q.cmd(&format!("pt {va:#x}"));
    let last = out.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match (last.strip_prefix("=> PA "), hex_numbers(last).first()) {
        (Some(_), Some(&pa)) => pa,
        _ => q.fail(&format!("pt {va:#x}: expected a last line \"=> PA 0x...\", got:\n{out}")),
    }
}

/// One merged line of a `ptdump` section: `0xVA-0xVA -> 0xPA  size PAGE  attributes`.
#[derive(Debug)]
struct Mapping {
    start: u64,
    end: u64,
    pa: u64,
    line: String,
}

/// The mappings listed under `---[ title ]---` in `ptdump`.
fn ptdump_section(q: &Qemu, dump: &str, title: &str) -> Vec<Mapping> {
    let header = format!("---[ {title} ]---");
    let Some(at) = dump.find(&header) else {
        q.fail(&format!("ptdump: no {header:?} section in:\n{dump}"))
    };
    let mut v = Vec::new();
    for line in dump[at + header.len()..].lines().skip(1) {
        if line.starts_with("---[") {
            break;
        }
        match hex_numbers(line)[..] {
            [start, end, pa, ..] if line.contains(" -> ") => {
                v.push(Mapping { start, end, pa, line: line.to_string() })
            }
            _ => q.fail(&format!("ptdump {title}: cannot read {line:?}")),
        }
    }
    v
}

/// Checks that ptdump maps all of `[va, va + len)` with attributes containing `attrs`, and not
/// `[va + len, va + len + PAGE)` (the guard page).
fn expect_mapped(q: &Qemu, what: &str, maps: &[Mapping], va: u64, len: u64, attrs: &str) {
    let mut covered = 0;
    for m in maps {
        let (s, e) = (m.start.max(va), m.end.min(va + len));
        if s < e {
            covered += e - s;
            if !m.line.contains(attrs) {
                q.fail(&format!("{what}: {:?} lacks {attrs:?}", m.line));
            }
        }
        if m.start < va + len + PAGE && m.end > va + len {
            q.fail(&format!("{what}: the guard page {:#x} is mapped: {:?}", va + len, m.line));
        }
    }
    if covered != len {
        q.fail(&format!("{what}: ptdump maps {covered:#x} of the {len:#x} bytes at {va:#x}"));
    }
}

/// The boot-time ioremaps: the first lines of /proc/vmallocinfo, 8 KiB each from VMALLOC_START.
fn expect_boot_ioremaps(q: &Qemu, areas: &[Area], start: u64) {
    if areas.len() != BOOT_IOREMAPS.len() {
        q.fail(&format!(
            "/proc/vmallocinfo at boot: {} lines, expected {} ioremaps",
            areas.len(),
            BOOT_IOREMAPS.len()
        ));
    }
    for (i, ((name, phys), a)) in BOOT_IOREMAPS.iter().zip(areas).enumerate() {
        let s = start + i as u64 * 2 * PAGE;
        let want = info_line(s, s + 2 * PAGE, &format!("{name} phys={phys:#010x} ioremap"));
        let got = info_line(a.start, a.end, &a.rest);
        if got != want {
            q.fail(&format!(
                "/proc/vmallocinfo at boot, line {}: expected {want:?}, got {got:?}",
                i + 1
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The devices the kernel ioremaps at boot.

fn boot_ioremaps(split: &'static str) {
    let (mut q, log) = boot(split, None);
    let (start, end) = vmalloc_range(&q, &log);
    let (_, areas) = vmallocinfo(&mut q);
    expect_boot_ioremaps(&q, &areas, start);
    let m = vmem(&mut q);
    // 6.1: VmallocUsed counts vmalloc'ed pages (ioremaps hold none), VmallocChunk is 0.
    let want = Vmem { total_kb: (end - start) / 1024, used_kb: 0, chunk_kb: 0, free_kb: m.free_kb };
    if m != want {
        q.fail(&format!("/proc/meminfo at boot: {m:?}, expected {want:?}"));
    }
    let dump = q.cmd("ptdump");
    let maps = ptdump_section(&q, &dump, "vmalloc() Area");
    for (a, (name, phys)) in areas.iter().zip(BOOT_IOREMAPS) {
        expect_mapped(
            &q,
            &format!("ptdump ({name})"),
            &maps,
            a.start,
            PAGE,
            "RW NX SHD DEV/SHARED",
        );
        let m = maps.iter().find(|m| m.start == a.start).unwrap();
        if m.pa != phys {
            q.fail(&format!(
                "ptdump: {name} at {:#x} maps {:#x}, expected {phys:#x}",
                a.start, m.pa
            ));
        }
    }
    if maps.iter().any(|m| m.end > start + BOOT_IOREMAPS.len() as u64 * 2 * PAGE) {
        q.fail("ptdump: the vmalloc area maps something beyond the boot ioremaps");
    }
    // The console works through the ioremapped UART: its flag register reads "TX FIFO empty".
    let fr = peek(&mut q, areas[0].start + 0x18);
    if fr & 0x80 == 0 {
        q.fail(&format!("UART FR through the ioremap: {fr:#x}, TXFE (0x80) not set"));
    }
    q.poweroff_ok();
}

#[test]
fn boot_ioremaps_2g() {
    boot_ioremaps("2G");
}

#[test]
fn boot_ioremaps_3g() {
    boot_ioremaps("3G");
}

// ---------------------------------------------------------------------------------------------
// vmalloc areas of many sizes: placement, write and read back, vmallocinfo, vfree, purge.

/// (command argument, size in bytes)
const SIZES: [(&str, u64); 6] = [
    ("1", 1),
    ("4095", 4095),
    ("4096", 4096),
    ("0x2000", 8192),
    ("100000", 100_000),
    ("1M", 1 << 20),
];

fn vmalloc_round_trip(split: &'static str, lazy: bool) {
    let (mut q, log) = boot(split, if lazy { None } else { Some("pivm.lazy_vfree=0") });
    let (start, end) = vmalloc_range(&q, &log);
    let (info0, areas0) = vmallocinfo(&mut q);
    let first_free = areas0.iter().map(|a| a.end).max().unwrap_or(start);
    let m0 = vmem(&mut q);

    // Lowest first fit, each area followed by its guard page.
    let mut placed = Vec::new(); // (addr, mapped bytes)
    let mut expect = first_free;
    for (arg, size) in SIZES {
        let addr = vmalloc(&mut q, arg, size);
        let len = round_up(size);
        if addr != expect || !addr.is_multiple_of(PAGE) || addr < start || addr + len + PAGE > end {
            q.fail(&format!(
                "vmalloc {arg} = {addr:#x}: expected {expect:#x} (the previous area + its guard page)"
            ));
        }
        placed.push((addr, len));
        expect = addr + len + PAGE;
    }

    // A distinct word at the first and the last word of every area, read back afterwards.
    let word = |i: usize, last: bool| 0xa500_0000 | (i as u32) << 8 | last as u32;
    for (i, &(addr, len)) in placed.iter().enumerate() {
        poke(&mut q, addr, word(i, false));
        poke(&mut q, addr + len - 4, word(i, true));
    }
    for (i, &(addr, len)) in placed.iter().enumerate() {
        expect_peek(&mut q, addr, word(i, false));
        expect_peek(&mut q, addr + len - 4, word(i, true));
        expect_peek_fault(&mut q, addr + len); // the guard page
    }
    if split == "3G" {
        // GFP_KERNEL | __GFP_HIGHMEM: highmem pages first.
        for &(addr, len) in &placed {
            for va in [addr, addr + len - PAGE] {
                let pa = walk_pa(&mut q, va);
                if pa < 0x3000_0000 {
                    q.fail(&format!("vmalloc page {va:#x} is at {pa:#x}: expected highmem first"));
                }
            }
        }
    }

    // /proc/vmallocinfo: size includes the guard page, pages= counts the mapped ones.
    let mut want = info0.clone();
    for &(addr, len) in &placed {
        let rest = format!("{CONSOLE_CALLER} pages={} vmalloc", len / PAGE);
        want.push_str(&info_line(addr, addr + len + PAGE, &rest));
        want.push('\n');
    }
    let (info, areas) = vmallocinfo(&mut q);
    if info != want {
        q.fail(&format!("/proc/vmallocinfo: expected\n{want}got\n{info}"));
    }
    let pages: u64 = placed.iter().map(|&(_, len)| len / PAGE).sum();
    largest_gap(&q, &areas, start, end, true);
    let m = vmem(&mut q);
    if m.used_kb != m0.used_kb + pages * 4 || m.chunk_kb != 0 {
        q.fail(&format!(
            "/proc/meminfo after vmalloc: {m:?} (at boot {m0:?}, {pages} pages vmalloc'ed)"
        ));
    }
    // Each page costs MemFree a page (the bookkeeping's slab and page tables aside).
    if m.free_kb + pages * 4 != m0.free_kb {
        q.fail(&format!(
            "MemFree+PageTables {} kB, expected {} - {} pages",
            m.free_kb, m0.free_kb, pages
        ));
    }
    let dump = q.cmd("ptdump");
    let maps = ptdump_section(&q, &dump, "vmalloc() Area");
    for &(addr, len) in &placed {
        expect_mapped(
            &q,
            &format!("ptdump area {addr:#x}"),
            &maps,
            addr,
            len,
            "RW NX SHD MEM/CACHED/WBWA",
        );
    }

    // vfree in an order that frees both neighbours of some areas before them.
    for i in [1, 3, 5, 0, 2, 4] {
        expect_output(&mut q, &format!("vfree {:#x}", placed[i].0), "");
    }
    if !lazy {
        // Purged at every free: unmapped and flushed at once.
        for &(addr, len) in &placed {
            expect_peek_fault(&mut q, addr);
            expect_peek_fault(&mut q, addr + len - 4);
        }
    }
    let m = vmem(&mut q);
    if m != m0 {
        q.fail(&format!("/proc/meminfo after vfree: {m:?}, expected the boot figures {m0:?}"));
    }
    let (info, _) = vmallocinfo(&mut q);
    if lazy {
        // Still reserved until a purge: the six neighbours merged into one `unpurged vm_area`.
        let want = format!("{info0}{}\n", info_line(first_free, expect, "unpurged vm_area"));
        if info != want {
            q.fail(&format!("/proc/vmallocinfo after lazy vfree: expected\n{want}got\n{info}"));
        }
        if purge(&mut q) != placed.len() as u64 {
            q.fail("purge must return the six lazily freed areas");
        }
        // Unmapped at vfree time, flushed by the purge.
        for &(addr, len) in &placed {
            expect_peek_fault(&mut q, addr);
            expect_peek_fault(&mut q, addr + len - 4);
        }
    } else if info != info0 {
        q.fail(&format!("pivm.lazy_vfree=0: the areas must be gone at once, got\n{info}"));
    } else if purge(&mut q) != 0 {
        q.fail("pivm.lazy_vfree=0: nothing may be left to purge");
    }
    let (info, _) = vmallocinfo(&mut q);
    if info != info0 {
        q.fail(&format!(
            "/proc/vmallocinfo after purge: expected the boot lines\n{info0}got\n{info}"
        ));
    }
    let dump = q.cmd("ptdump");
    let maps = ptdump_section(&q, &dump, "vmalloc() Area");
    if let Some(m) = maps.iter().find(|m| m.end > first_free) {
        q.fail(&format!("ptdump: a freed area is still mapped: {:?}", m.line));
    }
    // The range is reused: lowest first again.
    let again = vmalloc(&mut q, "8K", 8192);
    if again != first_free {
        q.fail(&format!(
            "vmalloc after purge: {again:#x}, expected the lowest free {first_free:#x}"
        ));
    }
    q.poweroff_ok();
}

#[test]
fn vmalloc_sizes_2g_lazy_vfree() {
    vmalloc_round_trip("2G", true);
}

#[test]
fn vmalloc_sizes_3g_immediate_vfree() {
    vmalloc_round_trip("3G", false);
}

/// `pivm.lazy_vfree=5`: lazily freed pages (guard pages included) accumulate up to the
/// threshold; the free that goes past it purges every lazily freed range in one batch.
#[test]
fn lazy_vfree_threshold_purges_in_one_batch() {
    let (mut q, _) = boot("2G", Some("pivm.lazy_vfree=5"));
    let (info0, _) = vmallocinfo(&mut q);
    let a = vmalloc(&mut q, "8192", 8192); // 3 pages with the guard
    let b = vmalloc(&mut q, "4096", 4096); // 2
    let c = vmalloc(&mut q, "4096", 4096); // 2
    let unpurged = |addr: u64, pages: u64| info_line(addr, addr + pages * PAGE, "unpurged vm_area");
    let live =
        |addr: u64| info_line(addr, addr + 2 * PAGE, &format!("{CONSOLE_CALLER} pages=1 vmalloc"));
    expect_output(&mut q, &format!("vfree {a:#x}"), "");
    expect_output(&mut q, &format!("vfree {b:#x}"), ""); // 5 pages: not above the threshold
    let (info, _) = vmallocinfo(&mut q);
    // a and b were neighbours: one merged range.
    for l in [unpurged(a, 5), live(c)] {
        q.expect_in("/proc/vmallocinfo at the threshold", &info, &l);
    }
    expect_output(&mut q, &format!("vfree {c:#x}"), ""); // 7 > 5: all three go
    let (info, _) = vmallocinfo(&mut q);
    if info != info0 {
        q.fail(&format!("past the threshold every lazily freed range must be purged, got\n{info}"));
    }
    if purge(&mut q) != 0 {
        q.fail("nothing may be left to purge past the threshold");
    }
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// Filling the vmalloc range.

/// The count `vmalloc_fill` reports (`N area(s) of SIZE bytes, `) and the rest of the line.
fn fill_report<'a>(q: &Qemu, head: &'a str, size: u64) -> (u64, &'a str) {
    let r = head.strip_prefix("vmalloc_fill: ").unwrap_or("");
    let parsed = r.split_once(' ').and_then(|(n, rest)| {
        let rest = rest
            .strip_prefix("areas of ")
            .or_else(|| rest.strip_prefix("area of "))?
            .strip_prefix(&format!("{size} bytes, "))?;
        Some((n.parse().ok()?, rest))
    });
    parsed.unwrap_or_else(|| q.fail(&format!("vmalloc_fill {size}: unexpected report {head:?}")))
}

/// `vmalloc_fill 1M` on the android-a9 profile: returns (areas, first address) after checking
/// the report and that the range really is full.
fn fill_1m(q: &mut Qemu, start: u64, end: u64) -> (u64, u64) {
    let out = q.cmd_timeout("vmalloc_fill 1M", Duration::from_secs(60));
    let lines: Vec<&str> = out.lines().collect();
    let head = lines.first().copied().unwrap_or("");
    let (n, rest) = fill_report(q, head, 1 << 20);
    let (first, last_end) = match hex_numbers(rest)[..] {
        [f, e] if rest.ends_with(" (free them with 'vmalloc_fill free')") => (f, e),
        _ => q.fail(&format!("vmalloc_fill 1M: unexpected report {head:?}")),
    };
    let stride = (1 << 20) + PAGE;
    if n == 0 || last_end != first + (n - 1) * stride + (1 << 20) {
        q.fail(&format!("vmalloc_fill 1M: {n} areas cannot span {first:#x}-{last_end:#x}"));
    }
    // Linux's two messages: the vmap range is exhausted (size with the guard page), then
    // __vmalloc_node_range gives up through warn_alloc (the size asked for, vmalloc()'s
    // GFP_KERNEL, and the memory state after it).
    let want = "vmalloc_fill: stopped by: vmap allocation for size 1052672 failed: use vmalloc=<size> to increase size";
    let fail_line = lines.get(2).copied().unwrap_or("");
    if lines.get(1) != Some(&want)
        || fail_line
            != "swapper/0: vmalloc error: size 1048576, vm_struct allocation failed, mode:0xcc0(GFP_KERNEL), nodemask=(null)"
        || lines.get(3) != Some(&"Mem-Info:")
    {
        q.fail(&format!(
            "vmalloc_fill 1M: expected {want:?} and the vm_struct failure, got:\n{out}"
        ));
    }
    // Every area is listed, and no gap left can take another 1 MiB + guard.
    let (_, areas) = vmallocinfo(q);
    let filled: Vec<&Area> = areas.iter().filter(|a| a.rest.starts_with(FILL_CALLER)).collect();
    if filled.len() as u64 != n {
        q.fail(&format!(
            "/proc/vmallocinfo lists {} console areas, vmalloc_fill made {n}",
            filled.len()
        ));
    }
    for (i, a) in filled.iter().enumerate() {
        let s = first + i as u64 * stride;
        if (a.start, a.end, a.rest.as_str())
            != (s, s + stride, format!("{FILL_CALLER} pages=256 vmalloc").as_str())
        {
            q.fail(&format!(
                "vmalloc_fill area {i}: {a:?}, expected {s:#x}-{:#x} pages=256",
                s + stride
            ));
        }
    }
    let gap = largest_gap(q, &areas, start, end, true);
    if gap >= stride {
        q.fail(&format!("vmalloc_fill stopped with a {gap:#x}-byte gap left"));
    }
    // The 3.x meanings of the profile's kernel: area sizes with guard pages and ioremaps,
    // and the largest gap.
    let m = vmem(q);
    let used: u64 = areas.iter().filter(|a| !a.unpurged()).map(|a| a.size).sum();
    if m.chunk_kb * 1024 != gap || m.used_kb * 1024 != used {
        q.fail(&format!(
            "/proc/meminfo after vmalloc_fill: {m:?}; /proc/vmallocinfo gives largest gap {gap} and {used} bytes used"
        ));
    }
    (n, first)
}

/// The range fills up and Linux's messages say so; on the android-a9 profile (a 3.x kernel)
/// /proc/meminfo has the 3.x `VmallocUsed`/`VmallocChunk`, checked against the gaps of
/// /proc/vmallocinfo, lazily freed ranges counting as free.
#[test]
fn vmalloc_fill_exhausts_the_range_android_3g() {
    // No purge before the range is full: it is larger than Linux's 96 MiB threshold.
    let (mut q, log) = boot("3G", Some("pivm.profile=android-a9 pivm.lazy_vfree=1000000"));
    let (start, end) = vmalloc_range(&q, &log);
    let (info0, areas0) = vmallocinfo(&mut q);
    let m0 = vmem(&mut q);
    if m0.chunk_kb * 1024 != largest_gap(&q, &areas0, start, end, true)
        || m0.total_kb * 1024 != end - start
        || m0.used_kb != BOOT_IOREMAPS.len() as u64 * 8
    {
        q.fail(&format!("/proc/meminfo at boot: {m0:?} for the range {start:#x}-{end:#x}"));
    }
    let (n, first) = fill_1m(&mut q, start, end);

    // Two neighbouring areas freed lazily: one merged range, one free gap for VmallocChunk.
    let stride = (1 << 20) + PAGE;
    let hole = first + (n / 2) * stride;
    expect_output(&mut q, &format!("vfree {hole:#x}"), "");
    expect_output(&mut q, &format!("vfree {:#x}", hole + stride), "");
    let (_, areas) = vmallocinfo(&mut q);
    if !areas.iter().any(|x| x.start == hole && x.end == hole + 2 * stride && x.unpurged()) {
        q.fail(&format!("/proc/vmallocinfo: no merged unpurged vm_area line at {hole:#x}"));
    }
    let gap = largest_gap(&q, &areas, start, end, true);
    if gap != 2 * stride || largest_gap(&q, &areas, start, end, false) >= stride {
        q.fail(&format!(
            "largest gap {gap:#x} with the two lazily freed areas, expected {:#x}",
            2 * stride
        ));
    }
    let m = vmem(&mut q);
    if m.chunk_kb * 1024 != gap {
        q.fail(&format!("VmallocChunk {} kB, expected the {gap}-byte gap", m.chunk_kb));
    }

    // Free the rest (the two freed by hand are no longer its own, so they are skipped):
    // everything is lazily freed, in one merged range, so the whole range counts as free
    // again though vmallocinfo still lists it, and every page is back.
    expect_output(&mut q, "vmalloc_fill free", &format!("vmalloc_fill: freed {} areas", n - 2));
    let (_, areas) = vmallocinfo(&mut q);
    let unpurged: Vec<&Area> = areas.iter().filter(|a| a.unpurged()).collect();
    if unpurged.len() != 1 || (unpurged[0].start, unpurged[0].end) != (first, first + n * stride) {
        q.fail(&format!("after vmalloc_fill free: expected one unpurged range, got {unpurged:?}"));
    }
    let m = vmem(&mut q);
    if m != m0 {
        q.fail(&format!("/proc/meminfo after vmalloc_fill free: {m:?}, expected {m0:?}"));
    }
    // An allocation that finds no room purges the lazily freed ranges and retries: the same fill.
    let again = fill_1m(&mut q, start, end);
    if again != (n, first) {
        q.fail(&format!("second vmalloc_fill: {again:?}, the first made ({n}, {first:#x})"));
    }
    expect_output(&mut q, "vmalloc_fill free", &format!("vmalloc_fill: freed {n} areas"));
    if purge(&mut q) != n {
        q.fail(&format!("purge must return the {n} areas"));
    }
    let (info, _) = vmallocinfo(&mut q);
    let m = vmem(&mut q);
    if info != info0 || m != m0 {
        q.fail(&format!("after free + purge: {m:?} and\n{info}expected the boot state {m0:?}"));
    }
    q.poweroff_ok();
}

/// No fixed number of areas (pivm's allocator once held 4096, boot ioremaps included):
/// `vmalloc_fill 4K` stops at its own limit of 4096 with the range half full, more areas
/// still come, and once the fill is lazily freed an allocation that needs its room purges.
#[test]
fn vmalloc_areas_are_not_capped_and_purge_frees_the_range_3g() {
    let (mut q, log) = boot("3G", Some("vmalloc=64M"));
    let (start, end) = vmalloc_range(&q, &log);
    let (info0, areas0) = vmallocinfo(&mut q);
    let first_free = areas0.iter().map(|a| a.end).max().unwrap_or(start);
    let out = q.cmd_timeout("vmalloc_fill 4K", Duration::from_secs(60));
    let head = q.line_with("vmalloc_fill 4K", &out, " areas of 4096 bytes, ");
    let (n, rest) = fill_report(&q, head, 4096);
    if n != 4096 || hex_numbers(rest)[..] != [first_free, first_free + 4096 * 2 * PAGE - PAGE] {
        q.fail(&format!("vmalloc_fill 4K: {head:?}; expected 4096 areas from {first_free:#x}"));
    }
    q.expect_in("vmalloc_fill 4K", &out, "vmalloc_fill: stopped at 4096 areas, the most it keeps");
    let more = vmalloc(&mut q, "4K", 4096);
    let (_, areas) = vmallocinfo(&mut q);
    if areas.len() != areas0.len() + 4097 || more != first_free + 4096 * 2 * PAGE {
        q.fail(&format!("{} areas in /proc/vmallocinfo, the last at {more:#x}", areas.len()));
    }
    expect_output(&mut q, &format!("vfree {more:#x}"), "");
    expect_output(&mut q, "vmalloc_fill free", "vmalloc_fill: freed 4096 areas");
    // Lazily freed (32 MiB, below the 96 MiB threshold): a request that needs their room
    // purges them and gets the lowest address (leaving room above for its pages[] array).
    let big = end - first_free - 64 * PAGE;
    let v = vmalloc(&mut q, &big.to_string(), big);
    if v != first_free {
        q.fail(&format!("vmalloc after freeing the fill: {v:#x}, expected {first_free:#x}"));
    }
    let (info, _) = vmallocinfo(&mut q);
    let live = info_line(
        v,
        v + big + PAGE,
        &format!("{CONSOLE_CALLER} pages={} vmalloc vpages", big / PAGE),
    );
    if !info.starts_with(&format!("{info0}{live}\n")) {
        q.fail(&format!("the purge must leave the boot areas and the new one first:\n{info}"));
    }
    q.poweroff_ok();
}

/// RAM runs out before the range does (2G: 1072 MB of range, 960 MB of RAM): the pages taken so
/// far go back, the area is lazily freed (as `vfree` does) and after a purge the next vmalloc
/// gets the same place.
#[test]
fn vmalloc_out_of_pages_gives_everything_back_2g() {
    let (mut q, log) = boot("2G", None);
    let (start, _) = vmalloc_range(&q, &log);
    let (info0, areas0) = vmallocinfo(&mut q);
    let first_free = areas0.iter().map(|a| a.end).max().unwrap_or(start);
    let mi = q.cmd("cat /proc/meminfo");
    // Less than all RAM (not refused up front), more than the allocator can give (watermarks,
    // and the page tables the mapping needs).
    let kb = meminfo_kb(&q, &mi, "MemTotal") - 1024;
    let m0 = vmem(&mut q);
    let out = q.cmd_timeout(&format!("vmalloc {kb}K"), Duration::from_secs(60));
    // 6.1's __vmalloc_area_node reports with __GFP_NOWARN set, so Linux prints nothing: pivm
    // prints the message and mask in one line and says so.
    // The page allocations may sleep: reclaim gives up and the OOM killer runs first, finds
    // no process to kill and says so (6.1 would panic there); then the failure.
    q.expect_in("vmalloc", &out, "\nOut of memory and no killable processes...\n");
    let first = out.lines().last().unwrap_or("");
    if !first.starts_with("vmalloc error: size ")
        || !first.ends_with(
            ", page order 0, failed to allocate pages, mode:0x2cc2(GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN) (not printed by Linux 6.1: warn_alloc() skips __GFP_NOWARN)",
        )
        || out.matches("vmalloc error").count() != 1
    {
        q.fail(&format!("vmalloc {kb}K: expected the failed-to-allocate-pages line, got:\n{out}"));
    }
    purge(&mut q);
    let m = vmem(&mut q);
    let (info, _) = vmallocinfo(&mut q);
    if m != m0 || info != info0 {
        q.fail(&format!(
            "after the failed vmalloc and a purge: {m:?} and\n{info}expected the boot state {m0:?}"
        ));
    }
    let v = vmalloc(&mut q, "4096", 4096);
    if v != first_free {
        q.fail(&format!("vmalloc after the failure: {v:#x}, expected {first_free:#x}"));
    }
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// The guard-page oops.

fn guard_page_oops(split: &'static str) {
    let (mut q, _) = boot(split, None);
    let addr = vmalloc(&mut q, "100000", 100_000);
    let len = round_up(100_000);
    let guard = addr + len;
    // peek reports the fault and the console carries on; the last byte of the area is fine.
    expect_peek_fault(&mut q, guard);
    expect_output(&mut q, &format!("touch {:#x}", guard - 1), &format!("{:#010x}: 00", guard - 1));
    q.send(&format!("touch {guard:#x}\n"));
    for needle in [
        format!("Unable to handle kernel paging request at virtual address {guard:08x} when read"),
        // The area as its /proc/vmallocinfo line (the caller's symbol size follows `/0x`).
        format!(
            "vmalloc: {guard:08x} is in the guard page of area {}",
            info_line(addr, guard + PAGE, CONSOLE_CALLER)
        ),
        format!(" pages={} vmalloc", len / PAGE),
        "Internal error: Oops: 7 [#1] SMP ARM".to_string(),
        "PC is at ".to_string(),
        "cmd_touch+0x".to_string(),
        "---[ end trace".to_string(),
    ] {
        q.wait_for(&needle, STEP).unwrap();
    }
    thread::sleep(Duration::from_millis(500));
    let t = q.transcript();
    if t[t.rfind("---[ end trace").unwrap()..].contains(PROMPT) {
        q.fail("a prompt came back after the oops: the kernel must halt");
    }
    q.kill();
}

#[test]
fn guard_page_oops_2g() {
    guard_page_oops("2G");
}

#[test]
fn guard_page_oops_3g() {
    guard_page_oops("3G");
}

// ---------------------------------------------------------------------------------------------
// kmap/kunmap of highmem on the 3G build.

/// `kmap PFN`: returns the address.
fn kmap(q: &mut Qemu, pfn: u64) -> u64 {
    let cmd = format!("kmap {pfn:#x}");
    let out = q.cmd(&cmd);
    let prefix = format!("kmap(pfn {pfn:#x}) = 0x");
    match out.trim_end().strip_prefix(&prefix).map(|h| u64::from_str_radix(h, 16)) {
        Some(Ok(va)) => va,
        _ => q.fail(&format!("{cmd}: expected \"{prefix}...\", got {out:?}")),
    }
}

fn kunmap(q: &mut Qemu, pfn: u64, users_left: u64) {
    expect_output(
        q,
        &format!("kunmap {pfn:#x}"),
        &format!(
            "kunmap(pfn {pfn:#x}): {users_left} {} left",
            if users_left == 1 { "user" } else { "users" }
        ),
    );
}

/// The first and last highmem pfn from the boot log's `HighMem  [mem 0x...-0x...]`.
fn highmem_pfns(q: &Qemu, log: &str) -> (u64, u64) {
    let line = q.line_with("boot log", log, "  HighMem  [mem ");
    match hex_numbers(line)[..] {
        [s, e] => (s >> 12, e >> 12),
        _ => q.fail(&format!("cannot read the highmem range from {line:?}")),
    }
}

#[test]
fn kmap_highmem_3g() {
    let (mut q, log) = boot("3G", None);
    let po = page_offset("3G");
    let pkmap = po - (2 << 20);
    q.expect_in("boot banner", &log, &format!("    pkmap   : {pkmap:#010x} - {po:#010x}"));
    let (hi_first, hi_last) = highmem_pfns(&q, &log);
    let pfns = [hi_first, hi_first + 1, hi_first + 0x1234, hi_last];
    let mut vas = Vec::new();
    for &pfn in &pfns {
        let va = kmap(&mut q, pfn);
        if va < pkmap || va >= po || !va.is_multiple_of(PAGE) || vas.contains(&va) {
            q.fail(&format!(
                "kmap {pfn:#x} = {va:#x}: expected a new page in [{pkmap:#x}, {po:#x})"
            ));
        }
        if walk_pa(&mut q, va) != pfn << 12 {
            q.fail(&format!("pt {va:#x} does not walk to pfn {pfn:#x}"));
        }
        vas.push(va);
    }
    let word = |i: usize, last: bool| 0x5a00_0000 | (i as u32) << 8 | last as u32;
    for (i, &va) in vas.iter().enumerate() {
        poke(&mut q, va, word(i, false));
        poke(&mut q, va + PAGE - 4, word(i, true));
    }
    for (i, &va) in vas.iter().enumerate() {
        expect_peek(&mut q, va, word(i, false));
        expect_peek(&mut q, va + PAGE - 4, word(i, true));
    }
    // The pkmap pages show in ptdump, normal memory mapped to their pfns.
    let dump = q.cmd("ptdump");
    let maps = ptdump_section(&q, &dump, "Persistent Kernel Mappings");
    for (&pfn, &va) in pfns.iter().zip(&vas) {
        match maps.iter().find(|m| m.start <= va && va < m.end) {
            Some(m)
                if m.pa + (va - m.start) == pfn << 12
                    && m.line.contains("RW NX SHD MEM/CACHED/WBWA") => {}
            _ => {
                q.fail(&format!("ptdump: no pkmap mapping {va:#x} -> {:#x} in\n{dump}", pfn << 12))
            }
        }
    }
    // A second kmap of a mapped page returns the same address and counts a user.
    if kmap(&mut q, pfns[0]) != vas[0] {
        q.fail("a second kmap of the same page must return the same address");
    }
    kunmap(&mut q, pfns[0], 1);
    kunmap(&mut q, pfns[0], 0);
    expect_one_line(
        &mut q,
        &format!("kunmap {:#x}", pfns[0]),
        "kunmap: ",
        &format!("page not mapped (pfn {:#x})", pfns[0]),
    );
    for &pfn in &pfns[1..] {
        kunmap(&mut q, pfn, 0);
    }
    // The memory stays: mapped again (wherever), the words are still there.
    let va = kmap(&mut q, pfns[3]);
    expect_peek(&mut q, va, word(3, false));
    expect_peek(&mut q, va + PAGE - 4, word(3, true));
    kunmap(&mut q, pfns[3], 0);

    // vmalloc pages come from highmem; the same page read through kmap shows what vmalloc wrote.
    let v = vmalloc(&mut q, "8192", 8192);
    poke(&mut q, v + PAGE + 8, 0xc0ffee01);
    let pa = walk_pa(&mut q, v + PAGE);
    if pa >> 12 < hi_first || pa >> 12 > hi_last {
        q.fail(&format!("vmalloc page {:#x} is at {pa:#x}, not highmem", v + PAGE));
    }
    let k = kmap(&mut q, pa >> 12);
    expect_peek(&mut q, k + 8, 0xc0ffee01);
    kunmap(&mut q, pa >> 12, 0);

    // Lowmem pages need no pkmap slot: kmap returns the linear address.
    let low = 0x100;
    let va = kmap(&mut q, low);
    if va != po + (low << 12) {
        q.fail(&format!("kmap of lowmem pfn {low:#x} = {va:#x}, expected {:#x}", po + (low << 12)));
    }
    expect_output(
        &mut q,
        &format!("kunmap {low:#x}"),
        &format!("kunmap(pfn {low:#x}): lowmem page, nothing to unmap"),
    );
    expect_output(
        &mut q,
        &format!("kmap {:#x}", hi_last + 1),
        &format!("kmap: pfn {:#x} is not RAM", hi_last + 1),
    );
    q.poweroff_ok();
}

/// All 512 pkmap slots: the 513th kmap fails (Linux would sleep), and a slot whose page was
/// kunmapped is recycled (flush_all_zero_pkmaps) for the next kmap.
#[test]
fn pkmap_pool_exhaustion_and_reuse_3g() {
    let (mut q, log) = boot("3G", None);
    let po = page_offset("3G");
    let (hi_first, _) = highmem_pfns(&q, &log);
    let mut vas = Vec::new();
    for i in 0..LAST_PKMAP {
        let va = kmap(&mut q, hi_first + i);
        if va < po - (2 << 20) || va >= po || !va.is_multiple_of(PAGE) || vas.contains(&va) {
            q.fail(&format!("kmap #{i} = {va:#x}: not a new pkmap slot"));
        }
        vas.push(va);
    }
    let full = format!("kmap {:#x}", hi_first + LAST_PKMAP);
    expect_one_line(&mut q, &full, "kmap: ", "no free pkmap slot");
    // Release one page: its slot (and only it) is recycled for the next new page.
    let freed = hi_first + 5;
    let freed_va = vas[5];
    kunmap(&mut q, freed, 0);
    let va = kmap(&mut q, hi_first + LAST_PKMAP);
    if va != freed_va {
        q.fail(&format!("kmap after a kunmap: {va:#x}, expected the released slot {freed_va:#x}"));
    }
    let full = format!("kmap {:#x}", hi_first + LAST_PKMAP + 1);
    expect_one_line(&mut q, &full, "kmap: ", "no free pkmap slot");
    // A page that is still mapped needs no slot: same address, one more user.
    if kmap(&mut q, hi_first + 1) != vas[1] {
        q.fail("kmap of a mapped page with the pool full must return its address");
    }
    kunmap(&mut q, hi_first + 1, 1);
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// ioremap/iounmap.

#[test]
fn ioremap_and_iounmap_2g() {
    let (mut q, log) = boot("2G", None);
    let (start, _) = vmalloc_range(&q, &log);
    let (info0, areas0) = vmallocinfo(&mut q);
    let first_free = areas0.iter().map(|a| a.end).max().unwrap_or(start);
    let m0 = vmem(&mut q);
    let ioremap = |q: &mut Qemu, phys: u64, size: u64| -> u64 {
        let cmd = format!("ioremap {phys:#x} {size:#x}");
        let out = q.cmd(&cmd);
        let prefix = format!("ioremap({phys:#010x}, {size}) = 0x");
        match out.trim_end().strip_prefix(&prefix).map(|h| u64::from_str_radix(h, 16)) {
            Some(Ok(va)) => va,
            _ => q.fail(&format!("{cmd}: expected \"{prefix}...\", got {out:?}")),
        }
    };
    // The returned address keeps the offset within the page.
    let r1 = ioremap(&mut q, 0x3f20_1018, 4);
    if r1 != first_free + 0x18 {
        q.fail(&format!("ioremap(0x3f201018, 4) = {r1:#x}, expected {:#x}", first_free + 0x18));
    }
    // The UART flag register, through the new mapping and through the kernel's own.
    let fr = peek(&mut q, r1);
    expect_peek(&mut q, areas0[0].start + 0x18, fr);
    // Linux's alignment: the size's order, at most 512 KiB (IOREMAP_MAX_ORDER on SMP).
    let r2 = ioremap(&mut q, 0x3f00_0000, 0x10000);
    let want2 = (first_free + 2 * PAGE).next_multiple_of(0x10000);
    let r3 = ioremap(&mut q, 0x3f00_0000, 1 << 20);
    let want3 = (want2 + 0x11000).next_multiple_of(0x80000);
    if (r2, r3) != (want2, want3) {
        q.fail(&format!("ioremap 64K = {r2:#x} / 1M = {r3:#x}, expected {want2:#x} / {want3:#x}"));
    }
    let (info, _) = vmallocinfo(&mut q);
    for (va, len, phys) in
        [(first_free, PAGE, 0x3f20_1000), (r2, 0x10000, 0x3f00_0000), (r3, 1 << 20, 0x3f00_0000)]
    {
        let line = q.line_with(
            "/proc/vmallocinfo",
            &info,
            &format!("{va:#010x}-{:#010x} ", va + len + PAGE),
        );
        if !line.ends_with(&format!(" phys={phys:#010x} ioremap")) || line.contains("pages=") {
            q.fail(&format!("/proc/vmallocinfo: {line:?} is not an ioremap of {phys:#x}"));
        }
    }
    let dump = q.cmd("ptdump");
    let maps = ptdump_section(&q, &dump, "vmalloc() Area");
    for (va, len, phys) in
        [(first_free, PAGE, 0x3f20_1000), (r2, 0x10000, 0x3f00_0000), (r3, 1 << 20, 0x3f00_0000)]
    {
        expect_mapped(
            &q,
            &format!("ptdump ioremap {va:#x}"),
            &maps,
            va,
            len,
            "RW NX SHD DEV/SHARED",
        );
        if !maps.iter().any(|m| m.start == va && m.pa == phys) {
            q.fail(&format!("ptdump: {va:#x} does not map {phys:#x}"));
        }
    }
    // 6.1's VmallocUsed counts vmalloc'ed pages: ioremaps hold none.
    let m = vmem(&mut q);
    if m.used_kb != m0.used_kb {
        q.fail(&format!(
            "VmallocUsed {} kB must not count the ioremaps (boot: {} kB)",
            m.used_kb, m0.used_kb
        ));
    }
    // iounmap takes the address with its offset; a second iounmap or a page inside an area is
    // not an area; vfree and iounmap refuse each other's areas.
    expect_output(&mut q, &format!("iounmap {r1:#x}"), "");
    expect_output(
        &mut q,
        &format!("iounmap {r1:#x}"),
        &format!("Trying to vfree() nonexistent vm area ({first_free:08x})"),
    );
    expect_output(
        &mut q,
        &format!("iounmap {:#x}", r2 + PAGE),
        &format!("Trying to vfree() nonexistent vm area ({:08x})", r2 + PAGE),
    );
    let v = vmalloc(&mut q, "4096", 4096);
    expect_output(&mut q, &format!("iounmap {v:#x}"), &format!("{v:#010x} is not an ioremap area"));
    expect_output(&mut q, &format!("vfree {r3:#x}"), &format!("{r3:#010x} is not a vmalloc area"));
    for c in [format!("iounmap {r2:#x}"), format!("iounmap {r3:#x}"), format!("vfree {v:#x}")] {
        expect_output(&mut q, &c, "");
    }
    // RAM is refused, up to its last page.
    expect_output(
        &mut q,
        "ioremap 0x1000 4096",
        "ioremap: 0x00001000 is RAM: use the linear map, not ioremap",
    );
    expect_output(
        &mut q,
        "ioremap 0x3bfff000 8192",
        "ioremap: 0x3bfff000 is RAM: use the linear map, not ioremap",
    );
    if purge(&mut q) != 4 {
        q.fail("purge must return the four areas");
    }
    // Unmapped at iounmap time, flushed by the purge.
    expect_peek_fault(&mut q, r1);
    let (info, _) = vmallocinfo(&mut q);
    let m = vmem(&mut q);
    if info != info0 || m != m0 {
        q.fail(&format!("after iounmap + purge: {m:?} and\n{info}expected the boot state {m0:?}"));
    }
    q.poweroff_ok();
}

// ---------------------------------------------------------------------------------------------
// Bad input: one clear line each, and the console keeps going.

/// The next command after an error works.
fn help_works(q: &mut Qemu, after: &str) {
    let out = q.cmd("help");
    q.expect_in(&format!("help after {after:?}"), &out, "vmalloc SIZE");
}

fn bad_input(split: &'static str) {
    let (mut q, log) = boot(split, None);
    let (start, _) = vmalloc_range(&q, &log);
    let wild = start + (64 << 20);
    let v = vmalloc(&mut q, "4096", 4096);
    let exact: Vec<(String, String)> = vec![
        ("vfree 0x1234".into(), "Trying to vfree() bad address (00001234)".into()),
        (format!("vfree {wild:#x}"), format!("Trying to vfree() nonexistent vm area ({wild:08x})")),
        (
            format!("vfree {:#x}", v + PAGE),
            format!("Trying to vfree() nonexistent vm area ({:08x})", v + PAGE),
        ),
        (
            format!("vfree {:#x}", v + 0x10),
            format!("Trying to vfree() bad address ({:08x})", v + 0x10),
        ),
        ("vmalloc 0".into(), "vmalloc: size 0 (Linux returns NULL)".into()),
        (
            "ioremap 0x1000 4096".into(),
            "ioremap: 0x00001000 is RAM: use the linear map, not ioremap".into(),
        ),
        (format!("iounmap {v:#x}"), format!("{v:#010x} is not an ioremap area")),
        ("kmap 0x3c000".into(), "kmap: pfn 0x3c000 is not RAM".into()),
    ];
    for (cmd, want) in &exact {
        expect_output(&mut q, cmd, want);
        help_works(&mut q, cmd);
    }
    // Too large for RAM: Linux's warn_alloc report (message, mask, then the memory state).
    for (cmd, size) in [("vmalloc 4G", 4u64 << 30), ("vmalloc 2G", 2 << 30)] {
        let out = q.cmd(cmd);
        let first = out.lines().next().unwrap_or("");
        let want = format!(
            "swapper/0: vmalloc error: size {size}, exceeds total pages, mode:0xcc0(GFP_KERNEL), nodemask=(null)"
        );
        if first != want || !out.contains("\nMem-Info:\n") {
            q.fail(&format!("{cmd}: expected {want:?} and Mem-Info, got:\n{out}"));
        }
        help_works(&mut q, cmd);
    }
    let prefixed = [
        ("kmap 0xzz", "kmap: ", "'0xzz'"),
        ("kmap", "kmap: ", "usage"),
        ("kunmap 0x3c000", "kunmap: ", "page not mapped (pfn 0x3c000)"),
        ("vmalloc 1Q", "vmalloc: ", "'1Q'"),
        ("vmalloc -1", "vmalloc: ", "'-1'"),
        ("vfree zz", "vfree: ", "'zz'"),
        ("ioremap 0x3f000000 0", "ioremap: ", "size 0"),
        ("ioremap 0x3f000000", "ioremap: ", "usage"),
        ("vmalloc_fill", "vmalloc_fill: ", "usage"),
    ];
    for (cmd, prefix, also) in prefixed {
        expect_one_line(&mut q, cmd, prefix, also);
        help_works(&mut q, cmd);
    }
    let poke_wild = format!("poke {wild:#x} 1");
    expect_one_line(
        &mut q,
        &poke_wild,
        &format!("poke: {wild:#010x}: fault at virtual address {wild:08x}"),
        "",
    );
    expect_peek_fault(&mut q, wild);
    // Everything still works: the area made first is intact and can be freed.
    poke(&mut q, v, 0x600d);
    expect_peek(&mut q, v, 0x600d);
    expect_output(&mut q, &format!("vfree {v:#x}"), "");
    q.poweroff_ok();
}

#[test]
fn bad_input_gives_one_line_errors_2g() {
    bad_input("2G");
}

#[test]
fn bad_input_gives_one_line_errors_3g() {
    bad_input("3G");
}
