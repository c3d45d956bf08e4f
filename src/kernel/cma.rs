//! The kernel's CMA area: reserved in memblock at boot (`dma_contiguous_reserve`), given to
//! the page allocator as MIGRATE_CMA pageblocks once the heap exists (`cma_init_reserved_areas`,
//! a core_initcall in Linux), then `cma_alloc`/`cma_release` on the live allocator.
use crate::kernel::spinlock::SpinLock;

use super::mem::with_node;
use crate::kprintln;
use crate::mm::cma::{
    cma_declare_contiguous, dma_contiguous_request, CmaAllocError, CmaArea, CmaParam,
    CmaReleaseError, CmaReserved, DtCmaNode, CMA_AREA_NAME,
};
use crate::mm::memblock::Memblock;
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::{ContigError, FreeError};
use crate::mm::{Pfn, PAGE_SHIFT};

/// The reservation, between `dma_contiguous_reserve` and activation: first PFN and pages.
static RESERVED: SpinLock<Option<(Pfn, u64)>> = SpinLock::new(None);
/// The active area (its bitmap lives on the heap). Lock order: `CMA` before `NODE`.
static CMA: SpinLock<Option<CmaArea>> = SpinLock::new(None);

/// `rmem_cma_setup()` on the device tree's default CMA node, during the reserved-memory scan:
/// it steps aside for `cma=`, saying so. Returns whether the node makes the area (then
/// `dma_contiguous_reserve` places it where the scan put the node).
pub fn rmem_cma_setup(cmdline: Option<CmaParam>, dt: Option<DtCmaNode>) -> bool {
    if cmdline.is_some() && dt.is_some() {
        kprintln!("Reserved memory: bypass linux,cma node, using cmdline CMA params instead");
    }
    cmdline.is_none() && dt.is_some()
}

/// `dma_contiguous_reserve(arm_dma_limit)`: reserves the area `cma=`, the device tree or the
/// configuration asks for in memblock, printing Linux's line. `highmem_start` is the lowmem
/// limit; `dma_limit` the end of ZONE_DMA (`u64::MAX` for none). Returns the pages reserved.
pub fn dma_contiguous_reserve(
    memblock: &mut Memblock,
    cmdline: Option<CmaParam>,
    dt: Option<DtCmaNode>,
    config_size: Option<u64>,
    highmem_start: u64,
    dma_limit: u64,
) -> u64 {
    let Some(req) = dma_contiguous_request(cmdline, dt, config_size, dma_limit) else {
        return 0;
    };
    match cma_declare_contiguous(memblock, &req, highmem_start) {
        Ok((pfn, pages)) => {
            let base = pfn.0 << PAGE_SHIFT;
            let size = pages << PAGE_SHIFT;
            let pa_digits = crate::kernel::setup::PA_DIGITS;
            kprintln!("{}", CmaReserved { source: &req.source, base, size, pa_digits });
            *RESERVED.lock() = Some((pfn, pages));
            pages
        }
        Err(e) => {
            kprintln!("{}", e);
            0
        }
    }
}

/// `cma_init_reserved_areas()` / `cma_activate_area()`: the reserved pageblocks go to the
/// buddy lists as MIGRATE_CMA and the bitmap is allocated. If that cannot be done the pages
/// are given to the allocator as ordinary memory, as Linux does.
pub fn cma_init_reserved_areas() {
    let Some((base, count)) = RESERVED.lock().take() else { return };
    let area = CmaArea::new(base, count);
    match with_node(|n| n.cma_activate_area(base, count)) {
        Ok(()) => *CMA.lock() = Some(area),
        Err(e) => kprintln!("cma: CMA area {} could not be activated ({})", CMA_AREA_NAME, e),
    }
}

/// Why the console's `cma_*` commands did nothing.
pub enum CmaError {
    /// The kernel has no CMA area (a profile without one, or `cma=0`).
    NoArea,
    Alloc(CmaAllocError),
    Release(CmaReleaseError),
    /// The pages are not order-0 pages of this owner (a `BUG: Bad page state` report).
    Free(FreeError),
}

/// `cma_alloc(cma, count, align)` for `owner`: the first PFN of `count` contiguous pages
/// aligned to `2^align` pages.
pub fn cma_alloc(count: u64, align: u32, owner: PageOwner) -> Result<Pfn, CmaError> {
    let mut cma = CMA.lock();
    let area = cma.as_mut().ok_or(CmaError::NoArea)?;
    let alloc_contig = |start: Pfn, end: Pfn| -> Result<(), ContigError> {
        with_node(|n| n.alloc_contig_range(start, end, owner))
    };
    area.alloc(count, align, alloc_contig).map_err(CmaError::Alloc)
}

/// `cma_release(cma, pages, count)` of pages `owner` took with `cma_alloc`.
pub fn cma_release(pfn: Pfn, count: u64, owner: PageOwner) -> Result<(), CmaError> {
    let mut cma = CMA.lock();
    let area = cma.as_mut().ok_or(CmaError::NoArea)?;
    match area
        .release(pfn, count, |pfn, count| with_node(|n| n.free_contig_range(pfn, count, owner)))
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CmaError::Free(e)),
        Err(e) => Err(CmaError::Release(e)),
    }
}

/// The area's first PFN, pages, and pages `cma_alloc` holds (None without an area).
pub fn cma_area_info() -> Option<(Pfn, u64, u64)> {
    CMA.lock().as_ref().map(|a| (a.base_pfn, a.count, a.used_pages()))
}
