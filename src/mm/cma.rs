//! The Contiguous Memory Allocator (Linux's mm/cma.c and kernel/dma/contiguous.c): which
//! area the kernel reserves (`cma=`, a device tree's `linux,cma-default` node, the
//! configuration's default), where memblock puts it (`cma_declare_contiguous_nid`), and
//! `cma_alloc`/`cma_release` over the area's bitmap. The pages go to the buddy allocator as
//! MIGRATE_CMA pageblocks (`Node::init_cma_reserved_pageblock`), where movable allocations
//! may borrow them until `cma_alloc` takes them (`Node::alloc_contig_range`).
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::memblock::Memblock;
use super::page_alloc::{ContigError, PAGEBLOCK_ORDER};
use super::{Pfn, PAGE_SHIFT, PAGE_SIZE};
use crate::boot::cmdline::memparse;

/// `cma=SIZE[@BASE[-LIMIT]]` as `early_cma()` reads it (`memparse` suffixes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaParam {
    pub size: u64,
    pub base: u64,
    /// 0: none given.
    pub limit: u64,
}

/// A `cma=` value that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCmaParam;

impl fmt::Display for BadCmaParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected SIZE[@BASE[-LIMIT]]")
    }
}

impl CmaParam {
    /// `early_cma()`: `SIZE`, `SIZE@BASE` (the area ends at `BASE + SIZE`, so it is placed
    /// exactly there) or `SIZE@BASE-LIMIT`. Unlike Linux, which reads garbage as 0, a value
    /// that does not parse is refused.
    pub fn parse(value: &[u8]) -> Result<CmaParam, BadCmaParam> {
        let (size, rest) = memparse(value).ok_or(BadCmaParam)?;
        let Some(rest) = rest.strip_prefix(b"@") else {
            return if rest.is_empty() {
                Ok(CmaParam { size, base: 0, limit: 0 })
            } else {
                Err(BadCmaParam)
            };
        };
        let (base, rest) = memparse(rest).ok_or(BadCmaParam)?;
        let limit = match rest.strip_prefix(b"-") {
            None if rest.is_empty() => base.checked_add(size).ok_or(BadCmaParam)?,
            Some(limit) => match memparse(limit).ok_or(BadCmaParam)? {
                (limit, []) => limit,
                _ => return Err(BadCmaParam),
            },
            None => return Err(BadCmaParam),
        };
        Ok(CmaParam { size, base, limit })
    }
}

/// A device tree's `linux,cma` node with `linux,cma-default` (`compatible =
/// "shared-dma-pool"`, `reusable`): its size, and either a fixed `reg` base or the range
/// (`alloc-ranges`) memblock may place it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtCmaNode {
    pub size: u64,
    /// `reg = <base size>`: exactly here.
    pub base: Option<u64>,
    /// `alloc-ranges = <start size>`: anywhere inside (top down).
    pub alloc_range: Option<(u64, u64)>,
}

/// Who chose the area (Linux prints a different line for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaSource {
    /// `cma=` (wins over the device tree, as `rmem_cma_setup` steps aside for it).
    CommandLine,
    /// The device tree's `linux,cma-default` node (wins over the configuration).
    DeviceTree(DtCmaNode),
    /// `CONFIG_CMA_SIZE_MBYTES` (the profile's `cma_default`).
    Config,
}

/// What `dma_contiguous_reserve()` asks `cma_declare_contiguous()` for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaRequest {
    pub size: u64,
    pub base: u64,
    /// 0: no limit (the end of memory).
    pub limit: u64,
    pub fixed: bool,
    pub source: CmaSource,
}

/// `dma_contiguous_reserve(limit)` with the device tree's node: `cma=` first, then the
/// node, then the configuration's size; `None` when the chosen size is 0 (`cma=0` turns CMA
/// off) or there is none. `dma_limit` is `arm_dma_limit` (the end of ZONE_DMA, or all of
/// memory).
pub fn dma_contiguous_request(
    cmdline: Option<CmaParam>,
    dt: Option<DtCmaNode>,
    config_size: Option<u64>,
    dma_limit: u64,
) -> Option<CmaRequest> {
    let req = match (cmdline, dt) {
        (Some(p), _) => CmaRequest {
            size: p.size,
            base: p.base,
            limit: if p.limit == 0 { dma_limit } else { p.limit.min(dma_limit) },
            fixed: p.base != 0 && p.base.checked_add(p.size) == Some(p.limit),
            source: CmaSource::CommandLine,
        },
        (None, Some(node)) => {
            let (base, limit) = match (node.base, node.alloc_range) {
                (Some(base), _) => (base, base.saturating_add(node.size)),
                (None, Some((start, size))) => (start, start.saturating_add(size)),
                (None, None) => (0, 0),
            };
            CmaRequest {
                size: node.size,
                base,
                limit,
                fixed: node.base.is_some(),
                source: CmaSource::DeviceTree(node),
            }
        }
        (None, None) => CmaRequest {
            size: config_size?,
            base: 0,
            limit: dma_limit,
            fixed: false,
            source: CmaSource::Config,
        },
    };
    (req.size != 0).then_some(req)
}

/// Why no area was reserved (`cma_declare_contiguous_nid`'s errors, with its messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaReserveError {
    /// A fixed base that is not aligned to a pageblock (and MAX_ORDER block).
    Unaligned { base: u64, alignment: u64 },
    /// A fixed area across the lowmem/highmem boundary.
    AcrossHighmem { base: u64, highmem_start: u64 },
    /// The area does not fit below its limit.
    ExceedsLimit { size: u64, base: u64, limit: u64 },
    /// A fixed area overlapping reserved memory.
    Busy { base: u64 },
    /// No free memory of that size below the limit.
    NoMemory,
}

impl CmaReserveError {
    /// The request's size, for `Failed to reserve N MiB`.
    fn detail(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Unaligned { base, alignment } => {
                writeln!(f, "cma: Region at {base:#x} must be aligned to {alignment:#x} bytes")
            }
            Self::AcrossHighmem { base, highmem_start } => writeln!(
                f,
                "cma: Region at {base:#x} defined on low/high memory boundary ({highmem_start:#x})"
            ),
            Self::ExceedsLimit { size, base, limit } => writeln!(
                f,
                "cma: Size ({size:#x}) of region at {base:#x} exceeds limit ({limit:#x})"
            ),
            Self::Busy { .. } | Self::NoMemory => Ok(()),
        }
    }
}

/// The boot log's lines for a failed reservation (`Failed to reserve N MiB` last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaReserveFailure {
    pub error: CmaReserveError,
    pub size: u64,
}

impl fmt::Display for CmaReserveFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.detail(f)?;
        write!(f, "cma: Failed to reserve {} MiB", self.size >> 20)
    }
}

/// `cma_declare_contiguous_nid()` for the default area (`"reserved"`): aligned to a
/// pageblock (and the largest buddy block), in one zone: a fixed area where asked, else
/// top-down below the limit, in highmem first when the range spans the lowmem limit
/// (`highmem_start`), reserved in memblock. Returns the area's first PFN and page count.
pub fn cma_declare_contiguous(
    memblock: &mut Memblock,
    req: &CmaRequest,
    highmem_start: u64,
) -> Result<(Pfn, u64), CmaReserveFailure> {
    let fail = |error| CmaReserveFailure { error, size: req.size };
    let alignment = PAGE_SIZE << PAGEBLOCK_ORDER;
    let (mut base, mut limit, mut fixed) = (req.base, req.limit, req.fixed);
    if fixed && base & (alignment - 1) != 0 {
        return Err(fail(CmaReserveError::Unaligned { base, alignment }));
    }
    base = base.next_multiple_of(alignment);
    let size = req.size.next_multiple_of(alignment);
    limit &= !(alignment - 1);
    if base == 0 {
        fixed = false;
    }
    if fixed && base < highmem_start && base + size > highmem_start {
        return Err(fail(CmaReserveError::AcrossHighmem { base, highmem_start }));
    }
    let memblock_end = memblock.end_of_dram();
    if limit == 0 || limit > memblock_end {
        limit = memblock_end;
    }
    if base.saturating_add(size) > limit {
        return Err(fail(CmaReserveError::ExceedsLimit { size, base, limit }));
    }
    let addr = if fixed {
        if memblock.is_region_reserved(base, size) || memblock.reserve(base, size, "cma").is_err() {
            return Err(fail(CmaReserveError::Busy { base }));
        }
        base
    } else {
        let mut addr = None;
        if base < highmem_start && limit > highmem_start {
            addr = memblock.alloc_range(size, alignment, highmem_start, limit, "cma");
            limit = highmem_start;
        }
        match addr.or_else(|| memblock.alloc_range(size, alignment, base, limit, "cma")) {
            Some(a) => a,
            None => return Err(fail(CmaReserveError::NoMemory)),
        }
    };
    Ok((Pfn(addr >> PAGE_SHIFT), size >> PAGE_SHIFT))
}

/// The boot line Linux prints for a reserved area.
pub struct CmaReserved<'a> {
    pub source: &'a CmaSource,
    pub base: u64,
    pub size: u64,
    /// `%pa`'s width in hex digits (twice `sizeof(phys_addr_t)`: 16 on a 64-bit kernel), or
    /// `None` for the shortest form.
    pub pa_digits: Option<usize>,
}

impl fmt::Display for CmaReserved<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.size >> 20;
        let base = PhysAddrFmt { pa: self.base, digits: self.pa_digits };
        match self.source {
            CmaSource::DeviceTree(_) => write!(
                f,
                "Reserved memory: created CMA memory pool at {base}, size {mib} MiB\n\
                 OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool"
            ),
            _ => write!(f, "cma: Reserved {mib} MiB at {base}"),
        }
    }
}

/// A physical address as `%pa` prints it: `0x` and the digits, zero-padded to `digits`.
struct PhysAddrFmt {
    pa: u64,
    digits: Option<usize>,
}

impl fmt::Display for PhysAddrFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digits {
            Some(d) => write!(f, "{:#0w$x}", self.pa, w = d + 2),
            None => write!(f, "{:#x}", self.pa),
        }
    }
}

/// Why `cma_alloc` returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaAllocError {
    /// No pages asked for, or more than the area has (Linux returns NULL silently).
    BadCount { count: u64, area: u64 },
    /// No free range in the bitmap (`-ENOMEM`), or the last one tried was busy (`-EBUSY`).
    Failed { count: u64, errno: i32 },
}

impl fmt::Display for CmaAllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadCount { count, area } => {
                write!(f, "cma_alloc: {count} pages: the area has {area} (1-{area})")
            }
            // pr_err_ratelimited("%s: %s: alloc failed, req-size: %lu pages, ret: %d\n")
            Self::Failed { count, errno } => write!(
                f,
                "cma: cma_alloc: {CMA_AREA_NAME}: alloc failed, req-size: {count} pages, ret: {errno}"
            ),
        }
    }
}

/// Why `cma_release` freed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaReleaseError {
    /// Not pages of the area (`cma_pages_valid`).
    NotInArea { pfn: Pfn, count: u64 },
    /// Not taken with `cma_alloc` (their bits are clear).
    NotAllocated { pfn: Pfn },
}

impl fmt::Display for CmaReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotInArea { pfn, count } => {
                write!(f, "cma_release: pfns {:#x}+{count} are not in the CMA area", pfn.0)
            }
            Self::NotAllocated { pfn } => {
                write!(f, "cma_release: pfn {:#x} was not taken with cma_alloc", pfn.0)
            }
        }
    }
}

/// The default area's name (`dma_contiguous_reserve_area` passes `"reserved"`).
pub const CMA_AREA_NAME: &str = "reserved";
/// Bits per bitmap word.
const WORD_BITS: u64 = u64::BITS as u64;

/// `struct cma` with `order_per_bit` 0: one bit per page of the area, set while
/// `cma_alloc` has the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmaArea {
    pub base_pfn: Pfn,
    pub count: u64,
    bitmap: Vec<u64>,
}

impl CmaArea {
    /// `cma_activate_area()`'s bitmap (`bitmap_zalloc`): the kernel heap must exist.
    pub fn new(base_pfn: Pfn, count: u64) -> CmaArea {
        CmaArea { base_pfn, count, bitmap: vec![0; count.div_ceil(WORD_BITS) as usize] }
    }

    fn test(&self, bit: u64) -> bool {
        self.bitmap[(bit / WORD_BITS) as usize] & (1 << (bit % WORD_BITS)) != 0
    }

    fn assign(&mut self, start: u64, nr: u64, set: bool) {
        for bit in start..start + nr {
            let (w, b) = ((bit / WORD_BITS) as usize, bit % WORD_BITS);
            if set {
                self.bitmap[w] |= 1 << b;
            } else {
                self.bitmap[w] &= !(1 << b);
            }
        }
    }

    /// Pages `cma_alloc` holds.
    pub fn used_pages(&self) -> u64 {
        self.bitmap.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// `bitmap_find_next_zero_area_off()`: the first clear run of `nr` bits at or after
    /// `start` whose index plus `offset` is a multiple of `mask + 1`; a value past the end
    /// when there is none.
    fn find_next_zero_area(&self, mut start: u64, nr: u64, mask: u64, offset: u64) -> u64 {
        loop {
            let Some(index) = (start..self.count).find(|&b| !self.test(b)) else {
                return self.count;
            };
            let index = ((index + offset + mask) & !mask) - offset;
            let end = index + nr;
            if end > self.count {
                return end;
            }
            match (index..end).find(|&b| self.test(b)) {
                Some(i) => start = i + 1,
                None => return index,
            }
        }
    }

    /// `cma_alloc(cma, count, align)`: the first free run of `count` pages aligned to
    /// `2^align` pages whose pages `alloc_contig` can take; a busy run is skipped for the
    /// next aligned one. Returns the first PFN.
    pub fn alloc(
        &mut self,
        count: u64,
        align: u32,
        mut alloc_contig: impl FnMut(Pfn, Pfn) -> Result<(), ContigError>,
    ) -> Result<Pfn, CmaAllocError> {
        if count == 0 || count > self.count {
            return Err(CmaAllocError::BadCount { count, area: self.count });
        }
        let mask = (1u64 << align) - 1;
        let offset = self.base_pfn.0 & mask;
        let mut start = 0;
        let mut errno = -12; // -ENOMEM
        loop {
            let bitmap_no = self.find_next_zero_area(start, count, mask, offset);
            if bitmap_no >= self.count {
                break;
            }
            self.assign(bitmap_no, count, true);
            let pfn = Pfn(self.base_pfn.0 + bitmap_no);
            match alloc_contig(pfn, Pfn(pfn.0 + count)) {
                Ok(()) => return Ok(pfn),
                Err(e) => {
                    self.assign(bitmap_no, count, false);
                    errno = e.errno();
                    if !matches!(e, ContigError::Busy { .. }) {
                        break;
                    }
                    // Try again a little further on.
                    start = bitmap_no + mask + 1;
                }
            }
        }
        Err(CmaAllocError::Failed { count, errno })
    }

    /// `cma_release(cma, pages, count)`: pages of the area that `cma_alloc` handed out go
    /// back (`free_contig`), and their bits are cleared. Nothing changes on an error.
    pub fn release<E>(
        &mut self,
        pfn: Pfn,
        count: u64,
        free_contig: impl FnOnce(Pfn, u64) -> Result<(), E>,
    ) -> Result<Result<(), E>, CmaReleaseError> {
        let end = pfn.0.checked_add(count);
        if count == 0
            || pfn.0 < self.base_pfn.0
            || end.is_none_or(|e| e > self.base_pfn.0 + self.count)
        {
            return Err(CmaReleaseError::NotInArea { pfn, count });
        }
        let first = pfn.0 - self.base_pfn.0;
        if let Some(b) = (first..first + count).find(|&b| !self.test(b)) {
            return Err(CmaReleaseError::NotAllocated { pfn: Pfn(self.base_pfn.0 + b) });
        }
        let freed = free_contig(pfn, count);
        if freed.is_ok() {
            self.assign(first, count, false);
        }
        Ok(freed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;
    use std::vec::Vec;

    const MIB: u64 = 1 << 20;

    #[test]
    fn cma_parameter_as_early_cma_reads_it() {
        assert_eq!(CmaParam::parse(b"64M"), Ok(CmaParam { size: 64 * MIB, base: 0, limit: 0 }));
        // SIZE@BASE: the limit is BASE + SIZE, which makes the area fixed.
        let p = CmaParam::parse(b"16M@0x20000000").unwrap();
        assert_eq!(p, CmaParam { size: 16 * MIB, base: 0x2000_0000, limit: 0x2100_0000 });
        let p = CmaParam::parse(b"16M@256M-512M").unwrap();
        assert_eq!((p.base, p.limit), (256 * MIB, 512 * MIB));
        for bad in ["", "x", "16M@", "16M@1G-", "16Mx", "16M@1G-2Gz", "16M-1G"] {
            assert_eq!(CmaParam::parse(bad.as_bytes()), Err(BadCmaParam), "{bad:?}");
        }
    }

    #[test]
    fn the_command_line_then_the_device_tree_then_the_configuration() {
        let cmd = CmaParam { size: 16 * MIB, base: 0x2000_0000, limit: 0x2100_0000 };
        let dt = DtCmaNode { size: 32 * MIB, base: None, alloc_range: Some((0, 0x3000_0000)) };
        let r = dma_contiguous_request(Some(cmd), Some(dt), Some(64 * MIB), u64::MAX).unwrap();
        assert_eq!(
            (r.size, r.base, r.fixed, r.source),
            (16 * MIB, 0x2000_0000, true, CmaSource::CommandLine)
        );
        let r = dma_contiguous_request(None, Some(dt), Some(64 * MIB), u64::MAX).unwrap();
        assert_eq!((r.size, r.limit, r.fixed), (32 * MIB, 0x3000_0000, false));
        let r = dma_contiguous_request(None, None, Some(64 * MIB), 0x100_0000).unwrap();
        assert_eq!((r.size, r.limit, r.source), (64 * MIB, 0x100_0000, CmaSource::Config));
        // cma=0 turns it off; a profile without a default has none.
        let zero = CmaParam { size: 0, base: 0, limit: 0 };
        assert_eq!(dma_contiguous_request(Some(zero), None, Some(64 * MIB), u64::MAX), None);
        assert_eq!(dma_contiguous_request(None, None, None, u64::MAX), None);
    }

    fn raspi2b() -> Memblock {
        let mut mb = Memblock::new();
        mb.add(0, 960 * MIB).unwrap();
        mb.reserve(0x8000, 4 * MIB, "kernel").unwrap();
        mb
    }

    fn config(size: u64) -> CmaRequest {
        dma_contiguous_request(None, None, Some(size), u64::MAX).unwrap()
    }

    /// Where a top-down allocation of `size` aligned to `align` lands below `end`.
    fn top_down(end: u64, size: u64, align: u64) -> u64 {
        (end - size) & !(align - 1)
    }

    #[test]
    fn placed_top_down_highmem_first_aligned() {
        let align = PAGE_SIZE << PAGEBLOCK_ORDER;
        let size = (64 * MIB).next_multiple_of(align);
        // 3G split: lowmem ends at 768 MiB, the area goes to the top of highmem
        // (0x38000000 with 4 MiB pageblocks).
        let mut mb = raspi2b();
        let (pfn, pages) = cma_declare_contiguous(&mut mb, &config(64 * MIB), 768 * MIB).unwrap();
        let base = top_down(960 * MIB, size, align);
        assert!(base >= 768 * MIB);
        assert_eq!((pfn.0 << PAGE_SHIFT, pages << PAGE_SHIFT), (base, size));
        assert!(mb.is_region_reserved(base, size));
        // 2G split: all lowmem, the same place.
        let mut mb = raspi2b();
        let (pfn, _) = cma_declare_contiguous(&mut mb, &config(64 * MIB), 960 * MIB).unwrap();
        assert_eq!(pfn.0 << PAGE_SHIFT, base);
        // A size that is no whole pageblock is rounded up to one.
        let mut mb = raspi2b();
        let (_, pages) = cma_declare_contiguous(&mut mb, &config(MIB + 1), 960 * MIB).unwrap();
        assert_eq!(pages << PAGE_SHIFT, (MIB + 1).next_multiple_of(align));
        // An area bigger than highmem: it cannot span both zones, so it goes to lowmem.
        let mut mb = raspi2b();
        let (pfn, _) = cma_declare_contiguous(&mut mb, &config(256 * MIB), 768 * MIB).unwrap();
        assert!(((pfn.0 << PAGE_SHIFT) + (256 * MIB).next_multiple_of(align)) <= 768 * MIB);
    }

    #[test]
    fn reservation_errors_print_linux_lines() {
        let align = PAGE_SIZE << PAGEBLOCK_ORDER;
        let mut mb = raspi2b();
        let unaligned = CmaRequest { base: 0x2000_1000, limit: 0x2100_1000, ..config(16 * MIB) };
        let unaligned = CmaRequest { fixed: true, ..unaligned };
        let e = cma_declare_contiguous(&mut mb, &unaligned, 960 * MIB).err().unwrap();
        let text = e.to_string();
        assert!(text.starts_with("cma: Region at 0x20001000 must be aligned to "), "{text}");
        assert!(text.ends_with("\ncma: Failed to reserve 16 MiB"), "{text}");
        let e = cma_declare_contiguous(&mut mb, &config(2048 * MIB), 960 * MIB).err().unwrap();
        assert!(e.to_string().starts_with("cma: Size (0x80000000) of region at 0x0 exceeds limit"));
        // A fixed area over reserved memory is busy; nothing new is reserved.
        mb.reserve(align, PAGE_SIZE, "firmware").unwrap();
        let fixed = CmaRequest { base: align, limit: 2 * align, fixed: true, ..config(align) };
        let before = mb.reserved_size();
        let e = cma_declare_contiguous(&mut mb, &fixed, 960 * MIB).err().unwrap();
        assert_eq!(e.error, CmaReserveError::Busy { base: align });
        assert_eq!(mb.reserved_size(), before);
    }

    #[test]
    fn bitmap_allocation_aligns_and_skips_busy_ranges() {
        let mut area = CmaArea::new(Pfn(0x38000), 64);
        let mut calls = Vec::new();
        // The first aligned range is busy: the next one, past the alignment, is tried.
        let pfn = area
            .alloc(4, 3, |s, e| {
                calls.push((s.0, e.0));
                if s.0 == 0x38000 {
                    Err(ContigError::Busy { pfn: s })
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert_eq!(pfn, Pfn(0x38008));
        assert_eq!(calls, [(0x38000, 0x38004), (0x38008, 0x3800c)]);
        assert_eq!(area.used_pages(), 4);
        // Too many, none, or nothing free.
        assert_eq!(
            area.alloc(65, 0, |_, _| Ok(())),
            Err(CmaAllocError::BadCount { count: 65, area: 64 })
        );
        assert_eq!(
            area.alloc(0, 0, |_, _| Ok(())),
            Err(CmaAllocError::BadCount { count: 0, area: 64 })
        );
        let busy = |s: Pfn, _| Err(ContigError::Busy { pfn: s });
        assert_eq!(area.alloc(64, 0, busy), Err(CmaAllocError::Failed { count: 64, errno: -12 }));
        assert_eq!(area.alloc(8, 0, busy), Err(CmaAllocError::Failed { count: 8, errno: -16 }));
        assert_eq!(
            CmaAllocError::Failed { count: 8, errno: -16 }.to_string(),
            "cma: cma_alloc: reserved: alloc failed, req-size: 8 pages, ret: -16"
        );
        assert_eq!(area.used_pages(), 4, "failed attempts leave nothing set");
        // Release: only the area's pages that cma_alloc handed out.
        let ok = |_: Pfn, _: u64| -> Result<(), ()> { Ok(()) };
        assert_eq!(
            area.release(Pfn(0x37fff), 2, ok),
            Err(CmaReleaseError::NotInArea { pfn: Pfn(0x37fff), count: 2 })
        );
        assert_eq!(
            area.release(Pfn(0x38007), 2, ok),
            Err(CmaReleaseError::NotAllocated { pfn: Pfn(0x38007) })
        );
        assert_eq!(area.release(Pfn(0x38008), 4, |_, _| Err(())), Ok(Err(())));
        assert_eq!(area.used_pages(), 4, "a refused free keeps the bits");
        assert_eq!(area.release(Pfn(0x38008), 4, ok), Ok(Ok(())));
        assert_eq!(area.used_pages(), 0);
    }
}
