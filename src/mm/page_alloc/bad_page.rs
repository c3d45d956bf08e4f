//! The checks every free makes before it changes anything, and Linux's `bad_page()`
//! report when one fails.
use super::*;

/// Why a free (or a slab marking) was refused: the `page dumped because:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadPageReason {
    /// No `struct page` for the PFN.
    OutOfRange,
    /// An address outside the linear map (`free_pages(addr, ..)`).
    BadAddress(VirtAddr),
    InvalidOrder,
    /// The PFN is not a multiple of the block size.
    Misaligned,
    /// `free_pages(addr, ..)` of an address inside a page, not at its start.
    MisalignedAddress(VirtAddr),
    /// The page is already free.
    DoubleFree,
    /// `PG_reserved` or `PG_slab` set (Linux's PAGE_FLAGS_CHECK_AT_FREE).
    FlagsCheckAtFree,
    /// A tail page of a compound or slab block, whose head is at this PFN.
    TailPage {
        head: Pfn,
    },
    /// refcount 0 but not free: inside an allocated block, not its first page.
    NotAllocated,
    /// The block was allocated with another order.
    WrongOrder {
        allocated: u32,
    },
    /// A tail page of the compound block does not point back at its head.
    CorruptTail {
        tail: Pfn,
    },
    /// `clear_slab` on a page that is not a slab page.
    NotSlab,
    /// The block belongs to another owner than the one freeing it.
    WrongOwner {
        owner: PageOwner,
        freed_by: PageOwner,
    },
}

impl fmt::Display for BadPageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadPageReason::OutOfRange => f.write_str("pfn outside mem_map (no struct page)"),
            BadPageReason::BadAddress(a) => write!(f, "address {a} is not in the linear map"),
            BadPageReason::InvalidOrder => {
                write!(f, "order >= MAX_ORDER ({MAX_ORDER})")
            }
            BadPageReason::Misaligned => f.write_str("pfn not aligned to the block's order"),
            BadPageReason::MisalignedAddress(a) => {
                write!(f, "address {a} is not the start of a page")
            }
            BadPageReason::DoubleFree => {
                f.write_str("double free: page is already on a buddy free list")
            }
            BadPageReason::FlagsCheckAtFree => f.write_str("PAGE_FLAGS_CHECK_AT_FREE flag(s) set"),
            BadPageReason::TailPage { head } => {
                write!(f, "not a head page (tail of the block at pfn:{:#x})", head.0)
            }
            BadPageReason::NotAllocated => f.write_str("VM_BUG_ON_PAGE(page_ref_count(page) == 0)"),
            BadPageReason::WrongOrder { allocated } => {
                write!(f, "freed with the wrong order (allocated with order:{allocated})")
            }
            BadPageReason::CorruptTail { tail } => {
                write!(f, "compound_head not consistent (tail pfn:{:#x})", tail.0)
            }
            BadPageReason::NotSlab => f.write_str("not a slab page"),
            BadPageReason::WrongOwner { owner, freed_by } => {
                write!(f, "page belongs to {owner}, freed by {freed_by}")
            }
        }
    }
}

/// A refused `free_pages`: nothing was changed. Its `Display` is Linux's `bad_page()` report
/// for the boot CPU's task; [`FreeError::write_report`] names another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeError {
    /// The page the report is about (for `BadPageReason::BadAddress`, none: `pfn` is 0).
    pub pfn: Pfn,
    pub order: u32,
    pub reason: BadPageReason,
    /// The descriptor as it was, when there is one.
    pub page: Option<Page>,
    /// Order of the compound block the page heads or belongs to.
    pub compound_order: Option<u32>,
}

impl FreeError {
    /// `bad_page()`: `BUG: Bad page state in process %s  pfn:%05lx` (an address that has
    /// no page frame is printed instead of a PFN), then `dump_page()`.
    pub fn write_report(&self, w: &mut impl fmt::Write, comm: &str) -> fmt::Result {
        self.write_report_as(w, comm, BITS_PER_LONG)
    }

    /// [`FreeError::write_report`] as a kernel with `bits_per_long`-bit longs prints it.
    pub fn write_report_as(
        &self,
        w: &mut impl fmt::Write,
        comm: &str,
        bits_per_long: u32,
    ) -> fmt::Result {
        match self.reason {
            BadPageReason::BadAddress(a) => {
                writeln!(w, "BUG: Bad page state in process {comm}  addr:{:08x}", a.0)?
            }
            _ => writeln!(w, "BUG: Bad page state in process {comm}  pfn:{:05x}", self.pfn.0)?,
        }
        match &self.page {
            Some(page) => write_dump_page_as(
                w,
                self.pfn,
                page,
                self.compound_order,
                format_args!("{}", self.reason),
                bits_per_long,
            ),
            None => writeln!(w, "page dumped because: {}", self.reason),
        }
    }
}

/// What `%p` prints for a pointer before the pointer hash is ready (`ptr_to_id`), as wide as
/// a pointer of `bits_per_long` bits.
const fn ptrval(bits_per_long: u32) -> &'static str {
    if bits_per_long == 64 {
        "(____ptrval____)"
    } else {
        "(ptrval)"
    }
}

/// Bytes per row of `dump_page`'s `print_hex_dump` (`rowsize` 32).
const RAW_ROW_BYTES: usize = 32;

/// `dump_page()` (6.1's `__dump_page` and its reason line) for the descriptor of `pfn`: the
/// `page:` line (`%p` prints `(ptrval)`, as before the pointer hash is ready), the `head:`
/// line of a compound page, the flags, the descriptor's words as `raw:`, pivm's `page owner:`
/// line, and why it was dumped.
pub fn write_dump_page(
    w: &mut impl fmt::Write,
    pfn: Pfn,
    page: &Page,
    compound_order: Option<u32>,
    reason: impl fmt::Display,
) -> fmt::Result {
    write_dump_page_as(w, pfn, page, compound_order, reason, BITS_PER_LONG)
}

/// [`write_dump_page`] as a kernel with `bits_per_long`-bit longs prints it: `mapping:` as
/// wide as a pointer, and `raw:` as `print_hex_dump` of the descriptor in `unsigned long`
/// groups, 32 bytes a row (one row of eight 8-digit words on the 32-bit kernel; rows of four
/// 16-digit words on the 64-bit one).
pub fn write_dump_page_as(
    w: &mut impl fmt::Write,
    pfn: Pfn,
    page: &Page,
    compound_order: Option<u32>,
    reason: impl fmt::Display,
    bits_per_long: u32,
) -> fmt::Result {
    let digits = bits_per_long as usize / 4;
    let ptrval = ptrval(bits_per_long);
    writeln!(
        w,
        "page:{ptrval} refcount:{} mapcount:0 mapping:{:0digits$x} index:{:#x} pfn:{:#x}",
        page.refcount(),
        page.mapping(),
        page.index(),
        pfn.0
    )?;
    if let Some(order) = compound_order {
        writeln!(w, "head:{ptrval} order:{order} compound_mapcount:0 compound_pincount:0")?;
    }
    // The free-list type and owner bits are pivm's bookkeeping, not Linux page flags.
    let flags = page.flags().difference(PageFlags::PG_free_mt | PageFlags::PG_owner);
    writeln!(w, "flags: {:#x}({})", flags.bits(), PageFlagNames(page))?;
    let raw = page.raw_words(bits_per_long);
    for row in raw.words().chunks(RAW_ROW_BYTES * 8 / bits_per_long as usize) {
        write!(w, "raw:")?;
        for word in row {
            write!(w, " {word:0digits$x}")?;
        }
        writeln!(w)?;
    }
    if page.owner() != PageOwner::None {
        writeln!(w, "page owner: {}", page.owner())?;
    }
    writeln!(w, "page dumped because: {reason}")
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_report(f, DEFAULT_COMM)
    }
}

impl<'a> Node<'a> {
    pub(super) fn bad_page(&self, pfn: Pfn, order: u32, reason: BadPageReason) -> FreeError {
        let page = self.mem_map.pfn_to_page(pfn).copied();
        let compound_order = page.and_then(|p| {
            if p.flags.contains(PageFlags::PG_head) {
                Some(p.order())
            } else {
                let head = p.compound_head_index()?;
                let h = self.mem_map.pages().get(head as usize)?;
                h.flags.contains(PageFlags::PG_head).then(|| h.order())
            }
        });
        FreeError { pfn, order, reason, page, compound_order }
    }

    /// The fast form of `check_allocated_head`: the head's index if `pfn` heads an allocated
    /// block of order `order` that may be freed.
    #[inline]
    pub(super) fn allocated_head(&self, pfn: Pfn, order: u32, owner: PageOwner) -> Option<u32> {
        const NOT_FREEABLE: PageFlags = PageFlags::PG_buddy
            .union(PageFlags::PG_pcp)
            .union(PageFlags::PG_reserved)
            .union(PageFlags::PG_slab)
            .union(PageFlags::PG_tail);
        // The index by one subtraction (a PFN below mem_map's wraps past its end), the
        // alignment on the PFN's low word: 32-bit arithmetic where a 32-bit CPU pays double
        // for 64.
        let idx = pfn.0.wrapping_sub(self.mem_map.base_pfn().0);
        let page = self.mem_map.pages().get(usize::try_from(idx).ok()?)?;
        let idx = idx as u32;
        let ok = (order as usize) < MAX_ORDER
            && (pfn.0 as u32) & ((1 << order) - 1) == 0
            && !page.flags.intersects(NOT_FREEABLE)
            && page.refcount != 0
            && page.order() == order
            && page.owner() == owner;
        if !ok {
            return None;
        }
        if page.flags.contains(PageFlags::PG_head) && !self.tails_point_at(idx, order) {
            return None;
        }
        Some(idx)
    }

    /// Whether every tail page of the compound block at `idx` links back to it.
    #[cold]
    #[inline(never)]
    pub(super) fn tails_point_at(&self, idx: u32, order: u32) -> bool {
        let tails = &self.mem_map.pages()[idx as usize + 1..idx as usize + (1 << order)];
        tails.iter().all(|t| t.compound_head_index() == Some(idx))
    }

    /// The checks `free_pages` makes before touching anything (`free_pages_prepare`'s
    /// `free_page_is_bad` plus pivm's order check). Returns the head's mem_map index.
    #[cold]
    pub(super) fn check_allocated_head(
        &self,
        pfn: Pfn,
        order: u32,
        owner: PageOwner,
    ) -> Result<u32, FreeError> {
        let bad = |reason| Err(self.bad_page(pfn, order, reason));
        let Some(idx) = self.mem_map.index(pfn) else { return bad(BadPageReason::OutOfRange) };
        if order as usize >= MAX_ORDER {
            return bad(BadPageReason::InvalidOrder);
        }
        if pfn.0 & ((1 << order) - 1) != 0 {
            return bad(BadPageReason::Misaligned);
        }
        let page = &self.mem_map.pages()[idx as usize];
        if page.is_buddy() || page.flags.contains(PageFlags::PG_pcp) {
            return bad(BadPageReason::DoubleFree);
        }
        if page.flags.intersects(PageFlags::PG_reserved | PageFlags::PG_slab) {
            return bad(BadPageReason::FlagsCheckAtFree);
        }
        if let Some(head) = page.compound_head_index() {
            return bad(BadPageReason::TailPage { head: self.mem_map.pfn_of(head) });
        }
        if page.refcount == 0 {
            // Pages inside a free block have refcount 0 too: tell a double free from a page
            // in the middle of an allocation (only on this error path: it costs MAX_ORDER
            // lookups).
            return bad(if self.is_free_buddy_page(pfn) {
                BadPageReason::DoubleFree
            } else {
                BadPageReason::NotAllocated
            });
        }
        if page.owner() != owner {
            return bad(BadPageReason::WrongOwner { owner: page.owner(), freed_by: owner });
        }
        if page.order() != order {
            return bad(BadPageReason::WrongOrder { allocated: page.order() });
        }
        if page.flags.contains(PageFlags::PG_head) {
            let tails = &self.mem_map.pages()[idx as usize + 1..idx as usize + (1 << order)];
            if let Some(i) = tails.iter().position(|t| t.compound_head_index() != Some(idx)) {
                let tail = Pfn(pfn.0 + 1 + i as u64);
                return bad(BadPageReason::CorruptTail { tail });
            }
        }
        Ok(idx)
    }
}
