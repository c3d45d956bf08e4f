//! `memdump`: the machine-readable picture of memory the host's drawing tool (`tools/picture`)
//! reads from a console transcript. Line-oriented, one record per line, `key=value` fields
//! after a record word, framed by `memdump version=N what=...` and `memdump end lines=N`.
//! Pure renderers over plain data and the page allocator, so the format is tested on the host;
//! the console command (`console::commands::memdump`) gathers the live state.
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::pagetypeinfo::MIGRATETYPE_NAMES;
use crate::config::MAX_ORDER;
use crate::mm::mm_init::Zones;
use crate::mm::page::PageFlags;
use crate::mm::page_alloc::{Node, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER};
use crate::mm::{Pfn, PAGE_SHIFT};

/// The format's version: the first line of every dump says it; a reader refuses others.
pub const VERSION: u32 = 1;
/// Bytes of a page (the dump's page counts times this are bytes).
pub const PAGE_BYTES: u64 = 1 << PAGE_SHIFT;
/// Zone name for physical memory no zone spans (device memory, holes).
pub const NO_ZONE: &str = "none";

/// One zone's span of page frames, from the layout (what `Zone ranges:` prints at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSpan {
    pub name: &'static str,
    pub start_pfn: u64,
    pub end_pfn: u64,
}

/// The non-empty zones of `z`, low to high.
pub fn zone_spans(z: &Zones) -> Vec<ZoneSpan> {
    let mut v = Vec::new();
    let mut push = |name, r: Option<crate::mm::mm_init::PfnRange>| {
        if let Some(r) = r.filter(|r| r.end.0 > r.start.0) {
            v.push(ZoneSpan { name, start_pfn: r.start.0, end_pfn: r.end.0 });
        }
    };
    push("DMA", z.dma);
    push("DMA32", z.dma32);
    push("Normal", Some(z.normal));
    push("HighMem", z.highmem);
    v
}

/// The zone spanning `pfn`, or [`NO_ZONE`].
pub fn zone_of(spans: &[ZoneSpan], pfn: u64) -> &'static str {
    spans.iter().find(|s| (s.start_pfn..s.end_pfn).contains(&pfn)).map_or(NO_ZONE, |s| s.name)
}

/// The zones a physical range `[start, end)` overlaps, joined with `,` (`none` for none).
fn zones_of_range(spans: &[ZoneSpan], start: u64, end: u64) -> String {
    let (first, last) = (start >> PAGE_SHIFT, end.div_ceil(PAGE_BYTES));
    let names: Vec<&str> =
        spans.iter().filter(|s| s.start_pfn < last && first < s.end_pfn).map(|s| s.name).collect();
    if names.is_empty() {
        String::from(NO_ZONE)
    } else {
        names.join(",")
    }
}

/// What a region of the kernel's (or the user's) virtual address space is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// The process half, below `TASK_SIZE`.
    User,
    Modules,
    Pkmap,
    /// The linear map of lowmem.
    Lowmem,
    /// A section of the kernel image (inside lowmem).
    Section,
    Vmalloc,
    /// Kernel VA the profile leaves unused.
    Hole,
    Fixmap,
    Vectors,
    /// arm64's PCI I/O window.
    PciIo,
    /// arm64's `vmemmap` (the `struct page` array's virtual range).
    Vmemmap,
}

impl RegionKind {
    pub const fn name(self) -> &'static str {
        match self {
            RegionKind::User => "user",
            RegionKind::Modules => "modules",
            RegionKind::Pkmap => "pkmap",
            RegionKind::Lowmem => "lowmem",
            RegionKind::Section => "section",
            RegionKind::Vmalloc => "vmalloc",
            RegionKind::Hole => "hole",
            RegionKind::Fixmap => "fixmap",
            RegionKind::Vectors => "vectors",
            RegionKind::PciIo => "pci_io",
            RegionKind::Vmemmap => "vmemmap",
        }
    }

    /// Regions mapped page by page at run time: the dump walks them and prints their `map`
    /// runs (vmalloc has its own `varea` records).
    pub const fn walked(self) -> bool {
        matches!(
            self,
            RegionKind::Modules | RegionKind::Pkmap | RegionKind::Fixmap | RegionKind::Vectors
        )
    }
}

/// One virtual region: `[start, end)` and, for the linear map, the physical address `start`
/// maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub kind: RegionKind,
    pub start: u64,
    pub end: u64,
    pub phys: Option<u64>,
}

/// A run of mapped pages: `(first virtual address, pages, first physical address)`.
pub type MapRun = (u64, u64, u64);

/// Runs of pages of `[start, end)` that map physically contiguous memory, from `translate`
/// (the MMU's answer for one page): `(va, pages, phys)`.
pub fn map_runs(start: u64, end: u64, translate: &dyn Fn(u64) -> Option<u64>) -> Vec<MapRun> {
    let mut runs: Vec<MapRun> = Vec::new();
    let mut va = start & !(PAGE_BYTES - 1);
    while va < end {
        if let Some(pa) = translate(va).map(|p| p & !(PAGE_BYTES - 1)) {
            match runs.last_mut() {
                Some((rva, n, rpa))
                    if *rva + *n * PAGE_BYTES == va && *rpa + *n * PAGE_BYTES == pa =>
                {
                    *n += 1
                }
                _ => runs.push((va, 1, pa)),
            }
        }
        va += PAGE_BYTES;
    }
    runs
}

/// One zone's figures for the `zone` record (pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneFigures {
    pub name: &'static str,
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub present: u64,
    pub managed: u64,
    pub free: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
}

/// The populated zones of `node`, appended to `out` while it has room: the kernel calls this
/// under the page allocator's lock, where growing a vector (an allocation, which takes that
/// lock) would deadlock, so the caller reserves the room first.
pub fn zone_figures_into(node: &Node<'_>, out: &mut Vec<ZoneFigures>) {
    for z in node.populated_zones() {
        if out.len() == out.capacity() {
            return;
        }
        out.push(ZoneFigures {
            name: z.name(),
            start_pfn: z.zone_start_pfn().0,
            end_pfn: z.zone_end_pfn().0,
            present: z.present_pages(),
            managed: z.managed_pages(),
            free: z.nr_free_pages(),
            min: z.min_wmark_pages(),
            low: z.low_wmark_pages(),
            high: z.high_wmark_pages(),
        });
    }
}

/// [`zone_figures_into`] with the room reserved (not under the allocator's lock).
pub fn zone_figures(node: &Node<'_>) -> Vec<ZoneFigures> {
    let mut v = Vec::with_capacity(crate::mm::zone::MAX_NR_ZONES);
    zone_figures_into(node, &mut v);
    v
}

/// Pageblocks the zones spanning `spans` can have (room to reserve for [`pageblocks_into`]).
pub fn max_pageblocks(spans: &[ZoneSpan]) -> usize {
    spans
        .iter()
        .map(|s| {
            ((s.end_pfn.div_ceil(PAGEBLOCK_NR_PAGES)) - s.start_pfn / PAGEBLOCK_NR_PAGES) as usize
        })
        .sum()
}

/// One pageblock as the allocator holds it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pageblock {
    pub pfn: u64,
    /// Page frames of the block that exist (a zone's last block may be partial).
    pub pages: u64,
    pub zone: &'static str,
    /// `get_pageblock_migratetype()`, an index into [`MIGRATETYPE_NAMES`].
    pub mt: usize,
    /// Pages in free buddy blocks.
    pub free: u64,
    /// Free buddy blocks by order.
    pub orders: [u64; MAX_ORDER],
    /// Free pages on the per-CPU lists.
    pub pcp: u64,
    /// Reserved pages (the kernel image, mem_map, carve-outs, holes).
    pub reserved: u64,
}

impl Pageblock {
    /// Pages allocated (neither free, cached on a per-CPU list nor reserved).
    pub const fn used(&self) -> u64 {
        self.pages - self.free - self.pcp - self.reserved
    }
}

/// Every pageblock of every populated zone, walked page by page through `mem_map`: a free
/// block's head (`PageBuddy`) counts its `1 << order` pages, in its own pageblock and, where
/// the block is larger than a pageblock (arm64: `pageblock_order` 9 below `MAX_ORDER - 1`),
/// in the pageblocks it covers after it; its `orders` entry is its head's block's.
pub fn pageblocks(node: &Node<'_>) -> Vec<Pageblock> {
    let blocks: u64 = node
        .populated_zones()
        .map(|z| {
            z.zone_end_pfn().0.div_ceil(PAGEBLOCK_NR_PAGES)
                - z.zone_start_pfn().0 / PAGEBLOCK_NR_PAGES
        })
        .sum();
    let mut v = Vec::with_capacity(blocks as usize);
    pageblocks_into(node, &mut v);
    v
}

/// [`pageblocks`] appended to `out` while it has room (see [`zone_figures_into`]); returns
/// whether every block fitted.
pub fn pageblocks_into(node: &Node<'_>, v: &mut Vec<Pageblock>) -> bool {
    pageblocks_of(node, v, PAGEBLOCK_NR_PAGES)
}

/// [`pageblocks_into`] with pageblocks of `block_pages` pages (a power of two).
fn pageblocks_of(node: &Node<'_>, v: &mut Vec<Pageblock>, block_pages: u64) -> bool {
    for z in node.populated_zones() {
        let (zstart, zend) = (z.zone_start_pfn().0, z.zone_end_pfn().0);
        let mut block = zstart & !(block_pages - 1);
        // Free pages of a buddy block that began in an earlier pageblock.
        let mut carried = 0;
        while block < zend {
            let (first, end) = (block.max(zstart), (block + block_pages).min(zend));
            let mut b = Pageblock {
                pfn: block,
                pages: 0,
                zone: z.name(),
                mt: node.get_pageblock_migratetype(Pfn(block)).min(MIGRATETYPE_NAMES.len() - 1),
                free: 0,
                orders: [0; MAX_ORDER],
                pcp: 0,
                reserved: 0,
            };
            let mut pfn = first;
            if carried > 0 {
                let n = carried.min(end - pfn);
                b.free += n;
                b.pages += n;
                pfn += n;
                carried -= n;
            }
            while pfn < end {
                let Some(page) = node.page(Pfn(pfn)) else {
                    pfn += 1;
                    continue;
                };
                if page.is_buddy() {
                    let order = page.order() as usize;
                    let n = (1u64 << order).min(end - pfn);
                    b.orders[order.min(MAX_ORDER - 1)] += 1;
                    b.free += n;
                    b.pages += n;
                    carried = (1u64 << order) - n;
                    pfn += n;
                    continue;
                }
                b.pages += 1;
                if page.flags().contains(PageFlags::PG_pcp) {
                    b.pcp += 1;
                } else if page.is_reserved() {
                    b.reserved += 1;
                }
                pfn += 1;
            }
            if v.len() == v.capacity() {
                return false;
            }
            v.push(b);
            block += block_pages;
        }
    }
    true
}

/// What a vmalloc-range record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VareaKind {
    Vmalloc,
    Ioremap,
    Vmap,
    VmMapRam,
    /// Freed lazily, not yet purged (its PTEs are gone, its VA still taken).
    Unpurged,
}

impl VareaKind {
    pub const fn name(self) -> &'static str {
        match self {
            VareaKind::Vmalloc => "vmalloc",
            VareaKind::Ioremap => "ioremap",
            VareaKind::Vmap => "vmap",
            VareaKind::VmMapRam => "vm_map_ram",
            VareaKind::Unpurged => "unpurged",
        }
    }
}

/// One area of the vmalloc range with where its pages live: mapped pages per zone, from the
/// MMU's translation of each page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Varea {
    pub start: u64,
    pub end: u64,
    pub kind: VareaKind,
    /// `(zone name, mapped pages)`, in zone order; device memory under [`NO_ZONE`].
    pub by_zone: Vec<(&'static str, u64)>,
    /// The first mapped page's physical address (an ioremap's device address).
    pub phys: Option<u64>,
    /// Who made it (`%pS`), spaces made `_` so it stays one field.
    pub caller: String,
}

/// Counts the mapped pages of `[start, end)` per zone.
pub fn pages_by_zone(
    spans: &[ZoneSpan],
    start: u64,
    end: u64,
    translate: &dyn Fn(u64) -> Option<u64>,
) -> (Vec<(&'static str, u64)>, Option<u64>) {
    let mut by: Vec<(&'static str, u64)> = Vec::new();
    let mut first = None;
    for (_, n, pa) in map_runs(start, end, translate) {
        first.get_or_insert(pa);
        for i in 0..n {
            let zone = zone_of(spans, (pa >> PAGE_SHIFT) + i);
            match by.iter_mut().find(|(z, _)| *z == zone) {
                Some((_, c)) => *c += 1,
                None => by.push((zone, 1)),
            }
        }
    }
    let order = |z: &str| spans.iter().position(|s| s.name == z).unwrap_or(usize::MAX);
    by.sort_by_key(|(z, _)| order(z));
    (by, first)
}

/// The vmalloc range's totals (bytes): the range, what live areas take (guard pages
/// included), and the largest free gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmallocTotals {
    pub total: u64,
    pub used: u64,
    pub largest_gap: u64,
    pub areas: usize,
}

/// A carve-out of the profile: its physical range and, if lowmem, its linear address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carveout {
    pub name: &'static str,
    pub phys: u64,
    pub phys_end: u64,
    pub va: Option<u64>,
}

/// What the dump's header and layout records print of the architecture's layout (each
/// architecture's `arch::memdump::dump_layout` fills it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpLayout {
    /// The split's name (`3G`, `2G`, `1G`; arm64: `va48`, `va39`).
    pub split: String,
    pub page_offset: u64,
    pub profile: &'static str,
    /// RAM `[start, end)` ranges memblock kept.
    pub ram: Vec<(u64, u64)>,
    pub carveouts: Vec<Carveout>,
    /// `[VMALLOC_START, VMALLOC_END)`.
    pub vmalloc: (u64, u64),
}

/// Everything the kernel dump prints, gathered.
pub struct KernelDump<'a> {
    pub layout: &'a DumpLayout,
    pub regions: &'a [Region],
    /// The `map` runs of each walked region, by region index.
    pub maps: &'a [(usize, Vec<MapRun>)],
    pub zones: &'a [ZoneFigures],
    pub spans: &'a [ZoneSpan],
    pub vareas: &'a [Varea],
    pub vmalloc: VmallocTotals,
    pub pageblocks: &'a [Pageblock],
}

/// Counts lines as they are written, for the closing `memdump end lines=N`.
struct Lines<'a, W: fmt::Write> {
    w: &'a mut W,
    n: usize,
}

impl<W: fmt::Write> fmt::Write for Lines<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.n += s.bytes().filter(|&b| b == b'\n').count();
        self.w.write_str(s)
    }
}

/// Writes `order counts` as `a,b,c`.
fn write_list(w: &mut impl fmt::Write, xs: &[u64]) -> fmt::Result {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        write!(w, "{x}")?;
    }
    Ok(())
}

/// The kernel dump: header, RAM, zones, regions with their map runs, carve-outs, the vmalloc
/// range's areas and totals, every pageblock, end.
pub fn render_kernel(w: &mut impl fmt::Write, d: &KernelDump<'_>) -> fmt::Result {
    let mut w = Lines { w, n: 0 };
    let l = d.layout;
    writeln!(
        w,
        "memdump version={VERSION} what=kernel split={} page_offset={:#010x} profile={} page_size={PAGE_BYTES} max_order={MAX_ORDER} pageblock_order={PAGEBLOCK_ORDER}",
        l.split,
        l.page_offset,
        l.profile,
    )?;
    for &(start, end) in &l.ram {
        writeln!(w, "ram start={start:#010x} end={end:#010x}")?;
    }
    for z in d.zones {
        writeln!(
            w,
            "zone name={} start_pfn={:#x} end_pfn={:#x} present={} managed={} free={} min={} low={} high={}",
            z.name, z.start_pfn, z.end_pfn, z.present, z.managed, z.free, z.min, z.low, z.high
        )?;
    }
    for (i, r) in d.regions.iter().enumerate() {
        write!(
            w,
            "region name={} kind={} start={:#010x} end={:#010x}",
            r.name,
            r.kind.name(),
            r.start,
            r.end
        )?;
        if let Some(p) = r.phys {
            let pend = p + (r.end - r.start);
            write!(
                w,
                " phys={p:#010x} phys_end={pend:#010x} zones={}",
                zones_of_range(d.spans, p, pend)
            )?;
        }
        w.write_char('\n')?;
        for (_, runs) in d.maps.iter().filter(|(ri, _)| *ri == i) {
            for &(va, n, pa) in runs {
                writeln!(
                    w,
                    "map region={} va={va:#010x} pages={n} phys={pa:#010x} zone={}",
                    r.name,
                    zone_of(d.spans, pa >> PAGE_SHIFT)
                )?;
            }
        }
    }
    for c in &l.carveouts {
        write!(w, "carveout name={} phys={:#010x} phys_end={:#010x}", c.name, c.phys, c.phys_end)?;
        if let Some(va) = c.va {
            write!(w, " va={va:#010x}")?;
        }
        writeln!(w, " zones={}", zones_of_range(d.spans, c.phys, c.phys_end))?;
    }
    for a in d.vareas {
        write!(
            w,
            "varea start={:#010x} end={:#010x} size={} kind={} pages=",
            a.start,
            a.end,
            a.end - a.start,
            a.kind.name()
        )?;
        if a.by_zone.is_empty() {
            w.write_char('-')?;
        }
        for (i, (z, n)) in a.by_zone.iter().enumerate() {
            write!(w, "{}{z}:{n}", if i > 0 { "," } else { "" })?;
        }
        if let Some(p) = a.phys {
            write!(w, " phys={p:#010x}")?;
        }
        writeln!(w, " caller={}", if a.caller.is_empty() { "-" } else { &a.caller })?;
    }
    let v = d.vmalloc;
    writeln!(
        w,
        "vmalloc start={:#010x} end={:#010x} total_kb={} used_kb={} free_kb={} largest_gap_kb={} areas={}",
        l.vmalloc.0,
        l.vmalloc.1,
        v.total >> 10,
        v.used >> 10,
        v.total.saturating_sub(v.used) >> 10,
        v.largest_gap >> 10,
        v.areas
    )?;
    for b in d.pageblocks {
        write!(
            w,
            "pageblock pfn={:#07x} pages={} zone={} mt={} free={} pcp={} reserved={} used={} orders=",
            b.pfn,
            b.pages,
            b.zone,
            MIGRATETYPE_NAMES[b.mt],
            b.free,
            b.pcp,
            b.reserved,
            b.used()
        )?;
        write_list(&mut w, &b.orders)?;
        w.write_char('\n')?;
    }
    let n = w.n + 1;
    writeln!(w, "memdump end lines={n}")
}

/// One VMA of a process with its present pages: `(va, pfn)` in address order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcVma {
    pub start: u64,
    pub end: u64,
    /// `r`, `w`, `x`, `p`/`s` as maps prints them.
    pub perms: [u8; 4],
    /// maps's name (`[heap]`, a path), or empty.
    pub name: String,
    pub present: Vec<(u64, u64)>,
    /// Addresses of pages swapped out (a swap PTE), in order.
    pub swapped: Vec<u64>,
}

/// The process dump: header, then per VMA its record, its present pages as runs (`pte va= n=
/// pfn= zone=`: `n` pages at consecutive addresses in consecutive frames of one zone) and its
/// swapped-out pages as runs (`swp va= n=`), end.
pub fn render_process(
    w: &mut impl fmt::Write,
    pid: u32,
    comm: &str,
    spans: &[ZoneSpan],
    vmas: &[ProcVma],
) -> fmt::Result {
    let mut w = Lines { w, n: 0 };
    writeln!(
        w,
        "memdump version={VERSION} what=process pid={pid} comm={} page_size={PAGE_BYTES}",
        field(comm)
    )?;
    for v in vmas {
        let perms = core::str::from_utf8(&v.perms).unwrap_or("????");
        writeln!(
            w,
            "vma start={:#010x} end={:#010x} perms={perms} pages={} present={} swapped={} name={}",
            v.start,
            v.end,
            (v.end - v.start) >> PAGE_SHIFT,
            v.present.len(),
            v.swapped.len(),
            if v.name.is_empty() { String::from("-") } else { field(&v.name) }
        )?;
        let mut runs: Vec<(u64, u64, u64, &str)> = Vec::new();
        for &(va, pfn) in &v.present {
            let zone = zone_of(spans, pfn);
            match runs.last_mut() {
                Some((rva, n, rpfn, rz))
                    if *rva + *n * PAGE_BYTES == va && *rpfn + *n == pfn && *rz == zone =>
                {
                    *n += 1
                }
                _ => runs.push((va, 1, pfn, zone)),
            }
        }
        for (va, n, pfn, zone) in runs {
            writeln!(w, "pte va={va:#010x} n={n} pfn={pfn:#x} zone={zone}")?;
        }
        let mut swp: Vec<(u64, u64)> = Vec::new();
        for &va in &v.swapped {
            match swp.last_mut() {
                Some((rva, n)) if *rva + *n * PAGE_BYTES == va => *n += 1,
                _ => swp.push((va, 1)),
            }
        }
        for (va, n) in swp {
            writeln!(w, "swp va={va:#010x} n={n}")?;
        }
    }
    let n = w.n + 1;
    writeln!(w, "memdump end lines={n}")
}

/// A value made one field: spaces and `=` become `_`.
pub fn field(s: &str) -> String {
    s.chars().map(|c| if c.is_whitespace() || c == '=' { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests;
