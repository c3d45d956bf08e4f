//! Memory-layout profiles and the vmalloc fragmentation scenario on the real kernel (3G build):
//! the profiles' partitions, fallbacks for bad profiles, the scenario's analysis and verdict,
//! its determinism, and `pivm.run=` at boot. Needs `make kernel VMSPLIT=3G`.

mod common;
use common::*;
use std::time::Duration;

/// A 40,000-step run takes about a second; leave room on a loaded machine.
const SCENARIO: Duration = Duration::from_secs(45);

fn boot(append: &str) -> (Qemu, String) {
    Qemu::boot_to_prompt(Opts::raw("3G").append(append))
}

#[test]
fn android_a9_partition() {
    let (mut q, log) = boot("pivm.profile=android-a9");
    for line in [
        "    vmalloc : 0xe0800000 - 0xf0000000   ( 248 MB)",
        "    lowmem  : 0xc0000000 - 0xe0000000   ( 512 MB)",
        "Memory layout profile: android-a9",
        "  HighMem  [mem 0x0000000020000000-0x000000003bffffff]",
    ] {
        q.expect_in("boot log", &log, line);
    }
    let iomem = q.cmd("cat /proc/iomem");
    q.expect_in("iomem", &iomem, "  17000000-1effffff : pmem");
    q.expect_in("iomem", &iomem, "  1f000000-1fffffff : CP");
    // The carve-outs never reach the buddy allocator: LowTotal is lowmem minus 144 MiB and
    // the kernel's own reservations (mem_map's 32-byte descriptors of 960 MiB alone are
    // 7.5 MiB).
    let mi = q.cmd("cat /proc/meminfo");
    let low_total: u64 = q.line_with("meminfo", &mi, "LowTotal:")[16..24].trim().parse().unwrap();
    if !(352 * 1024..368 * 1024).contains(&low_total) {
        q.fail(&format!("LowTotal {low_total} kB: expected 512 - 144 MiB less the kernel"));
    }
    q.poweroff_ok();
}

#[test]
fn android_a9_720m_partition() {
    let (mut q, log) = boot("pivm.profile=android-a9-720m");
    q.expect_in("boot log", &log, "    lowmem  : 0xc0000000 - 0xed000000   ( 720 MB)");
    q.expect_in("boot log", &log, "    vmalloc : 0xed800000 - 0xfd000000   ( 248 MB)");
    q.expect_in("boot log", &log, "placeholder");
    q.poweroff_ok();
}

#[test]
fn x86_classic_zones_at_16m_and_896m() {
    let (mut q, log) = boot("pivm.profile=x86-classic");
    for line in [
        "  DMA      [mem 0x0000000000000000-0x0000000000ffffff]",
        "  Normal   [mem 0x0000000001000000-0x0000000037ffffff]",
        "  HighMem  [mem 0x0000000038000000-0x000000003bffffff]",
    ] {
        q.expect_in("boot log", &log, line);
    }
    let buddy = q.cmd("cat /proc/buddyinfo");
    q.expect_in("buddyinfo", &buddy, "Node 0, zone      DMA ");
    q.poweroff_ok();
}

#[test]
fn bad_profiles_fall_back_to_linux() {
    let (mut q, log) = boot("pivm.profile=bogus");
    q.expect_in("boot log", &log, "pivm: unknown profile \"bogus\" (valid: ");
    q.expect_in("boot log", &log, "    lowmem  : 0xc0000000 - 0xf0000000   ( 768 MB)");
    q.poweroff_ok();
    // A profile that does not fit the RAM: 512 MiB of lowmem with only 256 MiB.
    let (mut q, log) = boot("pivm.profile=android-a9 mem=256M");
    q.expect_in("boot log", &log, "pivm: profile android-a9: ");
    q.expect_in("boot log", &log, "; using profile linux");
    q.expect_in("boot log", &log, "    lowmem  : 0xc0000000 - 0xd0000000   ( 256 MB)");
    let out = q.cmd("help");
    q.expect_in("help", &out, "scenario");
    q.poweroff_ok();
}

#[test]
fn scenario_rejects_bad_input_and_keeps_running() {
    let (mut q, _) = boot("pivm.profile=android-a9");
    for (cmd, msg) in [
        ("scenario vmalloc-frag seed=abc", "scenario: seed: invalid number 'abc'"),
        ("scenario vmalloc-frag steps=0", "scenario: steps=0 out of range (1-1000000)"),
        ("scenario vmalloc-frag steps=99999999999", "scenario: steps=99999999999 out of range"),
        ("scenario vmalloc-frag extra", "scenario: unknown option 'extra' (seed=N, steps=N)"),
        ("scenario vmalloc-frag size=3", "scenario: unknown option 'size=3' (seed=N, steps=N)"),
        ("scenario foo", "scenario: unknown scenario 'foo' (vmalloc-frag)"),
        ("scenario", "scenario: usage: scenario vmalloc-frag [seed=N] [steps=N]"),
    ] {
        let out = q.cmd(cmd);
        q.expect_in(cmd, &out, msg);
    }
    // Nothing was started: a short run goes through and ends with its verdict.
    let out = q.cmd_timeout("scenario vmalloc-frag seed=2 steps=500", SCENARIO);
    q.expect_in("short run", &out, "request of 0x1a0000 bytes: succeeded");
    q.verify_ok("after the short run");
    q.poweroff_ok();
}

/// Runs the scenario and returns its summary line.
fn scenario_summary(profile: &str, seed: u32) -> String {
    let (mut q, _) = boot(&format!("pivm.profile={profile}"));
    let free_before = free_kb(&mut q);
    let out = q.cmd_timeout(&format!("scenario vmalloc-frag seed={seed}"), SCENARIO);
    for s in [
        "scenario: the graphics driver asks for 0x1a0000 bytes",
        "scenario: __get_free_pages(GFP_KERNEL, 9)",
        "--- /proc/buddyinfo",
        "--- /proc/vmallocinfo (top of the range)",
        "--- diagnosis",
        "--- the device (case study)",
        "request of 0x1a0000 bytes: ",
    ] {
        q.expect_in("scenario", &out, s);
    }
    q.verify_ok("after the scenario");
    // The allocations stay until released, then everything comes back (MemFree plus the
    // per-CPU lists plus the slab caches, which keep CPU and partial slabs for reuse as SLUB
    // does) but the page tables of the vmalloc range (kept, as Linux keeps kernel page tables).
    let out2 = q.cmd("scenario release");
    q.expect_in("scenario release", &out2, "scenario: released ");
    q.verify_ok("after scenario release");
    let free_after = free_kb(&mut q);
    if free_after + 1024 < free_before {
        q.fail(&format!("{free_before} kB free before the run, {free_after} kB after release"));
    }
    let line = q.line_with("scenario", &out, "scenario-summary: ").to_string();
    q.poweroff_ok();
    line
}

/// Free memory in kB: MemFree plus the pages cached on the per-CPU lists and in the slab
/// caches.
fn free_kb(q: &mut Qemu) -> u64 {
    let mi = q.cmd("cat /proc/meminfo");
    meminfo_kb(q, &mi, "MemFree") + meminfo_kb(q, &mi, "Slab") + 4 * q.pcp_cached_pages()
}

fn field<'a>(summary: &'a str, name: &str) -> &'a str {
    summary
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name}= in {summary}"))
}

/// Seeds on which the 512 MiB layout fails like the device (see `make scenario` for more)
/// on one kernel build. Which seeds fail depends on the exact free memory, which the kernel
/// image's size shifts by pages, so the 512 MiB test searches for failing seeds (up to
/// `SEED_SEARCH`) instead of naming them; the 720 MiB layout succeeds on every seed.
const FAILING_SEEDS: [u32; 4] = [1, 2, 3, 5];
/// Seeds the 512 MiB test tries, in order, to find `FAILING_SEEDS.len()` failures.
const SEED_SEARCH: std::ops::RangeInclusive<u32> = 1..=16;
/// 0x1a0000 bytes plus the guard page: the vmalloc gap the request needs.
const NEEDED_GAP: u64 = 0x1a_1000;

#[test]
fn scenario_fails_like_the_device_on_512m_lowmem() {
    let mut failed = Vec::new();
    for seed in SEED_SEARCH {
        if failed.len() == FAILING_SEEDS.len() {
            break;
        }
        let s = scenario_summary("android-a9", seed);
        if field(&s, "outcome") != "failed" {
            continue;
        }
        failed.push(seed);
        // The physical half: no order-9 block in Normal (or Normal at its watermark), while
        // memory as a whole is far from exhausted, as on the device (MemFree 156 MiB).
        let order: i32 = field(&s, "largest_order").parse().unwrap();
        let low_free: u64 = field(&s, "lowfree_kb").parse().unwrap();
        let low_min: u64 = field(&s, "lowmin_kb").parse().unwrap();
        assert!(order < 9 || low_free < low_min + 2048, "seed {seed}: {s}");
        let mem_free: u64 = field(&s, "memfree_kb").parse().unwrap();
        assert!(mem_free > 100 * 1024, "seed {seed}: {s}");
        // The vmalloc half: the range is used up, no gap holds the request and its guard page.
        let chunk_kb: u64 = field(&s, "vmalloc_chunk_kb").parse().unwrap();
        assert!(chunk_kb * 1024 < NEEDED_GAP, "seed {seed}: {s}");
        let vfree_kb: u64 = field(&s, "vmalloc_free_kb").parse().unwrap();
        assert!(vfree_kb < 48 * 1024, "seed {seed}: {s}");
    }
    assert_eq!(
        failed.len(),
        FAILING_SEEDS.len(),
        "seeds {SEED_SEARCH:?}: only {failed:?} failed like the device"
    );
}

#[test]
fn scenario_succeeds_with_720m_lowmem() {
    for seed in FAILING_SEEDS {
        let s = scenario_summary("android-a9-720m", seed);
        // The fix: the same trace leaves lowmem with an order-9 block.
        assert_eq!(field(&s, "outcome"), "ok-gfp", "seed {seed}: {s}");
        let order: i32 = field(&s, "largest_order").parse().unwrap();
        assert!(order >= 9, "seed {seed}: {s}");
    }
}

#[test]
fn scenario_is_deterministic() {
    let a = scenario_summary("android-a9", 3);
    let b = scenario_summary("android-a9", 3);
    assert_eq!(a, b, "the same seed must give the same end state");
}

#[test]
fn scenario_at_boot_then_console() {
    let (mut q, log) = boot("pivm.profile=android-a9 pivm.run=vmalloc-frag");
    q.expect_in("boot log", &log, "scenario vmalloc-frag: profile android-a9, seed 1");
    q.expect_in("boot log", &log, "request of 0x1a0000 bytes: ");
    let out = q.cmd("cat /proc/buddyinfo");
    q.expect_in("buddyinfo after the scenario", &out, "Node 0, zone   Normal ");
    let out = q.cmd("scenario vmalloc-frag seed=2");
    q.expect_in("second run", &out, "run 'scenario release' first");
    q.verify_ok("after the scenario at boot");
    q.poweroff_ok();
}
