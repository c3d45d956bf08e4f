//! pivm's half of `make compare-linux`'s faults phase, against Linux 6.1: the steps are read
//! from `scripts/compare-linux.sh` (the one list both kernels run), pivm runs them on 3G with
//! `norandmaps` as the script does, and every fault-count step of vmtest's access patterns
//! (anon, anon-readfirst, malloc, stack, file MAP_PRIVATE and MAP_SHARED: each step's
//! `+minflt/+majflt` and the sum that says which pages were read) must equal the reference
//! transcript's (`tests/fixtures/linux-6.1-user-faults.txt`, a copy of
//! `shared/samples/linux-6.1-raspi2b-user/faults.txt`: Linux 6.1 on the same QEMU board), step
//! for step. No Linux is booted here: that needs apt, and stays in `make compare-linux`.
mod common;

use common::{root, Opts, Qemu};
use std::collections::HashMap;
use std::time::Duration;

/// The reference transcript (Linux 6.1.192 on `qemu-system-arm -M raspi2b`).
const REFERENCE: &str = "tests/fixtures/linux-6.1-user-faults.txt";
/// One program run, on a loaded host.
const RUN: Duration = Duration::from_secs(60);

/// Rows where pivm may show one other value than the reference's, each with its reason (the
/// README's "What it found" says the same). Any third value fails.
const ALSO_ALLOWED: &[(&str, &str, &str)] = &[
    // vmtest's first clock_gettime: through the vDSO on Linux, which reads [vvar] (a fault);
    // a system call on pivm until it maps a vDSO.
    ("file /data/f16m N=1 MAP_PRIVATE | mmap", "+0/+0", "no vDSO: clock_gettime reads no [vvar]"),
    ("file /data/f16m N=1 MAP_SHARED | mmap", "+0/+0", "no vDSO: clock_gettime reads no [vvar]"),
];

/// The faults phase's steps that run on both kernels (not the `linux:` ones), from the script.
fn faults_steps() -> Vec<String> {
    let path = root().join("scripts/compare-linux.sh");
    let script = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = "    faults) cat <<'STEPS'\n";
    let start = script.find(open).expect("compare-linux.sh has no faults step list") + open.len();
    let len = script[start..].find("\nSTEPS\n").expect("the faults step list has no end");
    let steps: Vec<String> = script[start..start + len]
        .lines()
        .filter(|l| !l.starts_with("linux: "))
        .map(str::to_string)
        .collect();
    assert!(steps.iter().all(|s| s.starts_with("/bin/")), "a step pivm cannot run: {steps:?}");
    steps
}

/// vmtest's step lines as compare-table.pl reads them: "NAME: step +a/+b  step +a/+b ...
/// sum=N" becomes ("NAME | step", "+a/+b") pairs and ("NAME | sum", "N"), in order; a key
/// seen before gets " #2", " #3"... so repeated runs of the same step pair up.
fn fault_steps(transcript: &str) -> Vec<(String, String)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut put = |key: String, value: String| {
        let n = seen.entry(key.clone()).or_insert(0);
        *n += 1;
        let key = if *n > 1 { format!("{key} #{n}") } else { key };
        out.push((key, value));
    };
    for line in transcript.lines().map(|l| l.trim_end_matches('\r')) {
        let pattern = ["anon ", "anon-readfirst ", "malloc ", "stack ", "file "];
        if !pattern.iter().any(|p| line.starts_with(p)) || !line.contains("/+") {
            continue;
        }
        let Some((name, rest)) = line.split_once(": ") else { continue };
        // malloc's name carries the block's address and origin: keep "malloc N=...".
        let name = match name.strip_prefix("malloc ") {
            Some(n) => format!("malloc {}", n.split_whitespace().next().unwrap_or("")),
            None => name.to_string(),
        };
        let rest = drop_notes(rest);
        for seg in rest.split("  ").map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(sum) = seg.strip_prefix("sum=") {
                put(format!("{name} | sum"), sum.to_string());
            } else if let Some((label, value)) = seg.rsplit_once(' ') {
                if value.starts_with('+') && value.contains("/+") {
                    put(format!("{name} | {}", label.trim()), value.to_string());
                }
            }
        }
    }
    out
}

/// `s` without the step timings ("(126576 ns)") and the "(minflt/majflt)" legend; labels
/// such as "write(COW)" keep theirs.
fn drop_notes(s: &str) -> String {
    let (mut out, mut rest) = (String::new(), s);
    while let Some(a) = rest.find('(') {
        let Some(len) = rest[a..].find(')') else { break };
        let inner = &rest[a + 1..a + len];
        out += &rest[..a];
        if !inner.ends_with(" ns") && inner != "minflt/majflt" {
            out += &rest[a..=a + len];
        }
        rest = &rest[a + len + 1..];
    }
    out + rest
}

#[test]
fn parser_reads_the_reference_rows() {
    let reference = std::fs::read_to_string(root().join(REFERENCE)).unwrap();
    let rows: HashMap<String, String> = fault_steps(&reference).into_iter().collect();
    assert_eq!(rows["anon N=4096 | write-touch"], "+4096/+0");
    assert_eq!(rows["anon N=4096 | write-touch #3"], "+4096/+0");
    assert_eq!(rows["malloc N=32 | write-touch"], "+31/+0");
    assert_eq!(rows["stack N=1024 | first touch"], "+768/+0");
    assert_eq!(rows["file /data/f16m N=256 MAP_SHARED | first-read"], "+17/+0");
    assert_eq!(rows["file /data/f16m N=16 MAP_PRIVATE | first-read #2"], "+16/+0");
    assert_eq!(rows["file /data/f16m N=4096 MAP_PRIVATE | sum"], "1566720");
    assert_eq!(rows["file /mnt/f16m N=256 MAP_SHARED | first-read"], "+16/+4");
}

#[test]
fn faults_phase_equals_the_reference_step_for_step() {
    let reference = std::fs::read_to_string(root().join(REFERENCE)).unwrap();
    let want: HashMap<String, String> = fault_steps(&reference).into_iter().collect();

    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").initramfs().append("norandmaps"));
    let mut transcript = String::new();
    for step in faults_steps() {
        let out = q.cmd_timeout(&format!("run {step}"), RUN);
        transcript += &out;
    }
    let got = fault_steps(&transcript);

    // Every access pattern the reference measured on the initramfs, in its first run, is here.
    let ran: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    for key in want.keys().filter(|k| !k.contains(" #") && !k.contains("/mnt/") && !k.contains("/dev/")) {
        if !ran.contains(&key.as_str()) {
            q.fail(&format!("pivm printed no {key:?} row"));
        }
    }
    let mut wrong = Vec::new();
    for (key, value) in &got {
        let Some(expected) = want.get(key) else {
            q.fail(&format!("the reference has no {key:?} row (pivm: {value})"));
        };
        let also = ALSO_ALLOWED.iter().find(|(k, v, _)| k == key && v == value);
        if value != expected && also.is_none() {
            wrong.push(format!("{key}: pivm {value}, Linux 6.1 {expected}"));
        }
    }
    if !wrong.is_empty() {
        q.fail(&format!("{} of {} steps differ from the reference:\n{}", wrong.len(), got.len(), wrong.join("\n")));
    }
    q.poweroff_ok();
}
