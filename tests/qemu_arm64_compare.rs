//! pivm's half of `make compare-linux ARCH=arm64`'s faults and layout phases, against arm64
//! Linux 6.1: the steps are read from `scripts/compare-lib.sh` (the one list both kernels and
//! both architectures run), pivm runs them at both VA sizes as `scripts/compare-linux-arm64.sh`
//! does (raw `kernel8.img`, the reference's device tree, the arm64 initramfs, `norandmaps`),
//! and the fault counts are checked against the recorded Linux transcripts
//! (`tests/samples/linux-6.1-raspi3b-arm64-user/`: Debian's 6.1.192 arm64 kernel on the same
//! QEMU board): every `+minflt/+majflt` of vmtest's access patterns and every sum equal to
//! Linux's with transparent huge pages off (`faults-nothp.txt`: pivm has no THP), the rows that
//! Debian's default (`THP=always`, `faults.txt`) changes being exactly the 16 MiB anonymous
//! ones a huge page backs; the stack's growth of the layout phase; the faults of exec'd and
//! forked children when the transcripts were taken with this build of vmtest. No Linux is
//! booted here: that needs apt, and stays in `make compare-linux ARCH=arm64`.
//! The icount, swap and diskcost phases are checked at 48 bits where their counts do not
//! depend on reclaim: `vmtest time`'s faults, the swap area and `MADV_PAGEOUT` of 16 MiB, a
//! file's major faults from the card with and without read-ahead.
//! Needs `make kernel ARCH=arm64 VA_BITS=48` and `39`, `make initramfs ARCH=arm64` and
//! `make sd-image ARCH=arm64 SD_SIZE=512M` (`make test` builds them).
mod common;

use common::compare::{exec_rows, fault_steps, fnv1a64, phase_steps, swap_rows, time_rows};
use common::{root, spawn_arm64, Qemu, BOOT, PROMPT};
use std::collections::HashMap;
use std::time::Duration;

/// Linux's recorded transcripts, one per phase.
const SAMPLES: &str = "tests/samples/linux-6.1-raspi3b-arm64-user";
/// The board's device tree, as the reference and the script boot with it.
const DTB: &str = "tests/samples/linux-6.1-raspi3b-arm64.dtb";
/// One program run, on a loaded host.
const RUN: Duration = Duration::from_secs(120);

fn sample(phase: &str) -> String {
    let path = root().join(format!("{SAMPLES}/{phase}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Boots `build/arm64-<va_bits>/kernel8.img` as compare-linux-arm64.sh boots it.
fn boot(va_bits: u32) -> Qemu {
    let dtb = root().join(DTB).display().to_string();
    let extra = ["-dtb", &dtb, "-append", "norandmaps"].map(String::from);
    let mut q = spawn_arm64(va_bits, &extra);
    q.wait_for(PROMPT, BOOT).unwrap();
    q
}

/// The swap phase's card: `make sd-image ARCH=arm64 SD_SIZE=512M` (471 MiB of swap in p2).
const SWAP_CARD: &str = "build/arm64/sd-512M.img";
/// The swap phase's memory on both kernels (compare-linux-arm64.sh's `swap_mem`).
const SWAP_MEM: &str = "mem=128M";

/// Boots pivm as the swap phase does: the 512 MiB card (writes in a `snapshot=on` overlay)
/// and `mem=128M`; the arm64 initramfs stands in for the phase's own archive (Linux's
/// busybox and /init, which the script builds from apt's packages).
fn boot_swap(va_bits: u32) -> Qemu {
    let (dtb, card) = (root().join(DTB), root().join(SWAP_CARD));
    assert!(
        card.is_file(),
        "missing {}: run `make sd-image ARCH=arm64 SD_SIZE=512M`",
        card.display()
    );
    let drive = format!("file={},if=sd,format=raw,snapshot=on", card.display());
    let append = format!("norandmaps {SWAP_MEM}");
    let extra = ["-dtb", &dtb.display().to_string(), "-drive", &drive, "-append", &append]
        .map(String::from);
    let mut q = spawn_arm64(va_bits, &extra);
    q.wait_for(PROMPT, BOOT).unwrap();
    q
}

/// Runs `phase`'s steps at pivm's console; the transcript of all of them.
fn run_phase(q: &mut Qemu, phase: &str) -> String {
    run_steps(q, &phase_steps(phase))
}

/// Types each step as compare-lib.sh's `boot_pivm` does: `sh:` and `pivm:` steps as console
/// commands, programs as `run STEP`; the transcript of all of them.
fn run_steps(q: &mut Qemu, steps: &[String]) -> String {
    let mut transcript = String::new();
    for step in steps {
        let command = match step.strip_prefix("sh: ").or_else(|| step.strip_prefix("pivm: ")) {
            Some(cmd) => cmd.to_string(),
            None if step.starts_with('/') => format!("run {step}"),
            None => panic!("a step pivm cannot run: {step}"),
        };
        transcript += &q.cmd_timeout(&command, RUN);
    }
    transcript
}

/// The stack steps' rows ("stack N=16 | first touch" -> "+13/+0"), in order.
fn stack_rows(transcript: &str) -> Vec<(String, String)> {
    fault_steps(transcript).into_iter().filter(|(k, _)| k.starts_with("stack ")).collect()
}

/// The line the samples' README carries for the build of vmtest they were taken with.
fn vmtest_build_id() -> String {
    let bin = std::fs::read(root().join("build/arm64/user/vmtest")).unwrap();
    format!("vmtest-size {} vmtest-fnv1a64 {:016x}", bin.len(), fnv1a64(&bin))
}

/// Every row of `got` equals the same row of `want`, and every row of `want` was printed.
fn rows_equal(q: &Qemu, what: &str, got: &[(String, String)], want: &[(String, String)]) {
    let want_map: HashMap<&str, &str> =
        want.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let got_map: HashMap<&str, &str> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut wrong = Vec::new();
    for (key, value) in want {
        match got_map.get(key.as_str()) {
            Some(v) if v == value => {}
            Some(v) => wrong.push(format!("{key}: pivm {v}, Linux 6.1 {value}")),
            None => wrong.push(format!("{key}: pivm printed no such row, Linux 6.1 {value}")),
        }
    }
    for (key, value) in got {
        if !want_map.contains_key(key.as_str()) {
            wrong.push(format!("{key}: pivm {value}, Linux 6.1 has no such row"));
        }
    }
    if !wrong.is_empty() {
        q.fail(&format!(
            "{what}: {} of {} rows differ from arm64 Linux 6.1's:\n{}",
            wrong.len(),
            want.len(),
            wrong.join("\n")
        ));
    }
}

/// The fault counts of a transcript: vmtest's access-pattern rows and `vmtest time`'s.
fn count_rows(transcript: &str) -> Vec<(String, String)> {
    let mut rows = fault_steps(transcript);
    rows.extend(time_rows(transcript));
    rows
}

#[test]
fn parser_reads_the_samples_rows() {
    let rows: HashMap<String, String> = fault_steps(&sample("faults")).into_iter().collect();
    assert_eq!(rows["anon N=16 | write-touch"], "+16/+0");
    assert_eq!(rows["malloc N=32 | write-touch"], "+31/+0");
    assert_eq!(rows["stack N=1024 | first touch"], "+768/+0");
    assert_eq!(rows["file /data/f16m N=256 MAP_SHARED | first-read"], "+17/+0");
    assert_eq!(rows["file /data/f16m N=16 MAP_PRIVATE | first-read #2"], "+16/+0");
    assert_eq!(rows["file /data/f16m N=4096 MAP_PRIVATE | sum"], "1566720");
    assert_eq!(stack_rows(&sample("layout")).len(), 6, "layout's stack steps: N=1, 16, 256");
    let exec = exec_rows(&sample("faults"));
    assert_eq!(exec[0], "CHILD pid=N at main entry: minflt=32 majflt=0");
    assert_eq!(thp_rows("faults").len(), 5, "THP changes the anon, anonrd and malloc N=4096 rows");
    let rows: HashMap<String, String> = count_rows(&sample("icount")).into_iter().collect();
    assert_eq!(rows["time N=256 | rep 1 first-touch write"], "256");
    assert_eq!(rows["time N=16 | rep 2 read-first (zero page)"], "16");
    assert_eq!(rows["time N=4096 | rep 0 write-after-zero-page"], "4096");
    assert_eq!(rows["time N=4096 | nop child minflt"], "35");
    assert_eq!(rows["file /data/f16m N=4096 MAP_SHARED | first-read #3"], "+4096/+0");
    assert_eq!(time_rows(&sample("icount")).len(), 3 * (3 * 3 + 1), "3 sizes, 3 reps of 3 counts");
    assert_eq!(thp_rows("icount").len(), 6, "THP changes N=4096's first-touch and zero-page rows");
    let rows: HashMap<String, String> = swap_rows(&sample("swap")).into_iter().collect();
    assert_eq!(rows["swapon: Adding ...k swap"], "482300k");
    assert_eq!(rows["/proc/swaps /dev/mmcblk0p2 size #3"], "482300");
    let batches: Vec<&String> = rows
        .iter()
        .filter(|(k, _)| k.contains("Used in 64-slot batches"))
        .map(|(_, v)| v)
        .collect();
    assert!(batches.len() >= 6 && batches.iter().all(|v| *v == "yes"), "{batches:?}");
    assert_eq!(rows["vmtest swap 192 | pages"], "49152");
    assert_eq!(rows["vmtest swap 192 | re-read pass 2 bad"], "0");
    assert_eq!(rows["swapstress M=16 pageout pswpout"], "4096");
    assert_eq!(rows["swapstress M=16 after pageout VmSwap"], "16384 kB");
    assert_eq!(rows["swapstress M=16 re-read pass 1 faults"], "+4096/+0");
    assert_eq!(rows["swapstress M=16 re-read pass 1 pswpin"], "+0");
    assert_eq!(rows["swapstress M=16 ok"], "every word of 4096 pages right in 1 passes");
    // The whole phase: the three concurrent swapstress -m 48 read back right, and the last
    // /proc/swaps before swapoff shows the area.
    for n in 1..=3 {
        assert_eq!(rows[&format!("swapstress M=48 [{n}] re-read pass 1 bad")], "0");
        assert_eq!(
            rows[&format!("swapstress M=48 [{n}] ok")],
            "every word of 12288 pages right in 1 passes"
        );
    }
    assert_eq!(rows["/proc/swaps /dev/mmcblk0p2 size #8"], "482300");
    let rows: HashMap<String, String> = fault_steps(&sample("diskcost")).into_iter().collect();
    assert_eq!(rows["file /boot/data/f16m N=256 MAP_SHARED | first-read"], "+0/+256");
    assert_eq!(rows["file /boot/data/f16m N=4096 MAP_SHARED | first-read"], "+256/+129");
}

/// The rows of `phase` where Debian's default (THP always) and THP off differ: the 16 MiB
/// anonymous mappings, whose aligned 2 MiB pieces take one fault each with a huge page.
fn thp_rows(phase: &str) -> Vec<(String, String, String)> {
    let nothp: HashMap<String, String> =
        count_rows(&sample(&format!("{phase}-nothp"))).into_iter().collect();
    count_rows(&sample(phase))
        .into_iter()
        .filter_map(|(k, thp)| {
            let off = nothp.get(&k).cloned().unwrap_or_default();
            (off != thp).then_some((k, thp, off))
        })
        .collect()
}

/// The first `mmap` step of each program run after `cardmap fa 4096` (fault-around off):
/// pivm takes +2/+0 where Linux takes +1/+0, on both architectures (tests/qemu_compare.rs's
/// `FAULT_AROUND_4K_FIRST_MMAPS`; README, Known limits). Every read row of those runs is equal.
/// The faults phase's two, then the icount phase's one.
const FAULT_AROUND_4K_FIRST_MMAPS: [&str; 3] = [
    "file /data/f16m N=1 MAP_PRIVATE | mmap #2",
    "file /data/f16m N=4096 MAP_SHARED | mmap #2",
    "file /data/f16m N=4096 MAP_SHARED | mmap #3",
];

/// `phase`'s fault counts in pivm's `transcript` equal Linux's with THP off (the sample
/// `PHASE-nothp.txt`; the known fault-around difference checked as exactly that), and against
/// Debian's default only the 16 MiB anonymous rows a huge page backs differ.
fn counts_equal_linux(q: &Qemu, va_bits: u32, phase: &str, transcript: &str) {
    let mut got = count_rows(transcript);
    let want = count_rows(&sample(&format!("{phase}-nothp")));
    let want_map: HashMap<String, String> = want.iter().cloned().collect();
    for (key, value) in got.iter_mut() {
        if FAULT_AROUND_4K_FIRST_MMAPS.contains(&key.as_str())
            && value == "+2/+0"
            && want_map.get(key).map(String::as_str) == Some("+1/+0")
        {
            *value = "+1/+0".to_string();
        }
    }
    rows_equal(q, &format!("VA_BITS={va_bits}, {phase} phase (Linux with THP off)"), &got, &want);
    // Against Debian's default, only the huge-page rows differ, and pivm's there are THP-off Linux's.
    for (key, thp, off) in thp_rows(phase) {
        let anon = ["anon", "malloc", "time"].iter().any(|p| key.starts_with(p));
        if !key.contains("N=4096") || !anon {
            q.fail(&format!(
                "THP changed {key}: {off} -> {thp}; only the 16 MiB anonymous rows should"
            ));
        }
    }
}

/// The exec and fork rows of pivm's `transcript` equal those of Linux's `want` transcript
/// when the samples were taken with this build of vmtest.
fn exec_rows_equal_linux(q: &Qemu, va_bits: u32, transcript: &str, want: &str) {
    let readme = std::fs::read_to_string(root().join(format!("{SAMPLES}/README.md"))).unwrap();
    if readme.contains(&vmtest_build_id()) {
        let (got, want) = (exec_rows(transcript), exec_rows(want));
        if got != want || got.is_empty() {
            q.fail(&format!(
                "VA_BITS={va_bits}: exec and fork faults differ from Linux 6.1's:\npivm:\n{}\nLinux:\n{}",
                got.join("\n"),
                want.join("\n")
            ));
        }
    } else {
        eprintln!(
            "note: the samples were taken with another build of vmtest ({}): exec rows not compared",
            vmtest_build_id()
        );
    }
}

/// Both phases at one VA size: the faults phase's rows, the layout phase's stack rows, and the
/// exec rows when the samples were taken with this vmtest.
fn phases_equal_linux(va_bits: u32) {
    let mut q = boot(va_bits);
    let faults = run_phase(&mut q, "faults");
    counts_equal_linux(&q, va_bits, "faults", &faults);
    let layout = run_phase(&mut q, "layout");
    rows_equal(
        &q,
        &format!("VA_BITS={va_bits}, layout phase"),
        &stack_rows(&layout),
        &stack_rows(&sample("layout")),
    );

    // The faults phase's Linux-only last step (after drop_caches) is left out.
    let want = sample("faults");
    let want = &want[..want.find("### echo 3 > /proc/sys/vm/drop_caches").unwrap_or(want.len())];
    exec_rows_equal_linux(&q, va_bits, &faults, want);
    q.poweroff_ok();
}

#[test]
fn faults_and_layout_equal_linux_va48() {
    phases_equal_linux(48);
}

#[test]
fn faults_and_layout_equal_linux_va39() {
    phases_equal_linux(39);
}

/// The icount phase's counts at 4 levels (its figures are `make compare-linux ARCH=arm64`'s and
/// bench-proc.sh's, under `-icount`; the counts do not depend on it, so pivm runs without):
/// `vmtest time`'s minor faults per rep and size and its exec'd child's, the file rows with
/// fault-around on and off, equal to arm64 Linux's with THP off (`icount-nothp.txt`), and the
/// exec and fork rows of its `vmtest exec`.
#[test]
fn icount_phase_counts_equal_linux_va48() {
    let mut q = boot(48);
    let icount = run_phase(&mut q, "icount");
    counts_equal_linux(&q, 48, "icount", &icount);
    exec_rows_equal_linux(&q, 48, &icount, &sample("icount"));
    q.poweroff_ok();
}

/// The swap phase's steps that need no memory pressure (the swap area, `MADV_PAGEOUT` of
/// 16 MiB and its re-read), as the script types them: `sh:` steps at the console, programs
/// with `run`. The pressure workloads' counts depend on reclaim's choices and their checks
/// (`bad=0`, every word right) are `tests/qemu_arm64_swap.rs`'s; the script's table shows them.
fn swap_steps_without_pressure() -> Vec<String> {
    let steps: Vec<String> = phase_steps("swap")
        .into_iter()
        .filter(|s| s.starts_with("sh: ") || s.contains(" -o"))
        .collect();
    assert_eq!(
        steps.iter().filter(|s| s.contains("swapstress")).count(),
        1,
        "the swap phase's MADV_PAGEOUT run: {steps:?}"
    );
    steps
}

/// The swap phase's counts that do not depend on reclaim, at 4 levels, against arm64
/// Linux's recorded `swap.txt`: `swapon`'s size and every `/proc/swaps` size (471 MiB less
/// the header page) and Used in whole 64-slot batches (the swap slots cache), and `swapstress
/// -m 16 -o`'s `MADV_PAGEOUT` without pressure: 4096 pages written, `VmSwap` 16 MiB after it,
/// the re-read from the swap cache (`+4096/+0` faults, `pswpin` +0: the written pages stay
/// cached, as 6.1 leaves them), every word right.
#[test]
fn swap_phase_counts_equal_linux_va48() {
    swap_phase_counts_equal_linux(48);
}

/// The same at 3 levels: the swap entries, the area and `MADV_PAGEOUT` do not depend on the
/// table depth, so 39 bits gives Linux's (48-bit) figures too.
#[test]
fn swap_phase_counts_equal_linux_va39() {
    swap_phase_counts_equal_linux(39);
}

fn swap_phase_counts_equal_linux(va_bits: u32) {
    let want_all = swap_rows(&sample("swap"));
    let mut q = boot_swap(va_bits);
    let transcript = run_steps(&mut q, &swap_steps_without_pressure());
    let got = swap_rows(&transcript);
    // Every /proc/swaps shows the same size on Linux; pivm's must be that one.
    let size = |rows: &[(String, String)]| -> Vec<String> {
        rows.iter()
            .filter(|(k, _)| k.starts_with("/proc/swaps ") && k.contains(" size"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (got_sizes, want_sizes) = (size(&got), size(&want_all));
    if got_sizes.is_empty() || got_sizes.iter().chain(&want_sizes).any(|s| *s != want_sizes[0]) {
        q.fail(&format!("/proc/swaps sizes: pivm {got_sizes:?}, Linux 6.1 {want_sizes:?}"));
    }
    // Used moves by the swap slots cache's batches of 64 slots on both (pivm's rows here are
    // before and after the pageout run: 0 kB and one batch, 256 kB).
    let batches = |rows: &[(String, String)]| -> Vec<String> {
        rows.iter()
            .filter(|(k, _)| k.contains("Used in 64-slot batches"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (got_b, want_b) = (batches(&got), batches(&want_all));
    if got_b.is_empty() || got_b.iter().chain(&want_b).any(|v| v != "yes") {
        q.fail(&format!("/proc/swaps Used in batches: pivm {got_b:?}, Linux 6.1 {want_b:?}"));
    }
    let pageout = |rows: Vec<(String, String)>| -> Vec<(String, String)> {
        rows.into_iter()
            .filter(|(k, _)| k.starts_with("swapon") || k.starts_with("swapstress M=16 "))
            .collect()
    };
    let what = format!("VA_BITS={va_bits}, swap phase without pressure");
    rows_equal(&q, &what, &pageout(got), &pageout(want_all));
    q.poweroff_ok();
}

/// The diskcost phase's file steps (before its swap workloads, which depend on reclaim), as
/// the script types them: `pivm:` steps at the console (`blockdev --setra`), programs with
/// `run`; Linux's `linux:` knobs are not pivm's.
fn diskcost_file_steps() -> Vec<String> {
    let steps: Vec<String> = phase_steps("diskcost")
        .into_iter()
        .take_while(|s| !s.contains("page-cluster") && !s.contains("vmtest swap"))
        .filter(|s| !s.starts_with("sh: "))
        .collect();
    assert_eq!(steps.iter().filter(|s| s.contains("cardmap -d")).count(), 2, "{steps:?}");
    steps
}

/// The diskcost phase's major-fault counts of a file on the card, at 4 levels, against arm64
/// Linux's recorded `diskcost.txt` (one CPU, under `-icount`; pivm's counts do not depend on
/// it, so it runs without): 256 pages after `drop_caches` without read-ahead, one major fault
/// each, then 4096 pages with 128 KiB of read-ahead, every row of `cardmap`'s but the card
/// I/O counts (pivm's request merging is its own).
#[test]
fn diskcost_file_faults_equal_linux_va48() {
    diskcost_file_faults_equal_linux(48);
}

/// The same at 3 levels (the page cache and read-ahead do not depend on the table depth).
#[test]
fn diskcost_file_faults_equal_linux_va39() {
    diskcost_file_faults_equal_linux(39);
}

fn diskcost_file_faults_equal_linux(va_bits: u32) {
    let mut q = boot_swap(va_bits);
    let transcript = run_steps(&mut q, &diskcost_file_steps());
    let file_rows = |t: &str| -> Vec<(String, String)> {
        fault_steps(t).into_iter().filter(|(k, _)| !k.ends_with(" io")).collect()
    };
    let want = sample("diskcost");
    let want = &want[..want.find("### /bin/cardmap pc").unwrap_or(want.len())];
    let (got, want) = (file_rows(&transcript), file_rows(want));
    if want.len() != 10 {
        q.fail(&format!("diskcost.txt's two cardmap rows: {want:?}"));
    }
    rows_equal(&q, &format!("VA_BITS={va_bits}, diskcost phase's file faults"), &got, &want);
    q.poweroff_ok();
}
