//! Boot parameters as Linux reads them, on the 2G build: the boot parameters' own bytes and no
//! more (issue 11 §1), device-tree memory reservations (issue 16.5), command-line bytes kept
//! and refused rather than rewritten (16.7), and the unknown-parameter summary, repeated
//! `mem=` and `page_poison` messages (16.15).
//! Needs `make kernel VMSPLIT=2G` and `make dtb` (`make test` does both).

mod common;
use common::*;
use std::time::Duration;

/// memtest writes and reads all of RAM: more than one console step.
const MEMTEST: Duration = Duration::from_secs(120);
/// PAGE_OFFSET - PHYS_OFFSET on the 2G build.
const PO: u64 = 0x8000_0000;

/// What `tests/dts/raspi2b-reserved.dts` takes from the page allocator: its /memreserve/
/// entries (1 MiB + 4 KiB), `firmware@20000000` (2 MiB), the two `no-map` regions (1 MiB +
/// 12 KiB) and the 4 MiB `dynamic` node. The 64 MiB CMA area stays in the page allocator.
const DT_RESERVED_KB: u64 = 1024 + 4 + 2048 + 1024 + 12 + 4096;

/// The word `peek` shows at virtual address `va`.
fn peek(q: &mut Qemu, va: u64) -> u64 {
    let out = q.cmd(&format!("peek {va:#x}"));
    let line = q.line_with("peek", &out, &format!("{va:#010x}: "));
    let word = line.rsplit(": ").next().unwrap_or("");
    u64::from_str_radix(word.trim(), 16)
        .unwrap_or_else(|_| q.fail(&format!("peek {va:#x}: cannot read {line:?}")))
}

/// Issue 16.5: the device tree's /memreserve/ entries and /reserved-memory nodes are reserved
/// in memblock, so MemTotal shrinks by them, /proc/iomem lists them, and memtest (which
/// writes every free page) never touches them; `no-map` regions are not even mapped.
#[test]
fn device_tree_reservations_are_kept_from_the_allocator() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").dtb());
    let mi = q.cmd("cat /proc/meminfo");
    let plain = meminfo_kb(&q, &mi, "MemTotal");
    q.poweroff_ok();

    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").dtb_named("raspi2b-reserved"));
    // The only reservation messages are Linux's for the default CMA area, which CMA then
    // gives to the page allocator as MIGRATE_CMA pageblocks.
    for line in log.lines() {
        let cma = line == "Reserved memory: created CMA memory pool at 0x38000000, size 64 MiB"
            || line
                == "OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool";
        if (line.contains("Reserved memory") || line.contains("reserved mem")) && !cma {
            q.fail(&format!("boot log: unexpected reservation message {line:?}"));
        }
    }
    q.expect_in("boot log", &log, "Reserved memory: created CMA memory pool at 0x38000000");
    let mi = q.cmd("cat /proc/meminfo");
    let total = meminfo_kb(&q, &mi, "MemTotal");
    if plain - total != DT_RESERVED_KB {
        q.fail(&format!(
            "MemTotal {total} kB with the reservations, {plain} kB without: expected \
             {DT_RESERVED_KB} kB less"
        ));
    }
    let iomem = q.cmd("cat /proc/iomem");
    for line in [
        "00000000-203fffff : System RAM\n",
        "  10000000-100fffff : reserved\n",
        "  10200000-10200fff : reserved\n",
        "  20000000-201fffff : reserved\n",
        "20400000-204fffff : reserved\n",
        "20500000-20600fff : System RAM\n",
        "20601000-20603fff : reserved\n",
        "20604000-3bffffff : System RAM\n",
        "  30c00000-30ffffff : reserved\n",
    ] {
        q.expect_in("cat /proc/iomem", &iomem, line);
    }
    if iomem.contains("38000000") || iomem.contains("21000000") {
        q.fail("cat /proc/iomem: the CMA area or the disabled node is listed");
    }

    let out = q.cmd_timeout("memtest", MEMTEST);
    q.expect_in("memtest", &out, "memtest: ok");
    // memtest leaves `address ^ pattern` in every word it tested: a free page shows it, the
    // reserved ones (zero since QEMU loaded the machine) do not.
    let free = 0x2020_0000;
    let pattern = peek(&mut q, PO + free) ^ free;
    for pa in [0x1000_0000u64, 0x1020_0000, 0x2000_0000, 0x2060_0ffc, 0x30c0_0000] {
        if peek(&mut q, PO + pa) ^ pa == pattern {
            q.fail(&format!("memtest wrote into the reserved page at {pa:#x}"));
        }
    }
    // no-map: not in the linear map at all; the pages next to it are.
    for pa in [0x2040_0000u64, 0x2060_1000, 0x2060_3ffc] {
        let out = q.cmd(&format!("peek {:#x}", PO + pa));
        q.expect_in("peek of a no-map region", &out, "translation fault");
    }
    peek(&mut q, PO + 0x2060_4000);
    q.poweroff_ok();
}

/// A /memreserve/ over all of RAM would leave nothing for mem_map: one line says so and the
/// kernel boots without the device tree's reservations.
#[test]
fn reservations_that_leave_no_memory_are_ignored() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").dtb_named("raspi2b-reserve-all"));
    q.expect_in(
        "boot log",
        &log,
        "pivm: the device tree's memory reservations leave no room for mem_map",
    );
    let out = q.cmd_timeout("memtest", MEMTEST);
    q.expect_in("memtest", &out, "memtest: ok");
    q.poweroff_ok();
}

/// Issue 11 §1: the boot code reads only the bytes the DTB header says the blob has, and
/// reserves exactly those (`memblock=debug` prints memblock as Linux's does).
#[test]
fn boot_params_are_exactly_the_dtb() {
    let opts = Opts::raw("2G").dtb().append("memblock=debug").monitor("bootparams");
    let socket = opts.monitor.clone().unwrap();
    let (mut q, log) = Qemu::boot_to_prompt(opts);
    let header = monitor_cmd(&socket, "xp /2wx 0x8000000");
    let words = hex_numbers(header.lines().last().unwrap_or(""));
    let &[magic, size_le] = words.as_slice() else {
        q.fail(&format!("monitor xp: cannot read {header:?}"))
    };
    if magic != 0xedfe_0dd0 {
        q.fail(&format!("no DTB at 0x8000000: {header:?}"));
    }
    let totalsize = u64::from((size_le as u32).swap_bytes());
    let line = q.line_with("memblock=debug", &log, "(boot params)");
    let want =
        format!("[0x08000000-{:#010x}], {totalsize:#010x} bytes", 0x0800_0000 + totalsize - 1);
    q.expect_in("boot params reservation", line, &want);
    q.expect_in("boot log", &log, "MEMBLOCK configuration:\n");
    q.poweroff_ok();
}

/// Issue 16.7: `mem=5<0x01>12M` was read as `mem=512M` with no warning and `café=1` showed as
/// `caf=1`. The bytes are kept (control bytes shown as `\xNN`), the value is refused.
#[test]
fn command_line_bytes_are_kept() {
    let cmdline = "mem=5\u{1}12M caf\u{e9}=1";
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append(cmdline));
    q.expect_in("boot log", &log, "Kernel command line: mem=5\\x0112M caf\u{e9}=1\n");
    q.expect_in("boot log", &log, "mem=5\\x0112M: invalid size, ignored\n");
    q.expect_in(
        "boot log",
        &log,
        "Unknown kernel command line parameters \"caf\u{e9}=1\", will be passed to user space.",
    );
    // No mem= applied: all 960 MiB.
    q.expect_in("boot log", &log, "  node   0: [mem 0x0000000000000000-0x000000003bffffff]\n");
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != "mem=5\\x0112M caf\u{e9}=1" {
        q.fail(&format!("cat /proc/cmdline: got {out:?}"));
    }
    q.poweroff_ok();
}

/// Issue 16.15: an unknown parameter longer than the old 200-byte summary buffer vanished
/// from the line; Linux's line holds them all.
#[test]
fn long_unknown_parameter_is_listed() {
    let long = format!("x{}=1", "y".repeat(300));
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append(&format!("short {long}")));
    q.expect_in(
        "boot log",
        &log,
        &format!(
            "Unknown kernel command line parameters \"short {long}\", will be passed to user space.\n"
        ),
    );
    q.poweroff_ok();
}

/// Issue 16.15: a repeated `mem=` kept only the last; Linux/ARM adds a bank for each, and
/// `mem=SIZE@START` places one.
#[test]
fn every_mem_adds_a_bank() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("mem=256M mem=128M@512M"));
    q.expect_in("boot log", &log, "  node   0: [mem 0x0000000000000000-0x000000000fffffff]\n");
    q.expect_in("boot log", &log, "  node   0: [mem 0x0000000020000000-0x0000000027ffffff]\n");
    let mi = q.cmd("cat /proc/meminfo");
    let total = meminfo_kb(&q, &mi, "MemTotal");
    // 384 MiB of RAM minus the kernel image, mem_map and the boot stub: a few MiB (about
    // 4.6 MiB with the kernel as it is now).
    if !(376 * 1024..384 * 1024).contains(&total) {
        q.fail(&format!("MemTotal {total} kB: expected a little under 384 MiB"));
    }
    // The hole between the banks is not mapped.
    let out = q.cmd(&format!("peek {:#x}", PO + 0x1800_0000));
    q.expect_in("peek in the hole", &out, "translation fault");
    q.poweroff_ok();
}

/// Issue 16.15: `page_poison` without a value echoed an `=` never typed.
#[test]
fn page_poison_without_value_is_quoted_as_typed() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("page_poison"));
    q.expect_in("boot log", &log, "\npage_poison: expected 1/on or 0/off, ignored\n");
    q.poweroff_ok();
}
