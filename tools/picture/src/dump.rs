//! Reading a console transcript: the `memdump` blocks (format version 1, see the README's
//! "Pictures"), the scenario's `vmfrag-step` lines and the `scenario-summary:` /
//! `scenario-distribution:` lines of `scenario vmalloc-frag seeds=N`, into plain records.
use std::collections::BTreeMap;
use std::fmt;

/// The memdump format version this tool reads.
pub const VERSION: u32 = 1;

/// What went wrong reading a transcript: the line (1-based) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for ParseError {}

/// One record: its word and its `key=value` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub kind: String,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    fn parse(line: usize, text: &str) -> Result<Record, ParseError> {
        let mut words = text.split_whitespace();
        let kind = words.next().unwrap_or("").to_string();
        let mut fields = BTreeMap::new();
        for w in words {
            // The closing line's bare `end` word.
            if kind == "memdump" && w == "end" {
                fields.insert("end".to_string(), String::new());
                continue;
            }
            let Some((k, v)) = w.split_once('=') else {
                return Err(ParseError { line, what: format!("'{w}' is not key=value") });
            };
            fields.insert(k.to_string(), v.to_string());
        }
        Ok(Record { line, kind, fields })
    }

    /// A field as text.
    pub fn get(&self, key: &str) -> Result<&str, ParseError> {
        self.fields.get(key).map(String::as_str).ok_or_else(|| ParseError {
            line: self.line,
            what: format!("{} record without {key}=", self.kind),
        })
    }

    /// A number field: decimal, or hex with `0x`.
    pub fn num(&self, key: &str) -> Result<u64, ParseError> {
        let s = self.get(key)?;
        parse_num(s).ok_or_else(|| ParseError {
            line: self.line,
            what: format!("{key}={s} is not a number"),
        })
    }

    /// A signed number field (`-1` for "none").
    pub fn int(&self, key: &str) -> Result<i64, ParseError> {
        let s = self.get(key)?;
        s.parse().ok().or_else(|| parse_num(s).map(|n| n as i64)).ok_or_else(|| ParseError {
            line: self.line,
            what: format!("{key}={s} is not a number"),
        })
    }
}

/// Decimal or `0x` hex.
pub fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// One virtual region of the kernel dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub kind: String,
    pub start: u64,
    pub end: u64,
    /// The linear map's target: `[phys, phys_end)`.
    pub phys: Option<(u64, u64)>,
}

/// A run of pages of a walked region that maps contiguous physical memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRun {
    pub region: String,
    pub va: u64,
    pub pages: u64,
    pub phys: u64,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub present: u64,
    pub managed: u64,
    pub free: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carveout {
    pub name: String,
    pub phys: u64,
    pub phys_end: u64,
    pub va: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Varea {
    pub start: u64,
    pub end: u64,
    pub kind: String,
    /// `(zone, pages)`.
    pub pages: Vec<(String, u64)>,
    pub caller: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pageblock {
    pub pfn: u64,
    pub pages: u64,
    pub zone: String,
    pub mt: String,
    pub free: u64,
    pub pcp: u64,
    pub reserved: u64,
    pub used: u64,
    pub orders: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmallocTotals {
    pub start: u64,
    pub end: u64,
    pub free_kb: u64,
    pub largest_gap_kb: u64,
    pub areas: u64,
}

/// A `memdump what=kernel` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelDump {
    pub split: String,
    pub page_offset: u64,
    pub profile: String,
    pub page_size: u64,
    pub pageblock_order: u32,
    pub ram: Vec<(u64, u64)>,
    pub zones: Vec<Zone>,
    pub regions: Vec<Region>,
    pub maps: Vec<MapRun>,
    pub carveouts: Vec<Carveout>,
    pub vareas: Vec<Varea>,
    pub vmalloc: Option<VmallocTotals>,
    pub pageblocks: Vec<Pageblock>,
}

impl KernelDump {
    /// The 64-bit kernel's dump (`split=va48` or `va39`, `PAGE_OFFSET` above 4 GiB).
    pub fn is_64bit(&self) -> bool {
        self.page_offset > u64::from(u32::MAX)
    }

    /// The last byte of the virtual address space: 0xffffffff, or 0xffffffffffffffff.
    pub fn va_last(&self) -> u64 {
        if self.is_64bit() {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        }
    }
}

/// A run of present pages of a VMA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PteRun {
    pub va: u64,
    pub n: u64,
    pub pfn: u64,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub name: String,
    pub ptes: Vec<PteRun>,
    /// `(va, n)` runs of swapped-out pages.
    pub swapped: Vec<(u64, u64)>,
}

/// A `memdump what=process` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessDump {
    pub pid: u32,
    pub comm: String,
    pub page_size: u64,
    pub vmas: Vec<Vma>,
}

/// One `vmfrag-step` line of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub step: u64,
    pub normal_free_kb: u64,
    pub highmem_free_kb: u64,
    pub normal_max_order: i64,
    pub highmem_max_order: i64,
    pub vmalloc_free_kb: u64,
    pub vmalloc_largest_kb: u64,
    /// `none`, `pages`, `vmalloc` or `fail`.
    pub gpu: String,
}

/// The request outcomes a step may report.
pub const GPU_OUTCOMES: [&str; 4] = ["none", "pages", "vmalloc", "fail"];

/// One `scenario-summary:` line: how one run of the scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub profile: String,
    pub seed: u64,
    /// The step of the first double failure; None: none within the budget.
    pub failed_step: Option<u64>,
    pub budget: u64,
    pub requests: u64,
    pub requests_vmalloc: u64,
}

/// One `scenario-distribution:` line (`seeds=N`): the time to failure over the sequence, as
/// the kernel computed it, with the sequence's runs (the `runs` summary lines before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub profile: String,
    pub first_seed: u64,
    pub budget: u64,
    pub runs: u64,
    pub failed: u64,
    /// First quartile, median, third quartile of the failing steps (None: no run failed).
    pub quartiles: Option<[u64; 3]>,
    /// Earliest and latest failing step.
    pub range: Option<(u64, u64)>,
    /// The sequence's runs, seed by seed.
    pub seeds: Vec<RunSummary>,
}

/// Everything found in one transcript, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    pub kernels: Vec<KernelDump>,
    pub processes: Vec<ProcessDump>,
    pub steps: Vec<Step>,
    /// Every `scenario-summary:` line (a single run's, or a sequence's).
    pub summaries: Vec<RunSummary>,
    pub distributions: Vec<Distribution>,
}

impl Transcript {
    /// The profile the transcript's kernel ran (from its first kernel dump).
    pub fn profile(&self) -> Option<&str> {
        self.kernels.first().map(|k| k.profile.as_str())
    }
}

/// A console line without the prompt and the line ends the serial port adds.
fn clean(line: &str) -> &str {
    let l = line.trim_end_matches(['\r', '\n']).trim_start_matches('\r');
    l.strip_prefix("pivm# ").unwrap_or(l).trim()
}

/// Reads every memdump block and vmfrag-step line of a transcript; everything else (boot
/// log, other commands) is skipped. A block must close with `memdump end lines=N` and hold
/// exactly N lines, so a transcript cut short is refused, not drawn half.
pub fn parse_transcript(text: &str) -> Result<Transcript, ParseError> {
    let mut t = Transcript::default();
    let mut block: Option<(usize, Vec<Record>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = clean(raw);
        if let Some((start, recs)) = block.as_mut() {
            if l.is_empty() {
                continue;
            }
            let rec = Record::parse(line, l)?;
            if rec.kind == "memdump" && rec.fields.contains_key("end") {
                let want = rec.num("lines")? as usize;
                let got = recs.len() + 1;
                if want != got {
                    return Err(ParseError {
                        line,
                        what: format!(
                            "memdump block from line {start} has {got} lines, its end says {want}"
                        ),
                    });
                }
                let (_, recs) = block.take().unwrap();
                add_block(&mut t, &recs)?;
            } else if rec.kind == "memdump" {
                return Err(ParseError {
                    line,
                    what: format!("memdump block from line {start} not closed"),
                });
            } else {
                recs.push(rec);
            }
            continue;
        }
        if l.starts_with("memdump version=") {
            let rec = Record::parse(line, l)?;
            let v = rec.num("version")?;
            if v != u64::from(VERSION) {
                return Err(ParseError {
                    line,
                    what: format!("memdump version {v}: this tool reads version {VERSION}"),
                });
            }
            block = Some((line, vec![rec]));
        } else if let Some(pos) = l.find("vmfrag-step ") {
            t.steps.push(parse_step(&Record::parse(line, &l[pos..])?)?);
        } else if l.starts_with("scenario-summary: ") {
            t.summaries.push(parse_summary(&Record::parse(line, l)?)?);
        } else if l.starts_with("scenario-distribution: ") {
            let d = parse_distribution(&Record::parse(line, l)?, &t.summaries)?;
            t.distributions.push(d);
        }
    }
    if let Some((start, _)) = block {
        return Err(ParseError {
            line: start,
            what: "memdump block never closed (transcript cut short?)".into(),
        });
    }
    Ok(t)
}

fn parse_step(r: &Record) -> Result<Step, ParseError> {
    let gpu = r.get("gpu")?.to_string();
    if !GPU_OUTCOMES.contains(&gpu.as_str()) {
        return Err(ParseError {
            line: r.line,
            what: format!("gpu={gpu}: expected none, pages, vmalloc or fail"),
        });
    }
    Ok(Step {
        step: r.num("step")?,
        normal_free_kb: r.num("normal_free_kb")?,
        highmem_free_kb: r.num("highmem_free_kb")?,
        normal_max_order: r.int("normal_max_order")?,
        highmem_max_order: r.int("highmem_max_order")?,
        vmalloc_free_kb: r.num("vmalloc_free_kb")?,
        vmalloc_largest_kb: r.num("vmalloc_largest_kb")?,
        gpu,
    })
}

fn parse_summary(r: &Record) -> Result<RunSummary, ParseError> {
    let failed = r.int("failed_step")?;
    Ok(RunSummary {
        profile: r.get("profile")?.to_string(),
        seed: r.num("seed")?,
        failed_step: u64::try_from(failed).ok(),
        budget: r.num("budget")?,
        requests: r.num("requests")?,
        requests_vmalloc: r.num("requests_vmalloc")?,
    })
}

/// The distribution line, with the `runs` summary lines before it, which must be the
/// sequence's seeds in order and agree with its count of failures.
fn parse_distribution(r: &Record, before: &[RunSummary]) -> Result<Distribution, ParseError> {
    let opt =
        |key: &str| -> Result<Option<u64>, ParseError> { Ok(u64::try_from(r.int(key)?).ok()) };
    let (runs, failed, first_seed) = (r.num("runs")?, r.num("failed")?, r.num("first_seed")?);
    let profile = r.get("profile")?.to_string();
    let budget = r.num("budget")?;
    let err = |what: String| ParseError { line: r.line, what };
    if (before.len() as u64) < runs {
        return Err(err(format!(
            "runs={runs} but only {} scenario-summary lines before it",
            before.len()
        )));
    }
    let seeds = before[before.len() - runs as usize..].to_vec();
    for (i, s) in seeds.iter().enumerate() {
        if s.seed != first_seed + i as u64 || s.profile != profile || s.budget != budget {
            return Err(err(format!(
                "the summary of seed {} ({}, budget {}) is not run {} of this sequence (profile {profile}, seeds from {first_seed}, budget {budget})",
                s.seed, s.profile, s.budget, i + 1
            )));
        }
    }
    let failing = seeds.iter().filter(|s| s.failed_step.is_some()).count() as u64;
    if failing != failed {
        return Err(err(format!("failed={failed} but {failing} of the runs before it failed")));
    }
    let q = [opt("q1")?, opt("median")?, opt("q3")?];
    Ok(Distribution {
        profile,
        first_seed,
        budget,
        runs,
        failed,
        quartiles: match q {
            [Some(a), Some(b), Some(c)] => Some([a, b, c]),
            _ => None,
        },
        range: opt("min")?.zip(opt("max")?),
        seeds,
    })
}

fn add_block(t: &mut Transcript, recs: &[Record]) -> Result<(), ParseError> {
    let head = &recs[0];
    match head.get("what")? {
        "kernel" => t.kernels.push(kernel_dump(recs)?),
        "process" => t.processes.push(process_dump(recs)?),
        w => {
            return Err(ParseError {
                line: head.line,
                what: format!("what={w}: expected kernel or process"),
            })
        }
    }
    Ok(())
}

fn kernel_dump(recs: &[Record]) -> Result<KernelDump, ParseError> {
    let h = &recs[0];
    let mut d = KernelDump {
        split: h.get("split")?.to_string(),
        page_offset: h.num("page_offset")?,
        profile: h.get("profile")?.to_string(),
        page_size: h.num("page_size")?,
        pageblock_order: h.num("pageblock_order")? as u32,
        ram: Vec::new(),
        zones: Vec::new(),
        regions: Vec::new(),
        maps: Vec::new(),
        carveouts: Vec::new(),
        vareas: Vec::new(),
        vmalloc: None,
        pageblocks: Vec::new(),
    };
    for r in &recs[1..] {
        match r.kind.as_str() {
            "ram" => d.ram.push((r.num("start")?, r.num("end")?)),
            "zone" => d.zones.push(Zone {
                name: r.get("name")?.into(),
                start_pfn: r.num("start_pfn")?,
                end_pfn: r.num("end_pfn")?,
                present: r.num("present")?,
                managed: r.num("managed")?,
                free: r.num("free")?,
            }),
            "region" => d.regions.push(Region {
                name: r.get("name")?.into(),
                kind: r.get("kind")?.into(),
                start: r.num("start")?,
                end: r.num("end")?,
                phys: match r.fields.contains_key("phys") {
                    true => Some((r.num("phys")?, r.num("phys_end")?)),
                    false => None,
                },
            }),
            "map" => d.maps.push(MapRun {
                region: r.get("region")?.into(),
                va: r.num("va")?,
                pages: r.num("pages")?,
                phys: r.num("phys")?,
                zone: r.get("zone")?.into(),
            }),
            "carveout" => d.carveouts.push(Carveout {
                name: r.get("name")?.into(),
                phys: r.num("phys")?,
                phys_end: r.num("phys_end")?,
                va: r.fields.get("va").and_then(|v| parse_num(v)),
            }),
            "varea" => {
                let mut pages = Vec::new();
                let p = r.get("pages")?;
                if p != "-" {
                    for part in p.split(',') {
                        let (z, n) = part
                            .split_once(':')
                            .and_then(|(z, n)| Some((z, parse_num(n)?)))
                            .ok_or_else(|| ParseError {
                                line: r.line,
                                what: format!("pages={p}: expected ZONE:N,..."),
                            })?;
                        pages.push((z.to_string(), n));
                    }
                }
                d.vareas.push(Varea {
                    start: r.num("start")?,
                    end: r.num("end")?,
                    kind: r.get("kind")?.into(),
                    pages,
                    caller: r.get("caller")?.into(),
                });
            }
            "vmalloc" => {
                d.vmalloc = Some(VmallocTotals {
                    start: r.num("start")?,
                    end: r.num("end")?,
                    free_kb: r.num("free_kb")?,
                    largest_gap_kb: r.num("largest_gap_kb")?,
                    areas: r.num("areas")?,
                })
            }
            "pageblock" => d.pageblocks.push(Pageblock {
                pfn: r.num("pfn")?,
                pages: r.num("pages")?,
                zone: r.get("zone")?.into(),
                mt: r.get("mt")?.into(),
                free: r.num("free")?,
                pcp: r.num("pcp")?,
                reserved: r.num("reserved")?,
                used: r.num("used")?,
                orders: r
                    .get("orders")?
                    .split(',')
                    .map(|n| {
                        parse_num(n).ok_or_else(|| ParseError {
                            line: r.line,
                            what: format!("orders: '{n}'"),
                        })
                    })
                    .collect::<Result<_, _>>()?,
            }),
            // Records a later version may add are skipped by older readers of the same version.
            _ => {}
        }
    }
    Ok(d)
}

fn process_dump(recs: &[Record]) -> Result<ProcessDump, ParseError> {
    let h = &recs[0];
    let mut d = ProcessDump {
        pid: h.num("pid")? as u32,
        comm: h.get("comm")?.into(),
        page_size: h.num("page_size")?,
        vmas: Vec::new(),
    };
    for r in &recs[1..] {
        match r.kind.as_str() {
            "vma" => d.vmas.push(Vma {
                start: r.num("start")?,
                end: r.num("end")?,
                perms: r.get("perms")?.into(),
                name: r.get("name")?.into(),
                ptes: Vec::new(),
                swapped: Vec::new(),
            }),
            "pte" | "swp" => {
                let Some(v) = d.vmas.last_mut() else {
                    return Err(ParseError {
                        line: r.line,
                        what: format!("{} before any vma", r.kind),
                    });
                };
                if r.kind == "pte" {
                    v.ptes.push(PteRun {
                        va: r.num("va")?,
                        n: r.num("n")?,
                        pfn: r.num("pfn")?,
                        zone: r.get("zone")?.into(),
                    });
                } else {
                    v.swapped.push((r.num("va")?, r.num("n")?));
                }
            }
            _ => {}
        }
    }
    Ok(d)
}
