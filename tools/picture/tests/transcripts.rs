//! The tool against the transcripts committed in `tests/picture/`: captured from the kernel
//! by `make picture` (memdump of the 2G default and of the android-a9 layout, a process's
//! memdump) and the scenario's trace format (vmfrag-step): parsing, scale, labels, errors.
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

#[test]
fn the_timeline_reads_both_layouts() {
    let a = parse_transcript(&fixture("vmfrag-android-a9.txt")).unwrap();
    let b = parse_transcript(&fixture("vmfrag-android-a9-720m.txt")).unwrap();
    assert_eq!(picture::timeline::first_failure(&a.steps), Some(168));
    assert_eq!(picture::timeline::first_failure(&b.steps), None);
    let svg = picture::timeline::draw(&[("a9".into(), &a.steps), ("720m".into(), &b.steps)]);
    assert!(svg.contains(">a9: first double failure at step 168<"));
    assert!(svg.contains(">720m: no double failure in 240 steps<"));
    assert_eq!(svg.matches("data-series=").count(), 2);
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
    let inputs: Vec<PathBuf> =
        ["2G.txt", "vmfrag-android-a9.txt"].iter().map(|f| t.join(f)).collect();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let files = picture::run(&refs, &dir).unwrap();
    for f in
        ["kernel-2G.html", "physical-2G.html", "process-2G-1.html", "timeline.html", "index.html"]
    {
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
    let _ = std::fs::remove_dir_all(&dir);
}
