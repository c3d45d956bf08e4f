//! Issue 13 item 7 ("nothing lost") under random use: `swapmonkey SEED STEPS` (several
//! processes, each with private and shared anonymous regions, taking PRNG-chosen steps:
//! writes, checks, forks with copy-on-write on both sides, munmap/mmap, mprotect,
//! `MADV_PAGEOUT`, `MADV_DONTNEED`, bursts that push memory out; every word of every read
//! checked) on a kernel with RAM cut by `mem=` and the card's swap on, a few seeds one after
//! another with `swapoff`/`swapon` and `drop_caches` from the console between them. After
//! each seed every slot is free but what the swap slots cache holds (`/proc/swaps`' Used at
//! most its two lists, `SwapFree` the rest, `SwapCached` 0), `verify` is clean, and at the end free memory is back to what it was after `swapon`.
//!
//! The seeds and steps are the test's, so a failure is reproducible from its message (the
//! seed and the command are in it, with the transcript). `SWAPMONKEY_SEEDS=1-500` (a range or
//! a comma list), `SWAPMONKEY_STEPS=N` and `SWAPMONKEY_SHAPE="-j 2 -r 6 -n 512 -b 2048"` run
//! others: `make soak` does, on both kernels.
//! Needs `make kernel VMSPLIT=2G`, `make initramfs`, `make sd-image` (32-bit) and `make kernel
//! ARCH=arm64 VA_BITS=48`, `make initramfs ARCH=arm64`, `make sd-image ARCH=arm64` (64-bit); `make test` builds them.
mod common;

use std::time::Duration;

use common::sd::{boot_arm64, check_only_slots_cached};
use common::{meminfo_kb, vmstat, MemSnapshot, Opts, Qemu};

/// The seeds `make test` runs (one boot each kernel, one after another).
const SEEDS: &[u64] = &[1, 2, 3];
/// Steps per worker for each seed.
const STEPS: u64 = 150;
/// One seed's run: a few seconds alone, much more beside other QEMUs on two cores; a hang
/// still fails.
const RUN: Duration = Duration::from_secs(300);
/// The whole boot's limit, for `SWAPMONKEY_SEEDS` runs of many seeds.
const SOAK_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The 32-bit kernel: 64 MiB of RAM (the second bank keeps QEMU's initrd in RAM), about
/// 36 MiB free at the prompt, the card's 23 MiB swap partition; the program from the
/// initramfs.
const SMALL_RAM_32: &str = "mem=32M mem=32M@0x08000000";
/// The 64-bit kernel: 40 MiB from the start of RAM, no CMA area and no initramfs (about
/// 38 MiB free at the prompt), the program from the card.
const SMALL_RAM_64: &str = "mem=40M cma=0";
/// The workload's shape on both: three workers with four regions of 1 MiB each (a third of
/// them shared on average), bursts of 6 MiB: the bursts of three workers at once and the
/// regions take more than the free RAM, so reclaim swaps, and stay within RAM and swap.
const SHAPE: &str = "-j 3 -r 4 -n 256 -b 1536";

/// What free memory may be short by at the end, against the state after the first seed:
/// objects of structures kept at a high-water mark that depends on timing (which of the
/// workers' fork children ran at once), a few kB from one seed to the next. A page or slot
/// lost per seed (the read-ahead pages this test found) adds up past it over the seeds, and
/// the slots are checked exactly after each.
const SLACK_KB: u64 = 64;

/// `SWAPMONKEY_SEEDS` ("A-B" or "A,B,C") or the test's own seeds.
fn seeds() -> Vec<u64> {
    let Ok(spec) = std::env::var("SWAPMONKEY_SEEDS") else { return SEEDS.to_vec() };
    let num = |s: &str| -> u64 {
        s.trim().parse().unwrap_or_else(|_| panic!("SWAPMONKEY_SEEDS: {s:?} is not a seed"))
    };
    if let Some((a, b)) = spec.split_once('-') {
        (num(a)..=num(b)).collect()
    } else {
        spec.split(',').map(num).collect()
    }
}

/// `SWAPMONKEY_SHAPE` (the program's `-j -r -n -b` options) or [`SHAPE`].
fn shape() -> String {
    std::env::var("SWAPMONKEY_SHAPE").unwrap_or_else(|_| SHAPE.to_string())
}

fn steps() -> u64 {
    std::env::var("SWAPMONKEY_STEPS")
        .map(|s| s.parse().expect("SWAPMONKEY_STEPS must be a number"))
        .unwrap_or(STEPS)
}

fn swapon(q: &mut Qemu) {
    let out = q.cmd("swapon /dev/mmcblk0p2");
    q.expect_in("swapon", &out, "Adding ");
}

/// Runs each seed in turn on a booted kernel with swap on, checking after each that nothing
/// is lost, with the console's swapoff/swapon and drop_caches between seeds. `snapshot`
/// takes the free-memory snapshot it returns, after the first seed (and `drop_caches`): the
/// first run grows caches that stay at their high-water mark (the task table's queues, sized
/// for the most tasks there ever were, the slab objects of structures sized as the swap use
/// peaked), so the caller compares the end with the state after it, with [`SLACK_KB`].
fn soak(
    q: &mut Qemu,
    kernel: &str,
    prog: &str,
    snapshot: fn(&mut Qemu) -> MemSnapshot,
) -> MemSnapshot {
    swapon(q);
    let mut before = None;
    let mi = q.cmd("cat /proc/meminfo");
    let swap_kb = meminfo_kb(q, &mi, "SwapTotal");
    let (steps, shape) = (steps(), shape());
    let (mut majflt, mut pswpin0) = (0, vmstat(q, "pswpin"));
    for (i, seed) in seeds().into_iter().enumerate() {
        let cmd = format!("{prog} {seed} {steps} {shape}");
        let out = q.cmd_timeout(&format!("run {cmd}"), RUN);
        let summary = format!("SWAPMONKEY seed={seed} steps=");
        let ok = out.lines().any(|l| l.starts_with(&summary) && l.ends_with(" ok"));
        if !ok || out.contains("MISMATCH") {
            q.fail(&format!("{kernel}: seed {seed} failed: `{cmd}`:\n{out}"));
        }
        majflt += field(q, &out, &summary, "majflt=");
        // Exited: only the swap slots cache may hold slots (Used in its batches), nothing in
        // the swap cache, `verify` clean.
        check_only_slots_cached(q, swap_kb, &format!("{kernel}: after seed {seed} (`{cmd}`)"));
        // Between runs: the area off (nothing on it) and on again, or the caches dropped.
        match i % 3 {
            0 => {
                let out = q.cmd("swapoff /dev/mmcblk0p2");
                if !out.trim().is_empty() {
                    q.fail(&format!("{kernel}: swapoff after seed {seed}: {out}"));
                }
                swapon(q);
            }
            1 => {
                q.cmd("echo 3 > /proc/sys/vm/drop_caches");
            }
            _ => {}
        }
        eprintln!("{kernel}: seed {seed} ok: {}", q.line_with("summary", &out, &summary));
        if before.is_none() {
            q.cmd("echo 3 > /proc/sys/vm/drop_caches");
            before = Some(snapshot(q));
        }
    }
    let pswpin = vmstat(q, "pswpin") - std::mem::take(&mut pswpin0);
    if majflt == 0 || pswpin == 0 {
        q.fail(&format!(
            "{kernel}: nothing came back from swap (majflt {majflt}, pswpin {pswpin})"
        ));
    }
    q.cmd("echo 3 > /proc/sys/vm/drop_caches");
    before.expect("at least one seed")
}

/// The number after `key` in the line starting with `prefix`.
fn field(q: &Qemu, out: &str, prefix: &str, key: &str) -> u64 {
    let line = q.line_with("summary", out, prefix);
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no {key} in {line:?}")))
}

fn limit() -> Duration {
    if std::env::var("SWAPMONKEY_SEEDS").is_ok() {
        SOAK_LIMIT
    } else {
        RUN * SEEDS.len() as u32
    }
}

#[test]
fn random_swap_use_loses_nothing_2g() {
    let (mut q, _) = Qemu::boot_to_prompt(
        Opts::raw("2G").append(SMALL_RAM_32).sd_card().initramfs().limit(limit()),
    );
    let before = soak(&mut q, "2G", "/bin/swapmonkey", Qemu::memory_snapshot);
    q.assert_nothing_lost("after the seeds", &before, SLACK_KB);
    q.poweroff_ok();
}

#[test]
fn random_swap_use_loses_nothing_arm64_48() {
    let mut q = boot_arm64(48, false, SMALL_RAM_64, limit());
    let before =
        soak(&mut q, "arm64 VA_BITS=48", "/boot/bin/swapmonkey", Qemu::memory_snapshot_unshrunk);
    // No /sys/kernel/slab to shrink on this kernel: free memory, the slab pages and the page
    // tables together must be back (a cache may keep an empty slab).
    let after = q.memory_snapshot_unshrunk();
    let held = |q: &Qemu, s: &MemSnapshot| {
        s.free_kb + meminfo_kb(q, &s.meminfo, "Slab") + meminfo_kb(q, &s.meminfo, "PageTables")
    };
    let (b, a) = (held(&q, &before), held(&q, &after));
    if a + SLACK_KB < b {
        q.fail(&format!(
            "free + Slab + PageTables {a} kB after the seeds, {b} kB after the first:\n{}\n{}",
            before.meminfo, after.meminfo
        ));
    }
    q.poweroff_ok();
}
