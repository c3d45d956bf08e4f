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
    pub fn parse(value: &str) -> Result<CmaParam, BadCmaParam> {
        let (size, rest) = memparse(value).ok_or(BadCmaParam)?;
        let Some(rest) = rest.strip_prefix('@') else {
            return if rest.is_empty() {
                Ok(CmaParam { size, base: 0, limit: 0 })
            } else {
                Err(BadCmaParam)
            };
        };
        let (base, rest) = memparse(rest).ok_or(BadCmaParam)?;
        let limit = match rest.strip_prefix('-') {
            None if rest.is_empty() => base.checked_add(size).ok_or(BadCmaParam)?,
            Some(limit) => match memparse(limit).ok_or(BadCmaParam)? {
                (limit, "") => limit,
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
}

impl fmt::Display for CmaReserved<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.size >> 20;
        match self.source {
            CmaSource::DeviceTree(_) => write!(
                f,
                "Reserved memory: created CMA memory pool at {:#x}, size {mib} MiB\n\
                 OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool",
                self.base
            ),
            _ => write!(f, "cma: Reserved {mib} MiB at {:#x}", self.base),
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
