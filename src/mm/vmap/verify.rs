//! `Vmap::verify()`: the vmalloc range allocator's invariants, for the `verify` console
//! command (the host tests' `check` does more, with a heap).
use super::avl::{Item, Tree, NIL};
use super::{VmapAllocator, VmapState, PAGE_SHIFT};

/// A broken invariant and the virtual address where it shows.
pub type VmapVerifyError = (&'static str, u64);

impl<const N: usize> VmapAllocator<N> {
    /// Checks both trees (keys in order, as many nodes as counted, the free tree's per-node
    /// maxima up to date), that busy areas and free blocks tile the range exactly with no two
    /// free blocks adjacent, the used and lazy counters, and the lazy list. O(areas).
    pub fn verify(&self) -> Result<(), VmapVerifyError> {
        let addr = |vpn: u32| u64::from(vpn) << PAGE_SHIFT;
        tree_in_order(&self.busy, addr(self.vstart))?;
        tree_in_order(&self.free, addr(self.vstart))?;
        for i in self.free.iter() {
            let mut b = *self.free.get(i);
            b.pull(
                self.free.get(self.free.left(i)).summary(),
                self.free.get(self.free.right(i)).summary(),
            );
            if b != *self.free.get(i) {
                return Err(("free tree maximum out of date", addr(b.start)));
            }
        }
        // Busy areas and free blocks, merged in address order, must tile [vstart, vend).
        let (mut busy, mut free) = (self.busy.iter().peekable(), self.free.iter().peekable());
        let (mut at, mut prev_free) = (self.vstart, false);
        let (mut used, mut lazy, mut nr_lazy) = (0u64, 0u64, 0usize);
        while at != self.vend {
            let next_busy = busy.peek().map(|&i| self.busy.get(i));
            let next_free = free.peek().map(|&i| self.free.get(i));
            if let Some(a) = next_busy.filter(|a| a.start == at) {
                if a.end <= a.start || a.end > self.vend {
                    return Err(("busy area empty or past the range", addr(a.start)));
                }
                let pages = u64::from(a.end - a.start);
                match a.state {
                    VmapState::Busy => used += pages,
                    VmapState::LazilyFreed => {
                        lazy += pages;
                        nr_lazy += 1;
                    }
                }
                at = a.end;
                prev_free = false;
                busy.next();
            } else if let Some(b) = next_free.filter(|b| b.start == at) {
                if b.end <= b.start || b.end > self.vend {
                    return Err(("free block empty or past the range", addr(b.start)));
                }
                if prev_free {
                    return Err(("two free blocks not merged", addr(b.start)));
                }
                at = b.end;
                prev_free = true;
                free.next();
            } else {
                return Err(("range not tiled by areas and free blocks", addr(at)));
            }
        }
        if busy.next().is_some() || free.next().is_some() {
            return Err(("area or free block past the end of the range", addr(self.vend)));
        }
        if (used, lazy, nr_lazy) != (self.used_pages, self.vmap_lazy_nr, self.nr_lazy_areas) {
            return Err((
                "used or lazily freed page counts differ from the areas",
                addr(self.vstart),
            ));
        }
        let (mut i, mut chain) = (self.lazy_head, 0);
        while i != NIL {
            chain += 1;
            if chain > nr_lazy || self.busy.get(i).state != VmapState::LazilyFreed {
                return Err(("lazy list holds a live area, or loops", self.busy.get(i).va_start()));
            }
            i = self.lazy_next[i as usize];
        }
        if chain != nr_lazy {
            return Err(("a lazily freed area is on no lazy list", addr(self.vstart)));
        }
        Ok(())
    }
}

/// The tree's in-order walk has strictly increasing keys and exactly `len` nodes (stopping
/// after `len + 1`, so a damaged tree cannot make it loop).
fn tree_in_order<T: Item, const N: usize>(
    t: &Tree<T, N>,
    vstart: u64,
) -> Result<(), VmapVerifyError> {
    let mut prev: Option<u32> = None;
    let mut n = 0;
    for i in t.iter().take(t.len() + 1) {
        let k = t.get(i).key();
        if prev.is_some_and(|p| k <= p) {
            return Err(("tree keys out of order", u64::from(k) << PAGE_SHIFT));
        }
        prev = Some(k);
        n += 1;
    }
    if n != t.len() {
        return Err(("tree node count differs from its length", vstart));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{FreeBlock, VmapAllocator};
    use crate::mm::PAGE_SIZE;
    use crate::proc::snapshot::VmFlags;

    const VSTART: u64 = 0xf000_0000;
    const VEND: u64 = 0xf100_0000;

    /// Areas, a lazily freed one and a purged one: everything holds.
    fn busy() -> VmapAllocator<16> {
        let mut v = VmapAllocator::<16>::new(VSTART, VEND, 1 << 20).unwrap();
        let a: [u64; 4] = core::array::from_fn(|i| {
            v.get_vm_area(PAGE_SIZE << i, VmFlags::VM_ALLOC, "t").unwrap()
        });
        v.remove_vm_area(a[1]).unwrap();
        v.remove_vm_area(a[3]).unwrap();
        v.purge_vmap_area_lazy();
        v.remove_vm_area(a[2]).unwrap();
        v.verify().unwrap();
        v.check().unwrap();
        v
    }

    #[test]
    fn verify_finds_what_check_finds() {
        let mut v = busy();
        v.used_pages += 1;
        assert_eq!(
            v.verify().unwrap_err().0,
            "used or lazily freed page counts differ from the areas"
        );

        let mut v = busy();
        let i = v.free.iter().next().unwrap();
        let b = *v.free.get(i);
        *v.free.get_mut(i) = FreeBlock { end: b.end - 1, ..b };
        assert_eq!(v.verify().unwrap_err().0, "free tree maximum out of date");
        let key = v.free.get(i).start;
        v.free.refresh(key);
        assert_eq!(v.verify().unwrap_err().0, "range not tiled by areas and free blocks");

        let mut v = busy();
        v.nr_lazy_areas = 0;
        assert!(v.verify().is_err());
    }
}
