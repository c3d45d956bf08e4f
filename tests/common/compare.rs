//! What the `make compare-linux` tests of both kernels share: the steps each phase runs, read
//! from `scripts/compare-lib.sh` (the one list both kernels and both scripts run), and
//! vmtest's fault rows as `scripts/compare-table.pl` keys them.
use super::root;
use std::collections::HashMap;

/// The steps of `phase` that pivm runs (not the `linux:` ones), in order, from the script.
pub fn phase_steps(phase: &str) -> Vec<String> {
    let path = root().join("scripts/compare-lib.sh");
    let script =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = format!("    {phase}) cat <<'STEPS'\n");
    let start =
        script.find(&open).unwrap_or_else(|| panic!("compare-lib.sh has no {phase} step list"))
            + open.len();
    let len = script[start..]
        .find("\nSTEPS\n")
        .unwrap_or_else(|| panic!("the {phase} step list has no end"));
    script[start..start + len]
        .lines()
        .filter(|l| !l.starts_with("linux: "))
        .map(str::to_string)
        .collect()
}

/// Rows in order, keyed as compare-table.pl keys them: a key seen before gets " #2", " #3"...
/// so repeated runs of the same step pair up. Values are trimmed.
#[derive(Default)]
struct Rows {
    seen: HashMap<String, usize>,
    out: Vec<(String, String)>,
}

impl Rows {
    fn put(&mut self, key: String, value: &str) {
        let n = self.seen.entry(key.clone()).or_insert(0);
        *n += 1;
        let key = if *n > 1 { format!("{key} #{n}") } else { key };
        self.out.push((key, value.trim().to_string()));
    }
}

/// vmtest's step lines as compare-table.pl reads them: "NAME: step +a/+b  step +a/+b ...
/// sum=N" becomes ("NAME | step", "+a/+b") pairs and ("NAME | sum", "N"), in order; a key
/// seen before gets " #2", " #3"... so repeated runs of the same step pair up.
pub fn fault_steps(transcript: &str) -> Vec<(String, String)> {
    let mut rows = Rows::default();
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
                rows.put(format!("{name} | sum"), sum);
            } else if let Some((label, value)) = seg.rsplit_once(' ') {
                if value.starts_with('+') && value.contains("/+") {
                    rows.put(format!("{name} | {}", label.trim()), value);
                }
            }
        }
    }
    rows.out
}

/// `s` without the step timings ("(126576 ns)") and the "(minflt/majflt)" legend; labels
/// such as "write(COW)" keep theirs.
pub fn drop_notes(s: &str) -> String {
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

/// The `vmtest exec` step's fault rows (exec'd children at main entry and exit, their
/// rusage totals, the forked child and the parent across fork), pids taken out, in order.
pub fn exec_rows(transcript: &str) -> Vec<String> {
    let start = transcript.find("EXEC parent pid=").expect("no vmtest exec step");
    let rows: Vec<String> = transcript[start..]
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.starts_with("### ") && !l.contains("pivm# "))
        .filter(|l| {
            ["CHILD ", "  sequential ", "  concurrent ", "  fork child", "  parent "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| {
            l.split(' ')
                .map(|w| if w.starts_with("pid=") { "pid=N" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rows
}

/// FNV-1a (64 bits) of a file: which build of vmtest Linux's rows were taken with.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// `vmtest time`'s fault counts (the icount phase's rows that do not depend on the clock):
/// each "(N minflt)" of a rep's line keyed "time N=PAGES | rep R LABEL", where LABEL is the
/// segment's words before its first figure ("first-touch write", "read-first (zero page)",
/// "write-after-zero-page"), and the exec'd nop child's "time N=PAGES | nop child minflt";
/// a key seen before gets " #2", " #3"... as [`fault_steps`] does.
pub fn time_rows(transcript: &str) -> Vec<(String, String)> {
    let mut rows = Rows::default();
    let mut pages = String::new();
    for line in transcript.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("TIME N=") {
            pages = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        if pages.is_empty() {
            continue;
        }
        if let Some(n) = line.split("; nop child minflt=").nth(1) {
            rows.put(format!("time N={pages} | nop child minflt"), n.trim());
            continue;
        }
        let Some((rep, rest)) =
            line.trim_start().strip_prefix("rep ").and_then(|r| r.split_once(": "))
        else {
            continue;
        };
        for seg in rest.split("; ") {
            let Some(count) = seg.rsplit_once(" (").and_then(|(_, c)| c.strip_suffix(" minflt)"))
            else {
                continue;
            };
            let label: Vec<&str> = seg
                .split(' ')
                .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            rows.put(format!("time N={pages} | rep {rep} {}", label.join(" ")), count);
        }
    }
    rows.out
}

/// The swap phase's rows that do not depend on which pages reclaim chose (the same on every
/// run of either kernel), in order, repeats numbered as [`fault_steps`] does: the swap area's
/// size in `swapon`'s line and in each `/proc/swaps` (and whether its Used is a whole number
/// of the slots cache's 64-slot batches), each `vmtest swap` workload's page count and every pattern
/// check (`bad=` of each re-read pass, swapstress's "ok:" verdict), and what `MADV_PAGEOUT`
/// without pressure writes (`pageout`'s `pswpout`, then `VmSwap`).
pub fn swap_rows(transcript: &str) -> Vec<(String, String)> {
    let mut rows = Rows::default();
    let first_word = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    // The `vmtest swap` workload the re-read lines belong to; the swapstress whose pageout
    // the status lines that follow it report.
    let (mut vmtest, mut after_pageout) = (String::new(), None::<String>);
    for line in transcript.lines().map(|l| l.trim_end_matches('\r')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(name) = after_pageout.take() {
            if ["VmRSS:", "RssAnon:", "VmSwap:"].iter().any(|f| line.contains(f)) {
                if let Some(kb) = line.split("VmSwap:").nth(1) {
                    rows.put(format!("{name} after pageout VmSwap"), kb);
                }
                after_pageout = Some(name);
                continue;
            }
        }
        if let Some(rest) = line.split("Adding ").nth(1).filter(|r| r.contains("k swap on ")) {
            rows.put("swapon: Adding ...k swap".into(), &first_word(rest));
        } else if words.first() == Some(&"/dev/mmcblk0p2") && words.get(1) == Some(&"partition") {
            rows.put("/proc/swaps /dev/mmcblk0p2 size".into(), words.get(2).unwrap_or(&""));
            // 6.1's swap slots cache takes and gives back 64 slots at a time: Used moves by
            // whole batches of 256 kB.
            let used = words.get(3).and_then(|w| w.parse::<u64>().ok());
            let batches = if used.is_some_and(|kb| kb % 256 == 0) { "yes" } else { "no" };
            rows.put("/proc/swaps /dev/mmcblk0p2 Used in 64-slot batches".into(), batches);
        } else if let Some(rest) = line.strip_prefix("SWAP test: ") {
            vmtest = format!("vmtest swap {}", first_word(rest));
            let pages = rest.split('(').nth(1).map(first_word).unwrap_or_default();
            rows.put(format!("{vmtest} | pages"), &pages);
        } else if let Some(rest) = line.trim_start().strip_prefix("re-read pass ") {
            if let Some(bad) = line.split(" bad=").nth(1) {
                let pass = rest.split(':').next().unwrap_or("");
                rows.put(format!("{vmtest} | re-read pass {pass} bad"), &first_word(bad));
            }
        } else if let Some((head, tail)) =
            line.strip_prefix("swapstress M=").and_then(|r| r.split_once(": "))
        {
            // head: "16 re-read pass 1", "48 [2] ok", "16 pageout".
            let name = format!("swapstress M={head}");
            if let Some(bad) = tail.split(" bad=").nth(1) {
                rows.put(format!("{name} bad"), &first_word(bad));
                // The re-read's faults and reads: "+minflt/+majflt", "+pswpin".
                let after = |key: &str| tail.split(key).nth(1).map(first_word).unwrap_or_default();
                let faults = format!("{}/{}", after("minflt "), after("majflt "));
                rows.put(format!("{name} faults"), &faults);
                rows.put(format!("{name} pswpin"), &after("pswpin "));
            } else if let Some(n) = name.strip_suffix(" pageout") {
                let pswpout = tail.split("pswpout +").nth(1).map(first_word).unwrap_or_default();
                rows.put(format!("{name} pswpout"), &pswpout);
                after_pageout = Some(n.to_string());
            } else if name.ends_with(" ok") {
                rows.put(name, tail);
            }
        }
    }
    rows.out
}
