//! The tool against the transcripts committed in `tests/picture/`, every one a console
//! transcript captured from the kernel by `make picture-docs` (nothing written by hand):
//! `2G.txt` (`make picture`: memdump of the 2G default and a process's memdump),
//! `3G-android-a9.txt` (`make picture VMSPLIT=3G PROFILE=android-a9`), and from `make
//! picture-scenario`: `scenario-<profile>.txt` (memdump, `scenario vmalloc-frag seed=1
//! trace=50`, memdump) and `seeds-<profile>.txt` (`scenario vmalloc-frag seed=1 seeds=32`) on
//! both layouts; `arm64-48.txt` and `arm64-39.txt` (`make picture ARCH=arm64 VA_BITS=48` and
//! `39`: the 64-bit kernel's memdump and a process's). Parsing, scale, labels, the
//! distribution against the kernel's, errors.
use std::path::{Path, PathBuf};

use picture::dump::{parse_transcript, ParseError};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/picture").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_2g_kernel_dump_parses_whole() {
    let t = parse_transcript(&fixture("2G.txt")).unwrap();
    let k = &t.kernels[0];
    assert_eq!((k.split.as_str(), k.page_offset, k.profile.as_str()), ("2G", 0x8000_0000, "linux"));
    // 960 MiB of RAM, all lowmem on 2G: one zone (the pkmap window exists, HIGHMEM is built).
    assert_eq!(k.ram, vec![(0, 0x3c00_0000)]);
    assert_eq!(k.zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), ["Normal"]);
    let low = k.regions.iter().find(|r| r.kind == "lowmem").unwrap();
    assert_eq!(low.phys, Some((0, 0x3c00_0000)));
    // Pageblocks tile the zone, and their free pages add up to the zone's free count.
    let z = &k.zones[0];
    let pages: u64 = k.pageblocks.iter().map(|b| b.pages).sum();
    assert_eq!(pages, z.end_pfn - z.start_pfn);
    let free: u64 = k.pageblocks.iter().map(|b| b.free).sum();
    assert_eq!(free, z.free);
    for b in &k.pageblocks {
        let by_order: u64 = b.orders.iter().enumerate().map(|(o, n)| n << o).sum();
        assert_eq!(by_order, b.free, "{b:?}");
        assert_eq!(b.free + b.pcp + b.reserved + b.used, b.pages);
    }
    // The vector page is mapped to one frame; the drivers' ioremaps are in the vmalloc range.
    let v: Vec<_> = k.maps.iter().filter(|m| m.region == "vectors").collect();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pages, 1);
    assert!(k.vareas.iter().filter(|a| a.kind == "ioremap").count() >= 6);
    // And a process: its VMAs, the present pages in frames of the one zone.
    let p = &t.processes[0];
    assert!(p.vmas.len() >= 4, "{p:?}");
    assert!(p.vmas.iter().any(|v| v.name == "[stack]" && !v.ptes.is_empty()));
    assert!(p.vmas.iter().flat_map(|v| &v.ptes).all(|r| r.zone == "Normal"));
}

#[test]
fn the_android_dump_has_its_carveouts_and_highmem() {
    let t = parse_transcript(&fixture("3G-android-a9.txt")).unwrap();
    let k = &t.kernels[0];
    assert_eq!(k.profile, "android-a9");
    let names: Vec<&str> = k.carveouts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["CP", "pmem"]);
    assert!(k.zones.iter().any(|z| z.name == "HighMem"));
    let low = k.regions.iter().find(|r| r.kind == "lowmem").unwrap();
    assert_eq!((low.start, low.end), (0xc000_0000, 0xe000_0000));
    let svg = picture::kernel::draw(k);
    assert!(svg.contains(">carve-out CP (16 MB)<") && svg.contains(">carve-out pmem (128 MB)<"));
    assert!(svg.contains(">lowmem (512 MB)<") && svg.contains(">vmalloc (248 MB)<"), "labels");
    assert!(svg.contains(">unused (209 MB)<"));
}

/// The 64-bit kernel's dumps: 64-bit addresses, arm64 6.1's regions for both VA sizes, one
/// DMA zone and no highmem, drawn with the non-canonical addresses and the user half cut.
#[test]
fn the_arm64_dumps_draw_both_va_sizes() {
    for (file, va_bits, page_offset, user_end) in [
        ("arm64-48.txt", 48, 0xffff_0000_0000_0000_u64, 1u64 << 48),
        ("arm64-39.txt", 39, 0xffff_ff80_0000_0000, 1 << 39),
    ] {
        let t = parse_transcript(&fixture(file)).unwrap();
        let k = &t.kernels[0];
        assert_eq!(k.split, format!("va{va_bits}"));
        assert!(k.is_64bit());
        assert_eq!((k.page_offset, k.va_last()), (page_offset, u64::MAX));
        assert_eq!(k.zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), ["DMA"]);
        let user = k.regions.iter().find(|r| r.kind == "user").unwrap();
        assert_eq!((user.start, user.end), (0, user_end));
        let linear = k.regions.iter().find(|r| r.kind == "lowmem").unwrap();
        assert_eq!((linear.start, linear.phys), (page_offset, Some((0, 0x3c00_0000))));
        // arm64 6.1's VMALLOC_END: VMEMMAP_START - SZ_256M; vmemmap is 1/64 of the linear
        // region (a 64-byte struct page per page).
        let by = |kind: &str| k.regions.iter().find(|r| r.kind == kind).unwrap();
        let vmemmap = by("vmemmap");
        assert_eq!(vmemmap.end - vmemmap.start, (1u64 << (va_bits - 1)) >> 6);
        assert_eq!(by("vmalloc").end, vmemmap.start - (256 << 20));
        // The pageblocks (order 9, half an order-10 block) tile the zone; the free pages of
        // an order-10 block count in both of its pageblocks.
        let z = &k.zones[0];
        assert_eq!(k.pageblock_order, 9);
        assert_eq!(k.pageblocks.iter().map(|b| b.pages).sum::<u64>(), z.end_pfn - z.start_pfn);
        assert_eq!(k.pageblocks.iter().map(|b| b.free).sum::<u64>(), z.free, "{file}");
        for b in &k.pageblocks {
            assert_eq!(b.free + b.pcp + b.reserved + b.used, b.pages, "{b:?}");
        }
        // Drawn: every address from 0 to 2^64 - 1 covered once, top down, the kernel half to
        // scale, the user half and the non-canonical hole cut.
        let segs = picture::kernel::segments(k);
        assert_eq!((segs[0].end, segs.last().unwrap().start), (u64::MAX, 0));
        assert!(segs.windows(2).all(|w| w[1].end == w[0].start));
        let seg = |name: &str| segs.iter().find(|s| s.name == name).unwrap();
        assert!(seg("user").cut && seg("non-canonical").cut, "{segs:?}");
        assert_eq!((seg("non-canonical").start, seg("non-canonical").end), (user_end, page_offset));
        assert!(!seg("vmalloc").cut && !seg("vmalloc").enlarged);
        let svg = picture::kernel::draw(k);
        for label in [
            format!(">virtual (arm64 VA_BITS={va_bits}, PAGE_OFFSET {page_offset:#x})<"),
            ">linear map: 960 MB of RAM<".to_string(),
            ">non-canonical (16 EB, not to scale)<".to_string(),
            ">0xffffffffffffffff<".to_string(),
            ">DMA (960 MB)<".to_string(),
        ] {
            assert!(svg.contains(&label), "{file}: no {label}");
        }
        assert!(!svg.contains("HighMem"), "{file}: no highmem on arm64");
        // The process: its VMAs up to the stack near the top of the user space.
        let p = &t.processes[0];
        let stack = p.vmas.iter().find(|v| v.name == "[stack]").unwrap();
        assert!(stack.end > user_end / 2 && stack.end <= user_end, "{stack:?}");
        assert!(p.vmas.iter().flat_map(|v| &v.ptes).all(|r| r.zone == "DMA"));
        let html = picture::process::draw(p, Some(k));
        assert!(html.contains(&format!("{:x}", stack.start)), "{file}: the stack's address");
    }
}

/// The `key=` field of a line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

#[test]
fn the_timeline_reads_both_layouts() {
    let (ta, tb) = (fixture("scenario-android-a9.txt"), fixture("scenario-android-a9-720m.txt"));
    let a = parse_transcript(&ta).unwrap();
    let b = parse_transcript(&tb).unwrap();
    // Each transcript: the memdump before and after the traced run, on the same seed.
    assert_eq!((a.kernels.len(), b.kernels.len()), (2, 2));
    assert_eq!((a.profile(), b.profile()), (Some("android-a9"), Some("android-a9-720m")));
    let (sa, sb) = (&a.summaries[0], &b.summaries[0]);
    assert_eq!((a.summaries.len(), b.summaries.len(), sa.seed), (1, 1, sb.seed));
    // The first double failure the trace shows is the run's time to failure; the run on the
    // 720 MiB layout never failed and was traced to its budget.
    let fail = picture::timeline::first_failure(&a.steps);
    assert!(fail.is_some() && fail == sa.failed_step, "{fail:?} {sa:?}");
    assert_eq!(a.steps.last().unwrap().step, fail.unwrap());
    assert_eq!(picture::timeline::first_failure(&b.steps), None);
    assert_eq!((sb.failed_step, b.steps.last().unwrap().step), (None, sb.budget));
    // trace=N: every request's step is there (as many as the summary counts), and between
    // them every N-th step.
    for (t, s) in [(&a, sa), (&b, sb)] {
        let asked = t.steps.iter().filter(|x| x.gpu != "none").count() as u64;
        assert_eq!(asked, s.requests, "{s:?}");
        let vm = t.steps.iter().filter(|x| x.gpu == "vmalloc").count() as u64;
        assert_eq!(vm, s.requests_vmalloc, "{s:?}");
        assert!(t.steps.windows(2).all(|w| w[0].step < w[1].step));
        assert!(t.steps.windows(2).all(|w| w[1].step - w[0].step <= 50), "gap over 50 steps");
    }
    // The physical maps before and after: on the 512 MiB layout lowmem ends nearly empty.
    let normal_free =
        |k: &picture::dump::KernelDump| k.zones.iter().find(|z| z.name == "Normal").unwrap().free;
    assert!(normal_free(&a.kernels[1]) * 4 < normal_free(&a.kernels[0]));
    let svg = picture::timeline::draw(&[("a9".into(), &a.steps), ("720m".into(), &b.steps)]);
    assert!(svg.contains(&format!(">a9: first double failure at step {}<", fail.unwrap())));
    assert!(svg.contains(&format!(">720m: no double failure in {} steps<", sb.budget)));
    assert_eq!(svg.matches("data-series=").count(), 2);
}

/// numpy's default quartiles (linear between the closest ranks), rounded down.
fn quartiles(sorted: &[u64]) -> [u64; 3] {
    let n = sorted.len() as u64;
    [1, 2, 3].map(|k| {
        let pos = k * (n - 1);
        let (lo, rem) = ((pos / 4) as usize, pos % 4);
        let next = sorted[(lo + 1).min(sorted.len() - 1)];
        sorted[lo] + (next - sorted[lo]) * rem / 4
    })
}

#[test]
fn the_distribution_is_the_kernels() {
    let a = parse_transcript(&fixture("seeds-android-a9.txt")).unwrap();
    let b = parse_transcript(&fixture("seeds-android-a9-720m.txt")).unwrap();
    let (da, db) = (&a.distributions[0], &b.distributions[0]);
    assert_eq!((a.distributions.len(), b.distributions.len()), (1, 1));
    for d in [da, db] {
        // The sequence's runs, seed by seed, all with the default budget.
        assert_eq!(d.seeds.len() as u64, d.runs);
        assert!(d.runs >= 16, "{d:?}");
        assert!(d.seeds.iter().enumerate().all(|(i, s)| s.seed == d.first_seed + i as u64));
        // The kernel's quartiles are those of its runs' failing steps.
        let mut steps: Vec<u64> = d.seeds.iter().filter_map(|s| s.failed_step).collect();
        steps.sort_unstable();
        assert_eq!(steps.len() as u64, d.failed);
        if steps.is_empty() {
            assert_eq!((d.quartiles, d.range), (None, None));
        } else {
            assert_eq!(d.quartiles, Some(quartiles(&steps)), "{d:?}");
            assert_eq!(d.range, Some((steps[0], *steps.last().unwrap())));
        }
    }
    // The target, on this capture: android-a9 fails within the budget on at least
    // 95% of the seeds, android-a9-720m on none.
    assert_eq!((da.profile.as_str(), db.profile.as_str()), ("android-a9", "android-a9-720m"));
    assert!(da.failed * 100 >= 95 * da.runs, "{da:?}");
    assert_eq!(db.failed, 0);
    // Drawn: the kernel's own sentence, a dot per seed, the box for the layout that failed.
    let svg = picture::timeline::draw_distributions(&[da, db]);
    let line = fixture("seeds-android-a9.txt");
    let said = line.lines().find(|l| l.starts_with("time to failure: ")).unwrap();
    let (head, tail) = said["time to failure: ".len()..].split_once("; ").unwrap();
    assert!(svg.contains(&format!(">android-a9: {head}<")), "{head}");
    assert!(svg.contains(&format!(">{tail}<")), "{tail}");
    assert_eq!(svg.matches("<circle ").count() as u64, da.runs + db.runs);
    assert_eq!(svg.matches("data-quartiles=").count(), 1);
    assert!(svg.contains(&format!(
        ">android-a9-720m: 0 of {} seeds ({}-{}) failed both ways within {} steps (0.0%)<",
        db.runs,
        db.first_seed,
        db.first_seed + db.runs - 1,
        db.budget
    )));
    assert!(svg.contains(&format!(">{} never failed<", db.runs)));
    assert_eq!(picture::timeline::percent(31, 32), "96.8%");
}

#[test]
fn a_distribution_must_match_its_runs() {
    let text = fixture("seeds-android-a9.txt");
    let dist = text.lines().find(|l| l.starts_with("scenario-distribution: ")).unwrap();
    // One run's line lost: the sequence no longer matches the count.
    let first = text.lines().find(|l| l.starts_with("scenario-summary: ")).unwrap();
    let lost = text.replacen(&format!("{first}\n"), "", 1);
    let e = parse_transcript(&lost).unwrap_err();
    assert!(e.what.contains("is not run 1 of this sequence") || e.what.contains("only"), "{e}");
    // A failure count that is not the runs'.
    let failed = field(dist, "failed");
    let wrong = text.replace(dist, &dist.replace(&format!(" failed={failed} "), " failed=1 "));
    let e = parse_transcript(&wrong).unwrap_err();
    assert!(e.what.contains(&format!("failed=1 but {failed} of the runs before it failed")), "{e}");
    assert!(e.line > 1);
}

#[test]
fn bad_transcripts_are_refused_with_the_line() {
    let cut = "memdump version=1 what=kernel split=2G page_offset=0x80000000 profile=linux page_size=4096 max_order=11 pageblock_order=10\nram start=0x0 end=0x1000\n";
    assert_eq!(
        parse_transcript(cut).unwrap_err(),
        ParseError { line: 1, what: "memdump block never closed (transcript cut short?)".into() }
    );
    let short = format!("{cut}memdump end lines=5\n");
    assert!(parse_transcript(&short).unwrap_err().what.contains("has 3 lines, its end says 5"));
    let v2 = "memdump version=2 what=kernel\n";
    assert!(parse_transcript(v2).unwrap_err().what.contains("this tool reads version 1"));
    let step = "vmfrag-step step=1 normal_free_kb=1 highmem_free_kb=1 normal_max_order=1 highmem_max_order=-1 vmalloc_free_kb=1 vmalloc_largest_kb=1 gpu=maybe\n";
    assert!(parse_transcript(step).unwrap_err().what.contains("gpu=maybe"));
    let bad = "memdump version=1 what=process pid=x comm=a page_size=4096\nmemdump end lines=2\n";
    assert!(parse_transcript(bad).unwrap_err().what.contains("pid=x is not a number"));
}

#[test]
fn run_writes_every_page_and_an_index() {
    let dir = std::env::temp_dir().join(format!("picture-run-{}", std::process::id()));
    let t = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/picture");
    let inputs: Vec<PathBuf> = ["2G.txt", "scenario-android-a9.txt", "seeds-android-a9.txt"]
        .iter()
        .map(|f| t.join(f))
        .collect();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let files = picture::run(&refs, &dir).unwrap();
    let process = files.iter().find(|f| f.starts_with("process-2G-")).expect("process page");
    // The scenario's transcript has two kernel dumps: both pages of each, before and after.
    for f in [
        "physical-scenario-android-a9-1.html",
        "physical-scenario-android-a9-2.html",
        "kernel-scenario-android-a9-2.html",
    ] {
        assert!(files.iter().any(|x| x == f), "{f}: {files:?}");
    }
    let after = std::fs::read_to_string(dir.join("physical-scenario-android-a9-2.html")).unwrap();
    assert!(after.contains("(dump 2 of 2)"), "the after page says which dump it is");
    for f in ["kernel-2G.html", "physical-2G.html", process, "timeline.html", "index.html"] {
        assert!(files.iter().any(|x| x == f), "{f}: {files:?}");
        let html = std::fs::read_to_string(dir.join(f)).unwrap();
        // Self-contained: no fetch of anything.
        assert!(
            !html.contains("http://")
                || !html.replace("http://www.w3.org/2000/svg", "").contains("http://")
        );
        assert!(!html.contains("https://") && !html.contains("<script") && !html.contains("<link"));
    }
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "pivm# help\n").unwrap();
    assert!(picture::run(&[empty.as_path()], &dir).unwrap_err().contains("no memdump block"));
    // The scenario page holds both drawings: the timeline and the distribution.
    let html = std::fs::read_to_string(dir.join("timeline.html")).unwrap();
    assert!(html.contains("id=\"svg-timeline\"") && html.contains("id=\"svg-distribution\""));
    let _ = std::fs::remove_dir_all(&dir);
}
