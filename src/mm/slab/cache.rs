//! One slab cache (`struct kmem_cache`): its geometry (object stride, objects per slab, slab
//! order) and its partial and free slab lists, plus the descriptor at the start of every slab
//! (classic SLAB's on-slab management): magic, owner, in-use count, list links and the
//! allocation bitmap that makes double-free detection exact.
use core::mem::{align_of, size_of};

use super::PAGE_SIZE;

/// Marks a live slab descriptor ("SLAB CACE"); checked on every free.
pub(super) const SLAB_MAGIC: u32 = 0x51ab_cace;
/// Written over the magic when a slab goes back to the page source.
pub(super) const SLAB_MAGIC_DEAD: u32 = 0xdead_51ab;
/// Descriptor flag: the slab's free objects hold poison (set when the slab was created while
/// poisoning was on, so toggling poisoning never makes old free objects look overwritten).
pub(super) const SLAB_POISONED: u8 = 1;

/// Which list a slab is on. Full slabs are on none (like SLUB), only counted.
pub(super) const LIST_NONE: u8 = 0;
pub(super) const LIST_PARTIAL: u8 = 1;
pub(super) const LIST_FREE: u8 = 2;

/// Largest slab, as a page order. Linux's SLUB defaults to `slub_max_order` 3 as well.
pub const SLAB_MAX_ORDER: u32 = 3;
/// A slab order is good enough once it holds this many objects with little waste.
pub const SLAB_MIN_OBJECTS: usize = 8;
/// ... and wastes (descriptor + tail) at most 1/`SLAB_WASTE_FRACTION` of the slab.
pub const SLAB_WASTE_FRACTION: usize = 16;

/// The descriptor at the start of each slab; the allocation bitmap (one bit per object, set
/// while allocated) follows it directly, then the objects from `KmemCache::offset` on.
#[repr(C)]
pub(super) struct SlabHeader {
    pub magic: u32,
    /// Index of the owning cache.
    pub cache: u8,
    pub order: u8,
    /// `LIST_NONE`, `LIST_PARTIAL` or `LIST_FREE`.
    pub list: u8,
    pub flags: u8,
    /// Objects allocated. (Both counters are full words: a 16-bit store followed by a wider
    /// load of its neighbour stalls store forwarding, which cost a third of kmalloc's time.)
    pub inuse: u32,
    /// First bitmap word that may have a clear bit (all words before it are full).
    pub free_hint: u32,
    /// Neighbours on `list` (slab addresses, 0 at the ends).
    pub next: usize,
    pub prev: usize,
}

/// Bytes of the fixed part of the descriptor.
pub(super) const HEADER_SIZE: usize = size_of::<SlabHeader>();
/// log2 of the L1 data cache line of the Cortex-A7 (`L1_CACHE_SHIFT` on ARMv7).
pub const L1_CACHE_SHIFT: u32 = 6;
/// Most descriptor colours a cache uses (the L1 has 64 sets of lines; 32 colours spread the
/// descriptors over half of them).
pub const SLAB_MAX_COLOURS: usize = 32;
/// Bits per bitmap word.
pub(super) const WORD_BITS: usize = usize::BITS as usize;
const WORD_BYTES: usize = size_of::<usize>();

const _: () = assert!(HEADER_SIZE.is_multiple_of(align_of::<usize>()));

/// The descriptor at `desc` (`KmemCache::desc` of a slab).
///
/// # Safety
/// `desc` must be the descriptor address of a live slab owned by this allocator, and no other
/// reference to that descriptor may be in use while the returned one is.
#[inline]
pub(super) unsafe fn header<'a>(desc: usize) -> &'a mut SlabHeader {
    // SAFETY: per the contract, `desc` points at an initialised, exclusively used descriptor.
    unsafe { &mut *(desc as *mut SlabHeader) }
}

/// The allocation bitmap after the descriptor at `desc` (`words` words).
///
/// # Safety
/// As for `header`, and `words` must be the owning cache's `words`.
#[inline]
pub(super) unsafe fn bitmap<'a>(desc: usize, words: usize) -> &'a mut [usize] {
    // SAFETY: the bitmap lies right after the descriptor, inside the slab, word aligned.
    unsafe { core::slice::from_raw_parts_mut((desc + HEADER_SIZE) as *mut usize, words) }
}

/// Where things go in a slab of a given order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub order: u32,
    /// Objects per slab.
    pub objs: usize,
    /// Offset of object 0 (descriptor + bitmap, rounded up to the alignment).
    pub offset: usize,
    /// Bitmap words.
    pub words: usize,
}

const fn align_up(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}

/// The most objects of `size` bytes (aligned to `align`) a slab of `order` holds.
const fn geometry_for(size: usize, align: usize, order: u32) -> Geometry {
    let slab = PAGE_SIZE << order;
    let mut objs = (slab - HEADER_SIZE) / size;
    while objs > 0 {
        let words = objs.div_ceil(WORD_BITS);
        let offset = align_up(HEADER_SIZE + words * WORD_BYTES, align);
        if offset + objs * size <= slab {
            return Geometry { order, objs, offset, words };
        }
        objs -= 1;
    }
    Geometry { order, objs: 0, offset: 0, words: 0 }
}

/// Linux's `calculate_slab_order`: the smallest order holding `SLAB_MIN_OBJECTS` with at most
/// 1/`SLAB_WASTE_FRACTION` waste; failing that, the order (up to `SLAB_MAX_ORDER`) with the
/// smallest fraction wasted. `None` when the object does not fit in the largest slab.
pub(super) const fn calculate_slab_order(size: usize, align: usize) -> Option<Geometry> {
    let mut best: Option<Geometry> = None;
    let mut order = 0;
    while order <= SLAB_MAX_ORDER {
        let g = geometry_for(size, align, order);
        if g.objs > 0 {
            let slab = PAGE_SIZE << order;
            let waste = slab - g.objs * size;
            if g.objs >= SLAB_MIN_OBJECTS && waste * SLAB_WASTE_FRACTION <= slab {
                return Some(g);
            }
            let better = match best {
                None => true,
                // waste / slab < best_waste / best_slab, cross-multiplied.
                Some(b) => {
                    let b_slab = PAGE_SIZE << b.order;
                    waste * b_slab < (b_slab - b.objs * size) * slab
                }
            };
            if better {
                best = Some(g);
            }
        }
        order += 1;
    }
    best
}

/// One cache. Plain data (`Copy`) so the cache table can be built in a `const`.
#[derive(Clone, Copy, Debug)]
pub(super) struct KmemCache {
    pub name: &'static str,
    pub live: bool,
    /// A kmalloc size class (never destroyed).
    pub kmalloc: bool,
    /// Bumped each time the slot is reused, so a stale `CacheId` is refused.
    pub gen: u16,
    /// Creation sequence number (slabinfo lists newest first, like Linux).
    pub seq: u32,
    /// Stride between objects (`object_size` rounded up to the alignment): slabinfo's objsize.
    pub size: usize,
    /// `log2(size)` when `size` is a power of two (object index by shift), else 0.
    pub shift: u32,
    pub order: u32,
    pub objs: usize,
    pub offset: usize,
    pub words: usize,
    /// Descriptor colours minus one (a power of two minus one): see `desc`.
    pub colour_mask: usize,
    /// List heads (slab addresses, 0 when empty) and lengths.
    pub partial: usize,
    pub free: usize,
    pub nr_partial: usize,
    pub nr_full: usize,
    pub nr_free: usize,
    /// Objects allocated across all slabs.
    pub active_objs: usize,
}

impl KmemCache {
    pub(super) const EMPTY: Self = Self {
        name: "",
        live: false,
        kmalloc: false,
        gen: 0,
        seq: 0,
        size: 0,
        shift: 0,
        order: 0,
        objs: 0,
        offset: 0,
        words: 0,
        colour_mask: 0,
        partial: 0,
        free: 0,
        nr_partial: 0,
        nr_full: 0,
        nr_free: 0,
        active_objs: 0,
    };

    /// A live cache of objects `size` bytes apart (already a multiple of `align`, a power of
    /// two), or `None` if no slab order fits one.
    pub(super) const fn new(
        name: &'static str,
        size: usize,
        align: usize,
        seq: u32,
        kmalloc: bool,
    ) -> Option<Self> {
        let g = match calculate_slab_order(size, align) {
            Some(g) => g,
            None => return None,
        };
        let shift = if size.is_power_of_two() { size.trailing_zeros() } else { 0 };
        // Colours: how many cache lines the descriptor can slide by in the slack before the
        // first object, rounded down to a power of two.
        let mgmt = HEADER_SIZE + g.words * WORD_BYTES;
        let mut colours = (g.offset - mgmt) / (1 << L1_CACHE_SHIFT) + 1;
        if colours > SLAB_MAX_COLOURS {
            colours = SLAB_MAX_COLOURS;
        }
        let colours = 1 << (usize::BITS - 1 - colours.leading_zeros());
        Some(Self {
            name,
            live: true,
            kmalloc,
            seq,
            size,
            shift,
            order: g.order,
            objs: g.objs,
            offset: g.offset,
            words: g.words,
            colour_mask: colours - 1,
            ..Self::EMPTY
        })
    }

    /// Where the descriptor of `slab` lives: slid by a cache line per colour, the colour taken
    /// from the slab's number (its address over the slab size, as slabs are naturally aligned
    /// buddy blocks). Linux's SLAB colours slabs for the same reason: descriptors all at page
    /// offset 0 would compete for one set of the L1 cache.
    #[inline]
    pub(super) fn desc(&self, slab: usize) -> usize {
        let colour = (slab >> (super::PAGE_SHIFT + self.order)) & self.colour_mask;
        slab + (colour << L1_CACHE_SHIFT)
    }

    /// Pages per slab.
    pub(super) fn pages(&self) -> usize {
        1 << self.order
    }

    /// Slabs this cache holds.
    pub(super) fn nr_slabs(&self) -> usize {
        self.nr_partial + self.nr_full + self.nr_free
    }

    /// `(index, remainder)` of byte offset `off` from object 0.
    #[inline]
    pub(super) fn index_of(&self, off: usize) -> (usize, usize) {
        if self.shift != 0 {
            (off >> self.shift, off & (self.size - 1))
        } else {
            (off / self.size, off % self.size)
        }
    }

    /// Puts `slab` at the head of `list`.
    ///
    /// # Safety
    /// `slab` is a live slab of this cache, on no list.
    pub(super) unsafe fn push(&mut self, list: u8, slab: usize) {
        let head = match list {
            LIST_PARTIAL => {
                self.nr_partial += 1;
                &mut self.partial
            }
            _ => {
                self.nr_free += 1;
                &mut self.free
            }
        };
        let old = *head;
        *head = slab;
        // SAFETY: `slab` and `old` are live slabs of this cache (contract and list invariant);
        // each descriptor reference ends before the next is made.
        unsafe {
            let h = header(self.desc(slab));
            h.list = list;
            h.prev = 0;
            h.next = old;
            if old != 0 {
                header(self.desc(old)).prev = slab;
            }
        }
    }

    /// Takes `slab` off whichever list it is on (none for a full slab).
    ///
    /// # Safety
    /// `slab` is a live slab of this cache.
    pub(super) unsafe fn unlink(&mut self, slab: usize) {
        // SAFETY: `slab` is live (contract); its neighbours are live slabs of the same list.
        unsafe {
            let h = header(self.desc(slab));
            let (list, prev, next) = (h.list, h.prev, h.next);
            h.list = LIST_NONE;
            h.prev = 0;
            h.next = 0;
            let head = match list {
                LIST_PARTIAL => {
                    self.nr_partial -= 1;
                    &mut self.partial
                }
                LIST_FREE => {
                    self.nr_free -= 1;
                    &mut self.free
                }
                _ => return,
            };
            if prev != 0 {
                header(self.desc(prev)).next = next;
            } else {
                *head = next;
            }
            if next != 0 {
                header(self.desc(next)).prev = prev;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_fits_and_is_aligned() {
        for shift in 3..=11 {
            let size = 1usize << shift;
            let g = calculate_slab_order(size, size).unwrap();
            let slab = PAGE_SIZE << g.order;
            assert!(g.offset >= HEADER_SIZE + g.words * WORD_BYTES);
            assert_eq!(g.offset % size, 0);
            assert!(g.offset + g.objs * size <= slab);
            assert!(g.words * WORD_BITS >= g.objs);
            assert!(g.objs >= SLAB_MIN_OBJECTS, "kmalloc-{size}: {g:?}");
            assert!((slab - g.objs * size) * SLAB_WASTE_FRACTION <= slab, "kmalloc-{size}: {g:?}");
            // One object more would not fit.
            let more = geometry_for(size, size, g.order);
            assert_eq!(more, g);
        }
    }

    #[test]
    fn large_odd_objects_pick_the_least_wasteful_order() {
        // Orders 2 and 3 waste the same fraction (5 or 10 objects): the smaller slab wins.
        let g = calculate_slab_order(3000, 8).unwrap();
        assert_eq!((g.order, g.objs), (2, 5));
        assert!(calculate_slab_order(PAGE_SIZE << SLAB_MAX_ORDER, 8).is_none());
        let g = calculate_slab_order((PAGE_SIZE << SLAB_MAX_ORDER) - 64, 8).unwrap();
        assert_eq!(g.objs, 1);
    }
}
