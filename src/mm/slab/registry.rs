//! The page registry: which pages the slab layer owns, so `kfree(ptr)` can tell a real object
//! from any other address *before* touching memory. It plays the part of Linux's `PageSlab`
//! flag and `page->slab_cache` in `mem_map`, without depending on the buddy allocator's
//! `struct page`: an open-addressing hash table (linear probing, backward-shift deletion) keyed
//! by page address, stored in pages taken from the same `PageSource`, grown and shrunk by
//! rehashing. Lookups are O(1) and never dereference the pointer being checked.
use super::{PageSource, SlabError, PAGE_SIZE};

/// Low bits of an entry (below `PAGE_SIZE`) hold its tag; the high bits, the page address.
const PAGE_MASK: usize = PAGE_SIZE - 1;
/// An empty slot. Page 0 is never registered (the slab layer refuses it from the source).
const EMPTY: usize = 0;
/// Table slots per page of table.
const SLOTS_PER_PAGE: usize = PAGE_SIZE / core::mem::size_of::<usize>();
/// Fibonacci hashing multiplier (2^64 / golden ratio, truncated to the word size; still odd).
const GOLDEN: usize = 0x9E37_79B9_7F4A_7C15_u64 as usize;

/// Tag kind: the page belongs to a slab.
const KIND_SLAB: usize = 1;
/// Tag kind: the page is the first of a large kmalloc block.
const KIND_LARGE: usize = 2;
const KIND_MASK: usize = 0b11;
/// Bits 2..6: page index inside the slab, or the order of a large block.
const SMALL_SHIFT: u32 = 2;
const SMALL_MASK: usize = 0xf;
/// Bits 6..12: the owning cache's index.
const CACHE_SHIFT: u32 = 6;
const CACHE_MASK: usize = 0x3f;

/// What a registered page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PageTag {
    /// Page `index` of a slab of cache `cache`.
    Slab { cache: usize, index: usize },
    /// First page of a large kmalloc block of this order.
    Large { order: u32 },
}

impl PageTag {
    fn encode(self) -> usize {
        match self {
            PageTag::Slab { cache, index } => {
                debug_assert!(cache <= CACHE_MASK && index <= SMALL_MASK);
                KIND_SLAB | (index << SMALL_SHIFT) | (cache << CACHE_SHIFT)
            }
            PageTag::Large { order } => {
                debug_assert!(order as usize <= SMALL_MASK);
                KIND_LARGE | ((order as usize) << SMALL_SHIFT)
            }
        }
    }

    fn decode(bits: usize) -> Self {
        let small = (bits >> SMALL_SHIFT) & SMALL_MASK;
        if bits & KIND_MASK == KIND_LARGE {
            PageTag::Large { order: small as u32 }
        } else {
            PageTag::Slab { cache: (bits >> CACHE_SHIFT) & CACHE_MASK, index: small }
        }
    }
}

/// The hash table. `table == 0` means no table yet (nothing registered).
pub(super) struct PageRegistry {
    table: usize,
    /// Page order of the table's block (its capacity is `SLOTS_PER_PAGE << order`).
    order: u32,
    /// Slots (a power of two), 0 without a table.
    cap: usize,
    /// Registered pages.
    len: usize,
}

impl PageRegistry {
    pub(super) const fn new() -> Self {
        Self { table: 0, order: 0, cap: 0, len: 0 }
    }

    /// Pages the table itself occupies (accounted as unreclaimable slab memory).
    pub(super) fn pages(&self) -> usize {
        if self.cap == 0 {
            0
        } else {
            1 << self.order
        }
    }

    fn slots(&self) -> &[usize] {
        if self.cap == 0 {
            return &[];
        }
        // SAFETY: `table` is a block of `cap` words obtained from the page source for this
        // registry alone and kept until it is replaced or freed; `&self` keeps it alive.
        unsafe { core::slice::from_raw_parts(self.table as *const usize, self.cap) }
    }

    fn slots_mut(&mut self) -> &mut [usize] {
        if self.cap == 0 {
            return &mut [];
        }
        // SAFETY: as in `slots`; `&mut self` makes this the only reference to the table.
        unsafe { core::slice::from_raw_parts_mut(self.table as *mut usize, self.cap) }
    }

    #[inline]
    fn home(page: usize, cap: usize) -> usize {
        // Fibonacci hashing: the top bits of the product spread consecutive page numbers.
        let h = (page >> super::PAGE_SHIFT).wrapping_mul(GOLDEN);
        h >> (usize::BITS - cap.trailing_zeros())
    }

    /// The tag of `page` (page aligned), if registered.
    #[inline]
    pub(super) fn lookup(&self, page: usize) -> Option<PageTag> {
        let slots = self.slots();
        if slots.is_empty() {
            return None;
        }
        let mask = slots.len() - 1;
        let mut i = Self::home(page, slots.len());
        loop {
            let e = slots[i];
            if e == EMPTY {
                return None;
            }
            if e & !PAGE_MASK == page {
                return Some(PageTag::decode(e & PAGE_MASK));
            }
            i = (i + 1) & mask;
        }
    }

    /// Every registered page and its tag, in table order (for `Slab::verify`).
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, PageTag)> + '_ {
        self.slots()
            .iter()
            .filter(|&&e| e != EMPTY)
            .map(|&e| (e & !PAGE_MASK, PageTag::decode(e & PAGE_MASK)))
    }

    /// Registered pages.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Makes room for `extra` more pages, growing the table (load kept at or below 1/2).
    pub(super) fn reserve(
        &mut self,
        src: &mut impl PageSource,
        extra: usize,
    ) -> Result<(), SlabError> {
        let need = self.len + extra;
        if need * 2 <= self.cap {
            return Ok(());
        }
        let mut order = if self.cap == 0 { 0 } else { self.order + 1 };
        while (SLOTS_PER_PAGE << order) < need * 2 {
            order += 1;
        }
        self.rehash(src, order)
    }

    /// Registers `page` (page aligned, not registered, room reserved).
    pub(super) fn insert(&mut self, page: usize, tag: PageTag) {
        debug_assert!(page & PAGE_MASK == 0 && page != 0);
        debug_assert!(self.len < self.cap);
        let entry = page | tag.encode();
        let slots = self.slots_mut();
        let mask = slots.len() - 1;
        let mut i = Self::home(page, slots.len());
        while slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        slots[i] = entry;
        self.len += 1;
    }

    /// Forgets `page`; returns whether it was registered. May shrink or free the table.
    pub(super) fn remove(&mut self, src: &mut impl PageSource, page: usize) -> bool {
        let slots = self.slots_mut();
        if slots.is_empty() {
            return false;
        }
        let mask = slots.len() - 1;
        let mut hole = Self::home(page, slots.len());
        loop {
            let e = slots[hole];
            if e == EMPTY {
                return false;
            }
            if e & !PAGE_MASK == page {
                break;
            }
            hole = (hole + 1) & mask;
        }
        // Backward-shift deletion: pull later entries of the probe run into the hole when
        // their home slot does not lie cyclically in (hole, j].
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let e = slots[j];
            if e == EMPTY {
                break;
            }
            let home = Self::home(e & !PAGE_MASK, slots.len());
            let stays = if hole <= j { hole < home && home <= j } else { hole < home || home <= j };
            if !stays {
                slots[hole] = e;
                hole = j;
            }
        }
        slots[hole] = EMPTY;
        self.len -= 1;
        self.shrink(src);
        true
    }

    /// Frees the table when empty; halves it when it is less than 1/8 full (the hysteresis
    /// against `reserve`'s 1/2 keeps a steady workload from rehashing back and forth).
    fn shrink(&mut self, src: &mut impl PageSource) {
        if self.len == 0 {
            src.free_pages(self.table, self.order);
            *self = Self::new();
        } else if self.order > 0 && self.len * 8 < self.cap {
            // A failed shrink keeps the larger table; nothing is lost.
            let _ = self.rehash(src, self.order - 1);
        }
    }

    /// Moves every entry into a fresh table of `order` pages.
    fn rehash(&mut self, src: &mut impl PageSource, order: u32) -> Result<(), SlabError> {
        let what = "slab page registry";
        let table = src.alloc_pages(order).ok_or(SlabError::NoMemory { what, order })?;
        if table == 0 || table & PAGE_MASK != 0 {
            if table != 0 {
                src.free_pages(table, order);
            }
            return Err(SlabError::BadPageSource { addr: table, order });
        }
        let cap = SLOTS_PER_PAGE << order;
        let mut new = Self { table, order, cap, len: 0 };
        new.slots_mut().fill(EMPTY);
        for &e in self.slots() {
            if e != EMPTY {
                new.insert(e & !PAGE_MASK, PageTag::decode(e & PAGE_MASK));
            }
        }
        if self.cap != 0 {
            src.free_pages(self.table, self.order);
        }
        *self = new;
        Ok(())
    }
}
