//! The in-kernel `bench` command: its three order-0 rows (the per-CPU list hit, then the
//! pair with the per-CPU lists disabled by `zone_pcp_disable`, without and with a full
//! split/merge) run, and the lists come back with the limits they had (`zone_pcp_enable`),
//! every page returned and the allocator consistent. Needs `make kernel VMSPLIT=2G`.

mod common;
use common::*;

/// The `high:` and `batch:` of every pageset in /proc/zoneinfo, in order.
fn pcp_limits(q: &mut Qemu) -> Vec<(String, u64)> {
    let zoneinfo = q.cmd("cat /proc/zoneinfo");
    let limits: Vec<(String, u64)> = zoneinfo
        .lines()
        .filter_map(|l| {
            let (key, value) = l.trim().split_once(':')?;
            matches!(key, "high" | "batch")
                .then(|| value.trim().parse().ok().map(|v| (key.to_string(), v)))?
        })
        .collect();
    if limits.is_empty() {
        q.fail("cat /proc/zoneinfo: no pageset high/batch lines");
    }
    limits
}

#[test]
fn bench_measures_the_lists_and_the_buddy_and_restores_the_lists() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G"));
    let before = pcp_limits(&mut q);
    if !before.iter().any(|(k, v)| k == "high" && *v > 0) {
        q.fail(&format!("no pageset caches before the bench: {before:?}"));
    }
    let meminfo = q.cmd("cat /proc/meminfo");
    let free_before = meminfo_kb(&q, &meminfo, "MemFree");
    let slab_before = meminfo_kb(&q, &meminfo, "Slab");
    let tables_before = meminfo_kb(&q, &meminfo, "PageTables");
    let out = q.cmd_timeout("bench", SLOW_STEP);
    for row in [
        "bench: alloc_pages(0)+free (per-CPU list hit)",
        "bench: alloc_pages(0)+free (lists off, no split)",
        "bench: alloc_pages(0)+free (lists off, full split/merge)",
    ] {
        let line = q.line_with("bench", &out, row).to_string();
        if !line.contains(" ops ") || !line.ends_with(" ns/op") {
            q.fail(&format!("bench: malformed row {line:?}"));
        }
    }
    if out.contains("failed") {
        q.fail(&format!("bench: a measurement failed:\n{out}"));
    }
    // zone_pcp_enable gave every zone back its 6.1 limits.
    let after = pcp_limits(&mut q);
    if after != before {
        q.fail(&format!("pageset limits changed by the bench: {before:?} -> {after:?}"));
    }
    let verify = q.cmd("verify");
    q.expect_in("verify", &verify, "verify: ok");
    // Everything the bench took came back: MemFree plus the pages now cached on the per-CPU
    // lists (free pages MemFree leaves out) and the slab and page-table pages the bench's
    // kernel work left cached (slabs kept partial, vmalloc's tables, as Linux keeps them),
    // within a pageset's high of pages (the lists may also have held some before).
    let meminfo = q.cmd("cat /proc/meminfo");
    let free_after = meminfo_kb(&q, &meminfo, "MemFree");
    let grown = |key: &str, before_kb: u64| meminfo_kb(&q, &meminfo, key).saturating_sub(before_kb);
    let kept_kb = grown("Slab", slab_before) + grown("PageTables", tables_before);
    let zoneinfo = q.cmd("cat /proc/zoneinfo");
    let pcp_kb = 4 * zoneinfo
        .lines()
        .filter_map(|l| l.trim().strip_prefix("count:").and_then(|v| v.trim().parse::<u64>().ok()))
        .sum::<u64>();
    let high_kb = 4 * before.iter().filter(|(k, _)| k == "high").map(|(_, v)| v).sum::<u64>();
    if free_after + pcp_kb + kept_kb + high_kb < free_before {
        q.fail(&format!(
            "MemFree {free_before} kB before the bench, {free_after} kB after \
             (+{pcp_kb} kB on the per-CPU lists, +{kept_kb} kB slab and page tables)"
        ));
    }
}
