//! `picture`: draws pivm's memory from a console transcript. It reads the `memdump` blocks
//! (the kernel's regions, zones, vmalloc areas and pageblocks; a process's VMAs and pages)
//! and the scenario's `vmfrag-step` lines, and writes self-contained HTML pages with inline
//! SVG: the kernel's virtual address space mapped onto physical memory, a process's address
//! space, physical memory as a pageblock map, and the scenario's timeline.
pub mod dump;
pub mod kernel;
pub mod physical;
pub mod process;
pub mod svg;
pub mod timeline;

use std::path::Path;

pub use dump::{parse_transcript, Transcript};

/// One page to write: its file name, and the HTML.
pub struct Page {
    pub file: String,
    pub title: String,
    pub html: String,
}

/// A name made safe for a file name.
fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Every page the transcripts give: per kernel dump its virtual-space and physical pages
/// (several dumps in one transcript are numbered: the scenario's before and after), per
/// process dump its page, and one scenario page: the timeline of every transcript's scenario
/// steps and the time-to-failure distribution of every `seeds=N` sequence. `names`
/// are the transcripts' labels (file stems), in the same order.
pub fn pages(transcripts: &[(String, Transcript)]) -> Vec<Page> {
    let mut out = Vec::new();
    for (name, t) in transcripts {
        let many = t.kernels.len() > 1;
        for (i, k) in t.kernels.iter().enumerate() {
            let tag = if many { format!("-{}", i + 1) } else { String::new() };
            let stem = slug(&format!("{name}{tag}"));
            let when = if many {
                format!(" (dump {} of {})", i + 1, t.kernels.len())
            } else {
                String::new()
            };
            out.push(Page {
                file: format!("kernel-{stem}.html"),
                title: format!(
                    "Kernel address space: {} split, profile {}{when}",
                    k.split, k.profile
                ),
                html: kernel::page(k, &when),
            });
            out.push(Page {
                file: format!("physical-{stem}.html"),
                title: format!("Physical memory: {} split, profile {}{when}", k.split, k.profile),
                html: physical::page(k, &when),
            });
        }
        for p in &t.processes {
            let layout = t.kernels.first();
            out.push(Page {
                file: slug(&format!("process-{name}-{}", p.pid)) + ".html",
                title: format!("Process {} ({})", p.pid, p.comm),
                html: process::page(p, layout),
            });
        }
    }
    let series: Vec<(String, &[dump::Step])> = transcripts
        .iter()
        .filter(|(_, t)| !t.steps.is_empty())
        .map(|(name, t)| {
            // The layout and the traced run's seed (its summary line), else the file's name.
            let label = match (t.profile(), t.summaries.first()) {
                (Some(p), Some(s)) => format!("{p}, seed {}", s.seed),
                (Some(p), None) => p.to_string(),
                _ => name.clone(),
            };
            (label, t.steps.as_slice())
        })
        .collect();
    let dists: Vec<&dump::Distribution> =
        transcripts.iter().flat_map(|(_, t)| &t.distributions).collect();
    if !series.is_empty() || !dists.is_empty() {
        out.push(Page {
            file: "timeline.html".into(),
            title: "The scenario's timeline and time to failure".into(),
            html: timeline::page(&series, &dists),
        });
    }
    let mut index = String::from("<ul>");
    for p in &out {
        index.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            svg::esc(&p.file),
            svg::esc(&p.title)
        ));
    }
    index.push_str("</ul>");
    let html = svg::page("pivm: pictures of memory", "Drawn by tools/picture from the console transcripts: every figure comes from the kernel's memdump output.", &[index]);
    out.push(Page { file: "index.html".into(), title: "index".into(), html });
    out
}

/// Reads each transcript, writes every page into `dir`; returns the files written.
pub fn run(inputs: &[&Path], dir: &Path) -> Result<Vec<String>, String> {
    let mut ts = Vec::new();
    for p in inputs {
        let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let text = String::from_utf8_lossy(&text);
        let t = parse_transcript(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        if t.kernels.is_empty()
            && t.processes.is_empty()
            && t.steps.is_empty()
            && t.distributions.is_empty()
        {
            return Err(format!(
                "{}: no memdump block, vmfrag-step line or scenario-distribution line",
                p.display()
            ));
        }
        let stem =
            p.file_stem().map_or_else(|| "transcript".into(), |s| s.to_string_lossy().into_owned());
        ts.push((stem, t));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for page in pages(&ts) {
        let path = dir.join(&page.file);
        std::fs::write(&path, page.html).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(page.file);
    }
    Ok(written)
}
