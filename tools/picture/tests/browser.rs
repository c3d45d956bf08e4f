//! Opens every page the committed transcripts give in a real headless browser (Debian's
//! Chromium; `scripts/setup.sh` installs it): a script run in the page checks that each SVG
//! parses as XML (the browser's own DOMParser), that the drawing has a size, and reports the
//! regions and labels it holds, which the test compares with what the transcript says; a
//! screenshot of each kind of page must not be blank.
use std::path::{Path, PathBuf};
use std::process::Command;

use picture::dump::parse_transcript;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The browser, or a clear failure saying how to get it.
fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c.to_string();
        }
    }
    panic!("no Chromium found: the browser test needs Debian's chromium (scripts/setup.sh installs it; or apt-get install chromium)");
}

fn run_browser(browser: &str, profile: &Path, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("60")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checking script: parses each inline SVG's source with DOMParser, measures the drawing,
/// and writes what it found into `<pre id="check">` for `--dump-dom`.
fn check_script(svg_sources: &[String]) -> String {
    let quoted: Vec<String> = svg_sources.iter().map(|s| json_string(s)).collect();
    format!(
        r#"<script>
(function() {{
  var out = [];
  var sources = [{}];
  sources.forEach(function(src, i) {{
    var doc = new DOMParser().parseFromString(src, "image/svg+xml");
    var err = doc.getElementsByTagName("parsererror").length;
    out.push("parse " + i + " " + (err ? "error" : "ok") + " root=" + doc.documentElement.nodeName);
  }});
  document.querySelectorAll("body > svg").forEach(function(svg) {{
    var b = svg.getBBox();
    out.push("svg " + svg.id + " bbox " + Math.round(b.width) + "x" + Math.round(b.height));
  }});
  ["data-region", "data-zone", "data-carveout", "data-vma", "data-series", "data-metric", "data-distribution", "data-quartiles"].forEach(function(a) {{
    document.querySelectorAll("[" + a + "]").forEach(function(e) {{
      var r = e.getBoundingClientRect();
      out.push(a + " " + e.getAttribute(a) + " " + (r.width > 0 && r.height > 0 ? "visible" : "hidden"));
    }});
  }});
  out.push("pageblocks " + document.querySelectorAll("[data-pfn]").length);
  document.querySelectorAll("text").forEach(function(t) {{ out.push("text " + t.textContent); }});
  var pre = document.createElement("pre");
  pre.id = "check";
  pre.textContent = "\n" + out.join("\n") + "\n";
  document.body.appendChild(pre);
}})();
</script>"#,
        quoted.join(",")
    )
}

fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '<' => o.push_str("\\u003c"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The `<svg>...</svg>` elements of a page, as written.
fn svgs(html: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = html;
    while let Some(a) = rest.find("<svg ") {
        let b = rest[a..].find("</svg>").expect("closed svg") + a + "</svg>".len();
        v.push(rest[a..b].to_string());
        rest = &rest[b..];
    }
    v
}

/// What the page's check script reported (the lines of `<pre id="check">`, unescaped).
fn checked(browser: &str, profile: &Path, dir: &Path, file: &str) -> Vec<String> {
    let html = std::fs::read_to_string(dir.join(file)).unwrap();
    let sources = svgs(&html);
    assert!(!sources.is_empty(), "{file}: no inline svg");
    let wrapped = html.replace("</body>", &(check_script(&sources) + "</body>"));
    let check = dir.join(format!("check-{file}"));
    std::fs::write(&check, wrapped).unwrap();
    let dom = run_browser(
        browser,
        profile,
        &["--virtual-time-budget=2000", "--dump-dom", &format!("file://{}", check.display())],
    );
    let start = dom
        .find("<pre id=\"check\">")
        .unwrap_or_else(|| panic!("{file}: the check script did not run:\n{dom}"));
    let end = dom[start..].find("</pre>").unwrap() + start;
    let text = &dom[start + "<pre id=\"check\">".len()..end];
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&")
        })
        .filter(|l| !l.is_empty())
        .collect();
    for l in lines.iter().filter(|l| l.starts_with("parse ")) {
        assert!(l.contains(" ok root=svg"), "{file}: the browser could not parse its SVG: {l}");
    }
    let bbox = lines
        .iter()
        .find(|l| l.starts_with("svg "))
        .unwrap_or_else(|| panic!("{file}: no svg measured"));
    let size: Vec<u32> =
        bbox.rsplit(' ').next().unwrap().split('x').map(|n| n.parse().unwrap()).collect();
    assert!(size[0] > 200 && size[1] > 200, "{file}: the drawing is {bbox}");
    lines
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

/// Decodes an 8-bit RGB or RGBA PNG (Chromium's screenshots) into its pixels.
fn png_pixels(png: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut w, mut h, mut bpp) = (0u32, 0u32, 0usize);
    let mut idat = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(data[8], 8, "bit depth");
                bpp = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("PNG colour type {t}"),
                };
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).expect("inflate");
    let stride = w as usize * bpp;
    let mut prev = vec![0u8; stride];
    let mut px = Vec::with_capacity((w * h) as usize);
    for y in 0..h as usize {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut cur = row[1..].to_vec();
        for i in 0..stride {
            let a = if i >= bpp { cur[i - bpp] as i32 } else { 0 };
            let b = prev[i] as i32;
            let c = if i >= bpp { prev[i - bpp] as i32 } else { 0 };
            let add = match row[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("PNG filter {f}"),
            };
            cur[i] = (cur[i] as i32 + add) as u8;
        }
        for p in cur.chunks(bpp) {
            px.push([p[0], p[1], p[2]]);
        }
        prev = cur;
    }
    (w, h, px)
}

/// A screenshot of the page is not blank: many pixels are not the background, in several colours.
fn screenshot_not_blank(browser: &str, profile: &Path, dir: &Path, file: &str) {
    let shot = dir.join(format!("{file}.png"));
    run_browser(
        browser,
        profile,
        &[
            "--window-size=1200,900",
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", dir.join(file).display()),
        ],
    );
    let (w, h, px) = png_pixels(&std::fs::read(&shot).expect("screenshot written"));
    let inked = px.iter().filter(|p| **p != [255, 255, 255]).count();
    let mut colours: Vec<[u8; 3]> = px.iter().copied().filter(|p| *p != [255, 255, 255]).collect();
    colours.sort();
    colours.dedup();
    assert!(
        inked * 50 > (w * h) as usize,
        "{file}: the screenshot is blank ({inked} of {} pixels drawn)",
        w * h
    );
    assert!(colours.len() > 8, "{file}: the screenshot has {} colours", colours.len());
}

#[test]
fn every_page_renders_in_chromium() {
    let browser = chromium();
    let dir = std::env::temp_dir().join(format!("picture-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profile = dir.join("profile");
    let t = repo().join("tests/picture");
    let inputs = [
        t.join("2G.txt"),
        t.join("3G-android-a9.txt"),
        t.join("scenario-android-a9.txt"),
        t.join("scenario-android-a9-720m.txt"),
        t.join("seeds-android-a9.txt"),
        t.join("seeds-android-a9-720m.txt"),
    ];
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let files = picture::run(&refs, &dir).expect("pages written");

    // The kernel picture of the default 2G build: every region of its dump, with its label.
    let k2 = parse_transcript(&std::fs::read_to_string(&inputs[0]).unwrap()).unwrap();
    let k = &k2.kernels[0];
    let lines = checked(&browser, &profile, &dir, "kernel-2G.html");
    for r in k.regions.iter().filter(|r| r.kind != "section") {
        assert!(
            has(&lines, &format!("data-region {} visible", r.name)),
            "region {} not drawn: {lines:?}",
            r.name
        );
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("text {} (", r.name))),
            "region {} has no label",
            r.name
        );
    }
    for z in &k.zones {
        assert!(has(&lines, &format!("data-zone {} visible", z.name)), "zone {}", z.name);
    }
    assert!(lines.iter().any(|l| l.starts_with("text linear map: ")), "{lines:?}");

    // The Android layout: its carve-outs and holes.
    let a9 = parse_transcript(&std::fs::read_to_string(&inputs[1]).unwrap()).unwrap();
    let lines = checked(&browser, &profile, &dir, "kernel-3G-android-a9.html");
    for c in &a9.kernels[0].carveouts {
        assert!(has(&lines, &format!("data-carveout {} visible", c.name)), "carve-out {}", c.name);
    }
    assert!(
        has(&lines, "data-region unused visible") && has(&lines, "data-region pkmap visible"),
        "{lines:?}"
    );

    // The physical map: one cell per pageblock.
    let lines = checked(&browser, &profile, &dir, "physical-2G.html");
    assert!(has(&lines, &format!("pageblocks {}", k.pageblocks.len())), "{lines:?}");
    assert!(has(&lines, "data-zone Normal visible"));

    // The process: one row per VMA.
    let p = &k2.processes[0];
    let file = format!("process-2G-{}.html", p.pid);
    let lines = checked(&browser, &profile, &dir, &file);
    let rows =
        lines.iter().filter(|l| l.starts_with("data-vma ") && l.ends_with(" visible")).count();
    assert_eq!(rows, p.vmas.len(), "{lines:?}");

    // The scenario page: the timeline of both layouts with the first failure named, and the
    // time-to-failure distribution of each layout with the kernel's figures.
    let parse = |i: usize| parse_transcript(&std::fs::read_to_string(&inputs[i]).unwrap()).unwrap();
    let (a, b) = (parse(2), parse(3));
    let lines = checked(&browser, &profile, &dir, "timeline.html");
    assert_eq!(lines.iter().filter(|l| l.starts_with("data-series ")).count(), 2, "{lines:?}");
    let fail = picture::timeline::first_failure(&a.steps).expect("android-a9 failed");
    let want = format!("first double failure at step {fail}");
    assert!(lines.iter().any(|l| l.starts_with("text ") && l.ends_with(&want)), "{lines:?}");
    let last = b.steps.last().unwrap().step;
    let want = format!("no double failure in {last} steps");
    assert!(lines.iter().any(|l| l.starts_with("text ") && l.ends_with(&want)), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("svg svg-distribution bbox "))
            && has(&lines, "parse 1 ok root=svg"),
        "the distribution's drawing: {lines:?}"
    );
    for i in [4, 5] {
        let d = &parse(i).distributions[0];
        assert!(has(&lines, &format!("data-distribution {} visible", d.profile)), "{lines:?}");
        let head = format!(
            "text {}: {} of {} seeds ({}-{}) failed both ways within {} steps ({})",
            d.profile,
            d.failed,
            d.runs,
            d.first_seed,
            d.first_seed + d.runs - 1,
            d.budget,
            picture::timeline::percent(d.failed, d.runs)
        );
        assert!(has(&lines, &head), "{head}: {lines:?}");
        if let (Some([q1, q2, q3]), Some((lo, hi))) = (d.quartiles, d.range) {
            let q = format!(
                "text failing step: median {q2}, quartiles {q1}-{q3}, earliest {lo}, latest {hi}"
            );
            assert!(has(&lines, &q), "{q}: {lines:?}");
            assert!(has(&lines, &format!("data-quartiles {q1} {q2} {q3} visible")), "{lines:?}");
        }
    }

    for f in ["kernel-2G.html", "physical-2G.html", &file, "timeline.html"] {
        assert!(files.iter().any(|x| x == f), "{f} not written: {files:?}");
        screenshot_not_blank(&browser, &profile, &dir, f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
