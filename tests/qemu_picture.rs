//! `memdump` on the booted kernel (issue 15, part 2): the block closes with its own line
//! count, the pageblocks tile each zone and their free pages add up to what /proc/zoneinfo
//! says, a vmalloc the console makes appears as an area with its pages in a zone, a process's
//! pages are those its maps lists, and bad PIDs get one line.
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

const RUN: Duration = Duration::from_secs(90);

/// The `key=` field of a record line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// The lines of one memdump block, checked to close with the right count.
fn block(q: &Qemu, out: &str) -> Vec<String> {
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("memdump version=1 "))
        .unwrap_or_else(|| q.fail("no memdump header"));
    let last = lines
        .iter()
        .position(|l| l.starts_with("memdump end lines="))
        .unwrap_or_else(|| q.fail("no memdump end"));
    assert_eq!(num(field(&lines[last], "lines")) as usize, last - first + 1, "{}", q.transcript());
    lines[first..=last].to_vec()
}

#[test]
fn memdump_reports_the_live_kernel_and_a_process() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs());
    q.cmd("vmalloc 64K");
    let out = q.cmd("memdump");
    let dump = block(&q, &out);
    let head = &dump[0];
    assert!(head.contains(" what=kernel split=2G page_offset=0x80000000 profile=linux "), "{head}");
    // The zone's free pages, by pageblock and as the zone counts them.
    let zone = dump.iter().find(|l| l.starts_with("zone name=Normal ")).unwrap();
    let (start, end) = (num(field(zone, "start_pfn")), num(field(zone, "end_pfn")));
    let blocks: Vec<&String> = dump.iter().filter(|l| l.starts_with("pageblock ")).collect();
    let pages: u64 = blocks.iter().map(|b| num(field(b, "pages"))).sum();
    assert_eq!(pages, end - start, "{}", q.transcript());
    let free: u64 = blocks.iter().map(|b| num(field(b, "free"))).sum();
    let zone_free = num(field(zone, "free"));
    assert_eq!(free, zone_free, "{}", q.transcript());
    for b in &blocks {
        let orders: u64 = field(b, "orders").split(',').enumerate().map(|(o, n)| num(n) << o).sum();
        assert_eq!(orders, num(field(b, "free")), "{b}");
    }
    // The image's first block holds reserved pages (the kernel, mem_map).
    assert!(num(field(blocks[0], "reserved")) > 0, "{}", blocks[0]);
    // The linear map and the vector page, mapped onto one frame of Normal.
    assert!(dump.iter().any(|l| l.starts_with("region name=lowmem kind=lowmem start=0x80000000 end=0xbc000000 phys=0x00000000 phys_end=0x3c000000 zones=Normal")));
    let vec = dump
        .iter()
        .find(|l| l.starts_with("map region=vectors "))
        .unwrap_or_else(|| q.fail("no vectors map"));
    assert_eq!(field(vec, "pages"), "1");
    assert_eq!(field(vec, "zone"), "Normal");
    // The console's vmalloc: 16 pages in Normal (all of RAM is lowmem on 2G), and the
    // drivers' ioremaps on device memory.
    let mine = dump
        .iter()
        .find(|l| l.starts_with("varea ") && l.contains("cmd_vmalloc"))
        .unwrap_or_else(|| q.fail("no vmalloc area"));
    assert_eq!(field(mine, "kind"), "vmalloc");
    assert_eq!(field(mine, "pages"), "Normal:16", "{mine}");
    assert!(
        dump.iter().filter(|l| l.starts_with("varea ") && field(l, "kind") == "ioremap").count()
            >= 6
    );
    assert!(dump.iter().any(|l| l.starts_with("vmalloc start=0x")));

    // A process: its VMAs and present pages.
    let pid = q.start_background("/bin/vmtest layout hold", "HOLDING pid=", RUN);
    let maps = q.cmd(&format!("cat /proc/{pid}/maps"));
    let out = q.cmd(&format!("memdump {pid}"));
    let pdump = block(&q, &out);
    assert!(
        pdump[0].starts_with(&format!("memdump version=1 what=process pid={pid} comm=vmtest ")),
        "{}",
        pdump[0]
    );
    let vmas: Vec<&String> = pdump.iter().filter(|l| l.starts_with("vma ")).collect();
    // Every maps line but the gate VMA ([vectors]) is a vma record, in the same order.
    let starts: Vec<u64> = maps
        .lines()
        .filter(|l| !l.ends_with("[vectors]"))
        .map(|l| u64::from_str_radix(&l[..8], 16).unwrap())
        .collect();
    let got: Vec<u64> = vmas.iter().map(|v| num(field(v, "start"))).collect();
    assert_eq!(got, starts, "{}", q.transcript());
    let stack = vmas.iter().find(|v| field(v, "name") == "[stack]").unwrap();
    assert!(num(field(stack, "present")) > 0, "{stack}");
    let present: u64 = vmas.iter().map(|v| num(field(v, "present"))).sum();
    let in_runs: u64 =
        pdump.iter().filter(|l| l.starts_with("pte ")).map(|l| num(field(l, "n"))).sum();
    assert_eq!(present, in_runs);

    // Bad input: one line each, the console carries on.
    assert_eq!(
        q.cmd("memdump 0"),
        "memdump: 0 is the console: it has no user address space (no PID)\n"
    );
    assert_eq!(q.cmd("memdump 4242"), "memdump: 4242: No such process\n");
    assert_eq!(q.cmd("memdump x"), "memdump: invalid number 'x'\n");
    assert_eq!(q.cmd("memdump 1 2"), "memdump: usage: memdump [PID]\n");
    q.verify_ok("after memdump");
    q.poweroff_ok();
}

#[test]
fn memdump_shows_the_android_layout_and_highmem() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").append("pivm.profile=android-a9"));
    let out = q.cmd("memdump");
    let dump = block(&q, &out);
    assert!(
        dump[0].contains(" split=3G page_offset=0xc0000000 profile=android-a9 "),
        "{}",
        dump[0]
    );
    assert!(
        dump.iter()
            .any(|l| l
                .starts_with("carveout name=CP phys=0x1f000000 phys_end=0x20000000 va=0xdf000000")),
        "{}",
        q.transcript()
    );
    assert!(dump
        .iter()
        .any(|l| l.starts_with("region name=unused kind=hole start=0xf0000000 end=0xfd100000")));
    assert!(dump.iter().any(|l| l.starts_with("pageblock ") && field(l, "zone") == "HighMem"));
    assert!(dump.iter().any(|l| l.starts_with("region name=pkmap kind=pkmap ")));
    q.poweroff_ok();
}
