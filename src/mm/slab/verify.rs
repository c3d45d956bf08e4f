//! `Slab::verify()`: the slab layer's invariants, for the `verify` console command. The page
//! registry is the anchor: a slab descriptor is only read at an address the registry lists
//! as the first page of a slab of that cache, so a damaged list link is reported, never
//! followed into memory that is not a slab.
use super::cache::{bitmap, header, LIST_FREE, LIST_PARTIAL, SLAB_MAGIC, WORD_BITS};
use super::registry::PageTag;
use super::{Slab, MAX_CACHES, PAGE_SIZE};

/// A broken invariant and the address (a slab, an object, a page) where it shows.
pub type SlabVerifyError = (&'static str, usize);

impl Slab {
    /// Checks every cache's partial and free lists (links both ways, list counts, each slab's
    /// descriptor: magic, owner, list, in-use count against its bitmap), every slab the
    /// registry knows (full ones are on no list), that each cache's object and slab counts
    /// add up, and that the page totals match the registry's pages. O(slabs).
    pub fn verify(&self) -> Result<(), SlabVerifyError> {
        let mut slabs = [0usize; MAX_CACHES];
        let mut objs = [0usize; MAX_CACHES];
        let mut full = [0usize; MAX_CACHES];
        let (mut slab_pages, mut large_pages, mut large_allocs) = (0, 0, 0);
        for (page, tag) in self.registry.iter() {
            match tag {
                PageTag::Large { order } => {
                    large_pages += 1usize << order;
                    large_allocs += 1;
                }
                PageTag::Slab { cache, index } => {
                    let c = match self.caches.get(cache) {
                        Some(c) if c.live => c,
                        _ => return Err(("registered page of no live cache", page)),
                    };
                    slab_pages += 1;
                    if index >= c.pages() {
                        return Err(("registered page past the end of its slab", page));
                    }
                    let slab = page - index * PAGE_SIZE;
                    if self.registry.lookup(slab) != Some(PageTag::Slab { cache, index: 0 }) {
                        return Err(("slab page whose slab's first page is not registered", page));
                    }
                    if index != 0 {
                        continue;
                    }
                    let (inuse, list) = self.check_slab(cache, slab)?;
                    slabs[cache] += 1;
                    objs[cache] += inuse;
                    if list == super::cache::LIST_NONE {
                        if inuse != c.objs {
                            return Err(("slab on no list is not full", slab));
                        }
                        full[cache] += 1;
                    }
                }
            }
        }
        for (i, c) in self.caches.iter().enumerate().filter(|(_, c)| c.live) {
            let partial = self.walk(i, c.partial, LIST_PARTIAL)?;
            let free = self.walk(i, c.free, LIST_FREE)?;
            if (partial, free, full[i]) != (c.nr_partial, c.nr_free, c.nr_full) {
                return Err(("slab list lengths differ from the cache's counts", c.partial));
            }
            if slabs[i] != c.nr_slabs() || objs[i] != c.active_objs {
                return Err(("cache counts differ from its slabs", c.partial));
            }
        }
        if slab_pages != self.slab_pages
            || large_pages != self.large_pages
            || large_allocs != self.large_allocs
        {
            return Err(("page totals differ from the page registry", 0));
        }
        if self.registry.len() != slab_pages + large_allocs {
            return Err(("page registry count differs from its entries", 0));
        }
        Ok(())
    }

    /// The blocks the slab layer holds from its page source: each slab's first page and each
    /// large kmalloc, with its order (so the kernel can check the page allocator agrees they
    /// are allocated).
    pub fn page_blocks(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.registry.iter().filter_map(|(page, tag)| match tag {
            PageTag::Large { order } => Some((page, order)),
            PageTag::Slab { cache, index: 0 } => self.caches.get(cache).map(|c| (page, c.order)),
            PageTag::Slab { .. } => None,
        })
    }

    /// The descriptor of `slab`, which the registry lists as the first page of a slab of
    /// cache `i`: magic, owner, in-use count against the bitmap, bits past the last object
    /// set. Returns its in-use count and list.
    fn check_slab(&self, i: usize, slab: usize) -> Result<(usize, u8), SlabVerifyError> {
        let c = &self.caches[i];
        // SAFETY: the registry lists `slab` as the first page of a live slab of cache `i`,
        // so its descriptor and bitmap are initialised memory the slab layer owns; `&self`
        // keeps every writer away while the references live.
        let (h, bm) = unsafe { (header(c.desc(slab)), bitmap(c.desc(slab), c.words)) };
        if h.magic != SLAB_MAGIC || h.cache as usize != i || u32::from(h.order) != c.order {
            return Err(("slab descriptor damaged (magic, owner or order)", slab));
        }
        let set: usize = bm.iter().map(|w| w.count_ones() as usize).sum();
        let tail = c.words * WORD_BITS - c.objs;
        if h.inuse as usize > c.objs || set != h.inuse as usize + tail {
            return Err(("slab in-use count differs from its bitmap", slab));
        }
        if tail != 0 && bm[c.words - 1] >> (WORD_BITS - tail) != usize::MAX >> (WORD_BITS - tail) {
            return Err(("slab bitmap bits past the last object are clear", slab));
        }
        Ok((h.inuse as usize, h.list))
    }

    /// Follows the list of cache `i` that starts at `head` and must be `list`: each slab
    /// registered to the cache, marked as on this list, linked back to its predecessor, with
    /// the in-use count the list implies. Returns its length.
    fn walk(&self, i: usize, head: usize, list: u8) -> Result<usize, SlabVerifyError> {
        let c = &self.caches[i];
        let (mut prev, mut cur, mut n) = (0, head, 0);
        while cur != 0 {
            if self.registry.lookup(cur) != Some(PageTag::Slab { cache: i, index: 0 }) {
                return Err(("slab list links to a page that is not one of its slabs", cur));
            }
            n += 1;
            if n > c.nr_slabs() {
                return Err(("slab list longer than the cache's slabs (a cycle?)", cur));
            }
            // SAFETY: `cur` is registered as the first page of a slab of cache `i` (above).
            let h = unsafe { header(c.desc(cur)) };
            let inuse_ok = match list {
                LIST_FREE => h.inuse == 0,
                _ => h.inuse != 0 && (h.inuse as usize) < c.objs,
            };
            if h.list != list || h.prev != prev || !inuse_ok {
                return Err(("slab on the wrong list, badly linked or miscounted", cur));
            }
            prev = cur;
            cur = h.next;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::cache::{bitmap, header};
    use super::super::tests::TestPages;
    use super::super::{Slab, PAGE_SIZE};

    /// Full, partial and large allocations of several caches.
    fn busy(src: &mut TestPages) -> (Slab, usize) {
        let mut s = Slab::new();
        let objs: std::vec::Vec<usize> =
            (0..600).map(|i| s.kmalloc(src, 8 << (i % 9)).unwrap()).collect();
        for &p in objs.iter().step_by(3) {
            s.kfree(src, p).unwrap();
        }
        s.kmalloc(src, 3 * PAGE_SIZE).unwrap();
        s.verify().unwrap();
        (s, objs[1])
    }

    #[test]
    fn verify_finds_damaged_slabs_and_counts() {
        let mut src = TestPages::new();
        let (mut s, obj) = busy(&mut src);
        // A bit cleared behind the allocator's back: a lost object.
        let cache = s.kmalloc_slab(8 << 1).unwrap();
        let c = s.caches[usize::from(cache.index)];
        // kmalloc-16 slabs are one page.
        let slab = obj & !(PAGE_SIZE - 1);
        assert_eq!(c.order, 0);
        // SAFETY: `slab` is a live slab of this cache (obj is allocated in it).
        unsafe { bitmap(c.desc(slab), c.words)[0] ^= 1 };
        assert_eq!(s.verify().unwrap_err(), ("slab in-use count differs from its bitmap", slab));
        // SAFETY: as above; restore it.
        unsafe { bitmap(c.desc(slab), c.words)[0] ^= 1 };
        s.verify().unwrap();
        // SAFETY: as above.
        unsafe { header(c.desc(slab)).magic ^= 1 };
        assert_eq!(s.verify().unwrap_err().0, "slab descriptor damaged (magic, owner or order)");
        // SAFETY: as above.
        unsafe { header(c.desc(slab)).magic ^= 1 };

        s.caches[usize::from(cache.index)].active_objs += 1;
        assert_eq!(s.verify().unwrap_err().0, "cache counts differ from its slabs");
        s.caches[usize::from(cache.index)].active_objs -= 1;

        s.large_pages += 1;
        assert_eq!(s.verify().unwrap_err().0, "page totals differ from the page registry");
    }
}
